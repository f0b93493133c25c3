"""Register state of the verifier: a type, a fixed offset and a tracked scalar part.

As in ``struct bpf_reg_state`` (include/linux/bpf_verifier.h): a :class:`Reg` is a
scalar or a pointer. For a scalar, ``var`` (a tnum) and the four bounds ``umin``,
``umax``, ``smin``, ``smax`` describe its value; for a pointer they describe the
*variable* part of its offset and ``off`` holds the constant part. ``id`` links copies
of one value (a ``map_value_or_null`` and its copies become non-NULL together; packet
pointers of one id share their proven ``range``). Registers are immutable values; the
state holds them in lists and replaces them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple, Protocol

from tuxnet.bpf.verifier import tnum
from tuxnet.bpf.verifier.tnum import M32, M64, Tnum

S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
S32_MIN = -(1 << 31)
S32_MAX = (1 << 31) - 1


def s64(v: int) -> int:
    v &= M64
    return v - (1 << 64) if v >> 63 else v


def s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v >> 31 else v


class MapInfo(Protocol):
    """What the verifier needs to know of a map (``struct bpf_map`` attributes)."""

    @property
    def map_type(self) -> int: ...

    @property
    def key_size(self) -> int: ...

    @property
    def value_size(self) -> int: ...

    @property
    def max_entries(self) -> int: ...


class RegType(IntEnum):
    """enum bpf_reg_type (include/linux/bpf.h), the subset tuxnet programs meet."""

    NOT_INIT = 0
    SCALAR = 1
    PTR_TO_CTX = 2
    CONST_PTR_TO_MAP = 3
    PTR_TO_MAP_VALUE = 4
    PTR_TO_MAP_VALUE_OR_NULL = 5
    PTR_TO_STACK = 6
    PTR_TO_PACKET_META = 7
    PTR_TO_PACKET = 8
    PTR_TO_PACKET_END = 9
    PTR_TO_MEM = 10


# kernel/bpf/verifier.c: reg_type_str()
TYPE_STR = {
    RegType.NOT_INIT: "?", RegType.SCALAR: "scalar", RegType.PTR_TO_CTX: "ctx",
    RegType.CONST_PTR_TO_MAP: "map_ptr", RegType.PTR_TO_MAP_VALUE: "map_value",
    RegType.PTR_TO_MAP_VALUE_OR_NULL: "map_value_or_null", RegType.PTR_TO_STACK: "fp",
    RegType.PTR_TO_PACKET_META: "pkt_meta", RegType.PTR_TO_PACKET: "pkt",
    RegType.PTR_TO_PACKET_END: "pkt_end", RegType.PTR_TO_MEM: "mem",
}
PKT_TYPES = frozenset({RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META})


class Reg(NamedTuple):
    type: RegType
    off: int = 0
    var: Tnum = tnum.ZERO
    umin: int = 0
    umax: int = 0
    smin: int = 0
    smax: int = 0
    id: int = 0
    range: int = 0  # packet pointers: bytes proven readable from off
    map: MapInfo | None = None
    mem_size: int = 0  # PTR_TO_MEM: size of the region
    frameno: int = 0  # PTR_TO_STACK: the call frame it points into

    # --- predicates ---------------------------------------------------------------
    @property
    def is_scalar(self) -> bool:
        return self.type == RegType.SCALAR

    @property
    def is_pointer(self) -> bool:
        return self.type > RegType.SCALAR

    @property
    def is_const(self) -> bool:
        return self.type == RegType.SCALAR and self.var.mask == 0

    @property
    def const_value(self) -> int:
        return self.var.value

    @property
    def is_pkt(self) -> bool:
        return self.type in PKT_TYPES

    def is_null(self) -> bool:
        return self.type == RegType.SCALAR and self.var == tnum.ZERO

    # --- 32-bit views ---------------------------------------------------------------
    def u32_bounds(self) -> tuple[int, int]:
        if self.umax - self.umin <= M32 and self.umin >> 32 == self.umax >> 32:
            return self.umin & M32, self.umax & M32
        t = tnum.subreg(self.var)
        return t.value, t.value | t.mask

    def s32_bounds(self) -> tuple[int, int]:
        if self.smin >= S32_MIN and self.smax <= S32_MAX:
            return self.smin, self.smax
        lo, hi = self.u32_bounds()
        if hi <= S32_MAX or lo > S32_MAX:
            return s32(lo), s32(hi)
        t = tnum.subreg(self.var)
        sign = 1 << 31
        return s32(t.value | (t.mask & sign)), s32(t.value | (t.mask & ~sign & M32))


NOT_INIT = Reg(RegType.NOT_INIT)


def scalar(var: Tnum = tnum.UNKNOWN, umin: int = 0, umax: int = M64, smin: int = S64_MIN,
           smax: int = S64_MAX, id: int = 0) -> Reg:
    """A scalar with the given knowledge, made consistent (reg_bounds_sync)."""
    return sync(Reg(RegType.SCALAR, 0, var, umin, umax, smin, smax, id))


UNKNOWN = Reg(RegType.SCALAR, 0, tnum.UNKNOWN, 0, M64, S64_MIN, S64_MAX)


def const(v: int) -> Reg:
    v &= M64
    return Reg(RegType.SCALAR, 0, Tnum(v, 0), v, v, s64(v), s64(v))


def urange(lo: int, hi: int) -> Reg:
    return scalar(tnum.trange(lo, hi), lo, hi)


def unknown_of_size(size: int) -> Reg:
    """A value zero-extended from ``size`` bytes (a load of that width)."""
    if size >= 8:
        return UNKNOWN
    return urange(0, (1 << (8 * size)) - 1)


def pointer(t: RegType, off: int = 0, *, id: int = 0, map: MapInfo | None = None,
            mem_size: int = 0, frameno: int = 0, range: int = 0) -> Reg:
    """A pointer of type ``t`` at the constant offset ``off``."""
    return Reg(t, off, tnum.ZERO, 0, 0, 0, 0, id, range, map, mem_size, frameno)


def with_var(r: Reg, var: Tnum, umin: int, umax: int, smin: int, smax: int) -> Reg:
    return sync(r._replace(var=var, umin=umin, umax=umax, smin=smin, smax=smax))


def _bounded(r: Reg, var: Tnum, umin: int, umax: int, smin: int, smax: int) -> Reg:
    """``r`` with new tnum and bounds (a faster ``_replace`` for the hot path)."""
    return tuple.__new__(Reg, (r[0], r[1], var, umin, umax, smin, smax, r[7], r[8], r[9],
                               r[10], r[11]))


def sync(r: Reg) -> Reg:
    """Make tnum and bounds agree (kernel/bpf/verifier.c: reg_bounds_sync)."""
    var, umin, umax, smin, smax = r.var, r.umin, r.umax, r.smin, r.smax
    if var.mask == 0:  # a constant: the bounds are the value (or a contradiction)
        v = var.value
        sv = v - (1 << 64) if v >> 63 else v
        if umin <= v <= umax and smin <= sv <= smax:
            return _bounded(r, var, v, v, sv, sv)
        return _bounded(r, var, 1, 0, smin, smax)
    for _ in range(2):
        # bounds from the tnum
        sign = 1 << 63
        umin = max(umin, var.value)
        umax = min(umax, var.value | var.mask)
        smin = max(smin, s64(var.value | (var.mask & sign)))
        smax = min(smax, s64(var.value | (var.mask & ~sign & M64)))
        # signed <-> unsigned
        if smin >= 0 or smax < 0:
            umin = max(umin, smin & M64)
            umax = min(umax, smax & M64)
        if umax <= S64_MAX or umin > S64_MAX:
            smin = max(smin, s64(umin))
            smax = min(smax, s64(umax))
        if smin >= 0 or smax < 0:
            umin = max(umin, smin & M64)
            umax = min(umax, smax & M64)
        if umin > umax or smin > smax:
            break  # contradiction: an impossible branch; callers test is_bottom()
        var = tnum.intersect(var, tnum.trange(umin, umax))
    return _bounded(r, var, umin, umax, smin, smax)


def is_bottom(r: Reg) -> bool:
    """True if no value satisfies the register's constraints."""
    if r.umin > r.umax or r.smin > r.smax:
        return True
    return bool(r.var.value & r.var.mask)


