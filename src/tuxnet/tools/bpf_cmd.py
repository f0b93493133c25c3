"""``tuxnet bpf``: eBPF tools — conformance runner, assembler, disassembler, runner.

    tuxnet bpf conformance FILE.data|DIR ... [--json]   one line per file, then
                                                        "N passed, N failed"
    tuxnet bpf asm FILE [-o OUT]      assemble; print hex slots (or write raw bytes)
    tuxnet bpf disasm FILE            disassemble raw bytes or hex text
    tuxnet bpf run FILE [--mem HEX]   assemble and run; print r0
    tuxnet bpf verify FILE [--ctx xdp|raw] [--log-level N] [--caps root|bpf|unpriv]
                                      run the verifier; print its log and verdict
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tuxnet.bpf import isa
from tuxnet.bpf.asm import assemble
from tuxnet.bpf.conformance import default_engine, run_file, summary
from tuxnet.bpf.disasm import disassemble
from tuxnet.bpf.errors import BpfError
from tuxnet.bpf.program import Program


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="eBPF tools (RFC 9669)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("conformance", help="run bpf_conformance .data files")
    p.add_argument("files", nargs="+", help=".data files or directories holding them")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--insn-limit", type=int, default=1_000_000,
                   help="instructions one run may execute (default 1000000)")
    p = sub.add_parser("asm", help="assemble a file (conformance .data syntax)")
    p.add_argument("file", help="assembly source, '-' for stdin")
    p.add_argument("-o", "--output", help="write the raw program bytes here")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p = sub.add_parser("disasm", help="disassemble raw bytes or hex text")
    p.add_argument("file", help="program bytes (binary or hex text), '-' for stdin")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p = sub.add_parser("run", help="assemble and run a program in the interpreter")
    p.add_argument("file", help="assembly source, '-' for stdin")
    p.add_argument("--mem", default="", help="input memory as hex (r1 = address, r2 = length)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p = sub.add_parser("verify", help="run the verifier (kernel messages and log)")
    p.add_argument("file", help="assembly source, a .data file, or raw program bytes")
    p.add_argument("--ctx", choices=("xdp", "raw"), default=None,
                   help="program context (default: raw for .data files, else xdp)")
    p.add_argument("--mem-size", type=int, default=None,
                   help="raw context: bytes r1 points at (default: the .data memory)")
    p.add_argument("--log-level", type=int, choices=(0, 1, 2), default=1)
    p.add_argument("--caps", choices=("root", "bpf", "unpriv"), default="root",
                   help="loader capabilities: root, CAP_BPF only, or unprivileged")
    p.add_argument("--insn-limit", type=int, default=1_000_000,
                   help="complexity limit in processed instructions (default 1000000)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def _data_files(args: list[str]) -> list[Path]:
    files: list[Path] = []
    for a in args:
        p = Path(a)
        files.extend(sorted(p.glob("*.data")) if p.is_dir() else [p])
    return files


def _conformance(ns: argparse.Namespace) -> int:
    limit: int = ns.insn_limit
    results = [run_file(p, lambda: default_engine(limit)) for p in _data_files(ns.files)]
    passed = sum(r.passed for r in results)
    if ns.json:
        doc = {"results": [r.to_json() for r in results], "passed": passed,
               "failed": len(results) - passed}
        print(json.dumps(doc, indent=2))
    else:
        for r in results:
            print(r.line())
        print(summary(results))
    return 0 if passed == len(results) else 1


def _asm(ns: argparse.Namespace) -> int:
    code = isa.encode(assemble(_read(ns.file).decode("utf-8")))
    if ns.output:
        Path(ns.output).write_bytes(code)
    slots = [code[i:i + 8].hex(" ") for i in range(0, len(code), 8)]
    if ns.json:
        print(json.dumps({"insns": len(slots), "hex": slots}))
    elif not ns.output:
        print("\n".join(slots))
    return 0


def _program_bytes(data: bytes) -> bytes:
    """Raw bytes as given, or hex text (whitespace and '0x' allowed) if it reads as hex."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return data
    cleaned = "".join(text.replace("0x", " ").split())
    if cleaned and all(c in "0123456789abcdefABCDEF" for c in cleaned) and len(cleaned) % 2 == 0:
        return bytes.fromhex(cleaned)
    return data


