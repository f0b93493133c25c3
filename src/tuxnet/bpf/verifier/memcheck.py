"""Memory accesses: loads, stores and helper memory arguments (kernel/bpf/verifier.c:
check_mem_access, check_stack_read/write_*, check_packet_access, check_map_access,
check_ctx_access, check_helper_mem_access).

Each access is checked against the pointer's kind: the stack (in bounds, strictly
aligned, read only where written unless CAP_PERFMON), the packet (only inside the
range a comparison with data_end proved), a map value or ``mem`` region (every offset
the variable part allows lies inside), the context (the program type's fields).
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from tuxnet.bpf.verifier import reg as R
from tuxnet.bpf.verifier import tnum
from tuxnet.bpf.verifier.env import BPF_MAX_VAR_OFF
from tuxnet.bpf.verifier.precision import PrecisionChecks
from tuxnet.bpf.verifier.reg import S64_MIN, Reg, RegType, s64
from tuxnet.bpf.verifier.scalar import movsx
from tuxnet.bpf.verifier.state import INVALID, MISC, SLOT, SPILL, ZERO, Frame, Slot
from tuxnet.bpf.verifier.tnum import Tnum

BPF_F_RDONLY_PROG = 1 << 7  # include/uapi/linux/bpf.h


def tnum_str(t: Tnum) -> str:
    return str(s64(t.value)) if t.is_const() else t.text()


def _fits(off: int, size: int, limit: int, zero_ok: bool = False) -> bool:
    return off >= 0 and (size > 0 or (zero_ok and size == 0)) and off + size <= limit


class MemoryChecks(PrecisionChecks):
    # --- loads and stores ---------------------------------------------------------
    def note_base(self, t: RegType) -> None:
        """Record the pointer kind each memory instruction uses (insn_aux_data): one
        instruction may not touch the context on one path and other memory on another,
        since the context access is rewritten at load time (convert_ctx_accesses)."""
        prev = self.mem_types.get(self.pc)
        if prev is None:
            self.mem_types[self.pc] = t
        elif prev != t and RegType.PTR_TO_CTX in (prev, t):
            raise self.error("same insn cannot be used with different pointers",
                             errno.EINVAL)

    def load(self, regno: int, off: int, size: int, signed: bool = False) -> Reg:
        """check_mem_access(BPF_READ) through R{regno}; the loaded value."""
        r = self.read_reg(regno)
        t = r.type
        self.note_base(t)
        if t == RegType.PTR_TO_STACK:
            value = self._stack_access(regno, r, off, size, None, None, write=False)
        elif t in R.PKT_TYPES:
            self._packet_access(regno, r, off, size)
            value = R.unknown_of_size(size)
        elif t == RegType.PTR_TO_MAP_VALUE:
            self._region_access(regno, r, off, size, "map value")
            value = R.unknown_of_size(size)
        elif t == RegType.PTR_TO_MEM:
            self._region_access(regno, r, off, size, "memory")
            value = R.unknown_of_size(size)
        elif t == RegType.PTR_TO_CTX:
            value = self._ctx_access(regno, r, off, size, write=False)
        else:
            raise self.error(f"R{regno} invalid mem access '{R.TYPE_STR[t]}'")
        if signed and value.type == RegType.SCALAR:
            value = movsx(value, 8 * size, True)
        return value

    def store(self, regno: int, off: int, size: int, value: Reg | None, src: int = -1,
              imm: int | None = None) -> None:
        """check_mem_access(BPF_WRITE): ``value`` from register ``src`` (STX) or ``imm``."""
        r = self.read_reg(regno)
        t = r.type
        self.note_base(t)
        if value is not None and value.is_pointer and not self.caps.allow_ptr_leaks \
                and t != RegType.PTR_TO_STACK:
            where = {RegType.PTR_TO_MAP_VALUE: "map", RegType.PTR_TO_CTX: "ctx",
                     RegType.PTR_TO_MEM: "mem"}.get(t, "packet")
            if t in (RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_CTX, RegType.PTR_TO_MEM) \
                    or t in R.PKT_TYPES:
                raise self.error(f"R{src} leaks addr into {where}")
        if t == RegType.PTR_TO_STACK:
            self._stack_access(regno, r, off, size, value, imm, write=True)
        elif t in R.PKT_TYPES:
            self._packet_access(regno, r, off, size)
        elif t == RegType.PTR_TO_MAP_VALUE:
            self._map_writable(r, off, size)
            self._region_access(regno, r, off, size, "map value")
        elif t == RegType.PTR_TO_MEM:
            self._region_access(regno, r, off, size, "memory")
        elif t == RegType.PTR_TO_CTX:
            self._ctx_access(regno, r, off, size, write=True)
        else:
            raise self.error(f"R{regno} invalid mem access '{R.TYPE_STR[t]}'")

    def _map_writable(self, r: Reg, off: int, size: int) -> None:
        """check_map_access_type: BPF_F_RDONLY_PROG maps (e.g. .rodata) refuse writes."""
        assert r.map is not None
        if getattr(r.map, "map_flags", 0) & BPF_F_RDONLY_PROG:
            raise self.error(f"write into map forbidden, value_size={r.map.value_size} "
                             f"off={r.off + off} size={size}")

    # --- context ------------------------------------------------------------------
    def _ctx_access(self, regno: int, r: Reg, off: int, size: int, write: bool) -> Reg:
        if r.off:
            raise self.error(f"dereference of modified ctx ptr R{regno} off={r.off} disallowed")
        if r.var != tnum.ZERO:
            raise self.error(f"variable ctx access var_off={tnum_str(r.var)} disallowed")
        t = self.ctx.access(off, size, write)
        if t is None:
            raise self.error(f"invalid bpf_context access off={off} size={size}")
        return R.unknown_of_size(size) if t == RegType.SCALAR else R.pointer(t)

    # --- packet, map value, mem -----------------------------------------------------
    def _packet_access(self, regno: int, r: Reg, insn_off: int, size: int,
                       zero_ok: bool = False) -> None:
        if r.smin < 0:
            raise self.error(f"R{regno} min value is negative, either use unsigned index or "
                             f"do a if (index >=0) check.")
        off = r.off + insn_off
        if not _fits(off, size, r.range, zero_ok):
            raise self.error(
                f"invalid access to packet, off={off} size={size}, R{regno}(id={r.id},"
                f"off={off},r={r.range})\nR{regno} offset is outside of the packet")

    def _region_access(self, regno: int, r: Reg, insn_off: int, size: int, kind: str,
                       zero_ok: bool = False) -> None:
        """check_map_access / check_mem_region_access over every possible offset."""
        if kind == "map value":
            assert r.map is not None
            limit = r.map.value_size
            head = f"invalid access to map value, value_size={limit}"
        else:
            limit = r.mem_size
            head = f"invalid access to memory, mem_size={limit}"
        off = r.off + insn_off
        if r.smin < 0 and (r.smin == S64_MIN or not -(1 << 31) <= off + r.smin < (1 << 31)
                           or r.smin + off < 0):
            raise self.error(f"R{regno} min value is negative, either use unsigned index or "
                             f"do a if (index >=0) check.")
        lo = off + r.smin
        if not _fits(lo, size, limit, zero_ok):
            raise self.error(f"{head} off={lo} size={size}\n"
                             f"R{regno} min value is outside of the allowed memory range")
        if r.umax >= BPF_MAX_VAR_OFF:
            raise self.error(f"R{regno} unbounded memory access, make sure to bounds check "
                             f"any such access")
        hi = off + r.umax
        if not _fits(hi, size, limit, zero_ok):
            raise self.error(f"{head} off={hi} size={size}\n"
                             f"R{regno} max value is outside of the allowed memory range")

    # --- stack --------------------------------------------------------------------
    def _stack_frame(self, r: Reg) -> Frame:
        return self.state.frames[r.frameno]

    def _stack_range(self, regno: int, r: Reg, off: int, size: int, write: bool,
                     frame: Frame) -> tuple[int, int]:
        """check_stack_access_within_bounds: the byte range [lo, hi) below the frame."""
        extra = " write to" if write else " read from"
        if r.var.is_const():
            lo = s64(r.var.value) + r.off + off
            hi = lo + size
        else:
            if r.smax >= BPF_MAX_VAR_OFF or r.smin <= -BPF_MAX_VAR_OFF:
                raise self.error(f"invalid unbounded variable-offset{extra} stack R{regno}")
            lo = r.smin + r.off + off
            hi = r.smax + r.off + off + size
        min_valid = -512 if write or self.caps.allow_uninit_stack else -frame.allocated
        if lo < min_valid or lo > -1 or hi > 0:
            if r.var.is_const():
                raise self.error(f"invalid{extra} stack R{regno} off={lo} size={size}")
            raise self.error(f"invalid variable-offset{extra} stack R{regno} "
                             f"var_off={tnum_str(r.var)} off={r.off + off} size={size}")
        return lo, hi

    def _stack_access(self, regno: int, r: Reg, off: int, size: int, value: Reg | None,
                      imm: int | None, write: bool) -> Reg:
        total = tnum.add(r.var, tnum.const(r.off + off))
        if not tnum.is_aligned(total, size):
            raise self.error(f"misaligned stack access off {tnum_str(r.var)}+{r.off}+{off} "
                             f"size {size}")
        frame = self._stack_frame(r)
        lo, hi = self._stack_range(regno, r, off, size, write, frame)
        if write:
            if r.var.is_const():
                self._stack_write_fixed(frame, lo, size, value, imm)
            else:
                self._stack_write_var(frame, lo, hi, value, imm)
            return R.NOT_INIT
        if r.var.is_const():
            return self._stack_read_fixed(frame, lo, size)
        self._stack_bytes_readable(frame, lo, hi, lambda i: (
            f"invalid variable-offset read from stack R{regno} var_off={tnum_str(r.var)} "
            f"off={r.off + off} size={size}"))
        return R.unknown_of_size(size)

    def _stack_write_fixed(self, frame: Frame, off: int, size: int, value: Reg | None,
                           imm: int | None) -> None:
        spi = (-off - 1) // SLOT
        b0 = off + SLOT * (spi + 1)
        slot = frame.slot(spi)
        self.hist_aux = (frame.frameno, spi)
        if value is not None and value.is_pointer:
            if size != SLOT:
                raise self.error("invalid size of register spill")
            if value.type == RegType.PTR_TO_STACK and value.frameno > frame.frameno:
                raise self.error("cannot spill pointers to stack into stack frame of the caller")
            frame.set_slot(spi, Slot(SPILL * SLOT, value))
            return
        if slot.spilled is not None and slot.spilled.is_pointer and size != SLOT \
                and not self.caps.allow_ptr_leaks:
            raise self.error("attempt to corrupt spilled pointer on stack")
        if size == SLOT:
            if value is None:
                if imm == 0:
                    frame.set_slot(spi, Slot(ZERO * SLOT))
                    return
                value = R.const(imm or 0)
            frame.set_slot(spi, Slot(SPILL * SLOT, value))
            return
        kinds = list(slot.kinds) if slot.spilled is None else [MISC] * SLOT
        zero = (imm == 0) if value is None else value.is_null()
        for i in range(b0, b0 + size):
            kinds[i] = ZERO if zero else MISC
        frame.set_slot(spi, Slot("".join(kinds)))

    def _stack_write_var(self, frame: Frame, lo: int, hi: int, value: Reg | None,
                         imm: int | None) -> None:
        zero = (imm == 0) if value is None else value.is_null()
        for addr in range(lo, hi):
            spi = (-addr - 1) // SLOT
            b = addr + SLOT * (spi + 1)
            slot = frame.slot(spi)
            if slot.spilled is not None:
                if slot.spilled.is_pointer and not self.caps.allow_ptr_leaks:
                    raise self.error(f"spilled ptr in range of var-offset stack write; "
                                     f"insn {self.pc}, off: {addr}")
                slot = Slot(MISC * SLOT)
            kind = slot.kinds[b]
            if kind == INVALID and not self.caps.allow_uninit_stack:
                raise self.error(f"uninit stack in range of var-offset write prohibited for "
                                 f"!root; insn {self.pc}, off: {addr}")
            new = ZERO if zero and kind == ZERO else MISC
            frame.set_slot(spi, Slot(slot.kinds[:b] + new + slot.kinds[b + 1:]))

    def _stack_read_fixed(self, frame: Frame, off: int, size: int) -> Reg:
        spi = (-off - 1) // SLOT
        b0 = off + SLOT * (spi + 1)
        slot = frame.slot(spi)
        if slot.spilled is not None:
            self.hist_aux = (frame.frameno, spi)
            if size == SLOT:
                return slot.spilled
            if slot.spilled.type != RegType.SCALAR:
                raise self.error("invalid size of register fill")
            if slot.spilled.is_const:
                v = slot.spilled.const_value >> (8 * b0)
                return R.const(v & ((1 << (8 * size)) - 1))
            return R.unknown_of_size(size)
        zeros = 0
        for i in range(size):
            kind = slot.kinds[b0 + i]
            if kind == ZERO:
                zeros += 1
            elif kind == INVALID and not self.caps.allow_uninit_stack:
                raise self.error(f"invalid read from stack off {off}+{i} size {size}")
        return R.const(0) if zeros == size else R.unknown_of_size(size)

    def _stack_bytes_readable(self, frame: Frame, lo: int, hi: int,
                              message: Callable[[int], str]) -> None:
        for addr in range(lo, hi):
            spi = (-addr - 1) // SLOT
            slot = frame.slot(spi)
            if slot.spilled is not None:
                if slot.spilled.is_pointer and not self.caps.allow_ptr_leaks:
                    raise self.error(f"leaking pointer from stack off {addr}")
                continue
            kind = slot.kinds[addr + SLOT * (spi + 1)]
            if kind == INVALID and not self.caps.allow_uninit_stack:
                raise self.error(message(addr - lo))

    # --- helper memory arguments ------------------------------------------------------
    def helper_mem(self, regno: int, size: int, write: bool, zero_ok: bool) -> None:
        """check_helper_mem_access: R{regno} gives ``size`` bytes to a helper."""
        r = self.reg(regno)
        t = r.type
        if t in R.PKT_TYPES:
            self._packet_access(regno, r, 0, size, zero_ok)
        elif t == RegType.PTR_TO_MAP_VALUE:
            if write:
                self._map_writable(r, 0, size)
            self._region_access(regno, r, 0, size, "map value", zero_ok)
        elif t == RegType.PTR_TO_MEM:
            self._region_access(regno, r, 0, size, "memory", zero_ok)
        elif t == RegType.PTR_TO_STACK:
            self._stack_helper(regno, r, size, write, zero_ok)
        else:
            raise self.error(f"R{regno} type={R.TYPE_STR[t]} expected=fp", errno.EACCES)

    def _stack_helper(self, regno: int, r: Reg, size: int, write: bool,
                      zero_ok: bool) -> None:
        """check_stack_range_initialized for a helper reading (or filling) the stack."""
        if size == 0 and zero_ok:
            return
        frame = self._stack_frame(r)
        lo, hi = self._stack_range(regno, r, 0, size, write, frame)
        if r.var.is_const():
            def msg(i: int) -> str:
                return f"invalid read from stack R{regno} off {lo}+{i} size {size}"
        else:
            def msg(i: int) -> str:
                return (f"invalid indirect read from stack R{regno} var_off "
                        f"{tnum_str(r.var)}+{r.off} size {size}")
        if not write:
            self._stack_bytes_readable(frame, lo, hi, msg)
            return
        for addr in range(lo, hi):  # the helper fills these bytes
            spi = (-addr - 1) // SLOT
            slot = frame.slot(spi)
            kinds = slot.kinds if slot.spilled is None else MISC * SLOT
            b = addr + SLOT * (spi + 1)
            frame.set_slot(spi, Slot(kinds[:b] + MISC + kinds[b + 1:]))
