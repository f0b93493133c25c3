"""``tuxnet sim``: run a simulated scenario in virtual time and print its counters."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from tuxnet.sim import parse_rate, parse_size, parse_time


def _fraction(text: str) -> float:
    """A probability given as 0.01 or 1%."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a probability: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"probability out of [0, 1]: {text!r}")
    return value


def _rate(text: str) -> int:
    try:
        return parse_rate(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _time(text: str) -> int:
    try:
        return parse_time(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _traceroute(args: argparse.Namespace, parser: argparse.ArgumentParser, prog: str) -> int:
    """``tuxnet sim --scenario traceroute``: find every hop by ICMP time exceeded."""
    from tuxnet.scenarios.routers import format_traceroute, run_traceroute

    if not 1 <= args.hops <= 250:
        parser.error("--hops must be within 1..250")
    report = run_traceroute(args.hops, args.seed)
    if args.json:
        json.dump(report, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(format_traceroute(report))
    return 0


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _emit(report: dict[str, object], as_json: bool, text: Callable[[], str]) -> None:
    if as_json:
        json.dump(report, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(text())


def _tcp(args: argparse.Namespace, parser: argparse.ArgumentParser, prog: str) -> int:
    """``tuxnet sim`` (``--scenario tcp``): a TCP bulk transfer over the lossy link."""
    from tuxnet.scenarios.tcp_bulk import TcpBulkParams, format_tcp_bulk, run_tcp_bulk

    for name in ("duration", "offered", "size"):
        if getattr(args, name) is not None:
            parser.error(f"--{name} applies to --scenario frames, not tcp")
    if args.features is not None and not args.features.split():
        parser.error("--features needs ethtool -K arguments, e.g. 'tso on'")
    d = TcpBulkParams()
    nbytes = d.nbytes if args.bytes is None else args.bytes
    if nbytes < 1:
        parser.error("--bytes must be at least 1")
    params = TcpBulkParams(seed=args.seed, nbytes=nbytes, rate_bps=args.rate,
                           delay_ns=args.delay, loss=args.loss, corrupt=args.corrupt,
                           queue_limit_pkts=args.limit,
                           features=tuple((args.features or "").split()))
    try:
        report = run_tcp_bulk(params, args.pcap)
    except OSError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # a link parameter the simulator refuses
        parser.error(str(err))
    _emit(report, args.json, lambda: format_tcp_bulk(report))
    return 0 if report["transfer"]["sha256_ok"] and not report["errors"] else 1


def _frames(args: argparse.Namespace, parser: argparse.ArgumentParser, prog: str) -> int:
    """``tuxnet sim --scenario frames``: UDP datagrams echoed over the lossy link."""
    from tuxnet.scenarios.frames import FramesParams, format_frames, run_frames

    for name in ("bytes", "features"):
        if getattr(args, name) is not None:
            parser.error(f"--{name} applies to --scenario tcp, not frames")
    d = FramesParams()
    duration = d.duration_ns if args.duration is None else args.duration
    offered = d.offered_bps if args.offered is None else args.offered
    size = d.payload if args.size is None else args.size
    if not 0 <= size <= 1472:
        parser.error("--size must be within 0..1472 (one Ethernet frame)")
    if offered <= 0:
        parser.error("--rate and --offered must be positive rates")
    if duration <= 0:
        parser.error("--duration must be positive")
    params = FramesParams(seed=args.seed, duration_ns=duration, rate_bps=args.rate,
                          delay_ns=args.delay, loss=args.loss, corrupt=args.corrupt,
                          queue_limit_pkts=args.limit, offered_bps=offered, payload=size)
    try:
        report = run_frames(params, args.pcap)
    except OSError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # a link parameter the simulator refuses
        parser.error(str(err))
    _emit(report, args.json, lambda: format_frames(report))
    return 0


def main(argv: list[str], prog: str = "tuxnet sim") -> int:
    """Entry point of ``tuxnet sim``."""
    from tuxnet.scenarios.tcp_bulk import TcpBulkParams

    d = TcpBulkParams()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a built-in scenario in virtual time (deterministic for a seed). "
                    "The default: a TCP bulk transfer between two hosts over a lossy, "
                    "rate-limited link, with goodput, retransmissions, the header-prediction "
                    "share and ss -ti of both sockets.")
    parser.add_argument("--scenario", choices=("tcp", "frames", "traceroute"), default="tcp",
                        help="tcp (default): one TCP bulk transfer over the lossy link; "
                             "frames: UDP datagrams echoed over it; traceroute: UDP probes "
                             "through a chain of routers")
    parser.add_argument("--hops", type=int, default=3, metavar="N",
                        help="routers in the traceroute chain (default %(default)s)")
    parser.add_argument("--seed", type=int, default=d.seed,
                        help="random seed (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--pcap", metavar="FILE", help="capture both link directions to FILE")
    parser.add_argument("--bytes", type=_size, default=None, metavar="SIZE",
                        help="tcp: bytes to transfer, tc units (default 2000000)")
    parser.add_argument("--rate", type=_rate, default=d.rate_bps, metavar="RATE",
                        help="link rate, tc units (default 10mbit)")
    parser.add_argument("--delay", type=_time, default=d.delay_ns, metavar="TIME",
                        help="one-way propagation delay (default 5ms)")
    parser.add_argument("--loss", type=_fraction, default=d.loss, help="random loss (default 1%%)")
    parser.add_argument("--corrupt", type=_fraction, default=d.corrupt,
                        help="bit-flip corruption (default 0.2%%)")
    parser.add_argument("--limit", type=int, default=d.queue_limit_pkts, metavar="PKTS",
                        help="link queue limit in packets (default %(default)s)")
    parser.add_argument("--features", metavar="ARGS", default=None,
                        help="tcp: ethtool -K arguments for both hosts' eth0, e.g. "
                             "'tso on rx-gro-hw on' (TSO and hardware GRO; off by default)")
    parser.add_argument("--duration", type=_time, default=None, metavar="TIME",
                        help="frames: sending period, tc units (default 2s)")
    parser.add_argument("--offered", type=_rate, default=None, metavar="RATE",
                        help="frames: offered load of a->b (default 12mbit)")
    parser.add_argument("--size", type=int, default=None, metavar="BYTES",
                        help="frames: UDP payload size (default 1000)")
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.scenario == "traceroute":
        return _traceroute(args, parser, prog)
    if args.rate <= 0:
        parser.error("--rate must be a positive rate")
    if args.scenario == "frames":
        return _frames(args, parser, prog)
    return _tcp(args, parser, prog)
