"""FIB semantics: route types, scopes, protocols, ``fib_info`` with its nexthop and
metrics, and the checks a new route goes through (net/ipv4/fib_semantics.c,
include/uapi/linux/rtnetlink.h).

A route is a :class:`FibAlias` (prefix, type, table; ``struct fib_alias``) pointing at a
:class:`FibInfo` (protocol, scope, metric, prefsrc, metrics; ``struct fib_info``) with
one :class:`FibNh` (device, gateway, nexthop scope and flags; ``struct fib_nh``).
Multipath routes are not modelled. Errors carry the errno and, where the kernel gives
one, the extack message iproute2 prints as ``Error: <message>.``.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "FIB_PROPS_ERROR",
    "FIB_PROPS_SCOPE",
    "IP_MAX_MTU",
    "MASKS",
    "FibAlias",
    "FibConfig",
    "FibInfo",
    "FibNh",
    "NetDeviceLike",
    "RtnlError",
    "inet_make_mask",
]

# include/uapi/linux/rtnetlink.h: enum rtn_type
RTN_UNSPEC = 0
RTN_UNICAST = 1
RTN_LOCAL = 2
RTN_BROADCAST = 3
RTN_ANYCAST = 4
RTN_MULTICAST = 5
RTN_BLACKHOLE = 6
RTN_UNREACHABLE = 7
RTN_PROHIBIT = 8
RTN_THROW = 9
RTN_NAT = 10
RTN_XRESOLVE = 11

# include/uapi/linux/rtnetlink.h: enum rt_scope_t
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_SITE = 200
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
RT_SCOPE_NOWHERE = 255

# include/uapi/linux/rtnetlink.h: rtm_protocol
RTPROT_UNSPEC = 0
RTPROT_REDIRECT = 1
RTPROT_KERNEL = 2
RTPROT_BOOT = 3
RTPROT_STATIC = 4

# include/uapi/linux/rtnetlink.h: enum rt_class_t
RT_TABLE_UNSPEC = 0
RT_TABLE_DEFAULT = 253
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255

# include/uapi/linux/rtnetlink.h: rtnh_flags
RTNH_F_DEAD = 1
RTNH_F_PERVASIVE = 2
RTNH_F_ONLINK = 4
RTNH_F_OFFLOAD = 8
RTNH_F_LINKDOWN = 16

# include/uapi/linux/rtnetlink.h: RTAX_* route metrics
RTAX_LOCK = 1
RTAX_MTU = 2
RTAX_WINDOW = 3
RTAX_RTT = 4
RTAX_RTTVAR = 5
RTAX_SSTHRESH = 6
RTAX_CWND = 7
RTAX_ADVMSS = 8
RTAX_REORDERING = 9
RTAX_HOPLIMIT = 10
RTAX_INITCWND = 11
RTAX_FEATURES = 12
RTAX_RTO_MIN = 13
RTAX_INITRWND = 14
RTAX_QUICKACK = 15
RTAX_CC_ALGO = 16
RTAX_FASTOPEN_NO_COOKIE = 17
RTAX_FEATURE_ECN = 1

# include/uapi/linux/in_route.h: rt_flags of a cached route
RTCF_NOTIFY = 0x00010000
RTCF_DIRECTDST = 0x00020000
RTCF_REDIRECTED = 0x00040000
RTCF_TPROXY = 0x00080000
RTCF_FAST = 0x00200000
RTCF_MASQ = 0x00400000
RTCF_SNAT = 0x00800000
RTCF_DOREDIRECT = 0x01000000
RTCF_DIRECTSRC = 0x04000000
RTCF_DNAT = 0x08000000
RTCF_BROADCAST = 0x10000000
RTCF_MULTICAST = 0x20000000
RTCF_REJECT = 0x40000000
RTCF_LOCAL = 0x80000000

IP_MAX_MTU = 0xFFF0  # include/net/ip.h

# net/ipv4/fib_semantics.c fib_props[]: the error a lookup hitting the type returns,
# and the narrowest scope a route of the type may have.
FIB_PROPS_ERROR: tuple[int, ...] = (
    0, 0, 0, 0, 0, 0,                       # unspec unicast local broadcast anycast mcast
    -errno.EINVAL, -errno.EHOSTUNREACH,     # blackhole unreachable
    -errno.EACCES, -errno.EAGAIN,           # prohibit throw
    -errno.EINVAL, -errno.EINVAL,           # nat xresolve
)
FIB_PROPS_SCOPE: tuple[int, ...] = (
    RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE, RT_SCOPE_UNIVERSE, RT_SCOPE_UNIVERSE, RT_SCOPE_UNIVERSE,
    RT_SCOPE_UNIVERSE, RT_SCOPE_NOWHERE, RT_SCOPE_NOWHERE,
)

# inet_make_mask() for every prefix length
MASKS: tuple[int, ...] = tuple((0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF for n in range(33))


def inet_make_mask(plen: int) -> int:
    """inet_make_mask(): the netmask of a prefix length (include/linux/inetdevice.h)."""
    return MASKS[plen]


class NetDeviceLike(Protocol):
    """What IPv4 reads of a net_device: name, ifindex, mtu and flags (IFF_*).

    ``dev_addr``, ``broadcast``, ``operstate``, ``qdisc``, ``tx_queue_len`` and ``type``
    are read with ``getattr`` defaults where the tools need them.
    """

    @property
    def name(self) -> str: ...
    @property
    def ifindex(self) -> int: ...
    @property
    def mtu(self) -> int: ...
    @property
    def flags(self) -> int: ...


class RtnlError(Exception):
    """A refused rtnetlink request: ``errno`` plus the kernel's extack message, if any.

    ``str()`` is what iproute2 prints: ``Error: <extack>.`` when the kernel gave a
    message, else ``RTNETLINK answers: <strerror>`` (lib/libnetlink.c rtnl_talk).
    """

    def __init__(self, err: int, extack: str = "") -> None:
        self.errno = err
        self.extack = extack
        super().__init__(f"Error: {extack}." if extack else
                         f"RTNETLINK answers: {os.strerror(err)}")


@dataclass(slots=True)
class FibNh:
    """struct fib_nh: the nexthop of a route."""

    dev: NetDeviceLike | None = None
    gw: int = 0
    scope: int = RT_SCOPE_NOWHERE  # fib_nh_scope: host for connected, link via a gateway
    flags: int = 0                 # RTNH_F_ONLINK / RTNH_F_LINKDOWN / RTNH_F_DEAD
    saddr: int = 0                 # nh_saddr: the cached inet_select_addr() answer
    saddr_genid: int = -1

    @property
    def oif(self) -> int:
        """fib_nh_oif: the device's ifindex (0 without a device)."""
        return self.dev.ifindex if self.dev is not None else 0


