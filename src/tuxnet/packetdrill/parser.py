"""The packetdrill parser (packetdrill's parser.y, as a recursive descent over tokens).

``parse_script(text)`` returns a :class:`~tuxnet.packetdrill.ast.Script`; errors raise
:class:`ParseError` with the script line.
"""

from __future__ import annotations

from tuxnet.packetdrill.ast import (
    CodeBlock,
    Command,
    Event,
    Expr,
    PacketSpec,
    Script,
    Syscall,
    TcpOption,
    TimeSpec,
)
from tuxnet.packetdrill.lexer import LexError, Token, tokenize

__all__ = ["ParseError", "parse_script"]

_FLAG_LETTERS = set("SFRPUEWA.")  # parser.y tcp_flags: SYN FIN RST PSH URG ECE CWR AE ACK
_IP_ECN = ("ect0", "ect1", "ect01", "noecn", "ce")


class ParseError(Exception):
    """A script that does not parse; ``line`` is the script line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _usecs(value: float | int) -> int:
    """Script seconds to microseconds (parser.y: convert float seconds to usecs)."""
    return round(value * 1_000_000)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.toks = tokens
        self.i = 0

    # -- helpers ------------------------------------------------------------------
    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def line(self) -> int:
        t = self.peek()
        if t is None:
            return self.toks[-1].line if self.toks else 1
        return t.line

    def next(self) -> Token:
        t = self.peek()
        if t is None:
            raise ParseError(self.line(), "syntax error: unexpected end of script")
        self.i += 1
        return t

    def is_punct(self, ch: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.kind == "PUNCT" and t.text == ch

    def is_word(self, w: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t is not None and t.kind == "WORD" and t.text == w

    def expect_punct(self, ch: str) -> Token:
        t = self.next()
        if t.kind != "PUNCT" or t.text != ch:
            raise ParseError(t.line, f"syntax error: expected '{ch}', got '{t.text}'")
        return t

    def expect_word(self, w: str | None = None) -> Token:
        t = self.next()
        if t.kind != "WORD" or (w is not None and t.text != w):
            raise ParseError(t.line, f"syntax error: expected {w or 'a word'}, got '{t.text}'")
        return t

    def number(self) -> int | float:
        t = self.next()
        if t.kind != "NUM" or t.value is None:
            raise ParseError(t.line, f"syntax error: expected a number, got '{t.text}'")
        return t.value

    def integer(self) -> int:
        v = self.number()
        if isinstance(v, float):
            raise ParseError(self.toks[self.i - 1].line, f"expected an integer, got {v}")
        return v

    # -- script ---------------------------------------------------------------------
    def script(self) -> Script:
        sc = Script()
        while (t := self.peek()) is not None and t.kind == "OPTION":
            self.i += 1
            name, _, value = t.text[2:].partition("=")
            sc.options[name] = value
        t = self.peek()
        if t is not None and t.kind == "BACKQ":
            self.i += 1
            sc.init_command = Command(t.text)
        while self.peek() is not None:
            t = self.peek()
            assert t is not None
            if t.kind == "BACKQ" and self.i == len(self.toks) - 1:
                self.i += 1
                sc.cleanup_command = Command(t.text)
                break
            sc.events.append(self.event())
        return sc

    def event(self) -> Event:
        line = self.line()
        ts = self.time_spec()
        t = self.peek()
        if t is None:
            raise ParseError(line, "syntax error: event without an action")
        if t.kind == "PUNCT" and t.text in "<>":
            action: PacketSpec | Syscall | Command | CodeBlock = self.packet()
        elif t.kind == "BACKQ":
            self.i += 1
            action = Command(t.text)
        elif t.kind == "CODE":
            self.i += 1
            action = CodeBlock(t.text)
        elif t.kind == "WORD" and self.is_punct("(", 1):
            action = self.syscall()
        else:
            raise ParseError(t.line, f"syntax error in event at '{t.text}'")
        if ts.block_end is not None and not isinstance(action, Syscall):
            raise ParseError(line, "a time with '...' is only for system calls")
        return Event(line, ts, action)

    def _time_value(self) -> tuple[int, bool]:
        rel = False
        if self.is_punct("+"):
            self.i += 1
            rel = True
        v = self.number()
        if v < 0:
            raise ParseError(self.line(), "negative time")
        return _usecs(v), rel

    def time_spec(self) -> TimeSpec:
        if self.is_punct("*"):
            self.i += 1
            return TimeSpec("any")
        usecs, rel = self._time_value()
        ts = TimeSpec("rel" if rel else "abs", usecs)
        if self.is_punct("~"):
            self.i += 1
            ts.end, ts.end_rel = self._time_value()
        t = self.peek()
        if t is not None and t.kind == "ELLIPSIS":
            self.i += 1
            ts.block_end, ts.block_rel = self._time_value()
        return ts

    # -- packets ------------------------------------------------------------------
    def packet(self) -> PacketSpec:
        direction = self.next().text
        pkt = PacketSpec(direction, "")
        if self.is_punct("(") or self.is_punct("["):
            close = ")" if self.next().text == "(" else "]"
            self.ip_info(pkt, close)
        t = self.peek()
        if t is not None and t.kind == "WORD" and t.text in ("icmp", "udp", "ipv4", "ipv6",
                                                              "gre", "mpls", "encap"):
            if t.text == "icmp":
                return self.icmp(pkt)
            pkt.unsupported = f"unsupported: {t.text} packet"
            self.skip_line(t.line)
            return pkt
        pkt.flags = self.flags()
        pkt.seq = self.integer()
        self.expect_punct(":")
        pkt.end_seq = self.integer()
        self.expect_punct("(")
        pkt.length = self.integer()
        self.expect_punct(")")
        self.packet_tail(pkt)
        return pkt

    def skip_line(self, line: int) -> None:
        while (t := self.peek()) is not None and t.line == line:
            self.i += 1

    def ip_info(self, pkt: PacketSpec, close: str) -> None:
        while not self.is_punct(close):
            t = self.next()
            if t.kind == "WORD" and t.text in _IP_ECN:
                pkt.ecn = t.text
            elif t.kind == "WORD" and t.text == "tos":
                pkt.tos = self.integer()
            elif t.kind == "WORD" and t.text == "ttl":
                pkt.ttl = self.integer()
            elif t.kind == "WORD" and t.text == "flowlabel":
                self.integer()
            elif not (t.kind == "PUNCT" and t.text == ","):
                raise ParseError(t.line, f"syntax error in ip info at '{t.text}'")
        self.i += 1

    def flags(self) -> str:
        t = self.next()
        if t.kind == "PUNCT" and t.text in ".-":
            return "" if t.text == "-" else "."
        if t.kind != "WORD" or not set(t.text) <= _FLAG_LETTERS:
            raise ParseError(t.line, f"syntax error: bad TCP flags '{t.text}'")
        text = t.text
        if self.is_punct("."):
            self.i += 1
            text += "."
        return text

    def packet_tail(self, pkt: PacketSpec) -> None:
        while True:
            if self.is_word("ack"):
                self.i += 1
                pkt.ack = self.integer()
            elif self.is_word("win"):
                self.i += 1
                pkt.win = self.integer()
            elif self.is_word("urg"):
                self.i += 1
                pkt.urg = self.integer()
            elif self.is_punct("<"):
                self.i += 1
                t = self.peek()
                if t is not None and t.kind == "ELLIPSIS":
                    self.i += 1
                    pkt.any_options = True
                    self.expect_punct(">")
                else:
                    pkt.options = self.tcp_options()
            else:
                return

    def tcp_options(self) -> list[TcpOption]:
        opts: list[TcpOption] = []
        while True:
            t = self.next()
            if t.kind != "WORD":
                raise ParseError(t.line, f"syntax error in TCP options at '{t.text}'")
            name = t.text
            if name in ("nop", "eol", "sackOK"):
                opts.append(TcpOption(name))
            elif name in ("mss", "wscale"):
                opts.append(TcpOption(name, [self.integer()]))
            elif name == "sack":
                blocks: list[tuple[int, int]] = []
                while (n := self.peek()) is not None and n.kind == "NUM":
                    left = self.integer()
                    self.expect_punct(":")
                    blocks.append((left, self.integer()))
                opts.append(TcpOption(name, blocks=blocks))
            elif name == "TS":
                self.expect_word("val")
                val = self.integer()
                self.expect_word("ecr")
                opts.append(TcpOption(name, [val, self.integer()]))
            elif name == "md5":  # RFC 2385 option: 16 digest bytes in hex
                t = self.next()
                text = t.text[2:] if t.text.startswith("0x") else t.text
                try:
                    digest = bytes.fromhex(text)
                except ValueError:
                    digest = b""
                if len(digest) != 16:
                    raise ParseError(t.line, f"bad md5 digest '{t.text}' (32 hex digits)")
                opts.append(TcpOption(name, list(digest)))
            elif name in ("FO", "FOEXP"):
                # TCP Fast Open: an optional cookie of hex digits (a WORD or a NUM;
                # run_all.py's -D TFO_COOKIE=... symbol)
                text = ""
                if not (self.is_punct(",") or self.is_punct(">")):
                    text = self.next().text
                opts.append(TcpOption(name, fastopen_cookie(t.line, text)))
            else:
                # FO / FOEXP / md5 / ECN / experimental: keep the raw words; unsupported
                vals: list[int] = []
                while not (self.is_punct(",") or self.is_punct(">")):
                    n = self.next()
                    if n.kind == "NUM" and isinstance(n.value, int):
                        vals.append(n.value)
                opts.append(TcpOption(name, vals))
            if self.is_punct(">"):
                self.i += 1
                return opts
            self.expect_punct(",")

    def icmp(self, pkt: PacketSpec) -> PacketSpec:
        line = self.next().line
        words: list[str] = []
        mtu: int | None = None
        while self.is_word_any() and not self.is_word("mtu"):
            words.append(self.next().text)
        if self.is_word("mtu"):
            self.i += 1
            mtu = self.integer()
        itype = words[0] if words else ""
        icode = words[1] if len(words) > 1 else ""
        pkt.icmp = (itype, icode, mtu)
        pkt.flags = "icmp"
        if self.is_punct("["):
            self.i += 1
            inner = PacketSpec(pkt.direction, "")
            if not self.is_punct("]"):
                if self.peek() is not None and self.peek().kind == "WORD":  # type: ignore[union-attr]
                    inner.flags = self.flags()
                inner.seq = self.integer()
                self.expect_punct(":")
                inner.end_seq = self.integer()
                self.expect_punct("(")
                inner.length = self.integer()
                self.expect_punct(")")
                self.packet_tail(inner)
            self.expect_punct("]")
            pkt.icmp_tcp = inner
        del line
        return pkt

    def is_word_any(self) -> bool:
        t = self.peek()
        return t is not None and t.kind == "WORD"

    # -- system calls ---------------------------------------------------------------
    def syscall(self) -> Syscall:
        name = self.next().text
        self.expect_punct("(")
        args = self.expr_list(")")
        self.expect_punct("=")
        result = self.expr()
        err: str | None = None
        t = self.peek()
        if t is not None and t.kind == "WORD" and t.text.startswith("E") and t.text.isupper():
            self.i += 1
            err = t.text
        if self.is_punct("("):  # a note: skip to the matching ')'
            depth = 0
            while True:
                t = self.next()
                if t.kind == "PUNCT" and t.text == "(":
                    depth += 1
                elif t.kind == "PUNCT" and t.text == ")":
                    depth -= 1
                    if depth == 0:
                        break
        return Syscall(name, args, result, err)

    def expr_list(self, close: str) -> list[Expr]:
        items: list[Expr] = []
        if self.is_punct(close):
            self.i += 1
            return items
        while True:
            items.append(self.expr())
            t = self.next()
            if t.kind == "PUNCT" and t.text == close:
                return items
            if not (t.kind == "PUNCT" and t.text == ","):
                raise ParseError(t.line, f"syntax error in arguments at '{t.text}'")

    def expr(self) -> Expr:
        first = self.primary()
        if not self.is_punct("|"):
            return first
        items = [first]
        while self.is_punct("|"):
            self.i += 1
            items.append(self.primary())
        return Expr("or", items=items)

    def primary(self) -> Expr:
        t = self.next()
        if t.kind == "ELLIPSIS":
            return Expr("ellipsis")
        if t.kind == "NUM":
            return Expr("int", t.value)
        if t.kind == "STRING":
            return Expr("string", t.text)
        if t.kind == "PUNCT" and t.text == "[":
            return Expr("list", items=self.expr_list("]"))
        if t.kind == "PUNCT" and t.text == "{":
            return Expr("struct", items=self.expr_list("}"))
        if t.kind == "PUNCT" and t.text == "-" and self.peek() is not None:
            v = self.number()
            return Expr("int", -v)
        if t.kind == "WORD":
            node = Expr("word", t.text, name=t.text)
            if self.is_punct("("):
                self.i += 1
                node = Expr("call", name=t.text, items=self.expr_list(")"))
            if self.is_punct("="):
                self.i += 1
                return Expr("field", name=t.text, value=node, items=[self.expr()])
            return node
        raise ParseError(t.line, f"syntax error in expression at '{t.text}'")


def parse_script(text: str) -> Script:
    """Parse a packetdrill script (raises ParseError with the line on bad syntax)."""
    try:
        toks = tokenize(text)
    except LexError as e:
        raise ParseError(e.line, str(e)) from None
    return _Parser(toks).script()


# run_all.py's -D symbols for IPv4 (gtests/net/packetdrill/run_all.py): the cookie Linux
# computes for 192.0.2.1 -> 192.168.0.1 under defaults.sh's tcp_fastopen_key
RUN_ALL_DEFINES = {"TFO_COOKIE": "3021b9d889017eeb", "CODE": "host_unreachable"}
_MAX_TCP_FAST_OPEN_COOKIE_BYTES = 38  # what fits the option space (40 - kind - len)


def fastopen_cookie(line: int, text: str) -> list[int]:
    """new_tcp_fast_open_option(): the cookie's bytes from its hex digits (an even
    number, at most 16 bytes)."""
    text = RUN_ALL_DEFINES.get(text, text)
    if len(text) % 2:
        raise ParseError(line, "TCP fast open cookie has an odd number of digits")
    if len(text) // 2 > _MAX_TCP_FAST_OPEN_COOKIE_BYTES:
        raise ParseError(line, "TCP fast open cookie too long")
    try:
        return list(bytes.fromhex(text))
    except ValueError:
        raise ParseError(line, f"TCP fast open cookie is not hex: {text}") from None
