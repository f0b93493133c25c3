"""Fuzzing every parser: random bytes and mutated valid frames. Only WireError
subclasses may escape, each with a SkbDropReason; once a view is built, no accessor
may fail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.dropreason import SkbDropReason
from tuxnet.wire import (
    ETH_P_ARP,
    ETH_P_IP,
    IPPROTO_ICMP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    TCPHDR_SYN,
    ArpRepr,
    ArpView,
    EthernetRepr,
    EthernetView,
    IcmpRepr,
    IcmpView,
    Ipv4Repr,
    Ipv4View,
    TcpOptions,
    TcpRepr,
    TcpView,
    UdpRepr,
    UdpView,
    WireError,
    internet_checksum,
    ones_sum,
)
from tuxnet.wire.build import arp_frame, icmp_frame, tcp_frame, udp_frame
from tuxnet.wire.ipv4 import parse_ipv4_options
from tuxnet.wire.tcp_options import iter_tcp_options

A, B = 0x0A000001, 0x0A000002
M1, M2 = b"\x02\0\0\0\0\x01", b"\x02\0\0\0\0\x02"

VIEWS: tuple[type, ...] = (EthernetView, ArpView, Ipv4View, IcmpView, UdpView, TcpView)
SKIP = {"buf"}


def check_invariants(view: Any) -> None:
    """What the constructor promised: the header and payload lie inside the buffer."""
    n = len(view.buf)
    assert 0 <= view.offset <= view.end <= n
    if hasattr(view, "payload_offset"):
        assert view.offset <= view.payload_offset <= view.end
        assert len(view.payload) == view.end - view.payload_offset
    if hasattr(view, "header_len"):
        assert view.payload_offset - view.offset == view.header_len
    if hasattr(view, "options"):
        assert len(view.options) == view.header_len - 20


def touch_all(view: object) -> None:
    """Read every public property and call every argument-free reader."""
    check_invariants(view)
    cls = type(view)
    for name in dir(cls):
        if name.startswith("_") or name in SKIP:
            continue
        attr = getattr(cls, name)
        if isinstance(attr, property):
            value = getattr(view, name)
            if isinstance(value, memoryview):
                bytes(value)
    for meth in ("addrs", "ports", "parse_options", "verify_checksum", "compute_checksum"):
        fn = getattr(view, meth, None)
        if fn is None:
            continue
        if meth == "verify_checksum" and isinstance(view, (TcpView, UdpView)):
            fn(A, B)
        else:
            fn()


def expect_wire_errors(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except WireError as err:
        assert isinstance(err.reason, SkbDropReason)
        assert err.reason not in (SkbDropReason.NOT_DROPPED_YET, SkbDropReason.CONSUMED)
        assert str(err)
        return None


PARSERS: list[Callable[[bytes], object]] = [
    EthernetView,
    ArpView,
    Ipv4View,
    IcmpView,
    UdpView,
    TcpView,
    lambda b: Ipv4View(b, verify_csum=True),
    EthernetRepr.parse,
    ArpRepr.parse,
    Ipv4Repr.parse,
    IcmpRepr.parse,
    lambda b: Ipv4Repr.parse(b, verify_checksum=False),
    lambda b: IcmpRepr.parse(b, verify_checksum=False),
    UdpRepr.parse,
    lambda b: UdpRepr.parse(b, A, B),
    TcpRepr.parse,
    lambda b: TcpRepr.parse(b, A, B),
    lambda b: TcpRepr.parse(b, strict_options=False),
    TcpOptions.parse,
    lambda b: TcpOptions.parse(b, strict=True),
    parse_ipv4_options,
    iter_tcp_options,
    lambda b: iter_tcp_options(b, strict=True),
]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes(data: bytes) -> None:
    for parse in PARSERS:
        out = expect_wire_errors(parse, data)
        if isinstance(out, VIEWS):
            touch_all(out)
    assert 0 <= ones_sum(data) <= 0xFFFF and 0 <= internet_checksum(data) <= 0xFFFF


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.integers(-5, 90), st.none() | st.integers(-5, 90))
def test_random_offsets(data: bytes, offset: int, end: int | None) -> None:
    buf = bytearray(data)
    for cls in VIEWS:
        view = expect_wire_errors(cls, memoryview(buf), offset, end)
        if view is not None:
            assert view.offset >= 0 and view.end <= len(buf)
            touch_all(view)


def valid_frames() -> list[bytes]:
    from tuxnet.wire import TcpOptions as Opts

    return [
        bytes(f)
        for f in (
            tcp_frame(
                M1,
                M2,
                A,
                B,
                1,
                2,
                3,
                4,
                TCPHDR_SYN,
                5,
                options=Opts(mss=1460, wscale=7, sack_permitted=True, timestamp=(1, 2)),
            ),
            tcp_frame(
                M1,
                M2,
                A,
                B,
                1,
                2,
                3,
                4,
                payload=b"data" * 5,
                options=Opts(timestamp=(1, 2), sack_blocks=[(5, 6)]),
                vlan_tci=7,
            ),
            udp_frame(M1, M2, A, B, 53, 53, b"hello"),
            icmp_frame(M1, M2, A, B, 8, 0, 0x10002, b"ping"),
            arp_frame(M1, b"\xff" * 6, 1, M1, A, bytes(6), B),
        )
    ]


FRAMES = valid_frames()


def receive(frame: bytes | bytearray) -> None:
    """What a receive path does with a frame: every layer's view and repr."""
    eth = EthernetView(frame)
    touch_all(eth)
    EthernetRepr.parse(eth)
    if eth.ethertype == ETH_P_ARP:
        arp = ArpView(frame, eth.payload_offset)
        touch_all(arp)
        ArpRepr.parse(arp)
        return
    if eth.ethertype != ETH_P_IP:
        return
    ip = Ipv4View(frame, eth.payload_offset, verify_csum=True)
    touch_all(ip)
    rep = Ipv4Repr.parse(ip)
    rep.option_list  # noqa: B018
    start, end = ip.payload_offset, ip.end
    if rep.protocol == IPPROTO_TCP:
        tcp = TcpView(frame, start, end)
        touch_all(tcp)
        TcpRepr.parse(tcp, rep.src, rep.dst, strict_options=False)
        TcpRepr.parse(tcp, rep.src, rep.dst)
    elif rep.protocol == IPPROTO_UDP:
        udp = UdpView(frame, start, end)
        touch_all(udp)
        UdpRepr.parse(udp, rep.src, rep.dst)
    elif rep.protocol == IPPROTO_ICMP:
        icmp = IcmpView(frame, start, end)
        touch_all(icmp)
        IcmpRepr.parse(icmp)


