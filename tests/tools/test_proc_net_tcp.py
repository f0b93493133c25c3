"""/proc/net/tcp (tools/proc_net_tcp.py, tcp4_seq_show) and the packetdrill shell's
``grep ... /proc/net/tcp | grep ...`` that reads it."""

from __future__ import annotations

import pytest

from tuxnet.host import Host
from tuxnet.packetdrill.shell import ShellError, run_shell
from tuxnet.packetdrill.tun import make_host
from tuxnet.tcp import proto
from tuxnet.tcp.netns import tcp_net
from tuxnet.tools import proc_net_tcp
from tuxnet.tools.procfs import read_proc


def _listening_host() -> Host:
    host, _tun = make_host("192.168.0.1", "192.0.2.1")
    sk = proto.tcp_v4_init_sock(host)
    assert tcp_net(host).get_port(sk, 8080) == 0
    proto.inet_listen(sk, 5)
    return host


def test_listener_line() -> None:
    host = _listening_host()
    text = read_proc(host, "/proc/net/tcp")
    lines = text.splitlines()
    assert lines[0].startswith("  sl  local_address rem_address   st tx_queue")
    assert all(len(x) == proc_net_tcp.TMPSZ - 1 for x in lines)  # seq_pad
    fields = lines[1].split()
    assert fields[0] == "0:" and fields[1] == "00000000:1F90" and fields[3] == "0A"
    assert read_proc(host, "/proc/net/tcp6").startswith("  sl  local_address")


def test_shell_grep_pipeline() -> None:
    host = _listening_host()
    run_shell(host, 'grep " 0A " /proc/net/tcp /proc/net/tcp6 | grep ":1F90"', ".", {})
    with pytest.raises(ShellError):
        run_shell(host, 'grep " 0A " /proc/net/tcp | grep ":1F91"', ".", {})
