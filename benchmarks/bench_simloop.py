"""SimLoop timer events per wall second, next to a bare heapq loop in the same run.

Usage: python benchmarks/bench_simloop.py [--quick]
The peer is the leanest possible discrete-event loop (a heapq of (time, seq, fn)
tuples); tuxnet's SimLoop adds cancellable handles, FIFO ties and a run limit.
"""

from __future__ import annotations

import argparse
import heapq
import time

from tuxnet.loop import SimLoop


def bare_heapq(n: int) -> float:
    """Events/s of a bare heapq event loop with one self-rescheduling timer chain."""
    heap: list[tuple[int, int, object]] = []
    count = 0
    seq = 0

    def tick() -> None:
        pass

    heapq.heappush(heap, (0, 0, tick))
    start = time.perf_counter()
    while heap:
        when, _, fn = heapq.heappop(heap)
        fn()  # type: ignore[operator]
        count += 1
        if count < n:
            seq += 1
            heapq.heappush(heap, (when + 1000, seq, fn))
    return n / (time.perf_counter() - start)


def simloop(n: int) -> float:
    """Events/s of SimLoop with one self-rescheduling timer chain."""
    loop = SimLoop()
    count = [0]

    def tick() -> None:
        count[0] += 1
        if count[0] < n:
            loop.call_later(1000, tick)

    loop.call_soon(tick)
    start = time.perf_counter()
    loop.run()
    return n / (time.perf_counter() - start)


def simloop_many(n: int) -> float:
    """Events/s of SimLoop with 1000 interleaved timer chains (a deeper heap)."""
    loop = SimLoop()
    left = [n]

    def tick(period: int) -> None:
        left[0] -= 1
        if left[0] > 0:
            loop.call_later(period, tick, period)

    for i in range(1000):
        loop.call_at(i, tick, 1000 + i)
    start = time.perf_counter()
    loop.run()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny run (shape check)")
    args = parser.parse_args()
    n = 20_000 if args.quick else 1_000_000
    rounds = 1 if args.quick else 3
    bare = max(bare_heapq(n) for _ in range(rounds))
    ours = max(simloop(n) for _ in range(rounds))
    many = max(simloop_many(n) for _ in range(rounds))
    print(f"{'loop':<28}{'events/s':>14}")
    print(f"{'bare heapq (peer)':<28}{bare:>14,.0f}")
    print(f"{'tuxnet SimLoop, 1 chain':<28}{ours:>14,.0f}")
    print(f"{'tuxnet SimLoop, 1000 chains':<28}{many:>14,.0f}")
    print(f"ratio: events_per_s tuxnet/bare_heapq = {ours / bare:.2f}")


if __name__ == "__main__":
    main()
