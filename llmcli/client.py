"""``llmcli.Client``: a resolved gateway and one HTTP session, for commands and programs.

The CLI's commands, the batch runner and a user's own program (a Ray, Dask or Spark job)
all talk to gateways through this class, so they resolve gateways, keys and config the
same way (flags > environment > config file > built-in, DESIGN.md) and share one request
path: ``chat``, ``messages`` and ``responses`` build the same request, run the same
``Exchange`` and return the same dict whether the body streams or not.

    >>> client = llmcli.Client("mock")
    >>> client.chat({"model": "echo", "messages": [{"role": "user", "content": "hi"}]})
    {'id': ..., 'object': 'chat.completion', 'choices': [...], ...}

A client is safe to share between threads (``llmcli.batch`` does): its HTTP pool is made
on first use. Failures raise ``llmcli.Error`` subclasses carrying the CLI's exit code.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmcli.config import MOCK, Gateway, resolve
from llmcli.errors import ConfigError, UsageError
from llmcli.exchange import Exchange
from llmcli.http.request import Blob, Body, Request, header_problem, parse_reply, serialize
from llmcli.protocol.chat import CHAT
from llmcli.protocol.dialect import Dialect
from llmcli.protocol.messages import MESSAGES
from llmcli.protocol.messages import shapes as messages_shapes
from llmcli.protocol.pieces import Piece
from llmcli.protocol.responses import RESPONSES
from llmcli.redaction import header_secrets, url_secrets
from llmcli.version import __version__

if TYPE_CHECKING:
    from llmcli.http.cache import ResponseCache
    from llmcli.http.governor import Governor
    from llmcli.http.recording import Recorder, Reroute
    from llmcli.http.session import Answer, Session, Timing

JSON = dict[str, Any]
MAX_PAGES = 50  # of a paged model list


def _cassettes(
    record: str | os.PathLike[str] | None, replay: str | os.PathLike[str] | None
) -> tuple[str | os.PathLike[str] | None, str | os.PathLike[str] | None]:
    """--record / --replay, or LLMCLI_RECORD / LLMCLI_REPLAY (flags beat the environment)."""
    if record is None and replay is None:
        record = os.environ.get("LLMCLI_RECORD") or None
        replay = os.environ.get("LLMCLI_REPLAY") or None
    if record and replay:
        raise UsageError("--record and --replay cannot be used together")
    return record, replay


#: the endpoints whose answers --cache keeps: questions to a model
CACHEABLE = frozenset({"chat", "messages", "responses", "embeddings"})


def response_cache(
    cache: ResponseCache | str | os.PathLike[str] | bool | None,
) -> ResponseCache | None:
    """``Client(cache=…)``: a ``ResponseCache`` as given, one in the folder given, one as
    ``LLMCLI_CACHE`` places it (True), none (False); None: as ``LLMCLI_CACHE`` says."""
    from llmcli.http.cache import ResponseCache, chosen

    if isinstance(cache, ResponseCache):
        return cache
    if isinstance(cache, bool | None):
        return chosen(cache, os.environ.get("LLMCLI_CACHE"))
    return ResponseCache(cache)


def _serving(
    gateway: Gateway, replay: str | os.PathLike[str] | None
) -> tuple[Gateway, Reroute | None]:
    """The gateway as this process reaches it: with a replay, every URL goes to a gateway
    answering from the cassette; ``mock`` without a URL is the offline gateway, started
    here on loopback (a daemon thread until the process exits: stopping it would only add
    its shutdown poll to every run; its batches live on disk, so ``batch fetch`` in the
    next process finds them)."""
    unplaced = gateway.name == MOCK and not gateway.base_url
    if replay:
        from llmcli.http.recording import Reroute, replay_gateway

        running = replay_gateway(replay)
        if unplaced:
            gateway = dataclasses.replace(gateway, base_url=running.base_url)
        return gateway, Reroute(running.base_url)
    if unplaced:
        from llmcli import mock
        from llmcli.state import state_dir

        running = mock.start(batch_dir=state_dir() / "mock-batches")
        gateway = dataclasses.replace(gateway, base_url=running.base_url)
    return gateway, None


class Client:
    """A gateway (built-in, configured, or ``base_url=…``) and one HTTP session.

    ``gateway`` names a built-in or configured gateway (``"mock"`` starts the offline
    gateway in this process); ``base_url`` talks to any compatible server, or moves the
    named gateway there. ``api_key`` beats every other key source; ``model`` is the
    default of requests that name none. ``timeout`` is the deadline of a whole request,
    retries and waits included; ``retries`` how often a request that failed before any
    of its answer arrived is tried again. ``record`` appends every exchange to a cassette
    (JSONL, keys left out); ``replay`` answers every request from one instead of the
    network, no key needed (neither given: ``LLMCLI_RECORD`` / ``LLMCLI_REPLAY``).
    ``cache`` answers a question to a model asked before from disk (True: in
    ``$XDG_CACHE_HOME/llmcli/responses``; a folder; a ``ResponseCache`` for its age and
    refresh; None: as ``LLMCLI_CACHE`` says).
    """

    def __init__(
        self,
        gateway: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = 600.0,
        connect_timeout: float | None = 10.0,
        retries: int = 2,
        verbose: bool = False,
        log: Callable[[str], None] | None = None,
        governor: Governor | None = None,
        require_key: bool = True,
        fallback: str = "openai",
        record: str | os.PathLike[str] | None = None,
        replay: str | os.PathLike[str] | None = None,
        cache: ResponseCache | str | os.PathLike[str] | bool | None = None,
    ) -> None:
        record, replay = _cassettes(record, replay)
        resolved = resolve(
            gateway,
            base_url,
            model,
            require_key=require_key and api_key is None and not replay,
            fallback=fallback,
        )
        self.model = resolved.model
        self._key = api_key.strip() if api_key else resolved.key
        self.extra_headers = dict(headers or {})
        for name, value in [*resolved.gateway.headers.items(), *self.extra_headers.items()]:
            if problem := header_problem(name, value):
                raise ConfigError(f"gateway {resolved.gateway.name!r}: {problem}")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.verbose = verbose
        self.log = log or (lambda line: None)
        self.governor = governor
        self._http: Session | None = None
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] | None = None
        self._recorder: Recorder | None = None
        if record:
            from llmcli.http.recording import Recorder

            self._recorder = Recorder(record)
        self.gateway, self._reroute = _serving(resolved.gateway, replay)
        # a replay answers from its cassette, never from (nor into) the cache
        self.cache = response_cache(cache) if not replay else None
        if self.cache is not None and self.gateway.base_url != resolved.gateway.base_url:
            self.cache.alias(self.gateway.base_url or "", self.gateway.name)  # -g mock's port

    # the HTTP session ---------------------------------------------------------------

    @property
    def _session(self) -> Session:
        """The one HTTP session, made on first use (``--dry-run`` never imports httpx).
        Private: every request goes out through ``send``, ``download`` or ``exchange``,
        which keep DESIGN's Limits (deadlines, caps, secrets scrubbed, retries)."""
        if self._http is None:
            with self._lock:
                if self._http is None:
                    from llmcli.http.session import RequestLimits, Session

                    limits = RequestLimits(self.timeout, self.connect_timeout, self.retries)
                    self._http = Session(
                        limits,
                        self.log,
                        verbose=self.verbose,
                        governor=self.governor,
                        recorder=self._recorder,
                        reroute=self._reroute,
                        cache=self.cache,
                    )
        return self._http

    @property
    def timing(self) -> Timing | None:
        return self._http.timing if self._http is not None else None

    def close(self) -> None:
        if self._http is not None:
            self._http.__exit__()
            self._http = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # requests -----------------------------------------------------------------------

    @property
    def secrets(self) -> tuple[str, ...]:
        """Everything no message may show: the key, credential headers, URL passwords."""
        if self._secrets is None:
            headers = {**self.gateway.headers, **self.extra_headers}
            base = self.gateway.base_url
            found = [self._key or "", *header_secrets(headers), *url_secrets(base)]
            self._secrets = tuple(dict.fromkeys(s for s in found if s))
        return self._secrets

    def headers(
        self, *, stream: bool = False, json_body: bool = True, defaults: Mapping[str, str] = {}
    ) -> dict[str, str]:
        """Ours, then the gateway's, then the caller's: a later one replaces an earlier
        of the same name (case-insensitively)."""
        headers = {"User-Agent": f"llmcli/{__version__}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        headers["Accept"] = "text/event-stream" if stream else "application/json"
        if self._key and self.gateway.auth == "bearer":
            headers["Authorization"] = f"Bearer {self._key}"
        elif self._key and self.gateway.auth == "x-api-key":
            headers["x-api-key"] = self._key
        for name, value in [
            *defaults.items(),
            *self.gateway.headers.items(),
            *self.extra_headers.items(),
        ]:
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = value
        return headers

    def request(
        self,
        method: str,
        endpoint: str,
        body: Mapping[str, Any] | None = None,
        *,
        stream: bool = False,
        blobs: Sequence[Blob] = (),
    ) -> Request:
        """The HTTP request for ``endpoint`` (chat, messages, responses, embeddings,
        models)."""
        defaults = (
            {"anthropic-version": messages_shapes.ANTHROPIC_VERSION}
            if endpoint == "messages"
            else {}
        )
        url = self.gateway.url(endpoint)
        headers = self.headers(stream=stream, json_body=body is not None, defaults=defaults)
        data = serialize(body, blobs) if body is not None else None
        cacheable = method == "POST" and endpoint in CACHEABLE
        return self._request(method, url, headers, data, cacheable=cacheable)

    def api_request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        *,
        api: str = "openai",
        content_type: str = "application/json",
        once: bool = False,
        bounded: bool = True,
    ) -> Request:
        """A request to ``path`` under the gateway's base URL, for a batch API (``api``:
        "openai" or "anthropic", whose version header it then carries)."""
        defaults = (
            {"anthropic-version": messages_shapes.ANTHROPIC_VERSION} if api == "anthropic" else {}
        )
        if data is not None:
            defaults = {"Content-Type": content_type, **defaults}
        headers = self.headers(json_body=False, defaults=defaults)
        url = self.gateway.at(path)
        return self._request(method, url, headers, data, once=once, bounded=bounded)

    def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | Body | None,
        **flags: bool,
    ) -> Request:
        secrets = self.secrets
        if "@" in url:  # a whole-URL endpoint may carry a password of its own
            secrets = tuple(dict.fromkeys((*secrets, *url_secrets(url))))
        return Request(
            method,
            url,
            headers,
            data,
            gateway=self.gateway.name,
            secrets=secrets,
            no_key=self._no_key(),
            **flags,
        )

    def _no_key(self) -> str | None:
        """Where a key would come from, when none is sent (a 401 then says so)."""
        if self._key or self.gateway.auth == "none" or self._reroute is not None:
            return None  # (a replay needs no key: its 401s read as recorded)
        from llmcli.config.keys import describe_sources

        return describe_sources(self.gateway)

    def body(self, endpoint: str, body: Mapping[str, Any]) -> JSON:
        """A request body with the gateway's default params below it (chat, messages,
        responses) and the default model when it names none."""
        full: JSON = (
            {**self.gateway.params, **body}
            if endpoint in ("chat", "messages", "responses")
            else dict(body)
        )
        if not full.get("model"):
            model = self.model if endpoint != "embeddings" else self.gateway.embedding_model
            if not model:
                raise UsageError("no model: pass -m MODEL or set LLMCLI_MODEL")
            full["model"] = model
        return full

    def exchange(
        self,
        request: Request,
        dialect: Dialect = CHAT,
        *,
        stream: bool,
        keep_text: bool = True,
        lines: bool = False,
    ) -> Exchange:
        """The exchange of one prepared request, to iterate read by read."""
        return Exchange(
            self._session, request, dialect, stream=stream, keep_text=keep_text, lines=lines
        )

    def cached(self, request: Request) -> Answer | None:
        """The answer --cache kept for an identical request, or None."""
        return self._session.cached(request)

    @property
    def recording(self) -> bool:
        """--record: every exchange goes to a cassette."""
        return self._recorder is not None

    @property
    def replaying(self) -> bool:
        """--replay: every request is answered from a cassette."""
        return self._reroute is not None

    def answered(self, headers: list[tuple[str, str]]) -> None:
        """A request sent elsewhere (the batch engine's loop) was answered: the run's
        timing (its first byte, its end, the last answer's head), as ``send`` keeps it,
        for ``--usage``."""
        import httpx

        timing = self._session.timing
        timing.mark_first_byte()
        timing.end = time.perf_counter()
        timing.headers = httpx.Headers(headers)

    def keep(self, request: Request, answer: Answer) -> None:
        """--cache: keep an answer ``send`` gave, once it was checked (a 200 may carry an
        error, or the wrong number of vectors)."""
        self._session.keep(request, answer)

    def send(self, request: Request, *, halted: Callable[[], bool] | None = None) -> Answer:
        """The whole answer of a request (a 2xx: others raise), every promise of DESIGN's
        Limits kept; ``halted``: no attempt starts once it says True (a stopped batch)."""
        return self._session.send(request, halted)

    def download(self, request: Request) -> Iterator[bytes]:
        """The body of a request as it arrives (a batch's results file), scrubbed and
        capped as any other; the response is closed when the iteration ends."""
        session = self._session
        with session.open(request) as response:
            yield from session.iter_bytes(request, response)

    # the API --------------------------------------------------------------------------

    def chat(
        self,
        body: Mapping[str, Any],
        *,
        tools: Mapping[str, Callable[..., Any]] | None = None,
        max_steps: int = 10,
    ) -> JSON:
        """A Chat Completions request; the ``chat.completion`` dict. A body with
        ``stream: true`` is streamed and returned assembled: the same dict. ``tools``:
        Python callables the model may call (keyword arguments in, a string or JSON
        value out; declared from their signatures when the body does not declare them),
        run and answered until a reply calls none (the one returned) or ``max_steps``
        requests went out (``TemporaryError``)."""
        return self._whole("chat", CHAT, body, tools, max_steps)

    def messages(
        self,
        body: Mapping[str, Any],
        *,
        tools: Mapping[str, Callable[..., Any]] | None = None,
        max_steps: int = 10,
    ) -> JSON:
        """An Anthropic Messages request; the ``message`` dict, streamed or not;
        ``tools`` as for ``chat``."""
        return self._whole("messages", MESSAGES, body, tools, max_steps)

    def responses(
        self,
        body: Mapping[str, Any],
        *,
        tools: Mapping[str, Callable[..., Any]] | None = None,
        max_steps: int = 10,
    ) -> JSON:
        """A Responses API request; the ``response`` dict. A body with ``stream: true``
        is streamed and returned as its terminal event carries it (checked against the
        deltas; its output rebuilt from them when the server sent it empty); ``tools``
        as for ``chat``."""
        return self._whole("responses", RESPONSES, body, tools, max_steps)

    def stream(self, body: Mapping[str, Any], *, api: str = "chat") -> Iterator[Piece]:
        """Stream a chat (``api="messages"``: a Messages, ``api="responses"``: a
        Responses) request: ``Piece`` values as they arrive (``kind`` "content" or
        "reasoning", ``text``, ``choice``), then one ``Piece`` of kind "reply" whose
        ``data`` is the assembled reply."""
        dialects = {"chat": CHAT, "messages": MESSAGES, "responses": RESPONSES}
        if api not in dialects:
            raise UsageError(f"api must be one of chat, messages, responses, not {api!r}")
        endpoint, dialect = api, dialects[api]
        full = {**self.body(endpoint, body), "stream": True}
        exchange = self.exchange(
            self.request("POST", endpoint, full, stream=True), dialect, stream=True
        )
        for read in exchange:
            yield from read.pieces
        yield Piece("reply", 0, "", exchange.reply)

    def _whole(
        self,
        endpoint: str,
        dialect: Dialect,
        body: Mapping[str, Any],
        tools: Mapping[str, Callable[..., Any]] | None = None,
        max_steps: int = 10,
    ) -> JSON:
        if tools:
            from llmcli.tools import callables
            from llmcli.tools.loop import Loop

            box = callables.toolbox(tools, max_steps)
            return Loop(endpoint, box, lambda b: self._whole(endpoint, dialect, b)).run(body)
        full = self.body(endpoint, body)
        stream = bool(full.get("stream"))
        if stream and endpoint == "chat":  # the usage the same request would return whole
            full.setdefault("stream_options", {"include_usage": True})
        exchange = self.exchange(
            self.request("POST", endpoint, full, stream=stream), dialect, stream=stream
        )
        for _ in exchange:
            pass
        assert exchange.reply is not None
        return exchange.reply

    def embed(self, inputs: Sequence[str], *, model: str | None = None, **params: Any) -> JSON:
        """Embeddings of ``inputs``: the answer body, its ``data`` in input order with
        every embedding as floats (base64 answers decoded)."""
        from llmcli.protocol import embeddings

        body = self.body(
            "embeddings", {**params, "input": list(inputs), **({"model": model} if model else {})}
        )
        request = self.request("POST", "embeddings", body)
        sent = self.send(request)
        answer: JSON = parse_reply(sent.body, request)
        vectors = embeddings.vectors(answer, len(inputs), self.gateway.name)
        self.keep(request, sent)  # --cache: checked
        answer["data"] = [
            {"object": "embedding", "index": i, "embedding": vector}
            for i, vector in enumerate(vectors)
        ]
        return answer

    def models(self) -> list[JSON]:
        """Every model the gateway lists, following pages (Anthropic pages its list)."""
        request = self.request("GET", "models")
        return self.model_pages(request, self.send(request).body)

    def model_pages(self, request: Request, body: bytes) -> list[JSON]:
        """The models of a first answer and of every page after it."""
        import urllib.parse

        from llmcli.protocol import model_list

        where = self.gateway.name
        parsed = parse_reply(body, request)
        found: list[JSON] = model_list.model_list(parsed, where)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            after = model_list.next_page(parsed)
            if after is None or after in seen:  # a server repeating itself gets no loop
                break
            seen.add(after)
            parts = urllib.parse.urlsplit(request.url)
            query = urllib.parse.urlencode(
                [*urllib.parse.parse_qsl(parts.query), ("after_id", after)]
            )
            page = dataclasses.replace(request, url=parts._replace(query=query).geturl())
            parsed = parse_reply(self.send(page).body, page)
            found.extend(model_list.model_list(parsed, where))
        return found
