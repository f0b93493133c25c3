"""Conditional jumps: which way a branch can go and what each way proves
(kernel/bpf/verifier.c: check_cond_jmp_op, is_branch_taken, reg_set_min_max,
mark_ptr_or_null_regs, try_match_pkt_pointers, find_good_pkt_pointers).

A comparison whose outcome the bounds already decide explores one side only. Otherwise
each side narrows the scalars it compared (and every register linked to them by id),
a ``== 0`` test splits a ``map_value_or_null`` into NULL and a usable ``map_value``,
and comparing a packet pointer with ``data_end`` proves a readable range for every
packet pointer sharing its id.
"""

from __future__ import annotations

from collections.abc import Iterator

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.verifier import reg as R
from tuxnet.bpf.verifier import tnum
from tuxnet.bpf.verifier.env import MAX_PACKET_OFF
from tuxnet.bpf.verifier.precision import PrecisionChecks
from tuxnet.bpf.verifier.reg import Reg, RegType, s64
from tuxnet.bpf.verifier.state import Frame, State
from tuxnet.bpf.verifier.tnum import M32, M64, Tnum

_NEGATE = {isa.BPF_JEQ: isa.BPF_JNE, isa.BPF_JNE: isa.BPF_JEQ, isa.BPF_JGT: isa.BPF_JLE,
           isa.BPF_JLE: isa.BPF_JGT, isa.BPF_JGE: isa.BPF_JLT, isa.BPF_JLT: isa.BPF_JGE,
           isa.BPF_JSGT: isa.BPF_JSLE, isa.BPF_JSLE: isa.BPF_JSGT,
           isa.BPF_JSGE: isa.BPF_JSLT, isa.BPF_JSLT: isa.BPF_JSGE}
JNSET = 0x100  # "not JSET": the false side of a JSET
_SIGNED = frozenset({isa.BPF_JSGT, isa.BPF_JSGE, isa.BPF_JSLT, isa.BPF_JSLE})
_PKT_ANY = frozenset({RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META,
                      RegType.PTR_TO_PACKET_END})
# reg_not_null(): only these decide "ptr == 0" (ctx, stack and packet pointers do not)
_NOT_NULL = frozenset({RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM})


def state_regs(state: State) -> Iterator[tuple[Frame, int, Reg]]:
    """Every register and spilled register of a state (spills as -1 - slot index)."""
    for f in state.frames:
        for i, r in enumerate(f.regs):
            yield f, i, r
        for spi, s in enumerate(f.stack):
            if s.spilled is not None:
                yield f, -1 - spi, s.spilled


def put_reg(f: Frame, index: int, r: Reg) -> None:
    if index >= 0:
        f.regs[index] = r
    else:
        f.stack[-1 - index] = f.stack[-1 - index]._replace(spilled=r)


# --- deciding a branch -----------------------------------------------------------------

def _view(r: Reg, is32: bool) -> tuple[int, int, int, int, Tnum]:
    if not is32:
        return r.umin, r.umax, r.smin, r.smax, r.var
    ulo, uhi = r.u32_bounds()
    slo, shi = r.s32_bounds()
    return ulo, uhi, slo, shi, tnum.subreg(r.var)


