"""Slow start after idle (tcp/idle.py): after more than an RTO without sending, the next
write starts from the restart window; net.ipv4.tcp_slow_start_after_idle=0 keeps cwnd."""

from __future__ import annotations

import pytest
from _tcpwire import MS, Wire, pair

from tuxnet.tcp import proto


def _grow_then_idle(w: Wire, idle_ms: int) -> int:
    c, s, _ = pair(w)
    for _ in range(6):  # slow start grows cwnd well above 10
        proto.tcp_sendmsg(c, bytes(10 * c.mss_cache), 0, 0)
        w.run(60 * MS)
        proto.tcp_recvmsg(s, 1 << 20, 0, 0)
    grown = c.snd_cwnd
    assert grown >= 20
    w.run(idle_ms * MS)
    proto.tcp_sendmsg(c, bytes(c.mss_cache), 0, 0)
    return c.snd_cwnd


@pytest.mark.parametrize(("sysctl", "restarted"), [(1, True), (0, False)])
def test_cwnd_restart_after_idle(sysctl: int, restarted: bool) -> None:
    w = Wire(delay_ns=10 * MS)
    w.a.sysctl.set("net.ipv4.tcp_slow_start_after_idle", str(sysctl))
    cwnd = _grow_then_idle(w, 3000)
    assert (cwnd == 10) is restarted
