"""BBR v1 (tcp_bbr.c) and delivery-rate sampling (tcp_rate.c): the constants, the
state machine STARTUP -> DRAIN -> PROBE_BW, the eight-phase gain cycle, PROBE_RTT's
timing, TCP_CC_INFO, rate samples and app-limited marking, internal pacing."""

from __future__ import annotations

import contextlib
import itertools
import struct
from typing import Any

from _tcpwire import MS, SEC, Wire, pair

from tuxnet.socket.stream import tcp_cc_info_bytes
from tuxnet.tcp import proto
from tuxnet.tcp.cong import RateSample
from tuxnet.tcp.cong import bbr as B
from tuxnet.tcp.pacing import SK_PACING_NEEDED, SK_PACING_NONE, tcp_update_pacing_rate
from tuxnet.tcp.sock import TcpSock
from tuxnet.tcp.sockopt import tcp_get_info


def test_constants() -> None:
    assert B.bbr_high_gain == 739  # 256 * 2885 / 1000 + 1: 2/ln 2
    assert B.bbr_drain_gain == 88  # 256 * 1000 / 2885
    assert B.bbr_cwnd_gain == 512
    assert B.bbr_pacing_gain == (320, 192, 256, 256, 256, 256, 256, 256)
    assert B.bbr_bw_rtts == 10 and B.bbr_min_rtt_win_sec == 10
    assert B.bbr_probe_rtt_mode_ms == 200 and B.bbr_cwnd_min_target == 4
    assert B.bbr_full_bw_thresh == 320 and B.bbr_full_bw_cnt == 3


def _bulk(w: Wire, cc: str, seconds: float, every_ms: int = 5,
          watch: Any = None) -> tuple[TcpSock, TcpSock, int]:
    for h in (w.a, w.b):
        h.sysctl.set("net.ipv4.tcp_congestion_control", cc)
        h.sysctl.set("net.ipv4.tcp_rmem", "4096 8388608 8388608")
        h.sysctl.set("net.ipv4.tcp_wmem", "4096 8388608 8388608")
    c, s, _ = pair(w)
    got = 0
    end = w.now() + int(seconds * SEC)
    while w.now() < end:
        with contextlib.suppress(BlockingIOError):
            proto.tcp_sendmsg(c, bytes(131072), 0, 0)
        with contextlib.suppress(BlockingIOError):
            got += len(proto.tcp_recvmsg(s, 1 << 23, 0, 0))
        if watch is not None:
            watch(w.now(), c)
        w.run(every_ms * MS)
    return c, s, got


def test_state_machine_and_gain_cycle() -> None:
    w = Wire(delay_ns=10 * MS, rate_bps=20_000_000)
    seen: list[tuple[int, int, int]] = []

    def watch(t: int, c: TcpSock) -> None:
        bbr = c.icsk_ca_priv
        if bbr is not None and (not seen or seen[-1][1:] != (bbr.mode, bbr.cycle_idx)):
            seen.append((t, bbr.mode, bbr.cycle_idx))

    c, _s, got = _bulk(w, "bbr", 3.0, 1, watch)
    modes = [m for _, m, _ in seen]
    first = {m: modes.index(m) for m in set(modes)}
    assert first[B.BBR_STARTUP] < first[B.BBR_DRAIN] < first[B.BBR_PROBE_BW]
    bbr = c.icsk_ca_priv
    assert bbr.full_bw_reached and c.sk_pacing_status == SK_PACING_NEEDED
    # PROBE_BW walks the eight phases in order, each about min_rtt (20 ms) long
    cyc = [(t, i) for t, m, i in seen if m == B.BBR_PROBE_BW]
    idx = [i for _, i in cyc]
    assert set(idx) == set(range(8))
    assert all(b == (a + 1) % 8 for a, b in itertools.pairwise(idx))
    assert idx[0] != 1  # never entered at the 3/4 phase
    lengths = [(b[0] - a[0]) / MS for a, b in itertools.pairwise(cyc)
               if a[1] >= 2]  # the cruise phases end on time alone
    assert lengths and all(19 <= x <= 30 for x in lengths)
    # the bottleneck bandwidth estimate and goodput are near the link rate
    bw_bps = B.bbr_bw(c) * c.mss_cache * 8 * 1_000_000 >> B.BW_SCALE
    assert 17_000_000 < bw_bps <= 20_000_000
    assert got * 8 / 3 > 14_000_000
    # BBR bounds the queue: in flight <= cwnd_gain (2) x BDP, so srtt stays under twice
    # the 20 ms path (a loss-based flow fills the whole buffer instead)
    assert (c.srtt_us >> 3) < 40_000


def test_probe_bw_entry_phase_is_random_but_never_drain() -> None:
    w = Wire()
    c, _s, _ = pair(w)
    proto.tcp_setsockopt(c, 13, "bbr")
    phases = set()
    for _ in range(200):
        B.bbr_reset_probe_bw_mode(c)
        phases.add(c.icsk_ca_priv.cycle_idx)
    assert phases == {0, 2, 3, 4, 5, 6, 7}


