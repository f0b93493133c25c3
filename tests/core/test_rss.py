"""Toeplitz hash against Microsoft's RSS verification vectors (shared conformance data)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tuxnet.core.rss import (
    MS_DEFAULT_KEY,
    ethtool_rxfh_indir_default,
    netdev_rss_key_fill,
    rss_input_ipv4,
    toeplitz_hash,
)


def _vectors(conformance_dir: Path) -> list[tuple[bytes, bytes, int, int, int, int, bytes]]:
    path = conformance_dir / "rss" / "toeplitz-ipv4.txt"
    key = b""
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("key "):
            key = bytes.fromhex(line.split()[1])
        if not line or line.startswith("#") or line.startswith("key"):
            continue
        dst, src, ipv4_only, with_tcp = line.split()
        daddr, dport = dst.split(":")
        saddr, sport = src.split(":")
        rows.append((bytes(map(int, saddr.split("."))), bytes(map(int, daddr.split("."))),
                     int(sport), int(dport), int(ipv4_only, 16), int(with_tcp, 16), key))
    assert rows, "no vectors parsed"
    return rows


def test_toeplitz_matches_verification_vectors(conformance_dir: Path) -> None:
    for saddr, daddr, sport, dport, h_ip, h_tcp, key in _vectors(conformance_dir):
        assert key == MS_DEFAULT_KEY
        assert toeplitz_hash(key, rss_input_ipv4(saddr, daddr)) == h_ip
        assert toeplitz_hash(key, rss_input_ipv4(saddr, daddr, sport, dport)) == h_tcp


def _slow_toeplitz(key: bytes, data: bytes) -> int:
    k = int.from_bytes(key, "big")
    klen = len(key) * 8
    h = 0
    for i in range(len(data) * 8):
        if data[i // 8] & (0x80 >> (i % 8)):
            h ^= (k >> (klen - 32 - i)) & 0xFFFFFFFF
    return h


def test_table_hash_equals_bitwise_definition() -> None:
    rng = random.Random(7)
    key = netdev_rss_key_fill(rng)
    assert len(key) == 52
    for n in (4, 8, 12, 36):
        for _ in range(50):
            data = bytes(rng.getrandbits(8) for _ in range(n))
            assert toeplitz_hash(key, data) == _slow_toeplitz(key, data)


def test_key_too_short_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="too short"):
        toeplitz_hash(b"\x01" * 8, b"\x00" * 12)


def test_default_indirection_spreads_round_robin() -> None:
    assert [ethtool_rxfh_indir_default(i, 3) for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]
