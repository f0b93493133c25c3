"""TCP Fast Open, RFC 7413: shared state, cookies, options and the passive side
(net/ipv4/tcp_fastopen.c; tcp_input.c: tcp_parse_fastopen_option; tcp_output.c:
tcp_syn_options/tcp_synack_options; request_sock.c: reqsk_fastopen_remove; tcp_timer.c:
tcp_fastopen_synack_timer). The active side is :mod:`tuxnet.tcp.fastopen_client`; a
segment to a TFO child in SYN_RECV goes through
:func:`tuxnet.tcp.minisocks.tcp_check_req` (fastopen=True) first.

net.ipv4.tcp_fastopen bits (include/net/tcp.h): 0x1 client, 0x2 server, 0x4 client
sends data in the SYN without a cookie, 0x200 server accepts SYN data without a
cookie, 0x400 every listener is TFO (without the TCP_FASTOPEN option).

Server: a SYN to a TFO listener (TCP_FASTOPEN queue length, or 0x400) that requests a
cookie (empty option) gets one in the SYN-ACK; a SYN carrying a valid cookie (or any
SYN data when no cookie is required) creates the child socket at once, in SYN_RECV, on
the accept queue, its SYN data readable, counted in the listener's fastopen queue
(``max_qlen``; overflow: TCPFastOpenListenOverflow). The SYN-ACK acknowledges the data
and is retransmitted by the child's retransmit timer. The cookie is Linux's: SipHash-2-4
(Aumasson and Bernstein) of the SYN's source and destination addresses under the
128-bit key of net.ipv4.tcp_fastopen_key (or the listener's TCP_FASTOPEN_KEY), its 8
bytes little-endian; a backup key is accepted too (TCPFastOpenPassiveAltKey).
"""

from __future__ import annotations

import struct
from collections import deque
from typing import TYPE_CHECKING

from tuxnet.tcp.defs import (
    HZ,
    ICSK_TIME_RETRANS,
    TCP_CLOSE,
    TCP_LISTEN,
    TCP_RTO_MAX,
    TCP_TIMEOUT_INIT,
    TCPHDR_FIN,
    TCPHDR_SYN,
)
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.minisocks import TcpRequestSock
    from tuxnet.tcp.netns import TcpDst, TcpNet
    from tuxnet.tcp.sock import TcpSock

__all__ = ["FastopenCookie", "FastopenQueue", "FastopenRequest", "TfoNet", "siphash24",
           "tcp_fastopen_cookie_gen_addrs", "tcp_fastopen_no_cookie", "tcp_try_fastopen"]

TFO_CLIENT_ENABLE = 0x1
TFO_SERVER_ENABLE = 0x2
TFO_CLIENT_NO_COOKIE = 0x4
TFO_SERVER_COOKIE_NOT_REQD = 0x200
TFO_SERVER_WO_SOCKOPT1 = 0x400
TCP_FASTOPEN_COOKIE_MIN = 4
TCP_FASTOPEN_COOKIE_MAX = 16
TCP_FASTOPEN_COOKIE_SIZE = 8
TCP_FASTOPEN_KEY_LENGTH = 16
TCPOPT_FASTOPEN = 34  # RFC 7413 4.1.1
TCPOPT_EXP = 254  # RFC 6994 experimental option
TCPOPT_FASTOPEN_MAGIC = 0xF989
TCPOLEN_FASTOPEN_BASE = 2
TCPOLEN_EXP_FASTOPEN_BASE = 4
# enum tcp_fastopen_client_fail (include/uapi/linux/tcp.h): tcpi_fastopen_client_fail
TFO_STATUS_UNSPEC = 0
TFO_COOKIE_UNAVAILABLE = 1
TFO_DATA_NOT_ACKED = 2
TFO_SYN_RETRANSMITTED = 3
RTAX_FASTOPEN_NO_COOKIE = 17
_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
_ADDRS = struct.Struct("!II")


# -- SipHash-2-4 (lib/siphash.c computes the same function) -----------------------------

def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M64


