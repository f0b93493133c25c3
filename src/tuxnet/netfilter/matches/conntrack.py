"""-m state and -m conntrack (net/netfilter/xt_state.c, xt_conntrack.c revision 3,
libxt_conntrack.c), evaluated through the conntrack seam (tuxnet.netfilter.ctseam).

State bits: INVALID (no entry), then 1 << (ctinfo % IP_CT_IS_REPLY + 1) for
ESTABLISHED / RELATED / NEW, SNAT and DNAT from the entry's IPS_*_NAT status, and
UNTRACKED. With no entry only ``--ctstate`` can match (conntrack_mt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from tuxnet.netfilter.ctseam import (
    IP_CT_IS_REPLY,
    IP_CT_UNTRACKED,
    IPS_DST_NAT,
    IPS_SRC_NAT,
    nf_ct_get,
)
from tuxnet.netfilter.xt import XtError, XtMatch, XtParam, parse_uint, register_match
from tuxnet.netfilter.xt_names import PROTO_NAMES, PROTO_NUMBERS
from tuxnet.wire.addr import int_to_ip, ip_int

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["ConntrackMatch", "StateMatch", "state_bits"]

# include/uapi/linux/netfilter/xt_conntrack.h
ST_INVALID = 1 << 0
ST_ESTABLISHED = 1 << 1
ST_RELATED = 1 << 2
ST_NEW = 1 << 3
ST_SNAT = 1 << 6
ST_DNAT = 1 << 7
ST_UNTRACKED = 1 << 8
# libxt_conntrack print order
_STATE_NAMES = (("INVALID", ST_INVALID), ("NEW", ST_NEW), ("RELATED", ST_RELATED),
                ("ESTABLISHED", ST_ESTABLISHED), ("UNTRACKED", ST_UNTRACKED),
                ("SNAT", ST_SNAT), ("DNAT", ST_DNAT))
_STATUS_NAMES = (("EXPECTED", 1), ("SEEN_REPLY", 2), ("ASSURED", 4), ("CONFIRMED", 8))


def _parse_list(text: str, names: tuple[tuple[str, int], ...], what: str) -> int:
    table = dict(names)
    v = 0
    for part in text.split(","):
        bit = table.get(part.upper())
        if bit is None:
            raise XtError(f'Bad {what} "{part}"')
        v |= bit
    return v


def _fmt_list(v: int, names: tuple[tuple[str, int], ...]) -> str:
    return ",".join(n for n, b in names if v & b)


def state_bits(nf: object, skb: SkBuff, par: XtParam) -> tuple[Any, int]:
    """The entry and the state bits of a packet (conntrack_mt's statebit)."""
    ct, ctinfo = nf_ct_get(par.nf, skb)
    if ct is not None:
        bits = 1 << (ctinfo % IP_CT_IS_REPLY + 1)
        if ct.status & IPS_SRC_NAT:
            bits |= ST_SNAT
        if ct.status & IPS_DST_NAT:
            bits |= ST_DNAT
    elif ctinfo == IP_CT_UNTRACKED:
        bits = ST_UNTRACKED
    else:
        bits = ST_INVALID
    return ct, bits


@register_match
class StateMatch(XtMatch):
    """-m state --state (no SNAT/DNAT)."""

    name = "state"
    options: ClassVar[dict[str, int]] = {"--state": 1}
    _names = _STATE_NAMES[:5]

    def __init__(self) -> None:
        self.mask = 0
        self.invert = False

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt != "--state":
            super().parse(opt, arg, invert, entry)
        self.mask = _parse_list(arg, self._names, "state")
        self.invert = invert

    def final_check(self, entry: IptEntry) -> None:
        if not self.mask:
            raise XtError("state: option \"--state\" must be specified")

    def save(self) -> str:
        return (" !" if self.invert else "") + " --state " + _fmt_list(self.mask, self._names)

    def print_(self, numeric: bool) -> str:
        return (" !" if self.invert else "") + " state " + _fmt_list(self.mask, self._names)

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        _, bits = state_bits(par.nf, skb, par)
        return bool(bits & self.mask & ~(ST_SNAT | ST_DNAT)) != self.invert


_ADDR_OPTS = ("--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst")


def _parse_net(text: str) -> tuple[int, int]:
    addr, slash, mask = text.partition("/")
    try:
        a = ip_int(addr)
    except ValueError:
        raise XtError(f"host/network `{addr}' not found") from None
    if not slash:
        return a, 0xFFFFFFFF
    n = parse_uint(mask, 0, 32)
    if n is None:
        raise XtError(f"invalid mask `{mask}' specified")
    m = (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF
    return a & m, m


def _fmt_net(a: int, m: int) -> str:
    if m == 0xFFFFFFFF:
        return int_to_ip(a)
    return f"{int_to_ip(a)}/{32 - (~m & 0xFFFFFFFF).bit_length()}"


@register_match
class ConntrackMatch(XtMatch):
    """conntrack_mt (revision 3): --ctstate, --ctproto, --ct{orig,repl}{src,dst},
    --ctstatus."""

    name = "conntrack"
    revision = 3
    options: ClassVar[dict[str, int]] = {
        "--ctstate": 1, "--ctproto": 1, "--ctstatus": 1, "--ctorigsrc": 1, "--ctorigdst": 1,
        "--ctreplsrc": 1, "--ctrepldst": 1}

    def __init__(self) -> None:
        self.state: int | None = None
        self.proto: int | None = None
        self.status: int | None = None
        self.addrs: dict[str, tuple[int, int]] = {}
        self.inv: set[str] = set()

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt == "--ctstate":
            self.state = _parse_list(arg, _STATE_NAMES, "ctstate")
        elif opt == "--ctstatus":
            self.status = _parse_list(arg, _STATUS_NAMES, "ctstatus")
        elif opt == "--ctproto":
            p = PROTO_NUMBERS.get(arg.lower())
            if p is None:
                p = parse_uint(arg, 0, 255)
            if p is None:
                raise XtError(f'unknown protocol "{arg}" specified')
            self.proto = p
        elif opt in _ADDR_OPTS:
            self.addrs[opt] = _parse_net(arg)
        else:
            super().parse(opt, arg, invert, entry)
        if invert:
            self.inv.add(opt)

    def final_check(self, entry: IptEntry) -> None:
        if self.state is None and self.proto is None and self.status is None and \
                not self.addrs:
            raise XtError("conntrack: At least one option is required")

    def _parts(self, prefix: str, numeric: bool) -> str:
        out = ""

        def inv(opt: str) -> str:
            return " !" if opt in self.inv else ""

        if self.state is not None:
            out += inv("--ctstate") + f" {prefix}ctstate " + _fmt_list(self.state,
                                                                      _STATE_NAMES)
        if self.proto is not None:
            name = str(self.proto) if prefix or numeric else PROTO_NAMES.get(
                self.proto, str(self.proto))
            out += inv("--ctproto") + f" {prefix}ctproto {name}"
        for opt in _ADDR_OPTS:
            if opt in self.addrs:
                out += inv(opt) + f" {prefix}{opt[2:]} " + _fmt_net(*self.addrs[opt])
        if self.status is not None:
            out += inv("--ctstatus") + f" {prefix}ctstatus " + _fmt_list(self.status,
                                                                        _STATUS_NAMES)
        return out

    def save(self) -> str:
        return self._parts("--", True)

    def print_(self, numeric: bool) -> str:
        return self._parts("", True)

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        ct, bits = state_bits(par.nf, skb, par)
        if self.state is not None and \
                bool(self.state & bits) == ("--ctstate" in self.inv):
            return False
        if ct is None:
            return self.state is not None
        if self.proto is not None and \
                (ct.orig[2] == self.proto) == ("--ctproto" in self.inv):
            return False
        for opt, (a, m) in self.addrs.items():
            tup = ct.orig if "orig" in opt else ct.reply
            addr = tup[0] if opt.endswith("src") else tup[1]
            if ((addr & m) == a) == (opt in self.inv):
                return False
        return not (self.status is not None and
                    bool(self.status & ct.status) == ("--ctstatus" in self.inv))
