"""TCP Fast Open, the active side (RFC 7413 3, 4.1; net/ipv4/tcp_fastopen.c,
tcp_output.c: tcp_send_syn_data, tcp_input.c: tcp_rcv_fastopen_synack, tcp_metrics.c:
tcp_fastopen_cache_get/set, tcp.c: tcp_sendmsg_fastopen).

sendto/sendmsg(MSG_FASTOPEN) connects and puts up to one MSS of data in the SYN when
the per-destination cache holds a cookie; else the SYN asks for one (option 34, or the
experimental 254 after a SYN-ACK brought none). TCP_FASTOPEN_CONNECT defers the SYN of
connect() to the first write when a cookie is cached. SYN data the SYN-ACK does not
acknowledge is resent at once (TCPFastOpenActiveFail); timeouts and out-of-order RSTs
of active TFO connections may pause active TFO (tcp_fastopen_blackhole_timeout_sec).
The shared state, cookies and the passive side are in :mod:`tuxnet.tcp.fastopen`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.defs import HZ, MAX_TCP_OPTION_SPACE, TCP_CLOSE, TCPHDR_ACK, TCPHDR_PSH
from tuxnet.tcp.fastopen import (
    TFO_CLIENT_ENABLE,
    TFO_CLIENT_NO_COOKIE,
    TFO_COOKIE_UNAVAILABLE,
    TFO_DATA_NOT_ACKED,
    TFO_SYN_RETRANSMITTED,
    FastopenCookie,
    FastopenMetrics,
    FastopenRequest,
    sysctl_tcp_fastopen,
    tcp_fastopen_add_skb,
    tcp_fastopen_no_cookie,
    tfo_net,
)
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.netns import TcpNet
    from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_fastopen_cache_get", "tcp_fastopen_defer_connect", "tcp_rcv_fastopen_synack",
           "tcp_send_syn_data", "tcp_sendmsg_fastopen_data"]

_M32 = 0xFFFFFFFF


def _metrics(sk: TcpSock, create: bool) -> FastopenMetrics | None:
    """tcp_get_metrics(): the cache entry of this connection's addresses."""
    cache = tfo_net(sk.net).cache
    key = (sk.inet_saddr, sk.inet_daddr)
    tm = cache.get(key)
    if tm is None and create:
        tm = cache[key] = FastopenMetrics()
    return tm


def tcp_fastopen_cache_get(sk: TcpSock, cookie: FastopenCookie) -> int:
    """tcp_fastopen_cache_get(): the cached cookie (into ``cookie``) and MSS (0: none);
    a destination that ignored our request gets the experimental option next time."""
    tm = _metrics(sk, False)
    if tm is None:
        return 0
    c = tm.cookie
    cookie.len, cookie.val, cookie.exp = c.len, c.val, c.exp
    if cookie.len <= 0 and tm.try_exp == 1:
        cookie.exp = True
    return tm.mss


def tcp_fastopen_cache_set(sk: TcpSock, mss: int, cookie: FastopenCookie | None,
                           syn_lost: bool, try_exp: int) -> None:
    """tcp_fastopen_cache_set()."""
    if sk.dst is None:
        return
    tm = _metrics(sk, True)
    assert tm is not None
    if mss:
        tm.mss = mss
    if cookie is not None and cookie.len > 0:
        tm.cookie = cookie.copy()
    elif try_exp > tm.try_exp and tm.cookie.len <= 0 and not tm.cookie.exp:
        tm.try_exp = try_exp
    if syn_lost:
        tm.syn_loss += 1
        tm.last_syn_loss = sk.jiffies()
    else:
        tm.syn_loss = 0


def tcp_fastopen_metrics_flush(tn: TcpNet) -> None:
    """ip tcp_metrics flush: forget every cached cookie."""
    tfo_net(tn).cache.clear()


