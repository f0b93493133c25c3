"""Timers: the delayed-ACK engine (quick ACKs, 40 ms ATO, one ACK per two full
segments), RTT estimation and the RTO (RFC 6298 with Linux's fixed point), RTO backoff
and give-up, tail loss probes, zero-window probes, keepalive."""

from __future__ import annotations

import contextlib
import errno
import itertools

import pytest
from _tcpwire import MS, SEC, B, Wire, connect, listener, pair

from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CLOSE, TCP_ESTABLISHED, TCP_CA_Loss


def _acks_after(w: Wire, t: int) -> list[int]:
    return [s.t for s in w.sent("b") if s.t >= t and s.payload_len == 0]


def test_quickack_then_delayed_ack_40ms() -> None:
    w = Wire(delay_ns=10 * MS)
    c, s, _ = pair(w)
    rtts = []
    for _ in range(20):
        t0 = w.now()
        proto.tcp_sendmsg(c, b"x" * 100, 0, 0)
        w.run(100 * MS)
        proto.tcp_recvmsg(s, 1000, 0, 0)
        rtts.append(_acks_after(w, t0)[0] - t0)
    # the segment arrives after 10 ms: 16 quick ACKs (TCP_MAX_QUICKACKS), then the
    # delayed ACK waits TCP_ATO_MIN (40 ms, bounded by max(SRTT, 40 ms))
    assert rtts[:16] == [10 * MS] * 16
    assert rtts[16:] == [50 * MS] * 4
    assert w.b.mib.tcpext.DelayedACKs == 4


def test_ack_every_two_full_segments() -> None:
    w = Wire(rate_bps=100_000_000)
    # a receive buffer far larger than the window clamp: the offered window stays put,
    # so __tcp_ack_snd_check ACKs once more than one full segment is unacknowledged
    w.b.sysctl.set("net.ipv4.tcp_rmem", (4096, 1 << 20, 1 << 20))
    lst = listener(w.b)
    c = connect(w.a, B)
    s = proto.inet_csk_accept(lst, SEC)
    # one segment first: it sets the window/memory ratio (6.7+ tcp_measure_rcv_mss),
    # which recomputes window_clamp from the buffer; then the clamp is ours
    proto.tcp_sendmsg(c, bytes(1448), 0, 0)
    w.run(10 * MS)
    assert len(proto.tcp_recvmsg(s, 1448, 0, 0)) == 1448
    proto.tcp_setsockopt(s, 10, 65535)  # TCP_WINDOW_CLAMP
    w.run(10 * MS)
    t0 = w.now()
    data = bytes(200 * 1448)
    sent = 0
    while sent < len(data):
        with contextlib.suppress(BlockingIOError):
            sent += proto.tcp_sendmsg(c, data[sent:], 0, 0)
        w.run(100_000)
    w.run(1 * SEC)
    acks = [x.tcp.ack_seq for x in w.sent("b") if x.t >= t0]
    # 200 segments (a tail loss probe may resend the last one while its ACK is delayed)
    assert len({x.tcp.seq for x in w.sent("a") if x.t >= t0 and x.payload_len}) == 200
    steps = [(b - a) & 0xFFFFFFFF for a, b in itertools.pairwise(acks)]
    assert steps[:15] == [1448] * 15  # quick ACKs (TCP_MAX_QUICKACKS, one used above)
    assert set(steps[20:-1]) == {2 * 1448}  # then one ACK per two full segments
    assert len(acks) <= 100 + 18


def test_first_rtt_sample_and_rto() -> None:
    for delay_ms, rto in ((5, 210), (25, 250), (75, 450)):
        w = Wire(delay_ns=delay_ms * MS)
        c, _s, _ = pair(w)
        rtt_us = 2 * delay_ms * 1000
        assert c.srtt_us == 8 * rtt_us  # srtt_us holds 8 x SRTT
        assert c.mdev_us == 2 * rtt_us  # mdev = RTT/2, scaled by 4
        assert c.rttvar_us == max(2 * rtt_us, 200_000)
        assert c.icsk_rto == rto  # RTT + max(2 RTT, rto_min)
        info = proto.tcp_get_info(c)
        assert info["tcpi_rtt"] == rtt_us and info["tcpi_rto"] == rto * 1000


def test_rto_backoff_and_give_up() -> None:
    w = Wire(delay_ns=10 * MS)
    w.a.sysctl.set("net.ipv4.tcp_early_retrans", 0)  # no tail loss probe
    c, _s, _ = pair(w)
    assert c.icsk_rto == 220
    w.drop = lambda seg: seg.src == "a"
    t0 = w.now()
    proto.tcp_sendmsg(c, b"x" * 100, 0, 0)
    w.run(1000 * SEC)
    times = [x.t - t0 for x in w.sent("a") if x.t >= t0]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    expect = [220 * MS << i for i in range(10)]
    assert gaps[:10] == expect  # doubling from RTT + 200 ms (RFC 6298 5.5)
    assert all(g == 120 * SEC for g in gaps[10:])  # TCP_RTO_MAX
    # tcp_retries2 = 15: ~924.6 s of backoff modelled from TCP_RTO_MIN
    assert c.sk_state == TCP_CLOSE and c.sk_err == errno.ETIMEDOUT
    assert w.now() - t0 > 924 * SEC
    mib = w.a.mib
    assert mib.tcpext.TCPTimeouts == len(times)  # one per retransmission + the last
    assert mib.tcp.RetransSegs == len(times) - 1
    assert mib.tcpext.TCPAbortOnTimeout == 1