def branch_taken(code: int, a: Reg, b: Reg, is32: bool) -> int:
    """1 if the jump is always taken, 0 if never, -1 if it depends (is_branch_taken)."""
    if a.is_pointer or b.is_pointer:
        if is32:
            return -1
        ptr, other = (a, b) if a.is_pointer else (b, a)
        if other.is_null() and ptr.type in _NOT_NULL and code in (isa.BPF_JEQ, isa.BPF_JNE):
            return 0 if code == isa.BPF_JEQ else 1
        return -1
    au, aU, as_, aS, av = _view(a, is32)
    bu, bU, bs, bS, bv = _view(b, is32)
    if code == isa.BPF_JEQ:
        if av.is_const() and bv.is_const():
            return int(av.value == bv.value)
        if au > bU or aU < bu or as_ > bS or aS < bs or _known_differ(av, bv):
            return 0
    elif code == isa.BPF_JNE:
        if av.is_const() and bv.is_const():
            return int(av.value != bv.value)
        if au > bU or aU < bu or as_ > bS or aS < bs or _known_differ(av, bv):
            return 1
    elif code == isa.BPF_JSET:
        if bv.is_const():
            if av.value & bv.value:
                return 1
            if (av.value | av.mask) & bv.value == 0:
                return 0
    elif code in (isa.BPF_JGT, isa.BPF_JSGT):
        lo_a, hi_a, lo_b, hi_b = (as_, aS, bs, bS) if code in _SIGNED else (au, aU, bu, bU)
        if lo_a > hi_b:
            return 1
        if hi_a <= lo_b:
            return 0
    elif code in (isa.BPF_JGE, isa.BPF_JSGE):
        lo_a, hi_a, lo_b, hi_b = (as_, aS, bs, bS) if code in _SIGNED else (au, aU, bu, bU)
        if lo_a >= hi_b:
            return 1
        if hi_a < lo_b:
            return 0
    elif code in (isa.BPF_JLT, isa.BPF_JSLT):
        lo_a, hi_a, lo_b, hi_b = (as_, aS, bs, bS) if code in _SIGNED else (au, aU, bu, bU)
        if hi_a < lo_b:
            return 1
        if lo_a >= hi_b:
            return 0
    elif code in (isa.BPF_JLE, isa.BPF_JSLE):
        lo_a, hi_a, lo_b, hi_b = (as_, aS, bs, bS) if code in _SIGNED else (au, aU, bu, bU)
        if hi_a <= lo_b:
            return 1
        if lo_a > hi_b:
            return 0
    return -1


def _known_differ(a: Tnum, b: Tnum) -> bool:
    return bool((a.value ^ b.value) & ~(a.mask | b.mask) & M64)


# --- narrowing on one side ------------------------------------------------------------

def refine(code: int, a: Reg, b: Reg) -> tuple[Reg, Reg]:
    """(a, b) narrowed by ``a <code> b`` being true (64-bit; reg_set_min_max)."""
    au, aU, as_, aS, av = a.umin, a.umax, a.smin, a.smax, a.var
    bu, bU, bs, bS, bv = b.umin, b.umax, b.smin, b.smax, b.var
    if code == isa.BPF_JEQ:
        if _known_differ(av, bv):
            return a._replace(umin=1, umax=0), b
        var = tnum.intersect(av, bv)
        au, aU, as_, aS = max(au, bu), min(aU, bU), max(as_, bs), min(aS, bS)
        bu, bU, bs, bS, av, bv = au, aU, as_, aS, var, var
    elif code == isa.BPF_JNE:
        if bv.is_const():
            au, aU, as_, aS = _exclude(au, aU, as_, aS, bv.value)
        if av.is_const():
            bu, bU, bs, bS = _exclude(bu, bU, bs, bS, av.value)
    elif code == isa.BPF_JSET:
        if bv.is_const():
            k = bv.value
            if (av.value | av.mask) & k == 0:
                return a._replace(umin=1, umax=0), b
            if k and k & (k - 1) == 0:
                av = Tnum(av.value | k, av.mask & ~k)
    elif code == JNSET:
        if bv.is_const():
            k = bv.value
            if av.value & k:
                return a._replace(umin=1, umax=0), b
            av = Tnum(av.value & ~k, av.mask & ~k & M64)
    elif code == isa.BPF_JGT:
        au, bU = max(au, bu + 1), min(bU, aU - 1)
    elif code == isa.BPF_JGE:
        au, bU = max(au, bu), min(bU, aU)
    elif code == isa.BPF_JLT:
        aU, bu = min(aU, bU - 1), max(bu, au + 1)
    elif code == isa.BPF_JLE:
        aU, bu = min(aU, bU), max(bu, au)
    elif code == isa.BPF_JSGT:
        as_, bS = max(as_, bs + 1), min(bS, aS - 1)
    elif code == isa.BPF_JSGE:
        as_, bS = max(as_, bs), min(bS, aS)
    elif code == isa.BPF_JSLT:
        aS, bs = min(aS, bS - 1), max(bs, as_ + 1)
    elif code == isa.BPF_JSLE:
        aS, bs = min(aS, bS), max(bs, as_)
    na = a if (av, au, aU, as_, aS) == (a.var, a.umin, a.umax, a.smin, a.smax) \
        else R.sync(a._replace(var=av, umin=au, umax=aU, smin=as_, smax=aS))
    nb = b if (bv, bu, bU, bs, bS) == (b.var, b.umin, b.umax, b.smin, b.smax) \
        else R.sync(b._replace(var=bv, umin=bu, umax=bU, smin=bs, smax=bS))
    return na, nb


