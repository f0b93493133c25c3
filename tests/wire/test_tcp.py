"""TCP view and repr: fields, flags, checksum over the pseudo-header, tcp_v4_rcv checks."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire import (
    TCPHDR_ACK,
    TCPHDR_FIN,
    TCPHDR_PSH,
    TCPHDR_SYN,
    ChecksumError,
    MalformedError,
    TcpOptions,
    TruncatedError,
    ip_int,
)
from tuxnet.wire.tcp import TCPHDR_CWR, TCPHDR_ECE, TcpRepr, TcpView, tcp_flags_str

A = ip_int("10.0.0.1")
B = ip_int("10.0.0.2")


def syn() -> TcpRepr:
    return TcpRepr(
        40000,
        80,
        seq=0x01020304,
        flags=TCPHDR_SYN,
        window=64240,
        options=TcpOptions(mss=1460, wscale=7, sack_permitted=True, timestamp=(123, 0)),
    )


def test_syn_round_trip() -> None:
    rep = syn()
    raw = rep.to_bytes(A, B)
    assert len(raw) == 40 and raw[12] == 0xA0
    v = TcpView(raw)
    assert (v.src_port, v.dst_port, v.ports(), v.seq, v.ack_seq) == (
        40000,
        80,
        (40000, 80),
        0x01020304,
        0,
    )
    assert (v.doff, v.header_len, v.flags, v.window, v.urg_ptr, v.res1) == (10, 40, 2, 64240, 0, 0)
    assert v.syn and not (v.ack or v.fin or v.rst or v.psh or v.urg or v.ece or v.cwr)
    assert v.verify_checksum(A, B) and not v.verify_checksum(A, B + 1)
    assert v.parse_options() == rep.options
    assert TcpRepr.parse(raw, A, B) == rep == TcpRepr.parse(v)
    assert str(rep).startswith(
        "40000 > 80 Flags [S], seq 16909060, ack 0, win 64240, "
        "options [mss 1460,sackOK,TS val 123 ecr 0,wscale 7]"
    )


def test_data_segment_and_payload() -> None:
    rep = TcpRepr(
        5201, 40000, 1, 2, TCPHDR_ACK | TCPHDR_PSH, 502, options=TcpOptions(timestamp=(9, 8))
    )
    raw = rep.to_bytes(A, B, b"data!")
    v = TcpView(raw + b"\0\0", 0, len(raw))
    assert bytes(v.payload) == b"data!" and v.payload_len == 5
    back = TcpRepr.parse(v, A, B)
    assert back.payload_len == 5 and back.flags == TCPHDR_ACK | TCPHDR_PSH
    assert tcp_flags_str(back.flags) == "P."
    assert tcp_flags_str(TCPHDR_SYN | TCPHDR_ACK) == "S."
    assert tcp_flags_str(TCPHDR_ACK) == "."
    assert tcp_flags_str(TCPHDR_FIN | TCPHDR_ACK | TCPHDR_ECE | TCPHDR_CWR) == "FEW."
    assert tcp_flags_str(0) == "none"


def test_checksum_error() -> None:
    raw = bytearray(syn().to_bytes(A, B, b"x"))
    raw[-1] ^= 0x40
    with pytest.raises(ChecksumError) as exc:
        TcpRepr.parse(raw, A, B)
    assert exc.value.reason == SkbDropReason.TCP_CSUM and exc.value.mib == "InCsumErrors"
    TcpRepr.parse(raw)  # no addresses: no verification
    assert TcpView(raw).fill_checksum(A, B) == TcpView(raw).checksum
    TcpRepr.parse(raw, A, B)


def test_bad_data_offset() -> None:
    raw = bytearray(TcpRepr(1, 2).to_bytes(A, B, b"0123456789"))
    for doff in range(5):
        raw[12] = doff << 4
        with pytest.raises(MalformedError) as exc:
            TcpView(raw)
        assert exc.value.reason == SkbDropReason.PKT_TOO_SMALL and exc.value.mib == "InErrs"
    raw[12] = 0xF0  # 60 bytes of header in a 30-byte segment
    with pytest.raises(TruncatedError) as texc:
        TcpView(raw)
    assert texc.value.reason == SkbDropReason.PKT_TOO_SMALL


def test_truncated_at_every_length() -> None:
    raw = syn().to_bytes(A, B)
    for n in range(len(raw)):
        with pytest.raises(TruncatedError) as exc:
            TcpView(raw[:n])
        assert exc.value.reason == SkbDropReason.PKT_TOO_SMALL
    with pytest.raises(TruncatedError):
        TcpView(raw, 0, 39)


def test_malformed_options_strict_and_lenient() -> None:
    raw = bytearray(TcpRepr(1, 2, options=TcpOptions(mss=1000)).to_bytes(A, B))
    raw[21] = 9  # MSS length 9 runs past the header
    with pytest.raises(MalformedError):
        TcpRepr.parse(raw)
    assert TcpRepr.parse(raw, strict_options=False).options.mss is None


def test_setters() -> None:
    buf = bytearray(TcpRepr(1, 2).to_bytes(A, B, b"abc"))
    v = TcpView(buf)
    v.src_port, v.dst_port, v.seq, v.ack_seq = 3, 4, 5, 6
    v.flags, v.window, v.urg_ptr = TCPHDR_FIN | TCPHDR_ACK, 7, 8
    v.fill_checksum(A, B)
    assert TcpRepr.parse(buf, A, B) == TcpRepr(
        3, 4, 5, 6, TCPHDR_FIN | TCPHDR_ACK, 7, 8, payload_len=3
    )
    v.checksum = 1
    assert v.checksum == 1
    with pytest.raises(TypeError):
        TcpView(bytes(buf)).seq = 1


def test_emit_into_skb_style_buffer() -> None:
    # payload already placed after reserved header room, header pushed in front
    payload = b"p" * 33
    rep = TcpRepr(
        1, 2, 3, 4, TCPHDR_ACK, 5, payload_len=len(payload), options=TcpOptions(timestamp=(1, 2))
    )
    buf = bytearray(64 + rep.header_len + len(payload))
    buf[64 + rep.header_len :] = payload
    assert rep.emit(buf, 64, A, B) == 32
    assert TcpRepr.parse(memoryview(buf)[64:], A, B) == rep
    with pytest.raises(ValueError):
        rep.emit(bytearray(40), 0, A, B)  # no room for the payload it must sum


def test_res1_kept() -> None:
    raw = bytearray(TcpRepr(1, 2).to_bytes(A, B))
    raw[12] |= 0x01  # AccECN's AE bit
    struct.pack_into("!H", raw, 16, 0)
    TcpView(raw).fill_checksum(A, B)
    rep = TcpRepr.parse(raw, A, B)
    assert rep.res1 == 1 and rep.to_bytes(A, B) == bytes(raw)


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 2**32 - 1)


@settings(max_examples=300)
@given(
    u16,
    u16,
    u32,
    u32,
    st.integers(0, 255),
    u16,
    u16,
    st.none() | u16,
    st.none() | st.tuples(u32, u32),
    st.lists(st.tuples(u32, u32), max_size=3),
    st.binary(max_size=64),
    u32,
    u32,
)
def test_round_trip_property(
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    win: int,
    urg: int,
    mss: int | None,
    ts: tuple[int, int] | None,
    blocks: list[tuple[int, int]],
    payload: bytes,
    src: int,
    dst: int,
) -> None:
    opts = TcpOptions(mss=mss, timestamp=ts, sack_blocks=blocks)
    rep = TcpRepr(sport, dport, seq, ack, flags, win, urg, opts, len(payload))
    try:
        raw = rep.to_bytes(src, dst, payload)
    except ValueError:
        return
    view = TcpView(raw)
    assert view.verify_checksum(src, dst)
    assert bytes(view.payload) == payload
    assert TcpRepr.parse(view, src, dst) == rep
