"""ALU and ALU64 instructions as closures over the register file (RFC 9669 4.1, 4.2).

Each builder returns a zero-argument function that performs one instruction on ``r``
(a list of unsigned 64-bit register values) and returns the next pc. Operands known
at load time (registers, the immediate) are bound into the closure, so the run loop
does no decoding.
"""

from __future__ import annotations

from collections.abc import Callable

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn

Op = Callable[[], int]

M64 = 0xFFFF_FFFF_FFFF_FFFF
M32 = 0xFFFF_FFFF
SIGN64 = 1 << 63


def s64(v: int) -> int:
    """Unsigned 64-bit pattern to signed."""
    return v - (1 << 64) if v & SIGN64 else v


def s32(v: int) -> int:
    """Low 32 bits as a signed value."""
    v &= M32
    return v - (1 << 32) if v & 0x8000_0000 else v


def sdiv(a: int, b: int) -> int:
    """Signed division truncating toward zero (RFC 9669 4.1: SDIV), b != 0."""
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def smod(a: int, b: int) -> int:
    """Signed remainder with the dividend's sign (RFC 9669 4.1: SMOD), b != 0."""
    m = abs(a) % abs(b)
    return -m if a < 0 else m


def bswap(v: int, width: int) -> int:
    """Reverse the low ``width`` bits' bytes; the result is zero-extended."""
    n = width // 8
    return int.from_bytes((v & ((1 << width) - 1)).to_bytes(n, "little"), "big")


def make_alu(insn: Insn, nxt: int, r: list[int]) -> Op:
    """Closure for one ALU/ALU64 instruction (validated by isa.validate_insn)."""
    code = insn.opcode & 0xF0
    is64 = insn.opcode & 0x07 == isa.BPF_ALU64
    if code == isa.BPF_END:
        return _end(insn, nxt, r)
    if code == isa.BPF_NEG:
        return _neg(insn.dst, nxt, r, is64)
    if insn.opcode & isa.BPF_X:
        return (_alu64_x if is64 else _alu32_x)(code, insn.dst, insn.src, insn.off, nxt, r)
    return (_alu64_k if is64 else _alu32_k)(code, insn.dst, insn.imm, insn.off, nxt, r)


def _neg(d: int, nxt: int, r: list[int], is64: bool) -> Op:
    mask = M64 if is64 else M32

    def neg() -> int:
        r[d] = -r[d] & mask
        return nxt
    return neg


def _end(insn: Insn, nxt: int, r: list[int]) -> Op:
    d, width = insn.dst, insn.imm
    if insn.opcode == isa.BPF_ALU | isa.BPF_END | isa.BPF_TO_LE:
        # RFC 9669 4.2: to little-endian; memory is little-endian here, so only truncate.
        mask = (1 << width) - 1

        def le() -> int:
            r[d] &= mask
            return nxt
        return le

    # TO_BE (ALU) and the unconditional BSWAP (ALU64) both swap on a little-endian host.
    def swap() -> int:
        r[d] = bswap(r[d], width)
        return nxt
    return swap


def _alu64_k(code: int, d: int, imm: int, off: int, nxt: int, r: list[int]) -> Op:
    u = imm & M64  # RFC 9669 4.1: ALU64 sign-extends imm to 64 bits
    if code == isa.BPF_MOV:
        def mov() -> int:
            r[d] = u
            return nxt
        return mov
    if code == isa.BPF_ADD:
        def add() -> int:
            r[d] = (r[d] + u) & M64
            return nxt
        return add
    if code == isa.BPF_SUB:
        def sub() -> int:
            r[d] = (r[d] - u) & M64
            return nxt
        return sub
    if code == isa.BPF_MUL:
        def mul() -> int:
            r[d] = (r[d] * u) & M64
            return nxt
        return mul
    if code == isa.BPF_OR:
        def or_() -> int:
            r[d] |= u
            return nxt
        return or_
    if code == isa.BPF_AND:
        def and_() -> int:
            r[d] &= u
            return nxt
        return and_
    if code == isa.BPF_XOR:
        def xor() -> int:
            r[d] ^= u
            return nxt
        return xor
    sh = imm & 63  # RFC 9669 4.1: shift amounts are masked to 6 bits in ALU64
    if code == isa.BPF_LSH:
        def lsh() -> int:
            r[d] = (r[d] << sh) & M64
            return nxt
        return lsh
    if code == isa.BPF_RSH:
        def rsh() -> int:
            r[d] >>= sh
            return nxt
        return rsh
    if code == isa.BPF_ARSH:
        def arsh() -> int:
            r[d] = (s64(r[d]) >> sh) & M64
            return nxt
        return arsh
    return _divmod64(code, d, off, nxt, r, lambda: imm & M64)


