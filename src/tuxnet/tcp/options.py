"""TCP options as the stack reads and writes them (net/ipv4/tcp_input.c:
tcp_parse_options, tcp_fast_parse_options, tcp_parse_aligned_timestamp;
net/ipv4/tcp_output.c: tcp_options_write, tcp_syn_options, tcp_synack_options,
tcp_established_options).

Parsing is Linux's lenient walk (RFC 9293 3.2): a length below 2 or past the header
ends it; an option of the wrong size is ignored; MSS, window scale and SACK-permitted
count only on a SYN outside an established connection and only when their sysctl is
on; timestamps count when negotiated (or, on a SYN, when tcp_timestamps allows);
SACK blocks only when SACK is on.

Writing follows tcp_options_write's 32-bit layout: ``mss``, ``sackOK`` folded with
the timestamp word (else ``nop,nop,sackOK``), ``nop,nop,TS``, ``nop,wscale``,
``nop,nop,sack ...`` -- so a SYN reads ``mss 1460,sackOK,TS val ecr,nop,wscale 7``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tuxnet.tcp.defs import (
    MAX_TCP_OPTION_SPACE,
    TCP_MAX_WSCALE,
    TCPOLEN_MD5SIG_ALIGNED,
    TCPOLEN_SACK_BASE_ALIGNED,
    TCPOLEN_SACK_PERBLOCK,
    TCPOLEN_TSTAMP_ALIGNED,
)

if TYPE_CHECKING:
    from tuxnet.tcp.fastopen import FastopenCookie
    from tuxnet.tcp.netns import TcpNet
    from tuxnet.tcp.sock import RxOpt, TcpSock

__all__ = ["TcpRxOptions", "tcp_established_options", "tcp_options_write",
           "tcp_parse_aligned_timestamp", "tcp_parse_options"]

TCPOPT_EOL = 0
TCPOPT_NOP = 1
TCPOPT_MSS = 2
TCPOPT_WINDOW = 3
TCPOPT_SACK_PERM = 4
TCPOPT_SACK = 5
TCPOPT_TIMESTAMP = 8
TCPOPT_FASTOPEN = 34  # RFC 7413
TCPOPT_EXP = 254  # RFC 6994; Fast Open's magic 0xF989 (the pre-RFC 7413 format)
TCPOPT_FASTOPEN_MAGIC = 0xF989
_ALIGNED_TS_WORD = 0x0101080A  # nop, nop, TIMESTAMP, 10
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_U32X2 = struct.Struct("!II")
_U32X3 = struct.Struct("!III")
_MSS_WORD = struct.Struct("!BBH")
_W_SACKPERM_TS = bytes((TCPOPT_SACK_PERM, 2, TCPOPT_TIMESTAMP, 10))
_W_NOP_NOP_TS = bytes((TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, 10))
_W_NOP_NOP_SACKPERM = bytes((TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_PERM, 2))


class TcpRxOptions:
    """The parts of struct tcp_options_received one segment fills (a scratch copy)."""

    __slots__ = ("mss_clamp", "rcv_tsecr", "rcv_tsval", "sack_blocks", "sack_ok",
                 "saw_tstamp", "snd_wscale", "wscale_ok")

    def __init__(self) -> None:
        self.saw_tstamp = False
        self.rcv_tsval = 0
        self.rcv_tsecr = 0
        self.mss_clamp = 0  # 0: no MSS option
        self.wscale_ok = False
        self.snd_wscale = 0
        self.sack_ok = False
        self.sack_blocks: list[tuple[int, int]] | None = None


def tcp_parse_options(tn: TcpNet, buf: memoryview | bytes | bytearray, off: int, hl: int,
                      syn: bool, estab: bool, rx: TcpRxOptions, tstamp_ok: bool = False,
                      sack_ok: bool = False, user_mss: int = 0,
                      foc: FastopenCookie | None = None) -> None:
    """tcp_parse_options(): walk the options of the header at ``buf[off:off+hl]``.

    ``tstamp_ok``/``sack_ok`` are what the connection negotiated (used when ``estab``);
    ``foc`` receives a Fast Open option of a SYN or SYN-ACK.
    """
    i = off + 20
    end = off + hl
    sysctl = tn.host.sysctl
    while i < end:
        kind = buf[i]
        if kind == TCPOPT_EOL:
            return
        if kind == TCPOPT_NOP:
            i += 1
            continue
        if end - i < 2:
            return
        size = buf[i + 1]
        if size < 2 or size > end - i:  # "silly options", partial options
            return
        p = i + 2
        if kind == TCPOPT_MSS:
            if size == 4 and syn and not estab:
                in_mss = _U16.unpack_from(buf, p)[0]
                if in_mss:
                    if user_mss and user_mss < in_mss:
                        in_mss = user_mss
                    rx.mss_clamp = in_mss
        elif kind == TCPOPT_WINDOW:
            if size == 3 and syn and not estab and \
                    sysctl.get_int("net.ipv4.tcp_window_scaling"):
                rx.wscale_ok = True
                rx.snd_wscale = min(buf[p], TCP_MAX_WSCALE)  # RFC 7323 2.3
        elif kind == TCPOPT_TIMESTAMP:
            if size == 10 and ((estab and tstamp_ok) or
                               (not estab and sysctl.get_int("net.ipv4.tcp_timestamps"))):
                rx.saw_tstamp = True
                rx.rcv_tsval, rx.rcv_tsecr = _U32X2.unpack_from(buf, p)
        elif kind == TCPOPT_SACK_PERM:
            if size == 2 and syn and not estab and sysctl.get_int("net.ipv4.tcp_sack"):
                rx.sack_ok = True
        elif kind == TCPOPT_SACK and size >= 10 and (size - 2) % 8 == 0 and \
                (sack_ok or rx.sack_ok):
            rx.sack_blocks = [_U32X2.unpack_from(buf, j) for j in range(p, i + size, 8)]
        elif foc is not None and kind == TCPOPT_FASTOPEN:
            from tuxnet.tcp.fastopen import tcp_parse_fastopen_option

            tcp_parse_fastopen_option(size - 2, bytes(buf[p:i + size]), syn, foc, False)
        elif foc is not None and kind == TCPOPT_EXP and size >= 4 and \
                _U16.unpack_from(buf, p)[0] == TCPOPT_FASTOPEN_MAGIC:
            from tuxnet.tcp.fastopen import tcp_parse_fastopen_option

            tcp_parse_fastopen_option(size - 4, bytes(buf[p + 2:i + size]), syn, foc, True)
        i += size


def tcp_parse_aligned_timestamp(buf: memoryview | bytes | bytearray, off: int,
                                rx_opt: RxOpt, tsoffset: int) -> bool:
    """tcp_parse_aligned_timestamp(): the fast path's look at ``nop,nop,TS`` right after
    the fixed header."""
    word, tsval, tsecr = _U32X3.unpack_from(buf, off + 20)
    if word != _ALIGNED_TS_WORD:
        return False
    rx_opt.saw_tstamp = True
    rx_opt.rcv_tsval = tsval
    rx_opt.rcv_tsecr = (tsecr - tsoffset) & 0xFFFFFFFF if tsecr else 0
    return True


def tcp_options_write(mss: int = 0, ts: tuple[int, int] | None = None, sack_perm: bool = False,
                      wscale: int = -1, sack_blocks: list[tuple[int, int]] | None = None) -> bytes:
    """tcp_options_write(): the option bytes in Linux's order and alignment."""
    out = bytearray()
    if mss:
        out += _MSS_WORD.pack(TCPOPT_MSS, 4, mss & 0xFFFF)
    if ts is not None:
        out += _W_SACKPERM_TS if sack_perm else _W_NOP_NOP_TS
        out += _U32X2.pack(ts[0] & 0xFFFFFFFF, ts[1] & 0xFFFFFFFF)
        sack_perm = False
    if sack_perm:
        out += _W_NOP_NOP_SACKPERM
    if wscale >= 0:
        out += bytes((TCPOPT_NOP, TCPOPT_WINDOW, 3, wscale))
    if sack_blocks:
        out += bytes((TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK, 2 + 8 * len(sack_blocks)))
        for start, end in sack_blocks:
            out += _U32X2.pack(start & 0xFFFFFFFF, end & 0xFFFFFFFF)
    return bytes(out)


