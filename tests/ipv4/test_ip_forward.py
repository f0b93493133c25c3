"""Forwarding (net/ipv4/ip_forward.c) across a chain of simulated routers: TTL and
checksum, ForwDatagrams/OutTransmits, time exceeded with the right quoted header, no
route, path MTU discovery end to end, router fragmentation, redirects, priorities and
the cleared timestamp."""

from __future__ import annotations

import errno
import struct
from typing import Any

from _iputil import MS, PEER_MAC, SEC, ipv4, make_lan, parse_ip
from hypothesis import given
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.host import Host
from tuxnet.ipv4.inet import inet_add_raw_hook, ip_state
from tuxnet.ipv4.ip_forward import ip_decrease_ttl
from tuxnet.ipv4.ip_output import ip_send_skb
from tuxnet.ipv4.neigh_rtnl import neigh_add
from tuxnet.netfilter import (
    NF_ACCEPT,
    NF_INET_FORWARD,
    NF_INET_POST_ROUTING,
    NF_INET_PRE_ROUTING,
    NfHookOps,
    nf_register_net_hook,
)
from tuxnet.scenarios.routers import RouterChain, add_route, build_chain, udp_datagram
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_int
from tuxnet.wire.checksum import internet_checksum


class Raw:
    """A raw socket on ``host`` for ``proto``: the datagrams and the errors it sees."""

    def __init__(self, host: Host, proto: int) -> None:
        self.host = host
        self.pkts: list[bytes] = []
        self.errs: list[tuple[int, int, int, bytes]] = []
        inet_add_raw_hook(host, proto, self.rcv, self.err)

    def rcv(self, skb: SkBuff) -> None:
        self.pkts.append(skb.copy_bits(0, skb.len))
        self.host.consume_skb(skb)

    def err(self, skb: SkBuff, info: int) -> None:
        from tuxnet.ipv4.icmp import icmp_hdr
        h = icmp_hdr(skb)
        self.errs.append((h[0], h[1], info, bytes(skb.data)))


_DISCARD: dict[int, object] = {}


def _discard_socket(chain: RouterChain) -> None:
    """A UDP socket on the destination's discard port: UDP is registered at boot, so
    without one the destination would answer port unreachable (more forwarding)."""
    from tuxnet.socket import AF_INET, SOCK_DGRAM, socket

    if id(chain.dest) not in _DISCARD:
        sock = socket(AF_INET, SOCK_DGRAM, host=chain.dest)
        sock.bind(("", 9))
        _DISCARD[id(chain.dest)] = sock


def send_udp(chain: RouterChain, size: int, *, ttl: int | None = None,
             df: bool | None = None, dst: int | None = None, tos: int = 0) -> int:
    _discard_socket(chain)
    daddr = chain.dest_addr if dst is None else dst
    skb = udp_datagram(40000, 9, bytes(size), chain.sender_addr, daddr)
    return ip_send_skb(chain.sender, skb, chain.sender_addr, daddr, 17, ttl=ttl, df=df,
                       tos=tos)


def test_forwarding_across_three_routers() -> None:
    chain = build_chain(3)
    dest = Raw(chain.dest, 17)
    assert send_udp(chain, 100) == 0
    chain.run(10 * MS)
    (pkt,) = dest.pkts
    p = parse_ip(pkt)
    assert p["ttl"] == 61 and p["csum_ok"]  # one decrement per router, checksum kept right
    assert (p["src"], p["dst"]) == (chain.sender_addr, chain.dest_addr)
    for r in chain.routers:
        ip = r.mib.ip
        assert (ip.InReceives, ip.ForwDatagrams, ip.OutTransmits, ip.OutRequests,
                ip.InDelivers) == (1, 1, 1, 0, 0)
    assert chain.sender.mib.ip.OutRequests == 1 and chain.dest.mib.ip.InDelivers == 1
    assert chain.routers[0].mib.format_snmp().startswith(
        "Ip: Forwarding DefaultTTL")
    assert chain.routers[0].mib.counters()["IpForwarding"] == 1


