"""Receive-buffer autotuning (net/ipv4/tcp_input.c, Linux 6.18: tcp_rcv_rtt_update,
tcp_rcv_rtt_measure, tcp_rcv_rtt_measure_ts, tcp_rcvbuf_grow, tcp_rcv_space_adjust,
tcp_clamp_window, tcp_prune_queue, tcp_try_rmem_schedule, the scaling_ratio measurement
of tcp_measure_rcv_mss; net/ipv4/tcp.c: tcp_set_window_clamp).

Dynamic Right-Sizing (Wu Feng and Mike Fisk, LANL): the receiver estimates the RTT on
its own (from TSecr of full-sized segments, or without timestamps from the time a
window's worth of data takes to arrive) and, once per such RTT, measures how many bytes
the application read. When that grew, ``sk_rcvbuf`` becomes the memory for twice those
bytes plus twice their growth (the sender doubles its rate in slow start while the
measurement is an RTT old), at most ``tcp_rmem[2]``, and
``window_clamp`` follows; the advertised window then opens by ``tcp_grow_window``
steps. None of it happens with ``net.ipv4.tcp_moderate_rcvbuf = 0`` or once the
application set SO_RCVBUF (SOCK_RCVBUF_LOCK).

Memory turns into window through ``scaling_ratio`` (Linux 6.7+): the payload / truesize
ratio of received full-sized segments in 1/256 units, re-measured whenever the peer's
segment size changes (tcp_adv_win_scale is no longer used by the kernel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.defs import TCP_RMEM_TO_WIN_SCALE
from tuxnet.tcp.mss import tcp_win_from_space
from tuxnet.tcp.seq import before

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = [
    "tcp_clamp_window",
    "tcp_prune_queue",
    "tcp_rcv_rtt_measure",
    "tcp_rcv_rtt_measure_ts",
    "tcp_rcv_rtt_update",
    "tcp_rcv_space_adjust",
    "tcp_rcvbuf_grow",
    "tcp_scaling_ratio_update",
    "tcp_set_window_clamp",
    "tcp_space_from_win",
]

_M32 = 0xFFFFFFFF
SOCK_RCVBUF_LOCK = 2  # include/net/sock.h: sk_userlocks
SOCK_MIN_RCVBUF = 2304  # include/net/sock.h: 2048 + sizeof(struct sk_buff) rounded
USEC_PER_TS_TICK = 1000  # USEC_PER_SEC / TCP_TS_HZ (the 1 kHz TS clock)


def tcp_space_from_win(sk: TcpSock, win: int) -> int:
    """tcp_space_from_win(): the receive memory a window of ``win`` bytes needs."""
    return (win << TCP_RMEM_TO_WIN_SCALE) // sk.scaling_ratio


# -- the receiver's RTT estimate --------------------------------------------------------

def tcp_rcv_rtt_update(sk: TcpSock, sample: int, win_dep: bool) -> None:
    """tcp_rcv_rtt_update() (6.16+): rcv_rtt_est.rtt_us (8 x µs) latches any smaller
    sample; a larger one is smoothed in (1/8) only when it came from a timestamp and
    nothing waits in the receive queue (a slow reader must not inflate it)."""
    old = sk.rcv_rtt_est_rtt_us
    m = sample << 3
    if old == 0 or m < old:
        new = m
    else:
        if win_dep:
            return
        if sk.rcv_nxt != sk.copied_seq:
            return
        new = old - (old >> 3) + sample
    sk.rcv_rtt_est_rtt_us = new


def tcp_rcv_rtt_measure(sk: TcpSock) -> None:
    """tcp_rcv_rtt_measure(): without timestamps, one sample per window: the time from
    announcing rcv_nxt + rcv_wnd until data reaches it."""
    if sk.rcv_rtt_est_time:
        if before(sk.rcv_nxt, sk.rcv_rtt_est_seq):
            return
        delta = sk.tcp_mstamp - sk.rcv_rtt_est_time
        tcp_rcv_rtt_update(sk, delta if delta > 0 else 1, True)
    sk.rcv_rtt_est_seq = (sk.rcv_nxt + sk.rcv_wnd) & _M32
    sk.rcv_rtt_est_time = sk.tcp_mstamp


def tcp_rcv_rtt_measure_ts(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_rcv_rtt_measure_ts(): an RTT sample from the TSecr of a new full-sized
    segment (tcp_rtt_tsopt_us with min_delta 0: zero samples are ignored, 6.16+)."""
    rx = sk.rx_opt
    if rx.rcv_tsecr == sk.rcv_rtt_last_tsecr:
        return
    sk.rcv_rtt_last_tsecr = rx.rcv_tsecr
    from tuxnet.tcp.sock import tcp_cb

    cb = tcp_cb(skb)
    if ((cb.end_seq - cb.seq) & _M32) >= sk.icsk_ack.rcv_mss:
        delta = (sk.tcp_time_stamp_ts() - rx.rcv_tsecr) & _M32
        if 0 < delta < 0x7FFFFFFF // USEC_PER_TS_TICK:
            tcp_rcv_rtt_update(sk, delta * USEC_PER_TS_TICK, False)


