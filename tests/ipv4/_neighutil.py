"""Shared set-up for the neighbour/ARP tests: a host on a SimLoop with Ethernet-like
devices, an address table standing in for devinet (is_local, inet_select_addr,
inet_confirm_addr) and a transmit hook that records every frame."""

from __future__ import annotations

from dataclasses import dataclass, field

from tuxnet.host import Host
from tuxnet.ipv4.arp import Arp, arp_init
from tuxnet.ipv4.neighbour import Neighbour, NeighTable
from tuxnet.loop.sim import SimLoop
from tuxnet.skb import PACKET_BROADCAST, PACKET_HOST, SkBuff, alloc_skb
from tuxnet.wire import ETH_P_IP, ip_int, mac_bytes

MS = 1_000_000
SEC = 1_000_000_000
IFF_UP_BCAST_MCAST = 0x1 | 0x2 | 0x1000
RT_SCOPE_HOST = 254


@dataclass
class FakeDev:
    """The NetDevice attributes the neighbour layer reads."""

    name: str
    dev_addr: bytes
    ifindex: int = 0
    broadcast: bytes = b"\xff" * 6
    flags: int = IFF_UP_BCAST_MCAST
    mtu: int = 1500


@dataclass
class Frame:
    """One transmitted frame."""

    t: int
    dev: str
    data: bytes

    @property
    def eth_dst(self) -> bytes:
        return self.data[0:6]

    @property
    def ethertype(self) -> int:
        return int.from_bytes(self.data[12:14], "big")

    @property
    def arp_op(self) -> int:
        return int.from_bytes(self.data[20:22], "big")

    @property
    def arp_spa(self) -> int:
        return int.from_bytes(self.data[28:32], "big")

    @property
    def arp_tha(self) -> bytes:
        return self.data[32:38]

    @property
    def arp_tpa(self) -> int:
        return int.from_bytes(self.data[38:42], "big")


@dataclass
class Net:
    """A host, its devices, its addresses and what it sent."""

    loop: SimLoop
    host: Host
    arp: Arp
    devs: dict[str, FakeDev]
    addrs: dict[str, list[tuple[int, int, int]]]  # dev -> (addr, prefixlen, scope)
    sent: list[Frame] = field(default_factory=list)
    unreachable: list[SkBuff] = field(default_factory=list)

    @property
    def tbl(self) -> NeighTable:
        return self.arp.tbl

    def run_until(self, t_ns: int) -> None:
        self.loop.run(until_ns=t_ns)

    def entry(self, ip: str, dev: str = "eth0") -> Neighbour | None:
        return self.tbl.lookup_noref(ip_int(ip), self.devs[dev])

    def arps(self) -> list[Frame]:
        return [f for f in self.sent if f.ethertype == 0x0806]

    def ip_frames(self) -> list[Frame]:
        return [f for f in self.sent if f.ethertype == ETH_P_IP]

    def set(self, name: str, value: int) -> None:
        if ".neigh.default.gc_" in name:
            # table-wide knob: written like the kernel does (sysctl.set propagates
            # neigh.default.* to the devices and has no per-device gc_thresh entries)
            self.host.sysctl.kernel_set(name, value)
        else:
            self.host.sysctl.set(name, value)


