"""``llmcli gateways --names``: one gateway name per line, for scripts and shell completion.

The completion scripts run it on every Tab after ``-g``, so ``llmcli.__main__`` answers
it before Typer is imported (a third of the start-up time), and a broken config file never
fails it: the built-in names are printed, and one warning line goes to stderr (which the
completion scripts send to /dev/null).
"""

import os

from llmcli import config
from llmcli.io.outputs import Output


def write_names(out: Output) -> None:
    """Built-in gateways first, then the config file's, as ``llmcli gateways`` lists them."""
    names, problem = config.gateway_names(os.environ)
    out.data("".join(f"{name}\n" for name in names).encode())
    out.flush()
    if problem is not None:
        out.note(f"llmcli: warning: {problem}; only the built-in gateways are listed")
