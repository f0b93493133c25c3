"""GSO/TSO on transmit: software segmentation of TCPv4 and UDPv4 super-packets, the
transmit checksum helpers and validate_xmit_skb's offload decisions.

Linux's chain (net/core/dev.c, net/core/gso.c, net/ipv4/af_inet.c,
net/ipv4/tcp_offload.c, net/ipv4/udp_offload.c, net/core/skbuff.c)::

    validate_xmit_skb ─ netif_skb_features (gso_features_check, harmonize_features)
      ├─ netif_needs_gso ─► skb_gso_segment ─► inet_gso_segment ─► tcp4_gso_segment
      │                                         (or __udp_gso_segment) ─► skb_segment
      └─ else: skb_csum_hwoffload_help ─► skb_checksum_help

``skb_gso_segment`` takes an skb whose data starts at the IPv4 header, or at the
Ethernet header when ``mac_header == data`` (802.1Q tags understood); every byte before
the transport payload is replicated into each segment. Each segment gets its own IP
total length, IP id (first id + i, unless SKB_GSO_TCP_FIXEDID), IP header checksum,
TCP sequence number (FIN/PSH only on the last segment, CWR only on the first) or UDP
length, and a transport checksum: the pseudo-header sum with CHECKSUM_PARTIAL when the
features can checksum IPv4 (NETIF_F_IP_CSUM/NETIF_F_HW_CSUM), else the full checksum
with CHECKSUM_NONE. Payload in the linear part is copied into each segment; payload in
frags is shared (zero-copy) when the features have NETIF_F_SG, else copied.

Deviations, on purpose: the segments come back as a Python list (not an skb->next
chain); a TCP gso skb's tcp_wfree ownership passes to its segments
(tcp_gso_segment's copy_destructor, tcp/tsq.py), so TSQ hears of their TX completion;
other gso skbs keep their socket destructor until validate_xmit_skb consumes them once
segmented; a gso skb whose payload fits one mss is turned into one segment
(Linux sends it unsegmented, tcp_gso_segment returning NULL).

Malformed input never raises: segmentation errors drop the skb through ``drop`` with
SKB_DROP_REASON_SKB_GSO_SEG and return an empty list.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from tuxnet.core.netdevice import (
    NETIF_F_CSUM_MASK,
    NETIF_F_FRAGLIST,
    NETIF_F_GRO,
    NETIF_F_GSO,
    NETIF_F_GSO_FRAGLIST,
    NETIF_F_GSO_ROBUST,
    NETIF_F_GSO_UDP_L4,
    NETIF_F_HW_CSUM,
    NETIF_F_IP_CSUM,
    NETIF_F_IPV6_CSUM,
    NETIF_F_LRO,
    NETIF_F_SG,
    NETIF_F_TSO,
    NETIF_F_TSO6,
    NETIF_F_TSO_ECN,
    NETIF_F_TSO_MANGLEID,
    feature_mask,
)
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import (
    CHECKSUM_COMPLETE,
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    CHECKSUM_UNNECESSARY,
    MAX_SKB_FRAGS,
    SKB_GSO_TCP_FIXEDID,
    SKB_GSO_TCPV4,
    SKB_GSO_UDP_L4,
    SkbError,
    SkBuff,
    alloc_skb,
)
from tuxnet.wire.checksum import csum_fold, ones_sum, pseudo_header_sum
from tuxnet.wire.ethernet import (
    ETH_HLEN,
    ETH_P_8021AD,
    ETH_P_8021Q,
    ETH_P_IP,
    ETH_P_IPV6,
    VLAN_HLEN,
)
from tuxnet.wire.ipv4 import IP_DF, IPPROTO_TCP, IPPROTO_UDP

__all__ = [
    "GSO_MAX_SEGS",
    "NETIF_F_CSUM_MASK",
    "NETIF_F_FRAGLIST",
    "NETIF_F_GRO",
    "NETIF_F_GSO",
    "NETIF_F_GSO_FRAGLIST",
    "NETIF_F_GSO_MASK",
    "NETIF_F_GSO_ROBUST",
    "NETIF_F_GSO_SHIFT",
    "NETIF_F_GSO_UDP_L4",
    "NETIF_F_HW_CSUM",
    "NETIF_F_IPV6_CSUM",
    "NETIF_F_IP_CSUM",
    "NETIF_F_LRO",
    "NETIF_F_SG",
    "NETIF_F_TSO",
    "NETIF_F_TSO6",
    "NETIF_F_TSO_ECN",
    "NETIF_F_TSO_MANGLEID",
    "DropFn",
    "can_checksum_protocol",
    "net_gso_ok",
    "netdev_features",
    "netif_needs_gso",
    "netif_skb_features",
    "skb_checksum",
    "skb_checksum_help",
    "skb_csum_hwoffload_help",
    "skb_gso_segment",
    "validate_xmit_skb",
]

DropFn = Callable[[SkBuff, SkbDropReason], None]

# The feature bits and their ethtool names are the device layer's (core/netdevice.py);
# GSO adds the mask of the segmentation bits.
NETIF_F_GSO_SHIFT = 16  # NETIF_F_TSO_BIT: SKB_GSO_* bit n is feature bit 16 + n
NETIF_F_GSO_MASK = ((1 << 35) - 1) & ~((1 << NETIF_F_GSO_SHIFT) - 1)  # ... GSO_LAST = 34

GSO_MAX_SEGS = 65535  # include/linux/netdevice.h: GSO_MAX_SEGS

_TCP_CHECK = 16  # offsetof(struct tcphdr, check)
_UDP_CHECK = 6  # offsetof(struct udphdr, check)
_TCP_FIN_PSH = 0x09  # TCPHDR_FIN | TCPHDR_PSH
_TCP_CWR = 0x80

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_pack16 = _U16.pack_into
_pack32 = _U32.pack_into
_unpack16 = _U16.unpack_from
_unpack32 = _U32.unpack_from

Features = int | Iterable[str]


class _GsoError(Exception):
    """A gso skb that cannot be segmented (Linux: an ERR_PTR from ->gso_segment)."""


# --- features ------------------------------------------------------------------------


def netdev_features(spec: Features) -> int:
    """A netdev_features_t from an int (returned as is) or ethtool feature names
    (``{"tx-checksum-ipv4", "tx-scatter-gather", "tx-tcp-segmentation"}``)."""
    if isinstance(spec, int):
        return spec
    bits = 0
    for name in spec:
        bits |= feature_mask(name)  # ValueError for an unknown name
    return bits


def can_checksum_protocol(features: int, protocol: int) -> bool:
    """can_checksum_protocol (netdevice.h): may the device checksum this L3 protocol?"""
    if features & NETIF_F_HW_CSUM:
        return True
    if protocol == ETH_P_IP:
        return bool(features & NETIF_F_IP_CSUM)
    if protocol == ETH_P_IPV6:
        return bool(features & NETIF_F_IPV6_CSUM)
    return False


def net_gso_ok(features: int, gso_type: int) -> bool:
    """net_gso_ok (netdevice.h): does the device segment every SKB_GSO_* bit set?"""
    feature = (gso_type << NETIF_F_GSO_SHIFT) & NETIF_F_GSO_MASK
    return (features & feature) == feature


def netif_needs_gso(skb: SkBuff, features: int) -> bool:
    """netif_needs_gso (netdevice.h): a gso skb the device cannot take as is."""
    if not skb.gso_size:
        return False
    return not net_gso_ok(features, skb.gso_type) or skb.ip_summed not in (
        CHECKSUM_PARTIAL, CHECKSUM_UNNECESSARY)


def netif_skb_features(skb: SkBuff, features: int, gso_max_segs: int = GSO_MAX_SEGS) -> int:
    """netif_skb_features (dev.c): the device's features narrowed for this skb by
    gso_features_check and harmonize_features."""
    if skb.gso_size:
        # dev.c gso_features_check: too many segments or no gso_type: no GSO offload
        if skb.gso_segs > gso_max_segs or not skb.gso_type:
            features &= ~NETIF_F_GSO_MASK
        elif skb.gso_type & SKB_GSO_TCPV4 and not _ip_df(skb):
            features &= ~NETIF_F_TSO_MANGLEID  # the IPv4 header may be fragmented
    # dev.c harmonize_features: no checksum offload for this protocol, no GSO either
    if skb.ip_summed != CHECKSUM_NONE and not can_checksum_protocol(features, skb.protocol):
        features &= ~(NETIF_F_CSUM_MASK | NETIF_F_GSO_MASK)
    return features


def _ip_df(skb: SkBuff) -> bool:
    """Whether the skb's IPv4 header (at its network header mark) has DF set."""
    off = skb.network_header - skb.data_off
    if off < 0 or off + 8 > skb.headlen():
        return False
    return bool(_unpack16(skb.head, skb.network_header + 6)[0] & IP_DF)


