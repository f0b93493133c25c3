"""Route lookups for sending and receiving: ``ip_route_output_key`` and
``ip_route_input`` (net/ipv4/route.c), answering with an :class:`Rtable`.

Output (a socket or ICMP sending, ip_queue_xmit re-routing)::

    rt = ip_route_output_key(host, daddr, saddr=0, oif=0, tos=0)
    if rt.error:            # -ENETUNREACH, -EHOSTUNREACH (unreachable), -EINVAL
        return -rt.error    # (blackhole), -EACCES (prohibit): sendmsg's errno
    rt.dev, rt.nexthop(), rt.saddr, rt.mtu, rt.congctl, rt.metric(RTAX_INITCWND) ...

Input (ip_rcv_finish, for every received packet)::

    rt = ip_route_input(host, daddr, saddr, tos, dev)
    rt.input == "ip_local_deliver" -> RTN_LOCAL / RTN_BROADCAST / RTN_MULTICAST
    rt.input == "ip_forward"       -> forward out of rt.dev to rt.nexthop()
    rt.input == "ip_error"         -> ICMP per rt.error (ip_error): EHOSTUNREACH host
                                      unreachable, ENETUNREACH net unreachable, EACCES
                                      admin prohibited, EINVAL (blackhole) silent drop
    rt.input == ""                 -> martian: drop with rt.drop_reason (as Linux 6.13+:
                                      IP_INVALID_SOURCE, IP_LOCAL_SOURCE, IP_LOCALNET,
                                      IP_INVALID_DEST, IP_RPFILTER for rp_filter)

Both keep a per-host cache keyed by the flow (Linux caches the dst per nexthop and
per socket); any FIB, address or device change empties it (rt_cache_flush), and
``rt.genid`` lets a socket check its cached route (dst_check). A cached Rtable is
shared: treat it as read-only.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.devinet import InetState, inet_state
from tuxnet.ipv4.fib_semantics import (
    FIB_PROPS_ERROR,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE,
    RT_TABLE_MAIN,
    RTAX_ADVMSS,
    RTAX_CC_ALGO,
    RTAX_MTU,
    RTAX_RTT,
    RTAX_WINDOW,
    RTCF_BROADCAST,
    RTCF_DOREDIRECT,
    RTCF_LOCAL,
    RTCF_MULTICAST,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MULTICAST,
    RTN_PROHIBIT,
    RTN_UNICAST,
    RTN_UNREACHABLE,
    RTN_UNSPEC,
    RTPROT_UNSPEC,
    FibAlias,
    FibInfo,
    NetDeviceLike,
)

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["Rtable", "fib_validate_source", "ip_route_input", "ip_route_output_key",
           "proc_net_route"]

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
INADDR_LOOPBACK = 0x7F000001
INADDR_ALLHOSTS_GROUP = 0xE0000001  # joined on every device (ip_mc_up)
_RT_CACHE_MAX = 65536  # entries per direction before the cache starts over


class Rtable:
    """struct rtable: the outcome of a route lookup (a dst_entry)."""

    __slots__ = ("daddr", "dev", "drop_reason", "error", "fa", "fi", "flags", "genid", "gw",
                 "iif", "input", "is_input", "orig_oif", "saddr", "src", "tos", "type",
                 "uses_gateway")

    def __init__(self, rtype: int, dev: NetDeviceLike | None, daddr: int, saddr: int,
                 flags: int = 0, fa: FibAlias | None = None, error: int = 0) -> None:
        self.type = rtype        # RTN_*
        self.dev = dev           # dst.dev: the output device (lo for local delivery)
        self.daddr = daddr
        self.saddr = saddr       # fl4->saddr: the chosen source address
        self.src = 0             # the source the caller asked for (0: none)
        self.flags = flags       # RTCF_*
        self.fa = fa             # the FIB entry that answered (None: no FIB route)
        # the fib_info whose nexthop and metrics the route carries (rt_set_nexthop's
        # dst_init_metrics, fixed with the route): none for broadcast or an error type
        self.fi: FibInfo | None = (None if fa is None or rtype == RTN_BROADCAST
                                   or FIB_PROPS_ERROR[fa.type] else fa.fi)
        self.error = error       # dst.error: errno of a reject / unreachable route
        self.gw = 0              # rt_gw4
        self.uses_gateway = False
        self.iif = 0             # input device ifindex (input routes)
        self.orig_oif = 0        # rt_iif of an output route
        self.is_input = False
        self.input = ""          # dst.input: ip_local_deliver / ip_forward / ip_error
        self.drop_reason: SkbDropReason | None = None
        self.tos = 0
        self.genid = 0

    def __repr__(self) -> str:
        from tuxnet.wire.addr import ip_str

        dev = self.dev.name if self.dev is not None else None
        return (f"<Rtable type={self.type} {ip_str(self.daddr)} dev={dev} "
                f"gw={ip_str(self.gw)} src={ip_str(self.saddr)} error={self.error}>")

    def nexthop(self) -> int:
        """rt_nexthop(): the gateway, or the destination itself when on-link."""
        return self.gw if self.uses_gateway else self.daddr

    def metric(self, rtax: int) -> int:
        """dst_metric_raw(): a route metric (RTAX_*), 0 when unset."""
        fi = self.fi
        return fi.metrics.get(rtax, 0) if fi is not None else 0

    def metric_locked(self, rtax: int) -> bool:
        """dst_metric_locked()."""
        fi = self.fi
        return bool(fi is not None and fi.mxlock & (1 << rtax))

    @property
    def metrics(self) -> dict[int, int]:
        """Every metric the route sets (RTAX_* -> value; RTT in 1/8 ms as the kernel)."""
        fi = self.fi
        return dict(fi.metrics) if fi is not None else {}

    @property
    def mtu(self) -> int:
        """ipv4_mtu() without PMTU exceptions: the route's mtu metric, else the device's."""
        m = self.metric(RTAX_MTU)
        if m:
            return m
        return self.dev.mtu if self.dev is not None else 0

    @property
    def advmss(self) -> int:
        """ipv4_default_advmss(): the advmss metric, else mtu - 40 (at least 256)."""
        m = self.metric(RTAX_ADVMSS)
        return m if m else max(self.mtu - 40, 256)

    @property
    def congctl(self) -> str:
        """The route's congestion control (RTAX_CC_ALGO, ``congctl``), "" if none."""
        fi = self.fi
        return fi.congctl if fi is not None else ""

    @property
    def congctl_locked(self) -> bool:
        """``congctl lock NAME``: the socket may not change it (tcp_ca_dst_locked)."""
        return self.metric_locked(RTAX_CC_ALGO)

    @property
    def table(self) -> int:
        """The table of the answering route (rtm_table of `ip route get`)."""
        return self.fa.tb_id if self.fa is not None else RT_TABLE_MAIN

    @property
    def scope(self) -> int:
        """The answering route's scope."""
        return self.fa.fi.scope if self.fa is not None else RT_SCOPE_UNIVERSE

    @property
    def protocol(self) -> int:
        """The answering route's protocol (RTPROT_*)."""
        return self.fa.fi.protocol if self.fa is not None else RTPROT_UNSPEC


