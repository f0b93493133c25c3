"""ip_route_output_key / ip_route_input: the Rtable the output and input paths get
(type, device, nexthop, source, metrics, errors), martians, rp_filter, redirects, the
route cache and its invalidation, /proc/net/route."""

from __future__ import annotations

import errno
import io

import pytest

from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.ipv4.devinet import InetState, inet_state
from tuxnet.ipv4.fib_semantics import (
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTAX_INITCWND,
    RTCF_BROADCAST,
    RTCF_DOREDIRECT,
    RTCF_LOCAL,
    RTN_BLACKHOLE,
    RTN_BROADCAST,
    RTN_LOCAL,
    RTN_MULTICAST,
    RTN_PROHIBIT,
    RTN_UNICAST,
    RTN_UNREACHABLE,
    RTPROT_KERNEL,
)
from tuxnet.ipv4.route import ip_route_input, ip_route_output_key
from tuxnet.loop import SimLoop
from tuxnet.tools.ip_cmd import run as ip_run
from tuxnet.wire.addr import ip_int, ip_str

IFF_UP, IFF_LOOPBACK, IFF_CARRIER = 0x1, 0x8, 0x10040


def ipc(host: Host, cmd: str) -> int:
    """Run one ``ip`` command line, discarding its output."""
    return ip_run(host, cmd.split(), io.StringIO())


class Dev:
    def __init__(self, name: str, flags: int, mtu: int = 1500) -> None:
        self.name = name
        self.ifindex = 0
        self.flags = flags
        self.mtu = mtu


@pytest.fixture()
def net() -> tuple[Host, InetState, Dev, Dev]:
    host = Host(SimLoop(), "r")
    lo = Dev("lo", IFF_LOOPBACK | IFF_UP | IFF_CARRIER, 65536)
    eth0 = Dev("eth0", 0x1002 | IFF_UP | IFF_CARRIER)
    eth1 = Dev("eth1", 0x1002 | IFF_UP | IFF_CARRIER, 9000)
    for dev in (lo, eth0, eth1):
        host.register_netdev(dev)
    st = inet_state(host)
    for cmd in ("addr add 10.0.0.2/24 dev eth0", "addr add 10.1.0.2/24 dev eth1",
                "route add default via 10.0.0.1 proto static metric 100",
                "route add 10.9.0.0/16 via 10.1.0.1 mtu 1300 congctl lock cubic initcwnd 20",
                "route add unreachable 192.168.1.0/24", "route add blackhole 192.168.2.0/24",
                "route add prohibit 192.168.3.0/24"):
        buf = io.StringIO()
        assert ip_run(host, cmd.split(), buf) == 0, buf.getvalue()
    return host, st, eth0, eth1


def out(st: InetState, daddr: str, saddr: str = "0.0.0.0", oif: int = 0):  # type: ignore[no-untyped-def]
    return ip_route_output_key(st, ip_int(daddr), ip_int(saddr), oif)


def test_output_routes(net: tuple[Host, InetState, Dev, Dev]) -> None:
    host, st, eth0, eth1 = net
    rt = out(st, "10.0.0.7")
    assert (rt.type, rt.dev, ip_str(rt.nexthop()), ip_str(rt.saddr)) == \
        (RTN_UNICAST, eth0, "10.0.0.7", "10.0.0.2")
    assert (rt.table, rt.scope, rt.protocol, rt.mtu) == (RT_TABLE_MAIN, 253, RTPROT_KERNEL, 1500)
    rt = ip_route_output_key(host, ip_int("8.8.8.8"))  # a Host works too
    assert (rt.dev, ip_str(rt.nexthop()), ip_str(rt.saddr), rt.uses_gateway) == \
        (eth0, "10.0.0.1", "10.0.0.2", True)
    rt = out(st, "10.9.3.4")
    assert (rt.dev, ip_str(rt.gw), ip_str(rt.saddr)) == (eth1, "10.1.0.1", "10.1.0.2")
    assert (rt.mtu, rt.congctl, rt.congctl_locked, rt.metric(RTAX_INITCWND)) == \
        (1300, "cubic", True, 20)
    assert rt.advmss == 1260
    rt = out(st, "10.0.0.2")
    assert (rt.type, rt.dev.name if rt.dev else None, rt.flags & RTCF_LOCAL, rt.table) == \
        (RTN_LOCAL, "lo", RTCF_LOCAL, RT_TABLE_LOCAL)
    rt = out(st, "10.1.0.255")
    assert (rt.type, rt.dev, rt.flags & RTCF_BROADCAST) == (RTN_BROADCAST, eth1, RTCF_BROADCAST)
    assert out(st, "224.0.0.1").type == RTN_MULTICAST


@pytest.mark.parametrize(("dst", "rtype", "err"), [
    ("192.168.1.1", RTN_UNREACHABLE, errno.EHOSTUNREACH),
    ("192.168.2.1", RTN_BLACKHOLE, errno.EINVAL),
    ("192.168.3.1", RTN_PROHIBIT, errno.EACCES)])
def test_output_reject_routes(net: tuple[Host, InetState, Dev, Dev], dst: str, rtype: int,
                              err: int) -> None:
    rt = out(net[1], dst)
    assert (rt.type, rt.error, rt.dev) == (rtype, err, None)


