"""Receive-side scaling: the Toeplitz hash and the RX flow-hash indirection table.

The Toeplitz hash (Microsoft RSS specification; Linux lib/toeplitz in drivers and
``skb_get_hash`` peers) XORs, for every set bit of the input (most significant bit of
the first byte first), the 32-bit window of the key that starts at that bit. Here the
windows are folded into one 256-entry table per input byte position, so hashing an
IPv4 4-tuple costs 12 table lookups.
"""

from __future__ import annotations

import random
import struct
from functools import lru_cache

# Microsoft's 40-byte default RSS key (NDIS "Verifying the RSS Hash Calculation"); many
# NIC drivers ship it. Linux itself fills netdev_rss_key randomly once per boot
# (net/core/ethtool.c netdev_rss_key_fill), see ``netdev_rss_key_fill`` below.
MS_DEFAULT_KEY = bytes.fromhex(
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c"
    "6a42b73bbeac01fa"
)
NETDEV_RSS_KEY_LEN = 52  # include/linux/netdevice.h
ETH_RXFH_INDIR_DEFAULT_SIZE = 128  # common driver indirection-table size (e.g. mlx5, ice use 128+)

_PORTS = struct.Struct("!HH")


@lru_cache(maxsize=64)
def _tables(key: bytes, nbytes: int) -> tuple[tuple[int, ...], ...]:
    """Per input byte position, the hash contribution of each of the 256 byte values."""
    if len(key) * 8 < nbytes * 8 + 32:
        raise ValueError(f"RSS key of {len(key)} bytes is too short for {nbytes} input bytes")
    k = int.from_bytes(key, "big")
    klen = len(key) * 8
    tables = []
    for pos in range(nbytes):
        # window for input bit (pos*8 + b) is key bits [pos*8+b, pos*8+b+32)
        windows = [(k >> (klen - 32 - (pos * 8 + b))) & 0xFFFFFFFF for b in range(8)]
        row = [0] * 256
        for value in range(1, 256):
            low = value & -value
            bit = low.bit_length() - 1  # 0 = least significant = window index 7
            row[value] = row[value ^ low] ^ windows[7 - bit]
        tables.append(tuple(row))
    return tuple(tables)


def toeplitz_hash(key: bytes, data: bytes) -> int:
    """Toeplitz hash of ``data`` under ``key`` (the RSS hash a NIC computes), 32 bits."""
    tables = _tables(bytes(key), len(data))
    h = 0
    for pos, byte in enumerate(data):
        h ^= tables[pos][byte]
    return h


def rss_input_ipv4(saddr: bytes, daddr: bytes, sport: int | None = None,
                   dport: int | None = None) -> bytes:
    """The RSS hash input for IPv4 (+TCP/UDP ports): src, dst[, sport, dport], network order."""
    if sport is None or dport is None:
        return saddr + daddr
    return saddr + daddr + _PORTS.pack(sport, dport)


def netdev_rss_key_fill(rng: random.Random) -> bytes:
    """A fresh 52-byte RSS key from the host's seeded RNG (netdev_rss_key_fill)."""
    return bytes(rng.getrandbits(8) for _ in range(NETDEV_RSS_KEY_LEN))


def ethtool_rxfh_indir_default(index: int, n_rx_rings: int) -> int:
    """Default indirection-table entry: spread entries round robin (ethtool_rxfh_indir_default)."""
    return index % n_rx_rings