def _alu64_x(code: int, d: int, s: int, off: int, nxt: int, r: list[int]) -> Op:
    if code == isa.BPF_MOV:
        if off:  # RFC 9669 4.1 MOVSX: sign-extend the low `off` bits of src to 64 bits
            bits = off
            sign = 1 << (bits - 1)
            low = (1 << bits) - 1

            def movsx() -> int:
                v = r[s] & low
                r[d] = (v - (sign << 1) if v & sign else v) & M64
                return nxt
            return movsx

        def mov() -> int:
            r[d] = r[s]
            return nxt
        return mov
    if code == isa.BPF_ADD:
        def add() -> int:
            r[d] = (r[d] + r[s]) & M64
            return nxt
        return add
    if code == isa.BPF_SUB:
        def sub() -> int:
            r[d] = (r[d] - r[s]) & M64
            return nxt
        return sub
    if code == isa.BPF_MUL:
        def mul() -> int:
            r[d] = (r[d] * r[s]) & M64
            return nxt
        return mul
    if code == isa.BPF_OR:
        def or_() -> int:
            r[d] |= r[s]
            return nxt
        return or_
    if code == isa.BPF_AND:
        def and_() -> int:
            r[d] &= r[s]
            return nxt
        return and_
    if code == isa.BPF_XOR:
        def xor() -> int:
            r[d] ^= r[s]
            return nxt
        return xor
    if code == isa.BPF_LSH:
        def lsh() -> int:
            r[d] = (r[d] << (r[s] & 63)) & M64
            return nxt
        return lsh
    if code == isa.BPF_RSH:
        def rsh() -> int:
            r[d] >>= r[s] & 63
            return nxt
        return rsh
    if code == isa.BPF_ARSH:
        def arsh() -> int:
            r[d] = (s64(r[d]) >> (r[s] & 63)) & M64
            return nxt
        return arsh
    return _divmod64(code, d, off, nxt, r, lambda: r[s])


def _divmod64(code: int, d: int, off: int, nxt: int, r: list[int],
              divisor: Callable[[], int]) -> Op:
    # RFC 9669 4.1: x/0 = 0; x%0 = x. off=1 selects the signed forms (SDIV/SMOD).
    if code == isa.BPF_DIV and not off:
        def div() -> int:
            b = divisor()
            r[d] = r[d] // b if b else 0
            return nxt
        return div
    if code == isa.BPF_DIV:
        def sdiv64() -> int:
            b = divisor()
            r[d] = sdiv(s64(r[d]), s64(b)) & M64 if b else 0
            return nxt
        return sdiv64
    if not off:
        def mod() -> int:
            b = divisor()
            if b:
                r[d] %= b
            return nxt
        return mod

    def smod64() -> int:
        b = divisor()
        if b:
            r[d] = smod(s64(r[d]), s64(b)) & M64
        return nxt
    return smod64


