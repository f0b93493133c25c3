"""Turning a program into a compiled *unit*: Python source for every function, the
namespace it runs in, and the table that maps generated lines back to instructions.

The source is built only from validated instructions (``Program.load`` checked every
field): registers, integer literals, names of this namespace. Nothing from a user
string reaches it. The namespace holds the region table ``R`` (the address space's
list, so regions mapped later are visible), precompiled ``struct`` functions, the
helpers bound at load time (an unknown one is a load error, as in the interpreter),
and a few run-time services (callx, tail calls, the call-depth and budget stops).

Every generated line that can fault carries (pc, count offset): when an exception
leaves the generated code, the engine reads the faulting line and the frame's
registers from the traceback (see ``machine``); nothing is spent on it until then.
"""

from __future__ import annotations

import itertools
import re
import struct
import weakref
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, Protocol

from tuxnet.bpf import isa
from tuxnet.bpf.errors import BpfCallError, BpfLoadError
from tuxnet.bpf.helpers import Helper
from tuxnet.bpf.interp.alu import bswap, s32, s64, sdiv, smod
from tuxnet.bpf.isa import MAX_BPF_STACK, MAX_CALL_FRAMES, Insn
from tuxnet.bpf.memory import STACK_SLOT0, AddressSpace, stack_top
from tuxnet.bpf.program import Program
from tuxnet.bpf.translate.absval import AV, M32, M64, TOP
from tuxnet.bpf.translate.cfg import UNBOUNDED, ProgramCfg, build
from tuxnet.bpf.translate.codegen import CallSig, InsnGen
from tuxnet.bpf.translate.liveness import Liveness
from tuxnet.bpf.translate.structure import FuncEmitter, Line

BPF_FUNC_tail_call = 12
MAX_TRANSLATE_INSNS = 100_000  # beyond this, compiling Python source costs too much
_serial = itertools.count(1)
_N = re.compile(r"\bn\b")
_R10 = re.compile(r"\br10\b")


class TranslateUnsupported(Exception):
    """The translator cannot handle this program; the engine falls back to the
    interpreter and records the reason."""


class TailJump(Exception):
    """Raised by a tail call that found its target (the engine switches programs)."""

    def __init__(self, target: Program) -> None:
        super().__init__()
        self.target = target


class BudgetOut(Exception):
    """The next block would pass the instruction budget: the engine lets the
    interpreter run the block's first instructions up to the exact stopping point."""

    def __init__(self, start: int) -> None:
        super().__init__(start)
        self.start = start


class Host(Protocol):
    """What generated code needs from its engine."""

    helpers: dict[int, Helper]
    kfuncs: dict[int, Helper]
    tail_call: Callable[[int, int], Program | None] | None
    ld_imm64: Callable[[int, int, int], int] | None
    tail_calls: int

    @property
    def mem(self) -> AddressSpace: ...


class Unit:
    """One program translated for one engine, budget and counting form."""

    __slots__ = ("_prog", "bound", "checked", "filename", "limit", "lines", "main",
                 "main_params", "source", "writes")

    def __init__(self, prog: Program, filename: str, source: str, checked: bool,
                 limit: int, bound: int, lines: dict[int, tuple[int, int]],
                 main_params: list[int], writes: bool) -> None:
        self._prog = weakref.ref(prog)  # engines cache units by weak program keys
        self.filename = filename
        self.source = source
        self.checked = checked
        self.limit = limit
        self.bound = bound
        self.lines = lines
        self.main_params = main_params
        self.writes = writes  # may write memory: the next run must clear the stack
        self.main: Callable[..., tuple[int, int]] = _unset

    @property
    def prog(self) -> Program:
        prog = self._prog()
        assert prog is not None, "a unit outlived its program"
        return prog


def _unset(*_: int, **__: int) -> tuple[int, int]:  # pragma: no cover
    raise AssertionError("unit not compiled")


def resolve_load(host: Host, prog: Program) -> dict[int, int]:
    """The interpreter's load-time checks, in the same order with the same words:
    lddw relocations (resolved now) and calls to unknown helpers or kfuncs."""
    code = prog.insns
    values: dict[int, int] = {}
    pc = 0
    while pc < len(code):
        i = code[pc]
        if i.opcode == isa.OPCODE_LDDW:
            if i.src:
                if host.ld_imm64 is None:
                    raise BpfLoadError(f"lddw with src={i.src} needs a map/global-data "
                                       f"resolver (none configured)", pc)
                values[pc] = host.ld_imm64(i.src, i.imm, code[pc + 1].imm) & M64
            pc += 2
            continue
        if i.opcode == isa.OPCODE_CALL and i.src != isa.BPF_PSEUDO_CALL:
            if i.src == isa.BPF_PSEUDO_KFUNC_CALL:
                if i.imm not in host.kfuncs:
                    raise BpfLoadError(f"call to unknown kfunc {i.imm}", pc)
            elif not (i.imm == BPF_FUNC_tail_call and host.tail_call is not None) \
                    and i.imm not in host.helpers:
                raise BpfLoadError(f"call to unknown helper {i.imm}", pc)
        pc += 1
    return values


