"""Lab ``rss``: receive-side scaling spreads flows over RX queues, hence over CPUs.

One host with 4 CPUs and a SimNic receives 64-byte UDP frames of many flows (random
source ports, one destination) at a fixed offered rate, the flows taking turns. The
NIC hashes each frame (Toeplitz over addresses and ports) and its indirection table
picks the RX queue; queue N's interrupt goes to CPU N, whose NET_RX softirq runs the
driver poll and the protocol handler. Three set-ups:

* ``1 queue``: every flow on queue 0, so all the work lands on CPU 0, which saturates
  (the NIC drops the excess when the ring is full);
* ``4 queues``: the default indirection table (ethtool_rxfh_indir_default, entries
  round robin) spreads the flows over 4 queues; the imbalance (max/mean of the CPUs'
  packets) is what hashing a finite number of flows leaves;
* ``4 queues, equal 2``: ``ethtool -X eth0 equal 2`` points the table at queues 0-1
  only, so CPUs 2-3 idle.

Each row is one set-up at one flow count: packets per CPU, CPU utilisation, flows
per queue and the imbalance. Until the IPv4 layer exists the lab registers its own
ETH_P_IP handler standing in for ip_rcv + udp_rcv (it charges ip_rcv_ns +
udp_rcv_ns and consumes the packet). GRO is off (UDP would not merge).

``tuxnet lab rss [--json] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from typing import Any

from tuxnet.core.costs import DEFAULT_COSTS, CpuCosts
from tuxnet.core.cpu import current_cpu
from tuxnet.core.dev import dev_open
from tuxnet.core.netcore import get_core, register_netdevice, register_protocol_handler
from tuxnet.core.netdevice import NetDevice
from tuxnet.core.rss import rss_input_ipv4, toeplitz_hash
from tuxnet.drivers.simnic import SimNic
from tuxnet.host import Host
from tuxnet.labs.table import render_grid
from tuxnet.loop import SimLoop
from tuxnet.skb import SkBuff
from tuxnet.wire.build import udp_frame

__all__ = ["CONFIGS", "FULL_FLOWS", "QUICK_FLOWS", "RssParams", "format_table", "run",
           "run_point", "run_sweep", "summarize"]

ETH_P_IP = 0x0800
SRC_IP = "198.18.0.1"
DST_IP = "198.18.0.2"
DST_PORT = 9  # discard
# name -> (RX queues, ethtool -X equal N or 0 for the default table)
CONFIGS: dict[str, tuple[int, int]] = {
    "1 queue": (1, 0),
    "4 queues": (4, 0),
    "4 queues, equal 2": (4, 2),
}
FULL_FLOWS = (4, 16, 64, 256)
QUICK_FLOWS = (64,)


@dataclass
class RssParams:
    """The sweep: flow counts, offered load (packets/s), simulated time per point (the
    first ``warmup_ns`` not measured), CPUs, seed, cost table."""

    flows: tuple[int, ...] = FULL_FLOWS
    offered_pps: int = 800_000
    duration_ns: int = 30_000_000
    warmup_ns: int = 5_000_000
    ncpus: int = 4
    seed: int = 1
    configs: tuple[str, ...] = tuple(CONFIGS)
    costs: CpuCosts = field(default_factory=lambda: DEFAULT_COSTS)


def _flow_ports(nflows: int, seed: int) -> list[int]:
    """``nflows`` distinct random source ports (the clients' ephemeral ports)."""
    rng = random.Random(f"tuxnet:lab:rss:{seed}:{nflows}")
    return rng.sample(range(1024, 65536), nflows)


def run_point(config: str, nflows: int, params: RssParams) -> dict[str, Any]:
    """Simulate one set-up with ``nflows`` flows; returns the table row."""
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {list(CONFIGS)}")
    if nflows < 1:
        raise ValueError("at least one flow")
    queues, equal = CONFIGS[config]
    ncpus = params.ncpus
    loop = SimLoop()
    host = Host(loop, "dut", ncpus=ncpus, seed=params.seed)
    core = get_core(host, costs=params.costs)
    nic = SimNic("eth0", num_queues=queues)
    register_netdevice(host, nic)
    nic.set_features({"rx-gro": False})
    if equal:
        # ethtool -X eth0 equal N: entry i -> queue i % N
        nic.set_rss_indir([i % equal for i in range(len(nic.rss_indir))])
    dev_open(nic)
    counts = [0] * ncpus
    proto_ns = params.costs.ip_rcv_ns + params.costs.udp_rcv_ns

    def udp_rcv(skb: SkBuff, dev: NetDevice) -> None:
        """Stand-in for ip_rcv + udp_rcv: charge, count on this CPU, consume."""
        cpu = current_cpu()
        if cpu is not None:
            cpu._acc += proto_ns
            counts[cpu.index] += 1
        host.consume_skb(skb, "skb_consume_udp")

    register_protocol_handler(host, ETH_P_IP, udp_rcv, name="udp_rcv")
    ports = _flow_ports(nflows, params.seed)
    src_mac = b"\x02\x00\x00\x00\x00\x01"
    frames = [bytes(udp_frame(src_mac, nic.dev_addr, SRC_IP, DST_IP, p, DST_PORT, bytes(18)))
              for p in ports]
    saddr = bytes(map(int, SRC_IP.split(".")))
    daddr = bytes(map(int, DST_IP.split(".")))
    indir = nic.rss_indir
    queue_flows = [0] * queues
    for p in ports:
        h = toeplitz_hash(nic.rss_key, rss_input_ipv4(saddr, daddr, p, DST_PORT))
        queue_flows[indir[h % len(indir)] if queues > 1 else 0] += 1

    end = params.duration_ns
    interval = 1_000_000_000 / params.offered_pps
    receive = nic.receive_frame
    sent = [0]

    def source() -> None:
        n = sent[0]
        receive(frames[n % nflows])
        sent[0] = n + 1
        t = int((n + 1) * interval)
        if t < end:
            loop.call_at(t, source)

    def snapshot() -> tuple[list[int], list[int], int]:
        return list(counts), [sum(c.busy_ns) for c in core.cpus], nic.hw_missed

    loop.call_at(0, source)
    marks: list[tuple[list[int], list[int], int]] = []
    loop.call_at(params.warmup_ns, lambda: marks.append(snapshot()))
    loop.run(end)
    (c0, b0, d0), (c1, b1, d1) = marks[0], snapshot()
    window = end - params.warmup_ns
    per_s = 1e9 / window
    pkts = [b - a for a, b in zip(c0, c1, strict=True)]
    total = sum(pkts)
    mean = total / ncpus
    return {
        "config": config,
        "queues": queues,
        "indir": f"equal {equal}" if equal else "default",
        "flows": nflows,
        "offered_pps": params.offered_pps,
        "delivered_pps": round(total * per_s),
        "cpu_pps": [round(n * per_s) for n in pkts],
        "cpu_share": [round(n / total, 3) if total else 0.0 for n in pkts],
        "cpu_util": [round(min(1.0, (b - a) / window), 3) for a, b in zip(b0, b1, strict=True)],
        "queue_flows": queue_flows,
        "imbalance": round(max(pkts) / mean, 3) if total else 0.0,
        "ring_drops_pps": round((d1 - d0) * per_s),
    }


def run_sweep(params: RssParams) -> list[dict[str, Any]]:
    """Every set-up at every flow count."""
    return [run_point(cfg, n, params) for n in params.flows for cfg in params.configs]


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per set-up, at the largest flow count: delivered rate, imbalance, busiest CPU."""
    out: dict[str, Any] = {}
    if not rows:
        return out
    top = max(r["flows"] for r in rows)
    for r in rows:
        if r["flows"] != top:
            continue
        out[r["config"]] = {"flows": top, "delivered_pps": r["delivered_pps"],
                            "imbalance": r["imbalance"],
                            "busiest_cpu_util": max(r["cpu_util"]),
                            "cpus_used": sum(1 for n in r["cpu_pps"] if n)}
    return out


def format_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The human-readable table (per CPU: packets/s and utilisation) and a summary."""
    ncpus = len(rows[0]["cpu_pps"]) if rows else 0
    head = ["config", "flows", "offered/s", "delivered/s"]
    head += [f"cpu{i} pps/util" for i in range(ncpus)]
    head += ["flows/queue", "imbalance", "ring drop/s"]
    cells = [head]
    for r in rows:
        line = [r["config"], str(r["flows"]), f"{r['offered_pps']:,}", f"{r['delivered_pps']:,}"]
        line += [f"{p:,} {100 * u:.0f}%" for p, u in zip(r["cpu_pps"], r["cpu_util"], strict=True)]
        line += ["/".join(map(str, r["queue_flows"])), f"{r['imbalance']:.2f}",
                 f"{r['ring_drops_pps']:,}"]
        cells.append(line)
    lines = render_grid(cells)
    lines.append("")
    for cfg, s in summary.items():
        lines.append(f"{cfg}: {s['flows']} flows on {s['cpus_used']} CPU(s), imbalance "
                     f"{s['imbalance']:.2f} (max/mean packets per CPU), busiest CPU "
                     f"{100 * s['busiest_cpu_util']:.0f}% busy, {s['delivered_pps']:,} pps "
                     "delivered")
    return "\n".join(lines) + "\n"


def _flows(text: str) -> tuple[int, ...]:
    try:
        flows = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of flow counts: {text!r}") from None
    if not flows or min(flows) < 1:
        raise argparse.ArgumentTypeError("flow counts must be positive")
    return flows


def run(argv: list[str], prog: str = "tuxnet lab rss") -> int:
    """Entry point of ``tuxnet lab rss``."""
    parser = argparse.ArgumentParser(
        prog=prog, description="RSS: how many flows over 1 or 4 RX queues load 4 CPUs, "
        "and what `ethtool -X equal 2` does to that.")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true", help="64 flows only, shorter runs")
    parser.add_argument("--flows", type=_flows, metavar="N,N,...",
                        help="flow counts (default 4,16,64,256; quick 64)")
    parser.add_argument("--offered-pps", type=int, default=RssParams.offered_pps,
                        metavar="PPS", help="offered load (default %(default)s)")
    parser.add_argument("--duration-ms", type=float, metavar="MS",
                        help="simulated time per point (default 30, quick 15)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.offered_pps <= 0:
        parser.error("--offered-pps must be positive")
    params = RssParams(seed=args.seed, offered_pps=args.offered_pps)
    if args.quick:
        params.flows = QUICK_FLOWS
        params.duration_ns = 15_000_000
        params.warmup_ns = 3_000_000
    if args.flows:
        params.flows = args.flows
    if args.duration_ms is not None:
        if args.duration_ms <= 0:
            parser.error("--duration-ms must be positive")
        params.duration_ns = int(args.duration_ms * 1e6)
        params.warmup_ns = params.duration_ns // 5
    rows = run_sweep(params)
    summary = summarize(rows)
    if args.json:
        doc = {"lab": "rss", "quick": bool(args.quick),
               "params": {"flows": list(params.flows), "offered_pps": params.offered_pps,
                          "duration_ns": params.duration_ns, "warmup_ns": params.warmup_ns,
                          "ncpus": params.ncpus, "seed": params.seed, "frame_bytes": 64,
                          "configs": list(params.configs)},
               "costs": params.costs.as_dict(), "rows": rows, "summary": summary}
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(rows, summary))
    return 0
