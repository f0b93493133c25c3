"""Two tuxnet hosts whose TCP talks over a seeded fake link (no IPv4 or devices): each
host's ``TcpNet.ip_queue_xmit`` hands the segment bytes to the link, which delays,
loses, duplicates or reorders them and delivers them to the peer's tcp_v4_rcv with an
IPv4 header in front (the network header set, data at the TCP header), as
ip_local_deliver would. Every segment sent is logged for byte-level checks."""

from __future__ import annotations

import contextlib
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.tcp import proto
from tuxnet.tcp.ip_glue import ipv4_tcp_skb
from tuxnet.tcp.ipv4 import tcp_v4_rcv
from tuxnet.tcp.netns import TcpDst, tcp_net
from tuxnet.tcp.sock import TcpSock
from tuxnet.wire.addr import ip_int
from tuxnet.wire.tcp import TcpRepr

MS = 1_000_000
US = 1_000
SEC = 1_000_000_000
A = ip_int("10.0.0.1")
B = ip_int("10.0.0.2")


@dataclass
class Seg:
    """One segment as it left a host."""

    t: int
    src: str
    saddr: int
    daddr: int
    data: bytes
    dropped: bool = False
    tos: int = 0  # the IPv4 TOS byte it left with (ECN in the low two bits)

    @property
    def tcp(self) -> TcpRepr:
        return TcpRepr.parse(self.data, strict_options=False)

    @property
    def flags(self) -> int:
        return self.data[13]

    @property
    def payload_len(self) -> int:
        return len(self.data) - ((self.data[12] >> 4) << 2)

    @property
    def options(self) -> bytes:
        return self.data[20:(self.data[12] >> 4) << 2]


@dataclass
class Wire:
    """Hosts ``a`` (10.0.0.1) and ``b`` (10.0.0.2) on a SimLoop."""

    seed: int = 1
    delay_ns: int = 1 * MS
    loss: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    jitter_ns: int = 0
    mtu: int = 1500
    rate_bps: int | None = None
    log: list[Seg] = field(default_factory=list)
    drop: Callable[[Seg], bool] | None = None
    mark: Callable[[Seg], int] | None = None  # the TOS a segment arrives with (CE marking)
    loop: SimLoop = field(init=False)
    a: Host = field(init=False)
    b: Host = field(init=False)

    def __post_init__(self) -> None:
        self.loop = SimLoop()
        self.rng = random.Random(f"wire:{self.seed}")
        self.a = Host(self.loop, "a", seed=self.seed)
        self.b = Host(self.loop, "b", seed=self.seed)
        self.addr = {"a": A, "b": B}
        self.by_addr = {A: self.b, B: self.a}  # packets to A go... see _xmit
        self._busy_until = {"a": 0, "b": 0}
        for h in (self.a, self.b):
            tn = tcp_net(h)
            tn.route_output = self._route
            tn.ip_queue_xmit = self._xmit

    def host(self, addr: int) -> Host:
        return self.a if addr == A else self.b

    def _route(self, host: Host, daddr: int, saddr: int, oif: int, tos: int) -> TcpDst:
        mine = self.addr[host.name]
        return TcpDst(saddr=saddr or mine, daddr=daddr, mtu_fn=lambda: self.mtu,
                      advmss=self.mtu - 40)

    def _xmit(self, host: Host, skb: Any, saddr: int, daddr: int, dst: Any, tos: int,
              ttl: int | None, ident: int | None) -> int:
        data = bytes(skb.data)
        skb.free()
        now = self.loop.now_ns()
        seg = Seg(now, host.name, saddr, daddr, data, tos=tos & 0xFF)
        self.log.append(seg)
        if self.drop is not None and self.drop(seg):
            seg.dropped = True
            return 0
        rng = self.rng
        if self.loss and rng.random() < self.loss:
            seg.dropped = True
            return 0
        start = now
        if self.rate_bps:
            start = max(now, self._busy_until[host.name])
            self._busy_until[host.name] = start + (len(data) + 58) * 8 * SEC // self.rate_bps
        copies = 2 if self.dup and rng.random() < self.dup else 1
        for _ in range(copies):
            delay = self.delay_ns
            if self.jitter_ns:
                delay += rng.randrange(self.jitter_ns)
            if self.reorder and rng.random() < self.reorder:
                delay += rng.randrange(1, 4 * self.delay_ns + 1)
            self.loop.call_at(start + delay, self.deliver, self.host(daddr), saddr, daddr, data,
                              seg.tos if self.mark is None else self.mark(seg))
        return 0

    def deliver(self, host: Host, saddr: int, daddr: int, data: bytes, tos: int = 0) -> None:
        """ip_local_deliver: an IPv4 header, then tcp_v4_rcv at the TCP header."""
        tcp_v4_rcv(host, ipv4_tcp_skb(saddr, daddr, data, tos))

    def inject(self, to: Host, data: bytes, *, saddr: int | None = None) -> None:
        """A crafted segment arrives at ``to`` now."""
        daddr = self.addr[to.name]
        if saddr is None:
            saddr = B if to is self.a else A
        self.deliver(to, saddr, daddr, data)

    def run(self, ns: int) -> None:
        self.loop.run(self.loop.now_ns() + ns)

    def now(self) -> int:
        return self.loop.now_ns()

    def sent(self, src: str | None = None) -> list[Seg]:
        return [s for s in self.log if src is None or s.src == src]


def listener(host: Host, port: int = 8080, backlog: int = 128) -> TcpSock:
    sk = proto.tcp_v4_init_sock(host)
    sk.inet_rcv_saddr = sk.inet_saddr = 0
    assert tcp_net(host).get_port(sk, port) == 0
    proto.inet_listen(sk, backlog)
    return sk


def connect(host: Host, daddr: int, port: int = 8080) -> TcpSock:
    """A non-blocking connect (the SYN is out when this returns)."""
    sk = proto.tcp_v4_init_sock(host)
    with contextlib.suppress(BlockingIOError):
        proto.inet_stream_connect(sk, daddr, port, 0)
    return sk


def pair(w: Wire, port: int = 8080) -> tuple[TcpSock, TcpSock, TcpSock]:
    """(client on a, accepted child on b, listener on b), established."""
    lst = listener(w.b, port)
    c = connect(w.a, B, port)
    s = proto.inet_csk_accept(lst, 300 * SEC)
    w.loop.run(w.now() + 0)
    if c.sk_state != 1:  # the client may still wait for its SYN-ACK
        from tuxnet.socket.core import sk_wait_event

        sk_wait_event(c, lambda: c.sk_state != 2, w.now() + 300 * SEC, "connect")
    return c, s, lst


def seg_bytes(sport: int, dport: int, seq: int, ack: int, flags: int, window: int = 65535,
              payload: bytes = b"", options: bytes = b"", saddr: int = B,
              daddr: int = A) -> bytes:
    """A checksummed TCP segment."""
    from tuxnet.wire.tcp import TcpView

    opts = options + bytes(-len(options) % 4)
    hl = 20 + len(opts)
    buf = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                                ack & 0xFFFFFFFF, (hl >> 2) << 4, flags, window, 0, 0))
    buf += opts + payload
    TcpView(buf).fill_checksum(saddr, daddr)
    return bytes(buf)
