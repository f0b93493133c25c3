"""Helper prototypes: argument and return types the verifier checks at each call.

Ids and names are ``include/uapi/linux/bpf.h`` (``___BPF_FUNC_MAPPER``); argument kinds
are ``enum bpf_arg_type`` (include/linux/bpf.h) and each prototype follows its
``bpf_func_proto`` in kernel/bpf/helpers.c or net/core/filter.c. ``MAP_COMPAT`` is
kernel/bpf/verifier.c: check_map_func_compatibility for the map types tuxnet has.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Arg(IntEnum):
    ANYTHING = 1            # any initialised value
    CONST_MAP_PTR = 2       # a map (lddw map_fd)
    PTR_TO_MAP_KEY = 3      # key_size readable bytes
    PTR_TO_MAP_VALUE = 4    # value_size readable bytes
    PTR_TO_CTX = 5
    PTR_TO_MEM = 6          # readable memory, size in the next argument
    PTR_TO_MEM_OR_NULL = 7  # same, or NULL with size 0
    PTR_TO_UNINIT_MEM = 8   # writable memory, size in the next argument
    CONST_SIZE = 9          # the size of the previous memory argument, > 0
    CONST_SIZE_OR_ZERO = 10


class Ret(IntEnum):
    INTEGER = 1
    VOID = 2
    PTR_TO_MAP_VALUE_OR_NULL = 3


@dataclass(frozen=True)
class FuncProto:
    func_id: int
    name: str
    ret: Ret
    args: tuple[Arg, ...] = ()
    changes_pkt_data: bool = False  # bpf_helper_changes_pkt_data()

    @property
    def full_name(self) -> str:
        return f"{self.name}#{self.func_id}"


A = Arg
BPF_FUNC_map_lookup_elem = 1
BPF_FUNC_map_update_elem = 2
BPF_FUNC_map_delete_elem = 3
BPF_FUNC_ktime_get_ns = 5
BPF_FUNC_trace_printk = 6
BPF_FUNC_get_prandom_u32 = 7
BPF_FUNC_get_smp_processor_id = 8
BPF_FUNC_tail_call = 12
BPF_FUNC_redirect = 23
BPF_FUNC_csum_diff = 28
BPF_FUNC_xdp_adjust_head = 44
BPF_FUNC_redirect_map = 51
BPF_FUNC_xdp_adjust_meta = 54
BPF_FUNC_xdp_adjust_tail = 65
BPF_FUNC_fib_lookup = 69
BPF_FUNC_xdp_load_bytes = 189
BPF_FUNC_xdp_store_bytes = 190

_PROTOS = [
    FuncProto(BPF_FUNC_map_lookup_elem, "bpf_map_lookup_elem", Ret.PTR_TO_MAP_VALUE_OR_NULL,
              (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY)),
    FuncProto(BPF_FUNC_map_update_elem, "bpf_map_update_elem", Ret.INTEGER,
              (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.PTR_TO_MAP_VALUE, A.ANYTHING)),
    FuncProto(BPF_FUNC_map_delete_elem, "bpf_map_delete_elem", Ret.INTEGER,
              (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY)),
    FuncProto(BPF_FUNC_ktime_get_ns, "bpf_ktime_get_ns", Ret.INTEGER),
    FuncProto(BPF_FUNC_trace_printk, "bpf_trace_printk", Ret.INTEGER,
              (A.PTR_TO_MEM, A.CONST_SIZE)),
    FuncProto(BPF_FUNC_get_prandom_u32, "bpf_get_prandom_u32", Ret.INTEGER),
    FuncProto(BPF_FUNC_get_smp_processor_id, "bpf_get_smp_processor_id", Ret.INTEGER),
    FuncProto(BPF_FUNC_tail_call, "bpf_tail_call", Ret.VOID,
              (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING)),
    FuncProto(BPF_FUNC_redirect, "bpf_redirect", Ret.INTEGER, (A.ANYTHING, A.ANYTHING)),
    FuncProto(BPF_FUNC_csum_diff, "bpf_csum_diff", Ret.INTEGER,
              (A.PTR_TO_MEM_OR_NULL, A.CONST_SIZE_OR_ZERO, A.PTR_TO_MEM_OR_NULL,
               A.CONST_SIZE_OR_ZERO, A.ANYTHING)),
    FuncProto(BPF_FUNC_xdp_adjust_head, "bpf_xdp_adjust_head", Ret.INTEGER,
              (A.PTR_TO_CTX, A.ANYTHING), changes_pkt_data=True),
    FuncProto(BPF_FUNC_redirect_map, "bpf_redirect_map", Ret.INTEGER,
              (A.CONST_MAP_PTR, A.ANYTHING, A.ANYTHING)),
    FuncProto(BPF_FUNC_xdp_adjust_meta, "bpf_xdp_adjust_meta", Ret.INTEGER,
              (A.PTR_TO_CTX, A.ANYTHING), changes_pkt_data=True),
    FuncProto(BPF_FUNC_xdp_adjust_tail, "bpf_xdp_adjust_tail", Ret.INTEGER,
              (A.PTR_TO_CTX, A.ANYTHING), changes_pkt_data=True),
    FuncProto(BPF_FUNC_fib_lookup, "bpf_fib_lookup", Ret.INTEGER,
              (A.PTR_TO_CTX, A.PTR_TO_MEM, A.CONST_SIZE, A.ANYTHING)),
    FuncProto(BPF_FUNC_xdp_load_bytes, "bpf_xdp_load_bytes", Ret.INTEGER,
              (A.PTR_TO_CTX, A.ANYTHING, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE)),
    FuncProto(BPF_FUNC_xdp_store_bytes, "bpf_xdp_store_bytes", Ret.INTEGER,
              (A.PTR_TO_CTX, A.ANYTHING, A.PTR_TO_MEM, A.CONST_SIZE)),
]
PROTOS: dict[int, FuncProto] = {p.func_id: p for p in _PROTOS}

# Helpers every program type may call (kernel/bpf/helpers.c: bpf_base_func_proto) and
# the ones only XDP adds (net/core/filter.c: xdp_func_proto).
BASE_FUNCS = frozenset({1, 2, 3, 5, 6, 7, 8, 12})
XDP_FUNCS = BASE_FUNCS | {23, 28, 44, 51, 54, 65, 69, 189, 190}

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

_REDIRECT_MAPS = frozenset({BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH, BPF_MAP_TYPE_CPUMAP,
                            BPF_MAP_TYPE_XSKMAP})
_MAP_OPS = frozenset({BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem,
                      BPF_FUNC_map_delete_elem})

# map type -> helpers that may take it; a map type absent here accepts the generic
# map helpers only.
MAP_COMPAT: dict[int, frozenset[int]] = {
    BPF_MAP_TYPE_PROG_ARRAY: frozenset({BPF_FUNC_tail_call}),
    BPF_MAP_TYPE_DEVMAP: frozenset({BPF_FUNC_redirect_map, BPF_FUNC_map_lookup_elem}),
    BPF_MAP_TYPE_DEVMAP_HASH: frozenset({BPF_FUNC_redirect_map, BPF_FUNC_map_lookup_elem}),
    BPF_MAP_TYPE_CPUMAP: frozenset({BPF_FUNC_redirect_map}),
    BPF_MAP_TYPE_XSKMAP: frozenset({BPF_FUNC_redirect_map, BPF_FUNC_map_lookup_elem}),
}
# helper -> the only map types it accepts (the second half of the kernel's check)
FUNC_MAPS: dict[int, frozenset[int]] = {
    BPF_FUNC_tail_call: frozenset({BPF_MAP_TYPE_PROG_ARRAY}),
    BPF_FUNC_redirect_map: _REDIRECT_MAPS,
}


def map_func_compatible(map_type: int, func_id: int) -> bool:
    allowed = MAP_COMPAT.get(map_type)
    if allowed is not None and func_id not in allowed:
        return False
    only = FUNC_MAPS.get(func_id)
    return only is None or map_type in only


def helper_name(func_id: int) -> str:
    p = PROTOS.get(func_id)
    return p.full_name if p is not None else f"unknown#{func_id}"


# uBPF's test helpers (tuxnet.bpf.helpers.ubpf_test_helpers), for verifying the
# bpf_conformance programs: their ids clash with the kernel's, so they form their own table.
UBPF_TEST_PROTOS: dict[int, FuncProto] = {p.func_id: p for p in (
    FuncProto(0, "gather_bytes", Ret.INTEGER, (A.ANYTHING,) * 5),
    FuncProto(1, "memfrob", Ret.INTEGER, (A.PTR_TO_MEM, A.CONST_SIZE)),
    FuncProto(2, "trash_registers", Ret.INTEGER),
    FuncProto(3, "sqrti", Ret.INTEGER, (A.ANYTHING,)),
    FuncProto(4, "strcmp_ext", Ret.INTEGER, (A.ANYTHING, A.ANYTHING)),
    FuncProto(5, "unwind", Ret.INTEGER, (A.ANYTHING,)),
)}
