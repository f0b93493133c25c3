"""F-RTO (tcp/frto.py, RFC 5682): a retransmission timeout caused by a delay spike,
not a loss, is recognised when the late ACKs (S)ACK data that was never retransmitted:
the cwnd reduction is undone (TCPSpuriousRTOs, TCPLossUndo) instead of going back
through slow start and retransmitting the whole window. Timestamps are off, so the
Eifel-style undo (tcp_packet_delayed) cannot be what detects it."""

from __future__ import annotations

from _tcpwire import MS, Seg, Wire, pair

from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CA_Open
from tuxnet.tcp.sock import TcpSock


def _spurious_rto(frto: int) -> tuple[Wire, TcpSock]:
    w = Wire(delay_ns=10 * MS)
    for h in (w.a, w.b):
        h.sysctl.set("net.ipv4.tcp_timestamps", 0)
        h.sysctl.set("net.ipv4.tcp_frto", frto)
    c, _s, _ = pair(w)
    t0 = w.now()
    held: list[Seg] = []

    def spike(seg: Seg) -> bool:  # the return path stalls for 600 ms
        if seg.src == "b" and seg.t - t0 < 600 * MS:
            held.append(seg)
            return True
        return False

    w.drop = spike
    mss = c.mss_cache
    proto.tcp_sendmsg(c, bytes(30 * mss), 0x40, 0)
    w.run(600 * MS)
    assert w.a.mib.tcpext.TCPTimeouts >= 1  # the RTO fired during the spike
    w.drop = None
    for seg in held:  # the late ACKs arrive
        w.inject(w.a, seg.data)
        w.run(1 * MS)
    w.run(300 * MS)
    assert c.snd_una == c.write_seq
    return w, c


def test_spurious_rto_is_undone() -> None:
    w, c = _spurious_rto(2)
    mib = w.a.mib.tcpext
    assert mib.TCPSpuriousRTOs == 1 and mib.TCPLossUndo >= 1
    assert c.icsk_ca_state == TCP_CA_Open
    # only the head went twice: after the first late ACK new data went out (step 2.b)
    assert w.a.mib.tcp.RetransSegs == mib.TCPTimeouts


def test_without_frto_the_window_is_retransmitted() -> None:
    w, _c = _spurious_rto(0)
    mib = w.a.mib.tcpext
    assert mib.TCPSpuriousRTOs == 0
    assert w.a.mib.tcp.RetransSegs > mib.TCPTimeouts + 2  # slow start over old data
