"""Packetization-layer PMTU discovery (tcp/mtu_probe.py, RFC 4821): with
tcp_mtu_probing=2 a connection starts at tcp_base_mss and probes its way up to the
path MTU; a lost probe lowers the search ceiling without a cwnd cut; with
tcp_mtu_probing=1 repeated timeouts (an ICMP black hole) turn probing on and shrink
the MSS until data gets through."""

from __future__ import annotations

import contextlib

from _tcpwire import MS, SEC, Wire, pair

from tuxnet.tcp import proto
from tuxnet.tcp.mtu_probe import tcp_mss_to_mtu
from tuxnet.tcp.sock import TcpSock

MSG_DONTWAIT = 0x40


def _wire(probing: int, path_mtu: int | None = None) -> Wire:
    """A 1500-byte link; with ``path_mtu`` a router beyond it drops bigger packets and
    sends no ICMP (a black hole)."""
    w = Wire(delay_ns=5 * MS)
    for h in (w.a, w.b):
        h.sysctl.set("net.ipv4.tcp_mtu_probing", probing)
    if path_mtu is not None:
        w.drop = lambda seg: seg.src == "a" and len(seg.data) + 20 > path_mtu
    return w


def _transfer(w: Wire, c: TcpSock, s: TcpSock, n: int, limit_ns: int) -> None:
    """Write ``n`` bytes as the buffer allows while the peer reads them all."""
    data = bytes(range(256)) * (n // 256)
    sent = 0
    got = bytearray()
    end = w.now() + limit_ns
    while len(got) < len(data) and w.now() < end:
        if sent < len(data):
            with contextlib.suppress(BlockingIOError):
                sent += proto.tcp_sendmsg(c, data[sent:], MSG_DONTWAIT, 0)
        w.run(20 * MS)
        with contextlib.suppress(BlockingIOError):
            got += proto.tcp_recvmsg(s, 1 << 22, MSG_DONTWAIT, 0)
    assert bytes(got) == data


def _sizes(w: Wire) -> list[int]:
    return [x.payload_len for x in w.sent("a") if x.payload_len]


def test_probing_climbs_from_base_mss_to_the_link_mtu() -> None:
    w = _wire(2)
    c, s, _ = pair(w)
    base = w.a.sysctl.get_int("net.ipv4.tcp_base_mss")
    assert c.mss_cache == base  # the search floor: tcp_base_mss
    _transfer(w, c, s, 600_000, 2 * SEC)
    sizes = _sizes(w)
    assert sizes[0] == base
    mib = w.a.mib.tcpext
    assert mib.TCPMTUPSuccess >= 3 and mib.TCPMTUPFail == 0
    # binary search between the floor and the peer's MSS, down to tcp_probe_threshold
    m = c.icsk_mtup
    assert m.search_high == 1500 and m.search_high - m.search_low < 8
    assert c.mss_cache > 1440 and max(sizes) == c.mss_cache
    assert mib.TCPSackRecovery == 0 and mib.TCPTimeouts == 0


def test_a_lost_probe_lowers_the_ceiling_without_a_cwnd_cut() -> None:
    w = _wire(2, path_mtu=1300)
    c, s, _ = pair(w)
    _transfer(w, c, s, 600_000, 3 * SEC)
    mib = w.a.mib.tcpext
    assert mib.TCPMTUPFail >= 1 and mib.TCPMTUPSuccess >= 1
    m = c.icsk_mtup
    assert m.search_low <= 1300 < m.search_high + 1 and m.search_high < 1500
    assert tcp_mss_to_mtu(c, c.mss_cache) <= 1300
    assert mib.TCPSackRecovery == 0 and mib.TCPTimeouts == 0  # not congestion


def test_black_hole_detection_after_timeouts() -> None:
    w = _wire(1, path_mtu=1000)
    c, s, _ = pair(w)
    assert not c.icsk_mtup.enabled and c.mss_cache == 1448
    _transfer(w, c, s, 20_000, 120 * SEC)
    mib = w.a.mib.tcpext
    # tcp_retries1 timeouts: probing on at tcp_base_mss, still too big: halved
    assert mib.TCPTimeouts >= 4 and c.icsk_mtup.enabled
    assert tcp_mss_to_mtu(c, c.mss_cache) <= 1000
    assert all(len(x.data) + 20 <= 1000 for x in w.sent("a")[-3:])


def test_off_by_default() -> None:
    w = Wire(delay_ns=5 * MS)
    c, _s, _ = pair(w)
    proto.tcp_sendmsg(c, bytes(200_000), MSG_DONTWAIT, 0)
    w.run(1 * SEC)
    assert not c.icsk_mtup.enabled and max(_sizes(w)) == c.mss_cache == 1448
    assert w.a.mib.tcpext.TCPMTUPSuccess == 0
