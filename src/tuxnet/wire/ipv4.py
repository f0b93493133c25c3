"""IPv4 header (struct iphdr; RFC 791 3.1): view, validated repr, options.

Checks follow ip_rcv_core (net/ipv4/ip_input.c) in its order and with its drop
reasons: a header shorter than 20 bytes, a version other than 4, IHL < 5 or a header
cut short are IP_INHDR (InHdrErrors); a bad header checksum is IP_CSUM (InCsumErrors);
a total length beyond the buffer is PKT_TOO_SMALL (InTruncatedPkts); a total length
shorter than the header is IP_INHDR. Bytes after the total length (Ethernet padding)
are outside the view, as pskb_trim_rcsum leaves them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire.addr import ip_str
from tuxnet.wire.checksum import incremental_update, ones_sum
from tuxnet.wire.errors import ChecksumError, MalformedError, TruncatedError
from tuxnet.wire.types import Buffer, WBuffer, unpack1, unpack2

__all__ = [
    "IPDEFTTL",
    "IPOPT_CIPSO",
    "IPOPT_END",
    "IPOPT_LSRR",
    "IPOPT_NOOP",
    "IPOPT_RA",
    "IPOPT_RR",
    "IPOPT_SEC",
    "IPOPT_SID",
    "IPOPT_SSRR",
    "IPOPT_TIMESTAMP",
    "IPPROTO_AH",
    "IPPROTO_ESP",
    "IPPROTO_GRE",
    "IPPROTO_ICMP",
    "IPPROTO_IGMP",
    "IPPROTO_IP",
    "IPPROTO_IPIP",
    "IPPROTO_IPV6",
    "IPPROTO_RAW",
    "IPPROTO_SCTP",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "IPPROTO_UDPLITE",
    "IPV4_HLEN",
    "IPV4_MAX_HLEN",
    "IP_CE",
    "IP_DF",
    "IP_MF",
    "IP_OFFSET",
    "IP_RF",
    "MAXTTL",
    "Ipv4Repr",
    "Ipv4View",
    "parse_ipv4_options",
]

# include/uapi/linux/in.h
IPPROTO_IP = 0
IPPROTO_ICMP = 1
IPPROTO_IGMP = 2
IPPROTO_IPIP = 4
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41
IPPROTO_GRE = 47
IPPROTO_ESP = 50
IPPROTO_AH = 51
IPPROTO_SCTP = 132
IPPROTO_UDPLITE = 136
IPPROTO_RAW = 255
# include/net/ip.h: iph->frag_off bits; IP_CE is the "evil"/reserved bit of RFC 791 3.1
IP_CE = 0x8000
IP_RF = IP_CE
IP_DF = 0x4000
IP_MF = 0x2000
IP_OFFSET = 0x1FFF
# include/uapi/linux/ip.h
IPOPT_END = 0
IPOPT_NOOP = 1
IPOPT_RR = 7
IPOPT_TIMESTAMP = 68
IPOPT_SEC = 130
IPOPT_LSRR = 131
IPOPT_CIPSO = 134
IPOPT_SID = 136
IPOPT_SSRR = 137
IPOPT_RA = 148
MAXTTL = 255
IPDEFTTL = 64  # net.ipv4.ip_default_ttl
IPV4_HLEN = 20
IPV4_MAX_HLEN = 60  # IHL is 4 bits of 32-bit words (RFC 791 3.1)

_vihl_tot = unpack2("!BxH")
_HDR = struct.Struct("!BBHHHBBHII")
_pack_hdr = _HDR.pack_into
_U8 = struct.Struct("B")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_ADDRS = struct.Struct("!II")
_u16 = unpack1("!H")
_u32 = unpack1("!I")
_addrs = unpack2("!II")
_MIB_HDR = "InHdrErrors"


class Ipv4View:
    """Zero-copy view of an IPv4 header (struct iphdr), checked once as ip_rcv_core does.

    ``header_len``, ``payload_offset`` and ``end`` (offset + total length) are fixed at
    construction; other fields are read from the buffer on access.
    """

    __slots__ = ("buf", "end", "header_len", "offset", "payload_offset")
    buf: Buffer
    offset: int
    header_len: int
    payload_offset: int
    end: int

    def __init__(
        self, buf: Buffer, offset: int = 0, end: int | None = None, verify_csum: bool = False
    ) -> None:
        n = len(buf)
        if end is None or end > n:
            end = n
        if end - offset >= IPV4_HLEN and offset >= 0 and not verify_csum:
            vihl, tot = _vihl_tot(buf, offset)
            # fast path: version 4, no options, total length within the buffer
            if vihl == 0x45 and IPV4_HLEN <= tot <= end - offset:
                self.buf = buf
                self.offset = offset
                self.header_len = IPV4_HLEN
                self.payload_offset = offset + IPV4_HLEN
                self.end = offset + tot
                return
        self._init_checked(buf, offset, end, verify_csum)

    def _init_checked(self, buf: Buffer, offset: int, end: int, verify_csum: bool) -> None:
        avail = end - offset
        if avail < IPV4_HLEN or offset < 0:  # RFC 791 3.1: minimum header
            raise TruncatedError(f"ipv4: {avail} bytes, need 20", SkbDropReason.IP_INHDR, _MIB_HDR)
        vihl, tot = _vihl_tot(buf, offset)
        hl = (vihl & 15) << 2
        if vihl >> 4 != 4 or hl < IPV4_HLEN:
            raise MalformedError(
                f"ipv4: version {vihl >> 4} ihl {vihl & 15}", SkbDropReason.IP_INHDR, _MIB_HDR
            )
        if avail < hl:
            raise TruncatedError(
                f"ipv4: header of {hl} cut at {avail}", SkbDropReason.IP_INHDR, _MIB_HDR
            )
        if verify_csum and ones_sum(memoryview(buf)[offset : offset + hl]) != 0xFFFF:
            raise ChecksumError("ipv4: bad header checksum", SkbDropReason.IP_CSUM, "InCsumErrors")
        if tot > avail:
            raise TruncatedError(
                f"ipv4: total length {tot} > {avail}",
                SkbDropReason.PKT_TOO_SMALL,
                "InTruncatedPkts",
            )
        if tot < hl:
            raise MalformedError(
                f"ipv4: total length {tot} < header {hl}", SkbDropReason.IP_INHDR, _MIB_HDR
            )
        self.buf = buf
        self.offset = offset
        self.header_len = hl
        self.payload_offset = offset + hl
        self.end = offset + tot

    # -- fields (RFC 791 3.1) --------------------------------------------------------
    @property
    def version(self) -> int:
        """Always 4 for a constructed view."""
        return self.buf[self.offset] >> 4

    @property
    def ihl(self) -> int:
        """Header length in 32-bit words."""
        return self.header_len >> 2

    @property
    def tos(self) -> int:
        """Type of service byte: DSCP << 2 | ECN (RFC 2474, RFC 3168)."""
        return self.buf[self.offset + 1]

    @tos.setter
    def tos(self, value: int) -> None:
        _U8.pack_into(self._wbuf(), self.offset + 1, value & 0xFF)

    @property
    def dscp(self) -> int:
        """Differentiated services code point (RFC 2474 3)."""
        return self.buf[self.offset + 1] >> 2

    @property
    def ecn(self) -> int:
        """ECN codepoint (RFC 3168 5): INET_ECN_NOT_ECT/ECT_1/ECT_0/CE = 0/1/2/3."""
        return self.buf[self.offset + 1] & 3

    @property
    def total_len(self) -> int:
        """Total length field (tot_len)."""
        return self.end - self.offset

    @property
    def payload_len(self) -> int:
        """Bytes after the header, within the total length."""
        return self.end - self.payload_offset

    @property
    def ident(self) -> int:
        """Identification (id)."""
        return _u16(self.buf, self.offset + 4)[0]

    @property
    def frag_off(self) -> int:
        """The raw flags + fragment offset word (iph->frag_off, host order)."""
        return _u16(self.buf, self.offset + 6)[0]

    @property
    def df(self) -> bool:
        """Don't Fragment."""
        return bool(self.buf[self.offset + 6] & 0x40)

    @property
    def mf(self) -> bool:
        """More Fragments."""
        return bool(self.buf[self.offset + 6] & 0x20)

    @property
    def frag_offset(self) -> int:
        """Fragment offset in bytes (the field counts 8-byte units)."""
        return (_u16(self.buf, self.offset + 6)[0] & IP_OFFSET) << 3

    @property
    def is_fragment(self) -> bool:
        """ip_is_fragment: MF set or a non-zero offset."""
        return bool(_u16(self.buf, self.offset + 6)[0] & (IP_MF | IP_OFFSET))

    @property
    def ttl(self) -> int:
        """Time to live."""
        return self.buf[self.offset + 8]

    @ttl.setter
    def ttl(self, value: int) -> None:
        _U8.pack_into(self._wbuf(), self.offset + 8, value & 0xFF)

    @property
    def protocol(self) -> int:
        """Transport protocol (IPPROTO_*)."""
        return self.buf[self.offset + 9]

    @protocol.setter
    def protocol(self, value: int) -> None:
        _U8.pack_into(self._wbuf(), self.offset + 9, value & 0xFF)

    @property
    def checksum(self) -> int:
        """Header checksum field (check)."""
        return _u16(self.buf, self.offset + 10)[0]

    @checksum.setter
    def checksum(self, value: int) -> None:
        _U16.pack_into(self._wbuf(), self.offset + 10, value & 0xFFFF)

    @property
    def src(self) -> int:
        """Source address (saddr) as a 32-bit int."""
        return _u32(self.buf, self.offset + 12)[0]

    @src.setter
    def src(self, addr: int) -> None:
        _U32.pack_into(self._wbuf(), self.offset + 12, addr & 0xFFFFFFFF)

    @property
    def dst(self) -> int:
        """Destination address (daddr) as a 32-bit int."""
        return _u32(self.buf, self.offset + 16)[0]

    @dst.setter
    def dst(self, addr: int) -> None:
        _U32.pack_into(self._wbuf(), self.offset + 16, addr & 0xFFFFFFFF)

    def addrs(self) -> tuple[int, int]:
        """(saddr, daddr) in one read, for flow lookups."""
        return _addrs(self.buf, self.offset + 12)

    @property
    def options(self) -> memoryview:
        """Raw option bytes (header_len - 20 of them, padding included)."""
        o = self.offset
        return memoryview(self.buf)[o + IPV4_HLEN : o + self.header_len]

    @property
    def payload(self) -> memoryview:
        """The datagram's payload, up to the total length (no copy)."""
        return memoryview(self.buf)[self.payload_offset : self.end]

    # -- checksum ---------------------------------------------------------------------
    def verify_checksum(self) -> bool:
        """ip_fast_csum(iph, ihl) == 0."""
        o = self.offset
        return ones_sum(memoryview(self.buf)[o : o + self.header_len]) == 0xFFFF

    def compute_checksum(self) -> int:
        """The checksum the header should carry (field taken as zero)."""
        o = self.offset
        hdr = bytearray(self.buf[o : o + self.header_len])
        hdr[10] = hdr[11] = 0
        return ~ones_sum(hdr) & 0xFFFF

    def fill_checksum(self) -> int:
        """ip_send_check: recompute and store the header checksum; returns it."""
        buf = self._wbuf()
        o = self.offset
        _U16.pack_into(buf, o + 10, 0)
        check = ~ones_sum(memoryview(buf)[o : o + self.header_len]) & 0xFFFF
        _U16.pack_into(buf, o + 10, check)
        return check

    def dec_ttl(self) -> int:
        """ip_decrease_ttl: TTL - 1 with an RFC 1624 checksum update; returns the new TTL."""
        buf = self._wbuf()
        o = self.offset
        ttl = int(buf[o + 8])
        word = (ttl << 8) | int(buf[o + 9])
        new = (word - 0x100) & 0xFFFF
        check = incremental_update(int(_u16(buf, o + 10)[0]), word, new)
        _U8.pack_into(buf, o + 8, new >> 8)
        _U16.pack_into(buf, o + 10, check)
        return new >> 8

    def _wbuf(self) -> WBuffer:
        buf = self.buf
        if isinstance(buf, bytes):
            raise TypeError("Ipv4View over read-only bytes; use a bytearray to write")
        return buf


