"""Assembler for the conformance ``.data`` syntax (uBPF / bpf_conformance dialect).

One instruction per line; ``#`` starts a comment; ``name:`` defines a label. Syntax::

    mov32 %r0, 1            add %r1, %r2          neg %r3        sdiv32 %r0, -3
    movsx1664 %r0, %r1      le16 %r0  be32 %r0  bswap64 %r0  (swap64 is an alias)
    ldxdw %r0, [%r1+8]      ldxsh %r0, [%r10-2]   stw [%r10-4], 7   stxb [%r1], %r2
    lock add [%r10-8], %r1  lock fetch or32 [%r1], %r2  lock xchg ...  lock cmpxchg ...
    jeq %r1, 0x5, +2        jsgt32 %r1, %r2, label     ja -3    ja32 label
    call 5 | call helper 5 | call local func | call runtime 7 (kfunc) | call %r2 (callx)
    lddw %r0, 0x1122334455667788
    lddw %r1, map_fd 3 | map_value 3, 16 | map_idx 0 | map_idx_value 0, 8
              | var_addr N | code_addr N
    exit
    .insn 0x07, 0, 0, 1, 1   (one raw slot: opcode, dst, src, off, imm)

A jump target is ``+N``/``-N`` (relative to the next instruction, RFC 9669 4.3) or a
label; the label ``exit`` means the first ``exit`` unless defined explicitly (as in the
conformance files). Decimal immediates are signed 32-bit values; hex immediates are
32-bit patterns (``0xffffffff`` is -1); a value outside both is an error, as is an
offset outside 16 signed bits, so nothing is silently truncated.
"""

from __future__ import annotations

import re

from tuxnet.bpf import isa
from tuxnet.bpf.disasm import LD_PSEUDO_NAMES
from tuxnet.bpf.errors import BpfAsmError
from tuxnet.bpf.isa import Insn

_ALU_OPS = {
    "add": isa.BPF_ADD, "sub": isa.BPF_SUB, "mul": isa.BPF_MUL, "div": isa.BPF_DIV,
    "sdiv": isa.BPF_DIV, "or": isa.BPF_OR, "and": isa.BPF_AND, "lsh": isa.BPF_LSH,
    "rsh": isa.BPF_RSH, "mod": isa.BPF_MOD, "smod": isa.BPF_MOD, "xor": isa.BPF_XOR,
    "mov": isa.BPF_MOV, "arsh": isa.BPF_ARSH,
}
_JMP_OPS = {name: code for code, name in isa.JMP_NAMES.items()}
_SIZES = {"b": isa.BPF_B, "h": isa.BPF_H, "w": isa.BPF_W, "dw": isa.BPF_DW}
_ATOMIC_OPS = {"add": isa.BPF_ADD, "or": isa.BPF_OR, "and": isa.BPF_AND, "xor": isa.BPF_XOR,
               "xchg": isa.BPF_XCHG, "cmpxchg": isa.BPF_CMPXCHG}
_NUM = re.compile(r"^([+-]?)(0x[0-9a-fA-F]+|[0-9]+)$")
_REG = re.compile(r"^%r([0-9]+)$")
_MEM = re.compile(r"^\[(%r[0-9]+)(?:([+-])(0x[0-9a-fA-F]+|[0-9]+))?\]$")
_LABEL = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_BRACKETS = re.compile(r"\[[^\]]*\]")
_MOVSX = re.compile(r"^movsx(8|16|32)(32|64)$")
_END = re.compile(r"^(le|be|bswap|swap)(16|32|64)$")


