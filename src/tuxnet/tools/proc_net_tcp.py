"""/proc/net/tcp (net/ipv4/tcp_ipv4.c: tcp4_seq_show, get_tcp4_sock, get_openreq4,
get_timewait4_sock): one line per IPv4 TCP socket, listeners first, then the
established hash (full, request and TIME_WAIT sockets); each line padded to 149
columns (seq_pad). Addresses print as the raw __be32 in %08X on a little-endian host
(127.0.0.1 is 0100007F), ports in host order; times in clock ticks (USER_HZ 100).
/proc/net/tcp6 lists no sockets: tuxnet has no IPv6.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuxnet.tools import procfs

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["tcp4_seq_show", "tcp6_seq_show"]

TMPSZ = 150
_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt" \
          "   uid  timeout inode"
_HEADER6 = "  sl  local_address                         remote_address                     " \
           "   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
_USER_HZ = 100
_HZ = 1000
_LISTEN = 10
_SYN_RECV = 3
_TIME_WAIT = 6
_NEW_SYN_RECV = 12
_M32 = 0xFFFFFFFF


def _be32(addr: int) -> int:
    """The network-order address as a little-endian u32 reads it."""
    return int.from_bytes((addr & _M32).to_bytes(4, "big"), "little")


def _ticks(jiffies: int) -> int:
    """jiffies_to_clock_t()."""
    return jiffies * _USER_HZ // _HZ


def _timer(host: Host, sk: Any) -> tuple[int, int]:
    """(timer_active, ticks to expiry) as get_tcp4_sock reports them."""
    now_ns = host.loop.now_ns()
    pending = getattr(sk, "icsk_pending", 0)
    timer = getattr(sk, "icsk_retransmit_timer", None)
    if pending and timer is not None and not getattr(timer, "cancelled", True):
        active = 4 if pending == 3 else 1  # ICSK_TIME_PROBE0 = 3
        delta_ns = getattr(timer, "when", now_ns) - now_ns
        return active, _ticks(max(delta_ns, 0) // 1_000_000)
    return 0, 0


def _full_line(host: Host, i: int, sk: Any) -> str:
    state = sk.sk_state
    if state == _LISTEN:
        rx_queue = sk.sk_ack_backlog
        tx_queue = 0
    else:
        rx_queue = max((sk.rcv_nxt - sk.copied_seq) & _M32, 0)
        tx_queue = (sk.write_seq - sk.snd_una) & _M32
    active, when = _timer(host, sk)
    ack = sk.icsk_ack
    quick = (ack.quick << 1) | (1 if sk.inet_csk_in_pingpong_mode() else 0)
    if state == _LISTEN:
        last = 0  # fastopenq->max_qlen
    else:
        initial_ss = sk.snd_ssthresh >= 0x7FFFFFFF  # tcp_in_initial_slowstart
        last = -1 if initial_ss else sk.snd_ssthresh
    text = (f"{i:4d}: {_be32(sk.inet_rcv_saddr):08X}:{sk.inet_num:04X} "
            f"{_be32(sk.inet_daddr):08X}:{sk.inet_dport:04X} {state:02X} "
            f"{tx_queue:08X}:{rx_queue:08X} {active:02X}:{when:08X} "
            f"{sk.icsk_retransmits:08X} {0:5d} {sk.icsk_probes_out:8d} "
            f"{getattr(sk, 'ino', 0)} 2 {0:016x} {_ticks(sk.icsk_rto)} "
            f"{_ticks(ack.ato)} {quick} {sk.snd_cwnd} {last}")
    return text


def _req_line(i: int, req: Any) -> str:
    return (f"{i:4d}: {_be32(req.inet_rcv_saddr):08X}:{req.inet_num:04X} "
            f"{_be32(req.inet_daddr):08X}:{req.inet_dport:04X} {_SYN_RECV:02X} "
            f"{0:08X}:{0:08X} {1:02X}:{0:08X} {req.num_timeout:08X} {0:5d} "
            f"{0:8d} 0 0 {0:016x}")


def _tw_line(i: int, tw: Any) -> str:
    return (f"{i:4d}: {_be32(tw.inet_rcv_saddr):08X}:{tw.inet_num:04X} "
            f"{_be32(tw.inet_daddr):08X}:{tw.inet_dport:04X} {tw.tw_substate:02X} "
            f"{0:08X}:{0:08X} {3:02X}:{0:08X} {0:08X} {0:5d} {0:8d} 0 1 {0:016x}")


def tcp4_seq_show(host: Host) -> str:
    """The text of /proc/net/tcp."""
    from tuxnet.tcp.netns import tcp_net

    tn = tcp_net(host)
    lines = [f"{_HEADER:<{TMPSZ - 1}}"]
    seen: set[int] = set()
    socks: list[Any] = []
    for port in sorted(tn.listeners):
        socks.extend(tn.listeners[port])
    socks.extend(tn.ehash.values())
    i = 0
    for sk in socks:
        if id(sk) in seen:
            continue
        seen.add(id(sk))
        state = sk.sk_state
        if state == _NEW_SYN_RECV:
            text = _req_line(i, sk)
        elif state == _TIME_WAIT:
            text = _tw_line(i, sk)
        else:
            text = _full_line(host, i, sk)
        lines.append(f"{text:<{TMPSZ - 1}}")
        i += 1
    return "\n".join(lines) + "\n"


def tcp6_seq_show(host: Host) -> str:
    """The text of /proc/net/tcp6: the header only (no IPv6 sockets in tuxnet)."""
    return f"{_HEADER6}\n"


procfs.register("/proc/net/tcp", tcp4_seq_show)
procfs.register("/proc/net/tcp6", tcp6_seq_show)
