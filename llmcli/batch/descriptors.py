"""Enough file descriptors for ``-P N`` requests in flight.

Each request in flight holds a connection (one socket) for its whole exchange; with what
any process has open besides (standard streams, the input and output files, the
interpreter's own, a resolver's sockets, the pool's idle connections) a run needs about
``N + SPARE``. A soft limit lower than that (1,024 is the usual default) would fail rows
with EMFILE half-way through a run; so the soft limit is raised to what ``-P`` needs, up
to the hard limit, the way a server raises its own at start. A hard limit too low for
``-P`` is said before anything is sent, with what to do.
"""

from __future__ import annotations

from llmcli.errors import UsageError

#: descriptors a run holds besides one per request in flight
SPARE = 64


def needed(parallel: int) -> int:
    return parallel + SPARE


def ensure(parallel: int) -> int | None:
    """Raise this process's soft limit on open files to what ``parallel`` requests need
    (never lower it); the new soft limit, or None when it was already enough (or the
    platform has no such limit). ``UsageError`` when the hard limit is too low."""
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    want = needed(parallel)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return None
    if hard != resource.RLIM_INFINITY and hard < want:
        raise UsageError(
            f"-P {parallel} needs about {want:,} open files, and this process may open at "
            f"most {hard:,} (the hard limit): lower -P to {max(hard - SPARE, 1):,}, or raise "
            "the limit (ulimit -Hn, or LimitNOFILE= for a service)"
        )
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):  # a platform's own ceiling (macOS: OPEN_MAX)
        return None
    return want
