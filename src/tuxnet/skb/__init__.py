"""sk_buff, the packet buffer (include/linux/skbuff.h, net/core/skbuff.c).

Layout, as in Linux::

    head            data               tail            end
     |<- headroom ->|<- linear data ->|<- tailroom ->|    + frags (data_len bytes)

``head`` is a ``bytearray``; ``data_off``, ``tail``, ``end`` and the header marks are
integer offsets into it (Linux's NET_SKBUFF_DATA_USES_OFFSET on 64-bit). ``len`` counts
linear plus paged bytes, ``data_len`` the paged part (frags), as in Linux. The ``data``
property is a writable memoryview of data..tail (the linear part only).

The shared info (struct skb_shared_info: dataref, frags) is an object referenced by the
skb and by its clones; a clone shares the head buffer and frags, writes through one are
visible to the other until ``cow_head``/``unshare``/``pskb_expand_head`` make a private
copy. Deviation: gso_size/gso_segs/gso_type live on the skb, not in the shared info.

Sizes follow Linux on x86_64 (6.x): ``alloc_skb(size)`` rounds the head like
kmalloc_reserve does, so tailroom can exceed ``size``; ``truesize`` is SKB_TRUESIZE of
the usable size, i.e. kmalloc'd head + SKB_DATA_ALIGN(sizeof(struct sk_buff)).

Misuse raises a subclass of :class:`SkbError` and leaves the skb unchanged.
"""

from tuxnet.skb.buff import SkBuff, alloc_skb, build_skb, netdev_alloc_skb
from tuxnet.skb.defs import (
    CHECKSUM_COMPLETE,
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    CHECKSUM_UNNECESSARY,
    HEADER_UNSET,
    KMALLOC_MAX_SIZE,
    MAX_SKB_FRAGS,
    NET_IP_ALIGN,
    NET_SKB_PAD,
    PACKET_BROADCAST,
    PACKET_HOST,
    PACKET_MULTICAST,
    PACKET_OTHERHOST,
    PACKET_OUTGOING,
    SKB_GSO_DODGY,
    SKB_GSO_TCP_ECN,
    SKB_GSO_TCP_FIXEDID,
    SKB_GSO_TCPV4,
    SKB_GSO_TCPV6,
    SKB_GSO_UDP_L4,
    SKB_SHINFO_SIZE,
    SKB_SKBUFF_SIZE,
    SKB_SMALL_HEAD_CACHE_SIZE,
    SKB_TRUESIZE_OVERHEAD,
    SMP_CACHE_BYTES,
    BufferLike,
    SkbCounters,
    SkbError,
    SkbFault,
    SkbFrag,
    SkbOverPanic,
    SkbSharedInfo,
    SkbUnderPanic,
)

__all__ = [
    "CHECKSUM_COMPLETE",
    "CHECKSUM_NONE",
    "CHECKSUM_PARTIAL",
    "CHECKSUM_UNNECESSARY",
    "HEADER_UNSET",
    "KMALLOC_MAX_SIZE",
    "MAX_SKB_FRAGS",
    "NET_IP_ALIGN",
    "NET_SKB_PAD",
    "PACKET_BROADCAST",
    "PACKET_HOST",
    "PACKET_MULTICAST",
    "PACKET_OTHERHOST",
    "PACKET_OUTGOING",
    "SKB_GSO_DODGY",
    "SKB_GSO_TCPV4",
    "SKB_GSO_TCPV6",
    "SKB_GSO_TCP_ECN",
    "SKB_GSO_TCP_FIXEDID",
    "SKB_GSO_UDP_L4",
    "SKB_SHINFO_SIZE",
    "SKB_SKBUFF_SIZE",
    "SKB_SMALL_HEAD_CACHE_SIZE",
    "SKB_TRUESIZE_OVERHEAD",
    "SMP_CACHE_BYTES",
    "BufferLike",
    "SkBuff",
    "SkbCounters",
    "SkbError",
    "SkbFault",
    "SkbFrag",
    "SkbOverPanic",
    "SkbSharedInfo",
    "SkbUnderPanic",
    "alloc_skb",
    "build_skb",
    "netdev_alloc_skb",
]
