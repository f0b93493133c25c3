"""GRO in the NAPI poll: N in-order 1448-byte TCP segments pushed through a GroCell
(flushed at the end of every 64-packet poll, as napi_complete_done does) against the
same segments passed up one by one (the peer: no GRO, one netif_receive_skb each).

Both sides hand their packets to the same stand-in for the stack above GRO (ip_rcv's
header checks, tcp_v4_rcv's lookup, timestamps, queueing, and one ACK built per two
full-sized segments, or per GRO packet, as __tcp_ack_snd_check does), so GRO's own
per-packet work is weighed against the stack work it saves. Two cases: the
NIC verified the TCP checksum (CHECKSUM_UNNECESSARY), or it did not (CHECKSUM_NONE:
GRO verifies each segment in software; without GRO the stack does). Metric: MB of
payload per second of wall time (higher is better)."""

from __future__ import annotations

import struct
import time

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import parse_args, ratio_line, table

from tuxnet.core.gro import GroCell
from tuxnet.core.gso import skb_checksum
from tuxnet.skb import CHECKSUM_NONE, CHECKSUM_UNNECESSARY, SkBuff, alloc_skb
from tuxnet.wire.build import tcp_frame
from tuxnet.wire.checksum import ones_sum
from tuxnet.wire.tcp import TcpView

MSS = 1448
POLL = 64  # NAPI_POLL_WEIGHT
TS = b"\x01\x01\x08\x0a" + struct.pack("!II", 1000, 2000)
TS_ACK = b"\x01\x01\x08\x0a" + struct.pack("!II", 3000, 1000)
_IPH = struct.Struct("!BBHHHBBHII").unpack_from


def frames(n: int) -> list[bytes]:
    payload = bytes(range(256)) * 6
    return [bytes(tcp_frame(b"\x02\0\0\0\0\x01", b"\x02\0\0\0\0\x02", "10.0.0.1", "10.0.0.2",
                            40000, 5201, seq=i * MSS, ack_seq=1, window=501,
                            payload=payload[:MSS], options=TS, ident=i & 0xFFFF))
            for i in range(n)]


def rx_skbs(raw: list[bytes], summed: int) -> list[SkBuff]:
    """What the driver hands to napi_gro_receive: data at the IP header."""
    out = []
    for fr in raw:
        skb = alloc_skb(64 + len(fr))
        skb.reserve(64)
        skb.put_data(fr)
        skb.reset_mac_header()
        skb.pull(14)
        skb.protocol = 0x0800
        skb.hash = 0x5A5A
        skb.ip_summed = summed
        out.append(skb)
    return out


class _Sock:
    __slots__ = ("queue", "rcv_nxt", "rcvq", "snd_nxt", "ts_recent", "unacked")

    def __init__(self, seq: int) -> None:
        self.rcv_nxt = seq
        self.snd_nxt = 1
        self.ts_recent = 0
        self.unacked = 0
        self.rcvq = 0
        self.queue: list[SkBuff] = []


