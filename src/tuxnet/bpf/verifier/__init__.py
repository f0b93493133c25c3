"""The eBPF verifier, in the spirit of the kernel's (kernel/bpf/verifier.c).

``verify(prog, ctx)`` explores every path of a program with abstract register and
stack states and either accepts it or rejects it with the kernel's message, the
instruction index and an errno, plus a log like the kernel's (``log_level`` 1 or 2).
What it accepts runs without out-of-bounds accesses (the engines still check).

Modules: ``tnum`` (known bits), ``reg`` (register states), ``scalar`` (abstract
arithmetic), ``state`` (frames, stack slots, pruning), ``cfg`` (control-flow checks),
``context`` (XDP's xdp_md, the raw conformance context), ``protos`` (helper
prototypes), ``memcheck``/``alucheck``/``branch``/``calls`` (the per-instruction
checks), ``liveness`` and ``precision`` (what pruning may ignore), ``checker`` (the
main loop), ``log``, ``fixup`` (rewriting xdp_md loads for running).
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tuxnet.bpf.errors import BpfError
from tuxnet.bpf.isa import BPF_COMPLEXITY_LIMIT_INSNS, Insn
from tuxnet.bpf.program import Program
from tuxnet.bpf.verifier.checker import Checker
from tuxnet.bpf.verifier.context import XDP, ProgContext, RawContext, raw_context, xdp_context
from tuxnet.bpf.verifier.env import (
    CAP_BPF,
    ROOT,
    UNPRIVILEGED,
    BpfVerifierError,
    Caps,
    MapResolver,
)
from tuxnet.bpf.verifier.log import VerifierLog
from tuxnet.bpf.verifier.protos import BASE_FUNCS, PROTOS, XDP_FUNCS, FuncProto
from tuxnet.bpf.verifier.reg import MapInfo, Reg, RegType
from tuxnet.bpf.verifier.state import Frame

__all__ = [
    "CAP_BPF", "ROOT", "UNPRIVILEGED", "XDP", "BpfVerifierError", "Caps", "Frame",
    "FuncProto", "MapInfo", "MapResolver", "ProgContext", "RawContext", "Reg", "RegType",
    "VerifierResult", "raw_context", "verify", "xdp_context",
]


@dataclass
class VerifierResult:
    """The verdict: ``ok``, or the kernel-style ``message`` at instruction ``pc``."""

    ok: bool
    message: str = ""
    pc: int = -1
    errno: int = 0
    log: str = ""
    insns_processed: int = 0
    total_states: int = 0
    # pc -> the kind of pointer each load/store/atomic went through (insn_aux_data)
    mem_types: dict[int, RegType] = field(default_factory=dict)

    def raise_for_error(self) -> None:
        if not self.ok:
            raise BpfVerifierError(self.message, self.pc, self.errno, self.log)


def verify(prog: Program | Sequence[Insn], ctx: ProgContext = XDP, *,
           maps: MapResolver | None = None, caps: Caps = ROOT, log_level: int = 0,
           insn_limit: int = BPF_COMPLEXITY_LIMIT_INSNS,
           protos: Mapping[int, FuncProto] | None = None,
           allowed_funcs: frozenset[int] | None = None,
           entry: Mapping[int, Reg] | None = None,
           entry_stack: Frame | None = None, prune: bool = True) -> VerifierResult:
    """Verify ``prog`` for the program type ``ctx`` (default XDP).

    ``maps`` resolves lddw map references; ``caps`` are the loader's capabilities
    (default: root); ``insn_limit`` is the complexity limit (the kernel's 1,000,000
    processed instructions). ``protos``/``allowed_funcs`` replace the helper table
    (default: the kernel's prototypes; XDP helpers for the XDP context, the base
    helpers otherwise). ``entry``/``entry_stack`` replace the entry registers/stack.
    ``prune=False`` explores every path in full (a check on the pruning logic: it must
    never accept what full exploration rejects).
    """
    log = VerifierLog(log_level)
    try:
        program = prog if isinstance(prog, Program) else Program.load(prog)
    except BpfError as e:
        log.always(str(e))
        return VerifierResult(False, str(e), getattr(e, "pc", -1), errno.EINVAL, log.text())
    if allowed_funcs is None:
        allowed_funcs = XDP_FUNCS if ctx.name == "xdp" else BASE_FUNCS
    checker = Checker(program.insns, ctx, maps=maps, caps=caps, log=log,
                      insn_limit=insn_limit, protos=PROTOS if protos is None else protos,
                      allowed_funcs=allowed_funcs, entry=entry, entry_stack=entry_stack)
    checker.prune = prune
    result = VerifierResult(True)
    try:
        checker.run()
    except BpfVerifierError as e:
        if e.message not in log.lines[-1:]:
            log.always(e.message)
        result = VerifierResult(False, e.message, e.pc, e.errno)
    processed = min(checker.processed, insn_limit + 1)
    log.always(f"processed {processed} insns (limit {insn_limit}) max_states_per_insn "
               f"{checker.max_states_per_insn} total_states {checker.total_states} "
               f"peak_states {checker.total_states} mark_read 0")
    result.log = log.text()
    result.insns_processed = processed
    result.total_states = checker.total_states
    result.mem_types = dict(checker.mem_types)
    return result
