"""The device core's packet paths (net/core/dev.c, net/ethernet/eth.c).

Receive::

    driver poll ─► napi_gro_receive ─► (napi.gro) ─► netif_receive_skb
      ─► get_rps_cpu hook (RPS/RFS; -1 = stay) ─► enqueue_to_backlog(other CPU)
      ─► __netif_receive_skb_core: ptype_all taps, rx_handler, ptype_base[protocol]
         (none: rx_dropped + kfree_skb UNHANDLED_PROTO)
    legacy driver IRQ / loopback / veth ─► netif_rx ─► enqueue_to_backlog
      (netdev_max_backlog: softnet dropped + rx_dropped + CPU_BACKLOG)
      ─► process_backlog (the CPU's backlog NAPI) ─► __netif_receive_skb_core

Transmit::

    dev_queue_xmit ─► netdev_pick_tx ─► qdisc enqueue ─► qdisc_run ─► sch_direct_xmit
      ─► (GSO/checksum: core.validate_xmit) ─► dev_hard_start_xmit ─► taps (outgoing)
      ─► ndo_start_xmit; a stopped TX queue (ring full) leaves packets in the qdisc
      until netif_tx_wake_queue reschedules it (NET_TX softirq, net_tx_action).
    An empty, idle qdisc that may be bypassed (TCQ_F_CAN_BYPASS: pfifo_fast, pfifo
      with a limit, the built-in FIFO) is skipped: __dev_xmit_skb counts the packet in
      its Sent statistics (qdisc_bstats_update) and calls sch_direct_xmit at once.
    noqueue devices (lo, veth: IFF_NO_QUEUE) transmit directly.

Protocol handlers and taps are registered on the host's NetCore (see
``tuxnet.core.netcore.register_protocol_handler``); a handler ``fn(skb, dev)`` owns the
skb it gets and must queue, consume or kfree it. Taps get a reference of their own
(skb.users was raised): they must not modify the skb and release it with
``host.consume_skb``.
"""

from __future__ import annotations

import errno
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tuxnet.core import cpu as _cpu
from tuxnet.core.cpu import NET_TX_SOFTIRQ, Cpu, IrqLine
from tuxnet.core.napi import NAPI_STATE_SCHED, NapiStruct, _napi_schedule, napi_schedule
from tuxnet.core.netdevice import (
    IFF_LOWER_UP,
    IFF_NO_QUEUE,
    IFF_RUNNING,
    IFF_UP,
    NetDevice,
    NetdevQueue,
    RtnlLinkStats64,
)
from tuxnet.core.sched.fifo import PFifo
from tuxnet.core.sched.generic import PfifoFast
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import (
    CHECKSUM_PARTIAL,
    PACKET_BROADCAST,
    PACKET_HOST,
    PACKET_MULTICAST,
    PACKET_OTHERHOST,
    PACKET_OUTGOING,
    SkBuff,
)
from tuxnet.skb.tstamp import SCM_TSTAMP_SCHED, SKBTX_SCHED_TSTAMP, skb_tstamp_tx
from tuxnet.skb.zcopy import skb_orphan_frags_rx

if TYPE_CHECKING:
    from tuxnet.core.netcore import NetCore
    from tuxnet.core.rps import RpsDevFlow

__all__ = [
    "ETH_P_802_2",
    "ETH_P_802_3",
    "ETH_P_ALL",
    "NETDEV_TX_BUSY",
    "NETDEV_TX_OK",
    "NET_RX_DROP",
    "NET_RX_SUCCESS",
    "NET_XMIT_CN",
    "NET_XMIT_DROP",
    "NET_XMIT_SUCCESS",
    "RX_HANDLER_ANOTHER",
    "RX_HANDLER_CONSUMED",
    "RX_HANDLER_EXACT",
    "RX_HANDLER_PASS",
    "PacketType",
    "dev_close",
    "dev_get_stats",
    "dev_hard_start_xmit",
    "dev_open",
    "dev_queue_xmit",
    "enqueue_to_backlog",
    "eth_type_trans",
    "napi_gro_receive",
    "net_tx_action",
    "netdev_pick_tx",
    "netif_carrier_off",
    "netif_carrier_on",
    "netif_receive_skb",
    "netif_receive_skb_core",
    "netif_rx",
    "netif_schedule_queue",
    "netif_tx_start_queue",
    "netif_tx_stop_queue",
    "netif_tx_wake_queue",
    "process_backlog",
    "qdisc_drop_fn",
    "qdisc_run",
    "rps_trigger_softirq",
]

