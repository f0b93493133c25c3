"""The TCP socket: struct tcp_sock + inet_connection_sock on top of the generic Sock,
TCP_SKB_CB, struct tcp_options_received, and tcp_set_state (net/ipv4/tcp.c,
include/linux/tcp.h, include/net/inet_connection_sock.h).

Field names are the kernel's. Sequence numbers are ints modulo 2**32 (see
:mod:`tuxnet.tcp.seq`); RTTs are in microseconds with Linux's fixed point (``srtt_us``
holds 8 x SRTT, ``mdev_us`` 4 x the mean deviation); ``icsk_rto`` and the delayed-ACK
``ato`` are in jiffies; timestamps (``retrans_stamp``, TS values) are on the 1 kHz TS
clock without the per-connection ``tsoffset``; ``icsk_timeout`` and the other timer
deadlines are absolute loop nanoseconds.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.socket.core import Sock
from tuxnet.tcp.defs import (
    NSEC_PER_JIFFY,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_DEFAULT_SCALING_RATIO,
    TCP_ESTABLISHED,
    TCP_FASTRETRANS_THRESH,
    TCP_INFINITE_SSTHRESH,
    TCP_INIT_CWND,
    TCP_MSS_DEFAULT,
    TCP_RTO_MIN,
    TCP_STATE_NAMES,
    TCP_SYN_RECV,
    TCP_TIMEOUT_INIT,
    USEC_PER_JIFFY,
    TCP_CA_Open,
)
from tuxnet.tcp.mtu_probe import IcskMtup

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.loop import TimerHandle
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.cong import TcpCongestionOps
    from tuxnet.tcp.fastopen import FastopenQueue, FastopenRequest
    from tuxnet.tcp.md5 import TcpMd5Key
    from tuxnet.tcp.minisocks import TcpRequestSock
    from tuxnet.tcp.netns import TcpDst

__all__ = ["IcskAck", "Minmax", "RackState", "RxOpt", "TcpSkbCb", "TcpSock", "inet_sk_set_state",
           "ktime_get_seconds", "tcp_cb", "tcp_set_state"]

IPPROTO_TCP = 6
SOCK_STREAM = 1
_M32 = 0xFFFFFFFF


class TcpSkbCb:
    """struct tcp_skb_cb (TCP_SKB_CB(skb)): what TCP keeps in skb->cb."""

    __slots__ = ("ack_seq", "daddr", "delivered_mstamp", "end_seq", "eor", "first_tx_mstamp",
                 "hdr_len", "iif", "ip_dsfield", "pcount",
                 "sack_blocks", "sacked", "saddr", "seq", "tcp_flags", "tso_end", "tw_isn",
                 "tx_app_limited", "tx_delivered", "tx_mstamp", "txstamp_ack", "window")

    def __init__(self, seq: int = 0, end_seq: int = 0, tcp_flags: int = 0) -> None:
        self.seq = seq
        self.end_seq = end_seq
        self.tcp_flags = tcp_flags
        self.sacked = 0  # TCPCB_* bits (rx: offset of a SACK option, here its blocks)
        self.ack_seq = 0
        self.pcount = 1  # tcp_skb_pcount (gso_segs)
        self.tx_mstamp = 0  # skb->skb_mstamp_ns / 1000: last (re)transmission, µs
        self.first_tx_mstamp = 0  # tx.first_tx_mstamp (tcp_rate.c)
        self.tx_delivered = 0  # tx.delivered
        self.delivered_mstamp = 0  # tx.delivered_mstamp (0 once SACKed: sample used)
        self.tx_app_limited = False
        self.sack_blocks: list[tuple[int, int]] | None = None
        self.window = 0  # rx: the raw window field
        self.hdr_len = 0  # rx: doff * 4
        self.saddr = 0  # rx: the IPv4 source (TCP_SKB_CB(skb)->header.h4)
        self.daddr = 0
        self.iif = 0
        self.ip_dsfield = 0  # rx: the IPv4 TOS byte (ECN in its low bits)
        self.tw_isn = 0  # the ISN a TIME_WAIT socket chose for a new SYN
        self.eor = False  # MSG_EOR: nothing may be appended to or collapsed into it
        # sent: the last MSS of a Linux retransmit-queue skb (tcp/tso_chunk.py); only
        # tcp_write_xmit's multi-segment chunks clear it
        self.tso_end = True
        self.txstamp_ack = False  # SOF_TIMESTAMPING_TX_ACK asked for (tcp/tx_timestamp.py)

    def copy(self) -> TcpSkbCb:
        """memcpy of skb->cb, as skb_clone does."""
        n = TcpSkbCb(self.seq, self.end_seq, self.tcp_flags)
        n.sacked = self.sacked
        n.ack_seq = self.ack_seq
        n.pcount = self.pcount
        n.tx_mstamp = self.tx_mstamp
        n.first_tx_mstamp = self.first_tx_mstamp
        n.tx_delivered = self.tx_delivered
        n.delivered_mstamp = self.delivered_mstamp
        n.tx_app_limited = self.tx_app_limited
        n.sack_blocks = self.sack_blocks
        n.window = self.window
        n.hdr_len = self.hdr_len
        n.saddr = self.saddr
        n.daddr = self.daddr
        n.iif = self.iif
        n.ip_dsfield = self.ip_dsfield
        n.eor = self.eor
        n.tso_end = self.tso_end
        n.txstamp_ack = self.txstamp_ack
        return n

    def __repr__(self) -> str:
        return (f"<TcpSkbCb seq={self.seq} end_seq={self.end_seq} "
                f"flags={self.tcp_flags:#x} sacked={self.sacked:#x}>")


# The kernel's clocks (ktime, jiffies, the TCP µs/ms clocks) are never 0 on a running
# host, and TCP uses 0 as "unset" for many stamps; a simulated host is taken to have
# been up for TCP_CLOCK_BOOT_NS when its loop time is 0.
TCP_CLOCK_BOOT_NS = 1_000_000_000


def tcp_clock_ns(host: Host) -> int:
    """tcp_clock_ns(): the TCP clock (monotonic, never 0)."""
    return host.loop.now_ns() + TCP_CLOCK_BOOT_NS


def tcp_clock_us(host: Host) -> int:
    """tcp_clock_us()."""
    return (host.loop.now_ns() + TCP_CLOCK_BOOT_NS) // 1000


def tcp_clock_ms(host: Host) -> int:
    """tcp_clock_ms() / tcp_jiffies32 at HZ = 1000."""
    return (host.loop.now_ns() + TCP_CLOCK_BOOT_NS) // 1_000_000


def jiffies_to_loop_ns(j: int) -> int:
    """The loop time at which the jiffies counter reaches ``j``."""
    return j * NSEC_PER_JIFFY - TCP_CLOCK_BOOT_NS


def ktime_get_seconds(host: Host) -> int:
    """ktime_get_seconds()."""
    return (host.loop.now_ns() + TCP_CLOCK_BOOT_NS) // 1_000_000_000


def tcp_cb(skb: SkBuff) -> TcpSkbCb:
    """TCP_SKB_CB(skb)."""
    cb: TcpSkbCb = skb.cb
    return cb


class RxOpt:
    """struct tcp_options_received."""

    __slots__ = ("dsack", "mss_clamp", "num_sacks", "rcv_tsecr", "rcv_tsval", "rcv_wscale",
                 "sack_ok", "saw_tstamp", "snd_wscale", "ts_recent", "ts_recent_stamp",
                 "tstamp_ok", "user_mss", "wscale_ok")

    def __init__(self) -> None:
        self.ts_recent_stamp = 0  # seconds (ktime_get_seconds) of the last ts_recent update
        self.ts_recent = 0
        self.rcv_tsval = 0
        self.rcv_tsecr = 0
        self.saw_tstamp = False
        self.tstamp_ok = False
        self.dsack = False
        self.wscale_ok = False
        self.sack_ok = False
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.num_sacks = 0
        self.user_mss = 0
        self.mss_clamp = 0

    def tcp_clear_options(self) -> None:
        """tcp_clear_options()."""
        self.tstamp_ok = self.sack_ok = False
        self.wscale_ok = False
        self.snd_wscale = 0


class IcskAck:
    """inet_connection_sock.icsk_ack: the delayed-ACK engine's state."""

    __slots__ = ("ato", "last_seg_size", "lrcvtime", "pending", "pingpong", "quick", "rcv_mss",
                 "timeout")

    def __init__(self) -> None:
        self.pending = 0  # ICSK_ACK_* bits
        self.quick = 0  # scheduled number of quick acks
        self.pingpong = 0  # interactive-session counter
        self.ato = 0  # predicted tick of soft clock (jiffies)
        self.timeout = 0  # delayed-ACK deadline (jiffies)
        self.lrcvtime = 0  # jiffies of the last received data packet
        self.last_seg_size = 0
        self.rcv_mss = 0  # MSS used for delayed-ACK decisions


