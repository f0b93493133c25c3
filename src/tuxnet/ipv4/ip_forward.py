"""IPv4 forwarding (net/ipv4/ip_forward.c; RFC 1812 5.2-5.3).

``ip_forward`` is the input route's dst.input for a packet that is not for this host
when forwarding is on (net.ipv4.ip_forward / conf.<dev>.forwarding; the route lookup
decides, see tuxnet.ipv4.route). In Linux's order:

* drop what arrived for another link-layer address (OTHERHOST) or belongs to a socket;
* TTL <= 1: InHdrErrors, ICMP time exceeded in transit (RFC 1812 5.3.1), drop IP_INHDR;
* a strict source route through a gateway: ICMP source route failed;
* longer than the next-hop MTU with DF (ip_exceeds_mtu): FragFails, ICMP
  fragmentation needed carrying that MTU (RFC 1191 4), drop PKT_TOO_BIG;
* skb_cow for the link header, TTL decrement with the RFC 1624-style checksum update
  (ip_decrease_ttl), an ICMP redirect when the packet leaves by the interface it came
  in on towards a gateway on the sender's subnet (ip_rt_send_redirect, rate limited per
  source), skb.priority from the TOS (ip_forward_update_priority);
* ForwDatagrams (before the MTU check), NF_INET_FORWARD, then ip_forward_finish: skb.tstamp cleared
  (skb_clear_tstamp: a forwarded packet carries no receive timestamp into the qdisc),
  dst_output.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.fib_semantics import RTCF_DOREDIRECT
from tuxnet.ipv4.inet import HZ, IPSKB_FORWARDED, ip_state, ipcb, jiffies
from tuxnet.ipv4.ip_output import LL_RESERVED_SPACE, ip_dst_mtu_maybe_forward, ip_output
from tuxnet.ipv4.ip_output_frag import frag_needed_mtu, ip_exceeds_mtu
from tuxnet.ipv4.route import Rtable
from tuxnet.netfilter.hooks import NF_INET_FORWARD, nf_hook
from tuxnet.skb import CHECKSUM_COMPLETE, CHECKSUM_NONE, PACKET_HOST, SkbError, SkBuff

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["IP_TOS2PRIO", "ip_decrease_ttl", "ip_forward", "ip_forward_finish",
           "ip_rt_send_redirect"]

NET_RX_SUCCESS = 0
NET_RX_DROP = 1
# net/ipv4/route.c: the redirect rate limit (ip_rt_redirect_number/load/silence)
IP_RT_REDIRECT_NUMBER = 9
IP_RT_REDIRECT_LOAD = HZ // 50
IP_RT_REDIRECT_SILENCE = (HZ // 50) << (9 + 1)
# net/ipv4/route.c ip_tos2prio: TC_PRIO_* for IPTOS_TOS(tos) >> 1
IP_TOS2PRIO = (0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4)

_U16 = struct.Struct("!H")
_I = struct.Struct("!I")


def ip_decrease_ttl(hdr: memoryview | bytearray) -> int:
    """ip_decrease_ttl (include/net/ip.h): TTL - 1 with the header checksum adjusted
    in place (adding 0x0100 with an end-around carry; RFC 1141/1624); returns the new TTL."""
    check = _U16.unpack_from(hdr, 10)[0] + 0x0100
    check = (check + (check >= 0xFFFF)) & 0xFFFF
    _U16.pack_into(hdr, 10, check)
    ttl = hdr[8] - 1
    hdr[8] = ttl
    return ttl


def ip_forward(host: Host, skb: SkBuff) -> int:
    """ip_forward: the checks and header changes of a router (see the module doc)."""
    from tuxnet.ipv4.icmp import (
        ICMP_DEST_UNREACH,
        ICMP_EXC_TTL,
        ICMP_FRAG_NEEDED,
        ICMP_SR_FAILED,
        ICMP_TIME_EXCEEDED,
        icmp_send,
    )

    st = ip_state(host)
    reason = SkbDropReason.NOT_SPECIFIED
    if skb.sk is not None:
        host.kfree_skb(skb, reason, "ip_forward")
        return NET_RX_DROP
    if skb.pkt_type != PACKET_HOST:
        host.kfree_skb(skb, SkbDropReason.OTHERHOST, "ip_forward")
        return NET_RX_DROP
    if skb.ip_summed == CHECKSUM_COMPLETE:  # skb_forward_csum: the sum will be stale
        skb.ip_summed = CHECKSUM_NONE
    data = skb.data
    if data[8] <= 1:  # RFC 1812 5.3.1: decrement first; zero means it dies here
        host.mib.ip.InHdrErrors += 1
        icmp_send(host, skb, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0)
        host.kfree_skb(skb, SkbDropReason.IP_INHDR, "ip_forward")
        return NET_RX_DROP
    rt: Rtable = skb.dst
    cb = ipcb(skb)
    if cb.srr and rt.uses_gateway and _strict_route(skb):
        icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_SR_FAILED, 0)
        host.kfree_skb(skb, reason, "ip_forward")
        return NET_RX_DROP
    # counted here since Linux 6.6 (commit "ipv4: fix IPSTATS_MIB_OUTFORWDATAGRAMS
    # increment"): a datagram the FORWARD hook drops or that is too big counts too
    host.mib.ip.ForwDatagrams += 1
    cb.flags |= IPSKB_FORWARDED
    mtu = ip_dst_mtu_maybe_forward(st, rt, True)
    if ip_exceeds_mtu(skb, mtu, ignore_df=cb.ignore_df, frag_max_size=cb.frag_max_size):
        host.mib.ip.FragFails += 1
        icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, frag_needed_mtu(mtu))
        host.kfree_skb(skb, SkbDropReason.PKT_TOO_BIG, "ip_forward")
        return NET_RX_DROP
    try:  # we are about to mangle the packet: make the header ours (skb_cow)
        skb.cow(LL_RESERVED_SPACE)
    except SkbError:
        host.kfree_skb(skb, reason, "ip_forward")
        return NET_RX_DROP
    data = skb.data
    ip_decrease_ttl(data)
    if rt.flags & RTCF_DOREDIRECT and not cb.srr:
        ip_rt_send_redirect(host, skb)
    if host.sysctl.get_int("net.ipv4.ip_forward_update_priority"):
        skb.priority = IP_TOS2PRIO[(data[1] & 0x1E) >> 1]  # rt_tos2priority
    return nf_hook(host, NF_INET_FORWARD, skb, skb.dev, rt.dev,
                   lambda s: ip_forward_finish(host, s))


def _strict_route(skb: SkBuff) -> bool:
    """opt->is_strictroute: the source route option is SSRR."""
    data = skb.data
    hlen = (data[0] & 15) << 2
    i = 20
    while i < hlen:
        kind = data[i]
        if kind == 0:
            return False
        if kind == 1:
            i += 1
            continue
        if kind == 137:  # IPOPT_SSRR
            return True
        if i + 1 >= hlen or data[i + 1] < 2:
            return False
        i += data[i + 1]
    return False


def ip_forward_finish(host: Host, skb: SkBuff) -> int:
    """ip_forward_finish: clear the timestamp, dst_output (ForwDatagrams is counted in
    ip_forward)."""
    skb.tstamp = 0  # skb_clear_tstamp
    return ip_output(host, skb)


def ip_rt_send_redirect(host: Host, skb: SkBuff) -> None:
    """ip_rt_send_redirect (route.c; RFC 1812 5.2.7.2): ICMP redirect host towards
    the next hop, per source at most ip_rt_redirect_number times with exponential
    backoff (ip_rt_redirect_load << n), starting over after ip_rt_redirect_silence."""
    from tuxnet.ipv4.icmp import ICMP_REDIR_HOST, ICMP_REDIRECT, icmp_send

    st = ip_state(host)
    rt: Rtable = skb.dst
    dev = rt.dev
    if dev is None or st.inet.in_dev_get(dev) is None:
        return
    try:
        if not st.inet.in_dev_conf(dev, "send_redirects"):
            return
    except Exception:
        return
    saddr = _I.unpack_from(skb.data, 12)[0]
    gw = rt.nexthop()
    peer = st.getpeer(saddr)
    now = jiffies(host)
    if now > peer.rate_last + IP_RT_REDIRECT_SILENCE:
        peer.rate_tokens = 0
        peer.n_redirects = 0
    if peer.n_redirects >= IP_RT_REDIRECT_NUMBER:
        peer.rate_last = now
        return
    if peer.n_redirects == 0 or now > peer.rate_last + (IP_RT_REDIRECT_LOAD << peer.n_redirects):
        icmp_send(host, skb, ICMP_REDIRECT, ICMP_REDIR_HOST, gw)
        peer.rate_last = now
        peer.n_redirects += 1
