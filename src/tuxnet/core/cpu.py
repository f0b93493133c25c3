"""Simulated CPUs: an executor with hardirq > softirq > task priorities.

Each CPU runs work in *chunks* of about one packet's worth. A chunk runs at once (its
effects happen at the chunk's start time) and charges the CPU the costs it reports
(``charge(ns)``); the CPU is then busy until ``busy_until`` and its next chunk is
scheduled on the event loop at that time. So a busy CPU delays everything queued on
it, and a higher-priority context only gets the CPU at a chunk boundary::

    hardirq   an IrqLine raised by a device; runs its handler (interrupts are off
              while it runs, so hardirqs never nest); irq_exit() then runs pending
              softirqs inline, as Linux 6.5+ does (d15121be7485 reverted "softirq: Let
              ksoftirqd do its job")
    softirq   handle_softirqs (__do_softirq): the pending vectors in order (NET_TX
              before NET_RX), restarted while pending, less than 2 ms and 10 rounds and
              no task waits for the CPU (need_resched); otherwise the rest is handed to
    task      ksoftirqd/N, a task like any other. Tasks share the CPU fairly as CFS
              does (kernel/sched/fair.c up to 6.5; EEVDF since gives similar shares):
              the runnable task with the least vruntime runs; the running one is
              preempted at a chunk boundary once it ran its ideal slice (sched_latency
              / nr_running, at least min_granularity) while another waits, or when a
              woken task lags it by more than wakeup_granularity; a waking sleeper is
              placed at most sched_latency/2 behind min_vruntime. ksoftirqd's pass is
              not preemptible; its time is accounted as softirq time (IRQ time
              accounting).

Process-context work (an application thread, a socket's recvmsg loop) is a
:class:`Task`: ``task = Task("app", step)``; ``cpu.run_task(task)``. ``step()`` runs
one chunk, may ``charge`` costs, and returns True to stay runnable or False to sleep
until ``task.wake()``. Softirq-context one-shots (timers) go through
``cpu.run_softirq(fn, *args)`` (TIMER_SOFTIRQ). Code that runs inside a chunk finds its
CPU with :func:`current_cpu` and charges it with :func:`charge`.

Accounting: ``busy_ns[CLS_HARDIRQ | CLS_SOFTIRQ | CLS_TASK]`` and idle time, as
/proc/stat's irq, softirq and user+system columns. ``host.current_cpu`` is set to the
CPU's index while it runs a chunk. With ``charging=False`` (real time) costs are not
charged: chunks run back to back on the one real CPU.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tuxnet.core.costs import DEFAULT_COSTS, CpuCosts

if TYPE_CHECKING:
    from tuxnet.core.softnet import SoftnetData
    from tuxnet.host import Host
    from tuxnet.loop.base import EventLoop, TimerHandle

__all__ = [
    "CLS_HARDIRQ",
    "CLS_SOFTIRQ",
    "CLS_TASK",
    "HI_SOFTIRQ",
    "MAX_SOFTIRQ_RESTART",
    "MAX_SOFTIRQ_TIME_NS",
    "NET_RX_SOFTIRQ",
    "NET_TX_SOFTIRQ",
    "NR_SOFTIRQS",
    "SOFTIRQ_NAMES",
    "TIMER_SOFTIRQ",
    "Cpu",
    "IrqLine",
    "Task",
    "charge",
    "current_cpu",
    "sched_scaling",
]

# include/linux/interrupt.h: softirq vectors, in priority (bit) order
HI_SOFTIRQ = 0
TIMER_SOFTIRQ = 1
NET_TX_SOFTIRQ = 2
NET_RX_SOFTIRQ = 3
NR_SOFTIRQS = 10
SOFTIRQ_NAMES = ("HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED",
                 "HRTIMER", "RCU")  # kernel/softirq.c: softirq_to_name

MAX_SOFTIRQ_TIME_NS = 2_000_000  # kernel/softirq.c: MAX_SOFTIRQ_TIME msecs_to_jiffies(2)
MAX_SOFTIRQ_RESTART = 10  # kernel/softirq.c
# kernel/sched/fair.c (CFS): sysctl_sched_latency, _min_granularity, _wakeup_granularity
SCHED_LATENCY_NS = 6_000_000
SCHED_MIN_GRANULARITY_NS = 750_000
SCHED_WAKEUP_GRANULARITY_NS = 1_000_000

# accounting classes (/proc/stat irq, softirq, user+system)
CLS_HARDIRQ = 0
CLS_SOFTIRQ = 1
CLS_TASK = 2
_CLS_NAMES = ("hardirq", "softirq", "task")

# what the CPU is executing right now (for charge() and raise_softirq)
_CTX_NONE = -1

SoftirqHandler = Callable[["Cpu"], Iterator[None]]
IrqHandler = Callable[["IrqLine", "Cpu"], bool]

# real time: hardirq/softirq chunks run back to back, at most this many per loop turn
_DIRECT_CHUNKS = 64

_running: Cpu | None = None  # the CPU executing a chunk (the simulation is one thread)


def current_cpu() -> Cpu | None:
    """smp_processor_id(): the CPU running the current chunk, None outside any chunk."""
    return _running


def charge(ns: int) -> None:
    """Charge ``ns`` to the CPU running the current chunk (nothing outside a chunk)."""
    cpu = _running
    if cpu is not None:
        cpu._acc += ns


def sched_scaling(ncpus: int) -> int:
    """The factor sched_update_scaling applies to the scheduler tunables by default
    (SCHED_TUNABLESCALING_LOG: 1 + ilog2(min(ncpus, 8)))."""
    return 1 + (min(ncpus, 8).bit_length() - 1)


class IrqLine:
    """One interrupt vector (an MSI-X vector of a device queue): its number, the CPU
    its affinity points to, and the handler ``handler(line, cpu) -> more``. A handler
    returning True is called again in the next chunk (a long handler split into
    chunks; interrupts stay off meanwhile). Raising a line that is already pending
    does nothing, as an interrupt controller latches one pending interrupt."""

    __slots__ = ("cpu", "data", "handler", "irq", "name", "pending", "per_cpu_count")

    def __init__(self, irq: int, name: str, handler: IrqHandler, cpu: int = 0,
                 data: Any = None, ncpus: int = 1) -> None:
        self.irq = irq
        self.name = name
        self.handler = handler
        self.cpu = cpu  # smp_affinity: the CPU this vector is delivered to
        self.data = data
        self.pending = False
        self.per_cpu_count = [0] * ncpus  # /proc/interrupts columns

    @property
    def count(self) -> int:
        """Interrupts handled on all CPUs."""
        return sum(self.per_cpu_count)

    def __repr__(self) -> str:
        return f"<IrqLine {self.irq} {self.name} cpu={self.cpu} count={self.count}>"


class Task:
    """task_struct: a thread that runs in process context on one CPU.

    ``step()`` runs one chunk of the thread (charging costs with :func:`charge`) and
    returns True to stay runnable or False to sleep until :meth:`wake`.
    """

    __slots__ = ("_woken", "account_as", "cpu", "name", "nr_switches", "nr_wakeups", "queued",
                 "runnable", "runtime_ns", "step", "vruntime")

    def __init__(self, name: str, step: Callable[[], bool], *,
                 account_as: int = CLS_TASK) -> None:
        self.name = name
        self.step = step
        self.cpu: Cpu | None = None
        self.runnable = False
        self.queued = False
        self._woken = False
        self.account_as = account_as
        self.runtime_ns = 0
        self.vruntime = 0
        self.nr_switches = 0
        self.nr_wakeups = 0

    def wake(self) -> bool:
        """try_to_wake_up(): make the task runnable; False if it already was."""
        cpu = self.cpu
        if cpu is None:
            raise RuntimeError(f"task {self.name!r} is not on a CPU (use cpu.run_task)")
        if self.runnable:
            self._woken = True  # woken while running: do not sleep after this step
            return False
        self.runnable = True
        self.nr_wakeups += 1
        # place_entity: a sleeper gets at most sched_latency/2 of credit
        floor = cpu.min_vruntime - cpu.latency_ns // 2
        if self.vruntime < floor:
            self.vruntime = floor
        cur = cpu.current
        if cur is not self:
            cpu.runqueue.append(self)
            self.queued = True
            # check_preempt_wakeup: the woken task lags the running one enough
            if cur is not None and cur.vruntime - self.vruntime > cpu.wakeup_gran_ns:
                cpu._resched = True
        cpu._kick()
        return True

    def __repr__(self) -> str:
        state = "R" if self.runnable else "S"
        return f"<Task {self.name} {state} runtime={self.runtime_ns}ns>"


class Cpu:
    """One simulated CPU of a host (see the module doc)."""

    def __init__(self, loop: EventLoop, index: int, sd: SoftnetData, *,
                 host: Host | None = None, costs: CpuCosts = DEFAULT_COSTS,
                 charging: bool = True, ncpus: int = 1) -> None:
        self.loop = loop
        self._now = loop.now_ns
        self._call_at = loop.call_at
        # SimLoop.run_inline_at: run the next chunk in place when no other event comes
        # first (the same order and times as scheduling it, without the heap round trip)
        self._run_inline_at: Callable[[int], bool] | None = getattr(loop, "run_inline_at",
                                                                     None)
        self.index = index
        self.sd = sd
        self.host = host
        self.costs = costs
        self.charging = charging
        factor = sched_scaling(ncpus)
        self.latency_ns = SCHED_LATENCY_NS * factor
        self.min_gran_ns = SCHED_MIN_GRANULARITY_NS * factor
        self.wakeup_gran_ns = SCHED_WAKEUP_GRANULARITY_NS * factor
        self.min_vruntime = 0
        self._resched = False  # TIF_NEED_RESCHED
        self.busy_until = loop.now_ns()
        self.start_ns = self.busy_until
        self._handle: TimerHandle | None = None
        self._in_chunk = False
        self._in_irq = False  # between irq_enter and irq_exit (real time)
        self._ctx = _CTX_NONE
        self._acc = 0
        # hardirq state
        self._irqq: deque[IrqLine] = deque()
        self._cur_irq: IrqLine | None = None
        # softirq state
        self.softirq_pending = 0
        self._handlers: list[SoftirqHandler | None] = [None] * NR_SOFTIRQS
        self._sirq_gen: Iterator[None] | None = None  # a handle_softirqs pass under way
        self._sirq_in_ksoftirqd = False  # ... run by ksoftirqd (else inline)
        self._sirq_inline = False  # pending softirqs run inline at softirq priority
        self._timer_work: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        self._handlers[TIMER_SOFTIRQ] = _timer_softirq
        # tasks
        self.runqueue: deque[Task] = deque()
        self.current: Task | None = None
        self._slice_used = 0
        self.ksoftirqd = Task(f"ksoftirqd/{index}", self._ksoftirqd_step,
                              account_as=CLS_SOFTIRQ)
        self.ksoftirqd.cpu = self
        # accounting
        self.busy_ns = [0, 0, 0]
        self.irq_count = 0
        self.softirq_count = [0] * NR_SOFTIRQS
        self.nr_switches = 0
        self.chunks = 0
        tps = host.tracepoints if host is not None else None
        self._tp_irq_entry = tps["irq:irq_handler_entry"] if tps else None
        self._tp_irq_exit = tps["irq:irq_handler_exit"] if tps else None
        self._tp_sirq_entry = tps["irq:softirq_entry"] if tps else None
        self._tp_sirq_exit = tps["irq:softirq_exit"] if tps else None
        self._tp_sirq_raise = tps["irq:softirq_raise"] if tps else None

    def __repr__(self) -> str:
        return f"<Cpu {self.index} busy_until={self.busy_until}>"

    # -- the public interface ------------------------------------------------------------
    def charge(self, ns: int) -> None:
        """Charge ``ns`` to this CPU: to the running chunk, or, outside any chunk (a
        timer callback), as softirq work that pushes ``busy_until`` back."""
        if self._in_chunk:
            self._acc += ns
        elif self.charging and ns:
            now = self._now()
            b = self.busy_until
            self.busy_until = (b if b > now else now) + ns
            self.busy_ns[CLS_SOFTIRQ] += ns

    def clock_ns(self) -> int:
        """The CPU's own notion of now inside a chunk: loop time plus what the chunk has
        charged so far (used for time limits such as netdev_budget_usecs)."""
        return self._now() + self._acc

    def open_softirq(self, nr: int, handler: SoftirqHandler) -> None:
        """open_softirq(): ``handler(cpu)`` is a generator; each ``yield`` is a chunk
        boundary (where hardirqs may preempt it)."""
        self._handlers[nr] = handler

    def raise_softirq(self, nr: int) -> None:
        """raise_softirq(): mark vector ``nr`` pending on this CPU.

        Raised by this CPU's hardirq: irq_exit runs it. By its own softirq: the running
        pass restarts or defers to ksoftirqd. By a task (local_bh_enable), by another CPU
        (an IPI) or from outside any CPU: it runs inline at softirq priority."""
        self.softirq_pending |= 1 << nr
        tp = self._tp_sirq_raise
        if tp is not None and tp.active:
            tp.emit(vec=nr, action=SOFTIRQ_NAMES[nr])
        if self._in_chunk:
            if self._ctx == CLS_TASK and self._sirq_gen is None:
                self._sirq_inline = True
            return
        if self._sirq_gen is None:
            self._sirq_inline = True
        self._kick()

    def raise_irq(self, line: IrqLine) -> None:
        """A device asserts ``line`` on this CPU (a pending line is not queued twice)."""
        if line.pending:
            return
        line.pending = True
        self._irqq.append(line)
        self._kick()

    def run_task(self, task: Task) -> Task:
        """Put ``task`` on this CPU and wake it (wake_up_new_task)."""
        if task.cpu is not None and task.cpu is not self:
            raise RuntimeError(f"task {task.name!r} already runs on cpu {task.cpu.index}")
        task.cpu = self
        task.wake()
        return task

    def run_softirq(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` in softirq context on this CPU (TIMER_SOFTIRQ), charging
        what it charges; for timer handlers (TCP retransmit, delayed ACK ...)."""
        self._timer_work.append((fn, args))
        self.raise_softirq(TIMER_SOFTIRQ)

    def need_resched(self) -> bool:
        """need_resched(): a task waits for this CPU (inline softirq), or the running
        task (ksoftirqd) is due for preemption."""
        if not self.runqueue:
            return False
        if self._sirq_in_ksoftirqd:
            return self._resched or self._slice_used + self._acc >= self._ideal_slice()
        return True

    def _ideal_slice(self) -> int:
        """sched_slice: sched_latency shared by the runnable tasks, at least
        min_granularity."""
        s = self.latency_ns // (len(self.runqueue) + 1)
        return s if s > self.min_gran_ns else self.min_gran_ns

    # -- accounting -----------------------------------------------------------------------
    def stats(self) -> dict[str, float]:
        """Time per class, idle time and utilization since the CPU started."""
        now = self._now()
        elapsed = now - self.start_ns
        busy = sum(self.busy_ns)
        out: dict[str, float] = {name + "_ns": float(v) for name, v in
                                 zip(_CLS_NAMES, self.busy_ns, strict=True)}
        out["idle_ns"] = float(max(0, elapsed - busy))
        out["elapsed_ns"] = float(elapsed)
        out["utilization"] = min(1.0, busy / elapsed) if elapsed > 0 else 0.0
        out["irqs"] = float(self.irq_count)
        out["nr_switches"] = float(self.nr_switches)
        return out

    # -- the executor -----------------------------------------------------------------------
    def _kick(self) -> None:
        """Make sure a chunk is scheduled (unless this CPU is inside one, or inside an
        interrupt whose irq_exit runs the work)."""
        if self._handle is not None or self._in_chunk or self._in_irq:
            return
        now = self._now()
        b = self.busy_until
        self._handle = self._call_at(b if b > now else now, self._dispatch)

    def irq_enter(self) -> None:
        """irq_enter() on the real-time CPU (no charging): until irq_exit, raising a
        softirq only marks it pending, as raise_softirq_irqoff wakes nobody while
        in_interrupt(); irq_exit then runs it. A simulated CPU takes its interrupts
        through IrqLine and ignores this."""
        if not self.charging and not self._in_chunk:
            self._in_irq = True

    def irq_exit(self) -> None:
        """irq_exit() -> invoke_softirq() on the real-time CPU (no charging): the work an
        interrupt raised (a NAPI poll) runs now, before the loop's next turn, as the real
        CPU runs pending softirqs when the hardirq returns. A simulated CPU keeps its
        scheduled chunk (the cost model decides when it runs)."""
        if self.charging or self._in_chunk:
            return
        if self._in_irq:
            self._in_irq = False
            if self._handle is None:  # nothing was scheduled meanwhile: run it now
                if self._has_work():
                    self._dispatch()
                return
        h = self._handle
        if h is None or h.when > self._now():
            return
        h.cancel()
        self._handle = None
        self._dispatch()

    def _has_work(self) -> bool:
        if self._irqq or self._cur_irq is not None:
            return True
        if self._sirq_gen is not None:
            if not self._sirq_in_ksoftirqd:
                return True
        elif self.softirq_pending and self._sirq_inline:
            return True
        return self.current is not None or bool(self.runqueue)

    def _dispatch(self) -> None:
        """One chunk; in real time (no charging) the hardirq and softirq chunks that
        follow run at once, back to back, as they would on the one real CPU (up to
        _DIRECT_CHUNKS, then the loop gets a turn for timers and readers)."""
        more = self._chunk()
        if not self.charging:
            n = 0
            while more and n < _DIRECT_CHUNKS and (
                    self._irqq or self._cur_irq is not None or (
                        self._sirq_gen is not None and not self._sirq_in_ksoftirqd) or (
                        self._sirq_gen is None and self.softirq_pending and self._sirq_inline)):
                more = self._chunk()
                n += 1
        else:
            inline = self._run_inline_at
            if inline is not None:
                while more and inline(self.busy_until):
                    more = self._chunk()
        if more:
            self._handle = self._call_at(self.busy_until, self._dispatch)

    def _chunk(self) -> bool:
        """Run one chunk; True when work is left for another."""
        global _running
        self._handle = None
        now = self._now()
        if now < self.busy_until:  # charged from outside a chunk meanwhile
            self._handle = self._call_at(self.busy_until, self._dispatch)
            return False
        host = self.host
        if host is not None:
            host.current_cpu = self.index
        self._acc = 0
        self._in_chunk = True
        prev = _running
        _running = self
        cls = CLS_TASK
        try:
            if self._irqq or self._cur_irq is not None:
                cls = self._ctx = CLS_HARDIRQ
                self._run_hardirq()
            else:
                gen = self._sirq_gen
                if (gen is not None and not self._sirq_in_ksoftirqd) or (
                        gen is None and self.softirq_pending and self._sirq_inline):
                    cls = self._ctx = CLS_SOFTIRQ
                    # a handle_softirqs pass under way, or a new one
                    if gen is None:
                        self._sirq_inline = False
                        gen = self._sirq_gen = self._handle_softirqs()
                        self._sirq_in_ksoftirqd = False
                    try:
                        next(gen)
                    except StopIteration:
                        self._sirq_gen = None
                else:
                    task = self._pick_task()
                    if task is None:
                        return False
                    self._ctx = CLS_TASK
                    cls = task.account_as
                    self._run_task(task)
        finally:
            self._in_chunk = False
            self._ctx = _CTX_NONE
            _running = prev
        cost = self._acc if self.charging else 0
        self._acc = 0
        self.chunks += 1
        self.busy_ns[cls] += cost
        self.busy_until = now + cost
        return self._has_work()

    def _run_hardirq(self) -> None:
        line = self._cur_irq
        if line is None:
            line = self._irqq.popleft()
            line.pending = False
            self._cur_irq = line
            self._acc += self.costs.irq_entry_exit_ns
            line.per_cpu_count[self.index] += 1
            self.irq_count += 1
            tp = self._tp_irq_entry
            if tp is not None and tp.active:
                tp.emit(irq=line.irq, name=line.name)
        if line.handler(line, self):
            return
        self._cur_irq = None
        tp = self._tp_irq_exit
        if tp is not None and tp.active:
            tp.emit(irq=line.irq, ret="handled")
        # irq_exit -> invoke_softirq (unless a softirq pass was interrupted)
        if self.softirq_pending and self._sirq_gen is None:
            self._sirq_inline = True

    def _handle_softirqs(self) -> Iterator[None]:
        """handle_softirqs (__do_softirq): run the pending vectors, restart while
        pending, under MAX_SOFTIRQ_TIME and MAX_SOFTIRQ_RESTART and without
        need_resched; otherwise wake ksoftirqd."""
        start = self.clock_ns()
        restart = MAX_SOFTIRQ_RESTART
        handlers = self._handlers
        counts = self.softirq_count
        while True:
            pending = self.softirq_pending
            self.softirq_pending = 0
            while pending:  # the set bits, lowest first (softirq_vec order)
                low = pending & -pending
                pending ^= low
                nr = low.bit_length() - 1
                counts[nr] += 1
                h = handlers[nr]
                if h is not None:
                    tp = self._tp_sirq_entry
                    if tp is not None and tp.active:
                        tp.emit(vec=nr, action=SOFTIRQ_NAMES[nr])
                    yield from h(self)
                    tp = self._tp_sirq_exit
                    if tp is not None and tp.active:
                        tp.emit(vec=nr, action=SOFTIRQ_NAMES[nr])
            if not self.softirq_pending:
                return
            restart -= 1
            if (self.clock_ns() - start < MAX_SOFTIRQ_TIME_NS and restart
                    and not self.need_resched()):
                continue
            self._sirq_inline = False  # wakeup_softirqd
            self.ksoftirqd.wake()
            return

    def _ksoftirqd_step(self) -> bool:
        """run_ksoftirqd: one chunk of a handle_softirqs pass in ksoftirqd."""
        gen = self._sirq_gen
        if gen is None:
            if not self.softirq_pending:
                return False
            gen = self._sirq_gen = self._handle_softirqs()
            self._sirq_in_ksoftirqd = True
        try:
            next(gen)
        except StopIteration:
            self._sirq_gen = None
            self._sirq_in_ksoftirqd = False
            return bool(self.softirq_pending)
        return True

    def _pick_task(self) -> Task | None:
        cur = self.current
        rq = self.runqueue
        if cur is not None and rq and (self._resched or self._slice_used >= self._ideal_slice()
                                       ) and not (cur is self.ksoftirqd
                                                  and self._sirq_gen is not None):
            rq.append(cur)  # preempted (a softirq pass is atomic)
            cur.queued = True
            cur = None
        if cur is None:
            self._resched = False
            if not rq:
                self.current = None
                return None
            cur = min(rq, key=_vruntime)  # pick_next_entity: the leftmost
            rq.remove(cur)
            cur.queued = False
            if cur is not self.current:
                self.nr_switches += 1
                cur.nr_switches += 1
                self._acc += self.costs.context_switch_ns
            self.current = cur
            self._slice_used = 0
        return cur

    def _run_task(self, task: Task) -> None:
        task._woken = False
        more = task.step()
        acc = self._acc
        task.runtime_ns += acc
        task.vruntime += acc
        self._slice_used += acc
        if not more and not task._woken:
            task.runnable = False
            if self.current is task:
                self.current = None
        # update_min_vruntime: monotonic, the least vruntime of the runnable tasks
        v = task.vruntime if task.runnable else None
        for t in self.runqueue:
            if v is None or t.vruntime < v:
                v = t.vruntime
        if v is not None and v > self.min_vruntime:
            self.min_vruntime = v


def _vruntime(task: Task) -> int:
    return task.vruntime


def _timer_softirq(cpu: Cpu) -> Iterator[None]:
    """run_timer_softirq: each queued one-shot in its own chunk."""
    work = cpu._timer_work
    while work:
        fn, args = work.popleft()
        fn(*args)
        yield
