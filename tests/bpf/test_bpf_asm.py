"""Assembler and disassembler: the conformance syntax, its errors, and exact round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.bpf import isa
from tuxnet.bpf.asm import assemble
from tuxnet.bpf.disasm import disassemble
from tuxnet.bpf.errors import BpfAsmError
from tuxnet.bpf.isa import Insn


@pytest.mark.parametrize(("src", "hexes"), [
    ("mov32 %r0, 1", ["b400000001000000"]),
    ("mov %r1, -1", ["b7010000ffffffff"]),
    ("add %r1, %r2", ["0f21000000000000"]),
    ("ldxdw %r0, [%r1+8]", ["7910080000000000"]),
    ("stxw [%r10-4], %r1", ["631afcff00000000"]),
    ("sth [%r10-2], 0x8001", ["6a0afeff01800000"]),
    ("jeq %r1, 0x5, +2", ["1501020005000000"]),
    ("jsgt32 %r1, %r2, -1", ["6e21ffff00000000"]),
    ("ja32 +3", ["0600000003000000"]),
    ("be16 %r0", ["dc00000010000000"]),
    ("le64 %r3", ["d403000040000000"]),
    ("swap32 %r0", ["d700000020000000"]),
    ("sdiv32 %r0, 3", ["3400010003000000"]),
    ("smod %r0, %r1", ["9f10010000000000"]),
    ("movsx1632 %r0, %r1", ["bc10100000000000"]),
    ("ldxsh %r0, [%r10-2]", ["89a0feff00000000"]),
    ("lock add [%r10-8], %r1", ["db1af8ff00000000"]),
    ("lock fetch xor32 [%r1], %r2", ["c3210000a1000000"]),
    ("lock cmpxchg [%r10-8], %r1", ["db1af8fff1000000"]),
    ("call 5", ["8500000005000000"]),
    ("call helper 5", ["8500000005000000"]),
    ("call runtime 7", ["8520000007000000"]),
    ("call %r2", ["8d02000000000000"]),
    ("exit", ["9500000000000000"]),
    ("lddw %r1, map_fd 3", ["1811000003000000", "0000000000000000"]),
    ("lddw %r1, map_value 3, 16", ["1821000003000000", "0000000010000000"]),
    ("neg32 %r4", ["8404000000000000"]),
])
def test_encodings(src: str, hexes: list[str]) -> None:
    assert [isa.encode([i]).hex() for i in assemble(src)] == hexes


def test_labels_and_the_implicit_exit_label() -> None:
    insns = assemble("""
        mov %r0, 0        # comment
        jeq %r0, 0, exit  # 'exit' = the first exit instruction
    loop: add %r0, 1
        call local fn
        ja loop
        exit
    fn:
        exit""")
    assert insns[1].off == 3 and insns[3].imm == 2 and insns[4].off == -3


def test_explicit_exit_label_wins() -> None:
    insns = assemble("ja exit\nexit\nexit:\nexit")
    assert insns[0].off == 1


@pytest.mark.parametrize(("src", "msg"), [
    ("ldxq %r0, %r1", "invalid mnemonic 'ldxq'"),
    ("or %r0, %r50", "invalid register '%r50'"),
    ("mov %r11, 1", "invalid register"),
    ("lddw %r0", "invalid number of operands for lddw"),
    ("add %r0", "invalid number of operands for add"),
    ("ldxb %r0, %r1", "expected a memory operand"),
    ("ldxb %r0, [%r1+0x10000]", "out of 16-bit signed range"),
    ("ldxb %r0, [%r1-32769]", "out of 16-bit signed range"),
    ("mov32 %r0, 2147483648", "out of 32-bit range"),
    ("mov32 %r0, 0x100000000", "out of 32-bit range"),
    ("mov32 %r0, -2147483649", "out of 32-bit range"),
    ("lddw %r0, 0x10000000000000000", "out of 64-bit range"),
    ("ja NOT_A_LABEL\nexit", "invalid label 'NOT_A_LABEL'"),
    ("ja +40000", "out of 16-bit signed range"),
    ("lock or [%r10-8]", "invalid number of operands for lock"),
    ("lock", "invalid number of operands for lock"),
    ("lock sub [%r10-8], %r1", "invalid atomic operation"),
    ("call bogus 1", "invalid call mode"),
    ("lddw %r0, map_bogus 1", "relocation"),
    ("x:\nx:\nexit", "duplicate label"),
    ("mov %r0, 1zz", "invalid immediate"),
    ("ldxsdw %r0, [%r1]", "invalid mnemonic"),
    (".insn 0x100, 0, 0, 0, 0", "invalid .insn"),
])
def test_errors(src: str, msg: str) -> None:
    with pytest.raises(BpfAsmError, match=msg):
        assemble(src)


def test_errors_carry_the_line_number() -> None:
    with pytest.raises(BpfAsmError) as info:
        assemble("mov %r0, 1\n\n# c\nbogus %r0\nexit")
    assert info.value.line == 4 and str(info.value).startswith("line 4: ")


def test_hex_is_a_pattern_and_decimal_is_signed() -> None:
    assert assemble("mov %r0, 0xffffffff") == assemble("mov %r0, -1")
    assert assemble("mov %r0, 0x80000000")[0].imm == -0x8000_0000


def test_disassembly_reads_like_the_conformance_files() -> None:
    src = """lddw %r0, 0x123456789abcdef0
