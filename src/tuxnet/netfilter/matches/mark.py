"""-m mark and -m connmark (net/netfilter/xt_mark.c, xt_connmark.c, libxt_mark.c,
libxt_connmark.c): ``(mark & mask) == value``, flipped by ``!``; connmark reads the
conntrack entry's mark (no entry: no match)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.ctseam import nf_ct_get
from tuxnet.netfilter.xt import XtMatch, XtParam, parse_mark, register_match

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["ConnmarkMatch", "MarkMatch", "fmt_mark"]


def fmt_mark(mark: int, mask: int) -> str:
    """libxt_mark print_mark: ``0xV`` or ``0xV/0xM``."""
    return f" 0x{mark:x}" if mask == 0xFFFFFFFF else f" 0x{mark:x}/0x{mask:x}"


@register_match
class MarkMatch(XtMatch):
    """mark_mt."""

    name = "mark"
    revision = 1
    options: ClassVar[dict[str, int]] = {"--mark": 1}

    def __init__(self) -> None:
        self.mark = 0
        self.mask = 0xFFFFFFFF
        self.invert = False

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt != "--mark":
            super().parse(opt, arg, invert, entry)
        self.mark, self.mask = parse_mark(arg)
        self.invert = invert

    def save(self) -> str:
        return (" !" if self.invert else "") + " --mark" + fmt_mark(self.mark, self.mask)

    def print_(self, numeric: bool) -> str:
        return " mark match" + (" !" if self.invert else "") + fmt_mark(self.mark, self.mask)

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        return ((skb.mark & self.mask) == self.mark) != self.invert


@register_match
class ConnmarkMatch(MarkMatch):
    """connmark_mt (conntrack seam: the entry's ``mark``)."""

    name = "connmark"

    def print_(self, numeric: bool) -> str:
        return " connmark match " + ("!" if self.invert else "") + \
            fmt_mark(self.mark, self.mask)

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        ct, _ = nf_ct_get(par.nf, skb)
        if ct is None:
            return False
        return bool(((ct.mark & self.mask) == self.mark) != self.invert)