# --- checksums -----------------------------------------------------------------------


def _sum_views(views: Iterable[memoryview], initial: int = 0) -> int:
    """Unfolded one's-complement sum (RFC 1071) of the views' concatenation; a piece
    that starts at an odd offset is byte-swapped (RFC 1071 2(B), csum_block_add)."""
    total = initial
    odd = False
    for v in views:
        n = len(v)
        if not n:
            continue
        s = ones_sum(v)
        if odd:
            s = ((s & 0xFF) << 8) | (s >> 8)
        total += s
        if n & 1:
            odd = not odd
    return total


def _skb_views(skb: SkBuff, offset: int, length: int) -> list[memoryview]:
    """Views of ``length`` bytes from data + offset across the linear part and frags."""
    out: list[memoryview] = []
    stop = offset + length
    hl = skb.len - skb.data_len
    if offset < hl:
        out.append(skb.data[offset:min(stop, hl)])
    pos = hl
    for f in skb.frags:
        if pos >= stop:
            break
        end = pos + f.size
        if end > offset:
            a = max(offset, pos) - pos + f.page_offset
            b = min(stop, end) - pos + f.page_offset
            out.append(f.page[a:b])
        pos = end
    return out


def skb_checksum(skb: SkBuff, offset: int, length: int, initial: int = 0) -> int:
    """skb_checksum (skbuff.c): the folded, uncomplemented one's-complement sum of
    ``length`` bytes from data + offset (linear part and frags), plus ``initial``."""
    if offset < 0 or length < 0 or offset + length > skb.len:
        raise SkbError("skb_checksum: range outside the skb")
    if not skb.data_len:  # linear: one piece, summed and folded in one go
        start = skb.data_off + offset
        return ones_sum(skb._hmv[start:start + length], initial)
    return csum_fold(_sum_views(_skb_views(skb, offset, length), initial))


