"""``tuxnet cat``: /proc files of a host, /proc/net/dev byte for byte as the sample."""

from __future__ import annotations

import io

import pytest
from conftest import REFERENCE

from tuxnet.cli import main as tuxnet_main
from tuxnet.core.dev import dev_open
from tuxnet.drivers.loopback import loopback_init
from tuxnet.drivers.veth import veth_pair
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.tools.cat_cmd import run
from tuxnet.tools.demo import DEMO_NCPUS, demo_host

SAMPLES = REFERENCE / "samples"


def cat(host: Host, *paths: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run(host, list(paths), out, err)
    return rc, out.getvalue(), err.getvalue()


def test_proc_net_dev_matches_sample() -> None:
    loop = SimLoop()
    host = Host(loop, "obs1")
    lo = loopback_init(host)
    lo.lstats_packets, lo.lstats_bytes = 267683, 8538520571
    other = Host(loop, "nfr_obs2")
    v0, v1 = veth_pair(host, "veth0", other, "veth1")
    dev_open(v0)
    v0.tx_bytes_sw, v0.tx_packets_sw = 198560263, 102379
    v1.tx_bytes_sw, v1.tx_packets_sw = 3347916, 50725
    assert cat(host, "/proc/net/dev") == (0, (SAMPLES / "proc_net_dev_obs1.txt").read_text(),
                                          "")


def test_demo_host_files() -> None:
    host = demo_host(traffic=True)
    rc, out, _ = cat(host, "/proc/net/softnet_stat")
    rows = [line.split() for line in out.splitlines()]
    assert rc == 0 and len(rows) == DEMO_NCPUS and all(len(r) == 15 for r in rows)
    assert [int(r[12], 16) for r in rows] == list(range(DEMO_NCPUS))  # cpu index column
    assert sum(int(r[0], 16) for r in rows) > 0  # processed
    rc, out, _ = cat(host, "/proc/net/dev", "/proc/net/snmp")
    assert rc == 0 and "  eth0: " in out and out.count("Ip: ") == 2
    assert cat(host, "/proc/net/arp")[1].startswith("IP address       HW type")
    assert cat(host, "/proc/sys/net/core/netdev_budget")[1] == "300\n"


def test_unknown_file() -> None:
    host = demo_host()
    rc, out, err = cat(host, "/proc/net/foo", "/proc/net/dev")
    assert rc == 1 and err == "cat: /proc/net/foo: No such file or directory\n"
    assert out.startswith("Inter-|")  # the other file is still printed


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["cat", "/proc/net/dev"]) == 0
    assert "    lo: " in capsys.readouterr().out
    assert tuxnet_main(["cat", "/proc/net/nope"]) == 1
    assert capsys.readouterr().err == "cat: /proc/net/nope: No such file or directory\n"