def tcp_fastopen_active_should_disable(sk: TcpSock) -> bool:
    """tcp_fastopen_active_should_disable(): active TFO is paused for
    tcp_fastopen_blackhole_timeout_sec << (times - 1) (at most 64x) after a blackhole."""
    tn = sk.net
    timeout = tn.sysctl("tcp_fastopen_blackhole_timeout_sec")
    st = tfo_net(tn)
    if not timeout or not st.disable_times:
        return False
    multiplier = 1 << min(st.disable_times - 1, 6)
    if sk.jiffies() < st.disable_stamp + multiplier * timeout * HZ:
        return True
    sk.syn_fastopen_ch = True
    return False


def tcp_fastopen_active_disable(sk: TcpSock) -> None:
    """tcp_fastopen_active_disable() (TCPFastOpenBlackhole)."""
    tn = sk.net
    if not tn.sysctl("tcp_fastopen_blackhole_timeout_sec"):
        return
    st = tfo_net(tn)
    st.disable_stamp = sk.jiffies()
    st.disable_times += 1
    sk.host.mib.tcpext.TCPFastOpenBlackhole += 1


def tcp_fastopen_active_detect_blackhole(sk: TcpSock, expired: bool) -> None:
    """tcp_fastopen_active_detect_blackhole(): a third timeout of an active TFO
    connection (or giving up earlier) pauses active TFO (TCPFastOpenActiveFail)."""
    timeouts = sk.icsk_retransmits
    if (sk.syn_fastopen or sk.syn_data or sk.syn_data_acked) and \
            (timeouts == 2 or (timeouts < 2 and expired)):
        tcp_fastopen_active_disable(sk)
        sk.host.mib.tcpext.TCPFastOpenActiveFail += 1


def tcp_fastopen_cookie_check(sk: TcpSock, cookie: FastopenCookie) -> tuple[bool, int]:
    """tcp_fastopen_cookie_check(): (may the SYN carry data, the cached MSS or 0)."""
    mss = tcp_fastopen_cache_get(sk, cookie)
    if tcp_fastopen_active_should_disable(sk):
        cookie.len = -1
        return False, mss
    if tcp_fastopen_no_cookie(sk, sk.dst, TFO_CLIENT_NO_COOKIE):
        cookie.len = -1
        return True, mss
    if cookie.len > 0:
        return True, mss
    sk.fastopen_client_fail = TFO_COOKIE_UNAVAILABLE
    return False, mss


def tcp_fastopen_defer_connect(sk: TcpSock) -> bool:
    """tcp_fastopen_defer_connect(): with TCP_FASTOPEN_CONNECT and a cached cookie,
    connect() returns at once and the SYN waits for the first write; without one the
    SYN requests a cookie."""
    if not sk.fastopen_connect or sk.fastopen_req is not None:
        return False
    cookie = FastopenCookie(0)
    ok, _mss = tcp_fastopen_cookie_check(sk, cookie)
    if ok:
        sk.defer_connect = True
        return True
    fo = FastopenRequest(None, 0)
    fo.cookie = cookie
    sk.fastopen_req = fo
    return False


