"""Interface addresses and the per-host IPv4 state (net/ipv4/devinet.c, with the
address-to-route glue of net/ipv4/fib_frontend.c).

``inet_state(host)`` returns the host's :class:`InetState`, created on first use and
kept as ``host.inet`` (set with ``setattr`` until Host grows a typed attribute): the
FIB, one :class:`InDevice` (``struct in_device``) per device with its address list, and
the route caches of :mod:`tuxnet.ipv4.route`. On creation it replays NETDEV_UP for the
devices already up, so ``lo`` gets 127.0.0.1/8 as on a booted kernel. The device layer
reports later changes with ``inet_netdev_event(host, dev, NETDEV_UP / NETDEV_DOWN /
NETDEV_CHANGE / NETDEV_UNREGISTER)``.

Adding an address adds its kernel routes as fib_add_ifaddr does: ``local A`` (table
local, scope host, always), and while the device is up ``broadcast B`` for an explicit
broadcast, the prefix route in main (``local`` in table local on a loopback device) and
the subnet broadcast (prefixes shorter than /31). A second address in an existing
subnet is *secondary*: only its local route, with the primary as source. Removing an
address takes away the routes no remaining address still produces (fib_del_ifaddr),
the main-table routes using it as ``src`` (fib_sync_down_addr), and, when it was the
device's last address, every route through the device (fib_disable_ip).
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuxnet.ipv4.fib import Fib
from tuxnet.ipv4.fib_semantics import (
    MASKS,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_UNICAST,
    RTNH_F_LINKDOWN,
    RTNH_F_ONLINK,
    RTPROT_KERNEL,
    FibAlias,
    FibConfig,
    FibNh,
    NetDeviceLike,
    RtnlError,
)

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = [
    "IFA_F_NOPREFIXROUTE",
    "IFA_F_PERMANENT",
    "IFA_F_SECONDARY",
    "NETDEV_CHANGE",
    "NETDEV_DOWN",
    "NETDEV_UNREGISTER",
    "NETDEV_UP",
    "InDevice",
    "InIfAddr",
    "InetState",
    "inet_netdev_event",
    "inet_state",
]

# include/linux/netdevice.h: enum netdev_cmd
NETDEV_UP = 1
NETDEV_DOWN = 2
NETDEV_CHANGE = 4
NETDEV_REGISTER = 5
NETDEV_UNREGISTER = 6
NETDEV_CHANGEMTU = 7
NETDEV_CHANGENAME = 11
_EVENT_NAMES = {"NETDEV_UP": NETDEV_UP, "NETDEV_DOWN": NETDEV_DOWN,
                "NETDEV_CHANGE": NETDEV_CHANGE, "NETDEV_REGISTER": NETDEV_REGISTER,
                "NETDEV_UNREGISTER": NETDEV_UNREGISTER, "NETDEV_CHANGEMTU": NETDEV_CHANGEMTU,
                "NETDEV_CHANGENAME": NETDEV_CHANGENAME}

# include/uapi/linux/if_addr.h
IFA_F_SECONDARY = 0x01
IFA_F_PERMANENT = 0x80
IFA_F_NOPREFIXROUTE = 0x200

IFF_UP = 0x1          # include/uapi/linux/if.h
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40
IFF_LOWER_UP = 0x10000
INADDR_LOOPBACK = 0x7F000001


def ipv4_is_zeronet(addr: int) -> bool:
    """ipv4_is_zeronet(): 0.0.0.0/8."""
    return addr >> 24 == 0


def ipv4_is_loopback(addr: int) -> bool:
    """ipv4_is_loopback(): 127.0.0.0/8."""
    return addr >> 24 == 127


def netif_carrier_ok(dev: NetDeviceLike) -> bool:
    """netif_carrier_ok(): the device's ``carrier``, else IFF_LOWER_UP/IFF_RUNNING."""
    carrier = getattr(dev, "carrier", None)
    if carrier is not None:
        return bool(carrier)
    return bool(dev.flags & (IFF_LOWER_UP | IFF_RUNNING))


