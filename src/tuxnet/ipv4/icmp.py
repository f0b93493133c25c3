"""ICMP for IPv4 (net/ipv4/icmp.c; RFC 792, RFC 1122 3.2.2, RFC 1812 4.3).

Receive, ``icmp_rcv`` (the IPPROTO_ICMP handler): InMsgs; a bad checksum is
InCsumErrors + InErrors (ICMP_CSUM); InType<N>; to a broadcast/multicast address only
echo, timestamp and address-mask requests are considered, echo and timestamp only with
icmp_echo_ignore_broadcasts off. Then by type:

* echo request: an echo reply (unless icmp_echo_ignore_all) from the address it was
  sent to (fib_compute_spec_dst), TOS copied, no DF, IP ID from ip_idents;
* timestamp request: a timestamp reply (ms since midnight of the virtual clock);
* destination unreachable, source quench, time exceeded, parameter problem
  (icmp_unreach) and redirect: the quoted header goes to the raw sockets and the
  err_handler of the quoted protocol (icmp_socket_deliver). A frag-needed carries its
  MTU only with net.ipv4.ip_no_pmtu_disc 0 (mode 1 passes 0, so the path MTU drops to
  min_pmtu and locks; mode 2 ignores it; mode 3 believes it for protocols doing strict
  tag validation). Raw sockets learn the PMTU from it (raw_err);
* echo reply: ping sockets (``Ipv4.ping_rcv``), else dropped NO_SOCKET (ping_rcv).

Send, ``icmp_send(host, skb_in, type, code, info)`` (__icmp_send), RFC 1812 4.3.2.7: no
error about an ICMP error, a link-layer or IP broadcast/multicast, or a fragment other
than the first. Two rate limits for the types in icmp_ratemask (default 6168: dest
unreachable except frag-needed, source quench, time exceeded, parameter problem):
icmp_global_allow (icmp_msgs_per_sec refilling a bucket of icmp_msgs_burst, each message
taking 0-2 credits at random; OutRateLimitGlobal) and, after routing, inet_peer's token
bucket per destination (icmp_ratelimit ms per message, a burst of 6;
OutRateLimitHost), never on loopback. The source is the address the offending packet
was sent to when it was for this host, else the route's choice towards the sender
(icmp_errors_use_inbound_ifaddr: the receiving interface's). As much of the offending
datagram is quoted as fits 576 bytes (RFC 1812 4.3.2.3); TOS is the original's with
precedence 6 (IPTOS_PREC_INTERNETCONTROL). OutMsgs and OutType<N> count each message
made (icmp_out_count).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.fib_semantics import (
    FIB_PROPS_ERROR,
    RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE,
    RTCF_BROADCAST,
    RTCF_LOCAL,
    RTCF_MULTICAST,
    RTN_BROADCAST,
)
from tuxnet.ipv4.inet import HZ, InetPeer, InetSkbParm, Ipv4, ip_state, jiffies
from tuxnet.ipv4.ip_output import MAX_IP_HEADROOM, dst_mtu, ip_send_skb, ipv4_update_pmtu
from tuxnet.ipv4.route import Rtable, fib_result_prefsrc, ip_route_input, ip_route_output_key
from tuxnet.skb import CHECKSUM_UNNECESSARY, PACKET_HOST, SkbError, SkBuff, alloc_skb
from tuxnet.wire.checksum import internet_checksum, ones_sum
from tuxnet.wire.icmp import (
    ICMP_ADDRESS,
    ICMP_ADDRESSREPLY,
    ICMP_DEST_UNREACH,
    ICMP_ECHO,
    ICMP_ECHOREPLY,
    ICMP_EXC_FRAGTIME,
    ICMP_EXC_TTL,
    ICMP_EXT_ECHO,
    ICMP_FRAG_NEEDED,
    ICMP_HOST_UNREACH,
    ICMP_NET_UNREACH,
    ICMP_PARAMETERPROB,
    ICMP_PKT_FILTERED,
    ICMP_PORT_UNREACH,
    ICMP_PROT_UNREACH,
    ICMP_REDIR_HOST,
    ICMP_REDIRECT,
    ICMP_SOURCE_QUENCH,
    ICMP_SR_FAILED,
    ICMP_TIME_EXCEEDED,
    ICMP_TIMESTAMP,
    ICMP_TIMESTAMPREPLY,
    NR_ICMP_TYPES,
    NR_ICMP_UNREACH,
)
from tuxnet.wire.ipv4 import IP_OFFSET, IPPROTO_ICMP

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = [
    "ICMP_DEST_UNREACH",
    "ICMP_ECHO",
    "ICMP_ECHOREPLY",
    "ICMP_EXC_FRAGTIME",
    "ICMP_EXC_TTL",
    "ICMP_FRAG_NEEDED",
    "ICMP_HOST_UNREACH",
    "ICMP_NET_UNREACH",
    "ICMP_PARAMETERPROB",
    "ICMP_PKT_FILTERED",
    "ICMP_PORT_UNREACH",
    "ICMP_PROT_UNREACH",
    "ICMP_REDIRECT",
    "ICMP_REDIR_HOST",
    "ICMP_SR_FAILED",
    "ICMP_TIME_EXCEEDED",
    "INADDR_DUMMY",
    "XRLIM_BURST_FACTOR",
    "fib_compute_spec_dst",
    "icmp_err",
    "icmp_global_allow",
    "icmp_hdr",
    "icmp_is_err",
    "icmp_rcv",
    "icmp_send",
    "inet_peer_xrlim_allow",
    "ip_expire_icmp",
    "ipv4_link_failure",
]

NET_RX_SUCCESS = 0
NET_RX_DROP = 1
XRLIM_BURST_FACTOR = 6  # net/ipv4/inetpeer.c
INADDR_DUMMY = 0xC0000008  # 192.0.0.8, RFC 7600: a source when we have none
IPTOS_PREC_INTERNETCONTROL = 0xC0
IPTOS_TOS_MASK = 0x1E  # RT_TOS()
ICMP_ERROR_ROOM = 576  # RFC 1812 4.3.2.3: the whole error fits 576 bytes
IFF_LOOPBACK = 0x8
# icmp_pointers[].error: the ICMP types that are error messages (1, 2, 6, 7, 9, 10 are
# unassigned or obsolete and treated as errors too)
_ERRORS = frozenset({1, 2, ICMP_DEST_UNREACH, ICMP_SOURCE_QUENCH, ICMP_REDIRECT, 6, 7, 9,
                     10, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB})

_HDR = struct.Struct("!BBHI")
_IPH = struct.Struct("!BBHHHBBHII")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_ADDRS = struct.Struct("!II")
_R = SkbDropReason


def icmp_is_err(icmp_type: int) -> bool:
    """icmp_pointers[type].error (unknown types above NR_ICMP_TYPES count as errors)."""
    return icmp_type > NR_ICMP_TYPES or icmp_type in _ERRORS


def icmp_hdr(skb: SkBuff) -> memoryview:
    """icmp_hdr(skb): the 8-byte ICMP header at the transport header (what an
    err_handler reads type [0], code [1] and the rest-of-header [4:8] from)."""
    off = skb.transport_header
    return memoryview(skb.head)[off:off + 8]


# -- rate limits --------------------------------------------------------------------------

def _sysctl(host: Host, name: str) -> int:
    return host.sysctl.get_int(name)


def icmpv4_mask_allow(host: Host, icmp_type: int, code: int) -> bool:
    """icmpv4_mask_allow: types outside icmp_ratemask, and frag-needed (PMTUD must not
    be limited), are never rate limited."""
    if icmp_type > NR_ICMP_TYPES:
        return True
    if icmp_type == ICMP_DEST_UNREACH and code == ICMP_FRAG_NEEDED:
        return True
    return not (1 << icmp_type) & _sysctl(host, "net.ipv4.icmp_ratemask")


def icmp_global_allow(st: Ipv4) -> bool:
    """icmp_global_allow (Linux 6.10+): credit left, or refill it from the time since
    the last refill (at least HZ/50 apart) at icmp_msgs_per_sec, up to icmp_msgs_burst."""
    if st.icmp_global_credit > 0:
        return True
    host = st.host
    now = jiffies(host) & 0xFFFFFFFF
    delta = min((now - st.icmp_global_stamp) & 0xFFFFFFFF, HZ)
    if delta < HZ // 50:
        return False
    incr = st.sysctls["net.ipv4.icmp_msgs_per_sec"] * delta // HZ
    if not incr:
        return False
    st.icmp_global_stamp = now
    st.icmp_global_credit = min(st.icmp_global_credit + incr,
                                st.sysctls["net.ipv4.icmp_msgs_burst"])
    return True


def _icmp_global_consume(st: Ipv4) -> None:
    """icmp_global_consume: 0, 1 or 2 credits at random (the credit may go negative)."""
    st.icmp_global_credit -= st.rng.randrange(3)


def icmpv4_global_allow(st: Ipv4, icmp_type: int, code: int) -> tuple[bool, bool]:
    """icmpv4_global_allow: (allowed, apply_ratelimit); a refusal counts
    OutRateLimitGlobal."""
    # icmpv4_mask_allow, reading icmp_ratemask through the per-net cache
    if (icmp_type > NR_ICMP_TYPES
            or (icmp_type == ICMP_DEST_UNREACH and code == ICMP_FRAG_NEEDED)
            or not (1 << icmp_type) & st.sysctls["net.ipv4.icmp_ratemask"]):
        return True, False
    if icmp_global_allow(st):
        return True, True
    st.host.mib.icmp.OutRateLimitGlobal += 1
    return False, False


def inet_peer_xrlim_allow(peer: InetPeer, timeout: int, now: int) -> bool:
    """inet_peer_xrlim_allow: a token bucket of XRLIM_BURST_FACTOR * timeout jiffies
    refilled one token per jiffy; a message costs ``timeout``."""
    token = peer.rate_tokens + now - peer.rate_last
    peer.rate_last = now
    if token > XRLIM_BURST_FACTOR * timeout:
        token = XRLIM_BURST_FACTOR * timeout
    rc = token >= timeout
    if rc:
        token -= timeout
    peer.rate_tokens = token
    return rc


def icmpv4_xrlim_allow(st: Ipv4, rt: Rtable, daddr: int, apply_ratelimit: bool) -> bool:
    """icmpv4_xrlim_allow: the per-destination limit (icmp_ratelimit ms), not on
    loopback; OutRateLimitHost when refused, else the global credit is consumed."""
    if not apply_ratelimit:
        return True
    host = st.host
    dev = rt.dev
    if dev is not None and dev.flags & IFF_LOOPBACK:
        rc = True
    else:
        timeout = st.sysctls["net.ipv4.icmp_ratelimit"] * HZ // 1000  # ms_jiffies
        rc = inet_peer_xrlim_allow(st.getpeer(daddr), timeout, jiffies(host))
    if not rc:
        host.mib.icmp.OutRateLimitHost += 1
    else:
        _icmp_global_consume(st)
    return rc


# -- building and sending ---------------------------------------------------------------------

def _icmp_push(host: Host, rt: Rtable, saddr: int, daddr: int, tos: int, icmp_type: int,
               code: int, rest: int, payload: bytes) -> int:
    """icmp_push_reply: build the message (header + payload, checksum) and send it
    through the ICMP socket (no DF: IP_PMTUDISC_DONT)."""
    n = 8 + len(payload)
    try:
        skb = alloc_skb(MAX_IP_HEADROOM + n)
    except SkbError:
        host.mib.icmp.OutErrors += 1
        return -1
    # skb_reserve(MAX_IP_HEADROOM) and skb_put(n) on the empty skb (alloc_skb gave
    # that much tailroom), inline
    end = MAX_IP_HEADROOM + n
    skb.data_off = MAX_IP_HEADROOM
    skb.tail = end
    skb.len = n
    msg = skb._hmv[MAX_IP_HEADROOM:end]
    _HDR.pack_into(msg, 0, icmp_type, code, 0, rest & 0xFFFFFFFF)
    msg[8:] = payload
    _U16.pack_into(msg, 2, internet_checksum(msg))
    if not saddr:
        saddr = rt.saddr or INADDR_DUMMY
    return ip_send_skb(host, skb, saddr, daddr, IPPROTO_ICMP, tos=tos, df=False, rt=rt)


def _network_header(skb: SkBuff) -> memoryview | None:
    """ip_hdr(skb) if a whole 20-byte IPv4 header lies in the linear data."""
    nh = skb.network_header
    if nh < 0 or nh + 20 > skb.tail:
        return None
    return memoryview(skb.head)[nh:skb.tail]


def icmp_send(host: Host, skb_in: SkBuff, icmp_type: int, code: int, info: int) -> None:
    """__icmp_send: an ICMP error (or redirect) about ``skb_in`` (its network header
    the offending IPv4 header, ``skb_in.dst`` the route it took) to its sender; see the
    module doc for the rules. ``info`` is the rest-of-header word (MTU, pointer << 24,
    gateway). The skb is left to the caller."""
    rt = skb_in.dst
    if rt.__class__ is not Rtable:
        return
    iph = _network_header(skb_in)
    if iph is None:
        return
    if skb_in.pkt_type != PACKET_HOST:  # no replies to link-layer broadcast/multicast
        return
    if rt.flags & (RTCF_BROADCAST | RTCF_MULTICAST):  # nor to IP broadcast/multicast
        return
    vihl, tos, _tot, _id, frag_off, _ttl, proto, _csum, src, dst = _IPH.unpack_from(iph)
    if frag_off & IP_OFFSET:  # only about the first fragment
        return
    is_error = icmp_is_err(icmp_type)
    if is_error and proto == IPPROTO_ICMP:
        # RFC 1122 3.2.2: never an error about an error (unknown types count as errors)
        off = skb_in.network_header + ((vihl & 15) << 2) - skb_in.data_off
        if off < -skb_in.data_off or off + 1 > skb_in.len:
            return
        if icmp_is_err(skb_in.copy_bits(off, 1)[0]):
            return
    st = ip_state(host)
    dev_in = skb_in.dev
    apply_ratelimit = False
    if not (dev_in is not None and dev_in.flags & IFF_LOOPBACK):
        ok, apply_ratelimit = icmpv4_global_allow(st, icmp_type, code)
        if not ok:
            return
    saddr = dst
    if not rt.flags & RTCF_LOCAL:
        dev: Any = None
        if rt.is_input and st.sysctls["net.ipv4.icmp_errors_use_inbound_ifaddr"]:
            cb = skb_in.cb
            iif = cb.iif if cb.__class__ is InetSkbParm and cb.iif else skb_in.skb_iif
            dev = st.inet.dev_by_index(iif)
        saddr = st.inet.inet_select_addr(dev, src, RT_SCOPE_LINK) if dev is not None else 0
    out_tos = ((tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL) if is_error else tos
    rt2 = ip_route_output_key(st.inet, src, saddr, 0, out_tos)  # icmp_route_lookup
    if rt2.error or rt2.dev is None:
        return
    if not icmpv4_xrlim_allow(st, rt2, src, apply_ratelimit):
        return
    room = min(dst_mtu(st, rt2), ICMP_ERROR_ROOM) - 20 - 8
    if room <= 20:  # not even the offending IPv4 header would fit
        return
    offset = skb_in.network_header - skb_in.data_off
    data_len = min(skb_in.len - offset, room)
    try:
        payload = skb_in.copy_bits(offset, data_len)
    except SkbError:
        return
    _icmp_push(host, rt2, saddr, src, out_tos, icmp_type, code, info, payload)


def ipv4_link_failure(host: Host, skb: SkBuff) -> None:
    """ipv4_link_failure / ipv4_send_dest_unreach: the neighbour of the next hop could
    not be resolved; ICMP host unreachable about the queued packet (data at its IPv4
    header) to its sender. The skb stays the caller's."""
    iph = _network_header(skb)
    if iph is None or iph[0] >> 4 != 4 or iph[0] & 15 < 5:
        return
    icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0)


