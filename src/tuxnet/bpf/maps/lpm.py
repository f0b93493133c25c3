"""BPF_MAP_TYPE_LPM_TRIE (kernel/bpf/lpm_trie.c): longest-prefix-match lookups.

A key is ``struct bpf_lpm_trie_key``: a u32 ``prefixlen`` (host order) followed by
``key_size - 4`` bytes of data in network order (1 to 256 bytes). An update inserts or
replaces the entry for exactly that prefix (only the first ``prefixlen`` bits count);
a lookup returns the value of the longest stored prefix that matches the first
``prefixlen`` bits of the looked-up data. The map must be created with
BPF_F_NO_PREALLOC; a full trie refuses new prefixes with ENOSPC. get_next_key walks
the trie in post-order, more specific prefixes before the ones that contain them.
"""

from __future__ import annotations

import errno
import struct

from tuxnet.bpf.maps.base import (
    BPF_EXIST,
    BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE,
    BPF_F_RDONLY,
    BPF_F_RDONLY_PROG,
    BPF_F_WRONLY,
    BPF_F_WRONLY_PROG,
    BPF_MAP_TYPE_LPM_TRIE,
    BPF_NOEXIST,
    BpfMap,
    ValueStore,
    check_update_flags,
    err,
)
from tuxnet.bpf.memory import AddressSpace

_U32 = struct.Struct("<I")
LPM_DATA_SIZE_MIN = 1
LPM_DATA_SIZE_MAX = 256  # kernel/bpf/lpm_trie.c
_LPM_FLAGS = (BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY
              | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)


class LpmTrieMap(BpfMap):
    map_type = BPF_MAP_TYPE_LPM_TRIE
    type_name = "lpm_trie"

    def __init__(self, key_size: int, value_size: int, max_entries: int,
                 map_flags: int = BPF_F_NO_PREALLOC, *, name: str = "",
                 ncpus: int = 1) -> None:
        super().__init__(key_size, value_size, max_entries, map_flags, name=name, ncpus=ncpus)
        self.data_size = key_size - 4
        self.bits = 8 * self.data_size
        self.store = ValueStore(max_entries, value_size, 1, f"map:{self.name}")
        # (prefixlen, masked data) -> (element index, data as given)
        self.entries: dict[tuple[int, int], tuple[int, bytes]] = {}
        self.free = list(range(max_entries - 1, -1, -1))

    def check_attrs(self) -> None:
        super().check_attrs()
        # kernel/bpf/lpm_trie.c: trie_alloc
        data_size = self.key_size - 4
        if not self.map_flags & BPF_F_NO_PREALLOC or self.map_flags & ~_LPM_FLAGS \
                or not LPM_DATA_SIZE_MIN <= data_size <= LPM_DATA_SIZE_MAX:
            raise err(errno.EINVAL, "lpm_trie needs BPF_F_NO_PREALLOC and 1-256 data bytes")

    def __len__(self) -> int:
        return len(self.entries)

    def _split(self, key: bytes) -> tuple[int, int, bytes]:
        """(prefixlen, data as an integer, raw data)."""
        plen = int(_U32.unpack_from(key)[0])
        data = bytes(key[4:])
        return plen, int.from_bytes(data, "big"), data

    def _mask(self, value: int, plen: int) -> int:
        return value >> (self.bits - plen) << (self.bits - plen) if plen else 0

    def _match(self, key: bytes) -> int | None:
        """Longest-prefix match: the element index, or None."""
        plen, value, _ = self._split(key)
        for p in range(min(plen, self.bits), -1, -1):
            hit = self.entries.get((p, self._mask(value, p)))
            if hit is not None:
                return hit[0]
        return None

    def _set(self, key: bytes, value: bytes, flags: int) -> int:
        plen, data, raw = self._split(key)
        if plen > self.bits:
            return -errno.EINVAL
        k = (plen, self._mask(data, plen))
        old = self.entries.get(k)
        if old is not None and flags & BPF_NOEXIST:
            return -errno.EEXIST
        if old is None and flags & BPF_EXIST:
            return -errno.ENOENT
        if old is None:
            if len(self.entries) >= self.max_entries:
                return -errno.ENOSPC
            idx = self.free.pop()
        else:
            idx = old[0]
        self.store.clear(idx)
        self.store.put(idx, value[:self.value_size])
        self.entries[k] = (idx, raw)
        return 0

    def _remove(self, key: bytes) -> int:
        plen, data, _ = self._split(key)
        if plen > self.bits:
            return -errno.EINVAL
        old = self.entries.pop((plen, self._mask(data, plen)), None)
        if old is None:
            return -errno.ENOENT
        self.free.append(old[0])
        return 0

    # --- user space -----------------------------------------------------------------
    def lookup(self, key: bytes) -> bytes | None:
        idx = self._match(self._key(key))
        return None if idx is None else self.store.get(idx)[:self.value_size]

    def update(self, key: bytes, value: bytes, flags: int = 0) -> None:
        check_update_flags(flags)
        rc = self._set(self._key(key), self._value(value), flags)
        if rc:
            raise err(-rc, f"update of prefix {bytes(key).hex()}")

    def delete(self, key: bytes) -> None:
        rc = self._remove(self._key(key))
        if rc:
            raise err(-rc, f"no prefix {bytes(key).hex()}")

    def _order(self) -> list[bytes]:
        """Keys in the trie's post-order: a prefix after every prefix it contains."""
        def path(k: tuple[int, int]) -> tuple[int, ...]:
            plen, value = k
            bits = tuple((value >> (self.bits - 1 - i)) & 1 for i in range(plen))
            return (*bits, 2)
        ordered = sorted(self.entries, key=path)
        return [_U32.pack(p) + self.entries[(p, v)][1] for p, v in ordered]

    def get_next_key(self, key: bytes | None) -> bytes:
        keys = self._order()
        if not keys:
            raise err(errno.ENOENT, "trie is empty")
        if key is None:
            return keys[0]
        plen, data, _ = self._split(self._key(key))
        target = (plen, self._mask(data, plen))
        if plen > self.bits or target not in self.entries:
            return keys[0]
        stored = _U32.pack(plen) + self.entries[target][1]
        i = keys.index(stored) + 1
        if i >= len(keys):
            raise err(errno.ENOENT, "last key")
        return keys[i]

    # --- programs -------------------------------------------------------------------
    def prog_lookup(self, mem: AddressSpace, key: bytes, cpu: int) -> int:
        idx = self._match(key)
        return 0 if idx is None else self.store.addr(mem, idx)

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        if flags & ~(BPF_NOEXIST | BPF_EXIST):
            return -errno.EINVAL
        return self._set(key, value, flags)

    def prog_delete(self, key: bytes) -> int:
        return self._remove(key)