stxdw [%r10-8], %r0
mov %r1, 1
lock fetch add [%r10-8], %r1
jne %r1, %r0, +3
ldxsh %r2, [%r1]
movsx3264 %r3, %r2
call local -7
exit"""
    assert "\n".join(disassemble(assemble(src))) == src


def test_invalid_slots_disassemble_to_raw_insn() -> None:
    insns = isa.decode(bytes.fromhex("0700010001000000" "9500000000000000"))
    lines = disassemble(insns)
    assert lines == [".insn 0x07, 0, 0, 1, 1", "exit"]
    assert assemble("\n".join(lines)) == insns


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=8, max_size=8), max_size=12))
def test_any_bytes_round_trip_through_disasm_and_asm(slots: list[bytes]) -> None:
    raw = b"".join(slots)
    assert isa.encode(assemble("\n".join(disassemble(isa.decode(raw))))) == raw


_OPCODES = sorted(isa.OPCODES)
_REG = {"w": st.integers(0, 9), "r": st.integers(0, 10), "0": st.just(0)}
_SRC = {**_REG, "call": st.sampled_from(sorted(isa.CALL_SRCS)),
        "ld": st.sampled_from(sorted(isa.LDDW_SRCS))}
_S16 = st.integers(-0x8000, 0x7FFF)
_S32 = st.integers(-(1 << 31), (1 << 31) - 1)
_OFF = {"0": st.just(0), "any": _S16, "jmp": _S16, "div": st.sampled_from([0, 1]),
        "movsx64": st.sampled_from([0, 8, 16, 32]), "movsx32": st.sampled_from([0, 8, 16])}
_IMM = {"0": st.just(0), "any": _S32, "jmp": _S32, "end": st.sampled_from([16, 32, 64]),
        "atomic": st.sampled_from(sorted(isa.ATOMIC_OPS))}


@st.composite
def _valid_insn(draw: st.DrawFn) -> list[Insn]:
    """One valid instruction (two slots for lddw), built from its OpSpec field rules."""
    spec = isa.OPCODES[draw(st.sampled_from(_OPCODES))]
    insn = Insn(spec.opcode, draw(_REG[spec.dst]), draw(_SRC[spec.src]),
                draw(_OFF[spec.off]), draw(_IMM[spec.imm]))
    if spec.imm == "atomic" and insn.imm & isa.BPF_FETCH and insn.src == 10:
        insn = insn._replace(src=1)  # a fetch may not write r10
    isa.validate_insn(insn)
    if spec.opcode == isa.OPCODE_LDDW:
        return [insn, Insn(0, imm=draw(_S32))]
    return [insn]


@settings(max_examples=500, deadline=None)
@given(st.lists(_valid_insn(), max_size=10))
def test_valid_programs_round_trip_without_raw_escapes(parts: list[list[Insn]]) -> None:
    insns = [i for part in parts for i in part]
    text = "\n".join(disassemble(insns))
    assert ".insn" not in text
    assert assemble(text) == insns
