"""Segments a connection must refuse (RFC 9293 3.10.7, RFC 5961, RFC 7323 5): RST and
SYN rules with challenge ACKs and their rate limits, the sequence check, PAWS, ACKs
of unsent or ancient data, resets for segments without a socket."""

from __future__ import annotations

import errno

import pytest
from _tcpwire import MS, SEC, A, B, Wire, pair, seg_bytes

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CLOSE, TCP_ESTABLISHED, TCP_SYN_SENT
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.options import tcp_options_write
from tuxnet.tcp.sock import TcpSock

RST, SYN, ACK, PSH, FIN = 0x04, 0x02, 0x10, 0x08, 0x01


def _to_client(w: Wire, c: TcpSock, seq: int, ack: int, flags: int, payload: bytes = b"",
               tsval: int | None = None) -> int:
    """Inject a segment from the server's 4-tuple into the client; returns the number of
    segments the client sent in answer."""
    n = len(w.sent("a"))
    opts = b""
    if tsval is not None:
        opts = tcp_options_write(ts=(tsval, 0))
    w.inject(w.a, seg_bytes(8080, c.inet_sport, seq, ack, flags, 500, payload, opts))
    return len(w.sent("a")) - n


def _ts(c: TcpSock) -> int:
    return c.rx_opt.ts_recent + 1


@pytest.fixture
def conn() -> tuple[Wire, TcpSock]:
    w = Wire()
    c, _s, _l = pair(w)
    w.drop = lambda seg: True  # from here on the client talks to us alone
    w.run(300 * MS)
    return w, c


