"""Interpreter semantics that are easy to get wrong (RFC 9669), one behaviour per test."""

from __future__ import annotations

import pytest

from tuxnet.bpf.asm import assemble
from tuxnet.bpf.errors import (
    BpfCallError,
    BpfInsnLimitError,
    BpfLoadError,
    BpfMemoryError,
)
from tuxnet.bpf.helpers import Helper, HelperEnv, ProgramExit, ubpf_test_helpers
from tuxnet.bpf.interp import BPF_FUNC_tail_call, Interpreter
from tuxnet.bpf.memory import MEM_BASE, stack_top
from tuxnet.bpf.program import Program

M64 = (1 << 64) - 1


def prog(src: str) -> Program:
    return Program.load(assemble(src))


def run(src: str, mem: bytes | bytearray = b"", **kw: object) -> int:
    vm = Interpreter(ubpf_test_helpers(), **kw)  # type: ignore[arg-type]
    return vm.run(prog(src), bytearray(mem) if isinstance(mem, bytes) else mem)


# --- sign extension and 32-bit zero extension ----------------------------------------

@pytest.mark.parametrize(("src", "want"), [
    ("mov %r0, -1", M64),                          # ALU64 imm is sign-extended
    ("mov32 %r0, -1", 0xFFFF_FFFF),                # ALU imm is 32 bits
    ("mov %r0, 0xffffffff", M64),                  # a hex pattern is the same -1
    ("lddw %r0, -2", M64 - 1),
    ("lddw %r0, 0xffffffffffffffff\nadd32 %r0, 1", 0),      # 32-bit ops zero-extend
    ("lddw %r1, 0x1234567887654321\nmov32 %r0, %r1", 0x87654321),
    ("lddw %r0, 0x1234567887654321\nlsh32 %r0, 0", 0x87654321),
    ("mov %r0, 1\nadd %r0, -2", M64),
    ("mov32 %r0, 1\nsub32 %r0, 2", 0xFFFF_FFFF),
    ("mov %r0, 5\nneg %r0", (-5) & M64),
    ("mov %r0, 5\nneg32 %r0", (-5) & 0xFFFF_FFFF),
    ("lddw %r1, 0x80\nmovsx864 %r0, %r1", (-128) & M64),
    ("lddw %r1, 0x80\nmovsx832 %r0, %r1", 0xFFFF_FF80),
    ("lddw %r1, 0x7fff8000\nmovsx1664 %r0, %r1", (-0x8000) & M64),
    ("lddw %r1, 0x180000000\nmovsx3264 %r0, %r1", (-0x8000_0000) & M64),
    ("mov %r1, 0\nstw [%r10-4], -2\nldxsw %r0, [%r10-4]", (-2) & M64),
    ("stb [%r10-1], 0x80\nldxsb %r0, [%r10-1]", (-128) & M64),
    ("stb [%r10-1], 0x80\nldxb %r0, [%r10-1]", 0x80),
    ("stdw [%r10-8], -1\nldxdw %r0, [%r10-8]", M64),   # st DW sign-extends imm
    ("sth [%r10-2], -1\nldxdw %r0, [%r10-8]", 0xFFFF << 48),
])
def test_widths_and_extension(src: str, want: int) -> None:
    assert run(src + "\nexit") == want


# --- division, modulo, shifts ---------------------------------------------------------

