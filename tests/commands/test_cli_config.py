"""Gateways from config.toml, the environment and flags, end to end."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from conftest import SECRET, llmcli

from llmcli import mock as offline
from llmcli.config.builtin import BUILTINS


def write_config(tmp_path: Path, text: str, mode: int = 0o600) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return {"LLMCLI_CONFIG": str(path)}


def dry(*args: str, env: dict[str, str]) -> dict:
    r = llmcli("chat", "--dry-run", *args, "hi", env=env)
    assert r.code == 0, r.err
    return orjson.loads(r.out)


def test_four_line_user_gateway_works(gw: offline.RunningGateway, tmp_path: Path) -> None:
    env = write_config(tmp_path, f'[gateways.work]\nbase_url = "{gw.base_url}"\nmodel = "echo"\n')
    r = llmcli("chat", "-g", "work", "hello work", env=env)
    assert (r.code, r.out, r.err) == (0, b"hello work\n", "")
    assert "authorization" not in gw.requests[0].headers


def test_xdg_config_home_is_where_the_file_lives(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    (tmp_path / "llmcli").mkdir()
    (tmp_path / "llmcli" / "config.toml").write_text(
        f'default_gateway = "work"\n[gateways.work]\nbase_url = "{gw.base_url}"\nmodel = "echo"\n'
    )
    r = llmcli("chat", "from xdg", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert (r.code, r.out) == (0, b"from xdg\n")


def test_base_url_alone_needs_no_key_and_sends_no_auth(gw: offline.RunningGateway) -> None:
    r = llmcli("chat", "--base-url", gw.base_url, "-m", "echo", "plain")
    assert (r.code, r.out) == (0, b"plain\n")
    assert "authorization" not in gw.requests[0].headers


def test_key_sources_env_file_and_command(gw: offline.RunningGateway, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("file-key\n")
    env = write_config(
        tmp_path,
        f'[gateways.a]\nbase_url = "{gw.base_url}"\nmodel = "echo"\napi_key_env = "A_KEY"\n'
        f'[gateways.b]\nextends = "a"\napi_key_env = []\napi_key_file = "{key_file}"\n'
        f'[gateways.c]\nextends = "a"\napi_key_env = []\napi_key_cmd = "echo cmd-key"\n',
    )
    for name, extra, expected in (
        ("a", {"A_KEY": "env-key"}, "Bearer env-key"),
        ("b", {}, "Bearer file-key"),
        ("c", {}, "Bearer cmd-key"),
    ):
        r = llmcli("chat", "-g", name, "x", env={**env, **extra})
        assert r.code == 0, r.err
        assert gw.requests[-1].headers["authorization"] == expected


def test_missing_key_names_the_variable_to_set(tmp_path: Path) -> None:
    env = write_config(
        tmp_path, '[gateways.a]\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "A_KEY"\n'
    )
    r = llmcli("chat", "-g", "a", "-m", "m", "x", env=env)
    assert r.code == 78
    assert r.err == "llmcli: no API key for gateway 'a': set LLMCLI_API_KEY or A_KEY\n"


def test_user_gateway_extends_a_builtin(tmp_path: Path) -> None:
    env = write_config(tmp_path, '[gateways.lumenfall]\nmodel = "openai/gpt-5.4"\n')
    sent = dry("-g", "lumenfall", env={**env, "LUMENFALL_API_KEY": SECRET})
    assert sent["url"] == "https://api.lumenfall.ai/openai/v1/chat/completions"
    assert sent["body"]["model"] == "openai/gpt-5.4"
    assert sent["headers"]["Authorization"] == "Bearer ***"


def test_config_headers_and_params_are_sent(tmp_path: Path) -> None:
    env = write_config(
        tmp_path,
        '[gateways.t]\nextends = "openai"\nheaders = {"X-Team" = "blue"}\n'
        "params = {temperature = 0.2, chat_template_kwargs = {enable_thinking = false}}\n",
    )
    sent = dry("-g", "t", "--temperature", "0.9", env={**env, "OPENAI_API_KEY": "k"})
    assert sent["headers"]["X-Team"] == "blue"
    assert sent["body"]["temperature"] == 0.9
    assert sent["body"]["chat_template_kwargs"] == {"enable_thinking": False}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[gateways.a]\nbase_url = "x"\nmodel = \n', ":3:9: Invalid value\n"),
        (
            'default_gateway = "a"\n\n[gateways.a]\nbse_url = "x"\n',
            ":4: [gateways.a]: unknown key 'bse_url' (did you mean 'base_url'?)\n",
        ),
        (
            '[gateways.a]\nbase_url = "http://x/v1"\n\nmodell = "m"\n',
            ":4: [gateways.a]: unknown key 'modell' (did you mean 'model'?)\n",
        ),
        (
            '[gateways.a]\nbase_url = "http://x/v1"\nwhatever = 1\n',
            ":3: [gateways.a]: unknown key 'whatever'\n",
        ),
        (
            '\ndefault_gatway = "a"\n',
            ":2: unknown setting 'default_gatway' (did you mean 'default_gateway'?)\n",
        ),
        (
            '[gateways.a]\nextends = "b"\n[gateways.b]\nextends = "a"\n',
            ":1: [gateways.a]: extends itself (a -> b -> a)\n",
        ),
        (
            '[gateways.a]\nauth = "basic"\n',
            ":1: [gateways.a]: auth must be one of none, bearer, x-api-key\n",
        ),
        (
            '[gateways.a]\nextends = "nowhere"\n',
            ":1: [gateways.a]: extends unknown gateway 'nowhere'\n",
        ),
    ],
)
def test_bad_config_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    env = write_config(tmp_path, text)
    r = llmcli("chat", "-g", "mock", "x", env=env)
    assert r.code == 78
    assert r.err == f"llmcli: {tmp_path / 'config.toml'}{message}"


def test_explicit_config_that_is_missing_is_an_error(tmp_path: Path) -> None:
    r = llmcli("chat", "-g", "mock", "x", env={"LLMCLI_CONFIG": str(tmp_path / "none.toml")})
    assert r.code == 78
    assert "no such config file" in r.err


def test_key_in_a_config_readable_by_others_is_warned_about(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    text = f'[gateways.a]\nbase_url = "{gw.base_url}"\nmodel = "echo"\napi_key = "{SECRET}"\n'
    path = tmp_path / "config.toml"
    r = llmcli("chat", "-g", "a", "x", env=write_config(tmp_path, text, 0o644))
    assert (r.code, r.out) == (0, b"x\n")
    assert r.err == (
        f"llmcli: warning: {path} holds an API key and others can read it: chmod 600 {path}\n"
    )
    assert gw.requests[-1].headers["authorization"] == f"Bearer {SECRET}"
    r = llmcli("chat", "-g", "a", "x", env=write_config(tmp_path, text, 0o600))
    assert r.err == ""


def test_precedence_flags_env_config_builtin(tmp_path: Path) -> None:
    env = write_config(
        tmp_path,
        'default_gateway = "a"\n'
        '[gateways.a]\nbase_url = "http://a.test/v1"\nmodel = "config-model"\n'
        '[gateways.b]\nbase_url = "http://b.test/v1"\n',
    )
    assert dry(env=env)["url"] == "http://a.test/v1/chat/completions"
    assert dry(env=env)["body"]["model"] == "config-model"
    assert dry(env={**env, "LLMCLI_MODEL": "env-model"})["body"]["model"] == "env-model"
    assert dry("-m", "flag", env={**env, "LLMCLI_MODEL": "env-model"})["body"]["model"] == "flag"
    both = {**env, "LLMCLI_GATEWAY": "b"}
    assert dry("-m", "m", env=both)["url"] == "http://b.test/v1/chat/completions"
    assert dry("-g", "a", env=both)["url"] == "http://a.test/v1/chat/completions"
    moved = {**env, "LLMCLI_BASE_URL": "http://env.test/v1"}
    assert dry("-m", "m", env=moved)["url"] == "http://env.test/v1/chat/completions"
    assert dry("-m", "m", "--base-url", "http://flag.test/v1", env=moved)["url"] == (
        "http://flag.test/v1/chat/completions"
    )


def test_openai_ecosystem_variables() -> None:
    sent = dry("-m", "m", env={"OPENAI_BASE_URL": "http://proxy.test/v1", "OPENAI_API_KEY": "k"})
    assert sent["url"] == "http://proxy.test/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer ***"
    sent = dry("-g", "openai", env={"OPENAI_API_KEY": "k"})
    assert sent["url"] == "https://api.openai.com/v1/chat/completions"


def test_gateways_lists_every_gateway_without_keys(tmp_path: Path) -> None:
    env = write_config(
        tmp_path, '[gateways.work]\nbase_url = "http://w.test/v1"\napi_key_env = "W"\n'
    )
    r = llmcli("gateways", "-o", "json", env={**env, "LUMENFALL_API_KEY": SECRET, "W": SECRET})
    assert r.code == 0
    assert SECRET not in r.text
    rows = {row["name"]: row for row in orjson.loads(r.out)}
    assert set(rows) == {*BUILTINS, "work"}
    assert rows["lumiltc"]["urls"] == {"chat": "https://ai.lumiltc.dev/api.php"}
    assert rows["lumiltc"]["auth"] == "none"
    assert rows["lumenfall"]["key"] == {"source": "env:LUMENFALL_API_KEY", "set": True}
    assert rows["llmbase"]["key"] == {"source": "env:LLMBASE_API_KEY", "set": False}
    assert rows["anthropic"]["auth"] == "x-api-key"
    assert rows["lumyxai"]["urls"]["messages"] == "https://lumyx-ai.site/api/v1/messages"
    assert rows["work"]["urls"]["chat"] == "http://w.test/v1/chat/completions"
    assert rows["work"]["key"] == {"source": "env:W", "set": True}
    assert rows["work"]["from"] == str(tmp_path / "config.toml")
    text = llmcli("gateways", env=env)
    assert text.code == 0
    assert text.text.splitlines()[0].split() == ["NAME", "URL", "AUTH", "KEY", "MODEL"]
    assert any(line.startswith("work ") for line in text.text.splitlines())


def test_gateway_without_an_endpoint_fails_before_sending(tmp_path: Path) -> None:
    env = write_config(
        tmp_path, '[gateways.a]\nbase_url = "http://a.test/v1"\nendpoints = ["models"]\n'
    )
    r = llmcli("chat", "-g", "a", "-m", "m", "x", env=env)
    assert r.code == 78
    assert r.err == "llmcli: gateway 'a' has no chat endpoint (it offers: models)\n"


def test_the_readme_config_example_works(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    env = write_config(tmp_path, example)
    r = llmcli("gateways", "-o", "json", env=env)
    assert r.code == 0, r.err
    rows = {row["name"]: row for row in orjson.loads(r.out)}
    assert rows["work"]["urls"]["chat"] == "http://127.0.0.1:8080/v1/chat/completions"
    assert rows["lumenfall"]["model"] == "openai/gpt-5.4"
    assert rows["team"]["urls"]["chat"] == "https://openrouter.ai/api/v1/chat/completions"
    sent = dry("-m", "m", env=env)
    assert sent["url"] == "http://127.0.0.1:8080/v1/chat/completions"


def test_config_params_are_below_every_batch_row(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    """A gateway's default params go under a batch row's body as under chat's: the
    row's own fields win."""
    env = write_config(
        tmp_path,
        f'[gateways.t]\nbase_url = "{gw.base_url}"\nmodel = "echo"\n'
        "params = {temperature = 0.2, seed = 7}\n",
    )
    row = {"custom_id": "b", "body": {"messages": [{"role": "user", "content": "x"}], "seed": 1}}
    rows = b"hi\n" + orjson.dumps(row) + b"\n"
    r = llmcli("batch", "run", "-g", "t", stdin=rows, env=env)
    assert r.code == 0, r.err
    sent = sorted((orjson.loads(q.body) for q in gw.requests), key=lambda b: b["seed"])
    assert [(b["temperature"], b["seed"], b["model"]) for b in sent] == [
        (0.2, 1, "echo"),
        (0.2, 7, "echo"),
    ]
