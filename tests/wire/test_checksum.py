"""Internet checksum: RFC 1071 example, a slow reference, incremental update (RFC 1624)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.wire.checksum import (
    checksum_ok,
    csum_fold,
    incremental_update,
    incremental_update32,
    internet_checksum,
    ones_sum,
    pseudo_header_sum,
)


def slow_ones_sum(data: bytes, initial: int = 0) -> int:
    """RFC 1071 4.1 literally: 16-bit big-endian words, end-around carry, one by one."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    total += initial
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def test_rfc1071_example() -> None:
    # RFC 1071 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (with carries folded)
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert ones_sum(data) == 0xDDF2
    assert internet_checksum(data) == 0x220D
    # a buffer holding its own checksum verifies to zero
    assert internet_checksum(data + struct.pack("!H", 0x220D)) == 0
    assert checksum_ok(data + struct.pack("!H", 0x220D))


def test_known_ipv4_header() -> None:
    # a classic IPv4 header with its checksum b861 (e.g. Wikipedia's worked example)
    hdr = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert internet_checksum(hdr) == 0xB861


def test_zero_and_all_ones() -> None:
    assert ones_sum(b"") == 0
    assert ones_sum(bytes(1500)) == 0
    assert internet_checksum(bytes(40)) == 0xFFFF
    # non-zero data never sums to +0 (RFC 1071 1): ffff stays ffff
    assert ones_sum(b"\xff\xff") == 0xFFFF
    assert ones_sum(b"\xff\xff" * 3000) == 0xFFFF
    assert ones_sum(b"\x00\x01\xff\xfe") == 0xFFFF


def test_odd_length_pads_with_zero() -> None:
    assert ones_sum(b"\x12") == 0x1200
    assert ones_sum(b"\x12\x34\x56") == 0x1234 + 0x5600


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        2,
        19,
        20,
        255,
        256,
        257,
        258,
        300,
        1023,
        1500,
        1501,
        4096,
        9000,
        16383,
        16384,
        16385,
        65535,
        65536,
        70001,
    ],
)
def test_every_code_path_matches_reference(size: int) -> None:
    import random

    rng = random.Random(size)
    data = bytes(rng.getrandbits(8) for _ in range(size))
    assert ones_sum(data) == slow_ones_sum(data)
    assert internet_checksum(data) == ~slow_ones_sum(data) & 0xFFFF
    buf = bytearray(b"\xaa" * 7) + data
    assert ones_sum(memoryview(buf)[7:]) == slow_ones_sum(data)
    assert ones_sum(bytearray(data)) == slow_ones_sum(data)


def test_all_ones_chunks_fold_to_ffff() -> None:
    # every fold level sees 0xFFFF words: the result must be ffff, never 0
    for size in (300, 1500, 20000):
        assert ones_sum(b"\xff" * size) == 0xFFFF
        assert internet_checksum(b"\xff" * size) == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.integers(min_value=0, max_value=(1 << 40)))
def test_random_matches_slow_reference(data: bytes, initial: int) -> None:
    assert ones_sum(data) == slow_ones_sum(data)
    assert ones_sum(data, initial) == slow_ones_sum(data, initial)
    assert internet_checksum(data, initial) == ~slow_ones_sum(data, initial) & 0xFFFF


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=20, max_size=200).filter(lambda b: len(b) % 2 == 0), st.data())
def test_incremental_update_equals_recompute(data: bytes, draw: st.DataObject) -> None:
    buf = bytearray(data)
    buf[0] |= 1  # keep the data non-zero, as any real header is
    check = internet_checksum(buf)
    # one 16-bit word (csum_replace2)
    i = draw.draw(st.integers(min_value=0, max_value=len(buf) // 2 - 1)) * 2
    new = draw.draw(st.integers(min_value=0, max_value=0xFFFF))
    old = (buf[i] << 8) | buf[i + 1]
    struct.pack_into("!H", buf, i, new)
    if any(buf):  # all-zero data is the one +0/-0 case eqn. 3 resolves the other way
        assert incremental_update(check, old, new) == internet_checksum(buf)
    # one 32-bit field, 16-bit aligned (csum_replace4), e.g. an address under NAT
    check = internet_checksum(buf)
    j = draw.draw(st.integers(min_value=0, max_value=len(buf) // 2 - 2)) * 2
    new32 = draw.draw(st.integers(min_value=0, max_value=0xFFFFFFFF))
    old32 = struct.unpack_from("!I", buf, j)[0]
    struct.pack_into("!I", buf, j, new32)
    if any(buf):
        assert incremental_update32(check, old32, new32) == internet_checksum(buf)


def test_incremental_update_rfc1624_example() -> None:
    # RFC 1624 4: HC = dd2f, m = 5555 -> m' = 3285 gives HC' = 0000 with eqn. 3
    assert incremental_update(0xDD2F, 0x5555, 0x3285) == 0x0000


def test_pseudo_header_sum_accepts_ints_and_bytes() -> None:
    a = pseudo_header_sum(0x0A000001, 0x0A000002, 6, 40)
    b = pseudo_header_sum(b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 6, 40)
    assert csum_fold(a) == csum_fold(b)
    pseudo = struct.pack("!IIBBH", 0x0A000001, 0x0A000002, 0, 6, 40)
    assert csum_fold(a) == slow_ones_sum(pseudo)


def test_csum_fold() -> None:
    assert csum_fold(0) == 0
    assert csum_fold(0xFFFF) == 0xFFFF
    assert csum_fold(0x1FFFE) == 0xFFFF
    assert csum_fold(0x12345) == 0x2346
