"""Sending data (net/ipv4/tcp_output.c: tcp_transmit_skb, tcp_write_xmit,
__tcp_push_pending_frames, tcp_push_one, tcp_fragment, tcp_event_new_data_sent,
tcp_cwnd_validate, tcp_nagle_test, tcp_cwnd_test, tcp_snd_wnd_test; net/ipv4/tcp.c:
tcp_push, tcp_mark_push, forced_push, tcp_skb_entail).

Unsent data sits in ``sk_write_queue`` as skbs of at most size_goal bytes: one MSS,
or with TSO (a route device with NETIF_F_TSO + SG + checksum offload, sk_can_gso: the
TAP, loopback, veth, a SimNic after ``ethtool -K eth0 tso on``) up to 64 KiB
(tcp_xmit_size_goal), carrying tcp_skb_pcount segments of gso_size = MSS; such a skb
goes out as one GSO super-segment with a partial checksum (tcp_v4_send_check), cut to
what cwnd and the window allow (tcp_mss_split_point, tso_fragment). A segment that no
longer fits the current MSS is split by tcp_fragment. Sent
segments move to ``tcp_rtx_queue`` (the kernel's rbtree, in sequence order) and to
``tsorted_sent_queue`` (ordered by transmit time, for RACK). tcp_transmit_skb sends a
clone, so the original stays queued for retransmission.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tuxnet.core.netdevice import NETIF_F_CSUM_MASK, NETIF_F_SG, NETIF_F_TSO
from tuxnet.dropreason import SkbDropReason as R
from tuxnet.skb import CHECKSUM_PARTIAL, SKB_GSO_TCPV4, alloc_skb
from tuxnet.tcp import timer as _timer
from tuxnet.tcp.chrono import (
    TCP_CHRONO_BUSY,
    TCP_CHRONO_RWND_LIMITED,
    TCP_CHRONO_SNDBUF_LIMITED,
    tcp_chrono_start,
    tcp_chrono_stop,
)
from tuxnet.tcp.cong import tcp_ca_event
from tuxnet.tcp.defs import (
    CA_EVENT_TX_START,
    ICSK_TIME_LOSS_PROBE,
    ICSK_TIME_RETRANS,
    MAX_TCP_HEADER,
    MAX_TCP_OPTION_SPACE,
    TCP_ATO_MIN,
    TCP_CLOSE,
    TCP_NAGLE_CORK,
    TCP_NAGLE_PUSH,
    TCP_RTO_MAX,
    TCPCB_LOST,
    TCPCB_SACKED_ACKED,
    TCPCB_SACKED_RETRANS,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_SYN,
)
from tuxnet.tcp.ecn import tcp_ecn_send
from tuxnet.tcp.idle import tcp_slow_start_after_idle_check
from tuxnet.tcp.md5 import tcp_md5_option, tcp_md5_sign
from tuxnet.tcp.mss import tcp_current_mss, tcp_select_window
from tuxnet.tcp.mtu_probe import tcp_mtu_probe
from tuxnet.tcp.options import tcp_established_options, tcp_options_write
from tuxnet.tcp.pacing import SK_PACING_NEEDED, tcp_pacing_advance, tcp_pacing_check
from tuxnet.tcp.rate import tcp_rate_skb_sent
from tuxnet.tcp.seq import after, before
from tuxnet.tcp.sock import TCP_CLOCK_BOOT_NS, TcpSkbCb, tcp_cb, tcp_clock_ns
from tuxnet.tcp.tso_chunk import TsoChunk, gso_size_goal, tcp_resegment_head
from tuxnet.tcp.tsq import (
    tcp_autocork_push,
    tcp_skb_set_owner,
    tcp_small_queue_check,
    tcp_tsq_may_throttle,
    tcp_write_chunk_truesize,
)
from tuxnet.tcp.tx_timestamp import tcp_fragment_tstamp
from tuxnet.tcp.zerocopy import skb_split_frags
from tuxnet.wire.checksum import ones_sum

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.netns import TcpDst
    from tuxnet.tcp.sock import TcpSock

__all__ = ["forced_push", "tcp_event_new_data_sent", "tcp_fragment", "tcp_init_nondata_skb",
           "tcp_mark_push", "tcp_push", "tcp_push_one", "tcp_push_pending_frames",
           "tcp_skb_entail", "tcp_stream_alloc_skb", "tcp_transmit_skb", "tcp_write_xmit"]

_M32 = 0xFFFFFFFF
IPPROTO_TCP = 6
NET_XMIT_CN = 2  # include/linux/netdevice.h
_HDR = struct.Struct("!HHIIHHHH")
_U16 = struct.Struct("!H")


_HEAD_TRUESIZE = alloc_skb(MAX_TCP_HEADER).truesize  # alloc_skb_fclone(MAX_TCP_HEADER)
_TSO_FEATURES = NETIF_F_TSO | NETIF_F_SG
GSO_MAX_SEGS = 65535  # include/linux/netdevice.h: GSO_MAX_SEGS (sk_gso_max_segs)


# -- TSO -----------------------------------------------------------------------------

def tcp_sk_can_gso(sk: TcpSock) -> bool:
    """sk_can_gso(): TSO is on for this netns and the route's device takes TCPv4 GSO
    super-segments with checksum offload (sk_setup_caps: sk_route_caps from dev). An
    MD5-signed socket never builds them (sk_gso_disable: each segment is signed)."""
    if sk.md5sig_info:
        return False
    dst = sk.dst
    dev = getattr(dst.rt, "dev", None) if dst is not None else None
    if dev is None:
        return False
    feats: int = dev.features
    return feats & _TSO_FEATURES == _TSO_FEATURES and bool(feats & NETIF_F_CSUM_MASK)


def tcp_xmit_size_goal(sk: TcpSock, mss_now: int) -> int:
    """tcp_xmit_size_goal(): the skb size tcp_sendmsg fills: one MSS without GSO, else
    the most whole MSS that fit gso_max_size less headers, bounded to half the peer's
    largest window (tcp_bound_to_half_wnd)."""
    if not tcp_sk_can_gso(sk):
        return mss_now
    return gso_size_goal(sk, mss_now)


def tcp_set_skb_tso_segs(skb: SkBuff, mss_now: int) -> int:
    """tcp_set_skb_tso_segs(): pcount (gso_segs) and gso_size of a queued skb."""
    cb = tcp_cb(skb)
    if skb.len <= mss_now:
        cb.pcount = 1
        skb.gso_size = 0
        skb.gso_segs = 0
        skb.gso_type = 0
        return 1
    segs = -(-skb.len // mss_now)
    cb.pcount = segs
    skb.gso_size = mss_now
    skb.gso_segs = segs
    skb.gso_type = SKB_GSO_TCPV4
    return segs


def tcp_mss_split_point(sk: TcpSock, skb: SkBuff, mss_now: int, max_segs: int,
                        nonagle: int) -> int:
    """tcp_mss_split_point(): how much of a TSO skb may go now: max_segs MSS within the
    window; a trailing partial segment waits if Nagle says so."""
    window = (sk.tcp_wnd_end() - tcp_cb(skb).seq) & _M32
    max_len = mss_now * max_segs
    wq = sk.sk_write_queue
    if max_len <= window and skb is not wq[-1]:
        return max_len
    needed = min(skb.len, window)
    if max_len <= needed:
        return max_len
    partial = needed % mss_now
    # tcp_nagle_check(partial != 0, tp, nonagle)
    if partial and (nonagle & TCP_NAGLE_CORK or (
            not nonagle and sk.packets_out and tcp_minshall_check(sk))):
        return needed - partial
    return needed


def tcp_stream_alloc_skb(sk: TcpSock, size: int) -> SkBuff:
    """tcp_stream_alloc_skb(): an skb with MAX_TCP_HEADER of headroom for ``size`` bytes.

    Linux keeps the payload in page fragments and charges truesize = the header
    allocation plus the bytes copied; the data sits in the linear area here, but the
    truesize (sk_wmem_queued, sndbuf) is charged the kernel's way: callers add what they
    copy in."""
    skb = alloc_skb(MAX_TCP_HEADER + size)
    skb.reserve(MAX_TCP_HEADER)
    skb.truesize = _HEAD_TRUESIZE
    skb.cb = TcpSkbCb()
    return skb


def skb_has_head_charge(skb: SkBuff) -> bool:
    """Whether ``skb`` carries the head-allocation truesize of a Linux write-queue skb.

    tuxnet queues one skb per MSS where Linux has one skb of up to size_goal bytes:
    the MSS skb at the end of each Linux skb carries its head charge (truesize = head
    + payload), the others only their payload bytes (skb_copy_to_page_nocache)."""
    return skb.truesize > skb.len


def tcp_init_nondata_skb(skb: SkBuff, seq: int, flags: int) -> None:
    """tcp_init_nondata_skb(): a control segment (SYN and FIN take a sequence number)."""
    cb = skb.cb if isinstance(skb.cb, TcpSkbCb) else TcpSkbCb()
    skb.cb = cb
    cb.tcp_flags = flags
    cb.seq = seq & _M32
    if flags & (TCPHDR_SYN | TCPHDR_FIN):
        seq += 1
    cb.end_seq = seq & _M32
    cb.pcount = 1


def _header(sk: TcpSock, skb: SkBuff, cb: TcpSkbCb, rcv_nxt: int,
            partial: bool = False) -> None:
    """Push and fill the TCP header and checksum (the middle of __tcp_transmit_skb);
    ``partial``: leave the sum to the device (tcp_v4_send_check: the pseudo-header sum
    in th->check, CHECKSUM_PARTIAL at csum_start/csum_offset)."""
    flags = cb.tcp_flags
    tsval = sk.tcp_time_stamp_ts()
    key = sk.tcp_md5_key() if sk.md5sig_info else None
    if flags & TCPHDR_SYN:
        opts = _syn_options(sk, tsval, key is not None)
        window = min(sk.rcv_wnd, 0xFFFF)  # RFC 7323 2.2: SYN windows are never scaled
    else:
        opts = tcp_established_options(sk, tsval, True, key is not None)
        window = tcp_select_window(sk)
    if key is not None:
        opts = tcp_md5_option() + opts  # RFC 2385: signed below
    hl = 20 + len(opts)
    th = skb.push(hl)
    _HDR.pack_into(th, 0, sk.inet_sport, sk.inet_dport, cb.seq,
                   rcv_nxt if flags & TCPHDR_ACK else 0, (hl >> 2) << 12 | flags, window, 0, 0)
    if opts:
        th[20:hl] = opts
    if key is not None:
        payload = skb.copy_bits(hl, skb.len - hl) if skb.data_len else skb.data[hl:]
        tcp_md5_sign(th, 20, key, sk.inet_saddr, sk.inet_daddr, payload)
    if partial:
        _U16.pack_into(th, 16, ones_sum(b"", sk.inet_saddr + sk.inet_daddr + IPPROTO_TCP
                                        + skb.len))
        skb.ip_summed = CHECKSUM_PARTIAL
        skb.csum_start = skb.data_off
        skb.csum_offset = 16  # offsetof(struct tcphdr, check)
        return
    data = skb.data if not skb.data_len else skb.copy_bits(0, skb.len)  # frags: gather
    check = ~ones_sum(data, sk.inet_saddr + sk.inet_daddr + IPPROTO_TCP + skb.len) & 0xFFFF
    _U16.pack_into(th, 16, check)


def tcp_advertise_mss(sk: TcpSock) -> int:
    """tcp_advertise_mss(): advmss, lowered to the route's advmss metric (which follows
    a learned path MTU: ipv4_default_advmss)."""
    mss = sk.advmss
    dst = sk.dst
    rt = dst.rt if dst is not None else None
    if dst is not None and rt is not None and hasattr(rt, "metric"):
        metric = rt.metric(8) or max(dst.mtu() - 40, 256)  # RTAX_ADVMSS
        if metric < mss:
            mss = sk.advmss = metric
    return mss


def _syn_options(sk: TcpSock, tsval: int, md5: bool = False) -> bytes:
    """tcp_syn_options(): MSS, and TS / wscale / sackOK when their sysctls are on (no
    TS beside an MD5 signature: it would not fit)."""
    tn = sk.net
    ts = None
    if tn.sysctl("tcp_timestamps") and not md5:
        ts = ((tsval + sk.tsoffset) & _M32, sk.rx_opt.ts_recent)
    wscale = sk.rx_opt.rcv_wscale if tn.sysctl("tcp_window_scaling") else -1
    opts = tcp_options_write(tcp_advertise_mss(sk), ts, bool(tn.sysctl("tcp_sack")), wscale)
    if sk.fastopen_req is not None:
        from tuxnet.tcp.fastopen import syn_fastopen_option

        opts += syn_fastopen_option(sk, MAX_TCP_OPTION_SPACE - len(opts) - (20 if md5 else 0))
    return opts


def _tso_clone(oskb: SkBuff) -> SkBuff:
    """The copy __tcp_transmit_skb sends when the device does SG and checksum offload:
    a private header skb whose payload is a page fragment over the queued skb's bytes,
    not copied. Linux gets the same from skb_clone, its payload being in frags and the
    header area released to the clone (skb_header_release, nohdr); here the queued
    skb's data is linear, so a clone would make IPv4's skb_cow_head copy all of it."""
    skb = alloc_skb(MAX_TCP_HEADER)
    skb.reserve(MAX_TCP_HEADER)
    skb.add_frag(oskb.data, 0, oskb.len, 0)
    skb.truesize = oskb.truesize
    skb.gso_size = oskb.gso_size
    skb.gso_segs = oskb.gso_segs
    skb.gso_type = oskb.gso_type
    skb.priority = oskb.priority
    skb.mark = oskb.mark
    sh, osh = skb.shinfo, oskb.shinfo  # the clone's shared info: the stamp request
    sh.tx_flags, sh.tskey = osh.tx_flags, osh.tskey
    return skb


def tcp_transmit_skb(sk: TcpSock, skb: SkBuff, clone_it: bool,
                     rcv_nxt: int | None = None) -> int:
    """__tcp_transmit_skb(): build the header on (a clone of) ``skb`` and hand it to IP.
    OutSegs counts new segments and pure control segments, not retransmissions."""
    if rcv_nxt is None:
        rcv_nxt = sk.rcv_nxt
    oskb = skb
    now_ns = tcp_clock_ns(sk.host)
    now_us = now_ns // 1000
    partial = oskb.gso_size > 0 or tcp_sk_can_gso(sk)
    # EDT: the skb leaves no earlier than tcp_wstamp_ns (fq honours skb.tstamp)
    prior_wstamp = sk.tcp_wstamp_ns
    wstamp = sk.tcp_wstamp_ns = max(prior_wstamp, now_ns)
    if clone_it:
        ocb: TcpSkbCb = oskb.cb
        ocb.tx_mstamp = now_us
        if partial and not oskb.data_len:
            skb = _tso_clone(oskb)
            skb.cb = ocb.copy()
        else:  # skb_clone and pskb_copy copy the cb themselves (__copy_skb_header)
            skb = oskb.pskb_copy() if oskb.is_cloned() else oskb.clone()
    cb: TcpSkbCb = skb.cb
    payload = skb.len
    if sk.ecn_flags and not cb.tcp_flags & TCPHDR_SYN:
        tcp_ecn_send(sk, cb, payload > 0)
    _header(sk, skb, cb, rcv_nxt, partial)
    flags = cb.tcp_flags
    if flags & TCPHDR_ACK:
        tcp_event_ack_sent(sk, rcv_nxt)
    pcount = cb.pcount
    if payload:
        tcp_event_data_sent(sk)
        sk.data_segs_out += pcount
        sk.bytes_sent += payload
    if after(cb.end_seq, sk.snd_nxt) or cb.seq == cb.end_seq:
        sk.host.mib.tcp.OutSegs += pcount
    sk.segs_out += pcount
    tcp_skb_set_owner(sk, skb, clone_it, payload)  # tcp_wfree: TSQ (tcp/tsq.py)
    skb.tstamp = wstamp - TCP_CLOCK_BOOT_NS if payload else 0  # pure ACKs are not paced
    ident = sk.inet_id
    sk.inet_id = (ident + pcount) & 0xFFFF
    tn = sk.net
    dst = sk.dst
    if dst is not None and dst.obsolete_fn is not None and dst.obsolete_fn():
        dst = __sk_dst_check(sk)
        if dst is None:  # ip_queue_xmit: no_route
            sk.host.mib.ip.OutNoRoutes += 1
            sk.host.kfree_skb(skb, R.IP_OUTNOROUTES, "ip_queue_xmit")
            return -113  # EHOSTUNREACH
    err = tn.ip_queue_xmit(sk.host, skb, sk.inet_saddr, sk.inet_daddr, dst, sk.tos,
                           None if sk.uc_ttl < 0 else sk.uc_ttl, ident)
    if err > 0:  # the qdisc dropped it (NET_XMIT_DROP) or is congested (NET_XMIT_CN)
        from tuxnet.tcp.recovery import tcp_enter_cwr

        tcp_enter_cwr(sk)
        err = 0 if err == NET_XMIT_CN else err  # net_xmit_eval
    if not err and clone_it:
        # tcp_update_skb_after_send + tcp_rate_skb_sent
        if sk.sk_pacing_status:
            tcp_pacing_advance(sk, payload, prior_wstamp)
        tsq = sk.tsorted_sent_queue
        tsq.pop(oskb, None)
        tsq[oskb] = None
        tcp_rate_skb_sent(sk, oskb.cb, now_us)
    return err


def __sk_dst_check(sk: TcpSock) -> TcpDst | None:
    """__sk_dst_check() found the cached route obsolete (the FIB changed): ip_queue_xmit
    looks it up again and caches it (sk_setup_caps); None when there is no route."""
    dst = sk.net.route_output(sk.host, sk.inet_daddr, sk.inet_saddr, sk.sk_bound_dev_if,
                              sk.tos & ~3)
    if dst.error:
        return None
    sk.dst = dst
    return dst


def tcp_event_data_sent(sk: TcpSock) -> None:
    """tcp_event_data_sent(): CA_EVENT_TX_START after idle, lsndtime, and the pingpong
    count when we answer within ato of the last received packet."""
    now = sk.jiffies()
    if sk.tcp_packets_in_flight() == 0:
        tcp_ca_event(sk, CA_EVENT_TX_START)
    sk.lsndtime = now
    ack = sk.icsk_ack
    if now - ack.lrcvtime < ack.ato and ack.pingpong < 0xFF:  # inet_csk_inc_pingpong_cnt
        ack.pingpong += 1


def tcp_event_ack_sent(sk: TcpSock, rcv_nxt: int) -> None:
    """tcp_event_ack_sent(): an ACK went out; the delayed ACK is no longer due."""
    if sk.compressed_ack:
        sk.host.mib.tcpext.TCPAckCompressed += sk.compressed_ack
        sk.compressed_ack = 0
        if sk.compressed_ack_timer is not None:
            sk.compressed_ack_timer.cancel()
            sk.compressed_ack_timer = None
    if rcv_nxt != sk.rcv_nxt:
        return
    # tcp_dec_quickack_mode
    ack = sk.icsk_ack
    if ack.quick:
        pkts = 1 if sk.inet_csk_ack_scheduled() else 0
        if pkts >= ack.quick:
            ack.quick = 0
            ack.ato = TCP_ATO_MIN  # leaving quickack mode deflates ATO
        else:
            ack.quick -= pkts
    # inet_csk_clear_xmit_timer(sk, ICSK_TIME_DACK)
    ack.pending = 0


# -- queueing ------------------------------------------------------------------------

def tcp_skb_entail(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_skb_entail(): append an empty data skb at write_seq."""
    cb: TcpSkbCb = skb.cb
    cb.seq = cb.end_seq = sk.write_seq
    cb.tcp_flags = TCPHDR_ACK
    if not sk.sk_write_queue:  # tcp_add_write_queue_tail: sending starts
        tcp_chrono_start(sk, TCP_CHRONO_BUSY)
    skb.header_release()  # __skb_header_release: clones push their headers in place
    sk.sk_write_queue.append(skb)
    sk.sk_wmem_queued += skb.truesize
    if sk.nonagle & TCP_NAGLE_PUSH:
        sk.nonagle &= ~TCP_NAGLE_PUSH
    tcp_slow_start_after_idle_check(sk)


