"""``tuxnet.socket.socket``: the BSD socket API of a tuxnet host, shaped like Python's
``socket.socket`` (net/socket.c: __sys_socket, __sys_setsockopt ...; struct socket).

    s = socket(AF_INET, SOCK_DGRAM, host=h)   # host: which stack the socket lives on

The class dispatches on the type: SOCK_DGRAM gives a
:class:`~tuxnet.socket.dgram.DgramSocket` (UDP), SOCK_STREAM a
:class:`~tuxnet.socket.stream.StreamSocket` (TCP). Methods, arguments, return
values and exceptions follow Python's socket module on Linux: errors are OSErrors
with Linux errno values (their subclasses follow: BlockingIOError for EAGAIN,
ConnectionRefusedError ...), a Python timeout raises TimeoutError ("timed out"),
SO_RCVTIMEO/SO_SNDTIMEO expire with EAGAIN.

Blocking. ``settimeout``/``setblocking`` behave as in Python. A blocking call runs the
host's event loop (see :func:`tuxnet.socket.core.sk_wait_event`): virtual time on a
SimLoop, real time on a RealLoop. Do not make blocking calls from inside a loop
callback; use non-blocking sockets there.

``fileno()`` returns a real file descriptor, an eventfd created on first use, that is
readable exactly while a receive would not block (datagram queued, error pending or
reads shut down), so ``selectors``/``asyncio`` can wait on it. It is always writable.
Someone must still run the host's loop (e.g. a RealLoop with ``add_reader`` on this
fd) for packets to arrive.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import math
import os
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.socket.addr import format_sockaddr
from tuxnet.socket.af_inet import inet_getname, inet_shutdown
from tuxnet.socket.consts import (
    AF_INET,
    MSG_DONTWAIT,
    SOCK_CLOEXEC,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOCK_STREAM,
    SOCK_TYPE_MASK,
)
from tuxnet.socket.core import Sock, sk_wait_event, sock_errno
from tuxnet.socket.sockopt import sock_getsockopt, sock_setsockopt

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from tuxnet.host import Host

__all__ = ["getdefaulttimeout", "setdefaulttimeout", "socket"]

_INT = struct.Struct("=i")


def optval_bytes(value: int | bytes | bytearray | None, optlen: int | None) -> bytes:
    """setsockopt's value as the kernel sees optval: an int as a native int, a buffer
    as is, None with optlen as that many zero bytes (Python's socket.setsockopt forms)."""
    if value is None:
        if optlen is None:
            raise TypeError("setsockopt() takes an int, a buffer, or None with optlen")
        return bytes(optlen)
    if isinstance(value, int):
        return _INT.pack(value)
    return bytes(value)
_default_timeout: float | None = None
# a wait plan: None = may not wait; else (the deadline is Python's timeout, deadline ns)
WaitPlan = tuple[bool, "int | None"] | None


def getdefaulttimeout() -> float | None:
    """socket.getdefaulttimeout(): the timeout new sockets start with."""
    return _default_timeout


def setdefaulttimeout(timeout: float | None) -> None:
    """socket.setdefaulttimeout()."""
    global _default_timeout
    _default_timeout = _check_timeout(timeout)


def _check_timeout(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an "
                        "integer or float")
    if value < 0 or math.isnan(value):
        raise ValueError("Timeout value out of range")
    return float(value)


class socket:
    """A socket on a tuxnet host (``host`` is keyword-only and required). Defaults:
    AF_INET, SOCK_DGRAM (Python's default is SOCK_STREAM)."""

    _sk: Sock

    def __new__(cls, family: int = AF_INET, type: int = SOCK_DGRAM,
                proto: int = 0, *, host: Host) -> socket:
        if cls is socket:
            if family != AF_INET:  # AF_INET6 and the rest: not (yet) in tuxnet
                raise sock_errno(errno.EAFNOSUPPORT)
            base = type & SOCK_TYPE_MASK
            if base == SOCK_DGRAM:
                from tuxnet.socket.dgram import DgramSocket

                cls = DgramSocket
            elif base == SOCK_STREAM:
                from tuxnet.socket.stream import StreamSocket

                cls = StreamSocket
            else:
                raise sock_errno(errno.ESOCKTNOSUPPORT)
        return object.__new__(cls)

    def __init__(self, family: int = AF_INET, type: int = SOCK_DGRAM,
                 proto: int = 0, *, host: Host) -> None:
        if type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC):
            raise sock_errno(errno.EINVAL)
        self._host = host
        self._family = family
        self._type = type & SOCK_TYPE_MASK
        self._timeout = 0.0 if type & SOCK_NONBLOCK else _default_timeout
        self._closed = False
        self._efd = -1
        self._efd_set = False
        self._sk = self._create_sock(proto)
        self._proto = self._sk.sk_protocol if proto else 0
        host.sockets.append(self)

    def _create_sock(self, proto: int) -> Sock:
        """The protocol's sock (the proto's init); subclasses provide it."""
        raise NotImplementedError

    # -- identity -------------------------------------------------------------------
    @property
    def family(self) -> int:
        """The address family (AF_INET)."""
        return self._family

    @property
    def type(self) -> int:
        """The socket type without SOCK_NONBLOCK/SOCK_CLOEXEC."""
        return self._type

    @property
    def proto(self) -> int:
        """The protocol number given at creation (0 when defaulted)."""
        return self._proto

    @property
    def host(self) -> Host:
        """The tuxnet host (network namespace) the socket lives on."""
        return self._host

    @property
    def sk(self) -> Sock:
        """The kernel-side socket (struct sock), for tests and tools."""
        return self._sk

    def __repr__(self) -> str:
        if self._closed:
            return f"<tuxnet.socket.socket [closed] host={self._host.name}>"
        laddr = format_sockaddr(*inet_getname(self._sk, False))
        s = (f"<tuxnet.socket.socket host={self._host.name} family={self._family} "
             f"type={self._type} proto={self._proto} laddr={laddr}")
        if self._sk.inet_dport:
            s += f" raddr={format_sockaddr(self._sk.inet_daddr, self._sk.inet_dport)}"
        return s + ">"

    def _check(self) -> Sock:
        if self._closed:
            raise sock_errno(errno.EBADF)
        return self._sk

    # -- timeouts -------------------------------------------------------------------
    def settimeout(self, value: float | None) -> None:
        """None blocks, 0.0 never blocks, else seconds until TimeoutError."""
        self._timeout = _check_timeout(value)

    def gettimeout(self) -> float | None:
        """The timeout in seconds (None: blocking)."""
        return self._timeout

    @property
    def timeout(self) -> float | None:
        """socket.timeout attribute: same as gettimeout()."""
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        """setblocking(True) is settimeout(None), setblocking(False) settimeout(0.0)."""
        self._timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        """False only in non-blocking mode (timeout 0.0)."""
        return self._timeout != 0.0

    def _plan(self, flags: int, kernel_timeo: int | None) -> WaitPlan:
        """How this call may wait: Python's timeout (the fd is non-blocking in CPython,
        so SO_RCVTIMEO/SO_SNDTIMEO do not apply), else the kernel timeout."""
        t = self._timeout
        if flags & MSG_DONTWAIT or t == 0.0:
            return None
        now = self._host.loop.now_ns()
        if t is not None:
            return (True, now + math.ceil(t * 1e9))  # _PyTime_ROUND_TIMEOUT
        if kernel_timeo == 0:
            return None
        return (False, None if kernel_timeo is None else now + kernel_timeo)

    def _wait(self, ready: Callable[[], bool], plan: WaitPlan, what: str) -> bool:
        """Wait per ``plan``: True when ready, False when the call must fail with
        EAGAIN; TimeoutError when Python's timeout ran out."""
        if plan is None:
            return False
        py, deadline = plan
        if sk_wait_event(self._sk, ready, deadline, what):
            return True
        if py:
            raise TimeoutError("timed out")
        return False

    # -- the poll fd ----------------------------------------------------------------
    def fileno(self) -> int:
        """A real fd (eventfd) readable while a receive would not block; -1 if closed."""
        if self._closed:
            return -1
        if self._efd < 0:
            self._efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._sk.poll_notify = self._sync_fd
            self._sync_fd()
        return self._efd

    def _sync_fd(self) -> None:
        """Make the eventfd's readability follow the socket's (datagram_poll EPOLLIN)."""
        if self._efd < 0:
            return
        readable = self._sk.poll_readable()
        if readable and not self._efd_set:
            os.eventfd_write(self._efd, 1)
            self._efd_set = True
        elif not readable and self._efd_set:
            os.eventfd_read(self._efd)
            self._efd_set = False

    # -- options ----------------------------------------------------------------------
    def setsockopt(self, level: int, optname: int, value: int | bytes | bytearray | None,
                   optlen: int | None = None) -> None:
        """setsockopt(level, optname, int | bytes) or (level, optname, None, optlen)."""
        sk = self._check()
        optval = optval_bytes(value, optlen)
        sock_setsockopt(sk, level, optname, optval, self._rcvbuf_changed)
        self._sync_fd()

    def _rcvbuf_changed(self) -> None:
        """The protocol's follow-up to SO_RCVBUF (none by default)."""

    def _ip_mtu(self) -> int:
        """IP_MTU of a connected socket (the protocol knows its route)."""
        return 0

    def getsockopt(self, level: int, optname: int, buflen: int = 0) -> int | bytes:
        """An int, or with ``buflen`` the option's bytes (at most buflen of them)."""
        sk = self._check()
        if buflen < 0 or buflen > 1024:
            raise OSError("getsockopt buflen out of range")
        value = sock_getsockopt(sk, level, optname, self._ip_mtu)
        self._sync_fd()
        raw = _INT.pack(value) if isinstance(value, int) else value
        if buflen:
            return raw[:buflen]
        if isinstance(value, int):
            return value
        signed: int = _INT.unpack_from(raw.ljust(4, b"\0"))[0]
        return signed

    # -- names, shutdown, close -----------------------------------------------------
    def getsockname(self) -> tuple[str, int]:
        """The local (address, port)."""
        return format_sockaddr(*inet_getname(self._check(), False))

    def getpeername(self) -> tuple[str, int]:
        """The connected peer's (address, port); ENOTCONN when not connected."""
        return format_sockaddr(*inet_getname(self._check(), True))

    def shutdown(self, how: int) -> None:
        """SHUT_RD, SHUT_WR or SHUT_RDWR (ENOTCONN on an unconnected socket, whose
        shutdown bits are set anyway, as Linux does)."""
        try:
            inet_shutdown(self._check(), how)
        finally:
            self._sync_fd()

    def _release(self) -> None:
        """The protocol's release (sock->ops->release)."""

    def close(self) -> None:
        """Release the socket (idempotent); its queued data is freed."""
        if self._closed:
            return
        self._closed = True
        self._release()
        if self._efd >= 0:
            os.close(self._efd)
            self._efd = -1
        with contextlib.suppress(ValueError):
            self._host.sockets.remove(self)

    def __enter__(self) -> socket:
        return self

    def __exit__(self, exc_type: builtins.type[BaseException] | None,
                 exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        efd = getattr(self, "_efd", -1)
        if efd >= 0:
            os.close(efd)
