"""Verifier states: registers and stack of each call frame, and how states compare.

A frame (``struct bpf_func_state``) holds r0-r10 and its 512-byte stack as 8-byte slots.
Each slot records, per byte, what was written (``STACK_INVALID`` '?', ``STACK_MISC``
'm', ``STACK_ZERO`` '0', or a spilled register 'r'), and for a spill the register
itself, so a pointer spilled to the stack comes back as the same pointer.

``subsumes(old, cur)`` is the pruning test (kernel/bpf/verifier.c: states_equal,
regsafe, stacksafe): when a state that already verified safely to the end contains
every behaviour of the current one, the current path need not be explored again.
"""

from __future__ import annotations

from typing import NamedTuple

from tuxnet.bpf import isa
from tuxnet.bpf.verifier.reg import NOT_INIT, PKT_TYPES, Reg, RegType, reg_text
from tuxnet.bpf.verifier.reg import UNKNOWN as UNKNOWN_SCALAR

SLOT = 8  # BPF_REG_SIZE
NSLOTS = isa.MAX_BPF_STACK // SLOT
INVALID, MISC, ZERO, SPILL = "?", "m", "0", "r"


class Slot(NamedTuple):
    """Byte kinds of one 8-byte stack slot, lowest address first, and a spilled reg."""

    kinds: str = INVALID * SLOT
    spilled: Reg | None = None


EMPTY_SLOT = Slot()


class Frame:
    """One call frame: registers and the stack slots written so far."""

    __slots__ = ("callsite", "frameno", "regs", "stack")

    def __init__(self, frameno: int, callsite: int = -1) -> None:
        self.frameno = frameno
        self.callsite = callsite  # pc of the call insn that created this frame
        self.regs: list[Reg] = [NOT_INIT] * isa.MAX_BPF_REG
        self.stack: list[Slot] = []  # stack[i] covers fp-8*(i+1) .. fp-8*i-1

    def copy(self) -> Frame:
        f = Frame(self.frameno, self.callsite)
        f.regs = self.regs[:]
        f.stack = self.stack[:]
        return f

    @property
    def allocated(self) -> int:
        """Bytes of stack in use (the kernel's allocated_stack)."""
        return len(self.stack) * SLOT

    def slot(self, spi: int) -> Slot:
        return self.stack[spi] if spi < len(self.stack) else EMPTY_SLOT

    def set_slot(self, spi: int, slot: Slot) -> None:
        while len(self.stack) <= spi:
            self.stack.append(EMPTY_SLOT)
        self.stack[spi] = slot

    def key(self) -> tuple[object, ...]:
        stack = tuple(self.stack)
        while stack and stack[-1] == EMPTY_SLOT:
            stack = stack[:-1]
        return (self.callsite, tuple(self.regs), stack)


# One executed instruction as precision tracking replays it backwards (the kernel's
# jump history): (pc, frame depth, extra) where extra is the (frame, slot) a stack
# spill/fill touched, or the registers linked to a conditional jump's operands.
HistEntry = tuple[int, int, object]


class State:
    """A verifier state: the call frames, innermost last (``struct bpf_verifier_state``),
    the last checkpoint on its path and the instructions executed since then."""

    __slots__ = ("checkpoint", "frames", "history", "written")

    def __init__(self, frames: list[Frame]) -> None:
        self.frames = frames
        self.checkpoint: Checkpoint | None = None
        self.history: list[HistEntry] = []
        self.written: set[tuple[int, int]] = set()  # (frame, reg) defined since checkpoint

    @property
    def cur(self) -> Frame:
        return self.frames[-1]

    @property
    def regs(self) -> list[Reg]:
        return self.frames[-1].regs

    def copy(self) -> State:
        s = State([f.copy() for f in self.frames])
        s.checkpoint = self.checkpoint
        s.history = self.history[:]
        s.written = set(self.written)
        return s

    def key(self) -> tuple[object, ...]:
        return tuple(f.key() for f in self.frames)


class Checkpoint:
    """A state kept at a prune point (``struct bpf_verifier_state_list``).

    ``branches`` counts the paths still being explored below it; at 0 the state is
    known safe and may prune later paths that it subsumes. ``precise`` and
    ``precise_slots`` name the scalars (``(frame, reg)``, ``(frame, slot)``) whose exact
    range some path below relied on; every other scalar matches any scalar
    (kernel/bpf/verifier.c: mark_chain_precision). ``read`` names the registers some
    path below read before redefining them (REG_LIVE_READ): only those are compared.
    ``history`` and ``seg_written`` are the path from the parent checkpoint to this one
    and the registers it defined.
    """

    __slots__ = ("branches", "history", "hit", "key", "miss", "parent", "pc", "precise",
                 "precise_slots", "read", "seg_written", "state")

    def __init__(self, pc: int, state: State, parent: Checkpoint | None,
                 history: list[HistEntry], seg_written: set[tuple[int, int]]) -> None:
        self.pc = pc
        self.state = state
        self.parent = parent
        self.history = history
        self.seg_written = seg_written
        self.branches = 1
        self.key = state.key()
        self.hit = 0
        self.miss = 0
        self.precise: set[tuple[int, int]] = set()
        self.precise_slots: set[tuple[int, int]] = set()
        self.read: set[tuple[int, int]] = set()