def tcp_send_syn_data(sk: TcpSock, syn: SkBuff) -> int:
    """tcp_send_syn_data(): send the SYN with data and the cached cookie, then keep the
    data as a separate skb after the SYN on the retransmit queue, so that timeouts
    resend a plain SYN; without a cookie, a SYN with a cookie request."""
    from tuxnet.tcp import output as _out
    from tuxnet.tcp.chrono import TCP_CHRONO_BUSY, tcp_chrono_start
    from tuxnet.tcp.mss import tcp_mss_clamp, tcp_mtu_to_mss, tcp_sync_mss

    fo = sk.fastopen_req
    assert fo is not None
    sk.rx_opt.mss_clamp = sk.advmss  # if no MSS is cached
    ok, mss = tcp_fastopen_cookie_check(sk, fo.cookie)
    if mss:
        sk.rx_opt.mss_clamp = mss
    err = 0
    sent = False
    if ok:
        # the SYN data fits the cached MSS, the path MTU and TCP_MAXSEG, with room
        # left for the largest option block a middlebox could add
        sk.rx_opt.mss_clamp = tcp_mss_clamp(sk, sk.rx_opt.mss_clamp)
        tcp_sync_mss(sk, sk.icsk_pmtu_cookie)
        # __tcp_mtu_to_mss(): without the fixed options tcp_mtu_to_mss takes off
        space = tcp_mtu_to_mss(sk, sk.icsk_pmtu_cookie) + (sk.tcp_header_len - 20) - \
            MAX_TCP_OPTION_SPACE
        space = max(0, min(space, fo.size))
        syn_data = _out.tcp_stream_alloc_skb(sk, space)
        syn_data.cb = tcp_cb(syn).copy()
        if space:
            assert fo.data is not None
            syn_data.put_data(fo.data[:space])
            syn_data.truesize += space
        if space == fo.size:
            fo.data = None  # nothing left for inet_wait_for_connect to wait on
        fo.copied = space
        # tcp_connect_queue_skb
        dcb = tcp_cb(syn_data)
        dcb.end_seq = (dcb.end_seq + syn_data.len) & _M32
        sk.sk_wmem_queued += syn_data.truesize
        sk.write_seq = dcb.end_seq
        sk.packets_out += 1
        if syn_data.len:
            tcp_chrono_start(sk, TCP_CHRONO_BUSY)
        err = _out.tcp_transmit_skb(sk, syn_data, True)
        syn.cb.tx_mstamp = dcb.tx_mstamp
        dcb.seq = (dcb.seq + 1) & _M32
        dcb.tcp_flags = TCPHDR_ACK | TCPHDR_PSH
        if not err:
            sk.syn_data = fo.copied > 0
            sk.tcp_rtx_queue.append(syn_data)
            sk.host.mib.tcpext.TCPOrigDataSent += 1
            sent = True
        else:
            sk.sk_write_queue.append(syn_data)  # not sent: it waits on the write queue
            sk.packets_out -= 1
    if not sent:
        if fo.cookie.len > 0:
            fo.cookie.len = 0  # a regular SYN with a cookie request
        err = _out.tcp_transmit_skb(sk, syn, True)
        if err:
            sk.syn_fastopen = False
    fo.cookie.len = -1  # SYN retransmits carry no Fast Open option
    return err


def tcp_rcv_fastopen_synack(sk: TcpSock, synack: SkBuff, cookie: FastopenCookie) -> bool:
    """tcp_rcv_fastopen_synack(): cache what the SYN-ACK taught (cookie, MSS, whether
    to try the experimental option); SYN data it did not acknowledge is marked lost and
    resent now (TCPFastOpenActiveFail); True if so. Acknowledged SYN data counts
    TCPFastOpenActive and TCPI_OPT_SYN_DATA."""
    from tuxnet.tcp.recovery import tcp_mark_skb_lost

    data = sk.tcp_rtx_queue[0] if sk.syn_data and sk.tcp_rtx_queue else None
    mss = sk.rx_opt.mss_clamp
    if mss == sk.rx_opt.user_mss:
        # TCP_MAXSEG set mss_clamp: cache the SYN-ACK's own MSS
        from tuxnet.tcp.options import TcpRxOptions, tcp_parse_options

        opt = TcpRxOptions()
        tcp_parse_options(sk.net, synack.data, 0, tcp_cb(synack).hdr_len, True, False, opt)
        mss = opt.mss_clamp
    syn_drop = False
    try_exp = 0
    if not sk.syn_fastopen:
        cookie.len = -1  # ignore an unsolicited cookie
    elif sk.total_retrans:
        # the SYN timed out and the SYN-ACK neither has a cookie nor acknowledges
        # data: the SYN-data or its SYN-ACK was presumably dropped
        syn_drop = cookie.len < 0 and data is not None
    elif cookie.len < 0 and not sk.syn_data:
        # no cookie for our request: try the other option format next time
        try_exp = 2 if sk.syn_fastopen_exp else 1
    tcp_fastopen_cache_set(sk, mss, cookie, syn_drop, try_exp)
    if data is not None:
        sk.fastopen_client_fail = TFO_SYN_RETRANSMITTED if sk.total_retrans else \
            TFO_DATA_NOT_ACKED
        started = False
        for skb in list(sk.tcp_rtx_queue):
            if skb is data:
                started = True
            if started:
                tcp_mark_skb_lost(sk, skb)
        tcp_non_congestion_loss_retransmit(sk)
        sk.host.mib.tcpext.TCPFastOpenActiveFail += 1
        return True
    sk.syn_data_acked = sk.syn_data
    if sk.syn_data_acked:
        sk.host.mib.tcpext.TCPFastOpenActive += 1
        if sk.delivered > 1:  # SYN-data counts as two packets in tcp_ack()
            sk.delivered -= 1
    tcp_fastopen_add_skb(sk, synack)
    return False


