"""Drop reasons with Linux's names (include/net/dropreason-core.h, enum skb_drop_reason).

Every dropped packet in tuxnet carries one of these; ``Host.kfree_skb`` counts it and
emits it on the ``skb:kfree_skb`` tracepoint. Values follow the kernel's enum order
(SKB_NOT_DROPPED_YET = 0, SKB_CONSUMED = 1, then the DEFINE_DROP_REASON list), entry for
entry as in Linux 6.18 (v6.18's dropreason-core.h, blob 58d91ccc56e0: the list as of 6.17,
ending at DUALPI2_STEP_DROP, plus PSP_INPUT and PSP_OUTPUT from the PSP series merged for
6.18; the next change is QDISC_BURST_DROP in 6.19-rc). So a number read from a 6.18
kernel's skb:kfree_skb raw ``reason`` field or a BPF program maps to the same name here.
"""

from __future__ import annotations

import enum


class SkbDropReason(enum.IntEnum):
    """enum skb_drop_reason; ``str(r)`` gives the kernel's full SKB_DROP_REASON_* name."""

    NOT_DROPPED_YET = 0
    CONSUMED = 1
    NOT_SPECIFIED = 2
    NO_SOCKET = enum.auto()
    SOCKET_CLOSE = enum.auto()
    SOCKET_FILTER = enum.auto()
    SOCKET_RCVBUFF = enum.auto()
    UNIX_DISCONNECT = enum.auto()
    UNIX_SKIP_OOB = enum.auto()
    PKT_TOO_SMALL = enum.auto()
    TCP_CSUM = enum.auto()
    UDP_CSUM = enum.auto()
    NETFILTER_DROP = enum.auto()
    OTHERHOST = enum.auto()
    IP_CSUM = enum.auto()
    IP_INHDR = enum.auto()
    IP_RPFILTER = enum.auto()
    UNICAST_IN_L2_MULTICAST = enum.auto()
    XFRM_POLICY = enum.auto()
    IP_NOPROTO = enum.auto()
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
    TCP_ABORT_ON_DATA = enum.auto()
    TCP_ZEROWINDOW = enum.auto()
    TCP_OLD_DATA = enum.auto()
    TCP_OVERWINDOW = enum.auto()
    TCP_OFOMERGE = enum.auto()
    TCP_RFC7323_PAWS = enum.auto()
    TCP_RFC7323_PAWS_ACK = enum.auto()
    TCP_RFC7323_TW_PAWS = enum.auto()
    TCP_RFC7323_TSECR = enum.auto()
    TCP_LISTEN_OVERFLOW = enum.auto()
    TCP_OLD_SEQUENCE = enum.auto()
    TCP_INVALID_SEQUENCE = enum.auto()
    TCP_INVALID_END_SEQUENCE = enum.auto()
    TCP_INVALID_ACK_SEQUENCE = enum.auto()
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
    NEIGH_HH_FILLFAIL = enum.auto()
    TC_EGRESS = enum.auto()
    SECURITY_HOOK = enum.auto()
    QDISC_DROP = enum.auto()
    QDISC_OVERLIMIT = enum.auto()
    QDISC_CONGESTED = enum.auto()
    CAKE_FLOOD = enum.auto()
    FQ_BAND_LIMIT = enum.auto()
    FQ_HORIZON_LIMIT = enum.auto()
    FQ_FLOW_LIMIT = enum.auto()
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
    IP_LOCAL_SOURCE = enum.auto()
    IP_INVALID_SOURCE = enum.auto()
    IP_LOCALNET = enum.auto()
    IP_INVALID_DEST = enum.auto()
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
    VXLAN_INVALID_HDR = enum.auto()
    VXLAN_VNI_NOT_FOUND = enum.auto()
    MAC_INVALID_SOURCE = enum.auto()
    VXLAN_ENTRY_EXISTS = enum.auto()
    NO_TX_TARGET = enum.auto()
    IP_TUNNEL_ECN = enum.auto()
    TUNNEL_TXINFO = enum.auto()
    LOCAL_MAC = enum.auto()
    ARP_PVLAN_DISABLE = enum.auto()
    MAC_IEEE_MAC_CONTROL = enum.auto()
    BRIDGE_INGRESS_STP_STATE = enum.auto()
    CAN_RX_INVALID_FRAME = enum.auto()
    CANFD_RX_INVALID_FRAME = enum.auto()
    CANXL_RX_INVALID_FRAME = enum.auto()
    PFMEMALLOC = enum.auto()
    DUALPI2_STEP_DROP = enum.auto()
    PSP_INPUT = enum.auto()
    PSP_OUTPUT = enum.auto()

    @property
    def kernel_name(self) -> str:
        """The enum constant's full name (``SKB_DROP_REASON_IP_CSUM``); the skb:kfree_skb
        tracepoint prints the bare name (``IP_CSUM``), which is ``self.name``."""
        if self.value <= 1:
            return "SKB_" + self.name
        return "SKB_DROP_REASON_" + self.name

    def __str__(self) -> str:
        return self.kernel_name
