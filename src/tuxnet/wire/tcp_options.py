"""TCP options (RFC 9293 3.2): parse as tcp_parse_options does, emit as
tcp_options_write (net/ipv4/tcp_output.c) lays them out, or in any given order.

Parsing is lenient by default, like Linux: the walk stops at an option whose length is
< 2 or runs past the header ("silly" or partial options), and a known option of the
wrong size is not taken (kept in ``unknown``). ``strict=True`` raises MalformedError on
both. Whether an MSS/wscale/SACK-permitted option counts (only on SYN, only when the
sysctl allows it) and the clamp of wscale to 14 are the TCP stack's business.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire.errors import MalformedError
from tuxnet.wire.types import Buffer

__all__ = [
    "MAX_TCP_OPTION_SPACE",
    "TCPOLEN_MSS",
    "TCPOLEN_SACK_BASE",
    "TCPOLEN_SACK_PERBLOCK",
    "TCPOLEN_SACK_PERM",
    "TCPOLEN_TIMESTAMP",
    "TCPOLEN_WINDOW",
    "TCPOPT_AO",
    "TCPOPT_EOL",
    "TCPOPT_EXP",
    "TCPOPT_FASTOPEN",
    "TCPOPT_MD5SIG",
    "TCPOPT_MPTCP",
    "TCPOPT_MSS",
    "TCPOPT_NOP",
    "TCPOPT_SACK",
    "TCPOPT_SACK_PERM",
    "TCPOPT_TIMESTAMP",
    "TCPOPT_WINDOW",
    "TCP_MAX_WSCALE",
    "TCP_NUM_SACKS",
    "TcpOptions",
    "iter_tcp_options",
]

# include/net/tcp.h
TCPOPT_EOL = 0
TCPOPT_NOP = 1
TCPOPT_MSS = 2
TCPOPT_WINDOW = 3
TCPOPT_SACK_PERM = 4
TCPOPT_SACK = 5
TCPOPT_TIMESTAMP = 8
TCPOPT_MD5SIG = 19
TCPOPT_AO = 29
TCPOPT_MPTCP = 30
TCPOPT_FASTOPEN = 34
TCPOPT_EXP = 254
TCPOLEN_MSS = 4
TCPOLEN_WINDOW = 3
TCPOLEN_SACK_PERM = 2
TCPOLEN_TIMESTAMP = 10
TCPOLEN_SACK_BASE = 2
TCPOLEN_SACK_PERBLOCK = 8
MAX_TCP_OPTION_SPACE = 40
TCP_MAX_WSCALE = 14  # RFC 7323 2.3
TCP_NUM_SACKS = 4

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_TS = struct.Struct("!II")
_EDGES = struct.Struct("!II")

# tcp_options_write emits 32-bit words; these are the fixed ones (RFC 9293 3.2,
# RFC 7323 2.2/3.2, RFC 2018 2-3)
_W_SACKPERM_TS = bytes((TCPOPT_SACK_PERM, TCPOLEN_SACK_PERM, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP))
_W_NOP_NOP_TS = bytes((TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP))
_W_NOP_NOP_SACKPERM = bytes((TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_PERM, TCPOLEN_SACK_PERM))


def _bad(msg: str) -> MalformedError:
    return MalformedError(f"tcp options: {msg}", SkbDropReason.NOT_SPECIFIED)


def iter_tcp_options(data: Buffer, strict: bool = False) -> list[tuple[int, bytes]]:
    """The raw option list as (kind, data) pairs, NOP (1, b"") and EOL (0, b"")
    included; the walk of tcp_parse_options (RFC 9293 3.2: kinds 0 and 1 are one byte,
    the others carry a length that counts kind and length)."""
    out: list[tuple[int, bytes]] = []
    n = len(data)
    i = 0
    while i < n:
        kind = data[i]
        if kind == TCPOPT_EOL:
            out.append((TCPOPT_EOL, b""))
            break
        if kind == TCPOPT_NOP:
            out.append((TCPOPT_NOP, b""))
            i += 1
            continue
        if n - i < 2:
            if strict:
                raise _bad(f"kind {kind} without a length at {i}")
            break
        size = data[i + 1]
        if size < 2 or size > n - i:  # "silly options" / "don't parse partial options"
            if strict:
                raise _bad(f"kind {kind} length {size} at {i} of {n}")
            break
        out.append((kind, bytes(data[i + 2 : i + size])))
        i += size
    return out


@dataclass(slots=True)
class TcpOptions:
    """Decoded TCP options (struct tcp_options_received / tcp_out_options).

    ``layout`` (ignored by ==) records the kinds in wire order, NOP and EOL included,
    so :meth:`to_bytes` can reproduce a parsed header byte for byte.
    """

    mss: int | None = None
    wscale: int | None = None
    sack_permitted: bool = False
    timestamp: tuple[int, int] | None = None
    sack_blocks: list[tuple[int, int]] = field(default_factory=list)
    unknown: list[tuple[int, bytes]] = field(default_factory=list)
    layout: tuple[int, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, data: Buffer, strict: bool = False) -> TcpOptions:
        """tcp_parse_options (RFC 9293 3.2, RFC 7323 2-3, RFC 2018 2-3) over raw option
        bytes; the sizes a known kind must have are TCPOLEN_*."""
        opts = cls()
        layout: list[int] = []
        for kind, body in iter_tcp_options(data, strict):
            layout.append(kind)
            size = len(body) + 2
            if kind <= TCPOPT_NOP:
                continue
            if kind == TCPOPT_MSS and size == TCPOLEN_MSS:
                opts.mss = _U16.unpack_from(body)[0]
            elif kind == TCPOPT_WINDOW and size == TCPOLEN_WINDOW:
                opts.wscale = body[0]
            elif kind == TCPOPT_SACK_PERM and size == TCPOLEN_SACK_PERM:
                opts.sack_permitted = True
            elif kind == TCPOPT_TIMESTAMP and size == TCPOLEN_TIMESTAMP:
                tsval, tsecr = _TS.unpack_from(body)
                opts.timestamp = (tsval, tsecr)
            elif (
                kind == TCPOPT_SACK
                and size >= TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK
                and (size - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_PERBLOCK == 0
            ):
                opts.sack_blocks = [_EDGES.unpack_from(body, j) for j in range(0, len(body), 8)]
            else:
                if strict and kind in _KNOWN:
                    raise _bad(f"kind {kind} with length {size}")
                opts.unknown.append((kind, body))
        opts.layout = tuple(layout)
        return opts

    def is_empty(self) -> bool:
        """No option set at all."""
        return (
            self.mss is None
            and self.wscale is None
            and not self.sack_permitted
            and self.timestamp is None
            and not self.sack_blocks
            and not self.unknown
        )

    # -- emit -----------------------------------------------------------------------
    def to_bytes(self, layout: Sequence[int] | None = None) -> bytes:
        """Encode the options: Linux's layout when ``layout`` is None, else in the given
        order of kinds (NOP = 1 and EOL = 0 placed as listed; set options missing from
        it follow at the end). The result is padded to a 32-bit multiple and at most
        40 bytes (RFC 9293 3.1); a longer list raises ValueError."""
        out = self._linux() if layout is None else self._ordered(layout)
        if len(out) > MAX_TCP_OPTION_SPACE:
            raise ValueError(f"tcp options need {len(out)} bytes, at most 40 fit")
        return out

    def emit_layout(self) -> bytes:
        """Encode in the recorded ``layout`` (Linux's when none was recorded)."""
        return self.to_bytes(self.layout or None)

    @property
    def length(self) -> int:
        """Encoded length (Linux layout), a multiple of 4."""
        return len(self.to_bytes())

    def _linux(self) -> bytes:
        # tcp_options_write: MSS; SACK_PERM folded into the TS word when both are on;
        # NOP-aligned TS, SACK_PERM, WSCALE and SACK words; then anything else.
        out = bytearray()
        if self.mss is not None:
            out += bytes((TCPOPT_MSS, TCPOLEN_MSS)) + _U16.pack(self.mss & 0xFFFF)
        sack_perm = self.sack_permitted
        if self.timestamp is not None:
            if sack_perm:
                out += _W_SACKPERM_TS
                sack_perm = False
            else:
                out += _W_NOP_NOP_TS
            out += _TS.pack(self.timestamp[0] & 0xFFFFFFFF, self.timestamp[1] & 0xFFFFFFFF)
        if sack_perm:
            out += _W_NOP_NOP_SACKPERM
        if self.wscale is not None:
            out += bytes((TCPOPT_NOP, TCPOPT_WINDOW, TCPOLEN_WINDOW, self.wscale & 0xFF))
        if self.sack_blocks:
            out += bytes(
                (
                    TCPOPT_NOP,
                    TCPOPT_NOP,
                    TCPOPT_SACK,
                    TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK * len(self.sack_blocks),
                )
            )
            out += self._sack_edges()
        for kind, body in self.unknown:
            out += _generic(kind, body)
            while len(out) & 3:
                out.append(TCPOPT_NOP)  # as Linux pads the Fast Open cookie
        return bytes(out)

    def _ordered(self, layout: Sequence[int]) -> bytes:
        out = bytearray()
        done: set[int] = set()
        unknown = list(self.unknown)
        for kind in layout:
            if kind in (TCPOPT_EOL, TCPOPT_NOP):
                out.append(kind)
            elif kind in _FIXED_SIZE or kind == TCPOPT_SACK:
                if kind not in done:
                    out += self._one(kind)
                    done.add(kind)
            else:
                for j, (k, body) in enumerate(unknown):
                    if k == kind:
                        out += _generic(k, body)
                        del unknown[j]
                        break
        for kind in (TCPOPT_MSS, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP, TCPOPT_WINDOW, TCPOPT_SACK):
            if kind not in done:
                out += self._one(kind)
        for k, body in unknown:
            out += _generic(k, body)
        while len(out) & 3:
            out.append(TCPOPT_EOL)  # RFC 9293 3.1: the padding is zeros
        return bytes(out)

    def _one(self, kind: int) -> bytes:
        if kind == TCPOPT_MSS and self.mss is not None:
            return bytes((TCPOPT_MSS, TCPOLEN_MSS)) + _U16.pack(self.mss & 0xFFFF)
        if kind == TCPOPT_WINDOW and self.wscale is not None:
            return bytes((TCPOPT_WINDOW, TCPOLEN_WINDOW, self.wscale & 0xFF))
        if kind == TCPOPT_SACK_PERM and self.sack_permitted:
            return bytes((TCPOPT_SACK_PERM, TCPOLEN_SACK_PERM))
        if kind == TCPOPT_TIMESTAMP and self.timestamp is not None:
            return bytes((TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP)) + _TS.pack(
                self.timestamp[0] & 0xFFFFFFFF, self.timestamp[1] & 0xFFFFFFFF
            )
        if kind == TCPOPT_SACK and self.sack_blocks:
            size = TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK * len(self.sack_blocks)
            return bytes((TCPOPT_SACK, size)) + self._sack_edges()
        return b""

    def _sack_edges(self) -> bytes:
        return b"".join(
            _EDGES.pack(left & 0xFFFFFFFF, right & 0xFFFFFFFF) for left, right in self.sack_blocks
        )

    def __str__(self) -> str:
        parts: list[str] = []
        if self.mss is not None:
            parts.append(f"mss {self.mss}")
        if self.sack_permitted:
            parts.append("sackOK")
        if self.timestamp is not None:
            parts.append(f"TS val {self.timestamp[0]} ecr {self.timestamp[1]}")
        if self.wscale is not None:
            parts.append(f"wscale {self.wscale}")
        if self.sack_blocks:
            parts.append("sack " + " ".join(f"{a}:{b}" for a, b in self.sack_blocks))
        parts.extend(f"opt-{k} {b.hex()}" for k, b in self.unknown)
        return ",".join(parts)


_FIXED_SIZE = frozenset((TCPOPT_MSS, TCPOPT_WINDOW, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP))
_KNOWN = _FIXED_SIZE | {TCPOPT_SACK}


def _generic(kind: int, body: bytes) -> bytes:
    if len(body) > 253:
        raise ValueError(f"tcp option {kind} body of {len(body)} bytes")
    return bytes((kind & 0xFF, len(body) + 2)) + body
