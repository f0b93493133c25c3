"""``tuxnet conntrack``: conntrack-tools 1.4.7 on a tuxnet host.

``-L`` / ``--dump`` lists the entries (``-o extended`` adds the L3 columns; ``-p``,
``-s``, ``-d``, ``--sport``, ``--dport``, ``-n`` (--src-nat), ``-g`` (--dst-nat),
``-u``/``--status`` ASSURED|SEEN_REPLY|UNREPLIED filter), the count line going to
stderr as conntrack prints it; ``-C`` prints the count, ``-S`` the per-CPU
statistics (``--json``: one JSON document instead), ``-F`` flushes, ``-E`` shows
the events (NEW, UPDATE, DESTROY) of the scenario. Each invocation runs on a fresh
host (as iptables does): the demonstration host has no flows, and ``--scenario
masquerade`` first runs tuxnet.scenarios.nat (a TCP connection, a UDP exchange and
a ping across a MASQUERADE router in virtual time) and shows the router's table.
``run(host, argv, out, err)`` is the library entry; /proc/net/nf_conntrack and
/proc/net/stat/nf_conntrack are registered for ``tuxnet cat`` here.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, TextIO

from tuxnet.netfilter.conntrack.show import (
    ct_cpu_seq_show,
    ct_line,
    ct_seq_show,
    event_line,
    stats_lines,
    summary_line,
)
from tuxnet.netfilter.ctseam import IPS_ASSURED, IPS_DST_NAT, IPS_SEEN_REPLY, IPS_SRC_NAT
from tuxnet.tools import procfs
from tuxnet.wire.addr import ip_int

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.netfilter.conntrack.defs import NfConn

__all__ = ["main", "run"]

procfs.register("/proc/net/nf_conntrack", ct_seq_show)
procfs.register("/proc/net/stat/nf_conntrack", ct_cpu_seq_show)

_PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "sctp": 132, "dccp": 33, "udplite": 136, "gre": 47}
SCENARIOS = ("masquerade",)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(message)


def _parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, add_help=False)
    cmd = p.add_mutually_exclusive_group()
    cmd.add_argument("-L", "--dump", dest="cmd", action="store_const", const="L")
    cmd.add_argument("-C", "--count", dest="cmd", action="store_const", const="C")
    cmd.add_argument("-S", "--stats", dest="cmd", action="store_const", const="S")
    cmd.add_argument("-F", "--flush", dest="cmd", action="store_const", const="F")
    cmd.add_argument("-E", "--event", dest="cmd", action="store_const", const="E")
    p.add_argument("-o", "--output", default="")
    p.add_argument("-p", "--proto")
    p.add_argument("-s", "--src", "--orig-src")
    p.add_argument("-d", "--dst", "--orig-dst")
    p.add_argument("--sport", "--orig-port-src", type=int)
    p.add_argument("--dport", "--orig-port-dst", type=int)
    p.add_argument("-n", "--src-nat", action="store_true")
    p.add_argument("-g", "--dst-nat", action="store_true")
    p.add_argument("-u", "--status")
    p.add_argument("-m", "--mark", type=int)
    p.add_argument("--scenario", choices=SCENARIOS)
    p.add_argument("--json", action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("table", nargs="?", default="conntrack")
    return p


def _keep(ct: NfConn, ns: argparse.Namespace) -> bool:
    o = ct.orig
    if ns.proto is not None:
        want = _PROTOS.get(ns.proto.lower())
        if want is None:
            want = int(ns.proto)
        if ct.proto != want:
            return False
    if ns.src is not None and o[0] != ip_int(ns.src):
        return False
    if ns.dst is not None and o[1] != ip_int(ns.dst):
        return False
    if ns.sport is not None and o[3] != ns.sport:
        return False
    if ns.dport is not None and o[4] != ns.dport:
        return False
    if ns.src_nat and not ct.status & IPS_SRC_NAT:
        return False
    if ns.dst_nat and not ct.status & IPS_DST_NAT:
        return False
    if ns.mark is not None and ct.mark != ns.mark:
        return False
    if ns.status:
        for s in ns.status.upper().split(","):
            if s == "ASSURED" and not ct.status & IPS_ASSURED:
                return False
            if s == "SEEN_REPLY" and not ct.status & IPS_SEEN_REPLY:
                return False
            if s == "UNREPLIED" and ct.status & IPS_SEEN_REPLY:
                return False
    return True


def run(host: Host, argv: list[str], out: TextIO, err: TextIO | None = None,
        prog: str = "conntrack", events: list[tuple[str, NfConn, int]] | None = None) -> int:
    """One conntrack command line against ``host``; returns the exit status. ``-E``
    prints ``events`` (what a listener collected while the host ran), filtered like
    ``-L``."""
    from tuxnet.netfilter.conntrack import ct_net

    err = err if err is not None else out
    try:
        ns = _parser(prog).parse_args(argv)
        if ns.output and ns.output not in ("extended", "id"):
            raise ValueError(f"unknown output format {ns.output!r} (extended)")
    except ValueError as exc:
        err.write(f"conntrack v1.4.7 (conntrack-tools): {exc}\n"
                  "Try `conntrack -h' or 'conntrack --help' for more information.\n")
        return 2
    if ns.help:
        out.write(__doc__ or "")
        return 0
    cn = ct_net(host)
    if ns.cmd == "C":
        out.write(json.dumps({"count": cn.count}) + "\n" if ns.json else f"{cn.count}\n")
        return 0
    if ns.cmd == "S":
        if ns.json:
            out.write(json.dumps([{k: getattr(st, k) for k in st.__slots__}
                                  for st in cn.stats], indent=2) + "\n")
        else:
            out.write(stats_lines(host))
        return 0
    if ns.cmd == "E":
        shown_ev = [(w, ct, t) for w, ct, t in events or [] if _keep(ct, ns)]
        for what, ct, t in shown_ev:
            out.write(event_line(what, ct, t) + "\n")
        err.write(summary_line(len(shown_ev), "flow events have been shown"))
        return 0
    if ns.cmd == "F":
        cn.flush()
        err.write("conntrack v1.4.7 (conntrack-tools): connection tracking table has "
                  "been emptied.\n")
        return 0
    now = host.now_ns()
    shown = [ct for ct in cn.entries() if _keep(ct, ns)]
    if ns.json:
        from tuxnet.netfilter.conntrack import conntrack_dump

        keep = {id(ct) for ct in shown}
        rows = [dict(d) for d, ct in zip(conntrack_dump(host), cn.entries(), strict=True)
                if id(ct) in keep]
        for d in rows:
            d.pop("orig_tuple")
            d.pop("reply_tuple")
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for ct in shown:
        out.write(ct_line(ct, now, extended=ns.output == "extended") + "\n")
    err.write(summary_line(len(shown)))
    return 0


def _snapshot(ct: NfConn) -> NfConn:
    """A copy of the entry's printed fields at the time of an event."""
    import copy

    snap = copy.copy(ct)
    if ct.tcp is not None:
        snap.tcp = copy.copy(ct.tcp)
    return snap


def main(argv: list[str], prog: str = "tuxnet conntrack") -> int:
    """Entry point of ``tuxnet conntrack`` (the demonstration host, or the router of
    ``--scenario masquerade``)."""
    if "--scenario" in argv or any(a.startswith("--scenario=") for a in argv):
        from tuxnet.netfilter.conntrack import ct_net
        from tuxnet.scenarios.nat import NatDemo, build_nat_router

        chain = build_nat_router()
        router = chain.routers[0]
        events: list[tuple[str, NfConn, int]] = []
        if "-E" in argv or "--event" in argv:
            # each event is formatted as the entry was then: keep a snapshot
            def listen(what: str, ct: NfConn) -> None:
                events.append((what, _snapshot(ct), router.now_ns()))

            ct_net(router).listeners.append(listen)
        NatDemo(chain)
        return run(router, argv, sys.stdout, sys.stderr, prog, events)
    from tuxnet.tools.demo import demo_host

    return run(demo_host(), argv, sys.stdout, sys.stderr, prog)
