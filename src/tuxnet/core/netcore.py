"""The device core of one host: its CPUs, softnet data, protocol registry and hooks.

``get_core(host)`` returns the host's :class:`NetCore` (created on first use)::

    core = get_core(host)                    # core.cpus[i], core.softnet[i]
    register_netdevice(host, dev)            # ifindex, MAC, rss key, ndo_init
    pt = register_protocol_handler(host, ETH_P_IP, ip_rcv)   # fn(skb, dev)
    tap = add_packet_tap(host, fn)           # ETH_P_ALL, every frame in and out
    core.get_rps_cpu = my_rps                # (dev, skb) -> cpu index or -1
    core.set_costs(replace(core.costs, ...)) # the CPU cost table

Hooks for the layers built by others: ``get_rps_cpu`` (RPS/RFS steering, called by
netif_receive_skb and netif_rx; ``core.rps``, a tuxnet.core.rps.RpsState, installs it
while a queue has rps_cpus or net.core.rps_sock_flow_entries is set), ``gro_factory``
(a GRO engine per NAPI instance of a device with NETIF_F_GRO, see ``netif_napi_add``),
``validate_xmit`` (GSO/checksum before ndo_start_xmit; wired to tuxnet.core.gso when
that module is present).

In virtual time (SimLoop) the CPUs charge costs; on a RealLoop they do not.
"""

from __future__ import annotations

import importlib
import random
import weakref
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from tuxnet.core.costs import DEFAULT_COSTS, CpuCosts
from tuxnet.core.cpu import NET_RX_SOFTIRQ, NET_TX_SOFTIRQ, Cpu, IrqHandler, IrqLine
from tuxnet.core.dev import (
    ETH_P_ALL,
    PacketType,
    dev_close,
    net_tx_action,
    netif_receive_skb,
    process_backlog,
    rps_trigger_softirq,
)
from tuxnet.core.napi import NAPI_POLL_WEIGHT, NapiStruct, PollFn, net_rx_action
from tuxnet.core.netdevice import NETIF_F_GRO, NetDevice
from tuxnet.core.rps import RpsState
from tuxnet.core.rss import ethtool_rxfh_indir_default, netdev_rss_key_fill
from tuxnet.core.softnet import SoftnetData, format_softnet_stat
from tuxnet.loop.sim import SimLoop
from tuxnet.tools import procfs

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.loop.base import TimerHandle
    from tuxnet.skb import SkBuff

__all__ = [
    "MIN_NAPI_ID",
    "NetCore",
    "add_packet_tap",
    "dev_add_pack",
    "dev_remove_pack",
    "get_core",
    "netif_napi_add",
    "register_netdevice",
    "register_protocol_handler",
    "request_irq",
    "unregister_netdevice",
]

# include/net/busy_poll.h: MIN_NAPI_ID = NR_CPUS + 1 (NR_CPUS 8192, distro x86_64)
MIN_NAPI_ID = 8193
CALL_FUNCTION_SINGLE_VECTOR = 0xFB  # arch/x86/include/asm/irq_vectors.h: the RPS IPI
FIRST_DEVICE_IRQ = 24  # x86: vectors below are the legacy ISA/IOAPIC pins

RpsHook = Callable[[NetDevice, "SkBuff"], int]


