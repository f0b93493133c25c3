"""Choosing the congestion control: the sysctls, TCP_CONGESTION with Linux's errnos, a
route's congctl (and its lock). (The response to deterministic loss is in
test_tcp_cc_response.py.)"""

from __future__ import annotations

import errno

import pytest
from _tcpwire import Wire, pair

from tuxnet.sysctl import SysctlError
from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CONGESTION
from tuxnet.tcp.netns import TcpDst


def test_sysctls() -> None:
    w = Wire()
    sc = w.a.sysctl
    assert sc.get("net.ipv4.tcp_available_congestion_control") == "reno bbr cubic"
    assert sc.get("net.ipv4.tcp_allowed_congestion_control") == "reno cubic"
    with pytest.raises(SysctlError) as ei:
        sc.set("net.ipv4.tcp_congestion_control", "vegas")
    assert ei.value.errno == errno.ENOENT
    sc.set("net.ipv4.tcp_congestion_control", "bbr")
    # the new default becomes allowed (tcp_set_default_congestion_control)
    assert sc.get("net.ipv4.tcp_allowed_congestion_control") == "reno bbr cubic"
    c, _s, _ = pair(w)
    assert c.icsk_ca_ops is not None and c.icsk_ca_ops.name == "bbr"


def test_tcp_congestion_errnos() -> None:
    w = Wire()
    c, _s, _ = pair(w)
    with pytest.raises(OSError) as ei:
        proto.tcp_setsockopt(c, TCP_CONGESTION, "vegas")
    assert ei.value.errno == errno.ENOENT
    proto.tcp_setsockopt(c, TCP_CONGESTION, "reno")  # allowed
    assert proto.tcp_getsockopt(c, TCP_CONGESTION) == "reno"
    proto.tcp_setsockopt(c, TCP_CONGESTION, "bbr")  # TCP_CONG_NON_RESTRICTED
    assert c.icsk_ca_ops is not None and c.icsk_ca_ops.name == "bbr"
    assert c.icsk_ca_priv.mode == 0  # re-initialised in STARTUP
    w.a.sysctl.set("net.ipv4.tcp_allowed_congestion_control", "reno")
    with pytest.raises(OSError) as ei:
        proto.tcp_setsockopt(c, TCP_CONGESTION, "cubic")
    assert ei.value.errno == errno.EPERM
    c.cap_net_admin = True
    proto.tcp_setsockopt(c, TCP_CONGESTION, "cubic")
    assert proto.tcp_getsockopt(c, TCP_CONGESTION) == "cubic"


@pytest.mark.parametrize("locked", [False, True])
def test_route_congctl(locked: bool) -> None:
    w = Wire()
    route = w._route

    class _Rt:
        congctl_locked = locked

    def with_congctl(*a: object) -> TcpDst:
        dst = route(*a)  # type: ignore[arg-type]
        dst.congctl = "bbr"
        dst.rt = _Rt()
        return dst

    w.a.sysctl.set("net.ipv4.tcp_congestion_control", "reno")
    from tuxnet.tcp.netns import tcp_net

    tcp_net(w.a).route_output = with_congctl  # type: ignore[assignment]
    c, _s, _ = pair(w)
    assert c.icsk_ca_ops is not None and c.icsk_ca_ops.name == "bbr"
    assert c.icsk_ca_dst_locked is locked
    if locked:
        with pytest.raises(OSError) as ei:
            proto.tcp_setsockopt(c, TCP_CONGESTION, "reno")
        assert ei.value.errno == errno.EPERM
    else:
        proto.tcp_setsockopt(c, TCP_CONGESTION, "reno")
