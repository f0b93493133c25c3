"""The verifier over every bpf_conformance program (raw context: r1 = the test's memory,
r2 = its length; uBPF's test helpers). The suite is written for ISA semantics, not for
a verifier, so some programs are legitimately refused (constant shifts out of range,
``callx``). What matters: everything accepted runs without a memory fault.
"""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import CONFORMANCE, need

from tuxnet.bpf.conformance import _instructions, default_engine, parse_data
from tuxnet.bpf.errors import BpfError
from tuxnet.bpf.program import Program
from tuxnet.bpf.verifier import raw_context, verify
from tuxnet.bpf.verifier.protos import UBPF_TEST_PROTOS

SUITE = CONFORMANCE / "bpf" / "bpf_conformance" / "tests"
FILES = sorted(SUITE.glob("*.data")) if SUITE.is_dir() else []


def test_verifier_over_the_conformance_suite(capsys: pytest.CaptureFixture[str]) -> None:
    need(bool(FILES), f"bpf_conformance data not found at {SUITE}")
    accepted = 0
    refused: Counter[str] = Counter()
    for path in FILES:
        data = parse_data(path.read_text(encoding="utf-8"))
        prog = Program.load(_instructions(data), path.stem)
        r = verify(prog, raw_context(len(data.mem)), protos=UBPF_TEST_PROTOS,
                   allowed_funcs=frozenset(UBPF_TEST_PROTOS), insn_limit=100_000)
        if not r.ok:
            refused[r.message.split(" -")[0].rstrip("0123456789 ")] += 1
            continue
        accepted += 1
        vm = default_engine()
        try:
            vm.run(prog, bytearray(data.mem))
        except BpfError as e:  # pragma: no cover - the property under test
            pytest.fail(f"{path.name}: accepted by the verifier but faulted: {e}")
    with capsys.disabled():
        print(f"\nbpf_conformance: {len(FILES)} programs, {accepted} accepted by the "
              f"verifier, refused: {dict(refused)}")
    assert accepted >= 200
    assert set(refused) <= {"invalid shift", "unknown opcode 8d"}
