"""SimNic TCP offloads (drivers/simnic_tso): TSO cuts super-skbs into wire frames,
rx-gro-hw hands trains up merged, and a clean link carries a train as one event with
the same timing and counters as its frames one by one; anything else on the path
falls back to single frames."""

from __future__ import annotations

import hashlib
import io
import itertools
import random
import struct
from typing import Any

import pytest
from _udpnet import MS, Net, two_hosts

from tuxnet.sim.link import Link
from tuxnet.tcp.ipv4 import tcp_v4_init
from tuxnet.tools.ethtool_cmd import run as ethtool_run
from tuxnet.wire.checksum import internet_checksum

PORT = 5001


def _offloads(net: Net, *, tso: bool, gro_hw: bool) -> None:
    for h, dev in ((net.h1, net.eth1), (net.h2, net.eth2)):
        tcp_v4_init(h)
        dev.set_features({"tx-tcp-segmentation": tso, "rx-gro-hw": gro_hw})


def _transfer(net: Net, nbytes: int, *, trains: list[int] | None = None,
              mid_run: Any = None) -> tuple[Any, Any, bytes, bytes]:
    """h1 -> h2:PORT bulk of seeded random bytes; ``trains`` collects the segment count
    of each train h2's NIC takes; ``mid_run`` runs at the fourth 1 ms step. Returns
    (client, server, data sent, data received)."""
    if trains is not None:
        orig = net.eth2.receive_train

        def counting(*a: Any) -> None:
            trains.append(a[3])
            orig(*a)

        net.eth2.receive_train = counting
    data = random.Random(5).randbytes(nbytes)
    cli, srv, got = net.tcp_bulk(data, port=PORT, at_step={3: mid_run} if mid_run else None)
    return cli, srv, data, got


def _same(a: bytes, b: bytes) -> bool:
    return hashlib.sha256(a).digest() == hashlib.sha256(b).digest()


def test_trains_carry_a_clean_bulk_transfer_byte_exact() -> None:
    net = two_hosts(rate_bps=1_000_000_000, delay_ns=1 * MS)
    _offloads(net, tso=True, gro_hw=True)
    trains: list[int] = []
    cli, srv, data, got = _transfer(net, 2_000_000, trains=trains)
    assert _same(got, data)
    assert trains and max(trains) >= 20  # super-skbs of 20+ segments crossed whole
    # every count is per wire frame: the socket's segments, the NICs' and the link's
    assert srv.data_segs_in == cli.data_segs_out
    link = net.eth1.link
    stats1 = dict(net.eth1.get_ethtool_stats())
    stats2 = dict(net.eth2.get_ethtool_stats())
    assert link.tx_packets == link.delivered_packets == stats1["tx_queue_0_packets"]
    assert stats2["rx_queue_0_packets"] == link.delivered_packets
    assert link.tx_packets >= cli.data_segs_out
    # TCP saw a few dozen skbs (Tcp InSegs), not 1,400
    assert net.h2.mib.tcp.InSegs < cli.data_segs_out // 10
    assert not net.h1.drop_counts and not net.h2.drop_counts


