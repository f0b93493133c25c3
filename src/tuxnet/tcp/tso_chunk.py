"""TSO chunks over tuxnet's MSS-sized write queue: where Linux's GSO packets begin and
end, and the PSH Linux forces on each of them.

tuxnet queues one skb per MSS; Linux queues skbs of up to ``size_goal`` bytes
(tcp_xmit_size_goal; gso_size_goal here: the GSO maximum bounded to half the
peer's largest window) and tcp_write_xmit sends each as chunks of at most
``tcp_tso_segs()`` segments
(tcp_tso_autosize: about 1 ms of the pacing rate, at least tcp_min_tso_segs), cut where
cwnd, the receive window or Nagle stop. __tcp_transmit_skb then forces PSH on every
packet of more than one segment ("Force a PSH flag on all (GSO) packets to expedite
GRO flush at receiver"), and GSO leaves it on the chunk's last segment. On the wire that
is: the last segment of each multi-segment chunk carries PSH; single-segment sends
(limited transmit, PRR's one-at-a-time) do not. This module finds those chunk ends for
tcp_write_xmit and the size_goal push cadence for tcp_sendmsg.

Sent chunks stay skbs of their own in Linux's retransmit queue (tso_fragment split them
off), cut further by SACK tagging (tcp_match_skb_to_sack), by retransmission
(__tcp_retransmit_skb fragments to ``segs`` MSS) and by loss probes; a retransmission
resends one such skb as one GSO packet, with the same forced PSH. tuxnet keeps a mark,
``tso_end``, on the last MSS skb of each of those Linux skbs, and :func:`tcp_rtx_chunk`
gathers the MSS skbs one Linux retransmission sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.defs import (
    TCPCB_LOST,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_PSH,
)
from tuxnet.tcp.mss import tcp_bound_to_half_wnd
from tuxnet.tcp.pacing import tcp_tso_segs
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSkbCb, TcpSock

__all__ = ["TsoChunk", "gso_size_goal", "tcp_resegment_head", "tcp_rtx_chunk"]

_STATE = TCPCB_LOST | TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS
GSO_MAX_SIZE = 65536  # GSO_LEGACY_MAX_SIZE, sk_gso_max_size of a TSO device
MAX_TCP_HEADER = 320  # L1_CACHE_ALIGN(128 + MAX_HEADER) on x86_64


def gso_size_goal(sk: TcpSock, mss_now: int) -> int:
    """tcp_xmit_size_goal() on a GSO-capable route: the bytes one Linux write-queue skb
    collects before sendmsg pushes (a whole number of MSS, at least one)."""
    new_size_goal = tcp_bound_to_half_wnd(sk, GSO_MAX_SIZE - 1 - MAX_TCP_HEADER)
    segs = min(new_size_goal // mss_now, 0xFFFF)
    return max(segs * mss_now, mss_now)


class TsoChunk:
    """The chunk tcp_write_xmit is building in one call: its segment count and limit."""

    __slots__ = ("limit", "max_segs", "segs", "sk")

    def __init__(self, sk: TcpSock, mss_now: int) -> None:
        self.sk = sk
        self.max_segs = tcp_tso_segs(sk, mss_now)
        self.segs = 0
        self.limit = self.max_segs

    def add(self, skb: SkBuff, ends: bool) -> tuple[bool, bool]:
        """``skb`` joins the chunk, which ends with it when ``ends`` (cwnd, the window,
        Nagle or the queue stop after it), at the chunk limit or at a PSH- or EOR-marked
        end of a Linux skb. Returns (chunk ended, force PSH on this transmission): a chunk of
        several segments gets PSH on its last one. The PSH goes on the sent copy only
        (__tcp_transmit_skb sets it in the clone's cb), not on the queued skb."""
        cb: TcpSkbCb = skb.cb
        if not self.segs:
            # tcp_cwnd_test(): a packet takes at most half the cwnd ("at least 2 GSO
            # packets in flight") and what cwnd leaves; tcp_tso_segs() bounds it too
            sk = self.sk
            quota = min(max(sk.snd_cwnd >> 1, 1), sk.snd_cwnd - sk.tcp_packets_in_flight())
            self.limit = min(self.max_segs, max(quota, 1))
        self.segs += cb.pcount
        if not (ends or cb.tcp_flags & TCPHDR_PSH or cb.eor or self.segs >= self.limit):
            return False, False
        force = self.segs > 1
        self.segs = 0
        return True, force


def tcp_rtx_chunk(sk: TcpSock, skb: SkBuff, max_len: int,
                  split: Callable[[SkBuff], object] | None = None) -> list[SkBuff]:
    """The MSS skbs __tcp_retransmit_skb sends as one packet when it resends the Linux
    skb that ``skb`` starts: up to that skb's end (``tso_end``) and at most ``max_len``
    bytes (``segs`` MSS within the window); all share the scoreboard state (SACK
    tagging splits a Linux skb where it changes). The skb before ``skb`` becomes a
    Linux skb end (tcp_fragment), and so does the chunk's last one. ``split`` cuts a
    member that outgrew the current MSS (Linux re-counts it as more GSO segments,
    tcp_set_skb_tso_segs); both parts stay in the chunk."""
    rtx = sk.tcp_rtx_queue
    i = rtx.index(skb)
    if i:
        tcp_cb(rtx[i - 1]).tso_end = True
    cb = tcp_cb(skb)
    state = cb.sacked & _STATE
    chunk: list[SkBuff] = []
    total = 0
    end = cb.seq
    while True:
        nxt = rtx[i]
        ncb = tcp_cb(nxt)
        if chunk and (ncb.seq != end or ncb.sacked & _STATE != state
                      or total + nxt.len > max_len):
            break
        if split is not None:
            last = ncb.tso_end
            if split(nxt):
                ncb.tso_end = False  # the same Linux skb goes on
                tcp_cb(rtx[i + 1]).tso_end = last
        chunk.append(nxt)
        total += nxt.len
        end = ncb.end_seq
        cb = ncb
        i += 1
        if cb.tso_end or i == len(rtx):
            break
    cb.tso_end = True
    return chunk


def tcp_resegment_head(sk: TcpSock, mss: int) -> None:
    """Cut the Linux skb at the head of the write queue (up to its PSH, FIN or EOR end)
    into ``mss``-sized skbs from its first byte: Linux re-counts a queued skb's segments
    at the current MSS when it sends it (tcp_init_tso_segs, tcp_set_skb_tso_segs), so a
    larger MSS (PMTU probing) or a trimmed front (an MTU probe took it) regroups the
    bytes; tuxnet's queue holds them as one skb per (old) MSS."""
    from tuxnet.tcp.output import tcp_stream_alloc_skb

    wq = sk.sk_write_queue
    n = 0
    while n < len(wq):
        if wq[n].data_len:
            return  # page fragments (zerocopy, sendfile): Linux-sized skbs already
        cb = tcp_cb(wq[n])
        n += 1
        if cb.tcp_flags & (TCPHDR_PSH | TCPHDR_FIN) or cb.eor:
            break
    run = [wq.popleft() for _ in range(n)]
    first = tcp_cb(run[0])
    last = tcp_cb(run[-1])
    data = b"".join(bytes(s.data) for s in run)
    truesize = sum(s.truesize for s in run)
    for s in run:
        s.free()
    pieces: list[SkBuff] = []
    for off in range(0, len(data), mss) if data else (0,):
        chunk = data[off:off + mss]
        skb = tcp_stream_alloc_skb(sk, len(chunk))
        skb.header_release()
        skb.put_data(chunk)
        skb.truesize = len(chunk)
        cb = tcp_cb(skb)
        cb.seq = (first.seq + off) & 0xFFFFFFFF
        cb.end_seq = (cb.seq + len(chunk)) & 0xFFFFFFFF
        cb.tcp_flags = TCPHDR_ACK
        pieces.append(skb)
    end = pieces[-1]
    ecb = tcp_cb(end)
    ecb.tcp_flags = last.tcp_flags
    ecb.eor = last.eor
    ecb.end_seq = last.end_seq  # a FIN's sequence number stays on the last piece
    end.truesize += truesize - len(data)  # the Linux skb's head charge (sk_wmem_queued)
    for skb in reversed(pieces):
        wq.appendleft(skb)
