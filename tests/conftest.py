"""Shared test fixtures: where the conformance data and reference samples live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Where the shared data is looked for when no environment variable names it: beside the
# repository (../shared, the documented default), then this machine kind's fixed place.
_SHARED_CANDIDATES = (REPO.parent / "shared", Path("/work/shared"))


def shared_path(env: str, sub: str) -> Path:
    """``$env`` if set, else the first existing ``<candidate>/<sub>``, else the default."""
    value = os.environ.get(env)
    if value:
        return Path(value)
    for base in _SHARED_CANDIDATES:
        if (base / sub).is_dir():
            return base / sub
    return _SHARED_CANDIDATES[0] / sub


CONFORMANCE = shared_path("TUXNET_CONFORMANCE", "conformance")
REFERENCE = shared_path("TUXNET_REFERENCE", "reference")


def in_ci() -> bool:
    """True under CI, where a missing suite or tool is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, why: str) -> None:
    """Skip outside CI, fail loudly under CI, when ``condition`` is false."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required under CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The shared conformance data ($TUXNET_CONFORMANCE or ../shared/conformance)."""
    path = CONFORMANCE
    need(path.is_dir(), f"conformance data not found at {path} (set TUXNET_CONFORMANCE)")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The shared reference facts and samples ($TUXNET_REFERENCE or ../shared/reference)."""
    path = REFERENCE
    need(path.is_dir(), f"reference data not found at {path} (set TUXNET_REFERENCE)")
    return path
