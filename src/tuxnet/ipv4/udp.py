"""UDP (RFC 768): receive, transmit, ICMP errors and /proc/net/udp (net/ipv4/udp.c).

Receive (``udp_rcv``, called by ip_local_deliver with skb.data at the UDP header):
length checks (short_packet: PKT_TOO_SMALL, InErrors), trim to the UDP length, the
socket lookup of :mod:`tuxnet.ipv4.udp_table`, then the socket's receive queue with
Linux's memory accounting (__udp_enqueue_schedule_skb: a datagram is dropped when the
socket already holds more than sk_rcvbuf bytes of skb truesize, RcvbufErrors +
InErrors, SOCKET_RCVBUFF; beyond udp_mem MemErrors, PROTO_MEM). No socket: a datagram
with a good checksum counts NoPorts and draws an ICMP port unreachable (NO_SOCKET).

As in Linux, a datagram that found its socket has its checksum verified only when the
application reads it (udp_recvmsg): a bad one is then dropped (InCsumErrors +
InErrors, UDP_CSUM) and the read moves on to the next; InDatagrams counts datagrams
read, not datagrams queued. A zero checksum field means "none" (RFC 768).

Receive memory is released lazily (udp_rmem_release): read datagrams build a
``forward_deficit`` given back once it reaches sk_rcvbuf/4 or the reader queue runs
dry, so sk_rmem_alloc (and /proc's rx_queue, which subtracts the deficit) follow the
kernel's numbers.
"""

from __future__ import annotations

import errno
import struct
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.fib_semantics import (
    RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE,
    RTCF_BROADCAST,
    RTCF_MULTICAST,
)
from tuxnet.ipv4.icmp import icmp_hdr, icmp_send
from tuxnet.ipv4.inet import inet_add_protocol, ip_state
from tuxnet.ipv4.ip_output import dst_mtu, ip_send_skb, ipv4_update_pmtu
from tuxnet.ipv4.route import ip_route_output_key
from tuxnet.ipv4.udp_table import UdpSock, UdpTable, sysctl_vec, udp_table
from tuxnet.skb import (
    CHECKSUM_COMPLETE,
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    CHECKSUM_UNNECESSARY,
    alloc_skb,
)
from tuxnet.socket.consts import (
    IP_PMTUDISC_DO,
    IP_PMTUDISC_DONT,
    IP_PMTUDISC_PROBE,
    IPPROTO_UDP,
    MSG_DONTROUTE,
    MSG_OOB,
    MSG_PEEK,
    MSG_TRUNC,
    SEND_SHUTDOWN,
    TCP_ESTABLISHED,
)
from tuxnet.socket.core import sock_errno
from tuxnet.wire.addr import int_to_ip
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.icmp import (
    ICMP_DEST_UNREACH,
    ICMP_FRAG_NEEDED,
    ICMP_PARAMETERPROB,
    ICMP_PORT_UNREACH,
    ICMP_TIME_EXCEEDED,
    NR_ICMP_UNREACH,
)
from tuxnet.wire.udp import UDP_HLEN

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = ["MAX_HEADER", "UdpMsg", "UdpSock", "proc_net_udp", "udp_destruct_sock",
           "udp_err", "udp_init", "udp_rcv", "udp_recvmsg", "udp_sendmsg"]

MAX_HEADER = 128  # headroom reserved for IP + link headers (include/linux/netdevice.h)
IP_MAX_MTU = 0xFFFF  # include/net/ip.h ("ipv4: raise IP_MAX_MTU to theoretical limit")
_IPHLEN = 20
_PAGE_SHIFT = 12
_PAGE_SIZE = 1 << _PAGE_SHIFT
_INT_MAX = 0x7FFFFFFF
# net/ipv4/icmp.c: icmp_err_convert[code] = (errno, fatal) for ICMP_DEST_UNREACH
ICMP_ERR_CONVERT: tuple[tuple[int, bool], ...] = (
    (errno.ENETUNREACH, False),   # ICMP_NET_UNREACH
    (errno.EHOSTUNREACH, False),  # ICMP_HOST_UNREACH
    (errno.ENOPROTOOPT, True),    # ICMP_PROT_UNREACH
    (errno.ECONNREFUSED, True),   # ICMP_PORT_UNREACH
    (errno.EMSGSIZE, False),      # ICMP_FRAG_NEEDED
    (errno.EOPNOTSUPP, False),    # ICMP_SR_FAILED
    (errno.ENETUNREACH, True),    # ICMP_NET_UNKNOWN
    (errno.EHOSTDOWN, True),      # ICMP_HOST_UNKNOWN
    (errno.ENONET, True),         # ICMP_HOST_ISOLATED
    (errno.ENETUNREACH, True),    # ICMP_NET_ANO
    (errno.EHOSTUNREACH, True),   # ICMP_HOST_ANO
    (errno.ENETUNREACH, False),   # ICMP_NET_UNR_TOS
    (errno.EHOSTUNREACH, False),  # ICMP_HOST_UNR_TOS
    (errno.EHOSTUNREACH, True),   # ICMP_PKT_FILTERED
    (errno.EHOSTUNREACH, True),   # ICMP_PREC_VIOLATION
    (errno.EHOSTUNREACH, True),   # ICMP_PREC_CUTOFF
)

