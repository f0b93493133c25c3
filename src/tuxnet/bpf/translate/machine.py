"""The translator engine: runs programs as generated Python functions.

:class:`Translator` implements :class:`tuxnet.bpf.engine.BpfEngine` over the same
address space, helper contract and limits as the interpreter and gives the same
results: r0, memory, ``insns_executed``, and the same error types and messages. A
program is translated once per engine (and instruction budget) and cached while it
lives. A program the translator does not take (see :class:`TranslateUnsupported`)
runs on an interpreter that shares this engine's memory and helpers; the reason is
kept in :attr:`Translator.notes`.

When generated code cannot go on exactly — Python refused a memory access (a fault,
or a pointer that leaves its 4 GiB slot for the next region), or the instruction
budget runs out inside a block — the run is handed over to the interpreter at that
instruction (``Interpreter.resume``) with the registers and call frames read from the
traceback, and finishes there. The refused access had no effect yet, so the
interpreter's report (or result) is the one it would have given on its own.

Assumption: an address space has fewer than 2**31 regions (the region list alone
would need 16 GiB), so a pointer that indexed it is below 2**63.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from tuxnet.bpf import isa
from tuxnet.bpf.disasm import format_insn
from tuxnet.bpf.errors import (
    BpfCallError,
    BpfRuntimeError,
)
from tuxnet.bpf.helpers import Helper, ProgramExit
from tuxnet.bpf.interp import DEFAULT_INSN_LIMIT, Interpreter, LdImm64Resolver, TailCallHook
from tuxnet.bpf.memory import AddressSpace, stack_top
from tuxnet.bpf.program import Program
from tuxnet.bpf.translate.cfg import UNBOUNDED
from tuxnet.bpf.translate.glue import (
    BudgetOut,
    TailJump,
    TranslateUnsupported,
    Unit,
    build_unit,
)

M64 = 0xFFFF_FFFF_FFFF_FFFF
_Frame = tuple[Unit, tuple[int, int], dict[str, Any]]


class Translator:
    """Runs :class:`Program` objects translated to Python (arguments as for
    :class:`~tuxnet.bpf.interp.Interpreter`)."""

    def __init__(self, helpers: Mapping[int, Helper] | None = None, *,
                 kfuncs: Mapping[int, Helper] | None = None,
                 insn_limit: int = DEFAULT_INSN_LIMIT,
                 tail_call: TailCallHook | None = None,
                 ld_imm64: LdImm64Resolver | None = None,
                 mem: AddressSpace | None = None, knowledge: int = 2) -> None:
        self.helpers: dict[int, Helper] = dict(helpers or {})
        self.knowledge = knowledge  # 2: specialise fully; 1, 0: less (tests only)
        self.kfuncs: dict[int, Helper] = dict(kfuncs or {})
        self.insn_limit = insn_limit
        self.tail_call = tail_call
        self.ld_imm64 = ld_imm64
        self._mem = mem if mem is not None else AddressSpace()
        self.insns_executed = 0
        self.tail_calls = 0
        self.notes: dict[str, str] = {}  # program name -> why it runs on the interpreter
        self._units: weakref.WeakKeyDictionary[Program, dict[tuple[int, bool | None], Unit]]
        self._units = weakref.WeakKeyDictionary()
        self._fallback: weakref.WeakKeyDictionary[Program, str] = weakref.WeakKeyDictionary()
        self._interp: Interpreter | None = None
        self._lp: Program | None = None   # the last program run, its budget and unit
        self._ll = 0
        self._lu: Unit | None = None

    @classmethod
    def like(cls, vm: Interpreter) -> Translator:
        """A translator with ``vm``'s helpers, hooks, budget and address space (to put
        in place of an interpreter another component built)."""
        return cls(vm.helpers, kfuncs=vm.kfuncs, insn_limit=vm.insn_limit,
                   tail_call=vm.tail_call, ld_imm64=vm.ld_imm64, mem=vm.mem)

    @property
    def mem(self) -> AddressSpace:
        return self._mem

    # --- loading ----------------------------------------------------------------------
    def load(self, prog: Program) -> object:
        """Translate ``prog`` (cached); raise the interpreter's load-time errors."""
        unit = self._unit(prog, None, 0)
        return unit if unit is not None else self._interpreter().load(prog)

    def fallback_reason(self, prog: Program) -> str | None:
        """Why ``prog`` runs on the interpreter, or None if it is translated."""
        self.load(prog)
        return self._fallback.get(prog)

    def source(self, prog: Program) -> str:
        """The generated Python source (for reading and debugging)."""
        unit = self._unit(prog, None, 0)
        return unit.source if unit is not None else ""

    def _unit(self, prog: Program, checked: bool | None, start: int) -> Unit | None:
        """The unit to run ``prog`` with ``start`` instructions already executed
        (``checked=None``: unchecked if no run can pass the budget)."""
        if prog in self._fallback:
            return None
        limit = self.insn_limit
        units = self._units.get(prog)
        if units is None:
            units = self._units[prog] = {}
        unit = units.get((limit, checked))
        if unit is None:
            try:
                unit = build_unit(self, prog, checked=checked, limit=limit,
                                  level=self.knowledge)
            except TranslateUnsupported as e:
                self._fallback[prog] = str(e)
                self.notes[prog.name] = f"runs on the interpreter: {e}"
                return None
            units[(limit, checked)] = unit
        if not unit.checked and start and (unit.bound == UNBOUNDED or
                                           start + unit.bound > limit):
            return self._unit(prog, True, start)
        return unit

    def _interpreter(self) -> Interpreter:
        if self._interp is None:
            self._interp = Interpreter(self.helpers, kfuncs=self.kfuncs,
                                       insn_limit=self.insn_limit, tail_call=self.tail_call,
                                       ld_imm64=self.ld_imm64, mem=self._mem)
        self._interp.insn_limit = self.insn_limit
        return self._interp

    # --- running ----------------------------------------------------------------------
    def run(self, prog: Program, mem: bytes | bytearray | None = None) -> int:
        """r1 = address of ``mem``, r2 = its length; a ``bytearray`` is used in place."""
        buf = mem if isinstance(mem, bytearray) else bytearray(mem or b"")
        return self.call(prog, self._mem.set_mem(buf), len(buf))

    def call(self, prog: Program, *args: int) -> int:
        """Run with r1..r5 = ``args``; return r0 (unsigned 64-bit)."""
        if prog is self._lp and self._ll == self.insn_limit:
            unit = self._lu
        else:
            unit = self._lu = self._unit(prog, None, 0)
            self._lp, self._ll = prog, self.insn_limit
        if unit is None:
            if len(args) > 5:
                raise ValueError("a BPF program takes at most 5 arguments (r1-r5)")
            vm = self._interpreter()
            try:
                return vm.call(prog, *args)
            finally:
                self.insns_executed = vm.insns_executed
        try:
            r0, self.insns_executed = unit.main(*args)
        except Exception as e:
            exc = e
        else:
            return r0
        if len(args) > 5:
            raise ValueError("a BPF program takes at most 5 arguments (r1-r5)")
        return self._unwind(unit, exc, 0)  # outside `except`: no chained context

    def _unwind(self, unit: Unit, exc: Exception, base: int) -> int:
        """An exception left generated code: a tail call, a helper's exit, or a fault."""
        while True:
            frames = _frames(exc.__traceback__)
            count = _count(frames, base) if frames else base
            if isinstance(exc, TailJump):
                regs = frames[-1][2]
                target = self._unit(exc.target, None, count)
                if target is None:
                    raise BpfCallError(f"tail call target '{exc.target.name}' is not "
                                       f"translated: {self._fallback.get(exc.target)}")
                unit = target
                kw = {f"r{r}": regs.get(f"r{r}", 0) for r in unit.main_params}
                kw["fresh"] = False
                args = [regs.get(f"r{r}", 0) for r in range(1, 6)]
                if unit.checked:
                    kw["n"] = count
                try:
                    r0, n = unit.main(*args, **kw)
                except Exception as e:
                    exc, base = e, 0 if unit.checked else count
                else:
                    self.insns_executed = n if unit.checked else count + n
                    return r0
                continue
            if isinstance(exc, ProgramExit):
                self.insns_executed = count
                return exc.value
            if not frames:
                raise exc
            fu, (pc, _), regs = frames[-1]
            if isinstance(exc, BudgetOut):  # before the block at exc.start
                return self._deopt(frames, exc.start, count)
            if isinstance(exc, BpfRuntimeError):
                self.insns_executed = count
                if exc.pc >= 0:
                    raise exc
                raise type(exc)(f"{exc} (in {_where(fu.prog, pc)})", pc) from exc
            if isinstance(exc, IndexError | TypeError | struct.error):
                if fu.prog.insns[pc].opcode & 0x07 in (isa.BPF_LDX, isa.BPF_ST, isa.BPF_STX):
                    # Python refused a memory access before it had any effect
                    return self._deopt(frames, pc, count - 1)
                self.insns_executed = count
                raise BpfCallError(f"'{_where(fu.prog, pc)}' failed: {exc!r}", pc) from None
            raise exc

    def _deopt(self, frames: list[_Frame], pc: int, done: int) -> int:
        """Hand the run over to the interpreter at ``pc`` of the innermost generated
        frame, with its registers and its callers' frames: it reports a fault exactly,
        reaches the neighbouring region when a pointer crosses a 4 GiB slot, and stops
        at the budget's exact instruction."""
        vm = self._interpreter()
        unit, _, regs = frames[-1]
        callers = [(info[0] + 1, _registers(r, int(r.get("d", 0)))[6:])
                   for _, info, r in frames[:-1]]
        try:
            return vm.resume(unit.prog, pc, _registers(regs, int(regs.get("d", 0))), done,
                             frames=callers, tail_calls=self.tail_calls)
        finally:
            self.insns_executed = vm.insns_executed


