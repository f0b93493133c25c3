"""The queueing discipline base (include/net/sch_generic.h: struct Qdisc, Qdisc_ops).

A qdisc is fed by ``dev_queue_xmit`` (``enqueue``) and drained by the device's
transmit path (``dequeue`` in ``qdisc_restart``). Time is passed in (``now_ns``), never
read. The contract the device core relies on:

- ``enqueue(skb, now_ns)`` returns NET_XMIT_SUCCESS / NET_XMIT_DROP / NET_XMIT_CN;
  a refused packet has already gone to the ``drop`` callback (qdisc_drop).
- ``dequeue(now_ns)`` returns the next skb or None (empty, or every packet throttled).
- ``next_time_ns(now_ns)``: None when empty, ``now_ns`` when a packet is ready now,
  else when a throttled (pacing) qdisc will next have one (its watchdog time).
- ``requeue(skb)`` is dev_requeue_skb: the driver refused the packet; it goes back
  ahead of everything queued (q->gso_skb) and counts in ``stats.requeues``.
- ``qlen`` (packets) and ``backlog`` (bytes) include requeued packets, as in Linux.
- ``no_queue`` is True for noqueue (q->enqueue == NULL): transmit directly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import SkBuff

__all__ = [
    "NET_XMIT_CN",
    "NET_XMIT_DROP",
    "NET_XMIT_SUCCESS",
    "TC_PRIO_BESTEFFORT",
    "TC_PRIO_BULK",
    "TC_PRIO_CONTROL",
    "TC_PRIO_FILLER",
    "TC_PRIO_INTERACTIVE",
    "TC_PRIO_INTERACTIVE_BULK",
    "TC_PRIO_MAX",
    "DropFn",
    "Qdisc",
    "QdiscStats",
    "parse_handle",
    "qdisc_pkt_len",
    "uint_param",
]

# include/linux/netdevice.h: qdisc enqueue return codes
NET_XMIT_SUCCESS = 0x00
NET_XMIT_DROP = 0x01
NET_XMIT_CN = 0x02

# include/uapi/linux/pkt_sched.h: skb->priority values the qdiscs band on
TC_PRIO_BESTEFFORT = 0
TC_PRIO_FILLER = 1
TC_PRIO_BULK = 2
TC_PRIO_INTERACTIVE_BULK = 4
TC_PRIO_INTERACTIVE = 6
TC_PRIO_CONTROL = 7
TC_PRIO_MAX = 15

DEFAULT_TX_QUEUE_LEN = 1000  # include/linux/netdevice.h: DEFAULT_TX_QUEUE_LEN
ETH_DATA_LEN = 1500  # ether_setup: mtu
ETH_HLEN = 14  # ether_setup: hard_header_len

DropFn = Callable[[SkBuff, SkbDropReason], None]

# Device attributes every qdisc accepts (Linux reads them from qdisc_dev(sch)).
DEVICE_PARAMS = ("txqueuelen", "mtu", "hard_header_len", "num_tx_queues")


def qdisc_pkt_len(skb: SkBuff) -> int:
    """qdisc_pkt_len: the length a qdisc accounts (skb->len; the GSO header overhead
    qdisc_pkt_len_init adds is not modelled yet, #3)."""
    return skb.len


def parse_handle(handle: str | int) -> int:
    """get_qdisc_handle (tc_util.c): "8001:" or "8001" (hex major) -> major number."""
    if isinstance(handle, int):
        major = handle
    else:
        text = handle[:-1] if handle.endswith(":") else handle
        if not text:
            return 0
        try:
            major = int(text, 16)
        except ValueError:
            raise ValueError(f'invalid qdisc ID "{handle}"') from None
    if not 0 <= major <= 0xFFFF:
        raise ValueError(f'invalid qdisc ID "{handle}"')
    return major


class QdiscStats:
    """gnet_stats_basic_sync (bytes, packets) + gnet_stats_queue (drops, overlimits,
    requeues): the counters ``tc -s qdisc`` prints on its Sent line."""

    __slots__ = ("dropped", "overlimits", "requeues", "sent_bytes", "sent_packets")

    def __init__(self) -> None:
        self.sent_bytes = 0
        self.sent_packets = 0
        self.dropped = 0
        self.overlimits = 0
        self.requeues = 0

    def as_dict(self) -> dict[str, int]:
        """Every counter by name (kind-specific ones included)."""
        names: list[str] = []
        for cls in type(self).__mro__:
            names.extend(getattr(cls, "__slots__", ()))
        return {n: getattr(self, n) for n in sorted(set(names))}

    def add(self, other: QdiscStats) -> None:
        """gnet_stats_add_basic + gnet_stats_add_queue (the base counters only)."""
        self.sent_bytes += other.sent_bytes
        self.sent_packets += other.sent_packets
        self.dropped += other.dropped
        self.overlimits += other.overlimits
        self.requeues += other.requeues

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.as_dict()}>"