# include/uapi/linux/if_ether.h
ETH_P_802_3 = 0x0001
ETH_P_ALL = 0x0003
ETH_P_802_2 = 0x0004
ETH_P_802_3_MIN = 0x0600
ETH_HLEN = 14
# include/linux/netdevice.h
NET_RX_SUCCESS = 0
NET_RX_DROP = 1
NETDEV_TX_OK = 0x00
NETDEV_TX_BUSY = 0x10
NET_XMIT_SUCCESS = 0x00
NET_XMIT_DROP = 0x01
NET_XMIT_CN = 0x02
NET_XMIT_MASK = 0x0F
# include/linux/netdevice.h: enum rx_handler_result
RX_HANDLER_CONSUMED = 0
RX_HANDLER_ANOTHER = 1
RX_HANDLER_EXACT = 2
RX_HANDLER_PASS = 3

_ETYPE = struct.Struct("!H").unpack_from
_BCAST = b"\xff" * 6


class PacketType:
    """struct packet_type: ``func(skb, dev)`` receives frames of ``type`` (ETH_P_ALL:
    every frame, a tap), from every device or only ``dev``."""

    __slots__ = ("dev", "func", "name", "type")

    def __init__(self, type: int, func: Callable[[SkBuff, NetDevice], object], *,
                 dev: NetDevice | None = None, name: str = "") -> None:
        self.type = type
        self.func = func
        self.dev = dev
        self.name = name or getattr(func, "__name__", "handler")

    def __repr__(self) -> str:
        where = f" dev={self.dev.name}" if self.dev is not None else ""
        return f"<PacketType {self.type:#06x} {self.name}{where}>"


# --------------------------------------------------------------------------- receive

def eth_type_trans(skb: SkBuff, dev: NetDevice) -> int:
    """eth_type_trans (net/ethernet/eth.c): set skb.dev, mac_header and pkt_type from
    the destination MAC (HOST, BROADCAST, MULTICAST, OTHERHOST), pull the Ethernet
    header and return the protocol (802.3 frames: ETH_P_802_3 raw or ETH_P_802_2)."""
    skb.dev = dev
    off = skb.data_off
    skb.mac_header = off
    head = skb.head
    if skb.len - skb.data_len < ETH_HLEN:
        skb.pull(ETH_HLEN)  # raises: a frame without a whole linear Ethernet header
    skb.data_off = off + ETH_HLEN  # skb_pull_inline
    skb.len -= ETH_HLEN
    if head[off] & 1:
        skb.pkt_type = PACKET_BROADCAST if head.startswith(_BCAST, off) else PACKET_MULTICAST
    elif head[off:off + 6] != dev.dev_addr:
        skb.pkt_type = PACKET_OTHERHOST
    else:
        skb.pkt_type = PACKET_HOST
    proto: int = _ETYPE(head, off + 12)[0]
    if proto >= ETH_P_802_3_MIN:
        return proto
    if skb.len >= 2 and head[off + 14] == 0xFF and head[off + 15] == 0xFF:
        return ETH_P_802_3  # IPX over raw 802.3
    return ETH_P_802_2


def napi_gro_receive(napi: NapiStruct, skb: SkBuff) -> None:
    """napi_gro_receive: hand to GRO (``napi.gro``) or straight to netif_receive_skb."""
    gro = napi.gro
    if gro is None:
        netif_receive_skb(skb)
    else:
        cpu = _cpu._running  # current_cpu()
        if cpu is not None:
            cpu._acc += skb.dev.core.costs.gro_receive_ns
        gro.gro_receive(skb)


def netif_receive_skb(skb: SkBuff) -> int:
    """netif_receive_skb: RPS/RFS steering through ``core.get_rps_cpu`` (a CPU index, or
    -1 to process here; the chosen rps_dev_flow, if any, in ``core.rps_rflow``), then
    __netif_receive_skb_core."""
    core = skb.dev.core
    rps = core.get_rps_cpu
    if rps is not None:
        cpu = rps(skb.dev, skb)
        if cpu >= 0:
            this = _cpu._running  # current_cpu()
            if this is not None:
                this._acc += core.costs.netif_rx_ns  # enqueue_to_backlog
            return enqueue_to_backlog(skb, cpu, rps=True, rflow=core.rps_rflow)
    return netif_receive_skb_core(skb)


