"""Manifests of submitted batches, in ``$XDG_STATE_HOME/llmcli/batches/`` (by default
``~/.local/state/llmcli/batches/``): which rows each batch holds, in input order, so
``fetch`` writes results in that order whatever order the provider's files come in.

One JSON file per batch, ``batches/ORIGIN/ID.json``: ORIGIN is the gateway's name, or for
a ``--base-url`` server a hash of its URL, so two servers that hand out the same id never
share a manifest. Written atomically (temporary file, fsync,
rename) and readable by its owner only. A manifest holds ids, line numbers, the gateway's
name and the problems of the lines that were not sent: never a key, a header or a URL.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from llmcli.errors import OutputFileError
from llmcli.state import state_dir

JSON = dict[str, Any]
#: what a batch id may look like to name a file (and to go into a URL path)
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")


def origin(name: str, base_url: str, named: bool) -> str:
    """Where a batch lives: a named gateway's name (``mock`` moves from port to port), or
    a hash of a ``--base-url`` server's URL (never the URL: it may hold a password)."""
    if named and ID.fullmatch(name):
        return name
    return "url-" + hashlib.blake2b(base_url.encode(), digest_size=8).hexdigest()


def _path(batch_id: str, where: str, env: Mapping[str, str] | None) -> Path:
    return state_dir(env) / "batches" / where / f"{batch_id}.json"


def save(manifest: JSON, where: str, env: Mapping[str, str] | None = None) -> Path:
    """Write the manifest of batch ``manifest["id"]``; exit 73 when it cannot be written."""
    path = _path(str(manifest["id"]), where, env)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(manifest) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as e:
        raise OutputFileError(f"cannot write the manifest {path}: {e.strerror or e}") from None
    return path


def load(batch_id: str, where: str, env: Mapping[str, str] | None = None) -> JSON | None:
    """The manifest of a batch submitted from this machine (None: none, or unreadable)."""
    try:
        value = orjson.loads(_path(batch_id, where, env).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return value if isinstance(value, dict) and value.get("id") == batch_id else None


def gateways_of(batch_id: str, env: Mapping[str, str] | None = None) -> set[str]:
    """The named gateways that have a manifest of ``batch_id`` (to find it without -g)."""
    found = set()
    for path in (state_dir(env) / "batches").glob(f"*/{batch_id}.json"):
        if not path.parent.name.startswith("url-"):
            found.add(path.parent.name)
    return found
