"""``tuxnet ethtool`` against what ethtool 6.1 printed on Linux 6.18 (samples/ethtool_*):
a veth pair with 4 queues across two namespaces mirrors the capture; the SimNic of the
demonstration host covers the views veth does not support (-g, -c, -x, -X)."""

from __future__ import annotations

import io

import pytest
from conftest import REFERENCE

from tuxnet.cli import main as tuxnet_main
from tuxnet.core.dev import dev_open
from tuxnet.core.netdevice import NETIF_F_GRO
from tuxnet.drivers.loopback import loopback_init
from tuxnet.drivers.simnic import SimNic
from tuxnet.drivers.veth import VethDevice, veth_pair
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.tools.demo import demo_host
from tuxnet.tools.ethtool_cmd import fill_indir_table, run
from tuxnet.tools.ethtool_fmt import format_rxfh

SAMPLES = REFERENCE / "samples"
BAD_ARGS = "ethtool: bad command line argument(s)\nFor more information run ethtool -h\n"
NODEV = "netlink error: no device matches name (offset 24)\nnetlink error: No such device\n"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def veth_host() -> tuple[Host, VethDevice]:
    """veth0 (ifindex 2) with 4 queues; its peer is ifindex 2 of namespace nfr_obs2."""
    loop = SimLoop()
    a = Host(loop, "a", ncpus=4)
    b = Host(loop, "nfr_obs2", ncpus=4)
    loopback_init(a)
    loopback_init(b)
    v0, v1 = veth_pair(a, "veth0", b, "veth1", num_queues=4)
    dev_open(v0)
    dev_open(v1)
    return a, v0


def ethtool(host: Host, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run(host, list(argv), out, err)
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("argv", "name", "rc"), [
    ((), "ethtool_veth.txt", 0),
    (("-i",), "ethtool_-i_veth.txt", 0),
    (("-S",), "ethtool_-S_veth.txt", 0),
    (("-l",), "ethtool_-l_veth.txt", 0),
    (("-g",), "ethtool_-g_veth.txt", 1),
    (("-x",), "ethtool_-x_veth.txt", 1),
    (("--json", "-S"), "ethtool_--json_-S_veth.txt", 1),
])
def test_veth_views_match_the_samples(argv: tuple[str, ...], name: str, rc: int) -> None:
    host, _ = veth_host()
    got_rc, out, err = ethtool(host, *argv, "veth0")
    assert got_rc == rc
    assert out + err == sample(name)


# features Linux's veth has that tuxnet's does not model (yet): encapsulation GSO,
# VLAN offloads, AccECN, SCTP GSO, fraglist, and the soft features register_netdevice
# adds (gso on; rx-gro-list, rx-udp-gro-forwarding, tx-nocache-copy changeable)
_UNMODELLED = {
    "tx-scatter-gather-fraglist", "tx-tcp-accecn-segmentation",
    "generic-segmentation-offload", "rx-vlan-offload", "tx-vlan-offload",
    "tx-gre-segmentation", "tx-gre-csum-segmentation", "tx-ipxip4-segmentation",
    "tx-ipxip6-segmentation", "tx-udp_tnl-segmentation", "tx-udp_tnl-csum-segmentation",
    "tx-sctp-segmentation", "tx-nocache-copy", "tx-vlan-stag-hw-insert",
    "rx-vlan-stag-hw-parse", "rx-gro-list", "rx-udp-gro-forwarding",
}


def test_features_layout_and_modelled_values_match_the_sample() -> None:
    host, _ = veth_host()
    rc, out, _ = ethtool(host, "-k", "veth0")
    assert rc == 0
    want = sample("ethtool_-k_veth.txt").splitlines()
    got = out.splitlines()
    assert [line.split(":")[0] for line in got] == [line.split(":")[0] for line in want]
    differ = {g.split(":")[0].strip() for g, w in zip(got, want, strict=True) if g != w}
    assert differ <= _UNMODELLED, differ - _UNMODELLED


def test_channels_set_changes_queues_and_statistics() -> None:
    host, dev = veth_host()
    assert ethtool(host, "-L", "veth0", "rx", "2", "tx", "2") == (0, "", "")
    assert ethtool(host, "-l", "veth0")[1] == sample("ethtool_-L_veth_set.txt")
    assert ethtool(host, "-S", "veth0")[1] == sample("ethtool_-S_veth_after_-L.txt")
    assert dev.real_num_rx_queues == 2
    rc, _, err = ethtool(host, "-L", "veth0", "rx", "5")
    assert (rc, err) == (1, "netlink error: requested channel count exceeds maximum "
                            "(offset 36)\nnetlink error: Invalid argument\n")
    rc, _, err = ethtool(host, "-L", "veth0", "combined", "1")
    assert rc == 1 and "exceeds maximum (offset 36)" in err
    assert ethtool(host, "-L", "veth0", "rx", "0")[2].startswith(
        "netlink error: requested channel counts would result in no RX or TX channel")