def _this_sd_cpu(core: NetCore) -> Cpu | None:
    """The running CPU if it belongs to ``core``'s host, else None."""
    cpu = _cpu._running  # current_cpu()
    if cpu is not None and cpu.host is core.host:
        return cpu
    return None


def netif_receive_skb_core(skb: SkBuff) -> int:
    """__netif_receive_skb_core: count it (softnet processed), deliver to the taps, the
    device's rx_handler and the protocol handler for ``skb.protocol``."""
    dev = skb.dev
    core = dev.core
    cpu = _cpu._running  # current_cpu()
    if cpu is not None and cpu.host is core.host:
        cpu._acc += core.costs.netif_receive_skb_ns
        cpu.sd.processed += 1
    else:
        core.cpus[core.host.current_cpu].sd.processed += 1
    tp = core.tp_netif_receive_skb
    if tp.active:
        tp.emit(name=dev.name, skbaddr=id(skb), len=skb.len)
    if not skb.tstamp:
        skb.tstamp = core.loop.now_ns()
    skb.skb_iif = dev.ifindex
    skb.network_header = skb.data_off
    mh = skb.mac_header
    skb.mac_len = skb.data_off - mh if mh <= skb.data_off else 0
    deliver_exact = False
    orig_dev = dev
    while True:
        if core.ptype_all or dev.ptype_all:
            _deliver_taps(skb, dev, core.ptype_all, dev.ptype_all)
        handler = dev.rx_handler
        if handler is None:
            break
        res = handler(skb)
        if res == RX_HANDLER_CONSUMED:
            return NET_RX_SUCCESS
        if res == RX_HANDLER_ANOTHER:  # skb.dev changed (bridge, bond ...): go again
            dev = skb.dev
            continue
        if res == RX_HANDLER_EXACT:
            deliver_exact = True
        break
    if skb.shinfo.destructor_arg is not None:
        skb_orphan_frags_rx(skb)  # deliver_skb: user pages go no further than here
    ptype = skb.protocol
    base = None if deliver_exact else core.ptype_base.get(ptype)
    if dev is orig_dev and not dev.ptype_specific:
        if base is not None and len(base) == 1:  # the common case: one handler
            base[0].func(skb, orig_dev)
            return NET_RX_SUCCESS
        handlers: list[PacketType] = list(base) if base else []
    else:
        handlers = list(base) if base else []
        for d in (orig_dev, dev) if dev is not orig_dev else (orig_dev,):
            spec = d.ptype_specific.get(ptype)
            if spec:
                handlers.extend(spec)
    if not handlers:
        if not deliver_exact:
            dev.core_stats.rx_dropped += 1
        else:
            dev.core_stats.rx_nohandler += 1
        core.host.kfree_skb(skb, SkbDropReason.UNHANDLED_PROTO, "__netif_receive_skb_core")
        return NET_RX_DROP
    last = len(handlers) - 1
    for i, pt in enumerate(handlers):
        if i < last:
            skb.users += 1  # deliver_skb: every handler but the last gets a reference
        pt.func(skb, orig_dev)
    return NET_RX_SUCCESS


def _deliver_taps(skb: SkBuff, dev: NetDevice, *lists: list[Any]) -> None:
    for lst in lists:
        for pt in lst:
            if pt.dev is None or pt.dev is dev:
                skb.users += 1
                pt.func(skb, dev)


def netif_rx(skb: SkBuff, this_cpu: int | None = None) -> int:
    """netif_rx: queue ``skb`` (skb.dev set, protocol set by eth_type_trans) to a CPU's
    backlog: the RPS choice, else ``this_cpu`` (a caller on another host passes its CPU
    index), else the host's current CPU. The caller charges netif_rx_ns."""
    dev = skb.dev
    core = dev.core
    tp = core.tp_netif_rx
    if tp.active:
        tp.emit(name=dev.name, skbaddr=id(skb), len=skb.len)
    if not skb.tstamp:
        skb.tstamp = core.loop.now_ns()
    rps = core.get_rps_cpu
    if rps is not None:
        cpu = rps(dev, skb)
        if cpu >= 0:
            return enqueue_to_backlog(skb, cpu, rps=True, rflow=core.rps_rflow)
    if this_cpu is None:
        this_cpu = core.host.current_cpu
    return enqueue_to_backlog(skb, this_cpu)