def skb_checksum_help(skb: SkBuff) -> bool:
    """skb_checksum_help (dev.c): finish a CHECKSUM_PARTIAL checksum in software
    (sum from csum_start to the end, stored at csum_start + csum_offset); False on
    a bad csum_start/offset or a gso skb (-EINVAL)."""
    if skb.ip_summed == CHECKSUM_COMPLETE:
        skb.ip_summed = CHECKSUM_NONE
        return True
    if skb.gso_size:
        return False
    off = skb.csum_start - skb.data_off
    hl = skb.headlen()
    if off < 0 or off >= hl or off + skb.csum_offset + 2 > hl:
        return False
    if skb.header_cloned():  # skb_ensure_writable
        try:
            skb.cow_head(0)
        except SkbError:
            return False
    s = csum_fold(_sum_views(_skb_views(skb, off, skb.len - off)))
    # dev.c: csum_fold(csum) ?: CSUM_MANGLED_0
    _pack16(skb.head, skb.data_off + off + skb.csum_offset, (~s & 0xFFFF) or 0xFFFF)
    skb.ip_summed = CHECKSUM_NONE
    return True


def skb_csum_hwoffload_help(skb: SkBuff, features: int) -> bool:
    """skb_csum_hwoffload_help (dev.c): leave the checksum to the device when it can
    do it, else skb_checksum_help."""
    if features & NETIF_F_HW_CSUM:
        return True
    if (features & NETIF_F_CSUM_MASK and can_checksum_protocol(features, skb.protocol)
            and skb.csum_offset in (_TCP_CHECK, _UDP_CHECK)):
        return True
    return skb_checksum_help(skb)


