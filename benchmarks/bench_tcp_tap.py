"""TCP over a TAP (root): ``tuxnet live`` serving the real kernel, side by side with
the kernel talking to itself over a veth pair in the same run.

Topology (made here, removed at exit): namespace A holds the kernel clients, the TAP
``tlvb0`` (kernel 10.94.0.1/24, tuxnet 10.94.0.2 running ``tuxnet live --serve
http:80 --serve discard:9`` in its own process) and veth ``tlvv0`` (10.95.0.1/24);
namespace B holds ``tlvv1`` (10.95.0.2/24) and a kernel server (Python, one thread
per connection) with the same two services. The TAP carries virtio-net headers with
TSO4 + checksum offload both ways: the kernel hands tuxnet 64 KiB GSO frames and
takes 64 KiB TSO frames from it.

- kernel -> X bulk: a kernel client in A sends BYTES to discard:9 (1 MiB sendall
  calls), shuts down, and waits for the server to close; goodput at the client.
- X -> kernel bulk: a kernel client in A sends ``GET /bytes/BYTES`` to http:80 and
  reads the body (recv_into 1 MiB); goodput at the client.
- connection setup: N sequential connect() calls (SYN to the SYN-ACK back, at the
  client), each followed by close; the median, and full connect + GET /bytes/0 +
  close round trips per second.

Metrics: Gbit/s of TCP payload; ms per connect; connections/s. ``--profile FILE``
runs tuxnet under cProfile and prints its top functions (cumulative and own time).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import ratio_line, table

SRC = Path(__file__).resolve().parents[1] / "src"
TAP, TUX_IP, TAP_IP = "tlvb0", "10.94.0.2", "10.94.0.1"
VETH_A_IP, VETH_B_IP = "10.95.0.1", "10.95.0.2"

# the kernel's peer server: discard on 9 and GET /bytes/N on 80, a thread per connection
_SERVER = r"""
import socket, sys, threading
pat = bytes(i % 251 for i in range(251 * 4096 + 251))
def discard(c):
    buf = bytearray(1 << 20)
    while c.recv_into(buf):
        pass
    c.close()
def http(c):
    req = b""
    while b"\r\n\r\n" not in req:
        chunk = c.recv(4096)
        if not chunk:
            c.close(); return
        req += chunk
    n = int(req.split(b" ")[1].rsplit(b"/", 1)[1])
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
    view = memoryview(pat); pos = 0; step = 251 * 4096
    while pos < n:
        take = min(step, n - pos)
        c.sendall(view[pos % 251:pos % 251 + take]); pos += take
    c.close()
def serve(port, fn):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port)); s.listen(4096)
    while True:
        c, _ = s.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()
threading.Thread(target=serve, args=(9, discard), daemon=True).start()
print("ready", flush=True)
serve(80, http)
"""

# the kernel client: push / pull / conn, one JSON line
_CLIENT = r"""
import json, socket, sys, time
mode, host, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
clock = time.perf_counter
if mode == "push":
    buf = bytes(1 << 20)
    s = socket.create_connection((host, 9), timeout=60)
    t0 = clock(); left = n
    while left > 0:
        s.sendall(buf[:min(left, len(buf))]); left -= len(buf)
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    print(json.dumps({"secs": clock() - t0}))
elif mode == "pull":
    s = socket.create_connection((host, 80), timeout=60)
    t0 = clock()
    s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % n)
    buf = bytearray(1 << 20); got = 0
    while (k := s.recv_into(buf)):
        got += k
    print(json.dumps({"secs": clock() - t0, "bytes": got}))
