"""struct virtio_net_hdr: layout, and the skb mapping of virtio_net_hdr_to_skb /
virtio_net_hdr_from_skb (include/linux/virtio_net.h)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.drivers.virtio_net import (
    SKB_GSO_UDP,
    VIRTIO_NET_HDR_F_DATA_VALID,
    VIRTIO_NET_HDR_F_NEEDS_CSUM,
    VIRTIO_NET_HDR_GSO_ECN,
    VIRTIO_NET_HDR_GSO_NONE,
    VIRTIO_NET_HDR_GSO_TCPV4,
    VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP_L4,
    VNET_HDR_NONE,
    VirtioNetHdr,
    VirtioNetHdrError,
    complete_csum,
    receive_buf,
    virtio_net_hdr_from_skb,
    virtio_net_hdr_to_skb,
)
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import (
    CHECKSUM_NONE,
    CHECKSUM_PARTIAL,
    CHECKSUM_UNNECESSARY,
    SKB_GSO_DODGY,
    SKB_GSO_TCP_ECN,
    SKB_GSO_TCPV4,
    SKB_GSO_UDP_L4,
    SkBuff,
    alloc_skb,
    build_skb,
)
from tuxnet.wire import TcpView
from tuxnet.wire.build import arp_frame, tcp_frame, udp_frame
from tuxnet.wire.checksum import csum_fold, pseudo_header_sum

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
NEEDS = VIRTIO_NET_HDR_F_NEEDS_CSUM


def _skb(frame: bytes | bytearray, headroom: int = 64) -> SkBuff:
    skb = alloc_skb(headroom + len(frame))
    skb.reserve(headroom)
    skb.put_data(frame)
    return skb


def _tso_frame(payload_len: int = 45 * 1448) -> bytearray:
    return tcp_frame(MAC_A, MAC_B, "10.0.0.2", "10.0.0.1", 40000, 9, seq=1000,
                     payload=bytes(payload_len))


# --- layout -------------------------------------------------------------------------


def test_layout_is_little_endian_virtio_1() -> None:
    hdr = VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 1)
    raw = hdr.pack()
    assert raw == bytes([1, 1, 54, 0, 0xA8, 0x05, 34, 0, 16, 0, 1, 0])
    assert hdr.pack(10) == raw[:10]
    assert VirtioNetHdr.unpack(raw) == hdr
    assert VirtioNetHdr.unpack(raw, size=10) == hdr._replace(num_buffers=0)
    buf = bytearray(20)
    hdr.pack_into(buf, 4)
    assert VirtioNetHdr.unpack(buf, 4) == hdr
    assert hdr.is_gso and hdr.needs_csum
    assert not VNET_HDR_NONE.is_gso and VNET_HDR_NONE.pack() == bytes(12)
    assert "gso=tcpv4" in str(hdr)


def test_short_header_is_dev_hdr() -> None:
    with pytest.raises(VirtioNetHdrError) as ei:
        VirtioNetHdr.unpack(bytes(11))
    assert ei.value.reason is SkbDropReason.DEV_HDR
    with pytest.raises(ValueError):
        VirtioNetHdr.unpack(bytes(12), size=8)


# --- virtio_net_hdr_to_skb ------------------------------------------------------------


def test_needs_csum_and_tcpv4_gso() -> None:
    skb = _skb(_tso_frame())
    hdr = VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16)
    virtio_net_hdr_to_skb(skb, hdr)
    assert skb.ip_summed == CHECKSUM_PARTIAL
    assert skb.csum_start == 64 + 34 and skb.csum_offset == 16
    assert skb.transport_header == 64 + 34 and skb.mac_header == 64
    assert skb.gso_size == 1448
    assert skb.gso_type == SKB_GSO_TCPV4 | SKB_GSO_DODGY
    assert skb.gso_segs == 0


def test_ecn_maps_to_tcp_ecn() -> None:
    skb = _skb(_tso_frame())
    virtio_net_hdr_to_skb(skb, VirtioNetHdr(
        NEEDS, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 54, 1448, 34, 16))
    assert skb.gso_type == SKB_GSO_TCPV4 | SKB_GSO_TCP_ECN | SKB_GSO_DODGY


def test_small_packet_is_not_gso() -> None:
    skb = _skb(_tso_frame(1000))
    virtio_net_hdr_to_skb(skb, VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16))
    assert skb.gso_size == 0 and skb.gso_type == 0
    assert skb.ip_summed == CHECKSUM_PARTIAL


def test_data_valid_is_checksum_unnecessary() -> None:
    skb = _skb(_tso_frame(100))
    virtio_net_hdr_to_skb(skb, VirtioNetHdr(VIRTIO_NET_HDR_F_DATA_VALID))
    assert skb.ip_summed == CHECKSUM_UNNECESSARY
    plain = _skb(_tso_frame(100))
    virtio_net_hdr_to_skb(plain, VNET_HDR_NONE)
    assert plain.ip_summed == CHECKSUM_NONE and plain.gso_size == 0


def test_gso_without_needs_csum_probes_the_transport_header() -> None:
    skb = _skb(_tso_frame())
    virtio_net_hdr_to_skb(skb, VirtioNetHdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448))
    assert skb.transport_header == 64 + 34
    assert skb.gso_type == SKB_GSO_TCPV4 | SKB_GSO_DODGY


def test_udp_l4_gso() -> None:
    frame = udp_frame(MAC_A, MAC_B, "10.0.0.2", "10.0.0.1", 5000, 9, payload=bytes(20 * 1400))
    skb = _skb(frame)
    virtio_net_hdr_to_skb(skb, VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 42, 1400, 34, 6))
    assert skb.gso_type == SKB_GSO_UDP_L4 | SKB_GSO_DODGY and skb.gso_size == 1400


@pytest.mark.parametrize("hdr, frame", [
    (VirtioNetHdr(0, 2, 54, 1448), "tcp"),  # gso_type 2 is not defined
    (VirtioNetHdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 0), "tcp"),  # gso_size 0
    (VirtioNetHdr(NEEDS, 0, 0, 0, 0xFFFF, 16), "tcp"),  # csum_start past the frame
    (VirtioNetHdr(NEEDS, 0, 0, 0, 34, 0xFFFF), "tcp"),  # csum_offset past the frame
    (VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 6), "tcp"),  # not th->check
    (VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 54, 0xFFFF, 34, 16), "tcp"),  # BY_FRAGS
    (VirtioNetHdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448), "arp"),  # probe: not IP
    (VirtioNetHdr(0, VIRTIO_NET_HDR_GSO_TCPV6, 54, 1448), "tcp"),  # probe: IPv4, not v6
    (VirtioNetHdr(0, VIRTIO_NET_HDR_GSO_UDP_L4, 42, 1400), "udp"),  # UDP_L4 needs csum
    (VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN, 42, 1400, 34, 6),
     "udp"),
    (VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 42, 10, 34, 6), "udp"),  # > 128 segs
])
def test_refused_headers_drop_with_dev_hdr(hdr: VirtioNetHdr, frame: str) -> None:
    if frame == "tcp":
        raw = _tso_frame()
    elif frame == "udp":
        raw = udp_frame(MAC_A, MAC_B, "10.0.0.2", "10.0.0.1", 5000, 9, payload=bytes(20000))
    else:
        raw = arp_frame(MAC_A, MAC_B, 1, MAC_A, "10.0.0.2", bytes(6), "10.0.0.1")
    skb = _skb(raw)
    with pytest.raises(VirtioNetHdrError) as ei:
        virtio_net_hdr_to_skb(skb, hdr)
    assert ei.value.reason is SkbDropReason.DEV_HDR
    assert skb.gso_size == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=12, max_size=12), st.binary(max_size=200))
def test_any_header_on_any_frame_is_accepted_or_dev_hdr(raw: bytes, frame: bytes) -> None:
    hdr = VirtioNetHdr.unpack(raw)
    skb = _skb(frame)
    try:
        virtio_net_hdr_to_skb(skb, hdr)
    except VirtioNetHdrError as exc:
        assert exc.reason is SkbDropReason.DEV_HDR


# --- virtio_net_hdr_from_skb ----------------------------------------------------------


def test_from_skb_round_trip() -> None:
    skb = _skb(_tso_frame())
    hdr = VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 54, 1448, 34, 16)
    virtio_net_hdr_to_skb(skb, hdr)
    back = virtio_net_hdr_from_skb(skb)
    assert back == hdr._replace(hdr_len=skb.len)  # hdr_len is skb_headlen, as in Linux
    assert virtio_net_hdr_from_skb(skb, vlan_hlen=4).csum_start == 38


def test_from_skb_plain_and_data_valid() -> None:
    skb = _skb(_tso_frame(10))
    assert virtio_net_hdr_from_skb(skb) is VNET_HDR_NONE
    skb.ip_summed = CHECKSUM_UNNECESSARY
    assert virtio_net_hdr_from_skb(skb) is VNET_HDR_NONE
    hdr = virtio_net_hdr_from_skb(skb, has_data_valid=True)
    assert hdr.flags == VIRTIO_NET_HDR_F_DATA_VALID and hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE


def test_from_skb_refuses_ufo() -> None:
    skb = _skb(_tso_frame(3000))
    skb.gso_size = 1400
    skb.gso_type = SKB_GSO_UDP
    with pytest.raises(VirtioNetHdrError):
        virtio_net_hdr_from_skb(skb)


# --- receive_buf and the partial checksum ------------------------------------------------


def test_receive_buf_builds_without_copy() -> None:
    frame = _tso_frame()
    skb = receive_buf(frame, VirtioNetHdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16))
    assert skb.head is frame and skb.len == len(frame) and skb.data_off == 0
    assert skb.gso_size == 1448 and skb.csum_start == 34
    plain = receive_buf(bytearray(b"x" * 60), None)
    assert plain.len == 60 and plain.mac_header == 0 and plain.gso_size == 0
    with pytest.raises(VirtioNetHdrError):
        receive_buf(bytearray(60), VirtioNetHdr(0, 9, 0, 1))


def test_complete_csum_finishes_a_partial_checksum() -> None:
    frame = _tso_frame(3000)
    tcp = TcpView(frame, 34)
    good = tcp.checksum
    seglen = len(frame) - 34
    partial = csum_fold(pseudo_header_sum(0x0A000002, 0x0A000001, 6, seglen))
    tcp.checksum = partial  # what a CHECKSUM_PARTIAL sender leaves in th->check
    assert complete_csum(frame, VirtioNetHdr(NEEDS, 0, 0, 0, 34, 16))
    assert TcpView(frame, 34).checksum == good
    assert not complete_csum(frame, VNET_HDR_NONE)
    assert not complete_csum(frame, VirtioNetHdr(NEEDS, 0, 0, 0, 34, 60000))
    assert build_skb(frame).head is frame