def _disasm(ns: argparse.Namespace) -> int:
    lines = disassemble(isa.decode(_program_bytes(_read(ns.file))))
    if ns.json:
        print(json.dumps({"lines": lines}))
    else:
        print("\n".join(lines))
    return 0


def _run(ns: argparse.Namespace) -> int:
    prog = Program.load(assemble(_read(ns.file).decode("utf-8")), Path(ns.file).stem)
    vm = default_engine()
    r0 = vm.run(prog, bytearray.fromhex(ns.mem))
    if ns.json:
        print(json.dumps({"r0": r0, "insns_executed": vm.insns_executed}))
    else:
        print(f"r0 = 0x{r0:x} ({vm.insns_executed} instructions)")
    return 0


def _verify(ns: argparse.Namespace) -> int:
    from tuxnet.bpf import verifier
    from tuxnet.bpf.conformance import _instructions, parse_data
    from tuxnet.bpf.verifier.protos import UBPF_TEST_PROTOS

    path = Path(ns.file)
    kw: dict[str, object] = {}
    mem_size = ns.mem_size
    if path.suffix == ".data":
        data = parse_data(path.read_text(encoding="utf-8"))
        insns = _instructions(data)
        mem_size = len(data.mem) if mem_size is None else mem_size
        ctx_name = ns.ctx or "raw"
        kw = {"protos": UBPF_TEST_PROTOS, "allowed_funcs": frozenset(UBPF_TEST_PROTOS)}
    else:
        raw = _read(ns.file)
        try:
            insns = assemble(raw.decode("utf-8"))
        except UnicodeDecodeError:
            insns = isa.decode(raw)
        ctx_name = ns.ctx or "xdp"
    ctx = verifier.XDP if ctx_name == "xdp" else verifier.raw_context(mem_size or 0)
    caps = {"root": verifier.ROOT, "bpf": verifier.CAP_BPF,
            "unpriv": verifier.UNPRIVILEGED}[ns.caps]
    r = verifier.verify(insns, ctx, caps=caps, log_level=ns.log_level,
                        insn_limit=ns.insn_limit, **kw)  # type: ignore[arg-type]
    if ns.json:
        print(json.dumps({"ok": r.ok, "message": r.message, "pc": r.pc, "errno": r.errno,
                          "insns_processed": r.insns_processed, "log": r.log}))
    else:
        print(r.log, end="")
        print("verification succeeded" if r.ok
              else f"verification failed at insn {r.pc}: {r.message}")
    return 0 if r.ok else 1


def _is_elf(path: str) -> bool:
    """An ELF object (``clang -target bpf -c`` output) rather than assembly or bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def main(argv: list[str], prog: str = "tuxnet bpf") -> int:
    """Entry point of ``tuxnet bpf``."""
    if argv[:2] == ["map", "dump"]:  # bpftool's grammar: objects from an ELF file
        from tuxnet.tools.bpf_obj_cmd import cmd_map_dump

        return cmd_map_dump(argv[2:], prog=f"{prog} map dump")
    if len(argv) >= 2 and argv[0] == "verify" and _is_elf(argv[1]):
        from tuxnet.tools.bpf_obj_cmd import cmd_verify

        return cmd_verify(argv[1:], prog=f"{prog} verify")
    ns = _parser(prog).parse_args(argv)
    handler = {"conformance": _conformance, "asm": _asm, "disasm": _disasm, "run": _run,
               "verify": _verify}
    try:
        return handler[ns.cmd](ns)
    except (BpfError, OSError, UnicodeDecodeError, ValueError) as e:
        print(f"{prog} {ns.cmd}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
