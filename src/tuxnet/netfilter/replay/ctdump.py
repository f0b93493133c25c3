"""The conntrack section of a replay report: the adapter from tuxnet's conntrack table
to the harness's rows (its ``conntrack -L -o extended`` parse).

A row: ``{"l3": "ipv4", "proto": "tcp", "timeout": 119, "state": "SYN_SENT",
"orig": {"src", "dst", "sport", "dport"} (ICMP: "type", "code", "id"), "reply": {...},
"flags": ["UNREPLIED"|"ASSURED"...], "mark": "0", "use": "1"}``; values are strings
as conntrack prints them, except the timeout.

Written against ``tuxnet.netfilter.conntrack.conntrack_dump(host)``: a list of
entries, dicts (or objects) with ``orig_tuple`` / ``reply_tuple`` (or ``orig`` /
``reply``) tuples ``(src, dst, protonum, sport, dport)`` (ints; for ICMP sport is the
id and dport type<<8|code, as the kernel's tuple) or dicts of fields, ``proto``,
``state`` (the l4 state name, e.g. "ESTABLISHED", or None), ``status`` (IPS_* bits),
``timeout`` (seconds left), ``mark`` and ``use``. Until conntrack exists the section
is empty. This file is the one place to adjust to its API.
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


def _tuple(t: Any, proto: int) -> dict[str, str]:
    if isinstance(t, dict):  # already split into fields
        keys = ("src", "dst", "sport", "dport", "type", "code", "id")
        return {k: _ip(t[k]) if k in ("src", "dst") else str(t[k]) for k in keys if k in t}
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


def _get(e: Any, name: str, default: Any = None) -> Any:
    return e.get(name, default) if isinstance(e, dict) else getattr(e, name, default)


def _row(e: Any) -> dict[str, Any]:
    """One entry (a dict of conntrack_dump, or an nf_conn-like object) as a row."""
    orig = _get(e, "orig_tuple") or _get(e, "orig")
    reply = _get(e, "reply_tuple") or _get(e, "reply")
    proto = _get(e, "proto")
    if not isinstance(proto, int):
        proto = orig[2] if isinstance(orig, tuple) else getattr(orig, "protonum", 0)
    status = int(_get(e, "status", 0))
    flags = []
    if not status & IPS_SEEN_REPLY:
        flags.append("UNREPLIED")
    if status & IPS_ASSURED:
        flags.append("ASSURED")
    if status & IPS_OFFLOAD:
        flags.append("HW_OFFLOAD" if status & IPS_HW_OFFLOAD else "OFFLOAD")
    row: dict[str, Any] = {"l3": "ipv4", "proto": _PROTO.get(proto, str(proto)),
                           "timeout": int(_get(e, "timeout", 0)),
                           "orig": _tuple(orig, proto), "reply": _tuple(reply, proto),
                           "flags": flags}
    state = _get(e, "state")
    if state:
        row["state"] = str(state)
    row["mark"] = str(int(_get(e, "mark", 0)))
    row["use"] = str(int(_get(e, "use", 1) or 1))
    return row


def conntrack_table(host: Host) -> list[dict[str, Any]]:
    """The rows of the host's conntrack table ([] without conntrack)."""
    dump = _dump()
    if dump is None:
        return []
    return [_row(e) for e in dump(host)]
