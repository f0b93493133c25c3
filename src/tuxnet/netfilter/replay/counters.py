"""Rule and policy counters as the harness reads them (``iptables-save -c``), and
/proc/net/snmp + /proc/net/netstat as one flat dict.

Keys: ``table/CHAIN#n`` for the n-th rule of a chain (value: packets, bytes, the rule
as iptables-save prints it) and ``table/CHAIN:policy(POLICY)`` for a built-in chain;
snmp keys are ``Group:Field`` (``Ip:InReceives``, ``TcpExt:TW``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tuxnet.netfilter.printer import save_table
from tuxnet.netfilter.tables import nf_net

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["Counters", "counter_delta", "read_counters", "snmp", "snmp_delta"]

Counters = dict[str, tuple[int, int, str]]
_RULE = re.compile(r"^\[(\d+):(\d+)\] (-A (\S+) .*)$")
_POL = re.compile(r"^:(\S+) (\S+) \[(\d+):(\d+)\]$")
# iptables-save's table order (see tables.py)
_SAVE_ORDER = ("mangle", "security", "raw", "filter", "nat")


def read_counters(host: Host) -> Counters:
    """The counters of every existing table, parsed from the iptables-save -c text."""
    nf = nf_net(host)
    res: Counters = {}
    for name in _SAVE_ORDER:
        table = nf.tables.get(name)
        if table is None:
            continue
        idx: dict[str, int] = {}
        for line in save_table(table, True, None).splitlines():
            if (m := _POL.match(line)) is not None:
                if m.group(2) != "-":
                    res[f"{name}/{m.group(1)}:policy({m.group(2)})"] = (
                        int(m.group(3)), int(m.group(4)), "")
            elif (m := _RULE.match(line)) is not None:
                ch = m.group(4)
                idx[ch] = idx.get(ch, 0) + 1
                res[f"{name}/{ch}#{idx[ch]}"] = (int(m.group(1)), int(m.group(2)), m.group(3))
    return res


def counter_delta(a: Counters, b: Counters) -> dict[str, dict[str, Any]]:
    """The counters that moved from ``a`` to ``b``."""
    d: dict[str, dict[str, Any]] = {}
    for k, (p, by, t) in b.items():
        p0, b0, _ = a.get(k, (0, 0, ""))
        if p != p0 or by != b0:
            d[k] = {"pkts": p - p0, "bytes": by - b0, "rule": t}
    return d


def snmp(host: Host) -> dict[str, int]:
    """/proc/net/snmp and /proc/net/netstat: header/value line pairs, ``Group:Field``."""
    lines = (host.mib.format_snmp() + host.mib.format_netstat()).splitlines()
    lines = [ln for ln in lines if ln.strip()]
    vals: dict[str, int] = {}
    for h, v in zip(lines[0::2], lines[1::2], strict=False):
        hk, vk = h.split(), v.split()
        for k, x in zip(hk[1:], vk[1:], strict=False):
            vals[hk[0] + k] = int(x)
    return vals


def snmp_delta(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: b[k] - a.get(k, 0) for k in b if b[k] != a.get(k, 0)}
