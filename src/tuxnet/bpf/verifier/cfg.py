"""Control-flow checks before any state is tracked (kernel/bpf/verifier.c:
check_subprogs and check_cfg).

Subprograms start at 0 and at every ``call local`` target; a jump may not leave its
subprogram ("jump out of range from insn X to Y") and each subprogram ends in ``exit``
or ``ja`` ("last insn is not an exit or jmp"). A depth-first walk then finds
instructions no path reaches ("unreachable insn X") and back-edges, which are loops:
allowed with CAP_BPF (the exploration bounds them), otherwise "back-edge from insn X
to Y". The walk also yields the prune points where states are compared.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.verifier.env import BpfVerifierError


@dataclass
class Cfg:
    subprog_starts: list[int]
    prune_points: frozenset[int]


def _successors(insns: Sequence[Insn], pc: int) -> tuple[list[int], bool]:
    """(successor pcs, is_conditional_or_call)."""
    i = insns[pc]
    op, cls = i.opcode, i.opcode & 0x07
    if op == isa.OPCODE_LDDW:
        return [pc + 2], False
    if cls not in (isa.BPF_JMP, isa.BPF_JMP32):
        return [pc + 1], False
    if op == isa.OPCODE_EXIT:
        return [], False
    if op == isa.BPF_JMP | isa.BPF_JA:
        return [pc + i.off + 1], False
    if op == isa.BPF_JMP32 | isa.BPF_JA:
        return [pc + i.imm + 1], False
    if op == isa.OPCODE_CALL:
        if i.src == isa.BPF_PSEUDO_CALL:
            return [pc + 1, pc + i.imm + 1], True
        return [pc + 1], True
    if op == isa.OPCODE_CALLX:
        return [pc + 1], True
    return [pc + 1, pc + i.off + 1], True


def check_cfg(insns: Sequence[Insn], bpf_capable: bool) -> Cfg:
    n = len(insns)
    second = set()
    starts = {0}
    pc = 0
    while pc < n:
        i = insns[pc]
        if i.opcode == isa.OPCODE_LDDW:
            second.add(pc + 1)
            pc += 2
            continue
        if i.opcode == isa.OPCODE_CALL and i.src == isa.BPF_PSEUDO_CALL:
            starts.add(pc + i.imm + 1)
        pc += 1
    subprogs = sorted(starts)
    _check_subprogs(insns, subprogs, second)
    state = [0] * n  # 0 unseen, 1 on the DFS stack, 2 done
    prune: set[int] = set()
    stack = [(0, 0)]  # (pc, index of the next successor to visit)
    state[0] = 1
    while stack:
        t, k = stack[-1]
        succ, branchy = _successors(insns, t)
        if branchy or (len(succ) == 1 and insns[t].opcode & 0x07 in (isa.BPF_JMP, isa.BPF_JMP32)):
            prune.update(w for w in succ if 0 <= w < n)
        if k >= len(succ):
            state[t] = 2
            stack.pop()
            continue
        stack[-1] = (t, k + 1)
        w = succ[k]
        if not 0 <= w < n:  # fell off the end: Program.load makes this unreachable
            raise BpfVerifierError(f"jump out of range from insn {t} to {w}", t, errno.EINVAL)
        if state[w] == 0:
            state[w] = 1
            stack.append((w, 0))
        elif state[w] == 1 and not bpf_capable:
            raise BpfVerifierError(f"back-edge from insn {t} to {w}", t, errno.EINVAL)
    for pc in range(n):
        if state[pc] == 0 and pc not in second:
            raise BpfVerifierError(f"unreachable insn {pc}", pc, errno.EINVAL)
    return Cfg(subprogs, frozenset(prune))


def _check_subprogs(insns: Sequence[Insn], subprogs: list[int], second: set[int]) -> None:
    n = len(insns)
    bounds = [*subprogs, n]
    for k, start in enumerate(subprogs):
        end = bounds[k + 1]
        for pc in range(start, end):
            if pc in second:
                continue
            i = insns[pc]
            cls = i.opcode & 0x07
            if cls not in (isa.BPF_JMP, isa.BPF_JMP32) or i.opcode in (
                    isa.OPCODE_EXIT, isa.OPCODE_CALL, isa.OPCODE_CALLX):
                continue
            off = i.imm if i.opcode == isa.BPF_JMP32 | isa.BPF_JA else i.off
            target = pc + off + 1
            if not start <= target < end:
                raise BpfVerifierError(f"jump out of range from insn {pc} to {target}", pc,
                                       errno.EINVAL)
        last = insns[end - 1]
        if end - 1 in second or last.opcode not in (
                isa.OPCODE_EXIT, isa.BPF_JMP | isa.BPF_JA, isa.BPF_JMP32 | isa.BPF_JA):
            raise BpfVerifierError("last insn is not an exit or jmp", end - 1, errno.EINVAL)