def parse_ipv4_options(data: Buffer) -> list[tuple[int, bytes]]:
    """Split option bytes into (type, data) pairs, as ip_options_compile walks them
    (RFC 791 3.1): EOL ends the list, NOP is one byte, any other option carries a length
    >= 2 that fits. EOL and NOP are not listed. Raises MalformedError (IP_INHDR)."""
    out: list[tuple[int, bytes]] = []
    n = len(data)
    i = 0
    while i < n:
        kind = int(data[i])
        if kind == IPOPT_END:
            break
        if kind == IPOPT_NOOP:
            i += 1
            continue
        if n - i < 2:
            raise MalformedError(
                f"ipv4 option {kind} has no length", SkbDropReason.IP_INHDR, _MIB_HDR
            )
        olen = int(data[i + 1])
        if olen < 2 or olen > n - i:
            raise MalformedError(
                f"ipv4 option {kind} length {olen}", SkbDropReason.IP_INHDR, _MIB_HDR
            )
        out.append((kind, bytes(data[i + 2 : i + olen])))
        i += olen
    return out


@dataclass(slots=True)
class Ipv4Repr:
    """Validated IPv4 header value (struct iphdr; RFC 791 3.1). Addresses are ints."""

    src: int
    dst: int
    protocol: int
    payload_len: int = 0
    ttl: int = IPDEFTTL
    tos: int = 0
    ident: int = 0
    frag_off: int = 0
    options: bytes = b""

    @classmethod
    def parse(cls, data: Buffer | Ipv4View, verify_checksum: bool = True) -> Ipv4Repr:
        """Decode and validate a header (ip_rcv_core checks, then the option walk)."""
        if isinstance(data, Ipv4View):
            view = data
            if verify_checksum and not view.verify_checksum():
                raise ChecksumError(
                    "ipv4: bad header checksum", SkbDropReason.IP_CSUM, "InCsumErrors"
                )
        else:
            view = Ipv4View(data, verify_csum=verify_checksum)
        buf, o = view.buf, view.offset
        _v, tos, _tot, ident, frag, ttl, proto, _c, src, dst = _HDR.unpack_from(buf, o)
        options = bytes(view.options)
        if options:
            parse_ipv4_options(options)
        return cls(src, dst, proto, view.end - view.payload_offset, ttl, tos, ident, frag, options)

    @property
    def header_len(self) -> int:
        """20 plus the options padded to a multiple of 4."""
        return IPV4_HLEN + ((len(self.options) + 3) & ~3)

    @property
    def total_len(self) -> int:
        """Header plus payload."""
        return self.header_len + self.payload_len

    @property
    def df(self) -> bool:
        """Don't Fragment."""
        return bool(self.frag_off & IP_DF)

    @property
    def mf(self) -> bool:
        """More Fragments."""
        return bool(self.frag_off & IP_MF)

    @property
    def frag_offset(self) -> int:
        """Fragment offset in bytes."""
        return (self.frag_off & IP_OFFSET) << 3

    @property
    def option_list(self) -> list[tuple[int, bytes]]:
        """The options as (type, data) pairs; raises MalformedError if ill-formed."""
        return parse_ipv4_options(self.options)

    def emit(self, buf: WBuffer, offset: int = 0) -> int:
        """Write the header with its checksum (ip_send_check); returns header_len.
        The payload is not touched: it is expected at offset + header_len."""
        opts = self.options
        hl = IPV4_HLEN + ((len(opts) + 3) & ~3)
        if hl > IPV4_MAX_HLEN:
            raise ValueError(f"ipv4 options of {len(opts)} bytes exceed 40")
        tot = hl + self.payload_len
        if tot > 0xFFFF or self.payload_len < 0:
            raise ValueError(f"ipv4 total length {tot} out of range")
        vihl = 0x40 | (hl >> 2)
        tos, ident, frag = self.tos & 0xFF, self.ident & 0xFFFF, self.frag_off & 0xFFFF
        ttl, proto = self.ttl & 0xFF, self.protocol & 0xFF
        src, dst = self.src & 0xFFFFFFFF, self.dst & 0xFFFFFFFF
        # RFC 1071: the sum of the header words, addresses added whole (2**16 == 1)
        s = ((vihl << 8) | tos) + tot + ident + frag + ((ttl << 8) | proto) + src + dst
        if opts:
            padded = opts + bytes(hl - IPV4_HLEN - len(opts))  # IPOPT_END padding
            buf[offset + IPV4_HLEN : offset + hl] = padded
            s += ones_sum(padded)
        check = ~(s % 0xFFFF or 0xFFFF) & 0xFFFF  # s > 0: vihl is never 0
        _pack_hdr(buf, offset, vihl, tos, tot, ident, frag, ttl, proto, check, src, dst)
        return hl

    def to_bytes(self, payload: bytes | bytearray | memoryview = b"") -> bytes:
        """Header (payload_len taken from ``payload`` when given) followed by it."""
        rep = replace(self, payload_len=len(payload)) if payload else self
        buf = bytearray(rep.header_len)
        rep.emit(buf)
        return bytes(buf) + bytes(payload)

    def __str__(self) -> str:
        return (
            f"{ip_str(self.src)} > {ip_str(self.dst)} proto {self.protocol} "
            f"ttl {self.ttl} id {self.ident} len {self.total_len}"
        )
