"""SimLoop: deterministic virtual time for the simulator.

Time jumps from one event to the next; nothing reads the wall clock. The same
sequence of scheduling calls always yields the same order of callbacks, which is what
makes a seeded simulation reproducible byte for byte.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from tuxnet.loop.base import EventLoop, TimerHandle

_heappush = heapq.heappush


class SimLoop(EventLoop):
    """Discrete-event loop over virtual nanoseconds, starting at ``start_ns``."""

    def __init__(self, start_ns: int = 0) -> None:
        super().__init__()
        self._now = start_ns
        self.events_run = 0
        self._limit = -1  # the running run()'s until_ns (-1: not running)

    def now_ns(self) -> int:
        """Virtual time in nanoseconds."""
        return self._now

    def call_at(self, when_ns: int, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` at virtual time ``when_ns`` (FIFO among equal times);
        a time in the past runs at the current time, so the clock never goes back."""
        if when_ns < self._now:
            when_ns = self._now
        handle = TimerHandle(when_ns, callback, args)
        self._seq = seq = self._seq + 1
        _heappush(self._heap, (when_ns, seq, handle))
        return handle

    def call_later(self, delay_ns: int, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` ``delay_ns`` virtual nanoseconds from now."""
        if delay_ns < 0:
            raise ValueError(f"negative delay: {delay_ns} ns")
        when = self._now + delay_ns
        handle = TimerHandle(when, callback, args)
        self._seq = seq = self._seq + 1
        _heappush(self._heap, (when, seq, handle))
        return handle

    def call_soon(self, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` at the current virtual time, after what is due."""
        handle = TimerHandle(self._now, callback, args)
        self._seq = seq = self._seq + 1
        _heappush(self._heap, (self._now, seq, handle))
        return handle

    def run(self, until_ns: int | None = None) -> None:
        """Run callbacks in time order. With ``until_ns`` stop before any event later
        than it and leave the clock at ``until_ns``; without, run until no events remain."""
        heap = self._heap
        pop = heapq.heappop
        self._stopping = False
        limit = until_ns if until_ns is not None else 1 << 126
        outer_limit = self._limit
        self._limit = limit
        count = 0
        try:
            while heap:
                when, _, handle = pop(heap)
                if when > limit:
                    _heappush(heap, (when, _, handle))
                    break
                if handle.cancelled:
                    continue
                handle.cancelled = True  # a handle runs once; cancel() after that is a no-op
                self._now = when
                count += 1
                handle.callback(*handle.args)
                if self._stopping:
                    return
            if until_ns is not None and until_ns > self._now:
                self._now = until_ns
        finally:
            self.events_run += count
            self._limit = outer_limit

    def run_inline_at(self, when_ns: int) -> bool:
        """For a callback about to schedule its own continuation at ``when_ns``: True
        when that event would be the very next one run -- nothing live is due at or
        before it (cancelled ones there are dropped, as run() would), the running
        :meth:`run` reaches it and nobody called :meth:`stop` -- and then the clock is
        set to ``when_ns`` and the event counted (and given its sequence number) as if
        it had gone through the heap, so the caller runs it at once. False: schedule it
        as usual."""
        if self._stopping or when_ns > self._limit or when_ns < self._now:
            return False
        heap = self._heap
        while heap:
            top = heap[0]
            if top[0] > when_ns:
                break
            if not top[2].cancelled:
                return False
            heapq.heappop(heap)  # run() would skip it: drop it now
        self._now = when_ns
        self._seq += 1
        self.events_run += 1
        return True

    def advance(self, delta_ns: int) -> None:
        """Run everything due in the next ``delta_ns`` nanoseconds."""
        self.run(self._now + delta_ns)
