"""``ip link`` against what iproute2 6.1 printed on Linux 6.18 (samples/ip_*link*): a
veth0 whose peer lives in namespace nfr_obs2, with the capture's counters, MAC and
root qdisc kind; plus ``ip link set`` on the demonstration host."""

from __future__ import annotations

import io
import json

import pytest
from conftest import REFERENCE

from tuxnet.cli import main as tuxnet_main
from tuxnet.core.dev import dev_open
from tuxnet.core.netdevice import IFF_PROMISC, IFF_UP
from tuxnet.drivers.loopback import loopback_init
from tuxnet.drivers.simnic import SimNic
from tuxnet.drivers.veth import VethDevice, veth_pair
from tuxnet.host import Host
from tuxnet.ipv4.devinet import inet_state
from tuxnet.loop import SimLoop
from tuxnet.tools.demo import demo_host
from tuxnet.tools.ip_cmd import run as ip_run

SAMPLES = REFERENCE / "samples"


class _Tbf:
    kind = "tbf"  # the capture's root qdisc (tuxnet has no tbf)


def sample_host() -> tuple[Host, VethDevice]:
    """The capture's veth0: 4 queues, MAC 0a:e4:5e:c8:7f:2c, counters as sampled."""
    loop = SimLoop()
    a = Host(loop, "a", ncpus=4)
    b = Host(loop, "nfr_obs2", ncpus=4)
    loopback_init(a)
    loopback_init(b)
    v0, v1 = veth_pair(a, "veth0", b, "veth1", num_queues=4)
    v0.dev_addr = bytes.fromhex("0ae45ec87f2c")
    dev_open(v0)
    dev_open(v1)
    v0.qdisc = _Tbf()
    v0.tx_bytes_sw, v0.tx_packets_sw = 198560263, 102379  # what veth0 sent
    v1.tx_bytes_sw, v1.tx_packets_sw = 3347916, 50725  # what veth0 received
    v0.carrier_up_count = 1  # type: ignore[attr-defined]  # IFLA_CARRIER_CHANGES 2
    v0.carrier_down_count = 1  # type: ignore[attr-defined]
    return a, v0


def ip(host: Host, cmd: str) -> tuple[int, str]:
    out = io.StringIO()
    rc = ip_run(host, cmd.split(), out)
    return rc, out.getvalue()


def test_stats_twice_matches_sample() -> None:
    host, _ = sample_host()
    assert ip(host, "-s -s link show veth0") == (
        0, (SAMPLES / "ip_-s_-s_link.txt").read_text())


def test_json_stats_matches_sample() -> None:
    host, _ = sample_host()
    rc, out = ip(host, "-j -s link show dev veth0")
    assert rc == 0
    assert out == (SAMPLES / "ip_-j_-s_link.json").read_text().rstrip("\n") + "\n"
    doc = json.loads(out)[0]
    assert doc["stats64"]["tx"]["bytes"] == 198560263


def test_details_match_sample_but_for_ipv6() -> None:
    host, _ = sample_host()
    rc, out = ip(host, "-d link show veth0")
    # tuxnet has no IPv6: no IFLA_AF_SPEC inet6, hence no "addrgenmode eui64"
    want = (SAMPLES / "ip_-d_link.txt").read_text().replace("addrgenmode eui64 ", "")
    assert (rc, out) == (0, want)
    doc = json.loads(ip(host, "-j -d link show veth0")[1])[0]
    assert doc["linkinfo"] == {"info_kind": "veth"} and doc["num_tx_queues"] == 4
    assert (doc["promiscuity"], doc["min_mtu"], doc["tso_max_size"]) == (0, 68, 524280)


def test_stats_once_and_columns_grow_with_the_numbers() -> None:
    host, v0 = sample_host()
    v0.tx_bytes_sw = 123456789012345
    _, out = ip(host, "-s link show veth0")
    lines = out.splitlines()
    assert lines[2:] == [  # size_columns: RX and TX share the widths
        "    RX:       bytes packets errors dropped  missed   mcast           ",
        "            3347916   50725      0       0       0       0 ",
        "    TX:       bytes packets errors dropped carrier collsns           ",
        "    123456789012345  102379      0       0       0       0 "]


