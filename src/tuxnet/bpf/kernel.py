"""The Linux kernel's eBPF as an oracle: bpf(2) through plain ctypes (no libbpf).

Loads programs (BPF_PROG_LOAD: the verifier's verdict and log), runs XDP programs on a
frame (BPF_PROG_TEST_RUN: return value and output bytes), and creates the maps an
object uses (BPF_MAP_CREATE, update/lookup/delete/get_next_key, BPF_MAP_FREEZE), so a
program can run in tuxnet and in the kernel on the same input and be compared.

``union bpf_attr`` layouts and command numbers are include/uapi/linux/bpf.h; each
command's attribute block is packed by hand with ``struct``. Following libbpf's
practice, a load is tried with ``log_level`` 0 and retried with a log buffer only when
it fails (a large program's log can overflow a buffer and turn into ENOSPC), growing
the buffer on ENOSPC. Needs root (CAP_BPF + CAP_NET_ADMIN); :func:`kernel_available`
says whether this process can use bpf(2) and why not.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tuxnet.bpf import isa
from tuxnet.bpf.errors import BpfError
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.objspec import (
    BPF_PROG_TYPE_XDP,
    PERCPU_MAP_TYPES,
    BpfObject,
    LoadedProgram,
    MapSpec,
)

# include/uapi/linux/bpf.h: enum bpf_cmd
BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_PROG_LOAD = 5
BPF_PROG_TEST_RUN = 10
BPF_MAP_FREEZE = 22

# __NR_bpf per architecture (arch/*/entry/syscalls, include/uapi/asm-generic/unistd.h)
_NR_BPF = {"x86_64": 321, "aarch64": 280, "arm64": 280, "riscv64": 280, "ppc64le": 361,
           "s390x": 351, "i686": 357, "armv7l": 386}
_ATTR_SIZE = 128  # enough for every field used here; the kernel zero-fills the rest
XDP_MD = struct.Struct("<6I")  # struct xdp_md: data, data_end, data_meta, ingress_ifindex,
#                                rx_queue_index, egress_ifindex
LOG_BUF_START = 1 << 20
LOG_BUF_MAX = 1 << 26
_DATA_OUT = 4096  # a test_run frame is at most one page (bpf_prog_test_run_xdp)


class KernelError(BpfError):
    """bpf(2) failed: ``errno`` and, for BPF_PROG_LOAD, the verifier ``log``."""

    def __init__(self, message: str, err: int, log: str = "") -> None:
        super().__init__(f"{message}: {errno.errorcode.get(err, err)} ({os.strerror(err)})"
                         + (f"\n{log.rstrip()}" if log else ""))
        self.errno = err
        self.log = log


_libc: Any = None


def _syscall() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc.syscall


def sys_bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    """bpf(cmd, &attr, sizeof attr): the result, or KernelError with errno."""
    nr = _NR_BPF.get(platform.machine())
    if nr is None:
        raise KernelError(f"bpf(2) syscall number unknown on {platform.machine()}",
                          errno.ENOSYS)
    ret = int(_syscall()(ctypes.c_long(nr), ctypes.c_int(cmd), attr,
                         ctypes.c_uint(len(attr))))
    if ret < 0:
        raise KernelError(f"bpf(cmd {cmd})", ctypes.get_errno())
    return ret


def _attr() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(_ATTR_SIZE)


def _addr(buf: ctypes.Array[ctypes.c_char] | None) -> int:
    return ctypes.addressof(buf) if buf is not None else 0


def _close(fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)


def possible_cpus() -> int:
    """num_possible_cpus(): how many values a per-CPU map lookup returns."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
    except OSError:
        return os.cpu_count() or 1
    n = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        n = max(n, int(hi or lo) + 1)
    return n


# --- availability ---------------------------------------------------------------------

_available: tuple[bool, str] | None = None


def kernel_available() -> tuple[bool, str]:
    """(True, "") if this process can load and test-run an XDP program, else (False, why)."""
    global _available
    if _available is None:
        if platform.system() != "Linux":
            _available = (False, f"bpf(2) is Linux only (this is {platform.system()})")
        else:
            ok_prog = [Insn(isa.BPF_ALU64 | isa.BPF_MOV | isa.BPF_K, 0, 0, 0, 2),
                       Insn(isa.OPCODE_EXIT)]
            try:
                with KernelProgram.load(ok_prog, name="tuxnet_probe") as p:
                    p.test_run_xdp(bytes(64))
                _available = (True, "")
            except KernelError as e:
                why = str(e).split("\n", 1)[0]
                if e.errno in (errno.EPERM, errno.EACCES):
                    why += " — needs root (CAP_BPF and CAP_NET_ADMIN)"
                _available = (False, why)
    return _available


