"""Link parameters, validated once at construction (bad input -> ValueError).

``LinkConfig`` carries everything a :class:`~tuxnet.sim.link.Link` needs except the
loop, seed and name, so one value can describe both directions of a duplex link.
``LinkParams`` is the same field list as keyword arguments (for ``**params``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypedDict

__all__ = ["GilbertElliott", "JitterDist", "LinkConfig", "LinkParams", "QdiscKind"]

QdiscKind = Literal["pfifo", "codel"]
JitterDist = Literal["uniform", "normal"]

# Linux: default txqueuelen (ether_setup) and pfifo/codel default limit, packets.
DEFAULT_QUEUE_LIMIT_PKTS = 1000
# RFC 8289 4.2/4.3 (and sch_codel.c defaults): target 5 ms, interval 100 ms.
CODEL_TARGET_NS = 5_000_000
CODEL_INTERVAL_NS = 100_000_000
# RFC 8289 uses maxpacket = MTU; sch_codel.c: psched_mtu() = 1500 + 14 (Ethernet).
CODEL_MTU_BYTES = 1514


def _check_prob(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a probability, got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be within [0, 1], got {value!r}")


def _check_int(name: str, value: int, *, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


@dataclass(frozen=True, slots=True)
class GilbertElliott:
    """Gilbert-Elliott burst loss, as netem's ``loss gemodel p [r [1-h [1-k]]]``.

    Two states, Good and Bad. Per frame (sch_netem.c loss_gilb_ell): first the
    transition draw (Good->Bad with ``p``, Bad->Good with ``r``), then the loss draw
    with the loss probability of the state the frame *started* in: ``1-k`` in Good,
    ``1-h`` in Bad. Defaults as tc-netem(8)/q_netem.c: ``r = 1-p``, ``1-h = 1``,
    ``1-k = 0`` (which is the Bernoulli special case with loss rate p).
    With ``1-h = 1`` and ``1-k = 0`` bursts are geometric with mean length 1/r and
    the loss rate is p/(p+r) (Gilbert, 1960; Elliott, 1963).
    """

    p: float
    r: float | None = None
    one_minus_h: float = 1.0
    one_minus_k: float = 0.0

    def __post_init__(self) -> None:
        _check_prob("gilbert p", self.p)
        if self.r is not None:
            _check_prob("gilbert r", self.r)
        _check_prob("gilbert 1-h", self.one_minus_h)
        _check_prob("gilbert 1-k", self.one_minus_k)

    @property
    def r_eff(self) -> float:
        """r, defaulting to 1-p as tc does."""
        return 1.0 - self.p if self.r is None else self.r

    def loss_rate(self) -> float:
        """Stationary loss probability: pi_B*(1-h) + pi_G*(1-k)."""
        p, r = self.p, self.r_eff
        if p + r == 0.0:
            return self.one_minus_k  # never leaves the initial Good state
        pi_bad = p / (p + r)
        return pi_bad * self.one_minus_h + (1.0 - pi_bad) * self.one_minus_k


class LinkParams(TypedDict, total=False):
    """Keyword form of :class:`LinkConfig` (for ``Link(..., **params)``)."""

    rate_bps: int | None
    delay_ns: int
    jitter_ns: int
    jitter_dist: JitterDist
    jitter_reorder: bool
    loss: float
    gilbert: GilbertElliott | None
    reorder: float
    reorder_gap: int
    reorder_delay_ns: int
    duplicate: float
    corrupt: float
    queue_limit_pkts: int | None
    queue_limit_bytes: int | None
    qdisc: QdiscKind
    overhead_bytes: int
    codel_target_ns: int
    codel_interval_ns: int
    codel_mtu_bytes: int


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """One direction's bandwidth, delay, impairments and queue.

    rate_bps          line rate in bit/s; None = infinitely fast (no serialisation).
    delay_ns          propagation delay, added after serialisation.
    jitter_ns         delay variation: uniform in [delay-jitter, delay+jitter) as netem
                      without a distribution table ("normal": gauss(delay, jitter)).
    jitter_reorder    False (default): jitter never reorders, like netem with ``rate``
                      (a frame never arrives before the one sent ahead of it).
                      True: each frame keeps its own draw, like netem without rate.
    loss              Bernoulli loss probability (netem ``loss random``).
    gilbert           Gilbert-Elliott loss; exclusive with ``loss`` (netem has one
                      loss model at a time).
    reorder, reorder_gap, reorder_delay_ns
                      netem ``reorder P gap N``: once N-1 frames have gone the normal
                      way, each frame with probability P skips the delay and arrives
                      ``reorder_delay_ns`` (default 0) after serialisation, overtaking
                      those still in flight. Needs delay_ns > reorder_delay_ns.
    duplicate         probability that a frame arrives twice.
    corrupt           probability that one random bit of one random byte is flipped.
    queue_limit_pkts  transmit-queue limit in frames (pfifo ``limit``; default 1000 =
                      Linux txqueuelen); None = unlimited.
    queue_limit_bytes transmit-queue limit in bytes (bfifo ``limit``); None = unlimited.
    qdisc             "pfifo" (tail drop) or "codel" (RFC 8289 + the same tail limits).
    overhead_bytes    bytes added to each frame's length for serialisation only
                      (netem ``rate ... PACKETOVERHEAD``; 24 = preamble+SFD+FCS+IFG).
    """

    rate_bps: int | None = None
    delay_ns: int = 0
    jitter_ns: int = 0
    jitter_dist: JitterDist = "uniform"
    jitter_reorder: bool = False
    loss: float = 0.0
    gilbert: GilbertElliott | None = None
    reorder: float = 0.0
    reorder_gap: int = 1
    reorder_delay_ns: int = 0
    duplicate: float = 0.0
    corrupt: float = 0.0
    queue_limit_pkts: int | None = DEFAULT_QUEUE_LIMIT_PKTS
    queue_limit_bytes: int | None = None
    qdisc: QdiscKind = "pfifo"
    overhead_bytes: int = 0
    codel_target_ns: int = CODEL_TARGET_NS
    codel_interval_ns: int = CODEL_INTERVAL_NS
    codel_mtu_bytes: int = CODEL_MTU_BYTES

    def __post_init__(self) -> None:
        if self.rate_bps is not None:
            _check_int("rate_bps", self.rate_bps, minimum=1)
        _check_int("delay_ns", self.delay_ns)
        _check_int("jitter_ns", self.jitter_ns)
        if self.jitter_dist not in ("uniform", "normal"):
            raise ValueError(f"jitter_dist must be 'uniform' or 'normal', got "
                             f"{self.jitter_dist!r}")
        for name in ("loss", "reorder", "duplicate", "corrupt"):
            _check_prob(name, getattr(self, name))
        if self.gilbert is not None:
            if not isinstance(self.gilbert, GilbertElliott):
                raise ValueError(f"gilbert must be a GilbertElliott, got {self.gilbert!r}")
            if self.loss > 0.0:
                raise ValueError("loss and gilbert are exclusive (netem: one loss model)")
        _check_int("reorder_gap", self.reorder_gap, minimum=1)
        _check_int("reorder_delay_ns", self.reorder_delay_ns)
        if self.reorder > 0.0 and self.reorder_delay_ns >= self.delay_ns:
            # q_netem.c: "reordering not possible without specifying some delay"
            raise ValueError("reorder needs delay_ns > reorder_delay_ns")
        if self.queue_limit_pkts is not None:
            _check_int("queue_limit_pkts", self.queue_limit_pkts)
        if self.queue_limit_bytes is not None:
            _check_int("queue_limit_bytes", self.queue_limit_bytes)
        if self.qdisc not in ("pfifo", "codel"):
            raise ValueError(f"qdisc must be 'pfifo' or 'codel', got {self.qdisc!r}")
        _check_int("overhead_bytes", self.overhead_bytes)
        _check_int("codel_target_ns", self.codel_target_ns, minimum=1)
        _check_int("codel_interval_ns", self.codel_interval_ns, minimum=1)
        _check_int("codel_mtu_bytes", self.codel_mtu_bytes, minimum=1)
