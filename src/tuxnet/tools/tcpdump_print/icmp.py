"""ICMP (RFC 792, RFC 1191 for "need to frag (mtu N)", RFC 1256 router discovery)
as tcpdump 4.99 prints it: ``ICMP echo request, id 1, seq 1, length 64``; with ``-v``
the checksum is verified and error messages show the quoted datagram."""

from __future__ import annotations

from tuxnet.tools.tcpdump_print.core import Nd, hex_print, in_cksum_shouldbe, tok
from tuxnet.wire.checksum import internet_checksum

ICMP_ECHOREPLY = 0
ICMP_UNREACH = 3
ICMP_SOURCEQUENCH = 4
ICMP_REDIRECT = 5
ICMP_ECHO = 8
ICMP_ROUTERADVERT = 9
ICMP_TIMXCEED = 11
ICMP_PARAMPROB = 12
ICMP_TSTAMP = 13
ICMP_TSTAMPREPLY = 14
ICMP_MASKREPLY = 18
ICMP_ERRTYPES = frozenset(
    {ICMP_UNREACH, ICMP_SOURCEQUENCH, ICMP_REDIRECT, ICMP_TIMXCEED, ICMP_PARAMPROB}
)

ICMP_UNREACH_PROTOCOL = 2
ICMP_UNREACH_PORT = 3
ICMP_UNREACH_NEEDFRAG = 4

# names of the types printed without detail
ICMP_TYPE_NAMES = {
    ICMP_ECHOREPLY: "echo reply",
    ICMP_SOURCEQUENCH: "source quench",
    ICMP_ECHO: "echo request",
    10: "router solicitation",
    ICMP_TSTAMP: "time stamp request",
    ICMP_TSTAMPREPLY: "time stamp reply",
    15: "information request",
    16: "information reply",
    17: "address mask request",
}

# destination unreachable codes other than protocol/port/need-frag (RFC 792, RFC 1812)
UNREACH_FORMATS = {
    0: "net {} unreachable",
    1: "host {} unreachable",
    5: "{} unreachable - source route failed",
    6: "net {} unreachable - unknown",
    7: "host {} unreachable - unknown",
    8: "{} unreachable - source host isolated",
    9: "net {} unreachable - admin prohibited",
    10: "host {} unreachable - admin prohibited",
    11: "net {} unreachable - tos prohibited",
    12: "host {} unreachable - tos prohibited",
    13: "host {} unreachable - admin prohibited filter",
    14: "host {} unreachable - host precedence violation",
    15: "host {} unreachable - precedence cutoff",
}

REDIRECT_FORMATS = {
    0: "redirect {} to net {}",
    1: "redirect {} to host {}",
    2: "redirect-tos {} to net {}",
    3: "redirect-tos {} to host {}",
}


class _LocalTrunc(Exception):
    """A bounds check that ends the ICMP line with the marker but lets the packet
    finish normally (tcpdump's ``goto trunc`` rather than its longjmp)."""


def _check(nd: Nd, off: int, n: int) -> None:
    if not nd.ttest(off, n):
        raise _LocalTrunc


