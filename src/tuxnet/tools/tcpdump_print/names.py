"""Name tables that tcpdump 4.99 prints (facts of its output format, checked against
``tcpdump -e``/``-v`` of Debian's 4.99.3 over every value): ethertypes, IP protocols,
ARP hardware types."""

from __future__ import annotations

# ethertype -> name as in "ethertype IPv4 (0x0800)"; anything else prints "Unknown"
ETHERTYPE_NAMES: dict[int, str] = {
    0x00FE: "GRE-OSI",
    0x0200: "PUP",
    0x0500: "Sprite",
    0x0600: "NS",
    0x0707: "GeoNet (old)",
    0x0800: "IPv4",
    0x0806: "ARP",
    0x1000: "Trail",
    0x1111: "CALM FAST",
    0x6001: "MOP DL",
    0x6002: "MOP RC",
    0x6003: "DN",
    0x6004: "LAT",
    0x6007: "SCA",
    0x6558: "TEB",
    0x8035: "Reverse ARP",
    0x8038: "Lanbridge",
    0x803C: "DEC DNS",
    0x803E: "DEC DTS",
    0x805B: "VEXP",
    0x805C: "VPROD",
    0x809B: "Appletalk",
    0x80F3: "Appletalk ARP",
    0x8100: "802.1Q",
    0x8137: "IPX",
    0x86DD: "IPv6",
    0x8808: "MPCP",
    0x8809: "Slow Protocols",
    0x880B: "PPP",
    0x8847: "MPLS unicast",
    0x8848: "MPLS multicast",
    0x8863: "PPPoE D",
    0x8864: "PPPoE S",
    0x886F: "MS NLB heartbeat",
    0x888E: "EAPOL",
    0x8899: "Realtek protocols",
    0x88A2: "AoE",
    0x88A8: "802.1Q-QinQ",
    0x88CA: "TIPC",
    0x88CC: "LLDP",
    0x88E5: "802.1AE MACsec",
    0x88F7: "PTP",
    0x8902: "CFM",
    0x893A: "IEEE1905.1",
    0x8947: "GeoNet",
    0x894F: "NSH",
    0x9000: "Loopback",
    0x9100: "802.1Q-9100",
    0x9200: "802.1Q-9200",
    0xABCD: "CFM (old)",
    0xD28B: "Arista Vendor Specific Protocol",
    0xFEFE: "OSI",
}

# Ethertypes that tcpdump itself dissects but tuxnet does not (it prints them in the
# "unknown ethertype" form instead, so those lines differ from tcpdump's).
ETHERTYPES_DISSECTED_BY_TCPDUMP = frozenset(
    {
        0x0707, 0x1111, 0x3C12, 0x3C13, 0x6003, 0x809B, 0x80F3, 0x8137, 0x86DD,
        0x8808, 0x8809, 0x880B, 0x8847, 0x8848, 0x8863, 0x8864, 0x886F, 0x8870,
        0x888E, 0x8899, 0x88A2, 0x88CA, 0x88CC, 0x88E5, 0x88F7, 0x8902, 0x8947,
        0x894F, 0x9000, 0xABCD, 0xD28B, 0xFEFE,
    }
)

# 802.1Q-style tags: TPID values tcpdump walks through as VLAN headers
VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})

# IP protocol -> name as in "-v" "proto TCP (6)"; anything else prints "unknown"
IPPROTO_NAMES: dict[int, str] = {
    0: "Options",
    1: "ICMP",
    2: "IGMP",
    4: "IPIP",
    6: "TCP",
    8: "EGP",
    9: "IGRP",
    17: "UDP",
    33: "DCCP",
    41: "IPv6",
    43: "Routing",
    44: "Fragment",
    46: "RSVP",
    47: "GRE",
    50: "ESP",
    51: "AH",
    55: "Mobile IP",
    58: "ICMPv6",
    62: "Mobile IP (old)",
    88: "EIGRP",
    89: "OSPF",
    103: "PIM",
    108: "Compressed IP",
    112: "VRRP",
    113: "PGM",
    132: "SCTP",
    135: "Mobility",
    143: "Ethernet",
}

# IP protocols tcpdump dissects over IPv4 that tuxnet prints as "ip-proto-N LEN"
IPPROTOS_DISSECTED_BY_TCPDUMP = frozenset(
    {1, 2, 4, 6, 8, 9, 17, 33, 41, 46, 47, 50, 51, 55, 58, 59, 77, 88, 89, 103, 108, 112,
     113, 132, 143}
)
