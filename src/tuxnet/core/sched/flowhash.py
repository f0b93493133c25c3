"""skb_get_hash for the qdiscs (include/linux/skbuff.h, net/core/flow_dissector.c).

Returns ``skb.hash`` when a driver (RSS) or the stack already set it. Otherwise a
small IPv4 flow dissector reads the addresses, protocol and (for unfragmented
TCP/UDP/SCTP/UDP-Lite) ports, and the hash is stored back with ``sw_hash`` set, as
__skb_get_hash does. Linux hashes with jhash and a boot-time random seed; tuxnet uses
CRC-32 of the same keys so runs stay reproducible. IPv6 and tunnels are not
dissected yet (#3): such packets hash to 0 (one orphan flow).
"""

from __future__ import annotations

import struct
import zlib

from tuxnet.skb import SkBuff

__all__ = ["skb_get_hash"]

ETH_HLEN = 14
ETH_P_IP = 0x0800
_PORTED = frozenset((6, 17, 132, 136))  # TCP, UDP, SCTP, UDP-Lite
_KEYS = struct.Struct("!IIBHH")


def _dissect(buf: memoryview) -> tuple[int, bool]:
    """flow_dissector for one IPv4 header at buf[0]: (hash, has L4 ports)."""
    if len(buf) < 20 or buf[0] >> 4 != 4:
        return 0, False
    ihl = (buf[0] & 0x0F) * 4
    if ihl < 20 or len(buf) < ihl:
        return 0, False
    proto = buf[9]
    saddr, daddr = struct.unpack_from("!II", buf, 12)
    frag = struct.unpack_from("!H", buf, 6)[0] & 0x3FFF  # MF or an offset
    sport = dport = 0
    ported = proto in _PORTED and not frag and len(buf) >= ihl + 4
    if ported:
        sport, dport = struct.unpack_from("!HH", buf, ihl)
    # __flow_hash_consistentify: order the endpoints so both directions agree
    if (daddr, dport) < (saddr, sport):
        saddr, daddr, sport, dport = daddr, saddr, dport, sport
    h = zlib.crc32(_KEYS.pack(saddr, daddr, proto, sport, dport))
    return (h or 1), ported  # __flow_hash_from_keys: a hash of 0 becomes 1


def skb_get_hash(skb: SkBuff) -> int:
    """skb_get_hash: skb->hash, computing (and caching) it on first use."""
    h: int = skb.hash
    if h:
        return h
    data = skb.data
    nh = skb.network_header - skb.data_off
    ported = False
    if 0 <= nh < len(data):
        h, ported = _dissect(data[nh:])
    if not h and len(data) >= ETH_HLEN + 20 and data[12] == 0x08 and data[13] == 0x00:
        h, ported = _dissect(data[ETH_HLEN:])
    if h:
        skb.hash = h
        skb.sw_hash = True
        skb.l4_hash = ported
    return h
