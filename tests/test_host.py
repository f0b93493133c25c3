"""Host: one kernel instance with sysctls, MIB, tracepoints, drop accounting, devices."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tuxnet.dropreason import SkbDropReason
from tuxnet.host import IFF_LOOPBACK, Host, HostError
from tuxnet.loop import SimLoop
from tuxnet.trace import TraceEvent


class FakeSkb:
    def __init__(self, length: int = 60, protocol: int = 0x0800) -> None:
        self.len = length
        self.protocol = protocol
        self.freed = 0

    def free(self) -> None:
        self.freed += 1


@dataclass
class FakeDev:
    name: str
    flags: int = 0
    ifindex: int = 0


def test_host_shape() -> None:
    loop = SimLoop()
    host = Host(loop, "h1", ncpus=4, seed=7)
    assert host.loop is loop and host.name == "h1" and host.ncpus == 4
    assert host.sysctl.get("net.ipv4.ip_default_ttl") == 64
    assert host.mib.tcp.RtoMin == 200
    assert "skb:kfree_skb" in host.tracepoints
    assert host.devices == {} and not host.drop_counts
    loop.call_later(2500, lambda: None)
    loop.run()
    assert host.now_ns() == 2500
    with pytest.raises(HostError, match="ncpus"):
        Host(loop, ncpus=0)


def test_rng_is_seeded_by_seed_and_name() -> None:
    loop = SimLoop()

    def draw(name: str, seed: int) -> list[float]:
        rng = Host(loop, name, seed=seed).rng
        return [rng.random() for _ in range(5)]

    assert draw("a", 1) == draw("a", 1)
    assert draw("a", 1) != draw("b", 1)
    assert draw("a", 1) != draw("a", 2)


def test_kfree_skb_counts_emits_and_frees() -> None:
    loop = SimLoop(start_ns=1_000_000)
    host = Host(loop)
    events: list[TraceEvent] = []
    host.tracepoints.subscribe("skb:kfree_skb", events.append)
    host.current_cpu = 2
    skb = FakeSkb()
    host.kfree_skb(skb, SkbDropReason.NO_SOCKET, "udp_rcv")

    def tcp_v4_rcv() -> None:
        host.kfree_skb(FakeSkb(), SkbDropReason.TCP_CSUM)

    tcp_v4_rcv()
    assert skb.freed == 1
    assert host.drop_counts == {SkbDropReason.NO_SOCKET: 1, SkbDropReason.TCP_CSUM: 1}
    assert [e.fields["location"] for e in events] == ["udp_rcv", "tcp_v4_rcv"]
    ev = events[0]
    assert ev.fields["skbaddr"] == id(skb)
    assert ev.fields["reason"] is SkbDropReason.NO_SOCKET
    assert ev.fields["protocol"] == 0x0800
    assert ev.ts_ns == 1_000_000 and ev.cpu == 2
    host.tracepoints.enable("skb:kfree_skb")
    host.kfree_skb(FakeSkb(), SkbDropReason.NETFILTER_DROP, "nf_hook_slow")
    line = host.tracepoints.trace_text().splitlines()[-1]
    assert line.startswith("          <idle>-0       [002] ..s1.     0.001000: kfree_skb: ")
    assert line.endswith("protocol=2048 location=nf_hook_slow reason: NETFILTER_DROP")


def test_kfree_skb_works_without_listeners_or_free_method() -> None:
    host = Host(SimLoop())

    class Bare:
        len = 10

    host.kfree_skb(Bare())
    assert host.drop_counts[SkbDropReason.NOT_SPECIFIED] == 1


def test_consume_skb_is_not_a_drop() -> None:
    host = Host(SimLoop())
    consumed: list[TraceEvent] = []
    drops: list[TraceEvent] = []
    host.tracepoints.subscribe("skb:consume_skb", consumed.append)
    host.tracepoints.subscribe("skb:kfree_skb", drops.append)
    skb = FakeSkb()
    host.consume_skb(skb)
    host.kfree_skb(skb, SkbDropReason.CONSUMED)  # kfree_skb_reason(SKB_CONSUMED)
    assert skb.freed == 2
    assert len(consumed) == 2 and drops == []
    assert not host.drop_counts
    assert consumed[0].fields["location"] == "test_consume_skb_is_not_a_drop"


def test_format_drops() -> None:
    host = Host(SimLoop())
    for _ in range(3):
        host.kfree_skb(FakeSkb(), SkbDropReason.NO_SOCKET, "udp_rcv")
    host.kfree_skb(FakeSkb(), SkbDropReason.IP_CSUM, "ip_rcv_core")
    assert host.format_drops() == (
        "   drops  reason\n"
        "       3  NO_SOCKET\n"
        "       1  IP_CSUM\n"
        "       4  total\n"
        "3 drops at udp_rcv [NO_SOCKET]\n"
        "1 drops at ip_rcv_core [IP_CSUM]\n"
    )


def test_register_netdev_creates_sysctl_trees() -> None:
    host = Host(SimLoop())
    lo = FakeDev("lo", flags=IFF_LOOPBACK)
    eth = FakeDev("eth0")
    host.register_netdev(lo)
    host.register_netdev(eth)
    assert (lo.ifindex, eth.ifindex) == (1, 2)
    assert host.devices == {"lo": lo, "eth0": eth}
    assert host.sysctl.get("net.ipv4.conf.lo.disable_policy") == 1
    assert host.sysctl.get("net.ipv4.conf.eth0.disable_policy") == 0
    assert host.sysctl.get("net.ipv4.neigh.eth0.ucast_solicit") == 3
    with pytest.raises(HostError, match="File exists"):
        host.register_netdev(FakeDev("eth0"))
    assert host.unregister_netdev("eth0") is eth
    assert "net.ipv4.conf.eth0.forwarding" not in host.sysctl
    with pytest.raises(HostError, match="Cannot find device"):
        host.unregister_netdev("eth0")


def test_sysctl_change_reaches_mib_output() -> None:
    host = Host(SimLoop())
    host.sysctl.set("net.ipv4.ip_forward", "1")
    assert host.mib.format_snmp().splitlines()[1].startswith("Ip: 1 64 ")
