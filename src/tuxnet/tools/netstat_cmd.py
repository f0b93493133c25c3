"""``tuxnet netstat -s``: net-tools 2.10 ``netstat -s`` (statistics) on a tuxnet host.

    tuxnet netstat -s [-t] [-u] [-w] [--scenario sockets|tcp [--at S] [--host NAME]]

The host's /proc/net/snmp and /proc/net/netstat (tuxnet's MIB counters) are printed
the way netstat's statistics.c does (tools/netstat_stats.py). -t, -u, -w (--tcp,
--udp, --raw) keep only the Tcp/TcpExt, Udp, Ip/Icmp sections, as netstat does. The
host is the demonstration host, or a scenario's (as ``tuxnet ss``). netstat's other
modes (connections, -r, -i, -g, -M) are not modelled: ``tuxnet ss`` lists sockets.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from tuxnet.tools.netstat_stats import netstat_s
from tuxnet.tools.procfs import read_proc
from tuxnet.tools.scenario_hosts import run_on_hosts

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["main", "run"]

_LONG = {"--statistics": "s", "--tcp": "t", "--udp": "u", "--raw": "w"}


def run(host: Host, argv: list[str], out: TextIO, err: TextIO | None = None) -> int:
    """One netstat command line against ``host``; returns the exit status."""
    err = err if err is not None else out
    flags: set[str] = set()
    for a in argv:
        if a in _LONG:
            flags.add(_LONG[a])
        elif a.startswith("-") and not a.startswith("--") and len(a) > 1:
            flags.update(a[1:])
        else:
            err.write(f"tuxnet netstat: {a!r}: only -s (statistics) with -t/-u/-w is "
                      "modelled; use tuxnet ss for sockets\n")
            return 1
    bad = flags - {"s", "t", "u", "w"}
    if bad or "s" not in flags:
        what = "-" + "".join(sorted(bad)) if bad else "without -s"
        err.write(f"tuxnet netstat: {what}: only -s (statistics) with -t/-u/-w is "
                  "modelled; use tuxnet ss for sockets\n")
        return 1
    pick = flags & {"t", "u", "w"}
    out.write(netstat_s(read_proc(host, "/proc/net/snmp"),
                        read_proc(host, "/proc/net/netstat"),
                        raw=not pick or "w" in pick, tcp=not pick or "t" in pick,
                        udp=not pick or "u" in pick))
    return 0


def main(argv: list[str], prog: str = "tuxnet netstat") -> int:
    """Entry point of ``tuxnet netstat``."""
    return run_on_hosts(argv, prog, lambda host, args: run(host, args, sys.stdout, sys.stderr))
