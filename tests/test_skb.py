"""tuxnet.skb: sk_buff geometry, clones, copies, cow, frags and their counters."""

from __future__ import annotations

import array
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.skb import (
    CHECKSUM_PARTIAL,
    HEADER_UNSET,
    MAX_SKB_FRAGS,
    NET_SKB_PAD,
    SKB_TRUESIZE_OVERHEAD,
    SkbCounters,
    SkbError,
    SkbFault,
    SkbOverPanic,
    SkbSharedInfo,
    SkBuff,
    SkbUnderPanic,
    alloc_skb,
    build_skb,
    netdev_alloc_skb,
)


def state(skb: SkBuff) -> tuple[Any, ...]:
    """Everything an error must leave unchanged."""
    return (skb.data_off, skb.tail, skb.end, skb.len, skb.data_len, bytes(skb.head),
            list(skb.frags), skb.mac_header, skb.network_header, skb.transport_header,
            skb.truesize, skb.cloned, skb.users, skb.shinfo.dataref, id(skb.head))


def content(skb: SkBuff) -> bytes:
    return skb.copy_bits(0, skb.len)


def check_invariants(skb: SkBuff) -> None:
    assert 0 <= skb.data_off <= skb.tail <= skb.end == len(skb.head)
    assert skb.len == skb.tail - skb.data_off + skb.data_len
    assert skb.data_len == sum(f.size for f in skb.frags)
    assert skb.nr_frags <= MAX_SKB_FRAGS
    assert skb.head is skb.shinfo.head
    assert bytes(skb.data) == bytes(skb.head[skb.data_off:skb.tail])


def built(payload: bytes = b"P" * 100, headroom: int = 128) -> SkBuff:
    skb = alloc_skb(2048)
    skb.reserve(headroom)
    skb.put_data(payload)
    return skb


# --- allocation ---------------------------------------------------------------------


@pytest.mark.parametrize(("size", "end", "truesize"), [
    (0, 256, 832),         # skbuff_small_head (576) - shinfo 320
    (256, 256, 832),
    (257, 704, 1280),      # 320 + 320 > 576 -> kmalloc-1024
    (1500, 1728, 2304),    # 1536 + 320 -> kmalloc-2048
    (2048, 3776, 4352),    # 2048 + 320 -> kmalloc-4096
    (9000, 16064, 16640),  # 9024 + 320 -> order-2 pages
])
def test_alloc_sizes_like_kmalloc_reserve(size: int, end: int, truesize: int) -> None:
    skb = alloc_skb(size)
    assert (skb.end, skb.truesize) == (end, truesize)
    assert skb.truesize == skb.end + SKB_TRUESIZE_OVERHEAD
    assert skb.len == skb.data_len == skb.headroom() == 0
    assert skb.tailroom() == end >= size
    assert not skb.mac_header_was_set() and not skb.transport_header_was_set()
    check_invariants(skb)


def test_new_skb_shinfo_is_skb_shared_info_init() -> None:
    """SkBuff.__init__ fills its shinfo inline: every field as SkbSharedInfo(head)."""
    buf = bytearray(64)
    sh = build_skb(buf).shinfo
    ref = SkbSharedInfo(buf)
    assert type(sh) is SkbSharedInfo
    for name in SkbSharedInfo.__slots__:
        assert getattr(sh, name) == getattr(ref, name), name
    assert sh.head is buf and sh.frags is not build_skb(buf).shinfo.frags


@pytest.mark.parametrize("size", [-1, 4 << 20, 1 << 40])
def test_alloc_bad_size(size: int) -> None:
    with pytest.raises(SkbError):
        alloc_skb(size)


def test_netdev_alloc_skb_reserves_net_skb_pad() -> None:
    dev = object()
    skb = netdev_alloc_skb(dev, 1514)
    assert skb.headroom() == NET_SKB_PAD == 64
    assert skb.tailroom() >= 1514 and skb.dev is dev


def test_build_skb_is_zero_copy() -> None:
    buf = bytearray(b"\x00" * 64 + b"frame" + b"\x00" * 59)
    c = SkbCounters()
    skb = build_skb(buf, c)
    skb.reserve(64)
    skb.put(5)
    assert bytes(skb.data) == b"frame"
    skb.data[0] = ord("F")
    assert buf[64:69] == b"Frame"
    assert skb.truesize == 128 + SKB_TRUESIZE_OVERHEAD
    assert c.alloc == 1 and c.bytes_copied == 0
    with pytest.raises(SkbError):
        build_skb(b"bytes are immutable")  # type: ignore[arg-type]


