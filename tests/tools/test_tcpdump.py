"""``tuxnet tcpdump`` against the real tcpdump (Debian's 4.99), line for line.

A varied capture is built with scapy (TCP handshake/data/SACK/FIN/RST with options,
UDP, ICMP echo/unreachable/time exceeded/..., ARP, IP options and fragments, 802.1Q,
unknown ethertypes and protocols, bad checksums, every truncation of several packets),
written as pcap (ns), pcapng (tuxnet) and pcap (us, scapy), and printed by both with a
matrix of flags. TZ=UTC for both (tcpdump prints local time; so does tuxnet).

Ports are kept to ones tcpdump does not dissect (no 53/123/80 payloads...): tuxnet
prints the generic ``UDP, length N`` / TCP line for every port.

Without tcpdump the comparison skips, or fails under CI=true.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import need
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuxnet.pcap import PcapngWriter, PcapRecord, PcapWriter, read_pcap
from tuxnet.tools import tcpdump as tool

scapy_all = pytest.importorskip("scapy.all")
Ether = scapy_all.Ether
IP = scapy_all.IP
TCP = scapy_all.TCP
UDP = scapy_all.UDP
ICMP = scapy_all.ICMP
ARP = scapy_all.ARP
Dot1Q = scapy_all.Dot1Q
Raw = scapy_all.Raw
fragment = scapy_all.fragment

A = "10.0.0.1"
B = "10.0.0.2"
MAC_A = "00:11:22:33:44:55"
MAC_B = "66:77:88:99:aa:bb"
T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC


def eth(payload: object, type_: int | None = None) -> object:
    if type_ is None:
        return Ether(src=MAC_A, dst=MAC_B) / payload
    return Ether(src=MAC_A, dst=MAC_B, type=type_) / payload


def raw_ip(data: bytes) -> bytes:
    """An Ethernet frame around raw IPv4 header bytes (corrupt headers)."""
    return bytes(Ether(src=MAC_A, dst=MAC_B, type=0x0800) / Raw(data))


def with_ip_options(packet: object, opts: bytes) -> bytes:
    """An Ethernet frame of ``packet`` (IPv4) with raw ``opts`` spliced into its header
    (scapy's option parser is not tolerant enough for malformed options)."""
    from tuxnet.wire.checksum import internet_checksum

    raw = bytes(packet)  # type: ignore[call-overload]
    opts += b"\0" * (-len(opts) % 4)
    hdr = bytearray(raw[:20] + opts)
    hdr[0] = 0x40 | (len(hdr) // 4)
    struct.pack_into("!H", hdr, 2, len(raw) + len(opts))
    struct.pack_into("!H", hdr, 10, 0)
    struct.pack_into("!H", hdr, 10, internet_checksum(hdr))
    return bytes(Ether(src=MAC_A, dst=MAC_B, type=0x0800)) + bytes(hdr) + raw[20:]


def tcp_conn() -> list[bytes]:
    """A connection: handshake with options, data both ways, SACK, FIN, RST."""
    c2s = IP(src=A, dst=B, id=100, flags="DF")
    s2c = IP(src=B, dst=A, id=200, flags="DF")
    cp, sp = 40000, 5001
    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None),
                ("WScale", 7)]
    pkts = [
        c2s / TCP(sport=cp, dport=sp, flags="S", seq=1000, window=64240, options=syn_opts),
        s2c / TCP(sport=sp, dport=cp, flags="SA", seq=5000, ack=1001, window=65160,
                  options=syn_opts),
        c2s / TCP(sport=cp, dport=sp, flags="A", seq=1001, ack=5001, window=502),
        c2s / TCP(sport=cp, dport=sp, flags="PA", seq=1001, ack=5001) / (b"x" * 100),
        s2c / TCP(sport=sp, dport=cp, flags="A", seq=5001, ack=1101,
                  options=[("NOP", None), ("NOP", None), ("SAck", (1201, 1301, 1401, 1501))]),
        s2c / TCP(sport=sp, dport=cp, flags="PA", seq=5001, ack=1101) / (b"y" * 20),
        c2s / TCP(sport=cp, dport=sp, flags="FA", seq=1101, ack=5021),
        s2c / TCP(sport=sp, dport=cp, flags="FA", seq=5021, ack=1102),
        c2s / TCP(sport=cp, dport=sp, flags="A", seq=1102, ack=5022),
        c2s / TCP(sport=cp, dport=sp, flags="R", seq=1102),
        c2s / TCP(sport=cp, dport=sp, flags="RA", seq=1102, ack=5022),
        c2s / TCP(sport=cp, dport=sp, flags="UA", seq=1102, ack=5022, urgptr=5) / b"u",
        c2s / TCP(sport=cp, dport=sp, flags="SEC", seq=77),
        c2s / TCP(sport=cp, dport=sp, flags="", seq=1102),
        c2s / TCP(sport=cp, dport=sp, flags=0xFF, seq=1102),
        c2s / TCP(sport=cp, dport=sp, flags="A", seq=1102, ack=5022, window=0),
        # mid-stream capture (no SYN seen) on another flow, reversed port order
        IP(src=B, dst=A) / TCP(sport=6000, dport=3000, flags="PA", seq=0xFFFFFFF0,
                               ack=12345) / (b"w" * 40),
        IP(src=A, dst=B) / TCP(sport=3000, dport=6000, flags="A", seq=12345,
                               ack=0x00000018),
        IP(src=B, dst=A) / TCP(sport=6000, dport=3000, flags="PA", seq=0x00000018,
                               ack=12345) / (b"w" * 10),
        # same ports both ways: the address order decides the direction
        IP(src=B, dst=A) / TCP(sport=45678, dport=45678, flags="SA", seq=10, ack=20),
        IP(src=A, dst=B) / TCP(sport=45678, dport=45678, flags="A", seq=20, ack=11),
        IP(src=B, dst=A) / TCP(sport=45678, dport=45678, flags="PA", seq=11, ack=20) / b"z",
        # a new SYN re-bases the flow
        c2s / TCP(sport=cp, dport=sp, flags="SA", seq=9000, ack=3000),
        c2s / TCP(sport=cp, dport=sp, flags="A", seq=9001, ack=3001),
        # bad checksum
        c2s / TCP(sport=cp, dport=sp, flags="A", seq=9001, ack=3001, chksum=0x1234),
    ]
    return [bytes(eth(p)) for p in pkts]


