"""One direction of a simulated wire: transmit queue, serialisation, delay, impairments.

The path of a frame through ``Link.send``::

    send ─► [transmitter idle and queue empty?] ──yes──► transmit now
              │ no
              ▼
            qdisc enqueue (pfifo/bfifo tail drop, or CoDel) ── full ─► drop "queue_full"
              │  ... waits while earlier frames are serialised ...
              ▼
            qdisc dequeue when the transmitter frees up (CoDel may drop: "codel")
              ▼
    transmit: serialisation starts; taps (pcap) see the frame here, stamped with
              the time its first bit leaves (like tcpdump on the sender's egress)
              ▼
    on the wire, decided with the link's own seeded RNG, in this order:
      loss ("loss_random" or "loss_gilbert")  -> the frame vanishes in flight
      duplicate -> a clean second copy also arrives
      corrupt   -> the delivered copy has one bit flipped (taps saw it clean)
      delay     -> arrival = end of serialisation + delay (+ jitter, or reorder)
              ▼
    receiver.receive_frame(frame, link) at the arrival time

Timing. Serialisation lasts exactly ``(len + overhead) * 8 / rate`` seconds. Time is
kept as an integer ns plus a remainder (in units of 1/rate ns), so the exact end of
each frame is known; the event fires at the *ceiling* ns, and a frame that follows
back-to-back starts from the exact (fractional) end of the one before. One frame
never finishes early, and over many frames the link runs at exactly ``rate``.
1500 B at 100 Mbit/s take 120 000 ns; 64 B at 10 Gbit/s take 51.2 -> 52 ns, the
next one 51.2 ns later -> 103 ns.

Events per frame: one arrival, plus one dequeue event only when the frame had to
wait in the queue (a frame sent to an idle link starts at once, inside ``send``).

Differences from netem, on purpose (a wire, not a qdisc): loss, duplication and
corruption happen *after* the queue and the transmitter, so a lost frame still used
the line and shows in a capture; loss is decided before duplication (netem decides
duplication first, and a loss then cancels only the copy).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol, Unpack

from tuxnet.loop.base import EventLoop
from tuxnet.sim.config import LinkConfig, LinkParams
from tuxnet.sim.qdisc import CoDelQueue, FifoQueue

__all__ = [
    "DROP_REASONS",
    "DropHook",
    "FrameReceiver",
    "Link",
    "PacketSink",
]

# Drop reasons a link counts (stats key "drop_<reason>").
DROP_REASONS = ("queue_full", "codel", "loss_random", "loss_gilbert", "no_receiver")

_NS_BITS = 8 * 1_000_000_000  # bits per byte x ns per second


class FrameReceiver(Protocol):
    """Anything a link can deliver to (later: the simulated NIC)."""

    def receive_frame(self, frame: bytes, link: Link) -> None: ...


class PacketSink(Protocol):
    """A capture target, e.g. ``tuxnet.pcap.PcapWriter``."""

    def write_packet(
        self, ts_ns: int, data: bytes | memoryview, orig_len: int | None = None
    ) -> object: ...


# (link, frame, reason) -> None; reason is one of DROP_REASONS.
DropHook = Callable[["Link", bytes, str], None]


class Link:
    """One direction of a wire: ``send`` frames in, ``receiver`` gets them out.

    ``Link(loop, rate_bps=100_000_000, delay_ns=1_000_000, loss=0.01, seed=7)`` or
    ``Link(loop, config, seed=7)``; keyword parameters override ``config`` fields.
    See :class:`~tuxnet.sim.config.LinkConfig` for each parameter.
    """

    __slots__ = (
        "_call_at",
        "_corrupt",
        "_delay",
        "_dequeue_pending",
        "_duplicate",
        "_free_ns",
        "_free_rem",
        "_ge_1h",
        "_ge_1k",
        "_ge_bad",
        "_ge_p",
        "_ge_r",
        "_gilbert",
        "_impaired",
        "_jitter",
        "_jitter_normal",
        "_jitter_reorder",
        "_last_arrival",
        "_loop",
        "_loss",
        "_now",
        "_overhead",
        "_q",
        "_qd",
        "_rate",
        "_receiver",
        "_reorder",
        "_reorder_count",
        "_reorder_delay",
        "_reorder_gap",
        "_rng",
        "_taps",
        "_train_off",
        "config",
        "corrupted",
        "delivered_bytes",
        "delivered_packets",
        "drop_codel",
        "drop_hook",
        "drop_loss_gilbert",
        "drop_loss_random",
        "drop_no_receiver",
        "drop_queue_full",
        "duplicated",
        "in_flight_packets",
        "name",
        "reordered",
        "seed",
        "sent_bytes",
        "sent_packets",
        "tx_bytes",
        "tx_packets",
    )

    def __init__(
        self,
        loop: EventLoop,
        config: LinkConfig | None = None,
        *,
        seed: int = 0,
        name: str = "link",
        receiver: FrameReceiver | None = None,
        **params: Unpack[LinkParams],
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        if config is None:
            config = LinkConfig(**params)
        elif params:
            config = replace(config, **params)
        self._loop = loop
        self._now = loop.now_ns
        self._call_at = loop.call_at
        self.config = config
        self.seed = seed
        self.name = name
        self._rng = random.Random(seed)
        self._receiver = receiver
        self._taps: list[PacketSink] = []
        self.drop_hook: DropHook | None = None

        c = config
        self._rate = c.rate_bps or 0
        self._overhead = c.overhead_bytes
        self._delay = c.delay_ns
        self._jitter = c.jitter_ns
        self._jitter_normal = c.jitter_dist == "normal"
        self._jitter_reorder = c.jitter_reorder
        self._loss = c.loss
        self._gilbert = c.gilbert is not None
        ge = c.gilbert
        self._ge_p = ge.p if ge is not None else 0.0
        self._ge_r = ge.r_eff if ge is not None else 0.0
        self._ge_1h = ge.one_minus_h if ge is not None else 0.0
        self._ge_1k = ge.one_minus_k if ge is not None else 0.0
        self._ge_bad = False  # netem starts in the Good state
        self._reorder = c.reorder
        self._reorder_gap = c.reorder_gap
        self._reorder_delay = c.reorder_delay_ns
        self._reorder_count = 0
        self._duplicate = c.duplicate
        self._corrupt = c.corrupt
        if c.qdisc == "codel":
            self._q: FifoQueue = CoDelQueue(
                c.queue_limit_pkts,
                c.queue_limit_bytes,
                target_ns=c.codel_target_ns,
                interval_ns=c.codel_interval_ns,
                mtu_bytes=c.codel_mtu_bytes,
                drop_fn=self._codel_drop,
            )
        else:
            self._q = FifoQueue(c.queue_limit_pkts, c.queue_limit_bytes)
        self._qd = self._q.frames  # the deque itself: a cheap emptiness test
        self._impaired = bool(c.loss or c.gilbert or c.duplicate or c.corrupt or c.reorder
                              or c.jitter_ns)
        # impairments a TSO train cannot model as one event (all but random loss)
        self._train_off = bool(c.gilbert or c.duplicate or c.corrupt or c.reorder
                               or c.jitter_ns)

        # Transmitter: free from _free_ns - _free_rem/rate (exact), see module doc.
        self._free_ns = 0
        self._free_rem = 0
        self._dequeue_pending = False
        self._last_arrival = 0

        self.sent_packets = 0
        self.sent_bytes = 0
        self.tx_packets = 0
        self.tx_bytes = 0
        self.delivered_packets = 0
        self.delivered_bytes = 0
        self.drop_queue_full = 0
        self.drop_codel = 0
        self.drop_loss_random = 0
        self.drop_loss_gilbert = 0
        self.drop_no_receiver = 0
        self.duplicated = 0
        self.corrupted = 0
        self.reordered = 0
        self.in_flight_packets = 0

    def __repr__(self) -> str:
        return f"<Link {self.name} rate={self.config.rate_bps} delay={self._delay}ns>"

    # -- wiring ---------------------------------------------------------------------

    def connect(self, receiver: FrameReceiver) -> None:
        """Deliver arriving frames to ``receiver.receive_frame(frame, self)``."""
        self._receiver = receiver

    @property
    def receiver(self) -> FrameReceiver | None:
        return self._receiver

    def add_tap(self, sink: PacketSink) -> None:
        """Record every frame put on this wire (at transmission start) into ``sink``."""
        self._taps.append(sink)

    def remove_tap(self, sink: PacketSink) -> None:
        self._taps.remove(sink)

    # -- sender side ----------------------------------------------------------------

    @property
    def backlog_packets(self) -> int:
        """Frames waiting in the transmit queue (not counting the one on the wire)."""
        return len(self._q)

    @property
    def backlog_bytes(self) -> int:
        return self._q.backlog_bytes

    @property
    def busy_until_ns(self) -> int:
        """When the frame being serialised ends (<= now when the transmitter is idle)."""
        return self._free_ns

    @property
    def qdisc(self) -> FifoQueue:
        """The transmit queue (a CoDelQueue when qdisc="codel"), for its counters."""
        return self._q

    def send(self, frame: bytes | bytearray | memoryview) -> bool:
        """Offer a frame to the link; False when the queue drops it (tail drop).

        The link keeps its own immutable copy (a bytearray is copied, bytes is not),
        so the caller may reuse its buffer at once.
        """
        if type(frame) is not bytes:
            frame = bytes(frame)
        self.sent_packets += 1
        self.sent_bytes += len(frame)
        now = self._now()
        if not self._qd and now >= self._free_ns:
            self._transmit(frame, now)
            return True
        if not self._q.enqueue(frame, now):
            self.drop_queue_full += 1
            if self.drop_hook is not None:
                self.drop_hook(self, frame, "queue_full")
            return False
        if not self._dequeue_pending:
            self._dequeue_pending = True
            self._call_at(self._free_ns, self._dequeue)
        return True

    def train_ready(self) -> bool:
        """Whether a TSO train may cross as one event (drivers/simnic_tso): the
        transmitter idle with nothing queued, no capture tap, and no impairment but
        random loss (not with a drop hook, which wants each lost frame's bytes)."""
        return (not (self._train_off or self._taps or self._qd)
                and (not self._loss or self.drop_hook is None)
                and self._now() >= self._free_ns)

    def send_train(self, frame: bytes, nframes: int, frame_len: int, wire_bytes: int,
                   gso_size: int) -> int:
        """Serialise ``nframes`` back-to-back frames (all ``frame_len`` bytes but the
        last; ``wire_bytes`` in all), only when ``train_ready``, counted per frame.
        Random loss is drawn per frame in order, as for frames sent one by one; each
        run of surviving frames reaches the receiver's ``receive_train`` (the merged
        ``frame`` with the run's first index and length) when its last frame arrives.
        Returns the end of serialisation, where the last frame sent alone would end."""
        now = self._now()
        self.sent_packets += nframes
        self.sent_bytes += wire_bytes
        self.tx_packets += nframes
        self.tx_bytes += wire_bytes
        loss = self._loss
        lost: list[int] = []
        if loss:
            rng = self._rng
            lost = [k for k in range(nframes) if rng.random() < loss]
        if not lost:
            end = (self._serialise(wire_bytes + nframes * self._overhead, now) if self._rate
                   else now)
            self.in_flight_packets += nframes
            self._call_at(end + self._delay, self._deliver_train, frame, nframes, wire_bytes,
                          gso_size, 0, nframes)
            return end
        self.drop_loss_random += len(lost)
        over = self._overhead
        last_len = wire_bytes - (nframes - 1) * frame_len
        lost.append(nframes)  # a sentinel: the train's end closes the last run
        first = 0
        end = now
        for cut in lost:
            for k in range(first, cut + 1 if cut < nframes else cut):
                n = frame_len if k < nframes - 1 else last_len
                if self._rate:
                    end = self._serialise(n + over, now if k == 0 else self._free_ns)
                if k == cut - 1:  # the run's last frame has left
                    count = cut - first
                    run_bytes = count * frame_len - (frame_len - last_len if cut == nframes
                                                     else 0)
                    self.in_flight_packets += count
                    self._call_at(end + self._delay, self._deliver_train, frame, nframes,
                                  run_bytes, gso_size, first, count)
            first = cut + 1
        return end

    def _deliver_train(self, frame: bytes, nframes: int, wire_bytes: int, gso_size: int,
                       first: int, count: int) -> None:
        self.in_flight_packets -= count
        receiver = self._receiver
        if receiver is None:
            self.drop_no_receiver += count
            if self.drop_hook is not None:
                self.drop_hook(self, frame, "no_receiver")
            return
        self.delivered_packets += count
        self.delivered_bytes += wire_bytes
        receiver.receive_train(frame, self, gso_size, nframes, wire_bytes,  # type: ignore[attr-defined]
                               first, count)

    def _dequeue(self) -> None:
        # The transmitter has finished a frame: take the next one from the qdisc.
        now = self._now()
        frame = self._q.dequeue(now)
        if frame is not None:
            self._transmit(frame, now)
        if self._qd:
            self._call_at(self._free_ns, self._dequeue)
        else:
            self._dequeue_pending = False

    def _codel_drop(self, frame: bytes) -> None:
        self.drop_codel += 1
        if self.drop_hook is not None:
            self.drop_hook(self, frame, "codel")

    # -- the wire -------------------------------------------------------------------

    def _serialise(self, nbytes: int, now: int) -> int:
        """Occupy the transmitter for ``nbytes`` (overhead included) from ``now``;
        back to back, from the previous frame's exact (fractional) end. Returns the
        ns the last bit leaves (the ceiling)."""
        rate = self._rate
        carry = self._free_rem if now == self._free_ns else 0
        d, r = divmod(nbytes * _NS_BITS - carry, rate)
        if r:
            d += 1
            self._free_rem = rate - r
        else:
            self._free_rem = 0
        end = now + d
        self._free_ns = end
        return end

    def _transmit(self, frame: bytes, now: int) -> None:
        """Serialise ``frame`` starting at ``now``, then send it down the wire."""
        n = len(frame)
        end = self._serialise(n + self._overhead, now) if self._rate else now
        self.tx_packets += 1
        self.tx_bytes += n
        if self._taps:
            for sink in self._taps:
                sink.write_packet(now, frame)
        if self._impaired:
            self._impair(frame, end)
        else:
            self.in_flight_packets += 1
            self._call_at(end + self._delay, self._deliver, frame)

    def _impair(self, frame: bytes, end: int) -> None:
        """Loss, duplication, corruption, then jitter/reorder (see the module doc)."""
        rng = self._rng
        if self._loss and rng.random() < self._loss:
            self.drop_loss_random += 1
            if self.drop_hook is not None:
                self.drop_hook(self, frame, "loss_random")
            return
        if self._gilbert and self._gilbert_lost(rng):
            self.drop_loss_gilbert += 1
            if self.drop_hook is not None:
                self.drop_hook(self, frame, "loss_gilbert")
            return
        dup = bool(self._duplicate) and rng.random() < self._duplicate
        clean = frame
        if self._corrupt and frame and rng.random() < self._corrupt:
            # netem corrupt: one random bit of one random byte.
            buf = bytearray(frame)
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            frame = bytes(buf)
            self.corrupted += 1
        self._launch(frame, end, rng)
        if dup:
            self.duplicated += 1
            self._launch(clean, end, rng)

    def _gilbert_lost(self, rng: random.Random) -> bool:
        # sch_netem.c loss_gilb_ell: transition draw, then the loss draw with the
        # probability of the state the frame started in.
        if self._ge_bad:
            if rng.random() < self._ge_r:
                self._ge_bad = False
            return rng.random() < self._ge_1h
        if rng.random() < self._ge_p:
            self._ge_bad = True
        return rng.random() < self._ge_1k

    def _launch(self, frame: bytes, tx_end: int, rng: random.Random) -> None:
        """Schedule the arrival of a frame whose last bit left at ``tx_end``."""
        if self._reorder:
            # netem reorder/gap: after gap-1 frames, each frame with probability P
            # goes at once (skips the delay).
            if self._reorder_count >= self._reorder_gap - 1 and rng.random() < self._reorder:
                self._reorder_count = 0
                self.reordered += 1
                self.in_flight_packets += 1
                self._call_at(tx_end + self._reorder_delay, self._deliver, frame)
                return
            self._reorder_count += 1
        arrival = tx_end + self._delay
        j = self._jitter
        if j:
            if self._jitter_normal:
                arrival += round(rng.gauss(0.0, j))
            else:
                arrival += rng.randrange(-j, j)  # netem tabledist: [mu-sigma, mu+sigma)
            if arrival < tx_end:
                arrival = tx_end
            if not self._jitter_reorder:
                if arrival < self._last_arrival:
                    arrival = self._last_arrival
                self._last_arrival = arrival
        self.in_flight_packets += 1
        self._call_at(arrival, self._deliver, frame)

    def _deliver(self, frame: bytes) -> None:
        self.in_flight_packets -= 1
        receiver = self._receiver
        if receiver is None:
            self.drop_no_receiver += 1
            if self.drop_hook is not None:
                self.drop_hook(self, frame, "no_receiver")
            return
        self.delivered_packets += 1
        self.delivered_bytes += len(frame)
        receiver.receive_frame(frame, self)

    # -- counters -------------------------------------------------------------------

    def drops(self) -> dict[str, int]:
        """Dropped frames by reason (every reason present, zero or not)."""
        return {reason: getattr(self, "drop_" + reason) for reason in DROP_REASONS}

    def stats(self) -> dict[str, int]:
        """All counters. Invariants (tested):

        sent = tx + drop_queue_full + drop_codel + backlog_packets
        tx + duplicated = delivered + drop_loss_* + drop_no_receiver + in_flight
        """
        q = self._q
        out = {
            "sent_packets": self.sent_packets,
            "sent_bytes": self.sent_bytes,
            "tx_packets": self.tx_packets,
            "tx_bytes": self.tx_bytes,
            "delivered_packets": self.delivered_packets,
            "delivered_bytes": self.delivered_bytes,
        }
        drops = self.drops()
        for reason, n in drops.items():
            out["drop_" + reason] = n
        out["drops"] = sum(drops.values())
        out.update(
            duplicated=self.duplicated,
            corrupted=self.corrupted,
            reordered=self.reordered,
            in_flight_packets=self.in_flight_packets,
            backlog_packets=len(q),
            backlog_bytes=q.backlog_bytes,
            max_backlog_packets=q.max_backlog_packets,
            max_backlog_bytes=q.max_backlog_bytes,
        )
        return out
