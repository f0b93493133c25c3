"""Packetization-layer path MTU discovery, RFC 4821 (net/ipv4/tcp_output.c:
tcp_mtup_init, tcp_mss_to_mtu, tcp_mtu_probe, tcp_mtu_check_reprobe,
tcp_can_coalesce_send_queue_head; net/ipv4/tcp_input.c: tcp_mtup_probe_success,
tcp_mtup_probe_failed; net/ipv4/tcp_timer.c: tcp_mtu_probing).

``net.ipv4.tcp_mtu_probing``: 0 off, 1 only after an ICMP black hole is suspected (the
RTO fired tcp_retries1 times), 2 always. The search runs over IP packet sizes
[search_low, search_high]: search_low starts at ``tcp_base_mss`` as an MTU, search_high
at the peer's MSS as an MTU (lowered by any smaller path MTU, tcp_sync_mss). While
probing is on, the sending MSS stays at search_low's (tcp_sync_mss). tcp_write_xmit
first tries a probe: one segment of the middle size built from the head of the write
queue, sent when cwnd >= 11, the range is at least ``tcp_probe_threshold`` wide and
enough data waits behind it to detect its loss by duplicate ACKs (probe + (reordering
+ 1) MSS). Its ACK moves search_low up to its size (TCPMTUPSuccess; cwnd keeps the
same bytes in flight); its loss, seen when recovery would start at its sequence, moves
search_high below it (TCPMTUPFail) and resends it at the old MSS without a cwnd cut.
After ``tcp_probe_interval`` seconds the search restarts from the current MSS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.defs import TCP_CA_CWR, TCPHDR_ACK, TCPHDR_FIN, TCPHDR_PSH, TCP_CA_Open
from tuxnet.tcp.seq import after

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSkbCb, TcpSock


def tcp_cb(skb: SkBuff) -> TcpSkbCb:
    """TCP_SKB_CB() (tcp.sock's, without importing it: TcpSock holds an IcskMtup)."""
    cb: TcpSkbCb = skb.cb
    return cb

__all__ = ["IcskMtup", "tcp_mss_to_mtu", "tcp_mtu_check_reprobe", "tcp_mtu_probe",
           "tcp_mtu_probing", "tcp_mtup_init", "tcp_mtup_probe_acked",
           "tcp_mtup_probe_failed", "tcp_mtup_probe_lost", "tcp_mtup_probe_success"]

_M32 = 0xFFFFFFFF
_HZ = 1000
_IPV4_HLEN = 20  # icsk_af_ops->net_header_len
_TCP_HLEN = 20  # sizeof(struct tcphdr)


class IcskMtup:
    """icsk->icsk_mtup and tp->mtu_probe: the search range (IP packet sizes) and the
    probe in flight."""

    __slots__ = ("enabled", "probe_seq_end", "probe_seq_start", "probe_size",
                 "probe_timestamp", "search_high", "search_low")

    def __init__(self) -> None:
        self.enabled = False
        self.search_high = 0
        self.search_low = 0
        self.probe_size = 0  # the probe's MTU while one is out, else 0
        self.probe_timestamp = 0  # jiffies of the last search (re)start
        self.probe_seq_start = 0
        self.probe_seq_end = 0


def tcp_mss_to_mtu(sk: TcpSock, mss: int) -> int:
    """tcp_mss_to_mtu(): the IP packet size of an ``mss``-byte segment."""
    return mss + sk.tcp_header_len + sk.icsk_ext_hdr_len + _IPV4_HLEN


def tcp_mtup_init(sk: TcpSock) -> None:
    """tcp_mtup_init(): the search range from the peer's MSS and tcp_base_mss; probing
    on when tcp_mtu_probing is 2 (tcp_connect_init, tcp_init_transfer)."""
    tn = sk.net
    m = sk.icsk_mtup
    m.enabled = tn.sysctl("tcp_mtu_probing") > 1
    m.search_high = sk.rx_opt.mss_clamp + _TCP_HLEN + _IPV4_HLEN
    m.search_low = tcp_mss_to_mtu(sk, tn.sysctl("tcp_base_mss"))
    m.probe_size = 0
    if m.enabled:
        m.probe_timestamp = sk.jiffies()


def tcp_mtu_check_reprobe(sk: TcpSock) -> None:
    """tcp_mtu_check_reprobe(): tcp_probe_interval seconds after the last search,
    search again from the current MSS up to the peer's."""
    from tuxnet.tcp.mss import tcp_current_mss

    m = sk.icsk_mtup
    interval = sk.net.sysctl("tcp_probe_interval")
    now = sk.jiffies()
    if now - m.probe_timestamp >= interval * _HZ:
        mss = tcp_current_mss(sk)
        m.probe_size = 0
        m.search_high = sk.rx_opt.mss_clamp + _TCP_HLEN + _IPV4_HLEN
        m.search_low = tcp_mss_to_mtu(sk, mss)
        m.probe_timestamp = now


def _can_coalesce_send_queue_head(sk: TcpSock, length: int) -> bool:
    """tcp_can_coalesce_send_queue_head(): the first ``length`` unsent bytes may go out
    as one segment (no MSG_EOR boundary inside them; tuxnet builds probes only from
    linear skbs)."""
    for skb in sk.sk_write_queue:
        if skb.data_len:
            return False  # page fragments (MSG_ZEROCOPY, sendfile) are not copied
        if length <= skb.len:
            return True
        if tcp_cb(skb).eor:  # !tcp_skb_can_collapse(skb, next)
            return False
        length -= skb.len
    return True


def tcp_mtu_probe(sk: TcpSock) -> int:
    """tcp_mtu_probe(): send a probe of the middle of the search range built from the
    head of the write queue. 1 sent, 0 wait (cwnd or the window), -1 no probe."""
    from tuxnet.tcp import output as _out
    from tuxnet.tcp.mss import tcp_current_mss, tcp_mtu_to_mss

    m = sk.icsk_mtup
    if not m.enabled or m.probe_size or sk.icsk_ca_state != TCP_CA_Open or \
            sk.snd_cwnd < 11 or sk.rx_opt.num_sacks or sk.rx_opt.dsack:
        return -1
    tn = sk.net
    mss_now = tcp_current_mss(sk)
    probe_size = tcp_mtu_to_mss(sk, (m.search_high + m.search_low) >> 1)
    size_needed = probe_size + (sk.reordering + 1) * sk.mss_cache
    interval = m.search_high - m.search_low
    if probe_size > tcp_mtu_to_mss(sk, m.search_high) or \
            interval < tn.sysctl("tcp_probe_threshold"):
        tcp_mtu_check_reprobe(sk)
        return -1
    if ((sk.write_seq - sk.snd_nxt) & _M32) < size_needed:
        return -1
    if sk.snd_wnd < size_needed:
        return -1
    if after((sk.snd_nxt + size_needed) & _M32, sk.tcp_wnd_end()):
        return 0
    in_flight = sk.tcp_packets_in_flight()
    if in_flight + 2 > sk.snd_cwnd:
        return 0 if in_flight else -1
    if not _can_coalesce_send_queue_head(sk, probe_size):
        return -1
    nskb = _build_probe(sk, probe_size, mss_now)
    if _out.tcp_transmit_skb(sk, nskb, True):
        return -1  # tcp_write_xmit sends its bytes in MSS-sized segments
    sk.snd_cwnd -= 1  # the probe is effectively two packets
    _out.tcp_event_new_data_sent(sk, nskb)
    m.probe_size = tcp_mss_to_mtu(sk, nskb.len)
    cb = tcp_cb(nskb)
    m.probe_seq_start = cb.seq
    m.probe_seq_end = cb.end_seq
    return 1


def _build_probe(sk: TcpSock, probe_size: int, mss_now: int) -> SkBuff:
    """The probe skb at the head of the write queue: whole skbs are eaten
    (tcp_eat_one_skb: their flags and EOR go with them), the last one is trimmed and
    keeps its PSH/FIN; the rest of that Linux skb goes on in mss_now segments."""
    from tuxnet.tcp import output as _out
    from tuxnet.tcp.tso_chunk import tcp_resegment_head

    wq = sk.sk_write_queue
    head_cb = tcp_cb(wq[0])
    nskb = _out.tcp_stream_alloc_skb(sk, probe_size)
    ncb = tcp_cb(nskb)
    ncb.seq = head_cb.seq
    ncb.end_seq = (head_cb.seq + probe_size) & _M32
    ncb.tcp_flags = TCPHDR_ACK
    length = 0
    while wq and length < probe_size:
        skb = wq[0]
        cb = tcp_cb(skb)
        copy = min(skb.len, probe_size - length)
        nskb.put_data(bytes(skb.data[:copy]))
        nskb.truesize += copy
        if skb.len <= copy:  # tcp_eat_one_skb
            ncb.tcp_flags |= cb.tcp_flags
            ncb.eor = cb.eor
            wq.popleft()
            sk.sk_wmem_queued -= skb.truesize
            skb.free()
        else:
            ncb.tcp_flags |= cb.tcp_flags & ~(TCPHDR_FIN | TCPHDR_PSH)
            skb.pull(copy)
            skb.truesize -= copy
            cb.seq = (cb.seq + copy) & _M32
            _out.tcp_set_skb_tso_segs(skb, mss_now)
            if not _out.tcp_sk_can_gso(sk):
                tcp_resegment_head(sk, mss_now)
        length += copy
    sk.sk_wmem_queued += nskb.truesize
    ncb.pcount = 1  # tcp_init_tso_segs(nskb, nskb->len): one segment
    wq.appendleft(nskb)
    return nskb


def tcp_mtup_probe_success(sk: TcpSock) -> None:
    """tcp_mtup_probe_success(): the probe size works: raise search_low to it, keep
    the bytes in flight (cwnd scaled by old MTU / probe size), TCPMTUPSuccess."""
    from tuxnet.tcp.mss import tcp_sync_mss

    m = sk.icsk_mtup
    sk.prior_ssthresh = sk.tcp_current_ssthresh()
    sk.snd_cwnd = max(1, sk.snd_cwnd * tcp_mss_to_mtu(sk, sk.mss_cache) // m.probe_size)
    sk.snd_cwnd_cnt = 0
    sk.snd_cwnd_stamp = sk.jiffies()
    sk.snd_ssthresh = sk.tcp_current_ssthresh()
    m.search_low = m.probe_size
    m.probe_size = 0
    tcp_sync_mss(sk, sk.icsk_pmtu_cookie)
    sk.host.mib.tcpext.TCPMTUPSuccess += 1


def tcp_mtup_probe_acked(sk: TcpSock) -> None:
    """The end of tcp_clean_rtx_queue: an ACK covering the probe is its success."""
    m = sk.icsk_mtup
    if m.probe_size and not ((sk.snd_una - m.probe_seq_end) & 0x80000000):
        tcp_mtup_probe_success(sk)


def tcp_mtup_probe_failed(sk: TcpSock) -> None:
    """tcp_mtup_probe_failed(): the probe size is too big: search below it."""
    m = sk.icsk_mtup
    m.search_high = m.probe_size - 1
    m.probe_size = 0
    sk.host.mib.tcpext.TCPMTUPFail += 1


def tcp_mtup_probe_lost(sk: TcpSock) -> bool:
    """tcp_fastretrans_alert(), where recovery would start: a loss at the probe is its
    failure, not congestion: no cwnd cut (undo the probe's -1) and the probe's bytes
    go again at the MSS (tcp_simple_retransmit). True when handled."""
    m = sk.icsk_mtup
    if sk.icsk_ca_state < TCP_CA_CWR and m.probe_size and sk.snd_una == m.probe_seq_start:
        from tuxnet.tcp.icmp_err import tcp_simple_retransmit

        tcp_mtup_probe_failed(sk)
        sk.snd_cwnd += 1
        tcp_simple_retransmit(sk)
        return True
    return False


def tcp_mtu_probing(sk: TcpSock) -> None:
    """tcp_mtu_probing() (tcp_timer.c): retransmissions timed out tcp_retries1 times,
    maybe an ICMP black hole: turn probing on (tcp_mtu_probing 1), or halve the MSS
    the search starts from (at most tcp_base_mss, at least tcp_mtu_probe_floor and
    tcp_min_snd_mss)."""
    from tuxnet.tcp.mss import tcp_mtu_to_mss, tcp_sync_mss

    tn = sk.net
    if not tn.sysctl("tcp_mtu_probing"):
        return
    m = sk.icsk_mtup
    if not m.enabled:
        m.enabled = True
        m.probe_timestamp = sk.jiffies()
    else:
        mss = tcp_mtu_to_mss(sk, m.search_low) >> 1
        mss = min(tn.sysctl("tcp_base_mss"), mss)
        mss = max(mss, tn.sysctl("tcp_mtu_probe_floor"), tn.sysctl("tcp_min_snd_mss"))
        m.search_low = tcp_mss_to_mtu(sk, mss)
    tcp_sync_mss(sk, sk.icsk_pmtu_cookie)
