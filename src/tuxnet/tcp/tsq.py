"""TCP Small Queues (net/ipv4/tcp_output.c: tcp_small_queue_check, tcp_wfree,
tcp_tsq_workfn, tcp_tsq_handler, tcp_tsq_write, tcp_rtx_queue_empty_or_single_skb;
net/ipv4/tcp.c: tcp_should_autocork and the autocorking part of tcp_push;
net/ipv4/tcp_offload.c: tcp_gso_segment's copy_destructor).

Every skb __tcp_transmit_skb hands to IP is owned by its socket: ``sk_wmem_alloc`` is
charged its truesize and the destructor ``tcp_wfree`` uncharges it when the skb is
freed below TCP (the driver's TX completion, napi_consume_skb; skb_orphan in veth and
loopback; a qdisc drop). Pure ACKs are charged 2 bytes with __sock_wfree instead
(skb_set_tcp_pure_ack: they must not throttle data). So ``sk_wmem_alloc`` minus its
base reference is what the socket has in the qdisc and the device.

tcp_write_xmit stops (TSQ_THROTTLED) while that exceeds the limit: the larger of two
packets (2 * truesize of the skb about to go) and ~1 ms at the pacing rate
(``sk_pacing_rate >> sk_pacing_shift``), at most ``net.ipv4.tcp_limit_output_bytes``
(4 MiB since Linux 6.16, which also applies it to paced flows again: c4221a8cc3a7
"tcp: always use tcp_limit_output_bytes limitation"); doubled for retransmissions.
It never stops while the retransmit queue is empty or holds a single skb: nothing, or
only that skb, could call it back. When a throttled socket's skb is freed, tcp_wfree
swaps TSQ_THROTTLED for TSQ_QUEUED and queues the socket on the (per-CPU) TSQ BH work;
the work clears TSQ_QUEUED and writes again (tcp_tsq_write: the lost segments first,
then new data).

Autocorking (``net.ipv4.tcp_autocorking``, TcpExt TCPAutoCorking): tcp_push leaves a
not yet full tail skb queued while an earlier skb of the socket still sits in the
qdisc or device; that skb's TX completion pushes it, bigger.

tuxnet specifics: the BH work is one ``loop.call_soon`` per queued socket (in queueing
order); tuxnet has no socket lock, so softirq work never finds the socket owned by a
system call and TCP_TSQ_DEFERRED (tcp_release_cb) never happens.
Without TSO the write queue holds one skb per MSS (tcp/tso_chunk.py): the check is made
where Linux sends one skb, at the start of each TSO chunk, with that chunk's truesize
(its payload plus one skb head); a Linux skb in the queues is a run of MSS skbs ending
at a ``tso_end`` (retransmit queue) or head-charge (write queue) mark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.core.cpu import CLS_TASK, current_cpu
from tuxnet.tcp.defs import (
    TCPF_CLOSE_WAIT,
    TCPF_CLOSING,
    TCPF_ESTABLISHED,
    TCPF_FIN_WAIT1,
    TCPF_LAST_ACK,
    TCPHDR_ACK,
    TCPHDR_CWR,
    TCPHDR_ECE,
    TCPHDR_FIN,
    TCPHDR_PSH,
)
from tuxnet.tcp.rate import _SKB_TRUESIZE_1
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["TCP_TSQ_DEFERRED", "TSQF_QUEUED", "TSQF_THROTTLED", "TSQ_QUEUED",
           "TSQ_THROTTLED", "tcp_autocork_push", "tcp_gso_copy_destructor",
           "tcp_rtx_queue_empty_or_single_skb", "tcp_skb_set_owner", "tcp_small_queue_check",
           "tcp_tsq_handler", "tcp_tsq_write", "tcp_wfree", "tcp_write_chunk_truesize"]

# enum tsq_enum / tsq_flags (include/linux/tcp.h): bits of sk->sk_tsq_flags
TSQ_THROTTLED = 0
TSQ_QUEUED = 1
TCP_TSQ_DEFERRED = 2
TSQF_THROTTLED = 1 << TSQ_THROTTLED
TSQF_QUEUED = 1 << TSQ_QUEUED
_PURE_ACK_TRUESIZE = 2  # skb_set_tcp_pure_ack(): truesize 2
_TSQ_STATES = TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_CLOSING | TCPF_CLOSE_WAIT | TCPF_LAST_ACK


# -- ownership: __tcp_transmit_skb, tcp_wfree -------------------------------------------

def tcp_skb_set_owner(sk: TcpSock, skb: SkBuff, clone_it: bool, payload: int) -> None:
    """__tcp_transmit_skb(): skb_orphan, then ``skb->sk = sk``; a pure ACK (a control
    skb with no payload and only ACK/ECE/CWR, what tcp_send_ack sends) gets
    __sock_wfree and 2 bytes of sk_wmem_alloc, anything else tcp_wfree and its truesize."""
    if skb.destructor is not None:
        skb.orphan()
    skb.sk = sk
    if (not clone_it and not payload
            and not tcp_cb(skb).tcp_flags & ~(TCPHDR_ACK | TCPHDR_ECE | TCPHDR_CWR)):
        skb.destructor = _sock_wfree_pure_ack
        sk.sk_wmem_alloc += _PURE_ACK_TRUESIZE
        return
    skb.destructor = tcp_wfree
    sk.sk_wmem_alloc += skb.truesize


def _sock_wfree_pure_ack(skb: SkBuff) -> None:
    """__sock_wfree() of a pure ACK: give back its 2 bytes."""
    sk: TcpSock = skb.sk
    sk.sk_wmem_alloc -= _PURE_ACK_TRUESIZE


def tcp_wfree(skb: SkBuff) -> None:
    """tcp_wfree(): the destructor of a transmitted skb (TX completion, orphan or drop):
    uncharge sk_wmem_alloc; a throttled socket not yet queued becomes TSQ_QUEUED and
    goes on the TSQ BH work, which writes again; in ksoftirqd only once the socket's
    skbs below TCP have all completed."""
    sk: TcpSock = skb.sk
    sk.sk_wmem_alloc -= skb.truesize
    if sk.sk_wmem_alloc + 1 >= _SKB_TRUESIZE_1 and _in_ksoftirqd():  # +1: this skb's ref
        # softirq work deferred to ksoftirqd means stress: wait until the qdisc and
        # device have drained (fewer, bigger tcp_write_xmit batches)
        return
    flags = sk.sk_tsq_flags
    if not flags & TSQF_THROTTLED or flags & TSQF_QUEUED:
        return
    sk.sk_tsq_flags = (flags & ~TSQF_THROTTLED) | TSQF_QUEUED
    sk.host.loop.call_soon(tcp_tsq_handler, sk)  # queue_work(system_bh_wq, &tsq->work)


def _in_ksoftirqd() -> bool:
    """this_cpu_ksoftirqd() == current: the completion runs in ksoftirqd."""
    cpu = current_cpu()
    return cpu is not None and cpu.current is cpu.ksoftirqd and cpu.current is not None \
        and cpu._ctx == CLS_TASK


def tcp_tsq_handler(sk: TcpSock) -> None:
    """tcp_tsq_workfn() for one socket: clear TSQ_QUEUED, then tcp_tsq_handler() ->
    tcp_tsq_write() (the socket is never owned by a system call here)."""
    sk.sk_tsq_flags &= ~TSQF_QUEUED
    tcp_tsq_write(sk)


def tcp_tsq_write(sk: TcpSock) -> None:
    """tcp_tsq_write(): in a sending state, retransmit what is marked lost while cwnd
    has room, then send new data."""
    if not (1 << sk.sk_state) & _TSQ_STATES:
        return
    from tuxnet.tcp.mss import tcp_current_mss
    from tuxnet.tcp.output import tcp_write_xmit
    from tuxnet.tcp.retrans import tcp_xmit_retransmit_queue

    if sk.lost_out > sk.retrans_out and sk.snd_cwnd > sk.tcp_packets_in_flight():
        sk.tcp_mstamp_refresh()
        tcp_xmit_retransmit_queue(sk)
    tcp_write_xmit(sk, tcp_current_mss(sk), sk.nonagle, 0)


def tcp_gso_copy_destructor(gso_skb: SkBuff, segs: Sequence[SkBuff]) -> None:
    """tcp_gso_segment(): segments of a gso skb owned through tcp_wfree take over the
    ownership (each segment tcp_wfree, sk_wmem_alloc adjusted to their truesize), so
    TSQ hears of the last segment's TX completion, not of the segmentation."""
    if gso_skb.destructor is not tcp_wfree or not segs or segs[0] is gso_skb:
        return
    sk: TcpSock = gso_skb.sk
    total = 0
    for seg in segs:
        seg.sk = sk
        seg.destructor = tcp_wfree
        total += seg.truesize
    gso_skb.destructor = None
    sk.sk_wmem_alloc += total - gso_skb.truesize


