"""Python source for single instructions (RFC 9669), specialised by what is known.

Registers are the locals ``r0``..``r10`` holding unsigned 64-bit ints, as in the
interpreter. Each builder returns statements and updates the :class:`EmitState`:

* values known exactly are written as literals and folded (the fold runs the
  interpreter's own closure for the instruction, so both engines agree bit for bit);
* ``& 0xFFFF_FFFF_FFFF_FFFF`` / ``& 0xFFFF_FFFF`` appear only where the upper bound
  says the result can leave the range (loads of 1-4 bytes and 32-bit results are small);
* a result read only by the next instruction of the block (and dead after it) is not
  assigned but written into that instruction's statement: ``if uH(b1, o1 + 12)[0] !=
  8:``; a load folded so reports its faults as itself;
* memory: see ``memgen``; conditional jumps become a test and what each side learns
  (``r3 < 20`` taken: r3 <= 19), and tests the bounds decide are not emitted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tuxnet.bpf import isa
from tuxnet.bpf.interp.alu import make_alu
from tuxnet.bpf.interp.jumps import make_jcond
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.translate.absval import (
    AV,
    FP_SPAN,
    M32,
    M64,
    TOP,
    Cache,
    EmitState,
    const,
    pow2_ub,
)
from tuxnet.bpf.translate.memgen import OFF_SPAN, Fwd, MemGen, Opnd, lit

S64 = 1 << 63
S32 = 1 << 31
_INVERT = {"==": "!=", "!=": "==", ">": "<=", "<=": ">", ">=": "<", "<": ">=", "": ""}
_MIRROR = {"==": "==", "!=": "!=", ">": "<", "<": ">", ">=": "<=", "<=": ">="}
_UNSIGNED = {isa.BPF_JEQ: "==", isa.BPF_JNE: "!=", isa.BPF_JGT: ">", isa.BPF_JGE: ">=",
             isa.BPF_JLT: "<", isa.BPF_JLE: "<="}
_SIGNED = {isa.BPF_JSGT: ">", isa.BPF_JSGE: ">=", isa.BPF_JSLT: "<", isa.BPF_JSLE: "<="}


def _s64(v: int) -> int:
    return v - (1 << 64) if v & S64 else v


@dataclass
class Cond:
    """A conditional jump: ``static`` when the outcome is known, else ``text``
    (taken when true), and the states on the taken and fall-through sides."""

    static: bool | None
    text: str
    inverse: str
    taken: EmitState
    fall: EmitState
    pre: list[str] = field(default_factory=list)


def _simple(expr: str) -> bool:
    return expr.isidentifier() or expr.isdigit()


@dataclass
class CallSig:
    """How a translated function is called: live-in registers, returned r1-r5."""

    params: list[int]
    returns: list[int]


class InsnGen(MemGen):
    """Statement builder for one function of one program."""

    def __init__(self, code: Sequence[Insn], *, is_main: bool, checked: bool,
                 tail_hook: bool, depth_check: bool,
                 callee: Callable[[int], CallSig]) -> None:
        self.code = code
        self.is_main = is_main
        self.checked = checked
        self.tail_hook = tail_hook
        self.depth_check = depth_check
        self.callee = callee
        self.lddw: dict[int, int] = {}  # pc -> resolved 64-bit value (src != 0)
        self.absorbed: int | None = None  # a load done with the previous one
        self.fwd: Fwd | None = None     # this insn's result, for the next to read
        self.inp: Fwd | None = None     # the previous insn's result, read by this one
        self.inherit = False            # this insn's lines may fault in `inp`
        self.live_after: Callable[[int], int] = lambda pc: (1 << 11) - 1

    # --- operands -----------------------------------------------------------------------
    @staticmethod
    def imm(v: int) -> Opnd:
        return Opnd(lit(v & M64), const(v))

    def _assign(self, d: int, text: str | None, av: AV, st: EmitState) -> list[str]:
        if text is None:  # a no-op: the register keeps its value
            return []
        if st.set(d, av).const is not None or not text:
            text = lit(av.const if av.const is not None else 0)
        return [f"r{d} = {text}"]

    # --- one instruction ---------------------------------------------------------------
    def begin(self) -> None:
        """Start of a block: nothing is carried over."""
        self.fwd = self.inp = None
        self.absorbed = None
        self.inherit = False

    def take(self) -> list[str]:
        """Start reading the previous instruction's forwarded result."""
        self.inp, self.fwd = self.fwd, None
        self.inherit = self.inp is not None and self.inp.faults
        return []

    def settle(self, lines: list[str], test: str = "") -> list[str]:
        """End of reading: a forwarded result nobody read (the reader was folded
        away) is assigned after all, first."""
        inp, self.inp = self.inp, None
        if inp is not None and inp.expr not in test and \
                not any(inp.expr in ln for ln in lines):
            lines.insert(0, f"r{inp.reg} = {inp.expr}")
        return lines

    def insn(self, pc: int, st: EmitState, nxt: int | None = None) -> list[str]:
        """Statements for the instruction at ``pc``. ``nxt`` is the next instruction
        of the block: a result only it reads (once) becomes part of its statement."""
        self.take()
        lines = self.settle(self._insn(pc, st, nxt))
        i = self.code[pc]
        d = i.dst
        if nxt is None or not lines or st.av[d].const is not None:
            return lines
        cls = i.opcode & 0x07
        if cls not in (isa.BPF_ALU, isa.BPF_ALU64, isa.BPF_LDX) or \
                not lines[-1].startswith(f"r{d} = ") or self._inherits_elsewhere(lines):
            return lines
        if not self._reads_once(d, nxt):
            return lines
        expr = lines.pop()[len(f"r{d} = "):]
        self.fwd = Fwd(d, expr if _simple(expr) else f"({expr})",
                       cls == isa.BPF_LDX or self.inherit)
        return lines

    def _inherits_elsewhere(self, lines: list[str]) -> bool:
        """True if a forwarded faulting read ended up in a line other than the last
        (it must stay with the line that reports it)."""
        return self.inherit and len(lines) > 1

    def _reads_once(self, d: int, q_pc: int) -> bool:
        """True if instruction ``q_pc`` reads r{d} exactly once in its statement and
        r{d} is dead after it (or it writes r{d})."""
        q = self.code[q_pc]
        cls, code = q.opcode & 0x07, q.opcode & 0xF0
        x_op = bool(q.opcode & isa.BPF_X)
        dead = not self.live_after(q_pc) >> d & 1
        if cls in (isa.BPF_ALU, isa.BPF_ALU64):
            has_y = x_op and code not in (isa.BPF_NEG, isa.BPF_END)
            reads_x = code != isa.BPF_MOV and q.dst == d
            reads_y = has_y and q.src == d
            if reads_x == reads_y:
                return False
            if has_y and code in (isa.BPF_DIV, isa.BPF_MOD) and not q.off:
                return False  # `x % y if y else x`: both operands twice
            return reads_x or dead
        if cls in (isa.BPF_JMP, isa.BPF_JMP32) and code not in (
                isa.BPF_JA, isa.BPF_CALL, isa.BPF_EXIT):
            reads = (q.dst == d) + (x_op and q.src == d)
            return reads == 1 and dead
        return False

    def _insn(self, pc: int, st: EmitState, nxt: int | None) -> list[str]:
        i = self.code[pc]
        if pc == self.absorbed:  # loaded together with the previous instruction
            self.absorbed = None
            return []
        cls = i.opcode & 0x07
        if cls in (isa.BPF_ALU, isa.BPF_ALU64):
            return self.alu(i, st)
        if i.opcode == isa.OPCODE_LDDW:
            value = self.lddw.get(pc)
            if value is None:
                value = (i.imm & M32) | ((self.code[pc + 1].imm & M32) << 32)
            return self._assign(i.dst, "", const(value), st)
        if cls == isa.BPF_LDX:
            return self.load(i, st, nxt)
        if cls in (isa.BPF_ST, isa.BPF_STX):
            if i.opcode & 0xE0 == isa.BPF_ATOMIC:
                return self.atomic(i, st)
            return self.store(i, st)
        return self.call(pc, i, st)

    # --- ALU ---------------------------------------------------------------------------
    def alu(self, i: Insn, st: EmitState) -> list[str]:
        code = i.opcode & 0xF0
        is64 = i.opcode & 0x07 == isa.BPF_ALU64
        d = i.dst
        a = self.reg(d, st) if code != isa.BPF_MOV else Opnd(f"r{d}", st.av[d])
        has_x = bool(i.opcode & isa.BPF_X) and code not in (isa.BPF_NEG, isa.BPF_END)
        b = self.reg(i.src, st) if has_x else self.imm(i.imm)
        reads_a = code != isa.BPF_MOV
        if (not reads_a or a.av.const is not None) and b.av.const is not None:
            r = [0] * isa.MAX_BPF_REG
            r[d] = a.av.const or 0
            if has_x:
                r[i.src] = b.av.const
            make_alu(i, 0, r)()
            return self._assign(d, "", const(r[d]), st)
        if code == isa.BPF_END:
            text, av = self._end(i, a)
        elif code == isa.BPF_MOV:
            text, av = self._mov(i, b, is64)
        elif is64:
            text, av = self._alu64(code, i.off, a, b)
        else:
            text, av = self._alu32(code, i.off, a, b)
        if text is None:
            return []
        derived = self._derive(i, code, is64, st) if is64 and not i.off else None
        rel = self._relate(i, code, st) if is64 and not i.off else None
        lines = self._assign(d, text, av, st)
        if rel is not None and rel[0] != d:
            st.rel[d] = rel
        if derived is not None:
            entry, extra = derived
            if extra:
                lines.append(extra)
            st.bind(d, entry, bool(extra))
        return lines

    @staticmethod
    def _relate(i: Insn, code: int, st: EmitState) -> tuple[int, int] | None:
        """(s, c) with dst == s + c (mod 2**64) after a 64-bit MOV or ADD/SUB of a
        constant. Used only to share region lookups: had the sum wrapped, one of the
        two would lie in the NULL page or past the region table, where every access
        faults and the interpreter takes over."""
        d = i.dst
        if code == isa.BPF_MOV:
            if not i.opcode & isa.BPF_X:
                return None
            return st.rel.get(i.src, (i.src, 0))
        if code not in (isa.BPF_ADD, isa.BPF_SUB) or d not in st.rel:
            return None
        bv = st.av[i.src] if i.opcode & isa.BPF_X else const(i.imm)
        if bv.const is None:
            return None
        k = _s64(bv.const) if code == isa.BPF_ADD else -_s64(bv.const)
        s, c = st.rel[d]
        return (s, c + k) if abs(c + k) < OFF_SPAN else None

    def _derive(self, i: Insn, code: int, is64: bool, st: EmitState
                ) -> tuple[Cache, str] | None:
        """The cached region lookup of ``dst`` after a 64-bit MOV/ADD/SUB from a register
        that has one (a pointer moved within its region), and the statement that keeps
        a variable offset; None if there is none."""
        d, s = i.dst, i.src
        x = i.opcode & isa.BPF_X
        if code == isa.BPF_MOV:
            return (st.cache[s], "") if x and s in st.cache else None
        e = st.cache.get(d)
        if e is None or code not in (isa.BPF_ADD, isa.BPF_SUB):
            return None
        bv = st.av[s] if x else const(i.imm)
        if bv.const is not None:
            k = _s64(bv.const) if code == isa.BPF_ADD else -_s64(bv.const)
            c = e[2] + k
            return ((e[0], e[1], c), "") if -OFF_SPAN < c < OFF_SPAN else None
        if code == isa.BPF_SUB or s == d or e[2] < 0 or bv.ub >= OFF_SPAN or (
                self.inp is not None and self.inp.reg == s):
            return None
        o = f"{e[1]} + {e[2]}" if e[2] else e[1]
        buf = f"b{d} = {e[0]}; " if e[0] != f"b{d}" else ""
        return (f"b{d}", f"o{d}", 0), f"{buf}o{d} = {o} + r{s}"

    def _mov(self, i: Insn, b: Opnd, is64: bool) -> tuple[str, AV]:
        if i.off:  # RFC 9669 4.1 MOVSX: sign-extend the low `off` bits
            sign, low = 1 << (i.off - 1), (1 << i.off) - 1
            mask = M64 if is64 else M32
            return f"((({b.text} & {lit(low)}) ^ {lit(sign)}) - {lit(sign)}) & {lit(mask)}", \
                AV(mask)
        if is64:
            return b.text, b.av
        if b.av.ub <= M32:
            return b.text, AV(b.av.ub)
        return f"{b.text} & {lit(M32)}", AV(M32)

    def _end(self, i: Insn, a: Opnd) -> tuple[str | None, AV]:
        width = i.imm
        mask = (1 << width) - 1
        if i.opcode == isa.BPF_ALU | isa.BPF_END | isa.BPF_TO_LE:
            if a.av.ub <= mask:
                return None, a.av  # RFC 9669 4.2: memory is little-endian here
            return f"{a.text} & {lit(mask)}", AV(mask)
        return f"BSWAP({a.text}, {width})", AV(mask)

    def _alu64(self, code: int, off: int, a: Opnd, b: Opnd) -> tuple[str | None, AV]:
        x, y, ax, bx = a.text, b.text, a.av, b.av
        bc = bx.const
        if code == isa.BPF_SUB:
            if ax.fp is not None and bx.fp is not None:
                return "", const(ax.fp - bx.fp)
            if bc is None:
                return f"({x} - {y}) & {lit(M64)}", TOP
            code, bc = isa.BPF_ADD, -bc & M64
            bx, y = const(bc), lit(bc)
        if code == isa.BPF_ADD:
            if bc == 0:
                return None, ax
            if bc is not None and bc & S64:  # adding a negative constant
                k = (1 << 64) - bc
                if ax.fp is not None and abs(ax.fp - k) < FP_SPAN:
                    return f"{x} - {k}", AV(ax.ub, None, ax.fp - k)
                return f"({x} - {lit(k)}) & {lit(M64)}", TOP
            fp = ax.fp + bc if ax.fp is not None and bc is not None and \
                abs(ax.fp + bc) < FP_SPAN else None
            return self._masked(f"{x} + {y}", ax.ub + bx.ub, M64, fp)
        if code == isa.BPF_MUL:
            return self._masked(f"{x} * {y}", ax.ub * bx.ub, M64)
        if code == isa.BPF_DIV:
            if bc == 0:
                return "", const(0)
            if off:
                return f"SDIV64({x}, {y})", TOP
            if bc is not None:
                return f"{x} // {y}", AV(ax.ub // bc)
            return f"{x} // {y} if {y} else 0", AV(ax.ub)
        if code == isa.BPF_MOD:
            if bc == 0:
                return None, ax
            if off:
                return f"SMOD64({x}, {y})", TOP
            if bc is not None:
                return f"{x} % {y}", AV(min(ax.ub, bc - 1))
            return f"{x} % {y} if {y} else {x}", AV(ax.ub)
        if code in (isa.BPF_OR, isa.BPF_XOR):
            if bc == 0:
                return None, ax
            op = "|" if code == isa.BPF_OR else "^"
            return f"{x} {op} {y}", AV(pow2_ub(max(ax.ub, bx.ub)))
        if code == isa.BPF_AND:
            if bc is not None and bc >= ax.ub and pow2_ub(ax.ub) & bc == pow2_ub(ax.ub):
                return None, ax
            return f"{x} & {y}", AV(min(ax.ub, bx.ub))
        if code == isa.BPF_NEG:
            return f"-{x} & {lit(M64)}", TOP
        return self._shift(code, a, b, 64)

    def _shift(self, code: int, a: Opnd, b: Opnd, width: int) -> tuple[str | None, AV]:
        """LSH, RSH, ARSH; the shift amount is masked to 6 (5) bits (RFC 9669 4.1)."""
        mask = M64 if width == 64 else M32
        x, ax, bx = a.text, a.av, b.av
        xs, xub = (x, ax.ub) if ax.ub <= mask else (f"({x} & {lit(mask)})", mask)
        if bx.const is not None:
            sh = bx.const & (width - 1)
            if sh == 0:
                return (None, ax) if ax.ub <= mask else (xs, AV(mask))
            amount, most = str(sh), sh
        else:
            amount = b.text if bx.ub < width else f"({b.text} & {width - 1})"
            most = min(bx.ub, width - 1)
        if code == isa.BPF_LSH:
            return self._masked(f"{x} << {amount}", ax.ub << most, mask)
        sign = 1 << (width - 1)
        if code == isa.BPF_RSH or xub < sign:
            return f"{xs} >> {amount}", AV(xub)
        return f"((({xs} ^ {lit(sign)}) - {lit(sign)}) >> {amount}) & {lit(mask)}", AV(mask)

    @staticmethod
    def _masked(text: str, ub: int, mask: int, fp: int | None = None) -> tuple[str, AV]:
        if ub <= mask:
            return text, AV(ub, None, fp)
        return f"({text}) & {lit(mask)}", AV(mask, None, fp)

    def _alu32(self, code: int, off: int, a: Opnd, b: Opnd) -> tuple[str | None, AV]:
        x, y, ax, bx = a.text, b.text, a.av, b.av
        small = ax.ub <= M32 and bx.ub <= M32
        x32 = x if ax.ub <= M32 else f"({x} & {lit(M32)})"
        y32 = y if bx.ub <= M32 else f"({y} & {lit(M32)})"
        bc = None if bx.const is None else bx.const & M32
        keep: tuple[str | None, AV] = (None, ax) if ax.ub <= M32 else (x32, AV(M32))
        if code == isa.BPF_ADD:
            if bc == 0:
                return keep
            return self._masked(f"{x} + {y}", ax.ub + bx.ub if small else M64, M32)
        if code == isa.BPF_SUB:
            if bc == 0:
                return keep
            return f"({x} - {y}) & {lit(M32)}", AV(M32)
        if code == isa.BPF_MUL:
            return self._masked(f"{x} * {y}", ax.ub * bx.ub if small else M64, M32)
        if code in (isa.BPF_DIV, isa.BPF_MOD):
            is_div = code == isa.BPF_DIV
            if bc == 0:  # RFC 9669 4.1: x/0 = 0, x%0 = x (zero-extended)
                return ("", const(0)) if is_div else keep
            if off:
                name = "SDIV32" if is_div else "SMOD32"
                return f"{name}({x}, {y})", AV(M32)
            op = "//" if is_div else "%"
            if bc is not None:
                ub = min(ax.ub, M32) if is_div else min(ax.ub, bc - 1)
                return f"{x32} {op} {bc}", AV(ub)
            other = "0" if is_div else x32
            return f"{x32} {op} {y32} if {y32} else {other}", AV(min(ax.ub, M32))
        if code in (isa.BPF_OR, isa.BPF_XOR):
            if bc == 0:
                return keep
            op = "|" if code == isa.BPF_OR else "^"
            return self._masked(f"{x} {op} {y}", pow2_ub(max(ax.ub, bx.ub)), M32)
        if code == isa.BPF_AND:
            return self._masked(f"{x} & {y}", min(ax.ub, bx.ub), M32)
        if code == isa.BPF_NEG:
            return f"-{x} & {lit(M32)}", AV(M32)
        return self._shift(code, a, b, 32)

    # --- memory ---------------------------------------------------------------------------
    def call(self, pc: int, i: Insn, st: EmitState) -> list[str]:
        args = ", ".join(self.reg(r, st).text for r in range(1, 6))
        if i.opcode == isa.OPCODE_CALLX:
            line = f"r0 = CALLX({pc}, {i.dst}, {self.reg(i.dst, st).text}, {args})"
        elif i.src == isa.BPF_PSEUDO_CALL:
            return self.local_call(pc, i, st)
        elif i.src == isa.BPF_PSEUDO_KFUNC_CALL:
            name = f"K{i.imm}" if i.imm >= 0 else f"K_{-i.imm}"
            line = f"r0 = {name}(ENV, {args}) & {lit(M64)}"
        elif i.imm == 12 and self.tail_hook:  # BPF_FUNC_tail_call
            name = "TAIL" if self.is_main else "TAILSUB"
            st.cache.clear()
            return [f"{name}({pc}, {self.reg(2, st).text}, {self.reg(3, st).text})"]
        else:
            name = f"H{i.imm}" if i.imm >= 0 else f"H_{-i.imm}"
            line = f"r0 = {name}(ENV, {args}) & {lit(M64)}"
        st.set(0, TOP)
        st.cache.clear()
        return [line]

    def local_call(self, pc: int, i: Insn, st: EmitState) -> list[str]:
        entry = pc + i.imm + 1
        sig = self.callee(entry)
        lines = []
        depth = "1" if self.is_main else "d + 1"
        if self.depth_check and not self.is_main:
            lines.append(f"if d >= {isa.MAX_CALL_FRAMES - 1}: DEPTH({pc})")
        args = [depth] + [self.reg(r, st).text for r in sig.params]
        targets = ["r0"] + [f"r{r}" for r in sig.returns]
        if self.checked:
            args.append("n")
            targets.append("n")
            tail = ""
        else:
            targets.append("t")
            tail = "; n += t"
            st.dyn = True
        lines.append(f"{', '.join(targets)} = F{entry}({', '.join(args)}){tail}")
        for r in range(6):
            st.set(r, TOP)
        st.cache.clear()
        return lines

    # --- conditional jumps ----------------------------------------------------------------
    def cond(self, pc: int, st: EmitState) -> Cond:
        """The test of a conditional jump; ``pre`` holds a forwarded result that the
        test did not read (decided without it)."""
        self.take()
        c = self._cond(pc, st)
        c.pre = self.settle([], c.text)
        return c

    def _cond(self, pc: int, st: EmitState) -> Cond:
        i = self.code[pc]
        code = i.opcode & 0xF0
        is32 = i.opcode & 0x07 == isa.BPF_JMP32
        mask = M32 if is32 else M64
        a = self.reg(i.dst, st)
        b = self.reg(i.src, st) if i.opcode & isa.BPF_X else self.imm(i.imm)
        taken, fall = st.copy(), st.copy()
        if a.av.const is not None and b.av.const is not None:
            r = [0] * isa.MAX_BPF_REG
            r[i.dst] = a.av.const
            if i.opcode & isa.BPF_X:
                r[i.src] = b.av.const
            return Cond(make_jcond(i, pc, r)() != pc + 1, "", "", taken, fall)
        x, xu = (a.text, a.av.ub) if a.av.ub <= mask else (f"({a.text} & {lit(mask)})", mask)
        y, yu = (b.text, b.av.ub) if b.av.ub <= mask else (f"({b.text} & {lit(mask)})", mask)
        yc = None if b.av.const is None else b.av.const & mask
        xc = None if a.av.const is None else a.av.const & mask
        if yc is not None:
            y, yu = lit(yc), yc
        if code == isa.BPF_JSET:
            if yc == 0 or xc == 0:
                return Cond(False, "", "", taken, fall)
            text = f"{x} & {y}"
            return Cond(None, text, f"not {text}", taken, fall)
        if code in _SIGNED:
            op = _SIGNED[code]
            sign = 1 << (31 if is32 else 63)
            if xu < sign and yu < sign:
                return self._compare(i, x, op, y, xu, yu, yc, xc, taken, fall, is32)
            if xu < sign and yc is not None and yc >= sign:  # x >= 0 > y (signed)
                return Cond(op in (">", ">="), "", "", taken, fall)
            xs = f"{x} ^ {lit(sign)}"
            ys = lit(yc ^ sign) if yc is not None else f"{y} ^ {lit(sign)}"
            return Cond(None, f"{xs} {op} {ys}", f"{xs} {_INVERT[op]} {ys}", taken, fall)
        return self._compare(i, x, _UNSIGNED[code], y, xu, yu, yc, xc, taken, fall, is32)

    def _compare(self, i: Insn, x: str, op: str, y: str, xu: int, yu: int,
                 yc: int | None, xc: int | None, taken: EmitState, fall: EmitState,
                 is32: bool) -> Cond:
        """An unsigned comparison ``x op y``; decided early or narrowed by bounds."""
        if yc is not None:
            known = _decide(op, xu, yc)
            if known is not None:
                return Cond(known, "", "", taken, fall)
            _narrow(i.dst, op, yc, taken, fall, is32)
        elif xc is not None and i.opcode & isa.BPF_X:
            known = _decide(_MIRROR[op], yu, xc)
            if known is not None:
                return Cond(known, "", "", taken, fall)
            _narrow(i.src, _MIRROR[op], xc, taken, fall, is32)
        return Cond(None, f"{x} {op} {y}", f"{x} {_INVERT[op]} {y}", taken, fall)


def _decide(op: str, xu: int, c: int) -> bool | None:
    """Outcome of ``x op c`` for every x in [0, xu], if it is the same for all."""
    lo_true = {"==": c == 0 and xu == 0, "!=": c > xu, ">": False, ">=": c == 0,
               "<": xu < c, "<=": xu <= c}[op]
    never = {"==": c > xu, "!=": c == 0 and xu == 0, ">": xu <= c, ">=": xu < c,
             "<": c == 0, "<=": False}[op]
    if lo_true:
        return True
    if never:
        return False
    return None


def _narrow(r: int, op: str, c: int, taken: EmitState, fall: EmitState, is32: bool) -> None:
    """What ``r op c`` (unsigned) teaches on each side; 32-bit compares only teach when
    the register is already known to fit in 32 bits."""
    if is32 and taken.av[r].ub > M32:
        return
    true_ub = {"==": c, "<": c - 1, "<=": c}.get(op)
    false_ub = {"!=": c, ">": c, ">=": c - 1}.get(op)
    for side, ub, exact in ((taken, true_ub, op == "=="), (fall, false_ub, op == "!=")):
        if ub is None or ub < 0:
            continue
        a = side.av[r]
        side.refine(r, AV(c, c, a.fp) if exact else AV(min(a.ub, ub), a.const, a.fp))
