from __future__ import annotations

import contextlib
import http.server
import json
import random
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcli import mock as offline
from llmcli.errors import TemporaryError, UnavailableError
from llmcli.http.request import Request
from llmcli.http.retry import (
    Again,
    Attempts,
    Pause,
    backoff,
    parse_wait,
    retryable_status,
    server_wait,
)
from llmcli.http.session import RequestLimits, Session
from llmcli.http.status import error_text, status_line
from llmcli.redaction import redact, redacted_headers

HTTP_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
HTTP_DATE_TS = 1445412480.0

# parse_wait


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1", 1.0),
        ("0.5", 0.5),
        (" 2 ", 2.0),
        ("120", 120.0),
        ("6m0s", 360.0),
        ("1s", 1.0),
        ("20ms", 0.02),
        ("1m30ms", 60.03),
        ("1h2m3.5s", 3723.5),
        ("0.25s", 0.25),
    ],
)
def test_parse_wait_seconds_and_durations(value: str, seconds: float) -> None:
    assert parse_wait(value, now=1_700_000_000.0) == pytest.approx(seconds, abs=1e-9)


@pytest.mark.parametrize(
    ("now", "seconds"),
    [(HTTP_DATE_TS - 30, 30.0), (HTTP_DATE_TS, None), (HTTP_DATE_TS + 100, None)],
)
def test_parse_wait_http_date(now: float, seconds: float | None) -> None:
    assert parse_wait(HTTP_DATE, now=now) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1700000060", 60.0), ("1700000060.5", 60.5), ("1699999990", None)],
)
def test_parse_wait_unix_timestamp(value: str, seconds: float | None) -> None:
    assert parse_wait(value, now=1_700_000_000.0) == seconds


@pytest.mark.parametrize(
    "value",
    [
        *("soon", "", "   ", "5 minutes", "1x", "ms", "6m0sx", "s1", "1.2.3", "tomorrow"),
        # no wait at all is no advice: back off as usual (issue 10, item 9)
        *("0", "-5", "-3", "nan", "NaN", "inf", "-inf", "0s", "0ms", "1e999"),
    ],
)
def test_parse_wait_garbage(value: str) -> None:
    assert parse_wait(value, now=1_700_000_000.0) is None


# server_wait


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        (
            {
                "retry-after-ms": "1500",
                "retry-after": "30",
                "x-ratelimit-reset-requests": "6m0s",
                "x-ratelimit-remaining-requests": "0",
            },
            1.5,
        ),
        (
            {
                "retry-after": "30",
                "x-ratelimit-reset-requests": "6m0s",
                "x-ratelimit-remaining-requests": "0",
            },
            30.0,
        ),
        ({"Retry-After": "0"}, None),
        ({"retry-after-ms": "-5", "Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "nan"}, None),
        ({"retry-after-ms": "abc", "retry-after": "7"}, 7.0),
        (
            {
                "retry-after": "whenever",
                "x-ratelimit-reset-tokens": "20ms",
                "x-ratelimit-remaining-tokens": "0",
            },
            0.02,
        ),
        (
            {
                "X-RateLimit-Reset-Requests": "1s",
                "X-RateLimit-Remaining-Requests": "0",
                "X-RateLimit-Reset-Tokens": "6m0s",
                "X-RateLimit-Remaining-Tokens": "0",
            },
            360.0,
        ),
        (
            {
                "x-ratelimit-reset-requests": "1s",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-tokens": "6m0s",
                "x-ratelimit-remaining-tokens": "149000",
            },
            1.0,
        ),
    ],
)
def test_server_wait(headers: dict[str, str], seconds: float) -> None:
    assert server_wait(httpx.Headers(headers)) == pytest.approx(seconds, abs=1e-9)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"content-type": "application/json"},
        {"x-ratelimit-reset-requests": "1s", "x-ratelimit-remaining-requests": "5"},
        {"x-ratelimit-reset-requests": "later", "x-ratelimit-remaining-requests": "0"},
        {"retry-after": "later"},
    ],
)
def test_server_wait_none(headers: dict[str, str]) -> None:
    assert server_wait(httpx.Headers(headers)) is None


def test_server_wait_http_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: HTTP_DATE_TS - 12)
    assert server_wait(httpx.Headers({"Retry-After": HTTP_DATE})) == 12.0


# error_text

