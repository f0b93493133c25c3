"""The packetdrill lexer (packetdrill's lexer.l, flex semantics: the longest match wins,
ties go to the earlier rule).

Tokens carry their kind, text and 1-based line. Comments (``// ...`` and ``/* ... */``)
are skipped. Kinds: ``NUM`` (integer, hex or float; ``value`` holds the number),
``WORD``, ``STRING`` (without quotes), ``BACKQ`` (a backquoted shell command),
``CODE`` (a ``%{ ... }%`` block, trimmed), ``OPTION`` (``--name[=value]``), ``ELLIPSIS``
and ``PUNCT`` (one character of ``<>()[]{},:=+*~|.-/!``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LexError", "Token", "tokenize"]


class LexError(Exception):
    """Text the lexer cannot read (an unterminated string, command or code block)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Token:
    """One token: kind, source text, line number, numeric value for NUM."""

    kind: str
    text: str
    line: int
    value: float | int | None = None


# lexer.l: the rules in order; the longest match among them wins
_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("ELLIPSIS", re.compile(r"\.\.\.")),
    ("OPTION", re.compile(r"--[a-zA-Z0-9_]+(=[^ \t\r\n]*)?")),
    ("HEX", re.compile(r"0x[0-9a-fA-F]+")),
    ("FLOAT", re.compile(r"-?[0-9]*\.[0-9]+")),
    ("INTEGER", re.compile(r"-?[0-9]+")),
    ("WORD", re.compile(r"[a-zA-Z0-9_]+")),
]
_PUNCT = set("<>()[]{},:=+*~|.-/!&;")


def _skip_space_and_comments(text: str, i: int, line: int) -> tuple[int, int]:
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r\f\v":
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise LexError(line, "unterminated /* comment")
            line += text.count("\n", i, j)
            i = j + 2
        elif c == "\\" and text.startswith("\\\n", i):
            line += 1
            i += 2
        else:
            break
    return i, line


def tokenize(text: str) -> list[Token]:
    """The token list of a script's text."""
    out: list[Token] = []
    i, line, n = 0, 1, len(text)
    while True:
        i, line = _skip_space_and_comments(text, i, line)
        if i >= n:
            return out
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise LexError(line, "unterminated string")
            out.append(Token("STRING", text[i + 1:j], line))
            line += text.count("\n", i, j)
            i = j + 1
            continue
        if c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise LexError(line, "unterminated backquoted command")
            out.append(Token("BACKQ", text[i + 1:j], line))
            line += text.count("\n", i, j)
            i = j + 1
            continue
        if text.startswith("%{", i):
            j = text.find("}%", i + 2)
            if j < 0:
                raise LexError(line, "unterminated %{ code block")
            out.append(Token("CODE", text[i + 2:j].strip(" \t"), line))
            line += text.count("\n", i, j)
            i = j + 2
            continue
        best: tuple[int, str] | None = None
        for kind, rx in _RULES:
            m = rx.match(text, i)
            if m and (best is None or m.end() > best[0]):
                best = (m.end(), kind)
        if best is not None:
            end, kind = best
            s = text[i:end]
            if kind == "HEX":
                out.append(Token("NUM", s, line, int(s, 16)))
            elif kind == "FLOAT":
                out.append(Token("NUM", s, line, float(s)))
            elif kind == "INTEGER":
                out.append(Token("NUM", s, line, int(s)))
            else:
                out.append(Token(kind, s, line))
            i = end
            continue
        if c in _PUNCT:
            out.append(Token("PUNCT", c, line))
            i += 1
            continue
        raise LexError(line, f"unexpected character {c!r}")
