"""CUBIC and Reno under deterministic loss (root): the average congestion window of
Linux's own TCP, of tuxnet's, and RFC 9438's table (section 5.1, Table 1), side by side.

Every Nth data packet (N = 1/p) is dropped on a path of ``--rtt`` ms (default 100)
with no bandwidth limit and no queue: the setting of RFC 9438 section 5's response
function ("a deterministic loss model where the number of packets between two
successive packet losses is always 1/p").

Kernel: namespaces A (sender, 10.77.0.1) and B (receiver, 10.77.0.2), each with a TUN
device; this process relays IP packets between the two TUNs, delaying each direction by
RTT / 2 and dropping every Nth A -> B data packet (this kernel has no netem, so the
delay line is here; the relay reports how late it forwards, 0.2-0.5 ms at a few hundred
packets a second, ~2 ms at 2000). The namespaces keep their default socket buffers
(``--big-buffers``: 64 MB tcp_rmem/tcp_wmem defaults, as lab cc uses; then the receiver
ACKs every segment because tcp_grow_window re-arms quick-ACK mode). The sender (a Python
process in A, TCP_CONGESTION set per socket) writes 1 MB non-blocking whenever select()
says writable and samples TCP_INFO every 10 ms (every 5 ms from the start with
``--trace FILE``: t, cwnd, ssthresh, ca_state, total_retrans, delivered). Names are
prefixed ``tnxcc`` and removed at exit, also on failure or SIGTERM.

tuxnet: the same flow in virtual time, :func:`tuxnet.labs.cc_response.run_response`
(a 10 Gbit/s link, a buffer that never fills, the every-Nth drop of
``Bottleneck.every``).

Columns: ``W`` is segments per RTT over whole loss cycles after the warm-up (N packets
leave between two drops: cycles x N x RTT / time; the window the response function
predicts); ``cwnd`` is the time average of snd_cwnd sampled every 10 ms (independent of
the relay's added delay); ``RFC 9438`` is Table 1's closed form as the RFC's tablecode.c
computes it: max((C*3.7/1.2)^0.25 (RTT/p)^0.75, 1.2/sqrt(p)); sqrt(3/(2p)) is the steady
state of AIMD(1, 0.5) -- and of CUBIC's Reno-friendly AIMD(3(1-b)/(1+b), b) -- under
this loss. Kernel runs are listed one by one (``--repeat``): CUBIC's window under
periodic loss depends on which plateau orbit the flow locks onto.

Usage (as root): python benchmarks/bench_cubic_response.py [--quick] [--seconds S]
[--losses 0.01,0.001] [--ccs cubic,reno] [--rtt MS] [--repeat K] [--big-buffers]
[--trace FILE] [--no-kernel] [--json]. ``--seconds`` is the measured time per point
(default: 40 cycles' worth, between 30 and 240 s; quick: 6 s, p = 1e-2); the warm-up
before it is a quarter of it (at least 5 s).
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import json
import math
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import table

from tuxnet.drivers.ifconfig import in_netns
from tuxnet.labs.cc import SEC
from tuxnet.labs.cc_response import rfc9438_table, run_response

A_IP, B_IP = "10.77.0.1", "10.77.0.2"
PORT = 5001
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
_RECEIVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
buf = bytearray(1 << 20)
while c.recv_into(buf):
    pass
"""

