"""The printing context shared by the per-protocol printers.

Like tcpdump's netdissect, every read is bounds-checked against the end of the captured
data (``snapend``): a read past it raises :class:`Truncated`, and the packet line ends
with `` [|proto]`` naming the protocol being printed. Printers append to ``out``.
"""

from __future__ import annotations

import struct

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


class Truncated(Exception):
    """A printer read past the captured bytes (tcpdump's longjmp to ``[|proto]``)."""


class Nd:
    """Per-run options and per-packet state of the printers (netdissect_options)."""

    __slots__ = (
        "buf",
        "eflag",
        "ll_hdr_len",
        "out",
        "protocol",
        "seq_absolute",
        "snapend",
        "suppress_default_print",
        "tcp_seq",
        "vflag",
    )

    def __init__(self, vflag: int = 0, eflag: bool = False, seq_absolute: bool = False,
                 suppress_default_print: bool = False) -> None:
        self.vflag = vflag
        self.eflag = eflag
        self.seq_absolute = seq_absolute
        self.suppress_default_print = suppress_default_print
        # TCP conversations: key -> [seq base, ack base] (tcpdump's tcp_seq_hash)
        self.tcp_seq: dict[tuple[bytes, bytes, int], list[int]] = {}
        self.buf = b""
        self.snapend = 0
        self.out: list[str] = []
        self.protocol = ""
        self.ll_hdr_len = 0

    def start(self, data: bytes) -> None:
        self.buf = data
        self.snapend = len(data)
        self.out = []
        self.protocol = ""
        self.ll_hdr_len = 0

    # bounds-checked reads (GET_U_1 / GET_BE_U_2 / GET_BE_U_4)
    def u8(self, off: int) -> int:
        if off >= self.snapend:
            raise Truncated
        return self.buf[off]

    def be16(self, off: int) -> int:
        if off + 2 > self.snapend:
            raise Truncated
        return int(_U16.unpack_from(self.buf, off)[0])

    def be32(self, off: int) -> int:
        if off + 4 > self.snapend:
            raise Truncated
        return int(_U32.unpack_from(self.buf, off)[0])

    def ttest(self, off: int, n: int) -> bool:
        """Are ``n`` bytes at ``off`` captured (ND_TTEST_LEN)?"""
        return n >= 0 and off + n <= self.snapend

    def need(self, off: int, n: int) -> None:
        if off + n > self.snapend:
            raise Truncated

    def ipaddr(self, off: int) -> str:
        if off + 4 > self.snapend:
            raise Truncated
        b = self.buf
        return f"{b[off]}.{b[off + 1]}.{b[off + 2]}.{b[off + 3]}"

    def linkaddr(self, off: int, n: int) -> str:
        """A link-layer address of ``n`` bytes as colon-separated hex."""
        if off + n > self.snapend:
            raise Truncated
        if n == 0:
            return "<empty>"
        return ":".join(f"{x:02x}" for x in self.buf[off : off + n])

    def pr(self, s: str) -> None:
        self.out.append(s)

    def print_trunc(self) -> None:
        """nd_print_trunc: the `` [|proto]`` marker, printed where the printer stops."""
        self.out.append(f" [|{self.protocol}]")


def in_cksum_shouldbe(stored: int, computed: int) -> int:
    """The checksum the field should hold, from the stored value and the checksum
    computed over the data including it (tcpdump's in_cksum_shouldbe)."""
    total = stored + computed
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return total


def hex_print(buf: bytes, off: int, length: int, oset: int = 0) -> str:
    """tcpdump -x: lines "\\n\\t0x0000:  4500 0054 ...", 16 bytes a line."""
    parts: list[str] = []
    end = off + length
    i = off
    while i < end:
        chunk = buf[i : min(i + 16, end)]
        words = [chunk[j : j + 2].hex() for j in range(0, len(chunk), 2)]
        parts.append(f"\n\t0x{oset:04x}:  " + " ".join(words))
        oset += 16
        i += 16
    return "".join(parts)


def hex_and_ascii_print(buf: bytes, off: int, length: int, oset: int = 0) -> str:
    """tcpdump -X (and its default dump of unknown payloads): hex padded to 40 columns,
    two spaces, then printable ASCII with '.' for the rest."""
    parts: list[str] = []
    end = off + length
    i = off
    while i < end:
        chunk = buf[i : min(i + 16, end)]
        hexpart = "".join(
            " " + chunk[j : j + 2].hex() for j in range(0, len(chunk), 2)
        )
        text = "".join(chr(c) if 0x20 < c < 0x7F else "." for c in chunk)  # isgraph
        parts.append(f"\n\t0x{oset:04x}: {hexpart:<40}  {text}")
        oset += 16
        i += 16
    return "".join(parts)


def tok(table: dict[int, str], value: int, default: str) -> str:
    """tok2str: the table's name, else ``default`` formatted with the value."""
    name = table.get(value)
    if name is not None:
        return name
    return default % value if "%" in default else default
