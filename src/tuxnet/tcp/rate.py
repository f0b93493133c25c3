"""Delivery-rate estimation (net/ipv4/tcp_rate.c; draft-cheng-iccrg-delivery-rate-
estimation): each transmitted skb remembers the connection's delivery state when it
left (``tx.delivered``, ``tx.delivered_mstamp``, ``tx.first_tx_mstamp``,
``tx.is_app_limited``); when it is (S)ACKed, the newest such skb of the ACK gives a
rate sample: packets delivered since it was sent over the longer of the send phase
(first_tx_mstamp of that flight to its send time) and the ACK phase (its
delivered_mstamp to now). The sample goes to ``cong_control`` (BBR).

Application-limited periods are marked by ``tp->app_limited`` (the delivered count at
which the bubble will be gone); samples taken in them are flagged so a model of the
path's bandwidth can ignore them when they are lower than what it already knows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.defs import TCPCB_RETRANS, TCPCB_SACKED_ACKED
from tuxnet.tcp.seq import after

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.cong import RateSample
    from tuxnet.tcp.sock import TcpSkbCb, TcpSock

__all__ = ["tcp_rate_check_app_limited", "tcp_rate_gen", "tcp_rate_skb_delivered",
           "tcp_rate_skb_sent"]

_M32 = 0xFFFFFFFF
_SKB_TRUESIZE_1 = 577  # SKB_TRUESIZE(1) on x86_64: 1 + 256 (sk_buff) + 320 (shinfo)


def tcp_rate_skb_sent(sk: TcpSock, cb: TcpSkbCb, tstamp_us: int) -> None:
    """tcp_rate_skb_sent(): snapshot the delivery state into the skb at (re)transmit.
    The first packet of a flight after idle starts a new send phase."""
    if not sk.packets_out:
        sk.first_tx_mstamp = tstamp_us
        sk.delivered_mstamp = tstamp_us
    cb.first_tx_mstamp = sk.first_tx_mstamp
    cb.delivered_mstamp = sk.delivered_mstamp
    cb.tx_delivered = sk.delivered
    cb.tx_app_limited = bool(sk.app_limited)


def tcp_rate_skb_delivered(sk: TcpSock, skb: SkBuff, rs: RateSample) -> None:
    """tcp_rate_skb_delivered(): an skb was SACKed or cumulatively ACKed; the most
    recently sent of those (tcp_skb_sent_after) provides the sample's prior state."""
    cb: TcpSkbCb = skb.cb
    if not cb.delivered_mstamp:
        return
    tx = cb.tx_mstamp
    if not rs.prior_delivered or tx > sk.first_tx_mstamp or (
            tx == sk.first_tx_mstamp and after(cb.end_seq, rs.last_end_seq)):
        rs.prior_delivered = cb.tx_delivered
        rs.prior_mstamp = cb.delivered_mstamp
        rs.is_app_limited = cb.tx_app_limited
        rs.is_retrans = bool(cb.sacked & TCPCB_RETRANS)
        rs.last_end_seq = cb.end_seq
        sk.first_tx_mstamp = tx  # send time of the most recently delivered packet
        rs.interval_us = tx - cb.first_tx_mstamp  # the send phase of its flight
    if cb.sacked & TCPCB_SACKED_ACKED:
        cb.delivered_mstamp = 0  # do not use it again when cumulatively ACKed


def tcp_rate_gen(sk: TcpSock, delivered: int, lost: int, is_sack_reneg: bool,
                 rs: RateSample) -> None:
    """tcp_rate_gen(): finish the sample of this ACK (rs.delivered and interval_us are
    -1 when it has no timing, during SACK reneging, or is shorter than min_rtt)."""
    if sk.app_limited and after(sk.delivered & _M32, sk.app_limited):
        sk.app_limited = 0  # the bubble is ACKed and gone (u32 compare: ~0U at start)
    if delivered:
        sk.delivered_mstamp = sk.tcp_mstamp
    rs.acked_sacked = delivered
    rs.losses = lost
    if not rs.prior_mstamp or is_sack_reneg:
        rs.delivered = -1
        rs.interval_us = -1
        return
    rs.delivered = sk.delivered - rs.prior_delivered
    snd_us = rs.interval_us
    ack_us = sk.tcp_mstamp - rs.prior_mstamp
    rs.interval_us = max(snd_us, ack_us)  # the longer of the send and ACK phases
    rs.snd_interval_us = snd_us
    rs.rcv_interval_us = ack_us
    if rs.interval_us < sk.tcp_min_rtt():
        rs.interval_us = -1  # e.g. a spurious retransmission's ACK: no sample
        return
    # the last non-app-limited or the highest app-limited rate (TCP_INFO delivery_rate)
    if not rs.is_app_limited or \
            rs.delivered * sk.rate_interval_us >= sk.rate_delivered * rs.interval_us:
        sk.rate_delivered = rs.delivered
        sk.rate_interval_us = rs.interval_us
        sk.rate_app_limited = rs.is_app_limited


def tcp_rate_check_app_limited(sk: TcpSock) -> None:
    """tcp_rate_check_app_limited(): less than an MSS to send, nothing queued below,
    not cwnd-limited, no unretransmitted losses: mark the bubble
    (tp->app_limited = delivered + in flight, at least 1)."""
    in_flight = sk.tcp_packets_in_flight()
    if ((sk.write_seq - sk.snd_nxt) & _M32) < sk.mss_cache and \
            sk.sk_wmem_alloc_get() < _SKB_TRUESIZE_1 and in_flight < sk.snd_cwnd and \
            sk.lost_out <= sk.retrans_out:
        sk.app_limited = (sk.delivered + in_flight) or 1