def ip_expire_icmp(host: Host, skb: SkBuff) -> None:
    """ip_expire's ICMP: route the expired first fragment again and send ICMP time
    exceeded, fragment reassembly time exceeded (RFC 792, RFC 1122 3.3.2)."""
    dev = skb.dev
    data = skb.data
    if dev is None or len(data) < 20:
        return
    saddr, daddr = struct.unpack_from("!II", data, 12)
    rt = ip_route_input(ip_state(host).inet, daddr, saddr, data[1], dev)
    if not rt.input:
        return
    skb.dst = rt
    icmp_send(host, skb, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0)


def fib_compute_spec_dst(st: Ipv4, skb: SkBuff) -> int:
    """fib_compute_spec_dst: the source of a reply: the address a unicast packet was
    sent to, else our preferred source towards its sender."""
    rt: Rtable = skb.dst
    nh = skb.network_header
    head = skb.head
    saddr, daddr = _ADDRS.unpack_from(head, nh + 12)
    if rt.flags & (RTCF_BROADCAST | RTCF_MULTICAST | RTCF_LOCAL) == RTCF_LOCAL:
        return int(daddr)
    inet = st.inet
    scope = RT_SCOPE_LINK
    if saddr >> 24:
        fa = inet.fib.lookup(saddr, 0, RT_SCOPE_UNIVERSE, head[nh + 1] & 0xFC)
        if fa is not None and not FIB_PROPS_ERROR[fa.type]:
            return fib_result_prefsrc(inet, fa)
        scope = RT_SCOPE_UNIVERSE
    return inet.inet_select_addr(skb.dev, saddr, scope)


