"""``tuxnet live`` argument handling and report formatting (no root needed)."""

from __future__ import annotations

import pytest

from tuxnet.cli import SUBCOMMANDS
from tuxnet.live.runner import LiveError, format_report, split_prefix
from tuxnet.live.services import SERVICES, ServiceError, parse_port
from tuxnet.tools.live_cmd import main


def test_registered() -> None:
    assert SUBCOMMANDS["live"][0] == "tuxnet.tools.live_cmd"
    assert "udp-echo" in SERVICES


@pytest.mark.parametrize("argv, msg", [
    (["--tap", "tnx0"], "the following arguments are required: --addr"),
    (["--tap", "tnx0", "--addr", "10.0.0.2"], "needs a prefix length"),
    (["--tap", "tnx0", "--addr", "10.0.0.300/24"], "is not an IPv4 address"),
    (["--tap", "tnx0", "--addr", "10.0.0.2/24", "--route", "0/0", "through", "10.0.0.1"],
     "expected 'PREFIX via GW'"),
    (["--tap", "tnx0", "--addr", "10.0.0.2/24", "--mtu", "40"], "outside 68..65535"),
    (["--tap", "tnx0", "--addr", "10.0.0.2/24", "--mac", "01:00:5e:00:00:01"], "multicast"),
    (["--tap", "tnx0", "--addr", "10.0.0.2/24", "--duration", "0"], "must be > 0"),
])
def test_bad_arguments(argv: list[str], msg: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        main(argv)
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err


def test_split_prefix_and_ports() -> None:
    assert split_prefix("10.1.2.3/24", "--addr") == ("10.1.2.3", 24)
    with pytest.raises(LiveError):
        split_prefix("10.1.2/24", "--addr")
    assert parse_port("7", "udp-echo") == 7
    for bad in ("0", "65536", "x"):
        with pytest.raises(ServiceError):
            parse_port(bad, "udp-echo")


def test_format_report() -> None:
    rep = {
        "tap": "tnx0", "addr": "10.0.0.2/24", "stop": "SIGTERM", "duration_s": 1.5,
        "interface": {"name": "tnx0", "lladdr": "02:00:00:00:00:02", "mtu": 1500,
                      "stats64": {"rx_packets": 3, "rx_bytes": 300, "tx_packets": 2},
                      "ethtool": {"tap_rx_reads": 3, "tap_tx_writes": 2, "rx_irqs": 3}},
        "kernel_side": {"name": "tnx0", "lladdr": "02:00:00:00:00:01"},
        "snmp": {"IpInReceives": 3, "IpExtInOctets": 300, "IcmpInMsgs": 1,
                 "IcmpMsgInType8": 1, "UdpInDatagrams": 0},
        "drops": {"UNHANDLED_PROTO": 1},
        "drop_locations": {"UNHANDLED_PROTO@__netif_receive_skb_core": 1},
        "neigh": [{"dst": "10.0.0.1", "dev": "tnx0", "lladdr": "02:00:00:00:00:01",
                   "state": ["REACHABLE"]}],
        "services": {"udp-echo:7": {"requests": 1, "replies": 1}},
    }
    text = format_report(rep)
    assert text.startswith("tuxnet live: stopped (SIGTERM) after 1.500 s\n")
    assert "Ip: InReceives 3\n" in text and "IpExt: InOctets 300\n" in text
    assert "IcmpMsg: InType8 1\n" in text and "Udp:" not in text
    assert "drops: 1 UNHANDLED_PROTO\n" in text
    assert "    1 drops at __netif_receive_skb_core [UNHANDLED_PROTO]\n" in text
    assert "    10.0.0.1 dev tnx0 lladdr 02:00:00:00:00:01 REACHABLE\n" in text
    assert "service udp-echo:7: requests 1 replies 1\n" in text
    assert "tap: rx_reads 3 tx_writes 2\n" in text
