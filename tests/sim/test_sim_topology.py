"""Duplex links, the topology builder, per-link seeds and capture."""

from __future__ import annotations

from pathlib import Path

import pytest
from _simutil import ListSink, Recorder, frame

from tuxnet.loop import SimLoop
from tuxnet.sim import DuplexLink, Link, LinkConfig, Topology, derive_seed


def test_duplex_link_carries_both_ways() -> None:
    loop = SimLoop()
    a, b = Recorder(loop, "a"), Recorder(loop, "b")
    topo = Topology(loop, seed=1)
    wire = topo.link(a, b, rate_bps=100_000_000, delay_ns=1_000_000)
    assert isinstance(wire, DuplexLink)
    assert wire.link_from(a) is wire.ab and wire.link_from(b) is wire.ba
    assert wire.peer(a) is b and wire.peer(b) is a
    assert wire.send(a, frame(1))
    wire.link_from(b).send(frame(2, 100))
    loop.run()
    assert [(t, f) for t, f, _ in b.got] == [(1_120_000, frame(1))]
    assert [(t, f) for t, f, _ in a.got] == [(1_008_000, frame(2, 100))]
    assert b.got[0][2] is wire.ab and a.got[0][2] is wire.ba
    with pytest.raises(ValueError):
        wire.link_from(object())


def test_asymmetric_duplex_link() -> None:
    loop = SimLoop()
    a, b = Recorder(loop), Recorder(loop)
    topo = Topology(loop)
    down = LinkConfig(rate_bps=100_000_000, delay_ns=10_000)
    up = LinkConfig(rate_bps=10_000_000, delay_ns=10_000)
    wire = topo.link(a, b, down, reverse=up)
    wire.send(a, frame(1))
    wire.send(b, frame(2))
    loop.run()
    assert b.times == [130_000] and a.times == [1_210_000]


def test_params_override_a_config() -> None:
    loop = SimLoop()
    topo = Topology(loop)
    base = LinkConfig(rate_bps=1_000, delay_ns=5)
    wire = topo.link(Recorder(loop), Recorder(loop), base, delay_ns=7)
    assert wire.ab.config.rate_bps == 1_000 and wire.ab.config.delay_ns == 7
    link = Link(loop, base, delay_ns=9)
    assert link.config == LinkConfig(rate_bps=1_000, delay_ns=9)


def test_names_and_lookup() -> None:
    loop = SimLoop()
    topo = Topology(loop, seed=3)
    r = [Recorder(loop) for _ in range(4)]
    w0 = topo.link(r[0], r[1])
    w1 = topo.link(r[1], r[2], name="core")
    s = topo.simplex(r[3], name="feed")
    assert w0.name == "link0" and w1.name == "core"
    assert topo["core"] is w1 and topo["feed"] is s and len(topo) == 3
    assert [lk.name for lk in topo.all_links()] == ["link0.ab", "link0.ba", "core.ab",
                                                     "core.ba", "feed"]
    assert set(topo.stats()) == {"link0.ab", "link0.ba", "core.ab", "core.ba", "feed"}
    with pytest.raises(ValueError):
        topo.link(r[0], r[2], name="core")
    with pytest.raises(ValueError):
        topo.link(r[0], r[0])
    with pytest.raises(KeyError):
        topo["nope"]


def test_seeds_are_derived_from_topology_seed_and_name() -> None:
    loop = SimLoop()
    t1 = Topology(loop, seed=7)
    t2 = Topology(loop, seed=7)
    t2.link(Recorder(loop), Recorder(loop), name="other")  # added first: no effect
    w1 = t1.link(Recorder(loop), Recorder(loop), name="x")
    w2 = t2.link(Recorder(loop), Recorder(loop), name="x")
    assert w1.ab.seed == w2.ab.seed == derive_seed(7, "x", "ab")
    assert w1.ab.seed != w1.ba.seed
    w3 = Topology(loop, seed=8).link(Recorder(loop), Recorder(loop), name="x")
    assert w3.ab.seed != w1.ab.seed
    assert derive_seed(7, "x", "ab") == derive_seed(7, "x", "ab")
    assert derive_seed(7, "xa", "b") != derive_seed(7, "x", "ab")


def _topo_run(seed: int) -> list[tuple[int, bytes]]:
    loop = SimLoop()
    a, b = Recorder(loop), Recorder(loop)
    topo = Topology(loop, seed=seed)
    wire = topo.link(a, b, rate_bps=10_000_000, delay_ns=1_000_000, jitter_ns=200_000,
                     loss=0.05, duplicate=0.05, corrupt=0.05)
    for i in range(500):
        loop.call_at(i * 300_000, wire.send, a, frame(i, 300))
        loop.call_at(i * 300_000 + 1, wire.send, b, frame(i, 300))
    loop.run()
    return [(t, f) for t, f, _ in a.got + b.got]


def test_topology_runs_are_reproducible() -> None:
    assert _topo_run(1) == _topo_run(1)
    assert _topo_run(1) != _topo_run(2)


def test_capture_both_directions_in_time_order() -> None:
    loop = SimLoop()
    a, b = Recorder(loop), Recorder(loop)
    topo = Topology(loop)
    wire = topo.link(a, b, rate_bps=100_000_000, delay_ns=50_000)
    sink = ListSink()
    topo.capture(wire, sink)
    wire.send(a, frame(1))
    wire.send(a, frame(2))
    loop.call_at(60_000, wire.send, b, frame(3, 100))
    loop.run()
    assert [(ts, data) for ts, data, _ in sink.packets] == [
        (0, frame(1)), (60_000, frame(3, 100)), (120_000, frame(2))]
    only_ab = ListSink()
    topo.capture(wire.ab, only_ab)
    wire.send(b, frame(4))
    loop.run()
    assert only_ab.packets == []
    assert len(sink.packets) == 4


def test_capture_into_a_pcap_file(tmp_path: Path) -> None:
    from tuxnet.pcap import PcapWriter, read_pcap

    loop = SimLoop()
    topo = Topology(loop)
    wire = topo.link(Recorder(loop), Recorder(loop), rate_bps=1_000_000, delay_ns=1_000)
    path = tmp_path / "link.pcap"
    writer = PcapWriter(path)
    topo.capture(wire, writer)
    wire.send(wire.a, frame(1, 60))
    wire.send(wire.a, frame(2, 60))  # queued: leaves at 480 us
    loop.call_at(100_000, wire.send, wire.b, frame(3, 60))
    loop.run()
    writer.close()
    got = [(r.ts_ns, r.data, r.orig_len) for r in read_pcap(path)]
    assert got == [(0, frame(1, 60), 60), (100_000, frame(3, 60), 60),
                   (480_000, frame(2, 60), 60)]
