"""Shared helpers for the benchmarks: argument parsing, timing, table and ratio lines.

Every benchmark runs tuxnet and its peers in the same process, prints a table, then
one ``ratio: <metric> tuxnet/<peer> = <x>`` line per comparison (higher is better).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_SRC = Path(__file__).resolve().parents[1] / "src"
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))


def parse_args(description: str) -> argparse.Namespace:
    """--quick (a tiny run that checks the output's shape) and --seconds per case."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="tiny run, for tests")
    ap.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="time budget per measured case (default 1.0, quick 0.02)",
    )
    args = ap.parse_args()
    if args.seconds is None:
        args.seconds = 0.02 if args.quick else 1.0
    return args


def rate(fn: Callable[[], object], seconds: float, repeats: int = 5) -> float:
    """Calls per second of ``fn``: the best of ``repeats`` timed batches sized so that
    all of them together take about ``seconds``."""
    clock = time.perf_counter
    n = 1
    while True:  # calibrate a batch to ~1/repeats of the budget
        t0 = clock()
        for _ in range(n):
            fn()
        dt = clock() - t0
        if dt >= seconds / repeats / 4 or n >= 1 << 24:
            break
        n *= 4
    batch = max(1, int(n * (seconds / repeats) / max(dt, 1e-9)))
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        for _ in range(batch):
            fn()
        best = min(best, (clock() - t0) / batch)
    return 1.0 / best


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "  ".join(
            c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if v >= 100 else f"{v:.3f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def ratio_line(metric: str, peer: str, value: float) -> str:
    """The machine-read line: ``ratio: <metric> tuxnet/<peer> = <x>``."""
    return f"ratio: {metric} tuxnet/{peer} = {value:.2f}"