def _state(net: Host | InetState) -> InetState:
    return net if isinstance(net, InetState) else inet_state(net)


def _is_multicast(a: int) -> bool:
    return a >> 28 == 0xE


def _martian_src(a: int) -> bool:
    return a >> 28 == 0xE or a == 0xFFFFFFFF or a >> 24 == 0


def _error(st: InetState, err: int, daddr: int, saddr: int, fa: FibAlias | None = None,
           rtype: int = RTN_UNREACHABLE) -> Rtable:
    rt = Rtable(fa.type if fa is not None else rtype, None, daddr, saddr, 0, fa, err)
    rt.genid = st.rt_genid
    return rt


def ip_check_mc(st: InetState, dev: NetDeviceLike, group: int) -> bool:
    """ip_check_mc_rcu(): ``dev`` has joined ``group`` (224.0.0.1 always)."""
    return group == INADDR_ALLHOSTS_GROUP or group in st.mc_groups.get(id(dev), ())


def fib_result_prefsrc(st: InetState, fa: FibAlias) -> int:
    """fib_result_prefsrc(): the route's ``src``, else the nexthop's cached
    inet_select_addr(dev, gw, scope) (refreshed when addresses changed)."""
    fi = fa.fi
    if fi.prefsrc:
        return fi.prefsrc
    nh = fi.nh
    if nh.saddr_genid != st.dev_addr_genid:
        nh.saddr = st.inet_select_addr(nh.dev, nh.gw, fi.scope)
        nh.saddr_genid = st.dev_addr_genid
    return nh.saddr


