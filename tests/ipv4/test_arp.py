"""ARP (net/ipv4/arp.c, RFC 826): replies byte for byte against scapy, the learning
rules of arp_process, arp_ignore/arp_announce/arp_accept/arp_filter, gratuitous ARP,
malformed input, /proc/net/arp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _neighutil import MS, SEC, arp_packet, make_net, reply, request, rx, send
from conftest import REFERENCE, need

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.arp import arp_seq_show, arp_tbl
from tuxnet.ipv4.neigh_defs import NUD_PERMANENT, NUD_REACHABLE, NUD_STALE
from tuxnet.ipv4.neigh_rtnl import neigh_add
from tuxnet.tools.procfs import read_proc
from tuxnet.wire import ARPOP_REPLY, ARPOP_REQUEST, ip_int, mac_bytes

PEER = "02:aa:bb:cc:dd:01"
MAC0 = "02:00:00:00:00:01"


def _scapy() -> tuple[Any, Any]:
    try:
        from scapy.layers.l2 import ARP, Ether
    except ImportError:  # pragma: no cover
        need(False, "scapy not installed (pip install -e '.[test]')")
        raise
    return ARP, Ether


def test_reply_to_request_is_byte_exact() -> None:
    ARP, Ether = _scapy()
    net = make_net()
    req = Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER) / ARP(
        op=1, hwsrc=PEER, psrc="10.0.0.2", hwdst="00:00:00:00:00:00", pdst="10.0.0.1")
    assert rx(net, bytes(req)[14:], broadcast=True) == 0
    [f] = net.sent
    want = Ether(dst=PEER, src=MAC0) / ARP(op=2, hwsrc=MAC0, psrc="10.0.0.1", hwdst=PEER,
                                           pdst="10.0.0.2")
    assert f.data == bytes(want) and len(f.data) == 42
    n = net.entry("10.0.0.2")  # the asker is learned (neigh_event_ns: STALE)
    assert n is not None and n.nud_state == NUD_STALE and n.ha == mac_bytes(PEER)
    assert net.host.drop_counts == {}


def test_request_solicit_and_probe_frames_are_byte_exact() -> None:
    ARP, Ether = _scapy()
    net = make_net()
    send(net, "10.0.0.2")
    want = Ether(dst="ff:ff:ff:ff:ff:ff", src=MAC0) / ARP(
        op=1, hwsrc=MAC0, psrc="10.0.0.1", hwdst="00:00:00:00:00:00", pdst="10.0.0.2")
    assert net.sent[0].data == bytes(want)
    reply(net, PEER, "10.0.0.2", broadcast=True)  # STALE ... DELAY
    net.run_until(5 * SEC)  # PROBE: unicast request to the cached address
    probe = net.arps()[-1]
    want = Ether(dst=PEER, src=MAC0) / ARP(op=1, hwsrc=MAC0, psrc="10.0.0.1",
                                           hwdst="00:00:00:00:00:00", pdst="10.0.0.2")
    assert probe.t == 5 * SEC and probe.data == bytes(want)


def test_gratuitous_arp_frame() -> None:
    ARP, Ether = _scapy()
    net = make_net()
    dev = net.devs["eth0"]
    net.arp.arp_send_gratuitous(dev, ip_int("10.0.0.1"))
    want = Ether(dst="ff:ff:ff:ff:ff:ff", src=MAC0) / ARP(
        op=1, hwsrc=MAC0, psrc="10.0.0.1", hwdst="00:00:00:00:00:00", pdst="10.0.0.1")
    assert net.sent[0].data == bytes(want)


def test_gratuitous_arp_on_link_events_follows_arp_notify() -> None:
    net = make_net()
    dev = net.devs["eth0"]
    addrs = [ip_int("10.0.0.1"), ip_int("10.0.0.9")]
    net.arp.arp_netdev_event(dev, "UP", addrs=addrs)
    assert net.sent == []  # arp_notify 0 (default): inetdev_event stays quiet
    net.set("net.ipv4.conf.eth0.arp_notify", 1)
    net.arp.arp_netdev_event(dev, "UP", addrs=addrs)
    assert [(f.arp_spa, f.arp_tpa) for f in net.sent] == [(a, a) for a in addrs]
    net.sent.clear()
    net.set("net.ipv4.conf.eth0.arp_notify", 0)
    net.arp.arp_netdev_event(dev, "NOTIFY_PEERS", addrs=addrs[:1])
    assert len(net.sent) == 1 and net.sent[0].arp_op == ARPOP_REQUEST


def test_request_for_someone_else_is_not_learned_nor_answered() -> None:
    net = make_net()
    request(net, PEER, "10.0.0.2", "10.0.0.77")
    assert net.sent == [] and net.entry("10.0.0.2") is None
    st = net.tbl.stats_total()
    assert st["lookups"] == 1 and st["hits"] == 0


def test_request_for_someone_else_updates_an_existing_entry() -> None:
    net = make_net()
    send(net, "10.0.0.2")
    request(net, PEER, "10.0.0.2", "10.0.0.77")  # overheard: INCOMPLETE -> STALE
    n = net.entry("10.0.0.2")
    assert n is not None and n.ha == mac_bytes(PEER)
    assert len(net.ip_frames()) == 1  # the queued packet left


def test_request_for_an_address_on_another_device_is_answered() -> None:
    net = make_net()  # weak host model: 10.0.1.1 lives on eth1
    request(net, PEER, "10.0.0.2", "10.0.1.1")
    [f] = net.sent
    assert f.arp_op == ARPOP_REPLY and f.arp_spa == ip_int("10.0.1.1") and f.dev == "eth0"


def test_arp_ignore_1_only_addresses_on_the_incoming_device() -> None:
    net = make_net()
    net.set("net.ipv4.conf.eth0.arp_ignore", 1)
    request(net, PEER, "10.0.0.2", "10.0.1.1")
    assert net.sent == [] and net.entry("10.0.0.2") is None
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    assert len(net.sent) == 1


def test_arp_ignore_2_needs_the_sender_in_the_subnet() -> None:
    net = make_net()
    net.set("net.ipv4.conf.all.arp_ignore", 2)  # MAXCONF: all counts too
    request(net, PEER, "192.168.9.9", "10.0.0.1")
    assert net.sent == []
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    assert len(net.sent) == 1


def test_arp_ignore_8_never_replies() -> None:
    net = make_net()
    net.set("net.ipv4.conf.eth0.arp_ignore", 8)
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    assert net.sent == []


@pytest.mark.parametrize(("announce", "src", "want"), [
    (0, "10.0.1.1", "10.0.1.1"),   # any local address of the packet
    (0, "10.9.9.9", "10.0.0.1"),   # not local: inet_select_addr
    (1, "10.0.1.1", "10.0.0.1"),   # not in the target's subnet on eth0
    (1, "10.0.0.1", "10.0.0.1"),
    (2, "10.0.1.1", "10.0.0.1"),   # always the primary address
])
def test_arp_announce_picks_the_sender_address(announce: int, src: str, want: str) -> None:
    net = make_net()
    net.set("net.ipv4.conf.eth0.arp_announce", announce)
    send(net, "10.0.0.2", src=src)
    assert net.arps()[0].arp_spa == ip_int(want)


def test_unsolicited_reply_is_ignored_by_default() -> None:
    net = make_net()
    reply(net, PEER, "10.0.0.2")
    assert net.entry("10.0.0.2") is None


def test_gratuitous_arp_learning_follows_arp_accept() -> None:
    net = make_net()
    garp = arp_packet(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.2")
    rx(net, garp, broadcast=True)
    assert net.entry("10.0.0.2") is None
    net.set("net.ipv4.conf.eth0.arp_accept", 2)  # only senders in our subnets
    rx(net, arp_packet(1, PEER, "192.168.1.2", "00:00:00:00:00:00", "192.168.1.2"),
       broadcast=True)
    assert net.entry("192.168.1.2") is None
    rx(net, garp, broadcast=True)
    n = net.entry("10.0.0.2")
    assert n is not None and n.nud_state == NUD_STALE and n.ha == mac_bytes(PEER)
    net.set("net.ipv4.conf.eth0.arp_accept", 1)
    reply(net, "02:aa:bb:cc:dd:05", "10.0.0.5")  # an unsolicited reply, too
    n5 = net.entry("10.0.0.5")
    assert n5 is not None and n5.nud_state == NUD_REACHABLE


def test_gratuitous_arp_overrides_within_locktime() -> None:
    net = make_net()
    send(net, "10.0.0.2")
    reply(net, PEER, "10.0.0.2")
    net.run_until(100 * MS)
    reply(net, "02:aa:bb:cc:dd:99", "10.0.0.2")  # second reply inside locktime: ignored
    n = net.entry("10.0.0.2")
    assert n is not None and n.ha == mac_bytes(PEER)
    rx(net, arp_packet(1, "02:aa:bb:cc:dd:99", "10.0.0.2", "00:00:00:00:00:00", "10.0.0.2"),
       broadcast=True)  # a gratuitous ARP always overrides
    assert n.ha == mac_bytes("02:aa:bb:cc:dd:99") and n.nud_state == NUD_STALE
    net.run_until(2 * SEC)
    reply(net, PEER, "10.0.0.2")  # after locktime (1 s) a reply overrides
    assert n.ha == mac_bytes(PEER) and n.nud_state == NUD_REACHABLE


def test_address_probe_with_zero_sender_is_answered_not_learned() -> None:
    net = make_net()  # RFC 5227 2.1.1 probe for our address
    request(net, PEER, "0.0.0.0", "10.0.0.1")
    [f] = net.sent
    assert f.arp_op == ARPOP_REPLY and f.arp_tpa == 0 and f.eth_dst == mac_bytes(PEER)
    assert net.tbl.neighbours() == []


def test_drop_gratuitous_arp() -> None:
    net = make_net()
    net.set("net.ipv4.conf.eth0.arp_accept", 1)
    net.set("net.ipv4.conf.eth0.drop_gratuitous_arp", 1)
    rx(net, arp_packet(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.2"), broadcast=True)
    assert net.entry("10.0.0.2") is None
    assert net.host.drop_counts[SkbDropReason.NOT_SPECIFIED] == 1


def test_arp_filter_needs_the_route_back_through_the_device() -> None:
    net = make_net()
    net.set("net.ipv4.conf.eth0.arp_filter", 1)
    eth1 = net.devs["eth1"]
    net.arp.route_output_dev = lambda dst, src: eth1
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    assert net.sent == [] and net.host.mib.tcpext.ArpFilter == 1
    net.arp.route_output_dev = lambda dst, src: net.devs["eth0"]
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    assert len(net.sent) == 1


def test_proxy_arp_for_a_pneigh_entry() -> None:
    net = make_net()
    eth0, eth1 = net.devs["eth0"], net.devs["eth1"]
    net.set("net.ipv4.conf.eth0.forwarding", 1)
    net.arp.route_input = lambda tip, sip, dev: (1, eth1)  # RTN_UNICAST via eth1
    request(net, PEER, "10.0.0.2", "10.0.1.50")
    assert net.sent == []  # no proxy entry yet, proxy_arp off
    neigh_add(net.tbl, ip_int("10.0.1.50"), eth0, ndm_flags=0x08)
    from _neighutil import arp_packet as pkt
    rx(net, pkt(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "10.0.1.50"))  # unicast: now
    [f] = net.sent
    assert f.arp_op == ARPOP_REPLY and f.arp_spa == ip_int("10.0.1.50")
    net.sent.clear()
    request(net, PEER, "10.0.0.2", "10.0.1.50")  # broadcast: after a proxy_delay part
    assert net.sent == []
    net.run_until(800 * MS)
    assert len(net.sent) == 1


@pytest.mark.parametrize(("payload", "reason"), [
    (arp_packet(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1")[:27],
     SkbDropReason.PKT_TOO_SMALL),
    (arp_packet(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1", pln=6),
     SkbDropReason.NOT_SPECIFIED),
    (arp_packet(3, PEER, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1"),
     SkbDropReason.NOT_SPECIFIED),
    (arp_packet(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1", pro=0x86DD),
     SkbDropReason.NOT_SPECIFIED),
    (arp_packet(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1", hrd=0x18),
     SkbDropReason.NOT_SPECIFIED),
    (arp_packet(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "224.0.0.1"),
     SkbDropReason.NOT_SPECIFIED),
    (arp_packet(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "127.0.0.1"),
     SkbDropReason.NOT_SPECIFIED),
])
def test_malformed_arp_is_dropped_with_a_reason(payload: bytes, reason: SkbDropReason) -> None:
    net = make_net()
    assert rx(net, payload, broadcast=True) == 1  # NET_RX_DROP
    assert net.host.drop_counts == {reason: 1}
    assert net.sent == [] and net.tbl.neighbours() == []


def test_arp_for_other_hosts_and_noarp_devices_is_consumed() -> None:
    net = make_net()
    from tuxnet.skb import PACKET_OTHERHOST, alloc_skb

    skb = alloc_skb(64)
    skb.put_data(arp_packet(1, PEER, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1"))
    skb.pkt_type = PACKET_OTHERHOST
    assert net.arp.arp_rcv(skb, net.devs["eth0"]) == 0
    net.devs["eth0"].flags |= 0x80  # IFF_NOARP: ARP neither in nor out
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    send(net, "10.0.0.9")  # arp_constructor: NOARP entry with the device's own address
    assert net.arps() == [] and net.host.drop_counts == {}
    [f] = net.ip_frames()
    assert f.eth_dst == net.devs["eth0"].dev_addr


def test_proc_net_arp_matches_the_sample() -> None:
    net = make_net({"veth0": ["10.50.0.1/24"]})
    dev = net.devs["veth0"]
    neigh_add(net.tbl, ip_int("10.50.0.2"), dev, lladdr=mac_bytes("ea:d7:10:0c:44:68"),
              state=NUD_REACHABLE, replace=True)
    sample = Path(REFERENCE) / "samples" / "proc_net_arp.txt"
    need(sample.is_file(), f"reference sample missing: {sample}")
    assert read_proc(net.host, "/proc/net/arp") == sample.read_text()


def test_proc_net_arp_flags_and_skips() -> None:
    net = make_net()
    dev = net.devs["eth0"]
    neigh_add(net.tbl, ip_int("10.0.0.7"), dev, lladdr=mac_bytes(PEER))
    send(net, "10.0.0.9")
    send(net, "224.0.0.251")  # NOARP: not shown
    neigh_add(net.tbl, ip_int("10.0.0.60"), dev, ndm_flags=0x08)
    assert arp_seq_show(net.host).splitlines() == [
        "IP address       HW type     Flags       HW address            Mask     Device",
        "10.0.0.7         0x1         0x6         02:aa:bb:cc:dd:01     *        eth0",
        "10.0.0.9         0x1         0x0         00:00:00:00:00:00     *        eth0",
        "10.0.0.60        0x1         0xc         00:00:00:00:00:00     *        eth0",
    ]
    n = net.entry("10.0.0.7")
    assert n is not None and n.nud_state == NUD_PERMANENT


def test_arp_tbl_is_one_object_per_host() -> None:
    net = make_net()
    assert arp_tbl(net.host) is net.arp and net.host.arp_tbl is net.arp  # type: ignore[attr-defined]


def test_random_arp_payloads_never_raise() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    net = make_net()
    net.set("net.ipv4.conf.eth0.arp_accept", 1)

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=64), st.booleans())
    def check(payload: bytes, bcast: bool) -> None:
        drops = sum(net.host.drop_counts.values())
        rc = rx(net, payload, broadcast=bcast)
        assert rc in (0, 1)
        assert (sum(net.host.drop_counts.values()) == drops + 1) == (rc == 1)

    check()
