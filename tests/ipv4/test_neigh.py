"""The NUD state machine (net/core/neighbour.c) in virtual time: every transition at
the time the sysctls and Linux's timer rules give."""

from __future__ import annotations

from _neighutil import MS, SEC, Net, make_net, reply, request, send

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.arp import neigh_stat_seq_show
from tuxnet.ipv4.neigh_defs import (
    NUD_DELAY,
    NUD_FAILED,
    NUD_INCOMPLETE,
    NUD_NOARP,
    NUD_PERMANENT,
    NUD_PROBE,
    NUD_REACHABLE,
    NUD_STALE,
)
from tuxnet.ipv4.neigh_rtnl import neigh_add
from tuxnet.wire import ARPOP_REQUEST, ip_int, mac_bytes

PEER = "02:aa:bb:cc:dd:01"
TEN_MS = 10 * MS  # HZ/100: the shortest re-arm of neigh_timer_handler


def stats(net: Net) -> dict[str, int]:
    return net.tbl.stats_total()


def test_incomplete_retries_every_retrans_time_then_failed() -> None:
    net = make_net()
    skb = send(net, "10.0.0.2")
    n = net.entry("10.0.0.2")
    assert n is not None and n.nud_state == NUD_INCOMPLETE
    net.run_until(3 * SEC - 1)
    reqs = net.arps()
    assert [f.t for f in reqs] == [0, SEC, 2 * SEC]  # mcast_solicit 3, retrans 1000 ms
    for f in reqs:
        assert f.eth_dst == b"\xff" * 6 and f.arp_op == ARPOP_REQUEST
        assert f.arp_tha == bytes(6) and f.arp_tpa == ip_int("10.0.0.2")
        assert f.arp_spa == ip_int("10.0.0.1")
    assert n.nud_state == NUD_INCOMPLETE
    net.run_until(3 * SEC)
    assert n.nud_state == NUD_FAILED
    assert net.unreachable == [skb]  # arp_error_report -> dst_link_failure
    assert net.host.drop_counts[SkbDropReason.NEIGH_FAILED] == 1
    assert net.host.drop_locations[(SkbDropReason.NEIGH_FAILED, "arp_error_report")] == 1
    assert stats(net)["res_failed"] == 1
    assert n.arp_queue_len_bytes == 0 and not n.arp_queue
    assert net.ip_frames() == []


def test_retrans_and_solicit_sysctls_change_the_timing() -> None:
    net = make_net()
    net.set("net.ipv4.neigh.eth0.retrans_time_ms", 250)
    net.set("net.ipv4.neigh.eth0.mcast_solicit", 5)
    send(net, "10.0.0.2")
    net.run_until(10 * SEC)
    assert [f.t for f in net.arps()] == [0, 250 * MS, 500 * MS, 750 * MS, 1000 * MS]
    n = net.entry("10.0.0.2")
    assert n is not None and n.nud_state == NUD_FAILED
    assert n.updated == 1250 * MS  # neigh_invalidate stamps the failure


def test_failed_entry_resolves_again_on_next_packet() -> None:
    net = make_net()
    send(net, "10.0.0.2")
    net.run_until(5 * SEC)
    send(net, "10.0.0.2")
    n = net.entry("10.0.0.2")
    assert n is not None and n.nud_state == NUD_INCOMPLETE
    assert net.arps()[-1].t == 5 * SEC and len(net.arps()) == 4


def test_no_mcast_solicit_fails_at_once() -> None:
    net = make_net()
    net.set("net.ipv4.neigh.eth0.mcast_solicit", 0)
    send(net, "10.0.0.2")
    n = net.entry("10.0.0.2")
    assert n is not None and n.nud_state == NUD_FAILED
    assert net.host.drop_counts[SkbDropReason.NEIGH_FAILED] == 1
    assert net.sent == []


def test_app_solicit_probe_comes_first_without_a_frame() -> None:
    net = make_net()
    net.set("net.ipv4.neigh.eth0.app_solicit", 1)
    send(net, "10.0.0.2")
    net.run_until(10 * SEC)
    assert [f.t for f in net.arps()] == [SEC, 2 * SEC, 3 * SEC]
    assert net.arp.app_probes == 1
    n = net.entry("10.0.0.2")
    assert n is not None and n.nud_state == NUD_FAILED and n.updated == 4 * SEC


