"""The send-side chronographs (net/ipv4/tcp_output.c: tcp_chrono_start, tcp_chrono_stop,
tcp_chrono_set; tcp.c: tcp_get_info_chrono_stats): how long the connection had data in
flight or queued (busy), and how much of that it was held back by the peer's receive
window or by its own send buffer. TCP_INFO reports them as tcpi_busy_time,
tcpi_rwnd_limited and tcpi_sndbuf_limited (µs), ``ss -ti`` as ``busy:`` and
``rwnd_limited:``/``sndbuf_limited:``.

One chrono runs at a time: the highest-numbered condition wins (sndbuf-limited over
rwnd-limited over busy), and a stop falls back to busy while data remains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["TCP_CHRONO_BUSY", "TCP_CHRONO_RWND_LIMITED", "TCP_CHRONO_SNDBUF_LIMITED",
           "TCP_CHRONO_UNSPEC", "tcp_chrono_start", "tcp_chrono_stats", "tcp_chrono_stop"]

# enum tcp_chrono (include/linux/tcp.h)
TCP_CHRONO_UNSPEC = 0
TCP_CHRONO_BUSY = 1  # active data sending
TCP_CHRONO_RWND_LIMITED = 2  # stalled by the peer's receive window
TCP_CHRONO_SNDBUF_LIMITED = 3  # stalled by our send buffer
USEC_PER_JIFFY = 1000  # USEC_PER_SEC / HZ at HZ = 1000


def _chrono_set(sk: TcpSock, new: int) -> None:
    """tcp_chrono_set(): charge the running chrono, start ``new``."""
    now = sk.jiffies()
    old = sk.chrono_type
    if old > TCP_CHRONO_UNSPEC:
        sk.chrono_stat[old - 1] += now - sk.chrono_start
    sk.chrono_start = now
    sk.chrono_type = new


def tcp_chrono_start(sk: TcpSock, kind: int) -> None:
    """tcp_chrono_start(): a more interesting condition takes over."""
    if kind > sk.chrono_type:
        _chrono_set(sk, kind)


def tcp_chrono_stop(sk: TcpSock, kind: int) -> None:
    """tcp_chrono_stop(): nothing left to send stops all; the end of the running
    condition falls back to busy."""
    if not sk.sk_write_queue and not sk.tcp_rtx_queue:
        _chrono_set(sk, TCP_CHRONO_UNSPEC)
    elif kind == sk.chrono_type:
        _chrono_set(sk, TCP_CHRONO_BUSY)


def tcp_chrono_stats(sk: TcpSock) -> tuple[int, int, int]:
    """tcp_get_info_chrono_stats(): (busy total, rwnd-limited, sndbuf-limited) in µs,
    the running chrono included; the busy total covers all three."""
    now = sk.jiffies()
    stats = []
    for kind in (TCP_CHRONO_BUSY, TCP_CHRONO_RWND_LIMITED, TCP_CHRONO_SNDBUF_LIMITED):
        t = sk.chrono_stat[kind - 1]
        if kind == sk.chrono_type:
            t += now - sk.chrono_start
        stats.append(t * USEC_PER_JIFFY)
    return sum(stats), stats[1], stats[2]
