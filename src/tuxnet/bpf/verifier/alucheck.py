"""ALU instructions: scalar arithmetic and the pointer arithmetic rules
(kernel/bpf/verifier.c: check_alu_op, adjust_reg_min_max_vals, adjust_ptr_min_max_vals,
check_reg_sane_offset).

Only 64-bit add and subtract move a pointer; the constant part goes to ``off``, a
variable part to the tracked bounds. Packet pointers that gain a variable part get a
new id and lose their proven range. Pointers to ``pkt_end``, maps and possibly-NULL
values do not move at all.
"""

from __future__ import annotations

import errno

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.verifier import reg as R
from tuxnet.bpf.verifier import scalar
from tuxnet.bpf.verifier.env import BPF_MAX_VAR_OFF
from tuxnet.bpf.verifier.precision import PrecisionChecks
from tuxnet.bpf.verifier.reg import S64_MIN, Reg, RegType, s64
from tuxnet.bpf.verifier.tnum import M32

_OP_STR = {isa.BPF_ADD: "+=", isa.BPF_SUB: "-=", isa.BPF_MUL: "*=", isa.BPF_DIV: "/=",
           isa.BPF_OR: "|=", isa.BPF_AND: "&=", isa.BPF_LSH: "<<=", isa.BPF_RSH: ">>=",
           isa.BPF_NEG: "neg", isa.BPF_MOD: "%=", isa.BPF_XOR: "^=", isa.BPF_MOV: "=",
           isa.BPF_ARSH: "s>>=", isa.BPF_END: "endian"}


