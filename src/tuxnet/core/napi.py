"""NAPI: interrupt mitigation by polling (Salim, Olsson & Kuznetsov 2001), net_rx_action.

A driver's hard-IRQ handler masks its queue's interrupt and calls
:func:`napi_schedule`, which puts the queue's :class:`NapiStruct` on the CPU's poll
list and raises NET_RX_SOFTIRQ. :func:`net_rx_action` then polls the listed instances
round robin, each up to its ``weight`` (NAPI_POLL_WEIGHT 64), the whole run bounded by
net.core.netdev_budget (300 packets) and netdev_budget_usecs (2000 µs of virtual
time); stopping with work left counts a ``time_squeeze`` and re-raises the softirq
(which handle_softirqs may hand to ksoftirqd). A driver poll that did less than its
budget has emptied its ring: it calls :func:`napi_complete_done` and re-enables its
interrupt only if that returns True.

The driver contract is Linux's ``poll(napi, budget) -> work_done``. To let hardirqs
preempt the softirq per packet, ``net_rx_action`` calls ``poll`` with budgets of
``chunk`` packets (NetCore.chunk_packets, default 1) until the instance has done
``weight`` packets or returns less than it was asked; the napi:napi_poll tracepoint
reports the whole weight-sized poll, as Linux does.

GRO hooks in at ``napi.gro``: an object with ``gro_receive(skb)`` and
``flush(older_than_ns=None)`` (None = pass-through to netif_receive_skb), e.g.
tuxnet.core.gro.GroCell; it is flushed by napi_complete_done, and its packets older
than the current jiffy when a poll consumes its whole weight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from tuxnet.core import cpu as _cpu
from tuxnet.core.cpu import NET_RX_SOFTIRQ, Cpu

if TYPE_CHECKING:
    from tuxnet.core.netcore import NetCore
    from tuxnet.core.netdevice import NetDevice
    from tuxnet.core.softnet import SoftnetData
    from tuxnet.skb import SkBuff

__all__ = [
    "NAPI_POLL_WEIGHT",
    "NAPI_STATE_DISABLE",
    "NAPI_STATE_MISSED",
    "NAPI_STATE_SCHED",
    "GroLike",
    "NapiStruct",
    "napi_complete_done",
    "napi_disable",
    "napi_enable",
    "napi_schedule",
    "napi_schedule_prep",
    "net_rx_action",
]

NAPI_POLL_WEIGHT = 64  # include/linux/netdevice.h
TICK_NSEC = 1_000_000  # HZ 1000
# include/linux/netdevice.h: enum napi_state bits (the ones modelled)
NAPI_STATE_SCHED = 1 << 0  # poll is scheduled
NAPI_STATE_MISSED = 1 << 1  # reschedule a napi
NAPI_STATE_DISABLE = 1 << 2  # disable pending


class GroLike(Protocol):
    """What NAPI needs of a GRO engine (tuxnet.core.gro)."""

    def gro_receive(self, skb: SkBuff) -> object: ...

    def flush(self, older_than_ns: int | None = None) -> object: ...


PollFn = Callable[["NapiStruct", int], int]


class NapiStruct:
    """struct napi_struct: a device queue's (or a CPU backlog's) poll context."""

    __slots__ = (
        "data",
        "dev",
        "gro",
        "list_owner",
        "name",
        "napi_id",
        "poll",
        "polls",
        "sd",
        "state",
        "weight",
    )

    def __init__(self, poll: PollFn, weight: int = NAPI_POLL_WEIGHT, *,
                 dev: NetDevice | None = None, data: Any = None, name: str = "") -> None:
        self.poll = poll
        self.weight = weight
        self.dev = dev
        self.data = data  # the driver's queue (netdev_priv-like)
        self.name = name
        self.state = 0
        self.napi_id = 0
        self.gro: GroLike | None = None
        self.list_owner = -1  # CPU whose poll list holds it
        self.sd: SoftnetData | None = None  # set for a CPU's backlog instance
        self.polls = 0

    def __repr__(self) -> str:
        return f"<NapiStruct {self.name} id={self.napi_id} state={self.state:#x}>"


def napi_schedule_prep(napi: NapiStruct) -> bool:
    """napi_schedule_prep: claim the SCHED bit; if it was set, note MISSED instead."""
    state = napi.state
    if state & NAPI_STATE_DISABLE:
        return False
    if state & NAPI_STATE_SCHED:
        napi.state = state | NAPI_STATE_MISSED
        return False
    napi.state = state | NAPI_STATE_SCHED
    return True


def _napi_schedule(napi: NapiStruct, cpu: Cpu) -> None:
    """____napi_schedule: append to the CPU's poll list; raise NET_RX unless
    net_rx_action is running there (it picks the new entry up itself)."""
    sd = cpu.sd
    napi.list_owner = cpu.index
    sd.poll_list.append(napi)
    if not sd.in_net_rx_action:
        cpu.raise_softirq(NET_RX_SOFTIRQ)


def napi_schedule(napi: NapiStruct, cpu: Cpu) -> bool:
    """napi_schedule: schedule ``napi`` on ``cpu`` (the CPU that took the interrupt)."""
    if napi_schedule_prep(napi):
        _napi_schedule(napi, cpu)
        return True
    return False


def napi_complete_done(napi: NapiStruct, work_done: int) -> bool:
    """napi_complete_done: the driver emptied its ring. Flush GRO and clear SCHED;
    False if a schedule was missed meanwhile (the instance is polled again and the
    driver must keep its interrupt masked)."""
    gro = napi.gro
    if gro is not None:
        gro.flush()
    state = napi.state
    if state & NAPI_STATE_MISSED:
        napi.state = state & ~NAPI_STATE_MISSED
        owner = napi.list_owner
        cpu = _cpu._running  # current_cpu()
        if cpu is not None and (owner < 0 or owner == cpu.index):
            _napi_schedule(napi, cpu)
            return False
    napi.state = state & ~(NAPI_STATE_SCHED | NAPI_STATE_MISSED)
    return True


def napi_enable(napi: NapiStruct) -> None:
    """napi_enable: allow scheduling."""
    napi.state &= ~(NAPI_STATE_DISABLE | NAPI_STATE_SCHED | NAPI_STATE_MISSED)


def napi_disable(napi: NapiStruct) -> None:
    """napi_disable: forbid scheduling (a scheduled instance completes at its next
    poll)."""
    napi.state |= NAPI_STATE_DISABLE


def net_rx_action(cpu: Cpu, core: NetCore) -> Iterator[None]:
    """net_rx_action: NET_RX_SOFTIRQ handler (net/core/dev.c)."""
    sd = cpu.sd
    budget = core.netdev_budget
    time_limit = cpu.clock_ns() + core.netdev_budget_usecs * 1000
    sd.in_net_rx_action = True
    work_list = sd.poll_list
    sd.poll_list = deque()
    repoll: deque[NapiStruct] = deque()
    while True:
        if not work_list:
            if not repoll:
                sd.in_net_rx_action = False
                if sd.poll_list:  # scheduled meanwhile: start over
                    sd.in_net_rx_action = True
                    work_list = sd.poll_list
                    sd.poll_list = deque()
                    continue
            break
        n = work_list.popleft()
        # napi_poll / __napi_poll: poll n up to its weight, a chunk per yield (inline in
        # this generator: one generator per softirq pass, not one per poll)
        weight = n.weight
        work = 0
        cpu._acc += core.costs.napi_poll_ns
        n.polls += 1
        if n.state & NAPI_STATE_SCHED:
            poll = n.poll
            chunk = core.chunk_packets
            while True:
                ask = weight - work
                if ask > chunk:
                    ask = chunk
                done = poll(n, ask)
                work += done
                yield
                if done < ask or work >= weight or not n.state & NAPI_STATE_SCHED:
                    break
        tp = core.tp_napi_poll
        if tp.active:
            tp.emit(napi=id(n), dev_name=n.dev.name if n.dev is not None else "(no_device)",
                    work=work, budget=weight)
        if work >= weight and n.state & NAPI_STATE_SCHED:  # the whole weight: repoll
            if n.state & NAPI_STATE_DISABLE:
                napi_complete_done(n, work)
            else:
                gro = n.gro
                if gro is not None:  # napi_gro_flush(n, HZ >= 1000): what waited a jiffy
                    now = cpu.clock_ns()
                    gro.flush(now - now % TICK_NSEC)
                repoll.append(n)
        budget -= work
        if budget <= 0 or cpu._now() + cpu._acc >= time_limit:  # cpu.clock_ns()
            sd.time_squeeze += 1
            break
    # list_splice_tail_init(&sd->poll_list, &list); list_splice_tail(&repoll, &list);
    # list_splice(&list, &sd->poll_list)
    work_list.extend(sd.poll_list)
    work_list.extend(repoll)
    sd.poll_list = work_list
    sd.in_net_rx_action = False
    if work_list:
        cpu.raise_softirq(NET_RX_SOFTIRQ)
