"""A chain of routers and a traceroute across it, in virtual time.

Topology (``hops`` routers, each a Host with two SimNics, net.ipv4.ip_forward=1)::

    sender 10.0.0.2 ── 10.0.0.1 r1 10.0.1.1 ── 10.0.1.2 r2 10.0.2.1 ── ... ── rN 10.0.N.1
                                                                              │
                                                                      10.0.N.2 dest

Net ``i`` is 10.0.i.0/24. The sender and the destination have a default route through
their neighbouring router; router k has a route per remote net through its neighbours.
Every host also has ``lo`` (127.0.0.1/8), as a booted kernel does.

The traceroute is the classic UDP one (traceroute(8) default method): probes of 60
bytes (20 IPv4 + 8 UDP + 32 data) to ports 33434, 33435, ... with TTL 1, 2, ...,
three per hop; a router where the TTL runs out answers ICMP time exceeded from the
interface the reply leaves by (RFC 1812 4.3.2.4 / 5.3.1), the destination answers
ICMP port unreachable (RFC 1122 3.2.2.1) and the trace stops. The sender has no
sockets: it sends with ``ip_send_skb`` and reads the ICMP errors through a raw ICMP
hook, as traceroute's raw socket would. Round-trip times are virtual-time differences
between sending a probe and receiving its answer.

``build_chain`` is also the fixture the IPv4 tests use (per-net MTUs, link params).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuxnet.core.dev import dev_open
from tuxnet.core.netcore import register_netdevice
from tuxnet.drivers.loopback import loopback_init
from tuxnet.drivers.simnic import SimNic, connect_simnics
from tuxnet.host import Host
from tuxnet.ipv4.devinet import inet_state
from tuxnet.ipv4.fib_semantics import FibConfig
from tuxnet.ipv4.inet import RawHook, inet_add_protocol, inet_add_raw_hook, inet_init, ip_state
from tuxnet.ipv4.ip_output import MAX_IP_HEADROOM, ip_send_skb
from tuxnet.loop import SimLoop
from tuxnet.sim import Topology
from tuxnet.skb import SkBuff, alloc_skb
from tuxnet.wire.addr import ip_int, ip_str
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.icmp import (
    ICMP_DEST_UNREACH,
    ICMP_FRAG_NEEDED,
    ICMP_HOST_UNREACH,
    ICMP_NET_UNREACH,
    ICMP_PORT_UNREACH,
    ICMP_PROT_UNREACH,
    ICMP_SR_FAILED,
    ICMP_TIME_EXCEEDED,
)
from tuxnet.wire.ipv4 import IPPROTO_ICMP, IPPROTO_UDP

if TYPE_CHECKING:
    from tuxnet.sim.topology import DuplexLink

__all__ = [
    "RouterChain",
    "Traceroute",
    "add_addr",
    "add_nic",
    "add_route",
    "build_chain",
    "format_traceroute",
    "make_host",
    "run_traceroute",
    "udp_datagram",
]

TRACEROUTE_PORT = 33434  # traceroute(8): the default base port of the UDP method
TRACEROUTE_DATA_LEN = 32  # 60-byte probes: 20 + 8 + 32
MAX_HOPS = 30
NQUERIES = 3
WAIT_NS = 5_000_000_000  # -w 5: wait at most 5 s for each probe
_SEC = 1_000_000_000
_UDP = struct.Struct("!HHHH")
_IPH = struct.Struct("!BBHHHBBHII")


# -- building hosts ------------------------------------------------------------------------

def make_host(loop: SimLoop, name: str, seed: int = 0, *, forwarding: bool = False,
              ncpus: int = 1) -> Host:
    """A booted host: ``lo`` up with 127.0.0.1/8 and the IPv4 stack (inet_init)."""
    host = Host(loop, name, ncpus=ncpus, seed=seed)
    loopback_init(host)
    inet_init(host)
    if forwarding:
        host.sysctl.set("net.ipv4.ip_forward", 1)
    return host


def add_nic(host: Host, name: str, *, mtu: int = 1500, mac: bytes | None = None) -> SimNic:
    """A SimNic registered and up (GRO off, so each frame reaches ip_rcv as sent)."""
    nic = SimNic(name, mtu=mtu, mac=mac)
    register_netdevice(host, nic)
    nic.set_features({"rx-gro": False})
    dev_open(nic)
    return nic


def add_addr(host: Host, dev: Any, cidr: str) -> None:
    """ip addr add CIDR dev DEV (with the subnet broadcast, as `ip addr add ... brd +`)."""
    addr, plen_s = cidr.split("/")
    plen = int(plen_s)
    local = ip_int(addr)
    bcast = (local | (0xFFFFFFFF >> plen)) if plen < 31 else 0
    inet_state(host).addr_add(dev, local, plen, broadcast=bcast)


def add_route(host: Host, dst: str, via: str | None = None, dev: Any = None, *,
              mtu: int = 0) -> None:
    """ip route add DST [via GW] [dev DEV] [mtu MTU] (DST "default" or a.b.c.d/n)."""
    from tuxnet.ipv4.fib_semantics import RTAX_MTU

    if dst == "default":
        net, plen = 0, 0
    else:
        a, p = dst.split("/")
        net, plen = ip_int(a), int(p)
    cfg = FibConfig(dst=net, plen=plen, gw=ip_int(via) if via else 0, dev=dev,
                    metrics={RTAX_MTU: mtu} if mtu else {})
    inet_state(host).route_add(cfg)


@dataclass
class RouterChain:
    """The hosts, NICs and links of a router chain (see the module doc)."""

    loop: SimLoop
    topo: Topology
    sender: Host
    routers: list[Host]
    dest: Host
    nics: dict[str, dict[str, SimNic]] = field(default_factory=dict)
    links: list[DuplexLink] = field(default_factory=list)

    @property
    def hosts(self) -> list[Host]:
        """Sender, routers, destination."""
        return [self.sender, *self.routers, self.dest]

    @property
    def dest_addr(self) -> int:
        """The destination's address (10.0.N.2)."""
        return ip_int(f"10.0.{len(self.routers)}.2")

    @property
    def sender_addr(self) -> int:
        """The sender's address (10.0.0.2)."""
        return ip_int("10.0.0.2")

    def run(self, ns: int) -> None:
        """Advance virtual time by ``ns``."""
        self.loop.run(self.loop.now_ns() + ns)


