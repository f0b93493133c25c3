"""The socket side of the error queue: ``recvmsg(MSG_ERRQUEUE)`` (net/ipv4/ip_sockglue.c:
ip_recv_error; net/socket.c: __sock_recv_timestamp; net/core/scm.c: put_cmsg), and the
options that fill the queue (net/core/sock.c: sk_setsockopt SO_ZEROCOPY,
sock_set_timestamping).

A report comes back the way Python's ``socket.recvmsg`` returns one:
``(data, ancdata, msg_flags, address)`` where ancdata is a list of
``(cmsg_level, cmsg_type, bytes)``: an SCM_TIMESTAMPING struct scm_timestamping (three
struct timespec; [0] the software stamp) when the socket asked for software reports,
then IP_RECVERR with struct sock_extended_err followed by the offender's struct
sockaddr_in. ``data`` is the report's copy of the packet (empty for zerocopy
completions and OPT_TSONLY stamps), MSG_TRUNC when it did not fit ``bufsize``.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from tuxnet.skb.exterr import SO_EE_ORIGIN_ICMP, SockExterrSkb, sock_dequeue_err_skb
from tuxnet.skb.tstamp import (
    SOF_TIMESTAMPING_BIND_PHC,
    SOF_TIMESTAMPING_MASK,
    SOF_TIMESTAMPING_OPT_ID,
    SOF_TIMESTAMPING_OPT_ID_TCP,
    SOF_TIMESTAMPING_OPT_STATS,
    SOF_TIMESTAMPING_OPT_TSONLY,
    SOF_TIMESTAMPING_SOFTWARE,
)
from tuxnet.socket.consts import (
    AF_INET,
    IP_RECVERR,
    IPPROTO_TCP,
    IPPROTO_UDP,
    MSG_CTRUNC,
    MSG_ERRQUEUE,
    MSG_TRUNC,
    SCM_TIMESTAMPING,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOL_IP,
    SOL_SOCKET,
)
from tuxnet.socket.core import sock_errno

if TYPE_CHECKING:
    from tuxnet.socket.core import Sock

__all__ = ["Ancdata", "RecvMsg", "cmsg_space", "ip_recv_error", "pack_sock_extended_err",
           "sock_set_timestamping", "sock_set_zerocopy"]

Ancdata = list[tuple[int, int, bytes]]
RecvMsg = tuple[bytes, Ancdata, int, None]

_EE = struct.Struct("=IBBBBII")  # struct sock_extended_err
_SOCKADDR_IN = struct.Struct("=H2s4s8x")  # family, port (be), addr (be), zero
_TIMESPEC3 = struct.Struct("=qqqqqq")  # struct scm_timestamping: ts[3]
_CMSGHDR = 16  # sizeof(struct cmsghdr) on 64-bit, CMSG_ALIGN'd
_TCPF_CLOSE_LISTEN = (1 << 7) | (1 << 10)


def _cmsg_align(n: int) -> int:
    return (n + 7) & ~7


def cmsg_space(n: int) -> int:
    """CMSG_SPACE(n): a control message of ``n`` data bytes, padded."""
    return _CMSGHDR + _cmsg_align(n)


def pack_sock_extended_err(cb: SockExterrSkb, offender: bytes = b"") -> bytes:
    """struct { struct sock_extended_err ee; struct sockaddr_in offender; } as
    ip_recv_error copies it (offender zeroed unless filled in)."""
    e = cb.ee
    head = _EE.pack(e.ee_errno, e.ee_origin, e.ee_type, e.ee_code, 0, e.ee_info,
                    e.ee_data)
    return head + (offender or bytes(_SOCKADDR_IN.size))


class _Control:
    """msg_control of ``size`` bytes that put_cmsg() fills (MSG_CTRUNC when full)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.items: Ancdata = []
        self.flags = 0

    def put(self, level: int, ctype: int, data: bytes) -> None:
        """put_cmsg(): a full cmsg, or as much as fits (at least the header)."""
        need = _CMSGHDR + len(data)
        if self.left < need:
            self.flags |= MSG_CTRUNC
            if self.left < _CMSGHDR:
                return
            data = data[:self.left - _CMSGHDR]
            need = self.left
        self.items.append((level, ctype, data))
        self.left = max(self.left - _cmsg_align(need), 0)


