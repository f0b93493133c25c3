"""IPv4 output (net/ipv4/ip_output.c, with route.c's MTU and PMTU helpers).

The path of a locally generated datagram::

    ip_send_skb ─► route (ip_route_output_key; -ENETUNREACH counts OutNoRoutes)
      ─► DF (pmtudisc), TTL, IP ID ─► push the header ─► ip_local_out
      ─► __ip_local_out (OutRequests, tot_len, checksum) ─► NF_INET_LOCAL_OUT
      ─► dst_output: ip_output, or ip_mc_output for local broadcast/multicast
      ─► NF_INET_POST_ROUTING ─► ip_finish_output (longer than the path MTU:
         ip_fragment, or ICMP frag-needed for DF) ─► ip_finish_output2 (OutTransmits,
         OutOctets) ─► neighbour (ARP) ─► dev_queue_xmit

Forwarded packets join at ip_output (ip_forward_finish). ``ip_send_skb`` is the entry
for transports without sockets of their own (and ICMP): skb.data at the transport
header with headroom for the IPv4 and link headers (LL_MAX_HEADER + 20 is plenty).
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.fib_semantics import (
    RTAX_HOPLIMIT,
    RTAX_MTU,
    RTCF_BROADCAST,
    RTCF_LOCAL,
    RTCF_MULTICAST,
    RTN_BROADCAST,
    RTN_MULTICAST,
)
from tuxnet.ipv4.inet import (
    IPSKB_FORWARDED,
    IPSKB_FRAG_PMTU,
    IPSKB_REROUTED,
    InetSkbParm,
    Ipv4,
    ip_state,
    ipcb,
)
from tuxnet.ipv4.ip_output_frag import IP_MAX_MTU, ip_fragment
from tuxnet.ipv4.route import Rtable, ip_route_output_key
from tuxnet.netfilter.hooks import (
    NF_INET_LOCAL_OUT,
    NF_INET_POST_ROUTING,
    nf_hook,
    nf_hooks_needed,
)
from tuxnet.skb import CHECKSUM_NONE, CHECKSUM_UNNECESSARY, SkbError, SkBuff
from tuxnet.wire.checksum import internet_checksum
from tuxnet.wire.ethernet import ETH_P_IP
from tuxnet.wire.ipv4 import IP_DF, IPPROTO_ICMP

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = [
    "IP_PMTUDISC_DO",
    "IP_PMTUDISC_DONT",
    "IP_PMTUDISC_INTERFACE",
    "IP_PMTUDISC_OMIT",
    "IP_PMTUDISC_PROBE",
    "IP_PMTUDISC_WANT",
    "LL_RESERVED_SPACE",
    "MAX_IP_HEADROOM",
    "dst_mtu",
    "dst_output",
    "ip_dst_mtu_maybe_forward",
    "ip_finish_output",
    "ip_finish_output2",
    "ip_local_out",
    "ip_mc_output",
    "ip_output",
    "ip_route_output",
    "ip_select_ttl",
    "ip_send_skb",
    "ip_skb_dst_mtu",
    "ipv4_update_pmtu",
]

# include/uapi/linux/in.h: IP_MTU_DISCOVER values
IP_PMTUDISC_DONT = 0
IP_PMTUDISC_WANT = 1
IP_PMTUDISC_DO = 2
IP_PMTUDISC_PROBE = 3
IP_PMTUDISC_INTERFACE = 4
IP_PMTUDISC_OMIT = 5
LL_RESERVED_SPACE = 16  # LL_RESERVED_SPACE(dev) for Ethernet
MAX_IP_HEADROOM = LL_RESERVED_SPACE + 60  # link header + the longest IPv4 header
IPV4_HLEN = 20
PACKET_LOOPBACK = 5  # include/uapi/linux/if_packet.h
NET_XMIT_CN = 2  # include/linux/netdevice.h
IFF_LOOPBACK = 0x8

_HDR = struct.Struct("!BBHHHBBHII")
_pack_hdr = _HDR.pack_into
_U16 = struct.Struct("!H")
_pack16 = _U16.pack_into
_new_ipcb = object.__new__
_RTAX_MTU_LOCK = 1 << RTAX_MTU


# -- MTU and TTL ------------------------------------------------------------------------

def ip_select_ttl(host: Host, rt: Rtable) -> int:
    """ip_select_ttl: the route's hoplimit metric, else net.ipv4.ip_default_ttl."""
    ttl = rt.metric(RTAX_HOPLIMIT)
    if not ttl:
        ttl = host.sysctl.get_int("net.ipv4.ip_default_ttl")
    return ttl


