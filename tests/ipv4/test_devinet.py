"""Interface addresses and the kernel routes they make, as Linux lists them
(fib_add_ifaddr / fib_del_ifaddr / fib_disable_ip), device events, address selection
and nexthop validation."""

from __future__ import annotations

import io

import pytest

from tuxnet.host import Host
from tuxnet.ipv4.devinet import (
    IFA_F_SECONDARY,
    NETDEV_CHANGE,
    NETDEV_DOWN,
    NETDEV_UNREGISTER,
    NETDEV_UP,
    InetState,
    inet_netdev_event,
    inet_state,
)
from tuxnet.ipv4.fib_semantics import (
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_SCOPE_UNIVERSE,
    FibConfig,
    RtnlError,
)
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


def make_host() -> tuple[Host, InetState, Dev, Dev]:
    host = Host(SimLoop(), "h")
    lo = Dev("lo", IFF_LOOPBACK | IFF_UP | IFF_CARRIER, 65536)
    eth0 = Dev("eth0", 0x1002 | IFF_UP | IFF_CARRIER)
    eth1 = Dev("eth1", 0x1002 | IFF_UP | IFF_CARRIER)
    for dev in (lo, eth0, eth1):
        host.register_netdev(dev)
    return host, inet_state(host), eth0, eth1


def routes(host: Host, table: str = "all") -> list[str]:
    buf = io.StringIO()
    assert ip_run(host, ["route", "show", "table", table], buf) == 0
    return [line.rstrip() for line in buf.getvalue().splitlines()]


def add(st: InetState, dev: Dev, cidr: str, **kw: object) -> None:
    addr, _, plen = cidr.partition("/")
    st.addr_add(dev, ip_int(addr), int(plen), **kw)  # type: ignore[arg-type]


LO_ROUTES = ["local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1",
             "local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1",
             "broadcast 127.255.255.255 dev lo table local proto kernel scope link src "
             "127.0.0.1"]


def test_lo_gets_127_0_0_1_when_up() -> None:
    host, st, _, _ = make_host()
    assert routes(host) == LO_ROUTES
    lo = host.devices["lo"]
    ifa = st.in_dev(lo).ifa_list[0]  # type: ignore[arg-type]
    assert (ip_str(ifa.local), ifa.prefixlen, ifa.scope) == ("127.0.0.1", 8, RT_SCOPE_HOST)


def test_address_adds_local_broadcast_and_prefix_routes() -> None:
    host, st, eth0, _ = make_host()
    add(st, eth0, "10.0.0.2/24")
    assert routes(host) == [
        "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2",
        "local 10.0.0.2 dev eth0 table local proto kernel scope host src 10.0.0.2",
        "broadcast 10.0.0.255 dev eth0 table local proto kernel scope link src 10.0.0.2",
        *LO_ROUTES]


def test_secondary_address_in_same_subnet() -> None:
    host, st, eth0, _ = make_host()
    add(st, eth0, "10.0.0.2/24")
    add(st, eth0, "10.0.0.3/24")
    add(st, eth0, "10.0.0.4/16")  # another mask: another primary
    flags = [(ip_str(i.local), bool(i.flags & IFA_F_SECONDARY))
             for i in st.in_dev(eth0).ifa_list]
    assert flags == [("10.0.0.2", False), ("10.0.0.4", False), ("10.0.0.3", True)]
    assert "local 10.0.0.3 dev eth0 table local proto kernel scope host src 10.0.0.2" in \
        routes(host)
    with pytest.raises(RtnlError, match="Address already assigned"):
        add(st, eth0, "10.0.0.3/24")
    with pytest.raises(RtnlError, match="Invalid scope value"):
        add(st, eth0, "10.0.0.5/24", scope=RT_SCOPE_LINK)


