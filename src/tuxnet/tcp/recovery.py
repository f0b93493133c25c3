"""Loss recovery (net/ipv4/tcp_input.c: tcp_sacktag_write_queue, tcp_check_dsack,
tcp_fastretrans_alert, tcp_enter_recovery, tcp_enter_loss, tcp_process_loss,
tcp_cwnd_reduction (PRR, RFC 6937), tcp_try_undo_*, tcp_newreno_mark_lost,
tcp_add_reno_sack, tcp_xmit_recovery).

The sender's scoreboard follows RFC 6675: each sent segment carries SACKED_ACKED,
LOST and SACKED_RETRANS bits, and ``packets_out - (sacked_out + lost_out) +
retrans_out`` is the pipe. Losses are detected by RACK (RFC 8985, :mod:`.rack`) when
SACK is on (tcp_recovery = 1), else by NewReno's duplicate-ACK count (RFC 6582); cwnd
falls by PRR toward the congestion control's ssthresh. An RTO marks everything
outstanding lost and restarts from cwnd = 1 (RFC 5681 3.1, RFC 6298 5.5).

F-RTO (RFC 5682) is in :mod:`.frto`, ECN in :mod:`.ecn`. Deviation: SACK blocks
that cover part of a segment do not split it (the kernel fragments it).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

from tuxnet.tcp import output as _out
from tuxnet.tcp import rack as _rack
from tuxnet.tcp import retrans as _rtx
from tuxnet.tcp import timer as _timer
from tuxnet.tcp.cong import tcp_ca_event, tcp_set_ca_state
from tuxnet.tcp.defs import (
    CA_EVENT_COMPLETE_CWR,
    CA_EVENT_LOSS,
    FLAG_DATA_SACKED,
    FLAG_DSACK_TLP,
    FLAG_DSACKING_ACK,
    FLAG_ECE,
    FLAG_LOST_RETRANS,
    FLAG_ORIG_SACK_ACKED,
    FLAG_SACK_RENEGING,
    FLAG_SET_XMIT_TIMER,
    FLAG_SND_UNA_ADVANCED,
    ICSK_TIME_RETRANS,
    REXMIT_LOST,
    REXMIT_NEW,
    REXMIT_NONE,
    TCP_CA_CWR,
    TCP_INFINITE_SSTHRESH,
    TCP_NAGLE_OFF,
    TCP_RACK_LOSS_DETECTION,
    TCP_RACK_RECOVERY_THRESH,
    TCP_RTO_MAX,
    TCP_SYN_SENT,
    TCPCB_EVER_RETRANS,
    TCPCB_LOST,
    TCPCB_RETRANS,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    TCP_CA_Disorder,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
    usecs_to_jiffies,
)
from tuxnet.tcp.ecn import tcp_count_delivered_ce, tcp_ecn_queue_cwr, tcp_ecn_withdraw_cwr
from tuxnet.tcp.frto import tcp_frto_enter_loss, tcp_frto_process_loss
from tuxnet.tcp.mss import tcp_current_mss
from tuxnet.tcp.mtu_probe import tcp_mtup_probe_lost
from tuxnet.tcp.rate import tcp_rate_skb_delivered
from tuxnet.tcp.seq import after, before
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.ack import SackState
    from tuxnet.tcp.sock import TcpSkbCb, TcpSock

__all__ = ["tcp_cwnd_reduction", "tcp_end_cwnd_reduction", "tcp_enter_loss",
           "tcp_enter_recovery", "tcp_fastretrans_alert", "tcp_init_cwnd_reduction",
           "tcp_mark_skb_lost", "tcp_sacktag_write_queue", "tcp_xmit_recovery"]

_M32 = 0xFFFFFFFF

# re-exported for the callers that reach RACK through this module
tcp_rack_advance = _rack.tcp_rack_advance
tcp_rack_reo_timeout = _rack.tcp_rack_reo_timeout
tcp_rack_update_reo_wnd = _rack.tcp_rack_update_reo_wnd
tcp_process_tlp_ack = _rack.tcp_process_tlp_ack


def tcp_rto_from_srtt(sk: TcpSock) -> int:
    """__tcp_set_rto(): srtt + rttvar in jiffies."""
    return usecs_to_jiffies((sk.srtt_us >> 3) + sk.rttvar_us)


def tcp_is_rack(sk: TcpSock) -> bool:
    """tcp_is_rack()."""
    return bool(sk.net.sysctl("tcp_recovery") & TCP_RACK_LOSS_DETECTION)


def tcp_highest_sack_seq(sk: TcpSock) -> int:
    """tcp_highest_sack_seq(): the end of the highest SACKed segment (snd_una when
    nothing is SACKed)."""
    return sk.highest_sack_seq if sk.sacked_out else sk.snd_una


def tcp_tsopt_ecr_before(sk: TcpSock, when: int) -> bool:
    """tcp_tsopt_ecr_before()."""
    rx = sk.rx_opt
    return rx.saw_tstamp and bool(rx.rcv_tsecr) and before(rx.rcv_tsecr, when)


def tcp_skb_spurious_retrans(sk: TcpSock, skb: SkBuff) -> bool:
    """tcp_skb_spurious_retrans(): retransmitted, yet TSecr shows the original arrived."""
    cb: TcpSkbCb = skb.cb
    return bool(cb.sacked & TCPCB_RETRANS) and tcp_tsopt_ecr_before(
        sk, (cb.tx_mstamp // 1000) & _M32)


def tcp_mark_skb_lost(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_mark_skb_lost(): a lost retransmission counts TCPLostRetransmit."""
    cb: TcpSkbCb = skb.cb
    sacked = cb.sacked
    if sacked & TCPCB_SACKED_ACKED:
        return
    if sk.retransmit_skb_hint is not None:
        sk.retransmit_skb_hint = None
    if sacked & TCPCB_LOST:
        if sacked & TCPCB_SACKED_RETRANS:
            cb.sacked &= ~TCPCB_SACKED_RETRANS
            sk.retrans_out -= cb.pcount
            sk.host.mib.tcpext.TCPLostRetransmit += cb.pcount
            sk.lost += cb.pcount
    else:
        sk.lost_out += cb.pcount
        cb.sacked |= TCPCB_LOST
        sk.lost += cb.pcount


