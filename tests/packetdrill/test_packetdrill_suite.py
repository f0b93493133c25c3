"""Every script in tests/packetdrill/passing.txt (paths under the conformance
packetdrill folder) must keep passing on tuxnet; a regression fails CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFORMANCE, need

from tuxnet.packetdrill import run_script

LIST = Path(__file__).with_name("passing.txt")
SCRIPTS = [ln.strip() for ln in LIST.read_text().splitlines()
           if ln.strip() and not ln.startswith("#")]


@pytest.mark.parametrize("rel", SCRIPTS)
def test_listed_script_passes(rel: str) -> None:
    base = CONFORMANCE / "packetdrill"
    need(base.is_dir(), f"packetdrill conformance suite not found at {base}")
    path = base / rel
    need(path.is_file(), f"listed script missing: {path}")
    r = run_script(str(path))
    assert r.passed, f"{rel}:{r.line}: {r.message}"
