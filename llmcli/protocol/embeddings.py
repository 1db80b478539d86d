"""OpenAI-compatible embeddings: request bodies and answers. No I/O.

An answer's vectors are put back in input order by their ``index`` and checked against
the number of inputs sent: a gateway that answers with fewer or more vectors is a
protocol error, never a silent misalignment. ``encoding_format: "base64"`` answers are
little-endian float32 arrays (OpenAI's format), decoded here to floats.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

from llmcli.errors import ProtocolError
from llmcli.protocol.error_objects import check_error

JSON = dict[str, Any]


def request_body(
    model: str,
    inputs: Sequence[str],
    *,
    dimensions: int | None = None,
    encoding_format: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSON:
    body: JSON = dict(extra or {})
    body["model"] = model
    body["input"] = list(inputs)
    if dimensions is not None:
        body["dimensions"] = dimensions
    if encoding_format is not None:
        body["encoding_format"] = encoding_format
    return body


def decode_base64(text: str) -> list[float]:
    """A base64 string of little-endian float32 values, as floats."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as e:
        raise ProtocolError(f"embedding is not valid base64: {e}") from None
    if len(raw) % 4:
        raise ProtocolError(f"base64 embedding has {len(raw)} bytes, not a multiple of 4")
    values = array("f")
    values.frombytes(raw)
    if sys.byteorder != "little":
        values.byteswap()
    return values.tolist()


def vectors(body: Any, count: int, where: str) -> list[list[float]]:
    """The vectors of an answer, in input order; exactly ``count`` of them."""
    check_error(body, where)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ProtocolError(f'{where}: embeddings answer has no "data" list')
    if len(data) != count:
        raise ProtocolError(f"{where}: sent {count} inputs but got {len(data)} embeddings back")
    ordered: list[list[float] | None] = [None] * count
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            raise ProtocolError(f"{where}: embedding {position} is not an object")
        index = item.get("index", position)
        if not isinstance(index, int) or not 0 <= index < count or ordered[index] is not None:
            raise ProtocolError(f"{where}: embedding {position} has a bad index {index!r}")
        embedding = item.get("embedding")
        if isinstance(embedding, str):
            ordered[index] = decode_base64(embedding)
        elif isinstance(embedding, list):
            ordered[index] = embedding
        else:
            raise ProtocolError(f"{where}: embedding {position} is neither a list nor base64")
    return [v for v in ordered if v is not None]
