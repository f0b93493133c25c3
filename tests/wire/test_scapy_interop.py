"""Cross-checks against scapy: frames scapy builds parse the same in tuxnet, and frames
tuxnet builds parse the same in scapy, checksums included."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("scapy")

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, Raw

from tuxnet.wire import (
    ETH_P_ARP,
    ETH_P_IP,
    IPPROTO_TCP,
    TCPHDR_ACK,
    TCPHDR_SYN,
    ArpRepr,
    EthernetRepr,
    EthernetView,
    IcmpRepr,
    IcmpView,
    Ipv4Repr,
    Ipv4View,
    TcpOptions,
    TcpRepr,
    TcpView,
    UdpRepr,
    UdpView,
    ip_int,
    ip_str,
    mac_bytes,
    mac_str,
)
from tuxnet.wire.build import arp_frame, icmp_frame, tcp_frame, udp_frame

MAC1, MAC2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
IP1, IP2 = "10.1.2.3", "192.0.2.77"
ETH = Ether(src=MAC1, dst=MAC2)  # explicit: scapy would otherwise look up routes


def rebuilt(pkt: Packet) -> bytes:
    """scapy's own checksums: drop ours and let scapy recompute them."""
    p = Ether(bytes(pkt))
    for layer in (IP, TCP, UDP, ICMP):
        if layer in p:
            del p[layer].chksum
    return bytes(p)


# -- scapy builds, tuxnet parses -------------------------------------------------------
def test_scapy_syn_parses() -> None:
    pkt = (
        Ether(src=MAC1, dst=MAC2)
        / IP(src=IP1, dst=IP2, ttl=51, id=999, flags="DF")
        / TCP(
            sport=1234,
            dport=443,
            seq=1000,
            flags="S",
            window=29200,
            options=[
                ("MSS", 1400),
                ("NOP", None),
                ("WScale", 9),
                ("NOP", None),
                ("NOP", None),
                ("Timestamp", (77, 0)),
                ("SAckOK", b""),
            ],
        )
    )
    raw = bytes(pkt)
    eth = EthernetView(raw)
    assert (mac_str(eth.src), mac_str(eth.dst), eth.ethertype) == (MAC1, MAC2, ETH_P_IP)
    ip = Ipv4Repr.parse(Ipv4View(raw, eth.payload_offset))
    assert (ip_str(ip.src), ip_str(ip.dst), ip.ttl, ip.ident, ip.df) == (IP1, IP2, 51, 999, True)
    ipv = Ipv4View(raw, 14)
    tcp = TcpRepr.parse(TcpView(raw, ipv.payload_offset, ipv.end), ip.src, ip.dst)
    assert (tcp.src_port, tcp.dst_port, tcp.seq, tcp.flags, tcp.window) == (
        1234,
        443,
        1000,
        TCPHDR_SYN,
        29200,
    )
    o = tcp.options
    assert (o.mss, o.wscale, o.timestamp, o.sack_permitted) == (1400, 9, (77, 0), True)
    # the recorded layout re-emits scapy's option bytes exactly
    assert o.emit_layout() == bytes(pkt[TCP])[20 : tcp.header_len]


def test_scapy_sack_udp_icmp_arp_vlan_parse() -> None:
    sack = (
        ETH
        / IP(src=IP1, dst=IP2)
        / TCP(flags="A", options=[("NOP", None), ("NOP", None), ("SAck", (10, 20, 30, 40))])
        / Raw(b"q" * 9)
    )
    raw = bytes(sack)
    ipv = Ipv4View(raw, 14)
    tcp = TcpRepr.parse(TcpView(raw, 34, ipv.end), ip_int(IP1), ip_int(IP2))
    assert tcp.options.sack_blocks == [(10, 20), (30, 40)] and tcp.payload_len == 9

    udp = bytes(ETH / IP(src=IP1, dst=IP2) / UDP(sport=68, dport=67) / Raw(b"dhcp"))
    u = UdpRepr.parse(UdpView(udp, 34), ip_int(IP1), ip_int(IP2))
    assert (u.src_port, u.dst_port, u.payload_len) == (68, 67, 4)

    ping = bytes(ETH / IP(src=IP1, dst=IP2) / ICMP(id=77, seq=3) / Raw(b"0123"))
    i = IcmpRepr.parse(IcmpView(ping, 34))
    assert (i.type, i.ident, i.seq, i.payload) == (8, 77, 3, b"0123")

    arp = bytes(ETH / ARP(op=1, hwsrc=MAC1, psrc=IP1, pdst=IP2))
    a = ArpRepr.parse(EthernetView(arp).payload)
    assert (a.op, mac_str(a.sha), ip_str(a.spa), ip_str(a.tpa)) == (1, MAC1, IP1, IP2)

    tagged = bytes(ETH / Dot1Q(vlan=42, prio=3) / IP(src=IP1, dst=IP2) / UDP())
    e = EthernetRepr.parse(tagged)
    assert (e.vid, e.pcp, e.ethertype) == (42, 3, ETH_P_IP)
    Ipv4Repr.parse(Ipv4View(tagged, 18))


def test_scapy_ip_options_parse() -> None:
    pkt = ETH / IP(src=IP1, dst=IP2, options=[IPOption_RR(routers=["1.2.3.4"])]) / UDP()
    raw = bytes(pkt)
    ip = Ipv4Repr.parse(Ipv4View(raw, 14))
    assert ip.header_len == Ether(raw)[IP].ihl * 4
    kind, data = ip.option_list[0]
    assert kind == 7 and data[1:5] == bytes((1, 2, 3, 4))


