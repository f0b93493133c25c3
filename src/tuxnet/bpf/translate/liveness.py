"""Register liveness across functions, so that generated code passes, initialises and
returns exactly the registers some path reads.

The interpreter keeps one register file: a helper call writes only r0 (r1-r5 keep their
values), a local call runs the callee on the caller's r0-r9 and returns with the
callee's r0-r5 (r6-r9 and r10 are restored; RFC 9669 4.3.1 leaves r1-r5 undefined
after a call, the interpreter simply keeps them). A translated callee therefore takes
the registers it may read before writing (its live-in set) and returns r0 plus those
of r1-r5 some caller reads afterwards. Masks are bit sets over r0-r9.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.translate.cfg import Block, Func, ProgramCfg, is_local_call

ARGS = 0b111110          # r1-r5
R0 = 0b1
ALL = (1 << 10) - 1      # r0-r9 (r10 is never a variable of the caller's)
BPF_FUNC_tail_call = 12


def _bit(r: int) -> int:
    return 1 << r if r < 10 else 0


def uses_defs(i: Insn, live_in: dict[int, int], pc: int, tail_hook: bool = False
              ) -> tuple[int, int]:
    """(registers read, registers written) by one instruction; ``live_in`` gives the
    callees' live-in masks for local calls. A tail call hands every register to the
    next program, so it reads them all."""
    op, cls = i.opcode, i.opcode & 0x07
    d, s = _bit(i.dst), _bit(i.src)
    if op == isa.OPCODE_LDDW:
        return 0, d
    if cls in (isa.BPF_ALU, isa.BPF_ALU64):
        code = op & 0xF0
        src = s if op & isa.BPF_X and code not in (isa.BPF_NEG, isa.BPF_END) else 0
        if code == isa.BPF_MOV:
            return src, d
        return d | src, d
    if cls == isa.BPF_LDX:
        return s, d
    if cls == isa.BPF_ST:
        return d, 0
    if cls == isa.BPF_STX:
        if op & 0xE0 == isa.BPF_ATOMIC:
            if i.imm == isa.BPF_CMPXCHG:
                return d | s | R0, R0
            return d | s, s if i.imm & isa.BPF_FETCH else 0
        return d | s, 0
    if op == isa.OPCODE_EXIT:
        return R0, 0
    if op == isa.OPCODE_CALL:
        if i.src == isa.BPF_PSEUDO_CALL:
            return live_in.get(pc + i.imm + 1, ALL), R0 | ARGS
        if tail_hook and i.src == isa.BPF_HELPER_CALL and i.imm == BPF_FUNC_tail_call:
            return ALL, 0
        return ARGS, R0
    if op == isa.OPCODE_CALLX:
        return ARGS | d, R0
    if op in (isa.BPF_JMP | isa.BPF_JA, isa.BPF_JMP32 | isa.BPF_JA):
        return 0, 0
    return d | (s if op & isa.BPF_X else 0), 0


class Liveness:
    """Live registers before each instruction of each function, and the live-in and
    returned-register masks of each function (a fixed point over the call graph)."""

    def __init__(self, code: Sequence[Insn], cfg: ProgramCfg, tail_hook: bool = False
                 ) -> None:
        self.code = code
        self.cfg = cfg
        self.tail_hook = tail_hook
        self.live_in: dict[int, int] = {e: 0 for e in cfg.funcs}
        self.returns: dict[int, int] = {e: 0 for e in cfg.funcs}  # r1-r5 a caller reads
        self.before: dict[int, dict[int, int]] = {}  # function -> pc -> live mask
        for _ in range(64):
            changed = False
            for e, f in cfg.funcs.items():
                before = self._solve(f)
                self.before[e] = before
                new = before[f.entry]
                if new != self.live_in[e]:
                    self.live_in[e] = new
                    changed = True
            rets = {e: 0 for e in cfg.funcs}
            for f in cfg.funcs.values():
                for blk in f.blocks.values():
                    for k, p in enumerate(blk.pcs):
                        if is_local_call(code[p]):
                            after = self._after(f, blk, k)
                            callee = p + code[p].imm + 1
                            rets[callee] |= after & ARGS
            if rets != self.returns:
                self.returns = rets
                changed = True
            if not changed:
                return
        raise AssertionError("liveness did not converge")  # pragma: no cover

    def _after(self, f: Func, blk: Block, k: int) -> int:
        before = self.before[f.entry]
        if k + 1 < len(blk.pcs):
            return before[blk.pcs[k + 1]]
        out = 0
        for s in blk.succ:
            out |= before[s]
        return out

    def _solve(self, f: Func) -> dict[int, int]:
        code, li = self.code, self.live_in
        ret_mask = R0 | self.returns[f.entry] if f.entry else R0
        live_at: dict[int, int] = {}
        block_in: dict[int, int] = dict.fromkeys(f.blocks, 0)
        changed = True
        while changed:
            changed = False
            for b in reversed(f.order):
                blk = f.blocks[b]
                live = 0
                for s in blk.succ:
                    live |= block_in[s]
                for p in reversed(blk.pcs):
                    i = code[p]
                    if i.opcode == isa.OPCODE_EXIT:
                        live = ret_mask
                    else:
                        u, dfn = uses_defs(i, li, p, self.tail_hook)
                        live = (live & ~dfn) | u
                    live_at[p] = live
                if live != block_in[b]:
                    block_in[b] = live
                    changed = True
        return live_at

    def at(self, entry: int, pc: int) -> int:
        return self.before[entry][pc]