class RackState:
    """tcp_sock.rack (RFC 8985 RACK)."""

    __slots__ = ("advanced", "dsack_seen", "end_seq", "last_delivered", "mstamp",
                 "reo_wnd_persist", "reo_wnd_steps", "rtt_us")

    def __init__(self) -> None:
        self.mstamp = 0  # xmit time of the most recently (S)ACKed segment, µs
        self.rtt_us = 0
        self.end_seq = 0
        self.last_delivered = 0
        self.reo_wnd_steps = 1
        self.reo_wnd_persist = 0
        self.dsack_seen = False
        self.advanced = False


class Minmax:
    """struct minmax (lib/win_minmax.c): Kathleen Nichols' windowed min over 3 samples."""

    __slots__ = ("s",)

    def __init__(self, t: int, meas: int) -> None:
        self.s = [(t, meas)] * 3

    def get(self) -> int:
        """minmax_get()."""
        return self.s[0][1]

    def reset(self, t: int, meas: int) -> int:
        """minmax_reset()."""
        self.s = [(t, meas)] * 3
        return meas

    def running_max(self, win: int, t: int, meas: int) -> int:
        """minmax_running_max()."""
        s = self.s
        if meas >= s[0][1] or t - s[2][0] > win:
            return self.reset(t, meas)
        val = (t, meas)
        if meas >= s[1][1]:
            s[2] = s[1] = val
        elif meas >= s[2][1]:
            s[2] = val
        return self._subwin_update(win, val)

    def _subwin_update(self, win: int, val: tuple[int, int]) -> int:
        """minmax_subwin_update(): age the best, 2nd and 3rd choices in the window."""
        s = self.s
        t = val[0]
        dt = t - s[0][0]
        if dt > win:
            s[0], s[1], s[2] = s[1], s[2], val
            if t - s[0][0] > win:
                s[0], s[1], s[2] = s[1], s[2], val
        elif s[1][0] == s[0][0] and dt > win // 4:
            s[2] = s[1] = val
        elif s[2][0] == s[1][0] and dt > win // 2:
            s[2] = val
        return s[0][1]

    def running_min(self, win: int, t: int, meas: int) -> int:
        """minmax_running_min()."""
        s = self.s
        if meas <= s[0][1] or t - s[2][0] > win:
            return self.reset(t, meas)
        val = (t, meas)
        if meas <= s[1][1]:
            s[2] = s[1] = val
        elif meas <= s[2][1]:
            s[2] = val
        return self._subwin_update(win, val)


