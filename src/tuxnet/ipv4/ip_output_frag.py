"""IPv4 fragmentation on output (net/ipv4/ip_output.c: ip_fragment, ip_do_fragment).

``ip_fragment`` is what ``__ip_finish_output`` calls for a datagram longer than the
path MTU: without DF it is cut into fragments; with DF (and no ``ignore_df``) it is
dropped, FragFails counted and ``-EMSGSIZE`` returned, after an optional
``icmp_send(skb, mtu)`` hook has quoted it in an ICMP "fragmentation needed"
(RFC 792, RFC 1191 4; ``frag_needed_mtu`` gives the Next-Hop MTU to carry).

Fragments are built as Linux's slow path builds them (ip_frag_init/ip_frag_next): a
new skb per fragment with LL_RESERVED_SPACE headroom, the header copied, the payload
copied with skb_copy_bits (so a paged payload works and the copies are counted in the
skb counters), payloads a multiple of 8 bytes except the last (RFC 791 3.2), MF on all
but the last (and on all when the datagram was itself a non-last fragment), the offset
added to the datagram's own, total length and header checksum recomputed, the ident
kept. After the first fragment the options without the copy flag are overwritten with
NOPs (ip_options_fragment), so every fragment carries a header as long as the first.
The frag_list fast path does not exist here: tuxnet skbs have no frag_list.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import CHECKSUM_NONE, CHECKSUM_PARTIAL, SkbError, SkBuff, alloc_skb
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.ipv4 import IP_DF, IP_MF, IP_OFFSET, IPOPT_END, IPOPT_NOOP, IPV4_HLEN

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = [
    "EMSGSIZE",
    "IPOPT_COPY",
    "IP_MAX_MTU",
    "LL_RESERVED_SPACE_ETH",
    "frag_needed_mtu",
    "ip_do_fragment",
    "ip_exceeds_mtu",
    "ip_fragment",
    "ip_options_fragment",
]

EMSGSIZE = errno.EMSGSIZE
IP_MAX_MTU = 0xFFF0  # include/net/ip.h
IPOPT_COPY = 0x80  # include/uapi/linux/ip.h: IPOPT_COPIED(o) = o & IPOPT_COPY
# netdevice.h LL_RESERVED_SPACE(dev) for Ethernet: ((14 + 0) & ~(HH_DATA_MOD - 1)) + 16
LL_RESERVED_SPACE_ETH = 16
_SKB_GSO_TCP = 0x1 | 0x10  # SKB_GSO_TCPV4 | SKB_GSO_TCPV6
_SKB_GSO_UDP_L4 = 1 << 17

_U16 = struct.Struct("!H")
_pack16 = _U16.pack_into
_unpack16 = _U16.unpack_from

# output(skb) returns None or 0 when the fragment was sent, an errno-style int if not
OutputFn = Callable[[SkBuff], "int | None"]
IcmpSendFn = Callable[[SkBuff, int], object]


def frag_needed_mtu(mtu: int) -> int:
    """The Next-Hop MTU an ICMP "fragmentation needed" carries after ip_fragment or
    ip_forward refused a DF datagram at ``mtu`` (icmp_send(..., htonl(mtu)): the low 16
    bits of the rest-of-header word, RFC 1191 4)."""
    return mtu & 0xFFFF


def _header_len(skb: SkBuff) -> int:
    """The IPv4 header length at skb.data, made linear; 0 when it is not a sane header."""
    try:
        if not skb.pskb_may_pull(IPV4_HLEN):
            return 0
        vihl = skb.data[0]
        hlen = (vihl & 15) << 2
        if vihl >> 4 != 4 or hlen < IPV4_HLEN or not skb.pskb_may_pull(hlen):
            return 0
    except SkbError:
        return 0
    return hlen


def ip_exceeds_mtu(skb: SkBuff, mtu: int, *, ignore_df: bool = False,
                   frag_max_size: int = 0) -> bool:
    """ip_exceeds_mtu (net/ipv4/ip_forward.c): a DF datagram (or a reassembled one whose
    largest fragment was) longer than ``mtu`` that may not be fragmented; GSO packets
    whose segments fit do not exceed."""
    if skb.len <= mtu:
        return False
    if skb.headlen() < IPV4_HLEN or not _unpack16(skb.data, 6)[0] & IP_DF:
        return False
    if frag_max_size > mtu:  # the original fragment exceeds the MTU and DF is set
        return True
    if ignore_df:
        return False
    if skb.gso_size and skb.transport_header_was_set():
        # skb_gso_validate_network_len: skb_gso_network_seglen of every segment fits
        th = skb.transport_header
        seg = skb.gso_size + th - skb.network_header
        if skb.gso_type & _SKB_GSO_TCP and th + 12 < skb.tail:
            seg += (skb.head[th + 12] >> 4) << 2  # tcp_hdrlen
        elif skb.gso_type & _SKB_GSO_UDP_L4:
            seg += 8  # sizeof(struct udphdr)
        return seg > mtu
    return True


def ip_options_fragment(hdr: bytearray | memoryview) -> None:
    """ip_options_fragment (net/ipv4/ip_options.c): in the IPv4 header ``hdr`` overwrite
    every option without the copy flag with NOPs (RFC 791 3.1: such options go in the
    first fragment only); an END or a malformed length stops the walk."""
    hlen = (hdr[0] & 15) << 2
    i = IPV4_HLEN
    while i < hlen:
        kind = hdr[i]
        if kind == IPOPT_END:
            return
        if kind == IPOPT_NOOP:
            i += 1
            continue
        if i + 1 >= hlen:
            return
        olen = hdr[i + 1]
        if olen < 2 or olen > hlen - i:
            return
        if not kind & IPOPT_COPY:
            hdr[i:i + olen] = bytes([IPOPT_NOOP]) * olen
        i += olen


def _skb_checksum_help(skb: SkBuff) -> bool:
    """skb_checksum_help (net/core/dev.c): finish a CHECKSUM_PARTIAL transport checksum
    in software before the payload is split; False when the offsets are bogus."""
    start = skb.csum_start - skb.data_off
    at = start + skb.csum_offset
    if start < 0 or at + 2 > skb.headlen() or start > skb.len:
        return False
    s = ones_sum(skb.copy_bits(start, skb.len - start))
    # csum_fold(csum) ?: CSUM_MANGLED_0 -- a zero result goes out as 0xFFFF (RFC 768)
    _pack16(skb.data, at, (~s & 0xFFFF) or 0xFFFF)
    skb.ip_summed = CHECKSUM_NONE
    return True


def _ip_copy_metadata(to: SkBuff, frm: SkBuff) -> None:
    """ip_copy_metadata (ip_output.c): what each fragment inherits from the datagram."""
    to.pkt_type = frm.pkt_type
    to.priority = frm.priority
    to.protocol = frm.protocol
    to.skb_iif = frm.skb_iif
    to.dst = frm.dst
    to.dev = frm.dev
    to.mark = frm.mark
    to.hash = frm.hash  # skb_copy_hash
    to.l4_hash = frm.l4_hash
    to.sw_hash = frm.sw_hash
    to.nfct = frm.nfct  # nf_copy
    to.nfctinfo = frm.nfctinfo
    to.sk = frm.sk  # skb_set_owner_w: the socket is charged for its fragments
    to.tstamp = frm.tstamp  # skb_set_delivery_time


def _fail(host: Host, skb: SkBuff, err: int, reason: SkbDropReason) -> int:
    """ip_do_fragment's fail: label: drop the datagram, count FragFails."""
    host.kfree_skb(skb, reason, "ip_do_fragment")
    host.mib.ip.FragFails += 1
    return err


