"""`tuxnet sysctl`: procps sysctl grammar, output and errors over a default host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuxnet.cli import main as tuxnet_main
from tuxnet.tools.sysctl_cmd import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv), prog="tuxnet sysctl")
    out, err = capsys.readouterr()
    return rc, out, err


def test_read_names(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "net.ipv4.tcp_rmem", "net/core/somaxconn")
    assert rc == 0 and err == ""
    assert out == "net.ipv4.tcp_rmem = 4096\t131072\t33554432\nnet.core.somaxconn = 4096\n"
    assert run(capsys, "-n", "net.ipv4.ip_default_ttl") == (0, "64\n", "")
    assert run(capsys, "-N", "net.ipv4.ip_default_ttl") == (0, "net.ipv4.ip_default_ttl\n", "")
    assert run(capsys, "-b", "-n", "net.ipv4.ip_default_ttl") == (0, "64", "")


def test_all_lists_the_namespace(capsys: pytest.CaptureFixture[str],
                                 reference_dir: Path) -> None:
    rc, out, _ = run(capsys, "-a")
    assert rc == 0
    lines = out.splitlines()
    sample = (reference_dir / "samples" / "sysctl_net_netns.txt").read_text().splitlines()
    for line in sample:
        if ".veth0." in line or line.startswith(("net.core.rmem_max", "net.core.wmem_max",
                                                  "net.ipv4.tcp_rmem", "net.ipv4.tcp_a",
                                                  "net.ipv4.tcp_congestion_control")):
            continue
        assert line in lines, line
    assert "net.ipv4.neigh.lo.retrans_time = 100" not in lines
    _, deprecated, _ = run(capsys, "-a", "--deprecated")
    assert "net.ipv4.neigh.lo.retrans_time = 100" in deprecated.splitlines()
    _, filtered, _ = run(capsys, "-a", "-r", r"^net\.ipv4\.tcp_.*mem$")
    assert filtered == ("net.ipv4.tcp_mem = 187500\t250000\t375000\n"
                        "net.ipv4.tcp_rmem = 4096\t131072\t33554432\n"
                        "net.ipv4.tcp_wmem = 4096\t16384\t4194304\n")


def test_directory_read(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "net.ipv4.conf.lo")
    assert rc == 0
    assert out.splitlines()[0] == "net.ipv4.conf.lo.accept_local = 0"
    assert "net.ipv4.conf.lo.disable_xfrm = 1" in out.splitlines()


def test_write_echoes_as_given(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-w", "net.ipv4.tcp_rmem=4096 87380 6291456") == \
        (0, "net.ipv4.tcp_rmem = 4096 87380 6291456\n", "")
    assert run(capsys, "net.core.netdev_budget=600") == (0, "net.core.netdev_budget = 600\n", "")
    assert run(capsys, "-q", "-w", "net.core.netdev_budget=600") == (0, "", "")


def test_errors_are_sysctls(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "net.foo") == (
        1, "", "sysctl: cannot stat /proc/sys/net/foo: No such file or directory\n")
    assert run(capsys, "-w", "net.ipv4.tcp_sack=yes") == (
        1, "", 'sysctl: setting key "net.ipv4.tcp_sack": Invalid argument\n')
    assert run(capsys, "-w", "net.ipv4.tcp_available_congestion_control=reno") == (
        1, "", 'sysctl: setting key "net.ipv4.tcp_available_congestion_control": '
               "Operation not permitted\n")
    assert run(capsys, "-w", "net.ipv4.tcp_congestion_control=vegas") == (
        1, "", 'sysctl: setting key "net.ipv4.tcp_congestion_control": '
               "No such file or directory\n")
    assert run(capsys, "-w", "net.ipv4.tcp_sack") == (
        1, "", 'sysctl: "net.ipv4.tcp_sack" must be of the form name=value\n')
    rc, out, err = run(capsys)
    assert rc == 1 and "no variables specified" in err
    # one bad key does not stop the others; -e hides unknown keys
    rc, out, err = run(capsys, "net.foo", "net.ipv4.tcp_sack")
    assert (rc, out) == (1, "net.ipv4.tcp_sack = 1\n") and "net/foo" in err
    assert run(capsys, "-e", "net.foo", "net.ipv4.tcp_sack") == (0, "net.ipv4.tcp_sack = 1\n", "")
    rc, _, err = run(capsys, "-a", "-r", "(")
    assert rc == 1 and "bad pattern" in err


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "--json", "net.ipv4.tcp_rmem", "net.ipv4.tcp_congestion_control",
                       "net.core.rps_sock_flow_entries=1000")
    assert rc == 0 and err == ""
    assert json.loads(out) == {"net.ipv4.tcp_rmem": [4096, 131072, 33554432],
                               "net.ipv4.tcp_congestion_control": "cubic",
                               "net.core.rps_sock_flow_entries": 1024}
    rc, out, _ = run(capsys, "--json", "-a")
    doc = json.loads(out)
    assert doc["net.ipv4.ip_local_port_range"] == [32768, 60999]
    assert len(doc) > 300


def test_load_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "sysctl.conf"
    conf.write_text("# tuning\nnet.core.somaxconn = 1024\n\n; other\n"
                    "-net.ipv4.not_there = 1\nnet.ipv4.tcp_sack=0\n")
    assert run(capsys, "-p", str(conf)) == (
        0, "net.core.somaxconn = 1024\nnet.ipv4.tcp_sack = 0\n", "")
    rc, _, err = run(capsys, "-p", str(tmp_path / "missing.conf"))
    assert rc == 1 and "cannot open" in err


def test_through_the_tuxnet_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["sysctl", "-n", "net.core.netdev_budget"]) == 0
    assert capsys.readouterr().out == "300\n"