def test_rst_at_rcv_nxt_resets(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    assert _to_client(w, c, c.rcv_nxt, 0, RST) == 0
    assert c.sk_state == TCP_CLOSE and c.sk_err == errno.ECONNRESET
    assert w.a.mib.tcp.EstabResets == 1 and w.a.mib.tcp.CurrEstab == 0
    with pytest.raises(ConnectionResetError):
        proto.tcp_recvmsg(c, 10, 0, 0)


def test_rst_in_window_draws_challenge_ack(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    assert _to_client(w, c, c.rcv_nxt + 1000, 0, RST) == 1
    ack = w.sent("a")[-1].tcp
    assert ack.flags == ACK and ack.ack_seq == c.rcv_nxt and ack.seq == c.snd_nxt
    assert c.sk_state == TCP_ESTABLISHED
    assert w.a.mib.tcpext.TCPChallengeACK == 1
    assert w.a.drop_counts[R.TCP_RESET] == 1
    # RFC 5961 rate limit: the next one within tcp_invalid_ratelimit is not answered
    assert _to_client(w, c, c.rcv_nxt + 2000, 0, RST) == 0
    assert w.a.mib.tcpext.TCPACKSkippedChallenge == 1
    w.run(600 * MS)
    assert _to_client(w, c, c.rcv_nxt + 3000, 0, RST) == 1


def test_rst_out_of_window_dropped_silently(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    assert _to_client(w, c, c.rcv_nxt + 10_000_000, 0, RST) == 0
    assert _to_client(w, c, c.rcv_nxt - 10, 0, RST) == 0
    assert c.sk_state == TCP_ESTABLISHED
    assert w.a.drop_counts[R.TCP_INVALID_SEQUENCE] == 1
    assert w.a.drop_counts[R.TCP_OLD_SEQUENCE] == 1


def test_syn_in_established_challenged(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    assert _to_client(w, c, c.rcv_nxt, 0, SYN) == 1
    assert w.a.mib.tcpext.TCPSYNChallenge == 1 and w.a.mib.tcpext.TCPChallengeACK == 1
    assert w.a.drop_counts[R.TCP_INVALID_SYN] == 1
    assert c.sk_state == TCP_ESTABLISHED


def test_namespace_challenge_ack_limit(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    w.a.sysctl.set("net.ipv4.tcp_invalid_ratelimit", 0)
    w.a.sysctl.set("net.ipv4.tcp_challenge_ack_limit", 2)
    answered = sum(_to_client(w, c, c.rcv_nxt + 100 * (i + 1), 0, RST) for i in range(10))
    # per second between limit/2 and 1.5 x limit - 1, randomised (RFC 5961 10)
    assert 1 <= answered <= 2
    assert w.a.mib.tcpext.TCPChallengeACK == answered
    w.run(1 * SEC)
    assert _to_client(w, c, c.rcv_nxt + 5000, 0, RST) == 1


def test_out_of_window_data_gets_dupack(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    assert _to_client(w, c, c.rcv_nxt + 10_000_000, c.snd_nxt, ACK, b"x" * 10) == 1
    assert w.a.drop_counts[R.TCP_INVALID_SEQUENCE] == 1
    ack = w.sent("a")[-1].tcp
    assert ack.ack_seq == c.rcv_nxt


def test_old_data_gets_dsack(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    assert _to_client(w, c, c.rcv_nxt - 100, c.snd_nxt, ACK, b"x" * 100) == 1
    ack = w.sent("a")[-1].tcp
    assert ack.options.sack_blocks == [((c.rcv_nxt - 100) & 0xFFFFFFFF, c.rcv_nxt)]
    assert w.a.mib.tcpext.TCPDSACKOldSent == 1 and w.a.mib.tcpext.DelayedACKLost == 1
    assert w.a.drop_counts[R.TCP_OLD_DATA] == 1


def test_paws_drops_old_timestamps(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    recent = c.rx_opt.ts_recent
    assert _to_client(w, c, c.rcv_nxt, c.snd_nxt, ACK | PSH, b"new", tsval=recent - 5) == 1
    assert w.a.mib.tcpext.PAWSEstab == 1
    assert w.a.drop_counts[R.TCP_RFC7323_PAWS] == 1
    with pytest.raises(BlockingIOError):
        proto.tcp_recvmsg(c, 10, 0, 0)
    _to_client(w, c, c.rcv_nxt, c.snd_nxt, ACK | PSH, b"new", tsval=recent + 1)
    assert proto.tcp_recvmsg(c, 10, 0, 0) == b"new"


def test_paws_old_ack_dropped_without_dupack(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    recent = c.rx_opt.ts_recent
    # a pure ACK from before rcv_nxt that fails PAWS is an old ACK reordered on the way
    # (tcp_disordered_ack_check): no dupack, PAWSOldAck, its own drop reason
    assert _to_client(w, c, c.rcv_nxt - 1, c.snd_nxt, ACK, tsval=recent - 5) == 0
    assert w.a.mib.tcpext.PAWSOldAck == 1 and w.a.mib.tcpext.PAWSEstab == 0
    assert w.a.drop_counts == {R.TCP_RFC7323_PAWS_ACK: 1}
    # the same at rcv_nxt but carrying data is a PAWS failure: dupack, PAWSEstab
    assert _to_client(w, c, c.rcv_nxt, c.snd_nxt, ACK | PSH, b"x", tsval=recent - 5) == 1
    assert w.a.mib.tcpext.PAWSEstab == 1
    assert w.a.drop_counts[R.TCP_RFC7323_PAWS] == 1


def test_ack_of_unsent_and_ancient_data(conn: tuple[Wire, TcpSock]) -> None:
    w, c = conn
    ts = _ts(c)
    # RFC 5961 5.2 (Linux 6.18): an ACK of unsent data gets a challenge ACK too
    assert _to_client(w, c, c.rcv_nxt, c.snd_nxt + 1000, ACK, tsval=ts) == 1
    assert w.a.drop_counts[R.TCP_ACK_UNSENT_DATA] == 1
    assert w.a.mib.tcpext.TCPChallengeACK == 1
    # the next one within tcp_invalid_ratelimit is rate limited per socket
    assert _to_client(w, c, c.rcv_nxt, c.snd_una - 2_000_000, ACK, tsval=ts) == 0
    assert w.a.drop_counts[R.TCP_TOO_OLD_ACK] == 1
    assert w.a.mib.tcpext.TCPACKSkippedChallenge == 1


def test_reset_for_segment_without_socket() -> None:
    w = Wire()
    w.inject(w.b, seg_bytes(40000, 9999, 1000, 5555, ACK | PSH, 500, b"hello",
                            saddr=A, daddr=B), saddr=A)
    rst = w.sent("b")[-1].tcp
    assert rst.flags == RST and rst.seq == 5555 and rst.options.is_empty()
    w.inject(w.b, seg_bytes(40000, 9999, 1000, 0, SYN | FIN, 500, b"abc", saddr=A, daddr=B),
             saddr=A)
    rst = w.sent("b")[-1].tcp
    assert rst.flags == RST | ACK and rst.seq == 0 and rst.ack_seq == 1000 + 1 + 1 + 3
    assert w.b.mib.tcp.OutRsts == 2 and w.b.drop_counts[R.NO_SOCKET] == 2
    n = len(w.log)
    w.inject(w.b, seg_bytes(40000, 9999, 1000, 0, RST, 0, saddr=A, daddr=B), saddr=A)
    assert len(w.log) == n  # never a RST for a RST


def test_synsent_unacceptable_ack_draws_rst() -> None:
    w = Wire(drop=lambda seg: True)
    c = proto.tcp_v4_init_sock(w.a)
    with pytest.raises(BlockingIOError):
        proto.inet_stream_connect(c, B, 8080, 0)
    w.inject(w.a, seg_bytes(8080, c.inet_sport, 777, c.snd_nxt + 5, SYN | ACK, 500))
    rst = w.sent("a")[-1].tcp
    assert rst.flags == RST and rst.seq == (c.snd_nxt + 5) & 0xFFFFFFFF
    assert c.sk_state == TCP_SYN_SENT
    # Linux 6.18 tcp_rcv_synsent_state_process: reset_and_undo with this reason
    assert w.a.drop_counts == {R.TCP_INVALID_ACK_SEQUENCE: 1}
    w.inject(w.a, seg_bytes(8080, c.inet_sport, 777, c.snd_nxt, RST, 0))  # RST without ACK
    assert c.sk_state == TCP_SYN_SENT
    assert w.a.drop_counts[R.TCP_RESET] == 1
    tn = tcp_net(w.a)
    assert tn.ehash  # still hashed, still trying
