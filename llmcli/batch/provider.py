"""The providers' batch APIs over HTTP: OpenAI's Files + Batches, Anthropic's Message
Batches. Each call is one request through the client's HTTP session (its retries,
deadline, redaction); an HTTP error raises the typed error of its status.

Results are read as a stream, line by line (a line at most 64 MiB), so a result file
larger than a body read whole (256 MiB) is no problem.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from llmcli.batch.submission import Part, multipart
from llmcli.errors import ProtocolError
from llmcli.http.request import body_json

if TYPE_CHECKING:
    from llmcli.client import Client

JSON = dict[str, Any]
MAX_RESULT_LINE = 64 << 20


class Provider:
    """One gateway's batch API of one kind (``api``: "openai" or "anthropic")."""

    def __init__(self, client: Client, api: str) -> None:
        self.client = client
        self.api = api
        self.root = "messages/batches" if api == "anthropic" else "batches"

    def _call(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        content_type: str = "",
        *,
        once: bool = False,
    ) -> JSON:
        client = self.client
        kind = content_type or "application/json"
        big = data is not None and len(data) > 1 << 20  # an upload: each read bounded, not all
        request = client.api_request(
            method, path, data, api=self.api, content_type=kind, once=once, bounded=not big
        )
        reply = client.send(request)
        try:
            value = body_json(reply.body)
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise ProtocolError(
                f"{client.gateway.name} answered {method} {request.url} with no JSON object: "
                f"{reply.body[:80]!r}"
            )
        return value

    # create --------------------------------------------------------------------------

    def create(self, part: Part, name: str) -> JSON:
        """Create the batch of one part (OpenAI: upload its file first)."""
        if self.api == "anthropic":  # creating a batch twice would pay for it twice
            return self._call("POST", self.root, part.payload(), once=True)
        boundary = "llmcli-" + os.urandom(12).hex()
        upload = multipart(boundary, [("purpose", "batch")], name, part.payload())
        kind = f"multipart/form-data; boundary={boundary}"
        file = self._call("POST", "files", upload, kind)
        if not isinstance(file.get("id"), str):
            raise ProtocolError(f"{self.client.gateway.name}: the uploaded file has no id")
        body = {
            "input_file_id": file["id"],
            "endpoint": part.endpoint,
            "completion_window": "24h",
            "metadata": {"created_by": "llmcli"},
        }
        return self._call("POST", self.root, orjson.dumps(body), once=True)

    # the life of a batch ---------------------------------------------------------------

    def path(self, batch_id: str, *more: str) -> str:
        """The path of a batch (``more``: ``cancel``, ``results``)."""
        return "/".join((self.root, quote(batch_id, safe=""), *more))

    def list_path(self, limit: int, after: str | None = None) -> str:
        query: dict[str, Any] = {"limit": limit}
        if after is not None:
            query["after_id" if self.api == "anthropic" else "after"] = after
        return f"{self.root}?{urlencode(query)}"

    def get(self, batch_id: str) -> JSON:
        return self._call("GET", self.path(batch_id))

    def cancel(self, batch_id: str) -> JSON:
        return self._call("POST", self.path(batch_id, "cancel"))

    def list(self, limit: int = 100) -> Iterator[JSON]:
        """Every batch, newest first, page by page."""
        after: str | None = None
        while True:
            page = self._call("GET", self.list_path(limit, after))
            data = page.get("data")
            batches = [b for b in data if isinstance(b, dict)] if isinstance(data, list) else []
            yield from batches
            last = page.get("last_id") or (batches[-1].get("id") if batches else None)
            if not page.get("has_more") or not batches or not isinstance(last, str):
                return
            after = last

    # results -------------------------------------------------------------------------

    def results(self, batch_id: str, batch: JSON) -> Iterator[bytes]:
        """The result lines of an ended batch (OpenAI: its output file, then its error
        file; Anthropic: its ``results_url``), each without its newline."""
        if self.api == "anthropic":
            url = batch.get("results_url")
            yield from self._lines(
                self.path(batch_id, "results"), url if isinstance(url, str) else None
            )
            return
        for key in ("output_file_id", "error_file_id"):
            file_id = batch.get(key)
            if isinstance(file_id, str) and file_id:
                yield from self._lines(f"files/{quote(file_id, safe='')}/content")

    def _lines(self, path: str, url: str | None = None) -> Iterator[bytes]:
        client = self.client
        request = client.api_request("GET", path, api=self.api, bounded=False)
        if url is not None and _same_origin(url, request.url):  # the key goes nowhere else
            request = dataclasses.replace(request, url=url)
        held: list[bytes] = []  # the line not yet ended, in pieces: joined once
        size = 0
        for chunk in client.download(request):
            held.append(chunk)
            if b"\n" not in chunk:
                size += len(chunk)
                if size > MAX_RESULT_LINE:
                    raise ProtocolError(
                        f"a result line over 64 MiB from {client.gateway.name} "
                        f"({request.method} {request.url})"
                    )
                continue
            *lines, rest = b"".join(held).split(b"\n")
            held, size = [rest], len(rest)
            for line in lines:
                if line.strip():
                    yield line
        last = b"".join(held)
        if last.strip():
            yield last


def _same_origin(url: str, other: str) -> bool:
    """Whether ``url`` is on the scheme, host and port of ``other`` (a results_url the
    provider gives: the credentials may go there, and nowhere else)."""
    try:
        a, b = urlsplit(url), urlsplit(other)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port) and bool(a.hostname)
    except ValueError:
        return False
