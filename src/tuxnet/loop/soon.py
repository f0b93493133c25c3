"""The schedule-once waker: how an application on the loop is woken by a socket.

A socket's wait queue (``sk.wq``) runs its wakers from inside the stack (sk_data_ready,
sk_write_space: softirq context). An application must not run there: like a task that
ep_poll_callback wakes, it runs later, in process context. :class:`SoonOnce` is such a
waker: however often it is called before the loop's next turn, it schedules its step
once (``loop.call_soon``), as queue_work() leaves a pending work item queued only once
(kernel/workqueue.c: WORK_STRUCT_PENDING_BIT).
"""

from __future__ import annotations

from collections.abc import Callable

from tuxnet.loop.base import EventLoop

__all__ = ["SoonOnce"]


class SoonOnce:
    """Calling it schedules ``step()`` on ``loop`` soon, unless already scheduled or
    ``ready()`` (when given) is false; ``scheduled`` clears as the step starts, so a
    wake-up during the step schedules it again."""

    __slots__ = ("_loop", "_ready", "_step", "scheduled")

    def __init__(self, loop: EventLoop, step: Callable[[], object],
                 ready: Callable[[], object] | None = None) -> None:
        self._loop = loop
        self._step = step
        self._ready = ready
        self.scheduled = False

    def __call__(self) -> None:
        if self.scheduled:
            return
        ready = self._ready
        if ready is not None and not ready():
            return
        self.scheduled = True
        self._loop.call_soon(self._run)

    def _run(self) -> None:
        self.scheduled = False
        self._step()
