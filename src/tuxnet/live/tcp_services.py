"""TCP services of a live host: the listener/connection machinery and ``tcp-echo``
(RFC 862) and ``discard`` (RFC 863).

:class:`TcpServer` owns a non-blocking listening ``SOCK_STREAM`` socket; each accepted
connection is a :class:`TcpConn` with a non-blocking socket. Both are woken through the
socket's wait queue (sk_data_ready / sk_write_space / sk_state_change run the wakers,
as they run ep_poll_callback for an epoll waiter): a waker only schedules the object on
the loop once (``call_soon``), so reads and writes run in process context on the next
loop turn, never inside the softirq that queued the data. A connection never blocks:
``recv`` and ``send`` raise BlockingIOError when they would, and the connection waits
for the next wake-up. Writers keep at most what the send buffer takes (backpressure:
an echo stops reading while its reply is not queued, an HTTP body is produced only as
the send buffer drains).

* ``tcp-echo:PORT`` (RFC 862): every byte received goes back on the same connection.
* ``discard:PORT`` (RFC 863): every byte received is thrown away (counted).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, ClassVar

from tuxnet.live.services import ServiceContext, ServiceError, parse_port, register_service
from tuxnet.loop.soon import SoonOnce
from tuxnet.socket.core import remove_wait_queue

if TYPE_CHECKING:
    from tuxnet.socket.stream import StreamSocket
    from tuxnet.tcp.sock import TcpSock

__all__ = ["DiscardConn", "EchoConn", "TcpConn", "TcpServer"]

RECV_CHUNK = 256 * 1024  # bytes taken per recv (the socket's rcvbuf bounds it anyway)
LISTEN_BACKLOG = 4096  # SOMAXCONN (net.core.somaxconn default since Linux 5.4)
_SHUT_WR = 1
_SHUT_RDWR = 2


class TcpConn:
    """One accepted connection of a :class:`TcpServer`. Subclasses implement
    :meth:`on_ready` (read what is there, write what fits); ``close()`` ends it."""

    __slots__ = ("bytes_in", "bytes_out", "closed", "peer", "server", "sk", "sock", "wake")

    def __init__(self, server: TcpServer, sock: StreamSocket, peer: tuple[str, int]) -> None:
        self.server = server
        self.sock = sock
        self.sk: TcpSock = sock._sk
        self.peer = peer
        self.bytes_in = 0
        self.bytes_out = 0
        self.closed = False
        # the socket's waker: run on_ready on the next loop turn (once)
        self.wake = SoonOnce(server.loop, self._run, lambda: not self.closed)
        self.sk.wq.append(self.wake)

    def _run(self) -> None:
        if self.closed:
            return
        try:
            self.on_ready()
        except OSError as exc:  # a reset, a timeout: this connection is over
            self.server.conn_errors += 1
            if exc.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT):
                self.server.warn(f"{self.server.name}: {self.peer[0]}:{self.peer[1]}: "
                                 f"{exc.strerror or exc}")
            self.close()

    def on_ready(self) -> None:
        """Read and write what can be read and written without blocking."""
        raise NotImplementedError

    def recv(self, size: int = RECV_CHUNK) -> bytes | None:
        """Up to ``size`` bytes; b"" at the end of the stream; None if none are there."""
        try:
            data = self.sock.recv(size)
        except BlockingIOError:
            return None
        self.bytes_in += len(data)
        return data

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Queue what the send buffer takes of ``data``; returns how much (0: full)."""
        try:
            n = self.sock.send(data)
        except BlockingIOError:
            return 0
        self.bytes_out += n
        return n

    def close(self) -> None:
        """Close the socket (tcp_close: a FIN after what is queued) and forget it."""
        if self.closed:
            return
        self.closed = True
        remove_wait_queue(self.sk.wq, self.wake)
        self.server.conns.discard(self)
        self.server.closed_conns += 1
        self.server.forget(self)
        self.sock.close()


class EchoConn(TcpConn):
    """RFC 862: "Once a connection is established any data received is sent back.
    This continues until the calling user terminates the connection." Reading stops
    while an earlier reply is not queued yet (the send buffer is the only buffer)."""

    __slots__ = ("_eof", "_pending")

    def __init__(self, server: TcpServer, sock: StreamSocket, peer: tuple[str, int]) -> None:
        super().__init__(server, sock, peer)
        self._pending = memoryview(b"")
        self._eof = False

    def on_ready(self) -> None:
        """Flush the pending reply, then echo what arrived until the buffer is full."""
        while True:
            if self._pending:
                n = self.send(self._pending)
                self._pending = self._pending[n:]
                if self._pending:
                    return  # woken again by sk_write_space
            if self._eof:
                self.close()
                return
            data = self.recv()
            if data is None:
                return
            if not data:
                self._eof = True
                continue
            self._pending = memoryview(data)


