"""``-c/--continue FILE``: a conversation kept in a JSONL file of messages.

The file is read before the request and, only when the reply completed and llmcli is
about to exit 0, rewritten with the new user message and the assistant reply appended.
An interrupted, failed or cut-off reply leaves the file byte-for-byte as it was.

Saving is safe (DESIGN.md, "Limits: what no input or server can do"):

- :func:`check_writable` runs before anything is sent, so that a reply is never paid
  for and then lost: an unwritable place is exit 73 up front;
- a symlink is followed: its target is rewritten, in the target's directory, and the
  link stays a link;
- concurrent writers take turns: an exclusive ``flock`` on ``TARGET.lock`` beside the
  target, then the file is re-read and the turn appended to what it holds *now*, through
  a temporary file ``.TARGET.llmcli-XXXX.tmp`` that is fsynced and renamed over it. Every
  turn lands exactly once and whole, however many writers race;
- a temporary file exists only while its writer holds the lock, so one that the lock
  holder sees was left by a writer killed before its rename: it is removed.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Sequence
from typing import Any

from llmcli.errors import DataError, InputFileError, OutputFileError
from llmcli.http.request import Blob, serialize
from llmcli.io.inputs import Stdin, load_messages
from llmcli.protocol.chat.shapes import OUTPUT_ONLY

JSON = dict[str, Any]
TEMPORARY_SUFFIX = ".tmp"


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


def check_writable(path: str) -> None:
    """Exit 73 now, before the request is sent, if the turn could not be saved after it.

    A file is created and removed in the target's directory: permission bits alone say
    nothing for root, a read-only mount or /proc, and creating a file is what saving does.
    """
    target = os.path.realpath(path)
    folder = os.path.dirname(target)

    def cannot(reason: str) -> OutputFileError:
        return OutputFileError(f"cannot write {path}: {reason}")

    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise cannot(f"{folder} is not a directory")
        raise cannot(f"directory {folder} does not exist")
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise cannot(e.strerror or str(e)) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise cannot("it is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        raise cannot("not a regular file")
    try:
        fd, probe = _create_temporary(target)
    except OSError as e:
        raise cannot(f"cannot create files in {folder}: {e.strerror or e}") from None
    os.close(fd)
    with contextlib.suppress(FileNotFoundError):  # a lock holder may have taken it for stale
        os.unlink(probe)
    if mode is not None and not os.access(target, os.W_OK):
        raise cannot("the file is read-only")


def append(
    path: str, messages: Sequence[JSON], blobs: Sequence[Blob] = (), *, opening: Sequence[JSON] = ()
) -> None:
    """Append messages as JSONL lines, atomically: all of them or none; ``opening`` ones
    (the system prompt) go first, and only if the file holds no conversation yet, as
    another writer may have started it since it was read. Attachment placeholders are
    replaced by their base64 as it is written."""
    target = os.path.realpath(path)
    try:
        with _locked(target):
            _remove_stale_temporaries(target)
            _rewrite(target, messages, blobs, opening)
    except OSError as e:
        raise OutputFileError(f"cannot write {path}: {e.strerror or e}") from None


def record_turn(
    path: str,
    *,
    system: str | None,
    user: JSON | None,
    replies: Sequence[JSON],
    blobs: Sequence[Blob] = (),
    before: Sequence[JSON] = (),
) -> None:
    """Append one completed turn: the system prompt (given only when the conversation
    starts), the results of the calls the conversation ended with (``before``: tools
    that ran first), the user message (none when the turn sent history only), the
    replies (assistant messages, a Responses reply's output items; with tools that run,
    each reply's calls followed by their results)."""
    opening = [{"role": "system", "content": system}] if system else []
    append(path, [m for m in (*before, user, *replies) if m], blobs, opening=opening)


def _rewrite(
    target: str, messages: Sequence[JSON], blobs: Sequence[Blob], opening: Sequence[JSON]
) -> None:
    """The target as it is now plus the messages: a temporary file, fsync, rename."""
    try:
        with open(target, "rb") as f:
            before = f.read()
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        before, mode = b"", 0o666 & ~umask
    if before and not before.endswith(b"\n"):
        before += b"\n"
    if before.strip():
        opening = ()
    fd, temporary = _create_temporary(target)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(before)
            for message in (*opening, *messages):
                line = serialize(message, blobs)
                f.writelines([line] if isinstance(line, bytes) else line)
                f.write(b"\n")
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    _sync_directory(os.path.dirname(target))


def _temporary_prefix(target: str) -> str:
    return f".{os.path.basename(target)}.llmcli-"


def _create_temporary(target: str) -> tuple[int, str]:
    """A new file ``.NAME.llmcli-XXXX.tmp`` beside the target, open for writing."""
    folder = os.path.dirname(target)
    for _ in range(100):
        name = f"{_temporary_prefix(target)}{os.urandom(6).hex()}{TEMPORARY_SUFFIX}"
        temporary = os.path.join(folder, name)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            return os.open(temporary, flags, 0o600), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")


def _remove_stale_temporaries(target: str) -> None:
    """Called with the lock held: any temporary file of this target is a dead writer's."""
    prefix = _temporary_prefix(target)
    folder = os.path.dirname(target)
    for name in os.listdir(folder):
        if name.startswith(prefix) and name.endswith(TEMPORARY_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, name))


@contextlib.contextmanager
def _locked(target: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``TARGET.lock``; removed on release so no lock file
    stays behind. A writer that waited on a lock file its holder has since removed
    holds a lock that guards nothing, so it checks, and tries again on a fresh one."""
    import fcntl  # POSIX only; only when a turn is saved

    lock = target + ".lock"
    while True:
        fd = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with contextlib.suppress(FileNotFoundError):
                if os.path.samestat(os.fstat(fd), os.stat(lock)):
                    break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def _sync_directory(folder: str) -> None:
    """Make the rename durable; a filesystem that cannot fsync a directory is no error."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
