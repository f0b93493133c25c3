"""Socket options and status of a TCP socket (net/ipv4/tcp.c: do_tcp_setsockopt,
do_tcp_getsockopt, tcp_get_info, tcp_poll; tcp_set_keepalive).
"""

from __future__ import annotations

import errno

from tuxnet.socket.core import sock_errno
from tuxnet.tcp import output as _out
from tuxnet.tcp import timer as _timer
from tuxnet.tcp.chrono import tcp_chrono_stats
from tuxnet.tcp.cong import tcp_set_congestion_control
from tuxnet.tcp.defs import (
    HZ,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    TCP_CLOSE,
    TCP_CONGESTION,
    TCP_CORK,
    TCP_DEFER_ACCEPT,
    TCP_KEEPCNT,
    TCP_KEEPIDLE,
    TCP_KEEPINTVL,
    TCP_LINGER2,
    TCP_LISTEN,
    TCP_MAXSEG,
    TCP_MIN_MSS,
    TCP_NAGLE_CORK,
    TCP_NAGLE_OFF,
    TCP_NAGLE_PUSH,
    TCP_NODELAY,
    TCP_NOTSENT_LOWAT,
    TCP_QUICKACK,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_SYNCNT,
    TCP_USER_TIMEOUT,
    TCP_WINDOW_CLAMP,
    USEC_PER_JIFFY,
)
from tuxnet.tcp.ecn import tcp_ecn_info_options
from tuxnet.tcp.fastopen import (
    FASTOPEN_SOCKOPTS,
    tcp_fastopen_getsockopt,
    tcp_fastopen_setsockopt,
    tcp_fastopen_tcpi_options,
)
from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_get_info", "tcp_getsockopt", "tcp_poll", "tcp_set_keepalive",
           "tcp_setsockopt"]

_M32 = 0xFFFFFFFF
_U64_MAX = (1 << 64) - 1
EPOLLIN = 0x1
EPOLLPRI = 0x2
EPOLLOUT = 0x4
EPOLLERR = 0x8
EPOLLHUP = 0x10
EPOLLRDNORM = 0x40
EPOLLWRNORM = 0x100
EPOLLRDHUP = 0x2000


# -- poll and options -----------------------------------------------------------------

def tcp_poll(sk: TcpSock) -> int:
    """tcp_poll(): EPOLL* readiness bits."""
    state = sk.sk_state
    if state == TCP_LISTEN:
        return EPOLLIN | EPOLLRDNORM if sk.icsk_accept_queue else 0
    mask = 0
    shutdown = sk.sk_shutdown
    if shutdown == SHUTDOWN_MASK or state == TCP_CLOSE:
        mask |= EPOLLHUP
    if shutdown & RCV_SHUTDOWN:
        mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP
    if state != TCP_SYN_SENT and (state != TCP_SYN_RECV or sk.fastopen_rsk is not None):
        # connected, or a passive Fast Open child
        target = max(sk.sk_rcvlowat, 1)
        if sk.urg_data and sk.urg_seq == sk.copied_seq and \
                "SOCK_URGINLINE" not in sk.sock_flags:
            target += 1  # the urgent byte at the mark is not in-line data
        if ((sk.rcv_nxt - sk.copied_seq) & _M32) >= target:
            mask |= EPOLLIN | EPOLLRDNORM
        if not shutdown & SEND_SHUTDOWN:
            if sk.sk_stream_is_writeable() and sk.sk_stream_memory_free(1):
                mask |= EPOLLOUT | EPOLLWRNORM
            else:
                sk.sock_nospace = True
        else:
            mask |= EPOLLOUT | EPOLLWRNORM
        if sk.urg_data & 0x0100:  # TCP_URG_VALID: the urgent byte is readable
            mask |= EPOLLPRI
    elif state == TCP_SYN_SENT and sk.defer_connect:
        # TCP_FASTOPEN_CONNECT: writable, so that the write that sends the SYN comes
        mask |= EPOLLOUT | EPOLLWRNORM
    if sk.sk_err or sk.sk_error_queue:
        mask |= EPOLLERR
    return mask