def dst_mtu(st: Ipv4, rt: Rtable) -> int:
    """ipv4_mtu: the learned path MTU to the route's destination while it lives, else the
    route's mtu metric or the device MTU (576 for a locked MTU through a gateway)."""
    dev = rt.dev
    if dev is not None:
        pmtu = st.pmtu
        # find_exception; with no exception learned there is nothing to hash
        fnhe = pmtu.lookup(rt.daddr) if pmtu.buckets else None
        if fnhe is not None and fnhe.pmtu:
            return min(fnhe.pmtu, IP_MAX_MTU)
    fi = rt.fi  # dst_metric_raw / dst_metric_locked, the fib_info fetched once
    mtu = fi.metrics.get(RTAX_MTU, 0) if fi is not None else 0
    if not mtu:
        mtu = dev.mtu if dev is not None else 0
        if (fi is not None and fi.mxlock & _RTAX_MTU_LOCK and rt.uses_gateway
                and mtu > 576):
            mtu = 576
    return mtu if mtu < IP_MAX_MTU else IP_MAX_MTU  # min(): the builtin costs more


def ip_dst_mtu_maybe_forward(st: Ipv4, rt: Rtable, forwarding: bool) -> int:
    """ip_dst_mtu_maybe_forward: forwarded packets use the route's mtu metric or the
    device MTU and ignore learned PMTUs unless ip_forward_use_pmtu is set or the MTU is
    locked; locally generated ones follow the path MTU."""
    if (not forwarding or rt.metric_locked(RTAX_MTU)
            or st.sysctls["net.ipv4.ip_forward_use_pmtu"]):
        return dst_mtu(st, rt)
    mtu = rt.metric(RTAX_MTU)
    if not mtu:
        mtu = rt.dev.mtu if rt.dev is not None else 0
    return min(mtu, IP_MAX_MTU)


def ip_skb_dst_mtu(st: Ipv4, skb: SkBuff) -> int:
    """ip_skb_dst_mtu: a sender in IP_PMTUDISC_PROBE, INTERFACE or OMIT mode (the
    socket's, else the one ip_send_skb recorded) sends up to the device MTU; everything
    else up to ip_dst_mtu_maybe_forward."""
    rt: Rtable = skb.dst
    cb = skb.cb
    is_cb = cb.__class__ is InetSkbParm
    sk = skb.sk
    mode = getattr(sk, "pmtudisc", IP_PMTUDISC_WANT) if sk is not None else (
        cb.pmtudisc if is_cb else IP_PMTUDISC_WANT)
    if mode >= IP_PMTUDISC_PROBE and rt.dev is not None:  # !ip_sk_use_pmtu(sk)
        return min(rt.dev.mtu, IP_MAX_MTU)
    if not (is_cb and cb.flags & IPSKB_FORWARDED):
        return dst_mtu(st, rt)  # ip_dst_mtu_maybe_forward of a local packet, inline
    return ip_dst_mtu_maybe_forward(st, rt, True)


def ipv4_update_pmtu(host: Host, skb: SkBuff, mtu: int) -> bool:
    """ipv4_update_pmtu / ipv4_sk_update_pmtu (the part an err_handler calls on an ICMP
    frag-needed): skb.data at the quoted IPv4 header; route its (daddr, saddr) as the
    original was routed and record ``mtu`` for daddr (__ip_rt_update_pmtu; RFC 1191)."""
    data = skb.data
    if len(data) < IPV4_HLEN:
        return False
    _vihl, tos, _tot, _id, _frag, _ttl, _proto, _csum, saddr, daddr = _HDR.unpack_from(data)
    st = ip_state(host)
    rt = ip_route_output_key(st.inet, daddr, saddr, 0, tos)
    if rt.error or rt.dev is None or rt.metric_locked(RTAX_MTU):
        return False  # ip_mtu_locked: a locked route MTU is never lowered
    route_mtu = rt.metric(RTAX_MTU) or rt.dev.mtu
    return st.pmtu.update(daddr, mtu, route_mtu=route_mtu)


# -- the output path --------------------------------------------------------------------

def ip_finish_output2(host: Host, skb: SkBuff) -> int:
    """ip_finish_output2: count the datagram (OutTransmits/OutOctets after
    fragmentation, broadcast/multicast) and hand it to the neighbour of the next hop."""
    return _ip_finish_output2(ip_state(host), skb)


