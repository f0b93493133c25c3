"""``tuxnet sim``'s default scenario, a TCP bulk transfer over a lossy, rate-limited
link: byte-identical per seed, byte-exact data, counters that agree, ss -ti lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tuxnet.pcap import read_pcap
from tuxnet.scenarios.tcp_bulk import TcpBulkParams, run_tcp_bulk
from tuxnet.tools.sim_cmd import main


def _run(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "tuxnet", "sim", *args],
                         capture_output=True, text=True, check=True)
    return out.stdout


def test_default_is_tcp_and_byte_identical_per_seed() -> None:
    first = _run()
    assert first.startswith("scenario tcp: a (10.0.0.1) -> b (10.0.0.2):5201 over 10 Mbit/s, "
                            "5 ms, loss 1%, corrupt 0.2%, queue 50 pkts; seed 1\n")
    assert first == _run("--seed", "1")
    assert first != _run("--seed", "2")
    assert re.search(r"^transfer   2000000 bytes in [\d.]+ s, goodput [\d.]+ Mbit/s, "
                     r"sha256 ok$", first, re.M)
    assert re.search(r"^fast path  \d+ of \d+ skbs in, \d+ data segments \([\d.]+%, "
                     r"TcpExtTCPHPHits / TcpInSegs on b\)$",
                     first, re.M)
    # one ss -ti state line and info line per socket, the congestion control first
    lines = first.splitlines()
    i = lines.index("ss -ti when b had read the last byte:")
    assert re.fullmatch(r"ESTAB \d+ +\d+ +10\.0\.0\.1:\d+ 10\.0\.0\.2:5201", lines[i + 1])
    assert re.fullmatch(r"\t cubic wscale:10,10 rto:\d+ rtt:[\d.]+/[\d.]+ mss:1448 pmtu:1500 "
                        r"rcvmss:536 advmss:1448 cwnd:\d+ .*bytes_sent:\d+ bytes_retrans:\d+ "
                        r"bytes_acked:\d+ segs_out:\d+ segs_in:\d+ data_segs_out:\d+ "
                        r"send [\d.]+[kMG]?bps .*busy:\d+ms .*rcv_space:14480 "
                        r"rcv_ssthresh:64088 minrtt:[\d.]+ snd_wnd:\d+", lines[i + 2])
    assert re.fullmatch(r"ESTAB 0      0      10\.0\.0\.2:5201 10\.0\.0\.1:\d+", lines[i + 3])
    assert re.fullmatch(r"\t cubic wscale:10,10 .* bytes_received:2000000 .*rcv_rtt:[\d.]+ "
                        r"rcv_space:\d+ rcv_ssthresh:\d+ minrtt:[\d.]+ .*snd_wnd:\d+",
                        lines[i + 4])


def test_json_report_agrees_with_itself(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pcap = tmp_path / "tcp.pcap"
    assert main(["--json", "--bytes", "300k", "--pcap", str(pcap), "--seed", "5"]) == 0
    r = json.loads(capsys.readouterr().out)
    t = r["transfer"]
    assert t["bytes"] == 300 * 1024 and t["sha256_ok"] and not r["errors"]
    assert 0 < t["goodput_mbps"] <= 10.0
    a, b = r["hosts"]["a"], r["hosts"]["b"]
    assert t["retrans_segs"] == a["tcp"]["RetransSegs"] == t["total_retrans"]
    assert t["hp_hits"] == b["tcpext"]["TCPHPHits"] <= t["data_segs_in"]
    # every frame on the wire is in the capture, in time order
    records = list(read_pcap(pcap))
    assert len(records) == r["links"]["a->b"]["tx_packets"] + r["links"]["b->a"]["tx_packets"]
    assert [x.ts_ns for x in records] == sorted(x.ts_ns for x in records)
    # the whole connection ran: open, close on both sides, TIME_WAIT done
    assert a["tcp"]["ActiveOpens"] == b["tcp"]["PassiveOpens"] == 1
    assert a["tcp"]["CurrEstab"] == b["tcp"]["CurrEstab"] == 0
    assert b["tcpext"]["TW"] == 1


def test_loss_and_corruption_are_repaired() -> None:
    r = run_tcp_bulk(TcpBulkParams(seed=3, nbytes=400_000, loss=0.03, corrupt=0.01))
    t = r["transfer"]
    assert t["sha256_ok"] and t["retrans_segs"] > 0
    a, b = r["hosts"]["a"], r["hosts"]["b"]
    corrupted = r["links"]["a->b"]["corrupted"] + r["links"]["b->a"]["corrupted"]
    assert corrupted > 0
    caught = sum(h["drops"].get(f"SKB_DROP_REASON_{x}", 0) for h in (a, b)
                 for x in ("TCP_CSUM", "IP_CSUM", "IP_INHDR", "OTHERHOST", "PKT_TOO_SMALL"))
    assert caught > 0
    assert a["tcpext"].get("TCPSackRecovery", 0) + a["tcpext"].get("TCPTimeouts", 0) > 0


def test_clean_link_runs_at_line_rate_on_the_fast_path() -> None:
    # 10 ms each way: with TSQ the RTT is not inflated by the sender's own queue, so a
    # 5 ms link's BDP (25 KB) no longer makes the receiver grow its 128 KiB buffer
    r = run_tcp_bulk(TcpBulkParams(nbytes=1_000_000, loss=0.0, corrupt=0.0, rate_bps=20_000_000,
                                   delay_ns=10_000_000))
    t = r["transfer"]
    assert t["sha256_ok"] and t["retrans_segs"] == 0
    assert t["fast_path_pct"] > 95
    assert 12.0 < t["goodput_mbps"] <= 20.0
    assert t["rcvbuf_final"] > 131072  # autotuning grew the receive buffer


def test_tso_and_hardware_gro_give_the_same_transfer_in_fewer_skbs() -> None:
    """--features 'tso on rx-gro-hw on': TCP builds super-skbs, the clean link carries
    them as trains, b's TCP takes skbs of up to 45 segments; the transfer and its timing match
    the run without offloads."""
    base = TcpBulkParams(nbytes=3_000_000, loss=0.0, corrupt=0.0, rate_bps=1_000_000_000,
                         delay_ns=1_000_000, queue_limit_pkts=1000)
    plain = run_tcp_bulk(base)["transfer"]
    r = run_tcp_bulk(replace(base, features=("tso", "on", "rx-gro-hw", "on")))
    t = r["transfer"]
    assert t["sha256_ok"] and t["retrans_segs"] == 0 and not r["errors"]
    assert t["data_segs_in"] >= 2000 and t["skbs_in"] * 8 < t["data_segs_in"]
    assert t["fast_path_pct"] > 95
    assert abs(t["seconds"] - plain["seconds"]) < 0.1 * plain["seconds"]
    # every wire frame was counted on the link, not just the trains
    assert r["links"]["a->b"]["tx_packets"] >= t["data_segs_in"]


def test_bad_arguments_are_clear_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for bad, msg in ((["--bytes", "0"], "--bytes must be at least 1"),
                     (["--bytes", "lots"], "bad size"),
                     (["--loss", "2"], "probability out of [0, 1]"),
                     (["--rate", "0"], "--rate must be a positive rate"),
                     (["--delay", "soon"], "argument --delay"),
                     (["--offered", "1mbit"], "--offered applies to --scenario frames"),
                     (["--scenario", "frames", "--bytes", "1k"], "--bytes applies to"),
                     (["--features", "tso maybe"], "not followed by 'on' or 'off'"),
                     (["--features", "warp on"], "bit name not found"),
                     (["--features", " "], "--features needs ethtool -K arguments"),
                     (["--scenario", "frames", "--features", "tso on"],
                      "--features applies to")):
        with pytest.raises(SystemExit) as exc:
            main(bad)
        assert exc.value.code == 2, bad
        assert msg in capsys.readouterr().err, bad


def test_a_dead_link_is_reported_not_raised() -> None:
    r = run_tcp_bulk(TcpBulkParams(nbytes=10_000, loss=1.0, time_limit_ns=200 * 10**9))
    assert not r["transfer"]["sha256_ok"]
    assert any("connection closed" in e or "incomplete" in e for e in r["errors"])


def test_inline_cpu_chunks_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CPU chunk that no other event precedes runs in place (SimLoop.run_inline_at)
    # instead of going through the heap: the report, event count included, is the same.
    from tuxnet.loop.sim import SimLoop

    params = TcpBulkParams(seed=5, nbytes=300_000, loss=0.02, corrupt=0.005,
                           rate_bps=100_000_000, delay_ns=1_000_000)
    real = SimLoop.run_inline_at
    ran_inline = 0

    def counting(self: SimLoop, when_ns: int) -> bool:
        nonlocal ran_inline
        ok = real(self, when_ns)
        ran_inline += ok
        return ok

    monkeypatch.setattr(SimLoop, "run_inline_at", counting)
    inline = run_tcp_bulk(params)
    assert ran_inline > 100  # the case is exercised
    monkeypatch.setattr(SimLoop, "run_inline_at", lambda self, when_ns: False)
    heap_only = run_tcp_bulk(params)
    assert json.dumps(inline, sort_keys=True) == json.dumps(heap_only, sort_keys=True)
