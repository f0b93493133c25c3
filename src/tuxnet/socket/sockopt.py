"""setsockopt/getsockopt for SOL_SOCKET (net/core/sock.c: sk_setsockopt,
sk_getsockopt) and SOL_IP (net/ipv4/ip_sockglue.c: do_ip_setsockopt,
do_ip_getsockopt), on the raw option bytes as the syscalls see them.

Values: an ``int`` option is a C int (4 bytes, native order); SO_RCVTIMEO/SO_SNDTIMEO
take a struct timeval (two longs, 16 bytes), SO_LINGER a struct linger (two ints),
SO_BINDTODEVICE a device name. Timeouts are kept in jiffies (HZ) as Linux does, so a
timeout reads back rounded up to whole jiffies. Errors are OSErrors with Linux's errno.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from tuxnet.socket.consts import (
    IP_BIND_ADDRESS_NO_PORT,
    IP_FREEBIND,
    IP_MTU,
    IP_MTU_DISCOVER,
    IP_MULTICAST_ALL,
    IP_MULTICAST_LOOP,
    IP_MULTICAST_TTL,
    IP_PKTINFO,
    IP_PMTUDISC_DONT,
    IP_PMTUDISC_OMIT,
    IP_RECVERR,
    IP_RECVTOS,
    IP_RECVTTL,
    IP_TOS,
    IP_TTL,
    SO_ACCEPTCONN,
    SO_BINDTODEVICE,
    SO_BINDTOIFINDEX,
    SO_BROADCAST,
    SO_COOKIE,
    SO_DEBUG,
    SO_DOMAIN,
    SO_DONTROUTE,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_MARK,
    SO_NO_CHECK,
    SO_OOBINLINE,
    SO_PASSCRED,
    SO_PRIORITY,
    SO_PROTOCOL,
    SO_RCVBUF,
    SO_RCVBUFFORCE,
    SO_RCVLOWAT,
    SO_RCVTIMEO,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_RXQ_OVFL,
    SO_SNDBUF,
    SO_SNDBUFFORCE,
    SO_SNDTIMEO,
    SO_TIMESTAMP,
    SO_TIMESTAMPING,
    SO_TIMESTAMPING_NEW,
    SO_TYPE,
    SO_ZEROCOPY,
    SOCK_RCVBUF_LOCK,
    SOCK_SNDBUF_LOCK,
    SOCK_STREAM,
    SOL_IP,
    SOL_SOCKET,
    SOL_UDP,
    TCP_ESTABLISHED,
)
from tuxnet.socket.core import Sock, sock_errno
from tuxnet.socket.errqueue import sock_set_timestamping, sock_set_zerocopy
from tuxnet.sysctl_defaults import HZ, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["sock_getsockopt", "sock_setsockopt"]

_INT = struct.Struct("=i")
_TIMEVAL = struct.Struct("=qq")  # struct __kernel_old_timeval on 64-bit
_LINGER = struct.Struct("=ii")
_INT_MAX = 0x7FFFFFFF
_USEC_PER_SEC = 1_000_000
_NSEC_PER_JIFFY = 1_000_000_000 // HZ
_MAX_SCHEDULE_TIMEOUT = (1 << 63) - 1
# net/ipv4/route.c: ip_tos2prio, indexed by IPTOS_TOS(tos) >> 1 (TC_PRIO_* values)
_IP_TOS2PRIO = (0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4)
# include/uapi/linux/udp.h: UDP_CORK, UDP_ENCAP, UDP_NO_CHECK6_TX/RX, UDP_SEGMENT, UDP_GRO
_UDP_OPTS = frozenset((1, 100, 101, 102, 103, 104))
# SOL_SOCKET flag options kept as sock flags (SOCK_*), with the name the kernel uses
_FLAG_OPTS = {SO_DEBUG: "SOCK_DBG", SO_BROADCAST: "SOCK_BROADCAST",
              SO_DONTROUTE: "SOCK_LOCALROUTE", SO_KEEPALIVE: "SOCK_KEEPOPEN",
              SO_OOBINLINE: "SOCK_URGINLINE", SO_PASSCRED: "SOCK_PASSCRED",
              SO_RXQ_OVFL: "SOCK_RXQ_OVFL", SO_TIMESTAMP: "SOCK_RCVTSTAMP"}


def _einval() -> OSError:
    return sock_errno(errno.EINVAL)


def _get_int(optval: bytes) -> int:
    """copy_from_sockptr of an int: at least 4 bytes, else EINVAL."""
    if len(optval) < 4:
        raise _einval()
    value: int = _INT.unpack_from(optval)[0]
    return value


def _get_int_or_char(optval: bytes) -> int:
    """do_ip_setsockopt's read: an int when 4 bytes are given, else one unsigned char."""
    if len(optval) >= 4:
        value: int = _INT.unpack_from(optval)[0]
        return value
    if len(optval) >= 1:
        return optval[0]
    raise _einval()


