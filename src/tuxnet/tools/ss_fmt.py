"""``ss -ti`` output for TCP sockets, as iproute2's ``misc/ss.c`` prints it
(tcp_show_info / tcp_stats_print / sprint_bw, iproute2 6.x).

:func:`tcp_info_text` turns TCP_INFO (the dict of :func:`tuxnet.tcp.sockopt.tcp_get_info`,
Linux units) and the congestion-control name (INET_DIAG_CONG) into the info line: a
TAB, then space-separated fields in ss's fixed order, each only when non-zero (rto when
not the 3 s initial value, ssthresh below 0xFFFF, reordering when not 3, pacing rates
when not ~0). Rates are bits/s: with ``-n`` ``%.0f``, without it ``%.3g`` and a
k/M/G/T suffix. :func:`ss_line` adds the state line (State, Recv-Q, Send-Q, local and
peer address) above it, with Recv-Q/Send-Q as inet_diag reports them for a TCP socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["SS_STATE_NAMES", "sprint_bw", "ss_line", "ss_queues", "tcp_info_text"]

# misc/ss.c sstate_name[] by TCP state number (include/net/tcp_states.h)
SS_STATE_NAMES = {
    1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2",
    6: "TIME-WAIT", 7: "UNCONN", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN",
    11: "CLOSING",
}
_U32_MAX = 0xFFFFFFFF
_U64_MAX = (1 << 64) - 1
TCPI_OPT_TIMESTAMPS = 1  # include/uapi/linux/tcp.h
TCPI_OPT_SACK = 2
TCPI_OPT_WSCALE = 4
TCPI_OPT_ECN = 8
TCPI_OPT_ECN_SEEN = 16
TCPI_OPT_SYN_DATA = 32
_RTO_INITIAL_US = 3_000_000  # ss omits rto:3000 (TCP_TIMEOUT_FALLBACK)


def sprint_bw(bw: float, numeric: bool) -> str:
    """sprint_bw(): bits per second, ``%.0f`` with -n, else 3 digits and a suffix."""
    if numeric:
        return f"{bw:.0f}"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if bw >= scale:
            return f"{bw / scale:.3g}{suffix}"
    return f"{bw:g}"


def tcp_info_text(info: Mapping[str, int], cong: str = "", *, numeric: bool = False,
                  show_options: bool = False, state: int = 1) -> str:
    """tcp_show_info() + tcp_stats_print(): the info line (without the leading TAB).
    ``show_options`` (ss -o/-e) adds ts/sack/ecn/ecnseen/fastopen first; ``state``
    hides sacked: on a listener."""
    g = info.get
    out: list[str] = []
    opts = g("tcpi_options", 0)
    if show_options:
        for bit, name in ((TCPI_OPT_TIMESTAMPS, "ts"), (TCPI_OPT_SACK, "sack"),
                          (TCPI_OPT_ECN, "ecn"), (TCPI_OPT_ECN_SEEN, "ecnseen"),
                          (TCPI_OPT_SYN_DATA, "fastopen")):
            if opts & bit:
                out.append(name)
    if cong:
        out.append(cong)
    if opts & TCPI_OPT_WSCALE:
        out.append(f"wscale:{g('tcpi_snd_wscale', 0)},{g('tcpi_rcv_wscale', 0)}")
    rto = g("tcpi_rto", 0)
    if rto and rto != _RTO_INITIAL_US:
        out.append(f"rto:{rto / 1000:g}")
    if g("tcpi_backoff", 0):
        out.append(f"backoff:{g('tcpi_backoff', 0)}")
    rtt_us = g("tcpi_rtt", 0)
    if rtt_us:
        out.append(f"rtt:{rtt_us / 1000:g}/{g('tcpi_rttvar', 0) / 1000:g}")
    if g("tcpi_ato", 0):
        out.append(f"ato:{g('tcpi_ato', 0) / 1000:g}")
    mss = g("tcpi_snd_mss", 0)
    cwnd = g("tcpi_snd_cwnd", 0)
    for key, label in (("tcpi_snd_mss", "mss"), ("tcpi_pmtu", "pmtu"),
                       ("tcpi_rcv_mss", "rcvmss"), ("tcpi_advmss", "advmss"),
                       ("tcpi_snd_cwnd", "cwnd")):
        if g(key, 0):
            out.append(f"{label}:{g(key, 0)}")
    ssthresh = g("tcpi_snd_ssthresh", 0)
    if ssthresh and ssthresh < 0xFFFF:
        out.append(f"ssthresh:{ssthresh}")
    for key in ("bytes_sent", "bytes_retrans", "bytes_acked", "bytes_received",
                "segs_out", "segs_in", "data_segs_out", "data_segs_in"):
        if g("tcpi_" + key, 0):
            out.append(f"{key}:{g('tcpi_' + key, 0)}")
    if "bbr_bw" in info:
        text = (f"bbr:(bw:{sprint_bw(info['bbr_bw'] * 8.0, numeric)}bps,"
                f"mrtt:{g('bbr_min_rtt', 0) / 1000.0:g}")
        if g("bbr_pacing_gain", 0):
            text += f",pacing_gain:{g('bbr_pacing_gain', 0) / 256.0:g}"
        if g("bbr_cwnd_gain", 0):
            text += f",cwnd_gain:{g('bbr_cwnd_gain', 0) / 256.0:g}"
        out.append(text + ")")
    if rtt_us > 0 and mss and cwnd:
        out.append(f"send {sprint_bw(cwnd * mss * 8000000.0 / rtt_us, numeric)}bps")
    for key, label in (("tcpi_last_data_sent", "lastsnd"), ("tcpi_last_data_recv", "lastrcv"),
                       ("tcpi_last_ack_recv", "lastack")):
        if g(key, 0):
            out.append(f"{label}:{g(key, 0)}")
    pacing = g("tcpi_pacing_rate", 0)
    if pacing and pacing != _U64_MAX:
        text = f"pacing_rate {sprint_bw(pacing * 8.0, numeric)}bps"
        pmax = g("tcpi_max_pacing_rate", 0)
        if pmax and pmax != _U64_MAX:
            text += f"/{sprint_bw(pmax * 8.0, numeric)}bps"
        out.append(text)
    if g("tcpi_delivery_rate", 0):
        rate = sprint_bw(g("tcpi_delivery_rate", 0) * 8.0, numeric)
        out.append(f"delivery_rate {rate}bps")
    if g("tcpi_delivered", 0):
        out.append(f"delivered:{g('tcpi_delivered', 0)}")
    if g("tcpi_delivered_ce", 0):
        out.append(f"delivered_ce:{g('tcpi_delivered_ce', 0)}")
    if g("tcpi_delivery_rate_app_limited", 0):
        out.append("app_limited")
    busy = g("tcpi_busy_time", 0)
    if busy:
        out.append(f"busy:{busy // 1000}ms")
        for key, label in (("tcpi_rwnd_limited", "rwnd_limited"),
                           ("tcpi_sndbuf_limited", "sndbuf_limited")):
            lim = g(key, 0)
            if lim:
                out.append(f"{label}:{lim // 1000}ms({100.0 * lim / busy:.1f}%)")
    if g("tcpi_unacked", 0):
        out.append(f"unacked:{g('tcpi_unacked', 0)}")
    if g("tcpi_retrans", 0) or g("tcpi_total_retrans", 0):
        out.append(f"retrans:{g('tcpi_retrans', 0)}/{g('tcpi_total_retrans', 0)}")
    if g("tcpi_lost", 0):
        out.append(f"lost:{g('tcpi_lost', 0)}")
    if g("tcpi_sacked", 0) and state != 10:
        out.append(f"sacked:{g('tcpi_sacked', 0)}")
    for key, label in (("tcpi_dsack_dups", "dsack_dups"), ("tcpi_fackets", "fackets")):
        if g(key, 0):
            out.append(f"{label}:{g(key, 0)}")
    if g("tcpi_reordering", 0) != 3:
        out.append(f"reordering:{g('tcpi_reordering', 0)}")
    if g("tcpi_reord_seen", 0):
        out.append(f"reord_seen:{g('tcpi_reord_seen', 0)}")
    if g("tcpi_rcv_rtt", 0):
        out.append(f"rcv_rtt:{g('tcpi_rcv_rtt', 0) / 1000:g}")
    for key, label in (("tcpi_rcv_space", "rcv_space"), ("tcpi_rcv_ssthresh", "rcv_ssthresh"),
                       ("tcpi_notsent_bytes", "notsent")):
        if g(key, 0):
            out.append(f"{label}:{g(key, 0)}")
    min_rtt = g("tcpi_min_rtt", 0)
    if min_rtt and min_rtt != _U32_MAX:
        out.append(f"minrtt:{min_rtt / 1000:g}")
    for key, label in (("tcpi_rcv_ooopack", "rcv_ooopack"), ("tcpi_snd_wnd", "snd_wnd")):
        if g(key, 0):
            out.append(f"{label}:{g(key, 0)}")
    return " " + " ".join(out) if out else ""


def ss_queues(sk: TcpSock) -> tuple[int, int]:
    """inet_diag's (idiag_rqueue, idiag_wqueue) for TCP (tcp_diag_get_info): the
    accept backlog and its limit for a listener, else unread and unacknowledged bytes."""
    if sk.sk_state == 10:  # TCP_LISTEN
        return sk.sk_ack_backlog, sk.sk_max_ack_backlog
    rq = (sk.rcv_nxt - sk.copied_seq) & _U32_MAX
    wq = (sk.write_seq - sk.snd_una) & _U32_MAX
    return (rq if rq < 0x80000000 else 0), wq


def ss_line(sk: TcpSock, *, numeric: bool = False, show_options: bool = False) -> str:
    """Both lines ``ss -ti`` prints for one TCP socket: the state line, then a TAB and
    the info line."""
    from tuxnet.tcp.sockopt import tcp_get_info
    from tuxnet.wire.addr import int_to_ip

    rq, wq = ss_queues(sk)
    state = SS_STATE_NAMES.get(sk.sk_state, "UNKNOWN")
    local = f"{int_to_ip(sk.inet_rcv_saddr)}:{sk.inet_num}"
    peer = f"{int_to_ip(sk.inet_daddr)}:{sk.inet_dport or '*'}"  # a listener: 0.0.0.0:*
    cong = sk.icsk_ca_ops.name if sk.icsk_ca_ops is not None else ""
    head = f"{state} {rq:<6} {wq:<6} {local} {peer}"
    info = tcp_info_text(tcp_get_info(sk), cong, numeric=numeric, show_options=show_options,
                         state=sk.sk_state)
    return head + "\n\t" + info
