"""ip_rcv and local delivery (net/ipv4/ip_input.c): every failure a drop reason and an
Ip MIB counter as Linux counts it, protocol and raw delivery, options, reassembly
through ip_rcv, the netfilter hook points, and malformed frames fuzzed."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from _iputil import MS, PEER_MAC, SEC, Lan, eth, icmp, ipv4, make_lan, parse_ip, udp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.ipv4.inet import InetSkbParm, inet_add_protocol, inet_add_raw_hook
from tuxnet.ipv4.ip_input import ip_options_compile
from tuxnet.ipv4.route import Rtable
from tuxnet.netfilter import (
    NF_ACCEPT,
    NF_DROP,
    NF_INET_LOCAL_IN,
    NF_INET_PRE_ROUTING,
    NF_STOLEN,
    NfHookOps,
    nf_register_net_hook,
)
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_int
from tuxnet.wire.checksum import internet_checksum

PROTO = 253  # RFC 3692 experimental: our test transport


class Sink:
    """A transport registered with inet_add_protocol that records what it gets."""

    def __init__(self, lan: Lan, proto: int = PROTO) -> None:
        self.lan = lan
        self.got: list[dict[str, Any]] = []
        assert inet_add_protocol(lan.host, proto, self.rcv) == 0

    def rcv(self, skb: SkBuff) -> int:
        self.got.append({"data": skb.copy_bits(0, skb.len), "cb": skb.cb, "dst": skb.dst,
                         "nh": bytes(skb.skb_network_header()[:20])})
        self.lan.host.consume_skb(skb)
        return 0


def test_delivery_to_a_registered_protocol() -> None:
    lan = make_lan()
    sink = Sink(lan)
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"hello"))
    (got,) = sink.got
    assert got["data"] == b"hello"  # skb.data at the transport header
    assert isinstance(got["cb"], InetSkbParm) and got["cb"].iif == lan.nic.ifindex
    assert isinstance(got["dst"], Rtable) and got["dst"].input == "ip_local_deliver"
    ip = lan.host.mib.ip
    assert (ip.InReceives, ip.InDelivers, ip.InHdrErrors) == (1, 1, 0)
    assert lan.host.mib.ipext.InOctets == 25 and lan.host.mib.ipext.InNoECTPkts == 1


def test_received_ipcb_is_a_zeroed_inet_skb_parm_with_iif() -> None:
    """ip_rcv_core fills IPCB inline: every field as InetSkbParm() but iif."""
    lan = make_lan()
    sink = Sink(lan)
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"cb"))
    cb = sink.got[0]["cb"]
    ref = InetSkbParm()
    ref.iif = lan.nic.ifindex
    assert type(cb) is InetSkbParm
    for name in InetSkbParm.__slots__:
        assert getattr(cb, name) == getattr(ref, name), name


def test_link_padding_is_trimmed() -> None:
    lan = make_lan()
    sink = Sink(lan)
    frame = lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"ab")
    lan.inject(frame + bytes(60 - len(frame)))  # the minimum Ethernet frame
    assert sink.got[0]["data"] == b"ab"


@pytest.mark.parametrize("kw, counter, reason", [
    ({"version": 6}, "InHdrErrors", R.IP_INHDR),
    ({"ihl": 4}, "InHdrErrors", R.IP_INHDR),
    ({"ihl": 15}, "InHdrErrors", R.IP_INHDR),   # header longer than the packet
    ({"csum": 0x1234}, "InCsumErrors", R.IP_CSUM),
    ({"tot_len": 200}, "InTruncatedPkts", R.PKT_TOO_SMALL),
    ({"tot_len": 12}, "InHdrErrors", R.IP_INHDR),
])
def test_header_errors(kw: dict[str, int], counter: str, reason: R) -> None:
    lan = make_lan()
    sink = Sink(lan)
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"payload!", **kw))
    mib = lan.host.mib
    assert sink.got == [] and lan.take() == []
    assert mib.ip.InReceives == 1 and mib.ip.InDelivers == 0
    value = mib.ipext[counter] if counter in mib.ipext.NAMES else mib.ip[counter]
    assert value == 1
    if reason is R.IP_CSUM:  # csum_error falls through to inhdr_error
        assert mib.ip.InHdrErrors == 1
    assert lan.host.drop_counts == {reason: 1}
    assert lan.host.drop_locations[(reason, "ip_rcv_core")] == 1


def test_short_frame() -> None:
    lan = make_lan()
    lan.inject(eth(lan.nic.dev_addr, PEER_MAC, b"\x45\x00\x00"))
    assert lan.host.mib.ip.InHdrErrors == 1


def test_frame_for_another_mac() -> None:
    lan = make_lan()
    frame = eth(b"\x02\x99\x99\x99\x99\x99", PEER_MAC, ipv4("10.0.0.1", "10.0.0.2", 1,
                                                             icmp(8, 0, 1)))
    lan.inject(frame)
    assert lan.host.mib.ip.InReceives == 0  # dropped before IPSTATS_MIB_IN
    assert lan.nic.core_stats.rx_otherhost_dropped == 1
    assert lan.host.drop_counts == {R.OTHERHOST: 1}


def test_unknown_protocol_and_raw_socket() -> None:
    lan = make_lan()
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 99, b"xyz"))
    (err,) = lan.take_ip()
    assert (err["icmp_type"], err["icmp_code"]) == (3, 2)
    assert lan.host.mib.ip.InUnknownProtos == 1 and lan.host.mib.ip.InDelivers == 0
    # a raw socket for the protocol takes it: delivered, no ICMP
    raw: list[bytes] = []

    def rcv(skb: SkBuff) -> None:
        raw.append(bytes(skb.data))
        lan.host.consume_skb(skb)

    inet_add_raw_hook(lan.host, 99, rcv)
    dgram = ipv4("10.0.0.1", "10.0.0.2", 99, b"xyz")
    lan.inject(eth(lan.nic.dev_addr, PEER_MAC, dgram))
    assert raw == [dgram] and lan.take() == []  # raw sockets see the IPv4 header
    assert lan.host.mib.ip.InDelivers == 1 and lan.host.mib.ip.InUnknownProtos == 1


def test_not_for_us_without_forwarding() -> None:
    lan = make_lan()
    lan.inject(lan.frame("10.0.0.1", "10.9.9.9", 17, b"x"))
    assert lan.host.mib.ip.InAddrErrors == 1 and lan.take() == []
    assert lan.host.drop_counts == {R.IP_INADDRERRORS: 1}


def test_martian_source_is_dropped_quietly() -> None:
    lan = make_lan()
    sink = Sink(lan)
    lan.inject(lan.frame("127.0.0.1", "10.0.0.2", PROTO, b"x"))
    lan.inject(lan.frame("10.0.0.2", "10.0.0.2", PROTO, b"x"))  # our own address
    lan.inject(lan.frame("224.0.0.5", "10.0.0.2", PROTO, b"x"))
    lan.inject(lan.frame("0.0.0.7", "10.0.0.2", PROTO, b"x"))
    lan.inject(lan.frame("10.0.0.1", "0.0.0.9", PROTO, b"x"))
    assert sink.got == [] and lan.take() == []
    assert lan.host.mib.ip.InReceives == 5
    # ip_route_input_slow's reasons (Linux 6.13+)
    assert lan.host.drop_counts == {R.IP_LOCALNET: 1, R.IP_LOCAL_SOURCE: 1,
                                    R.IP_INVALID_SOURCE: 2, R.IP_INVALID_DEST: 1}


def test_ecn_counters() -> None:
    lan = make_lan()
    Sink(lan)
    for tos in (0, 1, 2, 3, 3):
        lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"e", tos=tos))
    ipext = lan.host.mib.ipext
    assert (ipext.InNoECTPkts, ipext.InECT1Pkts, ipext.InECT0Pkts, ipext.InCEPkts) == (1, 1, 1,
                                                                                     2)


def test_broadcast_counters() -> None:
    lan = make_lan()
    sink = Sink(lan)
    lan.inject(eth(b"\xff" * 6, PEER_MAC, ipv4("10.0.0.1", "10.0.0.255", PROTO, b"b")))
    assert len(sink.got) == 1 and lan.host.mib.ipext.InBcastPkts == 1


def test_options() -> None:
    assert ip_options_compile(b"\x01\x01\x01\x00") == (-1, False)
    assert ip_options_compile(b"\x07\x07\x04" + bytes(5)) == (-1, False)  # record route
    assert ip_options_compile(b"\x07\x01\x00\x00") == (20, False)  # bad length
    assert ip_options_compile(b"\x07\x07\x02" + bytes(5)) == (22, False)  # bad pointer
    assert ip_options_compile(b"\x83\x07\x04" + bytes(5)) == (-1, True)  # LSRR
    lan = make_lan()
    sink = Sink(lan)
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"o", options=b"\x01\x01\x01\x00"))
    assert len(sink.got) == 1
    # a bad option: InHdrErrors and ICMP parameter problem pointing at it
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"o", options=b"\x07\x01\x00\x00"))
    (pp,) = lan.take_ip()
    assert (pp["icmp_type"], pp["icmp_rest"] >> 24) == (12, 20)
    assert lan.host.mib.ip.InHdrErrors == 1
    # a loose source route is refused (accept_source_route is 0 on conf/all)
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"o",
                         options=b"\x83\x07\x04" + bytes(4) + b"\x00"))
    assert len(sink.got) == 1 and lan.take() == []


def _fragments(payload: bytes, size: int, ident: int = 5, src: str = "10.0.0.1"
               ) -> list[bytes]:
    out = []
    for off in range(0, len(payload), size):
        mf = 0x2000 if off + size < len(payload) else 0
        out.append(ipv4(src, "10.0.0.2", PROTO, payload[off:off + size], ident=ident,
                        frag_off=mf | (off // 8)))
    return out


def test_reassembly_through_ip_rcv() -> None:
    lan = make_lan()
    sink = Sink(lan)
    payload = bytes(range(256)) * 12
    frags = _fragments(payload, 1000)
    for f in reversed(frags):
        lan.inject(eth(lan.nic.dev_addr, PEER_MAC, f))
    (got,) = sink.got
    assert got["data"] == payload
    ip = lan.host.mib.ip
    assert (ip.ReasmReqds, ip.ReasmOKs, ip.InReceives, ip.InDelivers) == (4, 1, 4, 1)


def test_reassembly_overlap_and_timeout() -> None:
    lan = make_lan()
    sink = Sink(lan)
    payload = bytes(3000)
    frags = _fragments(payload, 1000, ident=6)
    lan.inject(eth(lan.nic.dev_addr, PEER_MAC, frags[0]))
    # an overlapping piece (offset 496, 1000 bytes) poisons the queue (RFC 5722)
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, bytes(1000), ident=6,
                         frag_off=0x2000 | 62))
    assert lan.host.mib.ipext.ReasmOverlaps == 1 and lan.host.mib.ip.ReasmFails == 1
    # a lone first fragment times out after ipfrag_time: ICMP time exceeded code 1
    lan.inject(eth(lan.nic.dev_addr, PEER_MAC, _fragments(payload, 1000, ident=7)[0]))
    lan.run(29 * SEC)
    assert lan.take() == []
    lan.run(2 * SEC)
    (te,) = lan.take_ip()
    assert (te["icmp_type"], te["icmp_code"]) == (11, 1)
    quoted = parse_ip(te["quoted"])
    assert quoted["id"] == 7 and quoted["mf"] and te["dst"] == ip_int("10.0.0.1")
    ip = lan.host.mib.ip
    assert (ip.ReasmTimeout, ip.ReasmFails) == (1, 2) and sink.got == []
    assert lan.host.drop_counts[R.FRAG_REASM_TIMEOUT] == 1


def test_netfilter_hook_points_on_input() -> None:
    lan = make_lan()
    sink = Sink(lan)
    calls: list[str] = []

    def hook(name: str, verdict: int) -> NfHookOps:
        def fn(_priv: Any, skb: SkBuff, state: Any) -> int:
            calls.append(f"{name}:{state.in_dev.name}:{state.out_dev}")
            return verdict
        return NfHookOps(fn, NF_INET_PRE_ROUTING if name == "pre" else NF_INET_LOCAL_IN)

    nf_register_net_hook(lan.host, hook("pre", NF_ACCEPT))
    nf_register_net_hook(lan.host, hook("in", NF_ACCEPT))
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"n"))
    assert calls == ["pre:eth0:None", "in:eth0:None"] and len(sink.got) == 1
    drop = hook("pre", NF_DROP)
    drop.priority = -300  # raw table: before the accepting hook
    nf_register_net_hook(lan.host, drop)
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"n"))
    assert len(sink.got) == 1 and lan.host.drop_counts[R.NETFILTER_DROP] == 1
    assert lan.host.mib.ip.InReceives == 2 and lan.host.mib.ip.InDelivers == 1


def test_netfilter_stolen() -> None:
    lan = make_lan()
    kept: list[SkBuff] = []

    def steal(_priv: Any, skb: SkBuff, state: Any) -> int:
        kept.append(skb)
        return NF_STOLEN

    nf_register_net_hook(lan.host, NfHookOps(steal, NF_INET_LOCAL_IN))
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(8, 0, 1)))
    assert len(kept) == 1 and lan.take() == [] and not lan.host.drop_counts


# -- fuzzing -------------------------------------------------------------------------------

_FUZZ_LAN: dict[str, Lan] = {}


def _fuzz_lan() -> Lan:
    lan = _FUZZ_LAN.get("lan")
    if lan is None:
        lan = _FUZZ_LAN["lan"] = make_lan(forwarding=True)
        Sink(lan)
        inet_add_raw_hook(lan.host, 17, lambda skb: lan.host.consume_skb(skb),
                          lambda skb, info: None)
    return lan


def _valid_frames(lan: Lan) -> list[bytes]:
    inner = ipv4("10.0.0.2", "10.6.0.1", 17, udp(1, 2, b"q", "10.0.0.2", "10.6.0.1"))
    return [
        lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(8, 0, 1, b"ping")),
        lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(3, 4, 1280, inner)),
        lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(12, 0, 3 << 24, inner)),
        lan.frame("10.0.0.1", "10.0.0.2", PROTO, b"data", options=b"\x07\x07\x04" + bytes(5)),
        lan.frame("10.0.0.1", "10.0.0.2", 17, b"x" * 24, frag_off=0x2000),
        lan.frame("10.0.0.1", "10.0.0.2", 17, b"x" * 24, frag_off=3),
        lan.frame("10.0.0.1", "10.9.9.9", 17, b"fwd", ttl=1),
        lan.frame("10.0.0.1", "10.9.9.9", 1, icmp(8, 0, 1, b"fwd"), ttl=2),
    ]


def _check_after(lan: Lan) -> None:
    lan.run(200_000)
    lan.take()
    mib = lan.host.mib.counters()
    assert all(v >= 0 for k, v in mib.items() if k not in ("TcpMaxConn",))


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(min_size=0, max_size=120))
def test_fuzz_random_ipv4_payloads(data: bytes) -> None:
    lan = _fuzz_lan()
    lan.nic.receive_frame(eth(lan.nic.dev_addr, PEER_MAC, data))
    _check_after(lan)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 7), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                   max_size=4),
       st.one_of(st.just(0), st.integers(1, 40)), st.booleans())
def test_fuzz_mutated_frames(which: int, edits: list[tuple[int, int]], cut: int,
                             keep_csum: bool) -> None:
    """Valid frames of every kind (ICMP errors, options, fragments, forwarding) with a
    few bytes changed and/or cut short; the header checksum is usually made right again
    so that the mutation reaches past ip_rcv_core."""
    lan = _fuzz_lan()
    frame = bytearray(_valid_frames(lan)[which])
    for pos, value in edits:
        frame[14 + pos % (len(frame) - 14)] = value
    if cut:
        del frame[max(14, len(frame) - cut):]
    hl = (frame[14] & 15) * 4 if len(frame) > 14 else 0
    if keep_csum and hl >= 20 and 14 + hl <= len(frame):
        if frame[23] == 1 and len(frame) >= 14 + hl + 4:  # and the ICMP checksum
            struct.pack_into("!H", frame, 14 + hl + 2, 0)
            struct.pack_into("!H", frame, 14 + hl + 2, internet_checksum(frame[14 + hl:]))
        struct.pack_into("!H", frame, 24, 0)
        struct.pack_into("!H", frame, 24, internet_checksum(frame[14:14 + hl]))
    lan.nic.receive_frame(bytes(frame))
    _check_after(lan)


def test_fuzz_lan_counts_add_up() -> None:
    """After the fuzzing above, the host still answers and its counters are sane."""
    lan = _fuzz_lan()
    lan.run(60 * SEC)  # let reassembly queues expire
    lan.take()
    lan.inject(lan.frame("10.0.0.1", "10.0.0.2", 1, icmp(8, 0, 0x4242, b"alive")), MS)
    replies = [p for p in lan.take_ip() if p.get("icmp_type") == 0]
    assert replies and replies[-1]["quoted"] == b"alive"
