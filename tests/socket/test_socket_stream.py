"""Stream (TCP) sockets through ``tuxnet.socket.socket(AF_INET, SOCK_STREAM, host=...)``
between two hosts on a simulated link (tests/_udpnet.py).

The single-driver pattern. Both ends run from one Python thread on one SimLoop, and a
blocking call runs the loop only until *its* socket is ready. So a blocking
``sendall`` of more than the send buffer plus the peer's receive window would wait for
a reader that cannot run. The bulk test therefore alternates: the sender's blocking
``sendall`` of a chunk that fits in flight (64 KiB), then the receiver's blocking
``recv`` loop until that chunk is in; the loop carries the segments and ACKs across
inside whichever call is waiting. ``test_nonblocking_pump`` shows the other way: both
sockets non-blocking and a small pump that runs the loop between attempts.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import random
import selectors
import struct

import pytest
from _udpnet import A1, A2, MS, Net, recv_exactly, two_hosts

from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.socket import (
    AF_INET,
    IPPROTO_TCP,
    SHUT_WR,
    SO_ACCEPTCONN,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_RCVBUF,
    SO_SNDBUF,
    SOCK_NONBLOCK,
    SOCK_STREAM,
    SOL_SOCKET,
    SOL_TCP,
    TCP_CONGESTION,
    TCP_CORK,
    TCP_INFO,
    TCP_MAXSEG,
    TCP_NODELAY,
    TCP_USER_TIMEOUT,
    socket,
)
from tuxnet.socket.stream import StreamSocket
from tuxnet.tcp.ipv4 import tcp_v4_init

CHUNK = 64 * 1024


def _tcp(host: Host, flags: int = 0, proto: int = 0) -> StreamSocket:
    """socket(AF_INET, SOCK_STREAM | flags, proto, host=host), typed as what it is."""
    s = socket(AF_INET, SOCK_STREAM | flags, proto, host=host)
    assert isinstance(s, StreamSocket)
    return s


def _net(**kw: int) -> Net:
    """Two hosts with TCP registered on both (Linux's inet_init does it at boot; here a
    host gets it with its first stream socket, so a host without one is primed)."""
    net = two_hosts(**kw)
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    return net


def _pair(net: Net, port: int = 5000) -> tuple[StreamSocket, StreamSocket, StreamSocket]:
    """(listener on h2, client on h1, accepted socket on h2)."""
    lst = _tcp(net.h2)
    lst.bind((A2, port))
    lst.listen(8)
    cli = _tcp(net.h1)
    cli.connect((A2, port))
    srv, peer = lst.accept()
    assert peer == cli.getsockname()
    return lst, cli, srv


def _transfer(src: StreamSocket, dst: StreamSocket, data: bytes) -> bytes:
    """Blocking sendall of one chunk, then the blocking recv loop for it; repeated."""
    got = bytearray()
    for off in range(0, len(data), CHUNK):
        piece = data[off:off + CHUNK]
        src.sendall(piece)
        got += recv_exactly(dst, len(piece))
    return bytes(got)


def test_dispatch_and_names() -> None:
    net = _net()
    s = _tcp(net.h1)
    assert isinstance(s, StreamSocket)
    assert (s.family, s.type, s.proto) == (AF_INET, SOCK_STREAM, 0)
    assert _tcp(net.h1, 0, IPPROTO_TCP).proto == IPPROTO_TCP
    with pytest.raises(OSError) as ei:
        socket(AF_INET, SOCK_STREAM, 17, host=net.h1)
    assert ei.value.errno == errno.EPROTONOSUPPORT
    with pytest.raises(OSError) as ei:
        s.getpeername()
    assert ei.value.errno == errno.ENOTCONN
    with pytest.raises(OSError) as ei:
        s.recv(10)
    assert ei.value.errno == errno.ENOTCONN
    with pytest.raises(BrokenPipeError):
        s.send(b"x")
    lst, cli, srv = _pair(net)
    assert lst.getsockopt(SOL_SOCKET, SO_ACCEPTCONN) == 1
    assert cli.getsockopt(SOL_SOCKET, SO_ACCEPTCONN) == 0
    assert srv.getsockname() == (A2, 5000) == cli.getpeername()
    assert cli.getsockname()[0] == A1 and srv.getpeername() == cli.getsockname()
    assert srv.gettimeout() is None
    for x in (lst, cli, srv, s):
        x.close()
    assert cli.fileno() == -1
    with pytest.raises(OSError) as ei:
        cli.send(b"x")
    assert ei.value.errno == errno.EBADF


def test_one_megabyte_each_way_with_blocking_calls() -> None:
    net = _net(rate_bps=100_000_000, delay_ns=1 * MS)
    lst, cli, srv = _pair(net)
    rng = random.Random(7)
    up = rng.randbytes(1 << 20)
    down = rng.randbytes(1 << 20)
    got = _transfer(cli, srv, up)
    assert hashlib.sha256(got).digest() == hashlib.sha256(up).digest()
    got = _transfer(srv, cli, down)
    assert hashlib.sha256(got).digest() == hashlib.sha256(down).digest()
    info = cli.getsockopt(SOL_TCP, TCP_INFO, 248)
    assert isinstance(info, bytes) and len(info) == 248
    assert info[0] == 1  # TCP_ESTABLISHED
    bytes_acked, bytes_received = struct.unpack_from("=QQ", info, 120)
    assert bytes_acked >= 1 << 20 and bytes_received == 1 << 20
    snd_mss = struct.unpack_from("=I", info, 16)[0]
    assert snd_mss == 1448 == cli.getsockopt(SOL_TCP, TCP_MAXSEG)
    # orderly close: the server sees EOF, then closes too
    cli.close()
    assert srv.recv(100) == b""
    srv.close()
    lst.close()
    net.settle(200 * MS)
    assert not net.h1.drop_counts and not net.h2.drop_counts


def test_nonblocking_pump() -> None:
    net = _net(rate_bps=100_000_000, delay_ns=1 * MS)
    lst, cli, srv = _pair(net)
    cli.setblocking(False)
    srv.setblocking(False)
    data = random.Random(1).randbytes(300_000)
    sent = 0
    got = bytearray()
    loop = net.loop
    assert isinstance(loop, SimLoop)
    while len(got) < len(data):
        if sent < len(data):
            with contextlib.suppress(BlockingIOError):
                sent += cli.send(data[sent:])
        try:
            while chunk := srv.recv(65536):
                got += chunk
        except BlockingIOError:
            pass
        loop.run(loop.now_ns() + 1 * MS)  # the pump: let the network move
    assert bytes(got) == data
    for s in (cli, srv, lst):
        s.close()


def test_connect_to_a_closed_port_is_refused() -> None:
    net = _net()
    c = _tcp(net.h1)
    with pytest.raises(ConnectionRefusedError) as ei:
        c.connect((A2, 9))
    assert ei.value.errno == errno.ECONNREFUSED
    assert net.h2.mib.tcp.OutRsts == 1
    assert c.connect_ex((A2, 9)) == errno.ECONNREFUSED


def test_nonblocking_connect_in_progress_then_completes() -> None:
    net = _net(delay_ns=5 * MS)
    lst = _tcp(net.h2)
    lst.bind(("", 7000))
    lst.listen()
    c = _tcp(net.h1, SOCK_NONBLOCK)
    with pytest.raises(BlockingIOError) as ei:
        c.connect((A2, 7000))
    assert ei.value.errno == errno.EINPROGRESS
    assert c.connect_ex((A2, 7000)) == errno.EALREADY
    lst.setblocking(False)
    with pytest.raises(BlockingIOError):
        lst.accept()
    # wait for the listener's fd to turn readable (a connection to accept)
    sel = selectors.DefaultSelector()
    sel.register(lst.fileno(), selectors.EVENT_READ)
    assert sel.select(0) == []
    net.settle(50 * MS)
    assert len(sel.select(0)) == 1
    srv, peer = lst.accept()
    assert peer == c.getsockname()
    assert sel.select(0) == []
    assert c.connect_ex((A2, 7000)) == 0  # the first call after the handshake
    assert c.connect_ex((A2, 7000)) == errno.EISCONN
    assert c.getsockopt(SOL_SOCKET, SO_ERROR) == 0
    c.send(b"hello")
    srv.setblocking(True)
    assert srv.recv(100) == b"hello"
    sel.close()


def test_refused_nonblocking_connect_reports_through_connect_ex() -> None:
    net = _net()
    c = _tcp(net.h1, SOCK_NONBLOCK)
    assert c.connect_ex((A2, 9)) == errno.EINPROGRESS
    net.settle(50 * MS)
    assert c.connect_ex((A2, 9)) == errno.ECONNREFUSED


def test_recv_timeout_is_exact_in_virtual_time() -> None:
    net = _net()
    _, cli, srv = _pair(net)
    srv.settimeout(0.3)
    t0 = net.loop.now_ns()
    with pytest.raises(TimeoutError, match="timed out"):
        srv.recv(100)
    assert net.loop.now_ns() - t0 == 300 * MS
    cli.sendall(b"abc")
    assert srv.recv(100) == b"abc"
    # fileno() follows readability
    fd = srv.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    assert sel.select(0) == []
    cli.sendall(b"more")
    net.settle(10 * MS)
    assert len(sel.select(0)) == 1
    buf = bytearray(10)
    assert srv.recv_into(buf) == 4 and buf[:4] == b"more"
    assert sel.select(0) == []
    sel.close()


def test_connect_timeout_is_exact() -> None:
    net = _net()
    c = _tcp(net.h1)
    c.settimeout(0.5)
    t0 = net.loop.now_ns()
    with pytest.raises(TimeoutError):
        c.connect(("10.0.0.99", 80))  # nobody answers ARP
    assert net.loop.now_ns() - t0 == 500 * MS


def test_options() -> None:
    net = _net()
    s = _tcp(net.h1)
    assert s.getsockopt(SOL_TCP, TCP_NODELAY) == 0
    s.setsockopt(SOL_TCP, TCP_NODELAY, 1)
    assert s.getsockopt(SOL_TCP, TCP_NODELAY) == 1
    s.setsockopt(SOL_TCP, TCP_CORK, 1)
    assert s.getsockopt(SOL_TCP, TCP_CORK) == 1
    s.setsockopt(SOL_TCP, TCP_MAXSEG, 1000)
    assert s.getsockopt(SOL_TCP, TCP_MAXSEG) == 1000
    with pytest.raises(OSError) as ei:
        s.setsockopt(SOL_TCP, TCP_MAXSEG, 10)
    assert ei.value.errno == errno.EINVAL
    s.setsockopt(SOL_TCP, TCP_USER_TIMEOUT, 5000)
    assert s.getsockopt(SOL_TCP, TCP_USER_TIMEOUT) == 5000
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, 65536)
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 131072  # doubled, as Linux
    s.setsockopt(SOL_SOCKET, SO_SNDBUF, 10000)
    assert s.getsockopt(SOL_SOCKET, SO_SNDBUF) == 20000
    s.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)
    assert s.getsockopt(SOL_SOCKET, SO_KEEPALIVE) == 1
    assert s.getsockopt(SOL_SOCKET, SO_LINGER, 8) == struct.pack("=ii", 0, 0)
    s.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("=ii", 1, 7))
    assert s.getsockopt(SOL_SOCKET, SO_LINGER, 8) == struct.pack("=ii", 1, 7)
    name = s.getsockopt(SOL_TCP, TCP_CONGESTION, 16)
    assert isinstance(name, bytes) and name.rstrip(b"\0") == b"cubic"
    with pytest.raises(OSError) as ei:
        s.setsockopt(SOL_TCP, TCP_INFO, 1)
    assert ei.value.errno == errno.ENOPROTOOPT


def test_shutdown_wr_gives_the_peer_eof() -> None:
    net = _net()
    _, cli, srv = _pair(net)
    cli.sendall(b"last words")
    cli.shutdown(SHUT_WR)
    assert recv_exactly(srv, 10) == b"last words"
    assert srv.recv(100) == b""
    with pytest.raises(BrokenPipeError) as ei:
        cli.send(b"more")
    assert ei.value.errno == errno.EPIPE
    # the other direction still works
    srv.sendall(b"reply")
    assert cli.recv(100) == b"reply"
    srv.close()
    assert cli.recv(100) == b""


def test_linger_zero_close_resets_the_peer() -> None:
    net = _net()
    _, cli, srv = _pair(net)
    cli.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("=ii", 1, 0))
    cli.close()
    with pytest.raises(ConnectionResetError):
        srv.recv(100)


def test_accept_timeout_and_kernel_rcvtimeo() -> None:
    net = _net()
    lst = _tcp(net.h2)
    lst.bind(("", 8000))
    lst.listen(1)
    lst.settimeout(0.2)
    t0 = net.loop.now_ns()
    with pytest.raises(TimeoutError):
        lst.accept()
    assert net.loop.now_ns() - t0 == 200 * MS
    lst.settimeout(None)
    lst.setsockopt(SOL_SOCKET, 20, struct.pack("=qq", 0, 100_000))  # SO_RCVTIMEO 100 ms
    t0 = net.loop.now_ns()
    with pytest.raises(BlockingIOError):
        lst.accept()
    assert net.loop.now_ns() - t0 == 100 * MS


def test_a_host_with_no_stream_socket_still_answers_syn_with_rst() -> None:
    """inet_init registers TCP at boot: the peer never created a stream socket."""
    net = two_hosts()
    c = _tcp(net.h1)
    with pytest.raises(ConnectionRefusedError):
        c.connect((A2, 9))
    assert net.h2.mib.tcp.OutRsts == 1
