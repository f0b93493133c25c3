"""A loaded XDP program (``XdpProg``): verified, converted and ready to attach.

What BPF_PROG_LOAD of an XDP program gives the kernel, in tuxnet terms: the program's
instructions checked by the verifier (against the object's maps), its ``xdp_md``
loads converted (``tuxnet.bpf.xdp_ctx``), an id and a tag (``bpftool prog`` shows
both), and an :class:`~tuxnet.bpf.xdp_run.XdpRunner` whose runtime holds the maps,
reads the host's clock and randomness and knows the running CPU. Redirect maps get
their value resolvers here (net/core/filter.c, kernel/bpf/devmap.c, net/xdp/xskmap.c):
a DEVMAP value is an ifindex of this host (EINVAL otherwise), an XSKMAP value the fd
of a bound AF_XDP socket (EBADF otherwise); a CPUMAP value is the queue size.

Sources a program can come from::

    XdpProg.load(host, "prog.o", "xdp")          # an ELF object (clang -target bpf)
    XdpProg.from_object(host, obj, "xdp_count")  # an object already loaded
    XdpProg.from_asm(host, text, maps=[m])       # tuxnet assembly (lddw map_idx N)
    XdpProg.from_insns(host, insns, maps=[m])    # instructions

``engine`` picks what runs it: "translate" (``tuxnet.bpf.translate``: the program as a
Python function), "interp" (the reference interpreter), or "auto" (the default: the
translator when that package is present, else the interpreter); both share the
runner's memory and helpers. Runs raise nothing: a fault is XDP_ABORTED for the hook.
"""

from __future__ import annotations

import hashlib
import os
import random
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuxnet.bpf import isa
from tuxnet.bpf.errors import BpfLoadError, BpfRuntimeError
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.maps import BpfMap, CpuMap, DevMap, DevMapHash, XskMap
from tuxnet.bpf.objspec import BPF_PROG_TYPE_XDP, BPF_XDP, BpfObject, LoadedProgram
from tuxnet.bpf.program import Program
from tuxnet.bpf.runtime import BpfRuntime
from tuxnet.bpf.verifier import BpfVerifierError, verify, xdp_context
from tuxnet.bpf.xdp_run import XDP_ABORTED, XdpBuff, XdpRunner, map_factory

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["BPF_TAG_SIZE", "XdpProg", "dev_get_by_index"]

BPF_TAG_SIZE = 8  # include/uapi/linux/bpf.h


class _ProgIds:
    def __init__(self) -> None:
        self.next_prog_id = 1
        self.next_map_id = 1
        self.map_ids: dict[int, int] = {}


_IDS: weakref.WeakKeyDictionary[Host, _ProgIds] = weakref.WeakKeyDictionary()


def _ids(host: Host) -> _ProgIds:
    ids = _IDS.get(host)
    if ids is None:
        ids = _IDS[host] = _ProgIds()
    return ids


def map_id(host: Host, m: BpfMap) -> int:
    """The map's id as bpftool and the xdp tracepoints show it (assigned on first use)."""
    ids = _ids(host)
    mid = ids.map_ids.get(id(m))
    if mid is None:
        mid = ids.map_ids[id(m)] = ids.next_map_id
        ids.next_map_id += 1
    return mid


def dev_get_by_index(host: Host, ifindex: int) -> Any:
    """dev_get_by_index: the device of ``host`` with that ifindex, or None."""
    for dev in host.devices.values():
        if getattr(dev, "ifindex", 0) == ifindex:
            return dev
    return None


def prog_tag(insns: Sequence[Insn]) -> str:
    """bpf_prog_calc_tag: the first 8 bytes of the SHA-1 of the instructions with the
    map references of ``lddw`` zeroed (kernel/bpf/core.c), as hex."""
    out = []
    pseudo = (isa.BPF_PSEUDO_MAP_FD, isa.BPF_PSEUDO_MAP_VALUE, isa.BPF_PSEUDO_MAP_IDX,
              isa.BPF_PSEUDO_MAP_IDX_VALUE)
    skip_next = False
    for insn in insns:
        if skip_next:
            out.append(insn._replace(imm=0))
            skip_next = False
            continue
        if insn.opcode == isa.OPCODE_LDDW and insn.src in pseudo:
            out.append(insn._replace(imm=0))
            skip_next = True
            continue
        out.append(insn)
    return hashlib.sha1(isa.encode(out)).hexdigest()[:2 * BPF_TAG_SIZE]


def _bind_redirect_maps(host: Host, maps: Sequence[BpfMap]) -> None:
    """Give the redirect maps resolvers over this host's devices and AF_XDP sockets."""
    from tuxnet.xdp.afxdp import xsk_by_fd
    for m in maps:
        if isinstance(m, DevMap | DevMapHash):
            m.resolve = lambda ifindex: dev_get_by_index(host, ifindex)
        elif isinstance(m, XskMap):
            m.resolve = lambda fd: xsk_by_fd(host, fd)
        elif isinstance(m, CpuMap):
            m.resolve = None  # the value is the queue size; the key names the CPU


ENGINES = ("auto", "translate", "interp")


