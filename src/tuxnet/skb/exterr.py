"""The socket error queue's skbs (net/core/skbuff.c: sock_queue_err_skb,
sock_dequeue_err_skb; include/linux/errqueue.h: struct sock_exterr_skb;
include/uapi/linux/errqueue.h: struct sock_extended_err, SO_EE_*).

Zerocopy completions (skb/zcopy.py) and transmit timestamps (skb/tstamp.py) reach the
application as skbs on ``sk.sk_error_queue`` whose ``cb`` is a :class:`SockExterrSkb`;
``recvmsg(MSG_ERRQUEUE)`` (socket/errqueue.py: ip_recv_error) dequeues them. Queued
skbs are charged to ``sk_rmem_alloc`` like received data (sock_rmem_free gives it
back), and each queueing wakes the socket (sk_error_report: EPOLLERR).

``sk`` is duck-typed: a :class:`tuxnet.socket.core.Sock` (sk_error_queue,
sk_rmem_alloc, sk_rcvbuf, sk_err, sock_flags, sk_error_report).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuxnet.skb.defs import PACKET_OUTGOING

if TYPE_CHECKING:
    from tuxnet.skb.buff import SkBuff

__all__ = [
    "SO_EE_CODE_ZEROCOPY_COPIED",
    "SO_EE_ORIGIN_ICMP",
    "SO_EE_ORIGIN_LOCAL",
    "SO_EE_ORIGIN_NONE",
    "SO_EE_ORIGIN_TIMESTAMPING",
    "SO_EE_ORIGIN_ZEROCOPY",
    "SockExtendedErr",
    "SockExterrSkb",
    "sock_dequeue_err_skb",
    "sock_queue_err_skb",
]

# include/uapi/linux/errqueue.h
SO_EE_ORIGIN_NONE = 0
SO_EE_ORIGIN_LOCAL = 1
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
SO_EE_ORIGIN_TXSTATUS = 4
SO_EE_ORIGIN_ZEROCOPY = 5
SO_EE_ORIGIN_TXTIME = 6
SO_EE_ORIGIN_TIMESTAMPING = SO_EE_ORIGIN_TXSTATUS
SO_EE_CODE_ZEROCOPY_COPIED = 1


@dataclass(slots=True)
class SockExtendedErr:
    """struct sock_extended_err (u32 errno, u8 origin/type/code, u8 pad, u32 info,
    u32 data)."""

    ee_errno: int = 0
    ee_origin: int = 0
    ee_type: int = 0
    ee_code: int = 0
    ee_info: int = 0
    ee_data: int = 0


@dataclass(slots=True)
class SockExterrSkb:
    """struct sock_exterr_skb (the skb's cb on the error queue): the extended error,
    the offender's address offset and port (ICMP errors), opt_stats."""

    ee: SockExtendedErr
    addr_offset: int = 0
    port: int = 0
    opt_stats: bool = False
    iif: int = 0

    def copy(self) -> SockExterrSkb:
        e = self.ee
        return SockExterrSkb(SockExtendedErr(e.ee_errno, e.ee_origin, e.ee_type,
                                             e.ee_code, e.ee_info, e.ee_data),
                             self.addr_offset, self.port, self.opt_stats, self.iif)


def _sock_rmem_free(skb: SkBuff) -> None:
    """sock_rmem_free(): the error skb's truesize leaves sk_rmem_alloc."""
    sk = skb.sk
    if sk is not None:
        sk.sk_rmem_alloc -= skb.truesize


def sock_queue_err_skb(sk: Any, skb: SkBuff) -> int:
    """sock_queue_err_skb(): queue ``skb`` (cb = SockExterrSkb) on the error queue,
    charged to the receive buffer; -ENOMEM when sk_rcvbuf is full. Wakes the socket."""
    if sk.sk_rmem_alloc + skb.truesize >= sk.sk_rcvbuf:
        return -errno.ENOMEM
    skb.orphan()
    skb.sk = sk
    skb.destructor = _sock_rmem_free
    sk.sk_rmem_alloc += skb.truesize
    skb.pkt_type = PACKET_OUTGOING  # skb_set_err_queue
    sk.sk_error_queue.append(skb)
    if "SOCK_DEAD" not in sk.sock_flags:
        sk.sk_error_report()
    return 0


def _is_icmp_err_skb(skb: SkBuff | None) -> bool:
    """is_icmp_err_skb(): an ICMP/ICMPv6 error rather than a completion or stamp."""
    if skb is None:
        return False
    cb = skb.cb
    return isinstance(cb, SockExterrSkb) and cb.ee.ee_origin in (SO_EE_ORIGIN_ICMP,
                                                                 SO_EE_ORIGIN_ICMP6)


def sock_dequeue_err_skb(sk: Any) -> SkBuff | None:
    """sock_dequeue_err_skb(): the oldest error skb (None when the queue is empty);
    sk_err follows a queued ICMP error; a non-empty remainder wakes the socket again."""
    q = sk.sk_error_queue
    if not q:
        return None
    skb: SkBuff = q.popleft()
    nxt = q[0] if q else None
    icmp_next = _is_icmp_err_skb(nxt)
    if icmp_next:
        assert nxt is not None
        sk.sk_err = nxt.cb.ee.ee_errno
    if _is_icmp_err_skb(skb) and not icmp_next:
        sk.sk_err = 0
    if nxt is not None:
        sk.sk_error_report()
    return skb
