"""Queueing disciplines (net/sched): pfifo_fast, noqueue, pfifo, bfifo, fq, mq.

The device core creates qdiscs with :func:`qdisc_create` (or
:func:`attach_default_qdiscs` when a device comes up) and drives them through the
:class:`Qdisc` contract (enqueue / dequeue / next_time_ns / requeue / reset).
"""

from __future__ import annotations

from tuxnet.core.sched.base import (
    NET_XMIT_CN,
    NET_XMIT_DROP,
    NET_XMIT_SUCCESS,
    TC_PRIO_BESTEFFORT,
    TC_PRIO_BULK,
    TC_PRIO_CONTROL,
    TC_PRIO_FILLER,
    TC_PRIO_INTERACTIVE,
    TC_PRIO_INTERACTIVE_BULK,
    TC_PRIO_MAX,
    DropFn,
    Qdisc,
    QdiscStats,
)
from tuxnet.core.sched.fifo import BFifo, PFifo
from tuxnet.core.sched.fq import Fq, FqStats
from tuxnet.core.sched.generic import SCH_DEFAULT_PRIO2BAND, NoQueue, PfifoFast
from tuxnet.core.sched.mq import Mq
from tuxnet.core.sched.registry import (
    QDISC_KINDS,
    HandleAllocator,
    attach_default_qdiscs,
    qdisc_create,
    register_qdisc,
)
from tuxnet.core.sched.tcformat import format_tc_qdisc

__all__ = [
    "NET_XMIT_CN",
    "NET_XMIT_DROP",
    "NET_XMIT_SUCCESS",
    "QDISC_KINDS",
    "SCH_DEFAULT_PRIO2BAND",
    "TC_PRIO_BESTEFFORT",
    "TC_PRIO_BULK",
    "TC_PRIO_CONTROL",
    "TC_PRIO_FILLER",
    "TC_PRIO_INTERACTIVE",
    "TC_PRIO_INTERACTIVE_BULK",
    "TC_PRIO_MAX",
    "BFifo",
    "DropFn",
    "Fq",
    "FqStats",
    "HandleAllocator",
    "Mq",
    "NoQueue",
    "PFifo",
    "PfifoFast",
    "Qdisc",
    "QdiscStats",
    "attach_default_qdiscs",
    "format_tc_qdisc",
    "qdisc_create",
    "register_qdisc",
]