# --- put / push / pull / reserve / trim ---------------------------------------------------


def test_put_push_pull_views() -> None:
    skb = alloc_skb(2048)
    skb.reserve(128)
    assert (skb.headroom(), skb.tailroom()) == (128, 3776 - 128)
    v = skb.put(4)
    assert len(v) == 4 and not v.readonly
    v[:] = b"DATA"
    h = skb.push(2)
    h[:] = b"HH"
    assert bytes(skb.data) == b"HHDATA" and skb.len == 6 == len(skb)
    assert skb.headroom() == 126
    rest = skb.pull(2)
    assert bytes(rest) == b"DATA" and skb.headroom() == 128
    rest[0] = ord("d")  # the returned view is the skb's data
    assert bytes(skb.data) == b"dATA"
    assert bytes(skb.put_data(b"++")) == b"++" and bytes(skb.put_zero(2)) == b"\0\0"
    assert bytes(skb.data) == b"dATA++\0\0"
    check_invariants(skb)


def test_push_pull_put_past_limits_raise_and_change_nothing() -> None:
    skb = built(b"x" * 10, headroom=8)
    before = state(skb)
    with pytest.raises(SkbUnderPanic):
        skb.push(9)
    with pytest.raises(SkbOverPanic):
        skb.put(skb.tailroom() + 1)
    with pytest.raises(SkbOverPanic):
        skb.pull(11)
    for op in (skb.push, skb.put, skb.pull, skb.trim, skb.pskb_trim, skb.pskb_pull,
               skb.pskb_may_pull, skb.cow_head):
        with pytest.raises(SkbError):
            op(-1)
    with pytest.raises(SkbError):
        skb.reserve(4)  # not empty
    with pytest.raises(SkbError):
        skb.pskb_expand_head(-1, 0)
    assert state(skb) == before
    assert issubclass(SkbUnderPanic, SkbError) and issubclass(SkbOverPanic, SkbError)


def test_reserve_limits() -> None:
    skb = alloc_skb(0)
    with pytest.raises(SkbOverPanic):
        skb.reserve(257)
    with pytest.raises(SkbUnderPanic):
        skb.reserve(-1)
    skb.reserve(256)
    assert skb.tailroom() == 0 and skb.headroom() == 256


def test_trim() -> None:
    skb = built(b"0123456789")
    skb.trim(20)  # longer: no-op, like Linux
    assert skb.len == 10
    skb.trim(4)
    assert bytes(skb.data) == b"0123" and skb.tail == skb.data_off + 4
    skb.add_frag(b"abc", 0, 3)
    with pytest.raises(SkbError):
        skb.trim(2)  # skb_trim is for linear skbs
    skb.pskb_trim(5)
    assert content(skb) == b"0123a" and skb.frags[0].size == 1
    skb.pskb_trim(2)
    assert content(skb) == b"01" and skb.nr_frags == 0 and skb.data_len == 0
    check_invariants(skb)


# --- header marks ------------------------------------------------------------------------


def test_header_marks_and_views() -> None:
    skb = alloc_skb(256)
    skb.reserve(64)
    skb.put_data(b"T" * 20 + b"payload")
    skb.reset_transport_header()
    skb.push(20)[:] = b"I" * 20
    skb.reset_network_header()
    skb.push(14)[:] = b"E" * 14
    skb.reset_mac_header()
    skb.reset_mac_len()
    assert skb.mac_len == 14 and skb.skb_network_header_len() == 20
    assert bytes(skb.skb_mac_header()[:14]) == b"E" * 14
    assert bytes(skb.skb_network_header()[:20]) == b"I" * 20
    assert bytes(skb.skb_transport_header()) == b"T" * 20 + b"payload"
    skb.pull(14)
    assert skb.skb_network_offset() == 0 and skb.skb_transport_offset() == 20
    assert bytes(skb.skb_mac_header()[:2]) == b"EE"  # still there after the pull
    skb.set_transport_header(24)
    assert bytes(skb.skb_transport_header()[:4]) == b"TTTT"
    skb.set_network_header(-14)
    assert skb.network_header == skb.mac_header
    before = state(skb)
    with pytest.raises(SkbError):
        skb.set_network_header(-skb.headroom() - 1)
    with pytest.raises(SkbError):
        skb.set_mac_header(skb.end)
    assert state(skb) == before


