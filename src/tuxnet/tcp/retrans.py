"""Retransmission (net/ipv4/tcp_output.c: __tcp_retransmit_skb, tcp_retransmit_skb,
tcp_xmit_retransmit_queue, tcp_trim_head, tcp_send_loss_probe).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp import output as _out
from tuxnet.tcp import timer as _timer
from tuxnet.tcp.defs import (
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    TCP_NAGLE_OFF,
    TCP_RTO_MAX,
    TCPCB_EVER_RETRANS,
    TCPCB_LOST,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    TCPHDR_PSH,
    TCPHDR_SYN,
    TCP_CA_Loss,
)
from tuxnet.tcp.ecn import tcp_ecn_clear_syn
from tuxnet.tcp.mss import tcp_current_mss
from tuxnet.tcp.pacing import tcp_tso_segs
from tuxnet.tcp.seq import before
from tuxnet.tcp.sock import tcp_cb
from tuxnet.tcp.tso_chunk import tcp_rtx_chunk
from tuxnet.tcp.tsq import (
    tcp_small_queue_check,
    tcp_tsq_may_throttle,
    tcp_write_chunk_truesize,
)

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_retransmit_skb", "tcp_send_loss_probe", "tcp_trim_head",
           "tcp_xmit_retransmit_queue"]

_M32 = 0xFFFFFFFF


def tcp_trim_head(sk: TcpSock, skb: SkBuff, length: int) -> None:
    """tcp_trim_head(): drop ``length`` acknowledged bytes from the front of a sent skb."""
    cb = tcp_cb(skb)
    if cb.tcp_flags & TCPHDR_SYN:
        cb.tcp_flags &= ~TCPHDR_SYN
        cb.seq = (cb.seq + 1) & _M32
        length -= 1
    length = min(length, skb.len)
    if length > 0:
        if skb.data_len:  # page frags (zerocopy, sendfile): __pskb_trim_head
            skb.pskb_pull(length)
        else:
            skb.pull(length)
        cb.seq = (cb.seq + length) & _M32
        if cb.pcount > 1:  # any change of skb->len requires recalculating the TSO factor
            _out.tcp_set_skb_tso_segs(skb, skb.gso_size)


def _tcp_retransmit_chunk(sk: TcpSock, skb: SkBuff, segs: int) -> tuple[int, list[SkBuff]]:
    """__tcp_retransmit_skb() on tuxnet's MSS-sized queue: resend (the window-allowed
    part of) the Linux skb ``skb`` starts, at most ``segs`` MSS, as one GSO packet (PSH
    forced when it has several segments, as __tcp_transmit_skb does); counts
    RetransSegs, TCPSynRetrans, and emits tcp:tcp_retransmit_skb. Returns the error and
    the skbs sent."""
    cb = tcp_cb(skb)
    if before(cb.seq, sk.snd_una):
        if before(cb.end_seq, sk.snd_una):
            return -22, []  # EINVAL
        tcp_trim_head(sk, skb, (sk.snd_una - cb.seq) & _M32)
    cur_mss = tcp_current_mss(sk)
    avail_wnd = ((sk.tcp_wnd_end() - cb.seq + 0x80000000) & _M32) - 0x80000000
    if avail_wnd <= 0:
        if cb.seq != sk.snd_una:
            return -11, []  # EAGAIN
        avail_wnd = cur_mss
    length = cur_mss * segs
    if length > avail_wnd:
        length = (avail_wnd // cur_mss) * cur_mss or avail_wnd
    if skb.len > length:
        _out.tcp_fragment(sk, sk.tcp_rtx_queue, skb, length, cur_mss)
    if cb.tcp_flags & TCPHDR_SYN:
        tcp_ecn_clear_syn(sk, skb)  # RFC 3168 6.1.1.1
    split = None
    if not skb.gso_size and not _out.tcp_sk_can_gso(sk):
        def split(s: SkBuff) -> bool:  # tuxnet's queue holds one skb per MSS
            if s.len <= cur_mss:
                return False
            _out.tcp_fragment(sk, sk.tcp_rtx_queue, s, cur_mss, cur_mss)
            return True
    chunk = tcp_rtx_chunk(sk, skb, length, split)
    pcount = sum(tcp_cb(s).pcount for s in chunk)
    mib = sk.host.mib
    mib.tcp.RetransSegs += pcount
    if cb.tcp_flags & TCPHDR_SYN:
        mib.tcpext.TCPSynRetrans += 1
    sk.total_retrans += pcount
    sent: list[SkBuff] = []
    err = 0
    last = chunk[-1]
    for s in chunk:
        sk.bytes_retrans += s.len
        scb = tcp_cb(s)
        if s is last and pcount > 1:
            flags = scb.tcp_flags
            scb.tcp_flags = flags | TCPHDR_PSH
            err = _out.tcp_transmit_skb(sk, s, True)
            scb.tcp_flags = flags
        else:
            err = _out.tcp_transmit_skb(sk, s, True)
        scb.sacked |= TCPCB_EVER_RETRANS
        if err:
            break
        sent.append(s)
    tn = sk.net
    if not err:
        tp = tn.tp_retransmit
        if tp.active:
            from tuxnet.wire.addr import int_to_ip

            tp.emit(skbaddr=id(skb), skaddr=id(sk), state=sk.sk_state, sport=sk.inet_sport,
                    dport=sk.inet_dport, family="AF_INET", saddr=int_to_ip(sk.inet_saddr),
                    daddr=int_to_ip(sk.inet_daddr), err=err)
    else:
        mib.tcpext.TCPRetransFail += pcount
    if not sk.retrans_stamp:
        sk.retrans_stamp = (cb.tx_mstamp // 1000) & _M32
    return err, sent


def __tcp_retransmit_skb(sk: TcpSock, skb: SkBuff, segs: int) -> int:
    """__tcp_retransmit_skb(): resend the Linux skb ``skb`` starts (at most ``segs``
    MSS); returns the error."""
    return _tcp_retransmit_chunk(sk, skb, segs)[0]


def tcp_retransmit_skb(sk: TcpSock, skb: SkBuff, segs: int) -> int:
    """tcp_retransmit_skb(): retransmit and mark SACKED_RETRANS (retrans_out)."""
    err, sent = _tcp_retransmit_chunk(sk, skb, segs)
    for s in sent:
        cb = tcp_cb(s)
        if not cb.sacked & TCPCB_SACKED_RETRANS:
            cb.sacked |= TCPCB_SACKED_RETRANS
            sk.retrans_out += cb.pcount
    if sk.undo_retrans < 0:
        sk.undo_retrans = 0
    sk.undo_retrans += sum(tcp_cb(s).pcount for s in sent) if sent else tcp_cb(skb).pcount
    return err


def tcp_xmit_retransmit_queue(sk: TcpSock) -> None:
    """tcp_xmit_retransmit_queue(): retransmit skbs marked lost while cwnd allows, each
    as up to tcp_tso_segs() segments (TCPFastRetrans in recovery, TCPSlowStartRetrans
    in Loss)."""
    if not sk.packets_out:
        return
    rearm_timer = False
    rtx = sk.tcp_rtx_queue
    head = rtx[0] if rtx else None
    hole = None
    tcpext = sk.host.mib.tcpext
    max_segs = tcp_tso_segs(sk, tcp_current_mss(sk))
    skbs = list(rtx)
    known = {id(s) for s in skbs}
    j = 0
    while j < len(skbs):
        skb = skbs[j]
        j += 1
        segs = sk.snd_cwnd - sk.tcp_packets_in_flight()
        if segs <= 0:
            break
        sacked = tcp_cb(skb).sacked
        if sk.retrans_out >= sk.lost_out:
            break
        if not sacked & TCPCB_LOST:
            if hole is None and not sacked & (TCPCB_SACKED_RETRANS | TCPCB_SACKED_ACKED):
                hole = skb
            continue
        if sacked & (TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS):
            continue
        if tcp_tsq_may_throttle(sk, 1) and tcp_small_queue_check(sk, tcp_write_chunk_truesize(
                skbs, j - 1, min(segs, max_segs), _out._HEAD_TRUESIZE, True), 1):
            break  # TSQ, twice the limit for retransmissions
        prior_retrans = sk.retrans_out
        if tcp_retransmit_skb(sk, skb, min(segs, max_segs)):
            break
        # tcp_fragment may have split it (a smaller MSS): the rest follows it
        k = rtx.index(skb) + 1
        ins = j
        while k < len(rtx) and id(rtx[k]) not in known:
            known.add(id(rtx[k]))
            skbs.insert(ins, rtx[k])  # visited next
            ins += 1
            k += 1
        pcount = sk.retrans_out - prior_retrans
        if sk.icsk_ca_state != TCP_CA_Loss:
            tcpext.TCPFastRetrans += pcount
        else:
            tcpext.TCPSlowStartRetrans += pcount
        if sk.tcp_in_cwnd_reduction():
            sk.prr_out += pcount
        if skb is head and sk.icsk_pending != ICSK_TIME_REO_TIMEOUT:
            rearm_timer = True
    if rearm_timer:
        _timer.inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, sk.icsk_rto, TCP_RTO_MAX)


def tcp_send_loss_probe(sk: TcpSock) -> None:
    """tcp_send_loss_probe() (RFC 8985 7.3): send new data if the window allows, else
    retransmit the last segment; one probe outstanding at a time (TCPLossProbes)."""
    if sk.tlp_high_seq:
        _timer.tcp_rearm_rto(sk)
        return
    sk.tlp_retrans = False
    mss = tcp_current_mss(sk)
    wq = sk.sk_write_queue
    sent = False
    if wq and _out.tcp_snd_wnd_test(sk, wq[0], mss):
        pcount = sk.packets_out
        _out.tcp_write_xmit(sk, mss, TCP_NAGLE_OFF, 2)
        sent = sk.packets_out > pcount
    elif sk.tcp_rtx_queue:
        skb = sk.tcp_rtx_queue[-1]
        if __tcp_retransmit_skb(sk, skb, 1) == 0:
            sk.tlp_retrans = True
            sent = True
    else:
        sk.icsk_pending = 0
        return
    if sent:
        sk.tlp_high_seq = sk.snd_nxt
        sk.host.mib.tcpext.TCPLossProbes += 1
        sk.icsk_pending = 0
    _timer.tcp_rearm_rto(sk)
