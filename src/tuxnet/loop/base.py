"""Timer handles and the timer heap shared by both loops.

Timers live in a ``heapq`` of ``(when_ns, seq, handle)`` tuples: ``seq`` grows with
every scheduling call, so equal times run in the order they were scheduled (FIFO)
and tuple comparison never reaches the handle. Cancelling marks the handle and
leaves it in the heap (lazy deletion), as Linux's hrtimer users expect cancel to be
O(1) here.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any


class TimerHandle:
    """A scheduled callback; ``cancel()`` stops it from running."""

    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: int, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Prevent the callback from running (no-op if it already ran)."""
        self.cancelled = True

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        name = getattr(self.callback, "__qualname__", repr(self.callback))
        return f"<TimerHandle when={self.when} {name}{state}>"


class EventLoop:
    """The clock and timer interface the stack is written against."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, TimerHandle]] = []
        self._seq = 0
        self._stopping = False

    # -- time -----------------------------------------------------------------
    def now_ns(self) -> int:
        """Current time in integer nanoseconds."""
        raise NotImplementedError

    # -- timers ---------------------------------------------------------------
    def call_at(self, when_ns: int, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` at ``when_ns`` (at once if that is in the past)."""
        handle = TimerHandle(when_ns, callback, args)
        self._seq += 1
        heapq.heappush(self._heap, (when_ns, self._seq, handle))
        return handle

    def call_later(self, delay_ns: int, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` ``delay_ns`` nanoseconds from now."""
        if delay_ns < 0:
            raise ValueError(f"negative delay: {delay_ns} ns")
        return self.call_at(self.now_ns() + delay_ns, callback, *args)

    def call_soon(self, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` now, after what is already due (FIFO)."""
        return self.call_at(self.now_ns(), callback, *args)

    def next_deadline(self) -> int | None:
        """Time of the earliest live timer, or None when no timer is pending."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pending(self) -> int:
        """Number of timers not yet run (cancelled ones included until purged)."""
        return len(self._heap)

    # -- running --------------------------------------------------------------
    def run(self, until_ns: int | None = None) -> None:
        """Run events until none remain, ``stop()`` is called, or ``until_ns``."""
        raise NotImplementedError

    def stop(self) -> None:
        """Make ``run`` return after the current callback."""
        self._stopping = True
