"""``tuxnet iptables-restore``: load a ruleset in iptables-save format
(tuxnet.netfilter.restore) into a host; -c/--counters, -n/--noflush, -t/--test,
-T/--table, a file name or standard input."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from tuxnet.netfilter.restore import RestoreError, iptables_restore
from tuxnet.netfilter.tables import nf_net

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["main", "run"]

PROG = "iptables-restore"


def run(host: Host, argv: list[str], out: TextIO, err: TextIO | None = None,
        stdin: str | None = None) -> int:
    """iptables-restore ``argv`` against ``host``; the ruleset is ``stdin`` (or the
    file named in ``argv``)."""
    err = err if err is not None else out
    counters = noflush = test = False
    only: str | None = None
    path: str | None = None
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in ("-c", "--counters"):
            counters = True
        elif a in ("-n", "--noflush"):
            noflush = True
        elif a in ("-t", "--test"):
            test = True
        elif a in ("-v", "--verbose", "-w", "--wait", "-W", "--wait-interval"):
            continue
        elif a in ("-T", "--table"):
            only = argv[i] if i < len(argv) else None
            i += 1
        elif a in ("-M", "--modprobe"):
            i += 1
        elif a.startswith("-"):
            err.write(f"{PROG}: unknown option \"{a}\"\n")
            return 2
        else:
            path = a
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            err.write(f"{PROG}: Can't open {path}: {exc.strerror}\n")
            return 1
    else:
        text = stdin if stdin is not None else ""
    try:
        iptables_restore(nf_net(host), text, counters=counters, noflush=noflush, test=test,
                         only_table=only)
    except RestoreError as exc:
        err.write(exc.text)
        return exc.rc
    return 0


def main(argv: list[str], prog: str = "tuxnet iptables-restore") -> int:
    """Entry point (on the demonstration host, reading standard input)."""
    from tuxnet.tools.demo import demo_host

    if any(not a.startswith("-") for a in argv):
        return run(demo_host(), argv, sys.stdout, sys.stderr)
    return run(demo_host(), argv, sys.stdout, sys.stderr, sys.stdin.read())
