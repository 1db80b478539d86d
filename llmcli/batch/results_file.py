"""``batch run -o FILE``: the file that holds every row's answer once (DESIGN.md, "Batch
runs" and "Limits").

- The file is locked (``flock``) for the whole run: a second run on the same file is
  refused at once, exit 73, rather than interleaving rows or rewriting the file under
  the first one. A lock on a file that a ``--resume`` has just replaced is noticed (the
  path no longer names the locked file) and taken again on the new one.
- ``--resume`` rewrites the file without what will be sent again — a torn last line and
  every row that did not succeed — into a temporary file beside it, locked before it
  is renamed over the original, so no moment exists when the file is unlocked. A
  failure leaves the original as it was and no temporary file behind.
- Appending after a torn last line (a run killed mid-write) starts on a new line.
- Each row goes out in whole writes, a short write continued; if a write fails (a full
  disk), the file is cut back to its last whole row and the error is exit 73.

A symlink is followed (the file it names is rewritten, the link stays). All of this is for
a regular file: a pipe or a device (``-o /dev/stdout``) is written to as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import IO

import orjson

from llmcli.batch.results import succeeded
from llmcli.errors import OutputFileError

__all__ = ["ResultsFile"]


class ResultsFile:
    """An output file opened, locked and made ready to append; ``done`` is what a
    ``--resume`` skips (the custom_ids it already holds a 2xx answer for)."""

    def __init__(self, path: str, *, resume: bool = False) -> None:
        self.path = path
        self.done: set[str] = set()
        self._good = 0
        self._fd, self._regular = _locked(path)
        if not self._regular:
            return
        try:
            if resume:
                self.done, fd = _keep_succeeded(os.path.realpath(path), self._fd)
                if fd != self._fd:
                    os.close(self._fd)
                    self._fd = fd
            self._good = os.lseek(self._fd, 0, os.SEEK_END)
            if self._good and os.pread(self._fd, 1, self._good - 1) != b"\n":
                self.write(b"\n")  # a torn last line stays a line of its own
        except BaseException:
            os.close(self._fd)
            raise

    def write(self, data: bytes) -> None:
        """One or more whole lines, appended; on a failure the file keeps its last whole
        line and ``OutputFileError`` is raised."""
        try:
            _write_all(self._fd, data)
        except OSError as e:
            if self._regular:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._good)
            raise OutputFileError(
                f"cannot write {self.path}: {e.strerror or e}; it holds every row written "
                "before this one (--resume continues)"
            ) from None
        self._good += len(data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # and with it the lock
            self._fd = -1

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _locked(path: str) -> tuple[int, bool]:
    """``path`` opened to append, under an exclusive lock held until it is closed when it
    is a regular file; and whether it is one."""
    for _ in range(100):  # the path replaced between open and lock: take the new file
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return fd, False
            os.close(fd)  # a regular file: read too (resume, a torn last line)
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        except OSError as e:
            raise OutputFileError(f"cannot write {path}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputFileError(
                f"{path} is being written by another llmcli batch run (it holds a lock on "
                "it): wait for that run to end, or write to another file"
            ) from None
        except OSError:
            pass  # a file system without locks: go on unlocked, as before
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd, True
        except OSError:
            pass
        os.close(fd)
    raise OutputFileError(f"cannot lock {path}: it keeps being replaced")


def _keep_succeeded(path: str, fd: int) -> tuple[set[str], int]:
    """The custom_ids with a 2xx answer in the file, and the descriptor to append to: the
    same one, or (when something had to go) the locked file that now stands at ``path``.
    Two passes, so memory stays flat however large the file."""
    done: set[str] = set()
    with os.fdopen(os.dup(fd), "rb") as source:
        source.seek(0)
        dropped = not all(keep for _, keep in _judged(source, done))
        if not dropped:
            return done, fd
        folder, name = os.path.split(os.path.abspath(path))
        new, temporary = tempfile.mkstemp(
            prefix=f".{name}.", suffix=".llmcli-resume.tmp", dir=folder
        )
        try:
            with contextlib.suppress(OSError):  # locked before anyone can see it
                fcntl.flock(new, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with contextlib.suppress(OSError):
                os.fchmod(new, os.fstat(fd).st_mode & 0o777)
            source.seek(0)
            done.clear()  # the first pass stopped at the first line to go
            for line, keep in _judged(source, done):
                if keep:
                    _write_all(new, line)
            os.fsync(new)
            os.replace(temporary, path)
        except BaseException as e:  # a write error, or ^C: no temporary file left
            os.close(new)
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if not isinstance(e, OSError):
                raise
            raise OutputFileError(
                f"cannot rewrite {path} for --resume: {e.strerror or e}; it is as it was"
            ) from None
        _sync_folder(folder)
    return done, new


def _write_all(fd: int, data: bytes) -> None:
    """``data`` written whole: a short write (a disk filling up) continued, or OSError."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _sync_folder(folder: str) -> None:
    """The rename made durable (as ``conversation`` does for ``-c``)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _judged(source: IO[bytes], done: set[str]) -> Iterator[tuple[bytes, bool]]:
    """Each line, and whether it stays: a whole line holding the first 2xx answer of its
    custom_id (added to ``done``). A torn last line and every other row go."""
    while line := source.readline():
        try:
            row = orjson.loads(line) if line.endswith(b"\n") else None
        except orjson.JSONDecodeError:
            row = None
        custom_id = row.get("custom_id") if isinstance(row, dict) else None
        if succeeded(row) and isinstance(custom_id, str) and custom_id not in done:
            done.add(custom_id)
            yield line, True
        else:
            yield line, False
