"""One kernel instance (a network namespace): sysctls, MIB counters, tracepoints, drops.

A ``Host`` is what ``struct net`` plus the kernel around it is to Linux: subsystems
hang off it (devices, routes, sockets are filled in by their own modules) and reach
the shared services through it: ``host.sysctl`` (net.* tree), ``host.mib``
(/proc/net/snmp and /proc/net/netstat counters), ``host.tracepoints``,
``host.kfree_skb(skb, reason)`` for every drop, ``host.now_ns()`` for time and
``host.rng`` for seeded randomness. Time and timers come only from ``host.loop``.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from typing import Protocol

from tuxnet.dropreason import SkbDropReason
from tuxnet.loop import EventLoop
from tuxnet.mib import Mib
from tuxnet.sysctl import Sysctl
from tuxnet.trace import Tracepoints

__all__ = ["IFF_LOOPBACK", "Host", "HostError", "NetDeviceLike", "SkbLike"]

IFF_LOOPBACK = 0x8  # include/uapi/linux/if.h
_CONSUMED = SkbDropReason.CONSUMED  # enum attribute lookups are slow; look it up once


class SkbLike(Protocol):
    """What the host needs of an sk_buff: its length (``free()`` is used if present)."""

    @property
    def len(self) -> int: ...


class NetDeviceLike(Protocol):
    """What register_netdev needs of a device: its name (``flags``/``ifindex`` optional)."""

    @property
    def name(self) -> str: ...


class HostError(Exception):
    """A rejected host operation (duplicate device name, unknown device ...)."""


class Host:
    """One simulated kernel with its own network namespace."""

    def __init__(self, loop: EventLoop, name: str = "host", *, ncpus: int = 1,
                 seed: int = 0) -> None:
        if ncpus < 1:
            raise HostError(f"host {name!r}: ncpus must be >= 1, not {ncpus}")
        self.loop = loop
        self.name = name
        self.ncpus = ncpus
        self.seed = seed
        # str seeds go through SHA-512: the same (seed, name) gives the same stream on
        # every run and machine, and two hosts of one scenario get different streams.
        self.rng = random.Random(f"tuxnet:{seed}:{name}")
        self.sysctl = Sysctl()
        self.mib = Mib(self.sysctl)
        self.current_cpu = 0  # the CPU the running softirq/task is on (set by core/)
        self.tracepoints = Tracepoints(loop.now_ns, context=self._trace_context, ncpus=ncpus)
        self.drop_counts: Counter[SkbDropReason] = Counter()
        self.drop_locations: Counter[tuple[SkbDropReason, str]] = Counter()
        # filled by later subsystems
        self.devices: dict[str, object] = {}
        self.routes: list[object] = []
        self.sockets: list[object] = []
        self._last_ifindex = 0
        self._tp_kfree_skb = self.tracepoints["skb:kfree_skb"]
        self._tp_consume_skb = self.tracepoints["skb:consume_skb"]

    def __repr__(self) -> str:
        return f"<Host {self.name} ncpus={self.ncpus} devices={list(self.devices)}>"

    def now_ns(self) -> int:
        """ktime_get_ns(): the loop's clock in nanoseconds."""
        return self.loop.now_ns()

    def _trace_context(self) -> tuple[str, int, int, str]:
        # packets are processed in softirq context on the current CPU
        return ("<idle>", 0, self.current_cpu, "..s1.")

    # -- devices ------------------------------------------------------------------------
    def dev_new_index(self) -> int:
        """dev_new_index(): the next free ifindex (1 is the first device, usually lo)."""
        self._last_ifindex += 1
        return self._last_ifindex

    def register_netdev(self, dev: NetDeviceLike, *, loopback: bool | None = None) -> None:
        """register_netdevice(): add ``dev`` under its name, give it an ifindex if it has
        an ``ifindex`` of 0, and create its conf/neigh sysctl trees (loopback when
        ``flags`` has IFF_LOOPBACK unless ``loopback`` says otherwise)."""
        name = dev.name
        if name in self.devices:
            raise HostError(f"RTNETLINK answers: File exists (device {name!r})")
        if loopback is None:
            loopback = bool(getattr(dev, "flags", 0) & IFF_LOOPBACK)
        self.sysctl.register_device(name, loopback=loopback)
        if getattr(dev, "ifindex", None) == 0:
            dev.ifindex = self.dev_new_index()  # type: ignore[attr-defined]
        self.devices[name] = dev

    def unregister_netdev(self, name: str) -> object:
        """unregister_netdevice(): remove the device and its sysctl trees."""
        dev = self.devices.pop(name, None)
        if dev is None:
            raise HostError(f'Cannot find device "{name}"')
        self.sysctl.unregister_device(name)
        return dev

    # -- freeing packets ----------------------------------------------------------------
    def kfree_skb(self, skb: SkbLike, reason: SkbDropReason = SkbDropReason.NOT_SPECIFIED,
                  location: str = "", rx_sk: object | None = None) -> None:
        """kfree_skb_reason(): count the drop reason, emit skb:kfree_skb, free the skb.

        ``location`` names the dropping function (the kernel's %pS return address); when
        empty and the tracepoint is on, the caller's function name is used.
        SKB_CONSUMED is not a drop: it goes to consume_skb as in the kernel.
        """
        if reason is _CONSUMED:
            self.consume_skb(skb, location)
            return
        self.drop_counts[reason] += 1
        if location:
            self.drop_locations[(reason, location)] += 1
        tp = self._tp_kfree_skb
        if tp.active:
            tp.emit(skbaddr=id(skb), location=location or sys._getframe(1).f_code.co_name,
                    rx_sk=id(rx_sk) if rx_sk is not None else 0,
                    protocol=getattr(skb, "protocol", 0), reason=reason)
        free = getattr(skb, "free", None)
        if free is not None:
            free()

    def consume_skb(self, skb: SkbLike, location: str = "") -> None:
        """consume_skb(): free a packet that was used, not dropped; emit skb:consume_skb."""
        tp = self._tp_consume_skb
        if tp.active:
            tp.emit(skbaddr=id(skb), location=location or sys._getframe(1).f_code.co_name)
        free = getattr(skb, "free", None)
        if free is not None:
            free()

    def format_drops(self) -> str:
        """A drop summary, as `perf script` over skb:kfree_skb would tally it: drops per
        reason (most first), then per location in dropwatch's words."""
        total = sum(self.drop_counts.values())
        lines = [f"{'drops':>8}  reason"]
        for reason, n in sorted(self.drop_counts.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"{n:>8}  {reason.name}")
        lines.append(f"{total:>8}  total")
        for (reason, loc), n in sorted(self.drop_locations.items(),
                                       key=lambda kv: (-kv[1], kv[0][1], kv[0][0])):
            lines.append(f"{n} drops at {loc} [{reason.name}]")
        return "\n".join(lines) + "\n"
