"""Simulated CPUs: priorities, preemption at chunk boundaries, accounting, fairness,
ksoftirqd deferral."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from _coreutil import make_host

from tuxnet.core.cpu import (
    CLS_HARDIRQ,
    CLS_SOFTIRQ,
    CLS_TASK,
    HI_SOFTIRQ,
    Cpu,
    IrqLine,
    Task,
    charge,
    current_cpu,
)
from tuxnet.core.netcore import get_core
from tuxnet.host import Host
from tuxnet.loop import SimLoop


def _quiet_cpu(**costs: int) -> tuple[SimLoop, Cpu]:
    loop, _, core = make_host()
    core.set_costs(replace(core.costs, irq_entry_exit_ns=0, context_switch_ns=0, **costs))
    return loop, core.cpus[0]


def _hog(name: str, chunk_ns: int, log: list[tuple[str, int]] | None = None,
         loop: SimLoop | None = None, count: int | None = None) -> Task:
    left = [count]

    def step() -> bool:
        if log is not None and loop is not None:
            log.append((name, loop.now_ns()))
        charge(chunk_ns)
        if left[0] is None:
            return True
        left[0] -= 1
        return left[0] > 0

    return Task(name, step)


def test_hardirq_preempts_a_task_at_the_next_chunk_boundary() -> None:
    loop, cpu = _quiet_cpu()
    log: list[tuple[str, int]] = []
    cpu.run_task(_hog("task", 1000, log, loop, count=5))

    def handler(line: IrqLine, c: Cpu) -> bool:
        log.append(("irq", loop.now_ns()))
        assert current_cpu() is c
        c.charge(300)
        return False

    line = IrqLine(99, "test", handler)
    loop.call_at(1500, cpu.raise_irq, line)
    loop.run()
    assert log == [("task", 0), ("task", 1000), ("irq", 2000), ("task", 2300),
                   ("task", 3300), ("task", 4300)]
    assert cpu.busy_ns[CLS_TASK] == 5000
    assert cpu.busy_ns[CLS_HARDIRQ] == 300
    assert line.count == 1 and cpu.irq_count == 1


def test_irq_entry_cost_and_softirq_on_irq_exit_before_the_task() -> None:
    loop, _host, core = make_host()
    core.set_costs(replace(core.costs, irq_entry_exit_ns=2000, context_switch_ns=0))
    cpu = core.cpus[0]
    log: list[tuple[str, int]] = []
    cpu.run_task(_hog("task", 1000, log, loop, count=3))

    def softirq(c: Cpu) -> Iterator[None]:
        log.append(("softirq", loop.now_ns()))
        c.charge(500)
        yield

    cpu.open_softirq(HI_SOFTIRQ, softirq)

    def handler(line: IrqLine, c: Cpu) -> bool:
        log.append(("irq", loop.now_ns()))
        c.raise_softirq(HI_SOFTIRQ)
        return False

    loop.call_at(500, cpu.raise_irq, IrqLine(99, "test", handler))
    loop.run()
    assert log == [("task", 0), ("irq", 1000), ("softirq", 3000), ("task", 3500),
                   ("task", 4500)]
    assert cpu.busy_ns == [2000, 500, 3000]
    s = cpu.stats()
    assert s["hardirq_ns"] == 2000 and s["softirq_ns"] == 500 and s["task_ns"] == 3000
    assert s["utilization"] == 1.0


def test_a_pending_irq_line_is_not_queued_twice() -> None:
    loop, cpu = _quiet_cpu()
    calls = []
    line = IrqLine(5, "x", lambda ln, c: calls.append(loop.now_ns()) is None and False)
    cpu.charge(1000)  # busy: the interrupts wait
    cpu.raise_irq(line)
    cpu.raise_irq(line)
    loop.run()
    assert calls == [1000]


def test_two_cpu_hogs_share_fairly() -> None:
    loop, cpu = _quiet_cpu()
    a = cpu.run_task(_hog("a", 10_000))
    b = cpu.run_task(_hog("b", 7_000))
    loop.run(100_000_000)
    assert 0.9 < a.runtime_ns / b.runtime_ns < 1.1
    assert cpu.nr_switches >= 10
    assert cpu.stats()["utilization"] > 0.99


def test_a_waking_sleeper_preempts_a_hog() -> None:
    loop, cpu = _quiet_cpu()
    cpu.run_task(_hog("hog", 10_000))
    runs: list[int] = []
    wakes: list[int] = []

    def step() -> bool:
        runs.append(loop.now_ns())
        charge(50_000)
        return False

    sleeper = Task("sleeper", step)
    sleeper.cpu = cpu

    def wake() -> None:
        wakes.append(loop.now_ns())
        sleeper.wake()

    for i in range(1, 20):
        loop.call_at(i * 5_000_000, wake)
    loop.run(100_000_000)
    assert len(runs) == len(wakes) == 19
    # it lags the hog by far more than wakeup_granularity: it runs at the next chunk
    assert max(r - w for r, w in zip(runs, wakes, strict=True)) <= 10_000
    assert sleeper.runtime_ns == 19 * 50_000


def test_softirq_overload_goes_to_ksoftirqd_which_shares_the_cpu() -> None:
    loop, cpu = _quiet_cpu()

    def endless(c: Cpu) -> Iterator[None]:
        for _ in range(10):
            c.charge(10_000)
            yield
        c.raise_softirq(HI_SOFTIRQ)  # always more work: re-raise

    cpu.open_softirq(HI_SOFTIRQ, endless)
    app = cpu.run_task(_hog("app", 10_000))
    loop.call_at(1_000_000, cpu.raise_softirq, HI_SOFTIRQ)
    loop.run(200_000_000)
    assert cpu.ksoftirqd.runtime_ns > 0
    ratio = cpu.busy_ns[CLS_SOFTIRQ] / app.runtime_ns
    assert 0.7 < ratio < 1.4, ratio


def test_charge_outside_a_chunk_delays_the_cpu_and_counts_as_softirq() -> None:
    loop, cpu = _quiet_cpu()
    start: list[int] = []
    t = Task("t", lambda: start.append(loop.now_ns()) is None and False)
    cpu.charge(5000)
    cpu.run_task(t)
    loop.run()
    assert start == [5000]
    assert cpu.busy_ns[CLS_SOFTIRQ] == 5000


def test_run_softirq_runs_in_softirq_context() -> None:
    loop, cpu = _quiet_cpu()
    seen: list[tuple[Cpu | None, int]] = []

    def timer(tag: int) -> None:
        seen.append((current_cpu(), tag))
        charge(700)

    loop.call_at(100, cpu.run_softirq, timer, 1)
    loop.call_at(100, cpu.run_softirq, timer, 2)
    loop.run()
    assert seen == [(cpu, 1), (cpu, 2)]
    assert cpu.busy_ns[CLS_SOFTIRQ] == 1400
    assert cpu.busy_until == 1500


def test_real_time_mode_charges_nothing() -> None:
    loop = SimLoop()
    host = Host(loop, "rt")
    core = get_core(host, charging=False)
    cpu = core.cpus[0]
    done = []
    cpu.run_task(Task("t", lambda: done.append(loop.now_ns()) is None and len(done) < 3
                      and charge(10**9) is None))
    loop.run()
    assert done == [0, 0, 0]
    assert cpu.busy_ns == [0, 0, 0]
