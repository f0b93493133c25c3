"""The translator (issue 6 item 2): engine selection, what the generated code looks
like, and the behaviours the random equivalence tests reach rarely (calls, tail calls,
helpers failing, budgets, read-only memory, XDP programs)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from conftest import need
from xdp_progs import FRAMES, build_all, clang

from tuxnet.bpf.asm import assemble
from tuxnet.bpf.conformance import run_files, summary
from tuxnet.bpf.engine import BpfEngine
from tuxnet.bpf.errors import (
    BpfError,
    BpfLoadError,
    BpfMemoryError,
    BpfRuntimeError,
)
from tuxnet.bpf.helpers import Helper, HelperEnv, ProgramExit, ubpf_test_helpers
from tuxnet.bpf.interp import Interpreter
from tuxnet.bpf.memory import STACK_SLOT0
from tuxnet.bpf.program import Program
from tuxnet.bpf.translate import TranslateUnsupported, Translator, glue, make_engine
from tuxnet.bpf.xdp_run import XdpRunner

PORT_FILTER = """
    mov %r0, 2
    ldxw %r2, [%r1+4]
    ldxw %r1, [%r1]
    mov %r3, %r1
    add %r3, 14
    jgt %r3, %r2, out
    ldxh %r4, [%r1+12]
    jne %r4, 0x8, out
    mov %r4, %r1
    add %r4, 34
    jgt %r4, %r2, out
    ldxb %r4, [%r1+23]
    jne %r4, 6, out
    ldxh %r4, [%r1+36]
    jne %r4, 0x5000, out
    mov %r0, 1
out:
    exit
