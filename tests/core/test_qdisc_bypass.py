"""__dev_xmit_skb's qdisc bypass (TCQ_F_CAN_BYPASS): an empty, idle pfifo_fast, pfifo or
built-in FIFO is skipped, the packet still counted in the qdisc's Sent statistics
(qdisc_bstats_update); a busy or non-empty qdisc is fed through enqueue as before."""

from __future__ import annotations

from typing import Any

from _coreutil import ETH_P_IP, Sink, frame

from tuxnet.core.dev import dev_open, dev_queue_xmit
from tuxnet.core.netcore import get_core, register_netdevice
from tuxnet.core.sched import PFifo, PfifoFast
from tuxnet.drivers.simnic import SimNic, connect_simnics
from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.sim import Topology
from tuxnet.skb import SkBuff, alloc_skb


def _pair(tx_ring: int = 64) -> tuple[SimLoop, Host, SimNic, Host, SimNic]:
    loop = SimLoop()
    a = Host(loop, "a")
    b = Host(loop, "b")
    nic_a = SimNic("eth0", tx_ring=tx_ring, mac=b"\x02\x00\x00\x00\x00\xaa")
    nic_b = SimNic("eth0", mac=b"\x02\x00\x00\x00\x00\xbb")
    register_netdevice(a, nic_a)
    register_netdevice(b, nic_b)
    connect_simnics(Topology(loop, seed=1), nic_a, nic_b, rate_bps=10_000_000,
                    delay_ns=1000, queue_limit_pkts=10_000)
    dev_open(nic_a)
    dev_open(nic_b)
    return loop, a, nic_a, b, nic_b


def _out_skb(nic: SimNic, data: bytes) -> SkBuff:
    skb = alloc_skb(128 + len(data))
    skb.reserve(128)
    skb.put_data(data)
    skb.dev = nic
    skb.protocol = ETH_P_IP
    return skb


class _Spy:
    """Counts the calls of a qdisc's enqueue (an instance attribute over the method)."""

    def __init__(self, q: Any) -> None:
        self.calls = 0
        self._enqueue = q.enqueue
        q.enqueue = self

    def __call__(self, skb: SkBuff, now_ns: int) -> int:
        self.calls += 1
        rc: int = self._enqueue(skb, now_ns)
        return rc


def _drops(host: Host) -> Any:
    return lambda skb, reason: host.kfree_skb(skb, reason, "test")


def test_empty_pfifo_fast_is_bypassed_and_still_counts_sent() -> None:
    loop, a, nic_a, b, nic_b = _pair()
    q = PfifoFast(_drops(a))
    nic_a.qdisc = q
    spy = _Spy(q)
    sink = Sink(b)
    fr = frame(nic_b.dev_addr, payload=100)
    assert dev_queue_xmit(_out_skb(nic_a, fr)) == 0
    assert spy.calls == 0  # straight to the driver
    assert (q.stats.sent_packets, q.stats.sent_bytes) == (1, len(fr))
    assert (q.qlen, q.backlog, q.stats.requeues) == (0, 0, 0)
    assert nic_a.tx_queues[0].trans_start == loop.now_ns()
    loop.run()
    assert [g["data"] for g in sink.got] == [fr[14:]]


def test_a_stopped_queue_fills_the_qdisc_and_totals_match() -> None:
    loop, a, nic_a, b, nic_b = _pair()
    q = PfifoFast(_drops(a))
    nic_a.qdisc = q
    spy = _Spy(q)
    sink = Sink(b)
    sent = [frame(nic_b.dev_addr, sport=i, payload=1000) for i in range(300)]
    for fr in sent:
        assert dev_queue_xmit(_out_skb(nic_a, fr)) == 0
    txq = nic_a.tx_queues[0]
    assert txq.stopped
    assert 0 < spy.calls < len(sent)  # bypassed until the ring filled, then queued
    assert q.qlen == spy.calls
    loop.run()
    assert [g["data"] for g in sink.got] == [fr[14:] for fr in sent]  # all, in order
    assert q.stats.sent_packets == len(sent)
    assert q.stats.sent_bytes == sum(len(f) for f in sent)
    assert q.qlen == q.backlog == 0


def test_a_running_or_non_empty_qdisc_is_not_bypassed() -> None:
    loop, a, nic_a, b, nic_b = _pair()
    q = PfifoFast(_drops(a))
    nic_a.qdisc = q
    spy = _Spy(q)
    Sink(b)
    core = get_core(a)
    core.qdisc_running.add(id(q))  # qdisc_run_begin fails: someone else runs it
    assert dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr))) == 0
    assert spy.calls == 1 and q.qlen == 1 and q.stats.sent_packets == 0
    assert dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr))) == 0
    assert spy.calls == 2 and q.qlen == 2
    core.qdisc_running.discard(id(q))
    assert dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr))) == 0
    assert spy.calls == 3  # not empty: enqueued behind the others, then all sent
    assert q.qlen == 0 and q.stats.sent_packets == 3
    loop.run()


def test_pfifo_bypass_needs_a_limit() -> None:
    _loop, a, nic_a, _b, nic_b = _pair()
    q = PFifo(_drops(a))
    nic_a.qdisc = q
    spy = _Spy(q)
    assert dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr))) == 0
    assert spy.calls == 0 and q.stats.sent_packets == 1
    q0 = PFifo(_drops(a), limit=0)  # fifo_init: no TCQ_F_CAN_BYPASS, every packet drops
    nic_a.qdisc = q0
    spy0 = _Spy(q0)
    assert dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr))) == 1  # NET_XMIT_DROP
    assert spy0.calls == 1 and q0.stats.dropped == 1 and q0.stats.sent_packets == 0
    assert a.drop_counts[SkbDropReason.QDISC_DROP] == 1


def test_the_builtin_fifo_is_bypassed_when_empty() -> None:
    loop, _a, nic_a, b, nic_b = _pair()
    sink = Sink(b)
    nic_a.qdisc = None  # no tc qdisc: the device core's own FIFO
    assert dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr))) == 0
    fifo = nic_a.priv["fallback_qdisc"]
    assert fifo.qlen == 0 and not fifo.q
    spy = _Spy(fifo)
    assert dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr))) == 0
    assert spy.calls == 0
    loop.run()
    assert len(sink) == 2
