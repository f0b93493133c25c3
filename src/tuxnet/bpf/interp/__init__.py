"""The eBPF interpreter (the reference engine; see ``machine`` for the design)."""

from __future__ import annotations

from tuxnet.bpf.interp.machine import (
    DEFAULT_INSN_LIMIT,
    BPF_FUNC_tail_call,
    Interpreter,
    LdImm64Resolver,
    TailCallHook,
)

__all__ = [
    "DEFAULT_INSN_LIMIT",
    "BPF_FUNC_tail_call",
    "Interpreter",
    "LdImm64Resolver",
    "TailCallHook",
]
