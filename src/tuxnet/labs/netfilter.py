"""Lab ``netfilter``: what the filter table costs a router per packet, and conntrack.

The router is the one ``tuxnet nf replay`` uses (the nf-kernel-diff topology: lan0
10.1.0.1/30, wan0 10.2.0.1/30, one CPU). A UDP stream from the LAN side to 10.9.9.9
(5,000 packets/s, below saturation) is forwarded while the filter table's FORWARD chain holds:

* ``linear N``: N rules that never match (``-s 10.200.x.y/32 -j DROP``): every packet
  is compared with all of them (ipt_do_table walks the chain) before the ACCEPT policy;
* ``ipset hash:ip``: one rule ``-m set --match-set blk src -j DROP`` over a set of
  ``set_members`` addresses: one hash lookup, whatever the size;
* ``nft set``: the same as an nftables named set (``ip saddr @blk drop``, a hash).

Per row: simulated CPU time per forwarded packet (driver, IPv4, netfilter, transmit;
hard IRQ + softirq), the netfilter part (over the empty table's), the single-CPU
forwarding ceiling 1 s / cost, and how many packets got through. The per-rule and per
lookup prices come from the cost table (``nf_rule_ns``, ``nf_set_lookup_ns``), the rest
from the stack's own accounting.

Conntrack rows: the cost of a tracked established flow and of a new flow per packet
(a ``-m conntrack`` rule turns tracking on, as in Linux), the memory of one entry
(tracemalloc over ``ct_entries`` new flows) and what happens when the table is full
(``nf_conntrack_max`` lowered to ``ct_max``: Linux drops the new flow's packet,
"nf_conntrack: table full, dropping packet", after early_drop found nothing to evict).

``tuxnet lab netfilter [--json] [--quick] [--rules 0,100,1000,10000]
[--set-members N] [--packets N]``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

from tuxnet.core.cpu import CLS_HARDIRQ, CLS_SOFTIRQ, CLS_TASK
from tuxnet.core.netcore import get_core
from tuxnet.labs.table import render_columns
from tuxnet.netfilter.conntrack import conntrack_dump
from tuxnet.netfilter.replay.topology import MAC, Router, build_router, mac_bytes
from tuxnet.netfilter.rule import IptEntry
from tuxnet.netfilter.sets import NftLookup, NftSet
from tuxnet.netfilter.tables import nf_net
from tuxnet.wire.build import udp_frame

__all__ = ["NfLabParams", "format_table", "run", "run_case"]

_SEC = 1_000_000_000


@dataclass
class NfLabParams:
    rule_counts: tuple[int, ...] = (0, 100, 1000, 10000)
    set_members: int = 10000
    packets: int = 200
    rate_pps: int = 5_000  # 200 µs apart: below saturation even with 10^4 rules
    ct_entries: int = 1000
    ct_max: int = 64
    seed: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def _restore(r: Router, text: str) -> None:
    from tuxnet.tools import iptables_restore_cmd

    err = io.StringIO()
    if iptables_restore_cmd.run(r.host, [], io.StringIO(), err, stdin=text) != 0:
        raise RuntimeError(err.getvalue())


def _filter(*rules: str) -> str:
    return "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                      ":OUTPUT ACCEPT [0:0]", *rules, "COMMIT"]) + "\n"


def _addr(i: int) -> str:
    return f"10.{200 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}"


def _setup(r: Router, kind: str, n: int) -> None:
    if kind == "linear":
        _restore(r, _filter(*(f"-A FORWARD -s {_addr(i)}/32 -j DROP" for i in range(n))))
    elif kind == "ipset":
        store = nf_net(r.host).ipsets
        s = store.create("blk", "hash:ip", maxelem=max(65536, n))
        for i in range(n):
            for e in s.parse_elems(_addr(i)):
                s.add(e, False)
        _restore(r, _filter("-A FORWARD -m set --match-set blk src -j DROP"))
    elif kind == "nftset":
        _restore(r, _filter())
        nset = nf_net(r.host).nftsets.add_set(NftSet("blk", ("ip saddr",)))
        for i in range(n):
            a = [int(x) for x in _addr(i).split(".")]
            nset.add(((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3],))
        entry = IptEntry()
        entry.matches = [NftLookup(nset)]
        entry.verdict = "DROP"
        nf_net(r.host).tables["filter"].chains["FORWARD"].rules.append(entry)
    elif kind in ("ct-established", "ct-new", "ct-full"):
        _restore(r, _filter("-A FORWARD -m conntrack --ctstate INVALID -j DROP"))
    else:
        raise ValueError(f"unknown case {kind!r}")


def _busy(r: Router) -> int:
    cpu = get_core(r.host).cpus[0]
    return int(cpu.busy_ns[CLS_HARDIRQ] + cpu.busy_ns[CLS_SOFTIRQ] + cpu.busy_ns[CLS_TASK])


def _stream(r: Router, packets: int, rate_pps: int, new_flows: bool) -> tuple[int, int]:
    """Send ``packets`` UDP datagrams lan -> 10.9.9.9; (CPU ns spent, forwarded)."""
    nic = r.nics["lan"]
    src, dst = mac_bytes(MAC["lan"]), mac_bytes(MAC["dut_lan"])
    gap = _SEC // rate_pps
    loop = r.loop
    t0 = loop.now_ns() + gap
    r.peers["wan"].take()
    busy0 = _busy(r)

    def send(i: int) -> None:
        sport = 1024 + i % 60000 if new_flows else 40000
        nic.receive_frame(udp_frame(src, dst, "10.1.0.2", "10.9.9.9", sport, 9,
                                    b"x" * 18, True, 64, 0, i & 0xFFFF, 0))

    for i in range(packets):
        loop.call_at(t0 + i * gap, send, i)
    loop.run(t0 + packets * gap + 10_000_000)
    return _busy(r) - busy0, len(r.peers["wan"].take())


def run_case(kind: str, n: int, params: NfLabParams) -> dict[str, Any]:
    """One row: the router with ``kind``/``n`` rules forwarding the stream."""
    r = build_router(seed=params.seed)
    _setup(r, kind, n)
    _stream(r, 20, params.rate_pps, kind == "ct-new")  # warm-up: neighbours, caches
    busy, fwd = _stream(r, params.packets, params.rate_pps, kind == "ct-new")
    names = {"linear": f"linear, {n:,} non-matching rules",
             "ipset": f"ipset hash:ip, {n:,} members (1 rule)",
             "nftset": f"nft named set, {n:,} members (1 rule)",
             "ct-established": "conntrack, one established flow",
             "ct-new": "conntrack, a new flow per packet"}
    per = busy / max(1, fwd)
    return {"case": names[kind], "kind": kind, "n": n, "packets": params.packets,
            "forwarded": fwd, "cpu_ns_per_pkt": round(per), "max_kpps": round(1e6 / per, 1)}


def _ct_memory(params: NfLabParams) -> dict[str, Any]:
    """Bytes of Python heap per conntrack entry: tracemalloc over ``ct_entries`` flows."""
    r = build_router(seed=params.seed)
    _setup(r, "ct-new", 0)
    _stream(r, 4, params.rate_pps, True)
    before = len(conntrack_dump(r.host))
    tracemalloc.start()
    m0 = tracemalloc.get_traced_memory()[0]
    _stream(r, params.ct_entries, params.rate_pps, True)
    m1 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    entries = len(conntrack_dump(r.host)) - before
    return {"case": "conntrack memory per entry", "entries": entries,
            "bytes_per_entry": round((m1 - m0) / max(1, entries))}


def _ct_full(params: NfLabParams) -> dict[str, Any]:
    """New flows past nf_conntrack_max: how many get through."""
    r = build_router(seed=params.seed)
    name = "net.netfilter.nf_conntrack_max"
    if name in r.host.sysctl:
        r.host.sysctl.set(name, str(params.ct_max))
    _setup(r, "ct-full", 0)
    n = params.ct_max * 2
    _, fwd = _stream(r, n, params.rate_pps, True)
    return {"case": f"conntrack table full (nf_conntrack_max {params.ct_max})",
            "new_flows": n, "forwarded": fwd, "dropped": n - fwd}


def run_all(params: NfLabParams) -> dict[str, Any]:
    rows = [run_case("linear", n, params) for n in params.rule_counts]
    rows.append(run_case("ipset", params.set_members, params))
    rows.append(run_case("nftset", params.set_members, params))
    base = next((x["cpu_ns_per_pkt"] for x in rows if x["kind"] == "linear" and x["n"] == 0),
                None)
    if base is None:
        base = run_case("linear", 0, params)["cpu_ns_per_pkt"]
    for x in rows:
        x["nf_ns_per_pkt"] = x["cpu_ns_per_pkt"] - base
    ct_rows = [run_case("ct-established", 0, params), run_case("ct-new", 0, params)]
    for x in ct_rows:
        x["nf_ns_per_pkt"] = x["cpu_ns_per_pkt"] - base
    conntrack = {"rows": [*ct_rows, _ct_memory(params), _ct_full(params)]}
    return {"lab": "netfilter", "baseline_cpu_ns_per_pkt": base, "rows": rows,
            "conntrack": conntrack}


COLUMNS = (("case", "case", "s"), ("forwarded", "fwd", "d"),
           ("cpu_ns_per_pkt", "CPU ns/pkt", "d"), ("nf_ns_per_pkt", "netfilter ns/pkt", "d"),
           ("max_kpps", "max kpps (1 CPU)", "f"))


def format_table(doc: dict[str, Any]) -> str:
    lines = ["Filter table cost per forwarded packet (simulated CPU, one core)", ""]
    lines += render_columns(doc["rows"], COLUMNS)
    lines += ["", "Conntrack"]
    ct = doc["conntrack"]
    per = [x for x in ct["rows"] if "cpu_ns_per_pkt" in x]
    lines += render_columns(per, COLUMNS)
    for x in ct["rows"]:
        if "bytes_per_entry" in x:
            lines.append(f"  {x['case']}: {x['bytes_per_entry']:,} B "
                         f"({x['entries']:,} entries)")
        elif "new_flows" in x:
            lines.append(f"  {x['case']}: {x['new_flows']} new flows, "
                         f"{x['forwarded']} forwarded, {x['dropped']} dropped")
    return "\n".join(lines) + "\n"


def _counts(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of rule counts: {text!r}") from None
    if not vals or min(vals) < 0:
        raise argparse.ArgumentTypeError("rule counts must be >= 0")
    return vals


def run(argv: list[str], prog: str = "tuxnet lab netfilter") -> int:
    """Entry point of ``tuxnet lab netfilter``."""
    ap = argparse.ArgumentParser(prog=prog, description="Per-packet cost of linear "
                                 "iptables rules vs one set lookup, and conntrack.")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    ap.add_argument("--rules", type=_counts, metavar="N,N,...",
                    help="rule counts (default 0,100,1000,10000)")
    ap.add_argument("--set-members", type=int, metavar="N", help="set size (default 10000)")
    ap.add_argument("--packets", type=int, metavar="N", help="packets per row (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    p = NfLabParams(seed=a.seed)
    if a.quick:
        p.rule_counts, p.set_members, p.packets, p.ct_entries = (0, 10, 100), 100, 50, 100
    if a.rules is not None:
        p.rule_counts = a.rules
    if a.set_members is not None:
        if a.set_members < 1:
            ap.error("--set-members must be positive")
        p.set_members = a.set_members
    if a.packets is not None:
        if a.packets < 1:
            ap.error("--packets must be positive")
        p.packets = a.packets
    doc = run_all(p)
    if a.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(doc))
    return 0
