"""Generators of the files that document llmcli outside ``--help``.

``python -m llmcli.docgen`` rewrites ``completions/`` (bash, zsh, fish) and ``man/`` (one
page per command, group and subcommand, e.g. ``llmcli-batch-run.1``, and ``llmcli.1``)
from the Typer app itself, so the options, their values and their help exist once, in
the code; ``--check`` lists stale files instead, and the tests run it. Nothing here is
imported by a normal run of ``llmcli``.
"""
