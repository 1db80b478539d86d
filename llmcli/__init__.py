"""llmcli: a pipe-first command-line client for LLM gateways, and the library under it.

    >>> import llmcli
    >>> client = llmcli.Client("mock")            # or Client(base_url=…, api_key=…)
    >>> client.chat({"model": "echo", "messages": [{"role": "user", "content": "hi"}]})
    >>> for piece in client.stream({"model": "lorem", "messages": [...]}): ...

``Client`` resolves gateways, keys and config exactly as the command line does.
Failures raise ``Error`` subclasses (``UsageError``, ``DataError``, ``UnavailableError``,
``TemporaryError``, ``ProtocolError``, ``NotAllowedError``, ``ConfigError`` …), each
carrying in ``exit_code`` the status the CLI would exit with. Importing this package
imports neither typer, click nor rich, and ``Client`` only when first used.
"""

from typing import TYPE_CHECKING, Any

from llmcli.version import __version__

if TYPE_CHECKING:
    from llmcli.client import Client
    from llmcli.errors import (
        ConfigError,
        DataError,
        InputFileError,
        NotAllowedError,
        NotJsonError,
        OutputFileError,
        ProtocolError,
        TemporaryError,
        UnavailableError,
        UsageError,
    )
    from llmcli.errors import LlmcliError as Error
    from llmcli.protocol.pieces import Piece

__all__ = [
    "Client",
    "ConfigError",
    "DataError",
    "Error",
    "InputFileError",
    "NotAllowedError",
    "NotJsonError",
    "OutputFileError",
    "Piece",
    "ProtocolError",
    "TemporaryError",
    "UnavailableError",
    "UsageError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Everything on first use, so ``llmcli --version`` imports nothing more."""
    if name == "Error":
        from llmcli.errors import LlmcliError

        return LlmcliError
    if name in __all__ and name.endswith("Error"):
        from llmcli import errors

        return getattr(errors, name)
    if name == "Client":
        from llmcli.client import Client

        return Client
    if name == "Piece":
        from llmcli.protocol.pieces import Piece

        return Piece
    if name == "batch":
        import importlib

        return importlib.import_module("llmcli.batch")
    raise AttributeError(f"module 'llmcli' has no attribute {name!r}")
