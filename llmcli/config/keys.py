"""Where an API key comes from: the environment, a file, a command, the config file.

One list of sources (``key_sources``) serves reading the key, telling whether it is set
and describing it in ``llmcli gateways``.

Both are inputs like any other (DESIGN.md, "Limits"): read up to 64 MiB, so that
``api_key_file = "/dev/zero"`` or ``api_key_cmd = "yes"`` cannot fill memory; a key file
over that is exit 65 naming the file. Bytes that are not text are never a key, and are
never shown: the message names where they came from instead (exit 78).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from llmcli.config.gateway import Gateway
from llmcli.errors import ConfigError, DataError

KEY_LIMIT = 64 * 1024 * 1024
KEY_CMD_TIMEOUT = 60.0


def _text(data: bytes) -> str | None:
    """The key's text, or None when the bytes are not text (binary data is never a key,
    and is never shown)."""
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text


def read_key_file(gateway: str, key_file: str) -> str | None:
    """The key in ``key_file`` (``~`` expanded), stripped; None when it is empty."""
    path = os.path.expanduser(key_file)
    where = f"gateway {gateway!r}: api_key_file {path}"
    try:
        with open(path, "rb") as f:
            data = f.read(KEY_LIMIT + 1)
    except OSError as e:
        raise ConfigError(f"{where}: {e.strerror or e}") from None
    if len(data) > KEY_LIMIT:
        raise DataError(f"{where}: larger than 64 MiB")
    text = _text(data)
    if text is None:
        raise ConfigError(f"{where}: not text, so not a usable key")
    return text.strip() or None


def run_key_cmd(gateway: str, command: str) -> str | None:
    """Run ``api_key_cmd`` and read at most KEY_LIMIT + 1 bytes of what it prints, within
    KEY_CMD_TIMEOUT. Its stderr is dropped (it is no business of stdout's reader) and
    its stdin is ours, so a password manager can still ask on the terminal."""
    import subprocess  # only for api_key_cmd
    import threading

    where = f"gateway {gateway!r}: api_key_cmd"
    try:
        process = subprocess.Popen(
            command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
    except OSError as e:
        raise ConfigError(f"{where} failed: {e.strerror or e}") from None
    assert process.stdout is not None
    stdout = process.stdout
    chunks: list[bytes] = []

    def drain() -> None:
        size = 0
        while size <= KEY_LIMIT and (chunk := os.read(stdout.fileno(), 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)

    # A thread, not select(): pipes cannot be polled on every platform.
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    reader.join(KEY_CMD_TIMEOUT)
    if reader.is_alive():  # still printing, or silent: either way too slow
        process.kill()
        raise ConfigError(f"{where} failed: no answer within {KEY_CMD_TIMEOUT:g} s")
    data = b"".join(chunks)
    if len(data) > KEY_LIMIT:
        process.kill()
    stdout.close()  # a writer still running gets SIGPIPE instead of filling memory
    status = process.wait()
    if len(data) > KEY_LIMIT:
        raise ConfigError(f"{where} printed more than 64 MiB, so not a usable key")
    if status != 0:
        raise ConfigError(f"{where} exited {status}")
    text = _text(data)
    if text is None:
        raise ConfigError(f"{where} printed something that is not text, so not a usable key")
    return text.strip() or None


@dataclass(frozen=True, slots=True)
class KeySource:
    """One place a gateway's key may come from, in the order they are tried."""

    kind: Literal["env", "file", "cmd", "config"]
    where: str = ""  # the variable's name or the file's path

    def read(self, gateway: Gateway, env: Mapping[str, str]) -> str | None:
        if self.kind == "env":
            return env.get(self.where) or None
        if self.kind == "file":
            return read_key_file(gateway.name, self.where)
        if self.kind == "cmd":
            return run_key_cmd(gateway.name, self.where)
        return gateway.api_key or None

    def __str__(self) -> str:
        return {
            "env": f"${self.where}",
            "file": f"file {self.where}",
            "cmd": "api_key_cmd",
            "config": "config file",
        }[self.kind]


def key_sources(gateway: Gateway) -> list[KeySource]:
    """Where the key comes from, first found wins: ``LLMCLI_API_KEY``, the gateway's
    variables, its file, its command, the config file itself. None for ``auth = none``."""
    if gateway.auth == "none":
        return []
    sources = [KeySource("env", var) for var in ("LLMCLI_API_KEY", *gateway.key_env)]
    if gateway.key_file:
        sources.append(KeySource("file", gateway.key_file))
    if gateway.key_cmd:
        sources.append(KeySource("cmd", gateway.key_cmd))
    if gateway.api_key:
        sources.append(KeySource("config"))
    return sources


def read_key(
    gateway: Gateway, env: Mapping[str, str] | None = None, *, required: bool = True
) -> str | None:
    """The API key from the first of ``key_sources`` that has one."""
    env = os.environ if env is None else env
    key = None
    for source in key_sources(gateway):
        key = (source.read(gateway, env) or "").strip() or None
        if key is not None:
            break
    if key is not None and (any(ord(c) < 0x20 or ord(c) == 0x7F for c in key) or not key.isascii()):
        raise ConfigError(
            f"the API key for gateway {gateway.name!r} has a line break, a control character "
            "or non-ASCII text in it: check where it comes from (`llmcli gateways`)"
        )
    if key is None and required and not gateway.key_optional and gateway.auth != "none":
        where = " or ".join(["LLMCLI_API_KEY", *gateway.key_env])
        raise ConfigError(f"no API key for gateway {gateway.name!r}: set {where}")
    return key


def key_status(gateway: Gateway, env: Mapping[str, str]) -> dict[str, Any]:
    """Where the key would come from and whether it is there, without reading it out
    (a command is not run just to list it)."""
    sources = key_sources(gateway)
    if not sources:
        return {"source": None, "set": False}
    for source in sources:
        if source.kind == "env" and env.get(source.where):
            return {"source": f"env:{source.where}", "set": True}
        if source.kind == "file":
            path = os.path.expanduser(source.where)
            return {"source": f"file:{source.where}", "set": os.path.isfile(path)}
        if source.kind == "cmd":
            return {"source": "api_key_cmd", "set": None}
        if source.kind == "config":
            return {"source": "config", "set": True}
    first = gateway.key_env[0] if gateway.key_env else "LLMCLI_API_KEY"
    return {"source": f"env:{first}", "set": False}


def describe_sources(gateway: Gateway) -> str:
    """The key's sources for humans (``llmcli gateways``); never the key."""
    return " or ".join(str(s) for s in key_sources(gateway)) or "none"
