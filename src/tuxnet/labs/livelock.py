"""Lab ``livelock``: receive livelock with interrupt-per-packet receive, and NAPI.

One host with one CPU and a SimNic with one RX queue receives 64-byte UDP frames at a
fixed offered rate (a constant-rate source, like pktgen); an application thread on
the same CPU reads them from a bounded socket receive queue, charging a per-packet
cost. "Delivered" counts the packets the application got. The sweep goes from well
below the CPU's capacity to several times above it, once per receive model:

* ``irq``: the pre-NAPI driver (``rx_mode = "legacy"``): an interrupt for every
  packet, the handler allocates the skb and calls netif_rx; the interrupt is never
  masked. Past saturation hardirq and softirq work (priority over any task) eat the
  CPU, the application starves and delivered throughput collapses towards zero:
  receive livelock (Mogul & Ramakrishnan 1997).
* ``napi``: the IRQ is masked while net_rx_action polls with a budget; excess frames
  are dropped by the NIC when the ring is full (costing no CPU), and softirq work
  past the budget goes to ksoftirqd, which shares the CPU fairly with the
  application, so delivered throughput stays near its peak (Salim, Olsson & Kuznetsov
  2001). Just below the poll's own capacity NAPI dips: the ring still empties between
  polls, every interrupt's irq_exit runs net_rx_action inline at softirq priority and
  the application starves, the same-CPU UDP overload that "softirq: Let ksoftirqd do
  its job" (4cd13c21b207, 2016; reverted in 6.5) was about; the table notes the band.

Interrupt moderation is off in both (rx-usecs 0, rx-frames 1) and GRO/RX hashing
are off (UDP would not merge). Until the IPv4 layer exists the lab registers its own
ETH_P_IP handler standing in for ip_rcv + udp_rcv: it charges ip_rcv_ns + udp_rcv_ns,
queues to the application's socket (sk_rcvbuf = net.core.rmem_default, charged by
skb truesize) and drops with SOCKET_RCVBUFF when it is full.

``tuxnet lab livelock [--json] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tuxnet.core.costs import DEFAULT_COSTS, CpuCosts
from tuxnet.core.cpu import CLS_HARDIRQ, CLS_SOFTIRQ, CLS_TASK, Cpu, Task, current_cpu
from tuxnet.core.dev import dev_open
from tuxnet.core.netcore import NetCore, get_core, register_netdevice, register_protocol_handler
from tuxnet.core.netdevice import NetDevice
from tuxnet.drivers.simnic import SimNic
from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.labs.table import apply_sweep_args, parse_loads, render_columns
from tuxnet.loop import SimLoop
from tuxnet.skb import SkBuff
from tuxnet.wire.build import udp_frame

__all__ = ["FULL_LOADS", "QUICK_LOADS", "LivelockParams", "format_table", "run", "run_point",
           "run_sweep"]

ETH_P_IP = 0x0800
FULL_LOADS = (10_000, 25_000, 50_000, 75_000, 100_000, 125_000, 150_000, 175_000, 200_000,
              250_000, 300_000, 400_000, 500_000, 600_000, 800_000, 1_000_000)
QUICK_LOADS = (50_000, 100_000, 150_000, 200_000, 300_000, 800_000)
MODES = ("irq", "napi")
_RX_MODE = {"irq": "legacy", "napi": "napi"}


@dataclass
class LivelockParams:
    """The sweep: offered loads (packets/s), simulated time per point (the first
    ``warmup_ns`` are not measured), the application's per-packet cost, ring size."""

    loads: tuple[int, ...] = FULL_LOADS
    duration_ns: int = 40_000_000
    warmup_ns: int = 10_000_000
    user_cost_ns: int = 500  # the application's work per packet, besides recvmsg
    rx_ring: int = 512
    seed: int = 1
    costs: CpuCosts = field(default_factory=lambda: DEFAULT_COSTS)