class _Line:
    """Parsing state of one source line."""

    def __init__(self, text: str, lineno: int) -> None:
        self.text = text
        self.lineno = lineno

    def error(self, message: str) -> BpfAsmError:
        return BpfAsmError(message, self.lineno, self.text)

    def number(self, tok: str, what: str = "immediate") -> tuple[int, bool]:
        m = _NUM.match(tok)
        if m is None:
            raise self.error(f"invalid {what} {tok!r}")
        value = int(m.group(2), 0)
        return (-value if m.group(1) == "-" else value), m.group(2).startswith("0x")

    def imm32(self, tok: str) -> int:
        value, is_hex = self.number(tok)
        if -0x8000_0000 <= value <= 0x7FFF_FFFF:
            return value
        if is_hex and 0 <= value <= 0xFFFF_FFFF:
            return value - (1 << 32)  # a 32-bit pattern
        raise self.error(f"immediate {tok} out of 32-bit range (decimal is signed "
                         f"-2147483648..2147483647, hex is a pattern up to 0xffffffff)")

    def imm64(self, tok: str) -> int:
        value, _ = self.number(tok)
        if -(1 << 63) <= value < (1 << 64):
            return value & 0xFFFF_FFFF_FFFF_FFFF
        raise self.error(f"immediate {tok} out of 64-bit range")

    def offset(self, value: int, tok: str) -> int:
        if -0x8000 <= value <= 0x7FFF:
            return value
        raise self.error(f"offset {tok} out of 16-bit signed range (-32768..32767)")

    def reg(self, tok: str) -> int:
        m = _REG.match(tok)
        if m is None or int(m.group(1)) > isa.BPF_REG_FP:
            raise self.error(f"invalid register {tok!r} (expected %r0..%r10)")
        return int(m.group(1))

    def mem(self, tok: str) -> tuple[int, int]:
        m = _MEM.match(tok)
        if m is None:
            raise self.error(f"expected a memory operand like [%r1+8], got {tok!r}")
        base = self.reg(m.group(1))
        if m.group(2) is None:
            return base, 0
        value = int(m.group(3), 0)
        return base, self.offset(-value if m.group(2) == "-" else value, tok)

    def arity(self, mnemonic: str, ops: list[str], *counts: int) -> None:
        if len(ops) not in counts:
            want = " or ".join(str(c) for c in counts)
            raise self.error(f"invalid number of operands for {mnemonic}: expected {want}, "
                             f"got {len(ops)}")


class _Fixup:
    """A jump or call whose target is a label, resolved after the last line."""

    __slots__ = ("field", "label", "line", "pc")

    def __init__(self, pc: int, label: str, field: str, line: _Line) -> None:
        self.pc, self.label, self.field, self.line = pc, label, field, line


def assemble(source: str) -> list[Insn]:
    """Assemble ``source``; raise :class:`BpfAsmError` (with the line number) on bad input."""
    out: list[Insn] = []
    labels: dict[str, int] = {}
    fixups: list[_Fixup] = []
    first_exit: int | None = None
    for lineno, raw in enumerate(source.splitlines(), 1):
        text = raw.split("#", 1)[0].strip()
        line = _Line(raw.strip(), lineno)
        while text and ":" in text.split(None, 1)[0]:
            label, _, text = text.partition(":")
            label, text = label.strip(), text.strip()
            if not _LABEL.match(label):
                raise line.error(f"invalid label {label!r}")
            if label in labels:
                raise line.error(f"duplicate label {label!r} (first at insn {labels[label]})")
            labels[label] = len(out)
        if not text:
            continue
        text = _BRACKETS.sub(lambda m: re.sub(r"\s+", "", m.group(0)), text)
        toks = [t for t in re.split(r"[,\s]+", text) if t]
        mnemonic, ops = toks[0].lower(), toks[1:]
        if mnemonic == "exit" and first_exit is None:
            first_exit = len(out)
        out.extend(_encode(mnemonic, ops, line, len(out), fixups))
    if first_exit is not None:
        labels.setdefault("exit", first_exit)
    for f in fixups:
        if f.label not in labels:
            raise f.line.error(f"invalid label {f.label!r}: not defined")
        rel = labels[f.label] - f.pc - 1
        insn = out[f.pc]
        if f.field == "off":
            out[f.pc] = insn._replace(off=f.line.offset(rel, f.label))
        else:
            out[f.pc] = insn._replace(imm=rel)
    return out


def _target(tok: str, line: _Line, pc: int, field: str, fixups: list[_Fixup]) -> int:
    """A relative jump distance, or 0 with a fixup recorded for a label."""
    if _NUM.match(tok):
        value, _ = line.number(tok, "jump offset")
        return line.offset(value, tok) if field == "off" else line.imm32(tok)
    if not _LABEL.match(tok):
        raise line.error(f"invalid jump target {tok!r}")
    fixups.append(_Fixup(pc, tok, field, line))
    return 0


