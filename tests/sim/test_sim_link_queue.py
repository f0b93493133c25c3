"""Transmit-queue limits: pfifo (packets), bfifo (bytes), tail drop, drop hook."""

from __future__ import annotations

from _simutil import Recorder, frame

from tuxnet.loop import SimLoop
from tuxnet.sim import Link

MBIT100 = 100_000_000


def test_packet_limit_tail_drops_and_counts() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=MBIT100, queue_limit_pkts=10, receiver=rx)
    results = [link.send(frame(i)) for i in range(50)]
    # One goes on the wire at once, ten wait, the rest are dropped at the tail.
    assert results == [True] * 11 + [False] * 39
    loop.run()
    st = link.stats()
    assert st["drop_queue_full"] == 39 == st["drops"]
    assert st["max_backlog_packets"] == 10
    assert rx.seqs == list(range(11))
    assert link.qdisc.drops_overlimit == 39


def test_default_limit_is_txqueuelen_1000() -> None:
    loop = SimLoop()
    link = Link(loop, rate_bps=MBIT100)
    sent = sum(link.send(frame(i, 64)) for i in range(1100))
    assert sent == 1001
    assert link.stats()["drop_queue_full"] == 99


def test_byte_limit_is_bfifo() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=MBIT100, queue_limit_pkts=None, queue_limit_bytes=3000,
                receiver=rx)
    assert link.send(frame(0, 1000))  # on the wire
    assert [link.send(frame(i, 1000)) for i in (1, 2, 3)] == [True] * 3  # 3000 queued
    assert not link.send(frame(4, 1000))  # 3000 + 1000 > 3000
    assert not link.send(frame(5, 4))
    assert link.backlog_bytes == 3000
    loop.run(until_ns=10_000)  # frame 0 still on the wire at 80 us
    assert link.backlog_packets == 3
    loop.run(until_ns=80_000)  # frame 1 starts: 2000 B queued
    assert link.backlog_bytes == 2000
    assert link.send(frame(6, 1000))
    loop.run()
    assert rx.seqs == [0, 1, 2, 3, 6]
    st = link.stats()
    assert st["drop_queue_full"] == 2
    assert st["max_backlog_bytes"] == 3000


def test_both_limits_apply() -> None:
    loop = SimLoop()
    link = Link(loop, rate_bps=MBIT100, queue_limit_pkts=5, queue_limit_bytes=10_000)
    link.send(frame(0, 64))
    assert sum(link.send(frame(i, 64)) for i in range(10)) == 5  # packets bind
    loop2 = SimLoop()
    link2 = Link(loop2, rate_bps=MBIT100, queue_limit_pkts=5, queue_limit_bytes=2_000)
    link2.send(frame(0, 1000))
    assert sum(link2.send(frame(i, 1000)) for i in range(10)) == 2  # bytes bind


def test_unlimited_queue() -> None:
    loop = SimLoop()
    link = Link(loop, rate_bps=MBIT100, queue_limit_pkts=None)
    assert all(link.send(frame(i, 64)) for i in range(5000))
    assert link.backlog_packets == 4999


def test_zero_limit_sends_only_when_idle() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=MBIT100, queue_limit_pkts=0, receiver=rx)
    assert link.send(frame(0))
    assert not link.send(frame(1))
    loop.call_at(120_000, link.send, frame(2))
    loop.run()
    assert rx.seqs == [0, 2]


def test_drop_hook_sees_every_drop_with_its_reason() -> None:
    loop = SimLoop()
    seen: list[tuple[str, int]] = []
    link = Link(loop, rate_bps=MBIT100, queue_limit_pkts=2, loss=0.5, seed=4)
    link.drop_hook = lambda lk, f, reason: seen.append((reason, len(f)))
    for i in range(20):
        link.send(frame(i, 100))
    loop.run()  # no receiver connected: arrivals are dropped as no_receiver
    st = link.stats()
    counts = {r: sum(1 for s, _ in seen if s == r) for r in link.drops()}
    assert counts == link.drops()
    assert st["drop_queue_full"] == 17
    assert st["drop_loss_random"] + st["drop_no_receiver"] == 3
    assert st["drop_no_receiver"] == st["tx_packets"] - st["drop_loss_random"]
    assert st["delivered_packets"] == 0
