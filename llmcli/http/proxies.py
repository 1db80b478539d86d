"""Proxies of the environment (``http_proxy``, ``https_proxy``, ``all_proxy``,
``no_proxy``): the URLs a proxy takes go through httpx's own transport, which honours
it, and each connection that transport makes is watched from the moment it exists
(httpcore's ``trace`` hook), so a request's deadline holds there as it does through
``llmcli.http.transport``. A proxied connection is never kept alive: a watch must not
outlive its request's use of the connection.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from llmcli.http.watchdog import Watch, Watchdog

if TYPE_CHECKING:
    import httpx

__all__ = ["Tracer", "proxy_in_environment", "proxy_mounts"]


def proxy_mounts() -> dict[str, httpx.BaseTransport | None]:
    """httpx's transports for the proxies of the environment, as httpx mounts them when
    it makes its own transport (``no_proxy`` patterns: None, ours)."""
    import httpx
    from httpx._utils import get_environment_proxies

    fresh = httpx.Limits(max_keepalive_connections=0)
    return {
        pattern: None if url is None else httpx.HTTPTransport(proxy=url, limits=fresh)
        for pattern, url in get_environment_proxies().items()
    }


def proxy_in_environment() -> bool:
    names = ("http_proxy", "https_proxy", "all_proxy")
    return any(os.environ.get(n) or os.environ.get(n.upper()) for n in names)


class Tracer:
    """httpcore's ``trace`` hook, for a request through a proxy: each connection it makes
    (and the TLS stream over it) is watched from the moment it exists, so the request's
    deadline holds over the head too, as ``llmcli.http.transport`` makes it hold."""

    def __init__(self, watchdog: Watchdog, deadline: float) -> None:
        self._watchdog = watchdog
        self._deadline = deadline
        self._watches: list[Watch] = []

    def __call__(self, event: str, info: dict[str, object]) -> None:
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            stream = info.get("return_value")
            get = getattr(stream, "get_extra_info", None)
            sock = get("socket") if get is not None else None
            if sock is not None:
                self._watches.append(self._watchdog.watch(self._deadline, sock))

    def cancel(self) -> None:
        for watch in self._watches:
            self._watchdog.cancel(watch)