def build_chain(hops: int, seed: int = 0, *, mtus: dict[int, int] | None = None,
                rate_bps: int | None = 1_000_000_000, delay_ns: int = 50_000,
                jitter_ns: int = 0, loop: SimLoop | None = None) -> RouterChain:
    """``hops`` routers between a sender and a destination (1..250). ``mtus`` maps a
    net index (0..hops) to the MTU of both NICs on it; every link has ``rate_bps``,
    ``delay_ns`` (+ uniform ``jitter_ns``, never reordering)."""
    if not 1 <= hops <= 250:
        raise ValueError(f"hops must be within 1..250, not {hops}")
    mtus = mtus or {}
    loop = loop or SimLoop()
    topo = Topology(loop, seed=seed)
    sender = make_host(loop, "sender", seed)
    routers = [make_host(loop, f"r{k}", seed, forwarding=True) for k in range(1, hops + 1)]
    dest = make_host(loop, "dest", seed)
    chain = RouterChain(loop, topo, sender, routers, dest)
    nodes = [sender, *routers, dest]
    for i in range(hops + 1):  # net i joins nodes[i] (its eth1, eth0 for the sender)
        left, right = nodes[i], nodes[i + 1]
        mtu = mtus.get(i, 1500)
        lname = "eth0" if i == 0 else "eth1"
        a = add_nic(left, lname, mtu=mtu)
        b = add_nic(right, "eth0", mtu=mtu)
        chain.nics.setdefault(left.name, {})[lname] = a
        chain.nics.setdefault(right.name, {})["eth0"] = b
        if i == 0:
            add_addr(left, a, "10.0.0.2/24")
            add_addr(right, b, "10.0.0.1/24")
        else:
            add_addr(left, a, f"10.0.{i}.1/24")
            add_addr(right, b, f"10.0.{i}.2/24")
        params: dict[str, Any] = {"rate_bps": rate_bps, "delay_ns": delay_ns}
        if jitter_ns:
            params["jitter_ns"] = jitter_ns
        chain.links.append(connect_simnics(topo, a, b, name=f"net{i}", **params))
    add_route(sender, "default", via="10.0.0.1")
    add_route(dest, "default", via=f"10.0.{hops}.1")
    for k, r in enumerate(routers, start=1):
        prev_gw = "10.0.0.2" if k == 1 else f"10.0.{k - 1}.1"
        for j in range(0, k - 1):
            add_route(r, f"10.0.{j}.0/24", via=prev_gw)
        for j in range(k + 1, hops + 1):
            add_route(r, f"10.0.{j}.0/24", via=f"10.0.{k}.2")
    return chain


