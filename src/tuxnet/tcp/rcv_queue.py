"""Queueing received data (net/ipv4/tcp_input.c: tcp_data_queue, tcp_data_queue_ofo,
tcp_ofo_queue, tcp_queue_rcv, tcp_fin, tcp_prune_ofo_queue, tcp_fast_path_check, and
the receiver's SACK and D-SACK blocks: tcp_sack_new_ofo_skb, tcp_sack_remove,
tcp_dsack_set, tcp_dsack_extend; RFC 2018, RFC 2883, RFC 9293 3.10.7.4).

The out-of-order queue is a list sorted by sequence (the kernel's rbtree); skbs are not
coalesced (TCPRcvCoalesce stays 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.tcp import control as _ctl
from tuxnet.tcp import input as _in
from tuxnet.tcp.defs import (
    ICSK_ACK_NOMEM,
    ICSK_ACK_NOW,
    ICSK_ACK_SCHED,
    RCV_SHUTDOWN,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_MAX_QUICKACKS,
    TCP_NUM_SACKS,
    TCP_SACK_BLOCKS_EXPECTED,
    TCP_SYN_RECV,
    TCP_TIME_WAIT,
    TCPHDR_FIN,
)
from tuxnet.tcp.ecn import tcp_data_ecn_check, tcp_ecn_accept_cwr
from tuxnet.tcp.mss import tcp_grow_window, tcp_measure_rcv_mss
from tuxnet.tcp.rcvbuf import tcp_prune_queue, tcp_rcvbuf_grow
from tuxnet.tcp.seq import after, before
from tuxnet.tcp.sock import tcp_cb, tcp_set_state

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_data_queue", "tcp_dsack_set", "tcp_fast_path_check", "tcp_fast_path_on",
           "tcp_fin", "tcp_queue_rcv", "tcp_sack_new_ofo_skb"]

_M32 = 0xFFFFFFFF


# -- receiver SACK blocks (RFC 2018, RFC 2883) ------------------------------------------

def tcp_dsack_set(sk: TcpSock, seq: int, end_seq: int) -> None:
    """tcp_dsack_set(): report a duplicate range in the next ACK (TCPDSACKOldSent below
    rcv_nxt, TCPDSACKOfoSent above)."""
    if sk.tcp_is_sack() and sk.net.sysctl("tcp_dsack"):
        tcpext = sk.host.mib.tcpext
        if before(seq, sk.rcv_nxt):
            tcpext.TCPDSACKOldSent += 1
        else:
            tcpext.TCPDSACKOfoSent += 1
        sk.rx_opt.dsack = True
        sk.duplicate_sack[0] = seq
        sk.duplicate_sack[1] = end_seq


def _sack_extend(sp: list[int], seq: int, end_seq: int) -> bool:
    """tcp_sack_extend(): merge [seq, end_seq) into the block if they touch."""
    if not after(seq, sp[1]) and not after(sp[0], end_seq):
        if before(seq, sp[0]):
            sp[0] = seq
        if after(end_seq, sp[1]):
            sp[1] = end_seq
        return True
    return False


def tcp_dsack_extend(sk: TcpSock, seq: int, end_seq: int) -> None:
    """tcp_dsack_extend()."""
    if not sk.rx_opt.dsack:
        tcp_dsack_set(sk, seq, end_seq)
    else:
        _sack_extend(sk.duplicate_sack, seq, end_seq)


def tcp_sack_new_ofo_skb(sk: TcpSock, seq: int, end_seq: int) -> None:
    """tcp_sack_new_ofo_skb(): the block holding the newest data goes first (RFC 2018 4)."""
    sacks = sk.selective_acks
    for i, sp in enumerate(sacks):
        if _sack_extend(sp, seq, end_seq):
            if i >= TCP_SACK_BLOCKS_EXPECTED:
                _ctl.tcp_sack_compress_send_ack(sk)
            sacks.insert(0, sacks.pop(i))
            _sack_maybe_coalesce(sacks)
            sk.rx_opt.num_sacks = len(sacks)
            return
    if len(sacks) >= TCP_SACK_BLOCKS_EXPECTED:
        _ctl.tcp_sack_compress_send_ack(sk)
    if len(sacks) >= TCP_NUM_SACKS:
        sacks.pop()
    sacks.insert(0, [seq, end_seq])
    sk.rx_opt.num_sacks = len(sacks)


def _sack_maybe_coalesce(sacks: list[list[int]]) -> None:
    """tcp_sack_maybe_coalesce(): merge other blocks into the first when they touch."""
    sp = sacks[0]
    i = 1
    while i < len(sacks):
        if _sack_extend(sp, sacks[i][0], sacks[i][1]):
            sacks.pop(i)
        else:
            i += 1


def tcp_sack_remove(sk: TcpSock) -> None:
    """tcp_sack_remove(): drop blocks rcv_nxt has swallowed."""
    if not sk.out_of_order_queue:
        sk.selective_acks.clear()
        sk.rx_opt.num_sacks = 0
        return
    sk.selective_acks = [sp for sp in sk.selective_acks if before(sk.rcv_nxt, sp[0])]
    sk.rx_opt.num_sacks = len(sk.selective_acks)


# -- queueing received data -------------------------------------------------------------

def _skb_set_owner_r(sk: TcpSock, skb: SkBuff) -> None:
    """skb_set_owner_r(): charge the receive buffer until the reader frees it."""
    skb.sk = sk
    sk.sk_rmem_alloc += skb.truesize


def tcp_rcv_nxt_update(sk: TcpSock, seq: int) -> None:
    """tcp_rcv_nxt_update(): advance rcv_nxt (bytes_received)."""
    sk.bytes_received += (seq - sk.rcv_nxt) & _M32
    sk.rcv_nxt = seq


def tcp_queue_rcv(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_queue_rcv(): in-order data to the receive queue."""
    sk.sk_receive_queue.append(skb)
    _skb_set_owner_r(sk, skb)
    tcp_rcv_nxt_update(sk, tcp_cb(skb).end_seq)


