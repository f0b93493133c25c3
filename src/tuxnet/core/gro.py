"""GRO, generic receive offload: merge in-order TCPv4 segments of a flow into one big
skb inside the NAPI poll (net/core/gro.c; net/ipv4/af_inet.c: inet_gro_receive,
inet_gro_complete; net/ipv4/tcp_offload.c: tcp4_gro_receive, tcp_gro_receive,
tcp4_gro_complete, tcp_gro_complete).

One :class:`GroCell` per NAPI instance holds napi->gro_hash: GRO_HASH_BUCKETS lists
chosen by ``skb.hash & 7``, each with at most MAX_GRO_SKBS held packets (Linux counts
per bucket; with no RX hash every flow shares bucket 0). The driver's poll calls
``gro_receive(skb)`` per packet, ``flush(older_than_ns=...)`` when it used its whole
budget (napi_gro_flush(n, HZ >= 1000): the packets held before the current jiffy) and
``flush()`` at napi_complete_done. Everything GRO hands up goes to ``deliver`` (Linux's
gro_normal_one/netif_receive_skb_list; tuxnet does not batch by gro_normal_batch).

Merge rules (tcp_gro_receive + the IPv4 flush check of 6.10's inet_gro_flush): same
hash, device, VLAN, MAC header, addresses and ports; equal TTL, TOS and DF; IP ids
incrementing by one per segment, or fixed when DF is set (decided on the 2nd segment);
an identical TCP flag word (doff, flags, window) except CWR/FIN/PSH; the same ack; the
options byte for byte (timestamps included); no CWR on the newcomer; a payload of
1..mss bytes (mss = the first segment's payload); the next sequence number; the merged
IP packet below gro_max_size. A newcomer that fails any rule flushes the held packet
of its flow and is held itself (or passed up). A shorter segment, or one with
PSH/FIN/URG/RST/SYN, ends the train; such a lone packet is never held.

Not candidates (passed up at once, a held packet of the flow left alone, as in Linux):
non-IPv4, IP options (first byte != 0x45), fragments, a bad IP header checksum, other
protocols than TCP (UDP, ICMP: flows are independent), a TCP header that does not
parse, a TCP checksum that fails (the stack then drops it with TCP_CSUM), a shared or
cloned skb. An IP total length that is not the skb's length (padding, truncation) or
an incoming gso skb flushes the flow's held packet and goes up after it.

Checksums: CHECKSUM_UNNECESSARY and CHECKSUM_PARTIAL pass; CHECKSUM_COMPLETE is
checked against ``skb.csum`` (the one's-complement sum from the IPv4 header to the end,
the NIC's sum past the Ethernet header); anything else is verified in software
(__skb_gro_checksum_complete) and, if good, marked CHECKSUM_UNNECESSARY.

A merged skb is the first segment's skb with every later payload appended as a page
fragment pointing into the merged skb's buffer (its head is stolen, no byte copied;
GRO_MERGED_FREE). tuxnet's SkBuff has no frag_list: past MAX_SKB_FRAGS, further
payloads are kept as more frags (Linux chains them on frag_list instead). On flush
(inet_gro_complete, tcp4_gro_complete, tcp_gro_complete) IP tot_len and checksum are
fixed, th->check holds the pseudo-header sum with CHECKSUM_PARTIAL (csum_start at
the TCP header), gso_size = mss, gso_segs = segments, gso_type = SKB_GSO_TCPV4 (+
SKB_GSO_TCP_FIXEDID for fixed ids, + SKB_GSO_TCP_ECN when the head has CWR), and the
header carries PSH/FIN when a merged segment had them. A chain of one is passed up
unchanged.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable

from tuxnet.core.gso import skb_checksum
from tuxnet.skb import (
    CHECKSUM_COMPLETE,
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    CHECKSUM_UNNECESSARY,
    HEADER_UNSET,
    SKB_GSO_TCP_ECN,
    SKB_GSO_TCP_FIXEDID,
    SKB_GSO_TCPV4,
    SKB_SKBUFF_SIZE,
    SkbError,
    SkbFrag,
    SkBuff,
)
from tuxnet.wire.checksum import csum_fold, incremental_update
from tuxnet.wire.ethernet import ETH_HLEN, ETH_P_IP
from tuxnet.wire.ipv4 import IP_DF, IP_MF, IP_OFFSET, IPPROTO_TCP

__all__ = [
    "GRO_CONSUMED",
    "GRO_HASH_BUCKETS",
    "GRO_HELD",
    "GRO_LEGACY_MAX_SIZE",
    "GRO_MERGED",
    "GRO_MERGED_FREE",
    "GRO_NORMAL",
    "MAX_GRO_SKBS",
    "GroCell",
    "GroResult",
    "GroStats",
]


class GroResult(enum.IntEnum):
    """enum gro_result (include/linux/netdevice.h), what napi_gro_receive returns."""

    GRO_MERGED = 0  # merged, the skb lives on inside the held one
    GRO_MERGED_FREE = 1  # merged, the skb itself was freed (its data stolen)
    GRO_HELD = 2  # held as the start of a new chain
    GRO_NORMAL = 3  # passed up the stack unmerged
    GRO_CONSUMED = 4  # taken by a GRO handler (tunnels; not produced here)


GRO_MERGED = GroResult.GRO_MERGED
GRO_MERGED_FREE = GroResult.GRO_MERGED_FREE
GRO_HELD = GroResult.GRO_HELD
GRO_NORMAL = GroResult.GRO_NORMAL
GRO_CONSUMED = GroResult.GRO_CONSUMED

MAX_GRO_SKBS = 8  # net/core/gro.c: MAX_GRO_SKBS 8 (per hash bucket)
GRO_HASH_BUCKETS = 8  # include/net/gro.h: GRO_HASH_BUCKETS 8
GRO_LEGACY_MAX_SIZE = 65536  # include/linux/netdevice.h: GRO_LEGACY_MAX_SIZE 65536

# include/net/tcp.h: tcp_flag_word bits (doff/flags/window word, host order)
_FLAG_CWR = 0x00800000
_FLAG_PSH = 0x00080000
_FLAG_FIN = 0x00010000
_WORD_MASK = 0xFFFFFFFF & ~(_FLAG_CWR | _FLAG_FIN | _FLAG_PSH)
# flags byte bits
_FIN, _SYN, _RST, _PSH, _URG, _CWR = 0x01, 0x02, 0x04, 0x08, 0x20, 0x80
_END_TRAIN = _URG | _PSH | _RST | _SYN | _FIN  # tcp_gro_receive: out_check_final


class _NotCandidate(Exception):
    """Raised inside gro_receive's header parse: the skb goes up unmerged."""


