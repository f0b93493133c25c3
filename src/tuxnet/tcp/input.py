"""Receiving on a synchronized connection (net/ipv4/tcp_input.c: tcp_rcv_established with
header prediction, tcp_validate_incoming, PAWS, tcp_event_data_recv,
__tcp_ack_snd_check, tcp_send_dupack, tcp_send_challenge_ack, tcp_reset). The queues
themselves are in :mod:`tuxnet.tcp.rcv_queue`.

Header prediction (Van Jacobson): a segment takes the fast path when its flag word
(doff, flags without PSH, window) equals ``pred_flags`` (ESTABLISHED, ACK only, the
window we last saw, no urgent data, empty out-of-order queue), it is the next in
sequence, acknowledges nothing unsent and its timestamp (if any) is not older than
TS.Recent. Data on the fast path counts TCPHPHits; a pure ACK there counts TCPHPAcks
(via tcp_ack); everything else runs the RFC 9293 3.10.7.4 checks of the slow path.
The checksum was verified by tcp_v4_rcv.

Urgent data (tcp_urg) is noted before the data is queued: tcp/urgent.py.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tuxnet.core import cpu as _cpu
from tuxnet.core.cpu import charge
from tuxnet.dropreason import SkbDropReason as R
from tuxnet.tcp import ack as _ack
from tuxnet.tcp import control as _ctl
from tuxnet.tcp import output as _out
from tuxnet.tcp import proto as _proto
from tuxnet.tcp import rcv_queue as _q
from tuxnet.tcp import timer as _timer
from tuxnet.tcp.defs import (
    FLAG_DATA,
    FLAG_SLOWPATH,
    FLAG_UPDATE_TS_RECENT,
    HZ,
    ICSK_ACK_NOW,
    ICSK_ACK_SCHED,
    NSEC_PER_JIFFY,
    TCP_ATO_MIN,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_ESTABLISHED,
    TCP_FASTRETRANS_THRESH,
    TCP_HP_BITS,
    TCP_LAST_ACK,
    TCP_MAX_QUICKACKS,
    TCP_PAWS_24DAYS,
    TCP_PAWS_WINDOW,
    TCP_SYN_RECV,
    TCPF_CLOSE_WAIT,
    TCPF_CLOSING,
    TCPF_LAST_ACK,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_RST,
    TCPHDR_SYN,
)
from tuxnet.tcp.ecn import tcp_data_ecn_check
from tuxnet.tcp.mss import tcp_grow_window, tcp_measure_rcv_mss, tcp_select_window_raw
from tuxnet.tcp.options import TcpRxOptions, tcp_parse_aligned_timestamp, tcp_parse_options
from tuxnet.tcp.rcvbuf import tcp_rcv_rtt_measure, tcp_rcv_rtt_measure_ts
from tuxnet.tcp.seq import after, before
from tuxnet.tcp.sock import TCP_CLOCK_BOOT_NS, ktime_get_seconds, tcp_cb, tcp_clock_ms
from tuxnet.tcp.urgent import tcp_urg

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.minisocks import TcpTimewaitSock
    from tuxnet.tcp.netns import TcpNet
    from tuxnet.tcp.sock import TcpSkbCb, TcpSock

__all__ = ["tcp_ack_snd_check", "tcp_drop", "tcp_fast_parse_options",
           "tcp_rcv_established", "tcp_reset", "tcp_send_challenge_ack", "tcp_send_dupack",
           "tcp_validate_incoming"]

_M32 = 0xFFFFFFFF
_WORD = struct.Struct("!I")
_ALIGNED_TS = struct.Struct("!III")
_ALIGNED_TS_WORD = 0x0101080A  # nop, nop, TS kind 8 len 10 (TCPOPT_TSTAMP_HDR)


def tcp_drop(sk: TcpSock, skb: SkBuff, reason: R, where: str) -> None:
    """tcp_drop_reason(): kfree_skb with the reason (and the socket's sk_drops)."""
    sk.sk_drops += 1
    sk.host.kfree_skb(skb, reason, where, sk)


def _consume(sk: TcpSock, skb: SkBuff) -> None:
    sk.host.consume_skb(skb, "tcp_rcv")


# -- timestamps and PAWS (RFC 7323 4-5) -----------------------------------------------

def tcp_store_ts_recent(sk: TcpSock) -> None:
    """tcp_store_ts_recent()."""
    rx = sk.rx_opt
    rx.ts_recent = rx.rcv_tsval
    rx.ts_recent_stamp = ktime_get_seconds(sk.host)


def tcp_paws_check(sk: TcpSock, paws_win: int) -> bool:
    """tcp_paws_check(): TSval not older than TS.Recent by more than paws_win, or
    TS.Recent too old (24 days) or unset."""
    rx = sk.rx_opt
    if ((rx.ts_recent - rx.rcv_tsval + 0x80000000) & _M32) - 0x80000000 <= paws_win:
        return True
    if ktime_get_seconds(sk.host) >= rx.ts_recent_stamp + TCP_PAWS_24DAYS:
        return True
    return not rx.ts_recent


def tcp_replace_ts_recent(sk: TcpSock, seq: int) -> None:
    """tcp_replace_ts_recent() (RFC 7323 4.3): TS.Recent from a segment that covers
    Last.ACK.sent."""
    if sk.rx_opt.saw_tstamp and not after(seq, sk.rcv_wup) and tcp_paws_check(sk, 0):
        tcp_store_ts_recent(sk)


def _tcp_disordered_ack(sk: TcpSock, skb: SkBuff) -> bool:
    """tcp_disordered_ack(): a pure duplicate ACK reordered on the way is not a PAWS
    failure."""
    cb = tcp_cb(skb)
    seq, ack = cb.seq, cb.ack_seq
    rx = sk.rx_opt
    return (bool(cb.tcp_flags & TCPHDR_ACK) and seq == cb.end_seq and seq == sk.rcv_nxt and
            ack == sk.snd_una and
            not _ack.tcp_may_update_window(sk, ack, seq, cb.window << rx.snd_wscale) and
            ((rx.ts_recent - rx.rcv_tsval) & _M32) <= (sk.icsk_rto * 1024) // HZ)


def tcp_paws_discard(sk: TcpSock, skb: SkBuff) -> bool:
    """tcp_paws_discard()."""
    return not tcp_paws_check(sk, TCP_PAWS_WINDOW) and not _tcp_disordered_ack(sk, skb)


def _paws_old_ack(sk: TcpSock, skb: SkBuff) -> bool:
    """tcp_disordered_ack_check()'s RFC7323_PAWS_ACK cases: a pure ACK from before
    rcv_nxt or acknowledging less than snd_una (reordered old ACKs are common: no
    dupack for them)."""
    cb = tcp_cb(skb)
    if not cb.tcp_flags & TCPHDR_ACK or cb.seq != cb.end_seq:
        return False
    if cb.seq != sk.rcv_nxt:
        return before(cb.seq, sk.rcv_nxt)
    return cb.ack_seq != sk.snd_una and before(cb.ack_seq, sk.snd_una)


def tcp_fast_parse_options(sk: TcpSock, skb: SkBuff) -> bool:
    """tcp_fast_parse_options(): the aligned timestamp when that is all there is, else
    the full walk (SACK blocks land in TCP_SKB_CB(skb)->sack_blocks)."""
    cb = tcp_cb(skb)
    rx = sk.rx_opt
    hl = cb.hdr_len
    data = skb.data
    if hl == 20:
        rx.saw_tstamp = False
        return False
    if rx.tstamp_ok and hl == 32 and tcp_parse_aligned_timestamp(data, 0, rx, sk.tsoffset):
        return True
    tmp = TcpRxOptions()
    tcp_parse_options(sk.net, data, 0, hl, bool(cb.tcp_flags & TCPHDR_SYN), True, tmp,
                      rx.tstamp_ok, rx.sack_ok)
    rx.saw_tstamp = tmp.saw_tstamp
    if tmp.saw_tstamp:
        rx.rcv_tsval = tmp.rcv_tsval
        rx.rcv_tsecr = (tmp.rcv_tsecr - sk.tsoffset) & _M32 if tmp.rcv_tsecr else 0
    cb.sack_blocks = tmp.sack_blocks
    return True


# -- out-of-window ACKs and challenge ACKs (RFC 5961) -----------------------------------

def tcp_oow_rate_limited(sk: TcpSock, skb: SkBuff, mib: str, holder: object,
                         attr: str) -> bool:
    """tcp_oow_rate_limited() / __tcp_oow_rate_limited(): at most one dupack per
    tcp_invalid_ratelimit ms for out-of-window segments (data without SYN is never
    limited: it cannot be part of an ACK loop). ``holder.attr`` keeps the last time."""
    return _oow_limited(sk.net, skb, mib, holder, attr)


def _oow_limited(tn: TcpNet, skb: SkBuff, mib: str, holder: object, attr: str) -> bool:
    cb = tcp_cb(skb)
    if cb.seq != cb.end_seq and not cb.tcp_flags & TCPHDR_SYN:
        return False
    now = tcp_clock_ms(tn.host)
    last = getattr(holder, attr)
    if last:
        elapsed = now - last
        if 0 <= elapsed < tn.sysctl("tcp_invalid_ratelimit"):
            tn.host.mib.tcpext[mib] += 1
            return True
    setattr(holder, attr, now)
    return False


def _oow_rate_limited_tw(tw: TcpTimewaitSock, skb: SkBuff, mib: str) -> int:
    """tcp_timewait_check_oow_rate_limit(): TCP_TW_ACK (2) unless rate limited."""
    if not _oow_limited(tw.net, skb, mib, tw, "tw_last_oow_ack_time"):
        return 2
    return 0


def tcp_send_challenge_ack(sk: TcpSock) -> None:
    """tcp_send_challenge_ack() (RFC 5961 3.2/4.2/5.2): rate limited per socket, then
    by the namespace-wide tcp_challenge_ack_limit per second (randomised around it)."""
    tn = sk.net
    mib = sk.host.mib.tcpext
    now = tcp_clock_ms(sk.host)
    last = sk.last_oow_ack_time
    if last and 0 <= now - last < tn.sysctl("tcp_invalid_ratelimit"):
        mib.TCPACKSkippedChallenge += 1
        return
    sk.last_oow_ack_time = now
    limit = tn.sysctl("tcp_challenge_ack_limit")
    if limit != 0x7FFFFFFF:
        sec = tcp_clock_ms(sk.host) // 1000  # jiffies / HZ
        if sec != tn.challenge_timestamp:
            half = (limit + 1) >> 1
            tn.challenge_timestamp = sec
            tn.challenge_count = tn.rng.randint(half, limit + half - 1)
        if tn.challenge_count <= 0:
            return
        tn.challenge_count -= 1
    mib.TCPChallengeACK += 1
    _ctl.tcp_send_ack(sk)


def tcp_send_dupack(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_send_dupack(): ACK an unacceptable segment; duplicate data gets a D-SACK and
    quick-ACK mode (DelayedACKLost)."""
    cb = tcp_cb(skb)
    if cb.end_seq != cb.seq and before(cb.seq, sk.rcv_nxt):
        sk.host.mib.tcpext.DelayedACKLost += 1
        tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS)
        if sk.tcp_is_sack() and sk.net.sysctl("tcp_dsack"):
            end_seq = cb.end_seq
            if after(end_seq, sk.rcv_nxt):
                end_seq = sk.rcv_nxt
            _q.tcp_dsack_set(sk, cb.seq, end_seq)
    _ctl.tcp_send_ack(sk)


def tcp_reset(sk: TcpSock, skb: SkBuff | None) -> None:
    """tcp_reset(): a valid RST: ECONNREFUSED in SYN_SENT, EPIPE in CLOSE_WAIT, else
    ECONNRESET; the connection is done."""
    tp = sk.net.tp_receive_reset
    if tp.active:
        from tuxnet.wire.addr import int_to_ip

        tp.emit(skaddr=id(sk), sport=sk.inet_sport, dport=sk.inet_dport, family="AF_INET",
                saddr=int_to_ip(sk.inet_saddr), daddr=int_to_ip(sk.inet_daddr),
                sock_cookie=sk.ino)
    state = sk.sk_state
    if state == 2:  # TCP_SYN_SENT
        err = 111  # ECONNREFUSED
    elif state == TCP_CLOSE_WAIT:
        err = 32  # EPIPE
    elif state == TCP_CLOSE:
        return
    else:
        err = 104  # ECONNRESET
    _proto.tcp_done_with_error(sk, err)


def tcp_sequence(sk: TcpSock, seq: int, end_seq: int, fin: int) -> R | None:
    """tcp_sequence() (RFC 9293 3.10.7.4 first check): None when acceptable. Since
    Linux 6.17 ("tcp: do not accept packets beyond window") the segment's end must be
    in the window too, unless the receive queue is empty; a FIN alone may go one past
    it (tcp: re-enable acceptance of FIN packets when RWIN is 0, 6.18.y stable)."""
    if before(end_seq, sk.rcv_wup):
        return R.TCP_OLD_SEQUENCE
    limit = (sk.rcv_nxt + sk.tcp_receive_window()) & _M32
    if after(end_seq, limit):
        if not after((end_seq - fin) & _M32, limit):
            return None
        if after(seq, limit):
            return R.TCP_INVALID_SEQUENCE
        if sk.sk_receive_queue:  # only accepted while the receive queue is empty
            return R.TCP_INVALID_END_SEQUENCE
    return None


def _tcp_reset_check(sk: TcpSock, seq: int) -> bool:
    """tcp_reset_check(): an RST at rcv_nxt - 1 after we received a FIN."""
    return seq == ((sk.rcv_nxt - 1) & _M32) and bool(
        (1 << sk.sk_state) & (TCPF_CLOSE_WAIT | TCPF_LAST_ACK | TCPF_CLOSING))


def tcp_validate_incoming(sk: TcpSock, skb: SkBuff, syn_inerr: bool) -> bool:
    """tcp_validate_incoming(): PAWS, the sequence check, RST and SYN rules of RFC 9293
    3.10.7.4 with RFC 5961 (an in-window RST not at rcv_nxt and any SYN draw a
    challenge ACK). False when the segment was consumed."""
    cb = tcp_cb(skb)
    flags = cb.tcp_flags
    tcpext = sk.host.mib.tcpext
    if tcp_fast_parse_options(sk, skb) and sk.rx_opt.saw_tstamp and \
            tcp_paws_discard(sk, skb) and not flags & TCPHDR_RST:
        # RFC 7323 5.3: drop and ACK (an RST is accepted even if it fails PAWS)
        if flags & TCPHDR_SYN:
            return _syn_challenge(sk, skb, syn_inerr)
        if _paws_old_ack(sk, skb):
            # an old ACK reordered on the way: no dupack (Linux 6.15+)
            tcpext.PAWSOldAck += 1
            tcp_drop(sk, skb, R.TCP_RFC7323_PAWS_ACK, "tcp_validate_incoming")
            return False
        tcpext.PAWSEstab += 1
        if not tcp_oow_rate_limited(sk, skb, "TCPACKSkippedPAWS", sk, "last_oow_ack_time"):
            tcp_send_dupack(sk, skb)
        tcp_drop(sk, skb, R.TCP_RFC7323_PAWS, "tcp_validate_incoming")
        return False
    reason = tcp_sequence(sk, cb.seq, cb.end_seq, flags & TCPHDR_FIN)
    if reason is not None:
        if not flags & TCPHDR_RST:
            if flags & TCPHDR_SYN:
                return _syn_challenge(sk, skb, syn_inerr)
            if reason in (R.TCP_INVALID_SEQUENCE, R.TCP_INVALID_END_SEQUENCE):
                tcpext.BeyondWindow += 1  # LINUX_MIB_BEYOND_WINDOW
            if not tcp_oow_rate_limited(sk, skb, "TCPACKSkippedSeq", sk, "last_oow_ack_time"):
                tcp_send_dupack(sk, skb)
        elif _tcp_reset_check(sk, cb.seq):
            tcp_reset(sk, skb)
            _consume(sk, skb)
            return False
        tcp_drop(sk, skb, reason, "tcp_validate_incoming")
        return False
    if flags & TCPHDR_RST:
        # RFC 5961 3.2: reset only at rcv_nxt (or rcv_nxt - 1 after a FIN, or the
        # right edge of our last SACK block); otherwise a challenge ACK.
        seq = cb.seq
        max_sack = sk.selective_acks[0][1] if sk.tcp_is_sack() and sk.rx_opt.num_sacks else -1
        if seq == sk.rcv_nxt or _tcp_reset_check(sk, seq) or seq == max_sack:
            tcp_reset(sk, skb)
            _consume(sk, skb)
            return False
        if sk.syn_fastopen and not sk.data_segs_in and sk.sk_state == TCP_ESTABLISHED:
            # an out-of-order RST before any data: a middlebox may drop Fast Open
            from tuxnet.tcp.fastopen_client import tcp_fastopen_active_disable

            tcp_fastopen_active_disable(sk)
        tcp_send_challenge_ack(sk)
        tcp_drop(sk, skb, R.TCP_RESET, "tcp_validate_incoming")
        return False
    if flags & TCPHDR_SYN:
        if (sk.sk_state == TCP_SYN_RECV and flags & TCPHDR_ACK and
                (cb.seq + 1) & _M32 == cb.end_seq and (cb.seq + 1) & _M32 == sk.rcv_nxt and
                cb.ack_seq == sk.snd_nxt):
            return True  # a retransmitted SYN-ACK of a simultaneous open
        return _syn_challenge(sk, skb, syn_inerr)
    return True


def _syn_challenge(sk: TcpSock, skb: SkBuff, syn_inerr: bool) -> bool:
    mib = sk.host.mib
    if syn_inerr:
        mib.tcp.InErrs += 1
    mib.tcpext.TCPSYNChallenge += 1
    tcp_send_challenge_ack(sk)
    tcp_drop(sk, skb, R.TCP_INVALID_SYN, "tcp_validate_incoming")
    return False


# -- the delayed-ACK engine -----------------------------------------------------------

def tcp_incr_quickack(sk: TcpSock, max_quickacks: int) -> None:
    """tcp_incr_quickack(): allow up to rcv_wnd / (2 x rcv_mss) immediate ACKs."""
    ack = sk.icsk_ack
    quickacks = sk.rcv_wnd // (2 * ack.rcv_mss) if ack.rcv_mss else 0
    quickacks = min(quickacks or 2, max_quickacks)
    if quickacks > ack.quick:
        ack.quick = quickacks


def tcp_enter_quickack_mode(sk: TcpSock, max_quickacks: int) -> None:
    """tcp_enter_quickack_mode()."""
    tcp_incr_quickack(sk, max_quickacks)
    sk.icsk_ack.pingpong = 0
    sk.icsk_ack.ato = TCP_ATO_MIN


def tcp_in_quickack_mode(sk: TcpSock) -> bool:
    """tcp_in_quickack_mode(): the route's quickack metric or quick ACKs left outside
    pingpong mode."""
    dst = sk.dst
    if dst is not None and dst.quickack:
        return True
    return bool(sk.icsk_ack.quick) and not sk.inet_csk_in_pingpong_mode()


def tcp_event_data_recv(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_event_data_recv(): schedule an ACK and estimate the inter-arrival time (ato):
    quick-ACK mode for the first data, ato = ato/2 + 20 ms for back-to-back packets."""
    ack = sk.icsk_ack
    ack.pending |= ICSK_ACK_SCHED
    cb = skb.cb
    flags = cb.tcp_flags
    length = skb.gso_size or skb.len
    if length == ack.rcv_mss and length <= sk.advmss and not flags & TCPHDR_PSH:
        ack.last_seg_size = 0  # all tcp_measure_rcv_mss does for one more full segment
    else:
        tcp_measure_rcv_mss(sk, skb, flags, cb.hdr_len)
    # tcp_rcv_rtt_measure returns at once while rcv_nxt is before the sample's end
    if not sk.rcv_rtt_est_time or ((sk.rcv_nxt - sk.rcv_rtt_est_seq) & _M32) < 0x80000000:
        tcp_rcv_rtt_measure(sk)
    now = (sk.host.loop.now_ns() + TCP_CLOCK_BOOT_NS) // NSEC_PER_JIFFY  # sk.jiffies()
    if not ack.ato:
        tcp_incr_quickack(sk, TCP_MAX_QUICKACKS)
        ack.ato = TCP_ATO_MIN
    else:
        m = now - ack.lrcvtime
        if m <= TCP_ATO_MIN // 2:
            ack.ato = (ack.ato >> 1) + TCP_ATO_MIN // 2
        elif m < ack.ato:
            ack.ato = min((ack.ato >> 1) + m, sk.icsk_rto)
        elif m > sk.icsk_rto:
            tcp_incr_quickack(sk, TCP_MAX_QUICKACKS)
    ack.lrcvtime = now
    if sk.ecn_flags:
        tcp_data_ecn_check(sk, skb)
    if skb.len >= 128:
        tcp_grow_window(sk, skb)


def __tcp_ack_snd_check(sk: TcpSock, ofo_possible: bool) -> None:
    """__tcp_ack_snd_check(): ACK now after more than one full segment when the window
    would not shrink, in quick-ACK mode, or when ACK_NOW is pending; else delay it.
    With out-of-order data, SACK compression holds back ACKs after the first three."""
    ack = sk.icsk_ack
    if ((((sk.rcv_nxt - sk.rcv_wup) & _M32) > ack.rcv_mss and
         tcp_select_window_raw(sk) >= sk.rcv_wnd) or tcp_in_quickack_mode(sk) or
            ack.pending & ICSK_ACK_NOW):
        _ctl.tcp_send_ack(sk)
        return
    if not ofo_possible or not sk.out_of_order_queue:
        _ctl.tcp_send_delayed_ack(sk)
        return
    if not sk.tcp_is_sack() or sk.compressed_ack >= sk.net.sysctl("tcp_comp_sack_nr"):
        _ctl.tcp_send_ack(sk)
        return
    if sk.compressed_ack_rcv_nxt != sk.rcv_nxt:
        sk.compressed_ack_rcv_nxt = sk.rcv_nxt
        sk.dup_ack_counter = 0
    if sk.dup_ack_counter < TCP_FASTRETRANS_THRESH:
        sk.dup_ack_counter += 1
        _ctl.tcp_send_ack(sk)
        return
    sk.compressed_ack += 1
    if sk.compressed_ack_timer is not None:
        return
    rtt = sk.rcv_rtt_est_rtt_us
    if sk.srtt_us and (not rtt or sk.srtt_us < rtt):
        rtt = sk.srtt_us
    delay = min(sk.net.sysctl("tcp_comp_sack_delay_ns"), rtt * (1000 >> 3) // 20)
    _timer.tcp_start_compressed_ack_timer(sk, delay)


def tcp_ack_snd_check(sk: TcpSock) -> None:
    """tcp_ack_snd_check()."""
    if sk.inet_csk_ack_scheduled():
        __tcp_ack_snd_check(sk, True)


def tcp_data_snd_check(sk: TcpSock) -> None:
    """tcp_data_snd_check(): push what the ACK allows, wake writers."""
    _out.tcp_push_pending_frames(sk)
    _ctl.tcp_check_space(sk)


def _trace_probe(sk: TcpSock, skb: SkBuff) -> None:
    """trace_tcp_probe(): one event per segment tcp_rcv_established receives."""
    from tuxnet.wire.addr import int_to_ip

    cb = tcp_cb(skb)
    payload = skb.len - cb.hdr_len
    sk.net.tp_probe.emit(
        saddr=f"{int_to_ip(sk.inet_saddr)}:{sk.inet_sport}",
        daddr=f"{int_to_ip(sk.inet_daddr)}:{sk.inet_dport}", sport=sk.inet_sport,
        dport=sk.inet_dport, family="AF_INET", mark=sk.sk_mark, data_len=payload,
        snd_nxt=sk.snd_nxt,
        snd_una=sk.snd_una, snd_cwnd=sk.snd_cwnd, ssthresh=sk.snd_ssthresh,
        snd_wnd=sk.snd_wnd, srtt=sk.srtt_us >> 3, rcv_wnd=sk.rcv_wnd, sock_cookie=sk.ino,
        skbaddr=id(skb), skaddr=id(sk))


# -- tcp_rcv_established --------------------------------------------------------------

def tcp_rcv_established(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_rcv_established(): header prediction, then the slow path."""
    cb: TcpSkbCb = skb.cb
    head = skb.head  # the header is read at skb.data (data_off) in the head buffer
    off = skb.data_off
    net = sk.net
    if net.tp_probe.active:
        _trace_probe(sk, skb)
    sk.tcp_mstamp = (sk.host.loop.now_ns() + TCP_CLOCK_BOOT_NS) // 1000  # tcp_mstamp_refresh
    rx = sk.rx_opt
    rx.saw_tstamp = False
    core = net.core
    length = skb.len
    rcv_nxt = sk.rcv_nxt
    if (_WORD.unpack_from(head, off + 12)[0] & TCP_HP_BITS) == sk.pred_flags and \
            cb.seq == rcv_nxt and ((sk.snd_nxt - cb.ack_seq) & _M32) < 0x80000000:
        # (the last test is !after(ack_seq, snd_nxt))
        hl = sk.tcp_header_len
        fast = True
        if hl == 32:
            word, tsval, tsecr = _ALIGNED_TS.unpack_from(head, off + 20)
            if word != _ALIGNED_TS_WORD:
                fast = False  # no aligned TS: tcp_parse_aligned_timestamp fails
            else:
                rx.saw_tstamp = True
                rx.rcv_tsval = tsval
                rx.rcv_tsecr = (tsecr - sk.tsoffset) & _M32 if tsecr else 0
                if ((tsval - rx.ts_recent) & _M32) >= 0x80000000:
                    fast = False  # PAWS needs a closer look
        if fast:
            if length <= hl:
                if length == hl:
                    if hl == 32 and sk.rcv_nxt == sk.rcv_wup:
                        tcp_store_ts_recent(sk)
                    charge(core.costs.tcp_fast_path_ns)
                    _ack.tcp_ack(sk, skb, 0)
                    _consume(sk, skb)
                    tcp_data_snd_check(sk)
                    sk.rcv_rtt_last_tsecr = rx.rcv_tsecr
                    return
                sk.host.mib.tcp.InErrs += 1
                tcp_drop(sk, skb, R.PKT_TOO_SMALL, "tcp_rcv_established")
                return
            # past the window's right edge: the slow path's tcp_sequence decides
            # (Linux 6.17+: goto validate)
            win = (sk.rcv_wup + sk.rcv_wnd - rcv_nxt) & _M32
            if ((cb.end_seq - rcv_nxt) & _M32) <= (win if win < 0x80000000 else 0):
                truesize = skb.truesize
                if sk.sk_rmem_alloc + truesize <= sk.sk_rcvbuf:
                    cpu = _cpu._running  # charge(), inline
                    if cpu is not None:
                        cpu._acc += core.costs.tcp_fast_path_ns
                    if hl == 32 and rcv_nxt == sk.rcv_wup:
                        tcp_store_ts_recent(sk)
                    if rx.rcv_tsecr != sk.rcv_rtt_last_tsecr:  # else no new sample
                        tcp_rcv_rtt_measure_ts(sk, skb)
                    sk.host.mib.tcpext.TCPHPHits += 1
                    if hl <= length - skb.data_len:  # skb.pull(hl), inline
                        skb.data_off = off + hl
                        skb.len = length - hl
                    else:
                        skb.pull(hl)
                    # tcp_queue_rcv: skb_set_owner_r, tcp_rcv_nxt_update
                    sk.sk_receive_queue.append(skb)
                    skb.sk = sk
                    sk.sk_rmem_alloc += truesize
                    end_seq = cb.end_seq
                    sk.bytes_received += (end_seq - rcv_nxt) & _M32
                    sk.rcv_nxt = end_seq
                    tcp_event_data_recv(sk, skb)
                    if cb.ack_seq != sk.snd_una:
                        _ack.tcp_ack(sk, skb, FLAG_DATA)
                        tcp_data_snd_check(sk)
                        if not sk.inet_csk_ack_scheduled():
                            sk.sk_data_ready()
                            return
                    else:
                        sk.snd_wl1 = cb.seq  # tcp_update_wl
                    __tcp_ack_snd_check(sk, False)
                    sk.sk_data_ready()
                    return
                _step5(sk, skb)
                return
    # slow path
    charge(core.costs.tcp_slow_path_ns)
    if length < cb.hdr_len:
        sk.host.mib.tcp.InErrs += 1
        tcp_drop(sk, skb, R.PKT_TOO_SMALL, "tcp_rcv_established")
        return
    if not cb.tcp_flags & (TCPHDR_ACK | TCPHDR_RST | TCPHDR_SYN):
        tcp_drop(sk, skb, R.TCP_FLAGS, "tcp_rcv_established")
        return
    if not tcp_validate_incoming(sk, skb, True):
        return
    _step5(sk, skb)


def _step5(sk: TcpSock, skb: SkBuff) -> None:
    reason = _ack.tcp_ack(sk, skb, FLAG_SLOWPATH | FLAG_UPDATE_TS_RECENT)
    if reason < 0:
        tcp_drop(sk, skb, R(-reason), "tcp_ack")
        return
    tcp_rcv_rtt_measure_ts(sk, skb)
    tcp_urg(sk, skb)  # process urgent data (tcp/urgent.py)
    _q.tcp_data_queue(sk, skb)
    tcp_data_snd_check(sk)
    tcp_ack_snd_check(sk)


def tcp_data_after_fin_states(state: int) -> bool:
    """States in which new data from the peer is past its FIN (CLOSE_WAIT, CLOSING,
    LAST_ACK)."""
    return state in (TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK)