def _tstamp(ms: int) -> str:
    """Milliseconds since midnight UT (RFC 792 timestamp) as HH:MM:SS.mmm."""
    sec, msec = divmod(ms, 1000)
    minutes, sec = divmod(sec, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{sec:02d}.{msec:03d}"


def _lifetime(sec: int) -> str:
    if sec < 60:
        return str(sec)
    if sec < 3600:
        return f"{sec // 60}:{sec % 60:02d}"
    return f"{sec // 3600}:{sec % 3600 // 60:02d}:{sec % 60:02d}"


def _describe(nd: Nd, off: int, icmp_type: int, code: int) -> str:
    inner = off + 8  # the quoted IP header of error messages
    if icmp_type in (ICMP_ECHO, ICMP_ECHOREPLY):
        what = "request" if icmp_type == ICMP_ECHO else "reply"
        return f"echo {what}, id {nd.be16(off + 4)}, seq {nd.be16(off + 6)}"
    if icmp_type == ICMP_UNREACH:
        if code == ICMP_UNREACH_PROTOCOL:
            proto = nd.u8(inner + 9)
            return f"{nd.ipaddr(inner + 16)} protocol {proto} unreachable"
        if code == ICMP_UNREACH_PORT:
            _check(nd, inner + 9, 1)
            ihl = (nd.u8(inner) & 0x0F) * 4
            dport = nd.be16(inner + ihl + 2)
            proto = nd.u8(inner + 9)
            dst = nd.ipaddr(inner + 16)
            if proto == 6:
                return f"{dst} tcp port {dport} unreachable"
            if proto == 17:
                return f"{dst} udp port {dport} unreachable"
            return f"{dst} protocol {proto} port {dport} unreachable"
        if code == ICMP_UNREACH_NEEDFRAG:
            mtu = nd.be16(off + 6)
            dst = nd.ipaddr(inner + 16)
            if mtu:
                return f"{dst} unreachable - need to frag (mtu {mtu})"
            return f"{dst} unreachable - need to frag"
        fmt = UNREACH_FORMATS.get(code)
        dst = nd.ipaddr(inner + 16)
        return fmt.format(dst) if fmt else f"{dst} unreachable - #{code}"
    if icmp_type == ICMP_REDIRECT:
        dst = nd.ipaddr(inner + 16)
        gw = nd.ipaddr(off + 4)
        fmt = REDIRECT_FORMATS.get(code)
        return fmt.format(dst, gw) if fmt else f"redirect-#{code} {dst} to {gw}"
    if icmp_type == ICMP_ROUTERADVERT:
        return _router_advert(nd, off)
    if icmp_type == ICMP_TIMXCEED:
        _check(nd, inner + 16, 4)
        if code == 0:
            return "time exceeded in-transit"
        if code == 1:
            return "ip reassembly time exceeded"
        return f"time exceeded-#{code}"
    if icmp_type == ICMP_PARAMPROB:
        if code:
            return f"parameter problem - code {code}"
        return f"parameter problem - octet {nd.u8(off + 4)}"
    if icmp_type == ICMP_TSTAMP:
        return f"time stamp query id {nd.be16(off + 4)} seq {nd.be16(off + 6)}"
    if icmp_type == ICMP_TSTAMPREPLY:
        _check(nd, off + 4, 16)
        head = f"time stamp reply id {nd.be16(off + 4)} seq {nd.be16(off + 6)}: "
        org = _tstamp(nd.be32(off + 8))
        recv = _tstamp(nd.be32(off + 12))
        xmit = _tstamp(nd.be32(off + 16))
        return f"{head}org {org}, recv {recv}, xmit {xmit}"
    if icmp_type == ICMP_MASKREPLY:
        return f"address mask is 0x{nd.be32(off + 8):08x}"
    return tok(ICMP_TYPE_NAMES, icmp_type, "type-#%u")


def _router_advert(nd: Nd, off: int) -> str:
    """RFC 1256 router advertisement: lifetime, count, then {address preference}."""
    _check(nd, off + 4, 4)
    parts = ["router advertisement lifetime ", _lifetime(nd.be16(off + 6))]
    num = nd.u8(off + 4)
    parts.append(f" {num}:")
    size = nd.u8(off + 5)
    if size != 2:
        parts.append(f" [size {size}]")
        return "".join(parts)
    entry = off + 8
    for _ in range(num):
        _check(nd, entry, 8)
        parts.append(f" {{{nd.ipaddr(entry)} {nd.be32(entry + 4)}}}")
        entry += 8
    return "".join(parts)


def icmp_print(nd: Nd, off: int, plen: int, fragmented: bool) -> None:
    """Print an ICMP message of ``plen`` bytes at ``off``."""
    from tuxnet.tools.tcpdump_print.ip import ip_print  # the quoted datagram

    nd.protocol = "icmp"
    icmp_type = nd.u8(off)
    code = nd.u8(off + 1)
    try:
        text = _describe(nd, off, icmp_type, code)
    except _LocalTrunc:
        nd.print_trunc()
        return
    nd.pr(f"ICMP {text}, length {plen}")
    if nd.vflag and not fragmented and nd.ttest(off, plen):
        computed = internet_checksum(nd.buf[off : off + plen])
        if computed:
            stored = nd.be16(off + 2)
            shouldbe = in_cksum_shouldbe(stored, computed)
            nd.pr(f" (wrong icmp cksum {stored:x} (->{shouldbe:x})!)")
    if nd.vflag and icmp_type in ICMP_ERRTYPES:
        nd.pr("\n\t")
        inner = off + 8
        saved = nd.snapend
        inner_len = nd.be16(inner + 2)
        # only the quoted datagram is visible to its printer (extensions may follow)
        nd.snapend = min(saved, inner + inner_len)
        nd.be16(inner + 2)  # read again under the new bound: a length < 4 truncates here
        ip_print(nd, inner, inner_len)
        nd.snapend = saved
        nd.protocol = "icmp"
    if nd.vflag and plen > ICMP_EXTD_MINLEN and icmp_type in ICMP_MPLS_EXT_TYPES:
        try:
            _print_extensions(nd, off, plen)
        except _LocalTrunc:
            nd.print_trunc()


# RFC 4884: extensions follow a 128-byte "original datagram" field
ICMP_EXTD_MINLEN = 156 - 20
ICMP_EXT_HDR = 8 + 128
ICMP_MPLS_EXT_TYPES = frozenset({ICMP_UNREACH, ICMP_TIMXCEED, ICMP_PARAMPROB})
ICMP_EXT_OBJECTS = {1: "MPLS Stack Entry", 2: "Interface Identification"}  # RFC 4950, 5837


def _print_extensions(nd: Nd, off: int, plen: int) -> None:
    """RFC 4884 multi-part ICMP: the extension header and its objects (RFC 4950 MPLS
    label stack entries decoded, others dumped in hex)."""
    _check(nd, off, ICMP_EXT_HDR + 5)
    ext = off + ICMP_EXT_HDR
    ext_len = plen - ICMP_EXTD_MINLEN
    # with no length field set, a bad extension checksum means "no extension"
    if (nd.u8(off + 5) == 0 and nd.ttest(ext, ext_len)
            and internet_checksum(nd.buf[ext : ext + ext_len])):
        return
    version = nd.u8(ext) >> 4
    nd.pr(f"\n\tICMP Multi-Part extension v{version}")
    if version != 2:
        nd.pr(" packet not supported")
        return
    if nd.ttest(ext, ext_len):
        ok = "in" if internet_checksum(nd.buf[ext : ext + ext_len]) else ""
        nd.pr(f", checksum 0x{nd.be16(ext + 2):04x} ({ok}correct), length {ext_len}")
    remaining = ext_len - 4
    obj = ext + 4
    while remaining > 4:
        obj_len = nd.be16(obj)
        class_num = nd.u8(obj + 2)
        ctype = nd.u8(obj + 3)
        obj += 4
        name = ICMP_EXT_OBJECTS.get(class_num, "unknown")
        nd.pr(f"\n\t  {name} Object ({class_num}), Class-Type: {ctype}, length {obj_len}")
        remaining -= 4
        if class_num == 0 or obj_len < 4:
            return
        obj_len -= 4
        if class_num == 1 and ctype == 1:
            entry = nd.be32(obj)
            bos = ", [S]" if entry & 0x100 else ""
            nd.pr(f"\n\t    label {entry >> 12}, tc {(entry >> 9) & 7}{bos}, ttl {entry & 0xFF}")
        else:
            nd.need(obj, obj_len)
            nd.pr(hex_print(nd.buf, obj, obj_len).replace("\n\t", "\n\t    "))
        if remaining < obj_len:
            break
        remaining -= obj_len
        obj += obj_len