def _mask(plen: int) -> int:
    return (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0


def make_net(addrs: dict[str, list[str]] | None = None, seed: int = 1) -> Net:
    """Host ``h`` with eth0 (02:00:00:00:00:01, 10.0.0.1/24) and eth1
    (02:00:00:00:01:01, 10.0.1.1/24) unless ``addrs`` says otherwise."""
    if addrs is None:
        addrs = {"eth0": ["10.0.0.1/24"], "eth1": ["10.0.1.1/24"]}
    loop = SimLoop()
    host = Host(loop, "h", seed=seed)
    devs: dict[str, FakeDev] = {}
    table: dict[str, list[tuple[int, int, int]]] = {}
    for i, (name, cidrs) in enumerate(addrs.items()):
        dev = FakeDev(name, bytes([2, 0, 0, 0, i, 1]))
        host.register_netdev(dev)
        devs[name] = dev
        table[name] = []
        for cidr in cidrs:
            a, _, plen = cidr.partition("/")
            table[name].append((ip_int(a), int(plen or 32), 0))

    def is_local(addr: int, dev: object) -> bool:
        return any(addr == a for lst in table.values() for a, _, _ in lst)

    def select_src(dev: FakeDev, dst: int) -> int:  # inet_select_addr, simplified
        lst = table.get(dev.name, [])
        for a, plen, _ in lst:
            if (a ^ dst) & _mask(plen) == 0:
                return a
        return lst[0][0] if lst else 0

    def confirm_addr(dev: FakeDev | None, dst: int, local: int, scope: int) -> bool:
        names = [dev.name] if dev is not None else list(table)
        for name in names:
            for a, plen, sc in table[name]:
                if sc > scope:
                    continue
                if local and a != local:
                    continue
                if dst and (a ^ dst) & _mask(plen):
                    continue
                return True
        return False

    net = Net(loop, host, None, devs, table)  # type: ignore[arg-type]

    def xmit(skb: SkBuff) -> int:
        net.sent.append(Frame(loop.now_ns(), skb.dev.name, bytes(skb.data)))
        host.consume_skb(skb)
        return 0

    net.arp = arp_init(host, xmit=xmit, is_local=is_local, select_src=select_src,
                       confirm_addr=confirm_addr, on_unreachable=net.unreachable.append)
    return net


def ip_skb(src: str, dst: str, payload: int = 100) -> SkBuff:
    """An IPv4 packet as ip_finish_output2 hands it on: data at the IP header."""
    skb = alloc_skb(payload + 20 + 64)
    skb.reserve(64)
    skb.reset_network_header()
    hdr = skb.put(20 + payload)
    hdr[0] = 0x45
    hdr[12:16] = ip_int(src).to_bytes(4, "big")
    hdr[16:20] = ip_int(dst).to_bytes(4, "big")
    skb.protocol = ETH_P_IP
    return skb


def send(net: Net, dst: str, src: str = "10.0.0.1", dev: str = "eth0",
         payload: int = 100) -> SkBuff:
    skb = ip_skb(src, dst, payload)
    net.arp.ip_neigh_output(skb, net.devs[dev], ip_int(dst))
    return skb


def arp_packet(op: int, sha: str, spa: str, tha: str, tpa: str, *, hln: int = 6,
               pln: int = 4, hrd: int = 1, pro: int = 0x0800) -> bytes:
    """The 28-byte ARP header (no Ethernet header: arp_rcv sees data at the ARP)."""
    return (hrd.to_bytes(2, "big") + pro.to_bytes(2, "big") + bytes([hln, pln]) +
            op.to_bytes(2, "big") + mac_bytes(sha) + ip_int(spa).to_bytes(4, "big") +
            mac_bytes(tha) + ip_int(tpa).to_bytes(4, "big"))


def rx(net: Net, payload: bytes, dev: str = "eth0", *, broadcast: bool = False) -> int:
    """Hand ``payload`` (an ARP header) to arp_rcv as eth_type_trans leaves it."""
    skb = alloc_skb(len(payload) + 64)
    skb.reserve(64)
    skb.put_data(payload)
    skb.pkt_type = PACKET_BROADCAST if broadcast else PACKET_HOST
    skb.protocol = 0x0806
    return net.arp.arp_rcv(skb, net.devs[dev])


def reply(net: Net, sha: str, spa: str, tpa: str = "10.0.0.1", dev: str = "eth0",
          *, broadcast: bool = False) -> int:
    mac = net.devs[dev].dev_addr.hex(":")
    return rx(net, arp_packet(2, sha, spa, mac, tpa), dev, broadcast=broadcast)


def request(net: Net, sha: str, spa: str, tpa: str, dev: str = "eth0") -> int:
    return rx(net, arp_packet(1, sha, spa, "00:00:00:00:00:00", tpa), dev, broadcast=True)
