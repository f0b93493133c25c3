"""What every lab prints: an aligned table (first column left, the rest right, a
ruler under the header), its cell formats, the ``--loads`` list parser, and the
choice between the table and one JSON document."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

# (row key, header, kind): kind "d" = integer with thousands separators, "%" = a
# fraction shown as a percentage, "f" = a float (fixed decimals), "s" = as is
Column = tuple[str, str, str]


def format_cell(value: Any, kind: str, decimals: int = 1) -> str:
    """One cell in the given kind."""
    if kind == "d":
        return f"{value:,}"
    if kind == "%":
        return f"{100 * value:.0f}%"
    if kind == "f":
        return f"{value:.{decimals}f}"
    return str(value)


def render_grid(cells: Sequence[Sequence[str]]) -> list[str]:
    """Align rows of cells; the first row is the header, followed by a ruler."""
    if not cells:
        return []
    ncols = len(cells[0])
    widths = [max(len(c[i]) for c in cells) for i in range(ncols)]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(x.ljust(w) if i == 0 else x.rjust(w)
                               for i, (x, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def render_columns(rows: Sequence[dict[str, Any]], columns: Sequence[Column],
                   decimals: int = 1) -> list[str]:
    """The table of ``rows`` over ``columns``."""
    cells = [[title for _, title, _ in columns]]
    cells += [[format_cell(r[key], kind, decimals) for key, _, kind in columns] for r in rows]
    return render_grid(cells)


def parse_loads(text: str) -> tuple[int, ...]:
    """argparse type for ``--loads 10000,50000,...`` (positive packet rates)."""
    try:
        loads = tuple(int(float(x)) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of packet rates: {text!r}") from None
    if not loads or min(loads) <= 0:
        raise argparse.ArgumentTypeError("loads must be positive packet rates")
    return loads


def emit(doc: dict[str, Any], text: str, as_json: bool) -> None:
    """Print the JSON document (``--json``) or the human-readable text."""
    if as_json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text)


def apply_sweep_args(params: Any, args: argparse.Namespace, parser: argparse.ArgumentParser,
                     *, field: str, arg: str, quick_values: Sequence[int],
                     quick_duration_ns: int, quick_warmup_ns: int) -> None:
    """The sweep options every lab shares: ``--quick`` (a short sweep), the swept values
    (``--loads``/``--rates`` into ``params.<field>``) and ``--duration-ms`` (simulated
    time per point; a quarter of it is warm-up)."""
    if args.quick:
        setattr(params, field, quick_values)
        params.duration_ns = quick_duration_ns
        params.warmup_ns = quick_warmup_ns
    values = getattr(args, arg)
    if values:
        setattr(params, field, values)
    if args.duration_ms is not None:
        if args.duration_ms <= 0:
            parser.error("--duration-ms must be positive")
        params.duration_ns = int(args.duration_ms * 1e6)
        params.warmup_ns = params.duration_ns // 4
