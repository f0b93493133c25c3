"""XDP_REDIRECT: xdp_do_redirect and the per-CPU bulk queues flushed by xdp_do_flush
(net/core/filter.c, kernel/bpf/devmap.c, kernel/bpf/cpumap.c, net/xdp/xsk.c).

``bpf_redirect``/``bpf_redirect_map`` only record the target (``RedirectInfo``); when
the program returns XDP_REDIRECT the driver calls :func:`xdp_do_redirect`:

* an ifindex or a DEVMAP/DEVMAP_HASH entry: the frame (an ``xdp_frame`` in its RX
  buffer, no copy) joins this CPU's bulk queue for the target device (16 frames,
  DEV_MAP_BULK_SIZE); the target must be up, take the frame's size and have
  ``ndo_xdp_xmit`` (-ENETDOWN, -EMSGSIZE, -EOPNOTSUPP). The flush hands the bulk to
  ``ndo_xdp_xmit``; what it does not take is freed (xdp:xdp_devmap_xmit drops).
  BPF_F_BROADCAST sends a copy to every entry (BPF_F_EXCLUDE_INGRESS: not back).
* a CPUMAP entry (key = CPU, value = queue size): the frame joins this CPU's bulk
  queue for that entry (8, CPU_MAP_BULK_SIZE); the flush moves it into the entry's
  ptr_ring (full: dropped, xdp:xdp_cpumap_enqueue) and wakes the entry's kthread
  ``cpumap/<cpu>/map:<id>`` on the target CPU, which takes up to 8 frames (CPUMAP_BATCH)
  at a time, builds an skb around each frame's buffer (no copy) and calls
  netif_receive_skb there (xdp:xdp_cpumap_kthread).
* an XSKMAP entry: the AF_XDP socket bound to this device and queue (else -EINVAL)
  receives the frame into a UMEM chunk (``XskSocket.rcv``); its RX ring is published
  at the flush (xsk_flush).

Tracepoints xdp:xdp_redirect[_map] on success, xdp:xdp_redirect[_map]_err on failure
(the driver then emits xdp:xdp_exception and drops the frame).
"""

from __future__ import annotations

import errno
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from tuxnet.bpf.kernel_helpers import BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS
from tuxnet.bpf.maps import BpfMap, CpuMap, DevMap, DevMapHash, XskMap
from tuxnet.bpf.xdp_run import XdpBuff
from tuxnet.core.cpu import Cpu, Task, current_cpu
from tuxnet.core.dev import eth_type_trans, netif_receive_skb
from tuxnet.skb import build_skb
from tuxnet.xdp.hook import XDP_XMIT_FLUSH, XdpFrame
from tuxnet.xdp.prog import XdpProg, dev_get_by_index, map_id

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.xdp.afxdp import XskSocket

__all__ = ["CPUMAP_BATCH", "CPU_MAP_BULK_SIZE", "DEV_MAP_BULK_SIZE", "CpumapEntry",
           "xdp_do_flush", "xdp_do_redirect", "xsk_register_queue", "xsk_unregister_queue",
           "xsk_xmit"]

DEV_MAP_BULK_SIZE = 16   # include/net/xdp.h (XDP_BULK_QUEUE_SIZE)
CPU_MAP_BULK_SIZE = 8    # kernel/bpf/cpumap.c
CPUMAP_BATCH = 8         # kernel/bpf/cpumap.c
VLAN_HLEN = 4
_ACT = "XDP_REDIRECT"


