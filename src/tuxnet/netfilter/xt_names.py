"""Name tables the iptables tools use: protocols, services and ICMP types.

iptables resolves ``-p`` names and port names through the host's /etc/protocols and
/etc/services (getprotobyname, getservbyname); tuxnet keeps the entries of Debian's
netbase 6.x that matter for firewall rules. ICMP type names are iptables' own table
(libxt_icmp.c / xshared.c ``icmp_codes``).
"""

from __future__ import annotations

__all__ = [
    "ICMP_TYPES",
    "PROTO_NAMES",
    "PROTO_NUMBERS",
    "icmp_type_name",
    "port_name",
    "service_port",
]

# netbase /etc/protocols (the names getprotobynumber returns)
PROTO_NAMES: dict[int, str] = {
    1: "icmp", 2: "igmp", 4: "ipencap", 6: "tcp", 8: "egp", 12: "pup", 17: "udp",
    20: "hmp", 22: "xns-idp", 27: "rdp", 29: "iso-tp4", 33: "dccp", 36: "xtp",
    37: "ddp", 38: "idpr-cmtp", 41: "ipv6", 43: "ipv6-route", 44: "ipv6-frag",
    45: "idrp", 46: "rsvp", 47: "gre", 50: "esp", 51: "ah", 57: "skip",
    58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 73: "rspf", 81: "vmtp",
    88: "eigrp", 89: "ospf", 93: "ax.25", 94: "ipip", 97: "etherip", 98: "encap",
    103: "pim", 108: "ipcomp", 112: "vrrp", 115: "l2tp", 124: "isis", 132: "sctp",
    133: "fc", 135: "mobility-header", 136: "udplite", 137: "mpls-in-ip", 138: "manet",
    139: "hip", 140: "shim6", 141: "wesp", 142: "rohc", 143: "ethernet",
}
PROTO_NUMBERS: dict[str, int] = {name: num for num, name in PROTO_NAMES.items()}
PROTO_NUMBERS.update({"ip": 0, "ipv4": 4, "icmpv6": 58, "ipv6-icmp": 58})

