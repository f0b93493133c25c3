"""tcp_check_req() (tcp/minisocks.py) for both of its callers: a request socket
(TCP_NEW_SYN_RECV, the listener passes it) and a Fast Open child in SYN_RECV
(tcp_rcv_state_process passes it with fastopen=True). Each segment a passive opener
in SYN-RECEIVED can get (RFC 9293 3.10.7.4): a retransmitted SYN, an out-of-window
segment, a SYN inside the window, a RST, a segment without ACK, the completing ACK."""

from __future__ import annotations

import pytest
from _tcpwire import MS, SEC, A, B, Seg, Wire, listener, seg_bytes

from tuxnet.dropreason import SkbDropReason
from tuxnet.tcp.defs import (
    TCP_CLOSE,
    TCP_ESTABLISHED,
    TCP_SYN_RECV,
    TCPHDR_ACK,
    TCPHDR_PSH,
    TCPHDR_RST,
    TCPHDR_SYN,
)
from tuxnet.tcp.fastopen import TCP_FASTOPEN, tcp_fastopen_setsockopt
from tuxnet.tcp.minisocks import TcpRequestSock
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.options import tcp_options_write
from tuxnet.tcp.sock import TcpSock

PORT = 40000
ISN = 1000
MSS = bytes.fromhex("020405b4")
DATA = b"fast open!"
TSVAL = 5000  # the fake peer's TSval in its SYN (then TSVAL + 1)


class Passive:
    """Host b listening on 8080 after a SYN from a fake peer on a (b's answers are
    logged, never delivered); ``tfo`` makes the SYN carry data to a Fast Open
    listener that needs no cookie, so the SYN creates the child at once."""

    def __init__(self, tfo: bool, ts: bool = False) -> None:
        self.w = Wire(drop=lambda seg: seg.src == "b")
        self.b = self.w.b
        self.lst = listener(self.b)
        self.tfo = tfo
        self.ts = ts  # the SYN offers timestamps (TSval TSVAL)
        if tfo:
            self.b.sysctl.set("net.ipv4.tcp_fastopen", "0x203")  # server, no cookie
            tcp_fastopen_setsockopt(self.lst, TCP_FASTOPEN, 8)
        self.syn()
        self.snt_isn = self.out()[0].tcp.seq
        self.rcv_nxt = ISN + 1 + (len(DATA) if tfo else 0)
        self.n = 1

    def send(self, seq: int, ack: int, flags: int, payload: bytes = b"",
             tsecr: int | None = None) -> None:
        """A segment from the peer; ``tsecr`` adds a timestamp option (TSval TSVAL + 1)."""
        opts = MSS if flags & TCPHDR_SYN else b""
        if flags & TCPHDR_SYN and self.ts:
            opts += tcp_options_write(ts=(TSVAL, 0))
        elif tsecr is not None:
            opts = tcp_options_write(ts=(TSVAL + 1, tsecr))
        self.w.inject(self.b, seg_bytes(PORT, 8080, seq, ack, flags, 65535, payload, opts,
                                        saddr=A, daddr=B), saddr=A)

    def syn(self) -> None:
        self.send(ISN, 0, TCPHDR_SYN, DATA if self.tfo else b"")

    def req(self) -> TcpRequestSock:
        r = tcp_net(self.b).ehash.get((B, 8080, A, PORT))
        assert isinstance(r, TcpRequestSock)
        return r

    def out(self) -> list[Seg]:
        return self.w.sent("b")

    def new(self) -> list[Seg]:
        """What b sent since the last call."""
        segs = self.out()[self.n:]
        self.n += len(segs)
        return segs

    def child(self) -> TcpSock | None:
        sk = tcp_net(self.b).ehash.get((B, 8080, A, PORT))
        return sk if isinstance(sk, TcpSock) else None

    def mib(self, name: str) -> int:
        tcp = self.b.mib.tcp
        return int(getattr(tcp if hasattr(tcp, name) else self.b.mib.tcpext, name))


@pytest.fixture(params=[False, True], ids=["request", "fastopen-child"])
def p(request: pytest.FixtureRequest) -> Passive:
    return Passive(request.param)


def test_the_syn_made_a_request_or_a_child(p: Passive) -> None:
    child = p.child()
    if p.tfo:
        assert child is not None and child.sk_state == TCP_SYN_RECV
        assert p.lst.reqsk_qlen == 0 and child.fastopen_rsk is not None
    else:
        assert child is None and p.lst.reqsk_qlen == 1
    synack = p.out()[0].tcp
    assert synack.flags == TCPHDR_SYN | TCPHDR_ACK and synack.ack_seq == p.rcv_nxt


