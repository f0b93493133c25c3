"""``tuxnet sim --scenario frames`` (the UDP frame exchange, the default before TCP) and
``--scenario traceroute``: deterministic, counted, captured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuxnet.pcap import read_pcap
from tuxnet.scenarios.frames import FramesParams, run_frames
from tuxnet.tools.sim_cmd import main


def _run(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "tuxnet", "sim", *args],
                         capture_output=True, text=True, check=True)
    return out.stdout


def test_same_seed_same_output_byte_for_byte() -> None:
    args = ("--scenario", "frames", "--duration", "300ms")
    assert _run(*args, "--seed", "3") == _run(*args, "--seed", "3")
    assert _run(*args, "--seed", "3") != _run(*args, "--seed", "4")


def test_counters_are_consistent() -> None:
    r = run_frames(FramesParams(duration_ns=1_000_000_000))
    ab, ba = r["links"]["a->b"], r["links"]["b->a"]
    a, b = r["hosts"]["a"], r["hosts"]["b"]
    # offered 12 Mbit/s into 10 Mbit/s: the queue overflows and tail drops are counted
    assert ab["drop_queue_full"] > 0
    assert a["drops"]["SKB_DROP_REASON_QDISC_DROP"] == ab["drop_queue_full"]
    assert a["ip"]["OutDiscards"] == ab["drop_queue_full"]
    # every frame the link delivered to b was received and either accepted or dropped
    assert b["ip"]["InReceives"] == ab["delivered_packets"]
    accepted = b["udp"]["InDatagrams"]
    assert accepted + b["udp"]["InErrors"] + b["ip"]["InHdrErrors"] == ab["delivered_packets"]
    # b echoed exactly what it accepted
    assert b["udp"]["OutDatagrams"] == accepted == ba["sent_packets"]
    assert r["echoes_received"] == a["udp"]["InDatagrams"]
    # goodput cannot exceed the link rate
    assert 0 < r["echo_goodput_mbps"] <= 10.0


def test_corruption_is_caught_by_checksums() -> None:
    r = run_frames(FramesParams(duration_ns=500_000_000, corrupt=0.2, loss=0.0))
    b = r["hosts"]["b"]
    corrupted = r["links"]["a->b"]["corrupted"]
    assert corrupted > 10
    caught = b["udp"]["InCsumErrors"] + b["ip"]["InHdrErrors"] + b["ip"]["InAddrErrors"] + \
        sum(n for k, n in b["drops"].items() if k.endswith(("OTHERHOST", "UNHANDLED_PROTO")))
    # a flip in the Ethernet source MAC or the IP TTL... is invisible; most are caught
    assert caught >= corrupted * 0.8


def test_json_and_pcap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcap = tmp_path / "sim.pcap"
    assert main(["--scenario", "frames", "--json", "--duration", "100ms", "--pcap",
                 str(pcap)]) == 0
    report = json.loads(capsys.readouterr().out)
    records = list(read_pcap(pcap))
    on_wire = report["links"]["a->b"]["tx_packets"] + report["links"]["b->a"]["tx_packets"]
    assert len(records) == on_wire
    times = [r.ts_ns for r in records]
    assert times == sorted(times)


def test_bad_arguments_are_clear_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--loss", "150%"])
    assert exc.value.code == 2
    assert "probability out of [0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--rate", "fast"])
    for bad in (["--rate", "0"], ["--offered", "0"], ["--duration", "0"], ["--delay=-1ms"]):
        with pytest.raises(SystemExit) as exc:
            main(["--scenario", "frames", *bad])
        assert exc.value.code == 2, bad


def test_traceroute_scenario_finds_every_hop() -> None:
    out = _run("--scenario", "traceroute", "--hops", "3")
    lines = out.strip().splitlines()
    assert lines[0].startswith("traceroute to 10.0.3.2 (10.0.3.2), 30 hops max")
    assert [ln.split()[1] for ln in lines[1:]] == ["10.0.0.1", "10.0.1.2", "10.0.2.2",
                                                   "10.0.3.2"]


def test_cli_survives_a_closed_pipe() -> None:
    proc = subprocess.run(f"{sys.executable} -m tuxnet sim --json | head -1", shell=True,
                          capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "{"
    assert "Traceback" not in proc.stderr


def test_goodput_never_exceeds_the_link_even_for_short_runs() -> None:
    # the queue drains after sending stops: goodput counts the time the echoes took
    for ms in (100, 200, 500):
        r = run_frames(FramesParams(duration_ns=ms * 1_000_000))
        assert 0 < r["echo_goodput_mbps"] <= 10.0, (ms, r["echo_goodput_mbps"])