_CSUM_DONE = (CHECKSUM_UNNECESSARY, CHECKSUM_PARTIAL)  # udp_skb_csum_unnecessary()
_HDR = struct.Struct("!HHHH")
_ADDRS = struct.Struct("!II")
_PORTS = struct.Struct("!HH")
_U16 = struct.Struct("!H")


# -- set-up ------------------------------------------------------------------------------

def udp_init(host: Host) -> UdpTable:
    """udp_init() + inet_add_protocol(&udp_protocol): the host's UDP table, with udp_rcv
    and udp_err registered for IPPROTO_UDP (once; it brings up IPv4 if needed). The
    handler is udp_rcv's __udp4_lib_rcv with the table bound (a partial: no frame)."""
    tbl = udp_table(host)
    if not getattr(host, "_udp_registered", False):
        inet_add_protocol(host, IPPROTO_UDP, partial(__udp4_lib_rcv, host, tbl),
                          partial(udp_err, host))
        setattr(host, "_udp_registered", True)  # noqa: B010 - no typed slot on Host
    return tbl


def _pages(size: int) -> int:
    """sk_mem_pages()."""
    return (size + _PAGE_SIZE - 1) >> _PAGE_SHIFT


# -- receive -----------------------------------------------------------------------------

def _addrs(skb: SkBuff) -> tuple[int, int]:
    """(saddr, daddr) of the IPv4 header (ip_hdr(skb))."""
    saddr, daddr = _ADDRS.unpack_from(skb.skb_network_header(), 12)
    return saddr, daddr


def _udp_csum_ok(skb: SkBuff) -> bool:
    """udp_skb_csum_unnecessary() || !__udp_lib_checksum_complete(): zero (none),
    verified or locally built (CHECKSUM_PARTIAL) datagrams pass; the rest are summed
    over the pseudo-header. A verified skb is marked so it is summed only once."""
    if skb.ip_summed in (CHECKSUM_UNNECESSARY, CHECKSUM_PARTIAL):
        return True
    off = skb.transport_header - skb.data_off  # the UDP header, pulled or not
    ulen = skb.len - off
    if skb.data_len:
        dgram: bytes | memoryview = skb.copy_bits(off, ulen)
    else:
        dgram = skb.skb_transport_header()[:ulen]
    if _U16.unpack_from(dgram, 6)[0] == 0:  # RFC 768: no checksum
        ok = True
    else:
        saddr, daddr = _addrs(skb)
        ok = ones_sum(dgram, saddr + daddr + IPPROTO_UDP + ulen) == 0xFFFF
    if ok:
        skb.ip_summed = CHECKSUM_UNNECESSARY
    return ok


def _drop(host: Host, skb: SkBuff, reason: SkbDropReason, where: str,
          sk: UdpSock | None = None, csum: bool = False) -> int:
    mib = host.mib.udp
    if csum:
        mib.InCsumErrors += 1
    mib.InErrors += 1
    host.kfree_skb(skb, reason, where, sk)
    return 0


def udp_rcv(host: Host, skb: SkBuff) -> int:
    """udp_rcv(): __udp4_lib_rcv over the host's UDP table."""
    return __udp4_lib_rcv(host, udp_table(host), skb)