def tcp_options() -> list[bytes]:
    """Unusual option lists, malformed ones included."""
    def seg(opts: bytes, **kw: object) -> bytes:
        opts += b"\0" * (-len(opts) % 4)  # pad with EOL to a 32-bit boundary
        n = len(opts)
        t = TCP(sport=40001, dport=5002, flags="S", seq=1, dataofs=5 + n // 4, **kw)
        return bytes(eth(IP(src=A, dst=B) / t / Raw(opts)))

    out = [
        seg(b"\x00\x00\x00\x00"),  # eol
        seg(b"\x02\x04\x05\xb4\x00\x01\x01\x01"),  # mss, eol stops the list
        seg(b"\x63\x06abcd\x00\x00"),  # unknown kind
        seg(b"\x0f\x02\x01\x00"),  # unknown, empty
        seg(b"\x05\x0a\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00"),  # sack, no base
        seg(b"\x05\x08\x00\x00\x00\x00\x00\x00"),  # sack, bad size
        seg(b"\x05\x07\x00\x00\x00\x00\x00\x00"),  # sack, odd size
        seg(b"\x05\x02\x00\x00"),  # sack, empty
        seg(b"\x13\x12" + b"\x01" * 16 + b"\x00\x00"),  # md5
        seg(b"\x13\x07\x00\x00\x00\x00\x00\x00"),  # md5 too short
        seg(b"\x22\x0a\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00"),  # tfo cookie
        seg(b"\x22\x02\x00\x00"),  # tfo cookie request
        seg(b"\x22\x04\x01\x02"),  # tfo invalid
        seg(b"\xfe\x06\xf9\x89\x01\x02\x00\x00"),  # exp-tfo invalid
        seg(b"\xfe\x08\xf9\x89\x01\x02\x03\x04"),  # exp-tfo cookie
        seg(b"\x1c\x04\x81\x02"),  # uto
        seg(b"\x1c\x04\x81\x03"),  # uto in minutes
        seg(b"\x02\x03\x01\x00"),  # mss with a wrong length
        seg(b"\x08\x04\x00\x00"),  # TS too short
        seg(b"\x02\x01\x00\x00"),  # length < 2
        seg(b"\x02\x00\x00\x00"),  # length 0
        seg(b"\x02\x09\x00\x00"),  # longer than the header
        seg(b"\x01\x01\x08\x0a\x00\x00\x00\x01"),  # TS cut by the header end
        seg(b"\x03\x03\x0e\x08\x0a\xff\xff\xff\xff\x00\x00\x00\x7b\x00\x00\x00"),  # wscale, TS
        seg(b"\x06\x06\x00\x00\x00\x09"),  # echo
        seg(b"\x07\x06\x00\x00\x00\x09"),  # echoreply
        seg(b"\x0b\x06\x00\x00\x00\x09"),  # cc
        seg(b"\x01\x01\x01\x00"),  # nops, eol
        seg(b"\xfd\x08\x00\x00\x00\x00\x00\x00"),  # 253: unknown
    ]
    ip = IP(src=A, dst=B)
    out += [
        bytes(eth(ip / TCP(sport=40001, dport=5002, flags="S", dataofs=4))),  # too short
        bytes(eth(ip / TCP(sport=40001, dport=5002, flags="S", dataofs=15))),  # too long
    ]
    return out


def udp_packets() -> list[bytes]:
    ip = IP(src=A, dst=B)
    pkts = [
        ip / UDP(sport=40000, dport=5555) / (b"d" * 20),
        IP(src=B, dst=A, ttl=1) / UDP(sport=33000, dport=33434) / (b"t" * 32),
        ip / UDP(sport=1, dport=2, chksum=0x1234) / b"x",
        ip / UDP(sport=1, dport=2, chksum=0) / b"x",
        ip / UDP(sport=1, dport=2, len=4) / b"abcdef",
        ip / UDP(sport=1, dport=2, len=100) / b"abcdef",
        ip / UDP(sport=1, dport=2, len=8) / b"abcdef",
        ip / UDP(sport=1, dport=2, len=10) / b"abcdef",
        ip / UDP(sport=45000, dport=46000),
    ]
    return [bytes(eth(p)) for p in pkts]


def icmp_packets() -> list[bytes]:
    ip = IP(src=A, dst=B)
    udp_in = IP(src=B, dst="10.0.0.9", id=7) / UDP(sport=33000, dport=33434) / (b"q" * 12)
    tcp_in = IP(src=B, dst="10.0.0.9", id=8, flags="DF") / TCP(
        sport=33000, dport=4444, seq=123456, flags="S") / (b"x" * 20)
    ping_in = IP(src=B, dst="10.0.0.9", id=9) / ICMP(id=5, seq=6) / (b"p" * 56)

    def quote(p: object, n: int) -> object:
        return Raw(bytes(p)[:n])  # type: ignore[call-overload]

    pkts: list[object] = [
        ip / ICMP(type=8, id=1, seq=1) / (b"z" * 56),
        IP(src=B, dst=A) / ICMP(type=0, id=1, seq=1) / (b"z" * 56),
        ip / ICMP(type=8, id=2, seq=3, chksum=0x1234) / (b"z" * 56),
        IP(src=A, dst=B, tos=0x10, ttl=3, id=999, flags="DF") / ICMP(type=3, code=3) / udp_in,
        ip / ICMP(type=3, code=3) / tcp_in,
        ip / ICMP(type=3, code=3) / quote(tcp_in, 28),
        ip / ICMP(type=3, code=3) / quote(ping_in, 28),
        ip / ICMP(type=3, code=4, nexthopmtu=1400) / quote(tcp_in, 48),
        ip / ICMP(type=3, code=4) / udp_in,
        ip / ICMP(type=11, code=0) / quote(ping_in, 28),
        ip / ICMP(type=11, code=1) / udp_in,
        ip / ICMP(type=11, code=2) / udp_in,
        ip / ICMP(type=11, code=0) / quote(ping_in, 10),
        ip / ICMP(type=4) / udp_in,
        ip / ICMP(type=12, ptr=5) / udp_in,
        ip / ICMP(type=12, code=1) / udp_in,
        ip / ICMP(type=13, id=4, seq=5) / (b"\0" * 12),
        icmp_raw(bytes.fromhex("0e00000000040005")
                 + struct.pack("!III", 0, 86_399_999, 4_000_000_000)),
        ip / ICMP(type=15),
        ip / ICMP(type=16),
        ip / ICMP(type=17) / (b"\0" * 4),
        icmp_raw(bytes.fromhex("12000000000000ffffff00")),
        icmp_raw(bytes.fromhex("0900000002020708") + bytes([10, 0, 0, 254])
                 + b"\0\0\0\x05" + bytes([10, 0, 0, 253]) + b"\xff\xff\xff\xff"),
        icmp_raw(bytes.fromhex("0900000001030e10") + b"\0" * 8),
        ip / ICMP(type=10),
        ip / ICMP(type=42) / b"abcd",
        ip / ICMP(type=3, code=2) / udp_in,
    ]
    for code in (0, 1, *range(5, 17)):
        pkts.append(ip / ICMP(type=3, code=code) / udp_in)
    for code in range(5):
        pkts.append(ip / ICMP(type=5, code=code, gw="10.0.0.254") / udp_in)
    frames = []
    for p in pkts:
        if isinstance(p, bytes):
            frames.append(p)
        else:
            frame = eth(p)
            frames.append(bytes(frame))
    # scapy does not checksum Raw ICMP: fix it so only the deliberate one is wrong
    return [_fix_icmp_cksum(f) for f in frames]


def icmp_raw(message: bytes) -> object:
    """An IPv4 packet carrying hand-built ICMP bytes (checksum fixed afterwards)."""
    return IP(src=A, dst=B, proto=1) / Raw(message)


def _fix_icmp_cksum(frame: bytes) -> bytes:
    from tuxnet.wire.checksum import internet_checksum

    if frame[12:14] != b"\x08\x00" or frame[23] != 1:
        return frame
    ihl = (frame[14] & 0xF) * 4
    start = 14 + ihl
    icmp = bytearray(frame[start:])
    if icmp[2:4] == b"\x12\x34":
        return frame
    icmp[2:4] = b"\0\0"
    struct.pack_into("!H", icmp, 2, internet_checksum(icmp))
    return frame[:start] + bytes(icmp)


def arp_packets() -> list[bytes]:
    pkts = [
        ARP(op=1, psrc=A, pdst=B, hwsrc=MAC_A),
        ARP(op=2, psrc=B, pdst=A, hwsrc=MAC_B, hwdst=MAC_A),
        ARP(op=1, psrc=A, pdst=A, hwsrc=MAC_A),
        ARP(op=1, psrc=A, pdst=B, hwsrc=MAC_A, hwdst="00:00:00:00:00:01"),
        ARP(op=1, psrc="0.0.0.0", pdst=B, hwsrc=MAC_A),
        ARP(op=3, psrc=A, pdst=B, hwsrc=MAC_A, hwdst=MAC_B),
        ARP(op=4, psrc=A, pdst=B, hwsrc=MAC_A, hwdst=MAC_B),
        ARP(op=8, psrc=A, pdst=B, hwsrc=MAC_A, hwdst=MAC_B),
        ARP(op=9, psrc=A, pdst=B, hwsrc=MAC_A, hwdst=MAC_B),
        ARP(op=10, psrc=A, pdst=B, hwsrc=MAC_A, hwdst=MAC_B),
        ARP(op=77, psrc=A, pdst=B, hwsrc=MAC_A, hwdst=MAC_B),
        ARP(op=1, hwtype=6, hwlen=0, psrc=A, pdst=B),
        ARP(op=1, ptype=0x86DD, plen=4, psrc=A, pdst=B, hwsrc=MAC_A),
        ARP(op=1, hwlen=8, plen=4) / (b"\0" * 4),
        ARP(op=1, hwlen=6, plen=6, hwsrc=MAC_A) / (b"\0" * 4),
        ARP(op=1, hwtype=0x1234, hwlen=0, psrc=A, pdst=B),
        ARP(op=2, hwtype=6, psrc=A, pdst=B, hwsrc=MAC_A),
    ]
    frames = [bytes(eth(p)) for p in pkts]
    # padded to the 60-byte Ethernet minimum, and a RARP frame
    frames.append(bytes(eth(ARP(op=1, psrc=A, pdst=B, hwsrc=MAC_A))) + b"\0" * 18)
    frames.append(bytes(Ether(src=MAC_A, dst=MAC_B, type=0x8035) / ARP(
        op=3, psrc=A, pdst=B, hwsrc=MAC_A, hwdst=MAC_B)))
    return frames


def ip_packets() -> list[bytes]:
    """IPv4 header details: options, tos/ECN, flags, fragments, corrupt headers."""
    icmp = ICMP(id=9, seq=9)
    base = IP(src=A, dst=B) / icmp

    def opt(options: bytes) -> bytes:
        return with_ip_options(base, options)

    pkts: list[object] = [
        opt(b"\x01\x07\x03\x04"),
        opt(b"\x07\x0b\x04\x01\x01\x01\x01\x02\x02\x02\x02\x01"),
        opt(b"\x07\x0b\x08\x01\x01\x01\x01\x02\x02\x02\x02\x00"),
        opt(b"\x83\x0b\x04\x01\x01\x01\x01\x02\x02\x02\x02\x00"),
        opt(b"\x89\x07\x0c\x01\x01\x01\x01\x00"),
        opt(b"\x94\x04\x00\x00"),
        opt(b"\x94\x04\x00\x05"),
        opt(b"\x44\x08\x09\x00\x00\x00\x00\x05"),
        opt(b"\x44\x0c\x05\x01\x00\x00\x00\x05\x0a\x00\x00\x01"),
        opt(b"\x44\x0c\x05\x13\x00\x00\x00\x05\x0a\x00\x00\x01"),
        opt(b"\x44\x08\x05\x02\x00\x00\x00\x05"),
        opt(b"\x88\x04\x12\x34"),
        opt(b"\x99\x03\x12\x00"),
        opt(b"\x99\x09\x12\x00"),
        opt(b"\x07\x01\x12\x00"),
        opt(b"\x82\x04\x00\x00"),
        IP(src=A, dst=B, tos=0x02) / icmp,
        IP(src=A, dst=B, tos=0x03) / icmp,
        IP(src=A, dst=B, tos=0xB9, ttl=255, flags="DF+MF", chksum=0x1234) / icmp,
        IP(src=A, dst=B, flags=4) / icmp,
        IP(src=A, dst=B, ttl=0, id=65535) / icmp,
        IP(src=A, dst=B, proto=253) / (b"\x01\x02" * 10),
        IP(src=A, dst=B, proto=142) / b"",
    ]
    frames = [p if isinstance(p, bytes) else bytes(eth(p)) for p in pkts]
    for big, size in (
        (IP(src=A, dst=B, id=4242) / UDP(sport=40000, dport=5555) / (b"A" * 3000), 1480),
        (IP(src=A, dst=B, id=4243) / ICMP(id=3, seq=4) / (b"B" * 2000), 1480),
        (IP(src=A, dst=B, id=4244, flags="DF") / TCP(sport=40000, dport=5555, flags="PA",
                                                     seq=5, ack=6) / (b"C" * 2000), 1000),
    ):
        frames += [bytes(eth(f)) for f in fragment(big, fragsize=size)]
    hdr = bytes(IP(src=A, dst=B) / ICMP() / b"abcd")

    def patch(data: bytes, off: int, value: bytes) -> bytes:
        return data[:off] + value + data[off + len(value):]

    frames += [
        raw_ip(patch(hdr, 0, b"\x65")),  # version 6
        raw_ip(patch(hdr, 0, b"\x35")),  # version 3
        raw_ip(patch(hdr, 0, b"\x44")),  # header length 16
        raw_ip(patch(hdr, 0, b"\x4f")),  # header longer than the packet
        raw_ip(patch(hdr, 2, b"\x00\x0a")),  # total length < header
        raw_ip(patch(hdr, 2, b"\x00\x64")),  # more than the frame holds
        raw_ip(patch(hdr, 2, b"\x00\x1e")),  # less than the frame: trailing padding
        raw_ip(patch(hdr, 2, b"\x00\x00")),
    ]
    return frames


def link_packets() -> list[bytes]:
    ip = IP(src=A, dst=B)
    pkts = [
        Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=5) / ip / UDP(sport=1000, dport=2000),
        Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=5, prio=3) / ARP(psrc=A, pdst=B,
                                                                  hwsrc=MAC_A),
        Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=5, prio=3, dei=1) / Dot1Q(vlan=7) / ip
        / ICMP(),
        Ether(src=MAC_A, dst=MAC_B, type=0x88A8) / Dot1Q(vlan=100) / Dot1Q(vlan=7) / ip
        / ICMP(),
        Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=9, type=0x88B5) / (b"\x01\x02" * 20),
        Ether(src=MAC_A, dst=MAC_B, type=0x88B5) / (b"\x01\x02" * 30),
        Ether(src=MAC_A, dst=MAC_B, type=0x1234) / (b"tuxnet" * 3 + b"!"),
        Ether(src=MAC_A, dst=MAC_B, type=0x0600) / (b"\x01\x02" * 10),
        Ether(src=MAC_A, dst=MAC_B, type=0x6558) / (b"\x01\x02" * 10),
        Ether(src=MAC_A, dst=MAC_B, type=0x05FF) / (b"\x01\x02" * 10),
        Ether(src=MAC_A, dst=MAC_B, type=0xFFFF) / b"",
    ]
    return [bytes(p) for p in pkts]


