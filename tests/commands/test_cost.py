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


# estimates and caps ---------------------------------------------------------------------

DEAR = '[gateways.t.prices."echo"]\ninput = 1000000.0\noutput = 1000000.0\n'  # $1 a token


def priced(gw: offline.RunningGateway, tmp_path: Path) -> dict[str, str]:
    return write_config(tmp_path, f'[gateways.t]\nbase_url = "{gw.base_url}"\nmodel = "echo"\n'
                                  + DEAR)  # fmt: skip


def test_a_dry_run_estimates_tokens_and_the_cost_range(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    env = priced(gw, tmp_path)
    rows = b'one\ntwo three\n{"custom_id": "x", "body": {"messages": [{"role": "user", "content": "4"}], "max_tokens": 7}}\n'  # noqa: E501
    r = llmcli("batch", "run", "-g", "t", "--dry-run", "--max-tokens", "5", stdin=rows, env=env)
    assert r.code == 0, r.err
    estimate = orjson.loads(r.out)["estimate"]
    assert estimate["tokens_in_is"] == "an estimate: request bytes / 4"
    assert estimate["tokens_out_most"] == 5 + 5 + 7
    assert estimate["cost_source"] == "config"
    assert estimate["cost_usd_min"] == pytest.approx(estimate["tokens_in"] * 1.0)
    assert estimate["cost_usd_max"] == pytest.approx(estimate["tokens_in"] + 17.0)
    assert gw.requests == []  # nothing sent, no price list fetched
    unbounded = llmcli("batch", "run", "-g", "t", "--dry-run", stdin=b"one\n", env=env)
    estimate = orjson.loads(unbounded.out)["estimate"]
    assert (estimate["tokens_out_most"], estimate["rows_without_max_tokens"]) == (None, 1)
    assert estimate["cost_usd_max"] is None and estimate["cost_usd_min"] > 0


def test_a_run_stops_at_its_cap_and_resume_finishes(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    env = priced(gw, tmp_path)
    out = tmp_path / "out.jsonl"
    rows = b"".join(b"row %d\n" % i for i in range(6))
    args = ("batch", "run", "-g", "t", "-P", "1", "--max-tokens", "2", "-o", str(out))
    first = llmcli(*args, "--max-cost", "30", stdin=rows, env=env)
    assert first.code == 77, first.err
    written = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    sent = len(gw.requests)
    assert 1 <= len(written) == sent < 6
    spent = sum(
        (w["response"]["body"]["usage"]["prompt_tokens"]
         + w["response"]["body"]["usage"]["completion_tokens"]) * 1.0 for w in written
    )  # fmt: skip
    assert spent <= 30
    assert first.err.startswith(f"llmcli: --max-cost $30 reached: ${spent:g} spent, $0 in flight")
    rest = llmcli(*args, "--resume", "--max-cost", "1000", stdin=rows, env=env)
    assert rest.code == 0, rest.err
    ids = [orjson.loads(line)["custom_id"] for line in out.read_bytes().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 7)]
    assert len(gw.requests) == 6  # each row sent once


def test_a_single_request_over_its_cap_is_never_sent(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    env = priced(gw, tmp_path)
    over = llmcli("chat", "-g", "t", "--max-tokens", "10", "--max-cost", "5", "hi", env=env)
    assert over.code == 77
    assert over.err.startswith("llmcli: --max-cost $5 reached: $0 spent, $0 in flight, and the "
                               "next request could cost up to $")  # fmt: skip
    unbounded = llmcli("chat", "-g", "t", "--max-cost", "5", "hi", env=env)
    assert unbounded.code == 2
    assert gw.requests == []
    within = llmcli("responses", "-g", "t", "--max-output-tokens", "10", "--max-cost", "100",
                    "hi", env=env)  # fmt: skip
    assert (within.code, within.out) == (0, b"hi\n")
    unknown = llmcli("chat", "-g", "t", "-m", "think", "--max-tokens", "1", "--max-cost", "1",
                     "hi", env=env)  # fmt: skip
    assert unknown.code == 2
    assert unknown.err == (
        "llmcli: --max-cost $1: no price is known for model 'think' on t (set "
        '[gateways.NAME.prices."MODEL"] in the config file)\n'
    )


def test_the_gateways_own_cost_comes_first(gw: offline.RunningGateway, tmp_path: Path) -> None:
    """A cost the gateway reports beats every price: LiteLLM's header here, over config
    prices that would say otherwise."""
    env = priced(gw, tmp_path)
    r = llmcli("chat", "--usage", "-g", "t", "-H", "X-Mock-Fault: cost=0.0042", "hi", env=env)
    assert r.code == 0, r.err
    line = usage_line(r.err)
    assert (line["cost"], line["cost_source"]) == (0.0042, "gateway")
    streamed = llmcli("stream", "--usage", "-g", "t", "-H", "X-Mock-Fault: cost=0.5", "hi",
                      env=env)  # fmt: skip
    assert usage_line(streamed.err)["cost"] == 0.5


def test_openrouters_usage_cost(tmp_path: Path) -> None:
    env = {"OPENROUTER_API_KEY": "sk-or-test-0123456789", "XDG_CACHE_HOME": str(tmp_path)}
    with offline.start("openrouter") as router:
        args = ("--usage", "-g", "openrouter", "--base-url", router.base_url,
                "-m", "openai/gpt-4o-mini", "hello there")  # fmt: skip
        whole = llmcli("chat", *args, env=env)
        streamed = llmcli("stream", *args, env=env)
        listed = [q for q in router.requests if q.path.endswith("/models")]
    for r in (whole, streamed):
        assert r.code == 0, r.err
        line = usage_line(r.err)
        assert line["usage"]["cost"] == 1.5e-6
        assert (line["cost"], line["cost_source"]) == (1.5e-6, "gateway")
    assert listed == []  # the gateway said: no price list needed


def test_batch_usage_shows_what_the_run_cost(gw: offline.RunningGateway, tmp_path: Path) -> None:
    env = priced(gw, tmp_path)
    r = llmcli("batch", "run", "-g", "t", "--usage", stdin=b"one\ntwo three\n", env=env)
    assert r.code == 0, r.err
    rows = [orjson.loads(line) for line in r.out.splitlines()]
    tokens = sum(row["response"]["body"]["usage"]["total_tokens"] for row in rows)
    line = usage_line(r.err)
    assert (line["cost"], line["unpriced_rows"]) == (pytest.approx(tokens * 1.0), 0)
    unknown = llmcli("batch", "run", "-g", "t", "-m", "think", "--usage", stdin=b"one\n", env=env)
    assert (usage_line(unknown.err)["cost"], usage_line(unknown.err)["unpriced_rows"]) == (None, 1)


def test_a_submit_dry_run_estimates_at_the_batch_price(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    env = write_config(tmp_path, f'[gateways.t]\nbase_url = "{gw.base_url}"\nmodel = "echo"\n'
                                 f'batch_api = "openai"\n{DEAR}')  # fmt: skip
    r = llmcli("batch", "submit", "-", "-g", "t", "--dry-run", "--max-tokens", "4",
               stdin=b"one\ntwo\n", env=env)  # fmt: skip
    assert r.code == 0, r.err
    lines = [orjson.loads(line) for line in r.out.splitlines()]
    assert [line["status"] for line in lines] == ["planned"]  # one batch, its estimate in it
    estimate = lines[0]["estimate"]
    assert estimate["batch_discount"] == 0.5
    assert estimate["tokens_out_most"] == 8
    assert estimate["cost_usd_min"] == pytest.approx(estimate["tokens_in"] * 0.5)
    assert estimate["cost_usd_max"] == pytest.approx((estimate["tokens_in"] + 8) * 0.5)
    assert gw.requests == []


def test_reasoning_and_cached_tokens_at_their_own_rates(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    env = write_config(
        tmp_path,
        f'[gateways.t]\nbase_url = "{gw.base_url}"\nmodel = "think"\n'
        '[gateways.t.prices."think"]\ninput = 1.0\noutput = 2.0\ncached = 0.1\n'
        "reasoning = 10.0\n",
    )
    r = llmcli("responses", "--usage", "-g", "t", "two words", env=env)
    assert r.code == 0, r.err
    line = usage_line(r.err)
    usage = line["usage"]
    reasoning = usage["output_tokens_details"]["reasoning_tokens"]
    cached = usage["input_tokens_details"]["cached_tokens"]
    assert reasoning > 0
    expected_cost = (
        (usage["input_tokens"] - cached) * 1.0 + cached * 0.1
        + (usage["output_tokens"] - reasoning) * 2.0 + reasoning * 10.0
    ) / 1e6  # fmt: skip
    assert line["cost"] == pytest.approx(expected_cost)
    assert line["cost_source"] == "config"
