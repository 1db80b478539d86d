"""Secrets hidden (llmcli.redaction): in any JSON spelling, in pieces long enough to
identify them, in header names of any case, and across any cut of a streamed body."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcli.redaction import Scrubber, redact, redacted_headers, scrub, scrub_json

KEY = "sk-proj-0123456789abcdefghijklmnop"  # its first 12 characters identify it
SHORT = "sk-short123"  # no longer than 12 characters: only the whole is hidden


def spellings(secret: str) -> list[bytes]:
    """The key as JSON may spell it: plain, every character escaped (either case), "/"."""
    return [
        secret.encode(),
        "".join(f"\\u{ord(c):04x}" for c in secret).encode(),
        "".join(f"\\u{ord(c):04X}" for c in secret).encode(),
        orjson.dumps(secret)[1:-1],
    ]


def test_every_spelling_is_hidden() -> None:
    for spelling in spellings(KEY):
        assert scrub(b'{"a":"<' + spelling + b'>"}', [KEY]) == b'{"a":"<***>"}'


def test_identifying_pieces_are_hidden_and_short_ones_are_not() -> None:
    shown = redact(f"[{KEY[:12]}] [{KEY[:25]}…] [{KEY[:11]}] [{KEY[-17:]}]", [KEY])
    assert shown == f"[***] [***…] [{KEY[:11]}] [{KEY[-17:]}]"
    assert redact(f"{SHORT[:10]} {SHORT}", [SHORT]) == f"{SHORT[:10]} ***"


def test_header_names_are_redacted_in_any_case() -> None:
    key = "abcd1234efgh5678"
    shown = redacted_headers({f"X-{key.upper()}": "v", "X-Echo": key}, [key])
    assert shown == {"X-***": "v", "X-Echo": "***"}


def test_strings_of_a_parsed_reply_are_redacted_keys_too() -> None:
    value = {"a": [f"x{KEY}y", 1, None], KEY: {"b": KEY[:20]}}
    assert scrub_json(value, (KEY,)) == {"a": ["x***y", 1, None], "***": {"b": "***"}}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(range(4)),
    st.text(alphabet="abs-\\ku0123 ", max_size=30),
    st.text(alphabet="abs-\\ku0123 ", max_size=30),
    st.lists(st.integers(1, 40), min_size=1, max_size=12),
)
def test_a_key_is_hidden_however_the_reads_cut_it(
    which: int, before: str, after: str, cuts: list[int]
) -> None:
    data = before.encode() + spellings(KEY)[which] + after.encode()
    scrubber = Scrubber([KEY])
    out, at = b"", 0
    for size in cuts * 50:
        if at >= len(data):
            break
        out += scrubber.feed(data[at : at + size])
        at += size
    out += scrubber.feed(data[at:]) + scrubber.close()
    assert out == scrub(data, [KEY])
    for spelling in spellings(KEY):
        assert spelling not in out


def test_what_cannot_begin_a_key_is_not_held_back() -> None:
    scrubber = Scrubber([KEY])
    assert scrubber.feed(b"hello world") == b"hello world"
    assert scrubber.feed(b"tail sk-pr") == b"tail "
    assert scrubber.feed(b"ose") == b"sk-prose"
    assert scrubber.feed(b"esc \\u00") == b"esc "
    assert scrubber.feed(b"41!") == b"\\u0041!"
    assert scrubber.close() == b""
