"""The tuxnet side of a TAP device: a net_device whose wire is a /dev/net/tun fd.

What :class:`~tuxnet.drivers.tap.TapDevice` is to the kernel (its ``tnx0``), this is
to tuxnet: the NIC of a guest whose host runs a tap, i.e. virtio_net
(drivers/net/virtio_net.c) with the virtio-net header carried by tun itself.

Receive. The fd's readiness is the device's interrupt: the reader callback
schedules the NAPI instance on the host's CPU 0 (skb_recv_done → virtqueue_napi_schedule),
unless it is already scheduled (virtqueue_disable_cb: the interrupt stays masked while
the poll runs). The poll (virtnet_poll → virtnet_receive) reads up to its budget of
frames in one batch, wraps each in an skb without copying (receive_buf: the virtio
header becomes ip_summed/csum_start/gso_* metadata), runs eth_type_trans and hands it
to napi_gro_receive; a poll that found fewer frames than its budget completes
(napi_complete_done) and unmasks.

Transmit. ndo_start_xmit (start_xmit) hands the skb to ``TapDevice.xmit_skb``: header,
linear part and page frags in one writev. The kernel's tun accepts GSO super-frames
and partial checksums with the header (tun_get_user → virtio_net_hdr_to_skb), so the
device advertises what virtnet_probe does with VIRTIO_NET_F_CSUM and the host TSO/USO
features: NETIF_F_HW_CSUM | NETIF_F_SG, TSO/TSO6/TSO_ECN, and GSO_UDP_L4 when the
kernel knows USO (it accepted TUN_F_USO4, Linux 6.2). Without the header the device
has no offloads and the core segments and checksums first.

Statistics: rtnl_link_stats64 in ``stats`` (per skb, a super-frame counts once, as
virtnet_get_stats64 does); ``ethtool -S`` adds the TAP's own counters (reads, writes,
copybreak copies, GSO frames) and the interrupt/poll counts.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Protocol

from tuxnet.core.dev import (
    NETDEV_TX_OK,
    dev_open,
    eth_type_trans,
    napi_gro_receive,
    netif_carrier_off,
    netif_carrier_on,
)
from tuxnet.core.napi import (
    NAPI_STATE_SCHED,
    NapiStruct,
    napi_complete_done,
    napi_disable,
    napi_enable,
    napi_schedule,
)
from tuxnet.core.netcore import netif_napi_add, register_netdevice
from tuxnet.core.netdevice import (
    ETH_MAX_MTU,
    ETH_MIN_MTU,
    NETIF_F_GRO,
    NETIF_F_GSO_ROBUST,
    NETIF_F_GSO_UDP_L4,
    NETIF_F_HIGHDMA,
    NETIF_F_HW_CSUM,
    NETIF_F_RXCSUM,
    NETIF_F_SG,
    NETIF_F_TSO,
    NETIF_F_TSO6,
    NETIF_F_TSO_ECN,
    NetDevice,
    NetdevQueue,
)
from tuxnet.drivers.tap import NAPI_POLL_WEIGHT, TUN_F_USO4, TapDevice
from tuxnet.drivers.virtio_net import VirtioNetHdrError, receive_buf
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import build_skb

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuxnet.core.cpu import Cpu
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = ["TAPDEV_FEATURES", "TapNetDevice", "tapdev_init"]

ETH_HLEN = 14  # include/uapi/linux/if_ether.h
# virtnet_probe: VIRTIO_NET_F_CSUM gives HW_CSUM | SG; the host's TSO4/TSO6/ECN give
# TSO, TSO6, TSO_ECN (+ GSO_ROBUST, set when any GSO feature is there); GUEST_CSUM
# gives RXCSUM. GRO is a soft feature every registered device gets (NETIF_F_SOFT_FEATURES).
TAPDEV_FEATURES = (NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_HIGHDMA | NETIF_F_TSO | NETIF_F_TSO6
                   | NETIF_F_TSO_ECN | NETIF_F_GSO_ROBUST | NETIF_F_RXCSUM | NETIF_F_GRO)
_HW_FEATURES = (NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO | NETIF_F_TSO6 | NETIF_F_TSO_ECN
                | NETIF_F_GSO_UDP_L4 | NETIF_F_RXCSUM | NETIF_F_GRO)

_DEV_HDR = SkbDropReason.DEV_HDR
_DEV_READY = SkbDropReason.DEV_READY
_FULL_RING = SkbDropReason.FULL_RING
_PKT_TOO_SMALL = SkbDropReason.PKT_TOO_SMALL


class _RealLoopLike(Protocol):
    """What the device needs of its host's loop: fd readiness (RealLoop has it)."""

    def add_reader(self, fd: int, callback: Callable[..., object]) -> None: ...

    def remove_reader(self, fd: int) -> bool: ...

    busy_poll: bool

    def add_busy_poller(self, key: int, callback: Callable[[], object]) -> None: ...

    def remove_busy_poller(self, key: int) -> bool: ...