def _max_depth(cfg: ProgramCfg) -> int:
    """Deepest call chain (main = 0), or UNBOUNDED with recursion."""
    memo: dict[int, int] = {}

    def depth(e: int, busy: frozenset[int]) -> int:
        if e in busy:
            return UNBOUNDED
        if e not in memo:
            best = 0
            for c in cfg.funcs[e].calls:
                d = depth(c, busy | {e})
                if d == UNBOUNDED:
                    return UNBOUNDED
                best = max(best, d + 1)
            memo[e] = best
        return memo[e]

    return depth(0, frozenset())


def _writes(code: tuple[Insn, ...]) -> bool:
    return any(i.opcode & 0x07 in (isa.BPF_ST, isa.BPF_STX) or
               i.opcode in (isa.OPCODE_CALL, isa.OPCODE_CALLX) for i in code)


def build_unit(host: Host, prog: Program, *, checked: bool | None, limit: int,
               level: int = 2) -> Unit:
    """Translate ``prog``; ``checked=None`` picks the unchecked form when no run of it
    can pass ``limit`` instructions; ``level`` < 2 forgets knowledge (for tests)."""
    code = prog.insns
    if len(code) > MAX_TRANSLATE_INSNS:
        raise TranslateUnsupported(f"{len(code)} instructions (the translator takes at "
                                   f"most {MAX_TRANSLATE_INSNS})")
    lddw = resolve_load(host, prog)
    cfg = build(prog)
    bound = cfg.bound(code)
    if checked is None:
        checked = bound == UNBOUNDED or bound > limit
    live = Liveness(code, cfg, tail_hook=host.tail_call is not None)
    max_depth = _max_depth(cfg)
    depth_check = max_depth == UNBOUNDED or max_depth >= MAX_CALL_FRAMES

    def sig(entry: int) -> CallSig:
        return CallSig([r for r in range(10) if live.live_in[entry] >> r & 1],
                       [r for r in range(1, 6) if live.returns[entry] >> r & 1])

    source: list[str] = []
    table: dict[int, tuple[int, int]] = {}
    main_params = [r for r in (0, 6, 7, 8, 9) if live.live_in[0] >> r & 1]
    for entry, func in sorted(cfg.funcs.items()):
        is_main = entry == 0
        gen = InsnGen(code, is_main=is_main, checked=checked,
                      tail_hook=host.tail_call is not None, depth_check=depth_check,
                      callee=sig)
        gen.lddw = lddw
        top = stack_top(0)
        r10 = AV(top, top, 0) if is_main else AV(stack_top(MAX_CALL_FRAMES - 1), None, 0)
        returns = [] if is_main else sig(entry).returns
        body = FuncEmitter(code, func, gen, checked=checked, limit=limit,
                           entry_state=[TOP] * 10 + [r10], returns=returns,
                           live_before=live.before[entry], level=level).emit()
        head = _prologue(entry, sig(entry), main_params, live.live_in[0], checked, body,
                         _writes(code), _tails(host, code))
        for text in head:
            source.append(text)
        for ln in body:
            source.append("    " * (ln.indent + 1) + ln.text)
            if ln.info is not None:
                table[len(source)] = ln.info
    name = prog.name if prog.name.isprintable() else "prog"
    filename = f"<tuxnet-bpf {name!r} #{next(_serial)}>"
    text = "\n".join(source) + "\n"
    unit = Unit(prog, filename, text, checked, limit, bound, table, main_params,
                _writes(code))
    ns = namespace(host, unit, code)
    exec(compile(text, filename, "exec"), ns)
    unit.main = ns["F0"]
    return unit


def _tails(host: Host, code: tuple[Insn, ...]) -> bool:
    return host.tail_call is not None and any(
        i.opcode == isa.OPCODE_CALL and i.src == isa.BPF_HELPER_CALL
        and i.imm == BPF_FUNC_tail_call for i in code)


