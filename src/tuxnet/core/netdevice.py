"""struct net_device: flags, features, queues with descriptor rings, statistics.

A driver subclasses :class:`NetDevice` and overrides the ``ndo_*`` operations (and the
ethtool ones it supports); the device core (``tuxnet.core.dev``) calls them. Register a
device with ``tuxnet.core.netcore.register_netdevice(host, dev)`` and bring it up with
``tuxnet.core.dev.dev_open(dev)``.

Statistics follow Linux's split: ``dev.stats`` is what the driver counts (struct
rtnl_link_stats64 fields, all of them), ``dev.core_stats`` what the core counts itself
(rx_dropped, tx_dropped, rx_nohandler, rx_otherhost_dropped); ``dev_get_stats`` in
``tuxnet.core.dev`` adds them as Linux's dev_get_stats does. Per-queue counters are
reported by each driver's ``get_ethtool_stats`` under its own names (ethtool -S).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tuxnet.core.ring import Ringparam, RxRing, TxRing, ethtool_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuxnet.core.cpu import IrqLine
    from tuxnet.core.napi import NapiStruct
    from tuxnet.core.netcore import NetCore
    from tuxnet.core.rps import RpsDevFlowTable
    from tuxnet.host import Host
    from tuxnet.skb import SkbCounters, SkBuff

__all__ = [
    "ETH_MAX_MTU",
    "ETH_MIN_MTU",
    "IFF_ALLMULTI",
    "IFF_BROADCAST",
    "IFF_LOOPBACK",
    "IFF_LOWER_UP",
    "IFF_MULTICAST",
    "IFF_NOARP",
    "IFF_NO_QUEUE",
    "IFF_PROMISC",
    "IFF_RUNNING",
    "IFF_UP",
    "NETDEV_FEATURE_NAMES",
    "NETIF_F_ALL_TSO",
    "NETIF_F_CSUM_MASK",
    "NETIF_F_GRO",
    "NETIF_F_GSO",
    "NETIF_F_HIGHDMA",
    "NETIF_F_HW_CSUM",
    "NETIF_F_IP_CSUM",
    "NETIF_F_LOOPBACK",
    "NETIF_F_LRO",
    "NETIF_F_RXCSUM",
    "NETIF_F_RXHASH",
    "NETIF_F_SG",
    "NETIF_F_TSO",
    "RTNL_LINK_STATS64_FIELDS",
    "Channels",
    "Coalesce",
    "CoreStats",
    "NetDevice",
    "NetdevQueue",
    "NetdevRxQueue",
    "RtnlLinkStats64",
    "feature_mask",
]

# include/uapi/linux/if.h: net_device_flags
IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_LOOPBACK = 0x8
IFF_POINTOPOINT = 0x10
IFF_RUNNING = 0x40
IFF_NOARP = 0x80
IFF_PROMISC = 0x100
IFF_ALLMULTI = 0x200
IFF_MULTICAST = 0x1000
IFF_LOWER_UP = 0x10000
# include/linux/netdevice.h: netdev_priv_flags
IFF_NO_QUEUE = 1 << 21

ETH_MIN_MTU = 68  # include/uapi/linux/if_ether.h
ETH_MAX_MTU = 0xFFFF
DEFAULT_TX_QUEUE_LEN = 1000  # include/linux/netdevice.h

# include/linux/netdev_features.h: enum netdev_features bit numbers (6.1 layout, the one
# tuxnet.core.gso uses; the bit positions are not ABI, the names are)
NETIF_F_SG = 1 << 0
NETIF_F_IP_CSUM = 1 << 1
NETIF_F_HW_CSUM = 1 << 3
NETIF_F_IPV6_CSUM = 1 << 4
NETIF_F_HIGHDMA = 1 << 5
NETIF_F_FRAGLIST = 1 << 6
NETIF_F_HW_VLAN_CTAG_TX = 1 << 7
NETIF_F_HW_VLAN_CTAG_RX = 1 << 8
NETIF_F_HW_VLAN_CTAG_FILTER = 1 << 9
NETIF_F_VLAN_CHALLENGED = 1 << 10
NETIF_F_GSO = 1 << 11
NETIF_F_LLTX = 1 << 12
NETIF_F_NETNS_LOCAL = 1 << 13
NETIF_F_GRO = 1 << 14
NETIF_F_LRO = 1 << 15
NETIF_F_TSO = 1 << 16
NETIF_F_GSO_ROBUST = 1 << 17
NETIF_F_TSO_ECN = 1 << 18
NETIF_F_TSO_MANGLEID = 1 << 19
NETIF_F_TSO6 = 1 << 20
NETIF_F_GSO_UDP_L4 = 1 << 33
NETIF_F_GSO_FRAGLIST = 1 << 34
NETIF_F_SCTP_CRC = 1 << 36
NETIF_F_NTUPLE = 1 << 38
NETIF_F_RXHASH = 1 << 39
NETIF_F_RXCSUM = 1 << 40
NETIF_F_LOOPBACK = 1 << 42
NETIF_F_RXFCS = 1 << 43
NETIF_F_RXALL = 1 << 44
NETIF_F_GRO_HW = 1 << 55
NETIF_F_GRO_FRAGLIST = 1 << 57

NETIF_F_CSUM_MASK = NETIF_F_IP_CSUM | NETIF_F_IPV6_CSUM | NETIF_F_HW_CSUM
NETIF_F_ALL_TSO = NETIF_F_TSO | NETIF_F_TSO6 | NETIF_F_TSO_ECN | NETIF_F_TSO_MANGLEID
NETIF_F_GSO_SOFTWARE = NETIF_F_ALL_TSO | NETIF_F_GSO_UDP_L4 | NETIF_F_GSO_FRAGLIST

# net/ethtool/common.c: netdev_features_strings
NETDEV_FEATURE_NAMES: dict[int, str] = {
    NETIF_F_SG: "tx-scatter-gather",
    NETIF_F_IP_CSUM: "tx-checksum-ipv4",
    NETIF_F_HW_CSUM: "tx-checksum-ip-generic",
    NETIF_F_IPV6_CSUM: "tx-checksum-ipv6",
    NETIF_F_HIGHDMA: "highdma",
    NETIF_F_FRAGLIST: "tx-scatter-gather-fraglist",
    NETIF_F_HW_VLAN_CTAG_TX: "tx-vlan-hw-insert",
    NETIF_F_HW_VLAN_CTAG_RX: "rx-vlan-hw-parse",
    NETIF_F_HW_VLAN_CTAG_FILTER: "rx-vlan-filter",
    NETIF_F_VLAN_CHALLENGED: "vlan-challenged",
    NETIF_F_GSO: "tx-generic-segmentation",
    NETIF_F_LLTX: "tx-lockless",
    NETIF_F_NETNS_LOCAL: "netns-local",
    NETIF_F_GRO: "rx-gro",
    NETIF_F_LRO: "rx-lro",
    NETIF_F_TSO: "tx-tcp-segmentation",
    NETIF_F_GSO_ROBUST: "tx-gso-robust",
    NETIF_F_TSO_ECN: "tx-tcp-ecn-segmentation",
    NETIF_F_TSO_MANGLEID: "tx-tcp-mangleid-segmentation",
    NETIF_F_TSO6: "tx-tcp6-segmentation",
    NETIF_F_GSO_UDP_L4: "tx-udp-segmentation",
    NETIF_F_GSO_FRAGLIST: "tx-gso-list",
    NETIF_F_SCTP_CRC: "tx-checksum-sctp",
    NETIF_F_NTUPLE: "rx-ntuple-filter",
    NETIF_F_RXHASH: "rx-hashing",
    NETIF_F_RXCSUM: "rx-checksum",
    NETIF_F_LOOPBACK: "loopback",
    NETIF_F_RXFCS: "rx-fcs",
    NETIF_F_RXALL: "rx-all",
    NETIF_F_GRO_HW: "rx-gro-hw",
    NETIF_F_GRO_FRAGLIST: "rx-gro-list",
}
_BY_NAME = {name: bit for bit, name in NETDEV_FEATURE_NAMES.items()}
# ethtool's legacy -k/-K names (ethtool.c off_flag_def): each covers a feature group
_LEGACY: dict[str, int] = {
    "rx": NETIF_F_RXCSUM, "rx-checksumming": NETIF_F_RXCSUM,
    "tx": NETIF_F_CSUM_MASK | NETIF_F_SCTP_CRC,
    "tx-checksumming": NETIF_F_CSUM_MASK | NETIF_F_SCTP_CRC,
    "sg": NETIF_F_SG | NETIF_F_FRAGLIST, "scatter-gather": NETIF_F_SG | NETIF_F_FRAGLIST,
    "tso": NETIF_F_ALL_TSO, "tcp-segmentation-offload": NETIF_F_ALL_TSO,
    "gso": NETIF_F_GSO, "generic-segmentation-offload": NETIF_F_GSO,
    "gro": NETIF_F_GRO, "generic-receive-offload": NETIF_F_GRO,
    "lro": NETIF_F_LRO, "large-receive-offload": NETIF_F_LRO,
    "rxhash": NETIF_F_RXHASH, "receive-hashing": NETIF_F_RXHASH,
    "ntuple": NETIF_F_NTUPLE, "ntuple-filters": NETIF_F_NTUPLE,
    "rxvlan": NETIF_F_HW_VLAN_CTAG_RX, "rx-vlan-offload": NETIF_F_HW_VLAN_CTAG_RX,
    "txvlan": NETIF_F_HW_VLAN_CTAG_TX, "tx-vlan-offload": NETIF_F_HW_VLAN_CTAG_TX,
}


def feature_mask(name: str) -> int:
    """The NETIF_F_* bits of a feature name: a netdev_features_strings name
    (``rx-gro``) or one of ethtool's legacy group names (``gro``,
    ``generic-receive-offload``, ``tx-checksumming`` ...). ValueError if unknown."""
    bit = _BY_NAME.get(name)
    if bit is not None:
        return bit
    mask = _LEGACY.get(name)
    if mask is None:
        raise ValueError(f"unknown feature {name!r}")
    return mask


# include/uapi/linux/if_link.h: struct rtnl_link_stats64, in order
RTNL_LINK_STATS64_FIELDS = (
    "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors",
    "rx_dropped", "tx_dropped", "multicast", "collisions", "rx_length_errors",
    "rx_over_errors", "rx_crc_errors", "rx_frame_errors", "rx_fifo_errors",
    "rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors",
    "tx_heartbeat_errors", "tx_window_errors", "rx_compressed", "tx_compressed",
    "rx_nohandler", "rx_otherhost_dropped",
)


class RtnlLinkStats64:
    """struct rtnl_link_stats64 (what ``ip -s -s link`` and /proc/net/dev show)."""

    __slots__ = RTNL_LINK_STATS64_FIELDS

    def __init__(self) -> None:
        for name in RTNL_LINK_STATS64_FIELDS:
            setattr(self, name, 0)

    # declared for type checkers (the slots are set in __init__)
    rx_packets: int
    tx_packets: int
    rx_bytes: int
    tx_bytes: int
    rx_errors: int
    tx_errors: int
    rx_dropped: int
    tx_dropped: int
    multicast: int
    collisions: int
    rx_length_errors: int
    rx_over_errors: int
    rx_crc_errors: int
    rx_frame_errors: int
    rx_fifo_errors: int
    rx_missed_errors: int
    tx_aborted_errors: int
    tx_carrier_errors: int
    tx_fifo_errors: int
    tx_heartbeat_errors: int
    tx_window_errors: int
    rx_compressed: int
    tx_compressed: int
    rx_nohandler: int
    rx_otherhost_dropped: int

    def as_dict(self) -> dict[str, int]:
        """Every field by name, in struct order."""
        return {name: getattr(self, name) for name in RTNL_LINK_STATS64_FIELDS}

    def copy(self) -> RtnlLinkStats64:
        """A snapshot."""
        out = RtnlLinkStats64()
        for name in RTNL_LINK_STATS64_FIELDS:
            setattr(out, name, getattr(self, name))
        return out

    def __repr__(self) -> str:
        nonzero = {k: v for k, v in self.as_dict().items() if v}
        return f"<RtnlLinkStats64 {nonzero}>"


class CoreStats:
    """struct net_device_core_stats: drops the device core counts itself."""

    __slots__ = ("rx_dropped", "rx_nohandler", "rx_otherhost_dropped", "tx_dropped")

    def __init__(self) -> None:
        self.rx_dropped = 0
        self.tx_dropped = 0
        self.rx_nohandler = 0
        self.rx_otherhost_dropped = 0


@dataclass(frozen=True, slots=True)
class Coalesce:
    """struct ethtool_coalesce, the fields tuxnet models (ethtool -c/-C): an RX
    interrupt fires when ``rx_max_frames`` frames wait or ``rx_usecs`` after the first
    unsignalled frame, whichever first (0 disables that trigger; both 0 is invalid,
    rx_usecs 0 + rx_max_frames 1 = an interrupt per frame). Adaptive moderation is not
    modelled (always off)."""

    rx_usecs: int = 0
    rx_max_frames: int = 1
    tx_usecs: int = 0
    tx_max_frames: int = 1
    use_adaptive_rx: bool = False
    use_adaptive_tx: bool = False


@dataclass(frozen=True, slots=True)
class Channels:
    """struct ethtool_channels (ethtool -l): maximums and current counts."""

    max_rx: int
    max_tx: int
    max_other: int
    max_combined: int
    rx_count: int
    tx_count: int
    other_count: int
    combined_count: int


class NetdevQueue:
    """struct netdev_queue: one TX queue (and its hardware ring, if any)."""

    __slots__ = ("dev", "index", "ring", "scheduled", "stopped", "trans_start", "tx_bytes",
                 "tx_packets", "tx_restart", "tx_stop")

    def __init__(self, dev: NetDevice, index: int) -> None:
        self.dev = dev
        self.index = index
        self.ring: TxRing | None = None
        self.stopped = False  # __QUEUE_STATE_DRV_XOFF
        self.scheduled = False  # __QDISC_STATE_SCHED: on a CPU's output_queue
        self.trans_start = 0
        self.tx_packets = 0
        self.tx_bytes = 0
        self.tx_stop = 0  # times netif_tx_stop_queue stopped it
        self.tx_restart = 0  # times netif_tx_wake_queue restarted it

    def __repr__(self) -> str:
        return f"<NetdevQueue {self.dev.name} tx-{self.index} stopped={self.stopped}>"


class NetdevRxQueue:
    """struct netdev_rx_queue: one RX queue, its ring, NAPI instance and IRQ line, and
    its RPS map and RFS flow table (sysfs queues/rx-N/rps_cpus and rps_flow_cnt, read
    and written as text through the ``rps_cpus`` / ``rps_flow_cnt`` properties)."""

    __slots__ = ("dev", "drops", "index", "irq", "napi", "ring", "rps_flow_table", "rps_map",
                 "rx_bytes", "rx_packets")

    def __init__(self, dev: NetDevice, index: int) -> None:
        self.dev = dev
        self.index = index
        self.ring: RxRing | None = None
        self.napi: NapiStruct | None = None
        self.irq: IrqLine | None = None
        self.rx_packets = 0
        self.rx_bytes = 0
        self.drops = 0  # ring-full drops of this queue
        self.rps_map: list[int] | None = None  # struct rps_map: the CPUs, in order
        self.rps_flow_table: RpsDevFlowTable | None = None  # struct rps_dev_flow_table

    def __repr__(self) -> str:
        return f"<NetdevRxQueue {self.dev.name} rx-{self.index}>"

    @property
    def rps_cpus(self) -> str:
        """queues/rx-N/rps_cpus as cat prints it (show_rps_map), without the newline."""
        from tuxnet.core.rps import show_rps_map

        return show_rps_map(self)

    @rps_cpus.setter
    def rps_cpus(self, mask: str) -> None:
        """echo MASK > queues/rx-N/rps_cpus (store_rps_map; OSError on bad input)."""
        from tuxnet.core.rps import store_rps_map

        store_rps_map(self, mask)

    @property
    def rps_flow_cnt(self) -> int:
        """queues/rx-N/rps_flow_cnt (show_rps_dev_flow_table_cnt)."""
        table = self.rps_flow_table
        return 0 if table is None else len(table.flows)

    @rps_flow_cnt.setter
    def rps_flow_cnt(self, count: int | str) -> None:
        """echo N > queues/rx-N/rps_flow_cnt (store_rps_dev_flow_table_cnt)."""
        from tuxnet.core.rps import store_rps_dev_flow_table_cnt

        store_rps_dev_flow_table_cnt(self, str(count))


_RX_MODES = ("napi", "legacy")


class NetDevice:
    """struct net_device plus its net_device_ops and ethtool_ops (override in drivers).

    Set before registration: ``name``, queue counts, ``mtu``, ``dev_addr``. Set by
    ``register_netdevice``: ``host``, ``core``, ``ifindex``, a random ``dev_addr`` if
    none was given, ``rss_key``.
    """

    driver_name: ClassVar[str] = "generic"
    driver_version: ClassVar[str] = "1.0"

    host: Host
    core: NetCore

    def __init__(self, name: str, *, num_rx_queues: int = 1, num_tx_queues: int = 1,
                 real_num_rx_queues: int | None = None, real_num_tx_queues: int | None = None,
                 mtu: int = 1500, min_mtu: int = ETH_MIN_MTU, max_mtu: int = ETH_MAX_MTU,
                 dev_addr: bytes | None = None, flags: int = IFF_BROADCAST | IFF_MULTICAST,
                 features: int = 0, hw_features: int = 0, priv_flags: int = 0,
                 tx_queue_len: int = DEFAULT_TX_QUEUE_LEN) -> None:
        if not name or len(name) > 15 or "/" in name or " " in name:
            raise ValueError(f'"{name}" is not a valid device name')  # dev_valid_name
        if num_rx_queues < 1 or num_tx_queues < 1:
            raise ValueError("a device needs at least one RX and one TX queue")
        self.name = name
        self.ifindex = 0
        self.flags = flags
        self.priv_flags = priv_flags
        self.features = features
        self.hw_features = hw_features  # the features ethtool -K may change
        self.min_mtu = min_mtu
        self.max_mtu = max_mtu
        self.mtu = mtu
        self.hard_header_len = 14
        self.dev_addr = dev_addr if dev_addr is not None else b""
        self.broadcast = b"\xff" * 6
        self.tx_queue_len = tx_queue_len
        self.carrier = False
        self.operstate = "DOWN"
        self.num_rx_queues = num_rx_queues
        self.num_tx_queues = num_tx_queues
        self.real_num_rx_queues = real_num_rx_queues or num_rx_queues
        self.real_num_tx_queues = real_num_tx_queues or num_tx_queues
        self.rx_queues = [NetdevRxQueue(self, i) for i in range(num_rx_queues)]
        self.tx_queues = [NetdevQueue(self, i) for i in range(num_tx_queues)]
        self.stats = RtnlLinkStats64()
        self.core_stats = CoreStats()
        self.qdisc: Any = None  # the root qdisc (tuxnet.core.sched); None = built-in
        self.rx_handler: Callable[[SkBuff], int] | None = None  # bridge/bond seam
        self.ptype_all: list[Any] = []  # taps on this device only
        self.ptype_specific: dict[int, list[Any]] = {}
        self.rss_key = b""
        self.rss_indir: list[int] = []
        self.rss_indir_user = False  # netif_is_rxfh_configured
        self.skb_counters: SkbCounters | None = None
        self._rx_mode = "napi"
        self.priv: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} ifindex={self.ifindex}>"

    # -- receive model ----------------------------------------------------------------
    @property
    def rx_mode(self) -> str:
        """"napi" (mask the IRQ, poll with a budget) or "legacy" (pre-2.5 drivers: the
        IRQ handler takes each packet and calls netif_rx)."""
        return self._rx_mode

    @rx_mode.setter
    def rx_mode(self, mode: str) -> None:
        if mode not in _RX_MODES:
            raise ValueError(f"rx_mode must be one of {_RX_MODES}, not {mode!r}")
        self._rx_mode = mode

    # -- net_device_ops ---------------------------------------------------------------
    def ndo_init(self) -> None:
        """ndo_init: called by register_netdevice once ``host``/``core`` are set."""

    def ndo_uninit(self) -> None:
        """ndo_uninit: called when the device is unregistered."""

    def ndo_open(self) -> None:
        """ndo_open: bring the hardware up (dev_open calls it)."""

    def ndo_stop(self) -> None:
        """ndo_stop: bring the hardware down (dev_close calls it)."""

    def ndo_start_xmit(self, skb: SkBuff, txq: NetdevQueue) -> int:
        """ndo_start_xmit: take ``skb`` for transmission on ``txq``; NETDEV_TX_OK, or
        NETDEV_TX_BUSY to have it requeued (the queue must then be stopped)."""
        raise NotImplementedError(f"{type(self).__name__} cannot transmit")

    def ndo_get_stats64(self) -> RtnlLinkStats64:
        """ndo_get_stats64: the driver's counters (a copy)."""
        return self.stats.copy()

    def ndo_change_mtu(self, mtu: int) -> None:
        """ndo_change_mtu."""
        self.mtu = mtu

    def set_mtu(self, mtu: int) -> None:
        """dev_set_mtu: EINVAL outside [min_mtu, max_mtu] (dev_validate_mtu)."""
        if mtu < self.min_mtu or mtu > self.max_mtu:
            raise ethtool_error(errno.EINVAL, f"mtu {mtu} outside {self.min_mtu}..{self.max_mtu}")
        self.ndo_change_mtu(mtu)

    # -- ethtool_ops ------------------------------------------------------------------
    def get_drvinfo(self) -> dict[str, str]:
        """get_drvinfo (ethtool -i)."""
        return {"driver": self.driver_name, "version": self.driver_version,
                "firmware-version": "", "expansion-rom-version": "", "bus-info": "",
                "supports-statistics": "yes" if type(self).get_ethtool_stats
                is not NetDevice.get_ethtool_stats else "no",
                "supports-test": "no", "supports-eeprom-access": "no",
                "supports-register-dump": "no", "supports-priv-flags": "no"}

    def get_ethtool_stats(self) -> list[tuple[str, int]]:
        """get_strings + get_ethtool_stats (ethtool -S): (name, value) in driver order."""
        raise ethtool_error(errno.EOPNOTSUPP, f"{self.name}: no statistics")

    def get_ringparam(self) -> Ringparam:
        """get_ringparam (ethtool -g)."""
        raise ethtool_error(errno.EOPNOTSUPP, f"{self.name}: ring parameters")

    def set_ringparam(self, rx: int | None = None, rx_mini: int | None = None,
                      rx_jumbo: int | None = None, tx: int | None = None) -> Ringparam:
        """set_ringparam (ethtool -G); returns what was set."""
        raise ethtool_error(errno.EOPNOTSUPP, f"{self.name}: ring parameters")

    def get_coalesce(self) -> Coalesce:
        """get_coalesce (ethtool -c)."""
        raise ethtool_error(errno.EOPNOTSUPP, f"{self.name}: coalescing parameters")

    def set_coalesce(self, **params: int | bool) -> Coalesce:
        """set_coalesce (ethtool -C rx-usecs N ...: keyword names as Coalesce fields)."""
        raise ethtool_error(errno.EOPNOTSUPP, f"{self.name}: coalescing parameters")

    def get_channels(self) -> Channels:
        """get_channels (ethtool -l)."""
        raise ethtool_error(errno.EOPNOTSUPP, f"{self.name}: channel parameters")

    def set_channels(self, rx: int | None = None, tx: int | None = None,
                     combined: int | None = None) -> Channels:
        """set_channels (ethtool -L)."""
        raise ethtool_error(errno.EOPNOTSUPP, f"{self.name}: channel parameters")

    # -- features -----------------------------------------------------------------------
    def feature_on(self, name: str) -> bool:
        """Is every bit of feature ``name`` on?"""
        mask = feature_mask(name)
        return self.features & mask == mask

    def set_features(self, changes: dict[str, bool]) -> int:
        """ethtool -K: turn features on/off by name. Bits outside ``hw_features`` are
        fixed and left alone; a request that changes nothing changeable raises
        OSError(EOPNOTSUPP) ("Could not change any device features"). Returns the new
        features."""
        want = self.features
        asked = 0
        for name, on in changes.items():
            mask = feature_mask(name)
            asked |= mask
            want = want | mask if on else want & ~mask
        changeable = asked & self.hw_features
        new = (self.features & ~changeable) | (want & changeable)
        if new == self.features and want & asked != self.features & asked:
            raise ethtool_error(errno.EOPNOTSUPP, "Could not change any device features")
        old = self.features
        self.features = new
        if (old ^ new) & NETIF_F_GRO:
            self._sync_gro()
        self.ndo_set_features(new)
        return new

    def _sync_gro(self) -> None:
        """Give each NAPI instance a GRO engine, or take it away (flushing it)."""
        factory = getattr(self, "core", None) and self.core.gro_factory
        on = bool(self.features & NETIF_F_GRO)
        for q in self.rx_queues:
            napi = q.napi
            if napi is None:
                continue
            if napi.gro is not None and not on:
                napi.gro.flush()
                napi.gro = None
            elif napi.gro is None and on and factory:
                napi.gro = factory(napi)

    def ndo_set_features(self, features: int) -> None:
        """ndo_set_features: the driver applies a features change."""

    # -- queues ---------------------------------------------------------------------------
    def set_irq_affinity(self, queue: int, cpu: int) -> None:
        """/proc/irq/N/smp_affinity_list for queue ``queue``'s interrupt."""
        line = self.rx_queues[queue].irq
        if line is None:
            raise ethtool_error(errno.EOPNOTSUPP, f"{self.name}: queue {queue} has no IRQ")
        ncpus = self.core.host.ncpus
        if not 0 <= cpu < ncpus:
            raise ethtool_error(errno.EINVAL, f"cpu {cpu} not in 0..{ncpus - 1}")
        line.cpu = cpu

    def is_up(self) -> bool:
        """netif_running: IFF_UP."""
        return bool(self.flags & IFF_UP)
