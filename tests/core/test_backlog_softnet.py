"""The per-CPU backlog (netif_rx, enqueue_to_backlog, process_backlog), the RPS hook
and /proc/net/softnet_stat."""

from __future__ import annotations

import re
from pathlib import Path

from _coreutil import Sink, frame, make_host, make_nic

from tuxnet.core.dev import NET_RX_DROP, NET_RX_SUCCESS, eth_type_trans, netif_rx
from tuxnet.core.netdevice import NetDevice
from tuxnet.core.softnet import format_softnet_stat
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import NET_SKB_PAD, SkBuff, build_skb
from tuxnet.tools.procfs import read_proc

_LINE = re.compile(r"^(?:[0-9a-f]{8} ){14}[0-9a-f]{8}$")


def _skb(dev: NetDevice, sport: int = 1) -> SkBuff:
    fr = frame(dev.dev_addr, sport=sport)
    skb = build_skb(bytearray(NET_SKB_PAD + len(fr)))
    skb.reserve(NET_SKB_PAD)
    skb.put_data(fr)
    skb.protocol = eth_type_trans(skb, dev)
    return skb


def test_backlog_overflow_drops_with_cpu_backlog() -> None:
    loop, host, core = make_host()
    host.sysctl.set("net.core.netdev_max_backlog", 10)
    nic = make_nic(host)
    sink = Sink(host)
    core.cpus[0].charge(1_000_000)  # the CPU is busy: nothing is drained meanwhile
    rcs = [netif_rx(_skb(nic, i)) for i in range(20)]
    # enqueue_to_backlog checks qlen <= netdev_max_backlog before queueing: 11 fit
    assert rcs.count(NET_RX_SUCCESS) == 11 and rcs.count(NET_RX_DROP) == 9
    sd = core.cpus[0].sd
    assert sd.dropped == 9 and len(sd.input_pkt_queue) == 11
    assert nic.core_stats.rx_dropped == 9
    assert host.drop_counts[SkbDropReason.CPU_BACKLOG] == 9
    loop.run()
    assert len(sink) == 11 and sd.processed == 11
    assert sd.backlog_len() == 0


def test_backlog_napi_weight_follows_dev_weight() -> None:
    loop, host, core = make_host()
    nic = make_nic(host)
    Sink(host)
    events: list[int] = []
    host.tracepoints.subscribe("napi:napi_poll", lambda ev: events.append(ev.fields["budget"]))
    host.sysctl.set("net.core.dev_weight", 16)
    core.cpus[0].charge(1_000)
    for i in range(40):
        netif_rx(_skb(nic, i))
    loop.run()
    assert core.dev_rx_weight == 16
    assert set(events) == {16}


def test_rps_hook_steers_to_another_cpu() -> None:
    loop, host, core = make_host(ncpus=2)
    nic = make_nic(host)
    sink = Sink(host)
    core.get_rps_cpu = lambda dev, skb: 1
    for i in range(5):
        loop.call_at(i * 50_000, nic.receive_frame, frame(nic.dev_addr, sport=i))
    loop.run()
    assert len(sink) == 5
    assert {g["cpu"] for g in sink.got} == {1}
    assert core.cpus[1].sd.processed == 5 and core.cpus[0].sd.processed == 0
    assert core.cpus[1].sd.received_rps == 5  # each backlog run woken by an "IPI"
    # -1 means no steering
    core.get_rps_cpu = lambda dev, skb: -1
    loop.call_at(loop.now_ns() + 1000, nic.receive_frame, frame(nic.dev_addr))
    loop.run()
    assert core.cpus[0].sd.processed == 1


def test_softnet_stat_format(reference_dir: Path) -> None:
    loop, host, core = make_host(ncpus=2)
    host.sysctl.set("net.core.netdev_max_backlog", 2)
    nic = make_nic(host)
    Sink(host)
    core.cpus[0].charge(1_000_000)
    for i in range(5):
        netif_rx(_skb(nic, i), 0)
    core.cpus[1].sd.time_squeeze = 0x1F
    text = format_softnet_stat(host)
    lines = text.splitlines()
    assert len(lines) == 2 and text.endswith("\n")
    assert all(_LINE.match(line) for line in lines)
    c0 = lines[0].split()
    c1 = lines[1].split()
    assert c0[1] == "00000002"  # dropped
    assert c0[11] == c0[13] == "00000003" and c0[14] == "00000000"  # backlog, input, process
    assert (c0[12], c1[12]) == ("00000000", "00000001")  # cpu index
    assert c1[2] == "0000001f"  # time_squeeze
    loop.run()
    assert read_proc(host, "/proc/net/softnet_stat").splitlines()[0].split()[0] == "00000003"
    sample = (reference_dir / "samples" / "proc_net_softnet_stat.txt").read_text().splitlines()
    assert all(_LINE.match(line) for line in sample)
    assert [len(s.split()) for s in sample] == [len(x.split()) for x in lines]
    assert [s.split()[12] for s in sample] == [x.split()[12] for x in lines]