# -- growing the buffer ---------------------------------------------------------------

def tcp_rcvbuf_grow(sk: TcpSock, newval: int) -> None:
    """tcp_rcvbuf_grow(sk, newval) (6.18: "tcp: fix too slow tcp_rcvbuf_grow() action"):
    rcvq_space.space becomes ``newval`` (the bytes read in the last RTT); the window is
    twice that (DRS is always one RTT late) plus twice the growth since the previous
    RTT scaled to it (a slow-start sender doubles its rate again meanwhile), plus what
    waits beyond a hole; at most tcp_rmem[2]; window_clamp follows. (6.16/6.17 gave
    only 2 x newval, which held a slow-start sender to ~1.4x per RTT.)"""
    oldval = sk.rcvq_space_space
    sk.rcvq_space_space = newval
    if not sk.net.sysctl("tcp_moderate_rcvbuf") or sk.sk_userlocks & SOCK_RCVBUF_LOCK:
        return
    rcvwin = newval << 1
    if oldval > 0:  # tcp_init_buffer_space made it at least one segment
        rcvwin += (rcvwin * (newval - oldval) // oldval) << 1
    ofo = sk.out_of_order_queue
    if ofo:
        from tuxnet.tcp.sock import tcp_cb

        rcvwin += (tcp_cb(ofo[-1]).end_seq - sk.rcv_nxt) & _M32
    cap = sk.net.sysctl_vec("tcp_rmem")[2]
    rcvbuf = min(tcp_space_from_win(sk, rcvwin), cap)
    if rcvbuf > sk.sk_rcvbuf:
        sk.sk_rcvbuf = rcvbuf
        sk.window_clamp = tcp_win_from_space(sk, rcvbuf)


def tcp_rcv_space_adjust(sk: TcpSock) -> None:
    """tcp_rcv_space_adjust() (6.16+): called as the reader copies data; once per
    receiver RTT, bytes read in that RTT less what still waits in the queue become
    rcvq_space.space when they grew, and the buffer grows for them."""
    tp = sk.net.tp_rcv_space_adjust
    if tp.active:
        from tuxnet.wire.addr import int_to_ip

        tp.emit(skaddr=id(sk), sport=sk.inet_sport, dport=sk.inet_dport, family="AF_INET",
                saddr=int_to_ip(sk.inet_saddr), daddr=int_to_ip(sk.inet_daddr),
                sock_cookie=sk.ino)
    sk.tcp_mstamp_refresh()
    rtt8 = sk.rcv_rtt_est_rtt_us
    elapsed = sk.tcp_mstamp - sk.rcvq_space_time
    if rtt8 == 0 or elapsed < (rtt8 >> 3):
        return
    copied = (sk.copied_seq - sk.rcvq_space_seq) & _M32
    inq = (sk.rcv_nxt - sk.copied_seq) & _M32
    copied -= inq
    if copied > sk.rcvq_space_space:
        tcp_rcvbuf_grow(sk, copied)
    sk.rcvq_space_seq = sk.copied_seq
    sk.rcvq_space_time = sk.tcp_mstamp


# -- window clamp and scaling ratio ------------------------------------------------------

def tcp_set_window_clamp(sk: TcpSock, val: int) -> None:
    """tcp_set_window_clamp() for a non-zero value: at least SOCK_MIN_RCVBUF / 2;
    shrinking also lowers rcv_ssthresh (__tcp_adjust_rcv_ssthresh, no reserved
    memory), growing lets rcv_ssthresh reach rcv_wnd."""
    old = sk.window_clamp
    sk.window_clamp = max(val, SOCK_MIN_RCVBUF // 2)
    if sk.window_clamp < old:
        sk.rcv_ssthresh = min(sk.rcv_ssthresh, sk.window_clamp)
    else:
        sk.rcv_ssthresh = max(min(sk.rcv_wnd, sk.window_clamp), sk.rcv_ssthresh)


def tcp_scaling_ratio_update(sk: TcpSock, skb: SkBuff) -> None:
    """The scaling_ratio part of tcp_measure_rcv_mss() (6.7+), run when a segment of a
    new full size arrives: payload / truesize in 1/256 units; a changed ratio moves
    window_clamp to the window the whole buffer is now worth."""
    ratio = (skb.len << TCP_RMEM_TO_WIN_SCALE) // skb.truesize if skb.truesize else 0
    ratio = min(max(ratio, 1), 255)  # a u8 (a payload never exceeds its truesize)
    if ratio == sk.scaling_ratio:
        return
    sk.scaling_ratio = ratio
    tcp_set_window_clamp(sk, tcp_win_from_space(sk, sk.sk_rcvbuf))
    if sk.window_clamp < sk.rcvq_space_space:
        sk.rcvq_space_space = sk.window_clamp


# -- memory pressure on the receive queue --------------------------------------------------

def tcp_clamp_window(sk: TcpSock) -> None:
    """tcp_clamp_window(): the socket hit its buffer limit; with autotuning allowed the
    buffer grows to what is allocated (up to tcp_rmem[2]), else the window offered
    falls back to two segments."""
    sk.icsk_ack.quick = 0
    rmem2 = sk.net.sysctl_vec("tcp_rmem")[2]
    if sk.sk_rcvbuf < rmem2 and not sk.sk_userlocks & SOCK_RCVBUF_LOCK:
        sk.sk_rcvbuf = min(sk.sk_rmem_alloc, rmem2)
    if sk.sk_rmem_alloc > sk.sk_rcvbuf:
        sk.rcv_ssthresh = min(sk.window_clamp, 2 * sk.advmss)


def tcp_prune_queue(sk: TcpSock, skb: SkBuff) -> int:
    """tcp_prune_queue() (PruneCalled): clamp the window, then drop out-of-order data;
    -1 (RcvPruned) when even that leaves no room. Collapsing skbs (tcp_collapse) is
    not modelled: tuxnet's skbs carry no slack to reclaim."""
    from tuxnet.tcp.rcv_queue import tcp_prune_ofo_queue

    tcpext = sk.host.mib.tcpext
    tcpext.PruneCalled += 1
    if sk.sk_rmem_alloc >= sk.sk_rcvbuf:
        tcp_clamp_window(sk)
    if sk.sk_rmem_alloc <= sk.sk_rcvbuf:
        return 0
    tcp_prune_ofo_queue(sk)
    if sk.sk_rmem_alloc <= sk.sk_rcvbuf:
        return 0
    tcpext.RcvPruned += 1
    sk.pred_flags = 0
    return -1