def _set_timeout(optval: bytes) -> int | None:
    """sock_set_timeout(): a struct timeval to jiffies in ns (None = no timeout)."""
    if len(optval) < _TIMEVAL.size:
        raise _einval()
    sec: int
    usec: int
    sec, usec = _TIMEVAL.unpack_from(optval)
    if usec < 0 or usec >= _USEC_PER_SEC:
        raise sock_errno(errno.EDOM)
    if sec < 0:
        return 0  # "negative timeout": the call does not wait at all
    if sec == 0 and usec == 0:
        return None  # MAX_SCHEDULE_TIMEOUT
    jiffies = sec * HZ + -(-usec // (_USEC_PER_SEC // HZ))  # DIV_ROUND_UP
    return jiffies * _NSEC_PER_JIFFY


def _get_timeout(timeo: int | None) -> bytes:
    """sock_get_timeout(): jiffies back to a struct timeval (0, 0 for none)."""
    if timeo is None:
        return _TIMEVAL.pack(0, 0)
    jiffies = timeo // _NSEC_PER_JIFFY
    return _TIMEVAL.pack(jiffies // HZ, (jiffies % HZ) * _USEC_PER_SEC // HZ)


def _dev_ifindex(sk: Sock, name: str) -> int:
    """sock_bindtoindex_locked() by name: the device's ifindex, ENODEV if unknown."""
    if not name:
        return 0
    dev = sk.host.devices.get(name)
    if dev is None:
        raise sock_errno(errno.ENODEV)
    ifindex: int = getattr(dev, "ifindex", 0)
    return ifindex


def _sock_set(sk: Sock, optname: int, optval: bytes, on_rcvbuf: Callable[[], None]) -> None:
    """sk_setsockopt()."""
    sysctl = sk.host.sysctl
    if optname == SO_BINDTODEVICE:
        sk.sk_bound_dev_if = _dev_ifindex(sk, optval.split(b"\0", 1)[0].decode())
        sk.sk_dst_cache = None
        return
    if optname in (SO_RCVTIMEO, SO_SNDTIMEO):
        timeo = _set_timeout(optval)
        if optname == SO_RCVTIMEO:
            sk.sk_rcvtimeo = timeo
        else:
            sk.sk_sndtimeo = timeo
        return
    if optname == SO_LINGER:
        if len(optval) < _LINGER.size:
            raise _einval()
        return  # no effect on datagram sockets (struct linger kept nowhere)
    val = _get_int(optval)
    uval = val & 0xFFFFFFFF  # min_t(u32, ...) makes a negative size huge
    if optname in _FLAG_OPTS:
        flag = _FLAG_OPTS[optname]
        if val:
            sk.sock_flags.add(flag)
        else:
            sk.sock_flags.discard(flag)
    elif optname == SO_REUSEADDR:
        sk.sk_reuse = 1 if val else 0  # SK_CAN_REUSE
    elif optname == SO_REUSEPORT:
        sk.sk_reuseport = 1 if val else 0
    elif optname in (SO_SNDBUF, SO_SNDBUFFORCE):
        # SO_SNDBUF is clamped to wmem_max; SO_SNDBUFFORCE (CAP_NET_ADMIN) only to >= 0
        uval = (min(uval, sysctl.get_int("net.core.wmem_max")) if optname == SO_SNDBUF
                else max(val, 0))
        size = min(uval, _INT_MAX // 2)  # __sock_set_sndbuf: doubled, at least the min
        sk.sk_userlocks |= SOCK_SNDBUF_LOCK
        sk.sk_sndbuf = max(size * 2, SOCK_MIN_SNDBUF)
        sk.sk_write_space()
    elif optname in (SO_RCVBUF, SO_RCVBUFFORCE):
        uval = (min(uval, sysctl.get_int("net.core.rmem_max")) if optname == SO_RCVBUF
                else max(val, 0))
        size = min(uval, _INT_MAX // 2)  # __sock_set_rcvbuf; socket(7): "doubles"
        sk.sk_userlocks |= SOCK_RCVBUF_LOCK
        sk.sk_rcvbuf = max(size * 2, SOCK_MIN_RCVBUF)
        on_rcvbuf()
    elif optname == SO_NO_CHECK:
        sk.sk_no_check_tx = bool(val)
    elif optname == SO_PRIORITY:
        sk.sk_priority = val  # any value: the stack runs with CAP_NET_ADMIN
    elif optname == SO_RCVLOWAT:
        sk.sk_rcvlowat = (_INT_MAX if val < 0 else val) or 1
    elif optname == SO_MARK:
        if sk.sk_mark != uval:
            sk.sk_mark = uval
            sk.sk_dst_cache = None
    elif optname == SO_BINDTOIFINDEX:
        if val < 0:
            raise _einval()
        if val and not any(getattr(d, "ifindex", 0) == val for d in sk.host.devices.values()):
            raise sock_errno(errno.ENODEV)
        sk.sk_bound_dev_if = val
        sk.sk_dst_cache = None
    elif optname == SO_ZEROCOPY:
        sock_set_zerocopy(sk, val)
    elif optname in (SO_TIMESTAMPING, SO_TIMESTAMPING_NEW):
        sock_set_timestamping(sk, val)  # struct so_timestamping: flags first
    else:  # SO_TYPE, SO_ERROR, SO_PROTOCOL ... are read-only
        raise sock_errno(errno.ENOPROTOOPT)


def _ip_set(sk: Sock, optname: int, optval: bytes) -> None:
    """do_ip_setsockopt()."""
    val = _get_int_or_char(optval)
    if optname == IP_TOS:
        if sk.sk_type == SOCK_STREAM:  # ECN bits belong to TCP (tcp/ecn.py)
            val = (val & ~3) | (sk.tos & 3)
        if sk.tos != val:  # __ip_sock_set_tos: priority follows the TOS
            sk.tos = val & 0xFF
            sk.sk_priority = _IP_TOS2PRIO[(val & 0x1E) >> 1]
            sk.sk_dst_cache = None
            dst = getattr(sk, "dst", None)  # a TCP socket's cached route (sk_dst_reset)
            if dst is not None:
                dst.reset()
    elif optname == IP_TTL:
        if val != -1 and not 1 <= val <= 255:
            raise _einval()
        sk.uc_ttl = val
    elif optname == IP_MTU_DISCOVER:
        if not IP_PMTUDISC_DONT <= val <= IP_PMTUDISC_OMIT:
            raise _einval()
        sk.pmtudisc = val
    elif optname == IP_RECVERR:
        sk.recverr = bool(val)
    elif optname == IP_FREEBIND:
        sk.freebind = bool(val)
    elif optname == IP_BIND_ADDRESS_NO_PORT:
        sk.bind_address_no_port = bool(val)
    elif optname == IP_MULTICAST_TTL:
        if val == -1:
            val = 1
        if not 0 <= val <= 255:
            raise _einval()
        sk.mc_ttl = val
    elif optname == IP_MULTICAST_LOOP:
        sk.mc_loop = 1 if val else 0
    elif optname == IP_MULTICAST_ALL:
        if val not in (0, 1):
            raise _einval()
        sk.mc_all = val
    elif optname in (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS):
        if val:
            sk.cmsg_flags.add(optname)
        else:
            sk.cmsg_flags.discard(optname)
    else:
        raise sock_errno(errno.ENOPROTOOPT)


def sock_setsockopt(sk: Sock, level: int, optname: int, optval: bytes,
                    on_rcvbuf: Callable[[], None] = lambda: None) -> None:
    """setsockopt(2) for an AF_INET datagram socket: SOL_SOCKET, then SOL_IP; any other
    level is ENOPROTOOPT. ``on_rcvbuf`` runs after SO_RCVBUF changed the buffer."""
    if level == SOL_SOCKET:
        _sock_set(sk, optname, optval, on_rcvbuf)
    elif level == SOL_IP:
        _ip_set(sk, optname, optval)
    elif level == SOL_UDP and optname in _UDP_OPTS and not _get_int(optval):
        return  # turning off what is off; UDP_CORK, UDP_SEGMENT ... are not modelled
    else:
        raise sock_errno(errno.ENOPROTOOPT)


def _sock_get(sk: Sock, optname: int) -> int | bytes:
    """sk_getsockopt()."""
    if optname in _FLAG_OPTS:
        return int(_FLAG_OPTS[optname] in sk.sock_flags)
    simple: dict[int, Callable[[], int]] = {
        SO_REUSEADDR: lambda: sk.sk_reuse,
        SO_REUSEPORT: lambda: sk.sk_reuseport,
        SO_TYPE: lambda: sk.sk_type,
        SO_PROTOCOL: lambda: sk.sk_protocol,
        SO_DOMAIN: lambda: sk.sk_family,
        SO_SNDBUF: lambda: sk.sk_sndbuf,
        SO_RCVBUF: lambda: sk.sk_rcvbuf,
        SO_NO_CHECK: lambda: int(sk.sk_no_check_tx),
        SO_PRIORITY: lambda: sk.sk_priority,
        SO_RCVLOWAT: lambda: sk.sk_rcvlowat,
        SO_MARK: lambda: sk.sk_mark,
        SO_ACCEPTCONN: lambda: 0,
        SO_BINDTOIFINDEX: lambda: sk.sk_bound_dev_if,
        SO_ZEROCOPY: lambda: int("SOCK_ZEROCOPY" in sk.sock_flags),
        SO_TIMESTAMPING: lambda: sk.sk_tsflags,
    }
    getter = simple.get(optname)
    if getter is not None:
        return getter()
    if optname == SO_ERROR:  # -sock_error(), then the soft error
        err = sk.sock_error()
        if not err:
            err, sk.sk_err_soft = sk.sk_err_soft, 0
        return err
    if optname == SO_RCVTIMEO:
        return _get_timeout(sk.sk_rcvtimeo)
    if optname == SO_SNDTIMEO:
        return _get_timeout(sk.sk_sndtimeo)
    if optname == SO_LINGER:
        return _LINGER.pack(0, 0)
    if optname == SO_COOKIE:
        return struct.pack("=Q", sk.ino)  # sock_gen_cookie: unique per socket
    if optname == SO_BINDTODEVICE:
        for dev in sk.host.devices.values():
            if sk.sk_bound_dev_if and getattr(dev, "ifindex", 0) == sk.sk_bound_dev_if:
                return str(getattr(dev, "name", "")).encode() + b"\0"
        return b""
    raise sock_errno(errno.ENOPROTOOPT)


def _ip_get(sk: Sock, optname: int, mtu: Callable[[], int]) -> int:
    """do_ip_getsockopt()."""
    if optname == IP_TOS:
        return sk.tos
    if optname == IP_TTL:
        return sk.uc_ttl if sk.uc_ttl != -1 else sk.host.sysctl.get_int(
            "net.ipv4.ip_default_ttl")
    if optname == IP_MTU_DISCOVER:
        return sk.pmtudisc
    if optname == IP_MTU:
        if sk.sk_state != TCP_ESTABLISHED:
            raise sock_errno(errno.ENOTCONN)
        return mtu()
    values = {IP_RECVERR: int(sk.recverr), IP_FREEBIND: int(sk.freebind),
              IP_BIND_ADDRESS_NO_PORT: int(sk.bind_address_no_port),
              IP_MULTICAST_TTL: sk.mc_ttl, IP_MULTICAST_LOOP: sk.mc_loop,
              IP_MULTICAST_ALL: sk.mc_all}
    if optname in values:
        return values[optname]
    if optname in (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS):
        return int(optname in sk.cmsg_flags)
    raise sock_errno(errno.ENOPROTOOPT)


def sock_getsockopt(sk: Sock, level: int, optname: int,
                    mtu: Callable[[], int] = lambda: 0) -> int | bytes:
    """getsockopt(2): an int option's value, or the raw bytes of a struct option (a
    level other than SOL_SOCKET, SOL_IP, SOL_UDP is EOPNOTSUPP, as ip_getsockopt says).
    ``mtu()`` answers IP_MTU for a connected socket (the route's path MTU)."""
    if level == SOL_SOCKET:
        return _sock_get(sk, optname)
    if level == SOL_IP:
        return _ip_get(sk, optname, mtu)
    if level == SOL_UDP:  # udp_lib_getsockopt: corking, GSO, GRO, encap are all off
        if optname in _UDP_OPTS:
            return 0
        raise sock_errno(errno.ENOPROTOOPT)
    raise sock_errno(errno.EOPNOTSUPP)  # do_ip_getsockopt: level != SOL_IP