def _ip_finish_output2(st: Ipv4, skb: SkBuff) -> int:
    """ip_finish_output2 with the IPv4 state at hand."""
    host = st.host
    rt: Rtable = skb.dst
    n = skb.len
    ip = host.mib.ip
    ipext = host.mib.ipext
    rtype = rt.type
    if rtype == RTN_MULTICAST:
        ipext.OutMcastPkts += 1
        ipext.OutMcastOctets += n
    elif rtype == RTN_BROADCAST:
        ipext.OutBcastPkts += 1
        ipext.OutBcastOctets += n
    ip.OutTransmits += 1  # IP_UPD_PO_STATS(IPSTATS_MIB_OUT): counted after fragment
    ipext.OutOctets += n
    dev: Any = rt.dev
    return st.arp.ip_neigh_output(skb, dev, rt.gw if rt.uses_gateway else rt.daddr)  # rt_nexthop


def ip_finish_output(host: Host, skb: SkBuff) -> int:
    """__ip_finish_output: fragment what is longer than the path MTU (or a reassembled
    datagram that must keep its fragment size), else ip_finish_output2."""
    try:
        st: Ipv4 = host.ipv4  # type: ignore[attr-defined]  # ip_state, inline
    except AttributeError:
        st = ip_state(host)
    mtu = ip_skb_dst_mtu(st, skb)
    cb = skb.cb
    if cb.__class__ is not InetSkbParm:
        cb = ipcb(skb)
    if skb.gso_size:  # ip_finish_output_gso: segments are checked by the device layer
        return _ip_finish_output2(st, skb)
    if skb.len > mtu or cb.frag_max_size:
        def output(s: SkBuff) -> int:
            return ip_finish_output2(host, s)

        def frag_needed(s: SkBuff, info: int) -> None:
            from tuxnet.ipv4.icmp import ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, icmp_send
            icmp_send(host, s, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, info)

        return ip_fragment(host, skb, mtu, output, ignore_df=cb.ignore_df,
                           frag_max_size=cb.frag_max_size,
                           frag_pmtu=bool(cb.flags & IPSKB_FRAG_PMTU),
                           icmp_send=frag_needed)
    return _ip_finish_output2(st, skb)


def ip_output(host: Host, skb: SkBuff) -> int:
    """ip_output: set the output device, NF_INET_POST_ROUTING, ip_finish_output."""
    rt: Rtable = skb.dst
    dev = rt.dev
    indev = skb.dev
    skb.dev = dev
    skb.protocol = ETH_P_IP
    cb = skb.cb
    if cb.__class__ is not InetSkbParm:
        cb = ipcb(skb)
    if cb.flags & IPSKB_REROUTED:  # NF_HOOK_COND: rerouted packets skip the hook
        return ip_finish_output(host, skb)
    if not nf_hooks_needed[NF_INET_POST_ROUTING]:
        return ip_finish_output(host, skb)
    return nf_hook(host, NF_INET_POST_ROUTING, skb, indev, dev,
                   lambda s: ip_finish_output(host, s))


def ip_mc_output(host: Host, skb: SkBuff) -> int:
    """ip_mc_output: a local broadcast or a multicast the host itself listens to is
    looped back (dev_loopback_xmit, PACKET_LOOPBACK) besides going out; multicast
    with TTL 0 stays on the host."""
    rt: Rtable = skb.dst
    dev = rt.dev
    skb.dev = dev
    skb.protocol = ETH_P_IP
    if rt.flags & (RTCF_MULTICAST | RTCF_BROADCAST):
        _dev_loopback_xmit(host, skb.copy())
        if rt.flags & RTCF_MULTICAST and skb.data[8] == 0:
            host.consume_skb(skb, "ip_mc_output")
            return 0
    return nf_hook(host, NF_INET_POST_ROUTING, skb, None, dev,
                   lambda s: ip_finish_output(host, s))


def _dev_loopback_xmit(host: Host, skb: SkBuff) -> None:
    """NF_INET_POST_ROUTING then dev_loopback_xmit: back into this host's receive path
    through netif_rx, keeping the output route (skb_dst_force)."""
    from tuxnet.core.dev import netif_rx

    def loop(s: SkBuff) -> int:
        s.reset_mac_header()
        s.pkt_type = PACKET_LOOPBACK
        if s.ip_summed == CHECKSUM_NONE:
            s.ip_summed = CHECKSUM_UNNECESSARY
        if getattr(s.dev, "core", None) is None:
            host.kfree_skb(s, SkbDropReason.DEV_READY, "dev_loopback_xmit")
            return 0
        netif_rx(s)
        return 0

    nf_hook(host, NF_INET_POST_ROUTING, skb, None, skb.dev, loop)


