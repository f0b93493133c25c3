"""The tun0 device packetdrill talks through, and the fresh host each script gets.

packetdrill opens a tun device (drivers/net/tun.c), gives it ``--local_ip`` and a route
to ``--remote_ip`` and then writes packets into it (inbound) and reads what the kernel
sends (outbound). :class:`PacketdrillTun` is that device for a tuxnet host: an
IFF_NOARP Ethernet device (the neighbour entry is NOARP, so no ARP exchange precedes a
packet, as on the layer-3 tun) whose ``ndo_start_xmit`` records each IPv4 packet with
its send time, and whose :meth:`inject` hands an IPv4 packet to netif_rx as
tun_get_user does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING

from tuxnet.core.costs import CpuCosts
from tuxnet.core.dev import NETDEV_TX_OK, dev_open, eth_type_trans, netif_carrier_on, netif_rx
from tuxnet.core.netcore import get_core, register_netdevice
from tuxnet.core.netdevice import (
    IFF_NOARP,
    IFF_POINTOPOINT,
    NETIF_F_SG,
    NetDevice,
    NetdevQueue,
)
from tuxnet.drivers.loopback import loopback_init
from tuxnet.host import Host
from tuxnet.ipv4.devinet import NETDEV_UP, inet_netdev_event, inet_state
from tuxnet.ipv4.fib_semantics import FibConfig
from tuxnet.ipv4.inet import inet_init
from tuxnet.ipv4.udp import udp_init
from tuxnet.loop import SimLoop
from tuxnet.skb import CHECKSUM_PARTIAL, NET_SKB_PAD, alloc_skb
from tuxnet.skb.tstamp import skb_tx_timestamp
from tuxnet.skb.zcopy import skb_orphan_frags_rx
from tuxnet.tcp.ipv4 import tcp_v4_init
from tuxnet.wire.addr import ip_int
from tuxnet.wire.checksum import internet_checksum
from tuxnet.wire.ethernet import ETH_HLEN, ETH_P_IP

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff

__all__ = ["PacketdrillTun", "make_host"]

RT_SCOPE_LINK = 253  # include/uapi/linux/rtnetlink.h


class PacketdrillTun(NetDevice):
    """tun0: outbound IPv4 packets go to ``sent`` as (ns, bytes); ``inject`` receives."""

    driver_name = "tun"

    def __init__(self, name: str = "tun0", mtu: int = 1500) -> None:
        # TUNSETOFFLOAD(TUN_F_CSUM ...): scatter-gather, so MSG_ZEROCOPY pins pages
        super().__init__(name, mtu=mtu, flags=IFF_NOARP | IFF_POINTOPOINT,
                         features=NETIF_F_SG)
        self.sent: list[tuple[int, bytes]] = []
        self.on_xmit: Callable[[], object] | None = None

    def ndo_open(self) -> None:
        """tun_net_open: the reader (the script) is attached, so the carrier is on."""
        netif_carrier_on(self)

    def ndo_start_xmit(self, skb: SkBuff, txq: NetdevQueue) -> int:
        """tun_net_xmit: the packet goes to the reader (the script), checksums filled
        as the tun's virtio header would ask the reader to."""
        skb_orphan_frags_rx(skb)  # the reader may keep it: user pages are copied
        skb_tx_timestamp(skb)
        frame = bytearray(skb.copy_bits(0, skb.len)) if skb.data_len else bytearray(skb.data)
        if skb.ip_summed == CHECKSUM_PARTIAL:
            start = skb.csum_start - skb.data_off
            pos = start + skb.csum_offset
            if start >= 0 and pos + 2 <= len(frame):
                # the field holds the pseudo-header sum (CHECKSUM_PARTIAL convention)
                csum = internet_checksum(frame[start:]) or 0xFFFF
                frame[pos] = csum >> 8
                frame[pos + 1] = csum & 0xFF
        self.stats.tx_packets += 1
        self.stats.tx_bytes += len(frame)
        self.sent.append((self.host.now_ns(), bytes(frame[ETH_HLEN:])))
        self.host.consume_skb(skb, "tun_net_xmit")
        cb = self.on_xmit
        if cb is not None:
            cb()
        return NETDEV_TX_OK

    def inject(self, packet: bytes, gso_size: int = 0) -> None:
        """tun_get_user: an IPv4 packet written by the script enters the stack; with
        ``gso_size`` a larger TCP payload arrives as a GRO/GSO super-packet (the
        virtio-net header packetdrill's --mss writes)."""
        skb = alloc_skb(NET_SKB_PAD + ETH_HLEN + len(packet))
        skb.reserve(NET_SKB_PAD)
        skb.put_data(bytes(self.dev_addr) * 2 + ETH_P_IP.to_bytes(2, "big") + packet)
        skb.protocol = eth_type_trans(skb, self)
        if gso_size and len(packet) > 40:
            payload = len(packet) - (packet[0] & 0xF) * 4 - (packet[32] >> 4) * 4
            if payload > gso_size:
                skb.gso_size = gso_size
                skb.gso_segs = -(-payload // gso_size)
        self.stats.rx_packets += 1
        self.stats.rx_bytes += len(packet)
        netif_rx(skb, 0)


def make_host(local_ip: str, remote_ip: str, *, mtu: int = 1500, seed: int = 1,
              netmask_plen: int = 16,
              gateway_ip: str | None = None) -> tuple[Host, PacketdrillTun]:
    """A fresh host on a SimLoop with lo and tun0 (``local_ip``/plen), a route to
    ``remote_ip``'s /24 through tun0 and TCP registered, as packetdrill's netdev setup
    (net/netdev.c: create tun, ip addr add, ip route add) leaves the kernel. With
    ``gateway_ip``, also packetdrill's own route (route_traffic_to_device: ``ip route
    add <remote_ip> dev tun0 via <gateway_ip>``), the one scripts ``ip route change``."""
    loop = SimLoop()
    host = Host(loop, "packetdrill", seed=seed)
    # packetdrill times events in µs with a 4 ms tolerance: the host processes each
    # packet at once (a zero CPU cost table), so a packet injected at t is handled at t
    zero = CpuCosts(**{f.name: 0 for f in fields(CpuCosts)})
    get_core(host, costs=zero)
    lo = loopback_init(host)
    tun = PacketdrillTun("tun0", mtu)
    register_netdevice(host, tun)
    dev_open(tun)
    inet_init(host)
    inet_netdev_event(host, lo, NETDEV_UP)
    inet_netdev_event(host, tun, NETDEV_UP)
    st = inet_state(host)
    st.addr_add(tun, ip_int(local_ip), netmask_plen)
    rip = ip_int(remote_ip)
    if (rip >> (32 - netmask_plen)) != (ip_int(local_ip) >> (32 - netmask_plen)):
        st.route_add(FibConfig(dst=rip & 0xFFFFFF00, plen=24, dev=tun, scope=RT_SCOPE_LINK))
    if gateway_ip is not None:
        st.route_add(FibConfig(dst=rip, plen=32, dev=tun, gw=ip_int(gateway_ip)))
    udp_init(host)
    tcp_v4_init(host)
    return host, tun