class _App:
    """A UDP socket's receive queue and the thread reading it (recvmsg loop)."""

    def __init__(self, host: Host, core: NetCore, cpu: Cpu, user_cost_ns: int) -> None:
        self.host = host
        self.core = core
        self.queue: deque[SkBuff] = deque()
        self.rmem_alloc = 0
        self.rcvbuf = host.sysctl.get_int("net.core.rmem_default")  # sk_rcvbuf
        self.user_cost_ns = user_cost_ns
        self.delivered = 0
        self.sock_drops = 0
        self.task = Task("app", self.step)
        self.task.cpu = cpu  # created asleep: woken by the first packet

    def udp_rcv(self, skb: SkBuff, dev: NetDevice) -> None:
        """Stand-in for ip_rcv + udp_rcv + __udp_enqueue_schedule_skb."""
        costs = self.core.costs
        cpu = current_cpu()
        if cpu is not None:
            cpu._acc += costs.ip_rcv_ns + costs.udp_rcv_ns
        if self.rmem_alloc > self.rcvbuf:  # udp: sk_rmem_alloc above sk_rcvbuf
            self.sock_drops += 1
            self.host.kfree_skb(skb, SkbDropReason.SOCKET_RCVBUFF, "__udp_enqueue_schedule_skb")
            return
        self.rmem_alloc += skb.truesize
        self.queue.append(skb)
        if self.task.wake() and cpu is not None:  # sk_data_ready -> wake the reader
            cpu._acc += costs.wakeup_ns

    def step(self) -> bool:
        """One recvmsg and the application's work on the packet."""
        q = self.queue
        if not q:
            return False
        skb = q.popleft()
        self.rmem_alloc -= skb.truesize
        cpu = current_cpu()
        if cpu is not None:
            cpu._acc += self.core.costs.syscall_ns + self.user_cost_ns
        self.host.consume_skb(skb, "skb_consume_udp")
        self.delivered += 1
        return bool(q)


def _snapshot(cpu: Cpu, nic: SimNic, app: _App) -> dict[str, int]:
    sd = cpu.sd
    return {"hardirq": cpu.busy_ns[CLS_HARDIRQ], "softirq": cpu.busy_ns[CLS_SOFTIRQ],
            "task": cpu.busy_ns[CLS_TASK], "ksoftirqd": cpu.ksoftirqd.runtime_ns,
            "irqs": cpu.irq_count, "delivered": app.delivered, "sock_drops": app.sock_drops,
            "ring_drops": nic.hw_missed, "backlog_drops": sd.dropped,
            "time_squeeze": sd.time_squeeze, "received": nic.rx_queues[0].rx_packets}


def run_point(mode: str, offered_pps: int, params: LivelockParams) -> dict[str, Any]:
    """Simulate one offered load in one receive model; returns the table row."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if offered_pps <= 0:
        raise ValueError("offered load must be positive")
    loop = SimLoop()
    host = Host(loop, "dut", ncpus=1, seed=params.seed)
    core = get_core(host, costs=params.costs)
    cpu = core.cpus[0]
    nic = SimNic("eth0", num_queues=1, rx_ring=params.rx_ring, rx_mode=_RX_MODE[mode])
    register_netdevice(host, nic)
    nic.set_features({"rx-gro": False, "rx-hashing": False})
    nic.set_coalesce(rx_usecs=0, rx_max_frames=1)
    dev_open(nic)
    app = _App(host, core, cpu, params.user_cost_ns)
    register_protocol_handler(host, ETH_P_IP, app.udp_rcv, name="udp_rcv")
    # 64 bytes on the wire: 60-byte frame + FCS (ETH_ZLEN); 18 bytes of UDP payload
    frame = bytes(udp_frame(b"\x02\x00\x00\x00\x00\x01", nic.dev_addr, "198.18.0.1",
                            "198.18.0.2", 9, 9, bytes(18)))
    end = params.duration_ns
    interval = 1_000_000_000 / offered_pps
    receive = nic.receive_frame
    state = [0]

    def source() -> None:
        receive(frame)
        state[0] += 1
        t = int(state[0] * interval)
        if t < end:
            loop.call_at(t, source)

    loop.call_at(0, source)
    marks: list[dict[str, int]] = []
    loop.call_at(params.warmup_ns, lambda: marks.append(_snapshot(cpu, nic, app)))
    loop.run(end)
    a = marks[0]
    b = _snapshot(cpu, nic, app)
    window = end - params.warmup_ns
    d = {k: b[k] - a[k] for k in a}
    per_s = 1e9 / window

    def pct(ns: int) -> float:
        return round(100.0 * min(ns, window) / window, 1)

    busy = d["hardirq"] + d["softirq"] + d["task"]
    return {
        "mode": mode,
        "offered_pps": offered_pps,
        "delivered_pps": round(d["delivered"] * per_s),
        "cpu_util": round(min(1.0, busy / window), 3),
        "hardirq_pct": pct(d["hardirq"]),
        "softirq_pct": pct(d["softirq"]),
        "ksoftirqd_pct": pct(d["ksoftirqd"]),
        "task_pct": pct(d["task"]),
        "irqs_per_s": round(d["irqs"] * per_s),
        "ring_drops_pps": round(d["ring_drops"] * per_s),
        "backlog_drops_pps": round(d["backlog_drops"] * per_s),
        "socket_drops_pps": round(d["sock_drops"] * per_s),
        "time_squeeze": d["time_squeeze"],
    }


def run_sweep(params: LivelockParams) -> list[dict[str, Any]]:
    """Every mode at every offered load."""
    return [run_point(mode, load, params) for mode in MODES for load in params.loads]


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per mode: peak delivered rate, delivered at the top offered load, their ratio."""
    out: dict[str, Any] = {}
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        if not mine:
            continue
        peak = max(mine, key=lambda r: r["delivered_pps"])
        top = max(mine, key=lambda r: r["offered_pps"])
        out[mode] = {"peak_delivered_pps": peak["delivered_pps"],
                     "peak_at_offered_pps": peak["offered_pps"],
                     "top_offered_pps": top["offered_pps"],
                     "top_delivered_pps": top["delivered_pps"],
                     "top_over_peak": round(top["delivered_pps"] / peak["delivered_pps"], 3)
                     if peak["delivered_pps"] else 0.0}
        # NAPI's dip: loads (below the top) where it delivers < 80% of its peak and
        # less than offered: the ring still empties between polls there
        dips = [r for r in mine if r is not top
                and r["delivered_pps"] < 0.8 * min(peak["delivered_pps"], r["offered_pps"])]
        if mode == "napi" and dips:
            low = min(dips, key=lambda r: r["delivered_pps"])
            out[mode]["dip"] = {"from_offered_pps": dips[0]["offered_pps"],
                                "to_offered_pps": dips[-1]["offered_pps"],
                                "lowest_delivered_pps": low["delivered_pps"],
                                "lowest_at_offered_pps": low["offered_pps"]}
    return out


