"""RFS: rps_sock_flow_table (sysctl net.core.rps_sock_flow_entries), the per-queue
rps_dev_flow_table (rps_flow_cnt), steering to the consuming CPU, and the rule that
keeps a flow in order while it moves."""

from __future__ import annotations

import errno

import pytest
from _coreutil import Sink, frame, make_host, make_nic

from tuxnet.core.cpu import Task
from tuxnet.core.netcore import NetCore
from tuxnet.core.rps import (
    RPS_NO_CPU,
    get_rps,
    rps_record_sock_flow,
    sock_rps_record_flow,
    sock_rps_save_rxhash,
)
from tuxnet.core.rss import rss_input_ipv4, toeplitz_hash
from tuxnet.drivers.simnic import SimNic
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.skb import build_skb


def _hash(nic: SimNic, sport: int) -> int:
    """The NIC's RSS hash of frame(..., sport) (10.0.0.1 -> 10.0.0.2, dport 53)."""
    key = rss_input_ipv4(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), sport, 53)
    return toeplitz_hash(nic.rss_key, key)


def _rfs_host(ncpus: int = 4, *, rps_cpus: str = "0") -> tuple[SimLoop, Host, NetCore,
                                                                  SimNic, Sink]:
    loop, host, core = make_host(ncpus=ncpus)
    nic = make_nic(host)  # one queue, IRQ on CPU 0
    sink = Sink(host)
    host.sysctl.set("net.core.rps_sock_flow_entries", 4096)
    nic.rx_queues[0].rps_flow_cnt = 4096
    nic.rx_queues[0].rps_cpus = rps_cpus
    return loop, host, core, nic, sink


def test_sock_flow_table_follows_the_sysctl() -> None:
    _loop, host, core = make_host(ncpus=4)
    rps = get_rps(host)
    assert rps.sock_flow_table is None and core.get_rps_cpu is None
    host.sysctl.set("net.core.rps_sock_flow_entries", 1000)
    table = rps.sock_flow_table
    assert table is not None and table.mask + 1 == 1024  # roundup_pow_of_two
    assert table.cpu_mask == 3 and set(table.ents) == {RPS_NO_CPU}
    assert core.get_rps_cpu is not None  # rps_needed
    rps_record_sock_flow(table, 0xDEADBEEF, 2)
    assert table.ents[0xDEADBEEF & 1023] == (0xDEADBEEF & ~3) | 2
    host.sysctl.set("net.core.rps_sock_flow_entries", 32768)
    assert rps.sock_flow_table is not table and set(rps.sock_flow_table.ents) == {RPS_NO_CPU}
    host.sysctl.set("net.core.rps_sock_flow_entries", 0)
    assert rps.sock_flow_table is None and core.get_rps_cpu is None
    # with no table, recording is a no-op
    sock_rps_record_flow(host, 0xDEADBEEF)


def test_cpu_mask_rounds_up_the_cpu_count() -> None:
    _loop, host, _core = make_host(ncpus=3)
    host.sysctl.set("net.core.rps_sock_flow_entries", 64)
    table = get_rps(host).sock_flow_table
    assert table is not None and table.cpu_mask == 3


def test_rps_flow_cnt_sysfs_semantics() -> None:
    _loop, host, _core = make_host(ncpus=2)
    q = make_nic(host).rx_queues[0]
    assert q.rps_flow_cnt == 0
    for text, size in (("100", 128), ("0x10", 16), ("1", 1), ("010", 8), (5, 8), ("0", 0)):
        q.rps_flow_cnt = text
        assert q.rps_flow_cnt == size
    q.rps_flow_cnt = 32
    assert q.rps_flow_table is not None
    assert {f.cpu for f in q.rps_flow_table.flows} == {RPS_NO_CPU}
    for bad in ("abc", "-1", "", str(1 << 33)):
        with pytest.raises(OSError) as ei:
            q.rps_flow_cnt = bad
        assert ei.value.errno == errno.EINVAL
    with pytest.raises(OSError) as ei:
        q.rps_flow_cnt = 1 << 32
    assert ei.value.errno == errno.ENOMEM and q.rps_flow_cnt == 32


def test_recvmsg_records_the_consuming_cpu_and_packets_follow() -> None:
    loop, host, core, nic, sink = _rfs_host()
    h = _hash(nic, 5000)
    # before any recvmsg: no sock flow entry, no rps_cpus: processed on the IRQ CPU
    loop.call_at(0, nic.receive_frame, frame(nic.dev_addr, sport=5000))
    loop.run()
    assert [g["cpu"] for g in sink.got] == [0]
    # the application's recvmsg runs on CPU 3

    def recvmsg() -> bool:
        sock_rps_record_flow(host, h)
        return False

    app = Task("app", recvmsg)
    core.cpus[3].run_task(app)
    loop.run()
    table = get_rps(host).sock_flow_table
    assert table is not None and table.ents[h & table.mask] == (h & ~3) | 3
    t = loop.now_ns()
    for i in range(5):
        loop.call_at(t + i * 30_000, nic.receive_frame, frame(nic.dev_addr, sport=5000))
    loop.run()
    assert [g["cpu"] for g in sink.got] == [0, 3, 3, 3, 3, 3]
    assert core.cpus[3].sd.received_rps >= 1 and core.cpus[3].sd.processed == 5
    rflow = nic.rx_queues[0].rps_flow_table.flows[h & 4095]  # type: ignore[union-attr]
    assert rflow.cpu == 3 and rflow.last_qtail == core.cpus[3].sd.input_queue_tail == 5
    # another flow, never read, is not steered
    loop.call_at(loop.now_ns() + 1000, nic.receive_frame, frame(nic.dev_addr, sport=5001))
    loop.run()
    assert sink.got[-1]["cpu"] == 0