def test_unset_header_views_raise() -> None:
    skb = built()
    assert skb.mac_header == skb.transport_header == HEADER_UNSET
    with pytest.raises(SkbError):
        skb.skb_mac_header()
    with pytest.raises(SkbError):
        skb.skb_transport_header()


# --- clones, cow, copy, unshare -------------------------------------------------------


def test_clone_shares_data_until_cow() -> None:
    c = SkbCounters()
    skb = alloc_skb(2048, c)
    skb.reserve(128)
    skb.put_data(b"shared payload")
    skb.reset_network_header()
    skb.priority = 6
    skb.cb = {"seq": 1}
    cl = skb.clone()
    assert cl is not skb and cl.head is skb.head and cl.shinfo is skb.shinfo
    assert skb.cloned and cl.cloned and skb.is_cloned() and cl.is_cloned()
    assert skb.shinfo.dataref == 2 and c.clone == 1 and c.bytes_copied == 0
    assert cl.priority == 6 and cl.network_header == skb.network_header
    assert cl.cb == {"seq": 1} and cl.cb is not skb.cb
    skb.data[0] = ord("S")
    assert bytes(cl.data) == b"Shared payload"  # writes show through the clone
    # Linux semantics: pushing into a clone's headroom without cow overwrites shared bytes
    cl.pull(6)
    cl.push(6)[:] = b"XXXXXX"
    assert bytes(skb.data) == b"XXXXXX payload"
    # cow_head makes a private copy: writes are no longer seen by the other
    assert cl.cow_head(0) is True
    assert c.cow == 1 and c.expand_head == 1 and cl.head is not skb.head
    assert not cl.is_cloned() and not skb.is_cloned() and skb.cloned  # flag stays, as Linux
    cl.data[0] = ord("Y")
    assert bytes(skb.data) == b"XXXXXX payload" and bytes(cl.data) == b"YXXXXX payload"
    assert skb.cow_head(0) is False  # private now and enough headroom: nothing to do
    check_invariants(skb)
    check_invariants(cl)


def test_clone_sets_every_slot_and_drops_socket() -> None:
    skb = built()
    skb.sk = object()
    skb.destructor = lambda s: None
    cl = skb.clone()
    for name in SkBuff.__slots__:
        getattr(cl, name)  # raises AttributeError if a slot was left unset
    assert cl.sk is None and cl.destructor is None and cl.truesize == skb.truesize


def test_clone_survives_original_free() -> None:
    c = SkbCounters()
    skb = alloc_skb(100, c)
    skb.put_data(b"keep me")
    cl = skb.clone()
    skb.free()
    assert bytes(cl.data) == b"keep me" and cl.shinfo.dataref == 1 and not cl.is_cloned()
    assert c.free == 0
    cl.free()
    assert c.free == 1


def test_cow_head_short_headroom_grows_by_aligned_delta() -> None:
    c = SkbCounters()
    skb = alloc_skb(1500, c)
    skb.reserve(10)
    skb.put_data(b"p" * 100)
    skb.reset_network_header()
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.csum_start = skb.data_off + 20
    old_end, old_true = skb.end, skb.truesize
    assert skb.cow_head(54) is True
    # __skb_cow: nhead = ALIGN(54 - 10, NET_SKB_PAD) = 64
    assert skb.headroom() == 10 + 64 and skb.network_header == 74
    assert skb.csum_start == 74 + 20
    assert bytes(skb.data) == b"p" * 100
    assert skb.end >= old_end + 64 and skb.truesize == old_true + skb.end - old_end
    assert (c.cow, c.expand_head, c.bytes_copied) == (1, 1, 110)
    check_invariants(skb)


