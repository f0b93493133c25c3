"""eth_type_trans, __netif_receive_skb_core delivery (handlers, taps, no handler),
RSS queue selection and the receive tracepoints."""

from __future__ import annotations

from typing import Any

from _coreutil import ETH_P_IP, SRC_MAC, Sink, frame, make_host, make_nic

from tuxnet.core.dev import ETH_P_802_2, ETH_P_802_3, dev_get_stats, eth_type_trans
from tuxnet.core.netcore import add_packet_tap, dev_remove_pack, register_protocol_handler
from tuxnet.core.netdevice import NetDevice
from tuxnet.core.rss import rss_input_ipv4, toeplitz_hash
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import (
    PACKET_BROADCAST,
    PACKET_HOST,
    PACKET_MULTICAST,
    PACKET_OTHERHOST,
    SkBuff,
    alloc_skb,
)
from tuxnet.wire.addr import ip_bytes


def _skb(data: bytes) -> SkBuff:
    skb = alloc_skb(64 + len(data))
    skb.reserve(64)
    skb.put_data(data)
    return skb


def test_eth_type_trans_pkt_type_and_protocol() -> None:
    _, host, _ = make_host()
    nic = make_nic(host, up=False)
    me = nic.dev_addr
    cases = [(me, PACKET_HOST), (b"\xff" * 6, PACKET_BROADCAST),
             (b"\x01\x00\x5e\x00\x00\x01", PACKET_MULTICAST),
             (b"\x02\x99\x99\x99\x99\x99", PACKET_OTHERHOST)]
    for dst, want in cases:
        skb = _skb(frame(dst))
        start = skb.data_off
        assert eth_type_trans(skb, nic) == ETH_P_IP
        assert skb.pkt_type == want
        assert skb.dev is nic
        assert skb.mac_header == start and skb.data_off == start + 14
        assert skb.len == 46
    # 802.3 frames: a length, not an ethertype
    raw = _skb(me + SRC_MAC + b"\x00\x2e" + b"\xff\xff" + bytes(44))
    assert eth_type_trans(raw, nic) == ETH_P_802_3
    llc = _skb(me + SRC_MAC + b"\x00\x2e" + b"\xaa\xaa\x03" + bytes(43))
    assert eth_type_trans(llc, nic) == ETH_P_802_2


def test_handler_gets_the_frame_past_the_ethernet_header() -> None:
    loop, host, _ = make_host()
    nic = make_nic(host)
    sink = Sink(host)
    fr = frame(nic.dev_addr, sport=4242)
    nic.receive_frame(fr)
    loop.run()
    (got,) = sink.got
    assert got["data"] == fr[14:]
    assert got["proto"] == ETH_P_IP and got["pkt_type"] == PACKET_HOST
    assert got["dev"] == "eth0" and got["queue"] == 1  # rx queue 0 recorded (+1)


def test_no_handler_counts_rx_dropped_and_unhandled_proto() -> None:
    loop, host, core = make_host()
    nic = make_nic(host)
    nic.receive_frame(nic.dev_addr + SRC_MAC + b"\x88\xcc" + bytes(46))  # LLDP
    loop.run()
    # Linux counts rx_dropped here (rx_nohandler only for exact-match delivery)
    assert dev_get_stats(nic).rx_dropped == 1
    assert nic.core_stats.rx_nohandler == 0
    assert host.drop_counts[SkbDropReason.UNHANDLED_PROTO] == 1
    assert core.cpus[0].sd.processed == 1


def test_taps_see_every_frame_and_handlers_can_be_removed() -> None:
    loop, host, _ = make_host()
    nic = make_nic(host)
    seen: list[tuple[int, int]] = []

    def tap(skb: SkBuff, dev: NetDevice) -> None:
        seen.append((skb.protocol, skb.users))
        host.consume_skb(skb)

    add_packet_tap(host, tap)
    sink = Sink(host)
    second: list[int] = []

    def other(skb: SkBuff, dev: NetDevice) -> None:
        second.append(skb.len)
        host.consume_skb(skb)

    pt = register_protocol_handler(host, ETH_P_IP, other, dev=nic)
    nic.receive_frame(frame(nic.dev_addr))
    nic.receive_frame(nic.dev_addr + SRC_MAC + b"\x88\xcc" + bytes(46))
    loop.run()
    assert seen == [(ETH_P_IP, 2), (0x88CC, 2)]
    assert len(sink) == 1 and second == [46]
    dev_remove_pack(host, pt)
    nic.receive_frame(frame(nic.dev_addr))
    loop.run()
    assert len(sink) == 2 and second == [46]


