"""Closing (RFC 9293 3.6): active, passive and simultaneous close, half-close, TIME_WAIT
for 60 s, the orphaned FIN_WAIT2 timeout, aborts with RST."""

from __future__ import annotations

import errno
from typing import Any

import pytest
from _tcpwire import MS, SEC, A, Wire, pair, seg_bytes

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.tcp import proto
from tuxnet.tcp.defs import (
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT2,
    TCP_TIME_WAIT,
)
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.options import tcp_options_write

FIN, ACK, RST = 0x01, 0x10, 0x04


def _states(w: Wire) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {"a": [], "b": []}
    for name, h in (("a", w.a), ("b", w.b)):
        h.tracepoints.subscribe(
            "sock:inet_sock_set_state",
            lambda ev, name=name: out[name].append((ev.fields["oldstate"][4:],
                                                    ev.fields["newstate"][4:])))
    return out


def _tw(w: Wire, host: str) -> list[object]:
    tn = tcp_net(w.a if host == "a" else w.b)
    return [x for x in tn.ehash.values() if x.sk_state == TCP_TIME_WAIT]


def test_active_and_passive_close_and_time_wait_len() -> None:
    w = Wire()
    c, s, _ = pair(w)
    st = _states(w)
    proto.tcp_close(c)
    w.run(100 * MS)
    assert proto.tcp_recvmsg(s, 10, 0, 0) == b""  # end of stream
    assert s.sk_state == TCP_CLOSE_WAIT
    proto.tcp_close(s)
    w.run(3 * MS)
    t_fin = next(x.t for x in w.sent("b") if x.flags & FIN)
    assert st["a"] == [("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"),
                       ("FIN_WAIT2", "CLOSE")]
    assert st["b"] == [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                       ("LAST_ACK", "CLOSE")]
    assert len(_tw(w, "a")) == 1 and not _tw(w, "b")
    assert [x.sk_state for x in tcp_net(w.b).ehash.values()] == []
    # the port stays taken during TIME_WAIT
    probe = proto.tcp_v4_init_sock(w.a)
    assert tcp_net(w.a).get_port(probe, c.inet_sport or next(iter(tcp_net(w.a).bhash))) == 1
    entered = t_fin + 1 * MS  # the FIN arrives after the link delay
    w.run(entered + 60 * SEC - w.now() - 1)
    assert len(_tw(w, "a")) == 1
    w.run(2)
    assert not _tw(w, "a") and w.a.mib.tcpext.TW == 1
    assert not tcp_net(w.a).bhash


def test_time_wait_acks_retransmitted_fin_and_restarts() -> None:
    w = Wire()
    c, s, _ = pair(w)
    proto.inet_shutdown_stream(c, 1)
    w.run(10 * MS)
    proto.tcp_close(s)
    w.run(10 * MS)
    assert c.sk_state == TCP_CLOSE and len(_tw(w, "a")) == 1
    tw = _tw(w, "a")[0]
    w.run(30 * SEC)
    w.drop = lambda seg: True  # the closed peer would answer our ACK with a RST
    n = len(w.sent("a"))
    fin_seq = (tw.tw_rcv_nxt - 1) & 0xFFFFFFFF  # type: ignore[attr-defined]
    w.inject(w.a, seg_bytes(8080, tw.inet_num, fin_seq, tw.tw_snd_nxt,  # type: ignore[attr-defined]
                            FIN | ACK, 500))
    ack = w.sent("a")[n].tcp
    assert ack.flags == ACK and ack.ack_seq == tw.tw_rcv_nxt  # type: ignore[attr-defined]
    w.run(59 * SEC)
    assert _tw(w, "a")  # restarted: 60 s from the retransmitted FIN
    w.run(2 * SEC)
    assert not _tw(w, "a")


