"""Abstract arithmetic on scalar registers (kernel/bpf/verifier.c:
adjust_scalar_min_max_vals and the scalar_min_max_* helpers).

Every function takes the abstract operands and returns a register that contains every
concrete result (soundness first; precision where compiled programs need it: bounds
through add/sub/and/shift, constants everywhere). A 32-bit operation works on the low
halves as 64-bit values below 2**32 and zero-extends the result (RFC 9669 4.1).
"""

from __future__ import annotations

from tuxnet.bpf import isa
from tuxnet.bpf.verifier import tnum
from tuxnet.bpf.verifier.reg import (
    S64_MAX,
    S64_MIN,
    UNKNOWN,
    Reg,
    const,
    s32,
    scalar,
)
from tuxnet.bpf.verifier.tnum import M32, M64

_SHIFTS = frozenset({isa.BPF_LSH, isa.BPF_RSH, isa.BPF_ARSH})


def low32(r: Reg) -> Reg:
    """The low 32 bits of a scalar as a zero-extended 64-bit scalar."""
    if r.umax <= M32:
        return r
    lo, hi = r.u32_bounds()
    return scalar(tnum.subreg(r.var), lo, hi)


def zext32(r: Reg) -> Reg:
    """Keep the low 32 bits of a result (sound for add/sub/mul/and/or/xor/lsh)."""
    if r.umax <= M32 and r.umin >= 0:
        return r
    return scalar(tnum.subreg(r.var), 0, M32)


def _add(a: Reg, b: Reg) -> Reg:
    var = tnum.add(a.var, b.var)
    umin, umax = a.umin + b.umin, a.umax + b.umax
    if umax > M64:
        umin, umax = 0, M64
    smin, smax = a.smin + b.smin, a.smax + b.smax
    if smin < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    return scalar(var, umin, umax, smin, smax)


def _sub(a: Reg, b: Reg) -> Reg:
    var = tnum.sub(a.var, b.var)
    umin, umax = a.umin - b.umax, a.umax - b.umin
    if umin < 0:
        umin, umax = 0, M64
    smin, smax = a.smin - b.smax, a.smax - b.smin
    if smin < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    return scalar(var, umin, umax, smin, smax)


def _mul(a: Reg, b: Reg) -> Reg:
    var = tnum.mul(a.var, b.var)
    umin, umax = 0, M64
    if a.umax * b.umax <= M64:
        umin, umax = a.umin * b.umin, a.umax * b.umax
    corners = [a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax]
    smin, smax = min(corners), max(corners)
    if smin < S64_MIN or smax > S64_MAX:
        smin, smax = S64_MIN, S64_MAX
    return scalar(var, umin, umax, smin, smax)


def _and(a: Reg, b: Reg) -> Reg:
    var = tnum.and_(a.var, b.var)
    smin, smax = S64_MIN, S64_MAX
    if a.smin >= 0 and b.smin >= 0:
        smin, smax = 0, min(a.smax, b.smax)
    elif a.smin >= 0:
        smin, smax = 0, a.smax
    elif b.smin >= 0:
        smin, smax = 0, b.smax
    return scalar(var, var.value, min(a.umax, b.umax), smin, smax)


def _or(a: Reg, b: Reg) -> Reg:
    var = tnum.or_(a.var, b.var)
    smin, smax = S64_MIN, S64_MAX
    if a.smin >= 0 and b.smin >= 0:
        smin = max(a.smin, b.smin)
    return scalar(var, max(a.umin, b.umin, var.value), var.value | var.mask, smin, smax)


def _xor(a: Reg, b: Reg) -> Reg:
    var = tnum.xor(a.var, b.var)
    smin = 0 if a.smin >= 0 and b.smin >= 0 else S64_MIN
    return scalar(var, var.value, var.value | var.mask, smin, S64_MAX)


def _lsh(a: Reg, b: Reg, bits: int) -> Reg:
    if b.umax >= bits:
        return UNKNOWN
    var = tnum.lshift(a.var, b.var.value) if b.is_const else tnum.UNKNOWN
    if (a.umax << b.umax) <= M64:
        return scalar(var, a.umin << b.umin, a.umax << b.umax)
    return scalar(var)


def _rsh(a: Reg, b: Reg, bits: int) -> Reg:
    if b.umax >= bits:
        return UNKNOWN
    var = tnum.rshift(a.var, b.var.value) if b.is_const else tnum.UNKNOWN
    return scalar(var, a.umin >> b.umax, a.umax >> b.umin)


def _arsh64(a: Reg, b: Reg) -> Reg:
    if not b.is_const or b.umax >= 64:
        return UNKNOWN
    k = b.var.value
    return scalar(tnum.arshift(a.var, k), 0, M64, a.smin >> k, a.smax >> k)


