"""``--fallback GATEWAY[:MODEL]`` (or ``fallback = [...]`` in a gateway's config): when a
request fails before any output — no connection, a 5xx or a 429 after its retries — the
next gateway is asked, with one line on stderr (DESIGN.md, "Daily use").

Never after output began (a word of the reply on stdout, or an earlier step of a tool
loop that got its reply), never for an answer the request itself caused (a 4xx other than
429), a deadline (``--timeout``), a refusal of the key (401/403), or a failure of the
reply itself (76).
The body moves with it: the first gateway's default params out, the next one's in, and
its model: the one named after the colon, else the gateway's configured model, else the
model asked for. Once a fallback answered, the rest of the run (a tool loop's steps)
stays with it. A credential header given with ``-H`` is not sent to a fallback (it was
meant for the first gateway); other ``-H`` headers are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmcli.errors import LlmcliError, ReplayMiss, TemporaryError, UnavailableError

if TYPE_CHECKING:
    from llmcli.cli.options import Caching, Connection
    from llmcli.client import Client
    from llmcli.config.gateway import Gateway
    from llmcli.io.outputs import Output

JSON = dict[str, Any]
Send = Callable[[JSON], JSON]


def chain(flags: Sequence[str] | None, gateway: Gateway) -> list[tuple[str, str | None]]:
    """The fallbacks in order, as (gateway, model or None): the flags' (repeatable), else
    the gateway's config ``fallback``; the gateway itself is never its own fallback."""
    specs = list(flags) if flags else list(gateway.fallback)
    found = []
    for spec in specs:
        name, _, model = spec.partition(":")  # a model may hold colons (llama3:8b)
        if name.strip() and name.strip() != gateway.name:
            found.append((name.strip(), model.strip() or None))
    return found


def falls_back(error: LlmcliError) -> bool:
    """Whether another gateway may answer what this one failed: no connection or a 5xx
    (69, a replay's miss aside), or a 429, each after its retries."""
    if isinstance(error, ReplayMiss):
        return False
    if isinstance(error, UnavailableError):
        return True
    return isinstance(error, TemporaryError) and error.status == 429


def _credential(header: str) -> bool:
    from llmcli.redaction import is_credential_header

    return is_credential_header(header.partition(":")[0].strip())


def moved(body: Mapping[str, Any], first: Gateway, then: Gateway, model: str | None) -> JSON:
    """A body built for ``first``, for ``then``: ``first``'s default params that it still
    holds as they were out, ``then``'s in below the rest, and the model (see above)."""
    rest = {k: v for k, v in body.items() if k not in first.params or first.params[k] != v}
    new: JSON = {**then.params, **rest}
    new["model"] = model or then.model or body.get("model")
    return new


class Falling:
    """The sender of a run with fallbacks: the first gateway's, then each fallback's
    while the one before failed before any output."""

    def __init__(
        self,
        fallbacks: list[tuple[str, str | None]],
        client: Client,
        send: Send,
        common: Connection,
        caching: Caching | None,
        endpoint: str,
        out: Output,
        stack: contextlib.ExitStack,
    ) -> None:
        self.fallbacks = list(fallbacks)
        self.client = client
        self.send = send
        self.first = client.gateway
        self.model: str | None = None
        self.common = common
        self.caching = caching
        self.endpoint = endpoint
        self.out = out
        self.stack = stack
        self.answered = False  # a request of this run got its reply
        from llmcli.config.resolve import select

        for name, _ in self.fallbacks:  # an unknown one is named before anything is sent
            select(name, None, os.environ)

    def sender(self, for_client: Callable[[Client], Send]) -> Send:
        def send(body: JSON) -> JSON:
            while True:
                current = body
                if self.client.gateway is not self.first:
                    current = moved(body, self.first, self.client.gateway, self.model)
                try:
                    reply = self.send(current)
                except LlmcliError as e:
                    # an earlier step answered (a tool loop): the run is under way there
                    late = self.answered or self.out.written
                    if not self.fallbacks or late or not falls_back(e):
                        raise
                    self._next(e, for_client)
                    continue
                self.answered = True
                return reply

        return send

    def _next(self, error: LlmcliError, for_client: Callable[[Client], Send]) -> None:
        """The next fallback that can be reached (one whose key or config is missing is
        named and passed over); the error again when none is left."""
        from llmcli.cli.client import open_client

        while self.fallbacks:
            name, model = self.fallbacks.pop(0)
            shown = f"{name}:{model}" if model else name
            self.out.note(f"llmcli: {error.message}; trying the fallback {shown}")
            # -H credentials were meant for the first gateway: never sent to another
            shared = [h for h in self.common.header or [] if not _credential(h)]
            common = dataclasses.replace(
                self.common, gateway=name, base_url=None, model=model, header=shared
            )
            try:
                client = self.stack.enter_context(open_client(common, caching=self.caching))
                client.gateway.url(self.endpoint)  # it serves this endpoint
            except LlmcliError as e:
                error = e
                continue
            self.client, self.model = client, model
            self.send = for_client(client)
            return
        raise error
