"""``tuxnet xdp run`` on a pcap built here, with the C programs of tests/bpf/progs
(compiled by clang: a failure under CI, a skip elsewhere when clang is missing)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from _xdputil import TESTS  # noqa: F401  (puts tests/bpf on sys.path)
from conftest import need
from xdp_progs import FRAMES, build_all, clang

from tuxnet import cli
from tuxnet.pcap import PcapWriter, read_pcap
from tuxnet.xdp.run import run_capture

NAMES = ("tcp80", "tcp22", "udp53", "sctp", "arp", "vlan_tcp80")


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need(clang() is not None, "clang not installed (apt-get install -y clang llvm)")
    return build_all(tmp_path_factory.mktemp("xdp_objs"))


@pytest.fixture()
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "in.pcap"
    with PcapWriter(path) as w:
        for i, name in enumerate(NAMES):
            w.write_packet(1_000_000 * i, FRAMES[name])
    return path


def xdp(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = cli.main(["xdp", *argv])
    return rc, out.getvalue(), err.getvalue()


def test_port_filter_json_one_record_per_frame(objs: dict[str, Path], capture: Path,
                                               tmp_path: Path) -> None:
    out = tmp_path / "out.pcap"
    rc, text, err = xdp("run", str(objs["xdp_port_filter"]), "--pcap", str(capture),
                        "--out", str(out), "--json")
    assert rc == 0, err
    doc = json.loads(text)
    recs = doc["frames"]
    assert [r["index"] for r in recs] == list(range(len(NAMES)))
    actions = {name: r["action"] for name, r in zip(NAMES, recs, strict=True)}
    assert actions == {"tcp80": "XDP_DROP", "tcp22": "XDP_PASS", "udp53": "XDP_PASS",
                       "sctp": "XDP_PASS", "arp": "XDP_PASS", "vlan_tcp80": "XDP_PASS"}
    for name, r in zip(NAMES, recs, strict=True):
        if r["action"] == "XDP_PASS":
            assert bytes.fromhex(r["out_hex"]) == FRAMES[name] and r["out"] == "stack"
            assert r["len_out"] == len(FRAMES[name])
        else:
            assert (r["len_out"], r["out_hex"], r["out"]) == (0, "", None)
    assert doc["counts"]["XDP_DROP"] == 1 and doc["counts"]["XDP_PASS"] == 5
    assert doc["ethtool"]["rx_xdp_drop"] == 1
    written = [rec.data for rec in read_pcap(out)]
    assert written == [FRAMES[n] for n in NAMES if n != "tcp80"]


def test_mac_swap_text_report_and_rewritten_output(objs: dict[str, Path], capture: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "tx.pcap"
    rc, text, _ = xdp("run", str(objs["xdp_mac_swap"]), "--pcap", str(capture),
                      "--out", str(out))
    assert rc == 0
    assert "XDP_TX        6" in text and f"wrote 6 frames (sent on or passed up) to {out}" \
        in text
    for rec, name in zip(read_pcap(out), NAMES, strict=True):
        f = FRAMES[name]
        assert rec.data == f[6:12] + f[0:6] + f[12:]


def test_adjust_head_and_redirect_through_the_library(objs: dict[str, Path],
                                                      capture: Path) -> None:
    rep = run_capture(objs["xdp_vlan"], capture, "xdp_vlan_push")
    r0 = rep.frames[0]
    f = FRAMES["tcp80"]
    assert r0.action == "XDP_PASS" and r0.data == f[:12] + b"\x81\x00\x00\x2a" + f[12:]
    rep = run_capture(objs["xdp_redirect"], capture, "xdp_redirect_devmap",
                      map_sets=[("tx_ports", 1, 2)])  # dst MAC ..:01 -> key 1 -> eth1
    assert [(r.action, r.out) for r in rep.frames][:2] == [("XDP_REDIRECT", "eth1")] * 2
    assert rep.frames[0].data == f


def test_errors_exit_1(objs: dict[str, Path], capture: Path) -> None:
    rc, _, err = xdp("run", str(objs["xdp_count"]), "--sec", "nope", "--pcap", str(capture))
    assert rc == 1 and "no program or section 'nope'" in err
    rc, _, err = xdp("run", str(objs["xdp_sections"]), "--sec", "xdp_on_devmap",
                     "--pcap", str(capture))
    assert rc == 1 and "devmap/cpumap entry" in err
    rc, _, err = xdp("run", str(objs["xdp_count"]), "--pcap", str(capture),
                     "--map-set", "nomap:1:2")
    assert rc == 1 and "no map 'nomap'" in err
    assert xdp("bogus")[0] == 2
