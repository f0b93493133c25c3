"""TAP throughput (root): tuxnet reading and writing a TAP device, with and without the
virtio-net header's GSO, side by side with the kernel's own path over a veth pair in the
same run.

Topology (made here, removed at exit): namespace A holds the TAP's kernel side
(10.77.0.1/24, tuxnet is 10.77.0.2 on the other end, a permanent neighbour entry) and
veth0 (10.78.0.1/24); namespace B holds veth1 (10.78.0.2/24).

- rx: a kernel UDP sender in A (a Python process, 64 KiB sends with UDP_SEGMENT 1472)
  towards tuxnet through the TAP, or towards a kernel UDP socket in B through the veth.
  "csum": the TAP takes partial checksums only (TUN_F_CSUM), the kernel segments before
  it and tuxnet reads 1514-byte frames; the peer socket reads 1472-byte datagrams.
  "gso": the TAP takes USO/TSO, tuxnet reads 64 KiB super-frames; the peer socket has
  UDP_GRO and reads 64 KiB at once. Measured at the reader, UDP payload bytes.
- tx: tuxnet writes prebuilt UDP frames into the TAP (csum: 1514-byte frames with a
  partial checksum; gso: 64 KiB UDP_L4 super-frames) towards a bound socket in A; the
  peer is a kernel UDP socket in A sending the same payloads over the veth to a socket
  in B (csum: 1472-byte datagrams; gso: UDP_SEGMENT 64 KiB). Each write or send runs the
  kernel's receive path to the socket (nobody reads it: it fills and drops).

Metrics: Gbit/s of UDP payload and frames/s (a super-frame or a GRO datagram is one).
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import parse_args, ratio_line, table

from tuxnet.drivers.ifconfig import IfConfig, in_netns
from tuxnet.drivers.tap import (
    TUN_F_CSUM,
    TUN_F_TSO4,
    TUN_F_TSO6,
    TUN_F_USO4,
    TUN_F_USO6,
    TapDevice,
)
from tuxnet.drivers.virtio_net import (
    VIRTIO_NET_HDR_F_NEEDS_CSUM,
    VIRTIO_NET_HDR_GSO_UDP_L4,
    VirtioNetHdr,
)
from tuxnet.wire.build import udp_frame
from tuxnet.wire.checksum import csum_fold, pseudo_header_sum

SOL_UDP = 17
UDP_SEGMENT = 103  # include/uapi/linux/udp.h
UDP_GRO = 104  # include/uapi/linux/udp.h
SO_RCVBUFFORCE = 33  # include/uapi/asm-generic/socket.h
MSS = 1472  # 1500 - 20 (IPv4) - 8 (UDP)
SEGS = 44  # 44 * 1472 = 64768 bytes: the largest multiple that fits a 64 KiB datagram
GSO_PAYLOAD = MSS * SEGS
HDRS = 42  # Ethernet + IPv4 + UDP
TUX_MAC = bytes.fromhex("027475780002")
TAP_IP, TUX_IP = "10.77.0.1", "10.77.0.2"
VETH_A_IP, VETH_B_IP = "10.78.0.1", "10.78.0.2"
PORT = 9999

_SENDER = """
import socket, sys, time
dst, port, seconds, seg, size = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if seg:
    s.setsockopt(17, 103, seg)
s.connect((dst, port))
buf = bytes(size)
send = s.send
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end:
    for _ in range(32):
        try:
            send(buf)
        except OSError:
            pass
    n += 32
print(n)
"""


def sh(*cmd: str) -> None:
    """Run a setup command; a failure stops the benchmark with its message."""
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"bench_tap: `{' '.join(cmd)}` failed: {out.stderr.strip()}")


@contextmanager
def topology() -> Iterator[tuple[str, str]]:
    """Namespaces A and B with a veth pair between them; deleted at exit."""
    tag = f"{os.getpid() % 100000}"
    ns_a, ns_b = f"tnxba{tag}", f"tnxbb{tag}"
    made: list[str] = []
    try:
        for ns in (ns_a, ns_b):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            with IfConfig(ns) as ifc:  # no IPv6 chatter (RS, MLD, DAD) in the way
                ifc.set_ipv6("all", False)
                ifc.set_ipv6("default", False)
        sh("ip", "link", "add", "tnxv0", "netns", ns_a, "type", "veth", "peer", "name",
           "tnxv1", "netns", ns_b)
        sh("ip", "-n", ns_a, "addr", "add", f"{VETH_A_IP}/24", "dev", "tnxv0")
        sh("ip", "-n", ns_b, "addr", "add", f"{VETH_B_IP}/24", "dev", "tnxv1")
        for ns, dev in ((ns_a, "tnxv0"), (ns_b, "tnxv1"), (ns_a, "lo"), (ns_b, "lo")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        yield ns_a, ns_b
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def make_tap(ns_a: str, offload: int) -> TapDevice:
    """The TAP in A with the given TUN_F_* offloads, 10.77.0.1/24, tuxnet's MAC known."""
    tap = TapDevice.create("tnxb0", netns=ns_a, offload=offload, txqueuelen=1000)
    try:
        tap.configure(TAP_IP, 24)
        sh("ip", "-n", ns_a, "neigh", "replace", TUX_IP, "lladdr", TUX_MAC.hex(":"),
           "dev", tap.name, "nud", "permanent")
    except BaseException:
        tap.close()
        raise
    return tap


