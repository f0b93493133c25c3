"""UDP header (struct udphdr; RFC 768): view and validated repr.

Checks follow __udp4_lib_rcv: fewer than 8 bytes, a length field beyond the buffer or
below 8 are PKT_TOO_SMALL (short_packet); a non-zero checksum that fails over the
pseudo-header is UDP_CSUM (InCsumErrors). The view ends at the UDP length, as
pskb_trim_rcsum trims the skb.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.errors import ChecksumError, TruncatedError
from tuxnet.wire.ipv4 import IPPROTO_UDP
from tuxnet.wire.types import Buffer, WBuffer, unpack1, unpack2

__all__ = ["UDP_HLEN", "UdpRepr", "UdpView"]

UDP_HLEN = 8

_HDR = struct.Struct("!HHHH")
_U16 = struct.Struct("!H")
_u16 = unpack1("!H")
_ports = unpack2("!HH")


class UdpView:
    """Zero-copy view of a UDP datagram (struct udphdr), checked once."""

    __slots__ = ("buf", "end", "offset", "payload_offset")
    buf: Buffer
    offset: int
    payload_offset: int
    end: int

    def __init__(self, buf: Buffer, offset: int = 0, end: int | None = None) -> None:
        if end is None or end > len(buf):
            end = len(buf)
        avail = end - offset
        if avail < UDP_HLEN or offset < 0:
            raise TruncatedError(f"udp: {avail} bytes, need 8")
        ulen = _u16(buf, offset + 4)[0]
        if ulen > avail or ulen < UDP_HLEN:  # RFC 768: length counts header and data
            raise TruncatedError(
                f"udp: length field {ulen} with {avail} bytes",
                SkbDropReason.PKT_TOO_SMALL,
                "InErrors",
            )
        self.buf = buf
        self.offset = offset
        self.payload_offset = offset + UDP_HLEN
        self.end = offset + ulen

    @property
    def src_port(self) -> int:
        """Source port."""
        return _u16(self.buf, self.offset)[0]

    @src_port.setter
    def src_port(self, port: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset, port & 0xFFFF)

    @property
    def dst_port(self) -> int:
        """Destination port."""
        return _u16(self.buf, self.offset + 2)[0]

    @dst_port.setter
    def dst_port(self, port: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset + 2, port & 0xFFFF)

    def ports(self) -> tuple[int, int]:
        """(source, dest) in one read."""
        return _ports(self.buf, self.offset)

    @property
    def length(self) -> int:
        """Length field: header plus data."""
        return self.end - self.offset

    @property
    def checksum(self) -> int:
        """Checksum field; 0 means none was computed (RFC 768)."""
        return _u16(self.buf, self.offset + 6)[0]

    @checksum.setter
    def checksum(self, value: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset + 6, value & 0xFFFF)

    @property
    def payload(self) -> memoryview:
        """Datagram data (no copy)."""
        return memoryview(self.buf)[self.payload_offset : self.end]

    @property
    def payload_len(self) -> int:
        """Bytes of data."""
        return self.end - self.payload_offset

    def verify_checksum(self, src: int, dst: int) -> bool:
        """udp4_csum_init + checksum_complete: true when the field is 0 (none) or the
        sum over pseudo-header and datagram is all ones."""
        if _u16(self.buf, self.offset + 6)[0] == 0:
            return True
        dgram = memoryview(self.buf)[self.offset : self.end]
        return ones_sum(dgram, src + dst + IPPROTO_UDP + len(dgram)) == 0xFFFF

    def fill_checksum(self, src: int, dst: int) -> int:
        """udp4_hwcsum in software: compute and store; 0 is sent as 0xFFFF (RFC 768)."""
        buf = self._wbuf()
        o = self.offset
        _U16.pack_into(buf, o + 6, 0)
        dgram = memoryview(buf)[o : self.end]
        check = ~ones_sum(dgram, src + dst + IPPROTO_UDP + len(dgram)) & 0xFFFF
        check = check or 0xFFFF  # CSUM_MANGLED_0
        _U16.pack_into(buf, o + 6, check)
        return check

    def _wbuf(self) -> WBuffer:
        buf = self.buf
        if isinstance(buf, bytes):
            raise TypeError("UdpView over read-only bytes; use a bytearray to write")
        return buf


@dataclass(slots=True)
class UdpRepr:
    """Validated UDP header value (struct udphdr; RFC 768)."""

    src_port: int
    dst_port: int
    payload_len: int = 0

    @classmethod
    def parse(
        cls, data: Buffer | UdpView, src: int | None = None, dst: int | None = None
    ) -> UdpRepr:
        """Decode a datagram; verifies a non-zero checksum when ``src`` and ``dst`` are
        given (ChecksumError, UDP_CSUM)."""
        view = data if isinstance(data, UdpView) else UdpView(data)
        if src is not None and dst is not None and not view.verify_checksum(src, dst):
            raise ChecksumError("udp: bad checksum", SkbDropReason.UDP_CSUM, "InCsumErrors")
        sport, dport = view.ports()
        return cls(sport, dport, view.end - view.payload_offset)

    @property
    def header_len(self) -> int:
        """Always 8."""
        return UDP_HLEN

    def emit(self, buf: WBuffer, offset: int, src: int, dst: int, checksum: bool = True) -> int:
        """Write the header at ``offset``; with ``checksum`` sum the payload_len bytes
        expected after it (else the field is 0: no checksum). Returns 8."""
        ulen = UDP_HLEN + self.payload_len
        if ulen > 0xFFFF or self.payload_len < 0:
            raise ValueError(f"udp length {ulen} out of range")
        _HDR.pack_into(buf, offset, self.src_port & 0xFFFF, self.dst_port & 0xFFFF, ulen, 0)
        if checksum:
            dgram = memoryview(buf)[offset : offset + ulen]
            if len(dgram) != ulen:
                raise ValueError(f"udp: buffer holds {len(dgram)} of the {ulen} bytes")
            check = ~ones_sum(dgram, src + dst + IPPROTO_UDP + ulen) & 0xFFFF
            _U16.pack_into(buf, offset + 6, check or 0xFFFF)  # RFC 768: 0 sent as ones
        return UDP_HLEN

    def to_bytes(self, src: int, dst: int, payload: bytes | bytearray | memoryview = b"") -> bytes:
        """Header (checksummed) followed by ``payload``."""
        rep = replace(self, payload_len=len(payload))
        buf = bytearray(UDP_HLEN + len(payload))
        buf[UDP_HLEN:] = payload
        rep.emit(buf, 0, src, dst)
        return bytes(buf)
