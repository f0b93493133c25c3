"""Loss recovery: SACK + RACK fast retransmit with PRR down to Reno's ssthresh, NewReno
on three duplicate ACKs, D-SACK both ways."""

from __future__ import annotations

from _tcpwire import MS, SEC, Seg, Wire, pair

from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CA_Open, TCP_CA_Recovery


def _lose_nth_data(n: int) -> object:
    count = [0]

    def drop(seg: Seg) -> bool:
        if seg.src == "a" and seg.payload_len:
            count[0] += 1
            return count[0] == n
        return False
    return drop


def _run_loss(sack: bool) -> tuple[Wire, object, object, list[int]]:
    w = Wire(delay_ns=10 * MS, rate_bps=100_000_000)
    w.a.sysctl.set("net.ipv4.tcp_congestion_control", "reno")  # the ssthresh checked below
    if not sack:
        w.a.sysctl.set("net.ipv4.tcp_sack", 0)
    c, s, _ = pair(w)
    states: list[int] = []
    w.a.tracepoints.subscribe("tcp:tcp_cong_state_set",
                              lambda ev: states.append(ev.fields["cong_state"]))
    w.drop = _lose_nth_data(5)  # type: ignore[assignment]
    proto.tcp_sendmsg(c, bytes(20 * 1448), 0, 0)
    w.run(2 * SEC)
    assert proto.tcp_recvmsg(s, 1 << 20, 0, 0) == bytes(20 * 1448)
    return w, c, s, states


def test_sack_fast_retransmit_with_prr() -> None:
    w, c, _s, states = _run_loss(sack=True)
    mib = w.a.mib
    assert mib.tcpext.TCPSackRecovery == 1 and mib.tcpext.TCPFastRetrans == 1
    assert mib.tcpext.TCPTimeouts == 0 and mib.tcp.RetransSegs == 1
    assert TCP_CA_Recovery in states and states[-1] == TCP_CA_Open
    assert c.icsk_ca_state == TCP_CA_Open  # type: ignore[attr-defined]
    # Reno: ssthresh = cwnd / 2 at the loss; PRR brings cwnd down to it
    assert c.snd_ssthresh == max(c.prior_cwnd >> 1, 2)  # type: ignore[attr-defined]
    assert c.snd_cwnd >= c.snd_ssthresh  # type: ignore[attr-defined]
    assert w.b.mib.tcpext.TCPOFOQueue >= 3
    # the retransmission left within about one RTT of the loss
    sends = [x for x in w.sent("a") if x.payload_len]
    lost = sends[4]
    rtx = next(x for x in sends[5:] if x.data[4:8] == lost.data[4:8])
    assert rtx.t - lost.t < 40 * MS


def test_newreno_three_dupacks() -> None:
    w, _c, _s, states = _run_loss(sack=False)
    mib = w.a.mib
    assert mib.tcpext.TCPRenoRecovery == 1 and mib.tcpext.TCPSackRecovery == 0
    assert mib.tcpext.TCPFastRetrans == 1 and mib.tcpext.TCPTimeouts == 0
    assert TCP_CA_Recovery in states
    # no SACK blocks were ever sent
    assert all(not x.tcp.options.sack_blocks for x in w.sent("b"))


def test_dsack_for_a_duplicate() -> None:
    w = Wire(delay_ns=10 * MS)
    c, s, _ = pair(w)
    seen = [0]

    def dup_third(seg: Seg) -> bool:
        if seg.src == "a" and seg.payload_len:
            seen[0] += 1
            if seen[0] == 3:
                w.loop.call_later(15 * MS, w.deliver, w.b, seg.saddr, seg.daddr, seg.data)
        return False

    w.drop = dup_third  # type: ignore[assignment]
    proto.tcp_sendmsg(c, bytes(5 * 1448), 0, 0)
    w.run(1 * SEC)
    assert proto.tcp_recvmsg(s, 1 << 20, 0, 0) == bytes(5 * 1448)
    assert w.b.mib.tcpext.TCPDSACKOldSent == 1
    assert w.a.mib.tcpext.TCPDSACKRecv == 1
    sacks = [x.tcp for x in w.sent("b") if x.tcp.options.sack_blocks]
    # one ACK carries the D-SACK block, below its cumulative ACK (RFC 2883 4)
    assert len(sacks) == 1
    (start, end), = sacks[0].options.sack_blocks
    assert end - start == 1448 and end <= sacks[0].ack_seq


def test_retransmit_tracepoint() -> None:
    w = Wire(delay_ns=10 * MS, rate_bps=100_000_000)
    c, _s, _ = pair(w)
    events: list[dict[str, object]] = []
    w.a.tracepoints.subscribe("tcp:tcp_retransmit_skb", lambda ev: events.append(ev.fields))
    probes: list[int] = []
    w.b.tracepoints.subscribe("tcp:tcp_probe", lambda ev: probes.append(ev.fields["data_len"]))
    w.drop = _lose_nth_data(3)  # type: ignore[assignment]
    proto.tcp_sendmsg(c, bytes(10 * 1448), 0, 0)
    w.run(2 * SEC)
    assert len(events) == w.a.mib.tcp.RetransSegs == 1
    assert events[0]["sport"] == c.inet_sport and events[0]["state"] == 1
    assert probes.count(1448) == 10  # tcp_probe: one per segment received
