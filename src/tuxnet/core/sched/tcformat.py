"""``tc [-s] qdisc show`` text, as iproute2 6.1 prints it (tc/tc_qdisc.c print_qdisc,
tc/tc_util.c print_tcstats2_attr, tc/q_*.c print_qopt / print_xstats).

Layout of one qdisc (trailing spaces are part of tc's output)::

    qdisc fq 8001: dev eth0 root refcnt 2 limit 10000p flow_limit 100p ... horizon_drop \n
     Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n
     backlog 0b 0p requeues 0\n
      flows 0 (inactive 0 throttled 0)\n
      gc 0 highprio 0 throttled 0\n

``dev X`` appears only when the listing is not filtered by device (``show_dev``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from tuxnet.core.sched.base import Qdisc, parse_handle

__all__ = ["format_tc_qdisc", "qdisc_json", "sprint_rate", "sprint_size", "sprint_time",
           "sprint_time64"]

U32_MAX = 0xFFFFFFFF


def _c_round(x: float) -> float:
    """C rint(): round half to even (Python's round does the same)."""
    return float(round(x))


def sprint_size(sz: int) -> str:
    """tc_util.c sprint_size: "1514b", "64Kb", "2Mb" (1024-based, near-exact only)."""
    if sz >= 1024 * 1024 and math.fabs(1024 * 1024 * _c_round(sz / (1024 * 1024)) - sz) < 1024:
        return f"{_c_round(sz / (1024 * 1024)):g}Mb"
    if sz >= 1024 and math.fabs(1024 * _c_round(sz / 1024) - sz) < 16:
        return f"{_c_round(sz / 1024):g}Kb"
    return f"{sz}b"


def sprint_rate(rate: int) -> str:
    """json_print.c print_color_rate (non-IEC): bytes/s in, "550Kbit" out."""
    bits = rate * 8
    units = ("", "K", "M", "G", "T")
    i = 0
    while i < len(units) - 1:
        if bits < 1000:
            break
        if bits % 1000 and bits < 1000 * 1000:
            break
        bits //= 1000
        i += 1
    return f"{bits}{units[i]}bit"


def sprint_time(usec: int) -> str:
    """utils.c print_time: microseconds in, "%.3gs" / "%.3gms" / "%uus" out."""
    if usec >= 1_000_000:
        return f"{usec / 1_000_000:.3g}s"
    if usec >= 1000:
        return f"{usec / 1000:.3g}ms"
    return f"{usec}us"


def sprint_time64(ns: int) -> str:
    """utils.c print_time64: nanoseconds in, "%.3gs" ... "%lldns" out."""
    if ns >= 1_000_000_000:
        return f"{ns / 1_000_000_000:.3g}s"
    if ns >= 1_000_000:
        return f"{ns / 1_000_000:.3g}ms"
    if ns >= 1000:
        return f"{ns / 1000:.3g}us"
    return f"{ns}ns"


# --- print_qopt per kind (tc/q_*.c) ----------------------------------------------------


def _prio_opt(o: dict[str, Any]) -> str:
    """q_prio.c prio_print_opt (used for pfifo_fast too)."""
    return f"bands {o['bands']} priomap" + "".join(f" {b}" for b in o["priomap"])


def _fifo_opt(o: dict[str, Any], kind: str) -> str:
    """q_fifo.c fifo_print_opt."""
    if kind == "bfifo":
        return f"limit {sprint_size(o['limit'])}"
    return f"limit {o['limit']}p"


def _fq_opt(o: dict[str, Any]) -> str:
    """q_fq.c fq_print_opt (iproute2 6.1: no bands/weights/offload_horizon)."""
    s = [f"limit {o['limit']}p ", f"flow_limit {o['flow_limit']}p ",
         f"buckets {o['buckets']} ", f"orphan_mask {o['orphan_mask']} "]
    if not o["pacing"]:
        s.append("nopacing ")
    s.append(f"quantum {sprint_size(o['quantum'])} ")
    s.append(f"initial_quantum {sprint_size(o['initial_quantum'])} ")
    if o["maxrate"] != U32_MAX:
        s.append(f"maxrate {sprint_rate(o['maxrate'])} ")
    if o["low_rate_threshold"]:
        s.append(f"low_rate_threshold {sprint_rate(o['low_rate_threshold'])} ")
    s.append(f"refill_delay {sprint_time(o['refill_delay'])} ")
    if o["ce_threshold"] != U32_MAX:
        s.append(f"ce_threshold {sprint_time(o['ce_threshold'])} ")
    s.append(f"timer_slack {sprint_time64(o['timer_slack'])} ")
    s.append(f"horizon {sprint_time(o['horizon'])} ")
    s.append("horizon_drop " if o["horizon_drop"] else "horizon_cap ")
    return "".join(s)


def _fq_xstats(st: dict[str, int]) -> str:
    """q_fq.c fq_print_xstats (iproute2 6.1: no band counters, no fastpath)."""
    line = f"  flows {st['flows']} (inactive {st['inactive_flows']}" \
           f" throttled {st['throttled_flows']})"
    if st["time_next_delayed_flow"] > 0:
        line += f" next_packet_delay {sprint_time64(st['time_next_delayed_flow'])}"
    line += f"\n  gc {st['gc_flows']} highprio {st['highprio_packets']}"
    if st["tcp_retrans"]:
        line += f" retrans {st['tcp_retrans']}"
    line += f" throttled {st['throttled']}"
    if st["unthrottle_latency_ns"]:
        line += f" latency {sprint_time64(st['unthrottle_latency_ns'])}"
    if st["ce_mark"]:
        line += f" ce_mark {st['ce_mark']}"
    if st["flows_plimit"]:
        line += f" flows_plimit {st['flows_plimit']}"
    if (st["pkts_too_long"] or st["allocation_errors"] or st["horizon_drops"]
            or st["horizon_caps"]):
        line += "\n"
        if st["pkts_too_long"]:
            line += f" pkts_too_long {st['pkts_too_long']}"
        if st["allocation_errors"]:
            line += f" alloc_errors {st['allocation_errors']}"
        if st["horizon_drops"]:
            line += f" horizon_drops {st['horizon_drops']}"
        if st["horizon_caps"]:
            line += f"  horizon_caps {st['horizon_caps']}"
    return line


_OPT_PRINTERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "pfifo_fast": _prio_opt,
    "fq": _fq_opt,
    "pfifo": lambda o: _fifo_opt(o, "pfifo"),
    "bfifo": lambda o: _fifo_opt(o, "bfifo"),
}
_XSTATS_PRINTERS: dict[str, Callable[[dict[str, int]], str]] = {"fq": _fq_xstats}