# -- output ----------------------------------------------------------------------------

def ip_route_output_key(net: Host | InetState, daddr: int, saddr: int = 0, oif: int = 0,
                        tos: int = 0, *, scope: int = RT_SCOPE_UNIVERSE) -> Rtable:
    """ip_route_output_key() / ip_route_output_key_hash_rcu(): the route a locally
    generated packet to ``daddr`` takes; ``saddr`` 0 lets the route choose, ``oif``
    (an ifindex) binds the device, ``scope`` RT_SCOPE_LINK is SO_DONTROUTE."""
    if net.__class__ is InetState:
        st: InetState = net
    else:  # _state(): host.inet once inet_state made it, without the two frames
        made = getattr(net, "inet", None)
        st = made if made.__class__ is InetState else _state(net)
    key = (daddr, saddr, oif, tos, scope)
    rt: Rtable | None = st.out_cache.get(key)
    if rt is not None:
        return rt
    rt = _output_slow(st, daddr, saddr, oif, tos & 0xFC, scope)
    rt.src = saddr
    rt.tos = tos
    rt.genid = st.rt_genid
    cache = st.out_cache
    if len(cache) >= _RT_CACHE_MAX:
        cache.clear()
    cache[key] = rt
    return rt


def _output_slow(st: InetState, daddr: int, saddr: int, oif: int, tos: int,
                 scope: int) -> Rtable:
    flags = 0
    orig_oif = oif
    dev_out: NetDeviceLike | None = None
    if saddr:
        if _martian_src(saddr):
            return _error(st, errno.EINVAL, daddr, saddr)
        if not oif and (_is_multicast(daddr) or daddr == 0xFFFFFFFF):
            # the source picks the device for multicast and limited broadcast
            dev_out = st.ip_dev_find(saddr)
            if dev_out is None:
                return _error(st, errno.ENETUNREACH, daddr, saddr)
            return _mkroute_output(st, None, RTN_UNICAST, daddr, saddr, dev_out.ifindex,
                                   dev_out, flags)
        if st.ip_dev_find(saddr) is None:
            return _error(st, errno.ENETUNREACH, daddr, saddr)
    if oif:
        dev_out = st.dev_by_index(oif)
        if dev_out is None:
            return _error(st, errno.ENODEV, daddr, saddr)
        if not dev_out.flags & IFF_UP or st.in_dev_get(dev_out) is None:
            return _error(st, errno.ENETUNREACH, daddr, saddr)
        if daddr >> 8 == 0xE00000 or daddr == 0xFFFFFFFF:  # local multicast, lbcast
            if not saddr:
                saddr = st.inet_select_addr(dev_out, 0, RT_SCOPE_LINK)
            return _mkroute_output(st, None, RTN_UNICAST, daddr, saddr, orig_oif, dev_out,
                                   flags)
        if not saddr:
            if _is_multicast(daddr):
                saddr = st.inet_select_addr(dev_out, 0, scope)
            elif not daddr:
                saddr = st.inet_select_addr(dev_out, 0, RT_SCOPE_HOST)
    if not daddr:
        daddr = saddr or INADDR_LOOPBACK
        saddr = saddr or INADDR_LOOPBACK
        lo = st.loopback_dev()
        if lo is None:
            return _error(st, errno.ENETUNREACH, daddr, saddr)
        return _mkroute_output(st, None, RTN_LOCAL, daddr, saddr, orig_oif, lo,
                               flags | RTCF_LOCAL)
    fa = st.fib.lookup(daddr, oif, scope, tos)
    if fa is None or FIB_PROPS_ERROR[fa.type]:
        if oif and dev_out is not None:
            # "Apparently, routing tables are wrong. Assume, that the destination is
            # on link." (route.c)
            if not saddr:
                saddr = st.inet_select_addr(dev_out, 0, RT_SCOPE_LINK)
            return _mkroute_output(st, None, RTN_UNICAST, daddr, saddr, orig_oif, dev_out,
                                   flags)
        if fa is None:
            return _error(st, errno.ENETUNREACH, daddr, saddr)
        return _error(st, -FIB_PROPS_ERROR[fa.type], daddr, saddr, fa)
    if fa.type == RTN_LOCAL:
        if not saddr:
            saddr = fa.fi.prefsrc or daddr
        lo = st.loopback_dev()
        if lo is None:
            return _error(st, errno.ENETUNREACH, daddr, saddr)
        return _mkroute_output(st, fa, RTN_LOCAL, daddr, saddr, fa.fi.nh.oif, lo,
                               flags | RTCF_LOCAL)
    if not saddr:
        saddr = fib_result_prefsrc(st, fa)  # fib_select_path
    dev_out = fa.fi.nh.dev
    if dev_out is None:
        return _error(st, errno.ENETUNREACH, daddr, saddr)
    return _mkroute_output(st, fa, fa.type, daddr, saddr, orig_oif, dev_out, flags)


