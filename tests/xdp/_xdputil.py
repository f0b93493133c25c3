"""Shared by the XDP tests: a host with SimNics whose wires end in frame sinks, a
capture of what the stack receives, frames, and small XDP programs in assembly."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuxnet.core.dev import RX_HANDLER_CONSUMED, dev_open
from tuxnet.core.netcore import get_core, register_netdevice
from tuxnet.drivers.simnic import SimNic
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.sim.topology import Topology
from tuxnet.skb import SkBuff
from tuxnet.wire.build import udp_frame

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS / "bpf") not in sys.path:  # tests/bpf/xdp_progs.py: the C programs
    sys.path.insert(0, str(TESTS / "bpf"))

MS = 1_000_000
MAC_PEER = bytes.fromhex("02aa00000001")


def mac(i: int) -> bytes:
    return bytes([2, 0, 0, 0, 0, i])


class Sink:
    """The far end of a wire: keeps every frame that arrives."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def receive_frame(self, frame: bytes, link: Any = None) -> None:
        self.frames.append(bytes(frame))


@dataclass
class Rig:
    loop: SimLoop
    host: Host
    nics: list[SimNic]
    sinks: list[Sink]
    passed: list[tuple[str, bytes, int]] = field(default_factory=list)  # (dev, frame, cpu)
    skbs: list[SkBuff] = field(default_factory=list)

    @property
    def core(self) -> Any:
        return get_core(self.host)

    def inject(self, frame: bytes, nic: int = 0) -> None:
        self.nics[nic].receive_frame(frame)

    def settle(self, ns: int = 5 * MS) -> None:
        self.loop.run(self.loop.now_ns() + ns)


def rig(*, ncpus: int = 1, nics: int = 2, queues: int = 1, keep_skbs: bool = False) -> Rig:
    """``nics`` SimNics (eth0.., MAC 02:00:00:00:00:0N, up), each wired to a Sink; what
    the stack receives is captured by an rx_handler (device, frame from the MAC header,
    CPU) and consumed."""
    loop = SimLoop()
    host = Host(loop, "dut", ncpus=ncpus, seed=1)
    get_core(host)
    topo = Topology(loop, seed=1)
    r = Rig(loop, host, [], [])
    for i in range(nics):
        nic = SimNic(f"eth{i}", num_queues=queues, mac=mac(i + 1))
        register_netdevice(host, nic)
        dev_open(nic)
        sink = Sink()
        wire = topo.link(nic, sink, name=f"wire{i}")
        nic.attach_link(wire.link_from(nic))

        def handler(skb: SkBuff, nic: SimNic = nic) -> int:
            r.passed.append((nic.name, bytes(skb.head[skb.mac_header:skb.tail]),
                             host.current_cpu))
            if keep_skbs:
                r.skbs.append(skb)
            else:
                host.consume_skb(skb, "test")
            return RX_HANDLER_CONSUMED

        nic.rx_handler = handler
        r.nics.append(nic)
        r.sinks.append(sink)
    return r


def frame(dst: bytes = b"", *, src: bytes = MAC_PEER, sport: int = 1000, dport: int = 2000,
          payload: bytes = b"hello xdp", saddr: str = "10.0.0.9",
          daddr: str = "10.0.0.1") -> bytes:
    return bytes(udp_frame(src, dst or mac(1), saddr, daddr, sport, dport, payload))


def const_prog(action: int) -> str:
    return f"mov %r0, {action}\nexit\n"


# swap the MAC addresses and return XDP_TX (3)
MAC_SWAP_TX = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r4, %r2
    add %r4, 14
    jgt %r4, %r3, abort
    ldxw %r5, [%r2+0]
    ldxh %r6, [%r2+4]
    ldxw %r7, [%r2+6]
    ldxh %r8, [%r2+10]
    stxw [%r2+0], %r7
    stxh [%r2+4], %r8
    stxw [%r2+6], %r5
    stxh [%r2+10], %r6
    mov %r0, 3
    exit
abort:
    mov %r0, 0
    exit
"""

# bpf_redirect_map(map_idx 0, key = rx_queue_index, flags = XDP_DROP)
REDIRECT_MAP_QUEUE = """
    ldxw %r2, [%r1+16]
    lddw %r1, map_idx 0
    mov %r3, 1
    call 51
    exit
"""

# bpf_redirect_map(map_idx 0, key = %d, flags = XDP_PASS)
REDIRECT_MAP_KEY = """
    lddw %r1, map_idx 0
    mov %r2, {key}
    mov %r3, 2
    call 51
    exit
"""

# bpf_redirect(ifindex {ifindex}, 0)
REDIRECT_IFINDEX = """
    mov %r1, {ifindex}
    mov %r2, 0
    call 23
    exit
"""

# bpf_xdp_adjust_head(ctx, +{delta}) then XDP_PASS (ABORTED if the helper fails)
ADJUST_HEAD_PASS = """
    mov %r2, {delta}
    call 44
    jne %r0, 0, fail
    mov %r0, 2
    exit
fail:
    mov %r0, 0
    exit
"""

# a load far outside the packet: the program faults (XDP_ABORTED); not verifiable
FAULT = """
    ldxw %r2, [%r1+0]
    ldxw %r0, [%r2+30000]
    exit
"""
