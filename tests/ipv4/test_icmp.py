"""ICMP (net/ipv4/icmp.c): echo and timestamp replies, receive checks and counters,
error delivery to the quoted protocol and PMTU learning, the RFC 1812 rules of
icmp_send and its two rate limits."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from _iputil import MS, PEER_MAC, SEC, eth, icmp, ipv4, make_lan, udp

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.icmp import icmp_hdr
from tuxnet.ipv4.inet import inet_add_protocol, inet_add_raw_hook, ip_state
from tuxnet.ipv4.neigh_rtnl import neigh_add
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_int

BCAST = b"\xff" * 6


def test_echo_reply_is_byte_exact_against_scapy() -> None:
    scapy = pytest.importorskip("scapy.all")
    lan = make_lan(7)
    data = bytes(range(56))
    req = (scapy.Ether(dst=lan.nic.dev_addr, src=PEER_MAC)
           / scapy.IP(src="10.0.0.1", dst="10.0.0.2", id=4242, ttl=63, tos=0x10)
           / scapy.ICMP(type=8, code=0, id=0x1234, seq=7) / scapy.Raw(data))
    lan.inject(bytes(req))
    frames = lan.take()
    assert len(frames) == 1
    got = scapy.Ether(frames[0])
    # the reply: same id/seq/data, TOS copied, TTL 64, no DF, IP ID from ip_idents
    want = (scapy.Ether(dst=PEER_MAC, src=lan.nic.dev_addr)
            / scapy.IP(src="10.0.0.2", dst="10.0.0.1", id=got[scapy.IP].id, ttl=64,
                       tos=0x10, flags=0)
            / scapy.ICMP(type=0, code=0, id=0x1234, seq=7) / scapy.Raw(data))
    assert frames[0] == bytes(want)
    mib = lan.host.mib
    assert mib.icmp.InMsgs == 1 and mib.icmp.OutMsgs == 1
    assert mib.icmpmsg[8] == 1 and mib.icmpmsg[0x100 | 0] == 1
    assert mib.ip.InDelivers == 1 and mib.ip.OutRequests == 1
    assert "IcmpMsg: InType8 OutType0\nIcmpMsg: 1 1\n" in mib.format_snmp()


def test_echo_ignore_all_and_broadcast() -> None:
    lan = make_lan()
    lan.host.sysctl.set("net.ipv4.icmp_echo_ignore_all", 1)
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(8, 0, 1, b"x")))
    assert lan.take() == []
    assert lan.host.mib.icmp.InMsgs == 1 and lan.host.mib.icmp.InErrors == 0
    lan.host.sysctl.set("net.ipv4.icmp_echo_ignore_all", 0)
    # to the subnet broadcast: ignored by default (RFC 1122 3.2.2.6), counted InErrors
    bframe = eth(BCAST, PEER_MAC, ipv4("10.0.0.1", "10.0.0.255", 1, icmp(8, 0, 2, b"y")))
    lan.inject(bframe)
    assert lan.take() == []
    assert lan.host.mib.icmp.InErrors == 1
    assert lan.host.drop_counts[SkbDropReason.INVALID_PROTO] == 1
    lan.host.sysctl.set("net.ipv4.icmp_echo_ignore_broadcasts", 0)
    lan.inject(bframe)
    (reply,) = lan.take_ip()
    assert reply["src"] == ip_int("10.0.0.2") and reply["icmp_type"] == 0


def test_bad_checksum_and_short_message() -> None:
    lan = make_lan()
    msg = bytearray(icmp(8, 0, 1, b"abc"))
    msg[2] ^= 0xFF
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 1, bytes(msg)))
    icmp_mib = lan.host.mib.icmp
    assert (icmp_mib.InMsgs, icmp_mib.InCsumErrors, icmp_mib.InErrors) == (1, 1, 1)
    assert lan.host.drop_counts[SkbDropReason.ICMP_CSUM] == 1
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 1, b"\xf7\xff\x00\x00"))  # 4 bytes
    assert icmp_mib.InErrors == 2 and lan.take() == []


def test_timestamp_reply() -> None:
    lan = make_lan()
    lan.run(5 * SEC)
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 1,
                         icmp(13, 0, 0x00090001, struct.pack("!III", 1234, 0, 0))))
    (reply,) = lan.take_ip()
    assert reply["icmp_type"] == 14 and reply["icmp_ok"]
    orig, recv, xmit = struct.unpack("!III", reply["quoted"][:12])
    assert orig == 1234 and recv == xmit == lan.loop.now_ns() // MS - 1  # injected 1 ms ago
    assert lan.host.mib.icmpmsg[0x100 | 14] == 1


def test_protocol_unreachable_quotes_the_datagram() -> None:
    lan = make_lan()
    dgram = ipv4("10.0.0.1", "10.0.0.2", 99, b"P" * 40, tos=0x08, ident=77)
    lan.inject(eth(lan.nic.dev_addr, PEER_MAC, dgram))
    (err,) = lan.take_ip()
    assert (err["icmp_type"], err["icmp_code"]) == (3, 2) and err["icmp_ok"]
    assert err["quoted"] == dgram
    assert err["tos"] == 0xC0 | 0x08  # IPTOS_PREC_INTERNETCONTROL | RT_TOS
    assert err["src"] == ip_int("10.0.0.2") and not err["df"]
    assert lan.host.mib.ip.InUnknownProtos == 1
    assert lan.host.drop_counts[SkbDropReason.IP_NOPROTO] == 1


def test_no_error_about_errors_fragments_or_link_broadcast() -> None:
    lan = make_lan(forwarding=True)
    host = lan.host
    # a time-exceeded would be due (TTL 1), but the datagram is itself an ICMP error
    inner = ipv4("10.0.0.2", "10.7.0.1", 17, udp(1, 2, b"", "10.0.0.2", "10.7.0.1"))
    lan.inject(lan.frame("10.0.0.1", "10.9.9.9", 1, icmp(3, 3, 0, inner), ttl=1))
    assert lan.take() == [] and host.mib.ip.InHdrErrors == 1
    # an ICMP type above NR_ICMP_TYPES counts as an error too
    lan.inject(lan.frame("10.0.0.1", "10.9.9.9", 1, icmp(40, 0, 0, b"zz"), ttl=1))
    assert lan.take() == []
    # an echo request is not an error: it gets its time exceeded
    lan.inject(lan.frame("10.0.0.1", "10.9.9.9", 1, icmp(8, 0, 1, b"e"), ttl=1))
    (te,) = lan.take_ip()
    assert (te["icmp_type"], te["icmp_code"]) == (11, 0)
    # a non-first fragment never gets an error
    lan.inject(lan.frame("10.0.0.1", "10.9.9.9", 17, b"F" * 16, ttl=1, frag_off=10))
    assert lan.take() == []
    # nor a datagram that came in a link-layer broadcast
    lan.inject(eth(BCAST, PEER_MAC, ipv4("10.0.0.1", "10.0.0.2", 99, b"q")))
    assert lan.take() == [] and host.mib.ip.InUnknownProtos == 1


def test_quoted_data_fits_576_bytes() -> None:
    lan = make_lan(forwarding=True)
    lan.inject(lan.frame("10.0.0.1", "10.9.9.9", 17, b"U" * 1400, ttl=1))
    (te,) = lan.take_ip()
    assert te["len"] == 576 and len(te["quoted"]) == 576 - 28  # RFC 1812 4.3.2.3


def _burst(lan: Any, sources: list[str], proto: int = 99) -> None:
    for src in sources:
        lan.nic.receive_frame(lan.frame(src, "10.0.0.2", proto, b"r"))
    lan.run(MS)


def test_rate_limit_per_destination_burst_of_six() -> None:
    lan = make_lan(3)
    icmp_mib = lan.host.mib.icmp
    _burst(lan, ["10.3.0.1"] * 20)
    errs = lan.take_ip()
    assert len(errs) == 6  # XRLIM_BURST_FACTOR: 6 x icmp_ratelimit of tokens
    assert icmp_mib.OutRateLimitHost == 14 and lan.host.mib.icmpmsg[0x100 | 3] == 6
    assert lan.host.mib.ip.InUnknownProtos == 20
    lan.run(SEC)  # one icmp_ratelimit (1000 ms) buys one more
    _burst(lan, ["10.3.0.1"] * 3)
    assert len(lan.take_ip()) == 1 and icmp_mib.OutRateLimitHost == 16
    _burst(lan, ["10.3.0.2"] * 2)  # another destination has its own bucket
    assert len(lan.take_ip()) == 2


def test_rate_limit_spares_replies_and_follows_ratemask() -> None:
    lan = make_lan()
    for i in range(20):
        lan.nic.receive_frame(lan.frame("10.3.0.1", "10.0.0.2", 1, icmp(8, 0, i, b"p")))
    lan.run(MS)
    assert len(lan.take_ip()) == 20  # echo replies are not in icmp_ratemask
    lan.host.sysctl.set("net.ipv4.icmp_ratemask", 0)
    _burst(lan, ["10.3.0.9"] * 20)
    assert len(lan.take_ip()) == 20 and lan.host.mib.icmp.OutRateLimitHost == 0


def test_rate_limit_global_credit() -> None:
    lan = make_lan(11)
    icmp_mib = lan.host.mib.icmp
    sources = [f"10.4.{i // 250}.{i % 250 + 1}" for i in range(200)]
    _burst(lan, sources)
    sent = len(lan.take_ip())
    # icmp_msgs_burst 50 credits, each message takes 0..2 of them at random
    assert 25 <= sent <= 150 and sent + icmp_mib.OutRateLimitGlobal == 200
    assert icmp_mib.OutRateLimitGlobal > 0 and icmp_mib.OutRateLimitHost == 0
    lan.run(SEC)
    _burst(lan, [f"10.5.0.{i}" for i in range(1, 11)])
    assert len(lan.take_ip()) == 10  # refilled after a second
    # the same seed gives the same split
    again = make_lan(11)
    _burst(again, sources)
    assert len(again.take_ip()) == sent


def _quoting(lan: Any, icmp_type: int, code: int, rest: int, proto: int,
             daddr: str = "10.6.0.1", l4: bytes | None = None) -> bytes:
    """An ICMP error from a router about a datagram this host sent."""
    if l4 is None:
        l4 = udp(40000, 33434, b"probe", "10.0.0.2", daddr) if proto == 17 else b"x" * 8
    inner = ipv4("10.0.0.2", daddr, proto, l4, ident=9)
    return lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(icmp_type, code, rest, inner))


def test_errors_reach_the_quoted_protocol() -> None:
    lan = make_lan()
    seen: list[tuple[int, int, int, int, int]] = []

    def err(skb: SkBuff, info: int) -> None:
        h = icmp_hdr(skb)
        seen.append((h[0], h[1], info, skb.data[9], len(skb.data)))

    def rcv(skb: SkBuff) -> int:
        lan.host.consume_skb(skb)
        return 0

    assert inet_add_protocol(lan.host, 253, rcv, err) == 0
    assert inet_add_protocol(lan.host, 253, lambda s: 0) == -1  # the slot is taken
    lan.inject(_quoting(lan, 3, 3, 0, 253))
    lan.inject(_quoting(lan, 11, 0, 0, 253))
    lan.inject(_quoting(lan, 12, 0, 22 << 24, 253))
    lan.inject(_quoting(lan, 3, 4, 1280, 253))
    assert [s[:4] for s in seen] == [(3, 3, 0, 253), (11, 0, 0, 253), (12, 0, 22, 253),
                                     (3, 4, 1280, 253)]
    assert all(s[4] >= 28 for s in seen)  # the quoted header + 8 bytes are linear
    assert lan.host.mib.icmpmsg[3] == 2  # InDestUnreachs
    # reassembly-timeout time exceeded is not passed on (icmp_unreach)
    lan.inject(_quoting(lan, 11, 1, 0, 253))
    assert len(seen) == 4


@pytest.mark.parametrize("mode, want", [(0, (1200, False)), (1, (552, True)), (2, None),
                                        (3, None)])
def test_frag_needed_teaches_the_path_mtu(mode: int, want: tuple[int, bool] | None) -> None:
    lan = make_lan()
    st = ip_state(lan.host)
    lan.host.sysctl.set("net.ipv4.ip_no_pmtu_disc", mode)
    errs: list[int] = []
    inet_add_raw_hook(lan.host, 17, err=lambda skb, info: errs.append(info))
    lan.inject(_quoting(lan, 3, 4, 1200, 17))
    fnhe = st.pmtu.lookup(ip_int("10.6.0.1"))
    if want is None:
        assert fnhe is None and errs == []
    else:
        assert fnhe is not None and (fnhe.pmtu, fnhe.mtu_locked) == want
        assert errs == [1200 if mode == 0 else 0]


def test_frag_needed_for_a_protocol_with_strict_tag_validation() -> None:
    lan = make_lan()
    lan.host.sysctl.set("net.ipv4.ip_no_pmtu_disc", 3)
    infos: list[int] = []
    # an experimental protocol number (RFC 3692): TCP is registered at inet_init
    inet_add_protocol(lan.host, 253, lambda s: 0, lambda s, i: infos.append(i),
                      icmp_strict_tag_validation=True)
    lan.inject(_quoting(lan, 3, 4, 1300, 253))
    assert infos == [1300]


def test_bogus_error_about_a_broadcast_is_ignored() -> None:
    lan = make_lan()
    seen: list[int] = []
    inet_add_raw_hook(lan.host, 17, err=lambda s, i: seen.append(i))
    lan.inject(_quoting(lan, 3, 3, 0, 17, daddr="10.0.0.255"))
    assert seen == []
    lan.host.sysctl.set("net.ipv4.icmp_ignore_bogus_error_responses", 0)
    lan.inject(_quoting(lan, 3, 3, 0, 17, daddr="10.0.0.255"))
    assert seen == [0]


def test_echo_reply_without_ping_socket_and_with_one() -> None:
    lan = make_lan()
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(0, 0, 5, b"pong")))
    assert lan.host.drop_counts[SkbDropReason.NO_SOCKET] == 1
    got: list[bytes] = []

    def ping_rcv(skb: SkBuff) -> bool:
        got.append(bytes(skb.data))
        return True

    ip_state(lan.host).ping_rcv = ping_rcv
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(0, 0, 6, b"pong")))
    assert got == [icmp(0, 0, 6, b"pong")]
    assert lan.host.drop_counts[SkbDropReason.NO_SOCKET] == 1


def test_errors_use_inbound_ifaddr() -> None:
    from tuxnet.netfilter import NF_ACCEPT, NF_INET_POST_ROUTING, NfHookOps, nf_register_net_hook
    from tuxnet.scenarios.routers import add_addr, add_nic, add_route

    lan = make_lan(forwarding=True)
    host = lan.host
    eth1 = add_nic(host, "eth1")
    add_addr(host, eth1, "192.168.5.1/24")
    add_route(host, "10.8.0.0/16", via="192.168.5.9")
    neigh_add(host.arp_tbl.tbl, ip_int("192.168.5.9"), eth1, lladdr=PEER_MAC)  # type: ignore[attr-defined]
    out: list[tuple[str, int]] = []

    def post(_priv: Any, skb: SkBuff, state: Any) -> int:
        out.append((state.out_dev.name, struct.unpack_from("!I", skb.data, 12)[0]))
        return NF_ACCEPT

    nf_register_net_hook(host, NfHookOps(post, NF_INET_POST_ROUTING))
    # from 10.8.0.1 arriving on eth0: the error leaves by eth1, the route back
    lan.inject(lan.frame("10.8.0.1", "10.9.9.9", 17, b"t", ttl=1))
    assert out == [("eth1", ip_int("192.168.5.1"))]
    host.sysctl.set("net.ipv4.icmp_errors_use_inbound_ifaddr", 1)
    lan.run(2 * SEC)
    lan.inject(lan.frame("10.8.0.1", "10.9.9.9", 17, b"t", ttl=1))
    assert out[1] == ("eth1", ip_int("10.0.0.2"))  # the address of the receiving eth0


def test_default_source_is_the_route_towards_the_sender() -> None:
    lan = make_lan(forwarding=True)
    lan.inject(lan.frame("10.8.0.1", "10.9.9.9", 17, b"t", ttl=1))
    (te,) = lan.take_ip()
    assert te["src"] == ip_int("10.0.0.2") and te["dst"] == ip_int("10.8.0.1")
