"""IPv4 reassembly (net/ipv4/ip_fragment.c: ip_defrag; net/ipv4/inet_fragment.c).

One ``IpDefrag`` per host is its ``net->ipv4.fqdir``: fragment queues (struct ipq)
keyed by (saddr, daddr, id, protocol, user) as frag_v4_compare_key (vif, the l3mdev
master, is always 0 here). Behaviour follows Linux 6.x:

* Each fragment counts ReasmReqds; a completed datagram ReasmOKs.
* Memory: every queue costs sizeof(struct ipq) plus the truesize of its fragments.
  When that is above ``ipfrag_high_thresh`` inet_frag_find fails and every fragment,
  even one for an existing queue, is dropped (ReasmFails). ``ipfrag_low_thresh`` is
  not used: the evictor is gone since Linux 4.17 (ip-sysctl.rst: "Obsolete since
  linux-4.17"); queues leave only when complete, on error or at ``ipfrag_time``.
* Queue timer: armed once at queue creation for ``ipfrag_time`` seconds (not pushed
  back by later fragments). On expiry (ip_expire): ReasmFails + ReasmTimeout; if the
  offset-0 fragment is there it goes to ``on_timeout`` (the ICMP time exceeded,
  fragment reassembly time exceeded hook, RFC 792 / RFC 1122 3.3.2) and every
  fragment is freed with FRAG_REASM_TIMEOUT.
* Overlaps (RFC 5722 as Linux applies it to IPv4 since 4.19, inet_frag_queue_insert):
  a fragment lying wholly inside one run of contiguous queued fragments is a duplicate,
  dropped alone (DUP_FRAG, the queue is kept, no counter); any other overlap discards
  the whole queue (IpExt ReasmOverlaps + ReasmFails). The queued fragments of a
  discarded queue are freed as consumed (inet_frag_destroy: only expiry marks them
  INET_FRAG_DROP), the fragment that caused it is dropped NOT_SPECIFIED.
* ``ipfrag_max_dist`` (ip_frag_too_far): when more than max_dist fragments from the
  same source arrived since this queue's previous one, the queue is flushed
  (FRAG_TOO_FAR, ReasmFails) and restarted with the new fragment.
* A last fragment that disagrees with the known length, data beyond a last fragment,
  an empty fragment: the queue is discarded (ReasmFails). A datagram longer than 65535
  bytes is refused when it completes (ReasmFails; ip_frag_reasm's -E2BIG), as is a mix
  of not-ECT and ECT fragments (ip_frag_ecn_table, RFC 3168 5.3).

The reassembled datagram is the offset-0 fragment's skb with the other fragments'
bytes attached as page frags without copying (skb_try_coalesce); when they need more
than MAX_SKB_FRAGS pieces (tuxnet skbs have no frag_list) the rest is copied into its
linear part instead. Its header: total length, offset 0, MF clear, DF only if the
largest fragment had DF (IPSKB_FRAG_PMTU), ECN merged, checksum recomputed.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import (
    CHECKSUM_COMPLETE,
    CHECKSUM_NONE,
    CHECKSUM_UNNECESSARY,
    MAX_SKB_FRAGS,
    SkbError,
    SkBuff,
)
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.ipv4 import IP_DF, IP_MF, IP_OFFSET, IPV4_HLEN

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.loop import TimerHandle

__all__ = [
    "IPQ_QSIZE",
    "IP_DEFRAG_AF_PACKET",
    "IP_DEFRAG_CALL_RA_CHAIN",
    "IP_DEFRAG_CONNTRACK_BRIDGE_IN",
    "IP_DEFRAG_CONNTRACK_IN",
    "IP_DEFRAG_CONNTRACK_OUT",
    "IP_DEFRAG_LOCAL_DELIVER",
    "IP_DEFRAG_MACVLAN",
    "IP_DEFRAG_VS_FWD",
    "IP_DEFRAG_VS_IN",
    "IP_DEFRAG_VS_OUT",
    "IpDefrag",
    "IpQueue",
    "frag_expire_skip_icmp",
]

# include/net/ip.h: enum ip_defrag_users (conntrack users span one zone id each)
IP_DEFRAG_LOCAL_DELIVER = 0
IP_DEFRAG_CALL_RA_CHAIN = 1
IP_DEFRAG_CONNTRACK_IN = 2
_IP_DEFRAG_CONNTRACK_IN_END = IP_DEFRAG_CONNTRACK_IN + 0xFFFF
IP_DEFRAG_CONNTRACK_OUT = _IP_DEFRAG_CONNTRACK_IN_END + 1
_IP_DEFRAG_CONNTRACK_OUT_END = IP_DEFRAG_CONNTRACK_OUT + 0xFFFF
IP_DEFRAG_CONNTRACK_BRIDGE_IN = _IP_DEFRAG_CONNTRACK_OUT_END + 1
_IP_DEFRAG_CONNTRACK_BRIDGE_IN_END = IP_DEFRAG_CONNTRACK_BRIDGE_IN + 0xFFFF
IP_DEFRAG_VS_IN = _IP_DEFRAG_CONNTRACK_BRIDGE_IN_END + 1
IP_DEFRAG_VS_OUT = IP_DEFRAG_VS_IN + 1
IP_DEFRAG_VS_FWD = IP_DEFRAG_VS_OUT + 1
IP_DEFRAG_AF_PACKET = IP_DEFRAG_VS_FWD + 1
IP_DEFRAG_MACVLAN = IP_DEFRAG_AF_PACKET + 1

IPQ_QSIZE = 200  # sizeof(struct ipq), x86_64: /proc/slabinfo ip4-frags objsize 200
IPV4_MAX_TOT_LEN = 65535  # ip_frag_reasm: len > 65535 -> -E2BIG

# include/net/inet_frag.h: inet_frag_queue flags
INET_FRAG_FIRST_IN = 1 << 0
INET_FRAG_LAST_IN = 1 << 1
INET_FRAG_COMPLETE = 1 << 2
INET_FRAG_DROP = 1 << 4

# inet_frag_queue_insert results (include/net/inet_frag.h)
_IPFRAG_OK = 0
_IPFRAG_DUP = 1
_IPFRAG_OVERLAP = 2

# include/net/inet_ecn.h: IPFRAG_ECN_* = 1 << INET_ECN_* (NOT_ECT 0, ECT_1 1, ECT_0 2, CE 3)
_ECN_NOT_ECT = 0x01
_ECN_CE = 0x08
_INET_ECN_CE = 3

_U16 = struct.Struct("!H")
_pack16 = _U16.pack_into
_HDR_FIELDS = struct.Struct("!xBxxHHxBxxII")  # tos, id, frag_off, protocol, saddr, daddr

QueueKey = tuple[int, int, int, int, int]  # saddr, daddr, id, protocol, user
TimeoutHook = Callable[[SkBuff], object]


def frag_expire_skip_icmp(user: int) -> bool:
    """frag_expire_skip_icmp (include/net/ip.h): defrag users for which an expired
    queue sends no ICMP (AF_PACKET fanout and conntrack's inbound defrag; Linux still
    sends for those when the datagram was for a local address -- tuxnet never does)."""
    return (user == IP_DEFRAG_AF_PACKET
            or IP_DEFRAG_CONNTRACK_IN <= user <= _IP_DEFRAG_CONNTRACK_IN_END
            or IP_DEFRAG_CONNTRACK_BRIDGE_IN <= user <= _IP_DEFRAG_CONNTRACK_BRIDGE_IN_END)


def _ecn_merge(ecn: int) -> int:
    """ip_frag_ecn_table (inet_fragment.c): ECN bits to OR into the reassembled tos, or
    -1 when not-ECT fragments mix with ECT/CE ones (the datagram is dropped)."""
    if ecn & _ECN_NOT_ECT:
        return -1 if ecn != _ECN_NOT_ECT else 0
    if ecn & _ECN_CE and ecn != _ECN_CE:
        return _INET_ECN_CE  # CE with ECT(0)/ECT(1): RFC 3168 5.3 keeps the mark
    return 0


class _Run:
    """A run of contiguous fragments (the rb-tree node and FRAG_CB frag_run_len)."""

    __slots__ = ("end", "frags", "start")

    def __init__(self, start: int, end: int, skb: SkBuff) -> None:
        self.start = start
        self.end = end
        self.frags: list[tuple[int, SkBuff]] = [(start, skb)]


def _run_start(run: _Run) -> int:
    return run.start


class _Peer:
    """The part of struct inet_peer ip_frag_too_far uses: the per-source fragment
    counter ``rid`` (kept while a queue of that source holds it)."""

    __slots__ = ("refs", "rid")

    def __init__(self) -> None:
        self.rid = 0
        self.refs = 0


class IpQueue:
    """struct ipq: one datagram being reassembled."""

    __slots__ = ("ecn", "flags", "iif", "key", "len", "max_df_size", "max_size",
                 "meat", "peer", "rid", "runs", "stamp", "timer")

    def __init__(self, key: QueueKey) -> None:
        self.key = key
        self.flags = 0
        self.len = 0  # datagram payload length known so far (q.len)
        self.meat = 0  # payload bytes queued (q.meat)
        self.runs: list[_Run] = []  # sorted by offset; runs[-1] holds fragments_tail
        self.max_size = 0
        self.max_df_size = 0
        self.ecn = 0
        self.iif = 0
        self.rid = 0
        self.peer: _Peer | None = None
        self.timer: TimerHandle | None = None
        self.stamp = 0

    @property
    def user(self) -> int:
        """The defrag user (IP_DEFRAG_*) of this queue."""
        return self.key[4]

    def fragments(self) -> list[tuple[int, SkBuff]]:
        """(offset, skb) of every queued fragment in offset order."""
        return [f for run in self.runs for f in run.frags]

    def __repr__(self) -> str:
        return (f"<IpQueue id={self.key[2]} len={self.len} meat={self.meat} "
                f"flags={self.flags:#x} runs={[(r.start, r.end) for r in self.runs]}>")


class IpDefrag:
    """The IPv4 fragment queues of one host (net->ipv4.fqdir with ip4_frags).

    ``on_timeout(skb)`` is called with the first fragment (data at its IPv4 header)
    when a queue holding it expires, for the caller to send ICMP time exceeded code 1;
    the skb is freed afterwards (copy or clone it to keep it). After a successful
    ``ip_defrag`` the attributes ``frag_max_size`` and ``frag_pmtu`` hold IPCB(skb)->
    frag_max_size and IPSKB_FRAG_PMTU of the returned datagram, for ip_fragment.
    """

    def __init__(self, host: Host, on_timeout: TimeoutHook | None = None) -> None:
        self.host = host
        self.on_timeout = on_timeout
        self.queues: dict[QueueKey, IpQueue] = {}
        self.mem = 0  # frag_mem_limit(fqdir): queues' qsize + fragments' truesize
        self._peers: dict[int, _Peer] = {}
        self.frag_max_size = 0
        self.frag_pmtu = False

    # -- observability -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.queues)

    def format_sockstat(self) -> str:
        """The FRAG line of /proc/net/sockstat (sockstat_seq_show)."""
        return f"FRAG: inuse {len(self.queues)} memory {self.mem}\n"

    # -- entry point -------------------------------------------------------------------
    def ip_defrag(self, skb: SkBuff, user: int = IP_DEFRAG_LOCAL_DELIVER) -> SkBuff | None:
        """ip_defrag: queue the fragment at skb.data; return the reassembled datagram
        (data at its IPv4 header) when this fragment completes it, else None (the skb
        is held by the queue or was dropped). ``skb`` must not be used afterwards."""
        host = self.host
        ip = host.mib.ip
        ip.ReasmReqds += 1
        hlen = self._check_header(skb)
        if not hlen:
            return None
        tos, ident, frag_off, proto, saddr, daddr = _HDR_FIELDS.unpack_from(skb.data)
        qp = self._ip_find((saddr, daddr, ident, proto, user))
        if qp is None:
            ip.ReasmFails += 1
            host.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED, "ip_defrag")
            return None
        return self._ip_frag_queue(qp, skb, hlen, tos, frag_off)

    def _check_header(self, skb: SkBuff) -> int:
        """What ip_rcv_core guaranteed before ip_defrag: a linear, sane IPv4 header and
        skb.len == tot_len. Returns the header length, or 0 after dropping the skb."""
        host = self.host
        reason = SkbDropReason.IP_INHDR
        try:
            if skb.pskb_may_pull(IPV4_HLEN):
                data = skb.data
                hlen = (data[0] & 15) << 2
                if data[0] >> 4 == 4 and hlen >= IPV4_HLEN and skb.pskb_may_pull(hlen):
                    tot = _U16.unpack_from(skb.data, 2)[0]
                    if tot > skb.len:
                        reason = SkbDropReason.PKT_TOO_SMALL
                    elif tot >= hlen:
                        if skb.len > tot:  # pskb_trim_rcsum of the link padding
                            skb.pskb_trim(tot)
                            if skb.ip_summed == CHECKSUM_COMPLETE:
                                skb.ip_summed = CHECKSUM_NONE
                        skb.reset_network_header()
                        return hlen
        except SkbError:
            reason = SkbDropReason.NOMEM
        if reason is SkbDropReason.PKT_TOO_SMALL:
            host.mib.ipext.InTruncatedPkts += 1
        elif reason is SkbDropReason.IP_INHDR:
            host.mib.ip.InHdrErrors += 1
        host.kfree_skb(skb, reason, "ip_defrag")
        return 0

    # -- queues (inet_fragment.c) ------------------------------------------------------
    def _ip_find(self, key: QueueKey) -> IpQueue | None:
        """ip_find / inet_frag_find: the queue for ``key``, created if needed; None when
        the fragment memory is above ipfrag_high_thresh (or that is 0)."""
        sysctl = self.host.sysctl
        high = sysctl.get_int("net.ipv4.ipfrag_high_thresh")
        if not high or self.mem > high:
            return None
        qp = self.queues.get(key)
        if qp is not None:
            return qp
        qp = IpQueue(key)  # inet_frag_alloc + ip4_frag_init
        self.mem += IPQ_QSIZE
        if sysctl.get_int("net.ipv4.ipfrag_max_dist"):
            peer = self._peers.get(key[0])
            if peer is None:
                peer = self._peers[key[0]] = _Peer()
            peer.refs += 1
            qp.peer = peer
        qp.timer = self._arm(qp)  # inet_frag_create: mod_timer(jiffies + timeout)
        self.queues[key] = qp
        return qp

    def _arm(self, qp: IpQueue) -> TimerHandle:
        timeout_ns = self.host.sysctl.get_int("net.ipv4.ipfrag_time") * 1_000_000_000
        return self.host.loop.call_later(max(timeout_ns, 0), self._ip_expire, qp)

    def _kill(self, qp: IpQueue) -> None:
        """inet_frag_kill: stop the timer, unhash, mark complete (no new fragments)."""
        if qp.timer is not None:
            qp.timer.cancel()
            qp.timer = None
        if not qp.flags & INET_FRAG_COMPLETE:
            qp.flags |= INET_FRAG_COMPLETE
            if self.queues.get(qp.key) is qp:
                del self.queues[qp.key]

    def _purge(self, qp: IpQueue, reason: SkbDropReason) -> None:
        """inet_frag_rbtree_purge: free every queued fragment with ``reason``."""
        host = self.host
        freed = 0
        for run in qp.runs:
            for _off, skb in run.frags:
                freed += skb.truesize
                host.kfree_skb(skb, reason, "inet_frag_rbtree_purge")
        self.mem -= freed
        qp.runs = []

    def _destroy(self, qp: IpQueue) -> None:
        """inet_frag_destroy: free what is left (as consumed unless the queue expired),
        give back sizeof(struct ipq) and the peer reference."""
        drop = bool(qp.flags & INET_FRAG_DROP)
        self._purge(qp, SkbDropReason.FRAG_REASM_TIMEOUT if drop else SkbDropReason.CONSUMED)
        self.mem -= IPQ_QSIZE
        self._put_peer(qp)

    def _put_peer(self, qp: IpQueue) -> None:
        """ip4_frag_free: drop the queue's inet_peer reference."""
        peer = qp.peer
        if peer is not None:
            qp.peer = None
            peer.refs -= 1
            if not peer.refs:
                self._peers.pop(qp.key[0], None)

    def flush(self) -> None:
        """fqdir_pre_exit + fqdir_exit: drop every queue (namespace teardown), fragments
        freed with FRAG_REASM_TIMEOUT."""
        for qp in list(self.queues.values()):
            self._kill(qp)
            qp.flags |= INET_FRAG_DROP
            self._destroy(qp)

    # -- timer -------------------------------------------------------------------------
    def _ip_expire(self, qp: IpQueue) -> None:
        """ip_expire: the queue timed out (ipfrag_time after its first fragment)."""
        if qp.flags & INET_FRAG_COMPLETE:
            return
        qp.timer = None
        host = self.host
        qp.flags |= INET_FRAG_DROP
        self._kill(qp)
        host.mib.ip.ReasmFails += 1
        host.mib.ip.ReasmTimeout += 1
        if qp.flags & INET_FRAG_FIRST_IN and qp.runs and qp.runs[0].start == 0:
            head = self._pull_head(qp)
            if self.on_timeout is not None and not frag_expire_skip_icmp(qp.user):
                # RFC 792 / RFC 1122 3.3.2: ICMP time exceeded, reassembly timeout
                self.on_timeout(head)
            host.kfree_skb(head, SkbDropReason.FRAG_REASM_TIMEOUT, "ip_expire")
        self._destroy(qp)

    def _pull_head(self, qp: IpQueue) -> SkBuff:
        """inet_frag_pull_head: take the offset-0 fragment out of the queue, its data
        back at the IPv4 header."""
        run = qp.runs[0]
        _off, head = run.frags.pop(0)
        if run.frags:
            run.start = run.frags[0][0]
        else:
            del qp.runs[0]
        self.mem -= head.truesize
        head.push(head.data_off - head.network_header)
        return head

    # -- ip_frag_queue -----------------------------------------------------------------
    def _too_far(self, qp: IpQueue) -> bool:
        """ip_frag_too_far: more than ipfrag_max_dist fragments from this source since
        this queue's last one (counts ReasmFails)."""
        peer = qp.peer
        max_dist = self.host.sysctl.get_int("net.ipv4.ipfrag_max_dist")
        if peer is None or not max_dist:
            return False
        start = qp.rid
        peer.rid = end = (peer.rid + 1) & 0xFFFFFFFF
        qp.rid = end
        if qp.runs and ((end - start) & 0xFFFFFFFF) > max_dist:
            self.host.mib.ip.ReasmFails += 1
            return True
        return False

    def _reinit(self, qp: IpQueue) -> None:
        """ip_frag_reinit: flush the queue (FRAG_TOO_FAR) and restart its timer."""
        if qp.timer is not None:
            qp.timer.cancel()
        qp.timer = self._arm(qp)
        self._purge(qp, SkbDropReason.FRAG_TOO_FAR)
        qp.flags = 0
        qp.len = 0
        qp.meat = 0
        qp.iif = 0
        qp.ecn = 0

    @staticmethod
    def _insert(qp: IpQueue, skb: SkBuff, offset: int, end: int) -> int:
        """inet_frag_queue_insert: add [offset, end) to the runs; a fragment inside one
        run is a duplicate, any other overlap is an overlap (RFC 5722 4, errata 3089)."""
        runs = qp.runs
        if not runs:
            runs.append(_Run(offset, end, skb))
            return _IPFRAG_OK
        last = runs[-1]
        if last.end < end:  # the common case: the fragment goes at the end
            if offset < last.end:
                return _IPFRAG_OVERLAP
            if offset == last.end:
                last.end = end  # fragrun_append_to_last
                last.frags.append((offset, skb))
            else:
                runs.append(_Run(offset, end, skb))
            return _IPFRAG_OK
        i = bisect.bisect_right(runs, offset, key=_run_start) - 1
        if i >= 0 and offset < runs[i].end:
            return _IPFRAG_DUP if end <= runs[i].end else _IPFRAG_OVERLAP
        if end > runs[i + 1].start:
            return _IPFRAG_OVERLAP
        runs.insert(i + 1, _Run(offset, end, skb))  # a new run, never merged
        return _IPFRAG_OK

    def _ip_frag_queue(self, qp: IpQueue, skb: SkBuff, hlen: int, tos: int,
                       frag_off: int) -> SkBuff | None:
        """ip_frag_queue: validate and insert one fragment; reassemble when complete."""
        host = self.host
        if self._too_far(qp):
            self._reinit(qp)
        offset = (frag_off & IP_OFFSET) << 3
        end = offset + skb.len - hlen
        if not frag_off & IP_MF:  # the last fragment fixes the length
            if end < qp.len or (qp.flags & INET_FRAG_LAST_IN and end != qp.len):
                self._discard(qp, skb)
                return None
            qp.flags |= INET_FRAG_LAST_IN
            qp.len = end
        else:
            if end & 7:  # RFC 791 3.2: non-last fragments carry multiples of 8 bytes
                end &= ~7
                if skb.ip_summed != CHECKSUM_UNNECESSARY:
                    skb.ip_summed = CHECKSUM_NONE
            if end > qp.len:
                if qp.flags & INET_FRAG_LAST_IN:  # data beyond the end
                    self._discard(qp, skb)
                    return None
                qp.len = end
        if end == offset:
            self._discard(qp, skb)
            return None
        skb.pull(hlen)
        if skb.len > end - offset:
            skb.pskb_trim(end - offset)
            if skb.ip_summed == CHECKSUM_COMPLETE:
                skb.ip_summed = CHECKSUM_NONE
        res = self._insert(qp, skb, offset, end)
        if res == _IPFRAG_DUP:
            host.kfree_skb(skb, SkbDropReason.DUP_FRAG, "ip_frag_queue")
            return None
        if res == _IPFRAG_OVERLAP:
            host.mib.ipext.ReasmOverlaps += 1
            self._discard(qp, skb)
            return None
        dev = skb.dev
        if dev is not None:
            qp.iif = getattr(dev, "ifindex", 0)
        qp.stamp = skb.tstamp
        qp.meat += skb.len
        qp.ecn |= 1 << (tos & 3)
        self.mem += skb.truesize
        if offset == 0:
            qp.flags |= INET_FRAG_FIRST_IN
        fragsize = skb.len + hlen
        if fragsize > qp.max_size:
            qp.max_size = fragsize
        if frag_off & IP_DF and fragsize > qp.max_df_size:
            qp.max_df_size = fragsize
        if qp.flags == INET_FRAG_FIRST_IN | INET_FRAG_LAST_IN and qp.meat == qp.len:
            return self._ip_frag_reasm(qp, skb)
        return None  # -EINPROGRESS: the queue holds the skb

    def _discard(self, qp: IpQueue, skb: SkBuff) -> None:
        """ip_frag_queue's discard_qp: kill the queue, count ReasmFails, drop ``skb``."""
        self._kill(qp)
        self.host.mib.ip.ReasmFails += 1
        self.host.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED, "ip_frag_queue")
        self._destroy(qp)  # ipq_put: the last reference frees the queue

    # -- ip_frag_reasm -----------------------------------------------------------------
    def _fail_reasm(self, qp: IpQueue) -> None:
        """ip_frag_reasm's out_fail: ReasmFails; the killed queue frees its fragments."""
        self.host.mib.ip.ReasmFails += 1
        self._destroy(qp)

    def _ip_frag_reasm(self, qp: IpQueue, last: SkBuff) -> SkBuff | None:
        """ip_frag_reasm + inet_frag_reasm_prepare/finish: build the datagram."""
        self._kill(qp)
        ecn = _ecn_merge(qp.ecn)
        frags = qp.fragments()
        head = frags[0][1]
        hlen = head.data_off - head.network_header
        tot_len = hlen + qp.len
        if ecn < 0 or tot_len > IPV4_MAX_TOT_LEN:
            self._fail_reasm(qp)
            return None
        dev = last.dev
        charged = sum(skb.truesize for _off, skb in frags) + IPQ_QSIZE
        try:
            if head.is_cloned():
                head.pskb_expand_head(0, 0)  # skb_unclone
            self._glue(head, frags)
        except SkbError:  # a shared head (users > 1) cannot be written: give up
            self._fail_reasm(qp)
            return None
        # the queue's bytes now belong to the datagram; nothing is left to free
        self.mem -= charged
        qp.runs = []
        self._put_peer(qp)
        head.push(hlen)
        head.reset_network_header()
        head.set_transport_header(hlen)
        data = head.data
        data[1] |= ecn
        _pack16(data, 2, tot_len)
        # DF only when the largest fragment had it (ip_frag_reasm, IPSKB_FRAG_PMTU)
        pmtu = qp.max_df_size == qp.max_size
        _pack16(data, 6, IP_DF if pmtu else 0)
        _pack16(data, 10, 0)
        _pack16(data, 10, ~ones_sum(data[:hlen]) & 0xFFFF)  # ip_send_check
        head.dev = dev
        self.frag_max_size = max(qp.max_df_size, qp.max_size)
        self.frag_pmtu = pmtu
        self.host.mib.ip.ReasmOKs += 1
        return head

    def _glue(self, head: SkBuff, frags: list[tuple[int, SkBuff]]) -> None:
        """Attach the other fragments' payload to ``head``: as page frags when they fit
        MAX_SKB_FRAGS (skb_try_coalesce, no copy), else copied into its linear part."""
        rest = [skb for _off, skb in frags[1:]]
        summed = {skb.ip_summed for _off, skb in frags}
        pieces = head.nr_frags + sum((1 if s.headlen() else 0) + s.nr_frags for s in rest)
        if pieces <= MAX_SKB_FRAGS:
            for s in rest:
                truesize = s.truesize
                if s.headlen():
                    head.add_frag(s.data, 0, s.headlen(), truesize)
                    truesize = 0
                for f in s.frags:
                    head.add_frag(f.page, f.page_offset, f.size, truesize)
                    truesize = 0
        else:
            extra = sum(s.len for s in rest)
            head.linearize()
            if head.tailroom() < extra:
                head.pskb_expand_head(0, extra - head.tailroom())
            view = head.put(extra)
            pos = 0
            for s in rest:
                s.copy_bits_into(0, view[pos:pos + s.len], s.len)
                pos += s.len
        for s in rest:
            self.host.consume_skb(s, "ip_frag_reasm")
        # inet_frag_reasm_finish: differing ip_summed leave CHECKSUM_NONE
        head.ip_summed = summed.pop() if len(summed) == 1 else CHECKSUM_NONE
        if head.ip_summed == CHECKSUM_COMPLETE:
            head.ip_summed = CHECKSUM_NONE  # tuxnet does not sum the csums