# -- SACK scoreboard (RFC 2018, RFC 6675) ------------------------------------------------

def _dsack_seen(sk: TcpSock, start: int, end: int, state: SackState) -> int:
    """tcp_dsack_seen(): duplicate segments a D-SACK reports (0: dubious)."""
    if not before(start, end):
        return 0
    seq_len = (end - start) & _M32
    if seq_len > sk.max_window:
        return 0
    dup_segs = 1
    if seq_len > sk.mss_cache:
        dup_segs = -(-seq_len // sk.mss_cache)
    elif sk.tlp_high_seq and sk.tlp_high_seq == end:
        state.flag |= FLAG_DSACK_TLP
    sk.dsack_dups += dup_segs
    if sk.dsack_dups > sk.total_retrans:
        return 0
    if sk.reord_seen and not state.flag & FLAG_DSACK_TLP:
        sk.rack.dsack_seen = True
    state.flag |= FLAG_DSACKING_ACK
    state.sack_delivered += dup_segs
    return dup_segs


def tcp_check_dsack(sk: TcpSock, ack_seq: int, blocks: list[tuple[int, int]],
                    prior_snd_una: int, state: SackState) -> bool:
    """tcp_check_dsack() (RFC 2883 4): the first block below the ACK, or inside the
    second, is a D-SACK (TCPDSACKRecv / TCPDSACKOfoRecv)."""
    tcpext = sk.host.mib.tcpext
    start0, end0 = blocks[0]
    if before(start0, ack_seq):
        tcpext.TCPDSACKRecv += 1
    elif len(blocks) > 1:
        start1, end1 = blocks[1]
        if after(end0, end1) or before(start0, start1):
            return False
        tcpext.TCPDSACKOfoRecv += 1
    else:
        return False
    dup_segs = _dsack_seen(sk, start0, end0, state)
    if not dup_segs:
        tcpext.TCPDSACKIgnoredDubious += 1
        return False
    tcpext.TCPDSACKRecvSegs += dup_segs
    if sk.undo_marker and sk.undo_retrans > 0 and not after(end0, prior_snd_una) and \
            after(end0, sk.undo_marker):
        sk.undo_retrans = max(0, sk.undo_retrans - dup_segs)
    return True


def _sackblock_valid(sk: TcpSock, is_dsack: bool, start: int, end: int) -> bool:
    """tcp_is_sackblock_valid()."""
    if after(end, sk.snd_nxt) or not before(start, end):
        return False
    if not before(start, sk.snd_nxt):
        return False
    if after(start, sk.snd_una):
        return True
    if not is_dsack or not sk.undo_marker:
        return False
    if after(end, sk.snd_una):
        return False
    if not before(start, sk.undo_marker):
        return True
    if not after(end, sk.undo_marker):
        return False
    return not before(start, (end - sk.max_window) & _M32)


def _sacktag_one(sk: TcpSock, state: SackState, skb: SkBuff, dup_sack: bool) -> None:
    """tcp_sacktag_one()."""
    cb = tcp_cb(skb)
    sacked = cb.sacked
    pcount = cb.pcount
    if dup_sack and sacked & TCPCB_RETRANS:
        if sk.undo_marker and sk.undo_retrans > 0 and after(cb.end_seq, sk.undo_marker):
            sk.undo_retrans = max(0, sk.undo_retrans - pcount)
        if sacked & TCPCB_SACKED_ACKED and before(cb.seq, state.reord):
            state.reord = cb.seq
    if not after(cb.end_seq, sk.snd_una):
        return
    if not sacked & TCPCB_SACKED_ACKED:
        _rack.tcp_rack_advance(sk, sacked, cb.end_seq, cb.tx_mstamp)
        if sacked & TCPCB_SACKED_RETRANS:
            if sacked & TCPCB_LOST:
                sacked &= ~(TCPCB_LOST | TCPCB_SACKED_RETRANS)
                sk.lost_out -= pcount
                sk.retrans_out -= pcount
        else:
            if not sacked & TCPCB_RETRANS:
                if before(cb.seq, tcp_highest_sack_seq(sk)) and before(cb.seq, state.reord):
                    state.reord = cb.seq
                if not after(cb.end_seq, sk.high_seq):
                    state.flag |= FLAG_ORIG_SACK_ACKED
                if not state.first_sackt:
                    state.first_sackt = cb.tx_mstamp
                state.last_sackt = cb.tx_mstamp
            if sacked & TCPCB_LOST:
                sacked &= ~TCPCB_LOST
                sk.lost_out -= pcount
        sacked |= TCPCB_SACKED_ACKED
        state.flag |= FLAG_DATA_SACKED
        if not sk.sacked_out:
            sk.highest_sack_seq = sk.snd_una
        sk.sacked_out += pcount
        state.sack_delivered += pcount
        if not before(cb.seq, sk.highest_sack_seq):
            sk.highest_sack_seq = cb.end_seq
    if dup_sack and sacked & TCPCB_SACKED_RETRANS:
        sacked &= ~TCPCB_SACKED_RETRANS
        sk.retrans_out -= pcount
    cb.sacked = sacked


def tcp_sacktag_write_queue(sk: TcpSock, ack_skb: SkBuff, prior_snd_una: int,
                            state: SackState) -> int:
    """tcp_sacktag_write_queue(): tag the segments the SACK blocks cover."""
    acb = tcp_cb(ack_skb)
    blocks = acb.sack_blocks or []
    state.flag = 0
    state.reord = sk.snd_nxt
    if not blocks:
        return 0
    tcpext = sk.host.mib.tcpext
    found_dup = tcp_check_dsack(sk, acb.ack_seq, blocks, prior_snd_una, state)
    if found_dup:
        state.flag |= FLAG_DSACKING_ACK
    if before(acb.ack_seq, (prior_snd_una - sk.max_window) & _M32):
        return 0
    if not sk.packets_out:
        sk.delivered += state.sack_delivered
        return state.flag
    used: list[tuple[int, int, bool]] = []
    for i, (start, end) in enumerate(blocks):
        dup_sack = i == 0 and found_dup
        if not _sackblock_valid(sk, dup_sack, start, end):
            if dup_sack:
                if not sk.undo_marker:
                    tcpext.TCPDSACKIgnoredNoUndo += 1
                else:
                    tcpext.TCPDSACKIgnoredOld += 1
            else:
                if acb.ack_seq != sk.snd_una and not after(end, sk.snd_una):
                    continue
                tcpext.TCPSACKDiscard += 1
            continue
        if not after(end, prior_snd_una):
            continue
        used.append((start, end, dup_sack))
    rtx = sk.tcp_rtx_queue
    # sequence numbers relative to the queue's head (signed: a D-SACK may lie below it)
    base = tcp_cb(rtx[0]).seq if rtx else sk.snd_una

    def rel(x: int) -> int:
        return ((x - base + 0x80000000) & _M32) - 0x80000000

    def end_rel(x: SkBuff) -> int:
        return rel(tcp_cb(x).end_seq)

    used.sort(key=lambda b: rel(b[0]))
    # recv_sack_cache: ranges the previous ACK's blocks already tagged are skipped (as
    # tcp_sacktag_write_queue does), unless nothing is SACKed or the SACKs reneged
    cache = sk.recv_sack_cache if sk.sacked_out and not sk.is_sack_reneg else []
    new_cache = []
    rate = state.rate
    for start, end, dup_sack in used:
        rs, re_ = rel(start), rel(end)
        pieces = [(rs, re_)]
        if not dup_sack:
            new_cache.append((start, end))
            for cs, ce in cache:
                crs, cre = rel(cs), rel(ce)
                pieces = [q for ps, pe in pieces for q in
                          ((ps, min(pe, crs)), (max(ps, cre), pe)) if q[0] < q[1]]
        for ps, pe in pieces:
            i = bisect_right(rtx, ps, key=end_rel)  # the first skb ending after ps
            n = len(rtx)
            while i < n:
                skb = rtx[i]
                i += 1
                cb = tcp_cb(skb)
                srel = rel(cb.seq)
                if srel >= pe:
                    break
                if srel < rs or rel(cb.end_seq) > re_:
                    # partly covered: a TSO skb is split at an MSS boundary
                    # (tcp_match_skb_to_sack); the next turn looks at the pieces
                    if cb.pcount > 1 and tcp_match_skb_to_sack(sk, skb, start, end):
                        i -= 1
                        n = len(rtx)
                    continue
                if cb.sacked & TCPCB_SACKED_ACKED and not dup_sack:
                    continue  # tagged before: nothing to do
                _sacktag_one(sk, state, skb, dup_sack)
                if rate is not None:
                    tcp_rate_skb_delivered(sk, skb, rate)
    sk.recv_sack_cache = new_cache
    if sk.icsk_ca_state != TCP_CA_Loss or sk.undo_marker:
        tcp_check_sack_reordering(sk, state.reord, False)
    sk.delivered += state.sack_delivered
    return state.flag


def tcp_match_skb_to_sack(sk: TcpSock, skb: SkBuff, start: int, end: int) -> bool:
    """tcp_match_skb_to_sack(): split a TSO skb that a SACK block covers in part, at a
    whole-MSS boundary, so the covered piece can be tagged. True if it was split."""
    from tuxnet.tcp.output import tcp_fragment

    cb = tcp_cb(skb)
    mss = skb.gso_size
    if not mss:
        return False
    in_sack = not after(start, cb.seq)
    if not in_sack:
        pkt_len = (start - cb.seq) & _M32
        pkt_len = max(pkt_len, mss)
    else:
        pkt_len = (end - cb.seq) & _M32
        if pkt_len < mss:
            return False
    if pkt_len > mss:
        new_len = (pkt_len // mss) * mss
        if not in_sack and new_len < pkt_len:
            new_len += mss
        pkt_len = new_len
    if pkt_len >= skb.len:
        return False
    tcp_fragment(sk, sk.tcp_rtx_queue, skb, pkt_len, mss)
    return True


def tcp_check_sack_reordering(sk: TcpSock, low_seq: int, ts: bool) -> None:
    """tcp_check_sack_reordering(): a hole filled below the highest SACK is reordering
    (TCPSACKReorder / TCPTSReorder); grow tp->reordering to the distance seen."""
    fack = tcp_highest_sack_seq(sk)
    if not before(low_seq, fack):
        return
    mss = sk.mss_cache
    metric = (fack - low_seq) & _M32
    if mss and metric > sk.reordering * mss:
        sk.reordering = min(-(-metric // mss), sk.net.sysctl("tcp_max_reordering"))
    sk.reord_seen += 1
    if ts:
        sk.host.mib.tcpext.TCPTSReorder += 1
    else:
        sk.host.mib.tcpext.TCPSACKReorder += 1


# -- NewReno duplicate-ACK counting (RFC 6582) ------------------------------------------

def _tcp_limit_reno_sacked(sk: TcpSock) -> bool:
    holes = min(max(sk.lost_out, 1), sk.packets_out)
    if sk.sacked_out + holes > sk.packets_out:
        sk.sacked_out = sk.packets_out - holes
        return True
    return False


def tcp_check_reno_reordering(sk: TcpSock, addend: int) -> None:
    """tcp_check_reno_reordering(): more dupacks than holes means reordering."""
    if not _tcp_limit_reno_sacked(sk):
        return
    sk.reordering = min(sk.packets_out + addend, sk.net.sysctl("tcp_max_reordering"))
    sk.reord_seen += 1
    sk.host.mib.tcpext.TCPRenoReorder += 1


def tcp_add_reno_sack(sk: TcpSock, num_dupack: int, ece_ack: bool) -> None:
    """tcp_add_reno_sack(): each duplicate ACK stands for one segment received."""
    if num_dupack:
        prior_sacked = sk.sacked_out
        sk.sacked_out += num_dupack
        tcp_check_reno_reordering(sk, 0)
        delivered = sk.sacked_out - prior_sacked
        if delivered > 0:
            sk.delivered += delivered
            if ece_ack:
                tcp_count_delivered_ce(sk, delivered)


def tcp_remove_reno_sacks(sk: TcpSock, acked: int, ece_ack: bool) -> None:
    """tcp_remove_reno_sacks(): a cumulative ACK eats the dupacks it covers."""
    if acked > 0:
        delivered = max(acked - sk.sacked_out, 1)
        sk.delivered += delivered
        if ece_ack:
            tcp_count_delivered_ce(sk, delivered)
        if acked - 1 >= sk.sacked_out:
            sk.sacked_out = 0
        else:
            sk.sacked_out -= acked - 1
    tcp_check_reno_reordering(sk, acked)


def tcp_reset_reno_sack(sk: TcpSock) -> None:
    """tcp_reset_reno_sack()."""
    sk.sacked_out = 0


def tcp_newreno_mark_lost(sk: TcpSock, snd_una_advanced: bool) -> None:
    """tcp_newreno_mark_lost(): with DupThresh dupacks (or a partial ACK in recovery)
    the first unacknowledged segment is lost (RFC 6582 3.2)."""
    state = sk.icsk_ca_state
    if (state < TCP_CA_Recovery and sk.sacked_out >= sk.reordering) or \
            (state == TCP_CA_Recovery and snd_una_advanced):
        skb = sk.tcp_rtx_queue[0]
        if tcp_cb(skb).sacked & TCPCB_LOST:
            return
        mss = sk.mss_cache
        if skb.len > mss:
            _out.tcp_fragment(sk, sk.tcp_rtx_queue, skb, mss, mss)
        tcp_mark_skb_lost(sk, skb)


def tcp_identify_packet_loss(sk: TcpSock, flag_ref: list[int]) -> None:
    """tcp_identify_packet_loss(): NewReno without SACK, else RACK."""
    if not sk.tcp_rtx_queue:
        return
    if sk.tcp_is_reno():
        tcp_newreno_mark_lost(sk, bool(flag_ref[0] & FLAG_SND_UNA_ADVANCED))
    elif tcp_is_rack(sk):
        prior_retrans = sk.retrans_out
        if _rack.tcp_rack_mark_lost(sk):
            flag_ref[0] &= ~FLAG_SET_XMIT_TIMER
        if prior_retrans > sk.retrans_out:
            flag_ref[0] |= FLAG_LOST_RETRANS


def tcp_time_to_recover(sk: TcpSock, flag: int) -> bool:
    """tcp_time_to_recover(): a loss is proven (or, without RACK, DupThresh dupacks)."""
    if sk.lost_out:
        return True
    return not tcp_is_rack(sk) and sk.sacked_out + 1 > sk.reordering


# -- cwnd reduction (PRR, RFC 6937) ---------------------------------------------------

def tcp_init_cwnd_reduction(sk: TcpSock) -> None:
    """tcp_init_cwnd_reduction(): ssthresh from the congestion control, PRR counters."""
    sk.high_seq = sk.snd_nxt
    sk.tlp_high_seq = 0
    sk.snd_cwnd_cnt = 0
    sk.prior_cwnd = sk.snd_cwnd
    sk.prr_delivered = 0
    sk.prr_out = 0
    ops = sk.icsk_ca_ops
    assert ops is not None
    sk.snd_ssthresh = ops.ssthresh(sk)
    tcp_ecn_queue_cwr(sk)


def tcp_cwnd_reduction(sk: TcpSock, newly_acked_sacked: int, newly_lost: int,
                       flag: int) -> None:
    """tcp_cwnd_reduction() (RFC 6937 3): proportional rate reduction toward ssthresh,
    slow-start reduction bound once in-flight falls below it; at least the fast
    retransmit goes out."""
    if newly_acked_sacked <= 0 or not sk.prior_cwnd:
        return
    delta = sk.snd_ssthresh - sk.tcp_packets_in_flight()
    sk.prr_delivered += newly_acked_sacked
    if delta < 0:
        dividend = sk.snd_ssthresh * sk.prr_delivered + sk.prior_cwnd - 1
        sndcnt = dividend // sk.prior_cwnd - sk.prr_out
    else:
        sndcnt = max(sk.prr_delivered - sk.prr_out, newly_acked_sacked)
        if flag & FLAG_SND_UNA_ADVANCED and not newly_lost:
            sndcnt += 1
        sndcnt = min(delta, sndcnt)
    sndcnt = max(sndcnt, 0 if sk.prr_out else 1)
    sk.snd_cwnd = sk.tcp_packets_in_flight() + sndcnt


def tcp_end_cwnd_reduction(sk: TcpSock) -> None:
    """tcp_end_cwnd_reduction(): cwnd = ssthresh on leaving CWR/Recovery."""
    ops = sk.icsk_ca_ops
    if ops is not None and ops.HAS_CONG_CONTROL:
        return
    if sk.snd_ssthresh < TCP_INFINITE_SSTHRESH and (
            sk.icsk_ca_state == TCP_CA_CWR or sk.undo_marker):
        sk.snd_cwnd = sk.snd_ssthresh
        sk.snd_cwnd_stamp = sk.jiffies()
    tcp_ca_event(sk, CA_EVENT_COMPLETE_CWR)


def tcp_enter_cwr(sk: TcpSock) -> None:
    """tcp_enter_cwr(): reduce cwnd without retransmitting (local congestion, ECE)."""
    sk.prior_ssthresh = 0
    if sk.icsk_ca_state < TCP_CA_CWR:
        sk.undo_marker = 0
        tcp_init_cwnd_reduction(sk)
        tcp_set_ca_state(sk, TCP_CA_CWR)


def tcp_init_undo(sk: TcpSock) -> None:
    """tcp_init_undo()."""
    sk.undo_marker = sk.snd_una
    sk.undo_retrans = sk.retrans_out or -1


def tcp_any_retrans_done(sk: TcpSock) -> bool:
    """tcp_any_retrans_done()."""
    if sk.retrans_out:
        return True
    rtx = sk.tcp_rtx_queue
    return bool(rtx and tcp_cb(rtx[0]).sacked & TCPCB_EVER_RETRANS)


def tcp_enter_recovery(sk: TcpSock, ece_ack: bool) -> None:
    """tcp_enter_recovery(): TCPSackRecovery / TCPRenoRecovery."""
    tcpext = sk.host.mib.tcpext
    if sk.tcp_is_reno():
        tcpext.TCPRenoRecovery += 1
    else:
        tcpext.TCPSackRecovery += 1
    sk.prior_ssthresh = 0
    tcp_init_undo(sk)
    if not sk.tcp_in_cwnd_reduction():
        if not ece_ack:
            sk.prior_ssthresh = sk.tcp_current_ssthresh()
        tcp_init_cwnd_reduction(sk)
    tcp_set_ca_state(sk, TCP_CA_Recovery)


def tcp_timeout_mark_lost(sk: TcpSock) -> None:
    """tcp_timeout_mark_lost(): after an RTO everything unSACKed is lost (segments sent
    within the last RACK RTT excepted); a SACKed head means the peer reneged."""
    rtx = sk.tcp_rtx_queue
    if not rtx:
        return
    head = rtx[0]
    is_reneg = bool(tcp_cb(head).sacked & TCPCB_SACKED_ACKED)
    if is_reneg:
        sk.host.mib.tcpext.TCPSACKReneging += 1
        sk.sacked_out = 0
        sk.is_sack_reneg = True
    elif sk.tcp_is_reno():
        tcp_reset_reno_sack(sk)
    for skb in rtx:
        cb = tcp_cb(skb)
        if is_reneg:
            cb.sacked &= ~TCPCB_SACKED_ACKED
        elif skb is not head and _rack.tcp_rack_skb_timeout(sk, skb, 0) > 0:
            continue
        tcp_mark_skb_lost(sk, skb)
    sk.retransmit_skb_hint = None


def tcp_enter_loss(sk: TcpSock) -> None:
    """tcp_enter_loss() (RFC 5681 3.1, RFC 6298 5.5): ssthresh from the congestion
    control (once per window), cwnd = in-flight + 1, CA_Loss."""
    tcp_timeout_mark_lost(sk)
    state = sk.icsk_ca_state
    if state <= TCP_CA_Disorder or not after(sk.high_seq, sk.snd_una) or \
            (state == TCP_CA_Loss and not sk.icsk_retransmits):
        sk.prior_ssthresh = sk.tcp_current_ssthresh()
        sk.prior_cwnd = sk.snd_cwnd
        ops = sk.icsk_ca_ops
        assert ops is not None
        sk.snd_ssthresh = ops.ssthresh(sk)
        tcp_ca_event(sk, CA_EVENT_LOSS)
        tcp_init_undo(sk)
    sk.snd_cwnd = sk.tcp_packets_in_flight() + 1
    sk.snd_cwnd_cnt = 0
    sk.snd_cwnd_stamp = sk.jiffies()
    reordering = sk.net.sysctl("tcp_reordering")
    if state <= TCP_CA_Disorder and sk.sacked_out >= reordering:
        sk.reordering = min(sk.reordering, reordering)
    tcp_set_ca_state(sk, TCP_CA_Loss)
    sk.high_seq = sk.snd_nxt
    sk.tlp_high_seq = 0
    tcp_ecn_queue_cwr(sk)
    tcp_frto_enter_loss(sk, state)  # RFC 5682 (tcp/frto.py)


# -- undo ------------------------------------------------------------------------------

def tcp_packet_delayed(sk: TcpSock) -> bool:
    """tcp_packet_delayed(): TSecr shows the original transmission arrived."""
    return bool(sk.retrans_stamp) and tcp_tsopt_ecr_before(sk, sk.retrans_stamp)


def tcp_may_undo(sk: TcpSock) -> bool:
    """tcp_may_undo(): nothing retransmitted was needed (D-SACKs or timestamps)."""
    return bool(sk.undo_marker) and (not sk.undo_retrans or tcp_packet_delayed(sk))


def tcp_undo_cwnd_reduction(sk: TcpSock, unmark_loss: bool) -> None:
    """tcp_undo_cwnd_reduction()."""
    if unmark_loss:
        for skb in sk.tcp_rtx_queue:
            tcp_cb(skb).sacked &= ~TCPCB_LOST
        sk.lost_out = 0
        sk.retransmit_skb_hint = None
    if sk.prior_ssthresh:
        ops = sk.icsk_ca_ops
        assert ops is not None
        sk.snd_cwnd = ops.undo_cwnd(sk)
        if sk.prior_ssthresh > sk.snd_ssthresh:
            sk.snd_ssthresh = sk.prior_ssthresh
            tcp_ecn_withdraw_cwr(sk)
    sk.snd_cwnd_stamp = sk.jiffies()
    sk.undo_marker = 0
    sk.rack.advanced = True


def _non_sack_preventing_reopen(sk: TcpSock) -> bool:
    """tcp_is_non_sack_preventing_reopen(): NewReno holds Recovery until data above
    high_seq is acknowledged (RFC 6582 4.2)."""
    if sk.snd_una == sk.high_seq and sk.tcp_is_reno():
        if not tcp_any_retrans_done(sk):
            sk.retrans_stamp = 0
        return True
    return False


def tcp_try_undo_recovery(sk: TcpSock) -> bool:
    """tcp_try_undo_recovery(): TCPFullUndo / TCPLossUndo, then back to Open."""
    if tcp_may_undo(sk):
        tcp_undo_cwnd_reduction(sk, False)
        if sk.icsk_ca_state == TCP_CA_Loss:
            sk.host.mib.tcpext.TCPLossUndo += 1
        else:
            sk.host.mib.tcpext.TCPFullUndo += 1
    elif sk.rack.reo_wnd_persist:
        sk.rack.reo_wnd_persist -= 1
    if _non_sack_preventing_reopen(sk):
        return True
    tcp_set_ca_state(sk, TCP_CA_Open)
    sk.is_sack_reneg = False
    return False


def tcp_try_undo_dsack(sk: TcpSock) -> bool:
    """tcp_try_undo_dsack(): every retransmission was D-SACKed (TCPDSACKUndo)."""
    if sk.undo_marker and not sk.undo_retrans:
        sk.rack.reo_wnd_persist = min(TCP_RACK_RECOVERY_THRESH, sk.rack.reo_wnd_persist + 1)
        tcp_undo_cwnd_reduction(sk, False)
        sk.host.mib.tcpext.TCPDSACKUndo += 1
        return True
    return False


def tcp_try_undo_loss(sk: TcpSock, frto_undo: bool) -> bool:
    """tcp_try_undo_loss(): a spurious RTO (TCPLossUndo)."""
    if frto_undo or tcp_may_undo(sk):
        tcp_undo_cwnd_reduction(sk, True)
        sk.host.mib.tcpext.TCPLossUndo += 1
        if frto_undo:
            sk.host.mib.tcpext.TCPSpuriousRTOs += 1
        sk.icsk_retransmits = 0
        if _non_sack_preventing_reopen(sk):
            return True
        if frto_undo or sk.tcp_is_sack():
            tcp_set_ca_state(sk, TCP_CA_Open)
            sk.is_sack_reneg = False
        return True
    return False


def tcp_try_undo_partial(sk: TcpSock, prior_snd_una: int, do_lost: list[bool]) -> bool:
    """tcp_try_undo_partial(): a partial ACK in recovery."""
    if sk.undo_marker and tcp_packet_delayed(sk):
        tcp_check_sack_reordering(sk, prior_snd_una, True)
        if sk.retrans_out:
            return True
        if not tcp_any_retrans_done(sk):
            sk.retrans_stamp = 0
        tcp_undo_cwnd_reduction(sk, True)
        sk.host.mib.tcpext.TCPPartialUndo += 1
        tcp_try_keep_open(sk)
    else:
        do_lost[0] = after(tcp_highest_sack_seq(sk),
                           (sk.snd_una + sk.reordering * sk.mss_cache) & _M32)
    return False


def tcp_try_keep_open(sk: TcpSock) -> None:
    """tcp_try_keep_open(): Disorder while anything is SACKed/lost/retransmitted."""
    state = TCP_CA_Open
    if sk.tcp_left_out() or tcp_any_retrans_done(sk):
        state = TCP_CA_Disorder
    if sk.icsk_ca_state != state:
        tcp_set_ca_state(sk, state)
        sk.high_seq = sk.snd_nxt


def tcp_try_to_open(sk: TcpSock, flag: int) -> None:
    """tcp_try_to_open()."""
    if not tcp_any_retrans_done(sk):
        sk.retrans_stamp = 0
    if flag & FLAG_ECE:
        tcp_enter_cwr(sk)
    if sk.icsk_ca_state != TCP_CA_CWR:
        tcp_try_keep_open(sk)


# -- the state machine --------------------------------------------------------------

def tcp_process_loss(sk: TcpSock, flag: int, num_dupack: int, rexmit: list[int]) -> None:
    """tcp_process_loss(): in CA_Loss, undo a spurious RTO or keep retransmitting."""
    recovered = not before(sk.snd_una, sk.high_seq)
    if flag & FLAG_SND_UNA_ADVANCED and tcp_try_undo_loss(sk, False):
        return
    if sk.frto and tcp_frto_process_loss(sk, flag, num_dupack, recovered, rexmit):
        return
    if recovered:
        tcp_try_undo_recovery(sk)
        return
    if sk.tcp_is_reno():
        # a Reno dupack means new data (F-RTO step 2.b) was delivered: lower in-flight
        # to clock out (re)transmissions
        if after(sk.snd_nxt, sk.high_seq) and num_dupack:
            tcp_add_reno_sack(sk, num_dupack, bool(flag & FLAG_ECE))
        elif flag & FLAG_SND_UNA_ADVANCED:
            tcp_reset_reno_sack(sk)
    rexmit[0] = REXMIT_LOST


def _check_sack_reneging(sk: TcpSock, flag_ref: list[int]) -> bool:
    """tcp_check_sack_reneging(): the ACK did not cover a SACKed head: wait a little
    before treating it as reneging (the RTO timer, max(srtt/2, 10 ms))."""
    flag = flag_ref[0]
    if flag & FLAG_SACK_RENEGING and flag & FLAG_SND_UNA_ADVANCED:
        delay = max(usecs_to_jiffies(sk.srtt_us >> 4), 10)
        _timer.inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, delay, TCP_RTO_MAX)
        flag_ref[0] &= ~FLAG_SET_XMIT_TIMER
        return True
    return False


def tcp_fastretrans_alert(sk: TcpSock, prior_snd_una: int, num_dupack: int,
                          flag_ref: list[int], rexmit: list[int]) -> None:
    """tcp_fastretrans_alert(): the Open/Disorder/CWR/Recovery/Loss state machine run on
    dubious ACKs (duplicates, SACKs, ECE, or any ACK outside Open)."""
    flag = flag_ref[0]
    ece_ack = bool(flag & FLAG_ECE)
    do_lost = [bool(num_dupack) or (bool(flag & FLAG_DATA_SACKED) and after(
        tcp_highest_sack_seq(sk), (sk.snd_una + sk.reordering * sk.mss_cache) & _M32))]
    if not sk.packets_out and sk.sacked_out:
        sk.sacked_out = 0
    if ece_ack:
        sk.prior_ssthresh = 0
    if _check_sack_reneging(sk, flag_ref):
        return
    state = sk.icsk_ca_state
    if state == TCP_CA_Open:
        sk.retrans_stamp = 0
    elif not before(sk.snd_una, sk.high_seq):
        if state == TCP_CA_CWR:
            if sk.snd_una != sk.high_seq:
                tcp_end_cwnd_reduction(sk)
                tcp_set_ca_state(sk, TCP_CA_Open)
        elif state == TCP_CA_Recovery:
            if sk.tcp_is_reno():
                tcp_reset_reno_sack(sk)
            if tcp_try_undo_recovery(sk):
                return
            tcp_end_cwnd_reduction(sk)
    state = sk.icsk_ca_state
    if state == TCP_CA_Recovery:
        if not flag & FLAG_SND_UNA_ADVANCED:
            if sk.tcp_is_reno():
                tcp_add_reno_sack(sk, num_dupack, ece_ack)
        elif tcp_try_undo_partial(sk, prior_snd_una, do_lost):
            return
        if tcp_try_undo_dsack(sk):
            tcp_try_to_open(sk, flag)
        tcp_identify_packet_loss(sk, flag_ref)
        if sk.icsk_ca_state != TCP_CA_Recovery:
            if not tcp_time_to_recover(sk, flag):
                return
            tcp_enter_recovery(sk, ece_ack)
    else:
        fall = True
        if state == TCP_CA_Loss:
            tcp_process_loss(sk, flag, num_dupack, rexmit)
            tcp_identify_packet_loss(sk, flag_ref)
            fall = sk.icsk_ca_state == TCP_CA_Open or bool(flag_ref[0] & FLAG_LOST_RETRANS)
            if not fall:
                return
        if sk.tcp_is_reno():
            if flag & FLAG_SND_UNA_ADVANCED:
                tcp_reset_reno_sack(sk)
            tcp_add_reno_sack(sk, num_dupack, ece_ack)
        if sk.icsk_ca_state <= TCP_CA_Disorder:
            tcp_try_undo_dsack(sk)
        tcp_identify_packet_loss(sk, flag_ref)
        if not tcp_time_to_recover(sk, flag):
            tcp_try_to_open(sk, flag)
            return
        if tcp_mtup_probe_lost(sk):  # MTU probe failure: no cwnd cut
            return
        tcp_enter_recovery(sk, ece_ack)
    if not tcp_is_rack(sk) and do_lost[0]:
        _update_scoreboard(sk)
    rexmit[0] = REXMIT_LOST


def _update_scoreboard(sk: TcpSock) -> None:
    """tcp_update_scoreboard() without RACK (RFC 6675 IsLost): segments with at least
    DupThresh SACKed segments above them are lost."""
    above = 0
    for skb in reversed(sk.tcp_rtx_queue):
        cb = tcp_cb(skb)
        if cb.sacked & TCPCB_SACKED_ACKED:
            above += cb.pcount
        elif above >= sk.reordering:
            tcp_mark_skb_lost(sk, skb)
    if sk.tcp_is_reno() and sk.tcp_rtx_queue and not sk.lost_out:
        tcp_mark_skb_lost(sk, sk.tcp_rtx_queue[0])


def tcp_xmit_recovery(sk: TcpSock, rexmit: int) -> None:
    """tcp_xmit_recovery(): send what recovery decided."""
    if rexmit == REXMIT_NONE or sk.sk_state == TCP_SYN_SENT:
        return
    if rexmit == REXMIT_NEW:
        _out.tcp_push_pending_frames(sk, tcp_current_mss(sk), TCP_NAGLE_OFF)
        if after(sk.snd_nxt, sk.high_seq):
            return
        sk.frto = False
    _rtx.tcp_xmit_retransmit_queue(sk)



