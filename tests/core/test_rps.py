"""RPS: rps_cpus masks and maps, get_rps_cpu's choice, the IPI and received_rps, the
software flow hash, and the backlog flow limit."""

from __future__ import annotations

import errno
import random
from dataclasses import replace

import pytest
from _coreutil import Sink, frame, make_host, make_nic

from tuxnet.core.costs import DEFAULT_COSTS
from tuxnet.core.cpu import CLS_HARDIRQ
from tuxnet.core.dev import (
    NET_RX_DROP,
    NET_RX_SUCCESS,
    enqueue_to_backlog,
    eth_type_trans,
    netif_rx,
)
from tuxnet.core.netcore import NetCore
from tuxnet.core.netdevice import NetDevice
from tuxnet.core.rps import (
    FLOW_LIMIT_HISTORY,
    bitmap_parse,
    cpumask_format,
    get_rps,
    reciprocal_scale,
    skb_get_hash,
    sysfs_read,
    sysfs_write,
)
from tuxnet.core.rss import rss_input_ipv4, toeplitz_hash
from tuxnet.core.softnet import softnet_seq_show
from tuxnet.drivers.simnic import SimNic
from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.skb import NET_SKB_PAD, SkBuff, build_skb


def _skb(dev: NetDevice, sport: int = 1000, *, h: int = 0) -> SkBuff:
    fr = frame(dev.dev_addr, sport=sport)
    skb = build_skb(bytearray(NET_SKB_PAD + len(fr)))
    skb.reserve(NET_SKB_PAD)
    skb.put_data(fr)
    skb.protocol = eth_type_trans(skb, dev)
    if h:
        skb.hash = h
        skb.l4_hash = True
    return skb


# ------------------------------------------------------------------- masks and maps

def test_cpumask_text() -> None:
    assert bitmap_parse("f\n", 4) == 0xF
    assert bitmap_parse("0", 4) == 0 and bitmap_parse("", 4) == 0
    assert bitmap_parse("1,00000003", 40) == (1 << 32) | 3
    for bad in ("xyz", "0x3", "1,", "123456789"):
        with pytest.raises(OSError) as ei:
            bitmap_parse(bad, 64)
        assert ei.value.errno == errno.EINVAL
    with pytest.raises(OSError) as ei:
        bitmap_parse("10", 4)  # CPU 4 of a 4-CPU host
    assert ei.value.errno == errno.EOVERFLOW
    # "%*pb" over nr_cpu_ids bits
    assert cpumask_format(0, 4) == "0"
    assert cpumask_format(0xF, 4) == "f"
    assert cpumask_format(3, 8) == "03"
    assert cpumask_format((1 << 32) | 3, 40) == "01,00000003"
    assert cpumask_format(0, 64) == "00000000,00000000"


def test_rps_cpus_sets_the_map_and_the_hook() -> None:
    _loop, host, core = make_host(ncpus=4)
    nic = make_nic(host, num_queues=2)
    q0 = nic.rx_queues[0]
    assert q0.rps_cpus == "0" and q0.rps_map is None
    assert core.get_rps_cpu is None  # rps_needed off: no hashing on the hot path
    q0.rps_cpus = "a"
    assert q0.rps_map == [1, 3] and q0.rps_cpus == "a"
    assert core.get_rps_cpu is not None
    nic.rx_queues[1].rps_cpus = "f"
    q0.rps_cpus = "0"
    assert q0.rps_map is None and core.get_rps_cpu is not None
    nic.rx_queues[1].rps_cpus = "0"
    assert core.get_rps_cpu is None and get_rps(host).rps_needed == 0
    with pytest.raises(OSError) as ei:
        q0.rps_cpus = "1f"
    assert ei.value.errno == errno.EOVERFLOW and q0.rps_map is None
    # the sysfs paths
    sysfs_write(host, "/sys/class/net/eth0/queues/rx-1/rps_cpus", "6")
    assert sysfs_read(host, "/sys/class/net/eth0/queues/rx-1/rps_cpus") == "6\n"
    assert nic.rx_queues[1].rps_map == [1, 2]
    sysfs_write(host, "/sys/class/net/eth0/queues/rx-0/rps_flow_cnt", 100)
    assert sysfs_read(host, "/sys/class/net/eth0/queues/rx-0/rps_flow_cnt") == "128\n"
    for path in ("/sys/class/net/eth0/queues/rx-2/rps_cpus",  # only 2 queues are real
                 "/sys/class/net/eth9/queues/rx-0/rps_cpus",
                 "/sys/class/net/eth0/queues/rx-0/xps_cpus"):
        with pytest.raises(FileNotFoundError):
            sysfs_read(host, path)


