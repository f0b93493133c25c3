"""The runner's live clock (packetdrill/runner.py run_event): a relative event is
anchored at the live time the previous one completed (run.c
adjust_relative_event_times: now_usecs()), an outbound packet completing when it is
read, and each system call takes ``syscall_usecs`` of live time. A packet sent by the
first of four ``+0`` calls and ACKed ``+.001`` after its ``>`` line has an RTT a little
above 1 ms, as on a real host."""

from __future__ import annotations

from tuxnet.packetdrill.runner import run_text

_SCRIPT = """
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1000>
+0 > S. 0:0(0) ack 1 <mss 1460>
+.01 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 1000) = 1000
+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 > P. 1:1001(1000) ack 1
+.001 < . 1:1(0) ack 1001 win 65535
+0 %{ assert tcpi_min_rtt == 1000 + EXTRA, (tcpi_min_rtt, EXTRA) }%
"""


def test_syscalls_take_live_time() -> None:
    r = run_text(_SCRIPT.replace("EXTRA", "4 * 5"), "timing.pkt")  # write + 3 calls
    assert r.passed, r.message
    r = run_text(_SCRIPT.replace("EXTRA", "0"), "timing.pkt", {"syscall_usecs": "0"})
    assert r.passed, r.message
