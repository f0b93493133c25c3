"""Soundness properties of the verifier's abstract domains and of its verdicts.

- tnum and scalar arithmetic contain every concrete result (the interpreter computes
  the concrete side, so the check does not reuse the verifier's own arithmetic);
- branch narrowing keeps every pair of values that satisfies the comparison;
- programs the verifier accepts never fault when run on packets of any length, and
  full exploration (no pruning) accepts them too (randomly generated XDP programs,
  seeded): pruning, liveness and precision may only save work, never change a verdict.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.bpf import isa
from tuxnet.bpf.asm import assemble
from tuxnet.bpf.errors import BpfError
from tuxnet.bpf.interp import Interpreter
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.maps import ArrayMap, HashMap
from tuxnet.bpf.program import Program
from tuxnet.bpf.runtime import BpfRuntime
from tuxnet.bpf.verifier import CAP_BPF, ROOT, XDP, scalar, tnum, verify
from tuxnet.bpf.verifier import reg as R
from tuxnet.bpf.verifier.branch import refine
from tuxnet.bpf.verifier.fixup import convert_ctx_accesses, xdp_buff
from tuxnet.bpf.verifier.tnum import M64, Tnum

U64 = st.integers(0, M64)


@st.composite
def tnums_with_member(draw: st.DrawFn) -> tuple[Tnum, int]:
    value, mask = draw(U64), draw(st.sampled_from([0, 0xFF, 0xF0F0, M64, 1 << 63, 0xFFFF_FFFF]))
    mask &= draw(U64) | draw(st.sampled_from([0, mask]))
    t = Tnum(value & ~mask & M64, mask)
    return t, t.value | (draw(U64) & mask)


@given(tnums_with_member(), tnums_with_member(), st.integers(0, 63))
@settings(max_examples=300, deadline=None)
def test_tnum_operations_contain_concrete_results(a: tuple[Tnum, int], b: tuple[Tnum, int],
                                                  k: int) -> None:
    (ta, x), (tb, y) = a, b
    assert ta.contains(tnum.const(x)) and tb.contains(tnum.const(y))
    sx = x - (1 << 64) if x >> 63 else x
    for t, v in ((tnum.add(ta, tb), x + y), (tnum.sub(ta, tb), x - y),
                 (tnum.mul(ta, tb), x * y), (tnum.and_(ta, tb), x & y),
                 (tnum.or_(ta, tb), x | y), (tnum.xor(ta, tb), x ^ y),
                 (tnum.lshift(ta, k), x << k), (tnum.rshift(ta, k), x >> k),
                 (tnum.arshift(ta, k), sx >> k), (tnum.neg(ta), -x)):
        assert t.contains(tnum.const(v & M64)), (t, v)


_OPS = [isa.BPF_ADD, isa.BPF_SUB, isa.BPF_MUL, isa.BPF_DIV, isa.BPF_OR, isa.BPF_AND,
        isa.BPF_LSH, isa.BPF_RSH, isa.BPF_MOD, isa.BPF_XOR, isa.BPF_ARSH]
_VM = Interpreter()


def concrete(op: int, is64: bool, signed: bool, x: int, y: int) -> int:
    """The interpreter's result for ``x op y`` (the independent side of the check)."""
    cls = isa.BPF_ALU64 if is64 else isa.BPF_ALU
    code = [*isa.lddw(0, x), *isa.lddw(1, y),
            Insn(cls | op | isa.BPF_X, 0, 1, 1 if signed else 0), Insn(isa.OPCODE_EXIT)]
    return _VM.call(Program.load(code))


@st.composite
def ranged(draw: st.DrawFn) -> tuple[R.Reg, int]:
    """A scalar known to lie in a range, and a value in it."""
    lo = draw(st.sampled_from([0, 1, 7, 255, 1 << 31, 1 << 32, M64 - 300, 1 << 63]))
    width = draw(st.sampled_from([0, 1, 15, 255, 1 << 20, 1 << 40]))
    hi = min(lo + width, M64)
    v = draw(st.integers(lo, hi))
    return R.urange(lo, hi), v