def udp_socket(ns: str, bind: str | None, gro: bool) -> socket.socket:
    """A UDP socket created inside ``ns`` (bound to PORT when ``bind``)."""
    with in_netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    if gro:
        s.setsockopt(SOL_UDP, UDP_GRO, 1)
    if bind is not None:
        s.bind((bind, PORT))
    return s


@contextmanager
def sender(ns: str, dst: str, seconds: float, seg: int, size: int) -> Iterator[None]:
    """The kernel-side UDP sender process in ``ns``; killed (by its PID) at exit."""
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", _SENDER, dst,
                             str(PORT), str(seconds), str(seg), str(size)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def measure_rx(fd: int, read: Callable[[], tuple[int, int]], seconds: float) -> tuple[
        float, float]:
    """Wait for traffic, then call ``read`` (-> frames, payload bytes; 0 frames when
    empty) for ``seconds``; returns frames/s and Gbit/s."""
    deadline = time.monotonic() + 15
    while not select.select([fd], [], [], 0.1)[0]:
        if time.monotonic() > deadline:
            raise SystemExit("bench_tap: no traffic arrived (sender failed?)")
    frames = nbytes = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    now = t0
    while now < end:
        f, b = read()
        if f:
            frames += f
            nbytes += b
        else:
            select.select([fd], [], [], 0.01)
        now = time.perf_counter()
    dt = now - t0
    return frames / dt, nbytes * 8 / dt / 1e9


def rx_tuxnet(ns_a: str, gso: bool, seconds: float) -> tuple[float, float]:
    """tuxnet reads the TAP while the kernel sends 64 KiB UDP_SEGMENT datagrams to it."""
    offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6
    tap = make_tap(ns_a, offload if gso else TUN_F_CSUM)
    try:
        if gso and not tap.offload & TUN_F_USO4:
            raise SystemExit("bench_tap: this kernel's TAP has no USO (Linux < 6.2)")
        batch = tap.read_batch

        def read() -> tuple[int, int]:
            frames = batch(64)
            return len(frames), sum(len(f) for _, f in frames) - HDRS * len(frames)

        with sender(ns_a, TUX_IP, seconds + 15, MSS, GSO_PAYLOAD):
            return measure_rx(tap.fileno(), read, seconds)
    finally:
        tap.close()


def rx_kernel(ns_a: str, ns_b: str, gso: bool, seconds: float) -> tuple[float, float]:
    """A kernel UDP socket in B reads what the same sender sends over the veth."""
    s = udp_socket(ns_b, VETH_B_IP, gro=gso)
    s.setblocking(False)
    buf = bytearray(65536)
    recv = s.recv_into

    def read() -> tuple[int, int]:
        frames = nbytes = 0
        for _ in range(64):
            try:
                n = recv(buf)
            except BlockingIOError:
                break
            frames += 1
            nbytes += n
        return frames, nbytes

    try:
        with sender(ns_a, VETH_B_IP, seconds + 15, MSS, GSO_PAYLOAD):
            return measure_rx(s.fileno(), read, seconds)
    finally:
        s.close()


def timed_loop(step: Callable[[], object], seconds: float) -> tuple[int, float]:
    """Call ``step`` in batches of 64 for ``seconds``; returns calls and elapsed s."""
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    now = t0
    while now < end:
        for _ in range(64):
            step()
        n += 64
        now = time.perf_counter()
    return n, now - t0


