"""SYN cookies (net/ipv4/syncookies.c: __cookie_v4_init_sequence, __cookie_v4_check,
cookie_init_timestamp, cookie_timestamp_decode, cookie_v4_check; RFC 4987 3.6).

When the SYN queue is full (and net.ipv4.tcp_syncookies = 1; always with 2) the
listener keeps no state: the SYN-ACK's sequence number encodes the connection.

    ISN = H0(4-tuple) + peer ISN + (count << 24) + ((H1(4-tuple, count) + mssind) mod 2^24)

``count`` is the minute (jiffies / TCP_SYNCOOKIE_PERIOD); a cookie is good for
MAX_SYNCOOKIE_AGE (2) minutes; ``mssind`` indexes msstab {536, 1300, 1440, 1460}.
With timestamps the low 6 bits of the SYN-ACK's TSval carry window scale (4 bits, 15:
none), SACK-permitted and ECN, and come back in the ACK's TSecr. H0 and H1 are keyed
hashes with two secrets (BLAKE2b here, siphash in Linux).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.defs import MAX_SYNCOOKIE_AGE, NSEC_PER_JIFFY, TCP_SYNCOOKIE_PERIOD
from tuxnet.tcp.netns import keyed_hash32
from tuxnet.tcp.sock import TCP_CLOCK_BOOT_NS

if TYPE_CHECKING:
    from tuxnet.tcp.netns import TcpNet
    from tuxnet.tcp.options import TcpRxOptions

__all__ = ["MSSTAB", "cookie_ecn_ok", "cookie_init_timestamp", "cookie_timestamp_decode",
           "cookie_v4_check_seq", "cookie_v4_init_sequence"]

COOKIEBITS = 24
COOKIEMASK = (1 << COOKIEBITS) - 1
TS_OPT_WSCALE_MASK = 0xF
TS_OPT_SACK = 1 << 4
TS_OPT_ECN = 1 << 5
TSBITS = 6
TSMASK = (1 << TSBITS) - 1
MSSTAB = (536, 1300, 1440, 1460)  # Alcock and Nelson, 2011
_M32 = 0xFFFFFFFF


def tcp_cookie_time(tn: TcpNet) -> int:
    """tcp_cookie_time(): jiffies / TCP_SYNCOOKIE_PERIOD (one count per minute)."""
    return ((tn.now_ns() + TCP_CLOCK_BOOT_NS) // NSEC_PER_JIFFY) // TCP_SYNCOOKIE_PERIOD


def _cookie_hash(tn: TcpNet, saddr: int, daddr: int, sport: int, dport: int, count: int,
                 c: int) -> int:
    """cookie_hash()."""
    return keyed_hash32(tn.syncookie_secret[c], saddr, daddr, (sport << 16) | dport, count)


def secure_tcp_syn_cookie(tn: TcpNet, saddr: int, daddr: int, sport: int, dport: int,
                          sseq: int, data: int) -> int:
    """secure_tcp_syn_cookie()."""
    count = tcp_cookie_time(tn)
    return (_cookie_hash(tn, saddr, daddr, sport, dport, 0, 0) + sseq + (count << COOKIEBITS) +
            ((_cookie_hash(tn, saddr, daddr, sport, dport, count, 1) + data) & COOKIEMASK)) & _M32


def check_tcp_syn_cookie(tn: TcpNet, cookie: int, saddr: int, daddr: int, sport: int,
                         dport: int, sseq: int) -> int:
    """check_tcp_syn_cookie(): the data (mssind), or 0xFFFFFFFF when too old."""
    count = tcp_cookie_time(tn)
    cookie = (cookie - (_cookie_hash(tn, saddr, daddr, sport, dport, 0, 0) + sseq)) & _M32
    diff = (count - (cookie >> COOKIEBITS)) & (_M32 >> COOKIEBITS)
    if diff >= MAX_SYNCOOKIE_AGE:
        return _M32
    return (cookie - _cookie_hash(tn, saddr, daddr, sport, dport, count - diff, 1)) & COOKIEMASK


def cookie_v4_init_sequence(tn: TcpNet, saddr: int, daddr: int, sport: int, dport: int,
                            seq: int, mss: int) -> tuple[int, int]:
    """__cookie_v4_init_sequence(): (the cookie ISN, the MSS it encodes). ``saddr`` and
    ``sport`` are the SYN's source (the peer)."""
    mssind = len(MSSTAB) - 1
    while mssind and mss < MSSTAB[mssind]:
        mssind -= 1
    return secure_tcp_syn_cookie(tn, saddr, daddr, sport, dport, seq, mssind), MSSTAB[mssind]


def cookie_v4_check_seq(tn: TcpNet, saddr: int, daddr: int, sport: int, dport: int,
                        seq: int, ack_seq: int) -> int:
    """__cookie_v4_check(): the MSS of a valid cookie ACK, else 0."""
    cookie = (ack_seq - 1) & _M32
    mssind = check_tcp_syn_cookie(tn, cookie, saddr, daddr, sport, dport, (seq - 1) & _M32)
    return MSSTAB[mssind] if mssind < len(MSSTAB) else 0


def cookie_init_timestamp(ts_now: int, wscale_ok: bool, snd_wscale: int, sack_ok: bool,
                          ecn_ok: bool) -> int:
    """cookie_init_timestamp(): a TSval (ms, no offset) not after now whose low 6 bits
    encode the options."""
    options = snd_wscale if wscale_ok else TS_OPT_WSCALE_MASK
    if sack_ok:
        options |= TS_OPT_SACK
    if ecn_ok:
        options |= TS_OPT_ECN
    ts = ((ts_now >> TSBITS) << TSBITS) | options
    if ts > ts_now:
        ts -= 1 << TSBITS
    return ts & _M32


def cookie_ecn_ok(tn: TcpNet, opt: TcpRxOptions) -> bool:
    """cookie_ecn_ok(): the SYN asked for ECN (TS_OPT_ECN in the echoed TSval) and
    tcp_ecn is on."""
    return opt.saw_tstamp and bool(opt.rcv_tsecr & TS_OPT_ECN) and \
        bool(tn.sysctl("tcp_ecn"))


def cookie_timestamp_decode(tn: TcpNet, opt: TcpRxOptions) -> bool:
    """cookie_timestamp_decode(): recover wscale/SACK from TSecr; without a timestamp
    the connection gets neither."""
    if not opt.saw_tstamp:
        opt.sack_ok = False
        opt.wscale_ok = False
        opt.snd_wscale = 0
        return True
    if not tn.sysctl("tcp_timestamps"):
        return False
    options = opt.rcv_tsecr
    opt.sack_ok = bool(options & TS_OPT_SACK)
    if opt.sack_ok and not tn.sysctl("tcp_sack"):
        return False
    if (options & TS_OPT_WSCALE_MASK) == TS_OPT_WSCALE_MASK:
        opt.wscale_ok = False
        opt.snd_wscale = 0
        return True
    opt.wscale_ok = True
    opt.snd_wscale = options & TS_OPT_WSCALE_MASK
    return tn.sysctl("tcp_window_scaling") != 0
