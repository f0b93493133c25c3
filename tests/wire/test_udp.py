"""UDP view and repr: length field, optional checksum (RFC 768), __udp4_lib_rcv checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire import ChecksumError, TruncatedError, ip_int
from tuxnet.wire.udp import UdpRepr, UdpView

A = ip_int("10.0.0.1")
B = ip_int("10.0.0.2")


def test_round_trip() -> None:
    rep = UdpRepr(5353, 53, 4)
    raw = rep.to_bytes(A, B, b"ping")
    v = UdpView(raw + b"\0" * 6)  # trailing bytes beyond the UDP length are not payload
    assert (v.src_port, v.dst_port, v.ports(), v.length, v.payload_len) == (
        5353,
        53,
        (5353, 53),
        12,
        4,
    )
    assert bytes(v.payload) == b"ping" and v.verify_checksum(A, B)
    assert UdpRepr.parse(raw, A, B) == rep == UdpRepr.parse(v)
    assert rep.header_len == 8


def test_zero_checksum_means_none() -> None:
    rep = UdpRepr(1, 2, 3)
    buf = bytearray(11)
    buf[8:] = b"abc"
    rep.emit(buf, 0, A, B, checksum=False)
    v = UdpView(buf)
    assert v.checksum == 0 and v.verify_checksum(A, B + 99)
    assert v.fill_checksum(A, B) == v.checksum != 0
    assert not v.verify_checksum(A, B + 99)


def test_computed_zero_is_sent_as_ffff() -> None:
    # find a payload whose checksum comes out 0, then check it is sent as ffff (RFC 768)
    for word in range(0x10000):
        payload = word.to_bytes(2, "big")
        raw = bytearray(UdpRepr(1, 2).to_bytes(A, B, payload))
        if UdpView(raw).checksum == 0xFFFF:
            raw[6:8] = b"\0\0"
            # with the field zeroed, the one's complement sum is all ones: true sum 0
            assert UdpView(raw).fill_checksum(A, B) == 0xFFFF
            assert UdpRepr.parse(raw, A, B).payload_len == 2
            break
    else:
        pytest.fail("no payload produced a zero checksum")


def test_checksum_error() -> None:
    raw = bytearray(UdpRepr(1, 2).to_bytes(A, B, b"abc"))
    raw[-1] ^= 1
    with pytest.raises(ChecksumError) as exc:
        UdpRepr.parse(raw, A, B)
    assert exc.value.reason == SkbDropReason.UDP_CSUM and exc.value.mib == "InCsumErrors"


def test_length_field_checks() -> None:
    raw = bytearray(UdpRepr(1, 2).to_bytes(A, B, b"abcd"))
    for ulen in (0, 7, 13, 0xFFFF):
        raw[4:6] = ulen.to_bytes(2, "big")
        with pytest.raises(TruncatedError) as exc:
            UdpView(raw)
        assert exc.value.reason == SkbDropReason.PKT_TOO_SMALL
    for n in range(8):
        with pytest.raises(TruncatedError):
            UdpView(raw[:n])


def test_setters() -> None:
    buf = bytearray(UdpRepr(1, 2).to_bytes(A, B, b"z"))
    v = UdpView(buf)
    v.src_port, v.dst_port = 7, 9
    v.fill_checksum(A, B)
    assert UdpRepr.parse(buf, A, B) == UdpRepr(7, 9, 1)
    v.checksum = 5
    assert v.checksum == 5
    with pytest.raises(TypeError):
        UdpView(bytes(buf)).src_port = 1


@settings(max_examples=200)
@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=300),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
)
def test_round_trip_property(sport: int, dport: int, payload: bytes, src: int, dst: int) -> None:
    raw = UdpRepr(sport, dport).to_bytes(src, dst, payload)
    v = UdpView(raw)
    assert v.checksum != 0 and v.verify_checksum(src, dst)
    assert UdpRepr.parse(raw, src, dst) == UdpRepr(sport, dport, len(payload))
