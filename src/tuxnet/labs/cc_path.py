"""The dumbbell path the ``cc`` lab measures TCP on: senders on host ``a``, receivers on
host ``b``, one bottleneck a -> b.

The bottleneck is a drop-tail FIFO of ``buffer_bytes`` served at ``rate_bps``
(serialization of the IP packet plus 38 bytes of Ethernet framing, preamble and gap),
followed by ``delay_ns`` of propagation; each packet is lost at random with
probability ``loss`` before it reaches the queue (a lossy link, not congestion). The
return path b -> a has the same propagation delay and no queue or loss. The queue is
computed, not simulated packet by packet: a packet arriving at ``now`` finds
``(busy_until - now) * rate`` bytes ahead of it, is dropped if it does not fit, and
otherwise leaves at ``busy_until + its serialization``.

The two hosts' TCP stacks are real tuxnet hosts; the path stands where IPv4 and the
devices would be (``TcpNet.route_output`` / ``TcpNet.ip_queue_xmit``, as the TCP tests'
wire does), so the simulation spends its time in TCP.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.tcp.ip_glue import ipv4_tcp_skb
from tuxnet.tcp.ipv4 import tcp_v4_rcv
from tuxnet.tcp.netns import TcpDst, tcp_net
from tuxnet.wire.addr import ip_int

__all__ = ["A_ADDR", "B_ADDR", "Bottleneck", "Dumbbell"]

A_ADDR = ip_int("10.0.0.1")
B_ADDR = ip_int("10.0.0.2")
ETH_OVERHEAD = 14 + 4 + 8 + 12  # header, FCS, preamble + SFD, inter-frame gap
SEC = 1_000_000_000


@dataclass
class Bottleneck:
    """The a -> b bottleneck: rate, propagation delay, buffer, random loss."""

    rate_bps: int
    delay_ns: int
    buffer_bytes: int
    loss: float = 0.0
    seed: int = 1
    busy_until: int = 0
    sent: int = 0
    dropped_queue: int = 0
    dropped_loss: int = 0
    queue_ns_sum: int = 0  # queueing delay summed over the packets that went through
    every: int = 0  # deterministic loss: drop every ``every``-th data packet (0: off)
    drop_times: list[int] = field(default_factory=list)  # when each ``every`` drop happened
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"cc-path:{self.seed}")

    def admit(self, now: int, ip_len: int) -> int:
        """The time the packet arrives at b, or -1 when it is lost or dropped."""
        self.sent += 1
        if self.every and ip_len > 100 and self.sent % self.every == 0:
            self.dropped_loss += 1
            self.drop_times.append(now)
            return -1
        if self.loss and self.rng.random() < self.loss:
            self.dropped_loss += 1
            return -1
        busy = self.busy_until
        wait = busy - now if busy > now else 0
        if wait * self.rate_bps // (8 * SEC) + ip_len > self.buffer_bytes:
            self.dropped_queue += 1
            return -1
        start = now + wait
        self.busy_until = start + (ip_len + ETH_OVERHEAD) * 8 * SEC // self.rate_bps
        self.queue_ns_sum += wait
        return self.busy_until + self.delay_ns


class Dumbbell:
    """Hosts ``a`` and ``b`` on one SimLoop joined by a :class:`Bottleneck`."""

    def __init__(self, bottleneck: Bottleneck, seed: int = 1) -> None:
        self.loop = SimLoop()
        self.path = bottleneck
        self.a = Host(self.loop, "a", seed=seed)
        self.b = Host(self.loop, "b", seed=seed)
        self._mtu = 1500
        for h in (self.a, self.b):
            tn = tcp_net(h)
            tn.route_output = self._route
            tn.ip_queue_xmit = self._xmit

    def _route(self, host: Host, daddr: int, saddr: int, oif: int, tos: int) -> TcpDst:
        mine = A_ADDR if host is self.a else B_ADDR
        return TcpDst(saddr=saddr or mine, daddr=daddr, mtu_fn=lambda: self._mtu,
                      advmss=self._mtu - 40)

    def _xmit(self, host: Host, skb: Any, saddr: int, daddr: int, dst: Any, tos: int,
              ttl: int | None, ident: int | None) -> int:
        data = bytes(skb.data)
        skb.free()
        now = self.loop.now_ns()
        if host is self.a:
            at = self.path.admit(now, 20 + len(data))
            if at < 0:
                return 0
            self.loop.call_at(at, self._deliver, self.b, saddr, daddr, data)
        else:
            self.loop.call_at(now + self.path.delay_ns, self._deliver, self.a, saddr, daddr,
                              data)
        return 0

    @staticmethod
    def _deliver(host: Host, saddr: int, daddr: int, data: bytes) -> None:
        """ip_local_deliver: an IPv4 header in front, then tcp_v4_rcv at the TCP header."""
        tcp_v4_rcv(host, ipv4_tcp_skb(saddr, daddr, data))

    def run_until(self, t_ns: int) -> None:
        """Run the loop to virtual time ``t_ns``."""
        self.loop.run(t_ns)
