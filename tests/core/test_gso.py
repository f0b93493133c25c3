"""GSO/TSO (tuxnet.core.gso): software segmentation of TCPv4/UDPv4 super-packets checked
byte for byte against frames built independently (tuxnet.wire.build, scapy), the
transmit checksum helpers and validate_xmit_skb's offload decisions."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuxnet.core.gso import (
    NETIF_F_GSO_UDP_L4,
    NETIF_F_HW_CSUM,
    NETIF_F_IP_CSUM,
    NETIF_F_SG,
    NETIF_F_TSO,
    NETIF_F_TSO_ECN,
    NETIF_F_TSO_MANGLEID,
    net_gso_ok,
    netdev_features,
    netif_needs_gso,
    skb_checksum,
    skb_checksum_help,
    skb_gso_segment,
    validate_xmit_skb,
)
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import (
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    SKB_GSO_TCP_ECN,
    SKB_GSO_TCP_FIXEDID,
    SKB_GSO_TCPV4,
    SKB_GSO_TCPV6,
    SKB_GSO_UDP_L4,
    SkbCounters,
    SkBuff,
    alloc_skb,
)
from tuxnet.wire.build import tcp_frame, udp_frame
from tuxnet.wire.checksum import checksum_ok, csum_fold, pseudo_header_sum
from tuxnet.wire.ipv4 import IP_DF
from tuxnet.wire.tcp import TCPHDR_ACK, TCPHDR_CWR, TCPHDR_FIN, TCPHDR_PSH

SMAC = bytes.fromhex("02000000000a")
DMAC = bytes.fromhex("02000000000b")
SRC, DST = "192.0.2.1", "198.51.100.7"
SPORT, DPORT = 43210, 5201
SEQ0, ACK0 = 0xFFFF_F000, 777  # the sequence number wraps inside the train
ID0 = 0xFFF0  # and so does the IP id
TS = b"\x01\x01\x08\x0a" + struct.pack("!II", 0x01020304, 0x0A0B0C0D)
MSS = 1448
PLEN = 65000  # 44 full segments and one of 1288: IP tot_len 65052, a 64 KiB super-packet
ETH_PROTO_IP = 0x0800


def pattern(n: int, salt: int = 0) -> bytes:
    """A known payload: byte i is (i * 7 + i // 251 + salt) & 0xFF (no short period)."""
    return bytes((i * 7 + i // 251 + salt) & 0xFF for i in range(n))


PAYLOAD = pattern(PLEN)


def super_frame(flags: int = TCPHDR_ACK | TCPHDR_PSH, *, frag_off: int = IP_DF,
                payload: bytes = PAYLOAD) -> bytearray:
    return tcp_frame(SMAC, DMAC, SRC, DST, SPORT, DPORT, seq=SEQ0, ack_seq=ACK0, flags=flags,
                     window=501, payload=payload, options=TS, ident=ID0, frag_off=frag_off)


def expected_segments(flags: int, *, fixedid: bool = False, payload: bytes = PAYLOAD,
                      mss: int = MSS) -> list[bytes]:
    """The same segments, each built from scratch by tuxnet.wire.build."""
    out = []
    chunks = [payload[o:o + mss] for o in range(0, len(payload), mss)]
    for i, chunk in enumerate(chunks):
        f = flags
        if i != len(chunks) - 1:
            f &= ~(TCPHDR_FIN | TCPHDR_PSH)
        if i:
            f &= ~TCPHDR_CWR
        out.append(bytes(tcp_frame(SMAC, DMAC, SRC, DST, SPORT, DPORT,
                                   seq=(SEQ0 + i * mss) & 0xFFFFFFFF, ack_seq=ACK0, flags=f,
                                   window=501, payload=chunk, options=TS,
                                   ident=ID0 if fixedid else (ID0 + i) & 0xFFFF)))
    return out


def gso_skb(frame: bytes | bytearray, *, l2: int = 14, frag_sizes: tuple[int, ...] = (),
            gso_type: int = SKB_GSO_TCPV4, mss: int = MSS, thlen: int = 32,
            partial: bool = True, counters: SkbCounters | None = None,
            l4_check: int = 16) -> SkBuff:
    """A TCP stack's gso skb: headers (+ some payload) linear, the rest in frags of
    ``frag_sizes`` (the last frag takes what is left); data at the Ethernet header
    when l2 == 14, at the IP header when l2 == 0 (then ``frame`` has no Ethernet)."""
    hdr = l2 + 20 + thlen
    lin = len(frame) if not frag_sizes else min(len(frame), hdr + 5)  # some payload too
    skb = alloc_skb(128 + lin, counters)
    skb.reserve(128)
    skb.put_data(frame[:lin])
    pos = lin
    for i, size in enumerate(frag_sizes):
        n = len(frame) - pos if i == len(frag_sizes) - 1 else min(size, len(frame) - pos)
        if n <= 0:
            break
        page = bytearray(b"\xee" * 3) + frame[pos:pos + n] + b"\xee"  # offset 3 in a page
        skb.add_frag(page, 3, n)
        pos += n
    assert skb.len == len(frame)
    if l2:
        skb.reset_mac_header()
    skb.set_network_header(l2)
    skb.set_transport_header(l2 + 20)
    skb.protocol = ETH_PROTO_IP
    skb.gso_size = mss
    skb.gso_type = gso_type
    skb.gso_segs = -(-(len(frame) - hdr) // mss)
    if partial:
        skb.ip_summed = CHECKSUM_PARTIAL
        skb.csum_start = skb.transport_header
        skb.csum_offset = l4_check
    return skb


def seg_bytes(seg: SkBuff) -> bytes:
    return seg.copy_bits(0, seg.len)


class Drops:
    def __init__(self) -> None:
        self.calls: list[tuple[SkBuff, SkbDropReason]] = []

    def __call__(self, skb: SkBuff, reason: SkbDropReason) -> None:
        self.calls.append((skb, reason))
        skb.free()


def no_drop(skb: SkBuff, reason: SkbDropReason) -> None:
    raise AssertionError(f"unexpected drop {reason}")


# --- byte-exact TCP segmentation -------------------------------------------------------


def test_64k_super_packet_software_checksum_byte_exact() -> None:
    flags = TCPHDR_ACK | TCPHDR_PSH | TCPHDR_CWR
    skb = gso_skb(super_frame(flags))
    segs = skb_gso_segment(skb, 0, drop=no_drop)
    want = expected_segments(flags)
    assert len(segs) == len(want) == 45
    for i, (seg, exp) in enumerate(zip(segs, want, strict=True)):
        assert seg_bytes(seg) == exp, f"segment {i} differs"
        assert seg.ip_summed == CHECKSUM_NONE
        assert (seg.gso_size, seg.gso_segs, seg.gso_type) == (0, 0, 0)
        assert seg.mac_header == seg.data_off
        assert seg.network_header == seg.data_off + 14
        assert seg.transport_header == seg.data_off + 34
        assert seg.protocol == ETH_PROTO_IP
    assert len(segs[-1]) == 14 + 52 + PLEN - 44 * MSS
    assert skb.users == 1  # the caller still owns the gso skb


def test_segments_verified_by_scapy() -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    flags = TCPHDR_ACK | TCPHDR_PSH | TCPHDR_FIN
    segs = skb_gso_segment(gso_skb(super_frame(flags)), 0, drop=no_drop)
    seen = bytearray()
    for i, seg in enumerate(segs):
        raw = seg_bytes(seg)
        pkt = Ether(raw)
        ip, tcp = pkt[IP], pkt[TCP]
        again = Ether(raw)
        del again[IP].chksum
        del again[TCP].chksum
        again = Ether(bytes(again))  # scapy recomputes both checksums
        assert ip.chksum == again[IP].chksum and tcp.chksum == again[TCP].chksum
        assert ip.len == len(raw) - 14 and ip.id == (ID0 + i) & 0xFFFF and ip.flags == "DF"
        assert tcp.seq == (SEQ0 + i * MSS) & 0xFFFFFFFF and tcp.ack == ACK0
        last = i == len(segs) - 1
        assert str(tcp.flags) == ("FPA" if last else "A")
        assert dict(tcp.options)["Timestamp"] == (0x01020304, 0x0A0B0C0D)
        seen += bytes(tcp.payload)
    assert bytes(seen) == PAYLOAD


@pytest.mark.parametrize("frag_sizes", [(4096,) * 15 + (1,), (1001, 3, 4097, 2999, 65000)])
def test_paged_super_packet_with_sg_shares_frags(frag_sizes: tuple[int, ...]) -> None:
    counters = SkbCounters()
    skb = gso_skb(super_frame(), frag_sizes=frag_sizes, counters=counters)
    before = counters.bytes_copied
    segs = skb_gso_segment(skb, NETIF_F_SG, drop=no_drop)
    want = expected_segments(TCPHDR_ACK | TCPHDR_PSH)
    copied = counters.bytes_copied - before
    assert [seg_bytes(s) for s in segs] == want  # odd frag boundaries: checksum parity
    assert sum(s.nr_frags for s in segs) >= len(segs) - 1
    # only headers (read once, written per segment by put_data) and 5 linear bytes copied
    assert copied < 200
    without_sg = skb_gso_segment(gso_skb(super_frame(), frag_sizes=frag_sizes), 0,
                                 drop=no_drop)
    assert [seg_bytes(s) for s in without_sg] == want
    assert all(s.nr_frags == 0 for s in without_sg)


def test_device_checksum_leaves_partial_segments() -> None:
    for feats in (NETIF_F_IP_CSUM, NETIF_F_HW_CSUM | NETIF_F_SG):
        segs = skb_gso_segment(gso_skb(super_frame()), feats, drop=no_drop)
        want = expected_segments(TCPHDR_ACK | TCPHDR_PSH)
        for seg, exp in zip(segs, want, strict=True):
            assert seg.ip_summed == CHECKSUM_PARTIAL
            assert seg.csum_start == seg.transport_header and seg.csum_offset == 16
            th = seg.transport_header - seg.data_off
            check = struct.unpack_from("!H", seg_bytes(seg), th + 16)[0]
            pseudo = pseudo_header_sum(0xC0000201, 0xC6336407, 6, seg.len - th)
            assert check == csum_fold(pseudo)  # the pseudo-header sum, as Linux leaves it
            assert skb_checksum_help(seg)  # what the NIC would do
            assert seg_bytes(seg) == exp


def test_data_at_ip_header() -> None:
    frame = super_frame()[14:]
    segs = skb_gso_segment(gso_skb(frame, l2=0), 0, drop=no_drop)
    assert [seg_bytes(s) for s in segs] == [e[14:] for e in expected_segments(
        TCPHDR_ACK | TCPHDR_PSH)]
    assert all(s.network_header == s.data_off and s.headroom() == 128 for s in segs)


def test_vlan_tagged_frame() -> None:
    frame = tcp_frame(SMAC, DMAC, SRC, DST, SPORT, DPORT, seq=1, payload=pattern(3000),
                      vlan_tci=0x2064)
    skb = gso_skb(frame, l2=18, thlen=20, mss=1000)
    segs = skb_gso_segment(skb, 0, drop=no_drop)
    want = [tcp_frame(SMAC, DMAC, SRC, DST, SPORT, DPORT, seq=1 + 1000 * i,
                      payload=pattern(3000)[1000 * i:1000 * (i + 1)], vlan_tci=0x2064,
                      ident=i) for i in range(3)]
    assert [seg_bytes(s) for s in segs] == [bytes(w) for w in want]


def test_fixed_id() -> None:
    flags = TCPHDR_ACK
    skb = gso_skb(super_frame(flags), gso_type=SKB_GSO_TCPV4 | SKB_GSO_TCP_FIXEDID)
    segs = skb_gso_segment(skb, 0, drop=no_drop)
    assert [seg_bytes(s) for s in segs] == expected_segments(flags, fixedid=True)


def test_non_partial_input_gets_checksums_too() -> None:
    skb = gso_skb(super_frame(), partial=False)
    segs = skb_gso_segment(skb, 0, drop=no_drop)
    assert [seg_bytes(s) for s in segs] == expected_segments(TCPHDR_ACK | TCPHDR_PSH)


def test_payload_within_one_mss_gives_one_segment() -> None:
    frame = super_frame(payload=pattern(1000))
    segs = skb_gso_segment(gso_skb(frame), 0, drop=no_drop)
    assert [seg_bytes(s) for s in segs] == expected_segments(TCPHDR_ACK | TCPHDR_PSH,
                                                             payload=pattern(1000))


def test_non_gso_skb_is_returned_alone() -> None:
    skb = gso_skb(super_frame(payload=b"x"))
    skb.gso_size = 0
    assert skb_gso_segment(skb, 0, drop=no_drop) == [skb]


# --- UDP GSO -------------------------------------------------------------------------


def test_udp_l4_segments_byte_exact() -> None:
    data = pattern(5000, salt=3)
    frame = udp_frame(SMAC, DMAC, SRC, DST, 5353, 9999, payload=data, ident=100)
    skb = gso_skb(frame, gso_type=SKB_GSO_UDP_L4, mss=1400, thlen=8, l4_check=6)
    segs = skb_gso_segment(skb, 0, drop=no_drop)
    want = [bytes(udp_frame(SMAC, DMAC, SRC, DST, 5353, 9999, payload=data[o:o + 1400],
                            ident=100 + i)) for i, o in enumerate(range(0, 5000, 1400))]
    assert [seg_bytes(s) for s in segs] == want
    # device checksum: UDP length per segment, pseudo-header sum left for the NIC
    segs = skb_gso_segment(gso_skb(frame, gso_type=SKB_GSO_UDP_L4, mss=1400, thlen=8,
                                   l4_check=6), NETIF_F_IP_CSUM, drop=no_drop)
    for seg, exp in zip(segs, want, strict=True):
        assert seg.ip_summed == CHECKSUM_PARTIAL and seg.csum_offset == 6
        assert skb_checksum_help(seg)
        assert seg_bytes(seg) == exp


# --- errors --------------------------------------------------------------------------


def _broken(kind: str) -> SkBuff:
    if kind == "udp_l4_one_mss":
        frame = udp_frame(SMAC, DMAC, SRC, DST, 1, 2, payload=b"x" * 100)
        return gso_skb(frame, gso_type=SKB_GSO_UDP_L4, thlen=8, l4_check=6)
    skb = gso_skb(super_frame(payload=pattern(5000)))
    if kind == "tcpv6":
        skb.gso_type = SKB_GSO_TCPV6
    elif kind == "no_type":
        skb.gso_type = 0
    elif kind == "udp_on_tcp":
        skb.gso_type = SKB_GSO_UDP_L4
    elif kind == "fixedid_no_df":
        skb = gso_skb(super_frame(frag_off=0, payload=pattern(5000)),
                      gso_type=SKB_GSO_TCPV4 | SKB_GSO_TCP_FIXEDID)
    elif kind == "csum_start":
        skb.csum_start += 4
    elif kind == "doff":
        skb.data[14 + 20 + 12] = 0x40  # doff 4
    elif kind == "ihl":
        skb.data[14] = 0x44
    elif kind == "not_ipv4":
        skb.data[12:14] = b"\x86\xdd"
    elif kind == "truncated":
        skb.trim(14 + 30)
    elif kind == "version":
        skb.data[14] = 0x65
    return skb


@pytest.mark.parametrize("kind", ["tcpv6", "no_type", "udp_on_tcp", "fixedid_no_df",
                                  "csum_start", "doff", "ihl", "not_ipv4", "truncated",
                                  "version", "udp_l4_one_mss"])
def test_malformed_gso_skb_is_dropped_with_gso_seg(kind: str) -> None:
    drops = Drops()
    skb = _broken(kind)
    assert skb_gso_segment(skb, 0, drop=drops) == []
    assert drops.calls == [(skb, SkbDropReason.SKB_GSO_SEG)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=200), st.integers(0, 0x3FFFF),
       st.integers(1, 2000), st.booleans(), st.integers(0, 3))
def test_garbage_never_raises(raw: bytes, gso_type: int, mss: int, at_mac: bool,
                              summed: int) -> None:
    skb = alloc_skb(len(raw) + 64)
    skb.reserve(64)
    skb.put_data(raw)
    if at_mac:
        skb.reset_mac_header()
    skb.gso_size, skb.gso_type, skb.ip_summed = mss, gso_type, summed
    skb.csum_start = skb.data_off + 34
    drops = Drops()
    segs = skb_gso_segment(skb, NETIF_F_SG if summed & 1 else 0, drop=drops)
    assert bool(segs) != bool(drops.calls)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9000), st.integers(1, 3000), st.lists(st.integers(1, 5000),
       max_size=6), st.booleans(), st.booleans())
def test_random_super_packets_round_trip(plen: int, mss: int, frags: list[int], sg: bool,
                                         hw: bool) -> None:
    data = pattern(plen, salt=plen)
    frame = tcp_frame(SMAC, DMAC, SRC, DST, SPORT, DPORT, seq=SEQ0, payload=data,
                      options=TS, flags=TCPHDR_ACK | TCPHDR_FIN)
    skb = gso_skb(frame, frag_sizes=tuple(frags), mss=mss)
    feats = (NETIF_F_SG if sg else 0) | (NETIF_F_IP_CSUM if hw else 0)
    segs = skb_gso_segment(skb, feats, drop=no_drop)
    got = bytearray()
    for i, seg in enumerate(segs):
        if hw:
            assert skb_checksum_help(seg)
        raw = seg_bytes(seg)
        assert checksum_ok(raw[14:34])
        tcplen = len(raw) - 34
        assert checksum_ok(raw[34:], pseudo_header_sum(0xC0000201, 0xC6336407, 6, tcplen))
        assert struct.unpack_from("!I", raw, 38)[0] == (SEQ0 + i * mss) & 0xFFFFFFFF
        assert bool(raw[47] & TCPHDR_FIN) == (i == len(segs) - 1)
        got += raw[66:]
    assert bytes(got) == data and len(segs) == -(-plen // mss)


# --- checksum helpers --------------------------------------------------------------


def test_skb_checksum_help_mangles_zero_to_ffff() -> None:
    """dev.c skb_checksum_help: a computed 0 is written as 0xFFFF (CSUM_MANGLED_0)."""
    body = bytearray(pattern(100))
    frame = tcp_frame(SMAC, DMAC, SRC, DST, SPORT, DPORT, payload=bytes(body) + b"\0\0")
    check = struct.unpack_from("!H", frame, 50)[0]
    body += struct.pack("!H", check)  # adding the old checksum makes the sum all ones
    frame = tcp_frame(SMAC, DMAC, SRC, DST, SPORT, DPORT, payload=bytes(body))
    assert struct.unpack_from("!H", frame, 50)[0] == 0
    skb = gso_skb(frame, thlen=20)
    skb.gso_size = 0
    skb.data[50:52] = struct.pack("!H", csum_fold(pseudo_header_sum(
        0xC0000201, 0xC6336407, 6, len(frame) - 34)))
    assert skb_checksum_help(skb)
    assert skb.data[50:52] == b"\xff\xff" and skb.ip_summed == CHECKSUM_NONE
    assert skb_checksum(skb, 34, len(frame) - 34, pseudo_header_sum(
        0xC0000201, 0xC6336407, 6, len(frame) - 34)) == 0xFFFF


def test_skb_checksum_help_rejects_bad_offsets_and_gso() -> None:
    skb = gso_skb(super_frame(payload=pattern(100)))
    assert not skb_checksum_help(skb)  # gso
    skb.gso_size = 0
    skb.csum_start = skb.tail + 10
    assert not skb_checksum_help(skb)


def test_skb_checksum_help_unshares_a_cloned_header() -> None:
    frame = super_frame(payload=pattern(300))
    skb = gso_skb(frame)
    skb.gso_size = 0
    skb.data[50:52] = struct.pack("!H", csum_fold(pseudo_header_sum(
        0xC0000201, 0xC6336407, 6, len(frame) - 34)))
    clone = skb.clone()
    before = seg_bytes(clone)
    assert skb_checksum_help(skb)
    assert seg_bytes(clone) == before  # the retransmit queue's copy is untouched
    assert seg_bytes(skb) == bytes(frame)


# --- validate_xmit_skb -----------------------------------------------------------------


def test_validate_xmit_tso_device_takes_the_super_packet() -> None:
    skb = gso_skb(super_frame())
    feats = {"tx-scatter-gather", "tx-checksum-ipv4", "tx-tcp-segmentation"}
    assert validate_xmit_skb(skb, feats, no_drop) == [skb]
    assert not netif_needs_gso(skb, netdev_features(feats))


def test_validate_xmit_without_tso_segments_and_consumes() -> None:
    consumed: list[SkBuff] = []
    want = expected_segments(TCPHDR_ACK | TCPHDR_PSH)
    for feats in ({"tx-scatter-gather", "tx-checksum-ipv4"}, set(),
                  {"tx-tcp-segmentation"}):  # TSO without checksumming: harmonized away
        skb = gso_skb(super_frame())
        segs = validate_xmit_skb(skb, feats, no_drop, consume=consumed.append)
        assert consumed[-1] is skb and len(segs) == 45
        for seg, exp in zip(segs, want, strict=True):
            if seg.ip_summed == CHECKSUM_PARTIAL:
                assert "tx-checksum-ipv4" in feats
                skb_checksum_help(seg)
            assert seg_bytes(seg) == exp
    skb = gso_skb(super_frame())
    assert len(validate_xmit_skb(skb, 0, no_drop)) == 45
    assert skb.users == 0  # default consume: freed


def test_validate_xmit_gso_type_features() -> None:
    ecn = gso_skb(super_frame(), gso_type=SKB_GSO_TCPV4 | SKB_GSO_TCP_ECN)
    assert netif_needs_gso(ecn, NETIF_F_TSO | NETIF_F_IP_CSUM)
    assert not netif_needs_gso(ecn, NETIF_F_TSO | NETIF_F_TSO_ECN | NETIF_F_IP_CSUM)
    assert net_gso_ok(NETIF_F_TSO | NETIF_F_TSO_MANGLEID, SKB_GSO_TCPV4 | SKB_GSO_TCP_FIXEDID)
    assert net_gso_ok(NETIF_F_GSO_UDP_L4, SKB_GSO_UDP_L4)
    assert not net_gso_ok(NETIF_F_TSO, SKB_GSO_UDP_L4)
    # too many segments for the device: software GSO
    skb = gso_skb(super_frame())
    segs = validate_xmit_skb(skb, NETIF_F_TSO | NETIF_F_IP_CSUM | NETIF_F_SG, no_drop,
                             gso_max_segs=16)
    assert len(segs) == 45


def test_validate_xmit_checksum_help_and_linearize() -> None:
    frame = super_frame(payload=pattern(1200))
    skb = gso_skb(frame, frag_sizes=(600, 1))
    skb.gso_size = 0
    skb.data[50:52] = struct.pack("!H", csum_fold(pseudo_header_sum(
        0xC0000201, 0xC6336407, 6, len(frame) - 34)))
    out = validate_xmit_skb(skb, set(), no_drop)
    assert out == [skb] and not skb.is_nonlinear()
    assert skb.ip_summed == CHECKSUM_NONE and seg_bytes(skb) == bytes(frame)
    partial = gso_skb(frame)
    partial.gso_size = 0
    assert validate_xmit_skb(partial, NETIF_F_IP_CSUM | NETIF_F_SG, no_drop) == [partial]
    assert partial.ip_summed == CHECKSUM_PARTIAL  # left to the NIC
    bad = gso_skb(frame)
    bad.gso_size = 0
    bad.csum_start = bad.tail
    drops = Drops()
    assert validate_xmit_skb(bad, 0, drops) == []
    assert drops.calls == [(bad, SkbDropReason.SKB_CSUM)]


def test_validate_xmit_drops_unsegmentable() -> None:
    drops = Drops()
    skb = _broken("doff")
    assert validate_xmit_skb(skb, 0, drops) == []
    assert drops.calls == [(skb, SkbDropReason.SKB_GSO_SEG)]


def test_netdev_features_names() -> None:
    assert netdev_features({"tx-tcp-segmentation", "tx-checksum-ip-generic"}) == (
        NETIF_F_TSO | NETIF_F_HW_CSUM)
    assert netdev_features(7) == 7
    with pytest.raises(ValueError):
        netdev_features({"tx-warp-drive"})
