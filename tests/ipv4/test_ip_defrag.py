"""IPv4 reassembly (ip_defrag): order, duplicates, overlaps, timeout, memory limit,
ipfrag_max_dist, oversize datagrams, counters and drop reasons as Linux has them."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP, fragment
from scapy.packet import Raw

from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.ipv4.ip_fragment import (
    IP_DEFRAG_CONNTRACK_IN,
    IP_DEFRAG_LOCAL_DELIVER,
    IPQ_QSIZE,
    IpDefrag,
)
from tuxnet.ipv4.ip_output_frag import ip_fragment
from tuxnet.loop import SimLoop
from tuxnet.skb import SkbCounters, SkBuff, alloc_skb
from tuxnet.wire.ipv4 import Ipv4View

SEC = 1_000_000_000
SRC, DST = "192.0.2.1", "198.51.100.7"
R = SkbDropReason


def datagram(payload_len: int, ident: int = 0x4242, *, src: str = SRC, tos: int = 0,
             flags: int = 0) -> bytes:
    pay = bytes((i * 13 + 5) & 0xFF for i in range(payload_len))
    return bytes(IP(src=src, dst=DST, id=ident, tos=tos, flags=flags) / UDP(sport=9, dport=7)
                 / Raw(pay))


def frags_of(data: bytes, mtu: int = 1500) -> list[bytes]:
    return [bytes(f) for f in fragment(IP(data), fragsize=mtu - 20)]


def frag(offset: int, payload: bytes, *, mf: bool = True, ident: int = 0x4242,
         src: str = SRC, tos: int = 0, df: bool = False) -> bytes:
    flags = (1 if mf else 0) | (2 if df else 0)
    return bytes(IP(src=src, dst=DST, id=ident, proto=17, tos=tos, flags=flags,
                    frag=offset // 8) / Raw(payload))


def skb_of(data: bytes, counters: SkbCounters | None = None, pad: int = 0) -> SkBuff:
    skb = alloc_skb(len(data) + pad + 64, counters)
    skb.reserve(64)
    skb.put_data(data + b"\x00" * pad)
    return skb


class Rig:
    def __init__(self, **sysctls: int) -> None:
        self.loop = SimLoop()
        self.host = Host(self.loop)
        for name, value in sysctls.items():
            self.host.sysctl.set(f"net.ipv4.{name}", value)
        self.timeouts: list[bytes] = []
        self.defrag = IpDefrag(self.host, on_timeout=self._on_timeout)
        self.counters = SkbCounters()

    def _on_timeout(self, skb: SkBuff) -> None:
        self.timeouts.append(skb.copy_bits(0, skb.len))

    def feed(self, data: bytes, user: int = IP_DEFRAG_LOCAL_DELIVER) -> bytes | None:
        out = self.defrag.ip_defrag(skb_of(data, self.counters), user)
        if out is None:
            return None
        assert out.skb_network_offset() == 0
        got = out.copy_bits(0, out.len)
        self.host.consume_skb(out)
        return got

    def feed_all(self, frags: list[bytes]) -> list[bytes]:
        return [r for f in frags if (r := self.feed(f)) is not None]

    @property
    def ip(self):  # type: ignore[no-untyped-def]
        return self.host.mib.ip

    def assert_idle(self) -> None:
        assert len(self.defrag) == 0 and self.defrag.mem == 0
        c = self.counters
        assert c.free == c.alloc + c.expand_head  # every skb freed


@pytest.mark.parametrize("order", ["in", "reversed", "shuffled"])
def test_reassembles_in_any_order(order: str) -> None:
    data = datagram(5000)
    frags = frags_of(data, 1500)
    if order == "reversed":
        frags.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(frags)
    rig = Rig()
    assert rig.feed_all(frags) == [data]
    assert rig.ip.ReasmReqds == len(frags) == 4
    assert rig.ip.ReasmOKs == 1 and rig.ip.ReasmFails == 0
    assert not rig.host.drop_counts
    rig.assert_idle()
    assert rig.defrag.frag_max_size == 1500 and not rig.defrag.frag_pmtu


def test_reassembled_header_rfc791() -> None:
    frags = frags_of(datagram(3000), 1000)
    rig = Rig()
    (out,) = rig.feed_all(frags[::-1])
    v = Ipv4View(out, verify_csum=True)
    assert v.total_len == len(out) == 3028 and v.frag_off == 0 and v.ident == 0x4242


def test_exact_duplicate_is_dropped_alone() -> None:
    frags = frags_of(datagram(4000), 1500)
    rig = Rig()
    assert rig.feed_all([frags[0], frags[1], frags[1], frags[0], frags[2]]) == [datagram(4000)]
    assert rig.host.drop_counts == {R.DUP_FRAG: 2}
    assert rig.ip.ReasmFails == 0 and rig.host.mib.ipext.ReasmOverlaps == 0
    assert rig.ip.ReasmReqds == 5 and rig.ip.ReasmOKs == 1
    rig.assert_idle()


def test_duplicate_means_inside_one_run() -> None:
    """inet_frag_queue_insert compares with runs of contiguous fragments: a fragment
    straddling two fragments of one run is a duplicate, of two runs an overlap."""
    pay = bytes(range(48))
    rig = Rig()
    rig.feed(frag(0, pay[0:16]))
    rig.feed(frag(16, pay[16:32]))  # appended: one run [0, 32)
    assert rig.feed(frag(8, pay[8:24])) is None
    assert rig.host.drop_counts == {R.DUP_FRAG: 1} and len(rig.defrag) == 1
    rig2 = Rig()
    rig2.feed(frag(16, pay[16:32]))
    rig2.feed(frag(0, pay[0:16]))  # inserted before: its own run
    rig2.feed(frag(8, pay[8:24]))
    assert rig2.host.mib.ipext.ReasmOverlaps == 1 and rig2.ip.ReasmFails == 1
    assert len(rig2.defrag) == 0


def test_overlap_discards_the_whole_queue_rfc5722() -> None:
    pay = bytes(range(64))
    rig = Rig()
    consumed: list[object] = []
    rig.host.tracepoints.subscribe("skb:consume_skb", consumed.append)
    rig.feed(frag(0, pay[0:16]))
    rig.feed(frag(32, pay[32:48]))
    assert rig.feed(frag(24, pay[24:40])) is None  # overlaps [32, 48) partly
    assert rig.host.mib.ipext.ReasmOverlaps == 1
    assert rig.ip.ReasmFails == 1 and rig.ip.ReasmOKs == 0
    # the offending fragment is dropped; the queued ones are freed as consumed
    assert rig.host.drop_counts == {R.NOT_SPECIFIED: 1}
    assert len(consumed) == 2
    rig.assert_idle()
    # the same id now starts a fresh queue
    assert rig.feed(frag(0, pay[0:16])) is None and len(rig.defrag) == 1


@pytest.mark.parametrize("shape", [
    [(0, 16), (8, 24)],  # overlaps the tail
    [(0, 16), (32, 48), (8, 40)],  # from one run across a hole into the next
    [(16, 32), (8, 16 + 8)],  # overlaps the start of the only run
    [(16, 32), (48, 64), (8, 56)],  # covers a whole run
    [(0, 8), (0, 16)],  # longer than a duplicate at the tail
])
def test_overlap_shapes(shape: list[tuple[int, int]]) -> None:
    pay = bytes(range(64))
    rig = Rig()
    for start, end in shape:
        rig.feed(frag(start, pay[start:end]))
    assert rig.host.mib.ipext.ReasmOverlaps == 1 and rig.ip.ReasmFails == 1
    rig.assert_idle()


def test_paged_and_cloned_fragments() -> None:
    data = datagram(4000)
    frags = frags_of(data, 1500)
    rig = Rig()
    kept = []
    for i, f in enumerate(frags):
        skb = alloc_skb(64 + 40, rig.counters)
        skb.reserve(64)
        skb.put_data(f[:40])
        rest = bytearray(f[40:])
        half = len(rest) // 2
        skb.add_frag(rest, 0, half)
        skb.add_frag(rest, half, len(rest) - half)
        if i == 0:  # a tap still holds the head: reassembly must not write into it
            kept.append(skb.clone())
        out = rig.defrag.ip_defrag(skb)
    assert out is not None and out.copy_bits(0, out.len) == data
    assert kept[0].copy_bits(0, kept[0].len) == frags[0]


def test_timeout_after_exactly_ipfrag_time() -> None:
    frags = frags_of(datagram(4000), 1500)
    rig = Rig()
    rig.loop.run(until_ns=5 * SEC)
    rig.feed_all(frags[:-1])  # the last fragment never comes
    assert len(rig.defrag) == 1
    rig.loop.run(until_ns=35 * SEC - 1)
    assert rig.ip.ReasmTimeout == 0 and rig.timeouts == []
    rig.loop.run(until_ns=35 * SEC)
    assert rig.ip.ReasmTimeout == 1 and rig.ip.ReasmFails == 1
    assert rig.timeouts == [frags[0]]  # ICMP time exceeded quotes the first fragment
    assert rig.host.drop_counts == {R.FRAG_REASM_TIMEOUT: len(frags) - 1}
    rig.loop.run()
    assert rig.ip.ReasmTimeout == 1 and len(rig.timeouts) == 1
    rig.assert_idle()


def test_timer_is_not_pushed_back_by_later_fragments() -> None:
    frags = frags_of(datagram(4000), 1500)
    rig = Rig(ipfrag_time=10)
    rig.feed(frags[1])
    rig.loop.run(until_ns=9 * SEC)
    rig.feed(frags[2])
    rig.loop.run(until_ns=10 * SEC)
    assert rig.ip.ReasmTimeout == 1
    assert rig.timeouts == []  # no first fragment: no ICMP (RFC 792)
    rig.assert_idle()


def test_timeout_sends_no_icmp_for_conntrack_defrag() -> None:
    rig = Rig()
    rig.feed(frags_of(datagram(4000), 1500)[0], user=IP_DEFRAG_CONNTRACK_IN)
    rig.loop.run()
    assert rig.ip.ReasmTimeout == 1 and rig.timeouts == []


def test_queues_are_per_user_and_per_source() -> None:
    frags = frags_of(datagram(3000), 1500)
    rig = Rig()
    rig.feed(frags[0], user=IP_DEFRAG_LOCAL_DELIVER)
    rig.feed(frags[1], user=IP_DEFRAG_CONNTRACK_IN)
    rig.feed(frags_of(datagram(3000, src="192.0.2.99"), 1500)[2])
    assert len(rig.defrag) == 3
    assert rig.defrag.format_sockstat().startswith("FRAG: inuse 3 memory ")


def test_memory_above_high_thresh_refuses_fragments() -> None:
    rig = Rig(ipfrag_low_thresh=0, ipfrag_high_thresh=20000)
    frag0 = frags_of(datagram(3000, ident=1), 1500)
    rig.feed(frag0[0])
    one = rig.defrag.mem
    assert one == IPQ_QSIZE + skb_of(frag0[0]).truesize
    ident = 2
    while rig.defrag.mem <= 20000:
        rig.feed(frags_of(datagram(3000, ident=ident), 1500)[0])
        ident += 1
    queued = len(rig.defrag)
    fails = rig.ip.ReasmFails
    # over the limit: even the rest of an existing datagram is refused (inet_frag_find)
    assert rig.feed(frag0[1]) is None
    assert rig.ip.ReasmFails == fails + 1 and len(rig.defrag) == queued
    assert rig.host.drop_counts[R.NOT_SPECIFIED] == 1
    # no evictor (ipfrag_low_thresh is obsolete since 4.17): only expiry frees memory
    rig.loop.run()
    rig.assert_idle()
    assert rig.feed(frag0[0]) is None and len(rig.defrag) == 1


def test_high_thresh_zero_refuses_everything() -> None:
    rig = Rig(ipfrag_low_thresh=0, ipfrag_high_thresh=0)
    assert rig.feed(frags_of(datagram(3000), 1500)[0]) is None
    assert rig.ip.ReasmFails == 1 and len(rig.defrag) == 0


@pytest.mark.parametrize(("others", "too_far"), [(62, False), (63, False), (64, True)])
def test_ipfrag_max_dist(others: int, too_far: bool) -> None:
    """ip_frag_too_far: when the source's fragment counter moved by more than
    ipfrag_max_dist (64) since this datagram's previous fragment -- 64 fragments of
    others in between, as the counter also counts the new one -- the queue is flushed."""
    rig = Rig()
    target = frags_of(datagram(3000, ident=1), 1500)
    rig.feed(target[0])
    for i in range(others):
        rig.feed(frags_of(datagram(3000, ident=100 + i), 1500)[0])
    fails = rig.ip.ReasmFails
    got = rig.feed_all(target[1:])
    if too_far:
        assert got == [] and rig.ip.ReasmFails == fails + 1
        assert rig.host.drop_counts == {R.FRAG_TOO_FAR: 1}
        assert rig.feed(target[0]) == datagram(3000, ident=1)  # queue restarted
    else:
        assert got == [datagram(3000, ident=1)] and rig.ip.ReasmFails == fails


def test_max_dist_counts_per_source_and_can_be_disabled() -> None:
    target = frags_of(datagram(3000, ident=1), 1500)
    rig = Rig()
    rig.feed(target[0])
    for i in range(100):  # another source does not count
        rig.feed(frags_of(datagram(3000, ident=i, src="192.0.2.50"), 1500)[0])
    assert rig.feed_all(target[1:]) == [datagram(3000, ident=1)]
    rig = Rig(ipfrag_max_dist=0)
    rig.feed(target[0])
    for i in range(100):
        rig.feed(frags_of(datagram(3000, ident=100 + i), 1500)[0])
    assert rig.feed_all(target[1:]) == [datagram(3000, ident=1)]


def test_oversize_datagram_is_refused_on_completion() -> None:
    """Ping of death: the last fragment ends beyond 65535 bytes."""
    rig = Rig()
    rig.feed(frag(0, b"A" * 1480))
    for off in range(1480, 65528, 1480):
        assert rig.feed(frag(off, b"B" * min(1480, 65528 - off))) is None
    assert rig.feed(frag(65528, b"C" * 100, mf=False)) is None
    assert rig.ip.ReasmFails == 1 and rig.ip.ReasmOKs == 0
    assert not rig.host.drop_counts  # the queue's fragments go as consumed
    rig.assert_idle()


def test_last_fragment_rules() -> None:
    pay = bytes(64)
    rig = Rig()
    rig.feed(frag(16, pay[:16], mf=False))  # length is 32
    rig.feed(frag(32, pay[:8]))  # data beyond the end
    assert rig.ip.ReasmFails == 1 and len(rig.defrag) == 0
    rig.feed(frag(16, pay[:16], mf=False))
    rig.feed(frag(8, pay[:16], mf=False))  # a second, different end
    assert rig.ip.ReasmFails == 2 and len(rig.defrag) == 0
    rig.feed(frag(16, pay[:16]))
    rig.feed(frag(0, pay[:8], mf=False))  # ends before data we hold
    assert rig.ip.ReasmFails == 3
    rig.feed(frag(0, b""))  # an empty fragment
    assert rig.ip.ReasmFails == 4
    assert rig.host.drop_counts == {R.NOT_SPECIFIED: 4}
    rig.assert_idle()


def test_non_last_fragment_is_cut_to_a_multiple_of_8() -> None:
    rig = Rig()
    rig.feed(frag(0, b"x" * 13))  # 13 bytes with MF: only 8 count
    assert rig.feed(frag(8, b"y" * 5, mf=False)) == frag(0, b"x" * 8 + b"y" * 5, mf=False)


def test_ecn_merge_rfc3168() -> None:
    pay = bytes(16)
    rig = Rig()
    rig.feed(frag(0, pay[:8], tos=0x02))  # ECT(0)
    out = rig.feed(frag(8, pay[8:], mf=False, tos=0x03))  # CE
    assert out is not None and out[1] & 3 == 3
    rig.feed(frag(0, pay[:8], tos=0x00))  # not-ECT
    assert rig.feed(frag(8, pay[8:], mf=False, tos=0x02)) is None
    assert rig.ip.ReasmFails == 1 and rig.ip.ReasmOKs == 1
    rig.assert_idle()


def test_df_fragments_give_df_datagram_and_frag_max_size() -> None:
    rig = Rig()
    rig.feed(frag(0, bytes(1000), df=True))
    out = rig.feed(frag(1000, bytes(200), df=True, mf=False))
    assert out is not None and Ipv4View(out).df
    assert rig.defrag.frag_pmtu and rig.defrag.frag_max_size == 1020
    rig.feed(frag(0, bytes(1000)))
    out = rig.feed(frag(1000, bytes(200), df=True, mf=False))  # largest had no DF
    assert out is not None and not Ipv4View(out).df and not rig.defrag.frag_pmtu


def test_link_padding_is_trimmed() -> None:
    frags = frags_of(datagram(1500), 1500)
    rig = Rig()
    rig.defrag.ip_defrag(skb_of(frags[0], pad=0))
    out = rig.defrag.ip_defrag(skb_of(frags[1], pad=30))  # short frame, Ethernet padding
    assert out is not None and out.copy_bits(0, out.len) == datagram(1500)


def test_zero_copy_glue_and_linear_fallback() -> None:
    rig = Rig()
    frags = frags_of(datagram(2900), 1500)
    before = rig.counters.bytes_copied
    out = rig.defrag.ip_defrag(skb_of(frags[0], rig.counters))
    out = rig.defrag.ip_defrag(skb_of(frags[1], rig.counters))
    assert out is not None and out.nr_frags == 1
    assert rig.counters.bytes_copied == before  # the second fragment is attached, not copied
    assert out.truesize == sum(skb_of(f).truesize for f in frags)
    # 44 fragments do not fit MAX_SKB_FRAGS: the rest is copied once into the head
    big = datagram(65000)
    many = frags_of(big, 1500)
    assert len(many) == 44
    rig2 = Rig()
    res = [r for f in many if (r := rig2.defrag.ip_defrag(skb_of(f, rig2.counters)))]
    assert len(res) == 1 and res[0].copy_bits(0, res[0].len) == big
    assert rig2.counters.bytes_copied >= len(big) - 1500


def test_malformed_input_is_dropped_not_raised() -> None:
    rig = Rig()
    assert rig.defrag.ip_defrag(skb_of(b"\x45\x00")) is None
    assert rig.defrag.ip_defrag(skb_of(b"\x65" + bytes(39))) is None
    hdr = bytearray(frag(0, bytes(16)))
    hdr[2:4] = (200).to_bytes(2, "big")  # total length beyond the frame
    assert rig.defrag.ip_defrag(skb_of(bytes(hdr))) is None
    assert rig.host.drop_counts == {R.IP_INHDR: 2, R.PKT_TOO_SMALL: 1}
    assert rig.ip.ReasmReqds == 3 and len(rig.defrag) == 0


def test_flush_drops_every_queue() -> None:
    rig = Rig()
    rig.feed(frags_of(datagram(3000, ident=1), 1500)[0])
    rig.feed(frags_of(datagram(3000, ident=2), 1500)[1])
    rig.defrag.flush()
    assert rig.host.drop_counts == {R.FRAG_REASM_TIMEOUT: 2}
    rig.assert_idle()
    rig.loop.run()
    assert rig.ip.ReasmTimeout == 0


@settings(max_examples=80, deadline=None)
@given(payload_len=st.integers(0, 12000), mtu=st.integers(68, 2000),
       seed=st.integers(0, 2**32), dups=st.integers(0, 3))
def test_fragment_then_reassemble_round_trip(payload_len: int, mtu: int, seed: int,
                                             dups: int) -> None:
    data = datagram(payload_len, ident=seed & 0xFFFF)
    if len(data) <= mtu:
        return  # not fragmented: ip_local_deliver would not call ip_defrag
    rig = Rig()
    pieces: list[bytes] = []
    skb = skb_of(data)
    ip_fragment(rig.host, skb, mtu, lambda s: pieces.append(s.copy_bits(0, s.len)))
    rng = random.Random(seed)
    pieces += [rng.choice(pieces) for _ in range(dups)]
    rng.shuffle(pieces)
    got = rig.feed_all(pieces)
    assert got[0] == data
    # a duplicate arriving after completion starts a new queue, left to expire
    assert rig.ip.ReasmOKs == len(got)
    rig.loop.run()
    rig.assert_idle()


_hostile = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 0x1FFF), st.integers(0, 300), st.booleans(),
              st.sampled_from([0, 1, 2, 3]), st.booleans()),
    max_size=60)


@settings(max_examples=150, deadline=None)
@given(frags=_hostile, junk=st.lists(st.binary(max_size=80), max_size=5),
       high=st.sampled_from([0, 3000, 4194304]))
def test_hostile_fragments_never_raise(frags: list[tuple[int, int, int, bool, int, bool]],
                                       junk: list[bytes], high: int) -> None:
    rig = Rig(ipfrag_max_dist=8, ipfrag_low_thresh=0, ipfrag_high_thresh=high)
    for ident, off8, size, mf, tos, df in frags:
        off = off8 * 8 if off8 > 40 else off8 * 4  # near offsets collide more often
        rig.feed(frag(off & ~7, bytes(size), mf=mf, ident=ident, tos=tos, df=df))
    for j in junk:
        rig.defrag.ip_defrag(skb_of(j))
    rig.loop.run()
    rig.assert_idle()
    ip = rig.ip
    assert ip.ReasmReqds == len(frags) + len(junk)
