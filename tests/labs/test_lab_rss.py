"""The ``rss`` lab: 4 RX queues spread 64 flows over 4 CPUs, 1 queue loads one CPU,
``ethtool -X equal 2`` uses two; CLI and JSON shape."""

from __future__ import annotations

import json

import pytest

from tuxnet.cli import main as tuxnet_main
from tuxnet.labs.rss import CONFIGS, RssParams, run_point


def test_quick_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["lab", "rss", "--quick", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lab"] == "rss" and doc["quick"] is True
    rows = {r["config"]: r for r in doc["rows"]}
    assert list(rows) == list(CONFIGS)
    for r in rows.values():
        assert r["flows"] == 64 and len(r["cpu_pps"]) == 4 and len(r["cpu_util"]) == 4
        assert sum(r["queue_flows"]) == 64
        assert abs(sum(r["cpu_pps"]) - r["delivered_pps"]) <= 4  # rounding
        assert r["delivered_pps"] <= 1.01 * r["offered_pps"]
    one, four, two = rows["1 queue"], rows["4 queues"], rows["4 queues, equal 2"]
    # one queue: everything on CPU 0, which saturates; the NIC drops the rest
    assert one["cpu_pps"][1:] == [0, 0, 0] and one["imbalance"] == 4.0
    assert one["cpu_util"][0] > 0.95 and one["ring_drops_pps"] > 0
    # four queues: every CPU works, evenly enough, and the whole load gets through
    assert all(n > 0 for n in four["cpu_pps"]) and four["imbalance"] < 1.5
    assert four["delivered_pps"] >= 0.99 * four["offered_pps"]
    assert four["ring_drops_pps"] == 0 and max(four["cpu_util"]) < 0.8
    # equal 2: CPUs 2 and 3 idle
    assert two["queue_flows"][2:] == [0, 0] and two["cpu_pps"][2:] == [0, 0]
    assert all(n > 0 for n in two["cpu_pps"][:2]) and two["imbalance"] >= 2.0
    assert doc["summary"]["4 queues"]["cpus_used"] == 4


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["lab", "rss", "--flows", "4", "--duration-ms", "3"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["config", "flows", "offered/s", "delivered/s"]
    assert "4 queues, equal 2:" in out
    assert tuxnet_main(["lab", "--list"]) == 0
    assert "rss" in capsys.readouterr().out.split()


def test_point_is_deterministic() -> None:
    p = RssParams(duration_ns=2_000_000, warmup_ns=500_000)
    assert run_point("4 queues", 16, p) == run_point("4 queues", 16, p)
    with pytest.raises(ValueError):
        run_point("8 queues", 16, p)