def forced_push(sk: TcpSock) -> bool:
    """forced_push(): more than half the peer's largest window written since the last
    PSH."""
    return after(sk.write_seq, (sk.pushed_seq + (sk.max_window >> 1)) & _M32)


def tcp_mark_push(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_mark_push(): set PSH and remember where."""
    tcp_cb(skb).tcp_flags |= TCPHDR_PSH
    sk.pushed_seq = sk.write_seq


def tcp_push(sk: TcpSock, flags: int, mss_now: int, nonagle: int,
             size_goal: int | None = None) -> None:
    """tcp_push(): PSH on the tail unless MSG_MORE, then push what may go
    (MSG_MORE corks); autocorking (tcp_should_autocork, tcp/tsq.py) leaves a tail
    shorter than ``size_goal`` (a Linux skb's bytes) queued while earlier skbs still
    sit in the qdisc or device."""
    if not sk.sk_write_queue:
        return
    skb = sk.sk_write_queue[-1]
    msg_more = bool(flags & 0x8000)
    if not msg_more or forced_push(sk):
        tcp_mark_push(sk, skb)
    if size_goal is None:
        size_goal = gso_size_goal(sk, mss_now)  # tcp_xmit_size_goal with GSO
    if tcp_autocork_push(sk, size_goal, _HEAD_TRUESIZE):
        return
    if msg_more:
        nonagle = TCP_NAGLE_CORK
    tcp_push_pending_frames(sk, mss_now, nonagle)


def tcp_push_pending_frames(sk: TcpSock, cur_mss: int | None = None,
                            nonagle: int | None = None) -> None:
    """__tcp_push_pending_frames(): write what cwnd, the window and Nagle allow; arm the
    zero-window probe timer when nothing is in flight but data waits."""
    if sk.sk_state == TCP_CLOSE:
        return
    if cur_mss is None:
        cur_mss = tcp_current_mss(sk)
    if nonagle is None:
        nonagle = sk.nonagle
    if tcp_write_xmit(sk, cur_mss, nonagle, 0):
        _timer.tcp_check_probe_timer(sk)


def tcp_push_one(sk: TcpSock, mss_now: int) -> None:
    """tcp_push_one(): send just the head of the write queue."""
    tcp_write_xmit(sk, mss_now, TCP_NAGLE_PUSH, 1)


# -- tcp_write_xmit ------------------------------------------------------------------

def tcp_cwnd_test(sk: TcpSock, skb: SkBuff) -> int:
    """tcp_cwnd_test(): how many segments cwnd lets out (the final FIN always goes)."""
    cb: TcpSkbCb = skb.cb
    if cb.tcp_flags & TCPHDR_FIN and cb.pcount == 1:
        return 1
    in_flight = sk.tcp_packets_in_flight()
    cwnd = sk.snd_cwnd
    if in_flight >= cwnd:
        return 0
    return min(max(cwnd >> 1, 1), cwnd - in_flight)


def tcp_snd_wnd_test(sk: TcpSock, skb: SkBuff, cur_mss: int) -> bool:
    """tcp_snd_wnd_test(): the first segment's end lies within the peer's window."""
    cb: TcpSkbCb = skb.cb
    end_seq = cb.end_seq
    if skb.len > cur_mss:
        end_seq = (cb.seq + cur_mss) & _M32
    return not after(end_seq, sk.tcp_wnd_end())


def tcp_minshall_check(sk: TcpSock) -> bool:
    """tcp_minshall_check(): a sub-MSS segment is still unacknowledged."""
    return after(sk.snd_sml, sk.snd_una) and not after(sk.snd_sml, sk.snd_nxt)


def tcp_nagle_test(sk: TcpSock, skb: SkBuff, cur_mss: int, nonagle: int) -> bool:
    """tcp_nagle_test() (RFC 896 with Minshall's variant): may this segment go now?"""
    if nonagle & TCP_NAGLE_PUSH:
        return True
    if tcp_cb(skb).tcp_flags & TCPHDR_FIN:
        return True
    partial = skb.len < cur_mss
    # tcp_nagle_check
    return not (partial and (nonagle & TCP_NAGLE_CORK or
                             (not nonagle and sk.packets_out and tcp_minshall_check(sk))))


def tcp_write_xmit(sk: TcpSock, mss_now: int, nonagle: int, push_one: int) -> bool:
    """tcp_write_xmit(): send the write queue head while cwnd (tcp_cwnd_test), the
    receive window (tcp_snd_wnd_test) and Nagle allow; with TSO a skb goes as one
    super-segment of what cwnd and the window allow (tcp_mss_split_point, tso_fragment;
    tcp_tso_should_defer is not modelled: nothing is deferred). Returns True when
    nothing is in flight yet data remains (the caller arms the persist timer)."""
    sent_pkts = 0
    sk.tcp_mstamp_refresh()
    if not push_one and sk.icsk_mtup.enabled:
        result = tcp_mtu_probe(sk)  # RFC 4821 (tcp/mtu_probe.py)
        if not result:
            return False
        if result > 0:
            sent_pkts = 1
    is_cwnd_limited = False
    is_rwnd_limited = False
    wq = sk.sk_write_queue
    gso = tcp_sk_can_gso(sk)
    # without TSO the queue holds one skb per MSS: TsoChunk finds Linux's GSO packet
    # boundaries and their PSH; with TSO the queued skbs are those packets already
    chunk = TsoChunk(sk, mss_now) if push_one != 2 and not gso else None
    while wq:
        skb = wq[0]
        if sk.sk_pacing_status == SK_PACING_NEEDED and tcp_pacing_check(sk):
            break
        if not gso and skb.len < mss_now and len(wq) > 1:
            hcb: TcpSkbCb = skb.cb
            if not (hcb.tcp_flags & (TCPHDR_PSH | TCPHDR_FIN) or hcb.eor):
                tcp_resegment_head(sk, mss_now)  # the MSS grew since it was queued
                skb = wq[0]
        tso_segs = tcp_set_skb_tso_segs(skb, mss_now) if gso else 1
        cwnd_quota = tcp_cwnd_test(sk, skb)
        if not cwnd_quota:
            if push_one == 2:
                cwnd_quota = 1  # force out a loss probe
            else:
                is_cwnd_limited = True
                break
        if not tcp_snd_wnd_test(sk, skb, mss_now):
            is_rwnd_limited = True
            break
        last = len(wq) == 1
        if tso_segs == 1:
            if not tcp_nagle_test(sk, skb, mss_now, nonagle if last else TCP_NAGLE_PUSH):
                break
            if skb.len > mss_now and tcp_fragment(sk, wq, skb, mss_now, mss_now):
                break
        else:
            limit = tcp_mss_split_point(sk, skb, mss_now, min(cwnd_quota, GSO_MAX_SEGS),
                                        nonagle if last else TCP_NAGLE_PUSH)
            if limit < mss_now:
                break
            if skb.len > limit:  # tso_fragment
                tcp_fragment(sk, wq, skb, limit, mss_now)
        cb: TcpSkbCb = skb.cb
        if chunk is None:
            if tcp_small_queue_check(sk, skb.truesize, 0):
                break
        elif not chunk.segs and tcp_tsq_may_throttle(sk, 0) and tcp_small_queue_check(
                sk, tcp_write_chunk_truesize(wq, 0, min(cwnd_quota, chunk.max_segs),
                                             _HEAD_TRUESIZE, False), 0):
            break  # TSQ: one check per Linux skb sent, i.e. per TSO chunk
        if cb.end_seq == cb.seq:
            break  # an empty skb a sleeping sendmsg left
        chunk_ended, force_psh = True, False
        if chunk is not None:  # TSO chunk boundaries and their PSH (tcp/tso_chunk.py)
            nxt = wq[1] if len(wq) > 1 else None
            chunk_ended, force_psh = chunk.add(
                skb, nxt is None or cwnd_quota <= cb.pcount
                or not tcp_snd_wnd_test(sk, nxt, mss_now)
                or not tcp_nagle_test(sk, nxt, mss_now,
                                      nonagle if len(wq) == 2 else TCP_NAGLE_PUSH))
        cb.tso_end = chunk_ended
        if force_psh:
            flags = cb.tcp_flags
            cb.tcp_flags = flags | TCPHDR_PSH
            err = tcp_transmit_skb(sk, skb, True)
            cb.tcp_flags = flags
        else:
            err = tcp_transmit_skb(sk, skb, True)
        if err:
            break
        tcp_event_new_data_sent(sk, skb)
        if skb.len < cb.pcount * mss_now:  # tcp_minshall_update
            sk.snd_sml = cb.end_seq
        sent_pkts += cb.pcount
        if push_one and chunk_ended:  # tcp_push_one sends one (TSO) packet
            break
    if sent_pkts and wq and chunk is not None:
        sent_tail = sk.tcp_rtx_queue[-1]
        if not skb_has_head_charge(sent_tail):
            # tso_fragment(): the sent part of a Linux skb becomes its own skb with a
            # new head allocation (tcp_stream_alloc_skb, charged to sk_wmem_queued)
            sent_tail.truesize += _HEAD_TRUESIZE
            sk.sk_wmem_queued += _HEAD_TRUESIZE
    sk.rwnd_limited = is_rwnd_limited
    if is_rwnd_limited:
        tcp_chrono_start(sk, TCP_CHRONO_RWND_LIMITED)
    else:
        tcp_chrono_stop(sk, TCP_CHRONO_RWND_LIMITED)
    is_cwnd_limited = is_cwnd_limited or sk.tcp_packets_in_flight() >= sk.snd_cwnd
    if sent_pkts or is_cwnd_limited:
        tcp_cwnd_validate(sk, is_cwnd_limited)
    if sent_pkts:
        if sk.tcp_in_cwnd_reduction():
            sk.prr_out += sent_pkts
        if push_one != 2:
            _timer.tcp_schedule_loss_probe(sk, False)
        return False
    return not sk.packets_out and bool(wq)


def tcp_event_new_data_sent(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_event_new_data_sent(): move the sent skb to the retransmit queue, advance
    snd_nxt, count TCPOrigDataSent, start the RTO timer on the first packet out."""
    prior_packets = sk.packets_out
    cb: TcpSkbCb = skb.cb
    sk.snd_nxt = cb.end_seq
    sk.sk_write_queue.popleft()
    sk.tcp_rtx_queue.append(skb)
    sk.packets_out += cb.pcount
    if not prior_packets or sk.icsk_pending == ICSK_TIME_LOSS_PROBE:
        _timer.tcp_rearm_rto(sk)
    sk.host.mib.tcpext.TCPOrigDataSent += cb.pcount


def tcp_cwnd_validate(sk: TcpSock, is_cwnd_limited: bool) -> None:
    """tcp_cwnd_validate() (RFC 7661 in spirit): track whether the flow used its cwnd,
    which gates cwnd growth (tcp_is_cwnd_limited)."""
    if not before(sk.snd_una, sk.cwnd_usage_seq) or is_cwnd_limited or \
            (not sk.is_cwnd_limited and sk.packets_out > sk.max_packets_out):
        sk.is_cwnd_limited = is_cwnd_limited
        sk.max_packets_out = sk.packets_out
        sk.cwnd_usage_seq = sk.snd_nxt
    if sk.is_cwnd_limited:
        sk.snd_cwnd_used = 0
        sk.snd_cwnd_stamp = sk.jiffies()
    else:
        if sk.packets_out > sk.snd_cwnd_used:
            sk.snd_cwnd_used = sk.packets_out
        # the application, not cwnd, is the limit: it hit its send buffer
        if not sk.sk_write_queue and sk.sock_nospace and sk.sk_state in (1, 8):
            tcp_chrono_start(sk, TCP_CHRONO_SNDBUF_LIMITED)


def tcp_fragment(sk: TcpSock, queue: object, skb: SkBuff, length: int, mss_now: int) -> int:
    """tcp_fragment(): split ``skb`` after ``length`` bytes; PSH and FIN stay on the
    second part. ``queue`` is sk_write_queue or tcp_rtx_queue. Returns 0."""
    nlen = skb.len - length
    if nlen <= 0:
        return 0
    cb = tcp_cb(skb)
    buff = tcp_stream_alloc_skb(sk, nlen)
    buff.header_release()  # __skb_header_release
    if skb.data_len:  # skb_split: the frags past ``length`` move to buff
        moved = skb_split_frags(skb, buff, length)
    else:
        buff.put_data(skb.data[length:])
        skb.trim(length)
        moved = nlen
    sk.sk_wmem_queued += buff.truesize
    buff.truesize += moved
    skb.truesize -= moved
    bcb = tcp_cb(buff)
    bcb.seq = (cb.seq + length) & _M32
    bcb.end_seq = cb.end_seq
    cb.end_seq = bcb.seq
    flags = cb.tcp_flags
    cb.tcp_flags = flags & ~(TCPHDR_FIN | TCPHDR_PSH)
    bcb.tcp_flags = flags
    bcb.eor, cb.eor = cb.eor, False  # tcp_skb_fragment_eor
    bcb.tso_end, cb.tso_end = cb.tso_end, True  # two retransmit-queue skbs now
    tcp_fragment_tstamp(skb, buff)
    bcb.sacked = cb.sacked
    bcb.tx_mstamp = cb.tx_mstamp
    bcb.first_tx_mstamp = cb.first_tx_mstamp
    bcb.tx_delivered = cb.tx_delivered
    bcb.delivered_mstamp = cb.delivered_mstamp
    bcb.tx_app_limited = cb.tx_app_limited
    old_factor = cb.pcount
    if old_factor > 1 or skb.gso_size or tcp_sk_can_gso(sk):
        tcp_set_skb_tso_segs(skb, mss_now)
        tcp_set_skb_tso_segs(buff, mss_now)
    else:
        cb.pcount = 1
        bcb.pcount = 1
    if queue is sk.tcp_rtx_queue:
        diff = old_factor - cb.pcount - bcb.pcount
        if diff:
            tcp_adjust_pcount(sk, skb, diff)
        rtx = sk.tcp_rtx_queue
        rtx.insert(rtx.index(skb) + 1, buff)
        items = list(sk.tsorted_sent_queue)
        if skb in sk.tsorted_sent_queue:
            items.insert(items.index(skb) + 1, buff)
        sk.tsorted_sent_queue = dict.fromkeys(items)
    else:
        wq = sk.sk_write_queue
        wq.insert(wq.index(skb) + 1, buff)
    return 0


def tcp_adjust_pcount(sk: TcpSock, skb: SkBuff, decr: int) -> None:
    """tcp_adjust_pcount(): the packet counters follow a sent skb's new pcount."""
    sk.packets_out -= decr
    sacked = tcp_cb(skb).sacked
    if sacked & TCPCB_SACKED_ACKED:
        sk.sacked_out -= decr
    if sacked & TCPCB_SACKED_RETRANS:
        sk.retrans_out -= decr
    if sacked & TCPCB_LOST:
        sk.lost_out -= decr


def tcp_rtx_timer_rearm(sk: TcpSock) -> None:
    """inet_csk_reset_xmit_timer(ICSK_TIME_RETRANS, icsk_rto) after a retransmission."""
    _timer.inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS, sk.icsk_rto, TCP_RTO_MAX)