# --- programs ---------------------------------------------------------------------------

@dataclass
class LoadVerdict:
    """The kernel verifier's answer: ``fd`` >= 0 when accepted, else errno and log."""

    ok: bool
    fd: int = -1
    errno: int = 0
    log: str = ""

    @property
    def message(self) -> str:
        """The log's last meaningful line (the reason, before the statistics line)."""
        lines = [ln for ln in self.log.splitlines() if ln.strip()]
        for ln in reversed(lines):
            if not ln.startswith(("processed ", "verification time")):
                return ln
        return os.strerror(self.errno) if self.errno else ""


def _patch_maps(insns: Sequence[Insn], fds: Sequence[int] | None) -> list[Insn]:
    """lddw map_idx / map_idx_value (src 5/6) -> map_fd / map_value (src 1/2) with fds."""
    out = list(insns)
    for pc, i in enumerate(out):
        if i.opcode == isa.OPCODE_LDDW and i.src in (isa.BPF_PSEUDO_MAP_IDX,
                                                      isa.BPF_PSEUDO_MAP_IDX_VALUE):
            if fds is None or not 0 <= i.imm < len(fds):
                raise KernelError(f"insn {pc}: map index {i.imm} has no kernel map",
                                  errno.EBADF)
            src = (isa.BPF_PSEUDO_MAP_FD if i.src == isa.BPF_PSEUDO_MAP_IDX
                   else isa.BPF_PSEUDO_MAP_VALUE)
            out[pc] = i._replace(src=src, imm=fds[i.imm])
    return out


def prog_load(insns: Sequence[Insn], prog_type: int = BPF_PROG_TYPE_XDP, *,
              maps: Sequence[int] | None = None, license: str = "GPL", name: str = "",
              expected_attach_type: int = 0, prog_flags: int = 0,
              log_level: int = 0) -> LoadVerdict:
    """BPF_PROG_LOAD. ``maps`` are the fds that lddw map_idx N refers to. With
    ``log_level`` 0 the log is fetched (at level 1) only if the load fails."""
    code = isa.encode(_patch_maps(insns, maps))
    insn_buf = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(license.encode() + b"\0")
    size = LOG_BUF_START
    level = log_level
    while True:
        log = ctypes.create_string_buffer(size) if level else None
        attr = _attr()
        # union bpf_attr, BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, log_level,
        # log_size, log_buf, kern_version, prog_flags, prog_name[16], prog_ifindex,
        # expected_attach_type
        struct.pack_into("<IIQQIIQII", attr, 0, prog_type, len(code) // 8, _addr(insn_buf),
                         _addr(lic), level, size if log else 0, _addr(log), 0, prog_flags)
        struct.pack_into("15s", attr, 48, name.encode()[:15])
        struct.pack_into("<I", attr, 68, expected_attach_type)
        try:
            fd = sys_bpf(BPF_PROG_LOAD, attr)
        except KernelError as e:
            text = log.value.decode("utf-8", "replace") if log is not None else ""
            if e.errno == errno.ENOSPC and log is not None and size < LOG_BUF_MAX:
                size *= 4  # the log overflowed: retry with a bigger buffer
                continue
            if log is None and e.errno not in (errno.EPERM, errno.ENOSYS, errno.E2BIG):
                level = 1  # failed without a log: load again to get the verifier's reason
                continue
            return LoadVerdict(False, -1, e.errno, text)
        text = log.value.decode("utf-8", "replace") if log is not None else ""
        return LoadVerdict(True, fd, 0, text)


@dataclass
class XdpTestRun:
    """BPF_PROG_TEST_RUN of an XDP program: return value, output frame, metadata."""

    retval: int
    data: bytes
    meta: bytes = b""
    duration_ns: int = 0


