"""``tuxnet tcpdump -r FILE``: print a capture file line for line as tcpdump 4.99 does.

Supported: Ethernet captures (pcap or pcapng) with 802.1Q tags, ARP/RARP, IPv4 (with
options and fragments), ICMP, UDP and TCP; flags ``-n``/``-nn`` (addresses and ports
are always numeric: without ``-n`` tcpdump would resolve names, tuxnet does not),
``-t`` .. ``-ttttt``, ``--nano``, ``-e``, ``-v``, ``-S``, ``-c``, ``-x``/``-xx``,
``-X``/``-XX``. Timestamps are printed in local time from the ``TZ`` environment, as
tcpdump does; tests run both with ``TZ=UTC``.

Not dissected (printed in tcpdump's generic form, so those lines differ from tcpdump):
payloads of well-known ports (DNS, NTP, HTTP, ...), IPv6 and other ethertypes,
IP protocols other than ICMP/TCP/UDP, most LLC/SNAP frames, MPTCP option details.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable
from typing import TextIO

from tuxnet.pcap import LINKTYPE_ETHERNET, PcapError, PcapReader, PcapRecord
from tuxnet.tools.tcpdump_print import Nd, ether_if_print, hex_and_ascii_print, hex_print

MAXIMUM_SNAPLEN = 262144  # libpcap: larger on-wire lengths are reported as invalid

# libpcap's names for the link types tcpdump announces ("link-type EN10MB (Ethernet)")
LINKTYPE_DESCRIPTIONS = {LINKTYPE_ETHERNET: "EN10MB (Ethernet)"}


class TimestampFormatter:
    """tcpdump's -t family: 0 = local HH:MM:SS.frac, 1 = none, 2 = epoch seconds,
    3 = delta since the previous packet, 4 = local date and time, 5 = delta since the
    first packet. Fractions have 6 digits, 9 with --nano (libpcap truncates)."""

    def __init__(self, mode: int, nano: bool) -> None:
        self.mode = mode
        self.nano = nano
        self.first: int | None = None
        self.prev: int | None = None

    def _split(self, ts_ns: int) -> tuple[int, str]:
        if self.nano:
            sec, frac = divmod(ts_ns, 1_000_000_000)
            return sec, f"{frac:09d}"
        sec, frac = divmod(ts_ns // 1000, 1_000_000)
        return sec, f"{frac:06d}"

    def _delta(self, delta_ns: int) -> str:
        sign = " "
        if delta_ns < 0:
            sign = "-"
            delta_ns = -delta_ns
        sec, frac = self._split(delta_ns)
        return f"{sign}{sec // 3600:02d}:{sec % 3600 // 60:02d}:{sec % 60:02d}.{frac} "

    def format(self, ts_ns: int) -> str:
        mode = self.mode
        if mode == 1:
            return ""
        if mode == 2:
            sec, frac = self._split(ts_ns)
            return f"{sec}.{frac} "
        if mode in (3, 5):
            if self.first is None:
                self.first = ts_ns
            base = self.prev if mode == 3 and self.prev is not None else self.first
            if mode == 3:
                self.prev = ts_ns
            # libpcap hands tcpdump truncated microseconds: the delta is between those
            if not self.nano:
                return self._delta((ts_ns // 1000 - base // 1000) * 1000)
            return self._delta(ts_ns - base)
        sec, frac = self._split(ts_ns)
        tm = time.localtime(sec)  # the capture's time, shown in the local zone (TZ)
        if mode == 4:
            return time.strftime("%Y-%m-%d %H:%M:%S", tm) + f".{frac} "
        return f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{frac} "


class Tcpdump:
    """Formats records into tcpdump lines, keeping the state tcpdump keeps across
    packets (TCP sequence bases, previous timestamp)."""

    def __init__(
        self,
        vflag: int = 0,
        eflag: bool = False,
        tflag: int = 0,
        xflag: int = 0,
        big_xflag: int = 0,
        seq_absolute: bool = False,
        nano: bool = False,
    ) -> None:
        self.nd = Nd(
            vflag=vflag,
            eflag=eflag,
            seq_absolute=seq_absolute,
            suppress_default_print=bool(xflag or big_xflag),
        )
        self.ts = TimestampFormatter(tflag, nano)
        self.xflag = xflag
        self.big_xflag = big_xflag

    def format(self, rec: PcapRecord) -> str:
        """One packet as tcpdump prints it (possibly several lines, no final newline)."""
        caplen = len(rec.data)
        wire = rec.orig_len
        problems: list[str] = []
        if caplen == 0:
            problems.append(" caplen==0")
        if wire == 0:
            problems.append(" len==0")
        elif wire < caplen:
            problems.append(f" len({wire}) < caplen({caplen})")
        elif wire > MAXIMUM_SNAPLEN:
            problems.append(f" len({wire}) > {MAXIMUM_SNAPLEN}")
        if problems:
            return "[Invalid header:" + ",".join(problems) + "]"
        nd = self.nd
        nd.start(rec.data)
        prefix = self.ts.format(rec.ts_ns)
        hdrlen = ether_if_print(nd, wire)
        text = prefix + "".join(nd.out)
        data = rec.data
        if self.big_xflag:
            if self.big_xflag > 1:
                text += hex_and_ascii_print(data, 0, caplen)
            elif caplen > hdrlen:
                text += hex_and_ascii_print(data, hdrlen, caplen - hdrlen)
        elif self.xflag:
            if self.xflag > 1:
                text += hex_print(data, 0, caplen)
            elif caplen > hdrlen:
                text += hex_print(data, hdrlen, caplen - hdrlen)
        return text


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Print the packets of a pcap/pcapng capture as tcpdump 4.99 does.",
    )
    p.add_argument("-r", dest="file", required=True, help="capture file to read")
    p.add_argument("-n", action="count", default=0,
                   help="numeric addresses and ports (always the case in tuxnet)")
    p.add_argument("-t", action="count", default=0, help="timestamp format (-t .. -ttttt)")
    p.add_argument("-e", action="store_true", help="print the link-level header")
    p.add_argument("-v", action="count", default=0, help="verbose IP header and checksums")
    p.add_argument("-c", dest="count", type=int, default=None, help="stop after COUNT packets")
    p.add_argument("-x", action="count", default=0, help="hex dump (-xx: with link header)")
    p.add_argument("-X", dest="big_x", action="count", default=0,
                   help="hex and ASCII dump (-XX: with link header)")
    p.add_argument("-S", dest="absolute", action="store_true",
                   help="absolute TCP sequence numbers")
    p.add_argument("--nano", action="store_true", help="nanosecond timestamps")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document: the packets' timestamps and lines")
    return p


def run(
    records: Iterable[PcapRecord], printer: Tcpdump, out: TextIO, count: int | None
) -> int:
    """Print ``records``; return the number printed."""
    n = 0
    for rec in records:
        if count is not None and n >= count:
            break
        out.write(printer.format(rec) + "\n")
        n += 1
    return n


def main(argv: list[str], prog: str = "tuxnet tcpdump") -> int:
    args = _parser(prog).parse_args(argv)
    printer = Tcpdump(
        vflag=args.v,
        eflag=args.e,
        tflag=args.t,
        xflag=args.x,
        big_xflag=args.big_x,
        seq_absolute=args.absolute,
        nano=args.nano,
    )
    try:
        reader = PcapReader(args.file)
    except OSError as exc:
        print(f"{prog}: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except PcapError as exc:
        print(f"{prog}: {args.file}: {exc}", file=sys.stderr)
        return 1
    with reader:
        if reader.linktype != LINKTYPE_ETHERNET:
            print(f"{prog}: {args.file}: link type {reader.linktype} is not supported "
                  "(only Ethernet)", file=sys.stderr)
            return 1
        if not args.json:
            print(
                f"reading from file {args.file}, link-type "
                f"{LINKTYPE_DESCRIPTIONS[reader.linktype]}, snapshot length {reader.snaplen}",
                file=sys.stderr,
            )
        try:
            if args.json:
                packets: list[dict[str, object]] = []
                for rec in reader:
                    if args.count is not None and len(packets) >= args.count:
                        break
                    packets.append({"ts_ns": rec.ts_ns, "interface": rec.interface,
                                    "line": printer.format(rec)})
                json.dump({"packets": packets}, sys.stdout)
                sys.stdout.write("\n")
            else:
                run(reader, printer, sys.stdout, args.count)
        except PcapError as exc:
            sys.stdout.flush()
            print(f"{prog}: {args.file}: {exc}", file=sys.stderr)
            return 1
        except BrokenPipeError:
            # the reader of our output went away (e.g. "| head"): stop quietly, and
            # point stdout at /dev/null so the interpreter's final flush cannot fail
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