def __udp4_lib_rcv(host: Host, tbl: UdpTable, skb: SkBuff) -> int:
    """__udp4_lib_rcv(): validate, look up the socket in ``tbl``, deliver or answer
    with ICMP port unreachable."""
    if skb.len < UDP_HLEN:  # pskb_may_pull
        return _drop(host, skb, SkbDropReason.NOT_SPECIFIED, "__udp4_lib_rcv")
    if skb.len - skb.data_len >= UDP_HLEN:  # the header at skb.data, in the head
        sport, dport, ulen, check = _HDR.unpack_from(skb.head, skb.data_off)
    else:
        sport, dport, ulen, check = _HDR.unpack_from(skb.copy_bits(0, UDP_HLEN))
    if ulen > skb.len or ulen < UDP_HLEN:  # short_packet
        return _drop(host, skb, SkbDropReason.PKT_TOO_SMALL, "__udp4_lib_rcv")
    if ulen < skb.len:  # pskb_trim_rcsum: a full-packet sum no longer applies
        skb.pskb_trim(ulen)
        if skb.ip_summed == CHECKSUM_COMPLETE:
            skb.ip_summed = CHECKSUM_NONE
    if check == 0:  # udp4_csum_init: zero means no checksum (RFC 768)
        skb.ip_summed = CHECKSUM_UNNECESSARY
    skb.transport_header = skb.data_off  # skb_reset_transport_header
    saddr, daddr = _ADDRS.unpack_from(skb.head, skb.network_header + 12)  # ip_hdr(skb)
    dev = skb.dev
    dif = skb.skb_iif or (dev.ifindex if dev is not None else 0)
    rt = skb.dst
    rt_flags = getattr(rt, "flags", 0) if rt is not None else 0
    if rt_flags & (RTCF_BROADCAST | RTCF_MULTICAST) or daddr == 0xFFFFFFFF \
            or daddr >> 28 == 0xE:
        return _mcast_deliver(host, tbl, skb, saddr, sport, daddr, dport, dif)
    sk = tbl.lookup(saddr, sport, daddr, dport, dif)
    if sk is not None:
        udp_queue_rcv_skb(host, sk, skb)
        return 0
    # no socket: drop silently if the checksum is wrong (RFC 1122 4.1.3.4)
    if not _udp_csum_ok(skb):
        return _drop(host, skb, SkbDropReason.UDP_CSUM, "__udp4_lib_rcv", csum=True)
    host.mib.udp.NoPorts += 1
    icmp_send(host, skb, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0)
    host.kfree_skb(skb, SkbDropReason.NO_SOCKET, "__udp4_lib_rcv")
    return 0


def _mcast_deliver(host: Host, tbl: UdpTable, skb: SkBuff, saddr: int, sport: int,
                   daddr: int, dport: int, dif: int) -> int:
    """__udp4_lib_mcast_deliver(): a clone to every matching socket, the original to
    the first; nobody listening is IgnoredMulti (no ICMP for broadcasts)."""
    socks = tbl.mcast_socks(saddr, sport, daddr, dport, dif)
    if not socks:
        if not _udp_csum_ok(skb):
            return _drop(host, skb, SkbDropReason.UDP_CSUM, "__udp4_lib_mcast_deliver",
                         csum=True)
        host.mib.udp.IgnoredMulti += 1
        host.consume_skb(skb, "__udp4_lib_mcast_deliver")
        return 0
    for sk in socks[1:]:
        udp_queue_rcv_skb(host, sk, skb.clone())
    udp_queue_rcv_skb(host, socks[0], skb)
    return 0


def udp_queue_rcv_skb(host: Host, sk: UdpSock, skb: SkBuff) -> int:
    """udp_queue_rcv_one_skb() / __udp_queue_rcv_skb(): pull the header and queue the
    datagram; a refused one is counted and dropped. Returns 0 or -1."""
    # udp_csum_pull_header: __skb_pull of the header udp_rcv found linear, else pskb_pull
    if skb.len - skb.data_len >= UDP_HLEN:
        skb.data_off += UDP_HLEN
        skb.len -= UDP_HLEN
    else:
        skb.pskb_pull(UDP_HLEN)
    rc = udp_enqueue_schedule_skb(host, sk, skb)
    if rc == 0:
        return 0
    mib = host.mib.udp
    if rc == -errno.ENOMEM:  # "an ENOMEM error is charged twice"
        mib.RcvbufErrors += 1
        reason = SkbDropReason.SOCKET_RCVBUFF
    else:
        mib.MemErrors += 1
        reason = SkbDropReason.PROTO_MEM
    tp = host.tracepoints["udp:udp_fail_queue_rcv_skb"]
    if tp.active:
        saddr, daddr = _addrs(skb)
        sport, dport = _PORTS.unpack_from(skb.skb_transport_header())
        tp.emit(rc=rc, sport=sport, dport=dport, family="AF_INET",
                saddr=f"{int_to_ip(saddr)}:{sport}", daddr=f"{int_to_ip(daddr)}:{dport}")
    return _drop(host, skb, reason, "__udp_queue_rcv_skb", sk) - 1


