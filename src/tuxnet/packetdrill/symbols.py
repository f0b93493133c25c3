"""The symbol table scripts resolve words through (packetdrill's symbols_linux.c):
socket levels and options, flags, ioctl numbers and errno names, Linux values."""

from __future__ import annotations

import errno as _errno

__all__ = ["SYMBOLS", "errno_value", "lookup"]

SYMBOLS: dict[str, int] = {
    # include/linux/socket.h, uapi/linux/in.h
    "AF_UNSPEC": 0, "AF_INET": 2, "AF_INET6": 10, "PF_INET": 2, "PF_INET6": 10,
    "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_NONBLOCK": 0o4000,
    "IPPROTO_IP": 0, "IPPROTO_TCP": 6, "IPPROTO_UDP": 17, "IPPROTO_IPV6": 41,
    "SOL_SOCKET": 1, "SOL_IP": 0, "SOL_TCP": 6, "SOL_IPV6": 41, "SOL_UDP": 17,
    # uapi/asm-generic/socket.h
    "SO_DEBUG": 1, "SO_REUSEADDR": 2, "SO_TYPE": 3, "SO_ERROR": 4, "SO_DONTROUTE": 5,
    "SO_BROADCAST": 6, "SO_SNDBUF": 7, "SO_RCVBUF": 8, "SO_KEEPALIVE": 9,
    "SO_OOBINLINE": 10, "SO_PRIORITY": 12, "SO_LINGER": 13, "SO_REUSEPORT": 15,
    "SO_RCVLOWAT": 18, "SO_SNDLOWAT": 19, "SO_RCVTIMEO": 20, "SO_SNDTIMEO": 21,
    "SO_TIMESTAMP": 29, "SO_ACCEPTCONN": 30, "SO_SNDBUFFORCE": 32, "SO_RCVBUFFORCE": 33,
    "SO_MARK": 36, "SO_TIMESTAMPNS": 35, "SO_TIMESTAMPING": 37, "SO_PROTOCOL": 38,
    "SO_DOMAIN": 39, "SO_MAX_PACING_RATE": 47, "SO_INCOMING_CPU": 49, "SO_MEMINFO": 55,
    "SO_ZEROCOPY": 60, "SO_TXTIME": 61,
    # uapi/linux/tcp.h
    "TCP_NODELAY": 1, "TCP_MAXSEG": 2, "TCP_CORK": 3, "TCP_KEEPIDLE": 4,
    "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 6, "TCP_SYNCNT": 7, "TCP_LINGER2": 8,
    "TCP_DEFER_ACCEPT": 9, "TCP_WINDOW_CLAMP": 10, "TCP_INFO": 11, "TCP_QUICKACK": 12,
    "TCP_CONGESTION": 13, "TCP_MD5SIG": 14, "TCP_THIN_LINEAR_TIMEOUTS": 16,
    "TCP_THIN_DUPACK": 17, "TCP_USER_TIMEOUT": 18, "TCP_REPAIR": 19,
    "TCP_FASTOPEN": 23, "TCP_TIMESTAMP": 24, "TCP_NOTSENT_LOWAT": 25,
    "TCP_CC_INFO": 26, "TCP_SAVE_SYN": 27, "TCP_SAVED_SYN": 28,
    "TCP_FASTOPEN_CONNECT": 30, "TCP_ULP": 31, "TCP_MD5SIG_EXT": 32,
    "TCP_FASTOPEN_KEY": 33, "TCP_FASTOPEN_NO_COOKIE": 34, "TCP_ZEROCOPY_RECEIVE": 35,
    "TCP_INQ": 36, "TCP_CM_INQ": 36, "TCP_TX_DELAY": 37,
    # uapi/linux/in.h
    "IP_TOS": 1, "IP_TTL": 2, "IP_HDRINCL": 3, "IP_OPTIONS": 4, "IP_RECVERR": 11,
    "IP_MTU_DISCOVER": 10, "IP_MTU": 14, "IP_FREEBIND": 15,
    "IP_PMTUDISC_DONT": 0, "IP_PMTUDISC_WANT": 1, "IP_PMTUDISC_DO": 2,
    "IP_PMTUDISC_PROBE": 3,
    # fcntl
    "O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2, "O_NONBLOCK": 0o4000,
    "F_GETFL": 3, "F_SETFL": 4, "F_GETFD": 1, "F_SETFD": 2,
    # ioctls (uapi/asm-generic/ioctls.h, linux/sockios.h)
    "FIONREAD": 0x541B, "SIOCINQ": 0x541B, "SIOCOUTQ": 0x5411, "SIOCOUTQNSD": 0x894B,
    "FIONBIO": 0x5421,
    "SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2,
    # linux/socket.h MSG_*
    "MSG_OOB": 1, "MSG_PEEK": 2, "MSG_DONTROUTE": 4, "MSG_TRUNC": 0x20,
    "MSG_DONTWAIT": 0x40, "MSG_EOR": 0x80, "MSG_WAITALL": 0x100, "MSG_ERRQUEUE": 0x2000,
    "MSG_NOSIGNAL": 0x4000, "MSG_MORE": 0x8000, "MSG_ZEROCOPY": 0x4000000,
    "MSG_FASTOPEN": 0x20000000,
    # poll.h / eventpoll.h
    "POLLIN": 0x1, "POLLPRI": 0x2, "POLLOUT": 0x4, "POLLERR": 0x8, "POLLHUP": 0x10,
    "POLLNVAL": 0x20, "POLLRDNORM": 0x40, "POLLRDBAND": 0x80, "POLLWRNORM": 0x100,
    "POLLWRBAND": 0x200, "POLLMSG": 0x400, "POLLRDHUP": 0x2000,
    "EPOLLIN": 0x1, "EPOLLPRI": 0x2, "EPOLLOUT": 0x4, "EPOLLERR": 0x8, "EPOLLHUP": 0x10,
    "EPOLLRDNORM": 0x40, "EPOLLRDBAND": 0x80, "EPOLLWRNORM": 0x100,
    "EPOLLWRBAND": 0x200, "EPOLLMSG": 0x400, "EPOLLRDHUP": 0x2000,
    "EPOLLEXCLUSIVE": 1 << 28, "EPOLLWAKEUP": 1 << 29, "EPOLLONESHOT": 1 << 30,
    "EPOLLET": 1 << 31, "EPOLL_CTL_ADD": 1, "EPOLL_CTL_DEL": 2, "EPOLL_CTL_MOD": 3,
    "SPLICE_F_MOVE": 1, "SPLICE_F_NONBLOCK": 2, "SPLICE_F_MORE": 4,
    "NULL": 0,
    # the ipv4 run's -D CMSG_LEVEL_IP=SOL_IP -D CMSG_TYPE_RECVERR=IP_RECVERR (run_all.py)
    "CMSG_LEVEL_IP": 0, "CMSG_TYPE_RECVERR": 11,
    # uapi/linux/errqueue.h, net_tstamp.h
    "SO_EE_ORIGIN_NONE": 0, "SO_EE_ORIGIN_LOCAL": 1, "SO_EE_ORIGIN_ICMP": 2,
    "SO_EE_ORIGIN_ICMP6": 3, "SO_EE_ORIGIN_TXSTATUS": 4, "SO_EE_ORIGIN_TIMESTAMPING": 4,
    "SO_EE_ORIGIN_ZEROCOPY": 5, "SO_EE_ORIGIN_TXTIME": 6, "SO_EE_CODE_ZEROCOPY_COPIED": 1,
    "SCM_TSTAMP_SND": 0, "SCM_TSTAMP_SCHED": 1, "SCM_TSTAMP_ACK": 2,
    "SCM_TIMESTAMPING": 37, "SCM_TIMESTAMPING_OPT_STATS": 54,
    "SOF_TIMESTAMPING_TX_HARDWARE": 1 << 0, "SOF_TIMESTAMPING_TX_SOFTWARE": 1 << 1,
    "SOF_TIMESTAMPING_RX_HARDWARE": 1 << 2, "SOF_TIMESTAMPING_RX_SOFTWARE": 1 << 3,
    "SOF_TIMESTAMPING_SOFTWARE": 1 << 4, "SOF_TIMESTAMPING_SYS_HARDWARE": 1 << 5,
    "SOF_TIMESTAMPING_RAW_HARDWARE": 1 << 6, "SOF_TIMESTAMPING_OPT_ID": 1 << 7,
    "SOF_TIMESTAMPING_TX_SCHED": 1 << 8, "SOF_TIMESTAMPING_TX_ACK": 1 << 9,
    "SOF_TIMESTAMPING_OPT_CMSG": 1 << 10, "SOF_TIMESTAMPING_OPT_TSONLY": 1 << 11,
    "SOF_TIMESTAMPING_OPT_STATS": 1 << 12, "SOF_TIMESTAMPING_OPT_PKTINFO": 1 << 13,
    "SOF_TIMESTAMPING_OPT_TX_SWHW": 1 << 14, "SOF_TIMESTAMPING_OPT_ID_TCP": 1 << 16,
}


def errno_value(name: str) -> int | None:
    """The errno number of ``EFOO`` (Linux values; Python's errno is the host's)."""
    v = getattr(_errno, name, None)
    return v if isinstance(v, int) else None


def lookup(name: str) -> int | None:
    """A symbol's value: the table, then errno names; None if unknown."""
    v = SYMBOLS.get(name)
    if v is not None:
        return v
    return errno_value(name) if name.startswith("E") else None