def dst_output(host: Host, skb: SkBuff) -> int:
    """dst_output: the route's output function: ip_mc_output for a local broadcast or
    multicast leaving a real device (__mkroute_output), else ip_output."""
    rt: Rtable = skb.dst
    flags = rt.flags
    if (not rt.is_input and flags & (RTCF_BROADCAST | RTCF_MULTICAST) and flags & RTCF_LOCAL
            and rt.dev is not None and not rt.dev.flags & IFF_LOOPBACK):
        return ip_mc_output(host, skb)
    return ip_output(host, skb)


def __ip_local_out(host: Host, skb: SkBuff) -> None:
    """__ip_local_out before its hook: OutRequests, tot_len and the header checksum."""
    host.mib.ip.OutRequests += 1
    head = skb.head
    off = skb.data_off
    _pack16(head, off + 2, skb.len & 0xFFFF)  # iph_set_totlen
    _pack16(head, off + 10, 0)
    hl = (head[off] & 15) << 2
    _pack16(head, off + 10, internet_checksum(head[off:off + hl]))  # ip_send_check
    skb.protocol = ETH_P_IP


def ip_local_out(host: Host, skb: SkBuff) -> int:
    """ip_local_out: a complete datagram at skb.data (skb.dst its output route) through
    __ip_local_out, NF_INET_LOCAL_OUT and dst_output. Returns 0, NET_XMIT_* or -errno."""
    __ip_local_out(host, skb)
    if not nf_hooks_needed[NF_INET_LOCAL_OUT]:
        return dst_output(host, skb)
    rt: Rtable = skb.dst
    return nf_hook(host, NF_INET_LOCAL_OUT, skb, None, rt.dev, lambda s: dst_output(host, s))


# -- building and sending ---------------------------------------------------------------

def ip_route_output(host: Host, daddr: int, saddr: int = 0, oif: int = 0,
                    tos: int = 0) -> Rtable:
    """ip_route_output_key for a transport: route first (to learn ``rt.saddr`` for a
    pseudo-header checksum), then pass the route to ip_send_skb(..., rt=rt)."""
    return ip_route_output_key(ip_state(host).inet, daddr, saddr, oif, tos)


def _icmp_out_count(host: Host, icmp_type: int) -> None:
    """icmp_out_count: OutMsgs and OutType<N> for an ICMP message being made."""
    mib = host.mib
    mib.icmpmsg[0x100 | (icmp_type & 0xFF)] += 1
    mib.icmp.OutMsgs += 1


