"""Whole-frame builders: Ethernet + IPv4 + TCP/UDP/ICMP (or ARP) packed in one pass
into a bytearray with optional headroom, checksums filled (the sk_buff way: reserve
headroom, put the payload, push each header; here in a single pack_into).

Used by tests, benchmarks and the simulator's traffic sources. Addresses: MACs are
6 bytes, IPv4 addresses ints (dotted strings are accepted and converted).
"""

from __future__ import annotations

import struct

from tuxnet.wire.addr import ip_int
from tuxnet.wire.arp import ARP_HLEN, ARPHRD_ETHER, ArpRepr
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.ethernet import ETH_HLEN, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, VLAN_HLEN
from tuxnet.wire.icmp import ICMP_ECHO, ICMP_HLEN
from tuxnet.wire.ipv4 import IP_DF, IPDEFTTL, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP
from tuxnet.wire.tcp import TCP_HLEN, TCPHDR_ACK
from tuxnet.wire.tcp_options import TcpOptions
from tuxnet.wire.types import WBuffer
from tuxnet.wire.udp import UDP_HLEN

__all__ = [
    "arp_frame",
    "emit_ipv4_frame",
    "icmp_frame",
    "tcp_frame",
    "udp_frame",
]

_ETH = struct.Struct("!6s6sH")
_VETH = struct.Struct("!6s6sHHH")
_IP = struct.Struct("!BBHHHBBHII")
_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
_ICMP = struct.Struct("!BBHI")
_U16 = struct.Struct("!H")
_pack_eth = _ETH.pack_into
_pack_veth = _VETH.pack_into
_pack_ip = _IP.pack_into
_pack_tcp = _TCP.pack_into
_pack_udp = _UDP.pack_into
_pack_icmp = _ICMP.pack_into
_pack_u16 = _U16.pack_into

Addr = int | str
Bytes = bytes | bytearray | memoryview


def _addr(a: Addr) -> int:
    return a if isinstance(a, int) else ip_int(a)


def emit_ipv4_frame(
    buf: WBuffer,
    offset: int,
    src_mac: bytes,
    dst_mac: bytes,
    src_ip: int,
    dst_ip: int,
    protocol: int,
    l4_len: int,
    ttl: int = IPDEFTTL,
    tos: int = 0,
    ident: int = 0,
    frag_off: int = IP_DF,
    vlan_tci: int | None = None,
) -> int:
    """Write Ethernet (+802.1Q) and a 20-byte IPv4 header with its checksum for an
    ``l4_len``-byte payload; returns the offset of the transport header."""
    if len(src_mac) != 6 or len(dst_mac) != 6:
        raise ValueError("MAC addresses are 6 bytes")
    if vlan_tci is None:
        _pack_eth(buf, offset, dst_mac, src_mac, ETH_P_IP)
        ip_off = offset + ETH_HLEN
    else:
        _pack_veth(buf, offset, dst_mac, src_mac, ETH_P_8021Q, vlan_tci & 0xFFFF, ETH_P_IP)
        ip_off = offset + ETH_HLEN + VLAN_HLEN
    tot = 20 + l4_len
    if tot > 0xFFFF:
        raise ValueError(f"ipv4 total length {tot} > 65535")
    ttl &= 0xFF
    # RFC 1071 on the header words; 32-bit addresses added whole (2**16 == 1 mod 0xFFFF)
    s = (
        (0x4500 | (tos & 0xFF))
        + tot
        + (ident & 0xFFFF)
        + (frag_off & 0xFFFF)
        + ((ttl << 8) | protocol)
        + src_ip
        + dst_ip
    )
    check = ~(s % 0xFFFF or 0xFFFF) & 0xFFFF
    _pack_ip(
        buf,
        ip_off,
        0x45,
        tos & 0xFF,
        tot,
        ident & 0xFFFF,
        frag_off & 0xFFFF,
        ttl,
        protocol,
        check,
        src_ip,
        dst_ip,
    )
    return ip_off + 20


def _frame_buf(headroom: int, vlan_tci: int | None, l4_len: int) -> tuple[bytearray, int]:
    l2 = ETH_HLEN if vlan_tci is None else ETH_HLEN + VLAN_HLEN
    return bytearray(headroom + l2 + 20 + l4_len), headroom