# -- tcp_small_queue_check ----------------------------------------------------------------

def tcp_rtx_queue_empty_or_single_skb(sk: TcpSock) -> bool:
    """tcp_rtx_queue_empty_or_single_skb(): no skb, or one (Linux) skb, in the retransmit
    queue; tuxnet's MSS skbs of one Linux skb end at a ``tso_end`` mark."""
    rtx = sk.tcp_rtx_queue
    last = len(rtx) - 1
    for i, skb in enumerate(rtx):
        if i == last:
            return True
        if tcp_cb(skb).tso_end:
            return False
    return True


def tcp_tsq_may_throttle(sk: TcpSock, factor: int) -> bool:
    """Whether tcp_small_queue_check could throttle whatever the skb's size: the
    socket has more below TCP than the size-independent part of the limit
    (min(pacing rate >> pacing shift, tcp_limit_output_bytes) << factor). Lets the
    transmit loops skip sizing a TSO chunk when the queues are short."""
    floor = min(sk.sk_pacing_rate >> sk.sk_pacing_shift,
                sk.net.sysctl("tcp_limit_output_bytes"))
    return sk.sk_wmem_alloc > floor << factor


def tcp_small_queue_check(sk: TcpSock, truesize: int, factor: int) -> bool:
    """tcp_small_queue_check(): True (and TSQ_THROTTLED set) when the socket already has
    more than the TSQ limit in the qdisc and device; ``truesize`` is the skb about to
    go, ``factor`` 1 for retransmissions (twice the limit)."""
    limit = max(2 * truesize, sk.sk_pacing_rate >> sk.sk_pacing_shift)
    limit = min(limit, sk.net.sysctl("tcp_limit_output_bytes"))
    limit <<= factor
    if sk.sk_wmem_alloc > limit:  # refcount_read(&sk->sk_wmem_alloc)
        if tcp_rtx_queue_empty_or_single_skb(sk):
            return False
        sk.sk_tsq_flags |= TSQF_THROTTLED
        return True
    return False


