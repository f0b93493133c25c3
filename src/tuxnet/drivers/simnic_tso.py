"""The SimNic's TCP offloads: TSO on transmit (``tx-tcp-segmentation``) and hardware
GRO on receive (``rx-gro-hw``). Both are off by default (``ethtool -K eth0 tso on
rx-gro-hw on`` turns them on).

TSO. With NETIF_F_TSO on, validate_xmit_skb hands the driver whole TCP super-skbs;
the NIC cuts each into gso_size-byte frames that go on the wire back to back, each
with its own IPv4 id (+1 per frame), IPv4 and TCP checksums, FIN/PSH only on the
last and CWR only on the first (the cuts tcp_gso_segment makes, done here by the
"hardware": ``tso_frames``). The descriptor completes when the last frame has left.

Hardware GRO. A NIC with NETIF_F_GRO_HW (bnxt's TPA, mlx5's SHAMPO) merges in-order
segments of one TCP flow that arrive back to back into one buffer and hands it up as
a GSO skb: the first segment's headers with the total IPv4 length, gso_size,
gso_segs, SKB_GSO_TCPV4, the checksums verified by the hardware
(CHECKSUM_UNNECESSARY) — what software GRO would have built from the same frames.

The train. When the sender has TSO, the receiver has rx-gro-hw and no XDP program
(drivers turn hardware GRO off under XDP), and the wire between them is idle with
no impairment but random loss (``Link.train_ready``: no duplication, corruption,
Gilbert-Elliott loss, reordering, jitter or capture tap, nothing queued), the link
carries a super-skb's frames as one train: serialised for exactly the frames' total
length (every frame's headers and the link's per-frame overhead counted), counted
per frame, delivered at the end of the last frame plus the delay. Random loss is
drawn per frame in frame order (the same draws as frames sent one by one); each run
of surviving frames arrives when its last frame does and is handed up merged
(``train_run``: its first segment's headers, as the hardware flushes an aggregate at
a sequence gap). The receiving hardware would have merged those frames into those
same skbs; only the simulator's work per frame is saved
(tests/drivers/test_simnic_tso.py checks the timing, losses and counters). Anything
else (a shared or tapped link, other impairments, a receiver without rx-gro-hw, URG
or CWR set) gets the frames one by one.
"""

from __future__ import annotations

import struct

from tuxnet.core.gso import skb_gso_segment
from tuxnet.core.netdevice import NETIF_F_HW_CSUM, NETIF_F_SG
from tuxnet.dropreason import SkbDropReason
from tuxnet.skb import (
    CHECKSUM_PARTIAL,
    CHECKSUM_UNNECESSARY,
    SKB_GSO_TCPV4,
    SkBuff,
    alloc_skb,
)
from tuxnet.wire.checksum import internet_checksum

__all__ = ["GroHwBuf", "frame_bytes", "gro_hw_skb", "split_train", "train_frame",
           "train_run", "tso_frames"]

_ETH_HLEN = 14
_FIN_PSH = 0x01 | 0x08
_TRAIN_FLAGS_OFF = 0x80 | 0x20 | 0x04 | 0x02  # CWR, URG, RST, SYN: never a train
# the NIC's own segmentation engine: checksums and scatter-gather, no further TSO
_HW_SEG_FEATURES = NETIF_F_HW_CSUM | NETIF_F_SG


class GroHwBuf(bytearray):
    """An RX buffer the hardware filled with a merged train (a plain RX buffer is a
    bytearray): how many wire frames it holds, their gso_size and total wire bytes."""

    __slots__ = ("gso_segs", "gso_size", "wire_bytes")

    gso_size: int
    gso_segs: int
    wire_bytes: int


def frame_bytes(skb: SkBuff) -> bytes:
    """What the NIC DMA-reads: the whole packet; a CHECKSUM_PARTIAL checksum is
    filled in (TX checksum offload, NETIF_F_HW_CSUM)."""
    frame = bytearray(skb.copy_bits(0, skb.len)) if skb.data_len else bytearray(skb.data)
    if skb.ip_summed == CHECKSUM_PARTIAL:
        start = skb.csum_start - skb.data_off
        pos = start + skb.csum_offset
        if start >= 0 and pos + 2 <= len(frame):
            csum = internet_checksum(frame[start:]) or 0xFFFF  # CSUM_MANGLED_0
            frame[pos] = csum >> 8
            frame[pos + 1] = csum & 0xFF
    return bytes(frame)


def _keep(skb: SkBuff, reason: SkbDropReason) -> None:
    """skb_gso_segment's drop callback: the super-skb stays in the TX ring; the
    driver drops it (and counts it) when no frames came out."""