@dataclass(slots=True)
class FibInfo:
    """struct fib_info: what routes with the same attributes share."""

    protocol: int = RTPROT_BOOT
    scope: int = RT_SCOPE_UNIVERSE
    priority: int = 0
    prefsrc: int = 0
    nh: FibNh = field(default_factory=FibNh)
    metrics: dict[int, int] = field(default_factory=dict)  # RTAX_* -> value (kernel units)
    congctl: str = ""             # RTAX_CC_ALGO
    mxlock: int = 0               # RTAX_LOCK bit mask (1 << RTAX_*)
    dead: bool = False

    def same(self, other: FibInfo) -> bool:
        """fib_find_info(): equal attributes, so the kernel would share one fib_info."""
        a, b = self.nh, other.nh
        return (self.protocol == other.protocol and self.scope == other.scope
                and self.priority == other.priority and self.prefsrc == other.prefsrc
                and self.metrics == other.metrics and self.congctl == other.congctl
                and self.mxlock == other.mxlock and a.dev is b.dev and a.gw == b.gw
                and (a.flags & RTNH_F_ONLINK) == (b.flags & RTNH_F_ONLINK))

    def metric(self, rtax: int) -> int:
        """dst_metric_raw(): a metric's value, 0 when unset."""
        return self.metrics.get(rtax, 0)


@dataclass(slots=True)
class FibAlias:
    """struct fib_alias: one route in one table (the trie leaf entry)."""

    dst: int
    plen: int
    type: int
    tb_id: int
    fi: FibInfo
    tos: int = 0


@dataclass(slots=True)
class FibConfig:
    """struct fib_config: an RTM_NEWROUTE / RTM_DELROUTE request, as iproute2 fills it.

    ``create``/``excl``/``replace``/``append`` are the NLM_F_* flags (``ip route add`` is
    create+excl, ``replace`` create+replace, ``change`` replace, ``append`` create+append,
    ``prepend`` create). For a delete, zero fields mean "any".
    """

    dst: int = 0
    plen: int = 0
    type: int = RTN_UNICAST
    table: int = RT_TABLE_MAIN
    protocol: int = RTPROT_BOOT
    scope: int = RT_SCOPE_UNIVERSE
    priority: int = 0
    prefsrc: int = 0
    gw: int = 0
    dev: NetDeviceLike | None = None
    onlink: bool = False
    tos: int = 0
    metrics: dict[int, int] = field(default_factory=dict)
    congctl: str = ""
    mxlock: int = 0
    create: bool = True
    excl: bool = True
    replace: bool = False
    append: bool = False