def _where(prog: Program, pc: int) -> str:
    insns = prog.insns
    return format_insn(insns, pc) if 0 <= pc < len(insns) else f"pc {pc}"


def _registers(regs: dict[str, Any], depth: int) -> list[int]:
    """r0-r10 of a generated frame (a register never assigned holds 0, as in the
    interpreter; main leaves r10 out when it only uses constants)."""
    r = [int(regs.get(f"r{i}", 0)) for i in range(isa.MAX_BPF_REG)]
    if "r10" not in regs:
        r[10] = stack_top(depth)
    return r


def _frames(tb: TracebackType | None) -> list[_Frame]:
    """Generated-code frames of a traceback, outermost first, with their line info."""
    out: list[_Frame] = []
    while tb is not None:
        f = tb.tb_frame
        unit = f.f_globals.get("__tuxnet_unit__")
        if isinstance(unit, Unit) and f.f_code.co_filename == unit.filename:
            info = unit.lines.get(tb.tb_lineno)
            if info is not None:
                out.append((unit, info, dict(f.f_locals)))
        tb = tb.tb_next
    return out


def _count(frames: list[_Frame], base: int) -> int:
    """Instructions executed up to and including the faulting one."""
    unit, (_, off), regs = frames[-1]
    if unit.checked:
        return int(regs.get("n", 0)) + off
    return base + sum(int(r.get("n", 0)) + o for _, (_, o), r in frames)


