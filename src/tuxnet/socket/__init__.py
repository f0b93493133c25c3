"""The BSD socket API of tuxnet, shaped like Python's ``socket`` module.

    from tuxnet.socket import socket, AF_INET, SOCK_DGRAM
    with socket(AF_INET, SOCK_DGRAM, host=h2) as srv:
        srv.bind(("10.0.0.2", 5353))
        cli = socket(AF_INET, SOCK_DGRAM, host=h1)
        cli.sendto(b"ping", ("10.0.0.2", 5353))
        data, peer = srv.recvfrom(2048)     # runs h1/h2's loop until it arrives

``host=`` (required, keyword-only) names the tuxnet host whose stack the socket lives
on. Blocking calls run that host's event loop: in virtual time (SimLoop) one ordinary
driver program can play both ends, each blocking call advancing the simulation exactly
as far as needed (a Python timeout expires after exactly that many virtual ns; an
empty simulation raises :class:`SimulationStalled`); in real time (RealLoop) the call
serves real timers and fds until ready. ``fileno()`` is a real eventfd for
``selectors``/``asyncio``. Constants carry Linux's values. SOCK_STREAM waits for TCP
(issue #5).

Modules: :mod:`.api` (the class), :mod:`.dgram` (UDP sockets), :mod:`.af_inet` (bind,
connect, names), :mod:`.sockopt` (SOL_SOCKET, SOL_IP), :mod:`.core` (struct sock and
waiting), :mod:`.addr` (address tuples), :mod:`.consts`.
"""

from socket import gaierror

from tuxnet.socket.api import getdefaulttimeout, setdefaulttimeout, socket
from tuxnet.socket.consts import (
    AF_INET,
    AF_INET6,
    AF_UNSPEC,
    INADDR_ANY,
    INADDR_BROADCAST,
    INADDR_LOOPBACK,
    IP_BIND_ADDRESS_NO_PORT,
    IP_FREEBIND,
    IP_MTU,
    IP_MTU_DISCOVER,
    IP_MULTICAST_LOOP,
    IP_MULTICAST_TTL,
    IP_PKTINFO,
    IP_PMTUDISC_DO,
    IP_PMTUDISC_DONT,
    IP_PMTUDISC_PROBE,
    IP_PMTUDISC_WANT,
    IP_RECVERR,
    IP_TOS,
    IP_TTL,
    IPPROTO_ICMP,
    IPPROTO_IP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    MSG_DONTROUTE,
    MSG_DONTWAIT,
    MSG_ERRQUEUE,
    MSG_OOB,
    MSG_PEEK,
    MSG_TRUNC,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SO_BINDTODEVICE,
    SO_BROADCAST,
    SO_DOMAIN,
    SO_DONTROUTE,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_MARK,
    SO_NO_CHECK,
    SO_PRIORITY,
    SO_PROTOCOL,
    SO_RCVBUF,
    SO_RCVBUFFORCE,
    SO_RCVLOWAT,
    SO_RCVTIMEO,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_SNDBUF,
    SO_SNDBUFFORCE,
    SO_SNDTIMEO,
    SO_TYPE,
    SOCK_CLOEXEC,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOCK_RAW,
    SOCK_STREAM,
    SOL_IP,
    SOL_SOCKET,
    SOL_UDP,
)
from tuxnet.socket.core import SimulationStalled

error = OSError
timeout = TimeoutError

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_UNSPEC",
    "INADDR_ANY",
    "INADDR_BROADCAST",
    "INADDR_LOOPBACK",
    "IPPROTO_ICMP",
    "IPPROTO_IP",
    "IPPROTO_TCP",
    "IPPROTO_UDP",
    "IP_BIND_ADDRESS_NO_PORT",
    "IP_FREEBIND",
    "IP_MTU",
    "IP_MTU_DISCOVER",
    "IP_MULTICAST_LOOP",
    "IP_MULTICAST_TTL",
    "IP_PKTINFO",
    "IP_PMTUDISC_DO",
    "IP_PMTUDISC_DONT",
    "IP_PMTUDISC_PROBE",
    "IP_PMTUDISC_WANT",
    "IP_RECVERR",
    "IP_TOS",
    "IP_TTL",
    "MSG_DONTROUTE",
    "MSG_DONTWAIT",
    "MSG_ERRQUEUE",
    "MSG_OOB",
    "MSG_PEEK",
    "MSG_TRUNC",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_CLOEXEC",
    "SOCK_DGRAM",
    "SOCK_NONBLOCK",
    "SOCK_RAW",
    "SOCK_STREAM",
    "SOL_IP",
    "SOL_SOCKET",
    "SOL_UDP",
    "SO_BINDTODEVICE",
    "SO_BROADCAST",
    "SO_DOMAIN",
    "SO_DONTROUTE",
    "SO_ERROR",
    "SO_KEEPALIVE",
    "SO_MARK",
    "SO_NO_CHECK",
    "SO_PRIORITY",
    "SO_PROTOCOL",
    "SO_RCVBUF",
    "SO_RCVBUFFORCE",
    "SO_RCVLOWAT",
    "SO_RCVTIMEO",
    "SO_REUSEADDR",
    "SO_REUSEPORT",
    "SO_SNDBUF",
    "SO_SNDBUFFORCE",
    "SO_SNDTIMEO",
    "SO_TYPE",
    "SimulationStalled",
    "error",
    "gaierror",
    "getdefaulttimeout",
    "setdefaulttimeout",
    "socket",
    "timeout",
]
