"""What an eBPF object file declares, independent of how it is run.

The ELF loader (``tuxnet.bpf.elf``) produces these values; the tuxnet runtime
(``tuxnet.bpf.xdp_run``) and the kernel oracle (``tuxnet.bpf.kernel``) each turn them
into live maps and loaded programs. Standard library only.

Map references inside a program's instructions use the kernel's index form
(include/uapi/linux/bpf.h): ``lddw rX, map_idx N`` (src ``BPF_PSEUDO_MAP_IDX``) for a
map and ``lddw rX, map_idx_value N, OFF`` (``BPF_PSEUDO_MAP_IDX_VALUE``) for a global
variable, where N indexes :attr:`BpfObject.map_specs`. :meth:`LoadedProgram.with_fds`
rewrites them to ``BPF_PSEUDO_MAP_FD`` / ``BPF_PSEUDO_MAP_VALUE`` with real fds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tuxnet.bpf import isa
from tuxnet.bpf.errors import BpfLoadError
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.program import Program

# include/uapi/linux/bpf.h: enum bpf_prog_type (the ones tuxnet loads)
BPF_PROG_TYPE_SOCKET_FILTER = 1
BPF_PROG_TYPE_SCHED_CLS = 3
BPF_PROG_TYPE_XDP = 6
PROG_TYPE_NAMES = {BPF_PROG_TYPE_SOCKET_FILTER: "socket_filter",
                   BPF_PROG_TYPE_SCHED_CLS: "sched_cls", BPF_PROG_TYPE_XDP: "xdp"}

# include/uapi/linux/bpf.h: enum bpf_attach_type (XDP's)
BPF_XDP_DEVMAP = 33
BPF_XDP_CPUMAP = 35
BPF_XDP = 37
BPF_F_XDP_HAS_FRAGS = 1 << 5   # BPF_PROG_LOAD prog_flags
BPF_F_NO_PREALLOC = 1 << 0     # BPF_MAP_CREATE map_flags
BPF_F_RDONLY_PROG = 1 << 7

# include/uapi/linux/bpf.h: enum bpf_map_type
MAP_TYPE_NAMES = {
    1: "hash", 2: "array", 3: "prog_array", 4: "perf_event_array", 5: "percpu_hash",
    6: "percpu_array", 7: "stack_trace", 8: "cgroup_array", 9: "lru_hash",
    10: "lru_percpu_hash", 11: "lpm_trie", 12: "array_of_maps", 13: "hash_of_maps",
    14: "devmap", 15: "sockmap", 16: "cpumap", 17: "xskmap", 18: "sockhash",
    22: "queue", 23: "stack", 25: "devmap_hash", 27: "ringbuf", 30: "bloom_filter",
}
BPF_MAP_TYPE_ARRAY = 2
PERCPU_MAP_TYPES = frozenset({5, 6, 10})


@dataclass(frozen=True)
class MapSpec:
    """One map as the object defines it (``struct bpf_map_def`` / BTF ``.maps`` fields).

    Global data sections become single-entry arrays (libbpf's internal maps): ``initial``
    holds the section bytes (zeros for ``.bss``) and ``.rodata`` is ``frozen``
    (read-only to programs: BPF_F_RDONLY_PROG, then BPF_MAP_FREEZE).
    """

    name: str
    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int = 0
    section: str = ".maps"
    initial: bytes | None = None
    frozen: bool = False
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0

    @property
    def type_name(self) -> str:
        return MAP_TYPE_NAMES.get(self.map_type, f"type{self.map_type}")

    @property
    def is_global_data(self) -> bool:
        return self.initial is not None


@dataclass(frozen=True)
class MapRef:
    """lddw at ``pc`` refers to map ``index`` (``offset`` is set for a global's value)."""

    pc: int
    index: int
    name: str
    offset: int | None = None


@dataclass(frozen=True)
class LoadedProgram:
    """One program of an object: relocated instructions (subprograms appended)."""

    name: str
    section: str
    prog_type: int
    expected_attach_type: int
    prog_flags: int
    insns: tuple[Insn, ...]
    map_refs: tuple[MapRef, ...]
    program: Program
    license: str = ""
    subprograms: tuple[str, ...] = ()

    @property
    def type_name(self) -> str:
        return PROG_TYPE_NAMES.get(self.prog_type, f"type{self.prog_type}")

    def with_fds(self, fds: Sequence[int]) -> list[Insn]:
        """The instructions with map indexes replaced by ``fds[index]``
        (BPF_PSEUDO_MAP_FD, or BPF_PSEUDO_MAP_VALUE with the offset in the second slot)."""
        out = list(self.insns)
        for ref in self.map_refs:
            first, second = out[ref.pc], out[ref.pc + 1]
            if ref.offset is None:
                out[ref.pc] = first._replace(src=isa.BPF_PSEUDO_MAP_FD, imm=fds[ref.index])
            else:
                out[ref.pc] = first._replace(src=isa.BPF_PSEUDO_MAP_VALUE, imm=fds[ref.index])
                out[ref.pc + 1] = second._replace(imm=ref.offset)
        return out


@dataclass
class BpfObject:
    """An object file: its programs, its map definitions (``map_specs``, in ELF order;
    lddw map indexes point into this list) and the maps created from them (``maps``,
    by name; tuxnet maps from :func:`tuxnet.bpf.elf.load_object`'s map factory)."""

    path: str
    license: str
    programs: dict[str, LoadedProgram] = field(default_factory=dict)
    map_specs: list[MapSpec] = field(default_factory=list)
    maps: dict[str, Any] = field(default_factory=dict)

    def map_spec(self, name: str) -> MapSpec:
        return self.map_specs[self.map_index(name)]

    def map_index(self, name: str) -> int:
        for i, m in enumerate(self.map_specs):
            if m.name == name:
                return i
        raise KeyError(f"{self.path}: no map named {name!r} "
                       f"(maps: {', '.join(m.name for m in self.map_specs) or 'none'})")

    def program(self, name_or_section: str) -> LoadedProgram:
        """A program by function name, else the only program of that ELF section."""
        prog = self.programs.get(name_or_section)
        if prog is not None:
            return prog
        in_sec = [p for p in self.programs.values() if p.section == name_or_section]
        if len(in_sec) == 1:
            return in_sec[0]
        if in_sec:
            raise BpfLoadError(f"{self.path}: section '{name_or_section}' holds several "
                               f"programs ({', '.join(p.name for p in in_sec)}); name one")
        raise BpfLoadError(f"{self.path}: no program or section '{name_or_section}' "
                           f"(programs: {', '.join(self.programs) or 'none'})")