else:
    setup = []
    for _ in range(n):
        s = socket.socket(); s.settimeout(5)
        t = clock(); s.connect((host, 80)); setup.append(clock() - t)
        s.close()
    t0 = clock()
    for _ in range(n):
        s = socket.create_connection((host, 80), timeout=5)
        s.sendall(b"GET /bytes/0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass
        s.close()
    setup.sort()
    print(json.dumps({"setup_ms": 1e3 * setup[len(setup) // 2],
                      "conns_per_s": n / (clock() - t0)}))
"""


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@contextmanager
def topology() -> Iterator[tuple[str, str]]:
    tag = f"{os.getpid()}{secrets.token_hex(2)}"
    ns_a, ns_b = f"tlvba{tag}", f"tlvbb{tag}"
    made: list[str] = []
    try:
        for ns in (ns_a, ns_b):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "tlvv0", "netns", ns_a, "type", "veth", "peer", "name",
           "tlvv1", "netns", ns_b)
        sh("ip", "-n", ns_a, "addr", "add", f"{VETH_A_IP}/24", "dev", "tlvv0")
        sh("ip", "-n", ns_b, "addr", "add", f"{VETH_B_IP}/24", "dev", "tlvv1")
        sh("ip", "-n", ns_a, "link", "set", "tlvv0", "up")
        sh("ip", "-n", ns_b, "link", "set", "tlvv1", "up")
        yield ns_a, ns_b
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@contextmanager
def process(ns: str, argv: list[str], ready: str) -> Iterator[subprocess.Popen[str]]:
    """A process in ``ns``, once it printed a line starting with ``ready``."""
    env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(ready):
                break
        else:
            raise RuntimeError(f"{argv[:4]} did not start (rc {proc.wait()})")
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def client(ns: str, mode: str, host: str, n: int) -> dict[str, float]:
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", _CLIENT, mode, host,
                        str(n)], capture_output=True, text=True, timeout=300)
    if r.returncode:
        raise RuntimeError(f"client {mode} {host}: {r.stderr.strip()[-300:]}")
    out: dict[str, float] = json.loads(r.stdout)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny run, for tests")
    ap.add_argument("--bytes", type=int, default=None, help="bytes per bulk run (200 MB)")
    ap.add_argument("--conns", type=int, default=None, help="sequential connections (1000)")
    ap.add_argument("--repeats", type=int, default=None, help="best of N bulk runs (3)")
    ap.add_argument("--profile", metavar="FILE", help="run tuxnet under cProfile")
    args = ap.parse_args()
    nbytes = args.bytes or (4_000_000 if args.quick else 200_000_000)
    nconns = args.conns or (20 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)
    if os.geteuid() != 0:
        print("bench_tcp_tap: needs root (network namespaces, /dev/net/tun)", file=sys.stderr)
        return 1
    tux_argv = [sys.executable, "-m", "tuxnet", "live", "--tap", TAP, "--addr",
                f"{TUX_IP}/24", "--peer-addr", f"{TAP_IP}/24", "--serve", "http:80",
                "--serve", "discard:9", "--json"]
    if args.profile:
        tux_argv[1:3] = ["-m", "cProfile", "-o", args.profile, "-m", "tuxnet"]
    results: dict[str, dict[str, float]] = {"tuxnet": {}, "kernel": {}}
    with topology() as (ns_a, ns_b), \
            process(ns_b, [sys.executable, "-c", _SERVER, VETH_B_IP], "ready"), \
            process(ns_a, tux_argv, "tuxnet live: tap"):
        for who, host in (("tuxnet", TUX_IP), ("kernel", VETH_B_IP)):
            res = results[who]
            push = min(client(ns_a, "push", host, nbytes)["secs"] for _ in range(repeats))
            pulls = [client(ns_a, "pull", host, nbytes) for _ in range(repeats)]
            if any(p["bytes"] < nbytes for p in pulls):
                raise RuntimeError(f"{who}: short body {pulls}")
            res["rx_gbps"] = nbytes * 8 / push / 1e9
            res["tx_gbps"] = nbytes * 8 / min(p["secs"] for p in pulls) / 1e9
            conn = client(ns_a, "conn", host, nconns)
            res["setup_ms"] = conn["setup_ms"]
            res["conns_per_s"] = conn["conns_per_s"]
    t, k = results["tuxnet"], results["kernel"]
    rows = [
        ("bulk kernel -> X (discard), Gbit/s", t["rx_gbps"], k["rx_gbps"],
         t["rx_gbps"] / k["rx_gbps"]),
        ("bulk X -> kernel (GET /bytes/N), Gbit/s", t["tx_gbps"], k["tx_gbps"],
         t["tx_gbps"] / k["tx_gbps"]),
        ("connect() median, ms", t["setup_ms"], k["setup_ms"], k["setup_ms"] / t["setup_ms"]),
        ("connect + GET + close, conns/s", t["conns_per_s"], k["conns_per_s"],
         t["conns_per_s"] / k["conns_per_s"]),
    ]
    print(f"TCP over a TAP: {nbytes / 1e6:g} MB bulk (best of {repeats}), {nconns} "
          "sequential connections; X = tuxnet (TAP, TSO/GSO) or the kernel (veth)")
    print(table(("case", "tuxnet", "kernel/veth", "ratio"), rows))
    print(ratio_line("rx_gbps", "kernel_veth", rows[0][3]))
    print(ratio_line("tx_gbps", "kernel_veth", rows[1][3]))
    print(ratio_line("connect_speed", "kernel_veth", rows[2][3]))
    print(ratio_line("conns_per_s", "kernel_veth", rows[3][3]))
    if args.profile:
        for key in ("cumulative", "tottime"):
            print(f"\ntuxnet profile, by {key}:")
            pstats.Stats(args.profile).sort_stats(key).print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
