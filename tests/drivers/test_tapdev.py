"""TapNetDevice without root: a fake TAP (a pipe for readiness, frames handed over by
the test) on a RealLoop, with IPv4 on the host. An ARP request and an ICMP echo
request go in; the driver must hand back the ARP reply and the echo reply, count
them, and drop bad frames with their reasons."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from tuxnet.core.netdevice import NETIF_F_GSO_UDP_L4, NETIF_F_HW_CSUM, NETIF_F_TSO
from tuxnet.drivers.loopback import loopback_init
from tuxnet.drivers.tap import TUN_F_CSUM, TUN_F_TSO4, TUN_F_USO4, Frame, TapStats
from tuxnet.drivers.tapdev import TapNetDevice, tapdev_init
from tuxnet.drivers.virtio_net import VNET_HDR_NONE, VirtioNetHdr
from tuxnet.dropreason import SkbDropReason
from tuxnet.host import Host
from tuxnet.ipv4.devinet import NETDEV_UP, inet_netdev_event
from tuxnet.ipv4.inet import inet_init
from tuxnet.loop.real import RealLoop
from tuxnet.skb import SkBuff
from tuxnet.tools.ip_cmd import run as ip_run
from tuxnet.wire import ARPOP_REPLY, ARPOP_REQUEST, ICMP_ECHO, ip_int
from tuxnet.wire.build import arp_frame, icmp_frame

PEER_MAC = bytes.fromhex("02aabbccdd01")
TUX_MAC = bytes.fromhex("0274757800aa")
PEER = "10.60.0.1"
TUX = "10.60.0.2"


class FakeTap:
    """What TapNetDevice uses of a TapDevice: a pipe stands in for the fd."""

    def __init__(self, offload: int = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_USO4) -> None:
        self.name = "tnxfake0"
        self.mtu = 1500
        self.vnet_hdr_sz = 12
        self.offload = offload
        self.stats = TapStats()
        self.rfd, self.wfd = os.pipe2(os.O_NONBLOCK)
        self.closed = False
        self.queue: list[Frame] = []
        self.sent: list[bytes] = []

    def fileno(self) -> int:
        return self.rfd

    def push(self, frame: bytes, hdr: VirtioNetHdr = VNET_HDR_NONE) -> None:
        self.queue.append((hdr, bytearray(frame)))
        os.write(self.wfd, b"x")

    def read_batch(self, max_frames: int = 64) -> list[Frame]:
        out = self.queue[:max_frames]
        del self.queue[:max_frames]
        if not self.queue:  # level-triggered readiness follows the queue
            try:
                os.read(self.rfd, 4096)
            except BlockingIOError:
                self.stats.rx_eagain += 1
        self.stats.rx_packets += len(out)
        return out

    def xmit_skb(self, skb: SkBuff) -> bool:
        self.sent.append(skb.copy_bits(0, skb.len))
        self.stats.tx_packets += 1
        return True

    def close(self) -> None:
        self.closed = True
        os.close(self.rfd)
        os.close(self.wfd)


@pytest.fixture
def rig() -> Iterator[tuple[RealLoop, Host, TapNetDevice, FakeTap]]:
    loop = RealLoop()
    host = Host(loop, "tapdev")
    lo = loopback_init(host)
    tap = FakeTap()
    dev = tapdev_init(host, tap, mac=TUX_MAC)  # type: ignore[arg-type]
    inet_init(host)
    inet_netdev_event(host, lo, NETDEV_UP)
    inet_netdev_event(host, dev, NETDEV_UP)
    assert ip_run(host, ["addr", "add", f"{TUX}/24", "dev", dev.name], io.StringIO()) == 0
    try:
        yield loop, host, dev, tap
    finally:
        tap.close()
        loop.close()


def _spin(loop: RealLoop) -> None:
    loop.run(until_ns=loop.now_ns() + 50_000_000)


def test_features_follow_the_tap() -> None:
    dev = TapNetDevice(FakeTap())  # type: ignore[arg-type]
    assert dev.features & NETIF_F_HW_CSUM and dev.features & NETIF_F_TSO
    assert dev.features & NETIF_F_GSO_UDP_L4  # the kernel took USO
    plain = TapNetDevice(FakeTap(offload=TUN_F_CSUM))  # type: ignore[arg-type]
    assert not plain.features & NETIF_F_GSO_UDP_L4


def test_arp_then_echo(rig: tuple[RealLoop, Host, TapNetDevice, FakeTap]) -> None:
    loop, host, dev, tap = rig
    tap.push(arp_frame(PEER_MAC, b"\xff" * 6, ARPOP_REQUEST, PEER_MAC, ip_int(PEER),
                       bytes(6), ip_int(TUX)))
    _spin(loop)
    assert len(tap.sent) == 1
    reply = tap.sent[0]
    assert reply[:6] == PEER_MAC and reply[6:12] == TUX_MAC
    assert int.from_bytes(reply[20:22], "big") == ARPOP_REPLY
    tap.push(icmp_frame(PEER_MAC, TUX_MAC, ip_int(PEER), ip_int(TUX), ICMP_ECHO,
                        rest=0x12340001, payload=b"tuxnet" * 8))
    _spin(loop)
    assert len(tap.sent) == 2
    echo = tap.sent[1]
    assert echo[:6] == PEER_MAC and echo[34] == 0 and echo[42:] == b"tuxnet" * 8
    assert dev.stats.rx_packets == 2 and dev.stats.tx_packets == 2
    assert host.mib.icmpmsg[8] == 1 and host.mib.icmpmsg[0x100 | 0] == 1  # InType8, OutType0
    assert dev.rx_irqs == 2 and dev.rx_polls >= 2
    names = dict(dev.get_ethtool_stats())
    assert names["tap_rx_packets"] == 2 and names["tap_tx_packets"] == 2


def test_bad_frames_are_dropped_with_reasons(
        rig: tuple[RealLoop, Host, TapNetDevice, FakeTap]) -> None:
    loop, host, dev, tap = rig
    tap.push(b"\x00" * 10)  # a runt
    bad = VirtioNetHdr(gso_type=0x42, gso_size=1000)  # unknown GSO type: DEV_HDR
    tap.push(icmp_frame(PEER_MAC, TUX_MAC, ip_int(PEER), ip_int(TUX), ICMP_ECHO,
                        rest=0, payload=b"x"), bad)
    _spin(loop)
    assert tap.sent == []
    assert host.drop_counts[SkbDropReason.PKT_TOO_SMALL] == 1
    assert host.drop_counts[SkbDropReason.DEV_HDR] == 1
    assert dev.stats.rx_errors == 2 and dev.stats.rx_length_errors == 1
    assert dev.stats.rx_frame_errors == 1 and dev.stats.rx_packets == 0


def test_failed_write_is_dropped(rig: tuple[RealLoop, Host, TapNetDevice, FakeTap],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    loop, host, dev, tap = rig

    def full(skb: SkBuff) -> bool:
        tap.stats.tx_dropped += 1  # what TapDevice counts on EAGAIN/ENOBUFS
        return False

    monkeypatch.setattr(tap, "xmit_skb", full)
    tap.push(arp_frame(PEER_MAC, b"\xff" * 6, ARPOP_REQUEST, PEER_MAC, ip_int(PEER),
                       bytes(6), ip_int(TUX)))
    _spin(loop)
    assert dev.stats.tx_dropped == 1 and dev.stats.tx_packets == 0
    assert host.drop_counts[SkbDropReason.FULL_RING] == 1
