"""The router-chain scenario and its traceroute: every hop found, the destination by
port unreachable, traceroute's own output format, determinism per seed, silent and
unreachable hops."""

from __future__ import annotations

import re

import pytest

from tuxnet.ipv4.fib_semantics import FibConfig
from tuxnet.ipv4.inet import ip_state
from tuxnet.netfilter import NF_DROP, NF_INET_LOCAL_OUT, NfHookOps, nf_register_net_hook
from tuxnet.scenarios.routers import (
    Traceroute,
    _ensure_udp,
    build_chain,
    format_traceroute,
    run_traceroute,
)
from tuxnet.wire.addr import ip_int

_LINE = re.compile(r"^ ?\d{1,2}  (\d+\.\d+\.\d+\.\d+)(  \d+\.\d{3} ms){3}$")


def test_traceroute_finds_every_hop() -> None:
    report = run_traceroute(3, 1)
    assert report["reached"] and report["dst"] == "10.0.3.2"
    addrs = [{p["addr"] for p in hop["probes"]} for hop in report["hops"]]
    assert addrs == [{"10.0.0.1"}, {"10.0.1.2"}, {"10.0.2.2"}, {"10.0.3.2"}]
    text = format_traceroute(report)
    lines = text.splitlines()
    assert lines[0] == "traceroute to 10.0.3.2 (10.0.3.2), 30 hops max, 60 byte packets"
    assert len(lines) == 5 and text.endswith("\n")
    for ttl, line in enumerate(lines[1:], start=1):
        m = _LINE.match(line)
        assert m is not None, line
        assert line.startswith(f"{ttl:2d}  ")
    # RTTs grow with the distance (virtual time: links, serialisation, CPU costs)
    rtts = [min(p["rtt_ms"] for p in hop["probes"]) for hop in report["hops"]]
    assert rtts == sorted(rtts) and rtts[0] > 0.1
    c = report["counters"]
    for name in ("r1", "r2", "r3"):
        assert c[name]["IcmpOutTimeExcds"] == 3 and c[name]["IpInHdrErrors"] == 3
    assert c["r1"]["IpForwDatagrams"] == 18  # 9 probes on and 9 ICMP errors back
    assert c["dest"]["IcmpOutDestUnreachs"] == 3
    assert c["sender"]["IcmpInTimeExcds"] == 9 and c["sender"]["IcmpInDestUnreachs"] == 3


def test_traceroute_is_deterministic_per_seed() -> None:
    a = run_traceroute(5, 7)
    b = run_traceroute(5, 7)
    assert a == b and len(a["hops"]) == 6
    c = run_traceroute(5, 8)
    assert [h["probes"][0]["addr"] for h in c["hops"]] == [
        h["probes"][0]["addr"] for h in a["hops"]]
    assert format_traceroute(a) != format_traceroute(c)  # jitter and ARP timing move


def test_silent_hop_prints_stars() -> None:
    chain = build_chain(3, jitter_ns=0)
    _ensure_udp(chain.dest)
    # r2 sends no ICMP at all (an OUTPUT drop, as `iptables -A OUTPUT -p icmp -j DROP`)
    nf_register_net_hook(chain.routers[1], NfHookOps(lambda _p, _s, _st: NF_DROP,
                                                     NF_INET_LOCAL_OUT))
    tr = Traceroute(chain.sender, chain.dest_addr)
    chain.loop.call_soon(tr.start)
    chain.run(60 * 1_000_000_000)
    assert tr.done and tr.reached
    hops = tr.hops()
    assert [p["addr"] for p in hops[1]["probes"]] == [None, None, None]
    text = format_traceroute({"dst": "10.0.3.2", "max_hops": 30, "packet_len": 60,
                              "hops": hops})
    assert text.splitlines()[2] == " 2  * * *"


def test_unreachable_network_stops_with_annotation() -> None:
    chain = build_chain(2)
    ip_state(chain.routers[0]).inet.route_del(FibConfig(dst=ip_int("10.0.2.0"), plen=24))
    tr = Traceroute(chain.sender, chain.dest_addr)
    chain.loop.call_soon(tr.start)
    chain.run(20 * 1_000_000_000)
    assert tr.done and not tr.reached
    (hop,) = tr.hops()
    answered = [p for p in hop["probes"] if p["addr"] is not None]
    assert {p["addr"] for p in answered} == {"10.0.0.1"}
    assert answered and all(p["note"] == "!N" for p in answered)
    # ip_error and icmp_ratelimit draw on the same inet_peer tokens: 2 of 3 answered
    assert len(answered) == 2
    line = format_traceroute({"dst": "10.0.2.2", "max_hops": 30, "packet_len": 60,
                              "hops": tr.hops()}).splitlines()[-1]
    assert re.fullmatch(r" 1  10\.0\.0\.1  \d+\.\d{3} ms !N  \d+\.\d{3} ms !N \*", line), line


def test_hops_bounds() -> None:
    with pytest.raises(ValueError):
        build_chain(0)
