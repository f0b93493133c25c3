"""Map semantics per kind, from user space: the errno values Linux returns.

The expected values were checked against Linux 6.18 through bpf(2) (BPF_MAP_CREATE,
*_ELEM, GET_NEXT_KEY) on the same operations; the dump texts against bpftool 7.1.
"""

from __future__ import annotations

import errno
import struct

import pytest

from tuxnet.bpf.isa import OPCODE_EXIT, Insn
from tuxnet.bpf.maps import (
    BPF_EXIST,
    BPF_F_NO_PREALLOC,
    BPF_NOEXIST,
    ArrayMap,
    CpuMap,
    DevMap,
    DevMapHash,
    HashMap,
    LpmTrieMap,
    LruHashMap,
    PercpuArrayMap,
    PercpuHashMap,
    ProgArrayMap,
    XskMap,
    create_map,
    format_map_dump,
)
from tuxnet.bpf.memory import AddressSpace
from tuxnet.bpf.program import Program


def k(i: int) -> bytes:
    return struct.pack("<I", i)


def raises(code: int, fn: object, *args: object) -> None:
    assert callable(fn)
    with pytest.raises(OSError) as info:
        fn(*args)
    assert info.value.errno == code, info.value


# --- array ---------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "code"), [
    ((8, 4, 4), errno.EINVAL),                     # key must be a u32 index
    ((4, 0, 4), errno.EINVAL),
    ((4, 4, 0), errno.EINVAL),
    ((4, 4, 4, BPF_F_NO_PREALLOC), errno.EINVAL),  # arrays are always preallocated
])
def test_array_create_errors(args: tuple[int, ...], code: int) -> None:
    raises(code, ArrayMap, *args)


def test_array_semantics() -> None:
    a = ArrayMap(4, 4, 3)
    assert a.lookup(k(2)) == bytes(4)              # elements exist, zeroed
    assert a.lookup(k(3)) is None                  # out of range: ENOENT
    a.update(k(1), k(7))
    a.update(k(1), k(8), BPF_EXIST)
    assert a.lookup(k(1)) == k(8)
    raises(errno.EEXIST, a.update, k(1), k(1), BPF_NOEXIST)
    raises(errno.E2BIG, a.update, k(3), k(1))
    raises(errno.EINVAL, a.update, k(1), k(1), 3)  # NOEXIST | EXIST
    raises(errno.EINVAL, a.update, k(1), k(1), 4)  # BPF_F_LOCK without a spin lock
    raises(errno.EINVAL, a.delete, k(1))
    assert a.get_next_key(None) == k(0)
    assert a.get_next_key(k(0)) == k(1)
    assert a.get_next_key(k(9)) == k(0)            # out of range restarts
    raises(errno.ENOENT, a.get_next_key, k(2))
    assert list(a.keys()) == [k(0), k(1), k(2)]


def test_percpu_array_has_one_value_per_cpu() -> None:
    m = PercpuArrayMap(4, 4, 2, ncpus=2)
    assert m.lookup(k(0)) == bytes(16)             # round_up(4, 8) bytes per CPU
    m.update(k(0), bytes(range(16)))
    assert m.lookup(k(0)) == bytes(range(16))
    assert m.lookup_percpu(k(0)) == [bytes([0, 1, 2, 3]), bytes([8, 9, 10, 11])]
    m.update_percpu(k(1), [k(5), k(6)])
    mem = AddressSpace()
    a0, a1 = m.prog_lookup(mem, k(1), 0), m.prog_lookup(mem, k(1), 1)
    assert (mem.load(a0, 4), mem.load(a1, 4)) == (5, 6)
    mem.store(a1, 4, 9)                            # a program writes CPU 1's copy
    assert m.lookup_percpu(k(1)) == [k(5), k(9)]
    assert m.prog_update(k(0), k(3), 0, 1) == 0    # a program updates its CPU only
    values = m.lookup_percpu(k(0))
    assert values is not None and values[1] == k(3)
    raises(errno.EINVAL, m.update, k(0), k(1))     # user space passes every CPU's value


# --- hash ------------------------------------------------------------------------------

def test_hash_semantics() -> None:
    h = HashMap(4, 4, 2)
    raises(errno.ENOENT, h.update, k(1), k(1), BPF_EXIST)
    h.update(k(1), k(10))
    h.update(k(2), k(20))
    raises(errno.E2BIG, h.update, k(3), k(30))     # full
    h.update(k(2), k(21))                          # replacing is fine when full
    raises(errno.EEXIST, h.update, k(2), k(5), BPF_NOEXIST)
    assert h.lookup(k(2)) == k(21)
    assert h.lookup(k(9)) is None
    raises(errno.ENOENT, h.delete, k(9))
    assert h.get_next_key(None) == k(1)            # tuxnet iterates in insertion order
    assert h.get_next_key(k(9)) == k(1)            # a missing key restarts
    raises(errno.ENOENT, h.get_next_key, k(2))
    h.delete(k(1))
    h.update(k(3), k(30))
    assert sorted(h.keys()) == [k(2), k(3)]
    raises(errno.ENOENT, HashMap(4, 4, 2).get_next_key, None)
    raises(errno.E2BIG, HashMap, 513, 4, 4)        # key larger than the BPF stack


