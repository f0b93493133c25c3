"""IPv4 (RFC 791) as tcpdump 4.99 prints it: ``IP src > dst: ...``; with ``-v`` the
header line ``IP (tos 0x0, ttl 64, id 1, offset 0, flags [DF], proto TCP (6),
length 60)`` and the rest on a new line indented by four spaces."""

from __future__ import annotations

from tuxnet.tools.tcpdump_print.core import Nd, Truncated, in_cksum_shouldbe, tok
from tuxnet.tools.tcpdump_print.icmp import icmp_print
from tuxnet.tools.tcpdump_print.names import IPPROTO_NAMES
from tuxnet.tools.tcpdump_print.tcp import tcp_print
from tuxnet.tools.tcpdump_print.udp import udp_print
from tuxnet.wire.checksum import internet_checksum

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IP_MF = 0x2000
IP_DF = 0x4000
IP_RF = 0x8000
IP_OFFMASK = 0x1FFF

# RFC 791 3.1 option types, as tcpdump names them
IPOPT_EOL = 0
IPOPT_NOP = 1
IPOPT_RR = 7
IPOPT_TS = 68
IPOPT_LSRR = 131
IPOPT_SSRR = 137
IPOPT_RA = 148  # RFC 2113
IPOPT_NAMES = {
    IPOPT_EOL: "EOL",
    IPOPT_NOP: "NOP",
    IPOPT_TS: "timestamp",
    130: "security",
    IPOPT_RR: "RR",
    IPOPT_SSRR: "SSRR",
    IPOPT_LSRR: "LSRR",
    IPOPT_RA: "RA",
    82: "traceroute",  # RFC 1393
}
_ECN = ("", ",ECT(1)", ",ECT(0)", ",CE")  # RFC 3168 codepoints in the low tos bits


def ip_print(nd: Nd, off: int, length: int) -> None:
    """Print an IPv4 packet at ``off``; ``length`` is what the link layer says is left
    of the frame on the wire."""
    nd.protocol = "ip"
    b0 = nd.u8(off)
    version = b0 >> 4
    if version != 4:
        nd.pr("IP6, wrong link-layer encapsulation" if version == 6 else f"IP{version}")
        nd.pr(" (invalid)")
        return
    if not nd.eflag:
        nd.pr("IP ")
    if not nd.ttest(off, 20):
        nd.print_trunc()
        return
    hlen = (b0 & 0x0F) * 4
    if hlen < 20:
        nd.pr(f"bad-hlen {hlen}")
        return
    ip_len = nd.be16(off + 2)
    if ip_len < hlen:
        nd.pr(f"bad-len {ip_len}")
        return
    if length < ip_len:
        nd.pr(f"truncated-ip - {ip_len - length} bytes missing! ")
    # from here on only the bytes the header says belong to the datagram are visible
    saved_snapend = nd.snapend
    nd.snapend = min(nd.snapend, off + ip_len)
    frag = nd.be16(off + 6)
    proto = nd.u8(off + 9)
    if nd.vflag and _print_header_v(nd, off, hlen, ip_len, frag, proto):
        # an option ran past the captured bytes: tcpdump stops after the addresses
        nd.pr(f"{nd.ipaddr(off + 12)} > {nd.ipaddr(off + 16)}: ")
        nd.print_trunc()
        nd.snapend = saved_snapend
        return
    if frag & IP_OFFMASK == 0:
        if proto not in (IPPROTO_TCP, IPPROTO_UDP):
            nd.pr(f"{nd.ipaddr(off + 12)} > {nd.ipaddr(off + 16)}: ")
        if not nd.ttest(off, hlen):
            available = max(nd.snapend - off, 0)
            nd.pr(f" [remaining caplen({available}) < header length({hlen})]")
            raise Truncated
        _demux(nd, off, hlen, ip_len - hlen, proto, bool(frag & IP_MF))
    else:
        nd.pr(f"{nd.ipaddr(off + 12)} > {nd.ipaddr(off + 16)}: ip-proto-{proto}")
    nd.snapend = saved_snapend


def _print_header_v(nd: Nd, off: int, hlen: int, ip_len: int, frag: int, proto: int) -> bool:
    """The ``(tos ..., length N)`` part of -v; True when the options were truncated."""
    tos = nd.u8(off + 1)
    nd.pr(f"(tos 0x{tos:x}{_ECN[tos & 3]}")
    ttl = nd.u8(off + 8)
    if ttl >= 1:
        nd.pr(f", ttl {ttl}")
    flags = [name for bit, name in ((IP_MF, "+"), (IP_DF, "DF"), (IP_RF, "rsvd")) if frag & bit]
    nd.pr(
        f", id {nd.be16(off + 4)}, offset {(frag & IP_OFFMASK) * 8}, "
        f"flags [{', '.join(flags) or 'none'}]"
        f", proto {tok(IPPROTO_NAMES, proto, 'unknown')} ({proto})"
        f", length {ip_len}"
    )
    truncated = False
    if hlen > 20:
        nd.pr(", options (")
        if not _print_options(nd, off + 20, hlen - 20):
            nd.pr(" [truncated-option]")
            truncated = True
        nd.pr(")")
    if nd.ttest(off, hlen):
        computed = internet_checksum(nd.buf[off : off + hlen])
        if computed != 0:
            stored = nd.be16(off + 10)
            nd.pr(f", bad cksum {stored:x} (->{in_cksum_shouldbe(stored, computed):x})!")
    nd.pr(")\n    ")
    return truncated


