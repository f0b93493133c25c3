"""Runner for bpf_conformance ``.data`` files (the format uBPF introduced).

A file has sections started by ``-- <name>`` lines; ``#`` lines before the first section
are a header. Sections: ``asm`` (assembly, ``tuxnet.bpf.asm`` syntax), ``raw`` (the
program as hex bytes, or as ``0x`` 64-bit slot values), ``mem`` (hex bytes; r1 = their
address, r2 = their length), ``result`` (expected r0, hex or decimal), ``error``
(the program must be rejected; its text, if any, is another runtime's wording and is
reported, not matched), ``no register offset`` and ``c`` (informational, ignored).
Any other section makes the file invalid, as in bpf_conformance.

Verdicts: a case passes when the program loads and runs and r0 equals ``result`` (all
64 bits), or, for an ``error`` case, when loading or running rejects the program. A file
that cannot be parsed or assembled, or that has no instructions, fails: the negative
files of bpf_conformance check exactly that a runner refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tuxnet.bpf import isa
from tuxnet.bpf.asm import assemble
from tuxnet.bpf.engine import BpfEngine
from tuxnet.bpf.errors import BpfAsmError, BpfError
from tuxnet.bpf.helpers import ubpf_test_helpers
from tuxnet.bpf.interp import Interpreter
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.program import Program

KNOWN_SECTIONS = ("asm", "raw", "mem", "result", "error", "no register offset", "c")


class DataFormatError(BpfError):
    """A ``.data`` file is not in the expected format."""


@dataclass(slots=True)
class DataFile:
    """The sections of one ``.data`` file."""

    asm: str | None = None
    raw: bytes | None = None
    mem: bytes = b""
    result: int | None = None
    error: str | None = None  # None: no error section; "": an error, wording unspecified


@dataclass(slots=True)
class CaseResult:
    """Outcome of one file: ``stage`` is where it ended (parse, assemble, load, run, result)."""

    path: str
    passed: bool
    stage: str
    reason: str = ""
    expected: int | None = None
    actual: int | None = None
    expected_error: str | None = None
    error: str | None = None
    insns_executed: int = 0

    def line(self) -> str:
        """The runner's one line for this case."""
        return f"PASS {self.path}" if self.passed else f"FAIL {self.path}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _strip(line: str) -> str:
    return line.split("#", 1)[0].strip()


def parse_data(text: str) -> DataFile:
    """Split a ``.data`` file into its sections; DataFormatError on malformed input."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("--"):
            name = line[2:].strip()
            if name not in KNOWN_SECTIONS:
                raise DataFormatError(f"line {lineno}: unknown directive '{line.strip()}'")
            if name in sections:
                raise DataFormatError(f"line {lineno}: section '{name}' appears twice")
            current = name
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    data = DataFile()
    if "asm" in sections:
        data.asm = "\n".join(sections["asm"])
    if "raw" in sections:
        data.raw = _raw_bytes(sections["raw"])
    if "mem" in sections:
        data.mem = _hex_bytes(sections["mem"], "mem")
    if "result" in sections:
        words = [w for w in (_strip(x) for x in sections["result"]) if w]
        if len(words) != 1:
            raise DataFormatError("-- result must hold exactly one value")
        try:
            data.result = int(words[0], 0) & 0xFFFF_FFFF_FFFF_FFFF
        except ValueError:
            raise DataFormatError(f"-- result: invalid value {words[0]!r}") from None
    if "error" in sections:
        data.error = "\n".join(x.strip() for x in sections["error"]).strip()
    return data


def _hex_bytes(lines: list[str], what: str) -> bytes:
    toks = " ".join(_strip(x) for x in lines).split()
    if any(len(t) != 2 for t in toks):
        raise DataFormatError(f"-- {what}: expected two-digit hex bytes")
    try:
        return bytes.fromhex(" ".join(toks))
    except ValueError:
        raise DataFormatError(f"-- {what}: invalid hex") from None


def _raw_bytes(lines: list[str]) -> bytes:
    toks = " ".join(_strip(x) for x in lines).split()
    if toks and all(t.lower().startswith("0x") for t in toks):
        try:  # older form: one little-endian 64-bit value per slot
            return b"".join(int(t, 16).to_bytes(8, "little") for t in toks)
        except (ValueError, OverflowError):
            raise DataFormatError("-- raw: invalid 64-bit slot value") from None
    return _hex_bytes(lines, "raw")


EngineFactory = Callable[[], BpfEngine]


def default_engine(insn_limit: int = 1_000_000) -> BpfEngine:
    """The interpreter with uBPF's test helpers, as bpf_conformance files expect."""
    return Interpreter(ubpf_test_helpers(), insn_limit=insn_limit)


def run_file(path: str | Path, engine: EngineFactory | None = None) -> CaseResult:
    """Parse, assemble, load and run one ``.data`` file; never raises on bad input."""
    name = str(path)
    try:
        data = parse_data(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, DataFormatError) as e:
        return CaseResult(name, False, "parse", f"cannot parse: {e}")
    return run_data(data, name, engine)


def run_data(data: DataFile, name: str = "<data>",
             engine: EngineFactory | None = None) -> CaseResult:
    """Run an already parsed case (see :func:`run_file`)."""
    res = CaseResult(name, False, "parse", expected=data.result, expected_error=data.error)
    if data.asm is None and data.raw is None:
        res.reason = "test file has no BPF instructions (no -- asm or -- raw section)"
        return res
    if data.result is None and data.error is None:
        res.reason = "no -- result or -- error section"
        return res
    try:
        insns = _instructions(data)
    except BpfAsmError as e:
        res.stage, res.reason, res.error = "assemble", f"assembler: {e}", str(e)
        return res
    if not insns:
        res.reason = "test file has no BPF instructions"
        return res
    vm = (engine or default_engine)()
    try:
        prog = Program.load(insns, Path(name).stem)
        vm.load(prog)  # unknown helpers, unresolved relocations: load-time errors
    except BpfError as e:
        return _rejected(res, "load", e, data)
    try:
        actual = vm.run(prog, bytearray(data.mem))
    except BpfError as e:
        res.insns_executed = vm.insns_executed
        return _rejected(res, "run", e, data)
    res.stage, res.actual, res.insns_executed = "result", actual, vm.insns_executed
    if data.error is not None:
        want = f" ({data.error})" if data.error else ""
        res.reason = f"expected an error{want} but the program returned 0x{actual:x}"
    elif actual != data.result:
        res.reason = f"returned 0x{actual:x}, expected 0x{data.result:x}"
    else:
        res.passed = True
    return res


def _rejected(res: CaseResult, stage: str, e: BpfError, data: DataFile) -> CaseResult:
    res.stage, res.error = stage, str(e)
    if data.error is not None:
        res.passed = True
    else:
        res.reason = f"rejected at {stage}: {e}"
    return res


def _instructions(data: DataFile) -> list[Insn]:
    if data.raw is not None:
        if len(data.raw) % isa.INSN_SIZE:
            raise BpfAsmError(f"-- raw: {len(data.raw)} bytes is not a whole number of "
                              f"8-byte instructions")
        return isa.decode(data.raw)
    if data.asm is not None:
        return assemble(data.asm)
    return []


def run_files(paths: Iterable[str | Path], engine: EngineFactory | None = None
              ) -> list[CaseResult]:
    return [run_file(p, engine) for p in paths]


def summary(results: list[CaseResult]) -> str:
    """The runner's last line: ``N passed, N failed``."""
    passed = sum(r.passed for r in results)
    return f"{passed} passed, {len(results) - passed} failed"
