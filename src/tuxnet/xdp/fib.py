"""bpf_fib_lookup (helper 69) for XDP programs, against the host's FIB and neighbour
table: net/core/filter.c bpf_ipv4_fib_lookup and bpf_fib_set_fwd_params.

The program passes a ``struct bpf_fib_lookup`` (include/uapi/linux/bpf.h, 64 bytes);
the helper routes ``ipv4_dst`` as a forwarded packet arriving on ``ifindex`` would be
routed (or, with BPF_FIB_LOOKUP_OUTPUT, as a locally sent one leaving ``ifindex``),
checks the MTU against ``tot_len``, resolves the next hop in the neighbour table, and
writes back the egress ifindex, the next hop, ``rt_metric``, ``smac`` and ``dmac``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuxnet.host import Host

# include/uapi/linux/bpf.h: struct bpf_fib_lookup field offsets (x86: u16/u32 little
# endian, the be16/be32 fields network order)
BPF_FIB_LOOKUP_SIZE = 64
_HEAD = struct.Struct("<BB2s2sHI")        # family, l4_protocol, sport, dport, tot_len, ifindex
_U32 = struct.Struct("<I")
_BE32 = struct.Struct("!I")
AF_INET = 2

# enum { BPF_FIB_LKUP_RET_* }
BPF_FIB_LKUP_RET_SUCCESS = 0
BPF_FIB_LKUP_RET_BLACKHOLE = 1
BPF_FIB_LKUP_RET_UNREACHABLE = 2
BPF_FIB_LKUP_RET_PROHIBIT = 3
BPF_FIB_LKUP_RET_NOT_FWDED = 4
BPF_FIB_LKUP_RET_FWD_DISABLED = 5
BPF_FIB_LKUP_RET_UNSUPP_LWT = 6
BPF_FIB_LKUP_RET_NO_NEIGH = 7
BPF_FIB_LKUP_RET_FRAG_NEEDED = 8

BPF_FIB_LOOKUP_DIRECT = 1 << 0
BPF_FIB_LOOKUP_OUTPUT = 1 << 1
BPF_FIB_LOOKUP_SKIP_NEIGH = 1 << 2

_EINVAL, _EHOSTUNREACH, _EACCES, _ENODEV, _EAFNOSUPPORT = 22, 113, 13, 19, 97
_RTN_UNICAST = 1
# include/net/neighbour.h: NUD_VALID = PERMANENT | NOARP | REACHABLE | PROBE | STALE | DELAY
_NUD_VALID = 0x80 | 0x40 | 0x02 | 0x10 | 0x04 | 0x08


def _dev_by_index(host: Host, ifindex: int) -> Any:
    for dev in host.devices.values():
        if getattr(dev, "ifindex", None) == ifindex:
            return dev
    return None


def bpf_fib_lookup(host: Host, params: bytearray, flags: int) -> int:
    """bpf_xdp_fib_lookup: route ``params`` in place; a BPF_FIB_LKUP_RET_* code, or a
    negative errno (-ENODEV for an unknown ifindex, -EAFNOSUPPORT for non-IPv4)."""
    from tuxnet.ipv4.inet import ip_state
    from tuxnet.ipv4.ip_output import dst_mtu
    from tuxnet.ipv4.route import ip_route_output_key

    family, _l4, _sp, _dp, tot_len, ifindex = _HEAD.unpack_from(params, 0)
    if family != AF_INET:
        return -_EAFNOSUPPORT  # IPv6 lookups: tuxnet has no IPv6
    dev = _dev_by_index(host, ifindex)
    if dev is None:
        return -_ENODEV
    saddr = _BE32.unpack_from(params, 16)[0]
    daddr = _BE32.unpack_from(params, 32)[0]
    tos = params[12]
    if flags & BPF_FIB_LOOKUP_OUTPUT:
        rt = ip_route_output_key(host, daddr, saddr, oif=ifindex, tos=tos)
    else:
        # an XDP packet about to be forwarded: IN_DEV_FORWARD(in_dev) must hold
        if not host.sysctl.in_dev_conf(dev.name, "forwarding"):
            return BPF_FIB_LKUP_RET_FWD_DISABLED
        rt = ip_route_output_key(host, daddr, 0, tos=tos)
    if rt.error:  # fib_lookup errors mapped as bpf_ipv4_fib_lookup maps them
        return {_EINVAL: BPF_FIB_LKUP_RET_BLACKHOLE, _EHOSTUNREACH: BPF_FIB_LKUP_RET_UNREACHABLE,
                _EACCES: BPF_FIB_LKUP_RET_PROHIBIT}.get(rt.error, BPF_FIB_LKUP_RET_NOT_FWDED)
    if rt.type != _RTN_UNICAST or rt.dev is None:
        return BPF_FIB_LKUP_RET_NOT_FWDED
    out: Any = rt.dev
    fa = rt.fa
    metric = fa.fi.priority if fa is not None and getattr(fa, "fi", None) is not None else 0
    _U32.pack_into(params, 12, metric)          # rt_metric
    _U32.pack_into(params, 8, out.ifindex)      # ifindex: the egress device
    if tot_len:
        mtu = dst_mtu(ip_state(host), rt)
        if tot_len > mtu:
            struct.pack_into("<H", params, 6, mtu)  # mtu_result
            return BPF_FIB_LKUP_RET_FRAG_NEEDED
    nexthop = rt.nexthop()
    if rt.uses_gateway:
        _BE32.pack_into(params, 32, nexthop)    # ipv4_dst becomes the gateway
    if flags & BPF_FIB_LOOKUP_SKIP_NEIGH:
        params[52:58] = bytes(out.dev_addr)
        return BPF_FIB_LKUP_RET_SUCCESS
    tbl = getattr(host, "arp_tbl", None)
    neigh = tbl.tbl.lookup_noref(nexthop, out) if tbl is not None else None
    if neigh is None or not neigh.nud_state & _NUD_VALID:
        return BPF_FIB_LKUP_RET_NO_NEIGH
    params[52:58] = bytes(out.dev_addr)          # smac
    params[58:64] = bytes(neigh.ha)              # dmac
    return BPF_FIB_LKUP_RET_SUCCESS
