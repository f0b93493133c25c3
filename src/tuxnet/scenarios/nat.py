"""A NAT router in virtual time: the one-router chain of tuxnet.scenarios.routers
(sender 10.0.0.2 — 10.0.0.1 r1 10.0.1.1 — 10.0.1.2 dest) with TCP on every host and
iptables rules on r1 (by default ``-t nat -A POSTROUTING -o eth1 -j MASQUERADE``), and
a demonstration that sends a TCP connection, a UDP query and an ICMP echo across it.
Used by ``tuxnet conntrack --scenario masquerade``, the conntrack/NAT tests and the
conntrack benchmark."""

from __future__ import annotations

import io
import shlex
import struct
from collections.abc import Sequence

from tuxnet.host import Host
from tuxnet.ipv4.ip_output import MAX_IP_HEADROOM, ip_send_skb
from tuxnet.scenarios.routers import RouterChain, build_chain
from tuxnet.skb import alloc_skb
from tuxnet.socket.dgram import DgramSocket
from tuxnet.socket.stream import StreamSocket
from tuxnet.wire.addr import ip_int
from tuxnet.wire.checksum import internet_checksum
from tuxnet.wire.ipv4 import IPPROTO_ICMP

__all__ = ["MASQUERADE_RULES", "NatDemo", "build_nat_router", "iptables", "send_echo"]

MASQUERADE_RULES = ("-t nat -A POSTROUTING -o eth1 -j MASQUERADE",)
_ICMP = struct.Struct("!BBHHH")


class IptablesError(Exception):
    """An iptables command of a scenario failed (its stderr)."""


def iptables(host: Host, line: str) -> str:
    """Run ``iptables LINE`` on ``host`` (raises IptablesError when it fails)."""
    from tuxnet.tools import iptables_cmd

    out, err = io.StringIO(), io.StringIO()
    if iptables_cmd.run(host, shlex.split(line), out, err):
        raise IptablesError(err.getvalue().strip())
    return out.getvalue()


def build_nat_router(seed: int = 0, rules: Sequence[str] = MASQUERADE_RULES,
                     **kw: int) -> RouterChain:
    """The router chain with TCP registered everywhere and ``rules`` on r1."""
    from tuxnet.tcp.ipv4 import tcp_v4_init

    chain = build_chain(1, seed, **kw)  # type: ignore[arg-type]
    for h in chain.hosts:
        tcp_v4_init(h)
    for line in rules:
        iptables(chain.routers[0], line)
    return chain


def send_echo(host: Host, dst: str, ident: int, seq: int = 1, data: bytes = b"tuxnet") -> int:
    """An ICMP echo request (RFC 792) from ``host`` to ``dst``, as ping sends it."""
    skb = alloc_skb(MAX_IP_HEADROOM + 8 + len(data))
    skb.reserve(MAX_IP_HEADROOM)
    buf = skb.put(8 + len(data))
    _ICMP.pack_into(buf, 0, 8, 0, 0, ident, seq)
    buf[8:] = data
    _ICMP.pack_into(buf, 0, 8, 0, internet_checksum(buf), ident, seq)
    return ip_send_skb(host, skb, 0, ip_int(dst), IPPROTO_ICMP)


def _stream(host: Host) -> StreamSocket:
    from tuxnet.socket import AF_INET, SOCK_STREAM, socket

    s = socket(AF_INET, SOCK_STREAM, host=host)
    assert isinstance(s, StreamSocket)
    return s


def _dgram(host: Host) -> DgramSocket:
    from tuxnet.socket import AF_INET, SOCK_DGRAM, socket

    s = socket(AF_INET, SOCK_DGRAM, host=host)
    assert isinstance(s, DgramSocket)
    return s


class NatDemo:
    """The demonstration's traffic: a TCP connection (left open), a UDP exchange and
    an ICMP echo from the sender to the destination through r1."""

    def __init__(self, chain: RouterChain) -> None:
        self.chain = chain
        dest, sender = chain.dest, chain.sender
        self.listener = _stream(dest)
        self.listener.bind(("10.0.1.2", 80))
        self.listener.listen(4)
        self.client = _stream(sender)
        self.client.connect(("10.0.1.2", 80))
        self.server, self.peer = self.listener.accept()
        self.client.sendall(b"GET / HTTP/1.0\r\n\r\n")
        self.request = self.server.recv(100)
        self.server.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        self.response = self.client.recv(100)
        self.udp_srv = _dgram(dest)
        self.udp_srv.bind(("10.0.1.2", 53))
        self.udp_cli = _dgram(sender)
        self.udp_cli.bind(("10.0.0.2", 5353))
        self.udp_cli.sendto(b"query", ("10.0.1.2", 53))
        _q, peer = self.udp_srv.recvfrom(100)
        assert peer is not None
        self.udp_peer = peer
        self.udp_srv.sendto(b"answer", peer)
        self.udp_answer = self.udp_cli.recvfrom(100)
        send_echo(sender, "10.0.1.2", 0x1234)
        chain.run(10_000_000)