class AluChecks(PrecisionChecks):
    def check_alu(self, insn: Insn) -> None:
        code = insn.opcode & 0xF0
        is64 = insn.opcode & 0x07 == isa.BPF_ALU64
        d = insn.dst
        if code in (isa.BPF_NEG, isa.BPF_END):
            self._unary(insn, code, is64)
            return
        if code == isa.BPF_MOV:
            self._mov(insn, is64)
            return
        if insn.opcode & isa.BPF_X:
            src = self.read_reg(insn.src)
        else:
            bits = 64 if is64 else 32
            if code in (isa.BPF_DIV, isa.BPF_MOD) and insn.imm == 0:
                raise self.error("div by zero", errno.EINVAL)
            if code in (isa.BPF_LSH, isa.BPF_RSH, isa.BPF_ARSH) and \
                    not 0 <= insn.imm < bits:
                raise self.error(f"invalid shift {insn.imm}", errno.EINVAL)
            src = R.const(insn.imm if is64 else insn.imm & M32)
        dst = self.read_reg(d)
        if dst.is_pointer or src.is_pointer:
            self.set_reg(d, self._pointer_alu(insn, code, is64, dst, src))
            return
        self.set_reg(d, scalar.alu(code, dst, src, is64, signed=insn.off == 1))

    def _unary(self, insn: Insn, code: int, is64: bool) -> None:
        d = insn.dst
        dst = self.read_reg(d)
        if dst.is_pointer:
            if self.is_pointer_value(dst):
                raise self.error(f"R{d} pointer arithmetic prohibited")
            self.set_reg(d, R.UNKNOWN if is64 else R.urange(0, M32))
            return
        if code == isa.BPF_NEG:
            self.set_reg(d, scalar.neg(dst, is64))
            return
        to_be = bool(insn.opcode & isa.BPF_X) and not is64  # be16/32/64
        if is64:  # bswap16/32/64 (RFC 9669 4.2): unconditional swap
            to_be = True
        self.set_reg(d, scalar.byteswap(dst, insn.imm, to_be))

    def _mov(self, insn: Insn, is64: bool) -> None:
        d = insn.dst
        if not insn.opcode & isa.BPF_X:
            self.set_reg(d, R.const(insn.imm if is64 else insn.imm & M32))
            return
        src = self.read_reg(insn.src)
        if insn.off:  # MOVSX
            if src.is_pointer:
                if self.is_pointer_value(src):
                    raise self.error(f"R{insn.src} sign-extension part of pointer")
                self.set_reg(d, R.UNKNOWN if is64 else R.urange(0, M32))
                return
            self.set_reg(d, scalar.movsx(src, insn.off, is64))
            return
        if is64:
            if src.type == RegType.SCALAR and not src.is_const and src.id == 0:
                # Link the copies so a bounds check on one also bounds the other
                # (kernel/bpf/verifier.c: check_alu_op assigns an id; sync_linked_regs).
                src = src._replace(id=self.new_id())
                self.frame.regs[insn.src] = src  # same value, now linked: not a definition
            self.set_reg(d, src)
            return
        if src.is_pointer:
            if self.is_pointer_value(src):
                raise self.error(f"R{insn.src} partial copy of pointer")
            self.set_reg(d, R.urange(0, M32))
            return
        self.set_reg(d, scalar.low32(src)._replace(id=0))

    # --- pointer arithmetic ---------------------------------------------------------
    def _pointer_alu(self, insn: Insn, code: int, is64: bool, dst: Reg, src: Reg) -> Reg:
        """adjust_reg_min_max_vals / adjust_ptr_min_max_vals, checks in the kernel's order."""
        d = insn.dst
        op = _OP_STR[code]
        if dst.is_pointer and src.is_pointer:
            if code == isa.BPF_SUB and self.caps.allow_ptr_leaks:
                return R.UNKNOWN if is64 else R.urange(0, M32)  # the distance
            raise self.error(f"R{d} pointer {op} pointer prohibited")
        ptr, off = (dst, src) if dst.is_pointer else (src, dst)
        name = R.TYPE_STR[ptr.type]
        if not is64:
            if code == isa.BPF_SUB and self.caps.allow_ptr_leaks:
                return R.urange(0, M32)  # a meaningless scalar
            raise self.error(f"R{d} 32-bit pointer arithmetic prohibited")
        if ptr.type == RegType.PTR_TO_MAP_VALUE_OR_NULL:
            raise self.error(f"R{d} pointer arithmetic on {name} prohibited, null-check it first")
        if ptr.type in _FIXED:
            if ptr.type == RegType.CONST_PTR_TO_MAP and code == isa.BPF_ADD \
                    and off.is_const and off.const_value == 0:
                return ptr
            raise self.error(f"R{d} pointer arithmetic on {name} prohibited")
        self._sane_offset(off, name)
        self._sane_offset(ptr, name)
        if code in (isa.BPF_ADD, isa.BPF_SUB) and not self.caps.perfmon_capable:
            self._sanitize(d, ptr, off, bool(insn.opcode & isa.BPF_X))
        if code == isa.BPF_SUB and src.is_pointer:
            raise self.error(f"R{d} tried to subtract pointer from scalar")
        if code in (isa.BPF_AND, isa.BPF_OR, isa.BPF_XOR):
            raise self.error(f"R{d} bitwise operator {op} on pointer prohibited")
        if code not in (isa.BPF_ADD, isa.BPF_SUB):
            raise self.error(f"R{d} pointer arithmetic with {op} operator prohibited")
        if insn.opcode & isa.BPF_X:  # the offset's range becomes part of the pointer
            self.mark_precise([insn.src if dst.is_pointer else d])
        res = self._ptr_add(code, ptr, off)
        self._sane_offset(res, name)
        return res

    def _sane_offset(self, r: Reg, name: str) -> None:
        """check_reg_sane_offset: offsets stay within BPF_MAX_VAR_OFF."""
        if r.var.is_const():
            val = s64(r.var.value)
            if not -BPF_MAX_VAR_OFF < val < BPF_MAX_VAR_OFF:
                raise self.error(f"math between {name} pointer and {val} is not allowed",
                                 errno.EINVAL)
        if not -BPF_MAX_VAR_OFF < r.off < BPF_MAX_VAR_OFF:
            raise self.error(f"{name} pointer offset {r.off} is not allowed", errno.EINVAL)
        if r.smin == S64_MIN:
            raise self.error(f"math between {name} pointer and register with unbounded min "
                             f"value is not allowed", errno.EINVAL)
        if not -BPF_MAX_VAR_OFF < r.smin < BPF_MAX_VAR_OFF:
            raise self.error(f"value {r.smin} makes {name} pointer be out of bounds",
                             errno.EINVAL)

    def _sanitize(self, d: int, ptr: Reg, off: Reg, x_form: bool) -> None:
        """sanitize_ptr_alu (Spectre v1): without CAP_PERFMON a pointer may move by a
        register (even one holding a constant) only if it points to the stack or a map
        value, and a stack pointer only by a known amount."""
        if ptr.type == RegType.PTR_TO_STACK:
            if not off.is_const:
                raise self.error(f"R{d} variable stack access prohibited for !root, "
                                 f"var_off={off.var.text()} off={ptr.off}")
        elif x_form and ptr.type != RegType.PTR_TO_MAP_VALUE:
            raise self.error(f"R{d} has pointer with unsupported alu operation, pointer "
                             f"arithmetic with it prohibited for !root")

    def _ptr_add(self, code: int, ptr: Reg, off: Reg) -> Reg:
        """ptr +/- scalar: a constant moves ``off``, a variable joins the bounds; a packet
        pointer that moved by a variable gets a new id and no proven range."""
        if off.is_const:
            val = s64(off.const_value)
            return ptr._replace(off=ptr.off - val if code == isa.BPF_SUB else ptr.off + val)
        var = scalar.alu(code, _var_part(ptr), off, True)
        res = R.with_var(ptr, var.var, var.umin, var.umax, var.smin, var.smax)
        if ptr.is_pkt:
            res = res._replace(id=self.new_id(), range=0)
        return res


def _var_part(ptr: Reg) -> Reg:
    """The pointer's variable offset as a scalar."""
    return Reg(RegType.SCALAR, 0, ptr.var, ptr.umin, ptr.umax, ptr.smin, ptr.smax)


_FIXED = frozenset({RegType.PTR_TO_PACKET_END, RegType.CONST_PTR_TO_MAP,
                    RegType.PTR_TO_MAP_VALUE_OR_NULL})