class TcpSock(Sock):
    """struct tcp_sock (with inet_connection_sock): one TCP endpoint.

    Created by :func:`tuxnet.tcp.proto.tcp_v4_init_sock` for a socket(2) or by
    tcp_create_openreq_child for an accepted connection.
    """

    def __init__(self, host: Host) -> None:
        super().__init__(host, SOCK_STREAM, IPPROTO_TCP)
        from tuxnet.tcp.netns import tcp_net

        self.net = tcp_net(host)
        self.prot: Any = self.net  # sk->sk_prot: get_port / unhash / rehash
        # -- inet_connection_sock --------------------------------------------------
        self.icsk_ca_state = TCP_CA_Open
        self.icsk_ca_ops: TcpCongestionOps | None = None
        self.icsk_ca_priv: Any = None
        self.icsk_ca_initialized = False
        self.icsk_ca_dst_locked = False
        self.cap_net_admin = False  # the owner's CAP_NET_ADMIN (TCP_CONGESTION checks)
        self.icsk_retransmits = 0
        self.icsk_backoff = 0
        self.icsk_probes_out = 0
        self.icsk_rto = TCP_TIMEOUT_INIT
        self.icsk_rto_min = TCP_RTO_MIN
        self.icsk_delack_max = 0  # set by tcp_init_sock
        self.icsk_pending = 0
        self.icsk_timeout = 0  # ns
        self.icsk_syn_retries = 0
        self.icsk_user_timeout = 0
        self.icsk_pmtu_cookie = 0
        self.icsk_ext_hdr_len = 0
        self.icsk_mtup = IcskMtup()  # tcp/mtu_probe.py
        self.icsk_ack = IcskAck()
        self.icsk_retransmit_timer: TimerHandle | None = None
        self.icsk_delack_timer: TimerHandle | None = None
        self.sk_timer: TimerHandle | None = None  # keepalive / FIN_WAIT2 / SYN-ACK
        self.sk_timer_when = 0
        # listener: accept queue (struct request_sock_queue)
        self.icsk_accept_queue: deque[TcpSock] = deque()
        self.reqsk_qlen = 0
        self.reqsk_young = 0
        self.rskq_defer_accept = 0
        self.synflood_warned = False
        self.synq_overflow_ts = 0  # jiffies of the last SYN-queue overflow (cookies)
        self.sk_max_ack_backlog = 0
        self.sk_ack_backlog = 0
        self.parent: TcpSock | None = None  # the listener of a child not yet accepted
        self.hashed = False
        self.bound = False
        self.dst: TcpDst | None = None
        self.sk_lingertime = 0
        self.sk_wmem_queued = 0
        self.sk_write_pending = 0
        self.sk_write_queue: deque[SkBuff] = deque()
        self.tcp_rtx_queue: deque[SkBuff] = deque()
        self.tsorted_sent_queue: dict[SkBuff, None] = {}
        self.sk_rcvbuf_locked = False
        # -- tcp_sock: sequence space ----------------------------------------------
        self.rcv_nxt = 0
        self.copied_seq = 0
        self.rcv_wup = 0
        self.snd_nxt = 0
        self.snd_una = 0
        self.snd_sml = 0
        self.snd_up = 0
        self.write_seq = 0
        self.pushed_seq = 0
        self.snd_wl1 = 0
        self.snd_wnd = 0
        self.max_window = 0
        self.notsent_lowat = 0  # TCP_NOTSENT_LOWAT (0: the sysctl)
        self.rcv_wnd = 0
        self.rcv_ssthresh = 0
        self.window_clamp = 0
        self.scaling_ratio = TCP_DEFAULT_SCALING_RATIO
        self.mss_cache = TCP_MSS_DEFAULT
        self.advmss = 0
        self.tcp_header_len = 20
        self.pred_flags = 0
        self.nonagle = 0
        self.urg_data = 0  # TCP_URG_* | the urgent byte (tcp/urgent.py)
        self.urg_seq = 0
        self.rx_opt = RxOpt()
        self.tsoffset = 0
        self.snt_isn = 0
        self.rcv_isn = 0
        # -- RTT (RFC 6298, tcp_rtt_estimator fixed point) -------------------------
        self.srtt_us = 0
        self.mdev_us = TCP_TIMEOUT_INIT * USEC_PER_JIFFY
        self.mdev_max_us = 0
        self.rttvar_us = TCP_TIMEOUT_INIT * USEC_PER_JIFFY
        self.rtt_seq = 0
        self.rtt_min = Minmax(0, 0xFFFFFFFF)
        self.tcp_mstamp = 0  # µs, refreshed per event (tcp_mstamp_refresh)
        self.rcv_rtt_est_rtt_us = 0
        self.rcv_rtt_est_seq = 0
        self.rcv_rtt_est_time = 0
        self.rcv_rtt_last_tsecr = 0
        # -- congestion control ---------------------------------------------------
        self.snd_cwnd = TCP_INIT_CWND
        self.snd_cwnd_cnt = 0
        self.snd_cwnd_clamp = 0xFFFFFFFF
        self.snd_cwnd_used = 0
        self.snd_cwnd_stamp = 0
        self.snd_ssthresh = TCP_INFINITE_SSTHRESH
        self.prior_ssthresh = 0
        self.prior_cwnd = 0
        self.prr_delivered = 0
        self.prr_out = 0
        self.high_seq = 0
        self.undo_marker = 0
        self.undo_retrans = -1
        self.is_cwnd_limited = False
        self.max_packets_out = 0
        self.cwnd_usage_seq = 0
        self.reordering = TCP_FASTRETRANS_THRESH
        self.reord_seen = 0
        self.is_sack_reneg = False
        self.frto = False
        self.tlp_high_seq = 0
        self.tlp_retrans = False
        self.rack = RackState()
        # -- in-flight accounting (RFC 6675 pipe) -----------------------------------
        self.packets_out = 0
        self.retrans_out = 0
        self.sacked_out = 0
        self.lost_out = 0
        self.retrans_stamp = 0
        self.highest_sack_seq = 0  # tcp_highest_sack_seq() while sacked_out
        self.retransmit_skb_hint: SkBuff | None = None
        self.delivered = 0
        self.delivered_ce = 0  # segments delivered with ECE (tcp/ecn.py)
        self.md5sig_info: list[TcpMd5Key] | None = None  # TCP_MD5SIG keys (tcp/md5.py)
        self.ecn_flags = 0  # TCP_ECN_* (tcp/ecn.py)
        self.lost = 0
        self.app_limited = 0
        self.first_tx_mstamp = 0
        self.delivered_mstamp = 0
        self.rate_delivered = 0  # tcp_rate_gen: the last (non-app-limited) sample
        self.rate_interval_us = 0
        self.rate_app_limited = False
        # -- pacing (sk_pacing_*, EDT: tcp_wstamp_ns) --------------------------------
        self.sk_pacing_rate = (1 << 64) - 1  # bytes/s; ~0UL: unlimited
        self.sk_max_pacing_rate = (1 << 64) - 1  # SO_MAX_PACING_RATE
        self.sk_pacing_status = 0  # SK_PACING_NONE / NEEDED / FQ
        self.sk_pacing_shift = 10  # sk_pacing_shift_update default: ~1 ms of data
        self.tcp_wstamp_ns = 0  # earliest departure time of the next skb (loop ns + boot)
        self.tcp_clock_cache = 0  # tcp_clock_ns() of this event
        self.pacing_timer: TimerHandle | None = None
        self.sk_tsq_flags = 0  # TSQF_THROTTLED / TSQF_QUEUED (tcp/tsq.py)
        self.rwnd_limited = False
        self.chrono_type = 0  # tcp_chrono (see tuxnet.tcp.chrono)
        self.chrono_start = 0  # jiffies
        self.chrono_stat = [0, 0, 0]  # jiffies busy / rwnd-limited / sndbuf-limited
        self.sock_nospace = False
        self.icsk_probes_tstamp = 0
        # -- receive side -----------------------------------------------------------
        self.out_of_order_queue: list[SkBuff] = []  # sorted by seq (the kernel's rbtree)
        self.recv_sack_cache: list[tuple[int, int]] = []  # the last ACK's SACK blocks
        self.selective_acks: list[list[int]] = []  # tp->selective_acks[] as [start, end]
        self.duplicate_sack: list[int] = [0, 0]
        self.compressed_ack = 0
        self.compressed_ack_rcv_nxt = 0
        self.dup_ack_counter = 0
        self.compressed_ack_timer: TimerHandle | None = None
        self.rcvq_space_space = 0
        self.rcvq_space_seq = 0
        self.rcvq_space_time = 0
        self.last_oow_ack_time = 0
        self.rcv_tstamp = 0  # jiffies of the last ACK received
        self.lsndtime = 0  # jiffies of the last data sent
        self.linger2 = 0
        self.keepalive_time = 0
        self.keepalive_intvl = 0
        self.keepalive_probes = 0
        self.total_retrans = 0
        self.total_rto = 0
        self.total_rto_recoveries = 0
        self.segs_in = 0
        self.segs_out = 0
        self.data_segs_in = 0
        self.data_segs_out = 0
        self.bytes_acked = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.bytes_retrans = 0
        self.dsack_dups = 0
        self.rcv_ooopack = 0
        self.synack_stamp_us = 0  # SYN-ACK send time when it was never retransmitted
        self.sk_err_soft = 0
        self.synsent_drop_reason = R.NOT_SPECIFIED
        self.sk_socket_state = 1  # struct socket state: SS_UNCONNECTED
        self.bind_by_connect = False
        # -- TCP Fast Open (tuxnet.tcp.fastopen) ----------------------------------------
        self.fastopen_req: FastopenRequest | None = None  # active open in progress
        self.fastopen_rsk: TcpRequestSock | None = None  # a passive child's request
        self.fastopenq: FastopenQueue | None = None  # listener: TCP_FASTOPEN queue
        self.fastopen_connect = False  # TCP_FASTOPEN_CONNECT
        self.fastopen_no_cookie = False  # TCP_FASTOPEN_NO_COOKIE
        self.fastopen_client_fail = 0  # tcpi_fastopen_client_fail
        self.defer_connect = False  # inet DEFER_CONNECT: the SYN waits for a write
        self.syn_data = False  # the SYN carried data
        self.syn_fastopen = False  # the SYN carried a Fast Open option
        self.syn_fastopen_exp = False  # ... in the experimental (254) format
        self.syn_fastopen_ch = False  # active TFO re-enabled after a blackhole pause
        self.syn_data_acked = False  # the SYN data was acknowledged (TCPI_OPT_SYN_DATA)
        self.syn_fastopen_child = False  # created by a Fast Open SYN (TCPI_OPT_TFO_CHILD)

    def __repr__(self) -> str:
        from tuxnet.wire.addr import int_to_ip

        st = TCP_STATE_NAMES.get(self.sk_state, str(self.sk_state))[4:]
        return (f"<TcpSock {st} {int_to_ip(self.inet_rcv_saddr)}:{self.inet_num} -> "
                f"{int_to_ip(self.inet_daddr)}:{self.inet_dport}>")

    # -- small helpers the kernel has as inlines --------------------------------------
    def jiffies(self) -> int:
        """tcp_jiffies32 (not wrapped)."""
        return (self.host.loop.now_ns() + TCP_CLOCK_BOOT_NS) // NSEC_PER_JIFFY

    def tcp_mstamp_refresh(self) -> None:
        """tcp_mstamp_refresh(): the ns (tcp_clock_cache) and µs clocks of this event."""
        now = self.host.loop.now_ns() + TCP_CLOCK_BOOT_NS
        self.tcp_clock_cache = now
        self.tcp_mstamp = now // 1000

    def tcp_time_stamp_ts(self) -> int:
        """tcp_time_stamp_ts(): the 1 kHz TS clock (ms), without tsoffset."""
        return ((self.host.loop.now_ns() + TCP_CLOCK_BOOT_NS) // 1_000_000) & _M32

    def tcp_packets_in_flight(self) -> int:
        """tcp_packets_in_flight(): packets_out - left_out + retrans_out (RFC 6675 pipe)."""
        return self.packets_out - (self.sacked_out + self.lost_out) + self.retrans_out

    def tcp_left_out(self) -> int:
        """tcp_left_out()."""
        return self.sacked_out + self.lost_out

    def tcp_wnd_end(self) -> int:
        """tcp_wnd_end(): snd_una + snd_wnd."""
        return (self.snd_una + self.snd_wnd) & _M32

    def tcp_receive_window(self) -> int:
        """tcp_receive_window(): what is left of the window we advertised."""
        win = ((self.rcv_wup + self.rcv_wnd - self.rcv_nxt + 0x80000000) & _M32) - 0x80000000
        return win if win > 0 else 0

    def tcp_is_sack(self) -> bool:
        """tcp_is_sack()."""
        return self.rx_opt.sack_ok

    def tcp_is_reno(self) -> bool:
        """tcp_is_reno()."""
        return not self.rx_opt.sack_ok

    def tcp_md5_key(self) -> TcpMd5Key | None:
        """tcp_v4_md5_lookup(sk, sk): the TCP_MD5SIG key for the peer (tcp/md5.py)."""
        if not self.md5sig_info:
            return None
        from tuxnet.tcp.md5 import tcp_md5_do_lookup

        return tcp_md5_do_lookup(self, 0, self.inet_daddr)

    def tcp_min_rtt(self) -> int:
        """tcp_min_rtt()."""
        return self.rtt_min.get()

    def tcp_in_slow_start(self) -> bool:
        """tcp_in_slow_start()."""
        return self.snd_cwnd < self.snd_ssthresh

    def tcp_is_cwnd_limited(self) -> bool:
        """tcp_is_cwnd_limited(): in slow start, cwnd below twice what was in flight."""
        if self.tcp_in_slow_start():
            return self.snd_cwnd < 2 * self.max_packets_out
        return self.is_cwnd_limited

    def tcp_current_ssthresh(self) -> int:
        """tcp_current_ssthresh()."""
        if self.icsk_ca_state in (2, 3):  # tcp_in_cwnd_reduction
            return self.snd_ssthresh
        return max(self.snd_ssthresh, (self.snd_cwnd >> 1) + (self.snd_cwnd >> 2))

    def tcp_in_cwnd_reduction(self) -> bool:
        """tcp_in_cwnd_reduction(): CWR or Recovery."""
        return self.icsk_ca_state in (2, 3)

    def inet_csk_ack_scheduled(self) -> bool:
        """inet_csk_ack_scheduled()."""
        return bool(self.icsk_ack.pending & 1)

    def inet_csk_in_pingpong_mode(self) -> bool:
        """inet_csk_in_pingpong_mode()."""
        return self.icsk_ack.pingpong >= self.net.sysctl("tcp_pingpong_thresh")

    def tcp_write_queue_empty(self) -> bool:
        """tcp_write_queue_empty(): nothing unsent."""
        return not self.sk_write_queue

    def tcp_rtx_and_write_queues_empty(self) -> bool:
        """tcp_rtx_and_write_queues_empty()."""
        return not self.sk_write_queue and not self.tcp_rtx_queue

    def tcp_notsent_lowat(self) -> int:
        """tcp_notsent_lowat(): TCP_NOTSENT_LOWAT, else net.ipv4.tcp_notsent_lowat."""
        return self.notsent_lowat or self.net.sysctl("tcp_notsent_lowat")

    def sk_stream_memory_free(self, wake: int = 0) -> bool:
        """__sk_stream_memory_free() with tcp_stream_memory_free(): send buffer room and
        fewer unsent bytes than the notsent low-water mark (doubled for a wakeup)."""
        if self.sk_wmem_queued >= self.sk_sndbuf:
            return False
        notsent = (self.write_seq - self.snd_nxt) & 0xFFFFFFFF
        return (notsent << wake) < self.tcp_notsent_lowat()

    def sk_stream_is_writeable(self) -> bool:
        """sk_stream_is_writeable(): free space at least a third of what is queued."""
        return (self.sk_sndbuf - self.sk_wmem_queued) >= (self.sk_wmem_queued >> 1)

    def sk_write_space(self) -> None:
        """sk_stream_write_space() (tcp_init_sock's sk_write_space): wake writers when
        the stream is writeable; sk_wmem_alloc (skbs below TCP, TSQ) does not count."""
        if self.sk_stream_is_writeable() and self.sk_stream_memory_free(1):
            self.sock_nospace = False
            self._wake()

    def sk_state_change(self) -> None:
        """sock_def_wakeup(): wake everyone waiting on the socket."""
        self._wake()


def tcp_set_state(sk: TcpSock, state: int) -> None:
    """tcp_set_state(): the sock:inet_sock_set_state tracepoint, the CurrEstab gauge,
    EstabResets on a close from ESTABLISHED/CLOSE_WAIT, unhash on TCP_CLOSE (the state
    is stored after the unhash, as the kernel does)."""
    oldstate = sk.sk_state
    _trace_state(sk, oldstate, state)
    mib = sk.host.mib.tcp
    # CurrEstab counts ESTABLISHED and CLOSE_WAIT (RFC 1213 tcpCurrEstab; Linux 6.10+
    # "tcp: count CLOSE-WAIT sockets for TCP_MIB_CURRESTAB")
    if state == TCP_ESTABLISHED:
        if oldstate != TCP_ESTABLISHED:
            mib.CurrEstab += 1
    elif state == TCP_CLOSE_WAIT:
        if oldstate == TCP_SYN_RECV:
            mib.CurrEstab += 1
    elif oldstate in (TCP_ESTABLISHED, TCP_CLOSE_WAIT):
        mib.CurrEstab -= 1
    if state == TCP_CLOSE:
        if oldstate in (TCP_CLOSE_WAIT, TCP_ESTABLISHED):
            mib.EstabResets += 1
        sk.net.unhash(sk)
        if sk.bound and not sk.sk_userlocks & 8:  # SOCK_BINDPORT_LOCK
            sk.net.inet_put_port(sk)
    sk.sk_state = state


def inet_sk_set_state(sk: TcpSock, state: int) -> None:
    """inet_sk_set_state(): emit sock:inet_sock_set_state and store the state."""
    _trace_state(sk, sk.sk_state, state)
    sk.sk_state = state


def _trace_state(sk: TcpSock, oldstate: int, state: int) -> None:
    tp = sk.net.tp_set_state
    if tp.active:
        from tuxnet.wire.addr import int_to_ip

        tp.emit(skaddr=id(sk), oldstate=TCP_STATE_NAMES.get(oldstate, str(oldstate)),
                newstate=TCP_STATE_NAMES.get(state, str(state)), sport=sk.inet_sport,
                dport=sk.inet_dport, family="AF_INET", protocol="IPPROTO_TCP",
                saddr=int_to_ip(sk.inet_saddr), daddr=int_to_ip(sk.inet_daddr))
