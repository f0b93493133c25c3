"""Receive-buffer autotuning (tcp_rcv_space_adjust / tcp_rcvbuf_grow, Linux 6.16+) and
the receive window it opens: on a long-RTT bulk transfer the buffer, the clamp, the
threshold and the advertised window grow; with SO_RCVBUF set, with
tcp_moderate_rcvbuf=0 or at tcp_rmem[2] they stop."""

from __future__ import annotations

import contextlib
import itertools
import random
import struct

from _tcpwire import MS, SEC, B, Wire, connect, listener, pair

from tuxnet.socket.consts import SO_RCVBUF, SOL_SOCKET
from tuxnet.socket.sockopt import sock_setsockopt
from tuxnet.tcp import proto
from tuxnet.tcp.sock import TcpSock

RMEM1 = 131072  # tcp_rmem[1]


def _bulk(w: Wire, tx: TcpSock, rx: TcpSock, nbytes: int, limit_ns: int = 60 * SEC) -> bytes:
    """``tx`` writes ``nbytes``; ``rx`` drains its queue every ms (a fast reader)."""
    data = random.Random(nbytes).randbytes(nbytes)
    sent, got = 0, bytearray()
    deadline = w.now() + limit_ns
    while len(got) < nbytes and w.now() < deadline:
        if sent < nbytes:
            with contextlib.suppress(BlockingIOError):
                sent += proto.tcp_sendmsg(tx, data[sent:sent + 65536], 0, 0)
        with contextlib.suppress(BlockingIOError):
            got += proto.tcp_recvmsg(rx, 1 << 22, 0, 0)
        w.run(1 * MS)
    assert bytes(got) == data
    return data


def _windows(w: Wire, src: str, wscale: int) -> list[tuple[int, int]]:
    """(ack, right edge of the offered window) of every ACK ``src`` sent, in order."""
    out = []
    for seg in w.sent(src):
        if seg.flags & 0x10 and not seg.flags & 0x02:
            ack, win = struct.unpack_from("!I", seg.data, 8)[0], struct.unpack_from(
                "!H", seg.data, 14)[0]
            out.append((ack, (ack + (win << wscale)) & 0xFFFFFFFF))
    return out


def test_long_rtt_bulk_grows_buffer_and_window() -> None:
    w = Wire(delay_ns=50 * MS, rate_bps=200_000_000)  # 100 ms RTT, BDP 2.5 MB
    c, s, _ = pair(w)
    assert s.sk_rcvbuf == RMEM1 and s.rcvq_space_space == 10 * 1448
    _bulk(w, c, s, 6_000_000)
    info = proto.tcp_get_info(s)
    # the receiver's own RTT estimate (from TSecr) is the path's
    assert 100_000 <= info["tcpi_rcv_rtt"] <= 120_000
    # DRS grew rcvq_space, the buffer (2 x space in memory terms) and the clamp with it
    assert info["tcpi_rcv_space"] > 20 * 14480
    assert s.sk_rcvbuf > 8 * RMEM1
    assert s.sk_rcvbuf <= s.net.sysctl_vec("tcp_rmem")[2]
    assert s.window_clamp == s.sk_rcvbuf * s.scaling_ratio >> 8
    assert info["tcpi_rcv_ssthresh"] > 10 * 64088
    # the window b offered grew far past the 64 KiB it started from, its right edge
    # never moving left (RFC 7323 2.4)
    edges = _windows(w, "b", s.rx_opt.rcv_wscale)
    offered = [(e - a) & 0xFFFFFFFF for a, e in edges]
    assert offered[0] < 70_000 and max(offered) > 1_000_000
    assert all(((b - a) & 0xFFFFFFFF) < 0x80000000 for (_, a), (_, b) in
               itertools.pairwise(edges))
    # the sender saw it: its send window followed
    assert c.snd_wnd > 1_000_000


def test_so_rcvbuf_locks_the_buffer() -> None:
    w = Wire(delay_ns=50 * MS, rate_bps=200_000_000)
    lst = listener(w.b)
    sock_setsockopt(lst, SOL_SOCKET, SO_RCVBUF, struct.pack("i", 128 * 1024))
    assert lst.sk_rcvbuf == 256 * 1024  # socket(7): the kernel doubles the value
    c = connect(w.a, B)
    s = proto.inet_csk_accept(lst, SEC)  # the child inherits the buffer and its lock
    w.run(1 * SEC)
    _bulk(w, c, s, 3_000_000)
    assert s.sk_rcvbuf == 256 * 1024  # SOCK_RCVBUF_LOCK: tcp_rcvbuf_grow does nothing
    assert s.window_clamp <= 256 * 1024
    offered = [(e - a) & 0xFFFFFFFF for a, e in _windows(w, "b", s.rx_opt.rcv_wscale)]
    assert max(offered) <= 256 * 1024
    # DRS still measures: rcvq_space follows what the reader takes per RTT
    assert proto.tcp_get_info(s)["tcpi_rcv_space"] > 14480


