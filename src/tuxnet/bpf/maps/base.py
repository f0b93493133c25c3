"""What every map shares: attributes, flag checks, value storage in the address space.

A map is created like ``bpf(BPF_MAP_CREATE)`` (type, key_size, value_size, max_entries,
map_flags; OSError with the kernel's errno for invalid attributes) and used two ways:

- from user space (the ``bpf(2)`` commands): ``lookup(key) -> bytes | None``,
  ``update(key, value, flags)``, ``delete(key)``, ``get_next_key(key | None)``, each
  raising ``OSError`` with the errno Linux returns (ENOENT, EEXIST, E2BIG, EINVAL...);
- from programs, through the helpers: ``prog_lookup`` returns the *address* of the
  value in the program's address space (so a program's write through it is what
  user space reads next), ``prog_update``/``prog_delete`` return 0 or ``-errno``.

Values live in one preallocated ``bytearray`` per map (as the kernel preallocates
array and hash elements), ``round_up(value_size, 8)`` bytes per element and, for
per-CPU maps, one such area per CPU. That buffer is mapped as a region into each
address space that uses the map (``tuxnet.bpf.memory``).
"""

from __future__ import annotations

import errno
import weakref
from collections.abc import Iterator

from tuxnet.bpf.memory import AddressSpace

# include/uapi/linux/bpf.h: BPF_MAP_UPDATE_ELEM flags
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
BPF_F_LOCK = 4

# include/uapi/linux/bpf.h: BPF_MAP_CREATE flags
BPF_F_NO_PREALLOC = 1 << 0
BPF_F_NO_COMMON_LRU = 1 << 1
BPF_F_NUMA_NODE = 1 << 2
BPF_F_RDONLY = 1 << 3
BPF_F_WRONLY = 1 << 4
BPF_F_ZERO_SEED = 1 << 6
BPF_F_RDONLY_PROG = 1 << 7
BPF_F_WRONLY_PROG = 1 << 8
BPF_F_MMAPABLE = 1 << 10

# include/uapi/linux/bpf.h: enum bpf_map_type
BPF_MAP_TYPE_HASH = 1
BPF_MAP_TYPE_ARRAY = 2
BPF_MAP_TYPE_PROG_ARRAY = 3
BPF_MAP_TYPE_PERCPU_HASH = 5
BPF_MAP_TYPE_PERCPU_ARRAY = 6
BPF_MAP_TYPE_LRU_HASH = 9
BPF_MAP_TYPE_LRU_PERCPU_HASH = 10
BPF_MAP_TYPE_LPM_TRIE = 11
BPF_MAP_TYPE_DEVMAP = 14
BPF_MAP_TYPE_CPUMAP = 16
BPF_MAP_TYPE_XSKMAP = 17
BPF_MAP_TYPE_DEVMAP_HASH = 25

MAX_BPF_STACK = 512


def err(code: int, what: str = "") -> OSError:
    """An OSError carrying a Linux errno (what bpf(2) would return)."""
    return OSError(code, f"{errno.errorcode.get(code, code)}: {what}" if what else
                   errno.errorcode.get(code, str(code)))


