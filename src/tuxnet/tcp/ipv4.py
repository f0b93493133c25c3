"""TCP over IPv4 (net/ipv4/tcp_ipv4.c: tcp_v4_rcv, tcp_v4_do_rcv, tcp_v4_connect,
tcp_v4_send_reset, tcp_v4_send_ack, tcp_v4_conn_request / tcp_conn_request,
tcp_v4_send_synack, tcp_v4_syn_recv_sock, tcp_v4_cookie_check; net/ipv4/tcp_output.c:
tcp_make_synack, tcp_rtx_synack).

IPv4 delivers with :func:`tcp_v4_rcv` (skb.data at the TCP header, network header set;
:func:`tcp_v4_init` registers it with inet_add_protocol). Checks, in tcp_v4_rcv's
order: not for this host (OTHERHOST), InSegs, a header shorter than 20 bytes or than
its data offset (PKT_TOO_SMALL, InErrs for a bad doff), the checksum over the
pseudo-header (TCP_CSUM: InCsumErrors + InErrs, tcp:tcp_bad_csum), then the socket
lookup: established hash by 4-tuple (full, request and TIME_WAIT sockets), then the
listeners. No socket: NO_SOCKET and a RST (RFC 9293 3.10.7.1) unless it was one.
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.skb import alloc_skb
from tuxnet.skb.defs import CHECKSUM_PARTIAL, CHECKSUM_UNNECESSARY, PACKET_HOST
from tuxnet.tcp import control as _ctl
from tuxnet.tcp import input as _in
from tuxnet.tcp import minisocks as _mini
from tuxnet.tcp import syncookies as _cookies
from tuxnet.tcp.cong import tcp_assign_congestion_control
from tuxnet.tcp.defs import (
    MAX_TCP_HEADER,
    MAX_TCP_OPTION_SPACE,
    TCP_ESTABLISHED,
    TCP_LISTEN,
    TCP_MSS_DEFAULT,
    TCP_NEW_SYN_RECV,
    TCP_SYN_SENT,
    TCP_SYNCOOKIE_VALID,
    TCP_TIME_WAIT,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_RST,
    TCPHDR_SYN,
    TCPOLEN_MD5SIG_ALIGNED,
    TCPOLEN_TSTAMP_ALIGNED,
)
from tuxnet.tcp.ecn import INET_ECN_MASK, tcp_ecn_create_request, tcp_ecn_make_synack
from tuxnet.tcp.md5 import (
    TcpMd5Key,
    tcp_inbound_hash,
    tcp_md5_do_lookup,
    tcp_md5_option,
    tcp_md5_sign,
    tcp_parse_md5sig_option,
    tcp_v4_md5_hash,
)
from tuxnet.tcp.mss import tcp_full_space, tcp_mss_clamp, tcp_select_initial_window, tcp_sync_mss
from tuxnet.tcp.netns import TcpNet, tcp_net
from tuxnet.tcp.options import TcpRxOptions, tcp_options_write, tcp_parse_options
from tuxnet.tcp.sock import (
    TcpSkbCb,
    TcpSock,
    tcp_cb,
    tcp_clock_ms,
    tcp_clock_ns,
    tcp_set_state,
)
from tuxnet.wire.checksum import ones_sum

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.fastopen import FastopenCookie

__all__ = ["tcp_v4_connect", "tcp_v4_init", "tcp_v4_rcv", "tcp_v4_send_reset"]

_M32 = 0xFFFFFFFF
IPPROTO_TCP = 6
_HDR = struct.Struct("!HHIIBBHHH")
_ADDRS = struct.Struct("!II")
_U16 = struct.Struct("!H")


def tcp_v4_init(host: Host) -> None:
    """tcp_v4_init() + inet_add_protocol(&tcp_protocol): deliver IPPROTO_TCP here."""
    from tuxnet.ipv4.inet import inet_add_protocol
    from tuxnet.tcp.icmp_err import tcp_v4_err

    tn = tcp_net(host)
    if not getattr(tn, "registered", False):
        inet_add_protocol(host, IPPROTO_TCP, lambda skb: tcp_v4_rcv(host, skb),
                          lambda skb, info: tcp_v4_err(host, skb, info))
        tn.registered = True  # type: ignore[attr-defined]


# -- building segments without a full socket ------------------------------------------

def _reply_skb(host: Host, saddr: int, daddr: int, sport: int, dport: int, seq: int,
               ack: int, flags: int, window: int, opts: bytes = b"",
               md5: TcpMd5Key | None = None) -> SkBuff:
    """A header-only segment (ip_send_unicast_reply's payload), checksummed; with
    ``md5`` signed (RFC 2385, the option first)."""
    skb = alloc_skb(MAX_TCP_HEADER)
    skb.reserve(MAX_TCP_HEADER)
    if md5 is not None:
        opts = tcp_md5_option() + opts
    hl = 20 + len(opts)
    th = skb.push(hl)
    _HDR.pack_into(th, 0, sport, dport, seq & _M32, ack & _M32, (hl >> 2) << 4, flags,
                   window & 0xFFFF, 0, 0)
    if opts:
        th[20:hl] = opts
    if md5 is not None:
        tcp_md5_sign(th, 20, md5, saddr, daddr, b"")
    check = ~ones_sum(skb.data, saddr + daddr + IPPROTO_TCP + hl) & 0xFFFF
    _U16.pack_into(th, 16, check)
    cb = TcpSkbCb(seq, seq, flags)
    skb.cb = cb
    return skb


def tcp_v4_send_reset(host: Host, sk: object, skb: SkBuff) -> None:
    """tcp_v4_send_reset() (RFC 9293 3.10.7.1): never for a RST; seq = the segment's
    ACK if it had one, else seq 0 with ACK = seq + length (OutSegs, OutRsts)."""
    cb = tcp_cb(skb)
    if cb.tcp_flags & TCPHDR_RST:
        return
    tn = tcp_net(host)
    if sk is None and not tn.skb_dst_is_local(skb):
        return
    sport, dport = _U16.unpack_from(skb.data, 0)[0], _U16.unpack_from(skb.data, 2)[0]
    # RFC 2385: a full socket signs with its key for the peer; a signed segment to no
    # socket gets a RST only from a listener whose key verifies it
    key: TcpMd5Key | None = None
    if isinstance(sk, TcpSock) and sk.md5sig_info and sk.sk_state != TCP_TIME_WAIT:
        key = tcp_md5_do_lookup(sk, 0, cb.saddr)
    elif sk is None and (where := tcp_parse_md5sig_option(skb.data)[0]) >= 0:
        lst = tn.lookup_listener(cb.daddr, dport, cb.iif)
        key = tcp_md5_do_lookup(lst, 0, cb.saddr) if lst is not None else None
        if key is None or bytes(skb.data[where:where + 16]) != \
                tcp_v4_md5_hash(key, cb.saddr, cb.daddr, skb.data):
            return
    if cb.tcp_flags & TCPHDR_ACK:
        rep = _reply_skb(host, cb.daddr, cb.saddr, dport, sport, cb.ack_seq, 0, TCPHDR_RST, 0,
                         md5=key)
    else:
        rep = _reply_skb(host, cb.daddr, cb.saddr, dport, sport, 0, cb.end_seq,
                         TCPHDR_RST | TCPHDR_ACK, 0, md5=key)
    mib = host.mib.tcp
    mib.OutSegs += 1
    mib.OutRsts += 1
    tp = tn.tp_send_reset
    if tp.active:
        from tuxnet.wire.addr import int_to_ip

        tp.emit(skbaddr=id(skb), skaddr=id(sk) if sk is not None else 0,
                state=getattr(sk, "sk_state", 0), saddr=f"{int_to_ip(cb.daddr)}:{dport}",
                daddr=f"{int_to_ip(cb.saddr)}:{sport}", reason="NOT_SPECIFIED")
    tn.ip_queue_xmit(host, rep, cb.daddr, cb.saddr, None, 0, None, None)


def tcp_v4_send_ack(host: Host, skb: SkBuff, seq: int, ack: int, win: int, tsval: int,
                    tsecr: int, tos: int = 0, md5: TcpMd5Key | None = None) -> None:
    """tcp_v4_send_ack(): an ACK for a TIME_WAIT or request socket (nop,nop,TS when
    timestamps are on)."""
    cb = tcp_cb(skb)
    sport, dport = _U16.unpack_from(skb.data, 0)[0], _U16.unpack_from(skb.data, 2)[0]
    opts = tcp_options_write(ts=(tsval, tsecr)) if tsecr else b""
    rep = _reply_skb(host, cb.daddr, cb.saddr, dport, sport, seq, ack, TCPHDR_ACK, win, opts,
                     md5)
    host.mib.tcp.OutSegs += 1
    # ip_send_unicast_reply: replies go Not-ECT (tos & ~INET_ECN_MASK)
    tcp_net(host).ip_queue_xmit(host, rep, cb.daddr, cb.saddr, None, tos & ~INET_ECN_MASK,
                                None, None)


def tcp_v4_timewait_ack(tw: _mini.TcpTimewaitSock, skb: SkBuff) -> None:
    """tcp_v4_timewait_ack()."""
    tsval = (tcp_clock_ms(tw.host) + tw.tw_ts_offset) & _M32
    tcp_v4_send_ack(tw.host, skb, tw.tw_snd_nxt, tw.tw_rcv_nxt,
                    tw.tw_rcv_wnd >> tw.tw_rcv_wscale, tsval, tw.tw_ts_recent, tw.tos,
                    tw.tw_md5_key)


def tcp_v4_reqsk_send_ack(listener: TcpSock, skb: SkBuff, req: _mini.TcpRequestSock) -> None:
    """tcp_v4_reqsk_send_ack(): an ACK for an out-of-window segment to a request."""
    host = listener.host
    tsval = (tcp_clock_ms(host) + req.ts_off) & _M32
    key = tcp_md5_do_lookup(listener, 0, req.inet_daddr) if listener.md5sig_info else None
    tcp_v4_send_ack(host, skb, (req.snt_isn + 1) & _M32, req.rcv_nxt,
                    req.rsk_rcv_wnd >> req.rcv_wscale, tsval,
                    req.ts_recent if req.tstamp_ok else 0, req.tos, key)


def tcp_make_synack(listener: TcpSock, req: _mini.TcpRequestSock, cookie: bool,
                    foc: FastopenCookie | None = None) -> SkBuff:
    """tcp_make_synack() + tcp_synack_options(): MSS, then TS (with the cookie's
    options in TSval), window scale and SACK-permitted as negotiated, then a Fast Open
    cookie (``foc``); the window is the unscaled min(rsk_rcv_wnd, 65535)."""
    host = listener.host
    now_ns = tcp_clock_ns(host)
    now_ms = (now_ns // 1_000_000) & _M32
    dst = req.dst
    mss = tcp_mss_clamp(listener, dst.advmss if dst is not None else 1460)
    key = tcp_md5_do_lookup(listener, 0, req.inet_daddr) if listener.md5sig_info else None
    if key is not None and not cookie:
        req.tstamp_ok = req.tstamp_ok and not req.sack_ok  # MD5 + TS leave no SACK room
    ts = None
    if req.tstamp_ok:
        tsval = now_ms
        if cookie:
            tsval = _cookies.cookie_init_timestamp(now_ms, req.wscale_ok, req.snd_wscale,
                                                   req.sack_ok, req.ecn_ok)
        tsval = (tsval + req.ts_off) & _M32
        if not req.snt_tsval_first:  # tcp_synack_options: never a first TSval of 0
            tsval = tsval or _M32
            req.snt_tsval_first = tsval
        req.snt_tsval_last = tsval
        ts = (tsval, req.ts_recent)
    if not cookie and not req.snt_synack:
        req.snt_synack = now_ns // 1000
    opts = tcp_options_write(mss, ts, req.sack_ok, req.rcv_wscale if req.wscale_ok else -1)
    if foc is not None:
        from tuxnet.tcp.fastopen import synack_fastopen_option

        opts += synack_fastopen_option(foc, MAX_TCP_OPTION_SPACE - len(opts))
    return _reply_skb(host, req.inet_rcv_saddr, req.inet_daddr, req.inet_num, req.inet_dport,
                      req.snt_isn, req.rcv_nxt,
                      TCPHDR_SYN | TCPHDR_ACK | tcp_ecn_make_synack(req),
                      min(req.rsk_rcv_wnd, 0xFFFF), opts, key)


def tcp_v4_send_synack(listener: TcpSock, req: _mini.TcpRequestSock, cookie: bool,
                       foc: FastopenCookie | None = None) -> int:
    """tcp_v4_send_synack(): build and send a SYN-ACK (OutSegs)."""
    skb = tcp_make_synack(listener, req, cookie, foc)
    listener.host.mib.tcp.OutSegs += 1
    tn = listener.net
    return tn.ip_queue_xmit(listener.host, skb, req.inet_rcv_saddr, req.inet_daddr, req.dst,
                            req.tos, None, None)


def tcp_rtx_synack(listener: TcpSock, req: _mini.TcpRequestSock) -> int:
    """tcp_rtx_synack(): RetransSegs, TCPSynRetrans, tcp:tcp_retransmit_synack."""
    res = tcp_v4_send_synack(listener, req, False)
    if res <= 0:
        mib = listener.host.mib
        mib.tcp.RetransSegs += 1
        mib.tcpext.TCPSynRetrans += 1
        tp = listener.net.tp_retransmit_synack
        if tp.active:
            from tuxnet.wire.addr import int_to_ip

            tp.emit(skaddr=id(listener), req=id(req), sport=req.inet_num,
                    dport=req.inet_dport, family="AF_INET",
                    saddr=int_to_ip(req.inet_rcv_saddr), daddr=int_to_ip(req.inet_daddr))
        req.num_retrans += 1
    return res


# -- passive open -------------------------------------------------------------------

def _tcp_listendrop(listener: TcpSock, skb: SkBuff, reason: R) -> None:
    """tcp_listendrop(): ListenDrops. (Linux then consumes the SYN; tuxnet records it as
    a drop so that nothing vanishes without a reason.)"""
    listener.sk_drops += 1
    listener.host.mib.tcpext.ListenDrops += 1
    listener.host.kfree_skb(skb, reason, "tcp_conn_request", listener)


def tcp_openreq_init_rwin(listener: TcpSock, req: _mini.TcpRequestSock) -> None:
    """tcp_openreq_init_rwin(): the request's window and shift (tcp_select_initial_window
    over the listener's buffer)."""
    dst = req.dst
    full_space = tcp_full_space(listener)
    mss = tcp_mss_clamp(listener, dst.advmss if dst is not None else 1460)
    clamp = listener.window_clamp or (dst.window if dst is not None else 0)
    if listener.sk_rcvbuf_locked and (clamp > full_space or clamp == 0):
        clamp = full_space
    rcv_wnd = dst.initrwnd if dst is not None else 0
    req.rsk_rcv_wnd, req.rsk_window_clamp, rcv_wscale = tcp_select_initial_window(
        listener, full_space, mss - (TCPOLEN_TSTAMP_ALIGNED if req.tstamp_ok else 0), clamp,
        req.wscale_ok, rcv_wnd)
    req.rcv_wscale = rcv_wscale


def tcp_v4_conn_request(listener: TcpSock, skb: SkBuff) -> None:
    """tcp_conn_request(): a SYN for a listener. SYN queue full: a SYN cookie
    (tcp_syncookies, TCPReqQFullDoCookies) or a drop (TCPReqQFullDrop); accept queue
    full: ListenOverflows; either drop counts ListenDrops."""
    cb = tcp_cb(skb)
    tn = listener.net
    tcpext = listener.host.mib.tcpext
    rt = skb.dst
    if rt is not None and getattr(rt, "flags", 0) & 0x30000000:  # RTCF_BROADCAST|MULTICAST
        _tcp_listendrop(listener, skb, R.NOT_SPECIFIED)
        return
    syncookies = tn.sysctl("tcp_syncookies")
    want_cookie = False
    isn = cb.tw_isn
    if (syncookies == 2 or listener.reqsk_qlen > listener.sk_max_ack_backlog) and not isn:
        # tcp_syn_flood_action
        if syncookies:
            want_cookie = True
            tcpext.TCPReqQFullDoCookies += 1
        else:
            tcpext.TCPReqQFullDrop += 1
        if not listener.synflood_warned and syncookies != 2:
            listener.synflood_warned = True
        if not want_cookie:
            _tcp_listendrop(listener, skb, R.SOCKET_BACKLOG)
            return
    if listener.sk_ack_backlog > listener.sk_max_ack_backlog:
        tcpext.ListenOverflows += 1
        _tcp_listendrop(listener, skb, R.SOCKET_BACKLOG)
        return
    req = _mini.TcpRequestSock(listener)
    req.syncookie = want_cookie
    tmp = TcpRxOptions()
    tmp.mss_clamp = TCP_MSS_DEFAULT
    from tuxnet.tcp.fastopen import FastopenCookie, tcp_try_fastopen

    foc = FastopenCookie()
    tcp_parse_options(tn, skb.data, 0, cb.hdr_len, True, False, tmp,
                      user_mss=listener.rx_opt.user_mss, foc=None if want_cookie else foc)
    if want_cookie and not tmp.saw_tstamp:
        tmp.sack_ok = tmp.wscale_ok = False
        tmp.snd_wscale = 0
    # tcp_openreq_init
    req.rcv_isn = cb.seq
    req.rcv_nxt = (cb.seq + 1) & _M32
    req.mss = tmp.mss_clamp
    req.ts_recent = tmp.rcv_tsval if tmp.saw_tstamp else 0
    req.tstamp_ok = tmp.saw_tstamp
    req.sack_ok = tmp.sack_ok
    req.snd_wscale = tmp.snd_wscale
    req.wscale_ok = tmp.wscale_ok
    sport, dport = _U16.unpack_from(skb.data, 0)[0], _U16.unpack_from(skb.data, 2)[0]
    req.inet_dport = sport
    req.inet_num = dport
    req.inet_rcv_saddr = cb.daddr
    req.inet_daddr = cb.saddr
    req.tos = listener.tos
    dst = tn.route_output(listener.host, cb.saddr, cb.daddr, listener.sk_bound_dev_if, 0)
    if dst.error:
        _tcp_listendrop(listener, skb, R.IP_OUTNOROUTES)
        return
    req.dst = dst
    tcp_ecn_create_request(req, listener, cb.tcp_flags, cb.ip_dsfield)
    if req.tstamp_ok:
        req.ts_off = tn.secure_tcp_ts_off(cb.daddr, cb.saddr)
    if not want_cookie and not isn:
        max_syn_backlog = tn.sysctl("tcp_max_syn_backlog")
        if not syncookies and max_syn_backlog - listener.reqsk_qlen < (max_syn_backlog >> 2):
            _tcp_listendrop(listener, skb, R.SOCKET_BACKLOG)
            return
        isn = tn.secure_tcp_seq(cb.daddr, cb.saddr, dport, sport)
    elif want_cookie:
        isn, req.mss = _cookies.cookie_v4_init_sequence(tn, cb.saddr, cb.daddr, sport, dport,
                                                        cb.seq, req.mss)
        listener.synq_overflow_ts = listener.jiffies()  # tcp_synq_overflow
        tcpext.SyncookiesSent += 1
    req.snt_isn = isn
    tcp_openreq_init_rwin(listener, req)
    fastopen_sk = None if want_cookie else tcp_try_fastopen(listener, skb, req, foc, dst)
    if fastopen_sk is not None:
        # a Fast Open child: it sends the SYN-ACK and goes straight to the accept queue
        tcp_v4_send_synack(fastopen_sk, req, False, foc)
        fastopen_sk.synack_stamp_us = req.snt_synack
        _mini.inet_csk_reqsk_queue_add(listener, fastopen_sk)
        listener.sk_data_ready()
        listener.host.consume_skb(skb, "tcp_conn_request")
        return
    if not want_cookie and not _mini.inet_csk_reqsk_queue_hash_add(listener, req):
        _tcp_listendrop(listener, skb, R.NOT_SPECIFIED)
        return
    tcp_v4_send_synack(listener, req, want_cookie, foc)
    listener.host.consume_skb(skb, "tcp_conn_request")


def tcp_v4_syn_recv_sock(listener: TcpSock, skb: SkBuff,
                         req: _mini.TcpRequestSock) -> TcpSock | None:
    """tcp_v4_syn_recv_sock(): the child socket, unless the accept queue is full
    (ListenOverflows, ListenDrops)."""
    if listener.sk_ack_backlog > listener.sk_max_ack_backlog:
        listener.host.mib.tcpext.ListenOverflows += 1
        listener.host.mib.tcpext.ListenDrops += 1
        listener.sk_drops += 1
        return None
    child = _mini.tcp_create_openreq_child(listener, req, skb)
    child.inet_id = listener.net.rng.getrandbits(16)
    key = tcp_md5_do_lookup(listener, 0, req.inet_daddr) if listener.md5sig_info else None
    if key is not None:  # tcp_md5_key_copy: the peer's key, as a /32
        child.md5sig_info = [TcpMd5Key(req.inet_daddr, 32, key.l3index, key.flags,
                                       key.key)]
        child.tcp_header_len += TCPOLEN_MD5SIG_ALIGNED
    dst = req.dst
    tcp_sync_mss(child, dst.mtu() if dst is not None else 1500)
    child.advmss = tcp_mss_clamp(listener, dst.advmss if dst is not None else 1460)
    from tuxnet.tcp.mss import tcp_initialize_rcv_mss

    tcp_initialize_rcv_mss(child)
    if child.icsk_ca_ops is None:
        tcp_assign_congestion_control(child)
    listener.net.inherit_port(child, listener.inet_num)
    listener.net.all_socks.append(child)
    return child


def tcp_v4_cookie_check(listener: TcpSock, skb: SkBuff) -> TcpSock | None:
    """tcp_v4_cookie_check() / cookie_v4_check(): an ACK to a listener may complete a
    handshake answered with a cookie (SyncookiesRecv / SyncookiesFailed)."""
    cb = tcp_cb(skb)
    tn = listener.net
    if cb.tcp_flags & TCPHDR_SYN:
        return listener
    if not tn.sysctl("tcp_syncookies") or not cb.tcp_flags & TCPHDR_ACK or \
            cb.tcp_flags & TCPHDR_RST:
        return listener
    if listener.jiffies() > listener.synq_overflow_ts + TCP_SYNCOOKIE_VALID or \
            not listener.synq_overflow_ts:
        return listener  # tcp_synq_no_recent_overflow
    sport, dport = _U16.unpack_from(skb.data, 0)[0], _U16.unpack_from(skb.data, 2)[0]
    tcpext = listener.host.mib.tcpext
    mss = _cookies.cookie_v4_check_seq(tn, cb.saddr, cb.daddr, sport, dport, cb.seq,
                                       cb.ack_seq)
    if not mss:
        tcpext.SyncookiesFailed += 1
        return listener
    tcpext.SyncookiesRecv += 1
    tmp = TcpRxOptions()
    tcp_parse_options(tn, skb.data, 0, cb.hdr_len, False, False, tmp)
    tsoff = 0
    if tmp.saw_tstamp and tmp.rcv_tsecr:
        tsoff = tn.secure_tcp_ts_off(cb.daddr, cb.saddr)
        tmp.rcv_tsecr = (tmp.rcv_tsecr - tsoff) & _M32
    if not _cookies.cookie_timestamp_decode(tn, tmp):
        return listener
    ecn_ok = _cookies.cookie_ecn_ok(tn, tmp)
    req = _mini.TcpRequestSock(listener)
    req.syncookie = True
    req.mss = mss
    req.inet_num = dport
    req.inet_dport = sport
    req.inet_rcv_saddr = cb.daddr
    req.inet_daddr = cb.saddr
    req.snd_wscale = tmp.snd_wscale
    req.sack_ok = tmp.sack_ok
    req.wscale_ok = tmp.wscale_ok
    req.tstamp_ok = tmp.saw_tstamp
    req.ts_recent = tmp.rcv_tsval if tmp.saw_tstamp else 0
    req.rcv_isn = (cb.seq - 1) & _M32
    req.rcv_nxt = cb.seq
    req.snt_isn = (cb.ack_seq - 1) & _M32
    req.ts_off = tsoff
    req.ecn_ok = ecn_ok
    dst = tn.route_output(listener.host, cb.saddr, cb.daddr, listener.sk_bound_dev_if, 0)
    if dst.error:
        return None
    req.dst = dst
    full_space = tcp_full_space(listener)
    clamp = listener.window_clamp or dst.window
    req.rsk_rcv_wnd, req.rsk_window_clamp, req.rcv_wscale = tcp_select_initial_window(
        listener, full_space, req.mss, clamp, req.wscale_ok, dst.initrwnd)
    # tcp_get_cookie_sock
    child = tcp_v4_syn_recv_sock(listener, skb, req)
    if child is None:
        return None
    if not tn.inet_ehash_insert(child):
        return None
    _mini.inet_csk_reqsk_queue_add(listener, child)
    return child


# -- active open -----------------------------------------------------------------------

def tcp_v4_connect(sk: TcpSock, daddr: int, dport: int) -> int:
    """tcp_v4_connect(): route, pick the source address and an ephemeral port, the ISN
    (secure_tcp_seq) and TS offset, SYN_SENT, send the SYN. 0 or -errno."""
    tn = sk.net
    dst = tn.route_output(sk.host, daddr, sk.inet_saddr, sk.sk_bound_dev_if, sk.tos)
    if dst.error:
        return -dst.error
    if dst.rt is not None and getattr(dst.rt, "flags", 0) & 0x30000000:
        return -errno.ENETUNREACH
    if not sk.inet_saddr:
        sk.inet_saddr = dst.saddr
    if not sk.inet_rcv_saddr:
        sk.inet_rcv_saddr = sk.inet_saddr
    sk.inet_dport = dport
    sk.inet_daddr = daddr
    sk.dst = dst
    sk.rx_opt.mss_clamp = TCP_MSS_DEFAULT
    tcp_set_state(sk, TCP_SYN_SENT)
    err = tn.inet_hash_connect(sk)
    if err:
        tcp_set_state(sk, 7)  # TCP_CLOSE
        sk.inet_dport = 0
        return err
    sk.inet_sport = sk.inet_num
    if not sk.write_seq:
        sk.write_seq = tn.secure_tcp_seq(sk.inet_saddr, daddr, sk.inet_sport, dport)
    sk.tsoffset = tn.secure_tcp_ts_off(sk.inet_saddr, daddr)
    sk.inet_id = tn.rng.getrandbits(16)
    if sk.icsk_ca_ops is None:
        tcp_assign_congestion_control(sk)
    if sk not in tn.all_socks:
        tn.all_socks.append(sk)
    from tuxnet.tcp.fastopen_client import tcp_fastopen_defer_connect

    if tcp_fastopen_defer_connect(sk):
        return 0  # TCP_FASTOPEN_CONNECT: the SYN goes with the first write
    err = _ctl.tcp_connect(sk)
    if err:
        tcp_set_state(sk, 7)
        sk.inet_dport = 0
        return err
    return 0


# -- receive ----------------------------------------------------------------------------

def tcp_v4_rcv(host: Host, skb: SkBuff) -> int:
    """tcp_v4_rcv(): validate, look the socket up, hand the segment over."""
    tn = getattr(host, "_tcp_net", None)
    if tn is None:
        tn = tcp_net(host)
    mib = host.mib
    if skb.pkt_type != PACKET_HOST:
        host.kfree_skb(skb, R.OTHERHOST, "tcp_v4_rcv")
        return 0
    mib.tcp.InSegs += 1
    if skb.data_len:  # skb_is_nonlinear
        skb.linearize()
    data = skb._hmv[skb.data_off:skb.tail]  # skb.data
    length = len(data)
    if length < 20:
        host.kfree_skb(skb, R.PKT_TOO_SMALL, "tcp_v4_rcv")
        return 0
    hl = (data[12] >> 4) << 2
    if hl < 20:
        mib.tcp.InErrs += 1
        host.kfree_skb(skb, R.PKT_TOO_SMALL, "tcp_v4_rcv")
        return 0
    if hl > length:
        host.kfree_skb(skb, R.PKT_TOO_SMALL, "tcp_v4_rcv")
        return 0
    saddr, daddr = _ADDRS.unpack_from(skb._hmv[skb.network_header:skb.tail], 12)
    # skb_csum_unnecessary(): CHECKSUM_PARTIAL (a GRO-merged or local skb) is verified
    summed = skb.ip_summed
    if summed != CHECKSUM_UNNECESSARY and summed != CHECKSUM_PARTIAL and \
            ones_sum(data, saddr + daddr + IPPROTO_TCP + length) != 0xFFFF:
        tp = tn.tp_bad_csum
        if tp.active:
            from tuxnet.wire.addr import int_to_ip

            tp.emit(skbaddr=id(skb), saddr=int_to_ip(saddr), daddr=int_to_ip(daddr))
        mib.tcp.InCsumErrors += 1
        mib.tcp.InErrs += 1
        host.kfree_skb(skb, R.TCP_CSUM, "tcp_v4_rcv")
        return 0
    sport, dport, seq, ack_seq, _doff, flags, window, _check, _urg = _HDR.unpack_from(data, 0)
    cb = TcpSkbCb(seq, (seq + (flags & TCPHDR_SYN and 1) + (flags & TCPHDR_FIN) + length - hl)
                  & _M32, flags)
    cb.ack_seq = ack_seq
    cb.window = window
    cb.hdr_len = hl
    cb.saddr = saddr
    cb.daddr = daddr
    cb.iif = skb.skb_iif
    cb.ip_dsfield = skb.skb_network_header()[1]  # tcp_v4_fill_cb: ipv4_get_dsfield
    skb.cb = cb
    # __inet_lookup_established, inline for the common case
    sk = tn.ehash.get((daddr, dport, saddr, sport))
    if sk is not None and sk.sk_state == TCP_ESTABLISHED:
        # an MD5 option (18 bytes) needs a header of 40: shorter ones carry none
        if (sk.md5sig_info or hl >= 38) and _inbound_hash_drop(sk, skb, sk):
            return 0
        segs = skb.gso_segs or 1  # tcp_segs_in: a GRO skb counts its segments
        sk.segs_in += segs
        if cb.end_seq != seq:
            sk.data_segs_in += segs
        _in.tcp_rcv_established(sk, skb)  # tcp_v4_do_rcv
        return 0
    return _lookup_and_deliver(tn, skb, sport, dport)


def _lookup_and_deliver(tn: TcpNet, skb: SkBuff, sport: int, dport: int) -> int:
    """The socket lookup half of tcp_v4_rcv (__inet_lookup_skb and the dispatch)."""
    host = tn.host
    cb = tcp_cb(skb)
    sk = tn.lookup_established(cb.daddr, dport, cb.saddr, sport)
    if sk is None:
        sk = tn.lookup_listener(cb.daddr, dport, cb.iif)
        if sk is None:
            tcp_v4_send_reset(host, None, skb)
            host.kfree_skb(skb, R.NO_SOCKET, "tcp_v4_rcv")
            return 0
    state = sk.sk_state
    if state == TCP_TIME_WAIT:
        return _do_time_wait(tn, sk, skb, sport, dport)
    if state == TCP_NEW_SYN_RECV:
        req: _mini.TcpRequestSock = sk
        listener = req.rsk_listener
        if listener.sk_state != TCP_LISTEN:
            _mini.inet_csk_reqsk_queue_drop(listener, req)
            return _lookup_and_deliver(tn, skb, sport, dport)
        if _inbound_hash_drop(listener, skb, listener):
            return 0
        nsk, reason = _mini.tcp_check_req(listener, skb, req)
        if nsk is None:
            if reason is None:
                host.consume_skb(skb, "tcp_check_req")
            else:
                listener.sk_drops += 1
                host.kfree_skb(skb, reason, "tcp_check_req", listener)
            return 0
        if nsk is listener:
            tcp_v4_do_rcv(listener, skb)
            return 0
        reason = _mini.tcp_child_process(listener, nsk, skb)
        if reason is not None:
            tcp_v4_send_reset(host, nsk, skb)
            host.kfree_skb(skb, reason, "tcp_child_process", nsk)
        return 0
    if _inbound_hash_drop(sk, skb, sk):
        return 0
    segs = skb.gso_segs or 1  # tcp_segs_in: max(1, gso_segs)
    sk.segs_in += segs
    if skb.len > cb.hdr_len:  # payload, not SYN/FIN sequence space
        sk.data_segs_in += segs
    tcp_v4_do_rcv(sk, skb)
    return 0


def _inbound_hash_drop(sk: TcpSock, skb: SkBuff, owner: TcpSock) -> bool:
    """tcp_v4_rcv's tcp_inbound_hash check (RFC 2385; the listener's keys for a request
    socket): a refused segment is dropped with its reason and counted in
    ``owner``'s sk_drops (discard_and_relse). True when dropped."""
    cb = tcp_cb(skb)
    if not sk.md5sig_info and cb.hdr_len < 38:
        return False  # no key, and no room for an MD5 option (18 bytes)
    reason = tcp_inbound_hash(sk, skb.data, cb.saddr, cb.daddr, 0)
    if reason is None:
        return False
    owner.sk_drops += 1
    sk.host.kfree_skb(skb, reason, "tcp_v4_rcv", owner)
    return True


def _do_time_wait(tn: TcpNet, tw: _mini.TcpTimewaitSock, skb: SkBuff, sport: int,
                  dport: int) -> int:
    host = tw.host
    status, isn, reason = _mini.tcp_timewait_state_process(tw, skb)
    if status == _mini.TCP_TW_SYN:
        cb = tcp_cb(skb)
        listener = tw.net.lookup_listener(cb.daddr, dport, cb.iif)
        if listener is not None:
            _mini.inet_twsk_kill(tw)
            cb.tw_isn = isn
            tcp_v4_do_rcv(listener, skb)
            return 0
        status = _mini.TCP_TW_SUCCESS
    if status == _mini.TCP_TW_ACK:
        tcp_v4_timewait_ack(tw, skb)
    elif status == _mini.TCP_TW_RST:
        tcp_v4_send_reset(host, tw, skb)
        _mini.inet_twsk_kill(tw)
        host.kfree_skb(skb, R.TCP_CLOSE, "tcp_v4_rcv")
        return 0
    if reason is not None:  # the TIME_WAIT PAWS failure, answered (or not) all the same
        host.kfree_skb(skb, reason, "tcp_v4_rcv")
    else:
        host.consume_skb(skb, "tcp_v4_rcv")
    return 0


def tcp_v4_do_rcv(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_v4_do_rcv(): ESTABLISHED goes to tcp_rcv_established; a listener may find a
    SYN-cookie child; everything else to tcp_rcv_state_process, which may ask for a
    RST."""
    if sk.sk_state == TCP_ESTABLISHED:
        _in.tcp_rcv_established(sk, skb)
        return
    from tuxnet.core.cpu import charge

    charge(sk.net.core.costs.tcp_slow_path_ns)
    if sk.sk_state == TCP_LISTEN:
        nsk = tcp_v4_cookie_check(sk, skb)
        if nsk is None:
            sk.host.kfree_skb(skb, R.SOCKET_BACKLOG, "tcp_v4_do_rcv", sk)
            return
        if nsk is not sk:
            reason = _mini.tcp_child_process(sk, nsk, skb)
            if reason is not None:
                tcp_v4_send_reset(sk.host, nsk, skb)
                sk.host.kfree_skb(skb, reason, "tcp_child_process", nsk)
            return
    from tuxnet.tcp.rcv_state import tcp_rcv_state_process

    reason = tcp_rcv_state_process(sk, skb)
    if reason is not None:
        tcp_v4_send_reset(sk.host, sk, skb)
        sk.sk_drops += 1
        sk.host.kfree_skb(skb, reason, "tcp_v4_do_rcv", sk)
