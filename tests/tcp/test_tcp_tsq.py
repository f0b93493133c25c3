"""TCP Small Queues (tcp/tsq.py): what a bulk sender keeps in the qdisc and the device
of a slow link, throttling and its release at TX completion, net.ipv4.
tcp_limit_output_bytes, and autocorking (TcpExt TCPAutoCorking)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from _tcppair import pair
from _udpnet import MS, Net

from tuxnet.socket.stream import StreamSocket
from tuxnet.tcp import output as _out
from tuxnet.tcp import proto, tsq
from tuxnet.tcp.defs import TCP_NODELAY
from tuxnet.tcp.pacing import tcp_tso_segs
from tuxnet.tcp.sock import TcpSock

_BULK = 1_500_000


def _pair(port: int = 5001) -> tuple[Net, TcpSock, TcpSock]:
    """h1 -> h2 over 10 Mbit/s, 5 ms; h1's NIC has the smallest TX ring (64) in front
    of a 1000-packet pfifo_fast, so what TCP does not hold back waits in the qdisc."""
    net, cli, srv = pair(port, rate_bps=10_000_000, delay_ns=5 * MS)
    assert isinstance(srv, StreamSocket)
    net.eth1.set_ringparam(tx=64)
    return net, cli._check(), srv._check()


def _below_tcp(net: Net) -> tuple[int, int]:
    """(qdisc backlog bytes, bytes in h1's TX ring: waiting or not yet cleaned)."""
    ring = net.eth1._vectors[0].txq.ring
    dev = sum(s.len for s in ring.pending) + sum(s.len for s in ring.done)
    return net.eth1.qdisc.backlog, dev


def _bulk(net: Net, c: TcpSock, s: TcpSock,
          sample: Callable[[], None] | None = None) -> None:
    """_BULK bytes c -> s with non-blocking calls every ms, ``sample`` after each."""
    data = bytes(_BULK)
    sent = got = 0
    deadline = net.loop.now_ns() + 10_000 * MS
    while got < _BULK:
        assert net.loop.now_ns() < deadline
        if sent < _BULK:
            with contextlib.suppress(BlockingIOError):
                sent += proto.tcp_sendmsg(c, data[sent:sent + 65536], 0, 0)
        with contextlib.suppress(BlockingIOError):
            got += len(proto.tcp_recvmsg(s, 1 << 20, 0, 0))
        if sample is not None:
            sample()
        net.settle(1 * MS)


def _tsq_bound(c: TcpSock, lob: int) -> int:
    """The most a socket can have below TCP: the TSQ limit (two Linux skbs or ~1 ms at
    the pacing rate, at most ``lob``) plus the one skb sent while under it."""
    mss = c.mss_cache
    skb = tcp_tso_segs(c, mss) * mss + _out._HEAD_TRUESIZE
    return min(max(2 * skb, c.sk_pacing_rate >> c.sk_pacing_shift), lob) + skb


def test_bulk_sender_keeps_the_qdisc_nearly_empty() -> None:
    net, c, s = _pair()
    lob = net.h1.sysctl.get_int("net.ipv4.tcp_limit_output_bytes")
    assert lob == 4 << 20  # Linux 6.16+ default (4 MiB)
    worst = {"wmem": 0, "qdisc": 0, "excess": -1}

    def sample() -> None:
        q, dev = _below_tcp(net)
        wmem = c.sk_wmem_alloc_get()
        worst["wmem"] = max(worst["wmem"], wmem)
        worst["qdisc"] = max(worst["qdisc"], q)
        worst["excess"] = max(worst["excess"], wmem - _tsq_bound(c, lob))
        assert q + dev <= wmem  # every byte below TCP is charged (truesize >= len)

    _bulk(net, c, s, sample)
    assert worst["excess"] <= 0, worst
    assert worst["wmem"] < 16_000
    assert worst["qdisc"] < 3_000  # the 64-slot ring is enough: ~1 packet in the qdisc
    assert c.sk_wmem_alloc == 1  # everything completed: only the base reference


def test_without_tsq_the_qdisc_fills(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counterfactual: the same transfer with tcp_small_queue_check disabled."""
    monkeypatch.setattr(_out, "tcp_small_queue_check", lambda *a: False)
    net, c, s = _pair()
    worst = [0]

    def sample() -> None:
        worst[0] = max(worst[0], _below_tcp(net)[0])

    _bulk(net, c, s, sample)
    assert worst[0] > 40_000


def test_throttled_socket_writes_again_at_tx_completion(
        monkeypatch: pytest.MonkeyPatch) -> None:
    net, c, s = _pair()
    calls: list[tuple[int, int, int]] = []
    orig = tsq.tcp_tsq_handler

    def handler(sk: Any) -> None:
        assert sk is c
        assert sk.sk_tsq_flags & tsq.TSQF_QUEUED  # set by tcp_wfree ...
        assert not sk.sk_tsq_flags & tsq.TSQF_THROTTLED  # ... in place of THROTTLED
        before = sk.snd_nxt
        orig(sk)
        assert not sk.sk_tsq_flags & tsq.TSQF_QUEUED
        calls.append((before, sk.snd_nxt, sk.sk_wmem_alloc_get()))

    monkeypatch.setattr(tsq, "tcp_tsq_handler", handler)
    throttled = [0]

    def sample() -> None:
        if c.sk_tsq_flags & tsq.TSQF_THROTTLED and c.sk_write_queue:
            throttled[0] += 1
            assert c.sk_wmem_alloc_get() > 0  # something below TCP will call back

    _bulk(net, c, s, sample)
    assert throttled[0] > 50
    assert len(calls) > 100
    # one MSS completing does not always bring a two-segment chunk under the limit, but
    # most of the stream leaves from the TSQ work, i.e. is clocked by TX completions
    advanced = [(a - b) & 0xFFFFFFFF for b, a, _ in calls if a != b]
    assert len(advanced) > len(calls) // 3
    assert sum(advanced) > _BULK // 2


def test_tcp_limit_output_bytes_is_respected() -> None:
    net, c, s = _pair()
    net.h1.sysctl.set("net.ipv4.tcp_limit_output_bytes", 3000)
    worst = [0, -1]

    def sample() -> None:
        wmem = c.sk_wmem_alloc_get()
        worst[0] = max(worst[0], wmem)
        worst[1] = max(worst[1], wmem - _tsq_bound(c, 3000))

    _bulk(net, c, s, sample)
    assert worst[1] <= 0
    assert worst[0] <= 3000 + 4400


def test_small_writes_are_autocorked() -> None:
    counts = {}
    for on in (1, 0):
        net, c, s = _pair(5002 + on)
        net.h1.sysctl.set("net.ipv4.tcp_autocorking", on)
        proto.tcp_setsockopt(c, TCP_NODELAY, 1)
        out0 = net.h1.mib.tcp.OutSegs
        proto.tcp_sendmsg(c, b"x" * 100, 0, 0)
        assert c.snd_nxt == c.write_seq  # nothing in the device yet: it goes
        proto.tcp_sendmsg(c, b"x" * 100, 0, 0)  # the first is still on the wire
        assert (c.write_seq - c.snd_nxt) & 0xFFFFFFFF == (100 if on else 0)
        assert bool(c.sk_tsq_flags & tsq.TSQF_THROTTLED) == bool(on)
        for _ in range(38):
            proto.tcp_sendmsg(c, b"x" * 100, 0, 0)
        net.settle(50 * MS)
        assert c.snd_nxt == c.write_seq  # TX completions pushed the corked bytes
        got = proto.tcp_recvmsg(s, 1 << 20, 0, 0)
        assert len(got) == 4000
        counts[on] = (net.h1.mib.tcpext.TCPAutoCorking, net.h1.mib.tcp.OutSegs - out0)
    corks, segs = counts[1]
    assert corks >= 1
    # the first write goes alone; later ones wait while the tail's truesize is below what
    # is still in the device (tcp_should_autocork), so the segments grow: 100, 200, ...
    assert segs <= 8
    assert counts[0][0] == 0  # tcp_autocorking=0: never counted


def test_gso_segments_take_over_the_ownership() -> None:
    """tcp_gso_segment's copy_destructor: TSQ hears of the segments' TX completion, not
    of the software segmentation that frees the gso skb."""
    from tuxnet.skb import alloc_skb

    _net, c, _s = _pair()
    base = c.sk_wmem_alloc
    gso = alloc_skb(3000)
    gso.put_data(bytes(3000))
    tsq.tcp_skb_set_owner(c, gso, True, 3000)
    assert c.sk_wmem_alloc == base + gso.truesize
    segs = []
    for _ in range(3):
        seg = alloc_skb(1100)
        seg.put_data(bytes(1100))
        segs.append(seg)
    tsq.tcp_gso_copy_destructor(gso, segs)
    total = sum(seg.truesize for seg in segs)
    assert c.sk_wmem_alloc == base + total
    gso.free()  # validate_xmit_skb consumes the gso skb: nothing is uncharged
    assert c.sk_wmem_alloc == base + total
    c.sk_tsq_flags |= tsq.TSQF_THROTTLED
    segs[0].free()
    assert c.sk_tsq_flags == tsq.TSQF_QUEUED  # the first completion queues the socket
    for seg in segs[1:]:
        seg.free()
    assert c.sk_wmem_alloc == base


def test_pure_acks_are_charged_two_bytes() -> None:
    """skb_set_tcp_pure_ack(): an ACK without data is charged 2 bytes (__sock_wfree),
    so it never throttles data."""
    from tuxnet.skb import alloc_skb
    from tuxnet.tcp.defs import TCPHDR_ACK
    from tuxnet.tcp.sock import TcpSkbCb

    _net, c, _s = _pair()
    base = c.sk_wmem_alloc
    ack = alloc_skb(64)
    ack.cb = TcpSkbCb()
    ack.cb.tcp_flags = TCPHDR_ACK
    tsq.tcp_skb_set_owner(c, ack, False, 0)
    assert c.sk_wmem_alloc == base + 2
    c.sk_tsq_flags |= tsq.TSQF_THROTTLED
    ack.free()
    assert c.sk_wmem_alloc == base
    assert c.sk_tsq_flags == tsq.TSQF_THROTTLED  # no TSQ work for an ACK


def test_in_ksoftirqd_the_queues_drain_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """tcp_wfree() run by ksoftirqd (softirq work under stress) queues the socket only
    once its skbs below TCP have all completed."""
    from tuxnet.skb import alloc_skb

    _net, c, _s = _pair()
    monkeypatch.setattr(tsq, "_in_ksoftirqd", lambda: True)
    skbs = []
    for _ in range(2):
        skb = alloc_skb(1448)
        skb.put_data(bytes(1448))
        tsq.tcp_skb_set_owner(c, skb, True, 1448)
        skbs.append(skb)
    c.sk_tsq_flags |= tsq.TSQF_THROTTLED
    skbs[0].free()
    assert c.sk_tsq_flags == tsq.TSQF_THROTTLED  # another skb is still in the device
    skbs[1].free()
    assert c.sk_tsq_flags == tsq.TSQF_QUEUED
