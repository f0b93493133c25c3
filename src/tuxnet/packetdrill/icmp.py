"""Inbound ICMP lines (``< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]``):
packetdrill's icmp_packet.c builds an ICMP error quoting one of the local stack's TCP
segments (the echoed IPv4 header and TCP header, sequence number mapped to live)."""

from __future__ import annotations

import struct

from tuxnet.packetdrill.packet import PacketError
from tuxnet.wire.checksum import ones_sum

__all__ = ["ICMP_TYPES", "build_icmp_error"]

# icmp_packet.c: the ICMPv4 type and code names
ICMP_TYPES = {"unreachable": 3, "source_quench": 4, "time_exceeded": 11,
              "parameter_problem": 12}
ICMP_UNREACH_CODES = {
    "net_unreachable": 0, "host_unreachable": 1, "protocol_unreachable": 2,
    "port_unreachable": 3, "frag_needed": 4, "source_route_failed": 5,
    "net_unknown": 6, "host_unknown": 7, "source_host_isolated": 8,
    "net_prohibited": 9, "host_prohibited": 10, "net_unreachable_for_tos": 11,
    "host_unreachable_for_tos": 12, "packet_filtered": 13, "precedence_violation": 14,
    "precedence_cutoff": 15,
}
_IPV4 = struct.Struct("!BBHHHBBH4s4s")


def build_icmp_error(src: bytes, dst: bytes, itype: str, icode: str, mtu: int | None,
                     inner_src: bytes, inner_dst: bytes, sport: int, dport: int, seq: int,
                     ack: int, flags: int, payload_len: int) -> bytes:
    """An IPv4 ICMP error from ``src`` to ``dst`` quoting the IPv4 header and TCP header
    of a segment ``inner_src:sport -> inner_dst:dport`` (RFC 792; RFC 1191 next-hop
    MTU for frag_needed)."""
    t = ICMP_TYPES.get(itype)
    if t is None:
        raise PacketError(f"unsupported: icmp type {itype}")
    code = 0
    if icode:
        if t != 3 or icode not in ICMP_UNREACH_CODES:
            raise PacketError(f"unsupported: icmp code {icode}")
        code = ICMP_UNREACH_CODES[icode]
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags & 0xFF, 0, 0, 0)
    inner = bytearray(_IPV4.pack(0x45, 0, 20 + 20 + payload_len, 0, 0x4000, 64, 6, 0,
                                 inner_src, inner_dst))
    struct.pack_into("!H", inner, 10, ~ones_sum(inner) & 0xFFFF)
    body = bytes(inner) + tcp
    icmp = bytearray(struct.pack("!BBHI", t, code, 0, mtu or 0) + body)
    struct.pack_into("!H", icmp, 2, ~ones_sum(icmp) & 0xFFFF)
    tot = 20 + len(icmp)
    ip = bytearray(_IPV4.pack(0x45, 0xC0, tot, 0, 0, 64, 1, 0, src, dst))
    struct.pack_into("!H", ip, 10, ~ones_sum(ip) & 0xFFFF)
    return bytes(ip + icmp)