def tx_tuxnet(ns_a: str, gso: bool, seconds: float) -> tuple[float, float]:
    """tuxnet writes prebuilt UDP frames (partial checksum) into the TAP."""
    tap = make_tap(ns_a, TUN_F_CSUM)
    sink = udp_socket(ns_a, TAP_IP, gro=True)
    try:
        size = GSO_PAYLOAD if gso else MSS
        frame = udp_frame(TUX_MAC, tap.hwaddr, TUX_IP, TAP_IP, 40000, PORT,
                          payload=bytes(size))
        ulen = len(frame) - 34
        frame[40:42] = csum_fold(pseudo_header_sum(
            0x0A4D0002, 0x0A4D0001, 17, ulen)).to_bytes(2, "big")
        hdr = VirtioNetHdr(VIRTIO_NET_HDR_F_NEEDS_CSUM,
                           VIRTIO_NET_HDR_GSO_UDP_L4 if gso else 0,
                           HDRS if gso else 0, MSS if gso else 0, 34, 6)
        write = tap.write
        if not write(frame, hdr):
            raise SystemExit(f"bench_tap: the kernel refused the frame: {tap.stats}")
        n, dt = timed_loop(lambda: write(frame, hdr), seconds)
        if tap.stats.tx_errors or tap.stats.tx_dropped:
            print(f"  (tx drops/errors: {tap.stats.tx_dropped}/{tap.stats.tx_errors})")
        return n / dt, n * size * 8 / dt / 1e9
    finally:
        sink.close()
        tap.close()


def tx_kernel(ns_a: str, ns_b: str, gso: bool, seconds: float) -> tuple[float, float]:
    """A kernel UDP socket in A sends the same payloads over the veth to a socket in B."""
    sink = udp_socket(ns_b, VETH_B_IP, gro=True)
    with in_netns(ns_a):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        size = GSO_PAYLOAD if gso else MSS
        if gso:
            s.setsockopt(SOL_UDP, UDP_SEGMENT, MSS)
        s.connect((VETH_B_IP, PORT))
        payload = bytes(size)
        send = s.send
        n, dt = timed_loop(lambda: send(payload), seconds)
        return n / dt, n * size * 8 / dt / 1e9
    finally:
        s.close()
        sink.close()


def main() -> None:
    args = parse_args(__doc__ or "")
    if os.geteuid() != 0:
        raise SystemExit("bench_tap: needs root (TAP devices and network namespaces); "
                         "run it as root, e.g. sudo python3 benchmarks/bench_tap.py")
    if not os.path.exists("/dev/net/tun"):
        raise SystemExit("bench_tap: no /dev/net/tun (modprobe tun)")
    seconds = 0.3 if args.quick else max(args.seconds, 1.0)
    rows: list[list[object]] = []
    res: dict[str, tuple[float, float]] = {}
    with topology() as (ns_a, ns_b):
        for gso in (False, True):
            mode = "gso" if gso else "csum"
            res[f"rx_{mode}_tuxnet"] = rx_tuxnet(ns_a, gso, seconds)
            res[f"rx_{mode}_kernel"] = rx_kernel(ns_a, ns_b, gso, seconds)
            res[f"tx_{mode}_tuxnet"] = tx_tuxnet(ns_a, gso, seconds)
            res[f"tx_{mode}_kernel"] = tx_kernel(ns_a, ns_b, gso, seconds)
    labels = {
        "rx_csum_tuxnet": ("rx", "csum", "tuxnet: TAP read_batch, 1514 B frames"),
        "rx_csum_kernel": ("rx", "csum", "kernel: veth + UDP socket recv, 1472 B"),
        "rx_gso_tuxnet": ("rx", "gso", "tuxnet: TAP read_batch, 64 KiB USO frames"),
        "rx_gso_kernel": ("rx", "gso", "kernel: veth + UDP_GRO socket recv, 64 KiB"),
        "tx_csum_tuxnet": ("tx", "csum", "tuxnet: TAP writev, 1514 B frames"),
        "tx_csum_kernel": ("tx", "csum", "kernel: UDP send over veth, 1472 B"),
        "tx_gso_tuxnet": ("tx", "gso", "tuxnet: TAP writev, 64 KiB UDP_L4 frames"),
        "tx_gso_kernel": ("tx", "gso", "kernel: UDP_SEGMENT send over veth, 64 KiB"),
    }
    for key, (d, mode, what) in labels.items():
        fps, gbps = res[key]
        rows.append([d, mode, what, fps, gbps])
    print(f"TAP throughput, {seconds:.1f} s per case, UDP payload Gbit/s")
    print(table(["dir", "offload", "path", "frames/s", "Gbit/s"], rows))
    print()
    for d in ("rx", "tx"):
        for mode in ("csum", "gso"):
            t, k = res[f"{d}_{mode}_tuxnet"], res[f"{d}_{mode}_kernel"]
            print(ratio_line(f"{d}_gbps_{mode}", "kernel_veth", t[1] / k[1]))
    for d in ("rx", "tx"):
        t, k = res[f"{d}_csum_tuxnet"], res[f"{d}_csum_kernel"]
        print(ratio_line(f"{d}_fps_csum", "kernel_veth", t[0] / k[0]))


if __name__ == "__main__":
    main()