def enqueue_to_backlog(skb: SkBuff, cpu_index: int, *, rps: bool = False,
                       rflow: RpsDevFlow | None = None) -> int:
    """enqueue_to_backlog: append to CPU ``cpu_index``'s input_pkt_queue (at most
    netdev_max_backlog + 1 deep, as Linux checks qlen <= max before queueing; over half
    full, the enqueuing CPU's flow limit may refuse a heavy flow) and schedule its
    backlog NAPI; else count softnet ``dropped`` and the device's rx_dropped and
    kfree_skb with CPU_BACKLOG. ``rps``: steered there by RPS/RFS: a remote CPU is
    woken by an IPI (napi_schedule_rps; received_rps counted when it lands).
    ``rflow``: the RFS flow whose last_qtail becomes this packet's queue position."""
    core = skb.dev.core
    cpu = core.cpus[cpu_index]
    sd = cpu.sd
    q = sd.input_pkt_queue
    qlen = len(q)
    max_backlog = core.netdev_max_backlog
    if qlen <= max_backlog and (qlen < max_backlog >> 1 or not _skb_flow_limit(core, skb)):
        if not qlen:
            napi = sd.backlog
            if not napi.state & NAPI_STATE_SCHED:
                this = _this_sd_cpu(core)
                if rps and cpu is not this:
                    napi.state |= NAPI_STATE_SCHED  # __test_and_set_bit, then the IPI
                    _rps_send_ipi(core, this, cpu)
                else:
                    napi_schedule(napi, cpu)
        q.append(skb)
        tail = sd.input_queue_tail + 1  # rps_input_queue_tail_incr
        sd.input_queue_tail = tail
        if rflow is not None:
            rflow.last_qtail = tail
        return NET_RX_SUCCESS
    sd.dropped += 1
    skb.dev.core_stats.rx_dropped += 1
    core.host.kfree_skb(skb, SkbDropReason.CPU_BACKLOG, "enqueue_to_backlog")
    return NET_RX_DROP


def _skb_flow_limit(core: NetCore, skb: SkBuff) -> bool:
    """skb_flow_limit past its half-full check: the table of the CPU doing the enqueue
    (this_cpu_ptr(&softnet_data)), when net.core.flow_limit_cpu_bitmap gave it one."""
    this = _this_sd_cpu(core)
    sd = this.sd if this is not None else core.cpus[core.host.current_cpu].sd
    fl = sd.flow_limit
    return fl is not None and fl.skb_flow_limit(skb)


def _rps_send_ipi(core: NetCore, sender: Cpu | None, target: Cpu) -> None:
    """napi_schedule_rps + net_rps_send_ipi: ask ``target`` to run its backlog with a
    CALL_FUNCTION_SINGLE IPI; the sender pays ``ipi_ns``. (Linux batches the IPIs of
    one net_rx_action run on rps_ipi_list and sends them at its end; tuxnet sends at
    once: the same IPIs, a few hundred ns earlier.)"""
    if sender is not None:
        sender._acc += core.costs.ipi_ns
    target.raise_irq(core.ipi_lines[target.index])


def rps_trigger_softirq(line: IrqLine, cpu: Cpu) -> bool:
    """rps_trigger_softirq: the IPI's handler on the target CPU: put its backlog on the
    poll list (____napi_schedule; irq_exit then runs NET_RX) and count received_rps."""
    sd = cpu.sd
    _napi_schedule(sd.backlog, cpu)
    sd.received_rps += 1
    return False


def process_backlog(napi: NapiStruct, quota: int) -> int:
    """process_backlog: the per-CPU backlog's NAPI poll; splices input_pkt_queue into
    process_queue and runs __netif_receive_skb_core on each, up to ``quota``."""
    sd = napi.sd
    assert sd is not None
    work = 0
    while True:
        pq = sd.process_queue
        while pq:
            netif_receive_skb_core(pq.popleft())
            sd.input_queue_head += 1  # rps_input_queue_head_incr
            work += 1
            if work >= quota:
                return work
        if not sd.input_pkt_queue:
            napi.state = 0  # backlog NAPI: no GRO, plain state reset
            return work
        # skb_queue_splice_tail_init(&sd->input_pkt_queue, &sd->process_queue)
        sd.process_queue, sd.input_pkt_queue = sd.input_pkt_queue, pq


# --------------------------------------------------------------------------- transmit

