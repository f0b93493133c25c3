"""Processing an incoming ACK (net/ipv4/tcp_input.c: tcp_ack, tcp_clean_rtx_queue,
tcp_ack_update_window, tcp_may_update_window, tcp_ack_update_rtt, tcp_rtt_estimator,
tcp_set_rto, tcp_update_rtt_min, tcp_cong_control, tcp_ack_probe).

RTT (RFC 6298 with Linux's fixed point): ``srtt_us`` holds 8 x SRTT and ``mdev_us``
4 x the mean deviation; the first sample m gives srtt = m, mdev = m/2 and
rttvar = max(2m, rto_min), so the first RTO is m + max(2m, 200 ms); ``rttvar_us``
then tracks the largest mdev of the last round trip and decays toward it by 1/4 per
RTT. RTO = srtt + rttvar, at most TCP_RTO_MAX (120 s). Samples come from the send
time of never-retransmitted segments (Karn, RFC 6298 3), else from TSecr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.tcp import input as _in
from tuxnet.tcp import rcv_queue as _q
from tuxnet.tcp import recovery as _rec
from tuxnet.tcp import retrans as _retrans
from tuxnet.tcp import timer as _timer
from tuxnet.tcp.chrono import TCP_CHRONO_BUSY, tcp_chrono_stop
from tuxnet.tcp.cong import AckSample, RateSample, tcp_cong_avoid
from tuxnet.tcp.defs import (
    CA_ACK_ECE,
    CA_ACK_SLOWPATH,
    CA_ACK_WIN_UPDATE,
    FLAG_ACK_MAYBE_DELAYED,
    FLAG_ACKED,
    FLAG_CA_ALERT,
    FLAG_DATA,
    FLAG_DATA_ACKED,
    FLAG_DSACKING_ACK,
    FLAG_ECE,
    FLAG_FORWARD_PROGRESS,
    FLAG_NO_CHALLENGE_ACK,
    FLAG_NOT_DUP,
    FLAG_ORIG_SACK_ACKED,
    FLAG_RETRANS_DATA_ACKED,
    FLAG_SACK_RENEGING,
    FLAG_SET_XMIT_TIMER,
    FLAG_SLOWPATH,
    FLAG_SND_UNA_ADVANCED,
    FLAG_SYN_ACKED,
    FLAG_UPDATE_TS_RECENT,
    FLAG_WIN_UPDATE,
    ICSK_TIME_PROBE0,
    REXMIT_NONE,
    TCP_RTO_MAX,
    TCP_TS_HZ,
    TCPCB_LOST,
    TCPCB_RETRANS,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    TCPHDR_SYN,
    USEC_PER_JIFFY,
    USEC_PER_SEC,
    TCP_CA_Open,
    usecs_to_jiffies,
)
from tuxnet.tcp.ecn import tcp_count_delivered_ce, tcp_ecn_rcv_ecn_echo
from tuxnet.tcp.idle import tcp_slow_start_after_idle_check
from tuxnet.tcp.mss import tcp_sync_mss
from tuxnet.tcp.mtu_probe import tcp_mtup_probe_acked
from tuxnet.tcp.pacing import tcp_update_pacing_rate
from tuxnet.tcp.rate import tcp_rate_gen, tcp_rate_skb_delivered
from tuxnet.tcp.seq import after, before, between
from tuxnet.tcp.sock import tcp_cb
from tuxnet.tcp.tx_timestamp import tcp_ack_tstamp

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSkbCb, TcpSock

__all__ = ["SackState", "tcp_ack", "tcp_ack_update_rtt", "tcp_may_update_window",
           "tcp_rtt_estimator", "tcp_set_rto"]

_M32 = 0xFFFFFFFF


class SackState:
    """struct tcp_sacktag_state."""

    __slots__ = ("first_sackt", "flag", "last_sackt", "rate", "reord", "sack_delivered")

    def __init__(self, reord: int, rate: RateSample | None = None) -> None:
        self.rate = rate  # tcp_sacktag_state.rate: the rate sample this ACK builds
        self.first_sackt = 0
        self.last_sackt = 0
        self.reord = reord
        self.sack_delivered = 0
        self.flag = 0


# -- RTT ----------------------------------------------------------------------------------

def tcp_rtt_estimator(sk: TcpSock, mrtt_us: int) -> None:
    """tcp_rtt_estimator() (RFC 6298 2.2-2.3, with a smaller mdev gain for falling RTTs)."""
    m = mrtt_us
    srtt = sk.srtt_us
    if srtt:
        m -= srtt >> 3
        srtt += m
        if m < 0:
            m = -m
            m -= sk.mdev_us >> 2
            if m > 0:
                m >>= 3
        else:
            m -= sk.mdev_us >> 2
        sk.mdev_us += m
        if sk.mdev_us > sk.mdev_max_us:
            sk.mdev_max_us = sk.mdev_us
            if sk.mdev_max_us > sk.rttvar_us:
                sk.rttvar_us = sk.mdev_max_us
        if after(sk.snd_una, sk.rtt_seq):
            if sk.mdev_max_us < sk.rttvar_us:
                sk.rttvar_us -= (sk.rttvar_us - sk.mdev_max_us) >> 2
            sk.rtt_seq = sk.snd_nxt
            sk.mdev_max_us = _timer.tcp_rto_min_us(sk)
    else:
        srtt = m << 3
        sk.mdev_us = m << 1
        sk.rttvar_us = max(sk.mdev_us, _timer.tcp_rto_min_us(sk))
        sk.mdev_max_us = sk.rttvar_us
        sk.rtt_seq = sk.snd_nxt
    sk.srtt_us = max(1, srtt)


def tcp_set_rto(sk: TcpSock) -> None:
    """tcp_set_rto() (RFC 6298 2.3): RTO = srtt + rttvar, bounded by TCP_RTO_MAX."""
    sk.icsk_rto = min(usecs_to_jiffies((sk.srtt_us >> 3) + sk.rttvar_us), TCP_RTO_MAX)


def tcp_update_rtt_min(sk: TcpSock, rtt_us: int, flag: int) -> None:
    """tcp_update_rtt_min(): windowed min RTT over tcp_min_rtt_wlen seconds."""
    wlen = sk.net.sysctl("tcp_min_rtt_wlen") * 1000
    if flag & FLAG_ACK_MAYBE_DELAYED and rtt_us > sk.tcp_min_rtt():
        return
    sk.rtt_min.running_min(wlen, sk.jiffies(), rtt_us or USEC_PER_JIFFY)


def tcp_ack_update_rtt(sk: TcpSock, flag: int, seq_rtt_us: int, sack_rtt_us: int,
                       ca_rtt_us: int, rs: RateSample | None = None) -> bool:
    """tcp_ack_update_rtt(): prefer the ACK's timing, fall back to TSecr (RFC 7323 4.1)
    only for an ACK of new data; a valid sample resets the backoff (RFC 6298 5.7)."""
    if seq_rtt_us < 0:
        seq_rtt_us = sack_rtt_us
    rx = sk.rx_opt
    if seq_rtt_us < 0 and rx.saw_tstamp and rx.rcv_tsecr and flag & FLAG_ACKED:
        delta = (sk.tcp_time_stamp_ts() - rx.rcv_tsecr) & _M32
        if delta < 0x7FFFFFFF // (USEC_PER_SEC // TCP_TS_HZ):
            seq_rtt_us = ca_rtt_us = max(delta, 1) * (USEC_PER_SEC // TCP_TS_HZ)
    if rs is not None:
        rs.rtt_us = ca_rtt_us
    if seq_rtt_us < 0:
        return False
    tcp_update_rtt_min(sk, ca_rtt_us, flag)
    tcp_rtt_estimator(sk, seq_rtt_us)
    tcp_set_rto(sk)
    sk.icsk_backoff = 0
    return True


# -- the send window (RFC 9293 3.10.7.4 fifth check) ------------------------------------

def tcp_may_update_window(sk: TcpSock, ack: int, ack_seq: int, nwin: int) -> bool:
    """tcp_may_update_window(): SND.WL1/WL2 rule."""
    return (after(ack, sk.snd_una) or after(ack_seq, sk.snd_wl1) or
            (ack_seq == sk.snd_wl1 and (nwin > sk.snd_wnd or not nwin)))


def tcp_snd_una_update(sk: TcpSock, ack: int) -> None:
    """tcp_snd_una_update(): bytes_acked and snd_una."""
    sk.bytes_acked += (ack - sk.snd_una) & _M32
    sk.snd_una = ack


def tcp_ack_update_window(sk: TcpSock, skb: SkBuff, ack: int, ack_seq: int) -> int:
    """tcp_ack_update_window(): a new send window re-enables header prediction and may
    grow max_window (and with it the MSS bound)."""
    cb = tcp_cb(skb)
    flag = 0
    nwin = cb.window
    if not cb.tcp_flags & TCPHDR_SYN:
        nwin <<= sk.rx_opt.snd_wscale
    if tcp_may_update_window(sk, ack, ack_seq, nwin):
        flag |= FLAG_WIN_UPDATE
        sk.snd_wl1 = ack_seq
        if sk.snd_wnd != nwin:
            sk.snd_wnd = nwin
            sk.pred_flags = 0
            _q.tcp_fast_path_check(sk)
            if sk.sk_write_queue:
                tcp_slow_start_after_idle_check(sk)
            if nwin > sk.max_window:
                sk.max_window = nwin
                tcp_sync_mss(sk, sk.icsk_pmtu_cookie)
    tcp_snd_una_update(sk, ack)
    return flag


def tcp_ack_probe(sk: TcpSock) -> None:
    """tcp_ack_probe(): the window opened: stop probing; still closed: probe later."""
    wq = sk.sk_write_queue
    if not wq:
        return
    if not after(tcp_cb(wq[0]).end_seq, sk.tcp_wnd_end()):
        sk.icsk_backoff = 0
        sk.icsk_probes_tstamp = 0
        _timer.inet_csk_clear_xmit_timer(sk, ICSK_TIME_PROBE0)
    else:
        when = _timer.tcp_probe0_when(sk, TCP_RTO_MAX)
        _timer.inet_csk_reset_xmit_timer(sk, ICSK_TIME_PROBE0, when, TCP_RTO_MAX)


# -- the retransmit queue --------------------------------------------------------------

def _unlink(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_rtx_queue_unlink_and_free()."""
    sk.tsorted_sent_queue.pop(skb, None)
    if sk.retransmit_skb_hint is skb:
        sk.retransmit_skb_hint = None
    sk.sk_wmem_queued -= skb.truesize
    skb.free()


