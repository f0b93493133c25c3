"""The eBPF instruction set (RFC 9669): constants, the instruction value, encoding, validation.

An instruction is an :class:`Insn` (opcode, dst, src, off, imm) with ``off`` and ``imm``
held *signed* (16 and 32 bits). A program is a ``list[Insn]`` with one entry per 8-byte
slot, so ``lddw`` takes two entries, exactly as the kernel's ``struct bpf_insn`` array
(RFC 9669 3: the wide instruction's second slot has opcode, regs and offset zero).

Constant names follow the kernel's ``include/uapi/linux/bpf.h`` / ``bpf_common.h``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from tuxnet.bpf.errors import BpfEncodeError, BpfInvalidInsn

# --- instruction classes (RFC 9669 3.3) ---------------------------------------------------
BPF_LD = 0x00
BPF_LDX = 0x01
BPF_ST = 0x02
BPF_STX = 0x03
BPF_ALU = 0x04
BPF_JMP = 0x05
BPF_JMP32 = 0x06
BPF_ALU64 = 0x07

# --- source operand (RFC 9669 4) ----------------------------------------------------------
BPF_K = 0x00
BPF_X = 0x08
BPF_TO_LE = 0x00  # RFC 9669 4.2: byte swap source bit
BPF_TO_BE = 0x08

# --- ALU operations (RFC 9669 4.1) --------------------------------------------------------
BPF_ADD = 0x00
BPF_SUB = 0x10
BPF_MUL = 0x20
BPF_DIV = 0x30
BPF_OR = 0x40
BPF_AND = 0x50
BPF_LSH = 0x60
BPF_RSH = 0x70
BPF_NEG = 0x80
BPF_MOD = 0x90
BPF_XOR = 0xA0
BPF_MOV = 0xB0
BPF_ARSH = 0xC0
BPF_END = 0xD0

# --- jump operations (RFC 9669 4.3) -------------------------------------------------------
BPF_JA = 0x00
BPF_JEQ = 0x10
BPF_JGT = 0x20
BPF_JGE = 0x30
BPF_JSET = 0x40
BPF_JNE = 0x50
BPF_JSGT = 0x60
BPF_JSGE = 0x70
BPF_CALL = 0x80
BPF_EXIT = 0x90
BPF_JLT = 0xA0
BPF_JLE = 0xB0
BPF_JSLT = 0xC0
BPF_JSLE = 0xD0

# --- load/store size and mode (RFC 9669 5.1) ----------------------------------------------
BPF_W = 0x00
BPF_H = 0x08
BPF_B = 0x10
BPF_DW = 0x18
BPF_IMM = 0x00
BPF_ABS = 0x20
BPF_IND = 0x40
BPF_MEM = 0x60
BPF_MEMSX = 0x80
BPF_ATOMIC = 0xC0

# --- atomic operations, in imm (RFC 9669 5.3) ---------------------------------------------
BPF_FETCH = 0x01
BPF_XCHG = 0xE0 | BPF_FETCH
BPF_CMPXCHG = 0xF0 | BPF_FETCH
ATOMIC_OPS = frozenset({
    BPF_ADD, BPF_ADD | BPF_FETCH, BPF_OR, BPF_OR | BPF_FETCH, BPF_AND, BPF_AND | BPF_FETCH,
    BPF_XOR, BPF_XOR | BPF_FETCH, BPF_XCHG, BPF_CMPXCHG,
})

# --- src values of lddw (RFC 9669 5.4; names from linux/bpf.h) ------------------------------
BPF_PSEUDO_MAP_FD = 1         # dst = map_by_fd(imm)
BPF_PSEUDO_MAP_VALUE = 2      # dst = map_val(map_by_fd(imm)) + next_imm
BPF_PSEUDO_BTF_ID = 3         # dst = var_addr(imm)
BPF_PSEUDO_FUNC = 4           # dst = code_addr(imm)
BPF_PSEUDO_MAP_IDX = 5        # dst = map_by_idx(imm)
BPF_PSEUDO_MAP_IDX_VALUE = 6  # dst = map_val(map_by_idx(imm)) + next_imm

# --- src values of call (RFC 9669 4.3.1) --------------------------------------------------
BPF_HELPER_CALL = 0       # helper function by static id
BPF_PSEUDO_CALL = 1       # program-local function, imm = pc-relative target
BPF_PSEUDO_KFUNC_CALL = 2  # helper function by BTF id

# --- limits (linux/bpf.h, linux/bpf_verifier.h) -------------------------------------------
MAX_BPF_REG = 11
BPF_REG_FP = 10
MAX_BPF_STACK = 512
MAX_CALL_FRAMES = 8
MAX_TAIL_CALL_CNT = 33
BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000
BPF_MAXINSNS = 4096

OPCODE_LDDW = BPF_LD | BPF_IMM | BPF_DW
OPCODE_CALL = BPF_JMP | BPF_CALL | BPF_K
OPCODE_CALLX = BPF_JMP | BPF_CALL | BPF_X
OPCODE_EXIT = BPF_JMP | BPF_EXIT

INSN_SIZE = 8
_INSN = struct.Struct("<BBhi")  # RFC 9669 3: opcode, regs (src << 4 | dst), offset, imm


class Insn(NamedTuple):
    """One 8-byte instruction slot; ``off`` and ``imm`` are signed."""

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    @property
    def cls(self) -> int:
        return self.opcode & 0x07


def lddw(dst: int, value: int, src: int = 0, next_imm: int | None = None) -> list[Insn]:
    """The two slots of ``lddw dst, value`` (RFC 9669 5.4)."""
    value &= 0xFFFF_FFFF_FFFF_FFFF
    hi = value >> 32 if next_imm is None else next_imm & 0xFFFF_FFFF
    return [Insn(OPCODE_LDDW, dst, src, 0, _s32(value & 0xFFFF_FFFF)), Insn(0, 0, 0, 0, _s32(hi))]


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


def encode(insns: Iterable[Insn]) -> bytes:
    """Encode instructions as little-endian 8-byte slots (RFC 9669 3)."""
    out = bytearray()
    for pc, i in enumerate(insns):
        if not (0 <= i.opcode <= 0xFF and 0 <= i.dst <= 0xF and 0 <= i.src <= 0xF):
            raise BpfEncodeError(f"insn {pc}: opcode/dst/src out of range in {i}")
        if not (-0x8000 <= i.off <= 0x7FFF):
            raise BpfEncodeError(f"insn {pc}: offset {i.off} does not fit in 16 signed bits")
        if not (-0x8000_0000 <= i.imm <= 0x7FFF_FFFF):
            raise BpfEncodeError(f"insn {pc}: imm {i.imm} does not fit in 32 signed bits")
        out += _INSN.pack(i.opcode, (i.src << 4) | i.dst, i.off, i.imm)
    return bytes(out)


def decode(data: bytes | bytearray | memoryview) -> list[Insn]:
    """Split bytes into instruction slots; no validation beyond the length (see validate)."""
    if len(data) % INSN_SIZE:
        raise BpfInvalidInsn(f"program length {len(data)} is not a multiple of {INSN_SIZE}")
    return [Insn(op, regs & 0xF, regs >> 4, off, imm)
            for op, regs, off, imm in _INSN.iter_unpack(data)]


# --- the table of valid encodings ----------------------------------------------------------
# Field rules: dst "w" = written register r0-r9, "r" = read register r0-r10, "0" = must be 0.
# src "r" = register r0-r10, "0" = must be 0, "call"/"ld" = pseudo src values.
# off "0", "any", "jmp" (pc-relative), "div" (0 or 1: RFC 9669 4.1 SDIV/SMOD),
#     "movsx64"/"movsx32" (RFC 9669 4.1 MOVSX widths).
# imm "0", "any", "jmp" (JMP32 JA), "end" (16/32/64), "atomic" (RFC 9669 5.3 ops).


@dataclass(frozen=True, slots=True)
class OpSpec:
    """What one opcode means and which fields it may use."""

    opcode: int
    name: str  # base mnemonic in the conformance assembly syntax
    dst: str
    src: str
    off: str
    imm: str
    version: int  # first cpu version (LLVM -mcpu=vN) that emits it


OPCODES: dict[int, OpSpec] = {}

_ALU_NAMES = {
    BPF_ADD: "add", BPF_SUB: "sub", BPF_MUL: "mul", BPF_DIV: "div", BPF_OR: "or",
    BPF_AND: "and", BPF_LSH: "lsh", BPF_RSH: "rsh", BPF_MOD: "mod", BPF_XOR: "xor",
    BPF_MOV: "mov", BPF_ARSH: "arsh",
}
JMP_NAMES = {
    BPF_JEQ: "jeq", BPF_JGT: "jgt", BPF_JGE: "jge", BPF_JSET: "jset", BPF_JNE: "jne",
    BPF_JSGT: "jsgt", BPF_JSGE: "jsge", BPF_JLT: "jlt", BPF_JLE: "jle", BPF_JSLT: "jslt",
    BPF_JSLE: "jsle",
}
SIZE_SUFFIX = {BPF_W: "w", BPF_H: "h", BPF_B: "b", BPF_DW: "dw"}
SIZE_BYTES = {BPF_W: 4, BPF_H: 2, BPF_B: 1, BPF_DW: 8}


def _add(opcode: int, name: str, dst: str, src: str, off: str, imm: str, version: int) -> None:
    OPCODES[opcode] = OpSpec(opcode, name, dst, src, off, imm, version)


def _build() -> None:
    for cls, suffix in ((BPF_ALU64, ""), (BPF_ALU, "32")):
        for op, base in _ALU_NAMES.items():
            off = "div" if op in (BPF_DIV, BPF_MOD) else "0"
            _add(cls | op | BPF_K, base + suffix, "w", "0", off, "any", 1)
            if op == BPF_MOV:  # RFC 9669 4.1: MOVSX is MOV X with offset 8/16/32
                off = "movsx64" if cls == BPF_ALU64 else "movsx32"
            _add(cls | op | BPF_X, base + suffix, "w", "r", off, "0", 1)
        _add(cls | BPF_NEG | BPF_K, "neg" + suffix, "w", "0", "0", "0", 1)  # RFC 9669 4.1
    _add(BPF_ALU | BPF_END | BPF_TO_LE, "le", "w", "0", "0", "end", 1)   # RFC 9669 4.2
    _add(BPF_ALU | BPF_END | BPF_TO_BE, "be", "w", "0", "0", "end", 1)
    _add(BPF_ALU64 | BPF_END | BPF_TO_LE, "bswap", "w", "0", "0", "end", 4)
    for cls, suffix, ver in ((BPF_JMP, "", 1), (BPF_JMP32, "32", 3)):
        for op, base in JMP_NAMES.items():
            v = max(ver, 2) if op in (BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE) else ver
            _add(cls | op | BPF_K, base + suffix, "r", "0", "jmp", "any", v)
            _add(cls | op | BPF_X, base + suffix, "r", "r", "jmp", "0", v)
    _add(BPF_JMP | BPF_JA, "ja", "0", "0", "jmp", "0", 1)
    _add(BPF_JMP32 | BPF_JA, "ja32", "0", "0", "0", "jmp", 4)  # RFC 9669 4.3: gotol
    _add(OPCODE_CALL, "call", "0", "call", "0", "any", 1)
    # callx: helper id in a register. Not in RFC 9669; LLVM encodes the register in dst.
    _add(OPCODE_CALLX, "callx", "r", "0", "0", "0", 4)
    _add(OPCODE_EXIT, "exit", "0", "0", "0", "0", 1)
    _add(OPCODE_LDDW, "lddw", "w", "ld", "0", "any", 1)
    for size, sfx in SIZE_SUFFIX.items():
        _add(BPF_LDX | BPF_MEM | size, "ldx" + sfx, "w", "r", "any", "0", 1)
        _add(BPF_ST | BPF_MEM | size, "st" + sfx, "r", "0", "any", "any", 1)
        _add(BPF_STX | BPF_MEM | size, "stx" + sfx, "r", "r", "any", "0", 1)
        if size != BPF_DW:  # RFC 9669 5.2: sign-extending loads of 1, 2 and 4 bytes
            _add(BPF_LDX | BPF_MEMSX | size, "ldxs" + sfx, "w", "r", "any", "0", 4)
            # RFC 9669 5.5: legacy packet access; decoded, not executed (see interp)
            _add(BPF_LD | BPF_ABS | size, "ldabs" + sfx, "0", "0", "0", "any", 1)
            _add(BPF_LD | BPF_IND | size, "ldind" + sfx, "0", "r", "0", "any", 1)
    _add(BPF_STX | BPF_ATOMIC | BPF_W, "atomic32", "r", "r", "any", "atomic", 1)
    _add(BPF_STX | BPF_ATOMIC | BPF_DW, "atomic", "r", "r", "any", "atomic", 1)


_build()

LDDW_SRCS = frozenset(range(0, 7))
CALL_SRCS = frozenset({BPF_HELPER_CALL, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL})


def spec_of(insn: Insn, pc: int = -1) -> OpSpec:
    """The :class:`OpSpec` of ``insn``; :class:`BpfInvalidInsn` for an unknown opcode."""
    spec = OPCODES.get(insn.opcode)
    if spec is None:
        raise BpfInvalidInsn(f"unknown opcode 0x{insn.opcode:02x}", pc)
    return spec


def validate_insn(insn: Insn, pc: int = -1) -> OpSpec:
    """Check one instruction's fields against RFC 9669; return its :class:`OpSpec`.

    Unused fields must be zero (RFC 9669 3: "unused fields ... MUST be set to zero"),
    registers must exist, and r10 (the read-only frame pointer) is never written.
    Jump targets are checked per program (``tuxnet.bpf.program``).
    """
    spec = spec_of(insn, pc)
    name = f"{spec.name} (0x{insn.opcode:02x})"
    d, s, off, imm = insn.dst, insn.src, insn.off, insn.imm
    if spec.dst == "0" and d:
        raise BpfInvalidInsn(f"{name}: unused dst field must be 0, is {d}", pc)
    if spec.dst == "w" and d >= BPF_REG_FP:
        what = "frame pointer r10 is read-only" if d == BPF_REG_FP else f"invalid register r{d}"
        raise BpfInvalidInsn(f"{name}: {what}", pc)
    if spec.dst == "r" and d > BPF_REG_FP:
        raise BpfInvalidInsn(f"{name}: invalid dst register r{d}", pc)
    if spec.src == "0" and s:
        raise BpfInvalidInsn(f"{name}: unused src field must be 0, is {s}", pc)
    if spec.src == "r" and s > BPF_REG_FP:
        raise BpfInvalidInsn(f"{name}: invalid src register r{s}", pc)
    if spec.src == "call" and s not in CALL_SRCS:
        raise BpfInvalidInsn(f"{name}: invalid call src {s}", pc)
    if spec.src == "ld" and s not in LDDW_SRCS:
        raise BpfInvalidInsn(f"{name}: invalid lddw src {s}", pc)
    if spec.off == "0" and off:
        raise BpfInvalidInsn(f"{name}: unused offset field must be 0, is {off}", pc)
    if spec.off == "div" and off not in (0, 1):
        raise BpfInvalidInsn(f"{name}: offset must be 0 (unsigned) or 1 (signed), is {off}", pc)
    if spec.off == "movsx64" and off not in (0, 8, 16, 32):
        raise BpfInvalidInsn(f"{name}: offset must be 0, 8, 16 or 32, is {off}", pc)
    if spec.off == "movsx32" and off not in (0, 8, 16):
        raise BpfInvalidInsn(f"{name}: offset must be 0, 8 or 16, is {off}", pc)
    if spec.imm == "0" and imm:
        raise BpfInvalidInsn(f"{name}: unused imm field must be 0, is {imm}", pc)
    if spec.imm == "end" and imm not in (16, 32, 64):
        raise BpfInvalidInsn(f"{name}: byte swap width must be 16, 32 or 64, is {imm}", pc)
    if spec.imm == "atomic":
        if imm not in ATOMIC_OPS:
            raise BpfInvalidInsn(f"{name}: unknown atomic operation 0x{imm & 0xFFFFFFFF:x}", pc)
        if s == BPF_REG_FP and imm & BPF_FETCH and imm != BPF_CMPXCHG:
            raise BpfInvalidInsn(f"{name}: fetch would write the read-only r10", pc)
    return spec


def min_cpu_version(insn: Insn) -> int:
    """Lowest cpu version (v1-v4, as LLVM's -mcpu) that includes this instruction."""
    spec = spec_of(insn)
    v = spec.version
    if spec.off == "div" and insn.off == 1:
        v = 4  # signed division and modulo (RFC 9669 4.1)
    elif spec.off.startswith("movsx") and insn.off:
        v = 4
    elif spec.imm == "atomic" and insn.imm not in (BPF_ADD,):
        v = max(v, 3)  # fetch, or/and/xor, xchg, cmpxchg came with -mcpu=v3
    return v