class NetCore:
    """Per-host device-core state (see the module doc)."""

    def __init__(self, host: Host, *, costs: CpuCosts = DEFAULT_COSTS,
                 charging: bool | None = None) -> None:
        self.host = host
        self.loop = host.loop
        self.costs = costs
        self.charging = isinstance(host.loop, SimLoop) if charging is None else charging
        n = host.ncpus
        self.softnet = [SoftnetData(i) for i in range(n)]
        self.cpus = [Cpu(host.loop, i, self.softnet[i], host=host, costs=costs,
                         charging=self.charging, ncpus=n) for i in range(n)]
        rx = partial(net_rx_action, core=self)
        tx = partial(net_tx_action, core=self)
        for cpu in self.cpus:
            cpu.open_softirq(NET_RX_SOFTIRQ, rx)
            cpu.open_softirq(NET_TX_SOFTIRQ, tx)
            cpu.sd.backlog.poll = process_backlog
        # protocol registry (ptype_base hashed by type, ptype_all)
        self.ptype_base: dict[int, list[PacketType]] = {}
        self.ptype_all: list[PacketType] = []
        # hooks
        # register_netdevice_notifier chain: fn(event, dev) with event a NETDEV_* name
        self.netdev_notifiers: list[Callable[[str, NetDevice], object]] = []
        self.get_rps_cpu: RpsHook | None = None
        self.rps_rflow: Any = None  # get_rps_cpu's *rflowp: the RFS flow it steered by
        self.gro_factory: Callable[[NapiStruct], Any] | None = None
        self.validate_xmit: Callable[[SkBuff, NetDevice], list[SkBuff]] | None = None
        self._wire_gso()
        self._wire_gro()
        # packets per driver poll call inside net_rx_action (1 = hardirqs may preempt
        # between any two packets; larger is faster to simulate, coarser)
        self.chunk_packets = 1
        self.qdisc_running: set[int] = set()
        self.qdisc_watchdogs: dict[int, TimerHandle] = {}
        self._next_napi_id = MIN_NAPI_ID
        self._next_irq = FIRST_DEVICE_IRQ
        self.irqs: list[IrqLine] = []
        # netdev_rss_key: one random key per boot (net/core/ethtool.c), from a stream of
        # its own so the host's rng sequence is not disturbed
        self.rss_key = netdev_rss_key_fill(random.Random(f"tuxnet:{host.seed}:{host.name}:rss"))
        tps = host.tracepoints
        self.tp_netif_receive_skb = tps["net:netif_receive_skb"]
        self.tp_netif_rx = tps["net:netif_rx"]
        self.tp_net_dev_queue = tps["net:net_dev_queue"]
        self.tp_net_dev_xmit = tps["net:net_dev_xmit"]
        self.tp_napi_poll = tps["napi:napi_poll"]
        # sysctls read on the hot path, kept current through watches
        self.netdev_budget = 0
        self.netdev_budget_usecs = 0
        self.netdev_max_backlog = 0
        self.dev_rx_weight = 0
        self.dev_tx_weight = 0
        sysctl = host.sysctl
        for name in ("net.core.netdev_budget", "net.core.netdev_budget_usecs",
                     "net.core.netdev_max_backlog", "net.core.dev_weight",
                     "net.core.dev_weight_rx_bias", "net.core.dev_weight_tx_bias"):
            sysctl.watch(name, self._sysctl_changed)
        self._sysctl_changed("", 0)
        # RPS: a per-CPU IPI line ("CAL" in /proc/interrupts) and the RPS/RFS state,
        # which installs get_rps_cpu while rps_cpus / rps_sock_flow_entries are set
        self.ipi_lines = [IrqLine(CALL_FUNCTION_SINGLE_VECTOR, "CAL", rps_trigger_softirq,
                                  i, ncpus=n) for i in range(n)]
        self.rps = RpsState(self)

    def __repr__(self) -> str:
        return f"<NetCore {self.host.name} ncpus={len(self.cpus)}>"

    def _sysctl_changed(self, name: str, value: object) -> None:
        get = self.host.sysctl.get_int
        self.netdev_budget = get("net.core.netdev_budget")
        self.netdev_budget_usecs = get("net.core.netdev_budget_usecs")
        self.netdev_max_backlog = get("net.core.netdev_max_backlog")
        weight = get("net.core.dev_weight")
        # net/core/sysctl_net_core.c proc_do_dev_weight: dev_rx_weight/dev_tx_weight
        self.dev_rx_weight = weight * get("net.core.dev_weight_rx_bias")
        self.dev_tx_weight = weight * get("net.core.dev_weight_tx_bias")
        for sd in self.softnet:
            sd.backlog.weight = self.dev_rx_weight

    def _wire_gso(self) -> None:
        try:
            gso = importlib.import_module("tuxnet.core.gso")
        except ImportError:
            return
        validate = getattr(gso, "validate_xmit_skb", None)
        if validate is None:
            return
        host = self.host

        def drop(skb: SkBuff, reason: Any) -> None:
            host.kfree_skb(skb, reason, "validate_xmit_skb")

        def validate_xmit(skb: SkBuff, dev: NetDevice) -> list[SkBuff]:
            segs: list[SkBuff] = validate(skb, dev.features, drop, consume=host.consume_skb)
            return segs

        self.validate_xmit = validate_xmit

    def _wire_gro(self) -> None:
        try:
            gro = importlib.import_module("tuxnet.core.gro")
        except ImportError:
            return
        cell = getattr(gro, "GroCell", None)
        if cell is None:
            return
        clock = self.loop.now_ns

        def factory(napi: NapiStruct) -> Any:
            return cell(netif_receive_skb, clock=clock)

        self.gro_factory = factory

    def set_costs(self, costs: CpuCosts) -> None:
        """Replace the cost table on every CPU."""
        self.costs = costs
        for cpu in self.cpus:
            cpu.costs = costs

    def this_cpu(self) -> Cpu:
        """The host's current CPU (the one running, or the last one that ran)."""
        return self.cpus[self.host.current_cpu]

    def alloc_napi_id(self) -> int:
        """napi_hash_add: the next napi_id."""
        nid = self._next_napi_id
        self._next_napi_id += 1
        return nid

    def softnet_totals(self) -> dict[str, int]:
        """softnet_stat counters summed over CPUs."""
        total: dict[str, int] = {}
        for sd in self.softnet:
            for k, v in sd.counters().items():
                total[k] = total.get(k, 0) + v
        return total


