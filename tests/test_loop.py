"""SimLoop and RealLoop: the timer contract both clocks share."""

from __future__ import annotations

import os

import pytest

from tuxnet.loop import RealLoop, SimLoop


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