# -- probes ---------------------------------------------------------------------------------

def udp_datagram(sport: int, dport: int, payload: bytes, saddr: int, daddr: int) -> SkBuff:
    """A UDP datagram (RFC 768, checksum over the pseudo-header) in an skb with room for
    the IPv4 and link headers, data at the UDP header (what ip_send_skb takes)."""
    ulen = 8 + len(payload)
    skb = alloc_skb(MAX_IP_HEADROOM + ulen)
    skb.reserve(MAX_IP_HEADROOM)
    buf = skb.put(ulen)
    _UDP.pack_into(buf, 0, sport, dport, ulen, 0)
    buf[8:] = payload
    check = ~ones_sum(buf, saddr + daddr + IPPROTO_UDP + ulen) & 0xFFFF
    _UDP.pack_into(buf, 0, sport, dport, ulen, check or 0xFFFF)
    return skb


def _udp_no_socket(host: Host, skb: SkBuff) -> int:
    """The socket-less part of __udp4_lib_rcv when tuxnet.ipv4.udp is not available:
    NoPorts, ICMP port unreachable, drop NO_SOCKET."""
    from tuxnet.dropreason import SkbDropReason
    from tuxnet.ipv4.icmp import icmp_send

    host.mib.udp.NoPorts += 1
    icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0)
    host.kfree_skb(skb, SkbDropReason.NO_SOCKET, "__udp4_lib_rcv")
    return 0


def _ensure_udp(host: Host) -> None:
    """UDP on the host: the real udp_rcv when the UDP module is there, else a stub."""
    try:
        from tuxnet.ipv4.udp import udp_init
    except ImportError:
        if ip_state(host).protos[IPPROTO_UDP] is None:
            inet_add_protocol(host, IPPROTO_UDP, lambda skb: _udp_no_socket(host, skb))
        return
    udp_init(host)


@dataclass
class _Probe:
    ttl: int
    port: int
    sent_ns: int = 0
    recv_ns: int = 0
    addr: int = 0
    icmp_type: int = -1
    code: int = -1


# traceroute(8) annotations for ICMP unreachable codes
_UNREACH_NOTE = {ICMP_NET_UNREACH: "!N", ICMP_HOST_UNREACH: "!H", ICMP_PROT_UNREACH: "!P",
                 ICMP_SR_FAILED: "!S", 9: "!X", 10: "!X", 13: "!X", 14: "!V", 15: "!C"}


