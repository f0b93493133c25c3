"""Conditional and unconditional jumps as closures (RFC 9669 4.3).

Signed comparisons use the identity ``a <s b  <=>  (a ^ 2**(n-1)) <u (b ^ 2**(n-1))``,
so every compare is one integer operation on already-unsigned register values.
"""

from __future__ import annotations

from tuxnet.bpf import isa
from tuxnet.bpf.interp.alu import M32, M64, Op
from tuxnet.bpf.isa import Insn

_SIGNED = {isa.BPF_JSGT, isa.BPF_JSGE, isa.BPF_JSLT, isa.BPF_JSLE}


def make_ja(target: int) -> Op:
    def ja() -> int:
        return target
    return ja


def make_jcond(insn: Insn, pc: int, r: list[int]) -> Op:
    """Closure for a conditional jump; returns the target or the next pc."""
    code = insn.opcode & 0xF0
    is32 = insn.opcode & 0x07 == isa.BPF_JMP32
    t = pc + insn.off + 1
    n = pc + 1
    d = insn.dst
    if insn.opcode & isa.BPF_X:
        return _jx(code, is32, d, insn.src, t, n, r)
    # RFC 9669 4.3: JMP sign-extends imm to 64 bits; JMP32 compares the low 32 bits.
    u = insn.imm & (M32 if is32 else M64)
    if code in _SIGNED:
        u ^= 0x8000_0000 if is32 else 1 << 63
    return (_jk32 if is32 else _jk64)(code, d, u, t, n, r)


def _jk64(code: int, d: int, u: int, t: int, n: int, r: list[int]) -> Op:
    sb = 1 << 63
    if code == isa.BPF_JEQ:
        def jeq() -> int:
            return t if r[d] == u else n
        return jeq
    if code == isa.BPF_JNE:
        def jne() -> int:
            return t if r[d] != u else n
        return jne
    if code == isa.BPF_JGT:
        def jgt() -> int:
            return t if r[d] > u else n
        return jgt
    if code == isa.BPF_JGE:
        def jge() -> int:
            return t if r[d] >= u else n
        return jge
    if code == isa.BPF_JLT:
        def jlt() -> int:
            return t if r[d] < u else n
        return jlt
    if code == isa.BPF_JLE:
        def jle() -> int:
            return t if r[d] <= u else n
        return jle
    if code == isa.BPF_JSET:
        def jset() -> int:
            return t if r[d] & u else n
        return jset
    if code == isa.BPF_JSGT:
        def jsgt() -> int:
            return t if r[d] ^ sb > u else n
        return jsgt
    if code == isa.BPF_JSGE:
        def jsge() -> int:
            return t if r[d] ^ sb >= u else n
        return jsge
    if code == isa.BPF_JSLT:
        def jslt() -> int:
            return t if r[d] ^ sb < u else n
        return jslt

    def jsle() -> int:
        return t if r[d] ^ sb <= u else n
    return jsle


def _jk32(code: int, d: int, u: int, t: int, n: int, r: list[int]) -> Op:
    sb = 0x8000_0000
    if code == isa.BPF_JEQ:
        def jeq() -> int:
            return t if r[d] & M32 == u else n
        return jeq
    if code == isa.BPF_JNE:
        def jne() -> int:
            return t if r[d] & M32 != u else n
        return jne
    if code == isa.BPF_JGT:
        def jgt() -> int:
            return t if r[d] & M32 > u else n
        return jgt
    if code == isa.BPF_JGE:
        def jge() -> int:
            return t if r[d] & M32 >= u else n
        return jge
    if code == isa.BPF_JLT:
        def jlt() -> int:
            return t if r[d] & M32 < u else n
        return jlt
    if code == isa.BPF_JLE:
        def jle() -> int:
            return t if r[d] & M32 <= u else n
        return jle
    if code == isa.BPF_JSET:
        def jset() -> int:
            return t if r[d] & u else n
        return jset
    if code == isa.BPF_JSGT:
        def jsgt() -> int:
            return t if (r[d] & M32) ^ sb > u else n
        return jsgt
    if code == isa.BPF_JSGE:
        def jsge() -> int:
            return t if (r[d] & M32) ^ sb >= u else n
        return jsge
    if code == isa.BPF_JSLT:
        def jslt() -> int:
            return t if (r[d] & M32) ^ sb < u else n
        return jslt

    def jsle() -> int:
        return t if (r[d] & M32) ^ sb <= u else n
    return jsle


def _jx(code: int, is32: bool, d: int, s: int, t: int, n: int, r: list[int]) -> Op:
    # Register forms are less common in compiled code; one closure per operation with
    # the width as a mask keeps this short.
    m = M32 if is32 else M64
    sb = 0x8000_0000 if is32 else 1 << 63
    if code == isa.BPF_JEQ:
        def jeq() -> int:
            return t if (r[d] ^ r[s]) & m == 0 else n
        return jeq
    if code == isa.BPF_JNE:
        def jne() -> int:
            return t if (r[d] ^ r[s]) & m else n
        return jne
    if code == isa.BPF_JGT:
        def jgt() -> int:
            return t if r[d] & m > r[s] & m else n
        return jgt
    if code == isa.BPF_JGE:
        def jge() -> int:
            return t if r[d] & m >= r[s] & m else n
        return jge
    if code == isa.BPF_JLT:
        def jlt() -> int:
            return t if r[d] & m < r[s] & m else n
        return jlt
    if code == isa.BPF_JLE:
        def jle() -> int:
            return t if r[d] & m <= r[s] & m else n
        return jle
    if code == isa.BPF_JSET:
        def jset() -> int:
            return t if r[d] & r[s] & m else n
        return jset
    if code == isa.BPF_JSGT:
        def jsgt() -> int:
            return t if (r[d] & m) ^ sb > (r[s] & m) ^ sb else n
        return jsgt
    if code == isa.BPF_JSGE:
        def jsge() -> int:
            return t if (r[d] & m) ^ sb >= (r[s] & m) ^ sb else n
        return jsge
    if code == isa.BPF_JSLT:
        def jslt() -> int:
            return t if (r[d] & m) ^ sb < (r[s] & m) ^ sb else n
        return jslt

    def jsle() -> int:
        return t if (r[d] & m) ^ sb <= (r[s] & m) ^ sb else n
    return jsle
