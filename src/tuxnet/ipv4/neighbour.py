"""The generic neighbour table and its NUD state machine (net/core/neighbour.c,
include/net/neighbour.h, include/uapi/linux/neighbour.h).

One :class:`NeighTable` per protocol (ARP's is ``arp_cache``, see :mod:`tuxnet.ipv4.arp`)
holds :class:`Neighbour` entries keyed by (device, protocol address). An entry moves
through Linux's NUD states with Linux's rules and timers, all on ``host.loop``:

* ``neigh_event_send``: NONE/FAILED -> INCOMPLETE (solicit at once, then every
  retrans_time; packets wait in ``arp_queue``, bounded by unres_qlen_bytes, oldest
  dropped with NEIGH_QUEUEFULL); STALE -> DELAY.
* ``neigh_timer_handler``: INCOMPLETE/PROBE give up after neigh_max_probes solicits
  (FAILED: queued packets get ``error_report`` -> NEIGH_FAILED); REACHABLE ages to
  DELAY or STALE after ``parms.reachable_time`` (neigh_rand_reach_time); DELAY ->
  REACHABLE if confirmed meanwhile, else PROBE (ucast_solicit unicast probes).
* ``neigh_update``: the one place an entry learns an address (ARP input, ``ip neigh``).
* Garbage collection: ``neigh_periodic_work`` every base_reachable_time/2 (only above
  gc_thresh1; removes FAILED and unused-for-gc_stale_time entries) and
  ``neigh_forced_gc`` on allocation above gc_thresh2/gc_thresh3.

Times are integer nanoseconds of the loop clock (Linux: jiffies). The periodic work is a
*deferrable* work in Linux (it never wakes an idle CPU); here it is run lazily: every
table operation first runs the periods that fell due, each at its own time, so an idle
simulation still comes to an end while the results are the same.

Reference counts follow Linux (the table holds one, a pending timer one, lookups that
return an entry one); ``ip -s neigh`` shows ``refcnt - 1``. Dump order is creation order
(Linux: hash-bucket order, which depends on a random hash seed).
"""

from __future__ import annotations

import collections
import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.neigh_defs import (
    AF_INET,
    ETH_HLEN,
    MS,
    NEIGH_UPDATE_F_ADMIN,
    NEIGH_UPDATE_F_EXT_LEARNED,
    NEIGH_UPDATE_F_ISROUTER,
    NEIGH_UPDATE_F_OVERRIDE,
    NEIGH_UPDATE_F_OVERRIDE_ISROUTER,
    NEIGH_UPDATE_F_USE,
    NEIGH_UPDATE_F_WEAK_OVERRIDE,
    NTF_EXT_LEARNED,
    NTF_ROUTER,
    NUD_CONNECTED,
    NUD_DELAY,
    NUD_FAILED,
    NUD_IN_TIMER,
    NUD_INCOMPLETE,
    NUD_NOARP,
    NUD_NONE,
    NUD_PERMANENT,
    NUD_PROBE,
    NUD_REACHABLE,
    NUD_STALE,
    NUD_VALID,
    SEC,
    NeighError,
    NeighParms,
    NeighStatistics,
    NetDev,
    PneighEntry,
    Xmit,
    nud_state_name,
)
from tuxnet.skb import SkBuff
from tuxnet.wire.addr import ip_str, mac_str

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.loop.base import TimerHandle

__all__ = ["NeighTable", "NeighTableOps", "Neighbour", "OutputFn"]

OutputFn = Callable[["Neighbour", SkBuff], int]
_HZ_100 = 10 * MS  # HZ/100: the shortest neighbour timer (neigh_timer_handler)
_ETH_HDR = struct.Struct("!6s6sH")


class NeighTableOps(Protocol):
    """The per-protocol half of struct neigh_table + struct neigh_ops (ARP's in arp.py)."""

    def constructor(self, n: Neighbour) -> int:
        """tbl->constructor: set type, state, ha and ops of a new entry; 0 or -errno."""
        ...

    def solicit(self, n: Neighbour, skb: SkBuff | None) -> None:
        """neigh_ops.solicit: send one probe for ``n``."""
        ...

    def error_report(self, n: Neighbour, skb: SkBuff) -> None:
        """neigh_ops.error_report: a queued packet whose resolution failed."""
        ...

    def is_multicast(self, key: int) -> bool:
        """tbl->is_multicast."""
        ...