def test_host_and_point_to_point_prefixes() -> None:
    host, st, eth0, _ = make_host()
    add(st, eth0, "192.168.0.1/32")
    add(st, eth0, "172.16.0.1/31")
    add(st, eth0, "172.18.0.1/24", broadcast=ip_int("172.18.0.128"))
    assert routes(host) == [
        "172.16.0.0/31 dev eth0 proto kernel scope link src 172.16.0.1",
        "172.18.0.0/24 dev eth0 proto kernel scope link src 172.18.0.1",
        *LO_ROUTES,
        "local 172.16.0.1 dev eth0 table local proto kernel scope host src 172.16.0.1",
        "local 172.18.0.1 dev eth0 table local proto kernel scope host src 172.18.0.1",
        "broadcast 172.18.0.128 dev eth0 table local proto kernel scope link src 172.18.0.1",
        "broadcast 172.18.0.255 dev eth0 table local proto kernel scope link src 172.18.0.1",
        "local 192.168.0.1 dev eth0 table local proto kernel scope host src 192.168.0.1"]


def test_device_down_and_up() -> None:
    host, st, eth0, _ = make_host()
    add(st, eth0, "10.0.0.2/24")
    ipc(host, "route add default via 10.0.0.1 proto static")
    ipc(host, "route add 10.5.0.0/16 via 10.0.0.1 table 100")
    eth0.flags &= ~(IFF_UP | IFF_CARRIER)
    inet_netdev_event(host, eth0, NETDEV_DOWN)
    # fib_disable_ip: everything through eth0 goes, except host-scope (local) routes
    assert routes(host) == [
        "local 10.0.0.2 dev eth0 table local proto kernel scope host src 10.0.0.2",
        *LO_ROUTES]
    eth0.flags |= IFF_UP | IFF_CARRIER
    inet_netdev_event(host, eth0, NETDEV_UP)
    assert routes(host) == [  # the kernel's routes come back, the static ones do not
        "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2",
        "local 10.0.0.2 dev eth0 table local proto kernel scope host src 10.0.0.2",
        "broadcast 10.0.0.255 dev eth0 table local proto kernel scope link src 10.0.0.2",
        *LO_ROUTES]


def test_address_added_while_down_gets_prefix_route_on_up() -> None:
    host, st, eth0, _ = make_host()
    eth0.flags &= ~IFF_UP
    inet_netdev_event(host, eth0, NETDEV_DOWN)
    add(st, eth0, "10.0.0.2/24")
    assert routes(host, "main") == []
    eth0.flags |= IFF_UP
    inet_netdev_event(host, eth0, "NETDEV_UP")
    assert routes(host, "main") == ["10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2"]


def test_deleting_primary_deletes_secondaries_or_promotes() -> None:
    host, st, eth0, _ = make_host()
    add(st, eth0, "10.0.0.2/24")
    add(st, eth0, "10.0.0.3/24")
    st.addr_del(eth0, ip_int("10.0.0.2"), 24)
    assert st.in_dev(eth0).ifa_list == []
    assert routes(host) == LO_ROUTES
    host.sysctl.set("net.ipv4.conf.all.promote_secondaries", 1)
    add(st, eth0, "10.0.0.2/24")
    add(st, eth0, "10.0.0.3/24")
    ipc(host, "route add 10.8.0.0/16 dev eth0 src 10.0.0.2")
    st.addr_del(eth0, ip_int("10.0.0.2"), 24)
    ifa = st.in_dev(eth0).ifa_list[0]
    assert ip_str(ifa.local) == "10.0.0.3" and not ifa.flags & IFA_F_SECONDARY
    assert routes(host) == [  # the src 10.0.0.2 route went with the address
        "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.3",
        "local 10.0.0.3 dev eth0 table local proto kernel scope host src 10.0.0.3",
        "broadcast 10.0.0.255 dev eth0 table local proto kernel scope link src 10.0.0.3",
        *LO_ROUTES]


def test_last_address_takes_the_device_routes_along() -> None:
    host, st, eth0, _ = make_host()
    add(st, eth0, "10.0.0.2/24")
    ipc(host, "route add 10.9.0.0/16 via 10.0.0.1")
    st.addr_del(eth0, ip_int("10.0.0.2"), 24)
    assert routes(host) == LO_ROUTES
    with pytest.raises(RtnlError, match="Address not found"):
        st.addr_del(eth0, ip_int("10.0.0.2"), 24)


def test_carrier_loss_marks_linkdown() -> None:
    host, st, eth0, _ = make_host()
    add(st, eth0, "10.0.0.2/24")
    eth0.flags &= ~IFF_CARRIER
    inet_netdev_event(host, eth0, NETDEV_CHANGE)
    assert routes(host, "main") == [
        "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2 linkdown"]
    eth0.flags |= IFF_CARRIER
    inet_netdev_event(host, eth0, NETDEV_CHANGE)
    assert routes(host, "main") == ["10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2"]