class _PfifoFallback:
    """The device core's own FIFO when tuxnet.core.sched is not present (the qdisc
    contract: enqueue/dequeue/next_time_ns/requeue/qlen/backlog), limit
    dev.tx_queue_len, tail drop with QDISC_DROP."""

    no_queue = False

    def __init__(self, dev: NetDevice) -> None:
        self.dev = dev
        self.q: deque[SkBuff] = deque()
        self.qlen = 0
        self.backlog = 0
        self.drops = 0
        self.requeues = 0

    def enqueue(self, skb: SkBuff, now_ns: int) -> int:
        if self.qlen >= max(1, self.dev.tx_queue_len):
            self.drops += 1
            self.dev.core.host.kfree_skb(skb, SkbDropReason.QDISC_DROP, "__dev_queue_xmit")
            return NET_XMIT_DROP
        self.q.append(skb)
        self.qlen += 1
        self.backlog += skb.len
        return NET_XMIT_SUCCESS

    def dequeue(self, now_ns: int) -> SkBuff | None:
        if not self.q:
            return None
        skb = self.q.popleft()
        self.qlen -= 1
        self.backlog -= skb.len
        return skb

    def requeue(self, skb: SkBuff) -> None:
        self.q.appendleft(skb)
        self.qlen += 1
        self.backlog += skb.len
        self.requeues += 1

    def next_time_ns(self, now_ns: int) -> int | None:
        return now_ns if self.q else None

    def reset(self) -> None:
        while self.q:
            self.dev.core.host.kfree_skb(self.q.popleft(), SkbDropReason.NOT_SPECIFIED,
                                         "qdisc_reset")
        self.qlen = self.backlog = 0


def qdisc_drop_fn(dev: NetDevice) -> Callable[[SkBuff, SkbDropReason], None]:
    """The ``drop`` callback to give a qdisc of ``dev``: kfree_skb with its reason."""
    host = dev.host

    def drop(skb: SkBuff, reason: SkbDropReason) -> None:
        host.kfree_skb(skb, reason, "__dev_queue_xmit")

    return drop


def _txq_qdisc(dev: NetDevice, txq: NetdevQueue) -> Any:
    """The qdisc feeding ``txq``: dev.qdisc (an mq root's child for this queue), the
    built-in FIFO when none is attached, None for noqueue."""
    q = dev.qdisc
    if q is None:
        if dev.priv_flags & IFF_NO_QUEUE:
            return None
        q = dev.priv.get("fallback_qdisc")
        if q is None:
            q = dev.priv["fallback_qdisc"] = _PfifoFallback(dev)
        return q
    if getattr(q, "no_queue", False):
        return None
    children = getattr(q, "children", None)
    if children:
        return children[txq.index] if txq.index < len(children) else children[0]
    return q


def netdev_pick_tx(dev: NetDevice, skb: SkBuff) -> int:
    """netdev_pick_tx: the socket's cached TX queue (sk_tx_queue_mapping), else the
    recorded RX queue of a forwarded packet, else the flow hash scaled to
    real_num_tx_queues (skb_tx_hash, reciprocal_scale)."""
    n = dev.real_num_tx_queues
    if n == 1:
        return 0
    sk = skb.sk
    mapping = getattr(sk, "sk_tx_queue_mapping", -1) if sk is not None else -1
    if 0 <= mapping < n:
        return int(mapping)
    qm = skb.queue_mapping
    if qm:  # skb_rx_queue_recorded: rx queue + 1
        return (qm - 1) % n
    h = skb.hash
    if not h:
        h = _flow_hash(skb)
    return (h * n) >> 32


def _flow_hash(skb: SkBuff) -> int:
    """skb_get_hash (software): a 32-bit hash of the addresses and ports, stored."""
    off = skb.network_header if skb.network_header else skb.data_off
    head = skb.head
    if skb.protocol == 0x0800 and len(head) >= off + 24:
        ihl = (head[off] & 0x0F) * 4
        key = bytes(head[off + 12:off + 20]) + bytes(head[off + ihl:off + ihl + 4])
    else:
        key = bytes(head[skb.data_off:skb.data_off + 34])
    h = zlib.crc32(key) or 1
    skb.hash = h
    skb.sw_hash = True
    return h