def _exclude(u: int, U: int, s: int, S: int, k: int) -> tuple[int, int, int, int]:
    if u == k:
        u += 1
    elif k == U:
        U -= 1
    sk = s64(k)
    if s == sk:
        s += 1
    elif sk == S:
        S -= 1
    return u, U, s, S


def _as32(code: int, a: Reg, b: Reg) -> bool:
    """Whether a JMP32 comparison may narrow the 64-bit registers: only when both are
    zero-extended 32-bit values (and, for signed tests, non-negative ones)."""
    limit = 0x7FFF_FFFF if code in _SIGNED else M32
    return a.umax <= limit and b.umax <= limit


class BranchChecks(PrecisionChecks):
    def check_cond_jmp(self, insn: Insn) -> tuple[State | None, State | None]:
        """(fall-through state, jump-target state); None for a side never taken."""
        code = insn.opcode & 0xF0
        is32 = insn.opcode & 0x07 == isa.BPF_JMP32
        if insn.opcode & isa.BPF_X:
            src = self.read_reg(insn.src)
            dst = self.read_reg(insn.dst)
            if not (dst.type in _PKT_ANY and src.type in _PKT_ANY) \
                    and self.is_pointer_value(src):
                raise self.error(f"R{insn.src} pointer comparison prohibited")
        else:
            dst = self.read_reg(insn.dst)
            src = R.const(insn.imm & M32 if is32 else insn.imm)
        self.hist_aux = self._linked(insn, dst, src)
        taken = branch_taken(code, dst, src, is32)
        if taken != -1:  # the bounds decided it: later states must match them
            self.mark_precise(self._operands(insn))
        if taken == 1:
            if not self._null_or_pkt(code, dst, src, is32) and self.is_pointer_value(dst):
                raise self.error(f"R{insn.dst} pointer comparison prohibited")
            return None, self.state
        if taken == 0:
            if not self._null_or_pkt(code, dst, src, is32) and self.is_pointer_value(dst):
                raise self.error(f"R{insn.dst} pointer comparison prohibited")
            return self.state, None
        other = self.state.copy()
        this: State | None = self.state
        target: State | None = other
        if not is32 and src.is_null() and code in (isa.BPF_JEQ, isa.BPF_JNE) \
                and dst.type == RegType.PTR_TO_MAP_VALUE_OR_NULL:
            null_side, ptr_side = (other, self.state) if code == isa.BPF_JEQ \
                else (self.state, other)
            _mark_null(null_side, dst.id, True)
            _mark_null(ptr_side, dst.id, False)
            return this, target
        if not is32 and insn.opcode & isa.BPF_X and dst.type in _PKT_ANY \
                and src.type in _PKT_ANY:
            if not _match_pkt_pointers(code, dst, src, self.state, other) \
                    and self.is_pointer_value(dst):
                raise self.error(f"R{insn.dst} pointer comparison prohibited")
            return this, target
        if self.is_pointer_value(dst):
            raise self.error(f"R{insn.dst} pointer comparison prohibited")
        if dst.is_pointer or src.is_pointer:
            return this, target
        if is32 and not _as32(code, dst, src):
            return this, target
        x = insn.opcode & isa.BPF_X
        neg = JNSET if code == isa.BPF_JSET else _NEGATE[code]
        if not _narrow(other, code, insn.dst, insn.src if x else -1, dst, src):
            target = None
        if not _narrow(self.state, neg, insn.dst, insn.src if x else -1, dst, src):
            this = None
        if this is None or target is None:
            self.mark_precise(self._operands(insn))
        return this, target

    def _operands(self, insn: Insn) -> list[int]:
        return [insn.dst, insn.src] if insn.opcode & isa.BPF_X else [insn.dst]

    def _linked(self, insn: Insn, dst: Reg, src: Reg) -> frozenset[tuple[int, int]] | None:
        """Registers sharing an id with the operands: narrowed by this jump too."""
        ids = {r.id for r in (dst, src) if r.type == RegType.SCALAR and r.id}
        if not ids:
            return None
        return frozenset((f.frameno, i) for f in self.state.frames
                         for i, r in enumerate(f.regs)
                         if r.type == RegType.SCALAR and r.id in ids)

    def _null_or_pkt(self, code: int, dst: Reg, src: Reg, is32: bool) -> bool:
        return not is32 and ((dst.type in _PKT_ANY and src.type in _PKT_ANY)
                             or (src.is_null() and dst.is_pointer))


