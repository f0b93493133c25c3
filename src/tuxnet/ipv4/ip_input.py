"""IPv4 input (net/ipv4/ip_input.c, with route.c's ip_error and ip_options.c's checks).

The receive path, each step a Linux function::

    ip_rcv ─► ip_rcv_core (sanity checks; every failure a drop reason + Ip MIB counter)
      ─► NF_INET_PRE_ROUTING ─► ip_rcv_finish ─► ip_rcv_finish_core (route input,
         options, broadcast/multicast stats) ─► dst_input:
           ip_local_deliver (reassembly) ─► NF_INET_LOCAL_IN ─► ip_local_deliver_finish
              ─► ip_protocol_deliver_rcu: raw sockets, then the inet_protos handler
                 (none: InUnknownProtos + ICMP protocol unreachable)
           ip_forward (tuxnet.ipv4.ip_forward)
           ip_error (no route: InNoRoutes / InAddrErrors, ICMP unreachable)

Counters as Linux counts them (RFC 1213 / RFC 4293 names in /proc/net/snmp): InReceives
and InOctets for every packet not addressed to another MAC; InHdrErrors for bad
version/IHL/header length/options (and with InCsumErrors for a bad header checksum);
InTruncatedPkts when the frame is shorter than tot_len; InDiscards when memory fails;
InAddrErrors (not forwarding, not for us) and InNoRoutes (no route); InUnknownProtos;
InDelivers; the ECN counters (InNoECTPkts ...) of RFC 3168.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING, Any

from tuxnet.core import cpu as _cpu
from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.fib_semantics import RTCF_LOCAL, RTN_BROADCAST, RTN_MULTICAST
from tuxnet.ipv4.icmp import (
    ICMP_DEST_UNREACH,
    ICMP_HOST_UNREACH,
    ICMP_NET_UNREACH,
    ICMP_PARAMETERPROB,
    ICMP_PKT_FILTERED,
    ICMP_PROT_UNREACH,
    icmp_send,
)
from tuxnet.ipv4.inet import HZ, IPSKB_FRAG_PMTU, InetSkbParm, Ipv4, ip_state, ipcb, jiffies
from tuxnet.ipv4.ip_forward import ip_forward
from tuxnet.ipv4.ip_fragment import IP_DEFRAG_LOCAL_DELIVER
from tuxnet.ipv4.route import Rtable, ip_route_input
from tuxnet.netfilter.hooks import (
    NF_INET_LOCAL_IN,
    NF_INET_PRE_ROUTING,
    nf_hook,
    nf_hooks_needed,
)
from tuxnet.skb import (
    CHECKSUM_COMPLETE,
    CHECKSUM_NONE,
    PACKET_BROADCAST,
    PACKET_MULTICAST,
    PACKET_OTHERHOST,
    SkbError,
    SkBuff,
)
from tuxnet.wire.ipv4 import (
    IP_MF,
    IP_OFFSET,
    IPOPT_CIPSO,
    IPOPT_END,
    IPOPT_LSRR,
    IPOPT_NOOP,
    IPOPT_RR,
    IPOPT_SSRR,
    IPOPT_TIMESTAMP,
)

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = [
    "NET_RX_DROP",
    "NET_RX_SUCCESS",
    "dst_input",
    "ip_error",
    "ip_local_deliver",
    "ip_local_deliver_finish",
    "ip_options_compile",
    "ip_protocol_deliver_rcu",
    "ip_rcv",
    "ip_rcv_core",
    "ip_rcv_finish",
    "raw_local_deliver",
]

NET_RX_SUCCESS = 0
NET_RX_DROP = 1
IPV4_HLEN = 20
# net/ipv4/route.c: ip_rt_error_cost = HZ, ip_rt_error_burst = 5 * HZ
IP_RT_ERROR_COST = HZ
IP_RT_ERROR_BURST = 5 * HZ
# include/uapi/linux/ip.h: IPOPT_TS_* flags
IPOPT_TS_TSONLY = 0
IPOPT_TS_TSANDADDR = 1
IPOPT_TS_PRESPEC = 3

_U16 = struct.Struct("!H")
_unpack16 = _U16.unpack_from
_ADDRS = struct.Struct("!II")
_IP_FRAG_BITS = IP_MF | IP_OFFSET
_RX = SkbDropReason
_NOT_SPECIFIED = SkbDropReason.NOT_SPECIFIED  # an enum member lookup costs ~100 ns
_new_ipcb = object.__new__


def _drop(host: Host, skb: SkBuff, reason: SkbDropReason, where: str) -> int:
    host.kfree_skb(skb, reason, where)
    return NET_RX_DROP


# -- ip_rcv -----------------------------------------------------------------------------

def ip_rcv(skb: SkBuff, dev: Any) -> int:
    """ip_rcv: the ETH_P_IP packet handler (skb.data at the IPv4 header)."""
    host: Host = dev.host
    # ip_state(host): inet_init sets host.ipv4 before it registers this handler
    st: Ipv4 = host.ipv4  # type: ignore[attr-defined]
    cpu = _cpu._running  # charge()
    if cpu is not None:
        cpu._acc += st.core.costs.ip_rcv_ns
    nskb = ip_rcv_core(st, skb, dev)
    if nskb is None:
        return NET_RX_DROP
    if not nf_hooks_needed[NF_INET_PRE_ROUTING]:
        return _ip_rcv_finish(st, nskb)
    return nf_hook(host, NF_INET_PRE_ROUTING, nskb, dev, None,
                   lambda s: ip_rcv_finish(host, s))


def ip_rcv_core(st: Ipv4, skb: SkBuff, dev: Any) -> SkBuff | None:
    """ip_rcv_core: RFC 1122 3.2.1 / RFC 1812 5.2.2 validation of the header; returns
    the skb trimmed to tot_len, or None after dropping it with reason and counter."""
    host = st.host
    mib = host.mib
    ip = mib.ip
    if skb.pkt_type == PACKET_OTHERHOST:  # not for our MAC (promiscuous capture)
        stats = getattr(dev, "core_stats", None)
        if stats is not None:
            stats.rx_otherhost_dropped += 1
        host.kfree_skb(skb, _RX.OTHERHOST, "ip_rcv_core")
        return None
    ip.InReceives += 1
    mib.ipext.InOctets += skb.len
    reason = _NOT_SPECIFIED
    try:
        if skb.users != 1:  # skb_share_check: another handler holds it too
            nskb = skb.clone()
            host.consume_skb(skb, "skb_share_check")
            skb = nskb
        off = skb.network_header = skb.data_off  # skb_reset_network_header
        if skb.tail - off < IPV4_HLEN:
            if not skb.pskb_may_pull(IPV4_HLEN):
                return _inhdr_error(host, skb, reason)
            off = skb.data_off
        head = skb.head
        vihl = head[off]
        hlen = (vihl & 15) << 2
        if hlen < IPV4_HLEN or vihl >> 4 != 4:
            return _inhdr_error(host, skb, reason)
        ecn = head[off + 1] & 3  # RFC 3168 5: INET_ECN_* of the TOS byte
        segs = skb.gso_segs or 1
        ipext = mib.ipext
        if ecn == 0:
            ipext.InNoECTPkts += segs
        elif ecn == 1:
            ipext.InECT1Pkts += segs
        elif ecn == 2:
            ipext.InECT0Pkts += segs
        else:
            ipext.InCEPkts += segs
        if skb.tail - off < hlen:
            if not skb.pskb_may_pull(hlen):
                return _inhdr_error(host, skb, reason)
            off = skb.data_off
            head = skb.head
        # ip_fast_csum: the header's 16-bit words sum to all ones, i.e. to 0 mod 0xFFFF
        # (RFC 1071; an all-zero header failed the version test already)
        if int.from_bytes(head[off:off + hlen], "little") % 0xFFFF:
            ipext.InCsumErrors += 1
            return _inhdr_error(host, skb, _RX.IP_CSUM)
        tot = _unpack16(head, off + 2)[0]
        if skb.len < tot:
            ipext.InTruncatedPkts += 1
            host.kfree_skb(skb, _RX.PKT_TOO_SMALL, "ip_rcv_core")
            return None
        if tot < hlen:
            return _inhdr_error(host, skb, reason)
        if skb.len > tot:  # pskb_trim_rcsum: the medium padded the frame
            skb.pskb_trim(tot)
            if skb.ip_summed == CHECKSUM_COMPLETE:
                skb.ip_summed = CHECKSUM_NONE
        skb.transport_header = skb.network_header + hlen
        # memset(IPCB(skb), 0); IPCB(skb)->iif = skb->skb_iif: InetSkbParm() without
        # its __init__ frame, the same values (tests/ipv4/test_ip_input checks them)
        cb = _new_ipcb(InetSkbParm)
        cb.flags = cb.frag_max_size = cb.optlen = cb.srr = 0
        cb.iif = skb.skb_iif
        cb.ignore_df = False
        cb.pmtudisc = 1  # IP_PMTUDISC_WANT, a socket-less sender's
        skb.cb = cb
        if skb.destructor is not None or skb.sk is not None:
            skb.orphan()  # tproxy: the socket is dropped now
    except SkbError:
        ip.InDiscards += 1
        host.kfree_skb(skb, _RX.NOMEM, "ip_rcv_core")
        return None
    return skb


def _inhdr_error(host: Host, skb: SkBuff, reason: SkbDropReason) -> SkBuff | None:
    """ip_rcv_core's inhdr_error label: InHdrErrors and IP_INHDR (or IP_CSUM); None."""
    if reason is _NOT_SPECIFIED:
        reason = _RX.IP_INHDR
    host.mib.ip.InHdrErrors += 1
    host.kfree_skb(skb, reason, "ip_rcv_core")
    return None