_CORES: weakref.WeakKeyDictionary[Host, NetCore] = weakref.WeakKeyDictionary()


def get_core(host: Host, *, costs: CpuCosts | None = None,
             charging: bool | None = None) -> NetCore:
    """The host's NetCore, created on first use (``costs``/``charging`` then apply;
    later ``costs`` replace the table)."""
    core = _CORES.get(host)
    if core is None:
        core = NetCore(host, costs=costs or DEFAULT_COSTS, charging=charging)
        _CORES[host] = core
    elif costs is not None:
        core.set_costs(costs)
    return core


# ---------------------------------------------------------------------------- devices

def register_netdevice_notifier(host: Host, fn: Callable[[str, NetDevice], object]) -> None:
    """register_netdevice_notifier: ``fn(event, dev)`` hears NETDEV_REGISTER, NETDEV_UP,
    NETDEV_DOWN, NETDEV_CHANGE (carrier), NETDEV_CHANGEMTU, NETDEV_CHANGEADDR and
    NETDEV_UNREGISTER for every device of ``host`` (registering twice is a no-op)."""
    chain = get_core(host).netdev_notifiers
    if fn not in chain:
        chain.append(fn)


def call_netdevice_notifiers(event: str, dev: NetDevice) -> None:
    """call_netdevice_notifiers: run the host's chain for one event, in order."""
    host = getattr(dev, "host", None)
    if host is None:
        return
    for fn in list(get_core(host).netdev_notifiers):
        fn(event, dev)


def register_netdevice(host: Host, dev: NetDevice) -> NetDevice:
    """register_netdevice: attach ``dev`` to ``host`` (ifindex, sysctls, a random
    locally administered MAC if it has none, the RSS key and default indirection
    table), then ndo_init. The device starts down: dev_open brings it up."""
    core = get_core(host)
    dev.host = host
    dev.core = core
    if not dev.dev_addr:
        rng = random.Random(f"tuxnet:{host.seed}:{host.name}:mac:{dev.name}")
        mac = bytearray(rng.getrandbits(8) for _ in range(6))
        mac[0] = (mac[0] & 0xFE) | 0x02  # eth_random_addr: unicast, locally administered
        dev.dev_addr = bytes(mac)
    if not dev.rss_key:
        dev.rss_key = core.rss_key
    if not dev.rss_indir_user:
        set_rss_indir_default(dev)
    host.register_netdev(dev)
    dev.ndo_init()
    core.rps.netdev_register(dev)
    call_netdevice_notifiers("NETDEV_REGISTER", dev)
    return dev


def unregister_netdevice(host: Host, dev: NetDevice) -> None:
    """unregister_netdevice: close, ndo_uninit, forget taps bound to it."""
    dev_close(dev)
    dev.ndo_uninit()
    dev.core.rps.netdev_unregister(dev)
    core = get_core(host)
    core.ptype_all[:] = [pt for pt in core.ptype_all if pt.dev is not dev]
    for lst in core.ptype_base.values():
        lst[:] = [pt for pt in lst if pt.dev is not dev]
    call_netdevice_notifiers("NETDEV_UNREGISTER", dev)
    host.unregister_netdev(dev.name)


