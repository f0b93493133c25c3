"""Live TAP tests against the real kernel (root, /dev/net/tun, `ip netns`).

Each test makes its own network namespace (tnx...), creates the TAP inside it with
``TapDevice.create(netns=...)`` and gives the kernel's side 10.77.0.1/24; this process
plays the host at 10.77.0.2 on the other end of the wire, reading and writing frames
built with tuxnet.wire. Kernel-side programs (ping, a Python TCP/UDP client) run under
``ip netns exec``. Namespaces, devices and processes are removed in teardown.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import need

from tuxnet.drivers import tap as tap_mod
from tuxnet.drivers.ifconfig import IFF_UP, IfConfig, in_netns
from tuxnet.drivers.tap import TUN_F_CSUM, TUN_F_TSO4, TUN_F_USO4, Frame, TapDevice
from tuxnet.drivers.virtio_net import (
    VIRTIO_NET_HDR_F_NEEDS_CSUM,
    VIRTIO_NET_HDR_GSO_TCPV4,
    VIRTIO_NET_HDR_GSO_UDP_L4,
    VNET_HDR_NONE,
    VirtioNetHdr,
    complete_csum,
    receive_buf,
)
from tuxnet.loop.real import RealLoop
from tuxnet.skb import CHECKSUM_PARTIAL, SKB_GSO_DODGY, SKB_GSO_TCPV4, alloc_skb
from tuxnet.wire import (
    ARPOP_REPLY,
    ARPOP_REQUEST,
    ETH_P_ARP,
    ETH_P_IP,
    ICMP_ECHO,
    ICMP_ECHOREPLY,
    IPPROTO_ICMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_RST,
    TCPHDR_SYN,
    ArpRepr,
    EthernetView,
    IcmpView,
    Ipv4View,
    TcpOptions,
    TcpView,
    ip_int,
    mac_str,
)
from tuxnet.wire.build import arp_frame, icmp_frame, tcp_frame
from tuxnet.wire.checksum import csum_fold, pseudo_header_sum

pytestmark = pytest.mark.root

KERNEL_IP = "10.77.0.1"
TUX_IP = "10.77.0.2"
TUX_MAC = bytes.fromhex("027475780002")
_TUX = ip_int(TUX_IP)
_KERNEL = ip_int(KERNEL_IP)


def _require_live() -> None:
    need(os.geteuid() == 0, "live TAP tests need root")
    need(os.path.exists("/dev/net/tun"), "no /dev/net/tun (modprobe tun)")
    need(shutil.which("ip") is not None, "iproute2 missing (apt-get install iproute2)")


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh network namespace, deleted afterwards whatever happens."""
    _require_live()
    name = f"tnx{os.getpid()}{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    need(made.returncode == 0, f"cannot create a network namespace: {made.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def tap(netns: str) -> Iterator[TapDevice]:
    """A TAP with offloads in ``netns``; the kernel's side is 10.77.0.1/24, IPv6 off."""
    dev = TapDevice.create("tnx0", netns=netns)
    try:
        dev.ifconfig.set_ipv6(dev.name, False)
        dev.configure(KERNEL_IP, 24)
        yield dev
    finally:
        dev.close()


def _need_ping() -> None:
    need(shutil.which("ping") is not None, "ping missing (apt-get install iputils-ping)")


def _ns(netns: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *cmd], capture_output=True, text=True,
                          timeout=20)


