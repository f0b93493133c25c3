"""Helper functions callable from eBPF: the calling contract and uBPF's test helpers.

A helper is ``fn(env, r1, r2, r3, r4, r5) -> r0``: it receives the five argument
registers as unsigned 64-bit integers and returns r0 (masked to 64 bits by the caller).
Pointers are addresses in ``env.mem`` (see ``tuxnet.bpf.memory``); a helper touches
program memory only through ``env.mem``, whose methods raise ``BpfMemoryError`` on a
bad pointer. A helper may raise :class:`ProgramExit` to end the program at once
(uBPF's "unwind" convention).

Helper tables are plain ``dict[int, Helper]`` keyed by helper id, so an engine can mix
the kernel's numbering (``BPF_FUNC_*``, added with maps) and test numberings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from tuxnet.bpf.memory import AddressSpace

M64 = 0xFFFF_FFFF_FFFF_FFFF


class HelperEnv(Protocol):
    """What a helper may see of the engine running it."""

    @property
    def mem(self) -> AddressSpace: ...


Helper = Callable[[HelperEnv, int, int, int, int, int], int]


class ProgramExit(Exception):
    """Raised by a helper to stop the program immediately with r0 = ``value``."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value & M64


# --- uBPF's test helpers (the numbering bpf_conformance files use) ---------------------
# ubpf test.c register_functions: 0 gather_bytes, 1 memfrob, 2 trash_registers,
# 3 sqrti, 4 strcmp_ext, 5 unwind (set as the unwind function: returning 0 stops).

def gather_bytes(env: HelperEnv, a: int, b: int, c: int, d: int, e: int) -> int:
    """uBPF gather_bytes(u8 a..e): a<<32 | b<<24 | c<<16 | d<<8 | e."""
    return ((a & 0xFF) << 32) | ((b & 0xFF) << 24) | ((c & 0xFF) << 16) | ((d & 0xFF) << 8) \
        | (e & 0xFF)


def memfrob(env: HelperEnv, ptr: int, n: int, _c: int, _d: int, _e: int) -> int:
    """glibc memfrob(s, n): XOR each byte with 42; returns s."""
    view = env.mem.view(ptr, n, write=True)
    view[:] = bytes(x ^ 42 for x in view)
    return ptr


def trash_registers(env: HelperEnv, _a: int, _b: int, _c: int, _d: int, _e: int) -> int:
    """uBPF trash_registers: clobbers the *host's* caller-saved registers; no BPF effect."""
    return 0


def sqrti(env: HelperEnv, x: int, _b: int, _c: int, _d: int, _e: int) -> int:
    """uBPF sqrti(u32 x): integer square root."""
    return math.isqrt(x & 0xFFFF_FFFF)


def strcmp_ext(env: HelperEnv, a: int, b: int, _c: int, _d: int, _e: int) -> int:
    """C strcmp on two NUL-terminated strings: <0, 0 or >0 (as a 64-bit register)."""
    sa, sb = env.mem.cstring(a), env.mem.cstring(b)
    for x, y in zip(sa + b"\0", sb + b"\0", strict=False):
        if x != y:
            return (x - y) & M64
    return 0


def unwind(env: HelperEnv, i: int, _b: int, _c: int, _d: int, _e: int) -> int:
    """uBPF unwind(i): returns i; when that is 0 the program stops with r0 = 0."""
    if i == 0:
        raise ProgramExit(0)
    return i


def ubpf_test_helpers() -> dict[int, Helper]:
    """The helper table of uBPF's test runner, used by the bpf_conformance files."""
    return {0: gather_bytes, 1: memfrob, 2: trash_registers, 3: sqrti, 4: strcmp_ext,
            5: unwind}