def tcp_frame(
    src_mac: bytes,
    dst_mac: bytes,
    src_ip: Addr,
    dst_ip: Addr,
    sport: int,
    dport: int,
    seq: int = 0,
    ack_seq: int = 0,
    flags: int = TCPHDR_ACK,
    window: int = 65535,
    payload: Bytes = b"",
    options: TcpOptions | Bytes | None = None,
    ttl: int = IPDEFTTL,
    tos: int = 0,
    ident: int = 0,
    frag_off: int = IP_DF,
    vlan_tci: int | None = None,
    headroom: int = 0,
    urg_ptr: int = 0,
) -> bytearray:
    """Ethernet/IPv4/TCP frame with both checksums; the frame starts at ``headroom``.
    ``options`` is a TcpOptions (Linux layout) or raw bytes (zero-padded to 4)."""
    s_ip, d_ip = _addr(src_ip), _addr(dst_ip)
    if options is None:
        opts: Bytes = b""
    elif isinstance(options, TcpOptions):
        opts = options.emit_layout()
    else:
        opts = bytes(options) + bytes(-len(options) & 3)
    if len(opts) > 40:
        raise ValueError(f"tcp options of {len(opts)} bytes exceed 40")
    hl = TCP_HLEN + len(opts)
    seglen = hl + len(payload)
    buf, off = _frame_buf(headroom, vlan_tci, seglen)
    t = emit_ipv4_frame(
        buf,
        off,
        src_mac,
        dst_mac,
        s_ip,
        d_ip,
        IPPROTO_TCP,
        seglen,
        ttl,
        tos,
        ident,
        frag_off,
        vlan_tci,
    )
    _pack_tcp(
        buf,
        t,
        sport & 0xFFFF,
        dport & 0xFFFF,
        seq & 0xFFFFFFFF,
        ack_seq & 0xFFFFFFFF,
        hl << 2,
        flags & 0xFF,
        window & 0xFFFF,
        0,
        urg_ptr & 0xFFFF,
    )
    if opts:
        buf[t + TCP_HLEN : t + hl] = opts
    if payload:
        buf[t + hl :] = payload
    # RFC 9293 3.1: pseudo-header + segment
    check = ~ones_sum(memoryview(buf)[t:], s_ip + d_ip + IPPROTO_TCP + seglen) & 0xFFFF
    _pack_u16(buf, t + 16, check)
    return buf


def udp_frame(
    src_mac: bytes,
    dst_mac: bytes,
    src_ip: Addr,
    dst_ip: Addr,
    sport: int,
    dport: int,
    payload: Bytes = b"",
    checksum: bool = True,
    ttl: int = IPDEFTTL,
    tos: int = 0,
    ident: int = 0,
    frag_off: int = IP_DF,
    vlan_tci: int | None = None,
    headroom: int = 0,
) -> bytearray:
    """Ethernet/IPv4/UDP frame; the UDP checksum (RFC 768) unless ``checksum=False``."""
    s_ip, d_ip = _addr(src_ip), _addr(dst_ip)
    ulen = UDP_HLEN + len(payload)
    buf, off = _frame_buf(headroom, vlan_tci, ulen)
    u = emit_ipv4_frame(
        buf,
        off,
        src_mac,
        dst_mac,
        s_ip,
        d_ip,
        IPPROTO_UDP,
        ulen,
        ttl,
        tos,
        ident,
        frag_off,
        vlan_tci,
    )
    _pack_udp(buf, u, sport & 0xFFFF, dport & 0xFFFF, ulen, 0)
    if payload:
        buf[u + UDP_HLEN :] = payload
    if checksum:
        check = ~ones_sum(memoryview(buf)[u:], s_ip + d_ip + IPPROTO_UDP + ulen) & 0xFFFF
        _pack_u16(buf, u + 6, check or 0xFFFF)  # RFC 768: a zero sum is sent as ones
    return buf


def icmp_frame(
    src_mac: bytes,
    dst_mac: bytes,
    src_ip: Addr,
    dst_ip: Addr,
    icmp_type: int = ICMP_ECHO,
    code: int = 0,
    rest: int = 0,
    payload: Bytes = b"",
    ttl: int = IPDEFTTL,
    tos: int = 0,
    ident: int = 0,
    frag_off: int = IP_DF,
    vlan_tci: int | None = None,
    headroom: int = 0,
) -> bytearray:
    """Ethernet/IPv4/ICMP frame; ``rest`` is the 32-bit word after the checksum
    (echo: id << 16 | seq)."""
    s_ip, d_ip = _addr(src_ip), _addr(dst_ip)
    n = ICMP_HLEN + len(payload)
    buf, off = _frame_buf(headroom, vlan_tci, n)
    i = emit_ipv4_frame(
        buf, off, src_mac, dst_mac, s_ip, d_ip, IPPROTO_ICMP, n, ttl, tos, ident, frag_off, vlan_tci
    )
    _pack_icmp(buf, i, icmp_type & 0xFF, code & 0xFF, 0, rest & 0xFFFFFFFF)
    if payload:
        buf[i + ICMP_HLEN :] = payload
    _pack_u16(buf, i + 2, ~ones_sum(memoryview(buf)[i:]) & 0xFFFF)
    return buf


def arp_frame(
    src_mac: bytes,
    dst_mac: bytes,
    op: int,
    sha: bytes,
    spa: Addr,
    tha: bytes,
    tpa: Addr,
    vlan_tci: int | None = None,
    headroom: int = 0,
    hrd: int = ARPHRD_ETHER,
) -> bytearray:
    """Ethernet/ARP frame (RFC 826); e.g. a request: op=ARPOP_REQUEST, tha zeros,
    dst_mac broadcast."""
    if len(src_mac) != 6 or len(dst_mac) != 6:
        raise ValueError("MAC addresses are 6 bytes")
    l2 = ETH_HLEN if vlan_tci is None else ETH_HLEN + VLAN_HLEN
    buf = bytearray(headroom + l2 + ARP_HLEN)
    if vlan_tci is None:
        _pack_eth(buf, headroom, dst_mac, src_mac, ETH_P_ARP)
    else:
        _pack_veth(buf, headroom, dst_mac, src_mac, ETH_P_8021Q, vlan_tci & 0xFFFF, ETH_P_ARP)
    ArpRepr(op, sha, _addr(spa), tha, _addr(tpa), hrd).emit(buf, headroom + l2)
    return buf
