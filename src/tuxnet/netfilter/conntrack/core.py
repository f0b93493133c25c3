"""The connection tracking core of one host (net/netfilter/nf_conntrack_core.c,
nf_conntrack_proto.c).

* ``nf_conntrack_in`` (PRE_ROUTING and LOCAL_OUT, priority -200): tuple of the packet,
  lookup in the table, a new *unconfirmed* entry when there is none
  (``init_conntrack``; when the table holds nf_conntrack_max entries ``early_drop``
  scans the new tuple's bucket and the next 7 for a non-ASSURED entry, else the packet
  is dropped: "nf_conntrack: table full, dropping packet"), ctinfo, then the L4
  tracker. An invalid packet leaves with no entry (rules see INVALID).
* ``nf_confirm`` (LOCAL_IN and POST_ROUTING, INT_MAX): ``__nf_conntrack_confirm``
  inserts both tuples into the hash table and starts the timeout. A packet dropped
  before that leaves no entry.
* Expiry runs on the host's loop (virtual time): entries carry their absolute expiry;
  one timer, set for the earliest, deletes those whose time has come (the gc worker),
  and a lookup never returns an expired entry (nf_ct_is_expired).

Statistics are per CPU as /proc/net/stat/nf_conntrack shows them. The table has
net.netfilter.nf_conntrack_buckets buckets (for early drop; the lookup itself is a dict).
Unlike Linux, the count (net.netfilter.nf_conntrack_count) holds confirmed entries
only: an unconfirmed entry whose packet was dropped just disappears.
"""

from __future__ import annotations

import contextlib
import heapq
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.core.cpu import charge
from tuxnet.netfilter.conntrack.config import CtConfig
from tuxnet.netfilter.conntrack.defs import (
    IPS_DYING,
    IPS_SRC_NAT_DONE,
    NfConn,
    Tuple,
    invert_tuple,
)
from tuxnet.netfilter.conntrack.proto_other import (
    generic_packet,
    icmp_error,
    icmp_packet,
    udp_error,
    udp_packet,
)
from tuxnet.netfilter.conntrack.proto_tcp import tcp_error, tcp_packet
from tuxnet.netfilter.ctseam import (
    IP_CT_ESTABLISHED,
    IP_CT_ESTABLISHED_REPLY,
    IP_CT_NEW,
    IP_CT_RELATED,
    IP_CT_RELATED_REPLY,
    IP_CT_UNTRACKED,
    IPS_ASSURED,
    IPS_CONFIRMED,
    IPS_EXPECTED,
    IPS_SEEN_REPLY,
)
from tuxnet.netfilter.hooks import NF_ACCEPT, NF_DROP, NF_REPEAT

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.netfilter.hooks import NfHookState
    from tuxnet.skb import SkBuff

__all__ = ["CtNet", "CtStat", "nf_confirm", "nf_conntrack_in"]

NF_CT_EVICTION_RANGE = 8  # nf_conntrack_core.c
_IPH = struct.Struct("!BxxxxxHxBxxII")
_iph = _IPH.unpack_from
_PORTS = struct.Struct("!HH")
_ports = _PORTS.unpack_from
_WARN_INTERVAL_NS = 5_000_000_000  # DEFAULT_RATELIMIT_INTERVAL 5 * HZ
_WARN_BURST = 10  # DEFAULT_RATELIMIT_BURST
L4Packet = Callable[["CtNet", NfConn, "SkBuff", memoryview, int, int, int], int]
L4Error = Callable[["CtNet", "SkBuff", memoryview, int, int], str]
_L4: dict[int, tuple[L4Error | None, L4Packet]] = {
    6: (tcp_error, tcp_packet),
    17: (udp_error, udp_packet),
    1: (None, icmp_packet),
}
_GENERIC: tuple[L4Error | None, L4Packet] = (None, generic_packet)