def _sipround(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    """SipRound: the ARX network on the four 64-bit state words."""
    v0 = (v0 + v1) & _M64
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _M64
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _M64
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _M64
    v1 = _rotl(v1, 17) ^ v2
    return v0, v1, _rotl(v2, 32), v3


def siphash24(k0: int, k1: int, data: bytes) -> int:
    """SipHash-2-4 of ``data`` under the key (k0, k1) (two little-endian u64 words):
    two rounds per 8-byte word (the last carries the length in its top byte), four
    to finalise."""
    v = (k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573)
    n = len(data)
    tail = n & ~7
    words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, tail, 8)]
    words.append(((n & 0xFF) << 56) | int.from_bytes(data[tail:], "little"))
    for m in words:
        v = (v[0], v[1], v[2], v[3] ^ m)
        v = _sipround(*_sipround(*v))
        v = (v[0] ^ m, v[1], v[2], v[3])
    v = (v[0], v[1], v[2] ^ 0xFF, v[3])
    for _ in range(4):
        v = _sipround(*v)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


# -- state ------------------------------------------------------------------------------

class FastopenCookie:
    """struct tcp_fastopen_cookie: ``len`` -1 = no option, 0 = a cookie request."""

    __slots__ = ("exp", "len", "val")

    def __init__(self, length: int = -1, val: bytes = b"", exp: bool = False) -> None:
        self.len = length
        self.val = val
        self.exp = exp

    def copy(self) -> FastopenCookie:
        return FastopenCookie(self.len, self.val, self.exp)

    def __repr__(self) -> str:
        return f"<FastopenCookie len={self.len} {self.val.hex()}{' exp' if self.exp else ''}>"


class FastopenRequest:
    """struct tcp_fastopen_request: the client's SYN data and cookie for one connect."""

    __slots__ = ("cookie", "copied", "data", "size")

    def __init__(self, data: memoryview | None, size: int) -> None:
        self.cookie = FastopenCookie(0)  # kzalloc: a cookie request unless one is cached
        self.data = data
        self.size = size
        self.copied = 0


class FastopenQueue:
    """struct fastopen_queue: a TFO listener's pending children (qlen of max_qlen), the
    requests RST kept for 60 s (rskq_rst_head), and its own TCP_FASTOPEN_KEY."""

    __slots__ = ("ctx", "max_qlen", "qlen", "rst_expires")

    def __init__(self) -> None:
        self.max_qlen = 0
        self.qlen = 0
        self.rst_expires: deque[int] = deque()  # jiffies at which each may go
        self.ctx: list[tuple[int, int]] | None = None


class FastopenMetrics:
    """struct tcp_fastopen_metrics (tcp_metrics.c): what one destination taught us."""

    __slots__ = ("cookie", "last_syn_loss", "mss", "syn_loss", "try_exp")

    def __init__(self) -> None:
        self.mss = 0
        self.syn_loss = 0
        self.try_exp = 0
        self.last_syn_loss = 0
        self.cookie = FastopenCookie(0)  # tcpm_suck_dst: no cookie yet (request one)


