"""The ``livelock`` lab: interrupt-per-packet delivery collapses past saturation,
NAPI holds; CLI and JSON shape."""

from __future__ import annotations

import json

import pytest

from tuxnet.cli import main as tuxnet_main
from tuxnet.labs.livelock import QUICK_LOADS, LivelockParams, run_point


def test_quick_sweep_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["lab", "livelock", "--quick", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lab"] == "livelock" and doc["quick"] is True
    rows = doc["rows"]
    for mode in ("irq", "napi"):
        mine = [r for r in rows if r["mode"] == mode]
        assert [r["offered_pps"] for r in mine] == list(QUICK_LOADS)
        for r in mine:
            for key in ("delivered_pps", "cpu_util", "hardirq_pct", "softirq_pct",
                        "task_pct", "irqs_per_s", "ring_drops_pps", "backlog_drops_pps",
                        "socket_drops_pps"):
                assert key in r
            assert 0 <= r["cpu_util"] <= 1
            assert r["delivered_pps"] <= 1.01 * r["offered_pps"]  # window edges
    irq = [r["delivered_pps"] for r in rows if r["mode"] == "irq"]
    napi = [r["delivered_pps"] for r in rows if r["mode"] == "napi"]
    peak = max(irq)
    i = irq.index(peak)
    # interrupt-per-packet: rises, peaks inside the sweep, collapses (receive livelock)
    assert 0 < i < len(irq) - 1
    assert irq[:i + 1] == sorted(irq[:i + 1])
    assert irq[-1] < 0.2 * peak
    # NAPI holds near its peak at the top load
    assert napi[-1] >= 0.8 * max(napi)
    assert max(napi) > peak
    # where the work went at the top load: hardirq in the legacy model, ksoftirqd in NAPI
    top_irq = [r for r in rows if r["mode"] == "irq"][-1]
    top_napi = [r for r in rows if r["mode"] == "napi"][-1]
    assert top_irq["hardirq_pct"] > 90 and top_irq["backlog_drops_pps"] > 0
    assert top_napi["ksoftirqd_pct"] > 30 and top_napi["ring_drops_pps"] > 0
    assert top_napi["irqs_per_s"] < 1000
    assert doc["summary"]["irq"]["top_over_peak"] < 0.2


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["lab", "livelock", "--loads", "20000,400000",
                        "--duration-ms", "4"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["mode", "offered/s", "delivered/s"]
    assert "irq: peak" in out and "napi: peak" in out


def test_lab_dispatcher(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["lab", "--list"]) == 0
    assert "livelock" in capsys.readouterr().out.split()
    assert tuxnet_main(["lab", "nosuchlab"]) == 2
    assert tuxnet_main(["lab"]) == 2


def test_run_point_is_deterministic() -> None:
    p = LivelockParams(duration_ns=3_000_000, warmup_ns=1_000_000)
    assert run_point("napi", 300_000, p) == run_point("napi", 300_000, p)
    with pytest.raises(ValueError):
        run_point("polling", 1000, p)