def test_simultaneous_close() -> None:
    w = Wire()
    c, s, _ = pair(w)
    st = _states(w)
    proto.tcp_close(c)
    proto.tcp_close(s)
    w.run(10 * MS)
    for side in ("a", "b"):
        assert st[side] == [("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "CLOSING"),
                            ("CLOSING", "CLOSE")]
        assert len(_tw(w, side)) == 1
    w.run(61 * SEC)
    assert not _tw(w, "a") and not _tw(w, "b")


@pytest.mark.parametrize("fin_timeout", [10, 60])
def test_orphan_fin_wait2_times_out(fin_timeout: int) -> None:
    w = Wire()
    w.a.sysctl.set("net.ipv4.tcp_fin_timeout", fin_timeout)
    c, s, _ = pair(w)
    proto.tcp_close(c)  # the peer acknowledges our FIN but never sends its own
    w.run(100 * MS)
    t_ack = [x.t for x in w.sent("b")][-1] + 1 * MS
    assert c.sk_state == TCP_CLOSE  # the orphan became a FIN_WAIT2 mini socket
    tws = _tw(w, "a")
    assert len(tws) == 1 and tws[0].tw_substate == TCP_FIN_WAIT2  # type: ignore[attr-defined]
    w.run(t_ack + fin_timeout * SEC - w.now() - 1)
    assert _tw(w, "a")
    w.run(2)
    assert not _tw(w, "a")
    # the peer's late data finds no socket: RST (EPIPE in CLOSE_WAIT)
    proto.tcp_sendmsg(s, b"late", 0, 0)
    w.run(10 * MS)
    assert w.sent("a")[-1].tcp.flags & RST
    assert s.sk_state == TCP_CLOSE and s.sk_err == errno.EPIPE
    with pytest.raises(BrokenPipeError):
        proto.tcp_sendmsg(s, b"x", 0, 0)


def _time_wait_on_a() -> tuple[Wire, Any]:
    """A connection a closed first and b then: a's TIME_WAIT socket."""
    w = Wire()
    c, s, _ = pair(w)
    proto.tcp_close(c)
    w.run(100 * MS)
    proto.tcp_close(s)
    w.run(10 * MS)
    return w, _tw(w, "a")[0]


def test_rst_assassinates_time_wait() -> None:
    w, tw = _time_wait_on_a()
    w.inject(w.a, seg_bytes(8080, tw.inet_num, tw.tw_rcv_nxt, 0, RST, 0))  # type: ignore[attr-defined]
    assert not _tw(w, "a")  # RFC 1337 hazard, as Linux with tcp_rfc1337 = 0


def test_paws_in_time_wait_acked_and_dropped_with_reason() -> None:
    w, tw = _time_wait_on_a()
    w.drop = lambda seg: True
    rcv_nxt, snd_nxt = tw.tw_rcv_nxt, tw.tw_snd_nxt  # type: ignore[attr-defined]
    old_ts = tw.tw_ts_recent - 10  # type: ignore[attr-defined]
    n = len(w.sent("a"))
    w.inject(w.a, seg_bytes(8080, tw.inet_num, rcv_nxt, snd_nxt, ACK, 500, b"",  # type: ignore[attr-defined]
                            tcp_options_write(ts=(old_ts, 0))))
    # tcp_timewait_state_process: PAWS failure -> PAWSTimewait, the ACK, and (6.16+)
    # SKB_DROP_REASON_TCP_RFC7323_TW_PAWS
    assert [x.tcp.flags for x in w.sent("a")[n:]] == [ACK]
    assert w.a.mib.tcpext.PAWSTimewait == 1
    assert w.a.drop_counts == {R.TCP_RFC7323_TW_PAWS: 1}
    # a good timestamp on the same bare ACK is consumed silently
    w.inject(w.a, seg_bytes(8080, tw.inet_num, rcv_nxt, snd_nxt, ACK, 500, b"",  # type: ignore[attr-defined]
                            tcp_options_write(ts=(old_ts + 20, 0))))
    assert w.a.drop_counts == {R.TCP_RFC7323_TW_PAWS: 1} and w.a.mib.tcpext.PAWSTimewait == 1


def test_data_to_an_orphan_after_close_draws_a_rst() -> None:
    w = Wire()
    c, _s, _ = pair(w)
    w.drop = lambda seg: True  # from here on we play the peer
    proto.tcp_close(c)  # FIN_WAIT1, orphaned
    w.run(1 * MS)
    assert w.sent("a")[-1].tcp.flags & FIN
    n = len(w.sent("a"))
    # the peer acknowledges our FIN and sends data: tcp_rcv_state_process returns
    # TCP_ABORT_ON_DATA after tcp_done, and tcp_v4_do_rcv answers with a RST
    w.inject(w.a, seg_bytes(8080, c.inet_sport, c.rcv_nxt, c.snd_nxt, ACK, 500, b"late"))
    (rst,) = w.sent("a")[n:]
    assert rst.tcp.flags & RST and rst.tcp.seq == c.snd_nxt
    assert c.sk_state == TCP_CLOSE and w.a.mib.tcpext.TCPAbortOnData == 1
    assert w.a.drop_counts == {R.TCP_ABORT_ON_DATA: 1}


def test_fin_wait2_socket_in_time_wait_gets_peer_fin() -> None:
    w = Wire()
    c, s, _ = pair(w)
    proto.tcp_close(c)
    w.run(100 * MS)
    proto.tcp_close(s)  # its FIN meets the FIN_WAIT2 mini socket
    w.run(10 * MS)
    tws = _tw(w, "a")
    assert len(tws) == 1 and tws[0].tw_substate == TCP_TIME_WAIT  # type: ignore[attr-defined]
    assert w.sent("a")[-1].tcp.flags == ACK
    assert s.sk_state == TCP_CLOSE


def test_close_with_unread_data_resets() -> None:
    w = Wire()
    c, s, _ = pair(w)
    proto.tcp_sendmsg(c, b"unread", 0, 0)
    w.run(10 * MS)
    proto.tcp_close(s)
    w.run(10 * MS)
    assert w.sent("b")[-1].tcp.flags == RST | ACK
    assert w.b.mib.tcpext.TCPAbortOnClose == 1 and w.b.mib.tcp.OutRsts == 1
    assert c.sk_state == TCP_CLOSE
    with pytest.raises(ConnectionResetError):
        proto.tcp_recvmsg(c, 10, 0, 0)
    with pytest.raises(BrokenPipeError):
        proto.tcp_sendmsg(c, b"x", 0, 0)


def test_linger_zero_aborts() -> None:
    w = Wire()
    c, s, _ = pair(w)
    c.sock_flags.add("SOCK_LINGER")
    c.sk_lingertime = 0
    proto.tcp_close(c)
    w.run(10 * MS)
    assert w.sent("a")[-1].tcp.flags == RST | ACK
    assert s.sk_state == TCP_CLOSE and s.sk_err == errno.ECONNRESET
    assert not _tw(w, "a")


def test_half_close() -> None:
    w = Wire()
    c, s, _ = pair(w)
    proto.tcp_sendmsg(c, b"request", 0, 0)
    proto.inet_shutdown_stream(c, 1)  # SHUT_WR
    w.run(10 * MS)
    assert proto.tcp_recvmsg(s, 100, 0, 0) == b"request"
    assert proto.tcp_recvmsg(s, 100, 0, 0) == b""
    proto.tcp_sendmsg(s, b"response", 0, 0)
    w.run(10 * MS)
    assert proto.tcp_recvmsg(c, 100, 0, 0) == b"response"
    with pytest.raises(BrokenPipeError):
        proto.tcp_sendmsg(c, b"more", 0, 0)
    assert s.sk_state == TCP_CLOSE_WAIT and c.sk_state == TCP_FIN_WAIT2
    proto.tcp_close(s)
    w.run(10 * MS)
    assert c.sk_state == TCP_CLOSE and s.sk_state == TCP_CLOSE
    _ = (A, TCP_ESTABLISHED)