def test_expand_head_counts_and_moves_marks() -> None:
    c = SkbCounters()
    skb = alloc_skb(256, c)
    skb.reserve(16)
    skb.put_data(b"abcdef")
    skb.reset_mac_header()
    skb.set_transport_header(2)
    skb.sk = object()  # owned by a socket: truesize unchanged (skbuff.c)
    t0 = skb.truesize
    skb.pskb_expand_head(100, 1000)
    assert skb.headroom() == 116 and skb.tailroom() >= 1000 + 256 - 22
    assert skb.mac_header == 116 and skb.transport_header == 118
    assert bytes(skb.skb_transport_header()) == b"cdef" and skb.truesize == t0
    assert c.expand_head == 1
    skb.sk = None
    end = skb.end
    skb.pskb_expand_head(0, 2000)
    assert skb.truesize == t0 + skb.end - end and skb.end > end


def test_headroom_saves_reallocations() -> None:
    """The lab's point: reserving room for the headers avoids pskb_expand_head."""
    def build(headroom: int) -> SkbCounters:
        c = SkbCounters()
        for _ in range(50):
            skb = alloc_skb(1500, c)
            skb.reserve(headroom)
            skb.put(1400)
            for hdr in (20, 20, 14):  # tcp, ip, ethernet
                skb.cow_head(hdr)
                skb.push(hdr)
            skb.free()
        return c
    tight, roomy = build(0), build(128)
    assert roomy.expand_head == 0 and roomy.bytes_copied == 0
    assert tight.expand_head == 50 and tight.bytes_copied == 50 * 1400
    assert tight.alloc == roomy.alloc == roomy.free == 50 and tight.free == 100


def test_copy_is_private_and_linear() -> None:
    c = SkbCounters()
    skb = alloc_skb(512, c)
    skb.reserve(32)
    skb.put_data(b"head")
    skb.reset_network_header()
    skb.add_frag(b"--frag--", 2, 4)
    skb.mark = 7
    skb.sk = object()
    n = skb.copy()
    assert c.copy == 1 and c.bytes_copied == 32 + 8  # headroom + len, as skb_copy
    assert content(n) == b"headfrag" and not n.is_nonlinear() and n.nr_frags == 0
    assert n.headroom() == 32 and n.network_header == skb.network_header
    assert n.mark == 7 and n.sk is None and not n.cloned and n.counters is c
    n.data[0] = ord("H")
    assert content(skb) == b"headfrag"
    check_invariants(n)


def test_pskb_copy_shares_frags() -> None:
    c = SkbCounters()
    page = bytearray(b"zero-copy page")
    skb = built(b"hdr")
    skb.counters = c
    skb.add_frag(page, 0, 4)
    n = skb.pskb_copy()
    assert content(n) == b"hdrzero" and n.frags[0].page.obj is page
    assert n.head is not skb.head and n.truesize == alloc_skb(131).truesize + 4
    page[0] = ord("Z")
    assert content(n) == content(skb) == b"hdrZero"
    assert c.frag_refs == 2 and c.copy == 1
    check_invariants(n)


def test_unshare() -> None:
    c = SkbCounters()
    skb = alloc_skb(100, c)
    skb.put_data(b"abc")
    assert skb.unshare() is skb and c.unshare == 0
    cl = skb.clone()
    n = cl.unshare()
    assert n is not cl and cl.users == 0  # the clone was consumed
    assert skb.shinfo.dataref == 1 and not skb.is_cloned()
    n.data[0] = ord("X")
    assert bytes(skb.data) == b"abc" and bytes(n.data) == b"Xbc"
    assert c.unshare == 1 and c.copy == 1


# --- frags ------------------------------------------------------------------------------


def test_add_frag_is_zero_copy() -> None:
    c = SkbCounters()
    skb = alloc_skb(128, c)
    skb.put_data(b"HDR")
    page = bytearray(b"....payload....")
    t0 = skb.truesize
    skb.add_frag(page, 4, 7)
    skb.add_frag(memoryview(b"tail"), 0, 4, truesize=2048)
    assert (skb.len, skb.data_len, skb.headlen(), skb.nr_frags) == (14, 11, 3, 2)
    assert skb.is_nonlinear() and skb.tailroom() == 0
    assert skb.truesize == t0 + 7 + 2048
    assert bytes(skb.data) == b"HDR"
    page[4] = ord("P")  # the frag references the page: no copy was made
    assert content(skb) == b"HDRPayloadtail"
    assert c.frag_refs == 2 and c.bytes_copied == len(b"HDRPayloadtail")
    with pytest.raises(SkbError):
        skb.put(1)  # SKB_LINEAR_ASSERT
    check_invariants(skb)


