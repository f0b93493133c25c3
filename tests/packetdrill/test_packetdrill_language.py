"""The packetdrill interpreter's lexer, parser and matcher, and whole scripts written
here (a passing one, and failing ones that must FAIL on the right line)."""

from __future__ import annotations

import json

import pytest

from tuxnet.packetdrill.ast import PacketSpec, Syscall, TcpOption
from tuxnet.packetdrill.lexer import tokenize
from tuxnet.packetdrill.matcher import aggregate, check_outbound
from tuxnet.packetdrill.packet import LivePacket, build_tcp_packet, parse_live_packet
from tuxnet.packetdrill.parser import ParseError, parse_script
from tuxnet.packetdrill.runner import run_text
from tuxnet.tools import packetdrill_cmd


def test_lexer_longest_match_and_kinds() -> None:
    toks = tokenize("+.1...0.200 connect(3, ..., ...) = -1 EINPROGRESS // note\n"
                    "> P. 1:1001(1000) ack 1 <nop,TS val 100 ecr 0>")
    kinds = [(t.kind, t.text) for t in toks[:6]]
    assert kinds == [("PUNCT", "+"), ("NUM", ".1"), ("ELLIPSIS", "..."), ("NUM", "0.200"),
                     ("WORD", "connect"), ("PUNCT", "(")]
    assert any(t.kind == "NUM" and t.value == -1 for t in toks)
    assert ("WORD", "P") in [(t.kind, t.text) for t in toks]
    assert toks[-1].line == 2
    code = tokenize("0 %{ assert tcpi_snd_cwnd == 10 }%")
    assert code[-1].kind == "CODE" and code[-1].text == "assert tcpi_snd_cwnd == 10"


def test_parser_events() -> None:
    sc = parse_script("""--tolerance_usecs=7000
`../common/defaults.sh`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
  +.1...0.2 connect(3, ..., ...) = 0
   +0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
 +.1~+.2 < S. 0:0(0) ack 1 win 5792 <sack 1:2 3:4,nop,nop>
   * > . 1:1(0) ack 1 <...>
   +0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 40}, {..., 2}], msg_flags=0}, MSG_MORE) = 42
   +0 %{ x = 1 }%
""")
    assert sc.options == {"tolerance_usecs": "7000"}
    assert sc.init_command is not None
    ev = sc.events
    assert [e.line for e in ev] == [3, 4, 5, 6, 7, 8, 9]
    assert ev[1].time.block_end == 200_000 and not ev[1].time.block_rel
    syn = ev[2].action
    assert isinstance(syn, PacketSpec) and syn.flags == "S"
    assert [o.name for o in syn.options or []] == ["mss", "sackOK", "TS", "nop", "wscale"]
    synack = ev[3].action
    assert isinstance(synack, PacketSpec) and synack.win == 5792
    assert ev[3].time.end == 200_000 and ev[3].time.end_rel
    assert synack.options is not None and synack.options[0].blocks == [(1, 2), (3, 4)]
    star = ev[4].action
    assert ev[4].time.kind == "any" and isinstance(star, PacketSpec) and star.any_options
    call = ev[5].action
    assert isinstance(call, Syscall) and call.name == "sendmsg" and len(call.args) == 3


def test_parser_error_line() -> None:
    with pytest.raises(ParseError) as e:
        parse_script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\n+0 > Q 0:0(0)\n")
    assert e.value.line == 3


def _live(flags: int, seq: int, ack: int, n: int, opts: list[TcpOption] | None = None
          ) -> LivePacket:
    return LivePacket(0, b"", seq=seq, ack=ack, flags=flags, payload_len=n,
                      options=opts or [])


def test_matcher_fields_and_options() -> None:
    spec = PacketSpec(">", "P.", 1, 1001, 1000, ack=1)
    assert check_outbound(spec, _live(0x18, 1, 1, 1000)) == ""
    assert "tcp_psh" in check_outbound(spec, _live(0x10, 1, 1, 1000))
    assert "tcp_ack_seq" in check_outbound(spec, _live(0x18, 1, 2, 1000))
    # no option list: the segment must carry none
    ts = [TcpOption("nop"), TcpOption("nop"), TcpOption("TS", [5, 6])]
    assert "options" in check_outbound(spec, _live(0x18, 1, 1, 1000, ts))
    spec.any_options = True
    assert check_outbound(spec, _live(0x18, 1, 1, 1000, ts)) == ""
    spec.any_options = False
    spec.options = [TcpOption("nop"), TcpOption("nop"), TcpOption("TS", [100, 0])]
    assert check_outbound(spec, _live(0x18, 1, 1, 1000, ts)) == ""  # TS val/ecr unchecked


def test_matcher_aggregation_takes_last_header() -> None:
    a = _live(0x10, 1, 1, 1000)
    b = _live(0x18, 1001, 1, 1000)
    merged = aggregate(a, [b])
    assert merged.seq == 1 and merged.payload_len == 2000 and merged.flags == 0x18
    assert check_outbound(PacketSpec(">", "P.", 1, 2001, 2000, ack=1), merged) == ""