_IPH = struct.Struct("!BBHHHBBHII").unpack_from
_TCPH = struct.Struct("!IIIHH").unpack_from  # ports, seq, ack_seq, doff+flags, window
_U16 = struct.Struct("!H")
_pack16 = _U16.pack_into
_unpack16 = _U16.unpack_from

_REASONS = ("psh", "flags", "window", "ack", "opts", "ip", "ooo", "mss", "short", "size",
            "count", "poll_end", "aged")


class GroStats:
    """GRO counters of one cell.

    packets_in: skbs given to gro_receive; packets_up: skbs passed to ``deliver``;
    segs_up: input skbs inside those (``packets_in == segs_up + held`` at all times);
    merged / held / normal: what gro_receive did with each input (GRO_MERGED_FREE,
    GRO_HELD, GRO_NORMAL); not_candidate: the part of normal GRO could not parse or
    does not merge (see the module doc); csum_errors: TCP checksums found bad (passed
    up for the stack to drop); csum_sw: TCP checksums verified in software.
    flush_<reason>: held chains passed up, by why: psh (a PSH segment merged), flags
    (flag word, CWR, FIN/SYN/RST/URG), window, ack, opts (TCP options differ), ip
    (TTL/TOS/DF/id, a length mismatch), ooo (sequence not the next), mss (newcomer
    longer than mss, empty, or a gso skb), short (a shorter segment ended the train),
    size (gro_max_size), count (MAX_GRO_SKBS: oldest flushed), poll_end (flush()),
    aged (flush(older_than_ns)).
    """

    __slots__ = ("csum_errors", "csum_sw", "flush_ack", "flush_aged", "flush_count",
                 "flush_flags", "flush_ip", "flush_mss", "flush_ooo", "flush_opts",
                 "flush_poll_end", "flush_psh", "flush_short", "flush_size", "flush_window",
                 "held", "merged", "normal", "not_candidate", "packets_in", "packets_up",
                 "segs_up")

    def __init__(self) -> None:
        self.packets_in = 0
        self.packets_up = 0
        self.segs_up = 0
        self.merged = 0
        self.held = 0
        self.normal = 0
        self.not_candidate = 0
        self.csum_errors = 0
        self.csum_sw = 0
        self.flush_ack = 0
        self.flush_aged = 0
        self.flush_count = 0
        self.flush_flags = 0
        self.flush_ip = 0
        self.flush_mss = 0
        self.flush_ooo = 0
        self.flush_opts = 0
        self.flush_poll_end = 0
        self.flush_psh = 0
        self.flush_short = 0
        self.flush_size = 0
        self.flush_window = 0

    @property
    def flushed(self) -> int:
        """Held chains passed up, all reasons together."""
        return sum(getattr(self, "flush_" + r) for r in _REASONS)

    def as_dict(self) -> dict[str, int]:
        """All counters by name, ``flushed`` included."""
        out: dict[str, int] = {name: getattr(self, name) for name in self.__slots__}
        out["flushed"] = self.flushed
        return out

    def __repr__(self) -> str:
        nz = ", ".join(f"{k}={v}" for k, v in self.as_dict().items() if v)
        return f"GroStats({nz})"