def ip_rcv_finish(host: Host, skb: SkBuff) -> int:
    """ip_rcv_finish: route the packet (ip_rcv_finish_core) and call dst_input."""
    return _ip_rcv_finish(ip_state(host), skb)


def _ip_rcv_finish(st: Ipv4, skb: SkBuff) -> int:
    """ip_rcv_finish with the IPv4 state at hand; dst_input's ip_local_deliver for an
    input route to us is called at once (the common case, without dst_input's frame)."""
    rt = _ip_rcv_finish_core(st, skb, skb.dev)
    if rt is None:
        return NET_RX_DROP
    if rt.is_input and rt.input == "ip_local_deliver":
        return ip_local_deliver(st.host, skb)
    return dst_input(st.host, skb)


def _ip_rcv_finish_core(st: Ipv4, skb: SkBuff, dev: Any) -> Rtable | None:
    """ip_rcv_finish_core: ip_route_input unless the skb carries a route already
    (looped back by this host), IP options, broadcast/multicast counters."""
    host = st.host
    head = skb.head
    off = skb.data_off
    tos = head[off + 1]
    saddr, daddr = _ADDRS.unpack_from(head, off + 12)
    rt = skb.dst
    if rt.__class__ is not Rtable:  # !skb_valid_dst(skb)
        rt = ip_route_input(st.inet, daddr, saddr, tos, dev)
        if not rt.input:
            reason = rt.drop_reason or _RX.NOT_SPECIFIED
            if reason is _RX.IP_RPFILTER:
                host.mib.tcpext.IPReversePathFilter += 1
            host.kfree_skb(skb, reason, "ip_rcv_finish_core")
            return None
        skb.dst = rt
    if head[off] & 15 > 5 and _ip_rcv_options(st, skb, dev):
        return None
    rtype = rt.type
    if rtype == RTN_MULTICAST:
        ipext = host.mib.ipext
        ipext.InMcastPkts += 1
        ipext.InMcastOctets += skb.len
    elif rtype == RTN_BROADCAST:
        ipext = host.mib.ipext
        ipext.InBcastPkts += 1
        ipext.InBcastOctets += skb.len
    elif (skb.pkt_type in (PACKET_BROADCAST, PACKET_MULTICAST)
          and _conf(st, dev, "drop_unicast_in_l2_multicast")):
        # RFC 1122 3.3.6: a unicast datagram in a link-layer broadcast may be dropped
        host.kfree_skb(skb, _RX.UNICAST_IN_L2_MULTICAST, "ip_rcv_finish_core")
        return None
    return rt


