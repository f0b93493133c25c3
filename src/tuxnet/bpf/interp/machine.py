"""The eBPF interpreter: per-instruction closures and a counted run loop.

Loading a program turns each instruction into a closure (``alu``, ``jumps``,
``memops`` and the calls below) that acts on the shared register list and returns the
next pc. Running is then ``for i in range(budget): pc = ops[pc]()``: no decoding, no
per-instruction allocation, and the budget bounds every run. ``exit`` from the main
frame, a helper's :class:`ProgramExit` and tail calls leave the loop by exception.

Calls (RFC 9669 4.3.1): helpers by static id (``call N``) or by register (``callx``);
program-local functions (``call local``, src=1) get a fresh zeroed 512-byte stack
frame, r6-r9 are restored on return (callee-saved), r1-r5 are passed through. At most
8 frames (MAX_CALL_FRAMES). Tail calls (helper 12, ``BPF_FUNC_tail_call``) go through
the ``tail_call`` hook, which maps (prog-array pointer, index) to a ``Program``.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Callable, Mapping, Sequence

from tuxnet.bpf import isa
from tuxnet.bpf.disasm import format_insn
from tuxnet.bpf.errors import (
    BpfCallError,
    BpfInsnLimitError,
    BpfLoadError,
    BpfMemoryError,
    BpfRuntimeError,
)
from tuxnet.bpf.helpers import Helper, ProgramExit
from tuxnet.bpf.interp.alu import M32, M64, Op, make_alu
from tuxnet.bpf.interp.jumps import make_ja, make_jcond
from tuxnet.bpf.interp.memops import access_of, make_atomic, make_ldx, make_st, make_stx
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.memory import STACK_SLOT0, AddressSpace, stack_top
from tuxnet.bpf.program import Program

BPF_FUNC_tail_call = 12  # linux/bpf.h: long bpf_tail_call(void *ctx, map, u32 index)

# (pointer to the prog array, index) -> program to run, or None if the slot is empty.
TailCallHook = Callable[[int, int], "Program | None"]
# lddw with src != 0 (RFC 9669 5.4): (src, imm, next_imm) -> the 64-bit value to load.
LdImm64Resolver = Callable[[int, int, int], int]

DEFAULT_INSN_LIMIT = 1_000_000  # like BPF_COMPLEXITY_LIMIT_INSNS, but counted at run time
_ZERO_STACK = bytes(isa.MAX_BPF_STACK)


class _Exit(Exception):
    """exit from the outermost frame."""


class _TailCall(Exception):
    def __init__(self, target: _Compiled) -> None:
        super().__init__()
        self.target = target


class _Compiled:
    __slots__ = ("ops", "prog")

    def __init__(self, prog: Program, ops: list[Op]) -> None:
        self.prog = prog
        self.ops = ops


class Interpreter:
    """Runs :class:`Program` objects; one register file, one address space.

    ``helpers`` maps static helper ids to functions (``tuxnet.bpf.helpers``), ``kfuncs``
    maps BTF ids (call src=2). ``insn_limit`` bounds the instructions one run may execute.
    """

    def __init__(self, helpers: Mapping[int, Helper] | None = None, *,
                 kfuncs: Mapping[int, Helper] | None = None,
                 insn_limit: int = DEFAULT_INSN_LIMIT,
                 tail_call: TailCallHook | None = None,
                 ld_imm64: LdImm64Resolver | None = None,
                 mem: AddressSpace | None = None) -> None:
        self.helpers: dict[int, Helper] = dict(helpers or {})
        self.kfuncs: dict[int, Helper] = dict(kfuncs or {})
        self.insn_limit = insn_limit
        self.tail_call = tail_call
        self.ld_imm64 = ld_imm64
        self.mem = mem if mem is not None else AddressSpace()
        self.r: list[int] = [0] * isa.MAX_BPF_REG
        self.insns_executed = 0
        self._frames: list[tuple[int, list[int]]] = []
        self._tail_calls = 0
        self._cache: weakref.WeakKeyDictionary[Program, _Compiled] = (
            weakref.WeakKeyDictionary())

    # --- running ------------------------------------------------------------------------
    def run(self, prog: Program, mem: bytes | bytearray | None = None) -> int:
        """Run with r1 = address of ``mem`` and r2 = its length (the bpf_conformance and
        uBPF convention). A ``bytearray`` is used in place, so stores are visible."""
        buf = mem if isinstance(mem, bytearray) else bytearray(mem or b"")
        return self.call(prog, self.mem.set_mem(buf), len(buf))

    def call(self, prog: Program, *args: int) -> int:
        """Run with r1..r5 = ``args``; return r0 (unsigned 64-bit)."""
        if len(args) > 5:
            raise ValueError("a BPF program takes at most 5 arguments (r1-r5)")
        comp = self.load(prog)
        r = self.r
        r[:] = [0] * isa.MAX_BPF_REG
        for i, a in enumerate(args):
            r[1 + i] = a & M64
        r[isa.BPF_REG_FP] = stack_top(0)
        self._stack(0)[:] = _ZERO_STACK
        self._frames.clear()
        self._tail_calls = 0
        return self._execute(comp)

    def resume(self, prog: Program, pc: int, regs: Sequence[int], done: int = 0, *,
               frames: Sequence[tuple[int, Sequence[int]]] = (), tail_calls: int = 0) -> int:
        """Go on running ``prog`` at ``pc``: registers ``regs`` (r0-r10), ``done``
        instructions already spent of the budget, ``frames`` the callers (return pc,
        their r6-r10), outermost first; memory as it is. The translator hands a run
        over here when its generated code cannot go on exactly (a fault to report, the
        budget running out inside a block)."""
        comp = self.load(prog)
        self.r[:] = [v & M64 for v in regs]
        self._frames[:] = [(ret, [v & M64 for v in saved]) for ret, saved in frames]
        self._tail_calls = tail_calls
        return self._execute(comp, pc, done)

    def _stack(self, depth: int) -> bytearray:
        buf = self.mem.regions[STACK_SLOT0 + depth]
        assert isinstance(buf, bytearray)
        return buf

    def _execute(self, comp: _Compiled, pc: int = 0, done: int = 0) -> int:
        ops = comp.ops
        limit = self.insn_limit
        i = -1
        while True:
            try:
                for i in range(limit - done):  # noqa: B007 - i counts instructions
                    pc = ops[pc]()
            except _Exit:
                self.insns_executed = done + i + 1
                return self.r[0]
            except ProgramExit as e:
                self.insns_executed = done + i + 1
                self.r[0] = e.value
                return e.value
            except _TailCall as tc:
                done += i + 1
                comp, ops, pc = tc.target, tc.target.ops, 0
                continue
            except BpfRuntimeError as e:
                self.insns_executed = done + i + 1
                if e.pc >= 0:
                    raise
                raise type(e)(f"{e} (in {self._where(comp, pc)})", pc) from e
            except (IndexError, TypeError, struct.error) as e:
                self.insns_executed = done + i + 1
                raise self._fault(comp, pc, e) from None
            self.insns_executed = limit
            raise BpfInsnLimitError(
                f"instruction limit of {limit} exceeded (program '{comp.prog.name}' may "
                f"loop forever)", pc)

    def _where(self, comp: _Compiled, pc: int) -> str:
        insns = comp.prog.insns
        return format_insn(insns, pc) if 0 <= pc < len(insns) else f"pc {pc}"

    def _fault(self, comp: _Compiled, pc: int, exc: Exception) -> BpfRuntimeError:
        """Turn a low-level exception from an instruction closure into a typed error."""
        insns = comp.prog.insns
        if not 0 <= pc < len(insns):
            return BpfRuntimeError(f"execution fell off the end of '{comp.prog.name}'", pc)
        insn = insns[pc]
        if insn.opcode & 0x07 in (isa.BPF_LDX, isa.BPF_ST, isa.BPF_STX):
            addr, size, write = access_of(insn, self.r)
            where = self.mem.describe(addr)
            if write and isinstance(exc, TypeError):
                what = f"write of {size} bytes to read-only memory"
            else:
                what = f"invalid {'write' if write else 'read'} of {size} bytes"
            return BpfMemoryError(f"{what} at 0x{addr:x} ({where}) by "
                                  f"'{self._where(comp, pc)}'", pc)
        return BpfCallError(f"'{self._where(comp, pc)}' failed: {exc!r}", pc)

    # --- loading ------------------------------------------------------------------------
    def load(self, prog: Program) -> _Compiled:
        """Compile ``prog`` (once; cached while the program lives)."""
        comp = self._cache.get(prog)
        if comp is None:
            comp = _Compiled(prog, self._compile(prog))
            self._cache[prog] = comp
        return comp

    def _compile(self, prog: Program) -> list[Op]:
        r, regions = self.r, self.mem.regions
        code = prog.insns
        ops: list[Op] = []
        second = False
        for pc, insn in enumerate(code):
            if second:  # never reached: loads reject jumps into lddw, lddw skips it
                ops.append(_unreachable(pc))
                second = False
                continue
            cls = insn.opcode & 0x07
            nxt = pc + 1
            if cls in (isa.BPF_ALU, isa.BPF_ALU64):
                ops.append(make_alu(insn, nxt, r))
            elif cls in (isa.BPF_JMP, isa.BPF_JMP32):
                ops.append(self._jump(insn, pc))
            elif cls == isa.BPF_LDX:
                ops.append(make_ldx(insn, nxt, r, regions))
            elif cls == isa.BPF_ST:
                ops.append(make_st(insn, nxt, r, regions))
            elif insn.opcode & 0xE0 == isa.BPF_ATOMIC:
                ops.append(make_atomic(insn, nxt, r, regions))
            elif cls == isa.BPF_STX:
                ops.append(make_stx(insn, nxt, r, regions))
            else:  # lddw: Program.load accepts no other BPF_LD instruction
                ops.append(self._lddw(insn, code[pc + 1], pc))
                second = True
        return ops

    def _lddw(self, insn: Insn, hi: Insn, pc: int) -> Op:
        r, d, nxt = self.r, insn.dst, pc + 2
        if insn.src == 0:  # RFC 9669 5.4: imm64 = imm | next_imm << 32
            value = (insn.imm & M32) | ((hi.imm & M32) << 32)
        elif self.ld_imm64 is None:
            raise BpfLoadError(f"lddw with src={insn.src} needs a map/global-data resolver "
                               f"(none configured)", pc)
        else:
            value = self.ld_imm64(insn.src, insn.imm, hi.imm) & M64

        def lddw() -> int:
            r[d] = value
            return nxt
        return lddw

    def _jump(self, insn: Insn, pc: int) -> Op:
        op = insn.opcode
        if op == isa.BPF_JMP | isa.BPF_JA:
            return make_ja(pc + insn.off + 1)
        if op == isa.BPF_JMP32 | isa.BPF_JA:
            return make_ja(pc + insn.imm + 1)
        if op == isa.OPCODE_EXIT:
            return self._exit()
        if op == isa.OPCODE_CALL:
            if insn.src == isa.BPF_PSEUDO_CALL:
                return self._call_local(pc, pc + insn.imm + 1)
            if insn.src == isa.BPF_PSEUDO_KFUNC_CALL:
                return self._call_helper(self.kfuncs, "kfunc", insn.imm, pc)
            if insn.imm == BPF_FUNC_tail_call and self.tail_call is not None:
                return self._tail(pc)
            return self._call_helper(self.helpers, "helper", insn.imm, pc)
        if op == isa.OPCODE_CALLX:
            return self._callx(insn.dst, pc)
        return make_jcond(insn, pc, self.r)

    def _exit(self) -> Op:
        r, frames = self.r, self._frames

        def exit_() -> int:
            if frames:
                ret, saved = frames.pop()
                r[6:11] = saved  # callee-saved r6-r9 and the caller's r10
                return ret
            raise _Exit
        return exit_

    def _call_local(self, pc: int, target: int) -> Op:
        r, frames, nxt = self.r, self._frames, pc + 1
        stacks = [self._stack(d) for d in range(isa.MAX_CALL_FRAMES)]
        tops = [stack_top(d) for d in range(isa.MAX_CALL_FRAMES)]

        def call_local() -> int:
            depth = len(frames) + 1
            if depth >= isa.MAX_CALL_FRAMES:
                raise BpfCallError(f"call stack too deep: more than {isa.MAX_CALL_FRAMES} "
                                   f"frames", pc)
            frames.append((nxt, r[6:11]))
            stacks[depth][:] = _ZERO_STACK
            r[10] = tops[depth]
            return target
        return call_local

    def _call_helper(self, table: dict[int, Helper], kind: str, ident: int, pc: int) -> Op:
        fn = table.get(ident)
        if fn is None:
            raise BpfLoadError(f"call to unknown {kind} {ident}", pc)
        r, env, nxt = self.r, self, pc + 1

        def call_helper() -> int:
            r[0] = fn(env, r[1], r[2], r[3], r[4], r[5]) & M64
            return nxt
        return call_helper

    def _callx(self, d: int, pc: int) -> Op:
        r, env, helpers, nxt = self.r, self, self.helpers, pc + 1

        def callx() -> int:
            fn = helpers.get(r[d])
            if fn is None:
                raise BpfCallError(f"callx: unknown helper {r[d]} in r{d}", pc)
            r[0] = fn(env, r[1], r[2], r[3], r[4], r[5]) & M64
            return nxt
        return callx

    def _tail(self, pc: int) -> Op:
        r, frames, nxt = self.r, self._frames, pc + 1
        hook = self.tail_call
        assert hook is not None

        def tail_call() -> int:
            if frames:
                # The kernel's interpreter refuses tail calls mixed with bpf-to-bpf calls.
                raise BpfCallError("tail call from a bpf-to-bpf subprogram", pc)
            if self._tail_calls >= isa.MAX_TAIL_CALL_CNT:
                return nxt  # kernel/bpf/core.c JMP_TAIL_CALL: over the limit, fall through
            target = hook(r[2], r[3] & M32)
            if target is None:
                return nxt  # empty slot: the call fails and execution continues
            self._tail_calls += 1
            raise _TailCall(self.load(target))
        return tail_call


def _unreachable(pc: int) -> Op:
    def second_slot() -> int:
        raise BpfRuntimeError("executed the second slot of lddw", pc)
    return second_slot
