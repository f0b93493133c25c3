"""Disassembler to the conformance ``.data`` assembly syntax (uBPF/bpf_conformance style).

``disassemble(insns)`` gives one line per instruction (``lddw`` covers two slots) that
``tuxnet.bpf.asm.assemble`` turns back into the same bytes. Jump targets are printed
as relative offsets (``+3``/``-2``). A slot that is not a valid encoding is printed as
``.insn opcode, dst, src, off, imm`` so that any byte string round-trips.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuxnet.bpf import isa
from tuxnet.bpf.errors import BpfInvalidInsn
from tuxnet.bpf.isa import Insn

_LD_PSEUDO = {
    isa.BPF_PSEUDO_MAP_FD: "map_fd", isa.BPF_PSEUDO_MAP_VALUE: "map_value",
    isa.BPF_PSEUDO_BTF_ID: "var_addr", isa.BPF_PSEUDO_FUNC: "code_addr",
    isa.BPF_PSEUDO_MAP_IDX: "map_idx", isa.BPF_PSEUDO_MAP_IDX_VALUE: "map_idx_value",
}
LD_PSEUDO_NAMES = {v: k for k, v in _LD_PSEUDO.items()}
_WITH_VALUE_OFFSET = {isa.BPF_PSEUDO_MAP_VALUE, isa.BPF_PSEUDO_MAP_IDX_VALUE}
_ATOMIC_NAMES = {isa.BPF_ADD: "add", isa.BPF_OR: "or", isa.BPF_AND: "and",
                 isa.BPF_XOR: "xor", isa.BPF_XCHG & 0xF0: "xchg",
                 isa.BPF_CMPXCHG & 0xF0: "cmpxchg"}


def reg(n: int) -> str:
    return f"%r{n}"


def imm_text(v: int) -> str:
    """Small values in decimal; others as their 32-bit hex pattern (both re-assemble)."""
    return str(v) if -0x10000 < v < 0x10000 else f"0x{v & 0xFFFF_FFFF:x}"


def rel(v: int) -> str:
    return f"+{v}" if v >= 0 else str(v)


def mem(base: int, off: int) -> str:
    if off == 0:
        return f"[{reg(base)}]"
    return f"[{reg(base)}{rel(off)}]"


def raw_insn(i: Insn) -> str:
    return f".insn 0x{i.opcode:02x}, {i.dst}, {i.src}, {i.off}, {i.imm}"


def format_insn(insns: Sequence[Insn], pc: int) -> str:
    """One instruction (with its second slot for lddw) in assembly syntax."""
    i = insns[pc]
    try:
        spec = isa.validate_insn(i, pc)
    except BpfInvalidInsn:
        return raw_insn(i)
    op, cls, name = i.opcode, i.opcode & 0x07, spec.name
    if op == isa.OPCODE_LDDW:
        return _lddw(insns, pc)
    if cls in (isa.BPF_ALU, isa.BPF_ALU64):
        return _alu(i, name)
    if cls in (isa.BPF_JMP, isa.BPF_JMP32):
        return _jmp(i, name)
    if cls == isa.BPF_LDX:
        return f"{name} {reg(i.dst)}, {mem(i.src, i.off)}"
    if cls == isa.BPF_ST:
        return f"{name} {mem(i.dst, i.off)}, {imm_text(i.imm)}"
    if op & 0xE0 == isa.BPF_ATOMIC:
        suffix = "32" if op & 0x18 == isa.BPF_W else ""
        fetch = "fetch " if i.imm & isa.BPF_FETCH and i.imm & 0xF0 < 0xE0 else ""
        return f"lock {fetch}{_ATOMIC_NAMES[i.imm & 0xF0]}{suffix} {mem(i.dst, i.off)}, " \
               f"{reg(i.src)}"
    if cls == isa.BPF_STX:
        return f"{name} {mem(i.dst, i.off)}, {reg(i.src)}"
    if op & 0xE0 == isa.BPF_IND:
        return f"{name} {reg(i.src)}, {imm_text(i.imm)}"
    return f"{name} {imm_text(i.imm)}"  # legacy ld_abs


def _lddw(insns: Sequence[Insn], pc: int) -> str:
    i = insns[pc]
    if pc + 1 >= len(insns):
        return raw_insn(i)
    hi = insns[pc + 1]
    if hi.opcode or hi.dst or hi.src or hi.off:
        return raw_insn(i)
    if i.src == 0:
        value = (i.imm & 0xFFFF_FFFF) | ((hi.imm & 0xFFFF_FFFF) << 32)
        return f"lddw {reg(i.dst)}, 0x{value:x}"
    kind = _LD_PSEUDO[i.src]
    text = f"lddw {reg(i.dst)}, {kind} {i.imm}"
    if i.src in _WITH_VALUE_OFFSET or hi.imm:
        text += f", {hi.imm}"
    return text


def _alu(i: Insn, name: str) -> str:
    code = i.opcode & 0xF0
    is64 = i.opcode & 0x07 == isa.BPF_ALU64
    if code == isa.BPF_END:
        return f"{name}{i.imm} {reg(i.dst)}"
    if code == isa.BPF_NEG:
        return f"{name} {reg(i.dst)}"
    if code in (isa.BPF_DIV, isa.BPF_MOD) and i.off == 1:
        name = "s" + name
    if i.opcode & isa.BPF_X:
        if code == isa.BPF_MOV and i.off:
            name = f"movsx{i.off}{'64' if is64 else '32'}"
        return f"{name} {reg(i.dst)}, {reg(i.src)}"
    return f"{name} {reg(i.dst)}, {imm_text(i.imm)}"


def _jmp(i: Insn, name: str) -> str:
    op = i.opcode
    if op == isa.OPCODE_EXIT:
        return "exit"
    if op == isa.BPF_JMP | isa.BPF_JA:
        return f"ja {rel(i.off)}"
    if op == isa.BPF_JMP32 | isa.BPF_JA:
        return f"ja32 {rel(i.imm)}"
    if op == isa.OPCODE_CALL:
        if i.src == isa.BPF_PSEUDO_CALL:
            return f"call local {rel(i.imm)}"
        if i.src == isa.BPF_PSEUDO_KFUNC_CALL:
            return f"call runtime {i.imm}"
        return f"call {i.imm}"
    if op == isa.OPCODE_CALLX:
        return f"call {reg(i.dst)}"
    src = reg(i.src) if op & isa.BPF_X else imm_text(i.imm)
    return f"{name} {reg(i.dst)}, {src}, {rel(i.off)}"


def disassemble(insns: Sequence[Insn]) -> list[str]:
    """One assembly line per instruction; lddw's two slots make one line."""
    lines = []
    pc = 0
    while pc < len(insns):
        text = format_insn(insns, pc)
        lines.append(text)
        pc += 2 if text.startswith("lddw") else 1
    return lines
