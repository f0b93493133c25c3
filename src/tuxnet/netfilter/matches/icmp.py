"""-m icmp --icmp-type (net/netfilter/xt_tcpudp.c... icmp_match in ip_tables.c,
libxt_icmp.c).

``--icmp-type`` takes a name (iptables' table), ``type`` or ``type/code``; ``any`` is
type 0xFF and matches every ICMP message. Non-first fragments never match; a header
cut short is dropped.

Printing follows what iptables-nft 1.8.9 shows for the native nft expression it
makes of the match: ``icmptype 8`` / ``icmptype 3 code 4`` with -n, the name
(``icmp echo-request``) without; a negated or ``any`` match stays an xt match and
prints ``icmp !type 255`` / ``icmp !any``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.xt import XtError, XtMatch, XtParam, parse_uint, register_match
from tuxnet.netfilter.xt_names import ICMP_TYPES, icmp_type_name

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["IcmpMatch", "parse_icmp_type"]


def parse_icmp_type(text: str) -> tuple[int, int, int]:
    """(type, code_min, code_max) of an --icmp-type argument (libxt_icmp parse_icmp:
    a case-insensitive prefix of one name, else ``type[/code]``)."""
    found: tuple[str, int, int, int] | None = None
    for entry in ICMP_TYPES if text else ():
        if entry[0].lower().startswith(text.lower()):
            if found is not None:
                raise XtError(f"Ambiguous ICMP type `{text}': `{found[0]}' or `{entry[0]}'?")
            found = entry
    if found is not None:
        return found[1], found[2], found[3]
    typ, slash, code = text.partition("/")
    t = parse_uint(typ, 0, 255)
    if t is None:
        raise XtError(f"Unknown ICMP type `{text}'")
    if not slash:
        return t, 0, 0xFF
    c = parse_uint(code, 0, 255)
    if c is None:
        raise XtError(f"Invalid ICMP code `{code}'")
    return t, c, c


@register_match
class IcmpMatch(XtMatch):
    """icmp_match (ip_tables.c)."""

    name = "icmp"
    options: ClassVar[dict[str, int]] = {"--icmp-type": 1}

    def __init__(self) -> None:
        self.type = 0xFF
        self.code = (0, 0xFF)
        self.invert = False
        self._set = False

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt != "--icmp-type":
            super().parse(opt, arg, invert, entry)
        t, lo, hi = parse_icmp_type(arg)
        self.type, self.code, self.invert, self._set = t, (lo, hi), invert, True

    def save(self) -> str:
        if not self._set:
            return ""
        s = " !" if self.invert else ""
        if self.type == 0xFF:
            return s + " --icmp-type any"
        lo, hi = self.code
        if lo == 0 and hi == 0xFF:
            return s + f" --icmp-type {self.type}"
        return s + f" --icmp-type {self.type}/{lo}"

    def print_(self, numeric: bool) -> str:
        lo, hi = self.code
        if self.invert or self.type == 0xFF:
            name = None if numeric else icmp_type_name(self.type, lo, hi)
            inv = "!" if self.invert else ""
            if name is not None:
                return f" icmp {inv}{name}"
            s = f" icmp {inv}type {self.type}"
            if lo == hi:
                s += f" code {lo}"
            elif lo != 0 or hi != 0xFF:
                s += f" codes {lo}-{hi}"
            return s
        if not numeric:
            name = icmp_type_name(self.type, lo, hi)
            if name is not None:
                return f" icmp {name}"
        s = f" icmptype {self.type}"
        if lo == hi:
            s += f" code {lo}"
        return s

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        if par.fragoff:
            return False
        data = par.data
        off = par.thoff
        if len(data) < off + 2:
            par.hotdrop = True  # "Dropping evil ICMP tinygram."
            return False
        t = data[off]
        c = data[off + 1]
        lo, hi = self.code
        ok = self.type == 0xFF or (t == self.type and lo <= c <= hi)
        return ok != self.invert
