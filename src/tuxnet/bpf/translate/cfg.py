"""Control flow of a loaded program, as the translator sees it: functions, basic blocks,
back-edges (loops), immediate post-dominators and a static bound on executed insns.

A *function* is the code reachable from one subprogram start (``Program.subprogs``)
without following calls; code shared by two functions is simply part of both. A
*block* is a run of instructions entered only at its first one; it ends at a jump,
an ``exit``, a local call (so that a callee's count never includes the caller's
later instructions) or before a leader. Jumps are relative to the next instruction
(RFC 9669 4.3); ``lddw`` takes two slots and counts as one executed instruction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.program import Program

EXIT, JUMP, COND, FALL = "exit", "jump", "cond", "fall"
UNBOUNDED = -1  # a function (or call chain) whose instruction count has no static bound
SHORT_TAIL = 4  # straight code to an exit this short is copied rather than merged


def is_local_call(i: Insn) -> bool:
    return i.opcode == isa.OPCODE_CALL and i.src == isa.BPF_PSEUDO_CALL


def jump_target(i: Insn, pc: int) -> int | None:
    """Target of a jump (not a call), or None."""
    op = i.opcode
    if op & 0x07 not in (isa.BPF_JMP, isa.BPF_JMP32) or op & 0xF0 in (isa.BPF_CALL,
                                                                        isa.BPF_EXIT):
        return None
    if op == isa.BPF_JMP32 | isa.BPF_JA:
        return pc + i.imm + 1
    return pc + i.off + 1


@dataclass
class Block:
    """A basic block: ``pcs`` are its executed instructions, ``succ`` the next blocks
    (for COND: taken first, then fall-through)."""

    start: int
    pcs: list[int]
    kind: str
    succ: list[int]

    @property
    def last(self) -> int:
        return self.pcs[-1]


@dataclass
class Func:
    """One BPF function: its blocks (by start pc), loop headers and post-dominators."""

    entry: int
    blocks: dict[int, Block]
    order: list[int]                       # reverse post-order from the entry
    headers: frozenset[int]                # targets of back-edges (every cycle has one)
    ipdom: dict[int, int | None] = field(default_factory=dict)
    calls: list[int] = field(default_factory=list)  # callee entries, in pc order

    @property
    def cyclic(self) -> bool:
        return bool(self.headers)


def leaders(code: Sequence[Insn], starts: Sequence[int]) -> set[int]:
    out = set(starts)
    pc, n = 0, len(code)
    while pc < n:
        i = code[pc]
        step = 2 if i.opcode == isa.OPCODE_LDDW else 1
        t = jump_target(i, pc)
        if t is not None:
            out.add(t)
            out.add(pc + 1)
        elif i.opcode == isa.OPCODE_EXIT or is_local_call(i):
            out.add(pc + 1)
        pc += step
    return out


def _block_at(code: Sequence[Insn], start: int, lead: set[int]) -> Block:
    pcs: list[int] = []
    pc = start
    while True:
        i = code[pc]
        pcs.append(pc)
        nxt = pc + (2 if i.opcode == isa.OPCODE_LDDW else 1)
        if i.opcode == isa.OPCODE_EXIT:
            return Block(start, pcs, EXIT, [])
        t = jump_target(i, pc)
        if t is not None:
            if i.opcode & 0xF0 == isa.BPF_JA:
                return Block(start, pcs, JUMP, [t])
            return Block(start, pcs, COND, [t, nxt])
        if is_local_call(i) or nxt in lead:
            return Block(start, pcs, FALL, [nxt])
        pc = nxt


def build_function(code: Sequence[Insn], entry: int, lead: set[int]) -> Func:
    blocks: dict[int, Block] = {}
    work = [entry]
    while work:
        s = work.pop()
        if s in blocks:
            continue
        b = blocks[s] = _block_at(code, s, lead)
        work.extend(b.succ)
    order, headers = _dfs(blocks, entry)
    f = Func(entry, blocks, order, frozenset(headers))
    f.ipdom = _post_dominators(f)
    f.calls = [p + code[p].imm + 1 for s in sorted(blocks) for p in blocks[s].pcs
               if is_local_call(code[p])]
    return f


def _dfs(blocks: dict[int, Block], entry: int) -> tuple[list[int], set[int]]:
    """Reverse post-order and back-edge targets (iterative depth-first search)."""
    post: list[int] = []
    headers: set[int] = set()
    state: dict[int, int] = {entry: 1}  # 1 = on the stack, 2 = finished
    stack: list[tuple[int, int]] = [(entry, 0)]
    while stack:
        b, k = stack[-1]
        succ = blocks[b].succ
        if k < len(succ):
            stack[-1] = (b, k + 1)
            s = succ[k]
            st = state.get(s, 0)
            if st == 0:
                state[s] = 1
                stack.append((s, 0))
            elif st == 1:
                headers.add(s)
        else:
            stack.pop()
            state[b] = 2
            post.append(b)
    post.reverse()
    return post, headers


def short_exits(f: Func, limit: int = SHORT_TAIL) -> frozenset[int]:
    """Blocks from which the code runs straight (no branch) to an exit within
    ``limit`` instructions: copied into each path that reaches them."""
    out: set[int] = set()
    for start in f.blocks:
        b, size, seen = start, 0, set()
        while b not in seen:
            seen.add(b)
            blk = f.blocks[b]
            size += len(blk.pcs)
            if size > limit or blk.kind == COND:
                break
            if blk.kind == EXIT:
                out.add(start)
                break
            b = blk.succ[0]
    return frozenset(out)


def _post_dominators(f: Func) -> dict[int, int | None]:
    """Immediate post-dominator of each block (None: only the virtual exit), by the
    iterative dominator algorithm on the reversed graph. Paths into short exits do
    not count (they return on their own), so the chain ``if a: if b: return X`` that
    falls through to one next block merges at that block; nor do jumps to a loop
    header (they leave the region for the dispatch loop)."""
    vexit = -1
    short = short_exits(f) | f.headers  # a jump to a loop header ends a region too
    preds: dict[int, list[int]] = {b: [] for b in f.blocks}  # reverse-graph successors
    rsucc: dict[int, list[int]] = {vexit: []}
    for b, blk in f.blocks.items():
        rsucc.setdefault(b, [])
        if b in short and b not in f.headers:
            continue
        ends = blk.kind == EXIT or all(s in short for s in blk.succ)
        if ends:
            rsucc[vexit].append(b)
        for s in blk.succ:
            if s in short:
                continue
            rsucc.setdefault(s, []).append(b)
            preds[b].append(s)
    # reverse post-order of the reversed graph from the virtual exit
    post: list[int] = []
    seen = {vexit}
    stack: list[tuple[int, int]] = [(vexit, 0)]
    while stack:
        b, k = stack[-1]
        nx = rsucc.get(b, [])
        if k < len(nx):
            stack[-1] = (b, k + 1)
            if nx[k] not in seen:
                seen.add(nx[k])
                stack.append((nx[k], 0))
        else:
            stack.pop()
            post.append(b)
    rank = {b: i for i, b in enumerate(reversed(post))}
    idom: dict[int, int] = {vexit: vexit}
    changed = True
    while changed:
        changed = False
        for b in reversed(post):
            if b == vexit:
                continue
            ps = list(preds[b])
            if not ps:  # an exit, or only short exits follow
                ps.append(vexit)
            new: int | None = None
            for p in ps:
                if p not in idom:
                    continue
                new = p if new is None else _meet(idom, rank, p, new)
            if new is not None and idom.get(b) != new:
                idom[b] = new
                changed = True
    return {b: (None if idom.get(b, vexit) == vexit else idom[b]) for b in f.blocks}


def _meet(idom: dict[int, int], rank: dict[int, int], a: int, b: int) -> int:
    while a != b:
        while rank[a] > rank[b]:
            a = idom[a]
        while rank[b] > rank[a]:
            b = idom[b]
    return a


@dataclass
class ProgramCfg:
    funcs: dict[int, Func]   # by entry pc; 0 is the main program

    def bound(self, code: Sequence[Insn]) -> int:
        """Most instructions one run of the main function can execute (callees
        included), or UNBOUNDED for loops, recursion or very long call chains."""
        memo: dict[int, int] = {}
        busy: set[int] = set()

        def fbound(entry: int) -> int:
            if entry in memo:
                return memo[entry]
            f = self.funcs[entry]
            if f.cyclic or entry in busy:
                return UNBOUNDED
            busy.add(entry)
            best: dict[int, int] = {}
            result = 0
            for b in reversed(f.order):  # successors first: the graph is acyclic
                blk = f.blocks[b]
                cost = len(blk.pcs)
                for p in blk.pcs:
                    if is_local_call(code[p]):
                        c = fbound(p + code[p].imm + 1)
                        if c == UNBOUNDED:
                            busy.discard(entry)
                            memo[entry] = UNBOUNDED
                            return UNBOUNDED
                        cost += c
                best[b] = cost + max((best[s] for s in blk.succ), default=0)
            result = best[f.entry]
            busy.discard(entry)
            memo[entry] = result
            return result

        return fbound(0)


def build(prog: Program) -> ProgramCfg:
    code = prog.insns
    lead = leaders(code, prog.subprogs)
    funcs: dict[int, Func] = {}
    work = [0]
    while work:
        e = work.pop()
        if e in funcs:
            continue
        funcs[e] = build_function(code, e, lead)
        work.extend(funcs[e].calls)
    return ProgramCfg(funcs)