def test_add_frag_accepts_wider_items() -> None:
    skb = alloc_skb(0)
    skb.add_frag(array.array("H", [0x0102, 0x0304]), 1, 2)
    assert skb.len == 2 and len(content(skb)) == 2


def test_add_frag_errors_change_nothing() -> None:
    skb = built(b"x")
    before = state(skb)
    for off, size in ((-1, 1), (0, -1), (3, 3), (0, 6)):
        with pytest.raises(SkbError):
            skb.add_frag(b"12345", off, size)
    with pytest.raises(SkbError):
        skb.add_frag(memoryview(b"abcdef")[::2], 0, 1)  # not contiguous
    assert state(skb) == before
    cl = skb.clone()
    before = state(skb)
    with pytest.raises(SkbError):
        skb.add_frag(b"12345", 0, 1)
    assert state(skb) == before
    cl.free()
    for _ in range(MAX_SKB_FRAGS):
        skb.add_frag(b"f", 0, 1)
    before = state(skb)
    with pytest.raises(SkbError):
        skb.add_frag(b"f", 0, 1)
    assert state(skb) == before and skb.nr_frags == MAX_SKB_FRAGS == 17


def test_copy_bits_across_linear_and_frags() -> None:
    skb = built(b"0123")
    skb.push(2)[:] = b"hh"
    skb.pull(2)
    skb.add_frag(b"4567", 0, 4)
    skb.add_frag(b"xx89x", 2, 2)
    assert content(skb) == b"0123456789"
    assert skb.copy_bits(3, 4) == b"3456"
    assert skb.copy_bits(5, 4) == b"5678"
    assert skb.copy_bits(9, 1) == b"9" and skb.copy_bits(10, 0) == b""
    assert skb.copy_bits(-2, 4) == b"hh01"  # into the headroom, as skb_copy does
    out = bytearray(6)
    skb.copy_bits_into(2, out, 6)
    assert out == b"234567"
    before = state(skb)
    for off, ln in ((0, 11), (9, 2), (-skb.headroom() - 1, 1), (0, -1)):
        with pytest.raises(SkbFault):
            skb.copy_bits(off, ln)
    with pytest.raises(SkbFault):
        skb.copy_bits_into(0, bytearray(2), 3)
    assert state(skb) == before


def test_linearize_uses_tailroom_or_expands() -> None:
    c = SkbCounters()
    skb = alloc_skb(256, c)
    skb.put_data(b"L" * 10)
    skb.add_frag(b"a" * 100, 0, 100)
    skb.add_frag(b"b" * 100, 0, 100)
    skb.linearize()
    assert not skb.is_nonlinear() and skb.nr_frags == 0 and skb.len == 210
    assert bytes(skb.data) == b"L" * 10 + b"a" * 100 + b"b" * 100
    assert (c.linearize, c.expand_head, c.bytes_copied) == (1, 0, 200)  # fit in tailroom
    skb.add_frag(b"c" * 300, 0, 300)
    skb.linearize()
    assert c.expand_head == 1  # eat > 0: pskb_expand_head(0, eat + 128)
    assert skb.tailroom() >= 128 and content(skb)[-300:] == b"c" * 300
    skb.linearize()  # already linear: nothing
    assert c.linearize == 2
    check_invariants(skb)


def test_pskb_may_pull_and_pskb_pull() -> None:
    c = SkbCounters()
    skb = alloc_skb(256, c)
    skb.put_data(b"ETH")
    skb.add_frag(b"IPHDRpayload", 0, 12)
    assert skb.pskb_may_pull(3) and c.pull_tail == 0
    assert not skb.pskb_may_pull(16)
    assert skb.pskb_may_pull(8) and c.pull_tail == 1
    assert skb.headlen() == 8 and bytes(skb.data) == b"ETHIPHDR"
    assert skb.frags[0].page_offset == 5 and skb.frags[0].size == 7
    assert bytes(skb.pskb_pull(10)) == b""  # new data start: linear part now empty
    assert content(skb) == b"yload" and skb.headlen() == 0
    with pytest.raises(SkbOverPanic):
        skb.pull(1)  # into the paged part: Linux BUGs, tuxnet raises
    with pytest.raises(SkbOverPanic):
        skb.pskb_pull(6)
    check_invariants(skb)