# --- print_qdisc -------------------------------------------------------------------------


def _classid(text: str) -> str:
    """print_tc_classid of a parent: ":1" under handle 0, "8001:1" otherwise."""
    if text == "root":
        return "root"
    major_s, _, minor_s = text.partition(":")
    major = int(major_s, 16) if major_s else 0
    minor = int(minor_s, 16) if minor_s else 0
    if major == 0:
        return f":{minor:x}"
    if minor == 0:
        return f"{major:x}:"
    return f"{major:x}:{minor:x}"


def _walk(qdiscs: Iterable[Qdisc]) -> list[Qdisc]:
    """tc_dump_qdisc_root: each root, then its hashed children newest first (an mq's
    children come out :N ... :1)."""
    out: list[Qdisc] = []
    for q in qdiscs:
        out.append(q)
        children: list[Qdisc] | None = getattr(q, "children", None)
        if children:
            out.extend(reversed(children))
    return out


def _one(dev_name: str, q: Qdisc, stats: bool, show_dev: bool) -> str:
    head = f"qdisc {q.kind} {parse_handle(q.handle):x}: "
    if show_dev:
        head += f"dev {dev_name} "
    head += "root " if q.parent == "root" else f"parent {_classid(q.parent)} "
    if q.refcnt != 1:
        head += f"refcnt {q.refcnt} "
    printer = _OPT_PRINTERS.get(q.kind)
    if printer is not None:
        head += printer(q.dump())
    lines = [head]
    if stats:
        st = q.stats
        lines.append(f" Sent {st.sent_bytes} bytes {st.sent_packets} pkt (dropped {st.dropped},"
                     f" overlimits {st.overlimits} requeues {st.requeues}) ")
        lines.append(f" backlog {sprint_size(q.backlog)} {q.qlen}p requeues {st.requeues}")
        xprinter = _XSTATS_PRINTERS.get(q.kind)
        xst = q.dump_stats()
        if xprinter is not None and xst is not None:
            lines.append(xprinter(xst))
    return "".join(line + "\n" for line in lines)


def format_tc_qdisc(dev_name: str, qdiscs: Iterable[Qdisc], stats: bool, *,
                    show_dev: bool = True) -> str:
    """print_qdisc for every qdisc of one device (roots as given; an mq's children
    follow it). ``stats`` is ``tc -s``; ``show_dev`` False is ``tc qdisc show dev X``,
    whose lines omit "dev X"."""
    return "".join(_one(dev_name, q, stats, show_dev) for q in _walk(qdiscs))


def qdisc_json(dev_name: str, qdiscs: Iterable[Qdisc], stats: bool) -> list[dict[str, Any]]:
    """The objects ``tc -j [-s] qdisc show`` prints for one device."""
    out: list[dict[str, Any]] = []
    for q in _walk(qdiscs):
        obj: dict[str, Any] = {"kind": q.kind, "handle": f"{parse_handle(q.handle):x}:",
                               "dev": dev_name}
        if q.parent == "root":
            obj["root"] = True
        else:
            obj["parent"] = _classid(q.parent)
        if q.refcnt != 1:
            obj["refcnt"] = q.refcnt
        obj["options"] = q.dump()
        if stats:
            st = q.stats
            obj.update(bytes=st.sent_bytes, packets=st.sent_packets, drops=st.dropped,
                       overlimits=st.overlimits, requeues=st.requeues, backlog=q.backlog,
                       qlen=q.qlen)
            xst = q.dump_stats()
            if xst is not None:
                obj.update(xst)
        out.append(obj)
    return out
