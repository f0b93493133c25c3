"""Typed errors of the eBPF subsystem: one class per stage that can reject a program.

Every way a program can be refused or stopped ends in a subclass of :class:`BpfError`
with a message that names the place (source line or instruction index) and the cause;
nothing below raises a bare ``IndexError``/``struct.error`` at its caller.
"""

from __future__ import annotations


class BpfError(Exception):
    """Base class of every eBPF error raised by tuxnet.bpf."""


class BpfAsmError(BpfError):
    """The assembler rejected the source text (``line`` is 1-based, 0 if unknown)."""

    def __init__(self, message: str, line: int = 0, text: str = "") -> None:
        self.line = line
        self.text = text
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{message}")


class BpfEncodeError(BpfError):
    """An instruction field does not fit its encoding (e.g. imm outside 32 bits)."""


class BpfInvalidInsn(BpfError):
    """An instruction encoding is invalid (unknown opcode, reserved field not zero, ...).

    ``pc`` is the index of the offending 8-byte slot.
    """

    def __init__(self, message: str, pc: int = -1) -> None:
        self.pc = pc
        where = f"insn {pc}: " if pc >= 0 else ""
        super().__init__(f"{where}{message}")


class BpfLoadError(BpfError):
    """The program as a whole is malformed (empty, bad jump target, incomplete lddw...)."""

    def __init__(self, message: str, pc: int = -1) -> None:
        self.pc = pc
        where = f"insn {pc}: " if pc >= 0 else ""
        super().__init__(f"{where}{message}")


class BpfRuntimeError(BpfError):
    """The program faulted while running; ``pc`` is the faulting instruction."""

    def __init__(self, message: str, pc: int = -1) -> None:
        self.pc = pc
        where = f"insn {pc}: " if pc >= 0 else ""
        super().__init__(f"{where}{message}")


class BpfMemoryError(BpfRuntimeError):
    """A load, store or helper touched memory outside every mapped region."""


class BpfInsnLimitError(BpfRuntimeError):
    """The program executed more instructions than its budget allows."""


class BpfCallError(BpfRuntimeError):
    """A call failed: unknown helper, call stack too deep, bad tail call target..."""