@pytest.mark.parametrize(("src", "want"), [
    ("mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1", 0),            # RFC 9669 4.1: x/0 = 0
    ("mov %r0, 7\nmov %r1, 0\nmod %r0, %r1", 7),            # x%0 = x
    ("lddw %r0, 0x100000007\nmov %r1, 0\nmod32 %r0, %r1", 7),  # ... upper half zeroed
    ("lddw %r0, 0x100000007\nmov %r1, 0\ndiv32 %r0, %r1", 0),
    ("mov %r0, 7\ndiv %r0, 0", 0),                          # also for a zero immediate
    ("mov %r0, 7\nsdiv %r0, 0", 0),
    ("mov %r0, -7\nsmod %r0, 0", (-7) & M64),
    ("mov32 %r0, -7\nsmod32 %r0, 0", 0xFFFF_FFF9),
    ("mov %r0, -7\nsdiv %r0, 2", (-3) & M64),               # truncation toward zero
    ("mov %r0, -7\nsmod %r0, 2", (-1) & M64),               # sign of the dividend
    ("mov %r0, 7\nsmod %r0, -2", 1),
    ("mov %r0, -7\ndiv %r0, 2", ((-7) & M64) // 2),          # unsigned by default
    ("mov %r0, 10\ndiv %r0, -1", 0),                        # imm -1 is 2**64-1 unsigned
    ("lddw %r0, 0x8000000000000000\nsdiv %r0, -1", 1 << 63),  # INT_MIN / -1 wraps
    ("lddw %r0, 0x8000000000000000\nsmod %r0, -1", 0),
    ("mov32 %r0, 0x80000000\nsdiv32 %r0, -1", 0x8000_0000),
    ("mov32 %r0, -8\nsdiv32 %r0, 3", (-2) & 0xFFFF_FFFF),
    ("mov %r0, 1\nlsh %r0, 65", 2),                         # 64-bit shifts mask to 6 bits
    ("mov %r0, 1\nlsh32 %r0, 33", 2),                       # 32-bit shifts mask to 5 bits
    ("mov %r0, 1\nmov %r1, 66\nlsh %r0, %r1", 4),
    ("mov %r0, -16\narsh %r0, 2", (-4) & M64),
    ("mov32 %r0, -16\narsh32 %r0, 2", 0xFFFF_FFFC),
    ("mov %r0, -16\nrsh %r0, 60", 0xF),
    ("mov32 %r0, -16\nrsh32 %r0, 28", 0xF),
    ("lddw %r0, 0x1122334455667788\nbe16 %r0", 0x8877),
    ("lddw %r0, 0x1122334455667788\nbe32 %r0", 0x88776655),
    ("lddw %r0, 0x1122334455667788\nbe64 %r0", 0x8877665544332211),
    ("lddw %r0, 0x1122334455667788\nle16 %r0", 0x7788),
    ("lddw %r0, 0x1122334455667788\nle32 %r0", 0x55667788),
    ("lddw %r0, 0x1122334455667788\nbswap32 %r0", 0x88776655),
])
def test_arithmetic(src: str, want: int) -> None:
    assert run(src + "\nexit") == want


@pytest.mark.parametrize(("cond", "taken"), [
    ("jsgt %r1, -2", True), ("jgt %r1, -2", True), ("jlt %r1, 1", False), ("jslt %r1, 0", True),
    ("jsgt32 %r2, 0", False),     # low half 0x80000000 is negative as s32
    ("jgt32 %r2, 0", True), ("jeq32 %r2, 0x80000000", True), ("jeq %r2, 0x80000000", False),
    ("jset %r2, %r3", True), ("jset32 %r2, 1", False), ("jsle %r1, %r1", True),
    ("jsge32 %r1, -1", True), ("jlt %r3, %r2", True), ("jle32 %r3, %r2", True),
])
def test_signed_and_32_bit_compares(cond: str, taken: bool) -> None:
    src = f"""
        mov %r1, -1
        lddw %r2, 0x180000000
        lddw %r3, 0x100000000
        mov %r0, 0
        {cond}, +1
        exit
        mov %r0, 1
        exit"""
    assert run(src) == int(taken)


# --- atomics ---------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "mem_after", "src_after"), [
    ("lock add [%r10-8], %r1", 0x13, 3),
    ("lock fetch add [%r10-8], %r1", 0x13, 0x10),
    ("lock fetch or [%r10-8], %r1", 0x13, 0x10),
    ("lock fetch and [%r10-8], %r1", 0x0, 0x10),
    ("lock fetch xor [%r10-8], %r1", 0x13, 0x10),
    ("lock xchg [%r10-8], %r1", 0x3, 0x10),
])
def test_atomic_ops(op: str, mem_after: int, src_after: int) -> None:
    vm = Interpreter()
    vm.run(prog(f"stdw [%r10-8], 0x10\nmov %r1, 3\n{op}\nldxdw %r0, [%r10-8]\nexit"))
    assert vm.r[0] == mem_after and vm.r[1] == src_after


def test_atomic32_fetch_zero_extends_and_keeps_upper_word() -> None:
    src = """
        stdw [%r10-8], -1
        lddw %r1, 0xffffffff00000001
        lock fetch add32 [%r10-8], %r1
        ldxdw %r0, [%r10-8]
        exit"""
    vm = Interpreter()
    assert vm.run(prog(src)) == 0xFFFF_FFFF_0000_0000  # low word wrapped, high untouched
    assert vm.r[1] == 0xFFFF_FFFF                        # old value, zero-extended


@pytest.mark.parametrize(("r0", "stored", "r0_after"), [
    (0x10, 0x99, 0x10),   # equal: store src, r0 = old
    (0x11, 0x10, 0x10),   # different: memory unchanged, r0 = old
])
def test_cmpxchg(r0: int, stored: int, r0_after: int) -> None:
    vm = Interpreter()
    vm.run(prog(f"stdw [%r10-8], 0x10\nmov %r1, 0x99\nmov %r0, {r0}\n"
                f"lock cmpxchg [%r10-8], %r1\nldxdw %r2, [%r10-8]\nexit"))
    assert vm.r[2] == stored and vm.r[0] == r0_after


