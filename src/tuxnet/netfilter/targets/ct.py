"""-j CT and -j NOTRACK (net/netfilter/xt_CT.c, libxt_CT.c), raw table only.

``--notrack`` (and NOTRACK) attach the untracked state to a packet that has no
conntrack entry yet (IP_CT_UNTRACKED): ``--ctstate UNTRACKED`` then matches and
conntrack and NAT leave it alone. ``--zone`` and the other template options are
kept for printing; templates are applied when conntrack lands (#7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.ctseam import IP_CT_UNTRACKED
from tuxnet.netfilter.xt import XT_CONTINUE, XtError, XtParam, XtTarget, parse_uint, register_target

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["CtTarget", "NotrackTarget"]


def _notrack(skb: SkBuff) -> int:
    if skb.nfct is None:
        skb.nfctinfo = IP_CT_UNTRACKED
    return XT_CONTINUE


@register_target
class CtTarget(XtTarget):
    """xt_ct_target_v0: --notrack, --zone."""

    name = "CT"
    options: ClassVar[dict[str, int]] = {"--notrack": 0, "--zone": 1}

    def __init__(self) -> None:
        self.notrack = False
        self.zone: int | None = None

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt == "--notrack":
            self.notrack = True
        elif opt == "--zone":
            v = parse_uint(arg, 0, 0xFFFF)
            if v is None:
                raise XtError(f'CT: Bad value for "--zone" option: "{arg}"')
            self.zone = v
        else:
            super().parse(opt, arg, invert, entry)

    def checkentry(self, table: str, hooks: int, entry: IptEntry) -> bool:
        return table == "raw"

    def save(self) -> str:
        s = " --notrack" if self.notrack else ""
        if self.zone:
            s += f" --zone {self.zone}"
        return s

    def print_(self, numeric: bool) -> str:
        s = " CT" + (" notrack" if self.notrack else "")
        if self.zone:
            s += f" zone {self.zone}"
        return s

    def target(self, skb: SkBuff, par: XtParam) -> int:
        return _notrack(skb) if self.notrack else XT_CONTINUE


@register_target
class NotrackTarget(XtTarget):
    """NOTRACK: CT --notrack under its old name (``iptables -L`` shows target CT)."""

    name = "NOTRACK"
    list_name = "CT"

    def checkentry(self, table: str, hooks: int, entry: IptEntry) -> bool:
        return table == "raw"

    def print_(self, numeric: bool) -> str:
        return " NOTRACK"

    def target(self, skb: SkBuff, par: XtParam) -> int:
        return _notrack(skb)
