"""``--fallback GATEWAY[:MODEL]`` and ``fallback = [...]``: when a request fails before
any output with no connection, a 5xx or a 429 after its retries, the next gateway is
asked, with one line on stderr; never after output began, never for a 4xx the request
caused; the body moves (model, default params); unknown names are refused first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import Result, llmcli

from llmcli import mock as offline
from llmcli.cli.fallback import chain, falls_back, moved
from llmcli.config.gateway import Gateway
from llmcli.errors import (
    DataError,
    NotAllowedError,
    ProtocolError,
    ReplayMiss,
    TemporaryError,
    UnavailableError,
)


@pytest.fixture
def backup() -> Iterator[offline.RunningGateway]:
    with offline.start() as running:
        yield running


def config(tmp: Path, primary: str, backup: str, extra: str = "") -> Path:
    path = tmp / "config.toml"
    path.write_text(
        f"""
[gateways.primary]
base_url = "{primary}"
auth = "none"
params = {{ temperature = 0.25 }}
{extra}

[gateways.backup]
base_url = "{backup}"
auth = "none"
params = {{ top_p = 0.5 }}

[gateways.third]
base_url = "http://127.0.0.1:1/v1"
auth = "none"
"""
    )
    return path


def run(path: Path, *args: str) -> Result:
    return llmcli(
        "chat", "-g", "primary", "--retries", "0", *args, env={"LLMCLI_CONFIG": str(path)}
    )


def bodies(gw: offline.RunningGateway) -> list[dict[str, object]]:
    return [orjson.loads(r.body) for r in list(gw.requests) if r.method == "POST"]


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (
            "status=503",
            "503 Service Unavailable from {host}: service unavailable "
            "[server_error, service_unavailable]",
        ),
        (
            "status=429",
            "429 Too Many Requests from {host}: rate limit exceeded "
            "[rate_limit_error, rate_limit_exceeded]",
        ),
    ],
)
def test_a_5xx_or_429_before_any_output_asks_the_fallback(
    gw: offline.RunningGateway,
    backup: offline.RunningGateway,
    tmp_path: Path,
    fault: str,
    said: str,
) -> None:
    gw.set_faults(fault)
    path = config(tmp_path, gw.base_url, backup.base_url)
    result = run(path, "-m", "echo", "--fallback", "backup", "hello")
    assert (result.code, result.out) == (0, b"hello\n")
    assert result.err == (
        f"llmcli: {said.format(host='primary')} (POST {gw.base_url}/chat/completions); "
        "trying the fallback backup\n"
    )
    assert len(bodies(backup)) == 1


def test_no_connection_asks_the_fallback_and_the_body_moves(
    backup: offline.RunningGateway, tmp_path: Path
) -> None:
    path = config(tmp_path, "http://127.0.0.1:1/v1", backup.base_url)
    result = run(path, "-m", "echo", "--fallback", "backup:lorem", "--max-tokens", "3", "hi")
    assert result.code == 0, result.err
    assert result.out == b"lorem ipsum dolor\n"
    assert result.err.startswith("llmcli: cannot connect to primary: ")
    assert result.err.endswith("; trying the fallback backup:lorem\n")
    (sent,) = bodies(backup)
    assert sent["model"] == "lorem"  # the fallback's model
    assert sent["top_p"] == 0.5 and "temperature" not in sent  # its params, not primary's
    assert sent["max_tokens"] == 3  # the flags' stay


def test_the_fallbacks_are_tried_in_order_and_the_last_error_is_the_runs(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    gw.set_faults("status=500")
    path = config(tmp_path, gw.base_url, gw.base_url)  # backup fails as primary does
    result = run(path, "-m", "echo", "--fallback", "backup", "--fallback", "third", "hi")
    assert result.code == 69
    lines = result.err.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("; trying the fallback backup")
    assert lines[1].endswith("; trying the fallback third")
    assert lines[2].startswith("llmcli: cannot connect to third: ")


def test_the_config_names_fallbacks_and_a_flag_replaces_them(
    gw: offline.RunningGateway, backup: offline.RunningGateway, tmp_path: Path
) -> None:
    gw.set_faults("status=502")
    path = config(tmp_path, gw.base_url, backup.base_url, 'fallback = ["backup:echo"]')
    result = run(path, "-m", "nope", "hi")
    assert (result.code, result.out) == (0, b"hi\n")
    assert result.err.endswith("; trying the fallback backup:echo\n")
    flagged = run(path, "-m", "echo", "--fallback", "third", "hi")
    assert flagged.code == 69 and len(bodies(backup)) == 1


@pytest.mark.parametrize(
    ("fault", "code"),
    [("status=400", 65), ("status=404", 65), ("status=401", 77), ("cut=2", 76)],
)
def test_no_fallback_for_what_the_request_caused_or_after_output_began(
    gw: offline.RunningGateway,
    backup: offline.RunningGateway,
    tmp_path: Path,
    fault: str,
    code: int,
) -> None:
    gw.set_faults(fault)
    path = config(tmp_path, gw.base_url, backup.base_url)
    result = llmcli(
        "stream",
        "-g",
        "primary",
        "-m",
        "lorem",
        "--max-tokens",
        "20",
        "--retries",
        "0",
        "--fallback",
        "backup",
        "hi",
        env={"LLMCLI_CONFIG": str(path)},
    )
    assert result.code == code
    assert "fallback" not in result.err
    assert bodies(backup) == []


def test_an_unknown_fallback_is_refused_before_anything_is_sent(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    path = config(tmp_path, gw.base_url, gw.base_url)
    result = run(path, "-m", "echo", "--fallback", "bakup", "hi")
    assert result.code == 78
    assert result.err.startswith("llmcli: unknown gateway 'bakup' (did you mean 'backup'?)")
    assert bodies(gw) == []


def test_a_fallback_in_the_config_must_name_a_gateway(tmp_path: Path) -> None:
    path = config(tmp_path, "http://127.0.0.1:1/v1", "http://127.0.0.1:1/v1", "fallback = 3")
    result = run(path, "-m", "echo", "hi")
    assert result.code == 78
    assert result.err == (
        f"llmcli: {path}:2: [gateways.primary]: fallback must be an array of "
        '"GATEWAY[:MODEL]" strings, not an integer\n'
    )


# the decisions, directly ------------------------------------------------------------------


def test_chain_reads_flags_or_the_config_and_keeps_colons_of_models() -> None:
    gateway = Gateway("a", fallback=("b", "c:llama3:8b"))
    assert chain(None, gateway) == [("b", None), ("c", "llama3:8b")]
    assert chain(["d:m", "a", " "], gateway) == [("d", "m")]  # never itself


def test_falls_back_on_no_connection_5xx_and_429_only() -> None:
    def status(kind: type[Exception], code: int | None) -> Exception:
        error = kind("x")
        error.status = code  # type: ignore[attr-defined]
        return error

    assert falls_back(UnavailableError("no connection"))
    assert falls_back(status(UnavailableError, 503))  # type: ignore[arg-type]
    assert falls_back(status(TemporaryError, 429))  # type: ignore[arg-type]
    assert not falls_back(TemporaryError("timed out"))
    assert not falls_back(status(DataError, 400))  # type: ignore[arg-type]
    assert not falls_back(status(NotAllowedError, 401))  # type: ignore[arg-type]
    assert not falls_back(ProtocolError("cut"))
    assert not falls_back(ReplayMiss("no recording"))


def test_moved_swaps_default_params_and_model() -> None:
    first = Gateway("a", params={"temperature": 0.2, "seed": 1}, model="m1")
    then = Gateway("b", params={"top_p": 0.9}, model="m2")
    body = {"model": "m1", "temperature": 0.2, "seed": 7, "messages": []}
    assert moved(body, first, then, None) == {
        "top_p": 0.9,
        "seed": 7,
        "messages": [],
        "model": "m2",
    }
    assert moved(body, first, then, "m3")["model"] == "m3"
    assert moved(body, first, Gateway("c"), None)["model"] == "m1"


def test_a_credential_header_is_not_sent_to_a_fallback(
    gw: offline.RunningGateway, backup: offline.RunningGateway, tmp_path: Path
) -> None:
    gw.set_faults("status=503")
    path = config(tmp_path, gw.base_url, backup.base_url)
    secret = "Bearer sk-internal-only-123456"
    result = run(
        path,
        "-m",
        "echo",
        "-H",
        f"Authorization: {secret}",
        "-H",
        "X-Team: blue",
        "--fallback",
        "backup",
        "hi",
    )
    assert (result.code, result.out) == (0, b"hi\n")
    (asked,) = [r for r in list(backup.requests) if r.method == "POST"]
    headers = {k.lower(): v for k, v in asked.headers.items()}
    assert "authorization" not in headers and headers["x-team"] == "blue"


def test_no_fallback_once_a_step_of_a_tool_loop_was_answered(
    gw: offline.RunningGateway, backup: offline.RunningGateway, tmp_path: Path
) -> None:
    gw.set_faults("status=503;every=2")  # the second request fails
    schema = tmp_path / "now.json"
    schema.write_text('{"type": "object", "properties": {}}')
    path = config(tmp_path, gw.base_url, backup.base_url)
    result = run(
        path,
        "-m",
        "tools",
        "--tool",
        f"now={schema}",
        "--tool-cmd",
        "now=echo 12:00",
        "--approve",
        "all",
        "--fallback",
        "backup",
        "what time is it?",
    )
    assert result.code == 69, result.err
    assert "fallback" not in result.err
    assert bodies(backup) == []
