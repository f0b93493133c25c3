"""Instructions in the kernel verifier log's syntax (kernel/bpf/disasm.c: print_bpf_insn).

``r0 = *(u32 *)(r1 +0)``, ``if r4 > r3 goto pc+3``, ``w2 += 1``, ``call bpf_map_lookup_elem#1``
— the text ``bpftool prog dump xlated`` and the verifier log print, so a tuxnet log
reads like the kernel's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn

_ALU_OPS = {
    isa.BPF_ADD: "+=", isa.BPF_SUB: "-=", isa.BPF_MUL: "*=", isa.BPF_DIV: "/=",
    isa.BPF_OR: "|=", isa.BPF_AND: "&=", isa.BPF_LSH: "<<=", isa.BPF_RSH: ">>=",
    isa.BPF_MOD: "%=", isa.BPF_XOR: "^=", isa.BPF_MOV: "=", isa.BPF_ARSH: "s>>=",
}
_JMP_OPS = {
    isa.BPF_JEQ: "==", isa.BPF_JGT: ">", isa.BPF_JGE: ">=", isa.BPF_JSET: "&",
    isa.BPF_JNE: "!=", isa.BPF_JSGT: "s>", isa.BPF_JSGE: "s>=", isa.BPF_JLT: "<",
    isa.BPF_JLE: "<=", isa.BPF_JSLT: "s<", isa.BPF_JSLE: "s<=",
}
_SIZE = {isa.BPF_B: "u8", isa.BPF_H: "u16", isa.BPF_W: "u32", isa.BPF_DW: "u64"}
_SSIZE = {isa.BPF_B: "s8", isa.BPF_H: "s16", isa.BPF_W: "s32"}
_ATOMIC = {isa.BPF_ADD: "add", isa.BPF_AND: "and", isa.BPF_OR: "or", isa.BPF_XOR: "xor"}
_LD_KIND = {isa.BPF_PSEUDO_MAP_FD: "fd", isa.BPF_PSEUDO_MAP_IDX: "idx",
            isa.BPF_PSEUDO_MAP_VALUE: "fd", isa.BPF_PSEUDO_MAP_IDX_VALUE: "idx"}

HelperName = Callable[[int], str]


def _mem(reg: int, off: int) -> str:
    return f"(r{reg} {off:+d})"


def _default_name(ident: int) -> str:
    return f"unknown#{ident}"


def kernel_insn_text(insns: Sequence[Insn], pc: int,
                     helper_name: HelperName = _default_name) -> str:
    """One instruction as the kernel prints it, without the ``(op)`` prefix."""
    i = insns[pc]
    op, cls = i.opcode, i.opcode & 0x07
    if cls in (isa.BPF_ALU, isa.BPF_ALU64):
        return _alu(i)
    if cls in (isa.BPF_JMP, isa.BPF_JMP32):
        return _jmp(i, helper_name)
    size = op & 0x18
    if cls == isa.BPF_LDX:
        kind = _SSIZE[size] if op & 0xE0 == isa.BPF_MEMSX else _SIZE[size]
        return f"r{i.dst} = *({kind} *){_mem(i.src, i.off)}"
    if cls == isa.BPF_ST:
        return f"*({_SIZE[size]} *){_mem(i.dst, i.off)} = {i.imm}"
    if cls == isa.BPF_STX and op & 0xE0 == isa.BPF_ATOMIC:
        return _atomic(i)
    if cls == isa.BPF_STX:
        return f"*({_SIZE[size]} *){_mem(i.dst, i.off)} = r{i.src}"
    if op == isa.OPCODE_LDDW:
        hi = insns[pc + 1].imm if pc + 1 < len(insns) else 0
        if i.src == 0:
            return f"r{i.dst} = {(i.imm & 0xFFFF_FFFF) | ((hi & 0xFFFF_FFFF) << 32):#x}"
        ld_kind = _LD_KIND.get(i.src)
        if ld_kind is None:
            return f"r{i.dst} = ld_pseudo[src={i.src}, imm={i.imm}]"
        text = f"r{i.dst} = map[{ld_kind}:{i.imm}]"
        if i.src in (isa.BPF_PSEUDO_MAP_VALUE, isa.BPF_PSEUDO_MAP_IDX_VALUE):
            text += f"+{hi}"
        return text
    return f"(bad insn 0x{op:02x})"


def _alu(i: Insn) -> str:
    is64 = i.opcode & 0x07 == isa.BPF_ALU64
    r = "r" if is64 else "w"
    code = i.opcode & 0xF0
    d = f"{r}{i.dst}"
    if code == isa.BPF_NEG:
        return f"{d} = -{d}"
    if code == isa.BPF_END:
        name = "bswap" if is64 else "be" if i.opcode & isa.BPF_X else "le"
        return f"r{i.dst} = {name}{i.imm} r{i.dst}"
    opname = _ALU_OPS[code]
    if code in (isa.BPF_DIV, isa.BPF_MOD) and i.off == 1:
        opname = "s" + opname
    if i.opcode & isa.BPF_X:
        if code == isa.BPF_MOV and i.off:
            return f"{d} = (s{i.off}){r}{i.src}"
        return f"{d} {opname} {r}{i.src}"
    return f"{d} {opname} {i.imm}"


def _jmp(i: Insn, helper_name: HelperName) -> str:
    op = i.opcode
    if op == isa.OPCODE_EXIT:
        return "exit"
    if op == isa.OPCODE_CALL:
        if i.src == isa.BPF_PSEUDO_CALL:
            return f"call pc{i.imm:+d}"
        if i.src == isa.BPF_PSEUDO_KFUNC_CALL:
            return f"call kernel-function#{i.imm}"
        return f"call {helper_name(i.imm)}"
    if op == isa.OPCODE_CALLX:
        return f"callx r{i.dst}"
    if op == isa.BPF_JMP | isa.BPF_JA:
        return f"goto pc{i.off:+d}"
    if op == isa.BPF_JMP32 | isa.BPF_JA:
        return f"gotol pc{i.imm:+d}"
    r = "w" if op & 0x07 == isa.BPF_JMP32 else "r"
    rhs = f"{r}{i.src}" if op & isa.BPF_X else f"{i.imm & 0xFFFF_FFFF:#x}"
    return f"if {r}{i.dst} {_JMP_OPS[op & 0xF0]} {rhs} goto pc{i.off:+d}"


def _atomic(i: Insn) -> str:
    size = _SIZE[i.opcode & 0x18]
    where = f"({size} *){_mem(i.dst, i.off)}"
    imm = i.imm
    if imm == isa.BPF_XCHG:
        return f"r{i.src} = atomic_xchg({where}, r{i.src})"
    if imm == isa.BPF_CMPXCHG:
        return f"r0 = atomic_cmpxchg({where}, r0, r{i.src})"
    name = _ATOMIC.get(imm & 0xF0, "?")
    if imm & isa.BPF_FETCH:
        bits = "64" if i.opcode & 0x18 == isa.BPF_DW else ""
        return f"r{i.src} = atomic{bits}_fetch_{name}({where}, r{i.src})"
    return f"lock *{where} {_ALU_OPS[imm & 0xF0]} r{i.src}"


def kernel_line(insns: Sequence[Insn], pc: int, helper_name: HelperName = _default_name) -> str:
    """``pc: (op) text`` as a verifier log line."""
    return f"{pc}: ({insns[pc].opcode:02x}) {kernel_insn_text(insns, pc, helper_name)}"
