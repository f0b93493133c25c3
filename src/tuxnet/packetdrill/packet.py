"""Wire form of script packets: build an inbound IPv4/TCP packet from a
:class:`~tuxnet.packetdrill.ast.PacketSpec` (packetdrill's tcp_packet.c and
run_packet.c's script-to-live mapping happen in the runner) and parse an outbound one
into :class:`LivePacket` fields for the matcher."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from tuxnet.packetdrill.ast import TcpOption
from tuxnet.wire.checksum import ones_sum

__all__ = ["FLAG_BITS", "LivePacket", "PacketError", "build_tcp_packet", "encode_options",
           "flags_value", "parse_live_packet"]

# TCP header flag bits (RFC 9293 3.1; AE is RFC 9768's bit 8 of the 12-bit field)
FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, ".": 0x10, "U": 0x20,
             "E": 0x40, "W": 0x80, "A": 0x100}
_ECN_BITS = {"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3, "ect01": 3}
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIHHHH")


class PacketError(Exception):
    """A packet line that cannot be built (unsupported option, bad sizes)."""


def flags_value(flags: str) -> int:
    """The 12-bit flag field of a script flag string (``S.``, ``P.``, ``-`` ...)."""
    v = 0
    for ch in flags:
        v |= FLAG_BITS[ch]
    return v


def encode_options(opts: list[TcpOption], ts_ecr: int | None = None,
                   sack: list[tuple[int, int]] | None = None) -> bytes:
    """The option bytes in the written order (RFC 9293 3.2, RFC 7323, RFC 2018); the
    caller passes the live TS ecr and SACK blocks. No padding is added."""
    out = bytearray()
    for o in opts:
        if o.name == "nop":
            out.append(1)
        elif o.name == "eol":
            out.append(0)
        elif o.name == "mss":
            out += struct.pack("!BBH", 2, 4, o.values[0])
        elif o.name == "wscale":
            out += struct.pack("!BBB", 3, 3, o.values[0])
        elif o.name == "sackOK":
            out += b"\x04\x02"
        elif o.name == "sack":
            blocks = sack if sack is not None else o.blocks
            out += bytes([5, 2 + 8 * len(blocks)])
            for left, right in blocks:
                out += struct.pack("!II", left & 0xFFFFFFFF, right & 0xFFFFFFFF)
        elif o.name == "TS":
            ecr = o.values[1] if ts_ecr is None else ts_ecr
            out += struct.pack("!BBII", 8, 10, o.values[0] & 0xFFFFFFFF, ecr & 0xFFFFFFFF)
        elif o.name == "md5":  # RFC 2385: kind 19, length 18, the digest as written
            out += bytes([19, 18]) + bytes(o.values)
        elif o.name == "FO":  # RFC 7413 4.1.1
            out += bytes([34, 2 + len(o.values), *o.values])
        elif o.name == "FOEXP":  # the experimental option 254 with magic 0xF989
            out += bytes([254, 4 + len(o.values), 0xF9, 0x89, *o.values])
        else:
            raise PacketError(f"unsupported: TCP option {o.name}")
    return bytes(out)


def build_tcp_packet(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int,
                     flags: int, win: int, urg: int, options: bytes, payload_len: int,
                     ecn: str | None = None, tos: int | None = None,
                     ttl: int | None = None) -> bytes:
    """An IPv4 packet (DF, TTL 64 unless given) carrying one TCP segment with a zero
    payload of ``payload_len`` bytes; both checksums filled in."""
    if len(options) % 4:
        raise PacketError("TCP option list length is not a multiple of 4")
    if len(options) > 40:
        raise PacketError("TCP option list longer than 40 bytes")
    hl = 20 + len(options)
    seglen = hl + payload_len
    tot = 20 + seglen
    if tot > 0xFFFF:
        raise PacketError(f"packet of {tot} bytes is too large for IPv4")
    tosv = (tos or 0) & 0xFC
    if ecn is not None:
        tosv |= _ECN_BITS[ecn]
    elif tos is not None:
        tosv = tos & 0xFF
    buf = bytearray(tot)
    _IPV4.pack_into(buf, 0, 0x45, tosv, tot, 0, 0x4000, 64 if ttl is None else ttl, 6, 0,
                    src, dst)
    struct.pack_into("!H", buf, 10, ~ones_sum(buf[:20]) & 0xFFFF)
    off_flags = ((hl // 4) << 12) | (flags & 0xFFF)
    _TCP.pack_into(buf, 20, sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off_flags,
                   win & 0xFFFF, 0, urg & 0xFFFF)
    buf[40:40 + len(options)] = options
    s = int.from_bytes(src, "big") + int.from_bytes(dst, "big") + 6 + seglen
    struct.pack_into("!H", buf, 36, ~ones_sum(memoryview(buf)[20:], s) & 0xFFFF)
    return bytes(buf)


@dataclass
class LivePacket:
    """An outbound packet as sniffed: IPv4 and TCP fields, parsed options."""

    time_ns: int
    raw: bytes
    tos: int = 0
    ttl: int = 0
    sport: int = 0
    dport: int = 0
    seq: int = 0
    ack: int = 0
    flags: int = 0
    win: int = 0
    urg: int = 0
    payload_len: int = 0
    options: list[TcpOption] = field(default_factory=list)
    options_bad: str = ""
    is_tcp: bool = True
    saddr: bytes = b""
    daddr: bytes = b""


def _parse_options(data: bytes) -> tuple[list[TcpOption], str]:
    opts: list[TcpOption] = []
    i = 0
    while i < len(data):
        kind = data[i]
        if kind == 0:
            opts.append(TcpOption("eol"))
            i += 1
            continue
        if kind == 1:
            opts.append(TcpOption("nop"))
            i += 1
            continue
        if i + 1 >= len(data) or data[i + 1] < 2 or i + data[i + 1] > len(data):
            return opts, "malformed TCP options"
        ln = data[i + 1]
        body = data[i + 2:i + ln]
        if kind == 2 and ln == 4:
            opts.append(TcpOption("mss", [int.from_bytes(body, "big")]))
        elif kind == 3 and ln == 3:
            opts.append(TcpOption("wscale", [body[0]]))
        elif kind == 4 and ln == 2:
            opts.append(TcpOption("sackOK"))
        elif kind == 5 and (ln - 2) % 8 == 0:
            blocks = [struct.unpack_from("!II", body, j) for j in range(0, ln - 2, 8)]
            opts.append(TcpOption("sack", blocks=[(a, b) for a, b in blocks]))
        elif kind == 8 and ln == 10:
            opts.append(TcpOption("TS", list(struct.unpack("!II", body))))
        elif kind == 19 and ln == 18:
            opts.append(TcpOption("md5", list(body)))
        elif kind == 34:
            opts.append(TcpOption("FO", list(body)))
        elif kind == 254 and ln >= 4 and body[:2] == b"\xf9\x89":
            opts.append(TcpOption("FOEXP", list(body[2:])))
        else:
            opts.append(TcpOption(f"kind{kind}", list(body)))
        i += ln
    return opts, ""


def parse_live_packet(time_ns: int, raw: bytes) -> LivePacket:
    """The fields of an IPv4 packet the stack sent (non-TCP packets: ``is_tcp`` False)."""
    p = LivePacket(time_ns, raw)
    if len(raw) < 20 or raw[0] >> 4 != 4:
        p.is_tcp = False
        return p
    ihl = (raw[0] & 0xF) * 4
    p.tos = raw[1]
    p.ttl = raw[8]
    p.saddr = raw[12:16]
    p.daddr = raw[16:20]
    tot = int.from_bytes(raw[2:4], "big")
    if raw[9] != 6 or len(raw) < ihl + 20:
        p.is_tcp = False
        return p
    t = raw[ihl:tot]
    p.sport, p.dport, p.seq, p.ack, off_flags, p.win, _csum, p.urg = _TCP.unpack_from(t)
    doff = (off_flags >> 12) * 4
    p.flags = off_flags & 0xFFF
    p.options, p.options_bad = _parse_options(bytes(t[20:doff]))
    p.payload_len = len(t) - doff
    return p
