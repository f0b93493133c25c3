"""The XDP hook in the driver's NAPI poll (native XDP, "xdpdrv"), before any sk_buff.

For each RX descriptor the driver (``SimNic._poll``) calls :meth:`DevXdp.rx`: an
``xdp_buff`` is laid over the descriptor's buffer without copying (the driver gives
XDP a page per frame with XDP_PACKET_HEADROOM = 256 bytes before the data and the
skb_shared_info room at the end: include/net/xdp.h xdp_init_buff/xdp_prepare_buff),
the program runs, and the action decides (drivers' *_run_xdp, e.g. ixgbe_run_xdp)::

    XDP_PASS      build_skb around the same buffer at the (possibly moved) data and
                  data_end: bpf_xdp_adjust_head/tail changes are what the stack sees
    XDP_DROP      nothing allocated, the buffer goes back to the ring (recycled)
    XDP_TX        an xdp_frame on this CPU's TX ring of the same device, as rewritten
                  (the tail is bumped at the end of the poll); ring full: exception
    XDP_REDIRECT  xdp_do_redirect (tuxnet.xdp.redirect): devmap/ifindex -> another
                  device's ndo_xdp_xmit, cpumap -> another CPU's kthread, which builds
                  the skb there; xskmap -> an AF_XDP socket's RX ring; flushed at the
                  end of the poll (xdp_do_flush). A bad target: exception + drop
    XDP_ABORTED   (and a fault, or an unknown action: bpf_warn_invalid_xdp_action)
                  the xdp:xdp_exception tracepoint, then drop

No skb exists for the frames XDP consumes, so there is no kfree_skb: drops are
counted per action and per queue (``ethtool -S``: rx_xdp_drop ... and
rx_queue_N_xdp_drop ..., names after mlx5's rx_xdp_* counters) and XDP_ABORTED shows on
xdp:xdp_exception. Every program run charges the CPU ``xdp_prog_ns`` plus
``xdp_insn_ns`` per instruction executed (tuxnet.core.costs: the XDP paper's figures).

``dev_xdp_attach(dev, prog)`` / ``dev_xdp_detach(dev)`` are dev_change_xdp_fd for a
device whose driver has native XDP (``ndo_bpf``: SimNic and its subclasses). Generic
(skb) and offloaded XDP are not modelled, nor programs on devmap/cpumap entries. On
XDP_PASS the metadata (bpf_xdp_adjust_meta) stays in the headroom right before the MAC
header, where Linux keeps it, but its length is not recorded in the skb (SkBuff has no
meta_len), so nothing above the driver reads it.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

from tuxnet.bpf.objspec import BpfObject
from tuxnet.bpf.xdp_run import (
    PAGE_SIZE,
    SKB_SHARED_INFO_SIZE,
    XDP_ABORTED,
    XDP_ACTION_NAMES,
    XDP_DROP,
    XDP_PACKET_HEADROOM,
    XDP_PASS,
    XDP_REDIRECT,
    XDP_TX,
    XdpBuff,
)
from tuxnet.core.cpu import Cpu
from tuxnet.skb import CHECKSUM_NONE, SkBuff, build_skb
from tuxnet.xdp.prog import XdpProg

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "XDP_FLAGS_DRV_MODE",
    "XDP_FLAGS_HW_MODE",
    "XDP_FLAGS_SKB_MODE",
    "XDP_FLAGS_UPDATE_IF_NOEXIST",
    "XDP_XMIT_FLUSH",
    "DevXdp",
    "XdpFrame",
    "XdpRxqStats",
    "dev_xdp_attach",
    "dev_xdp_detach",
    "dev_xdp_prog",
    "dev_xdp_state",
    "xdp_exception",
    "xdp_link_info",
]

# include/uapi/linux/if_link.h: IFLA_XDP_FLAGS
XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2
XDP_FLAGS_HW_MODE = 1 << 3
XDP_XMIT_FLUSH = 1 << 0          # include/net/xdp.h: ndo_xdp_xmit flags
XDP_FRAME_SZ = PAGE_SIZE         # one page per RX buffer while a program is attached
# the largest frame a page can hold with the headroom and skb_shared_info
XDP_MAX_FRAME = XDP_FRAME_SZ - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE
# what dev_xdp_attach takes: a program, (object or path, section), or a path
ProgSource = XdpProg | tuple[Any, str | None] | str | os.PathLike[str]
_MODES = {"drv": XDP_FLAGS_DRV_MODE, "native": XDP_FLAGS_DRV_MODE,
          "skb": XDP_FLAGS_SKB_MODE, "generic": XDP_FLAGS_SKB_MODE,
          "hw": XDP_FLAGS_HW_MODE, "offload": XDP_FLAGS_HW_MODE}


class XdpFrame:
    """struct xdp_frame: a frame XDP sends on (TX, redirect) in the buffer it arrived
    in (or a UMEM chunk): ``off``/``len`` of the data, ``metasize`` bytes of metadata
    before it, the receiving device. It goes on TX rings beside skbs, so it answers
    what the NIC reads of one (``data``, ``data_len``, ``ip_summed``); ``free()`` is
    xdp_return_frame (``on_free`` runs then: an AF_XDP completion)."""

    __slots__ = ("buf", "dev", "len", "metasize", "off", "on_free", "protocol")

    data_len = 0
    ip_summed = CHECKSUM_NONE

    def __init__(self, buf: bytearray, off: int, length: int, metasize: int, dev: Any,
                 on_free: Callable[[], None] | None = None) -> None:
        self.buf = buf
        self.off = off
        self.len = length
        self.metasize = metasize
        self.dev = dev
        self.on_free = on_free
        self.protocol = (buf[off + 12] << 8) | buf[off + 13] if length >= 14 else 0

    def __repr__(self) -> str:
        return f"<XdpFrame len={self.len} off={self.off} dev={getattr(self.dev, 'name', '?')}>"

    @property
    def data(self) -> memoryview:
        return memoryview(self.buf)[self.off:self.off + self.len]

    def frame(self) -> bytes:
        return bytes(self.data)

    def free(self) -> None:
        """xdp_return_frame: the page goes back to the pool (an AF_XDP chunk: its
        address to the completion ring)."""
        cb = self.on_free
        if cb is not None:
            self.on_free = None
            cb()


class XdpRxqStats:
    """Per RX queue: frames the program saw and what became of them (``passed`` is
    XDP_PASS; ``tx_full``/``redirect_err`` are failed XDP_TX/XDP_REDIRECT, dropped)."""

    __slots__ = ("aborted", "bytes", "drop", "invalid", "packets", "passed", "redirect",
                 "redirect_err", "tx", "tx_full")

    def __init__(self) -> None:
        self.packets = self.bytes = self.passed = self.drop = self.tx = self.tx_full = 0
        self.redirect = self.redirect_err = self.aborted = self.invalid = 0

    def as_dict(self) -> dict[str, int]:
        """By action name: packets, bytes, pass, drop, tx, tx_full, redirect,
        redirect_err, aborted, invalid."""
        return {"packets": self.packets, "bytes": self.bytes, "pass": self.passed,
                "drop": self.drop, "tx": self.tx, "tx_full": self.tx_full,
                "redirect": self.redirect, "redirect_err": self.redirect_err,
                "aborted": self.aborted, "invalid": self.invalid}

    def dropped(self) -> int:
        """Frames XDP consumed without sending them on (mlx5's rx_xdp_drop sense)."""
        return self.drop + self.aborted + self.invalid + self.tx_full + self.redirect_err


def xdp_exception(dev: Any, prog: XdpProg | None, act: int) -> None:
    """trace_xdp_exception (include/trace/events/xdp.h)."""
    tp = dev.host.tracepoints["xdp:xdp_exception"]
    if tp.active:
        name = XDP_ACTION_NAMES[act] if 0 <= act < len(XDP_ACTION_NAMES) else str(act)
        tp.emit(prog_id=prog.id if prog is not None else 0, act=name, ifindex=dev.ifindex)


class DevXdp:
    """A device's XDP state: the attached program (``prog``, None when detached),
    its mode flags and the per-queue counters (kept across detach)."""

    def __init__(self, dev: Any) -> None:
        self.dev = dev
        self.prog: XdpProg | None = None
        self.flags = 0
        self.rxq = [XdpRxqStats() for _ in range(dev.num_rx_queues)]
        self.tx_pending = False   # XDP_TX frames queued this poll: bump the tail at flush

    # -- the driver's RX loop -------------------------------------------------------------
    def poll(self, rxq: Any, napi: Any, budget: int, cpu: Cpu | None) -> int:
        """ixgbe_clean_rx_irq with a program, for SimNic rings (descriptors
        ``(buffer, length, rss hash, l4 hash)``, the frame at XDP_PACKET_HEADROOM): the
        hook on each before any skb, XDP_PASS skbs on to GRO; then xdp_do_flush and the
        queue's zero-copy AF_XDP transmit, whose unfinished work keeps NAPI polling.
        Returns the work done (``budget`` to be polled again)."""
        from tuxnet.core.dev import eth_type_trans, napi_gro_receive
        from tuxnet.xdp.redirect import xsk_xmit
        dev = self.dev
        desc = rxq.ring.desc
        qi = rxq.index
        driver_rx_ns = dev.core.costs.driver_rx_ns
        napi_id = napi.napi_id
        work = 0
        while work < budget and desc:
            buf, n, h, l4 = desc.popleft()
            rxq.rx_packets += 1  # ixgbe counts every frame, whatever XDP did
            rxq.rx_bytes += n
            if cpu is not None:
                cpu._acc += driver_rx_ns
            skb = self.rx(qi, buf, n, cpu)
            work += 1
            if skb is None:
                continue
            if h:
                skb.hash = h
                skb.l4_hash = l4
            skb.queue_mapping = qi + 1  # skb_record_rx_queue
            skb.protocol = eth_type_trans(skb, dev)
            skb.napi_id = napi_id
            napi_gro_receive(napi, skb)
        self.flush(cpu)
        if xsk_xmit(dev, qi, budget) >= budget:
            return budget
        return work

    # -- the per-frame hook ---------------------------------------------------------------
    def rx(self, qi: int, buf: bytearray, n: int, cpu: Cpu | None) -> SkBuff | None:
        """Run the program on the frame at XDP_PACKET_HEADROOM of ``buf`` (``n`` bytes)
        received on queue ``qi``; the skb for XDP_PASS, else None (frame consumed)."""
        dev = self.dev
        prog = self.prog
        st = self.rxq[qi]
        st.packets += 1
        st.bytes += n
        costs = dev.core.costs
        buff = XdpBuff(buf, XDP_PACKET_HEADROOM, XDP_PACKET_HEADROOM + n, len(buf))
        if prog is None:  # detached meanwhile: plain receive
            act = XDP_PASS
        else:
            cpu_index = cpu.index if cpu is not None else dev.host.current_cpu
            act, insns = prog.run(buff, dev.ifindex, qi, cpu_index)
            if cpu is not None:
                cpu._acc += costs.xdp_prog_ns + insns * costs.xdp_insn_ns
        if act == XDP_PASS:
            st.passed += 1
            if cpu is not None:
                cpu._acc += costs.skb_alloc_ns
            skb = build_skb(buf, dev.skb_counters)
            skb.reserve(buff.data)
            skb.put(buff.data_end - buff.data)
            return skb
        if act == XDP_DROP:
            st.drop += 1
            return None
        if act == XDP_TX:
            frame = XdpFrame(buf, buff.data, buff.data_end - buff.data,
                             buff.data - buff.data_meta, dev)
            if dev.ndo_xdp_xmit([frame], 0) == 1:
                st.tx += 1
                self.tx_pending = True
            else:  # ixgbe_run_xdp: IXGBE_XDP_CONSUMED -> out_failure
                st.tx_full += 1
                xdp_exception(dev, prog, act)
            return None
        if act == XDP_REDIRECT:
            from tuxnet.xdp.redirect import xdp_do_redirect
            assert prog is not None
            if cpu is not None:
                cpu._acc += costs.xdp_redirect_ns
            if xdp_do_redirect(dev, qi, buff, prog) == 0:
                st.redirect += 1
            else:
                st.redirect_err += 1
                xdp_exception(dev, prog, act)
            return None
        if act == XDP_ABORTED:
            st.aborted += 1
        else:  # bpf_warn_invalid_xdp_action, then as XDP_ABORTED
            st.invalid += 1
        xdp_exception(dev, prog, act)
        return None

    def flush(self, cpu: Cpu | None) -> None:
        """The end of the driver's RX poll: bump the XDP TX tail, xdp_do_flush."""
        if self.tx_pending:
            self.tx_pending = False
            self.dev.ndo_xdp_xmit([], XDP_XMIT_FLUSH)
        from tuxnet.xdp.redirect import xdp_do_flush
        xdp_do_flush(self.dev.host, cpu)

    # -- statistics -------------------------------------------------------------------------
    def totals(self) -> dict[str, int]:
        """The per-queue counters summed, with ``xdp_*`` names."""
        out = dict.fromkeys(("xdp_packets", "xdp_bytes", "xdp_pass", "xdp_drop", "xdp_tx",
                             "xdp_tx_full", "xdp_redirect", "xdp_redirect_err",
                             "xdp_aborted", "xdp_invalid"), 0)
        for st in self.rxq:
            for k, v in st.as_dict().items():
                out["xdp_" + k] += v
        return out

    def ethtool_stats(self) -> list[tuple[str, int]]:
        """ethtool -S lines: rx_xdp_* totals (rx_xdp_drop counts every frame XDP
        consumed without sending it on, as mlx5 does), then rx_queue_N_xdp_*."""
        t = self.totals()
        dropped = sum(st.dropped() for st in self.rxq)
        out = [("rx_xdp_packets", t["xdp_packets"]), ("rx_xdp_bytes", t["xdp_bytes"]),
               ("rx_xdp_pass", t["xdp_pass"]), ("rx_xdp_drop", dropped),
               ("rx_xdp_tx_xmit", t["xdp_tx"]), ("rx_xdp_tx_full", t["xdp_tx_full"]),
               ("rx_xdp_redirect", t["xdp_redirect"]),
               ("rx_xdp_redirect_err", t["xdp_redirect_err"]),
               ("rx_xdp_aborted", t["xdp_aborted"]), ("rx_xdp_invalid", t["xdp_invalid"])]
        for i in range(self.dev.real_num_rx_queues):
            st = self.rxq[i]
            out += [(f"rx_queue_{i}_xdp_packets", st.packets),
                    (f"rx_queue_{i}_xdp_pass", st.passed),
                    (f"rx_queue_{i}_xdp_drop", st.dropped()),
                    (f"rx_queue_{i}_xdp_tx", st.tx),
                    (f"rx_queue_{i}_xdp_redirect", st.redirect)]
        return out


# --------------------------------------------------------------------------- attach / detach

def _has_native_xdp(dev: Any) -> bool:
    return callable(getattr(dev, "ndo_bpf", None))


def _as_prog(dev: Any, prog: ProgSource) -> XdpProg:
    if isinstance(prog, XdpProg):
        return prog
    if isinstance(prog, tuple):
        src, sec = prog
        if isinstance(src, BpfObject):
            return XdpProg.from_object(dev.host, src, sec)
        return XdpProg.load(dev.host, src, sec)
    return XdpProg.load(dev.host, prog)


def dev_xdp_state(dev: Any) -> DevXdp | None:
    """The device's XDP state (counters), if XDP was ever attached."""
    st = dev.priv.get("xdp") if hasattr(dev, "priv") else None
    return st if isinstance(st, DevXdp) else None


def dev_xdp_prog(dev: Any) -> XdpProg | None:
    """The program attached to ``dev`` (None if none)."""
    st = dev_xdp_state(dev)
    return st.prog if st is not None else None


def dev_xdp_attach(dev: Any, prog: ProgSource, mode: str = "drv", *, flags: int = 0) -> XdpProg:
    """dev_xdp_attach (net/core/dev.c) for native XDP: attach ``prog`` (an XdpProg, an
    ``(object or path, section)`` pair, or a path) to ``dev``; returns the program.

    OSError as the kernel fails: EOPNOTSUPP for generic/offload mode or a driver
    without native XDP, EBUSY if a program is attached and ``flags`` has
    XDP_FLAGS_UPDATE_IF_NOEXIST, EINVAL when the MTU does not fit a page
    (ixgbe_xdp_setup) or the device receives pre-NAPI (rx_mode legacy)."""
    want = _MODES.get(mode)
    if want is None:
        raise ValueError(f"mode must be one of {sorted(_MODES)}, not {mode!r}")
    if want == XDP_FLAGS_SKB_MODE:
        raise OSError(errno.EOPNOTSUPP, "generic (skb-mode) XDP is not modelled by tuxnet")
    if want == XDP_FLAGS_HW_MODE:
        raise OSError(errno.EOPNOTSUPP, f"{dev.name}: XDP offload is not supported")
    if not _has_native_xdp(dev):
        raise OSError(errno.EOPNOTSUPP, f"{dev.name}: native XDP not supported by driver "
                      f"{getattr(dev, 'driver_name', '?')}")
    if getattr(dev, "rx_mode", "napi") != "napi":
        raise OSError(errno.EINVAL, f"{dev.name}: XDP needs NAPI receive")
    if dev.mtu + dev.hard_header_len + 4 > XDP_MAX_FRAME:
        raise OSError(errno.EINVAL, f"{dev.name}: MTU {dev.mtu} too large for XDP "
                      f"(a frame must fit {XDP_MAX_FRAME} bytes)")
    st = dev_xdp_state(dev)
    if st is not None and st.prog is not None and flags & XDP_FLAGS_UPDATE_IF_NOEXIST:
        raise OSError(errno.EBUSY, "XDP program already attached")
    p = _as_prog(dev, prog)
    if st is None:
        st = DevXdp(dev)
        dev.priv["xdp"] = st
    st.prog = p
    st.flags = XDP_FLAGS_DRV_MODE
    dev.ndo_bpf(st)
    return p


def dev_xdp_detach(dev: Any) -> XdpProg | None:
    """Detach the program (``ip link set dev X xdp off``); returns it (None if none)."""
    st = dev_xdp_state(dev)
    if st is None or st.prog is None:
        return None
    old = st.prog
    st.prog = None
    st.flags = 0
    dev.ndo_bpf(None)
    return old


def xdp_link_info(dev: Any) -> dict[str, Any] | None:
    """What ``ip link show`` prints for an attached program (``prog/xdp id N``; the
    ``xdp`` link flag) and ``ip -j`` reports: mode, id, name, tag; None if none."""
    p = dev_xdp_prog(dev)
    if p is None:
        return None
    return {"mode": 1, "attached_mode": "drv", "prog": {"id": p.id, "name": p.name,
                                                        "tag": p.tag, "jited": 0}}


