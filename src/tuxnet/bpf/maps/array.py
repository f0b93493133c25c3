"""BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY (kernel/bpf/arraymap.c).

Keys are u32 indexes below max_entries; every element exists from creation (zeroed),
so BPF_NOEXIST always fails with EEXIST, delete fails with EINVAL, an index out of
range fails an update with E2BIG, and get_next_key walks 0..max_entries-1 (any key
out of range restarts at 0). Updates copy into the element in place.
"""

from __future__ import annotations

import errno
import struct

from tuxnet.bpf.maps.base import (
    BPF_F_MMAPABLE,
    BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE,
    BPF_F_RDONLY,
    BPF_F_RDONLY_PROG,
    BPF_F_WRONLY,
    BPF_F_WRONLY_PROG,
    BPF_MAP_TYPE_ARRAY,
    BPF_MAP_TYPE_PERCPU_ARRAY,
    BPF_NOEXIST,
    BpfMap,
    ValueStore,
    check_update_flags,
    err,
)
from tuxnet.bpf.memory import AddressSpace

_U32 = struct.Struct("<I")
_ARRAY_FLAGS = (BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_RDONLY | BPF_F_WRONLY
                | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)


class ArrayMap(BpfMap):
    map_type = BPF_MAP_TYPE_ARRAY
    type_name = "array"

    def __init__(self, key_size: int, value_size: int, max_entries: int, map_flags: int = 0,
                 *, name: str = "", ncpus: int = 1) -> None:
        super().__init__(key_size, value_size, max_entries, map_flags, name=name, ncpus=ncpus)
        self.store = ValueStore(max_entries, value_size, ncpus if self.percpu else 1,
                                f"map:{self.name}",
                                writable=not map_flags & BPF_F_RDONLY_PROG)

    def check_attrs(self) -> None:
        super().check_attrs()
        # kernel/bpf/arraymap.c: array_map_alloc_check
        if self.key_size != 4 or self.map_flags & ~_ARRAY_FLAGS \
                or self.map_flags & BPF_F_NO_PREALLOC:
            raise err(errno.EINVAL, "array maps take 4-byte keys and no BPF_F_NO_PREALLOC")

    def _index(self, key: bytes) -> int:
        return int(_U32.unpack(self._key(key))[0])

    # --- user space -----------------------------------------------------------------
    def lookup(self, key: bytes) -> bytes | None:
        i = self._index(key)
        if i >= self.max_entries:
            return None
        if self.percpu:
            return b"".join(self.store.get(i, c) for c in range(self.ncpus))
        return self.store.get(i)[:self.value_size]

    def update(self, key: bytes, value: bytes, flags: int = 0) -> None:
        check_update_flags(flags)
        i = self._index(key)
        value = self._value(value)
        if i >= self.max_entries:
            raise err(errno.E2BIG, f"index {i} >= max_entries {self.max_entries}")
        if flags & BPF_NOEXIST:
            raise err(errno.EEXIST, "array elements always exist")
        if self.percpu:
            s = self.store.stride
            for c in range(self.ncpus):
                self.store.put(i, value[c * s:(c + 1) * s], c)
        else:
            self.store.put(i, value)

    def delete(self, key: bytes) -> None:
        self._key(key)
        raise err(errno.EINVAL, "array elements cannot be deleted")

    def get_next_key(self, key: bytes | None) -> bytes:
        i = self._index(key) if key is not None else self.max_entries
        if i >= self.max_entries:
            return _U32.pack(0)
        if i == self.max_entries - 1:
            raise err(errno.ENOENT, "last key")
        return _U32.pack(i + 1)

    # --- programs -------------------------------------------------------------------
    def prog_lookup(self, mem: AddressSpace, key: bytes, cpu: int) -> int:
        i = int(_U32.unpack(key)[0])
        if i >= self.max_entries:
            return 0
        return self.store.addr(mem, i, cpu if self.percpu else 0)

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        try:
            check_update_flags(flags)
        except OSError:
            return -errno.EINVAL
        i = int(_U32.unpack(key)[0])
        if i >= self.max_entries:
            return -errno.E2BIG
        if flags & BPF_NOEXIST:
            return -errno.EEXIST
        self.store.put(i, value[:self.value_size], cpu if self.percpu else 0)
        return 0

    def prog_delete(self, key: bytes) -> int:
        return -errno.EINVAL

    def direct_value_addr(self, mem: AddressSpace, off: int) -> int:
        # kernel/bpf/arraymap.c: array_map_direct_value_addr
        if self.max_entries != 1 or self.percpu:
            raise err(errno.EOPNOTSUPP, "direct value access needs a 1-element array")
        if off >= self.value_size:
            raise err(errno.EINVAL, f"offset {off} beyond value_size {self.value_size}")
        return self.store.addr(mem, 0) + off


class PercpuArrayMap(ArrayMap):
    """One value per CPU: programs see their CPU's, user space all of them."""

    map_type = BPF_MAP_TYPE_PERCPU_ARRAY
    type_name = "percpu_array"
    percpu = True