def _icmp_reply(st: Ipv4, skb: SkBuff, icmp_type: int, code: int, rest: int,
                payload: bytes) -> None:
    """icmp_reply: answer a request (echo, timestamp) to its sender, TOS copied."""
    allowed, apply_ratelimit = icmpv4_global_allow(st, icmp_type, code)
    if not allowed:
        return
    host = st.host
    nh = skb.network_header
    head = skb.head
    tos = head[nh + 1]
    daddr = _U32.unpack_from(head, nh + 12)[0]
    saddr = fib_compute_spec_dst(st, skb)
    rt = ip_route_output_key(st.inet, daddr, saddr, 0, tos)
    if rt.error or rt.dev is None:
        return
    # icmpv4_xrlim_allow passes what icmpv4_global_allow did not mark for limiting
    if not apply_ratelimit or icmpv4_xrlim_allow(st, rt, daddr, apply_ratelimit):
        _icmp_push(host, rt, saddr, daddr, tos, icmp_type, code, rest, payload)


# -- receiving --------------------------------------------------------------------------------

def icmp_rcv(host: Host, skb: SkBuff) -> int:
    """icmp_rcv: skb.data at the ICMP header (see the module doc)."""
    # ip_state(host): inet_init sets host.ipv4 before it registers this handler
    st: Ipv4 = host.ipv4  # type: ignore[attr-defined]
    mib = host.mib
    icmp = mib.icmp
    icmp.InMsgs += 1
    n = skb.len
    if skb.ip_summed != CHECKSUM_UNNECESSARY:  # skb_checksum_simple_validate
        data = skb._hmv[skb.data_off:skb.tail] if not skb.data_len else skb.copy_bits(0, n)
        if n and ones_sum(data) != 0xFFFF:
            icmp.InCsumErrors += 1
            return _icmp_error(host, skb, _R.ICMP_CSUM)
    try:
        if n < 8 or (skb.tail - skb.data_off < 8 and not skb.pskb_may_pull(8)):
            return _icmp_error(host, skb, _R.NOT_SPECIFIED)
    except SkbError:
        return _icmp_error(host, skb, _R.NOMEM)
    icmp_type, code, _csum, rest = _HDR.unpack_from(skb.head, skb.data_off)
    mib.icmpmsg[icmp_type] += 1
    skb.data_off += 8  # __skb_pull: the 8 bytes are linear (checked above)
    skb.len -= 8
    if icmp_type == ICMP_EXT_ECHO:  # RFC 8335 PROBE: icmp_echo_enable_probe is off
        host.consume_skb(skb, "icmp_rcv")
        return NET_RX_SUCCESS
    rt = skb.dst
    if rt.__class__ is Rtable and rt.flags & (RTCF_BROADCAST | RTCF_MULTICAST):
        # RFC 1122 3.2.2.6 / 3.2.2.8: echo and timestamp to broadcast may be ignored
        if icmp_type in (ICMP_ECHO, ICMP_TIMESTAMP) and st.sysctls[
                "net.ipv4.icmp_echo_ignore_broadcasts"]:
            return _icmp_error(host, skb, _R.INVALID_PROTO)
        if icmp_type not in (ICMP_ECHO, ICMP_TIMESTAMP, ICMP_ADDRESS, ICMP_ADDRESSREPLY):
            return _icmp_error(host, skb, _R.INVALID_PROTO)
    if icmp_type > NR_ICMP_TYPES:
        return _icmp_error(host, skb, _R.UNHANDLED_PROTO)
    if icmp_type == ICMP_ECHO:
        reason = _icmp_echo(st, skb, code, rest)
    elif icmp_type in (ICMP_DEST_UNREACH, ICMP_SOURCE_QUENCH, ICMP_TIME_EXCEEDED,
                       ICMP_PARAMETERPROB):
        reason = _icmp_unreach(st, skb, icmp_type, code, rest)
    elif icmp_type == ICMP_ECHOREPLY:
        reason = _ping_rcv(st, skb)
    elif icmp_type == ICMP_REDIRECT:
        reason = _icmp_redirect(st, skb, rest)
    elif icmp_type == ICMP_TIMESTAMP:
        reason = _icmp_timestamp(st, skb, rest)
    else:  # icmp_discard
        reason = None
    if reason is None:
        host.consume_skb(skb, "icmp_rcv")
        return NET_RX_SUCCESS
    host.kfree_skb(skb, reason, "icmp_rcv")
    return NET_RX_DROP


