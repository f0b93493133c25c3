"""The column layout of iproute2's ``ss`` (misc/ss.c, iproute2 6.1: struct column,
out / field_next / field_flush, render_calc_width, render).

ss buffers every field of every line as a token, then sizes each column to its
widest token and prints. The ten columns, in order: Netid, State, Recv-Q, Send-Q,
``Local Address:`` (right-aligned), Port, ``Peer Address:`` (right-aligned), Port, an
extension column (header ``Process``: users, timer, -e details and, after ``\\n\\t``,
the -m/-i line all go there) and a last, header-less column. A column other than the
first visible one gets its one-space left delimiter added to its width. Output that
is not a terminal is compact (columns exactly as wide as their content); on a
terminal of ``screen_width`` columns the spare room is spread over the columns of each
line, as render_calc_width's second pass does.
"""

from __future__ import annotations

__all__ = ["COL_ADDR", "COL_EXT", "COL_MAX", "COL_NETID", "COL_PROC", "COL_RADDR",
           "COL_RECVQ", "COL_RSERV", "COL_SENDQ", "COL_SERV", "COL_STATE", "HEADERS",
           "render"]

(COL_NETID, COL_STATE, COL_RECVQ, COL_SENDQ, COL_ADDR, COL_SERV, COL_RADDR, COL_RSERV,
 COL_EXT, COL_PROC) = range(10)
COL_MAX = 10
_LEFT, _RIGHT = 0, 2
# columns[]: (align, header, left delimiter)
_COLUMNS = (
    (_LEFT, "Netid", ""), (_LEFT, "State", " "), (_LEFT, "Recv-Q", " "),
    (_LEFT, "Send-Q", " "), (_RIGHT, "Local Address:", " "), (_LEFT, "Port", ""),
    (_RIGHT, "Peer Address:", " "), (_LEFT, "Port", ""), (_LEFT, "Process", ""),
    (_LEFT, "", ""),
)
HEADERS = tuple(c[1] for c in _COLUMNS)


def _widths(rows: list[list[str]], disabled: frozenset[int],
            screen_width: int | None, open_last: bool) -> list[int]:
    """render_calc_width(): each column's width from its longest token (plus the left
    delimiter unless it is the first non-empty column); on a terminal, the room left on
    each output line is shared out among that line's columns. ``open_last``: the last
    row's extension token was never flushed, so it does not count (field_flush keeps
    max_len; render() runs without flushing the field being written)."""
    width = [0] * COL_MAX
    max_len = [0] * COL_MAX
    for n, row in enumerate(rows):
        for i, tok in enumerate(row):
            if open_last and n == len(rows) - 1 and i >= COL_EXT:
                continue
            if len(tok) > max_len[i]:
                max_len[i] = len(tok)
    limit = screen_width if screen_width is not None else 1 << 31
    first = True
    for i in range(COL_MAX):
        if i in disabled:
            continue
        w = max_len[i] + len(_COLUMNS[i][2]) if not first and max_len[i] else max_len[i]
        width[i] = min(w, limit)
        if width[i]:
            first = False
    if screen_width is None:
        return width
    eol = -1
    length = linecols = 0
    i = 0
    while i < COL_MAX:
        if not width[i]:
            i += 1
            continue
        linecols += 1
        length += width[i]
        last = not any(width[j] for j in range(i + 1, COL_MAX))
        if not last and length < screen_width:
            i += 1
            continue
        if length != screen_width:
            if length > screen_width:  # go back one column
                length -= width[i]
                i -= 1
                linecols -= 1
            pad = screen_width - length
            spacing, rem = divmod(pad, linecols) if linecols else (0, 0)
            for j in range(i, eol, -1):
                if not width[j]:
                    continue
                width[j] += spacing
                if rem:
                    width[j] += 1
                    rem -= 1
        eol = i
        length = linecols = 0
        i += 1
    return width


def render(rows: list[list[str]], disabled: frozenset[int] = frozenset(),
           screen_width: int | None = None, open_last: bool = True) -> str:
    """render(): the text ss prints for ``rows`` (each a list of COL_MAX tokens; those of
    disabled columns are ignored). ``screen_width`` None: not a terminal (compact).
    ``open_last``: the last row is a socket's (its extension field still open), not
    the header's."""
    if not rows:
        return ""
    width = _widths([[t if i not in disabled else "" for i, t in enumerate(r)]
                     for r in rows], disabled, screen_width, open_last)
    out: list[str] = []
    for row in rows:
        line_started = False
        for i in range(COL_MAX):
            if i in disabled:
                continue
            tok = row[i]
            align, _hdr, delim = _COLUMNS[i]
            printed = 0
            if line_started:
                out.append(delim)
                printed = len(delim)
            line_started = True
            w = width[i]
            if w and align != _LEFT:
                s = w - len(tok) - printed
                if s > 0:
                    out.append(" " * s)
                    printed += s
            out.append(tok)
            printed += len(tok)
            if w and align != _RIGHT and w - printed > 0:
                out.append(" " * (w - printed))
        out.append("\n")
    return "".join(out)
