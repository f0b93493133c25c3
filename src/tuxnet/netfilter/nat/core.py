"""NAT bound to connection tracking (net/netfilter/nf_nat_core.c, nf_nat_proto.c,
nf_nat_masquerade.c, nf_nat_redirect.c, xt_nat.c).

The nat table runs only for a connection's first packet (ctinfo NEW or RELATED) and
only while that manip type is not set up (``nf_nat_inet_fn``); a target sets up the
binding with ``nf_nat_setup_info`` (a unique tuple chosen by ``get_unique_tuple`` /
``nf_nat_l4proto_unique_tuple``; the reply tuple is altered, IPS_SRC_NAT / IPS_DST_NAT
set), and when no rule does, a null binding is made. Every packet of the connection is
then rewritten from the entry (``nf_nat_packet``): SRC manip at POST_ROUTING and
LOCAL_IN, DST manip at PRE_ROUTING and LOCAL_OUT, inverted for the reply direction.
ICMP errors RELATED to a NATed flow get their quoted datagram translated too.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from tuxnet.netfilter.conntrack.defs import (
    IPS_DST_NAT_DONE,
    IPS_NAT_MASK,
    IPS_SRC_NAT_DONE,
    NfConn,
    Tuple,
    invert_tuple,
)
from tuxnet.netfilter.ctseam import (
    IP_CT_ESTABLISHED,
    IP_CT_ESTABLISHED_REPLY,
    IP_CT_IS_REPLY,
    IP_CT_NEW,
    IP_CT_RELATED,
    IP_CT_RELATED_REPLY,
    IPS_CONFIRMED,
    IPS_DST_NAT,
    IPS_SRC_NAT,
)
from tuxnet.netfilter.engine import ipt_do_table
from tuxnet.netfilter.hooks import (
    NF_ACCEPT,
    NF_DROP,
    NF_INET_LOCAL_IN,
    NF_INET_LOCAL_OUT,
    NF_INET_POST_ROUTING,
    NF_INET_PRE_ROUTING,
    nf_drop_err,
)
from tuxnet.netfilter.nat.manip import (
    NF_NAT_MANIP_DST,
    NF_NAT_MANIP_SRC,
    ensure_writable,
    nf_nat_ipv4_manip_pkt,
    recompute_icmp_checksum,
)
from tuxnet.wire.checksum import ones_sum

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.netfilter.conntrack.core import CtNet
    from tuxnet.netfilter.tables import XtTable
    from tuxnet.netfilter.xt import XtParam, XtTarget
    from tuxnet.skb import SkBuff

__all__ = [
    "NF_NAT_RANGE_MAP_IPS",
    "NF_NAT_RANGE_PROTO_SPECIFIED",
    "NatRange2",
    "get_unique_tuple",
    "nf_nat_ipv4_fn",
    "nf_nat_packet",
    "nf_nat_setup_info",
    "xt_nat_target",
]

# include/uapi/linux/netfilter/nf_nat.h
NF_NAT_RANGE_MAP_IPS = 1 << 0
NF_NAT_RANGE_PROTO_SPECIFIED = 1 << 1
NF_NAT_RANGE_PROTO_RANDOM = 1 << 2
NF_NAT_RANGE_PERSISTENT = 1 << 3
NF_NAT_RANGE_PROTO_RANDOM_FULLY = 1 << 4
NF_NAT_RANGE_PROTO_OFFSET = 1 << 5
NF_NAT_RANGE_PROTO_RANDOM_ALL = NF_NAT_RANGE_PROTO_RANDOM | NF_NAT_RANGE_PROTO_RANDOM_FULLY
NF_NAT_MAX_ATTEMPTS = 128  # nf_nat_core.c
INADDR_LOOPBACK = 0x7F000001
_PORT_PROTOS = (6, 17)  # tracked with ports (the others are generic: address only)
_FLAG_BITS = {"--random": NF_NAT_RANGE_PROTO_RANDOM,
              "--random-fully": NF_NAT_RANGE_PROTO_RANDOM_FULLY,
              "--persistent": NF_NAT_RANGE_PERSISTENT}
_IPH = struct.Struct("!BxxxxxHxBxxII")
_daddr = struct.Struct("!I").unpack_from


class NatRange2:
    """struct nf_nat_range2."""

    __slots__ = ("flags", "max_addr", "max_proto", "min_addr", "min_proto")

    def __init__(self, flags: int = 0, min_addr: int = 0, max_addr: int = 0,
                 min_proto: int = 0, max_proto: int = 0) -> None:
        self.flags = flags
        self.min_addr, self.max_addr = min_addr, max_addr
        self.min_proto, self.max_proto = min_proto, max_proto


def hook2manip(hooknum: int) -> int:
    """HOOK2MANIP: SRC at POST_ROUTING and LOCAL_IN, DST elsewhere."""
    return NF_NAT_MANIP_SRC if hooknum in (NF_INET_POST_ROUTING, NF_INET_LOCAL_IN) \
        else NF_NAT_MANIP_DST


def nf_nat_initialized(ct: NfConn, manip: int) -> bool:
    """nf_nat_initialized: the manip of this type is set up."""
    bit = IPS_SRC_NAT_DONE if manip == NF_NAT_MANIP_SRC else IPS_DST_NAT_DONE
    return bool(ct.status & bit)


def nf_nat_used_tuple(cn: CtNet, t: Tuple, ignored: NfConn) -> bool:
    """nf_nat_used_tuple / nf_conntrack_tuple_taken: another live entry already answers
    to the reply of ``t``."""
    h = cn.lookup(invert_tuple(t), cn.host.now_ns())
    return h is not None and h[0] is not ignored


def _in_range(t: Tuple, rng: NatRange2, manip: int) -> bool:
    """nf_in_range (SRC manip): address and port inside ``rng``."""
    if rng.flags & NF_NAT_RANGE_MAP_IPS and not rng.min_addr <= t[0] <= rng.max_addr:
        return False
    return not rng.flags & NF_NAT_RANGE_PROTO_SPECIFIED or _l4_in_range(t, manip, rng)


def _l4_in_range(t: Tuple, manip: int, rng: NatRange2) -> bool:
    """nf_nat_l4proto_in_range."""
    proto = t[2]
    if proto == 1:
        return rng.min_proto <= t[3] <= rng.max_proto
    if proto in _PORT_PROTOS:
        port = t[3] if manip == NF_NAT_MANIP_SRC else t[4]
        return rng.min_proto <= port <= rng.max_proto
    return True


def _find_appropriate_src(cn: CtNet, orig: Tuple, rng: NatRange2) -> Tuple | None:
    """find_appropriate_src: an existing SNAT mapping of the same source (address,
    protocol, port) whose translation lies in the range."""
    for ct in cn.nat_bysource.get((orig[0], orig[2], orig[3]), ()):
        if ct.orig[0] == orig[0] and ct.orig[2] == orig[2] and ct.orig[3] == orig[3]:
            r = invert_tuple(ct.reply)
            t = (r[0], orig[1], orig[2], r[3], orig[4])
            if _in_range(t, rng, NF_NAT_MANIP_SRC):
                return t
    return None


def _jhash(*words: int) -> int:
    """A 32-bit mix of the addresses (jhash2's role in find_best_ips_proto)."""
    h = 0x9E3779B9
    for w in words:
        h = ((h ^ (w & 0xFFFFFFFF)) * 0x01000193) & 0xFFFFFFFF
        h ^= h >> 15
    return h


def _find_best_ips_proto(t: Tuple, rng: NatRange2, manip: int) -> Tuple:
    """find_best_ips_proto: an address of the range, chosen by a hash of the source
    (and the destination unless --persistent) so one client keeps one address."""
    if not rng.flags & NF_NAT_RANGE_MAP_IPS:
        return t
    lo, hi = rng.min_addr, rng.max_addr
    if lo == hi:
        addr = lo
    else:
        j = _jhash(t[0], 0 if rng.flags & NF_NAT_RANGE_PERSISTENT else t[1])
        addr = lo + ((j * (hi - lo + 1)) >> 32)
    if manip == NF_NAT_MANIP_SRC:
        return (addr, t[1], t[2], t[3], t[4])
    return (t[0], addr, t[2], t[3], t[4])


def _with_key(t: Tuple, manip: int, key: int) -> Tuple:
    if t[2] == 1 or manip == NF_NAT_MANIP_SRC:
        return (t[0], t[1], t[2], key, t[4])
    return (t[0], t[1], t[2], t[3], key)


def nf_nat_l4proto_unique_tuple(cn: CtNet, t: Tuple, rng: NatRange2, manip: int,
                                ct: NfConn) -> Tuple:
    """nf_nat_l4proto_unique_tuple: search the port (ICMP id) range from an offset —
    random for SNAT, 0 for DNAT — up to NF_NAT_MAX_ATTEMPTS tries, then halve the
    attempts with a fresh random offset. Without a range: ports below 512 map into
    1..511, 512..1023 into 600..1023, the rest into 1024..65535; DNAT keeps the port."""
    proto = t[2]
    rand = cn.host.rng
    if proto == 1:
        key = t[3]
        if not rng.flags & NF_NAT_RANGE_PROTO_SPECIFIED:
            lo, size = 0, 65536
        else:
            lo, size = rng.min_proto, rng.max_proto - rng.min_proto + 1
    elif proto in _PORT_PROTOS:
        key = t[3] if manip == NF_NAT_MANIP_SRC else t[4]
        if not rng.flags & NF_NAT_RANGE_PROTO_SPECIFIED:
            if manip == NF_NAT_MANIP_DST:
                return t
            if key < 1024:
                lo, size = (1, 511) if key < 512 else (600, 1023 - 600 + 1)
            else:
                lo, size = 1024, 65535 - 1024 + 1
        else:
            lo, hi = rng.min_proto, rng.max_proto
            if hi < lo:
                lo, hi = hi, lo
            size = hi - lo + 1
    else:
        return t
    if rng.flags & NF_NAT_RANGE_PROTO_OFFSET:
        off = key - rng.min_proto
    elif rng.flags & NF_NAT_RANGE_PROTO_RANDOM_ALL or manip != NF_NAT_MANIP_DST:
        off = rand.getrandbits(16)
    else:
        off = 0
    attempts = min(size, NF_NAT_MAX_ATTEMPTS)
    while True:
        for _ in range(attempts):
            cand = _with_key(t, manip, lo + off % size)
            if not nf_nat_used_tuple(cn, cand, ct):
                return cand
            off += 1
        if attempts >= size or attempts < 16:
            return cand  # nothing free: the last candidate (the insert will fail)
        attempts //= 2
        off = rand.getrandbits(16)


def get_unique_tuple(cn: CtNet, orig: Tuple, rng: NatRange2, ct: NfConn,
                     manip: int) -> Tuple:
    """get_unique_tuple: keep the tuple when it fits and is unused (SNAT: also an
    existing mapping of the same source), else pick an address, then a free port."""
    if manip == NF_NAT_MANIP_SRC and not rng.flags & NF_NAT_RANGE_PROTO_RANDOM_ALL:
        if _in_range(orig, rng, manip):
            if not nf_nat_used_tuple(cn, orig, ct):
                return orig
        else:
            found = _find_appropriate_src(cn, orig, rng)
            if found is not None and not nf_nat_used_tuple(cn, found, ct):
                return found
    t = _find_best_ips_proto(orig, rng, manip)
    if not rng.flags & NF_NAT_RANGE_PROTO_RANDOM_ALL:
        if rng.flags & NF_NAT_RANGE_PROTO_SPECIFIED:
            if not rng.flags & NF_NAT_RANGE_PROTO_OFFSET and _l4_in_range(t, manip, rng) \
                    and (rng.min_proto == rng.max_proto or not nf_nat_used_tuple(cn, t, ct)):
                return t
        elif not nf_nat_used_tuple(cn, t, ct):
            return t
    return nf_nat_l4proto_unique_tuple(cn, t, rng, manip, ct)


def nf_nat_setup_info(cn: CtNet, ct: NfConn, rng: NatRange2, manip: int) -> int:
    """nf_nat_setup_info: choose the translated tuple and alter the reply tuple."""
    if ct.status & IPS_CONFIRMED:
        return NF_ACCEPT
    curr = invert_tuple(ct.reply)
    new = get_unique_tuple(cn, curr, rng, ct, manip)
    if new != curr:
        ct.reply = invert_tuple(new)  # nf_conntrack_alter_reply
        ct.status |= IPS_SRC_NAT if manip == NF_NAT_MANIP_SRC else IPS_DST_NAT
    ct.status |= IPS_SRC_NAT_DONE if manip == NF_NAT_MANIP_SRC else IPS_DST_NAT_DONE
    return NF_ACCEPT


def nf_nat_alloc_null_binding(cn: CtNet, ct: NfConn, hooknum: int) -> int:
    """nf_nat_alloc_null_binding: map to the address already there (which still
    changes the port when the tuple clashes)."""
    manip = hook2manip(hooknum)
    ip = ct.reply[1] if manip == NF_NAT_MANIP_SRC else ct.reply[0]
    return nf_nat_setup_info(cn, ct, NatRange2(NF_NAT_RANGE_MAP_IPS, ip, ip), manip)


def nf_nat_packet(ct: NfConn, ctinfo: int, hooknum: int, skb: SkBuff) -> int:
    """nf_nat_packet: rewrite the packet when its direction's manip is in force."""
    manip = hook2manip(hooknum)
    direction = 1 if ctinfo >= IP_CT_IS_REPLY else 0
    bit = IPS_SRC_NAT if manip == NF_NAT_MANIP_SRC else IPS_DST_NAT
    if direction:
        bit ^= IPS_NAT_MASK
    if not ct.status & bit:
        return NF_ACCEPT
    target = invert_tuple(ct.tuple(1 - direction))
    data = ensure_writable(skb)
    return NF_ACCEPT if nf_nat_ipv4_manip_pkt(skb, data, 0, target, manip) else NF_DROP


def nf_nat_icmp_reply_translation(skb: SkBuff, ct: NfConn, ctinfo: int,
                                  hooknum: int) -> bool:
    """nf_nat_icmp_reply_translation: an ICMP error RELATED to a NATed flow: the quoted
    datagram takes the other manip, the ICMP checksum is recomputed, then the outer
    header is rewritten like a reply."""
    data = ensure_writable(skb)
    hdrlen = (data[0] & 15) << 2
    if len(data) < hdrlen + 8 + 20:
        return False
    if skb.ip_summed == 0 and ones_sum(data[hdrlen:]) != 0xFFFF:
        return False  # nf_ip_checksum
    manip = hook2manip(hooknum)
    direction = 1 if ctinfo >= IP_CT_IS_REPLY else 0
    if data[hdrlen] == 5 and (ct.status & (IPS_SRC_NAT_DONE | IPS_DST_NAT_DONE)
                              != IPS_SRC_NAT_DONE | IPS_DST_NAT_DONE
                              or ct.status & IPS_NAT_MASK):
        return False  # a redirect for a NATed flow is dropped
    bit = IPS_SRC_NAT if manip == NF_NAT_MANIP_SRC else IPS_DST_NAT
    if direction:
        bit ^= IPS_NAT_MASK
    if not ct.status & bit:
        return True
    other = ct.tuple(1 - direction)
    if not nf_nat_ipv4_manip_pkt(skb, data, hdrlen + 8, other, 1 - manip):
        return False
    if skb.ip_summed != 3:
        recompute_icmp_checksum(data, hdrlen)
    inv = invert_tuple(other)
    target = (inv[0], inv[1], 1, inv[3], inv[4])
    return nf_nat_ipv4_manip_pkt(skb, data, 0, target, manip)


def nf_nat_masquerade_ipv4(cn: CtNet, skb: SkBuff, ct: NfConn, rng: NatRange2,
                           out: Any) -> int:
    """nf_nat_masquerade_ipv4: SNAT to the address the output device would pick
    for the next hop (inet_select_addr, RT_SCOPE_UNIVERSE); none -> drop."""
    from tuxnet.ipv4.devinet import inet_state

    if ct.orig[0] == 0:
        return NF_ACCEPT
    rt = skb.dst
    daddr = _IPH.unpack_from(skb.data, 0)[4]
    nh = rt.nexthop() if rt is not None and hasattr(rt, "nexthop") else daddr
    newsrc = inet_state(cn.host).inet_select_addr(out, nh, 0) if out is not None else 0
    if not newsrc:
        return NF_DROP  # "%s ate my IP address"
    ct.masq_index = getattr(out, "ifindex", 0)
    r = NatRange2(rng.flags | NF_NAT_RANGE_MAP_IPS, newsrc, newsrc, rng.min_proto,
                  rng.max_proto)
    return nf_nat_setup_info(cn, ct, r, NF_NAT_MANIP_SRC)


def nf_nat_redirect_ipv4(cn: CtNet, skb: SkBuff, ct: NfConn, rng: NatRange2,
                         hooknum: int) -> int:
    """nf_nat_redirect_ipv4: DNAT to 127.0.0.1 from LOCAL_OUT, else to the first
    address of the receiving device (none -> drop)."""
    if hooknum == NF_INET_LOCAL_OUT:
        newdst = INADDR_LOOPBACK
    else:
        from tuxnet.ipv4.devinet import inet_state

        newdst = 0
        dev = skb.dev
        idev = inet_state(cn.host).in_dev_get(dev) if dev is not None else None
        if idev is not None and idev.ifa_list:
            newdst = idev.ifa_list[0].local
        if not newdst:
            return NF_DROP
    r = NatRange2(rng.flags | NF_NAT_RANGE_MAP_IPS, newdst, newdst, rng.min_proto,
                  rng.max_proto)
    return nf_nat_setup_info(cn, ct, r, NF_NAT_MANIP_DST)


def xt_nat_target(cn: CtNet, skb: SkBuff, par: XtParam, tgt: XtTarget) -> int:
    """The nat_setup seam: what xt_nat / xt_MASQUERADE / xt_REDIRECT do for the first
    packet of a connection."""
    ct = skb.nfct
    if ct is None or skb.nfctinfo not in (IP_CT_NEW, IP_CT_RELATED, IP_CT_RELATED_REPLY):
        return NF_ACCEPT
    r = getattr(tgt, "range", None)
    flags = 0
    for f in getattr(tgt, "flags", ()):
        flags |= _FLAG_BITS.get(f, 0)
    rng = NatRange2(flags)
    if r is not None:
        if r.min_addr:
            rng.flags |= NF_NAT_RANGE_MAP_IPS
            rng.min_addr, rng.max_addr = r.min_addr, r.max_addr
        if r.min_port:
            rng.flags |= NF_NAT_RANGE_PROTO_SPECIFIED
            rng.min_proto, rng.max_proto = r.min_port, r.max_port
    name = tgt.name
    if name == "SNAT":
        return nf_nat_setup_info(cn, ct, rng, NF_NAT_MANIP_SRC)
    if name == "DNAT":
        return nf_nat_setup_info(cn, ct, rng, NF_NAT_MANIP_DST)
    if name == "MASQUERADE":
        return nf_nat_masquerade_ipv4(cn, skb, ct, rng, par.out_dev)
    if name == "REDIRECT":
        return nf_nat_redirect_ipv4(cn, skb, ct, rng, par.hook)
    return NF_ACCEPT


def _route_me_harder(host: Host, skb: SkBuff) -> int:
    """ip_route_me_harder: route a locally generated packet again after DNAT."""
    from tuxnet.ipv4.ip_output import ip_route_output

    _v, _f, _p, _saddr, daddr = _IPH.unpack_from(skb.data, 0)
    rt = ip_route_output(host, daddr)
    if rt.error:
        return nf_drop_err(rt.error)
    skb.dst = rt
    return NF_ACCEPT


def nf_nat_ipv4_fn(cn: CtNet, host: Host, table: XtTable, hooknum: int, skb: SkBuff,
                   in_dev: Any, out_dev: Any) -> int:
    """nf_nat_ipv4_{pre_routing,out,local_fn,local_in} around nf_nat_inet_fn: the nat
    table for a connection's first packet, then nf_nat_packet."""
    ct = skb.nfct
    if ct is None:
        return NF_ACCEPT
    if ct.__class__ is not NfConn:  # not conntrack's entry (a stub): just the rules
        return ipt_do_table(host, table, hooknum, skb, in_dev, out_dev)
    ctinfo = skb.nfctinfo
    manip = NF_NAT_MANIP_SRC if hooknum in (NF_INET_POST_ROUTING, NF_INET_LOCAL_IN) \
        else NF_NAT_MANIP_DST
    if ctinfo in (IP_CT_ESTABLISHED, IP_CT_ESTABLISHED_REPLY):
        # the fast path: an established packet, rewritten from the entry
        if ct.masq_index and hooknum == NF_INET_POST_ROUTING and \
                ctinfo == IP_CT_ESTABLISHED and out_dev is not None and \
                getattr(out_dev, "ifindex", 0) != ct.masq_index:
            cn.nf_ct_kill(ct)  # nf_nat_oif_changed
            return NF_DROP
        bit = IPS_SRC_NAT if manip == NF_NAT_MANIP_SRC else IPS_DST_NAT
        if ctinfo == IP_CT_ESTABLISHED_REPLY:
            bit ^= IPS_NAT_MASK
        if not ct.status & bit:
            return NF_ACCEPT
    data = skb.data
    if (ctinfo in (IP_CT_RELATED, IP_CT_RELATED_REPLY)) and data[9] == 1:
        return NF_ACCEPT if nf_nat_icmp_reply_translation(skb, ct, ctinfo, hooknum) \
            else NF_DROP
    daddr = _daddr(data, 16)[0]
    if ctinfo != IP_CT_ESTABLISHED and ctinfo != IP_CT_ESTABLISHED_REPLY and \
            not nf_nat_initialized(ct, manip):
        ret = ipt_do_table(host, table, hooknum, skb, in_dev, out_dev)
        if ret != NF_ACCEPT:
            return ret
        if not nf_nat_initialized(ct, manip):
            ret = nf_nat_alloc_null_binding(cn, ct, hooknum)
            if ret != NF_ACCEPT:
                return ret
    ret = nf_nat_packet(ct, ctinfo, hooknum, skb)
    if ret != NF_ACCEPT:
        return ret
    if _daddr(skb.data, 16)[0] != daddr:
        if hooknum == NF_INET_LOCAL_OUT:
            return _route_me_harder(host, skb)
        if hooknum == NF_INET_PRE_ROUTING:
            skb.dst = None  # skb_dst_drop: route the new destination
    return NF_ACCEPT
