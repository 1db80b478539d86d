"""A key never reaches stdout or stderr, whatever the cut (DESIGN.md, "Limits"): split over
network reads or stream deltas, spelled with JSON escapes, in a header's name, shortened
by a server, in every command. And a server's words cannot drive the terminal. The real
process against the offline gateway on 127.0.0.1."""

from __future__ import annotations

import urllib.parse

import orjson
import pytest
from conftest import SECRET, host, llmcli

KEYED = {"LLMCLI_API_KEY": SECRET}
LONG = "sk-proj-0123456789abcdefghijklmnop"  # a key long enough to have identifying pieces


def fault(spec: str) -> tuple[str, str]:
    return ("-H", f"X-Mock-Fault: {spec}")


def body(text: str | bytes, kind: str = "text/event-stream", extra: str = "") -> tuple[str, str]:
    raw = text.encode() if isinstance(text, str) else text
    quoted = urllib.parse.quote(raw, safe="")
    return fault(f"body={quoted};content_type={urllib.parse.quote(kind, safe='')}{extra}")


def sse(*contents: str) -> str:
    events = [
        orjson.dumps({"choices": [{"index": 0, "delta": {"content": c}}]}).decode()
        for c in contents
    ]
    events.append('{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')
    return "".join(f"data: {e}\n\n" for e in events) + "data: [DONE]\n\n"


@pytest.mark.parametrize("mode", ["text", "json", "jsonl", "sse"])
@pytest.mark.parametrize("cut", ["", "slow=1:1", "slow=5:1"])
def test_an_echoed_key_split_over_reads_is_hidden(url: str, mode: str, cut: str) -> None:
    args = ("stream", "-o", mode, "--base-url", url, "-m", "echo", *(fault(cut) if cut else ()))
    r = llmcli(*args, f"my key is {SECRET}, ok", env=KEYED)
    assert r.code == 0, r.err
    assert SECRET.encode() not in r.out and SECRET not in r.err
    assert b"***" in r.out


def delta(content: str) -> str:
    return orjson.dumps({"choices": [{"index": 0, "delta": {"content": content}}]}).decode()


STOP = '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("text", b"key: *** end, more\n"),
        ("json", None),
        # the events that carried the key go out rewritten: the first holds the scrubbed
        # text, the second none of it; the others as they came
        ("jsonl", f"{delta('key: *** end')}\n{delta('')}\n{delta(', more')}\n{STOP}\n".encode()),
        (
            "sse",
            f"data: {delta('key: *** end')}\n\ndata: {delta('')}\n\ndata: {delta(', more')}\n\n"
            f"data: {STOP}\n\ndata: [DONE]\n\n".encode(),
        ),
    ],
)
@pytest.mark.parametrize("cut", [4, 11])  # the key's first piece shorter than 12, or not
def test_a_key_sent_in_two_deltas_is_hidden_in_every_mode(
    url: str, mode: str, expected: bytes | None, cut: int
) -> None:
    key = LONG
    events = sse("key: " + key[:cut], key[cut:] + " end", ", more")
    r = llmcli("stream", "-o", mode, "--base-url", url, "-m", "x", *body(events), "hi",
               env={"LLMCLI_API_KEY": key})  # fmt: skip
    assert r.code == 0, r.err
    assert key[:8].encode() not in r.out and key[-8:].encode() not in r.out
    if mode == "json":
        assert orjson.loads(r.out)["choices"][0]["message"]["content"] == "key: *** end, more"
    else:
        assert r.out == expected


@pytest.mark.parametrize("command", ["chat", "stream"])
def test_a_key_in_json_escapes_is_hidden(url: str, command: str) -> None:
    escaped = "".join(f"\\u{ord(c):04X}" for c in SECRET[:3]) + SECRET[3:]
    if command == "chat":
        message = '{"role":"assistant","content":"k=ESC"}'.replace("ESC", escaped)
        reply = '{"choices":[{"index":0,"message":%s,"finish_reason":"stop"}]}' % message  # noqa: UP031
        args = body(reply, "application/json")
    else:
        args = body(sse("k=").replace('"k="', f'"k={escaped}"'))
    for mode in ("text", "json", "sse" if command == "stream" else "jsonl"):
        r = llmcli(command, "-o", mode, "--base-url", url, "-m", "x", *args, "hi", env=KEYED)
        assert r.code == 0, r.err
        assert SECRET.encode() not in r.out
        assert escaped.encode() not in r.out
        assert b"k=***" in r.out


def test_a_shortened_echo_shows_no_identifying_piece_of_the_key(url: str) -> None:
    # a server that quotes the key in an error but cuts it short
    message = f"bad key {LONG[:20]}... or {LONG[:18]}"
    error = orjson.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    r = llmcli(
        "chat", "--base-url", url, "-m", "x", *body(error, "application/json", ";status=400"),
        "hi", env={"LLMCLI_API_KEY": LONG},
    )  # fmt: skip
    assert r.code == 65
    assert r.err == (
        f"llmcli: 400 Bad Request from {host(url)}: bad key ***... or *** "
        f"[invalid_request_error] (POST {url}/chat/completions)\n"
    )


