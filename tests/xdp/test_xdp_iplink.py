"""``ip link set dev DEV xdp obj FILE sec SEC`` / ``xdp off`` as a library function:
iproute2's grammar, errors and exit codes, and what ``ip link show`` prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from _xdputil import rig
from conftest import need
from xdp_progs import build_all, clang

from tuxnet.tools.ip_utils import IpError
from tuxnet.xdp import dev_xdp_prog
from tuxnet.xdp.iplink import ip_link_set_xdp, parse_xdp, xdp_link_flag, xdp_link_lines


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need(clang() is not None, "clang not installed (apt-get install -y clang llvm)")
    return build_all(tmp_path_factory.mktemp("xdp_objs"))


def test_parse() -> None:
    req, rest = parse_xdp(["xdpdrv", "obj", "f.o", "sec", "xdp", "verbose", "mtu", "1400"])
    assert (req.mode, req.obj, req.sec, req.verbose, rest) == ("drv", "f.o", "xdp", True,
                                                              ["mtu", "1400"])
    req, rest = parse_xdp(["xdp", "off"])
    assert req.off and rest == []
    for bad in (["xdp"], ["xdp", "obj"], ["xdp", "bogus"], ["xdp", "obj", "f.o", "sec"]):
        with pytest.raises(IpError) as e:
            parse_xdp(bad)
        assert e.value.rc == 255


def test_attach_replace_detach(objs: dict[str, Path]) -> None:
    r = rig()
    eth0 = r.nics[0]
    p = ip_link_set_xdp(r.host, ["dev", "eth0", "xdp", "obj", str(objs["xdp_count"]),
                                 "sec", "xdp"])
    assert p is not None and dev_xdp_prog(eth0) is p and p.name == "xdp_count"
    assert xdp_link_flag(eth0) == "xdp"
    assert xdp_link_lines(eth0) == [f"    prog/xdp id {p.id} "]
    assert xdp_link_lines(eth0, details=True)[0].endswith(f"name xdp_count tag {p.tag} ")
    with pytest.raises(IpError) as e:
        ip_link_set_xdp(r.host, ["eth0", "xdpdrv", "obj", str(objs["xdp_mac_swap"])])
    assert str(e.value) == "Error: XDP program already attached." and e.value.rc == 2
    q = ip_link_set_xdp(r.host, ["eth0", "xdpdrv", "obj", str(objs["xdp_mac_swap"])],
                        force=True)
    assert q is not None and dev_xdp_prog(eth0) is q and q.id != p.id
    assert ip_link_set_xdp(r.host, ["dev", "eth0", "xdp", "off"]) is None
    assert dev_xdp_prog(eth0) is None and xdp_link_flag(eth0) == "" and \
        xdp_link_lines(eth0) == []


def test_errors(objs: dict[str, Path], tmp_path: Path) -> None:
    r = rig()
    obj = str(objs["xdp_count"])
    cases = [
        (["dev", "eth9", "xdp", "obj", obj], 1, 'Cannot find device "eth9"'),
        (["eth0", "xdpgeneric", "obj", obj], 2, "generic"),
        (["eth0", "xdpoffload", "obj", obj], 2, "RTNETLINK answers: Operation not supported"),
        (["eth0", "xdp", "obj", str(tmp_path / "missing.o")], 2, "No such file"),
        (["eth0", "xdp", "obj", obj, "sec", "nope"], 2, "no program or section"),
        (["xdp", "off"], 255, '"dev" argument is required'),
    ]
    for argv, rc, text in cases:
        with pytest.raises(IpError) as e:
            ip_link_set_xdp(r.host, argv)
        assert e.value.rc == rc and text in str(e.value), (argv, str(e.value))