# netbase /etc/services: the tcp/udp ports iptables prints by name without -n
_SERVICES: tuple[tuple[str, int], ...] = (
    ("tcpmux", 1), ("echo", 7), ("discard", 9), ("systat", 11), ("daytime", 13),
    ("netstat", 15), ("qotd", 17), ("chargen", 19), ("ftp-data", 20), ("ftp", 21),
    ("ssh", 22), ("telnet", 23), ("smtp", 25), ("time", 37), ("whois", 43),
    ("tacacs", 49), ("domain", 53), ("gopher", 70), ("finger", 79), ("http", 80),
    ("kerberos", 88), ("iso-tsap", 102), ("acr-nema", 104), ("pop3", 110),
    ("sunrpc", 111), ("auth", 113), ("nntp", 119), ("ntp", 123), ("epmap", 135),
    ("netbios-ns", 137), ("netbios-dgm", 138), ("netbios-ssn", 139), ("imap2", 143),
    ("snmp", 161), ("snmp-trap", 162), ("cmip-man", 163), ("cmip-agent", 164),
    ("mailq", 174), ("xdmcp", 177), ("bgp", 179), ("smux", 199), ("qmtp", 209),
    ("z3950", 210), ("ipx", 213), ("ptp-event", 319), ("ptp-general", 320),
    ("pawserv", 345), ("zserv", 346), ("rpc2portmap", 369), ("codaauth2", 370),
    ("clearcase", 371), ("ldap", 389), ("svrloc", 427), ("https", 443), ("snpp", 444),
    ("microsoft-ds", 445), ("kpasswd", 464), ("submissions", 465), ("saft", 487),
    ("isakmp", 500), ("rtsp", 554), ("nqs", 607), ("asf-rmcp", 623), ("qmqp", 628),
    ("ipp", 631), ("ldp", 646), ("exec", 512), ("login", 513), ("shell", 514),
    ("printer", 515), ("gdomap", 538), ("uucp", 540), ("klogin", 543), ("kshell", 544),
    ("dhcpv6-client", 546), ("dhcpv6-server", 547), ("afpovertcp", 548),
    ("nntps", 563), ("submission", 587), ("ldaps", 636), ("tinc", 655),
    ("silc", 706), ("kerberos-adm", 749), ("domain-s", 853), ("rsync", 873),
    ("ftps-data", 989), ("ftps", 990), ("telnets", 992), ("imaps", 993), ("pop3s", 995),
    ("socks", 1080), ("proofd", 1093), ("rootd", 1094), ("openvpn", 1194),
    ("rmiregistry", 1099), ("lotusnote", 1352), ("ms-sql-s", 1433), ("ms-sql-m", 1434),
    ("ingreslock", 1524), ("datametrics", 1645), ("sa-msg-port", 1646),
    ("kermit", 1649), ("groupwise", 1677), ("l2f", 1701), ("radius", 1812),
    ("radius-acct", 1813), ("cisco-sccp", 2000), ("nfs", 2049), ("gnunet", 2086),
    ("rtcm-sc104", 2101), ("gsigatekeeper", 2119), ("gris", 2135), ("cvspserver", 2401),
    ("venus", 2430), ("venus-se", 2431), ("codasrv", 2432), ("codasrv-se", 2433),
    ("mon", 2583), ("dict", 2628), ("f5-globalsite", 2792), ("gsiftp", 2811),
    ("gpsd", 2947), ("gds-db", 3050), ("icpv2", 3130), ("isns", 3205),
    ("iscsi-target", 3260), ("mysql", 3306), ("ms-wbt-server", 3389),
    ("nut", 3493), ("distcc", 3632), ("daap", 3689), ("svn", 3690), ("suucp", 4031),
    ("sysrqd", 4094), ("sieve", 4190), ("epmd", 4369), ("remctl", 4373),
    ("f5-iquery", 4353), ("ntske", 4460), ("ipsec-nat-t", 4500), ("iax", 4569),
    ("mtn", 4691), ("radmin-port", 4899), ("sip", 5060), ("sip-tls", 5061),
    ("xmpp-client", 5222), ("xmpp-server", 5269), ("cfengine", 5308), ("mdns", 5353),
    ("postgresql", 5432), ("freeciv", 5556), ("amqps", 5671), ("amqp", 5672),
    ("x11", 6000), ("x11-1", 6001), ("x11-2", 6002), ("x11-3", 6003), ("x11-4", 6004),
    ("x11-5", 6005), ("x11-6", 6006), ("x11-7", 6007), ("gnutella-svc", 6346),
    ("gnutella-rtr", 6347), ("redis", 6379), ("sge-qmaster", 6444),
    ("sge-execd", 6445), ("mysql-proxy", 6446), ("babel", 6696), ("ircs-u", 6697),
    ("bbs", 7000), ("afs3-fileserver", 7000), ("font-service", 7100),
    ("http-alt", 8080), ("puppet", 8140), ("bacula-dir", 9101), ("bacula-fd", 9102),
    ("bacula-sd", 9103), ("xmms2", 9667), ("nbd", 10809), ("zabbix-agent", 10050),
    ("zabbix-trapper", 10051), ("amanda", 10080), ("dicom", 11112), ("hkp", 11371),
    ("db-lsp", 17500), ("dcap", 22125), ("gsidcap", 22128), ("wnn6", 22273),
)
_PORT_NAMES: dict[int, str] = {}
_NAME_PORTS: dict[str, int] = {}
for _name, _port in _SERVICES:
    _PORT_NAMES.setdefault(_port, _name)
    _NAME_PORTS.setdefault(_name, _port)
_NAME_PORTS.update({"www": 80, "smtps": 465, "webcache": 8080, "nameserver": 42})


def service_port(name: str) -> int | None:
    """getservbyname(name, proto): the port of a service name, or None."""
    return _NAME_PORTS.get(name)


def port_name(port: int) -> str | None:
    """getservbyport: the service name of a port, or None."""
    return _PORT_NAMES.get(port)


# libxt_icmp.c icmp_codes: (name, type, code_min, code_max); the first name of a
# (type, codes) triple is the one printed
ICMP_TYPES: tuple[tuple[str, int, int, int], ...] = (
    ("any", 0xFF, 0, 0xFF),
    ("echo-reply", 0, 0, 0xFF),
    ("pong", 0, 0, 0xFF),
    ("destination-unreachable", 3, 0, 0xFF),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xFF),
    ("redirect", 5, 0, 0xFF),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xFF),
    ("ping", 8, 0, 0xFF),
    ("router-advertisement", 9, 0, 0xFF),
    ("router-solicitation", 10, 0, 0xFF),
    ("time-exceeded", 11, 0, 0xFF),
    ("ttl-exceeded", 11, 0, 0xFF),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xFF),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xFF),
    ("timestamp-reply", 14, 0, 0xFF),
    ("address-mask-request", 17, 0, 0xFF),
    ("address-mask-reply", 18, 0, 0xFF),
)


def icmp_type_name(icmp_type: int, code_min: int, code_max: int) -> str | None:
    """The iptables name of an ICMP type/code range, or None."""
    for name, t, lo, hi in ICMP_TYPES:
        if t == icmp_type and lo == code_min and hi == code_max:
            return name
    return None
