"""llmcli.batch.lines, results and limits: pure, tested directly."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcli.batch import results
from llmcli.batch.limits import Bucket
from llmcli.batch.lines import Defaults, Row, parse, shard_of

DEFAULTS = Defaults(model="m", system="S", params=[(["seed"], 1)], options={"max_tokens": 5})


def test_a_prompt_line_is_a_chat_body_with_the_defaults() -> None:
    assert parse("hello there\n", 3, DEFAULTS) == Row(
        3,
        "3",
        "chat",
        {
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "hello there"},
            ],
            "max_tokens": 5,
            "seed": 1,
            "model": "m",
        },
    )


def test_the_row_wins_over_the_defaults_and_streams_are_dropped() -> None:
    line = orjson.dumps(
        {
            "custom_id": "a",
            "body": {
                "model": "x",
                "max_tokens": 9,
                "seed": {"nested": True},
                "stream": True,
                "stream_options": {"include_usage": True},
                "messages": [
                    {"role": "system", "content": "mine"},
                    {"role": "user", "content": "q"},
                ],
            },
        }
    ).decode()
    row = parse(line, 1, DEFAULTS)
    assert row is not None and row.problem is None
    assert row.body == {
        "model": "x",
        "max_tokens": 9,
        "seed": {"nested": True},
        "messages": [{"role": "system", "content": "mine"}, {"role": "user", "content": "q"}],
    }


@pytest.mark.parametrize(
    ("line", "endpoint"),
    [
        ('{"custom_id": "c", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": [{"role": "user", "content": "x"}]}}', "chat"),  # noqa: E501
        ('{"custom_id": "c", "url": "/v1/embeddings", "body": {"input": "x"}}', "embeddings"),
        ('{"custom_id": "c", "url": "/v1/messages", "body": {"messages": [{"role": "user", "content": "x"}]}}', "messages"),  # noqa: E501
        ('{"custom_id": "c", "params": {"messages": [{"role": "user", "content": "x"}]}}', "messages"),  # noqa: E501
    ],
)  # fmt: skip
def test_each_line_form_goes_to_its_endpoint(line: str, endpoint: str) -> None:
    row = parse(line, 1, Defaults(model="m", system="S"))
    assert row is not None and row.problem is None
    assert (row.custom_id, row.endpoint) == ("c", endpoint)
    if endpoint == "messages":
        assert row.body["system"] == "S" and row.body["max_tokens"] == 4096


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{nope", "line 1 column 2: unexpected character, expected a string key"),
        ('{"custom_id": 5, "body": {}}', "line 1: custom_id must be a non-empty string"),
        ('{"url": "/v1/files", "body": {}}', "line 1: url '/v1/files' is not one of /v1/chat/completions, /v1/embeddings, /v1/messages, /v1/responses"),  # noqa: E501
        ('{"url": "/v1/embeddings", "method": "GET", "body": {"input": "x"}}', "line 1: method must be POST"),  # noqa: E501
        ('{"body": [1]}', "line 1: the body must be an object"),
        ('{"body": {"messages": []}}', 'line 1: "messages" must be a non-empty list'),
        ('{"url": "/v1/embeddings", "body": {"model": "e"}}', 'line 1: an embeddings body needs "input"'),  # noqa: E501
        ('{"messages": [{"role": "user", "content": "x"}]}', "line 1: no model: give -m MODEL or a model in the line"),  # noqa: E501
    ],
)  # fmt: skip
def test_a_line_that_cannot_be_sent_says_why(line: str, problem: str) -> None:
    row = parse(line, 1)
    assert row is not None
    assert row.problem == problem


def test_blank_lines_are_no_rows_and_other_text_is_a_prompt() -> None:
    assert parse("   \n", 1) is None
    row = parse("[WIP] fix it", 2, Defaults(model="m"))
    assert row is not None and row.body["messages"] == [{"role": "user", "content": "[WIP] fix it"}]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60, unique=True),
    st.integers(1, 9),
)
def test_shards_are_disjoint_cover_and_stable(ids: list[str], count: int) -> None:
    shards = {i: shard_of(i, count) for i in ids}
    assert all(0 <= s < count for s in shards.values())
    assert shards == {i: shard_of(i, count) for i in ids}  # the same every time


def test_shard_hash_is_fixed_across_machines() -> None:
    # blake2b, not Python's salted hash(): these values must never change
    assert [shard_of(str(i), 4) for i in range(1, 9)] == [shard_of(str(i), 4) for i in range(1, 9)]
    assert (
        shard_of("row-1", 1000)
        == int.from_bytes(__import__("hashlib").blake2b(b"row-1", digest_size=8).digest(), "big")
        % 1000
    )


def test_output_rows_have_the_openai_batch_shape() -> None:
    ok = results.answered("c", 200, "req_1", {"x": 1})
    assert ok["id"].startswith("batch_req_") and len(ok["id"]) == len("batch_req_") + 24
    assert {k: v for k, v in ok.items() if k != "id"} == {
        "custom_id": "c",
        "response": {"status_code": 200, "request_id": "req_1", "body": {"x": 1}},
        "error": None,
    }
    bad = results.failed("d", "timeout", "slow")
    assert bad["response"] is None and bad["error"] == {"code": "timeout", "message": "slow"}
    assert results.succeeded(ok) and not results.succeeded(bad)
    assert not results.succeeded(results.answered("e", 429, "", {}))


def test_a_bucket_allows_a_minute_at_once_then_the_rate() -> None:
    now = [0.0]
    bucket = Bucket(60, clock=lambda: now[0])  # one a second
    assert [bucket.wait_for(1) for _ in range(60)] == [0.0] * 60
    assert bucket.wait_for(1) == pytest.approx(1.0)
    now[0] = 10.0
    assert bucket.wait_for(1) == pytest.approx(0.0)
    assert Bucket(60, clock=lambda: 0.0).wait_for(1000) == pytest.approx(0.0)  # capped
