"""One line per packet, as the harness's ``pkt_summary`` prints a scapy dissection:

    10.1.0.2 > 10.9.9.9 ttl=64 TCP 40000>80 [S] seq=1000 ack=0
    10.1.0.2 > 10.1.0.1 ttl=64 ICMP type=8 code=0 id=7 seq=1
    10.1.0.1 > 10.1.0.2 ttl=64 ICMP type=3 code=3 [quoting 10.1.0.2>10.1.0.1 proto 17 1234>9999]

scapy's rules are kept: a layer is dissected only when its header is all there and
the datagram is not a non-first fragment (else the line ends ``proto=N``); TCP flags
are scapy's letters ``FSRPAUECN`` in bit order; an ICMP error's quoted header is shown
when a whole IPv4 header is quoted.
"""

from __future__ import annotations

import struct

__all__ = ["frame_summary", "ip_summary", "tcp_flags_str"]

_TCP_FLAGS = "FSRPAUECN"  # scapy's TCP flag letters, bit 0 first


def tcp_flags_str(flags: int) -> str:
    return "".join(c for i, c in enumerate(_TCP_FLAGS) if flags >> i & 1)


def _addr(b: bytes) -> str:
    return ".".join(str(x) for x in b)


def ip_summary(d: bytes) -> str:
    """The summary of an IPv4 datagram (its bytes from the IP header on)."""
    if len(d) < 20 or d[0] >> 4 != 4:
        return f"Raw {d[:20].hex()}"
    ihl = (d[0] & 15) * 4
    tot = struct.unpack_from("!H", d, 2)[0]
    frag = struct.unpack_from("!H", d, 6)[0] & 0x1FFF
    ttl, proto = d[8], d[9]
    s = f"{_addr(d[12:16])} > {_addr(d[16:20])} ttl={ttl}"
    end = min(tot, len(d)) if tot >= ihl else len(d)  # scapy trims to tot_len
    l4 = d[ihl:end]
    if frag:
        return s + f" proto={proto}"
    if proto == 6 and len(l4) >= 20:
        sport, dport, seq, ack, off_flags = struct.unpack_from("!HHIIH", l4)
        return s + (f" TCP {sport}>{dport} [{tcp_flags_str(off_flags & 0x1FF)}] "
                    f"seq={seq} ack={ack}")
    if proto == 17 and len(l4) >= 8:
        sport, dport, ulen = struct.unpack_from("!HHH", l4)
        return s + f" UDP {sport}>{dport} len={ulen}"
    if proto == 1 and len(l4) >= 8:
        typ, code = l4[0], l4[1]
        s += f" ICMP type={typ} code={code}"
        if typ in (0, 8):
            ident, seq = struct.unpack_from("!HH", l4, 4)
            s += f" id={ident} seq={seq}"
        inner = l4[8:]
        if typ in (3, 11, 5) and len(inner) >= 20 and inner[0] >> 4 == 4:
            s += f" [quoting {_addr(inner[12:16])}>{_addr(inner[16:20])} proto {inner[9]}"
            body = inner[(inner[0] & 15) * 4:]
            if inner[9] in (6, 17) and len(body) >= 4:
                sp, dp = struct.unpack_from("!HH", body)
                s += f" {sp}>{dp}"
            s += "]"
        return s
    return s + f" proto={proto}"


def frame_summary(frame: bytes) -> str:
    """The summary of an Ethernet frame (IPv4 ones as :func:`ip_summary`)."""
    if len(frame) >= 14 and frame[12:14] == b"\x08\x00":
        return ip_summary(frame[14:])
    etype = frame[12:14].hex() if len(frame) >= 14 else "?"
    return f"Ether type=0x{etype} len={len(frame)}"
