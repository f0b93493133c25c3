"""``tuxnet live --serve udp-echo:PORT`` against the real kernel: ``nc -u`` and a Python
client in the namespace get their datagrams back (small, and large enough to be
fragmented both ways); the exit report counts them.

Namespace per module; kernel side 10.82.0.1/24, tuxnet 10.82.0.2/24, echo on port 7.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest
from _liveutil import Live, live, netns, ns_run, require_live

pytestmark = pytest.mark.root

TUX = "10.82.0.2"
KERNEL = "10.82.0.1"
PORT = 7
ARGS = ("--tap", "tnx1", "--addr", f"{TUX}/24", "--peer-addr", f"{KERNEL}/24",
        "--serve", f"udp-echo:{PORT}", "--json")

# a kernel UDP client: sends each size, expects the same bytes back, prints a summary
CLIENT = r"""
import json, os, socket, sys
dst = (sys.argv[1], int(sys.argv[2]))
sizes = [int(x) for x in sys.argv[3].split(",")]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2.0)
ok = 0
bad = []
for i, n in enumerate(sizes):
    data = os.urandom(n)
    s.sendto(data, dst)
    try:
        got, src = s.recvfrom(65535)
    except socket.timeout:
        bad.append((n, "timeout"))
        continue
    if got == data and src == dst:
        ok += 1
    else:
        bad.append((n, len(got), src))
print(json.dumps({"ok": ok, "bad": bad}))
"""


@pytest.fixture(scope="module")
def ns() -> Iterator[str]:
    require_live("nc")
    with netns("u") as name:
        yield name


@pytest.fixture(scope="module")
def tux(ns: str) -> Iterator[Live]:
    with live(ns, *ARGS) as inst:
        yield inst


def test_nc_udp_echo(ns: str, tux: Live) -> None:
    r = ns_run(ns, "nc", "-u", "-w1", TUX, str(PORT), input="hello tuxnet\n")
    assert r.stdout == "hello tuxnet\n", (r.stdout, r.stderr)


def test_python_client_sizes(ns: str, tux: Live) -> None:
    # 1472 fills one 1500-byte frame; 1473 and 4000 are fragmented both ways
    sizes = [1, 18, 100, 512, 1472, 1473, 4000, 8000, 0]
    r = ns_run(ns, sys.executable, "-c", CLIENT, TUX, str(PORT),
               ",".join(map(str, sizes)))
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res == {"ok": len(sizes), "bad": []}


def test_many_round_trips(ns: str, tux: Live) -> None:
    r = ns_run(ns, sys.executable, "-c", CLIENT, TUX, str(PORT), ",".join(["64"] * 200))
    assert json.loads(r.stdout) == {"ok": 200, "bad": []}, r.stderr


def test_closed_port_and_report(ns: str) -> None:
    with netns("v") as ns2:
        inst = Live(ns2, *ARGS)
        try:
            r = ns_run(ns2, "nc", "-u", "-w1", TUX, str(PORT), input="one\n")
            assert r.stdout == "one\n", r.stderr
            # a closed port: tuxnet answers port unreachable, the kernel's nc sees it
            ns_run(ns2, "nc", "-u", "-w1", TUX, "9", input="x\n")
            report = inst.stop_json()
        finally:
            inst.stop()
        svc = report["services"][f"udp-echo:{PORT}"]
        assert svc["requests"] >= 1 and svc["replies"] == svc["requests"]
        snmp = report["snmp"]
        assert snmp["UdpInDatagrams"] >= 1 and snmp["UdpOutDatagrams"] >= 1
        assert snmp["UdpNoPorts"] >= 1 and snmp["IcmpMsgOutType3"] >= 1
        assert report["drops"].get("NO_SOCKET", 0) >= 1
        assert ns_run(ns2, "ip", "link", "show", "dev", "tnx1").returncode != 0
