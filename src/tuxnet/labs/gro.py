"""Lab ``gro``: what generic receive offload saves on a bulk TCP stream.

One host with one CPU and a SimNic with one RX queue receives a single bulk TCP flow:
in-order segments of ``mss`` (1448) payload bytes with the timestamp option (the
1514-byte frames of a 1500-MTU Linux sender), back to back at the offered line rate.
The NIC coalesces interrupts as its defaults say (rx-usecs 16, rx-frames 32); NAPI
polls the ring and hands each frame to ``napi_gro_receive``. With GRO on
(``ethtool -K eth0 gro on``, the default) consecutive segments merge into one skb of
up to 64 KiB that goes up the stack once; with GRO off every segment goes up alone.

Until the TCP receive path exists the lab registers its own ETH_P_IP handler standing
in for ip_rcv + tcp_v4_rcv's fast path: per skb it charges ``ip_rcv_ns`` +
``tcp_fast_path_ns`` of the cost table, whatever the skb's size, which is where GRO's
saving comes from (the per-segment driver and GRO costs stay). Rows:

* ``packets_in``: frames that reached the NIC (``ring_drops`` of them found the RX
  ring full); ``packets_up``: skbs passed up the stack;
  ``segs_per_skb``: TCP segments per skb passed up;
* ``cpu_ns_per_mb``: simulated CPU time (hard IRQ + softirq, the handler included) per
  MB (10^6 bytes) of TCP payload delivered; ``cpu_util`` and ``delivered_gbps``.

The timestamp option changes every millisecond (TCP's 1 kHz clock), so a GRO chain
also ends there (flush reason ``opts``). The SimNic has no RX checksum offload
(rx-checksumming off [fixed]): GRO verifies each segment's TCP checksum in software
(``csum_sw``), which the cost table does not charge; with GRO off tcp_v4_rcv would do
the same check. Both show in the notes.

``tuxnet lab gro [--json] [--quick] [--rate-gbit G] [--duration-ms MS]``.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from dataclasses import dataclass, field
from typing import Any

from tuxnet.core.costs import DEFAULT_COSTS, CpuCosts
from tuxnet.core.cpu import CLS_HARDIRQ, CLS_SOFTIRQ, CLS_TASK, Cpu, current_cpu
from tuxnet.core.dev import dev_open
from tuxnet.core.gro import GroCell, GroStats
from tuxnet.core.netcore import NetCore, get_core, register_netdevice, register_protocol_handler
from tuxnet.core.netdevice import NetDevice
from tuxnet.drivers.simnic import SimNic
from tuxnet.host import Host
from tuxnet.labs.table import render_columns
from tuxnet.loop import SimLoop
from tuxnet.skb import SkBuff
from tuxnet.wire.build import tcp_frame

__all__ = ["GroParams", "format_table", "run", "run_point", "summarize"]

ETH_P_IP = 0x0800
MODES = ("on", "off")
SRC_MAC = b"\x02\x00\x00\x00\x00\x01"
_TCP_HDR = 20 + 12  # 20 bytes + NOP, NOP, timestamps (RFC 7323)
_IP_HDR = 20
_WIRE_OVERHEAD = 24  # preamble + SFD (8), FCS (4), inter-frame gap (12)
_TS = struct.Struct("!BBBBII")  # NOP NOP kind=8 len=10 tsval tsecr


@dataclass
class GroParams:
    """The stream: offered line rate, simulated time (the first ``warmup_ns`` not
    measured), segment size, RX ring, cost table."""

    rate_bps: int = 10_000_000_000
    duration_ns: int = 20_000_000
    warmup_ns: int = 5_000_000
    mss: int = 1448
    rx_ring: int = 1024
    seed: int = 1
    costs: CpuCosts = field(default_factory=lambda: DEFAULT_COSTS)


class _TcpStandIn:
    """ip_rcv + tcp_v4_rcv fast path stand-in: per-skb cost, counts, consume."""

    def __init__(self, host: Host, core: NetCore) -> None:
        self.host = host
        self.core = core
        self.packets = 0
        self.segs = 0
        self.payload = 0

    def rcv(self, skb: SkBuff, dev: NetDevice) -> None:
        costs = self.core.costs
        cpu = current_cpu()
        if cpu is not None:
            cpu._acc += costs.ip_rcv_ns + costs.tcp_fast_path_ns
        self.packets += 1
        self.segs += skb.gso_segs if skb.gso_size else 1
        self.payload += skb.len - _IP_HDR - _TCP_HDR
        self.host.consume_skb(skb, "tcp_rcv_established")


def _snapshot(cpu: Cpu, nic: SimNic, tcp: _TcpStandIn, gro: GroStats | None,
              arrived: int) -> dict[str, int]:
    return {"busy": cpu.busy_ns[CLS_HARDIRQ] + cpu.busy_ns[CLS_SOFTIRQ]
            + cpu.busy_ns[CLS_TASK], "irqs": cpu.irq_count,
            "packets_in": arrived, "packets_up": tcp.packets,
            "segs_up": tcp.segs, "payload": tcp.payload, "ring_drops": nic.hw_missed,
            "csum_sw": gro.csum_sw if gro is not None else 0,
            "flush_opts": gro.flush_opts if gro is not None else 0}


def run_point(gro: str, params: GroParams) -> dict[str, Any]:
    """One run of the stream with GRO ``on`` or ``off``; returns the table row."""
    if gro not in MODES:
        raise ValueError(f"gro must be one of {MODES}")
    loop = SimLoop()
    host = Host(loop, "dut", ncpus=1, seed=params.seed)
    core = get_core(host, costs=params.costs)
    cpu = core.cpus[0]
    nic = SimNic("eth0", num_queues=1, rx_ring=params.rx_ring)
    register_netdevice(host, nic)
    nic.set_features({"rx-gro": gro == "on"})
    dev_open(nic)
    tcp = _TcpStandIn(host, core)
    register_protocol_handler(host, ETH_P_IP, tcp.rcv, name="ip_rcv")
    napi = nic.rx_queues[0].napi
    cell = napi.gro if napi is not None else None
    stats: GroStats | None = cell.stats if isinstance(cell, GroCell) else None
    payload = bytes(range(256)) * (params.mss // 256 + 1)
    payload = payload[:params.mss]
    frame_len = 14 + _IP_HDR + _TCP_HDR + params.mss
    interval = (frame_len + _WIRE_OVERHEAD) * 8 * 1_000_000_000 / params.rate_bps
    end = params.duration_ns
    receive = nic.receive_frame
    sent = [0]

    def source() -> None:
        i = sent[0]
        now = loop.now_ns()
        opts = _TS.pack(1, 1, 8, 10, (now // 1_000_000) & 0xFFFFFFFF, 1)
        receive(tcp_frame(SRC_MAC, nic.dev_addr, "198.18.0.1", "198.18.0.2", 40000, 5201,
                          seq=1 + i * params.mss, ack_seq=1, window=502, payload=payload,
                          options=opts, ident=i & 0xFFFF))
        sent[0] = i + 1
        t = int((i + 1) * interval)
        if t < end:
            loop.call_at(t, source)

    loop.call_at(0, source)
    marks: list[dict[str, int]] = []
    loop.call_at(params.warmup_ns,
                 lambda: marks.append(_snapshot(cpu, nic, tcp, stats, sent[0])))
    loop.run(end)
    a = marks[0]
    b = _snapshot(cpu, nic, tcp, stats, sent[0])
    d = {k: b[k] - a[k] for k in a}
    window = end - params.warmup_ns
    mb = d["payload"] / 1e6
    return {
        "gro": gro,
        "offered_gbps": round(params.rate_bps / 1e9, 3),
        "packets_in": d["packets_in"],
        "packets_up": d["packets_up"],
        "segs_per_skb": round(d["segs_up"] / d["packets_up"], 2) if d["packets_up"] else 0.0,
        "cpu_ns_per_mb": round(d["busy"] / mb) if mb else 0,
        "cpu_util": round(min(1.0, d["busy"] / window), 3),
        "delivered_gbps": round(d["payload"] * 8 / window, 3),
        "ring_drops": d["ring_drops"],
        "irqs": d["irqs"],
        "csum_sw": d["csum_sw"],
        "flush_opts": d["flush_opts"],
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """GRO off over GRO on: skbs passed up and CPU per MB."""
    by = {r["gro"]: r for r in rows}
    on, off = by.get("on"), by.get("off")
    if on is None or off is None or not on["packets_up"] or not on["cpu_ns_per_mb"]:
        return {}
    return {"packets_up_off_over_on": round(off["packets_up"] / on["packets_up"], 2),
            "cpu_per_mb_off_over_on": round(off["cpu_ns_per_mb"] / on["cpu_ns_per_mb"], 2)}


NOTES = (
    "SimNic has no RX checksum offload (rx-checksumming: off [fixed]): GRO verified "
    "csum_sw TCP checksums in software; the cost table does not charge them (with GRO "
    "off tcp_v4_rcv would check them instead).",
    "The TCP receive side is a stand-in charging ip_rcv_ns + tcp_fast_path_ns per skb "
    "passed up (no socket, no ACKs).",
)

_COLUMNS = (("gro", "gro", "s"), ("offered_gbps", "offered Gb/s", "f"),
            ("packets_in", "packets in", "d"), ("packets_up", "packets up", "d"),
            ("segs_per_skb", "segs/skb", "f"), ("cpu_ns_per_mb", "cpu ns/MB", "d"),
            ("cpu_util", "cpu", "%"), ("delivered_gbps", "delivered Gb/s", "f"),
            ("ring_drops", "ring drops", "d"), ("irqs", "irqs", "d"))


def format_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The human-readable table, the ratios and the notes."""
    lines = render_columns(rows, _COLUMNS, decimals=2)
    lines.append("")
    if summary:
        lines.append(f"GRO off passes up {summary['packets_up_off_over_on']:.1f}x as many "
                     f"skbs and uses {summary['cpu_per_mb_off_over_on']:.2f}x the CPU per MB.")
    csum = sum(r["csum_sw"] for r in rows)
    lines += [f"note: {n}".replace("csum_sw", f"{csum:,}") for n in NOTES]
    return "\n".join(lines) + "\n"


