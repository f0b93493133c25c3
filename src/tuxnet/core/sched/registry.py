"""Qdisc creation and default attachment (net/sched/sch_api.c, sch_generic.c)."""

from __future__ import annotations

from typing import Any

from tuxnet.core.sched.base import DropFn, Qdisc
from tuxnet.core.sched.fifo import BFifo, PFifo
from tuxnet.core.sched.fq import Fq
from tuxnet.core.sched.generic import NoQueue, PfifoFast
from tuxnet.core.sched.mq import Mq

__all__ = ["QDISC_KINDS", "HandleAllocator", "attach_default_qdiscs", "qdisc_create",
           "register_qdisc"]

# register_qdisc: kind -> Qdisc_ops
QDISC_KINDS: dict[str, type[Qdisc]] = {}


def register_qdisc(cls: type[Qdisc]) -> type[Qdisc]:
    """register_qdisc: make ``cls.kind`` creatable (a duplicate kind is refused)."""
    if not cls.kind or cls.kind in QDISC_KINDS:
        raise ValueError(f"qdisc kind {cls.kind!r} is empty or already registered")
    QDISC_KINDS[cls.kind] = cls
    return cls


for _cls in (PfifoFast, NoQueue, PFifo, BFifo, Fq, Mq):
    register_qdisc(_cls)


def qdisc_create(kind: str, drop: DropFn, **params: Any) -> Qdisc:
    """qdisc_create: a new qdisc of ``kind`` with tc options and device attributes
    (see Qdisc). Unknown kinds and bad parameters raise ValueError."""
    cls = QDISC_KINDS.get(kind)
    if cls is None:
        raise ValueError(f'Specified qdisc kind is unknown: "{kind}"')
    return cls(drop, **params)


class HandleAllocator:
    """qdisc_alloc_handle: automatic handles 8001:, 8002: ... (one counter per host,
    starting at TC_H_MAKE(0x80000000U, 0) and stepping before use)."""

    def __init__(self) -> None:
        self._next = 0x8000

    def alloc(self, in_use: set[str] | frozenset[str] = frozenset()) -> str:
        """The next free automatic handle."""
        for _ in range(0x10000):
            self._next += 1
            if self._next > 0xFFFF:
                self._next = 0x8001
            handle = f"{self._next:x}:"
            if handle not in in_use:
                return handle
        raise ValueError("no free qdisc handle")  # -ENOSPC


def attach_default_qdiscs(drop: DropFn, *, num_tx_queues: int = 1, txqueuelen: int = 1000,
                          mtu: int = 1500, hard_header_len: int = 14, no_queue: bool = False,
                          default_qdisc: str = "pfifo_fast") -> Qdisc:
    """attach_default_qdiscs: the root qdisc a device gets when it comes up.

    IFF_NO_QUEUE devices (loopback, veth) get noqueue; a single-queue device the
    default qdisc (net.core.default_qdisc, pfifo_fast); a multi-queue device mq with
    one default child per TX queue. The root is shared by the device and its TX
    queues, hence refcnt num_tx_queues + 1 (2 for noqueue, 1 for mq). A default
    that net.core.default_qdisc accepts but tuxnet lacks (fq_codel, sfq: #3) is
    replaced by pfifo_fast rather than leaving the device without a qdisc.
    """
    if default_qdisc not in QDISC_KINDS or default_qdisc in ("mq", "noqueue"):
        default_qdisc = "pfifo_fast"
    dev = {"txqueuelen": txqueuelen, "mtu": mtu, "hard_header_len": hard_header_len,
           "num_tx_queues": num_tx_queues}
    if no_queue:
        return qdisc_create("noqueue", drop, refcnt=2, **dev)
    if num_tx_queues <= 1:
        return qdisc_create(default_qdisc, drop, refcnt=2, **dev)
    return qdisc_create("mq", drop, default_qdisc=default_qdisc, **dev)
