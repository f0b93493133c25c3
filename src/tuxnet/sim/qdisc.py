"""The link's transmit queue: pfifo/bfifo tail drop, and CoDel (RFC 8289).

A frame waits here while the transmitter is busy serialising earlier frames. The
frame being serialised is not in the queue (as in Linux, where it sits in the
driver's TX ring, not in the qdisc backlog).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

__all__ = ["CoDelQueue", "FifoQueue"]


class FifoQueue:
    """pfifo / bfifo: accept at the tail while under the limits, else tail drop.

    sch_fifo.c: pfifo accepts while ``qlen < limit``; bfifo while
    ``backlog + len <= limit``. Either limit may be None (unlimited); both apply
    when both are set.
    """

    __slots__ = ("_q", "backlog_bytes", "drops_overlimit", "limit_bytes", "limit_pkts",
                 "max_backlog_bytes", "max_backlog_packets")

    def __init__(self, limit_pkts: int | None, limit_bytes: int | None) -> None:
        self._q: deque[tuple[int, bytes]] = deque()
        self.limit_pkts = limit_pkts
        self.limit_bytes = limit_bytes
        self.backlog_bytes = 0
        self.max_backlog_packets = 0
        self.max_backlog_bytes = 0
        self.drops_overlimit = 0

    def __len__(self) -> int:
        return len(self._q)

    @property
    def frames(self) -> deque[tuple[int, bytes]]:
        """The queue itself: (enqueue time ns, frame), head first. Read only."""
        return self._q

    def enqueue(self, frame: bytes, now: int) -> bool:
        """qdisc enqueue; False = tail drop (the caller counts the drop reason)."""
        q = self._q
        n = len(frame)
        lp = self.limit_pkts
        lb = self.limit_bytes
        if (lp is not None and len(q) >= lp) or (
            lb is not None and self.backlog_bytes + n > lb
        ):
            self.drops_overlimit += 1
            return False
        q.append((now, frame))
        self.backlog_bytes += n
        if len(q) > self.max_backlog_packets:
            self.max_backlog_packets = len(q)
        if self.backlog_bytes > self.max_backlog_bytes:
            self.max_backlog_bytes = self.backlog_bytes
        return True

    def dequeue(self, now: int) -> bytes | None:
        """qdisc dequeue: the head frame, or None when empty."""
        if not self._q:
            return None
        _, frame = self._q.popleft()
        self.backlog_bytes -= len(frame)
        return frame

    def _pop(self) -> tuple[int, bytes] | None:
        if not self._q:
            return None
        item = self._q.popleft()
        self.backlog_bytes -= len(item[1])
        return item


class CoDelQueue(FifoQueue):
    """CoDel AQM (RFC 8289 §5 pseudocode), applied at dequeue, over a tail-drop FIFO.

    Sojourn time = dequeue time - enqueue time. Once the sojourn has stayed at or
    above ``target`` for ``interval`` (and more than one MTU is queued), CoDel enters
    the drop state: it drops, then schedules the next drop at
    ``interval / sqrt(count)`` later (the control law), and leaves the state as soon
    as a dequeued frame's sojourn falls below target. On re-entry soon after leaving
    (within 16 intervals) the count restarts from the previous cycle's drops.
    ECN marking is not modelled (sch_codel default: ecn off).
    """

    __slots__ = (
        "_drop_fn",
        "count",
        "drop_next",
        "dropping",
        "drops_codel",
        "first_above_time",
        "interval_ns",
        "lastcount",
        "ldelay_ns",
        "mtu_bytes",
        "target_ns",
    )

    def __init__(
        self,
        limit_pkts: int | None,
        limit_bytes: int | None,
        *,
        target_ns: int,
        interval_ns: int,
        mtu_bytes: int,
        drop_fn: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__(limit_pkts, limit_bytes)
        self.target_ns = target_ns
        self.interval_ns = interval_ns
        self.mtu_bytes = mtu_bytes
        self._drop_fn = drop_fn
        # RFC 8289 §5.2 per-queue state.
        self.first_above_time = 0
        self.drop_next = 0
        self.count = 0
        self.lastcount = 0
        self.dropping = False
        self.ldelay_ns = 0  # sojourn of the last dequeued frame (sch_codel "ldelay")
        self.drops_codel = 0

    def set_drop_fn(self, fn: Callable[[bytes], None]) -> None:
        self._drop_fn = fn

    def _control_law(self, t: int) -> int:
        # RFC 8289 §5.6: t + INTERVAL / sqrt(count).
        return t + int(self.interval_ns / math.sqrt(self.count))

    def _dodequeue(self, now: int) -> tuple[bytes | None, bool]:
        """RFC 8289 §5.6 dodequeue: pop the head; ok_to_drop after a full interval."""
        item = self._pop()
        if item is None:
            self.first_above_time = 0  # queue empty: reset
            return None, False
        ts, frame = item
        sojourn = now - ts
        self.ldelay_ns = sojourn
        # Below target, or no more than one MTU left queued: stay below (§5.6).
        if sojourn < self.target_ns or self.backlog_bytes <= self.mtu_bytes:
            self.first_above_time = 0
            return frame, False
        if self.first_above_time == 0:
            self.first_above_time = now + self.interval_ns
            return frame, False
        return frame, now >= self.first_above_time

    def _drop(self, frame: bytes) -> None:
        self.drops_codel += 1
        if self._drop_fn is not None:
            self._drop_fn(frame)

    def dequeue(self, now: int) -> bytes | None:
        """RFC 8289 §5.5 dequeue."""
        frame, ok_to_drop = self._dodequeue(now)
        if self.dropping:
            if not ok_to_drop:
                self.dropping = False  # sojourn below target: leave drop state
            while self.dropping and now >= self.drop_next and frame is not None:
                self._drop(frame)
                self.count += 1
                frame, ok_to_drop = self._dodequeue(now)
                if not ok_to_drop:
                    self.dropping = False
                else:
                    self.drop_next = self._control_law(self.drop_next)
        elif ok_to_drop and frame is not None:
            self._drop(frame)
            frame, _ = self._dodequeue(now)
            self.dropping = True
            # Count restart (RFC 8289 §5.5, the Linux variant): if we were dropping
            # recently, resume near the previous cycle's drop rate.
            delta = self.count - self.lastcount
            self.count = 1
            if delta > 1 and now - self.drop_next < 16 * self.interval_ns:
                self.count = delta
            self.drop_next = self._control_law(now)
            self.lastcount = self.count
        return frame
