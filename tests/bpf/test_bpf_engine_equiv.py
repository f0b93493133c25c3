"""The translator and the interpreter give identical results: r0 or the error (type,
message, pc), instructions executed, the input memory and the stack afterwards.

Cases: every bpf_conformance ``tests/`` file (with the translator's full knowledge and
with none, which exercises the generic code paths), and random programs from a small
grammar (hypothesis): ALU, loads and stores on the stack and on the input memory
(sometimes out of bounds), atomics, forward jumps, exits, and loops under a budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CONFORMANCE, need
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuxnet.bpf import isa
from tuxnet.bpf.conformance import DataFormatError, _instructions, parse_data
from tuxnet.bpf.errors import BpfError
from tuxnet.bpf.helpers import ubpf_test_helpers
from tuxnet.bpf.interp import Interpreter
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.memory import STACK_SLOT0
from tuxnet.bpf.program import Program
from tuxnet.bpf.translate import Translator

SUITE = CONFORMANCE / "bpf" / "bpf_conformance" / "tests"
FILES = sorted(SUITE.glob("*.data")) if SUITE.is_dir() else []
MISSING = f"bpf_conformance data not found at {SUITE} (set TUXNET_CONFORMANCE)"


def outcome(vm: Interpreter | Translator, prog: Program, mem: bytes) -> tuple[Any, ...]:
    """Everything a run leaves behind that both engines must agree on."""
    buf = bytearray(mem)
    try:
        vm.load(prog)
        res: tuple[Any, ...] = ("r0", vm.run(prog, buf))
    except BpfError as e:
        res = (type(e).__name__, str(e), getattr(e, "pc", None))
    return res, vm.insns_executed, bytes(buf), bytes(vm.mem.regions[STACK_SLOT0])


def compare(prog: Program, mem: bytes, *, limit: int = 1_000_000, knowledge: int = 2
            ) -> tuple[Any, ...]:
    want = outcome(Interpreter(ubpf_test_helpers(), insn_limit=limit), prog, mem)
    got = outcome(Translator(ubpf_test_helpers(), insn_limit=limit, knowledge=knowledge),
                  prog, mem)
    assert got == want
    return want


# --- the conformance suite ------------------------------------------------------------

def _load(path: Path) -> tuple[Program, bytes] | None:
    try:
        data = parse_data(path.read_text(encoding="utf-8"))
        return Program.load(_instructions(data), path.stem), data.mem
    except (DataFormatError, BpfError):
        return None  # rejected before any engine runs (covered by the conformance test)


@pytest.mark.parametrize("knowledge", [2, 0], ids=["specialised", "generic"])
@pytest.mark.parametrize("path", FILES or [None], ids=lambda p: p.name if p else "missing")
def test_conformance_case_same_on_both_engines(path: Path | None, knowledge: int) -> None:
    need(path is not None, MISSING)
    assert path is not None
    case = _load(path)
    if case is not None:
        compare(*case, knowledge=knowledge)


def test_conformance_cases_with_partial_knowledge() -> None:
    need(bool(FILES), MISSING)
    for path in FILES:
        case = _load(path)
        if case is not None:
            compare(*case, knowledge=1)


# --- random programs ------------------------------------------------------------------

ALU_OPS = [isa.BPF_ADD, isa.BPF_SUB, isa.BPF_MUL, isa.BPF_DIV, isa.BPF_OR, isa.BPF_AND,
           isa.BPF_LSH, isa.BPF_RSH, isa.BPF_MOD, isa.BPF_XOR, isa.BPF_MOV, isa.BPF_ARSH]
JMP_OPS = list(isa.JMP_NAMES)
SIZES = [isa.BPF_B, isa.BPF_H, isa.BPF_W, isa.BPF_DW]
IMMS = st.one_of(st.sampled_from([0, 1, -1, 2, 7, 31, 32, 63, 64, 255, 0x7FFF_FFFF,
                                  -0x8000_0000, 0x10000, -8]),
                 st.integers(-0x8000_0000, 0x7FFF_FFFF))
DST = st.sampled_from([0, 0, 3, 4, 5, 6, 7, 8, 9])
SRC = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
MEM_SIZE = 64


@st.composite
def alu(draw: st.DrawFn) -> list[Insn]:
    cls = draw(st.sampled_from([isa.BPF_ALU64, isa.BPF_ALU]))
    op = draw(st.sampled_from([*ALU_OPS, isa.BPF_NEG, isa.BPF_END]))
    d = draw(DST)
    if op == isa.BPF_NEG:
        return [Insn(cls | op, d)]
    if op == isa.BPF_END:
        swap = draw(st.sampled_from([isa.BPF_TO_LE, isa.BPF_TO_BE]))
        if cls == isa.BPF_ALU64 and swap == isa.BPF_TO_BE:
            swap = isa.BPF_TO_LE  # ALU64 END with the BE bit is not an encoding
        return [Insn(cls | op | swap, d, imm=draw(st.sampled_from([16, 32, 64])))]
    off = 0
    if op in (isa.BPF_DIV, isa.BPF_MOD):
        off = draw(st.sampled_from([0, 1]))
    if draw(st.booleans()):
        if op == isa.BPF_MOV:
            off = draw(st.sampled_from([0, 0, 8, 16] + ([32] if cls == isa.BPF_ALU64 else [])))
        return [Insn(cls | op | isa.BPF_X, d, draw(SRC), off)]
    return [Insn(cls | op | isa.BPF_K, d, 0, off, draw(IMMS))]


@st.composite
def memop(draw: st.DrawFn) -> list[Insn]:
    size = draw(st.sampled_from(SIZES))
    base = draw(st.sampled_from([10, 10, 10, 1, 5]))
    off = draw(st.integers(-520, 8)) if base == 10 else draw(st.integers(-8, MEM_SIZE + 8))
    pre: list[Insn] = []
    if base == 5:  # a pointer derived from r10 or r1 by a constant
        pre = [Insn(isa.BPF_ALU64 | isa.BPF_MOV | isa.BPF_X, 5, draw(st.sampled_from([1, 10]))),
               Insn(isa.BPF_ALU64 | isa.BPF_ADD | isa.BPF_K, 5, imm=draw(
                   st.integers(-64, 64)))]
    kind = draw(st.sampled_from(["ldx", "ldxs", "st", "stx", "atomic", "pair"]))
    if kind == "pair":  # adjacent loads through one base (read with one unpack)
        op = isa.BPF_LDX | isa.BPF_MEM | size
        step = isa.SIZE_BYTES[size] * draw(st.sampled_from([1, -1]))
        d1, d2 = draw(st.sampled_from([(3, 4), (4, 3), (0, 6), (8, base if base != 10 else 9)]))
        return [*pre, Insn(op, d1, base, off), Insn(op, d2, base, off + step)]
    if kind == "ldx" or (kind == "ldxs" and size == isa.BPF_DW):
        return [*pre, Insn(isa.BPF_LDX | isa.BPF_MEM | size, draw(DST), base, off)]
    if kind == "ldxs":
        return [*pre, Insn(isa.BPF_LDX | isa.BPF_MEMSX | size, draw(DST), base, off)]
    if kind == "st":
        return [*pre, Insn(isa.BPF_ST | isa.BPF_MEM | size, base, 0, off, draw(IMMS))]
    if kind == "stx":
        return [*pre, Insn(isa.BPF_STX | isa.BPF_MEM | size, base, draw(SRC), off)]
    size = draw(st.sampled_from([isa.BPF_W, isa.BPF_DW]))
    aop = draw(st.sampled_from(sorted(isa.ATOMIC_OPS)))
    src = draw(st.sampled_from([0, 3, 4, 6]))
    return [*pre, Insn(isa.BPF_STX | isa.BPF_ATOMIC | size, base, src, off, aop)]


@st.composite
def lddw(draw: st.DrawFn) -> list[Insn]:
    v = draw(st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([
        2**63, 2**64 - 1, 2**32, (STACK_SLOT0 << 32) + 500, (1 << 32) + 8])))
    return isa.lddw(draw(DST), v)


PROLOGUE = [Insn(isa.BPF_LDX | isa.BPF_MEM | isa.BPF_DW, 6, 1, 0),
            Insn(isa.BPF_LDX | isa.BPF_MEM | isa.BPF_W, 7, 1, 8),
            Insn(isa.BPF_LDX | isa.BPF_MEM | isa.BPF_H, 8, 1, 12),
            Insn(isa.BPF_LDX | isa.BPF_MEM | isa.BPF_DW, 9, 1, 16),
            Insn(isa.BPF_LDX | isa.BPF_MEM | isa.BPF_B, 0, 1, 24)]


HELPER_CALLS = [
    [Insn(isa.OPCODE_CALL, imm=0)],                  # gather_bytes(r1..r5)
    [Insn(isa.OPCODE_CALL, imm=2)],                  # trash_registers
    [Insn(isa.OPCODE_CALL, imm=3)],                  # sqrti(r1)
    [Insn(isa.BPF_ALU64 | isa.BPF_MOV | isa.BPF_X, 1, 10),  # memfrob(fp-16, 16)
     Insn(isa.BPF_ALU64 | isa.BPF_ADD | isa.BPF_K, 1, imm=-16),
     Insn(isa.BPF_ALU64 | isa.BPF_MOV | isa.BPF_K, 2, imm=16),
     Insn(isa.OPCODE_CALL, imm=1)],
    [Insn(isa.BPF_ALU64 | isa.BPF_MOV | isa.BPF_X, 1, 6),   # unwind(r6): stops if 0
     Insn(isa.BPF_ALU64 | isa.BPF_AND | isa.BPF_K, 1, imm=1),
     Insn(isa.OPCODE_CALL, imm=5)],
]
CALL_LOCAL = Insn(isa.OPCODE_CALL, src=isa.BPF_PSEUDO_CALL)


@st.composite
def chunks(draw: st.DrawFn, first: list[Insn], loops: bool, calls: bool
           ) -> list[list[Insn]]:
    """Chunks of instructions ending in exit; jumps go forward to a chunk boundary
    (with ``loops``, sometimes backward), so no jump lands inside lddw. A local call's
    imm is left for :func:`program` to fill in."""
    out: list[list[Insn]] = [list(first)]
    jumps: list[tuple[int, Insn]] = []
    kinds = ["alu", "alu", "mem", "mem", "jmp", "lddw", "exit", "helper"]
    for _ in range(draw(st.integers(1, 24))):
        kind = draw(st.sampled_from(kinds + (["call"] if calls else [])))
        if kind == "alu":
            out.append(draw(alu()))
        elif kind == "mem":
            out.append(draw(memop()))
        elif kind == "lddw":
            out.append(draw(lddw()))
        elif kind == "exit":
            out.append([Insn(isa.OPCODE_EXIT)])
        elif kind == "helper":
            out.append(list(draw(st.sampled_from(HELPER_CALLS))))
        elif kind == "call":
            out.append([CALL_LOCAL])
        else:
            cls = draw(st.sampled_from([isa.BPF_JMP, isa.BPF_JMP32]))
            op = draw(st.sampled_from(JMP_OPS))
            d = draw(st.sampled_from([0, 3, 6, 7, 8, 9]))
            if draw(st.booleans()):
                j = Insn(cls | op | isa.BPF_X, d, draw(SRC))
            else:
                j = Insn(cls | op | isa.BPF_K, d, imm=draw(IMMS))
            jumps.append((len(out), j))
            out.append([j])
    out.append([Insn(isa.OPCODE_EXIT)])
    starts = [0]
    for c in out:
        starts.append(starts[-1] + len(c))
    for k, j in jumps:
        lo = 0 if loops and draw(st.integers(0, 3)) == 0 else k + 1
        target = draw(st.integers(lo, len(out) - 1))
        out[k][0] = j._replace(off=starts[target] - (starts[k] + 1))
    return out


@st.composite
def program(draw: st.DrawFn, loops: bool = False) -> list[Insn]:
    """A main function, and sometimes a subfunction it calls (bpf-to-bpf)."""
    sub = draw(st.booleans())
    main = [i for c in draw(chunks(PROLOGUE, loops, sub)) for i in c]
    if not sub:
        return main
    func = [i for c in draw(chunks([], loops, False)) for i in c]
    entry = len(main)
    return [i._replace(imm=entry - pc - 1) if i is CALL_LOCAL else i
            for pc, i in enumerate(main)] + func


MEMS = st.binary(min_size=MEM_SIZE, max_size=MEM_SIZE)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program(), MEMS, st.sampled_from([2, 2, 1, 0]))
def test_random_forward_programs_same_on_both_engines(insns: list[Insn], mem: bytes,
                                                      knowledge: int) -> None:
    compare(Program.load(insns), mem, knowledge=knowledge)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program(loops=True), MEMS, st.integers(1, 400))
def test_random_loops_stop_alike_under_a_budget(insns: list[Insn], mem: bytes,
                                                limit: int) -> None:
    compare(Program.load(insns), mem, limit=limit)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 60), st.integers(1, 5000))
def test_runaway_loop_hits_the_same_limit(body: int, limit: int) -> None:
    insns = [Insn(isa.BPF_ALU64 | isa.BPF_ADD | isa.BPF_K, 0, imm=1)] * body + [
        Insn(isa.BPF_STX | isa.BPF_MEM | isa.BPF_DW, 10, 0, -8),
        Insn(isa.BPF_JMP | isa.BPF_JA, off=-(body + 2)), Insn(isa.OPCODE_EXIT)]
    res = compare(Program.load(insns), b"", limit=limit)
    assert res[0][0] == "BpfInsnLimitError" and res[1] == limit


@pytest.mark.parametrize("src_off", [-1, MEM_SIZE - 7, MEM_SIZE, 1 << 20, -(1 << 15)])
def test_out_of_bounds_faults_alike(src_off: int) -> None:
    for size in SIZES:
        for insn in (Insn(isa.BPF_LDX | isa.BPF_MEM | size, 0, 1, 0),
                     Insn(isa.BPF_STX | isa.BPF_MEM | size, 1, 6, 0),
                     Insn(isa.BPF_ST | isa.BPF_MEM | size, 1, 0, 0, 7)):
            prog = Program.load([*PROLOGUE, *isa.lddw(2, src_off & (2**64 - 1)),
                                 Insn(isa.BPF_ALU64 | isa.BPF_ADD | isa.BPF_X, 1, 2),
                                 insn, Insn(isa.OPCODE_EXIT)])
            for k in (2, 0):
                compare(prog, bytes(range(MEM_SIZE)), knowledge=k)