class CtStat:
    """struct ip_conntrack_stat (one CPU's row of /proc/net/stat/nf_conntrack)."""

    __slots__ = ("chaintoolong", "clash_resolve", "delete", "drop", "early_drop", "error",
                 "found", "ignore", "insert", "insert_failed", "invalid", "new",
                 "search_restart")

    def __init__(self) -> None:
        self.found = self.invalid = self.ignore = self.insert = self.insert_failed = 0
        self.drop = self.early_drop = self.error = self.search_restart = 0
        self.clash_resolve = self.chaintoolong = self.new = self.delete = 0


class CtNet:
    """net->ct: the conntrack table and state of one host."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.sysctl = host.sysctl
        self.hash: dict[Tuple, tuple[NfConn, int]] = {}
        self.cfg = CtConfig(host.sysctl)
        self.htable_size = self.cfg.buckets
        self.buckets: dict[int, list[tuple[NfConn, int]]] = {}
        self.count = 0
        self.stats = [CtStat() for _ in range(host.ncpus)]
        self.users = 0  # nf_ct_netns_get references
        self.hook_ops: list[Any] = []
        self.nat_bysource: dict[tuple[int, int, int], list[NfConn]] = {}
        self._gc_heap: list[tuple[int, int, NfConn]] = []
        self._gc_timer: Any = None
        self._gc_when = 1 << 62  # when the gc timer fires (far future: not armed)
        self._next_id = 0
        self._warn_start = -_WARN_INTERVAL_NS
        self._warn_printed = 0
        self._warn_missed = 0
        self.core: Any = None  # the host's NetCore (cost table), found on first packet
        self.masq_notifier = False  # NAT's masq_device_event is on the notifier chain
        # ctnetlink event listeners (conntrack -E): fn(event, ct), event "NEW" /
        # "UPDATE" / "DESTROY"; empty: no event is built (net.netfilter.nf_conntrack_events
        # 2 = only when someone listens)
        self.listeners: list[Callable[[str, NfConn], None]] = []
        host.sysctl.set_provider("net.netfilter.nf_conntrack_count", lambda: self.count)

    # -- table ------------------------------------------------------------------------
    def stat(self) -> CtStat:
        """This CPU's statistics."""
        cpu = self.host.current_cpu
        return self.stats[cpu if cpu < len(self.stats) else 0]

    def _bucket(self, t: Tuple) -> int:
        """hash_conntrack: reciprocal_scale(hash, htable_size)."""
        return ((hash(t) & 0xFFFFFFFF) * self.htable_size) >> 32

    def lookup(self, t: Tuple, now: int) -> tuple[NfConn, int] | None:
        """nf_conntrack_find_get: the live entry holding ``t`` and the direction."""
        h = self.hash.get(t)
        if h is not None and h[0].timeout - now <= 0:
            self.nf_ct_delete(h[0])  # nf_ct_gc_expired
            return None
        return h

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _resize_if_needed(self) -> None:
        size = self.cfg.buckets
        if size != self.htable_size and size > 0:  # nf_conntrack_hash_resize
            self.htable_size = size
            self.buckets = {}
            for t, h in self.hash.items():
                self.buckets.setdefault(self._bucket(t), []).append(h)

    def insert(self, ct: NfConn) -> None:
        """__nf_conntrack_hash_insert: both tuplehashes into the table."""
        self._resize_if_needed()
        self.hash[ct.orig] = (ct, 0)
        self.hash[ct.reply] = (ct, 1)
        buckets = self.buckets
        buckets.setdefault(self._bucket(ct.orig), []).append((ct, 0))
        buckets.setdefault(self._bucket(ct.reply), []).append((ct, 1))
        self.count += 1
        if ct.status & IPS_SRC_NAT_DONE:
            key = (ct.orig[0], ct.orig[2], ct.orig[3])
            self.nat_bysource.setdefault(key, []).append(ct)

    def nf_ct_delete(self, ct: NfConn) -> bool:
        """nf_ct_delete: unlink an entry (False when it was already going)."""
        if ct.status & IPS_DYING:
            return False
        ct.status |= IPS_DYING
        if not ct.status & IPS_CONFIRMED:
            return True
        if self.listeners:
            self.event("DESTROY", ct)
        for d, t in ((0, ct.orig), (1, ct.reply)):
            h = self.hash.get(t)
            if h is not None and h[0] is ct:
                del self.hash[t]
            lst = self.buckets.get(self._bucket(t))
            if lst is not None:
                with contextlib.suppress(ValueError):
                    lst.remove((ct, d))
                if not lst:
                    del self.buckets[self._bucket(t)]
        self.count -= 1
        self.stat().delete += 1
        key = (ct.orig[0], ct.orig[2], ct.orig[3])
        lst2 = self.nat_bysource.get(key)
        if lst2 is not None and ct in lst2:
            lst2.remove(ct)
            if not lst2:
                del self.nat_bysource[key]
        return True

    def nf_ct_kill(self, ct: NfConn) -> bool:
        """nf_ct_kill."""
        return self.nf_ct_delete(ct)

    def flush(self) -> int:
        """nf_ct_iterate_cleanup_net with a kill-all: ``conntrack -F``."""
        cts = {h[0] for h in self.hash.values()}
        for ct in cts:
            self.nf_ct_delete(ct)
        return len(cts)

    def entries(self) -> list[NfConn]:
        """The live entries, oldest first (expired ones are reaped first)."""
        now = self.host.now_ns()
        for ct in [h[0] for h in self.hash.values() if h[1] == 0]:
            if ct.timeout - now <= 0:
                self.nf_ct_delete(ct)
        return sorted((h[0] for h in self.hash.values() if h[1] == 0),
                      key=lambda c: c.ct_id)

    def event(self, what: str, ct: NfConn) -> None:
        """nf_conntrack_eventmask_report: tell the listeners."""
        for fn in list(self.listeners):
            fn(what, ct)

    # -- table full ---------------------------------------------------------------------
    def early_drop(self, t: Tuple) -> bool:
        """early_drop: delete a non-ASSURED entry of the new tuple's bucket or the next
        NF_CT_EVICTION_RANGE - 1 ones."""
        size = self.htable_size
        start = self._bucket(t)
        for i in range(NF_CT_EVICTION_RANGE):
            for ct, _d in list(self.buckets.get((start + i) % size, ())):
                if ct.status & (IPS_ASSURED | IPS_DYING):
                    continue
                if self.nf_ct_delete(ct):
                    self.stat().early_drop += 1
                    return True
        return False

    def table_full_warning(self) -> None:
        """net_warn_ratelimited("nf_conntrack: table full, dropping packet") into the
        kernel log (pr_fmt adds the module name), with ___ratelimit's accounting."""
        from tuxnet.netfilter.tables import nf_net

        now = self.host.now_ns()
        log = nf_net(self.host).log
        if now - self._warn_start >= _WARN_INTERVAL_NS:
            if self._warn_missed:
                log.append((now, 4, f"net_ratelimit: {self._warn_missed} callbacks "
                                    "suppressed"))
            self._warn_start = now
            self._warn_printed = 0
            self._warn_missed = 0
        if self._warn_printed < _WARN_BURST:
            self._warn_printed += 1
            log.append((now, 4, "nf_conntrack: nf_conntrack: table full, dropping packet"))
        else:
            self._warn_missed += 1

    # -- expiry -------------------------------------------------------------------------
    def gc_add(self, ct: NfConn) -> None:
        """Remember ``ct``'s expiry; arm the timer if it is the earliest."""
        when = ct.timeout
        heapq.heappush(self._gc_heap, (when, ct.ct_id, ct))
        if self._gc_timer is None or when < self._gc_when:
            self._arm(when)

    def _arm(self, when: int) -> None:
        if self._gc_timer is not None:
            self._gc_timer.cancel()
        self._gc_when = when
        self._gc_timer = self.host.loop.call_at(when, self.gc_worker)

    def gc_worker(self) -> None:
        """gc_worker: delete the entries whose timeout ran out; re-file the refreshed."""
        self._gc_timer = None
        self._gc_when = 1 << 62
        now = self.host.now_ns()
        heap = self._gc_heap
        while heap and heap[0][0] <= now:
            _when, _id, ct = heapq.heappop(heap)
            if ct.status & IPS_DYING:
                continue
            if ct.timeout - now <= 0:
                self.nf_ct_delete(ct)
            else:
                heapq.heappush(heap, (ct.timeout, ct.ct_id, ct))
        if heap:
            self._arm(heap[0][0])

    # -- packets ------------------------------------------------------------------------
    def init_conntrack(self, t: Tuple) -> NfConn | None:
        """init_conntrack: a new unconfirmed entry (None: the table is full)."""
        ct_max = self.cfg.ct_max
        if ct_max and self.count + 1 > ct_max and not self.early_drop(t):
            self.table_full_warning()
            return None
        self.stat().new += 1
        ct = NfConn(self, t, invert_tuple(t), self.new_id())
        if self.cfg.acct:
            ct.acct = [0, 0, 0, 0]
        return ct