def test_rfs_without_a_flow_table_falls_back_to_rps() -> None:
    loop, host, _core, nic, sink = _rfs_host(rps_cpus="2")
    nic.rx_queues[0].rps_flow_cnt = 0
    table = get_rps(host).sock_flow_table
    assert table is not None
    rps_record_sock_flow(table, _hash(nic, 6000), 3)
    loop.call_at(0, nic.receive_frame, frame(nic.dev_addr, sport=6000))
    loop.run()
    assert [g["cpu"] for g in sink.got] == [1]


def _seq_sink(sink: Sink) -> list[tuple[int, int]]:
    """(cpu, payload sequence number) of each packet, in processing order."""
    return [(g["cpu"], g["data"][-1]) for g in sink.got]


def _send(loop: SimLoop, nic: SimNic, sport: int, seqs: range, start: int) -> None:
    for k, seq in enumerate(seqs):
        fr = bytearray(frame(nic.dev_addr, sport=sport))
        fr[-1] = seq  # payload byte (the stand-in handler ignores the UDP checksum)
        loop.call_at(start + k * 20_000, nic.receive_frame, bytes(fr))


def test_flow_moves_only_after_the_old_backlog_drained() -> None:
    loop, host, core, nic, sink = _rfs_host()
    h = _hash(nic, 7000)
    table = get_rps(host).sock_flow_table
    assert table is not None
    rflow = nic.rx_queues[0].rps_flow_table.flows[h & 4095]  # type: ignore[union-attr]
    rps_record_sock_flow(table, h, 1)  # the reader was on CPU 1 ...
    core.cpus[1].charge(2_000_000)  # ... and CPU 1 is busy for 2 ms
    _send(loop, nic, 7000, range(0, 5), 0)
    loop.run(400_000)
    assert rflow.cpu == 1 and len(core.cpus[1].sd.input_pkt_queue) == 5
    assert rflow.last_qtail == core.cpus[1].sd.input_queue_tail == 5
    # the reader migrates to CPU 2; CPU 1 still holds 5 packets of the flow
    rps_record_sock_flow(table, h, 2)
    _send(loop, nic, 7000, range(5, 10), 500_000)
    loop.run(1_500_000)
    assert rflow.cpu == 1  # did not move: that would overtake the queued packets
    assert len(core.cpus[1].sd.input_pkt_queue) == 10 and not sink.got
    assert get_rps(host).flows_moved == 0
    loop.run(3_000_000)  # CPU 1 drains its backlog
    assert core.cpus[1].sd.input_queue_head == 10 >= rflow.last_qtail
    _send(loop, nic, 7000, range(10, 15), 3_000_000)
    loop.run()
    assert rflow.cpu == 2 and get_rps(host).flows_moved == 1
    got = _seq_sink(sink)
    assert [seq for _, seq in got] == list(range(15))  # in order throughout
    assert [cpu for cpu, _ in got] == [1] * 10 + [2] * 5


def test_idle_flow_moves_at_once() -> None:
    loop, host, _core, nic, sink = _rfs_host()
    h = _hash(nic, 7100)
    table = get_rps(host).sock_flow_table
    assert table is not None
    rps_record_sock_flow(table, h, 1)
    _send(loop, nic, 7100, range(0, 3), 0)
    loop.run()
    rps_record_sock_flow(table, h, 3)
    _send(loop, nic, 7100, range(3, 6), loop.now_ns() + 1000)
    loop.run()
    assert [cpu for cpu, _ in _seq_sink(sink)] == [1, 1, 1, 3, 3, 3]


def test_changing_rps_sock_flow_entries_takes_effect() -> None:
    loop, host, _core, nic, sink = _rfs_host()
    h = _hash(nic, 7200)
    sock_table = get_rps(host).sock_flow_table
    assert sock_table is not None
    rps_record_sock_flow(sock_table, h, 2)
    _send(loop, nic, 7200, range(0, 2), 0)
    loop.run()
    host.sysctl.set("net.core.rps_sock_flow_entries", 0)  # RFS off: no steering
    _send(loop, nic, 7200, range(2, 4), loop.now_ns() + 1000)
    loop.run()
    host.sysctl.set("net.core.rps_sock_flow_entries", 128)  # a fresh, empty table
    _send(loop, nic, 7200, range(4, 6), loop.now_ns() + 1000)
    loop.run()
    new_table = get_rps(host).sock_flow_table
    assert new_table is not None
    rps_record_sock_flow(new_table, h, 3)
    _send(loop, nic, 7200, range(6, 8), loop.now_ns() + 1000)
    loop.run()
    assert [cpu for cpu, _ in _seq_sink(sink)] == [2, 2, 0, 0, 0, 0, 3, 3]


def test_sock_rps_save_rxhash() -> None:
    class Sk:
        sk_rxhash = 0

    skb = build_skb(bytearray(64))
    sk = Sk()
    sock_rps_save_rxhash(sk, skb)
    assert sk.sk_rxhash == 0  # no hash: keep what it had
    skb.hash = 0x1234
    sock_rps_save_rxhash(sk, skb)
    assert sk.sk_rxhash == 0x1234
