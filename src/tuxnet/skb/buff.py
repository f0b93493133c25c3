"""SkBuff, the packet buffer itself (struct sk_buff; net/core/skbuff.c).

The module docstring of :mod:`tuxnet.skb` describes the layout and semantics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuxnet.skb.defs import (
    _EMPTY,
    _EMPTY_MV,
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    HEADER_UNSET,
    KMALLOC_MAX_SIZE,
    MAX_SKB_FRAGS,
    NET_SKB_PAD,
    PACKET_HOST,
    SKB_SHINFO_SIZE,
    SKB_SKBUFF_SIZE,
    SKB_SMALL_HEAD_CACHE_SIZE,
    SKB_TRUESIZE_OVERHEAD,
    BufferLike,
    SkbCounters,
    SkbError,
    SkbFault,
    SkbFrag,
    SkbOverPanic,
    SkbSharedInfo,
    SkbUnderPanic,
    _as_byte_view,
    _kmalloc_reserve,
)

_new_shinfo = object.__new__
_SMALL_HEAD_MAX = SKB_SMALL_HEAD_CACHE_SIZE - SKB_SHINFO_SIZE  # 256: SKB_HEAD_ALIGN fits


class SkBuff:
    """struct sk_buff. Create with :func:`alloc_skb`, :func:`netdev_alloc_skb` or
    :func:`build_skb`, not directly.

    ``cb`` is the control block (Linux skb->cb[48]): None or an object owned by the
    layer currently holding the skb (e.g. TCP_SKB_CB), which must have a ``copy()``
    method (a dict works); clone/copy call it, as Linux copies cb[48].
    """

    __slots__ = (  # geometry and metadata, Linux names (sorted)
        "_hmv", "cb", "cloned", "counters", "csum", "csum_level", "csum_offset",
        "csum_start", "data_len", "data_off", "destructor", "dev", "dst", "end", "gso_segs",
        "gso_size", "gso_type", "hash", "head", "ip_summed", "l4_hash", "len", "mac_header",
        "mac_len", "mark", "napi_id", "network_header", "nfct", "nfctinfo", "nohdr", "pkt_type",
        "priority", "protocol", "queue_mapping", "shinfo", "sk", "skb_iif", "sw_hash",
        "tail", "transport_header", "truesize", "tstamp", "users", "vlan_present",
        "vlan_proto", "vlan_tci",
    )

    def __init__(self, head: bytearray, truesize: int,
                 counters: SkbCounters | None = None) -> None:
        self.head = head
        self._hmv = memoryview(head)
        # SkbSharedInfo(head) without its __init__ frame (two skbs per ping); the
        # fields and values are SkbSharedInfo.__init__'s (tests/skb checks they agree)
        sh = _new_shinfo(SkbSharedInfo)
        sh.head = head
        sh.dataref = 1
        sh.destructor_arg = None
        sh.tx_flags = 0
        sh.tskey = 0
        sh.nohdr_refs = 0
        sh.frags = []
        self.shinfo = sh
        self.data_off = 0
        self.tail = 0
        self.end = len(head)
        self.len = 0
        self.data_len = 0
        self.mac_header = HEADER_UNSET
        self.network_header = 0
        self.transport_header = HEADER_UNSET
        self.mac_len = 0
        self.cloned = False
        self.nohdr = False
        self.users = 1
        self.truesize = truesize
        self.counters = counters
        self.destructor: Callable[[SkBuff], None] | None = None
        self.dev: Any = None
        self.sk: Any = None
        self.dst: Any = None
        self.protocol = 0
        self.pkt_type = PACKET_HOST
        self.priority = 0
        self.mark = 0
        self.hash = 0
        self.l4_hash = False
        self.sw_hash = False
        self.queue_mapping = 0
        self.tstamp = 0
        self.ip_summed = CHECKSUM_NONE
        self.csum = 0
        self.csum_start = 0  # offset from head, as Linux
        self.csum_offset = 0
        self.csum_level = 0
        self.gso_size = 0
        self.gso_segs = 0
        self.gso_type = 0
        self.cb: Any = None
        self.napi_id = 0
        self.vlan_proto = 0
        self.vlan_tci = 0
        self.vlan_present = False
        self.skb_iif = 0
        self.nfct: Any = None
        self.nfctinfo = 0

    # --- geometry ---------------------------------------------------------------

    @property
    def data(self) -> memoryview:
        """skb->data .. skb_tail_pointer: the linear data, writable."""
        return self._hmv[self.data_off:self.tail]

    @property
    def iif(self) -> int:
        """Alias of skb_iif."""
        return self.skb_iif

    @iif.setter
    def iif(self, value: int) -> None:
        self.skb_iif = value

    @property
    def frags(self) -> list[SkbFrag]:
        """skb_shinfo(skb)->frags (read-only: use add_frag / pskb_trim / linearize)."""
        return self.shinfo.frags

    @property
    def nr_frags(self) -> int:
        """skb_shinfo(skb)->nr_frags."""
        return len(self.shinfo.frags)

    def __len__(self) -> int:
        return self.len

    def __bool__(self) -> bool:
        return True

    def headroom(self) -> int:
        """skb_headroom: bytes between head and data."""
        return self.data_off

    def tailroom(self) -> int:
        """skb_tailroom: bytes between tail and end (0 for a nonlinear skb)."""
        return 0 if self.data_len else self.end - self.tail

    def headlen(self) -> int:
        """skb_headlen: bytes in the linear part."""
        return self.len - self.data_len

    def is_nonlinear(self) -> bool:
        """skb_is_nonlinear: some data lives in frags."""
        return self.data_len != 0

    def is_cloned(self) -> bool:
        """skb_cloned: the head buffer is shared with another skb."""
        return self.cloned and self.shinfo.dataref != 1

    def header_cloned(self) -> bool:
        """skb_header_cloned: the header area is shared, i.e. some other skb on this head
        still holds a header reference (payload-only references, nohdr, do not count)."""
        if not self.cloned:
            return False
        sh = self.shinfo
        return sh.dataref - sh.nohdr_refs != 1

    def header_release(self) -> None:
        """__skb_header_release: this skb will never touch its headers again (TCP's
        queued originals), so clones of it may write theirs in place."""
        if not self.nohdr:
            self.nohdr = True
            self.shinfo.nohdr_refs += 1

    def is_shared(self) -> bool:
        """skb_shared: more than one user holds this skb."""
        return self.users != 1

    def get(self) -> SkBuff:
        """skb_get: take one more user reference."""
        self.users += 1
        return self

    # --- put / push / pull / reserve / trim -------------------------------------

    def reserve(self, n: int) -> None:
        """skb_reserve: move data and tail by ``n`` on an empty skb to make headroom."""
        if self.len:
            raise SkbError("skb_reserve on a non-empty skb")
        d = self.data_off + n
        if d < 0:
            raise SkbUnderPanic("skb_reserve past head")
        if d > self.end:
            raise SkbOverPanic("skb_reserve past end")
        self.data_off = d
        self.tail = d

    def put(self, n: int) -> memoryview:
        """skb_put: extend the data at the tail; returns a view of the ``n`` new bytes."""
        t = self.tail
        nt = t + n
        if nt > self.end or n < 0 or self.data_len:
            if self.data_len:
                raise SkbError("skb_put on a nonlinear skb")
            if n < 0:
                raise SkbError("skb_put: negative length")
            raise SkbOverPanic("skb_over_panic: put past end")
        self.tail = nt
        self.len += n
        return self._hmv[t:nt]

    def put_data(self, b: BufferLike) -> memoryview:
        """skb_put_data: append a copy of ``b``; returns a view of it in the skb."""
        view = self.put(len(b))
        view[:] = b
        return view

    def put_zero(self, n: int) -> memoryview:
        """skb_put_zero: append ``n`` zero bytes."""
        view = self.put(n)
        view[:] = bytes(n)
        return view

    def push(self, n: int) -> memoryview:
        """skb_push: extend the data at the front; returns a view of the ``n`` new bytes."""
        d = self.data_off
        nd = d - n
        if nd < 0 or n < 0:
            if n < 0:
                raise SkbError("skb_push: negative length")
            raise SkbUnderPanic("skb_under_panic: push past head")
        self.data_off = nd
        self.len += n
        return self._hmv[nd:d]

    def pull(self, n: int) -> memoryview:
        """skb_pull: remove ``n`` bytes from the front; returns a view of the new data.

        Unlike Linux (NULL when n > len) this raises SkbOverPanic, and pulling into the
        paged part (Linux BUGs) raises too: use pskb_pull for that.
        """
        d = self.data_off + n
        if n > self.len - self.data_len or n < 0:
            if n < 0:
                raise SkbError("skb_pull: negative length")
            if n > self.len:
                raise SkbOverPanic("skb_pull past len")
            raise SkbOverPanic("skb_pull past the linear data (use pskb_pull)")
        self.data_off = d
        self.len -= n
        return self._hmv[d:self.tail]

    def pskb_pull(self, n: int) -> memoryview:
        """pskb_pull: like pull, first moving frag bytes into the linear part if needed."""
        if n < 0:
            raise SkbError("pskb_pull: negative length")
        if n > self.len:
            raise SkbOverPanic("pskb_pull past len")
        if n > self.len - self.data_len:
            self._pskb_pull_tail(n - (self.len - self.data_len))
        return self.pull(n)

    def trim(self, length: int) -> None:
        """skb_trim: cut a linear skb to ``length`` bytes (no-op if already shorter)."""
        if length < 0:
            raise SkbError("skb_trim: negative length")
        if self.len > length:
            if self.data_len:
                raise SkbError("skb_trim on a nonlinear skb (use pskb_trim)")
            self.tail = self.data_off + length
            self.len = length

    def pskb_trim(self, length: int) -> None:
        """pskb_trim: cut to ``length`` bytes, dropping or shortening frags as needed."""
        if length < 0:
            raise SkbError("pskb_trim: negative length")
        if self.len <= length:
            return
        if not self.data_len:
            self.tail = self.data_off + length
            self.len = length
            return
        if self.is_cloned():  # ___pskb_trim: frags are shared, get a private shinfo
            self._check_unshared("pskb_trim")
            self.pskb_expand_head(0, 0)
        hl = self.len - self.data_len
        frags = self.shinfo.frags
        if length <= hl:
            del frags[:]
            self.tail = self.data_off + length
            self.data_len = 0
        else:
            left = length - hl
            kept: list[SkbFrag] = []
            for f in frags:
                if left <= 0:
                    break
                if f.size > left:
                    f = SkbFrag(f.page, f.page_offset, left)
                kept.append(f)
                left -= f.size
            frags[:] = kept
            self.data_len = length - hl
        self.len = length

    # --- header marks -----------------------------------------------------------

    def _mark(self, offset: int) -> int:
        off = self.data_off + offset
        if off < 0 or off > self.end:
            raise SkbError("header offset outside the buffer")
        return off

    def reset_mac_header(self) -> None:
        """skb_reset_mac_header: the MAC header starts at data."""
        self.mac_header = self.data_off

    def set_mac_header(self, offset: int) -> None:
        """skb_set_mac_header: the MAC header starts at data + offset."""
        self.mac_header = self._mark(offset)

    def reset_network_header(self) -> None:
        """skb_reset_network_header: the network header starts at data."""
        self.network_header = self.data_off

    def set_network_header(self, offset: int) -> None:
        """skb_set_network_header: the network header starts at data + offset."""
        self.network_header = self._mark(offset)

    def reset_transport_header(self) -> None:
        """skb_reset_transport_header: the transport header starts at data."""
        self.transport_header = self.data_off

    def set_transport_header(self, offset: int) -> None:
        """skb_set_transport_header: the transport header starts at data + offset."""
        self.transport_header = self._mark(offset)

    def reset_mac_len(self) -> None:
        """skb_reset_mac_len: mac_len = network_header - mac_header."""
        self.mac_len = self.network_header - self.mac_header

    def mac_header_was_set(self) -> bool:
        """skb_mac_header_was_set."""
        return self.mac_header != HEADER_UNSET

    def transport_header_was_set(self) -> bool:
        """skb_transport_header_was_set."""
        return self.transport_header != HEADER_UNSET

    def skb_mac_header(self) -> memoryview:
        """skb_mac_header: view from the MAC header to tail."""
        off = self.mac_header
        if off == HEADER_UNSET:
            raise SkbError("mac header not set")
        return self._hmv[off:self.tail]

    def skb_network_header(self) -> memoryview:
        """skb_network_header: view from the network header to tail."""
        return self._hmv[self.network_header:self.tail]

    def skb_transport_header(self) -> memoryview:
        """skb_transport_header: view from the transport header to tail."""
        off = self.transport_header
        if off == HEADER_UNSET:
            raise SkbError("transport header not set")
        return self._hmv[off:self.tail]

    def skb_network_offset(self) -> int:
        """skb_network_offset: network header - data (negative once pulled past)."""
        return self.network_header - self.data_off

    def skb_transport_offset(self) -> int:
        """skb_transport_offset: transport header - data."""
        return self.transport_header - self.data_off

    def skb_network_header_len(self) -> int:
        """skb_network_header_len: transport header - network header."""
        return self.transport_header - self.network_header

    def _headers_offset_update(self, off: int) -> None:
        """skb_headers_offset_update: shift header marks after a head move."""
        if self.mac_header != HEADER_UNSET:
            self.mac_header += off
        if self.transport_header != HEADER_UNSET:
            self.transport_header += off
        self.network_header += off
        if self.ip_summed == CHECKSUM_PARTIAL:
            self.csum_start += off

    # --- frags ------------------------------------------------------------------

    def add_frag(self, buf: BufferLike, offset: int, size: int,
                 truesize: int | None = None) -> None:
        """skb_add_rx_frag: append ``size`` bytes at ``offset`` of ``buf`` as a page
        fragment without copying; len, data_len and truesize (default: size) grow."""
        sh = self.shinfo
        if sh.dataref != 1 or self.users <= 0:
            raise SkbError("add_frag on a cloned or freed skb")
        if len(sh.frags) >= MAX_SKB_FRAGS:
            raise SkbError("add_frag: MAX_SKB_FRAGS reached")
        mv = _as_byte_view(buf)
        if offset < 0 or size < 0 or offset + size > len(mv):
            raise SkbError("add_frag: offset/size outside the buffer")
        sh.frags.append(SkbFrag(mv, offset, size))
        self.len += size
        self.data_len += size
        self.truesize += size if truesize is None else truesize
        c = self.counters
        if c is not None:
            c.frag_refs += 1

    def _gather(self, offset: int, length: int) -> list[memoryview]:
        """Views of ``length`` bytes from data + offset across linear part and frags."""
        if length < 0 or offset < -self.data_off or offset + length > self.len:
            raise SkbFault("skb_copy_bits: range outside the skb")
        hl = self.len - self.data_len
        stop = offset + length
        parts: list[memoryview] = []
        if offset < hl:
            d = self.data_off
            parts.append(self._hmv[d + offset:d + min(stop, hl)])
        pos = hl
        for f in self.shinfo.frags:
            if pos >= stop:
                break
            fend = pos + f.size
            if fend > offset:
                a = max(offset, pos) - pos + f.page_offset
                b = min(stop, fend) - pos + f.page_offset
                parts.append(f.page[a:b])
            pos = fend
        return parts

    def copy_bits(self, offset: int, length: int) -> bytes:
        """skb_copy_bits: ``length`` bytes from data + offset (offset may reach back into
        the headroom), gathered across the linear part and frags."""
        stop = offset + length
        if stop <= self.len - self.data_len and length >= 0 and offset >= -self.data_off:
            d = self.data_off  # all in the linear part: one slice
            c = self.counters
            if c is not None:
                c.bytes_copied += length
            return bytes(self._hmv[d + offset:d + stop])
        parts = self._gather(offset, length)
        c = self.counters
        if c is not None:
            c.bytes_copied += length
        if len(parts) == 1:
            return bytes(parts[0])
        return b"".join(parts)

    def copy_bits_into(self, offset: int, to: bytearray | memoryview, length: int) -> None:
        """skb_copy_bits into a caller's buffer (``to`` must hold ``length`` bytes)."""
        parts = self._gather(offset, length)
        if len(to) < length:
            raise SkbFault("skb_copy_bits: destination too small")
        pos = 0
        for p in parts:
            n = len(p)
            to[pos:pos + n] = p
            pos += n
        c = self.counters
        if c is not None:
            c.bytes_copied += length

    # --- reallocation -----------------------------------------------------------

    def _check_unshared(self, what: str) -> None:
        if self.users != 1:
            if self.users <= 0:
                raise SkbError(what + " on a freed skb")
            raise SkbError(what + " on a shared skb (users > 1)")

    def pskb_expand_head(self, nhead: int, ntail: int) -> None:
        """pskb_expand_head: reallocate the head privately with ``nhead`` more headroom
        and ``ntail`` more tailroom; header marks move along, the skb is no longer cloned."""
        if nhead < 0 or ntail < 0:
            raise SkbError("pskb_expand_head: negative size")
        self._check_unshared("pskb_expand_head")
        osize = self.end
        obj = _kmalloc_reserve(osize + nhead + ntail)
        if obj > KMALLOC_MAX_SIZE:
            raise SkbError("pskb_expand_head: size too large")
        size = obj - SKB_SHINFO_SIZE
        new = bytearray(size)
        t = self.tail
        new[nhead:nhead + t] = self._hmv[:t]  # skbuff.c copies head..tail, headroom included
        old = self.shinfo
        c = self.counters
        if old.dataref != 1:  # cloned: take refs on the frags, drop ours on the old head
            frags = list(old.frags)
            old.dataref -= 1
            if self.nohdr:
                old.nohdr_refs -= 1
            if c is not None:
                c.frag_refs += len(frags)
        else:
            frags = old.frags
            if c is not None:
                c.free += 1  # skb_free_head: the private old head goes
        self.head = new
        self._hmv = memoryview(new)
        self.shinfo = SkbSharedInfo(new, frags)
        # the new shinfo is a copy of the old: zerocopy arg and tx stamp request
        # follow, a still-shared uarg gains a reference (pskb_expand_head)
        _copy_zcopy(old, self.shinfo, frags is not old.frags)
        self.data_off += nhead
        self.tail = t + nhead
        self.end = size
        self._headers_offset_update(nhead)
        self.cloned = False
        self.nohdr = False
        if self.sk is None:  # skbuff.c: truesize only changes when not owned by a socket
            self.truesize += size - osize
        if c is not None:
            c.expand_head += 1
            c.bytes_copied += t

    def cow_head(self, headroom: int) -> bool:
        """skb_cow_head: make the header area private and at least ``headroom`` deep;
        returns True when it had to reallocate."""
        if headroom < 0:
            raise SkbError("skb_cow_head: negative headroom")
        delta = headroom - self.data_off
        if delta < 0:
            delta = 0
        if not delta and not self.header_cloned():
            return False
        return self._cow(delta)

    def _cow(self, delta: int) -> bool:
        """__skb_cow: reallocate with ``delta`` more headroom."""
        # skbuff.h __skb_cow: grow by ALIGN(delta, NET_SKB_PAD)
        self.pskb_expand_head((delta + NET_SKB_PAD - 1) & ~(NET_SKB_PAD - 1), 0)
        c = self.counters
        if c is not None:
            c.cow += 1
        return True

    def cow(self, headroom: int) -> bool:
        """skb_cow: as cow_head, but any clone (nohdr too) makes it copy: the caller
        writes past the headers."""
        if headroom < 0:
            raise SkbError("skb_cow: negative headroom")
        delta = headroom - self.data_off
        if delta < 0:
            delta = 0
        if not delta and not (self.cloned and self.shinfo.dataref != 1):
            return False
        return self._cow(delta)

    def _pskb_pull_tail(self, delta: int) -> None:
        """__pskb_pull_tail: move ``delta`` bytes from the frags into the linear part."""
        eat = self.tail + delta - self.end
        if eat > 0 or self.is_cloned():
            self._check_unshared("__pskb_pull_tail")
            self.pskb_expand_head(0, eat + 128 if eat > 0 else 0)  # skbuff.c: eat + 128
        hl = self.len - self.data_len
        t = self.tail
        self.copy_bits_into(hl, self._hmv[t:t + delta], delta)
        frags = self.shinfo.frags
        left = delta
        i = 0
        while left and i < len(frags):
            f = frags[i]
            if f.size <= left:
                left -= f.size
                i += 1
            else:
                frags[i] = SkbFrag(f.page, f.page_offset + left, f.size - left)
                left = 0
        del frags[:i]
        self.tail = t + delta
        self.data_len -= delta
        c = self.counters
        if c is not None:
            c.pull_tail += 1

    def pskb_may_pull(self, n: int) -> bool:
        """pskb_may_pull: make the first ``n`` bytes linear; False if len < n."""
        if n < 0:
            raise SkbError("pskb_may_pull: negative length")
        hl = self.len - self.data_len
        if n <= hl:
            return True
        if n > self.len:
            return False
        self._pskb_pull_tail(n - hl)
        return True

    def linearize(self) -> None:
        """skb_linearize: pull all paged data into the linear part."""
        if not self.data_len:
            return
        self._pskb_pull_tail(self.data_len)
        c = self.counters
        if c is not None:
            c.linearize += 1

    # --- clone / copy / free -----------------------------------------------------

    def _copy_header_to(self, n: SkBuff) -> None:
        """__copy_skb_header: metadata a clone or copy inherits (not sk, destructor)."""
        n.dev = self.dev
        n.sk = None
        n.dst = self.dst
        n.protocol = self.protocol
        n.pkt_type = self.pkt_type
        n.priority = self.priority
        n.mark = self.mark
        n.hash = self.hash
        n.l4_hash = self.l4_hash
        n.sw_hash = self.sw_hash
        n.queue_mapping = self.queue_mapping
        n.tstamp = self.tstamp
        n.ip_summed = self.ip_summed
        n.csum = self.csum
        n.csum_start = self.csum_start
        n.csum_offset = self.csum_offset
        n.csum_level = self.csum_level
        n.gso_size = self.gso_size
        n.gso_segs = self.gso_segs
        n.gso_type = self.gso_type
        cb = self.cb
        n.cb = None if cb is None else cb.copy()
        n.napi_id = self.napi_id
        n.vlan_proto = self.vlan_proto
        n.vlan_tci = self.vlan_tci
        n.vlan_present = self.vlan_present
        n.skb_iif = self.skb_iif
        n.nfct = self.nfct
        n.nfctinfo = self.nfctinfo
        n.mac_len = self.mac_len
        n.mac_header = self.mac_header
        n.network_header = self.network_header
        n.transport_header = self.transport_header
        n.counters = self.counters
        n.destructor = None

    def clone(self) -> SkBuff:
        """skb_clone: a new skb sharing the head buffer and frags (dataref + 1)."""
        if self.users <= 0:
            raise SkbError("skb_clone on a freed skb")
        n = SkBuff.__new__(SkBuff)
        n.head = self.head
        n._hmv = self._hmv
        sh = self.shinfo
        n.shinfo = sh
        n.data_off = self.data_off
        n.tail = self.tail
        n.end = self.end
        n.len = self.len
        n.data_len = self.data_len
        n.truesize = self.truesize
        n.users = 1
        n.cloned = True
        n.nohdr = False
        self._copy_header_to(n)
        sh.dataref += 1
        self.cloned = True
        c = self.counters
        if c is not None:
            c.clone += 1
        return n

    def _new_like(self, size: int, headroom: int) -> SkBuff:
        n = alloc_skb(size, self.counters)
        n.reserve(headroom)
        self._copy_header_to(n)
        n._headers_offset_update(headroom - self.data_off)
        return n

    def copy(self) -> SkBuff:
        """skb_copy: a private, linear copy of the whole skb (headroom included)."""
        if self.users <= 0:
            raise SkbError("skb_copy on a freed skb")
        hr = self.data_off
        n = self._new_like(self.end + self.data_len, hr)
        n.put(self.len)
        self.copy_bits_into(-hr, n._hmv[:hr + self.len], hr + self.len)
        c = self.counters
        if c is not None:
            c.copy += 1
        return n

    def pskb_copy(self) -> SkBuff:
        """pskb_copy: a private copy of the linear part; frags are shared (refs taken)."""
        if self.users <= 0:
            raise SkbError("pskb_copy on a freed skb")
        hr = self.data_off
        hl = self.len - self.data_len
        n = self._new_like(hr + hl, hr)
        n.put(hl)
        self.copy_bits_into(-hr, n._hmv[:hr + hl], hr + hl)
        frags = self.shinfo.frags
        if frags:
            n.shinfo.frags = list(frags)
            ua = self.shinfo.destructor_arg
            if ua is not None:  # skb_zerocopy_clone: the copy shares the user pages
                ua.get()
                n.shinfo.destructor_arg = ua
            n.len += self.data_len
            n.data_len = self.data_len
            n.truesize += self.data_len  # skbuff.c __pskb_copy_fclone
        c = self.counters
        if c is not None:
            c.copy += 1
            c.frag_refs += len(frags)
        return n

    def unshare(self) -> SkBuff:
        """skb_unshare: self if the data is private, else a private copy (and self is
        freed)."""
        if not (self.cloned and self.shinfo.dataref != 1):
            return self
        n = self.copy()
        self.free()
        c = self.counters
        if c is not None:
            c.unshare += 1
        return n

    def free(self) -> None:
        """kfree_skb/consume_skb: drop one user; the last runs the destructor and drops
        the dataref, releasing the head when no clone still holds it."""
        users = self.users
        if users <= 0:
            raise SkbError("kfree_skb: double free")
        self.users = users - 1
        if users > 1:
            return
        d = self.destructor
        if d is not None:
            self.destructor = None
            d(self)
        sh = self.shinfo
        sh.dataref -= 1
        if self.nohdr:
            sh.nohdr_refs -= 1
            self.nohdr = False
        c = self.counters
        if sh.dataref == 0:
            ua = sh.destructor_arg
            if ua is not None:  # skb_release_data: skb_zcopy_clear(skb, true)
                sh.destructor_arg = None
                ua.complete(True)
            sh.frags = []
            sh.head = _EMPTY
            if c is not None:
                c.free += 1
        self.head = _EMPTY
        self._hmv = _EMPTY_MV
        self.shinfo = SkbSharedInfo(_EMPTY)
        self.data_off = self.tail = self.end = self.len = self.data_len = 0
        self.sk = None

    kfree = free

    def orphan(self) -> None:
        """skb_orphan: run the destructor (socket memory uncharge) and forget the socket."""
        d = self.destructor
        if d is not None:
            self.destructor = None
            d(self)
        self.sk = None

    def __repr__(self) -> str:
        return (f"<SkBuff len={self.len} data_len={self.data_len} headroom={self.data_off}"
                f" tail={self.tail} end={self.end} nr_frags={len(self.shinfo.frags)}"
                f" cloned={self.cloned} users={self.users}>")


