"""The tcp_congestion_ops registry and Reno: CUBIC is the default, an unregistered default
falls back to Reno, a new algorithm plugs in through the kernel's hooks, slow start from
IW10."""

from __future__ import annotations

from typing import Any

import pytest
from _tcpwire import MS, SEC, B, Wire, listener, pair

from tuxnet.tcp import proto
from tuxnet.tcp.cong import (
    RateSample,
    TcpCongestionOps,
    tcp_ca_find,
    tcp_get_available_congestion_control,
    tcp_register_congestion_control,
    tcp_unregister_congestion_control,
)
from tuxnet.tcp.cong.reno import tcp_cong_avoid_ai, tcp_slow_start
from tuxnet.tcp.defs import TCP_CONGESTION
from tuxnet.tcp.sock import TcpSock


def test_default_is_cubic_and_falls_back_to_reno() -> None:
    w = Wire()
    assert w.a.sysctl.get("net.ipv4.tcp_congestion_control") == "cubic"
    c, _s, _ = pair(w)
    assert c.icsk_ca_ops is not None and c.icsk_ca_ops.name == "cubic"
    assert tcp_get_available_congestion_control().split() == ["reno", "bbr", "cubic"]
    assert proto.tcp_getsockopt(c, TCP_CONGESTION) == "cubic"
    with pytest.raises(FileNotFoundError):
        proto.tcp_setsockopt(c, TCP_CONGESTION, "nosuch")
    # a default the registry does not know (a test algorithm unregistered since):
    # tcp_assign_congestion_control falls back to Reno
    probe = Probe()
    tcp_register_congestion_control(probe)
    try:
        w.a.sysctl.kernel_set("net.ipv4.tcp_congestion_control", "probe")
    finally:
        tcp_unregister_congestion_control(probe)
    c2, _s2, _ = pair(w, port=8081)
    assert c2.icsk_ca_ops is not None and c2.icsk_ca_ops.name == "reno"


def test_slow_start_from_iw10() -> None:
    w = Wire(delay_ns=10 * MS)
    c, _s, _ = pair(w)
    assert c.snd_cwnd == 10 and c.snd_ssthresh == 0x7FFFFFFF
    proto.tcp_sendmsg(c, bytes(10 * 1448), 0, 0)
    w.run(100 * MS)
    assert c.snd_cwnd == 20  # +1 per packet acked (tcp_slow_start)


def test_reno_helpers() -> None:
    w = Wire()
    sk = proto.tcp_v4_init_sock(w.a)
    sk.snd_cwnd, sk.snd_ssthresh = 10, 14
    assert tcp_slow_start(sk, 6) == 2 and sk.snd_cwnd == 14
    sk.snd_cwnd_cnt = 0
    tcp_cong_avoid_ai(sk, 14, 13)
    assert sk.snd_cwnd == 14 and sk.snd_cwnd_cnt == 13
    tcp_cong_avoid_ai(sk, 14, 1)
    assert sk.snd_cwnd == 15 and sk.snd_cwnd_cnt == 0
    reno = tcp_ca_find("reno")
    assert reno is not None
    sk.snd_cwnd = 3
    assert reno.ssthresh(sk) == 2
    sk.snd_cwnd, sk.prior_cwnd = 8, 20
    assert reno.undo_cwnd(sk) == 20


class Probe(TcpCongestionOps):
    """A test algorithm that records which hooks the stack calls."""

    name = "probe"

    def __init__(self, control: bool = False) -> None:
        self.calls: dict[str, int] = {}
        self.HAS_CONG_CONTROL = control

    def _hit(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def init(self, sk: TcpSock) -> None:
        self._hit("init")
        sk.icsk_ca_priv = {"acks": 0}

    def ssthresh(self, sk: TcpSock) -> int:
        self._hit("ssthresh")
        return max(sk.snd_cwnd * 7 // 10, 2)

    def cong_avoid(self, sk: TcpSock, ack: int, acked: int) -> None:
        self._hit("cong_avoid")
        sk.icsk_ca_priv["acks"] += acked
        sk.snd_cwnd += 1

    def cong_control(self, sk: TcpSock, ack: int, flag: int, rs: RateSample) -> None:
        self._hit("cong_control")

    def set_state(self, sk: TcpSock, new_state: int) -> None:
        self._hit("set_state")

    def cwnd_event(self, sk: TcpSock, ev: int) -> None:
        self._hit(f"cwnd_event{ev}")

    def in_ack_event(self, sk: TcpSock, flags: int) -> None:
        self._hit("in_ack_event")

    def pkts_acked(self, sk: TcpSock, sample: Any) -> None:
        self._hit("pkts_acked")

    def undo_cwnd(self, sk: TcpSock) -> int:
        self._hit("undo_cwnd")
        return sk.snd_cwnd


@pytest.mark.parametrize("control", [False, True])
def test_a_new_algorithm_plugs_in(control: bool) -> None:
    probe = Probe(control)
    tcp_register_congestion_control(probe)
    try:
        with pytest.raises(FileExistsError):
            tcp_register_congestion_control(Probe())
        w = Wire(delay_ns=5 * MS)
        lst = listener(w.b)
        c = proto.tcp_v4_init_sock(w.a)
        with pytest.raises(PermissionError):  # not in tcp_allowed_congestion_control
            proto.tcp_setsockopt(c, TCP_CONGESTION, "probe")
        c.cap_net_admin = True  # CAP_NET_ADMIN may pick any registered algorithm
        proto.tcp_setsockopt(c, TCP_CONGESTION, "probe")
        with pytest.raises(BlockingIOError):
            proto.inet_stream_connect(c, B, 8080, 0)
        proto.inet_csk_accept(lst, SEC)
        assert c.icsk_ca_ops is probe and probe.calls["init"] == 1
        count = [0]

        def lose_third(seg: Any) -> bool:
            if seg.src == "a" and seg.payload_len:
                count[0] += 1
                return count[0] == 3
            return False

        w.drop = lose_third
        proto.tcp_sendmsg(c, bytes(30 * 1448), 0, 0)
        w.run(2 * SEC)
        calls = probe.calls
        assert calls["pkts_acked"] > 0 and calls["in_ack_event"] > 0
        assert calls["cwnd_event0"] >= 1  # CA_EVENT_TX_START
        assert calls["ssthresh"] == 1 and calls["set_state"] >= 2
        if control:
            assert calls["cong_control"] > 0 and "cong_avoid" not in calls
        else:
            assert calls["cong_avoid"] > 0 and c.icsk_ca_priv["acks"] > 0
    finally:
        tcp_unregister_congestion_control(probe)
    assert tcp_ca_find("probe") is None
