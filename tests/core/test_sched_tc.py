"""``tc [-s] qdisc show`` text (iproute2 6.1 layout) and the ``tuxnet tc`` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tuxnet.cli import main as tuxnet_main
from tuxnet.core.sched import Fq, format_tc_qdisc, qdisc_create
from tuxnet.core.sched.tcformat import sprint_rate, sprint_size, sprint_time, sprint_time64
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import SkBuff, alloc_skb
from tuxnet.tools import tc_cmd
from tuxnet.tools.tc_cmd import TcDevice, TcHost, main

FQ_DEFAULT = ("qdisc fq 8001: root refcnt 2 limit 10000p flow_limit 100p buckets 1024 "
              "orphan_mask 1023 quantum 3028b initial_quantum 15140b low_rate_threshold "
              "550Kbit refill_delay 40ms timer_slack 10us horizon 10s horizon_drop ")
PFIFO_FAST = "qdisc pfifo_fast 0: root refcnt 2 bands 3 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1"


def nodrop(skb: SkBuff, reason: SkbDropReason) -> None:
    pass


def mkskb(n: int = 1000, sk: object = None, tstamp: int = 0) -> SkBuff:
    skb = alloc_skb(n)
    skb.put(n)
    skb.sk = sk
    skb.hash = 5
    skb.tstamp = tstamp
    return skb


def _pattern(line: str) -> str:
    """A regex of a sample line: numbers and sizes become wildcards, spaces stay."""
    return "".join(r"\d+(?:b|Kb|Mb)?" if re.fullmatch(r"\d+(?:b|Kb|Mb)?", tok) else re.escape(tok)
                   for tok in re.split(r"(\d+(?:b|Kb|Mb)?)", line))


def test_layout_matches_the_captured_sample(reference_dir: Path) -> None:
    sample = (reference_dir / "samples" / "tc_-s_qdisc.txt").read_text().splitlines()
    assert len(sample) == 3
    head = re.compile(r"qdisc \w+ [0-9a-f]+: root refcnt \d+ .* $")  # options end in a space
    assert head.fullmatch(sample[0])
    sent, backlog = re.compile(_pattern(sample[1])), re.compile(_pattern(sample[2]))
    fq = qdisc_create("fq", nodrop, handle="8001:", refcnt=5, num_tx_queues=4)
    pf = qdisc_create("pfifo_fast", nodrop, refcnt=2)
    for q in (fq, pf):
        q.enqueue(mkskb(1514), 0)
        q.enqueue(mkskb(1514), 0)
        q.dequeue(0)
        lines = format_tc_qdisc("veth0", [q], True, show_dev=False).splitlines()
        assert sent.fullmatch(lines[1]), lines[1]
        assert backlog.fullmatch(lines[2]), lines[2]
        assert lines[2] == " backlog 1514b 1p requeues 0"
        assert re.match(r"qdisc \w+ [0-9a-f]+: root refcnt \d+ ", lines[0])
    assert head.fullmatch(format_tc_qdisc("veth0", [fq], False, show_dev=False).rstrip("\n"))
    # the sample's units print the way tc prints them: rate 200Mbit burst 64Kb lat 20ms
    assert "rate 200Mbit burst 64Kb lat 20ms" in sample[0]
    assert sprint_rate(200_000_000 // 8) == "200Mbit"
    assert sprint_size(64 * 1024) == "64Kb" and sprint_time(20_000) == "20ms"


def test_default_fq_and_pfifo_fast_text() -> None:
    fq = qdisc_create("fq", nodrop, handle="8001:", refcnt=2)
    assert format_tc_qdisc("eth0", [fq], True, show_dev=False) == (
        FQ_DEFAULT + "\n"
        " Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n"
        " backlog 0b 0p requeues 0\n"
        "  flows 0 (inactive 0 throttled 0)\n"
        "  gc 0 highprio 0 throttled 0\n")
    pf = qdisc_create("pfifo_fast", nodrop, refcnt=2)
    assert format_tc_qdisc("eth0", [pf], False, show_dev=False) == PFIFO_FAST + "\n"
    assert format_tc_qdisc("eth0", [pf], False) == PFIFO_FAST.replace(
        "0: root", "0: dev eth0 root") + "\n"
    lo = qdisc_create("noqueue", nodrop, refcnt=2)
    assert format_tc_qdisc("lo", [lo], False) == "qdisc noqueue 0: dev lo root refcnt 2 \n"
    assert format_tc_qdisc("eth0", [qdisc_create("pfifo", nodrop, handle="8003:")], False,
                           show_dev=False) == "qdisc pfifo 8003: root limit 1000p\n"
    assert "limit 1514000b" in format_tc_qdisc("e", [qdisc_create("bfifo", nodrop)], False)


def test_fq_options_and_xstats_after_activity() -> None:
    fq = qdisc_create("fq", nodrop, handle="8002:", refcnt=2, maxrate="10mbit",
                      pacing=False, horizon_drop=False, quantum=4500)
    assert isinstance(fq, Fq)
    head = format_tc_qdisc("eth0", [fq], False, show_dev=False)
    assert " orphan_mask 1023 nopacing quantum 4500b initial_quantum 15140b " \
           "maxrate 10Mbit low_rate_threshold 550Kbit " in head
    assert head.endswith(" horizon 10s horizon_cap \n")

    fq = qdisc_create("fq", nodrop, handle="8001:", refcnt=2, flow_limit=2)
    sk = object()
    for i in range(3):
        fq.enqueue(mkskb(sk=sk, tstamp=2_000_000 + i), 1_000_000)
    fq.enqueue(mkskb(tstamp=20 * 10**9), 1_000_000)  # beyond the 10 s horizon
    assert fq.dequeue(1_000_000) is None  # EDT in 1 ms: throttled
    lines = format_tc_qdisc("eth0", [fq], True, show_dev=False).splitlines()
    assert lines[1] == " Sent 0 bytes 0 pkt (dropped 2, overlimits 0 requeues 0) "
    assert lines[2] == " backlog 2000b 2p requeues 0"
    assert lines[3] == "  flows 1 (inactive 0 throttled 1) next_packet_delay 1.01ms"
    assert lines[4] == "  gc 0 highprio 0 throttled 1 flows_plimit 1"
    assert lines[5] == " horizon_drops 1"
    assert len(lines) == 6


def test_mq_lists_children_newest_first() -> None:
    mq = qdisc_create("mq", nodrop, num_tx_queues=2)
    skb = mkskb(300)
    skb.queue_mapping = 1
    mq.enqueue(skb, 0)
    mq.dequeue(0)
    text = format_tc_qdisc("eth0", [mq], True)
    assert text.splitlines() == [
        "qdisc mq 0: dev eth0 root ",
        " Sent 300 bytes 1 pkt (dropped 0, overlimits 0 requeues 0) ",
        " backlog 0b 0p requeues 0",
        "qdisc pfifo_fast 0: dev eth0 parent :2 " + PFIFO_FAST.split("refcnt 2 ")[1],
        " Sent 300 bytes 1 pkt (dropped 0, overlimits 0 requeues 0) ",
        " backlog 0b 0p requeues 0",
        "qdisc pfifo_fast 0: dev eth0 parent :1 " + PFIFO_FAST.split("refcnt 2 ")[1],
        " Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) ",
        " backlog 0b 0p requeues 0",
    ]


def test_unit_printers() -> None:
    assert [sprint_size(n) for n in (0, 1514, 3028, 15140, 65536, 2 << 20)] == [
        "0b", "1514b", "3028b", "15140b", "64Kb", "2Mb"]
    assert [sprint_rate(r) for r in (68750, 1_250_000, 125_000_000, 1250, 100)] == [
        "550Kbit", "10Mbit", "1Gbit", "10Kbit", "800bit"]
    assert sprint_rate(1251) == "10008bit"  # not round and under 1000 kbit: stays in bits
    assert sprint_rate(1_500_001) == "12Mbit"  # larger ones are divided down (u64 math)
    assert [sprint_time(u) for u in (40_000, 10_000_000, 1500, 999)] == [
        "40ms", "10s", "1.5ms", "999us"]
    assert [sprint_time64(n) for n in (10_000, 1_010_000, 3 * 10**9, 12)] == [
        "10us", "1.01ms", "3s", "12ns"]


# --- the command -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _small_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests use tc's own two-device table (lo noqueue, eth0 pfifo_fast);
    ``tuxnet tc`` itself runs on the demonstration host of tuxnet.tools.demo."""
    monkeypatch.setattr(tc_cmd, "tc_host", tc_cmd.demo_host)


