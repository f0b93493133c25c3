"""Helpers shared by the tuxnet.sim tests: a recording endpoint, a capture sink."""

from __future__ import annotations

from tuxnet.loop import SimLoop
from tuxnet.sim import Link


class Recorder:
    """An endpoint that records (arrival time, frame, link) for every frame."""

    def __init__(self, loop: SimLoop, name: str = "rx") -> None:
        self.loop = loop
        self.name = name
        self.got: list[tuple[int, bytes, Link]] = []

    def receive_frame(self, frame: bytes, link: Link) -> None:
        self.got.append((self.loop.now_ns(), frame, link))

    @property
    def times(self) -> list[int]:
        return [t for t, _, _ in self.got]

    @property
    def seqs(self) -> list[int]:
        return [seq_of(f) for _, f, _ in self.got]


class ListSink:
    """A PacketSink that keeps what a PcapWriter would write."""

    def __init__(self) -> None:
        self.packets: list[tuple[int, bytes, int | None]] = []

    def write_packet(
        self, ts_ns: int, data: bytes | memoryview, orig_len: int | None = None
    ) -> None:
        self.packets.append((ts_ns, bytes(data), orig_len))


def frame(seq: int, size: int = 1500) -> bytes:
    """A frame of ``size`` bytes whose first 4 bytes number it."""
    return seq.to_bytes(4, "big") + bytes(size - 4)


def seq_of(data: bytes) -> int:
    return int.from_bytes(data[:4], "big")
