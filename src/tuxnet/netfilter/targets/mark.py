"""-j MARK and -j CONNMARK (net/netfilter/xt_mark.c, xt_connmark.c, libxt_MARK.c,
libxt_CONNMARK.c). MARK: ``mark = (mark & ~mask) ^ value`` (``--set-mark v`` is
``--set-xmark v/0xffffffff``, as iptables-save prints it). CONNMARK sets the
conntrack entry's mark, saves the packet mark into it or restores from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.ctseam import nf_ct_get
from tuxnet.netfilter.xt import XT_CONTINUE, XtError, XtParam, XtTarget, parse_mark, register_target

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["ConnmarkTarget", "MarkTarget"]

_M32 = 0xFFFFFFFF


def _bitop(opt: str, arg: str) -> tuple[int, int] | None:
    """The (value, mask) pair of --set-xmark/--set-mark/--and/or/xor-mark."""
    if opt == "--set-xmark":
        return parse_mark(arg)
    if opt == "--set-mark":
        v, m = parse_mark(arg)
        return v, (v | m) & _M32
    v, _ = parse_mark(arg)
    if opt == "--and-mark":
        return 0, ~v & _M32
    if opt == "--or-mark":
        return v, v
    if opt == "--xor-mark":
        return v, 0
    return None


def _fmt_bitop(prefix: str, mark: int, mask: int) -> str:
    """libxt_MARK mark_tg_print / libxt_CONNMARK's set mode."""
    if mark == 0:
        return f" {prefix} and 0x{~mask & _M32:x}"
    if mark == mask:
        return f" {prefix} or 0x{mark:x}"
    if mask == 0:
        return f" {prefix} xor 0x{mark:x}"
    if mask == _M32:
        return f" {prefix} set 0x{mark:x}"
    return f" {prefix} xset 0x{mark:x}/0x{mask:x}"


@register_target
class MarkTarget(XtTarget):
    """mark_tg (revision 2)."""

    name = "MARK"
    revision = 2
    options: ClassVar[dict[str, int]] = {
        "--set-xmark": 1, "--set-mark": 1, "--and-mark": 1, "--or-mark": 1, "--xor-mark": 1}

    def __init__(self) -> None:
        self.mark = 0
        self.mask = 0
        self._opt = ""

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        pair = _bitop(opt, arg)
        if pair is None:
            super().parse(opt, arg, invert, entry)
            return
        if self._opt:
            raise XtError(f'MARK: option "{self._opt}" cannot be used together with '
                          f'"{opt}".\n')
        self._opt = opt
        self.mark, self.mask = pair

    def final_check(self, entry: IptEntry) -> None:
        if not self._opt:
            raise XtError("MARK: One of the --set-xmark, --{and,or,xor,set}-mark options "
                          "is required")

    def save(self) -> str:
        return f" --set-xmark 0x{self.mark:x}/0x{self.mask:x}"

    def print_(self, numeric: bool) -> str:
        return _fmt_bitop("MARK", self.mark, self.mask)

    def target(self, skb: SkBuff, par: XtParam) -> int:
        skb.mark = (skb.mark & ~self.mask & _M32) ^ self.mark
        return XT_CONTINUE


_SET, _SAVE, _RESTORE = 0, 1, 2
_BITOPS = ("--set-xmark", "--set-mark", "--and-mark", "--or-mark", "--xor-mark")


@register_target
class ConnmarkTarget(XtTarget):
    """connmark_tg (revision 1) through the conntrack seam."""

    name = "CONNMARK"
    revision = 1
    options: ClassVar[dict[str, int]] = {
        "--set-xmark": 1, "--set-mark": 1, "--and-mark": 1, "--or-mark": 1, "--xor-mark": 1,
        "--save-mark": 0, "--restore-mark": 0, "--mask": 1, "--nfmask": 1, "--ctmask": 1}

    def __init__(self) -> None:
        self.mode = -1
        self.ctmark = 0
        self.ctmask = _M32
        self.nfmask = _M32

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        pair = _bitop(opt, arg) if opt in _BITOPS else None
        if pair is not None:
            self.mode = _SET
            self.ctmark, self.ctmask = pair
        elif opt == "--save-mark":
            self.mode = _SAVE
        elif opt == "--restore-mark":
            self.mode = _RESTORE
        elif opt in ("--mask", "--nfmask", "--ctmask"):
            v, _ = parse_mark(arg, "mask")
            if opt != "--ctmask":
                self.nfmask = v
            if opt != "--nfmask":
                self.ctmask = v
        else:
            super().parse(opt, arg, invert, entry)

    def final_check(self, entry: IptEntry) -> None:
        if self.mode < 0:
            raise XtError("CONNMARK target: No operation specified")

    def save(self) -> str:
        if self.mode == _SET:
            return f" --set-xmark 0x{self.ctmark:x}/0x{self.ctmask:x}"
        op = "--save-mark" if self.mode == _SAVE else "--restore-mark"
        return f" {op} --nfmask 0x{self.nfmask:x} --ctmask 0x{self.ctmask:x}"

    def print_(self, numeric: bool) -> str:
        if self.mode == _SET:
            return _fmt_bitop("CONNMARK", self.ctmark, self.ctmask)
        if self.mode == _SAVE:
            if self.nfmask == _M32 and self.ctmask == _M32:
                return " CONNMARK save"
            if self.nfmask == self.ctmask:
                return f" CONNMARK save mask 0x{self.nfmask:x}"
            return f" CONNMARK save nfmask 0x{self.nfmask:x} ctmask ~0x{self.ctmask:x}"
        if self.nfmask == _M32 and self.ctmask == _M32:
            return " CONNMARK restore"
        if self.nfmask == self.ctmask:
            return f" CONNMARK restore mask 0x{self.ctmask:x}"
        return f" CONNMARK restore ctmask 0x{self.ctmask:x} nfmask ~0x{self.nfmask:x}"

    def target(self, skb: SkBuff, par: XtParam) -> int:
        ct, _ = nf_ct_get(par.nf, skb)
        if ct is None:
            return XT_CONTINUE
        if self.mode == _SET:
            ct.mark = (ct.mark & ~self.ctmask & _M32) ^ self.ctmark
        elif self.mode == _SAVE:
            ct.mark = (ct.mark & ~self.ctmask & _M32) ^ (skb.mark & self.nfmask)
        else:
            skb.mark = (skb.mark & ~self.nfmask & _M32) ^ (ct.mark & self.ctmask)
        return XT_CONTINUE
