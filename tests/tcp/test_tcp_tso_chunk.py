"""PSH on TSO chunks (tcp/tso_chunk.py): Linux forces PSH on every packet of more than
one segment (__tcp_transmit_skb), and GSO leaves it on the chunk's last segment; chunks
hold tcp_tso_segs() segments and end where cwnd or the window stop. Single-segment
sends carry no forced PSH, and retransmissions do not inherit it."""

from __future__ import annotations

from _tcpwire import MS, Wire, pair

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