def test_hash_update_replaces_the_element() -> None:
    # htab_map_update_elem fills a fresh element: a program's old pointer goes stale
    h, mem = HashMap(4, 4, 1), AddressSpace()
    h.update(k(1), k(1))
    old = h.prog_lookup(mem, k(1), 0)
    h.update(k(1), k(2))
    assert h.prog_lookup(mem, k(1), 0) != old
    mem.store(old, 4, 99)
    assert h.lookup(k(1)) == k(2)


def test_percpu_hash_program_update_touches_its_cpu() -> None:
    h = PercpuHashMap(4, 4, 4, ncpus=2)
    assert h.prog_update(k(1), k(7), 0, 1) == 0
    assert h.lookup_percpu(k(1)) == [k(0), k(7)]
    h.update_percpu(k(1), [k(1), k(2)])
    assert h.prog_update(k(1), k(3), BPF_EXIST, 0) == 0
    assert h.lookup_percpu(k(1)) == [k(3), k(2)]
    assert h.prog_update(k(1), k(3), BPF_NOEXIST, 0) == -errno.EEXIST


def test_lru_hash_evicts_the_least_recently_used() -> None:
    m, mem = LruHashMap(4, 4, 2), AddressSpace()
    m.update(k(1), k(1))
    m.update(k(2), k(2))
    assert m.prog_lookup(mem, k(1), 0)             # key 1 is now the most recent
    m.update(k(3), k(3))                           # evicts key 2
    assert (m.lookup(k(1)), m.lookup(k(2)), m.lookup(k(3))) == (k(1), None, k(3))
    assert m.prog_update(k(4), k(4), 0, 0) == 0    # evicts key 1
    assert sorted(m.keys()) == [k(3), k(4)]
    raises(errno.EOPNOTSUPP, LruHashMap, 4, 4, 2, BPF_F_NO_PREALLOC)


# --- LPM trie --------------------------------------------------------------------------

def lk(plen: int, *octets: int) -> bytes:
    return struct.pack("<I", plen) + bytes(octets)


def test_lpm_trie_create() -> None:
    raises(errno.EINVAL, LpmTrieMap, 8, 4, 4, 0)   # needs BPF_F_NO_PREALLOC
    raises(errno.EINVAL, LpmTrieMap, 4, 4, 4)      # no data bytes
    raises(errno.EINVAL, LpmTrieMap, 261, 4, 4)    # more than 256 data bytes
    assert LpmTrieMap(260, 4, 4).data_size == 256


def test_lpm_trie_longest_prefix_match() -> None:
    t = LpmTrieMap(8, 4, 3)
    t.update(lk(16, 10, 1, 0, 0), k(16))
    t.update(lk(24, 10, 1, 2, 0), k(24))
    t.update(lk(0, 0, 0, 0, 0), k(0))             # default route
    assert t.lookup(lk(32, 10, 1, 2, 3)) == k(24)
    assert t.lookup(lk(32, 10, 1, 3, 3)) == k(16)
    assert t.lookup(lk(32, 11, 0, 0, 1)) == k(0)
    assert t.lookup(lk(16, 10, 1, 2, 3)) == k(16)  # the key's prefixlen caps the match
    raises(errno.ENOSPC, t.update, lk(8, 10, 0, 0, 0), k(8))
    raises(errno.EINVAL, t.update, lk(33, 10, 0, 0, 0), k(8))
    raises(errno.EEXIST, t.update, lk(16, 10, 1, 9, 9), k(1), BPF_NOEXIST)  # same /16
    raises(errno.ENOENT, t.update, lk(17, 10, 1, 0, 0), k(1), BPF_EXIST)
    # post-order: more specific prefixes first
    assert list(t.keys()) == [lk(24, 10, 1, 2, 0), lk(16, 10, 1, 0, 0), lk(0, 0, 0, 0, 0)]
    assert t.get_next_key(lk(8, 1, 2, 3, 4)) == lk(24, 10, 1, 2, 0)  # missing: restart
    raises(errno.ENOENT, t.delete, lk(8, 10, 0, 0, 0))
    t.delete(lk(16, 10, 1, 2, 9))                  # only the first 16 bits count
    assert t.lookup(lk(32, 10, 1, 3, 3)) == k(0)


# --- redirect maps and prog arrays -------------------------------------------------------