def test_cmpxchg32_compares_the_low_word_of_r0() -> None:
    vm = Interpreter()
    vm.run(prog("stw [%r10-4], 5\nmov %r1, 9\nlddw %r0, 0x700000005\n"
                "lock cmpxchg32 [%r10-4], %r1\nldxw %r2, [%r10-4]\nexit"))
    assert vm.r[2] == 9 and vm.r[0] == 5


# --- bpf-to-bpf calls and frames -------------------------------------------------------

def test_local_call_has_its_own_frame_and_preserves_r6_to_r10() -> None:
    src = """
        stdw [%r10-8], 111
        mov %r6, 6
        mov %r1, 40
        call local fn
        ldxdw %r2, [%r10-8]
        jne %r2, 111, bad
        jne %r6, 6, bad
        add %r0, %r6
        exit
    bad:
        mov %r0, -1
        exit
    fn:
        ldxdw %r3, [%r10-8]   # a fresh frame reads as zero
        jne %r3, 0, bad2
        stdw [%r10-8], 222
        mov %r6, 0
        mov %r0, %r1
        add %r0, 2
        exit
    bad2:
        mov %r0, -2
        exit"""
    vm = Interpreter()
    assert vm.run(prog(src)) == 48
    assert vm.r[10] == stack_top(0)


def test_callee_can_write_through_a_pointer_to_the_callers_stack() -> None:
    src = """
        mov %r1, %r10
        add %r1, -8
        call local fn
        ldxdw %r0, [%r10-8]
        exit
    fn:
        stdw [%r1], 77
        exit"""
    assert run(src) == 77


def test_recursion_deeper_than_eight_frames_is_an_error() -> None:
    src = "call local f\nexit\nf:\ncall local f\nexit"
    with pytest.raises(BpfCallError, match="too deep") as info:
        run(src)
    assert info.value.pc == 2


def test_seven_nested_calls_are_allowed() -> None:
    src = ("mov %r0, 0\nmov %r1, 7\ncall local f\nexit\n"
           "f:\nadd %r0, 1\nsub %r1, 1\njeq %r1, 0, +1\ncall local f\nexit")
    assert run(src) == 7


# --- helpers ---------------------------------------------------------------------------

def test_ubpf_helpers() -> None:
    assert run("mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 0\nexit") \
        == 0x0102030405
    mem = bytearray(b"\x01\x02\x03")
    assert run("mov %r6, %r1\ncall 1\nldxb %r0, [%r6+2]\nexit", mem) == 3 ^ 42
    assert mem == bytes(x ^ 42 for x in b"\x01\x02\x03")
    assert run("mov %r1, 1000001\ncall 3\nexit") == 1000
    strs = bytearray(b"abc\0abd\0")
    assert run("mov %r2, %r1\nadd %r2, 4\ncall 4\nexit", strs) == (ord("c") - ord("d")) & M64


def test_unwind_helper_stops_the_program_when_it_returns_zero() -> None:
    assert run("mov %r1, 0\ncall 5\nmov %r0, 9\nexit") == 0
    assert run("mov %r1, 3\ncall 5\nmov %r0, 9\nexit") == 9


def test_callx_calls_the_helper_numbered_in_a_register() -> None:
    assert run("mov %r1, 1000001\nmov %r8, 3\ncall %r8\nexit") == 1000
    with pytest.raises(BpfCallError, match="unknown helper 99"):
        run("mov %r8, 99\ncall %r8\nexit")


def test_unknown_helper_is_refused_at_load() -> None:
    with pytest.raises(BpfLoadError, match="unknown helper 77"):
        Interpreter().load(prog("call 77\nexit"))


def test_helper_with_a_bad_pointer_raises_a_memory_error_with_pc() -> None:
    with pytest.raises(BpfMemoryError) as info:
        run("mov %r1, 16\nmov %r2, 4\ncall 1\nexit")   # memfrob(NULL+16, 4)
    assert info.value.pc == 2


def test_helper_arguments_and_result_are_64_bit() -> None:
    seen: list[tuple[int, ...]] = []

    def spy(env: HelperEnv, *args: int) -> int:
        seen.append(args)
        return -1

    helpers: dict[int, Helper] = {7: spy}
    vm = Interpreter(helpers)
    assert vm.run(prog("mov %r1, -1\ncall 7\nexit")) == M64
    assert seen[0][0] == M64 and seen[0][1] == 0  # r2 = len(mem) = 0


# --- tail calls and relocations --------------------------------------------------------

