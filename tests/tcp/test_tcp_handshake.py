"""The three-way handshake: options byte for byte and in Linux's order, windows and
scale, MSS from the route, ISNs, state transitions with their tracepoint and the
CurrEstab gauge, SYN and SYN-ACK retransmission timing, simultaneous open."""

from __future__ import annotations

import errno

import pytest
from _tcpwire import MS, SEC, A, B, Wire, connect, listener, pair, seg_bytes

from tuxnet.tcp import proto
from tuxnet.tcp.defs import (
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCPHDR_ACK,
    TCPHDR_SYN,
)
from tuxnet.tcp.netns import tcp_net


def test_syn_options_linux_layout() -> None:
    w = Wire()
    listener(w.b)
    connect(w.a, B)
    syn = w.sent("a")[0]
    assert syn.flags == TCPHDR_SYN
    opts = syn.options.hex()
    # mss 1460, sackOK + TS (folded), nop, wscale 10 (tcp_rmem[2] 32 MiB: ilog2 - 15)
    assert opts[:16] == "020405b40402080a"
    assert opts[24:32] == "00000000"  # TS ecr 0
    assert opts[32:] == "0103030a"
    assert syn.tcp.window == 64240  # rounddown(64 KiB, 1460): tcp_select_initial_window


def test_synack_mirrors_and_windows() -> None:
    w = Wire()
    c, s, _ = pair(w)
    synack = w.sent("b")[0]
    assert synack.flags == TCPHDR_SYN | TCPHDR_ACK
    opts = synack.options
    assert opts[:8].hex() == "020405b40402080a"
    assert opts[12:16] == w.sent("a")[0].options[8:12]  # TSecr echoes the SYN's TSval
    assert opts[16:].hex() == "0103030a"
    assert synack.tcp.window == 65160  # 45 x 1448 (timestamps take 12 bytes)
    ack = w.sent("a")[1].tcp
    assert ack.window == 63  # 64240 >> 10 rounded up
    assert c.rx_opt.snd_wscale == 10 and c.rx_opt.rcv_wscale == 10
    assert c.mss_cache == 1448 and s.mss_cache == 1448  # 1460 less the TS option
    assert c.rx_opt.tstamp_ok and c.rx_opt.sack_ok and s.rx_opt.sack_ok


def test_wscale_follows_tcp_rmem_max() -> None:
    w = Wire()
    for h in (w.a, w.b):
        h.sysctl.set("net.ipv4.tcp_rmem", (4096, 540000, 15728640))  # packetdrill
    listener(w.b)
    connect(w.a, B)
    w.run(5 * MS)
    assert w.sent("a")[0].options[-1] == 8
    assert w.sent("b")[0].options[-1] == 8


def test_synack_without_peer_timestamps() -> None:
    w = Wire()
    w.a.sysctl.set("net.ipv4.tcp_timestamps", 0)
    _c, s, _ = pair(w)
    syn, synack = w.sent("a")[0], w.sent("b")[0]
    assert syn.options.hex() == "020405b4010104020103030" + "a"
    # mss, nop, nop, sackOK, nop, wscale (packetdrill's SYN-ACK without TS)
    assert synack.options.hex() == "020405b4010104020103030" + "a"
    assert not s.rx_opt.tstamp_ok and s.mss_cache == 1460
    assert synack.tcp.window == 64240


def test_no_wscale_unless_both_offer() -> None:
    w = Wire()
    w.a.sysctl.set("net.ipv4.tcp_window_scaling", 0)
    _c, s, _ = pair(w)
    assert w.sent("a")[0].tcp.options.wscale is None
    assert w.sent("b")[0].tcp.options.wscale is None  # not offered back
    assert not s.rx_opt.wscale_ok and s.rx_opt.rcv_wscale == 0


def test_mss_clamped_by_mtu_and_maxseg() -> None:
    w = Wire(mtu=1400)
    c, _s, _ = pair(w)
    assert w.sent("a")[0].tcp.options.mss == 1360
    assert c.mss_cache == 1348
    w2 = Wire()
    lst = listener(w2.b)
    proto.tcp_setsockopt(lst, 2, 1000)  # TCP_MAXSEG
    connect(w2.a, B)
    w2.run(10 * MS)
    assert w2.sent("b")[0].tcp.options.mss == 1000


def test_isn_is_keyed_per_tuple_and_moves_with_time() -> None:
    w = Wire()
    tn = tcp_net(w.a)
    i1 = tn.secure_tcp_seq(A, B, 40000, 80)
    i2 = tn.secure_tcp_seq(A, B, 40001, 80)
    assert i1 != i2
    w.run(1 * MS)
    assert (tn.secure_tcp_seq(A, B, 40000, 80) - i1) & 0xFFFFFFFF == 1_000_000 >> 6
    other = Wire(seed=2)
    assert tcp_net(other.a).secure_tcp_seq(A, B, 40000, 80) != i1