def nf_conntrack_in(cn: CtNet, skb: SkBuff, hook: int) -> int:
    """nf_conntrack_in: attach the packet's entry and ctinfo (or none: INVALID)."""
    if skb.nfct is not None or skb.nfctinfo == IP_CT_UNTRACKED:
        return NF_ACCEPT  # seen before (loopback) or NOTRACK
    if skb.data_len:
        skb.linearize()  # the trackers read headers and checksums from linear data
    data = skb.data
    if len(data) < 20:
        cn.stat().invalid += 1
        return NF_ACCEPT
    vihl, frag_off, proto, saddr, daddr = _iph(data, 0)
    ihl = (vihl & 15) << 2
    if frag_off & 0x1FFF or len(data) < ihl:
        cn.stat().invalid += 1  # get_l4proto: not the first fragment
        return NF_ACCEPT
    now = cn.host.now_ns()
    error, packet = _L4.get(proto, _GENERIC)
    if proto == 1:
        ret = icmp_error(cn, skb, data, ihl, hook, now)
        if ret <= 0:
            st = cn.stat()
            st.invalid += 1
            st.error += 1
            return -ret
        if skb.nfct is not None:
            return NF_ACCEPT  # RELATED to the flow the error quotes
        t: Tuple = (saddr, daddr, 1, (data[ihl + 4] << 8) | data[ihl + 5],
                    (data[ihl] << 8) | data[ihl + 1])
    elif error is not None:
        if error(cn, skb, data, ihl, hook):
            cn.stat().invalid += 1
            return NF_ACCEPT
        sport, dport = _ports(data, ihl)
        t = (saddr, daddr, proto, sport, dport)
    else:
        t = (saddr, daddr, proto, 0, 0)
    while True:
        h = cn.hash.get(t)
        if h is not None and h[0].timeout - now <= 0:
            cn.nf_ct_delete(h[0])
            h = None
        if h is None:
            if proto == 1 and (t[4] >> 8) not in (0, 8, 13, 14, 15, 16, 17, 18):
                cn.stat().invalid += 1  # nf_ct_invert_tuple fails: no entry
                return NF_ACCEPT
            ct = cn.init_conntrack(t)
            if ct is None:
                cn.stat().drop += 1
                return NF_DROP
            direction = 0
            ctinfo = IP_CT_NEW
        else:
            ct, direction = h
            cn.stat().found += 1
            if direction:
                ctinfo = IP_CT_ESTABLISHED_REPLY
            elif ct.status & IPS_SEEN_REPLY:
                ctinfo = IP_CT_ESTABLISHED
            elif ct.status & IPS_EXPECTED:
                ctinfo = IP_CT_RELATED
            else:
                ctinfo = IP_CT_NEW
        skb.nfct = ct
        skb.nfctinfo = ctinfo
        before = (ct.status, ct.tcp.state if ct.tcp is not None else -1) \
            if cn.listeners else None
        ret = packet(cn, ct, skb, data, ihl, direction, now)
        if ret <= 0:
            skb.nfct = None
            skb.nfctinfo = 0
            if ret == -NF_REPEAT:
                cn.stat().search_restart += 1
                continue
            st = cn.stat()
            st.invalid += 1
            if ret == NF_DROP:
                st.drop += 1
            return -ret
        if direction and not ct.status & IPS_SEEN_REPLY:
            ct.status |= IPS_SEEN_REPLY
        acct = ct.acct
        if acct is not None:  # nf_ct_acct_update
            acct[2 * direction] += 1
            acct[2 * direction + 1] += skb.len
        if ct.timeout < cn._gc_when and ct.status & IPS_CONFIRMED:
            cn.gc_add(ct)  # the timeout got shorter than the next gc run
        if before is not None and ct.status & IPS_CONFIRMED and \
                not ct.status & IPS_DYING and \
                before != (ct.status, ct.tcp.state if ct.tcp is not None else -1):
            cn.event("UPDATE", ct)  # IPCT_REPLY / IPCT_ASSURED / IPCT_PROTOINFO
        return NF_ACCEPT


