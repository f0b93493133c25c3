"""eBPF maps (kernel/bpf/*map*.c, hashtab.c, lpm_trie.c, devmap.c, cpumap.c,
net/xdp/xskmap.c) with the kernel's semantics and errno values.

``create_map(map_type, key_size, value_size, max_entries, map_flags)`` is
BPF_MAP_CREATE; each class documents its kind. ``format_map_dump`` prints a map the
way ``bpftool map dump`` does.
"""

from __future__ import annotations

import errno
from typing import Any

from tuxnet.bpf.maps.array import ArrayMap, PercpuArrayMap
from tuxnet.bpf.maps.base import (
    BPF_ANY,
    BPF_EXIST,
    BPF_F_NO_PREALLOC,
    BPF_F_RDONLY_PROG,
    BPF_MAP_TYPE_ARRAY,
    BPF_MAP_TYPE_CPUMAP,
    BPF_MAP_TYPE_DEVMAP,
    BPF_MAP_TYPE_DEVMAP_HASH,
    BPF_MAP_TYPE_HASH,
    BPF_MAP_TYPE_LPM_TRIE,
    BPF_MAP_TYPE_LRU_HASH,
    BPF_MAP_TYPE_LRU_PERCPU_HASH,
    BPF_MAP_TYPE_PERCPU_ARRAY,
    BPF_MAP_TYPE_PERCPU_HASH,
    BPF_MAP_TYPE_PROG_ARRAY,
    BPF_MAP_TYPE_XSKMAP,
    BPF_NOEXIST,
    BpfMap,
    err,
)
from tuxnet.bpf.maps.dump import format_map_dump
from tuxnet.bpf.maps.hash import HashMap, LruHashMap, LruPercpuHashMap, PercpuHashMap
from tuxnet.bpf.maps.lpm import LpmTrieMap
from tuxnet.bpf.maps.progarray import ProgArrayMap
from tuxnet.bpf.maps.redirect import CpuMap, DevMap, DevMapHash, XskMap

MAP_CLASSES: dict[int, type[BpfMap]] = {
    cls.map_type: cls for cls in (
        HashMap, ArrayMap, ProgArrayMap, PercpuHashMap, PercpuArrayMap, LruHashMap,
        LruPercpuHashMap, LpmTrieMap, DevMap, CpuMap, XskMap, DevMapHash)
}


def create_map(map_type: int, key_size: int, value_size: int, max_entries: int,
               map_flags: int = 0, **kw: Any) -> BpfMap:
    """BPF_MAP_CREATE: OSError(EINVAL) for an unknown type or invalid attributes."""
    cls = MAP_CLASSES.get(map_type)
    if cls is None:
        raise err(errno.EINVAL, f"map type {map_type} is not supported")
    return cls(key_size, value_size, max_entries, map_flags, **kw)


__all__ = [
    "BPF_ANY", "BPF_EXIST", "BPF_F_NO_PREALLOC", "BPF_F_RDONLY_PROG",
    "BPF_MAP_TYPE_ARRAY", "BPF_MAP_TYPE_CPUMAP", "BPF_MAP_TYPE_DEVMAP",
    "BPF_MAP_TYPE_DEVMAP_HASH", "BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_LPM_TRIE",
    "BPF_MAP_TYPE_LRU_HASH", "BPF_MAP_TYPE_LRU_PERCPU_HASH", "BPF_MAP_TYPE_PERCPU_ARRAY",
    "BPF_MAP_TYPE_PERCPU_HASH", "BPF_MAP_TYPE_PROG_ARRAY", "BPF_MAP_TYPE_XSKMAP",
    "BPF_NOEXIST", "MAP_CLASSES", "ArrayMap", "BpfMap", "CpuMap", "DevMap", "DevMapHash",
    "HashMap", "LpmTrieMap", "LruHashMap", "LruPercpuHashMap", "PercpuArrayMap",
    "PercpuHashMap", "ProgArrayMap", "XskMap", "create_map", "format_map_dump",
]
