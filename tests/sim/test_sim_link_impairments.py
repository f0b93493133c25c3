"""Loss, Gilbert-Elliott bursts, duplication, corruption, reordering, determinism."""

from __future__ import annotations

import itertools
import math

from _simutil import Recorder, frame

from tuxnet.loop import SimLoop
from tuxnet.sim import GilbertElliott, Link
from tuxnet.sim.config import LinkParams

N = 10_000


def _run(n: int = N, size: int = 200, spacing_ns: int = 2_000, seed: int = 1,
         **params: object) -> tuple[Link, Recorder, list[bytes]]:
    loop = SimLoop()
    rx = Recorder(loop)
    kw: LinkParams = {"rate_bps": 1_000_000_000}
    kw.update(params)  # type: ignore[typeddict-item]
    link = Link(loop, seed=seed, receiver=rx, **kw)
    sent = [frame(i, size) for i in range(n)]
    for i, f in enumerate(sent):
        loop.call_at(i * spacing_ns, link.send, f)
    loop.run()
    return link, rx, sent


def _within(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def _check_conservation(link: Link) -> None:
    st = link.stats()
    assert st["sent_packets"] == (st["tx_packets"] + st["drop_queue_full"] + st["drop_codel"]
                                  + st["backlog_packets"])
    assert st["tx_packets"] + st["duplicated"] == (
        st["delivered_packets"] + st["drop_loss_random"] + st["drop_loss_gilbert"]
        + st["drop_no_receiver"] + st["in_flight_packets"])
    assert st["drops"] == sum(link.drops().values())


def test_random_loss_rate() -> None:
    link, rx, _ = _run(loss=0.1)
    st = link.stats()
    assert _within(st["drop_loss_random"], N, 0.1)
    assert st["delivered_packets"] == N - st["drop_loss_random"] == len(rx.got)
    _check_conservation(link)


def test_duplication_rate_and_copies_are_identical() -> None:
    link, rx, sent = _run(duplicate=0.05)
    st = link.stats()
    assert _within(st["duplicated"], N, 0.05)
    assert st["delivered_packets"] == N + st["duplicated"] == len(rx.got)
    # A copy arrives right behind its original.
    seqs = rx.seqs
    dups = [s for a, s in itertools.pairwise(seqs) if a == s]
    assert len(dups) == st["duplicated"]
    assert all(rx.got[i][1] == sent[s] for i, s in enumerate(seqs))
    _check_conservation(link)


def test_corruption_flips_exactly_one_bit() -> None:
    link, rx, sent = _run(corrupt=0.05)
    st = link.stats()
    assert _within(st["corrupted"], N, 0.05)
    flipped = 0
    positions: set[int] = set()
    for (_, got, _), want in zip(rx.got, sent, strict=True):
        if got == want:
            continue
        flipped += 1
        diff = [(i, a ^ b) for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b]
        assert len(diff) == 1 and bin(diff[0][1]).count("1") == 1
        positions.add(diff[0][0])
    assert flipped == st["corrupted"]
    assert len(positions) > 100  # a random byte each time, not a fixed one
    _check_conservation(link)


def test_duplicate_of_a_corrupted_frame_is_clean() -> None:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=1_000_000_000, duplicate=0.5, corrupt=0.5, seed=2,
                queue_limit_pkts=None, receiver=rx)
    # Each frame repeats its number, so one flipped bit never makes another frame.
    sent = {i.to_bytes(4, "big") * 50 for i in range(2000)}
    for f in sorted(sent):
        link.send(f)
    loop.run()
    st = link.stats()
    clean = sum(1 for _, got, _ in rx.got if got in sent)
    # Only originals get corrupted; the copy is cloned before (as netem does).
    assert st["corrupted"] > 0 and st["duplicated"] > 0
    assert clean == 2000 - st["corrupted"] + st["duplicated"]


def test_reorder_fraction_and_overtaking() -> None:
    link, rx, _ = _run(reorder=0.25, delay_ns=1_000_000)
    st = link.stats()
    assert _within(st["reordered"], N, 0.25)
    assert sorted(rx.seqs) == list(range(N))
    # A reordered frame arrives ~1.6 us after it was sent instead of 1 ms: it
    # overtakes the frames of the previous millisecond that took the normal path.
    arrival = dict(zip(rx.seqs, rx.times, strict=True))
    overtook = 0
    latest = -1
    for seq in range(N):
        if arrival[seq] < latest:
            overtook += 1
        latest = max(latest, arrival[seq])
    assert st["reordered"] - 2 <= overtook <= st["reordered"]
    _check_conservation(link)