class TfoNet:
    """net->ipv4's TFO state: the cookie cache (tcp_metrics, per source and destination
    address) and the active-side blackhole detection."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, int], FastopenMetrics] = {}
        self.random_key: str | None = None
        self.disable_stamp = 0  # tfo_active_disable_stamp (jiffies)
        self.disable_times = 0  # tfo_active_disable_times


def tfo_net(tn: TcpNet) -> TfoNet:
    """The TFO state of a namespace."""
    st: TfoNet = tn.tfo
    return st


def sysctl_tcp_fastopen(tn: TcpNet) -> int:
    """net.ipv4.tcp_fastopen."""
    v: int = tn.sysctl("tcp_fastopen")
    return v


# -- keys and cookies -----------------------------------------------------------------

def keys_from_bytes(raw: bytes) -> list[tuple[int, int]]:
    """tcp_fastopen_reset_cipher(): 16-byte keys as siphash_key_t (two LE u64)."""
    out = []
    for off in range(0, len(raw) - TCP_FASTOPEN_KEY_LENGTH + 1, TCP_FASTOPEN_KEY_LENGTH):
        out.append((int.from_bytes(raw[off:off + 8], "little"),
                    int.from_bytes(raw[off + 8:off + 16], "little")))
    return out


def keys_to_bytes(keys: list[tuple[int, int]]) -> bytes:
    """tcp_fastopen_get_cipher(): the keys as the bytes TCP_FASTOPEN_KEY reads."""
    return b"".join(k0.to_bytes(8, "little") + k1.to_bytes(8, "little") for k0, k1 in keys)


def _keys_from_sysctl(text: str) -> list[tuple[int, int]]:
    """proc_tcp_fastopen_key: "%x-%x-%x-%x[,backup]", each word stored little-endian."""
    raw = b""
    for key in text.split(",")[:2]:
        words = key.split("-")
        raw += b"".join(int(w, 16).to_bytes(4, "little") for w in words)
    return keys_from_bytes(raw)


def tcp_fastopen_init_key_once(tn: TcpNet) -> None:
    """tcp_fastopen_init_key_once(): a random key unless one was configured (a key of
    all zeros counts as none: the sysctl's value before any write)."""
    sysctl = tn.host.sysctl
    text = str(sysctl.get("net.ipv4.tcp_fastopen_key"))
    if any(c not in "0-," for c in text):
        return
    words = [tn.rng.getrandbits(32) for _ in range(4)]
    sysctl.set("net.ipv4.tcp_fastopen_key", "-".join(f"{w:08x}" for w in words))


def tcp_fastopen_get_ctx(sk: TcpSock) -> list[tuple[int, int]]:
    """tcp_fastopen_get_ctx(): the listener's own keys, else the namespace's."""
    q = sk.fastopenq
    if q is not None and q.ctx is not None:
        return q.ctx
    text = str(sk.net.host.sysctl.get("net.ipv4.tcp_fastopen_key"))
    return _keys_from_sysctl(text)


def tcp_fastopen_cookie_gen_addrs(key: tuple[int, int], saddr: int, daddr: int) -> bytes:
    """__tcp_fastopen_cookie_gen_cipher() for IPv4: SipHash of saddr|daddr (network
    order) as the SYN carries them, the u64 stored little-endian."""
    h = siphash24(key[0], key[1], _ADDRS.pack(saddr, daddr))
    return h.to_bytes(TCP_FASTOPEN_COOKIE_SIZE, "little")


def tcp_fastopen_cookie_gen(sk: TcpSock, syn: SkBuff) -> FastopenCookie:
    """tcp_fastopen_cookie_gen(): the cookie of the SYN's addresses under the primary key."""
    keys = tcp_fastopen_get_ctx(sk)
    if not keys:
        return FastopenCookie()
    cb = tcp_cb(syn)
    return FastopenCookie(TCP_FASTOPEN_COOKIE_SIZE,
                          tcp_fastopen_cookie_gen_addrs(keys[0], cb.saddr, cb.daddr))


def tcp_fastopen_cookie_gen_check(sk: TcpSock, syn: SkBuff, orig: FastopenCookie,
                                  valid: FastopenCookie) -> int:
    """tcp_fastopen_cookie_gen_check(): 0 no key matches, 1 the primary, 2 the backup;
    ``valid`` gets the primary key's cookie."""
    cb = tcp_cb(syn)
    for i, key in enumerate(tcp_fastopen_get_ctx(sk)):
        val = tcp_fastopen_cookie_gen_addrs(key, cb.saddr, cb.daddr)
        if i == 0:
            valid.len = TCP_FASTOPEN_COOKIE_SIZE
            valid.val = val
        if orig.len == TCP_FASTOPEN_COOKIE_SIZE and orig.val == val:
            return i + 1
    return 0


# -- options ------------------------------------------------------------------------------

def tcp_parse_fastopen_option(length: int, cookie: bytes, syn: bool,
                              foc: FastopenCookie | None, exp: bool) -> None:
    """tcp_parse_fastopen_option(): valid only on a SYN or SYN-ACK, with an even length
    (0: a request; 4..16 bytes: a cookie; anything else: invalid, len -1)."""
    if foc is None or not syn or length < 0 or length & 1:
        return
    if TCP_FASTOPEN_COOKIE_MIN <= length <= TCP_FASTOPEN_COOKIE_MAX:
        foc.val = bytes(cookie[:length])
    elif length != 0:
        length = -1
    foc.len = length
    foc.exp = exp


def fastopen_option_space(foc: FastopenCookie) -> int:
    """The aligned option bytes the cookie takes (tcp_syn_options' ``need``)."""
    need = foc.len + (TCPOLEN_EXP_FASTOPEN_BASE if foc.exp else TCPOLEN_FASTOPEN_BASE)
    return (need + 3) & ~3


def fastopen_option_bytes(foc: FastopenCookie) -> bytes:
    """tcp_options_write()'s OPTION_FAST_OPEN_COOKIE: kind 34 (or 254 + magic), the
    cookie, padded with two NOPs when the length is 2 mod 4."""
    if foc.exp:
        ln = TCPOLEN_EXP_FASTOPEN_BASE + foc.len
        out = bytes((TCPOPT_EXP, ln)) + TCPOPT_FASTOPEN_MAGIC.to_bytes(2, "big") + foc.val
    else:
        ln = TCPOLEN_FASTOPEN_BASE + foc.len
        out = bytes((TCPOPT_FASTOPEN, ln)) + foc.val
    if ln & 3 == 2:
        out += b"\x01\x01"
    return out


def syn_fastopen_option(sk: TcpSock, remaining: int) -> bytes:
    """The Fast Open part of tcp_syn_options(): the cached cookie or a request, when
    a Fast Open is in progress and the option still fits."""
    fo = sk.fastopen_req
    if fo is None or fo.cookie.len < 0:
        return b""
    foc = fo.cookie
    if remaining < fastopen_option_space(foc):
        return b""
    sk.syn_fastopen = True
    sk.syn_fastopen_exp = foc.exp
    return fastopen_option_bytes(foc)


def synack_fastopen_option(foc: FastopenCookie | None, remaining: int) -> bytes:
    """The Fast Open part of tcp_synack_options()."""
    if foc is None or foc.len < 0 or remaining < fastopen_option_space(foc):
        return b""
    return fastopen_option_bytes(foc)


def tcp_fastopen_no_cookie(sk: TcpSock, dst: TcpDst | None, flag: int) -> bool:
    """tcp_fastopen_no_cookie(): the sysctl bit, TCP_FASTOPEN_NO_COOKIE, or the route's
    fastopen_no_cookie metric."""
    if sysctl_tcp_fastopen(sk.net) & flag or sk.fastopen_no_cookie:
        return True
    rt = dst.rt if dst is not None else None
    metrics = getattr(rt, "metrics", None)
    return bool(isinstance(metrics, dict) and metrics.get(RTAX_FASTOPEN_NO_COOKIE))


# -- server ------------------------------------------------------------------------------

def fastopen_queue_tune(sk: TcpSock, backlog: int) -> None:
    """fastopen_queue_tune(): max_qlen = min(backlog, somaxconn)."""
    if sk.fastopenq is None:
        sk.fastopenq = FastopenQueue()
    somaxconn = sk.host.sysctl.get_int("net.core.somaxconn")
    sk.fastopenq.max_qlen = min(backlog & _M32, somaxconn)


def tcp_fastopen_listen(sk: TcpSock, backlog: int) -> None:
    """inet_listen()'s TFO part: with tcp_fastopen 0x400|0x2 every listener is TFO."""
    tfo = sysctl_tcp_fastopen(sk.net)
    q = sk.fastopenq
    if tfo & TFO_SERVER_WO_SOCKOPT1 and tfo & TFO_SERVER_ENABLE and \
            (q is None or not q.max_qlen):
        fastopen_queue_tune(sk, backlog)
        tcp_fastopen_init_key_once(sk.net)


def tcp_fastopen_queue_check(sk: TcpSock) -> bool:
    """tcp_fastopen_queue_check(): the listener does TFO and has room in its fastopen
    queue (an RST-ed request older than 60 s makes room)."""
    q = sk.fastopenq
    if q is None or q.max_qlen == 0:
        return False
    if q.qlen >= q.max_qlen:
        if not q.rst_expires or q.rst_expires[0] > sk.jiffies():
            sk.host.mib.tcpext.TCPFastOpenListenOverflow += 1
            return False
        q.rst_expires.popleft()
        q.qlen -= 1
    return True


def tcp_fastopen_add_skb(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_fastopen_add_skb(): queue the data (and FIN) a SYN or SYN-ACK carried."""
    from tuxnet.tcp.rcv_queue import _skb_set_owner_r, tcp_fin

    cb = tcp_cb(skb)
    if cb.end_seq == sk.rcv_nxt:
        return
    data = skb.clone()
    ncb = cb.copy()
    data.cb = ncb
    sk.segs_in = 1  # tcp_segs_in() after resetting what tcp_create_openreq_child set
    if skb.len > cb.hdr_len:
        sk.data_segs_in += 1
    data.pull(cb.hdr_len)
    ncb.seq = (ncb.seq + 1) & _M32
    ncb.tcp_flags &= ~TCPHDR_SYN
    sk.rcv_nxt = ncb.end_seq
    sk.sk_receive_queue.append(data)
    _skb_set_owner_r(sk, data)
    sk.syn_data_acked = True
    sk.bytes_received = data.len
    if ncb.tcp_flags & TCPHDR_FIN:
        tcp_fin(sk)


def tcp_fastopen_create_child(sk: TcpSock, skb: SkBuff, req: TcpRequestSock) -> TcpSock | None:
    """tcp_fastopen_create_child(): the full socket, hashed, in SYN_RECV, with the SYN
    data queued and the SYN-ACK retransmit timer armed."""
    from tuxnet.tcp.ipv4 import tcp_v4_syn_recv_sock
    from tuxnet.tcp.rcv_state import tcp_init_transfer
    from tuxnet.tcp.timer import inet_csk_reset_xmit_timer

    child = tcp_v4_syn_recv_sock(sk, skb, req)
    if child is None:
        return None
    if not sk.net.inet_ehash_insert(child):
        return None
    q = sk.fastopenq
    assert q is not None
    q.qlen += 1
    child.fastopen_rsk = req
    child.syn_fastopen_child = True
    req.tfo_listener = True
    req.sk = child
    cb = tcp_cb(skb)
    child.snd_wnd = cb.window  # RFC 7323 2.2: the window of a SYN is never scaled
    child.max_window = child.snd_wnd
    req.timeout = TCP_TIMEOUT_INIT  # tcp_timeout_init
    inet_csk_reset_xmit_timer(child, ICSK_TIME_RETRANS, req.timeout, TCP_RTO_MAX)
    tcp_init_transfer(child)
    child.rcv_nxt = (cb.seq + 1) & _M32
    tcp_fastopen_add_skb(child, skb)
    req.rcv_nxt = child.rcv_nxt
    child.rcv_wup = child.rcv_nxt
    return child


def tcp_try_fastopen(sk: TcpSock, skb: SkBuff, req: TcpRequestSock, foc: FastopenCookie,
                     dst: TcpDst | None) -> TcpSock | None:
    """tcp_try_fastopen() (RFC 7413 4.2.2): the child socket when the SYN may open the
    connection at once; ``foc`` becomes what the SYN-ACK carries (a cookie for a
    request or an invalid cookie, or len -1 for none)."""
    cb = tcp_cb(skb)
    tn = sk.net
    tcpext = sk.host.mib.tcpext
    syn_data = cb.end_seq != (cb.seq + 1) & _M32
    tfo = sysctl_tcp_fastopen(tn)
    if foc.len == 0:
        tcpext.TCPFastOpenCookieReqd += 1
    if not (tfo & TFO_SERVER_ENABLE and (syn_data or foc.len >= 0) and
            tcp_fastopen_queue_check(sk)):
        foc.len = -1
        return None
    valid = FastopenCookie()
    ret = 0
    if tcp_fastopen_no_cookie(sk, dst, TFO_SERVER_COOKIE_NOT_REQD):
        return _fastopen_child(sk, skb, req, foc, valid, ret)
    if foc.len == 0:
        valid = tcp_fastopen_cookie_gen(sk, skb)
    elif foc.len > 0:
        ret = tcp_fastopen_cookie_gen_check(sk, skb, foc, valid)
        if not ret:
            tcpext.TCPFastOpenPassiveFail += 1
        else:
            return _fastopen_child(sk, skb, req, foc, valid, ret)
    valid.exp = foc.exp
    foc.len, foc.val, foc.exp = valid.len, valid.val, valid.exp
    return None


def _fastopen_child(sk: TcpSock, skb: SkBuff, req: TcpRequestSock, foc: FastopenCookie,
                    valid: FastopenCookie, ret: int) -> TcpSock | None:
    """The ``fastopen:`` label of tcp_try_fastopen()."""
    tcpext = sk.host.mib.tcpext
    child = tcp_fastopen_create_child(sk, skb, req)
    if child is not None:
        if ret == 2:  # the backup key matched: hand out the primary key's cookie
            foc.len, foc.val = valid.len, valid.val
            tcpext.TCPFastOpenPassiveAltKey += 1
        else:
            foc.len = -1
        tcpext.TCPFastOpenPassive += 1
        return child
    tcpext.TCPFastOpenPassiveFail += 1
    valid.exp = foc.exp
    foc.len, foc.val, foc.exp = valid.len, valid.val, valid.exp
    return None


def reqsk_fastopen_remove(sk: TcpSock, req: TcpRequestSock, reset: bool) -> None:
    """reqsk_fastopen_remove(): the child leaves its listener's fastopen queue; an
    accepted child reset by the peer keeps a slot for 60 s (RFC 7413 5.1: a defence
    against spoofed SYN data)."""
    lsk = req.rsk_listener
    q = lsk.fastopenq
    sk.fastopen_rsk = None
    if q is None:
        return
    q.qlen -= 1
    req.tfo_listener = False
    if req.sk is not None:  # not accepted yet: accept() finishes the request
        return
    if not reset or lsk.sk_state != TCP_LISTEN:
        return
    q.rst_expires.append(lsk.jiffies() + 60 * HZ)
    q.qlen += 1


def tcp_fastopen_synack_timer(sk: TcpSock, req: TcpRequestSock) -> None:
    """tcp_fastopen_synack_timer(): the child's retransmit timer resends the SYN-ACK
    (one more try than tcp_synack_retries) until the handshake completes."""
    from tuxnet.tcp.ipv4 import tcp_rtx_synack
    from tuxnet.tcp.recovery import tcp_enter_loss
    from tuxnet.tcp.timer import inet_csk_reset_xmit_timer, tcp_write_err

    sk.host.mib.tcpext.TCPTimeouts += 1  # tcp_syn_ack_timeout
    max_retries = sk.icsk_syn_retries or sk.net.sysctl("tcp_synack_retries") + 1
    if req.num_timeout >= max_retries:
        tcp_write_err(sk)
        return
    if sk.icsk_retransmits == 1:
        tcp_enter_loss(sk)
    tcp_rtx_synack(sk, req)
    req.num_timeout += 1
    # tcp_update_rto_stats
    if not sk.icsk_retransmits:
        sk.total_rto_recoveries += 1
    sk.icsk_retransmits += 1
    sk.total_rto += 1
    if not sk.retrans_stamp:
        sk.retrans_stamp = sk.tcp_time_stamp_ts()
    inet_csk_reset_xmit_timer(sk, ICSK_TIME_RETRANS,
                              min(req.timeout << req.num_timeout, TCP_RTO_MAX), TCP_RTO_MAX)


def tcp_rcv_synrecv_state_fastopen(sk: TcpSock) -> None:
    """tcp_rcv_synrecv_state_fastopen(): the handshake of a TFO child completed."""
    from tuxnet.tcp.recovery import tcp_try_undo_recovery
    from tuxnet.tcp.timer import tcp_rearm_rto

    if sk.icsk_ca_state == 4 and not sk.packets_out:  # TCP_CA_Loss: a SYN-ACK timed out
        tcp_try_undo_recovery(sk)
    sk.retrans_stamp = 0
    sk.icsk_retransmits = 0
    req = sk.fastopen_rsk
    if req is not None:
        reqsk_fastopen_remove(sk, req, False)
    # data sent before the handshake completed is now timed by the regular RTO
    tcp_rearm_rto(sk)


def inet_csk_accept_fastopen(child: TcpSock) -> None:
    """inet_csk_accept()'s TFO part: the accepted child no longer holds its request."""
    req = child.fastopen_rsk
    if req is not None and req.tfo_listener:
        req.sk = None


def tcp_fastopen_tcpi_options(sk: TcpSock) -> int:
    """tcp_get_info(): TCPI_OPT_SYN_DATA (32) when the peer acknowledged our SYN data
    or the child's SYN data was accepted; TCPI_OPT_TFO_CHILD (128) for a child a Fast
    Open SYN created."""
    return (32 if sk.syn_data_acked else 0) | (128 if sk.syn_fastopen_child else 0)


# -- socket options -----------------------------------------------------------------

TCP_FASTOPEN = 23
TCP_FASTOPEN_CONNECT = 30
TCP_FASTOPEN_KEY = 33
TCP_FASTOPEN_NO_COOKIE = 34
FASTOPEN_SOCKOPTS = (TCP_FASTOPEN, TCP_FASTOPEN_CONNECT, TCP_FASTOPEN_NO_COOKIE)


def tcp_fastopen_setsockopt(sk: TcpSock, optname: int, val: int) -> None:
    """do_tcp_setsockopt(): TCP_FASTOPEN (listener queue length; CLOSE or LISTEN only),
    TCP_FASTOPEN_CONNECT (EOPNOTSUPP without client TFO), TCP_FASTOPEN_NO_COOKIE."""
    import errno

    from tuxnet.socket.core import sock_errno

    closed_or_listen = sk.sk_state in (TCP_CLOSE, TCP_LISTEN)
    if optname == TCP_FASTOPEN:
        if val < 0 or not closed_or_listen:
            raise sock_errno(errno.EINVAL)
        tcp_fastopen_init_key_once(sk.net)
        fastopen_queue_tune(sk, val)
    elif optname == TCP_FASTOPEN_CONNECT:
        if val not in (0, 1):
            raise sock_errno(errno.EINVAL)
        if not sysctl_tcp_fastopen(sk.net) & TFO_CLIENT_ENABLE:
            raise sock_errno(errno.EOPNOTSUPP)
        if sk.sk_state != TCP_CLOSE:
            raise sock_errno(errno.EINVAL)
        sk.fastopen_connect = bool(val)
    elif optname == TCP_FASTOPEN_NO_COOKIE:
        if val not in (0, 1) or not closed_or_listen:
            raise sock_errno(errno.EINVAL)
        sk.fastopen_no_cookie = bool(val)


def tcp_fastopen_set_key(sk: TcpSock, key: bytes) -> None:
    """TCP_FASTOPEN_KEY: the listener's own primary (and backup) 16-byte key."""
    import errno

    from tuxnet.socket.core import sock_errno

    if len(key) not in (TCP_FASTOPEN_KEY_LENGTH, 2 * TCP_FASTOPEN_KEY_LENGTH):
        raise sock_errno(errno.EINVAL)
    if sk.fastopenq is None:
        sk.fastopenq = FastopenQueue()
    sk.fastopenq.ctx = keys_from_bytes(key)


def tcp_fastopen_getsockopt(sk: TcpSock, optname: int) -> int | bytes:
    """do_tcp_getsockopt() for the Fast Open options (TCP_FASTOPEN_KEY: the socket's
    own keys, empty when it has none)."""
    q = sk.fastopenq
    if optname == TCP_FASTOPEN:
        return q.max_qlen if q is not None else 0
    if optname == TCP_FASTOPEN_CONNECT:
        return int(sk.fastopen_connect)
    if optname == TCP_FASTOPEN_NO_COOKIE:
        return int(sk.fastopen_no_cookie)
    return keys_to_bytes(q.ctx) if q is not None and q.ctx is not None else b""
