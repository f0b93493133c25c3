"""``nstat`` in script shell commands (iproute2 misc/nstat.c), and ``nstat | grep ...``
pipelines: ``nstat`` prints the counters that changed since its previous run (a history
kept per script), ``-n`` only records, ``-a`` prints absolute values; a ``grep``
stage filters lines and fails the command (exit status 1) when none is left."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tuxnet.mib import NSTAT_USELESS

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["NstatError", "run_nstat"]


class NstatError(Exception):
    """The pipeline's exit status is not 0 (grep matched nothing)."""


def _nstat(host: Host, args: list[str], state: dict[str, object]) -> list[str]:
    counters = host.mib.counters()
    hist = state.get("nstat_history")
    prev: dict[str, int] = hist if isinstance(hist, dict) else {}
    absolute = any(a.startswith("-") and "a" in a for a in args)
    zeros = any(a.startswith("-") and "z" in a for a in args)
    record_only = any(a.startswith("-") and "n" in a for a in args)
    state["nstat_history"] = dict(counters)
    if record_only:
        return []
    lines = ["#kernel"]
    for name, value in counters.items():
        if name in NSTAT_USELESS:
            continue
        v = value if absolute else value - prev.get(name, 0)
        if v == 0 and not zeros:
            continue
        lines.append(f"{name:<32s}{v & 0xFFFFFFFFFFFFFFFF:<16d}{0.0:6.1f}")
    return lines


def run_nstat(host: Host, words: list[str], state: dict[str, object]) -> None:
    """Run ``nstat [opts] [| grep [-q|-v|-E] PATTERN]...`` (output goes nowhere)."""
    stages: list[list[str]] = [[]]
    for w in words:
        if w == "|":
            stages.append([])
        else:
            stages[-1].append(w)
    lines = _nstat(host, stages[0][1:], state)
    for stage in stages[1:]:
        if not stage or stage[0] != "grep":
            raise NstatError(f"unsupported: nstat pipeline stage {' '.join(stage)!r}")
        opts = [a for a in stage[1:] if a.startswith("-")]
        pats = [a for a in stage[1:] if not a.startswith("-")]
        if len(pats) != 1:
            raise NstatError("unsupported: grep form")
        rx = re.compile(pats[0])
        invert = any("v" in o for o in opts)
        lines = [ln for ln in lines if bool(rx.search(ln)) != invert]
        if not lines:
            raise NstatError(f"grep {pats[0]!r}: no match (exit status 1)")
