"""TCP (RFC 9293) as tcpdump 4.99 prints it: ``Flags [S.], seq 1:101, ack 1, win 502,
options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 100``.

Sequence numbers are printed relative to the first ACK-bearing segment seen on a
connection, as tcpdump does it: that segment (or any later SYN) records the bases and
prints absolute numbers; later segments print the difference (mod 2**32)."""

from __future__ import annotations

from tuxnet.tools.tcpdump_print.core import Nd, Truncated, in_cksum_shouldbe
from tuxnet.wire.checksum import internet_checksum, pseudo_header_sum

TH_FIN = 0x01
TH_SYN = 0x02
TH_RST = 0x04
TH_PUSH = 0x08
TH_ACK = 0x10
TH_URG = 0x20
TH_ECE = 0x40
TH_CWR = 0x80
FLAG_CHARS = (
    (TH_FIN, "F"), (TH_SYN, "S"), (TH_RST, "R"), (TH_PUSH, "P"),
    (TH_ACK, "."), (TH_URG, "U"), (TH_ECE, "E"), (TH_CWR, "W"),
)
M32 = 0xFFFFFFFF

# TCP option kinds (IANA tcp-parameters) and tcpdump's names for them
TCPOPT_EOL = 0
TCPOPT_NOP = 1
TCPOPT_MAXSEG = 2
TCPOPT_WSCALE = 3
TCPOPT_SACKOK = 4
TCPOPT_SACK = 5
TCPOPT_ECHO = 6
TCPOPT_ECHOREPLY = 7
TCPOPT_TIMESTAMP = 8
TCPOPT_CC = 11
TCPOPT_CCNEW = 12
TCPOPT_CCECHO = 13
TCPOPT_SIGNATURE = 19  # RFC 2385 MD5
TCPOPT_SCPS = 20
TCPOPT_UTO = 28  # RFC 5482
TCPOPT_TCPAO = 29  # RFC 5925
TCPOPT_MPTCP = 30  # RFC 8684
TCPOPT_FASTOPEN = 34  # RFC 7413
TCPOPT_EXPERIMENT2 = 254  # RFC 6994 shared experimental
TCPOPT_FASTOPEN_MAGIC = 0xF989
TCPOPT_NAMES = {
    TCPOPT_EOL: "eol",
    TCPOPT_NOP: "nop",
    TCPOPT_MAXSEG: "mss",
    TCPOPT_WSCALE: "wscale",
    TCPOPT_SACKOK: "sackOK",
    TCPOPT_SACK: "sack",
    TCPOPT_ECHO: "echo",
    TCPOPT_ECHOREPLY: "echoreply",
    TCPOPT_TIMESTAMP: "TS",
    TCPOPT_CC: "cc",
    TCPOPT_CCNEW: "ccnew",
    TCPOPT_CCECHO: "",
    TCPOPT_SIGNATURE: "md5",
    TCPOPT_SCPS: "scps",
    TCPOPT_UTO: "uto",
    TCPOPT_TCPAO: "tcp-ao",
    TCPOPT_MPTCP: "mptcp",
    TCPOPT_FASTOPEN: "tfo",
    TCPOPT_EXPERIMENT2: "exp",
}
MPTCP_SUBTYPES = (
    "capable", "join", "dss", "add-addr", "rem-addr", "prio", "fail", "fast-close",
    "tcprst",
)


class _BadOpt(Exception):
    """An option whose length does not fit (tcpdump prints ``[bad opt]``)."""


class _OptTrunc(Exception):
    """An option whose bytes were not captured (tcpdump's local ``trunc``)."""


def flags_str(flags: int) -> str:
    return "".join(c for bit, c in FLAG_CHARS if flags & bit) or "none"


