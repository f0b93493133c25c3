"""The ELF loader on objects clang builds from tests/bpf/progs/*.c, and those programs
run in tuxnet (xdp_run). The same programs are compared with the kernel in
test_bpf_kernel.py; here the expected results are written out, so this file needs
neither root nor bpf(2)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import random
import struct
import sys
from pathlib import Path

import pytest
from conftest import need
from xdp_progs import FRAMES, PROGS, build_all, clang, compile_c

from tuxnet.bpf import isa
from tuxnet.bpf.asm import assemble
from tuxnet.bpf.btf import Btf
from tuxnet.bpf.elf import load_object, read_object
from tuxnet.bpf.errors import BpfLoadError
from tuxnet.bpf.objspec import (
    BPF_F_NO_PREALLOC,
    BPF_F_RDONLY_PROG,
    BPF_F_XDP_HAS_FRAGS,
    BPF_PROG_TYPE_SCHED_CLS,
    BPF_PROG_TYPE_SOCKET_FILTER,
    BPF_PROG_TYPE_XDP,
    BPF_XDP,
    BPF_XDP_CPUMAP,
    BPF_XDP_DEVMAP,
    BpfObject,
)
from tuxnet.bpf.verifier import XDP, verify
from tuxnet.bpf.xdp_run import (
    XDP_DROP,
    XDP_PASS,
    XDP_REDIRECT,
    XDP_TX,
    XdpBuff,
    XdpRunner,
    map_factory,
)
from tuxnet.tools.bpf_obj_cmd import cmd_map_dump, cmd_verify, verify_loaded


@pytest.fixture(autouse=True)
def _pyelftools() -> None:
    need(importlib.util.find_spec("elftools") is not None,
         "pyelftools is needed to read ELF objects (pip install 'tuxnet[elf]')")


@pytest.fixture(scope="session")
def objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need(clang() is not None, "clang is needed to build tests/bpf/progs (apt-get install "
         "clang llvm)")
    return build_all(tmp_path_factory.getbasetemp() / "bpf_progs")


def load(objs: dict[str, Path], name: str, ncpus: int = 1) -> BpfObject:
    return load_object(objs[name], map_factory(ncpus))


# --- what the loader finds ---------------------------------------------------------------

def test_programs_sections_and_types(objs: dict[str, Path]) -> None:
    found = {stem: {p.name: (p.section, p.prog_type, p.expected_attach_type)
                    for p in read_object(path).programs.values()}
             for stem, path in objs.items()}
    xdp = (BPF_PROG_TYPE_XDP, BPF_XDP)
    assert found["xdp_port_filter"] == {"xdp_port_filter": ("xdp", *xdp)}
    assert found["xdp_vlan"] == {"xdp_vlan_pop": ("xdp", *xdp), "xdp_vlan_push": ("xdp", *xdp)}
    assert found["xdp_redirect"]["xdp_redirect_ifindex"] == ("xdp/redirect_ifindex", *xdp)
    assert set(found["xdp_subprog"]) == {"xdp_subprog", "xdp_subprog_meta"}  # not .text
    assert read_object(objs["xdp_count"]).license == "Dual MIT/GPL"
    assert {n: (sec, t, a, f) for n, (sec, t, a) in found["xdp_sections"].items()
            for f in [read_object(objs["xdp_sections"]).programs[n].prog_flags]} == {
        "xdp_frags_len": ("xdp.frags", BPF_PROG_TYPE_XDP, BPF_XDP, BPF_F_XDP_HAS_FRAGS),
        "xdp_on_devmap": ("xdp/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, 0),
        "xdp_on_cpumap": ("xdp/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, 0),
        "tc_ok": ("tc", BPF_PROG_TYPE_SCHED_CLS, 0, 0),
        "cls_ok": ("classifier/legacy", BPF_PROG_TYPE_SCHED_CLS, 0, 0),
        "sock_keep": ("socket", BPF_PROG_TYPE_SOCKET_FILTER, 0, 0),
    }


def test_program_by_name_or_section(objs: dict[str, Path]) -> None:
    obj = read_object(objs["xdp_redirect"])
    assert obj.program("xdp/redirect_ifindex").name == "xdp_redirect_ifindex"
    assert obj.program("xdp_redirect_xsk").section == "xdp"
    with pytest.raises(BpfLoadError, match="several programs"):
        obj.program("xdp")
    with pytest.raises(BpfLoadError, match="no program or section 'tc'"):
        obj.program("tc")


def test_btf_legacy_and_global_data_maps(objs: dict[str, Path]) -> None:
    obj = read_object(objs["xdp_count"])
    specs = {m.name: m for m in obj.map_specs}
    pc = specs["proto_count"]  # BTF .maps: __type(key, __u32), __type(value, __u64)
    assert (pc.type_name, pc.key_size, pc.value_size, pc.max_entries, pc.section) == \
        ("percpu_array", 4, 8, 256, ".maps")
    lh = specs["len_hist"]     # legacy SEC("maps") struct bpf_map_def
    assert (lh.type_name, lh.key_size, lh.value_size, lh.max_entries, lh.section) == \
        ("array", 4, 8, 16, "maps")
    ro = specs[".rodata"]      # const volatile __u32 cfg_drop_proto = 132
    assert ro.frozen and ro.map_flags == BPF_F_RDONLY_PROG and ro.max_entries == 1
    assert ro.initial == struct.pack("<I", 132)
    assert specs[".data"].initial == struct.pack("<Q", 1000) and not specs[".data"].frozen
    assert specs[".bss"].initial == bytes(8)
    lpm = read_object(objs["xdp_lpm_block"]).map_spec("blocklist")
    assert (lpm.type_name, lpm.key_size, lpm.value_size, lpm.map_flags) == \
        ("lpm_trie", 8, 8, BPF_F_NO_PREALLOC)
    dev = read_object(objs["xdp_redirect"]).map_spec("tx_ports")  # __uint(key_size, ...)
    assert (dev.type_name, dev.key_size, dev.value_size, dev.max_entries) == \
        ("devmap", 4, 4, 8)


def test_map_references_become_map_idx_lddw(objs: dict[str, Path]) -> None:
    obj = read_object(objs["xdp_count"])
    p = obj.program("xdp_count")
    by_name = {r.name: r for r in p.map_refs}
    assert set(by_name) == {"proto_count", "len_hist", ".rodata", ".data", ".bss"}
    ref = by_name["proto_count"]
    first = p.insns[ref.pc]
    assert first.opcode == isa.OPCODE_LDDW and first.src == isa.BPF_PSEUDO_MAP_IDX
    assert first.imm == obj.map_index("proto_count") and ref.offset is None
    glob = by_name[".rodata"]
    assert p.insns[glob.pc].src == isa.BPF_PSEUDO_MAP_IDX_VALUE and glob.offset == 0
    fds = [100 + i for i in range(len(obj.map_specs))]
    patched = p.with_fds(fds)
    assert patched[ref.pc].src == isa.BPF_PSEUDO_MAP_FD
    assert patched[ref.pc].imm == 100 + obj.map_index("proto_count")
    assert patched[glob.pc].src == isa.BPF_PSEUDO_MAP_VALUE and patched[glob.pc + 1].imm == 0


def test_subprograms_appended_once_and_calls_repointed(objs: dict[str, Path]) -> None:
    obj = read_object(objs["xdp_subprog"])
    main = obj.program("xdp_subprog")
    meta = obj.program("xdp_subprog_meta")
    assert main.subprograms == ("l4_proto", "classify")  # R_BPF_64_32 via .text + imm
    assert meta.subprograms == ("l4_proto", "fold")      # the shared one in both programs
    for p in (main, meta):
        targets = {pc + i.imm + 1 for pc, i in enumerate(p.insns)
                   if i.opcode == isa.OPCODE_CALL and i.src == isa.BPF_PSEUDO_CALL}
        assert targets == set(p.program.subprogs) - {0}
    # meta calls l4_proto once and fold twice; both fold calls land on one copy
    calls = [pc + i.imm + 1 for pc, i in enumerate(meta.insns)
             if i.opcode == isa.OPCODE_CALL and i.src == isa.BPF_PSEUDO_CALL]
    assert len(calls) == 3 and len(set(calls)) == 2


def test_tuxnet_verifier_accepts_every_program(objs: dict[str, Path]) -> None:
    for path in objs.values():
        obj = read_object(path)
        for p in obj.programs.values():
            r = verify_loaded(obj, p)
            assert r.ok, f"{p.name}: {r.message}\n{r.log}"
    devmap_prog = read_object(objs["xdp_sections"]).program("xdp/devmap").program
    r = verify(devmap_prog, XDP)  # egress_ifindex is only readable on a devmap entry
    assert not r.ok and r.message == "invalid bpf_context access off=20 size=4"


# --- refused objects: a typed error that names the place -----------------------------------

@pytest.mark.parametrize(("src", "match"), [
    ("bad_core.c", r"CO-RE relocations \(section\(s\) 'xdp'\)"),
    ("bad_kfunc.c", r"section 'xdp', function 'xdp_kfunc' .*extern 'bpf_tuxnet_kfunc' "
                    r"\(kfunc\)"),
    ("bad_kconfig.c", r"extern variable 'CONFIG_HZ' \(.kconfig/.ksyms\)"),
    ("bad_section.c", r"section 'kprobe/tcp_v4_rcv': program type not supported"),
    ("bad_funcptr.c", r"function pointer to 'cb' in '.text' \(BPF_PSEUDO_FUNC"),
    ("bad_static_prog.c", r"program 'xdp_static' is static"),
])
def test_unsupported_objects_are_refused(tmp_path: Path, src: str, match: str) -> None:
    need(clang() is not None, "clang is needed to build tests/bpf/progs")
    obj = compile_c(PROGS / src, tmp_path)
    with pytest.raises(BpfLoadError, match=match):
        read_object(obj)


def test_not_an_object(tmp_path: Path) -> None:
    junk = tmp_path / "junk.o"
    junk.write_bytes(b"\x7fELF" + bytes(60))
    with pytest.raises(BpfLoadError, match=r"junk\.o"):
        read_object(junk)
    with pytest.raises(BpfLoadError, match="not a 64-bit eBPF object"):
        read_object(sys.executable)
    with pytest.raises(BpfLoadError, match="No such file"):
        read_object(tmp_path / "missing.o")


def test_missing_pyelftools_says_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                                objs: dict[str, Path]) -> None:
    monkeypatch.setitem(sys.modules, "elftools", None)
    monkeypatch.setitem(sys.modules, "elftools.elf.elffile", None)
    with pytest.raises(BpfLoadError, match=r"pip install 'tuxnet\[elf\]'"):
        read_object(objs["xdp_port_filter"])


# --- running the objects in tuxnet (expected results written out) --------------------------

def test_port_filter(objs: dict[str, Path]) -> None:
    run = XdpRunner(load(objs, "xdp_port_filter"))
    want = {"tcp80": XDP_DROP, "tcp80_ipopts": XDP_DROP, "tcp22": XDP_PASS,
            "tcp80_truncated": XDP_PASS, "udp53": XDP_PASS, "arp": XDP_PASS,
            "eth_only": XDP_PASS}
    got = {name: run.run("xdp_port_filter", FRAMES[name]).action for name in want}
    assert got == want


def test_mac_swap_and_vlan_round_trip(objs: dict[str, Path]) -> None:
    frame = FRAMES["tcp22"]
    r = XdpRunner(load(objs, "xdp_mac_swap")).run("xdp_mac_swap", frame)
    assert r.action == XDP_TX and r.data == frame[6:12] + frame[0:6] + frame[12:]
    vlan = XdpRunner(load(objs, "xdp_vlan"))
    pushed = vlan.run("xdp_vlan_push", frame)
    assert pushed.action == XDP_PASS
    assert pushed.data == frame[:12] + b"\x81\x00\x00\x2a" + frame[12:]
    popped = vlan.run("xdp_vlan_pop", pushed.data)
    assert popped.action == XDP_TX and popped.data == frame


def test_counters_and_globals(objs: dict[str, Path]) -> None:
    obj = load(objs, "xdp_count", ncpus=2)
    run = XdpRunner(obj, cpu=1, ncpus=2)
    frames = [FRAMES["tcp80"], FRAMES["sctp"], FRAMES["tcp22"], FRAMES["arp"]]
    actions = [run.run("xdp_count", f).action for f in frames]
    assert actions == [XDP_PASS, XDP_DROP, XDP_PASS, XDP_PASS]  # .rodata: drop SCTP
    per_cpu = obj.maps["proto_count"].lookup_percpu(struct.pack("<I", 6))
    assert per_cpu == [bytes(8), struct.pack("<Q", 2)]          # counted on CPU 1
    assert obj.maps[".bss"].lookup(bytes(4)) == struct.pack("<Q", 4)
    assert obj.maps[".data"].lookup(bytes(4)) == struct.pack("<Q", 1000 + sum(map(len, frames)))


def test_lpm_block_list(objs: dict[str, Path]) -> None:
    obj = load(objs, "xdp_lpm_block")
    obj.maps["blocklist"].update(struct.pack("<I", 24) + bytes([192, 168, 1, 0]), bytes(8))
    run = XdpRunner(obj)
    assert run.run("xdp_lpm_block", FRAMES["udp53"]).action == XDP_DROP   # 192.168.1.77
    assert run.run("xdp_lpm_block", FRAMES["tcp80"]).action == XDP_PASS   # 10.1.2.3
    hits = obj.maps["blocklist"].lookup(struct.pack("<I", 32) + bytes([192, 168, 1, 200]))
    assert hits == struct.pack("<Q", 1)


def test_redirects_record_their_target(objs: dict[str, Path]) -> None:
    obj = load(objs, "xdp_redirect")
    obj.maps["tx_ports"].update(struct.pack("<I", 1), struct.pack("<I", 7))
    run = XdpRunner(obj, ingress_ifindex=4)
    r = run.run("xdp_redirect_devmap", FRAMES["tcp22"])  # dst MAC ends in 01: key 1
    assert r.action == XDP_REDIRECT and r.redirect is not None
    assert (r.redirect.map, r.redirect.key, r.redirect.target) == \
        (obj.maps["tx_ports"], 1, 7)
    assert run.run("xdp_redirect_devmap", FRAMES["icmp_blocked_src"]).action == XDP_DROP
    r = run.run("xdp_redirect_ifindex", FRAMES["tcp22"])
    assert r.action == XDP_REDIRECT and r.redirect is not None and r.redirect.ifindex == 5
    assert run.run("xdp_redirect_xsk", FRAMES["tcp22"]).action == XDP_PASS  # no socket


def test_subprograms_and_metadata(objs: dict[str, Path]) -> None:
    run = XdpRunner(load(objs, "xdp_subprog"))
    assert run.run("xdp_subprog", FRAMES["tcp22"]).action == XDP_TX
    assert run.run("xdp_subprog", FRAMES["udp53"]).action == XDP_DROP
    frame = FRAMES["udp53"]
    r = run.run("xdp_subprog_meta", frame)
    proto, _folded = struct.unpack("<II", r.meta)
    assert proto == 17 and r.action == XDP_PASS
    assert len(r.data) == len(frame) - 4            # adjust_tail(-4) for UDP


def test_buffer_in_place_and_limits() -> None:
    buff = XdpBuff.from_frame(bytes(60))
    assert (buff.data, buff.data_end, buff.data_meta, buff.hard_end) == (256, 316, 256, 3776)
    with pytest.raises(ValueError, match="does not fit"):
        XdpBuff.from_frame(bytes(3521))


# --- the CLI functions ---------------------------------------------------------------

def test_cmd_verify(objs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_verify([str(objs["xdp_vlan"])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split(" ")[0] for ln in out] == ["xdp_vlan_pop", "xdp_vlan_push"]
    assert all("accepted, processed" in ln for ln in out)
    assert cmd_verify([str(objs["xdp_redirect"]), "--sec", "xdp/redirect_ifindex",
                       "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in doc["programs"]] == ["xdp_redirect_ifindex"]
    assert cmd_verify([str(objs["xdp_vlan"]), "--sec", "nope"]) == 2


def test_cmd_map_dump(objs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    obj = str(objs["xdp_count"])
    assert cmd_map_dump([obj, ".data"]) == 0
    assert capsys.readouterr().out == \
        "key: 00 00 00 00  value: e8 03 00 00 00 00 00 00\nFound 1 element\n"
    frame = FRAMES["tcp22"].hex()
    assert cmd_map_dump([obj, ".bss", "--run", "xdp_count", "--frame", frame,
                         "--frame", frame, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == \
        [{"key": ["0x00"] * 4, "value": ["0x02"] + ["0x00"] * 7}]
    assert cmd_map_dump([obj, "nope"]) == 2


# --- xdp_md conversion (the loads the kernel's convert_ctx_accesses rewrites) -------------

_SUBPROG_CTX = ("mov %r6, %r1\ncall local f\nmov %r1, %r6\ncall local f\nexit\n"
                "f:\nldxw %r2, [%r1+4]\nldxw %r3, [%r1]\nmov %r0, %r2\nsub %r0, %r3\nexit")


@pytest.mark.parametrize(("src", "want"), [
    ("ldxw %r2, [%r1+4]\nldxw %r3, [%r1]\nmov %r0, %r2\nsub %r0, %r3\nexit", 60),
    # spilled to the stack and filled again
    ("stxdw [%r10-16], %r1\nmov %r1, 0\nldxdw %r4, [%r10-16]\nldxw %r2, [%r4+4]\n"
     "ldxw %r3, [%r4]\nmov %r0, %r2\nsub %r0, %r3\nexit", 60),
    (_SUBPROG_CTX, 60),                                  # ctx passed to a subprogram
    ("ldxw %r0, [%r1+12]\nexit", 1),                     # ingress_ifindex
    ("ldxw %r0, [%r1+16]\nexit", 0),                     # rx_queue_index
])
def test_ctx_loads_are_converted(src: str, want: int) -> None:
    assert XdpRunner().run(assemble(src), bytes(60)).action == want


@pytest.mark.parametrize(("src", "match"), [
    ("stw [%r1], 0\nmov %r0, 2\nexit", "off=0 size=4 .*read-only"),
    ("ldxh %r0, [%r1+2]\nexit", "invalid bpf_context access off=2 size=2"),
    ("ldxw %r0, [%r1+24]\nexit", "invalid bpf_context access off=24 size=4"),
    ("mov %r2, %r10\njeq %r3, 0, +1\nmov %r2, %r1\nldxw %r0, [%r2]\nexit",
     "same insn cannot be used with different pointers"),
])
def test_bad_ctx_accesses_are_refused(src: str, match: str) -> None:
    with pytest.raises(BpfLoadError, match=match):
        XdpRunner().run(assemble(src), bytes(60))


def test_btf_errors_are_load_errors() -> None:
    with pytest.raises(BpfLoadError, match="bad magic"):
        Btf(bytes(24))
    with pytest.raises(BpfLoadError, match="too short"):
        Btf(b"\x9f\xeb")


def test_corrupt_objects_give_typed_errors(objs: dict[str, Path], tmp_path: Path) -> None:
    """Truncated or byte-flipped objects load or fail with BpfLoadError, nothing else."""
    rng = random.Random(6)
    bad = tmp_path / "bad.o"
    for stem in ("xdp_count", "xdp_subprog"):
        data = objs[stem].read_bytes()
        for i in range(80):
            b = bytearray(data)
            if i % 3 == 0:
                del b[rng.randrange(len(b)):]
            else:
                for _ in range(rng.randrange(1, 8)):
                    b[rng.randrange(len(b))] = rng.randrange(256)
            bad.write_bytes(b)
            with contextlib.suppress(BpfLoadError):
                read_object(bad)
