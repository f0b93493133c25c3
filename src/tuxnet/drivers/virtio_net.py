"""struct virtio_net_hdr: the offload header in front of each frame on a TAP with
IFF_VNET_HDR (include/uapi/linux/virtio_net.h; virtio spec 1.2 5.1.6), and its mapping
to sk_buff metadata (include/linux/virtio_net.h: virtio_net_hdr_to_skb,
virtio_net_hdr_from_skb).

Layout, little-endian (virtio 1.x, VIRTIO_F_VERSION_1; tuxnet sets TUNSETVNETLE)::

    u8 flags  u8 gso_type  le16 hdr_len  le16 gso_size  le16 csum_start  le16 csum_offset
    [le16 num_buffers]      10 bytes, or 12 (virtio_net_hdr_mrg_rxbuf / virtio_net_hdr_v1)

NEEDS_CSUM means "the checksum at csum_start + csum_offset holds only the pseudo-header
sum; finish it over csum_start..end" (CHECKSUM_PARTIAL). DATA_VALID means "already
verified" (CHECKSUM_UNNECESSARY). A gso_type other than NONE makes the frame a GSO
super-frame of up to 64 KiB that the receiver may cut into gso_size-byte segments.
A header the kernel would refuse (-EINVAL) raises :class:`VirtioNetHdrError`, whose
``reason`` is SKB_DROP_REASON_DEV_HDR, the reason tun_get_user drops with.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import (
    CHECKSUM_PARTIAL,
    CHECKSUM_UNNECESSARY,
    SKB_GSO_DODGY,
    SKB_GSO_TCP_ECN,
    SKB_GSO_TCPV4,
    SKB_GSO_TCPV6,
    SKB_GSO_UDP_L4,
    SKB_TRUESIZE_OVERHEAD,
    SkbCounters,
    SkBuff,
    build_skb,
)
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.errors import WireError

__all__ = [
    "SKB_GSO_UDP",
    "VIRTIO_NET_HDR_F_DATA_VALID",
    "VIRTIO_NET_HDR_F_NEEDS_CSUM",
    "VIRTIO_NET_HDR_F_RSC_INFO",
    "VIRTIO_NET_HDR_GSO_ECN",
    "VIRTIO_NET_HDR_GSO_NONE",
    "VIRTIO_NET_HDR_GSO_TCPV4",
    "VIRTIO_NET_HDR_GSO_TCPV6",
    "VIRTIO_NET_HDR_GSO_UDP",
    "VIRTIO_NET_HDR_GSO_UDP_L4",
    "VNET_HDR_LEN",
    "VNET_HDR_MRG_LEN",
    "VNET_HDR_NONE",
    "VirtioNetHdr",
    "VirtioNetHdrError",
    "complete_csum",
    "receive_buf",
    "virtio_net_hdr_from_skb",
    "virtio_net_hdr_to_skb",
]

# include/uapi/linux/virtio_net.h: struct virtio_net_hdr flags
VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
VIRTIO_NET_HDR_F_DATA_VALID = 2
VIRTIO_NET_HDR_F_RSC_INFO = 4
# include/uapi/linux/virtio_net.h: gso_type (UDP_L4 is virtio spec 1.2 5.1.6, Linux 5.18)
VIRTIO_NET_HDR_GSO_NONE = 0
VIRTIO_NET_HDR_GSO_TCPV4 = 1
VIRTIO_NET_HDR_GSO_UDP = 3
VIRTIO_NET_HDR_GSO_TCPV6 = 4
VIRTIO_NET_HDR_GSO_UDP_L4 = 5
VIRTIO_NET_HDR_GSO_ECN = 0x80

VNET_HDR_LEN = 10  # sizeof(struct virtio_net_hdr)
VNET_HDR_MRG_LEN = 12  # sizeof(struct virtio_net_hdr_mrg_rxbuf) == virtio_net_hdr_v1

SKB_GSO_UDP = 1 << 16  # include/linux/skbuff.h: SKB_GSO_UDP (UFO, legacy)
GSO_BY_FRAGS = 0xFFFF  # include/linux/netdevice.h
UDP_MAX_SEGMENTS = 1 << 7  # include/linux/udp.h
_TCP_CSUM_OFF = 16  # offsetof(struct tcphdr, check)
_UDP_CSUM_OFF = 6  # offsetof(struct udphdr, check)
_TCP_HLEN = 20  # sizeof(struct tcphdr)
_UDP_HLEN = 8  # sizeof(struct udphdr)
_IP_HLEN = 20  # sizeof(struct iphdr)
_IPV6_HLEN = 40  # sizeof(struct ipv6hdr)
_ETH_HLEN = 14
_VLAN_HLEN = 4
_ETH_P_IP = 0x0800
_ETH_P_IPV6 = 0x86DD
_VLAN_TPIDS = (0x8100, 0x88A8)
_IPPROTO_TCP = 6
_IPPROTO_UDP = 17

_S10 = struct.Struct("<BBHHHH")
_S12 = struct.Struct("<BBHHHHH")
_unpack10 = _S10.unpack_from
_unpack12 = _S12.unpack_from
_U16BE = struct.Struct("!H")
_u16be = _U16BE.unpack_from


class VirtioNetHdrError(WireError):
    """A virtio_net_hdr that virtio_net_hdr_to_skb/_from_skb refuses (-EINVAL)."""

    default_reason = SkbDropReason.DEV_HDR


class VirtioNetHdr(NamedTuple):
    """struct virtio_net_hdr (+ num_buffers): immutable, so one instance can be shared
    (see :data:`VNET_HDR_NONE`)."""

    flags: int = 0
    gso_type: int = VIRTIO_NET_HDR_GSO_NONE
    hdr_len: int = 0
    gso_size: int = 0
    csum_start: int = 0
    csum_offset: int = 0
    num_buffers: int = 0

    @classmethod
    def unpack(cls, buf: bytes | bytearray | memoryview, offset: int = 0,
               size: int = VNET_HDR_MRG_LEN) -> VirtioNetHdr:
        """Parse a 10- or 12-byte header at ``offset``."""
        if size not in (VNET_HDR_LEN, VNET_HDR_MRG_LEN):
            raise ValueError(f"virtio_net_hdr is 10 or 12 bytes, not {size}")
        if len(buf) - offset < size or offset < 0:
            raise VirtioNetHdrError(f"virtio_net_hdr: {len(buf) - offset} bytes, need {size}")
        if size == VNET_HDR_MRG_LEN:
            return tuple.__new__(cls, _unpack12(buf, offset))
        return tuple.__new__(cls, (*_unpack10(buf, offset), 0))

    def pack(self, size: int = VNET_HDR_MRG_LEN) -> bytes:
        """The header's bytes: 12 (with num_buffers) or 10."""
        if size == VNET_HDR_MRG_LEN:
            return _S12.pack(*self)
        if size == VNET_HDR_LEN:
            return _S10.pack(*self[:6])
        raise ValueError(f"virtio_net_hdr is 10 or 12 bytes, not {size}")

    def pack_into(self, buf: bytearray | memoryview, offset: int = 0,
                  size: int = VNET_HDR_MRG_LEN) -> None:
        """Write the header into ``buf`` at ``offset``."""
        if size == VNET_HDR_MRG_LEN:
            _S12.pack_into(buf, offset, *self)
        elif size == VNET_HDR_LEN:
            _S10.pack_into(buf, offset, *self[:6])
        else:
            raise ValueError(f"virtio_net_hdr is 10 or 12 bytes, not {size}")

    @property
    def is_gso(self) -> bool:
        """A GSO super-frame (gso_type != NONE)."""
        return self.gso_type != VIRTIO_NET_HDR_GSO_NONE

    @property
    def needs_csum(self) -> bool:
        """VIRTIO_NET_HDR_F_NEEDS_CSUM: the L4 checksum is partial."""
        return bool(self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)

    def __str__(self) -> str:
        names = {0: "none", 1: "tcpv4", 3: "udp", 4: "tcpv6", 5: "udp_l4"}
        gso = names.get(self.gso_type & ~VIRTIO_NET_HDR_GSO_ECN, f"{self.gso_type:#x}")
        if self.gso_type & VIRTIO_NET_HDR_GSO_ECN:
            gso += "|ecn"
        return (f"vnet_hdr flags={self.flags:#x} gso={gso} hdr_len={self.hdr_len}"
                f" gso_size={self.gso_size} csum={self.csum_start}+{self.csum_offset}")


