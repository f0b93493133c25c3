"""Internet checksum (RFC 1071), the TCP/UDP pseudo-header (RFC 9293 3.1, RFC 768)
and incremental update (RFC 1624), summed at C speed.

The one's-complement sum of 16-bit words is the integer formed by the bytes, reduced
modulo 0xFFFF (2**16 == 1 mod 0xFFFF), with the all-ones/zero ambiguity resolved
towards 0xFFFF for non-zero data. ``int.from_bytes`` turns the buffer into that
integer in C; no per-byte Python loop ever runs. Three tricks make it fast:

- the bytes are read little-endian (cheaper in CPython) and the 16-bit result is
  byte-swapped at the end (RFC 1071 2(B): the sum is byte-order independent);
- buffers above 256 bytes are cut in four even-length chunks by one ``struct`` call,
  whose integers are added (a chunk at an even offset 2q is worth 2**(16q) == 1);
- the sum is folded in halves at 16-bit aligned boundaries (RFC 1071 2(C), deferred
  carries: ``x == (x >> k) + (x & (2**k - 1))`` mod 0xFFFF when 16 | k) before the
  final ``%``, since shifts and masks cost a third of a long division per digit.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

__all__ = [
    "checksum_ok",
    "csum_fold",
    "incremental_update",
    "incremental_update32",
    "internet_checksum",
    "ones_sum",
    "pseudo_header_sum",
]

_from_bytes = int.from_bytes

# below this many bits a single ``% 0xFFFF`` is cheaper than another fold
_FOLD_STOP_BITS = 1100
_SMALL = 256  # bytes: one int.from_bytes and one modulo
_QUARTER_MAX = 16384  # bytes: four-chunk path up to here, one big integer above

Unpack = Callable[[bytes | bytearray | memoryview], tuple[bytes, ...]]
Folds = tuple[tuple[int, int], ...]

# plans are cached per length (quarter path) or per KiB (big path); masks are shared
_quarter_plans: dict[int, tuple[Unpack, Folds]] = {}
_big_plans: dict[int, Folds] = {}
_masks: dict[int, int] = {}
_PLAN_CACHE_MAX = 4096


def _fold_schedule(bits: int) -> Folds:
    """(shift, mask) pairs that halve an integer of ``bits`` bits down to ~1100 bits."""
    out: list[tuple[int, int]] = []
    while bits > _FOLD_STOP_BITS:
        k = ((bits >> 1) + 15) & ~15  # 16-bit aligned, so 2**k == 1 mod 0xFFFF
        mask = _masks.get(k)
        if mask is None:
            if len(_masks) >= _PLAN_CACHE_MAX:
                _masks.clear()
            mask = _masks[k] = (1 << k) - 1
        out.append((k, mask))
        bits = max(k, bits - k) + 1
    return tuple(out)


def _quarter_plan(n: int) -> tuple[Unpack, Folds]:
    q = (n >> 3) << 1  # even chunk length: every chunk starts on a 16-bit boundary
    unpack = struct.Struct(f"{q}s{q}s{q}s{n - 3 * q}s").unpack_from
    plan = (unpack, _fold_schedule(8 * (n - 3 * q) + 2))
    if len(_quarter_plans) >= _PLAN_CACHE_MAX:
        _quarter_plans.clear()
    _quarter_plans[n] = plan
    return plan


def _big_plan(n: int) -> Folds:
    key = n >> 10
    folds = _fold_schedule(8 * ((key + 1) << 10))
    if len(_big_plans) >= _PLAN_CACHE_MAX:
        _big_plans.clear()
    _big_plans[key] = folds
    return folds


def _sum_le(data: bytes | bytearray | memoryview) -> int:
    """Unreduced sum congruent (mod 0xFFFF) to the little-endian 16-bit words of
    ``data``; zero only when every byte is."""
    fb = _from_bytes
    n = len(data)
    if n <= _SMALL:
        return fb(data, "little")
    if n <= _QUARTER_MAX:
        plan = _quarter_plans.get(n)
        if plan is None:
            plan = _quarter_plan(n)
        a, b, c, d = plan[0](data)
        v = fb(a, "little") + fb(b, "little") + fb(c, "little") + fb(d, "little")
        for k, m in plan[1]:
            v = (v >> k) + (v & m)
        return v
    v = fb(data, "little")
    folds = _big_plans.get(n >> 10)
    if folds is None:
        folds = _big_plan(n)
    for k, m in folds:
        v = (v >> k) + (v & m)
    return v


def ones_sum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """One's-complement 16-bit sum of ``data`` (odd length padded with a zero byte),
    plus ``initial``; the result is folded into 0..0xFFFF (csum_partial + csum_fold)."""
    v = _from_bytes(data, "little") if len(data) <= _SMALL else _sum_le(data)
    if v == 0:
        return initial % 0xFFFF or (0xFFFF if initial else 0)
    s = v % 0xFFFF or 0xFFFF  # a non-zero sum is never +0 in one's complement
    s = ((s & 0xFF) << 8) | (s >> 8)  # RFC 1071 2(B): swap the little-endian sum
    if initial:
        return (s + initial) % 0xFFFF or 0xFFFF
    return s


def csum_fold(value: int) -> int:
    """Fold a non-negative unfolded sum into 16 bits, end-around carry (csum_fold)."""
    if value == 0:
        return 0
    return value % 0xFFFF or 0xFFFF


def internet_checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """RFC 1071 Internet checksum of ``data``: the complement of the one's-complement
    sum (ip_fast_csum / csum_fold). Verifying a buffer that holds its checksum gives 0."""
    v = _from_bytes(data, "little") if len(data) <= _SMALL else _sum_le(data)
    if v == 0:
        return ~(initial % 0xFFFF or (0xFFFF if initial else 0)) & 0xFFFF
    s = v % 0xFFFF or 0xFFFF
    s = ((s & 0xFF) << 8) | (s >> 8)  # RFC 1071 2(B)
    if initial:
        s = (s + initial) % 0xFFFF or 0xFFFF
    return s ^ 0xFFFF


def checksum_ok(data: bytes | bytearray | memoryview, initial: int = 0) -> bool:
    """True when ``data`` (checksum field included) sums to all ones (RFC 1071 1(3))."""
    return ones_sum(data, initial) == 0xFFFF


def pseudo_header_sum(
    src: int | bytes | bytearray, dst: int | bytes | bytearray, proto: int, length: int
) -> int:
    """Unfolded sum of the IPv4 pseudo-header (csum_tcpudp_nofold; RFC 9293 3.1,
    RFC 768): source, destination, zero, protocol, transport length. Addresses are
    32-bit ints or 4 network-order bytes."""
    s = src if isinstance(src, int) else _from_bytes(src, "big")
    d = dst if isinstance(dst, int) else _from_bytes(dst, "big")
    return s + d + proto + length


def incremental_update(old_check: int, old_word: int, new_word: int) -> int:
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one changed 16-bit word
    (csum_replace2)."""
    total = (~old_check & 0xFFFF) + (~old_word & 0xFFFF) + new_word
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def incremental_update32(old_check: int, old_value: int, new_value: int) -> int:
    """RFC 1624 update for a changed 32-bit field such as an address (csum_replace4)."""
    total = (
        (~old_check & 0xFFFF)
        + (~old_value >> 16 & 0xFFFF)
        + (~old_value & 0xFFFF)
        + (new_value >> 16)
        + (new_value & 0xFFFF)
    )
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