# --- subsumption --------------------------------------------------------------------

class _IdMap:
    """Consistent renaming of ids between an old and a current state (check_ids)."""

    __slots__ = ("fwd", "rev")

    def __init__(self) -> None:
        self.fwd: dict[int, int] = {}
        self.rev: dict[int, int] = {}

    def check(self, old: int, cur: int) -> bool:
        if old == 0:
            return True
        if cur == 0:
            return False
        if self.fwd.setdefault(old, cur) != cur:
            return False
        return self.rev.setdefault(cur, old) == old


def range_within(old: Reg, cur: Reg) -> bool:
    return (old.umin <= cur.umin and cur.umax <= old.umax and old.smin <= cur.smin
            and cur.smax <= old.smax and old.var.contains(cur.var))


def regsafe(old: Reg, cur: Reg, ids: _IdMap, precise: bool = True) -> bool:
    """True if everything proven safe with ``old`` also holds with ``cur``."""
    if old.type == RegType.NOT_INIT:
        return True  # the old path never read it, or it would have failed there
    if cur.type != old.type:
        return False
    if old.type == RegType.SCALAR:
        if not precise:
            return True  # no verified path below depended on its value
        if old.id and not ids.check(old.id, cur.id):
            return False
        return range_within(old, cur)
    if old.off != cur.off or old.map is not cur.map or old.frameno != cur.frameno:
        return False
    if old.mem_size != cur.mem_size or not range_within(old, cur):
        return False
    if old.type in PKT_TYPES:
        if cur.range < old.range:
            return False
        return ids.check(old.id, cur.id)
    if old.type == RegType.PTR_TO_MAP_VALUE_OR_NULL:
        return ids.check(old.id, cur.id)
    return True


def _scalar_view(slot: Slot) -> Reg | None:
    """A slot read as a whole 8-byte scalar: a spilled scalar, or unknown if all misc."""
    if slot.spilled is not None:
        return slot.spilled if slot.spilled.type == RegType.SCALAR else None
    return UNKNOWN_SCALAR if slot.kinds == MISC * SLOT else None


def _stacksafe(old: Frame, cur: Frame, ids: _IdMap, precise: set[tuple[int, int]],
               uninit_ok: bool) -> bool:
    """stacksafe: each slot the old path may read holds something as good now."""
    for spi, o in enumerate(old.stack):
        if o == EMPTY_SLOT:
            continue
        c = cur.slot(spi)
        ro, rc = _scalar_view(o), _scalar_view(c)
        if ro is not None and rc is not None:
            if not regsafe(ro, rc, ids, (old.frameno, spi) in precise):
                return False
            continue
        if o.spilled is not None:
            if c.spilled is None or not regsafe(o.spilled, c.spilled, ids):
                return False
            continue
        for ok, ck in zip(o.kinds, c.kinds, strict=True):
            if ok == INVALID or (ok == MISC and (uninit_ok or ck == ZERO)):
                continue  # misc was safe, so zero is; with allow_uninit_stack, anything
            if ok != ck or ck == SPILL:
                return False
    return True


def subsumes(old: Checkpoint, cur: State, live: list[int], uninit_ok: bool = False) -> bool:
    """states_equal(old, cur) for pruning: ``old`` (verified safe) covers ``cur``.

    ``live[k]`` is the mask of registers frame ``k`` may still read.
    """
    if len(old.state.frames) != len(cur.frames):
        return False
    ids = _IdMap()
    precise = old.precise
    for k, (fo, fc) in enumerate(zip(old.state.frames, cur.frames, strict=True)):
        if fo.callsite != fc.callsite:
            return False
        mask = live[k]
        read = old.read
        for i, (ro, rc) in enumerate(zip(fo.regs, fc.regs, strict=True)):
            if mask >> i & 1 and (k, i) in read and not regsafe(ro, rc, ids, (k, i) in precise):
                return False
        if not _stacksafe(fo, fc, ids, old.precise_slots, uninit_ok):
            return False
    return True


# --- printing ---------------------------------------------------------------------

def slot_text(slot: Slot) -> str:
    if slot.spilled is not None:
        return reg_text(slot.spilled)
    return slot.kinds[::-1]  # the kernel prints the highest address first


def frame_text(f: Frame, only: set[int] | None = None) -> str:
    """``R1=ctx() R10=fp0 fp-8=mmmmmmmm`` (kernel/bpf/log.c print_verifier_state)."""
    parts = [f"R{i}={reg_text(r)}" for i, r in enumerate(f.regs)
             if r.type != RegType.NOT_INIT and (only is None or i in only)]
    if only is None:
        for spi, s in enumerate(f.stack):
            if s != EMPTY_SLOT:
                parts.append(f"fp{-SLOT * (spi + 1)}={slot_text(s)}")
    text = " ".join(parts)
    return f"frame{f.frameno}: {text}" if f.frameno else text