def test_a_long_error_is_redacted_before_it_is_shortened(url: str) -> None:
    text = "x" * 290 + SECRET + "y" * 100  # the cut at 300 characters falls inside the key
    r = llmcli(
        "chat", "--base-url", url, "-m", "x", *body(text, "text/plain", ";status=400"), "hi",
        env=KEYED,
    )  # fmt: skip
    assert r.code == 65
    assert SECRET[:4] not in r.err
    assert "x" * 290 + "***" in r.err


@pytest.mark.parametrize(
    "args",
    [
        ("batch", "run", "-m", "echo"),
        ("batch", "run", "-m", "echo", "--unordered"),
    ],
)
def test_batch_rows_hide_an_echoed_key(url: str, args: tuple[str, ...]) -> None:
    r = llmcli(*args, "--base-url", url, stdin=f"say {SECRET}\n".encode(), env=KEYED)
    assert r.code == 0, r.err
    assert SECRET.encode() not in r.out
    row = orjson.loads(r.out)
    assert row["response"]["body"]["choices"][0]["message"]["content"] == "say ***"


def test_models_and_embed_hide_an_echoed_key(url: str) -> None:
    listing = orjson.dumps({"object": "list", "data": [{"id": f"m-{SECRET}", "object": "model"}]})
    r = llmcli("models", "--base-url", url, *body(listing, "application/json"), env=KEYED)
    assert (r.code, r.out) == (0, b"m-***\n")
    vectors = orjson.dumps(
        {"object": "list", "data": [{"index": 0, "embedding": [0.5]}], "model": SECRET}
    )
    r = llmcli(
        "embed", "-o", "json", "--base-url", url, "-m", "e",
        *body(vectors, "application/json"), "a", env=KEYED,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert orjson.loads(r.out)["model"] == "***"


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("bad \x1b[2J\x1b]0;pwned\x07 input\x9b", "bad \\x1b[2J\\x1b]0;pwned\\x07 input\\x9b"),
        # a newline would let a server forge a line of llmcli's own
        ("bad thing\nllmcli: all good, exit 0\r", "bad thing\\x0allmcli: all good, exit 0\\x0d"),
    ],
)
def test_a_servers_control_characters_are_shown_escaped(url: str, said: str, shown: str) -> None:
    error = orjson.dumps({"error": {"message": said}})
    r = llmcli(
        "chat", "--base-url", url, "-m", "x", *body(error, "application/json", ";status=400"),
        "hi",
    )  # fmt: skip
    assert r.code == 65
    assert (
        r.err
        == f"llmcli: 400 Bad Request from {host(url)}: {shown} (POST {url}/chat/completions)\n"
    )


def test_stdout_data_with_control_characters_stays_byte_exact(url: str) -> None:
    r = llmcli("chat", "--base-url", url, "-m", "echo", "a\x1b[31mred\x07")
    assert (r.code, r.out) == (0, b"a\x1b[31mred\x07\n")


def test_text_held_back_goes_out_when_the_stream_fails(url: str) -> None:
    # "s" could begin the key: it waits for the next piece, which never comes
    events = sse("The answer is ", "yes").split("data: ")[1:3]
    cut = "".join(f"data: {e}" for e in events) + 'data: {"error": {"message": "boom"}}\n\n'
    r = llmcli("stream", "--base-url", url, "-m", "x", *body(cut), "hi", env=KEYED)
    assert (r.code, r.out, r.err) == (
        69,
        b"The answer is yes",
        f"llmcli: error from {host(url)}: boom\n",
    )


def test_a_url_in_the_models_words_is_kept_in_an_assembled_reply(url: str) -> None:
    words = "connect with postgres://admin:hunter2@db:5432/app"
    r = llmcli(
        "stream", "-o", "json", "--base-url", url, "-m", "x", *body(sse(words)), "hi", env=KEYED
    )
    assert r.code == 0, r.err
    assert orjson.loads(r.out)["choices"][0]["message"]["content"] == words


@pytest.mark.parametrize(
    ("command", "stdin"),
    [
        (("chat", "-m", "echo", "hi"), b""),
        (("messages", "-m", "echo", "--max-tokens", "9", "hi"), b""),
        (("embed", "-m", "embed-small", "hi"), b""),
        (("models",), b""),
        (("batch", "run", "-m", "echo"), b"hi\n"),
        (("batch", "run", "-m", "echo", "--unordered"), b'{"custom_id": "m", "params": '
         b'{"model": "echo", "max_tokens": 9, "messages": [{"role": "user", "content": "x"}]}}\n'),
    ],
)  # fmt: skip
def test_an_error_echoing_the_key_in_a_200_is_an_error_in_every_command(
    url: str, command: tuple[str, ...], stdin: bytes
) -> None:
    # the same answer, the same outcome: exit 65 with the key hidden, a batch row too
    r = llmcli(*command, "--base-url", url, *fault("echo_headers"), stdin=stdin, env=KEYED)
    assert SECRET.encode() not in r.out and SECRET not in r.err
    assert r.code == (77 if command[0] == "messages" else 65), r.err  # Anthropic's: auth
    if command[0] == "batch":
        row = orjson.loads(r.out)
        assert row["response"]["status_code"] == 200
        assert "Bearer ***" in orjson.dumps(row).decode()
        assert r.err == "llmcli: 1 of 1 rows were rejected (see .response.body.error)\n"
    else:
        assert "Bearer ***" in r.err
