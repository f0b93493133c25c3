"""sk_buff constants, errors, counters and the shared-info types (skbuff.h facts).

See :mod:`tuxnet.skb` for the buffer itself.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# --- constants (facts from Linux, x86_64) --------------------------------------------

SMP_CACHE_BYTES = 64  # arch/x86: L1_CACHE_BYTES 64
NET_SKB_PAD = 64  # skbuff.h: max(32, L1_CACHE_BYTES)
NET_IP_ALIGN = 0  # arch/x86/include/asm/processor.h: NET_IP_ALIGN 0
MAX_SKB_FRAGS = 17  # CONFIG_MAX_SKB_FRAGS default 17 (65536 / PAGE_SIZE + 1)
SKB_SHINFO_SIZE = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), 17 frags
SKB_SKBUFF_SIZE = 256  # SKB_DATA_ALIGN(sizeof(struct sk_buff)); slab object 224 here
SKB_SMALL_HEAD_CACHE_SIZE = 576  # /proc/slabinfo: skbuff_small_head objsize 576
SKB_TRUESIZE_OVERHEAD = SKB_SKBUFF_SIZE + SKB_SHINFO_SIZE  # SKB_TRUESIZE(X) - X = 576
KMALLOC_MAX_SIZE = 4 << 20  # 1 << (PAGE_SHIFT + MAX_PAGE_ORDER 10): larger fails
HEADER_UNSET = 0xFFFF  # skbuff.h: mac/transport_header = (typeof)~0U when not set

# if_packet.h: skb->pkt_type
PACKET_HOST = 0
PACKET_BROADCAST = 1
PACKET_MULTICAST = 2
PACKET_OTHERHOST = 3
PACKET_OUTGOING = 4

# skbuff.h: skb->ip_summed
CHECKSUM_NONE = 0
CHECKSUM_UNNECESSARY = 1
CHECKSUM_COMPLETE = 2
CHECKSUM_PARTIAL = 3

# skbuff.h: enum skb_gso_type (the ones a TCP/UDP stack uses)
SKB_GSO_TCPV4 = 1 << 0
SKB_GSO_DODGY = 1 << 1
SKB_GSO_TCP_ECN = 1 << 2
SKB_GSO_TCP_FIXEDID = 1 << 3
SKB_GSO_TCPV6 = 1 << 4
SKB_GSO_UDP_L4 = 1 << 17

_ALIGN_MASK = ~(SMP_CACHE_BYTES - 1)
_EMPTY = bytearray()
_EMPTY_MV = memoryview(_EMPTY)

BufferLike = bytes | bytearray | memoryview


# --- errors ------------------------------------------------------------------------


class SkbError(Exception):
    """Misuse of an sk_buff; the skb is left unchanged."""


class SkbUnderPanic(SkbError):
    """skb_under_panic: data would move before head (push/reserve past the headroom)."""


class SkbOverPanic(SkbError):
    """skb_over_panic: tail would pass end, or a pull/trim past the data there is."""


class SkbFault(SkbError):
    """-EFAULT from skb_copy_bits: the range is outside the skb."""


# --- counters ----------------------------------------------------------------------


class SkbCounters:
    """Allocation and copy counts for the skbs that reference it (none when None).

    alloc: alloc_skb/build_skb calls; free: heads released (by the last kfree_skb, or by
    pskb_expand_head replacing a private head), so once every skb is gone free == alloc +
    expand_head; clone: skb_clone; copy: skb_copy and
    pskb_copy; expand_head: pskb_expand_head reallocations (any cause); cow: skb_cow_head
    that had to reallocate; unshare: skb_unshare that copied; linearize: skb_linearize of
    a nonlinear skb; pull_tail: __pskb_pull_tail calls; bytes_copied: bytes memcpy'd by
    any of these and by copy_bits; frag_refs: page-fragment references taken.
    """

    __slots__ = ("alloc", "bytes_copied", "clone", "copy", "cow", "expand_head", "frag_refs",
                 "free", "linearize", "pull_tail", "unshare")

    def __init__(self) -> None:
        self.alloc = 0
        self.free = 0
        self.clone = 0
        self.copy = 0
        self.expand_head = 0
        self.cow = 0
        self.unshare = 0
        self.linearize = 0
        self.pull_tail = 0
        self.bytes_copied = 0
        self.frag_refs = 0

    def as_dict(self) -> dict[str, int]:
        """All counters by name."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return "SkbCounters(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


# --- shared info and frags -----------------------------------------------------------


class SkbFrag(NamedTuple):
    """skb_frag_t: ``size`` bytes at ``page_offset`` in an external buffer, not copied."""

    page: memoryview
    page_offset: int
    size: int

    def view(self) -> memoryview:
        """skb_frag_address: the fragment's bytes."""
        off = self.page_offset
        return self.page[off:off + self.size]


class SkbSharedInfo:
    """struct skb_shared_info: the head buffer's reference count and the paged frags.

    Shared by an skb and its clones. ``frags`` must only change while dataref == 1.
    """

    __slots__ = ("dataref", "destructor_arg", "frags", "head", "nohdr_refs", "tskey",
                 "tx_flags")

    def __init__(self, head: bytearray, frags: list[SkbFrag] | None = None) -> None:
        self.head = head
        self.dataref = 1
        # zerocopy: the ubuf_info whose user pages the frags reference (skb_zcopy), and
        # the tx timestamp request (SKBTX_* flags, the byte key); see skb/zcopy.py
        self.destructor_arg: Any = None
        self.tx_flags = 0
        self.tskey = 0
        # the payload-only references among dataref (Linux: dataref >> SKB_DATAREF_SHIFT),
        # taken by skbs that released their header (__skb_header_release, skb->nohdr)
        self.nohdr_refs = 0
        self.frags: list[SkbFrag] = [] if frags is None else frags


def _kmalloc_reserve(size: int) -> int:
    """kmalloc_reserve: bytes really allocated for a head of ``size`` bytes plus shinfo."""
    obj = ((size + SMP_CACHE_BYTES - 1) & _ALIGN_MASK) + SKB_SHINFO_SIZE  # SKB_HEAD_ALIGN
    if obj <= SKB_SMALL_HEAD_CACHE_SIZE:
        return SKB_SMALL_HEAD_CACHE_SIZE  # skbuff.c: skb_small_head_cache
    # kmalloc_size_roundup: kmalloc-1k/2k/4k/8k, then whole page orders: powers of two
    return 1 << (obj - 1).bit_length()


def _as_byte_view(buf: BufferLike) -> memoryview:
    """A flat byte memoryview over ``buf`` without copying."""
    try:
        mv = buf if isinstance(buf, memoryview) else memoryview(buf)
        if mv.ndim != 1 or mv.itemsize != 1 or mv.format != "B":
            mv = mv.cast("B")
        if not mv.c_contiguous:
            raise TypeError("not contiguous")
    except TypeError as exc:
        raise SkbError("frag buffer must be a contiguous bytes-like object") from exc
    return mv


# --- the sk_buff -------------------------------------------------------------------