def test_tail_call_runs_the_target_and_never_returns() -> None:
    target = prog("mov %r0, 42\nexit")
    slots = {3: target}

    def hook(prog_array: int, index: int) -> Program | None:
        assert prog_array == 0x1234
        return slots.get(index)

    vm = Interpreter(tail_call=hook)
    caller = prog(f"mov %r2, 0x1234\nmov %r3, 3\ncall {BPF_FUNC_tail_call}\nmov %r0, 1\nexit")
    assert vm.run(caller) == 42
    missing = prog(f"mov %r2, 0x1234\nmov %r3, 4\ncall {BPF_FUNC_tail_call}\nmov %r0, 1\nexit")
    assert vm.run(missing) == 1  # empty slot: the call falls through


def test_tail_calls_stop_after_33() -> None:
    # A program tail-calling itself runs 1 + 33 times (MAX_TAIL_CALL_CNT), then falls through.
    src = f"add %r6, 1\nmov %r0, %r6\ncall {BPF_FUNC_tail_call}\nexit"
    me = prog(src)
    vm = Interpreter(tail_call=lambda _m, _i: me)
    assert vm.run(me) == 34


def test_lddw_relocations_go_through_the_resolver() -> None:
    p = prog("lddw %r0, map_value 3, 16\nexit")
    with pytest.raises(BpfLoadError, match="src=2"):
        Interpreter().load(p)
    vm = Interpreter(ld_imm64=lambda src, imm, nxt: 0x1000 * src + 0x100 * imm + nxt)
    assert vm.run(p) == 0x2000 + 0x300 + 16


def test_global_data_region_is_readable_and_read_only_when_asked() -> None:
    vm = Interpreter()
    base = vm.mem.map(bytearray(b"\x2a" + bytes(7)), ".rodata", writable=False)
    vm.ld_imm64 = lambda src, imm, nxt: base + nxt
    assert vm.run(prog("lddw %r1, map_value 0, 0\nldxb %r0, [%r1]\nexit")) == 0x2A
    with pytest.raises(BpfMemoryError, match="read-only"):
        vm.run(prog("lddw %r1, map_value 0, 0\nstb [%r1], 1\nexit"))


# --- bad memory accesses and runaway programs ----------------------------------------------

@pytest.mark.parametrize(("src", "what"), [
    ("ldxdw %r0, [%r1+4]", "invalid read of 8 bytes"),     # past the end of mem (8 bytes)
    ("ldxb %r0, [%r1-1]", "invalid read of 1 bytes"),      # before its start
    ("mov %r1, 0\nldxw %r0, [%r1]", "NULL page"),
    ("stdw [%r10+0], 1", "invalid write of 8 bytes"),      # above the frame
    ("stb [%r10-513], 1", "invalid write"),               # below it
    ("lddw %r1, 0x7fffffff00000000\nldxb %r0, [%r1]", "unmapped"),
    ("lock add [%r1+6], %r1", "invalid write of 8 bytes"),
])
def test_out_of_bounds_access_is_a_typed_error(src: str, what: str) -> None:
    with pytest.raises(BpfMemoryError, match=what) as info:
        run(src + "\nexit", bytes(8))
    assert info.value.pc == len(assemble(src)) - 1


def test_in_bounds_edges_are_fine() -> None:
    assert run("ldxdw %r0, [%r1]\nexit", bytes(range(8))) == 0x0706050403020100
    assert run("stb [%r10-512], 1\nldxb %r0, [%r10-512]\nexit") == 1


def test_stores_into_mem_are_visible_to_the_caller() -> None:
    mem = bytearray(4)
    run("stw [%r1], 0x11223344\nexit", mem)
    assert mem == bytes.fromhex("44332211")


def test_instruction_limit_stops_an_infinite_loop() -> None:
    with pytest.raises(BpfInsnLimitError, match="limit of 1000"):
        run("mov %r0, 0\nja -1\nexit", insn_limit=1000)


def test_instruction_count_is_reported() -> None:
    vm = Interpreter()
    vm.run(prog("mov %r0, 0\nmov %r1, 10\nadd %r0, 1\nsub %r1, 1\njne %r1, 0, -3\nexit"))
    assert vm.insns_executed == 2 + 3 * 10 + 1


def test_program_exit_from_a_helper_sets_r0() -> None:
    def stop(env: HelperEnv, a: int, *_: int) -> int:
        raise ProgramExit(a + 1)

    vm = Interpreter({9: stop})
    assert vm.run(prog("mov %r1, 4\ncall 9\nmov %r0, 0\nexit")) == 5


def test_registers_and_stack_are_reset_between_runs() -> None:
    vm = Interpreter()
    vm.run(prog("mov %r6, 5\nstdw [%r10-8], 9\nexit"))
    assert vm.run(prog("ldxdw %r0, [%r10-8]\nadd %r0, %r6\nexit")) == 0
    assert vm.r[1] == MEM_BASE and vm.r[10] == stack_top(0)
