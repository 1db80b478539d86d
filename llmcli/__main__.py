"""Entry point: ``llmcli`` and ``python -m llmcli``.

``--version`` is answered before anything else is imported: a tool run thousands of
times in CI should not pay for Typer, httpx or rich to say its version.
"""

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv in (["--version"], ["-V"]):
        from llmcli import __version__

        sys.stdout.write(f"llmcli {__version__}\n")
        return
    from llmcli.cli.app import run

    sys.exit(run(argv))


if __name__ == "__main__":
    main()
