"""tuxnet.pcap: pcap (ns/us, both byte orders) and pcapng read/write, checked against
scapy and tcpdump, and against corrupt input (only PcapError may come out)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import need
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    PcapError,
    PcapngWriter,
    PcapReader,
    PcapRecord,
    PcapWriter,
    read_pcap,
)

scapy_all = pytest.importorskip("scapy.all")

FRAME = bytes.fromhex(
    "66778899aabb0011223344550800" "4500001c00010000400166cd0a0000010a000002" "080043b400000000"
)
T0 = 1_700_000_000_123_456_789


def test_pcap_roundtrip_nanosecond(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    with PcapWriter(path) as w:
        w.write_packet(T0, FRAME)
        w.write_packet(T0 + 1, memoryview(FRAME)[:20], orig_len=len(FRAME))
        w.write_packet(0, b"")
    raw = path.read_bytes()
    assert raw[:4] == struct.pack("<I", 0xA1B23C4D)  # nanosecond magic
    assert struct.unpack_from("<HHiIII", raw, 4) == (2, 4, 0, 0, 262144, 1)
    recs = list(read_pcap(path))
    assert recs == [
        PcapRecord(T0, FRAME, len(FRAME), LINKTYPE_ETHERNET, 0),
        PcapRecord(T0 + 1, FRAME[:20], len(FRAME), LINKTYPE_ETHERNET, 0),
        PcapRecord(0, b"", 0, LINKTYPE_ETHERNET, 0),
    ]


def test_pcap_microsecond_and_snaplen(tmp_path: Path) -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype=LINKTYPE_RAW, snaplen=16, nanosecond=False)
    w.write_packet(T0, FRAME)
    w.close()
    assert buf.getvalue()[:4] == struct.pack("<I", 0xA1B2C3D4)
    reader = PcapReader(io.BytesIO(buf.getvalue()))
    assert (reader.format, reader.linktype, reader.snaplen, reader.nanosecond) == (
        "pcap", LINKTYPE_RAW, 16, False)
    (rec,) = list(reader)
    assert rec.ts_ns == T0 // 1000 * 1000  # microseconds keep no nanoseconds
    assert rec.data == FRAME[:16] and rec.orig_len == len(FRAME)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("magic", [0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34])
def test_pcap_read_both_byte_orders(order: str, magic: int) -> None:
    frac = 123456 if magic != 0xA1B23C4D else 123456789
    extra = b"\0" * 8 if magic == 0xA1B2CD34 else b""  # Kuznetsov's extended record
    data = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    data += struct.pack(order + "IIII", 1_700_000_000, frac, 3, 60) + extra + b"abc"
    (rec,) = list(read_pcap(io.BytesIO(data)))
    scale = 1 if magic == 0xA1B23C4D else 1000
    assert rec == PcapRecord(1_700_000_000 * 10**9 + frac * scale, b"abc", 60, 1, 0)


def test_pcapng_several_interfaces(tmp_path: Path) -> None:
    path = tmp_path / "a.pcapng"
    with PcapngWriter(path) as w:
        assert w.add_interface(LINKTYPE_ETHERNET, name="eth0") == 0
        assert w.add_interface(LINKTYPE_RAW, name="tun0", snaplen=10) == 1
        w.write_packet(T0, FRAME, interface=0)
        w.write_packet(T0 + 5, FRAME[14:], interface=1)
        w.write_packet(T0 + 7, FRAME[:3], interface=0, orig_len=999)
        with pytest.raises(ValueError):
            w.write_packet(T0, FRAME, interface=2)
    reader = PcapReader(path)
    assert (reader.format, reader.linktype, reader.snaplen) == ("pcapng", 1, 262144)
    assert list(reader) == [
        PcapRecord(T0, FRAME, len(FRAME), LINKTYPE_ETHERNET, 0),
        PcapRecord(T0 + 5, FRAME[14:24], len(FRAME) - 14, LINKTYPE_RAW, 1),
        PcapRecord(T0 + 7, FRAME[:3], 999, LINKTYPE_ETHERNET, 0),
    ]
    reader.close()
    # scapy reads the same bytes and nanosecond times
    pkts = scapy_all.rdpcap(str(path))
    assert [bytes(p) for p in pkts] == [FRAME, FRAME[14:24], FRAME[:3]]
    assert int(pkts[1].time * 10**9) == T0 + 5


def _block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack(order + "II", btype, total) + body + struct.pack(order + "I", total)


def _opt(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_hand_built(order: str) -> None:
    """Big-endian sections, microsecond and 2^-n resolutions, SPB, obsolete PB, unknown
    blocks, and a second section that resets the interfaces."""
    shb = _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb_us = _block(order, 1, struct.pack(order + "HHI", 1, 0, 0))  # default 10^-6
    idb_bin = _block(order, 1, struct.pack(order + "HHI", 1, 0, 64)
                     + _opt(order, 9, b"\x8a") + _opt(order, 14, struct.pack(order + "q", 2))
                     + _opt(order, 0, b""))
    epb = _block(order, 6, struct.pack(order + "IIIII", 0, 0, 1_500_000, 4, 70) + b"abcd")
    epb2 = _block(order, 6, struct.pack(order + "IIIII", 1, 0, 2048, 2, 2) + b"xy")
    spb = _block(order, 3, struct.pack(order + "I", 5) + b"hello")
    pb = _block(order, 2, struct.pack(order + "HHIIII", 0, 0, 0, 7, 1, 1) + b"z")
    unknown = _block(order, 0x0BAD, b"whatever")
    isb = _block(order, 5, b"\0" * 12)
    other = ">" if order == "<" else "<"
    shb2 = _block(other, 0x0A0D0D0A, struct.pack(other + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb2 = _block(other, 1, struct.pack(other + "HHI", 101, 0, 0) + _opt(other, 9, b"\x03"))
    epb3 = _block(other, 6, struct.pack(other + "IIIII", 0, 0, 5, 1, 1) + b"q")
    data = shb + unknown + idb_us + idb_bin + epb + epb2 + spb + pb + isb + shb2 + idb2 + epb3
    assert list(read_pcap(io.BytesIO(data))) == [
        PcapRecord(1_500_000_000, b"abcd", 70, 1, 0),
        PcapRecord(2 * 10**9 + 2 * 10**9, b"xy", 2, 1, 1),  # 2048/1024 s + 2 s offset
        PcapRecord(0, b"hello", 5, 1, 0),
        PcapRecord(7_000, b"z", 1, 1, 0),
        PcapRecord(5_000_000, b"q", 1, 101, 0),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "shorter than 4 bytes"),
        (b"GIF89a..........................", "not a pcap or pcapng file"),
        (struct.pack("<IHH", 0xA1B23C4D, 2, 4), "truncated pcap file header"),
        (struct.pack("<IHHiIII", 0xA1B23C4D, 3, 0, 0, 0, 65535, 1), "unsupported pcap version"),
        (struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1) + b"\0" * 7,
         "record 0 header"),
        (struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
         + struct.pack("<IIII", 0, 0, 10, 10) + b"abc", "record 0 data needs 10 bytes"),
        (struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
         + struct.pack("<IIII", 0, 0, 0xFFFFFFFF, 10), "invalid capture length"),
        (_block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x11111111, 1, 0, -1)),
         "byte-order magic"),
        (_block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 2, 0, -1)),
         "unsupported pcapng version"),
        (_block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
         + _block("<", 6, b"\0" * 20), "undefined interface 0"),
        (_block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
         + struct.pack("<II", 1, 13) + b"\0" * 5, "bad length 13"),
        (_block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
         + _block("<", 1, struct.pack("<HHI", 1, 0, 0)) + _block("<", 6, b"\0" * 16),
         "short packet block"),
        (_block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
         + _block("<", 1, struct.pack("<HHI", 1, 0, 0))
         + _block("<", 6, struct.pack("<IIIII", 3, 0, 0, 0, 0)), "undefined interface 3"),
    ],
)
def test_bad_files_raise_pcap_error(data: bytes, message: str) -> None:
    with pytest.raises(PcapError, match=message):
        list(read_pcap(io.BytesIO(data)))


def test_truncated_file_yields_records_before_the_damage(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with PcapWriter(buf) as w:
        for i in range(3):
            w.write_packet(i, FRAME)
    cut = buf.getvalue()[:-5]
    got: list[PcapRecord] = []
    with pytest.raises(PcapError, match="truncated file: record 2 data"):
        got.extend(read_pcap(io.BytesIO(cut)))
    assert len(got) == 2


def test_writer_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        PcapWriter(io.BytesIO(), snaplen=0)
    w = PcapWriter(io.BytesIO())
    with pytest.raises(ValueError):
        w.write_packet(-1, b"")
    with pytest.raises(ValueError):
        w.write_packet(1 << 80, b"")


def _writer_files(tmp_path: Path) -> dict[str, Path]:
    frames = [FRAME, FRAME + b"\0" * 18, FRAME[:30]]
    paths = {"pcap": tmp_path / "a.pcap", "pcapng": tmp_path / "a.pcapng"}
    with PcapWriter(paths["pcap"]) as w:
        for i, f in enumerate(frames):
            w.write_packet(T0 + i * 1000, f, orig_len=len(FRAME) + 18)
    with PcapngWriter(paths["pcapng"]) as w:
        w.add_interface(name="eth0")
        w.add_interface(name="eth1")
        for i, f in enumerate(frames):
            w.write_packet(T0 + i * 1000, f, interface=i % 2, orig_len=len(FRAME) + 18)
    return paths


def test_written_files_open_in_scapy_and_tcpdump(tmp_path: Path) -> None:
    for path in _writer_files(tmp_path).values():
        assert [bytes(p) for p in scapy_all.rdpcap(str(path))] == [
            r.data for r in read_pcap(path)]
    tcpdump = shutil.which("tcpdump")
    need(tcpdump is not None, "tcpdump not installed (apt-get install tcpdump)")
    assert tcpdump is not None
    for path in _writer_files(tmp_path).values():
        out = subprocess.run([tcpdump, "-nn", "-tt", "--nano", "-r", str(path)],
                             capture_output=True, text=True, env={**os.environ, "TZ": "UTC"})
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert len(lines) == 3
        assert lines[0].startswith("1700000000.123456789 IP 10.0.0.1 > 10.0.0.2: ICMP echo")
        assert lines[2] == "1700000000.123458789 IP  [|ip]"  # 30 of 60 bytes captured


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_pcap_error(data: bytes) -> None:
    try:
        for rec in read_pcap(io.BytesIO(data)):
            assert isinstance(rec.data, bytes)
    except PcapError:
        pass


def _valid_files() -> list[bytes]:
    a = io.BytesIO()
    with PcapWriter(a) as w:
        w.write_packet(T0, FRAME)
        w.write_packet(T0, FRAME[:9], 77)
    b = io.BytesIO()
    with PcapngWriter(b) as w:
        w.add_interface(name="x")
        w.write_packet(T0, FRAME)
        w.write_packet(T0, FRAME[:9], orig_len=77)
    return [a.getvalue(), b.getvalue()]


@settings(max_examples=400, deadline=None)
@given(which=st.sampled_from([0, 1]), cut=st.integers(0, 200),
       flips=st.lists(st.tuples(st.integers(0, 199), st.integers(0, 255)), max_size=4))
def test_truncated_or_corrupted_files_only_pcap_error(which: int, cut: int,
                                                      flips: list[tuple[int, int]]) -> None:
    data = bytearray(_valid_files()[which][:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    with contextlib.suppress(PcapError):
        list(read_pcap(io.BytesIO(bytes(data))))