# -- tuxnet builds, scapy parses -------------------------------------------------------
def test_tuxnet_frames_parse_in_scapy() -> None:
    syn = tcp_frame(
        mac_bytes(MAC1),
        mac_bytes(MAC2),
        IP1,
        IP2,
        5555,
        80,
        seq=42,
        flags=TCPHDR_SYN,
        window=64240,
        options=TcpOptions(mss=1460, wscale=7, sack_permitted=True, timestamp=(1, 0)),
    )
    p = Ether(bytes(syn))
    assert (p.src, p.dst, p[IP].src, p[IP].dst, p[IP].ttl, p[IP].flags) == (
        MAC1,
        MAC2,
        IP1,
        IP2,
        64,
        "DF",
    )
    assert (p[TCP].sport, p[TCP].dport, p[TCP].seq, p[TCP].flags, p[TCP].window) == (
        5555,
        80,
        42,
        "S",
        64240,
    )
    assert p[TCP].options == [
        ("MSS", 1460),
        ("SAckOK", b""),
        ("Timestamp", (1, 0)),
        ("NOP", None),
        ("WScale", 7),
    ]
    assert rebuilt(p) == bytes(syn)

    for frame in (
        udp_frame(mac_bytes(MAC1), mac_bytes(MAC2), IP1, IP2, 53, 5353, b"dns?", ttl=9),
        icmp_frame(mac_bytes(MAC1), mac_bytes(MAC2), IP1, IP2, 8, 0, (7 << 16) | 1, b"ping"),
        tcp_frame(
            mac_bytes(MAC1),
            mac_bytes(MAC2),
            IP1,
            IP2,
            1,
            2,
            3,
            4,
            TCPHDR_ACK,
            5,
            b"x" * 1001,
            TcpOptions(timestamp=(5, 6), sack_blocks=[(1, 2)]),
            vlan_tci=100,
        ),
    ):
        assert rebuilt(Ether(bytes(frame))) == bytes(frame)
    p = Ether(bytes(udp_frame(mac_bytes(MAC1), mac_bytes(MAC2), IP1, IP2, 53, 5353, b"dns?")))
    assert (p[UDP].sport, p[UDP].dport, p[UDP].len, bytes(p[UDP].payload)) == (
        53,
        5353,
        12,
        b"dns?",
    )
    arp = arp_frame(mac_bytes(MAC1), b"\xff" * 6, 1, mac_bytes(MAC1), IP1, bytes(6), IP2)
    a = Ether(bytes(arp))
    assert a.type == ETH_P_ARP and (a[ARP].op, a[ARP].psrc, a[ARP].pdst, a[ARP].hwsrc) == (
        1,
        IP1,
        IP2,
        MAC1,
    )


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 2**32 - 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    u32,
    u32,
    u16,
    u16,
    u32,
    u32,
    st.integers(0, 255),
    u16,
    st.integers(0, 255),
    st.integers(0, 255),
    u16,
    st.binary(max_size=80),
    st.none() | st.tuples(u32, u32),
    st.none() | st.integers(0, 14),
)
def test_random_tcp_matches_scapy(
    src: int,
    dst: int,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    win: int,
    ttl: int,
    tos: int,
    ident: int,
    payload: bytes,
    ts: tuple[int, int] | None,
    ws: int | None,
) -> None:
    opts = TcpOptions(wscale=ws, timestamp=ts)
    tcp = TcpRepr(sport, dport, seq, ack, flags, win, 0, opts, len(payload))
    seg = tcp.to_bytes(src, dst, payload)
    ip = Ipv4Repr(src, dst, IPPROTO_TCP, len(seg), ttl, tos, ident, 0x4000)
    frame = EthernetRepr(mac_bytes(MAC2), mac_bytes(MAC1), ETH_P_IP).to_bytes(ip.to_bytes(seg))
    p = Ether(frame)
    assert (p[IP].src, p[IP].dst, p[IP].ttl, p[IP].tos, p[IP].id) == (
        ip_str(src),
        ip_str(dst),
        ttl,
        tos,
        ident,
    )
    assert (
        p[TCP].sport,
        p[TCP].dport,
        p[TCP].seq,
        p[TCP].ack,
        int(p[TCP].flags),
        p[TCP].window,
    ) == (sport, dport, seq, ack, flags, win)
    assert rebuilt(p) == frame
    # and back: scapy's bytes parse to the same reprs
    assert TcpRepr.parse(bytes(p[TCP]), src, dst) == tcp


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(u32, u32, u16, u16, st.binary(max_size=200))
def test_random_udp_from_scapy(src: int, dst: int, sport: int, dport: int, payload: bytes) -> None:
    raw = bytes(
        ETH / IP(src=ip_str(src), dst=ip_str(dst)) / UDP(sport=sport, dport=dport) / Raw(payload)
    )
    ipv = Ipv4View(raw, 14, verify_csum=True)
    u = UdpRepr.parse(UdpView(raw, ipv.payload_offset, ipv.end), src, dst)
    assert u == UdpRepr(sport, dport, len(payload))
    assert UdpRepr(sport, dport).to_bytes(src, dst, payload) == raw[34:]