OPENAI = {
    "error": {
        "message": "Invalid API key",
        "type": "authentication_error",
        "code": "invalid_api_key",
    }
}


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        (OPENAI, "application/json", "Invalid API key [authentication_error, invalid_api_key]"),
        (
            {"error": {"message": "Rate limited", "type": "rate_limit", "code": "rate_limit"}},
            "application/json",
            "Rate limited [rate_limit]",
        ),
        (
            {"error": {"message": "Insufficient balance", "code": 402}},
            "application/json",
            "Insufficient balance [402]",
        ),
        (
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "application/json",
            "Overloaded [overloaded_error]",
        ),
        ({"error": "model not found"}, "application/json", "model not found"),
        (
            {"message": "Unknown model", "type": "invalid_request_error"},
            "application/json",
            "Unknown model [invalid_request_error]",
        ),
        ({"detail": "Not Found"}, "application/json", "Not Found"),
        ({"foo": "bar"}, "application/json", '{"foo":"bar"}'),
        (OPENAI, "text/html", "Invalid API key [authentication_error, invalid_api_key]"),
    ],
)
def test_error_text_json(body: object, content_type: str, text: str) -> None:
    assert error_text(json.dumps(body).encode(), content_type) == text


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        (
            b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
            b"Gateway</h1></center><hr><center>nginx</center></body></html>",
            "text/html",
            "502 Bad Gateway",
        ),
        (
            b"<!DOCTYPE html>\n<HTML><HEAD><TITLE lang=en>\n  Service\n  Unavailable </TITLE>",
            "",
            "Service Unavailable",
        ),
        (
            b"<html><body><h1>Service Unavailable</h1>\n<p>Try again later.</p></body></html>",
            "text/html; charset=utf-8",
            "Service Unavailable Try again later.",
        ),
        (b"  <p>Bad\n gateway</p>", "", "Bad gateway"),
        (b"<html><body></body></html>", "text/html", "(HTML error page)"),
        (
            b"upstream connect error or disconnect/reset before headers\n",
            "text/plain",
            "upstream connect error or disconnect/reset before headers",
        ),
        (b"line one\r\n\tline two  ", "", "line one line two"),
        (b"caf\xc3\xa9 \xff", "text/plain", "caf\u00e9 \ufffd"),
        (b"x" * 400, "text/plain", "x" * 300),
        (b"", "", "(empty body)"),
        (b"", "application/json", "(empty body)"),
        (b" \n ", "text/plain", "(empty body)"),
    ],
)
def test_error_text_html_and_text(body: bytes, content_type: str, text: str) -> None:
    assert error_text(body, content_type) == text


def test_error_text_long_title_is_cut() -> None:
    body = b"<title>" + b"a" * 500 + b"</title>"
    assert error_text(body, "text/html") == "a" * 300


# redact, redacted_headers


@pytest.mark.parametrize(
    ("text", "secrets", "shown"),
    [
        ("key sk-abc and sk-abc", ("sk-abc",), "key *** and ***"),
        ("a=key1 b=key2", ("key1", "key2"), "a=*** b=***"),
        # a secret too short to look for in free text is left (every "k1" would go)
        ("a=k1", ("k1",), "a=k1"),
        # a URL's password goes by the URL's shape, whatever its length
        ("GET http://u:pw@h/v1 failed", (), "GET http://u:***@h/v1 failed"),
        ('{"m": "bad \\"sk-a\\"b\\""}', ('sk-a"b',), '{"m": "bad \\"***\\""}'),
        ("nothing here", ("sk-abc",), "nothing here"),
        ("keep", ("",), "keep"),
        ("keep", (), "keep"),
        ("token=abcdef", ("abc", "abcdef"), "token=***"),
    ],
)
def test_redact(text: str, secrets: tuple[str, ...], shown: str) -> None:
    assert redact(text, secrets) == shown


def test_redacted_headers() -> None:
    headers = {
        "Authorization": "Bearer sk-abc",
        "x-api-key": "sk-abc",
        "Api-Key": "azure-key",
        "Cookie": "session=1",
        "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        "X-Goog-Api-Key": "g-secret",
        "X-Session-Token": "tok-1",
        "Content-Type": "application/json",
        "X-Trace": "key sk-abc here",
        "Referer": "https://h/v1?key=sk-abc",
        "User-Agent": "llmcli/0.1",
    }
    assert redacted_headers(headers, ("sk-abc",)) == {
        "Authorization": "Bearer ***",
        "x-api-key": "***",
        "Api-Key": "***",
        "Cookie": "***",
        "Proxy-Authorization": "Basic ***",
        "X-Goog-Api-Key": "***",
        "X-Session-Token": "***",
        "Content-Type": "application/json",
        "X-Trace": "key *** here",
        "Referer": "https://h/v1?key=***",
        "User-Agent": "llmcli/0.1",
    }
    assert headers["Authorization"] == "Bearer sk-abc"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Bearer sk-abc", "Bearer ***"),
        ("bearer sk-abc", "bearer ***"),
        ("Basic dXNlcjpwYXNz", "Basic ***"),
        ("sk-abc", "***"),
        ("Bearer", "***"),
    ],
)
def test_redacted_authorization(value: str, shown: str) -> None:
    assert redacted_headers({"authorization": value}, ()) == {"authorization": shown}


