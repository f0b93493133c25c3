"""Lab cc on a short sweep (10 Mbit/s, 100 ms RTT, a few seconds per point): the
qualitative shape -- CUBIC falls with random loss and collapses at a few percent, BBR
holds near the link to 5 %; BBR's RTT stays near min_rtt as the buffer grows while
CUBIC's grows -- and the command's JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from conftest import need

from tuxnet.labs import cc as lab
from tuxnet.tools import lab_cmd

SEC = 1_000_000_000
BASE = lab.PathSpec(rate_bps=10_000_000, duration_ns=5 * SEC)


def test_goodput_vs_loss_shape() -> None:
    rows = lab.run_loss_sweep(("cubic",), (0.0001, 0.02, 0.05), BASE)
    rows += lab.run_loss_sweep(("bbr",), (0.05,), BASE)
    got = {(r["cc"], r["loss"]): r["goodput_mbps"] for r in rows}
    link = lab.ceiling_mbps(BASE.rate_bps, 0.0)
    assert got["cubic", 0.0001] > 0.85 * link  # a 10 Mbit/s pipe is easy at 0.01 %
    assert got["cubic", 0.0001] > got["cubic", 0.02] > got["cubic", 0.05]
    assert got["cubic", 0.02] < 0.25 * link  # collapsed at 2 %
    assert got["bbr", 0.05] > 0.75 * link  # BBR does not treat loss as congestion
    r = next(r for r in rows if r["cc"] == "cubic" and r["loss"] == 0.02)
    # near the loss-based models at this loss rate (RTO-free random loss)
    assert 0.4 * r["mathis_mbps"] < r["goodput_mbps"] < 2.0 * r["rfc9438_mbps"]
    assert set(rows[0]) >= {"cc", "loss", "goodput_mbps"}


def test_rtt_vs_buffer_shape() -> None:
    rows = lab.run_buffer_sweep(("cubic", "bbr"), (0.5, 8.0), BASE)
    rtt = {(r["cc"], r["buffer_bdp"]): r["rtt_ms"] for r in rows}
    cubic_growth = rtt["cubic", 8.0] - rtt["cubic", 0.5]
    bbr_growth = rtt["bbr", 8.0] - rtt["bbr", 0.5]
    assert cubic_growth > 100  # CUBIC fills whatever buffer there is
    assert bbr_growth < cubic_growth / 2
    assert rtt["bbr", 8.0] < rtt["cubic", 8.0]
    assert all(r["goodput_mbps"] > 7 for r in rows if r["buffer_bdp"] == 8.0)
    assert set(rows[0]) >= {"cc", "buffer_bdp", "rtt_ms", "goodput_mbps"}


def test_cli_json_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    rc = lab_cmd.main(["cc", "--json", "--quick", "--sweep", "loss", "--losses", "0.01",
                       "--ccs", "reno", "--duration", "2"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lab"] == "cc" and len(doc["loss"]) == 1
    row = doc["loss"][0]
    assert row["cc"] == "reno" and row["loss"] == 0.01 and row["goodput_mbps"] > 0
    with pytest.raises(SystemExit):
        lab_cmd.main(["cc", "--ccs", "vegas"])
    with pytest.raises(SystemExit):
        lab_cmd.main(["cc", "--losses", "2"])
    with pytest.raises(SystemExit):
        lab_cmd.main(["cc", "--duration", "0"])
    assert "nosuch" not in capsys.readouterr().out


def test_cli_set_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """--set PATH=VALUE is checked before anything runs: Linux's errors, no traceback."""
    for bad, why in (("/sys/module/tcp_cubic/parameters/bic_scale=42", "Permission denied"),
                     ("/sys/module/tcp_cubic/parameters/beta=lots", "Invalid argument"),
                     ("net.ipv4.nosuch=1", "No such file or directory"),
                     ("net.ipv4.tcp_rmem", "PATH=VALUE")):
        with pytest.raises(SystemExit):
            lab_cmd.main(["cc", "--set", bad])
        assert why in capsys.readouterr().err


def test_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need(importlib.util.find_spec("matplotlib") is not None, "matplotlib not installed")
    out = tmp_path / "cc.png"
    rc = lab_cmd.main(["cc", "--quick", "--sweep", "loss", "--losses", "0.05", "--ccs",
                       "cubic", "--duration", "1", "--plot", str(out)])
    assert rc == 0 and out.stat().st_size > 1000
    assert "goodput vs random loss" in capsys.readouterr().out


def test_bench_cc_quick() -> None:
    """benchmarks/bench_cc.py --quick prints its table, then ratio lines."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root / "src"))
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_cc.py"), "--quick"],
                         capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout
    lines = out.strip().splitlines()
    ratios = [ln for ln in lines if ln.startswith("ratio:")]
    assert len(ratios) == 6 and lines[-6:] == ratios
    assert all(float(r.rsplit("=", 1)[1]) > 0 for r in ratios)
    assert "sim_seconds_per_wall_second_bbr_loss0 tuxnet/realtime" in out


def test_datacenter_cubic_fills_the_path() -> None:
    """10 Gbit/s, 50 us RTT, 40 ms: CUBIC reaches the link. The receiving application
    reads when sk_data_ready wakes it; polling it every 1 ms left unread data that kept
    __tcp_select_window() below rcv_wnd once rcv_ssthresh met window_clamp (~20 ms in),
    so __tcp_ack_snd_check() held every ACK for the next read and the reads clocked the
    sender (srtt ~0.5 ms, goodput below 3 Gbit/s)."""
    spec = lab.PathSpec(rate_bps=10_000_000_000, rtt_ns=50_000, loss=0.0, ccs=("cubic",),
                        duration_ns=40_000_000, warmup_ns=25_000_000)
    (res,), _ = lab.run_path(spec)
    assert res.goodput_mbps > 0.85 * lab.ceiling_mbps(spec.rate_bps, 0.0)
    assert res.rtt_ms < 0.2  # the base 50 us plus at most one BDP of queue
