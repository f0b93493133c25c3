"""What tcp_write_xmit lets out: Nagle's rule (RFC 896, Minshall's variant), TCP_NODELAY,
TCP_CORK and MSG_MORE, and where PSH goes (tcp_push / forced_push)."""

from __future__ import annotations

import contextlib

from _tcpwire import MS, Wire, pair

from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CORK, TCP_NODELAY

PSH = 0x08
MSG_MORE = 0x8000


def _data(w: Wire, t0: int) -> list[tuple[int, int, int]]:
    return [(x.t - t0, x.payload_len, x.flags & PSH) for x in w.sent("a")
            if x.t >= t0 and x.payload_len]


def test_nagle_holds_a_second_small_segment() -> None:
    w = Wire(delay_ns=10 * MS)
    c, s, _ = pair(w)
    t0 = w.now()
    proto.tcp_sendmsg(c, b"a" * 100, 0, 0)
    proto.tcp_sendmsg(c, b"b" * 100, 0, 0)
    proto.tcp_sendmsg(c, b"c" * 100, 0, 0)
    w.run(100 * MS)
    # the first goes at once; the rest waits for its ACK (one RTT) and goes as one
    assert _data(w, t0) == [(0, 100, PSH), (20 * MS, 200, PSH)]
    assert proto.tcp_recvmsg(s, 1000, 0, 0) == b"a" * 100 + b"b" * 100 + b"c" * 100


def test_nodelay_sends_at_once() -> None:
    w = Wire(delay_ns=10 * MS)
    c, _s, _ = pair(w)
    proto.tcp_setsockopt(c, TCP_NODELAY, 1)
    assert proto.tcp_getsockopt(c, TCP_NODELAY) == 1
    t0 = w.now()
    for _ in range(3):
        proto.tcp_sendmsg(c, b"x" * 100, 0, 0)
    w.run(100 * MS)
    assert _data(w, t0) == [(0, 100, PSH)] * 3


def test_cork_and_msg_more() -> None:
    w = Wire(delay_ns=10 * MS)
    c, _s, _ = pair(w)
    proto.tcp_setsockopt(c, TCP_CORK, 1)
    t0 = w.now()
    for _ in range(3):
        proto.tcp_sendmsg(c, b"x" * 100, 0, 0)
    w.run(100 * MS)
    assert _data(w, t0) == []  # corked: partial segments wait
    proto.tcp_sendmsg(c, b"y" * 2000, 0, 0)
    w.run(10 * MS)
    assert _data(w, t0) == [(100 * MS, 1448, 0)]  # a full segment goes anyway
    proto.tcp_setsockopt(c, TCP_CORK, 0)  # uncork pushes the rest
    w.run(100 * MS)
    assert _data(w, t0)[1:] == [(110 * MS, 852, PSH)]
    t1 = w.now()
    proto.tcp_sendmsg(c, b"m" * 10, MSG_MORE, 0)
    w.run(50 * MS)
    assert _data(w, t1) == []
    proto.tcp_sendmsg(c, b"n" * 10, 0, 0)
    w.run(50 * MS)
    assert _data(w, t1) == [(50 * MS, 20, PSH)]


def test_psh_on_the_last_segment_of_a_write() -> None:
    w = Wire(rate_bps=100_000_000)
    c, _s, _ = pair(w)
    t0 = w.now()
    proto.tcp_sendmsg(c, bytes(5 * 1448), 0, 0)
    w.run(100 * MS)
    assert [p for _, _, p in _data(w, t0)] == [0, 0, 0, 0, PSH]


def test_forced_push_every_half_window() -> None:
    w = Wire(rate_bps=100_000_000)
    c, s, _ = pair(w)
    t0 = w.now()
    total = 0
    while total < 40 * 1448:
        with contextlib.suppress(BlockingIOError):
            total += proto.tcp_sendmsg(c, bytes(40 * 1448 - total), 0, 0)
        w.run(1 * MS)
        proto.tcp_recvmsg(s, 1 << 20, 0, 0)
    w.run(100 * MS)
    segs = _data(w, t0)
    pushed = [i for i, (_, _, p) in enumerate(segs) if p]
    # forced_push: more than max_window / 2 written since the last PSH
    assert c.max_window == 65280 or c.max_window > 60000
    assert pushed[0] < len(segs) - 1
    assert any(0 < i < len(segs) - 1 for i in pushed)
