"""What a run costs, end to end: the ``cost`` and ``cost_source`` of ``--usage`` from
every price source, in their order, with the model list cached, expired and refreshed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import llmcli

from llmcli import mock as offline

KEY = {"LUMYXAI_API_KEY": "lx-test-key-0123456789"}


def usage_line(err: str) -> dict[str, Any]:
    lines = [line for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == 1, err
    line: dict[str, Any] = orjson.loads(lines[0])
    return line


def expected(usage: dict[str, Any], rate_in: float, rate_out: float) -> float:
    given_in = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    given_out = usage.get("completion_tokens", usage.get("output_tokens", 0))
    return (given_in * rate_in + given_out * rate_out) / 1e6


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    os.chmod(path, 0o600)
    return {"LLMCLI_CONFIG": str(path), "XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def lumyxai() -> Any:
    with offline.start("lumyxai") as running:
        yield running


def test_no_price_known_is_null_never_a_guess(url: str, tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    r = llmcli("chat", "--usage", "--base-url", url, "-m", "echo", "hello there", env=env)
    assert (r.code, r.out) == (0, b"hello there\n")
    line = usage_line(r.err)
    assert line["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    assert (line["cost"], line["cost_source"]) == (None, "unknown")


def test_config_prices(gw: offline.RunningGateway, tmp_path: Path) -> None:
    env = write_config(
        tmp_path,
        f'[gateways.t]\nbase_url = "{gw.base_url}"\nmodel = "think"\n'
        '[gateways.t.prices."think"]\ninput = 2.0\noutput = 8.0\ncached = 0.5\n',
    )
    for command in (("chat",), ("stream",), ("messages",), ("responses", "--stream")):
        r = llmcli(*command, "--usage", "-g", "t", "two words", env=env)
        assert r.code == 0, r.err
        line = usage_line(r.err)
        assert line["cost_source"] == "config", command
        assert line["cost"] == pytest.approx(expected(line["usage"], 2.0, 8.0)), command
    assert not any(q.path.endswith("/models") for q in gw.requests)  # no list needed


def test_model_list_prices_are_fetched_once_and_cached_for_a_day(
    lumyxai: offline.RunningGateway, tmp_path: Path
) -> None:
    env = {**KEY, "XDG_CACHE_HOME": str(tmp_path)}
    args = ("chat", "--usage", "-g", "lumyxai", "--base-url", lumyxai.base_url,
            "-m", "lumyx-think_v1", "two words")  # fmt: skip

    def lists() -> int:
        return sum(q.path.endswith("/models") for q in lumyxai.requests)

    first = llmcli(*args, env=env)
    assert first.code == 0, first.err
    line = usage_line(first.err)
    assert line["cost_source"] == "models"
    assert line["cost"] == pytest.approx(expected(line["usage"], 2.0, 8.0))
    cached = tmp_path / "llmcli" / "prices" / "lumyxai.json"
    saved = orjson.loads(cached.read_bytes())
    assert saved["base_url"] == lumyxai.base_url
    assert saved["prices"]["lumyx-think_v1"] == {
        "input": 2.0, "output": 8.0, "cached": None, "reasoning": None}  # fmt: skip
    assert lists() == 1
    assert usage_line(llmcli(*args, env=env).err)["cost_source"] == "models"
    assert lists() == 1  # from the cache
    saved["fetched_at"] -= 24 * 3600 + 1  # a day old: fetched again
    cached.write_bytes(orjson.dumps(saved))
    assert usage_line(llmcli(*args, env=env).err)["cost_source"] == "models"
    assert lists() == 2
    assert llmcli(*args, "--refresh-prices", env=env).code == 0
    assert lists() == 3
    cached.write_bytes(b"{not json")  # a broken cache is fetched again, never an error
    assert usage_line(llmcli(*args, env=env).err)["cost_source"] == "models"
    assert lists() == 4


def test_config_prices_come_before_the_model_list(
    lumyxai: offline.RunningGateway, tmp_path: Path
) -> None:
    env = {**KEY, **write_config(
        tmp_path,
        f'[gateways.l]\nextends = "lumyxai"\nbase_url = "{lumyxai.base_url}"\n'
        '[gateways.l.prices."lumyx-think_v1"]\ninput = 1.0\noutput = 1.0\n',
    )}  # fmt: skip
    r = llmcli("chat", "--usage", "-g", "l", "-m", "lumyx-think_v1", "two words", env=env)
    line = usage_line(r.err)
    assert line["cost_source"] == "config"
    assert line["cost"] == pytest.approx(expected(line["usage"], 1.0, 1.0))


def test_embed_usage_is_priced(lumyxai: offline.RunningGateway, tmp_path: Path) -> None:
    env = {**KEY, "XDG_CACHE_HOME": str(tmp_path)}
    r = llmcli("embed", "--usage", "-g", "lumyxai", "--base-url", lumyxai.base_url,
               "-m", "lumyx-embed_v1", "a", "b c", env=env)  # fmt: skip
    assert r.code == 0, r.err
    line = usage_line(r.err)
    assert line["cost_source"] == "models"
    assert line["cost"] == pytest.approx(line["usage"]["prompt_tokens"] * 0.02 / 1e6)


def test_a_bad_price_table_is_a_config_error(tmp_path: Path) -> None:
    env = write_config(
        tmp_path,
        '[gateways.t]\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[gateways.t.prices."m"]\ninput = "cheap"\noutput = 1\n',
    )
    r = llmcli("chat", "--dry-run", "-g", "t", "-m", "m", "hi", env=env)
    assert r.code == 78
    assert r.err.endswith(
        "[gateways.t]: prices.m.input must be a number of USD per million tokens, not a string\n"
    )
    env = write_config(tmp_path, '[gateways.t]\nbase_url = "http://127.0.0.1:9/v1"\n'
                                 '[gateways.t.prices."a.b"]\ninput = 1\n')  # fmt: skip
    r = llmcli("chat", "--dry-run", "-g", "t", "-m", "m", "hi", env=env)
    assert r.code == 78
    assert r.err.endswith('[gateways.t]: prices."a.b" needs output (USD per million tokens)\n')
