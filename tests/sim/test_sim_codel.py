"""CoDel (RFC 8289) on the link's transmit queue."""

from __future__ import annotations

import math

from _simutil import Recorder

from tuxnet.loop import SimLoop
from tuxnet.sim import CoDelQueue, Link
from tuxnet.sim.config import QdiscKind

MS = 1_000_000
RATE = 10_000_000  # 1500 B take 1.2 ms
FT = 1_200_000  # frame time


def _stamped(seq: int, sent_ns: int) -> bytes:
    return seq.to_bytes(4, "big") + sent_ns.to_bytes(8, "big") + bytes(1488)


def _standing_queue(qdisc: QdiscKind) -> tuple[Link, Recorder, list[int]]:
    """100 frames at once, then exactly the line rate: the queue never drains itself."""
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=RATE, qdisc=qdisc, receiver=rx)
    drops: list[int] = []
    link.drop_hook = lambda lk, f, reason: drops.append(loop.now_ns())
    for i in range(100):
        link.send(_stamped(i, 0))
    for i in range(3_000):
        t = i * FT
        loop.call_at(t, link.send, _stamped(100 + i, t))
    loop.run()
    return link, rx, drops


def _sojourn_ms(rx: Recorder) -> list[float]:
    # arrival - sent - serialisation = time spent waiting in the queue
    return [(t - int.from_bytes(f[4:12], "big") - FT) / MS for t, f, _ in rx.got]


def test_pfifo_keeps_a_standing_queue() -> None:
    _link, rx, drops = _standing_queue("pfifo")
    assert drops == []
    assert min(_sojourn_ms(rx)[-500:]) > 100  # ~120 ms of bufferbloat, for ever


def test_codel_drains_a_standing_queue_to_target() -> None:
    link, rx, drops = _standing_queue("codel")
    st = link.stats()
    assert st["drop_codel"] == len(drops) == st["drops"]
    assert 80 <= len(drops) <= 100
    tail = _sojourn_ms(rx)[-500:]
    assert max(tail) < 5.0  # below target once controlled (RFC 8289 target 5 ms)
    q = link.qdisc
    assert isinstance(q, CoDelQueue)
    assert not q.dropping
    assert q.ldelay_ns < 5 * MS


def test_codel_first_drop_after_one_interval_then_control_law() -> None:
    _, _, drops = _standing_queue("codel")
    # Sojourn first reaches target at the 5th frame (6 ms): first drop one interval
    # (100 ms) later, at the next dequeue.
    assert 106 * MS <= drops[0] < 106 * MS + FT
    # Then drop k+1 follows drop k after interval/sqrt(k), at the next dequeue.
    due = drops[0]
    for k, t in enumerate(drops[1:], start=1):
        due += int(100 * MS / math.sqrt(k))
        assert due <= t < due + FT, (k, t, due)


def test_codel_leaves_light_load_and_short_bursts_alone() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=RATE, qdisc="codel", receiver=rx)
    sent = 0
    for i in range(1_000):  # 80 % load, evenly spaced
        loop.call_at(i * 1_500_000, link.send, _stamped(i, 0))
        sent += 1
    for b in range(20):  # bursts of 4 every 100 ms: sojourn <= 3.6 ms
        for _ in range(4):
            loop.call_at(2_000 * MS + b * 100 * MS, link.send, _stamped(0, 0))
            sent += 1
    for _ in range(40):  # one 48 ms burst, shorter than an interval
        loop.call_at(5_000 * MS, link.send, _stamped(0, 0))
        sent += 1
    loop.run()
    assert link.stats()["drop_codel"] == 0
    assert len(rx.got) == sent


def _fill(q: CoDelQueue, n: int, t: int) -> None:
    for _ in range(n):
        assert q.enqueue(bytes(1000), t)


def _drain(q: CoDelQueue, t: int) -> None:
    while len(q):
        q.dequeue(t)


def test_codel_count_restart_rule() -> None:
    drops: list[int] = []
    q = CoDelQueue(None, None, target_ns=5 * MS, interval_ns=100 * MS, mtu_bytes=1514,
                   drop_fn=lambda f: drops.append(len(f)))
    _fill(q, 200, 0)
    q.dequeue(10 * MS)  # above target: first_above_time = 110 ms
    assert q.first_above_time == 110 * MS and not q.dropping
    q.dequeue(110 * MS)  # a full interval above: drop, enter drop state
    assert q.dropping and q.count == 1 and q.drop_next == 210 * MS and len(drops) == 1
    q.dequeue(210 * MS)
    assert q.count == 2 and q.drop_next == 210 * MS + int(100 * MS / math.sqrt(2))
    q.dequeue(290 * MS)
    q.dequeue(340 * MS)
    assert q.count == 4 and len(drops) == 4
    _drain(q, 400 * MS)  # empties the queue: drop state ends
    assert not q.dropping
    count, drop_next = q.count, q.drop_next
    assert count >= 5
    # Re-enter soon after: count restarts from the drops of the last cycle.
    _fill(q, 100, 500 * MS)
    q.dequeue(510 * MS)
    q.dequeue(610 * MS)
    assert q.dropping
    assert 610 * MS - drop_next < 16 * 100 * MS
    assert q.count == count - 1  # delta = count - lastcount(1)
    assert q.drop_next == 610 * MS + int(100 * MS / math.sqrt(count - 1))


def test_codel_count_resets_after_a_long_quiet_spell() -> None:
    q = CoDelQueue(None, None, target_ns=5 * MS, interval_ns=100 * MS, mtu_bytes=1514)
    _fill(q, 200, 0)
    for t in (10, 110, 210, 290, 340):
        q.dequeue(t * MS)
    _drain(q, 400 * MS)
    assert q.count >= 5
    start = 400 * MS + 16 * 100 * MS + 1  # more than 16 intervals later
    _fill(q, 100, start)
    q.dequeue(start + 10 * MS)
    q.dequeue(start + 110 * MS)
    assert q.dropping and q.count == 1
    assert q.drops_codel >= 6


def test_codel_one_mtu_backlog_never_drops() -> None:
    # RFC 8289: do not drop when no more than one MTU is left queued.
    q = CoDelQueue(None, None, target_ns=5 * MS, interval_ns=100 * MS, mtu_bytes=1514)
    for t in range(0, 2_000 * MS, 50 * MS):
        _fill(q, 2, t)  # 2 x 1000 B: after a dequeue 1000 B <= MTU remain
        q.dequeue(t + 40 * MS)
        q.dequeue(t + 45 * MS)
    assert q.drops_codel == 0
