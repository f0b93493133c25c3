"""The ``tuxnet`` command: a thin dispatcher over subcommand modules.

Each subcommand lives in its own module with ``main(argv: list[str], prog: str) -> int``
and is imported only when used, so ``tuxnet --version`` and light tools start fast
(heavy dependencies stay out of the import path).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from tuxnet import __version__

# name -> (module, one-line help). Modules are imported lazily.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("tuxnet.tools.sim_cmd", "run a simulated scenario (default: the built-in one)"),
    "tcpdump": ("tuxnet.tools.tcpdump", "print a pcap/pcapng capture as tcpdump does"),
    "sysctl": ("tuxnet.tools.sysctl_cmd", "show sysctls with Linux names and defaults"),
    "ip": ("tuxnet.tools.ip_cmd", "show and change addresses, routes, neighbours, links"),
    "bpf": ("tuxnet.tools.bpf_cmd", "eBPF tools: conformance runner, assembler, disassembler"),
    "lab": ("tuxnet.tools.lab_cmd", "run a lab: livelock, rss, rps-rfs, gro, xdp-ddos"),
    "tc": ("tuxnet.tools.tc_cmd", "show and change qdiscs (tc qdisc)"),
    "ethtool": ("tuxnet.tools.ethtool_cmd", "query and change device settings as ethtool does"),
    "cat": ("tuxnet.tools.cat_cmd", "print a /proc file of a tuxnet host"),
    "iptables": ("tuxnet.tools.iptables_cmd", "show and change the packet filter rules"),
    "iptables-save": ("tuxnet.tools.iptables_save_cmd", "print the rules as iptables-save"),
    "iptables-restore": ("tuxnet.tools.iptables_restore_cmd", "load rules from iptables-save"),
    "ipset": ("tuxnet.tools.ipset_cmd", "manage the IP sets iptables -m set matches"),
    "live": ("tuxnet.tools.live_cmd", "run the stack on a TAP device, talking to the real kernel"),
    "xdp": ("tuxnet.tools.xdp_cmd", "run XDP programs over captures"),
    "nf": ("tuxnet.tools.nf_cmd", "netfilter tools: replay a ruleset and packets (nf replay)"),
    "conntrack": ("tuxnet.tools.conntrack_cmd", "list connection tracking entries (conntrack -L)"),
    "ss": ("tuxnet.tools.ss_cmd", "list a host's sockets as iproute2 ss does"),
    "netstat": ("tuxnet.tools.netstat_cmd", "print the protocol statistics as netstat -s does"),
    "packetdrill": ("tuxnet.tools.packetdrill_cmd", "run packetdrill scripts on a fresh host"),
}


def _usage() -> str:
    width = max(len(n) for n in SUBCOMMANDS)
    lines = [f"  {name:<{width}}  {help_}" for name, (_, help_) in sorted(SUBCOMMANDS.items())]
    return "subcommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tuxnet`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="tuxnet",
        description="The Linux networking stack, rebuilt in Python.",
        epilog=_usage(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tuxnet {__version__}")
    parser.add_argument("command", nargs="?", help="subcommand to run")
    if not args or args[0].startswith("-"):
        ns = parser.parse_args(args)
        if ns.command is None:
            parser.print_help()
            return 2
    name = args[0]
    entry = SUBCOMMANDS.get(name)
    if entry is None:
        parser.error(f"unknown command {name!r} (see 'tuxnet --help')")
    module = importlib.import_module(entry[0])
    try:
        rc: int = module.main(args[1:], prog=f"tuxnet {name}")
    except BrokenPipeError:
        # the reader went away (``tuxnet ... | head``): exit quietly, as coreutils do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
