"""dev_queue_xmit: qdisc, TX ring stop/wake on a SimNic, the qdisc contract (pacing
watchdog), transmit on a down device, TX checksum offload, tracepoints."""

from __future__ import annotations

import errno
import itertools
from collections import deque
from typing import Any

from _coreutil import ETH_P_IP, SRC_MAC, Sink, frame

from tuxnet.core.dev import NET_XMIT_CN, dev_close, dev_get_stats, dev_open, dev_queue_xmit
from tuxnet.core.netcore import get_core, register_netdevice
from tuxnet.drivers.simnic import SimNic, connect_simnics
from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.sim import Topology
from tuxnet.skb import CHECKSUM_PARTIAL, SkBuff, alloc_skb
from tuxnet.wire.checksum import checksum_ok, csum_fold, pseudo_header_sum
from tuxnet.wire.ipv4 import IPPROTO_UDP


def _pair(rate_bps: int = 10_000_000, tx_ring: int = 64) -> tuple[SimLoop, Host, SimNic,
                                                                   Host, SimNic, Any]:
    loop = SimLoop()
    a = Host(loop, "a")
    b = Host(loop, "b")
    nic_a = SimNic("eth0", tx_ring=tx_ring, mac=b"\x02\x00\x00\x00\x00\xaa")
    nic_b = SimNic("eth0", mac=b"\x02\x00\x00\x00\x00\xbb")
    register_netdevice(a, nic_a)
    register_netdevice(b, nic_b)
    wire = connect_simnics(Topology(loop, seed=1), nic_a, nic_b, rate_bps=rate_bps,
                           delay_ns=1000, queue_limit_pkts=10_000)
    dev_open(nic_a)
    dev_open(nic_b)
    return loop, a, nic_a, b, nic_b, wire


def _out_skb(nic: SimNic, data: bytes) -> SkBuff:
    skb = alloc_skb(128 + len(data))
    skb.reserve(128)
    skb.put_data(data)
    skb.dev = nic
    skb.protocol = ETH_P_IP
    return skb


def test_tx_ring_full_stops_the_queue_and_completions_wake_it() -> None:
    loop, a, nic_a, b, nic_b, wire = _pair()
    sink = Sink(b)
    sent = [frame(nic_b.dev_addr, sport=i, payload=1000) for i in range(300)]
    for fr in sent:
        assert dev_queue_xmit(_out_skb(nic_a, fr)) == 0
    txq = nic_a.tx_queues[0]
    assert txq.stopped and txq.tx_stop == 1
    loop.run()
    assert [g["data"] for g in sink.got] == [fr[14:] for fr in sent]  # all, in order
    assert txq.tx_stop > 1 and txq.tx_restart == txq.tx_stop and not txq.stopped
    stats = dict(nic_a.get_ethtool_stats())
    assert stats["tx_queue_0_packets"] == 300 == stats["tx_packets"]
    assert stats["tx_restart_queue"] == txq.tx_restart
    assert stats["tx_bytes"] == sum(len(f) for f in sent)
    assert wire.ab.tx_packets == 300
    assert dev_get_stats(nic_b).rx_packets == 300
    assert nic_a.vector_state()["tx_done"] == 0  # every completion cleaned
    assert get_core(a).cpus[0].softirq_count[2] > 0  # NET_TX ran the qdisc again


class _PacingQdisc:
    """The qdisc contract, releasing one packet every ``gap_ns``."""

    no_queue = False

    def __init__(self, gap_ns: int) -> None:
        self.gap = gap_ns
        self.q: deque[SkBuff] = deque()
        self.next_ns = 0
        self.calls: list[str] = []

    @property
    def qlen(self) -> int:
        return len(self.q)

    @property
    def backlog(self) -> int:
        return sum(s.len for s in self.q)

    def enqueue(self, skb: SkBuff, now_ns: int) -> int:
        self.calls.append("enqueue")
        self.q.append(skb)
        return NET_XMIT_CN if len(self.q) > 3 else 0

    def dequeue(self, now_ns: int) -> SkBuff | None:
        if not self.q or now_ns < self.next_ns:
            return None
        self.next_ns = now_ns + self.gap
        return self.q.popleft()

    def next_time_ns(self, now_ns: int) -> int | None:
        if not self.q:
            return None
        return max(now_ns, self.next_ns)

    def requeue(self, skb: SkBuff) -> None:
        self.q.appendleft(skb)


def test_qdisc_contract_and_watchdog_for_a_pacing_qdisc() -> None:
    loop, _a, nic_a, b, nic_b, _wire = _pair(rate_bps=10_000_000_000)
    q = _PacingQdisc(100_000)
    nic_a.qdisc = q
    sink = Sink(b)
    rcs = [dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr, sport=i))) for i in range(5)]
    assert rcs == [0, 0, 0, 0, NET_XMIT_CN]  # the first left at once
    assert q.calls == ["enqueue"] * 5
    loop.run()
    assert len(sink) == 5
    times = [g["t"] for g in sink.got]
    gaps = [t2 - t1 for t1, t2 in itertools.pairwise(times)]
    assert all(99_000 <= g <= 101_000 for g in gaps), gaps


def test_xmit_on_a_down_device_drops_dev_ready() -> None:
    _loop, a, nic_a, _b, nic_b, _ = _pair()
    dev_close(nic_a)
    rc = dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr)))
    assert rc == -errno.ENETDOWN
    assert dev_get_stats(nic_a).tx_dropped == 1
    assert a.drop_counts[SkbDropReason.DEV_READY] == 1


def test_tx_checksum_offload_fills_checksum_partial() -> None:
    loop, _a, nic_a, b, nic_b, _ = _pair()
    sink = Sink(b)
    fr = bytearray(frame(nic_b.dev_addr, payload=33))
    udp_len = len(fr) - 34
    partial = csum_fold(pseudo_header_sum(bytes(fr[26:30]), bytes(fr[30:34]), IPPROTO_UDP,
                                          udp_len))
    fr[40:42] = partial.to_bytes(2, "big")  # what the stack leaves for the device
    skb = _out_skb(nic_a, bytes(fr))
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.csum_start = skb.data_off + 34
    skb.csum_offset = 6
    dev_queue_xmit(skb)
    loop.run()
    data = sink.got[0]["data"]
    udp = data[20:]
    assert checksum_ok(udp, csum_fold(pseudo_header_sum(data[12:16], data[16:20],
                                                         IPPROTO_UDP, len(udp))))


def test_transmit_tracepoints_and_taps() -> None:
    loop, a, nic_a, b, nic_b, _ = _pair()
    Sink(b)
    events: list[tuple[str, dict[str, Any]]] = []
    for name in ("net:net_dev_queue", "net:net_dev_xmit"):
        a.tracepoints.subscribe(name, lambda ev: events.append((ev.name, ev.fields)))
    from tuxnet.core.netcore import add_packet_tap
    from tuxnet.skb import PACKET_OUTGOING

    tapped: list[int] = []

    def tap(skb: SkBuff, dev: Any) -> None:
        tapped.append(skb.pkt_type)
        a.consume_skb(skb)

    add_packet_tap(a, tap)
    dev_queue_xmit(_out_skb(nic_a, frame(nic_b.dev_addr)))
    loop.run()
    assert [n for n, _ in events] == ["net:net_dev_queue", "net:net_dev_xmit"]
    assert events[1][1]["rc"] == 0 and events[1][1]["len"] == 60
    assert tapped == [PACKET_OUTGOING]
    assert SRC_MAC  # the helper frame's source
