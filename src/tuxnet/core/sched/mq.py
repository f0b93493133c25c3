"""mq, the multiqueue container (net/sched/sch_mq.c).

The root of a multi-queue device: one child qdisc per TX queue (``parent :1``,
``:2`` ...), each the default qdisc (net.core.default_qdisc, pfifo_fast). The device
core normally drives ``children[txq]`` directly (Linux grafts each child on its
netdev_queue); ``enqueue``/``dequeue`` here route by ``skb.queue_mapping`` and serve
the children round robin, for callers that see one qdisc. Counters are the sums of
the children's, computed when read (mq_dump).
"""

from __future__ import annotations

from typing import Any

from tuxnet.core.sched.base import Qdisc, QdiscStats, parse_handle
from tuxnet.skb import SkBuff

__all__ = ["Mq"]


class Mq(Qdisc):
    """mq_qdisc_ops: ``num_tx_queues`` children of kind ``default_qdisc``
    ("pfifo_fast"); ``child_params`` are passed to each child. Only valid as the root
    of a multi-queue device (mq_init: -EOPNOTSUPP otherwise)."""

    kind = "mq"

    def init(self, params: dict[str, Any]) -> None:
        """mq_init: a default child qdisc per TX queue."""
        from tuxnet.core.sched.registry import qdisc_create  # registry imports mq

        child_kind = str(params.pop("default_qdisc", "pfifo_fast"))
        child_params = dict(params.pop("child_params", None) or {})
        if self.parent != "root" or self.num_tx_queues < 2:
            raise ValueError("mq: Operation not supported (needs a multi-queue device root)")
        major = parse_handle(self.handle)
        dev = {"txqueuelen": self.txqueuelen, "mtu": self.mtu,
               "hard_header_len": self.hard_header_len}
        self.children: list[Qdisc] = []
        for ntx in range(self.num_tx_queues):
            # mq_init: TC_H_MAKE(TC_H_MAJ(sch->handle), TC_H_MIN(ntx + 1))
            parent = f"{major:x}:{ntx + 1:x}" if major else f":{ntx + 1:x}"
            self.children.append(qdisc_create(child_kind, self._drop_cb, parent=parent,
                                              **dev, **child_params))
        self._rr = 0

    def _init_counters(self) -> None:
        return None  # totals are computed from the children

    @property
    def qlen(self) -> int:
        return sum(c.qlen for c in self.children)

    @qlen.setter
    def qlen(self, value: int) -> None:
        raise AttributeError("mq qlen is the sum of its children")

    @property
    def backlog(self) -> int:
        return sum(c.backlog for c in self.children)

    @backlog.setter
    def backlog(self, value: int) -> None:
        raise AttributeError("mq backlog is the sum of its children")

    @property
    def stats(self) -> QdiscStats:
        """mq_dump: the children's basic and queue counters summed."""
        total = QdiscStats()
        for c in self.children:
            total.add(c.stats)
        return total

    @stats.setter
    def stats(self, value: QdiscStats) -> None:
        raise AttributeError("mq stats are the sum of its children")

    def child(self, txq: int) -> Qdisc:
        """The qdisc of TX queue ``txq`` (netdev_get_tx_queue(dev, txq)->qdisc)."""
        return self.children[txq]

    def graft(self, txq: int, qdisc: Qdisc) -> Qdisc:
        """mq_graft: replace TX queue ``txq``'s child; the old one is reset and returned."""
        old = self.children[txq]
        qdisc.parent = old.parent
        self.children[txq] = qdisc
        old.reset()
        return old

    def _select(self, skb: SkBuff) -> Qdisc:
        # netdev_cap_txqueue: an out-of-range queue_mapping falls back to queue 0
        q = skb.queue_mapping
        return self.children[q if 0 <= q < len(self.children) else 0]

    def enqueue(self, skb: SkBuff, now_ns: int) -> int:
        """Enqueue on the child of TX queue skb.queue_mapping."""
        return self._select(skb).enqueue(skb, now_ns)

    def requeue(self, skb: SkBuff) -> None:
        """dev_requeue_skb on the child of skb.queue_mapping."""
        self._select(skb).requeue(skb)

    def dequeue(self, now_ns: int) -> SkBuff | None:
        """Serve the children round robin, one packet per turn."""
        n = len(self.children)
        for i in range(n):
            idx = (self._rr + i) % n
            skb = self.children[idx].dequeue(now_ns)
            if skb is not None:
                self._rr = (idx + 1) % n
                return skb
        return None

    def next_time_ns(self, now_ns: int) -> int | None:
        """The earliest of the children's next times."""
        times = [t for c in self.children if (t := c.next_time_ns(now_ns)) is not None]
        return min(times) if times else None

    def reset(self) -> None:
        """mq_reset: reset every child."""
        for c in self.children:
            c.reset()

    def _dequeue(self, now_ns: int) -> SkBuff | None:
        return self.dequeue(now_ns)

    def _reset(self) -> None:
        self.reset()
