"""Lab ``rps-rfs``: where protocol processing runs, without steering, with RPS, with RFS.

One host with 4 CPUs and a single-queue SimNic (its interrupt on CPU 0) receives
64-byte UDP frames of many flows at a fixed offered rate; each flow has its own
connected UDP socket and one application thread, pinned on CPU 2, reads them all
(an epoll loop: recvmsg on whichever socket is ready). Three modes:

* ``none``: no steering: CPU 0 runs the driver poll *and* the protocol processing of
  every packet (app_cpu_fraction 0);
* ``rps``: ``rps_cpus`` = all CPUs: CPU 0 only polls the NIC and hashes each packet
  onto one of 4 CPUs' backlogs (an IPI wakes a remote backlog), so the protocol work
  spreads, about 1/4 of it on the application's CPU;
* ``rfs``: RPS plus net.core.rps_sock_flow_entries and ``rps_flow_cnt`` (32768 each,
  scaling.rst's suggestion for a single queue): recvmsg records each flow's consuming
  CPU, and get_rps_cpu steers the flow there (once its old CPU's backlog has drained
  past the flow's last packet), so the protocol work of every flow moves to CPU 2.

``app_cpu_fraction`` is the share of packets whose protocol processing ran on the
application's CPU. RFS buys cache locality, which the CPU cost model does not
capture by itself: the lab charges the reader ``remote_ns`` for each packet
processed on another CPU (the skb, data and socket cache lines pulled across: a few
lines at ~100 to a few hundred cycles each, David, Guerraoui & Trigonakis,
"Everything you always wanted to know about synchronization", SOSP 2013). With one
application thread RFS also concentrates all the work on its CPU, so at high loads
that CPU saturates first; the full sweep shows it.

Until the IPv4/UDP layers exist the lab registers an ETH_P_IP handler standing in
for ip_rcv + udp_rcv (it charges ip_rcv_ns + udp_rcv_ns, records the CPU, queues to
the flow's socket with sock_rps_save_rxhash, wakes the reader); the reader's
recvmsg calls sock_rps_record_flow, as inet_recvmsg does.

``tuxnet lab rps-rfs [--json] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tuxnet.core.costs import DEFAULT_COSTS, CpuCosts
from tuxnet.core.cpu import Cpu, Task, current_cpu
from tuxnet.core.dev import dev_open
from tuxnet.core.netcore import NetCore, get_core, register_netdevice, register_protocol_handler
from tuxnet.core.netdevice import NetDevice
from tuxnet.core.rps import get_rps, sock_rps_record_flow, sock_rps_save_rxhash
from tuxnet.drivers.simnic import SimNic
from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.labs.table import apply_sweep_args, parse_loads, render_grid
from tuxnet.loop import SimLoop
from tuxnet.skb import SkBuff
from tuxnet.wire.build import udp_frame

__all__ = ["FULL_LOADS", "MODES", "QUICK_LOADS", "RpsRfsParams", "format_table", "run",
           "run_point", "run_sweep", "summarize"]

ETH_P_IP = 0x0800
SRC_IP = "198.18.0.1"
DST_IP = "198.18.0.2"
DST_PORT = 9
MODES = ("none", "rps", "rfs")
FULL_LOADS = (100_000, 250_000, 400_000, 550_000)
QUICK_LOADS = (200_000,)


@dataclass
class RpsRfsParams:
    """The sweep: offered loads (packets/s), flows, CPUs (the IRQ's and the
    application's), simulated time per point, per-packet costs, table sizes."""

    loads: tuple[int, ...] = FULL_LOADS
    flows: int = 64
    ncpus: int = 4
    irq_cpu: int = 0
    app_cpu: int = 2
    duration_ns: int = 30_000_000
    warmup_ns: int = 6_000_000
    user_cost_ns: int = 500  # the application's work per packet, besides recvmsg
    remote_ns: int = 200  # reader's cache misses for a packet processed elsewhere
    sock_flow_entries: int = 32768
    flow_cnt: int = 32768
    seed: int = 1
    costs: CpuCosts = field(default_factory=lambda: DEFAULT_COSTS)


class _Sock:
    """A connected UDP socket's receive queue (skb, CPU that processed it)."""

    __slots__ = ("queue", "rmem_alloc", "sk_rxhash")

    def __init__(self) -> None:
        self.queue: deque[tuple[SkBuff, int]] = deque()
        self.rmem_alloc = 0
        self.sk_rxhash = 0


class _App:
    """The sockets, the ready list (epoll's rdllist) and the pinned reader thread."""

    def __init__(self, host: Host, core: NetCore, cpu: Cpu, params: RpsRfsParams,
                 ports: list[int]) -> None:
        self.host = host
        self.core = core
        self.app_cpu = cpu.index
        self.socks = {p: _Sock() for p in ports}  # by source port: the 4-tuple lookup
        self.ready: deque[_Sock] = deque()
        self.rcvbuf = host.sysctl.get_int("net.core.rmem_default")
        self.user_cost_ns = params.user_cost_ns
        self.remote_ns = params.remote_ns
        self.proto_by_cpu = [0] * len(core.cpus)
        self.delivered = 0
        self.sock_drops = 0
        self.task = Task("app", self.step)
        self.task.cpu = cpu  # pinned (sched_setaffinity); asleep until the first packet

    def udp_rcv(self, skb: SkBuff, dev: NetDevice) -> None:
        """Stand-in for ip_rcv + udp_rcv (__udp4_lib_lookup by ports, then
        __udp_queue_rcv_skb: sock_rps_save_rxhash for a connected socket, queue,
        sk_data_ready wakes the reader)."""
        costs = self.core.costs
        cpu = current_cpu()
        index = cpu.index if cpu is not None else self.host.current_cpu
        if cpu is not None:
            cpu._acc += costs.ip_rcv_ns + costs.udp_rcv_ns
        self.proto_by_cpu[index] += 1
        head = skb.head
        off = skb.data_off + (head[skb.data_off] & 0x0F) * 4
        sk = self.socks.get((head[off] << 8) | head[off + 1])
        if sk is None:
            self.host.kfree_skb(skb, SkbDropReason.NO_SOCKET, "__udp4_lib_rcv")
            return
        if sk.rmem_alloc > self.rcvbuf:
            self.sock_drops += 1
            self.host.kfree_skb(skb, SkbDropReason.SOCKET_RCVBUFF, "__udp_enqueue_schedule_skb")
            return
        sock_rps_save_rxhash(sk, skb)
        sk.rmem_alloc += skb.truesize
        if not sk.queue:
            self.ready.append(sk)
        sk.queue.append((skb, index))
        if self.task.wake() and cpu is not None:
            cpu._acc += costs.wakeup_ns

    def step(self) -> bool:
        """One recvmsg on the next ready socket (inet_recvmsg records the flow)."""
        ready = self.ready
        if not ready:
            return False
        sk = ready.popleft()
        skb, proto_cpu = sk.queue.popleft()
        if sk.queue:
            ready.append(sk)
        sk.rmem_alloc -= skb.truesize
        sock_rps_record_flow(self.host, sk.sk_rxhash)
        cost = self.core.costs.syscall_ns + self.user_cost_ns
        if proto_cpu != self.app_cpu:
            cost += self.remote_ns
        cpu = current_cpu()
        if cpu is not None:
            cpu._acc += cost
        self.host.consume_skb(skb, "skb_consume_udp")
        self.delivered += 1
        return bool(ready)


def _snapshot(core: NetCore, nic: SimNic, app: _App) -> dict[str, Any]:
    return {"proto": list(app.proto_by_cpu), "busy": [sum(c.busy_ns) for c in core.cpus],
            "delivered": app.delivered, "sock_drops": app.sock_drops,
            "ring_drops": nic.hw_missed,
            "backlog_drops": sum(c.sd.dropped for c in core.cpus),
            "ipis": sum(c.sd.received_rps for c in core.cpus),
            "moved": get_rps(core.host).flows_moved}


def run_point(mode: str, offered_pps: int, params: RpsRfsParams) -> dict[str, Any]:
    """Simulate one mode at one offered load; returns the table row."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if offered_pps <= 0:
        raise ValueError("offered load must be positive")
    ncpus = params.ncpus
    if not (0 <= params.irq_cpu < ncpus and 0 <= params.app_cpu < ncpus):
        raise ValueError(f"irq_cpu and app_cpu must be in 0..{ncpus - 1}")
    loop = SimLoop()
    host = Host(loop, "dut", ncpus=ncpus, seed=params.seed)
    core = get_core(host, costs=params.costs)
    nic = SimNic("eth0", num_queues=1)
    register_netdevice(host, nic)
    nic.set_features({"rx-gro": False})
    nic.set_irq_affinity(0, params.irq_cpu)
    rxq = nic.rx_queues[0]
    if mode in ("rps", "rfs"):
        rxq.rps_cpus = f"{(1 << ncpus) - 1:x}"
    if mode == "rfs":
        host.sysctl.set("net.core.rps_sock_flow_entries", params.sock_flow_entries)
        rxq.rps_flow_cnt = params.flow_cnt
    dev_open(nic)
    rng = random.Random(f"tuxnet:lab:rps-rfs:{params.seed}:{params.flows}")
    ports = rng.sample(range(1024, 65536), params.flows)
    app = _App(host, core, core.cpus[params.app_cpu], params, ports)
    register_protocol_handler(host, ETH_P_IP, app.udp_rcv, name="udp_rcv")
    src_mac = b"\x02\x00\x00\x00\x00\x01"
    frames = [bytes(udp_frame(src_mac, nic.dev_addr, SRC_IP, DST_IP, p, DST_PORT, bytes(18)))
              for p in ports]
    nflows = len(frames)
    end = params.duration_ns
    interval = 1_000_000_000 / offered_pps
    receive = nic.receive_frame
    sent = [0]

    def source() -> None:
        n = sent[0]
        receive(frames[n % nflows])
        sent[0] = n + 1
        t = int((n + 1) * interval)
        if t < end:
            loop.call_at(t, source)

    loop.call_at(0, source)
    marks: list[dict[str, Any]] = []
    loop.call_at(params.warmup_ns, lambda: marks.append(_snapshot(core, nic, app)))
    loop.run(end)
    a, b = marks[0], _snapshot(core, nic, app)
    window = end - params.warmup_ns
    per_s = 1e9 / window
    proto = [y - x for x, y in zip(a["proto"], b["proto"], strict=True)]
    busy = [y - x for x, y in zip(a["busy"], b["busy"], strict=True)]
    total = sum(proto)

    def rate(key: str) -> int:
        delta: int = b[key] - a[key]
        return round(delta * per_s)

    return {
        "mode": mode,
        "offered_pps": offered_pps,
        "delivered_pps": rate("delivered"),
        "app_cpu": params.app_cpu,
        "irq_cpu": params.irq_cpu,
        "app_cpu_fraction": round(proto[params.app_cpu] / total, 3) if total else 0.0,
        "cpu_proto_pps": [round(n * per_s) for n in proto],
        "cpu_util": [round(min(1.0, ns / window), 3) for ns in busy],
        "ipis_per_s": rate("ipis"),
        "flows_moved": b["moved"] - a["moved"],
        "ring_drops_pps": rate("ring_drops"),
        "backlog_drops_pps": rate("backlog_drops"),
        "socket_drops_pps": rate("sock_drops"),
    }


def run_sweep(params: RpsRfsParams) -> list[dict[str, Any]]:
    """Every mode at every offered load."""
    return [run_point(mode, load, params) for load in params.loads for mode in MODES]


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per mode: the app_cpu_fraction at the lowest load, and the highest delivered rate
    with the utilisation of the busiest CPU there."""
    out: dict[str, Any] = {}
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        if not mine:
            continue
        low = min(mine, key=lambda r: r["offered_pps"])
        peak = max(mine, key=lambda r: r["delivered_pps"])
        out[mode] = {"app_cpu_fraction": low["app_cpu_fraction"],
                     "at_offered_pps": low["offered_pps"],
                     "peak_delivered_pps": peak["delivered_pps"],
                     "peak_at_offered_pps": peak["offered_pps"],
                     "busiest_cpu_util_at_peak": max(peak["cpu_util"])}
    return out


def format_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The human-readable table (per CPU: protocol packets/s and utilisation)."""
    ncpus = len(rows[0]["cpu_util"]) if rows else 0
    head = ["mode", "offered/s", "delivered/s", "app cpu frac"]
    head += [f"cpu{i} proto/util" for i in range(ncpus)]
    head += ["ipi/s", "moved", "drop/s"]
    cells = [head]
    for r in rows:
        line = [r["mode"], f"{r['offered_pps']:,}", f"{r['delivered_pps']:,}",
                f"{r['app_cpu_fraction']:.3f}"]
        line += [f"{p:,} {100 * u:.0f}%"
                 for p, u in zip(r["cpu_proto_pps"], r["cpu_util"], strict=True)]
        drops = r["ring_drops_pps"] + r["backlog_drops_pps"] + r["socket_drops_pps"]
        line += [f"{r['ipis_per_s']:,}", str(r["flows_moved"]), f"{drops:,}"]
        cells.append(line)
    lines = render_grid(cells)
    lines.append("")
    if rows:
        lines.append(f"IRQ on cpu{rows[0]['irq_cpu']}, application pinned on "
                     f"cpu{rows[0]['app_cpu']}; 'proto' = packets/s whose IP/UDP receive "
                     "ran on that CPU.")
    for mode, s in summary.items():
        lines.append(f"{mode}: {100 * s['app_cpu_fraction']:.0f}% of the protocol work on the "
                     f"application's CPU at {s['at_offered_pps']:,} pps; peak "
                     f"{s['peak_delivered_pps']:,} pps delivered at {s['peak_at_offered_pps']:,} "
                     f"offered (busiest CPU {100 * s['busiest_cpu_util_at_peak']:.0f}%)")
    return "\n".join(lines) + "\n"


def run(argv: list[str], prog: str = "tuxnet lab rps-rfs") -> int:
    """Entry point of ``tuxnet lab rps-rfs``."""
    parser = argparse.ArgumentParser(
        prog=prog, description="RPS and RFS on a single-queue NIC: where the protocol "
        "processing runs for an application pinned on one CPU.")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true", help="one load, shorter runs")
    parser.add_argument("--loads", type=parse_loads, metavar="PPS,PPS,...",
                        help="offered loads in packets/s (overrides the sweep)")
    parser.add_argument("--flows", type=int, default=RpsRfsParams.flows, metavar="N")
    parser.add_argument("--duration-ms", type=float, metavar="MS",
                        help="simulated time per point (default 30, quick 15)")
    parser.add_argument("--user-cost-ns", type=int, default=RpsRfsParams.user_cost_ns,
                        metavar="NS", help="application work per packet (default %(default)s)")
    parser.add_argument("--remote-ns", type=int, default=RpsRfsParams.remote_ns, metavar="NS",
                        help="reader's cost for a packet processed on another CPU "
                        "(default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.flows < 1:
        parser.error("--flows must be positive")
    if args.user_cost_ns < 0 or args.remote_ns < 0:
        parser.error("costs must not be negative")
    params = RpsRfsParams(seed=args.seed, flows=args.flows, user_cost_ns=args.user_cost_ns,
                          remote_ns=args.remote_ns)
    apply_sweep_args(params, args, parser, field="loads", arg="loads",
                     quick_values=QUICK_LOADS, quick_duration_ns=15_000_000,
                     quick_warmup_ns=5_000_000)
    rows = run_sweep(params)
    summary = summarize(rows)
    if args.json:
        doc = {"lab": "rps-rfs", "quick": bool(args.quick),
               "params": {"loads": list(params.loads), "flows": params.flows,
                          "ncpus": params.ncpus, "irq_cpu": params.irq_cpu,
                          "app_cpu": params.app_cpu, "duration_ns": params.duration_ns,
                          "warmup_ns": params.warmup_ns, "user_cost_ns": params.user_cost_ns,
                          "remote_ns": params.remote_ns,
                          "rps_sock_flow_entries": params.sock_flow_entries,
                          "rps_flow_cnt": params.flow_cnt, "seed": params.seed,
                          "frame_bytes": 64},
               "costs": params.costs.as_dict(), "rows": rows, "summary": summary}
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(rows, summary))
    return 0
