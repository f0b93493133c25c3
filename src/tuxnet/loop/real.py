"""RealLoop: the same timer interface on the monotonic clock, plus fd readiness.

Used by live mode (TAP devices). This is the only place in the stack that reads a
clock or blocks, and it does so through ``time.monotonic_ns`` and ``select.epoll``
(used directly: the ``selectors`` wrapper costs a microsecond per wakeup in Python).
"""

from __future__ import annotations

import contextlib
import heapq
import select
import time
from collections.abc import Callable
from typing import Any

from tuxnet.loop.base import EventLoop


class RealLoop(EventLoop):
    """Real-time loop: timers on ``time.monotonic_ns`` and readers via epoll."""

    def __init__(self) -> None:
        super().__init__()
        self._epoll = select.epoll()
        self._readers: dict[int, tuple[Callable[..., object], tuple[Any, ...]]] = {}
        # Busy polling: instead of sleeping in epoll_wait until an fd is readable,
        # spin on non-blocking epoll_wait calls (Linux 6.19's threaded NAPI busy poll,
        # NAPI_THREADED_BUSY_POLL: the poller never sleeps, so no wakeup latency).
        self.busy_poll = False
        self._busy_pollers: dict[int, Callable[[], object]] = {}

    # Monotonic time in nanoseconds: the clock itself, no Python frame per reading
    now_ns = staticmethod(time.monotonic_ns)

    def add_reader(self, fd: int, callback: Callable[..., object], *args: Any) -> None:
        """Call ``callback(*args)`` whenever ``fd`` is readable."""
        if fd not in self._readers:
            self._epoll.register(fd, select.EPOLLIN)
        self._readers[fd] = (callback, args)

    def remove_reader(self, fd: int) -> bool:
        """Stop watching ``fd``; returns whether it was watched."""
        if self._readers.pop(fd, None) is None:
            return False
        with contextlib.suppress(OSError, ValueError):  # closed meanwhile: dropped already
            self._epoll.unregister(fd)
        return True

    def add_busy_poller(self, key: int, callback: Callable[[], object]) -> None:
        """With ``busy_poll``: call ``callback()`` on every turn of the loop (a device
        polled without interrupts); ``key`` identifies it (its fd)."""
        self._busy_pollers[key] = callback

    def remove_busy_poller(self, key: int) -> bool:
        """Stop calling the poller registered under ``key``; whether there was one."""
        return self._busy_pollers.pop(key, None) is not None

    def _run_due(self) -> None:
        heap = self._heap
        now = time.monotonic_ns()
        while heap and heap[0][0] <= now:
            handle = heapq.heappop(heap)[2]
            if handle.cancelled:
                continue
            handle.cancelled = True
            handle.callback(*handle.args)
            if self._stopping:
                return

    def run(self, until_ns: int | None = None) -> None:
        """Serve timers and readers until ``stop()``, ``until_ns`` (monotonic ns), or
        until nothing is left to wait for."""
        self._stopping = False
        while not self._stopping:
            self._run_due()
            if self._stopping:
                break
            deadline = self.next_deadline()
            if until_ns is not None and (deadline is None or deadline > until_ns):
                deadline = until_ns
            if deadline is None and not self._readers and not self._busy_pollers:
                break
            now = time.monotonic_ns()
            if until_ns is not None and now >= until_ns:
                break
            timeout = None if deadline is None else max(0, deadline - now) / 1e9
            if self.busy_poll:
                timeout = 0
                for poller in list(self._busy_pollers.values()):
                    poller()
                    if self._stopping:
                        break
                if self._stopping:
                    break
            readers = self._readers
            if readers:
                try:
                    ready = self._epoll.poll(-1 if timeout is None else timeout,
                                             len(readers))
                except InterruptedError:
                    ready = []
                for fd, _ev in ready:
                    entry = readers.get(fd)
                    if entry is not None:
                        entry[0](*entry[1])
                    if self._stopping:
                        break
            elif timeout:
                time.sleep(timeout)

    def close(self) -> None:
        """Release the epoll instance."""
        self._epoll.close()
        self._readers.clear()
