"""One exception type per exit code (DESIGN.md, "Errors and exit codes").

Commands raise these; only ``llmcli.cli.main`` turns them into one ``llmcli: …`` line on
stderr and an exit status. The exit codes follow BSD ``sysexits.h``::

    LlmcliError                      1   internal error (a bug)
    ├── UsageError                   2   command-line usage error
    ├── NotJsonError                 3   --json/--schema reply is not JSON
    ├── DataError                   65   bad input data; server rejected the request
    ├── InputFileError              66   an input file cannot be read
    ├── UnavailableError            69   connection failed, 5xx after retries
    ├── OutputFileError             73   an output file cannot be written
    ├── TemporaryError              75   429 or timeout after retries
    ├── ProtocolError               76   malformed response or SSE, stream cut short
    ├── NotAllowedError             77   401, 403, 402, a --max-cost cap
    └── ConfigError                 78   unknown gateway, missing key, bad config

130 (interrupted) and 141 (stdout closed by the reader) are not exceptions of ours:
they come from ``KeyboardInterrupt`` and ``BrokenPipeError``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_PIPE",
    "EXIT_STATUS",
    "ConfigError",
    "DataError",
    "InputFileError",
    "LlmcliError",
    "NotAllowedError",
    "NotJsonError",
    "OutputFileError",
    "ProtocolError",
    "TemporaryError",
    "UnavailableError",
    "UsageError",
    "error_for_status",
]

EXIT_INTERRUPTED = 130
EXIT_PIPE = 141

#: Every exit status and what it means, for ``--help`` and the man pages (DESIGN.md).
EXIT_STATUS: tuple[tuple[int, str], ...] = (
    (0, "success"),
    (1, "internal error (a bug); --debug shows the traceback"),
    (2, "command-line usage error"),
    (3, "--json or --schema: the reply is not JSON or breaks the schema (it is on stdout)"),
    (65, "bad input data, or the server rejected the request (400, 404, 413, 422)"),
    (66, "an input file cannot be read"),
    (69, "gateway unavailable: connection failed, or 5xx after retries"),
    (73, "an output file cannot be written (-c, -o FILE): checked before anything is sent"),
    (75, "temporary failure: 429 or timeout after retries"),
    (76, "protocol error: malformed response or SSE, stream cut before it finished"),
    (77, "not allowed: 401, 403, 402; a --max-cost cap reached"),
    (78, "configuration error: unknown gateway, missing key, bad config file"),
    (130, "interrupted (Ctrl-C): what had arrived is already on stdout"),
    (141, "stdout closed by the reader (| head): quietly, no traceback"),
)


class LlmcliError(Exception):
    """Base of every error llmcli reports; ``hint`` says what to do about it."""

    exit_code: ClassVar[int] = 1
    #: the HTTP answer behind the error, when there was one (status, <= 64 KiB of body)
    status: int | None = None
    body: bytes | None = None
    request_id: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(LlmcliError):
    exit_code = 2


class DataError(LlmcliError):
    exit_code = 65


class InputFileError(LlmcliError):
    exit_code = 66


class UnavailableError(LlmcliError):
    exit_code = 69


class OutputFileError(LlmcliError):
    exit_code = 73


class TemporaryError(LlmcliError):
    exit_code = 75


class ProtocolError(LlmcliError):
    exit_code = 76


class NotAllowedError(LlmcliError):
    exit_code = 77


class ConfigError(LlmcliError):
    exit_code = 78


def error_for_status(status: int) -> type[LlmcliError]:
    """The error type for an HTTP status that will not be (or no longer be) retried."""
    if status in (401, 402, 403):
        return NotAllowedError
    if status in (408, 429):
        return TemporaryError
    if status >= 500:
        return UnavailableError
    if 400 <= status < 500:
        return DataError
    return ProtocolError


class ReplayMiss(UnavailableError):
    """A replayed run asked for something its cassette has no recording of: the run
    stops (a batch run too: every row after it would miss as well)."""


class NotJsonError(LlmcliError):
    """The reply to ``--json``/``--schema`` does not parse as JSON, or breaks the schema
    (its text is on stdout)."""

    exit_code = 3
