"""The state machine for everything but ESTABLISHED and TIME_WAIT
(net/ipv4/tcp_input.c: tcp_rcv_state_process, tcp_rcv_synsent_state_process,
tcp_finish_connect, tcp_init_transfer, tcp_init_buffer_space; RFC 9293 3.10.7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.tcp import ack as _ack
from tuxnet.tcp import control as _ctl
from tuxnet.tcp import input as _in
from tuxnet.tcp import proto as _proto
from tuxnet.tcp import rcv_queue as _q
from tuxnet.tcp import timer as _timer
from tuxnet.tcp.cong import tcp_init_congestion_control
from tuxnet.tcp.defs import (
    FLAG_NO_CHALLENGE_ACK,
    FLAG_SLOWPATH,
    FLAG_UPDATE_TS_RECENT,
    ICSK_TIME_RETRANS,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_INIT_CWND,
    TCP_LAST_ACK,
    TCP_LISTEN,
    TCP_MAX_QUICKACKS,
    TCP_RTO_MAX,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
    TCP_TIMEOUT_FALLBACK,
    TCP_TIMEOUT_MIN,
    TCP_TIMEWAIT_LEN,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_RST,
    TCPHDR_SYN,
    USEC_PER_JIFFY,
)
from tuxnet.tcp.ecn import tcp_ecn_rcv_syn, tcp_ecn_rcv_synack
from tuxnet.tcp.fastopen import (
    FastopenCookie,
    tcp_rcv_synrecv_state_fastopen,
)
from tuxnet.tcp.fastopen_client import tcp_rcv_fastopen_synack
from tuxnet.tcp.minisocks import tcp_check_req
from tuxnet.tcp.mss import (
    tcp_full_space,
    tcp_initialize_rcv_mss,
    tcp_sync_mss,
)
from tuxnet.tcp.mtu_probe import tcp_mtup_init
from tuxnet.tcp.options import TcpRxOptions, tcp_parse_options
from tuxnet.tcp.pacing import tcp_update_pacing_rate
from tuxnet.tcp.seq import after, before, between
from tuxnet.tcp.sock import tcp_cb, tcp_clock_us, tcp_set_state

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_finish_connect", "tcp_init_transfer", "tcp_rcv_state_process"]

_M32 = 0xFFFFFFFF


def tcp_init_buffer_space(sk: TcpSock) -> None:
    """tcp_init_buffer_space(): sndbuf for IW10, window_clamp from the buffer."""
    if not sk.sk_userlocks & 1:  # SOCK_SNDBUF_LOCK
        _ctl.tcp_sndbuf_expand(sk)
    sk.tcp_mstamp_refresh()
    sk.rcvq_space_time = sk.tcp_mstamp
    sk.rcvq_space_seq = sk.copied_seq
    maxwin = tcp_full_space(sk)
    if sk.window_clamp >= maxwin:
        sk.window_clamp = maxwin
        app_win = sk.net.sysctl("tcp_app_win")
        if app_win and maxwin > 4 * sk.advmss:
            sk.window_clamp = max(maxwin - (maxwin >> app_win), 4 * sk.advmss)
    if sk.net.sysctl("tcp_app_win") and sk.window_clamp > 2 * sk.advmss and \
            sk.window_clamp + sk.advmss > maxwin:
        sk.window_clamp = max(2 * sk.advmss, maxwin - sk.advmss)
    sk.rcv_ssthresh = min(sk.rcv_ssthresh, sk.window_clamp)
    sk.snd_cwnd_stamp = sk.jiffies()
    sk.rcvq_space_space = min(sk.rcv_ssthresh, sk.rcv_wnd, TCP_INIT_CWND * sk.advmss)


def tcp_init_transfer(sk: TcpSock) -> None:
    """tcp_init_transfer() + tcp_init_metrics(): IW10 (cwnd 1 after more than one
    SYN/SYN-ACK retransmission, RFC 5681), a 3 s RTO when the handshake gave no RTT
    sample (RFC 6298 5.7), the congestion control, the buffers."""
    tcp_mtup_init(sk)
    sk.snd_ssthresh = 0x7FFFFFFF
    if not sk.srtt_us:
        sk.rttvar_us = TCP_TIMEOUT_FALLBACK * USEC_PER_JIFFY
        sk.mdev_us = sk.mdev_max_us = sk.rttvar_us
        sk.icsk_rto = TCP_TIMEOUT_FALLBACK
    if sk.total_retrans > 1 and sk.undo_marker:
        sk.snd_cwnd = 1
    else:
        dst = sk.dst
        cwnd = dst.initcwnd if dst is not None and dst.initcwnd else TCP_INIT_CWND
        sk.snd_cwnd = min(cwnd, sk.snd_cwnd_clamp)
    sk.snd_cwnd_stamp = sk.jiffies()
    if not sk.icsk_ca_initialized:
        tcp_init_congestion_control(sk)
    tcp_init_buffer_space(sk)


def tcp_finish_connect(sk: TcpSock) -> None:
    """tcp_finish_connect(): SYN_SENT -> ESTABLISHED."""
    tcp_set_state(sk, TCP_ESTABLISHED)
    sk.icsk_ack.lrcvtime = sk.jiffies()
    tcp_init_transfer(sk)
    sk.lsndtime = sk.jiffies()
    if "SOCK_KEEPOPEN" in sk.sock_flags:
        _timer.inet_csk_reset_keepalive_timer(sk, _timer.keepalive_time_when(sk))
    if not sk.rx_opt.snd_wscale:
        sk.pred_flags = ((sk.tcp_header_len << 26) | 0x00100000 | (sk.snd_wnd & 0xFFFF))
    else:
        sk.pred_flags = 0


def _parse_syn_options(sk: TcpSock, skb: SkBuff, rx: TcpRxOptions,
                       foc: FastopenCookie | None = None) -> None:
    cb = tcp_cb(skb)
    tcp_parse_options(sk.net, skb.data, 0, cb.hdr_len, bool(cb.tcp_flags & TCPHDR_SYN), False,
                      rx, user_mss=sk.rx_opt.user_mss, foc=foc)


def tcp_rcv_synsent_state_process(sk: TcpSock, skb: SkBuff) -> int:
    """tcp_rcv_synsent_state_process() (RFC 9293 3.10.7.3): > 0 asks the caller to send
    a RST, 0 consumed, -1 continue with the ACK/data of the SYN-ACK."""
    cb = tcp_cb(skb)
    flags = cb.tcp_flags
    rx = sk.rx_opt
    tmp = TcpRxOptions()
    foc = FastopenCookie()
    _parse_syn_options(sk, skb, tmp, foc)
    rx.saw_tstamp = tmp.saw_tstamp
    if tmp.saw_tstamp:
        rx.rcv_tsval = tmp.rcv_tsval
        rx.rcv_tsecr = (tmp.rcv_tsecr - sk.tsoffset) & _M32 if tmp.rcv_tsecr else 0
    if flags & TCPHDR_ACK:
        if not after(cb.ack_seq, sk.snd_una) or after(cb.ack_seq, sk.snd_nxt):
            # RFC 9293 3.10.7.3: an unacceptable ACK gets a RST (unless it is one)
            if sk.icsk_retransmits == 0:
                _timer.inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, TCP_TIMEOUT_MIN,
                                                 TCP_RTO_MAX)
            sk.synsent_drop_reason = R.TCP_INVALID_ACK_SEQUENCE
            return 1
        if rx.saw_tstamp and rx.rcv_tsecr and \
                not between(rx.rcv_tsecr, sk.retrans_stamp, sk.tcp_time_stamp_ts()):
            sk.host.mib.tcpext.PAWSActive += 1
            sk.synsent_drop_reason = R.TCP_RFC7323_PAWS
            return 1
        if flags & TCPHDR_RST:
            _in.tcp_reset(sk, skb)
            sk.host.consume_skb(skb, "tcp_rcv_synsent_state_process")
            return 0
        if not flags & TCPHDR_SYN:
            _in.tcp_drop(sk, skb, R.TCP_FLAGS, "tcp_rcv_synsent_state_process")
            return 0
        # the SYN-ACK
        tcp_ecn_rcv_synack(sk, flags)
        sk.snd_wl1 = cb.seq
        _ack.tcp_ack(sk, skb, FLAG_SLOWPATH)
        sk.rcv_nxt = (cb.seq + 1) & _M32
        sk.rcv_wup = sk.rcv_nxt
        sk.rcv_isn = cb.seq
        sk.snd_wnd = cb.window  # RFC 7323 2.2: not scaled in a SYN
        rx.mss_clamp = tmp.mss_clamp or rx.mss_clamp
        rx.sack_ok = tmp.sack_ok
        if tmp.wscale_ok:
            rx.wscale_ok = True
            rx.snd_wscale = tmp.snd_wscale
        else:
            rx.wscale_ok = False
            rx.snd_wscale = rx.rcv_wscale = 0
            sk.window_clamp = min(sk.window_clamp, 65535)
        if tmp.saw_tstamp:
            rx.tstamp_ok = True
            sk.tcp_header_len = 32
            sk.advmss -= 12
            _in.tcp_store_ts_recent(sk)
        else:
            rx.tstamp_ok = False
            sk.tcp_header_len = 20
        tcp_sync_mss(sk, sk.icsk_pmtu_cookie)
        tcp_initialize_rcv_mss(sk)
        sk.copied_seq = sk.rcv_nxt
        sk.max_window = max(sk.max_window, sk.snd_wnd)
        tcp_finish_connect(sk)
        fastopen_fail = (sk.syn_fastopen or sk.syn_data) and \
            tcp_rcv_fastopen_synack(sk, skb, foc)
        sk.sk_state_change()
        if fastopen_fail:
            return -1
        if sk.sk_write_pending or sk.inet_csk_in_pingpong_mode():
            _in.tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS)
            _ctl.tcp_send_delayed_ack(sk)
        else:
            _ctl.tcp_send_ack(sk)
        return -1
    if flags & TCPHDR_RST:
        _in.tcp_drop(sk, skb, R.TCP_RESET, "tcp_rcv_synsent_state_process")
        return 0
    if flags & TCPHDR_SYN:
        # simultaneous open (RFC 9293 3.5 figure 8)
        tcp_set_state(sk, TCP_SYN_RECV)
        tcp_ecn_rcv_syn(sk, flags)
        if tmp.saw_tstamp:
            rx.tstamp_ok = True
            _in.tcp_store_ts_recent(sk)
            sk.tcp_header_len = 32
        else:
            sk.tcp_header_len = 20
        rx.mss_clamp = tmp.mss_clamp or rx.mss_clamp
        rx.sack_ok = tmp.sack_ok
        if tmp.wscale_ok:
            rx.wscale_ok = True
            rx.snd_wscale = tmp.snd_wscale
        else:
            rx.wscale_ok = False
            rx.snd_wscale = rx.rcv_wscale = 0
        sk.rcv_nxt = (cb.seq + 1) & _M32
        sk.copied_seq = sk.rcv_nxt
        sk.rcv_wup = sk.rcv_nxt
        sk.rcv_isn = cb.seq
        sk.snd_wnd = cb.window
        sk.snd_wl1 = cb.seq
        sk.max_window = sk.snd_wnd
        tcp_sync_mss(sk, sk.icsk_pmtu_cookie)
        tcp_initialize_rcv_mss(sk)
        _ctl.tcp_send_synack(sk)
        sk.host.consume_skb(skb, "tcp_rcv_synsent_state_process")
        return 0
    _in.tcp_drop(sk, skb, R.TCP_FLAGS, "tcp_rcv_synsent_state_process")
    return 0


def tcp_fin_wait1_acked(sk: TcpSock, skb: SkBuff) -> R | bool:
    """The FIN_WAIT1 -> FIN_WAIT2 step of tcp_rcv_state_process: True if consumed,
    False to go on, or TCP_ABORT_ON_DATA for an orphan that must answer with a RST."""
    cb = tcp_cb(skb)
    tcp_set_state(sk, TCP_FIN_WAIT2)
    sk.sk_shutdown |= SEND_SHUTDOWN
    if "SOCK_DEAD" not in sk.sock_flags:
        sk.sk_state_change()
        return False
    if sk.linger2 < 0:
        _proto.tcp_done(sk)
        sk.host.mib.tcpext.TCPAbortOnData += 1
        return R.TCP_ABORT_ON_DATA
    if cb.end_seq != cb.seq and after((cb.end_seq - (1 if cb.tcp_flags & TCPHDR_FIN else 0))
                                      & _M32, sk.rcv_nxt):
        # RFC 793 does not say; data after our close: reset (TCPAbortOnData)
        sk.host.mib.tcpext.TCPAbortOnData += 1
        _proto.tcp_done(sk)
        return R.TCP_ABORT_ON_DATA
    tmo = _proto.tcp_fin_time(sk)
    if tmo > TCP_TIMEWAIT_LEN:
        _timer.inet_csk_reset_keepalive_timer(sk, tmo - TCP_TIMEWAIT_LEN)
    elif cb.tcp_flags & TCPHDR_FIN:
        _timer.inet_csk_reset_keepalive_timer(sk, tmo)
    else:
        from tuxnet.tcp.minisocks import tcp_time_wait

        tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)
        sk.host.consume_skb(skb, "tcp_rcv_state_process")
        return True
    return False


def tcp_rcv_state_process(sk: TcpSock, skb: SkBuff) -> R | None:
    """tcp_rcv_state_process() (RFC 9293 3.10.7): None when the segment was consumed,
    else the drop reason of a segment the caller must answer with a RST and free."""
    cb = tcp_cb(skb)
    flags = cb.tcp_flags
    state = sk.sk_state
    if state == TCP_CLOSE:
        _in.tcp_drop(sk, skb, R.TCP_CLOSE, "tcp_rcv_state_process")
        return None
    if state == TCP_LISTEN:
        if flags & TCPHDR_ACK:
            return R.TCP_FLAGS
        if flags & TCPHDR_RST:
            _in.tcp_drop(sk, skb, R.TCP_RESET, "tcp_rcv_state_process")
            return None
        if flags & TCPHDR_SYN:
            if flags & TCPHDR_FIN:
                _in.tcp_drop(sk, skb, R.TCP_FLAGS, "tcp_rcv_state_process")
                return None
            from tuxnet.tcp.ipv4 import tcp_v4_conn_request

            tcp_v4_conn_request(sk, skb)
            return None
        _in.tcp_drop(sk, skb, R.TCP_FLAGS, "tcp_rcv_state_process")
        return None
    if state == TCP_SYN_SENT:
        sk.tcp_mstamp_refresh()
        queued = tcp_rcv_synsent_state_process(sk, skb)
        if queued > 0:
            return sk.synsent_drop_reason
        if queued == 0:
            return None
        # the ACK/data of the SYN-ACK
        _in.tcp_data_snd_check(sk)
        sk.host.consume_skb(skb, "tcp_rcv_state_process")
        return None
    sk.tcp_mstamp_refresh()
    sk.rx_opt.saw_tstamp = False
    req = sk.fastopen_rsk
    if req is not None:
        nsk, why = tcp_check_req(sk, skb, req, fastopen=True)
        if nsk is None:  # handled (a SYN-ACK resent) or refused: discard with a reason
            _in.tcp_drop(sk, skb, why or R.TCP_FASTOPEN, "tcp_rcv_state_process")
            return None
    if not flags & (TCPHDR_ACK | TCPHDR_RST | TCPHDR_SYN):
        _in.tcp_drop(sk, skb, R.TCP_FLAGS, "tcp_rcv_state_process")
        return None
    if not _in.tcp_validate_incoming(sk, skb, False):
        return None
    # step 5: the ACK field
    acceptable = _ack.tcp_ack(sk, skb, FLAG_SLOWPATH | FLAG_UPDATE_TS_RECENT |
                              FLAG_NO_CHALLENGE_ACK) > 0
    if not acceptable:
        if sk.sk_state == TCP_SYN_RECV:
            return R.TCP_OLD_ACK  # RFC 9293 3.10.7.4: a RST for an unacceptable ACK
        _in.tcp_send_challenge_ack(sk)
        _in.tcp_drop(sk, skb, R.TCP_OLD_ACK, "tcp_rcv_state_process")
        return None
    state = sk.sk_state
    if state == TCP_FIN_WAIT1 and req is not None:
        tcp_rcv_synrecv_state_fastopen(sk)  # a Fast Open child closed before the ACK
    if state == TCP_SYN_RECV:
        sk.delivered += 1
        if not sk.srtt_us:
            tcp_synack_rtt_meas(sk)
        if req is not None:
            tcp_rcv_synrecv_state_fastopen(sk)
        else:
            sk.retrans_stamp = 0
            if sk.rx_opt.tstamp_ok:
                # 6.16+: before tcp_init_transfer, so rcvq_space is 10 x the real advmss
                sk.advmss -= 12
            tcp_init_transfer(sk)
            sk.copied_seq = sk.rcv_nxt
        tcp_set_state(sk, TCP_ESTABLISHED)
        sk.sk_state_change()
        sk.snd_una = cb.ack_seq
        sk.snd_wnd = cb.window << sk.rx_opt.snd_wscale
        sk.snd_wl1 = cb.seq
        ops = sk.icsk_ca_ops
        if ops is not None and not ops.HAS_CONG_CONTROL:
            tcp_update_pacing_rate(sk)
        sk.lsndtime = sk.jiffies()
        tcp_initialize_rcv_mss(sk)
        _q.tcp_fast_path_on(sk)
        if sk.sk_shutdown & SEND_SHUTDOWN:
            _proto.tcp_shutdown(sk, SEND_SHUTDOWN)
    elif sk.snd_una == sk.write_seq:  # our FIN is acknowledged
        if state == TCP_FIN_WAIT1:
            done = tcp_fin_wait1_acked(sk, skb)
            if done is not False:  # the caller sends the RST for TCP_ABORT_ON_DATA
                return done if isinstance(done, R) else None
        if state == TCP_CLOSING:
            from tuxnet.tcp.minisocks import tcp_time_wait

            tcp_time_wait(sk, TCP_TIME_WAIT, 0)
            sk.host.consume_skb(skb, "tcp_rcv_state_process")
            return None
        if state == TCP_LAST_ACK:
            _proto.tcp_done(sk)
            sk.host.consume_skb(skb, "tcp_rcv_state_process")
            return None
    # step 7: the segment text
    state = sk.sk_state
    if state in (TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK) and \
            not before(cb.seq, sk.rcv_nxt):
        # data past the peer's FIN is ignored
        sk.host.consume_skb(skb, "tcp_rcv_state_process")
    elif state in (TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK) \
            and sk.sk_shutdown & RCV_SHUTDOWN and \
            cb.end_seq != cb.seq and \
            after((cb.end_seq - (1 if flags & TCPHDR_FIN else 0)) & _M32, sk.rcv_nxt):
        sk.host.mib.tcpext.TCPAbortOnData += 1
        _in.tcp_reset(sk, skb)
        return R.TCP_ABORT_ON_DATA
    else:
        _q.tcp_data_queue(sk, skb)
    if sk.sk_state != TCP_CLOSE:
        _in.tcp_data_snd_check(sk)
        _in.tcp_ack_snd_check(sk)
    return None


def tcp_synack_rtt_meas(sk: TcpSock) -> None:
    """tcp_synack_rtt_meas(): the first RTT sample of a passive open, from the SYN-ACK
    send time when it was never retransmitted (Karn), else from TSecr."""
    rtt_us = -1
    if sk.synack_stamp_us:
        rtt_us = tcp_clock_us(sk.host) - sk.synack_stamp_us
    from tuxnet.tcp.defs import FLAG_SYN_ACKED

    _ack.tcp_ack_update_rtt(sk, FLAG_SYN_ACKED, rtt_us, -1, rtt_us)