def dev_queue_xmit(skb: SkBuff) -> int:
    """__dev_queue_xmit: ``skb`` (data at the Ethernet header, skb.dev set) through the
    device's qdisc to its driver. Returns NET_XMIT_* or -ENETDOWN."""
    dev: NetDevice = skb.dev
    core = dev.core
    cpu = _cpu._running  # current_cpu()
    if cpu is not None:
        cpu._acc += core.costs.dev_queue_xmit_ns
    skb.mac_header = skb.data_off
    if skb.shinfo.tx_flags & SKBTX_SCHED_TSTAMP:
        skb_tstamp_tx(skb, skb.sk, SCM_TSTAMP_SCHED)
    if not dev.flags & IFF_UP:
        dev.core_stats.tx_dropped += 1
        core.host.kfree_skb(skb, SkbDropReason.DEV_READY, "__dev_queue_xmit")
        return -errno.ENETDOWN
    txq = dev.tx_queues[0 if dev.real_num_tx_queues == 1 else netdev_pick_tx(dev, skb)]
    skb.queue_mapping = txq.index
    tp = core.tp_net_dev_queue
    if tp.active:
        tp.emit(name=dev.name, skbaddr=id(skb), len=skb.len)
    q = _txq_qdisc(dev, txq)
    if q is not None:
        # __dev_xmit_skb: an empty qdisc with TCQ_F_CAN_BYPASS (set by pfifo_fast_init,
        # by fifo_init for a pfifo whose limit is at least 1, and here for the built-in
        # FIFO) whose qdisc_run_begin succeeds is bypassed: qdisc_bstats_update,
        # sch_direct_xmit, then __qdisc_run if packets were queued meanwhile (a refused
        # packet was requeued by sch_direct_xmit)
        cls = q.__class__
        key = id(q)
        running = core.qdisc_running
        if (not q.qlen and not txq.stopped and dev.flags & IFF_RUNNING
                and (cls is PfifoFast or cls is _PfifoFallback or (cls is PFifo
                                                                   and q.limit >= 1))
                and key not in running):
            running.add(key)  # qdisc_run_begin
            try:
                st = getattr(q, "stats", None)
                if st is not None:  # qdisc_bstats_update (the built-in FIFO keeps none)
                    st.sent_bytes += skb.len
                    st.sent_packets += 1
                more = sch_direct_xmit(skb, q, dev, txq) and q.qlen
            finally:
                running.discard(key)  # qdisc_run_end
            if more:
                qdisc_run(txq, q)
            return NET_XMIT_SUCCESS
        rc: int = q.enqueue(skb, core.loop.now_ns())
        qdisc_run(txq, q)
        return rc & NET_XMIT_MASK
    # noqueue (loopback, veth ...): straight to the driver
    if not txq.stopped and dev.flags & IFF_RUNNING:
        for seg in _validate_xmit(skb, dev):
            if txq.stopped or dev_hard_start_xmit(seg, dev, txq) != NETDEV_TX_OK:
                dev.core_stats.tx_dropped += 1
                core.host.kfree_skb(seg, SkbDropReason.DEV_READY, "__dev_queue_xmit")
        return NET_XMIT_SUCCESS
    # "Virtual device %s asks to queue packet!"
    dev.core_stats.tx_dropped += 1
    core.host.kfree_skb(skb, SkbDropReason.DEV_READY, "__dev_queue_xmit")
    return -errno.ENETDOWN


def _validate_xmit(skb: SkBuff, dev: NetDevice) -> list[SkBuff]:
    """validate_xmit_skb through ``core.validate_xmit`` (GSO/checksum), only for skbs
    that need it (gso, CHECKSUM_PARTIAL or paged data)."""
    fn = dev.core.validate_xmit
    if fn is not None and (skb.gso_size or skb.ip_summed == CHECKSUM_PARTIAL or skb.data_len):
        return fn(skb, dev)
    return [skb]


def _requeue(q: Any, skb: SkBuff) -> None:
    """dev_requeue_skb: back to the head of the qdisc."""
    q.requeue(skb)


def sch_direct_xmit(skb: SkBuff, q: Any, dev: NetDevice, txq: NetdevQueue) -> bool:
    """sch_direct_xmit: validate (segment) and transmit; on a stopped queue or
    NETDEV_TX_BUSY the rest goes back to the qdisc. False if the caller must stop."""
    fn = dev.core.validate_xmit
    if fn is None or not (skb.gso_size or skb.ip_summed == CHECKSUM_PARTIAL or skb.data_len):
        # validate_xmit_skb has nothing to do (_validate_xmit's test): the skb as is
        if txq.stopped or dev_hard_start_xmit(skb, dev, txq) != NETDEV_TX_OK:
            _requeue(q, skb)
            return False
        return True
    segs = fn(skb, dev)
    for i, seg in enumerate(segs):
        if txq.stopped or dev_hard_start_xmit(seg, dev, txq) != NETDEV_TX_OK:
            for rest in segs[i:]:
                _requeue(q, rest)
            return False
    return True


