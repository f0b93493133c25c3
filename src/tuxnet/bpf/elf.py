"""ELF loader for eBPF objects built with ``clang -O2 -g -target bpf -c``.

``load_object(path)`` reads the object the way libbpf does (its documented SEC()
conventions) and returns a :class:`~tuxnet.bpf.objspec.BpfObject`:

- **programs**: every ``STT_FUNC`` symbol of an executable section other than
  ``.text`` (a section without function symbols is one program named after it). The
  section name gives the program type: ``xdp``, ``xdp.frags``, ``xdp/devmap``,
  ``xdp/cpumap``, the legacy ``xdp/<anything>``, ``tc``/``classifier``, ``socket``.
- **subprograms** (bpf-to-bpf calls): ``call`` with an ``R_BPF_64_32`` relocation goes
  to ``sym.st_value + (imm + 1) * 8`` of the symbol's section (usually ``.text``);
  every function a program reaches is appended once and the call's imm re-pointed.
- **maps**: BTF-defined maps in ``.maps`` (decoded from the variables' BTF), legacy
  ``struct bpf_map_def`` in ``maps``, and ``.rodata*``/``.data*``/``.bss*`` as
  single-entry array maps (``.rodata`` frozen). ``lddw`` with an ``R_BPF_64_64``
  relocation becomes ``map_idx N`` (a map) or ``map_idx_value N, off`` (a global).

Anything it cannot honour (CO-RE relocations, kfunc or ``.kconfig`` externs, function
pointers, map-in-map, unknown relocation types or program sections) is refused with a
:class:`BpfLoadError` naming the section and symbol. pyelftools is imported lazily:
it is the optional extra ``tuxnet[elf]``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuxnet.bpf import isa
from tuxnet.bpf.btf import Btf, parse_btf_ext
from tuxnet.bpf.errors import BpfError, BpfLoadError
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.objspec import (
    BPF_F_RDONLY_PROG,
    BPF_F_XDP_HAS_FRAGS,
    BPF_MAP_TYPE_ARRAY,
    BPF_PROG_TYPE_SCHED_CLS,
    BPF_PROG_TYPE_SOCKET_FILTER,
    BPF_PROG_TYPE_XDP,
    BPF_XDP,
    BPF_XDP_CPUMAP,
    BPF_XDP_DEVMAP,
    BpfObject,
    LoadedProgram,
    MapRef,
    MapSpec,
)
from tuxnet.bpf.program import Program

EM_BPF = 247          # include/uapi/linux/elf-em.h
R_BPF_NONE = 0        # llvm BPF ELF relocations (llvm/BinaryFormat/ELFRelocs/BPF.def)
R_BPF_64_64 = 1       # lddw imm64: a map or a global
R_BPF_64_ABS64 = 2    # data sections (.BTF, .maps initialisers)
R_BPF_64_ABS32 = 3
R_BPF_64_NODYLD32 = 4  # .BTF.ext
R_BPF_64_32 = 10      # call imm: a bpf-to-bpf call target

# SEC() name -> (prog type, expected attach type, prog flags); libbpf: SEC_DEF table.
# A name matches exactly or as "<name>/<anything>" (the legacy xdp/... and tc/... forms).
_SECTION_TYPES: tuple[tuple[str, int, int, int], ...] = (
    ("xdp.frags/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, BPF_F_XDP_HAS_FRAGS),
    ("xdp.frags/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, BPF_F_XDP_HAS_FRAGS),
    ("xdp/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, 0),
    ("xdp/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, 0),
    ("xdp.frags", BPF_PROG_TYPE_XDP, BPF_XDP, BPF_F_XDP_HAS_FRAGS),
    ("xdp", BPF_PROG_TYPE_XDP, BPF_XDP, 0),
    ("tc", BPF_PROG_TYPE_SCHED_CLS, 0, 0),
    ("classifier", BPF_PROG_TYPE_SCHED_CLS, 0, 0),
    ("socket", BPF_PROG_TYPE_SOCKET_FILTER, 0, 0),
)
_BPF_MAP_DEF = struct.Struct("<IIIII")  # struct bpf_map_def (legacy "maps" section)
# BTF .maps fields tuxnet reads, and those it accepts and ignores (libbpf: parse_btf_map_def)
_MAP_FIELDS = frozenset({"type", "key_size", "value_size", "max_entries", "map_flags",
                         "key_type_id", "value_type_id"})
_MAP_IGNORED = frozenset({"pinning", "numa_node", "map_extra"})

MapFactory = Callable[[MapSpec], Any]


def section_type(name: str) -> tuple[int, int, int] | None:
    """(prog type, expected attach type, prog flags) of a SEC() name, or None."""
    for prefix, ptype, attach, flags in _SECTION_TYPES:
        if name == prefix or name.startswith(prefix + "/"):
            return ptype, attach, flags
    return None


# --- the ELF file, reduced to what the loader needs ----------------------------------------

@dataclass(frozen=True, slots=True)
class _Sym:
    name: str
    value: int
    size: int
    type: str        # STT_FUNC, STT_OBJECT, STT_SECTION, STT_NOTYPE, ...
    bind: str        # STB_GLOBAL, STB_LOCAL, STB_WEAK
    shndx: int       # -1 for undefined, -2 for other special indexes (ABS, COMMON)


@dataclass(slots=True)
class _Sec:
    index: int
    name: str
    type: str
    flags: int
    data: bytes
    size: int


_SHF_WRITE = 0x1
_SHF_ALLOC = 0x2
_SHF_EXECINSTR = 0x4
_SHF_COMPRESSED = 0x800


class _Elf:
    """Sections, symbols and relocations of one object (read once with pyelftools)."""

    def __init__(self, path: str) -> None:
        try:
            from elftools.common.exceptions import (  # type: ignore[import-untyped,unused-ignore]
                ELFError,
            )
            from elftools.construct.core import (  # type: ignore[import-untyped,unused-ignore]
                ConstructError,
            )
            from elftools.elf.elffile import ELFFile  # type: ignore[import-untyped,unused-ignore]
        except ImportError as e:
            raise BpfLoadError("loading ELF objects needs pyelftools: "
                               "pip install 'tuxnet[elf]'") from e
        self.path = path
        try:
            with open(path, "rb") as f:
                self.raw = f.read()
                f.seek(0)
                self._read(ELFFile(f))
        except OSError as e:
            raise BpfLoadError(f"{path}: {e.strerror or e}") from None
        except (ELFError, ConstructError, ValueError, IndexError, KeyError, OverflowError,
                struct.error, UnicodeDecodeError) as e:
            # pyelftools' own errors and what a corrupt header makes it raise
            raise BpfLoadError(f"{path}: malformed ELF object: {e!r}") from None

    def _read(self, elf: Any) -> None:
        if elf["e_machine"] != "EM_BPF" or elf.elfclass != 64:
            raise BpfLoadError(f"{self.path}: not a 64-bit eBPF object "
                               f"(e_machine {elf['e_machine']}, ELFCLASS{elf.elfclass})")
        if not elf.little_endian:
            raise BpfLoadError(f"{self.path}: big-endian eBPF objects (-target bpfeb) are "
                               f"not supported")
        self.sections: list[_Sec] = []
        self.symbols: list[_Sym] = []
        self.relocs: dict[int, dict[int, tuple[int, _Sym]]] = {}  # target shndx -> off ->
        rel_secs: list[Any] = []
        for i, s in enumerate(elf.iter_sections()):
            self.sections.append(self._section(i, s))
            kind = s.header["sh_type"]
            if kind == "SHT_SYMTAB":
                self.symbols = [_sym(x) for x in s.iter_symbols()]
            elif kind == "SHT_REL":
                rel_secs.append(s)
            elif kind == "SHT_RELA":
                raise BpfLoadError(f"{self.path}: section '{s.name}': RELA relocations are "
                                   f"not used by BPF objects")
        for sym in self.symbols:
            if sym.shndx >= len(self.sections):
                raise BpfLoadError(f"{self.path}: symbol '{sym.name}' is in section "
                                   f"{sym.shndx}, which does not exist")
        for s in rel_secs:
            target = s.header["sh_info"]
            if not 0 < target < len(self.sections):
                raise BpfLoadError(f"{self.path}: section '{s.name}' relocates section "
                                   f"{target}, which does not exist")
            tsec = self.sections[target]
            if not tsec.flags & _SHF_EXECINSTR:
                self._check_data_relocs(s, tsec.name)
                continue
            table = self.relocs.setdefault(target, {})
            for r in s.iter_relocations():
                off, sym = r["r_offset"], r["r_info_sym"]
                if off % isa.INSN_SIZE or off >= tsec.size or sym >= len(self.symbols):
                    raise BpfLoadError(f"{self.path}: section '{s.name}': bad relocation "
                                       f"(offset {off}, symbol {sym}) for '{tsec.name}' of "
                                       f"{tsec.size} bytes")
                table[off] = (r["r_info_type"], self.symbols[sym])

    def _section(self, i: int, s: Any) -> _Sec:
        """A section with its bytes cut from the file (bounds checked here, so a corrupt
        size never makes pyelftools read gigabytes)."""
        h = s.header
        size, off = h["sh_size"], h["sh_offset"]
        if h["sh_flags"] & _SHF_COMPRESSED:
            raise BpfLoadError(f"{self.path}: section '{s.name}' is compressed")
        data = b""
        if h["sh_type"] not in ("SHT_NOBITS", "SHT_NULL"):
            if off + size > len(self.raw):
                raise BpfLoadError(f"{self.path}: section '{s.name}' ({size} bytes at "
                                   f"{off}) runs past the end of the file")
            data = self.raw[off:off + size]
        return _Sec(i, s.name, h["sh_type"], h["sh_flags"], data, size)

    def _check_data_relocs(self, rel: Any, target: str) -> None:
        # Relocations inside .maps mean initial values (prog-array or map-in-map slots).
        if target == ".maps" and rel.num_relocations():
            raise BpfLoadError(f"{self.path}: section '.maps' has relocations (initial "
                               f"map-in-map or prog-array values), which are not supported")

    def by_name(self, name: str) -> _Sec | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None


def _sym(s: Any) -> _Sym:
    shndx = s["st_shndx"]
    if shndx == "SHN_UNDEF":
        idx = -1
    elif isinstance(shndx, str):
        idx = -2
    else:
        idx = int(shndx)
    return _Sym(s.name, s["st_value"], s["st_size"], s["st_info"]["type"],
                s["st_info"]["bind"], idx)


# --- maps ---------------------------------------------------------------------------------

def _btf_maps(elf: _Elf, sec: _Sec, btf: Btf | None) -> list[tuple[int, MapSpec]]:
    syms = sorted((s for s in elf.symbols if s.shndx == sec.index and s.type == "STT_OBJECT"),
                  key=lambda s: s.value)
    if syms and btf is None:
        raise BpfLoadError(f"{elf.path}: section '.maps' needs BTF (compile with -g)")
    out: list[tuple[int, MapSpec]] = []
    for s in syms:
        assert btf is not None
        var = btf.find_var(".maps", s.name)
        if var is None:
            raise BpfLoadError(f"{elf.path}: map '{s.name}' in '.maps' has no BTF variable")
        d = btf.map_def(var)
        unknown = set(d) - _MAP_FIELDS - _MAP_IGNORED
        if unknown:
            raise BpfLoadError(f"{elf.path}: map '{s.name}': unsupported field(s) "
                               f"{', '.join(sorted(unknown))}")
        if "type" not in d:
            raise BpfLoadError(f"{elf.path}: map '{s.name}' has no type")
        out.append((s.value, MapSpec(
            s.name, d["type"], d.get("key_size", 0), d.get("value_size", 0),
            d.get("max_entries", 0), d.get("map_flags", 0), ".maps",
            btf_key_type_id=d.get("key_type_id", 0),
            btf_value_type_id=d.get("value_type_id", 0))))
    return out


def _legacy_maps(elf: _Elf, sec: _Sec) -> list[tuple[int, MapSpec]]:
    syms = sorted((s for s in elf.symbols if s.shndx == sec.index
                   and s.type in ("STT_OBJECT", "STT_NOTYPE") and s.name), key=lambda s: s.value)
    if not syms:
        return []
    def_size = sec.size // len(syms)
    if def_size < _BPF_MAP_DEF.size or def_size * len(syms) != sec.size:
        raise BpfLoadError(f"{elf.path}: section 'maps': {sec.size} bytes for {len(syms)} "
                           f"maps is not a whole number of struct bpf_map_def")
    out: list[tuple[int, MapSpec]] = []
    for s in syms:
        raw = sec.data[s.value:s.value + def_size]
        if len(raw) < def_size:
            raise BpfLoadError(f"{elf.path}: map '{s.name}' runs past the 'maps' section")
        if any(raw[_BPF_MAP_DEF.size:]):
            raise BpfLoadError(f"{elf.path}: map '{s.name}': extra fields of a {def_size}-"
                               f"byte map definition (iproute2 style) are not supported")
        mtype, ksize, vsize, entries, flags = _BPF_MAP_DEF.unpack_from(raw, 0)
        out.append((s.value, MapSpec(s.name, mtype, ksize, vsize, entries, flags, "maps")))
    return out


def _is_data_section(sec: _Sec) -> bool:
    if not sec.flags & _SHF_ALLOC or sec.flags & _SHF_EXECINSTR:
        return False
    return any(sec.name == p or sec.name.startswith(p + ".")
               for p in (".rodata", ".data", ".bss"))


# KMALLOC_MAX_SIZE on x86-64 (1 << (MAX_PAGE_ORDER 10 + PAGE_SHIFT 12)): array_map_alloc_check
# refuses a larger value_size with E2BIG, so a data section cannot be bigger
_DATA_SECTION_MAX = 1 << 22


def _data_map(sec: _Sec, path: object) -> MapSpec:
    if sec.size > _DATA_SECTION_MAX:
        raise BpfLoadError(f"{path}: section {sec.name} is {sec.size} bytes; a data map "
                           f"value is at most {_DATA_SECTION_MAX} (E2BIG)")
    ro = sec.name.startswith(".rodata")
    init = bytes(sec.size) if sec.type == "SHT_NOBITS" else sec.data
    # libbpf internal maps: ARRAY, key 4, one entry of the section's size
    return MapSpec(sec.name, BPF_MAP_TYPE_ARRAY, 4, sec.size, 1,
                   BPF_F_RDONLY_PROG if ro else 0, sec.name, init, ro)


# --- programs -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Func:
    shndx: int
    start: int   # byte offset in its section
    size: int
    name: str


class _Linker:
    """Builds each program: copies its function, appends the subprograms it reaches,
    resolves map relocations (libbpf: bpf_object__relocate)."""

    def __init__(self, elf: _Elf, maps_at: dict[tuple[int, int], int],
                 specs: list[MapSpec]) -> None:
        self.elf = elf
        self.maps_at = maps_at
        self.specs = specs
        self.funcs: dict[tuple[int, int], _Func] = {}
        for s in elf.symbols:
            if s.type == "STT_FUNC" and s.shndx >= 0:
                self.funcs[(s.shndx, s.value)] = _Func(s.shndx, s.value, s.size, s.name)

    def link(self, main: _Func) -> tuple[list[Insn], list[MapRef], list[str]]:
        """(instructions, map references, names of the appended subprograms)."""
        order = [main]
        queued = {(main.shndx, main.start)}
        base: dict[tuple[int, int], int] = {}
        pending: list[tuple[int, tuple[int, int]]] = []  # (call pc, target function)
        code: list[Insn] = []
        refs: list[MapRef] = []
        for fn in order:  # grows while it runs: each reached function once
            at = len(code)
            base[(fn.shndx, fn.start)] = at
            body, calls, frefs = self._function(fn, at)
            code.extend(body)
            refs.extend(frefs)
            for pc, target in calls:
                if target not in queued:
                    queued.add(target)
                    order.append(self._func_at(target, fn, pc - at))
                pending.append((pc, target))
        for pc, target in pending:  # RFC 9669 4.3.1: imm is relative to the next insn
            code[pc] = code[pc]._replace(imm=base[target] - (pc + 1))
        return code, refs, [f.name for f in order[1:]]

    def _func_at(self, target: tuple[int, int], caller: _Func, pc: int) -> _Func:
        fn = self.funcs.get(target)
        sec = self.elf.sections[target[0]]
        if fn is None:
            caller_sec = self.elf.sections[caller.shndx].name
            raise BpfLoadError(f"{self.elf.path}: section '{caller_sec}', function "
                               f"'{caller.name}' insn {pc}: call target {sec.name}+"
                               f"{target[1]} is not the start of a function")
        return fn

    def _function(self, fn: _Func, at: int) -> tuple[list[Insn], list[tuple[int, tuple[int, int]]],
                                                      list[MapRef]]:
        elf = self.elf
        sec = elf.sections[fn.shndx]
        where = f"{elf.path}: section '{sec.name}', function '{fn.name}'"
        raw = sec.data[fn.start:fn.start + fn.size]
        if len(raw) != fn.size or fn.size % isa.INSN_SIZE or not fn.size:
            raise BpfLoadError(f"{where}: {fn.size} bytes is not a whole number of insns")
        try:
            body = isa.decode(raw)
        except BpfError as e:
            raise BpfLoadError(f"{where}: {e}") from None
        relocs = elf.relocs.get(fn.shndx, {})
        calls: list[tuple[int, tuple[int, int]]] = []
        refs: list[MapRef] = []
        for k, insn in enumerate(body):
            off = fn.start + k * isa.INSN_SIZE
            rel = relocs.get(off)
            if rel is not None:
                rtype, sym = rel
                symtxt = sym.name or f"section {elf.sections[sym.shndx].name}" \
                    if sym.shndx >= 0 else sym.name
                what = f"{where} insn {k}: relocation against '{symtxt}'"
                if rtype == R_BPF_64_64:
                    body[k], ref = self._lddw(insn, body, k, sym, what)
                    refs.append(MapRef(at + k, ref[0], self.specs[ref[0]].name, ref[1]))
                elif rtype == R_BPF_64_32:
                    calls.append((at + k, self._call(insn, sym, what)))
                    body[k] = insn._replace(src=isa.BPF_PSEUDO_CALL)
                elif rtype != R_BPF_NONE:
                    raise BpfLoadError(f"{what}: unsupported relocation type {rtype}")
            elif insn.opcode == isa.OPCODE_CALL and insn.src == isa.BPF_PSEUDO_CALL:
                # an unrelocated local call stays inside this section
                target = (fn.shndx, off + (insn.imm + 1) * isa.INSN_SIZE)
                if fn.start <= target[1] < fn.start + fn.size:
                    continue  # inside this function: the offset is already right
                calls.append((at + k, target))
        return body, calls, refs

    def _call(self, insn: Insn, sym: _Sym, what: str) -> tuple[int, int]:
        if insn.opcode != isa.OPCODE_CALL:
            raise BpfLoadError(f"{what}: R_BPF_64_32 on a non-call instruction")
        if sym.shndx == -2:
            raise BpfLoadError(f"{what}: call to an absolute/common symbol")
        if sym.shndx < 0:
            raise BpfLoadError(f"{what}: call to extern '{sym.name}' (kfunc) is not supported")
        if not self.elf.sections[sym.shndx].flags & _SHF_EXECINSTR:
            raise BpfLoadError(f"{what}: call target is in non-code section "
                               f"'{self.elf.sections[sym.shndx].name}'")
        # llvm: target = symbol value + (imm + 1) * 8 bytes into the symbol's section
        return (sym.shndx, sym.value + (insn.imm + 1) * isa.INSN_SIZE)

    def _lddw(self, insn: Insn, body: list[Insn], k: int, sym: _Sym,
              what: str) -> tuple[Insn, tuple[int, int | None]]:
        if insn.opcode != isa.OPCODE_LDDW or k + 1 >= len(body):
            raise BpfLoadError(f"{what}: R_BPF_64_64 on a non-lddw instruction")
        if sym.shndx == -2:
            raise BpfLoadError(f"{what}: absolute/common symbol '{sym.name}' (compile with "
                               f"-fno-common)")
        if sym.shndx < 0:
            raise BpfLoadError(f"{what}: extern variable '{sym.name}' (.kconfig/.ksyms) is "
                               f"not supported")
        sec = self.elf.sections[sym.shndx]
        addend = insn.imm & 0xFFFF_FFFF  # REL: the addend sits in the imm field
        if sec.flags & _SHF_EXECINSTR:
            fn = self.funcs.get((sym.shndx, sym.value + addend))
            raise BpfLoadError(f"{what}: function pointer to '{fn.name if fn else sym.name}' "
                               f"in '{sec.name}' (BPF_PSEUDO_FUNC, callbacks) is not "
                               f"supported")
        if _is_data_section(sec):
            idx = self.maps_at.get((sym.shndx, 0))
            if idx is None:
                raise BpfLoadError(f"{what}: no map for data section '{sec.name}'")
            off = sym.value + addend
            if off >= self.specs[idx].value_size:
                raise BpfLoadError(f"{what}: offset {off} past the end of '{sec.name}'")
            return insn._replace(src=isa.BPF_PSEUDO_MAP_IDX_VALUE, imm=idx), (idx, off)
        idx = self.maps_at.get((sym.shndx, sym.value + addend))
        if idx is None:
            raise BpfLoadError(f"{what}: '{sym.name}' in section '{sec.name}' is not a map")
        return insn._replace(src=isa.BPF_PSEUDO_MAP_IDX, imm=idx), (idx, None)


# --- the loader ---------------------------------------------------------------------------

def read_object(path: str | Path) -> BpfObject:
    """Parse and relocate an object file; no maps are created (``.maps`` stays empty)."""
    elf = _Elf(str(path))
    lic_sec = elf.by_name("license")
    lic = lic_sec.data.split(b"\0", 1)[0].decode("ascii", "replace") if lic_sec else ""
    obj = BpfObject(str(path), lic)
    btf_sec = elf.by_name(".BTF")
    btf = Btf(btf_sec.data) if btf_sec is not None else None
    ext = elf.by_name(".BTF.ext")
    if ext is not None:
        info = parse_btf_ext(ext.data, btf)
        if info.core_relo_len:
            secs = ", ".join(f"'{s}'" for s in info.core_relo_sections) or "unknown"
            raise BpfLoadError(f"{obj.path}: CO-RE relocations (section(s) {secs}) are not "
                               f"supported: tuxnet has no kernel BTF to relocate against")
    maps_at: dict[tuple[int, int], int] = {}
    for sec in elf.sections:
        if sec.name == ".maps":
            found = _btf_maps(elf, sec, btf)
        elif sec.name == "maps":
            found = _legacy_maps(elf, sec)
        elif _is_data_section(sec) and sec.size:
            found = [(0, _data_map(sec, obj.path))]
        else:
            continue
        for off, spec in found:
            maps_at[(sec.index, off)] = len(obj.map_specs)
            obj.map_specs.append(spec)
    names = [m.name for m in obj.map_specs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise BpfLoadError(f"{obj.path}: duplicate map name(s) {', '.join(sorted(dup))}")
    linker = _Linker(elf, maps_at, obj.map_specs)
    for sec in elf.sections:
        if not sec.flags & _SHF_EXECINSTR or sec.name == ".text" or not sec.size:
            continue
        kind = section_type(sec.name)
        if kind is None:
            raise BpfLoadError(f"{obj.path}: section '{sec.name}': program type not "
                               f"supported (known: xdp, xdp.frags, xdp/devmap, xdp/cpumap, "
                               f"tc, classifier, socket)")
        for fn in _programs_in(elf, sec):
            insns, refs, subs = linker.link(fn)
            try:
                prog = Program.load(insns, fn.name)
            except BpfError as e:
                raise BpfLoadError(f"{obj.path}: section '{sec.name}', program "
                                   f"'{fn.name}': {e}") from None
            if fn.name in obj.programs:
                raise BpfLoadError(f"{obj.path}: duplicate program name '{fn.name}'")
            obj.programs[fn.name] = LoadedProgram(
                fn.name, sec.name, kind[0], kind[1], kind[2], tuple(insns), tuple(refs),
                prog, lic, tuple(subs))
    return obj


def _programs_in(elf: _Elf, sec: _Sec) -> list[_Func]:
    funcs = sorted((s for s in elf.symbols if s.shndx == sec.index and s.type == "STT_FUNC"),
                   key=lambda s: s.value)
    if not funcs:  # old objects: the whole section is one program
        name = sec.name.replace("/", "_").replace(".", "_")
        return [_Func(sec.index, 0, sec.size, name)]
    for s in funcs:
        if s.bind == "STB_LOCAL":
            # libbpf: a static function in a program section is not a program
            raise BpfLoadError(f"{elf.path}: section '{sec.name}': program '{s.name}' is "
                               f"static; programs must be global functions")
    return [_Func(sec.index, s.value, s.size, s.name) for s in funcs]


def load_object(path: str | Path, create_map: MapFactory | None = None) -> BpfObject:
    """Read an object file and create its maps with ``create_map`` (default: tuxnet's
    maps, ``tuxnet.bpf.xdp_run.create_map``); global data maps get their initial bytes."""
    obj = read_object(path)
    if create_map is None:
        from tuxnet.bpf.xdp_run import create_map as default_factory
        create_map = default_factory
    for spec in obj.map_specs:
        obj.maps[spec.name] = create_map(spec)
    return obj
