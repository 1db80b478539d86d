"""llmcli.batch.submission and outcomes: what goes in which provider batch, and what comes
back as output rows. Pure, tested directly."""

from __future__ import annotations

import email.parser
import email.policy

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcli.batch import outcomes, submission
from llmcli.batch.lines import Defaults, Row, parse
from llmcli.errors import DataError

BOTH = frozenset({"openai", "anthropic"})


def rows(*texts: str, defaults: Defaults = Defaults(model="m")) -> list[Row]:
    found = [parse(t, n, defaults) for n, t in enumerate(texts, start=1)]
    return [r for r in found if r is not None]


def test_openai_lines_are_the_batch_file_shape_one_batch_per_endpoint() -> None:
    embed = '{"url": "/v1/embeddings", "body": {"input": "x"}}'
    plan = submission.plan(rows("hi", embed, "yo"), BOTH, "g", "in.jsonl")
    assert [(p.api, p.endpoint, p.rows) for p in plan.parts] == [
        ("openai", "/v1/chat/completions", [(1, "1"), (3, "3")]),
        ("openai", "/v1/embeddings", [(2, "2")]),
    ]
    first = plan.parts[0].payload().splitlines()[0]
    assert orjson.loads(first) == {
        "custom_id": "1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"messages": [{"role": "user", "content": "hi"}], "model": "m"},
    }
    assert plan.parts[0].size == len(plan.parts[0].payload())


def test_messages_rows_go_to_anthropic_as_one_requests_body() -> None:
    line = '{"custom_id": "a-1", "params": {"messages": [{"role": "user", "content": "x"}]}}'
    plan = submission.plan(rows(line, line.replace("a-1", "b_2")), BOTH, "g", "f")
    (part,) = plan.parts
    assert (part.api, part.endpoint) == ("anthropic", "/v1/messages")
    body = orjson.loads(part.payload())
    assert [r["custom_id"] for r in body["requests"]] == ["a-1", "b_2"]
    assert body["requests"][0]["params"] == {
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 4096,
        "model": "m",
    }
    assert part.size == len(part.payload())


def test_lines_that_cannot_be_sent_are_kept_apart_not_planned() -> None:
    plan = submission.plan(rows("hi", "{oops", '{"custom_id": "x"}'), BOTH, "g", "f")
    assert [p.rows for p in plan.parts] == [[(1, "1")]]
    assert plan.invalid == [
        (2, "2", "line 2 column 2: unexpected character, expected a string key"),
        (3, "x", 'line 3: "messages" must be a non-empty list'),
    ]


@pytest.mark.parametrize(
    ("lines", "apis", "message"),
    [
        (
            ['{"custom_id": "a", "messages": [{"role": "user", "content": "x"}]}'] * 2,
            BOTH,
            "f:2: custom_id 'a' repeats line 1",
        ),
        (
            ['{"custom_id": "a b", "params": {"messages": [{"role": "user", "content": "x"}]}}'],
            BOTH,
            "f:1: custom_id 'a b' is not 1-64 letters, digits, _ or - (Anthropic's rule)",
        ),
        (
            ['{"params": {"messages": [{"role": "user", "content": "x"}]}}'],
            frozenset({"openai"}),
            "f:1: the openai batch API of g takes no /v1/messages rows",
        ),
        (
            ["hi"],
            frozenset({"anthropic"}),
            "f:1: the anthropic batch API of g takes no /v1/chat/completions rows",
        ),
    ],
)
def test_what_would_fail_a_whole_batch_is_refused_naming_the_line(
    lines: list[str], apis: frozenset[str], message: str
) -> None:
    with pytest.raises(DataError) as caught:
        submission.plan(rows(*lines), apis, "g", "f")
    assert caught.value.message == message


def test_a_batch_is_split_at_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(submission.LIMITS, "openai", (2, 10**9))
    plan = submission.plan(rows("a", "b", "c", "d", "e"), BOTH, "g", "f")
    assert [[line for line, _ in p.rows] for p in plan.parts] == [[1, 2], [3, 4], [5]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=30), st.data())
def test_split_at_the_byte_limit_never_passes_it_and_keeps_order(
    sizes: list[int], data: st.DataObject
) -> None:
    texts = ["x" * size for size in sizes]
    for api, line in (
        ("openai", "{t}"),
        ("anthropic", '{{"params": {{"messages": [{{"role": "user", "content": "{t}"}}]}}}}'),
    ):
        biggest = max(
            len(submission.item(r, api)) for r in rows(*[line.format(t=t) for t in texts])
        )
        limit = data.draw(st.integers(min_value=biggest + 20, max_value=biggest * 6 + 20))
        original = submission.LIMITS[api]
        submission.LIMITS[api] = (10**6, limit)
        try:
            plan = submission.plan(rows(*[line.format(t=t) for t in texts]), BOTH, "g", "f")
        finally:
            submission.LIMITS[api] = original
        assert all(len(p.payload()) == p.size <= limit for p in plan.parts)
        assert [n for p in plan.parts for n, _ in p.rows] == list(range(1, len(texts) + 1))