def test_retransmitted_syn_resends_the_synack(p: Passive) -> None:
    p.w.run(500 * MS)
    p.syn()
    (again,) = p.new()
    assert again.t == 500 * MS and again.tcp.flags == TCPHDR_SYN | TCPHDR_ACK
    assert again.tcp.seq == p.snt_isn and again.tcp.ack_seq == p.rcv_nxt
    if p.tfo:  # tcp_rcv_state_process discards it, TCP_FASTOPEN the default reason
        assert p.b.drop_counts.get(SkbDropReason.TCP_FASTOPEN) == 1
    p.w.run(2 * SEC)
    # a request's timer starts over (1 s from the resend); a Fast Open child's
    # retransmit timer keeps its deadline (1 s after the SYN)
    first_timeout = p.new()[0]
    assert first_timeout.t == (1 * SEC if p.tfo else 1500 * MS)


def test_out_of_window_segment_draws_an_ack(p: Passive) -> None:
    p.send(ISN + 1_000_000, p.snt_isn + 1, TCPHDR_ACK, b"x" * 10)
    (ack,) = p.new()
    assert ack.tcp.flags == TCPHDR_ACK and ack.payload_len == 0
    assert ack.tcp.seq == p.snt_isn + 1 and ack.tcp.ack_seq == p.rcv_nxt
    assert p.mib("AttemptFails") == 0
    assert (p.child() is not None) == p.tfo and (p.lst.reqsk_qlen == 1) != p.tfo
    assert p.b.drop_counts == {SkbDropReason.TCP_OVERWINDOW: 1}  # Linux 6.15+


def test_syn_inside_the_window_draws_a_rst(p: Passive) -> None:
    seq = p.rcv_nxt + 5
    p.send(seq, 0, TCPHDR_SYN)
    (rst,) = p.new()
    assert rst.tcp.flags == TCPHDR_RST | TCPHDR_ACK and rst.tcp.seq == 0
    assert rst.tcp.ack_seq == seq + 1
    assert p.mib("AttemptFails") == 1
    if p.tfo:  # the child stays: an outsider must not reset a legitimate connection
        child = p.child()
        assert child is not None and child.sk_state == TCP_SYN_RECV
        assert p.mib("EmbryonicRsts") == 0
    else:
        assert p.lst.reqsk_qlen == 0 and p.mib("EmbryonicRsts") == 1


def test_rst_inside_the_window_ends_it(p: Passive) -> None:
    child = p.child()
    p.send(p.rcv_nxt, 0, TCPHDR_RST)
    assert p.new() == []
    # tcp_check_req counts the attempt; the child's tcp_done (from SYN_RECV) once more
    assert p.mib("AttemptFails") == (2 if p.tfo else 1)
    if p.tfo:
        assert child is not None and child.sk_state == TCP_CLOSE
        assert child.fastopen_rsk is None and p.mib("EmbryonicRsts") == 0
    else:
        assert p.lst.reqsk_qlen == 0 and p.mib("EmbryonicRsts") == 1


def test_segment_without_ack_is_dropped(p: Passive) -> None:
    p.send(p.rcv_nxt, 0, TCPHDR_PSH, b"y" * 10)
    assert p.new() == [] and p.mib("AttemptFails") == 0
    assert p.b.drop_counts.get(SkbDropReason.TCP_FLAGS) == 1
    child = p.child()
    if p.tfo:
        assert child is not None and child.sk_state == TCP_SYN_RECV
        assert child.rcv_nxt == p.rcv_nxt
    else:
        assert child is None and p.lst.reqsk_qlen == 1


def test_final_ack_completes_the_handshake(p: Passive) -> None:
    p.send(p.rcv_nxt, p.snt_isn + 1, TCPHDR_ACK)
    assert p.new() == []
    child = p.child()
    assert child is not None and child.sk_state == TCP_ESTABLISHED
    assert p.lst.reqsk_qlen == 0 and len(p.lst.icsk_accept_queue) == 1


def test_request_answers_a_wrong_ack_with_a_rst() -> None:
    p = Passive(tfo=False)
    p.send(ISN + 1, p.snt_isn + 7, TCPHDR_ACK)
    (rst,) = p.new()
    assert rst.tcp.flags == TCPHDR_RST and rst.tcp.seq == p.snt_isn + 7
    assert p.lst.reqsk_qlen == 1  # RFC 9293 3.10.7.3: the request stays


