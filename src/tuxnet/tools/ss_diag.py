"""What sock_diag tells ``ss`` about a host's sockets (net/ipv4/inet_diag.c:
inet_diag_dump_icsk, inet_sk_diag_fill, inet_twsk_diag_fill, inet_req_diag_fill;
net/ipv4/tcp_diag.c: tcp_diag_get_info; net/ipv4/udp_diag.c: udp_dump;
net/core/sock.c: sk_get_meminfo; net/ipv4/proc.c: sockstat_seq_show).

:func:`inet_diag_dump` walks the tables in the kernel's order: TCP listeners (the
listening hash, by port here), then the established hash (full, SYN_RECV request and
TIME_WAIT sockets), UDP slot by slot; each record filtered by a state mask (a
TIME_WAIT socket by its substate, a request socket as SYN-RECV). A record carries
the inet_diag_msg fields and the attributes ss asks for: the timer (idiag_timer 1 =
retransmit/loss probe/RACK, 2 = keepalive, 3 = TIME_WAIT, 4 = zero-window probe;
remaining ms; retransmits), uid, inode, the socket cookie, shutdown bits, cgroup,
SK_MEMINFO, TCP_INFO and the congestion control's info.

Values tuxnet makes up, deterministically: the socket cookie is a per-host counter
handed out on first query (sock_gen_cookie is lazy too); every full socket reports
cgroup id 1, which ss prints as ``cgroup:unreachable:1`` as it does when the id does
not resolve (tuxnet hosts have no cgroup2 mount); uids are the socket's sk_uid (0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuxnet.ipv4.udp_table import udp_table
from tuxnet.tcp.defs import (
    TCP_LISTEN,
    TCP_NEW_SYN_RECV,
    TCP_SYN_RECV,
    TCP_TIME_WAIT,
)
from tuxnet.tools.ss_fmt import ss_queues

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["SockRecord", "inet_diag_dump", "sk_meminfo", "sockstat"]

_TIMER_XMIT = (1, 5, 6)  # ICSK_TIME_RETRANS, ICSK_TIME_LOSS_PROBE, ICSK_TIME_REO_TIMEOUT
_ICSK_TIME_PROBE0 = 3
_NS_PER_JIFFY = 1_000_000  # HZ 1000
CGROUP_ROOT_ID = 1


@dataclass
class SockRecord:
    """One inet_diag_msg and its attributes."""

    proto: str  # "tcp" / "udp"
    state: int
    rq: int
    wq: int
    saddr: int
    sport: int
    daddr: int
    dport: int
    ifindex: int = 0
    timer: int = 0
    expires_ms: int = 0
    retrans: int = 0
    uid: int = 0
    ino: int = 0
    cookie: int = 0
    mark: int = 0
    shutdown: int | None = None  # INET_DIAG_SHUTDOWN (full sockets only)
    cgroup: int = 0  # INET_DIAG_CGROUP_ID (full sockets only)
    skmem: tuple[int, ...] | None = None
    info: dict[str, int] | None = None
    cong: str = ""
    sk: Any = field(default=None, repr=False)


def _cookie(host: Host, sk: Any) -> int:
    """sock_gen_cookie(): a non-zero id handed out on first use and kept."""
    c: int = getattr(sk, "sk_cookie", 0)
    if not c:
        c = getattr(host, "_ss_cookie_seq", 0) + 1
        setattr(host, "_ss_cookie_seq", c)  # noqa: B010 - Host has no typed slot for it
        setattr(sk, "sk_cookie", c)  # noqa: B010 - nor the minisocks
    return c


def _ms_left(deadline_ns: int, now_ns: int) -> int:
    """jiffies_delta_to_msecs(deadline - jiffies): never negative."""
    delta = deadline_ns // _NS_PER_JIFFY - now_ns // _NS_PER_JIFFY
    return max(delta, 0)


def sk_meminfo(sk: Any) -> tuple[int, ...]:
    """sk_get_meminfo(): SK_MEMINFO_{RMEM_ALLOC, RCVBUF, WMEM_ALLOC, SNDBUF, FWD_ALLOC,
    WMEM_QUEUED, OPTMEM, BACKLOG, DROPS}."""
    return (sk.sk_rmem_alloc, sk.sk_rcvbuf, sk.sk_wmem_alloc_get(), sk.sk_sndbuf,
            sk.sk_forward_alloc, getattr(sk, "sk_wmem_queued", 0), sk.sk_omem_alloc,
            getattr(sk, "sk_backlog_len", 0), sk.sk_drops)


def _tcp_full(host: Host, sk: Any, now: int, ext_mem: bool, ext_info: bool) -> SockRecord:
    """inet_sk_diag_fill() + tcp_diag_get_info() for a full TCP socket."""
    rq, wq = ss_queues(sk)
    rec = SockRecord("tcp", sk.sk_state, rq, wq, sk.inet_rcv_saddr, sk.inet_num,
                     sk.inet_daddr, sk.inet_dport, ifindex=sk.sk_bound_dev_if,
                     uid=sk.sk_uid, ino=sk.ino, cookie=_cookie(host, sk), mark=sk.sk_mark,
                     shutdown=sk.sk_shutdown, cgroup=CGROUP_ROOT_ID, sk=sk)
    pending = sk.icsk_pending
    timer = sk.sk_timer
    if pending in _TIMER_XMIT:
        rec.timer, rec.retrans = 1, sk.icsk_retransmits
        rec.expires_ms = _ms_left(sk.icsk_timeout, now)
    elif pending == _ICSK_TIME_PROBE0:
        rec.timer, rec.retrans = 4, sk.icsk_probes_out
        rec.expires_ms = _ms_left(sk.icsk_timeout, now)
    elif timer is not None and not timer.cancelled:
        rec.timer, rec.retrans = 2, sk.icsk_probes_out
        rec.expires_ms = _ms_left(sk.sk_timer_when or timer.when, now)
    if ext_mem:
        rec.skmem = sk_meminfo(sk)
    if ext_info:
        from tuxnet.tcp.sockopt import tcp_get_info

        info = tcp_get_info(sk)
        ca = sk.icsk_ca_ops
        if ca is not None:
            rec.cong = ca.name
            if sk.sk_state < TCP_TIME_WAIT:  # the CA's INET_DIAG_*INFO
                extra = ca.get_info(sk)
                if "bbr_bw_lo" in extra:
                    info["bbr_bw"] = (extra["bbr_bw_hi"] << 32) | extra["bbr_bw_lo"]
                    for key in ("bbr_min_rtt", "bbr_pacing_gain", "bbr_cwnd_gain"):
                        info[key] = extra[key]
        rec.info = info
    return rec


def _tcp_tw(host: Host, tw: Any, now: int) -> SockRecord:
    """inet_twsk_diag_fill(): state is the substate, timer 3, no inode, no attributes."""
    deadline = tw.deadline or (tw.tw_timer.when if tw.tw_timer is not None else now)
    return SockRecord("tcp", tw.tw_substate, 0, 0, tw.inet_rcv_saddr, tw.inet_num,
                      tw.inet_daddr, tw.inet_dport, ifindex=tw.sk_bound_dev_if, timer=3,
                      expires_ms=_ms_left(deadline, now), cookie=_cookie(host, tw), sk=tw)


def _tcp_req(host: Host, req: Any, now: int) -> SockRecord:
    """inet_req_diag_fill(): SYN-RECV, timer 1 with the SYN-ACK retransmissions."""
    timer = req.rsk_timer
    expires = _ms_left(timer.when, now) if timer is not None and not timer.cancelled else 0
    lst = req.rsk_listener
    return SockRecord("tcp", TCP_SYN_RECV, 0, 0, req.inet_rcv_saddr, req.inet_num,
                      req.inet_daddr, req.inet_dport,
                      ifindex=getattr(lst, "sk_bound_dev_if", 0), timer=1,
                      expires_ms=expires, retrans=req.num_retrans,
                      cookie=_cookie(host, req), sk=req)


def _tcp_dump(host: Host, states: int, ext_mem: bool, ext_info: bool) -> list[SockRecord]:
    """inet_diag_dump_icsk() for TCP: the listening hash, then the established hash."""
    from tuxnet.tcp.netns import tcp_net

    tn = tcp_net(host)
    now = host.loop.now_ns()
    if states & (1 << TCP_SYN_RECV):
        states |= 1 << TCP_NEW_SYN_RECV
    out: list[SockRecord] = []
    if states & (1 << TCP_LISTEN):
        for port in sorted(tn.listeners):
            for sk in tn.listeners[port]:
                out.append(_tcp_full(host, sk, now, ext_mem, ext_info))
    for sk in list(tn.ehash.values()):
        state = sk.tw_substate if sk.sk_state == TCP_TIME_WAIT else sk.sk_state
        if not states & (1 << state):
            continue
        if sk.sk_state == TCP_TIME_WAIT:
            out.append(_tcp_tw(host, sk, now))
        elif sk.sk_state == TCP_NEW_SYN_RECV:
            out.append(_tcp_req(host, sk, now))
        else:
            out.append(_tcp_full(host, sk, now, ext_mem, ext_info))
    return out


def _udp_dump(host: Host, states: int, ext_mem: bool) -> list[SockRecord]:
    """udp_dump() + udp_diag_get_info(): Recv-Q is udp_rqueue_get, Send-Q sk_wmem_alloc."""
    tbl = udp_table(host)
    out: list[SockRecord] = []
    for sk in tbl.sockets():
        if not states & (1 << sk.sk_state):
            continue
        rec = SockRecord("udp", sk.sk_state, sk.udp_rqueue_get(), sk.sk_wmem_alloc_get(),
                         sk.inet_rcv_saddr, sk.inet_num, sk.inet_daddr, sk.inet_dport,
                         ifindex=sk.sk_bound_dev_if, uid=sk.sk_uid, ino=sk.ino,
                         cookie=_cookie(host, sk), mark=sk.sk_mark, shutdown=sk.sk_shutdown,
                         cgroup=CGROUP_ROOT_ID, sk=sk)
        if ext_mem:
            rec.skmem = sk_meminfo(sk)
        out.append(rec)
    return out


def inet_diag_dump(host: Host, protos: tuple[str, ...], states: int, *, ext_mem: bool = False,
                   ext_info: bool = False) -> list[SockRecord]:
    """Every socket of ``protos`` ("udp", "tcp"; ss asks UDP first) whose state is in the
    ``states`` mask, in dump order."""
    out: list[SockRecord] = []
    for proto in protos:
        if proto == "udp":
            out += _udp_dump(host, states, ext_mem)
        elif proto == "tcp":
            out += _tcp_dump(host, states, ext_mem, ext_info)
    return out


def sockstat(host: Host) -> dict[str, int]:
    """/proc/net/sockstat's numbers (sockstat_seq_show): sockets in use, TCP inuse
    (hashed full sockets: listeners and the established hash less TIME_WAIT and request
    sockets), orphans, TIME_WAIT, allocated; UDP and RAW inuse; FRAG queues and memory.
    ``alloc`` counts the TCP sockets that listened or connected and are not yet freed
    (tuxnet does not count one that was only created); ``used`` adds the UDP sockets."""
    from tuxnet.tcp.netns import tcp_net

    tn = tcp_net(host)
    inuse = sum(len(v) for v in tn.listeners.values())
    tw = 0
    for sk in tn.ehash.values():
        if sk.sk_state == TCP_TIME_WAIT:
            tw += 1
        elif sk.sk_state != TCP_NEW_SYN_RECV:
            inuse += 1
    tbl = udp_table(host)
    udp = len(tbl.sockets())
    st = host.__dict__.get("ipv4")
    defrag = getattr(st, "defrag", None)
    frag = len(defrag) if defrag is not None else 0
    frag_mem = defrag.mem if defrag is not None else 0
    alloc = len(tn.all_socks)
    return {"used": alloc + udp, "tcp_inuse": inuse, "tcp_orphan": tn.orphan_count,
            "tcp_tw": tw, "tcp_alloc": alloc, "udp_inuse": udp, "raw_inuse": 0,
            "frag_inuse": frag, "frag_memory": frag_mem,
            "curr_estab": host.mib.tcp.CurrEstab}