def test_output_source_and_oif(net: tuple[Host, InetState, Dev, Dev]) -> None:
    host, st, eth0, eth1 = net
    assert out(st, "8.8.8.8", "1.2.3.4").error == errno.ENETUNREACH  # not our address
    assert out(st, "8.8.8.8", "127.0.0.1").error == errno.EINVAL    # loopback off lo
    rt = out(st, "8.8.8.8", "10.1.0.2")
    assert (rt.dev, ip_str(rt.saddr)) == (eth0, "10.1.0.2")
    rt = out(st, "10.0.0.7", oif=eth1.ifindex)  # no route via eth1: assumed on-link
    assert (rt.dev, rt.uses_gateway, ip_str(rt.saddr)) == (eth1, False, "10.1.0.2")
    assert out(st, "8.8.8.8", oif=99).error == errno.ENODEV
    ipc(host, "route del default")
    assert out(st, "8.8.8.8").error == errno.ENETUNREACH


def test_output_cache_and_invalidation(net: tuple[Host, InetState, Dev, Dev]) -> None:
    host, st, _eth0, eth1 = net
    first = out(st, "8.8.8.8")
    assert out(st, "8.8.8.8") is first and first.genid == st.rt_genid
    ipc(host, "route add 8.8.8.0/24 via 10.1.0.1")
    assert first.genid != st.rt_genid  # dst_check fails: look up again
    assert out(st, "8.8.8.8").dev is eth1


def test_input_routes(net: tuple[Host, InetState, Dev, Dev]) -> None:
    _host, st, eth0, _eth1 = net
    src = ip_int("10.0.0.9")
    rt = ip_route_input(st, ip_int("10.0.0.2"), src, 0, eth0)
    assert (rt.type, rt.input, rt.dev.name if rt.dev else None) == \
        (RTN_LOCAL, "ip_local_deliver", "lo")
    rt = ip_route_input(st, ip_int("10.0.0.255"), src, 0, eth0)
    assert (rt.type, rt.input) == (RTN_BROADCAST, "ip_local_deliver")
    rt = ip_route_input(st, ip_int("255.255.255.255"), 0, 0, eth0)
    assert (rt.type, rt.input) == (RTN_BROADCAST, "ip_local_deliver")
    rt = ip_route_input(st, ip_int("224.0.0.1"), src, 0, eth0)
    assert (rt.type, rt.input) == (RTN_MULTICAST, "ip_local_deliver")
    rt = ip_route_input(st, ip_int("10.9.1.1"), src, 0, eth0)  # forwarding is off
    assert (rt.type, rt.input, rt.error) == (RTN_UNREACHABLE, "ip_error", errno.EHOSTUNREACH)


def test_input_forwarding(net: tuple[Host, InetState, Dev, Dev]) -> None:
    host, st, eth0, eth1 = net
    host.sysctl.set("net.ipv4.ip_forward", 1)  # flushes the route cache
    src = ip_int("10.0.0.9")
    rt = ip_route_input(st, ip_int("10.9.1.1"), src, 0, eth0)
    assert (rt.input, rt.dev, ip_str(rt.nexthop()), rt.mtu) == \
        ("ip_forward", eth1, "10.1.0.1", 1300)
    rt = ip_route_input(st, ip_int("8.8.8.8"), src, 0, eth0)  # back out of eth0
    assert rt.input == "ip_forward" and rt.flags & RTCF_DOREDIRECT
    for dst, err in (("192.168.1.1", errno.EHOSTUNREACH), ("192.168.2.1", errno.EINVAL),
                     ("192.168.3.1", errno.EACCES)):
        rt = ip_route_input(st, ip_int(dst), src, 0, eth0)
        assert (rt.input, rt.error) == ("ip_error", err)


def test_input_martians_and_rp_filter(net: tuple[Host, InetState, Dev, Dev]) -> None:
    host, st, eth0, _eth1 = net
    host.sysctl.set("net.ipv4.ip_forward", 1)
    # the drop reasons ip_route_input_slow / __mkroute_input give since Linux 6.13
    for src, reason in (("10.0.0.2", SkbDropReason.IP_LOCAL_SOURCE),
                        ("127.0.0.1", SkbDropReason.IP_LOCALNET),
                        ("224.0.0.5", SkbDropReason.IP_INVALID_SOURCE),
                        ("0.0.0.0", SkbDropReason.IP_INVALID_SOURCE)):
        rt = ip_route_input(st, ip_int("10.9.1.1"), ip_int(src), 0, eth0)
        assert (rt.input, rt.error, rt.drop_reason) == ("", errno.EINVAL, reason), src
    assert ip_route_input(st, ip_int("127.0.0.1"), ip_int("10.0.0.9"), 0, eth0).input == ""
    spoofed = ip_int("10.1.0.9")  # eth1's subnet arriving on eth0
    assert ip_route_input(st, ip_int("10.9.1.1"), spoofed, 0, eth0).input == "ip_forward"
    host.sysctl.set("net.ipv4.conf.all.rp_filter", 1)
    rt = ip_route_input(st, ip_int("10.9.1.1"), spoofed, 0, eth0)
    assert (rt.error, rt.drop_reason) == (errno.EXDEV, SkbDropReason.IP_RPFILTER)
    host.sysctl.set("net.ipv4.conf.all.rp_filter", 2)  # loose: any route back will do
    assert ip_route_input(st, ip_int("10.9.1.1"), spoofed, 0, eth0).input == "ip_forward"


def test_lookup_speed_with_cache(net: tuple[Host, InetState, Dev, Dev]) -> None:
    host, st, eth0, _eth1 = net
    for i in range(200):
        ipc(host, f"route add 172.{16 + i % 16}.{i}.0/24 via 10.0.0.1")
    daddrs = [ip_int(f"172.{16 + i % 16}.{i % 200}.{i % 250 + 1}") for i in range(2000)]
    for d in daddrs:
        rt = ip_route_output_key(st, d)
        assert rt.dev is eth0 and not rt.error
    assert len(st.out_cache) == len(set(daddrs))
