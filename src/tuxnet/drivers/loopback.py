"""The loopback device ``lo`` (drivers/net/loopback.c).

MTU 64 KiB, IFF_LOOPBACK, noqueue (IFF_NO_QUEUE), carrier always on, operstate
UNKNOWN. Transmit is receive: loopback_xmit runs eth_type_trans and netif_rx on the
same host, so the packet continues on the transmitting CPU's backlog (in softirq right
after the sender's chunk). Its statistics count each packet once as sent and once as
received (loopback_get_stats64: rx = tx = the packets netif_rx accepted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.core.cpu import current_cpu
from tuxnet.core.dev import NET_RX_SUCCESS, NETDEV_TX_OK, dev_open, eth_type_trans, netif_rx
from tuxnet.core.netcore import register_netdevice
from tuxnet.core.netdevice import (
    IFF_LOOPBACK,
    IFF_NO_QUEUE,
    NETIF_F_FRAGLIST,
    NETIF_F_GSO_SOFTWARE,
    NETIF_F_HIGHDMA,
    NETIF_F_HW_CSUM,
    NETIF_F_LLTX,
    NETIF_F_LOOPBACK,
    NETIF_F_NETNS_LOCAL,
    NETIF_F_RXCSUM,
    NETIF_F_SCTP_CRC,
    NETIF_F_SG,
    NETIF_F_VLAN_CHALLENGED,
    NetDevice,
    NetdevQueue,
    RtnlLinkStats64,
)
from tuxnet.skb.tstamp import skb_tx_timestamp

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = ["LOOPBACK_MTU", "LoopbackDevice", "loopback_init"]

LOOPBACK_MTU = 64 * 1024  # loopback.c: dev->mtu = 64 * 1024
# loopback.c: LOOPBACK_FEATURES | NETIF_F_LOOPBACK ...
_LO_FEATURES = (NETIF_F_SG | NETIF_F_FRAGLIST | NETIF_F_GSO_SOFTWARE | NETIF_F_HW_CSUM
                | NETIF_F_RXCSUM | NETIF_F_SCTP_CRC | NETIF_F_HIGHDMA | NETIF_F_LLTX
                | NETIF_F_NETNS_LOCAL | NETIF_F_VLAN_CHALLENGED | NETIF_F_LOOPBACK)


class LoopbackDevice(NetDevice):
    """loopback_dev: transmit hands the packet back to the receive path."""

    driver_name = "loopback"

    def __init__(self, name: str = "lo") -> None:
        super().__init__(name, mtu=LOOPBACK_MTU, min_mtu=0, max_mtu=LOOPBACK_MTU,
                         dev_addr=bytes(6), flags=IFF_LOOPBACK, priv_flags=IFF_NO_QUEUE,
                         features=_LO_FEATURES)
        self.operstate = "UNKNOWN"
        self.carrier = True
        self.lstats_packets = 0
        self.lstats_bytes = 0

    def ndo_start_xmit(self, skb: SkBuff, txq: NetdevQueue) -> int:
        """loopback_xmit: skb_orphan, eth_type_trans, __netif_rx on this CPU; counts
        skb->len after eth_type_trans (the Ethernet header is not in lo's bytes)."""
        cpu = current_cpu()
        if cpu is not None:
            costs = self.core.costs
            cpu._acc += costs.loopback_xmit_ns + costs.netif_rx_ns
        skb_tx_timestamp(skb)
        skb.tstamp = 0  # skb_clear_tstamp
        skb.orphan()
        skb.protocol = eth_type_trans(skb, self)
        length = skb.len
        if netif_rx(skb) == NET_RX_SUCCESS:
            self.lstats_packets += 1
            self.lstats_bytes += length
        return NETDEV_TX_OK

    def ndo_get_stats64(self) -> RtnlLinkStats64:
        """loopback_get_stats64: rx and tx both from dev_lstats."""
        s = self.stats.copy()
        s.rx_packets += self.lstats_packets
        s.tx_packets += self.lstats_packets
        s.rx_bytes += self.lstats_bytes
        s.tx_bytes += self.lstats_bytes
        return s


def loopback_init(host: Host, *, up: bool = True) -> LoopbackDevice:
    """loopback_net_init: register ``lo`` on ``host`` (ifindex 1 when first) and, by
    default, bring it up as an init script would."""
    dev = LoopbackDevice()
    register_netdevice(host, dev)
    if up:
        dev_open(dev)
    return dev