def tcp_clean_rtx_queue(sk: TcpSock, prior_fack: int, prior_snd_una: int,
                        sack: SackState, ece_ack: bool) -> int:
    """tcp_clean_rtx_queue(): free what the cumulative ACK covers, take the RTT sample,
    tell the congestion control (pkts_acked)."""
    first_ackt = last_ackt = 0
    reord = sk.snd_nxt
    flag = 0
    pkts_acked = 0
    rtx = sk.tcp_rtx_queue
    snd_una = sk.snd_una
    is_sack = sk.tcp_is_sack()
    while rtx:
        skb = rtx[0]
        cb: TcpSkbCb = skb.cb
        fully_acked = True
        if after(cb.end_seq, snd_una):
            # tcp_tso_acked(): a TSO skb acknowledged in part loses its acked MSS
            if cb.pcount == 1 or not after(snd_una, cb.seq):
                break
            before_pcount = cb.pcount
            _retrans.tcp_trim_head(sk, skb, (snd_una - cb.seq) & _M32)
            acked_pcount = before_pcount - cb.pcount
            if not acked_pcount:
                break
            fully_acked = False
        else:
            acked_pcount = cb.pcount
        sacked = cb.sacked
        if sacked & TCPCB_RETRANS:
            if sacked & TCPCB_SACKED_RETRANS:
                sk.retrans_out -= acked_pcount
            flag |= FLAG_RETRANS_DATA_ACKED
        elif not sacked & TCPCB_SACKED_ACKED:
            last_ackt = cb.tx_mstamp
            if not first_ackt:
                first_ackt = last_ackt
            if before(cb.seq, reord):
                reord = cb.seq
            if not after(cb.end_seq, sk.high_seq):
                flag |= FLAG_ORIG_SACK_ACKED
        if sacked & TCPCB_SACKED_ACKED:
            sk.sacked_out -= acked_pcount
        elif is_sack:
            sk.delivered += acked_pcount  # tcp_count_delivered
            if ece_ack:
                tcp_count_delivered_ce(sk, acked_pcount)
            if not _rec.tcp_skb_spurious_retrans(sk, skb):
                _rec.tcp_rack_advance(sk, sacked, cb.end_seq, cb.tx_mstamp)
        if sacked & TCPCB_LOST:
            sk.lost_out -= acked_pcount
        sk.packets_out -= acked_pcount
        pkts_acked += acked_pcount
        if sack.rate is not None:
            tcp_rate_skb_delivered(sk, skb, sack.rate)
        if cb.tcp_flags & TCPHDR_SYN:
            flag |= FLAG_SYN_ACKED
            sk.retrans_stamp = 0
        else:
            flag |= FLAG_DATA_ACKED
        if cb.txstamp_ack:
            tcp_ack_tstamp(sk, skb, prior_snd_una)
        if not fully_acked:
            break
        rtx.popleft()
        _unlink(sk, skb)
    if not rtx:
        tcp_chrono_stop(sk, TCP_CHRONO_BUSY)
    if between(sk.snd_up, prior_snd_una, snd_una):
        sk.snd_up = snd_una
    if rtx and tcp_cb(rtx[0]).sacked & TCPCB_SACKED_ACKED:
        flag |= FLAG_SACK_RENEGING
    now = sk.tcp_mstamp
    seq_rtt_us = ca_rtt_us = sack_rtt_us = -1
    if first_ackt and not flag & FLAG_RETRANS_DATA_ACKED:
        seq_rtt_us = now - first_ackt
        ca_rtt_us = now - last_ackt
    if sack.first_sackt:
        sack_rtt_us = now - sack.first_sackt
        ca_rtt_us = now - sack.last_sackt
    rtt_update = tcp_ack_update_rtt(sk, flag, seq_rtt_us, sack_rtt_us, ca_rtt_us, sack.rate)
    if flag & FLAG_ACKED:
        flag |= FLAG_SET_XMIT_TIMER
        if sk.icsk_mtup.probe_size:
            tcp_mtup_probe_acked(sk)
        if not is_sack:
            _rec.tcp_remove_reno_sacks(sk, pkts_acked, ece_ack)
            if flag & FLAG_RETRANS_DATA_ACKED:
                flag &= ~FLAG_ORIG_SACK_ACKED
        elif before(reord, prior_fack):
            _rec.tcp_check_sack_reordering(sk, reord, False)
        ops = sk.icsk_ca_ops
        if ops is not None:
            ops.pkts_acked(sk, AckSample(pkts_acked, ca_rtt_us, sk.tcp_packets_in_flight()))
    elif rtx and rtt_update and sack_rtt_us >= 0 and \
            sack_rtt_us > now - tcp_cb(rtx[0]).tx_mstamp:
        flag |= FLAG_SET_XMIT_TIMER
    return flag


