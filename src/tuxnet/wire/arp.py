"""ARP packet (struct arphdr + the Ethernet/IPv4 addresses; RFC 826): view and repr.

Checks follow arp_rcv: a packet shorter than its header and four addresses is
PKT_TOO_SMALL; an address length other than 6/4 is refused (NOT_SPECIFIED) by the repr.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire.addr import ip_str, mac_str
from tuxnet.wire.errors import MalformedError, TruncatedError
from tuxnet.wire.ethernet import ETH_ALEN, ETH_P_IP
from tuxnet.wire.types import Buffer, WBuffer, unpack1

__all__ = [
    "ARPHRD_ETHER",
    "ARPOP_REPLY",
    "ARPOP_REQUEST",
    "ARPOP_RREPLY",
    "ARPOP_RREQUEST",
    "ARP_HLEN",
    "ArpRepr",
    "ArpView",
]

# include/uapi/linux/if_arp.h
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ARPOP_REPLY = 2
ARPOP_RREQUEST = 3
ARPOP_RREPLY = 4
ARP_HLEN = 28  # arphdr (8) + 2 * (6 + 4) for Ethernet/IPv4

_FIXED = struct.Struct("!HHBBH")
_ETH_IP = struct.Struct("!HHBBH6sI6sI")
_u16 = unpack1("!H")


class ArpView:
    """Zero-copy view of an ARP packet (struct arphdr), checked once for its lengths."""

    __slots__ = ("buf", "end", "hln", "offset", "pln")
    buf: Buffer
    offset: int
    end: int
    hln: int
    pln: int

    def __init__(self, buf: Buffer, offset: int = 0, end: int | None = None) -> None:
        if end is None or end > len(buf):
            end = len(buf)
        avail = end - offset
        if avail < 8 or offset < 0:
            raise TruncatedError(f"arp: {avail} bytes, need 8")
        hln, pln = buf[offset + 4], buf[offset + 5]
        need = 8 + 2 * (hln + pln)  # arp_hdr_len
        if avail < need:
            raise TruncatedError(f"arp: {avail} bytes, need {need}")
        self.buf = buf
        self.offset = offset
        self.end = offset + need
        self.hln = hln
        self.pln = pln

    @property
    def hrd(self) -> int:
        """Hardware type (ar_hrd), ARPHRD_ETHER for Ethernet."""
        return _u16(self.buf, self.offset)[0]

    @property
    def pro(self) -> int:
        """Protocol type (ar_pro), ETH_P_IP for IPv4."""
        return _u16(self.buf, self.offset + 2)[0]

    @property
    def op(self) -> int:
        """Operation (ar_op): ARPOP_REQUEST / ARPOP_REPLY."""
        return _u16(self.buf, self.offset + 6)[0]

    def _field(self, at: int, size: int) -> bytes:
        o = self.offset + at
        return bytes(self.buf[o : o + size])

    @property
    def sha(self) -> bytes:
        """Sender hardware address."""
        return self._field(8, self.hln)

    @property
    def spa(self) -> int:
        """Sender protocol address as an int."""
        return int.from_bytes(self._field(8 + self.hln, self.pln), "big")

    @property
    def tha(self) -> bytes:
        """Target hardware address."""
        return self._field(8 + self.hln + self.pln, self.hln)

    @property
    def tpa(self) -> int:
        """Target protocol address as an int."""
        return int.from_bytes(self._field(8 + 2 * self.hln + self.pln, self.pln), "big")


@dataclass(slots=True)
class ArpRepr:
    """Validated Ethernet/IPv4 ARP packet (RFC 826); addresses: MAC bytes, IPv4 ints."""

    op: int
    sha: bytes
    spa: int
    tha: bytes
    tpa: int
    hrd: int = ARPHRD_ETHER
    pro: int = ETH_P_IP

    @classmethod
    def parse(cls, data: Buffer | ArpView) -> ArpRepr:
        """Decode; refuses address lengths other than 6 and 4 as arp_rcv does."""
        view = data if isinstance(data, ArpView) else ArpView(data)
        if view.hln != ETH_ALEN or view.pln != 4:
            raise MalformedError(f"arp: hln {view.hln} pln {view.pln}", SkbDropReason.NOT_SPECIFIED)
        hrd, pro, _h, _p, op, sha, spa, tha, tpa = _ETH_IP.unpack_from(view.buf, view.offset)
        return cls(op, bytes(sha), spa, bytes(tha), tpa, hrd, pro)

    @property
    def header_len(self) -> int:
        """Always 28."""
        return ARP_HLEN

    def emit(self, buf: WBuffer, offset: int = 0) -> int:
        """Write the packet; returns 28."""
        if len(self.sha) != ETH_ALEN or len(self.tha) != ETH_ALEN:
            raise ValueError("arp: hardware addresses must be 6 bytes")
        _ETH_IP.pack_into(
            buf,
            offset,
            self.hrd & 0xFFFF,
            self.pro & 0xFFFF,
            ETH_ALEN,
            4,
            self.op & 0xFFFF,
            self.sha,
            self.spa & 0xFFFFFFFF,
            self.tha,
            self.tpa & 0xFFFFFFFF,
        )
        return ARP_HLEN

    def to_bytes(self) -> bytes:
        """The 28-byte packet."""
        buf = bytearray(ARP_HLEN)
        self.emit(buf)
        return bytes(buf)

    def __str__(self) -> str:
        if self.op == ARPOP_REQUEST:
            return f"ARP, Request who-has {ip_str(self.tpa)} tell {ip_str(self.spa)}"
        if self.op == ARPOP_REPLY:
            return f"ARP, Reply {ip_str(self.spa)} is-at {mac_str(self.sha)}"
        return f"ARP, op {self.op}"