def test_rss_spreads_flows_over_queues_with_the_toeplitz_hash() -> None:
    loop, host, _core = make_host(ncpus=4)
    nic = make_nic(host, num_queues=4)
    sink = Sink(host)
    for sport in range(1000, 1064):
        nic.receive_frame(frame(nic.dev_addr, sport=sport))
    loop.run()
    assert len(sink) == 64
    for got in sink.got:
        sport = int.from_bytes(got["data"][20:22], "big")
        want = toeplitz_hash(nic.rss_key, rss_input_ipv4(ip_bytes("10.0.0.1"),
                                                          ip_bytes("10.0.0.2"), sport, 53))
        assert got["hash"] == want
        q = nic.rss_indir[want % 128]
        assert got["queue"] == q + 1
        assert got["cpu"] == q  # queue i's interrupt on CPU i
    per_queue = [q.rx_packets for q in nic.rx_queues[:4]]
    assert sum(per_queue) == 64 and min(per_queue) > 0
    assert nic.rss_indir == [i % 4 for i in range(128)]


def test_irq_affinity_moves_the_receive_work() -> None:
    loop, host, core = make_host(ncpus=2)
    nic = make_nic(host)
    nic.set_irq_affinity(0, 1)
    sink = Sink(host)
    nic.receive_frame(frame(nic.dev_addr))
    loop.run()
    assert sink.got[0]["cpu"] == 1
    assert core.cpus[1].sd.processed == 1


def test_receive_tracepoints() -> None:
    loop, host, _ = make_host()
    nic = make_nic(host)
    Sink(host)
    events: list[tuple[str, dict[str, Any]]] = []
    for name in ("net:netif_receive_skb", "napi:napi_poll", "irq:irq_handler_entry",
                 "irq:softirq_entry"):
        host.tracepoints.subscribe(name, lambda ev: events.append((ev.name, ev.fields)))
    nic.receive_frame(frame(nic.dev_addr))
    loop.run()
    names = [n for n, _ in events]
    assert names[0] == "irq:irq_handler_entry"
    assert "irq:softirq_entry" in names
    rx = [f for n, f in events if n == "net:netif_receive_skb"]
    assert rx == [{"name": "eth0", "skbaddr": rx[0]["skbaddr"], "len": 46}]
    polls = [f for n, f in events if n == "napi:napi_poll"]
    assert polls[0]["dev_name"] == "eth0" and polls[0]["budget"] == 64
    assert polls[0]["work"] == 1


def test_gro_merges_an_in_order_tcp_burst() -> None:
    from tuxnet.wire.build import tcp_frame

    loop, host, core = make_host()
    nic = make_nic(host, gro=True)
    assert all(q.napi is None or q.napi.gro is not None for q in nic.rx_queues[:1])
    got: list[tuple[int, int]] = []

    def tcp_rcv(skb: SkBuff, dev: NetDevice) -> None:
        got.append((skb.len, skb.gso_segs))
        host.consume_skb(skb)

    register_protocol_handler(host, ETH_P_IP, tcp_rcv)
    core.cpus[0].charge(100_000)  # the burst waits in the ring, then one poll takes it
    for i in range(8):
        nic.receive_frame(bytes(tcp_frame(SRC_MAC, nic.dev_addr, "10.0.0.1", "10.0.0.2",
                                          40000, 80, seq=i * 1000, ack_seq=1,
                                          payload=bytes(1000), ident=i)))
    loop.run()
    assert got == [(20 + 20 + 8000, 8)]
    nic.set_features({"gro": False})
    assert nic.rx_queues[0].napi is not None and nic.rx_queues[0].napi.gro is None
