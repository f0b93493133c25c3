"""The benchmarks run (--quick) and end with well-formed ratio lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RATIO = re.compile(r"^ratio: [a-z0-9_]+ tuxnet/[A-Za-z0-9_]+ = \d+\.\d+$")


@pytest.mark.parametrize(
    ("script", "metrics"),
    [
        ("bench_parse.py", {"parse_pps tuxnet/dpkt", "parse_pps tuxnet/scapy"}),
        ("bench_build.py", {"build_pps tuxnet/dpkt", "build_pps tuxnet/scapy"}),
        ("bench_checksum.py", {"checksum_gbps tuxnet/array_sum"}),
    ],
)
def test_benchmark_quick(script: str, metrics: set[str]) -> None:
    pytest.importorskip("dpkt")
    pytest.importorskip("scapy")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    lines = out.strip().splitlines()
    ratios = [ln for ln in lines if ln.startswith("ratio:")]
    assert ratios and lines[-len(ratios) :] == ratios, "ratio lines must come last"
    for ln in ratios:
        assert RATIO.match(ln), ln
        assert float(ln.rsplit("=", 1)[1]) > 0
    seen = {ln.split(": ", 1)[1].split(" = ")[0] for ln in ratios}
    assert metrics <= seen
    assert len(lines) > len(ratios) + 2, "a human table comes first"