def test_ttl_expiry_quotes_the_header_as_received() -> None:
    chain = build_chain(3)
    icmp = Raw(chain.sender, 1)
    send_udp(chain, 20, ttl=2)
    chain.run(10 * MS)
    (msg,) = icmp.pkts
    outer = parse_ip(msg)
    assert outer["src"] == ip_int("10.0.1.2")  # r2's interface back towards the sender
    assert (outer["icmp_type"], outer["icmp_code"]) == (11, 0) and outer["icmp_ok"]
    assert outer["tos"] == 0xC0 and outer["ttl"] == 63  # r1 forwarded it back
    quoted = parse_ip(outer["quoted"])
    assert quoted["ttl"] == 1 and quoted["csum_ok"]  # as r2 got it: decremented once
    assert (quoted["src"], quoted["dst"]) == (chain.sender_addr, chain.dest_addr)
    assert outer["quoted"][20:28] == struct.pack("!HHHH", 40000, 9, 28,
                                                 struct.unpack_from("!H", outer["quoted"],
                                                                    26)[0])
    r2 = chain.routers[1]
    assert r2.mib.ip.InHdrErrors == 1 and r2.mib.icmpmsg[0x100 | 11] == 1
    assert r2.drop_counts[R.IP_INHDR] == 1
    assert chain.routers[2].mib.ip.InReceives == 0
    assert chain.sender.mib.icmpmsg[11] == 1


def test_no_route_at_a_router_and_at_the_sender() -> None:
    chain = build_chain(2)
    icmp = Raw(chain.sender, 1)
    send_udp(chain, 10, dst=ip_int("10.99.0.1"))  # the sender's default route takes it
    chain.run(10 * MS)
    (msg,) = icmp.pkts
    outer = parse_ip(msg)
    assert (outer["icmp_type"], outer["icmp_code"]) == (3, 0)  # net unreachable
    assert outer["src"] == ip_int("10.0.0.1")
    r1 = chain.routers[0]
    assert r1.mib.ipext.InNoRoutes == 1 and r1.drop_counts[R.IP_INNOROUTES] == 1
    # the sender itself without a route: -ENETUNREACH, OutNoRoutes
    from tuxnet.ipv4.fib_semantics import FibConfig
    ip_state(chain.sender).inet.route_del(FibConfig(dst=0, plen=0))
    assert send_udp(chain, 10) == -errno.ENETUNREACH
    assert chain.sender.mib.ip.OutNoRoutes == 1


def test_ip_error_rate_limit() -> None:
    chain = build_chain(1)
    icmp = Raw(chain.sender, 1)
    for _ in range(10):
        send_udp(chain, 10, dst=ip_int("10.99.0.1"))
    chain.run(10 * MS)
    # ip_error's own bucket (error_burst 5 s, error_cost 1 s) and icmp_ratelimit share the
    # peer's tokens: two messages out of a burst of ten
    assert len(icmp.pkts) == 2
    assert chain.routers[0].mib.ipext.InNoRoutes == 10


def test_next_hop_arp_failure_sends_host_unreachable() -> None:
    from tuxnet.core.dev import dev_close

    chain = build_chain(1)
    dev_close(chain.nics["dest"]["eth0"])  # the destination stops answering ARP
    icmp = Raw(chain.sender, 1)
    for _ in range(2):
        send_udp(chain, 30)
    chain.run(2 * SEC)
    assert icmp.pkts == []  # r1 is still soliciting, the packets wait in its arp_queue
    chain.run(3 * SEC)
    r1 = chain.routers[0]
    assert r1.drop_counts[R.NEIGH_FAILED] == 2
    assert r1.mib.ip.ForwDatagrams == 2 and r1.mib.icmpmsg[0x100 | 3] == 2
    assert r1.arp_tbl.tbl.stats_total()["res_failed"] == 1  # type: ignore[attr-defined]
    for pkt in icmp.pkts:
        outer = parse_ip(pkt)
        assert (outer["icmp_type"], outer["icmp_code"]) == (3, 1)  # host unreachable
        assert outer["src"] == ip_int("10.0.0.1")
        assert parse_ip(outer["quoted"])["ttl"] == 63  # forwarded: already decremented
    assert len(icmp.pkts) == 2