def tcp_established_options(sk: TcpSock, tsval: int, consume_dsack: bool,
                            md5: bool = False) -> bytes:
    """tcp_established_options() + tcp_options_write for a segment of an established
    connection: ``nop,nop,TS`` when negotiated, then up to 3 SACK blocks (4 without
    TS), the D-SACK block first. With ``consume_dsack`` the pending D-SACK is sent
    once (tcp_options_write clears rx_opt.dsack). ``md5``: the caller puts the
    20-byte signature option first (tcp/md5.py), which leaves less room for SACK."""
    rx = sk.rx_opt
    out = b""
    size = TCPOLEN_MD5SIG_ALIGNED if md5 else 0
    if rx.tstamp_ok:
        out = _W_NOP_NOP_TS + _U32X2.pack((tsval + sk.tsoffset) & 0xFFFFFFFF,
                                          rx.ts_recent & 0xFFFFFFFF)
        size += TCPOLEN_TSTAMP_ALIGNED
    eff_sacks = rx.num_sacks + (1 if rx.dsack else 0)
    if eff_sacks:
        remaining = MAX_TCP_OPTION_SPACE - size
        if remaining >= TCPOLEN_SACK_BASE_ALIGNED + TCPOLEN_SACK_PERBLOCK:
            n = min(eff_sacks, (remaining - TCPOLEN_SACK_BASE_ALIGNED) // TCPOLEN_SACK_PERBLOCK)
            blocks: list[tuple[int, int]] = []
            if rx.dsack:
                blocks.append((sk.duplicate_sack[0], sk.duplicate_sack[1]))
                if consume_dsack:
                    rx.dsack = False
            for sp in sk.selective_acks[:n - len(blocks)]:
                blocks.append((sp[0], sp[1]))
            out += bytes((TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK, 2 + 8 * len(blocks)))
            for start, end in blocks:
                out += _U32X2.pack(start, end)
    return out


def established_options_size(sk: TcpSock) -> int:
    """The option bytes tcp_established_options would produce now (tcp_current_mss)."""
    rx = sk.rx_opt
    size = TCPOLEN_TSTAMP_ALIGNED if rx.tstamp_ok else 0
    if sk.md5sig_info and sk.tcp_md5_key() is not None:
        size += TCPOLEN_MD5SIG_ALIGNED
    eff_sacks = rx.num_sacks + (1 if rx.dsack else 0)
    if eff_sacks:
        remaining = MAX_TCP_OPTION_SPACE - size
        if remaining >= TCPOLEN_SACK_BASE_ALIGNED + TCPOLEN_SACK_PERBLOCK:
            n = min(eff_sacks, (remaining - TCPOLEN_SACK_BASE_ALIGNED) // TCPOLEN_SACK_PERBLOCK)
            size += TCPOLEN_SACK_BASE_ALIGNED + n * TCPOLEN_SACK_PERBLOCK
    return size
