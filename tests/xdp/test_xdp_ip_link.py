"""``tuxnet ip link set dev DEV xdp obj FILE sec SEC`` / ``xdp off`` through the ip tool,
and ``ip link show`` printing the attached program."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import _xdputil  # noqa: F401 - puts tests/bpf (xdp_progs) on sys.path
import pytest
from conftest import need
from xdp_progs import build_all, clang

from tuxnet.tools.demo import demo_host
from tuxnet.tools.ip_cmd import run
from tuxnet.xdp import dev_xdp_prog


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need(clang() is not None, "clang not installed (apt-get install -y clang llvm)")
    return build_all(tmp_path_factory.mktemp("xdp_objs_ip"))


def _ip(host: object, *argv: str) -> tuple[int, str]:
    out = StringIO()
    rc = run(host, list(argv), out)  # type: ignore[arg-type]
    return rc, out.getvalue()


def test_attach_show_detach(objs: dict[str, Path]) -> None:
    host = demo_host()
    obj = str(objs["xdp_count"])
    rc, text = _ip(host, "link", "set", "dev", "eth0", "xdp", "obj", obj, "sec", "xdp")
    assert rc == 0, text
    dev = host.devices["eth0"]
    assert dev_xdp_prog(dev) is not None
    rc, text = _ip(host, "link", "show", "dev", "eth0")
    assert "mtu 1500 xdp qdisc" in text and "    prog/xdp id " in text
    rc, text = _ip(host, "link", "set", "dev", "eth0", "xdp", "obj", obj, "sec", "xdp")
    assert rc == 2 and "XDP program already attached" in text
    rc, text = _ip(host, "link", "set", "dev", "eth0", "xdp", "off")
    assert rc == 0, text
    assert dev_xdp_prog(dev) is None
    rc, text = _ip(host, "link", "show", "dev", "eth0")
    assert " xdp " not in text and "prog/xdp" not in text
