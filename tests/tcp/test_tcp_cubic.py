"""CUBIC (tcp_cubic.c): the fixed-point arithmetic against values worked out by hand
the kernel's way, HyStart's two exits, the module parameters, and CUBIC as the
default on a real transfer."""

from __future__ import annotations

import contextlib
import errno

import pytest
from _tcpwire import MS, Wire, pair

from tuxnet.tcp import proto
from tuxnet.tcp.cong.cubic import (
    BicTcp,
    _cubictcp_register,
    bictcp_hystart_reset,
    bictcp_update,
    cubic_root,
    hystart_update,
)
from tuxnet.tcp.cong.modparams import ModParams, module_params
from tuxnet.tcp.sock import TcpSock
from tuxnet.tools import procfs


def _mp(**kw: int) -> ModParams:
    values = {"fast_convergence": 1, "beta": 717, "initial_ssthresh": 0, "bic_scale": 41,
              "tcp_friendliness": 1, "hystart": 1, "hystart_detect": 3,
              "hystart_low_window": 16, "hystart_ack_delta_us": 2000}
    values.update(kw)
    mp = ModParams("tcp_cubic", values)
    _cubictcp_register(mp)
    return mp


def test_load_time_constants() -> None:
    mp = _mp()
    # beta_scale = 8 * (1024 + 717) / 3 / (1024 - 717) = 13928 / 3 / 307 = 4642 / 307 = 15
    # cube_rtt_scale = 41 * 10; cube_factor = 2^40 / 410 = 2681735677 (truncated)
    assert mp.consts == {"beta_scale": 15, "cube_rtt_scale": 410, "cube_factor": 2681735677}


def test_cubic_root_by_hand() -> None:
    # a < 64: (v[a] + 35) >> 6; v[27] = 190 -> 225 >> 6 = 3
    assert cubic_root(27) == 3 and cubic_root(0) == 0
    # a = 64: fls 7, b = (7 * 84 >> 8) - 1 = 1, shift = 64 >> 3 = 8, v[8] = 123,
    # x = (133 << 1) >> 6 = 4; Newton: 2*4 + 64 // (4*3) = 13; 13 * 341 >> 10 = 4
    assert cubic_root(64) == 4
    # K for W_max - cwnd = 30: a = 2681735677 * 30 = 80452070310, fls 37, b = 11,
    # shift = a >> 33 = 9, v[9] = 129, x = (139 << 11) >> 6 = 4448,
    # 2 * 4448 + a // (4448 * 4447) = 8896 + 4067 = 12963, 12963 * 341 >> 10 = 4316
    assert cubic_root(2681735677 * 30) == 4316  # 4.215 s in 1/1024 s (exact: 4.217)
    # within Linux's stated 0.195 % average error of the true cube root elsewhere
    for n in (1000, 123456, 10**9, 10**15):
        assert abs(cubic_root(n) - n ** (1 / 3)) <= 0.01 * n ** (1 / 3) + 1


def test_bictcp_update_after_a_loss() -> None:
    ca = BicTcp(_mp())
    ca.last_max_cwnd, ca.delay_min = 100, 100_000  # W_max 100, min RTT 100 ms
    bictcp_update(ca, 70, 1, 10_000)
    # epoch starts: K = 4316, origin 100; t = (0 + 100 jiffies) << 10 / 1000 = 102;
    # offs = 4214; 410 * 4214^3 >> 40 = 30680854461040 >> 40 = 27; target 73;
    # cnt = 70 / (73 - 70) = 23
    assert (ca.epoch_start, ca.bic_K, ca.bic_origin_point, ca.cnt) == (10_000, 4316, 100, 23)
    assert ca.tcp_cwnd == 70 and ca.ack_cnt == 1
    bictcp_update(ca, 70, 1, 14_000)
    # 4 s later: t = 4100 << 10 / 1000 = 4198, offs = 118, 410 * 118^3 >> 40 = 0:
    # target = W_max = 100, cnt = 70 / 30 = 2 (the floor: +1 per 2 ACKed)
    assert ca.cnt == 2


