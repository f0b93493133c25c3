"""``tuxnet sim``: run a simulated scenario in virtual time and print its counters."""

from __future__ import annotations

import argparse
import json
import sys

from tuxnet.sim import parse_rate, parse_time


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


def main(argv: list[str], prog: str = "tuxnet sim") -> int:
    """Entry point of ``tuxnet sim``."""
    from tuxnet.scenarios.frames import FramesParams, format_frames, run_frames

    d = FramesParams()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the built-in scenario in virtual time: two hosts exchanging UDP "
                    "frames over a lossy, rate-limited link (deterministic for a seed).")
    parser.add_argument("--scenario", choices=("frames", "traceroute"), default="frames",
                        help="frames (default): two hosts over a lossy link; traceroute: "
                             "UDP probes through a chain of routers")
    parser.add_argument("--hops", type=int, default=3, metavar="N",
                        help="routers in the traceroute chain (default %(default)s)")
    parser.add_argument("--seed", type=int, default=d.seed,
                        help="random seed (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--pcap", metavar="FILE", help="capture both link directions to FILE")
    parser.add_argument("--duration", type=_time, default=d.duration_ns, metavar="TIME",
                        help="sending period, tc units (default 2s)")
    parser.add_argument("--rate", type=_rate, default=d.rate_bps, metavar="RATE",
                        help="link rate, tc units (default 10mbit)")
    parser.add_argument("--delay", type=_time, default=d.delay_ns, metavar="TIME",
                        help="one-way propagation delay (default 5ms)")
    parser.add_argument("--loss", type=_fraction, default=d.loss, help="random loss (default 1%%)")
    parser.add_argument("--corrupt", type=_fraction, default=d.corrupt,
                        help="bit-flip corruption (default 0.2%%)")
    parser.add_argument("--limit", type=int, default=d.queue_limit_pkts, metavar="PKTS",
                        help="link queue limit in packets (default %(default)s)")
    parser.add_argument("--offered", type=_rate, default=d.offered_bps, metavar="RATE",
                        help="offered load of a->b (default 12mbit)")
    parser.add_argument("--size", type=int, default=d.payload, metavar="BYTES",
                        help="UDP payload size (default %(default)s)")
    args = parser.parse_args(argv)
    if not 0 <= args.size <= 1472:
        parser.error("--size must be within 0..1472 (one Ethernet frame)")
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.scenario == "traceroute":
        return _traceroute(args, parser, prog)
    params = FramesParams(seed=args.seed, duration_ns=args.duration, rate_bps=args.rate,
                          delay_ns=args.delay, loss=args.loss, corrupt=args.corrupt,
                          queue_limit_pkts=args.limit, offered_bps=args.offered,
                          payload=args.size)
    if args.rate <= 0 or args.offered <= 0:
        parser.error("--rate and --offered must be positive rates")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    try:
        report = run_frames(params, args.pcap)
    except OSError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # a link parameter the simulator refuses
        parser.error(str(err))
    if args.json:
        json.dump(report, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(format_frames(report))
    return 0