def test_redacted_headers_accepts_httpx_headers() -> None:
    headers = httpx.Headers({"Authorization": "Bearer sk-abc", "Accept": "text/event-stream"})
    assert redacted_headers(headers, ("sk-abc",)) == {
        "authorization": "Bearer ***",
        "accept": "text/event-stream",
    }


@given(
    st.from_regex(r"[A-Za-z0-9_-]{8,40}", fullmatch=True),
    st.text(max_size=20),
    st.text(max_size=20),
)
def test_redact_never_leaks_a_secret(secret: str, before: str, after: str) -> None:
    shown = redact(before + secret + after, (secret,))
    assert secret not in shown
    shown_headers = redacted_headers({"X-Anything": before + secret + after}, (secret,))
    assert secret not in shown_headers["X-Anything"]


# status_line, retryable_status, backoff


@pytest.mark.parametrize(
    ("status", "reason", "line"),
    [
        (200, "OK", "200 OK"),
        (404, "", "404 Not Found"),
        (402, "", "402 Payment Required"),
        (429, "", "429 Too Many Requests"),
        (503, "", "503 Service Unavailable"),
        (529, "", "529 Overloaded"),
        (599, "", "599"),
        (500, "Upstream Exploded", "500 Upstream Exploded"),
    ],
)
def test_status_line(status: int, reason: str, line: str) -> None:
    assert status_line(status, reason) == line


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (200, False),
        (400, False),
        (401, False),
        (402, False),
        (403, False),
        (404, False),
        (408, True),
        (413, False),
        (422, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (529, True),
    ],
)
def test_retryable_status(status: int, retry: bool) -> None:
    assert retryable_status(status) is retry


@pytest.mark.parametrize(
    ("attempt", "longest"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (40, 8.0), (1024, 8.0)],
)
def test_backoff_range(monkeypatch: pytest.MonkeyPatch, attempt: int, longest: float) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: b)
    assert backoff(attempt) == longest
    monkeypatch.setattr(random, "uniform", lambda a, b: a)
    assert backoff(attempt) == longest / 2


@given(st.integers(0, 64))
def test_backoff_has_jitter_within_bounds(attempt: int) -> None:
    cap = min(8.0, 0.5 * 2.0**attempt)
    assert cap / 2 <= backoff(attempt) <= cap


def test_set_cookie_is_redacted_in_traces() -> None:
    assert redacted_headers({"Set-Cookie": "session=abc"}, ()) == {"Set-Cookie": "***"}


