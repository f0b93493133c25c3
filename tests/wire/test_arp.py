"""ARP view and repr."""

from __future__ import annotations

import pytest

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire import ARPOP_REPLY, ARPOP_REQUEST, MalformedError, TruncatedError, ip_int
from tuxnet.wire.arp import ArpRepr, ArpView

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def test_round_trip() -> None:
    rep = ArpRepr(ARPOP_REQUEST, MAC_A, ip_int("10.0.0.1"), bytes(6), ip_int("10.0.0.2"))
    raw = rep.to_bytes()
    assert raw.hex() == ("00010800060400010200000000010a0000010000000000000a000002")
    view = ArpView(raw)
    assert (view.hrd, view.pro, view.op) == (1, 0x0800, ARPOP_REQUEST)
    assert (view.sha, view.spa, view.tha, view.tpa) == (
        MAC_A,
        ip_int("10.0.0.1"),
        bytes(6),
        ip_int("10.0.0.2"),
    )
    assert ArpRepr.parse(raw) == rep == ArpRepr.parse(view)
    assert "who-has 10.0.0.2 tell 10.0.0.1" in str(rep)
    reply = ArpRepr(ARPOP_REPLY, MAC_B, 2, MAC_A, 1)
    assert ArpRepr.parse(reply.to_bytes() + b"\0" * 18) == reply  # Ethernet padding


def test_truncated_at_every_length() -> None:
    raw = ArpRepr(ARPOP_REQUEST, MAC_A, 1, bytes(6), 2).to_bytes()
    for n in range(len(raw)):
        with pytest.raises(TruncatedError) as exc:
            ArpView(raw[:n])
        assert exc.value.reason == SkbDropReason.PKT_TOO_SMALL


def test_other_address_lengths() -> None:
    # hln 8 / pln 4: the view follows the lengths, the Ethernet/IPv4 repr refuses
    raw = (
        bytes.fromhex("0001080008040001")
        + b"\x11" * 8
        + b"\x0a\0\0\x01"
        + b"\x22" * 8
        + b"\x0a\0\0\x02"
    )
    view = ArpView(raw)
    assert view.sha == b"\x11" * 8 and view.tpa == 0x0A000002
    with pytest.raises(MalformedError) as exc:
        ArpRepr.parse(raw)
    assert exc.value.reason == SkbDropReason.NOT_SPECIFIED