# the sender: connect with TCP_CONGESTION, keep the socket full, sample TCP_INFO
# (include/uapi/linux/tcp.h: tcpi_rtt @68, tcpi_snd_cwnd @80, tcpi_total_retrans @100,
# tcpi_delivered @192) every 10 ms after the warm-up; write one JSON document to a file
# (a pipe would fill with a long trace while the relay is not reading it)
_SENDER = """
import json, select, socket, struct, sys, time
dst, port, cc, warm, secs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
tracing = sys.argv[7] == "1"
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, 13, cc.encode())
s.connect((dst, port))
s.setblocking(False)
buf = bytes(1 << 20)
t0 = time.monotonic()
t_warm, t_end = t0 + warm, t0 + warm + secs
nxt = t_warm
n = cw = rtt = 0
d0 = r0 = None
first = None
trace = []
def info(rec=False):
    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    if rec:  # t, snd_cwnd, snd_ssthresh (@76), ca_state (@1), total_retrans, delivered
        trace.append((round(time.monotonic() - t0, 4), struct.unpack_from("I", b, 80)[0],
                      struct.unpack_from("I", b, 76)[0], b[1],
                      struct.unpack_from("I", b, 100)[0], struct.unpack_from("I", b, 192)[0]))
    return (struct.unpack_from("I", b, 80)[0], struct.unpack_from("I", b, 68)[0],
            struct.unpack_from("I", b, 100)[0], struct.unpack_from("I", b, 192)[0])
while True:
    now = time.monotonic()
    if tracing and now >= t0 + len(trace) * 0.005:
        info(True)
    if now >= nxt:
        c, r, retr, dl = info()
        if d0 is None:
            d0, r0, first = dl, retr, now
        else:
            n += 1; cw += c; rtt += r
        if now >= t_end:
            break
        nxt += 0.01
    wake = min(nxt, t0 + len(trace) * 0.005) if tracing else nxt
    _, w, _ = select.select([], [s], [], max(0.0, wake - time.monotonic()))
    if w:
        try:
            while True:
                s.send(buf)
        except BlockingIOError:
            pass
c, r, retr, dl = info()
el = time.monotonic() - first
b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
segs_in, data_out = struct.unpack_from("I", b, 140)[0], struct.unpack_from("I", b, 156)[0]
with open(out, "w") as f:
    json.dump({"cwnd_avg": cw / max(n, 1), "srtt_ms": rtt / max(n, 1) / 1000,
               "delivered": dl - d0, "seconds": el, "losses": retr - r0, "trace": trace,
               "acks_per_data": segs_in / max(data_out, 1)}, f)
"""


def sh(*cmd: str) -> None:
    """Run a setup command; a failure stops the benchmark with its message."""
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"bench_cubic_response: `{' '.join(cmd)}` failed: "
                         f"{out.stderr.strip()}")


def open_tun(ns: str, name: str) -> int:
    """A TUN device (IFF_TUN | IFF_NO_PI: bare IP packets, no offloads, so the kernel
    hands over MTU-sized packets) created in namespace ``ns``; non-blocking fd."""
    with in_netns(ns):
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


_BIG = (("net.ipv4.tcp_rmem", "4096 67108864 134217728"),
        ("net.ipv4.tcp_wmem", "4096 67108864 134217728"))


@contextmanager
def topology(big: bool = False) -> Iterator[tuple[str, str, int, int]]:
    """Namespaces tnxcca/tnxccb (+pid) with a TUN each, addressed point to point (the
    namespaces' own tcp_rmem/tcp_wmem defaults, or 64 MB ones with ``big``); everything
    removed at exit."""
    tag = f"{os.getpid() % 100000}"
    ns_a, ns_b = f"tnxcca{tag}", f"tnxccb{tag}"
    made: list[str] = []
    fds: list[int] = []
    try:
        for ns in (ns_a, ns_b):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            for k, v in (("net.ipv4.tcp_no_metrics_save", "1"),) + (_BIG if big else ()):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"{k}={v}")
        for ns, dev, me, peer in ((ns_a, "tnxcc0", A_IP, B_IP), (ns_b, "tnxcc1", B_IP, A_IP)):
            fds.append(open_tun(ns, dev))
            sh("ip", "-n", ns, "addr", "add", me, "peer", peer, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "txqueuelen", "10000", "up")
        yield ns_a, ns_b, fds[0], fds[1]
    finally:
        for fd in fds:
            os.close(fd)
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def relay(fd_a: int, fd_b: int, half_rtt: float, every: int, until: subprocess.Popen[str],
          ) -> tuple[list[float], float, float]:
    """Move packets A <-> B with ``half_rtt`` seconds of delay each way, dropping every
    ``every``-th A -> B data packet (IPv4 total length > 100), until ``until`` exits;
    returns when each drop happened (time.monotonic), how late, on average, the
    packets left (seconds: the relay's own addition to each one-way delay), and the
    share of data packets with PSH set."""
    q_ab: collections.deque[tuple[float, bytes]] = collections.deque()
    q_ba: collections.deque[tuple[float, bytes]] = collections.deque()
    data = psh = 0
    drops: list[float] = []
    late = 0.0
    sent = 0
    clock = time.monotonic
    while until.poll() is None:
        now = clock()
        heads = [q[0][0] for q in (q_ab, q_ba) if q]
        timeout = max(0.0, min(heads) - now) if heads else 0.05
        r, _, _ = select.select([fd_a, fd_b], [], [], min(timeout, 0.05))
        now = clock()
        for fd in r:
            q = q_ab if fd == fd_a else q_ba
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if fd == fd_a and len(pkt) > 100:
                    data += 1
                    psh += pkt[33] >> 3 & 1  # IPv4 header (20) + TCP flags byte (13)
                    if data % every == 0:
                        drops.append(now)
                        continue
                q.append((now + half_rtt, pkt))
        now = clock()
        for q, out in ((q_ab, fd_b), (q_ba, fd_a)):
            while q and q[0][0] <= now:
                due, pkt = q.popleft()
                with suppress(OSError):
                    os.write(out, pkt)
                late += clock() - due
                sent += 1
    return drops, late / max(sent, 1), psh / max(data, 1)