def test_unres_qlen_bytes_drops_the_oldest() -> None:
    net = make_net()
    first = send(net, "10.0.0.2")
    truesize = first.truesize
    net.set("net.ipv4.neigh.eth0.unres_qlen_bytes", 2 * truesize)
    skbs = [first] + [send(net, "10.0.0.2") for _ in range(4)]
    n = net.entry("10.0.0.2")
    assert n is not None
    assert list(n.arp_queue) == skbs[-2:]
    assert n.arp_queue_len_bytes == 2 * truesize
    assert net.host.drop_counts[SkbDropReason.NEIGH_QUEUEFULL] == 3
    assert stats(net)["unres_discards"] == 3
    assert len(net.arps()) == 1  # later packets do not probe again
    reply(net, PEER, "10.0.0.2")
    out = net.ip_frames()
    assert len(out) == 2
    assert all(f.eth_dst == mac_bytes(PEER) for f in out)
    assert all(f.data[6:12] == net.devs["eth0"].dev_addr for f in out)


def test_unres_qlen_view_sets_bytes() -> None:
    net = make_net()
    assert net.host.sysctl.get_int("net.ipv4.neigh.eth0.unres_qlen") == 101
    net.set("net.ipv4.neigh.eth0.unres_qlen", 1)
    send(net, "10.0.0.2", payload=1400)
    send(net, "10.0.0.2", payload=1400)
    assert net.host.drop_counts[SkbDropReason.NEIGH_QUEUEFULL] == 1


def test_reply_makes_reachable_and_flushes_the_queue() -> None:
    net = make_net()
    send(net, "10.0.0.2")
    net.run_until(200 * MS)
    reply(net, PEER, "10.0.0.2")
    n = net.entry("10.0.0.2")
    assert n is not None and n.nud_state == NUD_REACHABLE
    assert n.ha == mac_bytes(PEER) and n.confirmed == 200 * MS and n.updated == 200 * MS
    assert n.probes == 4  # ucast_solicit + the one broadcast (not reset on success)
    [f] = net.ip_frames()
    assert f.t == 200 * MS and f.data[:14] == mac_bytes(PEER) + bytes.fromhex(
        "020000000001") + b"\x08\x00"


def test_reachable_time_is_random_in_half_to_three_halves_base() -> None:
    times = set()
    for seed in range(8):
        net = make_net(seed=seed)
        rt = net.tbl.parms_for(net.devs["eth0"]).reachable_time
        assert 15 * SEC <= rt < 45 * SEC
        times.add(rt)
        again = make_net(seed=seed).tbl.parms_for(make_net(seed=seed).devs["eth0"])
        assert again.reachable_time == rt  # seeded
    assert len(times) > 1
    net = make_net()
    net.set("net.ipv4.neigh.eth0.base_reachable_time_ms", 2000)
    rt = net.tbl.parms_for(net.devs["eth0"]).reachable_time
    assert 1000 * MS <= rt < 3000 * MS  # neigh_proc_base_reachable_time re-randomizes


def test_reachable_goes_stale_after_reachable_time() -> None:
    net = make_net()
    send(net, "10.0.0.2")
    reply(net, PEER, "10.0.0.2")
    n = net.entry("10.0.0.2")
    assert n is not None
    rt = n.parms.reachable_time
    net.run_until(rt - 1)
    assert n.nud_state == NUD_REACHABLE
    # at confirmed + reachable_time the entry is still alive (time_before_eq) and the
    # timer is re-armed HZ/100 later, when it goes STALE
    net.run_until(rt + TEN_MS - 1)
    assert n.nud_state == NUD_REACHABLE
    net.run_until(rt + TEN_MS)
    assert n.nud_state == NUD_STALE and n.updated == rt + TEN_MS
    assert n.timer is None and n.refcnt == 1


def test_reachable_goes_delay_when_used_recently() -> None:
    net = make_net()
    neigh_add(net.tbl, ip_int("10.0.0.2"), net.devs["eth0"], lladdr=mac_bytes(PEER),
              state=NUD_REACHABLE, replace=True)
    n = net.entry("10.0.0.2")
    assert n is not None and n.nud_state == NUD_REACHABLE
    rt = n.parms.reachable_time
    net.run_until(rt - SEC)
    send(net, "10.0.0.2")  # first use goes through neigh_resolve_output: used = now
    assert n.used == rt - SEC
    net.run_until(rt + TEN_MS)
    assert n.nud_state == NUD_DELAY
    net.run_until(rt + TEN_MS + 5 * SEC)
    assert n.nud_state == NUD_PROBE


