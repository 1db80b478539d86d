"""What a newcomer hit walking through the README (issue 14, items 3 and 4): each one
fails on the code before the fix."""

from __future__ import annotations

import orjson
from conftest import llmcli

from llmcli import mock as offline


def test_a_mistyped_option_suggests_only_the_close_one() -> None:
    r = llmcli("chat", "--modle", "x", "hi")
    assert (r.code, r.out) == (2, b"")
    assert r.err == (
        "llmcli: No such option '--modle'. Did you mean '--model'? (see 'llmcli chat --help')\n"
    )


def test_an_option_missing_its_value_points_at_the_commands_help() -> None:
    r = llmcli("chat", "hi", "-m")
    assert (r.code, r.err) == (
        2,
        "llmcli: Option '-m' requires an argument (see 'llmcli chat --help')\n",
    )
    r = llmcli("batch", "run", "-P")
    assert r.err == "llmcli: Option '-P' requires an argument (see 'llmcli batch run --help')\n"


def test_embed_on_a_gateway_without_embeddings_says_so_before_asking_for_a_model() -> None:
    r = llmcli("embed", "-g", "lumiltc", "hi")
    assert (r.code, r.out) == (78, b"")
    assert r.err == "llmcli: gateway 'lumiltc' has no embeddings endpoint (it offers: chat)\n"


def test_the_mock_reasoning_counts_one_word_in_the_singular(url: str) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "think", "--reasoning", "hi")
    assert (r.code, r.out) == (0, b"hi\n")
    assert r.err == "The user wrote 1 word. I will repeat it back.\n"


def test_ecosystem_base_url_variables_move_the_gateway_in_the_listing() -> None:
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/proxy/v1", "ANTHROPIC_BASE_URL": "http://a:1/v1"}
    r = llmcli("gateways", "-o", "jsonl", env=env)
    rows = {row["name"]: row for row in map(orjson.loads, r.out.splitlines())}
    assert rows["openai"]["base_url"] == "http://127.0.0.1:9/proxy/v1"
    assert rows["openai"]["urls"]["chat"] == "http://127.0.0.1:9/proxy/v1/chat/completions"
    assert rows["anthropic"]["urls"]["messages"] == "http://a:1/v1/messages"
    assert rows["openrouter"]["base_url"] == "https://openrouter.ai/api/v1"


def test_base_url_with_a_named_gateway_and_no_key_sends_no_auth(gw: offline.RunningGateway) -> None:
    r = llmcli("chat", "-g", "openai", "--base-url", gw.base_url, "-m", "echo", "hi")
    assert (r.code, r.out, r.err) == (0, b"hi\n", "")
    assert "authorization" not in gw.requests[0].headers


def test_a_base_url_server_is_named_by_its_host() -> None:
    r = llmcli("chat", "--base-url", "http://user:pw@127.0.0.1:9/v1", "-m", "m", "hi")
    assert r.code == 69
    assert r.err.startswith("llmcli: cannot connect to 127.0.0.1:9: ")
    assert ":pw@" not in r.err and "(POST http://user:***@127.0.0.1:9/v1/chat/completions)" in r.err


def test_a_401_when_no_key_was_sent_says_so_and_where_one_comes_from() -> None:
    with offline.start("lumyxai") as gw:
        r = llmcli("chat", "-g", "lumyxai", "--base-url", gw.base_url, "-m", "lumyx-plus_v1", "hi")
        assert (r.code, r.out) == (77, b"")
        assert r.err == (
            "llmcli: 401 Unauthorized from lumyxai: missing or malformed Authorization: Bearer "
            "header [authentication_error, invalid_api_key]; no key was sent: set "
            "$LLMCLI_API_KEY or $LUMYXAI_API_KEY (`llmcli gateways` shows each gateway's) "
            f"(POST {gw.base_url}/chat/completions)\n"
        )
        keyed = llmcli(
            "chat", "-g", "lumyxai", "--base-url", gw.base_url, "-m", "lumyx-plus_v1", "hi",
            env={"LUMYXAI_API_KEY": "lx-ok"},
        )  # fmt: skip
        assert (keyed.code, keyed.out) == (0, b"hi\n")


# issue 26, item 5 ---------------------------------------------------------------------------


def test_a_mistyped_gateway_suggests_the_close_one() -> None:
    r = llmcli("chat", "-g", "mokc", "hi")
    assert (r.code, r.out) == (78, b"")
    assert r.err.startswith("llmcli: unknown gateway 'mokc' (did you mean 'mock'?) (known: ")


def test_with_nothing_configured_the_missing_key_says_how_to_try_it_offline(
    tmp_path: object,
) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    r = llmcli("chat", "hi", env=env)
    assert (r.code, r.out) == (78, b"")
    assert r.err == (
        "llmcli: no API key for gateway 'openai': set LLMCLI_API_KEY or OPENAI_API_KEY; "
        "or try llmcli offline first: -g mock\n"
    )
    named = llmcli("chat", "-g", "openai", "hi", env=env)  # a gateway chosen: no hint
    assert named.err == (
        "llmcli: no API key for gateway 'openai': set LLMCLI_API_KEY or OPENAI_API_KEY\n"
    )


def test_gateways_refuses_sse_as_models_does() -> None:
    r = llmcli("gateways", "-o", "sse")
    assert (r.code, r.out, r.err) == (
        2,
        b"",
        "llmcli: -o sse needs a stream; gateways is not one\n",
    )


def test_a_base_url_without_its_version_prefix_is_told_to_add_it(url: str) -> None:
    bare = url.removesuffix("/v1")
    r = llmcli("chat", "--base-url", bare, "-m", "echo", "hi")
    assert (r.code, r.out) == (65, b"")
    assert "; a base URL includes its version prefix: try --base-url …/v1 (POST " in r.err
    right = llmcli("chat", "--base-url", url, "-m", "nope-model", "hi")  # a 404 of its own
    assert right.code == 65 and "version prefix" not in right.err


def test_stream_usage_says_when_the_server_sent_none(url: str) -> None:
    r = llmcli(
        "stream", "--base-url", url, "-m", "echo", "--usage",
        "-p", "stream_options.include_usage=false", "hi",
    )  # fmt: skip
    assert (r.code, r.out) == (0, b"hi\n")
    line = orjson.loads(r.err)
    assert (line["usage"], line["note"]) == (None, "the server sent no usage")
    sent = llmcli("stream", "--base-url", url, "-m", "echo", "--usage", "hi")
    assert "note" not in orjson.loads(sent.err)


def test_an_error_repeated_on_each_retry_is_shown_once_and_counted() -> None:
    with offline.start(faults="status=503") as failing:
        r = llmcli("chat", "--base-url", failing.base_url, "-m", "echo", "hi")
    host = failing.base_url.split("/")[2]
    said = (
        f"503 Service Unavailable from {host}: service unavailable "
        "[server_error, service_unavailable]"
    )
    lines = r.err.splitlines()
    assert r.code == 69
    assert lines[0].startswith(f"llmcli: {said}; retry 1/2 in ")
    assert lines[1].startswith("llmcli: the same again; retry 2/2 in ")
    assert lines[2] == (
        f"llmcli: {said}; 3 attempts, each the same (POST {failing.base_url}/chat/completions)"
    )
    assert len(lines) == 3
