"""Shared set-up for the IPv4 input/output/forward/ICMP tests: a host with a SimNic whose
wire ends in a recorder (frames injected into the NIC, frames sent recorded), raw frame
builders and parsers."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from tuxnet.drivers.simnic import SimNic
from tuxnet.host import Host
from tuxnet.ipv4.neigh_rtnl import neigh_add
from tuxnet.loop import SimLoop
from tuxnet.scenarios.routers import add_addr, add_nic, add_route, make_host
from tuxnet.sim import Topology
from tuxnet.wire.addr import ip_int
from tuxnet.wire.checksum import internet_checksum, ones_sum

MS = 1_000_000
SEC = 1_000_000_000
PEER_MAC = b"\x02\x00\x00\x00\x00\x01"
ETH_P_IP = 0x0800
_IPH = struct.Struct("!BBHHHBBHII")


class Recorder:
    """The far end of a wire: keeps every frame that arrives."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, bytes]] = []

    def receive_frame(self, frame: bytes, link: Any) -> None:
        self.frames.append((link.loop.now_ns() if hasattr(link, "loop") else 0, bytes(frame)))


@dataclass
class Lan:
    """One host (10.0.0.2/24 on eth0, default via the peer 10.0.0.1, whose MAC is a
    permanent neighbour) and the recorder on the other end of eth0's wire."""

    loop: SimLoop
    host: Host
    nic: SimNic
    rec: Recorder
    peer: int
    addr: int
    extra: dict[str, Any] = field(default_factory=dict)

    def inject(self, frame: bytes, run_ns: int = MS) -> None:
        """The frame arrives on eth0; run the host for ``run_ns``."""
        self.nic.receive_frame(frame)
        self.run(run_ns)

    def run(self, ns: int) -> None:
        self.loop.run(self.loop.now_ns() + ns)

    def take(self) -> list[bytes]:
        """The frames sent since the last call."""
        out = [f for _, f in self.rec.frames]
        self.rec.frames.clear()
        return out

    def take_ip(self) -> list[dict[str, Any]]:
        """The IPv4 frames sent since the last call, parsed."""
        return [parse(f) for f in self.take() if f[12:14] == b"\x08\x00"]

    def frame(self, src: str | int, dst: str | int, proto: int, payload: bytes,
              **kw: Any) -> bytes:
        """An Ethernet frame to this host's MAC carrying an IPv4 datagram."""
        return eth(self.nic.dev_addr, PEER_MAC,
                   ipv4(src, dst, proto, payload, **kw))


def make_lan(seed: int = 0, *, forwarding: bool = False, mtu: int = 1500) -> Lan:
    loop = SimLoop()
    host = make_host(loop, "h", seed, forwarding=forwarding)
    nic = add_nic(host, "eth0", mtu=mtu)
    add_addr(host, nic, "10.0.0.2/24")
    rec = Recorder()
    topo = Topology(loop, seed=seed)
    wire = topo.link(nic, rec, rate_bps=None, delay_ns=0)
    nic.attach_link(wire.link_from(nic))
    neigh_add(host.arp_tbl.tbl, ip_int("10.0.0.1"), nic, lladdr=PEER_MAC)  # type: ignore[attr-defined]
    add_route(host, "default", via="10.0.0.1")
    return Lan(loop, host, nic, rec, ip_int("10.0.0.1"), ip_int("10.0.0.2"))


# -- builders ---------------------------------------------------------------------------

def eth(dst: bytes, src: bytes, payload: bytes, ethertype: int = ETH_P_IP) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src: str | int, dst: str | int, proto: int, payload: bytes, *, ttl: int = 64,
         tos: int = 0, ident: int = 1, frag_off: int = 0, options: bytes = b"",
         tot_len: int | None = None, csum: int | None = None, version: int = 4,
         ihl: int | None = None) -> bytes:
    """An IPv4 datagram with a correct checksum unless ``csum`` is given."""
    s = ip_int(src) if isinstance(src, str) else src
    d = ip_int(dst) if isinstance(dst, str) else dst
    hl = 20 + len(options)
    if ihl is None:
        ihl = hl // 4
    total = hl + len(payload) if tot_len is None else tot_len
    hdr = bytearray(_IPH.pack((version << 4) | ihl, tos, total, ident, frag_off, ttl, proto, 0,
                              s, d) + options)
    struct.pack_into("!H", hdr, 10, internet_checksum(hdr) if csum is None else csum)
    return bytes(hdr) + payload


def udp(sport: int, dport: int, data: bytes, src: str | int, dst: str | int) -> bytes:
    s = ip_int(src) if isinstance(src, str) else src
    d = ip_int(dst) if isinstance(dst, str) else dst
    ulen = 8 + len(data)
    buf = bytearray(struct.pack("!HHHH", sport, dport, ulen, 0) + data)
    check = ~ones_sum(buf, s + d + 17 + ulen) & 0xFFFF
    struct.pack_into("!H", buf, 6, check or 0xFFFF)
    return bytes(buf)


def icmp(icmp_type: int, code: int, rest: int, data: bytes = b"") -> bytes:
    buf = bytearray(struct.pack("!BBHI", icmp_type, code, 0, rest) + data)
    struct.pack_into("!H", buf, 2, internet_checksum(buf))
    return bytes(buf)


# -- parsers ----------------------------------------------------------------------------

def parse_ip(pkt: bytes) -> dict[str, Any]:
    vihl, tos, tot, ident, frag, ttl, proto, _csum, src, dst = _IPH.unpack_from(pkt)
    hl = (vihl & 15) * 4
    out: dict[str, Any] = {
        "ihl": vihl & 15, "tos": tos, "len": tot, "id": ident, "df": bool(frag & 0x4000),
        "mf": bool(frag & 0x2000), "offset": (frag & 0x1FFF) * 8, "ttl": ttl,
        "proto": proto, "csum_ok": internet_checksum(pkt[:hl]) == 0, "src": src, "dst": dst,
        "header": pkt[:hl], "payload": pkt[hl:tot], "raw": pkt[:tot],
    }
    if proto == 1 and len(out["payload"]) >= 8:
        p = out["payload"]
        out["icmp_type"], out["icmp_code"] = p[0], p[1]
        out["icmp_rest"] = struct.unpack_from("!I", p, 4)[0]
        out["icmp_ok"] = ones_sum(p) == 0xFFFF
        out["quoted"] = p[8:]
    return out


def parse(frame: bytes) -> dict[str, Any]:
    out = parse_ip(frame[14:])
    out["eth_dst"] = frame[0:6]
    out["eth_src"] = frame[6:12]
    return out