def tcp_print(nd: Nd, off: int, length: int, ip_off: int, fragmented: bool) -> None:
    """Print a TCP segment of ``length`` bytes at ``off`` inside the IPv4 packet at
    ``ip_off``."""
    nd.protocol = "tcp"
    buf = nd.buf
    src = nd.ipaddr(ip_off + 12)
    dst = nd.ipaddr(ip_off + 16)
    if not nd.ttest(off + 2, 2):
        nd.pr(f"{src} > {dst}:")
        nd.print_trunc()
        return
    sport = nd.be16(off)
    dport = nd.be16(off + 2)
    nd.pr(f"{src}.{sport} > {dst}.{dport}: ")
    if not nd.ttest(off, 20):
        nd.print_trunc()
        return
    seq = nd.be32(off + 4)
    ack = nd.be32(off + 8)
    hlen = (buf[off + 12] >> 4) * 4
    flags = buf[off + 13]
    win = nd.be16(off + 14)
    urp = nd.be16(off + 18)
    if hlen < 20:
        nd.pr(f" tcp {(length - hlen) & M32} [bad hdr length {hlen} - too short, < 20]")
        return
    nd.pr(f"Flags [{flags_str(flags)}]")

    rev = False
    thseq = thack = 0
    if not nd.seq_absolute and flags & TH_ACK:
        sa = buf[ip_off + 12 : ip_off + 16]
        da = buf[ip_off + 16 : ip_off + 20]
        rev = sport > dport or (sport == dport and sa > da)
        key = (da, sa, dport << 16 | sport) if rev else (sa, da, sport << 16 | dport)
        entry = nd.tcp_seq.get(key)
        if entry is None or flags & TH_SYN:
            entry = [(ack - 1) & M32, seq] if rev else [seq, (ack - 1) & M32]
            nd.tcp_seq[key] = entry
        elif rev:
            seq = (seq - entry[1]) & M32
            ack = (ack - entry[0]) & M32
        else:
            seq = (seq - entry[0]) & M32
            ack = (ack - entry[1]) & M32
        thseq, thack = entry

    if hlen > length:
        nd.pr(f" [bad hdr length {hlen} - too long, > {length}]")
        return
    if nd.vflag and not fragmented and nd.ttest(off, length):
        pseudo = pseudo_header_sum(bytes(buf[ip_off + 12 : ip_off + 16]),
                                   bytes(buf[ip_off + 16 : ip_off + 20]), 6, length)
        computed = internet_checksum(buf[off : off + length], pseudo)
        stored = nd.be16(off + 16)
        nd.pr(f", cksum 0x{stored:04x}")
        if computed:
            nd.pr(f" (incorrect -> 0x{in_cksum_shouldbe(stored, computed):04x})")
        else:
            nd.pr(" (correct)")
    length -= hlen
    if nd.vflag > 1 or length > 0 or flags & (TH_SYN | TH_FIN | TH_RST):
        nd.pr(f", seq {seq}")
        if length > 0:
            nd.pr(f":{(seq + length) & M32}")
    if flags & TH_ACK:
        nd.pr(f", ack {ack}")
    nd.pr(f", win {win}")
    if flags & TH_URG:
        nd.pr(f", urg {urp}")
    if hlen > 20:
        nd.pr(", options [")
        captured = nd.ttest(off, length + hlen)
        if not _print_options(nd, off + 20, hlen - 20, rev, thseq, thack, captured):
            return
    nd.pr(f", length {length}")
    if length <= 0:
        return
    if not nd.ttest(off, hlen):
        available = max(nd.snapend - off, 0)
        nd.pr(f" [remaining caplen({available}) < header length({hlen})]")
        raise Truncated
    if flags & TH_RST and nd.vflag:
        _print_rst_data(nd, off + hlen, length)


MAX_RST_DATA_LEN = 30


def _print_rst_data(nd: Nd, off: int, length: int) -> None:
    """RFC 9293 3.10.7.1: a RST may carry diagnostic text; tcpdump -v shows up to 30
    bytes of it, escaped like cat -v (``M-`` for 8-bit, ``^`` for control)."""
    nd.pr(" [!RST" if not nd.ttest(off, length) else " [RST")
    if length > MAX_RST_DATA_LEN:
        length = MAX_RST_DATA_LEN
        nd.pr("+")
    nd.pr(" ")
    end = min(off + length, nd.snapend)
    chars = []
    for c in nd.buf[off:end]:
        if c >= 0x80:
            c &= 0x7F
            chars.append("M-")
        if not 0x20 <= c < 0x7F:
            c ^= 0x40
            chars.append("^")
        chars.append(chr(c))
    nd.pr("".join(chars) + "]")


def _print_options(nd: Nd, cp: int, remaining: int, rev: bool, thseq: int,
                   thack: int, seg_captured: bool) -> bool:
    """Print the option list after ``options [``; False when the line ends inside it
    (a bad option or uncaptured option data)."""
    sep = ""
    try:
        while remaining > 0:
            if sep:
                nd.pr(sep)
            opt = nd.u8(cp)
            cp += 1
            if opt in (TCPOPT_EOL, TCPOPT_NOP):
                olen = 1
            else:
                olen = nd.u8(cp)
                cp += 1
                if olen < 2 or olen > remaining:
                    raise _BadOpt
                remaining -= 1
            remaining -= 1
            nd.pr(TCPOPT_NAMES.get(opt, f"unknown-{opt}"))
            datalen = _print_option(nd, opt, olen, cp, remaining, rev, thseq, thack, seg_captured)
            cp += datalen
            remaining -= datalen
            datalen += 1 if opt in (TCPOPT_EOL, TCPOPT_NOP) else 2
            if datalen != olen:
                nd.pr(f"[len {olen}]")
            sep = ","
            if opt == TCPOPT_EOL:
                break
    except _BadOpt:
        nd.pr("[bad opt]")
        if sep:
            nd.pr("]")
        return False
    except _OptTrunc:
        nd.print_trunc()
        if sep:
            nd.pr(">")
        return False
    nd.pr("]")
    return True


