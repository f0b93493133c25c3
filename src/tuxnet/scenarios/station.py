"""A frame station: the smallest receive/transmit path a host needs before the
device layer and IPv4 exist (issues #3, #4 replace it with net_device and ip_rcv).

It takes Ethernet frames off a simulated link into an sk_buff, validates them with
the wire views as ip_rcv_core / __udp4_lib_rcv do, counts what Linux counts (Ip and
Udp MIBs) and drops with Linux's drop reasons through ``Host.kfree_skb``. A UDP echo
port answers every datagram it receives.
"""

from __future__ import annotations

from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.sim import Link
from tuxnet.skb import NET_SKB_PAD, SkBuff, alloc_skb
from tuxnet.wire import (
    ETH_P_IP,
    WireError,
    is_broadcast_mac,
)
from tuxnet.wire.build import udp_frame
from tuxnet.wire.ethernet import EthernetView
from tuxnet.wire.ipv4 import IPPROTO_UDP, Ipv4View
from tuxnet.wire.udp import UdpView


class Station:
    """One host's single Ethernet port with an IPv4 address and a UDP echo service."""

    def __init__(self, host: Host, mac: bytes, ip: int, *, echo_port: int = 7) -> None:
        self.host = host
        self.mac = mac
        self.ip = ip
        self.echo_port = echo_port
        self.tx: Link | None = None
        self.peer_mac = b"\xff" * 6
        self.rx_payload_bytes = 0
        self.last_rx_ns = 0  # when the last accepted datagram arrived
        self.echo_replies = 0
        self.tx_dropped = 0

    def attach(self, tx: Link, peer_mac: bytes) -> None:
        """Transmit on ``tx``; frames go to ``peer_mac`` (no ARP before issue #4)."""
        self.tx = tx
        self.peer_mac = peer_mac

    # -- transmit ------------------------------------------------------------------
    def send_udp(self, dst_ip: int, sport: int, dport: int, payload: bytes, ident: int) -> bool:
        """udp_sendmsg's effect on the wire: one datagram, counted in Ip/Udp out MIBs."""
        mib = self.host.mib
        frame = udp_frame(self.mac, self.peer_mac, self.ip, dst_ip, sport, dport, payload,
                          ident=ident & 0xFFFF)
        mib.udp.OutDatagrams += 1
        mib.ip.OutRequests += 1
        assert self.tx is not None, "station not attached"
        if self.tx.send(frame):
            mib.ip.OutTransmits += 1
            return True
        # the link queue refused it: a qdisc drop, as dev_queue_xmit reports it
        self.tx_dropped += 1
        mib.ip.OutDiscards += 1
        skb = alloc_skb(len(frame))
        skb.put_data(frame)
        self.host.kfree_skb(skb, SkbDropReason.QDISC_DROP, "dev_queue_xmit")
        return False

    # -- receive -------------------------------------------------------------------
    def receive_frame(self, frame: bytes, link: Link) -> None:
        """Driver RX + netif_receive_skb + ip_rcv + udp_rcv for one frame."""
        host = self.host
        mib = host.mib
        skb = alloc_skb(len(frame) + NET_SKB_PAD)
        skb.reserve(NET_SKB_PAD)
        skb.put_data(frame)
        try:
            eth = EthernetView(skb.data)
        except WireError as err:
            host.kfree_skb(skb, err.reason, "eth_type_trans")
            return
        dst = eth.dst
        if dst != self.mac and not is_broadcast_mac(dst):
            host.kfree_skb(skb, SkbDropReason.OTHERHOST, "ip_rcv_core")
            return
        if eth.ethertype != ETH_P_IP:
            host.kfree_skb(skb, SkbDropReason.UNHANDLED_PROTO, "__netif_receive_skb_core")
            return
        skb.pull(eth.header_len)
        skb.reset_network_header()
        mib.ip.InReceives += 1
        self._ip_rcv(skb)

    def _ip_rcv(self, skb: SkBuff) -> None:
        """ip_rcv_core + ip_local_deliver for IPv4 (RFC 791 3.1, RFC 1122 3.2.1)."""
        host = self.host
        mib = host.mib
        data = skb.data
        try:
            ip = Ipv4View(data, verify_csum=True)
        except WireError as err:
            # ip_rcv_core: csum_error counts IpExt InCsumErrors and falls through to
            # inhdr_error; a short packet counts IpExt InTruncatedPkts only
            if err.mib in mib.ipext.NAMES:
                mib.ipext[err.mib] += 1
                if err.mib == "InCsumErrors":
                    mib.ip.InHdrErrors += 1
            elif err.mib:
                mib.ip[err.mib] += 1
            host.kfree_skb(skb, err.reason, "ip_rcv_core")
            return
        if ip.dst != self.ip:
            mib.ip.InAddrErrors += 1
            host.kfree_skb(skb, SkbDropReason.IP_INADDRERRORS, "ip_route_input")
            return
        if ip.protocol != IPPROTO_UDP:
            mib.ip.InUnknownProtos += 1
            host.kfree_skb(skb, SkbDropReason.IP_NOPROTO, "ip_protocol_deliver_rcu")
            return
        mib.ip.InDelivers += 1
        self._udp_rcv(skb, ip)

    def _udp_rcv(self, skb: SkBuff, ip: Ipv4View) -> None:
        """__udp4_lib_rcv: length, checksum (RFC 768), port lookup, echo."""
        host = self.host
        mib = host.mib
        try:
            udp = UdpView(ip.buf, ip.payload_offset, ip.end)
        except WireError as err:
            mib.udp.InErrors += 1
            host.kfree_skb(skb, err.reason, "__udp4_lib_rcv")
            return
        src = ip.src
        if not udp.verify_checksum(src, ip.dst):
            mib.udp.InCsumErrors += 1
            mib.udp.InErrors += 1
            host.kfree_skb(skb, SkbDropReason.UDP_CSUM, "__udp4_lib_rcv")
            return
        sport, dport = udp.ports()
        if dport != self.echo_port and sport != self.echo_port:
            mib.udp.NoPorts += 1
            host.kfree_skb(skb, SkbDropReason.NO_SOCKET, "__udp4_lib_rcv")
            return
        mib.udp.InDatagrams += 1
        payload = bytes(udp.payload)
        self.rx_payload_bytes += len(payload)
        self.last_rx_ns = host.loop.now_ns()
        host.consume_skb(skb, "udp_recvmsg")
        if dport == self.echo_port:
            self.echo_replies += 1
            self.send_udp(src, dport, sport, payload, ip.ident)
