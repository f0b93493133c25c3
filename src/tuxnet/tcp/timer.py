"""TCP timers (net/ipv4/tcp_timer.c: tcp_write_timer_handler, tcp_retransmit_timer,
tcp_write_timeout, retransmits_timed_out, tcp_model_timeout, tcp_probe_timer,
tcp_delack_timer_handler, tcp_keepalive_timer, tcp_compressed_ack_kick;
include/net/inet_connection_sock.h: inet_csk_reset_xmit_timer, inet_csk_clear_xmit_timer;
net/ipv4/tcp_output.c: tcp_schedule_loss_probe, tcp_rearm_rto, tcp_check_probe_timer).

Each socket has the kernel's timers as loop handles: the retransmit timer (one of
RETRANS / PROBE0 / LOSS_PROBE / REO_TIMEOUT pending in ``icsk_pending``), the
delayed-ACK timer, ``sk_timer`` (keepalive and the orphaned FIN_WAIT2 timeout) and
the SACK-compression timer. As with mod_timer on a timer wheel, moving a deadline
later does not reschedule: the handler finds its deadline still ahead and re-arms
(``time_after(icsk_timeout, jiffies)``), so an ACK stream does not grow the heap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp import control as _ctl
from tuxnet.tcp import proto as _proto
from tuxnet.tcp import recovery as _rec
from tuxnet.tcp import retrans as _rtx
from tuxnet.tcp.defs import (
    ICSK_ACK_TIMER,
    ICSK_TIME_LOSS_PROBE,
    ICSK_TIME_PROBE0,
    ICSK_TIME_REO_TIMEOUT,
    ICSK_TIME_RETRANS,
    NSEC_PER_JIFFY,
    TCP_ATO_MIN,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT2,
    TCP_RESOURCE_PROBE_INTERVAL,
    TCP_RTO_MAX,
    TCP_RTO_MIN,
    TCP_SYN_SENT,
    TCP_TIMEOUT_INIT,
    TCP_TIMEOUT_MIN,
    TCP_TIMEOUT_MIN_US,
    TCP_TIMEWAIT_LEN,
    TCPF_CLOSE,
    TCPF_LISTEN,
    TCPF_SYN_RECV,
    TCPF_SYN_SENT,
    USEC_PER_JIFFY,
    TCP_CA_Disorder,
    TCP_CA_Loss,
    TCP_CA_Recovery,
    usecs_to_jiffies,
)
from tuxnet.tcp.mtu_probe import tcp_mtu_probing
from tuxnet.tcp.sock import jiffies_to_loop_ns

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuxnet.tcp.sock import TcpSock

__all__ = ["inet_csk_clear_xmit_timer", "inet_csk_delete_keepalive_timer",
           "inet_csk_reset_keepalive_timer", "inet_csk_reset_xmit_timer",
           "tcp_check_probe_timer", "tcp_clear_xmit_timers", "tcp_probe0_when",
           "tcp_rearm_rto", "tcp_reset_delack_timer", "tcp_schedule_loss_probe",
           "tcp_set_xmit_timer"]


def _arm(sk: TcpSock, attr: str, when_ns: int, fn: Callable[[TcpSock], None]) -> None:
    """sk_reset_timer(): keep an armed handle that fires no later than ``when_ns``."""
    h = getattr(sk, attr)
    if h is not None and not h.cancelled and h.when <= when_ns:
        return
    if h is not None:
        h.cancel()
    setattr(sk, attr, sk.host.loop.call_at(when_ns, fn, sk))


# -- the retransmit timer ----------------------------------------------------------

def inet_csk_reset_xmit_timer(sk: TcpSock, what: int, when: int, max_when: int) -> None:
    """inet_csk_reset_xmit_timer(): ``what`` fires ``when`` jiffies from now."""
    when = min(when, max_when)
    sk.icsk_pending = what
    sk.icsk_timeout = sk.host.loop.now_ns() + when * NSEC_PER_JIFFY
    _arm(sk, "icsk_retransmit_timer", sk.icsk_timeout, tcp_write_timer)


def inet_csk_clear_xmit_timer(sk: TcpSock, what: int) -> None:
    """inet_csk_clear_xmit_timer(): the timer may still fire and will find nothing."""
    if what == 2:  # ICSK_TIME_DACK
        sk.icsk_ack.pending = 0
    else:
        sk.icsk_pending = 0


def tcp_clear_xmit_timers(sk: TcpSock) -> None:
    """tcp_clear_xmit_timers() / inet_csk_clear_xmit_timers(): stop everything."""
    sk.icsk_pending = 0
    sk.icsk_ack.pending = 0
    for attr in ("icsk_retransmit_timer", "icsk_delack_timer", "compressed_ack_timer"):
        h = getattr(sk, attr)
        if h is not None:
            h.cancel()
            setattr(sk, attr, None)
    sk.compressed_ack = 0


def tcp_write_timer(sk: TcpSock) -> None:
    """tcp_write_timer_handler(): dispatch on icsk_pending."""
    sk.icsk_retransmit_timer = None
    if (1 << sk.sk_state) & (TCPF_CLOSE | TCPF_LISTEN) or not sk.icsk_pending:
        return
    now = sk.host.loop.now_ns()
    if sk.icsk_timeout > now:
        _arm(sk, "icsk_retransmit_timer", sk.icsk_timeout, tcp_write_timer)
        return
    sk.tcp_mstamp_refresh()
    event = sk.icsk_pending
    if event == ICSK_TIME_REO_TIMEOUT:
        _rec.tcp_rack_reo_timeout(sk)
    elif event == ICSK_TIME_LOSS_PROBE:
        _rtx.tcp_send_loss_probe(sk)
    elif event == ICSK_TIME_RETRANS:
        sk.icsk_pending = 0
        tcp_retransmit_timer(sk)
    elif event == ICSK_TIME_PROBE0:
        sk.icsk_pending = 0
        tcp_probe_timer(sk)


def tcp_rto_delta_us(sk: TcpSock) -> int:
    """tcp_rto_delta_us(): how far in the future the head's RTO lies."""
    head = sk.tcp_rtx_queue[0]
    rto_time_stamp_us = head.cb.tx_mstamp + sk.icsk_rto * USEC_PER_JIFFY
    return int(rto_time_stamp_us - sk.tcp_mstamp)


