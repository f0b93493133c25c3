"""Reading the PREVAIL verifier's YAML test cases and turning them into tuxnet programs.

PREVAIL (github.com/vbpf/ebpf-verifier, MIT) describes each case by a pre-state
(``r1.type=packet``, ``r1.svalue=[0, 5]``, ``s[504...511].type=number``...), code in its
assembly syntax (kernel-style: ``r2 = *(u8 *)(r1 + 0)``, ``if r3 > r2 goto <out>``, plus
its own ``assume`` statements) grouped in labelled blocks, and the messages it expects.
This module parses the small YAML subset those files use (no PyYAML needed), translates
the code into instructions and the pre-state into entry registers and stack for
``tuxnet.bpf.verifier.verify``, and says which cases tuxnet can express
(:func:`unsupported` gives the reason a case is left out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.verifier import reg as R
from tuxnet.bpf.verifier.reg import Reg, RegType
from tuxnet.bpf.verifier.state import MISC, SLOT, SPILL, Frame, Slot
from tuxnet.bpf.verifier.tnum import M64

# --- YAML subset ------------------------------------------------------------------------

_KEY = re.compile(r"^([A-Za-z][A-Za-z_-]*):\s*(.*)$")
_ITEM = re.compile(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^,\s][^,]*)')


def _flow_list(text: str) -> list[str]:
    body = text.strip()
    assert body.startswith("[") and body.endswith("]"), body
    out = []
    for m in _ITEM.finditer(body[1:-1]):
        item = m.group(1) if m.group(1) is not None else m.group(2) or m.group(3)
        out.append(item.strip())
    return out


def _strip_comment(line: str) -> str:
    """Drop a ``# comment`` that is not inside quotes."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    return s


def parse_documents(text: str) -> list[dict[str, object]]:
    """The ``---``-separated documents of a PREVAIL test file."""
    docs: list[dict[str, object]] = []
    for chunk in re.split(r"^---\s*$", text, flags=re.M):
        lines = [_strip_comment(ln) for ln in chunk.splitlines()
                 if not ln.lstrip().startswith("#")]
        doc: dict[str, object] = {}
        i = 0
        while i < len(lines):
            m = _KEY.match(lines[i])
            if m is None:
                i += 1
                continue
            key, rest = m.group(1), m.group(2).strip()
            i += 1
            if rest.startswith("["):
                while rest.count("[") > rest.count("]") and i < len(lines):
                    rest += " " + lines[i].strip()
                    i += 1
                doc[key] = _flow_list(rest)
            elif rest:
                doc[key] = _unquote(rest)
            else:
                block = []
                while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                    block.append(lines[i])
                    i += 1
                doc[key] = _block(block)
        if doc:
            docs.append(doc)
    return docs


def _block(lines: list[str]) -> object:
    items = [ln.strip() for ln in lines if ln.strip()]
    if items and all(it.startswith("- ") or it == "-" for it in items):
        return [_unquote(it[2:]) for it in items]
    code: dict[str, list[str]] = {}
    label = None
    for ln in lines:
        m = re.match(r"^\s*(<[^>]+>):\s*\|\s*$", ln)
        if m:
            label = m.group(1)
            code[label] = []
        elif label is not None and ln.strip():
            code[label].append(ln.strip())
    return code


# --- the code ---------------------------------------------------------------------------

_ALU = {"+=": isa.BPF_ADD, "-=": isa.BPF_SUB, "*=": isa.BPF_MUL, "/=": isa.BPF_DIV,
        "%=": isa.BPF_MOD, "|=": isa.BPF_OR, "&=": isa.BPF_AND, "^=": isa.BPF_XOR,
        "<<=": isa.BPF_LSH, ">>=": isa.BPF_RSH, "s>>=": isa.BPF_ARSH, "s/=": isa.BPF_DIV,
        "s%=": isa.BPF_MOD, "=": isa.BPF_MOV}
_JMP = {"==": isa.BPF_JEQ, "!=": isa.BPF_JNE, ">": isa.BPF_JGT, ">=": isa.BPF_JGE,
        "<": isa.BPF_JLT, "<=": isa.BPF_JLE, "s>": isa.BPF_JSGT, "s>=": isa.BPF_JSGE,
        "s<": isa.BPF_JSLT, "s<=": isa.BPF_JSLE, "&": isa.BPF_JSET}