def _narrow(state: State, code: int, d: int, s: int, dst: Reg, src: Reg) -> bool:
    """Apply ``dst <code> src`` to ``state``; False if that side is impossible."""
    nd, ns = refine(code, dst, src)
    if R.is_bottom(nd) or R.is_bottom(ns):
        return False
    regs = state.frames[-1].regs
    regs[d] = nd
    if s >= 0:
        regs[s] = ns
    for r_old, r_new in ((dst, nd), (src, ns) if s >= 0 else (src, src)):
        if r_old.type == RegType.SCALAR and r_old.id:
            for f, i, r in list(state_regs(state)):
                if r.type == RegType.SCALAR and r.id == r_old.id:
                    put_reg(f, i, r_new)
    return True


def _mark_null(state: State, ident: int, is_null: bool) -> None:
    """mark_ptr_or_null_regs: every copy of the lookup result is NULL, or a map value."""
    for f, i, r in list(state_regs(state)):
        if r.type == RegType.PTR_TO_MAP_VALUE_OR_NULL and r.id == ident:
            put_reg(f, i, R.const(0) if is_null
                    else r._replace(type=RegType.PTR_TO_MAP_VALUE, id=0))


def _find_good_pkt_pointers(state: State, dst: Reg, right_open: bool) -> None:
    """Every packet pointer sharing ``dst``'s id may now read up to ``dst.off``."""
    if dst.off < 0 or (dst.off == 0 and right_open):
        return
    if dst.umax > MAX_PACKET_OFF or dst.umax + dst.off > MAX_PACKET_OFF:
        return
    new_range = dst.off + (1 if right_open else 0)
    for f, i, r in list(state_regs(state)):
        if r.type == dst.type and r.id == dst.id and r.range < new_range:
            put_reg(f, i, r._replace(range=new_range))


def _match_pkt_pointers(code: int, dst: Reg, src: Reg, this: State, other: State) -> bool:
    """try_match_pkt_pointers: which side of ``pkt' <op> pkt_end`` proves what."""
    if (dst.type, src.type) in ((RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_END),
                                (RegType.PTR_TO_PACKET_META, RegType.PTR_TO_PACKET)):
        low_is_dst = True
    elif (dst.type, src.type) in ((RegType.PTR_TO_PACKET_END, RegType.PTR_TO_PACKET),
                                  (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META)):
        low_is_dst = False
    else:
        return False
    low = dst if low_is_dst else src
    # (state where low < end is proven, whether the bound is strict)
    table = {
        isa.BPF_JGT: (this, False) if low_is_dst else (other, True),
        isa.BPF_JLT: (other, True) if low_is_dst else (this, False),
        isa.BPF_JGE: (this, True) if low_is_dst else (other, False),
        isa.BPF_JLE: (other, False) if low_is_dst else (this, True),
    }
    if code not in table:
        return False
    st, right_open = table[code]
    _find_good_pkt_pointers(st, low, right_open)
    return True