def tcp_ack_is_dubious(sk: TcpSock, flag: int) -> bool:
    """tcp_ack_is_dubious(): a duplicate, a SACK/ECE alert, or not in CA_Open."""
    return (not flag & FLAG_NOT_DUP or bool(flag & FLAG_CA_ALERT) or
            sk.icsk_ca_state != TCP_CA_Open)


def tcp_may_raise_cwnd(sk: TcpSock, flag: int) -> bool:
    """tcp_may_raise_cwnd(): grow on in-order delivery (any delivery when reordering
    is high)."""
    if sk.reordering > sk.net.sysctl("tcp_reordering"):
        return bool(flag & FLAG_FORWARD_PROGRESS)
    return bool(flag & FLAG_DATA_ACKED)


def tcp_cong_control(sk: TcpSock, ack: int, acked_sacked: int, flag: int,
                     rs: RateSample) -> None:
    """tcp_cong_control(): ops->cong_control, else PRR in CWR/Recovery, else
    ops->cong_avoid when allowed."""
    ops = sk.icsk_ca_ops
    assert ops is not None
    if ops.HAS_CONG_CONTROL:
        ops.cong_control(sk, ack, flag, rs)
        return
    if sk.tcp_in_cwnd_reduction():
        _rec.tcp_cwnd_reduction(sk, acked_sacked, rs.losses, flag)
    elif tcp_may_raise_cwnd(sk, flag):
        tcp_cong_avoid(sk, ack, acked_sacked)
    tcp_update_pacing_rate(sk)


