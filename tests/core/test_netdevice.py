"""net_device: registration, flags, features by ethtool name, MTU, statistics fields,
channels and the RSS table, ethtool -S names of the simulated NIC."""

from __future__ import annotations

import errno

import pytest
from _coreutil import Sink, frame, make_host, make_nic

from tuxnet.core.dev import dev_close, dev_get_stats, dev_open
from tuxnet.core.netcore import register_netdevice
from tuxnet.core.netdevice import (
    IFF_BROADCAST,
    IFF_LOWER_UP,
    IFF_MULTICAST,
    IFF_RUNNING,
    IFF_UP,
    NETIF_F_GRO,
    NETIF_F_RXCSUM,
    RTNL_LINK_STATS64_FIELDS,
    feature_mask,
)
from tuxnet.drivers.simnic import SimNic


def test_register_assigns_ifindex_mac_and_sysctls() -> None:
    _, host, core = make_host()
    nic = make_nic(host, up=False)
    nic2 = make_nic(host, up=False, name="eth1")
    assert (nic.ifindex, nic2.ifindex) == (1, 2)
    assert len(nic.dev_addr) == 6 and nic.dev_addr[0] & 0x03 == 0x02  # local unicast
    assert nic.dev_addr != nic2.dev_addr
    assert host.devices["eth0"] is nic
    assert "net.ipv4.conf.eth0.rp_filter" in host.sysctl
    assert len(nic.rss_key) == 52 and nic.rss_key == core.rss_key
    assert nic.flags == IFF_BROADCAST | IFF_MULTICAST and nic.operstate == "DOWN"


def test_flags_follow_up_and_carrier() -> None:
    _, host, _ = make_host()
    nic = make_nic(host, up=False)
    dev_open(nic)
    assert nic.flags & IFF_UP and not nic.flags & IFF_RUNNING  # no cable yet
    from tuxnet.core.dev import netif_carrier_on

    netif_carrier_on(nic)
    assert nic.flags & (IFF_RUNNING | IFF_LOWER_UP) == IFF_RUNNING | IFF_LOWER_UP
    assert nic.operstate == "UP"
    dev_close(nic)
    assert not nic.flags & (IFF_UP | IFF_RUNNING) and nic.operstate == "DOWN"


def test_features_by_ethtool_name() -> None:
    _, host, _ = make_host()
    nic = make_nic(host, up=False, gro=True)
    assert feature_mask("rx-gro") == feature_mask("gro") == NETIF_F_GRO
    assert feature_mask("rx-checksumming") == NETIF_F_RXCSUM
    assert nic.feature_on("generic-receive-offload")
    assert nic.feature_on("tx-checksumming") is False  # HW_CSUM only, not the whole group
    assert nic.feature_on("tx-checksum-ip-generic")
    nic.set_features({"gro": False})
    assert not nic.features & NETIF_F_GRO
    with pytest.raises(OSError) as e:
        nic.set_features({"rx-checksumming": True})  # fixed off on this NIC
    assert e.value.errno == errno.EOPNOTSUPP
    with pytest.raises(ValueError):
        feature_mask("warp-drive")


def test_mtu_range() -> None:
    _, host, _ = make_host()
    nic = make_nic(host, up=False)
    nic.set_mtu(9000)
    assert nic.mtu == 9000
    for bad in (67, 9711):
        with pytest.raises(OSError) as e:
            nic.set_mtu(bad)
        assert e.value.errno == errno.EINVAL


def test_stats_have_every_rtnl_link_stats64_field() -> None:
    loop, host, _ = make_host()
    nic = make_nic(host)
    Sink(host)
    nic.receive_frame(frame(b"\x01\x00\x5e\x00\x00\x01"))  # multicast
    nic.receive_frame(b"\x00" * 10)  # runt
    loop.run()
    s = dev_get_stats(nic)
    assert list(s.as_dict()) == list(RTNL_LINK_STATS64_FIELDS)
    assert len(RTNL_LINK_STATS64_FIELDS) == 25
    assert (s.rx_packets, s.multicast, s.rx_length_errors, s.rx_errors) == (1, 1, 1, 1)


def test_simnic_ethtool_stats_names_are_ixgbe_style() -> None:
    _, host, _ = make_host()
    nic = SimNic("eth0", num_queues=2, max_queues=4)
    register_netdevice(host, nic)
    names = [n for n, _ in nic.get_ethtool_stats()]
    assert names[:4] == ["rx_packets", "tx_packets", "rx_bytes", "tx_bytes"]
    assert "rx_missed_errors" in names and "tx_restart_queue" in names
    queues = names[names.index("tx_queue_0_packets"):]
    assert queues == [f"tx_queue_{i}_{k}" for i in range(4) for k in ("packets", "bytes")] + [
        f"rx_queue_{i}_{k}" for i in range(4) for k in ("packets", "bytes")]
    assert nic.get_drvinfo()["driver"] == "simnic"


def test_channels_resize_queues_and_the_default_rss_table() -> None:
    loop, host, _ = make_host(ncpus=4)
    nic = make_nic(host, num_queues=2)
    ch = nic.get_channels()
    assert (ch.max_combined, ch.combined_count, ch.max_rx, ch.rx_count) == (16, 2, 0, 0)
    nic.set_channels(combined=4)
    assert nic.real_num_rx_queues == nic.real_num_tx_queues == 4
    assert nic.rss_indir[:8] == [0, 1, 2, 3, 0, 1, 2, 3]
    with pytest.raises(OSError) as e:
        nic.set_channels(combined=17)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError):
        nic.set_channels(rx=2)
    nic.set_rss_indir([3] * 128)  # ethtool -X: everything to queue 3
    nic.set_channels(combined=4)
    sink = Sink(host)
    for i in range(8):
        nic.receive_frame(frame(nic.dev_addr, sport=i))
    loop.run()
    assert {g["queue"] for g in sink.got} == {4} and {g["cpu"] for g in sink.got} == {3}
    with pytest.raises(OSError):
        nic.set_rss_indir([5])


def test_rx_mode_is_checked() -> None:
    _, host, _ = make_host()
    nic = make_nic(host, up=False)
    nic.rx_mode = "legacy"
    with pytest.raises(ValueError):
        nic.rx_mode = "polling"
