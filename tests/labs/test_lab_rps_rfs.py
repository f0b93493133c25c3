"""The ``rps-rfs`` lab: without steering the IRQ CPU does all protocol work, RPS spreads
it (about 1/N on the application's CPU), RFS moves it to the application's CPU."""

from __future__ import annotations

import json

import pytest

from tuxnet.cli import main as tuxnet_main
from tuxnet.labs.rps_rfs import MODES, RpsRfsParams, run_point


def test_quick_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["lab", "rps-rfs", "--quick", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lab"] == "rps-rfs" and doc["quick"] is True
    rows = {r["mode"]: r for r in doc["rows"]}
    assert list(rows) == list(MODES)
    ncpus = doc["params"]["ncpus"]
    app, irq = doc["params"]["app_cpu"], doc["params"]["irq_cpu"]
    assert app != irq
    for r in rows.values():
        assert len(r["cpu_proto_pps"]) == ncpus and len(r["cpu_util"]) == ncpus
        assert r["delivered_pps"] >= 0.98 * r["offered_pps"]  # below saturation
        assert 0 <= r["app_cpu_fraction"] <= 1
    none, rps, rfs = rows["none"], rows["rps"], rows["rfs"]
    # no steering: all protocol work on the IRQ CPU, no IPIs
    assert none["app_cpu_fraction"] == 0.0 and none["ipis_per_s"] == 0
    assert [i for i, n in enumerate(none["cpu_proto_pps"]) if n] == [irq]
    # RPS over all CPUs: about 1/N of it on the application's CPU, every CPU works
    assert abs(rps["app_cpu_fraction"] - 1 / ncpus) <= 0.15
    assert all(n > 0 for n in rps["cpu_proto_pps"]) and rps["ipis_per_s"] > 0
    # RFS: the protocol work follows the reader
    assert rfs["app_cpu_fraction"] > 0.9
    assert rfs["cpu_util"][irq] < none["cpu_util"][irq]


def test_rfs_table_size_matters() -> None:
    """With rps_flow_cnt 0 RFS has no device flow table: it falls back to RPS."""
    p = RpsRfsParams(duration_ns=4_000_000, warmup_ns=2_000_000, flow_cnt=0, flows=32)
    row = run_point("rfs", 100_000, p)
    assert row["app_cpu_fraction"] < 0.5


def test_table_output_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["lab", "rps-rfs", "--loads", "50000", "--duration-ms", "4"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["mode", "offered/s", "delivered/s"]
    assert "rfs:" in out and "application pinned on cpu2" in out
    p = RpsRfsParams(duration_ns=1_000_000, warmup_ns=500_000)
    with pytest.raises(ValueError):
        run_point("xps", 1000, p)
    assert run_point("rps", 50_000, p) == run_point("rps", 50_000, p)