def test_forwarding_off_is_an_address_error() -> None:
    chain = build_chain(2)
    r1 = chain.routers[0]
    r1.sysctl.set("net.ipv4.ip_forward", 0)
    icmp = Raw(chain.sender, 1)
    send_udp(chain, 10)
    chain.run(10 * MS)
    assert icmp.pkts == [] and r1.mib.ip.InAddrErrors == 1
    assert r1.drop_counts[R.IP_INADDRERRORS] == 1


def test_path_mtu_discovery_end_to_end() -> None:
    chain = build_chain(2, mtus={1: 1400})  # r1 -> r2 has a smaller MTU
    udp_raw = Raw(chain.sender, 17)  # as a raw socket, it learns the PMTU (raw_err)
    dest = Raw(chain.dest, 17)
    st = ip_state(chain.sender)
    assert send_udp(chain, 1472) == 0  # 1500 bytes: fits eth0, DF set (PMTUDISC_WANT)
    chain.run(10 * MS)
    assert dest.pkts == []
    r1 = chain.routers[0]
    assert r1.mib.ip.FragFails == 1 and r1.drop_counts[R.PKT_TOO_BIG] == 1
    ((t, c, info, quoted),) = udp_raw.errs
    assert (t, c, info) == (3, 4, 1400) and parse_ip(quoted)["df"]
    fnhe = st.pmtu.lookup(chain.dest_addr)
    assert fnhe is not None and fnhe.pmtu == 1400 and not fnhe.mtu_locked
    # the next send no longer fits the path: no DF, fragmented here, reassembled there
    assert send_udp(chain, 1472) == 0
    chain.run(10 * MS)
    (whole,) = dest.pkts
    assert len(whole) == 1500 and chain.dest.mib.ip.ReasmOKs == 1
    ip = chain.sender.mib.ip
    assert (ip.FragOKs, ip.FragCreates) == (1, 2)
    # IP_PMTUDISC_DO obeys the learned MTU
    assert send_udp(chain, 1472, df=True) == -errno.EMSGSIZE
    assert send_udp(chain, 1372, df=True) == 0
    # frag-needed is never rate limited (icmpv4_mask_allow)
    for _ in range(20):
        ip_send_skb(chain.sender, udp_datagram(1, 2, bytes(1472), chain.sender_addr,
                                               chain.dest_addr),
                    chain.sender_addr, chain.dest_addr, 17, df=False)
    chain.run(10 * MS)
    assert r1.mib.icmp.OutRateLimitHost == 0


def test_pmtu_expires() -> None:
    chain = build_chain(2, mtus={1: 1400})
    Raw(chain.sender, 17)
    send_udp(chain, 1472)
    chain.run(10 * MS)
    st = ip_state(chain.sender)
    assert st.pmtu.get(chain.dest_addr, 1500) == 1400
    chain.run(601 * SEC)  # net.ipv4.route.mtu_expires = 600 s
    assert st.pmtu.get(chain.dest_addr, 1500) == 1500


def test_router_fragments_what_may_be_fragmented() -> None:
    chain = build_chain(2, mtus={1: 1000})
    dest = Raw(chain.dest, 17)
    assert send_udp(chain, 1472, df=False) == 0
    chain.run(10 * MS)
    (whole,) = dest.pkts
    assert len(whole) == 1500
    r1 = chain.routers[0]
    assert (r1.mib.ip.FragOKs, r1.mib.ip.FragCreates, r1.mib.ip.OutTransmits) == (1, 2, 2)
    assert r1.mib.ip.ForwDatagrams == 1