def test_rto_enters_loss_and_restarts_slow_start() -> None:
    w = Wire(delay_ns=10 * MS)
    w.a.sysctl.set("net.ipv4.tcp_congestion_control", "reno")  # Reno's ssthresh below
    c, s, _ = pair(w)
    proto.tcp_sendmsg(c, bytes(30_000), 0, 0)
    w.run(200 * MS)
    cwnd = c.snd_cwnd
    assert cwnd > 10
    w.drop = lambda seg: seg.src == "a" and seg.payload_len > 0
    proto.tcp_sendmsg(c, bytes(14480), 0, 0)
    w.run(250 * MS)  # past the TLP, before the RTO
    w.run(400 * MS)
    assert c.icsk_ca_state == TCP_CA_Loss
    assert c.snd_ssthresh == max(c.prior_cwnd >> 1, 2)
    w.drop = None
    w.run(5 * SEC)
    assert proto.tcp_recvmsg(s, 1 << 20, 0, 0) == bytes(30_000 + 14480)
    assert c.icsk_ca_state == 0 and w.a.mib.tcpext.TCPTimeouts >= 1


def test_tail_loss_probe() -> None:
    w = Wire(delay_ns=10 * MS)
    c, s, _ = pair(w)
    seen: list[int] = []

    def drop_tail(seg: object) -> bool:
        # lose the first transmission of the burst's last two segments
        if getattr(seg, "src", "") == "a" and seg.payload_len:  # type: ignore[attr-defined]
            seen.append(1)
            return len(seen) in (4, 5)
        return False

    w.drop = drop_tail
    t0 = w.now()
    proto.tcp_sendmsg(c, bytes(5 * 1448), 0, 0)
    w.run(2 * SEC)
    assert proto.tcp_recvmsg(s, 1 << 20, 0, 0) == bytes(5 * 1448)
    mib = w.a.mib.tcpext
    assert mib.TCPLossProbes == 1 and mib.TCPTimeouts == 0
    sends = [x.t for x in w.sent("a") if x.t >= t0 and x.payload_len]
    last_ack = max(x.t for x in w.sent("b") if x.t < sends[5]) + 10 * MS
    # the probe (a retransmission of the last segment) goes one PTO after the last
    # ACK: 2 x SRTT + 2 jiffies with more than one packet out (RFC 8985 7.2)
    assert sends[5] - last_ack == 2 * 20 * MS + 2 * MS
    assert c.srtt_us >> 3 == 20_000
    # one packet out: PTO gets the delayed-ACK allowance, capped by the RTO
    assert mib.TCPSackRecovery + mib.TCPLossProbeRecovery >= 1


def test_zero_window_probes() -> None:
    w = Wire(rate_bps=100_000_000)
    c, s, _ = pair(w)
    # nobody reads: the window closes, the sender probes with backoff
    total = 0
    for _ in range(200):
        with contextlib.suppress(BlockingIOError):
            total += proto.tcp_sendmsg(c, bytes(50_000), 0, 0)
        w.run(5 * MS)
    w.run(10 * SEC)
    assert c.snd_wnd == 0
    probes = w.a.mib.tcpext.TCPWinProbe
    assert probes >= 4
    assert w.b.mib.tcpext.TCPToZeroWindowAdv >= 1
    got = bytearray()
    while len(got) < total:
        got += proto.tcp_recvmsg(s, 1 << 20, 0, 0)
        w.run(300 * MS)
    assert bytes(got) == bytes(total)
    assert w.b.mib.tcpext.TCPFromZeroWindowAdv >= 1
    assert c.sk_state == TCP_ESTABLISHED


def test_keepalive_probes_then_timeout() -> None:
    w = Wire()
    c, _s, _ = pair(w)
    proto.tcp_setsockopt(c, 4, 10)  # TCP_KEEPIDLE 10 s
    proto.tcp_setsockopt(c, 5, 2)  # TCP_KEEPINTVL 2 s
    proto.tcp_setsockopt(c, 6, 3)  # TCP_KEEPCNT 3
    proto.tcp_set_keepalive(c, True)
    w.run(25 * SEC)
    assert w.a.mib.tcpext.TCPKeepAlive == 2  # answered: the peer is alive
    assert c.sk_state == TCP_ESTABLISHED
    w.drop = lambda seg: True
    t0 = w.now()
    with pytest.raises(TimeoutError):
        proto.tcp_recvmsg(c, 10, 0, None)
    # tcp_keepalive_probes unanswered probes tcp_keepalive_intvl apart, then a RST
    assert c.sk_state == TCP_CLOSE and w.a.mib.tcpext.TCPKeepAlive == 2 + 3
    assert w.a.mib.tcp.OutRsts == 1 and w.now() - t0 <= 10 * SEC + 3 * 2 * SEC