_NEG_JMP = {isa.BPF_JEQ: isa.BPF_JNE, isa.BPF_JNE: isa.BPF_JEQ, isa.BPF_JGT: isa.BPF_JLE,
            isa.BPF_JLE: isa.BPF_JGT, isa.BPF_JGE: isa.BPF_JLT, isa.BPF_JLT: isa.BPF_JGE,
            isa.BPF_JSGT: isa.BPF_JSLE, isa.BPF_JSLE: isa.BPF_JSGT,
            isa.BPF_JSGE: isa.BPF_JSLT, isa.BPF_JSLT: isa.BPF_JSGE}
_SIZES = {"u8": isa.BPF_B, "u16": isa.BPF_H, "u32": isa.BPF_W, "u64": isa.BPF_DW,
          "s8": isa.BPF_B, "s16": isa.BPF_H, "s32": isa.BPF_W}
_ATOMIC = {"+=": isa.BPF_ADD, "|=": isa.BPF_OR, "&=": isa.BPF_AND, "^=": isa.BPF_XOR,
           "x=": isa.BPF_XCHG, "cx=": isa.BPF_CMPXCHG}
_REG = r"([rw])(\d+)"
_NUM = r"(-?(?:0x[0-9a-fA-F]+|\d+))"
_MEMREF = r"\*\((u8|u16|u32|u64|s8|s16|s32) \*\)\(r(\d+) ?([+-]) ?(\d+)\)"
ASSUME_FAIL = "<__assume_fail>"


class Unsupported(Exception):
    """A construct this harness does not translate."""


def _num(tok: str) -> int:
    return int(tok, 0)


@dataclass
class _Asm:
    insns: list[Insn] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    fixups: list[tuple[int, str, str]] = field(default_factory=list)  # (pc, label, field)

    def emit(self, insn: Insn) -> None:
        self.insns.append(insn)

    def jump(self, insn: Insn, label: str, fld: str = "off") -> None:
        self.fixups.append((len(self.insns), label, fld))
        self.insns.append(insn)


def _line(a: _Asm, text: str) -> None:
    text = text.split(";", 1)[0].strip()
    if not text:
        return
    text = re.sub(r"^([rw]\d+)\s*=\s*(?=[rw]\d+$)", r"\1 = ", text)  # "r5=r5"
    m = re.fullmatch(r"r(\d+) = map_fd (\d+)", text)
    if m:
        a.insns.extend(isa.lddw(int(m.group(1)), int(m.group(2)), isa.BPF_PSEUDO_MAP_FD))
        return
    if "skb[" in text:
        raise Unsupported("legacy packet access (LD_ABS/LD_IND)")
    if text == "exit":
        a.emit(Insn(isa.OPCODE_EXIT))
        return
    m = re.fullmatch(r"goto (<[^>]+>)", text)
    if m:
        a.jump(Insn(isa.BPF_JMP | isa.BPF_JA), m.group(1))
        return
    m = re.fullmatch(r"call (<[^>]+>)", text)
    if m:
        a.jump(Insn(isa.OPCODE_CALL, src=isa.BPF_PSEUDO_CALL), m.group(1), "imm")
        return
    m = re.fullmatch(r"call (\d+)", text)
    if m:
        a.emit(Insn(isa.OPCODE_CALL, imm=int(m.group(1))))
        return
    if text.startswith("callx"):
        raise Unsupported("callx is not in Linux's instruction set")
    m = re.fullmatch(rf"(if|assume) {_REG} (==|!=|>=|>|<=|<|s>=|s>|s<=|s<|&) "
                     rf"(?:{_REG}|{_NUM})(?: goto (<[^>]+>))?", text)
    if m:
        kind, w, d, op, _sw, s, imm, label = m.groups()
        code = _JMP[op]
        cls = isa.BPF_JMP32 if w == "w" else isa.BPF_JMP
        if kind == "assume":  # continue only where it holds: jump away where it fails
            if code == isa.BPF_JSET:
                raise Unsupported("assume with &")
            code, label = _NEG_JMP[code], ASSUME_FAIL
        if s is not None:
            insn = Insn(cls | code | isa.BPF_X, int(d), int(s))
        else:
            insn = Insn(cls | code, int(d), imm=_s32(_num(imm)))
        if label is None:
            raise Unsupported(f"jump without a target: {text}")
        a.jump(insn, label)
        return
    m = re.fullmatch(rf"lock {_MEMREF} (\+=|\|=|&=|\^=|x=|cx=) r(\d+)( fetch)?", text)
    if m:
        size, base, sign, off, op, src, fetch = m.groups()
        imm = _ATOMIC[op] | (isa.BPF_FETCH if fetch else 0)
        a.emit(Insn(isa.BPF_STX | isa.BPF_ATOMIC | _SIZES[size], int(base), int(src),
                    _off(sign, off), imm))
        return
    m = re.fullmatch(rf"{_MEMREF} = (?:r(\d+)|{_NUM})", text)
    if m:
        size, base, sign, off, src, imm = m.groups()
        if src is not None:
            a.emit(Insn(isa.BPF_STX | isa.BPF_MEM | _SIZES[size], int(base), int(src),
                        _off(sign, off)))
        else:
            a.emit(Insn(isa.BPF_ST | isa.BPF_MEM | _SIZES[size], int(base), 0,
                        _off(sign, off), _s32(_num(imm))))
        return
    m = re.fullmatch(rf"r(\d+) = {_MEMREF}", text)
    if m:
        dst, size, base, sign, off = m.groups()
        mode = isa.BPF_MEMSX if size.startswith("s") else isa.BPF_MEM
        a.emit(Insn(isa.BPF_LDX | mode | _SIZES[size], int(dst), int(base), _off(sign, off)))
        return
    _alu_line(a, text)


