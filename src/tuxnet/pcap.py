"""Capture files: classic pcap and pcapng, read and written with ``struct``.

Written files open in tcpdump, Wireshark/tshark and scapy. Timestamps are always
passed in as integer nanoseconds (the caller's loop clock); nothing here reads a clock.

Formats (facts cited where used):

- classic pcap: draft-ietf-opsawg-pcap (24-byte file header, 16-byte record header);
  magic 0xa1b2c3d4 = microsecond, 0xa1b23c4d = nanosecond timestamps; either byte
  order on read. The Kuznetsov "modified" variant (0xa1b2cd34) is read too.
- pcapng: draft-ietf-opsawg-pcapng (blocks SHB, IDB, EPB, SPB, obsolete PB; options;
  both byte orders on read; several sections and interfaces per file).

Bad input raises :class:`PcapError` with a message saying what is wrong and where.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "PcapError",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "PcapngWriter",
    "read_pcap",
]

# https://www.tcpdump.org/linktypes.html
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113

DEFAULT_SNAPLEN = 262144  # libpcap MAXIMUM_SNAPLEN, tcpdump's default -s

# classic pcap magics, as read in the file's own byte order
PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAP_MAGIC_MODIFIED = 0xA1B2CD34  # Kuznetsov's patched libpcap: 8 more bytes per record

# pcapng block types (draft-ietf-opsawg-pcapng section 10.1)
BT_SHB = 0x0A0D0D0A
BT_IDB = 0x00000001
BT_PB = 0x00000002  # obsolete Packet Block
BT_SPB = 0x00000003
BT_EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_ENDOFOPT = 0
OPT_SHB_USERAPPL = 4
OPT_IF_NAME = 2
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14

# Records larger than this are refused as corrupt (libpcap refuses anything above the
# larger of the file's snaplen and its per-linktype maximum; 256 KiB for Ethernet).
_MAX_RECORD = 0x4000000  # 64 MiB: far above any real snaplen, small enough to read
_CHUNK = 1 << 20

_HDR_LE = struct.Struct("<IHHiIII")
_HDR_BE = struct.Struct(">IHHiIII")
_REC_LE = struct.Struct("<IIII")
_REC_BE = struct.Struct(">IIII")
_U32_LE = struct.Struct("<I")
_BLK_LE = struct.Struct("<II")
_BLK_BE = struct.Struct(">II")


class PcapError(Exception):
    """A capture file is malformed, truncated or of an unsupported kind."""


@dataclass(frozen=True, slots=True)
class PcapRecord:
    """One captured packet: ``data`` is what was captured (at most the snaplen),
    ``orig_len`` its length on the wire, ``interface`` the pcapng interface index
    (always 0 in classic pcap)."""

    ts_ns: int
    data: bytes
    orig_len: int
    linktype: int
    interface: int = 0


# --------------------------------------------------------------------------- reading


def _read_exact(f: IO[bytes], n: int, what: str) -> bytes:
    """Read exactly ``n`` bytes in bounded chunks (a corrupt length never allocates
    more than the file holds); short read -> PcapError."""
    if n <= _CHUNK:
        data = f.read(n)
        if len(data) != n:
            raise PcapError(f"truncated file: {what} needs {n} bytes, only {len(data)} left")
        return data
    parts: list[bytes] = []
    got = 0
    while got < n:
        part = f.read(min(_CHUNK, n - got))
        if not part:
            raise PcapError(f"truncated file: {what} needs {n} bytes, only {got} left")
        parts.append(part)
        got += len(part)
    return b"".join(parts)


class PcapReader:
    """Iterate over the records of a pcap or pcapng file (format auto-detected).

    Attributes after construction: ``format`` ("pcap" or "pcapng"), ``linktype`` and
    ``snaplen`` (of the file header or the first interface), ``nanosecond`` (classic
    pcap only: whether the file stores nanoseconds).
    """

    def __init__(self, source: str | os.PathLike[str] | IO[bytes]) -> None:
        if isinstance(source, (str, os.PathLike)):
            self._f: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed in close()
            self._owns = True
        else:
            self._f = source
            self._owns = False
        self.format = "pcap"
        self.linktype = LINKTYPE_ETHERNET
        self.snaplen = DEFAULT_SNAPLEN
        self.nanosecond = False
        self._block_no = 0
        self._records: Iterator[PcapRecord]
        try:
            head = self._f.read(4)
            if len(head) < 4:
                raise PcapError("not a capture file: shorter than 4 bytes")
            (magic_le,) = _U32_LE.unpack(head)
            if magic_le == BT_SHB:
                self.format = "pcapng"
                self._records = self._iter_pcapng(head)
            else:
                self._records = self._iter_pcap(head)
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> Iterator[PcapRecord]:
        return self._records

    def __next__(self) -> PcapRecord:
        return next(self._records)

    def close(self) -> None:
        if self._owns:
            self._f.close()

    def __enter__(self) -> PcapReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # classic pcap ---------------------------------------------------------------

    def _iter_pcap(self, head: bytes) -> Iterator[PcapRecord]:
        f = self._f
        hdr_rest = f.read(_HDR_LE.size - 4)
        raw = head + hdr_rest
        magic_le = _U32_LE.unpack(head)[0]
        magics = (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED)
        if magic_le in magics:
            hdr, rec = _HDR_LE, _REC_LE
        elif int.from_bytes(head, "big") in magics:
            hdr, rec = _HDR_BE, _REC_BE
        else:
            raise PcapError(f"not a pcap or pcapng file (magic 0x{magic_le:08x})")
        if len(raw) < _HDR_LE.size:
            raise PcapError(
                f"truncated pcap file header: {len(raw)} of {_HDR_LE.size} bytes"
            )
        magic, major, minor, _zone, _sigfigs, snaplen, network = hdr.unpack(raw)
        if major != 2:
            raise PcapError(f"unsupported pcap version {major}.{minor}")
        self.nanosecond = magic == PCAP_MAGIC_NS
        self.snaplen = snaplen
        # the upper bits of the link-type field carry FCS information (LT_FCS_*)
        self.linktype = linktype = network & 0x03FFFFFF
        extra = 8 if magic == PCAP_MAGIC_MODIFIED else 0
        frac_ns = 1 if self.nanosecond else 1000
        limit = max(snaplen, DEFAULT_SNAPLEN)
        limit = min(limit, _MAX_RECORD)
        return self._pcap_records(rec, extra, frac_ns, limit, linktype)

    def _pcap_records(
        self, rec: struct.Struct, extra: int, frac_ns: int, limit: int, linktype: int
    ) -> Iterator[PcapRecord]:
        f = self._f
        index = 0
        while True:
            raw = f.read(rec.size)
            if not raw:
                return
            if len(raw) < rec.size:
                raise PcapError(
                    f"truncated file: record {index} header has {len(raw)} of "
                    f"{rec.size} bytes"
                )
            sec, frac, caplen, orig_len = rec.unpack(raw)
            if extra:
                _read_exact(f, extra, f"record {index} header")
            if caplen > limit:
                raise PcapError(
                    f"record {index}: invalid capture length {caplen}, "
                    f"bigger than maximum of {limit}"
                )
            data = _read_exact(f, caplen, f"record {index} data")
            yield PcapRecord(sec * 1_000_000_000 + frac * frac_ns, data, orig_len, linktype)
            index += 1

    # pcapng ---------------------------------------------------------------------

    def _iter_pcapng(self, head: bytes) -> Iterator[PcapRecord]:
        f = self._f
        rest = f.read(8)
        if len(rest) < 8:
            raise PcapError("truncated pcapng section header block")
        order = self._read_shb(head + rest)[0]
        self._block_no = 1
        # read up to the first interface so linktype/snaplen are known before iterating
        ifaces: list[tuple[int, int, int, int]] = []
        pending: tuple[str, int, bytes] | None = None
        while True:
            block = self._read_block(order)
            if block is None:
                break
            order, btype, body = block
            if btype == BT_IDB:
                ifaces.append(_parse_idb(order, body, self._block_no))
                self.linktype, self.snaplen = ifaces[0][0], ifaces[0][1]
                self._block_no += 1
                break
            if btype in (BT_EPB, BT_PB, BT_SPB):
                pending = block
                break
            self._block_no += 1
        return self._pcapng_records(order, ifaces, pending)

    def _read_block(self, order: str) -> tuple[str, int, bytes] | None:
        """Read the next block: (byte order of its section, type, body without the
        trailing length); a new SHB switches the byte order and is returned as such."""
        f = self._f
        block_no = self._block_no
        head = f.read(8)
        if not head:
            return None
        if len(head) < 8:
            raise PcapError(f"truncated file: block {block_no} header")
        if head[:4] == b"\x0a\x0d\x0d\x0a":
            rest = _read_exact(f, 4, "pcapng section header block")
            order, body = self._read_shb(head + rest)
            return order, BT_SHB, body
        btype, total = struct.unpack(order + "II", head)
        if total < 12 or total % 4:
            raise PcapError(f"pcapng block {block_no} has bad length {total}")
        if total > _MAX_RECORD:
            raise PcapError(f"pcapng block {block_no} is too large ({total} bytes)")
        body = _read_exact(f, total - 8, f"pcapng block {block_no}")
        (trailer,) = struct.unpack_from(order + "I", body, len(body) - 4)
        if trailer != total:
            raise PcapError(f"pcapng block {block_no}: trailing length mismatch")
        return order, btype, body[:-4]

    def _read_shb(self, start: bytes) -> tuple[str, bytes]:
        """Parse a Section Header Block whose first 12 bytes are ``start``; returns the
        section byte order and the block body."""
        bom = start[8:12]
        if bom == b"\x4d\x3c\x2b\x1a":
            order = "<"
        elif bom == b"\x1a\x2b\x3c\x4d":
            order = ">"
        else:
            raise PcapError(f"pcapng section header has bad byte-order magic {bom.hex()}")
        (total,) = struct.unpack_from(order + "I", start, 4)
        if total < 28 or total % 4 or total > _MAX_RECORD:
            raise PcapError(f"pcapng section header block has bad length {total}")
        body = start[8:] + _read_exact(self._f, total - 12, "pcapng section header block")
        major, minor = struct.unpack_from(order + "HH", body, 4)
        if major != 1:
            raise PcapError(f"unsupported pcapng version {major}.{minor}")
        (trailer,) = struct.unpack_from(order + "I", body, len(body) - 4)
        if trailer != total:
            raise PcapError("pcapng section header block: trailing length mismatch")
        return order, body

    def _pcapng_records(
        self,
        order: str,
        ifaces: list[tuple[int, int, int, int]],
        pending: tuple[str, int, bytes] | None,
    ) -> Iterator[PcapRecord]:
        # per interface: (linktype, snaplen, ticks per second, offset seconds)
        while True:
            if pending is not None:
                block: tuple[str, int, bytes] | None = pending
                pending = None
            else:
                block = self._read_block(order)
            if block is None:
                return
            order, btype, body = block
            block_no = self._block_no
            self._block_no += 1
            if btype == BT_SHB:
                ifaces = []
            elif btype == BT_IDB:
                ifaces.append(_parse_idb(order, body, block_no))
            elif btype in (BT_EPB, BT_PB):
                if len(body) < 20:
                    raise PcapError(f"pcapng block {block_no}: short packet block")
                if btype == BT_EPB:
                    ifid, hi, lo, caplen, orig_len = struct.unpack_from(order + "IIIII", body)
                else:
                    ifid, _drops, hi, lo, caplen, orig_len = struct.unpack_from(
                        order + "HHIIII", body
                    )
                if ifid >= len(ifaces):
                    raise PcapError(
                        f"pcapng block {block_no}: packet on undefined interface {ifid}"
                    )
                if caplen > len(body) - 20:
                    raise PcapError(
                        f"pcapng block {block_no}: captured length {caplen} exceeds block"
                    )
                linktype, _snap, ticks, offset = ifaces[ifid]
                ts = (hi << 32) | lo
                ts_ns = (ts * 1_000_000_000) // ticks + offset * 1_000_000_000
                yield PcapRecord(ts_ns, bytes(body[20 : 20 + caplen]), orig_len, linktype, ifid)
            elif btype == BT_SPB:
                if not ifaces:
                    raise PcapError(f"pcapng block {block_no}: packet before any interface")
                if len(body) < 4:
                    raise PcapError(f"pcapng block {block_no}: short simple packet block")
                (orig_len,) = struct.unpack_from(order + "I", body)
                linktype, snap, _ticks, _off = ifaces[0]
                caplen = min(orig_len, len(body) - 4)
                if snap:
                    caplen = min(caplen, snap)
                yield PcapRecord(0, bytes(body[4 : 4 + caplen]), orig_len, linktype, 0)
            # other blocks (NRB, ISB, DSB, custom, ...) are skipped


def _parse_idb(order: str, body: bytes, block_no: int) -> tuple[int, int, int, int]:
    if len(body) < 8:
        raise PcapError(f"pcapng block {block_no}: short interface description block")
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body)
    ticks = 1_000_000  # if_tsresol default: 10^-6
    offset = 0
    for code, value in _options(order, body, 8, block_no):
        if code == OPT_IF_TSRESOL and len(value) >= 1:
            res = value[0]
            # MSB clear: 10^-n, MSB set: 2^-n (pcapng if_tsresol)
            exp = res & 0x7F
            if (res & 0x80 and exp > 63) or (not res & 0x80 and exp > 18):
                raise PcapError(f"pcapng block {block_no}: unsupported if_tsresol {res:#x}")
            ticks = (1 << exp) if res & 0x80 else 10**exp
        elif code == OPT_IF_TSOFFSET and len(value) >= 8:
            (offset,) = struct.unpack_from(order + "q", value)
    return linktype, snaplen, ticks, offset


def _options(order: str, body: bytes, off: int, block_no: int) -> Iterator[tuple[int, bytes]]:
    end = len(body)
    while off + 4 <= end:
        code, length = struct.unpack_from(order + "HH", body, off)
        off += 4
        if code == OPT_ENDOFOPT:
            return
        if off + length > end:
            raise PcapError(f"pcapng block {block_no}: option {code} overruns the block")
        yield code, body[off : off + length]
        off += (length + 3) & ~3


def read_pcap(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[PcapRecord]:
    """Yield the records of a pcap or pcapng file (auto-detected). Raises PcapError on a
    malformed file (after yielding the records before the damage)."""
    reader = PcapReader(source)
    try:
        yield from reader
    finally:
        reader.close()


# --------------------------------------------------------------------------- writing


def _open_out(target: str | os.PathLike[str] | IO[bytes]) -> tuple[IO[bytes], bool]:
    if isinstance(target, (str, os.PathLike)):
        return open(target, "wb"), True
    return target, False


class _WriterBase:
    _f: IO[bytes]
    _owns: bool
    _closed = False

    def close(self) -> None:
        """Flush and, if this writer opened the file, close it."""
        if self._closed:
            return
        self._closed = True
        self._f.flush()
        if self._owns:
            self._f.close()

    def __enter__(self) -> _WriterBase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PcapWriter(_WriterBase):
    """Write a classic pcap file: nanosecond timestamps (magic 0xa1b23c4d) unless
    ``nanosecond=False`` (0xa1b2c3d4), in native little-endian order, version 2.4."""

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        linktype: int = LINKTYPE_ETHERNET,
        snaplen: int = DEFAULT_SNAPLEN,
        nanosecond: bool = True,
    ) -> None:
        if not 0 < snaplen <= 0xFFFFFFFF:
            raise ValueError(f"snaplen out of range: {snaplen}")
        self._f, self._owns = _open_out(target)
        self.linktype = linktype
        self.snaplen = snaplen
        self.nanosecond = nanosecond
        magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
        self._f.write(_HDR_LE.pack(magic, 2, 4, 0, 0, snaplen, linktype))

    def __enter__(self) -> PcapWriter:
        return self

    def write_packet(
        self, ts_ns: int, data: bytes | bytearray | memoryview, orig_len: int | None = None
    ) -> None:
        """Append one record; ``data`` beyond the snaplen is cut (orig_len keeps the
        wire length, default ``len(data)``)."""
        if ts_ns < 0:
            raise ValueError(f"negative timestamp: {ts_ns}")
        sec, ns = divmod(ts_ns, 1_000_000_000)
        if sec > 0xFFFFFFFF:
            raise ValueError(f"timestamp does not fit a pcap record: {ts_ns}")
        wire = len(data) if orig_len is None else orig_len
        cap = data[: self.snaplen] if len(data) > self.snaplen else data
        frac = ns if self.nanosecond else ns // 1000
        self._f.write(_REC_LE.pack(sec, frac, len(cap), wire))
        self._f.write(cap)


class PcapngWriter(_WriterBase):
    """Write a pcapng file: one little-endian section, interfaces added with
    :meth:`add_interface` (nanosecond ``if_tsresol``), packets as Enhanced Packet
    Blocks."""

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        application: str | None = "tuxnet",
    ) -> None:
        self._f, self._owns = _open_out(target)
        self._ifaces: list[int] = []  # snaplen per interface
        opts = b""
        if application:
            opts = _opt(OPT_SHB_USERAPPL, application.encode()) + _opt(OPT_ENDOFOPT, b"")
        # SHB body: byte-order magic, version 1.0, section length -1 (unknown)
        body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + opts
        self._block(BT_SHB, body)

    def __enter__(self) -> PcapngWriter:
        return self

    def _block(self, btype: int, body: bytes) -> None:
        total = 12 + len(body)
        self._f.write(_BLK_LE.pack(btype, total) + body + _U32_LE.pack(total))

    def add_interface(
        self, linktype: int = LINKTYPE_ETHERNET, name: str | None = None,
        snaplen: int = DEFAULT_SNAPLEN,
    ) -> int:
        """Describe an interface (IDB) and return its index for :meth:`write_packet`."""
        if not 0 <= snaplen <= 0xFFFFFFFF:
            raise ValueError(f"snaplen out of range: {snaplen}")
        opts = b""
        if name:
            opts += _opt(OPT_IF_NAME, name.encode())
        opts += _opt(OPT_IF_TSRESOL, b"\x09")  # 10^-9: nanoseconds
        opts += _opt(OPT_ENDOFOPT, b"")
        self._block(BT_IDB, struct.pack("<HHI", linktype, 0, snaplen) + opts)
        self._ifaces.append(snaplen)
        return len(self._ifaces) - 1

    def write_packet(
        self,
        ts_ns: int,
        data: bytes | bytearray | memoryview,
        interface: int = 0,
        orig_len: int | None = None,
    ) -> None:
        """Append an Enhanced Packet Block on ``interface`` (cut to its snaplen)."""
        if not 0 <= interface < len(self._ifaces):
            raise ValueError(f"no such interface: {interface} (add_interface first)")
        if ts_ns < 0 or ts_ns >> 64:
            raise ValueError(f"timestamp out of range: {ts_ns}")
        snap = self._ifaces[interface]
        wire = len(data) if orig_len is None else orig_len
        cap = bytes(data[:snap] if snap and len(data) > snap else data)
        pad = b"\0" * (-len(cap) % 4)
        head = struct.pack(
            "<IIIII", interface, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(cap), wire
        )
        self._block(BT_EPB, head + cap + pad)


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)
