"""A simulated Ethernet NIC on a sim Link (``SimNic``): rings, RSS, IRQ coalescing,
NAPI or legacy receive, TX ring with completions.

Receive. A frame arriving from the link is DMA'd (no CPU cost) into a descriptor of
the RX ring its RSS hash picks (Toeplitz over the IPv4 addresses, plus TCP/UDP ports,
through ``rss_indir``); a full ring drops it in hardware (rx_missed_errors, as ixgbe
counts its MPC register; drop reason FULL_RING). The queue's interrupt fires when
``rx_max_frames`` frames are unsignalled or ``rx_usecs`` after the first one (IRQ on
CPU ``queue % ncpus`` unless set with ``set_irq_affinity``). Then:

* ``rx_mode = "napi"``: the handler masks the vector and napi_schedules; the poll
  cleans TX completions, builds an skb per frame (build_skb around the DMA buffer,
  no copy), eth_type_trans, napi_gro_receive; it re-enables the vector only after
  emptying the ring (napi_complete_done).
* ``rx_mode = "legacy"``: drivers before 2.5: the vector is never masked; each
  interrupt takes the frames present when it started, one chunk each, and hands them
  to netif_rx (the CPU's backlog), so every arriving packet can interrupt whatever
  runs.

XDP. With a program attached (``tuxnet.xdp.dev_xdp_attach`` calls ``ndo_bpf``, which
resets the rings as ixgbe_xdp_setup does) RX buffers are a page each with
XDP_PACKET_HEADROOM before the frame, and the poll runs the hook on each descriptor
before any skb exists (``tuxnet.xdp.hook``); XDP_TX and redirected frames go on this
CPU's TX ring through ``ndo_xdp_xmit``, and the poll ends with xdp_do_flush and the
zero-copy AF_XDP transmit of the queue (``ndo_xsk_wakeup`` kicks it).

Transmit. ndo_start_xmit puts the skb in the TX ring (stopping the queue when fewer
than DESC_NEEDED descriptors stay free); the NIC puts one frame at a time on the link
when its transmitter is idle; at the end of serialisation the descriptor is done and
counts toward the TX interrupt (tx_usecs / tx_max_frames); the poll cleans done
descriptors (frees the skbs, counts tx packets/bytes) and wakes the queue once
TX_WAKE_THRESHOLD descriptors are free. A frame the link refuses counts tx_dropped.
CHECKSUM_PARTIAL packets get their checksum filled by the "hardware". TSO
(``tx-tcp-segmentation``) and hardware GRO (``rx-gro-hw``) are off by default; when
on, see drivers/simnic_tso (super-skbs cut into frames, or carried as one train).

Persona: ixgbe for ring sizes and statistics names (ethtool -S: rx_queue_N_packets
...), mlx5e's static moderation defaults for coalescing (rx/tx 16 µs, 32 frames;
adaptive moderation off). Wire two NICs with :func:`connect_simnics`.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from tuxnet.core import cpu as _cpu
from tuxnet.core.cpu import Cpu, IrqLine, current_cpu
from tuxnet.core.dev import (
    NETDEV_TX_BUSY,
    NETDEV_TX_OK,
    dev_get_stats,
    eth_type_trans,
    napi_gro_receive,
    netif_carrier_on,
    netif_rx,
    netif_tx_stop_queue,
    netif_tx_wake_queue,
)
from tuxnet.core.napi import (
    NapiStruct,
    napi_complete_done,
    napi_disable,
    napi_enable,
    napi_schedule,
)
from tuxnet.core.netcore import netif_napi_add, request_irq, set_rss_indir_default
from tuxnet.core.netdevice import (
    IFF_UP,
    NETIF_F_GRO,
    NETIF_F_GRO_HW,
    NETIF_F_GSO,
    NETIF_F_HIGHDMA,
    NETIF_F_HW_CSUM,
    NETIF_F_RXHASH,
    NETIF_F_SG,
    NETIF_F_TSO,
    Channels,
    Coalesce,
    NetDevice,
    NetdevQueue,
    NetdevRxQueue,
    RtnlLinkStats64,
)
from tuxnet.core.ring import Ringparam, RxRing, TxRing, ethtool_check_ringparam, ethtool_error
from tuxnet.core.rss import toeplitz_hash
from tuxnet.drivers.simnic_tso import (
    GroHwBuf,
    frame_bytes,
    gro_hw_skb,
    split_train,
    train_frame,
    train_run,
    tso_frames,
)
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import MAX_SKB_FRAGS, NET_SKB_PAD, SkBuff, build_skb
from tuxnet.skb.tstamp import skb_tx_timestamp

if TYPE_CHECKING:
    from tuxnet.loop.base import TimerHandle
    from tuxnet.sim.link import Link
    from tuxnet.sim.topology import DuplexLink, Topology

__all__ = ["HwFrame", "SimNic", "connect_simnics"]

# drivers/net/ethernet/intel/ixgbe/ixgbe.h
IXGBE_DEFAULT_RXD = 512
IXGBE_DEFAULT_TXD = 512
IXGBE_MAX_RXD = 4096
IXGBE_MAX_TXD = 4096
IXGBE_MIN_RXD = 64
IXGBE_MIN_TXD = 64
IXGBE_REQ_DESCRIPTOR_MULTIPLE = 8
DESC_NEEDED = MAX_SKB_FRAGS + 4  # ixgbe.h: room for a worst-case skb
TX_WAKE_THRESHOLD = DESC_NEEDED * 2  # ixgbe_main.c
IXGBE_MAX_JUMBO_MTU = 9710  # IXGBE_MAX_JUMBO_FRAME_SIZE 9728 - ETH_HLEN - ETH_FCS_LEN
# drivers/net/ethernet/mellanox/mlx5/core/en.h: MLX5E_PARAMS_DEFAULT_*_CQ_MODERATION_*
DEFAULT_COALESCE = Coalesce(rx_usecs=16, rx_max_frames=32, tx_usecs=16, tx_max_frames=32)
MAX_COAL_USECS = 4095  # mlx5: MLX5_MAX_CQ_PERIOD
MAX_COAL_FRAMES = 65535  # mlx5: MLX5_MAX_CQ_COUNT
_RSS_CACHE_MAX = 4096
XDP_PACKET_HEADROOM = 256  # include/linux/bpf.h
XDP_RX_BUF_SIZE = 4096  # a page per frame while an XDP program is attached
XDP_RX_FRAME_MAX = XDP_RX_BUF_SIZE - XDP_PACKET_HEADROOM - 320  # less skb_shared_info
XDP_XMIT_FLUSH = 1  # include/net/xdp.h


class HwFrame:
    """A frame dropped by the hardware before any sk_buff existed (what kfree_skb is
    given for ring-full and length drops, so the drop is counted and traced)."""

    __slots__ = ("len", "protocol")

    def __init__(self, length: int, protocol: int = 0) -> None:
        self.len = length
        self.protocol = protocol


class _Vector:
    """One queue pair's interrupt vector (ixgbe_q_vector): RX queue, TX queue, NAPI,
    IRQ line and coalescing state."""

    __slots__ = ("index", "irq", "legacy_left", "masked", "napi", "rx_timer", "rx_unsig",
                 "rxq", "tx_timer", "tx_unsig", "txq")

    def __init__(self, index: int, rxq: NetdevRxQueue, txq: NetdevQueue, napi: NapiStruct,
                 irq: IrqLine) -> None:
        self.index = index
        self.rxq = rxq
        self.txq = txq
        self.napi = napi
        self.irq = irq
        self.masked = True  # until ndo_open
        self.rx_unsig = 0
        self.tx_unsig = 0
        self.rx_timer: TimerHandle | None = None
        self.tx_timer: TimerHandle | None = None
        self.legacy_left = -1  # frames left for the running legacy interrupt


class SimNic(NetDevice):
    """A simulated multi-queue NIC (see the module doc). ``num_queues`` combined
    channels are active out of ``max_queues``."""

    driver_name = "simnic"

    def __init__(self, name: str = "eth0", *, num_queues: int = 1, max_queues: int = 16,
                 rx_ring: int = IXGBE_DEFAULT_RXD, tx_ring: int = IXGBE_DEFAULT_TXD,
                 mac: bytes | None = None, mtu: int = 1500, rx_mode: str = "napi") -> None:
        if not 1 <= num_queues <= max_queues:
            raise ValueError(f"num_queues must be in 1..{max_queues}, not {num_queues}")
        feats = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_GSO | NETIF_F_GRO | NETIF_F_RXHASH
        super().__init__(name, num_rx_queues=max_queues, num_tx_queues=max_queues,
                         real_num_rx_queues=num_queues, real_num_tx_queues=num_queues,
                         mtu=mtu, max_mtu=IXGBE_MAX_JUMBO_MTU, dev_addr=mac,
                         features=feats | NETIF_F_HIGHDMA,
                         hw_features=feats | NETIF_F_TSO | NETIF_F_GRO_HW)
        self.rx_mode = rx_mode
        self._ringparam = Ringparam(IXGBE_MAX_RXD, 0, 0, IXGBE_MAX_TXD,
                                    self._ring_size(rx_ring, IXGBE_MIN_RXD, IXGBE_MAX_RXD),
                                    0, 0, self._ring_size(tx_ring, IXGBE_MIN_TXD, IXGBE_MAX_TXD))
        self._coalesce = DEFAULT_COALESCE
        self.link: Link | None = None
        self._vectors: list[_Vector] = []
        self._tx_active = False
        self._tx_rr = 0
        # a TSO super-skb being put on the wire frame by frame: vector, skb, frames left
        self._tso_cur: tuple[_Vector, SkBuff, deque[bytes]] | None = None
        self._rss_cache: dict[bytes, int] = {}
        # hardware counters (ixgbe_hw_stats style)
        self.hw_missed = 0  # MPC: ring full
        self.hw_mprc = 0  # multicast packets received
        self.hw_length_errors = 0  # RLEC + ROC: runt or oversize
        self.hw_rx_disabled = 0  # arrived while the port was down
        self.tx_busy = 0  # ndo_start_xmit returned NETDEV_TX_BUSY
        self.tx_link_dropped = 0  # the link refused the frame
        self.tx_timeout_count = 0
        # XDP (tuxnet.xdp.hook.DevXdp while a program is attached) and the RX buffer
        # layout it needs
        self.xdp: Any = None
        self._rx_headroom = NET_SKB_PAD
        self._rx_bufsz = 0  # 0: exactly headroom + frame

    @staticmethod
    def _ring_size(n: int, lo: int, hi: int) -> int:
        """ixgbe_set_ringparam: clamp to the driver's range, align to 8."""
        n = min(max(n, lo), hi)
        m = IXGBE_REQ_DESCRIPTOR_MULTIPLE
        return min(hi, (n + m - 1) // m * m)

    # -- setup --------------------------------------------------------------------------
    def ndo_init(self) -> None:
        """ixgbe_probe's tail: rings, vectors, NAPI instances."""
        self._build_vectors()

    def _build_vectors(self) -> None:
        rp = self._ringparam
        ncpus = self.host.ncpus
        self._vectors = []
        for i in range(self.real_num_rx_queues):
            rxq = self.rx_queues[i]
            txq = self.tx_queues[i]
            rxq.ring = RxRing(rp.rx_pending, IXGBE_MAX_RXD)
            txq.ring = TxRing(rp.tx_pending, IXGBE_MAX_TXD)
            napi = rxq.napi
            if napi is None:
                napi = rxq.napi = netif_napi_add(self, self._poll, name=f"{self.name}-{i}")
            irq = rxq.irq
            if irq is None:
                irq = rxq.irq = request_irq(self, f"{self.name}-TxRx-{i}", self._isr,
                                            cpu=i % ncpus)
            v = _Vector(i, rxq, txq, napi, irq)
            napi.data = v
            irq.data = v
            if not self.flags & IFF_UP:
                napi_disable(napi)
            self._vectors.append(v)

    def attach_link(self, link: Link) -> None:
        """Transmit on ``link`` (the wire direction leaving this NIC); carrier on."""
        self.link = link
        netif_carrier_on(self)
        if not self._tx_active:
            self._tx_next()

    def ndo_open(self) -> None:
        """ixgbe_open: enable NAPI and unmask the vectors."""
        for v in self._vectors:
            napi_enable(v.napi)
            v.masked = False

    def ndo_stop(self) -> None:
        """ixgbe_close: mask the vectors, disable NAPI, free the rings' contents."""
        for v in self._vectors:
            v.masked = True
            self._cancel_timers(v)
            napi_disable(v.napi)
        self._purge_rings()

    def _purge_rings(self) -> None:
        host = self.host
        for v in self._vectors:
            ring = v.rxq.ring
            assert ring is not None
            while ring.desc:
                _, n, _, _ = ring.desc.popleft()
                host.kfree_skb(HwFrame(n), SkbDropReason.QUEUE_PURGE, "ixgbe_clean_rx_ring")
            tx = v.txq.ring
            assert tx is not None
            while tx.pending:
                host.kfree_skb(tx.pending.popleft(), SkbDropReason.QUEUE_PURGE,
                               "ixgbe_clean_tx_ring")
            self._clean_tx(v, None, wake=False)

    # -- receive ----------------------------------------------------------------------------
    def receive_frame(self, frame: bytes | bytearray, link: Link | None = None) -> None:
        """FrameReceiver: a frame arrives from the wire."""
        host = self.host
        n = len(frame)
        if not self.flags & IFF_UP:
            self.hw_rx_disabled += 1
            host.kfree_skb(HwFrame(n), SkbDropReason.DEV_READY, "simnic_rx")
            return
        if n < 14 or n > self.mtu + 18:  # runt (RLEC) or oversize (ROC): ETH_HLEN + VLAN
            self.hw_length_errors += 1
            reason = SkbDropReason.PKT_TOO_SMALL if n < 14 else SkbDropReason.PKT_TOO_BIG
            host.kfree_skb(HwFrame(n), reason, "simnic_rx")
            return
        if frame[0] & 1 and frame[:6] != b"\xff\xff\xff\xff\xff\xff":
            self.hw_mprc += 1
        self._rx_post(frame, n, None)

    def receive_train(self, frame: bytes, link: Link | None, gso_size: int, nframes: int,
                      wire_bytes: int, first: int = 0, count: int = 0) -> None:
        """Frames ``first`` .. ``first + count - 1`` of a TSO train of ``nframes``
        (all of them by default) arrived back to back and the hardware GRO engine
        (rx-gro-hw) merged them into one buffer (drivers/simnic_tso)."""
        segs = count or nframes
        if segs != nframes:
            frame = train_run(frame, gso_size, first, segs, nframes)
        n = len(frame)
        if not self.flags & IFF_UP:
            self.hw_rx_disabled += segs
            self.host.kfree_skb(HwFrame(n), SkbDropReason.DEV_READY, "simnic_rx")
            return
        if not self.features & NETIF_F_GRO_HW or self.xdp is not None:
            for f in split_train(frame, gso_size):  # the engine went off in flight
                self.receive_frame(f, link)
            return
        buf = GroHwBuf(self._rx_headroom + n)
        buf.gso_size = gso_size
        buf.gso_segs = segs
        buf.wire_bytes = wire_bytes
        self._rx_post(frame, n, buf)

    def _rx_post(self, frame: bytes | bytearray, n: int, buf: bytearray | None) -> None:
        """DMA a frame into a descriptor of the RX ring RSS picks (``buf``: the
        buffer, None for a fresh one); signal the interrupt logic."""
        host = self.host
        qi = 0
        h = 0
        l4 = False
        nq = self.real_num_rx_queues
        if nq > 1 or self.features & NETIF_F_RXHASH:
            h, l4 = self._rss_hash(frame)
            if nq > 1 and h:
                indir = self.rss_indir
                qi = indir[h % len(indir)]
        v = self._vectors[qi]
        rxq = v.rxq
        ring = rxq.ring
        assert ring is not None
        desc = ring.desc
        if len(desc) >= ring.count:
            self.hw_missed += 1
            rxq.drops += 1
            host.kfree_skb(HwFrame(n, _proto(frame)), SkbDropReason.FULL_RING, "simnic_rx")
            return
        hr = self._rx_headroom
        if buf is None:
            buf = bytearray(self._rx_bufsz or hr + n)  # the DMA buffer, headroom reserved
        buf[hr:hr + n] = frame
        desc.append((buf, n, h, l4))
        v.rx_unsig += 1
        if not v.masked:
            self._irq_check(v)

    def _rss_hash(self, frame: bytes | bytearray) -> tuple[int, bool]:
        """The NIC's Toeplitz hash over IPv4 src, dst (+ TCP/UDP ports unless a
        fragment); 0 for other frames."""
        if len(frame) < 34 or frame[12] != 0x08 or frame[13] != 0x00:
            return 0, False
        ihl = (frame[14] & 0x0F) * 4
        frag = ((frame[20] << 8) | frame[21]) & 0x3FFF
        if frame[23] in (6, 17) and not frag and len(frame) >= 18 + ihl:
            # addresses then ports: contiguous without IP options
            key = (bytes(frame[26:38]) if ihl == 20 else
                   bytes(frame[26:34]) + bytes(frame[14 + ihl:18 + ihl]))
            l4 = True
        else:
            key = bytes(frame[26:34])
            l4 = False
        cache = self._rss_cache
        h = cache.get(key)
        if h is None:
            h = toeplitz_hash(self.rss_key, key)
            if len(cache) >= _RSS_CACHE_MAX:
                cache.clear()
            cache[key] = h
        return h, l4

    def _rx_one(self, v: _Vector) -> SkBuff:
        """Take the next RX descriptor and build its skb (ixgbe_clean_rx_irq body)."""
        ring = v.rxq.ring
        assert ring is not None
        buf, n, h, l4 = ring.desc.popleft()
        skb = build_skb(buf, self.skb_counters)
        skb.reserve(self._rx_headroom)
        skb.put(n)
        rxq = v.rxq
        rxq.rx_packets += 1
        rxq.rx_bytes += n
        if h:
            skb.hash = h
            skb.l4_hash = l4
        skb.queue_mapping = v.index + 1  # skb_record_rx_queue
        skb.protocol = eth_type_trans(skb, self)
        if type(buf) is GroHwBuf:
            gro_hw_skb(skb, buf)
            rxq.rx_packets += buf.gso_segs - 1
            rxq.rx_bytes += buf.wire_bytes - n
        return skb

    def _poll(self, napi: NapiStruct, budget: int) -> int:
        """ixgbe_poll: clean TX, receive up to ``budget`` frames, complete when done."""
        v: _Vector = napi.data
        cpu = _cpu._running  # current_cpu()
        costs = self.core.costs
        self._clean_tx(v, cpu)
        ring = v.rxq.ring
        assert ring is not None
        desc = ring.desc
        work = 0
        per_pkt = costs.driver_rx_ns + costs.skb_alloc_ns
        napi_id = napi.napi_id
        xdp = self.xdp
        if xdp is not None:  # the XDP hook: tuxnet.xdp.hook.DevXdp.poll
            work = xdp.poll(v.rxq, napi, budget, cpu)
        while work < budget and desc:
            if cpu is not None:
                cpu._acc += per_pkt
            skb = self._rx_one(v)
            skb.napi_id = napi_id  # skb_mark_napi_id
            napi_gro_receive(napi, skb)
            work += 1
        if work < budget and napi_complete_done(napi, work):
            self._irq_enable(v)
        return work

    # -- XDP (ndo_bpf, ndo_xdp_xmit, ndo_xsk_wakeup) -----------------------------------------
    def ndo_bpf(self, state: Any) -> None:
        """ndo_bpf(XDP_SETUP_PROG) -> ixgbe_xdp_setup: install the XDP state (None:
        detach). Going from no program to one (or back) changes the RX buffer layout
        (a page per frame, XDP_PACKET_HEADROOM), so the rings are reset."""
        need_reset = (state is None) != (self.xdp is None)
        self.xdp = state
        if state is not None:
            self._rx_headroom, self._rx_bufsz = XDP_PACKET_HEADROOM, XDP_RX_BUF_SIZE
        else:
            self._rx_headroom, self._rx_bufsz = NET_SKB_PAD, 0
        if need_reset and self._vectors:
            self._reset_rings()

    def ndo_change_mtu(self, mtu: int) -> None:
        """ixgbe_change_mtu: with XDP a frame must still fit its page (EINVAL)."""
        if self.xdp is not None and mtu + 18 > XDP_RX_FRAME_MAX:
            raise ethtool_error(errno.EINVAL, f"MTU {mtu} is not supported with XDP")
        self.mtu = mtu

    def ndo_xdp_xmit(self, frames: Sequence[Any], flags: int = 0) -> int:
        """ixgbe_xdp_xmit: XDP frames (XDP_TX, redirects) on the TX ring of this CPU's
        queue (smp_processor_id() % queues); XDP_XMIT_FLUSH starts the NIC. Returns how
        many were taken (the caller frees the rest), -ENETDOWN when down."""
        if not self.flags & IFF_UP:
            return -errno.ENETDOWN
        cpu = current_cpu()
        index = cpu.index if cpu is not None and cpu.host is self.host else self.host.current_cpu
        return self.xdp_xmit_queue(index % len(self._vectors), frames, flags)

    def xdp_xmit_queue(self, qi: int, frames: Sequence[Any], flags: int = 0) -> int:
        """Frames on queue ``qi``'s TX ring while descriptors are free."""
        tx = self._vectors[qi].txq.ring
        assert tx is not None
        pending: deque[Any] = tx.pending
        n = 0
        for f in frames:
            if tx.unused() < 1:
                break
            pending.append(f)
            n += 1
        cpu = current_cpu()
        if cpu is not None and n:
            cpu._acc += n * self.core.costs.driver_tx_ns
        if flags & XDP_XMIT_FLUSH and not self._tx_active:
            self._tx_next()
        return n

    def ndo_xsk_wakeup(self, qi: int, flags: int = 0) -> int:
        """ixgbe_xsk_wakeup: unless NAPI is already scheduled, trigger the queue's
        interrupt (EICS) so its poll transmits the AF_XDP TX ring; -ENETDOWN without an
        XDP program (the zero-copy rings live in its poll)."""
        if not self.flags & IFF_UP or self.xdp is None:
            return -errno.ENETDOWN
        if not 0 <= qi < len(self._vectors):
            return -errno.EINVAL
        v = self._vectors[qi]
        if not v.masked:
            self._fire(v)
        return 0

    # -- interrupts ---------------------------------------------------------------------------
    def _isr(self, line: IrqLine, cpu: Cpu) -> bool:
        """The vector's hard-IRQ handler (ixgbe_msix_clean_rings, or a pre-NAPI driver's
        receive interrupt in legacy mode)."""
        v: _Vector = line.data
        if self._rx_mode == "napi":
            cpu._acc += cpu.costs.irq_handler_ns
            v.masked = True  # EIAM auto-mask
            self._cancel_timers(v)
            v.rx_unsig = v.tx_unsig = 0
            napi_schedule(v.napi, cpu)
            return False
        return self._isr_legacy(v, cpu)

    def _isr_legacy(self, v: _Vector, cpu: Cpu) -> bool:
        """Pre-NAPI receive interrupt: the frames present at entry, one per chunk, each
        allocated and passed to netif_rx; TX completions cleaned first."""
        costs = cpu.costs
        ring = v.rxq.ring
        assert ring is not None
        if v.legacy_left < 0:
            cpu._acc += costs.irq_handler_ns
            self._clean_tx(v, cpu)
            v.legacy_left = len(ring.desc)
            v.rx_unsig = 0
        if v.legacy_left > 0 and ring.desc:
            cpu._acc += costs.driver_rx_ns + costs.skb_alloc_ns + costs.netif_rx_ns
            skb = self._rx_one(v)
            netif_rx(skb, cpu.index)
            v.legacy_left -= 1
            if v.legacy_left > 0 and ring.desc:
                return True
        v.legacy_left = -1
        return False

    def _irq_check(self, v: _Vector) -> None:
        """Interrupt moderation: fire on the frame counts, else arm the timers."""
        if v.irq.pending:  # already asserted, not yet taken
            return
        c = self._coalesce
        if (c.rx_max_frames and v.rx_unsig >= c.rx_max_frames) or (
                c.tx_max_frames and v.tx_unsig >= c.tx_max_frames):
            self._fire(v)
            return
        loop = self.host.loop
        if v.rx_unsig and v.rx_timer is None and c.rx_usecs:
            v.rx_timer = loop.call_later(c.rx_usecs * 1000, self._itr_expired, v)
        if v.tx_unsig and v.tx_timer is None and c.tx_usecs:
            v.tx_timer = loop.call_later(c.tx_usecs * 1000, self._itr_expired, v)

    def _itr_expired(self, v: _Vector) -> None:
        """The moderation timer (ITR / CQ period) ran out: interrupt."""
        v.rx_timer = v.tx_timer = None
        if not v.masked and (v.rx_unsig or v.tx_unsig):
            self._fire(v)

    def _fire(self, v: _Vector) -> None:
        """Assert the vector's MSI-X interrupt on its CPU."""
        self._cancel_timers(v)
        v.rx_unsig = v.tx_unsig = 0
        self.core.cpus[v.irq.cpu].raise_irq(v.irq)

    @staticmethod
    def _cancel_timers(v: _Vector) -> None:
        if v.rx_timer is not None:
            v.rx_timer.cancel()
            v.rx_timer = None
        if v.tx_timer is not None:
            v.tx_timer.cancel()
            v.tx_timer = None

    def _irq_enable(self, v: _Vector) -> None:
        """ixgbe_irq_enable_queues: unmask; frames that came meanwhile count as
        unsignalled (the cause bit is latched), so they interrupt as usual."""
        if not self.flags & IFF_UP:
            return
        v.masked = False
        ring = v.rxq.ring
        tx = v.txq.ring
        assert ring is not None and tx is not None
        v.rx_unsig = len(ring.desc)
        v.tx_unsig = len(tx.done)
        if v.rx_unsig or v.tx_unsig:
            self._irq_check(v)

    # -- transmit ---------------------------------------------------------------------------
    def ndo_start_xmit(self, skb: SkBuff, txq: NetdevQueue) -> int:
        """ixgbe_xmit_frame_ring: a descriptor per packet; stop the queue when fewer
        than DESC_NEEDED stay free."""
        ring = txq.ring
        if ring is None or txq.index >= len(self._vectors):
            raise RuntimeError(f"{self.name}: tx queue {txq.index} is not active")
        if ring.unused() < 1:
            netif_tx_stop_queue(txq)
            self.tx_busy += 1
            return NETDEV_TX_BUSY
        cpu = _cpu._running  # current_cpu()
        if cpu is not None:
            cpu._acc += self.core.costs.driver_tx_ns
        skb_tx_timestamp(skb)
        ring.pending.append(skb)
        if ring.unused() < DESC_NEEDED:
            netif_tx_stop_queue(txq)
        if not self._tx_active:
            self._tx_next()
        return NETDEV_TX_OK

    def _tx_next(self) -> None:
        """The NIC's transmit engine: the next pending frame (queues round robin) goes on
        the wire when it is idle; its descriptor completes when serialisation ends."""
        link = self.link
        vectors = self._vectors
        nq = len(vectors)
        cur = self._tso_cur
        i = 0
        tx = None
        if cur is None:
            for k in range(nq):
                i = (self._tx_rr + k) % nq
                tx = vectors[i].txq.ring
                if tx is not None and tx.pending:
                    break
            else:
                self._tx_active = False
                return
        if link is None:
            self._tx_active = False
            return  # no cable: frames wait in the ring
        loop = self.host.loop
        self._tx_active = True
        now = loop.now_ns()
        if link.busy_until_ns > now or link.backlog_packets:  # someone else is sending
            loop.call_at(max(link.busy_until_ns, now), self._tx_next)
            return
        if cur is None:
            assert tx is not None
            self._tx_rr = i + 1
            skb = tx.pending.popleft()
            if type(skb) is not SkBuff or not skb.gso_size:  # or an xdp_frame
                ok = link.send(frame_bytes(skb))
                end = link.busy_until_ns if ok else now
                loop.call_at(end if end > now else now, self._tx_done, vectors[i], skb, ok)
                return
            cur = self._tso_start(vectors[i], skb, link, now)
            if cur is None:
                return
        v, skb, frames = cur
        if not link.send(frames.popleft()):
            self.tx_link_dropped += 1  # that frame only; the descriptor still completes
        end = link.busy_until_ns
        end = end if end > now else now
        if frames:
            loop.call_at(end, self._tx_next)
        else:
            self._tso_cur = None
            loop.call_at(end, self._tx_done, v, skb, True)

    def _tso_start(self, v: _Vector, skb: SkBuff, link: Link,
                   now: int) -> tuple[_Vector, SkBuff, deque[bytes]] | None:
        """A TSO super-skb reaches the transmit engine: the whole train at once when
        the path allows (drivers/simnic_tso), else its frames one by one (returned)."""
        peer = link.receiver
        if (type(peer) is SimNic and peer.features & NETIF_F_GRO_HW and peer.xdp is None
                and link.train_ready()):
            train = train_frame(skb)
            if train is not None:
                frame, nframes, frame_len, wire = train
                end = link.send_train(frame, nframes, frame_len, wire, skb.gso_size)
                self.host.loop.call_at(end if end > now else now, self._tx_done, v, skb, True)
                return None
        frames = tso_frames(skb)
        if not frames:  # headers the engine cannot cut
            self.host.kfree_skb(skb, SkbDropReason.SKB_GSO_SEG, "simnic_xmit")
            self.host.loop.call_at(now, self._tx_next)
            return None
        cur = self._tso_cur = (v, skb, deque(frames))
        return cur

    def _tx_done(self, v: _Vector, skb: SkBuff, ok: bool) -> None:
        """The frame's last bit left: the descriptor is done (DD), count it toward the
        TX interrupt; send the next frame."""
        tx = v.txq.ring
        assert tx is not None
        if ok:
            tx.done.append(skb)
            v.tx_unsig += 1
            if not v.masked:
                self._irq_check(v)
        else:
            self.tx_link_dropped += 1
            self.host.kfree_skb(skb, SkbDropReason.FULL_RING, "simnic_xmit")
        self._tx_next()

    def _clean_tx(self, v: _Vector, cpu: Cpu | None, *, wake: bool = True) -> int:
        """ixgbe_clean_tx_irq: free completed descriptors, count them, wake the queue."""
        txq = v.txq
        tx = txq.ring
        assert tx is not None
        done = tx.done
        if not done:
            return 0
        n = 0
        consume = self.host.consume_skb
        while done:
            skb = done.popleft()
            txq.tx_bytes += skb.len
            if type(skb) is SkBuff:
                txq.tx_packets += skb.gso_segs or 1  # ixgbe: gso_segs frames per TSO skb
                consume(skb, "napi_consume_skb")
            else:  # an xdp_frame: xdp_return_frame, no skb tracepoint
                txq.tx_packets += 1
                skb.free()
            n += 1
        if cpu is not None:
            cpu._acc += n * cpu.costs.tx_clean_ns
        if wake and txq.stopped and tx.unused() >= TX_WAKE_THRESHOLD and self.flags & IFF_UP:
            netif_tx_wake_queue(txq)
        return n

    # -- statistics -------------------------------------------------------------------------
    def ndo_get_stats64(self) -> RtnlLinkStats64:
        """ixgbe_get_stats64: ring counters summed, plus the hardware counters."""
        s = self.stats.copy()
        s.rx_packets += sum(q.rx_packets for q in self.rx_queues)
        s.rx_bytes += sum(q.rx_bytes for q in self.rx_queues)
        s.tx_packets += sum(q.tx_packets for q in self.tx_queues)
        s.tx_bytes += sum(q.tx_bytes for q in self.tx_queues)
        s.multicast += self.hw_mprc
        s.rx_missed_errors += self.hw_missed
        s.rx_length_errors += self.hw_length_errors
        s.rx_errors += self.hw_length_errors  # ixgbe: crcerrs + rlec
        s.rx_dropped += self.hw_rx_disabled
        s.tx_dropped += self.tx_link_dropped
        return s

    def get_ethtool_stats(self) -> list[tuple[str, int]]:
        """ixgbe_get_strings/ixgbe_get_ethtool_stats: netdev and hardware counters,
        then tx_queue_N_{packets,bytes} and rx_queue_N_{packets,bytes} for every
        allocated queue."""
        s = dev_get_stats(self)
        out: list[tuple[str, int]] = [
            ("rx_packets", s.rx_packets), ("tx_packets", s.tx_packets),
            ("rx_bytes", s.rx_bytes), ("tx_bytes", s.tx_bytes),
            ("rx_errors", s.rx_errors), ("tx_errors", s.tx_errors),
            ("rx_dropped", s.rx_dropped), ("tx_dropped", s.tx_dropped),
            ("multicast", s.multicast), ("collisions", s.collisions),
            ("rx_over_errors", s.rx_over_errors), ("rx_crc_errors", s.rx_crc_errors),
            ("rx_frame_errors", s.rx_frame_errors), ("rx_fifo_errors", s.rx_fifo_errors),
            ("rx_missed_errors", s.rx_missed_errors),
            ("tx_aborted_errors", s.tx_aborted_errors),
            ("tx_carrier_errors", s.tx_carrier_errors), ("tx_fifo_errors", s.tx_fifo_errors),
            ("tx_heartbeat_errors", s.tx_heartbeat_errors),
            ("tx_timeout_count", self.tx_timeout_count),
            ("tx_restart_queue", sum(q.tx_restart for q in self.tx_queues)),
            ("rx_length_errors", s.rx_length_errors), ("tx_busy", self.tx_busy),
        ]
        for q in self.tx_queues:
            out.append((f"tx_queue_{q.index}_packets", q.tx_packets))
            out.append((f"tx_queue_{q.index}_bytes", q.tx_bytes))
        for r in self.rx_queues:
            out.append((f"rx_queue_{r.index}_packets", r.rx_packets))
            out.append((f"rx_queue_{r.index}_bytes", r.rx_bytes))
        xdp = self.priv.get("xdp")
        if xdp is not None:  # once XDP was attached: its counters (tuxnet.xdp.hook)
            out.extend(xdp.ethtool_stats())
        return out

    # -- ethtool settings -------------------------------------------------------------------
    def get_ringparam(self) -> Ringparam:
        """ixgbe_get_ringparam."""
        return self._ringparam

    def set_ringparam(self, rx: int | None = None, rx_mini: int | None = None,
                      rx_jumbo: int | None = None, tx: int | None = None) -> Ringparam:
        """ixgbe_set_ringparam: above the maximum is EINVAL (ethtool core); mini/jumbo
        rings do not exist (EINVAL); below the minimum is raised to it; sizes are
        aligned to 8. A change resets the rings (their contents are dropped)."""
        cur = self._ringparam
        new = ethtool_check_ringparam(cur, rx, rx_mini, rx_jumbo, tx)
        if new.rx_mini_pending or new.rx_jumbo_pending:
            raise ethtool_error(errno.EINVAL, "rx-mini and rx-jumbo rings are not supported")
        new = replace(new, rx_pending=self._ring_size(new.rx_pending, IXGBE_MIN_RXD, IXGBE_MAX_RXD),
                      tx_pending=self._ring_size(new.tx_pending, IXGBE_MIN_TXD, IXGBE_MAX_TXD))
        if new == cur:
            return cur
        self._ringparam = new
        self._reset_rings()
        return new

    def _reset_rings(self) -> None:
        was_up = bool(self.flags & IFF_UP)
        if was_up:
            self.ndo_stop()
        self._build_vectors()
        if was_up:
            self.ndo_open()

    def get_coalesce(self) -> Coalesce:
        """mlx5e_get_coalesce-like: the static moderation parameters."""
        return self._coalesce

    def set_coalesce(self, **params: int | bool) -> Coalesce:
        """ethtool -C: names as Coalesce fields. Adaptive moderation is not supported
        (EOPNOTSUPP); values above 4095 µs / 65535 frames are ERANGE; rx (or tx) usecs
        and frames both 0 is EINVAL (no interrupt would ever fire)."""
        known = {f.name for f in fields(Coalesce)}
        for key, value in params.items():
            if key not in known:
                raise ethtool_error(errno.EOPNOTSUPP, f"coalescing parameter {key}")
            if key.startswith("use_adaptive"):
                if value:
                    raise ethtool_error(errno.EOPNOTSUPP, "adaptive moderation")
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ethtool_error(errno.EINVAL, f"{key} {value!r}")
            limit = MAX_COAL_USECS if key.endswith("usecs") else MAX_COAL_FRAMES
            if value > limit:
                raise ethtool_error(errno.ERANGE, f"{key} {value} > {limit}")
        new = replace(self._coalesce, **params)  # type: ignore[arg-type]
        if not new.rx_usecs and not new.rx_max_frames:
            raise ethtool_error(errno.EINVAL, "rx-usecs and rx-frames both 0")
        if not new.tx_usecs and not new.tx_max_frames:
            raise ethtool_error(errno.EINVAL, "tx-usecs and tx-frames both 0")
        self._coalesce = new
        return new

    def get_channels(self) -> Channels:
        """ixgbe_get_channels: combined channels only."""
        return Channels(0, 0, 0, self.num_rx_queues, 0, 0, 0, self.real_num_rx_queues)

    def set_channels(self, rx: int | None = None, tx: int | None = None,
                     combined: int | None = None) -> Channels:
        """ixgbe_set_channels: only combined counts, 1..max (EINVAL otherwise); the
        default RSS table follows unless one was configured."""
        if rx or tx:
            raise ethtool_error(errno.EINVAL, "only combined channels are supported")
        if combined is None:
            return self.get_channels()
        if not 1 <= combined <= self.num_rx_queues:
            raise ethtool_error(errno.EINVAL,
                                f"combined {combined} not in 1..{self.num_rx_queues}")
        if combined != self.real_num_rx_queues:
            was_up = bool(self.flags & IFF_UP)
            if was_up:
                self.ndo_stop()
            self.real_num_rx_queues = self.real_num_tx_queues = combined
            if not self.rss_indir_user:
                set_rss_indir_default(self)
            self._build_vectors()
            if was_up:
                self.ndo_open()
        return self.get_channels()

    def set_rss_indir(self, table: Sequence[int]) -> None:
        """ethtool -X: a user indirection table (entries < real_num_rx_queues)."""
        if not table or any(not 0 <= q < self.real_num_rx_queues for q in table):
            raise ethtool_error(errno.EINVAL, "indirection table entry out of range")
        self.rss_indir = list(table)
        self.rss_indir_user = True

    def vector_state(self, queue: int = 0) -> dict[str, Any]:
        """Debug view of one queue's vector: masked, unsignalled counts, ring fill."""
        v = self._vectors[queue]
        ring = v.rxq.ring
        tx = v.txq.ring
        assert ring is not None and tx is not None
        return {"masked": v.masked, "rx_unsig": v.rx_unsig, "tx_unsig": v.tx_unsig,
                "rx_ring": len(ring.desc), "tx_pending": len(tx.pending),
                "tx_done": len(tx.done), "irq": v.irq.irq, "irq_count": v.irq.count}


def _proto(frame: bytes | bytearray) -> int:
    return (frame[12] << 8) | frame[13] if len(frame) >= 14 else 0


def connect_simnics(topo: Topology, a: SimNic, b: SimNic, *, name: str | None = None,
                    **params: Any) -> DuplexLink:
    """A duplex link between two NICs: each receives from and transmits on its side."""
    wire = topo.link(a, b, name=name, **params)
    a.attach_link(wire.link_from(a))
    b.attach_link(wire.link_from(b))
    return wire
