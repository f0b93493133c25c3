"""pfifo_fast (prio2band banding, per-band limit), pfifo/bfifo, noqueue, mq and the
qdisc registry (net/sched/sch_generic.c, sch_fifo.c, sch_mq.c, sch_api.c)."""

from __future__ import annotations

import pytest

from tuxnet.core.sched import (
    NET_XMIT_DROP,
    NET_XMIT_SUCCESS,
    SCH_DEFAULT_PRIO2BAND,
    HandleAllocator,
    Mq,
    NoQueue,
    PfifoFast,
    attach_default_qdiscs,
    qdisc_create,
)
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import SkBuff, alloc_skb


class Drops:
    """The drop callback the device layer would give: records (skb, reason)."""

    def __init__(self) -> None:
        self.log: list[tuple[SkBuff, SkbDropReason]] = []

    def __call__(self, skb: SkBuff, reason: SkbDropReason) -> None:
        self.log.append((skb, reason))

    def reasons(self) -> list[SkbDropReason]:
        return [r for _, r in self.log]


def mkskb(n: int = 100, priority: int = 0, queue: int = 0) -> SkBuff:
    skb = alloc_skb(n)
    skb.put(n)
    skb.priority = priority
    skb.queue_mapping = queue
    return skb


def drain(q: PfifoFast | Mq, now: int = 0) -> list[SkBuff]:
    out = []
    while (skb := q.dequeue(now)) is not None:
        out.append(skb)
    return out


def test_prio2band_is_linux_map() -> None:
    # sch_generic.c sch_default_prio2band
    assert SCH_DEFAULT_PRIO2BAND == (1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)


def test_bands_are_served_in_strict_priority() -> None:
    q = qdisc_create("pfifo_fast", Drops())
    assert isinstance(q, PfifoFast) and q.kind == "pfifo_fast" and q.handle == "0:"
    # priority -> band: 0->1, 1->2, 6->0, 7->0, 2->2, 4->1; the band index uses
    # priority & TC_PRIO_MAX, so 0x10006 is interactive (band 0)
    prios = [0, 1, 6, 7, 2, 4, 0x10006]
    skbs = [mkskb(100 + i, p) for i, p in enumerate(prios)]
    for skb in skbs:
        assert q.enqueue(skb, 0) == NET_XMIT_SUCCESS
    assert (q.band_qlen(0), q.band_qlen(1), q.band_qlen(2)) == (3, 2, 2)
    assert q.qlen == 7 and q.backlog == sum(s.len for s in skbs)
    order = [s.priority for s in drain(q)]
    assert order == [6, 7, 0x10006, 0, 4, 1, 2]
    assert q.stats.sent_packets == 7 and q.stats.sent_bytes == sum(s.len for s in skbs)
    assert q.qlen == 0 and q.backlog == 0
    assert q.next_time_ns(5) is None


def test_limit_is_txqueuelen_per_band_and_drops_are_reported() -> None:
    drops = Drops()
    q = qdisc_create("pfifo_fast", drops, txqueuelen=3)
    assert q.dump() == {"bands": 3, "priomap": list(SCH_DEFAULT_PRIO2BAND)}
    for _ in range(3):
        assert q.enqueue(mkskb(priority=0), 0) == NET_XMIT_SUCCESS
    victim = mkskb(priority=0)
    assert q.enqueue(victim, 0) == NET_XMIT_DROP  # band 1 ring full: tail drop
    assert drops.log == [(victim, SkbDropReason.QDISC_DROP)]
    assert q.stats.dropped == 1 and q.qlen == 3
    # the other bands have rings of their own
    for _ in range(3):
        assert q.enqueue(mkskb(priority=6), 0) == NET_XMIT_SUCCESS
        assert q.enqueue(mkskb(priority=1), 0) == NET_XMIT_SUCCESS
    assert q.enqueue(mkskb(priority=7), 0) == NET_XMIT_DROP
    assert q.stats.dropped == 2 and q.qlen == 9
    assert len(drops.log) == 2


def test_requeue_goes_first_and_counts() -> None:
    q = qdisc_create("pfifo_fast", Drops())
    a, b = mkskb(100), mkskb(200)
    q.enqueue(a, 0)
    q.enqueue(b, 0)
    skb = q.dequeue(0)
    assert skb is a
    q.requeue(skb)  # dev_requeue_skb: TX ring full
    assert q.qlen == 2 and q.backlog == 300 and q.stats.requeues == 1
    assert q.next_time_ns(7) == 7
    assert drain(q) == [a, b]
    # Sent counts a packet once, however often it was requeued
    assert q.stats.sent_packets == 2 and q.stats.sent_bytes == 300


def test_reset_frees_without_counting_drops() -> None:
    drops = Drops()
    q = qdisc_create("pfifo_fast", drops)
    for p in (0, 1, 6):
        q.enqueue(mkskb(priority=p), 0)
    q.requeue(q.dequeue(0) or mkskb())
    q.reset()
    assert q.qlen == 0 and q.backlog == 0 and q.dequeue(0) is None
    assert drops.reasons() == [SkbDropReason.NOT_SPECIFIED] * 3
    assert q.stats.dropped == 0