def test_valid_frames_pass() -> None:
    for frame in FRAMES:
        receive(frame)
        receive(bytearray(frame))


mutation = st.tuples(
    st.sampled_from(["flip", "set", "cut", "insert", "delete"]),
    st.integers(0, 200),
    st.integers(0, 255),
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(range(len(FRAMES))), st.lists(mutation, min_size=1, max_size=4), st.booleans()
)
def test_mutated_frames(
    which: int, mutations: list[tuple[str, int, int]], fix_checksums: bool
) -> None:
    buf = bytearray(FRAMES[which])
    for kind, pos, value in mutations:
        pos %= max(len(buf), 1)
        if kind == "flip" and buf:
            buf[pos] ^= 1 << (value & 7)
        elif kind == "set" and buf:
            buf[pos] = value
        elif kind == "cut":
            del buf[pos:]
        elif kind == "insert":
            buf[pos:pos] = bytes((value,))
        elif kind == "delete" and buf:
            del buf[pos]
    if fix_checksums:
        # let the mutation reach the deeper checks rather than stop at a checksum
        try:
            ip = Ipv4View(buf, 14)
            ip.fill_checksum()
            if ip.protocol == IPPROTO_TCP:
                TcpView(buf, ip.payload_offset, ip.end).fill_checksum(ip.src, ip.dst)
            elif ip.protocol == IPPROTO_UDP:
                UdpView(buf, ip.payload_offset, ip.end).fill_checksum(ip.src, ip.dst)
            elif ip.protocol == IPPROTO_ICMP:
                IcmpView(buf, ip.payload_offset, ip.end).fill_checksum()
        except WireError:
            pass
    expect_wire_errors(receive, buf)
