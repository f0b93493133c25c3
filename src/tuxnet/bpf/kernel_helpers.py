"""Helper functions with the kernel's numbering and semantics (BPF_FUNC_* ids of
include/uapi/linux/bpf.h; kernel/bpf/helpers.c, net/core/filter.c).

The helpers that need no network device are here: map access, time, randomness, CPU
id, trace_printk, tail calls (through the interpreter's hook), ``bpf_csum_diff``, and
the map half of ``bpf_redirect``/``bpf_redirect_map`` (they record the target in the
runtime's ``RedirectInfo``, as the kernel's per-CPU bpf_redirect_info, for the XDP
layer to act on). ``BpfRuntime.helpers()`` binds them to a runtime.
"""

from __future__ import annotations

import struct

from tuxnet.bpf.verifier.context import XDP_ABORTED, XDP_REDIRECT

__all__ = ["BPF_F_BROADCAST", "BPF_F_EXCLUDE_INGRESS", "XDP_ABORTED", "XDP_ACTION_MASK",
           "XDP_REDIRECT", "csum_add", "csum_diff", "csum_from32to16", "csum_partial",
           "redirect_action", "redirect_map_miss"]

M64 = 0xFFFF_FFFF_FFFF_FFFF
M32 = 0xFFFF_FFFF
_U64 = struct.Struct("<Q")

# include/uapi/linux/bpf.h: bpf_redirect_map flags
BPF_F_BROADCAST = 1 << 3
BPF_F_EXCLUDE_INGRESS = 1 << 4
XDP_ACTION_MASK = 3  # XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX


def csum_partial(data: bytes, seed: int) -> int:
    """x86-64 csum_partial: one's-complement sum of little-endian 64-bit words (the tail
    zero-padded), started from ``seed``, folded to 32 bits (arch/x86/lib/csum-partial_64.c).
    """
    total = seed & M32
    padded = data + bytes(-len(data) % 8)
    for (word,) in _U64.iter_unpack(padded):
        total += word
    while total >> 64:
        total = (total & M64) + (total >> 64)
    folded = (total >> 32) + (total & M32)
    return (folded & M32) + (folded >> 32)


def csum_add(a: int, b: int) -> int:
    """32-bit one's-complement addition (include/net/checksum.h: csum_add)."""
    r = (a & M32) + (b & M32)
    return (r & M32) + (r >> 32)


def csum_from32to16(s: int) -> int:
    """Fold a 32-bit partial sum to 16 bits (include/net/checksum.h)."""
    s &= M32
    s = (s + (((s >> 16) | (s << 16)) & M32)) & M32
    return s >> 16


def csum_diff(old: bytes, new: bytes, seed: int) -> int:
    """bpf_csum_diff(from, from_size, to, to_size, seed) over the bytes it reads, as
    Linux 6.13+ computes it (net/core/filter.c, "homogenize for all archs"): the
    partial sum of ``to`` minus that of ``from``, started from ``seed``, folded to 16
    bits. Any sizes are accepted (older kernels required multiples of 4)."""
    ret = seed & M32
    if old and new:
        ret = csum_add(csum_partial(new, ret), ~csum_partial(old, 0) & M32)
    elif new:
        ret = csum_partial(new, ret)
    elif old:
        ret = ~csum_partial(old, ~ret & M32) & M32
    return csum_from32to16(ret)


def redirect_action(flags: int) -> int:
    """bpf_redirect in XDP: flags must be 0 (else XDP_ABORTED), else XDP_REDIRECT."""
    return XDP_ABORTED if flags else XDP_REDIRECT


def redirect_map_miss(flags: int) -> int:
    """bpf_redirect_map when the key has no target: the flags' low bits are the action."""
    return flags & XDP_ACTION_MASK
