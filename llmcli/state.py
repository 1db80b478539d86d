"""Where llmcli keeps state between runs: ``$XDG_STATE_HOME/llmcli`` (by default
``~/.local/state/llmcli``): batch manifests, and the offline gateway's batches; and what
it may lose at any time: ``$XDG_CACHE_HOME/llmcli`` (``~/.cache/llmcli``): price lists. A
leaf: it imports nothing of llmcli, so any module may ask for it cheaply."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/llmcli`` (``~/.local/state/llmcli`` when it is unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "llmcli"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/llmcli`` (``~/.cache/llmcli`` when it is unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "llmcli"