def test_nonlinear_ops_on_clone_leave_clone_intact() -> None:
    c = SkbCounters()
    skb = alloc_skb(64, c)
    skb.put_data(b"AB")
    skb.add_frag(b"CDEF", 0, 4)
    skb.add_frag(b"GH", 0, 2)
    cl = skb.clone()
    skb.pskb_trim(4)
    assert content(skb) == b"ABCD" and content(cl) == b"ABCDEFGH"
    assert cl.nr_frags == 2 and c.frag_refs == 2 + 2
    cl2 = cl.clone()
    cl2.linearize()
    assert content(cl) == b"ABCDEFGH" and cl.nr_frags == 2
    cl3 = cl.clone()
    assert cl3.pskb_may_pull(5)
    assert content(cl) == b"ABCDEFGH" and cl.headlen() == 2


# --- users, free, destructor ------------------------------------------------------------------


def test_free_users_and_destructor() -> None:
    calls: list[SkBuff] = []
    c = SkbCounters()
    skb = alloc_skb(64, c)
    skb.destructor = calls.append
    assert skb.get() is skb and skb.is_shared()
    with pytest.raises(SkbError):
        skb.pskb_expand_head(0, 0)  # BUG_ON(skb_shared)
    skb.free()
    assert calls == [] and skb.users == 1 and c.free == 0
    skb.kfree()
    assert calls == [skb] and skb.users == 0 and c.free == 1
    with pytest.raises(SkbError):
        skb.free()
    for op in (skb.clone, skb.copy, skb.pskb_copy):
        with pytest.raises(SkbError):
            op()
    with pytest.raises(SkbError):
        skb.put(1)
    with pytest.raises(SkbError):
        skb.add_frag(b"x", 0, 1)
    assert skb.len == 0


def test_orphan_runs_destructor_once() -> None:
    calls: list[SkBuff] = []
    skb = built()
    skb.sk = object()
    skb.destructor = calls.append
    skb.orphan()
    skb.orphan()
    assert calls == [skb] and skb.sk is None


def test_iif_alias() -> None:
    skb = built()
    skb.iif = 3
    assert skb.skb_iif == 3 and skb.iif == 3 and bool(alloc_skb(0))


# --- property test: random operation sequences against a bytes model ----------------------


_OPS = st.one_of(
    st.tuples(st.just("push"), st.integers(0, 200), st.binary(min_size=200, max_size=200)),
    st.tuples(st.just("put"), st.integers(0, 300), st.binary(min_size=300, max_size=300)),
    st.tuples(st.just("pull"), st.integers(0, 200)),
    st.tuples(st.just("pskb_pull"), st.integers(0, 200)),
    st.tuples(st.just("trim"), st.integers(0, 400)),
    st.tuples(st.just("pskb_trim"), st.integers(0, 400)),
    st.tuples(st.just("add_frag"), st.binary(max_size=120), st.integers(0, 8)),
    st.tuples(st.just("linearize")),
    st.tuples(st.just("may_pull"), st.integers(0, 300)),
    st.tuples(st.just("expand"), st.integers(0, 100), st.integers(0, 100)),
    st.tuples(st.just("cow_head"), st.integers(0, 300)),
    st.tuples(st.just("clone")),
    st.tuples(st.just("free_clone")),
    st.tuples(st.just("copy")),
    st.tuples(st.just("unshare")),
    st.tuples(st.just("write"), st.binary(min_size=1, max_size=40)),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 600), st.integers(0, 200), st.lists(_OPS, max_size=40))