def tcp_setsockopt(sk: TcpSock, optname: int, val: int | str) -> None:
    """do_tcp_setsockopt() for the integer options (and TCP_CONGESTION by name)."""
    if optname == TCP_CONGESTION:
        rc = tcp_set_congestion_control(sk, str(val))
        if rc:
            raise sock_errno(-rc)
        return
    if not isinstance(val, int):
        raise sock_errno(errno.EINVAL)
    if optname == TCP_NODELAY:
        if val:
            sk.nonagle |= TCP_NAGLE_OFF | TCP_NAGLE_PUSH
            _out.tcp_push_pending_frames(sk)
        else:
            sk.nonagle &= ~TCP_NAGLE_OFF
    elif optname == TCP_CORK:
        if val:
            sk.nonagle |= TCP_NAGLE_CORK
        else:
            sk.nonagle &= ~TCP_NAGLE_CORK
            if sk.nonagle & TCP_NAGLE_OFF:
                sk.nonagle |= TCP_NAGLE_PUSH
            _out.tcp_push_pending_frames(sk)
    elif optname == TCP_MAXSEG:
        if val and (val < TCP_MIN_MSS or val > 32767):
            raise sock_errno(errno.EINVAL)
        sk.rx_opt.user_mss = val
    elif optname == TCP_KEEPIDLE:
        if val < 1 or val > 32767:
            raise sock_errno(errno.EINVAL)
        sk.keepalive_time = val * HZ
        if "SOCK_KEEPOPEN" in sk.sock_flags and sk.sk_state not in (TCP_CLOSE, TCP_LISTEN):
            _timer.inet_csk_reset_keepalive_timer(sk, sk.keepalive_time)
    elif optname == TCP_KEEPINTVL:
        if val < 1 or val > 32767:
            raise sock_errno(errno.EINVAL)
        sk.keepalive_intvl = val * HZ
    elif optname == TCP_KEEPCNT:
        if val < 1 or val > 127:
            raise sock_errno(errno.EINVAL)
        sk.keepalive_probes = val
    elif optname == TCP_SYNCNT:
        if val < 1 or val > 127:
            raise sock_errno(errno.EINVAL)
        sk.icsk_syn_retries = val
    elif optname == TCP_LINGER2:
        sk.linger2 = -1 if val < 0 else (0 if val == 0 else min(val, 120) * HZ)
    elif optname == TCP_DEFER_ACCEPT:
        sk.rskq_defer_accept = max(val, 0)
    elif optname == TCP_WINDOW_CLAMP:
        if val and val < 2048:  # SOCK_MIN_RCVBUF / 2
            val = 2048
        sk.window_clamp = val
    elif optname == TCP_QUICKACK:
        if val:
            from tuxnet.tcp.input import tcp_enter_quickack_mode

            tcp_enter_quickack_mode(sk, 16)
        else:
            sk.icsk_ack.pingpong = sk.net.sysctl("tcp_pingpong_thresh")
    elif optname == TCP_USER_TIMEOUT:
        if val < 0:
            raise sock_errno(errno.EINVAL)
        sk.icsk_user_timeout = val
    elif optname == TCP_NOTSENT_LOWAT:
        sk.notsent_lowat = val & 0xFFFFFFFF
        sk.sk_write_space()  # do_tcp_setsockopt: a raised mark may free a writer
    elif optname in FASTOPEN_SOCKOPTS:
        tcp_fastopen_setsockopt(sk, optname, val)
    else:
        raise sock_errno(errno.ENOPROTOOPT)


def tcp_set_keepalive(sk: TcpSock, val: bool) -> None:
    """tcp_set_keepalive() (SO_KEEPALIVE)."""
    if val:
        sk.sock_flags.add("SOCK_KEEPOPEN")
        if sk.sk_state not in (TCP_CLOSE, TCP_LISTEN):
            _timer.inet_csk_reset_keepalive_timer(sk, _timer.keepalive_time_when(sk))
    else:
        sk.sock_flags.discard("SOCK_KEEPOPEN")
        _timer.inet_csk_delete_keepalive_timer(sk)


def tcp_getsockopt(sk: TcpSock, optname: int) -> int | str:
    """do_tcp_getsockopt() for the integer options and TCP_CONGESTION."""
    if optname == TCP_NODELAY:
        return 1 if sk.nonagle & TCP_NAGLE_OFF else 0
    if optname == TCP_CORK:
        return 1 if sk.nonagle & TCP_NAGLE_CORK else 0
    if optname == TCP_MAXSEG:
        if sk.sk_state in (TCP_CLOSE, TCP_LISTEN):
            return sk.rx_opt.user_mss or 536
        return sk.mss_cache
    if optname == TCP_KEEPIDLE:
        return _timer.keepalive_time_when(sk) // HZ
    if optname == TCP_KEEPINTVL:
        return _timer.keepalive_intvl_when(sk) // HZ
    if optname == TCP_KEEPCNT:
        return _timer.keepalive_probes(sk)
    if optname == TCP_SYNCNT:
        return sk.icsk_syn_retries or sk.net.sysctl("tcp_syn_retries")
    if optname == TCP_LINGER2:
        return -1 if sk.linger2 < 0 else (sk.linger2 or
                                          sk.net.sysctl("tcp_fin_timeout") * HZ) // HZ
    if optname == TCP_DEFER_ACCEPT:
        return sk.rskq_defer_accept
    if optname == TCP_WINDOW_CLAMP:
        return sk.window_clamp
    if optname == TCP_QUICKACK:
        return 1 if sk.icsk_ack.quick and not sk.inet_csk_in_pingpong_mode() else 0
    if optname == TCP_USER_TIMEOUT:
        return sk.icsk_user_timeout
    if optname == TCP_NOTSENT_LOWAT:
        return sk.notsent_lowat
    if optname == TCP_CONGESTION:
        return sk.icsk_ca_ops.name if sk.icsk_ca_ops is not None else ""
    if optname in FASTOPEN_SOCKOPTS:
        v = tcp_fastopen_getsockopt(sk, optname)
        assert isinstance(v, int)
        return v
    raise sock_errno(errno.ENOPROTOOPT)


