"""Results of provider batches as ``batch run`` output rows, in the order of the input
they were submitted from.

The providers' result files come in any order, so each batch's results are first
downloaded into a temporary file and indexed by ``custom_id`` (memory holds offsets, not
bodies); then rows are written in the order the batches' manifests give: by submission,
then input line, the lines that were never sent answered where they stood. A batch
without a manifest (submitted elsewhere) follows, in the provider's order.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from llmcli.batch import outcomes, results
from llmcli.batch.provider import Provider
from llmcli.errors import ProtocolError
from llmcli.http.request import body_json

JSON = dict[str, Any]


@dataclass(slots=True)
class Batch:
    """A batch to fetch: its id, API, manifest (None if unknown here) and object."""

    id: str
    api: str
    manifest: JSON | None
    state: JSON = field(default_factory=dict)


class _Index:
    """A batch's result rows spooled to a temporary file, found by custom_id."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed by rows())
        self.where: dict[str, tuple[int, int]] = {}
        self.used: set[str] = set()  # what was written in input order
        self.size = 0

    def add(self, custom_id: str, row: bytes) -> None:
        self.file.write(row)
        self.where.setdefault(custom_id, (self.size, len(row)))
        self.size += len(row)

    def get(self, custom_id: str) -> JSON | None:
        self.used.add(custom_id)
        found = self.where.get(custom_id)
        if found is None:
            return None
        self.file.seek(found[0])
        row: JSON = orjson.loads(self.file.read(found[1]))
        self.file.seek(0, 2)
        return row


def _index(provider: Provider, batch: Batch) -> _Index:
    index = _Index()
    for number, raw in enumerate(provider.results(batch.id, batch.state), start=1):
        try:
            line = body_json(raw)  # a byte order mark before the first line too
        except orjson.JSONDecodeError as e:
            raise ProtocolError(
                f"result {number} of batch {batch.id} is not JSON ({e.msg}): {raw[:80]!r}"
            ) from None
        cid = outcomes.custom_id(line)
        if cid is None:
            continue
        if batch.api == "anthropic":
            row = outcomes.from_anthropic(line)
            row["id"] = outcomes.stable_id(batch.id, cid)
        else:
            row = line
        index.add(cid, orjson.dumps(row))
    return index


def rows(batches: Sequence[Batch], provider_of: Callable[[str], Provider]) -> Iterator[JSON]:
    """Every row of the ended ``batches``, in input order (see the module's doc)."""
    # (submitted, submission, line, batch number, custom_id, the problem of a line not sent)
    order: list[tuple[float, str, int, int, str, str | None]] = []
    submissions: set[str] = set()
    indexes: list[_Index] = []
    try:
        for n, batch in enumerate(batches):
            indexes.append(_index(provider_of(batch.api), batch))
            manifest = batch.manifest
            if manifest is None:
                continue
            when = float(manifest.get("submitted") or 0)
            submission = str(manifest.get("submission") or batch.id)
            for line, cid in manifest.get("rows") or []:
                order.append((when, submission, int(line), n, str(cid), None))
            if submission not in submissions:  # the lines never sent: once per submission
                submissions.add(submission)
                for line, cid, problem in manifest.get("invalid") or []:
                    order.append((when, submission, int(line), n, str(cid), str(problem)))
        order.sort(key=lambda entry: entry[:4])
        for _, _, line, n, cid, problem in order:
            batch = batches[n]
            found = indexes[n].get(cid) if problem is None else None
            if found is not None:
                yield found
                continue
            if problem is not None:
                row = results.failed(cid, "invalid_request", problem)
            else:
                row = outcomes.not_answered(cid, batch.api, batch.state)
            row["id"] = outcomes.stable_id(batch.id, cid, str(line))
            yield row
        for index in indexes:  # no manifest, or results it does not name: never dropped
            for cid in [c for c in index.where if c not in index.used]:
                found = index.get(cid)
                if found is not None:
                    yield found
    finally:
        for index in indexes:
            index.file.close()
