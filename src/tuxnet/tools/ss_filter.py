"""``ss``'s filters (iproute2 6.1 misc/ss.c: scan_state, parse_hostcond, run_ssfilter;
misc/ssfilter.y: the expression grammar and its tokens).

State filters: ``state NAME`` / ``exclude NAME`` with the TCP state names, ``all``,
``connected``, ``synchronized``, ``bucket``, ``big``, ``close``/``closed``,
``syn-rcv``. Expressions: ``dst``/``src`` [=] HOST[/PLEN][:PORT], ``dport``/``sport``
with = == eq != ne neq > gt < lt >= ge geq <= le leq and a port (``:22``, ``22``,
a service name), ``autobound``; combined with and/&&/&, or/||/|, not/!, parentheses, a
bare juxtaposition meaning and. Errors raise :class:`SsError` with iproute2's message
and exit status (255 for ``exit(-1)``).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuxnet.wire.addr import ip_int

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuxnet.tools.ss_diag import SockRecord

__all__ = ["SS_ALL", "SS_CONN", "SsError", "parse_filter", "scan_state"]

(SS_ESTABLISHED, SS_SYN_SENT, SS_SYN_RECV, SS_FIN_WAIT1, SS_FIN_WAIT2, SS_TIME_WAIT,
 SS_CLOSE, SS_CLOSE_WAIT, SS_LAST_ACK, SS_LISTEN, SS_CLOSING) = range(1, 12)
SS_MAX = 12
SS_ALL = (1 << SS_MAX) - 1
SS_CONN = SS_ALL & ~((1 << SS_LISTEN) | (1 << SS_CLOSE) | (1 << SS_TIME_WAIT)
                     | (1 << SS_SYN_RECV))
_NAMES = ("UNKNOWN", "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2",
          "time-wait", "unconnected", "close-wait", "last-ack", "listening", "closing")
_SETS = {
    "close": 1 << SS_CLOSE, "closed": 1 << SS_CLOSE, "syn-rcv": 1 << SS_SYN_RECV,
    "all": SS_ALL,
    "connected": SS_ALL & ~((1 << SS_CLOSE) | (1 << SS_LISTEN)),
    "synchronized": SS_ALL & ~((1 << SS_CLOSE) | (1 << SS_LISTEN) | (1 << SS_SYN_SENT)),
    "bucket": (1 << SS_SYN_RECV) | (1 << SS_TIME_WAIT),
    "big": SS_ALL & ~((1 << SS_SYN_RECV) | (1 << SS_TIME_WAIT)),
}


class SsError(Exception):
    """An error ss reports on stderr before exiting with ``status``; ``usage`` adds the
    usage text after the message."""

    def __init__(self, message: str, status: int = 255, usage: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.usage = usage


def scan_state(name: str) -> int:
    """scan_state(): the state mask a name stands for (case-insensitive)."""
    low = name.lower()
    if low in _SETS:
        return _SETS[low]
    for i, n in enumerate(_NAMES):
        if low == n:
            return 1 << i
    raise SsError(f"ss: wrong state name: {name}\n")


# -- expressions ------------------------------------------------------------------------

@dataclass
class _Cond:
    """struct aafilter: an address prefix (bits 0: any) and a port (-1: any)."""

    addr: int = 0
    plen: int = 0
    port: int = -1


def _port_number(text: str, protos: tuple[str, ...]) -> int:
    """get_integer, else getservbyname for the tables shown."""
    try:
        return int(text, 0)
    except ValueError:
        pass
    found = -1
    for proto in protos:
        try:
            p = socket.getservbyname(text, proto)
        except OSError:
            continue
        if found > 0 and found != p:
            raise SsError(f'Error: ambiguous port "{text}".\n'
                          "Cannot parse dst/src address.\n", 1)
        found = p
    if found <= 0:
        raise SsError(f'Error: "{text}" does not look like a port.\n'
                      "Cannot parse dst/src address.\n", 1)
    return found


def parse_hostcond(text: str, is_port: bool, protos: tuple[str, ...]) -> _Cond:
    """parse_hostcond() for inet: [ADDR[/PLEN]][:PORT], ``*``, ``[ADDR]:PORT``."""
    c = _Cond()
    addr = text
    port: str | None
    if is_port:
        port, addr = text, ""
    elif addr.startswith("["):
        addr, sep, rest = addr[1:].partition("]")
        if not sep:
            raise SsError("Cannot parse dst/src address.\n", 1)
        port = rest
    elif addr.startswith("*"):
        port, addr = addr[1:], "*"
    else:
        slash = addr.find("/")
        i = addr.rfind(":", slash if slash >= 0 else 0)
        port, addr = (addr[i:], addr[:i]) if i >= 0 else (None, addr)
    if port:
        port = port[1:] if port.startswith(":") else port
        if port and port != "*":
            c.port = _port_number(port, protos)
    if addr and addr != "*":
        a, _, plen = addr.partition("/")
        try:
            c.addr = ip_int(a)
            c.plen = int(plen) if plen else 32
            if not 0 <= c.plen <= 32:
                raise ValueError(plen)
        except (ValueError, OSError):
            raise SsError(f'Error: an inet prefix is expected rather than "{addr}".\n'
                          "Cannot parse dst/src address.\n", 1) from None
    return c


def _addr_match(addr: int, c: _Cond) -> bool:
    if not c.plen:
        return True
    mask = (0xFFFFFFFF << (32 - c.plen)) & 0xFFFFFFFF
    return (addr & mask) == (c.addr & mask)


def _tokens(args: list[str]) -> list[str]:
    """yylex(): every argument split at blanks."""
    return [t for a in args for t in a.split()]


_OPS = {"=": "=", "==": "=", "eq": "=", "!=": "!=", "ne": "!=", "neq": "!=", ">": ">",
        "gt": ">", "<": "<", "lt": "<", ">=": ">=", "ge": ">=", "geq": ">=", "<=": "<=",
        "le": "<=", "leq": "<="}
_SYNTAX = SsError('ss: bison bellows (while parsing filter): "syntax error!" Sorry.\n',
                  usage=True)


class _Parser:
    """The ssfilter.y grammar by recursive descent ('|' binds looser than '&')."""

    def __init__(self, toks: list[str], protos: tuple[str, ...],
                 ephemeral: tuple[int, int]) -> None:
        self.toks = toks
        self.i = 0
        self.protos = protos
        self.ephemeral = ephemeral

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise _SYNTAX
        self.i += 1
        return tok

    def exprlist(self) -> Callable[[SockRecord], bool]:
        left = self.andlist()
        while self.peek() in ("|", "||", "or"):
            self.i += 1
            right = self.andlist()
            left = (lambda a, b: lambda s: a(s) or b(s))(left, right)
        return left

    def andlist(self) -> Callable[[SockRecord], bool]:
        left = self.expr()
        while True:
            tok = self.peek()
            if tok in ("&", "&&", "and"):
                self.i += 1
            elif tok is None or tok in (")", "|", "||", "or"):
                return left
            right = self.expr()
            left = (lambda a, b: lambda s: a(s) and b(s))(left, right)

    def expr(self) -> Callable[[SockRecord], bool]:
        tok = self.take()
        if tok == "(":
            inner = self.exprlist()
            if self.take() != ")":
                raise _SYNTAX
            return inner
        if tok in ("!", "not"):
            sub = self.expr()
            return lambda s: not sub(s)
        if tok == "autobound":
            lo, hi = self.ephemeral
            return lambda s: lo <= s.sport <= hi
        if tok in ("dst", "src"):
            if self.peek() in ("=", "==", "eq"):
                self.i += 1
            c = self._hostcond(False)
            if tok == "dst":
                return lambda s: (c.port in (-1, s.dport)) and _addr_match(s.daddr, c)
            return lambda s: (c.port in (-1, s.sport)) and _addr_match(s.saddr, c)
        if tok in ("dport", "sport"):
            op = _OPS.get(self.peek() or "", "")
            if op:
                self.i += 1
            else:
                op = "="
            c = self._hostcond(True)
            remote = tok == "dport"

            def port(s: SockRecord) -> int:
                return s.dport if remote else s.sport
            if op == "=":
                return lambda s: c.port in (-1, port(s))
            if op == "!=":
                return lambda s: c.port not in (-1, port(s))
            if op == ">=":
                return lambda s: port(s) >= c.port
            if op == "<=":
                return lambda s: port(s) <= c.port
            if op == ">":
                return lambda s: not port(s) <= c.port
            return lambda s: not port(s) >= c.port
        raise _SYNTAX

    def _hostcond(self, is_port: bool) -> _Cond:
        tok = self.take()
        if tok in _OPS or tok in ("(", ")", "!", "not", "&", "&&", "and", "|", "||", "or"):
            raise _SYNTAX
        return parse_hostcond(tok, is_port, self.protos)


def parse_filter(args: list[str], protos: tuple[str, ...],
                 ephemeral: tuple[int, int]) -> Callable[[SockRecord], bool] | None:
    """ssfilter_parse(): the predicate of the expression in ``args`` (None when empty)."""
    toks = _tokens(args)
    if not toks:
        return None
    p = _Parser(toks, protos, ephemeral)
    pred = p.exprlist()
    if p.peek() is not None:
        raise _SYNTAX
    return pred