def dev_hard_start_xmit(skb: SkBuff, dev: NetDevice, txq: NetdevQueue) -> int:
    """dev_hard_start_xmit / xmit_one: taps see the packet (dev_queue_xmit_nit), then
    ndo_start_xmit; emits net:net_dev_xmit."""
    core = dev.core
    if core.ptype_all or dev.ptype_all:
        _dev_queue_xmit_nit(skb, dev)
    length = skb.len
    rc = dev.ndo_start_xmit(skb, txq)
    tp = core.tp_net_dev_xmit
    if tp.active:
        tp.emit(skbaddr=id(skb), len=length, rc=rc, name=dev.name)
    if rc == NETDEV_TX_OK:
        txq.trans_start = core.loop.now_ns()
    return rc


def _dev_queue_xmit_nit(skb: SkBuff, dev: NetDevice) -> None:
    """dev_queue_xmit_nit: one clone, marked PACKET_OUTGOING, shared by the taps."""
    taps = [pt for lst in (dev.core.ptype_all, dev.ptype_all) for pt in lst
            if pt.dev is None or pt.dev is dev]
    if not taps:
        return
    skb2 = skb.clone()
    skb2.pkt_type = PACKET_OUTGOING
    skb2.users = len(taps)
    for pt in taps:
        pt.func(skb2, dev)


def qdisc_run(txq: NetdevQueue, q: Any = None) -> None:
    """__qdisc_run: dequeue and transmit up to dev_tx_weight packets; reschedule via
    NET_TX if packets remain, arm the qdisc watchdog for a throttled qdisc."""
    dev = txq.dev
    core = dev.core
    if q is None:
        q = _txq_qdisc(dev, txq)
        if q is None:
            return
    key = id(q)
    running = core.qdisc_running
    if key in running:  # qdisc_run_begin failed: the running owner will see our packet
        return
    running.add(key)
    try:
        now = core.loop.now_ns()
        quota = core.dev_tx_weight
        txqs = dev.tx_queues
        while not txq.stopped and dev.flags & IFF_RUNNING:
            skb = q.dequeue(now)
            if skb is None:
                break
            qm = skb.queue_mapping
            tq = txqs[qm] if qm < len(txqs) else txq
            if not sch_direct_xmit(skb, q, dev, tq):
                break
            quota -= 1
            if quota <= 0:
                if q.qlen:
                    netif_schedule_queue(txq)
                break
        if q.qlen and not txq.stopped and not txq.scheduled:
            when = q.next_time_ns(now)
            if when is not None and when > now:
                _arm_watchdog(core, txq, key, when)
    finally:
        running.discard(key)


def _arm_watchdog(core: NetCore, txq: NetdevQueue, key: int, when: int) -> None:
    """qdisc_watchdog_schedule_ns: an hrtimer that reschedules the queue."""
    handle = core.qdisc_watchdogs.get(key)
    if handle is not None and not handle.cancelled and handle.when <= when:
        return
    if handle is not None:
        handle.cancel()
    core.qdisc_watchdogs[key] = core.loop.call_at(when, _qdisc_watchdog, txq, key)


def _qdisc_watchdog(txq: NetdevQueue, key: int) -> None:
    """qdisc_watchdog: the hrtimer fired; run the queue again via NET_TX."""
    txq.dev.core.qdisc_watchdogs.pop(key, None)
    netif_schedule_queue(txq)


def netif_schedule_queue(txq: NetdevQueue) -> None:
    """__netif_schedule: put the queue on this CPU's output_queue and raise NET_TX."""
    if txq.scheduled:
        return
    txq.scheduled = True
    core = txq.dev.core
    cpu = _this_sd_cpu(core)
    if cpu is None:
        cpu = core.cpus[core.host.current_cpu]
    cpu.sd.output_queue.append(txq)
    cpu.raise_softirq(NET_TX_SOFTIRQ)


def net_tx_action(cpu: Cpu, core: NetCore) -> Iterator[None]:
    """net_tx_action: NET_TX_SOFTIRQ handler: run the qdiscs of scheduled queues."""
    sd = cpu.sd
    work = sd.output_queue
    sd.output_queue = deque()
    while work:
        txq = work.popleft()
        txq.scheduled = False
        qdisc_run(txq)
        yield


def netif_tx_stop_queue(txq: NetdevQueue) -> None:
    """netif_tx_stop_queue: the driver's ring is full (__QUEUE_STATE_DRV_XOFF)."""
    if not txq.stopped:
        txq.stopped = True
        txq.tx_stop += 1


