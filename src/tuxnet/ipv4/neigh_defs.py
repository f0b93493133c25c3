"""Constants and small types of the neighbour subsystem (include/uapi/linux/neighbour.h,
include/net/neighbour.h): NUD states, NTF flags, neigh_update flags, the device
protocol, struct neigh_parms, struct neigh_statistics, struct pneigh_entry.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from tuxnet.skb import SkBuff

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = [
    "AF_INET", "ETH_HLEN", "NEIGH_UPDATE_F_ADMIN", "NEIGH_UPDATE_F_EXT_LEARNED",
    "NEIGH_UPDATE_F_ISROUTER", "NEIGH_UPDATE_F_OVERRIDE", "NEIGH_UPDATE_F_OVERRIDE_ISROUTER",
    "NEIGH_UPDATE_F_USE", "NEIGH_UPDATE_F_WEAK_OVERRIDE", "NTF_EXT_LEARNED", "NTF_PROXY",
    "NTF_ROUTER", "NTF_USE", "NUD_CONNECTED", "NUD_DELAY", "NUD_FAILED", "NUD_INCOMPLETE",
    "NUD_IN_TIMER", "NUD_NOARP", "NUD_NONE", "NUD_PERMANENT", "NUD_PROBE", "NUD_REACHABLE",
    "NUD_STALE", "NUD_VALID", "NeighError", "NeighParms", "NeighStatistics", "NetDev",
    "PneighEntry", "Xmit", "nud_state_name",
]

# include/uapi/linux/neighbour.h: NUD states
NUD_NONE = 0x00
NUD_INCOMPLETE = 0x01
NUD_REACHABLE = 0x02
NUD_STALE = 0x04
NUD_DELAY = 0x08
NUD_PROBE = 0x10
NUD_FAILED = 0x20
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
# include/net/neighbour.h
NUD_IN_TIMER = NUD_INCOMPLETE | NUD_REACHABLE | NUD_DELAY | NUD_PROBE
NUD_VALID = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY
NUD_CONNECTED = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE

# include/uapi/linux/neighbour.h: ndm_flags
NTF_USE = 0x01
NTF_PROXY = 0x08
NTF_EXT_LEARNED = 0x10
NTF_ROUTER = 0x80

# include/net/neighbour.h: neigh_update() flags
NEIGH_UPDATE_F_OVERRIDE = 1 << 0
NEIGH_UPDATE_F_WEAK_OVERRIDE = 1 << 1
NEIGH_UPDATE_F_OVERRIDE_ISROUTER = 1 << 2
NEIGH_UPDATE_F_USE = 1 << 3
NEIGH_UPDATE_F_EXT_LEARNED = 1 << 5
NEIGH_UPDATE_F_ISROUTER = 1 << 6
NEIGH_UPDATE_F_ADMIN = 1 << 7

AF_INET = 2
ETH_HLEN = 14
MS = 1_000_000
SEC = 1_000_000_000
USER_HZ_NS = 10 * MS  # locktime, proxy_delay, clock_t are in USER_HZ (1/100 s)
_NUD_NAMES = ((NUD_INCOMPLETE, "incomplete"), (NUD_REACHABLE, "reachable"),
              (NUD_STALE, "stale"), (NUD_DELAY, "delay"), (NUD_PROBE, "probe"),
              (NUD_FAILED, "failed"), (NUD_NOARP, "noarp"), (NUD_PERMANENT, "permanent"))


def nud_state_name(state: int) -> str:
    """include/trace/events/neigh.h neigh_state_str: ``reachable``, ``stale`` ..."""
    for bit, name in _NUD_NAMES:
        if state == bit:
            return name
    return "none" if state == 0 else hex(state)


class NetDev(Protocol):
    """What the neighbour layer needs of a struct net_device."""

    @property
    def name(self) -> str: ...
    @property
    def ifindex(self) -> int: ...
    @property
    def dev_addr(self) -> bytes: ...
    @property
    def broadcast(self) -> bytes: ...
    @property
    def flags(self) -> int: ...


Xmit = Callable[[SkBuff], int]


class NeighError(Exception):
    """An rtnetlink error: ``errno`` and the extack message (None when the kernel sets
    none). iproute2 prints ``Error: <msg>.`` or ``RTNETLINK answers: <strerror>``."""

    def __init__(self, err: int, msg: str | None = None) -> None:
        super().__init__(msg or errno.errorcode.get(err, str(err)))
        self.errno = err
        self.msg = msg


class NeighStatistics:
    """struct neigh_statistics (one per CPU; /proc/net/stat/arp_cache)."""

    __slots__ = ("allocs", "destroys", "forced_gc_runs", "hash_grows", "hits", "lookups",
                 "periodic_gc_runs", "rcv_probes_mcast", "rcv_probes_ucast", "res_failed",
                 "table_fulls", "unres_discards")

    def __init__(self) -> None:
        self.allocs = 0
        self.destroys = 0
        self.hash_grows = 0
        self.lookups = 0
        self.hits = 0
        self.res_failed = 0
        self.rcv_probes_mcast = 0  # NDISC only: arp_process does not count probes
        self.rcv_probes_ucast = 0
        self.periodic_gc_runs = 0
        self.forced_gc_runs = 0
        self.unres_discards = 0
        self.table_fulls = 0

    def as_dict(self) -> dict[str, int]:
        """All counters by name."""
        return {name: getattr(self, name) for name in self.__slots__}


class NeighParms:
    """struct neigh_parms of one device (or the table default): the sysctls of
    net.ipv4.neigh.DEV, read live, plus the randomized ``reachable_time`` (ns)."""

    __slots__ = ("_get", "_names", "dev_name", "reachable_time")

    def __init__(self, host: Host, dev_name: str, reachable_time: int) -> None:
        self.dev_name = dev_name
        self._get = host.sysctl.get_int
        base = f"net.ipv4.neigh.{dev_name.replace('.', '/')}."
        self._names = {k: base + k for k in (
            "base_reachable_time_ms", "retrans_time_ms", "delay_first_probe_time",
            "gc_stale_time", "locktime", "ucast_solicit", "mcast_solicit", "app_solicit",
            "mcast_resolicit", "unres_qlen_bytes", "proxy_delay", "proxy_qlen")}
        self.reachable_time = reachable_time

    def var(self, key: str) -> int:
        """NEIGH_VAR(p, key) as stored in the sysctl."""
        return self._get(self._names[key])

    @property
    def base_reachable_time(self) -> int:
        """BASE_REACHABLE_TIME in ns (base_reachable_time_ms)."""
        return self.var("base_reachable_time_ms") * MS

    @property
    def retrans_time(self) -> int:
        """RETRANS_TIME in ns (retrans_time_ms)."""
        return self.var("retrans_time_ms") * MS

    @property
    def delay_probe_time(self) -> int:
        """DELAY_PROBE_TIME in ns (delay_first_probe_time, seconds)."""
        return self.var("delay_first_probe_time") * SEC

    @property
    def gc_staletime(self) -> int:
        """GC_STALETIME in ns (gc_stale_time, seconds)."""
        return self.var("gc_stale_time") * SEC

    @property
    def locktime(self) -> int:
        """LOCKTIME in ns (locktime, USER_HZ)."""
        return self.var("locktime") * USER_HZ_NS

    @property
    def proxy_delay(self) -> int:
        """PROXY_DELAY in ns (proxy_delay, USER_HZ)."""
        return self.var("proxy_delay") * USER_HZ_NS


class PneighEntry:
    """struct pneigh_entry: a proxy entry (``ip neigh add proxy ADDR dev DEV``)."""

    __slots__ = ("dev", "flags", "key", "protocol")

    def __init__(self, key: int, dev: NetDev | None) -> None:
        self.key = key
        self.dev = dev
        self.flags = 0
        self.protocol = 0