def test_packet_roundtrip() -> None:
    raw = build_tcp_packet(bytes([192, 0, 2, 1]), bytes([192, 168, 0, 1]), 40000, 8080, 7,
                           9, 0x12, 1000, 0, bytes([2, 4, 5, 180]), 10)
    p = parse_live_packet(0, raw)
    assert (p.sport, p.dport, p.seq, p.ack, p.flags, p.win, p.payload_len) == (
        40000, 8080, 7, 9, 0x12, 1000, 10)
    assert p.options[0].name == "mss" and p.options[0].values == [1460]


_SERVER = """`../common/defaults.sh`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
  +.1 < S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
   +0 write(4, ..., 1000) = 1000
   +0 > P. 1:1001(1000) ack 1
   +0 %{ assert tcpi_unacked == 1, tcpi_unacked }%
  +.1 < . 1:1(0) ack 1001 win 257
   +0 %{ assert tcpi_state == TCP_ESTABLISHED; assert tcpi_unacked == 0 }%
"""


def test_script_passes() -> None:
    r = run_text(_SERVER, "server.pkt")
    assert r.passed, (r.line, r.message)


@pytest.mark.parametrize(("change", "line", "words"), [
    # the data segment carries PSH, not a bare ACK
    (("> P. 1:1001(1000) ack 1", "> . 1:1001(1000) ack 1"), 11, "tcp_psh"),
    # the SYN-ACK goes out at once, not 0.05 s later
    (("   +0 > S. 0:0(0)", "+.05 > S. 0:0(0)"), 7, "timing error"),
    # one packet is in flight, not two
    (("tcpi_unacked == 1, tcpi_unacked", "tcpi_unacked == 2, tcpi_unacked"), 12,
     "AssertionError"),
    # nothing is sent after the ACK
    (("   +0 %{ assert tcpi_state", "   +0 > . 1001:1001(0) ack 1\n   +0 %{ assert tcpi_state"),
     14, "Timed out waiting for packet"),
    # write returns what it took
    (("write(4, ..., 1000) = 1000", "write(4, ..., 1000) = 999"), 10, "returned 1000"),
    # an unsupported command fails clearly
    (("`../common/defaults.sh`", "`ss -tin`"), 0, "unsupported"),
    # nstat | grep fails (exit status 1) when the counter did not change
    (("   +0 accept(3", "   +0 `nstat -n`\n   +0 `nstat | grep TcpExtTCPHPHits`\n"
      "   +0 accept(3"), 10, "no match"),
])
def test_deliberately_failing_scripts(change: tuple[str, str], line: int, words: str) -> None:
    text = _SERVER.replace(*change)
    assert text != _SERVER
    r = run_text(text, "bad.pkt")
    assert not r.passed
    assert r.line == line, r.message
    assert words in r.message


def test_cli_output_and_exit(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    import pathlib
    assert isinstance(tmp_path, pathlib.Path)
    good = tmp_path / "good.pkt"
    bad = tmp_path / "bad.pkt"
    good.write_text(_SERVER)
    bad.write_text(_SERVER.replace("write(4, ..., 1000) = 1000", "write(4, ..., 1000) = 9"))
    assert packetdrill_cmd.main([str(good), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"PASS {good}"
    assert out[1].startswith(f"FAIL {bad}:10: ")
    assert out[-1] == "1 passed, 1 failed"
    assert packetdrill_cmd.main(["--json", str(good)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] == 1 and doc["scripts"][0]["result"] == "pass"


def test_mangled_scripts_never_raise() -> None:
    """Any damage to a script gives a FAIL with a line and a message, not a traceback."""
    import random
    rng = random.Random(5)
    lines = _SERVER.splitlines()
    for _ in range(60):
        mangled = list(lines)
        i = rng.randrange(len(mangled))
        op = rng.randrange(3)
        if op == 0:
            del mangled[i]
        elif op == 1:
            words = mangled[i].split()
            if words:
                del words[rng.randrange(len(words))]
            mangled[i] = " ".join(words)
        else:
            mangled[i] = mangled[i][: rng.randrange(len(mangled[i]) + 1)]
        r = run_text("\n".join(mangled) + "\n", "mangled.pkt")
        assert r.passed or r.message


def test_script_local_isn_is_mapped() -> None:
    """A script may write its own local ISN on the SYN-ACK line (run_packet.c keeps a
    script ISN and a live ISN for SYNs); later sequence numbers are relative to the ISNs,
    as tcpdump prints them (socket.h: local_seq_script_to_live_offset)."""
    text = _SERVER.replace("> S. 0:0(0) ack 1", "> S. 1000:1000(0) ack 1")
    r = run_text(text, "isn.pkt")
    assert r.passed, (r.line, r.message)
    wrong = text.replace("+.1 < . 1:1(0) ack 1 win 257", "+.1 < . 1:1(0) ack 1001 win 257")
    assert not run_text(wrong, "isn.pkt").passed


def test_script_remote_isn_is_mapped() -> None:
    """The remote ISN of the SYN is literal; later remote sequence numbers (and the
    ACKs the stack sends) are relative to it."""
    text = (_SERVER.replace("< S 0:0(0)", "< S 5000:5000(0)")
            .replace("> S. 0:0(0) ack 1 ", "> S. 0:0(0) ack 5001 ")
            .replace("   +0 %{ assert tcpi_state",
                     "   +0 < P. 1:11(10) ack 1001 win 257\n"
                     "   +0 > . 1001:1001(0) ack 11\n   +0 %{ assert tcpi_state"))
    r = run_text(text, "risn.pkt")
    assert r.passed, (r.line, r.message)