@given(st.sampled_from(_OPS), st.booleans(), st.booleans(), ranged(), ranged())
@settings(max_examples=400, deadline=None)
def test_scalar_alu_contains_concrete_results(op: int, is64: bool, signed: bool,
                                              a: tuple[R.Reg, int],
                                              b: tuple[R.Reg, int]) -> None:
    (ra, x), (rb, y) = a, b
    if op in (isa.BPF_LSH, isa.BPF_RSH, isa.BPF_ARSH):
        bits = 64 if is64 else 32
        rb, y = R.const(y % bits), y % bits
    signed = signed and op in (isa.BPF_DIV, isa.BPF_MOD)
    r = scalar.alu(op, ra, rb, is64, signed)
    v = concrete(op, is64, signed, x, y)
    assert r.umin <= v <= r.umax and r.smin <= R.s64(v) <= r.smax, (r, v)
    assert r.var.contains(tnum.const(v))


_JMPS = [isa.BPF_JEQ, isa.BPF_JNE, isa.BPF_JGT, isa.BPF_JGE, isa.BPF_JLT, isa.BPF_JLE,
         isa.BPF_JSGT, isa.BPF_JSGE, isa.BPF_JSLT, isa.BPF_JSLE, isa.BPF_JSET]


def holds(code: int, x: int, y: int) -> bool:
    sx, sy = R.s64(x), R.s64(y)
    return {isa.BPF_JEQ: x == y, isa.BPF_JNE: x != y, isa.BPF_JGT: x > y,
            isa.BPF_JGE: x >= y, isa.BPF_JLT: x < y, isa.BPF_JLE: x <= y,
            isa.BPF_JSGT: sx > sy, isa.BPF_JSGE: sx >= sy, isa.BPF_JSLT: sx < sy,
            isa.BPF_JSLE: sx <= sy, isa.BPF_JSET: bool(x & y)}[code]


@given(st.sampled_from(_JMPS), ranged(), ranged())
@settings(max_examples=400, deadline=None)
def test_branch_narrowing_keeps_every_satisfying_value(code: int, a: tuple[R.Reg, int],
                                                       b: tuple[R.Reg, int]) -> None:
    (ra, x), (rb, y) = a, b
    if not holds(code, x, y):
        return
    na, nb = refine(code, ra, rb)
    assert not R.is_bottom(na) and not R.is_bottom(nb)
    for r, v in ((na, x), (nb, y)):
        assert r.umin <= v <= r.umax and r.smin <= R.s64(v) <= r.smax
        assert r.var.contains(tnum.const(v))


# --- accepted programs never fault ---------------------------------------------------------

