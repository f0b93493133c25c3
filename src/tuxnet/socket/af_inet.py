"""The AF_INET socket calls shared by datagram sockets (net/ipv4/af_inet.c: inet_bind,
__inet_bind, inet_autobind, inet_dgram_connect, inet_getname, inet_shutdown;
net/ipv4/datagram.c: __ip4_datagram_connect; net/ipv4/udp.c: udp_lib_close).

Each takes the socket's :class:`~tuxnet.socket.core.Sock` and raises OSError with
Linux's errno on failure; the protocol's table comes in through ``sk.prot``.
"""

from __future__ import annotations

import errno

from tuxnet.ipv4.devinet import inet_state
from tuxnet.ipv4.fib_semantics import (
    RT_TABLE_LOCAL,
    RTCF_BROADCAST,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MULTICAST,
    RTN_UNICAST,
)
from tuxnet.ipv4.route import ip_route_output_key
from tuxnet.socket.consts import (
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SOCK_BINDADDR_LOCK,
    SOCK_BINDPORT_LOCK,
    TCP_CLOSE,
    TCP_ESTABLISHED,
)
from tuxnet.socket.core import Sock, sock_errno

__all__ = ["inet_addr_type", "inet_autobind", "inet_bind", "inet_dgram_connect",
           "inet_getname", "inet_release", "inet_shutdown"]


def inet_addr_type(sk: Sock, addr: int) -> int:
    """inet_addr_type_table(): RTN_BROADCAST for 0.x.x.x and 255.255.255.255,
    RTN_MULTICAST for 224/4, else the local table's answer (RTN_LOCAL for our own
    addresses) or RTN_UNICAST."""
    if addr >> 24 == 0 or addr == 0xFFFFFFFF:
        return RTN_BROADCAST
    if addr >> 28 == 0xE:
        return RTN_MULTICAST
    fa = inet_state(sk.host).fib.tables[RT_TABLE_LOCAL].lookup(addr, 0, 0, 0, None)
    return fa.type if fa is not None else RTN_UNICAST


def inet_bind(sk: Sock, addr: int, snum: int) -> None:
    """inet_bind() / __inet_bind(): bind to ``addr``:``snum`` (0: an ephemeral port)."""
    chk = inet_addr_type(sk, addr)
    nonlocal_ok = (sk.host.sysctl.get_int("net.ipv4.ip_nonlocal_bind") or sk.freebind)
    if not (nonlocal_ok or addr == 0 or chk in (RTN_LOCAL, RTN_MULTICAST, RTN_BROADCAST)):
        raise sock_errno(errno.EADDRNOTAVAIL)
    # ports below ip_unprivileged_port_start need CAP_NET_BIND_SERVICE, which the
    # stack's user holds (it runs as root in its namespace)
    if sk.sk_state != TCP_CLOSE or sk.inet_num:
        raise sock_errno(errno.EINVAL)
    sk.inet_rcv_saddr = sk.inet_saddr = addr
    if chk in (RTN_MULTICAST, RTN_BROADCAST):
        sk.inet_saddr = 0  # use the device's address when sending
    if (snum or not sk.bind_address_no_port) and sk.prot.get_port(sk, snum):
        sk.inet_saddr = sk.inet_rcv_saddr = 0
        raise sock_errno(errno.EADDRINUSE)
    if sk.inet_rcv_saddr:
        sk.sk_userlocks |= SOCK_BINDADDR_LOCK
    if snum:
        sk.sk_userlocks |= SOCK_BINDPORT_LOCK
    sk.inet_sport = sk.inet_num
    sk.inet_daddr = 0
    sk.inet_dport = 0
    sk.sk_dst_cache = None


def inet_autobind(sk: Sock) -> None:
    """inet_autobind(): an unbound socket takes an ephemeral port (EAGAIN if none)."""
    if not sk.inet_num:
        if sk.prot.get_port(sk, 0):
            raise sock_errno(errno.EAGAIN)
        sk.inet_sport = sk.inet_num


def inet_dgram_connect(sk: Sock, daddr: int, dport: int) -> None:
    """inet_dgram_connect() + __ip4_datagram_connect(): autobind, route to the peer,
    take the route's source address if none is bound, and become ESTABLISHED."""
    if not sk.inet_num:
        inet_autobind(sk)
    sk.sk_dst_cache = None
    rt = ip_route_output_key(sk.host, daddr, sk.inet_saddr, sk.sk_bound_dev_if, sk.tos)
    if rt.error:
        if rt.error == errno.ENETUNREACH:
            sk.host.mib.ip.OutNoRoutes += 1
        raise sock_errno(rt.error)
    if rt.flags & RTCF_BROADCAST and "SOCK_BROADCAST" not in sk.sock_flags:
        raise sock_errno(errno.EACCES)
    if not sk.inet_saddr:
        sk.inet_saddr = rt.saddr
    if not sk.inet_rcv_saddr:
        old = sk.inet_rcv_saddr
        sk.inet_rcv_saddr = rt.saddr
        sk.prot.rehash(sk, old)
    sk.inet_daddr = rt.daddr
    sk.inet_dport = dport
    group = getattr(sk, "reuseport_cb", None)
    if group is not None:
        group.has_conns = True  # reuseport_has_conns_set
    sk.sk_state = TCP_ESTABLISHED
    sk.inet_id = sk.host.rng.getrandbits(16)  # get_random_u16()
    sk.sk_dst_cache = rt


def inet_getname(sk: Sock, peer: bool) -> tuple[int, int]:
    """inet_getname(): (address, port) of the local end, or of the peer (ENOTCONN when
    there is none)."""
    if peer:
        if not sk.inet_dport or sk.sk_state == TCP_CLOSE:
            raise sock_errno(errno.ENOTCONN)
        return sk.inet_daddr, sk.inet_dport
    return (sk.inet_rcv_saddr or sk.inet_saddr), sk.inet_sport


def inet_shutdown(sk: Sock, how: int) -> None:
    """inet_shutdown(): SHUT_RD/WR/RDWR set sk_shutdown and wake sleepers; on a
    socket that is not connected the bits are set anyway and ENOTCONN is returned."""
    how += 1  # 0 -> RCV_SHUTDOWN, 1 -> SEND_SHUTDOWN, 2 -> both
    if how & ~(RCV_SHUTDOWN | SEND_SHUTDOWN) or not how:
        raise sock_errno(errno.EINVAL)
    sk.sk_shutdown |= how
    sk.sk_error_report()  # sk_state_change: wake everyone
    if sk.sk_state == TCP_CLOSE:
        raise sock_errno(errno.ENOTCONN)


def inet_release(sk: Sock) -> None:
    """inet_release() -> udp_lib_close() -> sk_common_release(): unhash, orphan."""
    sk.prot.unhash(sk)
    sk.inet_num = 0
    sk.sock_flags.add("SOCK_DEAD")  # sock_orphan
    sk.sk_state = TCP_CLOSE
    sk.poll_notify = None
