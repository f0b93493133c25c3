"""The packets REJECT sends (net/ipv4/netfilter/nf_reject_ipv4.c, net/ipv4/icmp.c),
built byte for byte, and how they are sent.

* TCP reset (nf_reject_iphdr_put + nf_reject_ip_tcphdr_put): a 40-byte datagram from
  the offending packet's destination to its source, IP ID 0, DF, TTL the default hop
  limit; ports swapped; if the segment had ACK, ``seq = its ack`` and only RST, else
  ``seq = 0``, ``ack = seq + SYN + FIN + payload length`` and RST|ACK; window 0.
  Nothing for a non-first fragment, a RST, or a bad checksum.
* ICMP error (icmp_send via nf_send_unreach): type 3 with the code, quoting the
  offending datagram from its IP header, at most 576 bytes in all (so a 28-byte
  packet gives a 56-byte error); TOS = (tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL,
  no DF. Nothing for a non-first fragment.

Sending goes through the NfNet seams: ``icmp_send`` (default: tuxnet.ipv4.icmp's
icmp_send when the skb has a route, which also does the rate limit and source
choice) and ``ip_local_out`` (default: route + ipv4 ip_local_out), so replies
traverse OUTPUT and POSTROUTING as they do in Linux.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tuxnet.netfilter.ctseam import IP_CT_IS_REPLY, IP_CT_RELATED, IP_CT_RELATED_REPLY
from tuxnet.wire.checksum import internet_checksum, ones_sum

if TYPE_CHECKING:
    from tuxnet.netfilter.tables import NfNet
    from tuxnet.skb import SkBuff

__all__ = [
    "ICMP_ERROR_MAX",
    "nf_reject_icmp_build",
    "nf_reject_tcp_reset_build",
    "nf_send_reset",
    "nf_send_unreach",
]

ICMP_ERROR_MAX = 576  # net/ipv4/icmp.c: quote so the error fits 576 bytes
IPTOS_TOS_MASK = 0x1E
IPTOS_PREC_INTERNETCONTROL = 0xC0
_IP = struct.Struct("!BBHHHBBHII")
_TCP = struct.Struct("!HHIIBBHHH")
_ICMP = struct.Struct("!BBHI")
_U16 = struct.Struct("!H")


def _ip_header(buf: bytearray, tos: int, tot: int, ident: int, frag: int, ttl: int,
               proto: int, src: int, dst: int) -> None:
    _IP.pack_into(buf, 0, 0x45, tos, tot, ident, frag, ttl, proto, 0, src, dst)
    _U16.pack_into(buf, 10, internet_checksum(buf[:20]))


def _l4_csum_ok(data: bytes | memoryview, ihl: int, proto: int, src: int, dst: int) -> bool:
    """nf_ip_checksum for TCP/UDP over the pseudo header (UDP checksum 0: none)."""
    seg = data[ihl:]
    if proto == 17 and len(seg) >= 8 and seg[6] == 0 and seg[7] == 0:
        return True
    pseudo = struct.pack("!IIBBH", src, dst, 0, proto, len(seg))
    return ones_sum(bytes(seg), ones_sum(pseudo)) in (0xFFFF, 0)


def nf_reject_tcp_reset_build(old: bytes | memoryview, ttl: int = 64,
                              check_csum: bool = True) -> bytes | None:
    """The RST answering the IPv4/TCP datagram ``old`` (None when none is sent)."""
    if len(old) < 20:
        return None
    vihl, _tos, tot, _id, frag, _ttl, proto, _c, src, dst = _IP.unpack_from(old, 0)
    ihl = (vihl & 15) * 4
    if frag & 0x1FFF or proto != 6 or len(old) < ihl + 20:
        return None
    tot = min(tot, len(old))
    sport, dport, seq, ack_seq, doff, flags, _w, _c2, _u = _TCP.unpack_from(old, ihl)
    if flags & 0x04:  # never answer a RST
        return None
    thl = (doff >> 4) * 4
    if thl < 20 or ihl + thl > tot:
        return None
    if check_csum and not _l4_csum_ok(old[:tot], ihl, 6, src, dst):
        return None
    buf = bytearray(40)
    _ip_header(buf, 0, 40, 0, 0x4000, ttl, 6, dst, src)
    if flags & 0x10:
        r_seq, r_ack, r_flags = ack_seq, 0, 0x04
    else:
        payload = tot - ihl - thl
        r_seq = 0
        r_ack = (seq + (1 if flags & 0x02 else 0) + (1 if flags & 0x01 else 0) + payload) \
            & 0xFFFFFFFF
        r_flags = 0x14
    _TCP.pack_into(buf, 20, dport, sport, r_seq, r_ack, 5 << 4, r_flags, 0, 0, 0)
    pseudo = ones_sum(struct.pack("!IIBBH", dst, src, 0, 6, 20))
    _U16.pack_into(buf, 36, internet_checksum(bytes(buf[20:]), pseudo))
    return bytes(buf)


def nf_reject_icmp_build(old: bytes | memoryview, code: int, saddr: int, ident: int = 0,
                         ttl: int = 64, icmp_type: int = 3) -> bytes | None:
    """The ICMP error icmp_send makes about datagram ``old`` from ``saddr``."""
    if len(old) < 20:
        return None
    _vihl, tos, tot, _id, frag, _ttl, _p, _c, src, _dst = _IP.unpack_from(old, 0)
    if frag & 0x1FFF:
        return None
    quoted = bytes(old[:min(tot, len(old), ICMP_ERROR_MAX - 28)])
    msg = bytearray(8 + len(quoted))
    _ICMP.pack_into(msg, 0, icmp_type, code, 0, 0)
    msg[8:] = quoted
    _U16.pack_into(msg, 2, internet_checksum(msg))
    buf = bytearray(20)
    _ip_header(buf, (tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL, 20 + len(msg),
               ident, 0, ttl, 1, saddr, src)
    return bytes(buf + msg)


def _default_ttl(nf: NfNet) -> int:
    try:
        return nf.host.sysctl.get_int("net.ipv4.ip_default_ttl")
    except Exception:
        return 64


def _local_out(nf: NfNet, datagram: bytes, attach: SkBuff | None = None) -> None:
    """Hand a locally built datagram to the ip_local_out seam (or IPv4's); with
    ``attach`` it carries that packet's conntrack entry (nf_ct_attach)."""
    from tuxnet.skb import alloc_skb

    skb = alloc_skb(128 + len(datagram))
    skb.reserve(128)
    skb.put_data(datagram)
    skb.reset_network_header()
    skb.protocol = 0x0800
    if attach is not None and attach.nfct is not None:
        # nf_conntrack_attach: the reply to a packet is RELATED in the other direction
        skb.nfct = attach.nfct
        skb.nfctinfo = IP_CT_RELATED_REPLY if attach.nfctinfo < IP_CT_IS_REPLY \
            else IP_CT_RELATED
    if nf.ip_local_out is not None:
        nf.ip_local_out(skb)
        return
    if nf.host.__dict__.get("ipv4") is None:
        nf.host.kfree_skb(skb, location="nf_reject_ip_local_out")  # nowhere to send it
        return
    from tuxnet.ipv4.inet import InetSkbParm
    from tuxnet.ipv4.ip_output import ip_local_out, ip_route_output

    dst = int.from_bytes(datagram[16:20], "big")
    src = int.from_bytes(datagram[12:16], "big")
    from tuxnet.ipv4.inet import ip_state

    if ip_state(nf.host).inet.ip_dev_find(src) is None:
        # ip_route_me_harder: a reply for a forwarded packet has a foreign source, and
        # routes with FLOWI_FLAG_ANYSRC (the source is not checked against our addresses)
        src = 0
    rt = ip_route_output(nf.host, dst, src)
    if rt.error:  # a forwarded packet's reply leaves from a foreign source (ANYSRC)
        rt = ip_route_output(nf.host, dst)
    if rt.error:
        nf.host.kfree_skb(skb, location="ip_route_me_harder")
        return
    skb.dst = rt
    skb.cb = InetSkbParm()
    ip_local_out(nf.host, skb)


def nf_send_reset(nf: NfNet, skb: SkBuff, hook: int) -> None:
    """nf_send_reset: answer a TCP segment with a RST."""
    data = bytes(skb.data)
    rst = nf_reject_tcp_reset_build(data, _default_ttl(nf), check_csum=skb.ip_summed != 1)
    if rst is not None:
        _local_out(nf, rst, skb)


def nf_send_unreach(nf: NfNet, skb: SkBuff, code: int, hook: int) -> None:
    """nf_send_unreach: an ICMP destination unreachable with ``code``."""
    data = skb.data
    if len(data) < 20 or (int.from_bytes(data[6:8], "big") & 0x1FFF):
        return
    ihl = (data[0] & 15) * 4
    proto = data[9]
    src = int.from_bytes(data[12:16], "big")
    dst = int.from_bytes(data[16:20], "big")
    tot = min(int.from_bytes(data[2:4], "big"), len(data))
    if proto in (6, 17) and skb.ip_summed != 1 and tot >= ihl + 8 and \
            not _l4_csum_ok(data[:tot], ihl, proto, src, dst):
        return
    if nf.icmp_send is not None:
        nf.icmp_send(skb, 3, code)
        return
    if nf.host.__dict__.get("ipv4") is not None and skb.dst is not None:
        from tuxnet.ipv4.icmp import icmp_send

        icmp_send(nf.host, skb, 3, code, 0)
        return
    err = nf_reject_icmp_build(data, code, dst, 0, _default_ttl(nf))
    if err is not None:
        _local_out(nf, err)