def test_virtio_style_rxfh_without_table_or_key_matches_sample() -> None:
    assert format_rxfh("eth0", 1, [], b"", 1) == sample("ethtool_-x_virtio_host.txt")


def test_errors_for_unknown_devices_and_bad_arguments() -> None:
    host = demo_host()
    assert ethtool(host, "eth9") == (1, "", NODEV)
    assert ethtool(host, "-k", "eth9") == (1, "", NODEV)
    assert ethtool(host, "-G", "eth9", "rx", "64") == (81, "", NODEV)
    assert ethtool(host, "-i", "eth9") == (
        71, "", "Cannot get driver information: No such device\n")
    assert ethtool(host, "-S", "eth9") == (
        96, "", "Cannot get stats strings information: No such device\n")
    assert ethtool(host, "-x", "eth9") == (1, "", "Cannot get RX ring count: No such device\n")
    for argv in ((), ("-k",), ("-z", "eth0"), ("eth0", "extra"), ("--json", "-i", "eth0")):
        assert ethtool(host, *argv) == (1, "", BAD_ARGS), argv
    assert ethtool(host, "-S", "lo") == (94, "", "no stats available\n")
    assert ethtool(host, "-i", "lo")[0] == 71
    assert ethtool(host, "lo") == (0, "Settings for lo:\n\tLink detected: yes\n", "")
    assert ethtool(host, "-T", "eth0")[2] == "ethtool -T: not modelled by tuxnet yet (#3)\n"


def test_simnic_settings_rings_and_coalesce() -> None:
    host = demo_host()
    rc, out, _ = ethtool(host, "eth0")
    assert rc == 0 and "\tSpeed: 10000Mb/s\n\tDuplex: Full\n" in out and "Port: Other" in out
    rc, out, _ = ethtool(host, "-g", "eth0")
    assert out.splitlines()[:6] == ["Ring parameters for eth0:", "Pre-set maximums:",
                                    "RX:\t\t4096", "RX Mini:\tn/a", "RX Jumbo:\tn/a",
                                    "TX:\t\t4096"]
    assert "RX:\t\t512\n" in out and out.endswith("TX Push:\toff\nTCP data split:\tn/a\n")
    assert ethtool(host, "-G", "eth0", "rx", "1000", "tx", "128") == (0, "", "")
    nic = host.devices["eth0"]
    assert isinstance(nic, SimNic)
    rp = nic.get_ringparam()
    assert (rp.rx_pending, rp.tx_pending) == (1000, 128)
    assert ethtool(host, "-G", "eth0", "tx", "64", "rx", "8192") == (
        81, "", "netlink error: requested ring size exceeds maximum (offset 44)\n"
        "netlink error: Invalid argument\n")
    assert ethtool(host, "-G", "eth0", "rx") == (
        1, "", "ethtool (-G): no value for parameter 'rx'\n")
    assert ethtool(host, "-G", "eth0", "rx", "lots") == (
        1, "", "ethtool (-G): invalid value 'lots' for parameter 'rx'\n")
    assert ethtool(host, "-G", "eth0", "bogus", "1")[2] == (
        "ethtool (-G): unknown parameter 'bogus'\n")
    assert ethtool(host, "-G", "lo", "rx", "1")[:2] == (81, "")
    rc, out, _ = ethtool(host, "-c", "eth0")
    assert out.startswith("Coalesce parameters for eth0:\nAdaptive RX: off  TX: off\n"
                          "stats-block-usecs: n/a\n")
    assert "\n\nrx-usecs: 16\nrx-frames: 32\nrx-usecs-irq: n/a\n" in out
    assert out.endswith("tx-frame-high: n/a\n\nCQE mode RX: n/a  TX: n/a\n\n")
    assert ethtool(host, "-C", "eth0", "rx-usecs", "50", "rx-frames", "0") == (0, "", "")
    c = nic.get_coalesce()
    assert (c.rx_usecs, c.rx_max_frames) == (50, 0)
    assert ethtool(host, "-C", "eth0", "rx-usecs", "0") == (
        1, "", "netlink error: Invalid argument\n")
    assert ethtool(host, "-C", "eth0", "tx-usecs", "1", "rx-usecs-irq", "5") == (
        1, "", "netlink error: cannot modify an unsupported parameter (offset 44)\n"
        "netlink error: Invalid argument\n")
    assert ethtool(host, "-C", "eth0", "adaptive-rx", "on")[2] == (
        "netlink error: Operation not supported\n")


def test_features_set() -> None:
    host = demo_host()
    nic = host.devices["eth0"]
    assert isinstance(nic, SimNic)
    assert ethtool(host, "-K", "eth0", "gro", "off") == (0, "", "")
    assert not nic.features & NETIF_F_GRO
    assert all(q.napi is None or q.napi.gro is None for q in nic.rx_queues)
    assert "generic-receive-offload: off\n" in ethtool(host, "-k", "eth0")[1]
    assert ethtool(host, "-K", "eth0", "rx-gro", "on") == (0, "", "")
    assert nic.features & NETIF_F_GRO
    assert ethtool(host, "-K", "eth0", "ntuple", "on") == (
        1, "Actual changes:\nrx-ntuple-filter: off [requested on]\n",
        "Could not change any device features\n")
    assert ethtool(host, "-K", "eth0", "lro", "off") == (0, "", "")  # already so
    assert ethtool(host, "-K", "eth0", "bogus", "on") == (
        92, "", "netlink error: bit name not found (offset 56)\n"
        "netlink error: Operation not supported\n")
    assert ethtool(host, "-K", "eth0", "gro", "maybe")[2] == (
        "ethtool (-K): flag 'maybe' for parameter '(null)' is not followed by 'on' or 'off'\n")


