"""XDP_REDIRECT from a SimNic: devmap to a second device (and broadcast), bpf_redirect
by ifindex, invalid targets (exception + drop), cpumap to another CPU's stack through
the cpumap kthread, and the tracepoints on the way."""

from __future__ import annotations

from typing import Any

from _xdputil import REDIRECT_IFINDEX, REDIRECT_MAP_KEY, frame, rig

from tuxnet.bpf.kernel_helpers import BPF_F_BROADCAST
from tuxnet.bpf.maps import CpuMap, DevMap
from tuxnet.core.cpu import CLS_TASK
from tuxnet.core.dev import dev_close
from tuxnet.xdp import XdpProg, dev_xdp_attach
from tuxnet.xdp.redirect import cpumap_entries


def u32(v: int) -> bytes:
    return v.to_bytes(4, "little")


def stats(nic: Any) -> dict[str, int]:
    return dict(nic.get_ethtool_stats())


def test_devmap_sends_the_frame_out_of_another_device() -> None:
    r = rig()
    eth0, eth1 = r.nics
    tx_ports = DevMap(4, 4, 8, name="tx_ports")
    prog = XdpProg.from_asm(r.host, REDIRECT_MAP_KEY.format(key=3), maps=[tx_ports])
    tx_ports.update(u32(3), u32(eth1.ifindex))
    dev_xdp_attach(eth0, prog)
    seen: dict[str, list[Any]] = {"map": [], "xmit": []}
    r.host.tracepoints.subscribe("xdp:xdp_redirect_map", seen["map"].append)
    r.host.tracepoints.subscribe("xdp:xdp_devmap_xmit", seen["xmit"].append)
    frames = [frame(sport=i + 1) for i in range(3)]
    for f in frames:
        r.inject(f)
    r.settle()
    assert r.sinks[1].frames == frames  # out of eth1, unchanged
    assert r.sinks[0].frames == [] and r.passed == []
    assert eth1.tx_queues[0].tx_packets == 3
    assert stats(eth0)["rx_xdp_redirect"] == 3
    ev = seen["map"][0].fields
    assert (ev["prog_id"], ev["ifindex"], ev["to_ifindex"], ev["map_index"], ev["err"]) == \
        (prog.id, eth0.ifindex, eth1.ifindex, 3, 0)
    assert sum(e.fields["sent"] for e in seen["xmit"]) == 3
    assert all(e.fields["drops"] == 0 for e in seen["xmit"])


def test_devmap_update_needs_an_existing_ifindex() -> None:
    r = rig()
    tx_ports = DevMap(4, 4, 8, name="tx_ports")
    XdpProg.from_asm(r.host, REDIRECT_MAP_KEY.format(key=0), maps=[tx_ports])
    try:
        tx_ports.update(u32(0), u32(42))
    except OSError as e:
        assert e.errno == 22  # EINVAL
    else:
        raise AssertionError("an unknown ifindex was accepted")


def test_missing_devmap_key_returns_the_flags_action() -> None:
    r = rig()
    tx_ports = DevMap(4, 4, 8, name="tx_ports")
    dev_xdp_attach(r.nics[0], XdpProg.from_asm(r.host, REDIRECT_MAP_KEY.format(key=5),
                                               maps=[tx_ports]))
    r.inject(frame())
    r.settle()
    assert len(r.passed) == 1  # bpf_redirect_map(..., XDP_PASS) on a miss
    assert stats(r.nics[0])["rx_xdp_pass"] == 1


def test_broadcast_copies_to_every_entry_but_the_ingress() -> None:
    r = rig(nics=3)
    tx_ports = DevMap(4, 4, 8, name="tx_ports")
    text = REDIRECT_MAP_KEY.format(key=0).replace("mov %r3, 2", f"mov %r3, {BPF_F_BROADCAST | 16}")
    dev_xdp_attach(r.nics[0], XdpProg.from_asm(r.host, text, maps=[tx_ports]))
    for i, nic in enumerate(r.nics):
        tx_ports.update(u32(i), u32(nic.ifindex))
    f = frame()
    r.inject(f)
    r.settle()
    assert r.sinks[0].frames == [] and r.sinks[1].frames == [f] and r.sinks[2].frames == [f]


