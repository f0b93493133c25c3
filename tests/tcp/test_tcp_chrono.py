"""The send chronographs behind tcpi_busy_time / tcpi_rwnd_limited /
tcpi_sndbuf_limited (tcp_chrono_start/stop): busy while data is queued or in flight,
rwnd-limited while the peer's window holds the sender back."""

from __future__ import annotations

import contextlib

from _tcpwire import MS, SEC, Wire, pair

from tuxnet.tcp import proto


def test_idle_connection_was_never_busy() -> None:
    w = Wire()
    c, _s, _ = pair(w)
    w.run(1 * SEC)
    assert proto.tcp_get_info(c)["tcpi_busy_time"] == 0


def test_busy_spans_the_transfer_and_stops_when_all_is_acked() -> None:
    w = Wire(delay_ns=5 * MS, rate_bps=10_000_000)
    c, s, _ = pair(w)
    t0 = w.now()
    data = bytes(300_000)
    sent = 0
    got = 0
    while got < len(data):
        with contextlib.suppress(BlockingIOError):
            sent += proto.tcp_sendmsg(c, data[sent:sent + 65536], 0, 0)
        with contextlib.suppress(BlockingIOError):
            got += len(proto.tcp_recvmsg(s, 1 << 20, 0, 0))
        w.run(1 * MS)
    w.run(100 * MS)  # the last ACK arrives: the chrono stops
    busy = proto.tcp_get_info(c)["tcpi_busy_time"]
    elapsed_us = (w.now() - t0) // 1000
    assert 240_000 <= busy <= elapsed_us  # 300 kB at 10 Mbit/s is at least 240 ms
    w.run(1 * SEC)
    assert proto.tcp_get_info(c)["tcpi_busy_time"] == busy  # idle time does not count


def test_a_reader_that_stops_makes_the_sender_rwnd_limited() -> None:
    w = Wire(delay_ns=1 * MS, rate_bps=100_000_000)
    c, _s, _ = pair(w)
    data = bytes(400_000)
    sent = 0
    for _ in range(300):  # nobody reads on s: its window closes
        with contextlib.suppress(BlockingIOError):
            sent += proto.tcp_sendmsg(c, data[sent:sent + 65536], 0, 0)
        w.run(1 * MS)
    info = proto.tcp_get_info(c)
    assert info["tcpi_rwnd_limited"] > 200_000  # most of the 300 ms
    assert info["tcpi_busy_time"] >= info["tcpi_rwnd_limited"]
    # closed but for less than a segment (wscale 10: the window moves in 1 KiB units)
    assert (c.tcp_wnd_end() - c.snd_nxt) & 0xFFFFFFFF < c.mss_cache
