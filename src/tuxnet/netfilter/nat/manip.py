"""Rewriting packets for NAT (net/netfilter/nf_nat_proto.c): addresses, ports / ICMP
ids and every checksum that covers them, updated incrementally (RFC 1624 eqn. 3, as
csum_replace4 / inet_proto_csum_replace{2,4}), and the ICMP error translation that
rewrites the quoted datagram too (nf_nat_icmp_reply_translation).

``target`` is a conntrack tuple ``(src, dst, proto, sport, dport)``: a SRC manip puts
its source (address, port) into the packet, a DST manip its destination.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tuxnet.wire.checksum import incremental_update, incremental_update32, internet_checksum

if TYPE_CHECKING:
    from tuxnet.netfilter.conntrack.defs import Tuple
    from tuxnet.skb import SkBuff

__all__ = ["NF_NAT_MANIP_DST", "NF_NAT_MANIP_SRC", "ensure_writable", "nf_nat_ipv4_manip_pkt",
           "recompute_icmp_checksum"]

NF_NAT_MANIP_SRC = 0
NF_NAT_MANIP_DST = 1
CHECKSUM_PARTIAL = 3
CSUM_MANGLED_0 = 0xFFFF
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_ICMP_QUERIES = frozenset({0, 8, 13, 14, 15, 16, 17, 18})


def ensure_writable(skb: SkBuff) -> memoryview:
    """skb_ensure_writable: a private header, then the data view."""
    if skb.header_cloned():
        skb.cow_head(0)
    return skb.data


def _replace(data: memoryview, off: int, old: int, new: int, wide: bool, partial: bool,
             pseudo: bool) -> None:
    """inet_proto_csum_replace2/4 on the checksum at ``off``."""
    check = _U16.unpack_from(data, off)[0]
    upd = incremental_update32 if wide else incremental_update
    if not partial:
        check = upd(check, old, new)
    elif pseudo:  # CHECKSUM_PARTIAL keeps the (uncomplemented) pseudo-header sum
        check = ~upd(~check & 0xFFFF, old, new) & 0xFFFF
    else:
        return
    _U16.pack_into(data, off, check)


def _l4_manip(skb: SkBuff, data: memoryview, iphoff: int, hdroff: int, target: Tuple,
              manip: int) -> bool:
    """l4proto_manip_pkt: tcp/udp/icmp (other protocols carry nothing to change)."""
    proto = target[2]
    avail = len(data) - hdroff
    partial = skb.ip_summed == CHECKSUM_PARTIAL
    if manip == NF_NAT_MANIP_SRC:
        old_ip = _U32.unpack_from(data, iphoff + 12)[0]
        new_ip, new_port, portoff = target[0], target[3], hdroff
    else:
        old_ip = _U32.unpack_from(data, iphoff + 16)[0]
        new_ip, new_port, portoff = target[1], target[4], hdroff + 2
    if proto in (6, 17):
        if avail < 8:
            return False
        old_port = _U16.unpack_from(data, portoff)[0]
        _U16.pack_into(data, portoff, new_port)
        if proto == 6:
            if avail < 20:
                return True  # only the quoted 8 bytes of an ICMP error: no checksum
            coff = hdroff + 16
        else:
            coff = hdroff + 6
            if proto == 17 and not _U16.unpack_from(data, coff)[0] and not partial:
                return True  # UDP without checksum
        _replace(data, coff, old_ip, new_ip, True, partial, True)
        _replace(data, coff, old_port, new_port, False, partial, False)
        if proto == 17 and not _U16.unpack_from(data, coff)[0]:
            _U16.pack_into(data, coff, CSUM_MANGLED_0)
        return True
    if proto == 1:
        if avail < 8:
            return False
        if data[hdroff] not in _ICMP_QUERIES:
            return True
        old_id = _U16.unpack_from(data, hdroff + 4)[0]
        _replace(data, hdroff + 2, old_id, target[3], False, False, False)
        _U16.pack_into(data, hdroff + 4, target[3])
        return True
    return True


def nf_nat_ipv4_manip_pkt(skb: SkBuff, data: memoryview, iphoff: int, target: Tuple,
                          manip: int) -> bool:
    """nf_nat_ipv4_manip_pkt: L4 first (its pseudo-header update reads the old
    address), then the IPv4 address and header checksum."""
    hdroff = iphoff + ((data[iphoff] & 15) << 2)
    if not _l4_manip(skb, data, iphoff, hdroff, target, manip):
        return False
    aoff = iphoff + (12 if manip == NF_NAT_MANIP_SRC else 16)
    new = target[0] if manip == NF_NAT_MANIP_SRC else target[1]
    old = _U32.unpack_from(data, aoff)[0]
    _replace(data, iphoff + 10, old, new, True, False, False)
    _U32.pack_into(data, aoff, new)
    return True


def recompute_icmp_checksum(data: memoryview, hdrlen: int) -> None:
    """The ICMP checksum over the whole message, after its quoted datagram changed."""
    _U16.pack_into(data, hdrlen + 2, 0)
    _U16.pack_into(data, hdrlen + 2, internet_checksum(data[hdrlen:]))
