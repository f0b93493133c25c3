"""``tuxnet xdp``: XDP tools.

    tuxnet xdp run OBJ.o [--sec S] --pcap IN [--out OUT.pcap] [--map-set NAME:KEY:VALUE]
                   [--cpus N] [--json]

``run`` attaches the program to a simulated NIC, receives every frame of the capture
through the driver's XDP hook and reports the actions (per-action counts, or with
``--json`` one JSON document whose ``frames`` hold one record per input frame:
``{"index", "action", "len_out", "out_hex", "out"}``); ``--out`` writes the frames
that left (XDP_TX, redirects; rewritten) and those passed up (see tuxnet.xdp.run).
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main"]


def _run(argv: list[str], prog: str) -> int:
    p = argparse.ArgumentParser(prog=f"{prog} run",
                                description="Run an XDP program over a capture.")
    p.add_argument("obj", help="eBPF object (clang -O2 -g -target bpf -c)")
    p.add_argument("--sec", help="program: section or function name (default: the only "
                   "XDP program)")
    p.add_argument("--pcap", required=True, help="input capture (pcap or pcapng)")
    p.add_argument("--out", help="write the frames that came out to this pcap")
    p.add_argument("--map-set", action="append", default=[], metavar="NAME:KEY:VALUE",
                   help="set a map entry first (integers; repeatable)")
    p.add_argument("--cpus", type=int, default=1, help="simulated CPUs (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    ns = p.parse_args(argv)
    from tuxnet.bpf.errors import BpfError
    from tuxnet.pcap import PcapError
    from tuxnet.xdp.run import format_report, parse_map_set, run_capture
    try:
        sets = [parse_map_set(t) for t in ns.map_set]
        if ns.cpus < 1:
            raise ValueError("--cpus must be at least 1")
        rep = run_capture(ns.obj, ns.pcap, ns.sec, out=ns.out, map_sets=sets, ncpus=ns.cpus)
    except (OSError, ValueError, BpfError, PcapError) as e:
        sys.stderr.write(f"{prog} run: {e}\n")
        log = getattr(e, "log", "")
        if log:
            sys.stderr.write(log if log.endswith("\n") else log + "\n")
        return 1
    if ns.json:
        json.dump(rep.as_dict(), sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_report(rep, ns.pcap, ns.out))
    return 0


def main(argv: list[str], prog: str = "tuxnet xdp") -> int:
    """Entry point of ``tuxnet xdp``."""
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(f"usage: {prog} run OBJ.o [--sec S] --pcap IN [--out OUT.pcap] "
                         "[--map-set NAME:KEY:VALUE] [--cpus N] [--json]\n")
        return 0 if argv else 2
    if argv[0] == "run":
        return _run(argv[1:], prog)
    sys.stderr.write(f"{prog}: unknown command {argv[0]!r} (try 'run')\n")
    return 2
