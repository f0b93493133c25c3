"""SimLoop and RealLoop: the timer contract both clocks share."""

from __future__ import annotations

import os

import pytest

from tuxnet.loop import RealLoop, SimLoop, SoonOnce


def test_sim_time_order_and_fifo_for_equal_times() -> None:
    loop = SimLoop()
    seen: list[tuple[int, str]] = []
    for name, when in [("c", 30), ("a", 10), ("b1", 20), ("b2", 20), ("b3", 20)]:
        loop.call_at(when, lambda n=name: seen.append((loop.now_ns(), n)))
    loop.run()
    assert seen == [(10, "a"), (20, "b1"), (20, "b2"), (20, "b3"), (30, "c")]
    assert loop.now_ns() == 30


def test_sim_call_later_and_soon_are_relative_to_now() -> None:
    loop = SimLoop(start_ns=1_000)
    out: list[int] = []
    loop.call_later(500, lambda: out.append(loop.now_ns()))
    loop.call_soon(lambda: out.append(loop.now_ns()))
    loop.run()
    assert out == [1_000, 1_500]


def test_soon_once_schedules_its_step_once_per_turn() -> None:
    loop = SimLoop()
    runs: list[int] = []
    ready = [True]
    wake = SoonOnce(loop, lambda: runs.append(loop.now_ns()), lambda: ready[0])
    wake()
    wake()  # already scheduled: nothing more
    assert wake.scheduled and loop.pending() == 1
    loop.run()
    assert runs == [0] and not wake.scheduled
    ready[0] = False
    wake()  # not ready: nothing
    assert not wake.scheduled and loop.pending() == 0
    ready[0] = True
    loop.call_later(5, wake)
    loop.run()
    assert runs == [0, 5]


def test_soon_once_step_may_wake_itself_again() -> None:
    loop = SimLoop()
    runs: list[int] = []

    def step() -> None:
        runs.append(loop.now_ns())
        if len(runs) < 3:
            wake()  # a wake-up during the step schedules the next pass

    wake = SoonOnce(loop, step)
    wake()
    loop.run()
    assert runs == [0, 0, 0]


def test_sim_cancel_and_run_once() -> None:
    loop = SimLoop()
    out: list[str] = []
    h1 = loop.call_later(10, out.append, "x")
    loop.call_later(20, out.append, "y")
    h1.cancel()
    loop.run()
    assert out == ["y"]
    assert h1.cancelled


def test_sim_run_until_stops_and_sets_clock() -> None:
    loop = SimLoop()
    out: list[int] = []
    for t in (100, 200, 300):
        loop.call_at(t, out.append, t)
    loop.run(until_ns=250)
    assert out == [100, 200]
    assert loop.now_ns() == 250
    loop.run(until_ns=250)  # idempotent
    assert out == [100, 200]
    loop.run()
    assert out == [100, 200, 300]


def test_sim_past_time_never_moves_clock_back() -> None:
    loop = SimLoop()
    out: list[int] = []

    def first() -> None:
        loop.call_at(5, lambda: out.append(loop.now_ns()))

    loop.call_at(50, first)
    loop.run()
    assert out == [50]


def test_sim_stop_and_negative_delay() -> None:
    loop = SimLoop()
    out: list[int] = []
    loop.call_at(1, lambda: (out.append(1), loop.stop()))
    loop.call_at(2, out.append, 2)
    loop.run()
    assert out == [1]
    loop.run()
    assert out == [1, 2]
    with pytest.raises(ValueError):
        loop.call_later(-1, out.append, 3)


def test_sim_is_deterministic() -> None:
    def trace() -> list[tuple[int, int]]:
        loop = SimLoop()
        log: list[tuple[int, int]] = []

        def ev(i: int) -> None:
            log.append((loop.now_ns(), i))
            if i < 200:
                loop.call_later((i * 7919) % 13, ev, i + 1)
                loop.call_later((i * 104729) % 5, ev, i + 1000)

        loop.call_soon(ev, 0)
        loop.run(until_ns=10_000)
        return log

    assert trace() == trace()


def test_sim_run_inline_at_only_when_next_and_within_run() -> None:
    loop = SimLoop()
    out: list[tuple[int, object]] = []
    assert not loop.run_inline_at(5)  # not inside run()

    def step(n: int) -> None:
        out.append((loop.now_ns(), n))
        if n < 3:
            # due at 10: another event comes at 20, so chunks at 12 and 14 run inline,
            # the one at 20 goes through the heap after "other" (FIFO, scheduled first)
            when = loop.now_ns() + (2 if n < 2 else 6)
            if loop.run_inline_at(when):
                step(n + 1)
            else:
                loop.call_at(when, step, n + 1)

    loop.call_at(10, step, 0)
    loop.call_at(20, lambda: out.append((loop.now_ns(), "other")))
    loop.run(until_ns=100)
    assert out == [(10, 0), (12, 1), (14, 2), (20, "other"), (20, 3)]
    assert loop.events_run == 5  # inline runs count as events
    loop.call_at(200, lambda: out.append((loop.now_ns(), "late")))
    loop.call_at(150, lambda: out.append((loop.now_ns(), loop.run_inline_at(250))))
    loop.run(until_ns=160)
    assert out[-1] == (150, False)  # past the run's limit
    loop.stop()


@pytest.mark.parametrize("busy_poll", [False, True])
def test_real_loop_timers_and_reader(busy_poll: bool) -> None:
    loop = RealLoop()
    loop.busy_poll = busy_poll  # spinning on epoll_wait(0) must serve the same events
    r, w = os.pipe()
    got: list[bytes] = []
    try:
        def on_read() -> None:
            got.append(os.read(r, 100))
            loop.remove_reader(r)
            loop.stop()

        loop.add_reader(r, on_read)
        start = loop.now_ns()
        loop.call_later(2_000_000, os.write, w, b"ping")
        loop.run(until_ns=start + 2_000_000_000)
        assert got == [b"ping"]
        assert loop.now_ns() - start >= 2_000_000
    finally:
        loop.close()
        os.close(r)
        os.close(w)


def test_real_loop_until_returns() -> None:
    loop = RealLoop()
    start = loop.now_ns()
    loop.run(until_ns=start + 5_000_000)
    assert loop.now_ns() - start >= 5_000_000
    loop.close()