KINDS = ("translate", "interp")


def make_engine(prog: Program | None = None, kind: str | None = None, *,
                helpers: Mapping[int, Helper] | None = None,
                kfuncs: Mapping[int, Helper] | None = None,
                insn_limit: int = DEFAULT_INSN_LIMIT,
                tail_call: TailCallHook | None = None,
                ld_imm64: LdImm64Resolver | None = None,
                mem: AddressSpace | None = None) -> Translator | Interpreter:
    """An engine of ``kind`` ("translate", the default, or "interp"). With ``prog``,
    the program is loaded at once (load errors surface here); a program the
    translator does not take runs on the interpreter, and ``engine.notes`` says why.

    The translator needs no verifier verdict to be exact (every memory access is
    checked at run time), so it is the default for verified and unverified programs.
    """
    kind = kind or "translate"
    opts: dict[str, Any] = {"kfuncs": kfuncs, "insn_limit": insn_limit,
                            "tail_call": tail_call, "ld_imm64": ld_imm64, "mem": mem}
    if kind == "interp":
        vm: Translator | Interpreter = Interpreter(helpers, **opts)
    elif kind == "translate":
        vm = Translator(helpers, **opts)
    else:
        raise ValueError(f"unknown engine kind {kind!r} (expected one of {KINDS})")
    if prog is not None:
        vm.load(prog)
    return vm
