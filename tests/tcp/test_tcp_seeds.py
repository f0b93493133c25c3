"""Byte-exact transfers both ways at once across many seeds, each with its own mix of
loss, reordering, duplication and bit corruption on the wire and its own TCP options
(SACK, timestamps, window scaling on or off): the SHA-256 of what each side read must
be that of what the other wrote, and every segment the stack refused must carry a drop
reason."""

from __future__ import annotations

import hashlib
import random

import pytest
from _tcpwire import SEC, Wire, pair
from test_tcp_bulk import _transfer

from tuxnet.dropreason import SkbDropReason as R
from tuxnet.host import Host

SEEDS = range(40)


class CorruptingWire(Wire):
    """The fake link, flipping one random bit of a delivered segment with probability
    ``corrupt`` (after loss, duplication and reordering have had their say)."""

    corrupt: float = 0.0
    corrupted: int = 0

    def deliver(self, host: Host, saddr: int, daddr: int, data: bytes, tos: int = 0) -> None:
        if self.corrupt and self.rng.random() < self.corrupt:
            buf = bytearray(data)
            bit = self.rng.randrange(len(buf) * 8)
            buf[bit >> 3] ^= 1 << (bit & 7)
            data = bytes(buf)
            self.corrupted += 1
        super().deliver(host, saddr, daddr, data, tos)


@pytest.mark.parametrize("seed", SEEDS)
def test_byte_exact_under_impairments(seed: int) -> None:
    rng = random.Random(f"seeds:{seed}")
    w = CorruptingWire(seed=seed, loss=rng.choice((0.0, 0.01, 0.03, 0.06)),
                       dup=rng.choice((0.0, 0.02, 0.05)),
                       reorder=rng.choice((0.0, 0.03, 0.1)),
                       rate_bps=rng.choice((None, 20_000_000, 100_000_000)))
    w.corrupt = rng.choice((0.0, 0.01, 0.03))
    for sysctl in ("tcp_sack", "tcp_timestamps", "tcp_window_scaling"):
        if rng.random() < 0.25:
            w.a.sysctl.set(f"net.ipv4.{sysctl}", 0)
    c, s, _ = pair(w)
    up = rng.randbytes(rng.randrange(1, 200_000))
    down = rng.randbytes(rng.randrange(0, 80_000))
    got_up, got_down = _transfer(w, c, s, up, down, limit_ns=300 * SEC)
    assert hashlib.sha256(got_up).digest() == hashlib.sha256(up).digest(), (len(got_up),
                                                                          len(up))
    assert hashlib.sha256(got_down).digest() == hashlib.sha256(down).digest()
    # the stack dropped what it refused with a reason a TCP receiver gives
    allowed = {R.TCP_OLD_DATA, R.TCP_OLD_SEQUENCE, R.TCP_OFOMERGE, R.TCP_RFC7323_PAWS,
               R.TCP_OFO_DROP, R.TCP_CSUM, R.TCP_INVALID_SEQUENCE, R.TCP_OLD_ACK,
               R.TCP_FLAGS, R.TCP_RESET, R.TCP_INVALID_SYN, R.NO_SOCKET, R.PKT_TOO_SMALL,
               R.TCP_ACK_UNSENT_DATA, R.TCP_ZEROWINDOW, R.TCP_OVERWINDOW,
               R.TCP_CLOSE, R.SOCKET_FILTER, R.TCP_RFC7323_PAWS_ACK, R.TCP_RFC7323_TW_PAWS}
    for host in (w.a, w.b):
        assert set(host.drop_counts) <= allowed, (host.name, host.drop_counts)
    if w.corrupted:
        csum = sum(h.mib.tcp.InCsumErrors for h in (w.a, w.b))
        assert csum > 0  # most flips hit bytes the checksum covers, all of them here
