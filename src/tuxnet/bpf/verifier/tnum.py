"""Tristate numbers: what the verifier knows about the bits of a 64-bit value.

A :class:`Tnum` ``(value, mask)`` stands for every integer ``x`` with
``x & ~mask == value``: a bit set in ``mask`` is unknown, otherwise it equals the bit of
``value`` (``value & mask == 0`` always). The arithmetic follows the tnum abstract
domain of the Linux verifier (kernel/bpf/tnum.c; Vishwanathan et al., "Sound, Precise,
and Fast Abstract Interpretation with Tristate Numbers", CGO 2022); each operation
returns a tnum that contains every possible concrete result.
"""

from __future__ import annotations

from typing import NamedTuple

M64 = 0xFFFF_FFFF_FFFF_FFFF
M32 = 0xFFFF_FFFF


class Tnum(NamedTuple):
    value: int
    mask: int

    def is_const(self) -> bool:
        return self.mask == 0

    def contains(self, other: Tnum) -> bool:
        """True if every value of ``other`` is a value of ``self`` (tnum_in)."""
        if other.mask & ~self.mask & M64:
            return False
        return other.value & ~self.mask & M64 == self.value

    def umin(self) -> int:
        return self.value

    def umax(self) -> int:
        return self.value | self.mask

    def text(self) -> str:
        """The kernel's tnum_strn format: ``(0x0; 0xff)``."""
        return f"(0x{self.value:x}; 0x{self.mask:x})"


UNKNOWN = Tnum(0, M64)
ZERO = Tnum(0, 0)


def const(v: int) -> Tnum:
    return Tnum(v & M64, 0)


def trange(lo: int, hi: int) -> Tnum:
    """The smallest tnum holding every value in the unsigned range [lo, hi]."""
    chi = lo ^ hi
    if chi == 0:
        return Tnum(lo, 0)
    bits = chi.bit_length()
    if bits > 63:
        return UNKNOWN
    delta = (1 << bits) - 1
    return Tnum(lo & ~delta & M64, delta)


def add(a: Tnum, b: Tnum) -> Tnum:
    sm = (a.mask + b.mask) & M64
    sv = (a.value + b.value) & M64
    sigma = (sm + sv) & M64
    chi = sigma ^ sv
    mu = chi | a.mask | b.mask
    return Tnum(sv & ~mu & M64, mu)


def sub(a: Tnum, b: Tnum) -> Tnum:
    dv = (a.value - b.value) & M64
    alpha = (dv + a.mask) & M64
    beta = (dv - b.mask) & M64
    chi = alpha ^ beta
    mu = chi | a.mask | b.mask
    return Tnum(dv & ~mu & M64, mu)


def neg(a: Tnum) -> Tnum:
    return sub(ZERO, a)


def and_(a: Tnum, b: Tnum) -> Tnum:
    alpha = a.value | a.mask
    beta = b.value | b.mask
    v = a.value & b.value
    return Tnum(v, alpha & beta & ~v & M64)


def or_(a: Tnum, b: Tnum) -> Tnum:
    v = a.value | b.value
    mu = a.mask | b.mask
    return Tnum(v, mu & ~v & M64)


def xor(a: Tnum, b: Tnum) -> Tnum:
    v = a.value ^ b.value
    mu = a.mask | b.mask
    return Tnum(v & ~mu & M64, mu)


def mul(a: Tnum, b: Tnum) -> Tnum:
    """Shift-and-add over the bits of ``a`` (sound; the paper's tnum_mul)."""
    acc_v = (a.value * b.value) & M64
    acc_m = ZERO
    x, y = a, b
    while x.value or x.mask:
        if x.value & 1:
            acc_m = add(acc_m, Tnum(0, y.mask))
        elif x.mask & 1:
            acc_m = add(acc_m, Tnum(0, y.value | y.mask))
        x = rshift(x, 1)
        y = lshift(y, 1)
    return add(Tnum(acc_v, 0), acc_m)


def lshift(a: Tnum, k: int) -> Tnum:
    return Tnum((a.value << k) & M64, (a.mask << k) & M64)


def rshift(a: Tnum, k: int) -> Tnum:
    return Tnum(a.value >> k, a.mask >> k)


def arshift(a: Tnum, k: int, width: int = 64) -> Tnum:
    """Arithmetic right shift of a ``width``-bit tnum (the result is zero-extended)."""
    wm = (1 << width) - 1
    sign = 1 << (width - 1)

    def sar(x: int) -> int:
        x &= wm
        if x & sign:
            x -= 1 << width
        return (x >> k) & wm
    return Tnum(sar(a.value), sar(a.mask))


def intersect(a: Tnum, b: Tnum) -> Tnum:
    v = a.value | b.value
    mu = a.mask & b.mask
    return Tnum(v & ~mu & M64, mu)


def cast(a: Tnum, size: int) -> Tnum:
    """Truncate to the low ``size`` bytes (zero-extension of a narrower value)."""
    m = (1 << (8 * size)) - 1
    return Tnum(a.value & m, a.mask & m)


def subreg(a: Tnum) -> Tnum:
    return cast(a, 4)


def is_aligned(a: Tnum, size: int) -> bool:
    if not size:
        return True
    return (a.value | a.mask) & (size - 1) == 0