def kernel_point(cc: str, p: float, rtt_s: float, warm: float, secs: float,
                 trace: bool = False, big: bool = False) -> dict[str, Any]:
    """One kernel flow through the relay; the sender's TCP_INFO averages (and with
    ``trace`` its samples every 5 ms from the start: t, cwnd, ssthresh, ca_state,
    total_retrans, delivered)."""
    with topology(big) as (ns_a, ns_b, fd_a, fd_b), \
            tempfile.NamedTemporaryFile("r", prefix="tnxcc", suffix=".json") as res_file:
        rx = subprocess.Popen(["ip", "netns", "exec", ns_b, sys.executable, "-c", _RECEIVER,
                               B_IP, str(PORT)], stdout=subprocess.PIPE, text=True)
        tx: subprocess.Popen[str] | None = None
        try:
            assert rx.stdout is not None
            if rx.stdout.readline().strip() != "ready":
                raise SystemExit("bench_cubic_response: the receiver did not start")
            tx = subprocess.Popen(["ip", "netns", "exec", ns_a, sys.executable, "-c", _SENDER,
                                   B_IP, str(PORT), cc, str(warm), str(secs), res_file.name,
                                   "1" if trace else "0"], text=True)
            every = max(1, round(1 / p))
            t_start = time.monotonic()
            drops, late, psh = relay(fd_a, fd_b, rtt_s / 2, every, tx)
            if tx.wait(timeout=30):
                raise SystemExit(f"bench_cubic_response: the {cc} sender failed")
            res: dict[str, Any] = json.load(res_file)
        finally:
            for proc in (tx, rx):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        res["w_rate"] = res["delivered"] / (res["seconds"] / rtt_s)
        # packets per RTT over whole loss cycles, as tuxnet's run_response measures it
        cyc = [t for t in drops if t >= t_start + warm]
        res["window"] = ((len(cyc) - 1) * every * rtt_s / (cyc[-1] - cyc[0])
                         if len(cyc) > 1 else float("nan"))
        res["cycles"] = max(0, len(cyc) - 1)
        res["relay_late_ms"] = late * 1000
        res["psh_share"] = psh
        return res


def tuxnet_point(cc: str, p: float, rtt_s: float, warm: float, secs: float,
                 big: bool = False) -> dict[str, Any]:
    """The same flow in tuxnet (virtual time)."""
    r = run_response(cc, p, int(rtt_s * SEC), int((warm + secs) * SEC), int(warm * SEC),
                     big_buffers=big)
    return {"cwnd_avg": r.cwnd_avg, "window": r.window, "cycles": r.cycles}


