"""``llmcli serve`` through the real process: usage mistakes are exit 2 naming what is
valid, a busy port is a usage error (2), and --help lists every fault with its units."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from conftest import clean_env, llmcli

from llmcli.cli.serve import FAULTS
from llmcli.mock import PROFILES
from llmcli.mock.faults import SYNTAX


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_unknown_profile_lists_the_profiles() -> None:
    r = llmcli("serve", "--profile", "bogus")
    known = "mock, lumiltc, lumenfall, lumyx, llmbase, lumyxai, anthropic, openrouter"
    assert (r.code, r.out) == (2, b"")
    assert r.err == f"llmcli: unknown profile 'bogus' (choose from: {known})\n"
    assert known == ", ".join(PROFILES)


def test_unknown_fault_lists_the_faults() -> None:
    r = llmcli("serve", "--fault", "delay=5;bogus=1")
    assert (r.code, r.out) == (2, b"")
    assert r.err == f"llmcli: --fault: unknown fault 'bogus' (known: {', '.join(SYNTAX)})\n"


@pytest.mark.parametrize(
    "spec,message",
    [
        ("slow", "slow needs a value (slow=BYTES:MS)"),
        ("status=abc", "status: expected an HTTP status from 100 to 599, got 'abc'"),
        ("status=99", "status: expected an HTTP status from 100 to 599, got '99'"),
        ("endless=1.5M", "endless: expected a size (bytes, or with k, M or G), got '1.5M'"),
        ("cut=x", "cut: expected an integer, got 'x'"),
    ],
)
def test_bad_fault_spec_is_a_usage_error(spec: str, message: str) -> None:
    r = llmcli("serve", "--fault", spec)
    assert (r.code, r.out, r.err) == (2, b"", f"llmcli: --fault: {message}\n")


def test_busy_port_is_a_usage_error_naming_it(busy_port: int) -> None:
    r = llmcli("serve", "--port", str(busy_port))
    assert (r.code, r.out) == (2, b"")  # the flag asked for it (issue 26: was 69)
    assert r.err == (
        f"llmcli: cannot listen on 127.0.0.1:{busy_port}: address already in use: choose "
        "another with --port N (0: any free one)\n"
    )


def test_port_out_of_range_is_a_usage_error() -> None:
    r = llmcli("serve", "--port", "70000")
    assert (r.code, r.out) == (2, b"")
    assert r.err == (
        "llmcli: Invalid value for '--port': 70000 is not in the range 0<=x<=65535"
        " (see 'llmcli serve --help')\n"
    )


def test_serve_applies_a_server_wide_hostile_fault() -> None:
    p = subprocess.Popen(
        [sys.executable, "-m", "llmcli", "serve", "--port", "0", "--fault", "endless=1k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        assert p.stdout is not None
        assert select.select([p.stdout], [], [], 15)[0]
        base = p.stdout.readline().decode().strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/v1")
        r = httpx.post(base + "/chat/completions", json={"model": "echo", "stream": True})
        assert r.headers["content-type"] == "text/event-stream"
        assert len(r.content) == 1024 and b"\n" not in r.content
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_every_fault_is_documented_with_its_value() -> None:
    assert [item for item, _ in FAULTS] == [f"{k}={v}" if v else k for k, v in SYNTAX.items()]


def test_help_lists_every_fault() -> None:
    r = llmcli("serve", "--help", env={"COLUMNS": "80"})
    assert (r.code, r.err) == (0, "")
    listed = r.text.split("\n  Faults: ", 1)[1]
    for item, meaning in FAULTS:
        assert f"\n    {item} " in listed and f"  {meaning}\n" in listed, item
    assert "SIZE is bytes, or with a suffix k, M or G (KiB, MiB, GiB)" in listed
    assert "slow=BYTES:MS      write BYTES bytes at a time, MS milliseconds apart" in listed
    assert max(len(line) for line in listed.splitlines()) <= 80
