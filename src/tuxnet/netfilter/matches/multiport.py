"""-m multiport (net/netfilter/xt_multiport.c revision 1, libxt_multiport.c).

Up to XT_MULTI_PORTS (15) ports, a range taking two slots; ``--sports``, ``--dports``
or ``--ports`` (either). Needs ``-p tcp|udp|udplite|sctp|dccp``; non-first fragments
never match.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.xt import XtError, XtMatch, XtParam, fmt_port, parse_port, register_match

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["XT_MULTI_PORTS", "MultiportMatch"]

XT_MULTI_PORTS = 15  # include/uapi/linux/netfilter/xt_multiport.h
_PORT_PROTOS = {6: "tcp", 17: "udp", 136: "udplite", 132: "sctp", 33: "dccp"}
_SRC, _DST, _ANY = 0, 1, 2
_FLAG_NAMES = {_SRC: "sports", _DST: "dports", _ANY: "ports"}


@register_match
class MultiportMatch(XtMatch):
    """multiport_mt (revision 1)."""

    name = "multiport"
    revision = 1
    options: ClassVar[dict[str, int]] = {
        "--sports": 1, "--source-ports": 1, "--dports": 1, "--destination-ports": 1, "--ports": 1}

    def __init__(self) -> None:
        self.flags = -1
        self.ranges: list[tuple[int, int]] = []
        self.invert = False

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        kinds = {"--sports": _SRC, "--source-ports": _SRC, "--dports": _DST,
                 "--destination-ports": _DST, "--ports": _ANY}
        if opt not in kinds:
            super().parse(opt, arg, invert, entry)
        if self.flags != -1:
            raise XtError("multiport can only have one option")
        ranges: list[tuple[int, int]] = []
        slots = 0
        for part in arg.split(","):
            lo_s, colon, hi_s = part.partition(":")
            lo = parse_port(lo_s)
            hi = parse_port(hi_s) if colon else lo
            if colon and lo > hi:
                raise XtError("invalid portrange specified")
            slots += 2 if colon else 1
            ranges.append((lo, hi) if colon else (lo, -1))
        if slots > XT_MULTI_PORTS:
            raise XtError("too many ports specified")
        self.flags = kinds[opt]
        self.ranges = ranges
        self.invert = invert

    def final_check(self, entry: IptEntry) -> None:
        if self.flags == -1:
            raise XtError("multiport expects an option")
        if entry.proto not in _PORT_PROTOS or entry.invflags & 0x40:
            raise XtError("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or "
                          "`-p dccp'")

    def _list(self, numeric: bool) -> str:
        out = []
        for lo, hi in self.ranges:
            if hi < 0:
                out.append(fmt_port(lo, numeric))
            else:
                out.append(f"{fmt_port(lo, numeric)}:{fmt_port(hi, numeric)}")
        return ",".join(out)

    def save(self) -> str:
        return (" !" if self.invert else "") + f" --{_FLAG_NAMES[self.flags]} " + \
            self._list(True)

    def print_(self, numeric: bool) -> str:
        return f" multiport {_FLAG_NAMES[self.flags]} " + (" !" if self.invert else "") + \
            self._list(numeric)

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        if par.fragoff:
            return False
        data = par.data
        off = par.thoff
        if len(data) < off + 4:
            par.hotdrop = True
            return False
        sport = (data[off] << 8) | data[off + 1]
        dport = (data[off + 2] << 8) | data[off + 3]
        f = self.flags
        for lo, hi in self.ranges:
            top = lo if hi < 0 else hi
            if (f != _DST and lo <= sport <= top) or (f != _SRC and lo <= dport <= top):
                return not self.invert
        return self.invert