class CpumapEntry:
    """struct bpf_cpu_map_entry: the ptr_ring of ``qsize`` frames for ``cpu`` and its
    kthread (a task on that CPU)."""

    def __init__(self, host: Host, m: BpfMap, cpu: int, qsize: int) -> None:
        from tuxnet.core.netcore import get_core
        self.host = host
        self.map = m
        self.map_id = map_id(host, m)
        self.cpu = cpu
        self.qsize = qsize
        self.queue: deque[XdpFrame] = deque()
        self.processed = 0
        self.drops = 0
        self.core = get_core(host)
        self.task = Task(f"cpumap/{cpu}/map:{self.map_id}", self._kthread_step)
        self.task.cpu = self.core.cpus[cpu]  # created asleep; woken by the flush

    def _kthread_step(self) -> bool:
        """cpu_map_kthread_run: up to CPUMAP_BATCH frames -> skbs -> netif_receive_skb."""
        q = self.queue
        n = min(len(q), CPUMAP_BATCH)
        if not n:
            return False
        cpu = current_cpu()
        costs = self.core.costs
        for _ in range(n):
            f = q.popleft()
            if cpu is not None:
                cpu._acc += costs.skb_alloc_ns  # cpu_map_build_skb (bulk-allocated)
            dev = f.dev
            skb = build_skb(f.buf, dev.skb_counters)  # __xdp_build_skb_from_frame
            skb.reserve(f.off)
            skb.put(f.len)
            skb.protocol = eth_type_trans(skb, dev)
            netif_receive_skb(skb)
        self.processed += n
        tp = self.host.tracepoints["xdp:xdp_cpumap_kthread"]
        if tp.active:
            tp.emit(map_id=self.map_id, act=_ACT, cpu=self.cpu, drops=0, processed=n,
                    sched=0)
        return bool(q)


class _XdpNet:
    """Per host: this CPU's bulk queues and the AF_XDP sockets by (device, queue)."""

    def __init__(self, ncpus: int) -> None:
        self.dev_bq: list[dict[int, tuple[Any, Any, list[XdpFrame]]]] = \
            [{} for _ in range(ncpus)]
        self.cpu_bq: list[dict[int, tuple[CpumapEntry, list[XdpFrame]]]] = \
            [{} for _ in range(ncpus)]
        self.xsk_flush: list[dict[int, XskSocket]] = [{} for _ in range(ncpus)]
        self.cpumap: dict[tuple[int, int], CpumapEntry] = {}
        self.xsks: dict[tuple[int, int], list[XskSocket]] = {}


_NETS: weakref.WeakKeyDictionary[Host, _XdpNet] = weakref.WeakKeyDictionary()


def _net(host: Host) -> _XdpNet:
    n = _NETS.get(host)
    if n is None:
        n = _NETS[host] = _XdpNet(host.ncpus)
    return n


def _this_cpu(host: Host) -> int:
    cpu = current_cpu()
    return cpu.index if cpu is not None and cpu.host is host else host.current_cpu


def _trace(host: Host, ok: bool, prog: XdpProg, dev: Any, err: int, to_ifindex: int,
           m: BpfMap | None, index: int) -> None:
    name = "xdp:xdp_redirect" + ("_map" if m is not None else "") + ("" if ok else "_err")
    tp = host.tracepoints[name]
    if tp.active:
        tp.emit(prog_id=prog.id, act=_ACT, ifindex=dev.ifindex, err=err,
                to_ifindex=to_ifindex, map_id=map_id(host, m) if m is not None else 0,
                map_index=index)


def xdp_do_redirect(dev: Any, qi: int, buff: XdpBuff, prog: XdpProg) -> int:
    """xdp_do_redirect: send the frame where the program's bpf_redirect* asked;
    0 or a negative errno (the caller counts the failure and drops)."""
    host = dev.host
    ri = prog.runner.rt.redirect
    m, key, flags, target = ri.map, ri.key, ri.flags, ri.target
    frame = XdpFrame(buff.buf, buff.data, buff.data_end - buff.data,
                     buff.data - buff.data_meta, dev)
    to_ifindex = 0
    if m is None:  # bpf_redirect(ifindex)
        tgt = dev_get_by_index(host, ri.ifindex)
        to_ifindex = ri.ifindex
        err = -errno.EINVAL if tgt is None else _dev_enqueue(host, dev, tgt, frame)
    elif isinstance(m, DevMap | DevMapHash):
        if flags & BPF_F_BROADCAST:
            err = _dev_broadcast(host, dev, m, frame, bool(flags & BPF_F_EXCLUDE_INGRESS))
        else:
            tgt = dev_get_by_index(host, target) if isinstance(target, int) else target
            to_ifindex = getattr(tgt, "ifindex", 0)
            err = -errno.EINVAL if tgt is None else _dev_enqueue(host, dev, tgt, frame)
    elif isinstance(m, CpuMap):
        err = _cpu_enqueue(host, m, key, target, frame)
    elif isinstance(m, XskMap):
        err = _xsk_enqueue(host, dev, qi, target, buff)
    else:
        err = -errno.EBADRQC  # a map type bpf_redirect_map cannot use
    _trace(host, err == 0, prog, dev, err, to_ifindex, m, key)
    return err


