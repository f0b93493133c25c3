"""``tuxnet bpf``: eBPF tools — conformance runner, assembler, disassembler, runner.

    tuxnet bpf conformance FILE.data|DIR ... [--json]   one line per file, then
                                                        "N passed, N failed"
    tuxnet bpf asm FILE [-o OUT]      assemble; print hex slots (or write raw bytes)
    tuxnet bpf disasm FILE            disassemble raw bytes or hex text
    tuxnet bpf run FILE [--mem HEX]   assemble and run; print r0
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


def main(argv: list[str], prog: str = "tuxnet bpf") -> int:
    """Entry point of ``tuxnet bpf``."""
    ns = _parser(prog).parse_args(argv)
    handler = {"conformance": _conformance, "asm": _asm, "disasm": _disasm, "run": _run}
    try:
        return handler[ns.cmd](ns)
    except (BpfError, OSError, UnicodeDecodeError, ValueError) as e:
        print(f"{prog} {ns.cmd}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