def _print_options(nd: Nd, off: int, length: int) -> bool:
    """The IP options list, e.g. ``NOP,RR 1.1.1.1 2.2.2.2,EOL``; False when an option
    is not all captured."""
    first = True
    while length > 0:
        if not first:
            nd.pr(",")
        first = False
        code = nd.u8(off)
        nd.pr(tok(IPOPT_NAMES, code, "unknown %u"))
        if code in (IPOPT_NOP, IPOPT_EOL):
            opt_len = 1
        else:
            opt_len = nd.u8(off + 1)
            if opt_len < 2:
                nd.pr(f" [bad length {opt_len}]")
                return True
        if opt_len > length:
            nd.pr(f" [bad length {opt_len}]")
            return True
        if not nd.ttest(off, opt_len):
            return False
        if code == IPOPT_EOL:
            return True
        if code == IPOPT_TS:
            _print_ts_option(nd, off, opt_len)
        elif code in (IPOPT_RR, IPOPT_SSRR, IPOPT_LSRR):
            _print_route_option(nd, off, opt_len)
        elif code == IPOPT_RA:
            if opt_len < 4:
                nd.pr(f" [bad length {opt_len}]")
            else:
                value = nd.be16(off + 2)
                if value:
                    nd.pr(f" value {value}")
        off += opt_len
        length -= opt_len
    return True


def _print_route_option(nd: Nd, off: int, length: int) -> None:
    """RR/LSRR/SSRR (RFC 791): the recorded addresses, a comma after those already
    passed by the pointer."""
    if length < 3:
        nd.pr(f" [bad length {length}]")
        return
    if (length + 1) & 3:
        nd.pr(f" [bad length {length}]")
    raw_ptr = nd.u8(off + 2)
    ptr = (raw_ptr - 1) & 0xFFFFFFFF  # unsigned in tcpdump: a zero pointer wraps
    if ptr < 3 or ((ptr + 1) & 3) or ptr > length + 1:
        nd.pr(f" [bad ptr {raw_ptr}]")
    pos = 3
    while pos < length:
        nd.pr(" " + nd.ipaddr(off + pos))
        if ptr > pos:
            nd.pr(",")
        pos += 4


def _print_ts_option(nd: Nd, off: int, length: int) -> None:
    """The Internet Timestamp option (RFC 791): ``TS{TSONLY 5@ ^ }``."""
    if length < 4:
        nd.pr(f"[bad length {length}]")
        return
    nd.pr(" TS{")
    oflw_flg = nd.u8(off + 3)
    kind = oflw_flg & 0x0F
    hoplen = 4 if kind == 0 else 8
    if (length - 4) & (hoplen - 1):
        nd.pr(f"[bad length {length}]")
    raw_ptr = nd.u8(off + 2)
    ptr = (raw_ptr - 1) & 0xFFFFFFFF
    pos = 0
    if ptr < 4 or ((ptr - 4) & (hoplen - 1)) or ptr > length + 1:
        nd.pr(f"[bad ptr {raw_ptr}]")
    names = {0: "TSONLY", 1: "TS+ADDR", 3: "PRESPEC"}
    if kind in names:
        nd.pr(names[kind])
        pos = 4
        while pos < length:
            mark = " ^ " if ptr == pos else " "
            # tcpdump prints the second word as the time and the first as the address
            addr = nd.ipaddr(off + pos) if hoplen == 8 else ""
            nd.pr(f"{mark}{nd.be32(off + pos + hoplen - 4)}@{addr}")
            pos += hoplen
    else:
        nd.pr(f"[bad ts type {kind}]")
    nd.pr(" ^ " if ptr == pos else "")
    if oflw_flg >> 4:
        nd.pr(f" [{oflw_flg >> 4} hops not recorded]}} ")
    else:
        nd.pr("}")


def _demux(nd: Nd, off: int, hlen: int, length: int, proto: int, fragmented: bool) -> None:
    data = off + hlen
    if proto == IPPROTO_TCP:
        tcp_print(nd, data, length, off, fragmented)
    elif proto == IPPROTO_UDP:
        udp_print(nd, data, length, off, fragmented)
    elif proto == IPPROTO_ICMP:
        icmp_print(nd, data, length, fragmented)
    else:
        nd.pr(f" ip-proto-{proto} {length}")
