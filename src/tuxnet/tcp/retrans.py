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
    TCPHDR_SYN,
    TCP_CA_Loss,
)
from tuxnet.tcp.mss import tcp_current_mss
from tuxnet.tcp.seq import before
from tuxnet.tcp.sock import tcp_cb

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


def __tcp_retransmit_skb(sk: TcpSock, skb: SkBuff, segs: int) -> int:
    """__tcp_retransmit_skb(): resend (the window-allowed part of) ``skb``; counts
    RetransSegs, TCPSynRetrans, and emits tcp:tcp_retransmit_skb."""
    cb = tcp_cb(skb)
    if before(cb.seq, sk.snd_una):
        if before(cb.end_seq, sk.snd_una):
            return -22  # EINVAL
        tcp_trim_head(sk, skb, (sk.snd_una - cb.seq) & _M32)
    cur_mss = tcp_current_mss(sk)
    avail_wnd = ((sk.tcp_wnd_end() - cb.seq + 0x80000000) & _M32) - 0x80000000
    if avail_wnd <= 0:
        if cb.seq != sk.snd_una:
            return -11  # EAGAIN
        avail_wnd = cur_mss
    length = cur_mss * segs
    if length > avail_wnd:
        length = (avail_wnd // cur_mss) * cur_mss or avail_wnd
    if skb.len > length:
        _out.tcp_fragment(sk, sk.tcp_rtx_queue, skb, length, cur_mss)
    pcount = cb.pcount
    mib = sk.host.mib
    mib.tcp.RetransSegs += pcount
    if cb.tcp_flags & TCPHDR_SYN:
        mib.tcpext.TCPSynRetrans += 1
    sk.total_retrans += pcount
    sk.bytes_retrans += skb.len
    err = _out.tcp_transmit_skb(sk, skb, True)
    cb.sacked |= TCPCB_EVER_RETRANS
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
    return err


def tcp_retransmit_skb(sk: TcpSock, skb: SkBuff, segs: int) -> int:
    """tcp_retransmit_skb(): retransmit and mark SACKED_RETRANS (retrans_out)."""
    err = __tcp_retransmit_skb(sk, skb, segs)
    if err == 0:
        cb = tcp_cb(skb)
        if not cb.sacked & TCPCB_SACKED_RETRANS:
            cb.sacked |= TCPCB_SACKED_RETRANS
            sk.retrans_out += cb.pcount
    if sk.undo_retrans < 0:
        sk.undo_retrans = 0
    sk.undo_retrans += tcp_cb(skb).pcount
    return err


def tcp_xmit_retransmit_queue(sk: TcpSock) -> None:
    """tcp_xmit_retransmit_queue(): retransmit segments marked lost while cwnd allows
    (TCPFastRetrans in recovery, TCPSlowStartRetrans in Loss)."""
    if not sk.packets_out:
        return
    rearm_timer = False
    rtx = sk.tcp_rtx_queue
    head = rtx[0] if rtx else None
    hole = None
    tcpext = sk.host.mib.tcpext
    skbs = list(rtx)
    j = 0
    while j < len(skbs):
        skb = skbs[j]
        j += 1
        if sk.snd_cwnd - sk.tcp_packets_in_flight() <= 0:
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
        end_seq = tcp_cb(skb).end_seq
        if tcp_retransmit_skb(sk, skb, 1):
            break
        if tcp_cb(skb).end_seq != end_seq:
            # tcp_fragment split it (a smaller MSS): its rest follows it in the queue
            k = rtx.index(skb) + 1
            if k < len(rtx):
                skbs.insert(j, rtx[k])
        pcount = tcp_cb(skb).pcount
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
