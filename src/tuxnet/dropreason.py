"""Drop reasons with Linux's names (include/net/dropreason-core.h, enum skb_drop_reason).

Every dropped packet in tuxnet carries one of these; ``Host.kfree_skb`` counts it and
emits it on the ``skb:kfree_skb`` tracepoint. Values follow the kernel's enum order
(SKB_NOT_DROPPED_YET = 0, SKB_CONSUMED = 1, then the DEFINE_DROP_REASON list).
"""

from __future__ import annotations

import enum


class SkbDropReason(enum.IntEnum):
    """enum skb_drop_reason; ``str(r)`` gives the kernel's full SKB_DROP_REASON_* name."""

    NOT_DROPPED_YET = 0
    CONSUMED = 1
    NOT_SPECIFIED = 2
    NO_SOCKET = enum.auto()
    PKT_TOO_SMALL = enum.auto()
    TCP_CSUM = enum.auto()
    SOCKET_FILTER = enum.auto()
    UDP_CSUM = enum.auto()
    NETFILTER_DROP = enum.auto()
    OTHERHOST = enum.auto()
    IP_CSUM = enum.auto()
    IP_INHDR = enum.auto()
    IP_RPFILTER = enum.auto()
    UNICAST_IN_L2_MULTICAST = enum.auto()
    XFRM_POLICY = enum.auto()
    IP_NOPROTO = enum.auto()
    SOCKET_RCVBUFF = enum.auto()
    PROTO_MEM = enum.auto()
    TCP_AUTH_HDR = enum.auto()
    TCP_MD5NOTFOUND = enum.auto()
    TCP_MD5UNEXPECTED = enum.auto()
    TCP_MD5FAILURE = enum.auto()
    TCP_AONOTFOUND = enum.auto()
    TCP_AOUNEXPECTED = enum.auto()
    TCP_AOKEYNOTFOUND = enum.auto()
    TCP_AOFAILURE = enum.auto()
    SOCKET_BACKLOG = enum.auto()
    TCP_FLAGS = enum.auto()
    TCP_ZEROWINDOW = enum.auto()
    TCP_OLD_DATA = enum.auto()
    TCP_OVERWINDOW = enum.auto()
    TCP_OFOMERGE = enum.auto()
    TCP_RFC7323_PAWS = enum.auto()
    TCP_OLD_SEQUENCE = enum.auto()
    TCP_INVALID_SEQUENCE = enum.auto()
    TCP_RESET = enum.auto()
    TCP_INVALID_SYN = enum.auto()
    TCP_CLOSE = enum.auto()
    TCP_FASTOPEN = enum.auto()
    TCP_OLD_ACK = enum.auto()
    TCP_TOO_OLD_ACK = enum.auto()
    TCP_ACK_UNSENT_DATA = enum.auto()
    TCP_OFO_QUEUE_PRUNE = enum.auto()
    TCP_OFO_DROP = enum.auto()
    IP_OUTNOROUTES = enum.auto()
    BPF_CGROUP_EGRESS = enum.auto()
    IPV6DISABLED = enum.auto()
    NEIGH_CREATEFAIL = enum.auto()
    NEIGH_FAILED = enum.auto()
    NEIGH_QUEUEFULL = enum.auto()
    NEIGH_DEAD = enum.auto()
    TC_EGRESS = enum.auto()
    QDISC_DROP = enum.auto()
    CPU_BACKLOG = enum.auto()
    XDP = enum.auto()
    TC_INGRESS = enum.auto()
    UNHANDLED_PROTO = enum.auto()
    SKB_CSUM = enum.auto()
    SKB_GSO_SEG = enum.auto()
    SKB_UCOPY_FAULT = enum.auto()
    DEV_HDR = enum.auto()
    DEV_READY = enum.auto()
    FULL_RING = enum.auto()
    NOMEM = enum.auto()
    HDR_TRUNC = enum.auto()
    TAP_FILTER = enum.auto()
    TAP_TXFILTER = enum.auto()
    ICMP_CSUM = enum.auto()
    INVALID_PROTO = enum.auto()
    IP_INADDRERRORS = enum.auto()
    IP_INNOROUTES = enum.auto()
    PKT_TOO_BIG = enum.auto()
    DUP_FRAG = enum.auto()
    FRAG_REASM_TIMEOUT = enum.auto()
    FRAG_TOO_FAR = enum.auto()
    TCP_MINTTL = enum.auto()
    IPV6_BAD_EXTHDR = enum.auto()
    IPV6_NDISC_FRAG = enum.auto()
    IPV6_NDISC_HOP_LIMIT = enum.auto()
    IPV6_NDISC_BAD_CODE = enum.auto()
    IPV6_NDISC_BAD_OPTIONS = enum.auto()
    IPV6_NDISC_NS_OTHERHOST = enum.auto()
    QUEUE_PURGE = enum.auto()
    TC_COOKIE_ERROR = enum.auto()
    PACKET_SOCK_ERROR = enum.auto()
    TC_CHAIN_NOTFOUND = enum.auto()
    TC_RECLASSIFY_LOOP = enum.auto()

    @property
    def kernel_name(self) -> str:
        """The enum constant's full name (``SKB_DROP_REASON_IP_CSUM``); the skb:kfree_skb
        tracepoint prints the bare name (``IP_CSUM``), which is ``self.name``."""
        if self.value <= 1:
            return "SKB_" + self.name
        return "SKB_DROP_REASON_" + self.name

    def __str__(self) -> str:
        return self.kernel_name
