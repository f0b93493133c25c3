"""Calls and exits: helper prototypes, bpf-to-bpf calls, returning
(kernel/bpf/verifier.c: check_helper_call, check_func_arg, check_map_func_compatibility,
check_func_call, prepare_func_exit, check_return_code).

A helper call checks r1-r5 against the prototype, then clobbers r1-r5 (caller-saved)
and sets r0 from the return type: a ``map_value_or_null`` with a fresh id for
``bpf_map_lookup_elem`` (a plain ``map_value`` for an array lookup with a constant key
in range), an unknown scalar for integers. Helpers that move the packet invalidate
every packet pointer. A local call opens a frame (at most 8); its exit returns r0.
"""

from __future__ import annotations

import errno

from tuxnet.bpf.isa import MAX_CALL_FRAMES, Insn
from tuxnet.bpf.verifier import protos as P
from tuxnet.bpf.verifier import reg as R
from tuxnet.bpf.verifier.branch import put_reg, state_regs
from tuxnet.bpf.verifier.env import BPF_MAX_VAR_SIZ
from tuxnet.bpf.verifier.memcheck import MemoryChecks
from tuxnet.bpf.verifier.protos import Arg, Ret
from tuxnet.bpf.verifier.reg import MapInfo, Reg, RegType
from tuxnet.bpf.verifier.state import SLOT, SPILL, ZERO, Frame

_MEM_TYPES = frozenset({RegType.PTR_TO_STACK, RegType.PTR_TO_PACKET,
                        RegType.PTR_TO_PACKET_META, RegType.PTR_TO_MAP_VALUE,
                        RegType.PTR_TO_MEM})
# kernel/bpf/verifier.c: the compatible types of ARG_PTR_TO_MEM, as check_reg_type
# prints them
_MEM_EXPECTED = "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
_CALLER_SAVED = range(1, 6)
_ARRAYS = frozenset({P.BPF_MAP_TYPE_ARRAY, P.BPF_MAP_TYPE_PERCPU_ARRAY})


