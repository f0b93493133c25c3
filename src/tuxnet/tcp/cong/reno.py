"""TCP Reno/NewReno congestion avoidance (net/ipv4/tcp_cong.c: tcp_reno_cong_avoid,
tcp_reno_ssthresh, tcp_reno_undo_cwnd, tcp_slow_start, tcp_cong_avoid_ai; RFC 5681).

Linux counts packets, not bytes: slow start adds one packet per packet ACKed (capped at
ssthresh, the rest carries into congestion avoidance), congestion avoidance adds one
packet per cwnd packets ACKed, the loss response halves cwnd (at least 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.cong import TcpCongestionOps

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["TCP_RENO", "TcpReno", "tcp_cong_avoid_ai", "tcp_slow_start"]


def tcp_slow_start(sk: TcpSock, acked: int) -> int:
    """tcp_slow_start(): cwnd += acked up to ssthresh; returns the leftover acked."""
    cwnd = min(sk.snd_cwnd + acked, sk.snd_ssthresh)
    acked -= cwnd - sk.snd_cwnd
    sk.snd_cwnd = min(cwnd, sk.snd_cwnd_clamp)
    return acked


def tcp_cong_avoid_ai(sk: TcpSock, w: int, acked: int) -> None:
    """tcp_cong_avoid_ai(): +1 packet for every ``w`` packets acked (RFC 5681 eq. 3)."""
    if sk.snd_cwnd_cnt >= w:
        sk.snd_cwnd_cnt = 0
        sk.snd_cwnd += 1
    sk.snd_cwnd_cnt += acked
    if sk.snd_cwnd_cnt >= w:
        delta = sk.snd_cwnd_cnt // w
        sk.snd_cwnd_cnt -= delta * w
        sk.snd_cwnd += delta
    sk.snd_cwnd = min(sk.snd_cwnd, sk.snd_cwnd_clamp)


class TcpReno(TcpCongestionOps):
    """tcp_reno: the built-in algorithm."""

    name = "reno"

    def ssthresh(self, sk: TcpSock) -> int:
        """tcp_reno_ssthresh(): max(cwnd / 2, 2) (RFC 5681 eq. 4 with cwnd)."""
        return max(sk.snd_cwnd >> 1, 2)

    def cong_avoid(self, sk: TcpSock, ack: int, acked: int) -> None:
        """tcp_reno_cong_avoid(): only when cwnd-limited; slow start, then AI."""
        if not sk.tcp_is_cwnd_limited():
            return
        if sk.tcp_in_slow_start():
            acked = tcp_slow_start(sk, acked)
            if not acked:
                return
        tcp_cong_avoid_ai(sk, sk.snd_cwnd, acked)

    def undo_cwnd(self, sk: TcpSock) -> int:
        """tcp_reno_undo_cwnd(): max(cwnd, prior_cwnd)."""
        return max(sk.snd_cwnd, sk.prior_cwnd)


TCP_RENO = TcpReno()
