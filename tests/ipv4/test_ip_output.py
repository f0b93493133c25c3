"""IPv4 output (net/ipv4/ip_output.c): ip_send_skb's header (DF, IP ID, TTL), the Ip
MIB as Linux 6.3+ counts it (OutRequests in __ip_local_out, OutTransmits after
fragmentation), no route, EMSGSIZE, local fragmentation, ARP failure with ICMP host
unreachable, loopback and broadcast output, the netfilter hook points."""

from __future__ import annotations

import errno
from typing import Any

from _iputil import MS, PEER_MAC, SEC, eth, make_lan, parse_ip, udp

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.ipv4.fib_semantics import FibConfig
from tuxnet.ipv4.inet import InetSkbParm, inet_add_protocol, inet_add_raw_hook, ip_state
from tuxnet.ipv4.ip_output import MAX_IP_HEADROOM, ip_route_output, ip_send_skb
from tuxnet.netfilter import (
    NF_ACCEPT,
    NF_DROP,
    NF_INET_LOCAL_OUT,
    NF_INET_POST_ROUTING,
    NfHookOps,
    nf_register_net_hook,
)
from tuxnet.scenarios.routers import add_route, udp_datagram
from tuxnet.skb import SkBuff, alloc_skb
from tuxnet.wire.addr import ip_int

PROTO = 253


def payload_skb(data: bytes) -> SkBuff:
    skb = alloc_skb(MAX_IP_HEADROOM + len(data))
    skb.reserve(MAX_IP_HEADROOM)
    skb.put_data(data)
    return skb


def test_header_and_counters() -> None:
    lan = make_lan()
    host = lan.host
    rc = ip_send_skb(host, payload_skb(b"x" * 100), 0, ip_int("10.5.0.1"), PROTO, tos=0x10)
    assert rc == 0
    lan.run(MS)
    (p,) = lan.take_ip()
    assert p["eth_dst"] == PEER_MAC  # through the gateway's neighbour entry
    assert (p["src"], p["dst"], p["proto"], p["ttl"], p["tos"]) == (
        ip_int("10.0.0.2"), ip_int("10.5.0.1"), PROTO, 64, 0x10)
    # PMTUDISC_WANT: DF because it fits, and ignore_df, so the ID comes from ip_idents
    assert p["df"] and p["csum_ok"] and p["len"] == 120
    ip = host.mib.ip
    assert (ip.OutRequests, ip.OutTransmits, ip.OutDiscards) == (1, 1, 0)
    assert host.mib.ipext.OutOctets == 120


def test_sent_ipcb_is_a_zeroed_inet_skb_parm_with_the_senders_mode() -> None:
    """ip_send_skb fills IPCB inline: every field as InetSkbParm() but pmtudisc and
    ignore_df (seen at NF_INET_LOCAL_OUT)."""
    lan = make_lan()
    cbs: list[Any] = []

    def fn(_priv: Any, skb: SkBuff, _state: Any) -> int:
        cbs.append(skb.cb)
        return NF_ACCEPT

    nf_register_net_hook(lan.host, NfHookOps(fn, NF_INET_LOCAL_OUT))
    dst = ip_int("10.5.0.1")
    assert ip_send_skb(lan.host, payload_skb(b"a"), 0, dst, PROTO, df=False) == 0
    assert ip_send_skb(lan.host, payload_skb(b"b"), 0, dst, PROTO, df=True) == 0
    for cb, mode, ignore_df in zip(cbs, (0, 2), (True, False), strict=True):
        ref = InetSkbParm()
        ref.pmtudisc = mode
        ref.ignore_df = ignore_df
        assert type(cb) is InetSkbParm
        for name in InetSkbParm.__slots__:
            assert getattr(cb, name) == getattr(ref, name), name


