"""tcp_sequence()'s right edge (Linux 6.17 "tcp: do not accept packets beyond window",
6.18.y's FIN leniency): a segment that starts in the window but ends past it is
dropped (TCP_INVALID_END_SEQUENCE, TcpExt BeyondWindow, a duplicate ACK) while
unread data waits in the receive queue, accepted whole when the queue is empty; a
FIN alone may take the sequence number just past the edge; the header-prediction
fast path hands such a segment to the slow path."""

from __future__ import annotations

from test_tcp_check_req import Passive

from tuxnet.dropreason import SkbDropReason
from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CLOSE_WAIT, TCPHDR_ACK, TCPHDR_FIN, TCPHDR_PSH
from tuxnet.tcp.sock import TcpSock


def _established() -> tuple[Passive, TcpSock, int]:
    p = Passive(tfo=False)
    p.send(p.rcv_nxt, p.snt_isn + 1, TCPHDR_ACK)
    child = proto.inet_csk_accept(p.lst, 0)
    p.new()
    return p, child, p.snt_isn + 1


def test_a_segment_past_the_edge_waits_for_an_empty_receive_queue() -> None:
    p, sk, ack = _established()
    p.send(sk.rcv_nxt, ack, TCPHDR_ACK | TCPHDR_PSH, b"a" * 1000)  # stays unread
    p.new()
    assert sk.sk_receive_queue and sk.rcv_nxt == p.rcv_nxt + 1000
    seq = sk.rcv_nxt
    room = sk.tcp_receive_window()
    too_long = b"b" * (room + 100)
    hits = p.b.mib.tcpext.TCPHPHits
    p.send(seq, ack, TCPHDR_ACK | TCPHDR_PSH, too_long)
    assert p.b.mib.tcpext.TCPHPHits == hits  # not taken by header prediction
    assert sk.rcv_nxt == seq
    assert p.b.drop_counts.get(SkbDropReason.TCP_INVALID_END_SEQUENCE) == 1
    assert p.b.mib.tcpext.BeyondWindow == 1
    (dup,) = p.new()
    assert dup.tcp.flags == TCPHDR_ACK and dup.tcp.ack_seq == seq
    # read everything: with the queue empty the same segment is accepted whole
    assert proto.tcp_recvmsg(sk, 1 << 20, 0, 0) == b"a" * 1000
    p.send(seq, ack, TCPHDR_ACK | TCPHDR_PSH, too_long)
    assert sk.rcv_nxt == (seq + len(too_long)) & 0xFFFFFFFF
    assert p.b.mib.tcpext.BeyondWindow == 1


def test_a_segment_starting_past_the_edge_is_invalid() -> None:
    p, sk, ack = _established()
    seq = (sk.rcv_nxt + sk.tcp_receive_window() + 1) & 0xFFFFFFFF
    p.send(seq, ack, TCPHDR_ACK, b"c" * 10)
    assert p.b.drop_counts.get(SkbDropReason.TCP_INVALID_SEQUENCE) == 1
    assert p.b.mib.tcpext.BeyondWindow == 1


def test_a_fin_may_end_one_past_the_edge() -> None:
    p, sk, ack = _established()
    p.send(sk.rcv_nxt, ack, TCPHDR_ACK | TCPHDR_PSH, b"a" * 1000)  # stays unread
    seq = sk.rcv_nxt
    fill = b"d" * sk.tcp_receive_window()
    p.send(seq, ack, TCPHDR_ACK | TCPHDR_FIN, fill)  # its FIN is one past the edge
    assert p.b.mib.tcpext.BeyondWindow == 0
    assert sk.rcv_nxt == (seq + len(fill) + 1) & 0xFFFFFFFF
    assert sk.sk_state == TCP_CLOSE_WAIT