def _encode(mn: str, ops: list[str], line: _Line, pc: int,
            fixups: list[_Fixup]) -> list[Insn]:
    if mn == "exit":
        line.arity(mn, ops, 0)
        return [Insn(isa.OPCODE_EXIT)]
    if mn in ("ja", "ja32"):
        line.arity(mn, ops, 1)
        if mn == "ja":
            return [Insn(isa.BPF_JMP | isa.BPF_JA, off=_target(ops[0], line, pc, "off", fixups))]
        return [Insn(isa.BPF_JMP32 | isa.BPF_JA, imm=_target(ops[0], line, pc, "imm", fixups))]
    if mn == "call":
        return [_call(ops, line, pc, fixups)]
    if mn == "lddw":
        return _lddw(ops, line)
    if mn == "lock":
        return [_lock(ops, line)]
    if mn == ".insn":
        line.arity(mn, ops, 5)
        vals = [line.number(t, "field")[0] for t in ops]
        if not (0 <= vals[0] <= 0xFF and 0 <= vals[1] <= 15 and 0 <= vals[2] <= 15):
            raise line.error("invalid .insn: opcode is a byte, dst and src are 0..15")
        return [Insn(vals[0], vals[1], vals[2], line.offset(vals[3], ops[3]),
                     line.imm32(ops[4]))]
    base32 = mn[:-2] if mn.endswith("32") else mn
    if base32 in _JMP_OPS:
        cls = isa.BPF_JMP32 if mn.endswith("32") else isa.BPF_JMP
        line.arity(mn, ops, 3)
        dst = line.reg(ops[0])
        off = _target(ops[2], line, pc, "off", fixups)
        code = cls | _JMP_OPS[base32]
        if ops[1].startswith("%"):
            return [Insn(code | isa.BPF_X, dst, line.reg(ops[1]), off)]
        return [Insn(code | isa.BPF_K, dst, 0, off, line.imm32(ops[1]))]
    insn = _mem(mn, ops, line)
    if insn is not None:
        return [insn]
    return [_alu(mn, ops, line)]


def _call(ops: list[str], line: _Line, pc: int, fixups: list[_Fixup]) -> Insn:
    line.arity("call", ops, 1, 2)
    mode, target = ("helper", ops[0]) if len(ops) == 1 else (ops[0], ops[1])
    if mode == "helper":
        if target.startswith("%"):  # callx: LLVM puts the register in dst
            return Insn(isa.OPCODE_CALLX, line.reg(target))
        return Insn(isa.OPCODE_CALL, imm=line.imm32(target))
    if mode == "local":
        imm = _target(target, line, pc, "imm", fixups)
        return Insn(isa.OPCODE_CALL, src=isa.BPF_PSEUDO_CALL, imm=imm)
    if mode in ("runtime", "kfunc"):
        return Insn(isa.OPCODE_CALL, src=isa.BPF_PSEUDO_KFUNC_CALL, imm=line.imm32(target))
    raise line.error(f"invalid call mode {mode!r} (helper, local, runtime)")


def _lddw(ops: list[str], line: _Line) -> list[Insn]:
    if len(ops) < 2:
        line.arity("lddw", ops, 2)
    dst = line.reg(ops[0])
    if len(ops) == 2 and _NUM.match(ops[1]):
        return isa.lddw(dst, line.imm64(ops[1]))
    src = LD_PSEUDO_NAMES.get(ops[1])
    if src is None or len(ops) not in (3, 4):
        raise line.error("lddw takes a 64-bit immediate or a relocation like 'map_fd 3' "
                         "or 'map_value 3, 16'")
    next_imm = line.imm32(ops[3]) if len(ops) == 4 else 0
    return isa.lddw(dst, line.imm32(ops[2]), src, next_imm)


