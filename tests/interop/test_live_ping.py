"""``tuxnet live`` against the real kernel: ping (plain and fragmented), ARP on both
sides, a clean exit on SIGTERM and at the end of --duration, and a clear error when
not root.

Each test module gets its own namespace; ``tuxnet live`` runs in it as a subprocess
(``ip netns exec NS python -m tuxnet live ...``), the TAP's kernel side is
10.81.0.1/24, tuxnet is 10.81.0.2/24.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from _liveutil import Live, live, netns, ns_run, require_live, run_bench_quick
from conftest import need

pytestmark = pytest.mark.root

TUX = "10.81.0.2"
KERNEL = "10.81.0.1"
ARGS = ("--tap", "tnx0", "--addr", f"{TUX}/24", "--peer-addr", f"{KERNEL}/24", "--json")


def _received(out: str) -> tuple[int, int]:
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


@pytest.fixture(scope="module")
def ns() -> Iterator[str]:
    require_live("ping")
    with netns("p") as name:
        yield name


@pytest.fixture(scope="module")
def tux(ns: str) -> Iterator[Live]:
    with live(ns, *ARGS) as inst:
        yield inst


def test_ping_no_loss(ns: str, tux: Live) -> None:
    r = ns_run(ns, "ping", "-c", "20", "-i", "0.05", "-W", "2", TUX)
    assert _received(r.stdout) == (20, 20), r.stdout + r.stderr
    assert " 0% packet loss" in r.stdout


def test_ping_fragmented_both_ways(ns: str, tux: Live) -> None:
    # 4000 bytes of ICMP data: 3 fragments each way at MTU 1500, reassembled by tuxnet
    # (ip_defrag) and by the kernel
    r = ns_run(ns, "ping", "-s", "4000", "-c", "3", "-i", "0.2", "-W", "2", TUX)
    assert _received(r.stdout) == (3, 3), r.stdout + r.stderr
    assert "4008 bytes from" in r.stdout


def test_kernel_learns_tuxnet_mac(ns: str, tux: Live) -> None:
    ns_run(ns, "ping", "-c", "1", "-W", "2", TUX)
    shown = ns_run(ns, "ip", "neigh", "show", TUX, "dev", "tnx0").stdout
    assert tux.mac in shown and re.search(r"REACHABLE|STALE|DELAY|PROBE", shown), shown


def test_sigterm_report_and_cleanup(ns: str) -> None:
    # an instance of its own (the module's one is still serving): another TAP name
    with netns("q") as ns2:
        inst = Live(ns2, *ARGS)
        try:
            r = ns_run(ns2, "ping", "-c", "3", "-i", "0.1", "-W", "2", TUX)
            assert _received(r.stdout) == (3, 3), r.stdout + r.stderr
            kernel_mac = ns_run(ns2, "cat", "/sys/class/net/tnx0/address").stdout.strip()
            report = inst.stop_json()
        finally:
            inst.stop()
        snmp = report["snmp"]
        assert snmp["IcmpInEchos"] >= 3 and snmp["IcmpOutEchoReps"] >= 3
        assert snmp["IcmpMsgInType8"] >= 3 and snmp["IcmpMsgOutType0"] >= 3
        assert snmp["IpInReceives"] >= 3 and snmp["IpOutRequests"] >= 3
        assert report["stop"] == "SIGTERM" and report["removed"] is True
        stats = report["interface"]["stats64"]
        assert stats["rx_packets"] >= 4 and stats["tx_packets"] >= 4  # + ARP
        assert stats["rx_errors"] == 0 and stats["tx_errors"] == 0
        # tuxnet's ARP table has the kernel's side
        entries = {e["dst"]: e for e in report["neigh"]}
        assert entries[KERNEL]["lladdr"] == kernel_mac, report["neigh"]
        assert report["kernel_side"]["lladdr"] == kernel_mac
        assert isinstance(report["drops"], dict)  # reasons by name (IPv6 frames ...)
        # the TAP (and the kernel-side address with it) is gone
        gone = ns_run(ns2, "ip", "link", "show", "dev", "tnx0")
        assert gone.returncode != 0
        assert KERNEL not in ns_run(ns2, "ip", "-4", "addr").stdout


def test_duration_text_report(ns: str) -> None:
    with netns("d") as ns2:
        r = ns_run(ns2, sys.executable, "-m", "tuxnet", "live", "--tap", "tnx7",
                   "--addr", f"{TUX}/24", "--peer-addr", f"{KERNEL}/24", "--duration",
                   "0.5", timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].startswith(f"tuxnet live: tap tnx7 up, {TUX}/24 (lladdr ")
        assert "tuxnet live: stopped (duration) after" in r.stdout
        assert re.search(r"^\s+RX:\s+bytes\s+packets", r.stdout, re.M)
        assert "drops: " in r.stdout and "neighbours:" in r.stdout
        assert lines[-1] == "tuxnet live: removed tnx7"
        assert r.stderr == ""
        assert ns_run(ns2, "ip", "link", "show", "dev", "tnx7").returncode != 0


def test_sigint_while_traffic(ns: str) -> None:
    with netns("i") as ns2, live(ns2, *ARGS) as inst:
        pinger = subprocess.Popen(["ip", "netns", "exec", ns2, "ping", "-i", "0.01", TUX],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ns_run(ns2, "ping", "-c", "2", "-W", "2", TUX)
            out, err = inst.stop(sig=2)
        finally:
            pinger.kill()
            pinger.wait()
        assert inst.proc.returncode == 0, err
        assert '"stop": "SIGINT"' in out and "Traceback" not in err
        assert ns_run(ns2, "ip", "link", "show", "dev", "tnx0").returncode != 0


def test_busy_poll_ping_udp_and_sigterm(ns: str) -> None:
    """--busy-poll: the loop never sleeps in epoll, yet answers ARP, ping and UDP echo
    and still stops at once on SIGTERM (the signal wakeup pipe is polled too)."""
    with netns("b") as ns2:
        inst = Live(ns2, *ARGS, "--busy-poll", "--serve", "udp-echo:7")
        try:
            assert "busy polling" in inst.ready
            r = ns_run(ns2, "ping", "-c", "10", "-i", "0.01", "-W", "2", TUX)
            assert _received(r.stdout) == (10, 10), r.stdout + r.stderr
            code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
                    "s.settimeout(2); s.connect(('" + TUX + "', 7)); s.send(b'bp' * 50);"
                    "print(s.recv(2048).decode())")
            r = ns_run(ns2, sys.executable, "-c", code)
            assert r.stdout.strip() == "bp" * 50, r.stderr
            report = inst.stop_json()
        finally:
            inst.stop()
        assert report["stop"] == "SIGTERM"
        assert report["snmp"]["IcmpOutEchoReps"] >= 10
        assert report["snmp"]["UdpInDatagrams"] >= 1


def test_bench_ping_quick() -> None:
    """benchmarks/bench_ping.py --quick runs both tuxnet modes, the kernel and both raw
    floors at each of its three intervals, says for each tuxnet mode and interval
    whether the target is met, and ends with its ratios."""
    require_live("ping")
    lines = run_bench_quick("bench_ping.py", 4, timeout=180)
    for peer in ("tuxnet (TAP)", "tuxnet --busy-poll", "kernel (veth)", "raw TAP floor",
                 "raw TAP floor, spinning"):
        assert sum(ln.startswith(peer + " ") for ln in lines) == 3, lines
    verdicts = [ln for ln in lines if re.match(r"-i 0\.(2|01|002): tuxnet (--busy-poll )?"
                                               r"median RTT [\d.]+ ms (meets|misses)", ln)]
    assert len(verdicts) == 6, lines


def test_not_root_is_a_clear_error() -> None:
    require_live()
    setpriv = shutil.which("setpriv")
    need(setpriv is not None, "setpriv missing (util-linux)")
    assert setpriv is not None
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-m", "tuxnet", "live", "--tap", "tnxnr0",
                        "--addr", f"{TUX}/24"], capture_output=True, text=True, timeout=30,
                       env=env, cwd="/")
    assert r.returncode == 1, r.stdout + r.stderr
    # EACCES where /dev/net/tun is 0600, EPERM from TUNSETIFF where it is 0666
    assert re.fullmatch(r"tuxnet live: cannot open /dev/net/tun: (Operation not permitted|"
                        r"Permission denied) \(run as root\)\n", r.stderr), r.stderr
    assert r.stdout == ""
