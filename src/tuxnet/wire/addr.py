"""MAC and IPv4 address helpers (ether_addr / __be32 in Linux), table-driven and fast.

IPv4 addresses are plain ``int`` (host value of the network-order __be32), which makes
masks, longest-prefix matches and hash keys cheap; MAC addresses are 6-byte ``bytes``.
Parsing a *configuration* string that is not an address raises ``ValueError`` with a
clear message (it is a caller error, not a packet to drop).
"""

from __future__ import annotations

import struct

__all__ = [
    "BROADCAST_MAC",
    "ZERO_MAC",
    "int_to_ip",
    "ip_bytes",
    "ip_int",
    "ip_str",
    "is_broadcast_mac",
    "is_multicast_mac",
    "mac_bytes",
    "mac_str",
]

BROADCAST_MAC = b"\xff\xff\xff\xff\xff\xff"
ZERO_MAC = b"\x00\x00\x00\x00\x00\x00"

_U32 = struct.Struct("!I")
_DEC = tuple(str(i) for i in range(256))
_HEX2 = tuple(f"{i:02x}" for i in range(256))
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")
_DECDIGITS = frozenset("0123456789")


def mac_str(mac: bytes | bytearray | memoryview) -> str:
    """``aa:bb:cc:dd:ee:ff`` for 6 bytes (Linux %pM)."""
    return bytes(mac).hex(":")


def mac_bytes(text: str) -> bytes:
    """Parse ``aa:bb:cc:dd:ee:ff`` (also ``-`` separated) into 6 bytes."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or any(not p or len(p) > 2 or not _HEXDIGITS.issuperset(p) for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


def is_multicast_mac(mac: bytes | bytearray | memoryview) -> bool:
    """is_multicast_ether_addr: the I/G bit of the first octet (IEEE 802-2014 8.2)."""
    return bool(mac[0] & 1)


def is_broadcast_mac(mac: bytes | bytearray | memoryview) -> bool:
    """is_broadcast_ether_addr: ff:ff:ff:ff:ff:ff."""
    return bytes(mac) == BROADCAST_MAC


def ip_str(addr: int | bytes | bytearray | memoryview) -> str:
    """Dotted quad of a 32-bit int or 4 network-order bytes (Linux %pI4)."""
    d = _DEC
    if isinstance(addr, int):
        return f"{d[addr >> 24 & 255]}.{d[addr >> 16 & 255]}.{d[addr >> 8 & 255]}.{d[addr & 255]}"
    a, b, c, e = addr[0], addr[1], addr[2], addr[3]
    return f"{d[a]}.{d[b]}.{d[c]}.{d[e]}"


def ip_int(addr: str | bytes | bytearray | memoryview | int) -> int:
    """32-bit int of a dotted quad (strict: four decimal octets 0..255) or of 4 bytes."""
    if isinstance(addr, int):
        if not 0 <= addr <= 0xFFFFFFFF:
            raise ValueError(f"not an IPv4 address: {addr!r}")
        return addr
    if not isinstance(addr, str):
        if len(addr) != 4:
            raise ValueError(f"an IPv4 address is 4 bytes, got {len(addr)}")
        return int(_U32.unpack_from(addr)[0])
    parts = addr.split(".")
    if len(parts) != 4:
        raise ValueError(f"not an IPv4 address: {addr!r}")
    value = 0
    for p in parts:
        if not p or len(p) > 3 or not _DECDIGITS.issuperset(p):
            raise ValueError(f"not an IPv4 address: {addr!r}")
        octet = int(p)
        if octet > 255:
            raise ValueError(f"not an IPv4 address: {addr!r}")
        value = (value << 8) | octet
    return value


def ip_bytes(addr: str | int | bytes | bytearray | memoryview) -> bytes:
    """4 network-order bytes of a dotted quad or a 32-bit int."""
    return _U32.pack(ip_int(addr))


def int_to_ip(value: int) -> str:
    """Alias of :func:`ip_str` for ints (inet_ntoa of a host-order value)."""
    return ip_str(value)