class CallChecks(MemoryChecks):
    def check_helper_call(self, insn: Insn) -> None:
        func_id = insn.imm
        proto = self.protos.get(func_id)
        if proto is None:
            raise self.error(f"invalid func unknown#{func_id}", errno.EINVAL)
        if func_id not in self.allowed_funcs or (
                func_id == P.BPF_FUNC_trace_printk and not self.caps.perfmon_capable):
            raise self.error(f"program of this type cannot use helper {proto.full_name}",
                             errno.EINVAL)
        if func_id == P.BPF_FUNC_tail_call and len(self.state.frames) > 1:
            raise self.error("mixing of tail_calls and bpf-to-bpf calls is not supported",
                             errno.EINVAL)
        meta_map: MapInfo | None = None
        key_const: int | None = None
        for i, kind in enumerate(proto.args):
            regno = i + 1
            r = self.read_reg(regno)
            if kind == Arg.ANYTHING:
                if self.is_pointer_value(r):
                    raise self.error(f"R{regno} leaks addr into helper function")
            elif kind == Arg.CONST_MAP_PTR:
                if r.type != RegType.CONST_PTR_TO_MAP:
                    raise self.error(f"R{regno} type={R.TYPE_STR[r.type]} expected=map_ptr")
                assert r.map is not None
                meta_map = r.map
                self._map_compat(meta_map, proto)
            elif kind == Arg.PTR_TO_CTX:
                if r.type != RegType.PTR_TO_CTX:
                    raise self.error(f"R{regno} type={R.TYPE_STR[r.type]} expected=ctx")
                if r.off:
                    raise self.error(f"dereference of modified ctx ptr R{regno} off={r.off} "
                                     f"disallowed")
            elif kind in (Arg.PTR_TO_MAP_KEY, Arg.PTR_TO_MAP_VALUE):
                self._mem_type(regno, r)
                assert meta_map is not None
                size = meta_map.key_size if kind == Arg.PTR_TO_MAP_KEY else meta_map.value_size
                self.helper_mem(regno, size, False, False)
                if kind == Arg.PTR_TO_MAP_KEY:
                    key_const = self._const_key(r, size)
            elif kind in (Arg.PTR_TO_MEM, Arg.PTR_TO_MEM_OR_NULL, Arg.PTR_TO_UNINIT_MEM):
                if not (kind == Arg.PTR_TO_MEM_OR_NULL and r.is_null()):
                    self._mem_type(regno, r)
            elif kind in (Arg.CONST_SIZE, Arg.CONST_SIZE_OR_ZERO):
                self._mem_size(regno, r, proto.args[i - 1], kind == Arg.CONST_SIZE_OR_ZERO)
        if proto.changes_pkt_data:
            self._clear_pkt_pointers()
        for regno in _CALLER_SAVED:
            self.set_reg(regno, R.NOT_INIT)
        if proto.ret == Ret.INTEGER:
            self.set_reg(0, R.UNKNOWN)
        elif proto.ret == Ret.VOID:
            self.set_reg(0, R.NOT_INIT)
        else:
            assert meta_map is not None
            self.set_reg(0, self._lookup_result(meta_map, key_const))

    def _mem_type(self, regno: int, r: Reg) -> None:
        if r.type not in _MEM_TYPES:
            raise self.error(f"R{regno} type={R.TYPE_STR[r.type]} expected={_MEM_EXPECTED}")

    def _mem_size(self, regno: int, r: Reg, mem_kind: Arg, zero_ok: bool) -> None:
        """check_mem_size_reg: R{regno} is the size of the buffer in R{regno - 1}."""
        if r.type != RegType.SCALAR:
            raise self.error(f"R{regno} type={R.TYPE_STR[r.type]} expected=scalar")
        if r.smin < 0:
            raise self.error(f"R{regno} min value is negative, either use unsigned or "
                             f"'var &= const'")
        if r.umin == 0 and not zero_ok:
            raise self.error(f"R{regno} invalid zero-sized read: u64=[{r.umin},{r.umax}]")
        if r.umax >= BPF_MAX_VAR_SIZ:
            raise self.error(f"R{regno} unbounded memory access, use 'var &= const' or "
                             f"'if (var < const)'")
        self.mark_precise([regno])
        mem = self.reg(regno - 1)
        if mem.is_null():
            if r.umax:
                raise self.error(f"R{regno - 1} type=scalar expected=fp")
            return
        self.helper_mem(regno - 1, r.umax, mem_kind == Arg.PTR_TO_UNINIT_MEM, zero_ok)

    def _map_compat(self, m: MapInfo, proto: P.FuncProto) -> None:
        if proto.func_id == P.BPF_FUNC_tail_call and m.map_type != P.BPF_MAP_TYPE_PROG_ARRAY:
            raise self.error("expected prog array map for tail call", errno.EINVAL)
        if not P.map_func_compatible(m.map_type, proto.func_id):
            if proto.func_id in (P.BPF_FUNC_map_update_elem, P.BPF_FUNC_map_delete_elem) \
                    and m.map_type in (P.BPF_MAP_TYPE_DEVMAP, P.BPF_MAP_TYPE_DEVMAP_HASH):
                raise self.error("write into map forbidden")
            raise self.error(f"cannot pass map_type {m.map_type} into func {proto.full_name}",
                             errno.EINVAL)

    def _const_key(self, r: Reg, size: int) -> int | None:
        """The key's value if it is a constant on the stack (get_constant_map_key)."""
        if r.type != RegType.PTR_TO_STACK or not r.var.is_const() or size > SLOT:
            return None
        off = r.off + r.var.value
        frame = self.state.frames[r.frameno]
        spi = (-off - 1) // SLOT
        b0 = off + SLOT * (spi + 1)
        if b0 + size > SLOT:
            return None
        slot = frame.slot(spi)
        if slot.spilled is not None and slot.kinds == SPILL * SLOT:
            if slot.spilled.is_const and size == SLOT:
                self.mark_precise(slots=[(frame.frameno, spi)])
                return (slot.spilled.const_value >> (8 * b0)) & ((1 << (8 * size)) - 1)
            return None
        if slot.kinds[b0:b0 + size] == ZERO * size:
            return 0
        return None

    def _lookup_result(self, m: MapInfo, key: int | None) -> Reg:
        if m.map_type in _ARRAYS and key is not None and key < m.max_entries:
            return R.pointer(RegType.PTR_TO_MAP_VALUE, map=m)
        return R.pointer(RegType.PTR_TO_MAP_VALUE_OR_NULL, map=m, id=self.new_id())

    def _clear_pkt_pointers(self) -> None:
        """clear_all_pkt_pointers: the packet may have moved."""
        for f, i, r in list(state_regs(self.state)):
            if r.type in (RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META,
                          RegType.PTR_TO_PACKET_END):
                put_reg(f, i, R.UNKNOWN if self.caps.allow_ptr_leaks else R.NOT_INIT)

    # --- bpf-to-bpf calls -------------------------------------------------------------
    def check_subprog_call(self, pc: int, target: int) -> None:
        depth = len(self.state.frames)
        if depth >= MAX_CALL_FRAMES:
            raise self.error(f"the call stack of {depth + 1} frames is too deep", errno.E2BIG)
        caller = self.frame
        callee = Frame(depth, pc)
        for regno in _CALLER_SAVED:
            if caller.regs[regno].type != RegType.NOT_INIT:
                self.mark_read(depth - 1, regno)  # passed on: read by the call
            callee.regs[regno] = caller.regs[regno]
        self.state.written.update((depth, r) for r in range(11))  # a fresh frame
        callee.regs[10] = R.pointer(RegType.PTR_TO_STACK, frameno=depth)
        self.state.frames.append(callee)
        if self.log.level:
            self.log(f"caller:\n {_frame_line(caller)}\ncallee:\n {_frame_line(callee)}")

    def check_exit(self) -> int | None:
        """Exit from the current frame; the pc to return to, or None for the program."""
        frames = self.state.frames
        if len(frames) == 1:
            r0 = self.read_reg(0)  # R0 !read_ok if never set
            if self.is_pointer_value(r0):
                raise self.error("R0 leaks addr as return value")
            return None
        if self.reg(0).type != RegType.NOT_INIT:
            self.read_reg(0)  # returned to the caller
        callee = frames.pop()
        caller = frames[-1]
        self.state.written.update((len(frames) - 1, r) for r in range(6))
        r0 = callee.regs[0]
        if r0.type == RegType.PTR_TO_STACK and r0.frameno == callee.frameno:
            raise self.error("cannot return stack pointer to the caller frame", errno.EINVAL)
        caller.regs[0] = r0
        for regno in _CALLER_SAVED:
            caller.regs[regno] = R.NOT_INIT
        if self.log.level:
            self.log(f"returning from callee:\n {_frame_line(callee)}\nto caller at "
                     f"{callee.callsite + 1}:\n {_frame_line(caller)}")
        return callee.callsite + 1


def _frame_line(f: Frame) -> str:
    from tuxnet.bpf.verifier.state import frame_text
    return frame_text(f)