class KernelProgram:
    """A program loaded into the kernel (owns its fd; use as a context manager)."""

    def __init__(self, fd: int, name: str, log: str = "") -> None:
        self.fd = fd
        self.name = name
        self.log = log

    @classmethod
    def load(cls, insns: Sequence[Insn], prog_type: int = BPF_PROG_TYPE_XDP, *,
             maps: Sequence[int] | None = None, license: str = "GPL", name: str = "",
             expected_attach_type: int = 0, prog_flags: int = 0) -> KernelProgram:
        """Load or raise :class:`KernelError` carrying errno and the verifier log."""
        v = prog_load(insns, prog_type, maps=maps, license=license, name=name,
                      expected_attach_type=expected_attach_type, prog_flags=prog_flags)
        if not v.ok:
            raise KernelError(f"BPF_PROG_LOAD of '{name or 'prog'}' refused", v.errno, v.log)
        return cls(v.fd, name, v.log)

    def close(self) -> None:
        _close(self.fd)
        self.fd = -1

    def __enter__(self) -> KernelProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def test_run_xdp(self, frame: bytes, repeat: int = 1) -> XdpTestRun:
        return test_run_xdp(self.fd, frame, repeat)


def test_run_xdp(fd: int, frame: bytes, repeat: int = 1) -> XdpTestRun:
    """BPF_PROG_TEST_RUN on one frame (the kernel's test rxq: ingress_ifindex = the
    loopback device, rx_queue_index 0). The output is the frame from ``data`` to
    ``data_end`` after the run; bytes the program put before it with adjust_meta come
    back as ``meta``."""
    data_in = ctypes.create_string_buffer(bytes(frame), len(frame))
    data_out = ctypes.create_string_buffer(_DATA_OUT)
    ctx_in = ctypes.create_string_buffer(XDP_MD.pack(0, len(frame), 0, 0, 0, 0), XDP_MD.size)
    ctx_out = ctypes.create_string_buffer(XDP_MD.size)
    attr = _attr()
    # BPF_PROG_TEST_RUN: prog_fd, retval, data_size_in, data_size_out, data_in, data_out,
    # repeat, duration, ctx_size_in, ctx_size_out, ctx_in, ctx_out
    struct.pack_into("<IIIIQQIIIIQQ", attr, 0, fd, 0, len(frame), _DATA_OUT,
                     _addr(data_in), _addr(data_out), repeat, 0, XDP_MD.size, XDP_MD.size,
                     _addr(ctx_in), _addr(ctx_out))
    try:
        sys_bpf(BPF_PROG_TEST_RUN, attr)
    except KernelError as e:
        raise KernelError("BPF_PROG_TEST_RUN", e.errno) from None
    retval, _sin, size_out = struct.unpack_from("<III", attr, 4)
    duration = struct.unpack_from("<I", attr, 36)[0]
    out = data_out.raw[:size_out]
    # with a ctx, data_out starts at data_meta; ctx_out.data is the metadata length
    meta_len = XDP_MD.unpack_from(ctx_out.raw)[0]
    return XdpTestRun(retval, out[meta_len:], out[:meta_len], duration)


# --- maps -------------------------------------------------------------------------------

