from __future__ import annotations

from pathlib import Path

import pytest

from llmcli.config import Gateway, Resolved, read_key, resolve, select
from llmcli.config.builtin import BUILTINS
from llmcli.errors import ConfigError

LOCAL = "http://127.0.0.1:4000/v1"

# Gateway.url


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("chat", "http://127.0.0.1:4000/v1/chat/completions"),
        ("models", "http://127.0.0.1:4000/v1/models"),
        ("embeddings", "http://127.0.0.1:4000/v1/embeddings"),
        ("messages", "http://127.0.0.1:4000/v1/messages"),
    ],
)
@pytest.mark.parametrize("base", [LOCAL, LOCAL + "/"])
def test_url_appends_endpoint_path(base: str, endpoint: str, url: str) -> None:
    assert Gateway("g", base_url=base).url(endpoint) == url


def test_url_per_endpoint_override() -> None:
    gateway = Gateway("g", base_url=LOCAL, paths={"chat": "https://example.org/api.php"})
    assert gateway.url("chat") == "https://example.org/api.php"
    assert gateway.url("models") == "http://127.0.0.1:4000/v1/models"


def test_url_without_base_url() -> None:
    gateway = Gateway("seed", paths={"chat": "https://example.org/api.php"})
    assert gateway.url("chat") == "https://example.org/api.php"
    with pytest.raises(ConfigError) as info:
        gateway.url("models")
    assert info.value.exit_code == 78
    assert info.value.message == "gateway 'seed' has no base_url"


def test_url_endpoint_not_offered() -> None:
    gateway = Gateway("g", base_url=LOCAL, endpoints=frozenset({"models", "chat"}))
    with pytest.raises(ConfigError) as info:
        gateway.url("embeddings")
    assert info.value.exit_code == 78
    assert info.value.message == "gateway 'g' has no embeddings endpoint (it offers: chat, models)"


# select


def test_select_default_is_openai() -> None:
    gateway = select(None, None, {})
    assert gateway == BUILTINS["openai"]
    assert gateway.url("chat") == "https://api.openai.com/v1/chat/completions"
    assert gateway.key_env == ("OPENAI_API_KEY",)


@pytest.mark.parametrize(
    ("name", "env", "chosen"),
    [
        ("mock", {}, "mock"),
        (None, {"LLMCLI_GATEWAY": "mock"}, "mock"),
        ("mock", {"LLMCLI_GATEWAY": "openai"}, "mock"),
        ("openai", {"LLMCLI_GATEWAY": "mock"}, "openai"),
        (None, {"LLMCLI_GATEWAY": "", "LLMCLI_BASE_URL": "", "OPENAI_BASE_URL": ""}, "openai"),
    ],
)
def test_select_by_name(name: str | None, env: dict[str, str], chosen: str) -> None:
    assert select(name, None, env) == BUILTINS[chosen]


@pytest.mark.parametrize(
    ("base_url", "env", "url"),
    [
        (LOCAL, {}, LOCAL),
        (None, {"LLMCLI_BASE_URL": "http://env/v1"}, "http://env/v1"),
        (LOCAL, {"LLMCLI_BASE_URL": "http://env/v1"}, LOCAL),
        (None, {"OPENAI_BASE_URL": "http://oai/v1"}, "http://oai/v1"),
        (
            None,
            {"OPENAI_BASE_URL": "http://oai/v1", "LLMCLI_BASE_URL": "http://env/v1"},
            "http://env/v1",
        ),
    ],
)
def test_select_by_base_url(base_url: str | None, env: dict[str, str], url: str) -> None:
    assert select(None, base_url, env) == Gateway(
        url.split("/")[2],  # messages name the server by its host
        base_url=url,
        source="custom",
        key_env=("OPENAI_API_KEY",),
        key_optional=True,
        batch_apis=frozenset({"openai", "anthropic"}),
    )


def test_select_base_url_flag_overrides_a_named_gateway() -> None:
    gateway = select("openai", "http://proxy/v1", {})
    assert gateway.name == "openai"
    assert gateway.base_url == "http://proxy/v1"
    assert gateway.url("chat") == "http://proxy/v1/chat/completions"
    assert gateway.key_env == ("OPENAI_API_KEY",)


def test_select_gateway_flag_beats_base_url_from_environment() -> None:
    # Flags beat environment: -g openai is not redirected by LLMCLI_BASE_URL.
    gateway = select("openai", None, {"LLMCLI_BASE_URL": "http://127.0.0.1:8080/v1"})
    assert gateway.url("chat") == "https://api.openai.com/v1/chat/completions"


@pytest.mark.parametrize(
    ("name", "env"), [("nope", {}), (None, {"LLMCLI_GATEWAY": "nope"}), ("nope", {"X": "1"})]
)
def test_select_unknown_gateway(name: str | None, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        select(name, None, env)
    assert info.value.exit_code == 78
    known = ", ".join(sorted(BUILTINS))
    assert info.value.message == f"unknown gateway 'nope' (known: {known})"


# read_key

BEARER = Gateway("g", base_url=LOCAL, key_env=("G_KEY", "G_OTHER_KEY"))


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"G_KEY": "k1"}, "k1"),
        ({"G_OTHER_KEY": "k2"}, "k2"),
        ({"G_KEY": "k1", "G_OTHER_KEY": "k2"}, "k1"),
        ({"G_KEY": "", "G_OTHER_KEY": "k2"}, "k2"),
        ({"LLMCLI_API_KEY": "kl", "G_KEY": "k1"}, "kl"),
    ],
)
def test_read_key_from_environment(env: dict[str, str], key: str) -> None:
    assert read_key(BEARER, env) == key


