"""Precision tracking (kernel/bpf/verifier.c: mark_chain_precision, backtrack_insn,
propagate_precision).

Scalars are compared loosely when pruning — any scalar matches any scalar — unless a
verified path relied on the exact range: a branch the bounds decided, a scalar added
to a pointer, a helper's size argument, a constant map key. When that happens the
register is traced back through the instructions of the current path (each
checkpoint keeps the stretch of path that led to it) to the registers and stack
slots it came from, and those are marked *precise* in every checkpoint on the way,
so a later path is pruned against them only if its values fit their ranges.
"""

from __future__ import annotations

from collections.abc import Iterable

from tuxnet.bpf import isa
from tuxnet.bpf.verifier.env import CheckerBase
from tuxnet.bpf.verifier.reg import RegType
from tuxnet.bpf.verifier.state import Checkpoint, HistEntry

RegRef = tuple[int, int]  # (frame depth, register)
SlotRef = tuple[int, int]  # (frame depth, stack slot index)


class PrecisionChecks(CheckerBase):
    hist_aux: object

    def mark_precise(self, regs: Iterable[int] = (), slots: Iterable[SlotRef] = ()) -> None:
        """The current frame's ``regs`` (and stack ``slots``) must keep their ranges."""
        depth = len(self.state.frames) - 1
        s = {(depth, r) for r in regs if self.reg(r).type == RegType.SCALAR}
        self._backtrack(s, set(slots))

    def propagate_precision(self, old: Checkpoint) -> None:
        """The current path was pruned against ``old``: what ``old`` relied on, this
        path relies on too."""
        s = {(k, r) for k, r in old.precise if k < len(self.state.frames)
             and self.state.frames[k].regs[r].type == RegType.SCALAR}
        self._backtrack(s, set(old.precise_slots))

    def _backtrack(self, s: set[RegRef], t: set[SlotRef]) -> None:
        history = self.state.history
        cp = self.state.checkpoint
        while s or t:
            for entry in reversed(history):
                self._undo(entry, s, t)
                if not s and not t:
                    return
            if cp is None:
                return
            if s <= cp.precise and t <= cp.precise_slots:
                return  # already marked, and so were its ancestors
            cp.precise |= s
            cp.precise_slots |= t
            history = cp.history
            cp = cp.parent

    def _undo(self, entry: HistEntry, s: set[RegRef], t: set[SlotRef]) -> None:
        """backtrack_insn: which earlier values the marked ones depended on."""
        pc, depth, aux = entry
        insn = self.insns[pc]
        op, cls = insn.opcode, insn.opcode & 0x07
        d, src = (depth, insn.dst), (depth, insn.src)
        if cls in (isa.BPF_ALU, isa.BPF_ALU64):
            if d not in s:
                return
            code = op & 0xF0
            if code == isa.BPF_MOV:
                s.discard(d)
            if op & isa.BPF_X and code not in (isa.BPF_NEG, isa.BPF_END):
                s.add(src)
        elif cls == isa.BPF_LDX:
            if d in s:
                s.discard(d)
                if isinstance(aux, tuple):
                    t.add(aux)
        elif cls in (isa.BPF_ST, isa.BPF_STX):
            if op & 0xE0 == isa.BPF_ATOMIC:
                if insn.imm & isa.BPF_FETCH:
                    s.discard(src)
                    s.discard((depth, 0))
                if isinstance(aux, tuple):
                    t.discard(aux)
            elif isinstance(aux, tuple) and aux in t:
                t.discard(aux)
                if cls == isa.BPF_STX:
                    s.add(src)
        elif op == isa.OPCODE_LDDW:
            s.discard(d)
        elif op == isa.OPCODE_EXIT:
            if (depth - 1, 0) in s:  # r0 returned by the callee
                s.discard((depth - 1, 0))
                s.add((depth, 0))
        elif op == isa.OPCODE_CALL and insn.src == isa.BPF_PSEUDO_CALL:
            inner = {x for x in s if x[0] > depth}
            s -= inner
            s.update((depth, r) for k, r in inner if k == depth + 1 and 1 <= r <= 5)
            t -= {x for x in t if x[0] > depth}
        elif op in (isa.OPCODE_CALL, isa.OPCODE_CALLX):
            s.discard((depth, 0))
        elif cls in (isa.BPF_JMP, isa.BPF_JMP32) and op & 0xF0 != isa.BPF_JA:
            ops = {d}
            if op & isa.BPF_X:
                ops.add(src)
            if isinstance(aux, frozenset):
                ops |= aux
            if ops & s:
                s |= ops