def test_rxfh_show_and_set() -> None:
    host = demo_host()
    nic = host.devices["eth0"]
    assert isinstance(nic, SimNic)
    _, out, _ = ethtool(host, "-x", "eth0")
    lines = out.splitlines()
    assert lines[0] == "RX flow hash indirection table for eth0 with 4 RX ring(s):"
    assert lines[1] == "    0:      0     1     2     3     0     1     2     3"
    assert lines[16] == "  120:      0     1     2     3     0     1     2     3"
    assert lines[17] == "RSS hash key:"
    assert lines[18] == ":".join(f"{b:02x}" for b in nic.rss_key)
    assert lines[19:] == ["RSS hash function:", "    toeplitz: on", "    xor: off",
                          "    crc32: off"]
    assert ethtool(host, "-X", "eth0", "equal", "2") == (0, "", "")
    assert nic.rss_indir[:4] == [0, 1, 0, 1] and nic.rss_indir_user
    assert ethtool(host, "-X", "eth0", "weight", "1", "0", "0", "3") == (0, "", "")
    assert nic.rss_indir.count(0) == 32 and nic.rss_indir.count(3) == 96
    assert ethtool(host, "-X", "eth0", "equal", "8") == (
        1, "", "Cannot set RX flow hash configuration: Invalid argument\n")
    # a table that uses queue 3 keeps -L from dropping below 4 channels
    assert ethtool(host, "-L", "eth0", "combined", "2")[2].startswith(
        "netlink error: requested channel counts are too low")
    assert ethtool(host, "-X", "eth0", "default") == (0, "", "")
    assert nic.rss_indir[:5] == [0, 1, 2, 3, 0] and not nic.rss_indir_user
    key = ":".join(["5a"] * len(nic.rss_key))
    assert ethtool(host, "-X", "eth0", "hkey", key) == (0, "", "")
    assert nic.rss_key == b"\x5a" * len(nic.rss_key)
    assert ethtool(host, "-X", "eth0", "hkey", "5a:5a") == (
        2, "", f"Key is too short for device (2 < {len(nic.rss_key)})\n")
    assert ethtool(host, "-X", "eth0", "hkey", "zz")[2] == "Invalid RSS hash key format\n"
    assert ethtool(host, "-X", "eth0", "hfunc", "xor")[2] == (
        "Cannot set RX flow hash configuration: Operation not supported\n")
    assert ethtool(host, "-X", "eth0", "hfunc", "md5")[2] == "Unknown hash function: md5\n"
    assert ethtool(host, "-X", "eth0", "equal", "2", "weight", "1", "1")[2] == (
        "Equal and weight options are mutually exclusive\n")
    assert ethtool(host, "-X", "eth0", "start", "1")[2] == (
        "Start must be used with equal or weight options\n")
    assert ethtool(host, "-X", "eth0", "weight", "0", "0")[2] == (
        "At least one weight must be non-zero\n")
    assert ethtool(host, "-X", "eth0", "equal", "0") == (1, "", BAD_ARGS)
    assert ethtool(host, "-X", "eth0", "equal", "2") == (0, "", "")
    assert ethtool(host, "-L", "eth0", "combined", "2") == (0, "", "")
    assert ethtool(host, "-x", "eth0")[1].startswith(
        "RX flow hash indirection table for eth0 with 2 RX ring(s):\n")
    assert ethtool(host, "-X", "lo", "equal", "1")[2] == (
        "Cannot get RX ring count: Operation not supported\n")


def test_fill_indir_table_rules() -> None:
    assert fill_indir_table(8, 0, 3, []) == [0, 1, 2, 0, 1, 2, 0, 1]
    assert fill_indir_table(8, 2, 2, []) == [2, 3, 2, 3, 2, 3, 2, 3]
    assert fill_indir_table(8, 0, 0, [1, 1]) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert fill_indir_table(8, 0, 0, [1, 3]) == [0, 0, 1, 1, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="exceeds the size"):
        fill_indir_table(4, 0, 0, [3, 3])


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["ethtool", "-l", "eth0"]) == 0
    assert capsys.readouterr().out.endswith("Combined:\t4\n")
    assert tuxnet_main(["ethtool", "-i", "nope"]) == 71
    assert capsys.readouterr().err == "Cannot get driver information: No such device\n"
    assert tuxnet_main(["ethtool", "--version"]) == 0
    assert capsys.readouterr().out == "ethtool version 6.1\n"