class Traceroute:
    """traceroute -n DST from ``host``: UDP probes, answers through a raw ICMP hook."""

    def __init__(self, host: Host, dst: int, *, max_hops: int = MAX_HOPS,
                 nqueries: int = NQUERIES, port: int = TRACEROUTE_PORT,
                 wait_ns: int = WAIT_NS, data_len: int = TRACEROUTE_DATA_LEN) -> None:
        self.host = host
        self.dst = dst
        self.max_hops = max_hops
        self.nqueries = nqueries
        self.port = port
        self.wait_ns = wait_ns
        self.data = bytes(0x40 | (i & 0x3F) for i in range(data_len))
        lo, hi = _port_range(host)
        self.sport = ip_state(host).rng.randrange(lo, hi + 1)
        self.probes: list[_Probe] = []
        self.done = False
        self.reached = False
        self._timer: Any = None
        self._hook: RawHook | None = None

    @property
    def packet_len(self) -> int:
        """The probe's IPv4 length (the "60 byte packets" of the banner)."""
        return 20 + 8 + len(self.data)

    def start(self) -> None:
        """Open the raw ICMP socket and send the first probe."""
        self._hook = inet_add_raw_hook(self.host, IPPROTO_ICMP, self._icmp_rcv)
        self._send_next()

    def _send_next(self) -> None:
        idx = len(self.probes)
        ttl = idx // self.nqueries + 1
        if idx % self.nqueries == 0 and idx and self._hop_finished(ttl - 1):
            self._finish()
            return
        if ttl > self.max_hops:
            self._finish()
            return
        probe = _Probe(ttl, self.port + idx)
        self.probes.append(probe)
        probe.sent_ns = self.host.now_ns()
        saddr = ip_send_route(self.host, self.dst)
        skb = udp_datagram(self.sport, probe.port, self.data, saddr, self.dst)
        ip_send_skb(self.host, skb, saddr, self.dst, IPPROTO_UDP, ttl=ttl)
        self._timer = self.host.loop.call_later(self.wait_ns, self._timeout, probe)

    def _hop_finished(self, ttl: int) -> bool:
        """The trace ends at a hop where a probe reached the destination or got an
        unreachable other than from a TTL expiry."""
        for p in self.probes[(ttl - 1) * self.nqueries:ttl * self.nqueries]:
            if p.icmp_type == ICMP_DEST_UNREACH or p.addr == self.dst:
                return True
        return False

    def _timeout(self, probe: _Probe) -> None:
        if self.probes and self.probes[-1] is probe and not probe.recv_ns:
            self._send_next()

    def _icmp_rcv(self, skb: SkBuff) -> None:
        """The raw socket: match an ICMP error to the probe it quotes."""
        try:
            self._match(bytes(skb.data))
        finally:
            self.host.consume_skb(skb, "raw_rcv")

    def _match(self, pkt: bytes) -> None:
        if len(pkt) < 20 + 8 + 20 + 8:
            return
        ihl = (pkt[0] & 15) * 4
        src = _IPH.unpack_from(pkt)[8]
        icmp_type, code = pkt[ihl], pkt[ihl + 1]
        if icmp_type not in (ICMP_TIME_EXCEEDED, ICMP_DEST_UNREACH):
            return
        q = ihl + 8
        if len(pkt) < q + 20:
            return
        qihl = (pkt[q] & 15) * 4
        if pkt[q + 9] != IPPROTO_UDP or len(pkt) < q + qihl + 4:
            return
        sport, dport = struct.unpack_from("!HH", pkt, q + qihl)
        if sport != self.sport or self.done:
            return
        probe = self.probes[-1] if self.probes else None
        if probe is None or probe.port != dport or probe.recv_ns:
            return
        probe.recv_ns = self.host.now_ns()
        probe.addr = src
        probe.icmp_type = icmp_type
        probe.code = code
        if self._timer is not None:
            self._timer.cancel()
        self.host.loop.call_soon(self._send_next)

    def _finish(self) -> None:
        self.done = True
        last = self.probes[-1].ttl if self.probes else 0
        self.reached = any(p.addr == self.dst for p in self.probes if p.ttl == last)
        if self._hook is not None:
            from tuxnet.ipv4.inet import inet_del_raw_hook
            inet_del_raw_hook(self.host, self._hook)
            self._hook = None

    def hops(self) -> list[dict[str, Any]]:
        """Per hop, its probes: address, RTT in ms and traceroute's annotation."""
        out: list[dict[str, Any]] = []
        for p in self.probes:
            if (p.ttl - 1) >= len(out):
                out.append({"ttl": p.ttl, "probes": []})
            entry: dict[str, Any] = {"port": p.port}
            if p.recv_ns:
                entry["addr"] = ip_str(p.addr)
                entry["rtt_ms"] = round((p.recv_ns - p.sent_ns) / 1_000_000, 6)
                note = ""
                if p.icmp_type == ICMP_DEST_UNREACH and p.code != ICMP_PORT_UNREACH:
                    note = _UNREACH_NOTE.get(p.code, f"!<{p.code}>")
                    if p.code == ICMP_FRAG_NEEDED:
                        note = "!F"
                entry["note"] = note
            else:
                entry["addr"] = None
            out[-1]["probes"].append(entry)
        return out