def tso_frames(skb: SkBuff) -> list[bytes]:
    """The wire frames the NIC's segmentation engine cuts from a TCP super-skb (data
    at the Ethernet header); empty when its headers cannot be segmented."""
    segs = skb_gso_segment(skb, _HW_SEG_FEATURES, drop=_keep)
    if segs and segs[0] is skb:  # not actually GSO
        return [frame_bytes(skb)]
    frames = [frame_bytes(s) for s in segs]
    for s in segs:
        s.free()
    return frames


def _hdr_len(skb: SkBuff) -> int:
    """Ethernet + IPv4 + TCP header length of a super-skb (data at Ethernet), or 0."""
    t = skb.transport_header - skb.data_off
    if t < _ETH_HLEN + 20 or t + 20 > skb.headlen():
        return 0
    return t + (skb.head[skb.transport_header + 12] >> 4) * 4


def train_frame(skb: SkBuff) -> tuple[bytes, int, int, int] | None:
    """A TCPv4 super-skb as the receiving NIC's hardware GRO would hand it up: the
    frame bytes (headers once, payload whole), the number of wire frames, the length
    of a full one and their total length; None when it must go frame by frame (not
    TCPv4 GSO, URG/CWR/SYN/RST set, headers not in the linear part)."""
    if skb.gso_type & ~SKB_GSO_TCPV4 or not skb.gso_type:
        return None
    hl = _hdr_len(skb)
    if not hl or skb.head[skb.transport_header + 13] & _TRAIN_FLAGS_OFF:
        return None
    plen = skb.len - hl
    mss = skb.gso_size
    n = -(-plen // mss)
    if n < 2:
        return None
    data = skb.copy_bits(0, skb.len) if skb.data_len else skb.data
    return bytes(data), n, hl + mss, skb.len + (n - 1) * hl


def train_run(frame: bytes, mss: int, first: int, count: int, nframes: int) -> bytes:
    """Frames ``first`` .. ``first + count - 1`` of a train as hardware GRO merges them
    when the ones around were lost: the first one's headers (sequence number and IPv4
    id advanced, IPv4 total length and header checksum for the run, FIN/PSH only if
    the run ends the train) and the run's payload."""
    ihl = (frame[_ETH_HLEN] & 15) * 4
    t = _ETH_HLEN + ihl
    hl = t + (frame[t + 12] >> 4) * 4
    payload = frame[hl + first * mss:hl + (first + count) * mss]
    hdr = bytearray(frame[:hl])
    struct.pack_into("!H", hdr, _ETH_HLEN + 2, hl - _ETH_HLEN + len(payload))
    ident = struct.unpack_from("!H", hdr, _ETH_HLEN + 4)[0]
    struct.pack_into("!H", hdr, _ETH_HLEN + 4, (ident + first) & 0xFFFF)  # +1 per frame
    seq = struct.unpack_from("!I", hdr, t + 4)[0]
    struct.pack_into("!I", hdr, t + 4, (seq + first * mss) & 0xFFFFFFFF)
    if first + count < nframes:
        hdr[t + 13] &= ~_FIN_PSH & 0xFF
    hdr[_ETH_HLEN + 10] = hdr[_ETH_HLEN + 11] = 0
    struct.pack_into("!H", hdr, _ETH_HLEN + 10, internet_checksum(hdr[_ETH_HLEN:t]))
    return bytes(hdr) + payload


def gro_hw_skb(skb: SkBuff, buf: GroHwBuf) -> None:
    """The hardware-GRO completion: the skb (data at the IPv4 header, after
    eth_type_trans) becomes a GSO skb of the merged segments (a lone segment stays a
    plain skb), checksums verified by the hardware."""
    if buf.gso_segs > 1:
        skb.gso_size = buf.gso_size
        skb.gso_segs = buf.gso_segs
        skb.gso_type = SKB_GSO_TCPV4
    skb.ip_summed = CHECKSUM_UNNECESSARY
    skb.network_header = skb.data_off
    skb.transport_header = skb.data_off + (skb.head[skb.data_off] & 15) * 4


def split_train(frame: bytes, gso_size: int) -> list[bytes]:
    """The wire frames of a train (for a receiver that cannot take it whole after
    all: rx-gro-hw switched off or an XDP program attached while it was in flight)."""
    skb = alloc_skb(len(frame))
    skb.put_data(frame)
    skb.mac_header = skb.data_off
    skb.network_header = skb.data_off + _ETH_HLEN
    ihl = (frame[_ETH_HLEN] & 15) * 4
    skb.transport_header = skb.network_header + ihl
    skb.ip_summed = CHECKSUM_PARTIAL
    skb.csum_start = skb.transport_header
    skb.csum_offset = 16
    # the pseudo-header sum a CHECKSUM_PARTIAL skb carries is recomputed per segment
    skb.gso_size = gso_size
    skb.gso_type = SKB_GSO_TCPV4
    frames = tso_frames(skb)
    skb.free()
    return frames
