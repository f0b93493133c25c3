"""-j SNAT / DNAT / MASQUERADE / REDIRECT (net/netfilter/xt_nat.c, xt_MASQUERADE.c,
xt_REDIRECT.c; libxt_SNAT/DNAT/MASQUERADE/REDIRECT.c): parsed, checked and printed
as iptables 1.8.9 does. The nat table's hook functions set up the binding on the
first packet of a connection and the traversal ends there; until NAT lands (#7) the
target ends the traversal (NF_ACCEPT) without rewriting the packet.

Hooks (checkentry): SNAT in POSTROUTING and INPUT, DNAT and REDIRECT in PREROUTING
and OUTPUT, MASQUERADE in POSTROUTING; nat table only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.hooks import (
    NF_ACCEPT,
    NF_INET_LOCAL_IN,
    NF_INET_LOCAL_OUT,
    NF_INET_POST_ROUTING,
    NF_INET_PRE_ROUTING,
)
from tuxnet.netfilter.rule import IPT_INV_PROTO
from tuxnet.netfilter.xt import XtError, XtParam, XtTarget, parse_uint, register_target
from tuxnet.wire.addr import int_to_ip, ip_int

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["DnatTarget", "MasqueradeTarget", "NatRange", "RedirectTarget", "SnatTarget"]

_PORT_PROTOS = (6, 17, 132, 33, 136)
_NEED_PORTS = "Need TCP, UDP, SCTP or DCCP with port specification"


class NatRange:
    """struct nf_nat_range2: an address range and a port range (0 = unset)."""

    __slots__ = ("max_addr", "max_port", "min_addr", "min_port")

    def __init__(self, min_addr: int = 0, max_addr: int = 0, min_port: int = 0,
                 max_port: int = 0) -> None:
        self.min_addr, self.max_addr = min_addr, max_addr
        self.min_port, self.max_port = min_port, max_port

    def fmt(self) -> str:
        s = ""
        if self.min_addr:
            s = int_to_ip(self.min_addr)
            if self.max_addr != self.min_addr:
                s += "-" + int_to_ip(self.max_addr)
        if self.min_port:
            s += f":{self.min_port}"
            if self.max_port != self.min_port:
                s += f"-{self.max_port}"
        return s


def _parse_ports(text: str) -> tuple[int, int]:
    lo_s, dash, hi_s = text.partition("-")
    lo = parse_uint(lo_s, 0, 0xFFFF)
    hi = parse_uint(hi_s, 0, 0xFFFF) if dash else lo
    if lo is None or hi is None or lo > hi:
        raise XtError(f'Port "{text}" not valid\n')
    return lo, hi


def _parse_to(text: str, entry: IptEntry) -> NatRange:
    addr, colon, ports = text.partition(":")
    r = NatRange()
    if addr:
        lo_s, dash, hi_s = addr.partition("-")
        try:
            r.min_addr = ip_int(lo_s)
            r.max_addr = ip_int(hi_s) if dash else r.min_addr
        except ValueError:
            raise XtError(f"Bad IP address \"{addr}\"\n") from None
    if colon:
        if entry.proto not in _PORT_PROTOS or entry.invflags & IPT_INV_PROTO:
            raise XtError(_NEED_PORTS)
        r.min_port, r.max_port = _parse_ports(ports)
    return r


class _NatBase(XtTarget):
    hooks_ok = 0
    to_opt = ""
    flag_opts = ("--random", "--random-fully", "--persistent")

    def __init__(self) -> None:
        self.range = NatRange()
        self.flags: list[str] = []

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt == self.to_opt:
            self.range = _parse_to(arg, entry)
        elif opt in self.flag_opts and opt in self.options:
            if opt not in self.flags:
                self.flags.append(opt)
        else:
            super().parse(opt, arg, invert, entry)

    def _flags(self, dash: bool) -> str:
        order = [f for f in ("--random", "--random-fully", "--persistent") if f in self.flags]
        return "".join(" " + (f if dash else f[2:]) for f in order)

    def checkentry(self, table: str, hooks: int, entry: IptEntry) -> bool:
        return table == "nat" and not hooks & ~self.hooks_ok

    def target(self, skb: SkBuff, par: XtParam) -> int:
        setup = par.nf.nat_setup
        if setup is not None:
            return setup(skb, par, self)
        return NF_ACCEPT  # no NAT yet (#7): the traversal ends, nothing is rewritten


@register_target
class SnatTarget(_NatBase):
    name = "SNAT"
    revision = 2
    options: ClassVar[dict[str, int]] = {
        "--to-source": 1, "--random": 0, "--random-fully": 0, "--persistent": 0}
    to_opt = "--to-source"
    hooks_ok = (1 << NF_INET_POST_ROUTING) | (1 << NF_INET_LOCAL_IN)

    def final_check(self, entry: IptEntry) -> None:
        if not self.range.min_addr and not self.range.min_port:
            raise XtError("SNAT: option \"--to-source\" must be specified")

    def save(self) -> str:
        return f" {self.to_opt} {self.range.fmt()}" + self._flags(True)

    def print_(self, numeric: bool) -> str:
        return f" to:{self.range.fmt()}" + self._flags(False)


@register_target
class DnatTarget(SnatTarget):
    name = "DNAT"
    options: ClassVar[dict[str, int]] = {"--to-destination": 1, "--random": 0, "--persistent": 0}
    to_opt = "--to-destination"
    hooks_ok = (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_OUT)

    def final_check(self, entry: IptEntry) -> None:
        if not self.range.min_addr and not self.range.min_port:
            raise XtError("DNAT: option \"--to-destination\" must be specified")


class _PortsTarget(_NatBase):
    to_opt = "--to-ports"
    label = ""

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt == "--to-ports":
            if entry.proto not in _PORT_PROTOS or entry.invflags & IPT_INV_PROTO:
                raise XtError(_NEED_PORTS)
            self.range.min_port, self.range.max_port = _parse_ports(arg)
        else:
            super().parse(opt, arg, invert, entry)

    def _ports(self) -> str:
        r = self.range
        if not r.min_port:
            return ""
        return str(r.min_port) if r.min_port == r.max_port else f"{r.min_port}-{r.max_port}"

    def save(self) -> str:
        p = self._ports()
        return (f" --to-ports {p}" if p else "") + self._flags(True)

    def print_(self, numeric: bool) -> str:
        p = self._ports()
        return (f" {self.label} {p}" if p else "") + self._flags(False)


@register_target
class MasqueradeTarget(_PortsTarget):
    name = "MASQUERADE"
    options: ClassVar[dict[str, int]] = {"--to-ports": 1, "--random": 0, "--random-fully": 0}
    hooks_ok = 1 << NF_INET_POST_ROUTING
    label = "masq ports:"


@register_target
class RedirectTarget(_PortsTarget):
    name = "REDIRECT"
    options: ClassVar[dict[str, int]] = {"--to-ports": 1, "--random": 0}
    hooks_ok = (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_OUT)
    label = "redir ports"