class Neighbour:
    """struct neighbour. Times (``updated``, ``used``, ``confirmed``) are loop ns."""

    __slots__ = ("arp_queue", "arp_queue_len_bytes", "confirmed", "dead", "dev", "flags",
                 "ha", "hh", "nud_state", "on_gc_list", "output", "parms", "primary_key",
                 "probes", "protocol", "refcnt", "tbl", "timer", "type", "updated", "used")

    def __init__(self, tbl: NeighTable, key: int, dev: NetDev, now: int) -> None:
        self.tbl = tbl
        self.primary_key = key
        self.dev = dev
        self.parms = tbl.parms
        self.nud_state = NUD_NONE
        self.flags = 0
        self.type = 0
        self.ha = bytes(len(dev.dev_addr))
        self.hh: bytes | None = None  # struct hh_cache: the cached link-layer header
        self.updated = now
        self.used = now
        self.confirmed = now
        self.probes = 0
        self.arp_queue: collections.deque[SkBuff] = collections.deque()
        self.arp_queue_len_bytes = 0
        self.refcnt = 1
        self.dead = True
        self.timer: TimerHandle | None = None
        self.output: OutputFn = tbl.neigh_blackhole
        self.protocol = 0
        self.on_gc_list = False

    def __repr__(self) -> str:
        return (f"<Neighbour {ip_str(self.primary_key)} dev {self.dev.name} "
                f"{nud_state_name(self.nud_state)} {mac_str(self.ha)}>")