def test_random_operations_match_model(size: int, res: int, ops: list[tuple[Any, ...]]) -> None:
    c = SkbCounters()
    skb = alloc_skb(size, c)
    res = min(res, skb.end)
    skb.reserve(res)
    model = bytearray()
    clones: list[tuple[SkBuff, bytes]] = []
    for op in ops:
        name = op[0]
        if name in ("push", "put", "write") and skb.is_cloned():
            skb.cow_head(0)  # private before writing into the buffer
        before = state(skb)
        hl = skb.headlen()
        ok = True
        try:
            if name == "push":
                n, payload = op[1], op[2]
                ok = n <= skb.headroom()
                skb.push(n)[:] = payload[:n]
                model[:0] = payload[:n]
            elif name == "put":
                n, payload = op[1], op[2]
                ok = not skb.is_nonlinear() and n <= skb.tailroom()
                skb.put(n)[:] = payload[:n]
                model += payload[:n]
            elif name == "pull":
                ok = op[1] <= hl
                skb.pull(op[1])
                del model[:op[1]]
            elif name == "pskb_pull":
                ok = op[1] <= skb.len
                skb.pskb_pull(op[1])
                del model[:op[1]]
            elif name == "trim":
                ok = op[1] >= skb.len or not skb.is_nonlinear()
                skb.trim(op[1])
                del model[op[1]:]
            elif name == "pskb_trim":
                skb.pskb_trim(op[1])
                del model[op[1]:]
            elif name == "add_frag":
                payload, pad = op[1], op[2]
                ok = skb.shinfo.dataref == 1 and skb.nr_frags < MAX_SKB_FRAGS
                skb.add_frag(bytes(pad) + payload + b"!" * pad, pad, len(payload))
                model += payload
            elif name == "linearize":
                skb.linearize()
            elif name == "may_pull":
                may = op[1] <= skb.len
                assert skb.pskb_may_pull(op[1]) == may
                assert skb.headlen() >= op[1] or not may
            elif name == "expand":
                hr = skb.headroom()
                skb.pskb_expand_head(op[1], op[2])
                assert skb.headroom() == hr + op[1] and not skb.is_cloned()
            elif name == "cow_head":
                skb.cow_head(op[1])
                assert skb.headroom() >= op[1] and not skb.is_cloned()
            elif name == "clone":
                clones.append((skb.clone(), bytes(model)))
            elif name == "free_clone":
                if clones:
                    clones.pop(0)[0].free()
            elif name == "copy":
                n = skb.copy()
                assert content(n) == model and n.headroom() == skb.headroom()
                check_invariants(n)
                n.free()
            elif name == "unshare":
                skb = skb.unshare()
                assert not skb.is_cloned()
            elif name == "write" and skb.headlen():
                k = min(len(op[1]), skb.headlen())
                skb.data[:k] = op[1][:k]
                model[:k] = op[1][:k]
        except SkbError:
            assert not ok, f"{op[0]} raised unexpectedly"
            assert state(skb) == before, f"{op[0]} changed state before raising"
        else:
            assert ok, f"{op[0]} should have raised"
        check_invariants(skb)
        assert content(skb) == model
        for cl, snap in clones:
            check_invariants(cl)
            assert content(cl) == snap, "a clone saw a write it should not"
    # every head allocated is accounted for once all skbs are gone
    skb.free()
    for cl, _ in clones:
        cl.free()
    assert c.free == c.alloc + c.expand_head


def test_header_release_lets_clones_push_headers_in_place() -> None:
    """__skb_header_release (skb->nohdr): a clone of a TCP-queued skb owns the header
    area (skb_header_cloned is false, skb_cow_head does not copy) while skb_cloned and
    skb_cow still see the shared head; freeing both releases the head once."""
    from tuxnet.skb import SkbCounters, alloc_skb

    c = SkbCounters()
    orig = alloc_skb(256, c)
    orig.reserve(128)
    orig.put_data(b"payload")
    orig.header_release()
    orig.header_release()  # idempotent
    clone = orig.clone()
    assert orig.is_cloned() and clone.is_cloned()
    assert not clone.header_cloned()
    assert not clone.cow_head(64)
    clone.push(4)[:] = b"HDR!"
    assert bytes(clone.data) == b"HDR!payload" and bytes(orig.data) == b"payload"
    second = orig.clone()  # a second clone in flight: the header area is shared again
    assert second.header_cloned() and clone.header_cloned()
    assert second.cow_head(64) and not second.header_cloned()
    assert c.expand_head == 1
    assert clone.cow(64)  # skb_cow copies for any clone
    second.free()
    clone.free()
    assert c.free == 2  # the two private heads made by the copies
    sh = orig.shinfo
    assert sh.dataref == 1 and sh.nohdr_refs == 1
    orig.free()
    assert c.free == 3 and sh.dataref == 0 and sh.nohdr_refs == 0
