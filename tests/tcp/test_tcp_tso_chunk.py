"""PSH on TSO chunks (tcp/tso_chunk.py): Linux forces PSH on every packet of more than
one segment (__tcp_transmit_skb), and GSO leaves it on the chunk's last segment; chunks
hold tcp_tso_segs() segments and end where cwnd or the window stop. Single-segment
sends carry no forced PSH, and retransmissions do not inherit it."""

from __future__ import annotations

from _tcpwire import MS, Seg, Wire, pair

from tuxnet.tcp import proto
from tuxnet.tcp.tso_chunk import gso_size_goal, tcp_tso_segs

PSH = 0x08


def test_size_goal_and_tso_segs() -> None:
    w = Wire(delay_ns=50 * MS)
    c, _s, _ = pair(w)
    mss = c.mss_cache
    goal = gso_size_goal(c, mss)
    assert goal % mss == 0 and mss <= goal <= 65536
    # ~1 ms of the pacing rate is far below two segments at this RTT: tcp_min_tso_segs
    assert tcp_tso_segs(c, mss) == c.net.sysctl("tcp_min_tso_segs") == 2


def test_cwnd_limited_burst_has_psh_per_chunk() -> None:
    w = Wire(delay_ns=50 * MS)
    c, _s, _ = pair(w)
    t0 = w.now()
    mss = c.mss_cache
    proto.tcp_sendmsg(c, bytes(15 * mss), 0, 0)  # IW10: ten go, five wait
    w.run(1 * MS)
    segs = [x for x in w.sent("a") if x.t >= t0 and x.payload_len]
    assert len(segs) == 10
    # chunks of two segments: the second of each carries PSH
    assert [bool(x.flags & PSH) for x in segs] == [False, True] * 5
    assert all(not proto.tcp_cb(skb).tcp_flags & PSH for skb in c.tcp_rtx_queue)


def test_retransmission_resends_linux_skbs_as_chunks() -> None:
    """Sent chunks stay skbs of their own in Linux's retransmit queue; SACK tagging cuts
    them further. A lost two-segment chunk is resent as one GSO packet (PSH forced on
    it), the lost half of a SACK-split chunk alone (no PSH): tcp_xmit_retransmit_queue
    with segs = min(cwnd - in_flight, tcp_tso_segs)."""
    w = Wire(delay_ns=10 * MS)
    c, _s, _ = pair(w)
    mss = c.mss_cache
    isn = c.snd_nxt
    t0 = w.now()
    first_try = {2, 3, 5}  # chunks [0,1] [2,3] [4,5] [6,7] [8,9]: one whole, one half

    def drop(seg: Seg) -> bool:
        if seg.src == "b":  # one ACK SACKs the whole flight (as a stretch ACK would)
            return seg.t - t0 < 15 * MS and \
                ((isn + 10 * mss) & 0xFFFFFFFF).to_bytes(4, "big") not in seg.options
        i = (seg.tcp.seq - isn) // mss
        if seg.payload_len and i in first_try:
            first_try.discard(i)
            return True
        return False

    w.drop = drop
    proto.tcp_sendmsg(c, bytes(10 * mss), 0, 0)
    w.run(100 * MS)
    rtx = [((x.tcp.seq - isn) // mss, bool(x.flags & PSH)) for x in w.sent("a")
           if x.t >= t0 + 15 * MS and x.payload_len]
    assert rtx == [(2, False), (3, True), (5, False)]
    assert c.host.mib.tcpext.TCPFastRetrans == 3 and c.host.mib.tcp.RetransSegs == 3
