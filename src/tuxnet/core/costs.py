"""The CPU cost table: how many simulated nanoseconds each processing step charges.

In virtual time every step of the packet path runs on a simulated CPU and charges it
the cost below (``cpu.charge(costs.driver_rx_ns)``); a busy CPU delays the work queued
behind it, which is what makes receive livelock, NAPI, RSS/RPS and XDP-vs-stack
experiments show real effects. In real time nothing is charged.

The defaults describe a modest, somewhat older server so that effects show at
tens to hundreds of thousands of packets per second (cheap to simulate). They are
chosen inside published ranges, not measured on one machine; every field can be
overridden per host::

    core = get_core(host)
    core.set_costs(replace(core.costs, irq_entry_exit_ns=1_000))

Sources for the orders of magnitude:

* Mogul & Ramakrishnan, "Eliminating Receive Livelock in an Interrupt-Driven
  Kernel", ACM TOCS 15(3), 1997: per-interrupt overhead of a few µs and per-packet
  protocol costs of the same order make interrupt-driven receive collapse past
  saturation.
* Salim, Olsson & Kuznetsov, "Beyond Softnet", USENIX ALS 2001 (the NAPI paper):
  interrupt mitigation by polling with a quota; per-packet work amortises the
  interrupt.
* The project seed: TCP receive fast path ~1 µs, slow path 5-10 µs per segment.
* Line-rate budgets (DPDK/Intel literature): 10 GbE at 64 B is 14.88 Mpps, i.e.
  67.2 ns per packet ((64 + 20) * 8 bit / 10 Gbit/s) -- what a modern fast path must
  stay under; kernel per-packet costs are 10-50x that.
* Li, Ding & Shen, "Quantifying the Cost of Context Switch", ExpCS 2007: a context
  switch costs a few µs once cache effects are counted.
* Høiland-Jørgensen et al., "The eXpress Data Path", CoNEXT 2018: on one 3.6 GHz core
  XDP drops 24 Mpps (41.6 ns per packet, driver included) where the stack's earliest
  drop (iptables raw) manages 4.8 Mpps (208 ns): about 5x; a counter-only program adds
  13.3 ns; XDP_REDIRECT (8.6 Mpps) costs ~58 ns more per packet than XDP_TX (17 Mpps).
  tuxnet scales these like the rest of the table (its driver + skb + stack drop is
  ~1.3 µs, ~6x the paper's 208 ns).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

__all__ = ["DEFAULT_COSTS", "CpuCosts"]


@dataclass(frozen=True, slots=True)
class CpuCosts:
    """Simulated CPU cost of each step, in nanoseconds (see the module doc)."""

    # -- interrupts ------------------------------------------------------------------
    # hardware interrupt entry + exit (irq_enter/irq_exit, register save, EOI): "a few
    # µs" on older hardware (Mogul & Ramakrishnan 1997); ~0.5-1 µs on modern x86
    irq_entry_exit_ns: int = 2_000
    # the driver's hard-IRQ handler body: read/ack the cause, mask, napi_schedule
    irq_handler_ns: int = 300
    # sending one inter-processor interrupt (RPS waking a remote backlog:
    # smp_call_function_single_async, csd queueing and the APIC ICR write), charged to
    # the sender; the target takes it as an interrupt (irq_entry_exit_ns). An APIC
    # message exchange takes 2-3 µs end to end on older hardware (Lundell, LKML
    # 2001-10-08 "A note on APIC bus latency"), ~1-3 µs on current x86
    ipi_ns: int = 500

    # -- receive ---------------------------------------------------------------------
    # per received packet in the driver: descriptor read, DMA sync, buffer refill
    driver_rx_ns: int = 300
    # sk_buff allocation (and its later free): build_skb / netdev_alloc_skb
    skb_alloc_ns: int = 200
    # memcpy per KiB (~10 GB/s): copies into/out of skbs
    copy_per_kib_ns: int = 100
    # napi_gro_receive: GRO's flow lookup and merge attempt (when GRO is on)
    gro_receive_ns: int = 100
    # netif_rx: enqueue_to_backlog on a CPU's input_pkt_queue
    netif_rx_ns: int = 100
    # __netif_receive_skb_core: taps, rx_handler, ptype lookup and delivery
    netif_receive_skb_ns: int = 300
    # one NAPI poll call: net_rx_action bookkeeping, poll entry/exit
    napi_poll_ns: int = 500
    # one XDP program run in the driver (bpf_prog_run_xdp: xdp_buff setup, the call,
    # the action switch): the XDP paper's 13.3 ns counter-only overhead, scaled
    xdp_prog_ns: int = 60
    # per eBPF instruction executed (JITed: ~0.1-0.3 ns/insn on current x86, scaled)
    xdp_insn_ns: int = 1
    # xdp_do_redirect + the devmap/cpumap/xsk bulk flush, per redirected frame (the
    # paper: REDIRECT costs ~58 ns more than TX per packet, scaled)
    xdp_redirect_ns: int = 200

    # -- protocols (charged by the layers above the device core) ----------------------
    ip_rcv_ns: int = 500  # ip_rcv + routing decision + ip_local_deliver
    udp_rcv_ns: int = 500  # udp_rcv: socket lookup, queue to the receive queue
    tcp_fast_path_ns: int = 1_000  # seed: ~1 µs (header-prediction fast path)
    tcp_slow_path_ns: int = 7_500  # seed: 5-10 µs per segment (slow path)
    # netfilter: each rule ipt_do_table examines (issue 7: ~5-7 ns per non-matching
    # legacy rule; benchmarks/bench_netfilter.py measured 3.2 ns on the dev machine)
    nf_rule_ns: int = 6
    # one ipset / nft set hash lookup (jhash + bucket probe): ~0.1-0.4 µs per packet
    # with 10^4-10^5 members, measured by benchmarks/bench_netfilter.py
    nf_set_lookup_ns: int = 150
    # nf_conntrack_in + confirm: lookup, L4 state, insert (≈1-1.5 µs per packet measured
    # on a 2-vCPU VM, reference netfilter-and-formats.md 4.1)
    nf_conntrack_ns: int = 1_400

    # -- transmit --------------------------------------------------------------------
    dev_queue_xmit_ns: int = 300  # __dev_queue_xmit + qdisc enqueue/dequeue
    driver_tx_ns: int = 300  # ndo_start_xmit: descriptor setup, doorbell
    tx_clean_ns: int = 150  # per TX completion: unmap, free the skb, stats
    loopback_xmit_ns: int = 200  # loopback_xmit (then netif_rx)
    veth_xmit_ns: int = 300  # veth_xmit: __dev_forward_skb (then netif_rx)

    # -- scheduler and system calls -----------------------------------------------------
    context_switch_ns: int = 2_000  # a few µs with cache effects (Li, Ding & Shen 2007)
    wakeup_ns: int = 500  # try_to_wake_up of a sleeping task, paid by the waker
    syscall_ns: int = 200  # user/kernel crossing of one system call

    def as_dict(self) -> dict[str, int]:
        """Every cost by field name."""
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        """The field names, in declaration order."""
        return [f.name for f in fields(cls)]

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"cost {f.name} must be a non-negative int, not {value!r}")


DEFAULT_COSTS = CpuCosts()
