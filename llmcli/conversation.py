"""``-c/--continue FILE``: a conversation kept in a JSONL file of messages.

The file is read before the request and, only when the reply completed and llmcli is
about to exit 0, rewritten atomically with the new user message and the assistant reply
appended: a temporary file beside it, fsync, rename. An interrupted, failed or cut-off
reply leaves the file byte-for-byte as it was.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from typing import Any

from llmcli.errors import DataError, InputFileError
from llmcli.inputs import Stdin, load_messages
from llmcli.wire import Blob, serialize

JSON = dict[str, Any]
#: output-only fields some servers refuse in input messages (DeepSeek: reasoning_content);
#: they stay in the file, but are not sent back
OUTPUT_ONLY = ("reasoning", "reasoning_content")


def load(path: str) -> list[JSON]:
    """The conversation so far; a file that does not exist yet is an empty one."""
    if not os.path.exists(path):
        return []
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
    except OSError as e:
        raise InputFileError(f"{path}: {e.strerror or e}") from None
    if head.startswith(b"["):
        raise DataError(f"{path}: --continue keeps JSONL (one message per line), not an array")
    return load_messages(path, Stdin(None, True))


def for_sending(history: Sequence[JSON]) -> list[JSON]:
    """The history as it is sent: assistant messages without output-only fields."""
    return [
        {k: v for k, v in m.items() if k not in OUTPUT_ONLY} if m.get("role") == "assistant" else m
        for m in history
    ]


def append(path: str, messages: Sequence[JSON], blobs: Sequence[Blob] = ()) -> None:
    """Append messages as JSONL lines, atomically: all of them or none. Attachment
    placeholders are replaced by their base64 as it is written."""
    try:
        with open(path, "rb") as f:
            before = f.read()
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        before, mode = b"", 0o666 & ~umask
    if before and not before.endswith(b"\n"):
        before += b"\n"
    import tempfile  # only when a turn completes

    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".llmcli-", suffix=".jsonl", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(before)
            for message in messages:
                line = serialize(message, blobs)
                f.writelines([line] if isinstance(line, bytes) else line)
                f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def record_turn(
    path: str,
    *,
    system: str | None,
    user: JSON | None,
    assistant: JSON,
    blobs: Sequence[Blob] = (),
) -> None:
    """Append one completed turn: the system prompt (given only when the conversation
    starts), the user message (none when the turn sent history only), the reply."""
    turn = [m for m in ({"role": "system", "content": system} if system else None, user) if m]
    append(path, [*turn, assistant], blobs)