def ip_send_skb(host: Host, skb: SkBuff, saddr: int, daddr: int, protocol: int, *,
                tos: int = 0, ttl: int | None = None, df: bool | None = None, oif: int = 0,
                ident: int | None = None, rt: Rtable | None = None,
                pmtudisc: int | None = None, xmit_rc: bool = False) -> int:
    """ip_make_skb + ip_send_skb for a transport: route to ``daddr`` (``saddr`` 0 lets
    the route choose; ``rt`` skips the lookup), push the IPv4 header and send; the skb
    is consumed either way.

    DF and the size limit follow the sender's IP_MTU_DISCOVER mode (__ip_append_data,
    __ip_make_skb): ``pmtudisc`` when given (a socket's IP_PMTUDISC_*), else ``df``:
    None is the default socket's mode (IP_PMTUDISC_WANT, or DONT when
    net.ipv4.ip_no_pmtu_disc is set), True is IP_PMTUDISC_DO, False IP_PMTUDISC_DONT.
    WANT sets DF when the datagram fits the path MTU (learned PMTU included) and the
    route MTU is not locked, and fragments it otherwise; DO and PROBE always set DF
    and fail with -EMSGSIZE above the path MTU (PROBE: the device MTU); INTERFACE
    likewise without DF; DONT and OMIT never set DF. ``ident`` None picks the IP ID
    as a socket-less sender does (ip_select_ident_segs: 0 for DO and PROBE, whose DF
    packets are not ignore_df; else ip_idents); a connected socket passes its own
    inet_id. ``ttl`` None: the route's hoplimit or ip_default_ttl (1 for multicast).

    Returns 0 or a negative errno: -ENETUNREACH (OutNoRoutes), -EHOSTUNREACH, -EINVAL,
    -EACCES from the route, -EMSGSIZE, -ENOBUFS when the qdisc dropped it (OutDiscards).
    With ``xmit_rc`` (ip_queue_xmit for TCP) the qdisc's NET_XMIT_DROP/CN comes back as
    is, uncounted: TCP reacts to local congestion itself.
    """
    try:
        st: Ipv4 = host.ipv4  # type: ignore[attr-defined]  # ip_state, inline
    except AttributeError:
        st = ip_state(host)
    if rt is None:
        rt = ip_route_output_key(st.inet, daddr, saddr, oif, tos)
    if rt.error:
        if rt.error == errno.ENETUNREACH:
            host.mib.ip.OutNoRoutes += 1
        host.kfree_skb(skb, SkbDropReason.IP_OUTNOROUTES, "ip_route_output_flow")
        return -rt.error
    if not saddr:
        saddr = rt.saddr
    if pmtudisc is None:
        if df is None:  # inet_create: IP_PMTUDISC_DONT when ip_no_pmtu_disc is set
            pmtudisc = (IP_PMTUDISC_DONT if st.sysctls["net.ipv4.ip_no_pmtu_disc"]
                        else IP_PMTUDISC_WANT)
        else:
            pmtudisc = IP_PMTUDISC_DO if df else IP_PMTUDISC_DONT
    if pmtudisc in (IP_PMTUDISC_DONT, IP_PMTUDISC_OMIT):
        # ip_sk_ignore_df, and DF never set: the path MTU (ip_setup_cork's fragsize)
        # plays no part before ip_finish_output, which reads it itself
        ignore_df = True
        set_df = False
    else:
        total = skb.len + IPV4_HLEN
        if pmtudisc < IP_PMTUDISC_PROBE or rt.dev is None:  # ip_sk_use_pmtu
            mtu = dst_mtu(st, rt)
        else:
            mtu = min(rt.dev.mtu, IP_MAX_MTU)
        ignore_df = pmtudisc < IP_PMTUDISC_DO  # ip_sk_ignore_df (WANT)
        if not ignore_df and total > mtu:  # __ip_append_data: maxnonfragsize
            host.kfree_skb(skb, SkbDropReason.PKT_TOO_BIG, "__ip_append_data")
            return -errno.EMSGSIZE
        set_df = pmtudisc != IP_PMTUDISC_INTERFACE and (
            pmtudisc != IP_PMTUDISC_WANT or (total <= mtu
                                             and not rt.metric_locked(RTAX_MTU)))
    if ttl is None:
        if rt.type == RTN_MULTICAST:
            ttl = 1
        else:  # ip_select_ttl, inline: the hoplimit metric, else ip_default_ttl
            fi = rt.fi
            ttl = fi.metrics.get(RTAX_HOPLIMIT, 0) if fi is not None else 0
            if not ttl:
                ttl = st.sysctls["net.ipv4.ip_default_ttl"]
    if ident is None:  # ip_select_ident_segs without a connected socket
        ident = 0 if set_df and not ignore_df else st.select_ident(daddr, saddr, protocol)
    if protocol == IPPROTO_ICMP and skb.len:  # icmp_out_count: OutMsgs, OutType<N>
        mib = host.mib
        mib.icmpmsg[0x100 | skb.head[skb.data_off]] += 1
        mib.icmp.OutMsgs += 1
    # push the 20-byte IPv4 header in front of the transport header at skb.data
    if skb.data_off < IPV4_HLEN + LL_RESERVED_SPACE or (skb.cloned and skb.header_cloned()):
        try:
            skb.cow_head(IPV4_HLEN + LL_RESERVED_SPACE)
        except SkbError:
            host.kfree_skb(skb, SkbDropReason.NOMEM, "ip_send_skb")
            host.mib.ip.OutDiscards += 1
            return -errno.ENOBUFS
    th = skb.data_off
    skb.transport_header = th  # skb_reset_transport_header
    nh = th - IPV4_HLEN
    skb.data_off = skb.network_header = nh  # skb_push (the headroom is there now),
    skb.len += IPV4_HLEN  # skb_reset_network_header
    _pack_hdr(skb.head, nh, 0x45, tos & 0xFF, skb.len & 0xFFFF, ident & 0xFFFF,
              IP_DF if set_df else 0, ttl & 0xFF, protocol, 0, saddr, daddr)
    skb.protocol = ETH_P_IP
    # a zeroed IPCB with the sender's mode: InetSkbParm() without its __init__ frame
    # (tests/ipv4/test_ip_output checks the fields)
    cb = _new_ipcb(InetSkbParm)
    cb.flags = cb.frag_max_size = cb.iif = cb.optlen = cb.srr = 0
    cb.pmtudisc = pmtudisc
    cb.ignore_df = ignore_df
    skb.cb = cb
    skb.dst = rt
    err = ip_local_out(host, skb)
    if err > 0 and xmit_rc:
        return err
    if err:
        if err > 0:
            err = 0 if err == NET_XMIT_CN else -errno.ENOBUFS  # net_xmit_errno
        if err:
            host.mib.ip.OutDiscards += 1
    return err