def tcp_fast_path_check(sk: TcpSock) -> None:
    """tcp_fast_path_check(): re-enable header prediction when nothing stands in the
    way (no out-of-order data, window open, buffer not full, no urgent data)."""
    if not sk.out_of_order_queue and sk.rcv_wnd and sk.sk_rmem_alloc < sk.sk_rcvbuf and \
            not sk.urg_data:
        tcp_fast_path_on(sk)


def tcp_fast_path_on(sk: TcpSock) -> None:
    """tcp_fast_path_on(): pred_flags = doff | ACK | the peer's unscaled window."""
    sk.pred_flags = ((sk.tcp_header_len << 26) | 0x00100000 |
                     ((sk.snd_wnd >> sk.rx_opt.snd_wscale) & 0xFFFF))


def _tcp_try_rmem_schedule(sk: TcpSock, skb: SkBuff) -> bool:
    """tcp_try_rmem_schedule() (6.16+): tcp_can_ingest (allocated memory plus the
    payload, not its truesize, within sk_rcvbuf), else tcp_prune_queue (which may grow
    the buffer through tcp_clamp_window, then drops out-of-order data). True when
    there is room."""
    if sk.sk_rmem_alloc + skb.len <= sk.sk_rcvbuf:
        return True
    return tcp_prune_queue(sk, skb) >= 0


def tcp_prune_ofo_queue(sk: TcpSock) -> bool:
    """tcp_prune_ofo_queue(): drop out-of-order data from the highest sequence down
    (OfoPruned; the SACK blocks are reset)."""
    ofo = sk.out_of_order_queue
    if not ofo:
        return False
    sk.host.mib.tcpext.OfoPruned += 1
    goal = sk.sk_rcvbuf >> 3
    while ofo:
        skb = ofo.pop()
        sk.sk_rmem_alloc -= skb.truesize
        goal -= skb.truesize
        _in.tcp_drop(sk, skb, R.TCP_OFO_QUEUE_PRUNE, "tcp_prune_ofo_queue")
        if goal <= 0 and sk.sk_rmem_alloc + 0 <= sk.sk_rcvbuf:
            break
    if sk.rx_opt.sack_ok:
        sk.selective_acks.clear()
        sk.rx_opt.num_sacks = 0
    return True