def truncation_sources() -> list[bytes]:
    """Packets printed at every captured length (snaplen shorter than the packet)."""
    ip = IP(src=A, dst=B)
    inner = IP(src=B, dst="10.0.0.9", id=7) / UDP(sport=33000, dport=33434) / (b"q" * 12)
    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None),
                ("WScale", 7)]

    def opt(options: bytes) -> bytes:
        return with_ip_options(IP(src=A, dst=B) / ICMP(), options)

    pkts = [
        ip / TCP(sport=40000, dport=5555, flags="S", seq=1000, options=syn_opts),
        IP(src=B, dst=A) / TCP(sport=5555, dport=40000, flags="A", seq=1, ack=2,
                               options=[("NOP", None), ("NOP", None),
                                        ("SAck", (100, 200, 300, 400))]),
        ip / UDP(sport=40000, dport=5555) / b"yyyy",
        ip / ICMP(type=3, code=3) / inner,
        ip / ICMP(type=11, code=0) / inner,
        ip / ICMP(type=8) / b"abcd",
        ip / ICMP(type=5, code=1, gw="10.0.0.254") / inner,
        ip / ICMP(type=12, ptr=5) / inner,
        ip / ICMP(type=3, code=4, nexthopmtu=1200) / inner,
        ip / ICMP(type=3, code=2) / inner,
        icmp_raw(bytes.fromhex("0e00000000040005") + b"\0" * 12),
        icmp_raw(bytes.fromhex("0900000002020708") + b"\x0a\x00\x00\xfe\0\0\0\x05" * 2),
        opt(b"\x07\x0b\x08\x01\x01\x01\x01\x02\x02\x02\x02\x00"),
        opt(b"\x44\x0c\x05\x01\x00\x00\x00\x05\x0a\x00\x00\x01"),
        ip / TCP(sport=1, dport=2, dataofs=10) / Raw(b"\x63\x06abcd\x13\x12" + b"\x01" * 12),
        ip / TCP(sport=1, dport=2, dataofs=8) / Raw(b"\x22\x0a\x01\x02\x03\x04\x05\x06"
                                                    b"\x07\x08\x00\x00"),
        ip / TCP(sport=1, dport=2, dataofs=7) / Raw(b"\xfe\x08\xf9\x89\x01\x02\x03\x04"),
        ip / TCP(sport=1, dport=2, dataofs=7) / Raw(b"\x1c\x04\x81\x02\x1e\x04\x00\x00"),
    ]
    frames = [p if isinstance(p, bytes) else bytes(eth(p)) for p in pkts]
    frames.append(bytes(eth(ARP(op=1, psrc=A, pdst=B, hwsrc=MAC_A))))
    frames.append(bytes(eth(ARP(op=3, psrc=A, pdst=B, hwsrc=MAC_A))))
    frames.append(bytes(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=5) / ip / UDP(
        sport=1000, dport=2000)))
    frames.append(bytes(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=5) / Dot1Q(vlan=6)
                        / ARP(psrc=A, pdst=B)))
    frames.append(bytes(Ether(src=MAC_A, dst=MAC_B, type=0x88B5) / b"abcdef"))
    return frames