def _conf(st: Ipv4, dev: Any, key: str) -> int:
    try:
        return st.inet.in_dev_conf(dev, key)
    except Exception:  # the knob does not exist on this host's sysctl tree
        return 0


def dst_input(host: Host, skb: SkBuff) -> int:
    """dst_input: the route's input function (ip_local_deliver, ip_forward, ip_error)."""
    rt: Rtable = skb.dst
    fn = rt.input if rt.is_input else ("ip_local_deliver" if rt.flags & RTCF_LOCAL else "")
    if fn == "ip_local_deliver":
        return ip_local_deliver(host, skb)
    if fn == "ip_forward":
        return ip_forward(host, skb)
    if fn == "ip_error":
        return ip_error(host, skb)
    return _drop(host, skb, _RX.NOT_SPECIFIED, "dst_discard")


# -- options ------------------------------------------------------------------------------

def ip_options_compile(opts: bytes | memoryview) -> tuple[int, bool]:
    """ip_options_compile on a received header's options (RFC 791 3.1): returns
    (offset of the offending byte from the start of the IPv4 header, or -1; whether a
    source route option is present). Record route and timestamps are checked, not
    filled in (not modelled)."""
    n = len(opts)
    i = 0
    srr = rr = ts = False
    while i < n:
        kind = opts[i]
        if kind == IPOPT_END:
            break
        if kind == IPOPT_NOOP:
            i += 1
            continue
        if n - i < 2:
            return IPV4_HLEN + i, srr
        olen = opts[i + 1]
        if olen < 2 or olen > n - i:
            return IPV4_HLEN + i, srr
        if kind in (IPOPT_SSRR, IPOPT_LSRR, IPOPT_RR):
            if olen < 3:
                return IPV4_HLEN + i + 1, srr
            if opts[i + 2] < 4:
                return IPV4_HLEN + i + 2, srr
            if kind == IPOPT_RR:
                if rr or (opts[i + 2] <= olen and opts[i + 2] + 3 > olen):
                    return IPV4_HLEN + (i if rr else i + 2), srr
                rr = True
            else:
                if srr:  # RFC 1812 5.2.4.1: one source route only
                    return IPV4_HLEN + i, srr
                srr = True
        elif kind == IPOPT_TIMESTAMP:
            if ts:
                return IPV4_HLEN + i, srr
            if olen < 4:
                return IPV4_HLEN + i + 1, srr
            ptr = opts[i + 2]
            if ptr < 5:
                return IPV4_HLEN + i + 2, srr
            flags = opts[i + 3]
            if ptr <= olen:
                if ptr + 3 > olen:
                    return IPV4_HLEN + i + 2, srr
                if flags & 0x0F not in (IPOPT_TS_TSONLY, IPOPT_TS_TSANDADDR,
                                        IPOPT_TS_PRESPEC):
                    return IPV4_HLEN + i + 3, srr
            elif flags & 0xF0 == 0xF0:  # overflow counter wrapped
                return IPV4_HLEN + i + 3, srr
            ts = True
        elif kind == IPOPT_CIPSO:
            pass  # cipso_v4_validate: not modelled, accepted
        i += olen
    return -1, srr