def udp_enqueue_schedule_skb(host: Host, sk: UdpSock, skb: SkBuff) -> int:
    """__udp_enqueue_schedule_skb(): charge ``skb.truesize`` to sk_rmem_alloc and queue
    it; -ENOMEM when the socket already holds more than sk_rcvbuf (one datagram always
    fits), -ENOBUFS when udp_mem refuses the pages."""
    rmem = sk.sk_rmem_alloc
    rcvbuf = sk.sk_rcvbuf
    size = skb.truesize
    if rmem + size > rcvbuf and (rcvbuf > _INT_MAX >> 1 or rmem > rcvbuf):
        sk.sk_drops += 1
        return -errno.ENOMEM
    sk.sk_rmem_alloc += size
    # udp_rmem_schedule(): only a size beyond sk_forward_alloc has pages to schedule
    if size > sk.sk_forward_alloc and not _rmem_schedule(host, sk, size):
        sk.sk_rmem_alloc -= size
        sk.sk_drops += 1
        return -errno.ENOBUFS
    sk.sk_forward_alloc -= size
    sk.sk_receive_queue.append(skb)
    if "SOCK_DEAD" not in sk.sock_flags:
        sk.sk_data_ready()
    return 0


def _rmem_schedule(host: Host, sk: UdpSock, size: int) -> bool:
    """udp_rmem_schedule() -> __sk_mem_schedule(SK_MEM_RECV): raise the forward
    allocation by whole pages within net.ipv4.udp_mem (UDP has no pressure mode: past
    the low mark only a socket under udp_rmem_min still gets memory)."""
    delta = size - sk.sk_forward_alloc
    if delta <= 0:
        return True
    tbl = sk.prot
    amt = _pages(delta)
    tbl.memory_allocated += amt
    lo, _pressure, hi = sysctl_vec(host, "net.ipv4.udp_mem")
    allocated = tbl.memory_allocated
    if allocated <= lo or (allocated <= hi and sk.sk_rmem_alloc
                           < host.sysctl.get_int("net.ipv4.udp_rmem_min")):
        sk.sk_forward_alloc += amt << _PAGE_SHIFT
        return True
    tbl.memory_allocated -= amt  # suppress_allocation
    return False


def udp_rmem_release(sk: UdpSock, size: int, partial: int) -> None:
    """udp_rmem_release(): give back receive memory of read datagrams; with
    ``partial`` it waits until the deficit reaches forward_threshold or the reader
    queue is empty, and keeps less than a page of forward allocation."""
    if partial:
        sk.forward_deficit += size
        size = sk.forward_deficit
        if size < sk.sk_rcvbuf >> 2 and sk.reader_queue:  # up->forward_threshold
            return
    else:
        size += sk.forward_deficit
    sk.forward_deficit = 0
    amt = (size + sk.sk_forward_alloc - partial) & ~(_PAGE_SIZE - 1)
    sk.sk_forward_alloc += size - amt
    if amt:
        sk.prot.memory_allocated -= amt >> _PAGE_SHIFT
    sk.sk_rmem_alloc -= size


def _skb_recv_udp(sk: UdpSock, peek: bool) -> SkBuff | None:
    """__skb_recv_udp() without the wait: a pending error first (sock_error), then
    the reader queue, refilled from sk_receive_queue when empty."""
    if sk.sk_err:  # sock_error(), its frame only when an error is pending
        raise sock_errno(sk.sock_error())
    queue = sk.reader_queue
    if not queue:
        if not sk.sk_receive_queue:
            return None
        queue.extend(sk.sk_receive_queue)  # skb_queue_splice_tail_init
        sk.sk_receive_queue.clear()
    if peek:
        return queue[0]
    skb = queue.popleft()
    udp_rmem_release(sk, skb.truesize, 1)  # udp_skb_destructor
    return skb


