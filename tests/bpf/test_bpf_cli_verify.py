"""``tuxnet bpf verify``: the verifier's log and verdict from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuxnet.tools.bpf_cmd import main


def test_verify_prints_the_log_and_fails(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "bad.s"
    src.write_text("ldxw %r2, [%r1+0]\nldxb %r0, [%r2+0]\nexit\n")
    assert main(["verify", str(src)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-3:-1] == ["R2 offset is outside of the packet",
                          "processed 2 insns (limit 1000000) max_states_per_insn 0 "
                          "total_states 0 peak_states 0 mark_read 0"]
    assert out[-1] == "verification failed at insn 1: R2 offset is outside of the packet"


def test_verify_json_and_data_files(tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "ok.data"
    data.write_text("-- asm\nldxh %r0, [%r1+2]\nexit\n-- mem\n00 01 02 03\n-- result\n0x302\n")
    assert main(["verify", "--json", str(data)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["insns_processed"] == 2
    assert main(["verify", "--mem-size", "3", "--log-level", "0", str(data)]) == 1
    assert capsys.readouterr().out.endswith(
        "verification failed at insn 0: R1 min value is outside of the allowed memory range\n")
