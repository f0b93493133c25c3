"""Rewriting context accesses after verification (kernel/bpf/verifier.c:
convert_ctx_accesses; net/core/filter.c: xdp_convert_ctx_access).

Programs read ``struct xdp_md`` with 32-bit loads, but the packet pointers they get
are full addresses. As the kernel does, each load the verifier saw go through the
context is rewritten to read the runtime's own context structure instead — here
``XDP_BUFF``: six little-endian u64 fields, so a load of ``data`` becomes a 64-bit
load of a real address. :func:`xdp_buff` builds that structure for one run.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from tuxnet.bpf import isa
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.program import Program
from tuxnet.bpf.verifier.context import (
    XDP_MD_DATA,
    XDP_MD_DATA_END,
    XDP_MD_DATA_META,
    XDP_MD_EGRESS_IFINDEX,
    XDP_MD_INGRESS_IFINDEX,
    XDP_MD_RX_QUEUE_INDEX,
)
from tuxnet.bpf.verifier.reg import RegType

# xdp_md field -> (offset in the runtime structure, load size)
XDP_BUFF_FIELDS = {
    XDP_MD_DATA: (0, isa.BPF_DW), XDP_MD_DATA_END: (8, isa.BPF_DW),
    XDP_MD_DATA_META: (16, isa.BPF_DW), XDP_MD_INGRESS_IFINDEX: (24, isa.BPF_W),
    XDP_MD_RX_QUEUE_INDEX: (32, isa.BPF_W), XDP_MD_EGRESS_IFINDEX: (40, isa.BPF_W),
}
XDP_BUFF_SIZE = 48
_XDP_BUFF = struct.Struct("<QQQQQQ")


def xdp_buff(data: int, data_end: int, data_meta: int, ingress_ifindex: int = 0,
             rx_queue_index: int = 0, egress_ifindex: int = 0) -> bytearray:
    """The runtime context a converted XDP program reads (addresses in its memory)."""
    return bytearray(_XDP_BUFF.pack(data, data_end, data_meta, ingress_ifindex,
                                    rx_queue_index, egress_ifindex))


def convert_ctx_accesses(prog: Program | Sequence[Insn],
                         mem_types: Mapping[int, RegType]) -> Program:
    """``prog`` with every xdp_md load (per the verifier's ``mem_types``) rewritten
    to read :data:`XDP_BUFF_FIELDS` of the runtime structure."""
    insns = list(prog.insns if isinstance(prog, Program) else prog)
    for pc, kind in mem_types.items():
        i = insns[pc]
        if kind != RegType.PTR_TO_CTX or i.opcode & 0x07 != isa.BPF_LDX:
            continue
        off, size = XDP_BUFF_FIELDS[i.off]
        insns[pc] = i._replace(opcode=isa.BPF_LDX | isa.BPF_MEM | size, off=off)
    name = prog.name if isinstance(prog, Program) else "prog"
    return Program.load(insns, name)
