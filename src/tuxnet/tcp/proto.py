"""The socket-facing half of TCP (net/ipv4/tcp.c: tcp_init_sock, tcp_sendmsg,
tcp_recvmsg, tcp_cleanup_rbuf, tcp_close, tcp_shutdown, tcp_disconnect, tcp_done,
tcp_poll, tcp_setsockopt/getsockopt; net/ipv4/af_inet.c: inet_stream_connect,
inet_listen; net/ipv4/inet_connection_sock.c: inet_csk_accept, inet_csk_listen_stop).

How the socket layer drives TCP (``sk`` is a :class:`~tuxnet.tcp.sock.TcpSock`):

* ``sk = tcp_v4_init_sock(host)`` -- socket(AF_INET, SOCK_STREAM); bind goes through
  :func:`tuxnet.socket.af_inet.inet_bind` (``sk.prot.get_port``);
* ``inet_stream_connect(sk, daddr, dport, timeo_ns)``, ``inet_listen(sk, backlog)``,
  ``inet_csk_accept(sk, timeo_ns)``, ``tcp_sendmsg(sk, data, flags, timeo_ns)``,
  ``tcp_recvmsg(sk, size, flags, timeo_ns)``, ``inet_shutdown_stream(sk, how)``,
  ``tcp_close(sk, linger_ns)``, ``tcp_poll(sk)``, ``tcp_setsockopt``/``tcp_getsockopt``.

``timeo_ns`` is sock_sndtimeo/sock_rcvtimeo: 0 never waits (O_NONBLOCK,
MSG_DONTWAIT), None waits without limit, else a relative timeout. A call that must wait
runs the host's loop through :func:`tuxnet.socket.core.sk_wait_event`. Errors are
raised as OSError with Linux's errno.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from tuxnet.skb import MAX_SKB_FRAGS
from tuxnet.socket.core import sk_wait_event, sock_errno
from tuxnet.tcp import control as _ctl
from tuxnet.tcp import output as _out
from tuxnet.tcp import timer as _timer
from tuxnet.tcp import zerocopy as _zc
from tuxnet.tcp.chrono import TCP_CHRONO_BUSY, tcp_chrono_stop
from tuxnet.tcp.cong import (
    tcp_assign_congestion_control,
    tcp_cleanup_congestion_control,
    tcp_set_ca_state,
)
from tuxnet.tcp.defs import (
    HZ,
    ICSK_ACK_PUSHED,
    ICSK_ACK_PUSHED2,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_DELACK_MAX,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_INFINITE_SSTHRESH,
    TCP_INIT_CWND,
    TCP_LAST_ACK,
    TCP_LISTEN,
    TCP_MIN_MSS,
    TCP_NAGLE_PUSH,
    TCP_RTO_MIN,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIMEOUT_INIT,
    TCP_TIMEWAIT_LEN,
    TCPF_CLOSE_WAIT,
    TCPF_ESTABLISHED,
    TCPF_FIN_WAIT1,
    TCPF_FIN_WAIT2,
    TCPF_SYN_RECV,
    TCPF_SYN_SENT,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_SYN,
    USEC_PER_JIFFY,
    TCP_CA_Open,
)
from tuxnet.tcp.mss import tcp_current_mss, tcp_select_window_raw
from tuxnet.tcp.rate import tcp_rate_check_app_limited
from tuxnet.tcp.rcvbuf import tcp_rcv_space_adjust
from tuxnet.tcp.sock import TcpSkbCb, TcpSock, inet_sk_set_state, tcp_cb, tcp_set_state
from tuxnet.tcp.sockopt import (
    tcp_get_info,
    tcp_getsockopt,
    tcp_poll,
    tcp_set_keepalive,
    tcp_setsockopt,
)
from tuxnet.tcp.tso_chunk import gso_size_goal
from tuxnet.tcp.tx_timestamp import tcp_tx_timestamp
from tuxnet.tcp.urgent import tcp_recv_urg, tcp_urg_consumed, urg_limit

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuxnet.host import Host

__all__ = [
    "inet_csk_accept",
    "inet_listen",
    "inet_shutdown_stream",
    "inet_stream_connect",
    "tcp_close",
    "tcp_disconnect",
    "tcp_done",
    "tcp_get_info",
    "tcp_getsockopt",
    "tcp_init_sock",
    "tcp_poll",
    "tcp_recvmsg",
    "tcp_sendmsg",
    "tcp_set_keepalive",
    "tcp_setsockopt",
    "tcp_shutdown",
    "tcp_v4_init_sock",
]

_M32 = 0xFFFFFFFF
SS_UNCONNECTED = 1
SS_CONNECTING = 2
SS_CONNECTED = 3
SS_DISCONNECTING = 4
MSG_OOB = 0x1
MSG_PEEK = 0x2
MSG_DONTWAIT = 0x40
MSG_EOR = 0x80
MSG_WAITALL = 0x100
MSG_NOSIGNAL = 0x4000
MSG_MORE = 0x8000
MSG_ZEROCOPY = 0x4000000
MSG_FASTOPEN = 0x20000000
EPOLLIN = 0x1
EPOLLPRI = 0x2
EPOLLOUT = 0x4
EPOLLERR = 0x8
EPOLLHUP = 0x10
EPOLLRDNORM = 0x40
EPOLLWRNORM = 0x100
EPOLLRDHUP = 0x2000


def tcp_init_sock(sk: TcpSock) -> None:
    """tcp_init_sock(): RFC 6298 initial RTO, IW10, buffers from tcp_wmem[1]/tcp_rmem[1]."""
    tn = sk.net
    sk.icsk_rto = TCP_TIMEOUT_INIT
    sk.icsk_rto_min = TCP_RTO_MIN
    sk.icsk_delack_max = TCP_DELACK_MAX
    sk.mdev_us = TCP_TIMEOUT_INIT * USEC_PER_JIFFY
    sk.rtt_min.reset(sk.jiffies(), 0xFFFFFFFF)
    sk.snd_cwnd = TCP_INIT_CWND
    sk.app_limited = _M32
    sk.snd_ssthresh = TCP_INFINITE_SSTHRESH
    sk.snd_cwnd_clamp = _M32
    sk.mss_cache = 536
    sk.reordering = tn.sysctl("tcp_reordering")
    sk.sk_sndbuf = tn.sysctl_vec("tcp_wmem")[1]
    sk.sk_rcvbuf = tn.sysctl_vec("tcp_rmem")[1]


def tcp_v4_init_sock(host: Host) -> TcpSock:
    """socket(AF_INET, SOCK_STREAM, 0): inet_create() + tcp_v4_init_sock()."""
    sk = TcpSock(host)
    tcp_init_sock(sk)
    tcp_assign_congestion_control(sk)
    return sk


# -- the end of a connection ------------------------------------------------------------

def tcp_fin_time(sk: TcpSock) -> int:
    """tcp_fin_time(): TCP_LINGER2 or tcp_fin_timeout (jiffies), at least 3.5 RTO."""
    fin_timeout = sk.linger2 or sk.net.sysctl("tcp_fin_timeout") * HZ
    rto = sk.icsk_rto
    return max(fin_timeout, (rto << 2) - (rto >> 1))


def tcp_write_queue_purge(sk: TcpSock) -> None:
    """tcp_write_queue_purge(): drop unsent and unacknowledged data."""
    for q in (sk.sk_write_queue, sk.tcp_rtx_queue):
        while q:
            skb = q.popleft()
            sk.sk_wmem_queued -= skb.truesize
            skb.free()
    sk.tsorted_sent_queue.clear()
    tcp_chrono_stop(sk, TCP_CHRONO_BUSY)
    sk.packets_out = sk.retrans_out = sk.sacked_out = sk.lost_out = 0
    sk.retransmit_skb_hint = None


def inet_csk_destroy_sock(sk: TcpSock) -> None:
    """inet_csk_destroy_sock() + tcp_v4_destroy_sock(): the last of an orphan."""
    tn = sk.net
    tp = tn.tp_destroy
    if tp.active:
        from tuxnet.wire.addr import int_to_ip

        tp.emit(skaddr=id(sk), sport=sk.inet_sport, dport=sk.inet_dport, family="AF_INET",
                saddr=int_to_ip(sk.inet_saddr), daddr=int_to_ip(sk.inet_daddr),
                sock_cookie=sk.ino)
    _timer.tcp_clear_xmit_timers(sk)
    _timer.inet_csk_delete_keepalive_timer(sk)
    tcp_cleanup_congestion_control(sk)
    tcp_write_queue_purge(sk)
    for skb in sk.out_of_order_queue:
        skb.free()
    sk.out_of_order_queue.clear()
    while sk.sk_receive_queue:
        sk.sk_receive_queue.popleft().free()
    while sk.sk_error_queue:  # inet_sock_destruct: skb_queue_purge(sk_error_queue)
        sk.sk_error_queue.popleft().free()
    sk.sk_rmem_alloc = 0
    if sk.bound:
        tn.inet_put_port(sk)
    if "SOCK_ORPHAN_COUNTED" in sk.sock_flags:
        sk.sock_flags.discard("SOCK_ORPHAN_COUNTED")
        tn.orphan_count -= 1
    if sk in tn.all_socks:
        tn.all_socks.remove(sk)


def tcp_done(sk: TcpSock) -> None:
    """tcp_done(): CLOSE (AttemptFails from SYN_SENT/SYN_RECV), timers off, wake the
    owner or destroy the orphan."""
    req = sk.fastopen_rsk
    if sk.sk_state in (TCP_SYN_SENT, TCP_SYN_RECV):
        sk.host.mib.tcp.AttemptFails += 1
    tcp_set_state(sk, TCP_CLOSE)
    _timer.tcp_clear_xmit_timers(sk)
    if req is not None:
        from tuxnet.tcp.fastopen import reqsk_fastopen_remove

        reqsk_fastopen_remove(sk, req, False)
    _timer.inet_csk_delete_keepalive_timer(sk)
    sk.sk_shutdown = SHUTDOWN_MASK
    if "SOCK_DEAD" not in sk.sock_flags:
        sk.sk_state_change()
    else:
        inet_csk_destroy_sock(sk)


def tcp_done_with_error(sk: TcpSock, err: int) -> None:
    """tcp_done_with_error(): record ``err`` for the owner, then tcp_done."""
    sk.sk_err = err
    tcp_write_queue_purge(sk)
    tcp_done(sk)
    if "SOCK_DEAD" not in sk.sock_flags:
        sk.sk_error_report()


_NEW_STATE = {
    TCP_ESTABLISHED: TCP_FIN_WAIT1 | 0x10, TCP_SYN_SENT: TCP_CLOSE,
    TCP_SYN_RECV: TCP_FIN_WAIT1 | 0x10, TCP_FIN_WAIT1: TCP_FIN_WAIT1,
    TCP_FIN_WAIT2: TCP_FIN_WAIT2, 6: TCP_CLOSE, TCP_CLOSE: TCP_CLOSE,
    TCP_CLOSE_WAIT: TCP_LAST_ACK | 0x10, TCP_LAST_ACK: TCP_LAST_ACK, TCP_LISTEN: TCP_CLOSE,
    TCP_CLOSING: TCP_CLOSING,
}


def tcp_close_state(sk: TcpSock) -> bool:
    """tcp_close_state() (RFC 9293 3.10.4): the next state on close; True if a FIN must
    go out."""
    nxt = _NEW_STATE.get(sk.sk_state, TCP_CLOSE)
    tcp_set_state(sk, nxt & 0x0F)
    return bool(nxt & 0x10)


def tcp_shutdown(sk: TcpSock, how: int) -> None:
    """tcp_shutdown(): SHUT_WR sends a FIN once."""
    if not how & SEND_SHUTDOWN:
        return
    if (1 << sk.sk_state) & (TCPF_ESTABLISHED | TCPF_SYN_SENT | TCPF_SYN_RECV |
                             TCPF_CLOSE_WAIT) and tcp_close_state(sk):
        _ctl.tcp_send_fin(sk)


def inet_shutdown_stream(sk: TcpSock, how: int) -> None:
    """inet_shutdown() for a stream socket (``how`` 0/1/2 = SHUT_RD/WR/RDWR)."""
    how += 1
    if how & ~SHUTDOWN_MASK or not how:
        raise sock_errno(errno.EINVAL)
    if sk.sk_socket_state == SS_CONNECTING:
        if (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV | (1 << TCP_CLOSE)):
            sk.sk_socket_state = SS_DISCONNECTING
        else:
            sk.sk_socket_state = SS_CONNECTED
    err = 0
    state = sk.sk_state
    if state == TCP_LISTEN and not how & RCV_SHUTDOWN:
        pass
    elif state in (TCP_LISTEN, TCP_SYN_SENT):
        tcp_disconnect(sk)
        sk.sk_socket_state = SS_UNCONNECTED
    else:
        if state == TCP_CLOSE:
            err = errno.ENOTCONN
        sk.sk_shutdown |= how
        tcp_shutdown(sk, how)
    sk.sk_state_change()
    if err:
        raise sock_errno(err)


def inet_csk_listen_stop(sk: TcpSock) -> None:
    """inet_csk_listen_stop(): reset and forget every child not yet accepted."""
    while sk.icsk_accept_queue:
        child = sk.icsk_accept_queue.popleft()
        sk.sk_ack_backlog -= 1
        child.parent = None
        tcp_disconnect(child)
        child.sock_flags.add("SOCK_DEAD")
        if child.fastopen_rsk is not None:  # inet_child_forget: a Fast Open child
            child.fastopen_rsk = None
        if child.sk_state == TCP_CLOSE:
            inet_csk_destroy_sock(child)


def tcp_need_reset(state: int) -> bool:
    """tcp_need_reset(): states whose abort sends a RST (RFC 9293 3.10.5)."""
    return bool((1 << state) & (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 |
                                TCPF_FIN_WAIT2 | TCPF_SYN_RECV))


def tcp_disconnect(sk: TcpSock) -> int:
    """tcp_disconnect() (the ABORT call of RFC 9293 3.10.5): RST where needed, then
    back to a fresh closed socket."""
    old_state = sk.sk_state
    if old_state != TCP_CLOSE:
        tcp_set_state(sk, TCP_CLOSE)
    if old_state == TCP_LISTEN:
        inet_csk_listen_stop(sk)
    elif tcp_need_reset(old_state) or (sk.snd_nxt != sk.write_seq and
                                       old_state in (TCP_CLOSING, TCP_LAST_ACK)):
        _ctl.tcp_send_active_reset(sk)
        sk.sk_err = errno.ECONNRESET
    elif old_state == TCP_SYN_SENT:
        sk.sk_err = errno.ECONNRESET
    _timer.tcp_clear_xmit_timers(sk)
    _timer.inet_csk_delete_keepalive_timer(sk)
    while sk.sk_receive_queue:
        sk.sk_receive_queue.popleft().free()
    sk.sk_rmem_alloc = 0
    sk.copied_seq = sk.rcv_nxt
    tcp_write_queue_purge(sk)
    for skb in sk.out_of_order_queue:
        skb.free()
    sk.out_of_order_queue.clear()
    sk.inet_dport = 0
    sk.sk_shutdown = 0
    sk.sock_flags.discard("SOCK_DONE")
    sk.srtt_us = 0
    sk.mdev_us = TCP_TIMEOUT_INIT * USEC_PER_JIFFY
    seq = (sk.write_seq + sk.max_window + 2) & _M32
    sk.write_seq = seq or 1
    sk.icsk_backoff = sk.icsk_probes_out = 0
    sk.icsk_rto = TCP_TIMEOUT_INIT
    sk.snd_ssthresh = TCP_INFINITE_SSTHRESH
    sk.snd_cwnd = TCP_INIT_CWND
    sk.snd_cwnd_cnt = 0
    sk.is_cwnd_limited = False
    sk.max_packets_out = 0
    sk.window_clamp = 0
    sk.delivered = 0
    sk.delivered_ce = 0
    if sk.icsk_ca_state != TCP_CA_Open:
        tcp_set_ca_state(sk, TCP_CA_Open)
    sk.is_sack_reneg = False
    sk.total_retrans = 0
    sk.icsk_ack.__init__()  # type: ignore[misc]
    sk.icsk_ack.rcv_mss = TCP_MIN_MSS
    sk.rx_opt.__init__()  # type: ignore[misc]
    sk.selective_acks.clear()
    sk.dst = None
    sk.fastopen_req = None  # tcp_free_fastopen_req
    sk.defer_connect = False
    sk.fastopen_client_fail = 0
    sk.sk_error_report()
    return 0


def tcp_close(sk: TcpSock, linger_ns: int | None = None) -> None:
    """tcp_close() / __tcp_close(): unread data means RST (RFC 2525 2.17,
    TCPAbortOnClose); SO_LINGER 0 aborts (TCPAbortOnData); else a FIN. The socket is
    orphaned; an orphaned FIN_WAIT2 lingers tcp_fin_timeout (as TIME_WAIT socket)."""
    sk.sk_shutdown = SHUTDOWN_MASK
    tcpext = sk.host.mib.tcpext
    if sk.sk_state == TCP_LISTEN:
        tcp_set_state(sk, TCP_CLOSE)
        inet_csk_listen_stop(sk)
    else:
        data_was_unread = 0
        while sk.sk_receive_queue:
            skb = sk.sk_receive_queue.popleft()
            cb = tcp_cb(skb)
            n = (cb.end_seq - max_seq(cb.seq, sk.copied_seq)) & _M32
            if cb.tcp_flags & TCPHDR_FIN and n:
                n -= 1
            data_was_unread += n
            skb.free()
        sk.sk_rmem_alloc = 0
        if sk.sk_state != TCP_CLOSE:
            if data_was_unread:
                tcpext.TCPAbortOnClose += 1
                tcp_set_state(sk, TCP_CLOSE)
                _ctl.tcp_send_active_reset(sk)
            elif "SOCK_LINGER" in sk.sock_flags and not sk.sk_lingertime:
                tcp_disconnect(sk)
                tcpext.TCPAbortOnData += 1
            elif tcp_close_state(sk):
                _ctl.tcp_send_fin(sk)
            if linger_ns and "SOCK_LINGER" in sk.sock_flags:
                # sk_stream_wait_close
                deadline = sk.host.loop.now_ns() + linger_ns
                sk_wait_event(sk, lambda: not (1 << sk.sk_state) & (
                    TCPF_FIN_WAIT1 | (1 << TCP_CLOSING) | (1 << TCP_LAST_ACK)), deadline,
                    "close")
    state = sk.sk_state
    sk.sock_flags.add("SOCK_DEAD")  # sock_orphan
    sk.poll_notify = None
    sk.wq.clear()
    if state == TCP_CLOSE:
        req = sk.fastopen_rsk
        if req is not None:  # a Fast Open child aborted before its handshake completed
            from tuxnet.tcp.fastopen import reqsk_fastopen_remove

            reqsk_fastopen_remove(sk, req, False)
        inet_csk_destroy_sock(sk)
        return
    sk.sock_flags.add("SOCK_ORPHAN_COUNTED")
    sk.net.orphan_count += 1
    if sk.sk_state == TCP_FIN_WAIT2:
        if sk.linger2 < 0:
            tcp_set_state(sk, TCP_CLOSE)
            _ctl.tcp_send_active_reset(sk)
            tcpext.TCPAbortOnLinger += 1
        else:
            tmo = tcp_fin_time(sk)
            if tmo > TCP_TIMEWAIT_LEN:
                _timer.inet_csk_reset_keepalive_timer(sk, tmo - TCP_TIMEWAIT_LEN)
            else:
                from tuxnet.tcp.minisocks import tcp_time_wait

                tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)
                return
    if sk.sk_state == TCP_CLOSE:
        inet_csk_destroy_sock(sk)


def max_seq(a: int, b: int) -> int:
    """The later of two sequence numbers."""
    return a if ((a - b) & _M32) < 0x80000000 else b


# -- connect / listen / accept ---------------------------------------------------------

def inet_stream_connect(sk: TcpSock, daddr: int, dport: int, timeo_ns: int | None) -> None:
    """inet_stream_connect() (RFC 9293 3.10.1 OPEN): raises EINPROGRESS when not
    waiting, EALREADY while connecting, EISCONN once connected; the connect error
    (ECONNREFUSED, ETIMEDOUT ...) when the handshake fails. With TCP_FASTOPEN_CONNECT
    and a cached cookie it returns at once (the SYN goes with the first write)."""
    err = __inet_stream_connect(sk, (daddr, dport), timeo_ns, False)
    if err:
        raise sock_errno(err)


def inet_stream_connect_fo(sk: TcpSock, addr: tuple[int, int] | None,
                           timeo_ns: int | None) -> int:
    """__inet_stream_connect(is_sendmsg=1) for tcp_sendmsg_fastopen: 0 or an errno."""
    return __inet_stream_connect(sk, addr, timeo_ns, True)


def __inet_stream_connect(sk: TcpSock, addr: tuple[int, int] | None, timeo_ns: int | None,
                          is_sendmsg: bool) -> int:
    """__inet_stream_connect(): 0 or an errno."""
    state = sk.sk_socket_state
    if state == SS_CONNECTED:
        return errno.EISCONN
    if state == SS_CONNECTING:
        if sk.defer_connect:
            err = errno.EINPROGRESS if is_sendmsg else errno.EISCONN
        else:
            err = errno.EALREADY
    elif state != SS_UNCONNECTED:
        # SS_DISCONNECTING (shutdown() while connecting left it so): the switch's
        # default case
        return errno.EINVAL
    else:
        if sk.sk_state != TCP_CLOSE:
            return errno.EISCONN
        if addr is None:
            return errno.EINVAL  # no address (addr_len < sizeof(sa_family))
        from tuxnet.tcp.ipv4 import tcp_v4_connect

        rc = tcp_v4_connect(sk, addr[0], addr[1])
        if rc < 0:
            return -rc
        sk.sk_socket_state = SS_CONNECTING
        if sk.defer_connect:
            return 0
        err = errno.EINPROGRESS
    if (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV):
        if timeo_ns == 0:
            return err
        # inet_wait_for_connect(): a writer whose data did not all fit in the SYN
        # counts as pending (the SYN-ACK is then ACKed with that data)
        fo = sk.fastopen_req
        writebias = 1 if fo is not None and fo.data is not None else 0
        deadline = None if timeo_ns is None else sk.host.loop.now_ns() + timeo_ns
        sk.sk_write_pending += writebias
        try:
            ok = sk_wait_event(sk, lambda: not (1 << sk.sk_state) & (TCPF_SYN_SENT |
                                                                     TCPF_SYN_RECV),
                               deadline, "connect")
        finally:
            sk.sk_write_pending -= writebias
        if not ok:
            return err  # timed out: the socket timeout
    if sk.sk_state == TCP_CLOSE:
        e = sk.sock_error() or errno.ECONNABORTED
        sk.sk_socket_state = SS_UNCONNECTED
        tcp_disconnect(sk)
        return e
    sk.sk_socket_state = SS_CONNECTED
    return 0


def inet_listen(sk: TcpSock, backlog: int) -> None:
    """__sys_listen() + inet_listen() + inet_csk_listen_start(): backlog clamped to
    net.core.somaxconn; an unbound socket gets an ephemeral port."""
    somaxconn = sk.host.sysctl.get_int("net.core.somaxconn")
    if backlog < 0 or backlog > somaxconn:
        backlog = somaxconn
    if sk.sk_socket_state != SS_UNCONNECTED:
        raise sock_errno(errno.EINVAL)
    old_state = sk.sk_state
    if old_state not in (TCP_CLOSE, TCP_LISTEN):
        raise sock_errno(errno.EINVAL)
    sk.sk_max_ack_backlog = backlog
    if old_state == TCP_LISTEN:
        return
    from tuxnet.tcp.fastopen import tcp_fastopen_listen

    tcp_fastopen_listen(sk, backlog)
    sk.sk_ack_backlog = 0
    sk.icsk_accept_queue.clear()
    if not sk.bound and sk.net.get_port(sk, sk.inet_num):
        raise sock_errno(errno.EADDRINUSE)
    sk.inet_sport = sk.inet_num
    inet_sk_set_state(sk, TCP_LISTEN)  # inet_sk_state_store traces it
    sk.net.inet_hash(sk)
    if sk not in sk.net.all_socks:
        sk.net.all_socks.append(sk)


def inet_csk_accept(sk: TcpSock, timeo_ns: int | None) -> TcpSock:
    """inet_csk_accept(): the oldest completed connection (EAGAIN when none and not
    waiting; EINVAL when not listening)."""
    if sk.sk_state != TCP_LISTEN:
        raise sock_errno(errno.EINVAL)
    if not sk.icsk_accept_queue:
        if timeo_ns == 0:
            raise sock_errno(errno.EAGAIN)
        deadline = None if timeo_ns is None else sk.host.loop.now_ns() + timeo_ns
        ok = sk_wait_event(sk, lambda: bool(sk.icsk_accept_queue) or
                           sk.sk_state != TCP_LISTEN, deadline, "accept")
        if sk.sk_state != TCP_LISTEN:
            raise sock_errno(errno.EINVAL)
        if not ok:
            raise sock_errno(errno.EAGAIN)
    child = sk.icsk_accept_queue.popleft()
    sk.sk_ack_backlog -= 1
    child.parent = None
    child.sk_socket_state = SS_CONNECTED
    if child.fastopen_rsk is not None:
        from tuxnet.tcp.fastopen import inet_csk_accept_fastopen

        inet_csk_accept_fastopen(child)
    return child


# -- data -----------------------------------------------------------------------------

def _stream_error(sk: TcpSock, flags: int, err: int) -> OSError:
    """sk_stream_error(): EPIPE (or the pending error)."""
    if err == errno.EPIPE:
        err = sk.sock_error() or errno.EPIPE
    return sock_errno(err)


def tcp_sendmsg(sk: TcpSock, data: Any, flags: int = 0,
                timeo_ns: int | None = None, splice_off: int | None = None,
                addr: tuple[int, int] | None = None, af_unspec: bool = False) -> int:
    """tcp_sendmsg() / tcp_sendmsg_locked(): copy into MSS-sized skbs on the write queue,
    push as they fill (PSH when more than half the peer's largest window was written
    since the last PSH), then tcp_push with PSH on the last unless MSG_MORE. Waits for
    the connection and for send-buffer space (tcp_wmem; sk_wmem_queued < sk_sndbuf)
    unless ``timeo_ns`` is 0. Returns the bytes queued.

    ``data`` is a buffer or a list of buffers (an iovec). With MSG_ZEROCOPY on a
    SO_ZEROCOPY socket the buffers are not copied but referenced by the skbs
    (tcp/zerocopy.py) until the completion on the error queue. ``splice_off`` says
    ``data`` are page-cache pages of a file from that offset (MSG_SPLICE_PAGES:
    sendfile, splice): they become the skbs' fragments, not copied. MSG_FASTOPEN (or a
    deferred TCP_FASTOPEN_CONNECT connect) first connects to ``addr`` with data in the
    SYN."""
    if flags & MSG_FASTOPEN or sk.defer_connect:
        from tuxnet.tcp.fastopen_client import tcp_sendmsg_fastopen_data

        return tcp_sendmsg_fastopen_data(sk, _zc.IovIter.of(data).linear(), flags, timeo_ns,
                                         addr, af_unspec)
    it = _zc.IovIter.of(data)
    if splice_off is not None:
        it.base = splice_off
        zc = _zc.tcp_splice_begin(sk, it)
    elif flags & MSG_ZEROCOPY:
        zc = _zc.tcp_zerocopy_begin(sk, it.count, it)
    else:
        zc = None
    try:
        copied = _tcp_sendmsg_locked(sk, it, flags, timeo_ns, zc)
    except BaseException:
        _zc.tcp_zerocopy_end(zc, False)
        raise
    _zc.tcp_zerocopy_end(zc, bool(copied))
    return copied


def _tcp_sendmsg_locked(sk: TcpSock, it: _zc.IovIter, flags: int, timeo_ns: int | None,
                        zc: _zc.ZcSend | None) -> int:
    """The body of tcp_sendmsg_locked (see tcp_sendmsg)."""
    use_frags = zc is not None and zc.sg
    view = it.linear() if not use_frags else memoryview(b"")
    if flags & MSG_DONTWAIT:
        timeo_ns = 0
    deadline = None if timeo_ns is None else sk.host.loop.now_ns() + timeo_ns
    tcp_rate_check_app_limited(sk)  # is sending application-limited? (tcp_rate.c)
    if (1 << sk.sk_state) & ~(TCPF_ESTABLISHED | TCPF_CLOSE_WAIT) and not (
            sk.sk_state == TCP_SYN_RECV and sk.fastopen_rsk is not None):
        # a passive Fast Open child may send before the handshake completes
        # sk_stream_wait_connect
        if sk.sk_err:
            raise sock_errno(sk.sock_error())
        if not (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV):
            raise _stream_error(sk, flags, errno.EPIPE)
        if timeo_ns == 0:
            raise sock_errno(errno.EAGAIN)
        sk.sk_write_pending += 1
        try:
            sk_wait_event(sk, lambda: not (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV)
                          or bool(sk.sk_err), deadline, "send")
        finally:
            sk.sk_write_pending -= 1
        if (1 << sk.sk_state) & ~(TCPF_ESTABLISHED | TCPF_CLOSE_WAIT):
            if sk.sk_err:
                raise sock_errno(sk.sock_error())
            if (1 << sk.sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV):
                raise sock_errno(errno.EAGAIN)
            raise _stream_error(sk, flags, errno.EPIPE)
    copied = 0
    total = it.count
    new_skb = False  # the Linux skb ran out of fragments: the next bytes start another
    mss_now = tcp_current_mss(sk)
    size_goal = _out.tcp_xmit_size_goal(sk, mss_now)  # one MSS unless TSO is on
    xmit_goal = gso_size_goal(sk, mss_now)  # a Linux skb's bytes (tcp/tso_chunk.py)
    fill = 0
    run_first: Any = None
    while True:
        if sk.sk_err or sk.sk_shutdown & SEND_SHUTDOWN:
            if copied:
                break
            raise _stream_error(sk, flags, errno.EPIPE)
        if copied >= total:
            break
        wq = sk.sk_write_queue
        skb = wq[-1] if wq else None
        copy = size_goal - skb.len if skb is not None else 0
        if skb is not None and (tcp_cb(skb).tcp_flags & (TCPHDR_FIN | TCPHDR_SYN)
                                or tcp_cb(skb).eor):  # tcp_skb_can_collapse_to
            copy = 0
        if (skb is None or copy <= 0 or new_skb
                or (skb.tailroom() < 1 and not skb.data_len)):  # frags: no tailroom
            # Linux checks memory when it allocates an skb of size_goal bytes, i.e.
            # when a new run of MSS skbs starts (fill == 0), not for each MSS
            if fill == 0 and not sk.sk_stream_memory_free():
                # wait_for_space
                sk.sock_nospace = True
                if copied:
                    _out.tcp_push(sk, flags & ~MSG_MORE, mss_now, TCP_NAGLE_PUSH)
                if timeo_ns == 0 or (deadline is not None and
                                     sk.host.loop.now_ns() >= deadline):
                    if copied:
                        break
                    raise sock_errno(errno.EAGAIN)
                sk_wait_event(sk, lambda: sk.sk_stream_memory_free() or bool(sk.sk_err) or
                              bool(sk.sk_shutdown & SEND_SHUTDOWN), deadline, "send")
                mss_now = tcp_current_mss(sk)
                size_goal = _out.tcp_xmit_size_goal(sk, mss_now)
                continue
            skb = _out.tcp_stream_alloc_skb(sk, size_goal)
            if new_skb:
                fill, run_first, new_skb = 0, None, False
            tail = wq[-1] if fill and wq else None
            if tail is not None and _out.skb_has_head_charge(tail):
                # the same Linux skb grows: one head allocation (tcp_stream_alloc_skb)
                # per skb, its payload in page frags; the head charge rides on the
                # MSS skb at the Linux skb's end (freed when all of it is acked)
                tail.truesize -= skb.truesize
                sk.sk_wmem_queued -= skb.truesize
            else:
                tail = None
                if zc is not None:
                    zc.new_linux_skb(None)
            _out.tcp_skb_entail(sk, skb)
            if tail is not None and tcp_cb(tail).tcp_flags & TCPHDR_PSH:
                # a PSH mark is on the Linux skb, i.e. on its last byte
                tcp_cb(tail).tcp_flags &= ~TCPHDR_PSH
                tcp_cb(skb).tcp_flags |= TCPHDR_PSH
            copy = size_goal
        if use_frags:
            assert zc is not None
            copy = _zc.skb_zerocopy_iter_stream(sk, skb, zc, min(copy, total - copied))
            if copy < 0:  # out of fragments, or another send's uarg: a new skb
                _out.tcp_mark_push(sk, skb)
                new_skb = True
                continue
        else:
            copy = min(copy, total - copied, skb.tailroom())
            if skb.data_len and skb.nr_frags >= MAX_SKB_FRAGS:  # sysctl_max_skb_frags
                _out.tcp_mark_push(sk, skb)
                new_skb = True
                continue
            if skb.data_len:  # a zerocopy skb: the copy goes into a page frag
                skb.add_frag(bytearray(view[copied:copied + copy]), 0, copy, 0)
            else:
                skb.put_data(view[copied:copied + copy])
            skb.truesize += copy  # skb_copy_to_page_nocache: truesize and wmem_queued
            sk.sk_wmem_queued += copy
        cb: TcpSkbCb = skb.cb
        if not copied:
            cb.tcp_flags &= ~0x08  # TCPHDR_PSH
        sk.write_seq = (sk.write_seq + copy) & _M32
        cb.end_seq = (cb.end_seq + copy) & _M32
        copied += copy
        if copied >= total:
            if flags & MSG_EOR:
                cb.eor = True  # the record ends here: later data starts a new skb
            break
        if skb.len < size_goal or flags & MSG_OOB:
            continue
        # Linux decides on a push once an skb of size_goal bytes is full
        if run_first is None:
            run_first = skb
        fill += skb.len
        if fill < xmit_goal:
            continue
        fill = 0
        first, run_first = run_first, None
        if _out.forced_push(sk):
            _out.tcp_mark_push(sk, skb)
            _out.tcp_push_pending_frames(sk, mss_now, TCP_NAGLE_PUSH)
        elif wq and first is wq[0]:
            _out.tcp_push_one(sk, mss_now)
        if wq and ((sk.snd_nxt - tcp_cb(first).seq) & _M32) < ((sk.write_seq -
                                                                  tcp_cb(first).seq) & _M32) \
                and tcp_cb(wq[0]).seq != tcp_cb(first).seq:
            # part of the Linux skb went out (tso_fragment at the cwnd/window edge): the
            # unsent rest is the tail skb, which keeps filling up to size_goal before
            # the next new-segment memory check (copy = size_goal - skb->len > 0)
            fill = (sk.write_seq - sk.snd_nxt) & _M32
            run_first = wq[0]
    if copied:
        tcp_tx_timestamp(sk)
        _out.tcp_push(sk, flags, mss_now, sk.nonagle)
    return copied


def tcp_cleanup_rbuf(sk: TcpSock, copied: int) -> None:
    """tcp_cleanup_rbuf(): after a read, ACK if one was held back for the reader or the
    window grew a lot (at least doubled)."""
    ack = sk.icsk_ack
    time_to_ack = False
    if sk.inet_csk_ack_scheduled() and (
            ((sk.rcv_nxt - sk.rcv_wup) & _M32) > ack.rcv_mss or (
                copied > 0 and (ack.pending & ICSK_ACK_PUSHED2 or (
                    ack.pending & ICSK_ACK_PUSHED and not sk.inet_csk_in_pingpong_mode()))
                and not sk.sk_rmem_alloc)):
        time_to_ack = True
    if copied > 0 and not time_to_ack and not sk.sk_shutdown & RCV_SHUTDOWN:
        rcv_window_now = sk.tcp_receive_window()
        if 2 * rcv_window_now <= sk.window_clamp:
            new_window = tcp_select_window_raw(sk)
            if new_window and new_window >= 2 * rcv_window_now:
                time_to_ack = True
    if time_to_ack:
        _ctl.tcp_send_ack(sk)


def tcp_recv_at_end(sk: TcpSock) -> bool:
    """The checks tcp_recvmsg_locked() and tcp_splice_read() make when nothing was read
    yet: True at the end of the stream (SOCK_DONE, RCV_SHUTDOWN); raises the pending
    error, or ENOTCONN on a closed socket; False when waiting may bring data."""
    if "SOCK_DONE" in sk.sock_flags:
        return True
    if sk.sk_err:
        raise sock_errno(sk.sock_error())
    if sk.sk_shutdown & RCV_SHUTDOWN:
        return True
    if sk.sk_state == TCP_CLOSE:
        raise sock_errno(errno.ENOTCONN)
    return False


def tcp_recvmsg(sk: TcpSock, size: int, flags: int = 0, timeo_ns: int | None = None) -> bytes:
    """tcp_recvmsg() / tcp_recvmsg_locked(): up to ``size`` bytes; b"" at end of stream;
    waits for data (MSG_WAITALL: for all of it) unless ``timeo_ns`` is 0. Raises
    ENOTCONN (listening / never connected), EAGAIN, or the connection's error."""
    if sk.sk_state == TCP_LISTEN:
        raise sock_errno(errno.ENOTCONN)
    if flags & MSG_DONTWAIT:
        timeo_ns = 0
    if flags & MSG_OOB:
        return tcp_recv_urg(sk, size, bool(flags & MSG_PEEK))
    deadline = None if timeo_ns is None else sk.host.loop.now_ns() + timeo_ns
    peek = bool(flags & MSG_PEEK)
    target = size if flags & MSG_WAITALL else min(max(sk.sk_rcvlowat, 1), size)
    out = bytearray()
    seq = sk.copied_seq
    while True:
        fin = False
        q = sk.sk_receive_queue
        i = 0
        while i < len(q) and len(out) < size:
            skb = q[i]
            cb: TcpSkbCb = skb.cb
            offset = (seq - cb.seq) & _M32
            if offset >= 0x80000000:
                break  # the queue starts after seq: cannot happen
            if offset < skb.len:
                used = min(skb.len - offset, size - len(out))
                if sk.urg_data:  # the urgent mark: stop before it, step over the byte
                    if sk.urg_seq == seq and out:
                        break
                    skip, used = urg_limit(sk, seq, used)
                    seq = (seq + skip) & _M32
                    offset += skip
                out += skb.data[offset:offset + used]
                seq = (seq + used) & _M32
                if not peek:
                    sk.copied_seq = seq
                    tcp_urg_consumed(sk)
                    tcp_rcv_space_adjust(sk)
                if offset + used < skb.len:
                    if not used and len(out) < size:
                        continue  # only the urgent byte was stepped over: read on
                    break
            if cb.tcp_flags & TCPHDR_FIN:
                seq = (seq + 1) & _M32
                fin = True
                if not peek:
                    _eat(sk, skb)
                break
            if peek:
                i += 1
            else:
                _eat(sk, skb)
        if not peek:
            sk.copied_seq = seq
        if fin or len(out) >= target:
            break
        if out:
            if timeo_ns == 0 or sk.sk_err or sk.sk_state == TCP_CLOSE or \
                    sk.sk_shutdown & RCV_SHUTDOWN:
                break
        else:
            if tcp_recv_at_end(sk):
                break
            if timeo_ns == 0:
                raise sock_errno(errno.EAGAIN)
        if deadline is not None and sk.host.loop.now_ns() >= deadline:
            if out:
                break
            raise sock_errno(errno.EAGAIN)
        if not peek:
            tcp_cleanup_rbuf(sk, len(out))
        sk_wait_event(sk, _recv_ready(sk, sk.rcv_nxt), deadline, "recv")
        if peek:
            out.clear()
            seq = sk.copied_seq
    if not peek:
        tcp_cleanup_rbuf(sk, len(out))
    return bytes(out)


def _recv_ready(sk: TcpSock, rcv_nxt: int) -> Callable[[], bool]:
    """sk_wait_data()'s condition: new data, an error, or the end of the stream."""
    def ready() -> bool:
        return (sk.rcv_nxt != rcv_nxt or bool(sk.sk_err) or
                bool(sk.sk_shutdown & RCV_SHUTDOWN) or sk.sk_state == TCP_CLOSE)
    return ready


def _eat(sk: TcpSock, skb: Any) -> None:
    """tcp_eat_recv_skb(): the reader consumed this skb; give its memory back."""
    if sk.sk_receive_queue and sk.sk_receive_queue[0] is skb:
        sk.sk_receive_queue.popleft()
    else:
        try:
            sk.sk_receive_queue.remove(skb)
        except ValueError:
            return
    sk.sk_rmem_alloc -= skb.truesize
    skb.free()
