"""`ip addr`: the samples' layout (text and -j), the grammar's errors and exit codes.

More sequences are compared byte for byte with iproute2 6.1 in test_ip_route.py (the
golden file covers both objects)."""

from __future__ import annotations

import io
import json

from conftest import REFERENCE

from tuxnet.host import Host
from tuxnet.ipv4.devinet import inet_state
from tuxnet.loop import SimLoop
from tuxnet.tools.ip_cmd import run as ip_run
from tuxnet.wire.addr import ip_int

SAMPLES = REFERENCE / "samples"


class FakeDev:
    def __init__(self, name: str, ifindex: int, flags: int, mtu: int, mac: str,
                 operstate: str, qdisc: str) -> None:
        self.name = name
        self.ifindex = ifindex
        self.flags = flags
        self.mtu = mtu
        self.dev_addr = bytes.fromhex(mac.replace(":", ""))
        self.broadcast = b"\0" * 6 if flags & 0x8 else b"\xff" * 6
        self.operstate = operstate
        self.qdisc = qdisc
        self.tx_queue_len = 1000


def sample_host() -> Host:
    """The namespace of samples/ip_addr.txt: lo and veth0 (peer in netns nfr_obs2)."""
    host = Host(SimLoop(), "sample")
    host.register_netdev(FakeDev("lo", 1, 0x8 | 0x1 | 0x10040, 65536, "00:00:00:00:00:00",
                                 "UNKNOWN", "noqueue"))
    veth = FakeDev("veth0", 2, 0x1002 | 0x1 | 0x10040, 1500, "0a:e4:5e:c8:7f:2c", "UP", "tbf")
    veth.iflink = 2  # type: ignore[attr-defined]  # the peer's ifindex in its namespace
    veth.link_netns = "nfr_obs2"  # type: ignore[attr-defined]
    veth.link_netnsid = 0  # type: ignore[attr-defined]
    host.register_netdev(veth)
    assert ip(host, "addr add 10.50.0.1/24 dev veth0") == ("", 0)
    return host


def ip(host: Host, cmd: str) -> tuple[str, int]:
    buf = io.StringIO()
    rc = ip_run(host, cmd.split(), buf)
    return buf.getvalue(), rc


def _without_inet6(lines: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for line in lines:
        if skip and line.startswith("       valid_lft"):
            skip = False
            continue
        skip = line.startswith("    inet6 ")
        if not skip:
            out.append(line)
    return out


def test_ip_addr_sample_layout() -> None:
    want = _without_inet6((SAMPLES / "ip_addr.txt").read_text().splitlines())
    assert ip(sample_host(), "addr")[0].splitlines() == want


def test_ip_j_addr_sample() -> None:
    want = json.loads((SAMPLES / "ip_-j_addr.json").read_text())
    for link in want:
        link["addr_info"] = [a for a in link["addr_info"] if a["family"] == "inet"]
    out, rc = ip(sample_host(), "-j addr")
    assert rc == 0
    assert out == json.dumps(want, separators=(",", ":")) + "\n"


def test_show_one_device_and_errors() -> None:
    host = sample_host()
    out, rc = ip(host, "addr show dev lo")
    assert rc == 0 and out.startswith("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue")
    assert ip(host, "addr show veth0")[0] == ip(host, "addr show dev veth0")[0]
    cases = {
        "addr show dev nosuch": ('Device "nosuch" does not exist.\n', 1),
        "addr add 10.50.0.1/24 dev veth0": ("Error: ipv4: Address already assigned.\n", 2),
        "addr del 10.50.0.9/24 dev veth0": ("Error: ipv4: Address not found.\n", 2),
        "addr add 10.0.0.8/24": ('Not enough information: "dev" argument is required.\n', 1),
        "addr add foo/24 dev veth0": ('Error: any valid prefix is expected rather than '
                                      '"foo/24".\n', 1),
        "addr add 10.0.0.9/24 dev nosuch": ('Cannot find device "nosuch"\n', 1),
        "addr add 10.0.0.9/24 dev veth0 scope bogus":
            ('Error: argument "bogus" is wrong: invalid scope value.\n', 255),
        "addr add 10.0.0.9/24 dev veth0 bogus":
            ('Error: either "local" is duplicate, or "bogus" is a garbage.\n', 255),
        "addr add 10.50.0.9/24 dev veth0 scope link": ("Error: ipv4: Invalid scope value.\n", 2),
        "addr flush": ("Flush requires arguments.\n", 1),
        "addr foo": ('Command "foo" is unknown, try "ip address help".\n', 255),
    }
    for cmd, want in cases.items():
        assert ip(host, cmd) == want, cmd


def test_secondary_and_wildcard_delete() -> None:
    host = sample_host()
    assert ip(host, "addr add 10.50.0.7/24 brd + dev veth0 label veth0:1") == ("", 0)
    out = ip(host, "addr show dev veth0")[0]
    assert "    inet 10.50.0.7/24 brd 10.50.0.255 scope global secondary veth0:1\n" in out
    out, rc = ip(host, "addr del 10.50.0.7 dev veth0")
    assert rc == 0 and out.startswith("Warning: Executing wildcard deletion")
    assert "10.50.0.7" not in ip(host, "addr")[0]


def test_oneline_and_flush() -> None:
    host = sample_host()
    assert ip(host, "-o addr show dev veth0") == (
        "2: veth0    inet 10.50.0.1/24 scope global veth0\\       valid_lft forever "
        "preferred_lft forever\n", 0)
    assert ip(host, "-s addr flush dev veth0") == (
        "\n*** Round 1, deleting 1 addresses ***\n*** Flush is complete after 1 round ***\n", 0)
    assert ip(host, "-s addr flush dev veth0") == ("Nothing to flush.\n", 0)
    st = inet_state(host)
    assert st.inet_select_addr(host.devices["veth0"], 0, 0) == 0  # type: ignore[arg-type]
    assert ip(host, "route")[0] == ""
    assert st.ip_dev_find(ip_int("10.50.0.1")) is None
