"""Whole-frame builders agree with the reprs and with themselves under headroom/VLAN."""

from __future__ import annotations

import pytest

from tuxnet.wire import (
    ETH_P_ARP,
    ETH_P_IP,
    IP_DF,
    IPPROTO_ICMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCPHDR_ACK,
    TCPHDR_SYN,
    ArpRepr,
    EthernetRepr,
    EthernetView,
    IcmpRepr,
    Ipv4Repr,
    Ipv4View,
    TcpOptions,
    TcpRepr,
    UdpRepr,
    ip_int,
)
from tuxnet.wire.build import arp_frame, emit_ipv4_frame, icmp_frame, tcp_frame, udp_frame

M1, M2 = b"\x02\0\0\0\0\x01", b"\x02\0\0\0\0\x02"
A, B = ip_int("10.0.0.1"), ip_int("10.0.0.2")


def test_tcp_frame_equals_reprs() -> None:
    opts = TcpOptions(mss=1460, wscale=7, sack_permitted=True, timestamp=(1, 0))
    frame = tcp_frame(
        M1,
        M2,
        "10.0.0.1",
        "10.0.0.2",
        1000,
        80,
        7,
        0,
        TCPHDR_SYN,
        64240,
        b"",
        opts,
        ttl=63,
        ident=5,
    )
    seg = TcpRepr(1000, 80, 7, 0, TCPHDR_SYN, 64240, 0, opts).to_bytes(A, B)
    ip = Ipv4Repr(A, B, IPPROTO_TCP, len(seg), 63, 0, 5, IP_DF).to_bytes(seg)
    assert bytes(frame) == EthernetRepr(M2, M1, ETH_P_IP).to_bytes(ip)


def test_raw_options_are_padded() -> None:
    frame = tcp_frame(M1, M2, A, B, 1, 2, options=b"\x01\x01\x04\x02\x01")
    ipv = Ipv4View(frame, 14)
    tcp = TcpRepr.parse(memoryview(frame)[34 : ipv.end], A, B)
    assert tcp.options.sack_permitted and tcp.options.layout[-1] == 0
    with pytest.raises(ValueError):
        tcp_frame(M1, M2, A, B, 1, 2, options=bytes(41))


def test_headroom_and_vlan() -> None:
    plain = udp_frame(M1, M2, A, B, 1, 2, b"abc")
    roomy = udp_frame(M1, M2, A, B, 1, 2, b"abc", headroom=64)
    assert len(roomy) == 64 + len(plain) and roomy[64:] == plain and not any(roomy[:64])
    tagged = udp_frame(M1, M2, A, B, 1, 2, b"abc", vlan_tci=9)
    eth = EthernetView(tagged)
    assert eth.vlan_tci == 9 and eth.ethertype == ETH_P_IP
    assert tagged[18:] == plain[14:]


def test_udp_icmp_arp_frames() -> None:
    f = udp_frame(M1, M2, A, B, 1, 2, b"q", checksum=False)
    assert UdpRepr.parse(memoryview(f)[34:], A, B) == UdpRepr(1, 2, 1)
    assert f[40:42] == b"\0\0"
    assert UdpRepr.parse(memoryview(udp_frame(M1, M2, A, B, 1, 2, b"q"))[34:], A, B)
    f = icmp_frame(M1, M2, A, B, 8, 0, 0x00010002, b"hi")
    assert Ipv4Repr.parse(Ipv4View(f, 14)).protocol == IPPROTO_ICMP
    assert IcmpRepr.parse(memoryview(f)[34:]) == IcmpRepr.echo_request(1, 2, b"hi")
    f = arp_frame(M1, b"\xff" * 6, 1, M1, A, bytes(6), "10.0.0.2", vlan_tci=3)
    eth = EthernetView(f)
    assert eth.ethertype == ETH_P_ARP and eth.vlan_tci == 3
    assert ArpRepr.parse(eth.payload) == ArpRepr(1, M1, A, bytes(6), B)


def test_emit_ipv4_frame_checks() -> None:
    buf = bytearray(100)
    assert emit_ipv4_frame(buf, 10, M1, M2, A, B, IPPROTO_UDP, 0) == 44
    assert Ipv4View(buf, 24, 44, verify_csum=True).total_len == 20
    with pytest.raises(ValueError):
        emit_ipv4_frame(buf, 0, b"\x01", M2, A, B, IPPROTO_UDP, 0)
    with pytest.raises(ValueError):
        emit_ipv4_frame(buf, 0, M1, M2, A, B, IPPROTO_UDP, 70000)
    with pytest.raises(ValueError):
        arp_frame(b"\x01", M2, 1, M1, A, bytes(6), B)


def test_tcp_frame_large_payload_checksum() -> None:
    payload = bytes(range(256)) * 40
    f = tcp_frame(M1, M2, A, B, 1, 2, 3, 4, TCPHDR_ACK, 5, payload)
    ipv = Ipv4View(f, 14, verify_csum=True)
    assert TcpRepr.parse(memoryview(f)[34 : ipv.end], A, B).payload_len == len(payload)
