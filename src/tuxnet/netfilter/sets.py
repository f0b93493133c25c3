"""nftables-style named sets and verdict maps (net/netfilter/nft_set_hash.c,
nft_set_rbtree.c, nft_lookup.c, nft_immediate.c's vmap): one rule looks a packet key
up in a set instead of walking one rule per element.

Keys are ``ipv4_addr`` (``ip saddr`` / ``ip daddr``), ``inet_service`` (``th sport`` /
``th dport``), ``inet_proto`` (``meta l4proto``) or a concatenation of them
(``ip daddr . th dport``). A plain set is a hash (constant time); a set with
``flags interval`` keeps sorted disjoint ranges (an rbtree in the kernel: O(log n)
here with bisect). A verdict map gives each key a verdict (``vmap``).

:class:`NftLookup` is the lookup expression as a match (``ip saddr @blocked``) and
:class:`NftVmap` the vmap as a target; both go into an
:class:`~tuxnet.netfilter.rule.IptEntry` like any extension.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from tuxnet.netfilter.hooks import NF_ACCEPT, NF_DROP
from tuxnet.netfilter.xt import (
    XT_CONTINUE,
    XtMatch,
    XtParam,
    XtTarget,
    nf_charge_set_lookup,
)

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff

__all__ = ["NftLookup", "NftSet", "NftSets", "NftVmap", "packet_key"]

KEY_FIELDS = ("ip saddr", "ip daddr", "th sport", "th dport", "meta l4proto")
Key = tuple[int, ...]


def packet_key(fields: tuple[str, ...], par: XtParam) -> Key | None:
    """The key of a packet for ``fields`` (None when a port is asked of a fragment or
    of a protocol without ports)."""
    data = par.data
    out = []
    for f in fields:
        if f == "ip saddr":
            out.append(int.from_bytes(data[12:16], "big"))
        elif f == "ip daddr":
            out.append(int.from_bytes(data[16:20], "big"))
        elif f == "meta l4proto":
            out.append(par.proto)
        else:
            off = par.thoff + (0 if f == "th sport" else 2)
            if par.fragoff or par.proto not in (6, 17, 132, 33, 136) or len(data) < off + 2:
                return None
            out.append((data[off] << 8) | data[off + 1])
    return tuple(out)


class NftSet:
    """A named set (or map, when ``verdicts`` are given per element)."""

    def __init__(self, name: str, fields: tuple[str, ...], interval: bool = False) -> None:
        for f in fields:
            if f not in KEY_FIELDS:
                raise ValueError(f"unknown set key {f!r}")
        if interval and len(fields) != 1:
            raise ValueError("interval sets take one key field here")
        self.name = name
        self.fields = fields
        self.interval = interval
        self.elems: dict[Key, str | None] = {}
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._verdicts: list[str | None] = []

    def add(self, key: Key | tuple[int, int], verdict: str | None = None) -> None:
        """Add an element (an interval set takes ``(first, last)``)."""
        if not self.interval:
            self.elems[tuple(key)] = verdict
            return
        lo, hi = key
        i = bisect.bisect_right(self._starts, lo)
        if (i and self._ends[i - 1] >= lo) or (i < len(self._starts) and
                                               self._starts[i] <= hi):
            raise ValueError("interval overlaps an existing element")
        self._starts.insert(i, lo)
        self._ends.insert(i, hi)
        self._verdicts.insert(i, verdict)

    def get(self, key: Key) -> tuple[bool, str | None]:
        """(found, verdict): a hash probe, or a binary search of the intervals."""
        if not self.interval:
            if key in self.elems:
                return True, self.elems[key]
            return False, None
        v = key[0]
        i = bisect.bisect_right(self._starts, v) - 1
        if i >= 0 and v <= self._ends[i]:
            return True, self._verdicts[i]
        return False, None

    def __len__(self) -> int:
        return len(self._starts) if self.interval else len(self.elems)


class NftSets:
    """The named sets of one host."""

    def __init__(self) -> None:
        self.sets: dict[str, NftSet] = {}

    def add_set(self, s: NftSet) -> NftSet:
        if s.name in self.sets:
            raise ValueError(f"set {s.name} exists")
        self.sets[s.name] = s
        return s


class NftLookup(XtMatch):
    """nft_lookup: ``<key> [!=] @set``."""

    name = "nft-lookup"

    def __init__(self, nftset: NftSet, invert: bool = False) -> None:
        self.set = nftset
        self.invert = invert

    def save(self) -> str:
        return f" {' . '.join(self.set.fields)} {'!= ' if self.invert else ''}@{self.set.name}"

    def print_(self, numeric: bool) -> str:
        return self.save()

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        key = packet_key(self.set.fields, par)
        found = key is not None and self.set.get(key)[0]
        nf_charge_set_lookup(par)
        return found != self.invert


class NftVmap(XtTarget):
    """``<key> vmap @map``: the element's verdict (accept / drop / continue)."""

    name = "nft-vmap"

    def __init__(self, nftset: NftSet) -> None:
        self.set = nftset

    def save(self) -> str:
        return f" {' . '.join(self.set.fields)} vmap @{self.set.name}"

    def target(self, skb: SkBuff, par: XtParam) -> int:
        key = packet_key(self.set.fields, par)
        if key is None:
            return XT_CONTINUE
        found, verdict = self.set.get(key)
        if not found or verdict in (None, "continue"):
            return XT_CONTINUE
        return NF_DROP if verdict == "drop" else NF_ACCEPT