def nf_confirm(cn: CtNet, skb: SkBuff) -> int:
    """nf_confirm / __nf_conntrack_confirm: put a new entry into the table."""
    ct = skb.nfct
    if ct is None or ct.__class__ is not NfConn or ct.status & IPS_CONFIRMED:
        return NF_ACCEPT  # (an entry made by someone else, e.g. a test's stub, is theirs)
    if skb.nfctinfo in (IP_CT_ESTABLISHED_REPLY, IP_CT_RELATED_REPLY):
        return NF_ACCEPT  # CTINFO2DIR != IP_CT_DIR_ORIGINAL
    st = cn.stat()
    if ct.status & IPS_DYING:
        st.insert_failed += 1
        return NF_DROP
    hash_ = cn.hash
    h = hash_.get(ct.orig)
    clash = h if h is not None else hash_.get(ct.reply)
    if clash is not None:
        other = clash[0]
        if other.timeout - cn.host.now_ns() <= 0:
            cn.nf_ct_delete(other)
        elif other.orig == ct.orig and other.reply == ct.reply:
            # nf_ct_resolve_clash: same flow raced in: use the entry in the table
            skb.nfct = other
            st.clash_resolve += 1
            return NF_ACCEPT
        else:
            st.insert_failed += 1
            st.drop += 1
            return NF_DROP
    ct.timeout += cn.host.now_ns()
    ct.status |= IPS_CONFIRMED
    cn.insert(ct)
    st.insert += 1
    cn.gc_add(ct)
    if cn.listeners:
        cn.event("NEW", ct)  # IPCT_NEW, delivered at confirm
    return NF_ACCEPT


def ipv4_conntrack_in(cn: CtNet, skb: SkBuff, state: NfHookState) -> int:
    """ipv4_conntrack_in / ipv4_conntrack_local (nf_conntrack_proto.c); the simulated
    CPU is charged the cost table's nf_conntrack_ns."""
    core = cn.core
    if core is None:
        from tuxnet.core.netcore import get_core

        core = cn.core = get_core(cn.host)
    charge(core.costs.nf_conntrack_ns)
    return nf_conntrack_in(cn, skb, state.hook)


def ipv4_confirm(cn: CtNet, skb: SkBuff, state: NfHookState) -> int:
    """ipv4_confirm (nf_conntrack_proto.c): nf_confirm at INT_MAX."""
    return nf_confirm(cn, skb)