class NeighTable:
    """struct neigh_table with its operations (net/core/neighbour.c)."""

    def __init__(self, host: Host, ops: NeighTableOps, xmit: Xmit, *, id: str = "arp_cache",
                 protocol: int = 0x0800) -> None:
        self.host = host
        self.loop = host.loop
        self.ops = ops
        self.xmit = xmit  # dev_queue_xmit
        self.id = id
        self.protocol = protocol  # tbl->protocol: the ethertype the hh cache carries
        self.family = AF_INET
        self._hash: dict[tuple[int, int], Neighbour] = {}
        self._phash: dict[tuple[int, int], PneighEntry] = {}
        self.gc_list: dict[int, Neighbour] = {}  # ordered: cleaning takes the oldest
        self.entries = 0  # tbl->entries (alive or dead-but-held entries)
        self.hash_shift = 3  # neigh_table_init: neigh_hash_alloc(3)
        self.stats = [NeighStatistics() for _ in range(host.ncpus)]
        now = self.loop.now_ns()
        self.parms = NeighParms(host, "default", 0)
        self.parms.reachable_time = self.neigh_rand_reach_time(self.parms.base_reachable_time)
        self._dev_parms: dict[str, NeighParms] = {}
        self.last_flush = now
        self.last_rand = now + self.parms.reachable_time * 20  # neigh_table_init
        self.gc_next = now + self.parms.reachable_time  # first gc_work: reachable_time
        self._in_gc = False
        self._tp_create = host.tracepoints["neigh:neigh_create"]
        self._tp_update = host.tracepoints["neigh:neigh_update"]
        self._tp_timer = host.tracepoints["neigh:neigh_timer_handler"]
        host.sysctl.watch("net.ipv4.neigh.*.base_reachable_time_ms", self._brt_changed)

    # -- parameters ------------------------------------------------------------------
    def neigh_rand_reach_time(self, base: int) -> int:
        """neigh_rand_reach_time: uniform in [base/2, 3*base/2) (RFC 4861 6.3.2)."""
        return self.host.rng.randrange(base) + (base >> 1) if base > 0 else 0

    def parms_for(self, dev: NetDev) -> NeighParms:
        """in_dev->arp_parms (neigh_parms_alloc on first use): the device's neigh.DEV
        sysctls, or neigh.default for a device without a sysctl tree."""
        name = dev.name
        p = self._dev_parms.get(name)
        if p is None:
            if name not in self.host.sysctl.devices():
                return self.parms
            p = NeighParms(self.host, name, 0)
            p.reachable_time = self.neigh_rand_reach_time(p.base_reachable_time)
            self._dev_parms[name] = p
        return p

    def _brt_changed(self, name: str, _value: object) -> None:
        # neigh_proc_base_reachable_time: a write re-randomizes reachable_time at once.
        # (Propagated writes from neigh.default re-randomize the device too: a deviation.)
        dev = name.split(".")[3].replace("/", ".")
        p = self.parms if dev == "default" else self._dev_parms.get(dev)
        if p is not None:
            p.reachable_time = self.neigh_rand_reach_time(p.base_reachable_time)

    def _st(self) -> NeighStatistics:
        cpu = self.host.current_cpu
        return self.stats[cpu if cpu < len(self.stats) else 0]

    def stats_total(self) -> dict[str, int]:
        """The per-CPU counters summed (as `ip -s ntable` shows them)."""
        self.run_deferred()
        total = collections.Counter[str]()
        for st in self.stats:
            total.update(st.as_dict())
        return dict(total)

    # -- reference counts ------------------------------------------------------------
    @staticmethod
    def neigh_hold(n: Neighbour) -> Neighbour:
        """neigh_hold."""
        n.refcnt += 1
        return n

    def neigh_release(self, n: Neighbour) -> None:
        """neigh_release: the last reference destroys the entry."""
        n.refcnt -= 1
        if n.refcnt == 0:
            self._neigh_destroy(n)

    def _neigh_destroy(self, n: Neighbour) -> None:
        """neigh_destroy: count it, drop what is still queued, leave the table count."""
        self._st().destroys += 1
        self._purge_queue(n, SkbDropReason.NEIGH_DEAD, "neigh_destroy")
        self.entries -= 1

    def _purge_queue(self, n: Neighbour, reason: SkbDropReason, where: str) -> None:
        q = n.arp_queue
        while q:
            self.host.kfree_skb(q.popleft(), reason, where)
        n.arp_queue_len_bytes = 0

    # -- timers ----------------------------------------------------------------------
    def _add_timer(self, n: Neighbour, when: int) -> None:
        """neigh_add_timer: the timer holds a reference; ``used`` is not older than
        ``confirmed``."""
        n.refcnt += 1
        if n.used < n.confirmed:
            n.used = n.confirmed
        if n.timer is not None:  # "NEIGH: BUG, double timer add"
            n.timer.cancel()
            n.refcnt -= 1
        n.timer = self.loop.call_at(when, self.neigh_timer_handler, n)

    def _del_timer(self, n: Neighbour) -> bool:
        """neigh_del_timer: cancel a pending timer and drop its reference."""
        if n.nud_state & NUD_IN_TIMER and n.timer is not None:
            n.timer.cancel()
            n.timer = None
            self.neigh_release(n)
            return True
        return False

    # -- lookup and creation ---------------------------------------------------------
    def lookup_noref(self, key: int, dev: NetDev) -> Neighbour | None:
        """__neigh_lookup_noref: no reference, no statistics (the output fast path)."""
        if self.loop.now_ns() >= self.gc_next:  # the deferrable gc work fell due
            self.run_deferred()
        return self._hash.get((id(dev), key))

    def neigh_lookup(self, key: int, dev: NetDev) -> Neighbour | None:
        """neigh_lookup: counted (lookups, hits); the entry comes with a reference."""
        self.run_deferred()
        st = self._st()
        st.lookups += 1
        n = self._hash.get((id(dev), key))
        if n is not None:
            n.refcnt += 1
            st.hits += 1
        return n

    def _neigh_alloc(self, dev: NetDev, flags: int, exempt_from_gc: bool) -> Neighbour:
        """neigh_alloc: forced gc above gc_thresh2/3; table_fulls when still full."""
        now = self.loop.now_ns()
        if not exempt_from_gc:
            get = self.host.sysctl.get_int
            entries = len(self.gc_list)  # atomic_inc_return(&gc_entries) - 1
            thresh2 = get("net.ipv4.neigh.default.gc_thresh2")
            thresh3 = get("net.ipv4.neigh.default.gc_thresh3")
            if ((entries >= thresh3 or
                 (entries >= thresh2 and now > self.last_flush + 5 * SEC)) and
                    not self.neigh_forced_gc(entries + 1 - thresh2) and entries >= thresh3):
                self._st().table_fulls += 1  # "arp_cache: neighbor table overflow!"
                raise NeighError(errno.ENOBUFS)
        n = Neighbour(self, 0, dev, now)
        n.flags = flags
        self._st().allocs += 1
        self.entries += 1
        return n

    def neigh_create(self, key: int, dev: NetDev, *, want_ref: bool = True, flags: int = 0,
                     exempt_from_gc: bool = False) -> Neighbour:
        """___neigh_create: allocate, run the protocol constructor, insert. Raises
        NeighError(ENOBUFS) when the table is full (gc_thresh3)."""
        self.run_deferred()
        n = self._neigh_alloc(dev, flags, exempt_from_gc)
        n.primary_key = key
        n.parms = self.parms_for(dev)
        err = self.ops.constructor(n)
        if err < 0:
            self.neigh_release(n)
            raise NeighError(-err)
        now = self.loop.now_ns()
        n.confirmed = now - (n.parms.base_reachable_time << 1)
        if self.entries > (1 << self.hash_shift):
            self.hash_shift += 1  # neigh_hash_grow
            self._st().hash_grows += 1
        hkey = (id(dev), n.primary_key)
        old = self._hash.get(hkey)
        if old is not None:
            self.neigh_release(n)
            if want_ref:
                old.refcnt += 1
            return old
        n.dead = False
        if not exempt_from_gc:
            self.gc_list[id(n)] = n
            n.on_gc_list = True
        if want_ref:
            n.refcnt += 1
        self._hash[hkey] = n
        if self._tp_create.active:
            self._tp_create.emit(family=self.family, dev=dev.name, entries=self.entries,
                                 created=1, gc_exempt=int(exempt_from_gc),
                                 primary_key4=ip_str(n.primary_key))
        return n

    def neigh_lookup_create(self, key: int, dev: NetDev, creat: bool) -> Neighbour | None:
        """__neigh_lookup: neigh_lookup, then create when ``creat`` (errors -> None)."""
        n = self.neigh_lookup(key, dev)
        if n is not None or not creat:
            return n
        try:
            return self.neigh_create(key, dev)
        except NeighError:
            return None

    def neigh_event_ns(self, lladdr: bytes | None, key: int, dev: NetDev) -> Neighbour | None:
        """neigh_event_ns: someone asked for us: learn the asker as STALE (with a ref)."""
        n = self.neigh_lookup_create(key, dev, lladdr is not None or not dev.dev_addr)
        if n is not None:
            self.neigh_update(n, lladdr, NUD_STALE, NEIGH_UPDATE_F_OVERRIDE)
        return n

    # -- state machine ---------------------------------------------------------------
    def neigh_connect(self, n: Neighbour) -> None:
        """neigh_connect: the entry is usable, take the fast output."""
        n.output = self._ops_output(n, connected=True)

    def neigh_suspect(self, n: Neighbour) -> None:
        """neigh_suspect: the entry is doubtful, take the slow (resolving) output."""
        n.output = self._ops_output(n, connected=False)

    def _ops_output(self, n: Neighbour, connected: bool) -> OutputFn:
        if not n.dev.dev_addr:  # arp_direct_ops
            return self.neigh_direct_output
        # arp_hh_ops: output and connected_output are both neigh_resolve_output; the fast
        # path is the hh cache in neigh_output
        return self.neigh_resolve_output

    def neigh_max_probes(self, n: Neighbour) -> int:
        """neigh_max_probes: ucast + app + (mcast_resolicit in PROBE else mcast)."""
        p = n.parms
        return (p.var("ucast_solicit") + p.var("app_solicit") +
                p.var("mcast_resolicit" if n.nud_state & NUD_PROBE else "mcast_solicit"))

    def neigh_probe(self, n: Neighbour) -> None:
        """neigh_probe: solicit with the newest queued packet as a hint, count it."""
        skb = n.arp_queue[-1] if n.arp_queue else None
        self.ops.solicit(n, skb)
        n.probes += 1

    def neigh_invalidate(self, n: Neighbour) -> None:
        """neigh_invalidate: resolution failed: report each queued packet (ICMP host
        unreachable, NEIGH_FAILED), then empty the queue."""
        self._st().res_failed += 1
        n.updated = self.loop.now_ns()
        q = n.arp_queue
        while n.nud_state == NUD_FAILED and q:
            self.ops.error_report(n, q.popleft())
        self._purge_queue(n, SkbDropReason.NEIGH_FAILED, "neigh_invalidate")

    def neigh_timer_handler(self, n: Neighbour) -> None:
        """neigh_timer_handler: REACHABLE ages, DELAY decides, INCOMPLETE/PROBE probe
        again or fail."""
        n.timer = None
        self.run_deferred()
        state = n.nud_state
        now = self.loop.now_ns()
        if state & NUD_IN_TIMER and not n.dead:
            p = n.parms
            retrans = max(p.retrans_time, _HZ_100)
            nxt = now + SEC
            if state & NUD_REACHABLE:
                if now <= n.confirmed + p.reachable_time:
                    nxt = n.confirmed + p.reachable_time
                elif now <= n.used + p.delay_probe_time:
                    n.nud_state = NUD_DELAY
                    n.updated = now
                    self.neigh_suspect(n)
                    nxt = now + p.delay_probe_time
                else:
                    n.nud_state = NUD_STALE
                    n.updated = now
                    self.neigh_suspect(n)
            elif state & NUD_DELAY:
                if now <= n.confirmed + p.delay_probe_time:
                    n.nud_state = NUD_REACHABLE
                    n.updated = now
                    self.neigh_connect(n)
                    nxt = n.confirmed + p.reachable_time
                else:
                    n.nud_state = NUD_PROBE
                    n.updated = now
                    n.probes = 0
                    nxt = now + retrans
            else:  # NUD_PROBE | NUD_INCOMPLETE
                nxt = now + retrans
            if (n.nud_state & (NUD_INCOMPLETE | NUD_PROBE) and
                    n.probes >= self.neigh_max_probes(n)):
                n.nud_state = NUD_FAILED
                self.neigh_invalidate(n)
            elif n.nud_state & NUD_IN_TIMER:
                n.refcnt += 1
                n.timer = self.loop.call_at(max(nxt, now + _HZ_100), self.neigh_timer_handler, n)
                if n.nud_state & (NUD_INCOMPLETE | NUD_PROBE):
                    self.neigh_probe(n)
        if self._tp_timer.active:
            self._tp_timer.emit(family=self.family, dev=n.dev.name, lladdr=mac_str(n.ha),
                                nud_state=nud_state_name(n.nud_state),
                                primary_key4=ip_str(n.primary_key))
        self.neigh_release(n)  # the timer's reference

    def neigh_event_send(self, n: Neighbour, skb: SkBuff | None) -> int:
        """neigh_event_send: 0 when ``skb`` may go out now, 1 when it was queued or
        dropped (resolution in progress or impossible)."""
        n.used = self.loop.now_ns()
        if n.nud_state & (NUD_CONNECTED | NUD_DELAY | NUD_PROBE):
            return 0
        return self._neigh_event_send(n, skb, True)

    def _neigh_event_send(self, n: Neighbour, skb: SkBuff | None, immediate_ok: bool) -> int:
        """__neigh_event_send."""
        if n.nud_state & (NUD_CONNECTED | NUD_DELAY | NUD_PROBE):
            return 0
        if n.dead:
            if n.nud_state & NUD_STALE:
                return 0
            if skb is not None:
                self.host.kfree_skb(skb, SkbDropReason.NEIGH_DEAD, "__neigh_event_send")
            return 1
        now = self.loop.now_ns()
        immediate_probe = False
        p = n.parms
        if not n.nud_state & (NUD_STALE | NUD_INCOMPLETE):
            if p.var("mcast_solicit") + p.var("app_solicit"):
                n.probes = p.var("ucast_solicit")
                self._del_timer(n)
                n.nud_state = NUD_INCOMPLETE
                n.updated = now
                if immediate_ok:
                    immediate_probe = True
                    nxt = now + max(p.retrans_time, _HZ_100)
                else:
                    nxt = now + 1
                self._add_timer(n, nxt)
            else:
                n.nud_state = NUD_FAILED
                n.updated = now
                if skb is not None:
                    self.host.kfree_skb(skb, SkbDropReason.NEIGH_FAILED, "__neigh_event_send")
                return 1
        elif n.nud_state & NUD_STALE:
            self._del_timer(n)
            n.nud_state = NUD_DELAY
            n.updated = now
            self._add_timer(n, now + p.delay_probe_time)
        rc = 0
        if n.nud_state == NUD_INCOMPLETE:
            if skb is not None:
                limit = p.var("unres_qlen_bytes")
                q = n.arp_queue
                while n.arp_queue_len_bytes + skb.truesize > limit and q:
                    old = q.popleft()
                    n.arp_queue_len_bytes -= old.truesize
                    self.host.kfree_skb(old, SkbDropReason.NEIGH_QUEUEFULL, "__neigh_event_send")
                    self._st().unres_discards += 1
                q.append(skb)
                n.arp_queue_len_bytes += skb.truesize
            rc = 1
        if immediate_probe:
            self.neigh_probe(n)
        return rc

    def neigh_confirm(self, n: Neighbour | None) -> None:
        """neigh_confirm: the upper layer saw forward progress (TCP ACK): confirmed=now."""
        if n is not None:
            n.confirmed = self.loop.now_ns()

    def neigh_update(self, n: Neighbour, lladdr: bytes | None, new: int, flags: int,
                     extack: list[str] | None = None) -> int:
        """__neigh_update: the generic update routine; 0 or -errno (EPERM when the
        entry may not change, EINVAL when no address is known)."""
        self.run_deferred()
        now = self.loop.now_ns()
        dev = n.dev
        old = n.nud_state
        err = -errno.EPERM
        notify = False
        gc_update = False
        update_isrouter = False
        if self._tp_update.active:
            self._tp_update.emit(family=self.family, lladdr=mac_str(lladdr or b""),
                                 dev=dev.name, nud_state=nud_state_name(old),
                                 new_state=nud_state_name(new), flags=flags,
                                 primary_key4=ip_str(n.primary_key))
        if n.dead:
            if extack is not None:
                extack.append("Neighbor entry is now dead")
            return err
        if not flags & NEIGH_UPDATE_F_ADMIN and old & (NUD_NOARP | NUD_PERMANENT):
            return err
        if flags & NEIGH_UPDATE_F_ADMIN:  # neigh_update_flags
            ext = NTF_EXT_LEARNED if flags & NEIGH_UPDATE_F_EXT_LEARNED else 0
            if (n.flags ^ ext) & NTF_EXT_LEARNED:
                n.flags ^= NTF_EXT_LEARNED
                gc_update = True
        if flags & NEIGH_UPDATE_F_USE:
            n.nud_state = old & ~NUD_PERMANENT
            self._after_update(n, old, n.nud_state, gc_update)
            return 0
        if not new & NUD_VALID:
            self._del_timer(n)
            if old & NUD_CONNECTED:
                self.neigh_suspect(n)
            n.nud_state = new
            if old & (NUD_INCOMPLETE | NUD_PROBE) and new & NUD_FAILED:
                self.neigh_invalidate(n)
            self._after_update(n, old, new, gc_update)
            return 0
        addr_len = len(dev.dev_addr)
        if not addr_len:
            lladdr = n.ha
        elif lladdr is not None:
            lladdr = bytes(lladdr[:addr_len])
            if old & NUD_VALID and lladdr == n.ha:
                lladdr = n.ha
        else:
            if not old & NUD_VALID:
                if extack is not None:
                    extack.append("No link layer address given")
                return -errno.EINVAL
            lladdr = n.ha
        if new & NUD_CONNECTED:
            n.confirmed = now
        same = lladdr is n.ha
        update_isrouter = bool(flags & NEIGH_UPDATE_F_OVERRIDE_ISROUTER)
        if old & NUD_VALID:
            if not same and not flags & NEIGH_UPDATE_F_OVERRIDE:
                update_isrouter = False
                if flags & NEIGH_UPDATE_F_WEAK_OVERRIDE and old & NUD_CONNECTED:
                    lladdr = n.ha
                    same = True
                    new = NUD_STALE
                else:
                    self._after_update(n, old, new, gc_update)
                    return 0
            elif same and new == NUD_STALE and not flags & NEIGH_UPDATE_F_ADMIN:
                new = old
        if new != old or not same:
            n.updated = now
        if new != old:
            self._del_timer(n)
            if new & NUD_PROBE:
                n.probes = 0
            if new & NUD_IN_TIMER:
                self._add_timer(n, now + (n.parms.reachable_time if new & NUD_REACHABLE else 0))
            n.nud_state = new
            notify = True
        if not same:
            n.ha = lladdr
            if n.hh is not None:  # neigh_update_hhs
                n.hh = _ETH_HDR.pack(lladdr, dev.dev_addr, self.protocol)
            if not new & NUD_CONNECTED:
                n.confirmed = now - (n.parms.base_reachable_time << 1)
            notify = True
        if update_isrouter:  # neigh_update_is_router
            if flags & NEIGH_UPDATE_F_ISROUTER:
                n.flags |= NTF_ROUTER
            else:
                n.flags &= ~NTF_ROUTER
        del notify  # rtnetlink notifications are not modelled
        if new != old:
            if new & NUD_CONNECTED:
                self.neigh_connect(n)
            else:
                self.neigh_suspect(n)
            if not old & NUD_VALID:
                q = n.arp_queue
                while n.nud_state & NUD_VALID and q:
                    skb = q.popleft()
                    n.output(n, skb)
                self._purge_queue(n, SkbDropReason.NOT_SPECIFIED, "__neigh_update")
        self._after_update(n, old, new, gc_update)
        return 0

    def _after_update(self, n: Neighbour, old: int, new: int, gc_update: bool) -> None:
        if (new ^ old) & NUD_PERMANENT or gc_update:
            self._update_gc_list(n)

    def _update_gc_list(self, n: Neighbour) -> None:
        """neigh_update_gc_list: PERMANENT and extern_learn entries are exempt."""
        if n.dead:
            return
        exempt = bool(n.nud_state & NUD_PERMANENT or n.flags & NTF_EXT_LEARNED)
        if exempt and n.on_gc_list:
            del self.gc_list[id(n)]
            n.on_gc_list = False
        elif not exempt and not n.on_gc_list:
            self.gc_list[id(n)] = n
            n.on_gc_list = True

    # -- output ----------------------------------------------------------------------
    def _hard_header(self, skb: SkBuff, dev: NetDev, proto: int, daddr: bytes) -> int:
        """dev_hard_header -> eth_header (net/ethernet/eth.c)."""
        off = skb.network_header - skb.data_off  # skb_network_offset
        if off > 0:
            skb.pull(off)
        if skb.data_off < ETH_HLEN:  # skb_headroom
            skb.pskb_expand_head(ETH_HLEN - skb.data_off, 0)
        d = skb.data_off - ETH_HLEN  # skb_push, inline: the headroom is there
        skb.data_off = d
        skb.len += ETH_HLEN
        _ETH_HDR.pack_into(skb.head, d, daddr, dev.dev_addr, proto)
        return ETH_HLEN

    def _xmit(self, n: Neighbour, skb: SkBuff) -> int:
        if skb.dev is None:
            skb.dev = n.dev
        return self.xmit(skb)

    def neigh_resolve_output(self, n: Neighbour, skb: SkBuff) -> int:
        """neigh_resolve_output: resolve first (may queue), then header and xmit."""
        # neigh_event_send, a static inline in Linux too
        n.used = self.loop.now_ns()
        if (not n.nud_state & (NUD_CONNECTED | NUD_DELAY | NUD_PROBE)
                and self._neigh_event_send(n, skb, True)):
            return 0
        if n.hh is None:  # neigh_hh_init (eth_header_cache, tbl->protocol)
            n.hh = _ETH_HDR.pack(n.ha, n.dev.dev_addr, self.protocol)
        self._hard_header(skb, n.dev, skb.protocol or self.protocol, n.ha)
        if skb.dev is None:
            skb.dev = n.dev
        return self.xmit(skb)

    def neigh_connected_output(self, n: Neighbour, skb: SkBuff) -> int:
        """neigh_connected_output: header from the known address, no resolution."""
        self._hard_header(skb, n.dev, skb.protocol or self.protocol, n.ha)
        return self._xmit(n, skb)

    def neigh_direct_output(self, n: Neighbour, skb: SkBuff) -> int:
        """neigh_direct_output: devices without a link-layer header."""
        return self._xmit(n, skb)

    def neigh_blackhole(self, n: Neighbour, skb: SkBuff) -> int:
        """neigh_blackhole: a dead or unconstructed entry eats the packet."""
        self.host.kfree_skb(skb, SkbDropReason.NEIGH_DEAD, "neigh_blackhole")
        return -errno.ENETDOWN

    def neigh_output(self, n: Neighbour, skb: SkBuff, skip_cache: bool = False) -> int:
        """neigh_output: the hh-cache fast path for connected entries, else n->output."""
        hh = n.hh
        if not skip_cache and n.nud_state & NUD_CONNECTED and hh is not None:
            off = skb.network_header - skb.data_off  # neigh_hh_output
            if off > 0:
                skb.pull(off)
            if skb.data_off < ETH_HLEN:
                skb.pskb_expand_head(ETH_HLEN - skb.data_off, 0)
            d = skb.data_off - ETH_HLEN  # skb_push, inline: the headroom is there
            skb.data_off = d
            skb.len += ETH_HLEN
            skb._hmv[d:d + ETH_HLEN] = hh  # a view: the head keeps its size
            if skb.dev is None:
                skb.dev = n.dev
            return self.xmit(skb)
        return n.output(n, skb)

    # -- removal and garbage collection ----------------------------------------------
    def _unlink(self, n: Neighbour) -> None:
        self._hash.pop((id(n.dev), n.primary_key), None)
        n.dead = True  # neigh_mark_dead
        if n.on_gc_list:
            del self.gc_list[id(n)]
            n.on_gc_list = False

    def neigh_remove_one(self, n: Neighbour) -> bool:
        """neigh_remove_one -> neigh_del: only an entry nobody else holds goes."""
        if self._hash.get((id(n.dev), n.primary_key)) is not n or n.refcnt != 1:
            return False
        self._unlink(n)
        self.neigh_release(n)  # neigh_cleanup_and_release
        return True

    def neigh_forced_gc(self, max_clean: int) -> int:
        """neigh_forced_gc: drop unreferenced FAILED/NOARP/multicast entries and those
        not updated for 5 s, oldest first, until ``max_clean`` are gone."""
        self._st().forced_gc_runs += 1
        now = self.loop.now_ns()
        tref = now - 5 * SEC
        shrunk = 0
        for n in list(self.gc_list.values()):
            if n.refcnt == 1:
                if ((n.nud_state in (NUD_FAILED, NUD_NOARP) or
                     self.ops.is_multicast(n.primary_key) or
                     not tref <= n.updated <= now) and self.neigh_remove_one(n)):
                    shrunk += 1
                if shrunk >= max_clean:
                    break
        self.last_flush = now
        return shrunk

    def run_deferred(self) -> None:
        """Run the deferrable neigh_periodic_work periods that fell due, in order."""
        now = self.loop.now_ns()
        if now < self.gc_next or self._in_gc:
            return
        self._in_gc = True
        try:
            while self.gc_next <= now:
                at = self.gc_next
                self._neigh_periodic_work(at)
                self.gc_next = at + max(self.parms.base_reachable_time >> 1, _HZ_100)
        finally:
            self._in_gc = False

    def _neigh_periodic_work(self, now: int) -> None:
        """neigh_periodic_work: re-randomize reachable_time every 300 s; above
        gc_thresh1 drop unreferenced entries FAILED or unused for gc_stale_time."""
        self._st().periodic_gc_runs += 1
        if now > self.last_rand + 300 * SEC:
            self.last_rand = now
            for p in (self.parms, *self._dev_parms.values()):
                p.reachable_time = self.neigh_rand_reach_time(p.base_reachable_time)
        if self.entries < self.host.sysctl.get_int("net.ipv4.neigh.default.gc_thresh1"):
            return
        for n in list(self._hash.values()):
            state = n.nud_state
            if state & (NUD_PERMANENT | NUD_IN_TIMER) or n.flags & NTF_EXT_LEARNED:
                continue
            if n.used < n.confirmed <= now:
                n.used = n.confirmed
            if n.refcnt == 1 and (state == NUD_FAILED or
                                  not n.used <= now < n.used + n.parms.gc_staletime):
                self._unlink(n)
                self.neigh_release(n)

    def neigh_flush_dev(self, dev: NetDev | None, skip_perm: bool) -> None:
        """neigh_flush_dev: remove a device's entries; held ones become stray
        (blackhole output, NOARP or NONE) until released."""
        self.run_deferred()
        for n in list(self._hash.values()):
            if dev is not None and n.dev is not dev:
                continue
            if skip_perm and n.nud_state & NUD_PERMANENT:
                continue
            self._unlink(n)
            self._del_timer(n)
            if n.refcnt != 1:
                self._purge_queue(n, SkbDropReason.NEIGH_DEAD, "neigh_flush_dev")
                n.output = self.neigh_blackhole
                n.nud_state = NUD_NOARP if n.nud_state & NUD_VALID else NUD_NONE
            self.neigh_release(n)

    def neigh_changeaddr(self, dev: NetDev) -> None:
        """neigh_changeaddr: the device's address changed: forget its entries."""
        self.neigh_flush_dev(dev, False)

    def neigh_ifdown(self, dev: NetDev | None) -> None:
        """neigh_ifdown: the device went down: forget its entries and proxies."""
        self.neigh_flush_dev(dev, False)
        for k, pn in list(self._phash.items()):
            if dev is None or pn.dev is dev:
                del self._phash[k]

    def neigh_carrier_down(self, dev: NetDev) -> None:
        """neigh_carrier_down: carrier lost: forget all but PERMANENT entries."""
        self.neigh_flush_dev(dev, True)
        for k, pn in list(self._phash.items()):
            if pn.dev is dev:
                del self._phash[k]

    # -- proxy entries ---------------------------------------------------------------
    def pneigh_lookup(self, key: int, dev: NetDev | None, creat: bool) -> PneighEntry | None:
        """pneigh_lookup: an entry for ``dev`` or for any device (dev NULL)."""
        pn = self._phash.get((id(dev), key))
        if pn is None and dev is not None:
            pn = self._phash.get((id(None), key))
        if pn is None and creat:
            pn = PneighEntry(key, dev)
            self._phash[(id(dev), key)] = pn
        return pn

    def pneigh_delete(self, key: int, dev: NetDev | None) -> int:
        """pneigh_delete: 0 or -ENOENT."""
        return 0 if self._phash.pop((id(dev), key), None) is not None else -errno.ENOENT

    def neighbours(self) -> list[Neighbour]:
        """The live entries in dump order (neigh_for_each)."""
        self.run_deferred()
        return list(self._hash.values())

    def pneighbours(self) -> list[PneighEntry]:
        """The proxy entries (pneigh_dump_table)."""
        return list(self._phash.values())
