"""REJECT replies byte for byte (nf_reject_ipv4.c / icmp_send) and LOG lines as the
kernel printed them (samples/iptables_LOG_dmesg.txt)."""

from __future__ import annotations

import struct

import pytest
from _nfutil import LAN, MAC_DUT, MAC_LAN, WAN, icmp, ipt, new_host, nf, skb_of, tcp, udp
from conftest import REFERENCE

from tuxnet.netfilter import NF_DROP, NF_INET_FORWARD, NF_INET_LOCAL_IN
from tuxnet.netfilter.engine import ipt_do_table
from tuxnet.netfilter.nf_reject import nf_reject_icmp_build, nf_reject_tcp_reset_build
from tuxnet.wire.checksum import internet_checksum, ones_sum


def _ip_ok(pkt: bytes) -> None:
    assert internet_checksum(pkt[:20]) == 0


def _l4_ok(pkt: bytes, proto: int) -> None:
    pseudo = struct.pack("!4s4sBBH", pkt[12:16], pkt[16:20], 0, proto, len(pkt) - 20)
    assert ones_sum(pkt[20:], ones_sum(pseudo)) == 0xFFFF


def test_icmp_error_quotes_a_small_packet_whole() -> None:
    old = udp("10.1.0.2", "10.1.0.1", 1, 2)  # 28 bytes -> a 56-byte error (harness #8)
    err = nf_reject_icmp_build(old, 3, 0x0A010001, ident=0x1234)
    assert err is not None and len(err) == 56
    _ip_ok(err)
    assert err[:20] == struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 56, 0x1234, 0, 64, 1,
                                   struct.unpack_from("!H", err, 10)[0],
                                   bytes([10, 1, 0, 1]), bytes([10, 1, 0, 2]))
    assert err[20:22] == b"\x03\x03" and err[24:28] == b"\0\0\0\0"
    assert err[28:] == old
    assert internet_checksum(err[20:]) == 0


def test_icmp_error_is_cut_to_576_bytes() -> None:
    old = udp("10.1.0.2", "10.1.0.1", 1, 2, bytes(1000))
    err = nf_reject_icmp_build(old, 10, 0x0A010001)
    assert err is not None and len(err) == 576 and err[28:] == old[:548]


def test_no_icmp_error_about_a_non_first_fragment() -> None:
    old = bytearray(udp("10.1.0.2", "10.1.0.1", 1, 2))
    old[6:8] = b"\x00\x10"
    assert nf_reject_icmp_build(bytes(old), 3, 1) is None


def test_tcp_reset_for_a_syn_acks_seq_plus_one() -> None:
    syn = tcp("10.1.0.2", "10.1.0.1", 3, 22, 0x02, seq=1000)
    rst = nf_reject_tcp_reset_build(syn)
    assert rst is not None and len(rst) == 40
    _ip_ok(rst)
    _l4_ok(rst, 6)
    ver, tos, tot, ident, frag, ttl, proto = struct.unpack_from("!BBHHHBB", rst)
    assert (ver, tos, tot, ident, frag, ttl, proto) == (0x45, 0, 40, 0, 0x4000, 64, 6)
    assert rst[12:16] == bytes([10, 1, 0, 1]) and rst[16:20] == bytes([10, 1, 0, 2])
    sport, dport, seq, ack, doff, flags, win, _, urg = struct.unpack_from("!HHIIBBHHH", rst, 20)
    assert (sport, dport, seq, ack, doff, flags, win, urg) == (22, 3, 0, 1001, 0x50, 0x14, 0, 0)


def test_tcp_reset_counts_payload_and_fin_and_uses_the_ack() -> None:
    seg = tcp("10.1.0.2", "10.1.0.1", 3, 22, 0x01 | 0x08, seq=7, payload=b"hello")
    rst = nf_reject_tcp_reset_build(seg)
    assert rst is not None
    assert struct.unpack_from("!IIxB", rst, 24) == (0, 7 + 5 + 1, 0x14)
    ack = tcp("10.1.0.2", "10.1.0.1", 3, 22, 0x10, seq=7, ack=88)
    rst = nf_reject_tcp_reset_build(ack)
    assert rst is not None
    assert struct.unpack_from("!IIxB", rst, 24) == (88, 0, 0x04)
    _l4_ok(rst, 6)


def test_no_reset_for_a_reset_or_a_bad_checksum() -> None:
    assert nf_reject_tcp_reset_build(tcp("1.1.1.1", "2.2.2.2", 1, 2, 0x04)) is None
    bad = bytearray(tcp("1.1.1.1", "2.2.2.2", 1, 2))
    bad[36] ^= 0xFF
    assert nf_reject_tcp_reset_build(bytes(bad)) is None


def test_reply_bytes_match_scapy() -> None:
    scapy = pytest.importorskip("scapy.all")
    syn = tcp("10.1.0.2", "10.1.0.1", 41001, 23, 0x02, seq=1)
    want = scapy.IP(src="10.1.0.1", dst="10.1.0.2", id=0, flags="DF", ttl=64) / scapy.TCP(
        sport=23, dport=41001, seq=0, ack=2, flags="RA", window=0)
    assert nf_reject_tcp_reset_build(syn) == bytes(want)
    old = icmp("10.1.0.2", "10.1.0.1", rest=(9 << 16) | 1)
    want_icmp = scapy.IP(src="10.1.0.1", dst="10.1.0.2", tos=0xC0, id=5, ttl=64) / scapy.ICMP(
        type=3, code=3) / scapy.Raw(old)
    assert nf_reject_icmp_build(old, 3, 0x0A010001, ident=5) == bytes(want_icmp)


