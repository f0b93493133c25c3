"""Loopback and veth drivers: round trips, statistics, ethtool -S names."""

from __future__ import annotations

from pathlib import Path

from _coreutil import ETH_P_IP, Sink, frame

from tuxnet.core.cpu import Task, current_cpu
from tuxnet.core.dev import dev_get_stats, dev_open, dev_queue_xmit
from tuxnet.core.netcore import get_core
from tuxnet.core.netdevice import IFF_LOOPBACK, IFF_LOWER_UP, IFF_RUNNING, IFF_UP, NetDevice
from tuxnet.drivers.loopback import LOOPBACK_MTU, loopback_init
from tuxnet.drivers.veth import veth_pair
from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.skb import PACKET_HOST, SkBuff, alloc_skb


def _skb(dev: NetDevice, data: bytes) -> SkBuff:
    skb = alloc_skb(128 + len(data))
    skb.reserve(128)
    skb.put_data(data)
    skb.dev = dev
    skb.protocol = ETH_P_IP
    return skb


def test_loopback_round_trip_from_a_task() -> None:
    loop = SimLoop()
    host = Host(loop, "h", ncpus=2)
    lo = loopback_init(host)
    assert lo.ifindex == 1 and lo.mtu == LOOPBACK_MTU == 65536
    assert lo.flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP) == (
        IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP)
    assert lo.operstate == "UNKNOWN"
    sink = Sink(host)
    core = get_core(host)
    sent = []

    def app() -> bool:  # a sender thread on CPU 1 (sendmsg -> ... -> dev_queue_xmit)
        fr = frame(bytes(6), sport=len(sent))
        sent.append(fr)
        assert current_cpu() is core.cpus[1]
        dev_queue_xmit(_skb(lo, fr))
        return len(sent) < 3

    core.cpus[1].run_task(Task("app", app))
    loop.run()
    assert [g["data"] for g in sink.got] == [fr[14:] for fr in sent]
    assert {g["cpu"] for g in sink.got} == {1}  # the sender's CPU, in softirq
    assert all(g["pkt_type"] == PACKET_HOST and g["dev"] == "lo" for g in sink.got)
    s = dev_get_stats(lo)
    assert s.rx_packets == s.tx_packets == 3
    # loopback_xmit takes skb->len after eth_type_trans: no Ethernet header counted
    assert s.rx_bytes == s.tx_bytes == 3 * 46


def test_veth_pair_across_hosts() -> None:
    loop = SimLoop()
    a = Host(loop, "a", ncpus=2)
    b = Host(loop, "b", ncpus=1)
    v0, v1 = veth_pair(a, "veth0", b, "veth1")
    sink = Sink(b)
    dev_open(v0)
    assert not v0.flags & IFF_RUNNING  # the peer is still down
    dev_open(v1)
    assert v0.flags & IFF_RUNNING and v1.flags & IFF_RUNNING
    for i in range(4):
        assert dev_queue_xmit(_skb(v0, frame(v1.dev_addr, sport=i))) == 0
    loop.run()
    assert len(sink) == 4
    assert all(g["dev"] == "veth1" and g["pkt_type"] == PACKET_HOST for g in sink.got)
    assert get_core(b).cpus[0].sd.processed == 4
    s0 = dev_get_stats(v0)
    s1 = dev_get_stats(v1)
    assert (s0.tx_packets, s0.tx_bytes, s0.rx_packets) == (4, 240, 0)
    assert (s1.rx_packets, s1.rx_bytes, s1.tx_packets) == (4, 240, 0)
    # the peer goes down: veth_xmit drops
    from tuxnet.core.dev import dev_close

    dev_close(v1)
    dev_open(v1)
    v1.flags &= ~IFF_UP  # down without carrier change (is_skb_forwardable fails)
    dev_queue_xmit(_skb(v0, frame(v1.dev_addr)))
    assert dev_get_stats(v0).tx_dropped == 1 and dev_get_stats(v1).rx_dropped == 1
    assert a.drop_counts[SkbDropReason.DEV_READY] == 1


def test_veth_ethtool_names_match_linux(reference_dir: Path) -> None:
    loop = SimLoop()
    a = Host(loop, "a")
    b = Host(loop, "b")
    v0, v1 = veth_pair(a, "veth0", b, "veth1", num_queues=4)
    names = [n for n, _ in v0.get_ethtool_stats()]
    sample = (reference_dir / "samples" / "ethtool_-S_veth.txt").read_text().splitlines()[1:]
    assert names == [line.strip().split(":")[0] for line in sample]
    assert dict(v0.get_ethtool_stats())["peer_ifindex"] == v1.ifindex
    ch = v0.get_channels()
    assert (ch.max_rx, ch.max_tx, ch.rx_count, ch.tx_count, ch.max_combined) == (4, 4, 4, 4, 0)
    v0.set_channels(rx=2, tx=2)
    after = (reference_dir / "samples" / "ethtool_-S_veth_after_-L.txt").read_text()
    assert [n for n, _ in v0.get_ethtool_stats()] == [
        line.strip().split(":")[0] for line in after.splitlines()[1:]]
    # default: num_possible_cpus queues, one active (veth_init_queues)
    c = Host(loop, "c", ncpus=3)
    d = Host(loop, "d")
    w0, _ = veth_pair(c, "w0", d, "w1")
    assert (w0.num_rx_queues, w0.real_num_rx_queues) == (3, 1)


def test_pcap_replay_nic_feeds_frames_at_their_timestamps(tmp_path: Path) -> None:
    from tuxnet.core.netcore import register_netdevice
    from tuxnet.drivers.pcap_replay import PcapReplayNic
    from tuxnet.pcap import PcapWriter

    loop = SimLoop()
    host = Host(loop, "h")
    nic = PcapReplayNic("eth0", mac=b"\x02\x00\x00\x00\x00\x02")
    register_netdevice(host, nic)
    nic.set_coalesce(rx_usecs=0, rx_max_frames=1)
    dev_open(nic)
    sink = Sink(host)
    path = tmp_path / "in.pcap"
    with PcapWriter(path) as w:
        for i in range(5):
            w.write_packet(1_000_000_000 + i * 1_000_000, frame(nic.dev_addr, sport=i))
    nic.replay(path, start_ns=500_000, speed=2.0)
    loop.run()
    assert nic.replayed == 5 and not nic.replaying
    assert [int.from_bytes(g["data"][20:22], "big") for g in sink.got] == list(range(5))
    arrivals = [g["t"] for g in sink.got]
    # 500 µs + i * 0.5 ms, plus the receive path's few µs
    for i, t in enumerate(arrivals):
        assert 0 <= t - (500_000 + i * 500_000) < 20_000
    assert dev_get_stats(nic).rx_packets == 5
