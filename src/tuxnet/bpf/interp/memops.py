"""Loads, stores and atomics as closures over the register file and the region table.

An address ``a`` selects region ``a >> 32`` at offset ``a & 0xFFFFFFFF`` (see
``tuxnet.bpf.memory``). The closures index the region list directly and let
``struct.unpack_from``/``pack_into`` do the bounds check: a region number past the
table raises ``IndexError``, an access past a region's end (or into an unmapped slot,
an empty buffer) ``struct.error``, a store into a read-only region ``TypeError``.
The run loop turns each into a ``BpfMemoryError``.
"""

from __future__ import annotations

import struct

from tuxnet.bpf import isa
from tuxnet.bpf.interp.alu import M32, M64, Op
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.memory import Buffer

_FMT = {isa.BPF_B: "<B", isa.BPF_H: "<H", isa.BPF_W: "<I", isa.BPF_DW: "<Q"}
_SFMT = {isa.BPF_B: "<b", isa.BPF_H: "<h", isa.BPF_W: "<i"}
_MASK = {isa.BPF_B: 0xFF, isa.BPF_H: 0xFFFF, isa.BPF_W: M32, isa.BPF_DW: M64}


def access_of(insn: Insn, r: list[int]) -> tuple[int, int, bool]:
    """(address, size, is_write) of a load/store/atomic about to run with registers r."""
    size = isa.SIZE_BYTES[insn.opcode & 0x18]
    cls = insn.opcode & 0x07
    base = r[insn.src] if cls == isa.BPF_LDX else r[insn.dst]
    return (base + insn.off) & M64, size, cls != isa.BPF_LDX


def make_ldx(insn: Insn, nxt: int, r: list[int], regions: list[Buffer]) -> Op:
    d, s, off = insn.dst, insn.src, insn.off
    size = insn.opcode & 0x18
    if insn.opcode & 0xE0 == isa.BPF_MEMSX:  # RFC 9669 5.2: sign-extend to 64 bits
        sunpack = struct.Struct(_SFMT[size]).unpack_from

        def ldxs() -> int:
            a = (r[s] + off) & M64
            r[d] = sunpack(regions[a >> 32], a & M32)[0] & M64
            return nxt
        return ldxs
    unpack = struct.Struct(_FMT[size]).unpack_from

    def ldx() -> int:
        a = (r[s] + off) & M64
        r[d] = unpack(regions[a >> 32], a & M32)[0]
        return nxt
    return ldx


def make_st(insn: Insn, nxt: int, r: list[int], regions: list[Buffer]) -> Op:
    d, off = insn.dst, insn.off
    size = insn.opcode & 0x18
    pack = struct.Struct(_FMT[size]).pack_into
    value = insn.imm & _MASK[size]  # RFC 9669 5.1: imm, sign-extended for DW

    def st() -> int:
        a = (r[d] + off) & M64
        pack(regions[a >> 32], a & M32, value)
        return nxt
    return st


def make_stx(insn: Insn, nxt: int, r: list[int], regions: list[Buffer]) -> Op:
    d, s, off = insn.dst, insn.src, insn.off
    size = insn.opcode & 0x18
    pack = struct.Struct(_FMT[size]).pack_into
    mask = _MASK[size]

    def stx() -> int:
        a = (r[d] + off) & M64
        pack(regions[a >> 32], a & M32, r[s] & mask)
        return nxt
    return stx


def make_atomic(insn: Insn, nxt: int, r: list[int], regions: list[Buffer]) -> Op:
    """RFC 9669 5.3 atomics. The interpreter is single-threaded, so read-modify-write
    in one closure is atomic; FETCH loads the old value (zero-extended) into src."""
    d, s, off, op = insn.dst, insn.src, insn.off, insn.imm
    st = struct.Struct("<Q" if insn.opcode & 0x18 == isa.BPF_DW else "<I")
    unpack, pack = st.unpack_from, st.pack_into
    mask = M64 if st.size == 8 else M32
    if op == isa.BPF_CMPXCHG:
        def cmpxchg() -> int:
            a = (r[d] + off) & M64
            buf = regions[a >> 32]
            o = a & M32
            old = unpack(buf, o)[0]
            if old == r[0] & mask:
                pack(buf, o, r[s] & mask)
            r[0] = old
            return nxt
        return cmpxchg
    if op == isa.BPF_XCHG:
        def xchg() -> int:
            a = (r[d] + off) & M64
            buf = regions[a >> 32]
            o = a & M32
            old = unpack(buf, o)[0]
            pack(buf, o, r[s] & mask)
            r[s] = old
            return nxt
        return xchg
    code = op & 0xF0
    fetch = bool(op & isa.BPF_FETCH)

    def rmw() -> int:
        a = (r[d] + off) & M64
        buf = regions[a >> 32]
        o = a & M32
        old = unpack(buf, o)[0]
        v = r[s]
        if code == isa.BPF_ADD:
            new = (old + v) & mask
        elif code == isa.BPF_OR:
            new = old | (v & mask)
        elif code == isa.BPF_AND:
            new = old & v
        else:
            new = old ^ (v & mask)
        pack(buf, o, new)
        if fetch:
            r[s] = old
        return nxt
    return rmw
