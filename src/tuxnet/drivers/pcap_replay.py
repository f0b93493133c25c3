"""A NIC that receives the frames of a capture file (``PcapReplayNic``).

It is a :class:`~tuxnet.drivers.simnic.SimNic` (same rings, RSS, coalescing, NAPI or
legacy receive, statistics) whose wire is a pcap/pcapng file: ``replay(path)`` feeds
each Ethernet record into the RX ring at its capture time, relative to the first
record, from ``start_ns`` of virtual time on, optionally ``speed`` times faster. The
file is read lazily (one record ahead), so captures of any size replay in constant
memory. Records of another link type than Ethernet are counted and skipped (tuxnet
has no other link layer); truncated records (caplen < len) are fed as captured.
Transmit works as on a SimNic (attach a link, or frames wait in the TX ring).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, Any

from tuxnet.drivers.simnic import SimNic
from tuxnet.pcap import LINKTYPE_ETHERNET, PcapRecord, read_pcap

__all__ = ["PcapReplayNic"]


class PcapReplayNic(SimNic):
    """A SimNic fed from a capture file."""

    driver_name = "pcap-replay"

    def __init__(self, name: str = "eth0", **kw: Any) -> None:
        """Keyword arguments as SimNic's."""
        super().__init__(name, **kw)
        self.replayed = 0
        self.skipped = 0
        self.truncated = 0
        self.replaying = False

    def replay(self, source: str | os.PathLike[str] | IO[bytes], *,
               start_ns: int | None = None, speed: float = 1.0) -> None:
        """Schedule the records of ``source``: the first at ``start_ns`` (default now),
        each later one at its capture-time offset divided by ``speed``."""
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        loop = self.host.loop
        start = loop.now_ns() if start_ns is None else start_ns
        records = read_pcap(source)
        first = next(records, None)
        if first is None:
            return
        self.replaying = True
        loop.call_at(start, self._feed, records, first, first.ts_ns, start, speed)

    def _feed(self, records: Iterator[PcapRecord], rec: PcapRecord, t0: int, start: int,
              speed: float) -> None:
        if rec.linktype != LINKTYPE_ETHERNET:
            self.skipped += 1
        else:
            if len(rec.data) < rec.orig_len:
                self.truncated += 1
            self.replayed += 1
            self.receive_frame(rec.data)
        nxt = next(records, None)
        if nxt is None:
            self.replaying = False
            return
        when = start + int(max(0, nxt.ts_ns - t0) / speed)
        self.host.loop.call_at(when, self._feed, records, nxt, t0, start, speed)
