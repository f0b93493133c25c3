"""TCP urgent data on the receive side (net/ipv4/tcp_input.c: tcp_check_urg, tcp_urg;
net/ipv4/tcp.c: tcp_recv_urg and the urgent-mark rules of tcp_recvmsg_locked and
tcp_read_sock; RFC 9293 3.8.5, RFC 6093).

The peer's urgent pointer marks one byte (Linux's default, tcp_stdurg = 0: the byte
before seq + urg_ptr). Unless SO_OOBINLINE is set, that byte is taken out of the
stream: readers stop at it (a read never crosses the mark), step over it, and
``recv(MSG_OOB)`` returns it. ``sk.urg_data`` holds TCP_URG_NOTYET until the byte
arrived, then TCP_URG_VALID | the byte, TCP_URG_READ once read out of band;
``sk.urg_seq`` is its sequence number.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from tuxnet.socket.core import sock_errno
from tuxnet.tcp.defs import RCV_SHUTDOWN, TCP_CLOSE, TCPHDR_URG
from tuxnet.tcp.seq import after, before
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["TCP_URG_NOTYET", "TCP_URG_READ", "TCP_URG_VALID", "tcp_recv_urg",
           "tcp_urg", "tcp_urg_consumed", "urg_limit"]

TCP_URG_VALID = 0x0100
TCP_URG_NOTYET = 0x0200
TCP_URG_READ = 0x0400
_M32 = 0xFFFFFFFF
_U16 = struct.Struct("!H")


def _tcp_check_urg(sk: TcpSock, seq: int, urg_ptr: int) -> None:
    """tcp_check_urg(): a new urgent pointer (the mark moves forward only)."""
    ptr = urg_ptr
    if ptr and not sk.net.sysctl("tcp_stdurg"):
        ptr -= 1
    ptr = (ptr + seq) & _M32
    if after(sk.copied_seq, ptr):
        return  # urgent data we have already seen and read
    if before(ptr, sk.rcv_nxt):
        return  # do not replay an urgent pointer
    if sk.urg_data and not after(ptr, sk.urg_seq):
        return  # we already have a newer (or the same) urgent pointer
    if (sk.urg_seq == sk.copied_seq and sk.urg_data
            and "SOCK_URGINLINE" not in sk.sock_flags and sk.copied_seq != sk.rcv_nxt):
        # the last byte read was urgent: step over it before the new mark
        sk.copied_seq = (sk.copied_seq + 1) & _M32
        q = sk.sk_receive_queue
        if q and not before(sk.copied_seq, tcp_cb(q[0]).end_seq):
            skb = q.popleft()
            sk.sk_rmem_alloc -= skb.truesize
            skb.free()
    sk.urg_data = TCP_URG_NOTYET
    sk.urg_seq = ptr
    sk.pred_flags = 0  # header prediction off while urgent data is pending


def tcp_urg(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_urg(): note the segment's urgent pointer; once the urgent byte is in this
    segment, keep it (TCP_URG_VALID | byte) and wake readers. ``skb.data`` is at the
    TCP header."""
    cb = tcp_cb(skb)
    if cb.tcp_flags & TCPHDR_URG:
        _tcp_check_urg(sk, cb.seq, _U16.unpack_from(skb.data, 18)[0])
    if sk.urg_data == TCP_URG_NOTYET:
        syn = 1 if cb.tcp_flags & 0x02 else 0
        ptr = ((sk.urg_seq - cb.seq) & _M32) + cb.hdr_len - syn
        if ptr < skb.len:
            sk.urg_data = TCP_URG_VALID | skb.data[ptr]
            if "SOCK_DEAD" not in sk.sock_flags:
                sk.sk_data_ready()


def urg_limit(sk: TcpSock, seq: int, length: int) -> tuple[int, int]:
    """The urgent-mark rule of a read of ``length`` bytes at ``seq``: (bytes to skip
    first, bytes that may be read after them). At the mark the urgent byte is skipped
    (kept in line with SO_OOBINLINE); before it, the read stops at the mark."""
    if not sk.urg_data:
        return 0, length
    off = (sk.urg_seq - seq) & _M32
    if off >= length:
        return 0, length
    if off:
        return 0, off
    if "SOCK_URGINLINE" in sk.sock_flags:
        return 0, length
    return 1, length - 1


def tcp_urg_consumed(sk: TcpSock) -> None:
    """The mark is behind the reader: urgent state ends (tcp_fast_path_check follows)."""
    if sk.urg_data and after(sk.copied_seq, sk.urg_seq):
        sk.urg_data = 0


def tcp_recv_urg(sk: TcpSock, size: int, peek: bool) -> bytes:
    """tcp_recv_urg(): recv(MSG_OOB) -- the urgent byte, at most once; EINVAL when
    there is none (or it is read in line), EAGAIN while it has not arrived."""
    if "SOCK_URGINLINE" in sk.sock_flags or not sk.urg_data or \
            sk.urg_data == TCP_URG_READ:
        raise sock_errno(errno.EINVAL)
    if sk.sk_state == TCP_CLOSE and "SOCK_DONE" not in sk.sock_flags:
        raise sock_errno(errno.ENOTCONN)
    if sk.urg_data & TCP_URG_VALID:
        c = sk.urg_data & 0xFF
        if not peek:
            sk.urg_data = TCP_URG_READ
        return bytes([c]) if size > 0 else b""
    if sk.sk_state == TCP_CLOSE or sk.sk_shutdown & RCV_SHUTDOWN:
        return b""
    raise sock_errno(errno.EAGAIN)  # never blocks, whatever the socket's mode