def test_state_tracepoint_and_curr_estab() -> None:
    w = Wire()
    events: list[tuple[str, str]] = []
    for h in (w.a, w.b):
        h.tracepoints.subscribe("sock:inet_sock_set_state",
                                lambda ev: events.append((ev.fields["oldstate"],
                                                          ev.fields["newstate"])))
    c, s, _ = pair(w)
    assert ("TCP_CLOSE", "TCP_SYN_SENT") in events
    assert ("TCP_SYN_SENT", "TCP_ESTABLISHED") in events
    assert ("TCP_LISTEN", "TCP_SYN_RECV") in events
    assert ("TCP_SYN_RECV", "TCP_ESTABLISHED") in events
    assert w.a.mib.tcp.CurrEstab == 1 and w.b.mib.tcp.CurrEstab == 1
    assert w.a.mib.tcp.ActiveOpens == 1 and w.b.mib.tcp.PassiveOpens == 1
    proto.tcp_close(c)
    proto.tcp_close(s)
    w.run(1 * SEC)
    assert w.a.mib.tcp.CurrEstab == 0 and w.b.mib.tcp.CurrEstab == 0


@pytest.mark.parametrize(("linear", "times", "total"), [
    (4, [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67], 131),  # Linux 6.5+: 4 linear timeouts
    (0, [0, 1, 3, 7, 15, 31, 63], 127),  # classic exponential backoff from 1 s
])
def test_syn_retransmit_timing(linear: int, times: list[int], total: int) -> None:
    w = Wire(drop=lambda seg: True)
    w.a.sysctl.set("net.ipv4.tcp_syn_linear_timeouts", linear)
    sk = proto.tcp_v4_init_sock(w.a)
    with pytest.raises(TimeoutError) as exc:
        proto.inet_stream_connect(sk, B, 80, None)
    assert exc.value.errno == errno.ETIMEDOUT
    assert [s.t // SEC for s in w.log] == times
    assert all(s.t % SEC == 0 for s in w.log)
    assert w.now() == total * SEC
    mib = w.a.mib
    assert sk.sk_state == TCP_CLOSE
    assert mib.tcp.AttemptFails == 1 and mib.tcpext.TCPAbortOnTimeout == 1
    assert mib.tcp.RetransSegs == len(times) - 1 == mib.tcpext.TCPSynRetrans
    assert mib.tcp.OutSegs == 1  # OutSegs does not count retransmissions


def test_synack_retransmit_timing_and_expiry() -> None:
    w = Wire(drop=lambda seg: True)
    lst = listener(w.b)
    # one SYN from a peer that then stays silent
    w.inject(w.b, seg_bytes(40000, 8080, 1000, 0, TCPHDR_SYN, 65535,
                            options=bytes.fromhex("020405b4"), saddr=A, daddr=B), saddr=A)
    assert lst.reqsk_qlen == 1
    w.run(70 * SEC)
    # tcp_synack_retries = 5: SYN-ACKs at 0, then 1, 3, 7, 15, 31 s; expiry at 63 s
    assert [s.t for s in w.sent("b")] == [0, 1 * SEC, 3 * SEC, 7 * SEC, 15 * SEC, 31 * SEC]
    assert lst.reqsk_qlen == 0 and not tcp_net(w.b).ehash
    mib = w.b.mib
    assert mib.tcpext.TCPSynRetrans == 5 and mib.tcp.RetransSegs == 5
    assert mib.tcpext.TCPTimeouts == 6


def test_simultaneous_open() -> None:
    w = Wire()
    a = proto.tcp_v4_init_sock(w.a)
    b = proto.tcp_v4_init_sock(w.b)
    for sk, host in ((a, w.a), (b, w.b)):
        sk.inet_rcv_saddr = sk.inet_saddr = 0
        assert tcp_net(host).get_port(sk, 5000) == 0
    for sk, peer in ((a, B), (b, A)):
        with pytest.raises(BlockingIOError):
            proto.inet_stream_connect(sk, peer, 5000, 0)
    assert a.sk_state == b.sk_state == TCP_SYN_SENT
    w.run(50 * MS)
    assert a.sk_state == b.sk_state == TCP_ESTABLISHED
    kinds = [s.flags for s in w.log]
    assert kinds.count(TCPHDR_SYN) == 2 and kinds.count(TCPHDR_SYN | TCPHDR_ACK) == 2


def test_connect_refused_by_rst() -> None:
    w = Wire()
    sk = proto.tcp_v4_init_sock(w.a)
    with pytest.raises(ConnectionRefusedError):
        proto.inet_stream_connect(sk, B, 9, None)
    rst = w.sent("b")[0]
    assert rst.tcp.flags == 0x14 and rst.tcp.seq == 0  # RST|ACK, ack = ISN + 1
    assert w.b.drop_counts  # NO_SOCKET
    assert w.b.mib.tcp.OutRsts == 1


def test_synrecv_child_gets_rtt_from_synack() -> None:
    w = Wire(delay_ns=25 * MS)
    c, s, _ = pair(w)
    assert s.srtt_us >> 3 == 50_000 and c.srtt_us >> 3 == 50_000
    assert s.icsk_rto == 250 and c.icsk_rto == 250  # RTT + 200 ms (rttvar floor)
    _ = seg_bytes, TCP_SYN_RECV
