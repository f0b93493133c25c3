"""``tuxnet bpf verify OBJ.o [--sec S]`` and ``tuxnet bpf map dump OBJ.o MAP`` through
the ``tuxnet bpf`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import need
from xdp_progs import build_all, clang

from tuxnet.tools.bpf_cmd import main


@pytest.fixture(scope="module")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need(clang() is not None, "clang not installed (apt-get install -y clang llvm)")
    return build_all(tmp_path_factory.mktemp("bpf_obj_cli"))


def test_verify_object(objs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(objs["xdp_count"]), "--sec", "xdp"]) == 0
    out = capsys.readouterr().out
    assert "xdp" in out


def test_map_dump_object(objs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from tuxnet.bpf.elf import read_object

    obj = read_object(str(objs["xdp_count"]))
    name = obj.map_specs[0].name
    assert main(["map", "dump", str(objs["xdp_count"]), name]) == 0
    assert "Found" in capsys.readouterr().out
