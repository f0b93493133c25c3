"""Two tuxnet hosts on one simulated Ethernet link, with IPv4 and UDP, for the UDP and
socket tests: h1 10.0.0.1/24 and h2 10.0.0.2/24 (SimNic eth0 each, plus lo), on a
SimLoop (virtual time) or a RealLoop (real time, veth pair: nothing touches the OS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuxnet.core.dev import dev_open
from tuxnet.core.netcore import get_core, register_netdevice
from tuxnet.drivers.loopback import loopback_init
from tuxnet.drivers.simnic import SimNic, connect_simnics
from tuxnet.drivers.veth import veth_pair
from tuxnet.host import Host
from tuxnet.ipv4.devinet import NETDEV_UP, inet_netdev_event, inet_state
from tuxnet.ipv4.inet import inet_init
from tuxnet.ipv4.udp import udp_init
from tuxnet.loop import EventLoop, RealLoop, SimLoop
from tuxnet.sim.topology import Topology
from tuxnet.wire.addr import ip_int
from tuxnet.wire.build import udp_frame

MS = 1_000_000
SEC = 1_000_000_000
A1 = "10.0.0.1"
A2 = "10.0.0.2"


@dataclass
class Net:
    """The two hosts, their devices and the loop they share."""

    loop: EventLoop
    h1: Host
    h2: Host
    eth1: Any
    eth2: Any

    def frame_to_h2(self, sport: int, dport: int, payload: bytes, *, src: str = A1,
                    dst: str = A2, checksum: bool = True) -> bytearray:
        """An Ethernet/IPv4/UDP frame from h1's MAC to h2's (caller may corrupt it)."""
        return udp_frame(bytes(self.eth1.dev_addr), bytes(self.eth2.dev_addr), src, dst,
                         sport, dport, payload, checksum=checksum)

    def inject_h2(self, frame: bytes | bytearray) -> None:
        """``frame`` arrives at h2's NIC as if from the wire, then the loop runs on."""
        self.eth2.receive_frame(bytes(frame))

    def settle(self, ns: int = 50 * MS) -> None:
        """Run the simulation ``ns`` further (virtual time only)."""
        loop = self.loop
        assert isinstance(loop, SimLoop)
        loop.run(loop.now_ns() + ns)

    def tcp_bulk(self, data: bytes, *, port: int = 5001, steps: int = 20_000,
                 at_step: dict[int, Any] | None = None) -> tuple[Any, Any, bytes]:
        """h1 connects to h2:``port`` and writes ``data`` while h2 reads, 1 ms of
        virtual time per step (``at_step[n]()`` runs before step n): (client, server,
        what h2 read). TCP must be initialised on both hosts (tcp_v4_init)."""
        from contextlib import suppress

        from tuxnet.tcp import proto
        from tuxnet.tcp.netns import tcp_net

        lst = proto.tcp_v4_init_sock(self.h2)
        lst.inet_rcv_saddr = lst.inet_saddr = 0
        assert tcp_net(self.h2).get_port(lst, port) == 0
        proto.inet_listen(lst, 8)
        cli = proto.tcp_v4_init_sock(self.h1)
        with suppress(BlockingIOError):
            proto.inet_stream_connect(cli, ip_int(A2), port, 0)
        srv = proto.inet_csk_accept(lst, 10_000 * MS)
        sent, got = 0, bytearray()
        for step in range(steps):
            if at_step and step in at_step:
                at_step[step]()
            while sent < len(data):
                try:
                    sent += proto.tcp_sendmsg(cli, data[sent:sent + 65536], 0, 0)
                except BlockingIOError:
                    break
            while True:
                try:
                    got += proto.tcp_recvmsg(srv, 1 << 20, 0, 0)
                except BlockingIOError:
                    break
            if len(got) == len(data):
                break
            self.settle(1 * MS)
        return cli, srv, bytes(got)


def _ipv4(host: Host, lo: Any, dev: Any, addr: str) -> None:
    inet_init(host)
    inet_netdev_event(host, lo, NETDEV_UP)
    inet_netdev_event(host, dev, NETDEV_UP)
    inet_state(host).addr_add(dev, ip_int(addr), 24)
    udp_init(host)


def two_hosts(*, seed: int = 1, rate_bps: int | None = None,
              delay_ns: int | None = None, loss: float = 0.0, **link: Any) -> Net:
    """h1 and h2 on a SimNic-to-SimNic link in virtual time (link parameters optional;
    ``link``: more LinkConfig fields)."""
    loop = SimLoop()
    topo = Topology(loop, seed=seed)
    hosts: list[Host] = []
    nics: list[SimNic] = []
    for i in (1, 2):
        h = Host(loop, f"h{i}", seed=seed)
        get_core(h)
        lo = loopback_init(h)
        nic = SimNic("eth0", mac=bytes([2, 0, 0, 0, 0, i]))
        register_netdevice(h, nic)
        dev_open(nic)
        _ipv4(h, lo, nic, f"10.0.0.{i}")
        hosts.append(h)
        nics.append(nic)
    params: dict[str, Any] = dict(link)
    if rate_bps is not None:
        params["rate_bps"] = rate_bps
    if delay_ns is not None:
        params["delay_ns"] = delay_ns
    if loss:
        params["loss"] = loss
    connect_simnics(topo, nics[0], nics[1], **params)
    return Net(loop, hosts[0], hosts[1], nics[0], nics[1])


def two_hosts_real() -> Net:
    """h1 and h2 joined by a veth pair, running on a RealLoop (no OS networking)."""
    loop = RealLoop()
    h1 = Host(loop, "h1", seed=1)
    h2 = Host(loop, "h2", seed=1)
    for h in (h1, h2):
        get_core(h)
    a, b = veth_pair(h1, "veth0", h2, "veth1")
    for h, dev, addr in ((h1, a, A1), (h2, b, A2)):
        lo = loopback_init(h)
        dev_open(dev)
        _ipv4(h, lo, dev, addr)
    return Net(loop, h1, h2, a, b)


def one_host(name: str = "h") -> Host:
    """A host with only ``lo`` (127.0.0.1/8), IPv4 and UDP, in virtual time."""
    loop = SimLoop()
    h = Host(loop, name, seed=1)
    get_core(h)
    lo = loopback_init(h)
    inet_init(h)
    inet_netdev_event(h, lo, NETDEV_UP)
    udp_init(h)
    return h


def recv_exactly(s: Any, n: int) -> bytes:
    """Blocking reads until ``n`` bytes arrived."""
    buf = bytearray()
    while len(buf) < n:
        data = s.recv(min(65536, n - len(buf)))
        assert data, "unexpected end of stream"
        buf += data
    return bytes(buf)