def test_stale_use_delay_probe_failed() -> None:
    net = make_net()
    request(net, PEER, "10.0.0.2", "10.0.0.1")  # learn the asker: STALE
    n = net.entry("10.0.0.2")
    assert n is not None and n.nud_state == NUD_STALE
    net.sent.clear()
    net.run_until(10 * SEC)
    send(net, "10.0.0.2")
    assert n.nud_state == NUD_DELAY
    [f] = net.ip_frames()
    assert f.eth_dst == mac_bytes(PEER)  # DELAY sends with the cached address
    net.run_until(15 * SEC - 1)
    assert n.nud_state == NUD_DELAY
    net.run_until(15 * SEC)  # delay_first_probe_time 5 s
    assert n.nud_state == NUD_PROBE and n.probes == 1
    net.run_until(18 * SEC - 1)
    probes = net.arps()
    assert [p.t for p in probes] == [15 * SEC, 16 * SEC, 17 * SEC]  # ucast_solicit 3
    assert all(p.eth_dst == mac_bytes(PEER) and p.arp_tha == bytes(6) for p in probes)
    assert n.nud_state == NUD_PROBE
    net.run_until(18 * SEC)
    assert n.nud_state == NUD_FAILED
    assert stats(net)["res_failed"] == 1


def test_delay_to_reachable_on_upper_layer_confirmation() -> None:
    net = make_net()
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    n = net.entry("10.0.0.2")
    assert n is not None
    net.sent.clear()
    send(net, "10.0.0.2")
    assert n.nud_state == NUD_DELAY
    net.run_until(2 * SEC)
    net.arp.ipv4_confirm_neigh(net.devs["eth0"], ip_int("10.0.0.2"))  # TCP ACK
    net.run_until(5 * SEC)
    assert n.nud_state == NUD_REACHABLE and n.updated == 5 * SEC
    assert net.arps() == []  # no probe was needed
    net.run_until(2 * SEC + n.parms.reachable_time + TEN_MS)
    assert n.nud_state == NUD_STALE


def test_confirm_flag_on_output() -> None:
    net = make_net()
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    n = net.entry("10.0.0.2")
    assert n is not None
    net.run_until(SEC)
    skb = send(net, "10.0.0.2")
    assert skb is not None and n.nud_state == NUD_DELAY
    net.run_until(3 * SEC)
    from _neighutil import ip_skb
    net.arp.ip_neigh_output(ip_skb("10.0.0.1", "10.0.0.2"), net.devs["eth0"],
                            ip_int("10.0.0.2"), confirm=True)
    assert n.confirmed == 3 * SEC
    net.run_until(6 * SEC)
    assert n.nud_state == NUD_REACHABLE


def test_probe_then_unicast_reply_reachable() -> None:
    net = make_net()
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    n = net.entry("10.0.0.2")
    assert n is not None
    send(net, "10.0.0.2")
    net.run_until(5 * SEC + 500 * MS)
    assert n.nud_state == NUD_PROBE
    reply(net, PEER, "10.0.0.2")
    assert n.nud_state == NUD_REACHABLE and n.confirmed == 5 * SEC + 500 * MS


def test_broadcast_reply_only_stale() -> None:
    net = make_net()
    send(net, "10.0.0.2")
    reply(net, PEER, "10.0.0.2", broadcast=True)
    n = net.entry("10.0.0.2")
    # STALE, not REACHABLE; the queued packet then leaves through STALE -> DELAY
    assert n is not None and n.nud_state == NUD_DELAY
    assert n.confirmed < 0 and len(net.ip_frames()) == 1


def test_permanent_never_expires() -> None:
    net = make_net()
    dev = net.devs["eth0"]
    neigh_add(net.tbl, ip_int("10.0.0.7"), dev, lladdr=mac_bytes(PEER), excl=True)
    n = net.entry("10.0.0.7")
    assert n is not None and n.nud_state == NUD_PERMANENT and n.timer is None
    net.set("net.ipv4.neigh.default.gc_thresh1", 0)
    for t in range(1, 4):
        net.run_until(t * 3600 * SEC)
        send(net, "10.0.0.7")
    assert n.nud_state == NUD_PERMANENT and net.entry("10.0.0.7") is n
    assert net.arps() == [] and len(net.ip_frames()) == 3
    reply(net, "02:66:66:66:66:66", "10.0.0.7")  # ARP cannot touch it (no ADMIN flag)
    assert n.ha == mac_bytes(PEER) and n.nud_state == NUD_PERMANENT


def test_periodic_gc_removes_stale_and_failed_above_thresh1() -> None:
    net = make_net()
    net.set("net.ipv4.neigh.default.gc_thresh1", 2)
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    request(net, "02:aa:bb:cc:dd:03", "10.0.0.3", "10.0.0.1")
    send(net, "10.0.0.4")
    neigh_add(net.tbl, ip_int("10.0.0.5"), net.devs["eth0"], lladdr=mac_bytes(PEER))
    net.run_until(59 * SEC)
    assert net.entry("10.0.0.2") is not None  # unused for less than gc_stale_time
    assert net.entry("10.0.0.4") is None  # FAILED goes at the first run after 3 s
    net.run_until(200 * SEC)
    assert net.entry("10.0.0.2") is None and net.entry("10.0.0.3") is None
    assert net.entry("10.0.0.5") is not None  # PERMANENT stays
    st = stats(net)
    assert st["periodic_gc_runs"] >= 10 and st["destroys"] == 3 and st["allocs"] == 4
    assert net.tbl.entries == 1


