"""Where a connection's sending time goes (tcp_output.c: tcp_chrono_start/stop/set),
reported by TCP_INFO as tcpi_busy_time, tcpi_rwnd_limited and tcpi_sndbuf_limited.

One chronograph runs at a time; its type is the highest-priority reason the sender is
busy: TCP_CHRONO_BUSY (data queued or in flight), then RWND_LIMITED (the peer's window
stops tcp_write_xmit), then SNDBUF_LIMITED. Times are kept in jiffies, as Linux does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.defs import USEC_PER_JIFFY

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["TCP_CHRONO_BUSY", "TCP_CHRONO_RWND_LIMITED", "TCP_CHRONO_SNDBUF_LIMITED",
           "TCP_CHRONO_UNSPEC", "tcp_chrono_start", "tcp_chrono_stats", "tcp_chrono_stop"]

# include/linux/tcp.h: enum tcp_chrono
TCP_CHRONO_UNSPEC = 0
TCP_CHRONO_BUSY = 1
TCP_CHRONO_RWND_LIMITED = 2
TCP_CHRONO_SNDBUF_LIMITED = 3


def _chrono_set(sk: TcpSock, new: int) -> None:
    """tcp_chrono_set(): close the running interval, start one of type ``new``."""
    now = sk.jiffies()
    old = sk.chrono_type
    if old > TCP_CHRONO_UNSPEC:
        sk.chrono_stat[old - 1] += now - sk.chrono_start
    sk.chrono_start = now
    sk.chrono_type = new


def tcp_chrono_start(sk: TcpSock, kind: int) -> None:
    """tcp_chrono_start(): a higher-priority reason takes over the running one."""
    if kind > sk.chrono_type:
        _chrono_set(sk, kind)


def tcp_chrono_stop(sk: TcpSock, kind: int) -> None:
    """tcp_chrono_stop(): idle when nothing is queued or in flight, else back to BUSY
    when ``kind`` was the running reason."""
    if not sk.sk_write_queue and not sk.tcp_rtx_queue:
        _chrono_set(sk, TCP_CHRONO_UNSPEC)
    elif kind == sk.chrono_type:
        _chrono_set(sk, TCP_CHRONO_BUSY)


def tcp_chrono_stats(sk: TcpSock) -> tuple[int, int, int]:
    """tcp_get_info_chrono_stats(): (busy_time, rwnd_limited, sndbuf_limited) in µs;
    busy_time is the sum of all three, the running interval included."""
    stats = [0, 0, 0]
    now = sk.jiffies()
    for kind in (TCP_CHRONO_BUSY, TCP_CHRONO_RWND_LIMITED, TCP_CHRONO_SNDBUF_LIMITED):
        v = sk.chrono_stat[kind - 1]
        if kind == sk.chrono_type:
            v += now - sk.chrono_start
        stats[kind - 1] = v * USEC_PER_JIFFY
    return sum(stats), stats[1], stats[2]
