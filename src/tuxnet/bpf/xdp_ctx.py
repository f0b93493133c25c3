"""XDP context conversion: ``struct xdp_md`` loads rewritten for tuxnet's 64-bit pointers.

A compiled XDP program reads ``ctx->data``, ``ctx->data_end`` and ``ctx->data_meta``
as u32 fields of ``struct xdp_md`` and uses them as pointers. The kernel's verifier
rewrites those loads into loads of the real pointers from ``struct xdp_buff``
(kernel/bpf/verifier.c: convert_ctx_accesses; net/core/filter.c:
xdp_convert_ctx_access). tuxnet does the same: a 4-byte load at offset N of the
context becomes an 8-byte load at offset 2N of a shadow context whose six fields are
u64 (pointers are ``region << 32 | offset``, see ``tuxnet.bpf.memory``). The
instruction count does not change, so no jump needs fixing.

Which loads read the context is found by a small forward data-flow analysis over the
program's control flow (including bpf-to-bpf calls, which may pass ctx in r1-r5, and
8-byte spills to the stack): a register or stack slot is CTX, OTHER, or MIXED when
paths disagree. A ctx access that is not a plain aligned 4-byte read of a known field,
or a load whose base is ctx on one path and not on another, is refused with the
kernel's words (as the kernel refuses such programs).
"""

from __future__ import annotations

from collections.abc import Sequence

from tuxnet.bpf import isa
from tuxnet.bpf.errors import BpfLoadError
from tuxnet.bpf.isa import Insn

XDP_MD_FIELDS = 6           # data, data_end, data_meta, ingress_ifindex, rx_queue_index,
XDP_MD_SIZE = 4 * XDP_MD_FIELDS  # egress_ifindex (include/uapi/linux/bpf.h: struct xdp_md)
SHADOW_CTX_SIZE = 8 * XDP_MD_FIELDS

_BOT, _CTX, _OTHER, _MIXED = 0, 1, 2, 3   # a lattice: join is bitwise or
_FP = isa.BPF_REG_FP
State = tuple[tuple[int, ...], tuple[tuple[int, int], ...]]  # (regs r0-r10, stack slots)


def _join(a: State, b: State) -> State:
    regs = tuple(x | y for x, y in zip(a[0], b[0], strict=True))
    sa, sb = dict(a[1]), dict(b[1])
    slots = {k: sa.get(k, _OTHER) | sb.get(k, _OTHER) for k in sa.keys() | sb.keys()}
    return regs, tuple(sorted(slots.items()))


def _entry(ctx_regs: Sequence[int]) -> State:
    regs = [_OTHER] * isa.MAX_BPF_REG
    for r in range(1, 6):
        regs[r] = ctx_regs[r - 1]
    return tuple(regs), ()