# certificates: seen from a TLS server on loopback, not from httpx's private pool


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Self-signed certificates (key in the same file): one for 127.0.0.1, one for
    another name."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command makes the test certificates")
    folder = tmp_path_factory.mktemp("tls")
    made = {}
    for name, alt in [("loopback", "IP:127.0.0.1"), ("elsewhere", "DNS:elsewhere.invalid")]:
        path = folder / f"{name}.pem"
        key = folder / f"{name}.key"
        command = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
        names = ["-subj", f"/CN={name}", "-addext", f"subjectAltName={alt}"]
        subprocess.run(
            [openssl, *command.split(), *names, "-keyout", str(key), "-out", str(path)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        path.write_bytes(path.read_bytes() + key.read_bytes())
        made[name] = path
    return made


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def tls_server(certificate: Path) -> Iterator[str]:
    """An https server on 127.0.0.1 that answers every GET with ``ok``; yields its URL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/v1/models"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def fetch(url: str) -> bytes:
    """A GET through llmcli's HTTP client, as a run makes it: its body, or the error."""
    with Session(
        RequestLimits(timeout=10, connect_timeout=5, retries=0), log=lambda line: None
    ) as c:
        return c.send(Request("GET", url, {}, gateway="gw")).body


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_https_refuses_a_certificate_it_cannot_verify(
    certificates: dict[str, Path], no_proxy: pytest.MonkeyPatch
) -> None:
    no_proxy.delenv("SSL_CERT_FILE", raising=False)
    no_proxy.delenv("SSL_CERT_DIR", raising=False)
    with tls_server(certificates["loopback"]) as url, pytest.raises(UnavailableError) as info:
        fetch(url)
    assert info.value.exit_code == 69
    assert info.value.message.startswith("cannot connect to gw: [SSL: CERTIFICATE_VERIFY_FAILED]")
    assert "self-signed certificate" in info.value.message


def test_https_trusts_the_ca_bundle_and_checks_the_host_name(
    certificates: dict[str, Path], no_proxy: pytest.MonkeyPatch
) -> None:
    no_proxy.setenv("SSL_CERT_FILE", str(certificates["loopback"]))
    with tls_server(certificates["loopback"]) as url:
        assert fetch(url) == b"ok"
    no_proxy.setenv("SSL_CERT_FILE", str(certificates["elsewhere"]))
    with tls_server(certificates["elsewhere"]) as url, pytest.raises(UnavailableError) as info:
        fetch(url)
    assert "certificate is not valid for '127.0.0.1'" in info.value.message


def test_plain_http_never_loads_a_ca_bundle(no_proxy: pytest.MonkeyPatch) -> None:
    """A run that talks plain http to a local gateway does not pay for (or depend on) the
    CA bundle: a CA file that does not exist is never opened."""
    no_proxy.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    with offline.start() as gw:
        assert fetch(gw.url("models")).startswith(b'{"object":"list"')


def test_redact_removes_escaped_and_padded_spellings_of_a_secret() -> None:
    secret = "sk-proj-REAL\n"
    text = "Illegal header value b'Bearer sk-proj-REAL\\n' and sk-proj-REAL alone"
    assert redact(text, (secret,)) == "Illegal header value b'Bearer ***' and *** alone"


def test_slow_down_before_the_429_comes() -> None:
    from llmcli.http.retry import slow_down

    openai = {"x-ratelimit-remaining-requests": "2", "x-ratelimit-reset-requests": "1.5s"}
    assert slow_down(openai, in_flight=4) == 1.5  # fewer left than in flight: hold
    assert slow_down(openai, in_flight=2) is None
    assert slow_down(
        {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "20ms"}, 1
    ) == (pytest.approx(0.02))
    assert (
        slow_down({"x-ratelimit-remaining-requests": "x", "x-ratelimit-reset-requests": "1s"}, 9)
        is None
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30))
    anthropic = {
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": stamp,
    }
    assert 28 < (slow_down(anthropic, 1) or 0) <= 30
    assert (
        slow_down({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "5m"}, 1)
        == 60.0
    )


# --- Attempts: what comes after each failed attempt (the session's and the engine's) ---


def _failure(message: str = "connection to g broke: reset") -> TemporaryError:
    return TemporaryError(f"{message} (POST https://g/v1/chat/completions)")


def test_attempts_back_off_count_and_say_the_same_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda a, b: b)
    plan = Attempts(2, None, None, clock=lambda: 0.0)
    assert plan.after(_failure(), None, None) == Again(
        0.5, "llmcli: connection to g broke: reset; retry 1/2 in 0.5s"
    )
    assert plan.after(_failure(), None, None) == Again(
        1.0, "llmcli: the same again; retry 2/2 in 1.0s"
    )
    last = plan.after(_failure(), None, None)
    assert isinstance(last, TemporaryError)
    assert last.message == (
        "connection to g broke: reset; 3 attempts, each the same "
        "(POST https://g/v1/chat/completions)"
    )


def test_attempts_take_the_servers_wait_and_never_wait_past_the_deadline() -> None:
    now = [10.0]
    plan = Attempts(5, 13.0, None, clock=lambda: now[0])
    assert plan.after(_failure("HTTP 500"), 2.0, 500) == Again(
        2.0, "llmcli: HTTP 500; retry 1/5 in 2.0s"
    )
    now[0] = 12.0
    gave_up = plan.after(_failure("HTTP 500"), 2.0, 500)
    assert isinstance(gave_up, TemporaryError)
    assert gave_up.message == (
        "HTTP 500; gave up: a retry in 2.0s would pass --timeout "
        "(POST https://g/v1/chat/completions)"
    )
    now[0] = 13.0  # the deadline itself: the error as it is
    late = _failure("timed out")
    assert plan.after(late, None, None) is late
    assert late.message == "timed out (POST https://g/v1/chat/completions)"


def test_attempts_pause_for_a_429_with_a_governor_until_max_wait() -> None:
    plan = Attempts(0, None, 1.0, clock=lambda: 0.0)
    assert plan.after(_failure("HTTP 429"), 0.01, 429) == Pause(0.1)  # at least MIN_PAUSE
    assert plan.after(_failure("HTTP 429"), 0.8, 429) == Pause(0.8)  # not counted as retries
    over = plan.after(_failure("HTTP 429"), 0.5, 429)
    assert isinstance(over, TemporaryError)
    assert over.message == "HTTP 429; gave up: waited 1s (POST https://g/v1/chat/completions)"
    # without a governor, a 429 is a retry like any other; a wait over a minute is not waited
    alone = Attempts(3, None, None, clock=lambda: 0.0).after(_failure("HTTP 429"), 61.0, 429)
    assert isinstance(alone, TemporaryError)
    assert alone.message == "HTTP 429 (POST https://g/v1/chat/completions)"