class Stack:
    """ip_rcv + tcp_v4_rcv + tcp_rcv_established's fast path, reduced to their
    per-packet work: header checks, socket lookup, timestamps (PAWS), queueing, and
    __tcp_ack_snd_check's ACK once more than one full-sized segment is unacked."""

    def __init__(self) -> None:
        self.socks: dict[tuple[int, int, int], _Sock] = {}
        self.packets = 0
        self.bytes = 0
        self.acks = 0
        self.csum_errors = 0

    def receive(self, skb: SkBuff) -> None:
        head, d = skb.head, skb.data_off
        # ip_rcv_core
        vihl, _tos, tot, _id, _frag, _ttl, _proto, _c, saddr, daddr = _IPH(head, d)
        if vihl != 0x45 or ones_sum(memoryview(head)[d:d + 20]) != 0xFFFF or tot > skb.len:
            return
        # tcp_v4_rcv
        th = TcpView(head, d + 20, skb.tail)
        plen = tot - 20 - th.header_len
        if skb.ip_summed == CHECKSUM_NONE and skb_checksum(
                skb, 20, tot - 20, saddr + daddr + 6 + tot - 20) != 0xFFFF:
            self.csum_errors += 1
            return
        ts = th.parse_options().timestamp  # tcp_fast_parse_options
        key = (saddr, daddr, th.src_port << 16 | th.dst_port)
        sk = self.socks.get(key)
        if sk is None:
            sk = self.socks[key] = _Sock(th.seq)
        # tcp_rcv_established fast path: in order, PAWS ok, queue it
        if th.seq != sk.rcv_nxt or ts is None or ts[0] < sk.ts_recent:
            return
        sk.ts_recent = ts[0]
        sk.rcv_nxt = (sk.rcv_nxt + plen) & 0xFFFFFFFF
        sk.queue.append(skb)
        sk.rcvq += plen
        sk.unacked += plen
        self.packets += 1
        self.bytes += plen
        # __tcp_ack_snd_check: more than one full-sized segment unacked: ACK now
        if sk.unacked > MSS:
            tcp_frame(b"\x02\0\0\0\0\x02", b"\x02\0\0\0\0\x01", daddr, saddr,
                      th.dst_port, th.src_port, seq=sk.snd_nxt, ack_seq=sk.rcv_nxt,
                      window=65535, options=TS_ACK, headroom=64)
            sk.unacked = 0
            self.acks += 1
            self.queue_free(sk)

    @staticmethod
    def queue_free(sk: _Sock) -> None:
        """The reader copied the data out (tcp_recvmsg): the skbs go."""
        for skb in sk.queue:
            skb.free()
        sk.queue.clear()


def run(raw: list[bytes], summed: int, gro: bool, repeats: int) -> tuple[float, int, int, int]:
    """Best wall time over ``repeats``; packets passed up, ACKs sent, payload bytes."""
    best = float("inf")
    up = acks = delivered = 0
    for _ in range(repeats):
        skbs = rx_skbs(raw, summed)
        stack = Stack()
        t0 = time.perf_counter()
        if gro:
            cell = GroCell(stack.receive)
            receive = cell.gro_receive
            for i in range(0, len(skbs), POLL):
                for skb in skbs[i:i + POLL]:
                    receive(skb)
                cell.flush()  # napi_complete_done
        else:
            deliver = stack.receive
            for i in range(0, len(skbs), POLL):
                for skb in skbs[i:i + POLL]:
                    deliver(skb)
        best = min(best, time.perf_counter() - t0)
        up, acks, delivered = stack.packets, stack.acks, stack.bytes
    return best, up, acks, delivered


def main() -> None:
    args = parse_args(__doc__ or "")
    n = 4 * POLL if args.quick else 64 * POLL
    repeats = 2 if args.quick else 5
    raw = frames(n)
    rows = []
    mbps: dict[tuple[str, bool], float] = {}
    for label, summed in (("csum offloaded", CHECKSUM_UNNECESSARY), ("csum in software",
                                                                    CHECKSUM_NONE)):
        for gro in (True, False):
            secs, up, acks, nbytes = run(raw, summed, gro, repeats)
            assert nbytes == n * MSS, "payload lost"
            mb = nbytes / 1e6
            mbps[(label, gro)] = mb / secs
            rows.append((label, "tuxnet GRO" if gro else "no GRO (peer)", n, up, acks,
                         secs * 1e6 / n, secs * 1e3 / mb, mb / secs))
    print(f"GRO: {n} in-order {MSS}-byte segments, polls of {POLL}, best of {repeats}")
    print(table(("checksum", "receive path", "packets in", "packets up", "ACKs",
                 "us/packet in", "ms/MB", "MB/s"), rows))
    print(ratio_line("rx_mbps_csum_offload", "no_gro",
                     mbps[("csum offloaded", True)] / mbps[("csum offloaded", False)]))
    print(ratio_line("rx_mbps_csum_sw", "no_gro",
                     mbps[("csum in software", True)] / mbps[("csum in software", False)]))


if __name__ == "__main__":
    main()
