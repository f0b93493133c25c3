"""UDP sockets (SOCK_DGRAM over AF_INET): inet_dgram_ops with udp_prot underneath
(net/ipv4/af_inet.c: inet_dgram_ops; net/ipv4/udp.c: udp_sendmsg, udp_recvmsg).

``DgramSocket`` adds the datagram calls to :class:`tuxnet.socket.api.socket`: bind,
connect/connect_ex, send/sendto/sendall, recv/recvfrom/recv_into/recvfrom_into/
recvmsg. Sending from an unbound socket binds it to an ephemeral port first
(inet_send_prepare -> inet_autobind); an error the network reported (ICMP port
unreachable on a connected socket: ECONNREFUSED) is raised by the next call.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from tuxnet.ipv4.inet import ip_state
from tuxnet.ipv4.ip_output import dst_mtu
from tuxnet.ipv4.udp import UdpMsg, udp_destruct_sock, udp_init, udp_recvmsg, udp_sendmsg
from tuxnet.ipv4.udp_table import UdpSock
from tuxnet.socket.addr import format_sockaddr, known_name, parse_sockaddr
from tuxnet.socket.af_inet import inet_autobind, inet_bind, inet_dgram_connect, inet_release
from tuxnet.socket.api import socket
from tuxnet.socket.consts import (
    IPPROTO_UDP,
    MSG_DONTWAIT,
    MSG_ERRQUEUE,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SOCK_DGRAM,
)
from tuxnet.socket.core import sock_errno

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DgramSocket"]

Address = tuple[str, int]


def _as_view(data: Any) -> memoryview:
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


class DgramSocket(socket):
    """An AF_INET SOCK_DGRAM socket (UDP) on a tuxnet host."""

    _sk: UdpSock

    def _create_sock(self, proto: int) -> UdpSock:
        """inet_create() with udp_prot: proto 0 or IPPROTO_UDP (else EPROTONOSUPPORT)."""
        if proto not in (0, IPPROTO_UDP):
            raise sock_errno(errno.EPROTONOSUPPORT)
        udp_init(self._host)
        return UdpSock(self._host, SOCK_DGRAM, IPPROTO_UDP)

    def _rcvbuf_changed(self) -> None:
        """udp_lib_setsockopt: forward_threshold follows sk_rcvbuf (a property here)."""

    def _ip_mtu(self) -> int:
        """IP_MTU: the path MTU of the connected route (dst_mtu)."""
        rt = self._sk.sk_dst_cache
        return dst_mtu(ip_state(self._host), rt) if rt is not None else 0

    def _release(self) -> None:
        sk = self._sk
        inet_release(sk)
        udp_destruct_sock(sk)

    # -- bind / connect -------------------------------------------------------------
    def bind(self, address: Address) -> None:
        """Bind to (host, port); port 0 picks an ephemeral port."""
        sk = self._check()
        addr, port = parse_sockaddr(address, "bind")
        inet_bind(sk, addr, port)

    def connect(self, address: Address) -> None:
        """Set the default peer (and filter received datagrams to it)."""
        sk = self._check()
        addr, port = parse_sockaddr(address, "connect")
        try:
            inet_dgram_connect(sk, addr, port)
        finally:
            self._sync_fd()

    def connect_ex(self, address: Address) -> int:
        """connect(), returning the errno instead of raising (0 on success)."""
        try:
            self.connect(address)
        except OSError as e:
            if isinstance(e, TimeoutError) or e.errno is None or e.errno < 0:
                raise
            return e.errno
        return 0

    # -- send -----------------------------------------------------------------------
    def _check(self) -> UdpSock:
        if self._closed:
            raise sock_errno(errno.EBADF)
        return self._sk

    def _sendmsg(self, data: Any, flags: int, address: Address | None) -> int:
        if self._closed:  # _check(), inline
            raise sock_errno(errno.EBADF)
        sk = self._sk
        # bytes go down as they are (one byte per item already); the rest as a view
        view = data if data.__class__ is bytes else _as_view(data)
        dest = parse_sockaddr(address, "sendto") if address is not None else None
        # _plan()'s may-not-wait case first, without its frame
        plan = (None if flags & MSG_DONTWAIT or self._timeout == 0.0
                else self._plan(flags, sk.sk_sndtimeo))
        try:
            if not sk.inet_num:  # inet_send_prepare: inet_autobind an unbound socket
                inet_autobind(sk)
            wait_wmem: Callable[[], bool] | None = None  # None: the call may not wait
            if plan is not None:
                def wait() -> bool:
                    return self._wait(lambda: (sk.sk_wmem_alloc_get() < sk.sk_sndbuf
                                               or bool(sk.sk_err)
                                               or bool(sk.sk_shutdown & SEND_SHUTDOWN)),
                                      plan, "send")

                wait_wmem = wait
            return udp_sendmsg(sk, view, flags, dest, wait_wmem)
        finally:
            if self._efd >= 0:  # _sync_fd() has an eventfd to update
                self._sync_fd()

    def send(self, data: Any, flags: int = 0) -> int:
        """Send one datagram to the connected peer (EDESTADDRREQ if none)."""
        return self._sendmsg(data, flags, None)

    def sendto(self, data: Any, flags_or_address: int | Address,
               address: Address | None = None) -> int:
        """sendto(data, address) or sendto(data, flags, address)."""
        if address is None:
            if isinstance(flags_or_address, int):
                raise TypeError("sendto() takes 2 or 3 arguments (2 given)")
            return self._sendmsg(data, 0, flags_or_address)
        if not isinstance(flags_or_address, int):
            raise TypeError("'tuple' object cannot be interpreted as an integer")
        return self._sendmsg(data, flags_or_address, address)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send the data as one datagram (a datagram is sent whole or not at all)."""
        self._sendmsg(data, flags, None)

    # -- receive --------------------------------------------------------------------
    def _recvmsg(self, bufsize: int, flags: int, into: memoryview | None) -> UdpMsg | None:
        """udp_recvmsg with the wait of __skb_recv_udp; None after SHUT_RD (EOF)."""
        if self._closed:  # _check(), inline
            raise sock_errno(errno.EBADF)
        sk = self._sk
        if flags & MSG_ERRQUEUE:  # ip_recv_error: tuxnet keeps no error queue
            raise sock_errno(errno.EAGAIN)
        # _plan()'s may-not-wait case first, without its frame
        plan = (None if flags & MSG_DONTWAIT or self._timeout == 0.0
                else self._plan(flags, sk.sk_rcvtimeo))
        try:
            while True:
                msg = udp_recvmsg(sk, bufsize, flags, into)
                if msg is not None:
                    return msg
                if plan is None:
                    raise sock_errno(errno.EAGAIN)
                ready = sk.poll_readable
                if sk.sk_shutdown & RCV_SHUTDOWN:
                    if not plan[0]:
                        return None  # __skb_wait_for_more_packets: out_noerr
                    # CPython's timeout mode reads a non-blocking fd: EAGAIN each time
                    # poll reports the shut socket readable, until the timeout
                    ready = sk.has_data_or_error
                if not self._wait(ready, plan, "recv"):
                    raise sock_errno(errno.EAGAIN)
        finally:
            if self._efd >= 0:  # _sync_fd() has an eventfd to update
                self._sync_fd()

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """One datagram's data (cut to ``bufsize``; the rest is discarded)."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        msg = self._recvmsg(bufsize, flags, None)
        return msg.data if msg is not None else b""

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Address | None]:
        """(data, (sender address, port))."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        msg = self._recvmsg(bufsize, flags, None)
        if msg is None:
            return b"", None
        saddr, sport = msg.saddr, msg.sport
        name = known_name(saddr)  # format_sockaddr's memo, looked up without its frame
        return msg.data, ((name, sport) if name is not None
                          else format_sockaddr(saddr, sport))

    def _into(self, buffer: Any, nbytes: int, what: str) -> memoryview:
        view = _as_view(buffer)
        if view.readonly:
            raise TypeError(f"{what}() argument 'buffer' must be read-write bytes-like "
                            "object")
        if nbytes < 0:
            raise ValueError(f"negative buffersize in {what}")
        if nbytes > len(view):
            raise ValueError("nbytes is greater than the length of the buffer")
        return view[:nbytes or len(view)]

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Read one datagram into ``buffer``; returns the bytes stored."""
        view = self._into(buffer, nbytes, "recv_into")
        msg = self._recvmsg(len(view), flags, view)
        return msg.ret if msg is not None else 0

    def recvfrom_into(self, buffer: Any, nbytes: int = 0,
                      flags: int = 0) -> tuple[int, Address | None]:
        """(bytes stored, sender) for one datagram read into ``buffer``."""
        view = self._into(buffer, nbytes, "recvfrom_into")
        msg = self._recvmsg(len(view), flags, view)
        if msg is None:
            return 0, None
        return msg.ret, format_sockaddr(msg.saddr, msg.sport)

    def recvmsg(self, bufsize: int, ancbufsize: int = 0,
                flags: int = 0) -> tuple[bytes, list[Any], int, Address | None]:
        """(data, ancillary data (none are produced), msg_flags, sender); msg_flags
        has MSG_TRUNC when the datagram was longer than ``bufsize``."""
        if bufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        if ancbufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        msg = self._recvmsg(bufsize, flags, None)
        if msg is None:
            return b"", [], 0, None
        return msg.data, [], msg.msg_flags, format_sockaddr(msg.saddr, msg.sport)
