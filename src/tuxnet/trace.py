"""Tracepoints with Linux's names and fields, and an ftrace-like ring buffer.

Each ``Tracepoint`` has an ``active`` flag that is True only while something listens
(a subscriber or the ring buffer). Hot paths keep the object and test the flag before
building any field, which costs one attribute load when nobody listens, as a static
key does in the kernel::

    tp = host.tracepoints["net:netif_receive_skb"]      # once, at setup
    ...
    if tp.active:
        tp.emit(name=dev.name, skbaddr=id(skb), len=skb.len)

Subscribers get a ``TraceEvent`` (name, ts_ns, cpu, fields). The ring buffer stands
for /sys/kernel/tracing: ``enable("skb:kfree_skb")`` is ``echo 1 > events/skb/kfree_skb/
enable`` (``"skb:*"``, ``"kfree_skb"`` and ``"*:*"`` work as in set_event), and
``trace_text()`` reads the ``trace`` file. Its lines follow ftrace's default layout
(kernel/trace/trace_output.c trace_print_context)::

    <task:16>-<pid:-7> [<cpu:03>] <flags:5> <sec:5>.<usec:06>: <event>: <TP_printk text>

e.g. ``          <idle>-0       [000] ..s1.     0.000150: kfree_skb: skbaddr=...``.
The event texts follow each tracepoint's TP_printk (include/trace/events/*.h); ``%p``
prints the value as 16 hex digits, ``%pS`` prints the location string as given.
"""

from __future__ import annotations

import collections
import fnmatch
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["DEFINITIONS", "Subscription", "TraceError", "TraceEvent", "Tracepoint",
           "Tracepoints"]


class TraceError(Exception):
    """Unknown tracepoint or bad use of the tracing API."""


# name -> (fields, format). Formats use str.format with ``:p`` for %p pointers.
# Sources: include/trace/events/{skb,net,napi,tcp,sock,xdp,neigh,fib,qdisc,irq,udp}.h
_NET_DEV = (("name", "skbaddr", "len"), "dev={name} skbaddr={skbaddr:p} len={len}")
_NET_DEV_RX_VERBOSE = (
    ("name", "napi_id", "queue_mapping", "skbaddr", "vlan_tagged", "vlan_proto", "vlan_tci",
     "protocol", "ip_summed", "hash", "l4_hash", "len", "data_len", "truesize", "mac_header_valid",
     "mac_header", "nr_frags", "gso_size", "gso_type"),
    "dev={name} napi_id={napi_id:#x} queue_mapping={queue_mapping} skbaddr={skbaddr:p} "
    "vlan_tagged={vlan_tagged} vlan_proto={vlan_proto:#06x} vlan_tci={vlan_tci:#06x} "
    "protocol={protocol:#06x} ip_summed={ip_summed} hash={hash:#010x} l4_hash={l4_hash} "
    "len={len} data_len={data_len} truesize={truesize} mac_header_valid={mac_header_valid} "
    "mac_header={mac_header} nr_frags={nr_frags} gso_size={gso_size} gso_type={gso_type:#x}")
_RET = (("ret",), "ret={ret}")
_TCP_SK = (("skaddr", "sport", "dport", "family", "saddr", "daddr", "sock_cookie"),
           "family={family} sport={sport} dport={dport} saddr={saddr} daddr={daddr} "
           "sock_cookie={sock_cookie:x}")
_XDP_REDIRECT = (("prog_id", "act", "ifindex", "err", "to_ifindex", "map_id", "map_index"),
                 "prog_id={prog_id} action={act} ifindex={ifindex} to_ifindex={to_ifindex} "
                 "err={err} map_id={map_id} map_index={map_index}")

DEFINITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "skb:kfree_skb": (("skbaddr", "location", "rx_sk", "protocol", "reason"),
                      "skbaddr={skbaddr:p} rx_sk={rx_sk:p} protocol={protocol} "
                      "location={location} reason: {reason:sym}"),
    "skb:consume_skb": (("skbaddr", "location"), "skbaddr={skbaddr:p} location={location}"),
    "skb:skb_copy_datagram_iovec": (("skbaddr", "len"), "skbaddr={skbaddr:p} len={len}"),
    "net:net_dev_start_xmit": _NET_DEV_RX_VERBOSE,
    "net:net_dev_xmit": (("skbaddr", "len", "rc", "name"),
                         "dev={name} skbaddr={skbaddr:p} len={len} rc={rc}"),
    "net:net_dev_xmit_timeout": (("name", "driver", "queue_index"),
                                 "dev={name} driver={driver} queue={queue_index}"),
    "net:net_dev_queue": _NET_DEV,
    "net:netif_receive_skb": _NET_DEV,
    "net:netif_rx": _NET_DEV,
    "net:napi_gro_receive_entry": _NET_DEV_RX_VERBOSE,
    "net:napi_gro_frags_entry": _NET_DEV_RX_VERBOSE,
    "net:netif_receive_skb_entry": _NET_DEV_RX_VERBOSE,
    "net:netif_receive_skb_list_entry": _NET_DEV_RX_VERBOSE,
    "net:netif_rx_entry": _NET_DEV_RX_VERBOSE,
    "net:napi_gro_receive_exit": _RET,
    "net:napi_gro_frags_exit": _RET,
    "net:netif_receive_skb_exit": _RET,
    "net:netif_rx_exit": _RET,
    "net:netif_receive_skb_list_exit": _RET,
    "napi:napi_poll": (("napi", "dev_name", "work", "budget"),
                       "napi poll on napi struct {napi:p} for device {dev_name} work {work} "
                       "budget {budget}"),
    "irq:irq_handler_entry": (("irq", "name"), "irq={irq} name={name}"),
    "irq:irq_handler_exit": (("irq", "ret"), "irq={irq} ret={ret}"),
    "irq:softirq_entry": (("vec", "action"), "vec={vec} [action={action}]"),
    "irq:softirq_exit": (("vec", "action"), "vec={vec} [action={action}]"),
    "irq:softirq_raise": (("vec", "action"), "vec={vec} [action={action}]"),
    "qdisc:qdisc_dequeue": (("qdisc", "txq_state", "packets", "ifindex", "handle", "parent",
                             "skbaddr"),
                            "dequeue ifindex={ifindex} qdisc handle={handle:#x} "
                            "parent={parent:#x} txq_state={txq_state:#x} packets={packets} "
                            "skbaddr={skbaddr:p}"),
    "qdisc:qdisc_enqueue": (("qdisc", "dev", "parent", "handle", "skbaddr"),
                            "enqueue dev={dev} qdisc handle={handle:#x} parent={parent:#x} "
                            "skbaddr={skbaddr:p}"),
    "qdisc:qdisc_reset": (("dev", "kind", "parent", "handle"),
                          "dev={dev} kind={kind} parent={parent:#x} handle={handle:#x}"),
    "qdisc:qdisc_destroy": (("dev", "kind", "parent", "handle"),
                            "dev={dev} kind={kind} parent={parent:#x} handle={handle:#x}"),
    "qdisc:qdisc_create": (("dev", "kind", "parent"),
                           "dev={dev} kind={kind} parent={parent:#x}"),
    "tcp:tcp_probe": (("saddr", "daddr", "sport", "dport", "family", "mark", "data_len",
                       "snd_nxt", "snd_una", "snd_cwnd", "ssthresh", "snd_wnd", "srtt",
                       "rcv_wnd", "sock_cookie", "skbaddr", "skaddr"),
                      "family={family} src={saddr} dest={daddr} mark={mark:#x} "
                      "data_len={data_len} snd_nxt={snd_nxt:#x} snd_una={snd_una:#x} "
                      "snd_cwnd={snd_cwnd} ssthresh={ssthresh} snd_wnd={snd_wnd} srtt={srtt} "
                      "rcv_wnd={rcv_wnd} sock_cookie={sock_cookie:x} skbaddr={skbaddr:p} "
                      "skaddr={skaddr:p}"),
    "tcp:tcp_retransmit_skb": (("skbaddr", "skaddr", "state", "sport", "dport", "family",
                                "saddr", "daddr", "err"),
                               "skbaddr={skbaddr:p} skaddr={skaddr:p} family={family} "
                               "sport={sport} dport={dport} saddr={saddr} daddr={daddr} "
                               "state={state} err={err}"),
    "tcp:tcp_retransmit_synack": (("skaddr", "req", "sport", "dport", "family", "saddr",
                                   "daddr"),
                                  "family={family} sport={sport} dport={dport} saddr={saddr} "
                                  "daddr={daddr}"),
    "tcp:tcp_send_reset": (("skbaddr", "skaddr", "state", "saddr", "daddr", "reason"),
                           "skbaddr={skbaddr:p} skaddr={skaddr:p} src={saddr} dest={daddr} "
                           "state={state} reason={reason}"),
    "tcp:tcp_receive_reset": _TCP_SK,
    "tcp:tcp_destroy_sock": _TCP_SK,
    "tcp:tcp_rcv_space_adjust": _TCP_SK,
    "tcp:tcp_bad_csum": (("skbaddr", "saddr", "daddr"),
                         "src={saddr} dest={daddr} skbaddr={skbaddr:p}"),
    "tcp:tcp_cong_state_set": (("skaddr", "sport", "dport", "family", "saddr", "daddr",
                                "cong_state"),
                               "family={family} sport={sport} dport={dport} saddr={saddr} "
                               "daddr={daddr} cong_state={cong_state}"),
    "sock:inet_sock_set_state": (("skaddr", "oldstate", "newstate", "sport", "dport", "family",
                                  "protocol", "saddr", "daddr"),
                                 "family={family} protocol={protocol} sport={sport} "
                                 "dport={dport} saddr={saddr} daddr={daddr} "
                                 "oldstate={oldstate} newstate={newstate}"),
    "sock:sock_rcvqueue_full": (("rmem_alloc", "truesize", "sk_rcvbuf"),
                                "rmem_alloc={rmem_alloc} truesize={truesize} "
                                "sk_rcvbuf={sk_rcvbuf}"),
    "sock:sock_exceed_buf_limit": (("name", "sysctl_mem", "allocated", "sysctl_rmem",
                                    "rmem_alloc", "sysctl_wmem", "wmem_alloc", "wmem_queued",
                                    "kind"),
                                   "proto:{name} sysctl_mem={sysctl_mem} allocated={allocated} "
                                   "sysctl_rmem={sysctl_rmem} rmem_alloc={rmem_alloc} "
                                   "sysctl_wmem={sysctl_wmem} wmem_alloc={wmem_alloc} "
                                   "wmem_queued={wmem_queued} kind={kind}"),
    "udp:udp_fail_queue_rcv_skb": (("rc", "sport", "dport", "family", "saddr", "daddr"),
                                   "family={family} sport={sport} dport={dport} saddr={saddr} "
                                   "daddr={daddr} rc={rc}"),
    "neigh:neigh_create": (("family", "dev", "entries", "created", "gc_exempt", "primary_key4"),
                           "family {family} dev {dev} entries {entries} primary_key4 "
                           "{primary_key4} created {created} gc_exempt {gc_exempt}"),
    "neigh:neigh_update": (("family", "lladdr", "dev", "nud_state", "new_state", "flags",
                            "primary_key4"),
                           "family {family} dev {dev} lladdr {lladdr} primary_key4 "
                           "{primary_key4} nud_state {nud_state} new_state {new_state} "
                           "flags {flags}"),
    "neigh:neigh_timer_handler": (("family", "dev", "lladdr", "nud_state", "primary_key4"),
                                  "family {family} dev {dev} lladdr {lladdr} primary_key4 "
                                  "{primary_key4} nud_state {nud_state}"),
    "fib:fib_table_lookup": (("tb_id", "err", "oif", "iif", "proto", "tos", "scope", "flags",
                              "src", "dst", "gw4", "name"),
                             "table {tb_id} oif {oif} iif {iif} proto {proto} {src} -> {dst} "
                             "tos {tos} scope {scope} flags {flags} ==> dev {name} gw {gw4} "
                             "err {err}"),
    "xdp:xdp_exception": (("prog_id", "act", "ifindex"),
                          "prog_id={prog_id} action={act} ifindex={ifindex}"),
    "xdp:xdp_bulk_tx": (("ifindex", "act", "drops", "sent", "err"),
                        "ifindex={ifindex} action={act} sent={sent} drops={drops} err={err}"),
    "xdp:xdp_redirect": _XDP_REDIRECT,
    "xdp:xdp_redirect_err": _XDP_REDIRECT,
    "xdp:xdp_redirect_map": _XDP_REDIRECT,
    "xdp:xdp_redirect_map_err": _XDP_REDIRECT,
    "xdp:xdp_cpumap_kthread": (("map_id", "act", "cpu", "drops", "processed", "sched"),
                               "kthread cpu={cpu} map_id={map_id} action={act} "
                               "processed={processed} drops={drops} sched={sched}"),
    "xdp:xdp_cpumap_enqueue": (("map_id", "act", "cpu", "drops", "processed", "to_cpu"),
                               "enqueue cpu={cpu} map_id={map_id} action={act} "
                               "processed={processed} drops={drops} to_cpu={to_cpu}"),
    "xdp:xdp_devmap_xmit": (("from_ifindex", "act", "to_ifindex", "drops", "sent", "err"),
                            "ndo_xdp_xmit from_ifindex={from_ifindex} to_ifindex={to_ifindex} "
                            "action={act} sent={sent} drops={drops} err={err}"),
}