def _mkroute_output(st: InetState, fa: FibAlias | None, rtype: int, daddr: int, saddr: int,
                    orig_oif: int, dev_out: NetDeviceLike, flags: int) -> Rtable:
    """__mkroute_output()."""
    if st.in_dev_get(dev_out) is None:
        st.in_dev(dev_out)
    if saddr >> 24 == 127 and not dev_out.flags & IFF_LOOPBACK:
        return _error(st, errno.EINVAL, daddr, saddr)
    if daddr == 0xFFFFFFFF:
        rtype = RTN_BROADCAST
    elif _is_multicast(daddr):
        rtype = RTN_MULTICAST
    elif daddr >> 24 == 0:
        return _error(st, errno.EINVAL, daddr, saddr)
    if dev_out.flags & IFF_LOOPBACK:
        flags |= RTCF_LOCAL
    keep_fi = fa is not None
    if rtype == RTN_BROADCAST:
        flags |= RTCF_BROADCAST | RTCF_LOCAL
        keep_fi = False
    elif rtype == RTN_MULTICAST:
        flags |= RTCF_MULTICAST | RTCF_LOCAL
        if not ip_check_mc(st, dev_out, daddr):
            flags &= ~RTCF_LOCAL
        if fa is not None and fa.plen < 4:
            keep_fi = False
    rt = Rtable(rtype, dev_out, daddr, saddr, flags, fa if keep_fi else None)
    rt.orig_oif = orig_oif
    if keep_fi and fa is not None:
        _set_nexthop(rt, fa)
    elif fa is not None and rtype == RTN_BROADCAST:
        rt.fa = fa  # shown by fibmatch; no nexthop or metrics (rt.fi stays None)
    return rt


def _set_nexthop(rt: Rtable, fa: FibAlias) -> None:
    """rt_set_nexthop(): a gateway on a link-scope nexthop is used."""
    nh = fa.fi.nh
    if nh.gw and nh.scope == RT_SCOPE_LINK:
        rt.gw = nh.gw
        rt.uses_gateway = True


# -- input -----------------------------------------------------------------------------

