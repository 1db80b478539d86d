"""The shared rate governor (llmcli.governor): pauses, AIMD concurrency, threads."""

from __future__ import annotations

import threading
import time

from llmcli.governor import Governor


def test_a_pause_holds_every_worker_until_it_ends() -> None:
    governor = Governor(4)
    assert governor.pause(0.3) is True
    assert governor.pause(0.1) is False  # inside the pause: no new pause, no new line
    started = time.monotonic()
    entered: list[float] = []

    def work() -> None:
        with governor.slot():
            entered.append(time.monotonic() - started)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(entered) == 3
    assert min(entered) >= 0.29


def test_a_pause_halves_concurrency_and_successes_win_it_back() -> None:
    now = [0.0]
    governor = Governor(8, clock=lambda: now[0])
    governor.pause(1)
    assert governor.limit == 4
    now[0] = 2.0
    governor.pause(1)
    assert governor.limit == 2
    for _ in range(2):
        governor.succeeded()
    assert governor.limit == 3
    for _ in range(3 + 4 + 5 + 6 + 7):
        governor.succeeded()
    assert governor.limit == 8
    governor.succeeded()
    assert governor.limit == 8


def test_no_more_than_limit_in_flight() -> None:
    governor = Governor(2)
    inside = [0]
    most = [0]
    lock = threading.Lock()

    def work() -> None:
        with governor.slot():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert most[0] == 2
    assert governor.in_flight == 0
