"""What TCP needs from IPv4, in one place: the output route (ip_route_connect /
inet_csk_route_req as a :class:`~tuxnet.tcp.netns.TcpDst`), the transmit hook
(ip_queue_xmit / ip_build_and_send_pkt / ip_send_unicast_reply) and the input-route
check tcp_v4_send_reset makes (net/ipv4/tcp_ipv4.c, net/ipv4/ip_output.c).

The IPv4 modules are imported when first used, so a host whose TCP is driven by a
test harness (``TcpNet.route_output`` and ``TcpNet.ip_queue_xmit`` replaced) never
needs IPv4 to be initialised.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.tcp.netns import TcpDst

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = ["ip_queue_xmit", "ipv4_tcp_skb", "route_output", "skb_dst_is_local",
           "update_pmtu"]

IPPROTO_TCP = 6
_RTAX_WINDOW = 3
_RTAX_RTO_MIN = 13
_RTAX_INITCWND = 11
_RTAX_INITRWND = 14
_RTAX_QUICKACK = 15
_RTAX_FEATURES = 12


def route_output(host: Host, daddr: int, saddr: int, oif: int, tos: int) -> TcpDst:
    """ip_route_connect() / inet_csk_route_req(): the route TCP will send on."""
    from tuxnet.ipv4.fib_semantics import RTN_LOCAL
    from tuxnet.ipv4.inet import ip_state
    from tuxnet.ipv4.ip_output import dst_mtu
    from tuxnet.ipv4.route import ip_route_output_key

    st = ip_state(host)
    rt = ip_route_output_key(st.inet, daddr, saddr, oif, tos)
    if rt.error:
        if rt.error == errno.ENETUNREACH:
            host.mib.ip.OutNoRoutes += 1
        return TcpDst(error=rt.error)

    def mtu() -> int:
        return dst_mtu(st, rt)

    def obsolete() -> bool:  # ipv4_dst_check: rt_is_expired
        return bool(rt.genid != st.inet.rt_genid)

    dst = TcpDst(saddr=rt.saddr, daddr=daddr, mtu_fn=mtu, advmss=rt.advmss,
                 initcwnd=rt.metric(_RTAX_INITCWND), window=rt.metric(_RTAX_WINDOW),
                 initrwnd=rt.metric(_RTAX_INITRWND), rto_min=rt.metric(_RTAX_RTO_MIN),
                 quickack=rt.metric(_RTAX_QUICKACK), congctl=rt.congctl,
                 local=rt.type == RTN_LOCAL, rt=rt)
    dst.obsolete_fn = obsolete
    dst.features = rt.metric(_RTAX_FEATURES)
    return dst


def ip_queue_xmit(host: Host, skb: SkBuff, saddr: int, daddr: int, dst: TcpDst | None,
                  tos: int, ttl: int | None, ident: int | None) -> int:
    """ip_queue_xmit(): hand a TCP segment (skb.data at the TCP header) to IPv4 with DF
    set (TCP sockets use IP_PMTUDISC_WANT and never exceed the path MTU). A qdisc drop
    comes back as NET_XMIT_DROP (> 0), as dev_queue_xmit returns it."""
    from tuxnet.ipv4.ip_output import ip_send_skb

    rt: Any = dst.rt if dst is not None else None
    return ip_send_skb(host, skb, saddr, daddr, IPPROTO_TCP, tos=tos, ttl=ttl, rt=rt,
                       ident=ident, xmit_rc=True)


def skb_dst_is_local(skb: SkBuff) -> bool:
    """skb_rtable(skb)->rt_type == RTN_LOCAL (no route attached: a harness, say yes)."""
    rt = skb.dst
    if rt is None:
        return True
    from tuxnet.ipv4.fib_semantics import RTN_LOCAL

    return bool(getattr(rt, "type", RTN_LOCAL) == RTN_LOCAL)


def update_pmtu(host: Host, skb: SkBuff, mtu: int) -> bool:
    """inet_csk_update_pmtu() -> ipv4_update_pmtu(): record a frag-needed's MTU."""
    from tuxnet.ipv4.ip_output import ipv4_update_pmtu

    return ipv4_update_pmtu(host, skb, mtu)


_IPH = struct.Struct("!BBHHHBBHII")  # an option-less IPv4 header (RFC 791 3.1)


def ipv4_tcp_skb(saddr: int, daddr: int, segment: bytes, tos: int = 0) -> SkBuff:
    """What ip_local_deliver hands tcp_v4_rcv for ``segment`` (a TCP header and its
    payload) from ``saddr`` to ``daddr``: an skb with a 20-byte IPv4 header (DF, TTL
    64) in front as the network header, data pulled to the TCP header. For links that
    carry bare TCP segments between hosts without IPv4 (test harnesses, the cc lab)."""
    from tuxnet.skb import alloc_skb

    skb = alloc_skb(64 + 20 + len(segment))
    skb.reserve(64)
    skb.put_data(_IPH.pack(0x45, tos, 20 + len(segment), 0, 0x4000, 64, IPPROTO_TCP, 0,
                           saddr, daddr))
    skb.put_data(segment)
    skb.reset_network_header()
    skb.pull(20)
    skb.reset_transport_header()
    return skb