def _alu_line(a: _Asm, text: str) -> None:
    m = re.fullmatch(rf"r(\d+) = {_NUM}ll", text)
    if m:
        a.insns.extend(isa.lddw(int(m.group(1)), _num(m.group(2))))
        return
    m = re.fullmatch(r"r(\d+) = (be|le|swap)(16|32|64) r(\d+)", text)
    if m:
        d, kind, width, s = m.groups()
        if d != s:
            raise Unsupported(text)
        opcode = {"le": isa.BPF_ALU | isa.BPF_END | isa.BPF_TO_LE,
                  "be": isa.BPF_ALU | isa.BPF_END | isa.BPF_TO_BE,
                  "swap": isa.BPF_ALU64 | isa.BPF_END}[kind]
        a.emit(Insn(opcode, int(d), imm=int(width)))
        return
    m = re.fullmatch(rf"{_REG} = - ?{_REG}", text)
    if m:
        w, d, _w2, s = m.groups()
        if d != s:
            raise Unsupported(text)
        a.emit(Insn((isa.BPF_ALU if w == "w" else isa.BPF_ALU64) | isa.BPF_NEG, int(d)))
        return
    m = re.fullmatch(rf"{_REG} s(8|16|32)= {_REG}", text)
    if m:
        w, d, width, _w2, s = m.groups()
        cls = isa.BPF_ALU if w == "w" else isa.BPF_ALU64
        if cls == isa.BPF_ALU and width == "32":
            raise Unsupported(text)
        a.emit(Insn(cls | isa.BPF_MOV | isa.BPF_X, int(d), int(s), int(width)))
        return
    m = re.fullmatch(rf"{_REG} (\+=|-=|\*=|/=|%=|\|=|&=|\^=|<<=|>>=|s>>=|s/=|s%=|=) "
                     rf"(?:{_REG}|{_NUM})", text)
    if m:
        w, d, op, _w2, s, imm = m.groups()
        cls = isa.BPF_ALU if w == "w" else isa.BPF_ALU64
        off = 1 if op in ("s/=", "s%=") else 0
        if s is not None:
            a.emit(Insn(cls | _ALU[op] | isa.BPF_X, int(d), int(s), off))
            return
        v = _num(imm)
        if cls == isa.BPF_ALU64 and op == "=" and not -(1 << 31) <= v < (1 << 31):
            a.insns.extend(isa.lddw(int(d), v))
            return
        a.emit(Insn(cls | _ALU[op] | isa.BPF_K, int(d), 0, off, _s32(v)))
        return
    raise Unsupported(f"cannot translate {text!r}")


def _off(sign: str, off: str) -> int:
    return -int(off) if sign == "-" else int(off)


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v >> 31 else v


