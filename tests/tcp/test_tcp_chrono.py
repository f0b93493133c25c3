"""tcp_chrono (tcp/chrono.py): tcpi_busy_time runs while data is queued or in flight
and stops when everything is acknowledged."""

from __future__ import annotations

from _tcpwire import MS, Wire, pair

from tuxnet.tcp import proto
from tuxnet.tcp.sockopt import tcp_get_info


def test_busy_time_covers_data_in_flight() -> None:
    w = Wire(delay_ns=50 * MS)
    c, s, _ = pair(w)
    assert tcp_get_info(c)["tcpi_busy_time"] == 0
    proto.tcp_sendmsg(c, bytes(1000), 0, 0)
    w.run(30 * MS)
    assert 29_000 <= tcp_get_info(c)["tcpi_busy_time"] <= 31_000
    w.run(200 * MS)  # the ACK came back after one RTT (100 ms)
    info = tcp_get_info(c)
    assert 99_000 <= info["tcpi_busy_time"] <= 102_000
    assert info["tcpi_rwnd_limited"] == 0 and info["tcpi_sndbuf_limited"] == 0
    assert len(proto.tcp_recvmsg(s, 4096, 0, 0)) == 1000