def _lencheck(nd: Nd, cp: int, n: int, remaining: int) -> None:
    if n > remaining:
        raise _BadOpt
    if not nd.ttest(cp, n):
        raise _OptTrunc


def _print_option(nd: Nd, opt: int, olen: int, cp: int, remaining: int, rev: bool,
                  thseq: int, thack: int, seg_captured: bool) -> int:
    """Print one option's data; return how many data bytes it used."""
    if opt in (TCPOPT_EOL, TCPOPT_NOP, TCPOPT_SACKOK):
        return 0
    if opt == TCPOPT_MAXSEG:
        _lencheck(nd, cp, 2, remaining)
        nd.pr(f" {nd.be16(cp)}")
        return 2
    if opt == TCPOPT_WSCALE:
        _lencheck(nd, cp, 1, remaining)
        nd.pr(f" {nd.u8(cp)}")
        return 1
    if opt == TCPOPT_SACK:
        datalen = olen - 2
        if datalen % 8:
            nd.pr(" invalid sack")
            return datalen
        nd.pr(f" {datalen // 8} ")
        base = thseq if rev else thack
        for i in range(0, datalen, 8):
            _lencheck(nd, cp, i + 4, remaining)
            start = nd.be32(cp + i)
            _lencheck(nd, cp, i + 8, remaining)
            end = nd.be32(cp + i + 4)
            nd.pr(f"{{{(start - base) & M32}:{(end - base) & M32}}}")
        return datalen
    if opt in (TCPOPT_ECHO, TCPOPT_ECHOREPLY, TCPOPT_CC, TCPOPT_CCNEW, TCPOPT_CCECHO):
        _lencheck(nd, cp, 4, remaining)
        nd.pr(f" {nd.be32(cp)}")
        return 4
    if opt == TCPOPT_SCPS:
        _lencheck(nd, cp, 2, remaining)
        nd.pr(f" cap {nd.u8(cp):02x} id {nd.u8(cp + 1)}")
        return 2
    if opt == TCPOPT_TIMESTAMP:
        _lencheck(nd, cp, 8, remaining)
        nd.pr(f" val {nd.be32(cp)} ecr {nd.be32(cp + 4)}")
        return 8
    if opt == TCPOPT_SIGNATURE:
        _lencheck(nd, cp, 16, remaining)
        digest = bytes(nd.buf[cp : cp + 16]).hex()
        # without -M secret tcpdump cannot verify RFC 2385; it says why
        why = "shared secret not supplied with -M" if seg_captured else "snaplen too short"
        nd.pr(f" {why}, can't check - {digest}")
        return 16
    if opt == TCPOPT_UTO:
        _lencheck(nd, cp, 2, remaining)
        value = nd.be16(cp)
        nd.pr(f" 0x{value:x}")
        value = (value >> 1) * 60 if value & 1 else value >> 1
        nd.pr(f" {value}")
        return 2
    if opt == TCPOPT_MPTCP:
        datalen = olen - 2
        _lencheck(nd, cp, datalen, remaining)
        subtype = nd.u8(cp) >> 4 if datalen else 0
        name = MPTCP_SUBTYPES[subtype] if subtype < len(MPTCP_SUBTYPES) else "unknown"
        nd.pr(f" {olen} {name}")
        return datalen
    if opt == TCPOPT_FASTOPEN:
        datalen = olen - 2
        _lencheck(nd, cp, datalen, remaining)
        nd.pr(" ")
        _fastopen(nd, cp, datalen)
        return datalen
    if opt == TCPOPT_EXPERIMENT2:
        datalen = olen - 2
        _lencheck(nd, cp, datalen, remaining)
        if datalen < 2:
            raise _BadOpt
        magic = nd.be16(cp)
        if magic == TCPOPT_FASTOPEN_MAGIC:
            nd.pr("-tfo")
            _fastopen(nd, cp + 2, datalen - 2)
        else:
            nd.pr(f"-{magic:04x}")
        return datalen
    datalen = olen - 2
    if datalen:
        nd.pr(" 0x")
    for i in range(datalen):
        _lencheck(nd, cp, i + 1, remaining)
        nd.pr(f"{nd.u8(cp + i):02x}")
    return datalen


def _fastopen(nd: Nd, cp: int, datalen: int) -> None:
    """RFC 7413 cookie: empty = request, else 4..16 bytes of even length."""
    if datalen == 0:
        nd.pr(" cookiereq")
    elif datalen % 2 or datalen < 4 or datalen > 16:
        nd.pr(" (invalid)")
    else:
        nd.pr(" cookie " + bytes(nd.buf[cp : cp + datalen]).hex())
