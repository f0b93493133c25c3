"""The kernel log's instruction syntax (each expected line copied from a Linux 6.18
verifier log of the same instruction)."""

from __future__ import annotations

import pytest

from tuxnet.bpf.asm import assemble
from tuxnet.bpf.kdisasm import kernel_line
from tuxnet.bpf.verifier.protos import helper_name


@pytest.mark.parametrize(("src", "line"), [
    ("mov %r0, 0", "0: (b7) r0 = 0"),
    ("ldxw %r2, [%r1+0]", "0: (61) r2 = *(u32 *)(r1 +0)"),
    ("mov %r4, %r2", "0: (bf) r4 = r2"),
    ("add %r4, 14", "0: (07) r4 += 14"),
    ("jgt %r4, %r3, +3", "0: (2d) if r4 > r3 goto pc+3"),
    ("jeq %r0, 0, -1", "0: (15) if r0 == 0x0 goto pc-1"),
    ("jle %r7, 5, -8", "0: (b5) if r7 <= 0x5 goto pc-8"),
    ("ja -1", "0: (05) goto pc-1"),
    ("add32 %r2, 1", "0: (04) w2 += 1"),
    ("mov32 %r0, %r1", "0: (bc) w0 = w1"),
    ("lsh32 %r0, 32", "0: (64) w0 <<= 32"),
    ("div %r0, 0", "0: (37) r0 /= 0"),
    ("sub %r3, %r2", "0: (1f) r3 -= r2"),
    ("or %r4, %r5", "0: (4f) r4 |= r5"),
    ("stdw [%r10-520], 0", "0: (7a) *(u64 *)(r10 -520) = 0"),
    ("stw [%r10-8], 0", "0: (62) *(u32 *)(r10 -8) = 0"),
    ("stxw [%r1], %r1", "0: (63) *(u32 *)(r1 +0) = r1"),
    ("stxdw [%r10-16], %r1", "0: (7b) *(u64 *)(r10 -16) = r1"),
    ("lock add32 [%r1], %r2", "0: (c3) lock *(u32 *)(r1 +0) += r2"),
    ("lock add [%r2], %r5", "0: (db) lock *(u64 *)(r2 +0) += r5"),
    ("call 12", "0: (85) call bpf_tail_call#12"),
    ("call local +2", "0: (85) call pc+2"),
    ("exit", "0: (95) exit"),
])
def test_kernel_syntax(src: str, line: str) -> None:
    assert kernel_line(assemble(src), 0, helper_name) == line
