"""A loaded eBPF program: instructions that passed the structural checks.

``Program.load`` is the loader's first half (the part of the kernel's ``bpf_check`` that
does not track types): every slot is a valid encoding (``isa.validate_insn``), every
``lddw`` has its second slot, every jump and local call lands on an instruction inside
the program, and the program ends in ``exit`` or an unconditional jump. Type and range
checks are the verifier's job; the interpreter checks memory accesses at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tuxnet.bpf import isa
from tuxnet.bpf.errors import BpfInvalidInsn, BpfLoadError
from tuxnet.bpf.isa import Insn


class Program:
    """An immutable, structurally valid instruction sequence (one entry per 8-byte slot)."""

    __slots__ = ("__weakref__", "insns", "name", "subprogs")

    def __init__(self, insns: tuple[Insn, ...], name: str, subprogs: tuple[int, ...]) -> None:
        self.insns = insns
        self.name = name
        self.subprogs = subprogs  # start pc of each function; 0 is the main program

    def __len__(self) -> int:
        return len(self.insns)

    def __repr__(self) -> str:
        return f"Program({self.name!r}, {len(self.insns)} insns)"

    @classmethod
    def load(cls, insns: Iterable[Insn], name: str = "prog", *,
             cpu_version: int = 4) -> Program:
        """Check ``insns`` and wrap them; raise BpfInvalidInsn / BpfLoadError on bad input."""
        code = tuple(insns)
        check_program(code, cpu_version=cpu_version)
        starts = {0}
        for pc, i in enumerate(code):
            if i.opcode == isa.OPCODE_CALL and i.src == isa.BPF_PSEUDO_CALL:
                starts.add(pc + i.imm + 1)
        return cls(code, name, tuple(sorted(starts)))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, name: str = "prog", *,
                   cpu_version: int = 4) -> Program:
        return cls.load(isa.decode(data), name, cpu_version=cpu_version)

    def to_bytes(self) -> bytes:
        return isa.encode(self.insns)


def check_program(code: Sequence[Insn], *, cpu_version: int = 4) -> None:
    """Structural checks over a whole program (see module docstring)."""
    n = len(code)
    if n == 0:
        raise BpfLoadError("program has no instructions")
    if n > isa.BPF_COMPLEXITY_LIMIT_INSNS:
        raise BpfLoadError(f"program has {n} instructions, more than the "
                           f"{isa.BPF_COMPLEXITY_LIMIT_INSNS} allowed")
    second = set()  # indices of lddw second slots: never executed, never a jump target
    pc = 0
    while pc < n:
        insn = code[pc]
        spec = isa.validate_insn(insn, pc)
        if isa.min_cpu_version(insn) > cpu_version:
            raise BpfInvalidInsn(f"{spec.name} needs cpu v{isa.min_cpu_version(insn)}, "
                                 f"program is loaded as v{cpu_version}", pc)
        if insn.opcode & 0xE7 in (isa.BPF_LD | isa.BPF_ABS, isa.BPF_LD | isa.BPF_IND):
            raise BpfLoadError("legacy packet access (RFC 9669 5.5) is not supported", pc)
        if insn.opcode == isa.OPCODE_LDDW:
            if pc + 1 >= n:
                raise BpfLoadError("incomplete lddw: second slot missing", pc)
            nxt = code[pc + 1]
            if nxt.opcode or nxt.dst or nxt.src or nxt.off:
                raise BpfInvalidInsn("lddw second slot must have opcode, registers and "
                                     "offset zero (RFC 9669 5.4)", pc + 1)
            second.add(pc + 1)
            pc += 2
            continue
        pc += 1
    for pc, insn in enumerate(code):
        if pc in second:
            continue
        target = _target(insn, pc)
        if target is None:
            continue
        if not 0 <= target < n:
            raise BpfLoadError(f"jump out of range from insn {pc} to {target}", pc)
        if target in second:
            raise BpfLoadError(f"jump from insn {pc} into the middle of lddw at {target - 1}",
                               pc)
    last = code[-1]
    if n - 1 in second or last.opcode not in (isa.OPCODE_EXIT, isa.BPF_JMP | isa.BPF_JA,
                                              isa.BPF_JMP32 | isa.BPF_JA):
        raise BpfLoadError("last insn is not an exit or jmp", n - 1)


def _target(insn: Insn, pc: int) -> int | None:
    """Where a jump or local call goes (RFC 9669 4.3: relative to the next insn), else None."""
    op = insn.opcode
    cls = op & 0x07
    if cls not in (isa.BPF_JMP, isa.BPF_JMP32):
        return None
    code = op & 0xF0
    if op == isa.OPCODE_CALL:
        return pc + insn.imm + 1 if insn.src == isa.BPF_PSEUDO_CALL else None
    if code in (isa.BPF_CALL, isa.BPF_EXIT):
        return None
    if op == isa.BPF_JMP32 | isa.BPF_JA:
        return pc + insn.imm + 1
    return pc + insn.off + 1