def test_ident_ttl_and_no_df() -> None:
    lan = make_lan()
    host = lan.host
    dst = ip_int("10.5.0.1")
    for _ in range(3):
        ip_send_skb(host, payload_skb(b"a"), 0, dst, PROTO, df=False, ttl=9)
    ip_send_skb(host, payload_skb(b"a"), 0, dst, PROTO, ident=0xBEEF)
    ip_send_skb(host, payload_skb(b"a"), 0, dst, PROTO)
    ip_send_skb(host, payload_skb(b"a"), 0, dst, PROTO, df=True)
    lan.run(MS)
    p = lan.take_ip()
    ids = [x["id"] for x in p]
    assert ids[1] == (ids[0] + 1) & 0xFFFF and ids[2] == (ids[0] + 2) & 0xFFFF  # ip_idents
    assert all(not x["df"] and x["ttl"] == 9 for x in p[:3])
    assert p[3]["id"] == 0xBEEF and p[3]["df"]
    assert p[4]["df"] and ids[4] == (ids[0] + 3) & 0xFFFF  # WANT: DF, still ip_idents
    assert p[5]["df"] and ids[5] == 0  # PMTUDISC_DO: DF and not ignore_df -> ID 0
    host.sysctl.set("net.ipv4.ip_no_pmtu_disc", 1)  # sockets default to PMTUDISC_DONT
    ip_send_skb(host, payload_skb(b"a"), 0, dst, PROTO)
    lan.run(MS)
    assert not lan.take_ip()[0]["df"]


def test_no_route() -> None:
    lan = make_lan()
    st = ip_state(lan.host)
    st.inet.route_del(FibConfig(dst=0, plen=0))
    rc = ip_send_skb(lan.host, payload_skb(b"x"), 0, ip_int("10.5.0.1"), PROTO)
    assert rc == -errno.ENETUNREACH
    assert lan.host.mib.ip.OutNoRoutes == 1 and lan.host.mib.ip.OutRequests == 0
    assert lan.host.drop_counts == {R.IP_OUTNOROUTES: 1}


def test_pmtudisc_do_refuses_what_does_not_fit() -> None:
    lan = make_lan()
    rc = ip_send_skb(lan.host, payload_skb(bytes(1481)), 0, ip_int("10.5.0.1"), PROTO, df=True)
    assert rc == -errno.EMSGSIZE and lan.take() == []
    assert lan.host.drop_counts == {R.PKT_TOO_BIG: 1}


def test_local_fragmentation_and_reassembly() -> None:
    sender = make_lan(1)
    data = bytes(i & 0xFF for i in range(3000))
    dst = ip_int("10.0.0.1")
    skb = udp_datagram(1111, 2222, data, sender.addr, dst)
    assert ip_send_skb(sender.host, skb, 0, dst, 17) == 0
    sender.run(MS)
    frags = sender.take_ip()
    assert [(f["offset"], f["mf"], f["df"], len(f["payload"])) for f in frags] == [
        (0, True, False, 1480), (1480, True, False, 1480), (2960, False, False, 48)]
    assert len({f["id"] for f in frags}) == 1 and all(f["csum_ok"] for f in frags)
    ip = sender.host.mib.ip
    assert (ip.OutRequests, ip.FragOKs, ip.FragCreates, ip.OutTransmits) == (1, 1, 3, 3)
    # the other end puts it back together (fed to a host whose address is 10.0.0.1)
    rx = make_lan(2)
    got: list[bytes] = []

    def raw(skb: SkBuff) -> None:
        got.append(skb.copy_bits(0, skb.len))
        rx.host.consume_skb(skb)

    inet_add_raw_hook(rx.host, 17, raw)
    for f in frags:
        hdr = bytearray(f["raw"])
        hdr[12:20] = bytes([10, 0, 0, 1, 10, 0, 0, 2])  # readdressed: 10.0.0.1 -> rx
        hdr[10:12] = b"\0\0"
        from tuxnet.wire.checksum import internet_checksum
        hdr[10:12] = internet_checksum(hdr[:20]).to_bytes(2, "big")
        rx.inject(eth(rx.nic.dev_addr, PEER_MAC, bytes(hdr)))
    (whole,) = got
    assert whole[28:] == data and rx.host.mib.ip.ReasmOKs == 1


def test_route_mtu_metric() -> None:
    lan = make_lan()
    add_route(lan.host, "10.7.0.0/16", via="10.0.0.1", mtu=1300)
    ip_send_skb(lan.host, payload_skb(bytes(2000)), 0, ip_int("10.7.0.1"), PROTO)
    lan.run(MS)
    assert [len(f["raw"]) for f in lan.take_ip()] == [1300, 740]


