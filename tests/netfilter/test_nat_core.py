"""NAT core: Linux's port selection (get_unique_tuple / nf_nat_l4proto_unique_tuple)
and the incremental checksum updates of the packet rewrite (RFC 1624)."""

from __future__ import annotations

import struct

from _ctutil import A, B, ct_host, walk
from _nfutil import icmp, skb_of, tcp, udp

from tuxnet.netfilter.conntrack.defs import NfConn, invert_tuple
from tuxnet.netfilter.nat.core import (
    NF_NAT_RANGE_MAP_IPS,
    NF_NAT_RANGE_PROTO_SPECIFIED,
    NatRange2,
    get_unique_tuple,
    nf_nat_setup_info,
)
from tuxnet.netfilter.nat.manip import NF_NAT_MANIP_DST, NF_NAT_MANIP_SRC, nf_nat_ipv4_manip_pkt
from tuxnet.wire.addr import ip_int
from tuxnet.wire.checksum import internet_checksum, ones_sum

NATIP = ip_int("10.2.0.1")


def _occupy(cn: object, t: tuple[int, int, int, int, int]) -> None:
    """A confirmed entry whose reply tuple is the inverse of ``t`` (t is taken)."""
    ct = NfConn(cn, (1, 2, t[2], 3, 4), invert_tuple(t), 99)
    ct.timeout = 1 << 60
    ct.status = 8
    cn.insert(ct)  # type: ignore[attr-defined]


def test_snat_keeps_a_unique_port_and_searches_on_clash() -> None:
    _host, cn = ct_host()
    ct, _, _ = walk(cn, tcp(A, B, 40000, 80, 0x02, 1))
    rng = NatRange2(NF_NAT_RANGE_MAP_IPS, NATIP, NATIP)
    orig = (ip_int(A), ip_int(B), 6, 40000, 80)
    got = get_unique_tuple(cn, orig, rng, ct, NF_NAT_MANIP_SRC)
    assert got == (NATIP, ip_int(B), 6, 40000, 80)
    _occupy(cn, got)
    got2 = get_unique_tuple(cn, orig, rng, ct, NF_NAT_MANIP_SRC)
    assert got2[0] == NATIP and got2[3] != 40000 and 1024 <= got2[3] <= 65535
    # privileged source ports stay privileged: <512 -> 1..511, 512..1023 -> 600..1023
    for sport, lo, hi in ((80, 1, 511), (700, 600, 1023)):
        o = (ip_int(A), ip_int(B), 6, sport, 80)
        _occupy(cn, (NATIP, ip_int(B), 6, sport, 80))
        t = get_unique_tuple(cn, o, rng, ct, NF_NAT_MANIP_SRC)
        assert lo <= t[3] <= hi and t[3] != sport


def test_port_range_offset_is_random_for_snat_and_zero_for_dnat() -> None:
    _host, cn = ct_host()
    ct, _, _ = walk(cn, udp(A, B, 5000, 53))
    rng = NatRange2(NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED, NATIP, NATIP,
                    20000, 20010)
    orig = (ip_int(A), ip_int(B), 17, 5000, 53)
    picks = {get_unique_tuple(cn, orig, rng, ct, NF_NAT_MANIP_SRC)[3] for _ in range(20)}
    assert picks <= set(range(20000, 20011)) and len(picks) > 3  # random offsets
    # DNAT with a port range: the destination port stays when it is in range...
    d = NatRange2(NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED, NATIP, NATIP, 50, 60)
    o2 = (ip_int(A), ip_int(B), 17, 5000, 55)
    assert get_unique_tuple(cn, o2, d, ct, NF_NAT_MANIP_DST)[4] == 55
    # ...else the search starts at offset 0: the lowest free port
    o3 = (ip_int(A), ip_int(B), 17, 5000, 70)
    assert get_unique_tuple(cn, o3, d, ct, NF_NAT_MANIP_DST)[4] == 50
    _occupy(cn, (ip_int(A), NATIP, 17, 5000, 50))
    assert get_unique_tuple(cn, o3, d, ct, NF_NAT_MANIP_DST)[4] == 51
    # DNAT without a port range never changes the port
    d2 = NatRange2(NF_NAT_RANGE_MAP_IPS, NATIP, NATIP)
    assert get_unique_tuple(cn, o3, d2, ct, NF_NAT_MANIP_DST)[4] == 70


