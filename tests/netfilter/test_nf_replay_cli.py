"""``tuxnet nf replay``: the text report, the JSON document's shape, local sends, the
packet summaries, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuxnet.netfilter.replay.packets import ReplayInputError, parse_packets
from tuxnet.netfilter.replay.runner import run_replay
from tuxnet.netfilter.replay.summary import ip_summary, tcp_flags_str
from tuxnet.tools import nf_cmd

RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p udp --dport 53 -j ACCEPT
-A FORWARD -p tcp -j REJECT --reject-with tcp-reset
-A OUTPUT -p udp --dport 9 -j DROP
COMMIT
"""
PACKETS = [
    {"from": "lan", "scapy": "IP(src='10.1.0.2',dst='10.9.9.9')/UDP(sport=1,dport=53)/Raw(b'q')"},
    {"from": "lan", "scapy": "IP(src='10.1.0.2',dst='10.9.9.9')/TCP(sport=5,dport=80,flags='S')"},
    {"sleep": 0.5},
    {"from": "local", "scapy": "IP(src='10.2.0.1',dst='10.9.9.9')/UDP(sport=1,dport=9)"},
    {"dut_cmd": "iptables-save -t filter"},
]


def _files(tmp_path: Path, packets: object = PACKETS) -> tuple[str, str]:
    rules = tmp_path / "rules.txt"
    rules.write_text(RULES)
    pk = tmp_path / "packets.json"
    pk.write_text(json.dumps(packets))
    return str(rules), str(pk)


def test_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("scapy")
    rules, pk = _files(tmp_path)
    assert nf_cmd.main(["replay", "--rules", rules, "--packets", pk]) == 0
    text = capsys.readouterr().out
    assert "#1 from lan   10.1.0.2 > 10.9.9.9 ttl=64 UDP 1>53 len=9" in text
    assert "   -> out wan: 10.1.0.2 > 10.9.9.9 ttl=63 UDP 1>53 len=9" in text
    assert "   -> out lan: 10.9.9.9 > 10.1.0.2 ttl=64 TCP 80>5 [RA] seq=0 ack=1" in text
    assert "ctr filter/OUTPUT#1" in text and "-> nothing left the DUT" in text
    assert nf_cmd.main(["replay", "--rules", rules, "--packets", pk, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"kernel", "backend", "steps", "final_counters", "final_conntrack"}
    s1, s2, s3, s4, s5 = doc["steps"]
    assert set(s1) == {"n", "input", "sent", "out_lan", "out_wan", "counters", "snmp",
                       "conntrack"}
    assert s1["counters"]["filter/FORWARD#1"] == {
        "pkts": 1, "bytes": 29, "rule": "-A FORWARD -p udp -m udp --dport 53 -j ACCEPT"}
    assert s1["snmp"]["Ip:ForwDatagrams"] == 1
    assert s2["counters"]["filter/OUTPUT:policy(ACCEPT)"]["pkts"] == 1  # the RST
    assert "sent" not in s3 and s3["counters"] == {}
    # a raw IP_HDRINCL send dropped in OUTPUT: no OutRequests, OutDiscards
    assert s4["out_wan"] == [] and s4["snmp"] == {"Ip:OutDiscards": 1}
    assert "-A FORWARD -p udp -m udp --dport 53 -j ACCEPT" in s5["output"]
    assert doc["final_counters"]["filter/FORWARD:policy(DROP)"]["pkts"] == 0
    out = tmp_path / "o.json"
    assert nf_cmd.main(["replay", "--rules", rules, "--packets", pk, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["steps"][0]["sent"] == s1["sent"]


def test_rules_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, _ = _files(tmp_path)
    assert nf_cmd.main(["replay", "--rules", rules, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["steps"] == [] and "filter/FORWARD#2" in doc["final_counters"]


@pytest.mark.parametrize(("packets", "msg"), [
    ({"packets": 3}, "expected a list of steps"),
    ([{"from": "lan"}], "step 1 needs"),
    ([{"from": "moon", "scapy": "IP()"}], "must be lan, wan or local"),
    ([{"scapy": "IP(dst='10.9.9.9'"}], "bad scapy expression"),
    ([{"scapy": "TCP()"}], "not an IPv4 datagram"),
])
def test_bad_packets(tmp_path: Path, capsys: pytest.CaptureFixture[str], packets: object,
                     msg: str) -> None:
    pytest.importorskip("scapy")
    rules, pk = _files(tmp_path, packets)
    assert nf_cmd.main(["replay", "--rules", rules, "--packets", pk]) == 1
    assert msg in capsys.readouterr().err


def test_bad_rules_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("*filter\n-A NOPE -j ACCEPT\nCOMMIT\n")
    assert nf_cmd.main(["replay", "--rules", str(bad)]) == 1
    assert "rules:" in capsys.readouterr().err
    assert nf_cmd.main(["replay", "--rules", str(tmp_path / "missing")]) == 1
    assert "No such file" in capsys.readouterr().err
    rules, _ = _files(tmp_path)
    (tmp_path / "x.json").write_text("{")
    assert nf_cmd.main(["replay", "--rules", rules, "--packets", str(tmp_path / "x.json")]) == 1
    assert "not JSON" in capsys.readouterr().err
    assert nf_cmd.main(["bogus"]) == 2
    with pytest.raises(ReplayInputError, match="cannot stat"):
        run_replay(None, parse_packets({"setup": {"sysctl": {"net.no.such": "1"}},
                                        "packets": []}))


def test_summary_lines() -> None:
    assert tcp_flags_str(0x12) == "SA" and tcp_flags_str(0) == "" and tcp_flags_str(0x14) == "RA"
    hdr = bytes.fromhex("45000014000100004001f7a40a0100020a090909")
    assert ip_summary(hdr) == "10.1.0.2 > 10.9.9.9 ttl=64 proto=1"  # ICMP too short
    frag = bytearray(hdr)
    frag[6:8] = b"\x00\x03"
    frag[9] = 6
    assert ip_summary(bytes(frag) + b"\0" * 20).endswith("proto=6")