def tcp_data_queue(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_data_queue() (RFC 9293 3.10.7.4 seventh check): in-order data to the receive
    queue (then the out-of-order queue drains into it), duplicates answered with a
    D-SACK, out-of-window data dropped, the rest to the out-of-order queue."""
    cb = tcp_cb(skb)
    if cb.seq == cb.end_seq:
        _in._consume(sk, skb)
        return
    skb.pull(cb.hdr_len)
    tcp_ecn_accept_cwr(sk, skb)
    sk.rx_opt.dsack = False
    tcpext = sk.host.mib.tcpext
    if cb.seq == sk.rcv_nxt:
        if sk.tcp_receive_window() == 0:
            if not skb.len and cb.tcp_flags & TCPHDR_FIN:
                _queue_and_out(sk, skb)
                return
            tcpext.TCPZeroWindowDrop += 1
            _out_of_window(sk, skb, R.TCP_ZEROWINDOW)
            return
        _queue_and_out(sk, skb)
        return
    if not after(cb.end_seq, sk.rcv_nxt):
        # a retransmission of data we have: force an immediate ACK with a D-SACK
        tcpext.DelayedACKLost += 1
        tcp_dsack_set(sk, cb.seq, cb.end_seq)
        _out_of_window(sk, skb, R.TCP_OLD_DATA)
        return
    if not before(cb.seq, (sk.rcv_nxt + sk.tcp_receive_window()) & _M32):
        _out_of_window(sk, skb, R.TCP_OVERWINDOW)
        return
    if before(cb.seq, sk.rcv_nxt):
        # partial: seq < rcv_nxt < end_seq
        tcp_dsack_set(sk, cb.seq, sk.rcv_nxt)
        if not sk.tcp_receive_window():
            tcpext.TCPZeroWindowDrop += 1
            _out_of_window(sk, skb, R.TCP_ZEROWINDOW)
            return
        _queue_and_out(sk, skb)
        return
    tcp_data_queue_ofo(sk, skb)


def _out_of_window(sk: TcpSock, skb: SkBuff, reason: R) -> None:
    _in.tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS)
    sk.icsk_ack.pending |= ICSK_ACK_SCHED
    _in.tcp_drop(sk, skb, reason, "tcp_data_queue")


def _queue_and_out(sk: TcpSock, skb: SkBuff) -> None:
    cb = tcp_cb(skb)
    if not _tcp_try_rmem_schedule(sk, skb):
        sk.icsk_ack.pending |= ICSK_ACK_NOMEM | ICSK_ACK_NOW | ICSK_ACK_SCHED
        sk.sk_data_ready()
        if sk.sk_receive_queue and skb.len:
            sk.host.mib.tcpext.TCPRcvQDrop += 1
            _in.tcp_drop(sk, skb, R.PROTO_MEM, "tcp_data_queue")
            return
    tcp_queue_rcv(sk, skb)
    if skb.len:
        _in.tcp_event_data_recv(sk, skb)
    if cb.tcp_flags & TCPHDR_FIN:
        tcp_fin(sk)
    if sk.out_of_order_queue:
        tcp_ofo_queue(sk)
        if not sk.out_of_order_queue:
            sk.icsk_ack.pending |= ICSK_ACK_NOW  # RFC 5681 4.2: the hole is filled
    if sk.rx_opt.num_sacks:
        tcp_sack_remove(sk)
    tcp_fast_path_check(sk)
    if "SOCK_DEAD" not in sk.sock_flags:
        sk.sk_data_ready()


def tcp_ofo_queue(sk: TcpSock) -> None:
    """tcp_ofo_queue(): move now in-order segments from the out-of-order queue."""
    ofo = sk.out_of_order_queue
    dsack_high = sk.rcv_nxt
    while ofo:
        skb = ofo[0]
        cb = tcp_cb(skb)
        if after(cb.seq, sk.rcv_nxt):
            break
        if before(cb.seq, dsack_high):
            dsack = cb.end_seq if before(cb.end_seq, dsack_high) else dsack_high
            tcp_dsack_extend(sk, cb.seq, dsack)
        ofo.pop(0)
        if not after(cb.end_seq, sk.rcv_nxt):
            sk.sk_rmem_alloc -= skb.truesize
            _in.tcp_drop(sk, skb, R.TCP_OFO_DROP, "tcp_ofo_queue")
            continue
        sk.sk_receive_queue.append(skb)  # already charged to sk_rmem_alloc
        tcp_rcv_nxt_update(sk, cb.end_seq)
        if cb.tcp_flags & TCPHDR_FIN:
            tcp_fin(sk)
            break


def tcp_data_queue_ofo(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_data_queue_ofo(): keep a segment beyond a hole, sorted by sequence; fully
    duplicate parts are dropped (TCPOFOMerge, TCP_OFOMERGE) and D-SACKed; the SACK
    block for it goes first (TCPOFOQueue)."""
    tcpext = sk.host.mib.tcpext
    tcp_data_ecn_check(sk, skb)
    # Linux 6.18 learns rcv_mss from out-of-order segments too (tcp_ooo_rcv_mss selftest)
    tcp_measure_rcv_mss(sk, skb, tcp_cb(skb).tcp_flags, tcp_cb(skb).hdr_len)
    if not _tcp_try_rmem_schedule(sk, skb):
        tcpext.TCPOFODrop += 1
        sk.sk_data_ready()
        _in.tcp_drop(sk, skb, R.TCP_OFO_DROP, "tcp_data_queue_ofo")
        return
    sk.pred_flags = 0
    sk.icsk_ack.pending |= ICSK_ACK_SCHED
    sk.rcv_ooopack += max(1, skb.gso_segs)
    tcpext.TCPOFOQueue += 1
    cb = tcp_cb(skb)
    seq, end_seq = cb.seq, cb.end_seq
    ofo = sk.out_of_order_queue
    base = sk.rcv_nxt
    key = (seq - base) & _M32
    # find the insert position: first skb whose seq is after ours
    i = len(ofo)
    while i > 0 and ((tcp_cb(ofo[i - 1]).seq - base) & _M32) > key:
        i -= 1
    stored: SkBuff | None = skb
    if i > 0:
        prev = tcp_cb(ofo[i - 1])
        if before(seq, prev.end_seq):
            if not after(end_seq, prev.end_seq):
                tcpext.TCPOFOMerge += 1
                _in.tcp_drop(sk, skb, R.TCP_OFOMERGE, "tcp_data_queue_ofo")
                tcp_dsack_set(sk, seq, end_seq)
                stored = None
            elif prev.seq == seq:
                # same start, skb covers prev: replace it
                old = ofo.pop(i - 1)
                i -= 1
                sk.sk_rmem_alloc -= old.truesize
                tcp_dsack_extend(sk, prev.seq, prev.end_seq)
                tcpext.TCPOFOMerge += 1
                _in.tcp_drop(sk, old, R.TCP_OFOMERGE, "tcp_data_queue_ofo")
            else:
                tcp_dsack_set(sk, seq, prev.end_seq)
    if stored is not None:
        ofo.insert(i, skb)
        _skb_set_owner_r(sk, skb)
        # merge_right: remove later segments skb covers
        j = i + 1
        while j < len(ofo):
            ncb = tcp_cb(ofo[j])
            if not after(end_seq, ncb.seq):
                break
            if before(end_seq, ncb.end_seq):
                tcp_dsack_extend(sk, ncb.seq, end_seq)
                break
            victim = ofo.pop(j)
            sk.sk_rmem_alloc -= victim.truesize
            tcp_dsack_extend(sk, ncb.seq, ncb.end_seq)
            tcpext.TCPOFOMerge += 1
            _in.tcp_drop(sk, victim, R.TCP_OFOMERGE, "tcp_data_queue_ofo")
    if sk.tcp_is_sack():
        if not sk.selective_acks:
            sk.selective_acks.append([seq, end_seq])
            sk.rx_opt.num_sacks = 1
        else:
            tcp_sack_new_ofo_skb(sk, seq, end_seq)
    if stored is not None and sk.tcp_is_sack():
        tcp_grow_window(sk, skb)
    tcp_rcvbuf_grow(sk, sk.rcvq_space_space)  # 6.16+: provision beyond the hole


def tcp_fin(sk: TcpSock) -> None:
    """tcp_fin() (RFC 9293 3.10.7.4 eighth check): the peer closed its side."""
    sk.icsk_ack.pending |= ICSK_ACK_SCHED
    sk.sk_shutdown |= RCV_SHUTDOWN
    sk.sock_flags.add("SOCK_DONE")
    state = sk.sk_state
    if state in (TCP_SYN_RECV, TCP_ESTABLISHED):
        tcp_set_state(sk, TCP_CLOSE_WAIT)
        sk.icsk_ack.pingpong = sk.net.sysctl("tcp_pingpong_thresh")
    elif state == TCP_FIN_WAIT1:
        # simultaneous close: ACK the FIN, wait for the ACK of ours
        _ctl.tcp_send_ack(sk)
        tcp_set_state(sk, TCP_CLOSING)
    elif state == TCP_FIN_WAIT2:
        _ctl.tcp_send_ack(sk)
        from tuxnet.tcp.minisocks import tcp_time_wait

        tcp_time_wait(sk, TCP_TIME_WAIT, 0)
    # CLOSE_WAIT, CLOSING: a retransmitted FIN; LAST_ACK: stay (RFC 793)
    for skb in sk.out_of_order_queue:
        sk.sk_rmem_alloc -= skb.truesize
        _in.tcp_drop(sk, skb, R.TCP_OFO_DROP, "tcp_fin")
    sk.out_of_order_queue.clear()
    if sk.tcp_is_sack():  # tcp_sack_reset(): the pending D-SACK goes too
        sk.selective_acks.clear()
        sk.rx_opt.num_sacks = 0
        sk.rx_opt.dsack = False
    if "SOCK_DEAD" not in sk.sock_flags:
        sk.sk_state_change()
