"""ARP and RARP (RFC 826, RFC 903, RFC 2390 inverse ARP) as tcpdump 4.99 prints them:
``ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28``."""

from __future__ import annotations

from tuxnet.tools.tcpdump_print.core import Nd, hex_and_ascii_print, tok
from tuxnet.tools.tcpdump_print.names import ETHERTYPE_NAMES

ARPOP_REQUEST = 1
ARPOP_REPLY = 2
ARPOP_REVREQUEST = 3
ARPOP_REVREPLY = 4
ARPOP_INVREQUEST = 8
ARPOP_INVREPLY = 9
ETHERTYPE_IP = 0x0800
ETHERTYPE_TRAIL = 0x1000

ARPOP_NAMES = {
    1: "Request",
    2: "Reply",
    3: "Reverse Request",
    4: "Reverse Reply",
    8: "Inverse Request",
    9: "Inverse Reply",
    10: "NACK Reply",
}

# ARP hardware types (IANA arp-parameters) that tcpdump names. Type 19 (ATM ARP,
# RFC 2225) has a layout of its own that tcpdump decodes and tuxnet does not.
ARPHRD_NAMES = {
    1: "Ethernet",
    6: "TokenRing",
    7: "ArcNet",
    15: "FrameRelay",
    23: "Strip",
    24: "IEEE 1394",
    32: "InfiniBand",
}


def _proto_addr(nd: Nd, off: int, pro: int, pln: int) -> str:
    if pro not in (ETHERTYPE_IP, ETHERTYPE_TRAIL):
        nd.need(off, pln)
        return "<wrong proto type>"
    if pln != 4:
        nd.need(off, pln)
        return "<wrong len>"
    return nd.ipaddr(off)


def arp_print(nd: Nd, off: int, length: int) -> None:
    nd.protocol = "arp"
    hrd = nd.be16(off)
    pro = nd.be16(off + 2)
    hln = nd.u8(off + 4)
    pln = nd.u8(off + 5)
    op = nd.be16(off + 6)
    sha = off + 8
    spa = sha + hln
    tha = spa + pln
    tpa = tha + hln
    nd.need(tpa, pln)
    if not nd.eflag:
        nd.pr("ARP, ")
    if pro not in (ETHERTYPE_IP, ETHERTYPE_TRAIL) or pln != 4 or hln == 0 or nd.vflag:
        nd.pr(
            f"{tok(ARPHRD_NAMES, hrd, 'Unknown Hardware (%u)')} (len {hln}), "
            f"{tok(ETHERTYPE_NAMES, pro, 'Unknown Protocol (0x%04x)')} (len {pln})"
        )
        if not nd.vflag:
            nd.pr(f", length {length}")
            return
    nd.pr(", " if nd.vflag else "")
    nd.pr(tok(ARPOP_NAMES, op, "Unknown (%u)") + " ")
    if op == ARPOP_REQUEST:
        nd.pr("who-has " + _proto_addr(nd, tpa, pro, pln))
        nd.need(tha, hln)
        if any(nd.buf[tha : tha + hln]):
            nd.pr(f" ({nd.linkaddr(tha, hln)})")
        nd.pr(" tell " + _proto_addr(nd, spa, pro, pln))
    elif op == ARPOP_REPLY:
        nd.pr(_proto_addr(nd, spa, pro, pln) + " is-at " + nd.linkaddr(sha, hln))
    elif op in (ARPOP_REVREQUEST, ARPOP_INVREQUEST):
        nd.pr(f"who-is {nd.linkaddr(tha, hln)} tell {nd.linkaddr(sha, hln)}")
    elif op == ARPOP_REVREPLY:
        nd.pr(f"{nd.linkaddr(tha, hln)} at " + _proto_addr(nd, tpa, pro, pln))
    elif op == ARPOP_INVREPLY:
        nd.pr(f"{nd.linkaddr(sha, hln)} at " + _proto_addr(nd, spa, pro, pln))
    else:
        # unlike an unknown ethertype, this dump is printed even with -x
        nd.pr(hex_and_ascii_print(nd.buf, off, nd.snapend - off))
        return
    nd.pr(f", length {length}")
