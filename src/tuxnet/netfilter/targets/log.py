"""-j LOG (net/netfilter/xt_LOG.c, nf_log_syslog.c, libxt_LOG.c): a kernel log line
per packet, non-terminating (XT_CONTINUE).

The line is nf_log_syslog's dump_ipv4_packet: ``<prefix>IN=<in> OUT=<out> `` then
``MAC=<hard header bytes> `` (receive side only), ``SRC= DST= LEN= TOS=0x%02X
PREC=0x%02X TTL= ID= ``, ``CE``/``DF``/``MF``, ``FRAG:n``, ``OPT (..)`` with
--log-ip-options, then per protocol (``PROTO=TCP SPT= DPT= [SEQ= ACK=] WINDOW=
RES=0x%02x <flags> URGP= [OPT (..)]``, ``PROTO=UDP SPT= DPT= LEN=``, ``PROTO=ICMP
TYPE= CODE= [ID= SEQ=]`` ...), and ``MARK=0x%x `` when the mark is set. Lines go to
``NfNet.log`` as (time ns, level, text) — tuxnet's dmesg.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.rule import dev_name
from tuxnet.netfilter.xt import XT_CONTINUE, XtError, XtParam, XtTarget, register_target
from tuxnet.wire.addr import int_to_ip

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["LogTarget", "dmesg", "dump_ipv4_packet"]

# include/uapi/linux/netfilter/nf_log.h
NF_LOG_TCPSEQ = 0x01
NF_LOG_TCPOPT = 0x02
NF_LOG_IPOPT = 0x04
NF_LOG_UID = 0x08
NF_LOG_MACDECODE = 0x20
_LEVEL_NAMES = {"alert": 1, "crit": 2, "debug": 7, "emerg": 0, "error": 3, "info": 6,
                "notice": 5, "panic": 0, "warning": 4}  # libxt_LOG.c log_names
_PRINT_NAMES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
_FLAG_OPTS = (("--log-tcp-sequence", NF_LOG_TCPSEQ, "tcp-sequence"),
              ("--log-tcp-options", NF_LOG_TCPOPT, "tcp-options"),
              ("--log-ip-options", NF_LOG_IPOPT, "ip-options"),
              ("--log-uid", NF_LOG_UID, "uid"),
              ("--log-macdecode", NF_LOG_MACDECODE, "macdecode"))
_IPH = struct.Struct("!BBHHHBBHII")
_TCP_FLAGS = (("CWR", 0x80), ("ECE", 0x40), ("URG", 0x20), ("ACK", 0x10), ("PSH", 0x08),
              ("RST", 0x04), ("SYN", 0x02), ("FIN", 0x01))


def dump_ipv4_packet(data: bytes | memoryview, logflags: int, recurse: bool = True) -> str:
    """nf_log_syslog.c dump_ipv4_packet (from SRC= on)."""
    if len(data) < 20:
        return "TRUNCATED"
    vihl, tos, tot, ident, frag, ttl, proto, _c, src, dst = _IPH.unpack_from(data, 0)
    ihl = (vihl & 15) * 4
    out = [f"SRC={int_to_ip(src)} DST={int_to_ip(dst)} LEN={tot} TOS=0x{tos & 0x1E:02X} "
           f"PREC=0x{tos & 0xE0:02X} TTL={ttl} ID={ident} "]
    if frag & 0x8000:
        out.append("CE ")
    if frag & 0x4000:
        out.append("DF ")
    if frag & 0x2000:
        out.append("MF ")
    fragoff = frag & 0x1FFF
    if fragoff:
        out.append(f"FRAG:{fragoff} ")
    if logflags & NF_LOG_IPOPT and ihl > 20:
        out.append("OPT (" + bytes(data[20:ihl]).hex().upper() + ") ")
    seg = data[ihl:]
    if proto == 6:
        out.append("PROTO=TCP ")
        if fragoff:
            return "".join(out)
        if len(seg) < 20:
            out.append(f"INCOMPLETE [{len(seg)} bytes] ")
            return "".join(out)
        sport, dport, seq, ack, doff, flags, win, _ck, urg = struct.unpack_from(
            "!HHIIBBHHH", seg, 0)
        out.append(f"SPT={sport} DPT={dport} ")
        if logflags & NF_LOG_TCPSEQ:
            out.append(f"SEQ={seq} ACK={ack} ")
        out.append(f"WINDOW={win} RES=0x{(doff & 0x0F) << 2:02x} ")
        out.extend(f"{name} " for name, bit in _TCP_FLAGS if flags & bit)
        out.append(f"URGP={urg} ")
        thl = (doff >> 4) * 4
        if logflags & NF_LOG_TCPOPT and thl > 20 and len(seg) >= thl:
            out.append("OPT (" + bytes(seg[20:thl]).hex().upper() + ") ")
    elif proto in (17, 136):
        out.append("PROTO=UDP " if proto == 17 else "PROTO=UDPLITE ")
        if fragoff:
            return "".join(out)
        if len(seg) < 8:
            out.append(f"INCOMPLETE [{len(seg)} bytes] ")
            return "".join(out)
        sport, dport, ulen = struct.unpack_from("!HHH", seg, 0)
        out.append(f"SPT={sport} DPT={dport} LEN={ulen} ")
    elif proto == 1:
        out.append("PROTO=ICMP ")
        if fragoff:
            return "".join(out)
        if len(seg) < 4:
            out.append(f"INCOMPLETE [{len(seg)} bytes] ")
            return "".join(out)
        t, c = seg[0], seg[1]
        out.append(f"TYPE={t} CODE={c} ")
        if t in (0, 8) and len(seg) >= 8:
            out.append("ID={} SEQ={} ".format(*struct.unpack_from("!HH", seg, 4)))
        elif t == 12 and len(seg) >= 8:
            out.append(f"PARAMETER={seg[4]} ")
        elif t == 5 and len(seg) >= 8:
            out.append(f"GATEWAY={int_to_ip(int.from_bytes(seg[4:8], 'big'))} ")
        elif t in (3, 4, 11):
            if recurse and len(seg) > 8:
                out.append("[" + dump_ipv4_packet(seg[8:], logflags, False) + "] ")
            if t == 3 and c == 4 and len(seg) >= 8:
                out.append(f"MTU={int.from_bytes(seg[6:8], 'big')} ")
    else:
        out.append(f"PROTO={proto} ")
    return "".join(out)


def dmesg(lines: list[tuple[int, int, str]]) -> str:
    """The LOG lines as ``dmesg`` prints them: ``[%5lu.%06lu] `` then the text
    (printk's time prefix, from the host clock)."""
    out = []
    for ns, _level, text in lines:
        sec, rest = divmod(ns, 1_000_000_000)
        out.append(f"[{sec:5d}.{rest // 1000:06d}] {text}\n")
    return "".join(out)


@register_target
class LogTarget(XtTarget):
    """log_tg."""

    name = "LOG"
    options: ClassVar[dict[str, int]] = {
        "--log-level": 1, "--log-prefix": 1, "--log-tcp-sequence": 0, "--log-tcp-options": 0,
        "--log-ip-options": 0, "--log-uid": 0, "--log-macdecode": 0}

    def __init__(self) -> None:
        self.level = 4
        self.prefix = ""
        self.flags = 0

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt == "--log-level":
            lvl = _LEVEL_NAMES.get(arg.lower())
            if lvl is None and arg.isdigit() and int(arg) <= 7:
                lvl = int(arg)
            if lvl is None:
                raise XtError(f'log level "{arg}" unknown\n')
            self.level = lvl
        elif opt == "--log-prefix":
            if len(arg) > 29:
                raise XtError("Maximum prefix length 29 for --log-prefix")
            self.prefix = arg
        else:
            for name, bit, _ in _FLAG_OPTS:
                if opt == name:
                    self.flags |= bit
                    return
            super().parse(opt, arg, invert, entry)

    def save(self) -> str:
        from tuxnet.netfilter.xt import save_string

        s = ""
        if self.prefix:
            s += " --log-prefix" + save_string(self.prefix)
        if self.level != 4:
            s += f" --log-level {self.level}"
        for name, bit, _ in _FLAG_OPTS:
            if self.flags & bit:
                s += " " + name
        return s

    def print_(self, numeric: bool) -> str:
        if numeric:
            s = f" LOG flags {self.flags} level {self.level}"
        else:
            s = f" LOG level {_PRINT_NAMES[self.level]}"
            for _, bit, word in _FLAG_OPTS:
                if self.flags & bit:
                    s += " " + word
        if self.prefix:
            s += f' prefix "{self.prefix}"'
        return s

    def target(self, skb: SkBuff, par: XtParam) -> int:
        line = [f"{self.prefix}IN={dev_name(par.in_dev)} OUT={dev_name(par.out_dev)} "]
        if par.in_dev is not None:
            mh, nh = skb.mac_header, skb.network_header
            if 0 <= mh < nh and nh - mh <= 64:
                line.append("MAC=" + ":".join(f"{b:02x}" for b in skb.head[mh:nh]) + " ")
            else:
                line.append("MAC= ")
        line.append(dump_ipv4_packet(par.data, self.flags))
        if skb.mark:
            line.append(f"MARK=0x{skb.mark:x} ")
        par.nf.log.append((par.host.loop.now_ns(), self.level, "".join(line)))
        return XT_CONTINUE