@pytest.mark.parametrize("loss", [0.0, 0.15])
def test_train_timing_and_loss_equal_frames_sent_one_by_one(loss: float) -> None:
    """Link.send_train ends where the last of its frames sent back to back ends; the
    same seed loses the same frames; each run of survivors reaches the receiver when
    its last frame would have arrived, with the same counters."""
    class Rx:
        def __init__(self) -> None:
            self.at: list[tuple[int, int, int]] = []  # (first index, count, time)

        def receive_frame(self, frame: bytes, link: Link) -> None:
            if len(frame) > 100:
                self.at.append((int.from_bytes(frame[:2], "big"), 1, loop.now_ns()))

        def receive_train(self, frame: bytes, link: Link, gso_size: int, n: int,
                          wire: int, first: int, count: int) -> None:
            self.at.append((first, count, loop.now_ns()))

    from tuxnet.loop import SimLoop

    loop = SimLoop()
    lens = [1514] * 44 + [330]
    for rate in (1_000_000_000, 99_999_989, 10_000_000):
        one, train = Rx(), Rx()
        a = Link(loop, rate_bps=rate, delay_ns=1 * MS, receiver=one, loss=loss, seed=9)
        b = Link(loop, rate_bps=rate, delay_ns=1 * MS, receiver=train, loss=loss, seed=9)
        loop.run(loop.now_ns() + 7)  # an odd start
        a.send(bytes(100))  # a frame before: the train starts at its fractional end
        b.send(bytes(100))
        for k, n in enumerate(lens):
            a.send(k.to_bytes(2, "big") + bytes(n - 2))
        assert b.train_ready() is False  # the 100-byte frame is still on the wire
        loop.run(b.busy_until_ns)
        assert b.train_ready()
        # the frame-by-frame link queued its frames; the train link sends when idle
        end = b.send_train(bytes(64000), len(lens), 1514, sum(lens), 1448)
        loop.run(loop.now_ns() + 10 * 1000 * MS)
        arrived = {k: t for k, _, t in one.at}
        got = [k for first, count, _ in train.at for k in range(first, first + count)]
        assert got == sorted(arrived)  # the same frames lost, runs in order
        for first, count, t in train.at:
            assert t == arrived[first + count - 1]
        if loss:
            assert 0 < a.drop_loss_random == b.drop_loss_random and len(train.at) > 1
        else:
            assert train.at == [(0, len(lens), end + 1 * MS)]
            assert end + 1 * MS == one.at[-1][2]
        for name in ("tx_packets", "tx_bytes", "delivered_packets", "delivered_bytes",
                     "sent_packets", "sent_bytes"):
            assert getattr(a, name) == getattr(b, name), name


def test_train_runs_rebuild_headers_as_hardware_gro_would() -> None:
    """train_run: a run's first segment's headers (seq and IPv4 id advanced, length
    and IPv4 checksum for the run, FIN/PSH only at the train's end)."""
    from tuxnet.drivers.simnic_tso import train_run

    mss, n = 1000, 5
    payload = bytes(range(256)) * 18  # 4608 bytes: 4 full segments and 608
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 32 + len(payload), 7, 0x4000,
                               64, 6, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])))
    struct.pack_into("!H", ip, 10, internet_checksum(ip))
    tcp = struct.pack("!HHIIBBHHH", 5001, 80, 0xFFFFFF00, 1, 8 << 4, 0x18, 500, 0, 0)
    frame = bytes(14) + bytes(ip) + tcp + bytes(12) + payload
    run = train_run(frame, mss, 1, 2, n)
    assert len(run) == 14 + 52 + 2 * mss
    assert run[66:] == payload[mss:3 * mss]
    assert internet_checksum(run[14:34]) == 0
    assert struct.unpack_from("!HH", run, 16) == (52 + 2 * mss, 8)
    assert struct.unpack_from("!I", run, 38)[0] == (0xFFFFFF00 + mss) & 0xFFFFFFFF
    assert run[47] == 0x10  # PSH cleared mid-train
    tail = train_run(frame, mss, 3, 2, n)
    assert tail[66:] == payload[3 * mss:] and tail[47] == 0x18
    assert struct.unpack_from("!I", tail, 38)[0] == (0xFFFFFF00 + 3 * mss) & 0xFFFFFFFF


def test_a_lossy_link_cuts_trains_and_stays_byte_exact() -> None:
    net = two_hosts(rate_bps=100_000_000, delay_ns=2 * MS, loss=0.01, seed=3)
    _offloads(net, tso=True, gro_hw=True)
    trains: list[int] = []
    cli, srv, data, got = _transfer(net, 2_000_000, trains=trains)
    assert _same(got, data)
    assert trains
    assert net.h1.mib.tcp.RetransSegs > 0 and net.h1.mib.tcpext.TCPSackRecovery > 0
    link = net.eth1.link
    assert link.drop_loss_random > 0
    assert link.tx_packets == link.delivered_packets + link.drop_loss_random
    assert srv.data_segs_in <= cli.data_segs_out