def _icmp_error(host: Host, skb: SkBuff, reason: SkbDropReason) -> int:
    """icmp_rcv's error label: InErrors, drop."""
    host.mib.icmp.InErrors += 1
    host.kfree_skb(skb, reason, "icmp_rcv")
    return NET_RX_DROP


def _icmp_unreach(st: Ipv4, skb: SkBuff, icmp_type: int, code: int,
                  rest: int) -> SkbDropReason | None:
    """icmp_unreach: check the quoted header, work out ``info``, deliver the error."""
    host = st.host
    try:
        if not skb.pskb_may_pull(20):
            host.mib.icmp.InErrors += 1
            return _R.NOT_SPECIFIED
    except SkbError:
        host.mib.icmp.InErrors += 1
        return _R.NOMEM
    data = skb.data
    if data[0] & 15 < 5:  # mangled quoted header
        host.mib.icmp.InErrors += 1
        return _R.IP_INHDR
    info = 0
    if icmp_type == ICMP_DEST_UNREACH:
        if code & 15 == ICMP_FRAG_NEEDED:
            mode = st.sysctls["net.ipv4.ip_no_pmtu_disc"]
            if mode == 2:
                return None
            if mode == 3:
                ipprot = st.protos[data[9]]
                if ipprot is None or not ipprot.icmp_strict_tag_validation:
                    return None
                info = rest & 0xFFFF
            elif mode == 0:
                info = rest & 0xFFFF  # RFC 1191 4: the Next-Hop MTU
        if code > NR_ICMP_UNREACH:
            return None
    elif icmp_type == ICMP_PARAMETERPROB:
        info = rest >> 24
    elif icmp_type == ICMP_TIME_EXCEEDED and code == ICMP_EXC_FRAGTIME:
        return None
    # RFC 1122 3.2.2.1 / 3.2.2: errors about datagrams sent to a broadcast are bogus
    daddr = _U32.unpack_from(data, 16)[0]
    if (st.sysctls["net.ipv4.icmp_ignore_bogus_error_responses"]
            and st.inet.fib.addr_type(daddr) == RTN_BROADCAST):
        return None
    _icmp_socket_deliver(st, skb, info, icmp_type, code)
    return None


