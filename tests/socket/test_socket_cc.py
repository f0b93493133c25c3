"""Congestion control through the socket API on two hosts with IPv4: a route's
``congctl lock`` (set with ``ip route``), TCP_CONGESTION, TCP_CC_INFO, TCP_INFO's
pacing rate and SO_MAX_PACING_RATE."""

from __future__ import annotations

import errno
import io
import struct

import pytest
from _udpnet import A2, two_hosts

from tuxnet.host import Host
from tuxnet.socket import (
    AF_INET,
    SO_MAX_PACING_RATE,
    SOCK_STREAM,
    SOL_SOCKET,
    SOL_TCP,
    TCP_CC_INFO,
    TCP_CONGESTION,
    TCP_INFO,
    socket,
)
from tuxnet.socket.stream import StreamSocket
from tuxnet.tcp.ipv4 import tcp_v4_init
from tuxnet.tools import ip_cmd


def _tcp(host: Host) -> StreamSocket:
    s = socket(AF_INET, SOCK_STREAM, 0, host=host)
    assert isinstance(s, StreamSocket)
    return s


def _ip(host: Host, *argv: str) -> str:
    out = io.StringIO()
    assert ip_cmd.run(host, list(argv), out) == 0
    return out.getvalue()


@pytest.mark.parametrize("lock", [False, True])
def test_route_congctl_and_cc_info(lock: bool) -> None:
    net = two_hosts()
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    words = ["route", "add", f"{A2}/32", "dev", "eth0", "congctl"] + (["lock"] if lock else [])
    _ip(net.h1, *words, "bbr")
    assert f"congctl {'lock ' if lock else ''}bbr" in _ip(net.h1, "route", "show", f"{A2}/32")
    lst = _tcp(net.h2)
    lst.bind((A2, 5000))
    lst.listen(4)
    cli = _tcp(net.h1)
    cli.connect((A2, 5000))
    srv, _ = lst.accept()
    name = cli.getsockopt(SOL_TCP, TCP_CONGESTION, 16)
    assert isinstance(name, bytes) and name.rstrip(b"\0") == b"bbr"
    assert srv.getsockopt(SOL_TCP, TCP_CONGESTION, 16).rstrip(b"\0") == b"cubic"  # type: ignore[union-attr]
    cli.sendall(bytes(50_000))
    got = 0
    while got < 50_000:
        got += len(srv.recv(1 << 20))
    raw = cli.getsockopt(SOL_TCP, TCP_CC_INFO, 20)
    assert isinstance(raw, bytes) and len(raw) == 20
    _bw_lo, _bw_hi, min_rtt, pacing_gain, cwnd_gain = struct.unpack("=5I", raw)
    assert 0 < min_rtt < 100_000 and pacing_gain > 0 and cwnd_gain > 0
    assert srv.getsockopt(SOL_TCP, TCP_CC_INFO, 20) == b""  # CUBIC: no get_info
    info = cli.getsockopt(SOL_TCP, TCP_INFO, 248)
    assert isinstance(info, bytes)
    if lock:
        with pytest.raises(OSError) as ei:
            cli.setsockopt(SOL_TCP, TCP_CONGESTION, b"reno")
        assert ei.value.errno == errno.EPERM
    else:
        cli.setsockopt(SOL_TCP, TCP_CONGESTION, b"reno")
        assert cli.getsockopt(SOL_TCP, TCP_CONGESTION, 16).rstrip(b"\0") == b"reno"  # type: ignore[union-attr]
    with pytest.raises(OSError) as ei:
        cli.setsockopt(SOL_TCP, TCP_CONGESTION, b"nosuch")
    assert ei.value.errno == (errno.EPERM if lock else errno.ENOENT)


def test_so_max_pacing_rate() -> None:
    net = two_hosts()
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    s = _tcp(net.h1)
    assert s.getsockopt(SOL_SOCKET, SO_MAX_PACING_RATE) == -1  # ~0U: unlimited
    s.setsockopt(SOL_SOCKET, SO_MAX_PACING_RATE, 1_000_000)
    assert s.getsockopt(SOL_SOCKET, SO_MAX_PACING_RATE) == 1_000_000
    assert struct.unpack("=Q", s.getsockopt(SOL_SOCKET, SO_MAX_PACING_RATE, 8))[0] == 1_000_000  # type: ignore[arg-type]
