"""Listening: the backlog (clamped to somaxconn), accept-queue and SYN-queue overflow
counters, and SYN cookies end to end."""

from __future__ import annotations

import pytest
from _tcpwire import MS, SEC, A, B, Wire, connect, listener, seg_bytes

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_ESTABLISHED, TCP_SYN_SENT, TCPHDR_ACK, TCPHDR_SYN
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.syncookies import cookie_v4_check_seq


def test_backlog_clamped_to_somaxconn() -> None:
    w = Wire()
    w.b.sysctl.set("net.core.somaxconn", 5)
    assert listener(w.b, 80, backlog=100).sk_max_ack_backlog == 5
    assert listener(w.b, 81, backlog=-1).sk_max_ack_backlog == 5
    assert listener(w.b, 82, backlog=3).sk_max_ack_backlog == 3


def test_accept_queue_overflow_counts_and_recovers() -> None:
    w = Wire()
    lst = listener(w.b, backlog=1)
    clients = []
    for _ in range(3):
        clients.append(connect(w.a, B))
        w.run(10 * MS)
    w.run(500 * MS)
    # sk_acceptq_is_full is "more than backlog": backlog + 1 connections queue up
    assert len(lst.icsk_accept_queue) == 2
    mib = w.b.mib.tcpext
    assert mib.ListenOverflows >= 1 and mib.ListenDrops >= mib.ListenOverflows
    assert w.b.drop_counts[R.SOCKET_BACKLOG] >= 1
    assert [c.sk_state for c in clients].count(TCP_SYN_SENT) == 1
    proto.inet_csk_accept(lst, 0)
    w.run(2 * SEC)  # the third SYN is retransmitted at 1 s and now fits
    assert all(c.sk_state == TCP_ESTABLISHED for c in clients)


def test_overflow_on_the_final_ack() -> None:
    w = Wire(drop=lambda seg: seg.src == "b")  # the fake peers never see our answers
    lst = listener(w.b, backlog=1)

    def syn(port: int) -> None:
        w.inject(w.b, seg_bytes(port, 8080, 100, 0, TCPHDR_SYN, 65535, saddr=A, daddr=B),
                 saddr=A)

    def ack(port: int) -> None:
        synack = [x for x in w.sent("b") if x.tcp.dst_port == port][-1].tcp
        w.inject(w.b, seg_bytes(port, 8080, 101, synack.seq + 1, TCPHDR_ACK, 500,
                                saddr=A, daddr=B), saddr=A)

    syn(50001)
    syn(50002)
    ack(50001)
    syn(50003)  # a request: the SYN queue holds one, the accept queue one
    ack(50002)
    assert len(lst.icsk_accept_queue) == 2
    ack(50003)  # tcp_v4_syn_recv_sock: the accept queue is full
    mib = w.b.mib.tcpext
    assert mib.ListenOverflows == 1 and mib.ListenDrops == 1
    assert lst.reqsk_qlen == 1  # the request stays, marked acked
    proto.inet_csk_accept(lst, 0)
    w.run(1 * SEC)  # the request timer retransmits the SYN-ACK ...
    assert [x.t for x in w.sent("b") if x.tcp.dst_port == 50003] == [0, 1 * SEC]
    ack(50003)  # ... and the peer's new ACK completes the handshake
    assert len(lst.icsk_accept_queue) == 2 and lst.reqsk_qlen == 0


def _fake_syns(w: Wire, ports: range, opts: str = "020405b4") -> None:
    for p in ports:
        w.inject(w.b, seg_bytes(p, 8080, 1000 * p, 0, TCPHDR_SYN, 65535,
                                options=bytes.fromhex(opts), saddr=A, daddr=B), saddr=A)


def test_syn_queue_full_without_cookies() -> None:
    w = Wire(drop=lambda seg: seg.src == "b")
    w.b.sysctl.set("net.ipv4.tcp_syncookies", 0)
    lst = listener(w.b, backlog=2)
    _fake_syns(w, range(50000, 50005))
    assert lst.reqsk_qlen == 3  # inet_csk_reqsk_queue_is_full: qlen > backlog
    assert w.b.mib.tcpext.TCPReqQFullDrop == 2
    assert w.b.mib.tcpext.ListenDrops == 2
    assert w.b.mib.tcpext.SyncookiesSent == 0


