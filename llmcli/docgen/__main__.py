"""``python -m llmcli.docgen [--check] [--root DIR]``: write or check completions/ and man/.

Run it after changing a command, an option or a docstring. ``--check`` writes nothing:
it lists the files that differ from what would be written (and generated files that
should not exist) and exits 1, so a test and CI catch stale ones. The output depends
only on the code: no dates from the clock, no paths of this machine, a fixed order.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llmcli.docgen import completions, manpages, zsh
from llmcli.docgen.model import load

#: directory → the suffix of the files generated there (a stale extra one is an error)
OWNED = {"completions": "", "man": ".1"}


def generate() -> dict[str, str]:
    """Path relative to the repository → content, for every generated file."""
    cli = load()
    files = {
        "completions/llmcli.bash": completions.bash(cli),
        "completions/_llmcli": zsh.zsh(cli),
        "completions/llmcli.fish": completions.fish(cli),
    }
    files.update({f"man/{name}": page for name, page in manpages.pages(cli).items()})
    return files


def stale(root: Path, files: dict[str, str]) -> list[str]:
    """Generated files that are missing or differ, and extra ones in the owned folders."""
    found = [
        path
        for path, content in files.items()
        if not (root / path).is_file() or (root / path).read_bytes() != content.encode()
    ]
    for folder, suffix in OWNED.items():
        if (root / folder).is_dir():
            found += sorted(
                f"{folder}/{p.name}"
                for p in (root / folder).iterdir()
                if p.is_file()
                and not p.name.startswith(".")
                and p.name.endswith(suffix)
                and f"{folder}/{p.name}" not in files
            )
    return found


def _default_root() -> Path:
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else Path.cwd()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmcli.docgen", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--check", action="store_true", help="list stale files, write nothing")
    parser.add_argument(
        "--root", type=Path, default=None, help="the repository (default: this checkout)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root or _default_root()
    files = generate()
    if args.check:
        found = stale(root, files)
        for path in found:
            sys.stderr.write(f"stale: {path}\n")
        if found:
            sys.stderr.write("regenerate them: .venv/bin/python -m llmcli.docgen\n")
        return 1 if found else 0
    for path in stale(root, files):
        target = root / path
        if path not in files:
            target.unlink()
            sys.stderr.write(f"removed {path}\n")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[path].encode())
        sys.stderr.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