def _icmp_socket_deliver(st: Ipv4, skb: SkBuff, info: int, icmp_type: int,
                         code: int) -> bool:
    """icmp_socket_deliver: raw sockets (raw_icmp_error), then the quoted protocol's
    err_handler, with the quoted IPv4 header and 8 bytes of it linear."""
    host = st.host
    data = skb.data
    try:
        if not skb.pskb_may_pull(((data[0] & 15) << 2) + 8):
            host.mib.icmp.InErrors += 1
            return False
    except SkbError:
        host.mib.icmp.InErrors += 1
        return False
    protocol = skb.data[9]
    hooks = st.raw.get(protocol)
    if hooks:
        if icmp_type == ICMP_DEST_UNREACH and code == ICMP_FRAG_NEEDED:
            ipv4_update_pmtu(host, skb, info)  # raw_err: ipv4_sk_update_pmtu
        for hook in tuple(hooks):
            if hook.err is not None:
                hook.err(skb, info)
    ipprot = st.protos[protocol]
    if ipprot is not None and ipprot.err_handler is not None:
        ipprot.err_handler(skb, info)
    return True


def _icmp_redirect(st: Ipv4, skb: SkBuff, gateway: int) -> SkbDropReason | None:
    """icmp_redirect: hand it to the quoted protocol (which may learn the route)."""
    if skb.len < 20:
        st.host.mib.icmp.InErrors += 1
        return _R.PKT_TOO_SMALL
    _icmp_socket_deliver(st, skb, gateway, ICMP_REDIRECT, 0)
    return None


