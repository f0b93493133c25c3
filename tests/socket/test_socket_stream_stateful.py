"""Stateful property test of the stream socket API (``tuxnet.socket``, SOCK_STREAM):
hypothesis drives socket/connect/listen/accept/send/recv/shutdown/close/setsockopt in
random orders between two simulated hosts (non-blocking sockets, virtual time
advancing between calls) and checks after every step that

* what each end has read is a prefix of what its peer wrote (and a socket whose peer
  was never accepted has read nothing),
* calls in the wrong state fail with Linux's errno (EPIPE for send on a socket never
  connected, ENOTCONN for recv/shutdown/getpeername there, EINVAL for accept on a
  non-listener, EISCONN for connect on a listener or a connected socket, EALREADY while
  connecting, EBADF after close ...),
* nothing raises anything but OSError,

and at the end, after letting the network settle and draining every reader, that every
connection neither end shut down or closed delivered all of its bytes both ways.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from _udpnet import A1, A2, MS, Net, two_hosts
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tuxnet.socket import (
    AF_INET,
    IPPROTO_TCP,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SO_KEEPALIVE,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_SNDBUF,
    SOCK_NONBLOCK,
    SOCK_STREAM,
    SOL_SOCKET,
    TCP_CORK,
    TCP_NODELAY,
    socket,
)
from tuxnet.socket.stream import StreamSocket
from tuxnet.tcp.ipv4 import tcp_v4_init

PORT = 5000
TCP_ESTABLISHED, TCP_SYN_SENT, TCP_SYN_RECV, TCP_CLOSE, TCP_CLOSE_WAIT, TCP_LISTEN = (
    1, 2, 3, 7, 8, 10)


@dataclass(eq=False)
class Ent:
    """One socket as the test knows it."""

    sock: StreamSocket
    kind: str  # "client", "server" or "listener"
    closed: bool = False
    connect_called: bool = False
    connect_reported: bool = False  # a connect call returned 0 / EISCONN after success
    shut_wr: bool = False
    shut_rd: bool = False
    failed: bool = False  # some call reported a connection error (reset, refused ...)
    was_listener: bool = False  # bound to the listening port: it may connect to itself
    sent: bytearray = field(default_factory=bytearray)
    got: bytearray = field(default_factory=bytearray)
    peer: Ent | None = None
    addr: tuple[str, int] | None = None  # the local address of the last connect

    @property
    def state(self) -> int:
        return self.sock._sk.sk_state


def _errno_of(call: object) -> int | object:
    """Run ``call()``: its result, or the errno of the OSError it raised."""
    try:
        return call()  # type: ignore[operator]
    except OSError as err:
        assert err.errno is not None, err
        return err.errno


class StreamSockets(RuleBasedStateMachine):
    """Two hosts (h1 10.0.0.1 clients, h2 10.0.0.2 listener and accepted sockets)."""

    def __init__(self) -> None:
        super().__init__()
        self.net: Net = two_hosts(rate_bps=50_000_000, delay_ns=1 * MS)
        for h in (self.net.h1, self.net.h2):
            tcp_v4_init(h)
        self.ents: list[Ent] = []
        self.listener: Ent | None = None

    # -- helpers ------------------------------------------------------------------------
    def _settle(self, ms: int) -> None:
        self.net.settle(ms * MS)

    def _pick(self, i: int) -> Ent:
        return self.ents[i % len(self.ents)]

    def _new(self, host_side: str, kind: str) -> Ent:
        host = self.net.h1 if host_side == "h1" else self.net.h2
        s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0, host=host)
        assert isinstance(s, StreamSocket)
        ent = Ent(s, kind)
        self.ents.append(ent)
        return ent

    # -- rules ----------------------------------------------------------------------------
    @precondition(lambda self: sum(e.kind == "client" for e in self.ents) < 4)
    @rule()
    def new_client(self) -> None:
        self._new("h1", "client")

    @precondition(lambda self: self.listener is None or self.listener.closed or
                  self.listener.state != TCP_LISTEN)
    @rule(backlog=st.integers(0, 4))
    def listen(self, backlog: int) -> None:
        ent = self._new("h2", "listener")
        ent.sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        r = _errno_of(lambda: ent.sock.bind((A2, PORT)))
        if r == errno.EADDRINUSE:  # the old listener's port is still held
            ent.sock.close()
            ent.closed = True
            return
        assert r is None
        ent.sock.listen(backlog)
        self.listener = ent

    @precondition(lambda self: self.ents)
    @rule(i=st.integers(0, 15))
    def connect(self, i: int) -> None:
        ent = self._pick(i)
        before = ent.state
        connecting = ent.sock._sk.sk_socket_state == 2  # SS_CONNECTING
        disconnecting = ent.sock._sk.sk_socket_state == 4  # SS_DISCONNECTING
        r = _errno_of(lambda: ent.sock.connect_ex((A2, PORT)))
        if ent.closed:
            assert r == errno.EBADF
            return
        if disconnecting:
            # shutdown() while connecting (inet_shutdown: SYN_SENT, SYN_RECV or an
            # attempt already refused, TCP_CLOSE): connect's switch has no case for it
            assert r == errno.EINVAL, r
            return
        if ent.kind == "listener":
            if before == TCP_LISTEN:
                assert r == errno.EISCONN, r
                return
            # shutdown(SHUT_RD) disconnected it: a closed, unconnected socket again,
            # still bound to 10.0.0.2:PORT (so a connect may reach itself)
            ent.kind = "client"
            ent.was_listener = True
        if ent.kind == "server":
            assert r == errno.EISCONN, r
            return
        if before == TCP_CLOSE and not connecting:
            # a fresh attempt (first, or after a refused/reset one)
            if r == errno.EADDRNOTAVAIL and ent.was_listener:
                return  # another ex-listener holds the same 4-tuple (__inet_check_established)
            assert r == errno.EINPROGRESS, r
            ent.addr = ent.sock.getsockname()
            ent.connect_called = True
            ent.connect_reported = False
            if ent.addr == (A2, PORT):  # a connect to itself: simultaneous open
                ent.peer = ent
            return
        if before in (TCP_SYN_SENT, TCP_SYN_RECV):
            assert r == errno.EALREADY, r
            return
        if ent.connect_reported:
            assert r == errno.EISCONN, r
            return
        # the attempt's error, or ECONNABORTED once a recv/send/SO_ERROR took it
        assert r in (0, errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT,
                     errno.EISCONN, errno.ECONNABORTED), r
        if r in (0, errno.EISCONN):
            ent.connect_reported = True
        else:
            ent.failed = True

    @precondition(lambda self: self.ents)
    @rule(i=st.integers(0, 15))
    def accept(self, i: int) -> None:
        ent = self._pick(i)
        r = _errno_of(lambda: ent.sock.accept())
        if ent.closed:
            assert r == errno.EBADF
            return
        if ent.kind != "listener" or ent.state != TCP_LISTEN:
            assert r == errno.EINVAL, (ent.kind, r)
            return
        if r == errno.EAGAIN:
            return
        assert isinstance(r, tuple), r
        sock, addr = r
        assert isinstance(sock, StreamSocket)
        srv = Ent(sock, "server")
        self.ents.append(srv)
        # the client may have been closed since: its connection still gets accepted
        peers = [e for e in self.ents if e.kind == "client" and e.peer is None and
                 e.addr == addr]
        assert len(peers) == 1, (addr, peers)
        srv.peer, peers[0].peer = peers[0], srv
        # accepted sockets are blocking (no SOCK_NONBLOCK on accept4): make them not
        sock.setblocking(False)

    @precondition(lambda self: self.ents)
    @rule(i=st.integers(0, 15), data=st.binary(min_size=0, max_size=3000),
          big=st.booleans())
    def send(self, i: int, data: bytes, big: bool) -> None:
        ent = self._pick(i)
        if big:
            data = data * 40
        state = ent.state if not ent.closed else None
        pending = ent.sock._sk.sk_err if not ent.closed else 0
        r = _errno_of(lambda: ent.sock.send(data))
        if ent.closed:
            assert r == errno.EBADF
            return
        if pending and r == pending:
            ent.failed = True  # a pending error goes first (sk_stream_error / sock_error)
            return
        if isinstance(r, int) and not isinstance(r, bool) and r >= 0 and r <= len(data) and \
                state in (TCP_ESTABLISHED, TCP_CLOSE_WAIT) and not ent.shut_wr:
            ent.sent += data[:r]
            return
        if ent.kind == "listener" or ent.shut_wr:
            assert r == errno.EPIPE, (ent.kind, r)
            return
        if ent.kind == "client" and not ent.connect_called:
            assert r == errno.EPIPE, r
            return
        if state == TCP_SYN_SENT:
            assert r == errno.EAGAIN, r
            return
        assert r in (errno.EAGAIN, errno.EPIPE, errno.ECONNRESET, errno.ECONNREFUSED,
                     errno.ETIMEDOUT), (state, r)
        if r != errno.EAGAIN:
            ent.failed = True

    @precondition(lambda self: self.ents)
    @rule(i=st.integers(0, 15), n=st.integers(1, 70000))
    def recv(self, i: int, n: int) -> None:
        ent = self._pick(i)
        state = ent.state if not ent.closed else None
        r = _errno_of(lambda: ent.sock.recv(n))
        if ent.closed:
            assert r == errno.EBADF
            return
        if isinstance(r, bytes):
            assert len(r) <= n
            ent.got += r
            return
        if ent.kind == "listener" or (ent.kind == "client" and not ent.connect_called):
            assert r == errno.ENOTCONN, (ent.kind, r)
            return
        if state == TCP_SYN_SENT:
            assert r == errno.EAGAIN, r
            return
        assert r in (errno.EAGAIN, errno.ECONNRESET, errno.ECONNREFUSED, errno.ETIMEDOUT,
                     errno.ENOTCONN), (state, r)
        if r != errno.EAGAIN:
            ent.failed = True

    @precondition(lambda self: self.ents)
    @rule(i=st.integers(0, 15), how=st.sampled_from((SHUT_RD, SHUT_WR, SHUT_RDWR)))
    def shutdown(self, i: int, how: int) -> None:
        ent = self._pick(i)
        state = ent.state if not ent.closed else None
        r = _errno_of(lambda: ent.sock.shutdown(how))
        if ent.closed:
            assert r == errno.EBADF
            return
        if state == TCP_CLOSE:
            assert r == errno.ENOTCONN, r  # never connected, refused, reset or aborted
            return
        assert r is None, r
        if ent.kind == "listener" or state == TCP_SYN_SENT:
            if ent.kind == "listener" and how == SHUT_WR:
                return
            ent.failed = True  # tcp_disconnect: the listener or the attempt is gone
            return
        if how in (SHUT_WR, SHUT_RDWR):
            ent.shut_wr = True
        if how in (SHUT_RD, SHUT_RDWR):
            ent.shut_rd = True

    @precondition(lambda self: self.ents)
    @rule(i=st.integers(0, 15))
    def close(self, i: int) -> None:
        ent = self._pick(i)
        ent.sock.close()  # closing twice is fine, as in CPython
        ent.closed = True

    @precondition(lambda self: self.ents)
    @rule(i=st.integers(0, 15), opt=st.sampled_from((
        (SOL_SOCKET, SO_RCVBUF, 2048), (SOL_SOCKET, SO_RCVBUF, 65536),
        (SOL_SOCKET, SO_SNDBUF, 4096), (SOL_SOCKET, SO_KEEPALIVE, 1),
        (IPPROTO_TCP, TCP_NODELAY, 1), (IPPROTO_TCP, TCP_NODELAY, 0),
        (IPPROTO_TCP, TCP_CORK, 1), (IPPROTO_TCP, TCP_CORK, 0))))
    def setsockopt(self, i: int, opt: tuple[int, int, int]) -> None:
        ent = self._pick(i)
        r = _errno_of(lambda: ent.sock.setsockopt(*opt))
        assert r == (errno.EBADF if ent.closed else None), r
        if not ent.closed:
            assert ent.sock.getsockopt(opt[0], opt[1]) != 0 or opt[2] == 0 or \
                opt[1] in (SO_RCVBUF, SO_SNDBUF)

    @precondition(lambda self: self.ents)
    @rule(i=st.integers(0, 15))
    def getpeername(self, i: int) -> None:
        ent = self._pick(i)
        r = _errno_of(lambda: ent.sock.getpeername())
        if ent.closed:
            assert r == errno.EBADF
        elif ent.kind == "listener" or (not ent.connect_called and ent.kind == "client"):
            assert r == errno.ENOTCONN, r
        elif ent.kind == "server" and ent.peer is not None and isinstance(r, tuple):
            assert r == ent.peer.sock.getsockname() if not ent.peer.closed else r[0] == A1

    @rule(ms=st.sampled_from((0, 1, 3, 20, 300)))
    def advance(self, ms: int) -> None:
        self._settle(ms)

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def reads_are_prefixes_of_writes(self) -> None:
        for ent in self.ents:
            sent = ent.peer.sent if ent.peer is not None else b""
            assert bytes(ent.got) == bytes(sent[:len(ent.got)]), (ent.kind, len(ent.got))

    def teardown(self) -> None:
        """Let everything arrive, drain the readers, and check healthy connections
        delivered every byte both ways."""
        for _ in range(12):
            self._settle(250)
            for ent in self.ents:
                if ent.closed or ent.kind == "listener":
                    continue
                while True:
                    r = _errno_of(lambda e=ent: e.sock.recv(1 << 20))  # type: ignore[misc]
                    if not isinstance(r, bytes) or not r:
                        break
                    ent.got += r
        self.reads_are_prefixes_of_writes()
        for ent in self.ents:
            peer = ent.peer
            if ent.kind != "client" or peer is None:
                continue
            pair = (ent, peer)
            if any(e.closed or e.failed or e.shut_wr or e.shut_rd for e in pair):
                continue
            assert bytes(peer.got) == bytes(ent.sent), "client -> server bytes missing"
            assert bytes(ent.got) == bytes(peer.sent), "server -> client bytes missing"
        for ent in self.ents:
            ent.sock.close()


StreamSockets.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestStreamSockets = StreamSockets.TestCase
