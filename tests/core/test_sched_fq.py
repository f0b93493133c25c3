"""fq (net/sched/sch_fq.c): DRR fairness, new flows first, limits, pacing from
sk_pacing_rate and maxrate, EDT timestamps and the horizon, flow garbage collection."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import pytest

from tuxnet.core.sched import NET_XMIT_DROP, NET_XMIT_SUCCESS, Fq, qdisc_create
from tuxnet.core.sched.flowhash import skb_get_hash
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import SkBuff, alloc_skb, build_skb
from tuxnet.wire.build import udp_frame

SEC = 1_000_000_000
MSEC = 1_000_000
TCP_ESTABLISHED = 1


class Sock:
    """The socket fields fq reads: sk_pacing_rate (bytes/s) and sk_state."""

    def __init__(self, rate: int | None = None, state: int = TCP_ESTABLISHED) -> None:
        self.sk_pacing_rate = rate
        self.sk_state = state


class Drops:
    def __init__(self) -> None:
        self.log: list[tuple[SkBuff, SkbDropReason]] = []

    def __call__(self, skb: SkBuff, reason: SkbDropReason) -> None:
        self.log.append((skb, reason))


def mkskb(sk: object = None, n: int = 1514, h: int = 0, tstamp: int = 0,
          priority: int = 0) -> SkBuff:
    skb = alloc_skb(n)
    skb.put(n)
    skb.sk = sk
    skb.hash = h
    skb.tstamp = tstamp
    skb.priority = priority
    return skb


def make(**params: object) -> tuple[Fq, Drops]:
    drops = Drops()
    q = qdisc_create("fq", drops, **params)
    assert isinstance(q, Fq)
    return q, drops


def run(q: Fq, until: int, refill: Callable[[SkBuff, int], None] | None = None,
        start: int = 0) -> list[tuple[int, SkBuff]]:
    """A device with an infinitely fast link: dequeue whenever fq lets a packet go,
    sleep until next_time_ns otherwise. ``refill`` keeps a sender backlogged."""
    t = start
    sent: list[tuple[int, SkBuff]] = []
    while t < until:
        skb = q.dequeue(t)
        if skb is None:
            nxt = q.next_time_ns(t)
            if nxt is None:
                break
            assert nxt > t, "next_time_ns said ready but dequeue gave nothing"
            t = nxt
            continue
        sent.append((t, skb))
        if refill is not None:
            refill(skb, t)
    return sent


def test_defaults_follow_fq_init() -> None:
    q, _ = make()
    o = q.dump()
    assert (o["limit"], o["flow_limit"], o["buckets"], o["orphan_mask"]) == (10000, 100, 1024, 1023)
    assert o["quantum"] == 2 * 1514 and o["initial_quantum"] == 10 * 1514  # 2/10 * psched_mtu
    assert o["low_rate_threshold"] == 550000 // 8 and o["refill_delay"] == 40000
    assert o["timer_slack"] == 10000 and o["horizon"] == 10_000_000 and o["horizon_drop"]
    assert o["maxrate"] == 0xFFFFFFFF and o["pacing"]
    lo, _ = make(mtu=65536)
    assert lo.quantum == 2 * 65550


def test_round_robin_is_byte_fair_between_two_flows() -> None:
    q, _ = make()
    a, b = Sock(), Sock()
    for _ in range(100):
        q.enqueue(mkskb(a, 1514), 0)
        q.enqueue(mkskb(b, 600), 0)
    got = {id(a): 0, id(b): 0}
    for _ in range(120):
        skb = q.dequeue(0)
        assert skb is not None
        got[id(skb.sk)] += skb.len
        # at every point the two flows are within one quantum plus a packet
        assert abs(got[id(a)] - got[id(b)]) <= q.quantum + q.initial_quantum
    assert abs(got[id(a)] - got[id(b)]) <= q.quantum + 1514


def test_new_flow_is_served_before_old_flows() -> None:
    q, _ = make()
    bulk, mouse = Sock(), Sock()
    for _ in range(50):
        q.enqueue(mkskb(bulk), 0)
    for _ in range(12):  # initial_quantum spent: bulk has moved to old_flows
        assert q.dequeue(0) is not None
    q.enqueue(mkskb(mouse, 100), 0)
    skb = q.dequeue(0)
    assert skb is not None and skb.sk is mouse


def test_flow_limit_drops_and_counts() -> None:
    q, drops = make()
    sk = Sock()
    assert all(q.enqueue(mkskb(sk), 0) == NET_XMIT_SUCCESS for _ in range(100))
    victim = mkskb(sk)
    assert q.enqueue(victim, 0) == NET_XMIT_DROP
    assert drops.log == [(victim, SkbDropReason.FQ_FLOW_LIMIT)]  # Linux 6.14+
    assert q.stats.flows_plimit == 1 and q.stats.dropped == 1
    assert q.enqueue(mkskb(Sock()), 0) == NET_XMIT_SUCCESS  # other flows unaffected
    assert q.flow_qlen(sk) == 100 and q.qlen == 101


def test_total_limit() -> None:
    q, drops = make(limit=5)
    for i in range(6):
        q.enqueue(mkskb(h=i + 1), 0)
    assert q.qlen == 5 and q.stats.dropped == 1 and len(drops.log) == 1
    assert q.stats.flows_plimit == 0
    assert drops.log[0][1] == SkbDropReason.FQ_BAND_LIMIT  # 6.18: the (one) band's limit


def test_control_priority_goes_first_as_highprio() -> None:
    q, _ = make()
    q.enqueue(mkskb(Sock()), 0)
    ctl = mkskb(Sock(), 80, priority=7)  # TC_PRIO_CONTROL
    q.enqueue(ctl, 0)
    assert q.dequeue(0) is ctl
    assert q.stats.highprio_packets == 1 and q.dump_stats()["flows"] == 1


def _steady_rate(sent: list[tuple[int, SkBuff]], skip_bytes: int) -> float:
    """Bytes/s after the first ``skip_bytes`` (the initial-quantum burst)."""
    total = 0
    start = None
    count = 0
    for t, skb in sent:
        if start is None and total >= skip_bytes:
            start = t
            count = 0
        total += skb.len
        if start is not None:
            count += skb.len
    assert start is not None
    last = sent[-1][0]
    # packets after the start leave at start + k * gap: bytes minus one quantum over time
    return (count - 2 * 1514) / ((last - start) / SEC)


@pytest.mark.parametrize("rate_bps", [5_000_000, 100_000_000])
def test_pacing_accuracy_within_one_percent(rate_bps: int) -> None:
    rate = rate_bps // 8  # sk_pacing_rate is bytes per second
    q, _ = make()
    sk = Sock(rate)
    for _ in range(50):
        q.enqueue(mkskb(sk), 0)
    sent = run(q, SEC, refill=lambda skb, t: q.enqueue(mkskb(sk), t))
    total = sum(s.len for _, s in sent)
    steady = _steady_rate(sent, q.initial_quantum)
    assert abs(steady - rate) / rate < 0.01, (steady, rate)
    # over the whole second only the initial burst (10 packets) is extra
    assert rate * 0.99 < total - q.initial_quantum <= rate * 1.01
    assert q.stats.throttled > 0 and q.stats.pkts_too_long == 0


def test_low_rate_flow_sends_one_packet_per_gap() -> None:
    q, _ = make()
    rate = 400_000 // 8  # 400 kbit/s < low_rate_threshold 550 kbit/s
    sk = Sock(rate)
    q.enqueue(mkskb(sk), 0)
    q.enqueue(mkskb(sk), 0)
    sent = run(q, 10 * SEC, refill=lambda skb, t: q.enqueue(mkskb(sk), t))
    gaps = {b[0] - a[0] for a, b in pairwise(sent)}
    assert gaps == {1514 * SEC // rate}  # no quantum burst: len / rate each
    assert abs(len(sent) * 1514 / 10 - rate) / rate < 0.01


def test_maxrate_caps_every_flow() -> None:
    q, _ = make(maxrate="10mbit")
    assert q.flow_max_rate == 1_250_000
    fast = Sock(100_000_000 // 8)
    sent = run(q, SEC, refill=lambda skb, t: q.enqueue(mkskb(fast), t),
               start=_fill(q, fast, 30))
    steady = _steady_rate(sent, q.initial_quantum)
    assert abs(steady - 1_250_000) / 1_250_000 < 0.01
    # an orphan flow (no socket) is paced by maxrate alone
    q2, _ = make(maxrate=10_000_000)  # ints are bits/s, as tc's bare numbers
    sent = run(q2, SEC, refill=lambda skb, t: q2.enqueue(mkskb(h=7), t),
               start=_fill(q2, None, 30, h=7))
    steady = _steady_rate(sent, q2.initial_quantum)
    assert abs(steady - 1_250_000) / 1_250_000 < 0.01


def _fill(q: Fq, sk: object, n: int, h: int = 0) -> int:
    for _ in range(n):
        q.enqueue(mkskb(sk, h=h), 0)
    return 0


def test_edt_timestamp_is_honoured() -> None:
    q, _ = make()
    sk = Sock()
    late, early = mkskb(sk, tstamp=3 * MSEC), mkskb(sk, tstamp=1 * MSEC)
    q.enqueue(late, 0)
    q.enqueue(early, 0)  # earlier than the flow's tail: kept in time order
    assert q.dequeue(0) is None
    assert q.next_time_ns(0) == 1 * MSEC
    assert q.dump_stats()["throttled_flows"] == 1 and q.stats.throttled == 1
    assert q.dequeue(1 * MSEC - 1) is None
    assert q.dequeue(1 * MSEC) is early
    assert q.next_time_ns(1 * MSEC) == 3 * MSEC
    assert q.dequeue(3 * MSEC) is late
    assert q.next_time_ns(3 * MSEC) is None


def test_horizon_drop_and_cap() -> None:
    q, drops = make()
    now = 5 * SEC
    far = mkskb(Sock(), tstamp=now + 10 * SEC + 1)
    assert q.enqueue(far, now) == NET_XMIT_DROP
    assert q.stats.horizon_drops == 1
    assert drops.log == [(far, SkbDropReason.FQ_HORIZON_LIMIT)]  # Linux 6.14+
    assert q.enqueue(mkskb(Sock(), tstamp=now + 10 * SEC), now) == NET_XMIT_SUCCESS
    q2, _ = make(horizon_drop=False, horizon="1s")
    capped = mkskb(Sock(), tstamp=now + 5 * SEC)
    assert q2.enqueue(capped, now) == NET_XMIT_SUCCESS
    assert capped.tstamp == now + SEC and q2.stats.horizon_caps == 1
    assert q2.next_time_ns(now) == now + SEC


def _one_packet_flows(q: Fq, hashes: range, now: int) -> None:
    for h in hashes:
        q.enqueue(mkskb(h=h, n=100), now)
    while q.dequeue(now) is not None:
        pass


def test_gc_reclaims_flows_idle_for_three_seconds() -> None:
    q, _ = make(buckets=2)  # gc starts once flows >= 2 * buckets
    _one_packet_flows(q, range(1, 17), 0)
    _one_packet_flows(q, range(100, 101), MSEC)  # a pass that detaches the empties
    st = q.dump_stats()
    assert st["flows"] == 17 and st["inactive_flows"] >= 16
    q.enqueue(mkskb(h=200, n=100), 2 * SEC)  # too young: nothing reclaimed
    assert q.stats.gc_flows == 0 and q.flows == 18
    q.enqueue(mkskb(h=300, n=100), 4 * SEC)
    gc = q.stats.gc_flows
    assert 1 <= gc <= 8  # FQ_GC_MAX per lookup
    assert q.flows == 19 - gc and q.dump_stats()["gc_flows"] == gc
    assert q.inactive_flows == st["inactive_flows"] - gc  # 200 and 300 are queued


def test_orphans_share_a_bounded_set_of_flows() -> None:
    q, _ = make(orphan_mask=3)
    for h in range(1, 101):
        q.enqueue(mkskb(h=h, n=100), 0)
    assert q.flows == 4 and q.qlen == 100
    # a listener's packets are orphaned too (fq_classify: sk_listener)
    listener = Sock(state=10)  # TCP_LISTEN
    skb = mkskb(listener, h=1)
    q.enqueue(skb, 0)
    assert skb.sk is None and q.flows == 4


def test_flow_hash_from_packet_headers() -> None:
    def frame(sport: int) -> SkBuff:
        skb = build_skb(udp_frame(b"\x02" * 6, b"\x04" * 6, "10.0.0.1", "10.0.0.2",
                                  sport, 53, b"x" * 20))
        skb.put(len(skb.head))
        skb.set_network_header(14)
        return skb
    a, b, c = frame(1000), frame(1000), frame(1001)
    ha = skb_get_hash(a)
    assert ha and ha == skb_get_hash(b) and ha != skb_get_hash(c)
    assert a.sw_hash and a.l4_hash and a.hash == ha


def test_requeue_change_and_reset() -> None:
    q, drops = make()
    sk = Sock()
    for _ in range(5):
        q.enqueue(mkskb(sk), 0)
    skb = q.dequeue(0)
    assert skb is not None
    q.requeue(skb)
    assert q.qlen == 5 and q.stats.requeues == 1 and q.dequeue(0) is skb
    assert q.stats.sent_packets == 1
    q.change(limit=2, maxrate="1gbit", quantum=6000)
    assert q.qlen == 2 and q.quantum == 6000 and q.flow_max_rate == 125_000_000
    assert [r for _, r in drops.log] == [SkbDropReason.NOT_SPECIFIED] * 2
    q.reset()
    assert q.qlen == 0 and q.backlog == 0 and q.flows == 0
    assert q.next_time_ns(0) is None and len(drops.log) == 4


def test_bad_parameters_are_refused_with_tc_words() -> None:
    with pytest.raises(ValueError, match="invalid quantum"):
        make(quantum=0)
    with pytest.raises(ValueError, match="invalid quantum"):
        make(quantum=(1 << 20) + 1)
    with pytest.raises(ValueError, match="buckets"):
        make(buckets=1)
    with pytest.raises(ValueError, match='Illegal "maxrate"'):
        make(maxrate="fast")
    with pytest.raises(ValueError, match='Illegal "limit"'):
        make(limit=-1)
    with pytest.raises(ValueError, match='What is "ce_threshold"'):
        make(ce_threshold="1ms")
    q, _ = make(buckets=1000)  # rounded up to a power of two, as tc does
    assert q.dump()["buckets"] == 1024
