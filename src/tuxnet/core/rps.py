"""Receive Packet Steering, Receive Flow Steering and the backlog flow limit.

RPS (Documentation/networking/scaling.rst) moves protocol processing off the CPU that
took the NIC's interrupt: each RX queue has an ``rps_map`` (the CPUs of its sysfs
``queues/rx-N/rps_cpus`` mask); ``get_rps_cpu`` picks ``map[reciprocal_scale(hash,
len)]`` from the packet's flow hash and netif_receive_skb queues the packet on that
CPU's backlog, waking it with an inter-processor interrupt (received_rps there).

RFS steers a flow to the CPU where its consumer last called recvmsg: the socket layer
records ``hash -> cpu`` in the global ``rps_sock_flow_table`` (sized by sysctl
net.core.rps_sock_flow_entries) through :func:`sock_rps_record_flow`; each RX queue
has an ``rps_dev_flow_table`` (``rps_flow_cnt`` entries) remembering the CPU a flow
is being sent to and the backlog position of its last packet (``last_qtail``). A flow
moves to the desired CPU only once its old CPU's ``input_queue_head`` has passed
that position, so packets of one flow are never reordered.

The flow limit (scaling.rst "Flow Limit") protects a backlog from one heavy flow:
once a CPU's input_pkt_queue is over half of netdev_max_backlog, the CPU doing the
enqueue (one with a table, net.core.flow_limit_cpu_bitmap) tracks the last 128
packets' flows and drops a flow holding more than half of them (CPU_BACKLOG; the
softnet flow_limit_count column counts it).

Wiring: ``NetCore`` creates a :class:`RpsState` (``core.rps``) when it starts; the
state installs ``core.get_rps_cpu`` while anything is configured (Linux's rps_needed
static key). The socket layer calls ``sock_rps_save_rxhash(sk, skb)`` when it queues
a packet and ``sock_rps_record_flow(host, sk.sk_rxhash)`` from recvmsg.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Protocol

from tuxnet.core.cpu import current_cpu
from tuxnet.core.rss import toeplitz_hash

if TYPE_CHECKING:
    from tuxnet.core.netcore import NetCore
    from tuxnet.core.netdevice import NetDevice, NetdevRxQueue
    from tuxnet.core.softnet import SoftnetData
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = [
    "FLOW_LIMIT_HISTORY",
    "RPS_NO_CPU",
    "RpsDevFlow",
    "RpsDevFlowTable",
    "RpsSockFlowTable",
    "RpsState",
    "SdFlowLimit",
    "bitmap_parse",
    "cpumask_format",
    "get_rps",
    "netdev_rx_queue_set_rps_mask",
    "reciprocal_scale",
    "rps_record_sock_flow",
    "set_rps_cpu",
    "show_rps_map",
    "skb_get_hash",
    "sock_rps_record_flow",
    "sock_rps_save_rxhash",
    "store_rps_dev_flow_table_cnt",
    "store_rps_map",
    "sysfs_read",
    "sysfs_write",
]

RPS_NO_CPU = 0xFFFF  # include/net/rps.h
FLOW_LIMIT_HISTORY = 1 << 7  # net/core/dev.h: must be ^2 and !overflow buckets
_U32 = 0xFFFFFFFF
_ETH_P_IP = 0x0800
_PORT_PROTOS = frozenset((6, 17, 33, 132, 136))  # TCP, UDP, DCCP, SCTP, UDPLITE
_PROTO = struct.Struct("!H")
_MAX_DEV_FLOWS = 1 << 24  # tuxnet's ceiling for one rps_dev_flow_table (objects in memory)


# ------------------------------------------------------------------------- flow hash

def reciprocal_scale(val: int, ep_ro: int) -> int:
    """reciprocal_scale (include/linux/kernel.h): map a u32 onto [0, ep_ro)."""
    return (val * ep_ro) >> 32


def skb_get_hash(skb: SkBuff) -> int:
    """skb_get_hash: the NIC's L4 hash or a software hash already computed, else
    __skb_get_hash: dissect the IPv4 addresses and (unless a fragment) the TCP/UDP/
    SCTP/DCCP ports and hash them (sw_hash, l4_hash when ports were found).

    Linux hashes the dissected keys with siphash under a boot-time key; tuxnet uses the
    Toeplitz function the device's RSS uses over the same keys (src, dst, sport,
    dport), so a software hash equals the one an RSS NIC would have given."""
    if skb.l4_hash or skb.sw_hash:
        return skb.hash
    head = skb.head
    off = skb.data_off
    l4 = False
    if skb.protocol == _ETH_P_IP and skb.len >= 20 and head[off] >> 4 == 4:
        ihl = (head[off] & 0x0F) * 4
        key = bytes(head[off + 12:off + 20])
        frag = ((head[off + 6] << 8) | head[off + 7]) & 0x3FFF
        if head[off + 9] in _PORT_PROTOS and not frag and skb.len >= ihl + 4:
            key += bytes(head[off + ihl:off + ihl + 4])
            l4 = True
    else:
        key = _PROTO.pack(skb.protocol & 0xFFFF)
    dev = skb.dev
    rss_key = dev.rss_key if dev is not None and dev.rss_key else bytes(52)
    h = toeplitz_hash(rss_key, key) or 1  # __flow_hash_from_keys: never 0
    skb.hash = h
    skb.sw_hash = True
    skb.l4_hash = l4
    return h


# --------------------------------------------------------------------------- tables

class RpsDevFlow:
    """struct rps_dev_flow: the CPU a flow is steered to and the backlog position
    (that CPU's input_queue_tail) of its last packet."""

    __slots__ = ("cpu", "filter", "last_qtail")

    def __init__(self) -> None:
        self.cpu = RPS_NO_CPU
        self.filter = -1  # aRFS filter id (RPS_NO_FILTER); aRFS is not modelled
        self.last_qtail = 0


class RpsDevFlowTable:
    """struct rps_dev_flow_table: ``mask + 1`` flows of one RX queue."""

    __slots__ = ("flows", "mask")

    def __init__(self, size: int) -> None:
        self.mask = size - 1
        self.flows = [RpsDevFlow() for _ in range(size)]


class RpsSockFlowTable:
    """struct rps_sock_flow_table: per flow-hash bucket, the hash's upper bits ORed
    with the CPU of the last recvmsg (``cpu_mask`` covers the CPU bits)."""

    __slots__ = ("cpu_mask", "ents", "mask")

    def __init__(self, size: int, ncpus: int) -> None:
        self.mask = size - 1
        # rps_sock_flow_sysctl: rps_cpu_mask = roundup_pow_of_two(nr_cpu_ids) - 1
        self.cpu_mask = (1 << (ncpus - 1).bit_length()) - 1
        self.ents = [RPS_NO_CPU] * size


class SdFlowLimit:
    """struct sd_flow_limit of one CPU: bucket counts of the flows among the last
    FLOW_LIMIT_HISTORY packets it queued while a backlog was over half full."""

    __slots__ = ("buckets", "count", "history", "history_head", "num_buckets", "sd")

    def __init__(self, sd: SoftnetData, num_buckets: int) -> None:
        self.sd = sd
        self.num_buckets = num_buckets
        self.count = 0
        self.history_head = 0
        self.history = [0] * FLOW_LIMIT_HISTORY
        self.buckets = [0] * num_buckets

    def skb_flow_limit(self, skb: SkBuff) -> bool:
        """skb_flow_limit (the part past the half-full check, done by the caller):
        True if ``skb``'s flow holds more than half of the recent history (drop it)."""
        new = skb_get_hash(skb) & (self.num_buckets - 1)
        head = self.history_head
        old = self.history[head]
        self.history[head] = new
        self.history_head = (head + 1) & (FLOW_LIMIT_HISTORY - 1)
        buckets = self.buckets
        if buckets[old]:
            buckets[old] -= 1
        buckets[new] += 1
        if buckets[new] > FLOW_LIMIT_HISTORY >> 1:
            self.count += 1
            self.sd.flow_limit_count = self.count
            return True
        return False


def set_rps_cpu(core: NetCore, rflow: RpsDevFlow, next_cpu: int) -> RpsDevFlow:
    """set_rps_cpu: point ``rflow`` at ``next_cpu``, its queue position starting at that
    CPU's input_queue_head (aRFS's ndo_rx_flow_steer is not modelled)."""
    if next_cpu < len(core.cpus):
        rflow.last_qtail = core.cpus[next_cpu].sd.input_queue_head
    rflow.cpu = next_cpu
    return rflow


def rps_record_sock_flow(table: RpsSockFlowTable, hash: int, cpu: int) -> None:
    """rps_record_sock_flow: remember that ``hash``'s consumer runs on ``cpu``."""
    index = hash & table.mask
    val = (hash & ~table.cpu_mask & _U32) | cpu
    if table.ents[index] != val:
        table.ents[index] = val


class _RxHashSock(Protocol):
    sk_rxhash: int


def sock_rps_save_rxhash(sk: _RxHashSock, skb: SkBuff) -> None:
    """sock_rps_save_rxhash: keep the flow hash of the packet being queued on ``sk``
    (UDP does so only for connected sockets, TCP always)."""
    h = skb.hash
    if h and sk.sk_rxhash != h:
        sk.sk_rxhash = h


def sock_rps_record_flow(host: Host, hash: int) -> None:
    """sock_rps_record_flow / sock_rps_record_flow_hash: called from recvmsg with the
    socket's sk_rxhash; records the CPU running the caller in rps_sock_flow_table
    (nothing while net.core.rps_sock_flow_entries is 0 or the hash is 0)."""
    state = get_rps(host)
    table = state.sock_flow_table
    if table is None or not hash:
        return
    cpu = current_cpu()
    index = cpu.index if cpu is not None and cpu.host is host else host.current_cpu
    rps_record_sock_flow(table, hash, index)


# ------------------------------------------------------------------ cpumask text I/O

def bitmap_parse(text: str, nbits: int) -> int:
    """bitmap_parse: a hex mask, commas between 32-bit groups ("0" or "" = empty).
    OSError EINVAL for bad syntax, EOVERFLOW for bits at or above ``nbits``."""
    s = text.strip()
    if not s:
        return 0
    value = 0
    for group in s.split(","):
        if not group or len(group) > 8 or any(c not in "0123456789abcdefABCDEF" for c in group):
            raise OSError(errno.EINVAL, f"bad cpumask {text!r}")
        value = (value << 32) | int(group, 16)
    if value >> nbits:
        raise OSError(errno.EOVERFLOW, "Value too large for defined data type")
    return value


def cpumask_format(mask: int, nbits: int) -> str:
    """A cpumask as "%*pb" prints it: hex, ``nbits`` wide, 32-bit groups separated by
    commas (4 CPUs: "f"; 8 CPUs: "03"; 40 CPUs: "00,00000003")."""
    groups = []
    rest = nbits
    while rest > 0:
        bits = rest - 32 * ((rest - 1) // 32)
        shift = rest - bits
        groups.append(f"{(mask >> shift) & ((1 << bits) - 1):0{(bits + 3) // 4}x}")
        rest = shift
    return ",".join(groups)


# ----------------------------------------------------------------------- sysfs files

def netdev_rx_queue_set_rps_mask(queue: NetdevRxQueue, mask: int) -> None:
    """netdev_rx_queue_set_rps_mask: the queue's rps_map becomes the online CPUs of
    ``mask`` in order (none: no map), and the rps_needed key follows."""
    ncpus = len(queue.dev.core.cpus)
    cpus = [c for c in range(ncpus) if mask >> c & 1]
    old = queue.rps_map
    queue.rps_map = cpus or None
    state = get_rps_core(queue.dev.core)
    if queue.rps_map is not None:
        state.rps_needed_inc()
    if old is not None:
        state.rps_needed_dec()


def store_rps_map(queue: NetdevRxQueue, text: str) -> None:
    """store_rps_map (queues/rx-N/rps_cpus): parse the mask (bitmap_parse over the
    host's CPUs) and set it; "0" turns RPS off for the queue."""
    ncpus = len(queue.dev.core.cpus)
    netdev_rx_queue_set_rps_mask(queue, bitmap_parse(text, ncpus))


def show_rps_map(queue: NetdevRxQueue) -> str:
    """show_rps_map: the map's CPUs as a cpumask over the host's CPUs."""
    ncpus = len(queue.dev.core.cpus)
    mask = 0
    for c in queue.rps_map or ():
        mask |= 1 << c
    return cpumask_format(mask, ncpus)


def store_rps_dev_flow_table_cnt(queue: NetdevRxQueue, text: str) -> None:
    """store_rps_dev_flow_table_cnt (queues/rx-N/rps_flow_cnt): kstrtoul (base 0),
    rounded up to a power of two, a fresh table of RPS_NO_CPU flows; 0 frees it.
    EINVAL for bad numbers or more than 2**32 entries, ENOMEM past 2**24."""
    s = text.strip()
    try:
        if s[:2].lower() == "0x":
            count = int(s[2:], 16)
        elif len(s) > 1 and s[0] == "0":
            count = int(s[1:], 8)
        else:
            count = int(s, 10)
    except ValueError:
        raise OSError(errno.EINVAL, f"bad flow count {text!r}") from None
    if count < 0 or count > 1 << 32 or s.startswith(("+", "-")):
        raise OSError(errno.EINVAL, f"bad flow count {text!r}")
    size = 1 << (count - 1).bit_length() if count else 0
    if size > _MAX_DEV_FLOWS:  # where Linux's vmalloc of the table would fail
        raise OSError(errno.ENOMEM, "Cannot allocate memory")
    queue.rps_flow_table = RpsDevFlowTable(size) if size else None


_RX_ATTRS = ("rps_cpus", "rps_flow_cnt")


def _sysfs_queue(host: Host, path: str) -> tuple[NetdevRxQueue, str]:
    parts = path.strip("/").split("/")
    # sys/class/net/DEV/queues/rx-N/ATTR
    if (len(parts) != 7 or parts[:3] != ["sys", "class", "net"] or parts[4] != "queues"
            or not parts[5].startswith("rx-") or parts[6] not in _RX_ATTRS):
        raise FileNotFoundError(errno.ENOENT, f"{path}: No such file or directory")
    dev = host.devices.get(parts[3])
    index = parts[5][3:]
    rxqs = getattr(dev, "rx_queues", None)
    if rxqs is None or not index.isdigit() or int(index) >= getattr(dev, "real_num_rx_queues", 0):
        raise FileNotFoundError(errno.ENOENT, f"{path}: No such file or directory")
    queue: NetdevRxQueue = rxqs[int(index)]
    return queue, parts[6]


def sysfs_read(host: Host, path: str) -> str:
    """cat /sys/class/net/DEV/queues/rx-N/{rps_cpus,rps_flow_cnt} (with the newline)."""
    queue, attr = _sysfs_queue(host, path)
    if attr == "rps_cpus":
        return show_rps_map(queue) + "\n"
    return f"{queue.rps_flow_cnt}\n"


def sysfs_write(host: Host, path: str, value: str | int) -> None:
    """echo VALUE > /sys/class/net/DEV/queues/rx-N/{rps_cpus,rps_flow_cnt}."""
    queue, attr = _sysfs_queue(host, path)
    if attr == "rps_cpus":
        store_rps_map(queue, str(value))
    else:
        store_rps_dev_flow_table_cnt(queue, str(value))


# ----------------------------------------------------------------------- the state

class RpsState:
    """The host's RPS/RFS state: the sock flow table, the rps_needed count, the
    flow-limit tables, and ``get_rps_cpu`` (installed as ``core.get_rps_cpu``)."""

    def __init__(self, core: NetCore) -> None:
        self.core = core
        self.sock_flow_table: RpsSockFlowTable | None = None
        self.rps_needed = 0  # static key: queues with a map, plus 1 for the sock table
        self.flows_moved = 0  # tuxnet's own: RFS moves of a flow from one CPU to another
        sysctl = core.host.sysctl
        sysctl.watch("net.core.rps_sock_flow_entries", self._sock_flow_sysctl)
        sysctl.watch("net.core.flow_limit_cpu_bitmap", self._flow_limit_sysctl)
        if sysctl.get_int("net.core.rps_sock_flow_entries"):
            self._sock_flow_sysctl("", None)
        self._flow_limit_sysctl("", None)

    def __repr__(self) -> str:
        size = 0 if self.sock_flow_table is None else self.sock_flow_table.mask + 1
        return f"<RpsState rps_needed={self.rps_needed} sock_flow_entries={size}>"

    # -- static key -----------------------------------------------------------------------
    def rps_needed_inc(self) -> None:
        """static_branch_inc(&rps_needed): steering is on (hook installed)."""
        self.rps_needed += 1
        self.core.get_rps_cpu = self.get_rps_cpu

    def rps_needed_dec(self) -> None:
        """static_branch_dec(&rps_needed): the hook goes when nothing needs it."""
        self.rps_needed -= 1
        if self.rps_needed <= 0:
            self.rps_needed = 0
            if self.core.get_rps_cpu == self.get_rps_cpu:
                self.core.get_rps_cpu = None

    # -- sysctls --------------------------------------------------------------------------
    def _sock_flow_sysctl(self, name: str, value: object) -> None:
        """rps_sock_flow_sysctl: a new table of RPS_NO_CPU entries (the sysctl handler
        already rounded the size up to a power of two), or none for 0."""
        size = self.core.host.sysctl.get_int("net.core.rps_sock_flow_entries")
        old = self.sock_flow_table
        self.sock_flow_table = RpsSockFlowTable(size, len(self.core.cpus)) if size else None
        if self.sock_flow_table is not None and old is None:
            self.rps_needed_inc()  # and rfs_needed
        elif self.sock_flow_table is None and old is not None:
            self.rps_needed_dec()

    def _flow_limit_sysctl(self, name: str, value: object) -> None:
        """flow_limit_cpu_sysctl: a table (flow_limit_table_len buckets, read now) for
        each CPU in the bitmap that has none, freed for the others."""
        sysctl = self.core.host.sysctl
        mask = int(str(sysctl.get("net.core.flow_limit_cpu_bitmap")).replace(",", "") or "0", 16)
        for cpu in self.core.cpus:
            sd = cpu.sd
            if mask >> cpu.index & 1:
                if sd.flow_limit is None:
                    sd.flow_limit = SdFlowLimit(
                        sd, sysctl.get_int("net.core.flow_limit_table_len"))
                    sd.flow_limit_count = 0
            elif sd.flow_limit is not None:
                sd.flow_limit = None
                sd.flow_limit_count = 0

    def netdev_register(self, dev: NetDevice) -> None:
        """rx_queue_default_mask: new RX queues start with net.core.rps_default_mask."""
        text = str(self.core.host.sysctl.get("net.core.rps_default_mask")).replace(",", "")
        mask = int(text or "0", 16) & ((1 << len(self.core.cpus)) - 1)
        if mask:
            for queue in dev.rx_queues:
                netdev_rx_queue_set_rps_mask(queue, mask)

    def netdev_unregister(self, dev: NetDevice) -> None:
        """rx_queue_release: the queues' maps and flow tables go."""
        for queue in dev.rx_queues:
            if queue.rps_map is not None:
                netdev_rx_queue_set_rps_mask(queue, 0)
            queue.rps_flow_table = None

    # -- steering -------------------------------------------------------------------------
    def get_rps_cpu(self, dev: NetDevice, skb: SkBuff) -> int:
        """get_rps_cpu (net/core/dev.c): the CPU whose backlog gets ``skb``, or -1 to
        process it here. RFS first (sock flow table + the queue's flow table, moving a
        flow only when its old CPU's backlog has passed its last packet), then the
        queue's rps_map. Leaves the chosen rps_dev_flow in ``core.rps_rflow`` for
        enqueue_to_backlog to record the flow's queue position."""
        core = self.core
        core.rps_rflow = None
        qm = skb.queue_mapping
        if qm:  # skb_rx_queue_recorded
            if qm > dev.real_num_rx_queues:
                return -1  # "received packet on queue N, but number of RX queues is M"
            rxq = dev.rx_queues[qm - 1]
        else:
            rxq = dev.rx_queues[0]
        flow_table = rxq.rps_flow_table
        rmap = rxq.rps_map
        if flow_table is None and rmap is None:
            return -1
        skb.network_header = skb.data_off  # skb_reset_network_header
        h = skb.hash if skb.l4_hash or skb.sw_hash else skb_get_hash(skb)
        if not h:
            return -1
        sock_table = self.sock_flow_table
        if flow_table is not None and sock_table is not None:
            ident = sock_table.ents[h & sock_table.mask]
            cpu_mask = sock_table.cpu_mask
            if not (ident ^ h) & ~cpu_mask:
                next_cpu = ident & cpu_mask
                rflow = flow_table.flows[h & flow_table.mask]
                tcpu = rflow.cpu
                ncpus = len(core.cpus)
                # move only if unset, or the old CPU's backlog has dequeued the flow's
                # last packet (in-order delivery)
                if tcpu != next_cpu and (
                        tcpu >= ncpus
                        or core.cpus[tcpu].sd.input_queue_head - rflow.last_qtail >= 0):
                    if tcpu < ncpus:
                        self.flows_moved += 1
                    tcpu = next_cpu
                    rflow = set_rps_cpu(core, rflow, next_cpu)
                if tcpu < ncpus:
                    core.rps_rflow = rflow
                    return tcpu
        if rmap is not None:
            return rmap[(h * len(rmap)) >> 32]  # reciprocal_scale
        return -1


def get_rps_core(core: NetCore) -> RpsState:
    """The RpsState of ``core`` (created with it)."""
    return core.rps


def get_rps(host: Host) -> RpsState:
    """The host's RpsState."""
    from tuxnet.core.netcore import get_core  # netcore wires this module in

    return get_rps_core(get_core(host))
