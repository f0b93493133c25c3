"""Build an Ethernet + IPv4 + TCP frame (100 bytes of data) with both checksums:
tuxnet against dpkt (and scapy), in the same run. Metric: frames per second."""

from __future__ import annotations

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import parse_args, rate, ratio_line, table

from tuxnet.wire import (
    ETH_P_IP,
    IP_DF,
    IPPROTO_TCP,
    TCPHDR_ACK,
    EthernetRepr,
    Ipv4Repr,
    TcpOptions,
    TcpRepr,
    ip_bytes,
    ip_int,
)
from tuxnet.wire.build import tcp_frame

SRC_MAC = b"\x02\x00\x00\x00\x00\x01"
DST_MAC = b"\x02\x00\x00\x00\x00\x02"
SADDR = ip_int("10.0.0.1")
DADDR = ip_int("10.0.0.2")
PAYLOAD = b"x" * 100


def tux_build() -> bytearray:
    """One pass: headroom-free bytearray, pack_into, checksums."""
    return tcp_frame(
        SRC_MAC, DST_MAC, SADDR, DADDR, 40000, 5201, 123456789, 987654321, TCPHDR_ACK, 502, PAYLOAD
    )


def tux_build_ts() -> bytearray:
    """Same with the timestamps option, as Linux data segments carry."""
    return tcp_frame(
        SRC_MAC,
        DST_MAC,
        SADDR,
        DADDR,
        40000,
        5201,
        123456789,
        987654321,
        TCPHDR_ACK,
        502,
        PAYLOAD,
        TcpOptions(timestamp=(1000, 2000)),
    )


def tux_reprs() -> bytearray:
    """Reprs emitting into one buffer, innermost first (sk_buff push order)."""
    tcp = TcpRepr(40000, 5201, 123456789, 987654321, TCPHDR_ACK, 502, payload_len=100)
    ip = Ipv4Repr(SADDR, DADDR, IPPROTO_TCP, 20 + 100, frag_off=IP_DF)
    eth = EthernetRepr(DST_MAC, SRC_MAC, ETH_P_IP)
    buf = bytearray(14 + 20 + 20 + 100)
    buf[54:] = PAYLOAD
    tcp.emit(buf, 34, SADDR, DADDR)
    ip.emit(buf, 14)
    eth.emit(buf, 0)
    return buf


def main() -> None:
    args = parse_args(__doc__ or "")
    ref = bytes(tux_build())
    assert bytes(tux_reprs()) == ref
    results: dict[str, float] = {
        "tuxnet build.tcp_frame": rate(tux_build, args.seconds),
        "tuxnet tcp_frame + TS option": rate(tux_build_ts, args.seconds),
        "tuxnet reprs emit": rate(tux_reprs, args.seconds),
    }
    peers: list[str] = []
    try:
        import dpkt  # type: ignore[import-untyped]

        sip, dip = ip_bytes(SADDR), ip_bytes(DADDR)

        def with_dpkt() -> bytes:
            t = dpkt.tcp.TCP(
                sport=40000,
                dport=5201,
                seq=123456789,
                ack=987654321,
                flags=dpkt.tcp.TH_ACK,
                win=502,
                data=PAYLOAD,
            )
            ip = dpkt.ip.IP(src=sip, dst=dip, p=IPPROTO_TCP, ttl=64, df=1, data=t)
            return bytes(dpkt.ethernet.Ethernet(src=SRC_MAC, dst=DST_MAC, type=ETH_P_IP, data=ip))

        assert with_dpkt() == ref, "dpkt and tuxnet disagree on the frame bytes"
        results["dpkt"] = rate(with_dpkt, args.seconds)
        peers.append("dpkt")
    except ImportError:
        print("dpkt not installed: skipped")
    try:
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether

        def with_scapy() -> bytes:
            p = (
                Ether(src=SRC_MAC, dst=DST_MAC)
                / IP(src="10.0.0.1", dst="10.0.0.2", flags="DF", id=0)
                / TCP(sport=40000, dport=5201, seq=123456789, ack=987654321, flags="A", window=502)
                / PAYLOAD
            )
            return bytes(p)

        assert with_scapy() == ref, "scapy and tuxnet disagree on the frame bytes"
        results["scapy"] = rate(with_scapy, args.seconds, repeats=3)
        peers.append("scapy")
    except ImportError:
        print("scapy not installed: skipped")
    base = results.get("dpkt")
    rows = [(name, pps, 1e9 / pps, pps / base if base else "-") for name, pps in results.items()]
    print(f"build Ethernet+IPv4+TCP ({len(ref)} B frame) with checksums")
    print(table(("builder", "frames/s", "ns/frame", "x dpkt"), rows))
    for peer in peers:
        print(ratio_line("build_pps", peer, results["tuxnet build.tcp_frame"] / results[peer]))


if __name__ == "__main__":
    main()
