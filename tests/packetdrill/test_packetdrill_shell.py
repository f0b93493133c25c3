"""The packetdrill shell emulation (packetdrill/shell.py): system()'s exit status (the
last command's; ``&&`` short-circuits), ``ip route`` and ``tc qdisc`` run by tuxnet's
own tools on the script's host, and a qdisc that drops everything seen by TCP as local
congestion (NET_XMIT_DROP: tcp_enter_cwr, resource probes every 500 ms)."""

from __future__ import annotations

import pytest

from tuxnet.ipv4.devinet import inet_state
from tuxnet.ipv4.route import ip_route_output_key
from tuxnet.packetdrill.runner import run_text
from tuxnet.packetdrill.shell import ShellError, ShellUnsupported, run_shell
from tuxnet.packetdrill.tun import make_host
from tuxnet.wire.addr import ip_int


def test_exit_status_is_the_last_commands() -> None:
    host, _tun = make_host("192.168.0.1", "192.0.2.1", gateway_ip="192.168.0.1")
    run_shell(host, "tc qdisc delete dev tun0 root ; sysctl -q net.ipv4.tcp_ecn=1", ".", {})
    assert host.sysctl.get_int("net.ipv4.tcp_ecn") == 1
    with pytest.raises(ShellError):
        run_shell(host, "sysctl -q net.ipv4.tcp_ecn=0 ; tc qdisc delete dev tun0 root", ".", {})
    with pytest.raises(ShellError):  # && stops at the failure
        run_shell(host, "tc qdisc delete dev tun0 root && sysctl -q net.ipv4.tcp_ecn=1",
                  ".", {})
    assert host.sysctl.get_int("net.ipv4.tcp_ecn") == 0
    with pytest.raises(ShellUnsupported):
        run_shell(host, "true ; sysctl -q net.ipv4.tcp_ecn=1", ".", {})


def test_ip_route_change_sets_route_metrics() -> None:
    host, _tun = make_host("192.168.0.1", "192.0.2.1", gateway_ip="192.168.0.1")
    run_shell(host, "ip route change 192.0.2.1 via 192.168.0.2 dev tun0 advmss 600 "
              "mtu lock 640 initcwnd 11", ".", {})
    rt = ip_route_output_key(inet_state(host), ip_int("192.0.2.1"), 0, 0, 0)
    assert rt.metric(8) == 600 and rt.metric(2) == 640 and rt.metric(11) == 11
    assert rt.metric_locked(2) and rt.gw == ip_int("192.168.0.2")
    with pytest.raises(ShellError):  # no such route to change: ENOENT
        run_shell(host, "ip route change 192.0.2.9 dev tun0 mtu 1000", ".", {})


_BLACKHOLE = """
`tc qdisc replace dev tun0 root pfifo`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460>
+0 > S. 0:0(0) ack 1 <mss 1460>
+.1 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
+0 `tc qdisc replace dev tun0 root pfifo limit 0`
+0 write(4, ..., 100) = 100
+2 %{ assert tcpi_ca_state == TCP_CA_CWR, tcpi_ca_state }%
+0 %{ assert tcpi_probes >= 3 and tcpi_backoff == 0, (tcpi_probes, tcpi_backoff) }%
+0 `tc qdisc delete dev tun0 root; tc qdisc add dev tun0 root pfifo`
+0~+.5 > P. 1:101(100) ack 1
"""


def test_a_dropping_qdisc_is_local_congestion() -> None:
    r = run_text(_BLACKHOLE, "blackhole.pkt")
    assert r.passed, r.message
