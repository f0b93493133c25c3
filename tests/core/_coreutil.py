"""Helpers shared by the device-core tests: a host with NetCore, a SimNic, frames."""

from __future__ import annotations

from typing import Any

from tuxnet.core.costs import CpuCosts
from tuxnet.core.dev import dev_open
from tuxnet.core.netcore import NetCore, get_core, register_netdevice, register_protocol_handler
from tuxnet.core.netdevice import NetDevice
from tuxnet.drivers.simnic import SimNic
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.skb import SkBuff
from tuxnet.wire.build import udp_frame

ETH_P_IP = 0x0800
SRC_MAC = b"\x02\x00\x00\x00\x00\x01"


def make_host(ncpus: int = 1, costs: CpuCosts | None = None,
              name: str = "h") -> tuple[SimLoop, Host, NetCore]:
    loop = SimLoop()
    host = Host(loop, name, ncpus=ncpus)
    return loop, host, get_core(host, costs=costs)


def make_nic(host: Host, *, up: bool = True, gro: bool = False, **kw: Any) -> SimNic:
    nic = SimNic(kw.pop("name", "eth0"), **kw)
    register_netdevice(host, nic)
    if not gro:
        nic.set_features({"rx-gro": False})
    if up:
        dev_open(nic)
    return nic


def frame(dst_mac: bytes, sport: int = 1000, dport: int = 53, payload: int = 18,
          src: str = "10.0.0.1", dst: str = "10.0.0.2") -> bytes:
    return bytes(udp_frame(SRC_MAC, dst_mac, src, dst, sport, dport, bytes(payload)))


class Sink:
    """A protocol handler that records and consumes what it gets."""

    def __init__(self, host: Host, ethertype: int = ETH_P_IP, cost_ns: int = 0) -> None:
        self.host = host
        self.cost_ns = cost_ns
        self.got: list[dict[str, Any]] = []
        self.pt = register_protocol_handler(host, ethertype, self.rcv, name="sink")

    def rcv(self, skb: SkBuff, dev: NetDevice) -> None:
        from tuxnet.core.cpu import charge

        charge(self.cost_ns)
        self.got.append({"t": self.host.now_ns(), "cpu": self.host.current_cpu,
                         "len": skb.len, "pkt_type": skb.pkt_type, "proto": skb.protocol,
                         "dev": dev.name, "hash": skb.hash, "queue": skb.queue_mapping,
                         "data": bytes(skb.data)})
        self.host.consume_skb(skb)

    def __len__(self) -> int:
        return len(self.got)