def tcp_non_congestion_loss_retransmit(sk: TcpSock) -> None:
    """tcp_non_congestion_loss_retransmit(): resend what is marked lost without
    treating it as congestion (Loss state, ssthresh kept, no undo)."""
    from tuxnet.tcp.cong import tcp_set_ca_state
    from tuxnet.tcp.retrans import tcp_xmit_retransmit_queue

    if sk.icsk_ca_state != 4:  # TCP_CA_Loss
        sk.high_seq = sk.snd_nxt
        sk.snd_ssthresh = sk.tcp_current_ssthresh()
        sk.prior_ssthresh = 0
        sk.undo_marker = 0
        tcp_set_ca_state(sk, 4)
    tcp_xmit_retransmit_queue(sk)


def tcp_sendmsg_fastopen(sk: TcpSock, data: memoryview, timeo_ns: int | None,
                         addr: tuple[int, int] | None, af_unspec: bool) -> tuple[int, int]:
    """tcp_sendmsg_fastopen(): connect with data in the SYN (waiting for the handshake
    unless ``timeo_ns`` is 0); (errno or 0, the bytes that went into the SYN)."""
    import errno

    from tuxnet.tcp.proto import inet_stream_connect_fo

    tn = sk.net
    if not sysctl_tcp_fastopen(tn) & TFO_CLIENT_ENABLE or af_unspec:
        return errno.EOPNOTSUPP, 0
    if sk.fastopen_req is not None:
        return errno.EALREADY, 0  # another Fast Open is in progress
    fo = FastopenRequest(data, len(data))
    sk.fastopen_req = fo
    if sk.defer_connect:
        from tuxnet.tcp.control import tcp_connect

        if tcp_connect(sk):
            from tuxnet.tcp.sock import tcp_set_state

            tcp_set_state(sk, TCP_CLOSE)
            sk.inet_dport = 0
    err = inet_stream_connect_fo(sk, addr, timeo_ns)
    copied = 0
    if sk.fastopen_req is not None:
        copied = sk.fastopen_req.copied
        sk.fastopen_req = None
        sk.defer_connect = False
    return err, copied


def tcp_sendmsg_fastopen_data(sk: TcpSock, data: bytes | bytearray | memoryview, flags: int,
                              timeo_ns: int | None, addr: tuple[int, int] | None,
                              af_unspec: bool) -> int:
    """tcp_sendmsg_locked()'s Fast Open start: connect with data in the SYN
    (tcp_sendmsg_fastopen: EOPNOTSUPP when client TFO is off or for AF_UNSPEC,
    EALREADY while one is in progress, EINPROGRESS when not waiting and nothing went
    into the SYN), then send the rest as a regular write."""
    import errno

    from tuxnet.socket.core import sock_errno
    from tuxnet.tcp.proto import MSG_DONTWAIT, MSG_FASTOPEN, tcp_sendmsg

    view = memoryview(data).cast("B") if not isinstance(data, memoryview) else data.cast("B")
    err, copied_syn = tcp_sendmsg_fastopen(sk, view, 0 if flags & MSG_DONTWAIT else timeo_ns,
                                           addr, af_unspec)
    if err == errno.EINPROGRESS and copied_syn > 0:
        return copied_syn
    if err:
        raise sock_errno(err)
    try:
        return tcp_sendmsg(sk, view[copied_syn:], flags & ~MSG_FASTOPEN, timeo_ns) + copied_syn
    except OSError:
        if copied_syn:
            return copied_syn
        raise
