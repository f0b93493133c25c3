"""GRO (tuxnet.core.gro): tcp_gro_receive's merge and flush rules, payload integrity,
the completed super-packet's headers, and a GRO → GSO round trip that reproduces the
wire segments byte for byte."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuxnet.core.gro import (
    GRO_HELD,
    GRO_MERGED_FREE,
    GRO_NORMAL,
    MAX_GRO_SKBS,
    GroCell,
    GroStats,
)
from tuxnet.core.gso import skb_checksum_help, skb_gso_segment
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import (
    CHECKSUM_COMPLETE,
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    CHECKSUM_UNNECESSARY,
    MAX_SKB_FRAGS,
    SKB_GSO_TCP_ECN,
    SKB_GSO_TCP_FIXEDID,
    SKB_GSO_TCPV4,
    SkbCounters,
    SkbError,
    SkBuff,
    alloc_skb,
)
from tuxnet.wire.build import icmp_frame, tcp_frame, udp_frame
from tuxnet.wire.checksum import checksum_ok, ones_sum, pseudo_header_sum
from tuxnet.wire.ipv4 import IP_DF
from tuxnet.wire.tcp import TCPHDR_ACK, TCPHDR_CWR, TCPHDR_ECE, TCPHDR_FIN, TCPHDR_PSH

SMAC = bytes.fromhex("02000000000a")
DMAC = bytes.fromhex("02000000000b")
SRC, DST = "10.1.0.1", "10.1.0.2"
SRC_I, DST_I = 0x0A010001, 0x0A010002
MSS = 1448
ISN = 0xFFFF_0000  # sequence numbers wrap inside longer trains


def ts_opt(tsval: int = 1000, tsecr: int = 2000) -> bytes:
    return b"\x01\x01\x08\x0a" + struct.pack("!II", tsval, tsecr)


def chunk(i: int, n: int = MSS) -> bytes:
    return bytes((i * 31 + j * 7 + j // 253) & 0xFF for j in range(n))


def frame(i: int, n: int = MSS, *, seq: int | None = None, flags: int = TCPHDR_ACK,
          ident: int | None = None, sport: int = 40000, ack: int = 1, window: int = 501,
          ttl: int = 64, tos: int = 0, frag_off: int = IP_DF, tsval: int = 1000,
          payload: bytes | None = None) -> bytearray:
    """Segment ``i`` of a train: seq ISN + i * MSS, IP id 100 + i, TS options."""
    return tcp_frame(SMAC, DMAC, SRC, DST, sport, 5201,
                     seq=(ISN + i * MSS if seq is None else seq) & 0xFFFFFFFF,
                     ack_seq=ack, flags=flags, window=window,
                     payload=chunk(i, n) if payload is None else payload,
                     options=ts_opt(tsval), ttl=ttl, tos=tos, frag_off=frag_off,
                     ident=100 + i if ident is None else ident)


def rx(fr: bytes | bytearray, *, h: int = 0, summed: int = CHECKSUM_UNNECESSARY,
       counters: SkbCounters | None = None, dev: object = None) -> SkBuff:
    """What the driver and eth_type_trans hand to GRO: data at the IPv4 header."""
    skb = alloc_skb(64 + len(fr), counters)
    skb.reserve(64)
    skb.put_data(fr)
    skb.reset_mac_header()
    skb.pull(14)
    skb.reset_network_header()
    skb.protocol = 0x0800
    skb.hash = h
    skb.ip_summed = summed
    skb.dev = dev
    return skb


class Up:
    """The deliver callback: records what GRO passes up."""

    def __init__(self) -> None:
        self.skbs: list[SkBuff] = []

    def __call__(self, skb: SkBuff) -> None:
        self.skbs.append(skb)


def cell(**kw: object) -> tuple[GroCell, Up]:
    up = Up()
    return GroCell(up, **kw), up  # type: ignore[arg-type]


def parse(skb: SkBuff) -> tuple[int, int, bytes, int]:
    """(seq, flags, payload, ip id) of a delivered skb, checking its IP header."""
    raw = skb.copy_bits(0, skb.len)
    assert raw[0] == 0x45 and struct.unpack_from("!H", raw, 2)[0] == len(raw)
    assert checksum_ok(raw[:20])
    thlen = (raw[32] >> 4) * 4
    return (struct.unpack_from("!I", raw, 24)[0], raw[33], raw[20 + thlen:],
            struct.unpack_from("!H", raw, 4)[0])


def tcp_csum_ok(skb: SkBuff) -> bool:
    if skb.ip_summed == CHECKSUM_PARTIAL:
        skb.gso_size = 0  # as if the device finished it (skb_checksum_help refuses gso)
        assert skb_checksum_help(skb)
    raw = skb.copy_bits(0, skb.len)
    return checksum_ok(raw[20:], pseudo_header_sum(SRC_I, DST_I, 6, len(raw) - 20))


# --- merging -------------------------------------------------------------------------


def test_in_order_train_merges_into_one_super_packet() -> None:
    counters = SkbCounters()
    g, up = cell()
    skbs = [rx(frame(i), counters=counters) for i in range(10)]
    before = counters.bytes_copied
    results = [g.gro_receive(s) for s in skbs]
    assert results == [GRO_HELD] + [GRO_MERGED_FREE] * 9
    assert up.skbs == [] and g.held == 1
    assert counters.bytes_copied == before  # zero-copy: payloads became frags
    assert g.flush() == 1
    (big,) = up.skbs
    assert big is skbs[0]
    assert (big.gso_size, big.gso_segs, big.gso_type) == (MSS, 10, SKB_GSO_TCPV4)
    assert big.ip_summed == CHECKSUM_PARTIAL
    assert big.csum_start == big.transport_header == big.data_off + 20
    assert big.nr_frags == 9 and big.len == 52 + 10 * MSS
    assert all(s.users == 0 for s in skbs[1:])  # GRO_MERGED_FREE: freed, data kept
    seq, flags, payload, ident = parse(big)
    assert (seq, flags, ident) == (ISN, TCPHDR_ACK, 100)
    big.linearize()
    assert parse(big)[2] == payload == b"".join(chunk(i) for i in range(10))
    assert tcp_csum_ok(big)
    s = g.stats
    assert (s.packets_in, s.held, s.merged, s.packets_up, s.segs_up) == (10, 1, 9, 1, 10)
    assert s.flush_poll_end == s.flushed == 1


def test_train_beyond_max_skb_frags_and_size_limit() -> None:
    g, up = cell()
    for i in range(46):
        g.gro_receive(rx(frame(i)))
    # 52 + 45 * 1448 = 65212; one more would pass GRO_LEGACY_MAX_SIZE 65536
    assert len(up.skbs) == 1 and g.stats.flush_size == 1
    big = up.skbs[0]
    assert big.gso_segs == 45 and big.len == 65212 and big.nr_frags == 44 > MAX_SKB_FRAGS
    assert parse(big)[2] == b"".join(chunk(i) for i in range(45))
    assert tcp_csum_ok(big)
    g.flush()
    assert parse(up.skbs[1])[0] == (ISN + 45 * MSS) & 0xFFFFFFFF
    assert g.stats.segs_up == 46


def test_gro_max_size_parameter() -> None:
    g, up = cell(gro_max_size=52 + 3 * MSS + 1)
    for i in range(7):
        g.gro_receive(rx(frame(i)))
    g.flush()
    assert [s.gso_segs for s in up.skbs] == [3, 3, 0]
    assert g.stats.flush_size == 2


def test_psh_merges_then_flushes() -> None:
    g, up = cell()
    for i in range(4):
        g.gro_receive(rx(frame(i)))
    assert g.gro_receive(rx(frame(4, flags=TCPHDR_ACK | TCPHDR_PSH))) == GRO_MERGED_FREE
    assert g.held == 0 and g.stats.flush_psh == 1
    (big,) = up.skbs
    assert big.gso_segs == 5 and parse(big)[1] == TCPHDR_ACK | TCPHDR_PSH
    # a lone PSH segment is never held
    assert g.gro_receive(rx(frame(5, flags=TCPHDR_ACK | TCPHDR_PSH))) == GRO_NORMAL


def test_fin_merges_then_flushes() -> None:
    g, up = cell()
    g.gro_receive(rx(frame(0)))
    g.gro_receive(rx(frame(1, flags=TCPHDR_ACK | TCPHDR_FIN)))
    assert parse(up.skbs[0])[1] == TCPHDR_ACK | TCPHDR_FIN and g.stats.flush_flags == 1


def test_shorter_segment_ends_the_train() -> None:
    g, up = cell()
    for i in range(3):
        g.gro_receive(rx(frame(i)))
    assert g.gro_receive(rx(frame(3, 700))) == GRO_MERGED_FREE
    assert len(up.skbs) == 1 and up.skbs[0].gso_segs == 4 and g.stats.flush_short == 1
    assert g.gro_receive(rx(frame(4, seq=ISN + 3 * MSS + 700))) == GRO_HELD


def test_longer_segment_than_mss_flushes() -> None:
    g, up = cell()
    g.gro_receive(rx(frame(0, 1000)))  # a train's mss is its first payload
    assert g.gro_receive(rx(frame(1, seq=ISN + 1000))) == GRO_HELD
    assert g.stats.flush_mss == 1 and up.skbs[0].gso_size == 0  # a chain of one


@pytest.mark.parametrize(("change", "reason"), [
    ({"flags": TCPHDR_ACK | TCPHDR_ECE}, "flags"),
    ({"window": 502}, "window"),
    ({"ack": 2}, "ack"),
    ({"tsval": 1001}, "opts"),  # timestamps must be identical too
    ({"ttl": 63}, "ip"),
    ({"tos": 0x10}, "ip"),
    ({"frag_off": 0}, "ip"),
    ({"ident": 7}, "ip"),
    ({"seq": ISN + 3 * MSS}, "ooo"),  # a hole
    ({"seq": ISN}, "ooo"),  # a retransmission
])
def test_mismatch_flushes_the_held_packet(change: dict[str, int], reason: str) -> None:
    g, up = cell()
    g.gro_receive(rx(frame(0)))
    g.gro_receive(rx(frame(1)))
    res = g.gro_receive(rx(frame(2, **change)))  # type: ignore[arg-type]
    assert res == GRO_HELD  # the newcomer starts a new chain
    assert len(up.skbs) == 1 and up.skbs[0].gso_segs == 2
    assert getattr(g.stats, "flush_" + reason) == 1 and g.stats.flushed == 1


def test_cwr_flushes_but_a_cwr_head_merges() -> None:
    g, up = cell()
    g.gro_receive(rx(frame(0)))
    assert g.gro_receive(rx(frame(1, flags=TCPHDR_ACK | TCPHDR_CWR))) == GRO_HELD
    assert g.stats.flush_flags == 1
    assert g.gro_receive(rx(frame(2))) == GRO_MERGED_FREE  # CWR on the head only
    g.flush()
    assert up.skbs[1].gso_type == SKB_GSO_TCPV4 | SKB_GSO_TCP_ECN


def test_fixed_ip_id_under_df() -> None:
    g, up = cell()
    for i in range(4):
        g.gro_receive(rx(frame(i, ident=9)))
    g.flush()
    assert up.skbs[0].gso_segs == 4
    assert up.skbs[0].gso_type == SKB_GSO_TCPV4 | SKB_GSO_TCP_FIXEDID
    # without DF the id must increment
    g2, _up2 = cell()
    g2.gro_receive(rx(frame(0, ident=9, frag_off=0)))
    g2.gro_receive(rx(frame(1, ident=9, frag_off=0)))
    assert g2.stats.flush_ip == 1
    # nor may a flow switch from incrementing to fixed
    g3, _ = cell()
    for i, ident in enumerate((5, 6, 6)):
        g3.gro_receive(rx(frame(i, ident=ident)))
    assert g3.stats.merged == 1 and g3.stats.flush_ip == 1


def test_pure_acks_and_empty_segments_pass_up() -> None:
    g, up = cell()
    assert g.gro_receive(rx(frame(0, payload=b""))) == GRO_NORMAL
    g.gro_receive(rx(frame(0)))
    assert g.gro_receive(rx(frame(1, payload=b""))) == GRO_NORMAL
    assert g.stats.flush_mss == 1 and len(up.skbs) == 3


# --- flows, buckets, flushing ----------------------------------------------------------


def test_flows_are_independent() -> None:
    g, up = cell()
    for i in range(3):
        g.gro_receive(rx(frame(i, sport=1)))
        g.gro_receive(rx(frame(i, sport=2)))
    assert g.held == 2 and g.stats.merged == 4
    g.flush()
    assert sorted(s.gso_segs for s in up.skbs) == [3, 3]


def test_full_bucket_flushes_its_oldest() -> None:
    g, up = cell()
    for sport in range(1, MAX_GRO_SKBS + 2):  # no RX hash: one bucket for all flows
        g.gro_receive(rx(frame(0, sport=sport)))
    assert g.held == MAX_GRO_SKBS and g.stats.flush_count == 1
    assert struct.unpack_from("!H", up.skbs[0].data, 20)[0] == 1  # the oldest flow
    g2, _ = cell()
    for sport in range(1, MAX_GRO_SKBS + 2):  # distinct hashes spread over 8 buckets
        g2.gro_receive(rx(frame(0, sport=sport), h=sport))
    assert g2.held == MAX_GRO_SKBS + 1 and g2.stats.flush_count == 0
    g3, _ = cell(max_held=2)
    for sport in range(1, 5):
        g3.gro_receive(rx(frame(0, sport=sport)))
    assert g3.held == 2 and g3.stats.flush_count == 2


def test_hash_and_device_separate_flows() -> None:
    g, _ = cell()
    g.gro_receive(rx(frame(0), h=1))
    g.gro_receive(rx(frame(1), h=9))  # same bucket, different hash: another flow
    g.gro_receive(rx(frame(1), dev=object(), h=1))
    assert g.held == 3 and g.stats.merged == 0


def test_flush_old_keeps_the_current_jiffy() -> None:
    now = [0]
    g, up = cell(clock=lambda: now[0])
    g.gro_receive(rx(frame(0, sport=1)))
    now[0] = 1_500_000
    g.gro_receive(rx(frame(0, sport=2)))
    assert g.flush(older_than_ns=1_000_000) == 1  # napi_gro_flush(n, true) at 1.5 ms
    assert g.stats.flush_aged == 1 and g.held == 1
    assert g.flush() == 1 and g.stats.flush_poll_end == 1 and len(up.skbs) == 2
    assert g.flush() == 0


def test_order_within_a_flow_is_kept() -> None:
    g, up = cell()
    for i in range(20):
        g.gro_receive(rx(frame(i, n=MSS if i % 7 else 600,
                                seq=ISN + sum(MSS if k % 7 else 600 for k in range(i)))))
    g.flush()
    seqs = [parse(s)[0] for s in up.skbs]
    assert [(x - ISN) & 0xFFFFFFFF for x in seqs] == sorted((x - ISN) & 0xFFFFFFFF
                                                             for x in seqs)


# --- not candidates ----------------------------------------------------------------


def test_non_tcp_passes_straight_up_and_leaves_the_flow_alone() -> None:
    g, _up = cell()
    g.gro_receive(rx(frame(0)))
    for fr in (udp_frame(SMAC, DMAC, SRC, DST, 1, 2, payload=b"x" * 100),
               icmp_frame(SMAC, DMAC, SRC, DST, payload=b"ping")):
        assert g.gro_receive(rx(fr)) == GRO_NORMAL
    arp = rx(frame(1))
    arp.protocol = 0x0806
    assert g.gro_receive(arp) == GRO_NORMAL
    assert g.stats.not_candidate == 3 and g.held == 1
    assert g.gro_receive(rx(frame(1))) == GRO_MERGED_FREE


def test_ip_options_and_fragments_are_not_candidates() -> None:
    g, _up = cell()
    opt = bytearray(frame(0))
    with_opts = opt[:14] + b"\x46" + opt[15:34] + b"\x01\x01\x01\x00" + opt[34:]
    struct.pack_into("!H", with_opts, 16, len(with_opts) - 14)
    struct.pack_into("!H", with_opts, 24, 0)
    struct.pack_into("!H", with_opts, 24, ~ones_sum(with_opts[14:38]) & 0xFFFF)
    assert g.gro_receive(rx(with_opts)) == GRO_NORMAL
    assert g.gro_receive(rx(frame(0, frag_off=0x2000))) == GRO_NORMAL  # MF
    bad_iph = frame(0)
    bad_iph[22] ^= 1  # TTL: header checksum now wrong
    assert g.gro_receive(rx(bad_iph)) == GRO_NORMAL
    assert g.stats.not_candidate == 3 and g.held == 0


def test_an_error_from_the_stack_above_is_not_taken_for_a_bad_header() -> None:
    """A not-candidate skb is passed up outside the header parse's try: an exception
    raised above GRO propagates, and the skb went up once, not twice."""
    calls: list[SkBuff] = []

    def deliver(skb: SkBuff) -> None:
        calls.append(skb)
        raise SkbError("raised by the stack above")

    g = GroCell(deliver)
    for fr in (frame(0, frag_off=0x2000),  # TCP, not a candidate (MF)
               udp_frame(SMAC, DMAC, SRC, DST, 1, 2, payload=b"x" * 100)):
        calls.clear()
        with pytest.raises(SkbError, match="stack above"):
            g.gro_receive(rx(fr))
        assert len(calls) == 1


def test_padding_flushes_the_flow_and_goes_up_after_it() -> None:
    g, up = cell()
    g.gro_receive(rx(frame(0)))
    padded = frame(1, n=2) + b"\0" * 4  # tot_len short of the skb (Ethernet padding)
    assert g.gro_receive(rx(padded)) == GRO_NORMAL
    assert [parse(s)[0] for s in up.skbs[:1]] == [ISN] and len(up.skbs) == 2
    assert g.stats.flush_ip == 1


def test_checksums_verified_in_software_and_bad_ones_passed_up() -> None:
    g, up = cell()
    held = rx(frame(0), summed=CHECKSUM_NONE)
    assert g.gro_receive(held) == GRO_HELD
    assert held.ip_summed == CHECKSUM_UNNECESSARY  # verified once, marked
    bad = frame(1)
    bad[-1] ^= 0xFF
    assert g.gro_receive(rx(bad, summed=CHECKSUM_NONE)) == GRO_NORMAL
    assert up.skbs[0].ip_summed == CHECKSUM_NONE  # the stack drops it with TCP_CSUM
    assert g.stats.csum_errors == 1 and g.held == 1  # the train is not disturbed
    assert g.gro_receive(rx(frame(1), summed=CHECKSUM_NONE)) == GRO_MERGED_FREE
    assert g.stats.csum_sw == 2
    # CHECKSUM_COMPLETE: the NIC's sum over the IP packet
    good = rx(frame(2), summed=CHECKSUM_COMPLETE)
    good.csum = ones_sum(good.data)
    assert g.gro_receive(good) == GRO_MERGED_FREE
    wrong = rx(frame(3), summed=CHECKSUM_COMPLETE)
    wrong.csum = 1234  # a wrong hardware sum falls back to software
    assert g.gro_receive(wrong) == GRO_MERGED_FREE
    assert g.stats.csum_sw == 3


def test_shared_or_cloned_skbs_pass_up() -> None:
    g, _up = cell()
    skb = rx(frame(0))
    keep = skb.clone()
    assert g.gro_receive(skb) == GRO_NORMAL and keep.users == 1


def test_malformed_frames_never_raise() -> None:
    g, _up = cell()
    base = bytes(frame(0))
    cases = [base[:20], base[:14 + 20 + 10], base[:34] + b"\x00" * 12 + b"\x20" + base[47:]]
    short = bytearray(frame(0, n=10))
    short[46] = 0xF0  # doff 15: header longer than the packet
    cases.append(bytes(short))
    for c in cases:
        assert g.gro_receive(rx(c)) == GRO_NORMAL
    assert g.stats.packets_in == g.stats.segs_up == len(cases)


# --- GRO then GSO ------------------------------------------------------------------


@pytest.mark.parametrize(("n", "last", "fixed"), [(45, TCPHDR_ACK | TCPHDR_PSH, False),
                                                   (7, TCPHDR_ACK, True)])
def test_gro_then_gso_reproduces_the_segments(n: int, last: int, fixed: bool) -> None:
    frames = [bytes(frame(i, flags=last if i == n - 1 else TCPHDR_ACK,
                          ident=4242 if fixed else 0xFFFE + i)) for i in range(n)]
    g, up = cell()
    for fr in frames:
        g.gro_receive(rx(fr))
    g.flush()
    (big,) = up.skbs
    # forwarding: the neighbour layer pushes the Ethernet header back on
    big.push(14)
    big.reset_mac_header()
    drops: list[SkbDropReason] = []
    segs = skb_gso_segment(big, 0, drop=lambda s, r: drops.append(r))
    assert [s.copy_bits(0, s.len) for s in segs] == frames and not drops


# --- property ----------------------------------------------------------------------

_segment = st.tuples(
    st.integers(0, 2),  # flow
    st.integers(-3, 3),  # seq step in segments from the flow's next (0: in order)
    st.sampled_from([MSS, MSS, MSS, 700, 0, 1]),  # payload length
    st.sampled_from([TCPHDR_ACK] * 6 + [TCPHDR_ACK | TCPHDR_PSH, TCPHDR_ACK | TCPHDR_FIN,
                                        TCPHDR_ACK | TCPHDR_CWR]),
    st.sampled_from(["ok"] * 8 + ["badsum", "ttl", "tsval", "ack", "ident"]),
    st.sampled_from([CHECKSUM_UNNECESSARY, CHECKSUM_NONE]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_segment, max_size=60), st.integers(1, 8), st.booleans())
def test_random_trains_never_lose_or_duplicate_a_byte(
        train: list[tuple[int, int, int, int, str, int]], max_held: int,
        poll_flushes: bool) -> None:
    """Every payload byte (keyed by flow and sequence number) comes up exactly as
    often as it went in; merged packets carry valid headers and checksums."""
    stats = GroStats()
    g, up = cell(max_held=max_held, counters=stats)
    sent: dict[tuple[int, int], int] = {}
    nxt = [ISN] * 3
    for k, (flow, step, n, flags, tweak, summed) in enumerate(train):
        seq = (nxt[flow] + step * MSS) & 0xFFFFFFFF
        nxt[flow] = (seq + n) & 0xFFFFFFFF
        payload = bytes((seq + j) & 0xFF for j in range(n))  # byte value = f(seq)
        fr = frame(k, seq=seq, flags=flags, sport=flow + 1, payload=payload,
                   ttl=63 if tweak == "ttl" else 64, tsval=1001 if tweak == "tsval" else 1000,
                   ack=2 if tweak == "ack" else 1, ident=7 if tweak == "ident" else None)
        if tweak == "badsum":
            fr[50] ^= 0x55
            summed = CHECKSUM_NONE
        else:
            for j in range(n):
                key = (flow + 1, (seq + j) & 0xFFFFFFFF)
                sent[key] = sent.get(key, 0) + 1
        g.gro_receive(rx(fr, summed=summed, h=flow))
        if poll_flushes and k % 9 == 8:
            g.flush()
    g.flush()
    got: dict[tuple[int, int], int] = {}
    for skb in up.skbs:
        if skb.gso_segs > 1:
            assert tcp_csum_ok(skb)
        else:
            raw = skb.copy_bits(0, skb.len)
            if not checksum_ok(raw[20:], pseudo_header_sum(SRC_I, DST_I, 6, len(raw) - 20)):
                continue  # a corrupted one, passed up for the stack to drop
        seq, _flags, payload, _id = parse(skb)
        sport = struct.unpack_from("!H", skb.copy_bits(20, 2))[0]
        for j, b in enumerate(payload):
            s = (seq + j) & 0xFFFFFFFF
            assert b == s & 0xFF
            got[(sport, s)] = got.get((sport, s), 0) + 1
    assert got == sent
    assert stats.packets_in == stats.segs_up == len(train) and g.held == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), max_size=4),
       st.integers(0, 1600), st.sampled_from([CHECKSUM_NONE, CHECKSUM_UNNECESSARY,
                                              CHECKSUM_COMPLETE]), st.integers(0, 3))
def test_mutated_frames_never_raise(flips: list[tuple[int, int]], cut: int, summed: int,
                                    i: int) -> None:
    g, _up = cell()
    g.gro_receive(rx(frame(0)))
    fr = bytearray(frame(1 + i))[:14 + cut] if cut else bytearray(frame(1 + i))
    for pos, val in flips:
        if pos < len(fr):
            fr[pos] = val
    res = g.gro_receive(rx(fr, summed=summed))
    assert res in (GRO_HELD, GRO_MERGED_FREE, GRO_NORMAL)
    g.flush()
    assert g.stats.packets_in == g.stats.segs_up == 2


def test_benchmark_runs_quick() -> None:
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_gro.py"),
                          "--quick"], capture_output=True, text=True, timeout=120,
                         check=True).stdout.strip().splitlines()
    ratios = [ln for ln in out if ln.startswith("ratio:")]
    assert len(ratios) == 2 and out[-2:] == ratios
    for ln in ratios:
        assert re.fullmatch(r"ratio: [a-z0-9_]+ tuxnet/no_gro = \d+\.\d+", ln), ln