def round_up(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def check_update_flags(flags: int) -> None:
    """Flags every update takes: BPF_ANY, BPF_NOEXIST or BPF_EXIST (BPF_F_LOCK needs a
    bpf_spin_lock in the value, which tuxnet maps never have)."""
    if flags & ~(BPF_NOEXIST | BPF_EXIST) or (flags & BPF_NOEXIST and flags & BPF_EXIST):
        raise err(errno.EINVAL, f"invalid update flags {flags:#x}")


class ValueStore:
    """``n`` elements of ``stride`` bytes for each of ``ncpus`` CPUs, in one buffer that
    programs address as one region (element i of CPU c at base + (c*n + i) * stride)."""

    __slots__ = ("_bases", "buf", "n", "name", "ncpus", "stride", "writable")

    def __init__(self, n: int, value_size: int, ncpus: int, name: str,
                 writable: bool = True) -> None:
        self.n = n
        self.writable = writable  # False for BPF_F_RDONLY_PROG maps
        self.stride = round_up(value_size, 8)
        self.ncpus = ncpus
        self.name = name
        self.buf = bytearray(n * self.stride * ncpus)
        self._bases: weakref.WeakKeyDictionary[AddressSpace, int] = (
            weakref.WeakKeyDictionary())

    def base(self, mem: AddressSpace) -> int:
        b = self._bases.get(mem)
        if b is None:
            b = mem.map(self.buf, self.name, writable=self.writable)
            self._bases[mem] = b
        return b

    def offset(self, idx: int, cpu: int = 0) -> int:
        return (cpu * self.n + idx) * self.stride

    def addr(self, mem: AddressSpace, idx: int, cpu: int = 0) -> int:
        return self.base(mem) + self.offset(idx, cpu)

    def get(self, idx: int, cpu: int = 0) -> bytes:
        o = self.offset(idx, cpu)
        return bytes(self.buf[o:o + self.stride])

    def put(self, idx: int, data: bytes, cpu: int = 0) -> None:
        o = self.offset(idx, cpu)
        self.buf[o:o + len(data)] = data

    def clear(self, idx: int) -> None:
        zero = bytes(self.stride)
        for cpu in range(self.ncpus):
            self.put(idx, zero, cpu)


class BpfMap:
    """Base class of tuxnet's maps (``struct bpf_map``); see the module docstring."""

    map_type = 0
    type_name = "unspec"
    percpu = False

    def __init__(self, key_size: int, value_size: int, max_entries: int, map_flags: int = 0,
                 *, name: str = "", ncpus: int = 1) -> None:
        if ncpus < 1:
            raise ValueError("ncpus must be at least 1")
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.map_flags = map_flags
        self.name = name or self.type_name
        self.ncpus = ncpus
        self.check_attrs()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, key_size={self.key_size}, "
                f"value_size={self.value_size}, max_entries={self.max_entries})")

    def check_attrs(self) -> None:
        if self.key_size <= 0 or self.value_size <= 0 or self.max_entries <= 0:
            raise err(errno.EINVAL, "key_size, value_size and max_entries must be > 0")

    # --- argument checks ------------------------------------------------------------
    def _key(self, key: bytes) -> bytes:
        key = bytes(key)
        if len(key) != self.key_size:
            raise err(errno.EINVAL, f"key is {len(key)} bytes, map key_size is {self.key_size}")
        return key

    @property
    def user_value_size(self) -> int:
        """Bytes a user-space lookup returns (all CPUs' values for per-CPU maps)."""
        return round_up(self.value_size, 8) * self.ncpus if self.percpu else self.value_size

    def _value(self, value: bytes) -> bytes:
        value = bytes(value)
        if len(value) != self.user_value_size:
            raise err(errno.EINVAL, f"value is {len(value)} bytes, expected "
                      f"{self.user_value_size}")
        return value

    # --- user space (bpf(2) commands) -------------------------------------------------
    def lookup(self, key: bytes) -> bytes | None:
        raise NotImplementedError

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        raise NotImplementedError

    def delete(self, key: bytes) -> None:
        raise NotImplementedError

    def get_next_key(self, key: bytes | None) -> bytes:
        """The key after ``key`` (the first for None or a missing key); ENOENT at the end."""
        raise NotImplementedError

    def keys(self) -> Iterator[bytes]:
        """Every key, in get_next_key order."""
        key: bytes | None = None
        while True:
            try:
                key = self.get_next_key(key)
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return
                raise
            yield key

    def items(self) -> Iterator[tuple[bytes, bytes | None]]:
        for k in self.keys():
            try:
                yield k, self.lookup(k)
            except OSError:
                yield k, None

    def lookup_percpu(self, key: bytes) -> list[bytes] | None:
        """A per-CPU map's value on each CPU (each ``value_size`` bytes)."""
        raw = self.lookup(key)
        if raw is None:
            return None
        if not self.percpu:
            return [raw]
        stride = round_up(self.value_size, 8)
        return [raw[i * stride:i * stride + self.value_size] for i in range(self.ncpus)]

    def update_percpu(self, key: bytes, values: list[bytes], flags: int = BPF_ANY) -> None:
        stride = round_up(self.value_size, 8)
        self.update(key, b"".join(bytes(v).ljust(stride, b"\0") for v in values), flags)

    # --- programs (helpers) -----------------------------------------------------------
    def prog_lookup(self, mem: AddressSpace, key: bytes, cpu: int) -> int:
        """bpf_map_lookup_elem from a program: the value's address, or 0."""
        return 0

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        """bpf_map_update_elem from a program: 0 or -errno."""
        return -errno.EINVAL

    def prog_delete(self, key: bytes) -> int:
        return -errno.EINVAL

    def direct_value_addr(self, mem: AddressSpace, off: int) -> int:
        """lddw BPF_PSEUDO_MAP_VALUE (global data): only single-element arrays."""
        raise err(errno.EINVAL, f"{self.type_name} maps have no direct value access")


def errno_of(fn: object) -> int:
    """Run a user-space operation and turn its OSError into -errno (0 on success)."""
    assert callable(fn)
    try:
        fn()
    except OSError as e:
        return -(e.errno or errno.EINVAL)
    return 0
