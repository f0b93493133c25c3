"""`ip route` (and `ip addr`) against what iproute2 6.1 printed on a Linux 6.18 namespace.

``ip_iproute2_golden.json`` holds command sequences run with the real ``ip`` in a fresh
network namespace (lo, a veth pair d1/d0 up, a veth pair e1/e0 down, fixed MACs),
with the output and exit code of each command (IPv6 lines removed: tuxnet has no
IPv6). The same sequences run here against a tuxnet host with look-alike devices must
print the same bytes and return the same codes. ``link set`` steps are replayed as the
device layer would report them (NETDEV_UP / NETDEV_DOWN / NETDEV_CHANGE).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REFERENCE

from tuxnet.host import Host
from tuxnet.ipv4.devinet import inet_netdev_event, inet_state
from tuxnet.loop import SimLoop
from tuxnet.tools.ip_cmd import run as ip_run
from tuxnet.tools.procfs import read_proc

GOLDEN = Path(__file__).with_name("ip_iproute2_golden.json")
SAMPLES = REFERENCE / "samples"
UP, RUNNING_LOWER_UP, LOOPBACK, BCAST_MCAST = 0x1, 0x10040, 0x8, 0x1002


class FakeDev:
    """The attributes tuxnet.ipv4 and the ip tools read of a net_device."""

    def __init__(self, name: str, ifindex: int, flags: int, mtu: int, mac: str,
                 operstate: str, qdisc: str, iflink: int | None = None) -> None:
        self.name = name
        self.ifindex = ifindex
        self.flags = flags
        self.mtu = mtu
        self.dev_addr = bytes.fromhex(mac.replace(":", ""))
        self.broadcast = b"\0" * 6 if flags & LOOPBACK else b"\xff" * 6
        self.operstate = operstate
        self.qdisc = qdisc
        self.tx_queue_len = 1000
        if iflink is not None:
            self.iflink = iflink


def golden_host() -> Host:
    host = Host(SimLoop(), "golden")
    on = UP | RUNNING_LOWER_UP
    for dev in (FakeDev("lo", 1, LOOPBACK | on, 65536, "00:00:00:00:00:00", "UNKNOWN",
                        "noqueue"),
                FakeDev("d1", 2, BCAST_MCAST | on, 1500, "02:00:00:00:00:02", "UP", "noqueue", 3),
                FakeDev("d0", 3, BCAST_MCAST | on, 1500, "02:00:00:00:00:03", "UP", "noqueue", 2),
                FakeDev("e1", 4, BCAST_MCAST, 1500, "02:00:00:00:00:04", "DOWN", "noop", 5),
                FakeDev("e0", 5, BCAST_MCAST, 1500, "02:00:00:00:00:05", "DOWN", "noop", 4)):
        host.register_netdev(dev)
    return host


def link_set(host: Host, name: str, up: bool) -> None:
    """`ip link set NAME up|down` on a veth pair, as the device layer would notify it."""
    devs: dict[str, Any] = host.devices  # type: ignore[assignment]
    dev = devs[name]
    was = bool(dev.flags & UP)
    before = {n: d.flags & RUNNING_LOWER_UP for n, d in devs.items()}
    dev.flags = dev.flags | UP if up else dev.flags & ~UP
    if up:
        dev.qdisc = "noqueue"
    by_index = {d.ifindex: d for d in devs.values()}
    for d in devs.values():
        peer = getattr(d, "iflink", None)
        carrier = peer is None or bool(by_index[peer].flags & UP)
        if d.flags & UP and carrier:
            d.flags |= RUNNING_LOWER_UP
            d.operstate = "UNKNOWN" if d.flags & LOOPBACK else "UP"
        else:
            d.flags &= ~RUNNING_LOWER_UP
            d.operstate = "LOWERLAYERDOWN" if d.flags & UP else "DOWN"
    if up != was:
        inet_netdev_event(host, dev, "NETDEV_UP" if up else "NETDEV_DOWN")
    for n, d in devs.items():
        if (d.flags & RUNNING_LOWER_UP) != before[n] and d.flags & UP and not (n == name and up):
            inet_netdev_event(host, d, "NETDEV_CHANGE")


def ip(host: Host, cmd: str) -> tuple[str, int]:
    buf = io.StringIO()
    rc = ip_run(host, cmd.split(), buf)
    return buf.getvalue(), rc


def _scenarios() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text())
    return data["scenarios"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda s: s["name"])
def test_same_output_as_iproute2(scenario: dict[str, Any]) -> None:
    host = golden_host()
    mismatches = []
    for step in scenario["steps"]:
        if "do" in step:
            words = step["do"].split()
            if words[0] == "sysctl":
                key, value = words[-1].split("=")
                host.sysctl.set(key, int(value))
            else:
                link_set(host, words[2], words[3] == "up")
            continue
        cmd = step["ip"]
        got = (read_proc(host, cmd[4:]), 0) if cmd.startswith("cat ") else ip(host, cmd)
        if got != (step["out"], step["rc"]):
            mismatches.append(f"ip {cmd}\n--- iproute2 (rc={step['rc']}):\n{step['out']}"
                              f"--- tuxnet (rc={got[1]}):\n{got[0]}")
    assert not mismatches, "\n".join(mismatches)


def sample_host() -> tuple[Host, FakeDev]:
    """A host shaped like the capture of samples/ip_route.txt: veth0 10.50.0.1/24."""
    host = Host(SimLoop(), "sample")
    on = UP | RUNNING_LOWER_UP
    host.register_netdev(FakeDev("lo", 1, LOOPBACK | on, 65536, "00:00:00:00:00:00",
                                 "UNKNOWN", "noqueue"))
    veth = FakeDev("veth0", 2, BCAST_MCAST | on, 1500, "0a:e4:5e:c8:7f:2c", "UP", "tbf", 2)
    veth.link_netns = "nfr_obs2"  # type: ignore[attr-defined]
    veth.link_netnsid = 0  # type: ignore[attr-defined]
    host.register_netdev(veth)
    assert ip(host, "addr add 10.50.0.1/24 dev veth0") == ("", 0)
    return host, veth


def test_ip_route_sample() -> None:
    host, _ = sample_host()
    assert ip(host, "route")[0] == (SAMPLES / "ip_route.txt").read_text()


def test_ip_route_table_all_sample() -> None:
    host, _ = sample_host()
    want = [ln for ln in (SAMPLES / "ip_route_table_all.txt").read_text().splitlines()
            if ":" not in ln.split(" dev ")[0]]  # tuxnet has no IPv6 routes
    assert ip(host, "route show table all")[0].splitlines() == want


def test_proc_net_route_sample() -> None:
    host, _ = sample_host()
    assert read_proc(host, "/proc/net/route") == (SAMPLES / "proc_net_route.txt").read_text()


def test_proc_net_route_flags_and_columns() -> None:
    host, _ = sample_host()
    for cmd in ("route add default via 10.50.0.254 metric 100",
                "route add 10.60.0.1 dev veth0",
                "route add unreachable 10.70.0.0/16",
                "route add 10.80.0.0/16 via 10.50.0.2 advmss 1360 window 1000 rtt 10ms"):
        assert ip(host, cmd) == ("", 0)
    lines = read_proc(host, "/proc/net/route").splitlines()
    assert all(len(line) == 127 for line in lines)
    rows = [line.split() for line in lines[1:]]
    assert rows[0][:8] == ["veth0", "00000000", "FE00320A", "0003", "0", "0", "100", "00000000"]
    assert rows[2][:4] == ["veth0", "01003C0A", "00000000", "0005"]  # RTF_HOST
    assert rows[3][:4] == ["*", "0000460A", "00000000", "0201"]  # RTF_REJECT
    assert rows[4][8:] == ["1400", "1000", "10"]  # advmss + 40, window, rtt


def test_errors_and_exit_codes() -> None:
    host, _ = sample_host()
    cases = {
        "route add 10.50.0.0/24 dev veth0": ("RTNETLINK answers: File exists\n", 2),
        "route del 10.99.0.0/16": ("RTNETLINK answers: No such process\n", 2),
        "route add 10.9.0.0/16 via 10.1.1.1": ("Error: Nexthop has invalid gateway.\n", 2),
        "route add foo dev veth0": ('Error: any valid prefix is expected rather than "foo".\n',
                                    1),
        "route get 8.8.8.8": ("RTNETLINK answers: Network is unreachable\n", 2),
        "route add 10.9.0.0/16 dev nosuch": ('Cannot find device "nosuch"\n', 1),
        "route add 10.9.0.0/16 dev veth0 metric x":
            ('Error: argument "x" is wrong: "metric" value is invalid\n\n', 255),
        "route bogus": ('Command "bogus" is unknown, try "ip route help".\n', 255),
    }
    for cmd, want in cases.items():
        assert ip(host, cmd) == want, cmd


def test_route_get_shows_cache_line() -> None:
    host, _ = sample_host()
    assert ip(host, "route get 10.50.0.5") == (
        "10.50.0.5 dev veth0 src 10.50.0.1 uid 0 \n    cache \n", 0)
    assert ip(host, "route get 10.50.0.1") == (
        "local 10.50.0.1 dev lo src 10.50.0.1 uid 0 \n    cache <local> \n", 0)
    assert ip(host, "-o route get 10.50.0.5") == (
        "10.50.0.5 dev veth0 src 10.50.0.1 uid 0 \\    cache \n", 0)


def test_route_state_is_per_host() -> None:
    a, _ = sample_host()
    b, _ = sample_host()
    ip(a, "route add 10.99.0.0/16 via 10.50.0.2")
    assert "10.99.0.0/16" in ip(a, "route")[0]
    assert "10.99.0.0/16" not in ip(b, "route")[0]
    assert inet_state(a) is not inet_state(b)
