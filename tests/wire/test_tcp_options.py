"""TCP options: Linux's tcp_options_write layout, tcp_parse_options leniency, any order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire import MalformedError
from tuxnet.wire.tcp_options import (
    TCPOPT_EOL,
    TCPOPT_MSS,
    TCPOPT_NOP,
    TCPOPT_SACK_PERM,
    TCPOPT_TIMESTAMP,
    TCPOPT_WINDOW,
    TcpOptions,
    iter_tcp_options,
)


def test_linux_syn_layout() -> None:
    # tcpdump of a Linux SYN: [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]
    opts = TcpOptions(mss=1460, wscale=7, sack_permitted=True, timestamp=(1, 0))
    raw = opts.to_bytes()
    assert raw.hex() == "020405b40402080a000000010000000001030307"
    back = TcpOptions.parse(raw)
    assert back == opts
    assert back.layout == (
        TCPOPT_MSS,
        TCPOPT_SACK_PERM,
        TCPOPT_TIMESTAMP,
        TCPOPT_NOP,
        TCPOPT_WINDOW,
    )
    assert str(opts) == "mss 1460,sackOK,TS val 1 ecr 0,wscale 7"


def test_linux_layouts_without_timestamps_or_sack() -> None:
    # sysctl tcp_timestamps=0: SACK_PERM gets its own NOP NOP word
    assert (
        TcpOptions(mss=1460, wscale=7, sack_permitted=True).to_bytes().hex() == "020405b4"
        "01010402"
        "01030307"
    )
    # tcp_sack=0: TS behind NOP NOP
    assert (
        TcpOptions(mss=536, timestamp=(5, 6)).to_bytes().hex() == "020402180101080a0000000500000006"
    )
    # an established ACK carrying TS and two SACK blocks
    opts = TcpOptions(timestamp=(7, 8), sack_blocks=[(100, 200), (300, 400)])
    raw = opts.to_bytes()
    assert raw.hex() == ("0101080a00000007000000080101051200000064000000c80000012c00000190")
    assert TcpOptions.parse(raw) == opts
    assert TcpOptions().to_bytes() == b""


def test_unknown_options_kept_and_nop_padded() -> None:
    opts = TcpOptions(mss=1400, unknown=[(34, b"\x01\x02\x03\x04\x05\x06\x07\x08")])
    raw = opts.to_bytes()
    assert raw.hex() == "02040578220a01020304050607080101"
    assert TcpOptions.parse(raw) == opts


def test_ordered_layout_round_trip() -> None:
    # a BSD-style SYN: mss, nop, wscale, nop, nop, TS, sackOK, eol (+ zero padding)
    raw = bytes.fromhex("020405b4010303060101080a0000abcd0000000004020000")
    opts = TcpOptions.parse(raw, strict=True)
    assert (opts.mss, opts.wscale, opts.sack_permitted, opts.timestamp) == (
        1460,
        6,
        True,
        (0xABCD, 0),
    )
    assert opts.emit_layout() == raw
    assert opts.to_bytes() != raw  # Linux would order them differently
    assert opts.to_bytes(opts.layout) == raw
    # kinds missing from the layout are appended, padding is zeros
    got = TcpOptions(mss=1, wscale=2).to_bytes([TCPOPT_WINDOW])
    assert got == bytes.fromhex("03030202040001") + b"\0"


def test_lenient_parse_like_linux() -> None:
    # a "silly" option (length < 2) stops the walk; what came before counts
    assert TcpOptions.parse(bytes.fromhex("020405b40800")).mss == 1460
    # a partial option (length past the end) stops it too
    opts = TcpOptions.parse(bytes.fromhex("01030307080a0000"))
    assert opts.wscale == 7 and opts.timestamp is None
    # a known kind with the wrong size is not taken
    opts = TcpOptions.parse(bytes.fromhex("02030500"))
    assert opts.mss is None and opts.unknown == [(TCPOPT_MSS, b"\x05")]
    # EOL ends the list even if bytes follow
    assert TcpOptions.parse(bytes.fromhex("00020405b4")).mss is None
    # SACK with a length that is not 2 + 8n is not taken (tcp_parse_options)
    assert TcpOptions.parse(bytes.fromhex("050600000001")).sack_blocks == []


@pytest.mark.parametrize(
    "raw", ["0800", "020405", "02", "0203050000", "050600000001", "0401", "08090000000000000000"]
)
def test_strict_parse_raises(raw: str) -> None:
    with pytest.raises(MalformedError) as exc:
        TcpOptions.parse(bytes.fromhex(raw), strict=True)
    assert exc.value.reason == SkbDropReason.NOT_SPECIFIED


def test_iter_options() -> None:
    assert iter_tcp_options(bytes.fromhex("0101020405b400")) == [
        (TCPOPT_NOP, b""),
        (TCPOPT_NOP, b""),
        (TCPOPT_MSS, b"\x05\xb4"),
        (TCPOPT_EOL, b""),
    ]


def test_too_long_raises() -> None:
    with pytest.raises(ValueError, match="40"):
        TcpOptions(timestamp=(1, 2), sack_blocks=[(i, i + 1) for i in range(4)]).to_bytes()
    TcpOptions(timestamp=(1, 2), sack_blocks=[(i, i + 1) for i in range(3)]).to_bytes()


u32 = st.integers(0, 2**32 - 1)


@settings(max_examples=300)
@given(
    st.none() | st.integers(0, 0xFFFF),
    st.none() | st.integers(0, 255),
    st.booleans(),
    st.none() | st.tuples(u32, u32),
    st.lists(st.tuples(u32, u32), max_size=4),
    st.lists(
        st.tuples(
            st.integers(9, 253).filter(lambda k: k not in (19, 29, 30, 34)), st.binary(max_size=6)
        ),
        max_size=2,
    ),
)
def test_round_trip_property(
    mss: int | None,
    ws: int | None,
    sack_ok: bool,
    ts: tuple[int, int] | None,
    blocks: list[tuple[int, int]],
    unknown: list[tuple[int, bytes]],
) -> None:
    opts = TcpOptions(mss, ws, sack_ok, ts, blocks, unknown)
    try:
        raw = opts.to_bytes()
    except ValueError:
        return  # more than 40 bytes: refused
    assert len(raw) % 4 == 0 and len(raw) <= 40
    back = TcpOptions.parse(raw, strict=True)
    assert back == opts
    assert back.to_bytes(back.layout) == raw
