"""The differential suite: ``tuxnet nf replay --json`` against the real kernel's
recordings (``expected.json``, made by record.py with the nf-kernel-diff harness),
field by field, masking only what the harness calls random (see _diffutil).

Every scenario runs, the conntrack/NAT ones included. A root-marked test re-runs the
kernel harness live on a few scenarios.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest
from _diffutil import (
    HARNESS,
    HERE,
    compare,
    load_expected,
    run_kernel,
    run_tuxnet,
    scenarios,
)
from conftest import need

LIVE = ["addr_masks", "reject_tcp_reset", "goto", "ipset_hash"]


def test_suite_shape() -> None:
    names = scenarios()
    assert len(names) >= 30
    for name in names:
        assert (HERE / name / "packets.json").is_file()
        assert (HERE / name / "expected.json").is_file(), f"{name}: run record.py"


@pytest.mark.parametrize("name", scenarios())
def test_replay_matches_kernel(name: str) -> None:
    kernel = load_expected(name)
    rules = (HERE / name / "rules.txt").read_text()
    diffs = compare(kernel, run_tuxnet(name), rules)
    assert not diffs, f"{name}:\n" + "\n".join(diffs)


def test_compare_catches_a_difference() -> None:
    kernel = load_expected("addr_masks")
    tux = run_tuxnet("addr_masks")
    tux["steps"][0]["out_wan"] = []
    tux["steps"][1]["counters"] = {}
    diffs = compare(kernel, tux)
    assert len(diffs) == 2 and diffs[0].startswith("step 1 out_wan")


@pytest.mark.root
@pytest.mark.parametrize("name", LIVE)
def test_live_kernel_still_agrees(name: str) -> None:
    import os

    need(os.geteuid() == 0, "needs root")
    need(HARNESS.is_file(), f"nf-kernel-diff harness not found at {HARNESS}")
    for tool in ("unshare", "ip", "nft", "iptables-nft-restore", "conntrack", "ipset"):
        need(shutil.which(tool) is not None, f"{tool} not installed")
    need(importlib.util.find_spec("scapy") is not None, "scapy not installed")
    kernel = run_kernel(name)
    rules = (HERE / name / "rules.txt").read_text()
    assert not compare(load_expected(name), kernel, rules), "kernel differs from recording"
    diffs = compare(kernel, run_tuxnet(name), rules)
    assert not diffs, "\n".join(diffs)
