"""fq, the Fair Queue packet scheduler with per-flow pacing (net/sched/sch_fq.c).

Modelled on Linux 6.1's sch_fq (what iproute2 6.1's ``tc`` describes; the 6.7 bands
and fast path are not modelled):

- Classification (fq_classify): packets with priority TC_PRIO_CONTROL go to the
  internal high-priority queue (``highprio``); a packet with a full socket is the
  socket's flow (identity of ``skb.sk``); one without a socket, or from a listener,
  is orphaned and hashed: flow ``skb_get_hash(skb) & orphan_mask``, so orphans live in
  at most ``orphan_mask + 1`` (1024) flows. Unconnected sockets (sk_state TCP_CLOSE,
  e.g. UDP sendto) are hashed the same way but keep their socket for pacing.
- Scheduling (fq_dequeue): deficit round robin over ``new_flows`` then ``old_flows``;
  a flow starts with ``initial_quantum`` credit and gets ``quantum`` more each round;
  an idle flow coming back after ``refill_delay`` gets at least ``quantum``.
- Pacing: the rate is min(sk->sk_pacing_rate, maxrate). A flow may send a quantum
  back to back, then waits quantum/rate; below ``low_rate_threshold`` it sends one
  packet per round and waits len/rate. A future ``skb.tstamp`` (EDT) is honoured
  (beyond ``horizon`` dropped or capped). Throttled flows sit in a time-ordered heap;
  ``next_time_ns`` is the earliest (the qdisc watchdog, without timer slack).
- Flow garbage collection (fq_gc): once flows >= 2 * buckets and more than half are
  inactive, looking a flow up reclaims up to 8 flows of its bucket detached for more
  than 3 s (``gc``). Deviation: Linux walks one rb-tree path; here the whole bucket is
  scanned. Sockets are bucketed by flow creation order (Linux: hash_ptr(sk)), which
  keeps runs reproducible.

``sk_pacing_rate`` is read from ``skb.sk`` (bytes/s); a missing attribute, None, 0 or
~0 means unlimited. ce_threshold marking and the sk_hash reallocation check are not
modelled (#3). Drops carry the reasons Linux 6.18's fq_enqueue gives (6.14+):
FQ_BAND_LIMIT for ``limit`` (which 6.7+ applies per band; here to the one queue),
FQ_HORIZON_LIMIT, FQ_FLOW_LIMIT.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any

from tuxnet.core.sched.base import (
    NET_XMIT_SUCCESS,
    TC_PRIO_CONTROL,
    TC_PRIO_MAX,
    Qdisc,
    QdiscStats,
    qdisc_pkt_len,
)
from tuxnet.core.sched.flowhash import skb_get_hash
from tuxnet.dropreason import SkbDropReason
from tuxnet.sim.units import parse_rate, parse_size, parse_time
from tuxnet.skb import SkBuff

__all__ = ["RATE_UNLIMITED", "Fq", "FqStats"]

NSEC_PER_SEC = 1_000_000_000
NSEC_PER_USEC = 1_000
SK_PACING_FQ = 2  # enum sk_pacing (include/net/sock.h)
RATE_UNLIMITED = (1 << 64) - 1  # ~0UL: no rate limit (sk_pacing_rate / flow_max_rate)
U32_MAX = 0xFFFFFFFF  # ~0U: tc's "no maxrate" in TCA_FQ_FLOW_MAX_RATE
TIME_NEVER = (1 << 64) - 1  # ~0ULL: time_next_delayed_flow with nothing throttled
FQ_GC_MAX = 8  # sch_fq.c: limit number of collected flows per round
FQ_GC_AGE_NS = 3 * NSEC_PER_SEC  # sch_fq.c: FQ_GC_AGE (3*HZ)
GOLDEN_RATIO_32 = 0x61C88647  # include/linux/hash.h
# include/net/tcp_states.h
TCP_CLOSE = 7
TCP_LISTEN = 10
TCP_NEW_SYN_RECV = 12


def _hash_32(val: int, bits: int) -> int:
    """hash_32 (include/linux/hash.h): multiplicative hash to ``bits`` bits."""
    return ((val * GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - bits)


def _sk_pacing_rate(sk: Any) -> int:
    rate = getattr(sk, "sk_pacing_rate", None)
    if not rate or rate >= RATE_UNLIMITED or rate == U32_MAX:
        return RATE_UNLIMITED
    return int(rate)


class FqStats(QdiscStats):
    """struct tc_fq_qd_stats counters (fq_dump_stats), plus the basic ones."""

    __slots__ = ("allocation_errors", "ce_mark", "flows_plimit", "gc_flows",
                 "highprio_packets", "horizon_caps", "horizon_drops", "pkts_too_long",
                 "tcp_retrans", "throttled")

    def __init__(self) -> None:
        super().__init__()
        self.gc_flows = 0
        self.highprio_packets = 0
        self.tcp_retrans = 0  # always 0 since Linux 4.x
        self.throttled = 0
        self.flows_plimit = 0
        self.pkts_too_long = 0
        self.allocation_errors = 0
        self.ce_mark = 0
        self.horizon_drops = 0
        self.horizon_caps = 0


class FqFlow:
    """struct fq_flow: one flow's packets (in-order list + out-of-order heap by
    time_to_send), its DRR credit and its pacing time."""

    __slots__ = ("age", "bucket", "credit", "detached", "head", "key", "qlen", "sk",
                 "t_root", "throttled", "time_next_packet")

    def __init__(self, key: int, sk: Any, bucket: int, credit: int, now_ns: int) -> None:
        self.key = key
        self.sk = sk  # held so the key (id of the socket) stays unique
        self.bucket = bucket
        self.credit = credit
        self.head: deque[tuple[int, SkBuff]] = deque()  # (time_to_send, skb), in order
        self.t_root: list[tuple[int, int, SkBuff]] = []  # (time_to_send, seq, skb)
        self.qlen = 0
        self.time_next_packet = 0
        self.detached = True  # fq_flow_set_detached: not on any list
        self.age = now_ns
        self.throttled = False

    def peek(self) -> tuple[int, SkBuff] | None:
        """fq_peek: the packet with the earliest time_to_send (list head or tree)."""
        t = self.t_root
        h = self.head
        if not t:
            return h[0] if h else None
        if not h or t[0][0] < h[0][0]:
            return t[0][0], t[0][2]
        return h[0]

    def pop(self) -> SkBuff:
        """fq_erase_head of the packet fq_peek returned."""
        t = self.t_root
        h = self.head
        if t and (not h or t[0][0] < h[0][0]):
            return heapq.heappop(t)[2]
        return h.popleft()[1]

    def add(self, tts: int, skb: SkBuff, seq: int) -> None:
        """flow_queue_add: append when not earlier than the tail, else into the tree."""
        h = self.head
        if not h or tts >= h[-1][0]:
            h.append((tts, skb))
        else:
            heapq.heappush(self.t_root, (tts, seq, skb))

    def purge(self) -> list[SkBuff]:
        """fq_flow_purge: take every packet out."""
        out = [s for _, s in self.head] + [s for _, _, s in self.t_root]
        self.head.clear()
        self.t_root.clear()
        self.qlen = 0
        return out


class Fq(Qdisc):
    """fq_qdisc_ops (Linux 6.1). tc options, with Linux's defaults (fq_init):

    ``limit`` 10000 packets, ``flow_limit`` 100 packets, ``quantum`` 2 * psched_mtu
    (3028 bytes on Ethernet), ``initial_quantum`` 10 * psched_mtu (15140),
    ``maxrate`` unlimited, ``buckets`` 1024, ``orphan_mask`` 1023, ``pacing`` on,
    ``refill_delay`` 40 ms, ``low_rate_threshold`` 550 kbit/s, ``timer_slack`` 10 us,
    ``horizon`` 10 s, ``horizon_drop`` True (False = horizon_cap).

    Rates are tc rates (a string like "10mbit", or an int in bits/s, as tc's bare
    numbers); times tc times (a string, or an int in ns); sizes ints or tc sizes.
    """

    kind = "fq"
    stats_class = FqStats
    stats: FqStats

    def init(self, params: dict[str, Any]) -> None:
        """fq_init: Linux's defaults, then fq_change with the given options."""
        pmtu = self.psched_mtu()
        self.limit = 10000  # fq_init: sch->limit
        self.flow_plimit = 100
        self.quantum = 2 * pmtu
        self.initial_quantum = 10 * pmtu
        self.flow_refill_delay = 40_000_000  # msecs_to_jiffies(40)
        self.flow_max_rate = RATE_UNLIMITED
        self.rate_enable = True
        self.fq_trees_log = 10  # ilog2(1024)
        self.orphan_mask = 1024 - 1
        self.low_rate_threshold = 550000 // 8  # bytes/s
        self.timer_slack = 10 * NSEC_PER_USEC
        self.horizon = 10 * NSEC_PER_SEC
        self.horizon_drop = True
        self.ce_threshold_us = U32_MAX  # ~0U usec: ce marking off
        self.flows = 0
        self.inactive_flows = 0
        self.throttled_flows = 0
        self.time_next_delayed_flow = TIME_NEVER
        self.unthrottle_latency_ns = 0
        self.last_now_ns = 0
        self._internal = FqFlow(0, None, 0, 0, 0)
        self._internal.detached = False
        self._new_flows: deque[FqFlow] = deque()
        self._old_flows: deque[FqFlow] = deque()
        self._delayed: list[tuple[int, int, FqFlow]] = []  # q->delayed rb-tree
        self._flows: dict[int, FqFlow] = {}
        self._buckets: list[dict[int, FqFlow]] = [{} for _ in range(1 << self.fq_trees_log)]
        self._seq = 0
        self._sk_serial = 0
        self._change(params, init=True)

    # --- configuration ---------------------------------------------------------------

    def change(self, **params: Any) -> None:
        """fq_change (tc qdisc change/replace ... fq): update options; packets over
        a lowered limit are dequeued and freed."""
        self._change(dict(params), init=False)

    def _change(self, p: dict[str, Any], init: bool) -> None:
        new = {}
        if "limit" in p:
            new["limit"] = _u32(p.pop("limit"), "limit")
        if "flow_limit" in p:
            new["flow_plimit"] = _u32(p.pop("flow_limit"), "flow_limit")
        if "quantum" in p:
            quantum = _size(p.pop("quantum"), "quantum")
            if not 0 < quantum <= 1 << 20:  # fq_change: 0 < quantum <= 1 << 20
                raise ValueError("sch_fq: invalid quantum")
            new["quantum"] = quantum
        if "initial_quantum" in p:
            new["initial_quantum"] = _size(p.pop("initial_quantum"), "initial_quantum")
        if "maxrate" in p:
            rate = p.pop("maxrate")
            new["flow_max_rate"] = RATE_UNLIMITED if rate is None else _rate(rate, "maxrate")
        if "low_rate_threshold" in p:
            new["low_rate_threshold"] = _rate(p.pop("low_rate_threshold"), "low_rate_threshold")
        if "pacing" in p:
            new["rate_enable"] = bool(p.pop("pacing"))
        if "refill_delay" in p:
            new["flow_refill_delay"] = _time(p.pop("refill_delay"), "refill_delay")
        if "buckets" in p:
            buckets = _u32(p.pop("buckets"), "buckets")
            log = max(buckets - 1, 0).bit_length()  # q_fq.c ilog2: rounds up
            if not 1 <= log <= 18:  # fq_change: 1 <= log <= ilog2(256*1024)
                raise ValueError("sch_fq: buckets must be 2 .. 262144")
            new["fq_trees_log"] = log
        if "orphan_mask" in p:
            new["orphan_mask"] = _u32(p.pop("orphan_mask"), "orphan_mask")
        if "timer_slack" in p:
            new["timer_slack"] = _time(p.pop("timer_slack"), "timer_slack")
        if "horizon" in p:
            new["horizon"] = _time(p.pop("horizon"), "horizon")
        if "horizon_drop" in p:
            new["horizon_drop"] = bool(p.pop("horizon_drop"))
        self._reject_unknown("fq", p)
        log = new.pop("fq_trees_log", self.fq_trees_log)
        for name, value in new.items():
            setattr(self, name, value)
        if log != self.fq_trees_log:
            self._resize(log)
        if not init:
            now = self.last_now_ns
            while self.qlen > self.limit:  # fq_change: trim to the new limit
                skb = self.dequeue(now)
                if skb is None:
                    break
                self._free(skb)

    def _resize(self, log: int) -> None:
        """fq_resize + fq_rehash: new bucket count; gc candidates are freed on the way."""
        now = self.last_now_ns
        old = self._flows
        self.fq_trees_log = log
        self._buckets = [{} for _ in range(1 << log)]
        self._flows = {}
        fcnt = 0
        for key, f in old.items():
            if f.detached and now > f.age + FQ_GC_AGE_NS:
                fcnt += 1
                continue
            f.bucket = self._bucket_of(key, f.sk)
            self._buckets[f.bucket][key] = f
            self._flows[key] = f
        self.flows -= fcnt
        self.inactive_flows -= fcnt
        self.stats.gc_flows += fcnt

    def _bucket_of(self, key: int, sk: Any) -> int:
        if sk is None:
            return _hash_32(key, self.fq_trees_log)
        self._sk_serial += 1
        return _hash_32(self._sk_serial * 2, self.fq_trees_log)

    # --- enqueue ---------------------------------------------------------------------

    def _classify(self, skb: SkBuff, now: int) -> FqFlow:
        """fq_classify: the flow of ``skb`` (created detached when new)."""
        if (skb.priority & TC_PRIO_MAX) == TC_PRIO_CONTROL:
            return self._internal
        sk = skb.sk
        state = getattr(sk, "sk_state", None) if sk is not None else None
        if sk is None or state in (TCP_LISTEN, TCP_NEW_SYN_RECV):
            key = ((skb_get_hash(skb) & self.orphan_mask) << 1) | 1
            if sk is not None:
                skb.orphan()  # request socket / listener: pretend orphaned
            owner = None
        elif state == TCP_CLOSE:
            key = ((skb_get_hash(skb) & self.orphan_mask) << 1) | 1
            owner = None
        else:
            key = id(sk) << 1  # even: never equal to an orphan key
            owner = sk
        f = self._flows.get(key)
        if f is not None:
            if (self.flows >= (2 << self.fq_trees_log)
                    and self.inactive_flows > self.flows // 2):
                self._gc(self._buckets[f.bucket], key, now)
            return f
        bucket = self._bucket_of(key, owner)
        if self.flows >= (2 << self.fq_trees_log) and self.inactive_flows > self.flows // 2:
            self._gc(self._buckets[bucket], key, now)
        f = FqFlow(key, owner, bucket, self.initial_quantum, now)
        if owner is not None and self.rate_enable and \
                getattr(owner, "sk_pacing_status", None) is not None:
            owner.sk_pacing_status = SK_PACING_FQ  # fq paces this socket: TCP need not
        self._buckets[bucket][key] = f
        self._flows[key] = f
        self.flows += 1
        self.inactive_flows += 1
        return f

    def _gc(self, bucket: dict[int, FqFlow], key: int, now: int) -> None:
        """fq_gc: free up to FQ_GC_MAX detached flows idle for more than 3 s."""
        victims = []
        for k, f in bucket.items():
            if k != key and f.detached and now > f.age + FQ_GC_AGE_NS:
                victims.append(k)
                if len(victims) == FQ_GC_MAX:
                    break
        if not victims:
            return
        for k in victims:
            del bucket[k]
            del self._flows[k]
        n = len(victims)
        self.flows -= n
        self.inactive_flows -= n
        self.stats.gc_flows += n

    def enqueue(self, skb: SkBuff, now_ns: int) -> int:
        """fq_enqueue: limit, EDT horizon, classify, per-flow limit, then queue."""
        self.last_now_ns = now_ns
        if self.qlen >= self.limit:
            return self._qdisc_drop(skb, SkbDropReason.FQ_BAND_LIMIT)
        tstamp = skb.tstamp
        if not tstamp:
            tts = now_ns
        else:
            if tstamp > now_ns + self.horizon:  # fq_packet_beyond_horizon
                if self.horizon_drop:
                    self.stats.horizon_drops += 1
                    return self._qdisc_drop(skb, SkbDropReason.FQ_HORIZON_LIMIT)
                self.stats.horizon_caps += 1
                tstamp = skb.tstamp = now_ns + self.horizon
            tts = tstamp
        f = self._classify(skb, now_ns)
        internal = f is self._internal
        if not internal and f.qlen >= self.flow_plimit:
            self.stats.flows_plimit += 1
            return self._qdisc_drop(skb, SkbDropReason.FQ_FLOW_LIMIT)
        f.qlen += 1
        self.backlog += qdisc_pkt_len(skb)
        if f.detached:
            f.detached = False
            self._new_flows.append(f)
            if now_ns > f.age + self.flow_refill_delay:
                f.credit = max(f.credit, self.quantum)
            self.inactive_flows -= 1
        self._seq += 1
        f.add(tts, skb, self._seq)
        if internal:
            self.stats.highprio_packets += 1
        self.qlen += 1
        return NET_XMIT_SUCCESS

    # --- dequeue ---------------------------------------------------------------------

    def _set_throttled(self, f: FqFlow) -> None:
        """fq_flow_set_throttled: into the time-ordered delayed tree."""
        self._seq += 1
        heapq.heappush(self._delayed, (f.time_next_packet, self._seq, f))
        f.throttled = True
        self.throttled_flows += 1
        self.stats.throttled += 1
        if self.time_next_delayed_flow > f.time_next_packet:
            self.time_next_delayed_flow = f.time_next_packet

    def _check_throttled(self, now: int) -> None:
        """fq_check_throttled: move flows whose time has come to old_flows."""
        if self.time_next_delayed_flow > now:
            return
        sample = now - self.time_next_delayed_flow  # unthrottle latency EWMA, 1/8
        self.unthrottle_latency_ns -= self.unthrottle_latency_ns >> 3
        self.unthrottle_latency_ns += sample >> 3
        self.time_next_delayed_flow = TIME_NEVER
        delayed = self._delayed
        old = self._old_flows
        while delayed:
            t, _, f = delayed[0]
            if t > now:
                self.time_next_delayed_flow = t
                break
            heapq.heappop(delayed)
            f.throttled = False
            self.throttled_flows -= 1
            old.append(f)

    def _dequeue(self, now_ns: int) -> SkBuff | None:
        """fq_dequeue: internal queue first, then DRR over new then old flows, pacing."""
        if not self.qlen:
            return None
        internal = self._internal
        if internal.qlen:
            skb = internal.pop()
            internal.qlen -= 1
            return self._account(skb)
        now = self.last_now_ns = now_ns
        self._check_throttled(now)
        new_flows = self._new_flows
        old_flows = self._old_flows
        while True:
            head = new_flows if new_flows else old_flows
            if not head:
                return None  # qdisc_watchdog_schedule at time_next_delayed_flow
            f = head[0]
            if f.credit <= 0:
                f.credit += self.quantum
                head.popleft()
                old_flows.append(f)
                continue
            item = f.peek()
            if item is None:
                head.popleft()
                # force a pass through old_flows to prevent starvation
                if head is new_flows and old_flows:
                    old_flows.append(f)
                else:
                    f.detached = True
                    f.age = now
                    self.inactive_flows += 1
                continue
            time_next_packet = max(item[0], f.time_next_packet)
            if now < time_next_packet:
                head.popleft()
                f.time_next_packet = time_next_packet
                self._set_throttled(f)
                continue
            skb = f.pop()
            f.qlen -= 1
            break
        plen = qdisc_pkt_len(skb)
        f.credit -= plen
        if self.rate_enable:
            self._pace(f, skb, plen, now)
        return self._account(skb)

    def _pace(self, f: FqFlow, skb: SkBuff, plen: int, now: int) -> None:
        """The pacing tail of fq_dequeue: the flow's next transmit time."""
        rate = self.flow_max_rate
        if not skb.tstamp:  # with an EDT tstamp only maxrate paces
            sk = skb.sk
            if sk is not None:
                rate = min(_sk_pacing_rate(sk), rate)
            if rate <= self.low_rate_threshold:
                f.credit = 0  # one packet per round
            else:
                plen = max(plen, self.quantum)
                if f.credit > 0:
                    return
        if rate == RATE_UNLIMITED:
            return
        length = plen * NSEC_PER_SEC
        if rate:
            length //= rate
        if length > NSEC_PER_SEC:  # clamp the delay to 1 second
            length = NSEC_PER_SEC
            self.stats.pkts_too_long += 1
        if f.time_next_packet:  # account for schedule/timer drift
            length -= min(length // 2, max(now - f.time_next_packet, 0))
        f.time_next_packet = now + length

    def _account(self, skb: SkBuff) -> SkBuff:
        n = qdisc_pkt_len(skb)
        self.qlen -= 1
        self.backlog -= n
        st = self.stats
        st.sent_bytes += n
        st.sent_packets += 1
        return skb

    def _next_time_ns(self, now_ns: int) -> int | None:
        """The earliest time a packet is eligible: now, a list flow's head time, or the
        first throttled flow's time_next_packet."""
        if not self.qlen:
            return None
        if self._internal.qlen:
            return now_ns
        best = self._delayed[0][0] if self._delayed else TIME_NEVER
        for head in (self._new_flows, self._old_flows):
            for f in head:
                item = f.peek()
                if item is None:
                    continue
                t = max(item[0], f.time_next_packet)
                if t <= now_ns:
                    return now_ns
                best = min(best, t)
        return max(best, now_ns) if best != TIME_NEVER else None

    def _reset(self) -> None:
        """fq_reset: free every packet and flow."""
        for skb in self._internal.purge():
            self._free(skb)
        for f in self._flows.values():
            for skb in f.purge():
                self._free(skb)
        self._flows.clear()
        for b in self._buckets:
            b.clear()
        self._new_flows.clear()
        self._old_flows.clear()
        self._delayed.clear()
        self.flows = 0
        self.inactive_flows = 0
        self.throttled_flows = 0
        self.time_next_delayed_flow = TIME_NEVER

    # --- dump ------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """fq_dump: TCA_FQ_* values in kernel units, in iproute2 6.1's print order."""
        return {
            "limit": self.limit,
            "flow_limit": self.flow_plimit,
            "buckets": 1 << self.fq_trees_log,
            "orphan_mask": self.orphan_mask,
            "pacing": self.rate_enable,
            "quantum": self.quantum,
            "initial_quantum": self.initial_quantum,
            "maxrate": min(self.flow_max_rate, U32_MAX),  # bytes/s, ~0U = none
            "low_rate_threshold": self.low_rate_threshold,  # bytes/s
            "refill_delay": self.flow_refill_delay // NSEC_PER_USEC,  # usec
            "ce_threshold": self.ce_threshold_us,  # usec, ~0U = off
            "timer_slack": self.timer_slack,  # ns
            "horizon": self.horizon // NSEC_PER_USEC,  # usec
            "horizon_drop": self.horizon_drop,
        }

    def dump_stats(self) -> dict[str, int]:
        """fq_dump_stats: struct tc_fq_qd_stats (time fields relative to the last
        time the qdisc was driven)."""
        st = self.stats
        return {
            "gc_flows": st.gc_flows,
            "highprio_packets": st.highprio_packets,
            "tcp_retrans": st.tcp_retrans,
            "throttled": st.throttled,
            "flows_plimit": st.flows_plimit,
            "pkts_too_long": st.pkts_too_long,
            "allocation_errors": st.allocation_errors,
            # s64: ~0ULL + slack - now wraps negative when nothing is throttled
            "time_next_delayed_flow": (
                self.time_next_delayed_flow + self.timer_slack - self.last_now_ns
                if self.time_next_delayed_flow != TIME_NEVER else -1),
            "flows": self.flows,
            "inactive_flows": self.inactive_flows,
            "throttled_flows": self.throttled_flows,
            "unthrottle_latency_ns": min(self.unthrottle_latency_ns, U32_MAX),
            "ce_mark": st.ce_mark,
            "horizon_drops": st.horizon_drops,
            "horizon_caps": st.horizon_caps,
        }

    def flow_qlen(self, sk: Any) -> int:
        """Packets queued for socket ``sk`` (0 if it has no flow)."""
        f = self._flows.get(id(sk) << 1)
        return f.qlen if f is not None else 0


def _u32(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f'Illegal "{what}"')
    try:
        n = int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f'Illegal "{what}"') from None
    if not 0 <= n <= U32_MAX:
        raise ValueError(f'Illegal "{what}"')
    return n


def _size(value: Any, what: str) -> int:
    try:
        n = parse_size(value)
    except ValueError:
        raise ValueError(f'Illegal "{what}"') from None
    if n > 0x7FFFFFFF:
        raise ValueError(f'Illegal "{what}"')
    return n


def _rate(value: Any, what: str) -> int:
    """A tc rate (string, or int bits/s) -> bytes/s, as get_rate stores it (u32)."""
    try:
        bps = parse_rate(value) // 8
    except ValueError:
        raise ValueError(f'Illegal "{what}"') from None
    if bps >= U32_MAX:
        raise ValueError(f'Illegal "{what}"')
    return bps


def _time(value: Any, what: str) -> int:
    try:
        ns = parse_time(value)
    except ValueError:
        raise ValueError(f'Illegal "{what}"') from None
    if ns // NSEC_PER_USEC > U32_MAX:
        raise ValueError(f'Illegal "{what}"')
    return ns
