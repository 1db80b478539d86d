"""Configuration mistakes are exit 78 naming the file, the line and the key: a value of the
wrong type, a key command or key file that gives no usable key, a base URL that is not
http(s). Never an internal error, never the key or a URL's password on stderr."""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import llmcli

#: the gateway table starts on line 3, so a line number that is right is not luck
HEAD = "# my gateways\n\n[gateways.w]\n"
URL = 'base_url = "http://127.0.0.1:9/v1"\n'

#: a case: the config file's text, the flags, more environment
Case = tuple[str, tuple[str, ...], Mapping[str, str]]


def write_config(directory: Path, text: str) -> dict[str, str]:
    path = directory / "config.toml"
    path.write_text(text)
    os.chmod(path, 0o600)
    return {"LLMCLI_CONFIG": str(path)}


def dry_runs(tmp_path: Path, cases: Mapping[str, Case]) -> dict[str, tuple[int, str]]:
    """Exit code and stderr (the config file's path shown as CONFIG) of a ``--dry-run``
    per case, each of which must fail before printing anything. Every case needs a
    process of its own; a few run at a time, as one after another they are slow."""

    def one(numbered: tuple[int, Case]) -> tuple[int, str]:
        i, (text, args, env) = numbered
        (tmp_path / str(i)).mkdir()
        config = write_config(tmp_path / str(i), text)
        r = llmcli("chat", "--dry-run", "-m", "m", *args, "hi", env={**config, **env})
        if r.out:
            return r.code, f"stdout: {r.out!r}"
        return r.code, r.err.replace(config["LLMCLI_CONFIG"], "CONFIG")

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return dict(zip(cases, pool.map(one, enumerate(cases.values())), strict=True))


def expect(messages: Mapping[str, str], code: int = 78) -> dict[str, tuple[int, str]]:
    return {case: (code, f"llmcli: {message}\n") for case, message in messages.items()}


GATEWAY_KEYS = {
    "base_url = 5": "base_url must be a string, not an integer",
    "api_key_file = 1": "api_key_file must be a string, not an integer",
    'api_key_cmd = ["pass", "show"]': "api_key_cmd must be a string, not an array",
    "api_key = true": "api_key must be a string, not a boolean",
    "model = 3": "model must be a string, not an integer",
    "embedding_model = 1.5": "embedding_model must be a string, not a float",
    "description = 1979-05-27": "description must be a string, not a date",
    "extends = []": "extends must be a string, not an array",
    "auth = 3": "auth must be a string, not an integer",
    "reasoning_style = {}": "reasoning_style must be a string, not a table",
    "api_key_env = 5": "api_key_env must be a variable name or an array of them, not an integer",
    'api_key_env = ["K", 1]': "api_key_env[1] must be a string, not an integer",
    'api_key_env = "sk-abc123"': "api_key_env must be the name of an environment variable "
    "(letters, digits and _), not the key itself",
    'headers = "X: 1"': "headers must be a table, not a string",
    "headers = { X = 1 }": "headers.X must be a string, not an integer",
    'headers = { "X Y" = [] }': 'headers."X Y" must be a string, not an array',
    'headers = { "X Y" = "z" }': "headers: 'X Y' is not a valid header name",
    'headers = { X = "a\\nb" }': "headers: the value of X has a line break or control character",
    'params = "x"': "params must be a table, not a string",
    "paths = 5": "paths must be a table, not an integer",
    "paths = { chat = 5 }": "paths.chat must be a string, not an integer",
    'endpoints = "chat"': "endpoints must be an array, not a string",
    "endpoints = [[1]]": "endpoints[0] must be a string, not an array",
    'endpoints = ["chat", "chats"]': "endpoints[1] must be one of chat, embeddings, messages, "
    "models, responses",
    "batch_api = 1": "batch_api must be a string or an array, not an integer",
    'batch_api = "openia"': "batch_api must be one of openai, anthropic or none",
    'batch_api = ["openai", 2]': "batch_api[1] must be a string, not an integer",
}


def test_every_gateway_key_of_the_wrong_type_is_78_naming_file_line_and_key(
    tmp_path: Path,
) -> None:
    cases = {line: (HEAD + line + "\n", ("-g", "w"), {}) for line in GATEWAY_KEYS}
    expected = {line: f"CONFIG:3: [gateways.w]: {m}" for line, m in GATEWAY_KEYS.items()}
    assert dry_runs(tmp_path, cases) == expect(expected)


TOP_LEVEL = {
    "default_gateway = 1\n": "CONFIG:1: default_gateway must be a string, not an integer",
    '\ngateways = "w"\n': "CONFIG:2: gateways must be a table, not a string",
    "gateways = { w = 1 }\n": "CONFIG:1: gateways.w must be a table, not an integer",
    "[gateways]\nw = { model = 1 }\n": "CONFIG:2: [gateways.w]: model must be a string, "
    "not an integer",
    "gateways.w.model = []\n": "CONFIG:1: [gateways.w]: model must be a string, not an array",
}


def test_top_level_keys_of_the_wrong_type(tmp_path: Path) -> None:
    cases = {text: (text, ("-g", "mock"), {}) for text in TOP_LEVEL}
    assert dry_runs(tmp_path, cases) == expect(TOP_LEVEL)


