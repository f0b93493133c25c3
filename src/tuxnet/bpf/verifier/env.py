"""Shared state of one verification run (``struct bpf_verifier_env``), its options and
its error type. The checks live in mixins (``memcheck``, ``alucheck``, ``branch``,
``calls``) over :class:`CheckerBase`; ``checker`` ties them into the main loop.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from tuxnet.bpf.errors import BpfLoadError
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.verifier.context import ProgContext
from tuxnet.bpf.verifier.log import VerifierLog
from tuxnet.bpf.verifier.protos import FuncProto
from tuxnet.bpf.verifier.reg import MapInfo, Reg, RegType
from tuxnet.bpf.verifier.state import Frame, State

BPF_MAX_VAR_OFF = 1 << 29  # include/linux/bpf_verifier.h
BPF_MAX_VAR_SIZ = 1 << 29
MAX_PACKET_OFF = 0xFFFF


@dataclass(frozen=True)
class Caps:
    """The loader's capabilities, which decide several of the kernel's rules.

    ``bpf_capable`` (CAP_BPF): bounded loops are allowed (without it a back-edge is
    rejected, as all kernels before 5.3 did). ``perfmon_capable`` (CAP_PERFMON or
    CAP_SYS_ADMIN): ``allow_ptr_leaks`` and ``allow_uninit_stack`` — pointers may be
    compared, subtracted, returned and stored in maps, and uninitialised stack may be
    read (kernel/bpf/verifier.c: bpf_check sets these from the capabilities).
    """

    bpf_capable: bool = True
    perfmon_capable: bool = True

    @property
    def allow_ptr_leaks(self) -> bool:
        return self.perfmon_capable

    @property
    def allow_uninit_stack(self) -> bool:
        return self.perfmon_capable


ROOT = Caps()                                       # CAP_SYS_ADMIN: what root gets
CAP_BPF = Caps(bpf_capable=True, perfmon_capable=False)  # CAP_BPF + CAP_NET_ADMIN only
UNPRIVILEGED = Caps(bpf_capable=False, perfmon_capable=False)


class MapResolver(Protocol):
    """How lddw's map references (BPF_PSEUDO_MAP_FD / _IDX) find their map."""

    def map_by_fd(self, fd: int) -> MapInfo | None: ...

    def map_by_index(self, idx: int) -> MapInfo | None: ...


class BpfVerifierError(BpfLoadError):
    """The verifier rejected the program: ``message`` in the kernel's words, ``pc`` the
    instruction, ``errno`` what bpf(BPF_PROG_LOAD) would fail with, ``log`` the log."""

    def __init__(self, message: str, pc: int = -1, err: int = errno.EACCES,
                 log: str = "") -> None:
        super().__init__(message, pc)
        self.message = message
        self.errno = err
        self.log = log


class CheckerBase:
    """Attributes and small services every check needs."""

    insns: Sequence[Insn]
    ctx: ProgContext
    maps: MapResolver | None
    caps: Caps
    protos: Mapping[int, FuncProto]
    allowed_funcs: frozenset[int]
    log: VerifierLog
    state: State
    pc: int
    id_gen: int
    subprog_starts: list[int]
    mem_types: dict[int, RegType]

    def error(self, message: str, err: int = errno.EACCES) -> BpfVerifierError:
        """Log ``message`` (one line or several) and build the error to raise."""
        for line in message.split("\n"):
            self.log.always(line)
        return BpfVerifierError(message.split("\n")[-1], self.pc, err)

    def new_id(self) -> int:
        self.id_gen += 1
        return self.id_gen

    @property
    def frame(self) -> Frame:
        return self.state.frames[-1]

    def reg(self, regno: int) -> Reg:
        return self.state.frames[-1].regs[regno]

    def set_reg(self, regno: int, r: Reg) -> None:
        """check_reg_arg(DST_OP): define a register of the current frame."""
        self.state.frames[-1].regs[regno] = r
        self.state.written.add((len(self.state.frames) - 1, regno))

    def read_reg(self, regno: int) -> Reg:
        """check_reg_arg(SRC_OP): the register must hold a value."""
        r = self.state.frames[-1].regs[regno]
        if r.type == RegType.NOT_INIT:
            raise self.error(f"R{regno} !read_ok")
        self.mark_read(len(self.state.frames) - 1, regno)
        return r

    def mark_read(self, depth: int, regno: int) -> None:
        """mark_reg_read: the checkpoints up to the register's last definition depend on
        its value (their states will compare it when pruning)."""
        key = (depth, regno)
        if key in self.state.written:
            return
        cp = self.state.checkpoint
        while cp is not None and key not in cp.read and depth < len(cp.state.frames):
            cp.read.add(key)
            if key in cp.seg_written:
                return
            cp = cp.parent

    def is_pointer_value(self, r: Reg) -> bool:
        """__is_pointer_value: a pointer that may not leak (only without CAP_PERFMON)."""
        return not self.caps.allow_ptr_leaks and r.is_pointer
