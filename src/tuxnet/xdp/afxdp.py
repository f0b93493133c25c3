"""AF_XDP: the UMEM, its four rings and the XDP socket (net/xdp/xsk.c, xsk_queue.h,
xdp_umem.c; include/uapi/linux/if_xdp.h; Documentation/networking/af_xdp.rst).

The application registers a UMEM (``Umem``: ``nframes`` chunks of ``chunk_size``
bytes, optional ``headroom``) with a *fill* ring (addresses it hands to the kernel for
receiving) and a *completion* ring (addresses the kernel gives back after
transmitting); each ``XskSocket`` has an *RX* and a *TX* ring of ``XdpDesc``
(addr, len, options). Every ring is a single-producer single-consumer queue of a
power-of-two size with free-running u32 ``producer``/``consumer`` indices (the slot is
``index & mask``); each side works on a private cached index and publishes with
``submit`` / ``release``, as libxdp's ``xsk_ring_prod__reserve/submit`` and
``xsk_ring_cons__peek/release`` do.

Receive. An XDP program redirects a frame through an XSKMAP to the socket bound to
the receiving device and queue (else -EINVAL). The kernel takes a chunk (from the
pool's free list, else the fill ring; none: ``rx_dropped`` and
``rx_fill_ring_empty_descs``), reserves an RX descriptor (none free: ``rx_ring_full``,
the chunk returns to the free list) and publishes the descriptors at the end of the
NAPI poll (``xsk_flush``). In zero-copy mode the NIC wrote the frame into the chunk
(tuxnet does that write at redirect time, as the DMA: no CPU copy, nothing counted);
in copy mode the kernel memcpy's it (``rx_copies``/``rx_copy_bytes``). The
application reads the frame in place: ``umem.frame(desc)`` is a memoryview of UMEM.

Transmit. The application writes frames into chunks, queues descriptors on the TX
ring and kicks (``sendto``). Zero-copy: the driver's NAPI poll takes descriptors,
reserving a completion slot for each (none: it stops), and transmits straight from
UMEM; when the NIC is done the address appears on the completion ring. Copy mode
(``xsk_generic_xmit``): each descriptor becomes an skb (a copy, counted) sent with
``dev_direct_xmit``; its destructor completes the address. Invalid descriptors count
``tx_invalid_descs``; an empty TX ring on a kick counts ``tx_ring_empty_descs``.

Model simplification: a zero-copy queue still receives into the driver's own pages
and the frame is written into the UMEM chunk (not counted, not charged) when it is
redirected, so the fill ring is consumed at redirect time rather than at RX-ring
refill, and XDP_PASS on such a queue costs no copy out of UMEM. Not modelled: shared
UMEMs (XDP_SHARED_UMEM), unaligned chunks, need_wakeup flags, multi-buffer
(XDP_PKT_CONTD) descriptors, XDP_STATISTICS' rx_invalid_descs (always 0).
"""

from __future__ import annotations

import errno
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from tuxnet.skb import SkBuff

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = [
    "XDP_COPY",
    "XDP_PACKET_HEADROOM",
    "XDP_SHARED_UMEM",
    "XDP_USE_NEED_WAKEUP",
    "XDP_ZEROCOPY",
    "Umem",
    "XdpDesc",
    "XskRing",
    "XskSocket",
    "xsk_by_fd",
]

# include/uapi/linux/if_xdp.h: sxdp_flags
XDP_SHARED_UMEM = 1 << 0
XDP_COPY = 1 << 1
XDP_ZEROCOPY = 1 << 2
XDP_USE_NEED_WAKEUP = 1 << 3
XDP_PACKET_HEADROOM = 256            # include/linux/bpf.h
XDP_UMEM_MIN_CHUNK_SIZE = 2048       # net/xdp/xdp_umem.c
PAGE_SIZE = 4096
XSK_UMEM_DEFAULT_FRAME_SIZE = 4096   # libxdp xsk.h: XSK_UMEM__DEFAULT_FRAME_SIZE
XSK_RING_DEFAULT_NUM_DESCS = 2048    # libxdp xsk.h: XSK_RING_{CONS,PROD}__DEFAULT_NUM_DESCS
_U32 = 0xFFFF_FFFF
FIRST_XSK_FD = 100                   # tuxnet's fd numbers for XDP sockets (any free fd)