def ip_route_input(net: Host | InetState, daddr: int, saddr: int, tos: int,
                   dev: NetDeviceLike) -> Rtable:
    """ip_route_input_noref(): the route of a packet received on ``dev``."""
    st = net if net.__class__ is InetState else _state(net)
    key = (daddr, saddr, tos, id(dev))
    rt: Rtable | None = st.in_cache.get(key)
    if rt is not None and rt.iif == dev.ifindex:
        return rt
    if _is_multicast(daddr):
        rt = _input_mc(st, daddr, saddr, tos, dev)
    else:
        rt = _input_slow(st, daddr, saddr, tos & 0xFC, dev)
    rt.is_input = True
    rt.iif = dev.ifindex
    rt.src = saddr
    rt.tos = tos
    rt.genid = st.rt_genid
    if rt.error and not rt.input and rt.drop_reason is None:
        rt.drop_reason = (SkbDropReason.IP_RPFILTER if rt.error == errno.EXDEV
                          else SkbDropReason.NOT_SPECIFIED)
    cache = st.in_cache
    if len(cache) >= _RT_CACHE_MAX:
        cache.clear()
    cache[key] = rt
    return rt


def _martian(st: InetState, err: int, daddr: int, saddr: int,
             reason: SkbDropReason = SkbDropReason.NOT_SPECIFIED) -> Rtable:
    """martian_source / martian_destination: a route that drops with ``reason`` (the
    drop reasons ip_route_input_slow returns since Linux 6.13)."""
    rt = _error(st, err, daddr, saddr, None, RTN_UNSPEC)
    rt.drop_reason = reason
    return rt


def _local_input(st: InetState, fa: FibAlias | None, rtype: int, daddr: int, saddr: int,
                 flags: int, err: int = 0) -> Rtable:
    """The local_input tail of ip_route_input_slow (also no_route's)."""
    rt = Rtable(rtype, st.loopback_dev(), daddr, saddr, flags | RTCF_LOCAL, fa)
    rt.input = "ip_local_deliver"
    if rtype == RTN_UNREACHABLE:
        rt.input = "ip_error"
        rt.error = err
        rt.flags &= ~RTCF_LOCAL
    return rt


def _input_mc(st: InetState, daddr: int, saddr: int, tos: int, dev: NetDeviceLike) -> Rtable:
    """ip_route_input_mc(): local delivery of a joined group, else drop (no mrouting)."""
    if st.in_dev_get(dev) is None or not ip_check_mc(st, dev, daddr):
        return _martian(st, errno.EINVAL, daddr, saddr)
    if saddr >> 28 == 0xE or saddr == 0xFFFFFFFF:
        return _martian(st, errno.EINVAL, daddr, saddr)
    if saddr >> 24 == 0:
        bad = daddr >> 8 != 0xE00000  # only link-local groups from 0.0.0.0
    elif saddr >> 24 == 127:
        bad = not st.in_dev_conf(dev, "route_localnet")
    else:
        bad = fib_validate_source(st, saddr, daddr, tos, 0, dev) < 0
    if bad:
        return _martian(st, errno.EINVAL, daddr, saddr)
    return _local_input(st, None, RTN_MULTICAST, daddr, saddr, RTCF_MULTICAST)