def test_probe_rtt_after_ten_seconds() -> None:
    w = Wire(delay_ns=10 * MS, rate_bps=10_000_000)
    trace: list[tuple[int, int, int]] = []

    def watch(t: int, c: TcpSock) -> None:
        bbr = c.icsk_ca_priv
        if bbr is not None:
            trace.append((t, bbr.mode, c.snd_cwnd))

    _c, _s, _ = _bulk(w, "bbr", 11.5, 2, watch)
    rtt_periods = [t for t, m, _ in trace if m == B.BBR_PROBE_RTT]
    assert rtt_periods, "no PROBE_RTT within 11.5 s"
    start, end = rtt_periods[0], rtt_periods[-1]
    # min_rtt is never beaten on this path, so its 10 s filter expires 10 s after the
    # first sample; PROBE_RTT holds cwnd at 4 for 200 ms plus the round to get there
    assert 10 * SEC <= start <= 10.3 * SEC
    assert 200 * MS <= end - start <= 320 * MS
    assert max(cw for t, m, cw in trace if m == B.BBR_PROBE_RTT) <= 4
    after = [(m, cw) for t, m, cw in trace if t > end]
    assert after and after[-1][0] == B.BBR_PROBE_BW and after[-1][1] > 10  # cwnd restored


def test_cc_info_and_tcp_info() -> None:
    w = Wire(delay_ns=10 * MS, rate_bps=20_000_000)
    c, _s, _ = _bulk(w, "bbr", 1.0)
    raw = tcp_cc_info_bytes(c)
    bw_lo, bw_hi, min_rtt, pacing_gain, cwnd_gain = struct.unpack("=5I", raw)
    bw = bw_hi << 32 | bw_lo  # bytes/s
    assert 2_000_000 < bw <= 2_500_000 and min_rtt == 20_000
    assert pacing_gain in (88, 192, 256, 320, 739) and cwnd_gain in (256, 512, 739)
    info = tcp_get_info(c)
    assert info["tcpi_pacing_rate"] == c.sk_pacing_rate
    assert 1_800_000 < info["tcpi_delivery_rate"] <= 2_600_000
    w2 = Wire()
    c2, _s2, _ = pair(w2)
    assert tcp_cc_info_bytes(c2) == b""  # CUBIC has no get_info


def test_rate_samples_and_app_limited() -> None:
    w = Wire(delay_ns=10 * MS, rate_bps=10_000_000)
    c, s, _ = _bulk(w, "cubic", 1.0)
    # a bulk flow: not app-limited, the delivery rate is the bottleneck's
    assert not c.rate_app_limited
    assert 1_000_000 < c.rate_delivered * c.mss_cache * 1_000_000 // c.rate_interval_us \
        <= 1_260_000
    # a trickle: one small write per 100 ms is app-limited
    w = Wire(delay_ns=10 * MS, rate_bps=10_000_000)
    c, s, _ = pair(w)
    for _ in range(5):
        proto.tcp_sendmsg(c, bytes(1000), 0, 0)
        w.run(100 * MS)
        with contextlib.suppress(BlockingIOError):
            proto.tcp_recvmsg(s, 1 << 23, 0, 0)
    assert c.rate_app_limited
    # tcp_rate_gen on a sample without timing gives -1
    rs = RateSample()
    from tuxnet.tcp.rate import tcp_rate_gen

    tcp_rate_gen(c, 0, 0, False, rs)
    assert rs.delivered == -1 and rs.interval_us == -1


def test_pacing_rate_and_internal_pacing() -> None:
    w = Wire()
    c, _s, _ = pair(w)
    # tcp_update_pacing_rate: mss * cwnd / srtt * 200 % in slow start, 120 % after
    c.mss_cache, c.snd_cwnd, c.srtt_us, c.packets_out = 1000, 10, 8 * 10_000, 0
    c.snd_ssthresh = 0x7FFFFFFF
    tcp_update_pacing_rate(c)
    assert c.sk_pacing_rate == 2_000_000  # 1000 * 10 / 10 ms * 2
    c.snd_ssthresh = 12
    tcp_update_pacing_rate(c)
    assert c.sk_pacing_rate == 1_200_000
    assert c.sk_pacing_status == SK_PACING_NONE  # CUBIC does not pace without fq
    # SO_MAX_PACING_RATE caps the rate and turns on TCP's own pacing
    from tuxnet.tcp.pacing import sk_set_max_pacing_rate

    sk_set_max_pacing_rate(c, 500_000)
    assert c.sk_pacing_status == SK_PACING_NEEDED and c.sk_pacing_rate == 500_000
    # a paced flow: 1 Mbit/s max pacing on a 100 Mbit/s wire spaces the data segments
    w2 = Wire(delay_ns=5 * MS, rate_bps=100_000_000)
    c2, _s2, _ = pair(w2)
    sk_set_max_pacing_rate(c2, 125_000)  # bytes/s
    proto.tcp_sendmsg(c2, bytes(40 * 1448), 0, 0)
    w2.run(2 * SEC)
    data = [seg.t for seg in w2.sent("a") if seg.payload_len]
    gaps = [b - a for a, b in itertools.pairwise(data[10:])]  # first 10 unpaced
    assert gaps and min(gaps) >= 5 * MS  # 1448 B at 125 kB/s = 11.6 ms, less credit
    assert sum(gaps) / len(gaps) > 10 * MS
