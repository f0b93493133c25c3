"""CUBIC with HyStart (net/ipv4/tcp_cubic.c; RFC 9438).

Linux's integer arithmetic is kept exactly, so cwnd traces match the kernel's:

* W_cubic(t) = C (t - K)^3 + W_max (RFC 9438 4.2, eq. 1) with C = 0.4: time is kept in
  1/1024 s (BICTCP_HZ = 10) and ``delta = cube_rtt_scale * offs^3 >> 40`` with
  cube_rtt_scale = bic_scale * 10 = 410 ~ 0.4 * 1024, i.e. 0.4 (t - K)^3 packets.
* K = cubic_root(cube_factor * (W_max - cwnd)), cube_factor = 2^40 / (bic_scale * 10):
  K = cbrt((W_max - cwnd) / C) (RFC 9438 eq. 2 with W_max - cwnd_epoch), computed by
  Linux's table-and-one-Newton-step cube root (average error 0.195 %).
* t includes min RTT (``t = now - epoch_start + delay_min``): the target is where the
  curve will be one RTT from now (RFC 9438 4.2: W_cubic(t + RTT)).
* cnt = cwnd / (target - cwnd) ACKs per +1 packet, at least 2: growth is capped at one
  packet per two packets ACKed (1.5x per RTT; RFC 9438 4.2 says the target is clamped
  to 1.5 cwnd, the same cap).
* beta = 717/1024 ~ 0.7 (RFC 9438 4.6, beta_cubic = 0.7); fast convergence (4.7): when
  cwnd < W_max, W_max = cwnd (1 + beta) / 2.
* TCP friendliness (the Reno-friendly region, RFC 9438 4.3): an estimate ``tcp_cwnd``
  grows by one per ``cwnd * beta_scale / 8`` ACKs, beta_scale = 8 (1 + beta) / 3 /
  (1 - beta) = 15, i.e. alpha = 3 (1 - beta) / (1 + beta) per RTT (RFC 9438 eq. 4);
  when it is ahead, cnt is capped to catch up within an RTT.
* Where Linux differs from RFC 9438: the target is origin - floor(delta), an integer
  that reaches W_max once 0.4 (K - t)^3 < 1, about 1.4 s before K (1.5 s with t one RTT
  ahead), so under periodic loss the window plateaus at W_max and the loss comes at
  cwnd == W_max, which is not below last_max_cwnd: fast convergence does not shrink
  W_max and the flow locks onto "loss at M, back to 0.7 M, plateau at M" for any M
  whose plateau is reached within 1/p packets. The kernel measured 45.4 segments per
  RTT at p = 1e-3, RTT 100 ms (orbit M = 52; 42.3 at M = 48), 215 at 1e-4, where RFC
  9438's Table 1 (its closed form, Figure 7, floored at 1.2/sqrt(p)) says 38 and 187;
  tuxnet lands on the same orbits (benchmarks/bench_cubic_response.py). The first
  epoch after slow start without a loss (last_max_cwnd == 0) grows at least 5 % per
  RTT (cnt <= 20); cnt is recomputed at most once per jiffy and skipped while cwnd is
  unchanged for HZ/32;
  the Reno-friendly estimate counts ACKed packets, not bytes (RFC 9438 uses
  segments_acked/cwnd too, but Linux starts it at cwnd at the epoch start, not at
  cwnd_epoch * beta); W_max is not reduced for a spurious congestion event (undo is
  tcp_reno_undo_cwnd: max(cwnd, prior_cwnd), no W_max restore, RFC 9438 4.9); there is
  no separate RTO handling beyond resetting the state in TCP_CA_Loss (RFC 9438 4.8:
  ssthresh from the same beta).
* HyStart (Ha & Rhee, "Taming the Elephants"): in slow start, above
  hystart_low_window (16) packets, exit (ssthresh = cwnd) when an ACK train spaced
  within hystart_ack_delta_us (2 ms) lasts longer than delay_min / 2 (ACK-train
  detection; the full delay_min when the socket is paced), or when the minimum RTT of
  the first 8 ACKs of a round exceeds delay_min + clamp(delay_min / 8, 4 ms, 16 ms)
  (delay detection). Linux does not implement HyStart++ (RFC 9406).

Module parameters (/sys/module/tcp_cubic/parameters, mode as Linux): fast_convergence,
beta, initial_ssthresh, tcp_friendliness, hystart, hystart_detect, hystart_low_window,
hystart_ack_delta_us (0644) and bic_scale (0444). beta_scale, cube_rtt_scale and
cube_factor are computed when the module loads (per host here), so writing ``beta``
later changes the ssthresh but not beta_scale, as in Linux.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.cong import TcpCongestionOps
from tuxnet.tcp.cong.modparams import ModParams, declare, module_params
from tuxnet.tcp.cong.reno import tcp_cong_avoid_ai, tcp_slow_start
from tuxnet.tcp.defs import CA_EVENT_TX_START, HZ, TCP_CA_Loss, usecs_to_jiffies
from tuxnet.tcp.pacing import SK_PACING_NONE

if TYPE_CHECKING:
    from tuxnet.tcp.cong import AckSample
    from tuxnet.tcp.sock import TcpSock

__all__ = ["BICTCP_BETA_SCALE", "BICTCP_HZ", "HYSTART_ACK_TRAIN", "HYSTART_DELAY",
           "TCP_CUBIC", "BicTcp", "CubicTcp", "bictcp_update", "cubic_root"]

BICTCP_BETA_SCALE = 1024  # beta is beta/1024
BICTCP_HZ = 10  # time unit 2^-10 s
HYSTART_ACK_TRAIN = 0x1
HYSTART_DELAY = 0x2
HYSTART_MIN_SAMPLES = 8
HYSTART_DELAY_MIN = 4000  # us
HYSTART_DELAY_MAX = 16000  # us
_M32 = 0xFFFFFFFF
_USEC_PER_MSEC = 1000
_USEC_PER_SEC = 1_000_000

# tcp_cubic.c module_param()s: name -> (default, mode)
_PARAMS = {
    "fast_convergence": (1, 0o644),
    "beta": (717, 0o644),
    "initial_ssthresh": (0, 0o644),
    "bic_scale": (41, 0o444),
    "tcp_friendliness": (1, 0o644),
    "hystart": (1, 0o644),
    "hystart_detect": (HYSTART_ACK_TRAIN | HYSTART_DELAY, 0o644),
    "hystart_low_window": (16, 0o644),
    "hystart_ack_delta_us": (2000, 0o644),
}


def _cubictcp_register(mp: ModParams) -> None:
    """cubictcp_register(): the constants precomputed at module load."""
    beta = mp["beta"]
    bic_scale = mp["bic_scale"]
    mp.consts["beta_scale"] = 8 * (BICTCP_BETA_SCALE + beta) // 3 // (BICTCP_BETA_SCALE - beta)
    mp.consts["cube_rtt_scale"] = bic_scale * 10  # 1024 * c / rtt
    mp.consts["cube_factor"] = (1 << (10 + 3 * BICTCP_HZ)) // (bic_scale * 10)


declare("tcp_cubic", _PARAMS, _cubictcp_register)

# cubic_root()'s table: cbrt(x << 18) - 1 for the 6 most significant bits, refined by
# hand (Willy Tarreau) -- a fact of the kernel's arithmetic, kept for exact results
_CBRT_V = (
    0, 54, 54, 54, 118, 118, 118, 118, 123, 129, 134, 138, 143, 147, 151, 156,
    157, 161, 164, 168, 170, 173, 176, 179, 181, 185, 187, 190, 192, 194, 197, 199,
    200, 202, 204, 206, 209, 211, 213, 215, 217, 219, 221, 222, 224, 225, 227, 229,
    231, 232, 234, 236, 237, 239, 240, 242, 244, 245, 246, 248, 250, 251, 252, 254,
)


def cubic_root(a: int) -> int:
    """cubic_root(): table lookup on the top bits, then one Newton-Raphson step
    x = (2x + a / x^2) / 3 (with x * (x - 1) and /3 as * 341 >> 10, as Linux)."""
    b = a.bit_length()  # fls64
    if b < 7:
        return (_CBRT_V[a] + 35) >> 6
    b = ((b * 84) >> 8) - 1
    shift = a >> (b * 3)
    x = (((_CBRT_V[shift] + 10) << b) & _M32) >> 6
    x = (2 * x + (a // (x * (x - 1)) & _M32)) & _M32
    return (x * 341 & _M32) >> 10


class BicTcp:
    """struct bictcp: per-socket CUBIC state (inet_csk_ca)."""

    __slots__ = ("ack_cnt", "bic_K", "bic_origin_point", "cnt", "curr_rtt", "delay_min",
                 "end_seq", "epoch_start", "found", "last_ack", "last_cwnd", "last_max_cwnd",
                 "last_time", "mp", "round_start", "sample_cnt", "tcp_cwnd")

    def __init__(self, mp: ModParams) -> None:
        self.mp = mp
        self.round_start = 0
        self.end_seq = 0
        self.last_ack = 0
        self.curr_rtt = 0
        self.sample_cnt = 0
        self.reset()

    def reset(self) -> None:
        """bictcp_reset(): zero everything before ``unused`` and ``found``."""
        self.cnt = 0
        self.last_max_cwnd = 0
        self.last_cwnd = 0
        self.last_time = 0
        self.bic_origin_point = 0
        self.bic_K = 0
        self.delay_min = 0
        self.epoch_start = 0
        self.ack_cnt = 0
        self.tcp_cwnd = 0
        self.found = 0


def _cubic_ca(sk: TcpSock) -> BicTcp:
    """inet_csk_ca(sk): the state, zeroed when a hook runs before init (a SYN's RTO or
    the SYN-ACK's ACK; Linux's priv area is zeroed by tcp_assign_congestion_control)."""
    ca: BicTcp | None = sk.icsk_ca_priv
    if ca is None:
        ca = sk.icsk_ca_priv = BicTcp(module_params(sk.host, "tcp_cubic"))
    return ca


def bictcp_hystart_reset(sk: TcpSock, ca: BicTcp) -> None:
    """bictcp_hystart_reset(): a new HyStart round starts at snd_nxt."""
    ca.round_start = ca.last_ack = sk.tcp_mstamp & _M32
    ca.end_seq = sk.snd_nxt
    ca.curr_rtt = _M32
    ca.sample_cnt = 0


def bictcp_update(ca: BicTcp, cwnd: int, acked: int, now: int) -> None:
    """bictcp_update(): ca.cnt, the ACKs per +1 packet, from the cubic curve and the
    Reno-friendly estimate; ``now`` is tcp_jiffies32."""
    ca.ack_cnt += acked
    if ca.last_cwnd == cwnd and now - ca.last_time <= HZ // 32:
        return
    consts = ca.mp.consts
    if not (ca.epoch_start and now == ca.last_time):
        ca.last_cwnd = cwnd
        ca.last_time = now
        if ca.epoch_start == 0:
            ca.epoch_start = now
            ca.ack_cnt = acked
            ca.tcp_cwnd = cwnd
            if ca.last_max_cwnd <= cwnd:
                ca.bic_K = 0
                ca.bic_origin_point = cwnd
            else:
                ca.bic_K = cubic_root(consts["cube_factor"] * (ca.last_max_cwnd - cwnd))
                ca.bic_origin_point = ca.last_max_cwnd
        t = now - ca.epoch_start + usecs_to_jiffies(ca.delay_min)
        t = (t << BICTCP_HZ) // HZ
        offs = ca.bic_K - t if t < ca.bic_K else t - ca.bic_K
        delta = ((consts["cube_rtt_scale"] * offs * offs * offs) >> (10 + 3 * BICTCP_HZ)) & _M32
        if t < ca.bic_K:
            bic_target = (ca.bic_origin_point - delta) & _M32
        else:
            bic_target = (ca.bic_origin_point + delta) & _M32
        if bic_target > cwnd:
            ca.cnt = cwnd // (bic_target - cwnd)
        else:
            ca.cnt = 100 * cwnd  # very small increment
        if ca.last_max_cwnd == 0 and ca.cnt > 20:
            ca.cnt = 20  # no loss seen yet: at least 5 % per RTT
    # tcp_friendliness:
    if ca.mp["tcp_friendliness"]:
        delta = (cwnd * consts["beta_scale"]) >> 3
        if delta and ca.ack_cnt > delta:
            n = (ca.ack_cnt - 1) // delta  # the while loop of the kernel, at once
            ca.ack_cnt -= n * delta
            ca.tcp_cwnd += n
        if ca.tcp_cwnd > cwnd:  # Reno would be faster: catch up
            max_cnt = cwnd // (ca.tcp_cwnd - cwnd)
            if ca.cnt > max_cnt:
                ca.cnt = max_cnt
    ca.cnt = max(ca.cnt, 2)  # at most +1 packet per 2 ACKed


class CubicTcp(TcpCongestionOps):
    """cubictcp: tcp_congestion_ops "cubic"."""

    name = "cubic"

    def init(self, sk: TcpSock) -> None:
        """cubictcp_init()."""
        mp = module_params(sk.host, "tcp_cubic")
        ca = BicTcp(mp)
        sk.icsk_ca_priv = ca
        if mp["hystart"]:
            bictcp_hystart_reset(sk, ca)
        if not mp["hystart"] and mp["initial_ssthresh"]:
            sk.snd_ssthresh = mp["initial_ssthresh"]

    def cwnd_event(self, sk: TcpSock, ev: int) -> None:
        """cubictcp_cwnd_event(): after idle, shift the epoch by the idle time so the
        curve continues where it was."""
        if ev == CA_EVENT_TX_START:
            ca = _cubic_ca(sk)
            now = sk.jiffies()
            delta = now - sk.lsndtime
            if ca.epoch_start and delta > 0:
                ca.epoch_start += delta
                if ca.epoch_start > now:
                    ca.epoch_start = now

    def cong_avoid(self, sk: TcpSock, ack: int, acked: int) -> None:
        """cubictcp_cong_avoid(): slow start, then cnt from bictcp_update."""
        if not sk.tcp_is_cwnd_limited():
            return
        if sk.tcp_in_slow_start():
            acked = tcp_slow_start(sk, acked)
            if not acked:
                return
        ca = _cubic_ca(sk)
        bictcp_update(ca, sk.snd_cwnd, acked, sk.jiffies())
        tcp_cong_avoid_ai(sk, ca.cnt, acked)

    def ssthresh(self, sk: TcpSock) -> int:
        """cubictcp_recalc_ssthresh(): end the epoch, remember W_max (with fast
        convergence), ssthresh = cwnd * beta / 1024, at least 2."""
        ca = _cubic_ca(sk)
        mp = ca.mp
        beta = mp["beta"]
        cwnd = sk.snd_cwnd
        ca.epoch_start = 0
        if cwnd < ca.last_max_cwnd and mp["fast_convergence"]:
            ca.last_max_cwnd = (cwnd * (BICTCP_BETA_SCALE + beta)) // (2 * BICTCP_BETA_SCALE)
        else:
            ca.last_max_cwnd = cwnd
        return max((cwnd * beta) // BICTCP_BETA_SCALE, 2)

    def set_state(self, sk: TcpSock, new_state: int) -> None:
        """cubictcp_state(): an RTO (TCP_CA_Loss) forgets everything."""
        if new_state == TCP_CA_Loss:
            ca = _cubic_ca(sk)
            ca.reset()
            bictcp_hystart_reset(sk, ca)

    def undo_cwnd(self, sk: TcpSock) -> int:
        """tcp_reno_undo_cwnd()."""
        return max(sk.snd_cwnd, sk.prior_cwnd)

    def pkts_acked(self, sk: TcpSock, sample: AckSample) -> None:
        """cubictcp_acked(): track delay_min; run HyStart in slow start."""
        if sample.rtt_us < 0:
            return
        ca = _cubic_ca(sk)
        if ca.epoch_start and sk.jiffies() - ca.epoch_start < HZ:
            return  # discard delay samples right after fast recovery
        delay = sample.rtt_us or 1
        if ca.delay_min == 0 or ca.delay_min > delay:
            ca.delay_min = delay
        if not ca.found and sk.tcp_in_slow_start() and ca.mp["hystart"]:
            hystart_update(sk, ca, delay)

    def get_info(self, sk: TcpSock) -> dict[str, int]:
        """No INET_DIAG info from CUBIC (Linux has no get_info for it)."""
        return {}


def hystart_ack_delay(sk: TcpSock) -> int:
    """hystart_ack_delay(): the TSO/GRO cushion, sk_gso_max_size * 4 / rate, at most
    1 ms. tuxnet's TCP does not build GSO packets (sk_gso_max_size 0): no cushion."""
    rate = sk.sk_pacing_rate
    gso_max = getattr(sk, "sk_gso_max_size", 0)
    if not rate or not gso_max:
        return 0
    return min(_USEC_PER_MSEC, gso_max * 4 * _USEC_PER_SEC // rate)


def hystart_update(sk: TcpSock, ca: BicTcp, delay: int) -> None:
    """hystart_update(): ACK-train and delay-increase detection of the slow-start exit."""
    mp = ca.mp
    if 0 < ((sk.snd_una - ca.end_seq) & _M32) < 0x80000000:
        bictcp_hystart_reset(sk, ca)
    cwnd = sk.snd_cwnd
    if cwnd < mp["hystart_low_window"]:
        return
    detect = mp["hystart_detect"]
    mib = sk.host.mib.tcpext
    if detect & HYSTART_ACK_TRAIN:
        now = sk.tcp_mstamp & _M32
        if ((now - ca.last_ack) & _M32) <= mp["hystart_ack_delta_us"]:
            ca.last_ack = now
            threshold = ca.delay_min + hystart_ack_delay(sk)
            if sk.sk_pacing_status == SK_PACING_NONE:
                threshold >>= 1  # unpaced: the train ends by delay_min / 2
            if ((now - ca.round_start) & _M32) > threshold:
                ca.found = 1
                mib.TCPHystartTrainDetect += 1
                mib.TCPHystartTrainCwnd += cwnd
                sk.snd_ssthresh = cwnd
    if detect & HYSTART_DELAY:
        if ca.curr_rtt > delay:
            ca.curr_rtt = delay
        if ca.sample_cnt < HYSTART_MIN_SAMPLES:
            ca.sample_cnt += 1
        else:
            thresh = min(max(ca.delay_min >> 3, HYSTART_DELAY_MIN), HYSTART_DELAY_MAX)
            if ca.curr_rtt > ca.delay_min + thresh:
                ca.found = 1
                mib.TCPHystartDelayDetect += 1
                mib.TCPHystartDelayCwnd += cwnd
                sk.snd_ssthresh = cwnd


TCP_CUBIC = CubicTcp()
