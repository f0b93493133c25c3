"""ICMP message (struct icmphdr; RFC 792): view and validated repr.

Checks follow icmp_rcv: a bad checksum over the whole message is ICMP_CSUM
(InCsumErrors); fewer than 8 bytes is PKT_TOO_SMALL (Linux: NOT_SPECIFIED, InErrors); a
type above NR_ICMP_TYPES other than the RFC 8335 extended echo is UNHANDLED_PROTO.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.errors import ChecksumError, MalformedError, TruncatedError
from tuxnet.wire.types import Buffer, WBuffer, unpack1

__all__ = [
    "ICMP_ADDRESS",
    "ICMP_ADDRESSREPLY",
    "ICMP_DEST_UNREACH",
    "ICMP_ECHO",
    "ICMP_ECHOREPLY",
    "ICMP_EXC_FRAGTIME",
    "ICMP_EXC_TTL",
    "ICMP_EXT_ECHO",
    "ICMP_EXT_ECHOREPLY",
    "ICMP_FRAG_NEEDED",
    "ICMP_HLEN",
    "ICMP_HOST_ANO",
    "ICMP_HOST_ISOLATED",
    "ICMP_HOST_UNKNOWN",
    "ICMP_HOST_UNREACH",
    "ICMP_HOST_UNR_TOS",
    "ICMP_INFO_REPLY",
    "ICMP_INFO_REQUEST",
    "ICMP_NET_ANO",
    "ICMP_NET_UNKNOWN",
    "ICMP_NET_UNREACH",
    "ICMP_NET_UNR_TOS",
    "ICMP_PARAMETERPROB",
    "ICMP_PKT_FILTERED",
    "ICMP_PORT_UNREACH",
    "ICMP_PREC_CUTOFF",
    "ICMP_PREC_VIOLATION",
    "ICMP_PROT_UNREACH",
    "ICMP_REDIRECT",
    "ICMP_REDIR_HOST",
    "ICMP_REDIR_HOSTTOS",
    "ICMP_REDIR_NET",
    "ICMP_REDIR_NETTOS",
    "ICMP_SOURCE_QUENCH",
    "ICMP_SR_FAILED",
    "ICMP_TIMESTAMP",
    "ICMP_TIMESTAMPREPLY",
    "ICMP_TIME_EXCEEDED",
    "NR_ICMP_TYPES",
    "NR_ICMP_UNREACH",
    "IcmpRepr",
    "IcmpView",
]

# include/uapi/linux/icmp.h
ICMP_ECHOREPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_SOURCE_QUENCH = 4
ICMP_REDIRECT = 5
ICMP_ECHO = 8
ICMP_TIME_EXCEEDED = 11
ICMP_PARAMETERPROB = 12
ICMP_TIMESTAMP = 13
ICMP_TIMESTAMPREPLY = 14
ICMP_INFO_REQUEST = 15
ICMP_INFO_REPLY = 16
ICMP_ADDRESS = 17
ICMP_ADDRESSREPLY = 18
NR_ICMP_TYPES = 18
ICMP_EXT_ECHO = 42  # RFC 8335
ICMP_EXT_ECHOREPLY = 43
# codes for ICMP_DEST_UNREACH
ICMP_NET_UNREACH = 0
ICMP_HOST_UNREACH = 1
ICMP_PROT_UNREACH = 2
ICMP_PORT_UNREACH = 3
ICMP_FRAG_NEEDED = 4
ICMP_SR_FAILED = 5
ICMP_NET_UNKNOWN = 6
ICMP_HOST_UNKNOWN = 7
ICMP_HOST_ISOLATED = 8
ICMP_NET_ANO = 9
ICMP_HOST_ANO = 10
ICMP_NET_UNR_TOS = 11
ICMP_HOST_UNR_TOS = 12
ICMP_PKT_FILTERED = 13
ICMP_PREC_VIOLATION = 14
ICMP_PREC_CUTOFF = 15
NR_ICMP_UNREACH = 15
# codes for ICMP_REDIRECT
ICMP_REDIR_NET = 0
ICMP_REDIR_HOST = 1
ICMP_REDIR_NETTOS = 2
ICMP_REDIR_HOSTTOS = 3
# codes for ICMP_TIME_EXCEEDED
ICMP_EXC_TTL = 0
ICMP_EXC_FRAGTIME = 1

ICMP_HLEN = 8

_HDR = struct.Struct("!BBHI")
_U16 = struct.Struct("!H")
_u16 = unpack1("!H")
_u32 = unpack1("!I")


class IcmpView:
    """Zero-copy view of an ICMP message (struct icmphdr), checked once."""

    __slots__ = ("buf", "end", "offset", "payload_offset")
    buf: Buffer
    offset: int
    payload_offset: int
    end: int

    def __init__(self, buf: Buffer, offset: int = 0, end: int | None = None) -> None:
        if end is None or end > len(buf):
            end = len(buf)
        if end - offset < ICMP_HLEN or offset < 0:
            raise TruncatedError(
                f"icmp: {end - offset} bytes, need 8", SkbDropReason.PKT_TOO_SMALL, "InErrors"
            )
        self.buf = buf
        self.offset = offset
        self.payload_offset = offset + ICMP_HLEN
        self.end = end

    @property
    def type(self) -> int:
        """Message type (ICMP_*)."""
        return self.buf[self.offset]

    @property
    def code(self) -> int:
        """Message code."""
        return self.buf[self.offset + 1]

    @property
    def checksum(self) -> int:
        """Checksum field."""
        return _u16(self.buf, self.offset + 2)[0]

    @checksum.setter
    def checksum(self, value: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset + 2, value & 0xFFFF)

    @property
    def rest(self) -> int:
        """The 32-bit rest-of-header word (un.gateway / un.echo / un.frag)."""
        return _u32(self.buf, self.offset + 4)[0]

    @property
    def ident(self) -> int:
        """Echo identifier (un.echo.id)."""
        return _u16(self.buf, self.offset + 4)[0]

    @property
    def seq(self) -> int:
        """Echo sequence (un.echo.sequence)."""
        return _u16(self.buf, self.offset + 6)[0]

    @property
    def mtu(self) -> int:
        """Next-hop MTU of a fragmentation-needed message (un.frag.mtu; RFC 1191 4)."""
        return _u16(self.buf, self.offset + 6)[0]

    @property
    def payload(self) -> memoryview:
        """Data after the 8-byte header: echo data or the quoted datagram (no copy)."""
        return memoryview(self.buf)[self.payload_offset : self.end]

    def verify_checksum(self) -> bool:
        """skb_checksum_simple_validate: the message sums to all ones."""
        return ones_sum(memoryview(self.buf)[self.offset : self.end]) == 0xFFFF

    def fill_checksum(self) -> int:
        """Compute and store the checksum over the whole message; returns it."""
        buf = self._wbuf()
        _U16.pack_into(buf, self.offset + 2, 0)
        check = ~ones_sum(memoryview(buf)[self.offset : self.end]) & 0xFFFF
        _U16.pack_into(buf, self.offset + 2, check)
        return check

    def _wbuf(self) -> WBuffer:
        buf = self.buf
        if isinstance(buf, bytes):
            raise TypeError("IcmpView over read-only bytes; use a bytearray to write")
        return buf


@dataclass(slots=True)
class IcmpRepr:
    """Validated ICMP message value (struct icmphdr + data; RFC 792)."""

    type: int
    code: int = 0
    rest: int = 0
    payload: bytes = b""

    @classmethod
    def parse(cls, data: Buffer | IcmpView, verify_checksum: bool = True) -> IcmpRepr:
        """Decode a message as icmp_rcv checks it (ICMP_CSUM, UNHANDLED_PROTO)."""
        view = data if isinstance(data, IcmpView) else IcmpView(data)
        if verify_checksum and not view.verify_checksum():
            raise ChecksumError("icmp: bad checksum", SkbDropReason.ICMP_CSUM, "InCsumErrors")
        itype, code, _check, rest = _HDR.unpack_from(view.buf, view.offset)
        if itype > NR_ICMP_TYPES and itype not in (ICMP_EXT_ECHO, ICMP_EXT_ECHOREPLY):
            raise MalformedError(f"icmp: type {itype}", SkbDropReason.UNHANDLED_PROTO, "InErrors")
        return cls(itype, code, rest, bytes(view.payload))

    @classmethod
    def echo_request(cls, ident: int, seq: int, data: bytes = b"") -> IcmpRepr:
        """ICMP_ECHO (RFC 792 p.14)."""
        return cls(ICMP_ECHO, 0, ((ident & 0xFFFF) << 16) | (seq & 0xFFFF), data)

    @classmethod
    def echo_reply(cls, ident: int, seq: int, data: bytes = b"") -> IcmpRepr:
        """ICMP_ECHOREPLY (RFC 792 p.14)."""
        return cls(ICMP_ECHOREPLY, 0, ((ident & 0xFFFF) << 16) | (seq & 0xFFFF), data)

    @classmethod
    def dest_unreach(cls, code: int, quoted: bytes, mtu: int = 0) -> IcmpRepr:
        """ICMP_DEST_UNREACH quoting the offending datagram; ``mtu`` for FRAG_NEEDED."""
        return cls(ICMP_DEST_UNREACH, code, mtu & 0xFFFF, quoted)

    @classmethod
    def time_exceeded(cls, code: int, quoted: bytes) -> IcmpRepr:
        """ICMP_TIME_EXCEEDED (ICMP_EXC_TTL or ICMP_EXC_FRAGTIME)."""
        return cls(ICMP_TIME_EXCEEDED, code, 0, quoted)

    @property
    def ident(self) -> int:
        """Echo identifier."""
        return self.rest >> 16

    @property
    def seq(self) -> int:
        """Echo sequence number."""
        return self.rest & 0xFFFF

    @property
    def mtu(self) -> int:
        """Next-hop MTU (FRAG_NEEDED)."""
        return self.rest & 0xFFFF

    @property
    def gateway(self) -> int:
        """Gateway address of a redirect."""
        return self.rest

    @property
    def pointer(self) -> int:
        """Octet pointer of a parameter problem (RFC 792 p.8)."""
        return self.rest >> 24

    @property
    def header_len(self) -> int:
        """Always 8."""
        return ICMP_HLEN

    @property
    def buffer_len(self) -> int:
        """Header plus data."""
        return ICMP_HLEN + len(self.payload)

    def emit(self, buf: WBuffer, offset: int = 0) -> int:
        """Write header, data and checksum; returns the message length."""
        n = ICMP_HLEN + len(self.payload)
        _HDR.pack_into(buf, offset, self.type & 0xFF, self.code & 0xFF, 0, self.rest & 0xFFFFFFFF)
        buf[offset + ICMP_HLEN : offset + n] = self.payload
        check = ~ones_sum(memoryview(buf)[offset : offset + n]) & 0xFFFF
        _U16.pack_into(buf, offset + 2, check)
        return n

    def to_bytes(self) -> bytes:
        """The whole message."""
        buf = bytearray(self.buffer_len)
        self.emit(buf)
        return bytes(buf)
