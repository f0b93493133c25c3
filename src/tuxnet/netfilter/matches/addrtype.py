"""-m addrtype (net/netfilter/xt_addrtype.c revision 1, libxt_addrtype.c): the route
type (RTN_*) of the source / destination address, asked of routing through the
``NfNet.addr_type`` seam (inet_addr_type_dev_table); ``--limit-iface-in/out`` pass
the packet's device."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from tuxnet.netfilter.hooks import NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_PRE_ROUTING
from tuxnet.netfilter.xt import XtError, XtMatch, XtParam, register_match

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.netfilter.tables import NfNet
    from tuxnet.skb import SkBuff

__all__ = ["ADDR_TYPES", "AddrtypeMatch", "addr_type"]

# include/uapi/linux/rtnetlink.h RTN_* in order; bit i is 1 << RTN value
ADDR_TYPES = ("UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST",
              "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE")
RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST = 1, 2, 3, 5


def addr_type(nf: NfNet, addr: int, dev: Any) -> int:
    """inet_addr_type through the seam; without routing: multicast, limited broadcast,
    0.0.0.0 (BROADCAST, as inet_addr_type says of zeronet) or unicast."""
    if nf.addr_type is None:
        st = nf.host.__dict__.get("ipv4")
        if st is not None:
            fib = st.inet.fib
            nf.addr_type = lambda a, d: int(fib.addr_type(a, None))
    if nf.addr_type is not None:
        return nf.addr_type(addr, dev)
    if addr >> 28 == 0xE:
        return RTN_MULTICAST
    if addr in (0xFFFFFFFF, 0):
        return RTN_BROADCAST
    return RTN_UNICAST


def _parse_types(text: str) -> int:
    v = 0
    for part in text.split(","):
        try:
            v |= 1 << ADDR_TYPES.index(part.upper())
        except ValueError:
            raise XtError(f'addrtype: bad type "{part}"') from None
    return v


def _fmt_types(mask: int) -> str:
    return ",".join(n for i, n in enumerate(ADDR_TYPES) if mask & (1 << i))


@register_match
class AddrtypeMatch(XtMatch):
    """addrtype_mt_v1."""

    name = "addrtype"
    revision = 1
    options: ClassVar[dict[str, int]] = {
        "--src-type": 1, "--dst-type": 1, "--limit-iface-in": 0, "--limit-iface-out": 0}

    def __init__(self) -> None:
        self.src = 0
        self.dst = 0
        self.inv_src = False
        self.inv_dst = False
        self.iface_in = False
        self.iface_out = False

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt == "--src-type":
            self.src, self.inv_src = _parse_types(arg), invert
        elif opt == "--dst-type":
            self.dst, self.inv_dst = _parse_types(arg), invert
        elif opt == "--limit-iface-in":
            if self.iface_out:
                raise XtError("addrtype: You can't use --limit-iface-in with "
                              "--limit-iface-out")
            self.iface_in = True
        elif opt == "--limit-iface-out":
            if self.iface_in:
                raise XtError("addrtype: You can't use --limit-iface-out with "
                              "--limit-iface-in")
            self.iface_out = True
        else:
            super().parse(opt, arg, invert, entry)

    def final_check(self, entry: IptEntry) -> None:
        if not (self.src or self.dst):
            raise XtError("addrtype: you must specify --src-type or --dst-type")

    def checkentry(self, table: str, hooks: int, entry: IptEntry) -> bool:
        in_hooks = (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_IN)
        out_hooks = ~in_hooks & ~(1 << NF_INET_FORWARD) & 0x1F
        if self.iface_in and hooks & ~in_hooks & 0x1F & ~(1 << NF_INET_FORWARD):
            return False
        return not (self.iface_out and hooks & ~out_hooks & ~(1 << NF_INET_FORWARD) & 0x1F)

    def save(self) -> str:
        s = ""
        if self.src:
            s += (" !" if self.inv_src else "") + " --src-type " + _fmt_types(self.src)
        if self.dst:
            s += (" !" if self.inv_dst else "") + " --dst-type " + _fmt_types(self.dst)
        if self.iface_in:
            s += " --limit-iface-in"
        if self.iface_out:
            s += " --limit-iface-out"
        return s

    def print_(self, numeric: bool) -> str:
        s = " ADDRTYPE match"
        if self.src:
            s += " src-type " + ("!" if self.inv_src else "") + _fmt_types(self.src)
        if self.dst:
            s += " dst-type " + ("!" if self.inv_dst else "") + _fmt_types(self.dst)
        if self.iface_in:
            s += " limit-in"
        if self.iface_out:
            s += " limit-out"
        return s

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        dev = par.in_dev if self.iface_in else par.out_dev if self.iface_out else None
        data = par.data
        nf = par.nf
        if self.src:
            t = addr_type(nf, int.from_bytes(data[12:16], "big"), dev)
            if bool((1 << t) & self.src) == self.inv_src:
                return False
        if self.dst:
            t = addr_type(nf, int.from_bytes(data[16:20], "big"), dev)
            if bool((1 << t) & self.dst) == self.inv_dst:
                return False
        return True
