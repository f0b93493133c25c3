"""IPv4 fragmentation on output (ip_fragment / ip_do_fragment), checked byte for byte
against fragments scapy builds independently."""

from __future__ import annotations

import errno
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import (
    IP,
    UDP,
    IPOption_LSRR,
    IPOption_NOP,
    IPOption_Router_Alert,
    IPOption_RR,
    fragment,
)
from scapy.packet import Packet, Raw

from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.ipv4.ip_output_frag import (
    EMSGSIZE,
    frag_needed_mtu,
    ip_do_fragment,
    ip_exceeds_mtu,
    ip_fragment,
    ip_options_fragment,
)
from tuxnet.loop import SimLoop
from tuxnet.skb import CHECKSUM_PARTIAL, MAX_SKB_FRAGS, SkbCounters, SkBuff, alloc_skb
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.ipv4 import IP_DF, IP_MF, Ipv4View


def make_skb(data: bytes, counters: SkbCounters | None = None, *,
             linear: int | None = None, chunk: int = 700) -> SkBuff:
    """An skb holding ``data`` at skb.data; with ``linear`` only that many bytes are in
    the head, the rest in page frags of ``chunk`` bytes."""
    head = len(data) if linear is None else linear
    skb = alloc_skb(head + 64, counters)
    skb.reserve(64)
    skb.put_data(data[:head])
    skb.reset_network_header()
    pos = head
    chunk = max(chunk, -(-(len(data) - head) // MAX_SKB_FRAGS))
    while pos < len(data):
        n = min(chunk, len(data) - pos)
        page = bytearray(b"\xee" * 8 + data[pos:pos + n])
        skb.add_frag(page, 8, n)
        pos += n
    return skb


def udp_datagram(payload_len: int, *, flags: int = 0, frag: int = 0,
                 options: Sequence[Packet] = ()) -> bytes:
    pkt = IP(src="192.0.2.1", dst="198.51.100.7", id=0x4242, ttl=61, tos=0x10,
             flags=flags, frag=frag, options=list(options))
    pay = bytes((i * 7 + 3) & 0xFF for i in range(payload_len))
    return bytes(pkt / UDP(sport=4000, dport=53) / Raw(pay))


def run_fragment(data: bytes, mtu: int, **kw: object) -> tuple[Host, list[bytes], int]:
    host = Host(SimLoop())
    out: list[bytes] = []

    def output(skb: SkBuff) -> None:
        out.append(skb.copy_bits(0, skb.len))

    rc = ip_fragment(host, make_skb(data), mtu, output, **kw)  # type: ignore[arg-type]
    return host, out, rc


@pytest.mark.parametrize("mtu", [68, 576, 1006, 1280, 1500])
@pytest.mark.parametrize("payload_len", [1473, 2000, 4444, 8972])
def test_fragments_match_scapy(mtu: int, payload_len: int) -> None:
    data = udp_datagram(payload_len)
    host, got, rc = run_fragment(data, mtu)
    want = [bytes(f) for f in fragment(IP(data), fragsize=mtu - 20)]
    assert rc == 0
    assert got == want
    assert all(len(f) <= mtu for f in got)
    assert host.mib.ip.FragOKs == 1
    assert host.mib.ip.FragCreates == len(want)
    assert host.mib.ip.FragFails == 0


def test_fits_goes_out_whole() -> None:
    data = udp_datagram(1000)
    host = Host(SimLoop())
    sent: list[SkBuff] = []
    skb = make_skb(data)
    assert ip_fragment(host, skb, 1500, sent.append) == 0
    assert sent == [skb]
    assert host.mib.ip.FragOKs == host.mib.ip.FragCreates == 0


def test_fragmenting_a_fragment_keeps_mf_and_adds_the_offset() -> None:
    data = udp_datagram(3000, flags=1, frag=100)  # MF, offset 800
    _host, got, rc = run_fragment(data, 1000)
    want = [bytes(f) for f in fragment(IP(data), fragsize=980)]
    assert rc == 0 and got == want
    assert all(Ipv4View(f).mf for f in got)


def test_options_copy_flag_rfc791() -> None:
    """RFC 791 3.1: options with the copy flag go into every fragment; the others only
    into the first, replaced by NOPs after it (ip_options_fragment)."""
    opts = [IPOption_RR(routers=["0.0.0.0", "0.0.0.0"]), IPOption_LSRR(routers=["10.9.8.7"]),
            IPOption_Router_Alert()]
    data = udp_datagram(3000, options=opts)
    hlen = (data[0] & 15) * 4
    assert hlen == 44
    mtu = 1300
    _host, got, rc = run_fragment(data, mtu)
    assert rc == 0
    later_opts = [o if o.copy_flag else IPOption_NOP() for o in opts for _ in
                  ([0] if o.copy_flag else range(len(bytes(o))))]
    payload = data[hlen:]
    space = (mtu - hlen) & ~7
    want = []
    for i, off in enumerate(range(0, len(payload), space)):
        piece = payload[off:off + space] if off + space < len(payload) else payload[off:]
        last = off + len(piece) == len(payload)
        want.append(bytes(IP(src="192.0.2.1", dst="198.51.100.7", id=0x4242, ttl=61, tos=0x10,
                             proto=17, flags=0 if last else 1, frag=off // 8,
                             options=opts if i == 0 else later_opts) / Raw(piece)))
    assert got == want
    assert all((f[0] & 15) * 4 == hlen for f in got)  # the header length never changes
    assert got[1][20:31] == b"\x01" * 11  # RR became NOPs


def test_ip_options_fragment_stops_at_end_and_bad_lengths() -> None:
    hdr = bytearray(b"\x47" + bytes(19) + b"\x07\x03\x04" + b"\x00" + b"\x07\x03\x04\x00")
    ip_options_fragment(hdr)
    assert hdr[20:23] == b"\x01\x01\x01" and hdr[24:27] == b"\x07\x03\x04"  # END stops
    bad = bytearray(b"\x46" + bytes(19) + b"\x07\x09\x04\x00")
    ip_options_fragment(bad)
    assert bad[20:24] == b"\x07\x09\x04\x00"


def test_paged_payload_is_copied_with_copy_bits() -> None:
    data = udp_datagram(5000)
    counters = SkbCounters()
    host = Host(SimLoop())
    got: list[bytes] = []
    skb = make_skb(data, counters, linear=100, chunk=999)
    assert skb.nr_frags > 1
    rc = ip_fragment(host, skb, 1500, lambda s: got.append(s.copy_bits(0, s.len)))
    assert rc == 0
    assert got == [bytes(f) for f in fragment(IP(data), fragsize=1480)]
    # payload copied once by copy_bits plus 20 header bytes per fragment, and the
    # test's own copy_bits of every fragment
    assert counters.bytes_copied == (len(data) - 20 + 20 * len(got)) + sum(map(len, got))


def test_df_is_not_fragmented_rfc1191() -> None:
    data = udp_datagram(3000, flags=2)
    host = Host(SimLoop())
    icmp: list[tuple[bytes, int]] = []
    sent: list[SkBuff] = []
    rc = ip_fragment(host, make_skb(data), 1400, sent.append,
                     icmp_send=lambda skb, mtu: icmp.append((skb.copy_bits(0, 28), mtu)))
    assert rc == -EMSGSIZE == -errno.EMSGSIZE
    assert sent == []
    assert icmp == [(data[:28], 1400)]
    assert host.mib.ip.FragFails == 1 and host.mib.ip.FragOKs == 0
    assert host.drop_counts[SkbDropReason.NOT_SPECIFIED] == 1
    assert frag_needed_mtu(1400) == 1400


def test_ignore_df_fragments_and_clears_df_unless_frag_pmtu() -> None:
    data = udp_datagram(3000, flags=2)
    _h, got, rc = run_fragment(data, 1500, ignore_df=True)
    assert rc == 0 and len(got) == 3
    assert not any(Ipv4View(f).df for f in got)
    _h, got, rc = run_fragment(data, 1500, ignore_df=True, frag_pmtu=True)
    assert rc == 0 and all(Ipv4View(f).df for f in got)
    # a reassembled DF datagram whose largest fragment exceeds the MTU is refused
    host, got, rc = run_fragment(data, 1500, ignore_df=True, frag_max_size=1600)
    assert rc == -EMSGSIZE and got == [] and host.mib.ip.FragFails == 1


def test_frag_max_size_lowers_the_mtu() -> None:
    data = udp_datagram(1400)
    _h, got, rc = run_fragment(data, 1500, frag_max_size=600)
    assert rc == 0
    assert got == [bytes(f) for f in fragment(IP(data), fragsize=580)]


def test_output_error_stops_and_counts_fragfails() -> None:
    host = Host(SimLoop())
    calls: list[int] = []

    def output(skb: SkBuff) -> int:
        calls.append(skb.len)
        return -errno.ENOBUFS if len(calls) == 2 else 0

    rc = ip_do_fragment(host, make_skb(udp_datagram(4000)), 1500, output)
    assert rc == -errno.ENOBUFS and len(calls) == 2
    assert host.mib.ip.FragFails == 1 and host.mib.ip.FragCreates == 1
    assert host.mib.ip.FragOKs == 0


def test_checksum_partial_is_finished_before_splitting() -> None:
    data = bytearray(udp_datagram(2500))
    want_check = data[26:28]
    # CHECKSUM_PARTIAL: the field holds the pseudo-header sum, the device would finish it
    ulen = len(data) - 20
    pseudo = ones_sum(bytes(data[12:20]) + bytes([0, 17]) + ulen.to_bytes(2, "big"))
    data[26:28] = pseudo.to_bytes(2, "big")
    skb = make_skb(bytes(data))
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.csum_start = skb.data_off + 20
    skb.csum_offset = 6
    host = Host(SimLoop())
    got: list[bytes] = []
    assert ip_fragment(host, skb, 1500, lambda s: got.append(s.copy_bits(0, s.len))) == 0
    assert got[0][26:28] == want_check


def test_ip_exceeds_mtu() -> None:
    df = make_skb(udp_datagram(2000, flags=2))
    assert ip_exceeds_mtu(df, 1500)
    assert not ip_exceeds_mtu(df, 2100)
    assert not ip_exceeds_mtu(df, 1500, ignore_df=True)
    assert ip_exceeds_mtu(df, 1500, ignore_df=True, frag_max_size=1600)
    assert not ip_exceeds_mtu(make_skb(udp_datagram(2000)), 1500)


def test_garbage_header_is_dropped_not_raised() -> None:
    host = Host(SimLoop())
    rc = ip_fragment(host, make_skb(b"\x00" * 3000), 1500, lambda s: None)
    assert rc == -errno.EINVAL
    assert host.mib.ip.FragFails == 1 and host.drop_counts[SkbDropReason.IP_INHDR] == 1


@settings(max_examples=60, deadline=None)
@given(payload_len=st.integers(0, 9000), mtu=st.integers(68, 9000),
       linear=st.integers(20, 200), chunk=st.integers(1, 3000))
def test_fragments_reassemble_to_the_payload(payload_len: int, mtu: int, linear: int,
                                             chunk: int) -> None:
    data = udp_datagram(payload_len)
    host = Host(SimLoop())
    got: list[bytes] = []
    skb = make_skb(data, linear=min(linear, len(data)), chunk=chunk)
    assert ip_fragment(host, skb, mtu, lambda s: got.append(s.copy_bits(0, s.len))) == 0
    body = b""
    for i, f in enumerate(got):
        v = Ipv4View(f, verify_csum=True)
        assert len(f) <= max(mtu, len(data))
        assert v.frag_offset == len(body) and v.ident == 0x4242
        assert bool(v.frag_off & IP_MF) == (i < len(got) - 1)
        assert not v.frag_off & IP_DF
        if i < len(got) - 1:
            assert v.payload_len % 8 == 0
        body += bytes(v.payload)
    assert body == data[20:]


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(min_size=0, max_size=400), size=st.integers(0, 1500),
       mutations=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 255)), max_size=4),
       mtu=st.integers(0, 600), ignore_df=st.booleans(), frag_max_size=st.integers(0, 700),
       partial=st.booleans(), csum_start=st.integers(-10, 500),
       csum_offset=st.integers(0, 20))
def test_hostile_datagrams_never_raise(raw: bytes, size: int,
                                       mutations: list[tuple[int, int]], mtu: int,
                                       ignore_df: bool, frag_max_size: int, partial: bool,
                                       csum_start: int, csum_offset: int) -> None:
    host = Host(SimLoop())
    data = bytearray(udp_datagram(size) if size % 3 else raw)
    for pos, val in mutations:
        if pos < len(data):
            data[pos] = val
    skb = make_skb(bytes(data))
    if partial:
        skb.ip_summed = CHECKSUM_PARTIAL
        skb.csum_start = skb.data_off + csum_start
        skb.csum_offset = csum_offset
    sent: list[SkBuff] = []
    rc = ip_fragment(host, skb, mtu, sent.append, ignore_df=ignore_df,
                     frag_max_size=frag_max_size)
    ip = host.mib.ip
    if rc:
        assert rc < 0 and ip.FragFails == 1 and sum(host.drop_counts.values()) == 1
    else:
        assert ip.FragFails == 0 and sent