class XdpDesc(NamedTuple):
    """struct xdp_desc: a frame's UMEM address, its length and options."""

    addr: int
    len: int
    options: int = 0


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class XskRing:
    """One AF_XDP ring (struct xdp_ring + xsk_queue): ``size`` slots, u32 indices.

    Producer side: ``reserve(n)`` -> first index or None when fewer than ``n`` slots
    are free, write ``ring[idx + i]``, ``submit(n)`` publishes them (``cancel(n)``
    gives reserved slots back). Consumer side: ``peek(n)`` -> (count, first index),
    read ``ring[idx + i]``, ``release(count)``. ``start`` presets both indices (to
    exercise the u32 wraparound in tests); the kernel starts them at 0.
    """

    __slots__ = ("cached_cons", "cached_prod", "consumer", "entries", "mask", "name",
                 "producer", "size")

    def __init__(self, size: int, name: str = "ring", *, start: int = 0) -> None:
        if not _is_pow2(size):  # xsk_init_queue: 0 or not a power of two is EINVAL
            raise OSError(errno.EINVAL, f"{name} ring size {size} is not a power of two")
        self.size = size
        self.mask = size - 1
        self.name = name
        self.entries: list[Any] = [0] * size
        self.producer = self.consumer = start & _U32
        self.cached_prod = self.cached_cons = self.producer

    def __repr__(self) -> str:
        return (f"<XskRing {self.name} size={self.size} producer={self.producer} "
                f"consumer={self.consumer}>")

    def __getitem__(self, idx: int) -> Any:
        return self.entries[idx & self.mask]

    def __setitem__(self, idx: int, value: Any) -> None:
        self.entries[idx & self.mask] = value

    # -- producer ---------------------------------------------------------------------
    def free(self) -> int:
        """Slots the producer may still reserve (xskq_prod_nb_free)."""
        return self.size - ((self.cached_prod - self.consumer) & _U32)

    def reserve(self, n: int = 1) -> int | None:
        """xsk_ring_prod__reserve / xskq_prod_reserve: ``n`` slots or None."""
        if self.free() < n:
            return None
        idx = self.cached_prod
        self.cached_prod = (idx + n) & _U32
        return idx

    def cancel(self, n: int = 1) -> None:
        """xskq_prod_cancel_n: give back reserved, unsubmitted slots."""
        self.cached_prod = (self.cached_prod - n) & _U32

    def submit(self, n: int = 1) -> None:
        """xsk_ring_prod__submit / xskq_prod_submit_n: publish ``n`` entries."""
        pending = (self.cached_prod - self.producer) & _U32
        if n > pending:
            raise ValueError(f"{self.name}: submit {n} > {pending} reserved")
        self.producer = (self.producer + n) & _U32

    # -- consumer ---------------------------------------------------------------------
    def available(self) -> int:
        """Published entries the consumer has not peeked yet."""
        return (self.producer - self.cached_cons) & _U32

    def peek(self, n: int) -> tuple[int, int]:
        """xsk_ring_cons__peek: up to ``n`` entries -> (count, first index)."""
        count = min(n, self.available())
        idx = self.cached_cons
        self.cached_cons = (idx + count) & _U32
        return count, idx

    def release(self, n: int = 1) -> None:
        """xsk_ring_cons__release: the consumed entries' slots become free."""
        pending = (self.cached_cons - self.consumer) & _U32
        if n > pending:
            raise ValueError(f"{self.name}: release {n} > {pending} peeked")
        self.consumer = (self.consumer + n) & _U32

    def queued(self) -> int:
        """Entries published and not yet released (what the other side sees)."""
        return (self.producer - self.consumer) & _U32


