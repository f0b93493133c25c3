"""The response function: one flow's average window under deterministic loss, the
setting of RFC 9438 section 5 ("the number of packets between two successive packet
losses is always 1/p") and of its Table 1.

:func:`run_response` runs one bulk flow over :mod:`tuxnet.labs.cc_path` with a link
that never queues (10 Gbit/s, a buffer of 1000 BDP) and drops every N-th data packet
(N = round(1/p), retransmissions counted, as an iptables ``statistic --mode nth`` rule
would). The window is measured over whole loss cycles: N packets leave between two
drops, so the packets per round trip are ``cycles * N * RTT / (last drop - first
drop)`` for the drops after the warm-up. (The time-average of snd_cwnd, sampled every
10 ms, comes along.)

:func:`rfc9438_table` is the RFC's own number: Figure 7's AVG_W_cubic = (C * 3.7 /
1.2)^0.25 * (RTT/p)^0.75, at least Reno's 1.2 / sqrt(p) from RFC 3649 -- the RFC's
tables were computed with this closed form (rfc8312bis ``tablecode.c``), not simulated.
Linux's CUBIC does not land on it; see ``benchmarks/bench_cubic_response.py`` and
``tuxnet.tcp.cong.cubic`` for the measured kernel figures and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tuxnet.labs.cc import MS, SEC, PathSpec, run_path

__all__ = ["Response", "rfc9438_table", "run_response"]


@dataclass
class Response:
    """What :func:`run_response` measured."""

    cc: str
    loss: float
    window: float  # packets per RTT over whole loss cycles after the warm-up
    cwnd_avg: float  # time-average of snd_cwnd after the warm-up
    cycles: int  # loss cycles measured
    cycle_s: float  # their mean length, seconds


def rfc9438_table(p: float, rtt_s: float = 0.1, c: float = 0.4, cc: str = "cubic") -> float:
    """RFC 9438 section 5.1 Table 1/2: CUBIC's max(Figure 7, 1.2/sqrt(p)) or Reno's
    1.2/sqrt(p) (RFC 3649 section 5's response function), in segments."""
    reno = 1.2 / math.sqrt(p)
    if cc == "reno":
        return reno
    return max(float((c * 3.7 / 1.2) ** 0.25 * (rtt_s / p) ** 0.75), reno)


def run_response(cc: str, p: float, rtt_ns: int = 100 * MS, duration_ns: int = 60 * SEC,
                 warmup_ns: int = 15 * SEC, big_buffers: bool = False,
                 settings: tuple[tuple[str, str], ...] = ()) -> Response:
    """One ``cc`` flow with every round(1/p)-th packet dropped, for ``duration_ns`` of
    virtual time; measured over the loss cycles that start after ``warmup_ns``. The
    socket buffers are Linux's defaults (autotuned; the receiver delays ACKs) unless
    ``big_buffers`` (64 MB: the receiver stays in quick-ACK mode, one ACK a segment).
    ``settings`` are (path, value) writes on both hosts first (lab cc's ``--set``)."""
    if not 0 < p < 1:
        raise ValueError(f"loss rate must be in (0, 1), not {p}")
    spec = PathSpec(rate_bps=10_000_000_000, rtt_ns=rtt_ns, buffer_bdp=1000.0, loss=p,
                    deterministic_loss=True, ccs=(cc,), duration_ns=duration_ns,
                    warmup_ns=warmup_ns, big_buffers=big_buffers, settings=settings)
    (res,), path = run_path(spec)
    if path.dropped_queue:
        raise RuntimeError(f"the bottleneck queued and dropped {path.dropped_queue} packets")
    drops = [t for t in path.drop_times if t >= warmup_ns]
    cycles = len(drops) - 1
    if cycles < 1:
        raise RuntimeError(f"fewer than two losses after the warm-up ({len(drops)}): "
                           "run longer")
    span = drops[-1] - drops[0]
    return Response(cc=cc, loss=p, window=cycles * path.every * rtt_ns / span,
                    cwnd_avg=res.extra["cwnd_avg"], cycles=cycles, cycle_s=span / cycles / SEC)
