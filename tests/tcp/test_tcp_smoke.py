"""A first end-to-end check: handshake, a few bytes each way, close."""

from __future__ import annotations

from _tcpwire import MS, Wire, pair

from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_ESTABLISHED


def test_handshake_and_echo() -> None:
    w = Wire()
    c, s, _ = pair(w)
    assert c.sk_state == TCP_ESTABLISHED
    assert s.sk_state == TCP_ESTABLISHED
    assert proto.tcp_sendmsg(c, b"hello", 0, 0) == 5
    w.run(10 * MS)
    assert proto.tcp_recvmsg(s, 100, 0, 0) == b"hello"
    proto.tcp_sendmsg(s, b"world", 0, 0)
    w.run(10 * MS)
    assert proto.tcp_recvmsg(c, 100, 0, 0) == b"world"
