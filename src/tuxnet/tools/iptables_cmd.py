"""``tuxnet iptables``: iptables 1.8.9 (nf_tables) on a tuxnet host.

``run(host, argv, out, err)`` runs one command line (what one ``iptables`` process
does) and returns its exit status: 0, 1 (the operation failed), 2 (bad parameters),
3 (unknown table), 4 (the kernel refused). ``main`` runs on the demonstration host,
which starts with empty tables (each invocation is a fresh process; tests drive
several commands against one host through ``run``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from tuxnet.netfilter.help_text import iptables_help
from tuxnet.netfilter.iptc import KernelError, NftError, do_command, format_error
from tuxnet.netfilter.parse import parse_argv
from tuxnet.netfilter.tables import nf_net
from tuxnet.netfilter.xt import XtError

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["main", "run"]

PROG = "iptables"


def run(host: Host, argv: list[str], out: TextIO, err: TextIO | None = None) -> int:
    """One iptables command line against ``host``."""
    err = err if err is not None else out
    if argv and argv[0] in ("-V", "--version"):
        out.write(f"{PROG} v1.8.9 (nf_tables)\n")
        return 0
    if argv and argv[0] in ("-h", "--help"):
        out.write(iptables_help(PROG))
        return 0
    try:
        cmd = parse_argv(argv)
        out.write(do_command(nf_net(host), cmd))
    except (XtError, NftError, KernelError) as exc:
        err.write(format_error(PROG, exc))
        return exc.rc
    return 0


def main(argv: list[str], prog: str = "tuxnet iptables") -> int:
    """Entry point of ``tuxnet iptables`` (on the demonstration host)."""
    from tuxnet.tools.demo import demo_host

    return run(demo_host(), argv, sys.stdout, sys.stderr)