def corpus() -> list[tuple[int, bytes, int]]:
    """(timestamp ns, captured bytes, wire length) for the whole capture."""
    frames: list[tuple[bytes, int]] = []
    for group in (tcp_conn(), tcp_options(), udp_packets(), icmp_packets(), arp_packets(),
                  ip_packets(), link_packets()):
        frames += [(f, len(f)) for f in group]
    for full in truncation_sources():
        frames += [(full[:n], len(full)) for n in range(1, len(full))]
    records = []
    ts = T0 + 123_456_789
    for i, (data, wire) in enumerate(frames):
        # microsecond steps with sub-microsecond noise; one step back in time
        ts += 1_000 * (i % 7) + 999 if i != 40 else -3_000_000_999
        records.append((ts, data, wire))
    return records


# --------------------------------------------------------------------------- harness

TCPDUMP = shutil.which("tcpdump")

FLAG_SETS = [
    ["-nn", "-t"],
    ["-nn", "-t", "-e"],
    ["-nn", "-t", "-v"],
    ["-nn", "-t", "-e", "-v"],
    ["-nn"],
    ["-n", "-tt"],
    ["-nn", "-ttt"],
    ["-nn", "-tttt", "-e"],
    ["-nn", "-ttttt"],
    ["-nn", "-t", "-S"],
    ["-nn", "-t", "-x"],
    ["-nn", "-t", "-v", "-x"],
    ["-nn", "-t", "-xx", "-v"],
    ["-nn", "-t", "-X", "-e"],
    ["-nn", "-t", "-XX"],
    ["-nn", "--nano"],
]


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    records = corpus()
    d = tmp_path_factory.mktemp("captures")
    paths = {"pcap-ns": d / "ns.pcap", "pcapng": d / "capture.pcapng",
             "pcap-us-scapy": d / "us-scapy.pcap"}
    with PcapWriter(paths["pcap-ns"]) as w:
        for ts, data, wire in records:
            w.write_packet(ts, data, wire)
    with PcapngWriter(paths["pcapng"]) as w:
        w.add_interface(1, name="eth0")
        w.add_interface(1, name="eth1")
        for i, (ts, data, wire) in enumerate(records):
            w.write_packet(ts, data, interface=i % 2, orig_len=wire)
    writer = scapy_all.PcapWriter(str(paths["pcap-us-scapy"]), linktype=1, sync=True)
    for ts, data, wire in records:
        pkt = Raw(data)
        pkt.time = scapy_all.EDecimal(ts) / 1_000_000_000
        pkt.wirelen = wire
        writer.write(pkt)
    writer.close()
    return paths


