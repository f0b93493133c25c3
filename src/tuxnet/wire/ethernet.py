"""Ethernet II header with an optional 802.1Q / 802.1ad tag (struct ethhdr,
struct vlan_ethhdr; IEEE 802.3 3.1.1, IEEE 802.1Q 9.6)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tuxnet.wire.addr import mac_str
from tuxnet.wire.errors import TruncatedError
from tuxnet.wire.types import Buffer, WBuffer, unpack1, unpack2

__all__ = [
    "ETH_ALEN",
    "ETH_DATA_LEN",
    "ETH_FRAME_LEN",
    "ETH_HLEN",
    "ETH_P_802_3_MIN",
    "ETH_P_8021AD",
    "ETH_P_8021Q",
    "ETH_P_ARP",
    "ETH_P_IP",
    "ETH_P_IPV6",
    "ETH_ZLEN",
    "VLAN_CFI_MASK",
    "VLAN_HLEN",
    "VLAN_PRIO_MASK",
    "VLAN_PRIO_SHIFT",
    "VLAN_VID_MASK",
    "EthernetRepr",
    "EthernetView",
    "vlan_tci",
]

# include/uapi/linux/if_ether.h
ETH_ALEN = 6
ETH_HLEN = 14
ETH_ZLEN = 60
ETH_DATA_LEN = 1500
ETH_FRAME_LEN = 1514
ETH_P_802_3_MIN = 0x0600  # below: an 802.3 length field, not an EtherType
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_8021Q = 0x8100
ETH_P_IPV6 = 0x86DD
ETH_P_8021AD = 0x88A8
# include/linux/if_vlan.h
VLAN_HLEN = 4
VLAN_PRIO_MASK = 0xE000
VLAN_PRIO_SHIFT = 13
VLAN_CFI_MASK = 0x1000  # the DEI bit (IEEE 802.1Q-2011 9.6), called CFI in Linux
VLAN_VID_MASK = 0x0FFF

_TYPE = struct.Struct("!H")
_etype = unpack1("!H")
_tag = unpack2("!HH")
_MAC = struct.Struct("6s")
_HDR = struct.Struct("!6s6sH")
_VHDR = struct.Struct("!6s6sHHH")
_pack_hdr = _HDR.pack_into
_pack_vhdr = _VHDR.pack_into


def vlan_tci(vid: int, pcp: int = 0, dei: bool = False) -> int:
    """Build a TCI from priority, drop-eligible bit and VLAN id (IEEE 802.1Q 9.6)."""
    return ((pcp & 7) << VLAN_PRIO_SHIFT) | (VLAN_CFI_MASK if dei else 0) | (vid & VLAN_VID_MASK)


_VLAN_TYPES = frozenset((ETH_P_8021Q, ETH_P_8021AD))


def _is_vlan(ethertype: int) -> bool:
    return ethertype in _VLAN_TYPES


class EthernetView:
    """Zero-copy view of an Ethernet header (struct ethhdr / vlan_ethhdr), checked once.

    ``ethertype`` is the inner type when one VLAN tag is present; ``vlan_tci`` is then
    the tag's TCI (else None) and ``header_len`` is 18. Both are decoded once, as plain
    attributes (read them, don't assign them: ``set_ethertype`` rewrites the frame).
    A value below ETH_P_802_3_MIN is an 802.3 length, as eth_type_trans reads it.
    """

    __slots__ = ("buf", "end", "ethertype", "offset", "payload_offset", "vlan_tci")
    buf: Buffer
    offset: int
    end: int
    ethertype: int
    vlan_tci: int | None
    payload_offset: int

    def __init__(self, buf: Buffer, offset: int = 0, end: int | None = None) -> None:
        n = len(buf)
        if end is None or end > n:
            end = n
        if end - offset >= ETH_HLEN and offset >= 0:
            etype = _etype(buf, offset + 12)[0]
            if etype not in _VLAN_TYPES:  # the common, untagged case
                self.buf = buf
                self.offset = offset
                self.end = end
                self.ethertype = etype
                self.vlan_tci = None
                self.payload_offset = offset + ETH_HLEN
                return
        self._init_tagged(buf, offset, end)

    def _init_tagged(self, buf: Buffer, offset: int, end: int) -> None:
        if end - offset < ETH_HLEN or offset < 0:
            raise TruncatedError(f"ethernet: {end - offset} bytes, need {ETH_HLEN}")
        if end - offset < ETH_HLEN + VLAN_HLEN:
            raise TruncatedError(f"ethernet: 802.1Q tag cut at {end - offset} bytes")
        tci, inner = _tag(buf, offset + 14)
        self.buf = buf
        self.offset = offset
        self.end = end
        self.ethertype = inner
        self.vlan_tci = tci
        self.payload_offset = offset + ETH_HLEN + VLAN_HLEN

    @property
    def header_len(self) -> int:
        """14, or 18 with a VLAN tag."""
        return self.payload_offset - self.offset

    @property
    def vlan_proto(self) -> int | None:
        """The tag's TPID (ETH_P_8021Q or ETH_P_8021AD), None when untagged."""
        if self.vlan_tci is None:
            return None
        return _etype(self.buf, self.offset + 12)[0]

    @property
    def dst(self) -> bytes:
        """Destination MAC (h_dest)."""
        return bytes(_MAC.unpack_from(self.buf, self.offset)[0])

    @dst.setter
    def dst(self, mac: bytes) -> None:
        _MAC.pack_into(self._wbuf(), self.offset, _mac6(mac))

    @property
    def src(self) -> bytes:
        """Source MAC (h_source)."""
        return bytes(_MAC.unpack_from(self.buf, self.offset + 6)[0])

    @src.setter
    def src(self, mac: bytes) -> None:
        _MAC.pack_into(self._wbuf(), self.offset + 6, _mac6(mac))

    def set_ethertype(self, ethertype: int) -> None:
        """Rewrite the (inner) EtherType in place."""
        pos = self.payload_offset - 2
        _TYPE.pack_into(self._wbuf(), pos, ethertype & 0xFFFF)
        self.ethertype = ethertype & 0xFFFF

    @property
    def payload(self) -> memoryview:
        """The bytes after the header, up to ``end`` (no copy)."""
        return memoryview(self.buf)[self.payload_offset : self.end]

    def _wbuf(self) -> WBuffer:
        buf = self.buf
        if isinstance(buf, bytes):
            raise TypeError("EthernetView over read-only bytes; use a bytearray to write")
        return buf


def _mac6(mac: bytes | bytearray) -> bytes:
    if len(mac) != ETH_ALEN:
        raise ValueError(f"a MAC address is 6 bytes, got {len(mac)}")
    return bytes(mac)


@dataclass(slots=True)
class EthernetRepr:
    """Validated Ethernet header value (struct ethhdr + optional 802.1Q tag)."""

    dst: bytes
    src: bytes
    ethertype: int
    vlan_tci: int | None = None
    vlan_proto: int = ETH_P_8021Q

    @classmethod
    def parse(cls, data: Buffer | EthernetView) -> EthernetRepr:
        """Decode a header; raises TruncatedError when the frame is too short."""
        view = data if isinstance(data, EthernetView) else EthernetView(data)
        if view.vlan_tci is None:
            return cls(view.dst, view.src, view.ethertype)
        return cls(
            view.dst, view.src, view.ethertype, view.vlan_tci, view.vlan_proto or ETH_P_8021Q
        )

    @property
    def header_len(self) -> int:
        """14, or 18 with a VLAN tag."""
        return ETH_HLEN if self.vlan_tci is None else ETH_HLEN + VLAN_HLEN

    @property
    def pcp(self) -> int | None:
        """802.1p priority code point of the tag."""
        return None if self.vlan_tci is None else self.vlan_tci >> VLAN_PRIO_SHIFT

    @property
    def dei(self) -> bool | None:
        """Drop-eligible indicator of the tag."""
        return None if self.vlan_tci is None else bool(self.vlan_tci & VLAN_CFI_MASK)

    @property
    def vid(self) -> int | None:
        """VLAN id of the tag."""
        return None if self.vlan_tci is None else self.vlan_tci & VLAN_VID_MASK

    def emit(self, buf: WBuffer, offset: int = 0) -> int:
        """Write the header at ``offset``; returns its length."""
        dst, src = _mac6(self.dst), _mac6(self.src)
        if self.vlan_tci is None:
            _pack_hdr(buf, offset, dst, src, self.ethertype & 0xFFFF)
            return ETH_HLEN
        if not _is_vlan(self.vlan_proto):
            raise ValueError(f"vlan_proto {self.vlan_proto:#06x} is not 802.1Q/802.1ad")
        _pack_vhdr(
            buf, offset, dst, src, self.vlan_proto, self.vlan_tci & 0xFFFF, self.ethertype & 0xFFFF
        )
        return ETH_HLEN + VLAN_HLEN

    def to_bytes(self, payload: bytes | bytearray | memoryview = b"") -> bytes:
        """Header followed by ``payload``."""
        buf = bytearray(self.header_len)
        self.emit(buf)
        return bytes(buf) + bytes(payload)

    def __str__(self) -> str:
        tag = "" if self.vlan_tci is None else f" vlan {self.vid} p {self.pcp}"
        return f"{mac_str(self.src)} > {mac_str(self.dst)}{tag} ethertype {self.ethertype:#06x}"