def test_setup_info_alters_the_reply_and_sets_status() -> None:
    _host, cn = ct_host()
    ct, _, _ = walk(cn, icmp(A, B, 8, 0, (7 << 16) | 1))
    # the entry is confirmed now; take a fresh unconfirmed one
    ct = NfConn(cn, (ip_int(A), ip_int(B), 1, 9, 8 << 8), invert_tuple(
        (ip_int(A), ip_int(B), 1, 9, 8 << 8)), 5)
    nf_nat_setup_info(cn, ct, NatRange2(NF_NAT_RANGE_MAP_IPS, NATIP, NATIP), NF_NAT_MANIP_SRC)
    assert ct.reply == (ip_int(B), NATIP, 1, 9, 0)
    assert ct.status & 0x10 and ct.status & 0x80  # IPS_SRC_NAT, IPS_SRC_NAT_DONE


def _l4_ok(pkt: bytes) -> bool:
    ihl = (pkt[0] & 15) * 4
    src, dst = struct.unpack_from("!II", pkt, 12)
    proto = pkt[9]
    seg = pkt[ihl:]
    if proto == 1:
        return ones_sum(seg) == 0xFFFF
    return ones_sum(seg, src + dst + proto + len(seg)) == 0xFFFF


def test_rewrites_keep_every_checksum_valid() -> None:
    target_src = (NATIP, ip_int(B), 6, 61000, 80)
    for pkt, proto in ((tcp(A, B, 40000, 80, 0x18, 7, 9, payload=b"data" * 33), 6),
                       (udp(A, B, 5353, 53, b"payload!"), 17),
                       (icmp(A, B, 8, 0, (7 << 16) | 3, b"abc"), 1)):
        for manip, target in ((NF_NAT_MANIP_SRC, (*target_src[:2], proto, *target_src[3:])),
                              (NF_NAT_MANIP_DST, (ip_int(A), NATIP, proto, 4242, 8080))):
            skb = skb_of(pkt)
            assert nf_nat_ipv4_manip_pkt(skb, skb.data, 0, target, manip)
            out = bytes(skb.data)
            assert internet_checksum(out[:20]) == 0 and _l4_ok(out), (proto, manip)
            if manip == NF_NAT_MANIP_SRC:
                assert out[12:16] == NATIP.to_bytes(4, "big")
                key = struct.unpack_from("!H", out, 20 + (4 if proto == 1 else 0))[0]
                assert key == 61000
            else:
                assert out[16:20] == NATIP.to_bytes(4, "big")
                if proto != 1:
                    assert struct.unpack_from("!H", out, 22)[0] == 8080


def test_udp_without_checksum_stays_without() -> None:
    pkt = bytearray(udp(A, B, 5353, 53, b"x"))
    pkt[26:28] = b"\x00\x00"
    skb = skb_of(bytes(pkt))
    assert nf_nat_ipv4_manip_pkt(skb, skb.data, 0, (NATIP, ip_int(B), 17, 1, 53),
                                 NF_NAT_MANIP_SRC)
    out = bytes(skb.data)
    assert out[26:28] == b"\x00\x00" and internet_checksum(out[:20]) == 0


def test_icmp_id_remapped_on_clash() -> None:
    _host, cn = ct_host()
    ct, _, _ = walk(cn, icmp(A, B, 8, 0, (7 << 16) | 1))
    rng = NatRange2(NF_NAT_RANGE_MAP_IPS, NATIP, NATIP)
    orig = (ip_int(A), ip_int(B), 1, 7, 8 << 8)
    assert get_unique_tuple(cn, orig, rng, ct, NF_NAT_MANIP_SRC) == (NATIP, ip_int(B), 1, 7,
                                                                      8 << 8)
    _occupy(cn, (NATIP, ip_int(B), 1, 7, 8 << 8))  # another host's ping with id 7
    t = get_unique_tuple(cn, orig, rng, ct, NF_NAT_MANIP_SRC)
    assert t[0] == NATIP and t[3] != 7 and 0 <= t[3] <= 0xFFFF and t[4] == 8 << 8
