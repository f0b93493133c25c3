"""The XDP redirect maps: DEVMAP, DEVMAP_HASH, CPUMAP and XSKMAP (kernel/bpf/devmap.c,
cpumap.c, net/xdp/xskmap.c).

Their values name things outside the BPF world — a net device by ifindex, a CPU's
queue by size, an AF_XDP socket by fd — so each map takes a ``resolve`` hook that the
XDP layer supplies: ``resolve(value) -> target | None``. An update whose value does not
resolve fails as Linux does (EINVAL for an unknown ifindex, EBADF for a bad fd); the
resolved target is what ``bpf_redirect_map`` sends to (``target(index)``).
Without a hook, devmap/cpumap accept any nonzero value and xskmap accepts none.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable

from tuxnet.bpf.maps.base import (
    BPF_EXIST,
    BPF_F_NUMA_NODE,
    BPF_F_RDONLY_PROG,
    BPF_F_WRONLY,
    BPF_MAP_TYPE_CPUMAP,
    BPF_MAP_TYPE_DEVMAP,
    BPF_MAP_TYPE_DEVMAP_HASH,
    BPF_MAP_TYPE_XSKMAP,
    BPF_NOEXIST,
    BpfMap,
    ValueStore,
    check_update_flags,
    err,
)
from tuxnet.bpf.memory import AddressSpace

_U32 = struct.Struct("<I")
Resolver = Callable[[int], object | None]
NR_CPUS = 8192  # CONFIG_NR_CPUS on distribution kernels; cpumap max_entries limit
CPUMAP_QSIZE_MAX = 16384  # kernel/bpf/cpumap.c: qsize > 16384 is EOVERFLOW


class _SlotMap(BpfMap):
    """u32 key -> u32 (or two-u32) value; slots may be empty (NULL)."""

    hashed = False
    empty_lookup_errno = errno.ENOENT
    bad_value_errno = errno.EINVAL

    def __init__(self, key_size: int, value_size: int, max_entries: int, map_flags: int = 0,
                 *, name: str = "", ncpus: int = 1, resolve: Resolver | None = None) -> None:
        super().__init__(key_size, value_size, max_entries, map_flags, name=name, ncpus=ncpus)
        self.resolve = resolve
        self.store = ValueStore(max_entries, value_size, 1, f"map:{self.name}")
        self.slots: dict[int, tuple[int, object]] = {}  # key -> (element index, target)
        self.free = list(range(max_entries - 1, -1, -1))

    def check_attrs(self) -> None:
        super().check_attrs()
        if self.key_size != 4 or self.value_size not in (4, 8) or self.map_flags & ~(
                BPF_F_NUMA_NODE | BPF_F_RDONLY_PROG | BPF_F_WRONLY):
            raise err(errno.EINVAL, f"{self.type_name}: key_size 4, value_size 4 or 8")

    def _kv(self, key: bytes) -> int:
        return int(_U32.unpack(self._key(key))[0])

    def _resolve(self, value: bytes) -> object:
        v = int(_U32.unpack_from(value)[0])
        if self.resolve is None:
            return self.default_target(v)
        target = self.resolve(v)
        if target is None:
            raise err(self.bad_value_errno, f"{self.type_name}: value {v} does not resolve")
        return target

    def default_target(self, v: int) -> object:
        if v == 0:
            raise err(self.bad_value_errno, f"{self.type_name}: value 0")
        return v

    def target(self, index: int) -> object | None:
        """What ``bpf_redirect_map(map, index)`` redirects to, or None."""
        slot = self.slots.get(index)
        return None if slot is None else slot[1]

    def lookup(self, key: bytes) -> bytes | None:
        slot = self.slots.get(self._kv(key))
        return None if slot is None else self.store.get(slot[0])[:self.value_size]

    def update(self, key: bytes, value: bytes, flags: int = 0) -> None:
        check_update_flags(flags)
        k = self._kv(key)
        value = self._value(value)
        if not self.hashed and k >= self.max_entries:
            raise err(errno.E2BIG, f"index {k} >= max_entries {self.max_entries}")
        exists = k in self.slots
        if flags & BPF_NOEXIST and (exists or not self.hashed):
            raise err(errno.EEXIST, "element exists")
        if flags & BPF_EXIST and self.hashed and not exists:
            raise err(errno.ENOENT, "no such element")
        target = self._resolve(value)
        if exists:
            idx = self.slots[k][0]
        elif not self.free:
            raise err(errno.E2BIG, "map is full")
        else:
            idx = self.free.pop()
        self.store.put(idx, value)
        self.slots[k] = (idx, target)

    def delete(self, key: bytes) -> None:
        k = self._kv(key)
        if not self.hashed and k >= self.max_entries:
            raise err(errno.EINVAL, f"index {k} >= max_entries {self.max_entries}")
        slot = self.slots.pop(k, None)
        if slot is None:
            if self.hashed:
                raise err(errno.ENOENT, f"no key {k}")
            return  # an array slot that is already empty: still success
        self.free.append(slot[0])

    def get_next_key(self, key: bytes | None) -> bytes:
        if self.hashed:
            keys = list(self.slots)
            k = None if key is None else self._kv(key)
            if k is None or k not in self.slots:
                if not keys:
                    raise err(errno.ENOENT, "map is empty")
                return _U32.pack(keys[0])
            i = keys.index(k) + 1
            if i >= len(keys):
                raise err(errno.ENOENT, "last key")
            return _U32.pack(keys[i])
        k = self.max_entries if key is None else self._kv(key)
        if k >= self.max_entries:
            return _U32.pack(0)
        if k == self.max_entries - 1:
            raise err(errno.ENOENT, "last key")
        return _U32.pack(k + 1)

    def prog_lookup(self, mem: AddressSpace, key: bytes, cpu: int) -> int:
        slot = self.slots.get(int(_U32.unpack(key)[0]))
        return 0 if slot is None else self.store.addr(mem, slot[0])


class DevMap(_SlotMap):
    """Array of net devices (value: ifindex, or struct bpf_devmap_val {ifindex, prog fd})."""

    map_type = BPF_MAP_TYPE_DEVMAP
    type_name = "devmap"


class DevMapHash(_SlotMap):
    map_type = BPF_MAP_TYPE_DEVMAP_HASH
    type_name = "devmap_hash"
    hashed = True


class CpuMap(_SlotMap):
    """CPU index -> queue size (struct bpf_cpumap_val {qsize, prog fd}); qsize 0 removes."""

    map_type = BPF_MAP_TYPE_CPUMAP
    type_name = "cpumap"

    def check_attrs(self) -> None:
        super().check_attrs()
        if self.max_entries > NR_CPUS:
            raise err(errno.E2BIG, f"cpumap max_entries above NR_CPUS ({NR_CPUS})")

    def update(self, key: bytes, value: bytes, flags: int = 0) -> None:
        check_update_flags(flags)
        k = self._kv(key)
        value = self._value(value)
        qsize = int(_U32.unpack_from(value)[0])
        if k >= self.max_entries:
            raise err(errno.E2BIG, f"cpu {k} >= max_entries {self.max_entries}")
        if flags & BPF_NOEXIST:
            raise err(errno.EEXIST, "element exists")
        if qsize > CPUMAP_QSIZE_MAX:
            raise err(errno.EOVERFLOW, f"qsize {qsize} > {CPUMAP_QSIZE_MAX}")
        if qsize == 0:
            self.delete(key)  # kernel/bpf/cpumap.c: qsize 0 tears the entry down
            return
        if k >= self.ncpus:
            raise err(errno.ENODEV, f"cpu {k} does not exist")
        super().update(key, value, flags & ~BPF_EXIST)

    def prog_lookup(self, mem: AddressSpace, key: bytes, cpu: int) -> int:
        return 0  # not callable from programs (the verifier refuses it)


class XskMap(_SlotMap):
    """Queue index -> AF_XDP socket (by fd); user space cannot read it back."""

    map_type = BPF_MAP_TYPE_XSKMAP
    type_name = "xskmap"
    bad_value_errno = errno.EBADF

    def check_attrs(self) -> None:
        super().check_attrs()
        if self.value_size != 4:
            raise err(errno.EINVAL, "xskmap values are 4-byte socket fds")

    def default_target(self, v: int) -> object:
        raise err(errno.EBADF, f"fd {v} is not an AF_XDP socket")

    def lookup(self, key: bytes) -> bytes | None:
        self._kv(key)
        raise err(errno.EOPNOTSUPP, "xskmap elements cannot be read from user space")
