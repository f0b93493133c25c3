"""Instruction encoding, field validation (RFC 9669 3) and the loader's structural checks."""

from __future__ import annotations

import pytest

from tuxnet.bpf import isa
from tuxnet.bpf.asm import assemble
from tuxnet.bpf.errors import BpfEncodeError, BpfInvalidInsn, BpfLoadError
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.program import Program


def test_encoding_is_little_endian_with_dst_in_the_low_nibble() -> None:
    insn = Insn(isa.BPF_ALU64 | isa.BPF_ADD | isa.BPF_X, dst=1, src=2, off=-2, imm=-3)
    raw = isa.encode([insn])
    assert raw == bytes([0x0F, 0x21, 0xFE, 0xFF, 0xFD, 0xFF, 0xFF, 0xFF])
    assert isa.decode(raw) == [insn]


def test_lddw_is_two_slots() -> None:
    insns = isa.lddw(3, 0x1122334455667788)
    assert isa.encode(insns).hex() == "1803000088776655" + "0000000044332211"


def test_decode_rejects_a_partial_slot() -> None:
    with pytest.raises(BpfInvalidInsn, match="multiple of 8"):
        isa.decode(bytes(12))


@pytest.mark.parametrize("insn", [
    Insn(0, off=0x8000), Insn(0, imm=1 << 31), Insn(0x100), Insn(0, dst=16),
])
def test_encode_rejects_fields_that_do_not_fit(insn: Insn) -> None:
    with pytest.raises(BpfEncodeError):
        isa.encode([insn])


def test_the_opcode_table_matches_the_rfc_count() -> None:
    # ALU+ALU64: 2 x (12 ops x K/X + NEG) = 50; END 3; JMP+JMP32 conditions 2 x 11 x 2
    # = 44; ja, ja32, call, callx (LLVM), exit 5; lddw 1; ldx/st/stx 12; ldxs 3;
    # legacy ABS/IND 6 (decoded, refused at load); atomic W/DW 2.
    assert len(isa.OPCODES) == 126
    assert isa.OPCODES[0xB7].name == "mov" and isa.OPCODES[0xDB].name == "atomic"


@pytest.mark.parametrize(("insn", "msg"), [
    (Insn(0xFF), "unknown opcode 0xff"),
    (Insn(0x8C), "unknown opcode 0x8c"),                 # NEG has no register form
    (Insn(0x86), "unknown opcode 0x86"),                 # no CALL in JMP32
    (Insn(0xDF, imm=16), "unknown opcode 0xdf"),         # no ALU64 | END | X
    (Insn(0xB7, dst=10), "r10 is read-only"),
    (Insn(0x61, dst=10, src=1), "r10 is read-only"),
    (Insn(0xBF, dst=1, src=11), "invalid src register r11"),
    (Insn(0x15, dst=12), "invalid dst register r12"),
    (Insn(0x3F, dst=1, src=2, off=2), r"offset must be 0 \(unsigned\) or 1 \(signed\)"),
    (Insn(0xBF, dst=1, src=2, off=64), "offset must be 0, 8, 16 or 32"),
    (Insn(0xBC, dst=1, src=2, off=32), "offset must be 0, 8 or 16"),
    (Insn(0xB7, dst=1, off=8, imm=1), "unused offset"),  # MOVSX needs a register source
    (Insn(0xD4, imm=8), "width must be 16, 32 or 64"),
    (Insn(0xDB, dst=10, src=1, imm=0x02), "unknown atomic operation"),
    (Insn(0xDB, dst=1, src=10, imm=0x01), "read-only r10"),  # fetch into r10
    (Insn(0x85, src=3), "invalid call src 3"),
    (Insn(0x18, src=7), "invalid lddw src 7"),
    (Insn(0x06, off=1), "unused offset"),                # ja32 uses imm, not off
    (Insn(0x8D, imm=1), "unused imm"),                   # callx
])
def test_invalid_fields_are_rejected(insn: Insn, msg: str) -> None:
    with pytest.raises(BpfInvalidInsn, match=msg):
        isa.validate_insn(insn, 0)


def test_cmpxchg_with_r10_as_source_is_fine() -> None:
    # CMPXCHG writes r0, not src; only FETCH forms write src.
    isa.validate_insn(Insn(0xDB, dst=1, src=10, imm=isa.BPF_CMPXCHG))


@pytest.mark.parametrize(("src", "msg"), [
    ("", "no instructions"),
    ("ja +1\nexit", "jump out of range from insn 0 to 2"),
    ("ja -2\nexit", "jump out of range"),
    ("call local +5\nexit", "jump out of range"),
    ("ja +1\nlddw %r0, 1\nexit", "into the middle of lddw"),
    ("mov %r0, 0", "last insn is not an exit or jmp"),
])
def test_structural_checks(src: str, msg: str) -> None:
    with pytest.raises(BpfLoadError, match=msg):
        Program.load(assemble(src))


def test_incomplete_lddw() -> None:
    with pytest.raises(BpfLoadError, match="incomplete lddw"):
        Program.load([Insn(isa.OPCODE_LDDW)])
    with pytest.raises(BpfInvalidInsn, match="second slot"):
        Program.load([Insn(isa.OPCODE_LDDW), Insn(0x95), Insn(0x95)])


def test_legacy_packet_access_is_refused_with_a_reason() -> None:
    with pytest.raises(BpfLoadError, match=r"RFC 9669 5\.5"):
        Program.load(assemble("ldabsw 12\nexit"))


@pytest.mark.parametrize(("src", "version"), [
    ("mov %r0, 0\nexit", 1), ("jlt %r0, 1, +0\nexit", 2), ("jeq32 %r0, 1, +0\nexit", 3),
    ("lock fetch add [%r10-8], %r1\nexit", 3), ("sdiv %r0, 3\nexit", 4),
    ("movsx832 %r0, %r1\nexit", 4), ("ldxsb %r0, [%r10-1]\nexit", 4),
    ("bswap16 %r0\nexit", 4), ("ja32 +0\nexit", 4),
])
def test_cpu_versions(src: str, version: int) -> None:
    insns = assemble(src)
    assert max(isa.min_cpu_version(i) for i in insns) == version
    Program.load(insns, cpu_version=version)
    if version > 1:
        with pytest.raises(BpfInvalidInsn, match=f"needs cpu v{version}"):
            Program.load(insns, cpu_version=version - 1)


def test_subprogram_starts_are_recorded() -> None:
    p = Program.load(assemble("call local f\nexit\nf:\nmov %r0, 1\nexit"))
    assert p.subprogs == (0, 2)
    assert Program.from_bytes(p.to_bytes()).insns == p.insns
