"""MSS and receive-window arithmetic (net/ipv4/tcp_output.c: tcp_mtu_to_mss,
tcp_sync_mss, tcp_current_mss, tcp_select_initial_window, __tcp_select_window,
tcp_select_window; include/net/tcp.h: tcp_win_from_space, tcp_space, tcp_full_space,
tcp_bound_to_half_wnd; net/ipv4/tcp_input.c: tcp_grow_window, tcp_initialize_rcv_mss,
tcp_measure_rcv_mss).

Receive memory turns into window through the socket's ``scaling_ratio`` (Linux 6.7+,
TCP_DEFAULT_SCALING_RATIO = 50 % until measured): the default tcp_rmem[1] of 128 KiB
offers 64 KiB, which a SYN rounds down to MSS multiples: 64240 = 44 x 1460 (65160 =
45 x 1448 when timestamps take 12 bytes), the windows Linux hosts are seen to send.
tcp_measure_rcv_mss re-measures the ratio from received skbs' truesize and
:mod:`tuxnet.tcp.rcvbuf` grows the buffer (autotuning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.defs import (
    ICSK_ACK_NOMEM,
    ICSK_ACK_PUSHED,
    ICSK_ACK_PUSHED2,
    MAX_TCP_WINDOW,
    TCP_MAX_WSCALE,
    TCP_MIN_MSS,
    TCP_MSS_DEFAULT,
    TCP_REMNANT,
    TCP_RMEM_TO_WIN_SCALE,
    TCPHDR_PSH,
)

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = [
    "tcp_bound_to_half_wnd",
    "tcp_current_mss",
    "tcp_full_space",
    "tcp_grow_window",
    "tcp_initialize_rcv_mss",
    "tcp_measure_rcv_mss",
    "tcp_mss_clamp",
    "tcp_mtu_to_mss",
    "tcp_select_initial_window",
    "tcp_select_window",
    "tcp_select_window_raw",
    "tcp_space",
    "tcp_sync_mss",
    "tcp_win_from_space",
]

_U16_MAX = 0xFFFF


def tcp_win_from_space(sk: TcpSock, space: int) -> int:
    """tcp_win_from_space(): the share of ``space`` bytes usable as window."""
    return (space * sk.scaling_ratio) >> TCP_RMEM_TO_WIN_SCALE


def tcp_space(sk: TcpSock) -> int:
    """tcp_space(): window room left in the receive buffer."""
    return tcp_win_from_space(sk, sk.sk_rcvbuf - sk.sk_rmem_alloc)


def tcp_full_space(sk: TcpSock) -> int:
    """tcp_full_space(): window room of the whole receive buffer."""
    return tcp_win_from_space(sk, sk.sk_rcvbuf)


def tcp_select_initial_window(sk: TcpSock, space: int, mss: int, window_clamp: int,
                              wscale_ok: bool, init_rcv_wnd: int) -> tuple[int, int, int]:
    """tcp_select_initial_window(): (rcv_wnd, window_clamp, rcv_wscale). The shift is
    the smallest that lets 65535 << shift cover max(tcp_rmem[2], rmem_max): 7 for the
    default 6 MiB, 8 for packetdrill's 15 MiB (RFC 7323 2.3, at most 14)."""
    if window_clamp == 0:
        window_clamp = _U16_MAX << TCP_MAX_WSCALE
    space = min(window_clamp, space)
    if space > mss:
        space = (space // mss) * mss  # rounddown: send full-sized frames
    if sk.net.sysctl("tcp_workaround_signed_windows"):
        rcv_wnd = min(space, MAX_TCP_WINDOW)
    else:
        rcv_wnd = min(space, _U16_MAX)
    if init_rcv_wnd:
        rcv_wnd = min(rcv_wnd, init_rcv_wnd * mss)
    rcv_wscale = 0
    if wscale_ok:
        space = max(space, sk.net.sysctl_vec("tcp_rmem")[2],
                    sk.host.sysctl.get_int("net.core.rmem_max"))
        space = min(space, window_clamp)
        rcv_wscale = max(0, min(space.bit_length() - 1 - 15, TCP_MAX_WSCALE))
    window_clamp = min(_U16_MAX << rcv_wscale, window_clamp)
    return rcv_wnd, window_clamp, rcv_wscale


def __tcp_select_window(sk: TcpSock) -> int:
    """__tcp_select_window(): the window we would offer now (never shrinking is the
    caller's job; tcp_shrink_window is not modelled)."""
    mss = sk.icsk_ack.rcv_mss
    # tcp_space and tcp_full_space (tcp_win_from_space of the free / whole buffer), inline
    ratio = sk.scaling_ratio
    rcvbuf = sk.sk_rcvbuf
    free_space = ((rcvbuf - sk.sk_rmem_alloc) * ratio) >> TCP_RMEM_TO_WIN_SCALE
    allowed_space = (rcvbuf * ratio) >> TCP_RMEM_TO_WIN_SCALE
    clamp = sk.window_clamp
    full_space = clamp if clamp < allowed_space else allowed_space
    wscale = sk.rx_opt.rcv_wscale
    if mss > full_space:
        mss = full_space
        if mss <= 0:
            return 0
    if free_space < (full_space >> 1):
        sk.icsk_ack.quick = 0
        free_space = (free_space >> wscale) << wscale
        if free_space < (allowed_space >> 4) or free_space < mss:
            return 0
    ssthresh = sk.rcv_ssthresh
    if ssthresh < free_space:
        free_space = ssthresh
    if wscale:
        unit = 1 << wscale
        return (free_space + unit - 1) & ~(unit - 1)
    window = sk.rcv_wnd
    if window <= free_space - mss or window > free_space:
        window = (free_space // mss) * mss
    elif mss == full_space and free_space > window + (full_space >> 1):
        window = free_space
    return window


tcp_select_window_raw = __tcp_select_window


def tcp_select_window(sk: TcpSock) -> int:
    """tcp_select_window(): the scaled window field for an outgoing segment; records
    rcv_wnd/rcv_wup and counts TCPToZeroWindowAdv/TCPFromZeroWindowAdv/
    TCPWantZeroWindowAdv. RFC 7323 2.3: never shrink the offered right edge."""
    old_win = sk.rcv_wnd
    tcpext = sk.host.mib.tcpext
    if sk.icsk_ack.pending & ICSK_ACK_NOMEM:
        sk.pred_flags = 0
        sk.rcv_wnd = 0
        sk.rcv_wup = sk.rcv_nxt
        return 0
    wscale = sk.rx_opt.rcv_wscale
    cur_win = sk.tcp_receive_window()
    new_win = __tcp_select_window(sk)
    if new_win < cur_win:
        if new_win == 0:
            tcpext.TCPWantZeroWindowAdv += 1
        unit = 1 << wscale
        new_win = (cur_win + unit - 1) & ~(unit - 1)
    sk.rcv_wnd = new_win
    sk.rcv_wup = sk.rcv_nxt
    if not wscale and sk.net.sysctl("tcp_workaround_signed_windows"):
        new_win = min(new_win, MAX_TCP_WINDOW)
    else:
        new_win = min(new_win, _U16_MAX << wscale)
    new_win >>= wscale
    if new_win == 0:
        sk.pred_flags = 0
        if old_win:
            tcpext.TCPToZeroWindowAdv += 1
    elif old_win == 0:
        tcpext.TCPFromZeroWindowAdv += 1
    return new_win


def tcp_grow_window(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_grow_window(): raise rcv_ssthresh (the window we are willing to offer) as
    data arrives, while the buffer can hold that much at this skb's overhead."""
    space = ((sk.sk_rcvbuf - sk.sk_rmem_alloc) * sk.scaling_ratio) >> TCP_RMEM_TO_WIN_SCALE
    clamp = sk.window_clamp  # room = min(window_clamp, tcp_space(sk)) - rcv_ssthresh
    room = (clamp if clamp < space else space) - sk.rcv_ssthresh
    if room <= 0:
        return
    truesize = skb.truesize
    if tcp_win_from_space(sk, truesize) <= skb.len:
        incr = 2 * sk.advmss
    else:  # __tcp_grow_window
        incr = 0
        ts = tcp_win_from_space(sk, truesize) >> 1
        window = tcp_win_from_space(sk, sk.net.sysctl_vec("tcp_rmem")[2]) >> 1
        while sk.rcv_ssthresh <= window:
            if ts <= skb.len:
                incr = 2 * sk.icsk_ack.rcv_mss
                break
            ts >>= 1
            window >>= 1
    if incr:
        incr = max(incr, 2 * skb.len)
        sk.rcv_ssthresh += min(room, incr)
        sk.icsk_ack.quick |= 1


def tcp_mss_clamp(sk: TcpSock, mss: int) -> int:
    """tcp_mss_clamp(): TCP_MAXSEG caps the route's advmss."""
    user_mss = sk.rx_opt.user_mss
    return user_mss if user_mss and user_mss < mss else mss


def tcp_mtu_to_mss(sk: TcpSock, pmtu: int) -> int:
    """tcp_mtu_to_mss(): path MTU less IPv4 and TCP headers, clamped to the peer's MSS,
    at least tcp_min_snd_mss, less the fixed options (timestamps)."""
    mss_now = pmtu - 20 - 20
    if mss_now > sk.rx_opt.mss_clamp:
        mss_now = sk.rx_opt.mss_clamp
    mss_now -= sk.icsk_ext_hdr_len
    mss_now = max(mss_now, sk.net.sysctl("tcp_min_snd_mss"))
    return mss_now - (sk.tcp_header_len - 20)


def tcp_bound_to_half_wnd(sk: TcpSock, pktsize: int) -> int:
    """tcp_bound_to_half_wnd(): segments no larger than half the peer's largest window."""
    cutoff = sk.max_window >> 1 if sk.max_window > TCP_MSS_DEFAULT else sk.max_window
    if cutoff and pktsize > cutoff:
        return max(cutoff, 68 - sk.tcp_header_len)
    return pktsize


def tcp_sync_mss(sk: TcpSock, pmtu: int) -> int:
    """tcp_sync_mss(): recompute mss_cache for a path MTU; while MTU probing is on the
    MSS stays at the search floor's (tcp/mtu_probe.py)."""
    mtup = sk.icsk_mtup
    if mtup.search_high > pmtu:
        mtup.search_high = pmtu
    mss_now = tcp_bound_to_half_wnd(sk, tcp_mtu_to_mss(sk, pmtu))
    sk.icsk_pmtu_cookie = pmtu
    if mtup.enabled:
        mss_now = min(mss_now, tcp_mtu_to_mss(sk, mtup.search_low))
    sk.mss_cache = mss_now
    return mss_now


def tcp_current_mss(sk: TcpSock) -> int:
    """tcp_current_mss(): mss_cache, resynced to the route's MTU, less the option bytes
    this segment needs beyond the usual ones (SACK blocks)."""
    from tuxnet.tcp.options import established_options_size

    mss_now = sk.mss_cache
    dst = sk.dst
    if dst is not None:
        mtu = dst.mtu()
        if mtu != sk.icsk_pmtu_cookie:
            mss_now = tcp_sync_mss(sk, mtu)
    header_len = established_options_size(sk) + 20
    if header_len != sk.tcp_header_len:
        mss_now -= header_len - sk.tcp_header_len
    return mss_now


def tcp_initialize_rcv_mss(sk: TcpSock) -> None:
    """tcp_initialize_rcv_mss(): a conservative first guess of the peer's MSS."""
    hint = min(sk.advmss, sk.mss_cache, sk.rcv_wnd // 2, TCP_MSS_DEFAULT)
    sk.icsk_ack.rcv_mss = max(hint, TCP_MIN_MSS)


def tcp_measure_rcv_mss(sk: TcpSock, skb: SkBuff, tcp_flags: int, hdr_len: int) -> None:
    """tcp_measure_rcv_mss(): learn the peer's segment size from full-sized segments;
    a small segment marks ICSK_ACK_PUSHED (PUSHED2 on the second)."""
    icsk_ack = sk.icsk_ack
    lss = icsk_ack.last_seg_size
    icsk_ack.last_seg_size = 0
    length = skb.gso_size or skb.len
    if length >= icsk_ack.rcv_mss:
        if length != icsk_ack.rcv_mss:  # 6.7+: re-measure the window/memory ratio
            from tuxnet.tcp.rcvbuf import tcp_scaling_ratio_update

            tcp_scaling_ratio_update(sk, skb)
        icsk_ack.rcv_mss = min(length, sk.advmss)
        if tcp_flags & TCPHDR_PSH:
            icsk_ack.pending |= ICSK_ACK_PUSHED
        return
    length += hdr_len
    if length >= TCP_MSS_DEFAULT + 20 or (length >= TCP_MIN_MSS + 20 and
                                          not tcp_flags & TCP_REMNANT):
        length -= sk.tcp_header_len
        icsk_ack.last_seg_size = length
        if length == lss:
            icsk_ack.rcv_mss = length
            return
    if icsk_ack.pending & ICSK_ACK_PUSHED:
        icsk_ack.pending |= ICSK_ACK_PUSHED2
    icsk_ack.pending |= ICSK_ACK_PUSHED