def test_reorder_gap_sends_every_nth_frame_early() -> None:
    link, rx, _ = _run(n=1000, reorder=1.0, reorder_gap=5, delay_ns=1_000_000)
    assert link.stats()["reordered"] == 200
    early = {seq for t, seq in zip(rx.times, rx.seqs, strict=True)
             if t - seq * 2_000 < 1_000_000}
    assert early == set(range(4, 1000, 5))  # the 5th, 10th, ... frame (netem gap 5)


def test_gilbert_elliott_bursts() -> None:
    p, r = 0.01, 0.2
    n = 50_000
    link, rx, _ = _run(n=n, size=64, spacing_ns=1_000, rate_bps=None,
                       gilbert=GilbertElliott(p=p, r=r))
    st = link.stats()
    lost = st["drop_loss_gilbert"]
    ge = GilbertElliott(p=p, r=r)
    assert ge.loss_rate() == p / (p + r)
    assert abs(lost / n - ge.loss_rate()) < 0.01
    got = set(rx.seqs)
    bursts: list[int] = []
    run = 0
    for i in range(n):
        if i in got:
            if run:
                bursts.append(run)
            run = 0
        else:
            run += 1
    mean_burst = sum(bursts) / len(bursts)
    assert abs(mean_burst - 1 / r) < 0.6  # geometric bursts, mean 1/r = 5
    assert st["drop_loss_random"] == 0
    _check_conservation(link)


def test_random_loss_is_not_bursty() -> None:
    _link, rx, _ = _run(n=50_000, size=64, spacing_ns=1_000, rate_bps=None, loss=0.05)
    got = set(rx.seqs)
    bursts: list[int] = []
    run = 0
    for i in range(50_000):
        if i in got:
            if run:
                bursts.append(run)
            run = 0
        else:
            run += 1
    assert sum(bursts) / len(bursts) < 1.1  # 1/(1-0.05) = 1.05


def test_gilbert_default_is_bernoulli() -> None:
    # tc: "gemodel p" alone sets r = 1-p, 1-h = 1, 1-k = 0 -> independent loss p.
    link, _, _ = _run(n=20_000, size=64, spacing_ns=1_000, rate_bps=None,
                      gilbert=GilbertElliott(p=0.1))
    assert _within(link.stats()["drop_loss_gilbert"], 20_000, 0.1)


def test_gilbert_judges_loss_by_the_state_a_frame_started_in() -> None:
    # p=1, r=0: Good->Bad on the first frame, never back. netem decides the first
    # frame's loss with Good's 1-k (=0), so exactly the first frame gets through.
    link, rx, _ = _run(n=100, gilbert=GilbertElliott(p=1.0, r=0.0))
    assert rx.seqs == [0]
    assert link.stats()["drop_loss_gilbert"] == 99


def test_gilbert_alternates_when_both_transitions_are_certain() -> None:
    # p=1, r=1: the state flips every frame; each frame is judged by the state it
    # started in, so Good frames (even) arrive and Bad frames (odd) are lost.
    _, rx, _ = _run(n=100, gilbert=GilbertElliott(p=1.0, r=1.0))
    assert rx.seqs == list(range(0, 100, 2))


def test_gilbert_per_state_loss_probabilities() -> None:
    # Never leave Good; lose with 1-k there.
    link, _, _ = _run(n=20_000, size=64, spacing_ns=1_000, rate_bps=None,
                      gilbert=GilbertElliott(p=0.0, r=1.0, one_minus_h=1.0, one_minus_k=0.2))
    assert _within(link.stats()["drop_loss_gilbert"], 20_000, 0.2)


def _trace(seed: int) -> list[tuple[int, bytes]]:
    loop = SimLoop()
    rx = Recorder(loop)
    link = Link(loop, rate_bps=50_000_000, delay_ns=2_000_000, jitter_ns=300_000,
                loss=0.02, duplicate=0.02, corrupt=0.02, reorder=0.05,
                queue_limit_pkts=20, seed=seed, receiver=rx)
    for i in range(3000):
        loop.call_at(i * 150_000, link.send, frame(i, 1000))
    loop.run()
    return [(t, f) for t, f, _ in rx.got]


def test_same_seed_same_run_different_seed_different_run() -> None:
    a = _trace(42)
    assert a == _trace(42)
    b = _trace(43)
    assert a != b
    assert [t for t, _ in a] != [t for t, _ in b]
