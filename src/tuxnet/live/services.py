"""Services a live tuxnet host runs for the real kernel to talk to.

A service is named by a spec ``NAME[:ARG]`` on the command line (``--serve
udp-echo:7``). :data:`SERVICES` maps each name to a factory ``(ctx, arg) -> Service``;
other layers add theirs with :func:`register_service` (the TCP issue adds tcp-echo,
discard, http). A service is an application on the host: it uses ``tuxnet.socket``
sockets, never blocks (non-blocking sockets, woken through the socket's wait queue or
a loop reader on its ``fileno()``), and ``close()`` releases everything it made.

Built in:

* ``udp-echo:PORT`` (RFC 862 over UDP): every datagram received on PORT goes back
  to its sender, unchanged.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tuxnet.loop.soon import SoonOnce
from tuxnet.socket.core import remove_wait_queue

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.loop.real import RealLoop

__all__ = [
    "SERVICES",
    "Service",
    "ServiceContext",
    "ServiceError",
    "UdpEcho",
    "parse_port",
    "register_service",
    "start_service",
]

UDP_ECHO_MAX = 65535  # the largest UDP datagram (RFC 768 length field)


class ServiceError(Exception):
    """A service spec that cannot be started (unknown name, bad argument, bind error)."""


class Service(Protocol):
    """A running service."""

    name: str

    def close(self) -> None:
        """Stop serving and release sockets and loop readers."""

    def counters(self) -> dict[str, int]:
        """What it did (requests, bytes ...), for the exit report."""


@dataclass
class ServiceContext:
    """What a service factory gets: the host, its real-time loop, and where to report
    non-fatal errors."""

    host: Host
    loop: RealLoop
    warn: Callable[[str], object] = print
    extra: dict[str, Any] = field(default_factory=dict)


ServiceFactory = Callable[[ServiceContext, str], Service]
SERVICES: dict[str, tuple[ServiceFactory, str]] = {}


def register_service(name: str, factory: ServiceFactory, usage: str) -> None:
    """Make ``--serve NAME[:ARG]`` start ``factory(ctx, ARG)``; ``usage`` is the spec
    form shown in help (e.g. ``udp-echo:PORT``)."""
    if name in SERVICES and SERVICES[name][0] is not factory:
        raise ValueError(f"service {name!r} is already registered")
    SERVICES[name] = (factory, usage)


def parse_port(arg: str, what: str) -> int:
    """A port 1..65535 from a spec argument."""
    try:
        port = int(arg, 10)
    except ValueError:
        raise ServiceError(f"{what}: bad port {arg!r}") from None
    if not 1 <= port <= 65535:
        raise ServiceError(f"{what}: port {port} outside 1..65535")
    return port


def start_service(ctx: ServiceContext, spec: str) -> Service:
    """Start the service a ``NAME[:ARG]`` spec names."""
    name, _, arg = spec.partition(":")
    entry = SERVICES.get(name)
    if entry is None:
        known = ", ".join(u for _, u in sorted(SERVICES.values(), key=lambda e: e[1]))
        raise ServiceError(f"unknown service {name!r} (known: {known})")
    return entry[0](ctx, arg)


class UdpEcho:
    """``udp-echo:PORT``: a non-blocking SOCK_DGRAM socket bound to PORT; whenever it
    is readable, every queued datagram is sent back to its source.

    Woken through the socket's wait queue (sk_data_ready runs the wakers, as it runs
    ep_poll_callback for an epoll waiter): the waker only schedules the service on the
    loop, so it reads and replies in process context on the next loop turn, never
    inside the softirq that queued the datagram. (The socket's ``fileno()`` eventfd
    would do the same at the price of two extra syscalls per datagram.)"""

    def __init__(self, ctx: ServiceContext, port: int) -> None:
        from tuxnet import socket as tsocket
        from tuxnet.socket.dgram import DgramSocket

        self.name = f"udp-echo:{port}"
        self.port = port
        self._loop = ctx.loop
        self._warn = ctx.warn
        sock = tsocket.socket(tsocket.AF_INET, tsocket.SOCK_DGRAM, host=ctx.host)
        assert isinstance(sock, DgramSocket)
        try:
            sock.setblocking(False)
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            sock.close()
            raise ServiceError(f"{self.name}: bind: {exc.strerror or exc}") from None
        self._sock: DgramSocket | None = sock
        self._sk = sock.sk
        # the socket's waker (data ready, write space, error): a pass when a read
        # would not block
        self._wake = SoonOnce(self._loop, self._readable, self._sk.poll_readable)
        self.requests = 0
        self.replies = 0
        self.bytes = 0
        self.send_errors = 0
        self._sk.wq.append(self._wake)
        if self._sk.poll_readable():
            self._wake()

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        sk = self._sk
        recvfrom = sock.recvfrom
        sendto = sock.sendto
        while sk.poll_readable():
            try:
                data, addr = recvfrom(UDP_ECHO_MAX)
            except BlockingIOError:
                return
            except OSError as exc:  # a pending ICMP error (ECONNREFUSED ...): reported once
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    return
                continue
            self.requests += 1
            self.bytes += len(data)
            if addr is None:  # no source address: nowhere to echo to
                self.send_errors += 1
                continue
            try:
                sendto(data, addr)
            except OSError:
                self.send_errors += 1
                continue
            self.replies += 1

    def close(self) -> None:
        """Stop listening to the socket and close it."""
        sock = self._sock
        if sock is not None:
            self._sock = None
            remove_wait_queue(self._sk.wq, self._wake)
            sock.close()

    def counters(self) -> dict[str, int]:
        """Requests, replies, payload bytes and failed sends."""
        return {"requests": self.requests, "replies": self.replies, "bytes": self.bytes,
                "send_errors": self.send_errors}


def _udp_echo(ctx: ServiceContext, arg: str) -> Service:
    return UdpEcho(ctx, parse_port(arg, "udp-echo"))


register_service("udp-echo", _udp_echo, "udp-echo:PORT")
