"""RACK loss detection and TLP bookkeeping (net/ipv4/tcp_recovery.c: tcp_rack_advance,
tcp_rack_detect_loss, tcp_rack_mark_lost, tcp_rack_reo_timeout,
tcp_rack_update_reo_wnd, tcp_rack_skb_timeout; net/ipv4/tcp_input.c:
tcp_process_tlp_ack) -- RFC 8985.

A segment is lost when a segment sent after it has been (S)ACKed and it has not been
within RACK.rtt + reo_wnd; reo_wnd is 0 while no reordering was seen and either we are
in recovery or three segments are SACKed (the DupThresh analogue), else
min_rtt/4 x reo_wnd_steps, at most SRTT. Segments not yet due arm the reordering timer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp import recovery as _rec
from tuxnet.tcp import retrans as _rtx
from tuxnet.tcp import timer as _timer
from tuxnet.tcp.cong import RateSample, tcp_set_ca_state
from tuxnet.tcp.defs import (
    FLAG_DATA_SACKED,
    FLAG_DSACK_TLP,
    FLAG_NOT_DUP,
    FLAG_SND_UNA_ADVANCED,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    TCP_CA_CWR,
    TCP_RACK_NO_DUPTHRESH,
    TCP_RACK_RECOVERY_THRESH,
    TCP_RACK_STATIC_REO_WND,
    TCP_TIMEOUT_MIN,
    TCPCB_LOST,
    TCPCB_RETRANS,
    TCPCB_SACKED_RETRANS,
    TCP_CA_Recovery,
    usecs_to_jiffies,
)
from tuxnet.tcp.seq import after, before
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_process_tlp_ack", "tcp_rack_advance", "tcp_rack_mark_lost",
           "tcp_rack_reo_timeout", "tcp_rack_skb_timeout", "tcp_rack_update_reo_wnd"]


def _sent_after(t1: int, t2: int, seq1: int, seq2: int) -> bool:
    """tcp_skb_sent_after()."""
    return t1 > t2 or (t1 == t2 and after(seq1, seq2))


def tcp_rack_advance(sk: TcpSock, sacked: int, end_seq: int, xmit_time: int) -> None:
    """tcp_rack_advance() (RFC 8985 6.2 step 2): remember the most recently sent
    segment delivered; skip an ambiguous retransmission faster than min_rtt."""
    rtt_us = sk.tcp_mstamp - xmit_time
    if rtt_us < sk.tcp_min_rtt() and sacked & TCPCB_RETRANS:
        return
    rack = sk.rack
    rack.advanced = True
    rack.rtt_us = rtt_us
    if _sent_after(xmit_time, rack.mstamp, end_seq, rack.end_seq):
        rack.mstamp = xmit_time
        rack.end_seq = end_seq


def tcp_rack_reo_wnd(sk: TcpSock) -> int:
    """tcp_rack_reo_wnd() (RFC 8985 6.2 step 4)."""
    if not sk.reord_seen:
        if sk.icsk_ca_state >= TCP_CA_Recovery:
            return 0
        if sk.sacked_out >= sk.reordering and \
                not sk.net.sysctl("tcp_recovery") & TCP_RACK_NO_DUPTHRESH:
            return 0
    return min((sk.tcp_min_rtt() >> 2) * sk.rack.reo_wnd_steps, sk.srtt_us >> 3)


def tcp_rack_skb_timeout(sk: TcpSock, skb: SkBuff, reo_wnd: int) -> int:
    """tcp_rack_skb_timeout(): µs until ``skb`` counts as lost (<= 0: lost now)."""
    return sk.rack.rtt_us + reo_wnd - (sk.tcp_mstamp - tcp_cb(skb).tx_mstamp)


def tcp_rack_detect_loss(sk: TcpSock) -> int:
    """tcp_rack_detect_loss() (RFC 8985 6.2 step 5): mark lost; returns the longest
    wait (µs) of those not yet due."""
    reo_timeout = 0
    reo_wnd = tcp_rack_reo_wnd(sk)
    rack = sk.rack
    for skb in list(sk.tsorted_sent_queue):
        cb = tcp_cb(skb)
        if cb.sacked & TCPCB_LOST and not cb.sacked & TCPCB_SACKED_RETRANS:
            continue
        if not _sent_after(rack.mstamp, cb.tx_mstamp, rack.end_seq, cb.end_seq):
            break
        remaining = tcp_rack_skb_timeout(sk, skb, reo_wnd)
        if remaining <= 0:
            _rec.tcp_mark_skb_lost(sk, skb)
            sk.tsorted_sent_queue.pop(skb, None)
        else:
            reo_timeout = max(reo_timeout, remaining)
    return reo_timeout


def tcp_rack_mark_lost(sk: TcpSock) -> bool:
    """tcp_rack_mark_lost(): run detection after RACK advanced; arm the reordering
    timer for what is not due yet."""
    if not sk.rack.advanced:
        return False
    sk.rack.advanced = False
    timeout = tcp_rack_detect_loss(sk)
    if timeout:
        when = usecs_to_jiffies(timeout) + TCP_TIMEOUT_MIN
        _timer.inet_csk_reset_xmit_timer(sk, ICSK_TIME_REO_TIMEOUT, when, sk.icsk_rto)
    return bool(timeout)


def tcp_rack_reo_timeout(sk: TcpSock) -> None:
    """tcp_rack_reo_timeout() (RFC 8985 6.3): the reordering window expired."""
    lost = sk.lost
    prior_inflight = sk.tcp_packets_in_flight()
    tcp_rack_detect_loss(sk)
    if prior_inflight != sk.tcp_packets_in_flight():
        if sk.icsk_ca_state != TCP_CA_Recovery:
            _rec.tcp_enter_recovery(sk, False)
            ops = sk.icsk_ca_ops
            if ops is None or not ops.HAS_CONG_CONTROL:
                _rec.tcp_cwnd_reduction(sk, 1, sk.lost - lost, 0)
        _rtx.tcp_xmit_retransmit_queue(sk)
    if sk.icsk_pending != ICSK_TIME_RETRANS:
        _timer.tcp_rearm_rto(sk)


def tcp_rack_update_reo_wnd(sk: TcpSock, rs: RateSample) -> None:
    """tcp_rack_update_reo_wnd() (RFC 8985 6.2 step 4): widen reo_wnd for each round
    with D-SACKs, keep it for 16 recoveries."""
    if sk.net.sysctl("tcp_recovery") & TCP_RACK_STATIC_REO_WND or not rs.prior_delivered:
        return
    rack = sk.rack
    if before(rs.prior_delivered & 0xFFFFFFFF, rack.last_delivered & 0xFFFFFFFF):
        rack.dsack_seen = False
    if rack.dsack_seen:
        rack.reo_wnd_steps = min(0xFF, rack.reo_wnd_steps + 1)
        rack.dsack_seen = False
        rack.last_delivered = sk.delivered
        rack.reo_wnd_persist = TCP_RACK_RECOVERY_THRESH
    elif not rack.reo_wnd_persist:
        rack.reo_wnd_steps = 1


def tcp_process_tlp_ack(sk: TcpSock, ack: int, flag: int) -> None:
    """tcp_process_tlp_ack() (RFC 8985 7.4): did the probe repair a loss?"""
    if before(ack, sk.tlp_high_seq):
        return
    if not sk.tlp_retrans or flag & FLAG_DSACK_TLP:
        sk.tlp_high_seq = 0
    elif after(ack, sk.tlp_high_seq):
        _rec.tcp_init_cwnd_reduction(sk)
        tcp_set_ca_state(sk, TCP_CA_CWR)
        _rec.tcp_end_cwnd_reduction(sk)
        _rec.tcp_try_keep_open(sk)
        sk.host.mib.tcpext.TCPLossProbeRecovery += 1
    elif not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DATA_SACKED):
        sk.tlp_high_seq = 0
