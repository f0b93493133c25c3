"""pfifo and bfifo (net/sched/sch_fifo.c): one tail-drop FIFO, limited in packets or
bytes."""

from __future__ import annotations

from collections import deque
from typing import Any

from tuxnet.core.sched.base import NET_XMIT_SUCCESS, Qdisc, qdisc_pkt_len
from tuxnet.sim.units import parse_size
from tuxnet.skb import SkBuff

__all__ = ["BFifo", "PFifo"]


class _Fifo(Qdisc):
    """The shared body of pfifo/bfifo: fifo_init, qdisc_enqueue_tail, qdisc_dequeue_head."""

    def init(self, params: dict[str, Any]) -> None:
        """fifo_init: the limit defaults from the device."""
        self._q: deque[SkBuff] = deque()
        self.limit = self._default_limit()
        self._change(params)

    def _default_limit(self) -> int:
        raise NotImplementedError

    def _parse_limit(self, value: Any) -> int:
        raise NotImplementedError

    def _change(self, params: dict[str, Any]) -> None:
        """fifo_init with a tc_fifo_qopt {limit}."""
        if "limit" in params:
            self.limit = self._parse_limit(params.pop("limit"))

    def change(self, **params: Any) -> None:
        """tc qdisc change ... limit N (fifo_init again)."""
        self._change(params)
        self._reject_unknown(self.kind, params)

    def _admit(self, n: int) -> bool:
        raise NotImplementedError

    def enqueue(self, skb: SkBuff, now_ns: int) -> int:
        """pfifo_enqueue / bfifo_enqueue: tail-drop once the limit is reached."""
        n = qdisc_pkt_len(skb)
        if not self._admit(n):
            return self._qdisc_drop(skb)
        self._q.append(skb)
        self.qlen += 1
        self.backlog += n
        return NET_XMIT_SUCCESS

    def _dequeue(self, now_ns: int) -> SkBuff | None:
        """qdisc_dequeue_head."""
        q = self._q
        if not q:
            return None
        skb = q.popleft()
        n = qdisc_pkt_len(skb)
        self.qlen -= 1
        self.backlog -= n
        self.stats.sent_bytes += n
        self.stats.sent_packets += 1
        return skb

    def _reset(self) -> None:
        q = self._q
        while q:
            self._free(q.popleft())

    def dump(self) -> dict[str, Any]:
        """fifo_dump: struct tc_fifo_qopt {limit}."""
        return {"limit": self.limit}


class PFifo(_Fifo):
    """pfifo_qdisc_ops: accepts while qlen < limit (default dev->tx_queue_len)."""

    kind = "pfifo"

    def _default_limit(self) -> int:
        return self.txqueuelen  # sch_fifo.c fifo_init: tx_queue_len

    def _parse_limit(self, value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError('Illegal "limit"')
        try:
            limit = int(value, 0) if isinstance(value, str) else int(value)
        except ValueError:
            raise ValueError('Illegal "limit"') from None
        if not 0 <= limit <= 0xFFFFFFFF:
            raise ValueError('Illegal "limit"')
        return limit

    def _admit(self, n: int) -> bool:
        return self.qlen < self.limit


class BFifo(_Fifo):
    """bfifo_qdisc_ops: accepts while backlog + len <= limit bytes (default
    tx_queue_len * psched_mtu)."""

    kind = "bfifo"

    def _default_limit(self) -> int:
        return self.txqueuelen * self.psched_mtu()  # sch_fifo.c: limit *= psched_mtu(dev)

    def _parse_limit(self, value: Any) -> int:
        try:
            limit = parse_size(value)
        except ValueError:
            raise ValueError('Illegal "limit"') from None
        if limit > 0xFFFFFFFF:
            raise ValueError('Illegal "limit"')
        return limit

    def _admit(self, n: int) -> bool:
        return self.backlog + n <= self.limit
