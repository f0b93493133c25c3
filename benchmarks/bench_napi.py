"""NAPI receive: frames per wall second from a SimNic RX ring through net_rx_action and
the driver poll to netif_receive_skb and a protocol handler, next to a bare Python loop.

Usage: python benchmarks/bench_napi.py [--quick]

tuxnet's path per frame: receive_frame (RSS off, DMA copy into the ring), the IRQ and
net_rx_action machinery on a simulated CPU (charging costs in virtual time), the
driver poll (build_skb, eth_type_trans), napi_gro_receive, __netif_receive_skb_core
(ptype lookup), the handler (consume_skb). Cases: the default chunk of one packet per
poll call (hardirqs may preempt between any two packets), chunks of 64 (coarser,
faster), and GRO on a single in-order TCP flow (1448-byte segments merged before
netif_receive_skb) against the same frames with GRO off.

The peer is the minimum any Python receive path does: pop a frame from a deque, copy
it into a bytearray, read the ethertype, call a handler. Metric: frames per second of
wall time (higher is better).
"""

from __future__ import annotations

import struct
import time
from collections import deque
from collections.abc import Callable

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import parse_args, ratio_line, table

from tuxnet.core.dev import dev_open
from tuxnet.core.netcore import get_core, register_netdevice, register_protocol_handler
from tuxnet.core.netdevice import NetDevice
from tuxnet.drivers.simnic import SimNic
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.skb import SkBuff
from tuxnet.wire.build import tcp_frame, udp_frame

MAC_A = b"\x02\x00\x00\x00\x00\x01"
MAC_B = b"\x02\x00\x00\x00\x00\x02"
BURST = 512  # frames fed into the ring at once (ring: 4096)


def udp_frames(n: int) -> list[bytes]:
    return [bytes(udp_frame(MAC_A, MAC_B, "10.0.0.1", "10.0.0.2", 1000 + (i & 255), 53,
                            bytes(18))) for i in range(n)]


def tcp_frames(n: int) -> list[bytes]:
    payload = bytes(1448)
    return [bytes(tcp_frame(MAC_A, MAC_B, "10.0.0.1", "10.0.0.2", 40000, 5201, seq=i * 1448,
                            ack_seq=1, payload=payload, ident=i & 0xFFFF)) for i in range(n)]


def tuxnet_fps(frames: list[bytes], *, chunk: int = 1, gro: bool = False) -> float:
    """Frames/s of wall time through the NAPI receive path."""
    loop = SimLoop()
    host = Host(loop, "bench")
    core = get_core(host)
    core.chunk_packets = chunk
    nic = SimNic("eth0", rx_ring=4096, mac=MAC_B)
    register_netdevice(host, nic)
    nic.set_features({"rx-gro": gro, "rx-hashing": gro})  # GRO buckets by the RX hash
    nic.set_coalesce(rx_usecs=0, rx_max_frames=1)
    dev_open(nic)
    got = [0]
    consume = host.consume_skb

    def handler(skb: SkBuff, dev: NetDevice) -> None:
        got[0] += 1
        consume(skb)

    register_protocol_handler(host, 0x0800, handler)
    receive = nic.receive_frame
    n = len(frames)

    def feed(start: int) -> None:
        for fr in frames[start:start + BURST]:
            receive(fr)
        if start + BURST < n:
            loop.call_later(2_000_000, feed, start + BURST)

    loop.call_soon(feed, 0)
    t0 = time.perf_counter()
    loop.run()
    dt = time.perf_counter() - t0
    if not got[0] or nic.hw_missed:
        raise RuntimeError(f"bench setup: {got[0]} delivered, {nic.hw_missed} ring drops")
    return n / dt


def bare_fps(frames: list[bytes]) -> float:
    """The peer: deque pop, copy into a bytearray, ethertype, handler call."""
    ring: deque[bytes] = deque(frames)
    got = [0]
    unpack = struct.Struct("!H").unpack_from

    def handler(buf: bytearray, proto: int) -> None:
        got[0] += 1

    h: Callable[[bytearray, int], None] = handler
    t0 = time.perf_counter()
    pop = ring.popleft
    while ring:
        fr = pop()
        buf = bytearray(fr)
        h(buf, unpack(buf, 12)[0])
    dt = time.perf_counter() - t0
    return len(frames) / dt


def best(fn: Callable[[], float], rounds: int) -> float:
    return max(fn() for _ in range(rounds))


def main() -> None:
    args = parse_args(__doc__ or "")
    n = 2_000 if args.quick else 100_000
    rounds = 1 if args.quick else 3
    udp = udp_frames(n)
    tcp = tcp_frames(n)
    peer = best(lambda: bare_fps(udp), rounds)
    rows = [
        ("bare loop (peer), 64 B UDP", peer),
        ("tuxnet NAPI, 64 B UDP, chunk 1", best(lambda: tuxnet_fps(udp), rounds)),
        ("tuxnet NAPI, 64 B UDP, chunk 64", best(lambda: tuxnet_fps(udp, chunk=64), rounds)),
        ("tuxnet NAPI, 1514 B TCP, GRO off", best(lambda: tuxnet_fps(tcp), rounds)),
        ("tuxnet NAPI, 1514 B TCP, GRO on", best(lambda: tuxnet_fps(tcp, gro=True), rounds)),
    ]
    print(table(["case", "frames/s"], rows))
    print("peer: a bare Python loop (deque pop, bytearray copy, ethertype, handler call)")
    print(ratio_line("napi_rx_fps", "bare_loop", rows[1][1] / peer))
    print(ratio_line("napi_rx_fps_chunk64", "bare_loop", rows[2][1] / peer))


if __name__ == "__main__":
    main()
