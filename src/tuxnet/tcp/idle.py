"""Slow start after idle (RFC 2861 / RFC 7661 in spirit, net.ipv4.tcp_slow_start_after_idle):
a sender idle for longer than an RTO restarts from the restart window
(include/net/tcp.h: tcp_slow_start_after_idle_check; tcp_output.c: tcp_cwnd_restart)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.cong import tcp_ca_event
from tuxnet.tcp.defs import CA_EVENT_CWND_RESTART, TCP_INIT_CWND

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_current_ssthresh", "tcp_cwnd_restart", "tcp_slow_start_after_idle_check"]


def tcp_current_ssthresh(sk: TcpSock) -> int:
    """tcp_current_ssthresh(): the ssthresh to remember before cutting cwnd."""
    if sk.tcp_in_cwnd_reduction():
        return sk.snd_ssthresh
    cwnd = sk.snd_cwnd
    return max(sk.snd_ssthresh, (cwnd >> 1) + (cwnd >> 2))


def tcp_cwnd_restart(sk: TcpSock, delta: int) -> None:
    """tcp_cwnd_restart(): halve cwnd for each RTO of idleness, down to the restart
    window (the route's initcwnd, else 10, and never above cwnd)."""
    dst = sk.dst
    restart_cwnd = dst.initcwnd if dst is not None and dst.initcwnd else TCP_INIT_CWND
    cwnd = sk.snd_cwnd
    tcp_ca_event(sk, CA_EVENT_CWND_RESTART)
    sk.snd_ssthresh = tcp_current_ssthresh(sk)
    restart_cwnd = min(restart_cwnd, cwnd)
    delta -= sk.icsk_rto
    while delta > 0 and cwnd > restart_cwnd:
        cwnd >>= 1
        delta -= sk.icsk_rto
    sk.snd_cwnd = max(cwnd, restart_cwnd)
    sk.snd_cwnd_stamp = sk.jiffies()
    sk.snd_cwnd_used = 0


def tcp_slow_start_after_idle_check(sk: TcpSock) -> None:
    """tcp_slow_start_after_idle_check(): nothing in flight and idle for more than an
    RTO since the last data sent: restart the window (not for cong_control algorithms)."""
    ops = sk.icsk_ca_ops
    if (not sk.net.sysctl("tcp_slow_start_after_idle") or sk.packets_out
            or (ops is not None and ops.HAS_CONG_CONTROL)):
        return
    delta = sk.jiffies() - sk.lsndtime
    if delta > sk.icsk_rto:
        tcp_cwnd_restart(sk, delta)
