"""The router of the nf-kernel-diff harness, as a tuxnet host in virtual time.

The harness's topology (namespaces nfr_h_lan / nfr_h_dut / nfr_h_wan)::

    [lan] eth0 10.1.0.2/30 --veth-- lan0 10.1.0.1/30 [dut]
                                    [dut] wan0 10.2.0.1/30 --veth-- eth0 10.2.0.2/30 [wan]

Only the router (the DUT) is simulated: each of its interfaces is a SimNic whose wire
ends in a recorder, the passive peer (the harness's peers drop everything they get).
The DUT has the harness's MACs, addresses, permanent neighbours, routes
(10.1.0.0/16 via 10.1.0.2, default via 10.2.0.2) and sysctls (ip_forward=1,
rp_filter=0, accept_local=1, IPv6 off — tuxnet has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuxnet.drivers.simnic import SimNic
from tuxnet.host import Host
from tuxnet.ipv4.neigh_rtnl import neigh_add
from tuxnet.loop import SimLoop
from tuxnet.scenarios.routers import add_addr, add_nic, add_route, make_host
from tuxnet.sim import Topology
from tuxnet.wire.addr import ip_int

__all__ = ["BASE_SYSCTLS", "MAC", "Router", "build_router"]

MAC = {"dut_lan": "02:00:00:00:01:01", "lan": "02:00:00:00:01:02",
       "dut_wan": "02:00:00:00:02:01", "wan": "02:00:00:00:02:02"}
ADDR = {"lan": ("lan0", "10.1.0.1/30", "10.1.0.2"), "wan": ("wan0", "10.2.0.1/30", "10.2.0.2")}
BASE_SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0",
                "net.ipv4.conf.default.rp_filter": "0", "net.ipv4.conf.lan0.rp_filter": "0",
                "net.ipv4.conf.wan0.rp_filter": "0", "net.ipv4.conf.all.accept_local": "1"}


def mac_bytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


class Peer:
    """The passive far end of a wire: it keeps every frame and never answers."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def receive_frame(self, frame: bytes, link: Any = None) -> None:
        self.frames.append(bytes(frame))

    def take(self) -> list[bytes]:
        out, self.frames = self.frames, []
        return out


@dataclass
class Router:
    """The DUT and its two sides ("lan", "wan")."""

    loop: SimLoop
    host: Host
    nics: dict[str, SimNic] = field(default_factory=dict)
    peers: dict[str, Peer] = field(default_factory=dict)

    def run(self, ns: int) -> None:
        self.loop.run(self.loop.now_ns() + ns)


class SysctlUnknown(Exception):
    """A sysctl of the packet file that tuxnet does not have."""


def build_router(sysctls: dict[str, str] | None = None, seed: int = 0) -> Router:
    """setup_topology of the harness: the DUT with lan0/wan0, neighbours, routes and
    the sysctls (the harness's base ones, then the packet file's)."""
    loop = SimLoop()
    host = make_host(loop, "dut", seed)
    r = Router(loop, host)
    topo = Topology(loop, seed=seed)
    for side, (dev, cidr, peer_addr) in ADDR.items():
        nic = add_nic(host, dev, mac=mac_bytes(MAC["dut_" + side]))
        add_addr(host, nic, cidr)
        peer = Peer()
        wire = topo.link(nic, peer, rate_bps=None, delay_ns=0)
        nic.attach_link(wire.link_from(nic))
        neigh_add(host.arp_tbl.tbl, ip_int(peer_addr), nic,  # type: ignore[attr-defined]
                  lladdr=mac_bytes(MAC[side]))
        r.nics[side], r.peers[side] = nic, peer
    add_route(host, "10.1.0.0/16", via="10.1.0.2", dev=r.nics["lan"])
    add_route(host, "default", via="10.2.0.2", dev=r.nics["wan"])
    settings = dict(BASE_SYSCTLS)
    settings.update(sysctls or {})
    for name, value in settings.items():
        if name not in host.sysctl:
            raise SysctlUnknown(f"sysctl: cannot stat /proc/sys/{name.replace('.', '/')}: "
                                "No such file or directory")
        host.sysctl.set(name, str(value))
    return r
