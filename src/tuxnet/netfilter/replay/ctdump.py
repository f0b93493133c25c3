"""The conntrack section of a replay report: the adapter from tuxnet's conntrack table
to the harness's rows (its ``conntrack -L -o extended`` parse).

A row: ``{"l3": "ipv4", "proto": "tcp", "timeout": 119, "state": "SYN_SENT",
"orig": {"src", "dst", "sport", "dport"} (ICMP: "type", "code", "id"), "reply": {...},
"flags": ["UNREPLIED"|"ASSURED"...], "mark": "0", "use": "1"}``; values are strings
as conntrack prints them, except the timeout.

Written against ``tuxnet.netfilter.conntrack.conntrack_dump(host)``: an iterable of
entries with ``orig`` / ``reply`` tuples ``(src, dst, protonum, sport, dport)`` (ints;
for ICMP sport/dport are id and type<<8|code as in the kernel's tuple, or attributes
``type``/``code``/``id``), ``state`` (the l4 state name, e.g. "ESTABLISHED", or None),
``status`` (IPS_* bits), ``timeout`` (seconds left) and ``mark``. Until conntrack
exists the section is empty. This file is the one place to adjust to its API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tuxnet.netfilter.ctseam import IPS_ASSURED, IPS_SEEN_REPLY

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["conntrack_available", "conntrack_table"]

_PROTO = {1: "icmp", 6: "tcp", 17: "udp", 132: "sctp", 136: "udplite", 33: "dccp"}
IPS_OFFLOAD = 1 << 14  # enum ip_conntrack_status (IPS_OFFLOAD_BIT)
IPS_HW_OFFLOAD = 1 << 15


def _dump() -> Any:
    try:
        mod = importlib.import_module("tuxnet.netfilter.conntrack")
    except ImportError:
        return None
    return getattr(mod, "conntrack_dump", None)


def conntrack_available() -> bool:
    return _dump() is not None


def _ip(a: Any) -> str:
    if isinstance(a, str):
        return a
    return ".".join(str(a >> s & 255) for s in (24, 16, 8, 0))


def _tuple(t: Any, proto: int, entry: Any, reply: bool) -> dict[str, str]:
    if not isinstance(t, tuple):  # an object with attributes
        t = (t.src, t.dst, getattr(t, "protonum", proto), getattr(t, "sport", 0),
             getattr(t, "dport", 0))
    src, dst, _p, sport, dport = t
    out = {"src": _ip(src), "dst": _ip(dst)}
    if proto == 1:
        # nf_conntrack_tuple for ICMP: src.u.icmp.id, dst.u.icmp.type/code
        out.update({"type": str(dport >> 8 & 255), "code": str(dport & 255),
                    "id": str(sport)})
    elif proto in (6, 17, 132, 136, 33):
        out.update({"sport": str(sport), "dport": str(dport)})
    return out


def _row(e: Any) -> dict[str, Any]:
    orig = e.orig
    proto = orig[2] if isinstance(orig, tuple) else getattr(orig, "protonum", 0)
    status = int(getattr(e, "status", 0))
    flags = []
    if not status & IPS_SEEN_REPLY:
        flags.append("UNREPLIED")
    if status & IPS_ASSURED:
        flags.append("ASSURED")
    if status & IPS_OFFLOAD:
        flags.append("HW_OFFLOAD" if status & IPS_HW_OFFLOAD else "OFFLOAD")
    row: dict[str, Any] = {"l3": "ipv4", "proto": _PROTO.get(proto, str(proto)),
                           "timeout": int(getattr(e, "timeout", 0)),
                           "orig": _tuple(orig, proto, e, False),
                           "reply": _tuple(e.reply, proto, e, True), "flags": flags}
    state = getattr(e, "state", None)
    if state:
        row["state"] = str(state)
    row["mark"] = str(int(getattr(e, "mark", 0)))
    row["use"] = "1"
    return row


def conntrack_table(host: Host) -> list[dict[str, Any]]:
    """The rows of the host's conntrack table ([] without conntrack)."""
    dump = _dump()
    if dump is None:
        return []
    return [_row(e) for e in dump(host)]