def test_rps_default_mask_applies_to_new_devices() -> None:
    _loop, host, core = make_host(ncpus=4)
    host.sysctl.set("net.core.rps_default_mask", "c")
    nic = make_nic(host, num_queues=2)
    assert [q.rps_map for q in nic.rx_queues[:2]] == [[2, 3], [2, 3]]
    assert core.get_rps_cpu is not None


# ------------------------------------------------------------------------ steering

def test_get_rps_cpu_reciprocal_scale_over_the_map() -> None:
    _loop, host, _core = make_host(ncpus=4)
    nic = make_nic(host)
    rps = get_rps(host)
    nic.rx_queues[0].rps_cpus = "e"  # CPUs 1, 2, 3
    cases = {1: 1, 0x55555554: 1, 0x55555556: 2, 0xAAAAAAAA: 2, 0xAAAAAAAB: 3, 0xFFFFFFFF: 3}
    for h, cpu in cases.items():
        assert reciprocal_scale(h, 3) == [1, 2, 3].index(cpu)
        assert rps.get_rps_cpu(nic, _skb(nic, h=h)) == cpu
    # a packet recorded as received on a queue without a map stays where it is
    skb = _skb(nic, h=0xFFFFFFFF)
    nic.rx_queues[0].rps_cpus = "0"
    assert rps.get_rps_cpu(nic, skb) == -1


def test_software_hash_is_the_nic_toeplitz_over_the_same_fields() -> None:
    _loop, host, _core = make_host()
    nic = make_nic(host)
    skb = _skb(nic, sport=4242)
    assert not skb.hash
    h = skb_get_hash(skb)
    key = rss_input_ipv4(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 4242, 53)
    assert h == toeplitz_hash(nic.rss_key, key)
    assert skb.sw_hash and skb.l4_hash and skb.hash == h
    # a NIC hash without L4 is recomputed in software (skb_get_hash)
    skb2 = _skb(nic, sport=4242)
    skb2.hash = 1234
    assert skb_get_hash(skb2) == h
    # a fragment hashes on the addresses only
    skb3 = _skb(nic, sport=4242)
    skb3.head[skb3.data_off + 6] |= 0x20  # MF
    assert skb_get_hash(skb3) == toeplitz_hash(nic.rss_key, key[:8]) and not skb3.l4_hash


def test_rps_steers_by_flow_with_ipis_and_received_rps() -> None:
    loop, host, core = make_host(ncpus=4)
    nic = make_nic(host)  # one queue, its IRQ on CPU 0
    sink = Sink(host)
    nic.rx_queues[0].rps_cpus = "e"
    # random ports: Toeplitz is linear, so consecutive ports vary only a few hash bits
    sports = random.Random(5).sample(range(1024, 65536), 40)
    for i, sp in enumerate(sports * 3):
        loop.call_at(i * 20_000, nic.receive_frame, frame(nic.dev_addr, sport=sp))
    loop.run()
    assert len(sink) == 120
    by_flow: dict[int, set[int]] = {}
    for g in sink.got:
        by_flow.setdefault(g["hash"], set()).add(g["cpu"])
    assert all(len(cpus) == 1 for cpus in by_flow.values())  # a flow stays on one CPU
    for h, cpus in by_flow.items():
        assert cpus == {[1, 2, 3][reciprocal_scale(h, 3)]}
    assert {g["cpu"] for g in sink.got} == {1, 2, 3}
    assert core.cpus[0].sd.processed == 0 and core.cpus[0].sd.received_rps == 0
    for cpu in core.cpus[1:]:
        # every backlog run was started by one IPI ("CAL" line), counted on the target
        assert cpu.sd.received_rps == core.ipi_lines[cpu.index].per_cpu_count[cpu.index] > 0
    assert sum(c.sd.processed for c in core.cpus) == 120
    assert all(c.sd.input_queue_head == c.sd.input_queue_tail == c.sd.processed
               for c in core.cpus)


def test_rps_to_the_local_cpu_uses_the_backlog_without_ipi() -> None:
    loop, host, core = make_host(ncpus=2)
    nic = make_nic(host)
    sink = Sink(host)
    nic.rx_queues[0].rps_cpus = "1"
    for i in range(5):
        loop.call_at(i * 50_000, nic.receive_frame, frame(nic.dev_addr, sport=i))
    loop.run()
    assert {g["cpu"] for g in sink.got} == {0}
    assert core.cpus[0].sd.input_queue_tail == 5  # through the backlog
    assert core.cpus[0].sd.received_rps == 0 and core.ipi_lines[0].count == 0


