"""UDP, ICMP and generic connection tracking (net/netfilter/nf_conntrack_proto_udp.c,
nf_conntrack_proto_icmp.c, nf_conntrack_proto_generic.c).

UDP: 30 s while unreplied (nf_conntrack_udp_timeout); once a reply was seen the entry
is a stream after 2 s (stream_ts = 2 * HZ) and gets nf_conntrack_udp_timeout_stream
(120 s) and ASSURED. ICMP: queries (echo, timestamp, info, address mask) create
entries keyed by id, 30 s; an error (RFC 792 types 3, 4, 5, 11, 12) that quotes a
tracked flow is RELATED to it (nf_conntrack_inet_error). Generic: 600 s.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tuxnet.netfilter.conntrack.defs import NfConn, Tuple, invert_tuple
from tuxnet.netfilter.ctseam import (
    IP_CT_IS_REPLY,
    IP_CT_RELATED,
    IPS_ASSURED,
    IPS_CONFIRMED,
    IPS_SEEN_REPLY,
)
from tuxnet.netfilter.hooks import NF_ACCEPT, NF_INET_PRE_ROUTING
from tuxnet.wire.checksum import ones_sum

if TYPE_CHECKING:
    from tuxnet.netfilter.conntrack.core import CtNet
    from tuxnet.skb import SkBuff

__all__ = ["generic_packet", "icmp_error", "icmp_packet", "udp_error", "udp_packet"]

_HZ_NS = 1_000_000_000
UDP_STREAM_NS = 2 * _HZ_NS  # udp_packet: stream_ts = 2 * HZ + jiffies
NR_ICMP_TYPES = 18
ICMP_ERRORS = frozenset({3, 4, 5, 11, 12})  # icmp_is_err
ICMP_VALID_NEW = frozenset({8, 13, 15, 17})  # echo, timestamp, info request, address mask
_IPH = struct.Struct("!BxxxxxHxBxxII")
_PORTS = struct.Struct("!HH")


def _refresh(ct: NfConn, extra_ns: int, now: int) -> None:
    """nf_ct_refresh: relative while unconfirmed, absolute once in the table."""
    ct.timeout = extra_ns + now if ct.status & IPS_CONFIRMED else extra_ns


def _csum_bad(cn: CtNet, skb: SkBuff, data: memoryview, ihl: int, proto: int,
              pseudo: bool) -> bool:
    """nf_checksum on PRE_ROUTING when net.netfilter.nf_conntrack_checksum is on."""
    if skb.ip_summed != 0 or not cn.cfg.checksum:
        return False
    init = 0
    if pseudo:
        init = (int.from_bytes(data[12:16], "big") + int.from_bytes(data[16:20], "big")
                + proto + len(data) - ihl)
    if ones_sum(data[ihl:], init) != 0xFFFF:
        return True
    skb.ip_summed = 1  # CHECKSUM_UNNECESSARY
    return False


def udp_error(cn: CtNet, skb: SkBuff, data: memoryview, ihl: int, hook: int) -> str:
    """udp_error: short / truncated datagrams and bad checksums are invalid."""
    udplen = len(data) - ihl
    if udplen < 8:
        return "short packet"
    ulen, check = _PORTS.unpack_from(data, ihl + 4)
    if ulen > udplen or ulen < 8:
        return "truncated/malformed packet"
    if check and hook == NF_INET_PRE_ROUTING and _csum_bad(cn, skb, data, ihl, 17, True):
        return "bad checksum"
    return ""


def udp_packet(cn: CtNet, ct: NfConn, skb: SkBuff, data: memoryview, ihl: int,
               direction: int, now: int) -> int:
    """nf_conntrack_udp_packet."""
    status = ct.status
    if not status & IPS_CONFIRMED:
        ct.stream_ts = now + UDP_STREAM_NS
    if status & IPS_SEEN_REPLY:
        extra = cn.cfg.udp_timeout
        stream = False
        if now > ct.stream_ts:  # still active after two seconds: a stream
            extra = cn.cfg.udp_timeout_stream
            stream = not status & IPS_ASSURED
        _refresh(ct, extra, now)
        if stream:
            ct.status |= IPS_ASSURED
    else:
        _refresh(ct, cn.cfg.udp_timeout, now)
    return NF_ACCEPT


def generic_packet(cn: CtNet, ct: NfConn, skb: SkBuff, data: memoryview, ihl: int,
                   direction: int, now: int) -> int:
    """generic_packet: any other protocol, keyed by addresses and protocol."""
    _refresh(ct, cn.cfg.generic_timeout, now)
    return NF_ACCEPT


def icmp_packet(cn: CtNet, ct: NfConn, skb: SkBuff, data: memoryview, ihl: int,
                direction: int, now: int) -> int:
    """nf_conntrack_icmp_packet: only a query may create an entry."""
    if (ct.orig[4] >> 8) not in ICMP_VALID_NEW:
        return -NF_ACCEPT
    _refresh(ct, cn.cfg.icmp_timeout, now)
    return NF_ACCEPT


def inner_tuple(data: memoryview, off: int) -> Tuple | None:
    """nf_ct_get_tuplepr on the datagram an ICMP error quotes (at ``off``)."""
    if len(data) < off + 20:
        return None
    vihl, frag_off, proto, saddr, daddr = _IPH.unpack_from(data, off)
    if frag_off & 0x1FFF:
        return None
    l4 = off + ((vihl & 15) << 2)
    if proto in (6, 17):  # the trackers with ports (others are generic)
        if len(data) < l4 + 4:
            return None
        sport, dport = _PORTS.unpack_from(data, l4)
        return (saddr, daddr, proto, sport, dport)
    if proto == 1:
        if len(data) < l4 + 8:
            return None
        return (saddr, daddr, 1, (data[l4 + 4] << 8) | data[l4 + 5],
                (data[l4] << 8) | data[l4 + 1])
    return (saddr, daddr, proto, 0, 0)


def icmp_error(cn: CtNet, skb: SkBuff, data: memoryview, ihl: int, hook: int,
               now: int) -> int:
    """nf_conntrack_icmpv4_error + nf_conntrack_inet_error: NF_ACCEPT to track the
    packet as a query, NF_ACCEPT with skb.nfct set for an error RELATED to a flow, or
    -NF_ACCEPT when it is invalid."""
    if len(data) < ihl + 8:
        return -NF_ACCEPT  # short packet
    if hook == NF_INET_PRE_ROUTING and _csum_bad(cn, skb, data, ihl, 1, False):
        return -NF_ACCEPT  # bad hw icmp checksum
    icmp_type = data[ihl]
    if icmp_type > NR_ICMP_TYPES:
        return -NF_ACCEPT
    if icmp_type not in ICMP_ERRORS:
        return NF_ACCEPT
    orig = inner_tuple(data, ihl + 8)
    if orig is None:
        return -NF_ACCEPT
    if orig[2] == 1 and (orig[4] >> 8) not in (0, 8, 13, 14, 15, 16, 17, 18):
        return -NF_ACCEPT  # nf_ct_invert_tuple fails
    h = cn.lookup(invert_tuple(orig), now)
    if h is None:
        return -NF_ACCEPT
    ct, direction = h
    outer_daddr = int.from_bytes(data[16:20], "big")
    if outer_daddr != ct.tuple(direction)[1]:
        return -NF_ACCEPT  # "outer daddr != inner"
    skb.nfct = ct
    skb.nfctinfo = IP_CT_RELATED + (IP_CT_IS_REPLY if direction else 0)
    return NF_ACCEPT
