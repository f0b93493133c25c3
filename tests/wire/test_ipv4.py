"""IPv4 view and repr: fields, options, fragments, checksum, ip_rcv_core's checks."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire import (
    IP_DF,
    IP_MF,
    IPPROTO_TCP,
    IPPROTO_UDP,
    ChecksumError,
    MalformedError,
    TruncatedError,
    WireError,
    internet_checksum,
    ip_int,
)
from tuxnet.wire.ipv4 import IPOPT_RR, IPOPT_TIMESTAMP, Ipv4Repr, Ipv4View, parse_ipv4_options

A = ip_int("192.168.0.1")
B = ip_int("192.168.0.199")


def test_known_header_bytes() -> None:
    rep = Ipv4Repr(A, B, IPPROTO_UDP, payload_len=0x73 - 20, ttl=64, frag_off=IP_DF)
    raw = rep.to_bytes()
    assert raw.hex() == "450000730000400040110000c0a80001c0a800c7".replace("0000c0a8", "b861c0a8")
    assert Ipv4Repr.parse(raw + bytes(0x73 - 20)) == rep


def test_view_fields() -> None:
    rep = Ipv4Repr(
        A, B, IPPROTO_TCP, payload_len=5, ttl=3, tos=0xB9, ident=0xBEEF, frag_off=IP_MF | 100
    )
    raw = rep.to_bytes(b"hello") + b"\0" * 7  # trailing Ethernet padding
    v = Ipv4View(raw)
    assert (v.version, v.ihl, v.header_len, v.tos, v.dscp, v.ecn) == (4, 5, 20, 0xB9, 46, 1)
    assert (v.total_len, v.ident, v.ttl, v.protocol) == (25, 0xBEEF, 3, IPPROTO_TCP)
    assert (v.df, v.mf, v.frag_offset, v.frag_off, v.is_fragment) == (
        False,
        True,
        800,
        IP_MF | 100,
        True,
    )
    assert (v.src, v.dst, v.addrs()) == (A, B, (A, B))
    assert bytes(v.payload) == b"hello" and v.payload_len == 5 and v.end == 25
    assert v.verify_checksum() and v.compute_checksum() == v.checksum
    assert bytes(v.options) == b""


def test_options_round_trip_and_list() -> None:
    # record route with room for 2 addresses (RFC 791 3.1), then NOP and EOL padding
    rr = bytes((IPOPT_RR, 11, 4)) + bytes(8)
    rep = Ipv4Repr(A, B, IPPROTO_UDP, payload_len=3, options=rr + b"\x01")
    raw = rep.to_bytes(b"abc")
    assert rep.header_len == 32 and raw[0] == 0x48
    back = Ipv4Repr.parse(raw)
    assert back.options == rr + b"\x01"  # 12 option bytes, none added
    assert back.option_list == [(IPOPT_RR, bytes((4,)) + bytes(8))]
    assert back.payload_len == 3
    odd = Ipv4Repr(A, B, IPPROTO_UDP, options=bytes((IPOPT_TIMESTAMP, 4, 5, 0)) + b"\x01")
    raw = odd.to_bytes()
    assert len(raw) == 28 and raw[-4:] == b"\x01\0\0\0"  # padded with IPOPT_END
    assert Ipv4View(raw).verify_checksum()


@pytest.mark.parametrize("opts", [b"\x07", b"\x07\x01", b"\x07\x09\x04", b"\x44\x00\x00\x00"])
def test_bad_options(opts: bytes) -> None:
    with pytest.raises(MalformedError) as exc:
        parse_ipv4_options(opts)
    assert exc.value.reason == SkbDropReason.IP_INHDR
    padded = opts + bytes(-len(opts) & 3)
    raw = Ipv4Repr(A, B, IPPROTO_UDP, options=padded).to_bytes()
    with pytest.raises(MalformedError):
        Ipv4Repr.parse(raw)


def test_options_stop_at_eol() -> None:
    assert parse_ipv4_options(b"\x01\x00\xff\xff") == []


def test_checksum_error() -> None:
    raw = bytearray(Ipv4Repr(A, B, IPPROTO_UDP).to_bytes())
    raw[8] ^= 1
    with pytest.raises(ChecksumError) as exc:
        Ipv4Repr.parse(raw)
    assert exc.value.reason == SkbDropReason.IP_CSUM and exc.value.mib == "InCsumErrors"
    with pytest.raises(ChecksumError):
        Ipv4View(raw, verify_csum=True)
    with pytest.raises(ChecksumError):
        Ipv4Repr.parse(Ipv4View(raw))
    assert Ipv4Repr.parse(raw, verify_checksum=False).ttl == 65
    Ipv4View(raw).fill_checksum()
    assert Ipv4Repr.parse(raw).ttl == 65


def _hdr(vihl: int = 0x45, tot: int = 20, extra: bytes = b"") -> bytes:
    h = bytearray(struct.pack("!BBHHHBBHII", vihl, 0, tot, 0, 0, 64, 17, 0, A, B)) + extra
    struct.pack_into("!H", h, 10, internet_checksum(h[: (vihl & 15) * 4]))
    return bytes(h)


@pytest.mark.parametrize(
    ("raw", "cls", "reason", "mib"),
    [
        (_hdr(0x65), MalformedError, SkbDropReason.IP_INHDR, "InHdrErrors"),
        (_hdr(0x44), MalformedError, SkbDropReason.IP_INHDR, "InHdrErrors"),
        (_hdr(0x46, 24), TruncatedError, SkbDropReason.IP_INHDR, "InHdrErrors"),
        (_hdr(0x45, 21), TruncatedError, SkbDropReason.PKT_TOO_SMALL, "InTruncatedPkts"),
        (_hdr(0x45, 19), MalformedError, SkbDropReason.IP_INHDR, "InHdrErrors"),
        (_hdr(0x46, 20, b"\x01" * 4), MalformedError, SkbDropReason.IP_INHDR, "InHdrErrors"),
    ],
)
def test_ip_rcv_core_checks(
    raw: bytes, cls: type[WireError], reason: SkbDropReason, mib: str
) -> None:
    for verify in (False, True):
        with pytest.raises(cls) as exc:
            Ipv4View(raw, verify_csum=verify)
        assert exc.value.reason == reason and exc.value.mib == mib


def test_truncated_at_every_length() -> None:
    raw = Ipv4Repr(A, B, IPPROTO_UDP, options=b"\x01" * 8).to_bytes(b"xyz")
    for n in range(len(raw)):
        with pytest.raises(TruncatedError) as exc:
            Ipv4View(raw[:n])
        want = SkbDropReason.IP_INHDR if n < 28 else SkbDropReason.PKT_TOO_SMALL
        assert exc.value.reason == want


def test_setters_and_dec_ttl() -> None:
    buf = bytearray(Ipv4Repr(A, B, IPPROTO_TCP, ttl=64).to_bytes())
    v = Ipv4View(buf)
    assert v.dec_ttl() == 63 and v.ttl == 63 and v.verify_checksum()
    v.src, v.dst, v.ttl, v.tos, v.protocol = B, A, 1, 4, IPPROTO_UDP
    assert not v.verify_checksum()
    v.fill_checksum()
    assert Ipv4Repr.parse(buf) == Ipv4Repr(B, A, IPPROTO_UDP, ttl=1, tos=4)
    v.checksum = 0
    assert v.checksum == 0
    with pytest.raises(TypeError):
        Ipv4View(bytes(buf)).ttl = 3


def test_emit_refuses_bad_repr() -> None:
    with pytest.raises(ValueError):
        Ipv4Repr(A, B, 6, options=bytes(44)).to_bytes()
    with pytest.raises(ValueError):
        Ipv4Repr(A, B, 6, payload_len=70000).to_bytes()


@settings(max_examples=300)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=40).map(lambda b: b + bytes(-len(b) & 3)).filter(lambda b: len(b) <= 40),
    st.binary(max_size=50),
)
def test_round_trip_property(
    src: int,
    dst: int,
    proto: int,
    ttl: int,
    tos: int,
    ident: int,
    frag: int,
    opts: bytes,
    payload: bytes,
) -> None:
    rep = Ipv4Repr(src, dst, proto, len(payload), ttl, tos, ident, frag, opts)
    raw = rep.to_bytes(payload)
    view = Ipv4View(raw, verify_csum=True)
    assert bytes(view.payload) == payload
    try:
        parse_ipv4_options(opts)
    except MalformedError:
        with pytest.raises(MalformedError):
            Ipv4Repr.parse(raw)
    else:
        assert Ipv4Repr.parse(raw) == rep
