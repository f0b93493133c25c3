"""Loads, stores and atomics (RFC 9669 5) as Python source, and the register operands
every statement builder reads.

Where the address is known the access is specialised: a stack slot at a constant
distance from r10 is an index into the frame's bytearray ``stk``; through any other
base register the region is looked up once (``bN = R[rN >> 32]; oN = rN & M32``, kept
while rN and the region table cannot have changed) and each access is ``bN[oN + k]``
or ``unpack_from(bN, oN + k)`` with a constant ``0 <= k``; registers at a known
distance from a looked-up one (copies, ``+ const``, ``+ small register``) share it.
Anything else computes the address as the interpreter does. Python checks every index
(a negative one is never produced); when it refuses one, the engine lets the
interpreter redo that instruction (see ``machine``), so a fault, or an address that
leaves its 4 GiB slot for the next region, behaves exactly as there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tuxnet.bpf import isa
from tuxnet.bpf.isa import MAX_BPF_STACK, Insn
from tuxnet.bpf.memory import STACK_SLOT0
from tuxnet.bpf.translate.absval import AV, M32, M64, TOP, EmitState

OFF_SPAN = 1 << 20   # distances kept between a looked-up base and its accesses
PTR_UB = (1 << 63) - 1  # a pointer into one of fewer than 2**31 regions is below this
SIZE_CODE = {1: "B", 2: "H", 4: "I", 8: "Q"}


def lit(v: int) -> str:
    return str(v) if v < 0x10000 else hex(v)


@dataclass
class Opnd:
    text: str
    av: AV


@dataclass
class Fwd:
    """A result handed to the next instruction as an expression (not assigned)."""

    reg: int
    expr: str
    faults: bool  # evaluating it may fault (a load): the reader reports as the loader


class MemGen:
    """Operands and memory instructions of :class:`~.codegen.InsnGen`."""

    code: Sequence[Insn]
    is_main: bool
    absorbed: int | None
    inp: Fwd | None

    def reg(self, r: int, st: EmitState) -> Opnd:
        a = st.av[r]
        if self.inp is not None and self.inp.reg == r:
            return Opnd(self.inp.expr, a)
        return Opnd(lit(a.const) if a.const is not None else f"r{r}", a)

    def _place(self, base: int, off: int, size: int, st: EmitState, lines: list[str],
               named: bool = False) -> tuple[str, str]:
        """(buffer, index) texts for ``size`` bytes at ``[r{base} + off]``."""
        a = st.av[base]
        if a.fp is not None:
            i = MAX_BPF_STACK + a.fp + off
            if i >= 0 and i + size <= MAX_BPF_STACK:
                return "stk", str(i)
        if a.const is not None:
            addr = (a.const + off) & M64
            i = addr - (STACK_SLOT0 << 32)
            if self.is_main and i >= 0 and i + size <= MAX_BPF_STACK:
                return "stk", str(i)  # frame 0's stack, reached through a constant
            return f"R[{lit(addr >> 32)}]", lit(addr & M32)
        e = st.cache.get(base)
        if e is not None and 0 <= e[2] + off < OFF_SPAN:
            k = e[2] + off
            return e[0], f"{e[1]} + {k}" if k else e[1]
        if 0 <= off < OFF_SPAN:
            lines.append(f"b{base} = R[r{base} >> 32]; o{base} = r{base} & {lit(M32)}")
            st.bind(base, (f"b{base}", f"o{base}", 0), True)
            # R[r >> 32] worked, so r < len(R) << 32 <= PTR_UB (see module docstring)
            st.refine(base, AV(min(a.ub, PTR_UB), a.const, a.fp))
            self._share(base, st)
            return f"b{base}", f"o{base} + {off}" if off else f"o{base}"
        text = f"(r{base} + {off}) & {lit(M64)}" if off >= 0 else \
            f"(r{base} - {-off}) & {lit(M64)}"
        lines.append(f"a = {text}")
        if named:
            lines.append(f"ab = R[a >> 32]; ao = a & {lit(M32)}")
            return "ab", "ao"
        return "R[a >> 32]", f"a & {lit(M32)}"

    @staticmethod
    def _share(base: int, st: EmitState) -> None:
        """Registers at a known distance from ``base`` (copies, ``+ k``) share its
        new region lookup."""
        root, cb = st.rel.get(base, (base, 0))
        members = [(root, 0)] + [(r, c) for r, (s, c) in st.rel.items() if s == root]
        b, o, _ = st.cache[base]
        for r, c in members:
            if r != base and -OFF_SPAN < c - cb < OFF_SPAN:
                st.bind(r, (b, o, c - cb), False)

    def load(self, i: Insn, st: EmitState, nxt: int | None = None) -> list[str]:
        """A load; when the next instruction (at ``nxt``) loads the adjacent bytes
        through the same base, one unpack reads both (if it faults, the run goes on
        in the interpreter from the first, so the report is the same)."""
        size = isa.SIZE_BYTES[i.opcode & 0x18]
        lines: list[str] = []
        q = self.code[nxt] if nxt is not None else None
        if q is not None and nxt is not None and q.opcode == i.opcode and size > 1 \
                and q.src == i.src and i.dst not in (i.src, q.dst) \
                and abs(q.off - i.off) == size and i.opcode & 0xE0 == isa.BPF_MEM:
            buf, idx = self._place(i.src, min(i.off, q.off), 2 * size, st, lines)
            lo, hi = (i.dst, q.dst) if i.off < q.off else (q.dst, i.dst)
            name = "u" + SIZE_CODE[size] * 2
            st.set(i.dst, AV((1 << (8 * size)) - 1))
            st.set(q.dst, AV((1 << (8 * size)) - 1))
            lines.append(f"r{lo}, r{hi} = {name}({buf}, {idx})")
            self.absorbed = nxt
            return lines
        buf, idx = self._place(i.src, i.off, size, st, lines)
        if i.opcode & 0xE0 == isa.BPF_MEMSX:  # RFC 9669 5.2: sign-extend to 64 bits
            name = "s" + SIZE_CODE[size]
            text, av = f"{name}({buf}, {idx})[0] & {lit(M64)}", TOP
        elif size == 1:
            text, av = f"{buf}[{idx}]", AV(0xFF)
        else:
            name = "u" + SIZE_CODE[size]
            text, av = f"{name}({buf}, {idx})[0]", AV((1 << (8 * size)) - 1)
        st.set(i.dst, av)
        lines.append(f"r{i.dst} = {text}")
        return lines

    def store(self, i: Insn, st: EmitState) -> list[str]:
        size = isa.SIZE_BYTES[i.opcode & 0x18]
        mask = (1 << (8 * size)) - 1
        if i.opcode & 0x07 == isa.BPF_ST:  # RFC 9669 5.1: imm, sign-extended for DW
            value = lit(i.imm & mask)
        else:
            v = self.reg(i.src, st)
            value = v.text if v.av.ub <= mask else f"{v.text} & {lit(mask)}"
            if v.av.const is not None:
                value = lit(v.av.const & mask)
        lines: list[str] = []
        buf, idx = self._place(i.dst, i.off, size, st, lines)
        if size == 1:
            lines.append(f"{buf}[{idx}] = {value}")
        else:
            name = "p" + SIZE_CODE[size]
            lines.append(f"{name}({buf}, {idx}, {value})")
        return lines

    def atomic(self, i: Insn, st: EmitState) -> list[str]:
        """RFC 9669 5.3. One thread runs the program, so a read-modify-write is atomic."""
        size = isa.SIZE_BYTES[i.opcode & 0x18]
        mask = (1 << (8 * size)) - 1
        un, pk = "u" + SIZE_CODE[size], "p" + SIZE_CODE[size]
        lines: list[str] = []
        buf, idx = self._place(i.dst, i.off, size, st, lines, named=True)
        if not idx.isidentifier() and not idx.isdigit():
            lines.append(f"ai = {idx}")
            idx = "ai"
        v = self.reg(i.src, st).text
        lines.append(f"t = {un}({buf}, {idx})[0]")
        op = i.imm
        if op == isa.BPF_CMPXCHG:
            lines.append(f"if t == r0 & {lit(mask)}: {pk}({buf}, {idx}, {v} & {lit(mask)})")
            st.set(0, AV(mask))
            lines.append("r0 = t")
            return lines
        if op == isa.BPF_XCHG:
            new = f"{v} & {lit(mask)}"
        else:
            code = op & 0xF0
            new = {isa.BPF_ADD: f"(t + {v}) & {lit(mask)}",
                   isa.BPF_OR: f"t | ({v} & {lit(mask)})",
                   isa.BPF_AND: f"t & {v}",
                   isa.BPF_XOR: f"t ^ ({v} & {lit(mask)})"}[code]
        lines.append(f"{pk}({buf}, {idx}, {new})")
        if op == isa.BPF_XCHG or op & isa.BPF_FETCH:
            st.set(i.src, AV(mask))
            lines.append(f"r{i.src} = t")
        return lines

    # --- calls -------------------------------------------------------------------------