class Umem:
    """XDP_UMEM_REG: a bytearray of ``nframes`` chunks with the fill and completion
    rings (``fill``/``comp``). Checks as xdp_umem_reg: chunk_size a power of two in
    2048..PAGE_SIZE, headroom below ``chunk_size - XDP_PACKET_HEADROOM``."""

    def __init__(self, nframes: int, chunk_size: int = XSK_UMEM_DEFAULT_FRAME_SIZE, *,
                 headroom: int = 0, fill_size: int = XSK_RING_DEFAULT_NUM_DESCS,
                 comp_size: int = XSK_RING_DEFAULT_NUM_DESCS) -> None:
        if not _is_pow2(chunk_size) or not XDP_UMEM_MIN_CHUNK_SIZE <= chunk_size <= PAGE_SIZE:
            raise OSError(errno.EINVAL, f"chunk_size {chunk_size}: a power of two in "
                          f"{XDP_UMEM_MIN_CHUNK_SIZE}..{PAGE_SIZE}")
        if nframes < 1:
            raise OSError(errno.EINVAL, "a UMEM needs at least one chunk")
        if not 0 <= headroom < chunk_size - XDP_PACKET_HEADROOM:
            raise OSError(errno.EINVAL, f"headroom {headroom} >= chunk_size - "
                          f"{XDP_PACKET_HEADROOM}")
        self.chunk_size = chunk_size
        self.chunk_mask = ~(chunk_size - 1)
        self.headroom = headroom
        self.nframes = nframes
        self.area = bytearray(nframes * chunk_size)
        self.fill = XskRing(fill_size, "fill")
        self.comp = XskRing(comp_size, "completion")
        self.free_list: list[int] = []  # chunks back in the kernel's pool (xp_free)
        self.fill_invalid = 0  # fill ring entries outside the UMEM (fq invalid_descs)

    @property
    def size(self) -> int:
        return len(self.area)

    def frame(self, desc: XdpDesc) -> memoryview:
        """The frame a descriptor points at, in place (no copy)."""
        return memoryview(self.area)[desc.addr:desc.addr + desc.len]

    def chunk_addrs(self) -> list[int]:
        """Every chunk's base address (what an application puts on the fill ring)."""
        return [i * self.chunk_size for i in range(self.nframes)]

    def fill_all(self, addrs: list[int] | None = None) -> int:
        """Put ``addrs`` (default: every chunk) on the fill ring as far as it has room;
        returns how many were queued."""
        addrs = self.chunk_addrs() if addrs is None else addrs
        n = min(len(addrs), self.fill.free())
        idx = self.fill.reserve(n)
        if idx is None or n == 0:
            return 0
        for i in range(n):
            self.fill[idx + i] = addrs[i]
        self.fill.submit(n)
        return n

    # -- kernel side ------------------------------------------------------------------
    def alloc_chunk(self) -> int | None:
        """xp_alloc: a chunk base from the free list, else from the fill ring (its
        address masked to the chunk, aligned mode); None when both are empty."""
        if self.free_list:
            return self.free_list.pop()
        while True:
            n, idx = self.fill.peek(1)
            if not n:
                return None
            addr = int(self.fill[idx]) & self.chunk_mask
            self.fill.release(1)
            if 0 <= addr < self.size:
                return addr
            self.fill_invalid += 1  # xp_check_aligned fails: the entry is skipped

    def valid_desc(self, desc: XdpDesc) -> bool:
        """xp_aligned_validate_desc: inside the UMEM and within one chunk."""
        if desc.len == 0 or desc.len > self.chunk_size or desc.options:
            return False
        end = desc.addr + desc.len - 1
        return (desc.addr >= 0 and end < self.size
                and desc.addr & self.chunk_mask == end & self.chunk_mask)


class XskStats:
    """struct xdp_statistics (XDP_STATISTICS) plus tuxnet's copy counters."""

    __slots__ = ("rx_copies", "rx_copy_bytes", "rx_dropped", "rx_fill_ring_empty_descs",
                 "rx_invalid_descs", "rx_packets", "rx_ring_full", "tx_copies",
                 "tx_copy_bytes", "tx_invalid_descs", "tx_packets", "tx_ring_empty_descs")

    def __init__(self) -> None:
        self.rx_dropped = self.rx_invalid_descs = self.tx_invalid_descs = 0
        self.rx_ring_full = self.rx_fill_ring_empty_descs = self.tx_ring_empty_descs = 0
        self.rx_packets = self.tx_packets = 0
        self.rx_copies = self.rx_copy_bytes = self.tx_copies = self.tx_copy_bytes = 0

    def as_dict(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in self.__slots__}


class _XskHostState:
    def __init__(self) -> None:
        self.next_fd = FIRST_XSK_FD
        self.sockets: dict[int, XskSocket] = {}


_STATE: weakref.WeakKeyDictionary[Host, _XskHostState] = weakref.WeakKeyDictionary()


def _host_state(host: Host) -> _XskHostState:
    st = _STATE.get(host)
    if st is None:
        st = _STATE[host] = _XskHostState()
    return st


def xsk_by_fd(host: Host, fd: int) -> XskSocket | None:
    """The XDP socket with file descriptor ``fd`` on ``host``, ready for an XSKMAP
    (bound, with an RX ring: xsk_is_setup_for_bpf_map), else None."""
    xs = _host_state(host).sockets.get(fd)
    return xs if xs is not None and xs.dev is not None else None


