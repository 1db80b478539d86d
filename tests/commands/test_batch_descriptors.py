"""``batch run -P N`` and the open-files limit: a soft limit lower than N requests in
flight need is raised (up to the hard limit); a hard limit too low is a usage error
naming both numbers, before anything is sent."""

from __future__ import annotations

import resource
import subprocess
import sys

import orjson
import pytest
from conftest import clean_env

from llmcli import mock as offline
from llmcli.batch.descriptors import SPARE, needed


def batch(
    gw: offline.RunningGateway, parallel: int, rows: int, soft: int, hard: int
) -> subprocess.CompletedProcess[bytes]:
    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    args = ("-P", str(parallel), "--retries", "0", "--base-url", gw.base_url)
    args += ("-H", "X-Mock-Fault: delay=300")
    return subprocess.run(
        [sys.executable, "-m", "llmcli", "batch", "run", "-m", "echo", *args],
        input=b"".join(b"row %d\n" % i for i in range(rows)),
        capture_output=True,
        env=clean_env({"LLMCLI_API_KEY": "k"}),
        preexec_fn=limited,
        timeout=60,
        check=False,
    )


def test_a_soft_limit_lower_than_p_needs_is_raised(gw: offline.RunningGateway) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed(150):
        pytest.skip("the hard limit here is too low")
    done = batch(gw, 150, 150, 48, needed(150))
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [line["response"]["status_code"] for line in lines] == [200] * 150


def test_a_hard_limit_too_low_is_a_usage_error_before_anything_is_sent(
    gw: offline.RunningGateway,
) -> None:
    done = batch(gw, 2000, 3, 256, 1024)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        f"llmcli: -P 2000 needs about {2000 + SPARE:,} open files, and this process may open "
        f"at most 1,024 (the hard limit): lower -P to {1024 - SPARE:,}, or raise the limit "
        "(ulimit -Hn, or LimitNOFILE= for a service)\n"
    )
    assert done.stdout == b""
    assert list(gw.requests) == []