# -- devmap -------------------------------------------------------------------------------

def _dev_enqueue(host: Host, rx_dev: Any, dev: Any, frame: XdpFrame) -> int:
    """dev_map_enqueue / dev_xdp_enqueue: checks, then this CPU's bulk queue."""
    if not callable(getattr(dev, "ndo_xdp_xmit", None)):
        return -errno.EOPNOTSUPP
    if not dev.is_up():  # xdp_ok_fwd_dev
        return -errno.ENETDOWN
    if frame.len > dev.mtu + dev.hard_header_len + VLAN_HLEN:
        return -errno.EMSGSIZE
    bqs = _net(host).dev_bq[_this_cpu(host)]
    entry = bqs.get(id(dev))
    if entry is None:
        entry = bqs[id(dev)] = (dev, rx_dev, [])
    entry[2].append(frame)
    if len(entry[2]) >= DEV_MAP_BULK_SIZE:
        _bq_xmit_all(host, entry)
        entry[2].clear()
    return 0


def _dev_broadcast(host: Host, rx_dev: Any, m: BpfMap, frame: XdpFrame,
                   exclude_ingress: bool) -> int:
    """dev_map_enqueue_multi: a copy of the frame (xdpf_clone) to every entry."""
    assert isinstance(m, DevMap | DevMapHash)
    targets = [t for _, t in sorted(m.slots.values(), key=lambda s: s[0])]
    sent = 0
    for t in targets:
        dev = dev_get_by_index(host, t) if isinstance(t, int) else t
        if dev is None or (exclude_ingress and dev is rx_dev):
            continue
        copy = XdpFrame(bytearray(frame.buf), frame.off, frame.len, frame.metasize, rx_dev)
        if _dev_enqueue(host, rx_dev, dev, copy) == 0:
            sent += 1
    return 0 if sent or not targets else -errno.ENOENT


def _bq_xmit_all(host: Host, entry: tuple[Any, Any, list[XdpFrame]]) -> None:
    """bq_xmit_all: ndo_xdp_xmit with XDP_XMIT_FLUSH; free what it did not take."""
    dev, rx_dev, frames = entry
    n = len(frames)
    sent = dev.ndo_xdp_xmit(frames, XDP_XMIT_FLUSH)
    err = 0
    if sent < 0:
        err, sent = sent, 0
    for f in frames[sent:]:
        f.free()
    tp = host.tracepoints["xdp:xdp_devmap_xmit"]
    if tp.active:
        tp.emit(from_ifindex=rx_dev.ifindex, act=_ACT, to_ifindex=dev.ifindex,
                drops=n - sent, sent=sent, err=err)


# -- cpumap -------------------------------------------------------------------------------

def _cpu_enqueue(host: Host, m: CpuMap, cpu: int, target: object, frame: XdpFrame) -> int:
    """cpu_map_enqueue: this CPU's bulk queue for the entry (key = target CPU)."""
    if not isinstance(target, int) or not 0 <= cpu < host.ncpus:
        return -errno.EINVAL
    net = _net(host)
    ent = net.cpumap.get((id(m), cpu))
    if ent is None or ent.qsize != target:
        ent = net.cpumap[(id(m), cpu)] = CpumapEntry(host, m, cpu, target)
    bqs = net.cpu_bq[_this_cpu(host)]
    bq = bqs.get(id(ent))
    if bq is None:
        bq = bqs[id(ent)] = (ent, [])
    bq[1].append(frame)
    if len(bq[1]) >= CPU_MAP_BULK_SIZE:
        _bq_flush_to_queue(host, bq)
        bq[1].clear()
    return 0


def _bq_flush_to_queue(host: Host, bq: tuple[CpumapEntry, list[XdpFrame]]) -> None:
    """bq_flush_to_queue: into the ptr_ring; a full ring drops (xdp_return_frame)."""
    ent, frames = bq
    q = ent.queue
    drops = processed = 0
    for f in frames:
        if len(q) < ent.qsize:
            q.append(f)
            processed += 1
        else:
            f.free()
            drops += 1
    ent.drops += drops
    tp = host.tracepoints["xdp:xdp_cpumap_enqueue"]
    if tp.active:
        tp.emit(map_id=ent.map_id, act=_ACT, cpu=_this_cpu(host), drops=drops,
                processed=processed, to_cpu=ent.cpu)