def _prologue(entry: int, sig: CallSig, main_params: list[int], live0: int, checked: bool,
              body: list[Line], writes: bool, tails: bool) -> list[str]:
    """The ``def`` line and the set-up of one function. The main function starts a
    run (``fresh``: clear the stack as the interpreter does, reset the tail-call count)
    unless a tail call enters it."""
    uses_n = any(_N.search(ln.text) for ln in body)
    out: list[str] = []
    if entry == 0:
        params = [f"r{r}=0" for r in range(1, 6)]
        extra = [f"r{r}=0" for r in main_params] + (["n=0"] if checked else [])
        params += ["*", *extra, "fresh=True"]
        out.append(f"def F0({', '.join(params)}):")
        out.append(f"    stk = R[{STACK_SLOT0}]")
        out.append("    if fresh:")
        # a program that cannot write memory cannot dirty the stack: compare first
        out.append("        stk[:] = Z" if writes else "        if stk != Z: stk[:] = Z")
        if tails:
            out.append("        ENV.tail_calls = 0")
        for r in range(1, 6):
            if live0 >> r & 1:  # arguments arrive as any int; registers are u64
                out.append(f"    r{r} &= {hex(M64)}")
        if any(_R10.search(ln.text) for ln in body):
            out.append(f"    r10 = {hex(stack_top(0))}")
    else:
        params = ["d"] + [f"r{r}" for r in sig.params] + (["n"] if checked else [])
        out.append(f"def F{entry}({', '.join(params)}):")
        out.append(f"    stk = R[{STACK_SLOT0} + d]; stk[:] = Z; "
                   f"r10 = ((d + {STACK_SLOT0}) << 32) + {MAX_BPF_STACK}")
    if uses_n and not checked:
        out.append("    n = 0")
    return out


def namespace(host: Host, unit: Unit, code: tuple[Insn, ...]) -> dict[str, Any]:
    """Globals of the generated functions."""
    ns: dict[str, Any] = {"__builtins__": {}, "__tuxnet_unit__": unit,
                          "R": host.mem.regions, "Z": bytes(MAX_BPF_STACK), "ENV": host,
                          "BSWAP": bswap, "SDIV64": _sdiv64, "SMOD64": _smod64,
                          "SDIV32": _sdiv32, "SMOD32": _smod32}
    for c, fmt in (("B", "B"), ("H", "H"), ("I", "I"), ("Q", "Q")):
        s = struct.Struct("<" + fmt)
        ns["u" + c], ns["p" + c] = s.unpack_from, s.pack_into
    for c, fmt in (("B", "b"), ("H", "h"), ("I", "i")):
        ns["s" + c] = struct.Struct("<" + fmt).unpack_from
    for c in "HIQ":  # two adjacent loads at once
        ns["u" + c + c] = struct.Struct("<" + c + c).unpack_from
    for i in code:
        if i.opcode == isa.OPCODE_CALL and i.src == isa.BPF_HELPER_CALL \
                and i.imm in host.helpers:
            ns[f"H{i.imm}" if i.imm >= 0 else f"H_{-i.imm}"] = host.helpers[i.imm]
        elif i.opcode == isa.OPCODE_CALL and i.src == isa.BPF_PSEUDO_KFUNC_CALL \
                and i.imm in host.kfuncs:
            ns[f"K{i.imm}" if i.imm >= 0 else f"K_{-i.imm}"] = host.kfuncs[i.imm]
    ns.update(_services(host))
    return ns


def _sdiv64(a: int, b: int) -> int:
    return sdiv(s64(a), s64(b)) & M64 if b else 0


def _smod64(a: int, b: int) -> int:
    return smod(s64(a), s64(b)) & M64 if b else a


def _sdiv32(a: int, b: int) -> int:
    b &= M32
    return sdiv(s32(a), s32(b)) & M32 if b else 0


def _smod32(a: int, b: int) -> int:
    b &= M32
    return smod(s32(a), s32(b)) & M32 if b else a & M32


def _services(host: Host) -> Mapping[str, Callable[..., Any]]:
    """callx, tail calls and the two stops, with the interpreter's messages."""

    def callx(pc: int, d: int, v: int, a1: int, a2: int, a3: int, a4: int, a5: int) -> int:
        fn = host.helpers.get(v)
        if fn is None:
            raise BpfCallError(f"callx: unknown helper {v} in r{d}", pc)
        return fn(host, a1, a2, a3, a4, a5) & M64

    def tail(pc: int, r2: int, r3: int) -> None:
        hook = host.tail_call
        assert hook is not None
        if host.tail_calls >= isa.MAX_TAIL_CALL_CNT:
            return  # kernel/bpf/core.c JMP_TAIL_CALL: over the limit, fall through
        target = hook(r2, r3 & M32)
        if target is None:
            return  # empty slot: the call fails and execution continues
        host.tail_calls += 1
        raise TailJump(target)

    def tail_sub(pc: int, r2: int, r3: int) -> NoReturn:
        # The kernel's interpreter refuses tail calls mixed with bpf-to-bpf calls.
        raise BpfCallError("tail call from a bpf-to-bpf subprogram", pc)

    def depth(pc: int) -> NoReturn:
        raise BpfCallError(f"call stack too deep: more than {MAX_CALL_FRAMES} frames", pc)

    def limit(start: int, n: int) -> NoReturn:
        raise BudgetOut(start)

    return {"CALLX": callx, "TAIL": tail, "TAILSUB": tail_sub, "DEPTH": depth,
            "LIMIT": limit}
