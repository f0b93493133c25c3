"""Control segments and send-buffer space (net/ipv4/tcp_output.c: tcp_send_ack,
__tcp_send_ack, tcp_send_delayed_ack, tcp_send_fin, tcp_send_active_reset,
tcp_connect_init, tcp_connect, tcp_send_synack, tcp_write_wakeup, tcp_xmit_probe_skb,
tcp_send_probe0, tcp_acceptable_seq; net/ipv4/tcp_input.c: tcp_sndbuf_expand,
tcp_new_space, tcp_check_space, tcp_sack_compress_send_ack).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.skb.defs import SKB_SHINFO_SIZE, SKB_SKBUFF_SIZE
from tuxnet.tcp import output as _out
from tuxnet.tcp import timer as _timer
from tuxnet.tcp.chrono import TCP_CHRONO_SNDBUF_LIMITED, tcp_chrono_stop
from tuxnet.tcp.defs import (
    HZ,
    ICSK_ACK_PUSHED,
    ICSK_ACK_SCHED,
    ICSK_ACK_TIMER,
    ICSK_TIME_PROBE0,
    ICSK_TIME_RETRANS,
    MAX_TCP_HEADER,
    TCP_CLOSE,
    TCP_DELACK_MAX,
    TCP_DELACK_MIN,
    TCP_INIT_CWND,
    TCP_NAGLE_OFF,
    TCP_RESOURCE_PROBE_INTERVAL,
    TCP_RTO_MAX,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_RST,
    TCPHDR_SYN,
    USEC_PER_JIFFY,
)
from tuxnet.tcp.ecn import tcp_ecn_send_syn, tcp_ecn_send_synack
from tuxnet.tcp.mss import (
    tcp_current_mss,
    tcp_full_space,
    tcp_initialize_rcv_mss,
    tcp_mss_clamp,
    tcp_select_initial_window,
    tcp_sync_mss,
)
from tuxnet.tcp.mtu_probe import tcp_mtup_init
from tuxnet.tcp.seq import before, between
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_acceptable_seq", "tcp_check_space", "tcp_connect", "tcp_connect_init",
           "tcp_sack_compress_send_ack", "tcp_send_ack", "tcp_send_active_reset",
           "tcp_send_delayed_ack", "tcp_send_fin", "tcp_send_probe0", "tcp_send_synack",
           "tcp_sndbuf_expand", "tcp_write_wakeup"]

_M32 = 0xFFFFFFFF


def tcp_acceptable_seq(sk: TcpSock) -> int:
    """tcp_acceptable_seq(): snd_nxt, unless the peer shrank its window below it."""
    wnd_end = sk.tcp_wnd_end()
    if not before(wnd_end, sk.snd_nxt) or (sk.rx_opt.wscale_ok and (
            (sk.snd_nxt - wnd_end) & _M32) < (1 << sk.rx_opt.rcv_wscale)):
        return sk.snd_nxt
    return wnd_end


def tcp_send_ack(sk: TcpSock, rcv_nxt: int | None = None) -> None:
    """tcp_send_ack() / __tcp_send_ack(): a pure ACK now."""
    if sk.sk_state == TCP_CLOSE:
        return
    skb = _out.tcp_stream_alloc_skb(sk, 0)
    _out.tcp_init_nondata_skb(skb, tcp_acceptable_seq(sk), TCPHDR_ACK)
    sk.tcp_mstamp_refresh()
    _out.tcp_transmit_skb(sk, skb, False, rcv_nxt)


def tcp_send_delayed_ack(sk: TcpSock) -> None:
    """tcp_send_delayed_ack(): ACK within ato, bounded by 200 ms in pingpong mode or
    after a pushed segment (else 500 ms) and by the SRTT; an ACK already due within a
    quarter of ato goes now."""
    ack = sk.icsk_ack
    ato = ack.ato
    if ato > TCP_DELACK_MIN:
        max_ato = HZ // 2
        if sk.inet_csk_in_pingpong_mode() or ack.pending & ICSK_ACK_PUSHED:
            max_ato = TCP_DELACK_MAX
        if sk.srtt_us:
            rtt = max(-(-(sk.srtt_us >> 3) // USEC_PER_JIFFY), TCP_DELACK_MIN)
            max_ato = min(max_ato, rtt)
        ato = min(ato, max_ato)
    ato = min(ato, sk.icsk_delack_max)
    now = sk.jiffies()
    timeout = now + ato
    if ack.pending & ICSK_ACK_TIMER:
        if ack.timeout <= now + (ato >> 2):
            tcp_send_ack(sk)
            return
        timeout = min(timeout, ack.timeout)
    ack.pending |= ICSK_ACK_SCHED | ICSK_ACK_TIMER
    ack.timeout = timeout
    _timer.tcp_reset_delack_timer(sk, timeout)


def tcp_sack_compress_send_ack(sk: TcpSock) -> None:
    """tcp_sack_compress_send_ack(): flush the ACKs SACK compression held back."""
    if not sk.compressed_ack:
        return
    if sk.compressed_ack_timer is not None:
        sk.compressed_ack_timer.cancel()
        sk.compressed_ack_timer = None
    # the ACK tcp_send_ack sends counts as one of them (TCPAckCompressed)
    sk.compressed_ack -= 1
    tcp_send_ack(sk)


def tcp_send_fin(sk: TcpSock) -> None:
    """tcp_send_fin(): FIN on the last unsent skb, or a bare FIN, then push."""
    wq = sk.sk_write_queue
    if wq:
        cb = tcp_cb(wq[-1])
        cb.tcp_flags |= TCPHDR_FIN
        cb.end_seq = (cb.end_seq + 1) & _M32
        sk.write_seq = (sk.write_seq + 1) & _M32
    else:
        skb = _out.tcp_stream_alloc_skb(sk, 0)
        _out.tcp_init_nondata_skb(skb, sk.write_seq, TCPHDR_ACK | TCPHDR_FIN)
        # tcp_queue_skb
        sk.write_seq = tcp_cb(skb).end_seq
        wq.append(skb)
        sk.sk_wmem_queued += skb.truesize
    _out.tcp_push_pending_frames(sk, tcp_current_mss(sk), TCP_NAGLE_OFF)


def tcp_send_active_reset(sk: TcpSock) -> None:
    """tcp_send_active_reset(): RST|ACK at tcp_acceptable_seq (OutRsts; TCPAbortFailed
    when it could not be sent)."""
    mib = sk.host.mib
    mib.tcp.OutRsts += 1
    skb = _out.tcp_stream_alloc_skb(sk, 0)
    _out.tcp_init_nondata_skb(skb, tcp_acceptable_seq(sk), TCPHDR_ACK | TCPHDR_RST)
    sk.tcp_mstamp_refresh()
    tp = sk.net.tp_send_reset
    if tp.active:
        from tuxnet.wire.addr import int_to_ip

        tp.emit(skbaddr=id(skb), skaddr=id(sk), state=sk.sk_state,
                saddr=f"{int_to_ip(sk.inet_saddr)}:{sk.inet_sport}",
                daddr=f"{int_to_ip(sk.inet_daddr)}:{sk.inet_dport}", reason="NOT_SPECIFIED")
    if _out.tcp_transmit_skb(sk, skb, False):
        mib.tcpext.TCPAbortFailed += 1


def tcp_send_synack(sk: TcpSock) -> int:
    """tcp_send_synack(): (re)send our SYN as a SYN-ACK (simultaneous open)."""
    if not sk.tcp_rtx_queue:
        return -14  # EFAULT: wrong queue state
    skb = sk.tcp_rtx_queue[0]
    cb = tcp_cb(skb)
    if not cb.tcp_flags & TCPHDR_SYN:
        return -14
    cb.tcp_flags |= TCPHDR_ACK
    tcp_ecn_send_synack(sk, skb)
    return _out.tcp_transmit_skb(sk, skb, True)


# -- connect ------------------------------------------------------------------------

def tcp_connect_init(sk: TcpSock) -> None:
    """tcp_connect_init(): MSS and window before the SYN (tcp_select_initial_window)."""
    tn = sk.net
    dst = sk.dst
    assert dst is not None
    sk.tcp_header_len = 20 + (12 if tn.sysctl("tcp_timestamps") else 0)
    if sk.md5sig_info and sk.tcp_md5_key() is not None:
        sk.tcp_header_len += 20  # TCPOLEN_MD5SIG_ALIGNED (RFC 2385)
    if sk.rx_opt.user_mss:
        sk.rx_opt.mss_clamp = sk.rx_opt.user_mss
    sk.max_window = 0
    tcp_mtup_init(sk)
    tcp_sync_mss(sk, dst.mtu())
    from tuxnet.tcp.cong import tcp_ca_dst_init

    tcp_ca_dst_init(sk, dst.congctl, bool(dst.rt is not None and
                                          getattr(dst.rt, "congctl_locked", False)))
    if not sk.window_clamp:
        sk.window_clamp = dst.window
    sk.advmss = tcp_mss_clamp(sk, dst.advmss)
    tcp_initialize_rcv_mss(sk)
    if sk.sk_rcvbuf_locked and (sk.window_clamp > tcp_full_space(sk) or sk.window_clamp == 0):
        sk.window_clamp = tcp_full_space(sk)
    mss = sk.advmss - (sk.tcp_header_len - 20 if sk.rx_opt.ts_recent_stamp else 0)
    sk.rcv_wnd, sk.window_clamp, sk.rx_opt.rcv_wscale = tcp_select_initial_window(
        sk, tcp_full_space(sk), mss, sk.window_clamp, bool(tn.sysctl("tcp_window_scaling")),
        dst.initrwnd)
    sk.rcv_ssthresh = sk.rcv_wnd
    sk.sk_err = 0
    sk.sock_flags.discard("SOCK_DONE")
    sk.snd_wnd = 0
    sk.snd_wl1 = 0
    sk.snd_una = sk.snd_sml = sk.snd_up = sk.snd_nxt = sk.write_seq
    sk.rcv_nxt = 0
    sk.rcv_wup = sk.copied_seq = 0
    sk.icsk_rto = 1 * HZ  # tcp_timeout_init: TCP_TIMEOUT_INIT
    sk.icsk_retransmits = 0
    sk.retrans_out = sk.lost_out = sk.sacked_out = 0  # tcp_clear_retrans
    sk.undo_marker = 0


def tcp_connect(sk: TcpSock) -> int:
    """tcp_connect(): queue and send the SYN, arm the retransmit timer (ActiveOpens)."""
    tcp_connect_init(sk)
    skb = _out.tcp_stream_alloc_skb(sk, 0)
    _out.tcp_init_nondata_skb(skb, sk.write_seq, TCPHDR_SYN)
    tcp_ecn_send_syn(sk, skb)
    sk.write_seq = (sk.write_seq + 1) & _M32
    sk.tcp_mstamp_refresh()
    sk.retrans_stamp = sk.tcp_time_stamp_ts()
    # tcp_connect_queue_skb
    sk.sk_wmem_queued += skb.truesize
    sk.packets_out += 1
    sk.tcp_rtx_queue.append(skb)
    if sk.fastopen_req is not None:  # Fast Open: the SYN carries data or a cookie request
        from tuxnet.tcp.fastopen_client import tcp_send_syn_data

        err = tcp_send_syn_data(sk, skb)
    else:
        err = _out.tcp_transmit_skb(sk, skb, True)
    if err == -111:  # ECONNREFUSED
        return err
    sk.snd_nxt = sk.write_seq
    sk.pushed_seq = sk.write_seq
    if sk.sk_write_queue:  # tcp_send_head(): SYN data that could not be sent
        sk.snd_nxt = sk.pushed_seq = tcp_cb(sk.sk_write_queue[0]).seq
    sk.host.mib.tcp.ActiveOpens += 1
    _timer.inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, sk.icsk_rto, TCP_RTO_MAX)
    return 0


# -- window probes and keepalives ---------------------------------------------------

def tcp_xmit_probe_skb(sk: TcpSock, urgent: bool, mib: str) -> int:
    """tcp_xmit_probe_skb(): an ACK with an old sequence (snd_una - 1) to draw an ACK."""
    skb = _out.tcp_stream_alloc_skb(sk, 0)
    _out.tcp_init_nondata_skb(skb, sk.snd_una - (0 if urgent else 1), TCPHDR_ACK)
    sk.host.mib.tcpext[mib] += 1
    return _out.tcp_transmit_skb(sk, skb, False)


def tcp_write_wakeup(sk: TcpSock, mib: str) -> int:
    """tcp_write_wakeup(): send new data if the window has room for some (split to fit),
    else a probe segment."""
    if sk.sk_state == TCP_CLOSE:
        return -1
    wq = sk.sk_write_queue
    if wq and before(tcp_cb(wq[0]).seq, sk.tcp_wnd_end()):
        skb = wq[0]
        cb = tcp_cb(skb)
        mss = tcp_current_mss(sk)
        seg_size = (sk.tcp_wnd_end() - cb.seq) & _M32
        if before(sk.pushed_seq, cb.end_seq):
            sk.pushed_seq = cb.end_seq
        if seg_size < ((cb.end_seq - cb.seq) & _M32) or skb.len > mss:
            seg_size = min(seg_size, mss)
            cb.tcp_flags |= TCPHDR_PSH
            _out.tcp_fragment(sk, wq, skb, seg_size, mss)
        cb.tcp_flags |= TCPHDR_PSH
        err = _out.tcp_transmit_skb(sk, skb, True)
        if not err:
            _out.tcp_event_new_data_sent(sk, skb)
        return err
    if between(sk.snd_up, (sk.snd_una + 1) & _M32, (sk.snd_una + 0xFFFF) & _M32):
        tcp_xmit_probe_skb(sk, True, mib)
    return tcp_xmit_probe_skb(sk, False, mib)


def tcp_send_probe0(sk: TcpSock) -> None:
    """tcp_send_probe0(): a zero-window probe, then back off (RFC 9293 3.8.6.1)."""
    err = tcp_write_wakeup(sk, "TCPWinProbe")
    if sk.packets_out or not sk.sk_write_queue:
        sk.icsk_probes_out = 0
        sk.icsk_backoff = 0
        sk.icsk_probes_tstamp = 0
        return
    sk.icsk_probes_out += 1
    if err <= 0:
        if sk.icsk_backoff < sk.net.sysctl("tcp_retries2"):
            sk.icsk_backoff += 1
        timeout = _timer.tcp_probe0_when(sk, TCP_RTO_MAX)
    else:  # not sent: local congestion (a qdisc drop); no backoff
        timeout = TCP_RESOURCE_PROBE_INTERVAL
    timeout = _timer.tcp_clamp_probe0_to_user_timeout(sk, timeout)
    _timer.inet_csk_reset_xmit_timer(sk, ICSK_TIME_PROBE0, timeout, TCP_RTO_MAX)


# -- send buffer ----------------------------------------------------------------------

def tcp_sndbuf_expand(sk: TcpSock) -> None:
    """tcp_sndbuf_expand(): sndbuf = 2 x max(cwnd, IW10, reordering + 1) x the memory of
    one full skb (87040 bytes for a 1460-byte MSS), up to tcp_wmem[2]."""
    per_mss = max(sk.rx_opt.mss_clamp, sk.mss_cache) + MAX_TCP_HEADER + SKB_SHINFO_SIZE
    per_mss = (1 << (per_mss - 1).bit_length()) + SKB_SKBUFF_SIZE
    nr_segs = max(TCP_INIT_CWND, sk.snd_cwnd, sk.reordering + 1)
    ops = sk.icsk_ca_ops
    mult = ops.sndbuf_expand(sk) if ops is not None and ops.HAS_SNDBUF_EXPAND else 2
    sndmem = mult * nr_segs * per_mss
    if sk.sk_sndbuf < sndmem:
        sk.sk_sndbuf = min(sndmem, sk.net.sysctl_vec("tcp_wmem")[2])


def tcp_new_space(sk: TcpSock) -> None:
    """tcp_new_space(): grow sndbuf if cwnd has room, then wake writers."""
    if not sk.sk_userlocks & 1 and sk.tcp_packets_in_flight() < sk.snd_cwnd:
        tcp_sndbuf_expand(sk)
        sk.snd_cwnd_stamp = sk.jiffies()
    sk.sk_write_space()  # sk_stream_write_space


def tcp_check_space(sk: TcpSock) -> None:
    """tcp_check_space(): a writer waits for space (SOCK_NOSPACE): see if there is."""
    if sk.sock_nospace:
        tcp_new_space(sk)
        if not sk.sock_nospace:
            tcp_chrono_stop(sk, TCP_CHRONO_SNDBUF_LIMITED)

