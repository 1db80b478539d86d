"""Each seed gateway through its built-in entry, against the offline profile for it.

``-g NAME --base-url <offline profile>`` keeps everything the built-in says (auth, key
variable, model, paths, reasoning style) and only moves the host, so these runs exercise
exactly what a user of that gateway sends.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from conftest import SECRET, llmcli

from llmcli import mock as offline

SEEDS = {
    # name: (documented URL, key variable)
    "lumiltc": ("https://ai.lumiltc.dev/api.php", None),
    "lumenfall": ("https://api.lumenfall.ai/openai/v1/chat/completions", "LUMENFALL_API_KEY"),
    "lumyx": ("https://api.lumyx-ai.site/v1/chat/completions", "LUMYX_API_KEY"),
    "llmbase": ("https://api.llmbase.ai/v1/chat/completions", "LLMBASE_API_KEY"),
    "lumyxai": ("https://lumyx-ai.site/api/v1/chat/completions", "LUMYXAI_API_KEY"),
}
MODELS = {
    "lumiltc": "z-ai/glm5",
    "lumenfall": "google/gemini-3-flash-preview",
    "lumyx": "nova_1_1",
    "llmbase": "zai-org/glm-5",
    "lumyxai": "lumyx-plus_v1",
}


@pytest.fixture(scope="module")
def seeds() -> Iterator[dict[str, offline.RunningGateway]]:
    running = {name: offline.start(name) for name in SEEDS}
    yield running
    for gateway in running.values():
        gateway.stop()


def run(
    seeds: dict[str, offline.RunningGateway],
    name: str,
    *args: str,
    key: str = SECRET,
    command: str = "chat",
):
    var = SEEDS[name][1]
    env = {var: key} if var else {"LLMCLI_API_KEY": key}
    return llmcli(command, "-g", name, "--base-url", seeds[name].base_url, *args, env=env)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_dry_run_shows_the_documented_url_and_auth(name: str) -> None:
    url, var = SEEDS[name]
    r = llmcli("chat", "-g", name, "--dry-run", "hi", env={var: SECRET} if var else {})
    assert r.code == 0, r.err
    request = orjson.loads(r.out)
    assert request["url"] == url
    assert request["body"]["model"] == MODELS[name]
    if var:
        assert request["headers"]["Authorization"] == "Bearer ***"
    else:
        assert "Authorization" not in request["headers"]
    assert SECRET not in r.text


@pytest.mark.parametrize("name", sorted(SEEDS))
@pytest.mark.parametrize("command", ["chat", "stream"])
def test_chat_and_stream_end_to_end(seeds, name: str, command: str) -> None:
    r = run(seeds, name, "hello there", command=command)
    assert (r.code, r.out, r.err) == (0, b"hello there\n", "")
    sent = seeds[name].requests[-1]
    if SEEDS[name][1]:
        assert sent.headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_stream_json_equals_chat_json(seeds, name: str) -> None:
    whole = orjson.loads(run(seeds, name, "-o", "json", "x y").out)
    streamed = orjson.loads(run(seeds, name, "-o", "json", "x y", command="stream").out)
    assert streamed == whole


# seed 000 -------------------------------------------------------------------------------


def test_lumiltc_sends_no_auth_header_even_with_a_key(seeds) -> None:
    r = run(seeds, "lumiltc", "hi")
    assert r.code == 0
    assert "authorization" not in seeds["lumiltc"].requests[-1].headers
    assert seeds["lumiltc"].requests[-1].path == "/api.php"


def test_lumiltc_thinking_maps_to_chat_template_kwargs(seeds) -> None:
    r = run(
        seeds,
        "lumiltc",
        "--thinking",
        "-p",
        "chat_template_kwargs.clear_thinking=false",
        "--reasoning",
        "two words",
    )
    assert (r.code, r.out) == (0, b"two words\n")
    assert r.err.strip()  # the reasoning, on stderr
    body = orjson.loads(seeds["lumiltc"].requests[-1].body)
    assert body["chat_template_kwargs"] == {"enable_thinking": True, "clear_thinking": False}
    r = run(seeds, "lumiltc", "--no-thinking", "--reasoning", "two words")
    assert (r.code, r.out, r.err) == (0, b"two words\n", "")
    body = orjson.loads(seeds["lumiltc"].requests[-1].body)
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


# seed 001 -------------------------------------------------------------------------------


def test_lumenfall_passes_unknown_parameters_and_openrouter_prefix_untouched(seeds) -> None:
    r = run(
        seeds,
        "lumenfall",
        "-m",
        "openrouter/google/gemini-3-flash-preview",
        "-p",
        'provider.order=["a", "b"]',
        "-p",
        "transforms=[]",
        "-o",
        "json",
        "hi",
    )
    assert r.code == 0, r.err
    body = orjson.loads(seeds["lumenfall"].requests[-1].body)
    assert body["model"] == "openrouter/google/gemini-3-flash-preview"
    assert body["provider"] == {"order": ["a", "b"]}
    assert body["transforms"] == []
    assert orjson.loads(r.out)["model"] == "google/gemini-3-flash-preview"


def test_lumenfall_reasoning_effort_uses_the_openrouter_object(seeds) -> None:
    r = run(seeds, "lumenfall", "--dry-run", "--reasoning-effort", "low", "hi")
    assert orjson.loads(r.out)["body"]["reasoning"] == {"effort": "low"}
    assert "reasoning_effort" not in orjson.loads(r.out)["body"]


# seed 002 -------------------------------------------------------------------------------


def test_lumyx_empty_balance_is_402_exit_77(seeds) -> None:
    r = run(seeds, "lumyx", "hi", key="nova_empty_balance")
    assert r.code == 77
    assert r.err == (
        "llmcli: 402 Payment Required from lumyx: Insufficient balance [insufficient_balance] "
        f"(POST {seeds['lumyx'].base_url}/chat/completions)\n"
    )
    assert "nova_empty_balance" not in r.err


def test_lumyx_reasoning_object_conversation_and_memory(seeds) -> None:
    r = run(
        seeds,
        "lumyx",
        "--dry-run",
        "--reasoning-effort",
        "xhigh",
        "--reasoning-budget",
        "8000",
        "--reasoning-exclude",
        "--reasoning-enabled",
        "--max-completion-tokens",
        "900",
        "--conversation-id",
        "c0ffee00-0000-4000-8000-000000000000",
        "--memory",
        "-p",
        "reasoning_effort=low",
        "hi",
    )
    body = orjson.loads(r.out)["body"]
    assert body["reasoning"] == {
        "effort": "xhigh",
        "max_tokens": 8000,
        "enabled": True,
        "exclude": True,
    }
    assert body["reasoning_effort"] == "low"  # the deprecated form, reachable with -p
    assert body["max_completion_tokens"] == 900
    assert body["conversation_id"] == "c0ffee00-0000-4000-8000-000000000000"
    assert body["memory"] is True


@pytest.mark.parametrize("command", ["chat", "stream"])
def test_lumyx_usage_shows_context_left_and_total(seeds, command: str) -> None:
    r = run(seeds, "lumyx", "--usage", "one two", command=command)
    assert r.code == 0
    line = orjson.loads(r.err)
    assert line["context_total"] == 2000000
    assert line["context_left"] == 2000000 - line["usage"]["total_tokens"]


@pytest.mark.parametrize("command", ["chat", "stream"])
def test_lumyx_keeps_all_three_reasoning_fields(seeds, command: str) -> None:
    r = run(seeds, "lumyx", "-m", "nova_2_0", "-o", "json", "two words", command=command)
    message = orjson.loads(r.out)["choices"][0]["message"]
    assert message["reasoning"] == message["reasoning_content"] != ""
    assert message["reasoning_details"] == [
        {"type": "reasoning.text", "text": message["reasoning"]}
    ]


# seed 003 -------------------------------------------------------------------------------


def test_llmbase_unknown_model_hints_at_llmcli_models(seeds) -> None:
    r = run(seeds, "llmbase", "-m", "unknown/model", "hi")
    assert r.code == 65
    assert r.err == (
        "llmcli: 404 Not Found from llmbase: Model not found: unknown/model "
        "[invalid_request_error]; `llmcli models -g llmbase` lists the models "
        f"(POST {seeds['llmbase'].base_url}/chat/completions)\n"
    )


def test_llmbase_502_is_retried_with_backoff(seeds) -> None:
    r = run(seeds, "llmbase", "-H", "X-Mock-Fault: status=502;times=1", "hi")
    assert (r.code, r.out) == (0, b"hi\n")
    assert r.err.startswith("llmcli: 502 Bad Gateway from llmbase: All upstream providers failed")
    assert "retry 1/2 in " in r.err


def test_llmbase_usage_comes_from_the_final_chunk(seeds) -> None:
    r = run(seeds, "llmbase", "--usage", "-o", "jsonl", "a b c", command="stream")
    chunks = [orjson.loads(line) for line in r.out.splitlines()]
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert orjson.loads(r.err)["usage"] == chunks[-1]["usage"]


# seed 004 -------------------------------------------------------------------------------


def test_lumyxai_error_code_is_in_the_message(seeds) -> None:
    r = run(seeds, "lumyxai", "-H", "X-Mock-Fault: status=401", "hi")
    assert r.code == 77
    assert "[authentication_error, invalid_api_key]" in r.err


def test_lumyxai_rate_limit_headers_reported_when_429_outlasts_retries(seeds) -> None:
    r = run(
        seeds,
        "lumyxai",
        "--retries",
        "0",
        "-H",
        "X-Mock-Fault: status=429;retry_after=3;reset=3600",
        "hi",
    )
    assert r.code == 75
    assert r.err.startswith("llmcli: 429 Too Many Requests from lumyxai: ")
    assert "; retry after 3s; 0 of 60 requests left, resets in 3600s (POST " in r.err


# keys and redirects ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lumenfall", "lumyxai"])
def test_missing_key_names_the_variable(name: str) -> None:
    r = llmcli("chat", "-g", name, "hi")
    assert r.code == 78
    assert r.err == (
        f"llmcli: no API key for gateway {name!r}: set LLMCLI_API_KEY or {SEEDS[name][1]}\n"
    )


def test_credentials_are_not_sent_on_a_redirect_to_another_host(
    gw: offline.RunningGateway,
) -> None:
    with offline.start() as other:
        gw.set_faults(f"redirect={other.base_url}/chat/completions")
        r = llmcli(
            "chat",
            "--base-url",
            gw.base_url,
            "-m",
            "echo",
            "-H",
            f"x-api-key: {SECRET}",
            "hi",
            env={"LLMCLI_API_KEY": SECRET},
        )
        assert (r.code, r.out) == (0, b"hi\n")
        assert gw.requests[0].headers["authorization"] == f"Bearer {SECRET}"
        assert "authorization" not in other.requests[0].headers
        assert "x-api-key" not in other.requests[0].headers


def test_llmbase_models_end_to_end(seeds) -> None:
    r = run(seeds, "llmbase", command="models")
    assert r.code == 0, r.err
    assert "zai-org/glm-5" in r.text.splitlines()
    assert seeds["llmbase"].requests[-1].path == "/v1/models"
