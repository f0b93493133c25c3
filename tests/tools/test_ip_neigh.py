"""``ip neigh`` (iproute2 6.1) against the captured samples, plus its commands and
error messages."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REFERENCE, need

from tuxnet.host import Host
from tuxnet.ipv4.arp import Arp, arp_init
from tuxnet.loop.sim import SimLoop
from tuxnet.skb import PACKET_HOST, SkBuff, alloc_skb
from tuxnet.tools import ip_cmd
from tuxnet.wire import ip_int, mac_bytes

SEC = 1_000_000_000
PEER = "ea:d7:10:0c:44:68"


@dataclass
class Dev:
    name: str
    dev_addr: bytes
    ifindex: int = 0
    broadcast: bytes = b"\xff" * 6
    flags: int = 0x1003


class Lab:
    """A host with veth0 (10.50.0.1/24) and eth1, recording transmitted frames."""

    def __init__(self) -> None:
        self.loop = SimLoop()
        self.host = Host(self.loop, "h", seed=3)
        self.veth0 = Dev("veth0", bytes.fromhex("020000000001"))
        self.eth1 = Dev("eth1", bytes.fromhex("020000000101"))
        self.host.register_netdev(self.veth0)
        self.host.register_netdev(self.eth1)
        self.sent: list[bytes] = []

        def xmit(skb: SkBuff) -> int:
            self.sent.append(bytes(skb.data))
            self.host.consume_skb(skb)
            return 0
        self.arp: Arp = arp_init(self.host, xmit=xmit,
                                 is_local=lambda a, d: a == ip_int("10.50.0.1"),
                                 select_src=lambda d, t: ip_int("10.50.0.1"))

    def ip(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        rc = ip_cmd.run(self.host, list(argv), out)
        return rc, out.getvalue()

    def send(self, dst: str, dev: Dev | None = None) -> None:
        skb = alloc_skb(200)
        skb.reserve(64)
        skb.reset_network_header()
        hdr = skb.put(60)
        hdr[0] = 0x45
        hdr[12:16] = ip_int("10.50.0.1").to_bytes(4, "big")
        hdr[16:20] = ip_int(dst).to_bytes(4, "big")
        skb.protocol = 0x0800
        self.arp.ip_neigh_output(skb, dev or self.veth0, ip_int(dst))

    def reply(self, mac: str, ip: str, dev: Dev | None = None) -> None:
        dev = dev or self.veth0
        skb = alloc_skb(100)
        skb.put_data(b"\x00\x01\x08\x00\x06\x04\x00\x02" + mac_bytes(mac) +
                     ip_int(ip).to_bytes(4, "big") + dev.dev_addr +
                     ip_int("10.50.0.1").to_bytes(4, "big"))
        skb.pkt_type = PACKET_HOST
        self.arp.arp_rcv(skb, dev)


def _sample(name: str) -> str:
    path = Path(REFERENCE) / "samples" / name
    need(path.is_file(), f"reference sample missing: {path}")
    return path.read_text()


@pytest.fixture
def lab() -> Lab:
    return Lab()


def _resolved(lab: Lab) -> None:
    """10.50.0.2 resolved by traffic 14 s ago and confirmed by TCP just now."""
    lab.send("10.50.0.2")
    lab.reply(PEER, "10.50.0.2")
    lab.loop.run(until_ns=14 * SEC)
    lab.arp.ipv4_confirm_neigh(lab.veth0, ip_int("10.50.0.2"))


def test_show_matches_sample(lab: Lab) -> None:
    _resolved(lab)
    assert lab.ip("neigh") == (0, _sample("ip_neigh.txt"))
    assert lab.ip("n", "show") == (0, _sample("ip_neigh.txt"))
    assert lab.ip("neighbour", "list") == (0, _sample("ip_neigh.txt"))


def test_stats_match_sample(lab: Lab) -> None:
    _resolved(lab)
    assert lab.ip("-s", "neigh") == (0, _sample("ip_-s_neigh.txt"))


def test_incomplete_failed_and_stale_lines(lab: Lab) -> None:
    lab.send("10.50.0.3")
    assert lab.ip("neigh")[1] == "10.50.0.3 dev veth0 INCOMPLETE \n"
    assert lab.ip("-s", "neigh")[1] == (  # the pending timer holds a reference
        "10.50.0.3 dev veth0  ref 1 used 0/60/0probes 4 INCOMPLETE \n")
    lab.loop.run(until_ns=5 * SEC)
    assert lab.ip("-s", "neigh")[1] == "10.50.0.3 dev veth0  used 5/65/2probes 6 FAILED \n"
    lab.ip("neigh", "replace", "10.50.0.3", "lladdr", PEER, "nud", "stale", "dev", "veth0")
    assert lab.ip("neigh")[1] == f"10.50.0.3 dev veth0 lladdr {PEER} STALE \n"


def test_dev_filter_omits_the_device(lab: Lab) -> None:
    _resolved(lab)
    lab.ip("neigh", "add", "10.60.0.1", "lladdr", "02:00:00:00:00:99", "dev", "eth1")
    assert lab.ip("neigh", "show", "dev", "veth0")[1] == f"10.50.0.2 lladdr {PEER} REACHABLE \n"
    assert lab.ip("neigh", "show", "dev", "eth1")[1] == (
        "10.60.0.1 lladdr 02:00:00:00:00:99 PERMANENT \n")
    assert lab.ip("neigh", "show", "dev", "eth9") == (1, 'Cannot find device "eth9"\n')


def test_state_and_prefix_filters(lab: Lab) -> None:
    _resolved(lab)
    lab.ip("neigh", "add", "10.60.0.1", "lladdr", "02:00:00:00:00:99", "dev", "eth1")
    lab.ip("neigh", "add", "10.50.0.9", "lladdr", "02:00:00:00:00:98", "nud", "noarp",
           "dev", "veth0")
    _, out = lab.ip("neigh", "show", "nud", "permanent")
    assert out == "10.60.0.1 dev eth1 lladdr 02:00:00:00:00:99 PERMANENT \n"
    assert "NOARP" not in lab.ip("neigh")[1]  # hidden unless asked for
    assert lab.ip("neigh", "show", "nud", "noarp")[1] == (
        "10.50.0.9 dev veth0 lladdr 02:00:00:00:00:98 NOARP \n")
    assert lab.ip("neigh", "show", "to", "10.60.0.0/16")[1].startswith("10.60.0.1 ")
    assert lab.ip("neigh", "show", "10.50.0.2")[1].startswith("10.50.0.2 ")
    assert lab.ip("neigh", "show", "nud", "bogus") == (
        255, 'Error: argument "bogus" is wrong: nud state is bad\n')


def test_add_change_replace_del(lab: Lab) -> None:
    assert lab.ip("neigh", "add", "10.50.0.7", "lladdr", "02:00:00:00:00:07",
                  "dev", "veth0") == (0, "")
    assert lab.ip("neigh", "add", "10.50.0.7", "lladdr", "02:00:00:00:00:08",
                  "dev", "veth0") == (2, "RTNETLINK answers: File exists\n")
    assert lab.ip("neigh", "change", "10.50.0.7", "lladdr", "02:00:00:00:00:08",
                  "dev", "veth0") == (0, "")
    assert lab.ip("neigh")[1] == "10.50.0.7 dev veth0 lladdr 02:00:00:00:00:08 PERMANENT \n"
    assert lab.ip("neigh", "change", "10.50.0.8", "lladdr", "02:00:00:00:00:08",
                  "dev", "veth0") == (2, "RTNETLINK answers: No such file or directory\n")
    assert lab.ip("neigh", "replace", "10.50.0.8", "lladdr", "02:00:00:00:00:08",
                  "nud", "reachable", "dev", "veth0", "router") == (0, "")
    assert lab.ip("neigh")[1].splitlines()[1] == (
        "10.50.0.8 dev veth0 lladdr 02:00:00:00:00:08 router REACHABLE ")
    assert lab.ip("neigh", "del", "10.50.0.7", "dev", "veth0") == (0, "")
    assert lab.ip("neigh", "del", "10.50.0.7", "dev", "veth0") == (
        2, "RTNETLINK answers: No such file or directory\n")
    assert lab.ip("neigh", "delete", "10.50.0.8", "dev", "veth0") == (0, "")
    assert lab.ip("neigh", "show", "nud", "all") == (0, "")


def test_modify_errors(lab: Lab) -> None:
    assert lab.ip("neigh", "add", "10.50.0.7", "dev", "veth0") == (
        2, "Error: No link layer address given.\n")
    assert lab.ip("neigh", "add", "10.50.0.7", "lladdr", "02:00", "dev", "veth0") == (
        2, "Error: Invalid link address.\n")
    assert lab.ip("neigh", "add", "10.50.0.7", "lladdr", "zz:00", "dev", "veth0") == (
        1, '"zz" is invalid lladdr.\n')
    assert lab.ip("neigh", "add", "10.50.0.7", "lladdr", "02:00:00:00:00:07") == (
        255, "Device and destination are required arguments.\n")
    assert lab.ip("neigh", "add", "10.50.0.7", "lladdr", "02:00:00:00:00:07",
                  "dev", "eth9") == (1, 'Cannot find device "eth9"\n')
    assert lab.ip("neigh", "add", "10.50.0.999", "dev", "veth0") == (
        1, 'Error: any valid address is expected rather than "10.50.0.999".\n')
    assert lab.ip("neigh", "add", "10.50.0.7", "nud", "fast", "dev", "veth0") == (
        255, 'Error: argument "fast" is wrong: nud state is bad\n')
    assert lab.ip("neigh", "add", "10.50.0.7", "lladdr", "02:00:00:00:00:07",
                  "lladdr", "02:00:00:00:00:08", "dev", "veth0") == (
        255, 'Error: duplicate "lladdr": "02:00:00:00:00:08" is the second value.\n')
    assert lab.ip("neigh", "add", "10.50.0.7", "10.50.0.8", "dev", "veth0") == (
        255, 'Error: either "to" is duplicate, or "10.50.0.8" is a garbage.\n')
    assert lab.ip("neigh", "add", "10.50.0.7", "lladdr") == (
        255, 'Command line is not complete. Try option "help"\n')
    assert lab.ip("neigh", "frob") == (255, 'Command "frob" is unknown, try "ip neigh help".\n')
    rc, out = lab.ip("neigh", "help")
    assert rc == 255 and out.startswith("Usage: ip neigh { add | del | change | replace }\n")


def test_add_without_lladdr_leaves_a_none_entry(lab: Lab) -> None:
    lab.ip("neigh", "add", "10.50.0.7", "dev", "veth0")  # as Linux: created, then EINVAL
    assert lab.ip("neigh") == (0, "")
    assert lab.ip("neigh", "show", "nud", "none")[1] == "10.50.0.7 dev veth0 \n"


def test_flush(lab: Lab) -> None:
    assert lab.ip("neigh", "flush") == (1, "Flush requires arguments.\n")
    _resolved(lab)
    lab.send("10.50.0.3")
    lab.ip("neigh", "add", "10.50.0.7", "lladdr", "02:00:00:00:00:07", "dev", "veth0")
    assert lab.ip("neigh", "flush", "dev", "veth0") == (0, "")
    assert lab.ip("neigh")[1] == "10.50.0.7 dev veth0 lladdr 02:00:00:00:00:07 PERMANENT \n"
    assert lab.ip("-s", "neigh", "flush", "all") == (0, "Nothing to flush.\n")
    lab.ip("neigh", "replace", "10.50.0.2", "lladdr", PEER, "nud", "stale", "dev", "veth0")
    lab.ip("neigh", "replace", "10.50.0.3", "lladdr", PEER, "nud", "stale", "dev", "veth0")
    assert lab.ip("-s", "neigh", "flush", "to", "10.50.0.0/24") == (
        0, "\n*** Round 1, deleting 2 entries ***\n*** Flush is complete after 1 round ***\n")
    lab.ip("neigh", "replace", "10.50.0.2", "lladdr", PEER, "nud", "stale", "dev", "veth0")
    _, out = lab.ip("-s", "-s", "neigh", "flush", "nud", "stale")
    assert out.splitlines()[0].startswith(f"10.50.0.2 dev veth0 lladdr {PEER}  used ")
    assert lab.ip("neigh", "flush", "all") == (0, "")
    assert lab.ip("neigh") == (0, "10.50.0.7 dev veth0 lladdr 02:00:00:00:00:07 PERMANENT \n")


def test_get(lab: Lab) -> None:
    _resolved(lab)
    assert lab.ip("neigh", "get", "10.50.0.2", "dev", "veth0") == (0, _sample("ip_neigh.txt"))
    assert lab.ip("neigh", "get", "10.50.0.9", "dev", "veth0") == (
        2, "Error: Neighbour entry not found.\n")
    assert lab.ip("neigh", "get", "10.50.0.9") == (
        1, "Device and address are required arguments.\n")


def test_proxy_entries(lab: Lab) -> None:
    assert lab.ip("neigh", "add", "proxy", "10.50.0.77", "dev", "veth0") == (0, "")
    assert lab.ip("neigh", "show", "proxy") == (0, "10.50.0.77 dev veth0 proxy \n")
    assert lab.ip("neigh") == (0, "")
    assert lab.ip("neigh", "del", "proxy", "10.50.0.77", "dev", "veth0") == (0, "")
    assert lab.ip("neigh", "del", "proxy", "10.50.0.77", "dev", "veth0") == (
        2, "RTNETLINK answers: No such file or directory\n")


def test_json(lab: Lab) -> None:
    _resolved(lab)
    rc, out = lab.ip("-j", "neigh")
    assert rc == 0 and out == ('[{"dst":"10.50.0.2","dev":"veth0","lladdr":"ea:d7:10:0c:44:68",'
                               '"state":["REACHABLE"]}]\n')
    rc, out = lab.ip("-j", "-s", "neigh")
    assert json.loads(out) == [{"dst": "10.50.0.2", "dev": "veth0", "lladdr": PEER,
                                "refcnt": 1, "used": 14, "confirmed": 0, "updated": 14,
                                "probes": 4, "state": ["REACHABLE"]}]
    assert lab.ip("-j", "neigh", "show", "dev", "eth1") == (0, "[]\n")


def test_add_use_resolves(lab: Lab) -> None:
    assert lab.ip("neigh", "replace", "10.50.0.5", "dev", "veth0", "use") == (0, "")
    assert lab.ip("neigh")[1] == "10.50.0.5 dev veth0 INCOMPLETE \n"
    assert len(lab.sent) == 1 and lab.sent[0][12:14] == b"\x08\x06"