def run_tcpdump(path: Path, flags: list[str]) -> list[str]:
    need(TCPDUMP is not None, "tcpdump not installed (apt-get install tcpdump)")
    assert TCPDUMP is not None
    out = subprocess.run([TCPDUMP, "-r", str(path), *flags], capture_output=True,
                         env={**os.environ, "TZ": "UTC"}, check=False)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout.decode("ascii", errors="replace").splitlines()


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def run_tuxnet(path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    rc = tool.main(["-r", str(path), *flags], prog="tuxnet tcpdump")
    out = capsys.readouterr()
    assert rc == 0, out.err
    return out.out.splitlines()


def assert_same(expected: list[str], got: list[str]) -> None:
    diffs = [(i, e, g) for i, (e, g) in enumerate(zip(expected, got, strict=False)) if e != g]
    report = "\n".join(f"line {i}:\n  tcpdump: {e!r}\n  tuxnet:  {g!r}" for i, e, g in diffs[:8])
    assert not diffs, f"{len(diffs)} lines differ:\n{report}"
    assert len(expected) == len(got)


# the full flag matrix on one file; the other formats share the printers
CASES = [("pcap-ns", f) for f in FLAG_SETS] + [
    (kind, f) for kind in ("pcapng", "pcap-us-scapy") for f in (FLAG_SETS[2], FLAG_SETS[4])
]


@pytest.mark.parametrize(("kind", "flags"), CASES,
                         ids=[f"{k}:{' '.join(f)}" for k, f in CASES])
def test_lines_equal_tcpdump(captures: dict[str, Path], kind: str, flags: list[str],
                             utc: None, capsys: pytest.CaptureFixture[str]) -> None:
    expected = run_tcpdump(captures[kind], flags)
    assert len(expected) > 1500  # the capture is really printed
    assert_same(expected, run_tuxnet(captures[kind], flags, capsys))


def test_local_time_follows_tz(captures: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """Without -t tcpdump prints local time; so does tuxnet (POSIX TZ, no tzdata)."""
    zone = "EST+5EDT,M3.2.0/2,M11.1.0/2"
    need(TCPDUMP is not None, "tcpdump not installed (apt-get install tcpdump)")
    assert TCPDUMP is not None
    out = subprocess.run([TCPDUMP, "-nn", "-c", "30", "-r", str(captures["pcap-ns"])],
                         capture_output=True, env={**os.environ, "TZ": zone}, check=True)
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        got = run_tuxnet(captures["pcap-ns"], ["-nn", "-c", "30"], capsys)
    finally:
        monkeypatch.undo()
        time.tzset()
    expected = out.stdout.decode().splitlines()
    assert expected[0].startswith("17:13:20.123457 ")  # 22:13:20 UTC, EST in November
    assert_same(expected, got)


def test_invalid_record_headers(tmp_path: Path, utc: None,
                                capsys: pytest.CaptureFixture[str]) -> None:
    frame = bytes(eth(IP(src=A, dst=B) / ICMP()))
    path = tmp_path / "invalid.pcap"
    with PcapWriter(path) as w:
        for data, wire in [(b"", 0), (b"", 5), (frame[:5], 0), (frame[:10], 5),
                           (frame, len(frame) + 300000), (frame, len(frame)), (frame, 1)]:
            w.write_packet(T0, data, wire)
    for flags in (["-nn"], ["-nn", "-ttt", "-e", "-x"]):
        assert_same(run_tcpdump(path, flags), run_tuxnet(path, flags, capsys))


def test_count_and_errors(captures: dict[str, Path], tmp_path: Path, utc: None,
                          capsys: pytest.CaptureFixture[str]) -> None:
    assert len(run_tuxnet(captures["pcap-ns"], ["-nn", "-c", "3"], capsys)) == 3
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture file")
    assert tool.main(["-r", str(bad)], prog="tuxnet tcpdump") == 1
    assert "not a pcap or pcapng file" in capsys.readouterr().err
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(captures["pcap-ns"].read_bytes()[:300])
    assert tool.main(["-nn", "-r", str(cut)], prog="tuxnet tcpdump") == 1
    out = capsys.readouterr()
    assert "truncated file" in out.err and out.out.count("\n") >= 2
    assert tool.main(["-r", str(tmp_path / "missing.pcap")], prog="t") == 1


def test_json_output(captures: dict[str, Path], utc: None,
                     capsys: pytest.CaptureFixture[str]) -> None:
    import json

    capsys.readouterr()
    assert tool.main(["-nn", "-t", "-c", "2", "--json", "-r", str(captures["pcapng"])],
                     prog="t") == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["interface"] for p in doc["packets"]] == [0, 1]
    assert doc["packets"][0]["line"].startswith("IP 10.0.0.1.40000 > 10.0.0.2.5001: Flags [S]")


def test_cli_dispatch(captures: dict[str, Path]) -> None:
    import sys

    out = subprocess.run([sys.executable, "-m", "tuxnet", "tcpdump", "-nn", "-t", "-c", "1",
                          "-r", str(captures["pcap-ns"])], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(tool.__file__).parents[2])},
                         check=True)
    assert out.stdout.startswith("IP 10.0.0.1.40000 > 10.0.0.2.5001: Flags [S], seq 1000")
    assert "reading from file" in out.stderr


