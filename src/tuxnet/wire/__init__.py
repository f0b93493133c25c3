"""tuxnet.wire: zero-copy header views and validated reprs (smoltcp style) for
Ethernet/802.1Q, ARP, IPv4, ICMP, UDP and TCP, plus the Internet checksum.

Each header has a *view* (``XxxView(buf, offset=0, end=None)``) whose lengths are
checked once in the constructor, after which no accessor can fail, and a *repr*
(``XxxRepr``) that parses with full validation and emits into a buffer. Malformed input
raises a :class:`WireError` subclass carrying the Linux drop reason.
"""

from tuxnet.wire.addr import (
    BROADCAST_MAC,
    ZERO_MAC,
    int_to_ip,
    ip_bytes,
    ip_int,
    ip_str,
    is_broadcast_mac,
    is_multicast_mac,
    mac_bytes,
    mac_str,
)
from tuxnet.wire.arp import ARPHRD_ETHER, ARPOP_REPLY, ARPOP_REQUEST, ArpRepr, ArpView
from tuxnet.wire.checksum import (
    checksum_ok,
    csum_fold,
    incremental_update,
    incremental_update32,
    internet_checksum,
    ones_sum,
    pseudo_header_sum,
)
from tuxnet.wire.errors import ChecksumError, MalformedError, TruncatedError, WireError
from tuxnet.wire.ethernet import (
    ETH_HLEN,
    ETH_P_8021AD,
    ETH_P_8021Q,
    ETH_P_ARP,
    ETH_P_IP,
    ETH_P_IPV6,
    EthernetRepr,
    EthernetView,
    vlan_tci,
)
from tuxnet.wire.icmp import (
    ICMP_DEST_UNREACH,
    ICMP_ECHO,
    ICMP_ECHOREPLY,
    ICMP_TIME_EXCEEDED,
    IcmpRepr,
    IcmpView,
)
from tuxnet.wire.ipv4 import (
    IP_DF,
    IP_MF,
    IP_OFFSET,
    IPPROTO_ICMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    Ipv4Repr,
    Ipv4View,
)
from tuxnet.wire.tcp import (
    TCPHDR_ACK,
    TCPHDR_CWR,
    TCPHDR_ECE,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_RST,
    TCPHDR_SYN,
    TCPHDR_URG,
    TcpRepr,
    TcpView,
)
from tuxnet.wire.tcp_options import TcpOptions
from tuxnet.wire.udp import UdpRepr, UdpView

__all__ = [
    "ARPHRD_ETHER",
    "ARPOP_REPLY",
    "ARPOP_REQUEST",
    "BROADCAST_MAC",
    "ETH_HLEN",
    "ETH_P_8021AD",
    "ETH_P_8021Q",
    "ETH_P_ARP",
    "ETH_P_IP",
    "ETH_P_IPV6",
    "ICMP_DEST_UNREACH",
    "ICMP_ECHO",
    "ICMP_ECHOREPLY",
    "ICMP_TIME_EXCEEDED",
    "IPPROTO_ICMP",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "IP_DF",
    "IP_MF",
    "IP_OFFSET",
    "TCPHDR_ACK",
    "TCPHDR_CWR",
    "TCPHDR_ECE",
    "TCPHDR_FIN",
    "TCPHDR_PSH",
    "TCPHDR_RST",
    "TCPHDR_SYN",
    "TCPHDR_URG",
    "ZERO_MAC",
    "ArpRepr",
    "ArpView",
    "ChecksumError",
    "EthernetRepr",
    "EthernetView",
    "IcmpRepr",
    "IcmpView",
    "Ipv4Repr",
    "Ipv4View",
    "MalformedError",
    "TcpOptions",
    "TcpRepr",
    "TcpView",
    "TruncatedError",
    "UdpRepr",
    "UdpView",
    "WireError",
    "checksum_ok",
    "csum_fold",
    "incremental_update",
    "incremental_update32",
    "int_to_ip",
    "internet_checksum",
    "ip_bytes",
    "ip_int",
    "ip_str",
    "is_broadcast_mac",
    "is_multicast_mac",
    "mac_bytes",
    "mac_str",
    "ones_sum",
    "pseudo_header_sum",
    "vlan_tci",
]