def tcp_rearm_rto(sk: TcpSock) -> None:
    """tcp_rearm_rto(): restart the RTO from now (less the time a TLP or RACK timer
    already ran); not while a Fast Open child's timer resends its SYN-ACK."""
    if sk.fastopen_rsk is not None:
        return
    if not sk.packets_out:
        inet_csk_clear_xmit_timer(sk, ICSK_TIME_RETRANS)
        return
    rto = sk.icsk_rto
    if sk.icsk_pending in (ICSK_TIME_REO_TIMEOUT, ICSK_TIME_LOSS_PROBE) and sk.tcp_rtx_queue:
        rto = usecs_to_jiffies(max(tcp_rto_delta_us(sk), 1))
    inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, rto, TCP_RTO_MAX)


def tcp_schedule_loss_probe(sk: TcpSock, advancing_rto: bool) -> bool:
    """tcp_schedule_loss_probe() (RFC 8985 7.2): PTO = 2 x SRTT (+ rto_min with one
    packet out for the delayed ACK, else + 2 jiffies), no later than the RTO. None
    before a Fast Open child's handshake completes."""
    early_retrans = sk.net.sysctl("tcp_early_retrans")
    if early_retrans not in (3, 4) or not sk.packets_out or not sk.tcp_is_sack() or \
            sk.icsk_ca_state not in (0, 2) or sk.fastopen_rsk is not None:
        return False
    if sk.srtt_us:
        timeout_us = sk.srtt_us >> 2
        if sk.packets_out == 1:
            timeout_us += tcp_rto_min_us(sk)
        else:
            timeout_us += TCP_TIMEOUT_MIN_US
        timeout = usecs_to_jiffies(timeout_us)
    else:
        timeout = TCP_TIMEOUT_INIT
    rto_delta_us = sk.icsk_rto * USEC_PER_JIFFY if advancing_rto else (
        tcp_rto_delta_us(sk) if sk.tcp_rtx_queue else 0)
    if rto_delta_us > 0:
        timeout = min(timeout, usecs_to_jiffies(rto_delta_us))
    inet_csk_reset_xmit_timer(sk, ICSK_TIME_LOSS_PROBE, timeout, TCP_RTO_MAX)
    return True


def tcp_set_xmit_timer(sk: TcpSock) -> None:
    """tcp_set_xmit_timer(): a loss probe if one applies, else the RTO."""
    if not tcp_schedule_loss_probe(sk, True):
        tcp_rearm_rto(sk)


