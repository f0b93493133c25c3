"""TSO (a route device with NETIF_F_TSO): TCP queues and sends super-segments of up to
64 KiB with gso_size = MSS and a partial checksum; the fake link cuts them into MSS
segments as a NIC's TSO engine would (headers copied, seq advanced, PSH/FIN on the
last, checksums filled). Byte-exact through loss and reordering (partial ACKs trim a
TSO skb, SACK blocks split one, retransmissions cut one)."""

from __future__ import annotations

import hashlib
import random
import struct
from types import SimpleNamespace
from typing import Any

import pytest
from _tcpwire import MS, SEC, Wire, pair
from test_tcp_bulk import _transfer

from tuxnet.core.netdevice import NETIF_F_HW_CSUM, NETIF_F_SG, NETIF_F_TSO
from tuxnet.host import Host
from tuxnet.skb import CHECKSUM_PARTIAL
from tuxnet.tcp.netns import TcpDst, tcp_net
from tuxnet.wire.tcp import TcpView

_TSO_DEV = SimpleNamespace(features=NETIF_F_TSO | NETIF_F_SG | NETIF_F_HW_CSUM)
_SEQ = struct.Struct("!I")
_FIN_PSH = 0x01 | 0x08


class TsoWire(Wire):
    """A Wire whose route device has TSO and whose link segments GSO skbs."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.gso_sent: list[tuple[int, int]] = []  # (len, gso_size) of each super-segment
        self.partial = 0
        self.nonlinear = 0
        inner = self._xmit
        for h in (self.a, self.b):
            tn = tcp_net(h)
            tn.route_output = self._tso_route
            tn.ip_queue_xmit = self._make_xmit(inner)

    def _tso_route(self, host: Host, daddr: int, saddr: int, oif: int, tos: int) -> TcpDst:
        dst = self._route(host, daddr, saddr, oif, tos)
        dst.rt = SimpleNamespace(dev=_TSO_DEV)
        return dst

    def _make_xmit(self, inner: Any) -> Any:
        def xmit(host: Host, skb: Any, saddr: int, daddr: int, dst: Any, tos: int,
                 ttl: int | None, ident: int | None) -> int:
            if skb.ip_summed == CHECKSUM_PARTIAL:
                self.partial += 1
            if skb.is_nonlinear():  # the payload rides as a frag of the queued skb
                self.nonlinear += 1
                skb.linearize()
            if not skb.gso_size:
                data = bytearray(skb.data)
                TcpView(data).fill_checksum(saddr, daddr)
                skb.free()
                return inner(host, _Raw(bytes(data)), saddr, daddr, dst, tos, ttl, ident)
            whole = bytes(skb.data)
            hl = (whole[12] >> 4) << 2
            head, payload = whole[:hl], whole[hl:]
            mss = skb.gso_size
            self.gso_sent.append((len(payload), mss))
            seq = _SEQ.unpack_from(head, 4)[0]
            for off in range(0, len(payload), mss):
                piece = payload[off:off + mss]
                seg = bytearray(head) + piece
                _SEQ.pack_into(seg, 4, (seq + off) & 0xFFFFFFFF)
                if off + mss < len(payload):
                    seg[13] &= ~_FIN_PSH & 0xFF
                TcpView(seg).fill_checksum(saddr, daddr)
                inner(host, _Raw(bytes(seg)), saddr, daddr, dst, tos, ttl, ident)
            skb.free()
            return 0
        return xmit


class _Raw:
    """What Wire._xmit reads of an skb: its bytes, and free()."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def free(self) -> None:
        pass


def test_tso_super_segments_on_a_clean_link() -> None:
    w = TsoWire(seed=1, rate_bps=1_000_000_000)
    c, s, _ = pair(w)
    data = random.Random(7).randbytes(2 << 20)
    got, _ = _transfer(w, c, s, data)
    assert got == data
    assert w.gso_sent, "no super-segment was sent"
    assert max(n for n, _ in w.gso_sent) > 10 * c.mss_cache  # many MSS per skb
    assert all(mss == c.mss_cache for _, mss in w.gso_sent)
    assert w.partial > 0 and w.nonlinear > 0
    mib = w.a.mib
    # OutSegs / TCPOrigDataSent count MSS segments, not skbs
    assert mib.tcpext.TCPOrigDataSent >= len(data) // c.mss_cache
    assert mib.tcp.RetransSegs == 0
    w.run(50 * MS)  # the last ACKs
    assert c.packets_out == 0 and not c.tcp_rtx_queue


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tso_byte_exact_through_loss_and_reordering(seed: int) -> None:
    w = TsoWire(seed=seed, loss=0.02, reorder=0.03, rate_bps=200_000_000)
    c, s, _ = pair(w)
    data = random.Random(seed).randbytes(1 << 20)
    back = random.Random(seed + 10).randbytes(200_000)
    got, got_back = _transfer(w, c, s, data, back)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert got_back == back
    assert w.gso_sent and w.a.mib.tcp.RetransSegs > 0
    w.run(5 * SEC)
    assert c.packets_out == 0 and c.sacked_out == 0 and c.lost_out == 0
    assert c.retrans_out == 0 and not c.tcp_rtx_queue


def test_partial_ack_trims_a_tso_skb() -> None:
    # drop the 5th MSS of the first big super-segment: the ACK covers 4 of its MSS,
    # tcp_tso_acked trims them off the skb (packets_out falls by 4, skb stays queued)
    dropped: list[int] = []

    w = TsoWire(seed=4, rate_bps=1_000_000_000)
    c, s, _ = pair(w)

    def drop(seg: Any) -> bool:
        if seg.src == "a" and seg.payload_len and not dropped and seg.tcp.seq == target[0]:
            dropped.append(seg.tcp.seq)
            return True
        return False

    target = [(c.snd_nxt + 4 * c.mss_cache) & 0xFFFFFFFF]
    w.drop = drop
    data = random.Random(3).randbytes(300_000)
    got, _ = _transfer(w, c, s, data)
    assert got == data and dropped
    assert w.a.mib.tcp.RetransSegs >= 1
    w.run(2 * MS)
    assert c.packets_out == 0


def test_tso_off_keeps_mss_skbs() -> None:
    w = Wire(seed=1, rate_bps=1_000_000_000)
    c, s, _ = pair(w)
    data = random.Random(2).randbytes(200_000)
    got, _ = _transfer(w, c, s, data)
    assert got == data
    assert max(seg.payload_len for seg in w.sent("a")) <= c.mss_cache


def test_rmem_schedule_counts_payload_not_truesize() -> None:
    # tcp_try_rmem_schedule (Linux 6.16+ tcp_can_ingest) charges the payload, not the
    # truesize: 64 KiB GRO'd from 1514-byte frames has ~145 KB of truesize against a
    # 128 KiB buffer and must not be dropped on every retransmit
    from tuxnet.tcp.rcv_queue import _tcp_try_rmem_schedule

    w = Wire(seed=5)
    _, s, _ = pair(w)
    skb = SimpleNamespace(truesize=145_456, len=65_160)
    s.sk_rcvbuf = 131_072
    s.sk_rmem_alloc = 0
    assert _tcp_try_rmem_schedule(s, skb)  # type: ignore[arg-type]
    s.sk_rmem_alloc = 60_000
    assert _tcp_try_rmem_schedule(s, skb)  # type: ignore[arg-type]
    s.sk_rmem_alloc = 0
