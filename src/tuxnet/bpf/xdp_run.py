"""Run an XDP program on one frame in tuxnet, as the kernel's BPF_PROG_TEST_RUN does.

The frame sits in an ``xdp_buff``-like page (:class:`XdpBuff`): 256 bytes of headroom
(XDP_PACKET_HEADROOM) before ``data``, the frame, then room up to the page end less
the ``skb_shared_info`` tailroom, with ``data_meta``/``data``/``data_end`` offsets into
it. The program sees a ``struct xdp_md`` context whose pointer loads are converted
(``tuxnet.bpf.xdp_ctx``), calls the XDP helpers below and the runtime's helpers
(maps, redirect, csum_diff...: ``tuxnet.bpf.runtime``), and returns an action; a
redirect records its target in the runtime's ``RedirectInfo``. The XDP hook in the
driver poll will drive :meth:`XdpRunner.run_buff` on frames in place.

XDP helpers (net/core/filter.c), with the kernel's limits: ``bpf_xdp_adjust_head``
(data may not move below ``data_hard_start + sizeof(struct xdp_frame) + metalen``
nor closer than ETH_HLEN to ``data_end``; metadata moves along),
``bpf_xdp_adjust_meta`` (metadata a multiple of 4 bytes, at most 255, above the
xdp_frame), ``bpf_xdp_adjust_tail`` (not past the hard end, not below ETH_HLEN; grown
bytes are zeroed), ``bpf_xdp_load_bytes``/``bpf_xdp_store_bytes`` (offset and length
at most 0xffff, else -EFAULT; inside the frame, else -EINVAL).

A program run here must be converted (:meth:`XdpRunner.prepare`); one stored in a
prog-array for tail calls must be too: ``prog_array.set_program(i, runner.prepare(p))``.
A fault raises :class:`~tuxnet.bpf.errors.BpfRuntimeError` (the XDP hook will turn it
into XDP_ABORTED and the xdp:xdp_exception tracepoint).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuxnet.bpf.errors import BpfLoadError
from tuxnet.bpf.helpers import Helper, HelperEnv
from tuxnet.bpf.interp import DEFAULT_INSN_LIMIT, Interpreter
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.maps import BpfMap
from tuxnet.bpf.maps import create_map as _create_map
from tuxnet.bpf.objspec import BpfObject, LoadedProgram, MapSpec
from tuxnet.bpf.program import Program
from tuxnet.bpf.runtime import BpfRuntime, RedirectInfo
from tuxnet.bpf.verifier import protos as P
from tuxnet.bpf.xdp_ctx import SHADOW_CTX_SIZE, convert_ctx_access

XDP_PACKET_HEADROOM = 256     # include/linux/bpf.h
PAGE_SIZE = 4096              # bpf_prog_test_run_xdp builds the frame in one page
SKB_SHARED_INFO_SIZE = 320    # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), x86-64
XDP_FRAME_SIZE = 40           # sizeof(struct xdp_frame): kept free at data_hard_start
ETH_HLEN = 14
XDP_META_MAX = 255            # xdp_metalen_invalid: skb_shared_info.meta_len is a u8
ENOTSUPP = 524                # include/linux/errno.h (kernel-internal)
MAX_TEST_FRAME = PAGE_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE

# include/uapi/linux/bpf.h: enum xdp_action
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)
XDP_ACTION_NAMES = ("XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT")

_SHADOW = struct.Struct("<6Q")  # the converted xdp_md: six u64 fields (see xdp_ctx)
M64 = 0xFFFF_FFFF_FFFF_FFFF


def _s32(v: int) -> int:
    v &= 0xFFFF_FFFF
    return v - (1 << 32) if v & 0x8000_0000 else v


class XdpBuff:
    """struct xdp_buff over one buffer: offsets of data_meta, data and data_end from
    ``data_hard_start`` (offset 0), and ``frame_sz`` (the buffer's usable size)."""

    __slots__ = ("buf", "data", "data_end", "data_meta", "frame_sz")

    def __init__(self, buf: bytearray, data: int, data_end: int,
                 frame_sz: int | None = None) -> None:
        self.buf = buf
        self.data = data
        self.data_end = data_end
        self.data_meta = data  # xdp_prepare_buff(..., meta_valid=true): empty metadata
        self.frame_sz = len(buf) if frame_sz is None else frame_sz

    @classmethod
    def from_frame(cls, frame: bytes, headroom: int = XDP_PACKET_HEADROOM,
                   frame_sz: int = PAGE_SIZE) -> XdpBuff:
        """A page holding ``frame`` after ``headroom`` bytes (bpf_prog_test_run_xdp)."""
        if len(frame) > frame_sz - headroom - SKB_SHARED_INFO_SIZE:
            raise ValueError(f"frame of {len(frame)} bytes does not fit one {frame_sz}-byte "
                             f"buffer with {headroom} bytes headroom")
        buf = bytearray(frame_sz)
        buf[headroom:headroom + len(frame)] = frame
        return cls(buf, headroom, headroom + len(frame), frame_sz)

    @property
    def hard_end(self) -> int:
        """xdp_data_hard_end: the frame may grow up to here."""
        return self.frame_sz - SKB_SHARED_INFO_SIZE

    def frame(self) -> bytes:
        return bytes(self.buf[self.data:self.data_end])

    def meta(self) -> bytes:
        return bytes(self.buf[self.data_meta:self.data])


@dataclass
class XdpResult:
    """What one run did: the action, the frame and metadata after it, a redirect's
    target (when the action is XDP_REDIRECT) and the instructions executed."""

    action: int
    data: bytes
    meta: bytes
    redirect: RedirectInfo | None
    insns: int

    @property
    def action_name(self) -> str:
        a = self.action
        return XDP_ACTION_NAMES[a] if 0 <= a < len(XDP_ACTION_NAMES) else f"action {a}"


def create_map(spec: MapSpec, ncpus: int = 1) -> BpfMap:
    """The default map factory of ``load_object``: a tuxnet map for ``spec`` (global
    data maps are filled with their section's bytes)."""
    try:
        m = _create_map(spec.map_type, spec.key_size, spec.value_size, spec.max_entries,
                        spec.map_flags, name=spec.name, ncpus=ncpus)
    except OSError as e:
        raise BpfLoadError(f"map '{spec.name}' ({spec.type_name}): {e.strerror or e}") \
            from None
    if spec.initial is not None:
        m.update(bytes(4), spec.initial)
    return m


def map_factory(ncpus: int) -> Callable[[MapSpec], BpfMap]:
    """A ``create_map`` for ``load_object`` whose per-CPU maps have ``ncpus`` CPUs."""
    return lambda spec: create_map(spec, ncpus)


class XdpRunner:
    """Runs XDP programs (from an ELF object, or plain instruction lists) on frames.

    ``runtime`` holds the maps, helpers and redirect state (a new one by default, on
    ``cpu`` of ``ncpus``); ``ingress_ifindex``/``rx_queue_index`` fill ``xdp_md``
    (the defaults are what BPF_PROG_TEST_RUN reports: loopback, queue 0).
    """

    def __init__(self, obj: BpfObject | None = None, *, runtime: BpfRuntime | None = None,
                 cpu: int = 0, ncpus: int = 1, ingress_ifindex: int = 1,
                 rx_queue_index: int = 0, insn_limit: int = DEFAULT_INSN_LIMIT) -> None:
        self.rt = runtime if runtime is not None else BpfRuntime(cpu=cpu, ncpus=ncpus)
        self.obj = obj
        self.ingress_ifindex = ingress_ifindex
        self.rx_queue_index = rx_queue_index
        self.fds: list[int] = []
        if obj is not None:
            for spec in obj.map_specs:
                m = obj.maps.get(spec.name)
                if not isinstance(m, BpfMap):
                    raise BpfLoadError(f"{obj.path}: map '{spec.name}' is not a tuxnet map "
                                       f"(load the object with tuxnet's map factory)")
                self.fds.append(self.rt.add_map(m))
        self.ctx_buf = bytearray(SHADOW_CTX_SIZE)
        self.ctx_addr = self.rt.mem.map(self.ctx_buf, "xdp_md", writable=False)
        self._buff: XdpBuff | None = None
        self._base = 0
        helpers: dict[int, Helper] = dict(self.rt.helpers())
        helpers[P.BPF_FUNC_xdp_adjust_head] = self._adjust_head
        helpers[P.BPF_FUNC_xdp_adjust_meta] = self._adjust_meta
        helpers[P.BPF_FUNC_xdp_adjust_tail] = self._adjust_tail
        helpers[P.BPF_FUNC_xdp_load_bytes] = self._load_bytes
        helpers[P.BPF_FUNC_xdp_store_bytes] = self._store_bytes
        self.vm = Interpreter(helpers, tail_call=self.rt.tail_call,
                              ld_imm64=self.rt.resolve_ld_imm64, mem=self.rt.mem,
                              insn_limit=insn_limit)
        self._progs: dict[int, tuple[object, Program]] = {}

    # --- programs ---------------------------------------------------------------------
    def prepare(self, prog: LoadedProgram | Program | list[Insn] | str) -> Program:
        """The converted program (xdp_md loads rewritten, map indexes -> this runtime's
        fds), cached per source program."""
        if isinstance(prog, str):
            if self.obj is None:
                raise BpfLoadError("a program name needs an object")
            prog = self.obj.program(prog)
        cached = self._progs.get(id(prog))
        if cached is not None and cached[0] is prog:
            return cached[1]
        if isinstance(prog, LoadedProgram):
            insns, name = prog.with_fds(self.fds), prog.name
        elif isinstance(prog, Program):
            insns, name = list(prog.insns), prog.name
        else:
            insns, name = list(prog), "prog"
        done = Program.load(convert_ctx_access(insns, name), name)
        if not isinstance(prog, list):  # a list may change: convert it every time
            self._progs[id(prog)] = (prog, done)
        return done

    # --- running ----------------------------------------------------------------------
    def run(self, prog: LoadedProgram | Program | list[Insn] | str,
            frame: bytes) -> XdpResult:
        """Run on a copy of ``frame`` in a fresh test-run page; return what happened."""
        if len(frame) < ETH_HLEN:  # bpf_test_init refuses it too (EINVAL)
            raise ValueError(f"frame of {len(frame)} bytes is shorter than ETH_HLEN")
        buff = XdpBuff.from_frame(frame)
        action = self.run_buff(prog, buff)
        redirect = None
        if action == XDP_REDIRECT:
            r = self.rt.redirect
            redirect = RedirectInfo(r.ifindex, r.map, r.key, r.flags, r.target)
        return XdpResult(action, buff.frame(), buff.meta(), redirect,
                         self.vm.insns_executed)

    def run_buff(self, prog: LoadedProgram | Program | list[Insn] | str,
                 buff: XdpBuff) -> int:
        """Run on ``buff`` in place (its offsets move with the adjust helpers); return
        the action (r0, as the 32-bit value the kernel's bpf_prog_run_xdp returns)."""
        code = self.prepare(prog)
        self._base = self.rt.mem.set_mem(buff.buf)
        self._buff = buff
        self._sync_ctx()
        self.rt.redirect.clear()
        try:
            return self.vm.call(code, self.ctx_addr) & 0xFFFF_FFFF
        finally:
            self._buff = None

    def _sync_ctx(self) -> None:
        """Write the buffer's pointers into the (converted) xdp_md the program reads."""
        b, base = self._buff, self._base
        assert b is not None
        _SHADOW.pack_into(self.ctx_buf, 0, base + b.data, base + b.data_end,
                          base + b.data_meta, self.ingress_ifindex, self.rx_queue_index, 0)

    def _xdp(self, ctx: int) -> XdpBuff:
        if ctx != self.ctx_addr or self._buff is None:
            raise BpfLoadError(f"XDP helper called with 0x{ctx:x}, not the XDP context")
        return self._buff

    # --- XDP helpers (net/core/filter.c) ----------------------------------------------
    def _adjust_head(self, env: HelperEnv, ctx: int, delta: int, *_: int) -> int:
        """bpf_xdp_adjust_head(xdp, offset)."""
        b = self._xdp(ctx)
        off = _s32(delta)
        metalen = b.data - b.data_meta
        data = b.data + off
        if data < XDP_FRAME_SIZE + metalen or data > b.data_end - ETH_HLEN:
            return -errno.EINVAL & M64
        if metalen:
            b.buf[b.data_meta + off:b.data_meta + off + metalen] = \
                b.buf[b.data_meta:b.data_meta + metalen]
        b.data_meta += off
        b.data = data
        self._sync_ctx()
        return 0

    def _adjust_meta(self, env: HelperEnv, ctx: int, delta: int, *_: int) -> int:
        """bpf_xdp_adjust_meta(xdp, offset)."""
        b = self._xdp(ctx)
        meta = b.data_meta + _s32(delta)
        metalen = b.data - meta
        if meta < XDP_FRAME_SIZE or meta > b.data:
            return -errno.EINVAL & M64
        if metalen % 4 or metalen > XDP_META_MAX:
            return -errno.EACCES & M64
        b.data_meta = meta
        self._sync_ctx()
        return 0

    def _adjust_tail(self, env: HelperEnv, ctx: int, delta: int, *_: int) -> int:
        """bpf_xdp_adjust_tail(xdp, offset), linear buffers (no frags)."""
        b = self._xdp(ctx)
        off = _s32(delta)
        end = b.data_end + off
        if end > b.hard_end or end < b.data + ETH_HLEN:
            return -errno.EINVAL & M64
        if off > 0:  # the kernel clears grown bytes: they may hold old data
            b.buf[b.data_end:end] = bytes(off)
        b.data_end = end
        self._sync_ctx()
        return 0

    def _span(self, b: XdpBuff, offset: int, length: int) -> int:
        """bpf_xdp_pointer's checks: 0, or the -errno the helper returns."""
        if offset > 0xFFFF or length > 0xFFFF:
            return -errno.EFAULT
        if offset + length > b.data_end - b.data:
            return -errno.EINVAL
        return 0

    def _load_bytes(self, env: HelperEnv, ctx: int, offset: int, buf: int, length: int,
                    _5: int) -> int:
        """bpf_xdp_load_bytes(xdp, offset, buf, len): copy out of the frame."""
        b = self._xdp(ctx)
        offset, length = offset & 0xFFFF_FFFF, length & 0xFFFF_FFFF
        err = self._span(b, offset, length)
        if err:
            return err & M64
        env.mem.write(buf, b.buf[b.data + offset:b.data + offset + length])
        return 0

    def _store_bytes(self, env: HelperEnv, ctx: int, offset: int, buf: int, length: int,
                     _5: int) -> int:
        """bpf_xdp_store_bytes(xdp, offset, buf, len): copy into the frame."""
        b = self._xdp(ctx)
        offset, length = offset & 0xFFFF_FFFF, length & 0xFFFF_FFFF
        err = self._span(b, offset, length)
        if err:
            return err & M64
        b.buf[b.data + offset:b.data + offset + length] = env.mem.read(buf, length)
        return 0


def run_xdp(obj: BpfObject, prog: str, frame: bytes, **kw: Any) -> XdpResult:
    """One-shot convenience: run program ``prog`` of ``obj`` on ``frame``."""
    return XdpRunner(obj, **kw).run(prog, frame)
