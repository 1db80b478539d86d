"""Entry point: ``llmcli`` and ``python -m llmcli``.

``--version`` is answered before anything else is imported: a tool run thousands of
times in CI should not pay for Typer, httpx or rich to say its version. So is
``gateways --names``, which the shell completions run on every Tab after ``-g``.
"""

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv in (["--version"], ["-V"]):
        from llmcli.version import __version__

        sys.stdout.write(f"llmcli {__version__}\n")
        return
    if argv == ["gateways", "--names"]:
        sys.exit(_names())
    from llmcli.cli.app import run

    sys.exit(run(argv))


def _names() -> int:
    from llmcli.cli.names import write_names
    from llmcli.errors import EXIT_PIPE
    from llmcli.io.outputs import Output, Terminal, silence_stdout

    try:
        write_names(Output(Terminal.detect()))
    except BrokenPipeError:
        silence_stdout()
        return EXIT_PIPE
    return 0


if __name__ == "__main__":
    main()
