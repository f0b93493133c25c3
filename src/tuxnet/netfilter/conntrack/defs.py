"""Connection tracking constants and the entry (struct nf_conn).

Tuples are ``(src, dst, protonum, sport, dport)`` of ints, the shape the seam
(tuxnet.netfilter.ctseam) promises. For ICMP (as struct nf_conntrack_tuple's
``src.u.icmp.id`` / ``dst.u.icmp.{type,code}``) ``sport`` is the echo id and ``dport``
is ``type << 8 | code``; for protocols without ports both are 0.

Constants: include/uapi/linux/netfilter/nf_conntrack_common.h (IPS_*),
include/uapi/linux/netfilter/nf_conntrack_tcp.h (TCP states and flags).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "IPS_DST_NAT_DONE",
    "IPS_DYING",
    "IPS_NAT_DONE_MASK",
    "IPS_NAT_MASK",
    "IPS_SRC_NAT_DONE",
    "IP_CT_DIR_ORIGINAL",
    "IP_CT_DIR_REPLY",
    "NfConn",
    "TcpSeen",
    "TcpState",
    "Tuple",
    "invert_tuple",
]

Tuple = tuple[int, int, int, int, int]

IP_CT_DIR_ORIGINAL = 0
IP_CT_DIR_REPLY = 1
# enum ip_conntrack_status (bits beyond those in ctseam)
IPS_SEQ_ADJUST = 1 << 6
IPS_SRC_NAT_DONE = 1 << 7
IPS_DST_NAT_DONE = 1 << 8
IPS_DYING = 1 << 9
IPS_NAT_MASK = (1 << 5) | (1 << 4)  # IPS_DST_NAT | IPS_SRC_NAT
IPS_NAT_DONE_MASK = IPS_DST_NAT_DONE | IPS_SRC_NAT_DONE

# nf_conntrack_proto_icmp.c invmap: the reply type of each query type
ICMP_INVMAP = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17}


def invert_tuple(t: Tuple) -> Tuple:
    """nf_ct_invert_tuple: swap the ends (ICMP: the reply type, same id and code)."""
    src, dst, proto, sport, dport = t
    if proto == 1:
        inv = ICMP_INVMAP.get(dport >> 8)
        if inv is None:
            return (dst, src, proto, sport, dport)
        return (dst, src, proto, sport, (inv << 8) | (dport & 0xFF))
    return (dst, src, proto, dport, sport)


class TcpSeen:
    """struct ip_ct_tcp_state: what was seen of one direction (window tracking)."""

    __slots__ = ("flags", "td_end", "td_maxack", "td_maxend", "td_maxwin", "td_scale")

    def __init__(self) -> None:
        self.td_end = 0
        self.td_maxend = 0
        self.td_maxwin = 0
        self.td_maxack = 0
        self.td_scale = 0
        self.flags = 0

    def clear(self) -> None:
        self.td_end = self.td_maxend = self.td_maxwin = self.td_maxack = 0
        self.td_scale = self.flags = 0


class TcpState:
    """struct ip_ct_tcp: the tracker's state of one TCP connection."""

    __slots__ = ("last_ack_seen", "last_dir", "last_end", "last_flags", "last_index",
                 "last_seq", "last_win", "last_wscale", "retrans", "seen", "state")

    def __init__(self) -> None:
        self.seen = (TcpSeen(), TcpSeen())
        self.state = 0
        self.last_dir = 0
        self.last_index = 0
        self.last_seq = 0
        self.last_ack_seen = 0  # last_ack of the retransmission check
        self.last_end = 0
        self.last_win = 0
        self.last_wscale = 0
        self.last_flags = 0
        self.retrans = 0


class NfConn:
    """struct nf_conn: both tuples, status bits, mark, timeout and the L4 state.

    ``timeout`` is relative (ns) while the entry is unconfirmed and the absolute expiry
    time on the host's clock once confirmed (ct->timeout: relative jiffies until
    __nf_conntrack_confirm adds nfct_time_stamp).
    """

    __slots__ = (
        "acct",
        "ct_id",
        "mark",
        "masq_index",
        "net",
        "orig",
        "proto",
        "reply",
        "status",
        "stream_ts",
        "tcp",
        "timeout",
        "use",
        "zone",
    )

    def __init__(self, net: Any, orig: Tuple, reply: Tuple, ct_id: int) -> None:
        self.net = net
        self.orig = orig
        self.reply = reply
        self.proto = orig[2]
        self.status = 0
        self.mark = 0
        self.timeout = 0
        self.tcp: TcpState | None = None
        self.stream_ts = 0  # UDP: when the flow counts as a stream (ns)
        self.masq_index = 0
        self.use = 1
        self.zone = 0
        self.ct_id = ct_id
        # nf_conn_acct: [packets, bytes] of each direction when nf_conntrack_acct was on
        # at creation (nf_ct_acct_ext_add), else None
        self.acct: list[int] | None = None

    def __repr__(self) -> str:
        return f"<NfConn {self.orig} -> {self.reply} status={self.status:#x}>"

    def tuple(self, direction: int) -> Tuple:
        """ct->tuplehash[direction].tuple."""
        return self.reply if direction else self.orig