@dataclass(slots=True)
class InIfAddr:
    """struct in_ifaddr: one IPv4 address of a device."""

    local: int
    prefixlen: int
    dev: NetDeviceLike
    broadcast: int = 0
    scope: int = RT_SCOPE_UNIVERSE
    flags: int = IFA_F_PERMANENT
    label: str = ""
    rt_priority: int = 0

    @property
    def mask(self) -> int:
        """ifa_mask."""
        return MASKS[self.prefixlen]

    @property
    def address(self) -> int:
        """ifa_address (the peer on point-to-point links; the local address here)."""
        return self.local

    @property
    def prefix(self) -> int:
        """ifa_address & ifa_mask."""
        return self.local & MASKS[self.prefixlen]

    def match(self, addr: int) -> bool:
        """inet_ifa_match(): ``addr`` is inside this address's subnet."""
        mask = MASKS[self.prefixlen]
        return (addr & mask) == (self.local & mask)


class InDevice:
    """struct in_device: the IPv4 side of one net_device (its address list)."""

    __slots__ = ("dev", "ifa_list")

    def __init__(self, dev: NetDeviceLike) -> None:
        self.dev = dev
        self.ifa_list: list[InIfAddr] = []

    def primary_for(self, prefix: int, mask: int) -> InIfAddr | None:
        """inet_ifa_byprefix(): the primary address of a subnet."""
        for ifa in self.ifa_list:
            if not ifa.flags & IFA_F_SECONDARY and ifa.mask == mask and ifa.match(prefix):
                return ifa
        return None


# A kernel route an address produces: (type, dst, plen, dev id, prefsrc, priority)
_KRoute = tuple[int, int, int, int, int, int]


