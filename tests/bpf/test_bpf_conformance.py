"""bpf_conformance .data files: every tests/ case passes, every negative/ case is rejected.

The data lives outside the repo ($TUXNET_CONFORMANCE, default ../shared/conformance).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFORMANCE, need

from tuxnet.bpf.conformance import DataFormatError, parse_data, run_data, run_file

SUITE = CONFORMANCE / "bpf" / "bpf_conformance"
MISSING = f"bpf_conformance data not found at {SUITE} (set TUXNET_CONFORMANCE)"


def _files(sub: str) -> list[Path]:
    d = SUITE / sub
    return sorted(d.glob("*.data")) if d.is_dir() else []


POSITIVE = _files("tests")
NEGATIVE = _files("negative")


@pytest.mark.parametrize("path", POSITIVE or [None], ids=lambda p: p.name if p else "missing")
def test_conformance_case_passes(path: Path | None) -> None:
    need(path is not None, MISSING)
    assert path is not None
    res = run_file(path)
    assert res.passed, res.line()
    assert res.stage == "result" and res.actual == res.expected


def test_suite_is_complete() -> None:
    # A truncated copy of the suite would make the parametrized test pass vacuously.
    need(bool(POSITIVE), MISSING)
    assert len(POSITIVE) >= 200 and len(NEGATIVE) >= 50


# Which stage must refuse each negative file (the bpf_conformance CMake tests say why):
# the .data parser, the assembler, the loader (reserved fields must be zero, RFC 9669 3),
# or the comparison of the result.
_EXPECTED_STAGE = {
    "empty.data": "parse",
    "empty_instructions.data": "parse",
    "invalid_unknown_directive.data": "parse",
    "error.data": "result",
    "incorrect_return_value_high_bits.data": "result",
    "invalid_imm32_dec_range.data": "assemble",
    "invalid_imm32_hex_range.data": "assemble",
    "invalid_label.data": "assemble",
    "invalid_lock.data": "assemble",
    "invalid_lock2.data": "assemble",
    "invalid_mnemonic.data": "assemble",
    "invalid_offset.data": "assemble",
    "invalid_offset_range.data": "assemble",
    "invalid_operand_count.data": "assemble",
    "invalid_register.data": "assemble",
}


@pytest.mark.parametrize("path", NEGATIVE or [None], ids=lambda p: p.name if p else "missing")
def test_negative_case_is_rejected(path: Path | None) -> None:
    need(path is not None, MISSING)
    assert path is not None
    res = run_file(path)
    if path.name.startswith("unused-"):
        # "-- error": the loader must refuse the program; the case passes *because* it does.
        assert res.passed and res.stage == "load", res
        assert res.error is not None and "must be" in res.error
        return
    if path.name in _EXPECTED_STAGE:
        assert not res.passed, res.line()
        assert res.stage == _EXPECTED_STAGE[path.name], res
        assert res.reason
        return
    # A negative file this table does not know yet: it must still not be accepted.
    assert not res.passed or res.stage in ("load", "run"), res


def test_high_bits_of_the_result_are_compared() -> None:
    data = parse_data("-- asm\nlddw %r0, 0x100000001\nexit\n-- result\n0x1\n")
    res = run_data(data, "high-bits")
    assert not res.passed and res.actual == 0x1_0000_0001
    assert "expected 0x1" in res.reason


def test_unknown_section_is_a_format_error() -> None:
    with pytest.raises(DataFormatError, match="unknown directive"):
        parse_data("-- asm\nexit\n-- bogus\n")


def test_raw_section_accepts_64_bit_slot_values(tmp_path: Path) -> None:
    p = tmp_path / "raw.data"
    # mov %r0, 7 ; exit  as little-endian 64-bit slot values (the older raw form)
    p.write_text("-- raw\n0x00000007000000b7\n0x0000000000000095\n-- result\n0x7\n")
    res = run_file(p)
    assert res.passed, res.line()


def test_mem_section_and_ignored_sections(tmp_path: Path) -> None:
    p = tmp_path / "mem.data"
    p.write_text("# header\n-- asm\nldxh %r0, [%r1+1]\nexit\n-- mem\naa bb cc\n"
                 "-- result\n0xccbb\n-- no register offset\nanything\n-- c\nint x;\n")
    res = run_file(p)
    assert res.passed, res.line()


def test_runtime_error_satisfies_an_error_case(tmp_path: Path) -> None:
    p = tmp_path / "oob.data"
    p.write_text("-- asm\nldxdw %r0, [%r1+8]\nexit\n-- mem\n00 01\n-- error\nout of bounds\n")
    res = run_file(p)
    assert res.passed and res.stage == "run" and res.error and "invalid read" in res.error


def test_runtime_error_fails_a_result_case(tmp_path: Path) -> None:
    p = tmp_path / "oob.data"
    p.write_text("-- asm\nldxdw %r0, [%r1+8]\nexit\n-- result\n0x0\n")
    res = run_file(p)
    assert not res.passed and res.stage == "run"
    assert "invalid read of 8 bytes" in res.reason


def test_unreadable_file_fails_cleanly(tmp_path: Path) -> None:
    res = run_file(tmp_path / "nope.data")
    assert not res.passed and res.stage == "parse"
