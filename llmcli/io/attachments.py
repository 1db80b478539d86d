"""``-a/--attach``: images and PDFs from files, stdin or URLs.

A local file's type is read from its first bytes (a PNG renamed ``.jpg`` still goes as
``image/png``). Its base64 is never built as one string in a request dict: the dict holds
a placeholder, and ``wire.serialize`` splices the encoding in chunk by chunk, so a large
file costs one copy (the request bytes) rather than several.

An attachment may be 32 MiB (DESIGN.md, "Limits"). A regular file's size is checked
before it is read, and no more than that size is ever sent from it; stdin, a pipe or a
device is read into memory with the same bound, never further.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from llmcli.errors import DataError, InputFileError
from llmcli.http.request import Blob
from llmcli.io.inputs import STDIN, Stdin, open_file, read_bytes, read_from, too_large

MAX_BYTES = 32 * 1024 * 1024  # Anthropic's request limit; OpenAI takes up to 20 MB images
CHUNK = 3 * 1024 * 1024  # a multiple of 3: chunks encode to base64 without padding
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
KINDS = "a PNG, JPEG, GIF or WebP image, or a PDF"
AN_ATTACHMENT = "an attachment"


def sniff(head: bytes) -> str | None:
    """The MIME type of a file from its first bytes, for the types gateways take."""
    for signature, mime in _SIGNATURES:
        if head.startswith(signature):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True, slots=True)
class Attachment:
    source: str
    mime: str
    filename: str
    size: int = 0
    url: str | None = None  # a URL is passed as it is
    data: bytes | None = None  # stdin, already read
    token: str = ""  # the placeholder a request body holds for the base64

    def blob(self, prefix: bytes) -> Blob:
        """What ``wire.serialize`` splices in for this attachment's token."""
        return Blob(self.token, prefix, len(prefix) + 4 * -(-self.size // 3), self.base64_chunks)

    def base64_chunks(self) -> Iterator[bytes]:
        """The base64 of the content, a chunk at a time: ``size`` bytes, as checked and
        as the request's Content-Length counts them, even if the file has changed."""
        if self.data is not None:
            yield base64.b64encode(self.data)
            return
        left = self.size
        try:
            with open(self.source, "rb") as f:
                while left and (chunk := f.read(min(CHUNK, left))):
                    left -= len(chunk)
                    yield base64.b64encode(chunk)
        except OSError as e:
            raise InputFileError(f"{self.source}: {e.strerror or e}") from None
        if left:
            raise InputFileError(f"{self.source}: shrank while it was being sent")


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://", "data:"))


def load(source: str, stdin: Stdin) -> Attachment:
    """Check an attachment before anything is sent: readable, known type, not too large."""
    token = f"@@llmcli-attachment-{os.urandom(8).hex()}@@"
    if _is_url(source):
        if source.startswith("data:"):
            mime = source[5:].split(";", 1)[0].split(",", 1)[0] or "application/octet-stream"
        else:
            path = source.split("?", 1)[0]
            mime = mimetypes.guess_type(path)[0] or "image/*"
        name = os.path.basename(source.split("?", 1)[0]) or "attachment"
        return Attachment(source, mime, name, url=source, token=token)
    if source == STDIN:
        data = read_bytes(STDIN, stdin, MAX_BYTES, AN_ATTACHMENT)
        return _checked(source, data[:16], len(data), "stdin", data, token)
    name = os.path.basename(source)
    with open_file(source) as f:
        info = os.fstat(f.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size:
            try:
                head = f.read(16)
            except OSError as e:
                raise InputFileError(f"{source}: {e.strerror or e}") from None
            return _checked(source, head, info.st_size, name, None, token)
        # a pipe or a device, whose size is unknown, or a file such as /proc's that has none
        data = read_from(f, source, MAX_BYTES, AN_ATTACHMENT)
    return _checked(source, data[:16], len(data), name, data, token)


def _checked(
    source: str, head: bytes, size: int, name: str, data: bytes | None, token: str
) -> Attachment:
    shown = "<stdin>" if source == STDIN else source
    if size > MAX_BYTES:
        raise too_large(shown, MAX_BYTES, AN_ATTACHMENT, size)
    mime = sniff(head)
    if mime is None:
        raise DataError(f"{shown}: not {KINDS} (by its first bytes)")
    return Attachment(source, mime, name, size=size, data=data, token=token)
