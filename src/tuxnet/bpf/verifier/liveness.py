"""Register liveness: which registers a path from each instruction may still read.

A backward data-flow over the control-flow graph (the kernel computes the same facts
as it explores — compute_live_registers / mark_reg_read). Pruning compares only live
registers: a value no later instruction reads cannot make a verified path unsafe.
Masks are ints, bit ``r`` for register ``r``. Calls read r1-r5 and clobber r0-r5; an
exit reads r0; a bpf-to-bpf call also resumes after the callee with r6-r9 intact.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.verifier.cfg import _successors

ARGS = 0b111110      # r1-r5
CALLER_SAVED = 0b111111  # r0-r5
CALLEE_SAVED = 0b1111000000  # r6-r9


def _use_def(insn: Insn) -> tuple[int, int]:
    op, cls = insn.opcode, insn.opcode & 0x07
    d, s = 1 << insn.dst, 1 << insn.src
    if cls in (isa.BPF_ALU, isa.BPF_ALU64):
        code = op & 0xF0
        if code == isa.BPF_MOV:
            return (s if op & isa.BPF_X else 0), d
        if code in (isa.BPF_NEG, isa.BPF_END):
            return d, d
        return d | (s if op & isa.BPF_X else 0), d
    if cls == isa.BPF_LDX:
        return s, d
    if cls == isa.BPF_ST:
        return d, 0
    if cls == isa.BPF_STX:
        if op & 0xE0 == isa.BPF_ATOMIC:
            if insn.imm == isa.BPF_CMPXCHG:
                return d | s | 1, 1
            return d | s, s if insn.imm & isa.BPF_FETCH else 0
        return d | s, 0
    if op == isa.OPCODE_LDDW:
        return 0, d
    if op == isa.OPCODE_EXIT:
        return 1, 0
    if op in (isa.OPCODE_CALL, isa.OPCODE_CALLX):
        return ARGS | (d if op == isa.OPCODE_CALLX else 0), CALLER_SAVED
    if op & 0xF0 == isa.BPF_JA:
        return 0, 0
    return d | (s if op & isa.BPF_X else 0), 0  # conditional jumps


def live_registers(insns: Sequence[Insn]) -> list[int]:
    """live_in[pc]: registers some path from ``pc`` reads before writing them."""
    n = len(insns)
    succ: list[list[int]] = [[] for _ in range(n)]
    uses = [0] * n
    defs = [0] * n
    second = set()
    for pc, insn in enumerate(insns):
        if pc in second:
            continue
        if insn.opcode == isa.OPCODE_LDDW:
            second.add(pc + 1)
        uses[pc], defs[pc] = _use_def(insn)
        targets, _ = _successors(insns, pc)
        if insn.opcode == isa.OPCODE_CALL and insn.src == isa.BPF_PSEUDO_CALL:
            targets = [pc + 1]  # the callee is its own function; args are counted in uses
        succ[pc] = [t for t in targets if 0 <= t < n]
    live = [0] * n
    changed = True
    while changed:
        changed = False
        for pc in range(n - 1, -1, -1):
            if pc in second:
                continue
            out = 0
            for t in succ[pc]:
                out |= live[t]
            new = uses[pc] | (out & ~defs[pc])
            if new != live[pc]:
                live[pc] = new
                changed = True
    return live
