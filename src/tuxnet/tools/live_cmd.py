"""``tuxnet live``: run the stack on a TAP device, talking to the real kernel.

    tuxnet live --tap tnx0 --addr 10.0.0.2/24 --peer-addr 10.0.0.1/24 --serve udp-echo:7

creates the TAP ``tnx0`` in the current network namespace (so ``ip netns exec NS tuxnet
live ...`` puts it in NS), gives tuxnet 10.0.0.2/24 on it and, with ``--peer-addr``, the
kernel's side 10.0.0.1/24 (link up). It prints one ready line, serves until SIGINT/
SIGTERM (or ``--duration``, or the end of ``--fetch URL``), then prints its counters
(interface, Ip/Icmp/Tcp/Udp MIB, drops by reason, ARP table, services) and removes the
device. Needs root
(CAP_NET_ADMIN). With ``--json`` the report is one JSON document on stdout and the
ready line goes to stderr.
"""

from __future__ import annotations

import argparse

from tuxnet.live.http_fetch import FetchError, parse_url
from tuxnet.live.runner import LiveConfig, LiveError, run_live, split_prefix
from tuxnet.live.services import SERVICES

__all__ = ["build_parser", "main"]


def _mac(text: str) -> bytes:
    parts = text.split(":")
    try:
        mac = bytes(int(p, 16) for p in parts)
    except ValueError:
        mac = b""
    if len(parts) != 6 or len(mac) != 6 or any(len(p) > 2 for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a MAC address (xx:xx:xx:xx:xx:xx)")
    if mac[0] & 1:
        raise argparse.ArgumentTypeError(f"{text} is a multicast address")
    return mac


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def _mtu(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 68 <= v <= 65535:  # ETH_MIN_MTU .. ETH_MAX_MTU
        raise argparse.ArgumentTypeError(f"{v} outside 68..65535")
    return v


def build_parser(prog: str = "tuxnet live") -> argparse.ArgumentParser:
    """The argument parser."""
    services = ", ".join(usage for _, usage in SERVICES.values())
    ap = argparse.ArgumentParser(
        prog=prog, description="Run the tuxnet stack on a TAP device, talking to the "
        "real kernel, until interrupted; then print its counters and remove the device.")
    ap.add_argument("--tap", required=True, metavar="NAME",
                    help="TAP device to create (may hold %%d), e.g. tnx0")
    ap.add_argument("--addr", required=True, metavar="A/LEN", help="tuxnet's IPv4 address")
    ap.add_argument("--peer-addr", metavar="B/LEN",
                    help="give the kernel's side of the TAP this address and bring it up")
    ap.add_argument("--route", nargs=3, action="append", default=[],
                    metavar=("PREFIX", "via", "GW"),
                    help="a route in tuxnet (PREFIX may be 'default'); repeatable")
    ap.add_argument("--serve", action="append", default=[], metavar="SPEC",
                    help=f"run a service; repeatable ({services})")
    ap.add_argument("--mtu", type=_mtu, metavar="N", help="MTU of both sides of the TAP")
    ap.add_argument("--mac", type=_mac, metavar="LLADDR",
                    help="tuxnet's MAC address (default: random, locally administered)")
    ap.add_argument("--no-offload", action="store_true",
                    help="no TSO/USO/checksum offload from the kernel to tuxnet")
    ap.add_argument("--duration", type=_positive_float, metavar="SECONDS",
                    help="stop after this long (default: until SIGINT/SIGTERM)")
    ap.add_argument("--fetch", metavar="URL",
                    help="GET http://ADDR[:PORT]/PATH from a server on the kernel's side, "
                    "write the body to --output, then stop (exit 1 on failure)")
    ap.add_argument("--output", "-o", default="-", metavar="FILE",
                    help="where --fetch writes the body (default: stdout)")
    ap.add_argument("--timeout", type=_positive_float, default=30.0, metavar="SECONDS",
                    help="--fetch fails after this long without progress (default 30)")
    ap.add_argument("--busy-poll", action="store_true",
                    help="poll the TAP continuously instead of sleeping until it is "
                    "readable (Linux's threaded NAPI busy poll: lower latency, one CPU "
                    "kept 100%% busy)")
    ap.add_argument("--json", action="store_true", help="print the report as one JSON document")
    return ap


def main(argv: list[str], prog: str = "tuxnet live") -> int:
    """Entry point of ``tuxnet live``."""
    ap = build_parser(prog)
    ns = ap.parse_args(argv)
    routes: list[tuple[str, str]] = []
    for prefix, via, gw in ns.route:
        if via != "via":
            ap.error(f"--route {prefix} {via} {gw}: expected 'PREFIX via GW'")
        routes.append((prefix, gw))
    try:
        split_prefix(ns.addr, "--addr")
        if ns.peer_addr is not None:
            split_prefix(ns.peer_addr, "--peer-addr")
        if ns.fetch is not None:
            parse_url(ns.fetch)
    except (LiveError, FetchError) as exc:
        ap.error(str(exc))
    cfg = LiveConfig(tap=ns.tap, addr=ns.addr, peer_addr=ns.peer_addr, routes=routes,
                     serve=list(ns.serve), mtu=ns.mtu, duration=ns.duration, mac=ns.mac,
                     offload=not ns.no_offload, fetch=ns.fetch, output=ns.output,
                     fetch_timeout=ns.timeout, busy_poll=ns.busy_poll)
    try:
        return run_live(cfg, as_json=ns.json)
    except KeyboardInterrupt:  # before the handlers were installed: nothing to undo yet
        return 130
