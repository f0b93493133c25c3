"""TCP over the whole simulated stack (SimNic, NAPI, GRO, IPv4, qdisc, link): GRO-merged
segments (CHECKSUM_PARTIAL) are taken as verified, the transfer is clean and byte-exact,
and the benchmark of it runs (--quick) and ends with its ratio lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from _udpnet import MS, two_hosts

from tuxnet.tcp.ipv4 import tcp_v4_init

ROOT = Path(__file__).resolve().parents[2]


def test_bulk_over_simnics_has_no_checksum_drops() -> None:
    net = two_hosts(rate_bps=1_000_000_000, delay_ns=1 * MS)
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    data = bytes(range(256)) * 1200  # 300 KB
    cli, srv, got = net.tcp_bulk(data, steps=2000)
    assert got == data
    rx = net.h2.mib
    assert rx.tcp.InCsumErrors == 0 and not net.h2.drop_counts and not net.h1.drop_counts
    assert net.h1.mib.tcp.RetransSegs == 0
    # the socket counts segments (tcp_segs_in: a GRO skb's gso_segs), Tcp InSegs skbs:
    # GRO merged some, so fewer skbs than segments reached TCP
    assert srv.data_segs_in == cli.data_segs_out
    assert rx.tcp.InSegs < srv.segs_in
    assert rx.tcpext.TCPHPHits >= 0.9 * (rx.tcp.InSegs - 2)  # all but the handshake


def test_bench_tcp_sim_quick() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_tcp_sim.py"),
                          "--quick"], capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout
    lines = out.strip().splitlines()
    ratios = [ln for ln in lines if ln.startswith("ratio:")]
    assert len(ratios) == 4 and lines[-4:] == ratios
    for ln in ratios:
        assert re.match(r"^ratio: sim_tcp_segs_per_s(_tso_gro_hw)? tuxnet/(ns3|nspy) = "
                        r"\d+\.\d+$", ln), ln
    fast = [ln for ln in lines if ln.startswith("receive fast path")]
    assert len(fast) == 1 and "single-segment skbs" in fast[0] and "44-segment" in fast[0]
    assert any("whole stack, offloads off" in ln for ln in lines)
    assert any("whole stack, TSO + rx-gro-hw" in ln for ln in lines)