def _ip_rcv_options(st: Ipv4, skb: SkBuff, dev: Any) -> bool:
    """ip_rcv_options: bad options are a header error answered with ICMP parameter
    problem; a source route is refused unless accept_source_route (then it is carried,
    not followed). True when the packet was dropped."""
    host = st.host
    data = skb.data
    hlen = (data[0] & 15) << 2
    bad, srr = ip_options_compile(bytes(data[IPV4_HLEN:hlen]))
    ipcb(skb).optlen = hlen - IPV4_HLEN
    if bad >= 0:
        icmp_send(host, skb, ICMP_PARAMETERPROB, 0, bad << 24)
        host.mib.ip.InHdrErrors += 1
        host.kfree_skb(skb, _RX.IP_INHDR, "ip_rcv_options")
        return True
    if srr:
        ipcb(skb).srr = 1
        if not _conf(st, dev, "accept_source_route"):
            host.kfree_skb(skb, _RX.NOT_SPECIFIED, "ip_rcv_options")
            return True
    return False


# -- local delivery -------------------------------------------------------------------------

def ip_local_deliver(host: Host, skb: SkBuff) -> int:
    """ip_local_deliver: reassemble fragments (ip_defrag), then NF_INET_LOCAL_IN."""
    if _unpack16(skb.head, skb.data_off + 6)[0] & _IP_FRAG_BITS:
        st = ip_state(host)
        defrag = st.defrag
        whole = defrag.ip_defrag(skb, IP_DEFRAG_LOCAL_DELIVER)
        if whole is None:
            return NET_RX_SUCCESS
        skb = whole
        cb = ipcb(skb)
        cb.frag_max_size = defrag.frag_max_size
        if defrag.frag_pmtu:
            cb.flags |= IPSKB_FRAG_PMTU
    if not nf_hooks_needed[NF_INET_LOCAL_IN]:
        return ip_local_deliver_finish(host, skb)
    return nf_hook(host, NF_INET_LOCAL_IN, skb, skb.dev, None,
                   lambda s: ip_local_deliver_finish(host, s))