class InetState:
    """The IPv4 state of one host (the ipv4 half of struct net)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.fib = Fib(on_change=self._flush_caches)
        self.fib.ignore_linkdown = self._ignore_linkdown
        self.in_devs: dict[int, InDevice] = {}
        self.addr_lst: dict[int, list[InIfAddr]] = {}  # inet_addr_lst: local -> ifas
        self.dev_addr_genid = 0
        # filled and used by tuxnet.ipv4.route (output / input route caches)
        self.rt_genid = 0
        self.out_cache: dict[tuple[int, int, int, int, int], Any] = {}
        self.in_cache: dict[tuple[int, int, int, int], Any] = {}
        # multicast groups joined per device (ip_mc_list); all devices are in 224.0.0.1
        self.mc_groups: dict[int, set[int]] = {}
        self.fib_has_custom_local_routes = False
        # devinet_conf_proc / devinet_sysctl_forward: a conf change flushes the caches
        host.sysctl.watch("net.ipv4.conf.*", lambda _name, _value: self._flush_caches())

    def _flush_caches(self) -> None:
        self.rt_genid += 1
        self.out_cache.clear()
        self.in_cache.clear()

    def _ignore_linkdown(self, dev: NetDeviceLike) -> bool:
        # IN_DEV_IGNORE_ROUTES_WITH_LINKDOWN
        try:
            return bool(self.host.sysctl.in_dev_conf(dev.name, "ignore_routes_with_linkdown"))
        except Exception:
            return False

    def in_dev_conf(self, dev: NetDeviceLike, key: str) -> int:
        try:
            return self.host.sysctl.in_dev_conf(dev.name, key)
        except Exception:
            return int(self.host.sysctl.get_int(f"net.ipv4.conf.all.{key}"))

    # -- devices ----------------------------------------------------------------------
    def devices(self) -> list[NetDeviceLike]:
        """The host's devices in ifindex order (dev_base list order)."""
        devs: list[Any] = list(self.host.devices.values())
        devs.sort(key=lambda d: getattr(d, "ifindex", 0))
        return devs

    def dev_by_name(self, name: str) -> NetDeviceLike | None:
        """__dev_get_by_name()."""
        dev: Any = self.host.devices.get(name)
        return dev  # type: ignore[no-any-return]

    def dev_by_index(self, ifindex: int) -> NetDeviceLike | None:
        """__dev_get_by_index()."""
        for dev in self.devices():
            if dev.ifindex == ifindex:
                return dev
        return None

    def loopback_dev(self) -> NetDeviceLike | None:
        """net->loopback_dev."""
        for dev in self.devices():
            if dev.flags & IFF_LOOPBACK:
                return dev
        return None

    def in_dev(self, dev: NetDeviceLike) -> InDevice:
        """__in_dev_get_rtnl(), creating the in_device on first use (inetdev_init)."""
        idev = self.in_devs.get(id(dev))
        if idev is None or idev.dev is not dev:
            idev = self.in_devs[id(dev)] = InDevice(dev)
        return idev

    def in_dev_get(self, dev: NetDeviceLike) -> InDevice | None:
        """__in_dev_get_rcu(): the in_device, or None if the device never had one."""
        idev = self.in_devs.get(id(dev))
        return idev if idev is not None and idev.dev is dev else None

    def all_ifas(self) -> Iterator[InIfAddr]:
        """Every address, device by device."""
        for dev in self.devices():
            idev = self.in_dev_get(dev)
            if idev is not None:
                yield from idev.ifa_list

    # -- addresses --------------------------------------------------------------------
    def _kernel_routes(self, idev: InDevice) -> set[_KRoute]:
        """What fib_add_ifaddr() adds for each address of the device."""
        dev = idev.dev
        up = bool(dev.flags & IFF_UP)
        loopback = bool(dev.flags & IFF_LOOPBACK)
        out: set[_KRoute] = set()
        for ifa in idev.ifa_list:
            prim = ifa
            if ifa.flags & IFA_F_SECONDARY:
                found = idev.primary_for(ifa.prefix, ifa.mask)
                if found is None:
                    continue
                prim = found
            src = prim.local
            out.add((RTN_LOCAL, ifa.local, 32, id(dev), src, 0))
            if not up:
                continue
            if ifa.broadcast and ifa.broadcast != 0xFFFFFFFF:
                out.add((RTN_BROADCAST, ifa.broadcast, 32, id(dev), src, 0))
            prefix = ifa.prefix
            if (not ipv4_is_zeronet(prefix) and not ifa.flags & IFA_F_SECONDARY
                    and (prefix != ifa.local or ifa.prefixlen < 32)):
                if not ifa.flags & IFA_F_NOPREFIXROUTE:
                    out.add((RTN_LOCAL if loopback else RTN_UNICAST, prefix, ifa.prefixlen,
                             id(dev), src, ifa.rt_priority))
                if ifa.prefixlen < 31:
                    out.add((RTN_BROADCAST, prefix | (~ifa.mask & 0xFFFFFFFF), 32, id(dev),
                             src, 0))
        return out

    def _fib_magic_cfg(self, r: _KRoute, dev: NetDeviceLike) -> FibConfig:
        rtype, dst, plen, _, src, prio = r
        return FibConfig(dst=dst, plen=plen, type=rtype,
                         table=RT_TABLE_MAIN if rtype == RTN_UNICAST else RT_TABLE_LOCAL,
                         protocol=RTPROT_KERNEL,
                         scope=RT_SCOPE_HOST if rtype == RTN_LOCAL else RT_SCOPE_LINK,
                         priority=prio, prefsrc=src, dev=dev, create=True, excl=False,
                         append=True)

    def _sync_kernel_routes(self, idev: InDevice, before: set[_KRoute]) -> None:
        """fib_magic(RTM_DELROUTE / RTM_NEWROUTE) for what changed."""
        after = self._kernel_routes(idev)
        dev = idev.dev
        for r in sorted(before - after):
            with contextlib.suppress(RtnlError):
                self.fib.delete(self._fib_magic_cfg(r, dev))
        for r in sorted(after - before, key=lambda r: (r[0] != RTN_LOCAL, r)):
            cfg = self._fib_magic_cfg(r, dev)
            fi = self.fib.create_info(cfg, self._check_nh_magic)
            with contextlib.suppress(RtnlError):  # an identical route is there already
                self.fib.insert(cfg, fi)

    def _check_nh_magic(self, cfg: FibConfig, nh: FibNh) -> None:
        nh.scope = RT_SCOPE_HOST
        if nh.dev is not None and not netif_carrier_ok(nh.dev):
            nh.flags |= RTNH_F_LINKDOWN

    def _addr_changed(self) -> None:
        self.dev_addr_genid += 1
        self.fib.changed()

    def addr_add(self, dev: NetDeviceLike, local: int, prefixlen: int, *, broadcast: int = 0,
                 scope: int = RT_SCOPE_UNIVERSE, label: str = "", metric: int = 0,
                 flags: int = 0, replace: bool = False) -> InIfAddr | None:
        """inet_rtm_newaddr() / __inet_insert_ifa(): add an address to ``dev``.

        Raises RtnlError: EEXIST "ipv4: Address already assigned", EINVAL "ipv4: Invalid
        scope value" (a secondary must have its primary's scope)."""
        idev = self.in_dev(dev)
        ifa = InIfAddr(local, prefixlen, dev, broadcast, scope, flags | IFA_F_PERMANENT,
                       label or dev.name, metric)
        if not local:
            return None
        for other in idev.ifa_list:
            if other.mask == ifa.mask and other.match(local) and other.local == local:
                if not replace:
                    raise RtnlError(errno.EEXIST, "ipv4: Address already assigned")
                return self._addr_update(idev, other, metric)
        before = self._kernel_routes(idev)
        last_primary = 0
        for i, other in enumerate(idev.ifa_list):
            if not other.flags & IFA_F_SECONDARY and scope <= other.scope:
                last_primary = i + 1
            if other.mask == ifa.mask and other.match(local):
                if other.scope != scope:
                    raise RtnlError(errno.EINVAL, "ipv4: Invalid scope value")
                ifa.flags |= IFA_F_SECONDARY
        if ifa.flags & IFA_F_SECONDARY:
            idev.ifa_list.append(ifa)
        else:
            idev.ifa_list.insert(last_primary, ifa)
        self.addr_lst.setdefault(local, []).append(ifa)
        self._sync_kernel_routes(idev, before)
        self._addr_changed()
        return ifa

    def _addr_update(self, idev: InDevice, ifa: InIfAddr, metric: int) -> InIfAddr:
        # inet_rtm_newaddr with NLM_F_REPLACE: lifetimes and the prefix route metric
        if ifa.rt_priority != metric:
            before = self._kernel_routes(idev)
            ifa.rt_priority = metric
            self._sync_kernel_routes(idev, before)
            self._addr_changed()
        return ifa

    def find_ifa(self, dev: NetDeviceLike, local: int, prefixlen: int | None = None,
                 label: str | None = None) -> InIfAddr | None:
        """The address inet_rtm_deladdr() would remove (prefixlen None: any length)."""
        idev = self.in_dev_get(dev)
        for ifa in idev.ifa_list if idev is not None else ():
            if ifa.local != local or (label is not None and ifa.label != label):
                continue
            if prefixlen is not None and ifa.prefixlen != prefixlen:
                continue
            return ifa
        return None

    def addr_del(self, dev: NetDeviceLike, local: int, prefixlen: int | None = None,
                 label: str | None = None) -> InIfAddr:
        """inet_rtm_deladdr() / __inet_del_ifa(): remove an address. Deleting a primary
        deletes its subnet's secondaries, or promotes the first of them when
        net.ipv4.conf.*.promote_secondaries is set. Raises RtnlError(EADDRNOTAVAIL)."""
        ifa = self.find_ifa(dev, local, prefixlen, label)
        if ifa is None:
            raise RtnlError(errno.EADDRNOTAVAIL, "ipv4: Address not found")
        self.del_ifa(ifa)
        return ifa

    def del_ifa(self, ifa: InIfAddr) -> None:
        """__inet_del_ifa(ifa, destroy=1)."""
        idev = self.in_dev(ifa.dev)
        if ifa not in idev.ifa_list:
            return
        before = self._kernel_routes(idev)
        gone = [ifa]
        if not ifa.flags & IFA_F_SECONDARY:
            subnet = [o for o in idev.ifa_list if o.flags & IFA_F_SECONDARY
                      and o.mask == ifa.mask and ifa.match(o.local)]
            if subnet and self.in_dev_conf(ifa.dev, "promote_secondaries"):
                promote = subnet[0]
                idev.ifa_list.remove(promote)
                promote.flags &= ~IFA_F_SECONDARY
                # re-inserted after the last primary of at least its scope
                at = 0
                for i, o in enumerate(idev.ifa_list):
                    if o is not ifa and not o.flags & IFA_F_SECONDARY and promote.scope <= o.scope:
                        at = i + 1
                idev.ifa_list.insert(at, promote)
            else:
                gone.extend(subnet)
        for g in gone:
            idev.ifa_list.remove(g)
            lst = self.addr_lst.get(g.local)
            if lst is not None:
                lst.remove(g)
                if not lst:
                    del self.addr_lst[g.local]
        self._sync_kernel_routes(idev, before)
        for g in gone:
            # fib_del_ifaddr: the address is gone from this device for good
            if self.fib.addr_type(g.local, g.dev) != RTN_LOCAL:
                self._sync_down_addr(g.local)
        if not idev.ifa_list:
            self.fib.sync_down_dev(idev.dev, force=True)  # fib_disable_ip
        self._addr_changed()

    def _sync_down_addr(self, addr: int) -> None:
        """fib_sync_down_addr(): main-table routes whose prefsrc was ``addr``."""
        doomed = [fa for fa in self.fib.tables[RT_TABLE_MAIN].routes()
                  if fa.fi.prefsrc == addr]
        self.fib.remove_aliases(doomed)

    def flush_dev(self, dev: NetDeviceLike) -> None:
        """Remove every address of ``dev`` (inetdev_destroy / ip addr flush)."""
        idev = self.in_dev_get(dev)
        while idev is not None and idev.ifa_list:
            self.del_ifa(idev.ifa_list[0])

    # -- address selection ------------------------------------------------------------
    def inet_select_addr(self, dev: NetDeviceLike | None, dst: int, scope: int) -> int:
        """inet_select_addr(): a primary address of ``dev`` of at most ``scope``, one in
        ``dst``'s subnet preferred; else the first fitting non-link-scope primary of any
        device in ifindex order. 0 when none."""
        addr = 0
        if dev is not None:
            idev = self.in_dev_get(dev)
            if idev is not None:
                localnet = (RT_SCOPE_LINK if self.in_dev_conf(dev, "route_localnet")
                            else RT_SCOPE_HOST)
                for ifa in idev.ifa_list:
                    if ifa.flags & IFA_F_SECONDARY or min(ifa.scope, localnet) > scope:
                        continue
                    if not dst or ifa.match(dst):
                        return ifa.local
                    if not addr:
                        addr = ifa.local
                if addr:
                    return addr
        for other in self.devices():
            idev = self.in_dev_get(other)
            if idev is None:
                continue
            for ifa in idev.ifa_list:  # in_dev_select_addr()
                if (not ifa.flags & IFA_F_SECONDARY and ifa.scope != RT_SCOPE_LINK
                        and ifa.scope <= scope):
                    return ifa.local
        return 0

    def inet_confirm_addr(self, dev: NetDeviceLike | None, dst: int, local: int,
                          scope: int) -> int:
        """inet_confirm_addr() / confirm_addr_indev(): an address of ``dev`` (any device
        when None) of at most ``scope`` — ``local`` itself when given — provided one of
        the device's subnets holds ``local`` and ``dst`` (each when given); with only
        ``dst``, an address inside dst's subnet is preferred. 0 when none (ARP uses it
        for arp_announce and arp_ignore)."""
        for d in [dev] if dev is not None else self.devices():
            idev = self.in_dev_get(d)
            if idev is None:
                continue
            localnet = (RT_SCOPE_LINK if self.in_dev_conf(d, "route_localnet")
                        else RT_SCOPE_HOST)
            fits = [i for i in idev.ifa_list
                    if (not local or i.local == local) and min(i.scope, localnet) <= scope]
            subnets = [i for i in idev.ifa_list
                       if (not local or i.match(local)) and (not dst or i.match(dst))]
            if not fits or not subnets:
                continue
            if local or not dst:
                return fits[0].local
            for sub in subnets:
                if min(sub.scope, localnet) <= scope:
                    return sub.local
                if sub.match(fits[0].local):
                    return fits[0].local
        return 0

    def ip_dev_find(self, addr: int) -> NetDeviceLike | None:
        """__ip_dev_find(): the device owning local address ``addr`` (an address on a
        device, else a ``local`` route covering it)."""
        lst = self.addr_lst.get(addr)
        if lst:
            return lst[0].dev
        tb = self.fib.tables[RT_TABLE_LOCAL]
        fa = tb.lookup(addr, 0, 0, 0, None)
        if fa is not None and fa.type == RTN_LOCAL:
            return fa.fi.nh.dev
        return None

    def inet_addr_onlink(self, dev: NetDeviceLike, a: int, b: int) -> bool:
        """inet_addr_onlink(): ``a`` (and ``b`` unless 0) inside one subnet of ``dev``."""
        idev = self.in_dev_get(dev)
        for ifa in idev.ifa_list if idev is not None else ():
            if ifa.match(a) and (not b or ifa.match(b)):
                return True
        return False

    # -- routes -----------------------------------------------------------------------
    def check_nh(self, cfg: FibConfig, nh: FibNh) -> None:
        """fib_check_nh() for an IPv4 nexthop: a gateway must be reachable through a
        link- or host-scope route (on ``dev`` if given), or be on-link with ``onlink``;
        a device-only nexthop needs its device up. Sets the nexthop's scope/device."""
        fib = self.fib
        if nh.gw:
            if nh.flags & RTNH_F_ONLINK:
                if cfg.scope >= RT_SCOPE_LINK:
                    raise RtnlError(errno.EINVAL, "Nexthop has invalid scope")
                dev = cfg.dev
                if dev is None:
                    raise RtnlError(errno.ENODEV, "Nexthop device required for onlink")
                if not dev.flags & IFF_UP:
                    raise RtnlError(errno.ENETDOWN, "Nexthop device is not up")
                if fib.addr_type(nh.gw, dev) != RTN_UNICAST:
                    raise RtnlError(errno.EINVAL, "Nexthop has invalid gateway")
                nh.scope = RT_SCOPE_LINK
            else:
                scope = max(cfg.scope + 1, RT_SCOPE_LINK)
                oif = cfg.dev.ifindex if cfg.dev is not None else 0
                fa: FibAlias | None = None
                if cfg.table and cfg.table != RT_TABLE_MAIN:
                    tb = fib.get_table(cfg.table)
                    if tb is not None:
                        fa = tb.lookup(nh.gw, oif, scope, 0, None)
                        if fa is not None and fa.type not in (RTN_UNICAST, RTN_LOCAL):
                            fa = None
                if fa is None:
                    fa = fib.lookup(nh.gw, oif, scope)
                if fa is None or fa.type not in (RTN_UNICAST, RTN_LOCAL):
                    raise RtnlError(errno.EINVAL, "Nexthop has invalid gateway")
                nh.scope = fa.fi.scope
                nh.dev = fa.fi.nh.dev
                if nh.dev is None:
                    raise RtnlError(errno.EINVAL, "No egress device for nexthop gateway")
                if not nh.dev.flags & IFF_UP:
                    raise RtnlError(errno.ENETDOWN)
        else:
            if nh.flags & RTNH_F_ONLINK:
                raise RtnlError(errno.EINVAL, "Invalid flags for nexthop - PERVASIVE and "
                                "ONLINK can not be set")
            if nh.dev is None:
                raise RtnlError(errno.ENODEV)
            if not nh.dev.flags & IFF_UP:
                raise RtnlError(errno.ENETDOWN, "Device for nexthop is not up")
            nh.scope = RT_SCOPE_HOST
        assert nh.dev is not None
        if not netif_carrier_ok(nh.dev):
            nh.flags |= RTNH_F_LINKDOWN

    def valid_prefsrc(self, cfg: FibConfig) -> bool:
        """fib_valid_prefsrc(): ``src`` must be a local address (the route's own
        destination for a local route, or a local-table address)."""
        if cfg.type == RTN_LOCAL and cfg.dst and cfg.prefsrc == cfg.dst:
            return True
        tb_id = RT_TABLE_LOCAL if cfg.table in (RT_TABLE_MAIN, 0) else cfg.table
        rc = self.fib.addr_type(cfg.prefsrc, None, tb_id)
        if rc != RTN_LOCAL and tb_id != RT_TABLE_LOCAL:
            rc = self.fib.addr_type(cfg.prefsrc, None, RT_TABLE_LOCAL)
        return rc == RTN_LOCAL

    def known_congctl(self, name: str) -> bool:
        """tcp_ca_get_key_by_name(): an available congestion control."""
        try:
            avail = str(self.host.sysctl.get("net.ipv4.tcp_available_congestion_control"))
        except Exception:
            avail = "reno cubic"
        return name in avail.split()

    def route_add(self, cfg: FibConfig) -> FibAlias | None:
        """inet_rtm_newroute(): validate (fib_create_info) and insert."""
        if cfg.congctl and not self.known_congctl(cfg.congctl):
            raise RtnlError(errno.ENOENT, "Unknown tcp congestion algorithm")
        fi = self.fib.create_info(cfg, self.check_nh)
        if cfg.prefsrc and not self.valid_prefsrc(cfg):
            raise RtnlError(errno.EINVAL, "Invalid prefsrc address")
        fa = self.fib.insert(cfg, fi)
        if cfg.type == RTN_LOCAL:
            self.fib_has_custom_local_routes = True  # inet_rtm_newroute
        return fa

    def route_del(self, cfg: FibConfig) -> FibAlias:
        """inet_rtm_delroute()."""
        return self.fib.delete(cfg)

    # -- device events ----------------------------------------------------------------
    def netdev_event(self, dev: NetDeviceLike, event: int | str) -> None:
        """inetdev_event() + fib_netdev_event(): react to a device notification."""
        if isinstance(event, str):
            event = _EVENT_NAMES[event]
        if event == NETDEV_UP:
            idev = self.in_dev(dev)
            if dev.flags & IFF_LOOPBACK and self.find_ifa(dev, INADDR_LOOPBACK, 8) is None:
                # inetdev_event NETDEV_UP: lo gets 127.0.0.1/8 scope host
                self.addr_add(dev, INADDR_LOOPBACK, 8, scope=RT_SCOPE_HOST)
            self._sync_kernel_routes(idev, set())  # fib_add_ifaddr for each address
            self.fib.set_linkdown(dev, not netif_carrier_ok(dev))
            self._addr_changed()
        elif event == NETDEV_DOWN:
            self.fib.sync_down_dev(dev, force=False)  # fib_disable_ip(dev, event, false)
            self._addr_changed()
        elif event == NETDEV_CHANGE:
            if dev.flags & IFF_UP:
                self.fib.set_linkdown(dev, not netif_carrier_ok(dev))
        elif event == NETDEV_UNREGISTER:
            self.fib.sync_down_dev(dev, force=True)
            gone = self.in_dev_get(dev)
            if gone is not None:
                for ifa in gone.ifa_list:
                    lst = self.addr_lst.get(ifa.local)
                    if lst is not None and ifa in lst:
                        lst.remove(ifa)
                        if not lst:
                            del self.addr_lst[ifa.local]
                del self.in_devs[id(dev)]
            self._addr_changed()
        elif event in (NETDEV_REGISTER, NETDEV_CHANGEMTU, NETDEV_CHANGENAME):
            self.in_dev(dev)
            self.fib.changed()


def _register_notifier(host: Host, state: InetState) -> None:
    """inetdev_notifier + fib_netdev_notifier on the device layer's chain, when the
    device layer is in use on this host."""
    try:
        from tuxnet.core.netcore import register_netdevice_notifier
    except ImportError:  # pragma: no cover - the device layer is part of the package
        return

    def notify(event: str, dev: Any) -> None:
        if event in _EVENT_NAMES:
            state.netdev_event(dev, event)

    register_netdevice_notifier(host, notify)


def inet_state(host: Host) -> InetState:
    """The host's IPv4 state (``host.inet``), created on first use."""
    state: InetState | None = getattr(host, "inet", None)
    if state is None:
        state = InetState(host)
        setattr(host, "inet", state)  # noqa: B010 - Host has no typed attribute yet
        _register_notifier(host, state)
        for dev in state.devices():
            state.in_dev(dev)
            if dev.flags & IFF_UP:
                state.netdev_event(dev, NETDEV_UP)
    return state


def inet_netdev_event(host: Host, dev: NetDeviceLike, event: int | str) -> None:
    """The notifier the device layer calls: NETDEV_UP / DOWN / CHANGE / UNREGISTER."""
    inet_state(host).netdev_event(dev, event)