def _icmp_echo(st: Ipv4, skb: SkBuff, code: int, rest: int) -> SkbDropReason | None:
    """icmp_echo: RFC 1122 3.2.2.6, an echo reply with the same identifier, sequence
    and data."""
    if st.sysctls["net.ipv4.icmp_echo_ignore_all"]:
        return None
    try:
        payload = skb.copy_bits(0, skb.len)
    except SkbError:
        return _R.NOMEM
    _icmp_reply(st, skb, ICMP_ECHOREPLY, code, rest, payload)
    return None


def _icmp_timestamp(st: Ipv4, skb: SkBuff, rest: int) -> SkbDropReason | None:
    """icmp_timestamp (RFC 792): originate copied, receive = transmit = ms since
    midnight UT (of the virtual clock)."""
    if skb.len < 4:
        st.host.mib.icmp.InErrors += 1
        return _R.PKT_TOO_SMALL
    ms = (st.host.now_ns() // 1_000_000) % 86_400_000  # inet_current_timestamp
    payload = skb.copy_bits(0, 4) + _U32.pack(ms) + _U32.pack(ms)
    _icmp_reply(st, skb, ICMP_TIMESTAMPREPLY, 0, rest, payload)
    return None


def _ping_rcv(st: Ipv4, skb: SkBuff) -> SkbDropReason | None:
    """ping_rcv: an echo reply for a ping socket; none is NO_SOCKET."""
    fn = st.ping_rcv
    if fn is not None:
        skb.push(8)
        taken = fn(skb)
        skb.pull(8)
        if taken:
            return None
    return _R.NO_SOCKET


def icmp_err(host: Host, skb: SkBuff, info: int) -> None:
    """icmp_err: errors quoting an ICMP message: a kernel-sent echo reply lets the PMTU
    be learned; anything else is for ping sockets (ping_err)."""
    st = ip_state(host)
    data = skb.data
    inner = data[(data[0] & 15) << 2]
    if inner != ICMP_ECHOREPLY:
        if st.ping_err is not None:
            st.ping_err(skb, info)
        return
    outer = memoryview(skb.head)[skb.transport_header:skb.transport_header + 2]
    if outer[0] == ICMP_DEST_UNREACH and outer[1] == ICMP_FRAG_NEEDED:
        ipv4_update_pmtu(host, skb, info)
