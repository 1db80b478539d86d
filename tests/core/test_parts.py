from __future__ import annotations

from typing import Any

from llmcli import anthropic, chatstream, messagestream, openai, parts
from llmcli.parts import Parts, append, joined


def test_append_collects_pieces_without_joining() -> None:
    target: dict[str, Any] = {}
    append(target, "text", "a")
    append(target, "text", "b")
    assert type(target["text"]) is Parts
    assert list(target["text"]) == ["a", "b"]
    assert joined(target) == {"text": "ab"}


def test_append_keeps_a_string_already_there_as_the_first_piece() -> None:
    target: dict[str, Any] = {"text": "start ", "other": 1}
    append(target, "text", "end")
    assert joined(target) == {"text": "start end", "other": 1}


def test_append_replaces_a_value_that_is_not_text() -> None:
    target: dict[str, Any] = {"a": None, "b": 5, "c": ["x"]}
    for key in target:
        append(target, key, "t")
    assert joined(target) == {"a": "t", "b": "t", "c": "t"}


def test_joined_copies_containers_and_leaves_the_assembly_as_it_was() -> None:
    inner: dict[str, Any] = {}
    append(inner, "arguments", '{"a"')
    append(inner, "arguments", ": 1}")
    value: dict[str, Any] = {"calls": [{"function": inner, "n": 1}], "s": "x", "none": None}
    out = joined(value)
    assert out == {
        "calls": [{"function": {"arguments": '{"a": 1}'}, "n": 1}],
        "s": "x",
        "none": None,
    }
    assert type(inner["arguments"]) is Parts
    out["calls"][0]["n"] = 2
    assert value["calls"][0]["n"] == 1
    append(inner, "arguments", " ")
    assert joined(value)["calls"][0]["function"]["arguments"] == '{"a": 1} '
    assert joined(Parts()) == ""


def test_both_assemblers_share_one_implementation() -> None:
    assert chatstream.append is messagestream.append is parts.append
    assert chatstream.joined is messagestream.joined is parts.joined
    assert not hasattr(openai, "_Parts") and not hasattr(anthropic, "_Parts")
