"""Request and TIME_WAIT sockets (net/ipv4/tcp_minisocks.c: tcp_check_req,
tcp_create_openreq_child, tcp_time_wait, tcp_timewait_state_process, tcp_child_process;
net/ipv4/inet_connection_sock.c: reqsk_timer_handler, inet_csk_complete_hashdance,
inet_csk_reqsk_queue_add; net/ipv4/inet_timewait_sock.c).

A SYN to a listener makes a :class:`TcpRequestSock` (state TCP_NEW_SYN_RECV) hashed
by 4-tuple, counted in the listener's SYN queue (``reqsk_qlen``) and answered with a
SYN-ACK, retransmitted at 1, 3, 7, 15, 31 s until tcp_synack_retries (5) is used
up. The ACK that completes the handshake creates the full child socket
(tcp_create_openreq_child), puts it where the request was and on the listener's
accept queue. A closed connection that must linger becomes a small
:class:`TcpTimewaitSock` for TCP_TIMEWAIT_LEN (60 s; RFC 9293 3.6.1 2 x MSL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.tcp import proto as _proto
from tuxnet.tcp.defs import (
    HZ,
    NSEC_PER_JIFFY,
    TCP_FIN_WAIT2,
    TCP_LISTEN,
    TCP_NEW_SYN_RECV,
    TCP_PAWS_24DAYS,
    TCP_PAWS_WINDOW,
    TCP_RTO_MAX,
    TCP_SYN_RECV,
    TCP_TIME_WAIT,
    TCP_TIMEOUT_INIT,
    TCP_TIMEWAIT_LEN,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_RST,
    TCPHDR_SYN,
)
from tuxnet.tcp.ecn import tcp_ecn_openreq_child
from tuxnet.tcp.options import TcpRxOptions, tcp_parse_options
from tuxnet.tcp.seq import after, before
from tuxnet.tcp.sock import TcpSock, inet_sk_set_state, ktime_get_seconds, tcp_cb

if TYPE_CHECKING:
    from tuxnet.loop import TimerHandle
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.netns import TcpDst, TcpNet

__all__ = ["TcpRequestSock", "TcpTimewaitSock", "tcp_check_req", "tcp_child_process",
           "tcp_time_wait", "tcp_timewait_state_process"]

_M32 = 0xFFFFFFFF
TCP_TW_SUCCESS = 0
TCP_TW_RST = 1
TCP_TW_ACK = 2
TCP_TW_SYN = 3


def tcp_in_window(seq: int, end_seq: int, s_win: int, e_win: int) -> bool:
    """tcp_in_window()."""
    if seq == s_win:
        return True
    if after(end_seq, s_win) and before(seq, e_win):
        return True
    return seq == e_win and seq == end_seq


def _paws_reject(now_s: int, ts_recent: int, ts_recent_stamp: int, rcv_tsval: int,
                 rst: bool) -> bool:
    """tcp_paws_reject() with tcp_paws_check (RFC 7323 5)."""
    if ((ts_recent - rcv_tsval + 0x80000000) & _M32) - 0x80000000 <= TCP_PAWS_WINDOW:
        return False
    if now_s >= ts_recent_stamp + TCP_PAWS_24DAYS or not ts_recent:
        return False
    # RST segments are not recommended to carry timestamps: accept an RST whose TS
    # is old only when TS.Recent itself is older than MSL
    return not (rst and now_s >= ts_recent_stamp + 60)


class TcpRequestSock:
    """struct tcp_request_sock (inet_request_sock): a half-open passive connection."""

    def __init__(self, listener: TcpSock) -> None:
        self.rsk_listener = listener
        self.host = listener.host
        self.sk_state = TCP_NEW_SYN_RECV
        self.inet_rcv_saddr = 0  # ir_loc_addr
        self.inet_num = 0  # ir_num
        self.inet_daddr = 0  # ir_rmt_addr
        self.inet_dport = 0  # ir_rmt_port
        self.snt_isn = 0
        self.rcv_isn = 0
        self.rcv_nxt = 0
        self.mss = 0
        self.ts_recent = 0
        self.ts_off = 0
        # TSval (ts_off included) of the first and the latest SYN-ACK, set by
        # tcp_synack_options; tcp_check_req accepts a TSecr between them (Linux 6.15+)
        self.snt_tsval_first = 0
        self.snt_tsval_last = 0
        self.tstamp_ok = False
        self.sack_ok = False
        self.wscale_ok = False
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.acked = False
        self.syncookie = False
        self.snt_synack = 0  # µs of the first SYN-ACK
        self.num_retrans = 0
        self.num_timeout = 0
        self.timeout = TCP_TIMEOUT_INIT  # jiffies (tcp_timeout_init)
        self.rsk_rcv_wnd = 0
        self.rsk_window_clamp = 0
        self.rsk_timer: TimerHandle | None = None
        self.last_oow_ack_time = 0
        self.hashed = False
        self.dst: TcpDst | None = None
        self.tos = 0
        self.ecn_ok = False  # inet_rsk(req)->ecn_ok (tcp/ecn.py)
        self.tfo_listener = False  # a Fast Open child holds it (tcp_fastopen.c)
        self.sk: TcpSock | None = None  # that child, until accept() takes it

    def __repr__(self) -> str:
        return f"<TcpRequestSock :{self.inet_num} <- :{self.inet_dport} isn={self.snt_isn}>"


def reqsk_timeout(req: TcpRequestSock, max_timeout: int) -> int:
    """reqsk_timeout(): timeout << num_timeout, capped."""
    return min(req.timeout << req.num_timeout, max_timeout)


def inet_csk_reqsk_queue_hash_add(listener: TcpSock, req: TcpRequestSock) -> bool:
    """inet_csk_reqsk_queue_hash_add(): hash the request, start its timer, count it in
    the SYN queue (qlen, young)."""
    if not listener.net.inet_ehash_insert(req):
        return False
    listener.reqsk_qlen += 1
    listener.reqsk_young += 1
    _reqsk_arm(req, req.timeout)
    return True


def _reqsk_arm(req: TcpRequestSock, jiffies: int) -> None:
    if req.rsk_timer is not None:
        req.rsk_timer.cancel()
    req.rsk_timer = req.host.loop.call_later(jiffies * NSEC_PER_JIFFY, reqsk_timer_handler,
                                             req)


def inet_csk_reqsk_queue_drop(listener: TcpSock, req: TcpRequestSock) -> bool:
    """inet_csk_reqsk_queue_drop(): unhash, stop the timer, leave the SYN queue."""
    if req.rsk_timer is not None:
        req.rsk_timer.cancel()
        req.rsk_timer = None
    if not req.hashed:
        return False
    listener.net.unhash(req)
    listener.reqsk_qlen -= 1
    if req.num_timeout == 0:
        listener.reqsk_young -= 1
    return True


def reqsk_timer_handler(req: TcpRequestSock) -> None:
    """reqsk_timer_handler(): retransmit the SYN-ACK with backoff (TCPTimeouts,
    TCPSynRetrans, RetransSegs); old requests are pruned harder when the queue is more
    than half full of them; give up after tcp_synack_retries."""
    req.rsk_timer = None
    listener = req.rsk_listener
    if listener.sk_state != TCP_LISTEN or not req.hashed:
        inet_csk_reqsk_queue_drop(listener, req)
        return
    tn = listener.net
    max_retries = listener.icsk_syn_retries or tn.sysctl("tcp_synack_retries")
    qlen = listener.reqsk_qlen
    if (qlen << 1) > max(8, listener.sk_max_ack_backlog):
        young = listener.reqsk_young << 1
        while max_retries > 2:
            if qlen < young:
                break
            max_retries -= 1
            young <<= 1
    expire = req.num_timeout >= max_retries
    listener.host.mib.tcpext.TCPTimeouts += 1  # tcp_syn_ack_timeout
    if not expire:
        from tuxnet.tcp.ipv4 import tcp_rtx_synack

        tcp_rtx_synack(listener, req)
        if req.num_timeout == 0:
            listener.reqsk_young -= 1
        req.num_timeout += 1
        _reqsk_arm(req, reqsk_timeout(req, TCP_RTO_MAX))
        return
    inet_csk_reqsk_queue_drop(listener, req)


def tcp_create_openreq_child(listener: TcpSock, req: TcpRequestSock, skb: SkBuff) -> TcpSock:
    """tcp_create_openreq_child(): the full socket of an accepted connection, in
    SYN_RECV, its sequence space and options from the request (PassiveOpens)."""
    from tuxnet.tcp.proto import tcp_init_sock

    child = TcpSock(listener.host)
    tcp_init_sock(child)
    child.sk_state = TCP_LISTEN  # cloned from the listener (inet_csk_clone_lock)
    child.inet_rcv_saddr = child.inet_saddr = req.inet_rcv_saddr
    child.inet_num = child.inet_sport = req.inet_num
    child.inet_daddr = req.inet_daddr
    child.inet_dport = req.inet_dport
    child.sk_rcvbuf = listener.sk_rcvbuf
    child.sk_sndbuf = listener.sk_sndbuf
    child.sk_userlocks = listener.sk_userlocks
    child.sk_reuse = listener.sk_reuse  # sk_clone_lock copies the socket's flags
    child.sk_reuseport = listener.sk_reuseport
    child.sock_flags = set(listener.sock_flags) - {"SOCK_DEAD"}
    child.sk_tsflags = listener.sk_tsflags
    child.nonagle = listener.nonagle
    child.rx_opt.user_mss = listener.rx_opt.user_mss
    child.icsk_ca_ops = listener.icsk_ca_ops
    child.keepalive_time = listener.keepalive_time
    child.keepalive_intvl = listener.keepalive_intvl
    child.keepalive_probes = listener.keepalive_probes
    child.linger2 = listener.linger2
    child.icsk_user_timeout = listener.icsk_user_timeout
    child.icsk_syn_retries = listener.icsk_syn_retries
    child.tos = listener.tos
    child.uc_ttl = listener.uc_ttl
    child.sk_mark = listener.sk_mark
    inet_sk_set_state(child, TCP_SYN_RECV)
    tcp_ecn_openreq_child(child, req)
    child.pred_flags = 0
    seq = (req.rcv_isn + 1) & _M32
    child.rcv_wup = child.copied_seq = child.rcv_nxt = seq
    child.rcv_isn = req.rcv_isn
    child.segs_in = 1
    seq = (req.snt_isn + 1) & _M32
    child.snd_sml = child.snd_una = child.snd_nxt = child.snd_up = seq
    child.snt_isn = req.snt_isn
    child.snd_wl1 = req.rcv_isn
    now = child.jiffies()
    child.rtt_min.reset(now, 0xFFFFFFFF)
    child.icsk_ack.lrcvtime = now
    child.lsndtime = now
    child.total_retrans = req.num_retrans
    child.write_seq = child.pushed_seq = seq
    rx = child.rx_opt
    rx.tstamp_ok = req.tstamp_ok
    rx.sack_ok = req.sack_ok
    child.window_clamp = req.rsk_window_clamp
    child.rcv_ssthresh = req.rsk_rcv_wnd
    child.rcv_wnd = req.rsk_rcv_wnd
    rx.wscale_ok = req.wscale_ok
    if rx.wscale_ok:
        rx.snd_wscale = req.snd_wscale
        rx.rcv_wscale = req.rcv_wscale
    else:
        rx.snd_wscale = rx.rcv_wscale = 0
        child.window_clamp = min(child.window_clamp, 65535)
    child.snd_wnd = tcp_cb(skb).window << rx.snd_wscale
    child.max_window = child.snd_wnd
    if rx.tstamp_ok:
        rx.ts_recent = req.ts_recent
        rx.ts_recent_stamp = ktime_get_seconds(child.host)
        child.tcp_header_len = 32
    else:
        rx.ts_recent_stamp = 0
        child.tcp_header_len = 20
    if req.num_timeout:
        child.total_rto = req.num_timeout
        child.undo_marker = req.snt_isn
        child.retrans_stamp = (req.snt_synack // 1000) & _M32
    child.tsoffset = req.ts_off
    rx.mss_clamp = req.mss
    child.synack_stamp_us = req.snt_synack if not req.num_retrans else 0
    child.dst = req.dst
    if req.dst is not None and req.dst.congctl:  # tcp_ca_openreq_child: the route's congctl
        from tuxnet.tcp.cong import tcp_ca_dst_init

        tcp_ca_dst_init(child, req.dst.congctl, bool(
            req.dst.rt is not None and getattr(req.dst.rt, "congctl_locked", False)))
    if "SOCK_KEEPOPEN" in child.sock_flags:
        from tuxnet.tcp.timer import inet_csk_reset_keepalive_timer, keepalive_time_when

        inet_csk_reset_keepalive_timer(child, keepalive_time_when(child))
    child.host.mib.tcp.PassiveOpens += 1
    return child


def tcp_check_req(sk: TcpSock, skb: SkBuff, req: TcpRequestSock,
                  fastopen: bool = False) -> tuple[Any, R | None]:
    """tcp_check_req() (RFC 9293 3.10.7.4 for SYN-RECEIVED). ``sk`` is the listener,
    or with ``fastopen`` the Fast Open child that holds ``req`` (called from
    tcp_rcv_state_process before anything else looks at the segment). Returns (the
    child socket, None) for the ACK that completes the handshake (with ``fastopen``:
    (sk, None), go on with the segment), (the listener, None) when the listener must
    answer with a RST, or (None, drop reason or None if consumed)."""
    from tuxnet.tcp import ipv4 as _v4
    from tuxnet.tcp.input import tcp_oow_rate_limited

    cb = tcp_cb(skb)
    flg = cb.tcp_flags & (TCPHDR_ACK | TCPHDR_RST | TCPHDR_SYN | TCPHDR_FIN)
    tn = sk.net
    host = sk.host
    paws_reject = False
    tsecr_reject = False
    tmp = TcpRxOptions()
    if cb.hdr_len > 20:
        tcp_parse_options(tn, skb.data, 0, cb.hdr_len, bool(flg & TCPHDR_SYN), False, tmp)
        if tmp.saw_tstamp:
            if tmp.rcv_tsecr:
                # the TSecr must echo one of our SYN-ACKs' TSvals (compared as sent,
                # before ts_off comes off); not yet for Fast Open (Linux 6.15+)
                if req.tstamp_ok and not fastopen:
                    first = req.snt_tsval_first
                    tsecr_reject = ((tmp.rcv_tsecr - first) & _M32) > \
                        ((req.snt_tsval_last - first) & _M32)  # !between()
                tmp.rcv_tsecr = (tmp.rcv_tsecr - req.ts_off) & _M32
            now_s = ktime_get_seconds(host)
            stamp = now_s - reqsk_timeout(req, TCP_RTO_MAX) // HZ
            paws_reject = _paws_reject(now_s, req.ts_recent, stamp, tmp.rcv_tsval,
                                       bool(flg & TCPHDR_RST))
    if cb.seq == req.rcv_isn and flg == TCPHDR_SYN and not paws_reject:
        # a retransmitted SYN: resend the SYN-ACK (rate limited); a Fast Open child's
        # retransmit timer, not the request's, goes on resending it
        if not tcp_oow_rate_limited(sk, skb, "TCPACKSkippedSynRecv", req,
                                    "last_oow_ack_time"):
            _v4.tcp_rtx_synack(sk, req)
            if not fastopen:
                _reqsk_arm(req, reqsk_timeout(req, TCP_RTO_MAX))
        return None, None
    if flg & TCPHDR_ACK and not fastopen and cb.ack_seq != (req.snt_isn + 1) & _M32:
        return sk, None  # RFC 9293 3.10.7.3: the listener sends a RST
    if paws_reject or tsecr_reject or not tcp_in_window(
            cb.seq, cb.end_seq, req.rcv_nxt, (req.rcv_nxt + req.rsk_rcv_wnd) & _M32):
        if not flg & TCPHDR_RST and not tcp_oow_rate_limited(
                sk, skb, "TCPACKSkippedSynRecv", req, "last_oow_ack_time"):
            _v4.tcp_v4_reqsk_send_ack(sk, skb, req)
        if paws_reject:
            host.mib.tcpext.PAWSEstab += 1
            return None, R.TCP_RFC7323_PAWS
        if tsecr_reject:
            host.mib.tcpext.TSEcrRejected += 1
            return None, R.TCP_RFC7323_TSECR
        return None, R.TCP_OVERWINDOW
    # req.ts_recent stays the SYN's TSval (Linux 6.15+): the child takes the new one
    if cb.seq == req.rcv_isn:
        flg &= ~TCPHDR_SYN  # the SYN is out of the window that starts at rcv_isn + 1
    if flg & (TCPHDR_RST | TCPHDR_SYN):
        host.mib.tcp.AttemptFails += 1
        _embryonic_reset(sk, skb, req, flg, fastopen)
        return None, R.TCP_RESET if flg & TCPHDR_RST else R.TCP_INVALID_SYN
    if not flg & TCPHDR_ACK:
        return None, R.TCP_FLAGS
    if fastopen:
        return sk, None  # the child goes on with the segment
    if req.num_timeout < sk.rskq_defer_accept and cb.end_seq == (req.rcv_isn + 1) & _M32:
        req.acked = True
        host.mib.tcpext.TCPDeferAcceptDrop += 1
        return None, None
    child = _v4.tcp_v4_syn_recv_sock(sk, skb, req)
    if child is None:  # listen_overflow
        if not tn.sysctl("tcp_abort_on_overflow"):
            req.acked = True
            return None, R.TCP_LISTEN_OVERFLOW
        _embryonic_reset(sk, skb, req, flg, False)  # no AttemptFails on this way in
        return None, R.TCP_LISTEN_OVERFLOW
    if tmp.saw_tstamp and not after(cb.seq, req.rcv_nxt):
        child.rx_opt.ts_recent = tmp.rcv_tsval
    # inet_csk_complete_hashdance: the child replaces the request
    if req.rsk_timer is not None:
        req.rsk_timer.cancel()
        req.rsk_timer = None
    tn.ehash_replace(req, child)
    sk.reqsk_qlen -= 1
    if req.num_timeout == 0:
        sk.reqsk_young -= 1
    inet_csk_reqsk_queue_add(sk, child)
    return child, None


def _embryonic_reset(sk: TcpSock, skb: SkBuff, req: TcpRequestSock, flg: int,
                     fastopen: bool) -> None:
    """tcp_check_req()'s ``embryonic_reset`` label: a RST for a bad segment (a Fast
    Open child itself stays: an outsider must not reset a legitimate connection); a
    valid RST resets a Fast Open child; a request leaves the SYN queue."""
    if not flg & TCPHDR_RST:
        from tuxnet.tcp.ipv4 import tcp_v4_send_reset

        tcp_v4_send_reset(sk.host, sk, skb)
    elif fastopen:
        from tuxnet.tcp.fastopen import reqsk_fastopen_remove
        from tuxnet.tcp.input import tcp_reset

        reqsk_fastopen_remove(sk, req, True)
        tcp_reset(sk, skb)
    if not fastopen and inet_csk_reqsk_queue_drop(sk, req):
        sk.host.mib.tcpext.EmbryonicRsts += 1


def inet_csk_reqsk_queue_add(listener: TcpSock, child: TcpSock) -> None:
    """inet_csk_reqsk_queue_add(): onto the accept queue (sk_ack_backlog)."""
    child.parent = listener
    listener.icsk_accept_queue.append(child)
    listener.sk_ack_backlog += 1


def tcp_child_process(parent: TcpSock, child: TcpSock, skb: SkBuff) -> R | None:
    """tcp_child_process(): feed the completing segment to the new socket; wake the
    listener when the child became established."""
    from tuxnet.tcp.rcv_state import tcp_rcv_state_process

    state = child.sk_state
    child.segs_in += 1
    reason = tcp_rcv_state_process(child, skb)
    if state == TCP_SYN_RECV and child.sk_state != state:
        parent.sk_data_ready()
    return reason


# -- TIME_WAIT ----------------------------------------------------------------------

class TcpTimewaitSock:
    """struct tcp_timewait_sock: what a closed connection keeps during TIME_WAIT (or,
    orphaned, during FIN_WAIT2: ``tw_substate``)."""

    def __init__(self, sk: TcpSock, substate: int) -> None:
        self.host = sk.host
        self.net: TcpNet = sk.net
        self.sk_state = TCP_TIME_WAIT
        self.tw_substate = substate
        self.inet_rcv_saddr = sk.inet_rcv_saddr
        self.inet_saddr = sk.inet_saddr
        self.inet_num = sk.inet_num
        self.inet_sport = sk.inet_sport
        self.inet_daddr = sk.inet_daddr
        self.inet_dport = sk.inet_dport
        self.sk_reuse = sk.sk_reuse
        self.sk_reuseport = sk.sk_reuseport
        self.sk_bound_dev_if = sk.sk_bound_dev_if
        self.bind_by_connect = getattr(sk, "bind_by_connect", False)
        self.tw_rcv_wscale = sk.rx_opt.rcv_wscale
        self.tw_rcv_nxt = sk.rcv_nxt
        self.tw_snd_nxt = sk.snd_nxt
        self.tw_rcv_wnd = sk.tcp_receive_window()
        self.tw_ts_recent = sk.rx_opt.ts_recent
        self.tw_ts_recent_stamp = sk.rx_opt.ts_recent_stamp if sk.rx_opt.tstamp_ok else 0
        self.tw_ts_offset = sk.tsoffset
        self.tw_md5_key = sk.tcp_md5_key()  # its ACKs stay signed (RFC 2385)
        self.tw_last_oow_ack_time = 0
        self.tos = sk.tos
        self.dst = sk.dst
        self.hashed = False
        self.bound = False
        self.tw_timer: TimerHandle | None = None
        self.deadline = 0

    def __repr__(self) -> str:
        return f"<TcpTimewaitSock :{self.inet_num} -> :{self.inet_dport} sub={self.tw_substate}>"


def inet_twsk_schedule(tw: TcpTimewaitSock, timeo: int) -> None:
    """inet_twsk_schedule() / inet_twsk_reschedule(): die ``timeo`` jiffies from now."""
    tw.deadline = tw.host.loop.now_ns() + timeo * NSEC_PER_JIFFY
    h = tw.tw_timer
    if h is not None and not h.cancelled and h.when <= tw.deadline:
        return
    if h is not None:
        h.cancel()
    tw.tw_timer = tw.host.loop.call_at(tw.deadline, tw_timer_handler, tw)


def tw_timer_handler(tw: TcpTimewaitSock) -> None:
    """tw_timer_handler(): the TIME_WAIT period is over (TW counter)."""
    tw.tw_timer = None
    now = tw.host.loop.now_ns()
    if tw.deadline > now:
        tw.tw_timer = tw.host.loop.call_at(tw.deadline, tw_timer_handler, tw)
        return
    tw.host.mib.tcpext.TW += 1
    inet_twsk_kill(tw)


def inet_twsk_kill(tw: TcpTimewaitSock) -> None:
    """inet_twsk_kill() / inet_twsk_deschedule_put(): unhash and release the port."""
    if tw.tw_timer is not None:
        tw.tw_timer.cancel()
        tw.tw_timer = None
    tn = tw.net
    if tw.hashed:
        tn.unhash(tw)
        tn.tw_count -= 1
    if tw.bound:
        tn.inet_put_port(tw)


def tcp_time_wait(sk: TcpSock, state: int, timeo: int) -> None:
    """tcp_time_wait(): replace ``sk`` by a TIME_WAIT socket (``state`` TIME_WAIT: 60 s;
    FIN_WAIT2: ``timeo``, at least 3.5 x RTO), then finish ``sk`` (tcp_done)."""
    tn = sk.net
    if tn.tw_count < tn.sysctl("tcp_max_tw_buckets") and sk.hashed:
        tw = TcpTimewaitSock(sk, state)
        rto = (sk.icsk_rto << 2) - (sk.icsk_rto >> 1)
        if timeo < rto:
            timeo = rto
        if state == TCP_TIME_WAIT:
            timeo = TCP_TIMEWAIT_LEN
        tn.ehash_replace(sk, tw)
        tn.tw_count += 1
        if sk.bound:
            tn.bhash.setdefault(sk.inet_num, []).append(tw)
            tw.bound = True
        inet_twsk_schedule(tw, timeo)
    else:
        sk.host.mib.tcpext.TCPTimeWaitOverflow += 1
    _proto.tcp_done(sk)


def tcp_timewait_state_process(tw: TcpTimewaitSock,
                               skb: SkBuff) -> tuple[int, int, R | None]:
    """tcp_timewait_state_process() (RFC 9293 3.10.7.4 TIME-WAIT, RFC 1122 4.2.2.13):
    (TCP_TW_SUCCESS/RST/ACK/SYN, the ISN for a new connection on TCP_TW_SYN, the drop
    reason it sets: TCP_RFC7323_TW_PAWS for a segment failing PAWS in TIME_WAIT)."""
    from tuxnet.tcp.input import _oow_rate_limited_tw

    cb = tcp_cb(skb)
    flags = cb.tcp_flags
    rcv_nxt = tw.tw_rcv_nxt
    tn = tw.net
    paws_reject = False
    saw_tstamp = False
    rcv_tsval = 0
    now_s = ktime_get_seconds(tw.host)
    if cb.hdr_len > 20 and tw.tw_ts_recent_stamp:
        tmp = TcpRxOptions()
        tcp_parse_options(tn, skb.data, 0, cb.hdr_len, bool(flags & TCPHDR_SYN), False, tmp)
        if tmp.saw_tstamp:
            saw_tstamp = True
            rcv_tsval = tmp.rcv_tsval
            paws_reject = _paws_reject(now_s, tw.tw_ts_recent, tw.tw_ts_recent_stamp,
                                       rcv_tsval, bool(flags & TCPHDR_RST))
    if tw.tw_substate == TCP_FIN_WAIT2:
        if paws_reject or not tcp_in_window(cb.seq, cb.end_seq, rcv_nxt,
                                            (rcv_nxt + tw.tw_rcv_wnd) & _M32):
            return _oow_rate_limited_tw(tw, skb, "TCPACKSkippedFinWait2"), 0, None
        if flags & TCPHDR_RST:
            inet_twsk_kill(tw)
            return TCP_TW_SUCCESS, 0, None
        if flags & TCPHDR_SYN and not before(cb.seq, rcv_nxt):
            return TCP_TW_RST, 0, None
        if not flags & TCPHDR_ACK or not after(cb.end_seq, rcv_nxt) or cb.end_seq == cb.seq:
            return TCP_TW_SUCCESS, 0, None
        if not flags & TCPHDR_FIN or cb.end_seq != (rcv_nxt + 1) & _M32:
            return TCP_TW_RST, 0, None
        # the FIN: into true TIME_WAIT
        tw.tw_substate = TCP_TIME_WAIT
        tw.tw_rcv_nxt = cb.end_seq
        if saw_tstamp:
            tw.tw_ts_recent_stamp = now_s
            tw.tw_ts_recent = rcv_tsval
        inet_twsk_schedule(tw, TCP_TIMEWAIT_LEN)
        return TCP_TW_ACK, 0, None
    if not paws_reject and cb.seq == rcv_nxt and (cb.seq == cb.end_seq or flags & TCPHDR_RST):
        if flags & TCPHDR_RST:
            if not tn.sysctl("tcp_rfc1337"):
                inet_twsk_kill(tw)  # TIME_WAIT assassination (RFC 1337)
                return TCP_TW_SUCCESS, 0, None
        else:
            inet_twsk_schedule(tw, TCP_TIMEWAIT_LEN)
        if saw_tstamp:
            tw.tw_ts_recent = rcv_tsval
            tw.tw_ts_recent_stamp = now_s
        return TCP_TW_SUCCESS, 0, None
    if flags & TCPHDR_SYN and not flags & (TCPHDR_RST | TCPHDR_ACK) and not paws_reject and (
            after(cb.seq, rcv_nxt) or
            (saw_tstamp and ((tw.tw_ts_recent - rcv_tsval) & _M32) >= 0x80000000)):
        isn = (tw.tw_snd_nxt + 65535 + 2) & _M32
        return TCP_TW_SYN, isn or 1, None
    reason = None
    if paws_reject:  # Linux 6.16+: LINUX_MIB_PAWS_TW_REJECTED and its own drop reason
        tw.host.mib.tcpext.PAWSTimewait += 1
        reason = R.TCP_RFC7323_TW_PAWS
    if not flags & TCPHDR_RST:
        if paws_reject or flags & TCPHDR_ACK:
            inet_twsk_schedule(tw, TCP_TIMEWAIT_LEN)
        return _oow_rate_limited_tw(tw, skb, "TCPACKSkippedTimeWait"), 0, reason
    return TCP_TW_SUCCESS, 0, reason