"""


def prog(src: str, name: str = "prog") -> Program:
    return Program.load(assemble(src), name)


def both(p: Program, mem: bytes = b"", helpers: dict[int, Helper] | None = None,
         **kw: object) -> tuple[object, object]:
    """Run on both engines; return (interpreter outcome, translator outcome)."""
    out = []
    for cls in (Interpreter, Translator):
        vm = cls(helpers if helpers is not None else ubpf_test_helpers(),
                 **kw)  # type: ignore[arg-type]
        buf = bytearray(mem)
        try:
            res: object = ("r0", vm.run(p, buf))
        except BpfError as e:
            res = (type(e).__name__, str(e), getattr(e, "pc", None))
        out.append((res, vm.insns_executed, bytes(buf), bytes(vm.mem.regions[STACK_SLOT0])))
    return out[0], out[1]


def same(p: Program, mem: bytes = b"", helpers: dict[int, Helper] | None = None,
         **kw: object) -> object:
    a, b = both(p, mem, helpers, **kw)
    assert b == a
    return a


# --- engine selection ------------------------------------------------------------------

def test_make_engine_kinds() -> None:
    assert isinstance(make_engine(), Translator)
    assert isinstance(make_engine(kind="translate"), Translator)
    assert isinstance(make_engine(kind="interp"), Interpreter)
    with pytest.raises(ValueError, match="unknown engine kind"):
        make_engine(kind="jit")


def test_make_engine_loads_the_program_at_once() -> None:
    with pytest.raises(BpfLoadError, match="call to unknown helper 99"):
        make_engine(prog("call 99\nexit"))
    vm = make_engine(prog("mov %r0, 7\nexit"), helpers=ubpf_test_helpers())
    assert vm.run(prog("mov %r0, 7\nexit")) == 7


@pytest.mark.parametrize(("src", "message"), [
    ("mov %r0, 0\ncall 99\nexit", "insn 1: call to unknown helper 99"),
    ("call runtime 4\nexit", "insn 0: call to unknown kfunc 4"),
    ("lddw %r1, map_fd 3\nexit", "insn 0: lddw with src=1 needs a map/global-data resolver"),
])
def test_load_errors_are_the_interpreters(src: str, message: str) -> None:
    p = prog(src)
    for vm in (Interpreter(), Translator()):
        with pytest.raises(BpfLoadError, match=message):
            vm.load(p)


def test_conformance_runner_takes_the_translator(conformance_dir: Path) -> None:
    files = sorted((conformance_dir / "bpf" / "bpf_conformance" / "tests").glob("*.data"))
    need(bool(files), "bpf_conformance tests/ missing")

    def factory() -> BpfEngine:
        return Translator(ubpf_test_helpers())
    results = run_files(files, factory)
    assert summary(results) == f"{len(files)} passed, 0 failed"


def test_like_shares_helpers_memory_and_budget() -> None:
    vm = Interpreter(ubpf_test_helpers(), insn_limit=77)
    t = Translator.like(vm)
    assert t.mem is vm.mem and t.helpers == vm.helpers and t.insn_limit == 77


def test_a_program_it_does_not_take_runs_on_the_interpreter(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setattr(glue, "MAX_TRANSLATE_INSNS", 3)
    t = Translator()
    p = prog("mov %r0, 1\nadd %r0, 2\nmul %r0, 3\nexit", "big")
    assert t.run(p) == 9 and t.insns_executed == 4
    assert "4 instructions" in (t.fallback_reason(p) or "")
    assert "big" in t.notes and t.source(p) == ""
    assert issubclass(TranslateUnsupported, Exception)


# --- generated code ---------------------------------------------------------------------

def test_forward_only_filter_has_no_dispatch_loop_and_constant_counts() -> None:
    src = Translator().source(prog(PORT_FILTER))
    assert "while" not in src and "n +=" not in src
    assert "return (1, 17)" in src  # XDP_DROP after 17 instructions, a constant


def test_loops_get_a_budgeted_dispatch_loop() -> None:
    src = Translator().source(prog("mov %r0, 0\nadd %r0, 1\njlt %r0, 5, -2\nexit"))
    assert "while True:" in src and "LIMIT(" in src


def test_stack_slots_at_constant_offsets_index_the_frame() -> None:
    src = Translator().source(prog("stdw [%r10-8], 5\nldxdw %r0, [%r10-8]\nexit"))
    assert "pQ(stk, 504, 5)" in src and "uQ(stk, 504)" in src
    assert "R[r10" not in src


def test_small_results_are_not_masked() -> None:
    src = Translator().source(prog("ldxb %r0, [%r1]\nldxh %r2, [%r1+2]\nadd %r0, %r2\n"
                                   "lsh %r0, 3\nexit"))
    assert "0xffffffffffffffff" not in src.split("\n", 5)[-1]


def test_program_names_never_reach_the_source() -> None:
    p = prog("mov %r0, 3\nexit", "x'); import os #\n")
    t = Translator()
    assert t.run(p) == 3
    assert "import" not in t.source(p)


def test_generated_code_has_no_builtins() -> None:
    t = Translator()
    p = prog("mov %r0, 1\nexit")
    t.load(p)
    unit = t._unit(p, None, 0)
    assert unit is not None and unit.main.__globals__["__builtins__"] == {}


# --- budgets ------------------------------------------------------------------------------

def test_runaway_loop_stops_like_the_interpreter() -> None:
    res = same(prog("mov %r0, 0\nl: add %r0, 1\nstxdw [%r10-8], %r0\nja l\nexit"),
               insn_limit=1000)
    assert res[0][0] == "BpfInsnLimitError" and res[1] == 1000  # type: ignore[index]


def test_forward_program_longer_than_a_small_budget_is_checked() -> None:
    body = "\n".join(["add %r0, 1"] * 40)
    res = same(prog(f"mov %r0, 0\n{body}\nexit"), insn_limit=25)
    assert res[0][0] == "BpfInsnLimitError"  # type: ignore[index]


def test_budget_running_out_inside_a_block_stops_at_the_same_insn() -> None:
    src = "mov %r0, 0\nl: stxdw [%r10-8], %r0\nadd %r0, 1\nstxdw [%r10-16], %r0\nja l\nexit"
    for limit in range(1, 30):
        same(prog(src), insn_limit=limit)


# --- calls --------------------------------------------------------------------------------

def test_local_calls_share_registers_like_the_interpreter() -> None:
    # the callee reads the caller's r6 and r0; the caller reads the callee's r3 afterwards
    same(prog("mov %r6, 5\nmov %r0, 2\nmov %r1, 7\ncall local f\nadd %r0, %r3\nadd %r0, %r6\n"
              "exit\nf:\nmov %r3, %r6\nadd %r3, %r0\nstxdw [%r10-8], %r1\nmov %r6, 100\n"
              "ldxdw %r0, [%r10-8]\nexit"))


def test_recursion_stops_at_eight_frames() -> None:
    res = same(prog("call local f\nexit\nf:\nadd %r0, 1\ncall local f\nexit"))
    assert "call stack too deep" in res[0][1]  # type: ignore[index]


def test_fault_in_a_callee_reports_like_the_interpreter() -> None:
    res = same(prog("mov %r6, 3\ncall local f\nexit\nf:\nmov %r1, 0\nldxw %r0, [%r1+4]\n"
                    "exit"))
    assert res[0][0] == "BpfMemoryError"  # type: ignore[index]


def test_callx_to_an_unknown_helper() -> None:
    res = same(prog("mov %r2, 99\ncall %r2\nexit"))
    assert "callx: unknown helper 99 in r2" in res[0][1]  # type: ignore[index]


# --- helpers ------------------------------------------------------------------------------

def _raising(exc: Exception) -> Helper:
    def helper(env: HelperEnv, *_: int) -> int:
        raise exc
    return helper


@pytest.mark.parametrize("exc", [BpfRuntimeError("helper refused"),
                                 BpfMemoryError("bad pointer", 0), IndexError("boom"),
                                 ProgramExit(42)])
def test_helper_failures_are_reported_alike(exc: Exception) -> None:
    helpers = {7: _raising(exc)}
    same(prog("mov %r0, 1\nstdw [%r10-8], 9\ncall 7\nmov %r0, 2\nexit"), helpers=helpers)


def test_helpers_see_registers_and_keep_r1_to_r5() -> None:
    seen: list[tuple[int, ...]] = []

    def spy(env: HelperEnv, a: int, b: int, c: int, d: int, e: int) -> int:
        seen.append((a, b, c, d, e))
        return -1

    res = same(prog("mov %r1, 1\nmov %r2, -2\nmov32 %r3, -3\ncall 9\nadd %r0, %r1\n"
                    "add %r0, %r2\nexit"), helpers={9: spy})
    assert seen[0] == seen[1] and res[0] == ("r0", (1 - 1 - 2) & (2**64 - 1))  # type: ignore[index]


def test_tail_calls_switch_programs_like_the_interpreter() -> None:
    target = prog("mov %r0, %r6\nadd %r0, %r1\nexit", "target")
    loop = prog("add %r6, 1\nmov %r2, 0\nmov %r3, 0\ncall 12\nmov %r0, 77\nexit", "loop")
    for first, hook_target in ((prog("mov %r6, 10\nmov %r2, 0\nmov %r3, 0\ncall 12\n"
                                     "mov %r0, 5\nexit", "entry"), target),
                               (loop, loop)):
        def hook(ptr: int, index: int, t: Program = hook_target) -> Program | None:
            return t
        res = same(first, tail_call=hook)
        assert res[0][0] == "r0"  # type: ignore[index]


def test_tail_call_from_a_subprogram_is_refused() -> None:
    res = same(prog("call local f\nexit\nf:\ncall 12\nexit"),
               tail_call=lambda ptr, index: None)
    assert "tail call from a bpf-to-bpf subprogram" in res[0][1]  # type: ignore[index]


# --- memory -------------------------------------------------------------------------------

def test_write_to_read_only_memory() -> None:
    for vm in (Interpreter(), Translator()):
        ro = vm.mem.map(bytearray(16), "ro", writable=False)
        p = prog(f"lddw %r1, {ro:#x}\nstw [%r1+4], 1\nexit")
        with pytest.raises(BpfMemoryError, match="write of 4 bytes to read-only memory"):
            vm.run(p)


def test_pointer_just_below_a_region_reaches_it_like_the_interpreter() -> None:
    # r1 - 1 lies in the (unmapped) slot below the input; +1 brings it back
    same(prog("mov %r5, %r1\nadd %r5, -1\nldxb %r0, [%r5+1]\nldxb %r2, [%r5+2]\n"
              "add %r0, %r2\nexit"), bytes([3, 4]))


@pytest.mark.parametrize("size", [2, 5, 6, 7, 12, 16])
def test_adjacent_loads_read_together_fault_alike(size: int) -> None:
    src = "ldxw %r2, [%r1+4]\nldxw %r3, [%r1]\nldxh %r4, [%r1]\nldxh %r5, [%r1+2]\n" \
          "mov %r0, %r2\nadd %r0, %r3\nadd %r0, %r4\nadd %r0, %r5\nexit"
    assert "uII(" in Translator().source(prog(src))
    same(prog(src), bytes(range(1, size + 1)))


def test_stack_is_clear_at_every_run() -> None:
    reader = prog("ldxdw %r0, [%r10-8]\nexit")
    writer = prog("stdw [%r10-8], 9\nmov %r0, 0\nexit")
    t = Translator()
    for p in (writer, reader, writer, reader):
        t.run(p)
        assert t.run(reader) == 0
    t.mem.regions[STACK_SLOT0][-8:] = b"\x01" * 8  # dirtied behind the engine's back
    assert t.run(reader) == 0


def test_arguments_are_taken_modulo_2_64() -> None:
    p = prog("mov %r0, %r1\nadd %r0, %r2\nexit")
    assert Translator().call(p, -1, 2) == Interpreter().call(p, -1, 2) == 1
    with pytest.raises(ValueError, match="at most 5 arguments"):
        Translator().call(p, 1, 2, 3, 4, 5, 6)


# --- XDP ----------------------------------------------------------------------------------

def translated(runner: XdpRunner) -> Translator:
    """Put a translator in place of the runner's interpreter."""
    t = Translator.like(runner.vm)
    runner.vm = t  # type: ignore[assignment]  # XdpRunner types its engine narrowly
    return t