def tcp_get_info(sk: TcpSock) -> dict[str, int]:
    """tcp_get_info() (TCP_INFO): the struct tcp_info fields tuxnet keeps, Linux units
    (rtt/rttvar/rto/ato in µs, cwnd/ssthresh in packets, last_* in ms)."""
    now = sk.jiffies()
    rx = sk.rx_opt
    busy, rwnd_limited, sndbuf_limited = tcp_chrono_stats(sk)
    options = (1 if rx.tstamp_ok else 0) | (2 if rx.sack_ok else 0) | \
        (4 if rx.wscale_ok else 0) | tcp_ecn_info_options(sk) | tcp_fastopen_tcpi_options(sk)
    return {
        "tcpi_state": sk.sk_state, "tcpi_ca_state": sk.icsk_ca_state,
        "tcpi_retransmits": sk.icsk_retransmits, "tcpi_probes": sk.icsk_probes_out,
        "tcpi_backoff": sk.icsk_backoff, "tcpi_options": options,
        "tcpi_snd_wscale": rx.snd_wscale if rx.wscale_ok else 0,
        "tcpi_rcv_wscale": rx.rcv_wscale if rx.wscale_ok else 0,
        "tcpi_rto": sk.icsk_rto * USEC_PER_JIFFY, "tcpi_ato": sk.icsk_ack.ato * USEC_PER_JIFFY,
        "tcpi_snd_mss": sk.mss_cache, "tcpi_rcv_mss": sk.icsk_ack.rcv_mss,
        "tcpi_unacked": sk.packets_out, "tcpi_sacked": sk.sacked_out,
        "tcpi_lost": sk.lost_out, "tcpi_retrans": sk.retrans_out,
        "tcpi_last_data_sent": now - sk.lsndtime, "tcpi_last_data_recv": now - sk.icsk_ack.lrcvtime,
        "tcpi_last_ack_recv": now - sk.rcv_tstamp, "tcpi_pmtu": sk.icsk_pmtu_cookie,
        "tcpi_rcv_ssthresh": sk.rcv_ssthresh, "tcpi_rtt": sk.srtt_us >> 3,
        "tcpi_rttvar": sk.mdev_us >> 2, "tcpi_snd_ssthresh": sk.snd_ssthresh,
        "tcpi_snd_cwnd": sk.snd_cwnd, "tcpi_advmss": sk.advmss,
        "tcpi_reordering": sk.reordering, "tcpi_total_retrans": sk.total_retrans,
        "tcpi_rcv_rtt": sk.rcv_rtt_est_rtt_us >> 3, "tcpi_rcv_space": sk.rcvq_space_space,
        "tcpi_busy_time": busy, "tcpi_rwnd_limited": rwnd_limited,
        "tcpi_sndbuf_limited": sndbuf_limited,
        "tcpi_bytes_acked": sk.bytes_acked, "tcpi_bytes_received": sk.bytes_received,
        "tcpi_segs_out": sk.segs_out, "tcpi_segs_in": sk.segs_in,
        "tcpi_notsent_bytes": (sk.write_seq - sk.snd_nxt) & _M32,
        "tcpi_min_rtt": sk.tcp_min_rtt(), "tcpi_data_segs_in": sk.data_segs_in,
        "tcpi_data_segs_out": sk.data_segs_out, "tcpi_delivered": sk.delivered,
        "tcpi_delivered_ce": sk.delivered_ce,
        "tcpi_bytes_sent": sk.bytes_sent, "tcpi_bytes_retrans": sk.bytes_retrans,
        "tcpi_dsack_dups": sk.dsack_dups, "tcpi_reord_seen": sk.reord_seen,
        "tcpi_rcv_ooopack": sk.rcv_ooopack, "tcpi_snd_wnd": sk.snd_wnd,
        "tcpi_rcv_wnd": sk.rcv_wnd, "tcpi_total_rto": sk.total_rto,
        "tcpi_total_rto_recoveries": sk.total_rto_recoveries,
        "tcpi_pacing_rate": sk.sk_pacing_rate, "tcpi_max_pacing_rate": sk.sk_max_pacing_rate,
        "tcpi_delivery_rate": _delivery_rate(sk),
        "tcpi_delivery_rate_app_limited": int(sk.rate_app_limited),
        "tcpi_fastopen_client_fail": sk.fastopen_client_fail,
    }


def _delivery_rate(sk: TcpSock) -> int:
    """tcp_compute_delivery_rate(): bytes/s of the last rate sample (tcp_rate_gen)."""
    if not sk.rate_interval_us:
        return 0
    return sk.rate_delivered * sk.mss_cache * 1_000_000 // sk.rate_interval_us