VNET_HDR_NONE = VirtioNetHdr()  # no offload: what a plain, fully checksummed frame carries


def _probe_transport(data: memoryview, ip_proto: int, need_v6: bool) -> int:
    """Offset of the L4 header of an Ethernet frame carrying IPv4/IPv6 ``ip_proto``;
    the flow-dissector probe virtio_net_hdr_to_skb runs for GSO without NEEDS_CSUM."""
    n = len(data)
    off = _ETH_HLEN
    if n < off:
        raise VirtioNetHdrError("virtio_net_hdr: GSO frame shorter than Ethernet")
    etype = _u16be(data, 12)[0]
    if etype in _VLAN_TPIDS:
        if n < off + _VLAN_HLEN:
            raise VirtioNetHdrError("virtio_net_hdr: GSO frame with a cut VLAN tag")
        etype = _u16be(data, 16)[0]
        off += _VLAN_HLEN
    if etype == _ETH_P_IP and not need_v6:
        if n < off + _IP_HLEN or data[off] >> 4 != 4:
            raise VirtioNetHdrError("virtio_net_hdr: GSO frame with a bad IPv4 header")
        proto = data[off + 9]
        off += (data[off] & 0x0F) * 4
    elif etype == _ETH_P_IPV6:
        if n < off + _IPV6_HLEN:
            raise VirtioNetHdrError("virtio_net_hdr: GSO frame with a cut IPv6 header")
        proto = data[off + 6]
        off += _IPV6_HLEN
    else:
        raise VirtioNetHdrError(f"virtio_net_hdr: GSO frame of ethertype {etype:#06x}")
    if proto != ip_proto:
        raise VirtioNetHdrError(f"virtio_net_hdr: GSO type does not match protocol {proto}")
    return off