_COLUMNS = (("mode", "mode", "s"), ("offered_pps", "offered/s", "d"),
            ("delivered_pps", "delivered/s", "d"), ("cpu_util", "cpu", "%"),
            ("hardirq_pct", "hardirq%", "f"), ("softirq_pct", "softirq%", "f"),
            ("ksoftirqd_pct", "ksoftirqd%", "f"), ("task_pct", "app%", "f"),
            ("irqs_per_s", "irqs/s", "d"),
            ("ring_drops_pps", "ring drop/s", "d"), ("backlog_drops_pps", "backlog drop/s", "d"),
            ("socket_drops_pps", "socket drop/s", "d"))


def format_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The human-readable table and a summary line per mode."""
    lines = render_columns(rows, _COLUMNS, decimals=1)
    lines.append("")
    for mode, s in summary.items():
        lines.append(f"{mode}: peak {s['peak_delivered_pps']:,} pps delivered at "
                     f"{s['peak_at_offered_pps']:,} offered; at {s['top_offered_pps']:,} "
                     f"offered {s['top_delivered_pps']:,} pps ({100 * s['top_over_peak']:.0f}% "
                     f"of peak)")
        dip = s.get("dip")
        if dip:
            lo, hi = dip["from_offered_pps"], dip["to_offered_pps"]
            band = f"at {lo:,}" if lo == hi else f"between {lo:,} and {hi:,}"
            lines.append(
                f"napi: dips to {dip['lowest_delivered_pps']:,} pps {band} offered: there the "
                "ring still empties between polls, so each packet's interrupt runs "
                "net_rx_action inline, at softirq priority over the application (no "
                "ksoftirqd deferral below the budget); once the ring stays full the IRQ "
                "stays masked and ksoftirqd shares the CPU fairly with the application.")
    return "\n".join(lines) + "\n"


def run(argv: list[str], prog: str = "tuxnet lab livelock") -> int:
    """Entry point of ``tuxnet lab livelock``."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Receive livelock: delivered throughput of interrupt-per-"
        "packet receive vs NAPI as the offered load grows past one CPU's capacity.")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true", help="a short sweep (a few seconds)")
    parser.add_argument("--loads", type=parse_loads, metavar="PPS,PPS,...",
                        help="offered loads in packets/s (overrides the sweep)")
    parser.add_argument("--duration-ms", type=float, metavar="MS",
                        help="simulated time per point (default 40, quick 20)")
    parser.add_argument("--user-cost-ns", type=int, default=LivelockParams.user_cost_ns,
                        metavar="NS", help="application work per packet (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    params = LivelockParams(seed=args.seed, user_cost_ns=args.user_cost_ns)
    apply_sweep_args(params, args, parser, field="loads", arg="loads",
                     quick_values=QUICK_LOADS, quick_duration_ns=20_000_000,
                     quick_warmup_ns=5_000_000)
    rows = run_sweep(params)
    summary = summarize(rows)
    if args.json:
        doc = {"lab": "livelock", "quick": bool(args.quick),
               "params": {"loads": list(params.loads), "duration_ns": params.duration_ns,
                          "warmup_ns": params.warmup_ns, "user_cost_ns": params.user_cost_ns,
                          "rx_ring": params.rx_ring, "seed": params.seed, "ncpus": 1,
                          "frame_bytes": 64},
               "costs": params.costs.as_dict(), "rows": rows, "summary": summary}
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(rows, summary))
    return 0