def tc(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv), prog="tuxnet tc")
    out, err = capsys.readouterr()
    return rc, out, err


def test_show(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = tc(capsys, "qdisc", "show")
    assert rc == 0 and err == ""
    assert out == ("qdisc noqueue 0: dev lo root refcnt 2 \n"
                   + PFIFO_FAST.replace("0: root", "0: dev eth0 root") + "\n")
    rc, out, _ = tc(capsys, "-s", "q", "sh", "dev", "eth0")  # tc's abbreviations
    assert rc == 0 and out.splitlines() == [
        PFIFO_FAST, " Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) ",
        " backlog 0b 0p requeues 0"]
    rc, out, _ = tc(capsys, "--json", "-s", "qdisc")
    doc = json.loads(out)
    assert [(d["dev"], d["kind"], d["handle"]) for d in doc] == [
        ("lo", "noqueue", "0:"), ("eth0", "pfifo_fast", "0:")]
    assert doc[1]["options"]["priomap"][6] == 0 and doc[1]["bytes"] == 0
    assert tc(capsys, "qdisc", "show", "dev", "eth9") == (
        1, "", 'Cannot find device "eth9"\n')


def test_batch_replace_change_delete(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    script = tmp_path / "cmds"
    script.write_text(
        "qdisc replace dev eth0 root fq maxrate 10mbit flow_limit 50\n"
        "qdisc show dev eth0\n"
        "# same kind again: fq_change keeps the handle\n"
        "qdisc replace dev eth0 root fq quantum 6000 nopacing\n"
        "qdisc show dev eth0\n"
        "qdisc del dev eth0 root\n"
        "qdisc show dev eth0\n"
        "qdisc add dev eth0 root pfifo limit 30\n"
        "qdisc show\n")
    rc, out, err = tc(capsys, "-batch", str(script))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("qdisc fq 8001: root refcnt 2 limit 10000p flow_limit 50p ")
    assert " maxrate 10Mbit " in lines[0]
    assert lines[1].startswith("qdisc fq 8001: root refcnt 2 limit 10000p flow_limit 50p ")
    assert " nopacing quantum 6000b " in lines[1] and " maxrate 10Mbit " in lines[1]
    assert lines[2] == PFIFO_FAST
    assert lines[3:] == ["qdisc noqueue 0: dev lo root refcnt 2 ",
                         "qdisc pfifo 8002: dev eth0 root refcnt 2 limit 30p"]


@pytest.mark.parametrize(("cmds", "code", "message"), [
    (["qdisc replace dev eth0 root fq", "qdisc add dev eth0 root fq"], 2,
     "Error: Exclusivity flag on, cannot modify."),
    (["qdisc change dev eth0 root fq limit 5"], 2,
     "Error: Qdisc not found. To create specify NLM_F_CREATE flag."),
    (["qdisc replace dev eth0 root fq", "qdisc change dev eth0 root pfifo"], 2,
     "Error: Invalid qdisc name."),
    (["qdisc del dev eth0 root"], 2, "Error: Cannot delete qdisc with handle of zero."),
    (["qdisc add dev eth0 root fq quantum 0"], 2, "Error: sch_fq: invalid quantum."),
    (["qdisc add dev eth0 root fq quantum lots"], 1, 'Illegal "quantum"'),
    (["qdisc add dev eth0 root fq speed 3"], 1, 'What is "speed"?'),
    (["qdisc add dev eth0 root pfifo_fast limit 3"], 1,
     "qdisc 'pfifo_fast' does not support option parsing"),
    (["qdisc add dev eth0 root pfifo limit x"], 1, 'pfifo: Illegal value for "limit": "x"'),
    (["qdisc add dev eth0 root cake"], 2, "Error: Specified qdisc kind is unknown."),
    (["qdisc add dev eth0 root mq"], 2, "Error: mq: Operation not supported"),
    (["qdisc add dev eth7 root fq"], 1, 'Cannot find device "eth7"'),
    (["qdisc frob"], 1, 'Command "frob" is unknown, try "tc qdisc help".'),
    (["filter show"], 1, 'Object "filter" is not modelled by tuxnet yet (#3).'),
])
def test_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, cmds: list[str],
                code: int, message: str) -> None:
    script = tmp_path / "cmds"
    script.write_text("\n".join(cmds) + "\n")
    rc, _, err = tc(capsys, "-batch", str(script))
    assert rc == 1 and message in err  # do_batch: EXIT_FAILURE, stops at the failure
    assert err.endswith(f"Command failed {script}:{len(cmds)}\n")
    if len(cmds) == 1:  # the same command alone: tc's exit status
        rc, out, err = tc(capsys, *cmds[0].split())
        assert (rc, out) == (code, "") and err.startswith(message)


def test_through_the_tuxnet_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuxnet_main(["tc", "-s", "qdisc", "show", "dev", "lo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("qdisc noqueue 0: root refcnt 2 \n Sent 0 bytes 0 pkt")
    assert tuxnet_main(["tc", "-bogus"]) == 1
    assert 'Option "-bogus" is unknown' in capsys.readouterr().err


def test_multiqueue_device(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    def four_queues() -> TcHost:
        host = TcHost([TcDevice("eth0", 2, num_tx_queues=4)])
        host.attach_default(host.devices[0])
        return host

    monkeypatch.setattr(tc_cmd, "tc_host", four_queues)
    script = tmp_path / "cmds"
    script.write_text("qdisc show\n"
                      "qdisc replace dev eth0 parent :2 fq\n"
                      "qdisc show dev eth0\n"
                      "qdisc del dev eth0 parent :2\n"
                      "qdisc replace dev eth0 root fq\n"
                      "qdisc show dev eth0\n"
                      "qdisc del dev eth0 root\n"
                      "qdisc show dev eth0\n")
    rc, out, err = tc(capsys, "-b", str(script))
    assert rc == 0, err
    prio = PFIFO_FAST.split("refcnt 2 ")[1]
    mq = ["qdisc mq 0: root "] + [f"qdisc pfifo_fast 0: parent :{n} {prio}" for n in (4, 3, 2, 1)]
    lines = out.splitlines()
    assert lines[:5] == [line.replace(": ", ": dev eth0 ", 1) for line in mq]
    assert lines[5:10] == [*mq[:3], lines[8], mq[4]]
    assert lines[8].startswith("qdisc fq 8001: parent :2 limit 10000p")
    assert lines[10].startswith("qdisc fq 8002: root refcnt 5 limit 10000p")  # 4 queues + 1
    assert lines[11:] == mq
