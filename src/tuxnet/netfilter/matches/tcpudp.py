"""-m tcp / -m udp (net/netfilter/xt_tcpudp.c, libxt_tcp.c, libxt_udp.c).

Ports are ranges; ``--tcp-flags mask comp`` matches when ``(flags & mask) == comp``;
``--syn`` is ``--tcp-flags FIN,SYN,RST,ACK SYN``; ``--tcp-option n`` looks for option
kind ``n``. A non-first fragment never matches; fragment offset 1 (overlapping the
TCP header) is dropped (tcp_mt: "Dropping evil TCP offset=1 frag"), as is a header
cut short.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from tuxnet.netfilter.xt import (
    XtError,
    XtMatch,
    XtParam,
    fmt_port,
    parse_port_range,
    register_match,
)

if TYPE_CHECKING:
    from tuxnet.netfilter.rule import IptEntry
    from tuxnet.skb import SkBuff

__all__ = ["TCP_FLAG_NAMES", "TcpMatch", "UdpMatch", "parse_tcp_flags", "tcp_flags_text"]

# libxt_tcp.c tcp_flag_names (print order)
TCP_FLAG_NAMES = (("FIN", 0x01), ("SYN", 0x02), ("RST", 0x04), ("PSH", 0x08), ("ACK", 0x10),
                  ("URG", 0x20))
_FLAG_BY_NAME = dict(TCP_FLAG_NAMES) | {"ALL": 0x3F, "NONE": 0}


def parse_tcp_flags(text: str) -> int:
    """A comma list of flag names (ALL, NONE included)."""
    v = 0
    for part in text.split(","):
        f = _FLAG_BY_NAME.get(part.upper())
        if f is None:
            raise XtError(f'Unknown TCP flag `{part}\'')
        v |= f
    return v


def tcp_flags_text(flags: int) -> str:
    """print_tcpf: names joined by commas, NONE for no flag."""
    if not flags:
        return "NONE"
    return ",".join(name for name, bit in TCP_FLAG_NAMES if flags & bit)


def _ports_save(opt: str, lo: int, hi: int, inv: bool) -> str:
    if lo == 0 and hi == 0xFFFF and not inv:
        return ""
    s = " !" if inv else ""
    return s + (f" --{opt} {lo}" if lo == hi else f" --{opt} {lo}:{hi}")


def _ports_print(name: str, lo: int, hi: int, inv: bool, numeric: bool) -> str:
    if lo == 0 and hi == 0xFFFF and not inv:
        return ""
    i = "!" if inv else ""
    if lo == hi:
        return f" {name}:{i}{fmt_port(lo, numeric)}"
    return f" {name}s:{i}{fmt_port(lo, numeric)}:{fmt_port(hi, numeric)}"


class _PortMatch(XtMatch):
    proto_num = 0

    def __init__(self) -> None:
        self.spts = (0, 0xFFFF)
        self.dpts = (0, 0xFFFF)
        self.inv_src = False
        self.inv_dst = False
        self._seen: set[str] = set()

    def _once(self, opt: str) -> None:
        if opt in self._seen:
            if opt == "tcp-flags":
                raise XtError("Only one of `--syn' or `--tcp-flags'  allowed")
            long = {"sport": "source-port", "dport": "destination-port"}.get(opt, opt)
            raise XtError(f'{self.name}: option "--{long}" can only be used once.\n')
        self._seen.add(opt)

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt in ("--sport", "--source-port"):
            self._once("sport")
            self.spts = parse_port_range(arg, self.name)
            self.inv_src = invert
        elif opt in ("--dport", "--destination-port"):
            self._once("dport")
            self.dpts = parse_port_range(arg, self.name)
            self.inv_dst = invert
        else:
            super().parse(opt, arg, invert, entry)

    def merge(self, other: _PortMatch) -> None:
        """Take what a second match of the same protocol sets."""
        if other.spts != (0, 0xFFFF) or other.inv_src:
            self.spts, self.inv_src = other.spts, other.inv_src
        if other.dpts != (0, 0xFFFF) or other.inv_dst:
            self.dpts, self.inv_dst = other.dpts, other.inv_dst

    def _ports_ok(self, sport: int, dport: int) -> bool:
        lo, hi = self.spts
        if (lo <= sport <= hi) == self.inv_src:
            return False
        lo, hi = self.dpts
        return (lo <= dport <= hi) != self.inv_dst


@register_match
class TcpMatch(_PortMatch):
    """xt_tcpudp tcp_mt."""

    name = "tcp"
    options: ClassVar[dict[str, int]] = {
        "--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1, "--tcp-flags": 2,
        "--syn": 0, "--tcp-option": 1}
    proto_num = 6

    def __init__(self) -> None:
        super().__init__()
        self.option = 0
        self.inv_option = False
        self.flg_mask = 0
        self.flg_cmp = 0
        self.inv_flags = False

    def parse(self, opt: str, arg: str, invert: bool, entry: IptEntry) -> None:
        if opt == "--tcp-flags":
            self._once("tcp-flags")
            mask, _, comp = arg.partition(" ")
            self.flg_mask = parse_tcp_flags(mask)
            self.flg_cmp = parse_tcp_flags(comp)
            self.inv_flags = invert
        elif opt == "--syn":
            self._once("tcp-flags")
            self.flg_mask, self.flg_cmp = 0x17, 0x02
            self.inv_flags = invert
        elif opt == "--tcp-option":
            from tuxnet.netfilter.xt import parse_uint
            v = parse_uint(arg, 1, 255)
            if v is None:
                raise XtError(f"Unable to parse TCP option `{arg}'")
            self.option = v
            self.inv_option = invert
        else:
            super().parse(opt, arg, invert, entry)

    def merge(self, other: _PortMatch) -> None:
        super().merge(other)
        if isinstance(other, TcpMatch):
            if other.option or other.inv_option:
                self.option, self.inv_option = other.option, other.inv_option
            if other.flg_mask or other.inv_flags:
                self.flg_mask, self.flg_cmp = other.flg_mask, other.flg_cmp
                self.inv_flags = other.inv_flags

    def save(self) -> str:
        s = _ports_save("sport", *self.spts, self.inv_src)
        s += _ports_save("dport", *self.dpts, self.inv_dst)
        if self.option or self.inv_option:
            s += (" !" if self.inv_option else "") + f" --tcp-option {self.option}"
        if self.flg_mask or self.inv_flags:
            s += (" !" if self.inv_flags else "") + (
                f" --tcp-flags {tcp_flags_text(self.flg_mask)} {tcp_flags_text(self.flg_cmp)}")
        return s

    def print_(self, numeric: bool) -> str:
        s = " tcp" + _ports_print("spt", *self.spts, self.inv_src, numeric)
        s += _ports_print("dpt", *self.dpts, self.inv_dst, numeric)
        if self.option or self.inv_option:
            s += f" option={'!' if self.inv_option else ''}{self.option}"
        if self.flg_mask or self.inv_flags:
            s += " flags:" + ("!" if self.inv_flags else "")
            if numeric:
                s += f"0x{self.flg_mask:02X}/0x{self.flg_cmp:02X}"
            else:
                s += f"{tcp_flags_text(self.flg_mask)}/{tcp_flags_text(self.flg_cmp)}"
        return s

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        if par.fragoff:
            if par.fragoff == 1:  # tcp_mt: "Dropping evil TCP offset=1 frag."
                par.hotdrop = True
            return False
        data = par.data
        off = par.thoff
        if len(data) < off + 20:
            par.hotdrop = True  # "Dropping evil TCP offset=0 tinygram."
            return False
        if not self._ports_ok((data[off] << 8) | data[off + 1],
                              (data[off + 2] << 8) | data[off + 3]):
            return False
        if (self.flg_mask or self.inv_flags) and \
                ((data[off + 13] & self.flg_mask) == self.flg_cmp) == self.inv_flags:
            return False
        if self.option:
            return bool(_has_option(data, off, self.option, par) != self.inv_option)
        return True


def _has_option(data: memoryview, off: int, kind: int, par: XtParam) -> bool:
    """tcp_find_option: walk the options of the TCP header at ``off``."""
    doff = (data[off + 12] >> 4) * 4
    if doff < 20 or len(data) < off + doff:
        par.hotdrop = doff >= 20
        return False
    i = off + 20
    end = off + doff
    while i < end:
        k = data[i]
        if k == kind:
            return True
        if k < 2:  # EOL, NOP
            i += 1
            continue
        if i + 1 >= end or data[i + 1] < 2:
            break
        i += data[i + 1]
    return False


@register_match
class UdpMatch(_PortMatch):
    """xt_tcpudp udp_mt."""

    name = "udp"
    options: ClassVar[dict[str, int]] = {
        "--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1}
    proto_num = 17

    def save(self) -> str:
        return (_ports_save("sport", *self.spts, self.inv_src)
                + _ports_save("dport", *self.dpts, self.inv_dst))

    def print_(self, numeric: bool) -> str:
        return (" udp" + _ports_print("spt", *self.spts, self.inv_src, numeric)
                + _ports_print("dpt", *self.dpts, self.inv_dst, numeric))

    def match(self, skb: SkBuff, par: XtParam) -> bool:
        if par.fragoff:
            return False
        data = par.data
        off = par.thoff
        if len(data) < off + 8:
            par.hotdrop = True  # "Dropping evil UDP tinygram."
            return False
        return self._ports_ok((data[off] << 8) | data[off + 1],
                              (data[off + 2] << 8) | data[off + 3])