def netif_tx_start_queue(txq: NetdevQueue) -> None:
    """netif_tx_start_queue: clear XOFF without rescheduling the qdisc."""
    txq.stopped = False


def netif_tx_wake_queue(txq: NetdevQueue) -> None:
    """netif_tx_wake_queue: clear XOFF and reschedule the qdisc (NET_TX softirq)."""
    if txq.stopped:
        txq.stopped = False
        txq.tx_restart += 1
        netif_schedule_queue(txq)


# --------------------------------------------------------------------------- up / down

def _update_running(dev: NetDevice) -> None:
    """dev_get_flags' IFF_RUNNING/IFF_LOWER_UP and the operstate, from up + carrier."""
    if dev.flags & IFF_UP and dev.carrier:
        dev.flags |= IFF_RUNNING | IFF_LOWER_UP
        if dev.operstate != "UNKNOWN":
            dev.operstate = "UP"
    else:
        dev.flags &= ~(IFF_RUNNING | IFF_LOWER_UP)
        if dev.operstate != "UNKNOWN" or not dev.flags & IFF_UP:
            dev.operstate = "DOWN"


def _dev_activate(dev: NetDevice) -> None:
    """dev_activate: attach the default root qdisc (net.core.default_qdisc) when the
    qdisc layer (tuxnet.core.sched) is present and none is attached."""
    if dev.qdisc is not None:
        return
    import importlib

    try:
        registry = importlib.import_module("tuxnet.core.sched.registry")
    except ImportError:
        return  # the built-in FIFO serves
    default = str(dev.host.sysctl.get("net.core.default_qdisc"))
    dev.qdisc = registry.attach_default_qdiscs(
        qdisc_drop_fn(dev), num_tx_queues=dev.real_num_tx_queues, txqueuelen=dev.tx_queue_len,
        mtu=dev.mtu, hard_header_len=dev.hard_header_len,
        no_queue=bool(dev.priv_flags & IFF_NO_QUEUE), default_qdisc=default)


def dev_open(dev: NetDevice) -> None:
    """dev_open (ip link set DEV up): ndo_open, IFF_UP, attach qdiscs."""
    if dev.flags & IFF_UP:
        return
    dev.ndo_open()
    dev.flags |= IFF_UP
    _dev_activate(dev)
    _update_running(dev)
    for txq in dev.tx_queues:
        q = _txq_qdisc(dev, txq)
        if q is not None and q.qlen:
            netif_schedule_queue(txq)
    _notify("NETDEV_UP", dev)


def _notify(event: str, dev: NetDevice) -> None:
    """call_netdevice_notifiers for a registered device."""
    from tuxnet.core.netcore import call_netdevice_notifiers

    call_netdevice_notifiers(event, dev)


def dev_close(dev: NetDevice) -> None:
    """dev_close (ip link set DEV down): ndo_stop, clear IFF_UP, reset the qdiscs."""
    if not dev.flags & IFF_UP:
        return
    dev.ndo_stop()
    dev.flags &= ~IFF_UP
    _update_running(dev)
    q = dev.qdisc if dev.qdisc is not None else dev.priv.get("fallback_qdisc")
    reset = getattr(q, "reset", None)
    if reset is not None:
        reset()
    _notify("NETDEV_DOWN", dev)


def netif_carrier_on(dev: NetDevice) -> None:
    """netif_carrier_on: link up (IFF_RUNNING|IFF_LOWER_UP once the device is up)."""
    if dev.carrier:
        return
    dev.carrier = True
    _update_running(dev)
    if dev.flags & IFF_UP:
        for txq in dev.tx_queues:
            q = _txq_qdisc(dev, txq)
            if q is not None and q.qlen:
                netif_schedule_queue(txq)
    _notify("NETDEV_CHANGE", dev)  # linkwatch: carrier came up


def netif_carrier_off(dev: NetDevice) -> None:
    """netif_carrier_off: link down."""
    if not dev.carrier:
        return
    dev.carrier = False
    _update_running(dev)
    _notify("NETDEV_CHANGE", dev)  # linkwatch: carrier lost


def dev_get_stats(dev: NetDevice) -> RtnlLinkStats64:
    """dev_get_stats: the driver's ndo_get_stats64 plus the core's own drop counters."""
    s = dev.ndo_get_stats64()
    cs = dev.core_stats
    s.rx_dropped += cs.rx_dropped
    s.tx_dropped += cs.tx_dropped
    s.rx_nohandler += cs.rx_nohandler
    s.rx_otherhost_dropped += cs.rx_otherhost_dropped
    return s
