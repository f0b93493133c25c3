"""The text report, as the harness's ``print_report`` prints it."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["INTERESTING_SNMP", "ct_str", "format_report"]

INTERESTING_SNMP = ("IpInReceives", "IpForwDatagrams", "IpInDelivers", "IpOutRequests",
                    "IcmpOutMsgs", "TcpOutRsts", "TcpExtTCPTimeWaitOverflow", "IpInDiscards",
                    "IpOutNoRoutes")


def ct_str(e: dict[str, Any]) -> str:
    """One conntrack row: ``tcp SYN_SENT 119 | orig ... | reply ... [UNREPLIED]``."""
    def tup(d: dict[str, str]) -> str:
        ks = [k for k in ("src", "dst", "sport", "dport", "type", "code", "id") if k in d]
        return " ".join(f"{k}={d[k]}" for k in ks)
    flags = " ".join(f"[{f}]" for f in e["flags"])
    return (f"{e['proto']} {e.get('state', '-')} {e['timeout']} | orig {tup(e['orig'])} "
            f"| reply {tup(e['reply'])} {flags}")


def format_report(rep: dict[str, Any]) -> str:
    out = [f"kernel {rep['kernel']}, backend {rep['backend']}"]
    for st in rep["steps"]:
        p = st["input"]
        if "sent" in st:
            out.append(f"\n#{st['n']} from {p.get('from', 'lan'):<5} {st['sent']}")
        else:
            out.append(f"\n#{st['n']} {json.dumps(p)}")
            out.extend("   | " + line for line in st.get("output", "").splitlines())
        for side in ("lan", "wan"):
            out.extend(f"   -> out {side}: {x}" for x in st["out_" + side])
        if "sent" in st and not st["out_lan"] and not st["out_wan"]:
            out.append("   -> nothing left the DUT")
        for k, v in sorted(st["counters"].items()):
            out.append(f"   ctr {k:<28} +{v['pkts']} pkt +{v['bytes']} B  {v['rule']}")
        # the harness filters on names without the ':' (which its keys have), as is
        sn = {k: v for k, v in st["snmp"].items() if k in INTERESTING_SNMP}
        if sn:
            out.append("   snmp " + " ".join(f"{k}+{v}" for k, v in sorted(sn.items())))
        out.extend("   ct  " + ct_str(e) for e in st["conntrack"])
    return "\n".join(out) + "\n"
