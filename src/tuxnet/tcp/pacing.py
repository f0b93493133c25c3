"""TCP pacing (net/ipv4/tcp_input.c: tcp_update_pacing_rate; net/ipv4/tcp_output.c:
tcp_pacing_check, tcp_update_skb_after_send, tcp_pace_kick, tcp_tso_autosize,
tcp_tso_segs; net/core/sock.c: SO_MAX_PACING_RATE).

``sk_pacing_rate`` (bytes/s) is what the congestion control wants: BBR sets it itself
(cong_control), every other algorithm gets tcp_update_pacing_rate's
``mss * cwnd / srtt`` times ``tcp_pacing_ss_ratio`` (200 %) in slow start (while cwnd <
ssthresh / 2) or ``tcp_pacing_ca_ratio`` (120 %) after, capped by
``sk_max_pacing_rate``.

Whether anyone paces follows ``sk_pacing_status``: SK_PACING_NONE (CUBIC and Reno on a
non-fq qdisc: no pacing at all, as in Linux), SK_PACING_NEEDED (BBR, or a socket with
SO_MAX_PACING_RATE: TCP paces itself), SK_PACING_FQ (the fq qdisc saw the socket: fq
enforces the departure times). Either way TCP computes the earliest departure time
(EDT) of each skb, ``tcp_wstamp_ns``: every transmitted skb pushes it on by len/rate
(minus up to half of that as credit when the stack was late), and the skb carries it
in ``skb.tstamp`` for fq. With internal pacing tcp_write_xmit stops while the EDT is in
the future and an hrtimer-like loop timer (``pacing_timer``) resumes it then. The
first 10 data segments of a connection are not paced (as original sch_fq).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.sock import TCP_CLOCK_BOOT_NS

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["GSO_LEGACY_MAX_SIZE", "SK_PACING_FQ", "SK_PACING_NEEDED", "SK_PACING_NONE",
           "UNLIMITED_RATE", "sk_set_max_pacing_rate", "tcp_needs_internal_pacing",
           "tcp_pacing_advance", "tcp_pacing_check", "tcp_tso_autosize", "tcp_tso_segs",
           "tcp_update_pacing_rate"]

# enum sk_pacing (include/net/sock.h)
SK_PACING_NONE = 0
SK_PACING_NEEDED = 1
SK_PACING_FQ = 2
UNLIMITED_RATE = (1 << 64) - 1  # ~0UL
GSO_LEGACY_MAX_SIZE = 65536  # sk_gso_max_size without BIG TCP
_USEC_PER_SEC = 1_000_000
_NSEC_PER_SEC = 1_000_000_000


def tcp_update_pacing_rate(sk: TcpSock) -> None:
    """tcp_update_pacing_rate(): 200 % (ss ratio) of mss * cwnd / srtt in slow start,
    120 % (ca ratio) after, at most sk_max_pacing_rate."""
    rate = sk.mss_cache * ((_USEC_PER_SEC // 100) << 3)  # srtt_us is 8 x SRTT
    cwnd = sk.snd_cwnd
    if cwnd < sk.snd_ssthresh // 2:
        rate *= sk.net.sysctl("tcp_pacing_ss_ratio")
    else:
        rate *= sk.net.sysctl("tcp_pacing_ca_ratio")
    rate *= max(cwnd, sk.packets_out)
    if sk.srtt_us:
        rate //= sk.srtt_us
    sk.sk_pacing_rate = min(rate, sk.sk_max_pacing_rate)


def sk_set_max_pacing_rate(sk: TcpSock, val: int) -> None:
    """sock_setsockopt(SO_MAX_PACING_RATE): ~0U (32-bit) means unlimited; any other
    value turns on TCP's internal pacing unless fq already paces."""
    ulval = UNLIMITED_RATE if val == 0xFFFFFFFF else val
    if ulval != UNLIMITED_RATE and sk.sk_pacing_status == SK_PACING_NONE:
        sk.sk_pacing_status = SK_PACING_NEEDED
    sk.sk_max_pacing_rate = ulval
    sk.sk_pacing_rate = min(sk.sk_pacing_rate, ulval)


def tcp_needs_internal_pacing(sk: TcpSock) -> bool:
    """tcp_needs_internal_pacing()."""
    return sk.sk_pacing_status == SK_PACING_NEEDED


def tcp_pacing_check(sk: TcpSock) -> bool:
    """tcp_pacing_check(): True (and the pacing timer armed for the EDT) when the next
    skb may not leave yet."""
    if sk.sk_pacing_status != SK_PACING_NEEDED:
        return False
    wstamp = sk.tcp_wstamp_ns
    if wstamp <= sk.tcp_clock_cache:
        return False
    timer = sk.pacing_timer
    if timer is None or timer.cancelled:
        sk.pacing_timer = sk.host.loop.call_at(wstamp - TCP_CLOCK_BOOT_NS, tcp_pace_kick, sk)
    return True


def tcp_pace_kick(sk: TcpSock) -> None:
    """tcp_pace_kick() -> tcp_tsq_handler(): the EDT has come, write again."""
    from tuxnet.tcp.defs import TCP_CLOSE
    from tuxnet.tcp.output import tcp_push_pending_frames

    sk.pacing_timer = None
    if sk.sk_state != TCP_CLOSE and sk.sk_write_queue:
        tcp_push_pending_frames(sk)


def tcp_pacing_advance(sk: TcpSock, length: int, prior_wstamp: int) -> None:
    """The pacing part of tcp_update_skb_after_send(): the next EDT is len/rate later,
    less up to half of that as credit for the time the stack was late."""
    rate = sk.sk_pacing_rate
    if rate and rate != UNLIMITED_RATE and sk.data_segs_out >= 10:
        len_ns = length * _NSEC_PER_SEC // rate
        credit = sk.tcp_wstamp_ns - prior_wstamp
        len_ns -= min(len_ns // 2, credit)
        sk.tcp_wstamp_ns += len_ns


def tcp_tso_autosize(sk: TcpSock, mss_now: int, min_tso_segs: int) -> int:
    """tcp_tso_autosize(): about 1 ms of data at the pacing rate (rate >> pacing_shift)
    plus a share of 64 KiB that shrinks as min_rtt grows (tcp_tso_rtt_log), at least
    ``min_tso_segs``."""
    gso_max = GSO_LEGACY_MAX_SIZE
    nbytes = sk.sk_pacing_rate >> sk.sk_pacing_shift
    r = sk.tcp_min_rtt() >> sk.net.sysctl("tcp_tso_rtt_log")
    if r < 32:  # BITS_PER_TYPE(sk_gso_max_size)
        nbytes += gso_max >> r
    nbytes = min(nbytes, gso_max)
    return max(nbytes // mss_now, min_tso_segs)


def tcp_tso_segs(sk: TcpSock, mss_now: int) -> int:
    """tcp_tso_segs(): tcp_tso_autosize with ca_ops->min_tso_segs or the
    tcp_min_tso_segs sysctl as the floor."""
    ops = sk.icsk_ca_ops
    min_tso = ops.min_tso_segs(sk) if ops is not None else 0
    if not min_tso:
        min_tso = sk.net.sysctl("tcp_min_tso_segs")
    return min(tcp_tso_autosize(sk, mss_now, min_tso), 0xFFFF)  # sk_gso_max_segs