def test_unregister_removes_everything() -> None:
    host, st, eth0, _ = make_host()
    add(st, eth0, "10.0.0.2/24")
    inet_netdev_event(host, eth0, NETDEV_UNREGISTER)
    assert routes(host) == LO_ROUTES
    assert st.ip_dev_find(ip_int("10.0.0.2")) is None


def test_inet_select_addr() -> None:
    host, st, eth0, eth1 = make_host()
    add(st, eth0, "10.0.0.2/24")
    add(st, eth0, "192.168.1.2/24")
    add(st, eth0, "10.0.0.3/24")  # secondary: never chosen
    add(st, eth1, "172.16.0.1/24", scope=RT_SCOPE_LINK)
    sel = st.inet_select_addr
    assert ip_str(sel(eth0, ip_int("192.168.1.77"), RT_SCOPE_UNIVERSE)) == "192.168.1.2"
    assert ip_str(sel(eth0, ip_int("8.8.8.8"), RT_SCOPE_UNIVERSE)) == "10.0.0.2"
    # eth1 has only a link-scope address: fine for link scope, else another device's
    assert ip_str(sel(eth1, 0, RT_SCOPE_LINK)) == "172.16.0.1"
    assert ip_str(sel(eth1, 0, RT_SCOPE_UNIVERSE)) == "10.0.0.2"
    lo = host.devices["lo"]
    assert ip_str(sel(lo, 0, RT_SCOPE_HOST)) == "127.0.0.1"  # type: ignore[arg-type]


def test_gateway_and_nexthop_validation() -> None:
    _host, st, eth0, eth1 = make_host()
    add(st, eth0, "10.0.0.2/24")

    def route(**kw: object) -> None:
        st.route_add(FibConfig(dst=ip_int("10.9.0.0"), plen=16, **kw))  # type: ignore[arg-type]

    with pytest.raises(RtnlError, match="Nexthop has invalid gateway"):
        route(gw=ip_int("10.9.0.5"))              # not on a connected subnet
    with pytest.raises(RtnlError, match="Nexthop has invalid gateway"):
        route(gw=ip_int("10.0.0.1"), dev=eth1)    # reachable, but not through eth1
    with pytest.raises(RtnlError, match="Invalid prefsrc address"):
        route(dev=eth0, prefsrc=ip_int("9.9.9.9"), scope=RT_SCOPE_LINK)
    route(gw=ip_int("10.9.9.9"), dev=eth1, onlink=True)  # onlink: trusted
    eth1.flags &= ~IFF_UP
    with pytest.raises(RtnlError, match="Device for nexthop is not up"):
        st.route_add(FibConfig(dst=ip_int("10.10.0.0"), plen=16, dev=eth1,
                               scope=RT_SCOPE_LINK))
    with pytest.raises(RtnlError, match="No such device"):
        st.route_add(FibConfig(dst=ip_int("10.10.0.0"), plen=16))
    with pytest.raises(RtnlError, match="Unknown tcp congestion algorithm"):
        st.route_add(FibConfig(dst=ip_int("10.11.0.0"), plen=16, gw=ip_int("10.0.0.1"),
                               congctl="nosuch"))


def test_inet_confirm_addr() -> None:
    _host, st, eth0, eth1 = make_host()
    add(st, eth0, "10.0.0.2/24")
    add(st, eth0, "192.168.1.2/24")
    conf = st.inet_confirm_addr
    assert ip_str(conf(eth0, ip_int("192.168.1.9"), 0, RT_SCOPE_LINK)) == "192.168.1.2"
    assert ip_str(conf(eth0, ip_int("10.0.0.9"), ip_int("10.0.0.2"), RT_SCOPE_HOST)) == \
        "10.0.0.2"
    assert conf(eth0, ip_int("172.16.0.9"), 0, RT_SCOPE_LINK) == 0
    assert conf(eth1, ip_int("10.0.0.9"), 0, RT_SCOPE_LINK) == 0
    assert ip_str(conf(None, ip_int("10.0.0.9"), 0, RT_SCOPE_LINK)) == "10.0.0.2"