def set_rss_indir_default(dev: NetDevice, size: int = 128) -> None:
    """The default RSS indirection table: ethtool_rxfh_indir_default over
    real_num_rx_queues (128 entries, as common drivers size it)."""
    n = dev.real_num_rx_queues
    dev.rss_indir = [ethtool_rxfh_indir_default(i, n) for i in range(size)]


def request_irq(dev: NetDevice, name: str, handler: IrqHandler, *, cpu: int = 0,
                data: Any = None) -> IrqLine:
    """request_irq: a new interrupt vector of ``dev`` delivered to ``cpu``."""
    core = dev.core
    line = IrqLine(core._next_irq, name, handler, cpu % len(core.cpus), data,
                   ncpus=len(core.cpus))
    core._next_irq += 1
    core.irqs.append(line)
    return line


def free_irq(dev: NetDevice, line: IrqLine) -> None:
    """free_irq."""
    core = dev.core
    if line in core.irqs:
        core.irqs.remove(line)


def netif_napi_add(dev: NetDevice, poll: PollFn, *, weight: int = NAPI_POLL_WEIGHT,
                   data: Any = None, name: str = "") -> NapiStruct:
    """netif_napi_add: a NAPI instance of ``dev`` with a napi_id and, when the device
    has NETIF_F_GRO and a GRO engine is registered (core.gro_factory), its GRO."""
    napi = NapiStruct(poll, weight, dev=dev, data=data, name=name or dev.name)
    core = dev.core
    napi.napi_id = core.alloc_napi_id()
    if core.gro_factory is not None and dev.features & NETIF_F_GRO:
        napi.gro = core.gro_factory(napi)
    return napi


# ----------------------------------------------------------------------- protocol registry

def dev_add_pack(host: Host, pt: PacketType) -> PacketType:
    """dev_add_pack: ETH_P_ALL goes to ptype_all (taps), others to ptype_base; bound
    to one device when ``pt.dev`` is set."""
    core = get_core(host)
    if pt.type == ETH_P_ALL:
        (pt.dev.ptype_all if pt.dev is not None else core.ptype_all).append(pt)
    elif pt.dev is not None:
        pt.dev.ptype_specific.setdefault(pt.type, []).append(pt)
    else:
        core.ptype_base.setdefault(pt.type, []).append(pt)
    return pt


def dev_remove_pack(host: Host, pt: PacketType) -> None:
    """dev_remove_pack (ValueError if it was not added)."""
    core = get_core(host)
    if pt.type == ETH_P_ALL:
        lst = pt.dev.ptype_all if pt.dev is not None else core.ptype_all
    elif pt.dev is not None:
        lst = pt.dev.ptype_specific.get(pt.type, [])
    else:
        lst = core.ptype_base.get(pt.type, [])
    if pt not in lst:
        raise ValueError(f"dev_remove_pack: {pt!r} not found")
    lst.remove(pt)


def register_protocol_handler(host: Host, ethertype: int,
                              fn: Callable[[SkBuff, NetDevice], object], *,
                              dev: NetDevice | None = None, name: str = "") -> PacketType:
    """Register ``fn(skb, dev)`` for frames whose protocol is ``ethertype`` (ip_rcv for
    ETH_P_IP, arp_rcv for ETH_P_ARP ...). ``fn`` runs in softirq context on the
    receiving CPU, owns ``skb`` and charges its own costs. Returns the PacketType to
    pass to dev_remove_pack."""
    if ethertype == ETH_P_ALL:
        raise ValueError("use add_packet_tap for ETH_P_ALL")
    return dev_add_pack(host, PacketType(ethertype, fn, dev=dev, name=name))


def add_packet_tap(host: Host, fn: Callable[[SkBuff, NetDevice], object], *,
                   dev: NetDevice | None = None, name: str = "") -> PacketType:
    """A ptype_all tap (AF_PACKET / pcap): ``fn(skb, dev)`` sees every received frame
    (data after the Ethernet header, mac_header set) and every transmitted one
    (PACKET_OUTGOING, data at the Ethernet header). It gets its own reference: it must
    not change the skb and must release it with host.consume_skb(skb)."""
    return dev_add_pack(host, PacketType(ETH_P_ALL, fn, dev=dev, name=name))


procfs.register("/proc/net/softnet_stat", format_softnet_stat)
