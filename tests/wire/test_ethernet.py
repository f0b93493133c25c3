"""Ethernet / 802.1Q view and repr."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire import ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, TruncatedError
from tuxnet.wire.ethernet import EthernetRepr, EthernetView, vlan_tci

DST = bytes.fromhex("ffffffffffff")
SRC = bytes.fromhex("020000000001")


def test_untagged_round_trip() -> None:
    rep = EthernetRepr(DST, SRC, ETH_P_ARP)
    raw = rep.to_bytes(b"payload")
    assert raw[:14] == DST + SRC + b"\x08\x06"
    view = EthernetView(raw)
    assert (view.dst, view.src, view.ethertype, view.vlan_tci) == (DST, SRC, ETH_P_ARP, None)
    assert view.header_len == 14 and view.payload_offset == 14
    assert bytes(view.payload) == b"payload"
    assert view.vlan_proto is None
    assert EthernetRepr.parse(view) == rep == EthernetRepr.parse(raw)


def test_vlan_round_trip() -> None:
    tci = vlan_tci(vid=100, pcp=5, dei=True)
    assert tci == (5 << 13) | 0x1000 | 100
    rep = EthernetRepr(DST, SRC, ETH_P_IP, tci)
    raw = rep.to_bytes(b"x")
    assert raw[12:18] == b"\x81\x00" + tci.to_bytes(2, "big") + b"\x08\x00"
    view = EthernetView(raw)
    assert view.ethertype == ETH_P_IP and view.vlan_tci == tci and view.header_len == 18
    assert view.vlan_proto == ETH_P_8021Q
    back = EthernetRepr.parse(raw)
    assert back == rep and back.vid == 100 and back.pcp == 5 and back.dei is True
    qinq = EthernetRepr(DST, SRC, ETH_P_8021Q, vlan_tci(7), ETH_P_8021AD)
    assert EthernetRepr.parse(qinq.to_bytes()) == qinq


def test_setters_rewrite_in_place() -> None:
    buf = bytearray(EthernetRepr(DST, SRC, ETH_P_IP).to_bytes(b"abc"))
    view = EthernetView(buf)
    view.dst, view.src = SRC, DST
    view.set_ethertype(ETH_P_ARP)
    assert EthernetRepr.parse(buf) == EthernetRepr(SRC, DST, ETH_P_ARP)
    with pytest.raises(TypeError):
        EthernetView(bytes(buf)).dst = DST
    with pytest.raises(ValueError):
        view.src = b"\x01"


def test_offset_and_end() -> None:
    raw = b"\0" * 4 + EthernetRepr(DST, SRC, ETH_P_IP).to_bytes(b"0123456789")
    view = EthernetView(raw, 4, 4 + 14 + 3)
    assert bytes(view.payload) == b"012"
    view = EthernetView(memoryview(raw), 4)
    assert view.dst == DST and bytes(view.payload) == b"0123456789"


def test_truncated_at_every_length() -> None:
    tagged = EthernetRepr(DST, SRC, ETH_P_IP, vlan_tci(1)).to_bytes()
    for n in range(len(tagged)):
        with pytest.raises(TruncatedError) as exc:
            EthernetView(tagged[:n])
        assert exc.value.reason == SkbDropReason.PKT_TOO_SMALL
    EthernetView(tagged)
    with pytest.raises(TruncatedError):
        EthernetView(tagged, offset=-1)


def test_emit_refuses_bad_repr() -> None:
    with pytest.raises(ValueError):
        EthernetRepr(b"\x01", SRC, ETH_P_IP).to_bytes()
    with pytest.raises(ValueError):
        EthernetRepr(DST, SRC, ETH_P_IP, 5, vlan_proto=0x0800).to_bytes()


@settings(max_examples=200)
@given(
    st.binary(min_size=6, max_size=6),
    st.binary(min_size=6, max_size=6),
    st.integers(0, 0xFFFF).filter(lambda t: t not in (ETH_P_8021Q, ETH_P_8021AD)),
    st.none() | st.integers(0, 0xFFFF),
    st.binary(max_size=64),
)
def test_round_trip_property(
    dst: bytes, src: bytes, etype: int, tci: int | None, payload: bytes
) -> None:
    rep = EthernetRepr(dst, src, etype, tci)
    raw = rep.to_bytes(payload)
    assert EthernetRepr.parse(raw) == rep
    assert bytes(EthernetView(raw).payload) == payload