def test_timestamp_cleared_and_hook_order() -> None:
    chain = build_chain(1)
    Raw(chain.dest, 17)  # no protocol unreachable coming back
    r1 = chain.routers[0]
    seen: list[tuple[str, int, int]] = []

    def mk(name: str, hooknum: int) -> NfHookOps:
        def fn(_priv: Any, skb: SkBuff, state: Any) -> int:
            seen.append((name, skb.tstamp, skb.data[8]))
            return NF_ACCEPT
        return NfHookOps(fn, hooknum)

    for name, hooknum in (("pre", NF_INET_PRE_ROUTING), ("fwd", NF_INET_FORWARD),
                          ("post", NF_INET_POST_ROUTING)):
        nf_register_net_hook(r1, mk(name, hooknum))
    send_udp(chain, 10, tos=0x10)
    chain.run(10 * MS)
    assert [s[0] for s in seen] == ["pre", "fwd", "post"]
    assert seen[0][1] > 0 and seen[2][1] == 0  # skb_clear_tstamp in ip_forward_finish
    assert (seen[0][2], seen[1][2]) == (64, 63)  # FORWARD sees the TTL decremented


def test_priority_from_tos() -> None:
    chain = build_chain(1)
    Raw(chain.dest, 17)
    r1 = chain.routers[0]
    prio: list[int] = []
    nf_register_net_hook(r1, NfHookOps(lambda _p, skb, _s: prio.append(skb.priority) or
                                       NF_ACCEPT, NF_INET_POST_ROUTING))
    send_udp(chain, 10, tos=0x10)  # IPTOS_LOWDELAY -> TC_PRIO_INTERACTIVE
    send_udp(chain, 10, tos=0x08)  # IPTOS_THROUGHPUT -> TC_PRIO_BULK
    chain.run(10 * MS)
    assert prio == [6, 2]


def test_redirect_when_leaving_by_the_incoming_interface() -> None:
    lan = make_lan(forwarding=True)
    host = lan.host
    add_route(host, "10.9.0.0/16", via="10.0.0.1")
    neigh_add(host.arp_tbl.tbl, ip_int("10.0.0.5"), lan.nic, lladdr=PEER_MAC)  # type: ignore[attr-defined]
    for _ in range(3):
        lan.inject(lan.frame("10.0.0.5", "10.9.0.1", 17, b"r"))
    out = lan.take_ip()
    redirects = [p for p in out if p.get("icmp_type") == 5]
    forwarded = [p for p in out if p["proto"] == 17]
    assert len(forwarded) == 3 and forwarded[0]["ttl"] == 63
    assert len(redirects) == 1  # then backoff: ip_rt_redirect_load << n_redirects
    r = redirects[0]
    assert r["icmp_code"] == 1 and r["icmp_rest"] == ip_int("10.0.0.1")  # host, gateway
    assert r["dst"] == ip_int("10.0.0.5")
    lan.run(SEC)
    lan.inject(lan.frame("10.0.0.5", "10.9.0.1", 17, b"r"))
    assert len([p for p in lan.take_ip() if p.get("icmp_type") == 5]) == 1


def test_other_host_frames_are_not_forwarded() -> None:
    lan = make_lan(forwarding=True)
    frame = (b"\x02\x99\x99\x99\x99\x99" + PEER_MAC + b"\x08\x00"
             + ipv4("10.0.0.1", "10.9.9.9", 17, b"o"))
    lan.inject(frame)
    assert lan.take() == [] and lan.host.mib.ip.ForwDatagrams == 0
    assert lan.host.drop_counts[R.OTHERHOST] == 1


@given(st.binary(min_size=20, max_size=20), st.integers(2, 255))
def test_ip_decrease_ttl_keeps_the_checksum_right(hdr: bytes, ttl: int) -> None:
    h = bytearray(hdr)
    h[0] = 0x45
    h[8] = ttl
    h[10:12] = b"\0\0"
    h[10:12] = internet_checksum(h).to_bytes(2, "big")
    assert ip_decrease_ttl(h) == ttl - 1
    assert h[8] == ttl - 1 and internet_checksum(h) == 0