class XskSocket:
    """socket(AF_XDP, SOCK_RAW, 0) with its RX and TX rings, bound by :meth:`bind`."""

    def __init__(self, host: Host, umem: Umem, *, rx_size: int = XSK_RING_DEFAULT_NUM_DESCS,
                 tx_size: int = XSK_RING_DEFAULT_NUM_DESCS) -> None:
        self.host = host
        self.umem = umem
        self.rx = XskRing(rx_size, "rx")
        self.tx = XskRing(tx_size, "tx")
        self.dev: Any = None
        self.queue_id = -1
        self.zc = False
        self.flags = 0
        self.stats = XskStats()
        self.rx_pending = 0     # descriptors written, published at xsk_flush
        self.waiters: list[Callable[[], object]] = []  # sk_data_ready: RX published
        st = _host_state(host)
        self.fd = st.next_fd
        st.next_fd += 1
        st.sockets[self.fd] = self
        self.closed = False

    def __repr__(self) -> str:
        where = f"{self.dev.name}:{self.queue_id}" if self.dev is not None else "unbound"
        return f"<XskSocket fd={self.fd} {where} {'zc' if self.zc else 'copy'}>"

    def bind(self, dev: Any, queue_id: int, flags: int = 0) -> None:
        """xsk_bind: to ``dev``'s queue ``queue_id``. XDP_ZEROCOPY needs a driver with
        AF_XDP zero-copy support (EOPNOTSUPP otherwise); no flag tries zero-copy and
        falls back to copy mode; XDP_COPY forces copy mode."""
        if self.dev is not None:
            raise OSError(errno.EINVAL, "socket already bound")
        if flags & XDP_SHARED_UMEM:
            raise OSError(errno.EOPNOTSUPP, "XDP_SHARED_UMEM is not modelled by tuxnet")
        if flags & XDP_COPY and flags & XDP_ZEROCOPY:
            raise OSError(errno.EINVAL, "XDP_COPY and XDP_ZEROCOPY together")
        if not 0 <= queue_id < dev.real_num_rx_queues:
            raise OSError(errno.EINVAL, f"queue {queue_id} not in 0..{dev.real_num_rx_queues - 1}")
        can_zc = callable(getattr(dev, "ndo_xsk_wakeup", None))
        if flags & XDP_ZEROCOPY and not can_zc:
            raise OSError(errno.EOPNOTSUPP, f"{dev.name}: no AF_XDP zero-copy support")
        self.zc = can_zc and not flags & XDP_COPY
        self.flags = flags
        self.dev = dev
        self.queue_id = queue_id
        from tuxnet.xdp.redirect import xsk_register_queue
        xsk_register_queue(dev, queue_id, self)

    def close(self) -> None:
        """close(): unbind and forget the fd (XSKMAP entries still naming it stop
        resolving)."""
        if self.closed:
            return
        self.closed = True
        if self.dev is not None:
            from tuxnet.xdp.redirect import xsk_unregister_queue
            xsk_unregister_queue(self.dev, self.queue_id, self)
        _host_state(self.host).sockets.pop(self.fd, None)
        self.dev = None

    def statistics(self) -> dict[str, int]:
        """getsockopt(XDP_STATISTICS) and the copy counters."""
        return self.stats.as_dict()

    # -- receive (kernel side) --------------------------------------------------------
    def rcv(self, frame: memoryview, meta: memoryview, data_off: int) -> int:
        """xsk_rcv: put one redirected frame into a UMEM chunk and reserve its RX
        descriptor (published by :meth:`flush`); 0 or a negative errno. ``data_off``
        is the frame's offset from the start of its XDP buffer (zero-copy keeps it)."""
        umem = self.umem
        n = len(frame)
        metalen = len(meta)
        # zero-copy keeps the offset the program left; copy mode copies to the default
        off = umem.headroom + (data_off if self.zc else XDP_PACKET_HEADROOM)
        if off + n > umem.chunk_size or off < metalen:
            self.stats.rx_dropped += 1  # xsk_rcv: -ENOSPC, frame larger than a chunk
            return -errno.ENOSPC
        chunk = umem.alloc_chunk()
        if chunk is None:
            self.stats.rx_dropped += 1
            self.stats.rx_fill_ring_empty_descs += 1
            return -errno.ENOMEM
        idx = self.rx.reserve(1)
        if idx is None:
            umem.free_list.append(chunk)  # xsk_buff_free
            self.stats.rx_ring_full += 1
            return -errno.ENOBUFS
        addr = chunk + off
        area = umem.area
        area[addr - metalen:addr] = meta
        area[addr:addr + n] = frame  # zero-copy: the NIC's DMA; copy mode: a memcpy
        if not self.zc:
            self.stats.rx_copies += 1
            self.stats.rx_copy_bytes += n + metalen
        self.rx[idx] = XdpDesc(addr, n, 0)
        self.rx_pending += 1
        self.stats.rx_packets += 1
        return 0

    def flush(self) -> int:
        """xsk_flush: publish the RX descriptors written this poll; returns how many."""
        n = self.rx_pending
        if n:
            self.rx.submit(n)
            self.rx_pending = 0
        return n

    # -- transmit ---------------------------------------------------------------------
    def sendto(self) -> int:
        """sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0): kick transmission. Zero-copy:
        wake the driver (ndo_xsk_wakeup), which sends from its NAPI poll (ENETDOWN
        without an XDP program on the device, as ixgbe); copy mode: xsk_generic_xmit
        now. Returns 0 or raises OSError (ENXIO unbound, ENETDOWN)."""
        dev = self.dev
        if dev is None:
            raise OSError(errno.ENXIO, "socket not bound")
        if not dev.is_up():
            raise OSError(errno.ENETDOWN, f"{dev.name} is down")
        from tuxnet.core.cpu import charge
        charge(dev.core.costs.syscall_ns)
        if not self.tx.available():
            self.stats.tx_ring_empty_descs += 1
            return 0
        if self.zc:
            rc = dev.ndo_xsk_wakeup(self.queue_id)
            if rc < 0:
                raise OSError(-rc, f"{dev.name}: xsk wakeup failed")
            return 0
        self._generic_xmit()
        return 0

    def next_tx_desc(self) -> XdpDesc | None:
        """xsk_tx_peek_desc: the next valid TX descriptor, peeked (the caller releases
        it with ``tx.release(1)``) with a completion slot reserved and written; None
        when the TX ring is empty or the completion ring is full. Invalid descriptors
        are consumed and counted (tx_invalid_descs)."""
        umem = self.umem
        tx = self.tx
        while True:
            if umem.comp.free() < 1:
                return None
            n, idx = tx.peek(1)
            if not n:
                return None
            desc = tx[idx]
            if not isinstance(desc, XdpDesc) or not umem.valid_desc(desc):
                tx.release(1)
                self.stats.tx_invalid_descs += 1
                continue
            cidx = umem.comp.reserve(1)
            assert cidx is not None
            umem.comp[cidx] = desc.addr
            return desc

    def unpeek_tx(self) -> None:
        """xskq_cons_cancel_n + xskq_prod_cancel: the peeked descriptor stays on the TX
        ring (the NIC had no room) and its completion slot is given back."""
        self.tx.cached_cons = (self.tx.cached_cons - 1) & _U32
        self.umem.comp.cancel(1)

    def tx_completed(self, n: int = 1) -> None:
        """xsk_tx_completed: the NIC is done with ``n`` frames: their addresses (written
        in order at reservation) are published on the completion ring."""
        self.umem.comp.submit(n)
        self.stats.tx_packets += n

    def _generic_xmit(self) -> None:
        """xsk_generic_xmit: each descriptor copied into an skb and sent with
        dev_direct_xmit on the bound queue; the skb destructor completes the address.
        A busy ring leaves the descriptor on the TX ring (the application retries)."""
        from tuxnet.core.dev import NETDEV_TX_OK, dev_hard_start_xmit
        from tuxnet.skb import alloc_skb
        dev = self.dev
        txq = dev.tx_queues[self.queue_id % dev.real_num_tx_queues]
        while not txq.stopped:
            desc = self.next_tx_desc()
            if desc is None:
                return
            data = self.umem.frame(desc)
            skb = alloc_skb(len(data), dev.skb_counters)
            skb.put_data(data)
            self.stats.tx_copies += 1
            self.stats.tx_copy_bytes += len(data)
            skb.dev = dev
            skb.queue_mapping = txq.index
            if dev_hard_start_xmit(skb, dev, txq) != NETDEV_TX_OK:
                self.unpeek_tx()
                self.host.kfree_skb(skb, _drop_reason_busy(), "xsk_generic_xmit")
                return
            self.tx.release(1)
            skb.destructor = self._skb_destructor

    def _skb_destructor(self, skb: SkBuff) -> None:
        """xsk_destruct_skb."""
        self.tx_completed(1)


def _drop_reason_busy() -> Any:
    from tuxnet.dropreason import SkbDropReason
    return SkbDropReason.FULL_RING