def test_bictcp_update_first_epoch_grows_five_percent() -> None:
    ca = BicTcp(_mp())
    ca.delay_min = 100_000
    bictcp_update(ca, 50, 1, 10_000)
    # no W_max yet: K = 0, origin = cwnd, target = cwnd -> cnt = 100 * cwnd, capped at 20
    assert ca.bic_K == 0 and ca.bic_origin_point == 50 and ca.cnt == 20


def test_tcp_friendliness_caps_cnt() -> None:
    ca = BicTcp(_mp())
    ca.epoch_start = ca.last_time = 10_000  # same jiffy: only the Reno estimate runs
    ca.last_cwnd, ca.cnt, ca.tcp_cwnd, ca.ack_cnt = 19, 50, 20, 99
    bictcp_update(ca, 20, 1, 10_000)
    # delta = 20 * 15 >> 3 = 37 ACKs per Reno packet: 100 ACKs -> tcp_cwnd + 2, 26 left;
    # Reno (22) is ahead of cwnd (20): cnt = min(50, 20 / 2) = 10
    assert (ca.tcp_cwnd, ca.ack_cnt, ca.cnt) == (22, 26, 10)
    ca2 = BicTcp(_mp(tcp_friendliness=0))
    ca2.epoch_start = ca2.last_time = 10_000
    ca2.last_cwnd, ca2.cnt, ca2.tcp_cwnd, ca2.ack_cnt = 19, 50, 20, 99
    bictcp_update(ca2, 20, 1, 10_000)
    assert ca2.cnt == 50


def _sock(w: Wire) -> TcpSock:
    c, _s, _ = pair(w)
    return c


def test_ssthresh_beta_and_fast_convergence() -> None:
    w = Wire()
    c = _sock(w)
    assert c.icsk_ca_ops is not None and c.icsk_ca_ops.name == "cubic"
    ops, ca = c.icsk_ca_ops, c.icsk_ca_priv
    c.snd_cwnd = 100
    assert ops.ssthresh(c) == 70  # 100 * 717 / 1024
    assert ca.last_max_cwnd == 100 and ca.epoch_start == 0
    c.snd_cwnd = 80  # below W_max: fast convergence, W_max = 80 * 1741 / 2048 = 68
    assert ops.ssthresh(c) == 56 and ca.last_max_cwnd == 68
    c.snd_cwnd = 2
    assert ops.ssthresh(c) == 2  # at least 2
    c.snd_cwnd, c.prior_cwnd = 30, 50
    assert ops.undo_cwnd(c) == 50  # tcp_reno_undo_cwnd
    ops.set_state(c, 4)  # TCP_CA_Loss resets everything
    assert ca.last_max_cwnd == 0 and ca.found == 0


def test_module_parameters_as_files() -> None:
    w = Wire()
    base = "/sys/module/tcp_cubic/parameters/"
    assert procfs.read_proc(w.a, base + "beta") == "717\n"
    assert procfs.read_proc(w.a, base + "hystart_ack_delta_us") == "2000\n"
    assert procfs.read_proc(w.a, base + "hystart_detect") == "3\n"
    with pytest.raises(PermissionError):
        procfs.write_file(w.a, base + "bic_scale", "42")  # 0444
    with pytest.raises(OSError) as ei:
        procfs.write_file(w.a, base + "beta", "lots")
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(procfs.ProcError):
        procfs.read_proc(w.a, base + "nosuch")
    procfs.write_file(w.a, base + "beta", "512")
    assert procfs.read_proc(w.a, base + "beta") == "512\n"
    assert procfs.read_proc(w.b, base + "beta") == "717\n"  # per host (kernel)
    c = _sock(w)
    c.snd_cwnd = 100
    assert c.icsk_ca_ops is not None and c.icsk_ca_ops.ssthresh(c) == 50
    # beta_scale was computed when the module loaded and does not follow
    assert module_params(w.a, "tcp_cubic").consts["beta_scale"] == 15


class _FakeSk:
    """What hystart_update reads of a socket."""

    def __init__(self, w: Wire) -> None:
        self.host = w.a
        self.snd_una = 1000
        self.snd_nxt = 50_000
        self.snd_cwnd = 32
        self.snd_ssthresh = 0x7FFFFFFF
        self.tcp_mstamp = 5_000_000
        self.sk_pacing_rate = 0
        self.sk_pacing_status = 0


