"""BBR v1, Bottleneck Bandwidth and RTT (net/ipv4/tcp_bbr.c; Cardwell et al., "BBR:
Congestion-Based Congestion Control", ACM Queue 2016; draft-cardwell-iccrg-bbr-
congestion-control-00).

BBR models the path by the windowed max delivery rate (``bw``, over 10 round trips,
from tcp_rate.c's samples; app-limited samples count only when they raise it) and the
windowed min RTT (``min_rtt_us``, 10 s). It paces at ``pacing_gain * bw`` (1 % below,
bbr_pacing_margin_percent) and caps inflight at ``cwnd_gain * bw * min_rtt`` plus a
quantization budget and the ACK-aggregation estimate. Modes:

* STARTUP: pacing and cwnd gain 2/ln 2 = 2.885 (bbr_high_gain = 739/256) until the
  pipe is full: three rounds in a row whose bw grew by less than 25 %;
* DRAIN: pacing gain 1/2.885 until inflight is down to one BDP;
* PROBE_BW: the eight-phase pacing-gain cycle 5/4, 3/4, 1, 1, 1, 1, 1, 1 (each phase
  about min_rtt long; the start phase is random, never the 3/4 one), cwnd gain 2;
* PROBE_RTT: when min_rtt is 10 s old, cwnd 4 for max(200 ms, one round), then back.

A long-term model detects token-bucket policers (two 4..16-round intervals with >= 20 %
loss and a consistent rate) and then uses their average rate for 48 rounds. Losses
make the first round of recovery packet-conserving, after which cwnd grows toward the
target again; cwnd is restored on leaving recovery. Integers and fixed point as in
Linux: bw is packets per µs << 24 (BW_SCALE), gains are << 8 (BBR_UNIT = 256).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.cong import TCP_CONG_NON_RESTRICTED, TcpCongestionOps
from tuxnet.tcp.defs import (
    CA_EVENT_TX_START,
    TCP_INFINITE_SSTHRESH,
    TCP_INIT_CWND,
    TCP_CA_Loss,
    TCP_CA_Open,
    TCP_CA_Recovery,
)
from tuxnet.tcp.pacing import GSO_LEGACY_MAX_SIZE, SK_PACING_NEEDED, SK_PACING_NONE
from tuxnet.tcp.sock import Minmax

if TYPE_CHECKING:
    from tuxnet.tcp.cong import RateSample
    from tuxnet.tcp.sock import TcpSock

__all__ = ["BBR_DRAIN", "BBR_PROBE_BW", "BBR_PROBE_RTT", "BBR_STARTUP", "BBR_UNIT",
           "BW_UNIT", "TCP_BBR", "Bbr", "BbrTcp", "bbr_pacing_gain"]

BW_SCALE = 24
BW_UNIT = 1 << BW_SCALE
BBR_SCALE = 8
BBR_UNIT = 1 << BBR_SCALE
# enum bbr_mode
BBR_STARTUP = 0
BBR_DRAIN = 1
BBR_PROBE_BW = 2
BBR_PROBE_RTT = 3
MODE_NAMES = ("STARTUP", "DRAIN", "PROBE_BW", "PROBE_RTT")
CYCLE_LEN = 8
MAX_TCP_HEADER = 320  # L1_CACHE_BYTES + 128 + MAX_HEADER on x86_64

bbr_bw_rtts = CYCLE_LEN + 2  # window of the max bw filter, in rounds
bbr_min_rtt_win_sec = 10
bbr_probe_rtt_mode_ms = 200
bbr_min_tso_rate = 1200000  # bits/s
bbr_pacing_margin_percent = 1
bbr_high_gain = BBR_UNIT * 2885 // 1000 + 1  # 2/ln(2): 739
bbr_drain_gain = BBR_UNIT * 1000 // 2885  # 88
bbr_cwnd_gain = BBR_UNIT * 2
bbr_pacing_gain = (BBR_UNIT * 5 // 4, BBR_UNIT * 3 // 4, BBR_UNIT, BBR_UNIT, BBR_UNIT,
                   BBR_UNIT, BBR_UNIT, BBR_UNIT)
bbr_cycle_rand = 7
bbr_cwnd_min_target = 4
bbr_full_bw_thresh = BBR_UNIT * 5 // 4
bbr_full_bw_cnt = 3
bbr_lt_intvl_min_rtts = 4
bbr_lt_loss_thresh = 50  # 50/256 ~ 20 %
bbr_lt_bw_ratio = BBR_UNIT // 8
bbr_lt_bw_diff = 4000 // 8  # bytes/s
bbr_lt_bw_max_rtts = 48
bbr_extra_acked_gain = BBR_UNIT
bbr_extra_acked_win_rtts = 5
bbr_ack_epoch_acked_reset_thresh = 1 << 20
bbr_extra_acked_max_us = 100 * 1000
_USEC_PER_SEC = 1_000_000
_USEC_PER_MSEC = 1000
_M32 = 0xFFFFFFFF


class Bbr:
    """struct bbr: per-socket BBR state (inet_csk_ca)."""

    __slots__ = ("ack_epoch_acked", "ack_epoch_mstamp", "bw", "cwnd_gain", "cycle_idx",
                 "cycle_mstamp", "extra_acked", "extra_acked_win_idx", "extra_acked_win_rtts",
                 "full_bw", "full_bw_cnt", "full_bw_reached", "has_seen_rtt", "idle_restart",
                 "lt_bw", "lt_is_sampling", "lt_last_delivered", "lt_last_lost",
                 "lt_last_stamp", "lt_rtt_cnt", "lt_use_bw", "min_rtt_stamp", "min_rtt_us",
                 "mode", "next_rtt_delivered", "pacing_gain", "packet_conservation",
                 "prev_ca_state", "prior_cwnd", "probe_rtt_done_stamp", "probe_rtt_round_done",
                 "round_start", "rtt_cnt")

    def __init__(self) -> None:
        self.min_rtt_us = 0
        self.min_rtt_stamp = 0
        self.probe_rtt_done_stamp = 0
        self.bw = Minmax(0, 0)
        self.rtt_cnt = 0
        self.next_rtt_delivered = 0
        self.cycle_mstamp = 0
        self.mode = BBR_STARTUP
        self.prev_ca_state = TCP_CA_Open
        self.packet_conservation = 0
        self.round_start = 0
        self.idle_restart = 0
        self.probe_rtt_round_done = 0
        self.lt_is_sampling = False
        self.lt_rtt_cnt = 0
        self.lt_use_bw = 0
        self.lt_bw = 0
        self.lt_last_delivered = 0
        self.lt_last_stamp = 0
        self.lt_last_lost = 0
        self.pacing_gain = 0
        self.cwnd_gain = 0
        self.full_bw_reached = False
        self.full_bw_cnt = 0
        self.cycle_idx = 0
        self.has_seen_rtt = 0
        self.prior_cwnd = 0
        self.full_bw = 0
        self.ack_epoch_mstamp = 0
        self.extra_acked = [0, 0]
        self.ack_epoch_acked = 0
        self.extra_acked_win_rtts = 0
        self.extra_acked_win_idx = 0


def _ca(sk: TcpSock) -> Bbr:
    """inet_csk_ca(sk), zeroed when a hook runs before bbr_init (a SYN's RTO)."""
    bbr: Bbr | None = sk.icsk_ca_priv
    if bbr is None:
        bbr = sk.icsk_ca_priv = Bbr()
    return bbr


def bbr_max_bw(sk: TcpSock) -> int:
    """bbr_max_bw(): the windowed max bw sample (pkts/µs << 24)."""
    return _ca(sk).bw.get()


def bbr_bw(sk: TcpSock) -> int:
    """bbr_bw(): the policed long-term rate when in use, else the max filter."""
    bbr = _ca(sk)
    return bbr.lt_bw if bbr.lt_use_bw else bbr.bw.get()


def bbr_rate_bytes_per_sec(sk: TcpSock, rate: int, gain: int) -> int:
    """bbr_rate_bytes_per_sec(): rate * mss * gain, 1 % pacing margin, in bytes/s."""
    rate *= sk.mss_cache
    rate *= gain
    rate >>= BBR_SCALE
    rate *= _USEC_PER_SEC // 100 * (100 - bbr_pacing_margin_percent)
    return rate >> BW_SCALE


def bbr_bw_to_pacing_rate(sk: TcpSock, bw: int, gain: int) -> int:
    """bbr_bw_to_pacing_rate(): at most sk_max_pacing_rate."""
    return min(bbr_rate_bytes_per_sec(sk, bw, gain), sk.sk_max_pacing_rate)


def bbr_init_pacing_rate_from_rtt(sk: TcpSock) -> None:
    """bbr_init_pacing_rate_from_rtt(): high_gain * cwnd / srtt (1 ms before any RTT)."""
    bbr = _ca(sk)
    if sk.srtt_us:
        rtt_us = max(sk.srtt_us >> 3, 1)
        bbr.has_seen_rtt = 1
    else:
        rtt_us = _USEC_PER_MSEC
    bw = sk.snd_cwnd * BW_UNIT // rtt_us
    sk.sk_pacing_rate = bbr_bw_to_pacing_rate(sk, bw, bbr_high_gain)


def bbr_set_pacing_rate(sk: TcpSock, bw: int, gain: int) -> None:
    """bbr_set_pacing_rate(): only raise the rate until the pipe is known full."""
    bbr = _ca(sk)
    rate = bbr_bw_to_pacing_rate(sk, bw, gain)
    if not bbr.has_seen_rtt and sk.srtt_us:
        bbr_init_pacing_rate_from_rtt(sk)
    if bbr.full_bw_reached or rate > sk.sk_pacing_rate:
        sk.sk_pacing_rate = rate


def bbr_min_tso_segs(sk: TcpSock) -> int:
    """bbr_min_tso_segs(): 1 below 1.2 Mbit/s, else 2."""
    return 1 if sk.sk_pacing_rate < (bbr_min_tso_rate >> 3) else 2


def bbr_tso_segs_goal(sk: TcpSock) -> int:
    """bbr_tso_segs_goal(): tcp_tso_autosize without the device's gso_max_size."""
    nbytes = min(sk.sk_pacing_rate >> sk.sk_pacing_shift,
                 GSO_LEGACY_MAX_SIZE - 1 - MAX_TCP_HEADER)
    segs = max(nbytes // sk.mss_cache, bbr_min_tso_segs(sk))
    return min(segs, 0x7F)


def bbr_save_cwnd(sk: TcpSock) -> None:
    """bbr_save_cwnd(): the last known good cwnd, to restore after recovery/PROBE_RTT."""
    bbr = _ca(sk)
    if bbr.prev_ca_state < TCP_CA_Recovery and bbr.mode != BBR_PROBE_RTT:
        bbr.prior_cwnd = sk.snd_cwnd
    else:
        bbr.prior_cwnd = max(bbr.prior_cwnd, sk.snd_cwnd)


def bbr_bdp(sk: TcpSock, bw: int, gain: int) -> int:
    """bbr_bdp(): ceil(bw * min_rtt * gain); TCP_INIT_CWND before any RTT sample."""
    bbr = _ca(sk)
    if bbr.min_rtt_us == _M32:
        return TCP_INIT_CWND
    w = bw * bbr.min_rtt_us
    return (((w * gain) >> BBR_SCALE) + BW_UNIT - 1) // BW_UNIT


def bbr_quantization_budget(sk: TcpSock, cwnd: int) -> int:
    """bbr_quantization_budget(): + 3 TSO bursts, even, +2 in the 5/4 phase."""
    cwnd += 3 * bbr_tso_segs_goal(sk)
    cwnd = (cwnd + 1) & ~1
    bbr = _ca(sk)
    if bbr.mode == BBR_PROBE_BW and bbr.cycle_idx == 0:
        cwnd += 2
    return cwnd


def bbr_inflight(sk: TcpSock, bw: int, gain: int) -> int:
    """bbr_inflight()."""
    return bbr_quantization_budget(sk, bbr_bdp(sk, bw, gain))


def bbr_packets_in_net_at_edt(sk: TcpSock, inflight_now: int) -> int:
    """bbr_packets_in_net_at_edt(): inflight when the next paced skb departs."""
    bbr = _ca(sk)
    now_ns = sk.tcp_clock_cache
    edt_ns = max(sk.tcp_wstamp_ns, now_ns)
    interval_us = (edt_ns - now_ns) // 1000
    interval_delivered = (bbr_bw(sk) * interval_us) >> BW_SCALE
    inflight_at_edt = inflight_now
    if bbr.pacing_gain > BBR_UNIT:
        inflight_at_edt += bbr_tso_segs_goal(sk)
    if interval_delivered >= inflight_at_edt:
        return 0
    return inflight_at_edt - interval_delivered


def bbr_ack_aggregation_cwnd(sk: TcpSock) -> int:
    """bbr_ack_aggregation_cwnd(): extra cwnd for ACK aggregation (<= 100 ms of bw)."""
    bbr = _ca(sk)
    if bbr_extra_acked_gain and bbr.full_bw_reached:
        max_aggr_cwnd = bbr_bw(sk) * bbr_extra_acked_max_us // BW_UNIT
        aggr_cwnd = (bbr_extra_acked_gain * max(bbr.extra_acked)) >> BBR_SCALE
        return min(aggr_cwnd, max_aggr_cwnd)
    return 0


def bbr_set_cwnd_to_recover_or_restore(sk: TcpSock, rs: RateSample,
                                       acked: int) -> tuple[bool, int]:
    """bbr_set_cwnd_to_recover_or_restore(): packet conservation in the first round of
    recovery, the saved cwnd when leaving it. Returns (conserving, cwnd)."""
    bbr = _ca(sk)
    prev_state = bbr.prev_ca_state
    state = sk.icsk_ca_state
    cwnd = sk.snd_cwnd
    if rs.losses > 0:
        cwnd = max(cwnd - rs.losses, 1)
    if state == TCP_CA_Recovery and prev_state != TCP_CA_Recovery:
        bbr.packet_conservation = 1
        bbr.next_rtt_delivered = sk.delivered  # start the round now
        cwnd = sk.tcp_packets_in_flight() + acked
    elif prev_state >= TCP_CA_Recovery and state < TCP_CA_Recovery:
        cwnd = max(cwnd, bbr.prior_cwnd)
        bbr.packet_conservation = 0
    bbr.prev_ca_state = state
    if bbr.packet_conservation:
        return True, max(cwnd, sk.tcp_packets_in_flight() + acked)
    return False, cwnd


def bbr_set_cwnd(sk: TcpSock, rs: RateSample, acked: int, bw: int, gain: int) -> None:
    """bbr_set_cwnd(): slow-start toward the target (gain * BDP + aggregation +
    quantization), or cut to it once the pipe was full; 4 in PROBE_RTT."""
    bbr = _ca(sk)
    cwnd = sk.snd_cwnd
    if acked:
        conserving, cwnd = bbr_set_cwnd_to_recover_or_restore(sk, rs, acked)
        if not conserving:
            target_cwnd = bbr_bdp(sk, bw, gain)
            target_cwnd += bbr_ack_aggregation_cwnd(sk)
            target_cwnd = bbr_quantization_budget(sk, target_cwnd)
            if bbr.full_bw_reached:
                cwnd = min(cwnd + acked, target_cwnd)
            elif cwnd < target_cwnd or sk.delivered < TCP_INIT_CWND:
                cwnd = cwnd + acked
            cwnd = max(cwnd, bbr_cwnd_min_target)
    sk.snd_cwnd = min(cwnd, sk.snd_cwnd_clamp)
    if bbr.mode == BBR_PROBE_RTT:
        sk.snd_cwnd = min(sk.snd_cwnd, bbr_cwnd_min_target)


def bbr_is_next_cycle_phase(sk: TcpSock, rs: RateSample) -> bool:
    """bbr_is_next_cycle_phase(): a phase lasts min_rtt; the 5/4 phase also waits for
    inflight to reach 5/4 BDP (or a loss), the 3/4 phase ends early at one BDP."""
    bbr = _ca(sk)
    is_full_length = max(sk.delivered_mstamp - bbr.cycle_mstamp, 0) > bbr.min_rtt_us
    if bbr.pacing_gain == BBR_UNIT:
        return is_full_length
    inflight = bbr_packets_in_net_at_edt(sk, rs.prior_in_flight)
    bw = bbr_max_bw(sk)
    if bbr.pacing_gain > BBR_UNIT:
        return is_full_length and (bool(rs.losses) or
                                   inflight >= bbr_inflight(sk, bw, bbr.pacing_gain))
    return is_full_length or inflight <= bbr_inflight(sk, bw, BBR_UNIT)


def bbr_advance_cycle_phase(sk: TcpSock) -> None:
    """bbr_advance_cycle_phase()."""
    bbr = _ca(sk)
    bbr.cycle_idx = (bbr.cycle_idx + 1) & (CYCLE_LEN - 1)
    bbr.cycle_mstamp = sk.delivered_mstamp


def bbr_update_cycle_phase(sk: TcpSock, rs: RateSample) -> None:
    """bbr_update_cycle_phase()."""
    if _ca(sk).mode == BBR_PROBE_BW and bbr_is_next_cycle_phase(sk, rs):
        bbr_advance_cycle_phase(sk)


def bbr_reset_probe_bw_mode(sk: TcpSock) -> None:
    """bbr_reset_probe_bw_mode(): enter PROBE_BW at a random phase other than 3/4
    (cycle_idx = 7 - random(7), then advanced)."""
    bbr = _ca(sk)
    bbr.mode = BBR_PROBE_BW
    bbr.cycle_idx = CYCLE_LEN - 1 - sk.net.rng.randrange(bbr_cycle_rand)
    bbr_advance_cycle_phase(sk)


def bbr_reset_mode(sk: TcpSock) -> None:
    """bbr_reset_mode(): STARTUP until the pipe was full, then PROBE_BW."""
    bbr = _ca(sk)
    if not bbr.full_bw_reached:
        bbr.mode = BBR_STARTUP
    else:
        bbr_reset_probe_bw_mode(sk)


def bbr_reset_lt_bw_sampling_interval(sk: TcpSock) -> None:
    """bbr_reset_lt_bw_sampling_interval()."""
    bbr = _ca(sk)
    bbr.lt_last_stamp = sk.delivered_mstamp // _USEC_PER_MSEC
    bbr.lt_last_delivered = sk.delivered
    bbr.lt_last_lost = sk.lost
    bbr.lt_rtt_cnt = 0


def bbr_reset_lt_bw_sampling(sk: TcpSock) -> None:
    """bbr_reset_lt_bw_sampling()."""
    bbr = _ca(sk)
    bbr.lt_bw = 0
    bbr.lt_use_bw = 0
    bbr.lt_is_sampling = False
    bbr_reset_lt_bw_sampling_interval(sk)


def bbr_lt_bw_interval_done(sk: TcpSock, bw: int) -> None:
    """bbr_lt_bw_interval_done(): two consistent lossy intervals -> policed."""
    bbr = _ca(sk)
    if bbr.lt_bw:
        diff = abs(bw - bbr.lt_bw)
        if diff * BBR_UNIT <= bbr_lt_bw_ratio * bbr.lt_bw or \
                bbr_rate_bytes_per_sec(sk, diff, BBR_UNIT) <= bbr_lt_bw_diff:
            bbr.lt_bw = (bw + bbr.lt_bw) >> 1
            bbr.lt_use_bw = 1
            bbr.pacing_gain = BBR_UNIT
            bbr.lt_rtt_cnt = 0
            return
    bbr.lt_bw = bw
    bbr_reset_lt_bw_sampling_interval(sk)


def bbr_lt_bw_sampling(sk: TcpSock, rs: RateSample) -> None:
    """bbr_lt_bw_sampling(): the token-bucket policer detector."""
    bbr = _ca(sk)
    if bbr.lt_use_bw:
        if bbr.mode == BBR_PROBE_BW and bbr.round_start:
            bbr.lt_rtt_cnt += 1
            if bbr.lt_rtt_cnt >= bbr_lt_bw_max_rtts:
                bbr_reset_lt_bw_sampling(sk)
                bbr_reset_probe_bw_mode(sk)
        return
    if not bbr.lt_is_sampling:
        if not rs.losses:
            return
        bbr_reset_lt_bw_sampling_interval(sk)
        bbr.lt_is_sampling = True
    if rs.is_app_limited:
        bbr_reset_lt_bw_sampling(sk)
        return
    if bbr.round_start:
        bbr.lt_rtt_cnt += 1
    if bbr.lt_rtt_cnt < bbr_lt_intvl_min_rtts:
        return
    if bbr.lt_rtt_cnt > 4 * bbr_lt_intvl_min_rtts:
        bbr_reset_lt_bw_sampling(sk)
        return
    if not rs.losses:
        return
    lost = sk.lost - bbr.lt_last_lost
    delivered = sk.delivered - bbr.lt_last_delivered
    if not delivered or (lost << BBR_SCALE) < bbr_lt_loss_thresh * delivered:
        return
    t = sk.delivered_mstamp // _USEC_PER_MSEC - bbr.lt_last_stamp
    if t < 1:
        return
    if t >= _M32 // _USEC_PER_MSEC:
        bbr_reset_lt_bw_sampling(sk)
        return
    t *= _USEC_PER_MSEC
    bbr_lt_bw_interval_done(sk, delivered * BW_UNIT // t)


def bbr_update_bw(sk: TcpSock, rs: RateSample) -> None:
    """bbr_update_bw(): count rounds; feed the max-bw filter."""
    bbr = _ca(sk)
    bbr.round_start = 0
    if rs.delivered < 0 or rs.interval_us <= 0:
        return
    if rs.prior_delivered >= bbr.next_rtt_delivered:
        bbr.next_rtt_delivered = sk.delivered
        bbr.rtt_cnt += 1
        bbr.round_start = 1
        bbr.packet_conservation = 0
    bbr_lt_bw_sampling(sk, rs)
    bw = rs.delivered * BW_UNIT // rs.interval_us
    if not rs.is_app_limited or bw >= bbr_max_bw(sk):
        bbr.bw.running_max(bbr_bw_rtts, bbr.rtt_cnt, bw)


def bbr_update_ack_aggregation(sk: TcpSock, rs: RateSample) -> None:
    """bbr_update_ack_aggregation(): the max data ACKed beyond bw * interval, over
    5-10 rounds."""
    bbr = _ca(sk)
    if not bbr_extra_acked_gain or rs.acked_sacked <= 0 or rs.delivered < 0 or \
            rs.interval_us <= 0:
        return
    if bbr.round_start:
        bbr.extra_acked_win_rtts = min(0x1F, bbr.extra_acked_win_rtts + 1)
        if bbr.extra_acked_win_rtts >= bbr_extra_acked_win_rtts:
            bbr.extra_acked_win_rtts = 0
            bbr.extra_acked_win_idx = 0 if bbr.extra_acked_win_idx else 1
            bbr.extra_acked[bbr.extra_acked_win_idx] = 0
    epoch_us = max(sk.delivered_mstamp - bbr.ack_epoch_mstamp, 0)
    expected_acked = bbr_bw(sk) * epoch_us // BW_UNIT
    if bbr.ack_epoch_acked <= expected_acked or \
            bbr.ack_epoch_acked + rs.acked_sacked >= bbr_ack_epoch_acked_reset_thresh:
        bbr.ack_epoch_acked = 0
        bbr.ack_epoch_mstamp = sk.delivered_mstamp
        expected_acked = 0
    bbr.ack_epoch_acked = min(0xFFFFF, bbr.ack_epoch_acked + rs.acked_sacked)
    extra_acked = min(bbr.ack_epoch_acked - expected_acked, sk.snd_cwnd)
    if extra_acked > bbr.extra_acked[bbr.extra_acked_win_idx]:
        bbr.extra_acked[bbr.extra_acked_win_idx] = extra_acked


def bbr_check_full_bw_reached(sk: TcpSock, rs: RateSample) -> None:
    """bbr_check_full_bw_reached(): full after 3 non-app-limited rounds with < 25 %
    bw growth."""
    bbr = _ca(sk)
    if bbr.full_bw_reached or not bbr.round_start or rs.is_app_limited:
        return
    bw_thresh = bbr.full_bw * bbr_full_bw_thresh >> BBR_SCALE
    if bbr_max_bw(sk) >= bw_thresh:
        bbr.full_bw = bbr_max_bw(sk)
        bbr.full_bw_cnt = 0
        return
    bbr.full_bw_cnt += 1
    bbr.full_bw_reached = bbr.full_bw_cnt >= bbr_full_bw_cnt


def bbr_check_drain(sk: TcpSock, rs: RateSample) -> None:
    """bbr_check_drain(): STARTUP -> DRAIN when full; DRAIN -> PROBE_BW at one BDP."""
    bbr = _ca(sk)
    if bbr.mode == BBR_STARTUP and bbr.full_bw_reached:
        bbr.mode = BBR_DRAIN
        sk.snd_ssthresh = bbr_inflight(sk, bbr_max_bw(sk), BBR_UNIT)
    if bbr.mode == BBR_DRAIN and \
            bbr_packets_in_net_at_edt(sk, sk.tcp_packets_in_flight()) <= \
            bbr_inflight(sk, bbr_max_bw(sk), BBR_UNIT):
        bbr_reset_probe_bw_mode(sk)


def bbr_check_probe_rtt_done(sk: TcpSock) -> None:
    """bbr_check_probe_rtt_done(): after the 200 ms (and a round), restore cwnd."""
    bbr = _ca(sk)
    if not (bbr.probe_rtt_done_stamp and sk.jiffies() > bbr.probe_rtt_done_stamp):
        return
    bbr.min_rtt_stamp = sk.jiffies()
    sk.snd_cwnd = max(sk.snd_cwnd, bbr.prior_cwnd)
    bbr_reset_mode(sk)


def bbr_update_min_rtt(sk: TcpSock, rs: RateSample) -> None:
    """bbr_update_min_rtt(): the 10 s min-RTT filter and PROBE_RTT."""
    bbr = _ca(sk)
    now = sk.jiffies()
    filter_expired = now > bbr.min_rtt_stamp + bbr_min_rtt_win_sec * 1000
    if rs.rtt_us >= 0 and (rs.rtt_us < bbr.min_rtt_us or
                           (filter_expired and not rs.is_ack_delayed)):
        bbr.min_rtt_us = rs.rtt_us
        bbr.min_rtt_stamp = now
    if bbr_probe_rtt_mode_ms > 0 and filter_expired and not bbr.idle_restart and \
            bbr.mode != BBR_PROBE_RTT:
        bbr.mode = BBR_PROBE_RTT
        bbr_save_cwnd(sk)
        bbr.probe_rtt_done_stamp = 0
    if bbr.mode == BBR_PROBE_RTT:
        sk.app_limited = (sk.delivered + sk.tcp_packets_in_flight()) or 1
        if not bbr.probe_rtt_done_stamp and \
                sk.tcp_packets_in_flight() <= bbr_cwnd_min_target:
            bbr.probe_rtt_done_stamp = now + bbr_probe_rtt_mode_ms  # msecs_to_jiffies
            bbr.probe_rtt_round_done = 0
            bbr.next_rtt_delivered = sk.delivered
        elif bbr.probe_rtt_done_stamp:
            if bbr.round_start:
                bbr.probe_rtt_round_done = 1
            if bbr.probe_rtt_round_done:
                bbr_check_probe_rtt_done(sk)
    if rs.delivered > 0:
        bbr.idle_restart = 0


def bbr_update_gains(sk: TcpSock) -> None:
    """bbr_update_gains(): pacing and cwnd gains of the mode."""
    bbr = _ca(sk)
    mode = bbr.mode
    if mode == BBR_STARTUP:
        bbr.pacing_gain = bbr_high_gain
        bbr.cwnd_gain = bbr_high_gain
    elif mode == BBR_DRAIN:
        bbr.pacing_gain = bbr_drain_gain
        bbr.cwnd_gain = bbr_high_gain
    elif mode == BBR_PROBE_BW:
        bbr.pacing_gain = BBR_UNIT if bbr.lt_use_bw else bbr_pacing_gain[bbr.cycle_idx]
        bbr.cwnd_gain = bbr_cwnd_gain
    else:
        bbr.pacing_gain = BBR_UNIT
        bbr.cwnd_gain = BBR_UNIT


def bbr_update_model(sk: TcpSock, rs: RateSample) -> None:
    """bbr_update_model()."""
    bbr_update_bw(sk, rs)
    bbr_update_ack_aggregation(sk, rs)
    bbr_update_cycle_phase(sk, rs)
    bbr_check_full_bw_reached(sk, rs)
    bbr_check_drain(sk, rs)
    bbr_update_min_rtt(sk, rs)
    bbr_update_gains(sk)


class BbrTcp(TcpCongestionOps):
    """tcp_bbr_cong_ops: "bbr", TCP_CONG_NON_RESTRICTED."""

    name = "bbr"
    flags = TCP_CONG_NON_RESTRICTED
    HAS_CONG_CONTROL = True
    HAS_SNDBUF_EXPAND = True

    def init(self, sk: TcpSock) -> None:
        """bbr_init()."""
        bbr = Bbr()
        sk.icsk_ca_priv = bbr
        bbr.prior_cwnd = 0
        sk.snd_ssthresh = TCP_INFINITE_SSTHRESH
        bbr.rtt_cnt = 0
        bbr.next_rtt_delivered = sk.delivered
        bbr.prev_ca_state = TCP_CA_Open
        bbr.packet_conservation = 0
        bbr.probe_rtt_done_stamp = 0
        bbr.probe_rtt_round_done = 0
        bbr.min_rtt_us = sk.tcp_min_rtt()
        bbr.min_rtt_stamp = sk.jiffies()
        bbr.bw.reset(bbr.rtt_cnt, 0)
        bbr.has_seen_rtt = 0
        bbr_init_pacing_rate_from_rtt(sk)
        bbr.round_start = 0
        bbr.idle_restart = 0
        bbr.full_bw_reached = False
        bbr.full_bw = 0
        bbr.full_bw_cnt = 0
        bbr.cycle_mstamp = 0
        bbr.cycle_idx = 0
        bbr_reset_lt_bw_sampling(sk)
        bbr.mode = BBR_STARTUP
        bbr.ack_epoch_mstamp = sk.tcp_mstamp
        bbr.ack_epoch_acked = 0
        bbr.extra_acked_win_rtts = 0
        bbr.extra_acked_win_idx = 0
        bbr.extra_acked = [0, 0]
        if sk.sk_pacing_status == SK_PACING_NONE:
            sk.sk_pacing_status = SK_PACING_NEEDED  # cmpxchg: fq may already pace

    def cong_control(self, sk: TcpSock, ack: int, flag: int, rs: RateSample) -> None:
        """bbr_main(): update the model, then pacing rate and cwnd."""
        if sk.icsk_ca_priv is None:
            return  # the SYN-ACK's ACK, before tcp_init_congestion_control
        bbr_update_model(sk, rs)
        bbr = _ca(sk)
        bw = bbr_bw(sk)
        bbr_set_pacing_rate(sk, bw, bbr.pacing_gain)
        bbr_set_cwnd(sk, rs, rs.acked_sacked, bw, bbr.cwnd_gain)

    def cong_avoid(self, sk: TcpSock, ack: int, acked: int) -> None:
        """Not used: BBR has cong_control."""

    def sndbuf_expand(self, sk: TcpSock) -> int:
        """bbr_sndbuf_expand(): 3 x cwnd (BBR may slow-start in recovery)."""
        return 3

    def undo_cwnd(self, sk: TcpSock) -> int:
        """bbr_undo_cwnd(): a spurious slow-down resets full-pipe detection."""
        bbr = _ca(sk)
        bbr.full_bw = 0
        bbr.full_bw_cnt = 0
        bbr_reset_lt_bw_sampling(sk)
        return sk.snd_cwnd

    def ssthresh(self, sk: TcpSock) -> int:
        """bbr_ssthresh(): save cwnd for after recovery; ssthresh unchanged."""
        bbr_save_cwnd(sk)
        return sk.snd_ssthresh

    def cwnd_event(self, sk: TcpSock, ev: int) -> None:
        """bbr_cwnd_event(): restarting from idle while app-limited."""
        if ev == CA_EVENT_TX_START and sk.app_limited:
            bbr = _ca(sk)
            bbr.idle_restart = 1
            bbr.ack_epoch_mstamp = sk.tcp_mstamp
            bbr.ack_epoch_acked = 0
            if bbr.mode == BBR_PROBE_BW:
                bbr_set_pacing_rate(sk, bbr_bw(sk), BBR_UNIT)
            elif bbr.mode == BBR_PROBE_RTT:
                bbr_check_probe_rtt_done(sk)

    def min_tso_segs(self, sk: TcpSock) -> int:
        """bbr_min_tso_segs()."""
        return bbr_min_tso_segs(sk)

    def set_state(self, sk: TcpSock, new_state: int) -> None:
        """bbr_set_state(): an RTO ends the round and counts as a loss for the
        long-term model."""
        if new_state == TCP_CA_Loss:
            from tuxnet.tcp.cong import RateSample as _Rs

            bbr = _ca(sk)
            rs = _Rs()
            rs.losses = 1
            bbr.prev_ca_state = TCP_CA_Loss
            bbr.full_bw = 0
            bbr.round_start = 1
            bbr_lt_bw_sampling(sk, rs)

    def get_info(self, sk: TcpSock) -> dict[str, int]:
        """bbr_get_info(): struct tcp_bbr_info (INET_DIAG_BBRINFO / TCP_CC_INFO); bw in
        bytes/s."""
        bbr = _ca(sk)
        bw = bbr_bw(sk) * sk.mss_cache * _USEC_PER_SEC >> BW_SCALE
        return {"bbr_bw_lo": bw & _M32, "bbr_bw_hi": bw >> 32,
                "bbr_min_rtt": bbr.min_rtt_us, "bbr_pacing_gain": bbr.pacing_gain,
                "bbr_cwnd_gain": bbr.cwnd_gain}


TCP_BBR = BbrTcp()