def virtio_net_hdr_to_skb(skb: SkBuff, hdr: VirtioNetHdr) -> None:
    """virtio_net_hdr_to_skb (include/linux/virtio_net.h): set ip_summed, csum_start/
    offset, the transport header and gso_size/gso_type (+ DODGY) from ``hdr``; skb->data
    is the Ethernet header. DATA_VALID gives CHECKSUM_UNNECESSARY (virtio_net.c
    receive_buf). Raises VirtioNetHdrError (DEV_HDR) where Linux returns -EINVAL."""
    gso = hdr.gso_type
    gso_type = 0
    thlen = 0
    ip_proto = 0
    need_v6 = False
    if gso != VIRTIO_NET_HDR_GSO_NONE:
        base = gso & ~VIRTIO_NET_HDR_GSO_ECN
        if base == VIRTIO_NET_HDR_GSO_TCPV4:
            gso_type, ip_proto, thlen = SKB_GSO_TCPV4, _IPPROTO_TCP, _TCP_HLEN
        elif base == VIRTIO_NET_HDR_GSO_TCPV6:
            gso_type, ip_proto, thlen, need_v6 = SKB_GSO_TCPV6, _IPPROTO_TCP, _TCP_HLEN, True
        elif base == VIRTIO_NET_HDR_GSO_UDP:
            gso_type, ip_proto, thlen = SKB_GSO_UDP, _IPPROTO_UDP, _UDP_HLEN
        elif base == VIRTIO_NET_HDR_GSO_UDP_L4:
            gso_type, ip_proto, thlen = SKB_GSO_UDP_L4, _IPPROTO_UDP, _UDP_HLEN
        else:
            raise VirtioNetHdrError(f"virtio_net_hdr: unknown gso_type {gso:#x}")
        if gso & VIRTIO_NET_HDR_GSO_ECN:
            gso_type |= SKB_GSO_TCP_ECN
        if hdr.gso_size == 0:
            raise VirtioNetHdrError("virtio_net_hdr: GSO with gso_size 0")
    headroom = skb.data_off
    length = skb.len
    headlen = length - skb.data_len
    skb.mac_header = headroom  # skb_reset_mac_header
    p_off = 0
    if hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM:
        start = hdr.csum_start
        off = hdr.csum_offset
        needed = start + max(thlen, off + 2)
        # pskb_may_pull(needed), then skb_partial_csum_set's bounds
        if needed > length or start > headlen or start + off > headlen - 2:
            raise VirtioNetHdrError(f"virtio_net_hdr: csum {start}+{off} outside a "
                                    f"{length}-byte frame")
        skb.ip_summed = CHECKSUM_PARTIAL
        skb.csum_start = headroom + start
        skb.csum_offset = off
        skb.transport_header = headroom + start
        p_off = start + thlen
        if p_off > length:
            raise VirtioNetHdrError("virtio_net_hdr: transport header past the frame")
    else:
        if gso_type:
            t_off = _probe_transport(skb.data, ip_proto, need_v6)
            if t_off + thlen > length:
                raise VirtioNetHdrError("virtio_net_hdr: transport header past the frame")
            skb.transport_header = headroom + t_off
            p_off = t_off + thlen
        if hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID:
            skb.ip_summed = CHECKSUM_UNNECESSARY
    if gso_type:
        gso_size = hdr.gso_size
        nh_off = p_off
        base_type = gso_type & ~SKB_GSO_TCP_ECN
        if base_type == SKB_GSO_UDP:
            nh_off -= thlen  # UFO may not count the UDP header in gso_size
        elif base_type == SKB_GSO_UDP_L4:
            if not hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM or hdr.csum_offset != _UDP_CSUM_OFF:
                raise VirtioNetHdrError("virtio_net_hdr: UDP_L4 GSO without a UDP csum")
            if length - p_off > gso_size * UDP_MAX_SEGMENTS:
                raise VirtioNetHdrError("virtio_net_hdr: UDP_L4 GSO over UDP_MAX_SEGMENTS")
            if gso_type != SKB_GSO_UDP_L4:
                raise VirtioNetHdrError("virtio_net_hdr: UDP_L4 GSO with ECN")
        elif skb.ip_summed == CHECKSUM_PARTIAL and skb.csum_offset != _TCP_CSUM_OFF:
            raise VirtioNetHdrError("virtio_net_hdr: TCP GSO with csum_offset "
                                    f"{skb.csum_offset}")
        if gso_size == GSO_BY_FRAGS:
            raise VirtioNetHdrError("virtio_net_hdr: gso_size GSO_BY_FRAGS")
        if length - nh_off > gso_size:  # too small packets are not really GSO ones
            skb.gso_size = gso_size
            skb.gso_type = gso_type | SKB_GSO_DODGY  # header must be checked
            skb.gso_segs = 0  # computed later, as Linux does


