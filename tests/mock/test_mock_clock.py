"""The offline gateway's clock (llmcli.mock.clock): real time plus an offset that tests
move on, never back; what it moves (batches, budget windows) is tested with them."""

from __future__ import annotations

import time

import httpx
import pytest

from llmcli import mock
from llmcli.mock.clock import Clock


def test_advance_moves_both_clocks_by_the_same_seconds() -> None:
    clock = Clock()
    before = (time.time(), time.monotonic())
    assert clock.wall() >= before[0] and clock.monotonic() >= before[1]
    clock.advance(3600)
    clock.advance(0)
    clock.advance(0.5)
    assert clock.offset == 3600.5
    assert clock.wall() >= before[0] + 3600.5 and clock.monotonic() >= before[1] + 3600.5


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_the_clock_never_goes_back(seconds: float) -> None:
    clock = Clock()
    with pytest.raises(ValueError, match="advance: expected seconds from 0 on"):
        clock.advance(seconds)
    assert clock.offset == 0.0


def test_a_gateway_runs_on_real_time_until_a_test_moves_it() -> None:
    with mock.start(batch_seconds=3600) as gw, httpx.Client(base_url=gw.base_url) as c:
        body = {"requests": [{"custom_id": "a", "params": {"model": "echo", "max_tokens": 5}}]}
        created = c.post("/messages/batches", json=body).json()
        path = f"/messages/batches/{created['id']}"
        assert c.get(path).json()["processing_status"] == "in_progress"
        with pytest.raises(ValueError):
            gw.advance_clock(-1)
        gw.advance_clock(3600)
        assert c.get(path).json()["processing_status"] == "ended"
