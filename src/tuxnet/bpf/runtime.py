"""The host side of running eBPF programs: maps and programs by fd, the helpers and
what they read (CPU id, clock, random source, trace buffer), and the hooks the
interpreter and the verifier need (``ld_imm64`` map references, tail calls, map
lookup by fd/index).

    rt = BpfRuntime(cpu=0, ncpus=2, clock=loop.now_ns, rng=random.Random(seed))
    fd = rt.add_map(ArrayMap(4, 8, 16, name="counters"))
    rt.verify(prog).raise_for_error()       # the verifier sees the same maps
    r0 = rt.interpreter().run(prog, packet)

Nothing here reads the wall clock: ``clock`` is the host loop's ``now_ns``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuxnet.bpf import isa
from tuxnet.bpf import kernel_helpers as kh
from tuxnet.bpf.errors import BpfCallError, BpfLoadError
from tuxnet.bpf.helpers import Helper, HelperEnv
from tuxnet.bpf.interp import Interpreter
from tuxnet.bpf.maps.base import (
    BPF_MAP_TYPE_DEVMAP,
    BPF_MAP_TYPE_DEVMAP_HASH,
    BpfMap,
)
from tuxnet.bpf.maps.progarray import ProgArrayMap
from tuxnet.bpf.maps.redirect import _SlotMap
from tuxnet.bpf.memory import AddressSpace
from tuxnet.bpf.program import Program
from tuxnet.bpf.trace import TraceBuffer, TraceEvent, format_printk
from tuxnet.bpf.verifier import VerifierResult, verify
from tuxnet.bpf.verifier import protos as P
from tuxnet.bpf.verifier.context import XDP, ProgContext

FIRST_FD = 3  # 0-2 are stdin/stdout/stderr in the process that loads programs


@dataclass
class RedirectInfo:
    """struct bpf_redirect_info: where the last bpf_redirect*() asked to send the frame."""

    ifindex: int = 0
    map: BpfMap | None = None
    key: int = 0
    flags: int = 0
    target: object | None = None

    def clear(self) -> None:
        self.ifindex, self.map, self.key, self.flags, self.target = 0, None, 0, 0, None


class BpfRuntime:
    def __init__(self, *, cpu: int = 0, ncpus: int = 1, clock: Callable[[], int] | None = None,
                 rng: random.Random | None = None, trace: TraceBuffer | None = None,
                 mem: AddressSpace | None = None, comm: str = "<idle>", pid: int = 0) -> None:
        self.cpu = cpu
        self.ncpus = ncpus
        self.clock: Callable[[], int] = clock if clock is not None else (lambda: 0)
        self.rng = rng if rng is not None else random.Random(0)
        self.trace = trace if trace is not None else TraceBuffer()
        self.mem = mem if mem is not None else AddressSpace()
        self.comm, self.pid = comm, pid
        self.redirect = RedirectInfo()
        # bpf_fib_lookup's backend (the XDP layer binds it to the host's FIB and
        # neighbours): fn(params: bytearray of struct bpf_fib_lookup, flags) -> ret
        self.fib_lookup: Callable[[bytearray, int], int] | None = None
        self._fds: dict[int, BpfMap | Program] = {}
        self._map_list: list[BpfMap] = []
        self._map_at: dict[int, BpfMap] = {}   # map pointer (lddw map_fd value) -> map
        self._map_addr: dict[int, int] = {}    # id(map) -> map pointer
        self._next_fd = FIRST_FD

    # --- registries -------------------------------------------------------------------
    def add_map(self, m: BpfMap) -> int:
        """Register a map; return its fd (and, by order, its BPF_PSEUDO_MAP_IDX index)."""
        fd = self._new_fd(m)
        self._map_list.append(m)
        addr = self.mem.map(memoryview(b"").toreadonly(), f"map_ptr:{m.name}")
        self._map_at[addr] = m
        self._map_addr[id(m)] = addr
        return fd

    def add_prog(self, prog: Program) -> int:
        return self._new_fd(prog)

    def _new_fd(self, obj: BpfMap | Program) -> int:
        fd = self._next_fd
        self._next_fd += 1
        self._fds[fd] = obj
        return fd

    def map_by_fd(self, fd: int) -> BpfMap | None:
        obj = self._fds.get(fd)
        return obj if isinstance(obj, BpfMap) else None

    def map_by_index(self, idx: int) -> BpfMap | None:
        return self._map_list[idx] if 0 <= idx < len(self._map_list) else None

    def prog_by_fd(self, fd: int) -> Program | None:
        obj = self._fds.get(fd)
        return obj if isinstance(obj, Program) else None

    def map_pointer(self, m: BpfMap) -> int:
        return self._map_addr[id(m)]

    def _map(self, ptr: int, helper: str) -> BpfMap:
        m = self._map_at.get(ptr)
        if m is None:
            raise BpfCallError(f"{helper}: 0x{ptr:x} is not a map pointer")
        return m

    # --- hooks for the interpreter and the verifier -----------------------------------
    def resolve_ld_imm64(self, src: int, imm: int, next_imm: int) -> int:
        """lddw with a map reference (RFC 9669 5.4): the map pointer or a value address."""
        by_idx = src in (isa.BPF_PSEUDO_MAP_IDX, isa.BPF_PSEUDO_MAP_IDX_VALUE)
        if src not in (isa.BPF_PSEUDO_MAP_FD, isa.BPF_PSEUDO_MAP_IDX,
                       isa.BPF_PSEUDO_MAP_VALUE, isa.BPF_PSEUDO_MAP_IDX_VALUE):
            raise BpfLoadError(f"lddw src={src} is not supported")
        m = self.map_by_index(imm) if by_idx else self.map_by_fd(imm)
        if m is None:
            raise BpfLoadError(f"{'index' if by_idx else 'fd'} {imm} is not a map")
        if src in (isa.BPF_PSEUDO_MAP_FD, isa.BPF_PSEUDO_MAP_IDX):
            return self.map_pointer(m)
        try:
            return m.direct_value_addr(self.mem, next_imm & 0xFFFF_FFFF)
        except OSError as e:
            raise BpfLoadError(str(e)) from None

    def tail_call(self, ptr: int, index: int) -> Program | None:
        m = self._map(ptr, "bpf_tail_call")
        return m.program(index) if isinstance(m, ProgArrayMap) else None

    def interpreter(self, **kw: Any) -> Interpreter:
        """An interpreter wired to this runtime's memory, maps and helpers."""
        return Interpreter(self.helpers(), tail_call=self.tail_call,
                           ld_imm64=self.resolve_ld_imm64, mem=self.mem, **kw)

    def verify(self, prog: Program, ctx: ProgContext = XDP, **kw: Any) -> VerifierResult:
        return verify(prog, ctx, maps=self, **kw)

    # --- the helpers ----------------------------------------------------------------
    def helpers(self) -> dict[int, Helper]:
        return {
            P.BPF_FUNC_map_lookup_elem: self._lookup,
            P.BPF_FUNC_map_update_elem: self._update,
            P.BPF_FUNC_map_delete_elem: self._delete,
            P.BPF_FUNC_ktime_get_ns: self._ktime,
            P.BPF_FUNC_trace_printk: self._printk,
            P.BPF_FUNC_get_prandom_u32: self._prandom,
            P.BPF_FUNC_get_smp_processor_id: self._cpu,
            P.BPF_FUNC_redirect: self._redirect,
            P.BPF_FUNC_csum_diff: self._csum_diff,
            P.BPF_FUNC_redirect_map: self._redirect_map,
            P.BPF_FUNC_fib_lookup: self._fib_lookup,
        }

    def _fib_lookup(self, env: HelperEnv, r1: int, r2: int, r3: int, r4: int, _5: int) -> int:
        """bpf_xdp_fib_lookup(ctx, params, plen, flags): routes ``params`` in place."""
        if self.fib_lookup is None:
            return -95  # -EOPNOTSUPP: no FIB behind this runtime
        if r3 < 64:  # sizeof(struct bpf_fib_lookup)
            return -22
        params = bytearray(env.mem.read(r2, 64))
        ret = self.fib_lookup(params, r4)
        env.mem.write(r2, bytes(params))
        return ret

    def _lookup(self, env: HelperEnv, r1: int, r2: int, _3: int, _4: int, _5: int) -> int:
        m = self._map(r1, "bpf_map_lookup_elem")
        return m.prog_lookup(env.mem, env.mem.read(r2, m.key_size), self.cpu)

    def _update(self, env: HelperEnv, r1: int, r2: int, r3: int, r4: int, _5: int) -> int:
        m = self._map(r1, "bpf_map_update_elem")
        key = env.mem.read(r2, m.key_size)
        return m.prog_update(key, env.mem.read(r3, m.value_size), r4, self.cpu)

    def _delete(self, env: HelperEnv, r1: int, r2: int, _3: int, _4: int, _5: int) -> int:
        m = self._map(r1, "bpf_map_delete_elem")
        return m.prog_delete(env.mem.read(r2, m.key_size))

    def _ktime(self, env: HelperEnv, *_: int) -> int:
        return self.clock()

    def _prandom(self, env: HelperEnv, *_: int) -> int:
        return self.rng.getrandbits(32)

    def _cpu(self, env: HelperEnv, *_: int) -> int:
        return self.cpu

    def _printk(self, env: HelperEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        fmt = env.mem.read(r1, r2)
        end = fmt.find(b"\0")
        if end < 0:
            return -22  # bpf_bprintf_prepare: the format must be NUL-terminated
        text = format_printk(env.mem, fmt[:end], (r3, r4, r5))
        if isinstance(text, int):
            return text
        self.trace.emit(TraceEvent(self.clock(), self.cpu, text, self.comm, self.pid))
        return len(text)

    def _csum_diff(self, env: HelperEnv, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        old = env.mem.read(r1, r2) if r2 else b""
        new = env.mem.read(r3, r4) if r4 else b""
        return kh.csum_diff(old, new, r5)

    def _redirect(self, env: HelperEnv, r1: int, r2: int, *_: int) -> int:
        self.redirect.clear()
        if r2:
            return kh.redirect_action(r2)
        self.redirect.ifindex = r1 & 0xFFFF_FFFF
        return kh.redirect_action(0)

    def _redirect_map(self, env: HelperEnv, r1: int, r2: int, r3: int, *_: int) -> int:
        m = self._map(r1, "bpf_redirect_map")
        self.redirect.clear()
        allowed = kh.XDP_ACTION_MASK
        if m.map_type in (BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH):
            allowed |= kh.BPF_F_BROADCAST | kh.BPF_F_EXCLUDE_INGRESS
        if r3 & ~allowed:
            return kh.XDP_ABORTED
        key = r2 & 0xFFFF_FFFF
        target = m.target(key) if isinstance(m, _SlotMap) else None
        if target is None and not r3 & kh.BPF_F_BROADCAST:
            return kh.redirect_map_miss(r3)
        self.redirect.map, self.redirect.key = m, key
        self.redirect.flags, self.redirect.target = r3, target
        return kh.XDP_REDIRECT
