"""The demonstration host that standalone CLI views (``tuxnet ip``, ``tuxnet ethtool``,
``tuxnet cat``, ``tuxnet tc`` ...) run on when no scenario or live instance is named.

``demo_host()`` is a fresh namespace in virtual time shaped like a small server right
after boot: 4 CPUs, ``lo`` (ifindex 1) and ``eth0`` (ifindex 2, a SimNic with 4
combined channels, ixgbe persona) cabled to a peer host's NIC over a 10 Gbit/s link,
both devices up. ``demo_host(traffic=True)`` also runs a short burst of traffic (the
peer sends UDP flows that RSS spreads over the four queues, the host answers on eth0
and talks to itself over lo) so that counters are not all zero.

While tuxnet has no IPv4 receive path registered (no ip_rcv yet), the burst registers a
stand-in ETH_P_IP handler that consumes what it gets (counted as delivered, not
dropped); once a real handler is registered the burst uses it.

``run_tool(host, "ip", ["-s", "link"], out)`` runs one tool's command line on a host.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, TextIO

from tuxnet.core.dev import dev_open, dev_queue_xmit
from tuxnet.core.netcore import get_core, register_netdevice, register_protocol_handler
from tuxnet.core.netdevice import NetDevice
from tuxnet.drivers.loopback import loopback_init
from tuxnet.drivers.simnic import SimNic, connect_simnics
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.sim import Topology
from tuxnet.skb import alloc_skb
from tuxnet.wire.build import udp_frame

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff

__all__ = ["DEMO_NCPUS", "TOOLS", "demo_host", "run_tool"]

DEMO_NCPUS = 4
DEMO_QUEUES = 4
DEMO_RATE_BPS = 10_000_000_000
DEMO_DELAY_NS = 50_000
ETH_P_IP = 0x0800
# addresses of the burst (RFC 5737 documentation range)
_HOST_IP = "192.0.2.1"
_PEER_IP = "192.0.2.2"
_BURST_FLOWS = 16
_BURST_PER_FLOW = 8


def demo_host(*, traffic: bool = False, seed: int = 0) -> Host:
    """The demonstration host (see the module doc). The peer host is reachable as
    ``host.demo_peer`` and the wire as ``host.demo_wire``."""
    loop = SimLoop()
    host = Host(loop, "tuxnet", ncpus=DEMO_NCPUS, seed=seed)
    peer = Host(loop, "peer", ncpus=1, seed=seed)
    get_core(host)
    loopback_init(host)
    eth0 = SimNic("eth0", num_queues=DEMO_QUEUES)
    register_netdevice(host, eth0)
    peer_nic = SimNic("eth0")
    register_netdevice(peer, peer_nic)
    wire = connect_simnics(Topology(loop, seed=seed), eth0, peer_nic, name="eth0-peer",
                           rate_bps=DEMO_RATE_BPS, delay_ns=DEMO_DELAY_NS)
    dev_open(eth0)
    dev_open(peer_nic)
    setattr(host, "demo_peer", peer)  # noqa: B010 - Host has no slot for it
    setattr(host, "demo_wire", wire)  # noqa: B010
    if traffic:
        _burst(host, peer, eth0, peer_nic)
    return host


def _ensure_ip_handler(host: Host) -> None:
    """The stand-in for ip_rcv while none is registered: consume the packet."""
    if get_core(host).ptype_base.get(ETH_P_IP):
        return

    def ip_rcv_standin(skb: SkBuff, dev: NetDevice) -> None:
        host.consume_skb(skb, "ip_rcv")

    register_protocol_handler(host, ETH_P_IP, ip_rcv_standin, name="ip_rcv")


def _xmit(dev: NetDevice, frame: bytes) -> None:
    skb = alloc_skb(128 + len(frame))
    skb.reserve(128)
    skb.put_data(frame)
    skb.dev = dev
    skb.protocol = ETH_P_IP
    dev_queue_xmit(skb)


def _burst(host: Host, peer: Host, eth0: SimNic, peer_nic: SimNic) -> None:
    """A few hundred UDP packets each way on eth0 and some on lo."""
    _ensure_ip_handler(host)
    _ensure_ip_handler(peer)
    lo = host.devices["lo"]
    assert isinstance(lo, NetDevice)
    for flow in range(_BURST_FLOWS):
        for k in range(_BURST_PER_FLOW):
            size = 64 + 100 * ((flow + k) % 12)
            _xmit(peer_nic, bytes(udp_frame(peer_nic.dev_addr, eth0.dev_addr, _PEER_IP,
                                            _HOST_IP, 40000 + flow, 9, bytes(size))))
            if k % 2 == 0:
                _xmit(eth0, bytes(udp_frame(eth0.dev_addr, peer_nic.dev_addr, _HOST_IP,
                                            _PEER_IP, 9, 40000 + flow, bytes(size // 2))))
        _xmit(lo, bytes(udp_frame(b"\0" * 6, b"\0" * 6, "127.0.0.1", "127.0.0.1",
                                  50000 + flow, 53, bytes(32))))
    host.loop.run()


# tool name -> module with run(host, argv, out) -> int
TOOLS: dict[str, str] = {
    "ip": "tuxnet.tools.ip_cmd",
    "ethtool": "tuxnet.tools.ethtool_cmd",
    "cat": "tuxnet.tools.cat_cmd",
}


def run_tool(host: Host, tool: str, argv: list[str], out: TextIO) -> int:
    """Run one command line of ``tool`` (a key of :data:`TOOLS`) against ``host``,
    writing what it prints (errors included) to ``out``; returns its exit code."""
    module_name = TOOLS.get(tool)
    if module_name is None:
        raise ValueError(f"unknown tool {tool!r}; one of {sorted(TOOLS)}")
    module = importlib.import_module(module_name)
    rc: int = module.run(host, argv, out)
    return rc
