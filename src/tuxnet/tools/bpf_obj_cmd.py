"""``tuxnet bpf verify`` and ``tuxnet bpf map dump``: tools for compiled eBPF objects.

    tuxnet bpf verify OBJ.o [--sec S] [--log-level N] [--json]
        run tuxnet's verifier on each program of the object (or the one named S, by
        function name or section); one line per program, exit status 1 if any is refused
    tuxnet bpf map dump OBJ.o MAP [--run PROG --frame HEX ...] [--json]
        print a map as ``bpftool map dump`` does, after optionally running an XDP
        program of the object on the given frames (hex)

The functions take the arguments after the subcommand words (``cmd_verify(argv)``
gets ``OBJ.o [--sec S]``); the ``tuxnet bpf`` dispatcher hooks them in.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from tuxnet.bpf.errors import BpfError
from tuxnet.bpf.objspec import BpfObject, LoadedProgram, MapSpec

if TYPE_CHECKING:
    from tuxnet.bpf.verifier import VerifierResult


class _Specs:
    """The verifier's MapResolver over an object's map definitions (map_idx N)."""

    def __init__(self, obj: BpfObject) -> None:
        self.specs = obj.map_specs

    def map_by_fd(self, fd: int) -> MapSpec | None:
        return None

    def map_by_index(self, idx: int) -> MapSpec | None:
        return self.specs[idx] if 0 <= idx < len(self.specs) else None


def verify_loaded(obj: BpfObject, lp: LoadedProgram, log_level: int = 0) -> VerifierResult:
    """tuxnet's verifier on one program of an object, in its program type's context
    (XDP, or XDP on a devmap entry; tc/socket programs get a context-less check)."""
    from tuxnet.bpf.objspec import BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP
    from tuxnet.bpf.verifier import raw_context, verify, xdp_context
    if lp.prog_type == BPF_PROG_TYPE_XDP:
        ctx = xdp_context(devmap=lp.expected_attach_type == BPF_XDP_DEVMAP)
    else:
        ctx = raw_context(None)  # the __sk_buff context is not modelled yet
    return verify(lp.program, ctx, maps=_Specs(obj), log_level=log_level)


def cmd_verify(argv: list[str], prog: str = "tuxnet bpf verify") -> int:
    p = argparse.ArgumentParser(prog=prog, description="verify the programs of an eBPF "
                                "object with tuxnet's verifier")
    p.add_argument("obj", help="object file (clang -O2 -g -target bpf -c)")
    p.add_argument("--sec", help="only this program (function name or ELF section)")
    p.add_argument("--log-level", type=int, default=0, choices=(0, 1, 2),
                   help="print the verifier log (1: branches, 2: every insn)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    ns = p.parse_args(argv)
    from tuxnet.bpf.elf import read_object
    try:
        obj = read_object(ns.obj)
        progs = [obj.program(ns.sec)] if ns.sec else list(obj.programs.values())
    except BpfError as e:
        return _fail(ns.json, str(e))
    results: list[dict[str, Any]] = []
    for lp in progs:
        r = verify_loaded(obj, lp, ns.log_level)
        results.append({"name": lp.name, "section": lp.section, "type": lp.type_name,
                        "insns": len(lp.insns), "accepted": r.ok, "message": r.message,
                        "pc": r.pc, "errno": r.errno, "processed": r.insns_processed,
                        "log": r.log if ns.log_level else ""})
    if ns.json:
        print(json.dumps({"object": ns.obj, "programs": results}, indent=2))
    else:
        for res in results:
            if ns.log_level and res["log"]:
                print(res["log"].rstrip())
            head = f"{res['name']} ({res['section']}, {res['insns']} insns): "
            if res["accepted"]:
                print(head + f"accepted, processed {res['processed']} insns")
            else:
                print(head + f"refused at insn {res['pc']}: {res['message']}")
    return 0 if all(r["accepted"] for r in results) else 1


def cmd_map_dump(argv: list[str], prog: str = "tuxnet bpf map dump") -> int:
    p = argparse.ArgumentParser(prog=prog, description="dump a map of an eBPF object as "
                                "bpftool does")
    p.add_argument("obj", help="object file (clang -O2 -g -target bpf -c)")
    p.add_argument("map", help="map name (a .maps/maps variable, or .data/.bss/.rodata)")
    p.add_argument("--run", metavar="PROG", help="first run this XDP program ...")
    p.add_argument("--frame", action="append", default=[], metavar="HEX",
                   help="... on this frame (hex; repeatable)")
    p.add_argument("--cpus", type=int, default=1, help="CPUs of per-CPU maps (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    ns = p.parse_args(argv)
    from tuxnet.bpf.elf import load_object
    from tuxnet.bpf.maps import format_map_dump
    from tuxnet.bpf.xdp_run import XdpRunner, map_factory
    try:
        obj = load_object(ns.obj, map_factory(ns.cpus))
        m = obj.maps.get(ns.map)
        if m is None:
            raise BpfError(f"{ns.obj}: no map named {ns.map!r} (maps: "
                           f"{', '.join(obj.maps) or 'none'})")
        if ns.run:
            runner = XdpRunner(obj, ncpus=ns.cpus)
            for hexframe in ns.frame:
                runner.run(ns.run, bytes.fromhex(hexframe))
        elif ns.frame:
            raise BpfError("--frame needs --run PROG")
    except (BpfError, ValueError) as e:
        return _fail(ns.json, str(e))
    if ns.json:
        print(json.dumps(_dump_json(m)))
    else:
        print(format_map_dump(m), end="")
    return 0


def _hexlist(data: bytes) -> list[str]:
    return [f"0x{b:02x}" for b in data]


def _dump_json(m: Any) -> list[dict[str, Any]]:
    """bpftool -j map dump for maps without BTF: key/value as lists of "0x.." bytes,
    per-CPU maps as "values": [{"cpu": N, "value": [...]}]."""
    out: list[dict[str, Any]] = []
    stride = (m.value_size + 7) // 8 * 8
    for key, value in m.items():
        if value is None:
            continue
        if m.percpu:
            vals = [{"cpu": c, "value": _hexlist(value[c * stride:c * stride + m.value_size])}
                    for c in range(m.ncpus)]
            out.append({"key": _hexlist(key), "values": vals})
        else:
            out.append({"key": _hexlist(key), "value": _hexlist(value[:m.value_size])})
    return out


def _fail(as_json: bool, message: str) -> int:
    if as_json:
        print(json.dumps({"error": message}))
    else:
        import sys
        print(f"Error: {message}", file=sys.stderr)
    return 2
