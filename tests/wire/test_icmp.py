"""ICMP view and repr: echo, errors with quoted headers, icmp_rcv checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire import ChecksumError, MalformedError, TruncatedError
from tuxnet.wire.icmp import (
    ICMP_DEST_UNREACH,
    ICMP_ECHO,
    ICMP_ECHOREPLY,
    ICMP_EXC_TTL,
    ICMP_EXT_ECHO,
    ICMP_FRAG_NEEDED,
    ICMP_PARAMETERPROB,
    ICMP_REDIRECT,
    ICMP_TIME_EXCEEDED,
    IcmpRepr,
    IcmpView,
)


def test_echo_round_trip() -> None:
    rep = IcmpRepr.echo_request(0x1234, 7, b"abcdefgh")
    raw = rep.to_bytes()
    v = IcmpView(raw)
    assert (v.type, v.code, v.ident, v.seq, v.rest) == (ICMP_ECHO, 0, 0x1234, 7, 0x12340007)
    assert bytes(v.payload) == b"abcdefgh" and v.verify_checksum()
    assert IcmpRepr.parse(raw) == rep == IcmpRepr.parse(v)
    reply = IcmpRepr.echo_reply(rep.ident, rep.seq, rep.payload)
    assert reply.type == ICMP_ECHOREPLY and IcmpRepr.parse(reply.to_bytes()) == reply


def test_errors_carry_their_words() -> None:
    quoted = bytes(28)
    frag = IcmpRepr.dest_unreach(ICMP_FRAG_NEEDED, quoted, mtu=1400)
    assert IcmpView(frag.to_bytes()).mtu == 1400 and frag.mtu == 1400
    assert IcmpRepr.parse(frag.to_bytes()).type == ICMP_DEST_UNREACH
    te = IcmpRepr.time_exceeded(ICMP_EXC_TTL, quoted)
    assert IcmpRepr.parse(te.to_bytes()) == te and te.type == ICMP_TIME_EXCEEDED
    assert IcmpRepr(ICMP_REDIRECT, 1, 0x0A000001).gateway == 0x0A000001
    assert IcmpRepr(ICMP_PARAMETERPROB, 0, 20 << 24).pointer == 20
    assert te.header_len == 8 and te.buffer_len == 36


def test_checks() -> None:
    raw = bytearray(IcmpRepr.echo_request(1, 1, b"x").to_bytes())
    raw[-1] ^= 0xFF
    with pytest.raises(ChecksumError) as exc:
        IcmpRepr.parse(raw)
    assert exc.value.reason == SkbDropReason.ICMP_CSUM
    IcmpView(raw).fill_checksum()
    assert IcmpRepr.parse(raw).payload == bytes((ord("x") ^ 0xFF,))
    bad = IcmpRepr(19).to_bytes()
    with pytest.raises(MalformedError) as mexc:
        IcmpRepr.parse(bad)
    assert mexc.value.reason == SkbDropReason.UNHANDLED_PROTO
    IcmpRepr.parse(IcmpRepr(ICMP_EXT_ECHO).to_bytes())
    for n in range(8):
        with pytest.raises(TruncatedError) as texc:
            IcmpView(bytes(raw[:n]))
        assert texc.value.reason == SkbDropReason.PKT_TOO_SMALL


def test_checksum_setter() -> None:
    buf = bytearray(IcmpRepr.echo_request(1, 2).to_bytes())
    v = IcmpView(buf)
    v.checksum = 0
    assert v.checksum == 0 and not v.verify_checksum()
    with pytest.raises(TypeError):
        IcmpView(bytes(buf)).checksum = 1


@settings(max_examples=200)
@given(st.integers(0, 18), st.integers(0, 255), st.integers(0, 2**32 - 1), st.binary(max_size=100))
def test_round_trip_property(itype: int, code: int, rest: int, payload: bytes) -> None:
    rep = IcmpRepr(itype, code, rest, payload)
    assert IcmpRepr.parse(rep.to_bytes()) == rep