def test_demo_host_listing() -> None:
    host = demo_host()
    rc, out = ip(host, "link")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == ("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN "
                        "mode DEFAULT group default qlen 1000")
    assert lines[1] == "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"
    assert lines[2] == ("2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP "
                        "mode DEFAULT group default qlen 1000")
    assert lines[3].startswith("    link/ether 02:") and lines[3].endswith(
        " brd ff:ff:ff:ff:ff:ff")
    rc, out = ip(host, "-o link show eth0")
    assert out.count("\n") == 1 and "qlen 1000\\    link/ether " in out
    assert ip(host, "link show up")[1].count("\n") == 4
    assert ip(host, "link show eth9") == (1, 'Device "eth9" does not exist.\n')
    assert ip(host, "link show eth0 lo") == (
        255, 'Error: either "dev" is duplicate, or "lo" is a garbage.\n')
    assert ip(host, "link frob") == (255, 'Command "frob" is unknown, try "ip link help".\n')


def test_link_set() -> None:
    host = demo_host()
    nic = host.devices["eth0"]
    assert isinstance(nic, SimNic)
    assert ip(host, "link set eth0 down") == (0, "")
    assert not nic.flags & IFF_UP
    assert ip(host, "link show eth0")[1].startswith(
        "2: eth0: <BROADCAST,MULTICAST> mtu 1500 qdisc mq state DOWN mode DEFAULT")
    assert ip(host, "link set dev eth0 up mtu 9000 txqueuelen 5000") == (0, "")
    assert nic.flags & IFF_UP and nic.mtu == 9000 and nic.tx_queue_len == 5000
    assert "mtu 9000 qdisc mq state UP mode DEFAULT group default qlen 5000" in ip(
        host, "link show eth0")[1]
    assert ip(host, "link set eth0 address 02:11:22:33:44:55 promisc on") == (0, "")
    assert nic.dev_addr == bytes.fromhex("021122334455") and nic.flags & IFF_PROMISC
    assert "<BROADCAST,MULTICAST,PROMISC,UP,LOWER_UP>" in ip(host, "link show eth0")[1]
    assert ip(host, "link set eth0 mtu 20") == (2, "Error: mtu less than device minimum.\n")
    assert ip(host, "link set eth0 mtu 10000") == (
        2, "Error: mtu greater than device maximum.\n")
    assert ip(host, "link set eth0 mtu big") == (
        255, 'Error: argument "big" is wrong: Invalid "mtu" value\n')
    assert ip(host, "link set eth0 address 01:00:5e:00:00:01") == (
        2, "RTNETLINK answers: Cannot assign requested address\n")
    assert ip(host, "link set eth0 address xyz") == (255, '"xyz" is invalid lladdr.\n')
    assert ip(host, "link set eth0 promisc maybe") == (
        255, 'Error: argument of "promisc" must be "on" or "off", not "maybe"\n')
    assert ip(host, "link set eth9 up") == (1, 'Cannot find device "eth9"\n')
    assert ip(host, "link set up") == (
        255, 'Not enough information: "dev" argument is required.\n')
    rc, out = ip(host, "link set dev eth0 xdp obj prog.o sec xdp")
    assert rc == 2 and "prog.o: No such file or directory" in out  # xdp obj: the file is read


def test_link_set_tells_ipv4() -> None:
    host = demo_host()
    inet_state(host)  # IPv4 up: lo gets 127.0.0.1/8
    assert ip(host, "addr add 10.1.0.1/24 dev eth0")[0] == 0
    assert "10.1.0.0/24 dev eth0" in ip(host, "route")[1]
    assert ip(host, "link set eth0 down") == (0, "")
    assert "10.1.0.0/24" not in ip(host, "route")[1]
    assert ip(host, "link set eth0 up") == (0, "")
    assert "10.1.0.0/24 dev eth0" in ip(host, "route")[1]


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["ip", "-s", "link", "show", "eth0"]) == 0
    out = capsys.readouterr().out
    assert "    RX:  bytes packets errors dropped  missed   mcast" in out