def ip_local_deliver_finish(host: Host, skb: SkBuff) -> int:
    """ip_local_deliver_finish: pull the IPv4 header, deliver to the protocol."""
    nh = skb.network_header
    protocol = skb.head[nh + 9]
    n = skb.transport_header - nh  # skb_network_header_len
    if n > skb.len - skb.data_len or n < 0:
        skb.pull(n)  # raises as skb_pull does
    skb.data_off += n  # __skb_pull
    skb.len -= n
    ip_protocol_deliver_rcu(host, skb, protocol)
    return NET_RX_SUCCESS


def raw_local_deliver(st: Ipv4, skb: SkBuff, protocol: int) -> bool:
    """raw_local_deliver / raw_v4_input: a clone to every raw socket of ``protocol``
    (data back at the IPv4 header, as raw_rcv pushes it); True if there was one."""
    hooks = st.raw.get(protocol)
    if not hooks:
        return False
    delivered = False
    for hook in tuple(hooks):
        rcv = hook.rcv
        if rcv is None:
            continue
        clone = skb.clone()
        clone.push(-clone.skb_network_offset())
        rcv(clone)
        delivered = True
    return delivered


def ip_protocol_deliver_rcu(host: Host, skb: SkBuff, protocol: int) -> None:
    """ip_protocol_deliver_rcu: raw sockets, then the registered protocol handler
    (InDelivers); nobody: InUnknownProtos, ICMP protocol unreachable (RFC 1122
    3.2.2.1), drop IP_NOPROTO."""
    # ip_state(host): only ip_rcv's path gets here, and inet_init sets host.ipv4
    # before it registers ip_rcv
    st: Ipv4 = host.ipv4  # type: ignore[attr-defined]
    ip = host.mib.ip
    for _ in range(8):  # a handler's negative return resubmits (bounded)
        raw = bool(st.raw) and raw_local_deliver(st, skb, protocol)
        ipprot = st.protos[protocol]
        if ipprot is not None:
            ret = ipprot.handler(skb)
            if ret < 0:
                protocol = -ret & 0xFF
                continue
            ip.InDelivers += 1
            return
        if not raw:
            ip.InUnknownProtos += 1
            icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0)
            host.kfree_skb(skb, _RX.IP_NOPROTO, "ip_protocol_deliver_rcu")
        else:
            ip.InDelivers += 1
            host.consume_skb(skb, "ip_protocol_deliver_rcu")
        return
    host.kfree_skb(skb, _RX.IP_NOPROTO, "ip_protocol_deliver_rcu")


# -- no route ---------------------------------------------------------------------------------

def ip_error(host: Host, skb: SkBuff) -> int:
    """ip_error (net/ipv4/route.c): the input route said unreachable. A host that does
    not forward counts InAddrErrors (not for us) or InNoRoutes and stays silent; a
    router answers ICMP host/net unreachable or packet filtered (RFC 1812 5.2.7.1),
    at most one per ip_rt_error_cost with a burst of ip_rt_error_burst per source."""
    st = ip_state(host)
    rt: Rtable = skb.dst
    dev = skb.dev
    reason = _RX.NOT_SPECIFIED
    inet = st.inet
    if dev is None or inet.in_dev_get(dev) is None:
        return _drop(host, skb, reason, "ip_error")
    err = rt.error
    if not _conf(st, dev, "forwarding"):
        if err == errno.EHOSTUNREACH:
            reason = _RX.IP_INADDRERRORS
            host.mib.ip.InAddrErrors += 1
        elif err == errno.ENETUNREACH:
            reason = _RX.IP_INNOROUTES
            host.mib.ipext.InNoRoutes += 1
        return _drop(host, skb, reason, "ip_error")
    if err == errno.EHOSTUNREACH:
        code = ICMP_HOST_UNREACH
    elif err == errno.ENETUNREACH:
        code = ICMP_NET_UNREACH
        reason = _RX.IP_INNOROUTES
        host.mib.ipext.InNoRoutes += 1
    elif err == errno.EACCES:
        code = ICMP_PKT_FILTERED
    else:
        return _drop(host, skb, reason, "ip_error")
    saddr = _ADDRS.unpack_from(skb.data, 12)[0]
    peer = st.getpeer(saddr)
    now = jiffies(host)
    tokens = peer.rate_tokens + now - peer.rate_last
    if tokens > IP_RT_ERROR_BURST:
        tokens = IP_RT_ERROR_BURST
    peer.rate_last = now
    send = tokens >= IP_RT_ERROR_COST
    if send:
        tokens -= IP_RT_ERROR_COST
    peer.rate_tokens = tokens
    if send:
        icmp_send(host, skb, ICMP_DEST_UNREACH, code, 0)
    return _drop(host, skb, reason, "ip_error")