def assemble_code(code: dict[str, list[str]]) -> list[Insn]:
    """Blocks in order; a fall-through off the end and failed assumes reach an exit
    with r0 = 0 (PREVAIL's programs may simply stop; Linux needs an exit)."""
    a = _Asm()
    for label, lines in code.items():
        a.labels[label] = len(a.insns)
        for line in lines:
            _line(a, line)
    last = a.insns[-1].opcode if a.insns else None
    falls_off = last not in (isa.OPCODE_EXIT, isa.BPF_JMP | isa.BPF_JA)
    if falls_off or any(label == ASSUME_FAIL for _, label, _ in a.fixups):
        a.labels[ASSUME_FAIL] = len(a.insns)
        a.emit(Insn(isa.BPF_ALU64 | isa.BPF_MOV | isa.BPF_K, 0))
        a.emit(Insn(isa.OPCODE_EXIT))
    for pc, label, fld in a.fixups:
        if label not in a.labels:
            raise Unsupported(f"unknown label {label}")
        rel = a.labels[label] - pc - 1
        a.insns[pc] = a.insns[pc]._replace(**{fld: rel})
    return a.insns


# --- the pre-state ------------------------------------------------------------------------

@dataclass(eq=False)
class FakeMap:
    """PREVAIL's test map descriptor (ebpf_yaml.cpp: key 4, value 4, 4 entries)."""

    map_type: int
    key_size: int = 4
    value_size: int = 4
    max_entries: int = 4


TEST_MAP = FakeMap(1)
TEST_PROG_MAP = FakeMap(3)


class TestMaps:
    """Every map fd names PREVAIL's test map."""

    def map_by_fd(self, fd: int) -> FakeMap | None:
        return TEST_MAP

    def map_by_index(self, idx: int) -> FakeMap | None:
        return TEST_MAP
_RANGE = re.compile(r"^\[\s*(-?\d+),\s*(-?\d+|\+oo)\s*\]$")


def _interval(text: str) -> tuple[int, int] | None:
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text), int(text)
    m = _RANGE.match(text)
    if m is None:
        return None
    hi = (1 << 64) - 1 if m.group(2) == "+oo" else int(m.group(2))
    return int(m.group(1)), hi


def entry_state(pre: list[str]) -> tuple[dict[int, Reg], Frame]:
    """Entry registers and stack for a PREVAIL pre-state (Unsupported if not expressible)."""
    regs: dict[int, dict[str, str]] = {}
    stack: list[tuple[int, int, dict[str, str]]] = []
    glob: dict[str, str] = {}
    for item in pre:
        key, _, value = item.partition("=")
        m = re.fullmatch(r"r(\d+)\.(\w+)", key)
        if m:
            regs.setdefault(int(m.group(1)), {})[m.group(2)] = value
            continue
        m = re.fullmatch(r"s\[(\d+)(?:\.\.\.(\d+))?\]\.(\w+)", key)
        if m:
            lo = int(m.group(1))
            hi = int(m.group(2) or lo)
            for s in stack:
                if s[0] == lo and s[1] == hi:
                    s[2][m.group(3)] = value
                    break
            else:
                stack.append((lo, hi, {m.group(3): value}))
            continue
        if key in ("packet_size", "meta_offset"):
            glob[key] = value
            continue
        raise Unsupported(f"pre-state constraint {item!r}")
    out = {i: _reg(i, fields, glob) for i, fields in regs.items()}
    return out, _stack(stack)