def _input_slow(st: InetState, daddr: int, saddr: int, tos: int, dev: NetDeviceLike) -> Rtable:
    """ip_route_input_slow()."""
    if st.in_dev_get(dev) is None:
        return _martian(st, errno.EINVAL, daddr, saddr)
    if saddr >> 28 == 0xE or saddr == 0xFFFFFFFF:
        return _martian(st, errno.EINVAL, daddr, saddr, SkbDropReason.IP_INVALID_SOURCE)
    if daddr == 0xFFFFFFFF or (saddr == 0 and daddr == 0):
        return _brd_input(st, None, daddr, saddr, tos, dev)
    if saddr >> 24 == 0:
        return _martian(st, errno.EINVAL, daddr, saddr, SkbDropReason.IP_INVALID_SOURCE)
    if daddr >> 24 == 0:
        return _martian(st, errno.EINVAL, daddr, saddr, SkbDropReason.IP_INVALID_DEST)
    loopback = daddr >> 24 == 127 or saddr >> 24 == 127
    if loopback and not st.in_dev_conf(dev, "route_localnet"):
        return _martian(st, errno.EINVAL, daddr, saddr, SkbDropReason.IP_LOCALNET)
    fa = st.fib.lookup(daddr, 0, RT_SCOPE_UNIVERSE, tos)
    forwarding = st.in_dev_conf(dev, "forwarding")
    if fa is None or FIB_PROPS_ERROR[fa.type]:
        err = errno.ENETUNREACH if fa is None else -FIB_PROPS_ERROR[fa.type]
        if not forwarding:
            err = errno.EHOSTUNREACH
        return _local_input(st, None, RTN_UNREACHABLE, daddr, saddr, 0, err)
    if fa.type == RTN_BROADCAST:
        if st.in_dev_conf(dev, "bc_forwarding"):
            return _mkroute_input(st, fa, daddr, saddr, tos, dev)
        return _brd_input(st, fa, daddr, saddr, tos, dev)
    if fa.type == RTN_LOCAL:
        ret, reason = _validate_source(st, saddr, daddr, tos, 0, dev)
        if ret < 0:
            return _martian(st, errno.EINVAL, daddr, saddr, reason)
        return _local_input(st, fa, RTN_LOCAL, daddr, saddr, 0)
    if not forwarding:
        return _local_input(st, None, RTN_UNREACHABLE, daddr, saddr, 0, errno.EHOSTUNREACH)
    if fa.type != RTN_UNICAST:  # martian destination
        return _martian(st, errno.EINVAL, daddr, saddr, SkbDropReason.IP_INVALID_DEST)
    return _mkroute_input(st, fa, daddr, saddr, tos, dev)


def _brd_input(st: InetState, fa: FibAlias | None, daddr: int, saddr: int, tos: int,
               dev: NetDeviceLike) -> Rtable:
    if saddr >> 24 != 0:
        err, reason = _validate_source(st, saddr, 0, tos, 0, dev)
        if err < 0:
            return _martian(st, -err, daddr, saddr, reason)
    return _local_input(st, None, RTN_BROADCAST, daddr, saddr, RTCF_BROADCAST)


def _mkroute_input(st: InetState, fa: FibAlias, daddr: int, saddr: int, tos: int,
                   dev: NetDeviceLike) -> Rtable:
    """__mkroute_input(): a forwarded packet's route (and whether to send a redirect)."""
    out_dev = fa.fi.nh.dev
    if out_dev is None or st.in_dev_get(out_dev) is None:
        return _martian(st, errno.EINVAL, daddr, saddr)
    err, reason = _validate_source(st, saddr, daddr, tos, out_dev.ifindex, dev)
    if err < 0:
        return _martian(st, -err, daddr, saddr, reason)
    flags = 0
    if out_dev is dev and err and st.in_dev_conf(out_dev, "send_redirects"):
        gw = fa.fi.nh.gw
        if st.in_dev_conf(out_dev, "shared_media") or st.inet_addr_onlink(out_dev, saddr, gw):
            flags |= RTCF_DOREDIRECT  # IPSKB_DOREDIRECT
    rt = Rtable(fa.type, out_dev, daddr, saddr, flags, fa)
    rt.input = "ip_forward"
    _set_nexthop(rt, fa)
    return rt


def fib_validate_source(net: Host | InetState, src: int, dst: int, tos: int, oif: int,
                        dev: NetDeviceLike) -> int:
    """fib_validate_source(): may a packet from ``src`` arrive on ``dev``? 1 when the
    source is directly connected there, 0 when acceptable, -EINVAL for a martian (our
    own address, or a source routed as non-unicast), -EXDEV when rp_filter rejects it."""
    return _validate_source(_state(net), src, dst, tos, oif, dev)[0]


_RPF = (-errno.EXDEV, SkbDropReason.IP_RPFILTER)
_LOCAL_SOURCE = (-errno.EINVAL, SkbDropReason.IP_LOCAL_SOURCE)


