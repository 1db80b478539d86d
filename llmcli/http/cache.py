"""``--cache``: answers kept on disk, so a request identical to one already answered is
answered from there, byte for byte (DESIGN.md, "Daily use").

- **Which requests**: those a ``Request`` marks ``cacheable`` (the model endpoints:
  chat, messages, responses, embeddings), never a batch API's or a model list.
- **The key**: SHA-256 of the origin (scheme, host, port), the method, the path and
  query, the request headers other than credentials and framing (names lower-cased,
  sorted), and the body compared canonically (a JSON body by its value, key order
  aside: ``llmcli.mock.cassette.match_key``). A key never enters the key: two keys of one
  account share the answers; a credential-like query value is ``***`` in it.
- **An entry**: ``DIR/ab/<key>.json``, one cassette line, the shape ``--record`` writes
  (``llmcli.mock.cassette``): ``cat DIR/*/*.json`` is a cassette ``--replay`` takes. Every
  secret of the request is ``***`` in it, as in a cassette. Only a 2xx answer that arrived
  whole, and that its reader accepted, is kept (``keep``), up to ``MAX_KEPT`` (an entry,
  the request's body included, up to ``MAX_ENTRY``).
- **Written atomically**: a temporary file in the entry's folder, renamed over it, so a
  reader sees a whole entry or none, and concurrent llmcli processes writing one key
  each leave a whole one (the last rename wins). Folders 0700, entries 0600.
- **Age**: ``ttl`` seconds from when the entry was written (its mtime); None: no expiry.
  ``refresh``: entries are not read, but answers are kept (``--refresh-cache``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

import orjson

from llmcli.errors import OutputFileError
from llmcli.http.request import Body
from llmcli.redaction import is_credential_header

if TYPE_CHECKING:
    from llmcli.http.request import Request

#: the most of an answer kept (a longer one is answered, not kept): memory stays bounded
MAX_KEPT = 64 << 20
#: an entry read back is bounded too (its JSON spelling may be longer than the answer)
MAX_ENTRY = 2 * MAX_KEPT
#: request headers that frame or describe the sender, not the question
_UNKEYED = frozenset(
    {"content-length", "transfer-encoding", "connection", "host", "user-agent", "accept-encoding"}
)


_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"", "0", "false", "no", "off"})


def chosen(
    flag: bool | None, env: str | None, *, ttl: float | None = None, refresh: bool = False
) -> ResponseCache | None:
    """The cache a run uses: ``flag`` (--cache True, --no-cache False, neither None) beats
    ``env`` (``LLMCLI_CACHE``: 1 on, 0 or unset off, anything else the folder to use);
    --refresh-cache turns it on. The folder: ``LLMCLI_CACHE``'s, else
    ``$XDG_CACHE_HOME/llmcli/responses``."""
    value = (env or "").strip()
    folder = None if value.lower() in _ON | _OFF else value
    if flag is False or (flag is None and not refresh and value.lower() in _OFF):
        return None
    if folder is None:
        from llmcli.state import cache_dir

        folder = os.fspath(cache_dir() / "responses")
    return ResponseCache(folder, ttl=ttl, refresh=refresh)


@dataclass(frozen=True, slots=True)
class Hit:
    """A kept answer: what the server said, as it was read (decompressed, scrubbed)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def key(request: Request, aliases: Mapping[str, str] | None = None) -> str:
    """The hex SHA-256 a request is kept under (see the module's text). ``aliases``: an
    origin's stable name (the offline gateway of ``-g mock`` listens on a new port each
    run, and is the same gateway)."""
    from llmcli.mock.cassette import match_key

    parts = urlsplit(request.url)
    origin = _origin(parts)
    origin = (aliases or {}).get(origin, origin)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    body = request.body.to_bytes() if isinstance(request.body, Body) else (request.body or b"")
    method, path, canonical = match_key(request.method, path, request.headers, body)
    headers = sorted(
        (name.lower(), value)
        for name, value in request.headers.items()
        if name.lower() not in _UNKEYED and not is_credential_header(name)
    )
    return hashlib.sha256(orjson.dumps([origin, method, path, headers, canonical])).hexdigest()


def _origin(parts: SplitResult) -> str:
    """``scheme://host:port``, lower-cased, the port written out when it is the default."""
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{_port(parts)}"


def _port(parts: SplitResult) -> int | str:
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        return port
    return {"http": 80, "https": 443}.get(parts.scheme.lower(), "")


class ResponseCache:
    """The answers kept in ``folder`` (``--cache``); see the module's text."""

    def __init__(
        self, folder: str | os.PathLike[str], *, ttl: float | None = None, refresh: bool = False
    ) -> None:
        self.folder = Path(folder)
        self.ttl = ttl
        self.refresh = refresh
        self.warned = False
        #: origins keyed by a stable name (``key``)
        self.aliases: dict[str, str] = {}
        try:  # an unusable folder fails before anything is sent (73), as -o FILE does
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not os.access(self.folder, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as e:
            raise OutputFileError(
                f"cannot keep answers in the cache {os.fspath(folder)}: {e.strerror}"
            ) from None

    def alias(self, base_url: str, name: str) -> None:
        """Key the requests to ``base_url``'s origin as ``name``'s."""
        self.aliases[_origin(urlsplit(base_url))] = f"llmcli:{name}"

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.json"

    def get(self, request: Request) -> Hit | None:
        """The answer kept for ``request``, or None (none, expired, unreadable, or
        ``refresh``). An entry that is not a cassette line is a miss, never an error: it
        is replaced when the answer is kept again."""
        if self.refresh:
            return None
        from llmcli.mock.cassette import CassetteError, parse

        path = self._path(key(request, self.aliases))
        try:
            with path.open("rb") as f:
                if self.ttl is not None and time.time() - os.fstat(f.fileno()).st_mtime > self.ttl:
                    return None
                raw = f.read(MAX_ENTRY + 1)
        except OSError:
            return None
        if len(raw) > MAX_ENTRY:
            return None
        try:
            (found,) = parse([raw.decode("utf-8")], os.fspath(path))
        except (CassetteError, UnicodeDecodeError, ValueError):
            return None
        if not 200 <= found.status < 300 or found.cut:
            return None
        return Hit(found.status, found.headers, found.answer)

    def put(
        self,
        request: Request,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """Keep a 2xx answer (others, and one over ``MAX_KEPT``, are not kept). A write
        that fails says so once on ``log`` and the run goes on: the answer is already
        out, and a cache is only ever a shortcut."""
        if not 200 <= status < 300 or len(body) > MAX_KEPT:
            return
        from llmcli.http.recording import line_of

        path = self._path(key(request, self.aliases))
        data = line_of(request, status, headers, body, every_length=False)
        if len(data) > MAX_ENTRY:  # (a request's attachments count too): never read back
            return
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as e:
            if log is not None and not self.warned:
                self.warned = True
                log(f"llmcli: cannot keep the answer in the cache {self.folder}: {e.strerror}")


class Keeping:
    """The chunks of one streamed body as they pass, kept (up to ``MAX_KEPT``: past that,
    nothing is kept and memory stays bounded) for ``ResponseCache.put`` once the
    exchange accepted the whole answer."""

    def __init__(self) -> None:
        self.kept: bytearray | None = bytearray()

    def chunks(self, source: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in source:
            if self.kept is not None:
                if len(self.kept) + len(chunk) > MAX_KEPT:
                    self.kept = None
                else:
                    self.kept += chunk
            yield chunk
