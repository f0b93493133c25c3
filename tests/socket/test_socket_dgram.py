"""Datagram sockets in use: blocking calls that run the simulation, exact virtual-time
timeouts (Python's and SO_RCVTIMEO), non-blocking EAGAIN, a stalled simulation,
truncation/peek/into variants, shutdown, close, send-buffer limits, and the real-time
side: blocking calls on a RealLoop and fileno() with selectors."""

from __future__ import annotations

import errno
import selectors
import struct

import pytest
from _udpnet import A1, A2, MS, SEC, two_hosts, two_hosts_real

from tuxnet.socket import (
    MSG_DONTWAIT,
    MSG_PEEK,
    MSG_TRUNC,
    SHUT_RD,
    SHUT_WR,
    SO_RCVTIMEO,
    SO_SNDBUF,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOL_SOCKET,
    SimulationStalled,
    socket,
)


def test_blocking_recvfrom_runs_the_simulation_until_the_datagram_arrives() -> None:
    net = two_hosts(delay_ns=5 * MS)
    srv = socket(host=net.h2)
    srv.bind(("", 4000))
    cli = socket(host=net.h1)
    t0 = net.loop.now_ns()
    cli.sendto(b"ping", (A2, 4000))
    assert net.loop.now_ns() == t0  # sending does not run the loop
    data, peer = srv.recvfrom(100)
    arrival = net.loop.now_ns() - t0
    # ARP request and reply, then the datagram: three one-way trips of 5 ms
    assert 15 * MS <= arrival < 16 * MS
    assert (data, peer) == (b"ping", (A1, cli.getsockname()[1]))
    t1 = net.loop.now_ns()
    srv.sendto(b"pong", peer)
    assert cli.recv(100) == b"pong"
    assert 5 * MS <= net.loop.now_ns() - t1 < 6 * MS  # ARP is resolved now


def test_python_timeout_expires_after_exactly_that_much_virtual_time() -> None:
    net = two_hosts()
    s = socket(host=net.h1)
    s.bind(("", 4000))
    s.settimeout(0.25)
    assert s.gettimeout() == 0.25
    t0 = net.loop.now_ns()
    with pytest.raises(TimeoutError, match="timed out"):
        s.recvfrom(100)
    assert net.loop.now_ns() - t0 == 250_000_000
    # data arriving before the timeout is returned at its arrival time
    other = socket(host=net.h2)
    other.sendto(b"x", (A1, 4000))
    t1 = net.loop.now_ns()
    assert s.recv(10) == b"x"
    assert 0 < net.loop.now_ns() - t1 < 250_000_000


def test_so_rcvtimeo_expires_with_eagain_in_whole_jiffies() -> None:
    net = two_hosts()
    s = socket(host=net.h1)
    s.bind(("", 4000))
    s.setsockopt(SOL_SOCKET, SO_RCVTIMEO, struct.pack("=qq", 0, 1500))
    # sock_set_timeout: 1500 us rounds up to 2 jiffies (HZ 1000)
    assert struct.unpack("=qq", s.getsockopt(SOL_SOCKET, SO_RCVTIMEO, 16)) == (0, 2000)
    t0 = net.loop.now_ns()
    with pytest.raises(BlockingIOError) as ei:
        s.recv(10)
    assert ei.value.errno == errno.EAGAIN
    assert net.loop.now_ns() - t0 == 2 * MS
    s.settimeout(0.5)  # Python's timeout takes over (CPython's fd is non-blocking)
    t0 = net.loop.now_ns()
    with pytest.raises(TimeoutError):
        s.recv(10)
    assert net.loop.now_ns() - t0 == SEC // 2


def test_non_blocking_calls_raise_eagain() -> None:
    net = two_hosts()
    s = socket(host=net.h1)
    s.bind(("", 4000))
    s.setblocking(False)
    assert (s.getblocking(), s.gettimeout()) == (False, 0.0)
    with pytest.raises(BlockingIOError) as ei:
        s.recvfrom(10)
    assert ei.value.errno == errno.EAGAIN
    assert str(ei.value) == "[Errno 11] Resource temporarily unavailable"
    s.setblocking(True)
    assert s.gettimeout() is None
    with pytest.raises(BlockingIOError):
        s.recv(10, MSG_DONTWAIT)
    t = socket(type=SOCK_DGRAM | SOCK_NONBLOCK, host=net.h1)
    assert t.type == SOCK_DGRAM
    assert t.gettimeout() == 0.0
    with pytest.raises(BlockingIOError):
        t.recv(1)


def test_blocking_forever_in_an_empty_simulation_is_an_error() -> None:
    net = two_hosts()
    net.settle()
    s = socket(host=net.h1)
    s.bind(("", 4000))
    with pytest.raises(SimulationStalled) as ei:
        s.recv(10)
    assert isinstance(ei.value, OSError)
    assert ei.value.errno == errno.EDEADLK
    assert "would block forever: no events left in the simulation" in str(ei.value)


def test_truncation_peek_and_the_into_variants() -> None:
    net = two_hosts()
    srv = socket(host=net.h2)
    srv.bind(("", 4000))
    cli = socket(host=net.h1)
    for payload in (b"0123456789", b"abcdef", b"XYZ", b"tail"):
        cli.sendto(payload, (A2, 4000))
    assert srv.recv(4, MSG_PEEK) == b"0123"
    data, anc, flags, peer = srv.recvmsg(4)
    assert (data, anc, flags & MSG_TRUNC) == (b"0123", [], MSG_TRUNC)  # rest discarded
    buf = bytearray(16)
    n, peer2 = srv.recvfrom_into(buf)
    assert (n, bytes(buf[:n]), peer2) == (6, b"abcdef", peer)
    small = bytearray(2)
    assert srv.recv_into(small, 0, MSG_TRUNC) == 3  # MSG_TRUNC: the real length
    assert small == b"XY"
    assert srv.recvmsg(100)[2] == 0
    with pytest.raises(ValueError):
        srv.recv(-1)
    with pytest.raises(ValueError):
        srv.recv_into(bytearray(2), 5)