def _port_range(host: Host) -> tuple[int, int]:
    """net.ipv4.ip_local_port_range (where an unbound socket's source port comes from)."""
    value = host.sysctl.get("net.ipv4.ip_local_port_range")
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    return 32768, 60999


def ip_send_route(host: Host, daddr: int) -> int:
    """The source address the route to ``daddr`` picks (0 when there is no route)."""
    from tuxnet.ipv4.ip_output import ip_route_output

    rt = ip_route_output(host, daddr)
    return 0 if rt.error else rt.saddr


# -- the scenario -----------------------------------------------------------------------------

def run_traceroute(hops: int, seed: int) -> dict[str, Any]:
    """Build a chain of ``hops`` routers and traceroute from the sender to the
    destination; returns a JSON-able report (hops, whether the destination answered,
    the counters that show what happened on each host)."""
    chain = build_chain(hops, seed, jitter_ns=5_000)
    _ensure_udp(chain.dest)
    tr = Traceroute(chain.sender, chain.dest_addr)
    chain.loop.call_soon(tr.start)
    deadline = chain.loop.now_ns() + (MAX_HOPS * NQUERIES + 1) * WAIT_NS
    while not tr.done and chain.loop.now_ns() < deadline:
        chain.run(_SEC // 10)
    counters: dict[str, dict[str, int]] = {}
    for h in chain.hosts:
        c = h.mib.counters()
        counters[h.name] = {k: c[k] for k in (
            "IpInReceives", "IpForwDatagrams", "IpInDelivers", "IpOutRequests",
            "IpOutTransmits", "IpInHdrErrors", "IcmpInMsgs", "IcmpOutMsgs",
            "IcmpOutTimeExcds", "IcmpOutDestUnreachs", "IcmpInTimeExcds",
            "IcmpInDestUnreachs")}
    return {
        "scenario": "traceroute",
        "seed": seed,
        "routers": hops,
        "dst": ip_str(chain.dest_addr),
        "max_hops": tr.max_hops,
        "packet_len": tr.packet_len,
        "reached": tr.reached,
        "hops": tr.hops(),
        "virtual_time_ns": chain.loop.now_ns(),
        "counters": counters,
    }


def format_traceroute(report: dict[str, Any]) -> str:
    """traceroute -n's output for a report of run_traceroute (print_probe's layout)."""
    dst = report["dst"]
    lines = [f"traceroute to {dst} ({dst}), {report['max_hops']} hops max, "
             f"{report['packet_len']} byte packets"]
    for hop in report["hops"]:
        line = f"{hop['ttl']:2d} "
        last_addr: str | None = None
        for p in hop["probes"]:
            if p["addr"] is None:
                line += " *"
                continue
            if p["addr"] != last_addr:
                line += f" {p['addr']}"
                last_addr = p["addr"]
            line += f"  {p['rtt_ms']:.3f} ms"
            if p.get("note"):
                line += f" {p['note']}"
        lines.append(line)
    return "\n".join(lines) + "\n"