def tcp_rto_min(sk: TcpSock) -> int:
    """tcp_rto_min(): the route's rto_min, else the socket's (200 ms)."""
    dst = sk.dst
    if dst is not None and dst.rto_min:
        return dst.rto_min
    return sk.icsk_rto_min


def tcp_rto_min_us(sk: TcpSock) -> int:
    """tcp_rto_min_us()."""
    return tcp_rto_min(sk) * USEC_PER_JIFFY


def tcp_model_timeout(sk: TcpSock, boundary: int, rto_base: int) -> int:
    """tcp_model_timeout(): ms an RTO backoff from rto_base takes to do ``boundary``
    retransmissions (doubling up to TCP_RTO_MAX, then linear)."""
    linear_backoff_thresh = (TCP_RTO_MAX // rto_base).bit_length() - 1
    if boundary <= linear_backoff_thresh:
        timeout = ((2 << boundary) - 1) * rto_base
    else:
        timeout = (((2 << linear_backoff_thresh) - 1) * rto_base +
                   (boundary - linear_backoff_thresh) * TCP_RTO_MAX)
    return timeout  # jiffies == ms at HZ 1000


def retransmits_timed_out(sk: TcpSock, boundary: int, timeout: int) -> bool:
    """retransmits_timed_out(): has the first retransmission been ``boundary``
    backoffs ago (924.6 s for tcp_retries2 = 15)?"""
    if not sk.icsk_retransmits:
        return False
    start_ts = sk.retrans_stamp
    if timeout == 0:
        rto_base = TCP_RTO_MIN
        if (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV):
            rto_base = TCP_TIMEOUT_INIT
        timeout = tcp_model_timeout(sk, boundary, rto_base)
    elapsed = (sk.tcp_time_stamp_ts() - start_ts) & 0xFFFFFFFF
    return elapsed >= timeout


def tcp_orphan_retries(sk: TcpSock, alive: bool) -> int:
    """tcp_orphan_retries(): 8 for an orphan still alive when the sysctl is 0."""
    retries = sk.net.sysctl("tcp_orphan_retries")
    if sk.sk_err_soft and not alive:
        retries = 0
    if retries == 0 and alive:
        retries = 8
    return retries


def tcp_write_timeout(sk: TcpSock) -> bool:
    """tcp_write_timeout(): give up after tcp_syn_retries (+ tcp_syn_linear_timeouts in
    SYN_SENT) SYNs, or tcp_retries2 worth of backoff (orphans: tcp_orphan_retries)."""
    tn = sk.net
    expired = False
    if (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV):
        retry_until = sk.icsk_syn_retries or tn.sysctl("tcp_syn_retries")
        max_retransmits = retry_until
        if sk.sk_state == TCP_SYN_SENT:
            max_retransmits += tn.sysctl("tcp_syn_linear_timeouts")
        expired = sk.icsk_retransmits >= max_retransmits
    else:
        if retransmits_timed_out(sk, tn.sysctl("tcp_retries1"), 0):
            tcp_mtu_probing(sk)  # black hole detection (RFC 4821 sec. 8)
        retry_until = tn.sysctl("tcp_retries2")
        if "SOCK_DEAD" in sk.sock_flags:
            alive = sk.icsk_rto < TCP_RTO_MAX
            retry_until = tcp_orphan_retries(sk, alive)
    if not expired:
        expired = retransmits_timed_out(sk, retry_until, sk.icsk_user_timeout)
    if sk.syn_fastopen or sk.syn_data or sk.syn_data_acked:
        from tuxnet.tcp.fastopen_client import tcp_fastopen_active_detect_blackhole

        tcp_fastopen_active_detect_blackhole(sk, expired)
    if expired:
        tcp_write_err(sk)
        return True
    return False


def tcp_write_err(sk: TcpSock) -> None:
    """tcp_write_err(): ETIMEDOUT (or the soft error), TCPAbortOnTimeout."""
    _proto.tcp_done_with_error(sk, sk.sk_err_soft or 110)  # ETIMEDOUT
    sk.host.mib.tcpext.TCPAbortOnTimeout += 1


def tcp_retransmit_timer(sk: TcpSock) -> None:
    """tcp_retransmit_timer() (RFC 6298 5.4-5.7): enter Loss, retransmit the head,
    back off (SYN_SENT: the first tcp_syn_linear_timeouts timeouts keep the RTO). A Fast
    Open child resends only its SYN-ACK until the handshake completes."""
    req = sk.fastopen_rsk
    if req is not None:
        from tuxnet.tcp.fastopen import tcp_fastopen_synack_timer

        tcp_fastopen_synack_timer(sk, req)
        return
    if not sk.packets_out or not sk.tcp_rtx_queue:
        return
    tcpext = sk.host.mib.tcpext
    head = sk.tcp_rtx_queue[0]
    if not sk.snd_wnd and "SOCK_DEAD" not in sk.sock_flags and \
            not (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV):
        # The receiver shrank the window to zero: our retransmits are zero-window
        # probes and time out only when the peer stays silent (tcp_rtx_probe0_timed_out).
        start = sk.retrans_stamp or (head.cb.tx_mstamp // 1000)
        rtx_delta = (sk.tcp_time_stamp_ts() - start) & 0xFFFFFFFF
        timeout = TCP_RTO_MAX * 2
        if sk.icsk_user_timeout:
            timeout = min(timeout, sk.icsk_user_timeout)
        if (sk.icsk_user_timeout and rtx_delta > sk.icsk_user_timeout) or \
                (sk.jiffies() - sk.rcv_tstamp > timeout and rtx_delta > timeout):
            tcp_write_err(sk)
            return
        _rec.tcp_enter_loss(sk)
        _rtx.tcp_retransmit_skb(sk, head, 1)
        _rto_backoff(sk)
        return
    tcpext.TCPTimeouts += 1
    if tcp_write_timeout(sk):
        return
    if sk.icsk_retransmits == 0:
        state = sk.icsk_ca_state
        if state == TCP_CA_Recovery:
            if sk.tcp_is_sack():
                tcpext.TCPSackRecoveryFail += 1
            else:
                tcpext.TCPRenoRecoveryFail += 1
        elif state == TCP_CA_Loss:
            tcpext.TCPLossFailures += 1
        elif state == TCP_CA_Disorder or sk.sacked_out:
            if sk.tcp_is_sack():
                tcpext.TCPSackFailures += 1
            else:
                tcpext.TCPRenoFailures += 1
    _rec.tcp_enter_loss(sk)
    # tcp_update_rto_stats
    if not sk.icsk_retransmits:
        sk.total_rto_recoveries += 1
    sk.icsk_retransmits += 1
    sk.total_rto += 1
    if _rtx.tcp_retransmit_skb(sk, sk.tcp_rtx_queue[0], 1) > 0:
        inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, TCP_RESOURCE_PROBE_INTERVAL,
                                  TCP_RTO_MAX)
        return
    _rto_backoff(sk)


def _rto_backoff(sk: TcpSock) -> None:
    """The out_reset_timer tail of tcp_retransmit_timer."""
    tn = sk.net
    if sk.sk_state == TCP_ESTABLISHED and tn.sysctl("tcp_thin_linear_timeouts") and \
            sk.packets_out < 4 and sk.icsk_retransmits <= 6:
        sk.icsk_backoff = 0
        sk.icsk_rto = min(max(_rec.tcp_rto_from_srtt(sk), tcp_rto_min(sk)), TCP_RTO_MAX)
    elif sk.sk_state != TCP_SYN_SENT or sk.total_rto > tn.sysctl("tcp_syn_linear_timeouts"):
        sk.icsk_backoff += 1
        sk.icsk_rto = min(sk.icsk_rto << 1, TCP_RTO_MAX)
    inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, _clamp_rto_to_user_timeout(sk),
                              TCP_RTO_MAX)


