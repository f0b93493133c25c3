"""Parse Ethernet + IPv4 + TCP and read five fields (saddr, daddr, sport, dport, seq):
tuxnet views against dpkt and scapy, in the same run. Metric: frames per second."""

from __future__ import annotations

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import parse_args, rate, ratio_line, table

from tuxnet.wire import (
    ETH_P_IP,
    IPPROTO_TCP,
    TCPHDR_ACK,
    EthernetRepr,
    EthernetView,
    Ipv4Repr,
    Ipv4View,
    TcpOptions,
    TcpRepr,
    TcpView,
    ip_int,
)
from tuxnet.wire.build import tcp_frame


def make_frame() -> bytes:
    """A data segment as Linux sends it: timestamps option, 100 bytes of data."""
    return bytes(
        tcp_frame(
            b"\x02\x00\x00\x00\x00\x01",
            b"\x02\x00\x00\x00\x00\x02",
            ip_int("10.0.0.1"),
            ip_int("10.0.0.2"),
            40000,
            5201,
            seq=123456789,
            ack_seq=987654321,
            flags=TCPHDR_ACK,
            window=502,
            options=TcpOptions(timestamp=(1000, 2000)),
            payload=b"x" * 100,
        )
    )


def tux_views(buf: bytes) -> tuple[int, int, int, int, int] | None:
    """The stack's hot path: views, then the flow tuple in two reads."""
    eth = EthernetView(buf)
    if eth.ethertype == ETH_P_IP:
        ip = Ipv4View(buf, eth.payload_offset)
        if ip.protocol == IPPROTO_TCP:
            tcp = TcpView(buf, ip.payload_offset, ip.end)
            saddr, daddr = ip.addrs()
            sport, dport = tcp.ports()
            return saddr, daddr, sport, dport, tcp.seq
    return None


def tux_props(buf: bytes) -> tuple[int, int, int, int, int] | None:
    """Views, each field through its own property."""
    eth = EthernetView(buf)
    if eth.ethertype == ETH_P_IP:
        ip = Ipv4View(buf, eth.payload_offset)
        if ip.protocol == IPPROTO_TCP:
            tcp = TcpView(buf, ip.payload_offset, ip.end)
            return ip.src, ip.dst, tcp.src_port, tcp.dst_port, tcp.seq
    return None


def tux_reprs(buf: bytes) -> tuple[int, int, int, int, int]:
    """Full validation: reprs, IPv4 and TCP checksums verified, options decoded."""
    EthernetRepr.parse(buf)
    ipv = Ipv4View(buf, 14)
    ip = Ipv4Repr.parse(ipv)
    tcp = TcpRepr.parse(TcpView(buf, ipv.payload_offset, ipv.end), ip.src, ip.dst)
    return ip.src, ip.dst, tcp.src_port, tcp.dst_port, tcp.seq


def main() -> None:
    args = parse_args(__doc__ or "")
    buf = make_frame()
    want = tux_views(buf)
    assert want == tux_props(buf) == tux_reprs(buf)
    results: dict[str, float] = {}
    results["tuxnet views (addrs/ports)"] = rate(lambda: tux_views(buf), args.seconds)
    results["tuxnet views (5 properties)"] = rate(lambda: tux_props(buf), args.seconds)
    results["tuxnet reprs (+checksums)"] = rate(lambda: tux_reprs(buf), args.seconds)
    peers: dict[str, str] = {}
    try:
        import dpkt  # type: ignore[import-untyped]

        def with_dpkt() -> tuple[bytes, bytes, int, int, int]:
            e = dpkt.ethernet.Ethernet(buf)
            ip = e.data
            t = ip.data
            return ip.src, ip.dst, t.sport, t.dport, t.seq

        got = with_dpkt()
        assert (int.from_bytes(got[0], "big"), int.from_bytes(got[1], "big"), *got[2:]) == want
        results["dpkt"] = rate(with_dpkt, args.seconds)
        peers["dpkt"] = "dpkt"
    except ImportError:
        print("dpkt not installed: skipped")
    try:
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether

        def with_scapy() -> tuple[str, str, int, int, int]:
            p = Ether(buf)
            ip = p[IP]
            t = p[TCP]
            return ip.src, ip.dst, t.sport, t.dport, t.seq

        with_scapy()
        results["scapy"] = rate(with_scapy, args.seconds, repeats=3)
        peers["scapy"] = "scapy"
    except ImportError:
        print("scapy not installed: skipped")
    best = results["tuxnet views (addrs/ports)"]
    rows = [(name, pps, 1e9 / pps, pps / results.get("dpkt", pps)) for name, pps in results.items()]
    print(f"parse Ethernet+IPv4+TCP ({len(buf)} B frame), read 5 fields")
    print(table(("parser", "frames/s", "ns/frame", "x dpkt"), rows))
    for peer in peers:
        print(ratio_line("parse_pps", peer, best / results[peer]))
    if "dpkt" in results:
        print(
            ratio_line(
                "parse_pps_properties",
                "dpkt",
                results["tuxnet views (5 properties)"] / results["dpkt"],
            )
        )
        print(
            ratio_line(
                "parse_pps_validated",
                "dpkt",
                results["tuxnet reprs (+checksums)"] / results["dpkt"],
            )
        )


if __name__ == "__main__":
    main()
