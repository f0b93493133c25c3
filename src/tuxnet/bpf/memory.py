"""The eBPF address space: a flat 64-bit space made of regions, one per 4 GiB slot.

Every memory a program can reach (the context or packet, each stack frame, map values,
global data) is a *region*: a ``bytearray`` (writable) or a read-only ``memoryview``.
Region number ``k`` starts at address ``k << 32``, so an address splits into
``region = addr >> 32`` and ``offset = addr & 0xFFFFFFFF``. Pointers are plain
unsigned 64-bit integers: pointer arithmetic and comparisons are integer operations,
and a pointer moved before its region's start lands at a huge offset of the previous
slot, which every bounds check rejects. Region 0 is never mapped, so NULL (and any small
integer used as a pointer) faults; an unmapped slot holds the empty ``UNMAPPED`` buffer.

Fixed slots (the interpreter's layout; the translator and verifier use the same):

====== =====================================================================
slot   contents
====== =====================================================================
0      nothing (NULL page)
1      the run's input memory / context (``MEM_BASE``)
2..9   stack frames 0..7, 512 bytes each; r10 = frame base + 512
10..   regions mapped with :meth:`AddressSpace.map` (maps, global data, ...)
====== =====================================================================

The hot path (interpreter loads/stores) indexes ``regions`` directly and lets
``struct.unpack_from``/``pack_into`` do the bounds check; everything else goes through
the checked methods below, which raise :class:`BpfMemoryError`.
"""

from __future__ import annotations

from tuxnet.bpf.errors import BpfMemoryError
from tuxnet.bpf.isa import MAX_BPF_STACK, MAX_CALL_FRAMES

Buffer = bytearray | memoryview

# An empty read-only buffer stands for "nothing mapped here": any load from it fails the
# bounds check and any store fails the writability check, with no None test on the hot path.
UNMAPPED = memoryview(b"")

REGION_SHIFT = 32
OFFSET_MASK = (1 << REGION_SHIFT) - 1
MEM_SLOT = 1
STACK_SLOT0 = 2
FIRST_FREE_SLOT = STACK_SLOT0 + MAX_CALL_FRAMES
MEM_BASE = MEM_SLOT << REGION_SHIFT


def stack_top(depth: int) -> int:
    """The value of r10 in call frame ``depth`` (0 = the program's own frame)."""
    return ((STACK_SLOT0 + depth) << REGION_SHIFT) + MAX_BPF_STACK


class AddressSpace:
    """Regions of memory visible to eBPF programs (see the module docstring)."""

    __slots__ = ("__weakref__", "names", "regions")

    def __init__(self) -> None:
        self.regions: list[Buffer] = [UNMAPPED] * FIRST_FREE_SLOT
        self.names: list[str] = ["null"] * FIRST_FREE_SLOT
        self.names[MEM_SLOT] = "mem"
        for depth in range(MAX_CALL_FRAMES):
            self.regions[STACK_SLOT0 + depth] = bytearray(MAX_BPF_STACK)
            self.names[STACK_SLOT0 + depth] = f"stack{depth}"

    def set_mem(self, buf: Buffer) -> int:
        """Install the run's input memory in its fixed slot; return its address."""
        self.regions[MEM_SLOT] = buf
        return MEM_BASE

    def map(self, buf: Buffer, name: str, *, writable: bool = True) -> int:
        """Add a region and return its base address."""
        if len(buf) > OFFSET_MASK:
            raise ValueError(f"region {name!r} is larger than 4 GiB")
        view: Buffer = buf if writable else memoryview(buf).toreadonly()
        self.regions.append(view)
        self.names.append(name)
        return (len(self.regions) - 1) << REGION_SHIFT

    def unmap(self, addr: int) -> None:
        """Remove the region starting at ``addr`` (its slot is never reused)."""
        slot = addr >> REGION_SHIFT
        if slot < FIRST_FREE_SLOT or slot >= len(self.regions) or addr & OFFSET_MASK:
            raise ValueError(f"0x{addr:x} is not the base of a mapped region")
        self.regions[slot] = UNMAPPED

    def describe(self, addr: int) -> str:
        """Human-readable location of ``addr``: region name and offset, or 'unmapped'."""
        slot = addr >> REGION_SHIFT
        if 0 <= slot < len(self.regions) and self.regions[slot] is not UNMAPPED:
            buf = self.regions[slot]
            return f"{self.names[slot]}+{addr & OFFSET_MASK} (size {len(buf)})"
        if slot == 0:
            return "NULL page"
        return "unmapped memory"

    def view(self, addr: int, size: int, *, write: bool = False) -> memoryview:
        """A memoryview of ``size`` bytes at ``addr``; BpfMemoryError if out of bounds."""
        addr &= 0xFFFF_FFFF_FFFF_FFFF
        slot = addr >> REGION_SHIFT
        off = addr & OFFSET_MASK
        buf = self.regions[slot] if slot < len(self.regions) else UNMAPPED
        kind = "write" if write else "read"
        if buf is UNMAPPED or size < 0 or off + size > len(buf):
            raise BpfMemoryError(f"invalid {kind} of {size} bytes at 0x{addr:x} "
                                 f"({self.describe(addr)})")
        mv = memoryview(buf)[off:off + size]
        if write and mv.readonly:
            raise BpfMemoryError(f"write of {size} bytes to read-only memory at 0x{addr:x} "
                                 f"({self.describe(addr)})")
        return mv

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.view(addr, size))

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        self.view(addr, len(data), write=True)[:] = data

    def load(self, addr: int, size: int) -> int:
        """Little-endian unsigned integer of ``size`` bytes at ``addr``."""
        return int.from_bytes(self.view(addr, size), "little")

    def store(self, addr: int, size: int, value: int) -> None:
        self.write(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def cstring(self, addr: int, limit: int = 4096) -> bytes:
        """The NUL-terminated byte string at ``addr`` (without the NUL)."""
        addr &= 0xFFFF_FFFF_FFFF_FFFF
        slot = addr >> REGION_SHIFT
        off = addr & OFFSET_MASK
        buf = self.regions[slot] if slot < len(self.regions) else UNMAPPED
        if off >= len(buf):
            raise BpfMemoryError(f"invalid string read at 0x{addr:x} ({self.describe(addr)})")
        data = bytes(memoryview(buf)[off:off + limit])
        end = data.find(b"\0")
        if end < 0:
            raise BpfMemoryError(f"string at 0x{addr:x} is not NUL-terminated within "
                                 f"its region ({self.describe(addr)})")
        return data[:end]