class Qdisc:
    """struct Qdisc: one instance of a queueing discipline.

    Keyword parameters: the kind's tc options (see each subclass) plus device
    attributes ``txqueuelen`` (dev->tx_queue_len, default 1000), ``mtu`` (1500),
    ``hard_header_len`` (14), ``num_tx_queues`` (1) and the tree position
    ``handle`` ("0:" for default qdiscs), ``parent`` ("root") and ``refcnt``.
    Unknown parameters raise ValueError.
    """

    kind: ClassVar[str] = ""
    no_queue: ClassVar[bool] = False
    stats_class: ClassVar[type[QdiscStats]] = QdiscStats

    qlen: int
    backlog: int
    stats: QdiscStats

    def __init__(self, drop: DropFn, **params: Any) -> None:
        """qdisc_alloc + Qdisc_ops.init: device attributes first, then the kind's
        options (``init``); anything left over is an unknown option."""
        self._drop_cb = drop
        major = parse_handle(params.pop("handle", 0))
        self.handle = f"{major:x}:"
        self.parent: str = str(params.pop("parent", "root"))
        self.refcnt = int(params.pop("refcnt", 1))
        pop = params.pop
        self.txqueuelen = uint_param(pop("txqueuelen", DEFAULT_TX_QUEUE_LEN), "txqueuelen")
        self.mtu = uint_param(pop("mtu", ETH_DATA_LEN), "mtu")
        self.hard_header_len = uint_param(pop("hard_header_len", ETH_HLEN), "hard_header_len")
        self.num_tx_queues = uint_param(pop("num_tx_queues", 1), "num_tx_queues")
        self._requeued: deque[SkBuff] = deque()
        self._init_counters()
        self.init(params)
        self._reject_unknown(self.kind, params)

    def init(self, params: dict[str, Any]) -> None:
        """Qdisc_ops.init: take this kind's options out of ``params``."""
        return None

    def _init_counters(self) -> None:
        self.qlen = 0
        self.backlog = 0
        self.stats = self.stats_class()

    # --- the contract --------------------------------------------------------------

    def enqueue(self, skb: SkBuff, now_ns: int) -> int:
        """Qdisc_ops.enqueue: queue ``skb`` or drop it (returns NET_XMIT_*)."""
        raise NotImplementedError

    def dequeue(self, now_ns: int) -> SkBuff | None:
        """dequeue_skb (sch_generic.c): a requeued skb first, then Qdisc_ops.dequeue."""
        rq = self._requeued
        if rq:
            skb = rq.popleft()
            self.qlen -= 1
            self.backlog -= qdisc_pkt_len(skb)
            return skb
        return self._dequeue(now_ns)

    def next_time_ns(self, now_ns: int) -> int | None:
        """When dequeue will next return a packet: None when empty, ``now_ns`` if now,
        else the qdisc watchdog time (qdisc_watchdog_schedule_ns)."""
        if self._requeued:
            return now_ns
        return self._next_time_ns(now_ns)

    def requeue(self, skb: SkBuff) -> None:
        """dev_requeue_skb: the driver refused ``skb``; it is sent before anything else."""
        self._requeued.append(skb)
        self.qlen += 1
        self.backlog += qdisc_pkt_len(skb)
        self.stats.requeues += 1

    def reset(self) -> None:
        """qdisc_reset: free every queued packet (kfree_skb, reason NOT_SPECIFIED, not
        counted as a qdisc drop) and clear the queue state; counters stay."""
        rq = self._requeued
        while rq:
            self._drop_cb(rq.popleft(), SkbDropReason.NOT_SPECIFIED)
        self._reset()
        self.qlen = 0
        self.backlog = 0

    def change(self, **params: Any) -> None:
        """Qdisc_ops.change (tc qdisc change): kinds without one refuse."""
        raise ValueError("Change operation not supported by specified qdisc")

    def dump(self) -> dict[str, Any]:
        """Qdisc_ops.dump: the TCA_OPTIONS values (kernel units), in tc's print order."""
        return {}

    def dump_stats(self) -> dict[str, int] | None:
        """Qdisc_ops.dump_stats: the kind's xstats (TCA_STATS_APP), or None."""
        return None

    # --- for subclasses ----------------------------------------------------------

    def _dequeue(self, now_ns: int) -> SkBuff | None:
        raise NotImplementedError

    def _next_time_ns(self, now_ns: int) -> int | None:
        # A work-conserving qdisc has a packet ready whenever it holds one.
        return now_ns if self.qlen else None

    def _reset(self) -> None:
        raise NotImplementedError

    def _free(self, skb: SkBuff) -> None:
        """rtnl_kfree_skbs on reset/change: freed, not counted as a drop."""
        self._drop_cb(skb, SkbDropReason.NOT_SPECIFIED)

    def _qdisc_drop(self, skb: SkBuff,
                    reason: SkbDropReason = SkbDropReason.QDISC_DROP) -> int:
        """qdisc_drop (qdisc_drop_reason with ``reason``): count in qstats.drops, free
        with SKB_DROP_REASON_QDISC_DROP or the qdisc's own reason."""
        self.stats.dropped += 1
        self._drop_cb(skb, reason)
        return NET_XMIT_DROP

    @staticmethod
    def _reject_unknown(kind: str, params: dict[str, Any]) -> None:
        if params:
            name = next(iter(params))
            raise ValueError(f'{kind}: What is "{name}"?')

    def psched_mtu(self) -> int:
        """psched_mtu(dev): dev->mtu + dev->hard_header_len."""
        return self.mtu + self.hard_header_len

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.kind} {self.handle} {self.parent} "
                f"qlen={self.qlen} backlog={self.backlog}>")


def uint_param(value: Any, what: str) -> int:
    """An unsigned 32-bit value from an int or a decimal/hex string (get_u32)."""
    if isinstance(value, bool):
        raise ValueError(f'Illegal "{what}"')
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise ValueError(f'Illegal "{what}"') from None
    if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f'Illegal "{what}"')
    return value