def _cookie_setup(w: Wire) -> object:
    fake = set(range(50000, 50003))
    w.drop = lambda seg: seg.src == "b" and seg.tcp.dst_port in fake
    lst = listener(w.b, backlog=1)
    _fake_syns(w, range(50000, 50003))
    return lst


def test_syncookie_round_trip() -> None:
    w = Wire()
    lst = _cookie_setup(w)
    assert w.b.mib.tcpext.SyncookiesSent == 1  # the third fake SYN
    c = connect(w.a, B)
    w.run(50 * MS)
    mib = w.b.mib.tcpext
    assert mib.SyncookiesSent == 2 and mib.TCPReqQFullDoCookies == 2
    assert mib.SyncookiesRecv == 1
    s = proto.inet_csk_accept(lst, 0)  # type: ignore[arg-type]
    assert c.sk_state == s.sk_state == TCP_ESTABLISHED
    synack = next(x for x in w.sent("b") if x.tcp.dst_port == c.inet_sport)
    tsval = synack.tcp.options.timestamp[0] - s.tsoffset  # type: ignore[index]
    assert tsval & 0x3F == 0x10 | 10  # TS_OPT_SACK | wscale 10 in the low 6 bits
    assert s.rx_opt.wscale_ok and s.rx_opt.snd_wscale == 10 and s.rx_opt.sack_ok
    assert s.rx_opt.mss_clamp == 1460  # msstab[3]
    proto.tcp_sendmsg(c, b"through a cookie", 0, 0)
    w.run(50 * MS)
    assert proto.tcp_recvmsg(s, 100, 0, 0) == b"through a cookie"


def test_syncookie_without_timestamps_loses_options() -> None:
    w = Wire()
    w.a.sysctl.set("net.ipv4.tcp_timestamps", 0)
    lst = _cookie_setup(w)
    connect(w.a, B)
    w.run(50 * MS)
    s = proto.inet_csk_accept(lst, 0)  # type: ignore[arg-type]
    assert not s.rx_opt.wscale_ok and not s.rx_opt.sack_ok and not s.rx_opt.tstamp_ok


def test_bad_cookie_fails_and_draws_rst() -> None:
    w = Wire()
    _cookie_setup(w)
    n = len(w.sent("b"))
    w.inject(w.b, seg_bytes(50002, 8080, 1000 * 50002 + 1, 12345, TCPHDR_ACK, 500,
                            saddr=A, daddr=B), saddr=A)
    assert w.b.mib.tcpext.SyncookiesFailed == 1
    rst = w.sent("b")[n]
    assert rst.tcp.flags == 0x04 and rst.tcp.seq == 12345


def test_cookie_check_math() -> None:
    w = Wire()
    tn = tcp_net(w.b)
    from tuxnet.tcp.syncookies import cookie_v4_init_sequence

    for mss, want in ((1460, 1460), (1452, 1440), (1400, 1300), (600, 536), (100, 536)):
        isn, got = cookie_v4_init_sequence(tn, A, B, 40000, 80, 777, mss)
        assert got == want
        assert cookie_v4_check_seq(tn, A, B, 40000, 80, 778, isn + 1) == want
        assert cookie_v4_check_seq(tn, A, B, 40001, 80, 778, isn + 1) == 0
    isn, _ = cookie_v4_init_sequence(tn, A, B, 40000, 80, 777, 1460)
    w.run(61 * SEC)
    assert cookie_v4_check_seq(tn, A, B, 40000, 80, 778, isn + 1) == 1460  # 1 minute old
    w.run(60 * SEC)
    assert cookie_v4_check_seq(tn, A, B, 40000, 80, 778, isn + 1) == 0  # MAX_SYNCOOKIE_AGE


@pytest.mark.parametrize("flags", [TCPHDR_ACK, TCPHDR_ACK | 0x08])
def test_ack_to_listener_without_overflow_gets_rst(flags: int) -> None:
    w = Wire()
    listener(w.b)
    w.inject(w.b, seg_bytes(40000, 8080, 5, 999, flags, 500, saddr=A, daddr=B), saddr=A)
    rst = w.sent("b")[0]
    assert rst.tcp.flags == 0x04 and rst.tcp.seq == 999
    assert w.b.mib.tcpext.SyncookiesFailed == 0
