"""The official ``openai`` SDK, pointed at ``llmcli serve``, reads its Responses answers
whole and streamed as it reads OpenAI's: the offline gateway speaks the wire format the
SDK was written for. The SDK is a test tool (the ``dev`` extra, pinned as in
``bench/requirements-batch.txt``), never imported by llmcli."""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterator

import pytest
from conftest import clean_env

openai = pytest.importorskip("openai", reason="the dev extra installs the openai SDK")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    p = subprocess.Popen(
        [sys.executable, "-m", "llmcli", "serve", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        assert p.stdout is not None
        assert select.select([p.stdout], [], [], 30)[0], "llmcli serve printed no URL"
        yield p.stdout.readline().decode().strip()
    finally:
        p.terminate()
        p.wait(timeout=10)


@pytest.fixture(scope="module")
def client(served: str) -> Iterator[object]:
    sdk = openai.OpenAI(base_url=served, api_key="unused", max_retries=0)
    yield sdk
    sdk.close()


def test_a_whole_response_reads_as_openais(client: object) -> None:
    response = client.responses.create(model="think", input="two words")  # type: ignore[attr-defined]
    assert response.status == "completed"
    assert response.output_text == "two words"
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].summary[0].text == (
        "The user wrote 2 words. I will repeat them back."
    )
    assert response.usage.total_tokens == (
        response.usage.input_tokens + response.usage.output_tokens
    )


def test_a_stream_reads_event_by_event_and_ends_with_the_response(client: object) -> None:
    with client.responses.stream(model="think", input="two words") as stream:  # type: ignore[attr-defined]
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in kinds
    assert "response.output_text.delta" in kinds
    assert final.output_text == "two words"
    whole = client.responses.create(model="think", input="two words")  # type: ignore[attr-defined]
    assert (final.id, final.status, final.usage) == (whole.id, whole.status, whole.usage)
    assert final.output[0].model_dump() == whole.output[0].model_dump()
    assert final.output[1].content[0].text == whole.output[1].content[0].text


def test_function_calls_and_an_incomplete_response(client: object) -> None:
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    called = client.responses.create(model="tools", input="Paris", tools=tools)  # type: ignore[attr-defined]
    calls = [item for item in called.output if item.type == "function_call"]
    # the offered tool only, its schema without properties giving no arguments
    assert [(c.name, c.call_id, c.arguments) for c in calls] == [("get_weather", "call_0", "{}")]
    cut = client.responses.create(model="echo", input="one two three", max_output_tokens=2)  # type: ignore[attr-defined]
    assert cut.status == "incomplete"
    assert cut.incomplete_details.reason == "max_output_tokens"
    assert cut.output_text == "one two "