def _recv_timestamp(sk: Sock, tstamp_ns: int, ctl: _Control) -> None:
    """__sock_recv_timestamp() for an error-queue skb: the software stamp in
    SCM_TIMESTAMPING when SOF_TIMESTAMPING_SOFTWARE reports are on."""
    # (RX_SOFTWARE or skb_is_err_queue or not OPT_RX_FILTER) holds on the error queue
    if not (sk.sk_tsflags & SOF_TIMESTAMPING_SOFTWARE and tstamp_ns):
        return
    sec, nsec = divmod(tstamp_ns, 1_000_000_000)
    ctl.put(SOL_SOCKET, SCM_TIMESTAMPING, _TIMESPEC3.pack(sec, nsec, 0, 0, 0, 0))


def ip_recv_error(sk: Sock, bufsize: int, ancbufsize: int) -> RecvMsg:
    """ip_recv_error(): dequeue one report (EAGAIN when there is none)."""
    skb = sock_dequeue_err_skb(sk)
    if skb is None:
        raise sock_errno(errno.EAGAIN)
    flags = MSG_ERRQUEUE
    copied = skb.len
    if copied > bufsize:
        flags |= MSG_TRUNC
        copied = bufsize
    data = skb.copy_bits(0, copied) if copied else b""
    ctl = _Control(ancbufsize)
    _recv_timestamp(sk, skb.tstamp, ctl)
    cb = skb.cb
    assert isinstance(cb, SockExterrSkb)
    offender = b""
    if cb.ee.ee_origin == SO_EE_ORIGIN_ICMP and cb.addr_offset:
        # ipv4_datagram_support_cmsg: the ICMP sender, from the quoting IPv4 header
        nh = skb.skb_network_header()
        offender = _SOCKADDR_IN.pack(AF_INET, b"\0\0", bytes(nh[12:16]))
    ctl.put(SOL_IP, IP_RECVERR, pack_sock_extended_err(cb, offender))
    skb.free()  # consume_skb
    return data, ctl.items, flags | ctl.flags, None


def sock_set_zerocopy(sk: Sock, val: int) -> None:
    """sk_setsockopt(SO_ZEROCOPY): TCP and UDP sockets only, 0 or 1
    (sock_valbool_flag SOCK_ZEROCOPY)."""
    tcp = sk.sk_type == SOCK_STREAM and sk.sk_protocol == IPPROTO_TCP
    udp = sk.sk_type == SOCK_DGRAM and sk.sk_protocol == IPPROTO_UDP
    if not (tcp or udp):
        raise sock_errno(errno.EOPNOTSUPP)
    if val < 0 or val > 1:
        raise sock_errno(errno.EINVAL)
    if val:
        sk.sock_flags.add("SOCK_ZEROCOPY")
    else:
        sk.sock_flags.discard("SOCK_ZEROCOPY")


def sock_set_timestamping(sk: Sock, val: int) -> None:
    """sock_set_timestamping(): validate and store the SOF_TIMESTAMPING_* flags; the
    first OPT_ID on a TCP socket starts the byte key at snd_una (write_seq with
    OPT_ID_TCP). Binding to a PHC needs a hardware clock tuxnet devices lack."""
    if val & ~SOF_TIMESTAMPING_MASK:
        raise sock_errno(errno.EINVAL)
    if val & SOF_TIMESTAMPING_OPT_ID_TCP and not val & SOF_TIMESTAMPING_OPT_ID:
        raise sock_errno(errno.EINVAL)
    if val & SOF_TIMESTAMPING_OPT_ID and not sk.sk_tsflags & SOF_TIMESTAMPING_OPT_ID:
        if sk.sk_type == SOCK_STREAM and sk.sk_protocol == IPPROTO_TCP:
            if (1 << sk.sk_state) & _TCPF_CLOSE_LISTEN:
                raise sock_errno(errno.EINVAL)
            key: int = getattr(sk, "write_seq" if val & SOF_TIMESTAMPING_OPT_ID_TCP
                               else "snd_una")
            sk.sk_tskey = key
        else:
            sk.sk_tskey = 0
    if val & SOF_TIMESTAMPING_OPT_STATS and not val & SOF_TIMESTAMPING_OPT_TSONLY:
        raise sock_errno(errno.EINVAL)
    if val & SOF_TIMESTAMPING_BIND_PHC:
        raise sock_errno(errno.EINVAL)  # sock_timestamping_bind_phc: no PHC device
    sk.sk_tsflags = val
