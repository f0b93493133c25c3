"""Program contexts: what r1 (and r2) hold at entry and which ctx accesses are valid.

``XDP`` is ``struct xdp_md`` (include/uapi/linux/bpf.h): six u32 fields at offsets
0, 4, 8, 12, 16, 20 — ``data``, ``data_end``, ``data_meta``, ``ingress_ifindex``,
``rx_queue_index``, ``egress_ifindex``. Loads of the first three become packet pointers
(net/core/filter.c: xdp_is_valid_access, xdp_convert_ctx_access); only 4-byte aligned
reads are valid, no field is writable, and ``egress_ifindex`` is readable only by
programs attached to a devmap entry (expected_attach_type BPF_XDP_DEVMAP).

``RawContext`` is the bpf_conformance / uBPF convention: r1 points at ``mem_size``
bytes of memory (a ``mem`` pointer, like the kernel's PTR_TO_MEM) and r2 holds the
length. It has no ctx, so ctx-taking helpers cannot be called.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuxnet.bpf.verifier import reg as R
from tuxnet.bpf.verifier.reg import Reg, RegType

# include/uapi/linux/bpf.h: enum xdp_action
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)

# struct xdp_md field offsets (include/uapi/linux/bpf.h)
XDP_MD_DATA = 0
XDP_MD_DATA_END = 4
XDP_MD_DATA_META = 8
XDP_MD_INGRESS_IFINDEX = 12
XDP_MD_RX_QUEUE_INDEX = 16
XDP_MD_EGRESS_IFINDEX = 20
XDP_MD_SIZE = 24


@dataclass(frozen=True)
class ProgContext:
    """A program type's context: its struct layout and its entry registers."""

    name: str
    size: int
    # off -> the register type a 4-byte read there yields (SCALAR for plain fields)
    fields: dict[int, RegType] = field(default_factory=dict)
    field_size: int = 4
    hidden: frozenset[int] = frozenset()  # fields this attach type may not read
    packet: bool = True  # direct packet access (data/data_end) exists

    def entry_regs(self) -> dict[int, Reg]:
        return {1: R.pointer(RegType.PTR_TO_CTX)}

    def access(self, off: int, size: int, write: bool) -> RegType | None:
        """Type of a ``size``-byte access at ``off``, or None if invalid."""
        if write or off < 0 or off + size > self.size or size != self.field_size:
            return None
        if off % size or off in self.hidden or off not in self.fields:
            return None
        return self.fields[off]


def xdp_context(devmap: bool = False) -> ProgContext:
    """XDP's ``struct xdp_md``; ``devmap`` for programs run on a devmap entry."""
    fields = {XDP_MD_DATA: RegType.PTR_TO_PACKET, XDP_MD_DATA_END: RegType.PTR_TO_PACKET_END,
              XDP_MD_DATA_META: RegType.PTR_TO_PACKET_META,
              XDP_MD_INGRESS_IFINDEX: RegType.SCALAR, XDP_MD_RX_QUEUE_INDEX: RegType.SCALAR,
              XDP_MD_EGRESS_IFINDEX: RegType.SCALAR}
    hidden = frozenset() if devmap else frozenset({XDP_MD_EGRESS_IFINDEX})
    return ProgContext("xdp", XDP_MD_SIZE, fields, 4, hidden)


XDP = xdp_context()


@dataclass(frozen=True)
class RawContext(ProgContext):
    """r1 = pointer to ``mem_size`` bytes, r2 = the length (conformance convention).

    With ``mem_size=None`` the length is unknown (r2 is any u32) and r1 points at an
    empty region, so the program may not touch its input memory at all.
    """

    mem_size: int | None = 0

    def entry_regs(self) -> dict[int, Reg]:
        size = self.mem_size or 0
        length = R.const(size) if self.mem_size is not None else R.urange(0, 0xFFFF_FFFF)
        return {1: R.pointer(RegType.PTR_TO_MEM, mem_size=size), 2: length}

    def access(self, off: int, size: int, write: bool) -> RegType | None:
        return None


def raw_context(mem_size: int | None = 0) -> RawContext:
    return RawContext("raw", 0, {}, 8, frozenset(), False, mem_size)