def test_ipi_cost_is_charged_to_the_sender() -> None:
    def run(ipi_ns: int) -> tuple[int, int, int]:
        loop, host, core = make_host(ncpus=2, costs=replace(DEFAULT_COSTS, ipi_ns=ipi_ns))
        nic = make_nic(host)
        Sink(host)
        nic.rx_queues[0].rps_cpus = "2"
        for i in range(10):
            loop.call_at(i * 100_000, nic.receive_frame, frame(nic.dev_addr, sport=i))
        loop.run()
        return sum(core.cpus[0].busy_ns), core.cpus[1].sd.received_rps, \
            core.cpus[1].busy_ns[CLS_HARDIRQ]

    busy0, ipis, hard1 = run(0)
    busy1, ipis1, _ = run(7_000)
    assert ipis == ipis1 == 10  # spaced out: every packet finds the backlog idle
    assert busy1 - busy0 == 7_000 * ipis
    assert hard1 == 10 * DEFAULT_COSTS.irq_entry_exit_ns  # the target takes interrupts


# ----------------------------------------------------------------------- flow limit

def _fill(host_ncpus: int = 1) -> tuple[SimLoop, Host, NetCore, SimNic]:
    loop, host, core = make_host(ncpus=host_ncpus)
    nic = make_nic(host)
    Sink(host)
    return loop, host, core, nic


def test_flow_limit_drops_the_heavy_flow_only() -> None:
    _loop, host, core, nic = _fill()
    host.sysctl.set("net.core.flow_limit_cpu_bitmap", "1")
    sd = core.cpus[0].sd
    assert sd.flow_limit is not None and sd.flow_limit.num_buckets == 4096
    core.cpus[0].charge(10**9)  # nothing drains meanwhile
    heavy = [netif_rx(_skb(nic, sport=7)) for _ in range(600)]
    # below half of netdev_max_backlog (1000) nothing is tracked; past it the flow
    # may hold at most FLOW_LIMIT_HISTORY / 2 of the recent packets
    accepted = 500 + FLOW_LIMIT_HISTORY // 2
    assert heavy.count(NET_RX_SUCCESS) == accepted
    assert sd.flow_limit_count == 600 - accepted == sd.dropped
    assert host.drop_counts[SkbDropReason.CPU_BACKLOG] == 600 - accepted
    light = [netif_rx(_skb(nic, sport=100 + i)) for i in range(20)]
    assert light.count(NET_RX_SUCCESS) == 20  # other flows still get in
    assert softnet_seq_show(sd).split()[10] == f"{600 - accepted:08x}"
    # no table: no flow limit (the default bitmap is 0)
    _loop2, _host2, core2, nic2 = _fill()
    core2.cpus[0].charge(10**9)
    assert all(netif_rx(_skb(nic2, sport=7)) == NET_RX_SUCCESS for _ in range(600))
    assert core2.cpus[0].sd.flow_limit_count == 0


def test_flow_limit_table_len_applies_at_allocation() -> None:
    _loop, host, core, _nic = _fill(2)
    host.sysctl.set("net.core.flow_limit_cpu_bitmap", "3")
    host.sysctl.set("net.core.flow_limit_table_len", 8)

    def buckets() -> list[int]:
        return [0 if c.sd.flow_limit is None else c.sd.flow_limit.num_buckets
                for c in core.cpus]

    assert buckets() == [4096, 4096]
    host.sysctl.set("net.core.flow_limit_cpu_bitmap", "2")
    assert buckets() == [0, 4096]
    host.sysctl.set("net.core.flow_limit_cpu_bitmap", "3")
    assert buckets() == [8, 4096]


def test_flow_limit_is_the_enqueuing_cpus() -> None:
    """skb_flow_limit uses this_cpu's table: with RPS the CPU steering counts the
    flow_limit_count, the target's backlog the drop."""
    loop, host, core, nic = _fill(2)
    host.sysctl.set("net.core.flow_limit_cpu_bitmap", "1")
    core.cpus[1].charge(10**9)
    rcs: list[int] = []

    def steer() -> None:
        for _ in range(600):
            rcs.append(enqueue_to_backlog(_skb(nic, sport=9), 1, rps=True))

    core.cpus[0].run_softirq(steer)
    loop.run(1_000_000)
    assert rcs.count(NET_RX_DROP) == 600 - 500 - FLOW_LIMIT_HISTORY // 2
    assert core.cpus[0].sd.flow_limit_count == rcs.count(NET_RX_DROP)
    assert core.cpus[1].sd.dropped == rcs.count(NET_RX_DROP)
    assert core.cpus[1].sd.flow_limit_count == 0 and core.cpus[0].sd.dropped == 0