def test_reject_target_sends_through_the_seam_and_drops() -> None:
    host = new_host()
    sent: list[bytes] = []
    nf(host).ip_local_out = lambda skb: sent.append(bytes(skb.data)) or 0
    ipt(host, "-A INPUT -p tcp -j REJECT --reject-with tcp-reset")
    ipt(host, "-A INPUT -j REJECT --reject-with icmp-admin-prohibited")
    v = ipt_do_table(host, "filter", NF_INET_LOCAL_IN, skb_of(tcp("1.1.1.1", "2.2.2.2", 5, 6)),
                     LAN, None)
    assert v == NF_DROP and sent[-1][33] == 0x14
    v = ipt_do_table(host, "filter", NF_INET_LOCAL_IN, skb_of(udp("1.1.1.1", "2.2.2.2", 5, 6)),
                     LAN, None)
    assert v == NF_DROP and sent[-1][20:22] == b"\x03\x0d" and len(sent[-1]) == 56


def test_reject_on_a_router_reaches_the_sender_through_ipv4() -> None:
    from tuxnet.ipv4.inet import inet_add_raw_hook
    from tuxnet.ipv4.ip_output import ip_send_skb
    from tuxnet.scenarios.routers import build_chain, udp_datagram
    from tuxnet.wire.addr import ip_int

    chain = build_chain(1)
    router = chain.routers[0]
    ipt(router, "-A FORWARD -p udp --dport 9 -j REJECT --reject-with icmp-host-prohibited")
    got: list[bytes] = []
    inet_add_raw_hook(chain.sender, 1, rcv=lambda skb: got.append(bytes(skb.data)))
    src, dst = chain.sender_addr, chain.dest_addr
    ip_send_skb(chain.sender, udp_datagram(4000, 9, b"x", src, dst), src, dst, 17)
    chain.run(10_000_000)
    assert got, "no ICMP error came back"
    err = got[0]
    assert err[12:16] == ip_int("10.0.0.1").to_bytes(4, "big")  # the router's address
    assert err[20:22] == b"\x03\x0a"
    assert err[28 + 9] == 17 and err[28 + 22:28 + 24] == b"\x00\x09"
    ipt_out = ipt(router, "-L FORWARD -v -n -x")
    assert "       1       29 REJECT     17" in ipt_out


# samples/iptables_LOG_dmesg.txt, minus the dmesg timestamp
def _log_sample() -> list[str]:
    path = REFERENCE / "samples" / "iptables_LOG_dmesg.txt"
    if not path.exists():
        pytest.skip("LOG sample missing")
    return [line.split("] ", 1)[1] for line in path.read_text().splitlines() if "] NFR" in line]


def test_log_lines_match_the_kernel() -> None:
    host = new_host()
    ipt(host, "-I INPUT 1 -j LOG --log-prefix 'NFR-IN ' --log-tcp-options --log-ip-options")
    ipt(host, "-I FORWARD 1 -j LOG --log-prefix 'NFR-FWD ' --log-level 4 --log-uid")
    mac = MAC_DUT + MAC_LAN + b"\x08\x00"
    ipt_do_table(host, "filter", NF_INET_LOCAL_IN, skb_of(udp("10.1.0.2", "10.1.0.1", 1, 2), mac),
                 LAN, None)
    syn = tcp("10.1.0.2", "10.1.0.1", 3, 22, 0x02, options=b"\x02\x04\x05\xb4")
    ipt_do_table(host, "filter", NF_INET_LOCAL_IN, skb_of(syn, mac), LAN, None)
    echo = icmp("10.1.0.2", "10.9.9.9", 8, 0, (1 << 16) | 2, ttl=63)
    ipt_do_table(host, "filter", NF_INET_FORWARD, skb_of(echo, mac), LAN, WAN)
    assert [line for _, _, line in nf(host).log] == _log_sample()
    from tuxnet.netfilter.targets.log import dmesg

    assert dmesg(nf(host).log).startswith("[    0.000000] NFR-IN IN=lan0 OUT= MAC=02:00")
    assert ipt(host, "-S INPUT 1") == \
        '-A INPUT -j LOG --log-prefix "NFR-IN " --log-tcp-options --log-ip-options\n'


def test_log_marks_fragments_and_mark() -> None:
    from tuxnet.netfilter.targets.log import dump_ipv4_packet

    frag = bytearray(udp("10.0.0.1", "10.0.0.2", 1, 2))
    frag[6:8] = b"\x20\x02"
    assert dump_ipv4_packet(bytes(frag), 0).endswith("ID=1 MF FRAG:2 PROTO=UDP ")
    host = new_host()
    ipt(host, "-A OUTPUT -j MARK --set-mark 0x2a")
    ipt(host, "-A OUTPUT -j LOG")
    from tuxnet.netfilter import NF_INET_LOCAL_OUT

    ipt_do_table(host, "filter", NF_INET_LOCAL_OUT, skb_of(icmp("1.1.1.1", "2.2.2.2")), None,
                 WAN)
    line = nf(host).log[-1][2]
    assert line.startswith("IN= OUT=wan0 SRC=1.1.1.1") and line.endswith("MARK=0x2a ")