def test_redirect_to_an_unknown_ifindex_is_an_exception_and_a_drop() -> None:
    r = rig()
    eth0 = r.nics[0]
    prog = XdpProg.from_asm(r.host, REDIRECT_IFINDEX.format(ifindex=99))
    dev_xdp_attach(eth0, prog)
    exc: list[Any] = []
    err: list[Any] = []
    r.host.tracepoints.subscribe("xdp:xdp_exception", exc.append)
    r.host.tracepoints.subscribe("xdp:xdp_redirect_err", err.append)
    r.inject(frame())
    r.settle()
    assert r.passed == [] and r.sinks[0].frames == [] and r.sinks[1].frames == []
    s = stats(eth0)
    assert s["rx_xdp_redirect_err"] == 1 and s["rx_xdp_drop"] == 1
    assert s["rx_xdp_redirect"] == 0
    assert [e.fields["act"] for e in exc] == ["XDP_REDIRECT"]
    assert err[0].fields["err"] == -22 and err[0].fields["to_ifindex"] == 99


def test_redirect_by_ifindex_and_to_a_down_device() -> None:
    r = rig()
    eth0, eth1 = r.nics
    dev_xdp_attach(eth0, XdpProg.from_asm(r.host, REDIRECT_IFINDEX.format(
        ifindex=eth1.ifindex)))
    r.inject(frame())
    r.settle()
    assert len(r.sinks[1].frames) == 1
    dev_close(eth1)
    r.inject(frame())
    r.settle()
    assert len(r.sinks[1].frames) == 1
    assert stats(eth0)["rx_xdp_redirect_err"] == 1  # -ENETDOWN


def test_cpumap_builds_the_skb_on_the_other_cpu() -> None:
    r = rig(ncpus=2)
    eth0 = r.nics[0]
    assert eth0.rx_queues[0].irq is not None and eth0.rx_queues[0].irq.cpu == 0
    cpus = CpuMap(4, 4, 4, name="cpus", ncpus=2)
    prog = XdpProg.from_asm(r.host, REDIRECT_MAP_KEY.format(key=1), maps=[cpus])
    cpus.update(u32(1), u32(64))  # qsize 64
    dev_xdp_attach(eth0, prog)
    enq: list[Any] = []
    kth: list[Any] = []
    r.host.tracepoints.subscribe("xdp:xdp_cpumap_enqueue", enq.append)
    r.host.tracepoints.subscribe("xdp:xdp_cpumap_kthread", kth.append)
    frames = [frame(sport=i + 1) for i in range(4)]
    for f in frames:
        r.inject(f)
    r.settle()
    assert [(d, x, cpu) for d, x, cpu in r.passed] == [("eth0", f, 1) for f in frames]
    core = r.core
    assert core.cpus[1].busy_ns[CLS_TASK] > 0  # the kthread ran on CPU 1
    assert core.cpus[1].sd.processed == 4 and core.cpus[0].sd.processed == 0
    assert stats(eth0)["rx_xdp_redirect"] == 4
    assert sum(e.fields["processed"] for e in enq) == 4
    assert all(e.fields["to_cpu"] == 1 and e.fields["cpu"] == 0 for e in enq)
    assert sum(e.fields["processed"] for e in kth) == 4
    (ent,) = cpumap_entries(r.host)
    assert ent.task.name == f"cpumap/1/map:{ent.map_id}" and ent.processed == 4


def test_cpumap_ring_full_drops_and_counts() -> None:
    r = rig(ncpus=2)
    eth0 = r.nics[0]
    cpus = CpuMap(4, 4, 4, name="cpus", ncpus=2)
    prog = XdpProg.from_asm(r.host, REDIRECT_MAP_KEY.format(key=1), maps=[cpus])
    cpus.update(u32(1), u32(2))  # a 2-frame ptr_ring: the kthread cannot keep up
    dev_xdp_attach(eth0, prog)
    for i in range(40):
        r.inject(frame(sport=i + 1))
    r.settle()
    (ent,) = cpumap_entries(r.host)
    assert ent.drops > 0
    assert ent.drops + len(r.passed) == 40
    assert all(cpu == 1 for _, _, cpu in r.passed)
