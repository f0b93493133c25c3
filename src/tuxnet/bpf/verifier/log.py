"""The verifier log (kernel/bpf/log.c): what ``log_level`` 1 and 2 print.

Level 1 keeps the instructions of the path being verified and drops each path that
verified safely, so a rejection shows the failing path; level 2 keeps everything and
adds the register state after each instruction (``0: (b7) r0 = 0 ; R0=0``). Level 0
records only the error.
"""

from __future__ import annotations

BPF_LOG_LEVEL1 = 1
BPF_LOG_LEVEL2 = 2
_INSN_COLUMN = 38  # the kernel pads the instruction to this width before "; state"


class VerifierLog:
    __slots__ = ("level", "lines")

    def __init__(self, level: int = 0) -> None:
        self.level = level
        self.lines: list[str] = []

    def __call__(self, text: str) -> None:
        if self.level:
            self.lines.append(text)

    def always(self, text: str) -> None:
        self.lines.append(text)

    def amend(self, pos: int, state: str) -> None:
        """Append ``; state`` to the instruction line at ``pos`` (level 2)."""
        if state and self.level >= BPF_LOG_LEVEL2 and pos < len(self.lines):
            self.lines[pos] = f"{self.lines[pos]:<{_INSN_COLUMN}}; {state}"

    def mark(self) -> int:
        return len(self.lines)

    def reset(self, pos: int) -> None:
        del self.lines[pos:]

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)
