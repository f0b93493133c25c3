"""``bpf_trace_printk`` and the trace buffer it writes to (kernel/trace/bpf_trace.c,
kernel/bpf/helpers.c: bpf_bprintf_prepare).

The format must be NUL-terminated within its size and may hold at most three
conversions from the kernel's subset: ``%d %i %u %x %X`` with an optional ``l`` or
``ll`` (``%d`` prints the low 32 bits as int, ``%lld`` all 64), ``%c``, ``%s``
(a string read from the pointer), ``%p`` (and ``%px``/``%pK``: the address as 16 hex
digits), ``%pI4``/``%pi4`` (an IPv4 address at the pointer), ``%pks``/``%pus``
(strings), ``%%``, and flags/width ``[0 +-][width]``. Anything else makes the helper
return -EINVAL and print nothing. On success it returns the message's length.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field

from tuxnet.bpf.errors import BpfMemoryError
from tuxnet.bpf.memory import AddressSpace

MAX_TRACE_PRINTK_VARARGS = 3
MAX_BPF_PRINTF_BUF_LEN = 512  # kernel/bpf/helpers.c: the formatted message's limit
_SPEC = re.compile(rb"%([0 +\-]*)([1-9][0-9]*)?(ll|l)?([diuxXcsp%])(I4|i4|K|x|ks|us)?")
M64 = 0xFFFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class TraceEvent:
    """One line of /sys/kernel/tracing/trace_pipe."""

    ts_ns: int
    cpu: int
    message: str
    comm: str = "<idle>"
    pid: int = 0

    def line(self) -> str:
        secs, ns = divmod(self.ts_ns, 1_000_000_000)
        return (f"{self.comm:>16}-{self.pid:<7d} [{self.cpu:03d}] d.s1. {secs:5d}."
                f"{ns // 1000:06d}: bpf_trace_printk: {self.message.rstrip(chr(10))}")


@dataclass
class TraceBuffer:
    """Where bpf_trace_printk writes (the ftrace ring buffer's stand-in)."""

    events: list[TraceEvent] = field(default_factory=list)

    def emit(self, event: TraceEvent) -> None:
        self.events.append(event)

    def lines(self) -> list[str]:
        return [e.line() for e in self.events]

    def messages(self) -> list[str]:
        return [e.message for e in self.events]

    def clear(self) -> None:
        self.events.clear()


def format_printk(mem: AddressSpace, fmt: bytes, args: tuple[int, ...]) -> str | int:
    """The formatted message, or ``-errno`` if the format is refused."""
    out: list[str] = []
    pos = 0
    argi = 0
    while True:
        pct = fmt.find(b"%", pos)
        if pct < 0:
            out.append(fmt[pos:].decode("latin-1"))
            break
        out.append(fmt[pos:pct].decode("latin-1"))
        m = _SPEC.match(fmt, pct)
        if m is None:
            return -errno.EINVAL
        flags, width, length, conv, ext = (g.decode() if g else "" for g in m.groups())
        pos = m.end()
        if conv == "%":
            if flags or width or length or ext:
                return -errno.EINVAL
            out.append("%")
            continue
        if argi >= MAX_TRACE_PRINTK_VARARGS:
            return -errno.EINVAL
        arg = args[argi] & M64
        argi += 1
        try:
            text = _convert(mem, flags, width, length, conv, ext, arg)
        except BpfMemoryError:
            text = "(efault)"
        if text is None:
            return -errno.EINVAL
        out.append(text)
    return "".join(out)[:MAX_BPF_PRINTF_BUF_LEN - 1]


def _convert(mem: AddressSpace, flags: str, width: str, length: str, conv: str, ext: str,
             arg: int) -> str | None:
    spec = "%" + flags + width
    if conv == "p":
        if length:
            return None
        if ext in ("I4", "i4"):
            octets = mem.read(arg, 4)
            fmt = "{:d}" if ext == "I4" else "{:03d}"  # %pi4 pads each octet to 3 digits
            return ".".join(fmt.format(b) for b in octets)
        if ext in ("ks", "us"):
            return (spec + "s") % mem.cstring(arg).decode("latin-1")
        return (spec + "s") % f"{arg:016x}"
    if ext:
        return None
    if conv == "s":
        return None if length else (spec + "s") % mem.cstring(arg).decode("latin-1")
    if conv == "c":
        return None if length else (spec + "c") % chr(arg & 0xFF)
    bits = 64 if length else 32
    v = arg & ((1 << bits) - 1)
    if conv in "di":
        if v >> (bits - 1):
            v -= 1 << bits
        return (spec + "d") % v
    return (spec + {"u": "d", "x": "x", "X": "X"}[conv]) % v