def test_corruption_or_gilbert_loss_sends_single_frames() -> None:
    from tuxnet.sim.config import GilbertElliott

    for kw in ({"corrupt": 0.01}, {"gilbert": GilbertElliott(p=0.01, r=0.3)}):
        net = two_hosts(rate_bps=100_000_000, delay_ns=2 * MS, seed=4, **kw)
        _offloads(net, tso=True, gro_hw=True)
        trains: list[int] = []
        _cli, _srv, data, got = _transfer(net, 300_000, trains=trains)
        assert _same(got, data), kw
        assert not trains, kw


def test_a_receiver_without_gro_hw_gets_the_tso_frames_and_a_capture_sees_each() -> None:
    net = two_hosts(rate_bps=1_000_000_000, delay_ns=1 * MS)
    _offloads(net, tso=True, gro_hw=False)
    frames: list[bytes] = []

    class Cap:
        def write_packet(self, ts: int, frame: bytes, *a: Any, **k: Any) -> None:
            frames.append(frame)

    net.eth1.link.add_tap(Cap())
    cli, _srv, data, got = _transfer(net, 500_000)
    assert _same(got, data)
    def payload(f: bytes) -> int:
        ihl = (f[14] & 15) * 4
        return int(struct.unpack_from("!H", f, 16)[0]) - ihl - (f[14 + ihl + 12] >> 4) * 4

    data_frames = [f for f in frames if f[12:14] == b"\x08\x00" and f[23] == 6
                   and payload(f) > 0]
    assert len(data_frames) == cli.data_segs_out
    assert max(len(f) for f in frames) <= 1514
    for f in data_frames[:50]:  # the NIC filled each frame's IPv4 and TCP checksums
        ihl = (f[14] & 15) * 4
        assert internet_checksum(f[14:14 + ihl]) == 0
        tcp = f[14 + ihl:]
        src, dst = f[26:30], f[30:34]
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        assert internet_checksum(pseudo + tcp) == 0
    # IPv4 ids run on frame by frame within a super-skb
    ids = [struct.unpack_from("!H", f, 18)[0] for f in data_frames[:10]]
    assert any(b == a + 1 for a, b in itertools.pairwise(ids))
    # the sender's TCP built super-skbs; software GRO merged at the receiver
    assert net.h2.mib.tcp.InSegs < cli.data_segs_out


def test_gro_hw_switched_off_in_flight_splits_the_train() -> None:
    net = two_hosts(rate_bps=1_000_000_000, delay_ns=5 * MS)
    _offloads(net, tso=True, gro_hw=True)

    def off() -> None:
        net.eth2.set_features({"rx-gro-hw": False})

    trains: list[int] = []
    cli, srv, data, got = _transfer(net, 1_000_000, trains=trains, mid_run=off)
    assert _same(got, data)
    assert trains  # trains were in flight when the engine went off
    assert srv.data_segs_in == cli.data_segs_out
    assert not net.h2.drop_counts


def test_ethtool_turns_the_offloads_on() -> None:
    net = two_hosts()
    out, err = io.StringIO(), io.StringIO()
    assert ethtool_run(net.h1, ["-k", "eth0"], out, err) == 0
    text = out.getvalue()
    assert "tcp-segmentation-offload: off\n" in text
    assert "rx-gro-hw: off\n" in text
    out = io.StringIO()
    assert ethtool_run(net.h1, ["-K", "eth0", "tso", "on", "rx-gro-hw", "on"], out, err) == 0
    out = io.StringIO()
    ethtool_run(net.h1, ["-k", "eth0"], out, err)
    assert "tcp-segmentation-offload: on\n" in out.getvalue()
    assert "rx-gro-hw: on\n" in out.getvalue()
