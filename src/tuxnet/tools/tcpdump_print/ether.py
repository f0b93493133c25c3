"""Ethernet (DIX and 802.3/LLC) and 802.1Q tags, printed as tcpdump 4.99 does
(print-ether.c, print-llc.c behaviour): with ``-e`` the MAC addresses, ethertype
and frame length lead the line; unknown ethertypes print the addresses and a hex dump.
"""

from __future__ import annotations

from tuxnet.tools.tcpdump_print.arp import arp_print
from tuxnet.tools.tcpdump_print.core import Nd, Truncated, hex_and_ascii_print, tok
from tuxnet.tools.tcpdump_print.ip import ip_print
from tuxnet.tools.tcpdump_print.names import ETHERTYPE_NAMES, VLAN_TPIDS

ETHER_HDRLEN = 14
MAX_ETHERNET_LENGTH_VAL = 1500  # IEEE 802.3: a type/length value <= 1500 is a length
ETHERTYPE_IP = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_REVARP = 0x8035


def ether_type_str(ethertype: int) -> str:
    return f"ethertype {tok(ETHERTYPE_NAMES, ethertype, 'Unknown')} (0x{ethertype:04x})"


def ethertype_print(nd: Nd, ethertype: int, off: int, length: int) -> bool:
    """Hand the payload to the printer of ``ethertype``; False when none is known."""
    if ethertype == ETHERTYPE_IP:
        ip_print(nd, off, length)
        return True
    if ethertype in (ETHERTYPE_ARP, ETHERTYPE_REVARP):
        arp_print(nd, off, length)
        return True
    return False


def ether_print(nd: Nd, orig_len: int) -> int:
    """Print an Ethernet frame starting at offset 0; return the link header length
    (what ``-x`` skips)."""
    caplen = nd.snapend
    nd.protocol = "ether"
    if caplen < ETHER_HDRLEN:
        nd.print_trunc()
        return caplen
    dst = nd.linkaddr(0, 6)
    src = nd.linkaddr(6, 6)
    if nd.eflag:
        nd.pr(f"{src} > {dst}, ")
    length = orig_len - ETHER_HDRLEN
    caplen -= ETHER_HDRLEN
    off = ETHER_HDRLEN
    hdrlen = ETHER_HDRLEN
    length_type = nd.be16(12)
    printed_length = False
    while True:
        if length_type <= MAX_ETHERNET_LENGTH_VAL:
            return hdrlen + _llc_frame(nd, off, length_type, caplen, src, dst, orig_len)
        if length_type in VLAN_TPIDS:
            if caplen < 4:
                nd.protocol = "vlan"
                nd.print_trunc()
                return hdrlen + caplen
            if nd.eflag:
                tci = nd.be16(off)
                nd.pr(ether_type_str(length_type))
                nd.pr(f", length {orig_len}: " if not printed_length else ", ")
                printed_length = True
                dei = ", DEI" if tci & 0x1000 else ""
                nd.pr(f"vlan {tci & 0xFFF}, p {tci >> 13}{dei}, ")
            length_type = nd.be16(off + 2)
            off += 4
            length -= 4
            caplen -= 4
            hdrlen += 4
            continue
        if nd.eflag:
            nd.pr(ether_type_str(length_type))
            nd.pr(f", length {orig_len}: " if not printed_length else ", ")
        if not ethertype_print(nd, length_type, off, length):
            if not nd.eflag:
                nd.pr(f"{src} > {dst}, {ether_type_str(length_type)}, length {orig_len}: ")
            if not nd.suppress_default_print:
                nd.pr(hex_and_ascii_print(nd.buf, off, max(caplen, 0)))
        return hdrlen


_SAP_NAMES = {
    0x00: "Null",
    0x06: "IP",
    0x42: "STP",
    0xAA: "SNAP",
    0xE0: "IPX",
    0xF0: "NetBeui",
    0xFE: "OSI",
    0xFF: "Global",
}


def _llc_frame(
    nd: Nd, off: int, length: int, caplen: int, src: str, dst: str, orig_len: int
) -> int:
    """An 802.3 frame: the type field is a length and an LLC header follows. Only
    SNAP with an Ethernet OUI is dissected further (an honest subset of tcpdump's
    LLC printer); returns the LLC header length."""
    if caplen > length:
        caplen = length
        nd.snapend = min(nd.snapend, off + caplen)
    if nd.eflag:
        nd.pr(f"802.3, length {length}: ")
    nd.protocol = "llc"
    if caplen < 3:
        nd.print_trunc()
        return caplen
    dsap = nd.u8(off)
    ssap = nd.u8(off + 1)
    ctrl = nd.u8(off + 2)
    if dsap == 0xAA and ssap == 0xAA and ctrl == 0x03:
        if caplen < 8:
            nd.print_trunc()
            return caplen
        oui = nd.be16(off + 3) << 8 | nd.u8(off + 5)
        pid = nd.be16(off + 6)
        if nd.eflag:
            nd.pr(
                "LLC, dsap SNAP (0xaa) Individual, ssap SNAP (0xaa) Command, ctrl 0x03: "
            )
        if oui == 0:
            if nd.eflag:
                nd.pr(f"oui Ethernet (0x000000), {ether_type_str(pid)}, length {length}: ")
            if not ethertype_print(nd, pid, off + 8, length - 8):
                if not nd.eflag:
                    nd.pr(f"{src} > {dst} SNAP, {ether_type_str(pid)}, length {length}: ")
                if not nd.suppress_default_print:
                    nd.pr(hex_and_ascii_print(nd.buf, off + 8, max(caplen - 8, 0)))
            return 8
        nd.pr(f"oui Unknown (0x{oui:06x}), pid Unknown (0x{pid:04x}), length {length}: ")
        return 8
    if not nd.eflag:
        nd.pr(f"{src} > {dst} ")
    dname = tok(_SAP_NAMES, dsap & 0xFE, "Unknown")
    sname = tok(_SAP_NAMES, ssap & 0xFE, "Unknown")
    nd.pr(
        f"LLC, dsap {dname} (0x{dsap & 0xFE:02x}) {'Group' if dsap & 1 else 'Individual'}, "
        f"ssap {sname} (0x{ssap & 0xFE:02x}) {'Response' if ssap & 1 else 'Command'}, "
        f"ctrl 0x{ctrl:02x}: length {length}"
    )
    if not nd.suppress_default_print:
        nd.pr(hex_and_ascii_print(nd.buf, off + 3, max(caplen - 3, 0)))
    return 3


def ether_if_print(nd: Nd, orig_len: int) -> int:
    """The link-layer entry point: print, catching truncation the way tcpdump's
    pretty_print_packet does (the marker, and a link header length of 0)."""
    try:
        return ether_print(nd, orig_len)
    except Truncated:
        nd.print_trunc()
        return 0