class TapNetDevice(NetDevice):
    """tuxnet's NIC on a TAP (see the module doc). ``name`` defaults to the TAP's name
    (tuxnet's namespace is not the kernel's); ``mac`` to a random one given at
    registration; ``mtu`` to the TAP's MTU."""

    driver_name = "tuxtap"

    def __init__(self, tap: TapDevice, name: str | None = None, *, mac: bytes | None = None,
                 mtu: int | None = None, budget: int = NAPI_POLL_WEIGHT) -> None:
        features = hw = 0
        if tap.vnet_hdr_sz:
            features = TAPDEV_FEATURES
            hw = _HW_FEATURES
            if tap.offload & TUN_F_USO4:  # the kernel knows USO: it takes UDP_L4 GSO too
                features |= NETIF_F_GSO_UDP_L4
        else:
            features = NETIF_F_HIGHDMA | NETIF_F_GRO
            hw = NETIF_F_GRO
        super().__init__(name or tap.name, mtu=mtu if mtu is not None else tap.mtu,
                         min_mtu=ETH_MIN_MTU, max_mtu=ETH_MAX_MTU, dev_addr=mac,
                         features=features, hw_features=hw)
        self.tap = tap
        self.budget = budget
        self.napi: NapiStruct | None = None
        self._cpu: Cpu | None = None
        self._reader_loop: _RealLoopLike | None = None
        self.fatal: OSError | None = None  # a read error that stopped the device
        self.on_fatal: Callable[[OSError], object] | None = None
        self.rx_irqs = 0  # reader callbacks that scheduled the poll
        self.rx_irqs_masked = 0  # ... that found it scheduled already
        self.rx_polls = 0

    # -- setup ----------------------------------------------------------------------
    def ndo_init(self) -> None:
        """virtnet_probe's tail: the receive queue's NAPI instance (disabled until
        open)."""
        napi = netif_napi_add(self, self._poll, weight=self.budget, name=f"{self.name}-rx-0")
        napi_disable(napi)
        self.napi = napi
        self.rx_queues[0].napi = napi
        self._cpu = self.core.cpus[0]

    def ndo_open(self) -> None:
        """virtnet_open: enable NAPI, watch the fd (the interrupt), carrier on."""
        napi = self.napi
        assert napi is not None
        loop = self.host.loop
        if not hasattr(loop, "add_reader"):
            raise OSError(errno.EOPNOTSUPP, f"{self.name}: a TAP device needs a real-time "
                          "loop with add_reader (RealLoop)")
        reader: _RealLoopLike = loop  # type: ignore[assignment]
        napi_enable(napi)
        if reader.busy_poll:
            # threaded NAPI busy poll (NAPI_THREADED_BUSY_POLL): the poller runs the
            # NAPI poll over and over; the interrupt is never armed
            reader.add_busy_poller(self.tap.fileno(), self._busy_poll)
        else:
            reader.add_reader(self.tap.fileno(), self._rx_interrupt)
        self._reader_loop = reader
        netif_carrier_on(self)

    def ndo_stop(self) -> None:
        """virtnet_close: stop watching the fd, disable NAPI, carrier off."""
        self._unwatch()
        if self.napi is not None:
            napi_disable(self.napi)
        netif_carrier_off(self)

    def ndo_uninit(self) -> None:
        """The device goes away: make sure the fd is no longer watched."""
        self._unwatch()

    def _unwatch(self) -> None:
        loop = self._reader_loop
        if loop is not None:
            self._reader_loop = None
            if not self.tap.closed:
                fd = self.tap.fileno()
                if not loop.remove_reader(fd):
                    loop.remove_busy_poller(fd)

    # -- receive --------------------------------------------------------------------
    def _rx_interrupt(self) -> None:
        """skb_recv_done: the fd is readable; schedule the poll unless it runs."""
        napi = self.napi
        assert napi is not None and self._cpu is not None
        if napi.state & NAPI_STATE_SCHED:
            self.rx_irqs_masked += 1
            return
        self.rx_irqs += 1
        cpu = self._cpu
        cpu.irq_enter()
        try:
            napi_schedule(napi, cpu)
        finally:
            cpu.irq_exit()  # the poll runs now, not on the loop's next turn

    def _busy_poll(self) -> None:
        """napi_threaded_poll_loop with busy polling: poll the fd now (an empty read
        completes the instance again), no interrupt involved."""
        napi = self.napi
        cpu = self._cpu
        assert napi is not None and cpu is not None
        cpu.irq_enter()  # local_bh_disable: what napi_schedule raises runs at the enable
        try:
            napi_schedule(napi, cpu)
        finally:
            cpu.irq_exit()  # runs the poll at once on the real-time CPU

    def _poll(self, napi: NapiStruct, budget: int) -> int:
        """virtnet_poll: read up to ``budget`` frames, pass each up, complete when the
        fd ran dry."""
        self.rx_polls += 1
        stats = self.stats
        host = self.host
        counters = self.skb_counters
        napi_id = napi.napi_id
        read_batch = self.tap.read_batch
        work = 0
        want = 1  # the first frame is handled before the ring is read on (virtnet_receive)
        while work < budget:
            try:
                frames = read_batch(want)
            except OSError as exc:
                self._fail(exc)
                napi_complete_done(napi, work)
                return work
            nbytes = good = 0
            for hdr, frame in frames:
                n = len(frame)
                if n < ETH_HLEN:  # virtnet receive_buf: len < vi->hdr_len + ETH_HLEN
                    stats.rx_length_errors += 1
                    stats.rx_errors += 1
                    host.kfree_skb(build_skb(frame, counters), _PKT_TOO_SMALL, "receive_buf")
                    continue
                try:
                    skb = receive_buf(frame, hdr, counters)
                except VirtioNetHdrError:
                    stats.rx_frame_errors += 1
                    stats.rx_errors += 1
                    host.kfree_skb(build_skb(frame, counters), _DEV_HDR, "receive_buf")
                    continue
                nbytes += n
                good += 1
                skb.protocol = eth_type_trans(skb, self)
                skb.napi_id = napi_id  # skb_mark_napi_id
                napi_gro_receive(napi, skb)
            stats.rx_packets += good
            stats.rx_bytes += nbytes
            work += len(frames)
            if len(frames) < want:  # the fd ran dry
                break
            want = budget - work
        if work < budget:
            napi_complete_done(napi, work)
        return work

    def _fail(self, exc: OSError) -> None:
        """A read error: the fd is unusable; stop watching it and report."""
        self.stats.rx_errors += 1
        if self.fatal is None:
            self.fatal = exc
        self._unwatch()
        cb = self.on_fatal
        if cb is not None:
            cb(exc)

    # -- transmit -------------------------------------------------------------------
    def ndo_start_xmit(self, skb: SkBuff, txq: NetdevQueue) -> int:
        """start_xmit: one writev of header + skb; a frame the kernel does not take is
        dropped with its reason (queue full: FULL_RING; the kernel's side down:
        DEV_READY; a refused header or frame: DEV_HDR)."""
        tap = self.tap
        tst = tap.stats
        length = skb.len
        dropped = tst.tx_dropped
        try:
            ok = tap.xmit_skb(skb)
        except OSError:
            ok = False
        st = self.stats
        if ok:
            st.tx_packets += 1
            st.tx_bytes += length
            self.host.consume_skb(skb, "start_xmit")
            return NETDEV_TX_OK
        if tst.tx_dropped != dropped:
            st.tx_dropped += 1
            reason = _FULL_RING
        else:
            st.tx_errors += 1
            reason = _DEV_READY if not self._peer_up() else _DEV_HDR
        self.host.kfree_skb(skb, reason, "start_xmit")
        return NETDEV_TX_OK

    def _peer_up(self) -> bool:
        """Is the kernel's side of the TAP up (tun_get_user refuses with EIO if not)?"""
        tap = self.tap
        if tap.closed:
            return False
        try:
            return tap.ifconfig.is_up(tap.name)
        except OSError:
            return False

    # -- ethtool --------------------------------------------------------------------
    def get_drvinfo(self) -> dict[str, str]:
        """get_drvinfo: the driver and the kernel TAP it is bound to."""
        info = super().get_drvinfo()
        info["bus-info"] = f"tap:{self.tap.name}"
        return info

    def get_ethtool_stats(self) -> list[tuple[str, int]]:
        """ethtool -S: the TAP's counters, then the interrupt and poll counts."""
        out = [(f"tap_{k}", v) for k, v in self.tap.stats.as_dict().items()]
        out += [("rx_irqs", self.rx_irqs), ("rx_irqs_masked", self.rx_irqs_masked),
                ("rx_polls", self.rx_polls)]
        napi = self.napi
        if napi is not None and napi.gro is not None:
            gstats = getattr(napi.gro, "stats", None)
            if gstats is not None and hasattr(gstats, "__slots__"):
                out += [(f"gro_{k}", int(getattr(gstats, k))) for k in gstats.__slots__]
        return out


def tapdev_init(host: Host, tap: TapDevice, name: str | None = None, *,
                mac: bytes | None = None, mtu: int | None = None, up: bool = True
                ) -> TapNetDevice:
    """Register tuxnet's device on ``tap`` with ``host`` (whose loop must be a
    RealLoop) and, by default, open it."""
    dev = TapNetDevice(tap, name, mac=mac, mtu=mtu)
    register_netdevice(host, dev)
    if up:
        dev_open(dev)
    return dev