def mutants(seed: int, count: int) -> list[tuple[int, bytes, int]]:
    """Seeded field mutations of the corpus packets (header bytes, options, lengths,
    checksums, truncation), keeping ports and the quoted protocol of ICMP errors so
    that tcpdump does not switch to a dissector tuxnet does not have."""
    import random

    rnd = random.Random(seed)
    bases = [data for _ts, data, wire in corpus() if len(data) == wire]
    out = []
    for i in range(count):
        b = bytearray(rnd.choice(bases))
        for _ in range(rnd.choice((1, 1, 2, 3))):
            if b[12:14] == b"\x08\x00" and len(b) > 34:
                ihl = (b[14] & 0x0F) * 4
                l4 = 14 + ihl
                if rnd.random() < 0.3:
                    # (not the header length of TCP/UDP: it would move the ports)
                    pos = 14 + rnd.choice((0 if b[23] not in (6, 17) else 1,
                                           1, 2, 3, 6, 7, 8, 9, 10, 20, 21, 22, 23))
                else:
                    pos = rnd.randrange(l4, max(l4 + 1, len(b)))
                if b[23] in (6, 17) and l4 <= pos < l4 + 4:
                    pos += 4  # keep the ports
                if b[23] == 1 and pos in (l4 + 17, l4 + 28, l4 + 29, l4 + 30, l4 + 31):
                    continue  # keep the quoted datagram's protocol and ports
            elif b[12:14] == b"\x08\x06":
                pos = rnd.randrange(14, len(b))
            else:
                continue
            if pos < len(b):
                if pos == 23:
                    b[pos] = 253  # another protocol could reinterpret ports as data
                else:
                    b[pos] = rnd.choice((0, 1, 2, 0xFF, rnd.randrange(256)))
        wire = len(b)
        data = bytes(b[: rnd.randrange(14, len(b) + 1)]) if rnd.random() < 0.3 else bytes(b)
        if rnd.random() < 0.2:
            wire += rnd.randrange(100)
        out.append((T0 + i * 1000, data, wire))
    return out