class _TraceFormatter(string.Formatter):
    """str.format with ``:p`` = kernel %p (16 hex digits; None prints as zeros) and
    ``:sym`` = __print_symbolic (an enum's name)."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "p":
            return f"{(value or 0) & 0xFFFFFFFFFFFFFFFF:016x}"
        if format_spec == "sym":  # __print_symbolic: an enum prints its bare name
            return str(getattr(value, "name", value))
        if value is None:
            value = 0
        if format_spec and not isinstance(value, (int, float)):
            return str(value)
        return str(super().format_field(value, format_spec))


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        return 0  # a field the emitter left out prints as zero


_FORMATTER = _TraceFormatter()


class TraceEvent:
    """One recorded tracepoint hit."""

    __slots__ = ("comm", "cpu", "fields", "flags", "name", "pid", "ts_ns")

    def __init__(self, name: str, ts_ns: int, cpu: int, fields: dict[str, Any],
                 comm: str = "<idle>", pid: int = 0, flags: str = "..s1.") -> None:
        self.name = name
        self.ts_ns = ts_ns
        self.cpu = cpu
        self.fields = fields
        self.comm = comm
        self.pid = pid
        self.flags = flags

    def __repr__(self) -> str:
        return f"<TraceEvent {self.name} ts={self.ts_ns} {self.fields}>"


Callback = Callable[[TraceEvent], None]
Clock = Callable[[], int]
# (task comm, pid, cpu, flags) of the context that hits a tracepoint
Context = Callable[[], tuple[str, int, int, str]]


def _idle_context() -> tuple[str, int, int, str]:
    return ("<idle>", 0, 0, "..s1.")


class Tracepoint:
    """One tracepoint; ``active`` is the static key hot paths test before emitting."""

    __slots__ = ("_fieldset", "_owner", "_subs", "active", "buffered", "event", "fields", "fmt",
                 "name", "system")

    def __init__(self, owner: Tracepoints, name: str, fields: tuple[str, ...], fmt: str) -> None:
        self._owner = owner
        self.name = name
        self.system, _, self.event = name.partition(":")
        self.fields = fields
        self._fieldset = frozenset(fields)
        self.fmt = fmt
        self._subs: list[Callback] = []
        self.buffered = False  # enabled in the ring buffer
        self.active = False

    def _update(self) -> None:
        self.active = bool(self._subs) or self.buffered

    def emit(self, **fields: Any) -> None:
        """trace_<event>(): deliver to subscribers and the ring buffer (if active)."""
        if not self.active:
            return
        unknown = fields.keys() - self._fieldset
        if unknown:
            raise TraceError(f"{self.name}: unknown field(s) {sorted(unknown)}; "
                             f"fields are {', '.join(self.fields)}")
        owner = self._owner
        comm, pid, cpu, flags = owner.context()
        ev = TraceEvent(self.name, owner.clock(), cpu, fields, comm, pid, flags)
        if self.buffered:
            owner._record(ev)
        for cb in list(self._subs):
            cb(ev)

    def format(self, fields: Mapping[str, Any]) -> str:
        """The TP_printk text for ``fields``."""
        try:
            return _FORMATTER.vformat(self.fmt, (), _Fields(fields))
        except (ValueError, TypeError):
            return " ".join(f"{k}={v}" for k, v in fields.items())


class Subscription:
    """Handle returned by ``subscribe``; ``unsubscribe()`` (or ``with``) detaches it."""

    __slots__ = ("_callback", "_tp")

    def __init__(self, tp: Tracepoint, callback: Callback) -> None:
        self._tp: Tracepoint | None = tp
        self._callback = callback

    def unsubscribe(self) -> None:
        """Stop delivering events to the callback (idempotent)."""
        tp = self._tp
        if tp is not None:
            if self._callback in tp._subs:
                tp._subs.remove(self._callback)
            tp._update()
            self._tp = None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unsubscribe()


class Tracepoints:
    """The tracepoints of one host and its trace ring buffer."""

    def __init__(self, clock: Clock | None = None, *, context: Context | None = None,
                 ncpus: int = 1, buffer_entries: int = 65536) -> None:
        self.clock: Clock = clock if clock is not None else (lambda: 0)
        self.context: Context = context if context is not None else _idle_context
        self.ncpus = ncpus
        self._tps: dict[str, Tracepoint] = {}
        self._buffer: collections.deque[TraceEvent] = collections.deque(maxlen=buffer_entries)
        self._written = 0
        for name, (fields, fmt) in DEFINITIONS.items():
            self._tps[name] = Tracepoint(self, name, fields, fmt)

    # -- registry -------------------------------------------------------------------
    def __getitem__(self, name: str) -> Tracepoint:
        tp = self._tps.get(name)
        if tp is None:
            raise TraceError(f"unknown tracepoint {name!r} (not in available_events; "
                             "names are system:event, e.g. skb:kfree_skb)")
        return tp

    def __contains__(self, name: object) -> bool:
        return name in self._tps

    def names(self) -> list[str]:
        """All tracepoint names (as /sys/kernel/tracing/available_events lists them)."""
        return sorted(self._tps)

    def define(self, name: str, fields: Iterable[str], fmt: str) -> Tracepoint:
        """Add a tracepoint (TRACE_EVENT) a subsystem needs; ``name`` is system:event."""
        system, sep, event = name.partition(":")
        if not sep or not system or not event:
            raise TraceError(f"bad tracepoint name {name!r}: expected system:event")
        if name in self._tps:
            raise TraceError(f"tracepoint {name!r} already defined")
        tp = Tracepoint(self, name, tuple(fields), fmt)
        self._tps[name] = tp
        return tp

    # -- subscribers ------------------------------------------------------------------
    def enabled(self, name: str) -> bool:
        """True when emitting ``name`` reaches someone."""
        return self[name].active

    def subscribe(self, name: str, callback: Callback) -> Subscription:
        """Call ``callback(event)`` on every hit of ``name``."""
        tp = self[name]
        tp._subs.append(callback)
        tp._update()
        return Subscription(tp, callback)

    def emit(self, tracepoint: str, /, **fields: Any) -> None:
        """Emit by name; hot paths should test ``tp.active`` on a kept Tracepoint first."""
        tp = self[tracepoint]
        if tp.active:
            tp.emit(**fields)

    # -- ring buffer (/sys/kernel/tracing) ----------------------------------------------
    def _match(self, pattern: str) -> list[Tracepoint]:
        """set_event syntax: ``system:event``, ``system:*``, ``event``, ``*:*``."""
        system, sep, event = pattern.partition(":")
        if not sep:
            system, event = "*", pattern
        found = [tp for tp in self._tps.values()
                 if fnmatch.fnmatchcase(tp.system, system or "*")
                 and fnmatch.fnmatchcase(tp.event, event or "*")]
        if not found:
            raise TraceError(f"unknown tracepoint {pattern!r}: no match in available_events")
        return found

    def enable(self, pattern: str) -> list[str]:
        """Record matching events in the ring buffer; returns the names enabled."""
        tps = self._match(pattern)
        for tp in tps:
            tp.buffered = True
            tp._update()
        return [tp.name for tp in tps]

    def disable(self, pattern: str) -> list[str]:
        """Stop recording matching events."""
        tps = self._match(pattern)
        for tp in tps:
            tp.buffered = False
            tp._update()
        return [tp.name for tp in tps]

    def set_event(self) -> list[str]:
        """Names enabled in the ring buffer (reading /sys/kernel/tracing/set_event)."""
        return [tp.name for tp in self._tps.values() if tp.buffered]

    def _record(self, ev: TraceEvent) -> None:
        self._written += 1
        self._buffer.append(ev)

    def events(self) -> list[TraceEvent]:
        """The ring buffer's contents, oldest first."""
        return list(self._buffer)

    def clear(self) -> None:
        """Empty the ring buffer (``echo > trace``)."""
        self._buffer.clear()
        self._written = 0

    def format_event(self, ev: TraceEvent) -> str:
        """One line of the trace file for ``ev``."""
        usecs = ev.ts_ns // 1000
        text = self[ev.name].format(ev.fields)
        event = ev.name.partition(":")[2]
        return (f"{ev.comm:>16}-{ev.pid:<7d} [{ev.cpu:03d}] {ev.flags} "
                f"{usecs // 1_000_000:5d}.{usecs % 1_000_000:06d}: {event}: {text}")

    def trace_text(self) -> str:
        """The /sys/kernel/tracing/trace file: header, then one line per event."""
        n = len(self._buffer)
        head = (
            "# tracer: nop\n"
            "#\n"
            f"# entries-in-buffer/entries-written: {n}/{self._written}   #P:{self.ncpus}\n"
            "#\n"
            "#                                _-----=> irqs-off/BH-disabled\n"
            "#                               / _----=> need-resched\n"
            "#                              | / _---=> hardirq/softirq\n"
            "#                              || / _--=> preempt-depth\n"
            "#                              ||| / _-=> migrate-disable\n"
            "#                              |||| /     delay\n"
            "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
            "#              | |         |   |||||     |         |\n"
        )
        return head + "".join(self.format_event(ev) + "\n" for ev in self._buffer)