def tcp_write_chunk_truesize(skbs: Sequence[SkBuff], start: int, max_segs: int,
                             head_truesize: int, rtx: bool) -> int:
    """The truesize of the Linux skb tcp_write_xmit (``rtx`` False: the write queue from
    ``start``) or tcp_xmit_retransmit_queue (``rtx`` True) is about to send, from
    tuxnet's MSS skbs: the payload of up to ``max_segs`` of them, to the Linux skb's end
    (PSH, EOR or FIN in the write queue; ``tso_end`` in the retransmit queue), plus one
    skb head (tso_fragment leaves the head allocation on the part that goes)."""
    total = 0
    n = 0
    for i in range(start, len(skbs)):
        skb = skbs[i]
        cb = tcp_cb(skb)
        total += skb.len
        n += cb.pcount or 1
        if n >= max_segs:
            break
        if rtx:
            if cb.tso_end:
                break
        elif cb.tcp_flags & (TCPHDR_PSH | TCPHDR_FIN) or cb.eor:
            break
    return total + head_truesize


# -- autocorking ----------------------------------------------------------------------------

def tcp_autocork_push(sk: TcpSock, size_goal: int, head_truesize: int) -> bool:
    """tcp_should_autocork() and its use in tcp_push(): True when tcp_push must leave
    the tail (Linux) skb queued: it is shorter than ``size_goal``, autocorking is on,
    the retransmit queue is not empty, the socket's earlier skbs still occupy more than
    the tail's truesize below TCP (sk_wmem_alloc, the refcount), and the tail may take
    more data (no EOR). The first cork sets TSQ_THROTTLED and counts TCPAutoCorking; a
    TX completion then pushes it (tcp_wfree)."""
    wq = sk.sk_write_queue
    tail = wq[-1]
    if tcp_cb(tail).eor or not sk.net.sysctl("tcp_autocorking") or not sk.tcp_rtx_queue:
        return False
    length = tail.len
    truesize = tail.truesize
    i = len(wq) - 2
    while i >= 0 and wq[i].truesize <= wq[i].len:  # MSS skbs of the same Linux skb
        length += wq[i].len
        truesize += wq[i].truesize
        i -= 1
    if truesize <= length:
        truesize += head_truesize  # the head charge rides on the Linux skb's end
    if length >= size_goal or sk.sk_wmem_alloc <= truesize:
        return False
    if not sk.sk_tsq_flags & TSQF_THROTTLED:
        sk.host.mib.tcpext.TCPAutoCorking += 1
        sk.sk_tsq_flags |= TSQF_THROTTLED
    return sk.sk_wmem_alloc > truesize
