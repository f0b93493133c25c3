"""Matching a sniffed outbound packet against a ``>`` line (packetdrill's run_packet.c:
verify_outbound_live_packet and its field checks).

The live packet arrives already mapped to script space (sequence numbers minus the
local ISN). Checked: flags (SYN FIN RST PSH ACK URG ECE CWR AE), seq, ack (if the ACK
flag is expected), payload length, window only if ``win`` is written, urg pointer, ECN
bits / TOS / TTL only if written, and options: ``<...>`` accepts any; no list means no
options; a list must have the same kinds in the same order with the same values,
except TS, whose ecr is never checked and whose val only with ``--tcp_ts_tick_usecs``.
"""

from __future__ import annotations

from collections.abc import Callable

from tuxnet.packetdrill.ast import PacketSpec, TcpOption
from tuxnet.packetdrill.packet import FLAG_BITS, LivePacket, flags_value

__all__ = ["aggregate", "check_outbound", "flags_string", "options_string"]

_FLAG_ORDER = "SFRPUEWA."
_ECN_BITS = {"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3, "ect01": 3}


def flags_string(flags: int) -> str:
    """tcpdump-like script spelling of a flag field (``S.``, ``P.``, ``-``)."""
    s = "".join(ch for ch in _FLAG_ORDER if flags & FLAG_BITS[ch])
    return s or "-"


def options_string(opts: list[TcpOption]) -> str:
    """``<mss 1460,nop,...>`` as a script writes it."""
    parts = []
    for o in opts:
        if o.name in ("mss", "wscale"):
            parts.append(f"{o.name} {o.values[0]}")
        elif o.name == "sack":
            parts.append("sack " + " ".join(f"{a}:{b}" for a, b in o.blocks))
        elif o.name == "TS":
            parts.append(f"TS val {o.values[0]} ecr {o.values[1]}")
        elif o.name in ("FO", "FOEXP"):
            parts.append(f"{o.name} {bytes(o.values).hex()}".rstrip())
        else:
            parts.append(o.name)
    return "<" + ",".join(parts) + ">"


def aggregate(first: LivePacket, more: list[LivePacket]) -> LivePacket:
    """TSO/GSO merge: the header of the last segment with the seq of the first, the
    payload lengths summed (run_packet.c: sniff and concatenate until the script
    length)."""
    if not more:
        return first
    last = more[-1]
    merged = LivePacket(first.time_ns, first.raw, tos=last.tos, ttl=last.ttl,
                        sport=last.sport, dport=last.dport, seq=first.seq, ack=last.ack,
                        flags=last.flags | (first.flags & FLAG_BITS["W"]), win=last.win,
                        urg=last.urg,
                        payload_len=first.payload_len + sum(p.payload_len for p in more),
                        options=last.options, options_bad=last.options_bad,
                        saddr=last.saddr, daddr=last.daddr)
    return merged


def _field(name: str, expected: int, actual: int) -> str:
    return f"live packet field {name}: expected: {expected} (0x{expected:x}) vs actual: " \
           f"{actual} (0x{actual:x})"


def check_outbound(spec: PacketSpec, live: LivePacket,
                   ts_val_check: Callable[[int, int], str] | None = None) -> str:
    """'' when ``live`` (mapped to script space) matches ``spec``, else the first
    mismatch as packetdrill words it."""
    want = flags_value(spec.flags)
    for name, bit in (("tcp_syn", "S"), ("tcp_fin", "F"), ("tcp_rst", "R"),
                      ("tcp_psh", "P"), ("tcp_ack", "."), ("tcp_urg", "U"),
                      ("tcp_ece", "E"), ("tcp_cwr", "W"), ("tcp_ae", "A")):
        w = int(bool(want & FLAG_BITS[bit]))
        a = int(bool(live.flags & FLAG_BITS[bit]))
        if w != a:
            return _field(name, w, a)
    if spec.ecn is not None and (live.tos & 3) != _ECN_BITS[spec.ecn]:
        return _field("ip_ecn", _ECN_BITS[spec.ecn], live.tos & 3)
    if spec.tos is not None and live.tos != spec.tos:
        return _field("ip_tos", spec.tos, live.tos)
    if spec.ttl is not None and live.ttl != spec.ttl:
        return _field("ip_ttl", spec.ttl, live.ttl)
    if live.seq != spec.seq & 0xFFFFFFFF:
        return _field("tcp_seq", spec.seq & 0xFFFFFFFF, live.seq)
    if live.payload_len != spec.length:
        return _field("tcp_data_len", spec.length, live.payload_len)
    if want & FLAG_BITS["."]:
        exp_ack = (spec.ack or 0) & 0xFFFFFFFF
        if live.ack != exp_ack:
            return _field("tcp_ack_seq", exp_ack, live.ack)
    if spec.win is not None and live.win != spec.win:
        return _field("tcp_window", spec.win, live.win)
    exp_urg = spec.urg or 0
    if live.urg != exp_urg:
        return _field("tcp_urg_ptr", exp_urg, live.urg)
    if spec.any_options:
        return ""
    return _check_options(spec.options or [], live.options, live.options_bad, ts_val_check)


def _check_options(want: list[TcpOption], got: list[TcpOption], bad: str,
                   ts_val_check: Callable[[int, int], str] | None) -> str:
    if bad:
        return bad
    mismatch = (f"bad outbound TCP options: expected {options_string(want)} vs actual "
                f"{options_string(got)}")
    if len(want) != len(got):
        return mismatch
    for w, g in zip(want, got, strict=False):
        if w.name != g.name:
            return mismatch
        if w.name == "TS":
            if ts_val_check is not None:
                err = ts_val_check(w.values[0], g.values[0])
                if err:
                    return err
            continue
        if w.name == "sack":
            if [(a & 0xFFFFFFFF, b & 0xFFFFFFFF) for a, b in w.blocks] != g.blocks:
                return mismatch
            continue
        if w.name == "md5":
            continue  # the digest depends on the key and the live packet
        if w.values != g.values:
            return mismatch
    return ""
