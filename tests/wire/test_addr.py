"""MAC and IPv4 address helpers."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.wire.addr import (
    int_to_ip,
    ip_bytes,
    ip_int,
    ip_str,
    is_broadcast_mac,
    is_multicast_mac,
    mac_bytes,
    mac_str,
)


def test_mac_round_trip() -> None:
    mac = bytes.fromhex("0242ac1100ff")
    assert mac_str(mac) == "02:42:ac:11:00:ff"
    assert mac_bytes("02:42:ac:11:00:ff") == mac
    assert mac_bytes("02-42-AC-11-00-FF") == mac
    assert mac_bytes("2:42:ac:11:0:ff") == mac


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "02:42:ac:11:00",
        "02:42:ac:11:00:ff:00",
        "0g:42:ac:11:00:ff",
        "02:42:ac:11:00:fff",
        "02::ac:11:00:ff",
    ],
)
def test_mac_bytes_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="MAC"):
        mac_bytes(bad)


def test_mac_kinds() -> None:
    assert is_broadcast_mac(b"\xff" * 6)
    assert is_multicast_mac(b"\x01\x00\x5e\x00\x00\x01")
    assert not is_multicast_mac(b"\x02\x00\x00\x00\x00\x01")


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_ip_conversions_agree_with_ipaddress(value: int) -> None:
    text = str(ipaddress.IPv4Address(value))
    assert ip_str(value) == text == int_to_ip(value)
    assert ip_int(text) == value
    assert ip_bytes(value) == ipaddress.IPv4Address(value).packed
    assert ip_str(ip_bytes(text)) == text
    assert ip_int(ip_bytes(value)) == value


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.1",
        "1.2.3.-4",
        "a.b.c.d",
        "1..2.3",
        " 1.2.3.4",
        "1.2.3.4444",
    ],
)
def test_ip_int_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="IPv4"):
        ip_int(bad)


def test_ip_int_rejects_bad_int_and_bytes() -> None:
    with pytest.raises(ValueError):
        ip_int(1 << 32)
    with pytest.raises(ValueError):
        ip_int(b"\x01\x02\x03")