class KernelMap:
    """A kernel map (BPF_MAP_CREATE) with the same user-space API as tuxnet's maps:
    ``lookup``/``update``/``delete``/``get_next_key``/``keys``/``items``."""

    def __init__(self, spec: MapSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.map_type = spec.map_type
        self.key_size = spec.key_size
        self.value_size = spec.value_size
        self.max_entries = spec.max_entries
        self.percpu = spec.map_type in PERCPU_MAP_TYPES
        self.ncpus = possible_cpus() if self.percpu else 1
        attr = _attr()
        # BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, map_flags,
        # inner_map_fd, numa_node, map_name[16]
        struct.pack_into("<IIIIIII", attr, 0, spec.map_type, spec.key_size, spec.value_size,
                         spec.max_entries, spec.map_flags, 0, 0)
        struct.pack_into("15s", attr, 28, _kernel_name(spec.name))
        try:
            self.fd = sys_bpf(BPF_MAP_CREATE, attr)
        except KernelError as e:
            raise KernelError(f"BPF_MAP_CREATE of map '{spec.name}' ({spec.type_name}, key "
                              f"{spec.key_size}, value {spec.value_size}, max_entries "
                              f"{spec.max_entries}, flags {spec.map_flags:#x})", e.errno) from None
        if spec.initial is not None:
            self.update(bytes(4), spec.initial)
            if spec.frozen:
                self.freeze()

    @property
    def user_value_size(self) -> int:
        """Bytes a lookup returns: round_up(value_size, 8) per possible CPU if per-CPU."""
        return (self.value_size + 7) // 8 * 8 * self.ncpus if self.percpu else self.value_size

    def close(self) -> None:
        _close(self.fd)
        self.fd = -1

    def _elem(self, cmd: int, key: bytes | None, value: ctypes.Array[ctypes.c_char] | None,
              flags: int = 0) -> None:
        kbuf = ctypes.create_string_buffer(bytes(key), self.key_size) if key is not None \
            else None
        attr = _attr()
        # BPF_MAP_*_ELEM: map_fd, pad, key, value / next_key, flags
        struct.pack_into("<IIQQQ", attr, 0, self.fd, 0, _addr(kbuf), _addr(value), flags)
        sys_bpf(cmd, attr)

    def lookup(self, key: bytes) -> bytes | None:
        out = ctypes.create_string_buffer(self.user_value_size)
        try:
            self._elem(BPF_MAP_LOOKUP_ELEM, key, out)
        except KernelError as e:
            if e.errno == errno.ENOENT:
                return None
            raise OSError(e.errno, f"map '{self.name}' lookup: {os.strerror(e.errno)}") \
                from None
        return out.raw

    def update(self, key: bytes, value: bytes, flags: int = 0) -> None:
        if len(value) != self.user_value_size:
            raise OSError(errno.EINVAL, f"map '{self.name}': value is {len(value)} bytes, "
                          f"expected {self.user_value_size}")
        vbuf = ctypes.create_string_buffer(bytes(value), len(value))
        try:
            self._elem(BPF_MAP_UPDATE_ELEM, key, vbuf, flags)
        except KernelError as e:
            raise OSError(e.errno, f"map '{self.name}' update: {os.strerror(e.errno)}") \
                from None

    def delete(self, key: bytes) -> None:
        try:
            self._elem(BPF_MAP_DELETE_ELEM, key, None)
        except KernelError as e:
            raise OSError(e.errno, f"map '{self.name}' delete: {os.strerror(e.errno)}") \
                from None

    def get_next_key(self, key: bytes | None) -> bytes:
        out = ctypes.create_string_buffer(self.key_size)
        try:
            self._elem(BPF_MAP_GET_NEXT_KEY, key, out)
        except KernelError as e:
            raise OSError(e.errno, f"map '{self.name}' get_next_key: "
                          f"{os.strerror(e.errno)}") from None
        return out.raw

    def keys(self) -> Iterator[bytes]:
        key: bytes | None = None
        while True:
            try:
                key = self.get_next_key(key)
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return
                raise
            yield key

    def items(self) -> Iterator[tuple[bytes, bytes | None]]:
        for k in self.keys():
            yield k, self.lookup(k)

    def freeze(self) -> None:
        """BPF_MAP_FREEZE: no more writes from user space."""
        attr = _attr()
        struct.pack_into("<I", attr, 0, self.fd)
        sys_bpf(BPF_MAP_FREEZE, attr)


def _kernel_name(name: str) -> bytes:
    """bpf_obj_name_cpy: at most 15 of [A-Za-z0-9_.]; other characters become '_'."""
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name)[:15].encode()


@dataclass
class KernelObject:
    """A :class:`BpfObject`'s maps created in the kernel, and its programs loaded on
    demand with the map fds patched into their lddw instructions."""

    obj: BpfObject
    maps: dict[str, KernelMap] = field(default_factory=dict)
    programs: dict[str, KernelProgram] = field(default_factory=dict)

    @classmethod
    def create(cls, obj: BpfObject) -> KernelObject:
        ko = cls(obj)
        try:
            for spec in obj.map_specs:
                ko.maps[spec.name] = KernelMap(spec)
        except BaseException:
            ko.close()
            raise
        return ko

    @property
    def fds(self) -> list[int]:
        return [self.maps[s.name].fd for s in self.obj.map_specs]

    def verdict(self, name_or_section: str) -> LoadVerdict:
        """Load one program and return the verdict (the caller owns a returned fd)."""
        p: LoadedProgram = self.obj.program(name_or_section)
        return prog_load(p.insns, p.prog_type, maps=self.fds, license=p.license or "GPL",
                         name=p.name, expected_attach_type=p.expected_attach_type,
                         prog_flags=p.prog_flags)

    def load(self, name_or_section: str) -> KernelProgram:
        p = self.obj.program(name_or_section)
        kp = self.programs.get(p.name)
        if kp is None:
            kp = KernelProgram.load(p.insns, p.prog_type, maps=self.fds,
                                    license=p.license or "GPL", name=p.name,
                                    expected_attach_type=p.expected_attach_type,
                                    prog_flags=p.prog_flags)
            self.programs[p.name] = kp
        return kp

    def close(self) -> None:
        for p in self.programs.values():
            p.close()
        for m in self.maps.values():
            m.close()
        self.programs.clear()
        self.maps.clear()

    def __enter__(self) -> KernelObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
