"""TCP sockets (SOCK_STREAM over AF_INET): inet_stream_ops with tcp_prot underneath
(net/ipv4/af_inet.c: inet_stream_ops, inet_stream_connect, inet_accept, inet_listen;
net/ipv4/tcp.c: tcp_sendmsg, tcp_recvmsg, tcp_setsockopt, tcp_getsockopt).

``StreamSocket`` adds the stream calls to :class:`tuxnet.socket.api.socket`: bind,
listen, accept, connect/connect_ex, send/sendall/sendmsg (MSG_ZEROCOPY), sendfile,
recv/recv_into/recvmsg (MSG_ERRQUEUE: zerocopy completions, tx timestamps; MSG_OOB),
shutdown, close, SOL_SOCKET SO_ZEROCOPY/SO_TIMESTAMPING, and
SOL_TCP options (TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEP*, TCP_USER_TIMEOUT,
TCP_CONGESTION, TCP_INFO as the bytes of struct tcp_info ...).

Waiting follows CPython: a blocking socket (timeout None) makes the kernel call wait
(SO_RCVTIMEO/SO_SNDTIMEO apply, expiring with EAGAIN); a non-blocking one (0.0)
never waits (EAGAIN / EINPROGRESS); with a Python timeout the call is tried without
waiting, and on EAGAIN the socket's poll readiness (tcp_poll) is awaited until the
deadline, then TimeoutError -- exactly that much virtual time on a SimLoop.

``fileno()`` is readable while tcp_poll reports EPOLLIN/EPOLLHUP/EPOLLERR (data, a
pending connection on a listener, end of stream, an error).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.socket.addr import format_sockaddr, parse_sockaddr
from tuxnet.socket.af_inet import inet_bind
from tuxnet.socket.api import _INT, getdefaulttimeout, optval_bytes, socket
from tuxnet.socket.consts import (
    IPPROTO_TCP,
    MSG_DONTWAIT,
    MSG_ERRQUEUE,
    MSG_MORE,
    MSG_OOB,
    SO_ACCEPTCONN,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_MAX_PACING_RATE,
    SOL_SOCKET,
    SOL_TCP,
)
from tuxnet.socket.core import sk_wait_event, sock_errno
from tuxnet.socket.errqueue import ip_recv_error
from tuxnet.socket.sendfile import file_pages, splice_direct
from tuxnet.socket.sockopt import sock_getsockopt, sock_setsockopt
from tuxnet.tcp.defs import HZ, TCP_CC_INFO, TCP_CONGESTION, TCP_INFO, TCP_LISTEN
from tuxnet.tcp.fastopen import TCP_FASTOPEN_KEY, tcp_fastopen_getsockopt, tcp_fastopen_set_key
from tuxnet.tcp.ipv4 import tcp_v4_init
from tuxnet.tcp.md5 import TCP_MD5SIG, TCP_MD5SIG_EXT, tcp_v4_parse_md5_keys
from tuxnet.tcp.pacing import sk_set_max_pacing_rate
from tuxnet.tcp.proto import (
    inet_csk_accept,
    inet_listen,
    inet_shutdown_stream,
    inet_stream_connect,
    tcp_close,
    tcp_get_info,
    tcp_getsockopt,
    tcp_poll,
    tcp_recvmsg,
    tcp_sendmsg,
    tcp_set_keepalive,
    tcp_setsockopt,
    tcp_v4_init_sock,
)
from tuxnet.tcp.sock import TcpSock

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["StreamSocket", "tcp_cc_info_bytes", "tcp_info_bytes"]

Address = tuple[str, int]

_LINGER = struct.Struct("=ii")
_EPOLLIN = 0x1
_EPOLLOUT = 0x4
_EPOLLERR = 0x8
_EPOLLHUP = 0x10
_POLLIN_SET = _EPOLLIN | _EPOLLERR | _EPOLLHUP  # select()'s readable
_POLLOUT_SET = _EPOLLOUT | _EPOLLERR | _EPOLLHUP  # select()'s writable
_TCP_CA_NAME_MAX = 16
_MAX_LINGER = ((1 << 63) - 1) // HZ  # sk_setsockopt: MAX_SCHEDULE_TIMEOUT / HZ
_SOMAXCONN = 4096

# struct tcp_info (include/uapi/linux/tcp.h, Linux 6.7: 248 bytes) after its first
# eight u8s (state ... options, the snd_wscale:4/rcv_wscale:4 byte, app_limited byte)
_TCP_INFO_TAIL = (
    ("I", "tcpi_rto"), ("I", "tcpi_ato"), ("I", "tcpi_snd_mss"), ("I", "tcpi_rcv_mss"),
    ("I", "tcpi_unacked"), ("I", "tcpi_sacked"), ("I", "tcpi_lost"),
    ("I", "tcpi_retrans"), ("I", "tcpi_fackets"),
    ("I", "tcpi_last_data_sent"), ("I", "tcpi_last_ack_sent"),
    ("I", "tcpi_last_data_recv"), ("I", "tcpi_last_ack_recv"),
    ("I", "tcpi_pmtu"), ("I", "tcpi_rcv_ssthresh"), ("I", "tcpi_rtt"),
    ("I", "tcpi_rttvar"), ("I", "tcpi_snd_ssthresh"), ("I", "tcpi_snd_cwnd"),
    ("I", "tcpi_advmss"), ("I", "tcpi_reordering"),
    ("I", "tcpi_rcv_rtt"), ("I", "tcpi_rcv_space"), ("I", "tcpi_total_retrans"),
    ("Q", "tcpi_pacing_rate"), ("Q", "tcpi_max_pacing_rate"),
    ("Q", "tcpi_bytes_acked"), ("Q", "tcpi_bytes_received"),
    ("I", "tcpi_segs_out"), ("I", "tcpi_segs_in"), ("I", "tcpi_notsent_bytes"),
    ("I", "tcpi_min_rtt"), ("I", "tcpi_data_segs_in"), ("I", "tcpi_data_segs_out"),
    ("Q", "tcpi_delivery_rate"),
    ("Q", "tcpi_busy_time"), ("Q", "tcpi_rwnd_limited"), ("Q", "tcpi_sndbuf_limited"),
    ("I", "tcpi_delivered"), ("I", "tcpi_delivered_ce"),
    ("Q", "tcpi_bytes_sent"), ("Q", "tcpi_bytes_retrans"),
    ("I", "tcpi_dsack_dups"), ("I", "tcpi_reord_seen"), ("I", "tcpi_rcv_ooopack"),
    ("I", "tcpi_snd_wnd"), ("I", "tcpi_rcv_wnd"), ("I", "tcpi_rehash"),
    ("H", "tcpi_total_rto"), ("H", "tcpi_total_rto_recoveries"),
    ("I", "tcpi_total_rto_time"),
)
_TCP_INFO = struct.Struct("=8B" + "".join(k for k, _ in _TCP_INFO_TAIL))
_TCP_INFO_HEAD = ("tcpi_state", "tcpi_ca_state", "tcpi_retransmits", "tcpi_probes",
                  "tcpi_backoff", "tcpi_options")
_MASK = {"H": 0xFFFF, "I": 0xFFFFFFFF, "Q": (1 << 64) - 1}


_TCP_BBR_INFO = struct.Struct("=5I")  # struct tcp_bbr_info


def tcp_cc_info_bytes(sk: TcpSock) -> bytes:
    """TCP_CC_INFO: ca_ops->get_info's union tcp_cc_info; empty for an algorithm without
    get_info (Reno, CUBIC), struct tcp_bbr_info for BBR."""
    ops = sk.icsk_ca_ops
    info = ops.get_info(sk) if ops is not None else {}
    if not info:
        return b""
    return _TCP_BBR_INFO.pack(info["bbr_bw_lo"], info["bbr_bw_hi"], info["bbr_min_rtt"],
                              info["bbr_pacing_gain"], info["bbr_cwnd_gain"])


def tcp_info_bytes(info: dict[str, int]) -> bytes:
    """struct tcp_info from tcp_get_info()'s fields. Fields tuxnet does not keep are 0:
    fackets, last_ack_sent (0 in Linux too), delivered_ce, rehash, total_rto_time."""
    values = [info.get(k, 0) & 0xFF for k in _TCP_INFO_HEAD]
    values.append((info.get("tcpi_snd_wscale", 0) & 0xF)
                  | (info.get("tcpi_rcv_wscale", 0) & 0xF) << 4)
    values.append(info.get("tcpi_delivery_rate_app_limited", 0) & 1  # :1, fastopen_fail:2
                  | (info.get("tcpi_fastopen_client_fail", 0) & 3) << 1)
    values += [info.get(name, 0) & _MASK[kind] for kind, name in _TCP_INFO_TAIL]
    return _TCP_INFO.pack(*values)


def _as_view(data: Any) -> memoryview:
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


class StreamSocket(socket):
    """An AF_INET SOCK_STREAM socket (TCP) on a tuxnet host."""

    _sk: TcpSock

    def _create_sock(self, proto: int) -> TcpSock:
        """inet_create() with tcp_prot: proto 0 or IPPROTO_TCP (else EPROTONOSUPPORT)."""
        if proto not in (0, IPPROTO_TCP):
            raise sock_errno(errno.EPROTONOSUPPORT)
        tcp_v4_init(self._host)  # a no-op once inet_init registered TCP
        return tcp_v4_init_sock(self._host)

    @classmethod
    def _from_sk(cls, parent: StreamSocket, sk: TcpSock) -> StreamSocket:
        """The socket accept() returns around an accepted connection."""
        s: StreamSocket = object.__new__(cls)
        s._host = parent._host
        s._family = parent._family
        s._type = parent._type
        s._timeout = getdefaulttimeout()  # CPython: a new socket from the fd
        s._closed = False
        s._efd = -1
        s._efd_set = False
        s._sk = sk
        s._proto = parent._proto
        s._host.sockets.append(s)
        return s

    def _check(self) -> TcpSock:
        if self._closed:
            raise sock_errno(errno.EBADF)
        return self._sk

    def _ip_mtu(self) -> int:
        """IP_MTU: the path MTU TCP uses (icsk_pmtu_cookie)."""
        return self._sk.icsk_pmtu_cookie

    def _sync_fd(self) -> None:
        """The eventfd is readable while tcp_poll says select() would see it readable."""
        if self._efd < 0 or self._closed:
            return
        readable = bool(tcp_poll(self._sk) & _POLLIN_SET)
        if readable != self._efd_set:
            if readable:
                os.eventfd_write(self._efd, 1)
            else:
                os.eventfd_read(self._efd)
            self._efd_set = readable

    def _release(self) -> None:
        """inet_release() -> tcp_close() with SO_LINGER's time."""
        sk = self._sk
        linger_ns = sk.sk_lingertime * (1_000_000_000 // HZ) if (
            "SOCK_LINGER" in sk.sock_flags) else 0
        tcp_close(sk, linger_ns)

    # -- the CPython wait (sock_call_ex) --------------------------------------------
    def _call(self, fn: Callable[[int | None], Any], flags: int,
              kernel_timeo: int | None, events: int, what: str) -> Any:
        """Run ``fn(timeo_ns)`` the way CPython does for this socket's timeout."""
        t = self._timeout
        try:
            if flags & MSG_DONTWAIT or t == 0.0:
                return fn(0)
            if t is None:
                return fn(kernel_timeo)
            sk = self._sk
            deadline = self._host.loop.now_ns() + math.ceil(t * 1e9)
            while True:
                try:
                    return fn(0)
                except BlockingIOError:
                    pass
                if not sk_wait_event(sk, lambda: bool(tcp_poll(sk) & events), deadline,
                                     what):
                    raise TimeoutError("timed out") from None
        finally:
            self._sync_fd()

    # -- bind / listen / accept / connect ----------------------------------------
    def bind(self, address: Address) -> None:
        """Bind to (host, port); port 0 picks an ephemeral port."""
        sk = self._check()
        addr, port = parse_sockaddr(address, "bind")
        inet_bind(sk, addr, port)

    def listen(self, backlog: int | None = None) -> None:
        """listen([backlog]): the default is min(SOMAXCONN, 128), as CPython's."""
        sk = self._check()
        if backlog is None:
            backlog = min(_SOMAXCONN, 128)
        try:
            inet_listen(sk, max(backlog, 0))
        finally:
            self._sync_fd()

    def accept(self) -> tuple[StreamSocket, Address]:
        """(connected socket, (peer address, port)) for the oldest connection."""
        sk = self._check()

        def do(timeo: int | None) -> TcpSock:
            return inet_csk_accept(sk, timeo)

        child: TcpSock = self._call(do, 0, sk.sk_rcvtimeo, _POLLIN_SET, "accept")
        s = self._from_sk(self, child)
        return s, format_sockaddr(child.inet_daddr, child.inet_dport)

    def connect(self, address: Address) -> None:
        """Open a connection; non-blocking: BlockingIOError(EINPROGRESS) first, then
        EALREADY while the handshake runs, EISCONN once it completed."""
        sk = self._check()
        daddr, dport = parse_sockaddr(address, "connect")

        def do(timeo: int | None) -> None:
            inet_stream_connect(sk, daddr, dport, timeo)

        t = self._timeout
        if t is None or t == 0.0:
            # blocking: the kernel waits with sk_sndtimeo (expiry is EINPROGRESS)
            self._call(do, 0, sk.sk_sndtimeo, _POLLOUT_SET, "connect")
            return
        # CPython's timeout mode: a non-blocking connect, then wait for writability
        deadline = self._host.loop.now_ns() + math.ceil(t * 1e9)
        try:
            try:
                do(0)
                return
            except BlockingIOError as e:
                if e.errno != errno.EINPROGRESS:
                    raise
            if not sk_wait_event(sk, lambda: bool(tcp_poll(sk) & _POLLOUT_SET),
                                 deadline, "connect"):
                raise TimeoutError("timed out")
            do(0)  # SS_CONNECTED now, or the handshake's error (SO_ERROR in CPython)
        finally:
            self._sync_fd()

    def connect_ex(self, address: Address) -> int:
        """connect(), returning the errno instead of raising (0 on success;
        EWOULDBLOCK when a Python timeout ran out, as CPython)."""
        try:
            self.connect(address)
        except TimeoutError:
            return errno.EWOULDBLOCK
        except OSError as e:
            if e.errno is None or e.errno < 0:
                raise
            return e.errno
        return 0

    # -- data ---------------------------------------------------------------------
    def send(self, data: Any, flags: int = 0) -> int:
        """Queue bytes for the peer; returns how many were taken."""
        sk = self._check()
        view = _as_view(data)

        def do(timeo: int | None) -> int:
            return tcp_sendmsg(sk, view, flags, timeo)

        n: int = self._call(do, flags, sk.sk_sndtimeo, _POLLOUT_SET, "send")
        return n

    def sendto(self, data: Any, flags_or_addr: Any, address: Any = None) -> int:
        """sendto(data[, flags], address): with MSG_FASTOPEN on an unconnected socket,
        connect to ``address`` with the data in the SYN (TCP Fast Open, RFC 7413);
        otherwise the address is ignored, as Linux does for a connected stream."""
        if address is None:
            flags, address = 0, flags_or_addr
        else:
            flags = int(flags_or_addr)
        sk = self._check()
        view = _as_view(data)
        addr = parse_sockaddr(address, "sendto")

        def do(timeo: int | None) -> int:
            return tcp_sendmsg(sk, view, flags, timeo, addr=addr)

        n: int = self._call(do, flags, sk.sk_sndtimeo, _POLLOUT_SET, "send")
        return n

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send everything (with a Python timeout, the timeout bounds the whole call)."""
        sk = self._check()
        view = _as_view(data)
        t = self._timeout
        if t is None or t == 0.0 or flags & MSG_DONTWAIT:
            sent = self.send(view, flags)
            while sent < len(view):  # a kernel timeout (SO_SNDTIMEO) cut it short
                sent += self.send(view[sent:], flags)
            return
        deadline = self._host.loop.now_ns() + math.ceil(t * 1e9)
        sent = 0
        try:
            while True:
                with contextlib.suppress(BlockingIOError):
                    sent += tcp_sendmsg(sk, view[sent:], flags, 0)
                if sent >= len(view):
                    return
                if not sk_wait_event(sk, lambda: bool(tcp_poll(sk) & _POLLOUT_SET),
                                     deadline, "send"):
                    raise TimeoutError("timed out")
        finally:
            self._sync_fd()

    def sendmsg(self, buffers: Any, ancdata: Any = (), flags: int = 0,
                address: Any = None) -> int:
        """sendmsg(buffers[, ancdata[, flags[, address]]]): send the iovec ``buffers``;
        with MSG_ZEROCOPY on a SO_ZEROCOPY socket they are referenced, not copied, until
        the completion on the error queue (``recvmsg(..., MSG_ERRQUEUE)``). Control
        messages are not supported (EINVAL); a connected socket ignores ``address``."""
        sk = self._check()
        if list(ancdata):
            raise sock_errno(errno.EINVAL)
        bufs = [_as_view(b) for b in buffers]

        def do(timeo: int | None) -> int:
            return tcp_sendmsg(sk, bufs, flags, timeo)

        n: int = self._call(do, flags, sk.sk_sndtimeo, _POLLOUT_SET, "sendmsg")
        return n

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """sendfile(file[, offset[, count]]) as Python's socket.sendfile, done the way
        Linux's sendfile(2) is: the file's pages are spliced into the socket as page
        fragments, not copied (socket/sendfile.py). Returns the bytes sent; the file
        position ends after them. ``file`` is a binary file with ``fileno()`` or an
        in-memory one with ``getbuffer()`` (io.BytesIO)."""
        sk = self._check()
        if "b" not in getattr(file, "mode", "b"):
            raise ValueError("file should be opened in binary mode")
        if count is not None:
            if not isinstance(count, int):
                raise TypeError(f"count must be a positive integer (got {count!r})")
            if count <= 0:
                raise ValueError(f"count must be a positive integer (got {count!r})")
        if self._timeout == 0.0:
            raise ValueError("non-blocking sockets are not supported")
        pages = file_pages(file)
        if count is None:
            count = max(len(pages) - offset, 0)
        flags0 = 0

        def send(chunk: memoryview, off: int, more: bool) -> int:
            flags = flags0 | (MSG_MORE if more else 0)

            def do(timeo: int | None) -> int:
                return tcp_sendmsg(sk, chunk, flags, timeo, splice_off=off)
            n: int = self._call(do, flags, sk.sk_sndtimeo, _POLLOUT_SET, "sendfile")
            return n

        total = 0
        try:
            total = splice_direct(pages, offset, count, send)
        finally:
            if total > 0 and hasattr(file, "seek"):
                file.seek(offset + total)
        return total

    def recvmsg(self, bufsize: int, ancbufsize: int = 0,
                flags: int = 0) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
        """recvmsg(bufsize[, ancbufsize[, flags]]) -> (data, ancdata, msg_flags, address).
        MSG_ERRQUEUE reads one zerocopy completion or tx timestamp report (never waits:
        EAGAIN when none is queued); else as recv() with no control messages."""
        if bufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        if ancbufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        sk = self._check()
        if flags & MSG_ERRQUEUE:
            try:
                return ip_recv_error(sk, bufsize, ancbufsize)
            finally:
                self._sync_fd()
        data = self.recv(bufsize, flags)
        return data, [], MSG_OOB if flags & MSG_OOB else 0, None  # tcp_recv_urg: MSG_OOB

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes; b"" at the end of the stream."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        sk = self._check()

        def do(timeo: int | None) -> bytes:
            return tcp_recvmsg(sk, bufsize, flags, timeo)

        if bufsize == 0:
            return b""
        out: bytes = self._call(do, flags, sk.sk_rcvtimeo, _POLLIN_SET, "recv")
        return out

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Read into ``buffer``; returns the bytes stored (0 at the end of stream)."""
        view = _as_view(buffer)
        if view.readonly:
            raise TypeError("recv_into() argument 'buffer' must be read-write bytes-like "
                            "object")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if nbytes > len(view):
            raise ValueError("buffer too small for requested bytes")
        n = nbytes or len(view)
        data = self.recv(n, flags)
        view[:len(data)] = data
        return len(data)

    # -- names, shutdown ------------------------------------------------------------
    def getpeername(self) -> Address:
        """The peer's (address, port); ENOTCONN unless connected (inet_getname)."""
        sk = self._check()
        if not sk.inet_dport or sk.sk_state in (7, 2):  # TCPF_CLOSE | TCPF_SYN_SENT
            raise sock_errno(errno.ENOTCONN)
        return format_sockaddr(sk.inet_daddr, sk.inet_dport)

    def shutdown(self, how: int) -> None:
        """SHUT_RD, SHUT_WR (sends a FIN) or SHUT_RDWR; ENOTCONN when not connected."""
        try:
            inet_shutdown_stream(self._check(), how)
        finally:
            self._sync_fd()

    # -- options --------------------------------------------------------------------
    def setsockopt(self, level: int, optname: int, value: int | bytes | bytearray | None,
                   optlen: int | None = None) -> None:
        """SOL_TCP options go to do_tcp_setsockopt; SO_KEEPALIVE starts the keepalive
        timer, SO_LINGER is kept (close waits or aborts); the rest as for any socket."""
        sk = self._check()
        optval = optval_bytes(value, optlen)
        try:
            if level == SOL_TCP:
                self._tcp_set(sk, optname, optval)
            elif level == SOL_SOCKET and optname == SO_KEEPALIVE:
                if len(optval) < 4:
                    raise sock_errno(errno.EINVAL)
                tcp_set_keepalive(sk, bool(_INT.unpack_from(optval)[0]))
            elif level == SOL_SOCKET and optname == SO_MAX_PACING_RATE:
                if len(optval) < 4:
                    raise sock_errno(errno.EINVAL)
                # sk_setsockopt: a u32, or a u64 when optlen says so
                rate = (struct.unpack_from("=Q", optval)[0] if len(optval) >= 8
                        else struct.unpack_from("=I", optval)[0])
                sk_set_max_pacing_rate(sk, rate)
            elif level == SOL_SOCKET and optname == SO_LINGER:
                if len(optval) < _LINGER.size:
                    raise sock_errno(errno.EINVAL)
                onoff, linger = _LINGER.unpack_from(optval)
                if not onoff:
                    sk.sock_flags.discard("SOCK_LINGER")
                else:
                    sk.sk_lingertime = min(max(linger, 0), _MAX_LINGER) * HZ
                    sk.sock_flags.add("SOCK_LINGER")
            else:
                sock_setsockopt(sk, level, optname, optval, self._rcvbuf_changed)
        finally:
            self._sync_fd()

    @staticmethod
    def _tcp_set(sk: TcpSock, optname: int, optval: bytes) -> None:
        if optname == TCP_CONGESTION:
            name = optval.split(b"\0", 1)[0].decode(errors="replace")
            tcp_setsockopt(sk, optname, name)
            return
        if optname == TCP_INFO:
            raise sock_errno(errno.ENOPROTOOPT)
        if optname in (TCP_MD5SIG, TCP_MD5SIG_EXT):  # struct tcp_md5sig (RFC 2385)
            tcp_v4_parse_md5_keys(sk, optname, optval)
            return
        if optname == TCP_FASTOPEN_KEY:
            tcp_fastopen_set_key(sk, optval)
            return
        if len(optval) < 4:
            raise sock_errno(errno.EINVAL)
        val: int = _INT.unpack_from(optval)[0]
        tcp_setsockopt(sk, optname, val)

    def getsockopt(self, level: int, optname: int, buflen: int = 0) -> int | bytes:
        """An int, or with ``buflen`` the option's bytes; TCP_INFO is struct tcp_info,
        TCP_CONGESTION the algorithm's name (16 bytes, NUL padded)."""
        sk = self._check()
        if buflen < 0 or buflen > 1024:
            raise OSError("getsockopt buflen out of range")
        value: int | bytes
        if level == SOL_TCP:
            if optname == TCP_INFO:
                value = tcp_info_bytes(tcp_get_info(sk))
            elif optname == TCP_CC_INFO:
                value = tcp_cc_info_bytes(sk)
            elif optname == TCP_FASTOPEN_KEY:
                value = bytes(tcp_fastopen_getsockopt(sk, optname))
            else:
                got = tcp_getsockopt(sk, optname)
                value = (got.encode().ljust(_TCP_CA_NAME_MAX, b"\0")[:_TCP_CA_NAME_MAX]
                         if isinstance(got, str) else got)
        elif level == SOL_SOCKET and optname == SO_MAX_PACING_RATE:
            rate = sk.sk_max_pacing_rate  # sk_getsockopt: ~0U when it does not fit a u32
            value = (struct.pack("=Q", rate) if buflen >= 8 else
                     min(rate, 0xFFFFFFFF) if rate != (1 << 64) - 1 else -1)
        elif level == SOL_SOCKET and optname == SO_ACCEPTCONN:
            value = int(sk.sk_state == TCP_LISTEN)
        elif level == SOL_SOCKET and optname == SO_LINGER:
            value = _LINGER.pack(int("SOCK_LINGER" in sk.sock_flags),
                                 sk.sk_lingertime // HZ)
        else:
            value = sock_getsockopt(sk, level, optname, self._ip_mtu)
        self._sync_fd()
        raw = _INT.pack(value) if isinstance(value, int) else value
        if buflen:
            return raw[:buflen]
        if isinstance(value, int):
            return value
        signed: int = _INT.unpack_from(raw.ljust(4, b"\0"))[0]
        return signed

