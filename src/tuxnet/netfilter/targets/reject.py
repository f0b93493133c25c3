"""-j REJECT (net/ipv4/netfilter/ipt_REJECT.c, libipt_REJECT.c): send an ICMP error or
a TCP reset (tuxnet.netfilter.nf_reject) and drop the packet (NF_DROP). Only in the
filter table's INPUT, FORWARD and OUTPUT (and chains reached from them);
``tcp-reset`` needs ``-p tcp``."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.hooks import NF_DROP, NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT
from tuxnet.netfilter.nf_reject import nf_send_reset, nf_send_unreach
from tuxnet.netfilter.rule import IPT_INV_PROTO
from tuxnet.netfilter.xt import XtError, XtParam, XtTarget, register_target

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["REJECT_TYPES", "RejectTarget"]

# enum ipt_reject_with (include/uapi/linux/netfilter_ipv4/ipt_REJECT.h) -> ICMP code;
# libipt_REJECT.c reject_table order: (name, alias)
IPT_TCP_RESET = 7
REJECT_TYPES: tuple[tuple[int, str, str, int], ...] = (
    (0, "icmp-net-unreachable", "net-unreach", 0),
    (1, "icmp-host-unreachable", "host-unreach", 1),
    (2, "icmp-proto-unreachable", "proto-unreach", 2),
    (3, "icmp-port-unreachable", "port-unreach", 3),
    (5, "icmp-net-prohibited", "net-prohib", 9),
    (6, "icmp-host-prohibited", "host-prohib", 10),
    (IPT_TCP_RESET, "tcp-reset", "tcp-rst", -1),
    (8, "icmp-admin-prohibited", "admin-prohib", 13),
)
_BY_WITH = {w: (name, code) for w, name, _a, code in REJECT_TYPES}
_HOOKS = (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_FORWARD) | (1 << NF_INET_LOCAL_OUT)


@register_target
class RejectTarget(XtTarget):
    """reject_tg."""

    name = "REJECT"
    options: ClassVar[dict[str, int]] = {"--reject-with": 1}

    def __init__(self) -> None:
        self.with_ = 3  # icmp-port-unreachable

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt != "--reject-with":
            super().parse(opt, arg, invert, entry)
        a = arg.lower()
        for w, name, alias, _code in REJECT_TYPES:
            if name.startswith(a) or alias.startswith(a):
                self.with_ = w
                return
        raise XtError(f'unknown reject type "{arg}"')

    def checkentry(self, table: str, hooks: int, entry: IptEntry) -> bool:
        if table != "filter" or hooks & ~_HOOKS:
            return False
        return not (self.with_ == IPT_TCP_RESET and
                    (entry.proto != 6 or entry.invflags & IPT_INV_PROTO))

    def save(self) -> str:
        return f" --reject-with {_BY_WITH[self.with_][0]}"

    def print_(self, numeric: bool) -> str:
        return f" reject-with {_BY_WITH[self.with_][0]}"

    def target(self, skb: SkBuff, par: XtParam) -> int:
        if self.with_ == IPT_TCP_RESET:
            nf_send_reset(par.nf, skb, par.hook)
        else:
            nf_send_unreach(par.nf, skb, _BY_WITH[self.with_][1], par.hook)
        return NF_DROP