def test_pfifo_fast_parameters() -> None:
    with pytest.raises(ValueError, match="zero length rings"):
        qdisc_create("pfifo_fast", Drops(), txqueuelen=0)
    with pytest.raises(ValueError, match="does not support option parsing"):
        qdisc_create("pfifo_fast", Drops(), limit=10)
    with pytest.raises(ValueError, match="Change operation not supported"):
        qdisc_create("pfifo_fast", Drops()).change(limit=3)


def test_pfifo_and_bfifo_limits() -> None:
    drops = Drops()
    p = qdisc_create("pfifo", drops)
    assert p.dump() == {"limit": 1000}  # fifo_init: dev->tx_queue_len
    p.change(limit=2)
    assert [p.enqueue(mkskb(), 0) for _ in range(3)] == [0, 0, NET_XMIT_DROP]
    b = qdisc_create("bfifo", drops)
    assert b.dump() == {"limit": 1000 * 1514}  # tx_queue_len * psched_mtu
    b = qdisc_create("bfifo", drops, limit="1kb")
    assert b.enqueue(mkskb(1000), 0) == NET_XMIT_SUCCESS
    assert b.enqueue(mkskb(25), 0) == NET_XMIT_DROP  # 1025 > 1024
    assert b.enqueue(mkskb(24), 0) == NET_XMIT_SUCCESS  # backlog + len <= limit
    assert b.stats.dropped == 1 and p.stats.dropped == 1
    assert [r for _, r in drops.log] == [SkbDropReason.QDISC_DROP] * 2
    with pytest.raises(ValueError, match='Illegal "limit"'):
        qdisc_create("pfifo", drops, limit="lots")
    with pytest.raises(ValueError, match='What is "quantum"'):
        qdisc_create("pfifo", drops, quantum=1)


def test_noqueue_bypasses_and_never_holds() -> None:
    drops = Drops()
    q = qdisc_create("noqueue", drops)
    assert isinstance(q, NoQueue) and q.no_queue
    skb = mkskb()
    assert q.enqueue(skb, 0) == NET_XMIT_DROP
    assert drops.log == [(skb, SkbDropReason.QDISC_DROP)] and q.qlen == 0
    assert q.dequeue(0) is None and q.next_time_ns(0) is None


def test_default_qdiscs_per_device_kind() -> None:
    drops = Drops()
    lo = attach_default_qdiscs(drops, no_queue=True, mtu=65536)  # IFF_NO_QUEUE
    assert lo.kind == "noqueue" and lo.refcnt == 2
    eth = attach_default_qdiscs(drops)
    assert eth.kind == "pfifo_fast" and eth.refcnt == 2 and eth.parent == "root"
    assert eth.txqueuelen == 1000
    fq = attach_default_qdiscs(drops, default_qdisc="fq")
    assert fq.kind == "fq" and fq.handle == "0:"
    # a sysctl-valid default tuxnet lacks falls back to pfifo_fast
    assert attach_default_qdiscs(drops, default_qdisc="fq_codel").kind == "pfifo_fast"
    mq = attach_default_qdiscs(drops, num_tx_queues=4)
    assert isinstance(mq, Mq) and mq.refcnt == 1
    assert [c.kind for c in mq.children] == ["pfifo_fast"] * 4
    assert [c.parent for c in mq.children] == [":1", ":2", ":3", ":4"]
    assert all(c.handle == "0:" and c.refcnt == 1 for c in mq.children)


def test_mq_routes_by_queue_mapping_and_sums() -> None:
    drops = Drops()
    mq = qdisc_create("mq", drops, num_tx_queues=3, txqueuelen=2)
    assert isinstance(mq, Mq)
    for txq in (0, 1, 1, 2, 2, 2, 7):  # 7 is out of range: queue 0
        mq.enqueue(mkskb(100, queue=txq), 0)
    assert [c.qlen for c in mq.children] == [2, 2, 2]
    assert mq.qlen == 6 and mq.backlog == 600
    assert mq.stats.dropped == 1 and len(drops.log) == 1
    assert mq.child(1).qlen == 2
    out = drain(mq)
    assert [s.queue_mapping for s in out] == [0, 1, 2, 7, 1, 2]  # round robin
    st = mq.stats
    assert (st.sent_packets, st.sent_bytes, st.dropped) == (6, 600, 1)
    with pytest.raises(AttributeError):
        mq.qlen = 3
    old = mq.graft(0, qdisc_create("fq", drops, handle="8001:"))
    assert old.kind == "pfifo_fast" and mq.children[0].parent == ":1"
    with pytest.raises(ValueError, match="multi-queue"):
        qdisc_create("mq", drops)


def test_registry_and_handles() -> None:
    with pytest.raises(ValueError, match="kind is unknown"):
        qdisc_create("cake", Drops())
    alloc = HandleAllocator()
    assert [alloc.alloc(), alloc.alloc()] == ["8001:", "8002:"]
    assert alloc.alloc({"8003:"}) == "8004:"
    q = qdisc_create("pfifo", Drops(), handle="8005:")
    assert q.handle == "8005:"
    with pytest.raises(ValueError, match="invalid qdisc ID"):
        qdisc_create("pfifo", Drops(), handle="zz:")