def run(argv: list[str], prog: str = "tuxnet lab gro") -> int:
    """Entry point of ``tuxnet lab gro``."""
    parser = argparse.ArgumentParser(
        prog=prog, description="GRO on vs off on a bulk TCP stream: packets passed up "
        "the stack and simulated CPU time per MB.")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true", help="a short run (about a second)")
    parser.add_argument("--rate-gbit", type=float, metavar="G",
                        help="offered line rate in Gbit/s (default 10)")
    parser.add_argument("--duration-ms", type=float, metavar="MS",
                        help="simulated time per run (default 20, quick 6)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    params = GroParams(seed=args.seed)
    if args.quick:
        params.duration_ns = 6_000_000
        params.warmup_ns = 2_000_000
    if args.rate_gbit is not None:
        if not 0 < args.rate_gbit <= 400:
            parser.error("--rate-gbit must be in (0, 400]")
        params.rate_bps = int(args.rate_gbit * 1e9)
    if args.duration_ms is not None:
        if args.duration_ms <= 0:
            parser.error("--duration-ms must be positive")
        params.duration_ns = int(args.duration_ms * 1e6)
        params.warmup_ns = params.duration_ns // 4
    rows = [run_point(mode, params) for mode in MODES]
    summary = summarize(rows)
    if args.json:
        doc = {"lab": "gro", "quick": bool(args.quick),
               "params": {"rate_bps": params.rate_bps, "duration_ns": params.duration_ns,
                          "warmup_ns": params.warmup_ns, "mss": params.mss,
                          "rx_ring": params.rx_ring, "seed": params.seed, "ncpus": 1,
                          "frame_bytes": 14 + _IP_HDR + _TCP_HDR + params.mss},
               "costs": params.costs.as_dict(), "rows": rows, "summary": summary,
               "notes": list(NOTES)}
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(rows, summary))
    return 0