def test_a_request_larger_than_any_batch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(submission.LIMITS, "openai", (10, 50))
    with pytest.raises(DataError) as caught:
        submission.plan(rows("x" * 100), BOTH, "g", "f")
    assert caught.value.message == "f:1: a request of 226 bytes, more than one batch takes (50)"


def test_multipart_parses_back_with_the_standard_library() -> None:
    body = submission.multipart("b0und", [("purpose", "batch")], "in.1.jsonl", b'{"a":1}\n')
    head = b"Content-Type: multipart/form-data; boundary=b0und\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts = list(message.iter_parts())
    assert [p.get_param("name", header="content-disposition") for p in parts] == [
        "purpose",
        "file",
    ]
    assert parts[0].get_content() == "batch"
    assert parts[1].get_filename() == "in.1.jsonl"
    assert parts[1].get_payload(decode=True) == b'{"a":1}\n'


# outcomes -------------------------------------------------------------------------------


def strip_id(row: dict[str, object]) -> dict[str, object]:
    assert str(row.pop("id")).startswith("batch_req_")
    return row


def test_anthropic_results_become_output_rows() -> None:
    message = {"type": "message", "content": [{"type": "text", "text": "hi"}]}
    ok = {"custom_id": "a", "result": {"type": "succeeded", "message": message}}
    error = {"type": "error", "error": {"type": "not_found_error", "message": "no model"}}
    bad = {"custom_id": "b", "result": {"type": "errored", "error": error}}
    assert strip_id(outcomes.from_anthropic(ok)) == {
        "custom_id": "a",
        "response": {"status_code": 200, "request_id": "", "body": message},
        "error": None,
    }
    assert strip_id(outcomes.from_anthropic(bad)) == {
        "custom_id": "b",
        "response": {"status_code": 404, "request_id": "", "body": error},
        "error": None,
    }
    for kind, code, text in (
        ("expired", "batch_expired", outcomes.EXPIRED),
        ("canceled", "batch_cancelled", outcomes.CANCELLED),
    ):
        line = {"custom_id": "c", "result": {"type": kind}}
        assert strip_id(outcomes.from_anthropic(line)) == {
            "custom_id": "c",
            "response": None,
            "error": {"code": code, "message": text},
        }


def test_status_summaries_have_the_same_keys_for_both_apis() -> None:
    openai = {
        "id": "batch_1",
        "status": "in_progress",
        "endpoint": "/v1/chat/completions",
        "request_counts": {"total": 5, "completed": 2, "failed": 1},
    }
    counts = {"processing": 0, "succeeded": 3, "errored": 1, "canceled": 0, "expired": 1}
    anthropic = {"id": "msgbatch_1", "processing_status": "ended", "request_counts": counts}
    assert outcomes.summary("openai", "g", openai) == {
        "id": "batch_1",
        "api": "openai",
        "gateway": "g",
        "endpoint": "/v1/chat/completions",
        "status": "in_progress",
        "ended": False,
        "rows": 5,
        "succeeded": 2,
        "failed": 1,
        "counts": {"total": 5, "completed": 2, "failed": 1},
    }
    assert outcomes.summary("anthropic", "g", anthropic) == {
        "id": "msgbatch_1",
        "api": "anthropic",
        "gateway": "g",
        "endpoint": "/v1/messages",
        "status": "ended",
        "ended": True,
        "rows": 5,
        "succeeded": 3,
        "failed": 2,
        "counts": counts,
    }
    assert outcomes.progress("openai", openai) == "in_progress 3/5"


def test_a_row_missing_from_a_failed_batch_is_rejected_with_the_first_error() -> None:
    errors = {"data": [{"code": "invalid", "message": "bad url", "line": 2}]}
    batch = {"id": "batch_9", "status": "failed", "errors": errors}
    row = strip_id(outcomes.not_answered("x", "openai", batch))
    assert row["error"] == {
        "code": "invalid_request",
        "message": "batch batch_9 failed (line 2): bad url",
    }


def test_a_batch_failed_by_an_account_limit_is_temporary_not_rejected() -> None:
    errors = {"data": [{"code": "token_limit_exceeded", "message": "Enqueued token limit reached"}]}
    batch = {"id": "batch_7", "status": "failed", "errors": errors}
    row = strip_id(outcomes.not_answered("x", "openai", batch))
    assert row["error"] == {
        "code": "batch_failed",
        "message": "batch batch_7 failed: Enqueued token limit reached",
    }


def test_embedding_batches_split_at_their_total_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submission, "EMBEDDING_INPUTS", 5)
    lines = [
        '{"url": "/v1/embeddings", "body": {"input": ["a", "b", "c"]}}',
        '{"url": "/v1/embeddings", "body": {"input": ["d", "e"]}}',
        '{"url": "/v1/embeddings", "body": {"input": "f"}}',
    ]
    plan = submission.plan(rows(*lines), BOTH, "g", "f")
    assert [[n for n, _ in p.rows] for p in plan.parts] == [[1, 2], [3]]
    assert [p.inputs for p in plan.parts] == [5, 1]