CONFIG_URLS = {
    "ftp://x": "'ftp://x' is not an http:// or https:// URL",
    "file:///etc/passwd": "'file:///etc/passwd' is not an http:// or https:// URL",
    "localhost:8080/v1": "'localhost:8080/v1' is not an http:// or https:// URL "
    "(put http:// or https:// in front)",
    "http://": "'http://' has no host",
    "http://u:secret@/v1": "'http://u:***@/v1' has no host",
    "http://u:secret@h:99999/v1": "'http://u:***@h:99999/v1' has a bad port",
    "http://[::1/v1": "'http://[::1/v1' is not a valid URL",
    "http://a b/v1": "'http://a b/v1' has a space or control character in it",
}


def test_base_url_in_the_config_must_be_http_and_its_password_is_hidden(
    tmp_path: Path,
) -> None:
    cases = {url: (f'{HEAD}base_url = "{url}"\n', ("-g", "w"), {}) for url in CONFIG_URLS}
    cases["paths"] = (HEAD + 'paths = { chat = "file:///etc/passwd" }\n', ("-g", "w"), {})
    expected = {url: f"CONFIG:3: [gateways.w]: base_url {m}" for url, m in CONFIG_URLS.items()}
    expected["paths"] = (
        "CONFIG:3: [gateways.w]: paths.chat 'file:///etc/passwd' is not an http:// or https:// URL"
    )
    assert dry_runs(tmp_path, cases) == expect(expected)


def test_base_url_from_a_flag_or_the_environment_must_be_http(tmp_path: Path) -> None:
    key = {"OPENAI_API_KEY": "k"}
    cases: dict[str, Case] = {
        "flag": ("", ("--base-url", "ftp://x"), {}),
        "flag, named gateway": ("", ("-g", "openai", "--base-url", "http://u:secret@/v1"), key),
        "LLMCLI_BASE_URL": ("", (), {"LLMCLI_BASE_URL": "localhost:8080/v1"}),
        "OPENAI_BASE_URL": ("", (), {"OPENAI_BASE_URL": "file:///etc/passwd"}),
        "OPENAI_BASE_URL, -g openai": ("", ("-g", "openai"), {"OPENAI_BASE_URL": "http://", **key}),
    }
    assert dry_runs(tmp_path, cases) == expect(
        {
            "flag": "--base-url 'ftp://x' is not an http:// or https:// URL",
            "flag, named gateway": "--base-url 'http://u:***@/v1' has no host",
            "LLMCLI_BASE_URL": "LLMCLI_BASE_URL 'localhost:8080/v1' is not an http:// or "
            "https:// URL (put http:// or https:// in front)",
            "OPENAI_BASE_URL": "OPENAI_BASE_URL 'file:///etc/passwd' is not an http:// or "
            "https:// URL",
            "OPENAI_BASE_URL, -g openai": "OPENAI_BASE_URL 'http://' has no host",
        }
    )


def test_anthropic_base_url_must_be_http_when_it_is_used(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    env = {**config, "ANTHROPIC_BASE_URL": "ftp://u:secret@h/v1", "ANTHROPIC_API_KEY": "k"}
    r = llmcli("messages", "--dry-run", "-m", "m", "hi", env=env)
    assert (r.code, r.out, r.err) == (
        78,
        b"",
        "llmcli: ANTHROPIC_BASE_URL 'ftp://u:***@h/v1' is not an http:// or https:// URL\n",
    )
    r = llmcli("chat", "-g", "mock", "hi", env={**env, "LLMCLI_BASE_URL": "ftp://x"})
    assert (r.code, r.out, r.err) == (0, b"hi\n", "")


KEY_COMMANDS = {
    "printf '\\\\000\\\\377'": "printed something that is not text, so not a usable key",
    "head -c 100 /dev/urandom": "printed something that is not text, so not a usable key",
    "cat /dev/zero": "printed more than 64 MiB, so not a usable key",
    "yes": "printed more than 64 MiB, so not a usable key",
}


def test_key_command_whose_output_is_no_key_is_78_and_not_shown(tmp_path: Path) -> None:
    cases = {c: (f'{HEAD}{URL}api_key_cmd = "{c}"\n', ("-g", "w"), {}) for c in KEY_COMMANDS}
    expected = {c: f"gateway 'w': api_key_cmd {m}" for c, m in KEY_COMMANDS.items()}
    assert dry_runs(tmp_path, cases) == expect(expected)


def test_key_file_that_never_ends_is_65_naming_it(tmp_path: Path) -> None:
    cases: dict[str, Case] = {"zero": (f'{HEAD}{URL}api_key_file = "/dev/zero"\n', ("-g", "w"), {})}
    assert dry_runs(tmp_path, cases) == expect(
        {"zero": "gateway 'w': api_key_file /dev/zero: larger than 64 MiB"}, 65
    )


def test_key_file_that_is_not_text_is_78(tmp_path: Path) -> None:
    key = tmp_path / "key.bin"
    key.write_bytes(b"sk-\x00\xff\xfe")
    cases: dict[str, Case] = {"bin": (f'{HEAD}{URL}api_key_file = "{key}"\n', ("-g", "w"), {})}
    assert dry_runs(tmp_path, cases) == expect(
        {"bin": f"gateway 'w': api_key_file {key}: not text, so not a usable key"}
    )


def test_key_file_with_a_byte_order_mark_and_a_key_command_still_work(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"\xef\xbb\xbfsk-file\n")
    text = f'{HEAD}{URL}api_key_file = "{key}"\n[gateways.c]\nextends = "w"\napi_key_file = ""\n'
    env = write_config(tmp_path, text + 'api_key_cmd = "echo sk-c"\n')
    for name in ("w", "c"):
        r = llmcli("chat", "--dry-run", "-m", "m", "-g", name, "hi", env=env)
        assert (r.code, r.err) == (0, "")
        assert b'"Authorization": "Bearer ***"' in r.out