class DiscardConn(TcpConn):
    """RFC 863: "Once a connection is established any data received is thrown away.
    No response is sent." Closes when the peer does."""

    __slots__ = ()

    def on_ready(self) -> None:
        """Read (and drop) everything there is; close at the end of the stream."""
        while True:
            data = self.recv()
            if data is None:
                return
            if not data:
                self.close()
                return


class TcpServer:
    """A TCP service: a listener on PORT (SO_REUSEADDR, backlog SOMAXCONN) that
    accepts every pending connection when woken and makes a ``conn_class`` for each."""

    conn_class: ClassVar[type[TcpConn]] = TcpConn
    kind: ClassVar[str] = "tcp"

    def __init__(self, ctx: ServiceContext, port: int) -> None:
        from tuxnet import socket as tsocket
        from tuxnet.socket.stream import StreamSocket

        self.name = f"{self.kind}:{port}"
        self.port = port
        self.loop = ctx.loop
        self.warn = ctx.warn
        self.conns: set[TcpConn] = set()
        self.accepted = 0
        self.closed_conns = 0
        self.conn_errors = 0
        self.bytes_in_closed = 0
        self.bytes_out_closed = 0
        sock = tsocket.socket(tsocket.AF_INET, tsocket.SOCK_STREAM, host=ctx.host)
        assert isinstance(sock, StreamSocket)
        try:
            sock.setblocking(False)
            sock.setsockopt(tsocket.SOL_SOCKET, tsocket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            sock.listen(LISTEN_BACKLOG)
        except OSError as exc:
            sock.close()
            raise ServiceError(f"{self.name}: {exc.strerror or exc}") from None
        self._sock: StreamSocket | None = sock
        self._sk = sock._sk
        self._wake = SoonOnce(self.loop, self._accept_all, lambda: self._sock is not None)
        self._sk.wq.append(self._wake)

    def _accept_all(self) -> None:
        """inet_csk_accept until the accept queue is empty."""
        sock = self._sock
        if sock is None:
            return
        while True:
            try:
                child, peer = sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # ECONNABORTED ...: try the next one
                self.conn_errors += 1
                if exc.errno == errno.EINVAL:
                    return
                continue
            child.setblocking(False)
            self.accepted += 1
            conn = self.conn_class(self, child, peer)
            self.conns.add(conn)
            conn.wake()  # data may have come with the handshake's last ACK

    def forget(self, conn: TcpConn) -> None:
        """Account a finished connection's bytes (called from close)."""
        self.bytes_in_closed += conn.bytes_in
        self.bytes_out_closed += conn.bytes_out

    def close(self) -> None:
        """Close the listener and every connection."""
        for conn in list(self.conns):
            conn.close()
        sock = self._sock
        if sock is not None:
            self._sock = None
            remove_wait_queue(self._sk.wq, self._wake)
            sock.close()

    def totals(self) -> tuple[int, int]:
        """(bytes received, bytes sent) over all connections, open ones included."""
        bin_ = self.bytes_in_closed + sum(c.bytes_in for c in self.conns)
        bout = self.bytes_out_closed + sum(c.bytes_out for c in self.conns)
        return bin_, bout

    def counters(self) -> dict[str, int]:
        """Connections accepted/closed/open/failed and bytes each way."""
        bin_, bout = self.totals()
        return {"accepted": self.accepted, "closed": self.closed_conns,
                "open": len(self.conns), "errors": self.conn_errors,
                "bytes_in": bin_, "bytes_out": bout}


class EchoServer(TcpServer):
    """``tcp-echo:PORT``."""

    conn_class = EchoConn
    kind = "tcp-echo"


class DiscardServer(TcpServer):
    """``discard:PORT``."""

    conn_class = DiscardConn
    kind = "discard"


def _echo(ctx: ServiceContext, arg: str) -> EchoServer:
    return EchoServer(ctx, parse_port(arg, "tcp-echo"))


def _discard(ctx: ServiceContext, arg: str) -> DiscardServer:
    return DiscardServer(ctx, parse_port(arg, "discard"))


register_service("tcp-echo", _echo, "tcp-echo:PORT")
register_service("discard", _discard, "discard:PORT")
