"""Link timing: exact serialisation + propagation, queueing, capture timestamps."""

from __future__ import annotations

from _simutil import ListSink, Recorder, frame

from tuxnet.loop import SimLoop
from tuxnet.sim import Link

MBIT100 = 100_000_000
GBIT10 = 10_000_000_000


def test_one_frame_serialisation_plus_delay_is_exact() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=MBIT100, delay_ns=5_000_000, receiver=rx)
    assert link.send(frame(0, 1500))
    loop.run()
    # 1500 B * 8 / 100 Mbit/s = 120 us, then 5 ms on the wire.
    assert rx.times == [120_000 + 5_000_000]
    assert rx.got[0][1] == frame(0, 1500)
    assert rx.got[0][2] is link


def test_back_to_back_frames_queue_behind_each_other() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=MBIT100, delay_ns=1_000, receiver=rx)
    for i in range(5):
        assert link.send(frame(i, 1500))
    # The first is on the wire, four wait: the sender sees the queue.
    assert link.backlog_packets == 4
    assert link.backlog_bytes == 4 * 1500
    assert link.busy_until_ns == 120_000
    loop.run()
    assert rx.times == [(k + 1) * 120_000 + 1_000 for k in range(5)]
    assert rx.seqs == [0, 1, 2, 3, 4]
    st = link.stats()
    assert st["max_backlog_packets"] == 4
    assert st["max_backlog_bytes"] == 6000
    assert st["backlog_packets"] == 0
    assert st["tx_packets"] == st["delivered_packets"] == 5


def test_frames_sent_later_start_when_the_transmitter_frees_up() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=MBIT100, receiver=rx)
    link.send(frame(0))  # wire busy until 120 us
    loop.call_at(50_000, link.send, frame(1))  # waits 70 us
    loop.call_at(240_000, link.send, frame(2))  # exactly when the wire frees up
    loop.call_at(1_000_000, link.send, frame(3))  # idle link: starts at once
    loop.run()
    assert rx.times == [120_000, 240_000, 360_000, 1_120_000]


def test_fractional_serialisation_carries_over_back_to_back() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=GBIT10, receiver=rx)
    for i in range(1000):
        link.send(frame(i, 64))
    loop.run()
    # 64 B at 10 Gbit/s = 51.2 ns: each end rounds up, the fraction is carried.
    assert rx.times[:5] == [52, 103, 154, 205, 256]
    assert rx.times[-1] == 51_200  # 1000 x 51.2 ns, no drift


def test_idle_link_does_not_carry_a_fraction() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=GBIT10, receiver=rx)
    link.send(frame(0, 64))
    loop.call_at(1_000, link.send, frame(1, 64))
    loop.run()
    assert rx.times == [52, 1_052]


def test_overhead_bytes_count_for_serialisation_only() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=MBIT100, overhead_bytes=24, receiver=rx)
    link.send(frame(0, 1476))
    loop.run()
    assert rx.times == [120_000]
    assert link.stats()["tx_bytes"] == 1476


def test_infinite_rate_is_pure_delay_in_order() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=None, delay_ns=7_000, receiver=rx)
    for i in range(3):
        link.send(frame(i))
    assert link.backlog_packets == 0
    loop.run()
    assert rx.times == [7_000] * 3
    assert rx.seqs == [0, 1, 2]


def test_bytearray_is_copied_at_send() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=MBIT100, receiver=rx)
    buf = bytearray(frame(1, 100))
    link.send(buf)
    buf[0:4] = b"\xff\xff\xff\xff"  # the caller reuses its buffer at once
    loop.run()
    assert rx.seqs == [1]
    assert type(rx.got[0][1]) is bytes


def test_capture_timestamps_are_transmission_start() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    sink = ListSink()
    link = Link(loop, rate_bps=MBIT100, delay_ns=3_000_000, receiver=rx)
    link.add_tap(sink)
    for i in range(3):
        link.send(frame(i, 1500))
    loop.call_at(10_000_000, link.send, frame(3, 100))
    loop.run()
    assert [ts for ts, _, _ in sink.packets] == [0, 120_000, 240_000, 10_000_000]
    assert [data for _, data, _ in sink.packets] == [frame(i, 1500) for i in range(3)] + [
        frame(3, 100)
    ]


def test_capture_sees_lost_frames_and_clean_copies_of_corrupted_ones() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    sink = ListSink()
    link = Link(loop, rate_bps=MBIT100, loss=0.3, corrupt=0.3, seed=5, receiver=rx)
    link.add_tap(sink)
    sent = [frame(i, 200) for i in range(200)]
    for f in sent:
        link.send(f)
    loop.run()
    st = link.stats()
    assert st["drop_loss_random"] > 0 and st["corrupted"] > 0
    # The wire carried every frame, as sent; loss and corruption happen in flight.
    assert [data for _, data, _ in sink.packets] == sent
    assert len(rx.got) == 200 - st["drop_loss_random"]


def test_jitter_keeps_order_by_default() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=GBIT10, delay_ns=1_000_000, jitter_ns=500_000, seed=3,
                receiver=rx)
    # Frames 10 us apart, jitter +-0.5 ms: draws alone would reorder most of them.
    for i in range(2000):
        loop.call_at(i * 10_000, link.send, frame(i, 100))
    loop.run()
    assert rx.seqs == list(range(2000))
    assert rx.times == sorted(rx.times)
    delays = [t - i * 10_000 - 80 for i, t in enumerate(rx.times)]
    assert min(delays) >= 500_000


def test_jitter_spans_delay_plus_minus_jitter() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=GBIT10, delay_ns=1_000_000, jitter_ns=500_000, seed=3,
                receiver=rx)
    # 1.5 ms apart: order keeping never binds, each frame shows its own draw.
    for i in range(2000):
        loop.call_at(i * 1_500_000, link.send, frame(i, 100))
    loop.run()
    delays = [t - i * 1_500_000 - 80 for i, t in enumerate(rx.times)]
    assert min(delays) >= 500_000 and max(delays) < 1_500_000
    assert min(delays) < 502_000 and max(delays) > 1_498_000
    assert abs(sum(delays) / len(delays) - 1_000_000) < 20_000


def test_jitter_may_reorder_when_asked() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=GBIT10, delay_ns=1_000_000, jitter_ns=500_000,
                jitter_reorder=True, seed=3, receiver=rx)
    for i in range(2000):
        loop.call_at(i * 10_000, link.send, frame(i, 100))
    loop.run()
    assert sorted(rx.seqs) == list(range(2000))
    assert rx.seqs != list(range(2000))
    delays = [t - seq * 10_000 - 80 for t, seq in zip(rx.times, rx.seqs, strict=True)]
    assert min(delays) >= 500_000 and max(delays) < 1_500_000
    mean = sum(delays) / len(delays)
    assert abs(mean - 1_000_000) < 20_000  # uniform around the delay


def test_normal_jitter_is_centred_on_the_delay() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, delay_ns=10_000_000, jitter_ns=1_000_000, jitter_dist="normal",
                jitter_reorder=True, seed=9, receiver=rx)
    for i in range(4000):
        loop.call_at(i * 1_000, link.send, frame(i, 60))
    loop.run()
    delays = [t - seq * 1_000 for t, seq in zip(rx.times, rx.seqs, strict=True)]
    mean = sum(delays) / len(delays)
    sd = (sum((d - mean) ** 2 for d in delays) / len(delays)) ** 0.5
    assert abs(mean - 10_000_000) < 60_000
    assert 900_000 < sd < 1_100_000
