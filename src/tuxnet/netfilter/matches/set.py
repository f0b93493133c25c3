"""-m set --match-set (net/netfilter/xt_set.c revision 4 as iptables 1.8 uses it,
libxt_set.c): look the packet up in an ipset (tuxnet.netfilter.ipset), one direction
(src / dst) per set dimension. ``--return-nomatch`` and counters are kept for
printing; a lookup is one hash probe per candidate prefix, not a rule walk."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.xt import (
    XtError,
    XtMatch,
    XtParam,
    nf_charge_set_lookup,
    register_match,
)

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.netfilter.tables import NfNet
    from tuxnet.skb import SkBuff

__all__ = ["IPSET_DIM_MAX", "SetMatch"]

IPSET_DIM_MAX = 6  # include/uapi/linux/netfilter/ipset/ip_set.h


@register_match
class SetMatch(XtMatch):
    """set_match_v4."""

    name = "set"
    revision = 4
    options: ClassVar[dict[str, int]] = {
        "--match-set": 2, "--set": 2, "--return-nomatch": 0, "--update-counters": 0,
        "--update-subcounters": 0}

    def __init__(self) -> None:
        self.setname = ""
        self.dirs: tuple[str, ...] = ()
        self.invert = False
        self.return_nomatch = False
        self.no_update_counters = False
        self.no_update_subcounters = False

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt in ("--match-set", "--set"):
            if self.setname:
                raise XtError("--match-set can be specified only once")
            name, _, dirs = arg.partition(" ")
            parts = tuple(dirs.split(","))
            if len(parts) > IPSET_DIM_MAX or any(p not in ("src", "dst") for p in parts):
                raise XtError("You must specify (the comma separated list of) 'src' or "
                              "'dst'.")
            self.setname, self.dirs, self.invert = name, parts, invert
        elif opt == "--return-nomatch":
            self.return_nomatch = True
        elif opt == "--update-counters":
            self.no_update_counters = invert
        elif opt == "--update-subcounters":
            self.no_update_subcounters = invert
        else:
            super().parse(opt, arg, invert, entry)

    def final_check(self, entry: IptEntry) -> None:
        if not self.setname:
            raise XtError("You must specify `--match-set' with proper arguments")

    def bind(self, nf: NfNet) -> None:
        """get_set_byname at rule load: the set must exist."""
        if nf.ipsets.get(self.setname) is None:
            raise XtError(f"Set {self.setname} doesn't exist.\n")

    def _opts(self, dash: str) -> str:
        s = ""
        if self.return_nomatch:
            s += f" {dash}return-nomatch"
        if self.no_update_counters:
            s += f" ! {dash}update-counters"
        if self.no_update_subcounters:
            s += f" ! {dash}update-subcounters"
        return s

    def save(self) -> str:
        return (" !" if self.invert else "") + \
            f" --match-set {self.setname} {','.join(self.dirs)}" + self._opts("--")

    def print_(self, numeric: bool) -> str:
        return (" !" if self.invert else "") + \
            f" match-set {self.setname} {','.join(self.dirs)}" + self._opts("")

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        s = par.nf.ipsets.get(self.setname)
        if s is None:
            return self.invert
        nf_charge_set_lookup(par)
        return s.kadt_test(par, self.dirs) != self.invert
