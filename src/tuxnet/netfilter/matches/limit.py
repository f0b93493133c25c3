"""-m limit (net/netfilter/xt_limit.c, libxt_limit.c): a token bucket in "credits".

``--limit n/unit`` is stored as ``avg`` = XT_LIMIT_SCALE (10000) * seconds-per-unit / n
(libxt_limit parse_rate; 0 is "Rate too fast"); ``--limit-burst`` defaults to 5.
The kernel converts with user2credits at HZ=1000 (tuxnet's CONFIG_HZ):
CREDITS_PER_JIFFY is the largest power of two <= 0xFFFFFFFF / (HZ*86400) = 32;
``cost = user2credits(avg)``, ``credit_cap = user2credits(avg * burst)``; the bucket
starts full, gains CREDITS_PER_JIFFY per elapsed jiffy (capped) and a packet passes
when credit >= cost, paying cost. One bucket per rule. Time is the host loop's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.xt import XtError, XtMatch, XtParam, parse_uint, register_match

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["CREDITS_PER_JIFFY", "HZ", "XT_LIMIT_SCALE", "LimitMatch", "user2credits"]

HZ = 1000
NSEC_PER_JIFFY = 1_000_000_000 // HZ
XT_LIMIT_SCALE = 10000  # include/uapi/linux/netfilter/xt_limit.h
XT_LIMIT_BURST = 5  # libxt_limit.c default --limit-burst
XT_LIMIT_AVG = XT_LIMIT_SCALE * 3600 // 3  # default --limit 3/hour
_MAX_CPJ = 0xFFFFFFFF // (HZ * 60 * 60 * 24)
CREDITS_PER_JIFFY = 1 << (_MAX_CPJ.bit_length() - 1)  # xt_limit.c _POW2_BELOW32(MAX_CPJ)
# libxt_limit.c rates[] for printing, largest unit first
_RATES = (("day", XT_LIMIT_SCALE * 86400), ("hour", XT_LIMIT_SCALE * 3600),
          ("min", XT_LIMIT_SCALE * 60), ("sec", XT_LIMIT_SCALE))


def user2credits(user: int) -> int:
    """xt_limit.c user2credits: divide first when the product would overflow u32."""
    if user > 0xFFFFFFFF // (HZ * CREDITS_PER_JIFFY):
        return (user // XT_LIMIT_SCALE) * HZ * CREDITS_PER_JIFFY
    return (user * HZ * CREDITS_PER_JIFFY) // XT_LIMIT_SCALE


def parse_rate(text: str) -> int:
    """libxt_limit parse_rate: ``n[/second|minute|hour|day]`` (unit prefixes allowed)."""
    num, slash, unit = text.partition("/")
    mult = 1
    if slash:
        u = unit.lower()
        for name, m in (("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400)):
            if u and name.startswith(u):
                mult = m
                break
        else:
            raise XtError(f'bad rate "{text}"\'')
    digits = ""
    for c in num:
        if not c.isdigit():
            break
        digits += c
    r = int(digits) if digits else 0
    if not r:
        raise XtError(f'bad rate "{text}"\'')
    avg = XT_LIMIT_SCALE * mult // r
    if avg == 0:
        raise XtError(f'Rate too fast "{text}"')
    return avg


def format_rate(avg: int) -> str:
    """libxt_limit print_rate."""
    i = 1
    while i < len(_RATES):
        mult = _RATES[i][1]
        if avg > mult or mult // avg < mult % avg:
            break
        i += 1
    name, mult = _RATES[i - 1]
    return f"{mult // avg}/{name}"


@register_match
class LimitMatch(XtMatch):
    """limit_mt: one shared bucket per rule."""

    name = "limit"
    options: ClassVar[dict[str, int]] = {"--limit": 1, "--limit-burst": 1}

    def __init__(self) -> None:
        self.avg = XT_LIMIT_AVG
        self.burst = XT_LIMIT_BURST
        self.credit = -1  # the bucket starts full at the first packet (see checkentry)
        self.prev = 0
        self.cost = 0
        self.credit_cap = 0

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if invert:
            raise XtError("limit does not support invert")
        if opt == "--limit":
            self.avg = parse_rate(arg)
        elif opt == "--limit-burst":
            v = parse_uint(arg, 0, 10000)
            if v is None:
                raise XtError(f'bad --limit-burst `{arg}\'')
            # iptables-nft stores "burst 0" as nft's default and shows burst 5
            self.burst = v or XT_LIMIT_BURST
        else:
            super().parse(opt, arg, invert, entry)

    def checkentry(self, table: str, hooks: int, entry: IptEntry) -> bool:
        # limit_mt_check: "Overflow, try lower" when avg*burst (u32) loses credits
        return user2credits((self.avg * self.burst) & 0xFFFFFFFF) >= user2credits(self.avg)

    def save(self) -> str:
        s = f" --limit {format_rate(self.avg)}"
        if self.burst != XT_LIMIT_BURST:
            s += f" --limit-burst {self.burst}"
        return s

    def print_(self, numeric: bool) -> str:
        return f" limit: avg {format_rate(self.avg)} burst {self.burst}"

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        now = par.host.loop.now_ns() // NSEC_PER_JIFFY
        if self.credit < 0:
            self.cost = user2credits(self.avg)
            self.credit_cap = user2credits((self.avg * self.burst) & 0xFFFFFFFF)
            self.credit = self.credit_cap
            self.prev = now
        credit = self.credit + (now - self.prev) * CREDITS_PER_JIFFY
        self.prev = now
        if credit > self.credit_cap:
            credit = self.credit_cap
        if credit >= self.cost:
            self.credit = credit - self.cost
            return True
        self.credit = credit
        return False