class UdpMsg(NamedTuple):
    """What udp_recvmsg hands back: the data (b"" when copied into a buffer), bytes
    copied, the return value (the full length under MSG_TRUNC), the sender and
    msg_flags (MSG_TRUNC when the datagram did not fit)."""

    data: bytes
    copied: int
    ret: int
    saddr: int
    sport: int
    msg_flags: int


def udp_recvmsg(sk: UdpSock, length: int, flags: int,
                into: memoryview | None = None) -> UdpMsg | None:
    """udp_recvmsg() without the wait: one datagram, or None when none is queued.
    Datagrams failing their checksum are dropped on the way (csum_copy_err)."""
    host = sk.host
    peek = bool(flags & MSG_PEEK)
    while True:
        skb = _skb_recv_udp(sk, peek)
        if skb is None:
            return None
        # csum_copy_err; udp_skb_csum_unnecessary() first, without _udp_csum_ok's frame
        if skb.ip_summed not in _CSUM_DONE and not _udp_csum_ok(skb):
            if peek:  # __sk_queue_drop_skb
                sk.reader_queue.remove(skb)
                udp_rmem_release(sk, skb.truesize, 1)
            sk.sk_drops += 1
            host.mib.udp.InCsumErrors += 1
            host.mib.udp.InErrors += 1
            host.kfree_skb(skb, SkbDropReason.UDP_CSUM, "udp_recvmsg", sk)
            continue
        ulen = skb.len
        copied = length if length < ulen else ulen
        if into is not None:
            skb.copy_bits_into(0, into, copied)
            data = b""
        else:
            data = skb.copy_bits(0, copied)
        head = skb.head  # ip_hdr(skb)->saddr, udp_hdr(skb)->source
        saddr = _ADDRS.unpack_from(head, skb.network_header + 12)[0]
        sport = _U16.unpack_from(head, skb.transport_header)[0]
        if not peek:
            host.mib.udp.InDatagrams += 1
            host.consume_skb(skb, "skb_consume_udp")
        # UdpMsg(...) without the namedtuple's Python __new__
        return tuple.__new__(UdpMsg, (data, copied, ulen if flags & MSG_TRUNC else copied,
                                      saddr, sport, MSG_TRUNC if copied < ulen else 0))


def udp_destruct_sock(sk: UdpSock) -> None:
    """udp_destruct_common(): free what is still queued and give back its memory."""
    total = 0
    sk.reader_queue.extend(sk.sk_receive_queue)
    sk.sk_receive_queue.clear()
    while sk.reader_queue:
        skb = sk.reader_queue.popleft()
        total += skb.truesize
        sk.host.kfree_skb(skb, SkbDropReason.NOT_SPECIFIED, "udp_destruct_common", sk)
    udp_rmem_release(sk, total, 0)
    if sk.sk_forward_alloc:  # sk_mem_reclaim
        sk.prot.memory_allocated -= sk.sk_forward_alloc >> _PAGE_SHIFT
        sk.sk_forward_alloc = 0


# -- transmit ----------------------------------------------------------------------------