# --- printing (kernel/bpf/log.c: print_reg_state) --------------------------------------

def _num(v: int) -> str:
    """kernel/bpf/log.c verbose_snum/verbose_unum: |v| <= 512 in decimal, else %#llx."""
    if -512 <= v <= 512:
        return str(v)
    return f"{v & M64:#x}"


def _bounds_text(r: Reg, with_var: bool) -> str:
    u32lo, u32hi = r.u32_bounds()
    s32lo, s32hi = r.s32_bounds()
    fields = [("smin", r.smin, S64_MIN), ("smax", r.smax, S64_MAX), ("umin", r.umin, 0),
              ("umax", r.umax, M64), ("smin32", s32lo, S32_MIN), ("smax32", s32hi, S32_MAX),
              ("umin32", u32lo, 0), ("umax32", u32hi, M32)]
    shown: list[tuple[list[str], int]] = []
    for name, v, default in fields:
        if v == default:
            continue
        for names, value in shown:
            if value == v:
                names.append(name)
                break
        else:
            shown.append(([name], v))
    parts = ["=".join(names) + "=" + _num(v) for names, v in shown]
    if with_var and not r.var.is_const() and r.var != tnum.UNKNOWN:
        parts.append(f"var_off={r.var.text()}")
    return ",".join(parts)


def reg_text(r: Reg) -> str:
    """The kernel log's rendering of one register: ``scalar(umax=255,...)``, ``pkt(r=14)``."""
    t = r.type
    if t == RegType.SCALAR:
        if r.is_const:
            return _num(s64(r.var.value)) if r.id == 0 else f"scalar(id={r.id},{_num(r.smin)})"
        inner = _bounds_text(r, True)
        if r.id:
            inner = f"id={r.id}" + ("," + inner if inner else "")
        return f"scalar({inner})"
    if t == RegType.PTR_TO_STACK and r.var.is_const():
        return f"fp{r.off + r.var.value:d}" if r.frameno == 0 else \
            f"fp[{r.frameno}]{r.off + r.var.value:d}"
    parts = []
    if r.id and t != RegType.PTR_TO_STACK:
        parts.append(f"id={r.id}")
    if r.map is not None:
        parts.append(f"ks={r.map.key_size},vs={r.map.value_size}")
    if t == RegType.PTR_TO_MEM:
        parts.append(f"sz={r.mem_size}")
    if r.off:
        parts.append(f"off={r.off}")
    if t in PKT_TYPES:
        parts.append(f"r={r.range}")
    if not r.var.is_const() or r.var.value:
        b = _bounds_text(r, True)
        if b:
            parts.append(b)
    return f"{TYPE_STR[t]}({','.join(parts)})"
