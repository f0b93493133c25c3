"""MIB counters of one host: /proc/net/snmp and /proc/net/netstat (struct netns_mib).

Hot paths bump counters as attributes of slotted dataclasses, typed so that mypy
rejects a misspelt counter::

    mib.tcpext.TCPHPHits += 1        # NET_INC_STATS(net, LINUX_MIB_TCPHPHITS)
    mib.tcp.InSegs += 1              # TCP_INC_STATS(net, TCP_MIB_INSEGS)
    mib.ip.InReceives += 1           # __IP_INC_STATS(net, IPSTATS_MIB_INRECEIVES)
    mib.ipext.InOctets += len        # __IP_ADD_STATS(net, IPSTATS_MIB_INOCTETS, len)
    mib.icmpmsg[8] += 1              # ICMPMSG_MIB_INC_STATS: InType8 (echo request in)
    mib.icmpmsg[0x100 | 0] += 1      # OutType0 (echo reply out)

A slot attribute increment is as fast as a dict item increment in CPython and needs no
string hashing; tools that pick counters by name use ``mib.tcpext["TCPHPHits"]``.

Formatting reproduces net/ipv4/proc.c: snmp_seq_show (``format_snmp``) and
netstat_seq_show (``format_netstat``), plus iproute2 ``nstat -az`` (``format_nstat``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.mib_data import (
    ICMP_IN_HEAD,
    ICMP_OUT_HEAD,
    ICMPMIBMAP,
    IcmpMib,
    IpExtMib,
    IpMib,
    MibGroup,
    MPTcpExtMib,
    TcpExtMib,
    TcpMib,
    UdpMib,
)

if TYPE_CHECKING:
    from tuxnet.sysctl import Sysctl

__all__ = ["ICMPMSG_MIB_MAX", "NSTAT_USELESS", "Mib", "MibGroup"]

ICMPMSG_MIB_MAX = 512  # __ICMPMSG_MIB_MAX: 256 in types, 256 out types
ICMPMSG_PERLINE = 16  # icmpmsg_put PERLINE
# iproute2 misc/nstat.c useless_numbers[]: constants nstat never prints
NSTAT_USELESS = frozenset({"IpForwarding", "IpDefaultTTL", "TcpRtoAlgorithm", "TcpRtoMin",
                           "TcpRtoMax", "TcpMaxConn", "TcpCurrEstab"})


def _pair(group: str, names: list[str] | tuple[str, ...], values: list[int]) -> str:
    return f"{group}: {' '.join(names)}\n{group}: {' '.join(str(v) for v in values)}\n"


class Mib:
    """The per-namespace SNMP and Linux MIB counters (net->mib)."""

    __slots__ = ("_sysctl", "icmp", "icmpmsg", "ip", "ipext", "mptcpext", "tcp", "tcpext",
                 "udp", "udplite")

    def __init__(self, sysctl: Sysctl | None = None) -> None:
        self._sysctl = sysctl
        self.ip = IpMib()
        self.icmp = IcmpMib()
        # ICMPMSG_MIB: index = ICMP type for received, 0x100 | type for sent
        self.icmpmsg: list[int] = [0] * ICMPMSG_MIB_MAX
        self.tcp = TcpMib()
        self.udp = UdpMib()
        self.udplite = UdpMib()
        self.tcpext = TcpExtMib()
        self.ipext = IpExtMib()
        self.mptcpext = MPTcpExtMib()

    def reset(self) -> None:
        """Zero every counter (constants such as Tcp RtoMin keep their values)."""
        self.__init__(self._sysctl)  # type: ignore[misc]

    # -- values the kernel reads from sysctls ----------------------------------------
    def _forwarding(self) -> int:
        """IPV4_DEVCONF_ALL(net, FORWARDING) ? 1 : 2 (RFC 1213 ipForwarding)."""
        if self._sysctl is None:
            return 2
        return 1 if self._sysctl.get_int("net.ipv4.conf.all.forwarding") else 2

    def _default_ttl(self) -> int:
        if self._sysctl is None:
            return 64
        return self._sysctl.get_int("net.ipv4.ip_default_ttl")

    def _icmp_columns(self) -> tuple[list[str], list[int]]:
        """icmp_put: Icmp names and values (per-type columns from the IcmpMsg counters)."""
        msg = self.icmpmsg
        icmp = self.icmp
        names = [*ICMP_IN_HEAD, *(f"In{n}" for n, _ in ICMPMIBMAP),
                 *ICMP_OUT_HEAD, *(f"Out{n}" for n, _ in ICMPMIBMAP)]
        values = [icmp.InMsgs, icmp.InErrors, icmp.InCsumErrors,
                  *(msg[t] for _, t in ICMPMIBMAP),
                  icmp.OutMsgs, icmp.OutErrors, icmp.OutRateLimitGlobal, icmp.OutRateLimitHost,
                  *(msg[0x100 | t] for _, t in ICMPMIBMAP)]
        return names, values

    def _icmpmsg_columns(self) -> list[tuple[str, int]]:
        """icmpmsg_put: only the non-zero per-type counters, InTypeN then OutTypeN."""
        return [(f"{'Out' if i & 0x100 else 'In'}Type{i & 0xFF}", v)
                for i, v in enumerate(self.icmpmsg) if v]

    # -- /proc/net/snmp and /proc/net/netstat -----------------------------------------
    def format_snmp(self) -> str:
        """/proc/net/snmp as snmp_seq_show prints it."""
        ip = self.ip
        out = [_pair("Ip", ["Forwarding", "DefaultTTL", *ip.NAMES],
                     [self._forwarding(), self._default_ttl(), *ip.values()])]
        names, values = self._icmp_columns()
        out.append(_pair("Icmp", names, values))
        msgs = self._icmpmsg_columns()
        for i in range(0, len(msgs), ICMPMSG_PERLINE):
            chunk = msgs[i:i + ICMPMSG_PERLINE]
            out.append(_pair("IcmpMsg", [n for n, _ in chunk], [v for _, v in chunk]))
        out.append(_pair("Tcp", self.tcp.NAMES, self.tcp.values()))
        out.append(_pair("Udp", self.udp.NAMES, self.udp.values()))
        out.append(_pair("UdpLite", self.udplite.NAMES, self.udplite.values()))
        return "".join(out)

    def format_netstat(self) -> str:
        """/proc/net/netstat as netstat_seq_show (and mptcp_seq_show) print it."""
        return "".join(_pair(g, grp.NAMES, grp.values()) for g, grp in self._netstat_groups())

    def _netstat_groups(self) -> list[tuple[str, MibGroup]]:
        return [("TcpExt", self.tcpext), ("IpExt", self.ipext), ("MPTcpExt", self.mptcpext)]

    # -- nstat ---------------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        """Every counter under its nstat name (``IpInReceives``, ``TcpExtTCPHPHits``,
        ``IcmpMsgInType8``), in the order nstat -a lists them."""
        out: dict[str, int] = {"IpForwarding": self._forwarding(),
                               "IpDefaultTTL": self._default_ttl()}
        out.update((f"Ip{n}", v) for n, v in self.ip.items())
        names, values = self._icmp_columns()
        out.update((f"Icmp{n}", v) for n, v in zip(names, values, strict=True))
        out.update((f"IcmpMsg{n}", v) for n, v in self._icmpmsg_columns())
        out.update((f"Tcp{n}", v) for n, v in self.tcp.items())
        out.update((f"Udp{n}", v) for n, v in self.udp.items())
        out.update((f"UdpLite{n}", v) for n, v in self.udplite.items())
        for g, grp in self._netstat_groups():
            out.update((f"{g}{n}", v) for n, v in grp.items())
        return out

    def format_nstat(self, *, zeros: bool = True) -> str:
        """``nstat -a`` (``-az`` with zeros): ``#kernel`` then "%-32s%-16llu%6.1f" lines
        (iproute2 misc/nstat.c dump_kern_db); absolute values, so the rate is 0.0."""
        lines = ["#kernel\n"]
        for name, value in self.counters().items():
            if name in NSTAT_USELESS or (value == 0 and not zeros):
                continue
            lines.append(f"{name:<32s}{value & 0xFFFFFFFFFFFFFFFF:<16d}{0.0:6.1f}\n")
        return "".join(lines)
