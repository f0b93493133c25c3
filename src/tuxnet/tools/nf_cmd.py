"""``tuxnet nf replay --rules RULES [--packets PACKETS.json] [--json [OUT]]``.

Runs an iptables-save ruleset and a packet file of the nf-kernel-diff harness
(/work/shared/tools/nf-kernel-diff) through a simulated tuxnet router with the
harness's topology and prints the harness's report; ``--json`` prints (or writes to
OUT) the same document the harness's ``--json`` writes, for a field-by-field
comparison (tests/netfilter/diff).
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main"]


def _replay(argv: list[str], prog: str) -> int:
    from tuxnet.netfilter.replay import (
        PacketSpec,
        ReplayInputError,
        format_report,
        load_packets,
        run_replay,
    )

    ap = argparse.ArgumentParser(prog=prog, description="Replay a ruleset and packets of "
                                 "the nf-kernel-diff harness through a tuxnet router.")
    ap.add_argument("--rules", required=True, help="iptables-save formatted ruleset")
    ap.add_argument("--packets", help="packet file (JSON list of steps, or setup+packets)")
    ap.add_argument("--json", nargs="?", const="-", metavar="OUT",
                    help="the harness's JSON report (on stdout, or written to OUT)")
    ap.add_argument("--wait", type=float, default=0.05,
                    help="virtual seconds to run after each step (default 0.05)")
    a = ap.parse_args(argv)
    if a.wait < 0:
        ap.error("--wait must not be negative")
    try:
        with open(a.rules, encoding="utf-8") as f:
            rules = f.read()
    except OSError as e:
        print(f"{prog}: {a.rules}: {e.strerror}", file=sys.stderr)
        return 1
    try:
        spec = load_packets(a.packets) if a.packets else PacketSpec()
        rep = run_replay(rules, spec, wait_ns=int(a.wait * 1e9))
    except ReplayInputError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    if a.json == "-":
        json.dump(rep, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(format_report(rep))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(rep, f, indent=1, default=str)
    return 0


def main(argv: list[str], prog: str = "tuxnet nf") -> int:
    """Entry point of ``tuxnet nf``."""
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {prog} replay --rules RULES [--packets PACKETS.json] [--json [OUT]]")
        return 0 if argv else 2
    if argv[0] != "replay":
        print(f"{prog}: unknown command {argv[0]!r} (try 'replay')", file=sys.stderr)
        return 2
    return _replay(argv[1:], f"{prog} replay")