# --- segmentation --------------------------------------------------------------------


def _l2_len(skb: SkBuff) -> int:
    """Ethernet header length (802.1Q/802.1ad tags included) before an IPv4 header."""
    if skb.len < ETH_HLEN:
        raise _GsoError("short mac header")
    proto = _unpack16(skb.copy_bits(12, 2))[0]
    l2 = ETH_HLEN
    while proto in (ETH_P_8021Q, ETH_P_8021AD):
        if skb.len < l2 + VLAN_HLEN or l2 > ETH_HLEN + 2 * VLAN_HLEN:
            raise _GsoError("bad vlan header")
        proto = _unpack16(skb.copy_bits(l2 + 2, 2))[0]
        l2 += VLAN_HLEN
    if proto != ETH_P_IP:
        raise _GsoError("not IPv4")
    return l2


def _copy_meta(src: SkBuff, n: SkBuff) -> None:
    """__copy_skb_header for a segment (no destructor, no gso fields)."""
    n.dev = src.dev
    n.sk = src.sk
    n.dst = src.dst
    n.protocol = src.protocol
    n.pkt_type = src.pkt_type
    n.priority = src.priority
    n.mark = src.mark
    n.hash = src.hash
    n.l4_hash = src.l4_hash
    n.sw_hash = src.sw_hash
    n.queue_mapping = src.queue_mapping
    n.tstamp = src.tstamp
    n.vlan_proto = src.vlan_proto
    n.vlan_tci = src.vlan_tci
    n.vlan_present = src.vlan_present
    n.skb_iif = src.skb_iif
    n.nfct = src.nfct
    n.nfctinfo = src.nfctinfo
    n.napi_id = src.napi_id
    cb = src.cb
    n.cb = None if cb is None else cb.copy()


def _payload_pieces(skb: SkBuff, start: int) -> list[tuple[memoryview, int, int, bool]]:
    """(buffer, offset, size, is_frag) pieces of the skb's bytes from data + start."""
    pieces: list[tuple[memoryview, int, int, bool]] = []
    hl = skb.len - skb.data_len
    if start < hl:
        pieces.append((memoryview(skb.head), skb.data_off + start, hl - start, False))
    pos = hl
    for f in skb.frags:
        end = pos + f.size
        if end > start:
            skip = max(0, start - pos)
            pieces.append((f.page, f.page_offset + skip, f.size - skip, True))
        pos = end
    return pieces


