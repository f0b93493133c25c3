"""Receive-side urgent data (tcp/urgent.py: tcp_urg, tcp_recv_urg, the urgent mark in
tcp_recvmsg and tcp_read_sock), driven by packetdrill scripts: the peer's urgent byte
is out of band unless SO_OOBINLINE, a read stops at the mark (in line too), recv(MSG_OOB) returns
the byte once, poll reports POLLPRI."""

from __future__ import annotations

import pytest

from tuxnet.packetdrill.runner import run_text

_OPEN = """`../common/defaults.sh`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1460,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>
   +0 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
"""

_OOB = _OPEN + """
   +0 recv(4, ..., 1, MSG_OOB) = -1 EINVAL
   +0 < U. 1:101(100) ack 1 win 257 urg 100
   +0 poll([{fd=4, events=POLLIN|POLLPRI, revents=POLLIN|POLLPRI}], 1, 0) = 1
   +0 read(4, ..., 200) = 99
   +0 recv(4, ..., 1, MSG_OOB) = 1
   +0 recv(4, ..., 1, MSG_OOB) = -1 EINVAL
   +0 < P. 101:201(100) ack 1 win 257
   +0 read(4, ..., 200) = 100
"""

_INLINE = _OPEN + """
   +0 setsockopt(4, SOL_SOCKET, SO_OOBINLINE, [1], 4) = 0
   +0 < U. 1:101(100) ack 1 win 257 urg 100
   +0 read(4, ..., 200) = 99
   +0 read(4, ..., 200) = 1
   +0 recv(4, ..., 1, MSG_OOB) = -1 EINVAL
"""

_SKIP = _OPEN + """
   +0 < U. 1:11(10) ack 1 win 257 urg 5
   +0 read(4, ..., 100) = 4
   +0 read(4, ..., 100) = 5
"""


@pytest.mark.parametrize(("name", "text"), [("oob", _OOB), ("inline", _INLINE),
                                            ("skip", _SKIP)], ids=["oob", "inline", "skip"])
def test_urgent_byte(name: str, text: str) -> None:
    r = run_text(text, f"{name}.pkt")
    assert r.passed, (r.line, r.message)
