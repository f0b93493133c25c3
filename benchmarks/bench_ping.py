"""Ping RTT and UDP echo rate (root): the kernel pinging tuxnet over a TAP, next to the
kernel pinging a kernel peer over a veth pair, in the same run.

Topology (made here, removed at exit, also on SIGINT/SIGTERM and errors): namespace A
holds the TAP's kernel side (10.91.0.1/24; ``tuxnet live`` is 10.91.0.2 on it, serving
udp-echo:7) and veth0 (10.92.0.1/24); namespace B holds veth1 (10.92.0.2/24) and a
kernel UDP echo server on port 7 (a Python process, as tuxnet's echo is).

- ping: ``ping -c N -i 0.2``, ``-i 0.01`` and ``-i 0.002`` from A to each peer (one
  warm-up ping first, so ARP is resolved); per-reply RTTs from ping's own lines, median
  and mean. tuxnet runs twice: sleeping in epoll until the TAP is readable (the
  default), and with ``--busy-poll`` (it spins on the TAP, as Linux's threaded NAPI busy
  poll does). Two "raw TAP floor" rows ping a bare Python responder on a second TAP in A
  (tnx1, 10.93.0.2: read a frame, swap the addresses, write it back, no stack), once
  sleeping in epoll and once spinning, each beside the tuxnet mode it bounds: what
  waking a user-space process and crossing a TAP twice costs on this machine, the part
  no stack can save. The intervals show how this VM treats a process that idles: at
  2 ms its caches stay warm; at 10 ms and more they go cold, even while it spins (a
  fixed Python workload of 120 small functions takes 2x longer after a 10 ms spin and
  4x after a 200 ms spin, 6x after a 200 ms sleep), so the same per-ping work costs
  3-5x more at 200 ms (ping's ``-i 0.2`` is the shortest interval an ordinary user may
  ask for; the default is 1 s).
- udp: a Python client in A does N sequential request/response round trips (64-byte
  payload) to each echo server; round trips per second.

Ratios (higher is better for tuxnet), at -i 0.01: ``ping_rtt_speed`` = kernel median /
tuxnet median RTT; ``udp_echo_rate`` = tuxnet round trips/s / kernel round trips/s; the
``_busy_poll`` ones for ``--busy-poll``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import FrameType

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import ratio_line, table

TUX = "10.91.0.2"
TAP_KERNEL = "10.91.0.1"
RAW = "10.93.0.2"  # the no-stack floor: a bare ICMP echo responder on a second TAP
RAW_KERNEL = "10.93.0.1"
VETH_A = "10.92.0.1"
VETH_B = "10.92.0.2"
PORT = 7
TARGET_MEDIAN_MS = 0.15
# ping intervals (s): 200 ms (the shortest an unprivileged ping allows) and 10 ms, after
# which a process finds its caches cold on this VM, and 2 ms, where they stay warm
INTERVALS = ("0.2", "0.01", "0.002")
RATIO_INTERVAL = "0.01"  # the interval the ratio lines compare at

UDP_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(65535)
    s.sendto(data, addr)
"""

# The floor of any Python stack on a TAP: read a frame, swap addresses, write it back.
RAW_RESPONDER = r"""
import select, subprocess, sys
from tuxnet.drivers.tap import TapDevice
mac = bytes.fromhex("027475780093")
tap = TapDevice.create("tnx1")
tap.configure(sys.argv[1], 24)
subprocess.run(["ip", "neigh", "replace", sys.argv[2], "lladdr", "02:74:75:78:00:93",
                "dev", "tnx1", "nud", "permanent"], check=True)
print("ready", flush=True)
ep = select.epoll()
ep.register(tap.fileno(), select.EPOLLIN)
timeout = 0 if sys.argv[3] == "busy" else -1  # spin, or sleep until readable
try:
    while True:
        ep.poll(timeout)
        for hdr, f in tap.read_batch():
            if len(f) >= 42 and f[12:14] == b"\x08\x00" and f[23] == 1 and f[34] == 8:
                r = bytearray(f)
                r[0:6] = f[6:12]
                r[6:12] = mac
                r[26:30], r[30:34] = f[30:34], f[26:30]
                r[34] = 0
                c = (r[36] << 8 | r[37]) + 0x0800  # RFC 1624 update for type 8 -> 0
                c = (c & 0xFFFF) + (c >> 16)
                r[36:38] = c.to_bytes(2, "big")
                tap.write(r)
finally:
    tap.close()
"""

