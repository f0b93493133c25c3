"""``tuxnet cat /proc/net/FILE``: print /proc files of a tuxnet host as cat would.

``run(host, argv, out)`` prints each named file (``cat: PATH: No such file or
directory`` and exit 1 for an unknown one, after printing the others, as cat does);
``main`` runs it on the demonstration host. The files come from
``tuxnet.tools.procfs``; the modules that register renderers are imported first
(:data:`PROC_PROVIDERS`). This module registers /proc/net/dev itself.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, TextIO

from tuxnet.core.dev import dev_get_stats
from tuxnet.core.netdevice import NetDevice
from tuxnet.tools import procfs

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["PROC_PROVIDERS", "dev_seq_show", "main", "run"]

# modules that register /proc files when imported (optional ones are skipped if absent)
PROC_PROVIDERS = ("tuxnet.core.netcore", "tuxnet.ipv4.arp", "tuxnet.tools.ip_route",
                  "tuxnet.ipv4.udp", "tuxnet.tools.conntrack_cmd",
                  "tuxnet.tools.proc_net_tcp")


def dev_seq_show(host: Host) -> str:
    """/proc/net/dev (net/core/net-procfs.c dev_seq_show / dev_seq_printf_stats): two
    header lines, then one line per device in registration order; drop counts
    rx_dropped + rx_missed_errors, frame the length/over/crc/frame errors, carrier the
    carrier/aborted/window/heartbeat errors."""
    lines = ["Inter-|   Receive                                                |  Transmit\n",
             " face |bytes    packets errs drop fifo frame compressed multicast|bytes    "
             "packets errs drop fifo colls carrier compressed\n"]
    for dev in host.devices.values():
        if not isinstance(dev, NetDevice):
            continue
        s = dev_get_stats(dev)
        frame = s.rx_length_errors + s.rx_over_errors + s.rx_crc_errors + s.rx_frame_errors
        carrier = (s.tx_carrier_errors + s.tx_aborted_errors + s.tx_window_errors
                   + s.tx_heartbeat_errors)
        lines.append(
            f"{dev.name:>6}: {s.rx_bytes:7d} {s.rx_packets:7d} {s.rx_errors:4d} "
            f"{s.rx_dropped + s.rx_missed_errors:4d} {s.rx_fifo_errors:4d} {frame:5d} "
            f"{s.rx_compressed:10d} {s.multicast:9d} {s.tx_bytes:8d} {s.tx_packets:7d} "
            f"{s.tx_errors:4d} {s.tx_dropped:4d} {s.tx_fifo_errors:4d} {s.collisions:5d} "
            f"{carrier:7d} {s.tx_compressed:10d}\n")
    return "".join(lines)


procfs.register("/proc/net/dev", dev_seq_show)


def load_providers() -> None:
    """Import the modules that register /proc files."""
    for name in PROC_PROVIDERS:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - an optional layer is absent
            continue


def run(host: Host, argv: list[str], out: TextIO, err: TextIO | None = None) -> int:
    """cat each path of ``argv``; returns 1 if any could not be read."""
    load_providers()
    err = err if err is not None else out
    if not argv:
        err.write("cat: missing operand (tuxnet cat reads /proc files of a host)\n")
        return 1
    rc = 0
    for path in argv:
        try:
            out.write(procfs.read_proc(host, path))
        except procfs.ProcError as exc:
            err.write(f"{exc}\n")
            rc = 1
    return rc


def main(argv: list[str], prog: str = "tuxnet cat") -> int:
    """Entry point of ``tuxnet cat`` (on the demonstration host)."""
    if argv and argv[0] in ("-h", "--help"):
        files = sorted(_known_files())
        sys.stdout.write(f"usage: {prog} /proc/PATH ...\n\nfiles:\n"
                         + "".join(f"  {p}\n" for p in files))
        return 0
    from tuxnet.tools.demo import demo_host

    return run(demo_host(traffic=True), argv, sys.stdout, sys.stderr)


def _known_files() -> list[str]:
    load_providers()
    return list(procfs.PROC_FILES)