def test_periodic_gc_keeps_everything_below_thresh1() -> None:
    net = make_net()
    request(net, PEER, "10.0.0.2", "10.0.0.1")
    net.run_until(3600 * SEC)
    assert net.entry("10.0.0.2") is not None
    assert stats(net)["periodic_gc_runs"] > 200


def test_forced_gc_and_table_full() -> None:
    net = make_net()
    net.set("net.ipv4.neigh.default.gc_thresh2", 2)
    net.set("net.ipv4.neigh.default.gc_thresh3", 4)
    for i in range(4):
        send(net, f"10.0.0.{10 + i}")
    send(net, "10.0.0.20")  # four fresh INCOMPLETE entries: nothing to reclaim
    assert net.entry("10.0.0.20") is None
    assert net.host.drop_counts[SkbDropReason.NEIGH_CREATEFAIL] == 1
    st = stats(net)
    assert st["table_fulls"] == 1 and st["forced_gc_runs"] >= 1
    net.run_until(10 * SEC)  # all FAILED now: forced gc can reclaim them
    send(net, "10.0.0.21")
    assert net.entry("10.0.0.21") is not None
    assert stats(net)["table_fulls"] == 1


def test_hash_grows_past_eight_entries() -> None:
    net = make_net()
    for i in range(9):
        send(net, f"10.0.0.{10 + i}")
    assert stats(net)["hash_grows"] == 1 and net.tbl.entries == 9


def test_ifdown_flushes_and_carrier_down_keeps_permanent() -> None:
    net = make_net()
    dev = net.devs["eth0"]
    neigh_add(net.tbl, ip_int("10.0.0.7"), dev, lladdr=mac_bytes(PEER))
    skb = send(net, "10.0.0.2")
    net.arp.arp_netdev_event(dev, "CHANGE", carrier_ok=False)
    assert net.entry("10.0.0.2") is None and net.entry("10.0.0.7") is not None
    assert net.host.drop_counts[SkbDropReason.NEIGH_DEAD] == 1
    assert skb.users == 0
    net.arp.arp_netdev_event(dev, "DOWN")
    assert net.tbl.neighbours() == []
    net.run_until(10 * SEC)  # the cancelled timers do not fire on dead entries
    assert net.arps()[-1].t == 0


def test_loopback_entries_are_noarp_with_key_zero() -> None:
    net = make_net()
    from _neighutil import FakeDev

    lo = FakeDev("lo", bytes(6), flags=0x1 | 0x8)
    net.host.register_netdev(lo)
    from _neighutil import ip_skb
    net.arp.ip_neigh_output(ip_skb("127.0.0.1", "127.0.0.1"), lo, ip_int("127.0.0.1"))
    n = net.tbl.lookup_noref(0, lo)
    assert n is not None and n.nud_state == NUD_NOARP and n.primary_key == 0
    assert net.arps() == [] and len(net.ip_frames()) == 1


def test_multicast_and_broadcast_are_noarp() -> None:
    net = make_net()
    send(net, "224.0.0.251")
    n = net.entry("224.0.0.251")
    assert n is not None and n.nud_state == NUD_NOARP
    assert n.ha == bytes.fromhex("01005e0000fb")  # ip_eth_mc_map
    send(net, "255.255.255.255")
    b = net.entry("255.255.255.255")
    assert b is not None and b.nud_state == NUD_NOARP and b.ha == b"\xff" * 6
    assert net.arps() == []


def test_stat_file_format() -> None:
    net = make_net()
    send(net, "10.0.0.2")
    net.run_until(4 * SEC)
    text = neigh_stat_seq_show(net.host)
    header, row = text.splitlines()
    assert header == ("entries  allocs   destroys hash_grows lookups  hits     res_failed "
                      "rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs "
                      "unresolved_discards table_fulls")
    assert row == ("00000001 00000001 00000000 00000000   00000000 00000000 00000001   "
                   "00000000         00000000         00000000         00000000       "
                   "00000000            00000000")


def test_tracepoints_fire() -> None:
    net = make_net()
    seen: list[str] = []
    for name in ("neigh:neigh_create", "neigh:neigh_update", "neigh:neigh_timer_handler"):
        net.host.tracepoints.subscribe(name, lambda ev, name=name: seen.append(name))
    send(net, "10.0.0.2")
    reply(net, PEER, "10.0.0.2")
    net.run_until(50 * SEC)
    assert {"neigh:neigh_create", "neigh:neigh_update", "neigh:neigh_timer_handler"} <= set(
        seen)