UDP_CLIENT = r"""
import json, socket, sys, time
dst = (sys.argv[1], int(sys.argv[2]))
n = int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.connect(dst)
payload = b"x" * 64
for _ in range(20):  # warm-up
    s.send(payload); s.recv(2048)
lost = 0
t0 = time.perf_counter()
for _ in range(n):
    s.send(payload)
    try:
        s.recv(2048)
    except socket.timeout:
        lost += 1
dt = time.perf_counter() - t0
print(json.dumps({"n": n, "seconds": dt, "lost": lost}))
"""


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def _ns(ns: str, *cmd: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True,
                          timeout=timeout)


@contextmanager
def _netns(tag: str) -> Iterator[str]:
    name = f"{os.environ.get('TUXNET_NS_PREFIX', 'tnxb')}{tag}{os.getpid()}{secrets.token_hex(2)}"
    _sh("ip", "netns", "add", name)
    try:
        _sh("ip", "-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@contextmanager
def _proc(ns: str, *cmd: str, ready: str, timeout: float = 20) -> Iterator[subprocess.Popen[bytes]]:
    """A process in ``ns``; waits for a line starting with ``ready`` on stdout; killed
    (by PID) at the end."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, bufsize=0)
    try:
        assert p.stdout is not None
        buf = b""
        deadline = time.monotonic() + timeout
        while ready.encode() not in buf:
            if time.monotonic() > deadline or p.poll() is not None:
                err = p.stderr.read().decode() if p.stderr and p.poll() is not None else ""
                raise RuntimeError(f"{' '.join(cmd[:4])} did not start: {buf!r} {err}")
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                buf += os.read(p.stdout.fileno(), 4096)
        yield p
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def ping_rtts(ns: str, dst: str, count: int, interval: str) -> list[float]:
    """RTTs in ms of ``ping -c count -i interval`` (after one warm-up ping)."""
    _ns(ns, "ping", "-c", "1", "-W", "2", dst)
    r = _ns(ns, "ping", "-c", str(count), "-i", interval, "-W", "1", dst)
    rtts = [float(m) for m in re.findall(r"time=([\d.]+) ms", r.stdout)]
    if not rtts:
        raise RuntimeError(f"no replies from {dst}: {r.stdout} {r.stderr}")
    return rtts


def udp_rate(ns: str, dst: str, n: int) -> tuple[float, int]:
    """(round trips per second, lost) of N sequential 64-byte UDP request/responses."""
    r = _ns(ns, sys.executable, "-c", UDP_CLIENT, dst, str(PORT), str(n))
    if r.returncode:
        raise RuntimeError(f"udp client to {dst}: {r.stderr}")
    res = json.loads(r.stdout)
    return res["n"] / res["seconds"], int(res["lost"])


def _run_tuxnet(ns: str, count: int, udp_n: int, *, busy: bool
                ) -> tuple[dict[str, list[float]], float, int, str]:
    """Start ``tuxnet live`` on tnx0 in ``ns``, ping it at each interval and time UDP
    echo, stop it: ({interval: RTTs}, UDP round trips/s, UDP lost, its report)."""
    extra = ["--busy-poll"] if busy else []
    with _proc(ns, sys.executable, "-m", "tuxnet", "live", "--tap", "tnx0", "--addr",
               f"{TUX}/24", "--peer-addr", f"{TAP_KERNEL}/24", "--serve", f"udp-echo:{PORT}",
               *extra, ready="tuxnet live: tap") as tux:
        rtts = {iv: ping_rtts(ns, TUX, count, iv) for iv in INTERVALS}
        udp, lost = udp_rate(ns, TUX, udp_n)
        tux.send_signal(signal.SIGTERM)
        out = tux.communicate(timeout=10)[0].decode()
    return rtts, udp, lost, out


def _run_raw(ns: str, count: int, *, busy: bool) -> dict[str, list[float]]:
    """Start the bare responder on tnx1 in ``ns`` (spinning when ``busy``), ping it at
    each interval, stop it: {interval: RTTs}. It runs alone, so a spinning responder
    takes no CPU from the other rows."""
    with _proc(ns, sys.executable, "-c", RAW_RESPONDER, RAW_KERNEL, RAW,
               "busy" if busy else "sleep", ready="ready"):
        return {iv: ping_rtts(ns, RAW, count, iv) for iv in INTERVALS}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    count = 20 if quick else 200
    udp_n = 200 if quick else 5000
    if os.geteuid() != 0:
        print("bench_ping: needs root (network namespaces, /dev/net/tun)", file=sys.stderr)
        return 1

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwinds through the cleanups below

    signal.signal(signal.SIGTERM, on_term)
    with ExitStack() as stack:
        a = stack.enter_context(_netns("a"))
        b = stack.enter_context(_netns("b"))
        _sh("ip", "-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
            "netns", b)
        _sh("ip", "-n", a, "addr", "add", f"{VETH_A}/24", "dev", "veth0")
        _sh("ip", "-n", b, "addr", "add", f"{VETH_B}/24", "dev", "veth1")
        _sh("ip", "-n", a, "link", "set", "veth0", "up")
        _sh("ip", "-n", b, "link", "set", "veth1", "up")
        stack.enter_context(_proc(b, sys.executable, "-c", UDP_SERVER, str(PORT),
                                  ready="ready"))
        # tuxnet twice, one after the other on the same TAP: sleeping in epoll until the
        # TAP is readable (the default), then busy polling (``--busy-poll``)
        t_rtt, t_udp, t_lost, out = _run_tuxnet(a, count, udp_n, busy=False)
        bp_rtt, bp_udp, bp_lost, _ = _run_tuxnet(a, count, udp_n, busy=True)
        k_rtt = {iv: ping_rtts(a, VETH_B, count, iv) for iv in INTERVALS}
        r_rtt = _run_raw(a, count, busy=False)
        rb_rtt = _run_raw(a, count, busy=True)
        k_udp, k_lost = udp_rate(a, VETH_B, udp_n)
    print(f"ping -c {count} from the kernel at intervals of {', '.join(INTERVALS)} s "
          f"(RTT in ms); UDP echo, {udp_n} sequential 64-byte round trips from a Python "
          "client")
    rows: list[list[object]] = []
    for iv in INTERVALS:
        for name, rtts, udp, lost in (("tuxnet (TAP)", t_rtt, t_udp, t_lost),
                                      ("raw TAP floor", r_rtt, "-", "-"),
                                      ("tuxnet --busy-poll", bp_rtt, bp_udp, bp_lost),
                                      ("raw TAP floor, spinning", rb_rtt, "-", "-"),
                                      ("kernel (veth)", k_rtt, k_udp, k_lost)):
            r = rtts[iv]
            rows.append([name, iv, len(r), f"{statistics.median(r):.3f}",
                         f"{statistics.fmean(r):.3f}", f"{min(r):.3f}", f"{max(r):.3f}",
                         udp, lost])
    print(table(["peer", "-i", "replies", "median ms", "mean ms", "min ms", "max ms",
                 "udp rtt/s", "udp lost"], rows))
    for iv in INTERVALS:
        for name, rtts, floor in (("tuxnet", t_rtt, r_rtt),
                                  ("tuxnet --busy-poll", bp_rtt, rb_rtt)):
            med = statistics.median(rtts[iv])
            verdict = "meets" if med <= TARGET_MEDIAN_MS else "misses"
            f_med = statistics.median(floor[iv])
            print(f"-i {iv}: {name} median RTT {med:.3f} ms {verdict} the target of <= "
                  f"{TARGET_MEDIAN_MS} ms (its raw TAP floor {f_med:.3f} ms, the stack's "
                  f"share {med - f_med:.3f} ms)")
    summary = [ln for ln in out.splitlines() if ln.startswith(("Icmp", "drops"))]
    for ln in summary:
        print(f"  tuxnet {ln}")
    k_med = statistics.median(k_rtt[RATIO_INTERVAL])
    print(ratio_line("ping_rtt_speed", "kernel",
                     k_med / statistics.median(t_rtt[RATIO_INTERVAL])))
    print(ratio_line("ping_rtt_speed_busy_poll", "kernel",
                     k_med / statistics.median(bp_rtt[RATIO_INTERVAL])))
    print(ratio_line("udp_echo_rate", "kernel", t_udp / k_udp))
    print(ratio_line("udp_echo_rate_busy_poll", "kernel", bp_udp / k_udp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
