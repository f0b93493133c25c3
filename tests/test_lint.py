"""The code stays mypy --strict and ruff clean (both run over src/)."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import REPO, need


def test_ruff_clean() -> None:
    need(shutil.which("ruff") is not None, "ruff not installed (pip install -e '.[test]')")
    out = subprocess.run(["ruff", "check", "src", "tests", "benchmarks"], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_clean() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "src"], cwd=REPO,
                         capture_output=True, text=True)
    assert "No module named mypy" not in out.stderr, "mypy not installed"
    assert out.returncode == 0, out.stdout + out.stderr