def test_port_filter_through_the_xdp_runner() -> None:
    runners = [XdpRunner(), XdpRunner()]
    translated(runners[1])
    for name, frame in FRAMES.items():
        a, b = (r.run(assemble(PORT_FILTER), frame) for r in runners)
        assert (b.action, b.insns, b.data) == (a.action, a.insns, a.data), name


def test_clang_built_programs_agree(tmp_path_factory: pytest.TempPathFactory) -> None:
    need(clang() is not None, "clang is needed to build tests/bpf/progs")
    from tuxnet.bpf.elf import load_object
    from tuxnet.bpf.xdp_run import map_factory
    objs = build_all(tmp_path_factory.mktemp("xdp"))
    for stem, path in sorted(objs.items()):
        runners = [XdpRunner(load_object(path, map_factory(1))) for _ in range(2)]
        translated(runners[1])
        assert runners[0].obj is not None
        for pname in runners[0].obj.programs:
            for name, frame in FRAMES.items():
                out: list[object] = []
                for r in runners:
                    try:
                        x = r.run(pname, frame)
                        out.append((x.action, x.insns, x.data, x.meta))
                    except BpfError as e:
                        out.append((type(e).__name__, str(e)))
                assert out[1] == out[0], (stem, pname, name)


def test_xdp_md_pointer_loads_are_cached_once() -> None:
    r = XdpRunner()
    code = r.prepare(assemble(PORT_FILTER))
    src = translated(r).source(code)
    assert src.count("R[r1 >> 32]") == 2  # the context, then the packet
    assert struct.calcsize("<6Q") == 48