def _reg(i: int, f: dict[str, str], glob: dict[str, str]) -> Reg:
    for v in f.values():
        relational = re.search(r"r\d+\.|packet_size", v) and not (
            v == "packet_size" and "packet_offset" in f)
        if relational and not (v.startswith(f"r{i}.") and v.endswith("svalue")):
            raise Unsupported(f"relational pre-state for r{i}")
    t = f.get("type", "")
    if t == "number":
        s = _interval(f.get("svalue", "[-9223372036854775808, 9223372036854775807]"))
        u = _interval(f.get("uvalue", "[0, 18446744073709551615]")) \
            if not f.get("uvalue", "").startswith("r") else None
        if s is None:
            raise Unsupported(f"r{i}.svalue")
        if u is None:  # uvalue=rN.svalue: the same set read unsigned
            u = (0, (1 << 64) - 1) if s[0] < 0 <= s[1] else (s[0] & M64, s[1] & M64)
        if u[0] > u[1]:
            u = (0, (1 << 64) - 1)
        r = R.scalar(umin=u[0], umax=u[1], smin=s[0], smax=s[1])
        if R.is_bottom(r):
            raise Unsupported(f"r{i} bounds are inconsistent")
        return r
    if t == "ctx":
        return R.pointer(RegType.PTR_TO_CTX, int(f.get("ctx_offset", "0")))
    if t == "stack":
        rng = _interval(f.get("stack_offset", "512"))
        if rng is None:
            raise Unsupported(f"r{i}.stack_offset")
        if rng[0] == rng[1]:
            return R.pointer(RegType.PTR_TO_STACK, rng[0] - 512)
        base = R.pointer(RegType.PTR_TO_STACK)
        var = R.scalar(umin=0, umax=rng[1] - rng[0])
        return R.with_var(base._replace(off=rng[0] - 512), var.var, var.umin, var.umax,
                          var.smin, var.smax)
    if t == "packet":
        if f.get("packet_offset") == "packet_size":
            return R.pointer(RegType.PTR_TO_PACKET_END)
        pkt_off = _interval(f.get("packet_offset", "0"))
        if pkt_off is None or pkt_off[0] != pkt_off[1]:
            raise Unsupported(f"r{i}.packet_offset range")
        # PREVAIL's packet_size lower bound: bytes readable without a data_end check
        known = (_interval(glob.get("packet_size", "0")) or (0, 0))[0]
        return R.pointer(RegType.PTR_TO_PACKET, pkt_off[0],
                         range=max(known - pkt_off[0], 0))
    if t == "shared":
        region = int(f.get("shared_region_size", "0"))
        shared_off = int(f.get("shared_offset", "0"))
        m = FakeMap(1, 4, region) if region else FakeMap(1, 4, 1)
        addr = _interval(f.get("svalue", "[1, 1]")) or (1, 1)
        if addr[0] <= 0:  # the address may be 0: a lookup result not yet checked
            return R.pointer(RegType.PTR_TO_MAP_VALUE_OR_NULL, shared_off, map=m,
                             id=1000 + i)
        return R.pointer(RegType.PTR_TO_MAP_VALUE, shared_off, map=m)
    if t == "map_fd":
        return R.pointer(RegType.CONST_PTR_TO_MAP, map=TEST_MAP)
    if t == "map_fd_programs":
        return R.pointer(RegType.CONST_PTR_TO_MAP, map=TEST_PROG_MAP)
    raise Unsupported(f"r{i}.type={t or '(none)'}")


def _stack(entries: list[tuple[int, int, dict[str, str]]]) -> Frame:
    frame = Frame(0)
    for lo, hi, f in entries:
        if not 0 <= lo <= hi < 512:
            raise Unsupported("stack pre-state outside the 512-byte frame")
        if f.get("type") != "number" or any(v.startswith("r") for v in f.values()):
            raise Unsupported("stack pre-state other than numbers")
        value = _interval(f.get("svalue", "x") or "x")
        if value is not None and value[0] == value[1] and hi - lo == 7 and lo % 8 == 0:
            frame.set_slot((511 - lo) // SLOT, Slot(SPILL * SLOT, R.const(value[0])))
            continue
        for addr in range(lo, hi + 1):
            off = addr - 512
            spi = (-off - 1) // SLOT
            b = off + SLOT * (spi + 1)
            slot = frame.slot(spi)
            if slot.spilled is not None:
                raise Unsupported("overlapping stack pre-state")
            frame.set_slot(spi, Slot(slot.kinds[:b] + MISC + slot.kinds[b + 1:]))
    return frame


# --- cases --------------------------------------------------------------------------------

@dataclass
class Case:
    file: str
    name: str
    options: list[str]
    pre: list[str]
    code: dict[str, list[str]]
    messages: list[str]

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"

    @property
    def expect_reject(self) -> bool:
        """PREVAIL's verdict in Linux's terms: any message other than its note that
        an ``assume`` or a branch made code unreachable is a rejection."""
        return any("Code becomes unreachable" not in m for m in self.messages)


def load_cases(directory: Path) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "test-schema.yaml":
            continue
        for doc in parse_documents(path.read_text(encoding="utf-8")):
            if "test-case" not in doc:
                continue
            code = doc.get("code")
            cases.append(Case(path.name, str(doc["test-case"]), _list(doc.get("options")),
                              _list(doc.get("pre")), code if isinstance(code, dict) else {},
                              _list(doc.get("messages"))))
    return cases


def _list(v: object) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list) else []