def _arsh32(a: Reg, b: Reg) -> Reg:
    """``a`` holds a 32-bit value (bits 32..63 zero); its sign bit is bit 31."""
    if not b.is_const or b.umax >= 32:
        return scalar(tnum.subreg(tnum.UNKNOWN), 0, M32)
    k = b.var.value
    var = tnum.arshift(a.var, k, 32)
    if a.umax <= 0x7FFF_FFFF or a.umin > 0x7FFF_FFFF:
        lo, hi = s32(a.umin) >> k, s32(a.umax) >> k
        return scalar(var, lo & M32, hi & M32)
    return scalar(var, 0, M32)


def alu(code: int, a: Reg, b: Reg, is64: bool, signed: bool = False) -> Reg:
    """Result of ``a <code> b`` on scalars (``code`` is BPF_ADD, BPF_SUB, ...);
    ``signed`` selects SDIV/SMOD (whose result, like DIV/MOD's, is not tracked)."""
    if not is64:
        a, b = low32(a), low32(b)
    bits = 64 if is64 else 32
    # kernel/bpf/verifier.c: is_safe_to_compute_dst_reg_range: no range for division
    # (even of constants) or for shifts by a non-constant; the whole register becomes
    # unknown, not zero-extended (tuxnet keeps the kernel's verdicts, not more)
    if code in (isa.BPF_DIV, isa.BPF_MOD) or (code in _SHIFTS and (
            not b.is_const or b.umax >= bits)):
        return UNKNOWN
    if a.is_const and b.is_const:
        v = _exact(code, a.var.value, b.var.value, 64 if is64 else 32)
        if v is not None:
            return const(v)
    if code == isa.BPF_ADD:
        r = _add(a, b)
    elif code == isa.BPF_SUB:
        r = _sub(a, b)
    elif code == isa.BPF_MUL:
        r = _mul(a, b)
    elif code == isa.BPF_AND:
        r = _and(a, b)
    elif code == isa.BPF_OR:
        r = _or(a, b)
    elif code == isa.BPF_XOR:
        r = _xor(a, b)
    elif code == isa.BPF_LSH:
        r = _lsh(a, b, bits)
    elif code == isa.BPF_RSH:
        r = _rsh(a, b, bits)
    elif code == isa.BPF_ARSH:
        return _arsh64(a, b) if is64 else _arsh32(a, b)
    else:
        r = UNKNOWN
    return r if is64 else zext32(r)


def _exact(code: int, x: int, y: int, bits: int) -> int | None:
    mask = (1 << bits) - 1
    x &= mask
    y &= mask
    if code == isa.BPF_ADD:
        return (x + y) & mask
    if code == isa.BPF_SUB:
        return (x - y) & mask
    if code == isa.BPF_MUL:
        return (x * y) & mask
    if code == isa.BPF_AND:
        return x & y
    if code == isa.BPF_OR:
        return x | y
    if code == isa.BPF_XOR:
        return x ^ y
    if code == isa.BPF_LSH:
        return (x << (y & (bits - 1))) & mask
    if code == isa.BPF_RSH:
        return x >> (y & (bits - 1))
    if code == isa.BPF_ARSH:
        sx = x - (1 << bits) if x >> (bits - 1) else x
        return (sx >> (y & (bits - 1))) & mask
    return None


def neg(a: Reg, is64: bool) -> Reg:
    if not is64:
        a = low32(a)
    if a.is_const:
        return const(-a.var.value & (M64 if is64 else M32))
    if not is64:
        return scalar(tnum.subreg(tnum.neg(a.var)), 0, M32)
    if a.smin > S64_MIN:
        return scalar(tnum.neg(a.var), 0, M64, -a.smax, -a.smin)
    return scalar(tnum.neg(a.var))


def movsx(a: Reg, width: int, is64: bool) -> Reg:
    """MOVSX: sign-extend the low ``width`` bits (RFC 9669 4.1)."""
    half = 1 << (width - 1)
    if a.is_const:
        v = a.var.value & ((1 << width) - 1)
        v = v - (1 << width) if v & half else v
        return const(v & (M64 if is64 else M32))
    r = a if a.umax < half else scalar(tnum.UNKNOWN, 0, M64, -half, half - 1)
    return r if is64 else zext32(r)


def byteswap(a: Reg, width: int, to_be: bool) -> Reg:
    """le/be/bswap (RFC 9669 4.2) on a little-endian machine: le only truncates."""
    m = (1 << width) - 1
    if not to_be:
        if width == 64:
            return a
        if a.umax <= m:
            return a
        return scalar(tnum.cast(a.var, width // 8), 0, m)
    if a.is_const:
        v = a.var.value & m
        return const(int.from_bytes(v.to_bytes(width // 8, "little"), "big"))
    return scalar(tnum.trange(0, m), 0, m)