def test_read_key_auth_none() -> None:
    gateway = Gateway("local", base_url=LOCAL, auth="none", key_env=("G_KEY",))
    assert read_key(gateway, {"LLMCLI_API_KEY": "kl", "G_KEY": "k"}) is None


def test_read_key_missing() -> None:
    with pytest.raises(ConfigError) as info:
        read_key(BEARER, {})
    assert info.value.exit_code == 78
    assert info.value.message == (
        "no API key for gateway 'g': set LLMCLI_API_KEY or G_KEY or G_OTHER_KEY"
    )
    with pytest.raises(ConfigError) as info:
        read_key(Gateway("bare", base_url=LOCAL), {})
    assert info.value.message == "no API key for gateway 'bare': set LLMCLI_API_KEY"


def test_read_key_not_required() -> None:
    assert read_key(BEARER, {}, required=False) is None
    optional = Gateway("g", base_url=LOCAL, key_env=("G_KEY",), key_optional=True)
    assert read_key(optional, {}) is None
    assert read_key(optional, {"G_KEY": "k"}) == "k"


def test_read_key_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("  sk-file\n\n", encoding="utf-8")
    gateway = Gateway("g", base_url=LOCAL, key_env=("G_KEY",), key_file=str(path))
    assert read_key(gateway, {}) == "sk-file"
    assert read_key(gateway, {"G_KEY": "sk-env"}) == "sk-env"


def test_read_key_file_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".key").write_text("sk-home\n", encoding="utf-8")
    assert read_key(Gateway("g", base_url=LOCAL, key_file="~/.key"), {}) == "sk-home"


def test_read_key_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "missing"
    with pytest.raises(ConfigError) as info:
        read_key(Gateway("g", base_url=LOCAL, key_file=str(path)), {})
    assert info.value.exit_code == 78
    assert info.value.message == f"gateway 'g': api_key_file {path}: No such file or directory"


def test_read_key_file_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        read_key(Gateway("g", base_url=LOCAL, key_file=str(path)), {})
    assert info.value.exit_code == 78
    assert info.value.message == "no API key for gateway 'g': set LLMCLI_API_KEY"


@pytest.mark.parametrize(
    ("command", "key"), [("echo sk-x", "sk-x"), ("printf '  sk-y\\n\\n'", "sk-y")]
)
def test_read_key_command(command: str, key: str) -> None:
    assert read_key(Gateway("g", base_url=LOCAL, key_cmd=command), {}) == key


def test_read_key_precedence_env_file_command(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("sk-file", encoding="utf-8")
    gateway = Gateway(
        "g", base_url=LOCAL, key_env=("G_KEY",), key_file=str(path), key_cmd="echo sk-cmd"
    )
    assert read_key(gateway, {"G_KEY": "sk-env"}) == "sk-env"
    assert read_key(gateway, {}) == "sk-file"
    path.write_text("", encoding="utf-8")
    assert read_key(gateway, {}) == "sk-cmd"


def test_read_key_command_fails() -> None:
    with pytest.raises(ConfigError) as info:
        read_key(Gateway("g", base_url=LOCAL, key_cmd="exit 3"), {})
    assert info.value.exit_code == 78
    assert info.value.message == "gateway 'g': api_key_cmd exited 3"


def test_read_key_command_prints_nothing() -> None:
    with pytest.raises(ConfigError) as info:
        read_key(Gateway("g", base_url=LOCAL, key_cmd="true"), {})
    assert info.value.exit_code == 78
    assert info.value.message == "no API key for gateway 'g': set LLMCLI_API_KEY"


def test_read_key_command_not_run_when_key_in_env() -> None:
    gateway = Gateway("g", base_url=LOCAL, key_env=("G_KEY",), key_cmd="exit 1")
    assert read_key(gateway, {"G_KEY": "k"}) == "k"


# resolve


def test_resolve_mock() -> None:
    assert resolve("mock", None, None, {"LLMCLI_API_KEY": "k"}) == Resolved(
        BUILTINS["mock"], None, "echo"
    )


def test_resolve_openai() -> None:
    openai = BUILTINS["openai"]
    assert resolve(None, None, None, {"OPENAI_API_KEY": "sk-o"}) == Resolved(
        openai, "sk-o", openai.model
    )


@pytest.mark.parametrize(
    ("flag", "env", "model"),
    [
        ("flag-model", {"LLMCLI_MODEL": "env-model"}, "flag-model"),
        (None, {"LLMCLI_MODEL": "env-model"}, "env-model"),
        (None, {"LLMCLI_MODEL": ""}, "echo"),
        (None, {}, "echo"),
    ],
)
def test_resolve_model_precedence(flag: str | None, env: dict[str, str], model: str) -> None:
    assert resolve("mock", None, flag, env).model == model


def test_resolve_base_url_key_is_optional() -> None:
    custom = Gateway(
        "127.0.0.1:4000",
        base_url=LOCAL,
        source="custom",
        key_env=("OPENAI_API_KEY",),
        key_optional=True,
        batch_apis=frozenset({"openai", "anthropic"}),
    )
    assert resolve(None, LOCAL, None, {}) == Resolved(custom, None, None)
    assert resolve(None, LOCAL, "m", {"OPENAI_API_KEY": "sk-o"}) == Resolved(custom, "sk-o", "m")


def test_resolve_missing_key() -> None:
    with pytest.raises(ConfigError) as info:
        resolve("openai", None, None, {})
    assert info.value.exit_code == 78
    assert info.value.message == (
        "no API key for gateway 'openai': set LLMCLI_API_KEY or OPENAI_API_KEY"
    )


def test_resolve_without_requiring_key() -> None:
    resolved = resolve("openai", None, "gpt-x", {}, require_key=False)
    assert resolved == Resolved(BUILTINS["openai"], None, "gpt-x")
