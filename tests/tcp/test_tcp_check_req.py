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
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.sock import TcpSock

PORT = 40000
ISN = 1000
MSS = bytes.fromhex("020405b4")
DATA = b"fast open!"


class Passive:
    """Host b listening on 8080 after a SYN from a fake peer on a (b's answers are
    logged, never delivered); ``tfo`` makes the SYN carry data to a Fast Open
    listener that needs no cookie, so the SYN creates the child at once."""

    def __init__(self, tfo: bool) -> None:
        self.w = Wire(drop=lambda seg: seg.src == "b")
        self.b = self.w.b
        self.lst = listener(self.b)
        self.tfo = tfo
        if tfo:
            self.b.sysctl.set("net.ipv4.tcp_fastopen", "0x203")  # server, no cookie
            tcp_fastopen_setsockopt(self.lst, TCP_FASTOPEN, 8)
        self.syn()
        self.snt_isn = self.out()[0].tcp.seq
        self.rcv_nxt = ISN + 1 + (len(DATA) if tfo else 0)
        self.n = 1

    def send(self, seq: int, ack: int, flags: int, payload: bytes = b"") -> None:
        self.w.inject(self.b, seg_bytes(PORT, 8080, seq, ack, flags, 65535, payload,
                                        MSS if flags & TCPHDR_SYN else b"",
                                        saddr=A, daddr=B), saddr=A)

    def syn(self) -> None:
        self.send(ISN, 0, TCPHDR_SYN, DATA if self.tfo else b"")

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