def test_devmap() -> None:
    devices = {1: "lo", 2: "eth0"}
    d = DevMap(4, 4, 4, resolve=devices.get)
    raises(errno.EINVAL, DevMap, 4, 6, 4)          # value is ifindex or bpf_devmap_val
    raises(errno.EINVAL, d.update, k(0), k(9999))  # no such device
    d.update(k(0), k(2))
    assert (d.lookup(k(0)), d.target(0), d.target(1)) == (k(2), "eth0", None)
    assert d.lookup(k(1)) is None
    raises(errno.EEXIST, d.update, k(0), k(1), BPF_NOEXIST)
    raises(errno.E2BIG, d.update, k(4), k(1))
    d.delete(k(0))
    d.delete(k(0))                                 # deleting an empty slot succeeds
    raises(errno.EINVAL, d.delete, k(4))
    assert d.get_next_key(None) == k(0)
    raises(errno.ENOENT, d.get_next_key, k(3))


def test_devmap_hash() -> None:
    d = DevMapHash(4, 4, 1, resolve=lambda i: f"if{i}")
    d.update(k(7), k(1))
    assert d.get_next_key(None) == k(7)
    raises(errno.E2BIG, d.update, k(8), k(1))
    raises(errno.ENOENT, d.delete, k(8))
    assert d.target(7) == "if1"


def test_cpumap() -> None:
    c = CpuMap(4, 4, 4, ncpus=2)
    c.update(k(0), k(0))                           # qsize 0: no entry
    assert c.lookup(k(0)) is None
    c.update(k(0), k(100))
    assert c.lookup(k(0)) == k(100)
    raises(errno.EOVERFLOW, c.update, k(1), k(100000))
    raises(errno.E2BIG, c.update, k(5), k(100))
    raises(errno.ENODEV, c.update, k(3), k(100))  # CPU 3 does not exist
    raises(errno.E2BIG, CpuMap, 4, 4, 100000)      # more than NR_CPUS entries


def test_xskmap() -> None:
    x = XskMap(4, 4, 2)
    raises(errno.EBADF, x.update, k(0), k(5))      # no sockets known without a hook
    x = XskMap(4, 4, 2, resolve={5: "xsk5"}.get)
    x.update(k(0), k(5))
    assert x.target(0) == "xsk5"
    raises(errno.EOPNOTSUPP, x.lookup, k(0))
    x.delete(k(1))


def test_prog_array() -> None:
    prog = Program.load([Insn(0xB7), Insn(OPCODE_EXIT)])
    p = ProgArrayMap(4, 4, 2, resolve={3: prog}.get)
    raises(errno.EINVAL, ProgArrayMap, 4, 8, 2)
    raises(errno.EINVAL, p.update, k(0), k(4))     # fd 4 is not a program
    raises(errno.EINVAL, p.update, k(0), k(3), BPF_NOEXIST)
    p.update(k(0), k(3))
    assert p.program(0) is prog and p.program(1) is None
    assert p.lookup(k(0)) == k(3)
    raises(errno.ENOENT, p.delete, k(1))
    p.delete(k(0))
    assert p.get_next_key(None) == k(0)


def test_create_map_by_type() -> None:
    assert isinstance(create_map(2, 4, 8, 4), ArrayMap)
    assert isinstance(create_map(11, 8, 8, 4, BPF_F_NO_PREALLOC), LpmTrieMap)
    raises(errno.EINVAL, create_map, 27, 0, 0, 4096)  # ringbuf: not in tuxnet


# --- bpftool map dump ------------------------------------------------------------------

def test_dump_plain() -> None:
    a = ArrayMap(4, 4, 3)
    a.update(k(1), k(1))
    assert format_map_dump(a) == (
        "key: 00 00 00 00  value: 00 00 00 00\n"
        "key: 01 00 00 00  value: 01 00 00 00\n"
        "key: 02 00 00 00  value: 00 00 00 00\n"
        "Found 3 elements\n")


def test_dump_wide_and_percpu() -> None:
    h = HashMap(20, 4, 4)
    h.update(bytes(range(20)), k(7))
    assert format_map_dump(h) == (
        "key:\n00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n10 11 12 13\n"
        "value:\n07 00 00 00\nFound 1 element\n")
    m = HashMap(12, 16, 4)
    m.update(bytes(range(12)), bytes(range(16)))
    assert format_map_dump(m) == (
        "key: 00 01 02 03 04 05 06 07  08 09 0a 0b\n"
        "value: 00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\nFound 1 element\n")
    p = PercpuArrayMap(4, 4, 1, ncpus=2)
    assert format_map_dump(p) == (
        "key:\n00 00 00 00\nvalue (CPU 00): 00 00 00 00\nvalue (CPU 01): 00 00 00 00\n"
        "Found 1 element\n")


def test_dump_of_maps_user_space_cannot_read() -> None:
    assert format_map_dump(XskMap(4, 4, 1)) == (
        "key:\n00 00 00 00\nvalue:\nOperation not supported\nFound 0 elements\n")
    assert format_map_dump(ProgArrayMap(4, 4, 2)) == "Found 0 elements\n"