def default_seconds(cc: str, p: float, rtt_s: float) -> float:
    """About 40 loss cycles: a cycle is 1/p packets at ~W per RTT."""
    return min(240.0, max(30.0, 40 / p / rfc9438_table(p, rtt_s, cc=cc) * rtt_s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--quick", action="store_true", help="6 s per point, p = 1e-2 only")
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per point")
    ap.add_argument("--losses", default="0.01,0.001", help="comma list of loss rates")
    ap.add_argument("--ccs", default="cubic,reno")
    ap.add_argument("--rtt", type=float, default=100.0, help="round-trip time, ms")
    ap.add_argument("--repeat", type=int, default=1, help="kernel runs per point")
    ap.add_argument("--no-kernel", action="store_true", help="tuxnet and the RFC only")
    ap.add_argument("--big-buffers", action="store_true",
                    help="64 MB tcp_rmem/tcp_wmem defaults (as lab cc): the receiver ACKs "
                    "every segment (quick-ACK mode re-armed by tcp_grow_window)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--trace", metavar="FILE", default=None,
                    help="write the kernel senders' 5 ms TCP_INFO samples (JSON)")
    args = ap.parse_args()
    # SIGTERM/SIGHUP unwind like Ctrl-C, so the namespaces are removed
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    losses = [float(x) for x in args.losses.split(",")]
    if args.quick:
        losses = [0.01]
    ccs = [c.strip() for c in args.ccs.split(",") if c.strip()]
    rtt_s = args.rtt / 1000
    kernel = not args.no_kernel
    if kernel and os.geteuid() != 0:
        raise SystemExit("bench_cubic_response: the kernel side needs root (or --no-kernel)")
    rows = []
    traces: dict[str, Any] = {}
    for p in losses:
        for cc in ccs:
            secs = 6.0 if args.quick else (args.seconds or default_seconds(cc, p, rtt_s))
            warm = max(5.0, secs / 4)
            t = tuxnet_point(cc, p, rtt_s, warm, secs, args.big_buffers)
            ks = []
            for i in range(args.repeat if kernel else 0):
                k = kernel_point(cc, p, rtt_s, warm, secs, bool(args.trace), args.big_buffers)
                if args.trace:
                    traces[f"{cc}:{p:g}:{i}"] = k.pop("trace")
                ks.append(k)
            row = {"cc": cc, "loss": p, "seconds": round(secs, 1),
                   "kernel_w": [round(k["window"], 2) for k in ks],
                   "kernel_cwnd": [round(k["cwnd_avg"], 2) for k in ks],
                   "kernel_srtt_ms": [round(k["srtt_ms"], 1) for k in ks],
                   "kernel_acks_per_data": [round(k["acks_per_data"], 3) for k in ks],
                   "kernel_relay_late_ms": [round(k["relay_late_ms"], 3) for k in ks],
                   "tuxnet_w": round(t["window"], 2), "tuxnet_cwnd": round(t["cwnd_avg"], 2),
                   "rfc9438": round(rfc9438_table(p, rtt_s, cc=cc), 1),
                   "sqrt_1.5_p": round(math.sqrt(1.5 / p), 1)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    if args.trace:
        with open(args.trace, "w") as f:
            json.dump(traces, f)
    if args.json:
        print(json.dumps({"bench": "cubic_response", "rtt_ms": args.rtt, "rows": rows}))
        return

    def lst(xs: list[float], fmt: str = ".1f") -> str:
        return "/".join(f"{x:{fmt}}" for x in xs) or "-"

    print(f"average window (segments per RTT over whole loss cycles; cwnd: time-average of "
          f"snd_cwnd) under deterministic loss, RTT {args.rtt:g} ms")
    print(table(("cc", "p", "kernel W", "tuxnet W", "kernel cwnd", "tuxnet cwnd",
                 "RFC 9438", "sqrt(1.5/p)", "tuxnet/kernel W"),
                [(r["cc"], f"{r['loss']:g}", lst(r["kernel_w"]), f"{r['tuxnet_w']:.1f}",
                  lst(r["kernel_cwnd"]), f"{r['tuxnet_cwnd']:.1f}", r["rfc9438"],
                  r["sqrt_1.5_p"],
                  lst([r["tuxnet_w"] / k for k in r["kernel_w"]], ".3f"))
                 for r in rows]))


if __name__ == "__main__":
    main()
