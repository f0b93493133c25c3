"""TCP_NOTSENT_LOWAT (tcp_stream_memory_free): the socket is writable while fewer than
the mark's bytes are unsent (half of it for poll's wakeup test); the option reads back
as set, 0 when only net.ipv4.tcp_notsent_lowat applies."""

from __future__ import annotations

import contextlib

import pytest
from _tcpwire import MS, Wire, pair

from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_NOTSENT_LOWAT

EPOLLOUT = 0x4


def test_notsent_lowat_limits_queued_unsent_bytes() -> None:
    w = Wire(delay_ns=50 * MS)
    c, _s, _ = pair(w)
    assert proto.tcp_getsockopt(c, TCP_NOTSENT_LOWAT) == 0
    proto.tcp_setsockopt(c, TCP_NOTSENT_LOWAT, 4000)
    assert proto.tcp_getsockopt(c, TCP_NOTSENT_LOWAT) == 4000
    mss = c.mss_cache
    sent = 0
    with contextlib.suppress(BlockingIOError):
        sent = proto.tcp_sendmsg(c, bytes(40 * mss), 0, 0)
    # IW10 went out; copying stops once 4000 or more bytes wait unsent
    notsent = (c.write_seq - c.snd_nxt) & 0xFFFFFFFF
    assert 10 * mss < sent < 40 * mss
    assert notsent >= 4000
    assert not proto.tcp_poll(c) & EPOLLOUT
    with pytest.raises(BlockingIOError):
        proto.tcp_sendmsg(c, bytes(mss), 0, 0)


def test_sysctl_default_is_unlimited() -> None:
    w = Wire(delay_ns=50 * MS)
    c, _s, _ = pair(w)
    assert c.tcp_notsent_lowat() == 0xFFFFFFFF
    assert c.sk_stream_memory_free(1)