def test_hystart_ack_train() -> None:
    w = Wire()
    sk = _FakeSk(w)
    ca = BicTcp(_mp(hystart_detect=1))
    bictcp_hystart_reset(sk, ca)  # type: ignore[arg-type]
    ca.delay_min = 20_000  # the train must last delay_min / 2 = 10 ms (unpaced)
    for _ in range(10):
        sk.tcp_mstamp += 1000  # ACKs 1 ms apart: a train
        hystart_update(sk, ca, 20_000)  # type: ignore[arg-type]
    assert not ca.found
    sk.tcp_mstamp += 1000
    hystart_update(sk, ca, 20_000)  # type: ignore[arg-type]
    assert ca.found and sk.snd_ssthresh == 32
    mib = w.a.mib.tcpext
    assert mib.TCPHystartTrainDetect == 1 and mib.TCPHystartTrainCwnd == 32
    # a gap over hystart_ack_delta_us breaks the train
    sk2 = _FakeSk(w)
    ca2 = BicTcp(_mp(hystart_detect=1))
    bictcp_hystart_reset(sk2, ca2)  # type: ignore[arg-type]
    ca2.delay_min = 20_000
    for _ in range(20):
        sk2.tcp_mstamp += 3000
        hystart_update(sk2, ca2, 20_000)  # type: ignore[arg-type]
    assert not ca2.found
    # below hystart_low_window nothing is checked
    sk3 = _FakeSk(w)
    sk3.snd_cwnd = 15
    ca3 = BicTcp(_mp(hystart_detect=1))
    bictcp_hystart_reset(sk3, ca3)  # type: ignore[arg-type]
    ca3.delay_min = 2000
    for _ in range(20):
        sk3.tcp_mstamp += 1000
        hystart_update(sk3, ca3, 2000)  # type: ignore[arg-type]
    assert not ca3.found


def test_hystart_delay_increase() -> None:
    w = Wire()
    # the threshold is delay_min + clamp(delay_min / 8, 4 ms, 16 ms) = 20 + 4 ms
    for rtt, found in ((23_900, False), (24_100, True)):
        sk = _FakeSk(w)
        ca = BicTcp(_mp(hystart_detect=2))
        bictcp_hystart_reset(sk, ca)  # type: ignore[arg-type]
        ca.delay_min = 20_000
        for i in range(9):
            hystart_update(sk, ca, rtt)  # type: ignore[arg-type]
            if i < 8:
                assert not ca.found  # the first 8 samples only set the round's min
        assert bool(ca.found) is found
    assert w.a.mib.tcpext.TCPHystartDelayDetect == 1


def test_slow_start_ends_by_hystart_before_any_loss() -> None:
    # 20 Mbit/s, 40 ms RTT, an unbounded queue: Reno would slow-start until the
    # receive window; CUBIC's HyStart sees the ACK train / RTT grow and leaves
    w = Wire(delay_ns=20 * MS, rate_bps=20_000_000)
    for h in (w.a, w.b):
        h.sysctl.set("net.ipv4.tcp_rmem", "4096 4194304 4194304")
        h.sysctl.set("net.ipv4.tcp_wmem", "4096 4194304 4194304")
    c, s, _ = pair(w)
    got = 0
    for _ in range(300):
        with contextlib.suppress(BlockingIOError):
            proto.tcp_sendmsg(c, bytes(65536), 0, 0)
        with contextlib.suppress(BlockingIOError):
            got += len(proto.tcp_recvmsg(s, 1 << 22, 0, 0))
        w.run(5 * MS)
    mib = w.a.mib.tcpext
    assert mib.TCPHystartTrainDetect + mib.TCPHystartDelayDetect == 1
    assert c.snd_ssthresh < 0x7FFFFFFF and w.a.mib.tcp.RetransSegs == 0
    # exit near the BDP (20 Mbit/s * 40 ms = 69 packets), well before the 4 MB window
    assert 16 <= c.snd_ssthresh <= 300
    assert got > 1_000_000
