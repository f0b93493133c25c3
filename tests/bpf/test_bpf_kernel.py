"""Differential tests: the Linux kernel (bpf(2) through ctypes) as the oracle.

Each XDP program of tests/bpf/progs runs in the kernel (BPF_PROG_TEST_RUN) and in
tuxnet (interpreter + xdp_run) on the same frames; the return value, the output bytes,
the metadata and, afterwards, every map's contents must be the same. The XDP helpers'
limits are probed the same way, and small assembled programs are given to the kernel's
verifier and to tuxnet's, which must agree on accept/reject (and on the message).

Needs root and bpf(2): under CI=true an unusable bpf(2) is a failure (``need``).
"""

from __future__ import annotations

import errno
import importlib.util
import os
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import need
from xdp_progs import FRAMES, build_all, clang

from tuxnet.bpf.asm import assemble
from tuxnet.bpf.elf import load_object, read_object
from tuxnet.bpf.kernel import (
    KernelError,
    KernelMap,
    KernelObject,
    KernelProgram,
    kernel_available,
    possible_cpus,
    prog_load,
)
from tuxnet.bpf.maps import XskMap
from tuxnet.bpf.objspec import BpfObject, MapSpec
from tuxnet.bpf.verifier import XDP, verify
from tuxnet.bpf.xdp_run import XdpRunner, map_factory

AF_XDP = 44  # include/linux/socket.h


@pytest.fixture(scope="module")
def kernel() -> None:
    ok, why = kernel_available()
    need(ok, f"the kernel's bpf(2) is not usable here: {why}")