def test_shutdown() -> None:
    net = two_hosts()
    s = socket(host=net.h1)
    s.bind(("", 4000))
    with pytest.raises(OSError) as ei:
        s.shutdown(SHUT_RD)  # not connected: ENOTCONN, but the bits are set (Linux)
    assert ei.value.errno == errno.ENOTCONN
    assert s.recv(10) == b""  # a blocking read after SHUT_RD returns at once
    assert s.recvfrom(10) == (b"", None)
    s.setblocking(False)
    with pytest.raises(BlockingIOError):
        s.recv(10)
    c = socket(host=net.h1)
    c.connect((A2, 4000))
    c.shutdown(SHUT_WR)
    with pytest.raises(BrokenPipeError):
        c.send(b"x")
    with pytest.raises(OSError) as ei:
        c.shutdown(7)
    assert ei.value.errno == errno.EINVAL


def test_close_releases_the_port_and_the_fd() -> None:
    net = two_hosts()
    with socket(host=net.h1) as s:
        s.bind(("", 4000))
        fd = s.fileno()
        assert fd >= 0
    assert s.fileno() == -1
    s.close()  # idempotent
    with pytest.raises(OSError) as ei:
        s.recv(1)
    assert ei.value.errno == errno.EBADF
    t = socket(host=net.h1)
    t.bind(("", 4000))  # the port is free again
    assert s not in net.h1.sockets and t in net.h1.sockets


def test_queued_data_is_freed_on_close() -> None:
    net = two_hosts()
    srv = socket(host=net.h2)
    srv.bind(("", 4000))
    socket(host=net.h1).sendto(b"x" * 100, (A2, 4000))
    net.settle()
    sk = srv.sk
    assert sk.sk_rmem_alloc > 0
    srv.close()
    assert sk.sk_rmem_alloc == 0
    assert sk.sk_forward_alloc == 0


def test_full_send_buffer_blocks_or_fails_with_eagain() -> None:
    net = two_hosts(rate_bps=1_000_000)  # 1442-byte frames take 11.5 ms each
    cli = socket(host=net.h1)
    cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 1)
    assert cli.getsockopt(SOL_SOCKET, SO_SNDBUF) == 4608  # SOCK_MIN_SNDBUF
    cli.setblocking(False)
    sent = 0
    with pytest.raises(BlockingIOError):
        for _ in range(10):
            cli.sendto(bytes(1400), (A2, 4000))
            sent += 1
    assert 1 <= sent < 10
    assert net.h1.mib.udp.SndbufErrors == 1
    assert cli.sk.sk_wmem_alloc_get() >= cli.sk.sk_sndbuf
    cli.setblocking(True)
    t0 = net.loop.now_ns()
    assert cli.sendto(bytes(1400), (A2, 4000)) == 1400  # waits for a TX completion
    assert net.loop.now_ns() - t0 > 5 * MS
    net.settle(SEC)
    assert cli.sk.sk_wmem_alloc_get() == 0


# -- real time ---------------------------------------------------------------------------

def test_fileno_with_selectors_on_a_real_time_loop() -> None:
    net = two_hosts_real()
    loop = net.loop
    srv = socket(host=net.h2)
    srv.bind((A2, 7))
    srv.setblocking(False)
    cli = socket(host=net.h1)
    sel = selectors.DefaultSelector()
    sel.register(srv.fileno(), selectors.EVENT_READ)
    assert sel.select(0) == []
    got: list[tuple[bytes, object]] = []

    def readable() -> None:  # an application woken through the loop's selector
        while True:
            try:
                got.append(srv.recvfrom(100))
            except BlockingIOError:
                break
        if len(got) == 2:
            loop.stop()

    loop.add_reader(srv.fileno(), readable)  # type: ignore[attr-defined]
    cli.sendto(b"one", (A2, 7))
    cli.sendto(b"two", (A2, 7))
    loop.run(until_ns=loop.now_ns() + 5 * SEC)
    loop.remove_reader(srv.fileno())  # type: ignore[attr-defined]
    port = cli.getsockname()[1]
    assert got == [(b"one", (A1, port)), (b"two", (A1, port))]
    assert sel.select(0) == []  # drained: no longer readable
    cli.sendto(b"three", (A2, 7))
    loop.run(until_ns=loop.now_ns() + 50 * MS)
    assert [key.fd for key, _ in sel.select(0)] == [srv.fileno()]
    assert srv.recv(10) == b"three"
    assert sel.select(0) == []
    sel.close()


def test_blocking_calls_run_the_real_time_loop() -> None:
    net = two_hosts_real()
    loop = net.loop
    srv = socket(host=net.h2)
    srv.bind((A2, 7))
    srv.settimeout(5.0)
    cli = socket(host=net.h1)
    cli.sendto(b"ping", (A2, 7))
    data, peer = srv.recvfrom(100)  # the veth pair and softirqs run on the RealLoop
    assert data == b"ping"
    cli.settimeout(0.05)
    t0 = loop.now_ns()
    with pytest.raises(TimeoutError):
        cli.recv(10)
    assert loop.now_ns() - t0 >= 50 * MS
    srv.sendto(b"pong", peer)
    cli.settimeout(5.0)
    assert cli.recv(10) == b"pong"