def _lock(ops: list[str], line: _Line) -> Insn:
    # lock [fetch] <op>[32] [%rD+off], %rS
    fetch = bool(ops) and ops[0] == "fetch"
    rest = ops[1:] if fetch else ops
    if len(rest) != 3:
        raise line.error("invalid number of operands for lock: expected "
                         "'lock [fetch] op [%rD+off], %rS'")
    name = rest[0]
    size = isa.BPF_W if name.endswith("32") else isa.BPF_DW
    name = name[:-2] if name.endswith("32") else name
    if name not in _ATOMIC_OPS:
        raise line.error(f"invalid atomic operation {rest[0]!r}")
    imm = _ATOMIC_OPS[name] | (isa.BPF_FETCH if fetch else 0)
    dst, off = line.mem(rest[1])
    return Insn(isa.BPF_STX | isa.BPF_ATOMIC | size, dst, line.reg(rest[2]), off, imm)


def _mem(mn: str, ops: list[str], line: _Line) -> Insn | None:
    """ldx*/ldxs*/st*/stx*/ldabs*/ldind*, or None if ``mn`` is none of them."""
    for prefix, cls, mode in (("ldxs", isa.BPF_LDX, isa.BPF_MEMSX),
                              ("ldx", isa.BPF_LDX, isa.BPF_MEM),
                              ("stx", isa.BPF_STX, isa.BPF_MEM), ("st", isa.BPF_ST, isa.BPF_MEM),
                              ("ldabs", isa.BPF_LD, isa.BPF_ABS),
                              ("ldind", isa.BPF_LD, isa.BPF_IND)):
        if not mn.startswith(prefix) or mn[len(prefix):] not in _SIZES:
            continue
        size = _SIZES[mn[len(prefix):]]
        if (mode != isa.BPF_MEM or cls == isa.BPF_LD) and size == isa.BPF_DW:
            return None
        opcode = cls | mode | size
        if cls == isa.BPF_LD:
            if mode == isa.BPF_ABS:
                line.arity(mn, ops, 1)
                return Insn(opcode, imm=line.imm32(ops[0]))
            line.arity(mn, ops, 2)
            return Insn(opcode, src=line.reg(ops[0]), imm=line.imm32(ops[1]))
        line.arity(mn, ops, 2)
        if cls == isa.BPF_LDX:
            src, off = line.mem(ops[1])
            return Insn(opcode, line.reg(ops[0]), src, off)
        dst, off = line.mem(ops[0])
        if cls == isa.BPF_ST:
            return Insn(opcode, dst, 0, off, line.imm32(ops[1]))
        return Insn(opcode, dst, line.reg(ops[1]), off)
    return None


def _alu(mn: str, ops: list[str], line: _Line) -> Insn:
    end = _END.match(mn)
    if end:
        line.arity(mn, ops, 1)
        kind, width = end.group(1), int(end.group(2))
        opcode = {"le": isa.BPF_ALU | isa.BPF_END | isa.BPF_TO_LE,
                  "be": isa.BPF_ALU | isa.BPF_END | isa.BPF_TO_BE}.get(
                      kind, isa.BPF_ALU64 | isa.BPF_END | isa.BPF_TO_LE)
        return Insn(opcode, line.reg(ops[0]), imm=width)
    movsx = _MOVSX.match(mn)
    if movsx:
        line.arity(mn, ops, 2)
        cls = isa.BPF_ALU64 if movsx.group(2) == "64" else isa.BPF_ALU
        return Insn(cls | isa.BPF_MOV | isa.BPF_X, line.reg(ops[0]), line.reg(ops[1]),
                    int(movsx.group(1)))
    cls, base = isa.BPF_ALU64, mn
    if mn.endswith("32"):
        cls, base = isa.BPF_ALU, mn[:-2]
    elif mn.endswith("64"):
        base = mn[:-2]
    if base == "neg":
        line.arity(mn, ops, 1)
        return Insn(cls | isa.BPF_NEG, line.reg(ops[0]))
    if base not in _ALU_OPS:
        raise line.error(f"invalid mnemonic {mn!r}")
    line.arity(mn, ops, 2)
    code = cls | _ALU_OPS[base]
    off = 1 if base in ("sdiv", "smod") else 0  # RFC 9669 4.1: offset 1 = signed
    dst = line.reg(ops[0])
    if ops[1].startswith("%"):
        return Insn(code | isa.BPF_X, dst, line.reg(ops[1]), off)
    return Insn(code | isa.BPF_K, dst, 0, off, line.imm32(ops[1]))