def _ns_popen(netns: str, *cmd: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", netns, *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)


def _link_stats(netns: str, ifname: str) -> dict[str, int]:
    out = subprocess.run(["ip", "-n", netns, "-s", "-j", "link", "show", "dev", ifname],
                         capture_output=True, text=True, check=True).stdout
    rx: dict[str, int] = json.loads(out)[0]["stats64"]["rx"]
    return rx


class Host:
    """The far end of the wire, played by this test: answers ARP for 10.77.0.2 and ICMP
    echo, records what it sees, and hands TCP/UDP to an optional handler."""

    def __init__(self, tap: TapDevice) -> None:
        self.tap = tap
        self.frames: list[Frame] = []
        self.arp_requests: list[ArpRepr] = []
        self.echo_requests = 0
        self.echo_replies: list[tuple[int, int]] = []
        self.on_l4: Callable[[VirtioNetHdr | None, bytearray, Ipv4View], None] | None = None

    def on_frames(self, frames: list[Frame]) -> None:
        for hdr, frame in frames:
            self.frames.append((hdr, frame))
            eth = EthernetView(frame)
            if eth.ethertype == ETH_P_ARP:
                self._arp(ArpRepr.parse(eth.payload))
            elif eth.ethertype == ETH_P_IP:
                ip = Ipv4View(frame, eth.payload_offset)
                if ip.dst != _TUX:
                    continue
                if ip.protocol == IPPROTO_ICMP:
                    self._icmp(frame, ip)
                elif self.on_l4 is not None:
                    self.on_l4(hdr, frame, ip)

    def _arp(self, arp: ArpRepr) -> None:
        if arp.op == ARPOP_REQUEST and arp.tpa == _TUX:
            self.arp_requests.append(arp)
            self.tap.write(arp_frame(TUX_MAC, arp.sha, ARPOP_REPLY, TUX_MAC, _TUX, arp.sha,
                                     arp.spa))

    def _icmp(self, frame: bytearray, ip: Ipv4View) -> None:
        icmp = IcmpView(frame, ip.payload_offset, ip.end)
        if icmp.type == ICMP_ECHO:
            self.echo_requests += 1
            self.tap.write(icmp_frame(TUX_MAC, self.tap.hwaddr, _TUX, ip.src, ICMP_ECHOREPLY,
                                      rest=icmp.rest, payload=bytes(icmp.payload)))
        elif icmp.type == ICMP_ECHOREPLY:
            self.echo_replies.append((icmp.ident, icmp.seq))

    def run(self, done: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Serve the TAP on a RealLoop until ``done()`` or ``timeout`` seconds."""
        loop = RealLoop()
        self.tap.attach(loop, self.on_frames)

        def check() -> None:
            if done():
                loop.stop()
            else:
                loop.call_later(5_000_000, check)

        try:
            loop.call_soon(check)
            loop.run(until_ns=loop.now_ns() + int(timeout * 1e9))
        finally:
            self.tap.detach()
            loop.close()
        return done()


# --- creation, configuration, teardown --------------------------------------------------


def test_create_configure_close(netns: str) -> None:
    before = len(os.listdir("/proc/self/fd"))
    with TapDevice.create("tnx%d", netns=netns, mtu=1400, txqueuelen=2000) as dev:
        assert dev.name == "tnx0" and dev.vnet_hdr_sz == 12
        assert dev.offload & (TUN_F_CSUM | TUN_F_TSO4) == TUN_F_CSUM | TUN_F_TSO4
        assert dev.ifindex > 0 and len(dev.hwaddr) == 6 and dev.mtu == 1400
        ifc = dev.ifconfig
        assert ifc.get_txqueuelen(dev.name) == 2000
        assert ifc.get_addr(dev.name) is None
        dev.configure(KERNEL_IP, 24, mtu=1500)
        assert ifc.get_addr(dev.name) == KERNEL_IP and ifc.get_prefixlen(dev.name) == 24
        assert ifc.get_flags(dev.name) & IFF_UP and dev.mtu == 1500
        ifc.set_hwaddr(dev.name, bytes.fromhex("02aabbccddee"))
        assert ifc.get_hwaddr(dev.name) == bytes.fromhex("02aabbccddee")
        shown = subprocess.run(["ip", "-n", netns, "-d", "addr", "show", "dev", dev.name],
                               capture_output=True, text=True, check=True).stdout
        assert "tap" in shown and "vnet_hdr on" in shown and "10.77.0.1/24" in shown
        assert "02:aa:bb:cc:dd:ee" in shown
        with pytest.raises(OSError) as ei:  # exclusive: no second owner of tnx0
            TapDevice.create("tnx0", netns=netns)
        assert ei.value.errno == errno.EBUSY and "already exists" in str(ei.value)
    assert dev.closed
    gone = subprocess.run(["ip", "-n", netns, "link", "show", "dev", "tnx0"],
                          capture_output=True, text=True)
    assert gone.returncode != 0  # a non-persistent TAP goes with its fd
    with pytest.raises(OSError, match=r"SIOCSIFMTU mtu 70000.*Invalid argument"):
        TapDevice.create("tnx5", netns=netns, mtu=70000)  # fails after the device exists
    assert "tnx5" not in subprocess.run(["ip", "-n", netns, "link"], capture_output=True,
                                        text=True, check=True).stdout
    assert len(os.listdir("/proc/self/fd")) == before  # nothing leaked, failures included
    with pytest.raises(OSError, match="closed"):
        dev.read_batch()
    dev.close()  # idempotent


def test_errors_are_clear_oserrors(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("tnx/0", "x" * 16, "", "a b"):
        with pytest.raises(OSError, match="bad interface name"):
            TapDevice.create(bad)
    with pytest.raises(OSError, match="ip netns add"):
        TapDevice.create("tnx0", netns="tnx-no-such-namespace")
    monkeypatch.setattr(tap_mod, "TUN_PATH", "/nonexistent/tun")
    with pytest.raises(OSError, match=r"cannot open /nonexistent/tun.*modprobe tun"):
        TapDevice.create("tnx0")
    with IfConfig() as ifc, pytest.raises(OSError, match="SIOCGIFINDEX on tnxnosuch0"):
        ifc.get_ifindex("tnxnosuch0")
    with pytest.raises(ValueError):
        TapDevice.create("tnx0", vnet_hdr=False, offload=True)


def test_in_netns_switches_back(netns: str) -> None:
    home = os.readlink("/proc/thread-self/ns/net")
    with in_netns(netns):
        assert os.readlink("/proc/thread-self/ns/net") != home
    assert os.readlink("/proc/thread-self/ns/net") == home
    with pytest.raises(RuntimeError), in_netns(netns):
        raise RuntimeError("boom")
    assert os.readlink("/proc/thread-self/ns/net") == home


# --- small frames both ways -----------------------------------------------------------------


def test_kernel_ping_round_trip(tap: TapDevice, netns: str) -> None:
    """The kernel's ping: its ARP request and echo requests reach tuxnet, tuxnet's ARP
    reply and echo replies reach the kernel (ping succeeds, the neighbour is learnt)."""
    _need_ping()
    host = Host(tap)
    ping = _ns_popen(netns, "ping", "-c", "3", "-i", "0.2", "-W", "3", TUX_IP)
    try:
        host.run(lambda: ping.poll() is not None, timeout=15)
    finally:
        _stop(ping)
    assert ping.returncode == 0, ping.stderr
    assert host.arp_requests, "no ARP request from the kernel"
    req = host.arp_requests[0]
    assert req.sha == tap.hwaddr and req.spa == _KERNEL
    assert host.echo_requests == 3
    neigh = _ns(netns, "ip", "neigh", "show", TUX_IP, "dev", tap.name).stdout
    assert mac_str(TUX_MAC) in neigh
    st = tap.stats
    assert st.rx_packets >= 4 and st.tx_packets >= 4 and st.tx_dropped == st.tx_errors == 0


def test_tuxnet_ping_kernel(tap: TapDevice, netns: str) -> None:
    """tuxnet asks the kernel who has 10.77.0.1, then sends an echo request built with
    tuxnet.wire; the kernel's ARP reply and echo reply come back through the TAP."""
    host = Host(tap)
    replies: list[ArpRepr] = []
    assert tap.write(arp_frame(TUX_MAC, b"\xff" * 6, ARPOP_REQUEST, TUX_MAC, _TUX,
                               bytes(6), _KERNEL), VNET_HDR_NONE)
    assert tap.write(icmp_frame(TUX_MAC, tap.hwaddr, _TUX, _KERNEL, ICMP_ECHO,
                                rest=(0x4242 << 16) | 7, payload=b"tuxnet" * 10))

    def done() -> bool:
        for _, f in host.frames:
            eth = EthernetView(f)
            if eth.ethertype == ETH_P_ARP and not replies:
                arp = ArpRepr.parse(eth.payload)
                if arp.op == ARPOP_REPLY:
                    replies.append(arp)
        return bool(replies) and bool(host.echo_replies)

    assert host.run(done, timeout=5), f"frames seen: {len(host.frames)}"
    assert replies[0].sha == tap.hwaddr and replies[0].spa == _KERNEL
    assert host.echo_replies == [(0x4242, 7)]
    assert mac_str(TUX_MAC) in _ns(netns, "ip", "neigh", "show", TUX_IP).stdout


def test_without_vnet_header(netns: str) -> None:
    with TapDevice.create("tnx1", netns=netns, vnet_hdr=False, offload=False) as dev:
        assert dev.vnet_hdr_sz == 0 and dev.offload == 0
        dev.ifconfig.set_ipv6(dev.name, False)
        dev.configure(KERNEL_IP, 24)
        _need_ping()
        host = Host(dev)
        ping = _ns_popen(netns, "ping", "-c", "1", "-W", "3", TUX_IP)
        try:
            host.run(lambda: ping.poll() is not None, timeout=10)
        finally:
            _stop(ping)
        assert ping.returncode == 0
        assert host.frames and all(h is None for h, _ in host.frames)


# --- 64 KiB GSO super-frames ------------------------------------------------------------


def test_gso_superframe_tuxnet_to_kernel(tap: TapDevice, netns: str) -> None:
    """A 65160-byte TSO super-frame (gso_size 1448, partial checksum) written by tuxnet
    is taken by the kernel as one frame (rx counters: +1 packet, +its bytes), and its
    TCP answers the whole range with one RST (ack = seq + 65160)."""
    host = Host(tap)
    rsts: list[int] = []

    def on_l4(hdr: VirtioNetHdr | None, frame: bytearray, ip: Ipv4View) -> None:
        if ip.protocol == IPPROTO_TCP:
            tcp = TcpView(frame, ip.payload_offset, ip.end)
            if tcp.flags & TCPHDR_RST and tcp.dst_port == 40000:
                rsts.append(tcp.ack_seq)

    host.on_l4 = on_l4
    payload_len = 45 * 1448
    frame = tcp_frame(TUX_MAC, tap.hwaddr, TUX_IP, KERNEL_IP, 40000, 9, seq=12345,
                      flags=TCPHDR_PSH, payload=bytes(range(256)) * (payload_len // 256)
                      + bytes(payload_len % 256))
    seglen = len(frame) - 34
    TcpView(frame, 34).checksum = csum_fold(pseudo_header_sum(_TUX, _KERNEL, 6, seglen))
    hdr = VirtioNetHdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16)
    before = _link_stats(netns, tap.name)
    tx0, txb0 = tap.stats.tx_packets, tap.stats.tx_bytes
    assert tap.write(frame, hdr)
    assert host.run(lambda: bool(rsts), timeout=5), "no RST from the kernel"
    after = _link_stats(netns, tap.name)
    assert rsts == [12345 + payload_len]
    assert tap.stats.tx_gso_packets == 1 and tap.stats.tx_gso_bytes == len(frame)
    # the kernel counted every frame tuxnet wrote (the super-frame and ARP replies) once
    assert after["packets"] - before["packets"] == tap.stats.tx_packets - tx0
    assert after["bytes"] - before["bytes"] == tap.stats.tx_bytes - txb0
    # the same super-frame as a nonlinear skb (54-byte head + one frag): xmit_skb derives
    # the header (virtio_net_hdr_from_skb) and gathers head and frag in one writev
    TcpView(frame, 34).seq = 99999
    skb = alloc_skb(128)
    skb.reserve(64)
    skb.put_data(frame[:54])
    skb.add_frag(frame, 54, payload_len)
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.csum_start, skb.csum_offset = skb.data_off + 34, 16
    skb.gso_size, skb.gso_type = 1448, SKB_GSO_TCPV4
    assert skb.nr_frags == 1 and tap.xmit_skb(skb)
    assert host.run(lambda: len(rsts) == 2, timeout=5), "no RST for the skb"
    assert rsts[1] == 99999 + payload_len and tap.stats.tx_gso_packets == 2
    # a header the kernel refuses (gso_size 0): EINVAL, counted, no exception
    assert not tap.write(frame, hdr._replace(gso_size=0))
    assert tap.stats.tx_errors == 1


def _tcp_sink(tap: TapDevice, port: int) -> tuple[Callable[..., None], dict[str, int],
                                                  list[tuple[VirtioNetHdr | None, bytearray]],
                                                  bytearray]:
    """A minimal TCP receiver on 10.77.0.2:port built from tuxnet.wire: SYN-ACK with MSS
    1460 and window scale 7, then a cumulative ACK for in-order data, FIN acked."""
    state = {"rcv_nxt": 0, "iss": 777000, "synced": 0, "fin": 0}
    segs: list[tuple[VirtioNetHdr | None, bytearray]] = []
    stream = bytearray()

    def send(tcp: TcpView, flags: int, seq: int, options: TcpOptions | None = None) -> None:
        tap.write(tcp_frame(TUX_MAC, tap.hwaddr, TUX_IP, KERNEL_IP, port, tcp.src_port,
                            seq=seq, ack_seq=state["rcv_nxt"], flags=flags, window=65535,
                            options=options))

    def on_l4(hdr: VirtioNetHdr | None, frame: bytearray, ip: Ipv4View) -> None:
        if ip.protocol != IPPROTO_TCP:
            return
        tcp = TcpView(frame, ip.payload_offset, ip.end)
        if tcp.dst_port != port:
            return
        flags = tcp.flags
        if flags & TCPHDR_SYN:
            state["rcv_nxt"] = (tcp.seq + 1) & 0xFFFFFFFF
            state["synced"] = 1
            send(tcp, TCPHDR_SYN | TCPHDR_ACK, state["iss"], TcpOptions(mss=1460, wscale=7))
            return
        if not state["synced"]:
            return
        n = tcp.payload_len
        if n:
            segs.append((hdr, frame))
            if tcp.seq == state["rcv_nxt"]:
                stream.extend(tcp.payload)
                state["rcv_nxt"] = (state["rcv_nxt"] + n) & 0xFFFFFFFF
        if flags & TCPHDR_FIN and tcp.seq + n == state["rcv_nxt"]:
            state["rcv_nxt"] = (state["rcv_nxt"] + 1) & 0xFFFFFFFF
            state["fin"] = 1
        if n or flags & TCPHDR_FIN:
            send(tcp, TCPHDR_ACK, state["iss"] + 1)

    return on_l4, state, segs, stream


_TCP_CLIENT = """
import socket, sys
data = bytes(range(256)) * ({n} // 256)
s = socket.create_connection(("{ip}", {port}), timeout=10)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
s.settimeout(5)
s.recv(1)
s.close()
"""


def test_gso_superframe_kernel_to_tuxnet(tap: TapDevice, netns: str) -> None:
    """The kernel's TCP sends 200 KiB to a peer that tuxnet answers minimally; with
    TUN_F_TSO4 it hands over TSO super-frames (> MTU) with gso_type TCPV4, gso_size =
    the MSS, and a partial checksum tuxnet can finish."""
    host = Host(tap)
    on_l4, state, segs, stream = _tcp_sink(tap, 5001)
    host.on_l4 = on_l4
    n = 200 * 1024
    client = _ns_popen(netns, sys.executable, "-c",
                       _TCP_CLIENT.format(n=n, ip=TUX_IP, port=5001))
    try:
        host.run(lambda: state["fin"] == 1, timeout=20)
    finally:
        _stop(client)
    assert len(stream) == n, f"got {len(stream)} bytes; client: {client.stderr}"
    assert stream == bytes(range(256)) * (n // 256)
    big = [(h, f) for h, f in segs if len(f) > 1514]
    assert big, "no frame larger than the MTU: TSO did not reach the TAP"
    hdr, frame = big[0]
    assert hdr is not None and hdr.gso_type == VIRTIO_NET_HDR_GSO_TCPV4
    assert hdr.gso_size == 1460  # the MSS: 1500 - 40, no timestamps negotiated
    assert hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM
    assert (hdr.csum_start, hdr.csum_offset) == (34, 16)
    assert 54 <= hdr.hdr_len <= len(frame)
    ip = Ipv4View(frame, 14, verify_csum=True)
    assert ip.total_len == len(frame) - 14 and ip.total_len > 1500
    check = frame[:]  # finish the partial checksum (skb_checksum_help) and verify it
    assert complete_csum(check, hdr)
    assert TcpView(check, 34, ip.end).verify_checksum(ip.src, ip.dst)
    skb = receive_buf(frame, hdr)
    assert skb.gso_type == SKB_GSO_TCPV4 | SKB_GSO_DODGY and skb.gso_size == 1460
    st = tap.stats
    assert st.rx_gso_packets >= len(big) and st.rx_copy_bytes < st.rx_bytes  # no copy of
    assert st.rx_copies < st.rx_packets  # super-frames: their buffer is handed over


_UDP_CLIENT = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1400)  # include/uapi/linux/udp.h: UDP_SEGMENT 103
s.sendto(bytes(40 * 1400), ("{ip}", 9))
"""


def test_uso_superframe_kernel_to_tuxnet(tap: TapDevice, netns: str) -> None:
    """With TUN_F_USO4 a UDP_SEGMENT send of 40 x 1400 bytes reaches tuxnet as one
    super-frame with gso_type UDP_L4 and gso_size 1400."""
    if not tap.offload & TUN_F_USO4:
        pytest.skip("kernel without TUN_F_USO4 (Linux < 6.2)")
    host = Host(tap)
    got: list[tuple[VirtioNetHdr | None, int]] = []

    def on_l4(hdr: VirtioNetHdr | None, frame: bytearray, ip: Ipv4View) -> None:
        if ip.protocol == IPPROTO_UDP:
            got.append((hdr, len(frame)))

    host.on_l4 = on_l4
    out = _ns(netns, sys.executable, "-c", _UDP_CLIENT.format(ip=TUX_IP))
    assert out.returncode == 0, out.stderr
    assert host.run(lambda: bool(got), timeout=5), "no UDP frame"
    hdr, length = got[0]
    assert hdr is not None and hdr.gso_type == VIRTIO_NET_HDR_GSO_UDP_L4
    assert hdr.gso_size == 1400 and length == 14 + 20 + 8 + 40 * 1400
    assert (hdr.csum_start, hdr.csum_offset) == (34, 6)


def test_xmit_skb_without_header_refuses_offloads(netns: str) -> None:
    with TapDevice.create("tnx2", netns=netns, vnet_hdr=False, offload=False) as dev:
        assert not dev.write(bytes(60)) and dev.stats.tx_errors == 1  # down: EIO
        dev.configure(up=True)
        skb = alloc_skb(200)
        skb.put_data(icmp_frame(TUX_MAC, dev.hwaddr, _TUX, _KERNEL, ICMP_ECHO))
        assert dev.xmit_skb(skb)
        skb.ip_summed = CHECKSUM_PARTIAL
        assert not dev.xmit_skb(skb) and dev.stats.tx_errors == 2
        with pytest.raises(ValueError, match="no virtio-net header"):
            dev.write(b"x" * 60, VirtioNetHdr(1, 0, 0, 0, 34, 16))


def test_bench_tap_quick() -> None:
    """benchmarks/bench_tap.py --quick runs and ends with its ratio lines."""
    _require_live()
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_tap.py"), "--quick"],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(root / "src")))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    ratios = [ln for ln in lines if ln.startswith("ratio:")]
    assert len(ratios) == 6 and lines[-6:] == ratios
    for ln in ratios:
        assert re.fullmatch(r"ratio: [a-z_]+ tuxnet/kernel_veth = \d+\.\d+", ln), ln