def ip_do_fragment(host: Host, skb: SkBuff, mtu: int, output: OutputFn, *,
                   frag_max_size: int = 0, frag_pmtu: bool = False,
                   ll_rs: int = LL_RESERVED_SPACE_ETH) -> int:
    """ip_do_fragment (slow path, ip_frag_init/ip_frag_next): cut the datagram at
    skb.data into fragments of at most ``mtu`` bytes, hand each to ``output``; returns 0
    or the first error (the datagram is then dropped and FragFails counted).

    ``frag_max_size`` (IPCB frag_max_size of a reassembled datagram) lowers the MTU;
    ``frag_pmtu`` (IPSKB_FRAG_PMTU) sets DF on every fragment.
    """
    if skb.ip_summed == CHECKSUM_PARTIAL and not _skb_checksum_help(skb):
        return _fail(host, skb, -errno.EINVAL, SkbDropReason.NOT_SPECIFIED)
    hlen = _header_len(skb)
    if not hlen or hlen > skb.len:
        return _fail(host, skb, -errno.EINVAL, SkbDropReason.IP_INHDR)
    if frag_max_size and frag_max_size < mtu:
        mtu = frag_max_size
    space = mtu - hlen  # data space per fragment
    if space < 8:  # cannot happen for a route MTU >= 68 (IPV4_MIN_MTU, RFC 791 3.2)
        return _fail(host, skb, -errno.EINVAL, SkbDropReason.PKT_TOO_BIG)
    hdr = bytearray(skb.data[:hlen])
    frag_off = _unpack16(hdr, 6)[0]
    offset = (frag_off & IP_OFFSET) << 3
    not_last_frag = frag_off & IP_MF  # fragmenting a fragment: MF stays on every piece
    left = skb.len - hlen
    ptr = hlen
    counters = skb.counters
    ip = host.mib.ip
    while left > 0:
        first_frag = offset == 0
        n = left
        if n > space:
            n = space
        if n < left:  # not the end: the next fragment starts on an 8-byte boundary
            n &= ~7
        skb2 = alloc_skb(n + hlen + ll_rs, counters)
        _ip_copy_metadata(skb2, skb)
        skb2.reserve(ll_rs)
        view = skb2.put(n + hlen)
        skb2.reset_network_header()
        skb2.set_transport_header(hlen)
        view[:hlen] = hdr  # skb_copy_from_linear_data
        if counters is not None:
            counters.bytes_copied += hlen
        skb.copy_bits_into(ptr, view[hlen:], n)
        left -= n
        fo = (offset >> 3) & IP_OFFSET
        if frag_pmtu:
            fo |= IP_DF
        if left > 0 or not_last_frag:
            fo |= IP_MF
        _pack16(view, 6, fo)
        _pack16(view, 2, n + hlen)
        _pack16(view, 10, 0)
        _pack16(view, 10, ~ones_sum(view[:hlen]) & 0xFFFF)  # ip_send_check
        ptr += n
        offset += n
        if first_frag:
            ip_options_fragment(hdr)  # ip_frag_ipcb: later fragments get fixed options
        err = output(skb2)
        if err:
            return _fail(host, skb, err, SkbDropReason.NOT_SPECIFIED)
        ip.FragCreates += 1
    host.consume_skb(skb, "ip_do_fragment")
    ip.FragOKs += 1
    return 0