def random_program(rng: random.Random, fd_hash: int, fd_array: int) -> str:
    """Straight-line-and-forward-jump XDP code mixing packet bounds checks, packet
    loads/stores at several offsets, variable packet offsets, stack spills and
    fills, and map lookups with or without a NULL check."""
    out = ["ldxw %r2, [%r1+0]", "ldxw %r3, [%r1+4]", "mov %r6, %r1"]
    out += ["mov %r0, 0"] if rng.random() < 0.7 else []
    out += [f"mov %r{r}, {rng.choice([0, 1, 3, 8, 16])}" for r in (4, 5, 7, 8, 9)
            if rng.random() < 0.8]
    pending: list[tuple[str, int]] = []
    regs = [4, 5, 7, 8, 9]
    for n in range(rng.randint(3, 20)):
        a, b = rng.choice(regs), rng.choice(regs)
        c = rng.random()
        if c < 0.15:
            op = rng.choice(["add", "sub", "and", "or", "rsh", "lsh", "mul", "xor", "mod"])
            out.append(f"{op}{rng.choice(['', '32'])} %r{a}, {rng.choice([1, 2, 7, 8, 15])}")
        elif c < 0.22:
            out.append(f"{rng.choice(['add', 'sub', 'and', 'mov'])} %r{a}, %r{b}")
        elif c < 0.35:
            label = f"L{n}"
            out += [f"mov %r{a}, %r2", f"add %r{a}, {rng.choice([1, 2, 8, 14, 20, 34])}",
                    f"{rng.choice(['jgt', 'jge'])} %r{a}, %r3, {label}"]
            pending.append((label, rng.randint(1, 4)))
        elif c < 0.50:
            size = rng.choice(["b", "h", "w", "dw"])
            out.append(f"ldx{size} %r{a}, [%r2+{rng.choice([0, 1, 4, 6, 12, 13, 16])}]")
        elif c < 0.55:
            out.append(f"stx{rng.choice(['b', 'h', 'w'])} [%r2+{rng.choice([0, 2, 6])}], %r{b}")
        elif c < 0.62:
            out.append(f"add %r2, %r{a}")
        elif c < 0.70:
            off = -8 * rng.randint(1, 3)
            out.append(f"stxdw [%r10{off}], %r{b}" if rng.random() < 0.5
                       else f"ldxdw %r{a}, [%r10{off}]")
        elif c < 0.82:
            label = f"L{n}"
            fd = rng.choice([fd_hash, fd_array])
            out += [f"stw [%r10-4], {rng.choice([0, 1, 3, 20])}", "mov %r2, %r10",
                    "add %r2, -4", f"lddw %r1, map_fd {fd}", "call 1",
                    "ldxw %r2, [%r6+0]", "ldxw %r3, [%r6+4]", "mov %r4, 1", "mov %r5, 2"]
            if rng.random() < 0.9:
                out.append(f"jeq %r0, 0, {label}")
            out.append(f"ldxw %r{a}, [%r0+{rng.choice([0, 4, 8, 12, 15])}]")
            out += [f"{label}:", "mov %r0, 0"]
        elif c < 0.86:
            label = f"L{n}"
            out.append(f"{rng.choice(['jeq', 'jne', 'jgt', 'jsgt', 'jset', 'jgt32'])} "
                       f"%r{a}, {rng.choice([0, 1, 5, 14])}, {label}")
            pending.append((label, rng.randint(1, 3)))
        elif c < 0.92:  # a value (or its type) that depends on the path taken
            label = f"L{n}"
            out += [f"jeq %r{b}, {rng.choice([0, 1])}, {label}",
                    rng.choice([f"mov %r{a}, %r2", f"mov %r{a}, 5", "mov %r0, 1",
                                f"mov %r{a}, %r10", f"ldxdw %r{a}, [%r10-8]",
                                "stxdw [%r10-16], %r2"]), f"{label}:"]
        else:
            out += [f"mov %r{a}, %r{b}", f"and %r{a}, {rng.choice([3, 7, 15, 63])}",
                    f"mov %r{b}, %r2", f"add %r{b}, %r{a}",
                    f"ldxb %r{a}, [%r{b}+{rng.choice([0, 1, 2])}]"]
        still = []
        for label, distance in pending:
            if distance <= 0:
                out.append(f"{label}:")
            else:
                still.append((label, distance - 1))
        pending = still
    out += [f"{label}:" for label, _ in pending]
    out += ["mov %r0, 2"] if rng.random() < 0.7 else []
    return "\n".join([*out, "exit"])


def test_accepted_programs_never_fault() -> None:
    rng = random.Random(20240601)
    rt = BpfRuntime()
    fd_hash = rt.add_map(HashMap(4, 16, 8))
    fd_array = rt.add_map(ArrayMap(4, 16, 4))
    hash_map = rt.map_by_fd(fd_hash)
    assert hash_map is not None
    hash_map.update(b"\x01\0\0\0", bytes(16))
    vm = rt.interpreter(insn_limit=10_000)
    accepted = runs = 0
    for i in range(1200):
        prog = Program.load(assemble(random_program(rng, fd_hash, fd_array)))
        caps = ROOT if i % 2 else CAP_BPF
        r = verify(prog, XDP, maps=rt, caps=caps, insn_limit=20_000)
        full = verify(prog, XDP, maps=rt, caps=caps, insn_limit=20_000, prune=False)
        assert r.ok == full.ok or "too large" in full.message, (full.message, r.log)
        if not r.ok:
            continue
        accepted += 1
        runnable = convert_ctx_accesses(prog, r.mem_types)
        for size in (0, 1, 13, 14, 33, 64):
            packet = bytearray(rng.getrandbits(8) for _ in range(size))
            base = rt.mem.map(packet, "packet")  # exactly [data, data_end)
            ctx = rt.mem.map(xdp_buff(base, base + size, base), "ctx")
            try:
                vm.call(runnable, ctx)
            except BpfError as e:
                raise AssertionError(f"accepted program faulted: {e}\n{r.log}") from e
            runs += 1
    assert accepted >= 30 and runs == accepted * 6, accepted
