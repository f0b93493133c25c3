"""BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH (kernel/bpf/hashtab.c).

Elements come from a preallocated pool (max_entries, plus one spare: an update of an
existing key fills a fresh element and frees the old one, as htab_map_update_elem
does, except per-CPU maps which update in place). Inserting into a full map fails with
E2BIG; an LRU map instead evicts its least recently used element (lookups and updates
from programs count as uses; tuxnet's LRU is exact where the kernel's is approximate).
get_next_key follows insertion order (the kernel's follows its hash buckets).
"""

from __future__ import annotations

import errno
from collections import OrderedDict

from tuxnet.bpf.maps.base import (
    BPF_EXIST,
    BPF_F_NO_COMMON_LRU,
    BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE,
    BPF_F_RDONLY,
    BPF_F_RDONLY_PROG,
    BPF_F_WRONLY,
    BPF_F_WRONLY_PROG,
    BPF_F_ZERO_SEED,
    BPF_MAP_TYPE_HASH,
    BPF_MAP_TYPE_LRU_HASH,
    BPF_MAP_TYPE_LRU_PERCPU_HASH,
    BPF_MAP_TYPE_PERCPU_HASH,
    BPF_NOEXIST,
    MAX_BPF_STACK,
    BpfMap,
    ValueStore,
    check_update_flags,
    err,
)
from tuxnet.bpf.memory import AddressSpace

_HASH_FLAGS = (BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_RDONLY
               | BPF_F_WRONLY | BPF_F_ZERO_SEED | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)


class HashMap(BpfMap):
    map_type = BPF_MAP_TYPE_HASH
    type_name = "hash"
    lru = False

    def __init__(self, key_size: int, value_size: int, max_entries: int, map_flags: int = 0,
                 *, name: str = "", ncpus: int = 1) -> None:
        super().__init__(key_size, value_size, max_entries, map_flags, name=name, ncpus=ncpus)
        self.store = ValueStore(max_entries + 1, value_size, ncpus if self.percpu else 1,
                                f"map:{self.name}")
        self.index: OrderedDict[bytes, int] = OrderedDict()
        self.free = list(range(max_entries, -1, -1))

    def check_attrs(self) -> None:
        super().check_attrs()
        # kernel/bpf/hashtab.c: htab_map_alloc_check
        if self.map_flags & ~_HASH_FLAGS:
            raise err(errno.EINVAL, f"invalid map_flags {self.map_flags:#x}")
        if self.lru and self.map_flags & BPF_F_NO_PREALLOC:
            raise err(errno.EOPNOTSUPP, "LRU maps are always preallocated")
        if not self.lru and self.map_flags & BPF_F_NO_COMMON_LRU:
            raise err(errno.EINVAL, "BPF_F_NO_COMMON_LRU is for LRU maps")
        if self.key_size > MAX_BPF_STACK:
            raise err(errno.E2BIG, "key_size larger than the BPF stack")

    def __len__(self) -> int:
        return len(self.index)

    # --- shared by both sides ---------------------------------------------------------
    def _insert(self, key: bytes, values: list[bytes], flags: int, cpu: int | None) -> int:
        """Insert or replace; 0 or -errno. ``values`` per CPU (or one for this ``cpu``)."""
        idx = self.index.get(key)
        if idx is not None and flags & BPF_NOEXIST:
            return -errno.EEXIST
        if idx is None and flags & BPF_EXIST:
            return -errno.ENOENT
        if idx is None and len(self.index) >= self.max_entries:
            if not self.lru:
                return -errno.E2BIG
            _victim, vidx = self.index.popitem(last=False)  # least recently used
            self.free.append(vidx)
        if idx is not None and self.percpu:
            self._fill(idx, values, cpu, fresh=False)
            self.index.move_to_end(key)
            return 0
        new = self.free.pop()
        self._fill(new, values, cpu, fresh=True)
        if idx is not None:
            self.free.append(idx)
            del self.index[key]
        self.index[key] = new
        return 0

    def _fill(self, idx: int, values: list[bytes], cpu: int | None, fresh: bool) -> None:
        if fresh:
            self.store.clear(idx)
        if cpu is None:
            for c, v in enumerate(values):
                self.store.put(idx, v, c)
        else:
            self.store.put(idx, values[0], cpu if self.percpu else 0)

    def _remove(self, key: bytes) -> int:
        idx = self.index.pop(key, None)
        if idx is None:
            return -errno.ENOENT
        self.free.append(idx)
        return 0

    # --- user space -----------------------------------------------------------------
    def lookup(self, key: bytes) -> bytes | None:
        idx = self.index.get(self._key(key))
        if idx is None:
            return None
        if self.percpu:
            return b"".join(self.store.get(idx, c) for c in range(self.ncpus))
        return self.store.get(idx)[:self.value_size]

    def update(self, key: bytes, value: bytes, flags: int = 0) -> None:
        check_update_flags(flags)
        key, value = self._key(key), self._value(value)
        if self.percpu:
            s = self.store.stride
            values = [value[c * s:(c + 1) * s] for c in range(self.ncpus)]
        else:
            values = [value]
        rc = self._insert(key, values, flags, None)
        if rc:
            raise err(-rc, f"update of key {key.hex()}")

    def delete(self, key: bytes) -> None:
        rc = self._remove(self._key(key))
        if rc:
            raise err(-rc, f"no key {bytes(key).hex()}")

    def get_next_key(self, key: bytes | None) -> bytes:
        keys = list(self.index)
        if key is None or self._key(key) not in self.index:
            if not keys:
                raise err(errno.ENOENT, "map is empty")
            return keys[0]
        i = keys.index(bytes(key)) + 1
        if i >= len(keys):
            raise err(errno.ENOENT, "last key")
        return keys[i]

    # --- programs -------------------------------------------------------------------
    def prog_lookup(self, mem: AddressSpace, key: bytes, cpu: int) -> int:
        idx = self.index.get(key)
        if idx is None:
            return 0
        if self.lru:
            self.index.move_to_end(key)
        return self.store.addr(mem, idx, cpu if self.percpu else 0)

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        if flags & ~(BPF_NOEXIST | BPF_EXIST) or (flags & BPF_NOEXIST and flags & BPF_EXIST):
            return -errno.EINVAL
        return self._insert(key, [value[:self.value_size]], flags, cpu)

    def prog_delete(self, key: bytes) -> int:
        return self._remove(key)


class PercpuHashMap(HashMap):
    map_type = BPF_MAP_TYPE_PERCPU_HASH
    type_name = "percpu_hash"
    percpu = True


class LruHashMap(HashMap):
    map_type = BPF_MAP_TYPE_LRU_HASH
    type_name = "lru_hash"
    lru = True


class LruPercpuHashMap(HashMap):
    map_type = BPF_MAP_TYPE_LRU_PERCPU_HASH
    type_name = "lru_percpu_hash"
    lru = True
    percpu = True