class _Held:
    """One held chain: its head skb and what NAPI_GRO_CB(p) keeps for matching."""

    __slots__ = ("ack", "age", "count", "fixedid", "ipid", "ipw", "key", "mss", "next_seq",
                 "opts", "saddr_daddr", "skb", "thoff", "word")

    def __init__(self, skb: SkBuff, key: tuple[object, ...], age: int) -> None:
        self.skb = skb
        self.key = key
        self.age = age
        self.count = 1
        self.fixedid = False
        self.mss = 0
        self.next_seq = 0
        self.ack = 0
        self.word = 0
        self.ipw = 0
        self.ipid = 0
        self.opts = b""
        self.thoff = 0
        self.saddr_daddr = 0


class GroCell:
    """napi->gro: the GRO state of one NAPI instance (napi_gro_receive,
    napi_gro_flush).

    ``deliver(skb)`` receives every packet GRO passes up (netif_receive_skb). After
    ``gro_receive`` returns, the skb belongs to the cell whatever the result. ``clock``
    (e.g. ``loop.now_ns``) stamps held packets for ``flush(older_than_ns)``; without it
    every held packet has age 0.
    """

    def __init__(self, deliver: Callable[[SkBuff], None], *, max_held: int = MAX_GRO_SKBS,
                 gro_max_size: int = GRO_LEGACY_MAX_SIZE, counters: GroStats | None = None,
                 clock: Callable[[], int] | None = None,
                 hash_buckets: int = GRO_HASH_BUCKETS) -> None:
        if max_held < 1:
            raise ValueError("max_held must be >= 1")
        if hash_buckets < 1 or hash_buckets & (hash_buckets - 1):
            raise ValueError("hash_buckets must be a power of two")
        self.deliver = deliver
        self.max_held = max_held
        self.gro_max_size = gro_max_size
        self.stats = counters if counters is not None else GroStats()
        self.clock = clock
        self._mask = hash_buckets - 1
        self._buckets: list[list[_Held]] = [[] for _ in range(hash_buckets)]
        self._held = 0

    def __len__(self) -> int:
        return self._held

    @property
    def held(self) -> int:
        """Packets (chains) held now, all buckets (napi->gro_bitmask != 0 iff > 0)."""
        return self._held

    # --- receive -----------------------------------------------------------------

    def gro_receive(self, skb: SkBuff) -> GroResult:
        """napi_gro_receive → dev_gro_receive → inet_gro_receive → tcp4_gro_receive →
        tcp_gro_receive: merge, hold or pass up ``skb`` (data at the IPv4 header)."""
        st = self.stats
        st.packets_in += 1
        if skb.protocol != ETH_P_IP or skb.users != 1 or (skb.cloned
                                                          and skb.shinfo.dataref != 1):
            return self._not_candidate(skb)
        d = skb.data_off
        if skb.tail - d >= 40 and skb.head[d + 9] != IPPROTO_TCP:
            # no GRO for the protocol (ICMP, UDP): not even unpacked, and passed up
            # outside the try below
            return self._not_candidate(skb)
        ln = skb.len
        try:
            if ln < 40 or (skb.tail - d < 40 and not skb.pskb_may_pull(40)):
                raise _NotCandidate
            head = skb.head
            if head[d + 9] != IPPROTO_TCP:  # no GRO for the protocol: not even unpacked
                raise _NotCandidate
            vihl, tos, tot, ipid, frag, ttl, proto, check, saddr, daddr = _IPH(head, d)
            # af_inet.c inet_gro_receive: no options, no fragments, a good header sum
            if vihl != 0x45 or proto != IPPROTO_TCP or frag & (IP_MF | IP_OFFSET):
                raise _NotCandidate
            # ip_fast_csum: the header's 16-bit words (addresses whole, 2**16 == 1 mod
            # 0xFFFF) must sum to all ones, i.e. to 0 mod 0xFFFF (RFC 1071)
            if (0x4500 + tos + tot + ipid + frag + (ttl << 8) + IPPROTO_TCP + check
                    + saddr + daddr) % 0xFFFF:
                raise _NotCandidate
            ports, seq, ack, offflags, window = _TCPH(head, d + 20)
            thlen = (offflags >> 12) << 2
            hlen = 20 + thlen
            if thlen < 20 or ln < hlen:
                raise _NotCandidate
            if skb.tail - d < hlen and not skb.pskb_may_pull(hlen):
                raise _NotCandidate
            head = skb.head
            # inet_gro_receive: tot_len must be the packet, no reserved frag bit
            own_flush = ("ip" if tot != ln or frag & ~IP_DF & 0xFFFF else
                         "mss" if skb.gso_size else None)
            if not own_flush and not self._csum_ok(skb, saddr + daddr + IPPROTO_TCP + ln - 20):
                self.stats.csum_errors += 1
                raise _NotCandidate
            mh = skb.mac_header
            mac = bytes(head[mh:mh + ETH_HLEN]) if mh != HEADER_UNSET else b""
        except (_NotCandidate, SkbError, struct.error, IndexError):
            # passed up here, outside the try: what the stack above raises is not
            # taken for a bad header (the skb would go up twice)
            return self._not_candidate(skb)
        h = skb.hash
        key = (h, id(skb.dev), skb.vlan_tci if skb.vlan_present else -1, mac,
               saddr, daddr, ports)
        skb.network_header = d
        skb.transport_header = d + 20
        plen = ln - hlen
        flags = offflags & 0xFF
        word = (offflags << 16) | window
        ipw = (ttl << 16) | (tos << 8) | (1 if frag & IP_DF else 0)
        opts = bytes(head[d + 40:d + hlen])
        bucket = self._buckets[h & self._mask]
        p: _Held | None = None
        for e in bucket:
            if e.key == key:
                p = e
                break
        if p is not None:
            ps = p.skb
            # the common case first: every rule of _mismatch holds (no reason to find)
            if (own_flush is None and ipw == p.ipw and not flags & _CWR and ack == p.ack
                    and not (word ^ p.word) & _WORD_MASK and opts == p.opts
                    and (ipid - p.ipid) & 0xFFFF == (0 if p.fixedid else p.count & 0xFFFF)
                    and 0 < plen <= p.mss and seq == p.next_seq
                    and ps.len + plen < self.gro_max_size):
                reason = None
            else:
                reason = self._mismatch(p, own_flush, ipw, ipid, flags, word, ack, opts, plen,
                                        seq)
            if reason is None:
                self._merge(p, skb, hlen, plen, flags)
                st.merged += 1
                end = flags & _END_TRAIN
                if end or plen < p.mss:  # tcp_gro_receive: out_check_final
                    bucket.remove(p)
                    self._complete(p, "short" if not end else "psh" if end & _PSH else "flags")
                return GRO_MERGED_FREE
            bucket.remove(p)
            self._complete(p, reason)
        if own_flush is not None or plen == 0 or flags & _END_TRAIN:
            st.normal += 1
            st.packets_up += 1
            st.segs_up += 1
            self.deliver(skb)
            return GRO_NORMAL
        # dev_gro_receive: hold, flushing the bucket's oldest when it is full
        if len(bucket) >= self.max_held:
            self._complete(bucket.pop(0), "count")
        e = _Held(skb, key, self.clock() if self.clock is not None else 0)
        e.mss = plen
        e.next_seq = (seq + plen) & 0xFFFFFFFF
        e.ack = ack
        e.word = word
        e.ipw = ipw
        e.ipid = ipid
        e.opts = opts
        e.thoff = d + 20
        e.saddr_daddr = saddr + daddr
        skb.gso_size = plen  # dev_gro_receive: gso_size = skb_gro_len(skb)
        bucket.append(e)
        self._held += 1
        st.held += 1
        return GRO_HELD

    def _not_candidate(self, skb: SkBuff) -> GroResult:
        st = self.stats
        st.not_candidate += 1
        st.normal += 1
        st.packets_up += 1
        st.segs_up += 1
        self.deliver(skb)
        return GRO_NORMAL

    def _csum_ok(self, skb: SkBuff, pseudo: int) -> bool:
        """tcp4_gro_receive's skb_gro_checksum_validate."""
        s = skb.ip_summed
        if s in (CHECKSUM_UNNECESSARY, CHECKSUM_PARTIAL):
            return True
        if s == CHECKSUM_COMPLETE and not (skb.csum + pseudo) % 0xFFFF:
            return True
        # __skb_gro_checksum_complete: sum the segment in software
        if skb_checksum(skb, 20, skb.len - 20, pseudo) != 0xFFFF:
            return False
        self.stats.csum_sw += 1
        if s == CHECKSUM_NONE:
            skb.ip_summed = CHECKSUM_UNNECESSARY  # __skb_incr_checksum_unnecessary
            skb.csum_level = 0
        return True

    def _mismatch(self, p: _Held, own_flush: str | None, ipw: int, ipid: int, flags: int,
                  word: int, ack: int, opts: bytes, plen: int, seq: int) -> str | None:
        """tcp_gro_receive's flush conditions against the held ``p``; None: merge."""
        if own_flush is not None:
            return own_flush
        if ipw != p.ipw:  # inet_gro_flush: TTL, TOS, DF
            return "ip"
        if flags & _CWR:
            return "flags"
        diff = (word ^ p.word) & _WORD_MASK
        if diff:
            return "window" if not diff >> 16 else "flags"
        if ack != p.ack:
            return "ack"
        if opts != p.opts:
            return "opts"
        # inet_gro_flush: ids increment by one per segment, or stay fixed under DF
        off = (ipid - p.ipid) & 0xFFFF
        if p.count == 1 and ipw & 1 and not off:
            p.fixedid = True
        if off != (0 if p.fixedid else p.count & 0xFFFF):
            return "ip"
        if plen == 0 or plen > p.mss:
            return "mss"
        if seq != p.next_seq:
            return "ooo"
        if p.skb.len + plen >= self.gro_max_size:  # skb_gro_receive: -E2BIG
            return "size"
        return None

    @staticmethod
    def _merge(p: _Held, skb: SkBuff, hlen: int, plen: int, flags: int) -> None:
        """skb_gro_receive: append skb's payload to the held skb as page frags, its
        head stolen and its frags moved (skb_add_rx_frag's effect, no byte copied),
        then free the skb (GRO_MERGED_FREE). No frag_list in tuxnet: past
        MAX_SKB_FRAGS the payloads stay plain frags."""
        ps = p.skb
        start = skb.data_off + hlen
        lin = skb.tail - start
        frags = ps.shinfo.frags
        sfrags = skb.shinfo.frags
        n = len(frags)
        if lin > 0:
            # the sk_buff itself goes; its head lives on as a frag of ps
            frags.append(SkbFrag(memoryview(skb.head), start, lin))
            ps.truesize += skb.truesize - SKB_SKBUFF_SIZE - skb.data_len
        if sfrags:
            frags.extend(sfrags)
            ps.truesize += skb.data_len
        ps.len += plen
        ps.data_len += plen
        c = ps.counters
        if c is not None:
            c.frag_refs += len(frags) - n
        p.count += 1
        p.next_seq = (p.next_seq + plen) & 0xFFFFFFFF
        if flags & (_FIN | _PSH):  # tcp_flag_word(th2) |= flags & (FIN | PSH)
            ps.head[p.thoff + 13] |= flags & (_FIN | _PSH)
        skb.free()

    # --- flush -------------------------------------------------------------------

    def _complete(self, p: _Held, reason: str) -> None:
        """napi_gro_complete → inet_gro_complete → tcp4_gro_complete →
        tcp_gro_complete, then pass the skb up."""
        skb = p.skb
        st = self.stats
        count = p.count
        if count == 1:
            skb.gso_size = 0
        else:
            head = skb.head
            nh = skb.network_header
            newlen = skb.len - (nh - skb.data_off)
            oldlen, check = _unpack16(head, nh + 2)[0], _unpack16(head, nh + 10)[0]
            _pack16(head, nh + 2, newlen)  # csum_replace2(&iph->check, tot_len, newlen)
            _pack16(head, nh + 10, incremental_update(check, oldlen, newlen))
            th = p.thoff
            tcplen = newlen - 20
            # th->check = ~tcp_v4_check(len, saddr, daddr, 0): the pseudo-header sum
            _pack16(head, th + 16, csum_fold(p.saddr_daddr + IPPROTO_TCP + tcplen))
            skb.ip_summed = CHECKSUM_PARTIAL
            skb.csum_start = th
            skb.csum_offset = 16
            skb.gso_segs = count
            gso_type = SKB_GSO_TCPV4
            if p.fixedid:
                gso_type |= SKB_GSO_TCP_FIXEDID
            if head[th + 13] & _CWR:
                gso_type |= SKB_GSO_TCP_ECN
            skb.gso_type = gso_type
        name = "flush_" + reason
        setattr(st, name, getattr(st, name) + 1)
        st.packets_up += 1
        st.segs_up += count
        self._held -= 1
        self.deliver(skb)

    def flush(self, older_than_ns: int | None = None) -> int:
        """napi_gro_flush: pass up the held packets, each bucket oldest first; with
        ``older_than_ns`` only those held before that time (napi_poll's
        ``napi_gro_flush(n, HZ >= 1000)`` is ``older_than_ns = now - now % TICK_NSEC``).
        Returns how many were flushed."""
        if not self._held:
            return 0
        reason = "poll_end" if older_than_ns is None else "aged"
        n = 0
        for bucket in self._buckets:
            while bucket:
                if older_than_ns is not None and bucket[0].age >= older_than_ns:
                    break
                self._complete(bucket.pop(0), reason)
                n += 1
        return n