@pytest.mark.parametrize("abort", [0, 1])
def test_a_full_accept_queue_keeps_or_resets_the_request(abort: int) -> None:
    """listen_overflow: tcp_abort_on_overflow=0 keeps the request (acked, the final
    ACK retried later), 1 answers with a RST through embryonic_reset — neither counts
    AttemptFails (only a RST or SYN in the window does)."""
    p = Passive(tfo=False)
    p.b.sysctl.set("net.ipv4.tcp_abort_on_overflow", str(abort))
    p.lst.sk_ack_backlog = p.lst.sk_max_ack_backlog + 1  # the accept queue is full
    p.send(p.rcv_nxt, p.snt_isn + 1, TCPHDR_ACK)
    assert p.mib("ListenOverflows") == 1 and p.mib("AttemptFails") == 0
    if abort:
        (rst,) = p.new()
        assert rst.tcp.flags == TCPHDR_RST and rst.tcp.seq == p.snt_isn + 1
        assert p.lst.reqsk_qlen == 0 and p.mib("EmbryonicRsts") == 1
    else:
        assert p.new() == [] and p.lst.reqsk_qlen == 1
    assert p.b.drop_counts == {SkbDropReason.TCP_LISTEN_OVERFLOW: 1}  # Linux 6.15+


# -- the TSecr check (Linux 6.15+: tsecr_reject, TcpExtTSEcrRejected) ------------------

def test_ack_with_a_wrong_tsecr_is_answered_dropped_and_counted() -> None:
    p = Passive(tfo=False, ts=True)
    tsval = p.out()[0].tcp.options.timestamp[0]  # the SYN-ACK's, ts_off included
    assert p.req().ts_off != 0 and p.req().snt_tsval_first == tsval
    p.send(p.rcv_nxt, p.snt_isn + 1, TCPHDR_ACK, tsecr=tsval + 1000)
    (ack,) = p.new()  # handled as out of window: an ACK (with the SYN's TSval echoed)
    assert ack.tcp.flags == TCPHDR_ACK and ack.tcp.ack_seq == p.rcv_nxt
    assert ack.tcp.options.timestamp[1] == TSVAL
    assert p.mib("TSEcrRejected") == 1 and p.mib("PAWSEstab") == 0
    assert p.b.drop_counts == {SkbDropReason.TCP_RFC7323_TSECR: 1}
    assert p.child() is None and p.lst.reqsk_qlen == 1
    # the right TSecr (compared as sent, before ts_off comes off) completes it
    p.send(p.rcv_nxt, p.snt_isn + 1, TCPHDR_ACK, tsecr=tsval)
    child = p.child()
    assert child is not None and child.sk_state == TCP_ESTABLISHED
    assert child.rx_opt.ts_recent == TSVAL + 1  # the child takes the ACK's TSval
    assert p.mib("TSEcrRejected") == 1 and len(p.lst.icsk_accept_queue) == 1


def test_a_rst_with_a_wrong_tsecr_draws_no_ack() -> None:
    p = Passive(tfo=False, ts=True)
    p.send(p.rcv_nxt, 0, TCPHDR_RST, tsecr=1)
    assert p.new() == [] and p.lst.reqsk_qlen == 1
    assert p.b.drop_counts == {SkbDropReason.TCP_RFC7323_TSECR: 1}


def test_any_synack_tsval_is_a_valid_tsecr() -> None:
    p = Passive(tfo=False, ts=True)
    first = p.out()[0].tcp.options.timestamp[0]
    p.w.run(1100 * MS)  # the SYN-ACK is retransmitted at 1 s with a later TSval
    (again,) = p.new()
    last = again.tcp.options.timestamp[0]
    assert again.tcp.flags == TCPHDR_SYN | TCPHDR_ACK and last == first + 1000
    assert p.req().snt_tsval_last == last
    p.send(p.rcv_nxt, p.snt_isn + 1, TCPHDR_ACK, tsecr=last + 1)  # never sent
    assert p.mib("TSEcrRejected") == 1 and p.child() is None
    p.w.run(600 * MS)  # past the out-of-window ACK rate limit
    p.send(p.rcv_nxt, p.snt_isn + 1, TCPHDR_ACK, tsecr=first + 500)  # in between
    child = p.child()
    assert child is not None and child.sk_state == TCP_ESTABLISHED
    assert p.mib("TSEcrRejected") == 1


def test_a_fast_open_child_does_not_check_the_tsecr() -> None:
    p = Passive(tfo=True, ts=True)
    tsval = p.out()[0].tcp.options.timestamp[0]
    p.send(p.rcv_nxt, p.snt_isn + 1, TCPHDR_ACK, tsecr=tsval + 1000)
    child = p.child()
    assert child is not None and child.sk_state == TCP_ESTABLISHED
    assert p.mib("TSEcrRejected") == 0
    assert SkbDropReason.TCP_RFC7323_TSECR not in p.b.drop_counts