def virtio_net_hdr_from_skb(skb: SkBuff, *, has_data_valid: bool = False,
                            vlan_hlen: int = 0) -> VirtioNetHdr:
    """virtio_net_hdr_from_skb (include/linux/virtio_net.h): the header describing
    ``skb``'s GSO and checksum state (hdr_len is skb_headlen, a hint as in Linux).
    Raises VirtioNetHdrError for a GSO type virtio cannot carry."""
    gso_type = VIRTIO_NET_HDR_GSO_NONE
    hdr_len = gso_size = 0
    if skb.gso_size:  # skb_is_gso
        t = skb.gso_type
        if t & SKB_GSO_TCPV4:
            gso_type = VIRTIO_NET_HDR_GSO_TCPV4
        elif t & SKB_GSO_TCPV6:
            gso_type = VIRTIO_NET_HDR_GSO_TCPV6
        elif t & SKB_GSO_UDP_L4:
            gso_type = VIRTIO_NET_HDR_GSO_UDP_L4
        else:
            raise VirtioNetHdrError(f"virtio_net_hdr: cannot carry gso_type {t:#x}")
        if t & SKB_GSO_TCP_ECN:
            gso_type |= VIRTIO_NET_HDR_GSO_ECN
        hdr_len = skb.len - skb.data_len
        gso_size = skb.gso_size
    flags = csum_start = csum_offset = 0
    if skb.ip_summed == CHECKSUM_PARTIAL:
        flags = VIRTIO_NET_HDR_F_NEEDS_CSUM
        csum_start = skb.csum_start - skb.data_off + vlan_hlen  # skb_checksum_start_offset
        csum_offset = skb.csum_offset
    elif has_data_valid and skb.ip_summed == CHECKSUM_UNNECESSARY:
        flags = VIRTIO_NET_HDR_F_DATA_VALID
    if not flags and not gso_type:
        return VNET_HDR_NONE
    return VirtioNetHdr(flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def receive_buf(frame: bytearray, hdr: VirtioNetHdr | None,
                counters: SkbCounters | None = None) -> SkBuff:
    """receive_buf (drivers/net/virtio_net.c): wrap a frame read from the TAP in an
    skb without copying (build_skb), then apply its header (virtio_net_hdr_to_skb).
    Raises VirtioNetHdrError (DEV_HDR) for a header Linux would refuse."""
    n = len(frame)
    if frame.__class__ is bytearray:  # build_skb inline: what a TAP read gives
        skb = SkBuff(frame, n + SKB_TRUESIZE_OVERHEAD, counters)
        if counters is not None:
            counters.alloc += 1
    else:
        skb = build_skb(frame, counters)  # SkbError unless a bytearray
    skb.tail = skb.len = n  # skb_put(skb, len) on the empty skb, inline
    if hdr is not None and hdr is not VNET_HDR_NONE:
        virtio_net_hdr_to_skb(skb, hdr)
    else:
        skb.mac_header = 0
    return skb


def complete_csum(frame: bytearray | memoryview, hdr: VirtioNetHdr) -> bool:
    """Finish a NEEDS_CSUM frame's L4 checksum in place, as skb_checksum_help does for
    CHECKSUM_PARTIAL: fold csum_start..end (the field holds the pseudo-header sum) and
    store its complement at csum_start + csum_offset. False when there is nothing to do
    or the offsets are outside the frame."""
    if not hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM:
        return False
    start = hdr.csum_start
    at = start + hdr.csum_offset
    if at + 2 > len(frame):
        return False
    # skb_checksum_help: csum_fold(csum) ?: CSUM_MANGLED_0 (RFC 768: zero is sent as ones)
    check = (~ones_sum(memoryview(frame)[start:]) & 0xFFFF) or 0xFFFF
    frame[at] = check >> 8
    frame[at + 1] = check & 0xFF
    return True
