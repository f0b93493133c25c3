"""MIB counters: /proc/net/snmp, /proc/net/netstat and nstat layouts equal Linux's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.mib import Mib
from tuxnet.sysctl import Sysctl
from tuxnet.tools.procfs import ProcError, proc_net_netstat, proc_net_snmp, read_proc


def sample(reference_dir: Path, name: str) -> str:
    return (reference_dir / "samples" / name).read_text()


def load_into(mib: Mib, text: str) -> None:
    """Set mib's counters from a /proc/net/snmp or /proc/net/netstat text."""
    lines = text.splitlines()
    for head, vals in zip(lines[0::2], lines[1::2], strict=True):
        group, names = head.split(":")[0], head.split()[1:]
        values = [int(v) for v in vals.split()[1:]]
        for name, value in zip(names, values, strict=True):
            if group == "Ip" and name in ("Forwarding", "DefaultTTL"):
                continue
            if group == "Icmp":
                if name in mib.icmp.NAMES:
                    mib.icmp[name] = value
                continue
            if group == "IcmpMsg":
                t = int(name.split("Type")[1])
                mib.icmpmsg[t | (0x100 if name.startswith("Out") else 0)] = value
                continue
            attr = {"Ip": "ip", "Tcp": "tcp", "Udp": "udp", "UdpLite": "udplite",
                    "TcpExt": "tcpext", "IpExt": "ipext", "MPTcpExt": "mptcpext"}[group]
            getattr(mib, attr)[name] = value


@pytest.mark.parametrize("name", ["proc_net_snmp_obs1.txt", "proc_net_snmp_obs2.txt",
                                  "dut_proc_net_snmp.txt"])
def test_snmp_reproduces_the_sample_byte_for_byte(reference_dir: Path, name: str) -> None:
    text = sample(reference_dir, name)
    sysctl = Sysctl()
    ip_line = text.splitlines()[1].split()
    if ip_line[1] == "1":
        sysctl.set("net.ipv4.ip_forward", 1)
    mib = Mib(sysctl)
    load_into(mib, text)
    assert mib.format_snmp() == text


@pytest.mark.parametrize("name", ["proc_net_netstat_obs1.txt", "proc_net_netstat_obs2.txt"])
def test_netstat_reproduces_the_sample_byte_for_byte(reference_dir: Path, name: str) -> None:
    text = sample(reference_dir, name)
    mib = Mib()
    load_into(mib, text)
    assert mib.format_netstat() == text


def test_fresh_layout_equals_the_samples(reference_dir: Path) -> None:
    mib = Mib(Sysctl())
    for ours, theirs in [(mib.format_snmp(), sample(reference_dir, "proc_net_snmp_obs1.txt")),
                         (mib.format_netstat(),
                          sample(reference_dir, "proc_net_netstat_obs1.txt"))]:
        a, b = ours.splitlines(), theirs.splitlines()
        assert a[0::2] == b[0::2]  # same groups, same names, same order
        assert [len(x.split()) for x in a] == [len(x.split()) for x in b]
    assert mib.format_snmp().splitlines()[1].startswith("Ip: 2 64 0 ")
    assert "Tcp: 1 200 120000 -1 0" in mib.format_snmp()
    assert "IcmpMsg" not in mib.format_snmp()


def test_forwarding_and_ttl_come_from_sysctl() -> None:
    sysctl = Sysctl()
    mib = Mib(sysctl)
    sysctl.set("net.ipv4.ip_forward", 1)
    sysctl.set("net.ipv4.ip_default_ttl", 128)
    assert mib.format_snmp().splitlines()[1].startswith("Ip: 1 128 ")
    assert mib.counters()["IpForwarding"] == 1


def test_icmpmsg_lines_split_every_16_types() -> None:
    mib = Mib()
    for t in range(17):
        mib.icmpmsg[t] += t + 1
    lines = mib.format_snmp().splitlines()
    msg = [line for line in lines if line.startswith("IcmpMsg:")]
    assert len(msg) == 4
    assert msg[0].split()[1:] == [f"InType{t}" for t in range(16)]
    assert msg[2:] == ["IcmpMsg: InType16", "IcmpMsg: 17"]
    # Icmp per-type columns are views of IcmpMsg (icmpmibmap)
    icmp_names, icmp_values = lines[2].split()[1:], lines[3].split()[1:]
    assert icmp_values[icmp_names.index("InEchos")] == "9"
    assert icmp_values[icmp_names.index("InEchoReps")] == "1"


def test_counters_by_attribute_and_by_name() -> None:
    mib = Mib()
    mib.tcpext.TCPHPHits += 3
    mib.tcpext["TCPPureAcks"] += 1
    mib.tcp.CurrEstab += 1
    mib.tcp.CurrEstab -= 1
    assert mib.tcpext["TCPHPHits"] == 3
    assert mib.counters()["TcpExtTCPPureAcks"] == 1
    with pytest.raises(KeyError, match="TCPHPHitz"):
        mib.tcpext["TCPHPHitz"] += 1
    with pytest.raises(AttributeError):
        mib.tcpext.TCPHPHitz = 1  # type: ignore[attr-defined]
    mib.reset()
    assert mib.tcpext.TCPHPHits == 0 and mib.tcp.RtoMax == 120000


def test_nstat_matches_the_sample(reference_dir: Path) -> None:
    mib = Mib(Sysctl())
    load_into(mib, sample(reference_dir, "proc_net_snmp_obs1.txt"))
    load_into(mib, sample(reference_dir, "proc_net_netstat_obs1.txt"))
    v6 = ("Ip6", "Icmp6", "Udp6", "UdpLite6")
    expected = "".join(line + "\n" for line in
                       sample(reference_dir, "nstat_-az_obs1.txt").splitlines()
                       if not line.startswith(v6))
    assert mib.format_nstat() == expected
    nonzero = mib.format_nstat(zeros=False).splitlines()
    assert "TcpExtTCPHPHits                 19379              0.0" in nonzero
    assert len(nonzero) > 10
    assert all(int(line.split()[1]) != 0 for line in nonzero[1:])


def test_procfs_files() -> None:
    host = Host(SimLoop())
    host.mib.udp.NoPorts += 1
    assert read_proc(host, "/proc/net/snmp") == proc_net_snmp(host) == host.mib.format_snmp()
    assert read_proc(host, "/proc/net/netstat") == proc_net_netstat(host)
    assert "Udp: 0 1 0" in read_proc(host, "/proc/net/snmp")
    assert read_proc(host, "/proc/sys/net/ipv4/tcp_wmem") == "4096\t16384\t4194304\n"
    with pytest.raises(ProcError, match="cat: /proc/net/nope: No such file or directory"):
        read_proc(host, "/proc/net/nope")
    with pytest.raises(ProcError, match="Is a directory"):
        read_proc(host, "/proc/sys/net/ipv4")