def udp_sendmsg(sk: UdpSock, data: bytes | bytearray | memoryview, flags: int,
                addr: tuple[int, int] | None,
                wait_wmem: Callable[[], bool] | None) -> int:
    """udp_sendmsg(): build one datagram (checksummed in software unless SO_NO_CHECK)
    and hand it to ip_send_skb. ``addr`` is (daddr, dport) or None for the connected
    peer; ``wait_wmem()`` blocks for send-buffer space and returns False when the call
    may not wait (EAGAIN), as does ``wait_wmem`` None (a non-blocking call). Returns
    the bytes sent or raises OSError."""
    host = sk.host
    length = len(data)
    if length > 0xFFFF:
        raise sock_errno(errno.EMSGSIZE)
    if flags & MSG_OOB:
        raise sock_errno(errno.EOPNOTSUPP)
    connected = False
    if addr is not None:
        daddr, dport = addr
        if not dport:
            raise sock_errno(errno.EINVAL)
    else:
        if sk.sk_state != TCP_ESTABLISHED:
            raise sock_errno(errno.EDESTADDRREQ)
        daddr, dport = sk.inet_daddr, sk.inet_dport
        connected = True
    ulen = length + UDP_HLEN
    saddr = sk.inet_saddr
    multicast = daddr >> 28 == 0xE
    # SO_DONTROUTE / MSG_DONTROUTE: on-link destinations only (RTO_ONLINK)
    scope = (RT_SCOPE_LINK if flags & MSG_DONTROUTE or "SOCK_LOCALROUTE" in sk.sock_flags
             else RT_SCOPE_UNIVERSE)
    rt = ip_route_output_key(host, daddr, saddr, sk.sk_bound_dev_if, sk.tos, scope=scope)
    try:
        if rt.error:
            if rt.error == errno.ENETUNREACH:
                host.mib.ip.OutNoRoutes += 1
            raise sock_errno(rt.error)
        if rt.flags & RTCF_BROADCAST and "SOCK_BROADCAST" not in sk.sock_flags:
            raise sock_errno(errno.EACCES)
        saddr = rt.saddr
        # __ip_append_data: what may leave unfragmented (DO: the path MTU, PROBE: the
        # device MTU, else IP_MAX_MTU as the datagram may be fragmented)
        pmtudisc = sk.pmtudisc
        if pmtudisc == IP_PMTUDISC_DO:
            maxnonfrag = dst_mtu(ip_state(host), rt)
        elif pmtudisc == IP_PMTUDISC_PROBE:
            maxnonfrag = rt.dev.mtu if rt.dev is not None else IP_MAX_MTU
        else:
            maxnonfrag = IP_MAX_MTU
        if ulen > maxnonfrag - _IPHLEN:
            raise sock_errno(errno.EMSGSIZE)
        skb = _alloc_send_skb(sk, MAX_HEADER + ulen, wait_wmem)
    except OSError as e:
        if e.errno == errno.ENOBUFS or "SOCK_NOSPACE" in sk.sock_flags:
            host.mib.udp.SndbufErrors += 1
        raise
    # skb_reserve(MAX_HEADER) + skb_put(ulen) on the new, empty skb (alloc_skb gave
    # it at least that much room), inline
    tail = MAX_HEADER + ulen
    skb.data_off = MAX_HEADER
    skb.tail = tail
    skb.len = ulen
    buf = skb._hmv[MAX_HEADER:tail]
    _HDR.pack_into(buf, 0, sk.inet_sport, dport, ulen, 0)
    buf[UDP_HLEN:] = data
    if not sk.sk_no_check_tx:
        check = ~ones_sum(buf, saddr + daddr + IPPROTO_UDP + ulen) & 0xFFFF
        _U16.pack_into(buf, 6, check or 0xFFFF)  # RFC 768: a zero sum is sent as ones
    skb.transport_header = MAX_HEADER  # skb_reset_transport_header
    skb.priority = sk.sk_priority
    skb.mark = sk.sk_mark
    # ip_select_ident: a DF datagram that may not be fragmented (DO, PROBE: not
    # ignore_df) takes a connected socket's own counter; ip_send_skb does the rest
    ident = None
    if connected and pmtudisc in (IP_PMTUDISC_DO, IP_PMTUDISC_PROBE):
        sk.inet_id = (sk.inet_id + 1) & 0xFFFF
        ident = sk.inet_id
    # IP_MULTICAST_TTL, IP_TTL, else (None) the route's hoplimit or ip_default_ttl
    ttl = sk.mc_ttl if multicast else sk.uc_ttl if sk.uc_ttl >= 0 else None
    err = ip_send_skb(host, skb, saddr, daddr, IPPROTO_UDP, tos=sk.tos, ttl=ttl,
                      oif=sk.sk_bound_dev_if, ident=ident, rt=rt, pmtudisc=pmtudisc)
    if err:  # udp_send_skb
        if err == -errno.ENOBUFS and not sk.recverr:
            host.mib.udp.SndbufErrors += 1
            return length
        if err == -errno.ENOBUFS or "SOCK_NOSPACE" in sk.sock_flags:
            host.mib.udp.SndbufErrors += 1
        raise sock_errno(-err)
    host.mib.udp.OutDatagrams += 1
    return length