def test_arp_failure_drops_the_queue_and_reports_host_unreachable() -> None:
    lan = make_lan()
    host = lan.host
    errs: list[tuple[int, int, int]] = []

    def err(skb: SkBuff, info: int) -> None:
        from tuxnet.ipv4.icmp import icmp_hdr
        h = icmp_hdr(skb)
        errs.append((h[0], h[1], info))

    inet_add_protocol(host, PROTO, lambda skb: 0, err)
    target = ip_int("10.0.0.77")  # on-link, nobody answers its ARP requests
    for _ in range(3):
        assert ip_send_skb(host, payload_skb(b"q" * 50), 0, target, PROTO) == 0
    lan.run(10 * MS)
    arps = [f for f in lan.take() if f[12:14] == b"\x08\x06"]
    assert len(arps) == 1  # the first solicitation; the packets wait in arp_queue
    lan.run(5 * SEC)
    arps = [f for f in lan.take() if f[12:14] == b"\x08\x06"]
    assert len(arps) == 2  # mcast_solicit 3 in all, retrans_time 1 s apart
    n = host.arp_tbl.tbl.lookup_noref(target, lan.nic)  # type: ignore[attr-defined]
    assert n is not None and n.nud_state == 0x20  # NUD_FAILED
    assert host.drop_counts[R.NEIGH_FAILED] == 3
    # dst_link_failure: ICMP host unreachable to ourselves, through lo
    assert errs == [(3, 1, 0)] * 3
    mib = host.mib
    assert mib.icmpmsg[0x100 | 3] == 3 and mib.icmpmsg[3] == 3
    # OutTransmits is counted before the neighbour layer: 3 on eth0 (lost), 3 ICMP on lo
    assert mib.ip.OutRequests == 6 and mib.ip.OutTransmits == 6


def test_send_to_ourselves_through_lo() -> None:
    lan = make_lan()
    got: list[bytes] = []

    def rcv(skb: SkBuff) -> int:
        got.append(bytes(skb.data))
        lan.host.consume_skb(skb)
        return 0

    inet_add_protocol(lan.host, PROTO, rcv)
    assert ip_send_skb(lan.host, payload_skb(b"self"), 0, ip_int("10.0.0.2"), PROTO) == 0
    lan.run(MS)
    assert got == [b"self"] and lan.take() == []
    ip = lan.host.mib.ip
    assert (ip.OutRequests, ip.OutTransmits, ip.InReceives, ip.InDelivers) == (1, 1, 1, 1)


def test_broadcast_goes_out_and_loops_back() -> None:
    lan = make_lan()
    got: list[bytes] = []

    def rcv(skb: SkBuff) -> int:
        got.append(bytes(skb.data))
        lan.host.consume_skb(skb)
        return 0

    inet_add_protocol(lan.host, PROTO, rcv)
    rt = ip_route_output(lan.host, ip_int("10.0.0.255"))
    assert ip_send_skb(lan.host, payload_skb(b"all"), rt.saddr, ip_int("10.0.0.255"), PROTO,
                       rt=rt) == 0
    lan.run(MS)
    (p,) = lan.take_ip()
    assert p["eth_dst"] == b"\xff" * 6 and p["dst"] == ip_int("10.0.0.255")
    assert got == [b"all"]
    ipext = lan.host.mib.ipext
    assert ipext.OutBcastPkts == 1 and ipext.InBcastPkts == 1


def test_netfilter_hook_points_on_output() -> None:
    lan = make_lan()
    calls: list[str] = []

    def mk(name: str, hooknum: int, verdict: int) -> NfHookOps:
        def fn(_priv: Any, skb: SkBuff, state: Any) -> int:
            calls.append(f"{name}:{state.in_dev}:{state.out_dev.name}")
            return verdict
        return NfHookOps(fn, hooknum)

    nf_register_net_hook(lan.host, mk("out", NF_INET_LOCAL_OUT, NF_ACCEPT))
    nf_register_net_hook(lan.host, mk("post", NF_INET_POST_ROUTING, NF_ACCEPT))
    assert ip_send_skb(lan.host, payload_skb(b"n"), 0, ip_int("10.5.0.1"), PROTO) == 0
    assert calls == ["out:None:eth0", "post:None:eth0"]
    nf_register_net_hook(lan.host, mk("drop", NF_INET_LOCAL_OUT, NF_DROP))
    rc = ip_send_skb(lan.host, payload_skb(b"n"), 0, ip_int("10.5.0.1"), PROTO)
    assert rc == -errno.EPERM and lan.host.mib.ip.OutDiscards == 1
    assert lan.host.drop_counts[R.NETFILTER_DROP] == 1


def test_udp_datagram_checksum() -> None:
    skb = udp_datagram(5, 6, b"abc", ip_int("1.2.3.4"), ip_int("5.6.7.8"))
    assert bytes(skb.data) == udp(5, 6, b"abc", "1.2.3.4", "5.6.7.8")
    assert parse_ip  # the parser is shared with the other tests