def _copy_zcopy(old: SkbSharedInfo, new: SkbSharedInfo, take_ref: bool) -> None:
    """The zerocopy and tx-timestamp fields of a reallocated shinfo (memcpy'd in
    pskb_expand_head; a uarg still held by the old shinfo gains a reference)."""
    ua = old.destructor_arg
    if ua is not None:
        if take_ref:
            ua.get()
        else:
            old.destructor_arg = None
        new.destructor_arg = ua
    new.tx_flags = old.tx_flags
    new.tskey = old.tskey


# --- allocation ----------------------------------------------------------------------


def alloc_skb(size: int, counters: SkbCounters | None = None) -> SkBuff:
    """alloc_skb: an empty skb with at least ``size`` bytes of tailroom (rounded up
    like kmalloc_reserve); truesize = SKB_TRUESIZE(usable size)."""
    if size < 0 or size > KMALLOC_MAX_SIZE:
        raise SkbError("alloc_skb: bad size")
    # kmalloc_reserve; its skb_small_head_cache case (SKB_HEAD_ALIGN(size) <= 576, all
    # ICMP and ARP replies) without the helper's frame
    obj = SKB_SMALL_HEAD_CACHE_SIZE if size <= _SMALL_HEAD_MAX else _kmalloc_reserve(size)
    if obj > KMALLOC_MAX_SIZE:
        raise SkbError("alloc_skb: bad size")
    skb = SkBuff(bytearray(obj - SKB_SHINFO_SIZE), obj + SKB_SKBUFF_SIZE, counters)
    if counters is not None:
        counters.alloc += 1
    return skb


def netdev_alloc_skb(dev: Any, length: int, counters: SkbCounters | None = None) -> SkBuff:
    """netdev_alloc_skb: alloc_skb(length + NET_SKB_PAD) with NET_SKB_PAD reserved and
    skb->dev set (the page_frag path's truesize is not modelled)."""
    skb = alloc_skb(length + NET_SKB_PAD, counters)
    skb.reserve(NET_SKB_PAD)
    skb.dev = dev
    return skb


def build_skb(buf: bytearray, counters: SkbCounters | None = None) -> SkBuff:
    """build_skb: an skb around an existing buffer, without copying; the whole buffer
    is head..end (tuxnet keeps shinfo outside it), truesize = SKB_TRUESIZE(len(buf))."""
    if not isinstance(buf, bytearray):
        raise SkbError("build_skb needs a bytearray")
    skb = SkBuff(buf, len(buf) + SKB_TRUESIZE_OVERHEAD, counters)
    if counters is not None:
        counters.alloc += 1
    return skb