def cpumap_entries(host: Host) -> list[CpumapEntry]:
    """The cpumap entries frames were sent to (their kthreads and counters)."""
    return list(_net(host).cpumap.values())


# -- xskmap -------------------------------------------------------------------------------

def _xsk_enqueue(host: Host, dev: Any, qi: int, target: object, buff: XdpBuff) -> int:
    """__xsk_map_redirect -> xsk_rcv: the socket must be bound to this device/queue."""
    from tuxnet.xdp.afxdp import XskSocket
    if not isinstance(target, XskSocket) or target.closed:
        return -errno.EINVAL
    if target.dev is not dev or target.queue_id != qi:
        return -errno.EINVAL
    mv = memoryview(buff.buf)
    if not target.zc:  # __xsk_rcv: a memcpy into the chunk
        cpu = current_cpu()
        if cpu is not None:
            n = buff.data_end - buff.data_meta
            cpu._acc += (n * dev.core.costs.copy_per_kib_ns) >> 10
    err = target.rcv(mv[buff.data:buff.data_end], mv[buff.data_meta:buff.data], buff.data)
    if err == 0:
        _net(host).xsk_flush[_this_cpu(host)][id(target)] = target
    return err


def xsk_register_queue(dev: Any, qi: int, xs: XskSocket) -> None:
    """xsk_reg_pool_at_qid: the socket is the queue's AF_XDP consumer."""
    _net(dev.host).xsks.setdefault((id(dev), qi), []).append(xs)


def xsk_unregister_queue(dev: Any, qi: int, xs: XskSocket) -> None:
    lst = _net(dev.host).xsks.get((id(dev), qi), [])
    if xs in lst:
        lst.remove(xs)


def xsk_xmit(dev: Any, qi: int, budget: int) -> int:
    """The driver's zero-copy transmit (ixgbe_xmit_zc) from its NAPI poll: descriptors
    of the zero-copy sockets bound to queue ``qi`` go on the queue's TX ring straight
    from UMEM; each completes on the UMEM's completion ring when the NIC is done.
    Returns the frames sent (at most ``budget``)."""
    socks = _net(dev.host).xsks.get((id(dev), qi))
    if not socks:
        return 0
    sent = 0
    for xs in socks:
        if not xs.zc:
            continue
        area = xs.umem.area
        while sent < budget:
            desc = xs.next_tx_desc()
            if desc is None:
                break
            frame = XdpFrame(area, desc.addr, desc.len, 0, dev, xs.tx_completed)
            if dev.xdp_xmit_queue(qi, [frame], 0) != 1:
                xs.unpeek_tx()
                break
            xs.tx.release(1)
            sent += 1
    if sent:
        dev.xdp_xmit_queue(qi, [], XDP_XMIT_FLUSH)
    return sent


# -- flush ----------------------------------------------------------------------------------

def xdp_do_flush(host: Host, cpu: Cpu | None = None) -> None:
    """xdp_do_flush: this CPU's devmap bulk queues, cpumap bulk queues (waking the
    kthreads) and AF_XDP RX rings."""
    net = _NETS.get(host)
    if net is None:
        return
    i = cpu.index if cpu is not None and cpu.host is host else _this_cpu(host)
    dev_bq = net.dev_bq[i]
    if dev_bq:
        for entry in dev_bq.values():
            if entry[2]:
                _bq_xmit_all(host, entry)
        dev_bq.clear()
    cpu_bq = net.cpu_bq[i]
    if cpu_bq:
        costs = None
        for bq in cpu_bq.values():
            if bq[1]:
                _bq_flush_to_queue(host, bq)
            ent = bq[0]
            if ent.queue and ent.task.wake() and cpu is not None:  # wake_up_process
                costs = costs or ent.core.costs
                cpu._acc += costs.wakeup_ns
        cpu_bq.clear()
    xf = net.xsk_flush[i]
    if xf:
        for xs in xf.values():
            if xs.flush():
                for waker in tuple(xs.waiters):
                    waker()
        xf.clear()