def ip_fragment(host: Host, skb: SkBuff, mtu: int, output: OutputFn, *,
                ignore_df: bool = False, frag_max_size: int = 0, frag_pmtu: bool = False,
                icmp_send: IcmpSendFn | None = None,
                ll_rs: int = LL_RESERVED_SPACE_ETH) -> int:
    """ip_fragment (+ the __ip_finish_output test that calls it): send the datagram at
    skb.data through ``output`` whole when it fits ``mtu``, else fragment it; a DF
    datagram that may not be fragmented is dropped with FragFails and -EMSGSIZE after
    ``icmp_send(skb, frag_needed_mtu(mtu))`` (RFC 1191 PMTUD)."""
    if skb.len <= mtu and not frag_max_size:
        err = output(skb)
        return err or 0
    if skb.headlen() < IPV4_HLEN and _header_len(skb) == 0:
        return _fail(host, skb, -errno.EINVAL, SkbDropReason.IP_INHDR)
    if not _unpack16(skb.data, 6)[0] & IP_DF:
        return ip_do_fragment(host, skb, mtu, output, frag_max_size=frag_max_size,
                              frag_pmtu=frag_pmtu, ll_rs=ll_rs)
    if not ignore_df or (frag_max_size and frag_max_size > mtu):
        host.mib.ip.FragFails += 1
        if icmp_send is not None:
            icmp_send(skb, frag_needed_mtu(mtu))
        host.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED, "ip_fragment")
        return -EMSGSIZE
    return ip_do_fragment(host, skb, mtu, output, frag_max_size=frag_max_size,
                          frag_pmtu=frag_pmtu, ll_rs=ll_rs)
