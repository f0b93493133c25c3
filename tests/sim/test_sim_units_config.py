"""tc-style unit parsing and parameter validation (bad input -> ValueError)."""

from __future__ import annotations

from typing import Any

import pytest

from tuxnet.loop import SimLoop
from tuxnet.sim import GilbertElliott, Link, LinkConfig, Topology, parse_rate, parse_size
from tuxnet.sim import parse_time as pt


@pytest.mark.parametrize(("text", "bps"), [
    ("100mbit", 100_000_000),
    ("10gbit", 10_000_000_000),
    ("1Gbit", 1_000_000_000),
    ("1.5mbit", 1_500_000),
    ("64kbit", 64_000),
    ("1mibit", 1_048_576),
    ("1kibit", 1_024),
    ("8000", 8_000),  # a bare number is bit/s
    ("8000bit", 8_000),
    ("1mbps", 8_000_000),  # bps = bytes per second
    ("1MBps", 8_000_000),
    ("2tbit", 2_000_000_000_000),
    (1_000, 1_000),
])
def test_parse_rate(text: str | int, bps: int) -> None:
    assert parse_rate(text) == bps


@pytest.mark.parametrize(("text", "ns"), [
    ("1ms", 1_000_000),
    ("50us", 50_000),
    ("2s", 2_000_000_000),
    ("1.5msec", 1_500_000),
    ("10usecs", 10_000),
    ("250ns", 250),
    ("100", 100_000),  # a bare number is microseconds (tc(8) TIMES)
    ("0.1SEC", 100_000_000),
    (42, 42),
])
def test_parse_time(text: str | int, ns: int) -> None:
    assert pt(text) == ns


@pytest.mark.parametrize(("text", "size"), [
    ("1514", 1514), ("1514b", 1514), ("64kb", 65_536), ("64k", 65_536),
    ("1mb", 1_048_576), ("1mbit", 131_072), ("1g", 1 << 30),
])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["", "fast", "10 furlongs", "-5mbit", "1e999mbit", "mbit",
                                 "1.2.3mbit", "nan"])
def test_parse_rate_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(bad)


@pytest.mark.parametrize("bad", ["1 fortnight", "-1ms", "ms", "1mbit"])
def test_parse_time_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        pt(bad)


def test_parse_rejects_negative_ints_and_bools() -> None:
    with pytest.raises(ValueError):
        pt(-1)
    with pytest.raises(ValueError):
        parse_rate(True)
    with pytest.raises(ValueError):
        parse_size("12parsecs")


@pytest.mark.parametrize("kwargs", [
    {"rate_bps": 0},
    {"rate_bps": -1},
    {"rate_bps": 1.5},
    {"delay_ns": -1},
    {"jitter_ns": -5},
    {"jitter_dist": "pareto"},
    {"loss": -0.1},
    {"loss": 1.5},
    {"loss": float("nan")},
    {"loss": "0.1"},
    {"duplicate": 2.0},
    {"corrupt": -1e-9},
    {"reorder": 1.01},
    {"reorder": 0.1},  # needs some delay (q_netem.c)
    {"reorder": 0.1, "delay_ns": 10, "reorder_delay_ns": 10},
    {"reorder": 0.1, "delay_ns": 10, "reorder_gap": 0},
    {"queue_limit_pkts": -1},
    {"queue_limit_bytes": -1},
    {"queue_limit_pkts": True},
    {"qdisc": "fq_codel"},
    {"overhead_bytes": -24},
    {"codel_target_ns": 0},
    {"codel_interval_ns": -1},
    {"loss": 0.1, "gilbert": GilbertElliott(p=0.1)},
    {"gilbert": 0.1},
])
def test_bad_link_parameters(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LinkConfig(**kwargs)
    with pytest.raises(ValueError):
        Link(SimLoop(), **kwargs)
    with pytest.raises(ValueError):
        Topology(SimLoop()).link(object(), object(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("args", [(-0.1,), (1.1,), (0.1, 2.0), (0.1, 0.5, -1.0),
                                  (0.1, 0.5, 1.0, 1.5), (float("inf"),)])
def test_bad_gilbert_parameters(args: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        GilbertElliott(*args)


def test_bad_seeds() -> None:
    with pytest.raises(ValueError):
        Link(SimLoop(), seed="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Topology(SimLoop(), seed=1.0)  # type: ignore[arg-type]


def test_defaults_follow_linux() -> None:
    c = LinkConfig()
    assert c.queue_limit_pkts == 1000  # txqueuelen
    assert c.qdisc == "pfifo"
    assert (c.codel_target_ns, c.codel_interval_ns) == (5_000_000, 100_000_000)
    ge = GilbertElliott(p=0.2)
    assert ge.r_eff == pytest.approx(0.8)  # tc: r defaults to 1-p
    assert (ge.one_minus_h, ge.one_minus_k) == (1.0, 0.0)
    assert ge.loss_rate() == pytest.approx(0.2)