@pytest.fixture(scope="module")
def objs(kernel: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need(clang() is not None, "clang is needed to build tests/bpf/progs (apt-get install "
         "clang llvm)")
    need(importlib.util.find_spec("elftools") is not None,
         "pyelftools is needed to read ELF objects (pip install 'tuxnet[elf]')")
    return build_all(tmp_path_factory.getbasetemp() / "bpf_progs")


@pytest.fixture
def on_cpu0() -> Iterator[None]:
    """Run on CPU 0, so the kernel's per-CPU map writes land where tuxnet's (cpu=0) do."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# --- the differential runs ---------------------------------------------------------------

def _lpm(prefix: str, bits: int) -> bytes:
    return struct.pack("<I", bits) + bytes(int(x) for x in prefix.split("."))


Setup = Callable[[Any, Any], None]  # (tuxnet object maps, kernel maps) -> None


def _blocklist(tux: Any, ker: Any) -> None:
    for maps in (tux, ker):
        maps["blocklist"].update(_lpm("192.168.1.0", 24), bytes(8))
        maps["blocklist"].update(_lpm("10.200.0.0", 16), struct.pack("<Q", 100))


def _tx_ports(tux: Any, ker: Any) -> None:
    for maps in (tux, ker):  # ifindex 1 (lo) exists in every network namespace
        maps["tx_ports"].update(struct.pack("<I", 1), struct.pack("<I", 1))
        maps["tx_ports"].update(struct.pack("<I", 3), struct.pack("<I", 1))


CASES: list[tuple[str, str, Setup | None]] = [
    ("xdp_port_filter", "xdp_port_filter", None),
    ("xdp_mac_swap", "xdp_mac_swap", None),
    ("xdp_vlan", "xdp_vlan_pop", None),
    ("xdp_vlan", "xdp_vlan_push", None),
    ("xdp_count", "xdp_count", None),
    ("xdp_lpm_block", "xdp_lpm_block", _blocklist),
    ("xdp_redirect", "xdp_redirect_devmap", _tx_ports),
    ("xdp_redirect", "xdp_redirect_ifindex", None),
    ("xdp_redirect", "xdp_redirect_xsk", None),
    ("xdp_subprog", "xdp_subprog", None),
    ("xdp_subprog", "xdp_subprog_meta", None),
    ("xdp_sections", "xdp_frags_len", None),
]


def _map_contents(maps: Any, obj: BpfObject) -> dict[str, dict[bytes, bytes | None]]:
    out = {}
    for spec in obj.map_specs:
        if spec.type_name == "xskmap":
            continue  # sockets cannot be read back from user space (EOPNOTSUPP)
        out[spec.name] = dict(maps[spec.name].items())
    return out


@pytest.mark.parametrize(("stem", "prog", "setup"), CASES, ids=[c[1] for c in CASES])
def test_same_as_kernel(objs: dict[str, Path], on_cpu0: None, stem: str, prog: str,
                        setup: Setup | None) -> None:
    ncpus = possible_cpus()
    tux_obj = load_object(objs[stem], map_factory(ncpus))
    with KernelObject.create(read_object(objs[stem])) as kobj:
        if setup is not None:
            setup(tux_obj.maps, kobj.maps)
        kprog = kobj.load(prog)
        runner = XdpRunner(tux_obj, cpu=0, ncpus=ncpus)
        for name, frame in FRAMES.items():
            k = kprog.test_run_xdp(frame)
            t = runner.run(prog, frame)
            assert (t.action, t.data.hex(), t.meta.hex()) == \
                (k.retval, k.data.hex(), k.meta.hex()), f"{prog} on frame {name!r}"
        assert _map_contents(tux_obj.maps, tux_obj) == _map_contents(kobj.maps, tux_obj)


def test_every_program_loads_in_the_kernel(objs: dict[str, Path]) -> None:
    """The loader's output (types, attach types, flags, relocations) is what the kernel
    accepts, for every program of every object, including tc/socket/devmap/cpumap."""
    for path in objs.values():
        obj = read_object(path)
        with KernelObject.create(obj) as kobj:
            for name in obj.programs:
                v = kobj.verdict(name)
                assert v.ok, f"{path.name}: {name}: {v.message}\n{v.log}"
                os.close(v.fd)


_CTX_PROGRAMS = {
    "data_len": "ldxw %r2, [%r1+4]\nldxw %r3, [%r1]\nmov %r0, %r2\nsub %r0, %r3\nexit",
    "spill_fill": "stxdw [%r10-16], %r1\nmov %r1, 0\nldxdw %r4, [%r10-16]\n"
                  "ldxw %r2, [%r4+4]\nldxw %r3, [%r4]\nmov %r0, %r2\nsub %r0, %r3\nexit",
    "subprog": "mov %r6, %r1\ncall local f\nmov %r1, %r6\ncall local f\nexit\n"
               "f:\nldxw %r2, [%r1+4]\nldxw %r3, [%r1]\nmov %r0, %r2\nsub %r0, %r3\nexit",
    "ifindex_queue": "ldxw %r0, [%r1+12]\nldxw %r2, [%r1+16]\nlsh %r0, 8\nor %r0, %r2\nexit",
    "meta_is_data": "ldxw %r2, [%r1+8]\nldxw %r3, [%r1]\nmov %r0, %r3\nsub %r0, %r2\nexit",
}


@pytest.mark.parametrize("name", list(_CTX_PROGRAMS))
def test_ctx_conversion_matches_kernel(kernel: None, name: str) -> None:
    insns = assemble(_CTX_PROGRAMS[name])
    with KernelProgram.load(insns, name=name) as kp:
        k = kp.test_run_xdp(bytes(77))
    assert XdpRunner().run(insns, bytes(77)).action == k.retval


def test_redirect_to_an_af_xdp_socket(objs: dict[str, Path]) -> None:
    """An (unbound) AF_XDP socket in the xskmap: the kernel's bpf_redirect_map finds it
    and returns XDP_REDIRECT; tuxnet's xskmap resolves the fd through its hook."""
    try:
        xsk = socket.socket(AF_XDP, socket.SOCK_RAW, 0)
    except OSError as e:
        need(False, f"socket(AF_XDP) failed: {e} (CONFIG_XDP_SOCKETS?)")
        raise
    with xsk, KernelObject.create(read_object(objs["xdp_redirect"])) as kobj:
        key, value = struct.pack("<I", 0), struct.pack("<I", xsk.fileno())
        kobj.maps["xsks"].update(key, value)
        tux_obj = load_object(objs["xdp_redirect"], map_factory(1))
        sockets = {xsk.fileno(): "xsk0"}
        tux_obj.maps["xsks"] = XskMap(4, 4, 4, name="xsks", resolve=sockets.get)
        tux_obj.maps["xsks"].update(key, value)
        k = kobj.load("xdp_redirect_xsk").test_run_xdp(FRAMES["tcp22"])
        t = XdpRunner(tux_obj).run("xdp_redirect_xsk", FRAMES["tcp22"])
        assert k.retval == t.action == 4
        assert t.redirect is not None and t.redirect.target == "xsk0"


# --- XDP helper limits (assembled probes) ------------------------------------------------

def _probe(helper: int, delta: int, pre: str = "") -> str:
    return f"{pre}mov %r6, %r1\nmov %r2, {delta}\ncall {helper}\nexit"


_META32 = "mov %r7, %r1\nmov %r2, -32\ncall 54\nmov %r1, %r7\n"  # 32 bytes of metadata
HELPER_PROBES = [
    *[(44, d, "") for d in (-256, -217, -216, -200, -4, 0, 4, 46, 47, 60)],  # adjust_head
    *[(54, d, "") for d in (-256, -252, -217, -216, -36, -32, -6, -4, 0, 4)],  # adjust_meta
    *[(65, d, "") for d in (-60, -47, -46, -4, 0, 4, 3460, 3461)],          # adjust_tail
    *[(44, d, _META32) for d in (-256, -185, -184, -180, 8)],  # head moves the metadata
]


@pytest.mark.parametrize(("helper", "delta", "pre"), HELPER_PROBES,
                         ids=[f"{h}:{d}{'+meta' if p else ''}" for h, d, p in HELPER_PROBES])
def test_xdp_helper_limits_match_kernel(kernel: None, helper: int, delta: int,
                                        pre: str) -> None:
    frame = bytes(range(60))
    insns = assemble(_probe(helper, delta, pre))
    with KernelProgram.load(insns, name="probe") as kp:
        k = kp.test_run_xdp(frame)
    t = XdpRunner().run(insns, frame)
    assert (t.action, t.data, t.meta) == (k.retval, k.data, k.meta)


_LOAD = ("mov %r2, {off}\nmov %r3, %r10\nadd %r3, -8\nmov %r4, {n}\ncall 189\n"
         "jne %r0, 0, +1\nldxw %r0, [%r10-8]\nexit")
_STORE = ("stdw [%r10-8], 0x5a5b5c5d\nmov %r2, {off}\nmov %r3, %r10\nadd %r3, -8\n"
          "mov %r4, {n}\ncall 190\nexit")
BYTES_PROBES = [(kind, off, n) for kind in ("load", "store")
                for off, n in ((0, 4), (10, 8), (52, 8), (53, 8), (56, 4), (57, 4),
                               (0x10000, 4), (0xFFFF, 1))]


@pytest.mark.parametrize(("kind", "off", "n"), BYTES_PROBES,
                         ids=[f"{k}:{o}+{n}" for k, o, n in BYTES_PROBES])
def test_xdp_load_store_bytes_match_kernel(kernel: None, kind: str, off: int,
                                           n: int) -> None:
    frame = bytes(range(60))
    src = (_LOAD if kind == "load" else _STORE).format(off=off, n=n)
    insns = assemble(src)
    with KernelProgram.load(insns, name="bytes") as kp:
        k = kp.test_run_xdp(frame)
    t = XdpRunner().run(insns, frame)
    assert (t.action, t.data) == (k.retval, k.data)


def test_xdp_helper_limits_facts(kernel: None) -> None:
    """The limits the probes pin down: sizeof(struct xdp_frame) = 40 above the 256-byte
    headroom, skb_shared_info tailroom 320 of the 4096-byte page, ETH_HLEN 14."""
    frame = bytes(60)
    run = XdpRunner()

    def r0(helper: int, delta: int) -> int:
        return run.run(assemble(_probe(helper, delta)), frame).action

    einval = -errno.EINVAL & 0xFFFF_FFFF
    assert (r0(44, -216), r0(44, -217), r0(44, 46), r0(44, 47)) == (0, einval, 0, einval)
    assert (r0(65, 3460), r0(65, 3461), r0(65, -46), r0(65, -47)) == (0, einval, 0, einval)
    assert r0(54, -6) == -errno.EACCES & 0xFFFF_FFFF  # metadata must be 4-byte aligned


def test_short_frames_are_refused_by_both(kernel: None) -> None:
    insns = assemble("mov %r0, 2\nexit")
    with KernelProgram.load(insns) as kp, pytest.raises(KernelError) as exc:
        kp.test_run_xdp(bytes(13))
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(ValueError, match="ETH_HLEN"):
        XdpRunner().run(insns, bytes(13))


# --- the verifiers: the kernel's and tuxnet's on small assembled programs ----------------

_LOOKUP = "stw [%r10-4], 1\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_idx 0\ncall 1\n"
_PKT = "ldxw %r2, [%r1]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 1\nmov %r0, 1\n" \
       "jgt %r4, %r3, +1\n"
VERIFIER_CASES: list[tuple[str, str, str | None]] = [
    # (name, program, the kernel's message or None when it accepts)
    ("return_pass", "mov %r0, 2\nexit", None),
    ("r0_not_set", "exit", "R0 !read_ok"),
    ("uninit_reg", "mov %r0, %r5\nexit", "R5 !read_ok"),
    ("stack_above_fp", "ldxdw %r0, [%r10+8]\nexit", "invalid read from stack R10 off=8 size=8"),
    ("stack_uninit_as_root", "ldxdw %r0, [%r10-8]\nexit", None),
    ("pkt_no_bounds_check", "ldxw %r2, [%r1]\nldxb %r0, [%r2]\nexit",
     "R2 offset is outside of the packet"),
    ("pkt_bounds_checked", _PKT + "ldxb %r0, [%r2]\nexit", None),
    ("pkt_one_byte_too_far", _PKT + "ldxh %r0, [%r2]\nexit",
     "R2 offset is outside of the packet"),
    ("dead_code_after_loop", "mov %r0, 0\nja -1\nexit", "unreachable insn 2"),
    ("bounded_loop", "mov %r0, 0\nmov %r1, 10\nl:\nadd %r0, 1\nsub %r1, 1\njne %r1, 0, l\n"
     "exit", None),
    ("ctx_write", "stw [%r1], 0\nmov %r0, 2\nexit", "invalid bpf_context access off=0 size=4"),
    ("ctx_past_end", "ldxw %r0, [%r1+24]\nexit", "invalid bpf_context access off=24 size=4"),
    ("ctx_egress_ifindex", "ldxw %r0, [%r1+20]\nexit",
     "invalid bpf_context access off=20 size=4"),
    ("ctx_modified", "add %r1, 4\nldxw %r0, [%r1]\nexit",
     "dereference of modified ctx ptr R1 off=4 disallowed"),
    ("unknown_helper", "call 9999\nexit", "invalid func unknown#9999"),
    ("map_lookup_null_checked", _LOOKUP + "mov %r1, %r0\nmov %r0, 0\njeq %r1, 0, +1\n"
     "ldxdw %r0, [%r1]\nexit", None),
    ("map_lookup_no_null_check", _LOOKUP + "ldxdw %r0, [%r0]\nexit",
     "R0 invalid mem access 'map_value_or_null'"),
    ("map_value_past_end", _LOOKUP + "mov %r1, %r0\nmov %r0, 0\njeq %r1, 0, +1\n"
     "ldxdw %r0, [%r1+8]\nexit", "R1 min value is outside of the allowed memory range"),
    ("pkt_ptr_stale_after_adjust_head",
     "ldxw %r7, [%r1]\nldxw %r8, [%r1+4]\nmov %r2, 4\ncall 44\nmov %r3, %r7\nadd %r3, 1\n"
     "mov %r0, 1\njgt %r3, %r8, +1\nldxb %r0, [%r7]\nexit", "R7 invalid mem access 'scalar'"),
    ("return_pointer_as_root", "mov %r0, %r10\nexit", None),
    # Program.load's structural checks word these differently (their message is checked
    # for the key words only): the kernel finds them in its own check_cfg/do_check.
    ("frame_pointer_write", "mov %r10, 0\nmov %r0, 0\nexit", "frame pointer is read only"),
    ("jump_out_of_range", "ja +5\nmov %r0, 0\nexit", "jump out of range from insn 0 to 6"),
]
_STRUCTURAL = {"frame_pointer_write": "frame pointer", "jump_out_of_range": "jump out of range"}


class _OneMap:
    def __init__(self, spec: MapSpec) -> None:
        self.spec = spec

    def map_by_fd(self, fd: int) -> None:
        return None

    def map_by_index(self, idx: int) -> MapSpec | None:
        return self.spec if idx == 0 else None


@pytest.fixture(scope="module")
def values_map(kernel: None) -> Iterator[tuple[MapSpec, KernelMap]]:
    spec = MapSpec("vals", 2, 4, 8, 4)  # array: u32 -> u64, 4 entries
    km = KernelMap(spec)
    yield spec, km
    km.close()


@pytest.mark.parametrize(("name", "src", "kmsg"), VERIFIER_CASES,
                         ids=[c[0] for c in VERIFIER_CASES])
def test_verifiers_agree(values_map: tuple[MapSpec, KernelMap], name: str, src: str,
                         kmsg: str | None) -> None:
    spec, km = values_map
    insns = assemble(src)
    k = prog_load(insns, maps=[km.fd])
    if k.ok:
        os.close(k.fd)
    assert (k.ok, k.message if not k.ok else None) == (kmsg is None, kmsg), k.log
    t = verify(insns, XDP, maps=_OneMap(spec))
    assert t.ok == k.ok, t.log
    if name in _STRUCTURAL:
        assert _STRUCTURAL[name] in t.message
    elif not k.ok:
        assert t.message == k.message


def test_load_log_is_fetched_on_failure_and_grown_on_enospc(kernel: None) -> None:
    v = prog_load(assemble("exit"))  # log level 0 first, then again with a log
    assert not v.ok and v.errno == errno.EACCES and "R0 !read_ok" in v.log
    loop = assemble("mov %r0, 0\nmov %r1, 20000\nl:\nadd %r0, 1\nsub %r1, 1\n"
                    "jne %r1, 0, l\nexit")
    v = prog_load(loop, log_level=2)  # ~60000 logged insns: more than the first 1 MiB
    assert v.ok, v.log[-500:]
    os.close(v.fd)
    assert len(v.log) > 1 << 20 and "processed 6000" in v.log


def test_kernel_map_api(kernel: None) -> None:
    with KernelObject.create(BpfObject("mem", "GPL", map_specs=[
            MapSpec("h", 1, 4, 4, 8), MapSpec(".rodata", 2, 4, 4, 1, 1 << 7, ".rodata",
                                               b"\x01\x02\x03\x04", True)])) as ko:
        h = ko.maps["h"]
        h.update(b"\x01\0\0\0", b"\x0a\0\0\0")
        h.update(b"\x02\0\0\0", b"\x0b\0\0\0")
        assert dict(h.items()) == {b"\x01\0\0\0": b"\x0a\0\0\0", b"\x02\0\0\0": b"\x0b\0\0\0"}
        h.delete(b"\x01\0\0\0")
        assert h.lookup(b"\x01\0\0\0") is None
        with pytest.raises(OSError) as exc:
            h.delete(b"\x01\0\0\0")
        assert exc.value.errno == errno.ENOENT
        ro = ko.maps[".rodata"]
        assert ro.lookup(bytes(4)) == b"\x01\x02\x03\x04"
        with pytest.raises(OSError) as exc:  # frozen: BPF_MAP_FREEZE
            ro.update(bytes(4), bytes(4))
        assert exc.value.errno == errno.EPERM
