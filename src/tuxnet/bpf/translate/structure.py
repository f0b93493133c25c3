"""Basic blocks to structured Python: nested ``if``s where the graph allows, a dispatch
loop where it does not.

A conditional branch becomes ``if cond:`` whose arms run up to the branch's immediate
post-dominator, after which the code goes on at the same level; an arm that always
returns needs no ``else``, so the early-exit chains of packet parsers stay flat. A block
reached along several paths is emitted once per path (with what that path knows), up
to a budget. *Dispatch* blocks — the entry, loop headers, and blocks whose copies
would exceed the budget or nest too deep — become arms of ``while True:`` selected by a
binary tree of ``if b < k`` tests; reaching one is ``b = k; continue``. Forward-only
programs without such blocks have no loop at all.

Counting: in the unchecked form the number of executed instructions along a path is
a constant known here (``pend``), returned with r0; only where paths with different
counts meet is it added to the local ``n``. In the checked form (loops, or a budget
smaller than the longest path) each block adds its length to ``n`` and stops the
program when the budget is spent, like the interpreter's limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from tuxnet.bpf.isa import Insn
from tuxnet.bpf.translate.absval import AV, EmitState, join, widen
from tuxnet.bpf.translate.cfg import COND, EXIT, FALL, JUMP, Block, Func
from tuxnet.bpf.translate.codegen import InsnGen

MAX_INDENT = 60   # CPython refuses more than 100 levels of indentation
WIDEN_AFTER = 4   # dataflow rounds at one block before its bounds jump to the top


class Line(NamedTuple):
    indent: int
    text: str
    info: tuple[int, int] | None  # (pc, executed-insn offset) for fault reports


class _Restart(Exception):
    def __init__(self, blocks: set[int]) -> None:
        super().__init__()
        self.blocks = blocks


def _shift(lines: list[Line], by: int = 1) -> list[Line]:
    return [Line(ln.indent + by, ln.text, ln.info) for ln in lines]


class FuncEmitter:
    """Emits the body of one function (see module docstring)."""

    def __init__(self, code: Sequence[Insn], func: Func, gen: InsnGen, *, checked: bool,
                 limit: int, entry_state: list[AV], returns: list[int],
                 live_before: dict[int, int], level: int = 2) -> None:
        self.code = code
        self.f = func
        self.gen = gen
        self.checked = checked
        self.limit = limit
        self.entry_state = entry_state
        self.returns = returns
        self.level = level
        size = sum(len(b.pcs) for b in func.blocks.values())
        self.budget = max(4 * size, size + 400)
        self.block_of = {pc: b.start for b in func.blocks.values() for pc in b.pcs}
        after: dict[int, int] = {}
        for blk in func.blocks.values():
            for k, pc in enumerate(blk.pcs):
                if k + 1 < len(blk.pcs):
                    after[pc] = live_before[blk.pcs[k + 1]]
                else:
                    after[pc] = 0
                    for s in blk.succ:
                        after[pc] |= live_before[s]
        gen.live_after = after.__getitem__
        self.dispatch: set[int] = {func.entry} | set(func.headers)
        self.states: dict[int, list[AV]] = {}
        self.copies: dict[int, int] = {}
        self.emitted = 0

    # --- driver ---------------------------------------------------------------------
    def emit(self) -> list[Line]:
        while True:
            try:
                lines = self._attempt()
            except _Restart as r:
                self.dispatch |= r.blocks
                continue
            deepest = max(lines, key=lambda ln: ln.indent, default=None)
            if deepest is not None and deepest.indent > MAX_INDENT:
                assert deepest.info is not None
                self.dispatch.add(self.block_of[deepest.info[0]])
                continue
            return lines

    def _attempt(self) -> list[Line]:
        self.copies = dict.fromkeys(self.f.blocks, 0)
        self.emitted = 0
        entry = self.f.entry
        if self.dispatch == {entry} and entry not in self.f.headers:
            lines, done, _ = self.seq(entry, None, self._state(self.entry_state, False), 0,
                                      first=True)
            assert done
            return lines
        self.states = self._dataflow()
        arms = sorted(b for b in self.dispatch if b in self.states)
        body = _shift(self._tree(arms, 1))
        return [Line(0, f"b = {entry}", None), Line(0, "while True:", None), *body]

    def _state(self, av: list[AV], dyn: bool) -> EmitState:
        st = EmitState(list(av), self.level)
        st.dyn = dyn
        return st

    def _tree(self, arms: list[int], depth: int) -> list[Line]:
        if len(arms) == 1:
            b = arms[0]
            lines, done, _ = self.seq(b, None, self._state(self.states[b], True), depth,
                                      first=True)
            assert done
            return lines
        mid = len(arms) // 2
        low = _shift(self._tree(arms[:mid], depth + 1))
        high = _shift(self._tree(arms[mid:], depth + 1))
        return [Line(0, f"if b < {arms[mid]}:", None), *low, Line(0, "else:", None), *high]

    # --- what holds at each dispatch block: a fixed point over the whole graph ----------
    def _dataflow(self) -> dict[int, list[AV]]:
        states: dict[int, list[AV]] = {self.f.entry: list(self.entry_state)}
        visits: dict[int, int] = {}
        changed = True
        while changed:
            changed = False
            for b in self.f.order:
                if b not in states:
                    continue
                for s, av in self._flow(self.f.blocks[b], states[b]):
                    old = states.get(s)
                    if old is None:
                        states[s] = av
                        changed = True
                        continue
                    visits[s] = visits.get(s, 0) + 1
                    merge = widen if visits[s] > WIDEN_AFTER else join
                    new = [merge(x, y) for x, y in zip(old, av, strict=True)]
                    if new != old:
                        states[s] = new
                        changed = True
        return states

    def _flow(self, blk: Block, av: list[AV]) -> list[tuple[int, list[AV]]]:
        self.gen.begin()
        st = EmitState(list(av), self.level)
        body = blk.pcs if blk.kind == FALL else blk.pcs[:-1]
        for pc in body:
            self.gen.insn(pc, st)
        if blk.kind == EXIT:
            return []
        if blk.kind in (FALL, JUMP):
            return [(blk.succ[0], st.av)]
        c = self.gen.cond(blk.last, st)
        if c.static is None:
            return [(blk.succ[0], c.taken.av), (blk.succ[1], c.fall.av)]
        return [(blk.succ[0], c.taken.av)] if c.static else [(blk.succ[1], c.fall.av)]

    # --- structured emission ------------------------------------------------------------
    def _account(self, blk: Block) -> None:
        self.copies[blk.start] += 1
        self.emitted += len(blk.pcs)
        if self.emitted > self.budget:
            waste = {b: (n - 1) * len(self.f.blocks[b].pcs) for b, n in self.copies.items()
                     if n > 1 and b not in self.dispatch}
            if not waste:  # pragma: no cover - without copies the budget cannot run out
                raise AssertionError("emission budget exceeded without duplication")
            top = max(waste.values())
            raise _Restart({b for b, w in waste.items() if 2 * w >= top})

    def seq(self, b: int | None, stop: int | None, st: EmitState, depth: int,
            first: bool = False) -> tuple[list[Line], bool, EmitState]:
        """Code from block ``b`` up to ``stop``: (lines, always leaves by return or
        continue, state on reaching ``stop``)."""
        out: list[Line] = []
        while True:
            if b == stop:
                return out, False, st
            assert b is not None
            if b in self.dispatch and not first:
                out.extend(self._goto(b, st))
                return out, True, st
            first = False
            if depth > MAX_INDENT:
                raise _Restart({b})
            blk = self.f.blocks[b]
            self._account(blk)
            if self.checked:
                k = len(blk.pcs)
                out.append(Line(0, f"n += {k}", None))
                out.append(Line(0, f"if n > {self.limit}: LIMIT({blk.start}, n)",
                                (blk.start, -k)))
                st.pend = -k
            body = blk.pcs if blk.kind == FALL else blk.pcs[:-1]
            self.gen.begin()
            info: tuple[int, int] = (blk.start, st.pend)
            for k, pc in enumerate(body, 1):
                st.pend += 1
                nxt = body[k] if k < len(body) else blk.last if blk.kind == COND else None
                lines = self.gen.insn(pc, st, nxt)
                # a line that also evaluates the previous insn's load reports as it
                info = info if self.gen.inherit else (pc, st.pend)
                out.extend(Line(0, t, info) for t in lines)
            if blk.kind == FALL:
                b = blk.succ[0]
                continue
            last = blk.last
            st.pend += 1
            if blk.kind == EXIT:
                out.append(Line(0, self._return(st), (last, st.pend)))
                return out, True, st
            if blk.kind == JUMP:
                b = blk.succ[0]
                continue
            assert blk.kind == COND
            c = self.gen.cond(last, st)
            info = info if self.gen.inherit else (last, st.pend)
            out.extend(Line(0, t, info) for t in c.pre)
            if c.static is not None:
                st = c.taken if c.static else c.fall
                b = blk.succ[0] if c.static else blk.succ[1]
                continue
            p = self.f.ipdom[b]
            lt, tt, st_t = self.seq(blk.succ[0], p, c.taken, depth + 1)
            lf, tf, st_f = self.seq(blk.succ[1], p, c.fall, depth + 1)
            if tt and tf:
                if len(lt) <= len(lf):
                    out += [Line(0, f"if {c.text}:", info), *_shift(lt), *lf]
                else:
                    out += [Line(0, f"if {c.inverse}:", info), *_shift(lf), *lt]
                return out, True, st
            if tt:
                out += [Line(0, f"if {c.text}:", info), *_shift(lt), *lf]
                st = st_f
            elif tf:
                out += [Line(0, f"if {c.inverse}:", info), *_shift(lf), *lt]
                st = st_t
            else:
                self._align(lt, st_t, lf, st_f)
                if not lt and not lf:
                    if self.gen.inherit:  # the test holds a load that may fault
                        out.append(Line(0, f"if {c.text}: pass", info))
                elif not lt:
                    out += [Line(0, f"if {c.inverse}:", info), *_shift(lf)]
                elif not lf:
                    out += [Line(0, f"if {c.text}:", info), *_shift(lt)]
                else:
                    out += [Line(0, f"if {c.text}:", info), *_shift(lt),
                            Line(0, "else:", None), *_shift(lf)]
                st_t.merge(st_f)
                st = st_t
            b = p

    @staticmethod
    def _align(lt: list[Line], st_t: EmitState, lf: list[Line], st_f: EmitState) -> None:
        """Make both arms end with the same pending count (unchecked form)."""
        d = st_f.pend - st_t.pend
        if d == 0:
            return
        lines, st = (lf, st_f) if d > 0 else (lt, st_t)
        lines.append(Line(0, f"n += {abs(d)}", None))
        st.pend -= abs(d)
        st.dyn = True

    def _goto(self, b: int, st: EmitState) -> list[Line]:
        out = []
        if st.pend and not self.checked:
            out.append(Line(0, f"n += {st.pend}", None))
        out.append(Line(0, f"b = {b}; continue", None))
        return out

    def _return(self, st: EmitState) -> str:
        if self.checked:
            count = "n"
        elif st.dyn:
            count = f"n + {st.pend}" if st.pend else "n"
        else:
            count = str(st.pend)
        vals = [self.gen.reg(0, st).text] + [f"r{r}" for r in self.returns] + [count]
        return f"return ({', '.join(vals)})"
