"""The net.netfilter.nf_conntrack_* sysctls conntrack reads on the packet path, kept as
plain attributes (ns for timeouts) and refreshed by a sysctl watch when one changes,
so a write takes effect on the next packet without a lookup per packet."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuxnet.sysctl import Sysctl, SysctlValue

__all__ = ["CtConfig"]

_P = "net.netfilter.nf_conntrack_"
_HZ_NS = 1_000_000_000
# nf_conntrack_proto_tcp.c tcp_timeouts[] slots: NONE(unused), the states (SYN_SENT2
# shares syn_sent), then RETRANS and UNACK
_TCP_SLOTS = ("close", "syn_sent", "syn_recv", "established", "fin_wait", "close_wait",
              "last_ack", "time_wait", "close", "syn_sent", "max_retrans", "unacknowledged")


class CtConfig:
    """Snapshot of the conntrack sysctls of one host."""

    __slots__ = ("acct", "buckets", "checksum", "ct_max", "generic_timeout", "icmp_timeout",
                 "sysctl", "tcp_be_liberal", "tcp_ignore_invalid_rst", "tcp_loose",
                 "tcp_max_retrans", "tcp_timeouts", "udp_timeout", "udp_timeout_stream")

    def __init__(self, sysctl: Sysctl) -> None:
        self.sysctl = sysctl
        self.reload()
        sysctl.watch(_P + "*", self._changed)

    def _changed(self, name: str, value: SysctlValue) -> None:
        self.reload()

    def _int(self, name: str) -> int:
        return self.sysctl.get_int(_P + name)

    def reload(self) -> None:
        """Read every value again."""
        self.checksum = self._int("checksum")
        self.acct = self._int("acct")
        self.tcp_loose = self._int("tcp_loose")
        self.tcp_be_liberal = self._int("tcp_be_liberal")
        self.tcp_ignore_invalid_rst = self._int("tcp_ignore_invalid_rst")
        self.tcp_max_retrans = self._int("tcp_max_retrans")
        self.tcp_timeouts = tuple(self._int("tcp_timeout_" + s) * _HZ_NS for s in _TCP_SLOTS)
        self.udp_timeout = self._int("udp_timeout") * _HZ_NS
        self.udp_timeout_stream = self._int("udp_timeout_stream") * _HZ_NS
        self.icmp_timeout = self._int("icmp_timeout") * _HZ_NS
        self.generic_timeout = self._int("generic_timeout") * _HZ_NS
        self.ct_max = self._int("max")
        self.buckets = self._int("buckets")