SEEDS = [int(s) for s in os.environ.get("TUXNET_TCPDUMP_SEEDS", "1 2").split()]


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_packets_equal_tcpdump(seed: int, tmp_path: Path, utc: None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mutants.pcap"
    with PcapWriter(path) as w:
        for ts, data, wire in mutants(seed, 2000):
            w.write_packet(ts, data, wire)
    for flags in (["-nn", "-t", "-v", "-x"], ["-nn", "-t", "-e"]):
        assert_same(run_tcpdump(path, flags), run_tuxnet(path, flags, capsys))


# ----------------------------------------------------------------- robustness


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=0, max_size=200), extra=st.integers(0, 100),
       flags=st.sampled_from([(0, False), (1, True), (1, False), (0, True)]))
def test_random_frames_never_crash(data: bytes, extra: int, flags: tuple[int, bool]) -> None:
    printer = tool.Tcpdump(vflag=flags[0], eflag=flags[1], tflag=1, xflag=1)
    line = printer.format(PcapRecord(T0, data, len(data) + extra, 1))
    assert isinstance(line, str)


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from([
        bytes.fromhex("66778899aabb0011223344550800"),
        bytes.fromhex("66778899aabb00112233445508004500"),
        bytes.fromhex("66778899aabb0011223344558100000508004500"),
        bytes.fromhex("66778899aabb00112233445508060001080006040001"),
        bytes.fromhex("66778899aabb00112233445508004500001c000100004006"),
        bytes.fromhex("66778899aabb00112233445508004500001c000100004011"),
        bytes.fromhex("66778899aabb00112233445508004500001c000100004001"),
        bytes.fromhex("66778899aabb0011223344550020aaaa03000000"),
    ]),
    tail=st.binary(max_size=120),
    vflag=st.integers(0, 2),
)
def test_random_ipv4_tails_never_crash(prefix: bytes, tail: bytes, vflag: int) -> None:
    """Frames that get past the link layer into the IP/TCP/UDP/ICMP/ARP printers."""
    printer = tool.Tcpdump(vflag=vflag, eflag=bool(vflag & 1), tflag=3, big_xflag=vflag)
    for data in (prefix + tail, (prefix + tail)[: len(prefix) + len(tail) // 2]):
        assert isinstance(printer.format(PcapRecord(T0, data, len(prefix + tail), 1)), str)


def test_output_to_closed_pipe(captures: dict[str, Path]) -> None:
    """``| head`` does not make a traceback."""
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "tuxnet", "tcpdump", "-nn", "-r",
                             str(captures["pcap-ns"])], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env={**os.environ,
                                 "PYTHONPATH": str(Path(tool.__file__).parents[2])})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=30)
    assert b"Traceback" not in err


def test_tcpdump_reads_what_tuxnet_writes(captures: dict[str, Path]) -> None:
    """Both tuxnet formats open in tcpdump and in scapy with the same bytes."""
    n = len(corpus())
    for kind in ("pcap-ns", "pcapng"):
        lines = run_tcpdump(captures[kind], ["-nn", "-t", "-q"])
        assert len([line for line in lines if not line.startswith("\t")]) == n
        ours = [r.data for r in read_pcap(captures[kind])]
        theirs = [bytes(p) for p in scapy_all.rdpcap(str(captures[kind]))]
        assert ours == theirs
        assert len(ours) == n