def _clamp_rto_to_user_timeout(sk: TcpSock) -> int:
    """tcp_clamp_rto_to_user_timeout()."""
    user_timeout = sk.icsk_user_timeout
    if not user_timeout or not sk.retrans_stamp:
        return sk.icsk_rto
    elapsed = (sk.tcp_time_stamp_ts() - sk.retrans_stamp) & 0xFFFFFFFF
    remaining = user_timeout - elapsed
    if remaining <= 0:
        return 1
    return min(sk.icsk_rto, remaining)


# -- zero-window probes (persist timer) --------------------------------------------

def tcp_probe0_base(sk: TcpSock) -> int:
    """tcp_probe0_base(): max(icsk_rto, TCP_RTO_MIN)."""
    return max(sk.icsk_rto, TCP_RTO_MIN)


def tcp_probe0_when(sk: TcpSock, max_when: int) -> int:
    """tcp_probe0_when(): the probe interval after ``icsk_backoff`` doublings."""
    backoff = min((TCP_RTO_MAX // TCP_RTO_MIN).bit_length(), sk.icsk_backoff)
    return min(tcp_probe0_base(sk) << backoff, max_when)


def tcp_clamp_probe0_to_user_timeout(sk: TcpSock, when: int) -> int:
    """tcp_clamp_probe0_to_user_timeout(): the next zero-window (or local congestion)
    probe comes no later than TCP_USER_TIMEOUT after probing began."""
    user_timeout = sk.icsk_user_timeout
    if not user_timeout or not sk.icsk_probes_tstamp:
        return when
    elapsed = max(sk.jiffies() - sk.icsk_probes_tstamp, 0)
    remaining = max(user_timeout - elapsed, TCP_TIMEOUT_MIN)
    return min(remaining, when)


def tcp_check_probe_timer(sk: TcpSock) -> None:
    """tcp_check_probe_timer(): nothing in flight, data waiting: start probing."""
    if not sk.packets_out and not sk.icsk_pending:
        inet_csk_reset_xmit_timer(sk, ICSK_TIME_PROBE0, tcp_probe0_base(sk), TCP_RTO_MAX)


def tcp_probe_timer(sk: TcpSock) -> None:
    """tcp_probe_timer() (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17): probe a zero window;
    stay open while the peer answers, unless orphaned or TCP_USER_TIMEOUT passes."""
    if sk.packets_out or not sk.sk_write_queue:
        sk.icsk_probes_out = 0
        sk.icsk_probes_tstamp = 0
        return
    now = sk.jiffies()
    if not sk.icsk_probes_tstamp:
        sk.icsk_probes_tstamp = now
    elif sk.icsk_user_timeout and now - sk.icsk_probes_tstamp >= sk.icsk_user_timeout:
        tcp_write_err(sk)
        return
    max_probes = sk.net.sysctl("tcp_retries2")
    if "SOCK_DEAD" in sk.sock_flags:
        alive = min(sk.icsk_rto << sk.icsk_backoff, TCP_RTO_MAX) < TCP_RTO_MAX
        max_probes = tcp_orphan_retries(sk, alive)
        if not alive and sk.icsk_backoff >= max_probes:
            tcp_write_err(sk)
            return
    if sk.icsk_probes_out >= max_probes:
        tcp_write_err(sk)
    else:
        _ctl.tcp_send_probe0(sk)


# -- delayed ACK --------------------------------------------------------------------

def tcp_reset_delack_timer(sk: TcpSock, timeout_jiffies: int) -> None:
    """sk_reset_timer(&icsk_delack_timer, timeout)."""
    when = jiffies_to_loop_ns(timeout_jiffies)
    now = sk.host.loop.now_ns()
    if when < now:
        when = now
    h = sk.icsk_delack_timer
    if h is not None and not h.cancelled and h.when <= when:
        return  # already due no later (what _arm would find)
    _arm(sk, "icsk_delack_timer", when, tcp_delack_timer)


def tcp_delack_timer(sk: TcpSock) -> None:
    """tcp_delack_timer_handler(): the delayed ACK is due. A missed one inflates ato
    (or leaves pingpong mode); DelayedACKs counts it."""
    sk.icsk_delack_timer = None
    if (1 << sk.sk_state) & (TCPF_CLOSE | TCPF_LISTEN):
        return
    if sk.compressed_ack:
        sk.tcp_mstamp_refresh()
        _ctl.tcp_sack_compress_send_ack(sk)
        return
    ack = sk.icsk_ack
    if not ack.pending & ICSK_ACK_TIMER:
        return
    now_ns = sk.host.loop.now_ns()
    if jiffies_to_loop_ns(ack.timeout) > now_ns:
        tcp_reset_delack_timer(sk, ack.timeout)
        return
    ack.pending &= ~ICSK_ACK_TIMER
    if sk.inet_csk_ack_scheduled():
        if not sk.inet_csk_in_pingpong_mode():
            ack.ato = min(ack.ato << 1, sk.icsk_rto)
        else:
            ack.pingpong = 0  # inet_csk_exit_pingpong_mode
            ack.ato = TCP_ATO_MIN
        sk.tcp_mstamp_refresh()
        _ctl.tcp_send_ack(sk)
        sk.host.mib.tcpext.DelayedACKs += 1


def tcp_compressed_ack_kick(sk: TcpSock) -> None:
    """tcp_compressed_ack_kick(): the SACK-compression delay ran out."""
    sk.compressed_ack_timer = None
    if sk.compressed_ack and not (1 << sk.sk_state) & (TCPF_CLOSE | TCPF_LISTEN):
        _ctl.tcp_sack_compress_send_ack(sk)


def tcp_start_compressed_ack_timer(sk: TcpSock, delay_ns: int) -> None:
    """hrtimer_start(&tp->compressed_ack_timer, delay)."""
    if sk.compressed_ack_timer is None:
        sk.compressed_ack_timer = sk.host.loop.call_later(delay_ns, tcp_compressed_ack_kick,
                                                          sk)


# -- sk_timer: keepalive and FIN_WAIT2 ---------------------------------------------

def inet_csk_reset_keepalive_timer(sk: TcpSock, length: int) -> None:
    """inet_csk_reset_keepalive_timer(): sk_timer in ``length`` jiffies."""
    when = sk.host.loop.now_ns() + length * NSEC_PER_JIFFY
    sk.sk_timer_when = when
    h = sk.sk_timer
    if h is not None and not h.cancelled and h.when <= when:
        return
    if h is not None:
        h.cancel()
    sk.sk_timer = sk.host.loop.call_at(when, tcp_keepalive_timer, sk)


def inet_csk_delete_keepalive_timer(sk: TcpSock) -> None:
    """inet_csk_delete_keepalive_timer()."""
    if sk.sk_timer is not None:
        sk.sk_timer.cancel()
        sk.sk_timer = None
    sk.sk_timer_when = 0


def keepalive_time_when(sk: TcpSock) -> int:
    """keepalive_time_when(): TCP_KEEPIDLE or tcp_keepalive_time, in jiffies."""
    return sk.keepalive_time or sk.net.sysctl("tcp_keepalive_time") * 1000


def keepalive_intvl_when(sk: TcpSock) -> int:
    """keepalive_intvl_when()."""
    return sk.keepalive_intvl or sk.net.sysctl("tcp_keepalive_intvl") * 1000


def keepalive_probes(sk: TcpSock) -> int:
    """keepalive_probes()."""
    return sk.keepalive_probes or sk.net.sysctl("tcp_keepalive_probes")


def tcp_keepalive_timer(sk: TcpSock) -> None:
    """tcp_keepalive_timer(): the orphaned FIN_WAIT2 timeout (tcp_fin_timeout), then
    keepalive probes (RFC 1122 4.2.3.6) for SO_KEEPALIVE sockets."""
    sk.sk_timer = None
    now_ns = sk.host.loop.now_ns()
    if sk.sk_timer_when > now_ns:
        sk.sk_timer = sk.host.loop.call_at(sk.sk_timer_when, tcp_keepalive_timer, sk)
        return
    if sk.sk_timer_when == 0:
        return
    sk.sk_timer_when = 0
    sk.tcp_mstamp_refresh()
    if sk.sk_state == TCP_FIN_WAIT2 and "SOCK_DEAD" in sk.sock_flags:
        if sk.linger2 >= 0:
            tmo = _proto.tcp_fin_time(sk) - TCP_TIMEWAIT_LEN
            if tmo > 0:
                from tuxnet.tcp.minisocks import tcp_time_wait

                tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)
                return
        _ctl.tcp_send_active_reset(sk)
        _proto.tcp_done(sk)
        return
    if "SOCK_KEEPOPEN" not in sk.sock_flags or \
            (1 << sk.sk_state) & (TCPF_CLOSE | TCPF_SYN_SENT):
        return
    elapsed = keepalive_time_when(sk)
    if not (sk.packets_out or sk.sk_write_queue):
        now = sk.jiffies()
        elapsed = min(now - sk.icsk_ack.lrcvtime, now - sk.rcv_tstamp)
        if elapsed >= keepalive_time_when(sk):
            if (sk.icsk_user_timeout and elapsed >= sk.icsk_user_timeout and
                    sk.icsk_probes_out > 0) or \
                    (not sk.icsk_user_timeout and sk.icsk_probes_out >= keepalive_probes(sk)):
                _ctl.tcp_send_active_reset(sk)
                tcp_write_err(sk)
                return
            if _ctl.tcp_write_wakeup(sk, "TCPKeepAlive") <= 0:
                sk.icsk_probes_out += 1
                elapsed = keepalive_intvl_when(sk)
            else:
                elapsed = TCP_RESOURCE_PROBE_INTERVAL
        else:
            elapsed = keepalive_time_when(sk) - elapsed
    inet_csk_reset_keepalive_timer(sk, elapsed)

