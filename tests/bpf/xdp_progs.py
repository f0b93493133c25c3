"""Shared by the ELF and kernel tests: build tests/bpf/progs/*.c and make test frames.

Objects are compiled once per test session with ``clang -O2 -g -target bpf -c`` into a
temporary directory (the test must first call ``need_clang()``: under CI a missing
clang is a failure, elsewhere a skip).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROGS = Path(__file__).resolve().parent / "progs"
CLANG_FLAGS = ["-O2", "-g", "-target", "bpf", "-c"]

_built: dict[Path, dict[str, Path]] = {}


def clang() -> str | None:
    return shutil.which("clang")


def compile_c(src: Path, out_dir: Path) -> Path:
    """Compile one program; AssertionError with clang's diagnostics if it fails."""
    cc = clang()
    assert cc is not None, "clang not found"
    out = out_dir / (src.stem + ".o")
    proc = subprocess.run([cc, *CLANG_FLAGS, f"-I{PROGS}", str(src), "-o", str(out)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"clang failed on {src.name}:\n{proc.stderr}"
    return out


def build_all(out_dir: Path) -> dict[str, Path]:
    """Every tests/bpf/progs/xdp_*.c compiled (once per out_dir), by stem."""
    if out_dir not in _built:
        out_dir.mkdir(parents=True, exist_ok=True)
        sources = sorted(PROGS.glob("xdp_*.c"))
        with ThreadPoolExecutor(max_workers=4) as pool:
            objs = list(pool.map(lambda s: compile_c(s, out_dir), sources))
        _built[out_dir] = {o.stem: o for o in objs}
    return _built[out_dir]


# --- frames -------------------------------------------------------------------------------

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("02000000000a")


def eth(proto: int, payload: bytes = b"", dst: bytes = MAC_A, src: bytes = MAC_B) -> bytes:
    return dst + src + struct.pack("!H", proto) + payload


def ipv4(proto: int, payload: bytes, src: str = "10.1.2.3", dst: str = "10.9.8.7",
         options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), 1,
                      0, 64, proto, 0, _addr(src), _addr(dst)) + options
    return hdr + payload


def _addr(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def tcp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIHHHH", sport, dport, 1, 0, 0x5002, 65535, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def vlan(tci: int, proto: int, payload: bytes) -> bytes:
    return eth(0x8100, struct.pack("!HH", tci, proto) + payload)


ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806

FRAMES: dict[str, bytes] = {
    "tcp80": eth(ETH_P_IP, ipv4(6, tcp(40000, 80, b"GET / HTTP/1.0\r\n\r\n"))),
    "tcp22": eth(ETH_P_IP, ipv4(6, tcp(40000, 22))),
    "tcp80_ipopts": eth(ETH_P_IP, ipv4(6, tcp(1234, 80), options=b"\x01\x01\x01\x00")),
    "tcp80_truncated": eth(ETH_P_IP, ipv4(6, tcp(40000, 80)))[:14 + 20 + 10],
    "udp53": eth(ETH_P_IP, ipv4(17, udp(5353, 53, b"\x12\x34" + bytes(30)),
                                src="192.168.1.77")),
    "sctp": eth(ETH_P_IP, ipv4(132, bytes(16), src="10.200.0.1")),
    "icmp_blocked_src": eth(ETH_P_IP, ipv4(1, bytes(8), src="192.168.1.5"),
                            dst=bytes.fromhex("020000000003")),
    "arp": eth(ETH_P_ARP, bytes(28), dst=b"\xff" * 6),
    "ip_truncated": eth(ETH_P_IP, ipv4(6, tcp(1, 80)))[:14 + 12],
    "eth_only": eth(ETH_P_IP),
    "vlan_tcp80": vlan(0x2005, ETH_P_IP, ipv4(6, tcp(40000, 80))),
    "vlan_truncated": vlan(7, ETH_P_IP, b"")[:16],
    "jumbo_udp": eth(ETH_P_IP, ipv4(17, udp(9, 9, bytes(range(256)) * 11))),
}