class _Flow:
    def __init__(self, insns: Sequence[Insn]) -> None:
        self.insns = insns
        self.states: dict[int, State] = {}
        self.work: list[int] = []

    def push(self, pc: int, st: State) -> None:
        old = self.states.get(pc)
        new = st if old is None else _join(old, st)
        if new != old:
            self.states[pc] = new
            self.work.append(pc)

    def run(self) -> dict[int, State]:
        self.push(0, _entry([_CTX, _OTHER, _OTHER, _OTHER, _OTHER]))
        while self.work:
            pc = self.work.pop()
            self.step(pc, self.states[pc])
        return self.states

    def step(self, pc: int, st: State) -> None:
        insn = self.insns[pc]
        regs = list(st[0])
        slots = dict(st[1])
        op, cls = insn.opcode, insn.opcode & 0x07
        nxt = [pc + 1]
        if op == isa.OPCODE_LDDW:
            regs[insn.dst] = _OTHER
            nxt = [pc + 2]
        elif cls in (isa.BPF_ALU, isa.BPF_ALU64):
            mov_reg = op == isa.BPF_ALU64 | isa.BPF_MOV | isa.BPF_X and insn.off == 0
            regs[insn.dst] = regs[insn.src] if mov_reg else _OTHER
        elif cls == isa.BPF_LDX:
            stack = insn.src == _FP and op & 0x18 == isa.BPF_DW
            regs[insn.dst] = slots.get(insn.off, _OTHER) if stack else _OTHER
        elif cls in (isa.BPF_ST, isa.BPF_STX):
            if insn.dst == _FP:
                size = isa.SIZE_BYTES[op & 0x18]
                for k in [k for k in slots if k < insn.off + size and insn.off < k + 8]:
                    del slots[k]
                if cls == isa.BPF_STX and op & 0xE0 == isa.BPF_MEM and size == 8:
                    slots[insn.off] = regs[insn.src]
            if op & 0xE0 == isa.BPF_ATOMIC:
                if insn.imm & isa.BPF_FETCH:
                    regs[insn.src] = _OTHER
                if insn.imm == isa.BPF_CMPXCHG:
                    regs[0] = _OTHER
        elif op == isa.OPCODE_EXIT:
            return  # the caller's continuation was pushed at the call
        elif op in (isa.OPCODE_CALL, isa.OPCODE_CALLX):
            if op == isa.OPCODE_CALL and insn.src == isa.BPF_PSEUDO_CALL:
                self._call(pc, pc + insn.imm + 1, st)
                return
            for r in range(6):
                regs[r] = _OTHER
        elif cls in (isa.BPF_JMP, isa.BPF_JMP32):
            if op == isa.BPF_JMP32 | isa.BPF_JA:
                nxt = [pc + insn.imm + 1]
            elif op == isa.BPF_JMP | isa.BPF_JA:
                nxt = [pc + insn.off + 1]
            else:
                nxt = [pc + 1, pc + insn.off + 1]
        new: State = (tuple(regs), tuple(sorted(slots.items())))
        for t in nxt:
            if 0 <= t < len(self.insns):
                self.push(t, new)

    def _call(self, pc: int, target: int, st: State) -> None:
        # The callee starts with the caller's r1-r5 (joined over all call sites) and a
        # fresh stack; the caller continues with r0-r5 clobbered, r6-r9 and stack kept.
        self.push(target, _entry(st[0][1:6]))
        regs = list(st[0])
        for r in range(6):
            regs[r] = _OTHER
        self.push(pc + 1, (tuple(regs), st[1]))


def convert_ctx_access(insns: Sequence[Insn], name: str = "prog") -> list[Insn]:
    """Rewrite ``ldxw rD, [ctx + 4k]`` into ``ldxdw rD, [ctx + 8k]`` (see module doc)."""
    states = _Flow(insns).run()
    out = list(insns)
    for pc, st in states.items():
        insn = insns[pc]
        cls = insn.opcode & 0x07
        if cls == isa.BPF_LDX:
            base = insn.src
        elif cls in (isa.BPF_ST, isa.BPF_STX):
            base = insn.dst
        else:
            continue
        kind = st[0][base]
        if kind in (_OTHER, _BOT):
            continue
        where = f"{name}: insn {pc}"
        if kind == _MIXED:
            raise BpfLoadError(f"{where}: same insn cannot be used with different pointers "
                               f"(r{base} is ctx on some paths only)", pc)
        size = isa.SIZE_BYTES[insn.opcode & 0x18]
        off = insn.off
        if cls != isa.BPF_LDX or insn.opcode & 0xE0 != isa.BPF_MEM:
            raise BpfLoadError(f"{where}: invalid bpf_context access off={off} size={size} "
                               f"(the XDP context is read-only)", pc)
        if size != 4 or off % 4 or not 0 <= off < XDP_MD_SIZE:
            raise BpfLoadError(f"{where}: invalid bpf_context access off={off} size={size}",
                               pc)
        out[pc] = insn._replace(opcode=isa.BPF_LDX | isa.BPF_MEM | isa.BPF_DW, off=off * 2)
    return out