def test_moderate_rcvbuf_off_keeps_tcp_rmem1() -> None:
    w = Wire(delay_ns=50 * MS, rate_bps=200_000_000)
    w.b.sysctl.set("net.ipv4.tcp_moderate_rcvbuf", 0)
    c, s, _ = pair(w)
    _bulk(w, c, s, 2_000_000)
    assert s.sk_rcvbuf == RMEM1


def test_growth_stops_at_tcp_rmem2() -> None:
    w = Wire(delay_ns=50 * MS, rate_bps=200_000_000)
    w.b.sysctl.set("net.ipv4.tcp_rmem", (4096, RMEM1, 400_000))
    c, s, _ = pair(w)
    _bulk(w, c, s, 4_000_000)
    assert s.sk_rcvbuf == 400_000
    assert s.window_clamp == 400_000 * s.scaling_ratio >> 8


def test_receiver_rtt_without_timestamps() -> None:
    # no TSecr: one sample per window, from announcing rcv_nxt + rcv_wnd to reaching it
    w = Wire(delay_ns=20 * MS, rate_bps=100_000_000)
    w.a.sysctl.set("net.ipv4.tcp_timestamps", 0)
    c, s, _ = pair(w)
    assert not s.rx_opt.tstamp_ok
    _bulk(w, c, s, 2_000_000)
    rcv_rtt = proto.tcp_get_info(s)["tcpi_rcv_rtt"]
    assert 40_000 <= rcv_rtt <= 80_000
    assert s.sk_rcvbuf > RMEM1


def test_scaling_ratio_is_measured_from_truesize() -> None:
    w = Wire()
    c, s, _ = pair(w)
    assert s.scaling_ratio == 128  # TCP_DEFAULT_SCALING_RATIO until data arrives
    proto.tcp_sendmsg(c, bytes(1448), 0, 0)
    seen = []
    orig = s.sk_data_ready

    def spy() -> None:
        q = s.sk_receive_queue
        if q:
            seen.append((q[-1].len, q[-1].truesize))
        orig()

    s.sk_data_ready = spy  # type: ignore[method-assign]
    w.run(10 * MS)
    length, truesize = seen[0]
    assert length == 1448
    assert s.scaling_ratio == (length << 8) // truesize
    assert s.window_clamp == (s.sk_rcvbuf * s.scaling_ratio) >> 8


def test_passive_open_rcv_space_is_ten_real_segments() -> None:
    # 6.16+: the timestamp option is taken off advmss before tcp_init_transfer
    w = Wire()
    c, s, _ = pair(w)
    for sk in (c, s):
        assert sk.advmss == 1448
        assert proto.tcp_get_info(sk)["tcpi_rcv_space"] == 14480
        assert sk.rcv_ssthresh == 64088  # tcp_init_buffer_space reserves one segment


def test_tcp_adv_win_scale_no_longer_matters() -> None:
    # Linux 6.7+: tcp_win_from_space uses the measured scaling_ratio; the sysctl is
    # still there (default 1) but the windows do not depend on it
    runs = []
    for scale in (1, -2, 4):
        w = Wire(delay_ns=10 * MS, rate_bps=50_000_000)
        w.b.sysctl.set("net.ipv4.tcp_adv_win_scale", scale)
        c, s, _ = pair(w)
        _bulk(w, c, s, 500_000)
        runs.append([seg.data[14:16] for seg in w.sent("b")])
    assert runs[0] == runs[1] == runs[2]


def test_slow_start_is_not_held_by_the_receive_window() -> None:
    """tcp_rcvbuf_grow() as 6.18 ("tcp: fix too slow tcp_rcvbuf_grow() action"): the
    window is 2 x newval plus twice the growth since the last RTT, so a slow-start
    sender doubles per RTT with the default tcp_rmem (Linux 6.18 over a 100 ms path:
    cwnd 136, 272, 544 at successive RTTs); with only 2 x newval (6.16/6.17) the
    receive window held it to about 1.5x per RTT from ~130 segments on."""
    # 100 ms RTT; 1 Gbit/s spreads a window's segments as a real path does (all of
    # them at one instant would sit in the queue when the reader's first read runs
    # tcp_rcv_space_adjust, and copied - inq would hide the growth)
    w = Wire(delay_ns=50 * MS, rate_bps=1_000_000_000)
    c, s, _ = pair(w)
    data = bytes(1 << 20)
    t0 = w.now()
    cwnd_at: list[int] = []
    while len(cwnd_at) < 7:
        with contextlib.suppress(BlockingIOError):
            while proto.tcp_sendmsg(c, data, 0, 0) > 0:
                pass
        with contextlib.suppress(BlockingIOError):
            while proto.tcp_recvmsg(s, 1 << 24, 0, 0):
                pass
        w.run(1 * MS)
        if w.now() - t0 >= (len(cwnd_at) + 1) * 100 * MS + 50 * MS:
            cwnd_at.append(c.snd_cwnd)
    assert cwnd_at[:4] == [20, 40, 80, 160], cwnd_at
    # one round is held (the kernel's too: 80 -> 136), then it doubles again
    assert all(b >= 2 * a - 2 for a, b in itertools.pairwise(cwnd_at[4:])), cwnd_at
    assert cwnd_at[6] > 1000, cwnd_at
    assert s.sk_rcvbuf > 4 * RMEM1
