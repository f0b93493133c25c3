"""Virtual Ethernet pairs (drivers/net/veth.c), possibly across two hosts.

``veth_pair(host_a, "veth0", host_b, "veth1")`` registers two ends; what one end
transmits (veth_xmit) is received by the other: __dev_forward_skb (scrub,
eth_type_trans with the peer as skb.dev) then netif_rx onto the peer host's backlog,
on the CPU with the transmitting CPU's index (modulo the peer's CPU count), so the
receive work runs there in softirq. Without XDP or GRO on the peer (not modelled)
veth uses no NAPI of its own, as in Linux.

Statistics as veth_get_stats64 computes them: an end's tx counters are its own
(dev_sw_netstats_tx_add on success, priv->dropped on failure -> tx_dropped), its rx
counters are the peer's tx counters. ``ethtool -S`` lists peer_ifindex and the
per-queue XDP counters (rx_queue_N_xdp_packets ... tx_queue_N_xdp_xmit_errors) for the
active queues, all zero on the non-XDP path, as on Linux. Carrier follows the pair:
an end is RUNNING only while both ends are up.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from tuxnet.core.cpu import current_cpu
from tuxnet.core.dev import (
    NET_RX_SUCCESS,
    NETDEV_TX_OK,
    eth_type_trans,
    netif_carrier_off,
    netif_carrier_on,
    netif_rx,
)
from tuxnet.core.netcore import register_netdevice
from tuxnet.core.netdevice import (
    IFF_NO_QUEUE,
    IFF_UP,
    NETIF_F_GRO,
    NETIF_F_GSO_SOFTWARE,
    NETIF_F_HIGHDMA,
    NETIF_F_HW_CSUM,
    NETIF_F_RXCSUM,
    NETIF_F_SCTP_CRC,
    NETIF_F_SG,
    Channels,
    NetDevice,
    NetdevQueue,
    RtnlLinkStats64,
)
from tuxnet.core.ring import ethtool_error
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import PACKET_HOST
from tuxnet.skb.tstamp import skb_tx_timestamp

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = ["VethDevice", "veth_pair"]

# veth.c: VETH_FEATURES
_VETH_FEATURES = (NETIF_F_HW_CSUM | NETIF_F_SG | NETIF_F_RXCSUM | NETIF_F_SCTP_CRC
                  | NETIF_F_HIGHDMA | NETIF_F_GSO_SOFTWARE)
_RQ_STATS = ("xdp_packets", "xdp_bytes", "drops", "xdp_redirect", "xdp_drops", "xdp_tx",
             "xdp_tx_errors")  # veth.c: veth_rq_stats_desc
_TQ_STATS = ("xdp_xmit", "xdp_xmit_errors")  # veth.c: veth_tq_stats_desc


class VethDevice(NetDevice):
    """One end of a veth pair."""

    driver_name = "veth"

    def __init__(self, name: str, *, num_queues: int = 1, max_queues: int | None = None,
                 mac: bytes | None = None) -> None:
        nmax = max_queues if max_queues is not None else num_queues
        super().__init__(name, num_rx_queues=nmax, num_tx_queues=nmax,
                         real_num_rx_queues=num_queues, real_num_tx_queues=num_queues,
                         dev_addr=mac, priv_flags=IFF_NO_QUEUE,
                         features=_VETH_FEATURES, hw_features=_VETH_FEATURES | NETIF_F_GRO)
        self.peer: VethDevice | None = None
        self.tx_packets_sw = 0  # dev->tstats (tx side)
        self.tx_bytes_sw = 0
        self.dropped = 0  # priv->dropped

    def ndo_open(self) -> None:
        """veth_open: carrier on for both ends once the peer is up too."""
        peer = self.peer
        if peer is not None and peer.flags & IFF_UP:
            netif_carrier_on(self)
            netif_carrier_on(peer)

    def ndo_stop(self) -> None:
        """veth_close: carrier off on both ends."""
        netif_carrier_off(self)
        if self.peer is not None:
            netif_carrier_off(self.peer)

    def ndo_start_xmit(self, skb: SkBuff, txq: NetdevQueue) -> int:
        """veth_xmit: forward to the peer (__dev_forward_skb + netif_rx)."""
        rcv = self.peer
        length = skb.len
        cpu = current_cpu()
        if cpu is not None:
            costs = self.core.costs
            cpu._acc += costs.veth_xmit_ns + costs.netif_rx_ns
        if rcv is None or not rcv.flags & IFF_UP or length > rcv.mtu + rcv.hard_header_len + 4:
            # is_skb_forwardable failed: dropped by __dev_forward_skb on the peer
            if rcv is not None:
                rcv.core_stats.rx_dropped += 1
            self.dropped += 1
            self.host.kfree_skb(skb, SkbDropReason.DEV_READY, "veth_xmit")
            return NETDEV_TX_OK
        skb_tx_timestamp(skb)
        # skb_scrub_packet: the packet enters another namespace
        skb.orphan()
        skb.dst = None
        skb.nfct = None  # nf_reset_ct: the peer's conntrack tracks it afresh
        skb.nfctinfo = 0
        skb.mark = 0
        skb.pkt_type = PACKET_HOST
        skb.skb_iif = 0
        skb.tstamp = 0
        skb.protocol = eth_type_trans(skb, rcv)
        rq = txq.index if txq.index < rcv.real_num_rx_queues else 0
        skb.queue_mapping = rq + 1  # the peer's rx queue, skb_record_rx_queue
        this = cpu.index if cpu is not None and cpu.host is self.host else self.host.current_cpu
        if netif_rx(skb, this % rcv.host.ncpus) == NET_RX_SUCCESS:
            self.tx_packets_sw += 1
            self.tx_bytes_sw += length
        else:
            self.dropped += 1
        return NETDEV_TX_OK

    def ndo_get_stats64(self) -> RtnlLinkStats64:
        """veth_get_stats64 (non-XDP part)."""
        s = self.stats.copy()
        s.tx_packets += self.tx_packets_sw
        s.tx_bytes += self.tx_bytes_sw
        s.tx_dropped += self.dropped
        peer = self.peer
        if peer is not None:
            s.rx_packets += peer.tx_packets_sw
            s.rx_bytes += peer.tx_bytes_sw
        return s

    def get_ethtool_stats(self) -> list[tuple[str, int]]:
        """veth_get_strings/veth_get_ethtool_stats."""
        out: list[tuple[str, int]] = [("peer_ifindex",
                                       self.peer.ifindex if self.peer is not None else 0)]
        for i in range(self.real_num_rx_queues):
            out.extend((f"rx_queue_{i}_{name}", 0) for name in _RQ_STATS)
        for i in range(self.real_num_tx_queues):
            out.extend((f"tx_queue_{i}_{name}", 0) for name in _TQ_STATS)
        return out

    def get_channels(self) -> Channels:
        """veth_get_channels: separate rx and tx channels."""
        return Channels(self.num_rx_queues, self.num_tx_queues, 0, 0,
                        self.real_num_rx_queues, self.real_num_tx_queues, 0, 0)

    def set_channels(self, rx: int | None = None, tx: int | None = None,
                     combined: int | None = None) -> Channels:
        """veth_set_channels: rx/tx counts within the maximums (EINVAL otherwise)."""
        if combined:
            raise ethtool_error(errno.EINVAL, "veth has no combined channels")
        new_rx = self.real_num_rx_queues if rx is None else rx
        new_tx = self.real_num_tx_queues if tx is None else tx
        if not 1 <= new_rx <= self.num_rx_queues or not 1 <= new_tx <= self.num_tx_queues:
            raise ethtool_error(errno.EINVAL, "channel count out of range")
        self.real_num_rx_queues = new_rx
        self.real_num_tx_queues = new_tx
        return self.get_channels()


def veth_pair(host_a: Host, name_a: str, host_b: Host, name_b: str, *,
              num_queues: int | None = None) -> tuple[VethDevice, VethDevice]:
    """ip link add NAME_A type veth peer name NAME_B (netns B): both ends registered,
    down. Without ``num_queues`` each end gets num_possible_cpus queues of which one is
    active (veth_get_num_queues + veth_init_queues); with it, that many active."""
    if num_queues is None:
        a = VethDevice(name_a, num_queues=1, max_queues=host_a.ncpus)
        b = VethDevice(name_b, num_queues=1, max_queues=host_b.ncpus)
    else:
        a = VethDevice(name_a, num_queues=num_queues)
        b = VethDevice(name_b, num_queues=num_queues)
    a.peer = b
    b.peer = a
    register_netdevice(host_a, a)
    register_netdevice(host_b, b)
    return a, b