def tcp_in_ack_event(sk: TcpSock, flags: int) -> None:
    """tcp_in_ack_event()."""
    ops = sk.icsk_ca_ops
    if ops is not None:
        ops.in_ack_event(sk, flags)


def tcp_ack(sk: TcpSock, skb: SkBuff, flag: int) -> int:
    """tcp_ack() (RFC 9293 3.10.7.4 fifth check, RFC 5961 5.2): 1 when processed, 0 for
    an old ACK, -reason for one to drop (TCP_TOO_OLD_ACK, TCP_ACK_UNSENT_DATA)."""
    cb = tcp_cb(skb)
    prior_snd_una = sk.snd_una
    ack_seq = cb.seq
    ack = cb.ack_seq
    prior_packets = sk.packets_out
    tcpext = sk.host.mib.tcpext
    rs = RateSample()
    sack_state = SackState(sk.snd_nxt, rs)
    rexmit = [REXMIT_NONE]
    if before(ack, prior_snd_una):
        if before(ack, (prior_snd_una - sk.max_window) & _M32):
            if not flag & FLAG_NO_CHALLENGE_ACK:
                _in.tcp_send_challenge_ack(sk)
            return -int(R.TCP_TOO_OLD_ACK)
        # old ACK: tag SACKs, see if recovery moves
        if cb.sack_blocks:
            flag |= _rec.tcp_sacktag_write_queue(sk, skb, prior_snd_una, sack_state)
            prior_delivered = sk.delivered - sack_state.sack_delivered
            flag_ref = [flag]
            _rec.tcp_fastretrans_alert(sk, prior_snd_una, 0, flag_ref, rexmit)
            _tcp_newly_delivered(sk, prior_delivered, flag)
            _rec.tcp_xmit_recovery(sk, rexmit[0])
        return 0
    if after(ack, sk.snd_nxt):
        # RFC 5961 5.2 / RFC 9293 3.10.7.4: an ACK of data never sent is discarded and
        # answered with a challenge ACK (Linux 6.18 tcp_ack; tcp_rfc5961 selftests)
        if not flag & FLAG_NO_CHALLENGE_ACK:
            _in.tcp_send_challenge_ack(sk)
        return -int(R.TCP_ACK_UNSENT_DATA)
    prior_delivered = sk.delivered
    prior_lost = sk.lost
    is_sack_reneg = sk.is_sack_reneg
    if after(ack, prior_snd_una):
        flag |= FLAG_SND_UNA_ADVANCED
        sk.icsk_retransmits = 0
    prior_fack = sk.highest_sack_seq if sk.tcp_is_sack() and sk.sacked_out else prior_snd_una
    rs.prior_in_flight = sk.tcp_packets_in_flight()
    if flag & FLAG_UPDATE_TS_RECENT:
        _in.tcp_replace_ts_recent(sk, cb.seq)
    if (flag & (FLAG_SLOWPATH | FLAG_SND_UNA_ADVANCED)) == FLAG_SND_UNA_ADVANCED:
        sk.snd_wl1 = ack_seq
        tcp_snd_una_update(sk, ack)
        flag |= FLAG_WIN_UPDATE
        tcp_in_ack_event(sk, CA_ACK_WIN_UPDATE)
        tcpext.TCPHPAcks += 1
    else:
        ev = CA_ACK_SLOWPATH
        if ack_seq != cb.end_seq:
            flag |= FLAG_DATA
        else:
            tcpext.TCPPureAcks += 1
        flag |= tcp_ack_update_window(sk, skb, ack, ack_seq)
        if cb.sack_blocks:
            flag |= _rec.tcp_sacktag_write_queue(sk, skb, prior_snd_una, sack_state)
        if tcp_ecn_rcv_ecn_echo(sk, cb.tcp_flags):
            flag |= FLAG_ECE
            ev |= CA_ACK_ECE
            if sack_state.sack_delivered:
                tcp_count_delivered_ce(sk, sack_state.sack_delivered)
        if flag & FLAG_WIN_UPDATE:
            ev |= CA_ACK_WIN_UPDATE
        tcp_in_ack_event(sk, ev)
    sk.sk_err_soft = 0
    sk.icsk_probes_out = 0
    sk.rcv_tstamp = sk.jiffies()
    if not prior_packets:
        # no_queue
        if flag & FLAG_DSACKING_ACK:
            flag_ref = [flag]
            _rec.tcp_fastretrans_alert(sk, prior_snd_una, 0, flag_ref, rexmit)
            _tcp_newly_delivered(sk, prior_delivered, flag)
        tcp_ack_probe(sk)
        if sk.tlp_high_seq:
            _rec.tcp_process_tlp_ack(sk, ack, flag)
        return 1
    flag |= tcp_clean_rtx_queue(sk, prior_fack, prior_snd_una, sack_state,
                                bool(flag & FLAG_ECE))
    _rec.tcp_rack_update_reo_wnd(sk, rs)
    if sk.tlp_high_seq:
        _rec.tcp_process_tlp_ack(sk, ack, flag)
    flag_ref = [flag]
    if tcp_ack_is_dubious(sk, flag):
        num_dupack = 0
        if not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DSACKING_ACK):
            num_dupack = 1 if flag & FLAG_DATA else max(1, skb.gso_segs)
        _rec.tcp_fastretrans_alert(sk, prior_snd_una, num_dupack, flag_ref, rexmit)
    flag = flag_ref[0]
    if flag & FLAG_SET_XMIT_TIMER:
        _timer.tcp_set_xmit_timer(sk)
    delivered = _tcp_newly_delivered(sk, prior_delivered, flag)
    rs.is_ack_delayed = bool(flag & FLAG_ACK_MAYBE_DELAYED)
    tcp_rate_gen(sk, delivered, sk.lost - prior_lost, is_sack_reneg, rs)
    tcp_cong_control(sk, ack, delivered, flag, rs)
    _rec.tcp_xmit_recovery(sk, rexmit[0])
    return 1


def _tcp_newly_delivered(sk: TcpSock, prior_delivered: int, flag: int) -> int:
    """tcp_newly_delivered(): TCPDelivered, and TCPDeliveredCE for an ECE ACK."""
    delivered = sk.delivered - prior_delivered
    if delivered:
        tcpext = sk.host.mib.tcpext
        tcpext.TCPDelivered += delivered
        if flag & FLAG_ECE:
            tcpext.TCPDeliveredCE += delivered
    return delivered

