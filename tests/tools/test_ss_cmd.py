"""``tuxnet ss`` (tools/ss_cmd.py, ss_render.py, ss_diag.py, ss_filter.py): the column
layout against real iproute2 6.1 output (reference samples, byte for byte), the
socket zoo of tuxnet.scenarios.sockets against the zoo the samples were captured
from, state filters, expressions, -e/-m/-i/-o/-s, and iproute2's errors."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tuxnet.scenarios.sockets import SocketZoo, build_sockets
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.sockopt import tcp_get_info
from tuxnet.tools import ss_cmd
from tuxnet.tools.ss_cmd import run, ss_lines
from tuxnet.tools.ss_diag import sk_meminfo
from tuxnet.tools.ss_fmt import ss_line, tcp_info_text
from tuxnet.tools.ss_render import COL_NETID, render

SAMPLES = ("ss_-tan.txt", "ss_-ltn.txt", "ss_-tanp.txt", "ss_-uanp.txt",
           "ss_-tino_states.txt", "ss_-tine_states.txt", "ss_-tinm_states.txt",
           "ss_-tin_loopback_bulk.txt", "ss_-tie_loopback_bulk.txt",
           "ss_-tinm_loopback_bulk.txt", "ss_-tin_veth_cubic_sender.txt",
           "ss_-tin_veth_cubic_receiver.txt")
EPHEMERAL = re.compile(r":(3[2-9]\d{3}|[4-5]\d{4}|60\d{3})\b")


@pytest.fixture(scope="module")
def zoo() -> SocketZoo:
    return build_sockets()


def _ss(host: object, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run(host, [w for a in args for w in a.split()], out, err)  # type: ignore[arg-type]
    return rc, out.getvalue(), err.getvalue()


def _sample_rows(text: str) -> list[list[str]]:
    """The tokens behind a real ``ss -t...`` output: the fixed columns of each socket's
    first line, its extension text (timer, -e details, users) and, when the next line
    starts with a TAB, ``\\n`` + that line without its padding."""
    lines = text.split("\n")[:-1]
    rows = [["Netid", "State", "Recv-Q", "Send-Q", "Local Address:", "Port",
             "Peer Address:", "Port", "Process", ""]]
    i = 1
    while i < len(lines):
        f = lines[i].split(None, 5)
        laddr, _, lport = f[3].rpartition(":")
        raddr, _, rport = f[4].rpartition(":")
        ext = " " + f[5].rstrip() if len(f) > 5 and f[5].strip() else ""
        i += 1
        if i < len(lines) and lines[i].startswith("\t"):
            ext += "\n" + lines[i].rstrip() if lines[i].strip() else "\n\t"
            i += 1
        rows.append(["", f[0], f"{int(f[1]):<6d}", f"{int(f[2]):<6d}", laddr + ":", lport,
                     raddr + ":", rport, ext, ""])
    return rows


@pytest.mark.parametrize("name", SAMPLES)
def test_layout_matches_real_ss(reference_dir: Path, name: str) -> None:
    text = (reference_dir / "samples" / name).read_text()
    rows = _sample_rows(text)
    assert render(rows, frozenset({COL_NETID}), open_last=len(rows) > 1) == text


def test_zoo_matches_the_sample_zoo(reference_dir: Path, zoo: SocketZoo) -> None:
    # same sockets as the capture (ephemeral port numbers aside; the kernel's hash order
    # differs from tuxnet's, so lines are compared as sets)
    for args, sample in (("-tan", "ss_-tan.txt"), ("-ltn", "ss_-ltn.txt")):
        want = (reference_dir / "samples" / sample).read_text().split("\n")
        got = "\n".join(ss_lines(zoo.host, args)).split("\n")
        norm = [EPHEMERAL.sub(":EEEEE", x) for x in got]
        assert norm[0] == want[0]
        assert sorted(norm[1:]) == sorted(EPHEMERAL.sub(":EEEEE", x) for x in want[1:-1])
    assert ss_lines(zoo.host, "-ltn") == (reference_dir / "samples/ss_-ltn.txt") \
        .read_text().splitlines()


def test_udp_lines(zoo: SocketZoo) -> None:
    lines = ss_lines(zoo.host, "-uan")
    assert lines[0] == "State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess"
    assert lines[1].startswith("UNCONN 832    0            0.0.0.0:5353       0.0.0.0:*")
    assert re.match(r"ESTAB  0      0          127\.0\.0\.1:\d{5}    127\.0\.0\.1:5353 ",
                    lines[2])
    assert ss_lines(zoo.host, "-un")[0].startswith("Recv-Q")  # one state: no State column


def test_demo_host_is_empty() -> None:
    from tuxnet.tools.demo import demo_host

    rc, out, _ = _ss(demo_host())
    assert rc == 0
    assert out == "Netid State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n"
    assert _ss(demo_host(), "-H")[1] == ""


def test_timers(zoo: SocketZoo) -> None:
    text = "\n".join(ss_lines(zoo.host, "-tano"))
    assert re.search(r"FIN-WAIT-2 .* timer:\(timewait,59sec,0\) *$", text, re.M)
    assert re.search(r"TIME-WAIT .* timer:\(timewait,59sec,0\) *$", text, re.M)
    # the SYN (RTO 1 s) was sent 0.4 s before: 600 ms left, no retransmission yet
    assert re.search(r"SYN-SENT .*10\.50\.0\.2:9 +timer:\(on,600ms,0\) *$", text, re.M)
    assert ss_cmd._print_ms_timer(59_000) == "59sec"
    assert ss_cmd._print_ms_timer(1_500) == "1.500ms"
    assert ss_cmd._print_ms_timer(4) == "004ms"
    assert ss_cmd._print_ms_timer(125_000) == "2min5sec"


def test_extended_details(zoo: SocketZoo) -> None:
    lines = ss_lines(zoo.host, "-tane")
    by_state = {ln.split()[0]: ln.rstrip() for ln in lines[1:]}
    assert re.search(r" ino:\d+ sk:[0-9a-f]+ cgroup:unreachable:1 -->$", by_state["CLOSE-WAIT"])
    assert re.search(r" ino:\d+ sk:[0-9a-f]+ cgroup:unreachable:1 <->$", by_state["LISTEN"])
    assert re.search(r"timer:\(timewait,59sec,0\) ino:0 sk:[0-9a-f]+$", by_state["TIME-WAIT"])
    # cookies are handed out once and kept
    assert ss_lines(zoo.host, "-tane") == lines


def test_skmem_is_the_sockets_accounting(zoo: SocketZoo) -> None:
    s1 = zoo.socks["s1"].sk
    text = "\n".join(ss_lines(zoo.host, "-tnm state established"))
    assert s1.sk_rmem_alloc > 1000  # the 1000 unread bytes' truesize
    want = "skmem:(r{},rb{},t{},tb{},f{},w{},o{},bl{},d{})".format(*sk_meminfo(s1))
    line = text.split("\n")[text.split("\n").index(next(
        x for x in text.split("\n") if x.startswith("1000 "))) + 1]
    assert line == "\t " + want
    udp = "\n".join(ss_lines(zoo.host, "-uanm"))
    assert f"\t skmem:(r{zoo.socks['udp_rx'].sk.sk_rmem_alloc},rb" in udp


def test_info_lines_are_ss_fmts(zoo: SocketZoo) -> None:
    lines = ss_lines(zoo.host, "-ti state all")
    full = [sk for sk in tcp_net(zoo.host).all_socks]
    infos = [ln.rstrip() for ln in lines if ln.startswith("\t") and ln.strip()]
    want = [ss_line(sk).split("\n")[1] for sk in full]
    assert sorted(infos) == sorted(want)
    c1 = zoo.socks["c1"].sk
    numeric = "\n".join(ss_lines(zoo.host, "-tin"))
    assert "\t" + tcp_info_text(tcp_get_info(c1), "cubic", numeric=True) in numeric


@pytest.mark.parametrize(("filt", "states"), [
    ("", {"ESTAB", "FIN-WAIT-2", "CLOSE-WAIT", "SYN-SENT"}),
    ("-a", {"LISTEN", "ESTAB", "FIN-WAIT-2", "CLOSE-WAIT", "TIME-WAIT", "SYN-SENT"}),
    ("-l", {"LISTEN"}),
    ("state all", {"LISTEN", "ESTAB", "FIN-WAIT-2", "CLOSE-WAIT", "TIME-WAIT", "SYN-SENT"}),
    ("state connected", {"ESTAB", "FIN-WAIT-2", "CLOSE-WAIT", "TIME-WAIT", "SYN-SENT"}),
    ("state synchronized", {"ESTAB", "FIN-WAIT-2", "CLOSE-WAIT", "TIME-WAIT"}),
    ("state bucket", {"TIME-WAIT"}),
    ("state big", {"LISTEN", "ESTAB", "FIN-WAIT-2", "CLOSE-WAIT", "SYN-SENT"}),
    ("exclude listening exclude time-wait",
     {"ESTAB", "FIN-WAIT-2", "CLOSE-WAIT", "SYN-SENT"}),
    ("state fin-wait-2 state close-wait", {"FIN-WAIT-2", "CLOSE-WAIT"}),
    ("state SYN-SENT state Listening", {"LISTEN", "SYN-SENT"}),
])
def test_state_filters(zoo: SocketZoo, filt: str, states: set[str]) -> None:
    lines = ss_lines(zoo.host, "-tn " + filt)
    assert {ln.split()[0] for ln in lines[1:]} == states
    assert lines[0].startswith("State ")


def test_single_state_hides_the_column(zoo: SocketZoo) -> None:
    lines = ss_lines(zoo.host, "-tn state established")
    assert lines[0].startswith("Recv-Q Send-Q")
    assert len(lines) == 3 and all(ln.split()[0] in ("0", "1000") for ln in lines[1:])
    assert ss_lines(zoo.host, "-tun")[0].startswith("Netid State")


@pytest.mark.parametrize(("expr", "count"), [
    ("sport = :8080", 3), ("dport == :8080", 3), ("sport eq 8080", 3),
    ("dst 10.50.0.2", 1), ("dst 10.50.0.0/24:9", 1), ("src 127.0.0.1/8", 6),
    ("src 127.0.0.1 and not sport = :8080", 4), ("( sport = :9090 or dport = :9 )", 2),
    ("dport > :1024", 5), ("dport lt :1024", 3), ("sport >= :9090", 5),
    ("sport != :8080 dport != :8080", 2), ("src *:8080", 3),
])
def test_expressions(zoo: SocketZoo, expr: str, count: int) -> None:
    assert len(ss_lines(zoo.host, "-tan", expr)) - 1 == count


def test_summary_counts(reference_dir: Path, zoo: SocketZoo) -> None:
    rc, out, _ = _ss(zoo.host, "-s")
    assert rc == 0
    tn = tcp_net(zoo.host)
    full = sum(len(v) for v in tn.listeners.values()) + sum(
        1 for sk in tn.ehash.values() if sk.sk_state not in (6, 12))
    tw = sum(1 for sk in tn.ehash.values() if sk.sk_state == 6)
    lines = ss_lines(zoo.host, "-tan")[1:]
    estab = sum(1 for ln in lines if ln.split()[0] in ("ESTAB", "CLOSE-WAIT"))
    assert f"\nTCP\t  {full:<9d} {full:<9d} 0        \n" in out
    assert f"timewait {tw})" in out and f"(estab {estab}," in out
    assert "\nUDP\t  2         2         0        \n" in out
    assert tw == 2 and full == 6
    sample = (reference_dir / "samples/ss_-s.txt").read_text()
    assert re.sub(r"\d+", "N", out) == re.sub(r"\d+", "N", sample)
    # -s alone stops after the summary; with a table it lists that too
    assert _ss(zoo.host, "-s", "-t")[1].count("ESTAB") == 2


@pytest.mark.parametrize(("argv", "rc", "err"), [
    ("-y", 255, "ss: invalid option -- 'y'\nUsage: ss [ OPTIONS ]\n"),
    ("--bogus", 255, "ss: unrecognized option '--bogus'\nUsage: ss [ OPTIONS ]\n"),
    ("-f", 255, "ss: option requires an argument -- 'f'\n"),
    ("-f bogus", 255, 'ss: "bogus" is invalid family\n'),
    ("state bogus", 255, "ss: wrong state name: bogus\n"),
    ("state", 255, 'Command line is not complete. Try option "help"\n'),
    ("-t dport =", 255, 'ss: bison bellows (while parsing filter): "syntax error!" Sorry.\n'),
    ("-t dst nosuchhost", 1, 'Error: an inet prefix is expected rather than "nosuchhost".\n'),
    ("-x", 1, "tuxnet ss: -x: Unix domain sockets are not modelled (tuxnet has no AF_UNIX)\n"),
    ("-A unix", 1, "tuxnet ss: socket table unix is not modelled\n"),
])
def test_errors(zoo: SocketZoo, argv: str, rc: int, err: str) -> None:
    got_rc, out, got_err = _ss(zoo.host, argv)
    assert got_rc == rc
    assert got_err.startswith(err)
    assert out == ""
    with pytest.raises(ValueError, match="wrong state name"):
        ss_lines(zoo.host, "state nope")


def test_options_and_long_forms(zoo: SocketZoo, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ss_lines(zoo.host, "--tcp --all --numeric") == ss_lines(zoo.host, "-tan")
    assert ss_lines(zoo.host, "--tcp", "--listening", "--num") == ss_lines(zoo.host, "-tln")
    assert [ln.split() for ln in ss_lines(zoo.host, "-t", "-a", "-n", "-H")] == \
        [ln.split() for ln in ss_lines(zoo.host, "-tan")[1:]]
    assert ss_lines(zoo.host, "-tan4") == ss_lines(zoo.host, "-tan")
    assert ss_lines(zoo.host, "-tan6") == [  # no IPv6 sockets in tuxnet
        "State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess"]
    assert ss_lines(zoo.host, "-tanr") == ss_lines(zoo.host, "-tan")
    rc, out, err = _ss(zoo.host, "-tanp")
    assert rc == 0 and "users:" not in out and "no process" in err
    # without -n, ports outside ip_local_port_range print as service names
    monkeypatch.setattr(ss_cmd, "service_name", lambda port, proto: f"svc{port}")
    lines = ss_lines(zoo.host, "-tl")
    assert lines[1] == "LISTEN 0      128          0.0.0.0:svc8080      0.0.0.0:*          "
    # ephemeral ports stay numeric
    assert re.search(r"127\.0\.0\.1:svc8080 +127\.0\.0\.1:\d{5} ",
                     "\n".join(ss_lines(zoo.host, "-t")))
    assert _ss(zoo.host, "-V")[1] == "ss utility, iproute2-6.1.0\n"
    assert _ss(zoo.host, "-h")[1].startswith("Usage: ss [ OPTIONS ]")


def test_oneline_and_tty_layout(zoo: SocketZoo) -> None:
    one = ss_lines(zoo.host, "-tinO state established")
    assert len(one) == 3 and " cubic wscale:" in one[1]
    out = io.StringIO()
    run(zoo.host, ["-tn"], out, screen_width=80)
    lines = out.getvalue().splitlines()
    assert all(len(ln) == 80 for ln in lines)  # the spare room shared out on a terminal
    assert lines[0].split() == ["State", "Recv-Q", "Send-Q", "Local", "Address:Port", "Peer",
                                "Address:Port", "Process"]


def test_cli_tcp_scenario_mid_transfer(capsys: pytest.CaptureFixture[str]) -> None:
    assert ss_cmd.main(["--scenario", "tcp", "-tin"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("==> host a <==\nState")
    assert "\n==> host b <==\n" in out
    got = int(re.search(r"bytes_received:(\d+)", out.split("host b")[1]).group(1))  # type: ignore[union-attr]
    assert 1_000_000 <= got < 1_100_000  # b has read half of the 2 MB
    assert ss_cmd.main(["--scenario", "tcp", "--at", "0.5", "--host", "a", "-tno"]) == 0
    out = capsys.readouterr().out
    assert "==>" not in out and re.search(r"ESTAB .*10\.0\.0\.2:5201 .*timer:\(on,", out)
    assert ss_cmd.main(["--scenario", "nope"]) == 2
    assert ss_cmd.main(["--scenario", "sockets", "-s"]) == 0
    assert capsys.readouterr().out.startswith("Total: 8\n")


def test_request_socket() -> None:
    """A SYN to a listener: the request socket shows as SYN-RECV with its SYN-ACK timer
    (inet_req_diag_fill: no inode, timer 1)."""
    from tuxnet.packetdrill.tun import make_host
    from tuxnet.tcp import proto
    from tuxnet.wire.build import tcp_frame

    host, tun = make_host("192.168.0.1", "192.0.2.1")
    sk = proto.tcp_v4_init_sock(host)
    assert tcp_net(host).get_port(sk, 8080) == 0
    proto.inet_listen(sk, 5)
    syn = bytes(tcp_frame(bytes(6), bytes(6), "192.0.2.1", "192.168.0.1", 40000, 8080,
                          seq=1000, flags=0x02))
    tun.inject(syn[14:])
    host.loop.run(until_ns=host.loop.now_ns() + 200_000_000)
    lines = [ln.rstrip() for ln in ss_lines(host, "-tanoe")]
    assert lines[2] == ("SYN-RECV 0      0        192.168.0.1:8080    192.0.2.1:40000 "
                        "timer:(on,800ms,0) ino:0 sk:2")
    assert [ln.split() for ln in ss_lines(host, "-tn state syn-recv")] == [
        ["Recv-Q", "Send-Q", "Local", "Address:Port", "Peer", "Address:Port", "Process"],
        ["0", "0", "192.168.0.1:8080", "192.0.2.1:40000"]]
    assert ss_lines(host, "-tn state bucket")[1].split()[0] == "SYN-RECV"
