"""``tuxnet lab NAME [options]``: run one of the labs (self-contained experiments).

Labs register here: ``LABS[name] = (module, one-line help)``; the module has
``run(argv: list[str], prog: str) -> int`` and takes ``--json`` (one JSON document on
stdout, ``{"lab": NAME, "rows": [...], ...}``) besides its own options. Modules are
imported only when their lab runs.
"""

from __future__ import annotations

import importlib
import json
import sys

__all__ = ["LABS", "main"]

# name -> (module, one-line help)
LABS: dict[str, tuple[str, str]] = {
    "livelock": ("tuxnet.labs.livelock",
                 "receive livelock: interrupt-per-packet receive vs NAPI under overload"),
    "gro": ("tuxnet.labs.gro", "GRO on vs off: packets passed up and CPU per MB of a bulk stream"),
    "rss": ("tuxnet.labs.rss", "RSS: flows over 1 vs 4 RX queues, CPU load and imbalance"),
    "rps-rfs": ("tuxnet.labs.rps_rfs",
                "RPS and RFS: where protocol processing runs for a pinned application"),
    "cc": ("tuxnet.labs.cc", "congestion control: cubic, bbr, reno vs loss, buffer, scenarios"),
    "xdp-ddos": ("tuxnet.labs.xdp_ddos", "a SYN/UDP flood dropped in XDP vs in the stack"),
    "netfilter": ("tuxnet.labs.netfilter",
                  "iptables rules: linear rule lists vs one set lookup, conntrack cost"),
}


def _usage(prog: str) -> str:
    width = max(len(n) for n in LABS)
    lines = [f"usage: {prog} NAME [--json] [options]", "", "labs:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in sorted(LABS.items())]
    lines.append(f"\n'{prog} NAME --help' shows a lab's options.")
    return "\n".join(lines) + "\n"


def main(argv: list[str], prog: str = "tuxnet lab") -> int:
    """Entry point of ``tuxnet lab``."""
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(_usage(prog))
        return 0 if argv else 2
    if argv[0] in ("--list", "-l"):
        if "--json" in argv[1:]:
            json.dump({"labs": [{"name": n, "help": h} for n, (_, h) in sorted(LABS.items())]},
                      sys.stdout)
            sys.stdout.write("\n")
        else:
            for name in sorted(LABS):
                print(name)
        return 0
    name = argv[0]
    entry = LABS.get(name)
    if entry is None:
        sys.stderr.write(f"{prog}: unknown lab {name!r}\n" + _usage(prog))
        return 2
    module = importlib.import_module(entry[0])
    rc: int = module.run(argv[1:], prog=f"{prog} {name}")
    return rc
