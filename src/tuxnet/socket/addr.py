"""AF_INET socket addresses as Python's socket module takes and returns them:
``(host, port)`` tuples (CPython Modules/socketmodule.c: getsockaddrarg, setipaddr,
makesockaddr), converted to and from (address int, port).

Hosts: "" is INADDR_ANY, "<broadcast>" INADDR_BROADCAST, dotted quads as inet_pton
reads them, and "localhost". Other names would need a resolver, which a user-space
stack does not have: they fail as getaddrinfo does (socket.gaierror EAI_NONAME).

Two small memos spare a datagram server the string work per call (a reply goes to
the address recvfrom just formatted): host string -> address for the names parsed
successfully (exact ``str`` only; a failure is never kept, so it raises every time)
and address -> dotted quad. Each holds at most :data:`ADDR_MEMO_MAX` entries and is
emptied when full.
"""

from __future__ import annotations

import socket as _pysocket
from typing import Any

from tuxnet.socket.consts import INADDR_ANY, INADDR_BROADCAST, INADDR_LOOPBACK

__all__ = ["ADDR_MEMO_MAX", "EAI_NONAME", "format_sockaddr", "known_name", "parse_host",
           "parse_sockaddr"]

EAI_NONAME = -2  # include/netdb.h (glibc)
ADDR_MEMO_MAX = 256  # entries per memo (a server talks to few peers at a time)
_parsed: dict[str, int] = {}  # host string -> address (parse_host's successes)
_names: dict[int, str] = {}  # address -> "a.b.c.d"
# known_name(addr): the memoised dotted quad of ``addr``, or None (a bound dict.get:
# callers on a hot path look it up without a Python frame)
known_name = _names.get


def _dotted_quad(name: str) -> int | None:
    """inet_pton(AF_INET): exactly four decimal parts 0..255, no leading zeros."""
    parts = name.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for p in parts:
        if not p.isdigit() or not p.isascii() or len(p) > 3 or (len(p) > 1 and p[0] == "0"):
            return None
        n = int(p)
        if n > 255:
            return None
        value = (value << 8) | n
    return value


def parse_host(host: Any) -> int:
    """setipaddr(): a host string (or bytes) to an IPv4 address int."""
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    if not isinstance(host, str):
        raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")
    if host == "":
        return INADDR_ANY
    if host in ("<broadcast>", "255.255.255.255"):
        return INADDR_BROADCAST
    value = _dotted_quad(host)
    if value is not None:
        return value
    if host.lower() in ("localhost", "localhost.localdomain"):
        return INADDR_LOOPBACK
    raise _pysocket.gaierror(EAI_NONAME, "Name or service not known")


def parse_sockaddr(address: Any, caller: str) -> tuple[int, int]:
    """getsockaddrarg() for AF_INET: ``(host, port)`` to (address int, port), with
    CPython's TypeError / OverflowError for malformed tuples."""
    if not isinstance(address, tuple):
        raise TypeError(f"{caller}(): AF_INET address must be tuple, not "
                        f"{type(address).__name__}")
    if len(address) != 2:
        raise TypeError("AF_INET address must be a pair (host, port)")
    host, port = address
    if not isinstance(port, int):
        raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
    if not 0 <= port <= 0xFFFF:
        raise OverflowError(f"{caller}(): port must be 0-65535.")
    if type(host) is not str:  # bytes, or a str subclass (it may compare equal)
        return parse_host(host), port
    value = _parsed.get(host)
    if value is None:
        value = parse_host(host)  # raises for a bad name, which is never memoised
        if len(_parsed) >= ADDR_MEMO_MAX:
            _parsed.clear()
        _parsed[host] = value
    return value, port


def format_sockaddr(addr: int, port: int) -> tuple[str, int]:
    """makesockaddr(): (address int, port) to ``("a.b.c.d", port)``."""
    name = _names.get(addr)
    if name is None:
        name = f"{addr >> 24}.{(addr >> 16) & 0xFF}.{(addr >> 8) & 0xFF}.{addr & 0xFF}"
        if len(_names) >= ADDR_MEMO_MAX:
            _names.clear()
        _names[addr] = name
    return (name, port)