def _alloc_send_skb(sk: UdpSock, size: int,
                    wait_wmem: Callable[[], bool] | None) -> SkBuff:
    """sock_alloc_send_pskb(): a pending error or shut-down writes fail first; while
    sk_wmem_alloc is at sk_sndbuf the call waits (or fails with EAGAIN)."""
    while True:
        if sk.sk_err:  # sock_error(), its frame only when an error is pending
            raise sock_errno(sk.sock_error())
        if sk.sk_shutdown & SEND_SHUTDOWN:
            raise sock_errno(errno.EPIPE)
        if sk.sk_wmem_alloc - 1 < sk.sk_sndbuf:  # sk_wmem_alloc_get(), inline
            break
        sk.sock_flags.add("SOCK_NOSPACE")
        if wait_wmem is None or not wait_wmem():
            raise sock_errno(errno.EAGAIN)
    skb = alloc_skb(size)
    # skb_set_owner_w(), inline
    skb.sk = sk
    skb.destructor = sk.sock_wfree
    sk.sk_wmem_alloc += skb.truesize
    return skb


# -- ICMP errors -------------------------------------------------------------------------

def udp_err(host: Host, skb: SkBuff, info: int) -> None:
    """udp_err() / __udp4_lib_err(): an ICMP error quoting one of our datagrams (skb.data
    at the quoted IPv4 header, the ICMP header at the transport header, ``info`` the
    MTU of a frag-needed) sets sk_err on its socket: always with IP_RECVERR, else only
    hard errors (port unreachable -> ECONNREFUSED) on connected sockets."""
    data = skb.data
    ihl = (data[0] & 0x0F) * 4
    saddr, daddr = _ADDRS.unpack_from(data, 12)
    sport, dport = _PORTS.unpack_from(data, ihl)
    dev = skb.dev
    dif = skb.skb_iif or (dev.ifindex if dev is not None else 0)
    # the datagram went saddr:sport -> daddr:dport; its socket is the reverse lookup
    sk = udp_table(host).lookup(daddr, dport, saddr, sport, dif)
    if sk is None:
        host.mib.icmp.InErrors += 1
        return
    icmph = icmp_hdr(skb)
    icmp_type, code = icmph[0], icmph[1]
    harderr = False
    if icmp_type == ICMP_TIME_EXCEEDED:
        err = errno.EHOSTUNREACH
    elif icmp_type == ICMP_PARAMETERPROB:
        err, harderr = errno.EPROTO, True
    elif icmp_type == ICMP_DEST_UNREACH:
        if code == ICMP_FRAG_NEEDED:
            ipv4_update_pmtu(host, skb, info)  # ipv4_sk_update_pmtu
            if sk.pmtudisc == IP_PMTUDISC_DONT:
                return
            err, harderr = errno.EMSGSIZE, True
        elif code <= NR_ICMP_UNREACH:
            err, harderr = ICMP_ERR_CONVERT[code]
        else:
            err = errno.EHOSTUNREACH
    else:  # source quench, redirect (the route learns it) and the rest
        return
    if not sk.recverr and (not harderr or sk.sk_state != TCP_ESTABLISHED):
        return
    sk.sk_err = err
    sk.sk_error_report()


# -- /proc/net/udp -----------------------------------------------------------------------

def _le_hex(addr: int) -> str:
    """%08X of a __be32 read on a little-endian CPU."""
    return f"{int.from_bytes(addr.to_bytes(4, 'big'), 'little'):08X}"


def proc_net_udp(host: Host) -> str:
    """/proc/net/udp (udp4_seq_show / udp4_format_sock): one line per socket, slot by
    slot, each padded to 127 columns (seq_setwidth + seq_pad)."""
    lines = ["   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
             "retrnsmt   uid  timeout inode ref pointer drops".ljust(127)]
    tbl = udp_table(host)
    for sk in tbl.sockets():
        line = (f"{tbl.slot(sk.inet_num):5d}: "
                f"{_le_hex(sk.inet_rcv_saddr)}:{sk.inet_num:04X} "
                f"{_le_hex(sk.inet_daddr)}:{sk.inet_dport:04X} {sk.sk_state:02X} "
                f"{sk.sk_wmem_alloc_get():08X}:{sk.udp_rqueue_get():08X} 00:00000000 "
                f"00000000 {sk.sk_uid:5d} {0:8d} {sk.ino} {sk.sk_refcnt} "
                f"{sk.kptr:016x} {sk.sk_drops}")
        lines.append(line.ljust(127))
    return "\n".join(lines) + "\n"


def _register_proc() -> None:
    from tuxnet.tools import procfs

    procfs.register("/proc/net/udp", proc_net_udp)


_register_proc()
