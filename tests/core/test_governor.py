"""The shared rate governor (llmcli.http.governor): pauses, AIMD concurrency, threads."""

from __future__ import annotations

import threading
import time

from llmcli.http.governor import Governor, Halted


def test_a_pause_holds_every_worker_until_it_ends() -> None:
    now = [100.0]  # the governor's clock: only this test moves it
    governor = Governor(4, clock=lambda: now[0])
    assert governor.pause(0.3) is True
    assert governor.pause(0.1) is False  # inside the pause: no new pause, no new line
    entered: list[float] = []  # the governor's time when each worker got its slot

    def work() -> None:
        with governor.slot():
            entered.append(now[0])

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # more than the pause in real time: the governor's clock is what counts
    assert entered == []
    now[0] = 100.5  # the pause is over: each worker sees it when its wait times out
    for thread in threads:
        thread.join(10)
    assert entered == [100.5] * 3


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
    release = threading.Event()

    def work() -> None:
        with governor.slot():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            release.wait(10)  # the first two hold their slots until the test has looked
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10  # a state to wait for, not a time to take
    while inside[0] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # the other six had time to push in, had the governor let them
    assert (governor.in_flight, inside[0]) == (2, 2)
    release.set()
    for thread in threads:
        thread.join(10)
    assert most[0] == 2
    assert governor.in_flight == 0


def test_a_halt_refuses_every_slot_until_reopened() -> None:
    governor = Governor(4)
    governor.pause(3600)  # a worker waiting out a pause sends nothing after a halt either
    refused: list[BaseException] = []

    def worker() -> None:
        try:
            with governor.slot():
                pass
        except Halted as e:
            refused.append(e)

    thread = threading.Thread(target=worker)
    thread.start()
    governor.halt()
    thread.join(timeout=30)
    assert not thread.is_alive() and len(refused) == 1
    governor.reopen()
    governor.resume_at = 0.0
    with governor.slot() as ticket:
        assert ticket == 1


def test_enter_takes_a_place_only_when_the_pause_is_over_and_one_is_free() -> None:
    now = [0.0]
    governor = Governor(2, clock=lambda: now[0])
    assert (governor.enter(), governor.enter(), governor.enter()) == (0, 0, None)
    governor.leave()
    governor.pause(1.0)  # a 429: one pause, the limit halved to 1
    assert governor.enter() is None  # paused (and full: one in flight, limit 1)
    now[0] = 1.5
    assert governor.enter() is None  # the pause is over, but one is in flight of 1
    governor.leave()
    assert (governor.enter(), governor.in_flight) == (1, 1)  # the ticket: pauses so far
    governor.halt()
    try:
        governor.enter()
    except Halted:
        pass
    else:
        raise AssertionError("a halted governor let a request in")
