"""The verifier's main loop (kernel/bpf/verifier.c: do_check, is_state_visited,
push_stack/pop_stack).

Paths are explored depth first: a conditional jump whose outcome is unknown continues
on the fall-through side and pushes the jump side. At prune points (jump targets and
after branches) the current state is compared with states kept there: a state whose
paths all verified safely and which covers the current one ends the path early; an
identical state still being explored below means the path has come round to itself —
"infinite loop detected at insn X". Bounded loops simply run out of the loop on every
path; anything else stops at the complexity limit ("BPF program is too large").
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.kdisasm import kernel_insn_text
from tuxnet.bpf.verifier import reg as R
from tuxnet.bpf.verifier.alucheck import AluChecks
from tuxnet.bpf.verifier.branch import BranchChecks
from tuxnet.bpf.verifier.calls import CallChecks
from tuxnet.bpf.verifier.cfg import check_cfg
from tuxnet.bpf.verifier.context import ProgContext
from tuxnet.bpf.verifier.env import Caps, MapResolver
from tuxnet.bpf.verifier.liveness import CALLEE_SAVED, live_registers
from tuxnet.bpf.verifier.log import VerifierLog
from tuxnet.bpf.verifier.protos import FuncProto, helper_name
from tuxnet.bpf.verifier.reg import Reg, RegType
from tuxnet.bpf.verifier.state import (
    SLOT,
    Checkpoint,
    Frame,
    State,
    frame_text,
    slot_text,
    subsumes,
)

_JA = (isa.BPF_JMP | isa.BPF_JA, isa.BPF_JMP32 | isa.BPF_JA)


class Checker(AluChecks, BranchChecks, CallChecks):
    def __init__(self, insns: Sequence[Insn], ctx: ProgContext, *, maps: MapResolver | None,
                 caps: Caps, log: VerifierLog, insn_limit: int,
                 protos: Mapping[int, FuncProto], allowed_funcs: frozenset[int],
                 entry: Mapping[int, Reg] | None = None,
                 entry_stack: Frame | None = None) -> None:
        self.insns = insns
        self.ctx = ctx
        self.maps = maps
        self.caps = caps
        self.log = log
        self.insn_limit = insn_limit
        self.protos = protos
        self.allowed_funcs = allowed_funcs
        self.pc = 0
        self.id_gen = 0
        self.processed = 0
        self.total_states = 0
        self.peak_states = 0
        self.max_states_per_insn = 0
        frame = entry_stack.copy() if entry_stack is not None else Frame(0)
        regs = dict(ctx.entry_regs()) if entry is None else dict(entry)
        for i, r in regs.items():
            frame.regs[i] = r
        frame.regs[10] = R.pointer(RegType.PTR_TO_STACK)
        self.state = State([frame])
        self.explored: dict[int, list[Checkpoint]] = {}
        self.in_progress: dict[int, dict[tuple[object, ...], Checkpoint]] = {}
        self.subprog_starts = [0]
        self.live: list[int] = []
        self.mem_types: dict[int, RegType] = {}
        self.depth = 0
        self.hist_aux: object = None
        self.prune = True

    def helper_text(self, func_id: int) -> str:
        p = self.protos.get(func_id)
        return p.full_name if p is not None else helper_name(func_id)

    # --- the loop -------------------------------------------------------------------
    def run(self) -> None:
        cfg = check_cfg(self.insns, self.caps.bpf_capable)
        self.subprog_starts = cfg.subprog_starts
        self.live = live_registers(self.insns)
        prune = cfg.prune_points if self.prune else frozenset()
        branches: list[tuple[int, int, State, int]] = []  # (from, to, state, log pos)
        path_start = self.log.mark()
        if self.log.level:
            self.log(f"0: {frame_text(self.state.cur)}")
        pc = 0
        insns_since_cp = jmps_since_cp = 0
        while True:
            self.pc = pc
            if pc in prune:
                pruned, added = self._visited(pc, insns_since_cp >= 8 and jmps_since_cp >= 2)
                if added:
                    insns_since_cp = jmps_since_cp = 0
                if pruned:
                    self._path_done()
                    nxt = self._pop(branches, path_start)
                    if nxt is None:
                        return
                    pc, path_start = nxt
                    continue
            self.processed += 1
            if self.processed > self.insn_limit:
                raise self.error(f"BPF program is too large. Processed {self.processed} insn",
                                 errno.E2BIG)
            insns_since_cp += 1
            pos = self.log.mark()
            if self.log.level:
                self.log(f"{pc}: ({self.insns[pc].opcode:02x}) "
                         f"{kernel_insn_text(self.insns, pc, self.helper_text)}")
            self.hist_aux = None
            self.depth = len(self.state.frames) - 1
            result = self._step(pc, branches)
            self.state.history.append((pc, self.depth, self.hist_aux))
            if isinstance(result, tuple):
                jmps_since_cp += 1
                result = result[0]
            if self.log.level >= 2 and result is not None:
                self.log.amend(pos, self._touched(pc))
            if result is None:  # this path is finished
                self._path_done()
                nxt = self._pop(branches, path_start)
                if nxt is None:
                    return
                pc, path_start = nxt
                continue
            pc = result

    def _pop(self, branches: list[tuple[int, int, State, int]],
             path_start: int) -> tuple[int, int] | None:
        if self.log.level == 1:
            self.log.reset(path_start)  # level 1 keeps only the failing path
        if not branches:
            return None
        src, dst, state, _ = branches.pop()
        self.state = state
        start = self.log.mark()
        if self.log.level:
            self.log(f"from {src} to {dst}: {frame_text(state.cur)}")
        return dst, start

    def _touched(self, pc: int) -> str:
        i = self.insns[pc]
        regs = {i.dst}
        if i.opcode & 0x07 in (isa.BPF_STX, isa.BPF_LDX) or i.opcode & isa.BPF_X:
            regs.add(i.src)
        if i.opcode == isa.OPCODE_CALL:
            regs = {0}
        if i.opcode in (isa.OPCODE_EXIT, *_JA):
            return ""
        text = frame_text(self.state.cur, regs)
        base = self.state.cur.regs[i.dst]
        if i.opcode & 0x07 in (isa.BPF_ST, isa.BPF_STX) and base.type == RegType.PTR_TO_STACK \
                and base.var.is_const():
            frame = self.state.frames[base.frameno]
            spi = (-(base.off + base.var.value + i.off) - 1) // SLOT
            if 0 <= spi < len(frame.stack):
                text += f" fp{-SLOT * (spi + 1)}={slot_text(frame.stack[spi])}"
        return text

    def _step(self, pc: int, branches: list[tuple[int, int, State, int]]
              ) -> int | tuple[int | None] | None:
        insn = self.insns[pc]
        op, cls = insn.opcode, insn.opcode & 0x07
        if cls in (isa.BPF_ALU, isa.BPF_ALU64):
            self.check_alu(insn)
            return pc + 1
        if cls == isa.BPF_LDX:
            size = isa.SIZE_BYTES[op & 0x18]
            value = self.load(insn.src, insn.off, size, op & 0xE0 == isa.BPF_MEMSX)
            self.set_reg(insn.dst, value)
            return pc + 1
        if cls == isa.BPF_ST:
            size = isa.SIZE_BYTES[op & 0x18]
            self.store(insn.dst, insn.off, size, None, imm=insn.imm)
            return pc + 1
        if cls == isa.BPF_STX:
            if op & 0xE0 == isa.BPF_ATOMIC:
                self._atomic(insn)
            else:
                value = self.read_reg(insn.src)
                self.store(insn.dst, insn.off, isa.SIZE_BYTES[op & 0x18], value, insn.src)
            return pc + 1
        if op == isa.OPCODE_LDDW:
            self.set_reg(insn.dst, self._ld_imm64(insn, self.insns[pc + 1]))
            return pc + 2
        return self._jump(pc, insn, branches)

    def _jump(self, pc: int, insn: Insn, branches: list[tuple[int, int, State, int]]
              ) -> int | tuple[int | None] | None:
        op = insn.opcode
        if op == isa.OPCODE_EXIT:
            ret = self.check_exit()
            return None if ret is None else (ret,)
        if op == isa.BPF_JMP | isa.BPF_JA:
            return (pc + insn.off + 1,)
        if op == isa.BPF_JMP32 | isa.BPF_JA:
            return (pc + insn.imm + 1,)
        if op == isa.OPCODE_CALL:
            if insn.src == isa.BPF_PSEUDO_CALL:
                self.check_subprog_call(pc, pc + insn.imm + 1)
                return (pc + insn.imm + 1,)
            if insn.src == isa.BPF_PSEUDO_KFUNC_CALL:
                raise self.error("calling kernel functions is not supported", errno.EINVAL)
            self.check_helper_call(insn)
            return pc + 1
        if op == isa.OPCODE_CALLX:
            raise self.error(f"unknown opcode {op:02x}", errno.EINVAL)
        fall, target = self.check_cond_jmp(insn)
        dest = pc + insn.off + 1
        if fall is not None and target is not None:
            if self.state.checkpoint is not None:
                self.state.checkpoint.branches += 1
            target.history.append((pc, self.depth, self.hist_aux))
            branches.append((pc, dest, target, self.log.mark()))
            return (pc + 1,)
        if target is not None:
            self.state = target
            return (dest,)
        assert fall is not None
        self.state = fall
        return (pc + 1,)

    def _atomic(self, insn: Insn) -> None:
        """check_atomic: read-modify-write of a stack slot, map value or mem."""
        size = isa.SIZE_BYTES[insn.opcode & 0x18]
        d, s = insn.dst, insn.src
        src = self.read_reg(s)
        if insn.imm == isa.BPF_CMPXCHG:
            r0 = self.read_reg(0)
            if self.is_pointer_value(r0):
                raise self.error("R0 leaks addr into mem")
        if self.is_pointer_value(src):
            raise self.error(f"R{s} leaks addr into mem")
        dst = self.read_reg(d)
        if dst.type == RegType.PTR_TO_CTX or dst.type in R.PKT_TYPES:
            raise self.error(f"BPF_ATOMIC stores into R{d} {R.TYPE_STR[dst.type]} is not allowed")
        self.load(d, insn.off, size)
        self.store(d, insn.off, size, R.unknown_of_size(size), s)
        if insn.imm == isa.BPF_CMPXCHG:
            self.set_reg(0, R.unknown_of_size(size))
        elif insn.imm & isa.BPF_FETCH:
            self.set_reg(s, R.unknown_of_size(size))

    def _ld_imm64(self, insn: Insn, hi: Insn) -> Reg:
        src = insn.src
        if src == 0:
            return R.const((insn.imm & 0xFFFF_FFFF) | ((hi.imm & 0xFFFF_FFFF) << 32))
        if src not in (isa.BPF_PSEUDO_MAP_FD, isa.BPF_PSEUDO_MAP_IDX,
                       isa.BPF_PSEUDO_MAP_VALUE, isa.BPF_PSEUDO_MAP_IDX_VALUE):
            raise self.error("unrecognized bpf_ld_imm64 insn", errno.EINVAL)
        by_idx = src in (isa.BPF_PSEUDO_MAP_IDX, isa.BPF_PSEUDO_MAP_IDX_VALUE)
        m = None
        if self.maps is not None:
            m = self.maps.map_by_index(insn.imm) if by_idx else self.maps.map_by_fd(insn.imm)
        if m is None:
            what = "fd_idx" if by_idx else "fd"
            raise self.error(f"{what} {insn.imm} is not pointing to valid bpf_map",
                             errno.EBADF)
        if src in (isa.BPF_PSEUDO_MAP_FD, isa.BPF_PSEUDO_MAP_IDX):
            return R.pointer(RegType.CONST_PTR_TO_MAP, map=m)
        from tuxnet.bpf.verifier.protos import BPF_MAP_TYPE_ARRAY
        if m.map_type != BPF_MAP_TYPE_ARRAY or m.max_entries != 1:
            raise self.error("no direct value access support for this map type",
                             errno.EINVAL)
        off = hi.imm & 0xFFFF_FFFF
        if off >= m.value_size:
            raise self.error(f"direct value offset of {off} is not allowed", errno.EINVAL)
        return R.pointer(RegType.PTR_TO_MAP_VALUE, off, map=m)

    # --- pruning ----------------------------------------------------------------------
    def _visited(self, pc: int, add_new: bool) -> tuple[bool, bool]:
        """is_state_visited: (the current path can stop here, a checkpoint was added)."""
        frames = self.state.frames
        live = [self.live[frames[k + 1].callsite + 1] & CALLEE_SAVED
                for k in range(len(frames) - 1)]
        live.append(self.live[pc])
        key = self.state.key()
        loop = self.in_progress.get(pc)
        if loop is not None and key in loop:
            raise self.error(f"infinite loop detected at insn {pc}", errno.EINVAL)
        done = self.explored.get(pc)
        if done:
            keep: list[Checkpoint] = []
            hit = False
            for cp in done:
                if not hit and subsumes(cp, self.state, live, self.caps.allow_uninit_stack):
                    cp.hit += 1
                    hit = True
                    keep.append(cp)
                    for k, i in cp.read:  # propagate_liveness
                        if k < len(self.state.frames):
                            self.mark_read(k, i)
                    self.propagate_precision(cp)
                    continue
                if not hit:
                    cp.miss += 1
                    if cp.miss > cp.hit * 3 + 3:
                        continue  # evicted: it rarely prunes anything
                keep.append(cp)
            self.explored[pc] = keep
            if hit:
                return True, False
        if add_new or (not done and not loop):
            cp = Checkpoint(pc, self.state.copy(), self.state.checkpoint, self.state.history,
                            self.state.written)
            cp.state.checkpoint = None
            cp.state.history = []
            self.state.history = []
            self.state.written = set()
            self.state.checkpoint = cp
            self.in_progress.setdefault(pc, {})[cp.key] = cp
            self.total_states += 1
            n = len(self.in_progress[pc]) + len(self.explored.get(pc, ()))
            self.max_states_per_insn = max(self.max_states_per_insn, n)
            return False, True
        return False, False

    def _path_done(self) -> None:
        """update_branch_counts: this path is safe; finish the checkpoints it completes."""
        cp = self.state.checkpoint
        while cp is not None:
            cp.branches -= 1
            if cp.branches > 0:
                return
            table = self.in_progress.get(cp.pc)
            if table is not None and table.get(cp.key) is cp:
                del table[cp.key]
            self.explored.setdefault(cp.pc, []).append(cp)
            cp = cp.parent
