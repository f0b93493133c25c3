"""TCP header (struct tcphdr; RFC 9293 3.1): view and validated repr.

Checks follow tcp_v4_rcv: a data offset below 5 words is PKT_TOO_SMALL (counted in
InErrs); a header cut short is PKT_TOO_SMALL too (Linux says NOT_SPECIFIED there); a
bad checksum over the pseudo-header is TCP_CSUM (InCsumErrors).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.errors import ChecksumError, MalformedError, TruncatedError
from tuxnet.wire.ipv4 import IPPROTO_TCP
from tuxnet.wire.tcp_options import TcpOptions
from tuxnet.wire.types import Buffer, WBuffer, unpack1, unpack2

__all__ = [
    "TCPHDR_ACK",
    "TCPHDR_CWR",
    "TCPHDR_ECE",
    "TCPHDR_FIN",
    "TCPHDR_PSH",
    "TCPHDR_RST",
    "TCPHDR_SYN",
    "TCPHDR_SYN_ECN",
    "TCPHDR_URG",
    "TCP_HLEN",
    "TcpRepr",
    "TcpView",
    "tcp_flags_str",
]

# include/net/tcp.h: bits of the flags byte (th[13]), RFC 9293 3.1 and RFC 3168 6.1
TCPHDR_FIN = 0x01
TCPHDR_SYN = 0x02
TCPHDR_RST = 0x04
TCPHDR_PSH = 0x08
TCPHDR_ACK = 0x10
TCPHDR_URG = 0x20
TCPHDR_ECE = 0x40
TCPHDR_CWR = 0x80
TCPHDR_SYN_ECN = TCPHDR_SYN | TCPHDR_ECE | TCPHDR_CWR
TCP_HLEN = 20

_HDR = struct.Struct("!HHIIBBHHH")
_pack_hdr = _HDR.pack_into
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_u16 = unpack1("!H")
_u32 = unpack1("!I")
_ports = unpack2("!HH")
_MIB_ERR = "InErrs"

# tcpdump's letters, in its order
_FLAG_LETTERS = (
    (TCPHDR_FIN, "F"),
    (TCPHDR_SYN, "S"),
    (TCPHDR_RST, "R"),
    (TCPHDR_PSH, "P"),
    (TCPHDR_URG, "U"),
    (TCPHDR_ECE, "E"),
    (TCPHDR_CWR, "W"),
)


def tcp_flags_str(flags: int) -> str:
    """tcpdump style: ``S``, ``S.``, ``P.``, ``F.``, ``R``, ``.`` for a bare ACK."""
    s = "".join(c for bit, c in _FLAG_LETTERS if flags & bit)
    if flags & TCPHDR_ACK:
        s += "."
    return s or "none"


class TcpView:
    """Zero-copy view of a TCP segment (struct tcphdr), checked once as tcp_v4_rcv does.

    ``end`` bounds the segment (the IPv4 total length); ``header_len`` is doff * 4.
    """

    __slots__ = ("buf", "end", "header_len", "offset", "payload_offset")
    buf: Buffer
    offset: int
    header_len: int
    payload_offset: int
    end: int

    def __init__(self, buf: Buffer, offset: int = 0, end: int | None = None) -> None:
        n = len(buf)
        if end is None or end > n:
            end = n
        if end - offset >= TCP_HLEN and offset >= 0:
            hl = (buf[offset + 12] >> 4) << 2
            if TCP_HLEN <= hl <= end - offset:
                self.buf = buf
                self.offset = offset
                self.end = end
                self.header_len = hl
                self.payload_offset = offset + hl
                return
            if hl < TCP_HLEN:
                raise MalformedError(
                    f"tcp: data offset {hl >> 2} < 5", SkbDropReason.PKT_TOO_SMALL, _MIB_ERR
                )
            raise TruncatedError(f"tcp: header of {hl} cut at {end - offset}")
        raise TruncatedError(f"tcp: {end - offset} bytes, need 20")

    # -- fields (RFC 9293 3.1) --------------------------------------------------------
    @property
    def src_port(self) -> int:
        """Source port (source)."""
        return _u16(self.buf, self.offset)[0]

    @src_port.setter
    def src_port(self, port: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset, port & 0xFFFF)

    @property
    def dst_port(self) -> int:
        """Destination port (dest)."""
        return _u16(self.buf, self.offset + 2)[0]

    @dst_port.setter
    def dst_port(self, port: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset + 2, port & 0xFFFF)

    def ports(self) -> tuple[int, int]:
        """(source, dest) in one read, for socket lookups."""
        return _ports(self.buf, self.offset)

    @property
    def seq(self) -> int:
        """Sequence number."""
        return _u32(self.buf, self.offset + 4)[0]

    @seq.setter
    def seq(self, value: int) -> None:
        _U32.pack_into(self._wbuf(), self.offset + 4, value & 0xFFFFFFFF)

    @property
    def ack_seq(self) -> int:
        """Acknowledgment number."""
        return _u32(self.buf, self.offset + 8)[0]

    @ack_seq.setter
    def ack_seq(self, value: int) -> None:
        _U32.pack_into(self._wbuf(), self.offset + 8, value & 0xFFFFFFFF)

    @property
    def doff(self) -> int:
        """Data offset in 32-bit words."""
        return self.header_len >> 2

    @property
    def res1(self) -> int:
        """The four reserved bits after doff (bit 0 is AccECN's AE)."""
        return self.buf[self.offset + 12] & 0x0F

    @property
    def flags(self) -> int:
        """The flags byte (tcp_flag_byte): TCPHDR_* bits."""
        return self.buf[self.offset + 13]

    @flags.setter
    def flags(self, value: int) -> None:
        struct.pack_into("B", self._wbuf(), self.offset + 13, value & 0xFF)

    @property
    def fin(self) -> bool:
        """FIN bit."""
        return bool(self.buf[self.offset + 13] & TCPHDR_FIN)

    @property
    def syn(self) -> bool:
        """SYN bit."""
        return bool(self.buf[self.offset + 13] & TCPHDR_SYN)

    @property
    def rst(self) -> bool:
        """RST bit."""
        return bool(self.buf[self.offset + 13] & TCPHDR_RST)

    @property
    def psh(self) -> bool:
        """PSH bit."""
        return bool(self.buf[self.offset + 13] & TCPHDR_PSH)

    @property
    def ack(self) -> bool:
        """ACK bit."""
        return bool(self.buf[self.offset + 13] & TCPHDR_ACK)

    @property
    def urg(self) -> bool:
        """URG bit."""
        return bool(self.buf[self.offset + 13] & TCPHDR_URG)

    @property
    def ece(self) -> bool:
        """ECE bit (RFC 3168 6.1)."""
        return bool(self.buf[self.offset + 13] & TCPHDR_ECE)

    @property
    def cwr(self) -> bool:
        """CWR bit (RFC 3168 6.1)."""
        return bool(self.buf[self.offset + 13] & TCPHDR_CWR)

    @property
    def window(self) -> int:
        """Window field, unscaled."""
        return _u16(self.buf, self.offset + 14)[0]

    @window.setter
    def window(self, value: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset + 14, value & 0xFFFF)

    @property
    def checksum(self) -> int:
        """Checksum field (check)."""
        return _u16(self.buf, self.offset + 16)[0]

    @checksum.setter
    def checksum(self, value: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset + 16, value & 0xFFFF)

    @property
    def urg_ptr(self) -> int:
        """Urgent pointer."""
        return _u16(self.buf, self.offset + 18)[0]

    @urg_ptr.setter
    def urg_ptr(self, value: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset + 18, value & 0xFFFF)

    @property
    def options(self) -> memoryview:
        """Raw option bytes (header_len - 20 of them)."""
        o = self.offset
        return memoryview(self.buf)[o + TCP_HLEN : o + self.header_len]

    def parse_options(self, strict: bool = False) -> TcpOptions:
        """tcp_parse_options over this header (lenient unless ``strict``)."""
        return TcpOptions.parse(self.options, strict)

    @property
    def payload(self) -> memoryview:
        """Segment data (no copy)."""
        return memoryview(self.buf)[self.payload_offset : self.end]

    @property
    def payload_len(self) -> int:
        """Bytes of segment data."""
        return self.end - self.payload_offset

    # -- checksum (RFC 9293 3.1: pseudo-header + header + data) ----------------------
    def verify_checksum(self, src: int, dst: int) -> bool:
        """tcp_checksum_complete == 0 for a segment between ``src`` and ``dst``."""
        seg = memoryview(self.buf)[self.offset : self.end]
        return ones_sum(seg, src + dst + IPPROTO_TCP + len(seg)) == 0xFFFF

    def fill_checksum(self, src: int, dst: int) -> int:
        """Compute and store the checksum (__tcp_v4_send_check, software); returns it."""
        buf = self._wbuf()
        o = self.offset
        _U16.pack_into(buf, o + 16, 0)
        seg = memoryview(buf)[o : self.end]
        check = ~ones_sum(seg, src + dst + IPPROTO_TCP + len(seg)) & 0xFFFF
        _U16.pack_into(buf, o + 16, check)
        return check

    def _wbuf(self) -> WBuffer:
        buf = self.buf
        if isinstance(buf, bytes):
            raise TypeError("TcpView over read-only bytes; use a bytearray to write")
        return buf


@dataclass(slots=True)
class TcpRepr:
    """Validated TCP header value (struct tcphdr + options; RFC 9293 3.1)."""

    src_port: int
    dst_port: int
    seq: int = 0
    ack_seq: int = 0
    flags: int = 0
    window: int = 0
    urg_ptr: int = 0
    options: TcpOptions = field(default_factory=TcpOptions)
    payload_len: int = 0
    res1: int = 0

    @classmethod
    def parse(
        cls,
        data: Buffer | TcpView,
        src: int | None = None,
        dst: int | None = None,
        strict_options: bool = True,
    ) -> TcpRepr:
        """Decode a segment; verifies the checksum when ``src`` and ``dst`` are given
        (ChecksumError, TCP_CSUM) and the options' shape when ``strict_options``."""
        view = data if isinstance(data, TcpView) else TcpView(data)
        if src is not None and dst is not None and not view.verify_checksum(src, dst):
            raise ChecksumError("tcp: bad checksum", SkbDropReason.TCP_CSUM, "InCsumErrors")
        sport, dport, seq, ack, doff_res, flags, window, _check, urg = _HDR.unpack_from(
            view.buf, view.offset
        )
        opts = view.parse_options(strict_options)
        return cls(
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            urg,
            opts,
            view.end - view.payload_offset,
            doff_res & 0x0F,
        )

    @property
    def header_len(self) -> int:
        """20 plus the encoded options."""
        return TCP_HLEN + (0 if self.options.is_empty() else len(self.options.emit_layout()))

    def emit(self, buf: WBuffer, offset: int, src: int, dst: int, checksum: bool = True) -> int:
        """Write header and options at ``offset`` and, with ``checksum``, the checksum
        over pseudo-header, header and the payload_len bytes expected after the header
        (tcp_v4_send_check). Returns header_len."""
        opts = b"" if self.options.is_empty() else self.options.emit_layout()
        hl = TCP_HLEN + len(opts)
        _pack_hdr(
            buf,
            offset,
            self.src_port & 0xFFFF,
            self.dst_port & 0xFFFF,
            self.seq & 0xFFFFFFFF,
            self.ack_seq & 0xFFFFFFFF,
            (hl << 2) | (self.res1 & 0x0F),
            self.flags & 0xFF,
            self.window & 0xFFFF,
            0,
            self.urg_ptr & 0xFFFF,
        )
        if opts:
            buf[offset + TCP_HLEN : offset + hl] = opts
        if checksum:
            seglen = hl + self.payload_len
            seg = memoryview(buf)[offset : offset + seglen]
            if len(seg) != seglen:
                raise ValueError(f"tcp: buffer holds {len(seg)} of the {seglen} segment bytes")
            check = ~ones_sum(seg, src + dst + IPPROTO_TCP + seglen) & 0xFFFF
            _U16.pack_into(buf, offset + 16, check)
        return hl

    def to_bytes(self, src: int, dst: int, payload: bytes | bytearray | memoryview = b"") -> bytes:
        """Header (checksummed between ``src`` and ``dst``) followed by ``payload``."""
        rep = replace(self, payload_len=len(payload))
        hl = rep.header_len
        buf = bytearray(hl + len(payload))
        buf[hl:] = payload
        rep.emit(buf, 0, src, dst)
        return bytes(buf)

    def __str__(self) -> str:
        opts = str(self.options)
        return (
            f"{self.src_port} > {self.dst_port} Flags [{tcp_flags_str(self.flags)}], "
            f"seq {self.seq}, ack {self.ack_seq}, win {self.window}"
            + (f", options [{opts}]" if opts else "")
            + f", length {self.payload_len}"
        )
