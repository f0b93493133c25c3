"""Small matches: -m comment (xt_comment.c), -m length (xt_length.c), -m iprange
(xt_iprange.c), with their libxt printers."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.xt import XtError, XtMatch, XtParam, parse_uint, register_match, save_string
from tuxnet.wire.addr import int_to_ip, ip_int

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["CommentMatch", "IprangeMatch", "LengthMatch"]

XT_MAX_COMMENT_LEN = 256
_U16 = struct.Struct("!H")


@register_match
class CommentMatch(XtMatch):
    """comment_mt: always true; carries text for humans."""

    name = "comment"
    options: ClassVar[dict[str, int]] = {"--comment": 1}

    def __init__(self) -> None:
        self.comment = ""

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt != "--comment":
            super().parse(opt, arg, invert, entry)
        if len(arg) >= XT_MAX_COMMENT_LEN:
            raise XtError(f"comment: Argument too long (max {XT_MAX_COMMENT_LEN - 1})")
        self.comment = arg

    def save(self) -> str:
        return " --comment" + save_string(self.comment)

    def print_(self, numeric: bool) -> str:
        return f" /* {self.comment} */"

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        return True


@register_match
class LengthMatch(XtMatch):
    """length_mt: the IPv4 total length within [min, max]."""

    name = "length"
    options: ClassVar[dict[str, int]] = {"--length": 1}

    def __init__(self) -> None:
        self.min = 0
        self.max = 0xFFFF
        self.invert = False

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt != "--length":
            super().parse(opt, arg, invert, entry)
        lo_s, colon, hi_s = arg.partition(":")
        lo = parse_uint(lo_s, 0, 0xFFFF) if lo_s else 0
        hi = (parse_uint(hi_s, 0, 0xFFFF) if hi_s else 0xFFFF) if colon else lo
        if lo is None or hi is None or lo > hi:
            raise XtError(f"length: Bad value for \"--length\" option: \"{arg}\"")
        self.min, self.max, self.invert = lo, hi, invert

    def _range(self) -> str:
        return str(self.min) if self.min == self.max else f"{self.min}:{self.max}"

    def save(self) -> str:
        return (" !" if self.invert else "") + " --length " + self._range()

    def print_(self, numeric: bool) -> str:
        return " length " + ("!" if self.invert else "") + self._range()

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        tot: int = _U16.unpack_from(par.data, 2)[0]
        return (self.min <= tot <= self.max) != self.invert


def _parse_range(arg: str) -> tuple[int, int]:
    lo_s, dash, hi_s = arg.partition("-")
    try:
        lo = ip_int(lo_s)
        hi = ip_int(hi_s) if dash else lo
    except ValueError:
        raise XtError(f"iprange: Bad value for option \"{arg}\"") from None
    return lo, hi


@register_match
class IprangeMatch(XtMatch):
    """iprange_mt4 (revision 1)."""

    name = "iprange"
    revision = 1
    options: ClassVar[dict[str, int]] = {"--src-range": 1, "--dst-range": 1}

    def __init__(self) -> None:
        self.src: tuple[int, int] | None = None
        self.dst: tuple[int, int] | None = None
        self.inv_src = False
        self.inv_dst = False

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt == "--src-range":
            self.src, self.inv_src = _parse_range(arg), invert
        elif opt == "--dst-range":
            self.dst, self.inv_dst = _parse_range(arg), invert
        else:
            super().parse(opt, arg, invert, entry)

    def save(self) -> str:
        s = ""
        if self.src is not None:
            s += (" !" if self.inv_src else "") + \
                f" --src-range {int_to_ip(self.src[0])}-{int_to_ip(self.src[1])}"
        if self.dst is not None:
            s += (" !" if self.inv_dst else "") + \
                f" --dst-range {int_to_ip(self.dst[0])}-{int_to_ip(self.dst[1])}"
        return s

    def print_(self, numeric: bool) -> str:
        s = ""
        if self.src is not None:
            s += " source IP range " + ("! " if self.inv_src else "") + \
                f"{int_to_ip(self.src[0])}-{int_to_ip(self.src[1])}"
        if self.dst is not None:
            s += " destination IP range " + ("! " if self.inv_dst else "") + \
                f"{int_to_ip(self.dst[0])}-{int_to_ip(self.dst[1])}"
        return s

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        data = par.data
        if self.src is not None:
            a = int.from_bytes(data[12:16], "big")
            if (self.src[0] <= a <= self.src[1]) == self.inv_src:
                return False
        if self.dst is not None:
            a = int.from_bytes(data[16:20], "big")
            if (self.dst[0] <= a <= self.dst[1]) == self.inv_dst:
                return False
        return True
