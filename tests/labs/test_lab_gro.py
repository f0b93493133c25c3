"""Lab gro: GRO merges a bulk stream into far fewer skbs and less CPU per MB."""

from __future__ import annotations

import json

import pytest

from tuxnet.labs.gro import GroParams, run, run_point, summarize


def test_gro_passes_up_fewer_packets_for_less_cpu() -> None:
    params = GroParams(rate_bps=4_000_000_000, duration_ns=3_000_000, warmup_ns=1_000_000)
    on, off = run_point("on", params), run_point("off", params)
    assert on["packets_in"] == off["packets_in"] > 500
    assert off["packets_up"] == off["packets_in"] and off["segs_per_skb"] == 1.0
    assert on["packets_up"] * 4 < on["packets_in"] and on["segs_per_skb"] > 4
    assert on["cpu_ns_per_mb"] * 1.5 < off["cpu_ns_per_mb"]
    assert on["ring_drops"] == off["ring_drops"] == 0
    assert on["csum_sw"] > 0 and off["csum_sw"] == 0  # no RX checksum offload on SimNic
    s = summarize([on, off])
    assert s["packets_up_off_over_on"] > 4 and s["cpu_per_mb_off_over_on"] > 1.5


def test_line_rate_needs_gro() -> None:
    params = GroParams(duration_ns=3_000_000, warmup_ns=1_000_000)  # 10 Gbit/s, 1 CPU
    on, off = run_point("on", params), run_point("off", params)
    assert on["ring_drops"] == 0 and on["delivered_gbps"] > 9
    assert off["ring_drops"] > 0 and off["cpu_util"] > 0.95
    assert off["delivered_gbps"] < 0.7 * on["delivered_gbps"]


def test_quick_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--quick", "--json", "--duration-ms", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lab"] == "gro" and [r["gro"] for r in doc["rows"]] == ["on", "off"]
    assert {"packets_in", "packets_up", "cpu_ns_per_mb", "segs_per_skb"} <= doc["rows"][0].keys()
    assert run(["--quick", "--duration-ms", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gro  offered Gb/s") and "GRO off passes up" in out
    with pytest.raises(ValueError):
        run_point("maybe", GroParams())
