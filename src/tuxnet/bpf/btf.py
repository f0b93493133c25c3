"""BTF (BPF Type Format) reading: just what the ELF loader needs.

Parses the ``.BTF`` section of a ``clang -target bpf -g`` object into a type table,
resolves type sizes, decodes BTF-defined map definitions (libbpf's ``.maps``
convention: ``__uint(name, N)`` is ``int (*name)[N]``, ``__type(name, T)`` is
``T *name``), and reads the ``.BTF.ext`` header to refuse CO-RE relocations with a
clear error. Layouts are ``include/uapi/linux/btf.h`` (struct btf_header, btf_type and
the per-kind trailers) and ``tools/lib/bpf/libbpf_internal.h`` (btf_ext_header).
Standard library only; every malformed input ends in :class:`BpfLoadError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from tuxnet.bpf.errors import BpfLoadError

BTF_MAGIC = 0xEB9F  # include/uapi/linux/btf.h

# include/uapi/linux/btf.h: BTF_KIND_*
KIND_INT = 1
KIND_PTR = 2
KIND_ARRAY = 3
KIND_STRUCT = 4
KIND_UNION = 5
KIND_ENUM = 6
KIND_FWD = 7
KIND_TYPEDEF = 8
KIND_VOLATILE = 9
KIND_CONST = 10
KIND_RESTRICT = 11
KIND_FUNC = 12
KIND_FUNC_PROTO = 13
KIND_VAR = 14
KIND_DATASEC = 15
KIND_FLOAT = 16
KIND_DECL_TAG = 17
KIND_TYPE_TAG = 18
KIND_ENUM64 = 19

KIND_NAMES = {
    KIND_INT: "int", KIND_PTR: "ptr", KIND_ARRAY: "array", KIND_STRUCT: "struct",
    KIND_UNION: "union", KIND_ENUM: "enum", KIND_FWD: "fwd", KIND_TYPEDEF: "typedef",
    KIND_VOLATILE: "volatile", KIND_CONST: "const", KIND_RESTRICT: "restrict",
    KIND_FUNC: "func", KIND_FUNC_PROTO: "func_proto", KIND_VAR: "var",
    KIND_DATASEC: "datasec", KIND_FLOAT: "float", KIND_DECL_TAG: "decl_tag",
    KIND_TYPE_TAG: "type_tag", KIND_ENUM64: "enum64",
}
# Kinds that only qualify another type: the size is the target's.
_MODIFIERS = frozenset({KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT,
                        KIND_TYPE_TAG})
_SIZED = frozenset({KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64,
                    KIND_DATASEC, KIND_FLOAT})
# Bytes that follow struct btf_type, per kind: fixed part and per-vlen part.
_TRAILER = {
    KIND_INT: (4, 0), KIND_ARRAY: (12, 0), KIND_STRUCT: (0, 12), KIND_UNION: (0, 12),
    KIND_ENUM: (0, 8), KIND_FUNC_PROTO: (0, 8), KIND_VAR: (4, 0), KIND_DATASEC: (0, 12),
    KIND_DECL_TAG: (4, 0), KIND_ENUM64: (0, 12),
}
_HDR = struct.Struct("<HBBIIIII")    # struct btf_header
_TYPE = struct.Struct("<III")        # struct btf_type: name_off, info, size/type
_U32x3 = struct.Struct("<III")
_EXT_HDR = struct.Struct("<HBBI")    # btf_ext_header: magic, version, flags, hdr_len


@dataclass(slots=True)
class BtfType:
    """One decoded type. ``ref`` is the size/type word; ``members`` is
    (name, type id, offset/value) per struct member, enum value, param or datasec var."""

    id: int
    kind: int
    name: str
    ref: int
    vlen: int
    kind_flag: bool
    extra: int = 0                       # INT encoding, VAR linkage, DECL_TAG index
    array: tuple[int, int, int] = (0, 0, 0)  # ARRAY: elem type, index type, nelems
    members: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, f"kind{self.kind}")


class Btf:
    """A parsed ``.BTF`` blob: ``types[id]`` (id 0 is void) and the string table."""

    def __init__(self, data: bytes, where: str = ".BTF") -> None:
        self.where = where
        if len(data) < _HDR.size:
            raise BpfLoadError(f"{where}: section too short for a BTF header")
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, str_len = \
            _HDR.unpack_from(data, 0)
        if magic != BTF_MAGIC:
            raise BpfLoadError(f"{where}: bad magic 0x{magic:04x} (want 0xeb9f; only "
                               f"little-endian BTF is supported)")
        base = hdr_len
        if base + max(type_off + type_len, str_off + str_len) > len(data):
            raise BpfLoadError(f"{where}: type or string section runs past the end")
        self.strings = data[base + str_off:base + str_off + str_len]
        self.types: list[BtfType] = [BtfType(0, 0, "void", 0, 0, False)]
        self._parse(data, base + type_off, base + type_off + type_len)

    def name_at(self, off: int) -> str:
        if off >= len(self.strings):
            raise BpfLoadError(f"{self.where}: string offset {off} out of range")
        end = self.strings.find(b"\0", off)
        return self.strings[off:end if end >= 0 else len(self.strings)].decode(
            "utf-8", "replace")

    def _parse(self, data: bytes, pos: int, end: int) -> None:
        while pos < end:
            if pos + _TYPE.size > end:
                raise BpfLoadError(f"{self.where}: truncated type {len(self.types)}")
            name_off, info, ref = _TYPE.unpack_from(data, pos)
            pos += _TYPE.size
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            if kind not in KIND_NAMES:
                raise BpfLoadError(f"{self.where}: type {len(self.types)} has unknown BTF "
                                   f"kind {kind}")
            t = BtfType(len(self.types), kind, self.name_at(name_off), ref, vlen,
                        bool(info >> 31))
            fixed, per = _TRAILER.get(kind, (0, 0))
            if pos + fixed + per * vlen > end:
                raise BpfLoadError(f"{self.where}: truncated {t.kind_name} type {t.id}")
            if kind == KIND_ARRAY:
                t.array = _U32x3.unpack_from(data, pos)
            elif fixed == 4:
                t.extra = struct.unpack_from("<I", data, pos)[0]
            pos += fixed
            for i in range(vlen if per else 0):
                o = pos + i * per
                if per == 12:
                    a, b, c = _U32x3.unpack_from(data, o)
                    # DATASEC entries are (type, offset, size): keep the var's type id
                    nm = "" if kind == KIND_DATASEC else self.name_at(a)
                    t.members.append((nm, a if kind == KIND_DATASEC else b,
                                      b if kind == KIND_DATASEC else c))
                else:
                    a, b = struct.unpack_from("<II", data, o)
                    t.members.append((self.name_at(a), b, b))
            pos += per * vlen
            self.types.append(t)

    # --- queries ----------------------------------------------------------------------
    def get(self, type_id: int) -> BtfType:
        if not 0 <= type_id < len(self.types):
            raise BpfLoadError(f"{self.where}: type id {type_id} out of range")
        return self.types[type_id]

    def skip_modifiers(self, type_id: int) -> BtfType:
        """The type behind typedef/const/volatile/restrict/type_tag chains."""
        t = self.get(type_id)
        for _ in range(64):
            if t.kind not in _MODIFIERS:
                return t
            t = self.get(t.ref)
        raise BpfLoadError(f"{self.where}: modifier loop at type {type_id}")

    def size_of(self, type_id: int) -> int:
        """btf__resolve_size: the byte size of a type."""
        t = self.skip_modifiers(type_id)
        for _ in range(64):
            if t.kind in _SIZED:
                return t.ref
            if t.kind == KIND_PTR:
                return 8
            if t.kind == KIND_ARRAY:
                return t.array[2] * self.size_of(t.array[0])
            if t.kind == KIND_VAR:
                t = self.skip_modifiers(t.ref)
                continue
            break
        raise BpfLoadError(f"{self.where}: type {type_id} ({t.kind_name} '{t.name}') "
                           f"has no size")

    def find_var(self, datasec: str, name: str) -> BtfType | None:
        """The VAR named ``name`` listed in DATASEC ``datasec``."""
        for t in self.types:
            if t.kind == KIND_DATASEC and t.name == datasec:
                for _nm, tid, _size in t.members:
                    v = self.get(tid)
                    if v.kind == KIND_VAR and v.name == name:
                        return v
        return None

    def map_def(self, var: BtfType) -> dict[str, int]:
        """Decode a BTF-defined map (libbpf ``.maps``): field name -> value.

        ``__uint(f, N)`` gives N; ``__type(f, T)`` gives ``f_size`` = sizeof(T) (so
        ``key`` -> ``key_size``) and ``f_type_id``. Fields tuxnet cannot honour
        (``values`` = initial map-in-map / prog-array contents) raise BpfLoadError.
        """
        st = self.skip_modifiers(var.ref)
        where = f"map '{var.name}'"
        if st.kind != KIND_STRUCT:
            raise BpfLoadError(f"{self.where}: {where} is a {st.kind_name}, not a struct")
        out: dict[str, int] = {}
        for mname, mtype, _off in st.members:
            m = self.skip_modifiers(mtype)
            if mname == "values":
                raise BpfLoadError(f"{self.where}: {where}: initial 'values' (map-in-map or "
                                   f"prog-array contents) are not supported")
            if mname in ("inner_map", "inner"):
                raise BpfLoadError(f"{self.where}: {where}: map-in-map definitions are not "
                                   f"supported")
            if m.kind != KIND_PTR:
                raise BpfLoadError(f"{self.where}: {where}: field '{mname}' is a "
                                   f"{m.kind_name}, expected __uint or __type (a pointer)")
            target = self.skip_modifiers(m.ref)
            if mname in ("key", "value"):
                out[f"{mname}_size"] = self.size_of(m.ref)
                out[f"{mname}_type_id"] = m.ref
            elif target.kind == KIND_ARRAY:
                out[mname] = target.array[2]
            else:
                raise BpfLoadError(f"{self.where}: {where}: field '{mname}' is not an "
                                   f"__uint() (pointer to array)")
        return out


@dataclass(frozen=True)
class BtfExtInfo:
    """What the ``.BTF.ext`` header says: sizes of func/line info and CO-RE relocations."""

    func_info_len: int
    line_info_len: int
    core_relo_len: int
    core_relo_sections: tuple[str, ...]


def parse_btf_ext(data: bytes, btf: Btf | None) -> BtfExtInfo:
    """Read the btf_ext_header and list the sections that carry CO-RE relocations."""
    if len(data) < _EXT_HDR.size + 16:
        raise BpfLoadError(".BTF.ext: section too short for its header")
    magic, _ver, _flags, hdr_len = _EXT_HDR.unpack_from(data, 0)
    if magic != BTF_MAGIC:
        raise BpfLoadError(f".BTF.ext: bad magic 0x{magic:04x}")
    _fo, flen, _lo, llen = struct.unpack_from("<IIII", data, 8)
    core_off = core_len = 0
    if hdr_len >= 32:
        core_off, core_len = struct.unpack_from("<II", data, 24)
    secs: list[str] = []
    if core_len and btf is not None:
        pos = hdr_len + core_off
        end = pos + core_len
        if end > len(data) or core_len < 4:
            raise BpfLoadError(".BTF.ext: CO-RE relocation table runs past the end")
        rec = struct.unpack_from("<I", data, pos)[0]
        pos += 4
        while pos + 8 <= end and rec:
            sec_off, n = struct.unpack_from("<II", data, pos)
            secs.append(btf.name_at(sec_off))
            pos += 8 + n * rec
    return BtfExtInfo(flen, llen, core_len, tuple(secs))
