"""One iptables rule: struct ipt_entry (include/uapi/linux/netfilter_ipv4/ip_tables.h)
with its matches, target and counters, and ip_packet_match (net/ipv4/netfilter/
ip_tables.c) for the fixed IPv4 part.

The standard target is kept as ``verdict``: "ACCEPT", "DROP", "RETURN", "QUEUE" or
the name of a user chain (a jump, or a goto when ``flags & IPT_F_GOTO``); an
extension target sits in ``target`` and ``verdict`` is None. A rule with neither has
no target (counts packets, continues).
"""

from __future__ import annotations

from typing import Any

from tuxnet.netfilter.xt import XtMatch, XtTarget

__all__ = [
    "IPT_F_FRAG",
    "IPT_F_GOTO",
    "IPT_INV_DSTIP",
    "IPT_INV_FRAG",
    "IPT_INV_PROTO",
    "IPT_INV_SRCIP",
    "IPT_INV_VIA_IN",
    "IPT_INV_VIA_OUT",
    "STANDARD_VERDICTS",
    "IptEntry",
    "dev_name",
]

# include/uapi/linux/netfilter_ipv4/ip_tables.h
IPT_F_FRAG = 0x01
IPT_F_GOTO = 0x02
IPT_INV_VIA_IN = 0x01
IPT_INV_VIA_OUT = 0x02
IPT_INV_TOS = 0x04
IPT_INV_SRCIP = 0x08
IPT_INV_DSTIP = 0x10
IPT_INV_FRAG = 0x20
IPT_INV_PROTO = 0x40
STANDARD_VERDICTS = ("ACCEPT", "DROP", "RETURN", "QUEUE")


def dev_name(dev: Any) -> str:
    """The interface name ip_packet_match compares ("" when there is no device)."""
    return "" if dev is None else str(getattr(dev, "name", dev))


class IptEntry:
    """struct ipt_entry: the IPv4 header part, matches, target and counters."""

    __slots__ = ("bcnt", "dmsk", "dst", "flags", "iniface", "inprefix", "invflags",
                 "matches", "outiface", "outprefix", "pcnt", "proto", "smsk", "src",
                 "target", "verdict")

    def __init__(self) -> None:
        self.src = 0
        self.smsk = 0
        self.dst = 0
        self.dmsk = 0
        self.iniface = ""
        self.inprefix = False  # "eth+": compare the name as a prefix
        self.outiface = ""
        self.outprefix = False
        self.proto = 0
        self.flags = 0
        self.invflags = 0
        self.matches: list[XtMatch] = []
        self.target: XtTarget | None = None
        self.verdict: str | None = None
        self.pcnt = 0
        self.bcnt = 0

    def copy(self) -> IptEntry:
        """A copy sharing the (immutable once parsed) match and target objects."""
        e = IptEntry()
        for name in IptEntry.__slots__:
            setattr(e, name, getattr(self, name))
        e.matches = list(self.matches)
        return e

    @property
    def is_goto(self) -> bool:
        return bool(self.flags & IPT_F_GOTO)

    @property
    def target_name(self) -> str:
        """What ``iptables -L`` shows in the target column ("" for no target)."""
        if self.target is not None:
            return self.target.list_name or self.target.name
        return self.verdict or ""

    def iface_match(self, inname: str, outname: str) -> bool:
        """The interface part of ip_packet_match (``+`` = prefix; ``!`` inverts)."""
        if self.iniface or self.inprefix:
            ok = inname.startswith(self.iniface) if self.inprefix else inname == self.iniface
            if ok == bool(self.invflags & IPT_INV_VIA_IN):
                return False
        if self.outiface or self.outprefix:
            ok = (outname.startswith(self.outiface) if self.outprefix
                  else outname == self.outiface)
            if ok == bool(self.invflags & IPT_INV_VIA_OUT):
                return False
        return True

    def ip_match(self, saddr: int, daddr: int, proto: int, fragoff: int, inname: str,
                 outname: str) -> bool:
        """ip_packet_match (ip_tables.c): addresses under their masks, interfaces,
        protocol (0 = any) and -f (a non-first fragment), each flipped by its ``!``."""
        inv = self.invflags
        if ((saddr & self.smsk) != self.src) != bool(inv & IPT_INV_SRCIP):
            return False
        if ((daddr & self.dmsk) != self.dst) != bool(inv & IPT_INV_DSTIP):
            return False
        if (self.iniface or self.inprefix or self.outiface or self.outprefix) and \
                not self.iface_match(inname, outname):
            return False
        if self.proto and (proto != self.proto) != bool(inv & IPT_INV_PROTO):
            return False
        return not (self.flags & IPT_F_FRAG and (not fragoff) != bool(inv & IPT_INV_FRAG))

    def spec_key(self) -> tuple[object, ...]:
        """What -D/-C compare (the rule without counters)."""
        return (self.src, self.smsk, self.dst, self.dmsk, self.iniface, self.inprefix,
                self.outiface, self.outprefix, self.proto, self.flags, self.invflags,
                tuple((m.name, m.save()) for m in self.matches),
                (self.target.name, self.target.save()) if self.target else None,
                self.verdict)
