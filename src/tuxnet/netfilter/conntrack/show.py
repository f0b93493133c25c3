"""Conntrack entries as text: conntrack-tools 1.4.7 ``conntrack -L`` (plain and
``-o extended``; libnetfilter_conntrack's snprintf_default), ``conntrack -S`` /
``-C``, and /proc/net/nf_conntrack and /proc/net/stat/nf_conntrack
(nf_conntrack_standalone.c ct_seq_show / ct_cpu_seq_show).

Line layout: ``"%-8s %u "`` for the L3 protocol (extended and /proc only) and the L4
protocol, the seconds left, the TCP state, the original tuple (then ``packets= bytes=``
with net.netfilter.nf_conntrack_acct), ``[UNREPLIED]`` when no reply was seen, the
reply tuple (and its counters), ``[ASSURED]``, ``mark=``, (/proc: ``zone=``)
``use=``. conntrack-tools prints the count line on stderr:
``conntrack v1.4.7 (conntrack-tools): N flow entries have been shown.``
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.netfilter.conntrack.proto_tcp import TCP_CONNTRACK_NAMES
from tuxnet.netfilter.ctseam import IPS_ASSURED, IPS_SEEN_REPLY
from tuxnet.wire.addr import int_to_ip

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.netfilter.conntrack.core import CtNet
    from tuxnet.netfilter.conntrack.defs import NfConn, Tuple

__all__ = ["CONNTRACK_VERSION", "ct_cpu_seq_show", "ct_line", "ct_seq_show", "event_line",
           "l4_name",
           "state_name", "stats_lines", "summary_line"]

CONNTRACK_VERSION = "conntrack v1.4.7 (conntrack-tools)"
# the protocols with a tracker of their own; the rest go to the generic tracker
_L4_NAMES = {6: "tcp", 17: "udp", 1: "icmp"}
_PORTS = (6, 17)


def l4_name(proto: int) -> str:
    """The protocol name conntrack prints ("unknown" for the generic tracker)."""
    return _L4_NAMES.get(proto, "unknown")


def state_name(ct: NfConn) -> str | None:
    """tcp_print_conntrack: the TCP state (None for other protocols)."""
    if ct.tcp is None:
        return None
    return TCP_CONNTRACK_NAMES[ct.tcp.state]


def _tuple(t: Tuple) -> str:
    src, dst, proto, sport, dport = t
    s = f"src={int_to_ip(src)} dst={int_to_ip(dst)} "
    if proto in _PORTS:
        s += f"sport={sport} dport={dport} "
    elif proto == 1:
        s += f"type={dport >> 8} code={dport & 0xFF} id={sport} "
    return s


def ct_line(ct: NfConn, now: int, *, extended: bool = False, proc: bool = False) -> str:
    """One entry, without the newline."""
    s = "ipv4     2 " if extended or proc else ""
    s += f"{l4_name(ct.proto):<8} {ct.proto} {max(0, (ct.timeout - now) // 1_000_000_000)} "
    state = state_name(ct)
    if state is not None:
        s += state + " "
    acct = ct.acct
    s += _tuple(ct.orig)
    if acct is not None:  # seq_print_acct
        s += f"packets={acct[0]} bytes={acct[1]} "
    if not ct.status & IPS_SEEN_REPLY:
        s += "[UNREPLIED] "
    s += _tuple(ct.reply)
    if acct is not None:
        s += f"packets={acct[2]} bytes={acct[3]} "
    if ct.status & IPS_ASSURED:
        s += "[ASSURED] "
    s += f"mark={ct.mark} "
    if proc:
        s += f"zone={ct.zone} use={ct.use + 1}"  # the seq walk holds a reference
    else:
        if ct.zone:
            s += f"zone={ct.zone} "
        s += f"use={ct.use}"
    return s


def event_line(what: str, ct: NfConn, now: int) -> str:
    """One ``conntrack -E`` line: the event type right-aligned in 9 columns, then the
    entry as -L shows it without mark and use (and without the timeout on DESTROY)."""
    s = f"{'[' + what + ']':>9} {l4_name(ct.proto):<8} {ct.proto} "
    if what != "DESTROY":
        s += f"{max(0, (ct.timeout - now) // 1_000_000_000)} "
    state = state_name(ct)
    if state is not None and what != "DESTROY":
        s += state + " "
    s += _tuple(ct.orig)
    if not ct.status & IPS_SEEN_REPLY:
        s += "[UNREPLIED] "
    s += _tuple(ct.reply)
    if ct.status & IPS_ASSURED:
        s += "[ASSURED] "
    return s.rstrip()


def ct_seq_show(host: Host) -> str:
    """/proc/net/nf_conntrack."""
    cn: CtNet | None = host.__dict__.get("conntrack")
    if cn is None:
        return ""
    now = host.now_ns()
    return "".join(ct_line(ct, now, proc=True) + "\n" for ct in cn.entries())


def ct_cpu_seq_show(host: Host) -> str:
    """/proc/net/stat/nf_conntrack: one row per CPU (new, ignore and delete are no
    longer counted by Linux and print 0)."""
    from tuxnet.netfilter.conntrack.core import CtStat

    cn: CtNet | None = host.__dict__.get("conntrack")
    stats = cn.stats if cn is not None else [CtStat() for _ in range(host.ncpus)]
    count = cn.count if cn is not None else 0
    out = ["entries  clashres found new invalid ignore delete chainlength insert "
           "insert_failed drop early_drop icmp_error  expect_new expect_create "
           "expect_delete search_restart\n"]
    for st in stats:
        vals = (st.clash_resolve, st.found, 0, st.invalid, 0, 0, st.chaintoolong, st.insert,
                st.insert_failed, st.drop, st.early_drop, st.error)
        out.append(f"{count:08x}  " + " ".join(f"{v:08x}" for v in vals)
                   + f"  {0:08x} {0:08x} {0:08x} {st.search_restart:08x}\n")
    return "".join(out)


def stats_lines(host: Host) -> str:
    """``conntrack -S``."""
    from tuxnet.netfilter.conntrack.core import CtStat

    cn: CtNet | None = host.__dict__.get("conntrack")
    stats = cn.stats if cn is not None else [CtStat() for _ in range(host.ncpus)]
    return "".join(
        f"cpu={cpu:<4}\tfound={st.found} invalid={st.invalid} insert={st.insert} "
        f"insert_failed={st.insert_failed} drop={st.drop} early_drop={st.early_drop} "
        f"error={st.error} search_restart={st.search_restart} "
        f"clash_resolve={st.clash_resolve} chaintoolong={st.chaintoolong} \n"
        for cpu, st in enumerate(stats))


def summary_line(n: int, what: str = "flow entries have been shown") -> str:
    """The count line conntrack prints on stderr."""
    return f"{CONNTRACK_VERSION}: {n} {what}.\n"
