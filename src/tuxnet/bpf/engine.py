"""What an eBPF execution engine offers: the seam between the interpreter and later engines.

The interpreter (``tuxnet.bpf.interp.Interpreter``) is the reference; a translator
(Python code generation) will implement the same protocol over the same address space
(``tuxnet.bpf.memory``) and helper contract (``tuxnet.bpf.helpers``), so callers (the
XDP hook, the conformance runner, tests) can swap engines without other changes.
"""

from __future__ import annotations

from typing import Protocol

from tuxnet.bpf.memory import AddressSpace
from tuxnet.bpf.program import Program


class BpfEngine(Protocol):
    """Runs loaded programs and reports how many instructions the last run executed."""

    @property
    def mem(self) -> AddressSpace: ...

    @property
    def insns_executed(self) -> int: ...

    def load(self, prog: Program) -> object:
        """Prepare ``prog`` for running; raises load-time errors (unknown helper, ...)."""
        ...

    def run(self, prog: Program, mem: bytes | bytearray | None = None) -> int:
        """r1 = &mem, r2 = len(mem); return r0."""
        ...

    def call(self, prog: Program, *args: int) -> int:
        """r1..r5 = args; return r0."""
        ...
