"""Where an API key comes from when it is not in the environment: a file, or a command.

Both are inputs like any other (DESIGN.md, "Limits"): read up to 64 MiB, so that
``api_key_file = "/dev/zero"`` or ``api_key_cmd = "yes"`` cannot fill memory; a key file
over that is exit 65 naming the file. Bytes that are not text are never a key, and are
never shown: the message names where they came from instead (exit 78).
"""

from __future__ import annotations

import os

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
