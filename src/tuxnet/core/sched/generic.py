"""The default qdiscs of net/sched/sch_generic.c: pfifo_fast and noqueue."""

from __future__ import annotations

from collections import deque
from typing import Any

from tuxnet.core.sched.base import (
    NET_XMIT_SUCCESS,
    TC_PRIO_MAX,
    Qdisc,
    qdisc_pkt_len,
)
from tuxnet.skb import SkBuff

__all__ = ["PFIFO_FAST_BANDS", "SCH_DEFAULT_PRIO2BAND", "NoQueue", "PfifoFast"]

PFIFO_FAST_BANDS = 3  # sch_generic.c: PFIFO_FAST_BANDS
# sch_generic.c: sch_default_prio2band[TC_PRIO_MAX + 1], skb->priority -> band
SCH_DEFAULT_PRIO2BAND = (1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)


class PfifoFast(Qdisc):
    """pfifo_fast_ops: three FIFO bands chosen by skb->priority through prio2band;
    band 0 is always served first, then 1, then 2 (strict priority).

    Each band is an skb_array of dev->tx_queue_len slots (pfifo_fast_init), so the
    limit is ``txqueuelen`` packets *per band* and a full band tail-drops
    (qdisc_drop_cpu). A tx_queue_len of 0 is refused ("zero length rings"). It takes
    no tc options.
    """

    kind = "pfifo_fast"

    def init(self, params: dict[str, Any]) -> None:
        """pfifo_fast_init: one ring of tx_queue_len per band."""
        if params:
            raise ValueError("qdisc 'pfifo_fast' does not support option parsing")
        if self.txqueuelen == 0:
            # pfifo_fast_init: guard against zero length rings -> -EINVAL
            raise ValueError("pfifo_fast: device txqueuelen is 0 (zero length rings)")
        self.limit = self.txqueuelen
        self._bands: tuple[deque[SkBuff], ...] = tuple(deque() for _ in range(PFIFO_FAST_BANDS))

    def band_qlen(self, band: int) -> int:
        """Packets queued in one band (0 = highest priority)."""
        return len(self._bands[band])

    def enqueue(self, skb: SkBuff, now_ns: int) -> int:
        """pfifo_fast_enqueue: tail of the band prio2band[priority & TC_PRIO_MAX]."""
        q = self._bands[SCH_DEFAULT_PRIO2BAND[skb.priority & TC_PRIO_MAX]]
        if len(q) >= self.limit:  # skb_array_produce fails: ring full
            return self._qdisc_drop(skb)
        q.append(skb)
        self.qlen += 1
        self.backlog += qdisc_pkt_len(skb)
        return NET_XMIT_SUCCESS

    def _dequeue(self, now_ns: int) -> SkBuff | None:
        """pfifo_fast_dequeue: the head of the first non-empty band."""
        for q in self._bands:
            if q:
                skb = q.popleft()
                n = qdisc_pkt_len(skb)
                self.qlen -= 1
                self.backlog -= n
                st = self.stats
                st.sent_bytes += n
                st.sent_packets += 1
                return skb
        return None

    def _reset(self) -> None:
        """pfifo_fast_reset: free every band."""
        for q in self._bands:
            while q:
                self._free(q.popleft())

    def dump(self) -> dict[str, Any]:
        """pfifo_fast_dump: struct tc_prio_qopt {bands, priomap}."""
        return {"bands": PFIFO_FAST_BANDS, "priomap": list(SCH_DEFAULT_PRIO2BAND)}


class NoQueue(Qdisc):
    """noqueue_qdisc_ops: no queue at all (noqueue_init sets q->enqueue = NULL).

    Linux's default for IFF_NO_QUEUE devices (loopback, veth): ``__dev_queue_xmit``
    sees ``no_queue`` and calls the driver directly, so this qdisc's counters stay at
    zero. Should a packet still be handed to ``enqueue`` (a caller ignoring
    ``no_queue``), it is dropped and counted, never held.
    """

    kind = "noqueue"
    no_queue = True

    def init(self, params: dict[str, Any]) -> None:
        """noqueue_init: takes no options."""
        if params:
            raise ValueError("qdisc 'noqueue' does not support option parsing")

    def enqueue(self, skb: SkBuff, now_ns: int) -> int:
        """No enqueue exists; the packet is dropped (QDISC_DROP) and counted."""
        return self._qdisc_drop(skb)

    def _dequeue(self, now_ns: int) -> SkBuff | None:
        return None

    def _reset(self) -> None:
        return None
