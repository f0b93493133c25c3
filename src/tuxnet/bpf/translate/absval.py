"""What the translator knows about a register at one point of the generated code.

An :class:`AV` is a sound over-approximation of the register's unsigned 64-bit value:
an upper bound ``ub`` (so that ``& 0xFFFF_FFFF_FFFF_FFFF`` can be left out where a
sum or product cannot pass 2**64), the exact value when known (``const``), and, for
pointers into the current call frame's stack, the distance ``fp`` from r10 — which
turns ``[rX + off]`` into an index of the frame's bytearray known at translation time.

:class:`EmitState` adds what holds along one path of generated code: which registers
have their region buffer and offset cached in the locals ``bN``/``oN``, and how many
executed instructions have not yet been added to the instruction counter ``n``.
"""

from __future__ import annotations

from typing import NamedTuple

from tuxnet.bpf.isa import MAX_BPF_REG

M64 = 0xFFFF_FFFF_FFFF_FFFF
M32 = 0xFFFF_FFFF
FP_SPAN = 1 << 20  # fp offsets tracked only this close to r10 (no wraparound possible)


class AV(NamedTuple):
    ub: int = M64
    const: int | None = None
    fp: int | None = None


TOP = AV()


def const(v: int) -> AV:
    v &= M64
    return AV(v, v, None)


def bound(v: int) -> AV:
    """Any value in [0, v] (v is clamped to 64 bits)."""
    return AV(min(v, M64))


def join(a: AV, b: AV) -> AV:
    if a == b:
        return a
    return AV(max(a.ub, b.ub), a.const if a.const == b.const else None,
              a.fp if a.fp == b.fp else None)


def widen(old: AV, new: AV) -> AV:
    """Join that jumps to the top when the bound still grows (loop headers), so that
    the fixed point is reached in a few rounds."""
    j = join(old, new)
    return TOP if j.ub != old.ub else j


def pow2_ub(v: int) -> int:
    """Smallest all-ones value >= v (the bound of an OR or XOR)."""
    return (1 << v.bit_length()) - 1


def forget(v: AV, level: int) -> AV:
    """``v`` with less knowledge: level 2 keeps all, 1 drops exact values, 0 all. The
    lower levels exist to test the generic code paths against the interpreter."""
    if level >= 2:
        return v
    return AV(v.ub, None, v.fp) if level == 1 else TOP


# A register's cached region lookup: (buffer local, offset local, constant c) such that
# the register's value is the region's base address + offset + c. Accesses use it only
# with 0 <= c + off < OFF_SPAN, so every index is non-negative.
Cache = tuple[str, str, int]


class EmitState:
    """Registers' AVs, cached region lookups and the pending instruction count."""

    __slots__ = ("av", "cache", "dyn", "level", "pend", "rel")

    def __init__(self, av: list[AV], level: int = 2) -> None:
        assert len(av) == MAX_BPF_REG
        self.level = level
        self.av = [forget(v, level) for v in av]
        self.cache: dict[int, Cache] = {}
        self.rel: dict[int, tuple[int, int]] = {}  # r -> (s, c): r == s + c (no wrap)
        self.pend = 0       # executed insns not yet in `n` (may be negative: checked mode)
        self.dyn = False    # `n` may be non-zero here

    def copy(self) -> EmitState:
        s = EmitState(self.av[:], self.level)
        s.cache = dict(self.cache)
        s.rel = dict(self.rel)
        s.pend = self.pend
        s.dyn = self.dyn
        return s

    def set(self, r: int, v: AV) -> AV:
        v = self.av[r] = forget(v, self.level)
        self.cache.pop(r, None)
        self.rel.pop(r, None)
        for k in [k for k, (s, _) in self.rel.items() if s == r]:
            del self.rel[k]
        return v

    def bind(self, r: int, entry: Cache, assigns: bool) -> None:
        """Cache ``entry`` for register ``r``. When the generated code (re)assigns the
        entry's locals (``assigns``), entries of other registers naming them go."""
        if assigns:
            names = entry[:2]
            for k, e in list(self.cache.items()):
                if k != r and (e[0] in names or e[1] in names):
                    del self.cache[k]
        self.cache[r] = entry

    def refine(self, r: int, v: AV) -> None:
        """New knowledge of an unchanged value (the cached lookup stays valid)."""
        self.av[r] = forget(v, self.level)

    def merge(self, other: EmitState) -> None:
        """Join ``other`` into this state (counts must already agree)."""
        assert self.pend == other.pend
        self.av = [join(a, b) for a, b in zip(self.av, other.av, strict=True)]
        self.cache = {k: v for k, v in self.cache.items() if other.cache.get(k) == v}
        self.rel = {k: v for k, v in self.rel.items() if other.rel.get(k) == v}
        self.dyn = self.dyn or other.dyn