def _validate_source(st: InetState, src: int, dst: int, tos: int, oif: int,
                     dev: NetDeviceLike) -> tuple[int, SkbDropReason]:
    """fib_validate_source() with the drop reason of a refusal (Linux 6.13+ returns
    it): IP_LOCAL_SOURCE for our own address, IP_INVALID_SOURCE for a source routed
    as neither unicast nor local, IP_RPFILTER for rp_filter (NOT_DROPPED_YET if ok)."""
    ok = SkbDropReason.NOT_DROPPED_YET
    rpf = st.in_dev_conf(dev, "rp_filter")
    accept_local = st.in_dev_conf(dev, "accept_local")
    if not rpf and (dev.ifindex != oif or not st.in_dev_conf(dev, "send_redirects")):
        if accept_local:
            return 0, ok
        if not st.fib_has_custom_local_routes:
            return _LOCAL_SOURCE if src in st.addr_lst else (0, ok)
    # __fib_validate_source(): route the reverse direction
    fa = st.fib.lookup(src, 0, RT_SCOPE_UNIVERSE, tos)
    if fa is None or FIB_PROPS_ERROR[fa.type]:
        return _RPF if rpf else (0, ok)
    if fa.type != RTN_UNICAST:
        if fa.type != RTN_LOCAL:
            return -errno.EINVAL, SkbDropReason.IP_INVALID_SOURCE
        if not accept_local:
            return _LOCAL_SOURCE
    nh = fa.fi.nh
    if nh.dev is dev or (fa.type == RTN_LOCAL and dev is st.loopback_dev()):
        return (1 if nh.scope >= RT_SCOPE_HOST else 0), ok
    idev = st.in_dev_get(dev)
    if idev is None or not idev.ifa_list:
        return _RPF if rpf else (0, ok)
    if rpf == 1:
        return _RPF
    fa = st.fib.lookup(src, dev.ifindex, RT_SCOPE_UNIVERSE, tos)
    if fa is not None and fa.type == RTN_UNICAST:
        return (1 if fa.fi.nh.scope >= RT_SCOPE_HOST else 0), ok
    return 0, ok


# -- /proc/net/route -------------------------------------------------------------------

_RTF_UP, _RTF_GATEWAY, _RTF_HOST, _RTF_REJECT = 0x1, 0x2, 0x4, 0x200  # linux/route.h


def _le_hex(addr: int) -> str:
    # a __be32 printed with %08X on a little-endian machine: byte-swapped
    return f"{int.from_bytes(addr.to_bytes(4, 'big'), 'little'):08X}"


def proc_net_route(host: Host) -> str:
    """/proc/net/route (net/ipv4/fib_trie.c fib_route_seq_show): the main table, one
    line per route padded to 127 characters; broadcast and multicast routes left out."""
    st = inet_state(host)
    hdr = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
    lines = [f"{hdr:<127}"]
    for fa in st.fib.tables[RT_TABLE_MAIN].routes():
        if fa.type in (RTN_BROADCAST, RTN_MULTICAST):
            continue
        fi = fa.fi
        nh = fi.nh  # fib_flags_trans(): RTF_* from the type, gateway and mask
        flags = _RTF_REJECT if fa.type in (RTN_UNREACHABLE, RTN_PROHIBIT) else 0
        if nh.gw:
            flags |= _RTF_GATEWAY
        if fa.plen == 32:
            flags |= _RTF_HOST
        flags |= _RTF_UP
        advmss = fi.metrics.get(RTAX_ADVMSS, 0)
        line = (f"{nh.dev.name if nh.dev is not None else '*'}\t{_le_hex(fa.dst)}\t"
                f"{_le_hex(nh.gw)}\t{flags:04X}\t0\t0\t{fi.priority}\t"
                f"{_le_hex(0xFFFFFFFF << (32 - fa.plen) & 0xFFFFFFFF)}\t"
                f"{advmss + 40 if advmss else 0}\t{fi.metrics.get(RTAX_WINDOW, 0)}\t"
                f"{fi.metrics.get(RTAX_RTT, 0) >> 3}")
        lines.append(f"{line:<127}")
    return "\n".join(lines) + "\n"