def _segment(skb: SkBuff, features: int) -> list[SkBuff]:
    """inet_gso_segment + tcp4_gso_segment/__udp_gso_segment + skb_segment."""
    gso_type = skb.gso_type
    d = skb.data_off
    l2 = _l2_len(skb) if skb.mac_header == d else 0  # data at the MAC header
    hb = skb.copy_bits(0, min(skb.len, l2 + 120))  # the longest IPv4 + TCP headers
    if len(hb) < l2 + 20 or hb[l2] >> 4 != 4:
        raise _GsoError("no IPv4 header")
    ihl = (hb[l2] & 15) * 4
    if ihl < 20 or len(hb) < l2 + ihl:
        raise _GsoError("bad ihl")
    proto = hb[l2 + 9]
    frag_off = _unpack16(hb, l2 + 6)[0]
    ip_id = _unpack16(hb, l2 + 4)[0]
    fixedid = bool(gso_type & SKB_GSO_TCP_FIXEDID)
    if fixedid and not frag_off & IP_DF:
        raise _GsoError("fixed id without DF")  # af_inet.c inet_gso_segment
    toff = l2 + ihl
    if gso_type & SKB_GSO_TCPV4:
        if proto != IPPROTO_TCP or len(hb) < toff + 20:
            raise _GsoError("not TCP")
        thlen = (hb[toff + 12] >> 4) * 4
        if thlen < 20 or len(hb) < toff + thlen:
            raise _GsoError("bad doff")
        check_off = _TCP_CHECK
        # tcp_offload.c tcp_gso_segment: csum_start must be the transport header
        if skb.ip_summed == CHECKSUM_PARTIAL and skb.csum_start != d + toff:
            raise _GsoError("csum_start is not the TCP header")
    elif gso_type & SKB_GSO_UDP_L4:
        thlen = 8
        if proto != IPPROTO_UDP or len(hb) < toff + thlen:
            raise _GsoError("not UDP")
        check_off = _UDP_CHECK
        # udp_offload.c __udp_gso_segment: CHECKSUM_PARTIAL at the UDP header, > 1 mss
        if skb.ip_summed != CHECKSUM_PARTIAL or skb.csum_start != d + toff:
            raise _GsoError("UDP GSO needs CHECKSUM_PARTIAL at the UDP header")
        if skb.len <= toff + thlen + skb.gso_size:
            raise _GsoError("UDP GSO payload within one mss")
    else:
        raise _GsoError("unsupported gso_type")  # -EPROTONOSUPPORT
    hdr_len = toff + thlen
    plen = skb.len - hdr_len
    mss = skb.gso_size
    if mss <= 0 or plen < 0:
        raise _GsoError("bad gso_size or truncated")
    nseg = max(1, -(-plen // mss))
    is_tcp = check_off == _TCP_CHECK
    saddr = _unpack32(hb, l2 + 12)[0]
    daddr = _unpack32(hb, l2 + 16)[0]
    seq = _unpack32(hb, toff + 4)[0] if is_tcp else 0
    tflags = hb[toff + 13] if is_tcp else 0
    hw_csum = can_checksum_protocol(features, ETH_P_IP)
    sg = bool(features & NETIF_F_SG)
    template = hb[:hdr_len]
    headroom = skb.headroom()
    counters = skb.counters
    pieces = _payload_pieces(skb, hdr_len)
    pi = 0  # cursor over pieces: index and bytes already used of pieces[pi]
    used = 0
    segs: list[SkBuff] = []
    for i in range(nseg):
        n = min(mss, plen - i * mss) if plen else 0
        # this segment's payload: copied parts first (linear source or no SG), then frags
        copied: list[memoryview] = []
        shared: list[tuple[memoryview, int, int]] = []
        left = n
        while left:
            page, off, size, is_frag = pieces[pi]
            take = min(left, size - used)
            if is_frag and sg:
                shared.append((page, off + used, take))
            else:
                if shared:  # linear bytes after a frag: cannot happen in order
                    raise _GsoError("payload order")
                copied.append(page[off + used:off + used + take])
            used += take
            left -= take
            if used == size:
                pi += 1
                used = 0
        if len(shared) > MAX_SKB_FRAGS:
            raise _GsoError("skb_segment: too many frags")
        lin = sum(len(c) for c in copied)
        seg = alloc_skb(headroom + hdr_len + lin, counters)
        seg.reserve(headroom)
        seg.put_data(template)
        for c in copied:
            seg.put_data(c)
        if lin and counters is not None:
            counters.bytes_copied += lin
        for page, off, size in shared:
            seg.add_frag(page, off, size)
        sd = seg.data_off
        head = seg.head
        ip = sd + l2
        th = sd + toff
        # af_inet.c inet_gso_segment: tot_len, id, ip_send_check
        _pack16(head, ip + 2, ihl + thlen + n)
        if not fixedid:
            _pack16(head, ip + 4, (ip_id + i) & 0xFFFF)
        _pack16(head, ip + 10, 0)
        _pack16(head, ip + 10, ~ones_sum(memoryview(head)[ip:ip + ihl]) & 0xFFFF)
        if is_tcp:
            # tcp_offload.c tcp_gso_segment: seq += mss; FIN/PSH last only; CWR first only
            _pack32(head, th + 4, (seq + i * mss) & 0xFFFFFFFF)
            f = tflags
            if i != nseg - 1:
                f &= ~_TCP_FIN_PSH
            if i:
                f &= ~_TCP_CWR
            head[th + 13] = f
        else:
            _pack16(head, th + 4, thlen + n)  # udp_offload.c: uh->len per segment
        seglen = thlen + n
        pseudo = pseudo_header_sum(saddr, daddr, proto, seglen)
        if hw_csum:
            # gso_reset_checksum: the device finishes from csum_start
            _pack16(head, th + check_off, csum_fold(pseudo))
            seg.ip_summed = CHECKSUM_PARTIAL
            seg.csum_start = th
            seg.csum_offset = check_off
        else:
            # gso_make_checksum: the full checksum in software
            _pack16(head, th + check_off, 0)
            views = [memoryview(head)[th:seg.tail]]
            views.extend(p[o:o + s] for p, o, s in shared)
            check = ~csum_fold(_sum_views(views, pseudo)) & 0xFFFF
            if not is_tcp and not check:
                check = 0xFFFF  # udp_offload.c: ?: CSUM_MANGLED_0 (RFC 768)
            _pack16(head, th + check_off, check)
            seg.ip_summed = CHECKSUM_NONE
        _copy_meta(skb, seg)
        seg.mac_header = sd
        seg.network_header = ip
        seg.transport_header = th
        seg.mac_len = l2
        segs.append(seg)
    return segs


def skb_gso_segment(skb: SkBuff, features: Features, *, drop: DropFn) -> list[SkBuff]:
    """skb_gso_segment (net/core/gso.c) for TCPv4 (SKB_GSO_TCPV4) and UDPv4
    (SKB_GSO_UDP_L4) super-packets: the list of wire-ready segments.

    A non-gso skb comes back alone (``[skb]``). On success the caller still owns
    ``skb`` (validate_xmit_skb consumes it); on failure it is dropped through
    ``drop(skb, SKB_DROP_REASON_SKB_GSO_SEG)`` and the list is empty.
    """
    if not skb.gso_size:
        return [skb]
    try:
        return _segment(skb, netdev_features(features))
    except (_GsoError, SkbError, struct.error, IndexError):
        drop(skb, SkbDropReason.SKB_GSO_SEG)
        return []


def validate_xmit_skb(skb: SkBuff, dev_features: Features, drop: DropFn, *,
                      consume: Callable[[SkBuff], None] | None = None,
                      gso_max_segs: int = GSO_MAX_SEGS) -> list[SkBuff]:
    """validate_xmit_skb (dev.c): what the driver gets for ``skb`` given the device's
    features: the skb itself (TSO/checksum offloaded, or finished by
    skb_checksum_help), its software GSO segments (the gso skb is then consumed via
    ``consume``, default ``skb.free``), or nothing when it was dropped via ``drop``.
    VLAN insertion (validate_xmit_vlan) and xfrm are not modelled."""
    try:
        features = netif_skb_features(skb, netdev_features(dev_features), gso_max_segs)
    except struct.error:
        features = 0
    if netif_needs_gso(skb, features):
        segs = skb_gso_segment(skb, features, drop=drop)
        if segs and segs[0] is not skb:
            from tuxnet.tcp.tsq import tcp_gso_copy_destructor

            tcp_gso_copy_destructor(skb, segs)  # tcp_gso_segment: copy_destructor
            (consume or SkBuff.free)(skb)
        return segs
    if skb.data_len and not features & NETIF_F_SG:  # skb_needs_linearize
        try:
            skb.linearize()
        except SkbError:
            drop(skb, SkbDropReason.NOMEM)
            return []
    if skb.ip_summed == CHECKSUM_PARTIAL and not skb_csum_hwoffload_help(skb, features):
        drop(skb, SkbDropReason.SKB_CSUM)
        return []
    return [skb]

