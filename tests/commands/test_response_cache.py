"""``--cache`` through the real process: a request identical to one answered before is
answered from disk, byte for byte in every output mode, and never reaches the gateway;
the key is origin, endpoint, canonical body and the headers other than credentials; only
whole 2xx answers are kept; no key is written; ``--cache-ttl``, ``--no-cache``,
``--refresh-cache``, ``LLMCLI_CACHE``; ``--usage`` says ``"cache": "hit"``; concurrent
processes; ``batch run --cache``."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest
from conftest import Result, clean_env, llmcli

from llmcli import mock as offline
from llmcli.http.cache import ResponseCache, chosen, key
from llmcli.http.request import Request
from llmcli.mock.cassette import parse

KEY = "sk-cache-secret-0123456789"


def cached(gw: offline.RunningGateway, tmp: Path, *args: str, **kw: str) -> Result:
    env = {"XDG_CACHE_HOME": str(tmp), "LLMCLI_API_KEY": KEY, **kw}
    return llmcli(*args, "--base-url", gw.base_url, "--cache", env=env)


def asked(gw: offline.RunningGateway) -> int:
    """How many model requests reached the gateway (its model list aside)."""
    return sum(1 for r in list(gw.requests) if r.method == "POST")


def entries(tmp: Path) -> list[Path]:
    return sorted((tmp / "llmcli" / "responses").glob("*/*.json"))


MODES = [
    ("chat", "-m", "echo", "hello there"),
    ("chat", "-m", "tools", "-o", "json", "call them"),
    ("stream", "-m", "lorem", "--max-tokens", "7", "hi"),
    ("stream", "-m", "think", "-o", "json", "hi"),
    ("stream", "-m", "lorem", "--max-tokens", "5", "-o", "jsonl", "hi"),
    ("stream", "-m", "unicode", "-o", "sse", "hi"),
    ("messages", "-m", "think", "--stream", "-o", "sse", "hello"),
    ("messages", "-m", "echo", "-o", "json", "hello"),
    ("responses", "-m", "tools", "--stream", "-o", "jsonl", "hello"),
    ("responses", "-m", "echo", "hello"),
    ("embed", "-m", "embed-small", "a", "b"),
]


@pytest.mark.parametrize("args", MODES, ids=[" ".join(a[:4]) for a in MODES])
def test_a_repeated_request_is_answered_from_disk_byte_for_byte(
    gw: offline.RunningGateway, tmp_path: Path, args: tuple[str, ...]
) -> None:
    first = cached(gw, tmp_path, *args)
    assert first.code == 0, first.err
    assert asked(gw) == 1
    again = cached(gw, tmp_path, *args)
    assert (again.code, again.out, again.err) == (0, first.out, first.err)
    assert asked(gw) == 1  # nothing was sent
    assert len(entries(tmp_path)) == 1


def test_the_key_is_origin_endpoint_canonical_body_and_headers_but_credentials(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    body_a = tmp_path / "a.json"
    body_b = tmp_path / "b.json"
    body_a.write_bytes(b'{"model": "echo", "messages": [{"role": "user", "content": "x"}]}')
    body_b.write_bytes(b'{"messages": [{"content": "x", "role": "user"}], "model": "echo"}')
    assert cached(gw, tmp_path, "chat", "--body", str(body_a)).code == 0
    assert cached(gw, tmp_path, "chat", "--body", str(body_b)).code == 0  # key order aside
    assert asked(gw) == 1
    other_key = cached(gw, tmp_path, "chat", "--body", str(body_a), LLMCLI_API_KEY="sk-other")
    assert other_key.code == 0 and asked(gw) == 1  # a credential is not part of the key
    assert cached(gw, tmp_path, "chat", "-m", "echo", "y").code == 0  # another body
    assert asked(gw) == 2
    header = cached(gw, tmp_path, "chat", "--body", str(body_a), "-H", "X-Team: blue")
    assert header.code == 0 and asked(gw) == 3  # a header that is not a credential is
    with offline.start() as elsewhere:  # another origin
        assert cached(elsewhere, tmp_path, "chat", "--body", str(body_a)).code == 0
        assert asked(elsewhere) == 1


def test_no_key_or_credential_header_is_kept_and_an_entry_is_a_cassette_line(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    token = "tok-header-secret-98765"
    run = cached(gw, tmp_path, "chat", "-m", "echo", "-H", f"X-Auth-Token: {token}", "hi")
    assert run.code == 0, run.err
    (entry,) = entries(tmp_path)
    data = entry.read_bytes()
    assert KEY.encode() not in data and token.encode() not in data
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    line = orjson.loads(data)
    assert line["request"]["path"] == "/v1/chat/completions"
    assert "authorization" not in line["request"]["headers"]
    assert line["response"]["status"] == 200
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.parent.parent.stat().st_mode) == 0o700
    # the entries, put together, are a cassette --replay takes
    cassette = tmp_path / "cassette.jsonl"
    cassette.write_bytes(b"".join(p.read_bytes() for p in entries(tmp_path)))
    replayed = llmcli(
        "chat", "-m", "echo", "-H", f"X-Auth-Token: {token}", "hi", "--replay", str(cassette)
    )
    assert (replayed.code, replayed.out) == (0, run.out)


def test_an_echoed_key_is_kept_hidden_as_it_was_shown(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    args = ("stream", "-m", "echo", "-o", "sse", f"my key is {KEY}")
    first = cached(gw, tmp_path, *args)
    assert first.code == 0, first.err
    assert KEY.encode() not in first.out and b"***" in first.out
    again = cached(gw, tmp_path, *args)
    assert again.out == first.out and asked(gw) == 1
    assert KEY.encode() not in b"".join(p.read_bytes() for p in entries(tmp_path))


@pytest.mark.parametrize(
    ("fault", "code"), [("status=500", 69), ("status=429", 75), ("cut=2", 76), ("eof=2", 76)]
)
def test_only_whole_2xx_answers_are_kept(
    gw: offline.RunningGateway, tmp_path: Path, fault: str, code: int
) -> None:
    args = ("stream", "-m", "lorem", "--max-tokens", "5", "--retries", "0", "hi")
    gw.set_faults(fault)
    failed = cached(gw, tmp_path, *args)
    assert failed.code == code, failed.err
    assert entries(tmp_path) == []
    gw.set_faults(None)
    before = asked(gw)
    assert cached(gw, tmp_path, *args).code == 0
    assert cached(gw, tmp_path, *args).code == 0
    assert asked(gw) == before + 1  # asked again, then kept


def test_an_error_inside_a_200_is_not_kept(gw: offline.RunningGateway, tmp_path: Path) -> None:
    args = ("chat", "-m", "echo", "--retries", "0", "hi")
    gw.set_faults("status=200;body=" + '{"error": {"message": "overloaded"}}')
    assert cached(gw, tmp_path, *args).code != 0
    assert entries(tmp_path) == []


def test_ttl_no_cache_refresh_and_the_environment(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    args = ("chat", "-m", "echo", "hi")
    assert cached(gw, tmp_path, *args).code == 0
    (entry,) = entries(tmp_path)
    hour_ago = entry.stat().st_mtime - 3600
    os.utime(entry, (hour_ago, hour_ago))
    assert cached(gw, tmp_path, *args, "--cache-ttl", "7200").code == 0
    assert asked(gw) == 1  # younger than the TTL
    assert cached(gw, tmp_path, *args, "--cache-ttl", "60").code == 0
    assert asked(gw) == 2  # older: asked again, and kept anew
    assert entry.stat().st_mtime > hour_ago + 1800
    assert cached(gw, tmp_path, *args, "--refresh-cache").code == 0
    assert asked(gw) == 3
    assert cached(gw, tmp_path, *args).code == 0
    assert asked(gw) == 3
    env = {"XDG_CACHE_HOME": str(tmp_path), "LLMCLI_API_KEY": KEY, "LLMCLI_CACHE": "1"}
    assert llmcli(*args, "--base-url", gw.base_url, env=env).code == 0
    assert asked(gw) == 3  # LLMCLI_CACHE=1 is --cache
    assert llmcli(*args, "--base-url", gw.base_url, "--no-cache", env=env).code == 0
    assert asked(gw) == 4  # --no-cache beats it
    folder = tmp_path / "elsewhere"
    env["LLMCLI_CACHE"] = str(folder)
    assert llmcli(*args, "--base-url", gw.base_url, env=env).code == 0
    assert len(list(folder.glob("*/*.json"))) == 1
    off = llmcli(*args, "--base-url", gw.base_url, env={**env, "LLMCLI_CACHE": "0"})
    assert off.code == 0 and asked(gw) == 6


def test_usage_says_hit_or_miss(gw: offline.RunningGateway, tmp_path: Path) -> None:
    args = ("stream", "-m", "lorem", "--max-tokens", "5", "--usage", "hi")
    first = cached(gw, tmp_path, *args)
    miss = orjson.loads(first.err.strip().splitlines()[-1])
    assert miss["cache"] == "miss"
    again = cached(gw, tmp_path, *args)
    hit = orjson.loads(again.err.strip().splitlines()[-1])
    assert (hit["cache"], hit["cost"], hit["cost_source"]) == ("hit", 0.0, "cache")
    assert hit["usage"] == miss["usage"]
    plain = llmcli(*args, "--base-url", gw.base_url, env={"LLMCLI_API_KEY": KEY})
    assert "cache" not in orjson.loads(plain.err.strip().splitlines()[-1])


def test_a_cache_folder_that_cannot_be_written_is_73_before_anything_is_sent(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {"LLMCLI_API_KEY": KEY, "LLMCLI_CACHE": str(blocker / "responses")}
    run = llmcli("chat", "-m", "echo", "hi", "--base-url", gw.base_url, env=env)
    assert run.code == 73
    assert (
        run.err
        == f"llmcli: cannot keep answers in the cache {blocker}/responses: Not a directory\n"
    )
    assert asked(gw) == 0


def test_no_cache_and_refresh_cache_together_are_a_usage_error(tmp_path: Path) -> None:
    run = llmcli("chat", "-g", "mock", "--no-cache", "--refresh-cache", "hi")
    assert (run.code, run.err) == (
        2,
        "llmcli: --no-cache and --refresh-cache cannot be used together\n",
    )


def test_the_offline_gateway_is_one_origin_whatever_its_port(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = llmcli("chat", "-g", "mock", "-m", "echo", "--cache", "--usage", "hi", env=env)
    again = llmcli("chat", "-g", "mock", "-m", "echo", "--cache", "--usage", "hi", env=env)
    assert first.out == again.out == b"hi\n"
    assert '"cache":"hit"' in again.err


def test_concurrent_processes_each_answer_and_leave_one_whole_entry(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    env = clean_env({"XDG_CACHE_HOME": str(tmp_path), "LLMCLI_API_KEY": KEY})
    command = [sys.executable, "-m", "llmcli", "stream", "-m", "lorem", "--max-tokens", "50"]
    command += ["--base-url", gw.base_url, "--cache", "-o", "sse", "many at once"]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(6)
    ]
    outs = [p.communicate(timeout=60) for p in runs]
    assert [p.returncode for p in runs] == [0] * 6
    assert len({out for out, _ in outs}) == 1
    (entry,) = entries(tmp_path)
    assert parse([entry.read_text()], "entry")[0].answer == outs[0][0]
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporary left


def test_batch_run_answers_repeated_rows_from_the_cache(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    rows = b"first question\nsecond question\nfirst question\n"
    env = {"XDG_CACHE_HOME": str(tmp_path), "LLMCLI_API_KEY": KEY}
    args = ("batch", "run", "-m", "echo", "-P", "1", "--cache", "--base-url", gw.base_url)
    first = llmcli(*args, stdin=rows, env=env)
    assert first.code == 0, first.err
    assert asked(gw) == 2  # the third row is the first's, answered from the cache
    again = llmcli(*args, stdin=rows, env=env)
    assert (again.code, again.out) == (0, first.out)
    assert asked(gw) == 2
    bodies = [orjson.loads(line)["response"]["body"] for line in again.out.splitlines()]
    assert bodies[0] == bodies[2] and bodies[0]["choices"][0]["message"]["content"] == (
        "first question"
    )


# the key and the store, directly ---------------------------------------------------------


def request(url: str = "http://h:80/v1/chat/completions", **headers: str) -> Request:
    body = b'{"model": "m", "messages": []}'
    sent = {"Content-Type": "application/json", "User-Agent": "llmcli/1", **headers}
    return Request("POST", url, sent, body, secrets=(KEY,), cacheable=True)


def test_key_sets_aside_what_does_not_change_the_answer() -> None:
    base = key(request())
    assert key(request("http://H/v1/chat/completions")) == base  # default port, case
    assert key(request(Authorization=f"Bearer {KEY}", **{"X-Api-Key": "k"})) == base
    assert key(request(**{"User-Agent": "llmcli/2"})) == base
    assert key(request("https://h/v1/chat/completions")) != base
    assert key(request("http://h/v1/messages")) != base
    assert key(request(**{"Anthropic-Version": "2023-06-01"})) != base
    assert key(request("http://127.0.0.1:4242/v1/chat/completions"), {}) != key(
        request("http://127.0.0.1:4343/v1/chat/completions")
    )
    aliases = {"http://127.0.0.1:4242": "llmcli:mock", "http://127.0.0.1:4343": "llmcli:mock"}
    assert key(request("http://127.0.0.1:4242/v1/chat/completions"), aliases) == key(
        request("http://127.0.0.1:4343/v1/chat/completions"), aliases
    )


def test_chosen_follows_flag_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert chosen(None, None) is None
    assert chosen(None, "0") is None
    assert chosen(False, "1") is None
    on = chosen(None, "1")
    assert on is not None and on.folder == tmp_path / "llmcli" / "responses"
    assert chosen(True, None) is not None
    refreshed = chosen(None, None, refresh=True)
    assert refreshed is not None and refreshed.refresh
    there = chosen(None, str(tmp_path / "d"), ttl=5)
    assert there is not None and (there.folder, there.ttl) == (tmp_path / "d", 5)


def test_writers_and_readers_at_once_never_see_part_of_an_entry(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    asked_for = request()
    answers = [b"x" * (1 << 16) * n for n in range(1, 9)]
    seen: list[bytes] = []
    stop = threading.Event()

    def write(answer: bytes) -> None:
        for _ in range(20):
            cache.put(asked_for, 200, [("content-type", "text/plain")], answer)

    def read() -> None:
        while not stop.is_set():
            hit = cache.get(asked_for)
            if hit is not None:
                seen.append(hit.body)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(a,)) for a in answers]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join()
    assert seen and all(body in answers for body in seen)
    hit = cache.get(asked_for)
    assert hit is not None and hit.body in answers
    assert len(list(tmp_path.glob("*/*"))) == 1


def test_what_is_not_kept(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.put(request(), 500, [], b"{}")
    cache.put(request(), 404, [], b"{}")
    assert cache.get(request()) is None
    (tmp_path / key(request())[:2]).mkdir()
    (tmp_path / key(request())[:2] / f"{key(request())}.json").write_bytes(b"{broken")
    assert cache.get(request()) is None  # a miss, not an error
    cache.put(request(), 200, [], b"fine")
    hit = cache.get(request())
    assert hit is not None and hit.body == b"fine"


@pytest.mark.parametrize(
    ("command", "stdin"),
    [(("embed", "-m", "embed-small", "a"), b""), (("batch", "run", "-m", "echo"), b"hi\n")],
)
def test_a_200_that_carries_an_error_is_not_kept_by_embed_or_batch_run(
    gw: offline.RunningGateway, tmp_path: Path, command: tuple[str, ...], stdin: bytes
) -> None:
    gw.set_faults("status=200;body=" + '{"error": {"message": "overloaded"}}')
    env = {"XDG_CACHE_HOME": str(tmp_path), "LLMCLI_API_KEY": KEY}
    args = (*command, "--cache", "--retries", "0", "--base-url", gw.base_url)
    assert llmcli(*args, stdin=stdin, env=env).code != 0
    assert entries(tmp_path) == []


def test_a_reply_is_answered_again_as_it_was_shown_url_passwords_included(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    args = ("chat", "-m", "echo", "connect to postgres://app:hunter2@db/x")
    first = cached(gw, tmp_path, *args)
    assert first.out == b"connect to postgres://app:hunter2@db/x\n"
    assert cached(gw, tmp_path, *args).out == first.out
    assert asked(gw) == 1


def test_a_replay_neither_reads_nor_fills_the_cache_and_a_recording_holds_hits(
    gw: offline.RunningGateway, tmp_path: Path
) -> None:
    args = ("chat", "-m", "echo", "hi")
    cassette = tmp_path / "run.jsonl"
    assert cached(gw, tmp_path, *args).code == 0
    again = cached(gw, tmp_path, *args, "--record", str(cassette))
    assert again.code == 0 and asked(gw) == 1  # a hit, and still recorded:
    assert len(cassette.read_text().splitlines()) == 1
    for entry in entries(tmp_path):
        entry.unlink()
    replayed = cached(gw, tmp_path, *args, "--replay", str(cassette))
    assert (replayed.code, replayed.out) == (0, b"hi\n")
    assert entries(tmp_path) == []
