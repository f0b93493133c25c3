"""``tuxnet bpf``: output shape of the conformance runner, asm, disasm and run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tuxnet.cli import main as tuxnet_main
from tuxnet.tools.bpf_cmd import main

PASSING = "-- asm\nmov %r0, 3\nexit\n-- result\n0x3\n"
FAILING = "-- asm\nmov %r0, 4\nexit\n-- result\n0x3\n"


def _cases(tmp_path: Path) -> tuple[Path, Path]:
    good, bad = tmp_path / "good.data", tmp_path / "bad.data"
    good.write_text(PASSING)
    bad.write_text(FAILING)
    return good, bad


def test_conformance_prints_one_line_per_file_and_a_summary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = _cases(tmp_path)
    rc = main(["conformance", str(good), str(bad)])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 1
    assert lines == [f"PASS {good}", f"FAIL {bad}: returned 0x4, expected 0x3",
                     "1 passed, 1 failed"]
    assert re.fullmatch(r"\d+ passed, \d+ failed", lines[-1])


def test_conformance_accepts_directories_and_exits_zero_when_all_pass(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.data").write_text(PASSING)
    (tmp_path / "b.data").write_text(PASSING)
    assert tuxnet_main(["bpf", "conformance", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 passed, 0 failed"


def test_conformance_json_is_one_document(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = _cases(tmp_path)
    main(["conformance", "--json", str(good), str(bad)])
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] == 1 and doc["failed"] == 1
    assert [r["passed"] for r in doc["results"]] == [True, False]
    assert doc["results"][0]["actual"] == 3 and doc["results"][0]["insns_executed"] == 2


def test_insn_limit_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop.data"
    loop.write_text("-- asm\nja -1\nexit\n-- result\n0x0\n")
    assert main(["conformance", "--insn-limit", "50", str(loop)]) == 1
    assert "instruction limit of 50 exceeded" in capsys.readouterr().out


def test_asm_disasm_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "p.s"
    src.write_text("mov %r0, 0x2a\nldxb %r1, [%r1]\nadd %r0, %r1\nexit\n")
    assert main(["asm", str(src)]) == 0
    hex_text = capsys.readouterr().out
    assert hex_text.splitlines()[0] == "b7 00 00 00 2a 00 00 00"
    hexfile = tmp_path / "p.hex"
    hexfile.write_text(hex_text)
    assert main(["disasm", str(hexfile)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "mov %r0, 42", "ldxb %r1, [%r1]", "add %r0, %r1", "exit"]
    binary = tmp_path / "p.bin"
    assert main(["asm", str(src), "-o", str(binary)]) == 0
    assert binary.read_bytes() == bytes.fromhex(hex_text)
    main(["disasm", "--json", str(binary)])
    assert json.loads(capsys.readouterr().out)["lines"][0] == "mov %r0, 42"
    assert main(["run", "--json", "--mem", "01", str(src)]) == 0
    assert json.loads(capsys.readouterr().out) == {"r0": 43, "insns_executed": 4}


def test_errors_are_reported_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "bad.s"
    src.write_text("mov %r0, 1\nbogus\nexit\n")
    assert main(["asm", str(src)]) == 1
    err = capsys.readouterr().err
    assert "line 2: invalid mnemonic 'bogus'" in err and "Traceback" not in err
    src.write_text("ldxdw %r0, [%r1]\nexit\n")
    assert main(["run", str(src)]) == 1
    assert "invalid read of 8 bytes" in capsys.readouterr().err