def _use_engine(runner: XdpRunner, engine: str) -> str:
    """Put the chosen engine in ``runner.vm`` (it starts with the interpreter)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if engine == "interp":
        return "interp"
    try:
        from tuxnet.bpf.translate import Translator
    except ImportError:
        if engine == "translate":
            raise
        return "interp"
    vm = runner.vm
    runner.vm = Translator(vm.helpers, kfuncs=vm.kfuncs, insn_limit=vm.insn_limit,  # type: ignore[assignment]
                           tail_call=vm.tail_call, ld_imm64=vm.ld_imm64, mem=vm.mem)
    return "translate"


class XdpProg:
    """One loaded XDP program (see the module doc). ``run(buff, ifindex, queue, cpu)``
    returns (action, instructions executed); a fault returns XDP_ABORTED."""

    def __init__(self, host: Host, runner: XdpRunner, source: LoadedProgram | Program,
                 name: str, maps: Sequence[BpfMap], *, obj: BpfObject | None = None,
                 check: bool = True, engine: str = "auto") -> None:
        self.host = host
        self.runner = runner
        self.engine = _use_engine(runner, engine)
        self.source = source
        self.name = name
        self.obj = obj
        self.maps: dict[str, BpfMap] = {m.name or f"map{i}": m for i, m in enumerate(maps)}
        _bind_redirect_maps(host, maps)
        insns = source.with_fds(runner.fds) if isinstance(source, LoadedProgram) \
            else list(source.insns)
        self.tag = prog_tag(insns)
        if check:
            res = verify(Program.load(insns, name), xdp_context(), maps=runner.rt)
            if not res.ok:
                raise BpfVerifierError(res.message, res.pc, res.errno, res.log)
        self.code = runner.prepare(source)
        ids = _ids(host)
        self.id = ids.next_prog_id
        ids.next_prog_id += 1
        self.run_cnt = 0
        self.run_insns = 0
        self.last_error: str = ""

    def __repr__(self) -> str:
        return f"<XdpProg id={self.id} {self.name} tag {self.tag}>"

    @property
    def insn_count(self) -> int:
        return len(self.code)

    # -- constructors -----------------------------------------------------------------
    @staticmethod
    def _runtime(host: Host) -> BpfRuntime:
        rt = BpfRuntime(cpu=0, ncpus=host.ncpus, clock=host.loop.now_ns,
                        rng=random.Random(f"tuxnet:{host.seed}:{host.name}:bpf"),
                        comm="<idle>")
        from tuxnet.xdp.fib import bpf_fib_lookup

        rt.fib_lookup = lambda params, flags: bpf_fib_lookup(host, params, flags)
        return rt

    @classmethod
    def load(cls, host: Host, path: str | os.PathLike[str], sec: str | None = None, *,
             check: bool = True, engine: str = "auto") -> XdpProg:
        """Load ``path`` (maps per-CPU over the host's CPUs) and take program ``sec``
        (a section or function name; default: the object's only XDP program)."""
        from tuxnet.bpf.elf import load_object
        obj = load_object(Path(path), map_factory(host.ncpus))
        return cls.from_object(host, obj, sec, check=check, engine=engine)

    @classmethod
    def from_object(cls, host: Host, obj: BpfObject, sec: str | None = None, *,
                    check: bool = True, engine: str = "auto") -> XdpProg:
        """Program ``sec`` of ``obj`` (libbpf's bpf_object__find_program_by_name, else
        the section's only program)."""
        if sec is None:
            xdp = [p for p in obj.programs.values() if p.prog_type == BPF_PROG_TYPE_XDP]
            if len(xdp) != 1:
                raise BpfLoadError(f"{obj.path}: {len(xdp)} XDP programs; name one with sec "
                                   f"({', '.join(p.name for p in xdp) or 'none'})")
            lp = xdp[0]
        else:
            lp = obj.program(sec)
        if lp.prog_type != BPF_PROG_TYPE_XDP:
            raise BpfLoadError(f"{obj.path}: '{lp.name}' (section '{lp.section}') is a "
                               f"{lp.type_name} program, not XDP")
        if lp.expected_attach_type != BPF_XDP:
            raise BpfLoadError(f"{obj.path}: '{lp.name}' is for a devmap/cpumap entry "
                               f"(section '{lp.section}'), not for a device")
        runner = XdpRunner(obj, runtime=cls._runtime(host))
        maps = [m for m in (obj.maps.get(spec.name) for spec in obj.map_specs)
                if isinstance(m, BpfMap)]
        return cls(host, runner, lp, lp.name, maps, obj=obj, check=check, engine=engine)

    @classmethod
    def from_insns(cls, host: Host, insns: Sequence[Insn] | Program, *,
                   maps: Sequence[BpfMap] = (), name: str = "xdp_prog",
                   check: bool = True, engine: str = "auto") -> XdpProg:
        """Raw instructions; ``maps`` are registered in order (``lddw map_idx N`` is
        ``maps[N]``; fds start at 3)."""
        runner = XdpRunner(None, runtime=cls._runtime(host))
        for m in maps:
            runner.rt.add_map(m)
        prog = insns if isinstance(insns, Program) else Program.load(insns, name)
        return cls(host, runner, prog, name, maps, check=check, engine=engine)

    @classmethod
    def from_asm(cls, host: Host, text: str, *, maps: Sequence[BpfMap] = (),
                 name: str = "xdp_prog", check: bool = True, engine: str = "auto") -> XdpProg:
        """tuxnet assembly (``tuxnet.bpf.asm``)."""
        from tuxnet.bpf.asm import assemble
        return cls.from_insns(host, assemble(text), maps=maps, name=name, check=check,
                              engine=engine)

    # -- running ----------------------------------------------------------------------
    def run(self, buff: XdpBuff, ifindex: int, queue: int, cpu: int) -> tuple[int, int]:
        """bpf_prog_run_xdp on ``buff`` in place: (action, instructions executed)."""
        r = self.runner
        r.ingress_ifindex = ifindex
        r.rx_queue_index = queue
        r.rt.cpu = cpu
        try:
            act = r.run_buff(self.source, buff)
        except BpfRuntimeError as e:
            self.last_error = str(e)
            act = XDP_ABORTED
        n = r.vm.insns_executed
        self.run_cnt += 1
        self.run_insns += n
        return act, n