def _alu32_k(code: int, d: int, imm: int, off: int, nxt: int, r: list[int]) -> Op:
    u = imm & M32  # RFC 9669 4.1: ALU uses the low 32 bits; results are zero-extended
    if code == isa.BPF_MOV:
        def mov() -> int:
            r[d] = u
            return nxt
        return mov
    if code == isa.BPF_ADD:
        def add() -> int:
            r[d] = (r[d] + u) & M32
            return nxt
        return add
    if code == isa.BPF_SUB:
        def sub() -> int:
            r[d] = (r[d] - u) & M32
            return nxt
        return sub
    if code == isa.BPF_MUL:
        def mul() -> int:
            r[d] = (r[d] * u) & M32
            return nxt
        return mul
    if code == isa.BPF_OR:
        def or_() -> int:
            r[d] = (r[d] | u) & M32
            return nxt
        return or_
    if code == isa.BPF_AND:
        def and_() -> int:
            r[d] &= u
            return nxt
        return and_
    if code == isa.BPF_XOR:
        def xor() -> int:
            r[d] = (r[d] ^ u) & M32
            return nxt
        return xor
    sh = imm & 31  # RFC 9669 4.1: shift amounts are masked to 5 bits in ALU
    if code == isa.BPF_LSH:
        def lsh() -> int:
            r[d] = (r[d] << sh) & M32
            return nxt
        return lsh
    if code == isa.BPF_RSH:
        def rsh() -> int:
            r[d] = (r[d] & M32) >> sh
            return nxt
        return rsh
    if code == isa.BPF_ARSH:
        def arsh() -> int:
            r[d] = (s32(r[d]) >> sh) & M32
            return nxt
        return arsh
    return _divmod32(code, d, off, nxt, r, lambda: u)


def _alu32_x(code: int, d: int, s: int, off: int, nxt: int, r: list[int]) -> Op:
    if code == isa.BPF_MOV:
        if off:  # RFC 9669 4.1 MOVSX (ALU): sign-extend 8/16 bits to 32, zero the rest
            sign = 1 << (off - 1)
            low = (1 << off) - 1

            def movsx() -> int:
                v = r[s] & low
                r[d] = (v - (sign << 1) if v & sign else v) & M32
                return nxt
            return movsx

        def mov() -> int:
            r[d] = r[s] & M32
            return nxt
        return mov
    if code == isa.BPF_ADD:
        def add() -> int:
            r[d] = (r[d] + r[s]) & M32
            return nxt
        return add
    if code == isa.BPF_SUB:
        def sub() -> int:
            r[d] = (r[d] - r[s]) & M32
            return nxt
        return sub
    if code == isa.BPF_MUL:
        def mul() -> int:
            r[d] = (r[d] * r[s]) & M32
            return nxt
        return mul
    if code == isa.BPF_OR:
        def or_() -> int:
            r[d] = (r[d] | r[s]) & M32
            return nxt
        return or_
    if code == isa.BPF_AND:
        def and_() -> int:
            r[d] = r[d] & r[s] & M32
            return nxt
        return and_
    if code == isa.BPF_XOR:
        def xor() -> int:
            r[d] = (r[d] ^ r[s]) & M32
            return nxt
        return xor
    if code == isa.BPF_LSH:
        def lsh() -> int:
            r[d] = (r[d] << (r[s] & 31)) & M32
            return nxt
        return lsh
    if code == isa.BPF_RSH:
        def rsh() -> int:
            r[d] = (r[d] & M32) >> (r[s] & 31)
            return nxt
        return rsh
    if code == isa.BPF_ARSH:
        def arsh() -> int:
            r[d] = (s32(r[d]) >> (r[s] & 31)) & M32
            return nxt
        return arsh
    return _divmod32(code, d, off, nxt, r, lambda: r[s] & M32)


def _divmod32(code: int, d: int, off: int, nxt: int, r: list[int],
              divisor: Callable[[], int]) -> Op:
    # RFC 9669 4.1: as _divmod64 on the low 32 bits; x%0 keeps x but zeroes bits 32-63.
    if code == isa.BPF_DIV and not off:
        def div() -> int:
            b = divisor()
            r[d] = (r[d] & M32) // b if b else 0
            return nxt
        return div
    if code == isa.BPF_DIV:
        def sdiv32() -> int:
            b = divisor()
            r[d] = sdiv(s32(r[d]), s32(b)) & M32 if b else 0
            return nxt
        return sdiv32
    if not off:
        def mod() -> int:
            b = divisor()
            r[d] = (r[d] & M32) % b if b else r[d] & M32
            return nxt
        return mod

    def smod32() -> int:
        b = divisor()
        r[d] = smod(s32(r[d]), s32(b)) & M32 if b else r[d] & M32
        return nxt
    return smod32
