"""Verifier accept/reject cases, each with the message Linux gives.

Every case below was loaded into Linux 6.18 with bpf(BPF_PROG_LOAD) as an XDP program
(as root, the default capabilities of ``verify``) with the same maps, and the expected
message is the last line of the kernel's verifier log (None: the kernel accepted it).
Programs use the conformance assembly syntax (``;`` separates instructions here).
Maps by fd: 1 array(4, 8, 16), 2 hash(4, 8, 16), 3 devmap(4, 4, 8), 4 prog_array(4, 4, 8),
5 array(4, 8, 1), 6 percpu_array(4, 8, 4), 7 lpm_trie(8, 8, 16).
"""

from __future__ import annotations

from typing import Any

import pytest

from tuxnet.bpf.asm import assemble
from tuxnet.bpf.maps import (
    ArrayMap,
    BpfMap,
    DevMap,
    HashMap,
    LpmTrieMap,
    PercpuArrayMap,
    ProgArrayMap,
)
from tuxnet.bpf.verifier import CAP_BPF, ROOT, UNPRIVILEGED, Caps, VerifierResult, verify


class Maps:
    """The fds the kernel cases were run with."""

    def __init__(self) -> None:
        self.by_fd: dict[int, BpfMap] = {
            1: ArrayMap(4, 8, 16), 2: HashMap(4, 8, 16), 3: DevMap(4, 4, 8),
            4: ProgArrayMap(4, 4, 8), 5: ArrayMap(4, 8, 1), 6: PercpuArrayMap(4, 8, 4),
            7: LpmTrieMap(8, 8, 16)}

    def map_by_fd(self, fd: int) -> BpfMap | None:
        return self.by_fd.get(fd)

    def map_by_index(self, idx: int) -> BpfMap | None:
        return None


MAPS = Maps()


def check(src: str, caps: Caps = ROOT, **kw: Any) -> VerifierResult:
    return verify(assemble(src.replace(";", "\n")), maps=MAPS, caps=caps, **kw)


# (name, program, kernel message or None) -- Linux 6.18 as root
KERNEL_CASES = [
    ('unset_r0',
        'exit',
        'R0 !read_ok'),
    ('uninit_r3',
        'mov %r0, %r3; exit',
        'R3 !read_ok'),
    ('deref_scalar',
        'mov %r1, 0; ldxdw %r0, [%r1]; exit',
        "R1 invalid mem access 'scalar'"),
    ('ctx_off',
        'add %r1, 4; ldxw %r0, [%r1]; exit',
        'dereference of modified ctx ptr R1 off=4 disallowed'),
    ('ctx_write',
        'stxw [%r1], %r1; mov %r0, 0; exit',
        'invalid bpf_context access off=0 size=4'),
    ('ctx_st',
        'stw [%r1], 1; mov %r0, 0; exit',
        'invalid bpf_context access off=0 size=4'),
    ('ctx_egress',
        'ldxw %r0, [%r1+20]; exit',
        'invalid bpf_context access off=20 size=4'),
    ('ctx_ingress',
        'ldxw %r0, [%r1+12]; exit',
        None),
    ('ctx_bad_size',
        'ldxdw %r0, [%r1+0]; exit',
        'invalid bpf_context access off=0 size=8'),
    ('ctx_oob',
        'ldxw %r0, [%r1+24]; exit',
        'invalid bpf_context access off=24 size=4'),
    ('ctx_unal',
        'ldxw %r0, [%r1+2]; exit',
        'invalid bpf_context access off=2 size=4'),
    ('pktend_arith',
        'ldxw %r2, [%r1+4]; add %r2, 1; mov %r0, 0; exit',
        'R2 pointer arithmetic on pkt_end prohibited'),
    ('ptr32',
        'ldxw %r2, [%r1+0]; add32 %r2, 1; mov %r0, 0; exit',
        'R2 32-bit pointer arithmetic prohibited'),
    ('ptr_and',
        'ldxw %r2, [%r1+0]; and %r2, 1; mov %r0, 0; exit',
        'R2 bitwise operator &= on pointer prohibited'),
    ('ptr_mul',
        'ldxw %r2, [%r1+0]; mul %r2, 2; mov %r0, 0; exit',
        'R2 pointer arithmetic with *= operator prohibited'),
    ('ptrptr_add',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; add %r2, %r3; mov %r0, 0; exit',
        'R2 pointer += pointer prohibited'),
    ('ptrptr_sub',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; sub %r3, %r2; mov %r0, %r3; exit',
        None),
    ('ret_ptr',
        'mov %r0, %r1; exit',
        None),
    ('stack_oob',
        'stdw [%r10-520], 0; mov %r0, 0; exit',
        'invalid write to stack R10 off=-520 size=8'),
    ('stack_mis',
        'stdw [%r10-4], 0; mov %r0, 0; exit',
        'misaligned stack access off 0+0+-4 size 8'),
    ('stack_pos',
        'stdw [%r10+0], 0; mov %r0, 0; exit',
        'invalid write to stack R10 off=0 size=8'),
    ('stack_rd_pos',
        'mov %r0, 0; ldxdw %r0, [%r10+8]; exit',
        'invalid read from stack R10 off=8 size=8'),
    ('back_edge',
        'mov %r0, 0; ja -1; exit',
        'unreachable insn 2'),
    ('inf_loop',
        'mov %r0, 0; jeq %r0, 0, -1; exit',
        'infinite loop detected at insn 1'),
    ('ja_loop',
        'mov %r0, 0; ja -1',
        'infinite loop detected at insn 1'),
    ('unreach',
        'mov %r0, 0; exit; mov %r0, 1; exit',
        'unreachable insn 2'),
    ('div0',
        'mov %r0, 1; div %r0, 0; exit',
        'div by zero'),
    ('divx0',
        'mov %r0, 1; mov %r1, 0; div %r0, %r1; exit',
        None),
    ('shift',
        'mov %r0, 1; lsh %r0, 64; exit',
        'invalid shift 64'),
    ('shift32',
        'mov %r0, 1; lsh32 %r0, 32; exit',
        'invalid shift 32'),
    ('callx',
        'mov %r0, 1; call %r0; exit',
        'unknown opcode 8d'),
    ('helper_unknown',
        'call 99999; exit',
        'invalid func unknown#99999'),
    ('tailcall_scalar',
        'mov %r1, 0; mov %r2, 0; mov %r3, 0; call 12; mov %r0, 0; exit',
        'R1 type=scalar expected=ctx'),
    ('lookup_scalar',
        'mov %r1, 0; mov %r2, 0; call 1; mov %r0, 0; exit',
        'R1 type=scalar expected=map_ptr'),
    ('r1_after_call',
        'call 5; mov %r0, %r1; exit',
        'R1 !read_ok'),
    ('pkt_noc',
        'ldxw %r2, [%r1+0]; ldxb %r0, [%r2+0]; exit',
        'R2 offset is outside of the packet'),
    ('pkt_meta',
        'ldxw %r2, [%r1+8]; ldxb %r0, [%r2+0]; exit',
        'R2 offset is outside of the packet'),
    ('pkt_end_deref',
        'ldxw %r2, [%r1+4]; ldxb %r0, [%r2+0]; exit',
        "R2 invalid mem access 'pkt_end'"),
    ('ptrcmp',
        'ldxw %r2, [%r1+0]; mov %r0, 0; jgt %r2, 5, +0; exit',
        None),
    ('null_deref',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; ldxdw %r0, [%r0]; exit',
        "R0 invalid mem access 'map_value_or_null'"),
    ('null_arith',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; add %r0, 1; mov %r0, 0; exit',
        'R0 pointer arithmetic on map_value_or_null prohibited, null-check it first'),
    ('arr_const',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 1; '
        'call 1; ldxdw %r0, [%r0]; exit',
        None),
    ('arr_const_oob',
        'stw [%r10-4], 16; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 1; '
        'call 1; ldxdw %r0, [%r0]; exit',
        "R0 invalid mem access 'map_value_or_null'"),
    ('arr_const_15',
        'stdw [%r10-8], 15; mov %r2, %r10; add %r2, -8; lddw %r1, map_fd 1; '
        'call 1; ldxdw %r0, [%r0]; exit',
        "R0 invalid mem access 'map_value_or_null'"),
    ('val_oob',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +2; ldxdw %r0, [%r0+8]; exit; mov %r0, 0; exit',
        'R0 min value is outside of the allowed memory range'),
    ('val_ok',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +2; ldxdw %r0, [%r0+0]; exit; mov %r0, 0; exit',
        None),
    ('val_ok_jne',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jne %r0, 0, +2; mov %r0, 0; exit; ldxdw %r0, [%r0+0]; exit',
        None),
    ('val_copy',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; mov %r6, %r0; jeq %r0, 0, +2; ldxdw %r0, [%r6+0]; exit; '
        'mov %r0, 0; exit',
        None),
    ('key_uninit',
        'mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; call 1; mov %r0, 0; exit',
        None),
    ('key_scalar',
        'mov %r2, 0; lddw %r1, map_fd 2; call 1; mov %r0, 0; exit',
        'R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, '
        'buf, trusted_ptr_'),
    ('key_oob',
        'mov %r2, %r10; add %r2, 2; lddw %r1, map_fd 2; call 1; mov %r0, 0; exit',
        'invalid read from stack R2 off=2 size=4'),
    ('redir_wrong',
        'lddw %r1, map_fd 2; mov %r2, 0; mov %r3, 0; call 51; exit',
        'cannot pass map_type 1 into func bpf_redirect_map#51'),
    ('redir_ok',
        'lddw %r1, map_fd 3; mov %r2, 0; mov %r3, 0; call 51; exit',
        None),
    ('tail_wrong',
        'lddw %r2, map_fd 2; mov %r3, 0; call 12; mov %r0, 0; exit',
        'expected prog array map for tail call'),
    ('tail_ok',
        'lddw %r2, map_fd 4; mov %r3, 0; call 12; mov %r0, 0; exit',
        None),
    ('upd_dev',
        'stw [%r10-4], 0; stw [%r10-8], 0; mov %r2, %r10; add %r2, -4; '
        'mov %r3, %r10; add %r3, -8; lddw %r1, map_fd 3; mov %r4, 0; call 2; exit',
        'write into map forbidden'),
    ('mapptr_arith',
        'lddw %r1, map_fd 2; add %r1, 1; mov %r0, 0; exit',
        'R1 pointer arithmetic on map_ptr prohibited'),
    ('var_val',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +4; ldxdw %r1, [%r0]; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'math between map_value pointer and register with unbounded min value is not allowed'),
    ('var_val_masked',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxdw %r1, [%r0]; and %r1, 7; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('var_val_neg',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxdw %r1, [%r0]; and %r1, 15; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'R0 max value is outside of the allowed memory range'),
    ('var_val_bound',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxdw %r1, [%r0]; jgt %r1, 7, +4; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'unreachable insn 12'),
    ('var_val_bound8',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxdw %r1, [%r0]; jgt %r1, 8, +4; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'unreachable insn 12'),
    ('csum_size',
        'mov %r1, %r10; add %r1, -8; stdw [%r10-8], 0; mov %r2, 9; mov %r3, 0; '
        'mov %r4, 0; mov %r5, 0; call 28; exit',
        'invalid read from stack R1 off=-8 size=9'),
    ('csum_ok',
        'mov %r1, %r10; add %r1, -8; stdw [%r10-8], 0; mov %r2, 8; mov %r3, 0; '
        'mov %r4, 0; mov %r5, 0; call 28; exit',
        None),
    ('csum_uninit',
        'mov %r1, %r10; add %r1, -8; mov %r2, 8; mov %r3, 0; mov %r4, 0; '
        'mov %r5, 0; call 28; exit',
        None),
    ('printk',
        'stdw [%r10-8], 0x6968; mov %r1, %r10; add %r1, -8; mov %r2, 8; call 6; '
        'exit',
        None),
    ('adj',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 1; '
        'jgt %r4, %r3, +5; mov %r6, %r2; mov %r2, 0; call 44; ldxb %r0, [%r6]; '
        'exit; mov %r0, 0; exit',
        "R6 invalid mem access 'scalar'"),
    ('pkt_var',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 1; '
        'jgt %r4, %r3, +7; ldxb %r5, [%r2]; add %r2, %r5; mov %r4, %r2; '
        'add %r4, 2; jgt %r4, %r3, +2; ldxb %r0, [%r2+1]; exit; mov %r0, 0; exit',
        None),
    ('pkt_unb',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 8; '
        'jgt %r4, %r3, +7; ldxdw %r5, [%r2]; add %r2, %r5; mov %r4, %r2; '
        'add %r4, 2; jgt %r4, %r3, +2; ldxb %r0, [%r2+1]; exit; mov %r0, 0; exit',
        'math between pkt pointer and register with unbounded min value is not allowed'),
    ('store_ptr_map',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +2; stxdw [%r0], %r10; exit; mov %r0, 0; exit',
        None),
    ('spill_partial',
        'stxw [%r10-8], %r1; mov %r0, 0; exit',
        'invalid size of register spill'),
    ('fill_partial',
        'stxdw [%r10-8], %r1; ldxw %r0, [%r10-8]; exit',
        'invalid size of register fill'),
    ('spill_fill',
        'stxdw [%r10-8], %r1; ldxdw %r2, [%r10-8]; ldxw %r0, [%r2+12]; exit',
        None),
    ('st_atomic_ctx',
        'mov %r2, 1; lock add32 [%r1], %r2; mov %r0, 0; exit',
        'BPF_ATOMIC stores into R1 ctx is not allowed'),
    ('pkt_atomic',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 8; '
        'jgt %r4, %r3, +3; mov %r5, 1; lock add [%r2], %r5; mov %r0, 0; exit',
        'BPF_ATOMIC stores into R2 pkt is not allowed'),
    ('stack_atomic',
        'stdw [%r10-8], 0; mov %r2, 1; lock add [%r10-8], %r2; '
        'ldxdw %r0, [%r10-8]; exit',
        None),
    ('recursion',
        'mov %r0, 0; call local +1; exit; call local -1; mov %r0, 0; exit',
        'the call stack of 9 frames is too deep'),
    ('sub_ok',
        'mov %r1, 5; call local +2; add %r0, 1; exit; mov %r0, %r1; exit',
        None),
    ('sub_nor0',
        'mov %r1, 5; call local +2; add %r0, 1; exit; mov %r1, 0; exit',
        'R0 !read_ok'),
    ('stack_var_read',
        'stdw [%r10-16], 0; stdw [%r10-8], 0; ldxdw %r1, [%r10-16]; and %r1, 8; '
        'mov %r2, %r10; add %r2, -16; add %r2, %r1; ldxdw %r0, [%r2]; exit',
        None),
    ('loop_ok',
        'mov %r0, 0; mov %r1, 0; add %r1, 1; add %r0, 2; jlt %r1, 3, -3; exit',
        None),
    ('loop_big',
        'mov %r0, 0; mov %r1, 0; add %r1, 1; add %r0, 2; jlt %r1, 1000, -3; exit',
        None),
    ('jge13',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; '
        'jge %r4, %r3, +2; ldxb %r0, [%r2+13]; exit; mov %r0, 2; exit',
        None),
    ('jge14',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; '
        'jge %r4, %r3, +2; ldxb %r0, [%r2+14]; exit; mov %r0, 2; exit',
        None),
    ('jgt14',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; '
        'jgt %r4, %r3, +2; ldxb %r0, [%r2+14]; exit; mov %r0, 2; exit',
        'R2 offset is outside of the packet'),
    ('jge0',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; jge %r2, %r3, +2; '
        'ldxb %r0, [%r2+0]; exit; mov %r0, 2; exit',
        'R2 offset is outside of the packet'),
    ('jlt13',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; '
        'jlt %r4, %r3, +2; mov %r0, 2; exit; ldxb %r0, [%r2+13]; exit',
        None),
    ('jle13',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; '
        'jle %r4, %r3, +2; mov %r0, 2; exit; ldxb %r0, [%r2+13]; exit',
        None),
    ('rev_jgt',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; '
        'jgt %r3, %r4, +2; mov %r0, 2; exit; ldxb %r0, [%r2+13]; exit',
        None),
    ('rev_jge',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; '
        'jge %r3, %r4, +2; mov %r0, 2; exit; ldxb %r0, [%r2+13]; exit',
        None),
    ('rev_jlt',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; '
        'jlt %r3, %r4, +2; ldxb %r0, [%r2+13]; exit; mov %r0, 2; exit',
        None),
    ('meta',
        'ldxw %r2, [%r1+8]; ldxw %r3, [%r1+0]; mov %r4, %r2; add %r4, 4; '
        'jgt %r4, %r3, +2; ldxw %r0, [%r2]; exit; mov %r0, 2; exit',
        None),
    ('jeq_pkt',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; '
        'jeq %r4, %r3, +2; ldxb %r0, [%r2+13]; exit; mov %r0, 2; exit',
        'R2 offset is outside of the packet'),
    ('pkt_write',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 2; '
        'jgt %r4, %r3, +2; sth [%r2], 7; mov %r0, 2; exit',
        'R0 !read_ok'),
    ('scalar_bounds',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 20; '
        'jgt %r4, %r3, +6; ldxb %r5, [%r2]; and %r5, 15; add %r2, %r5; '
        'ldxb %r0, [%r2+4]; exit; mov %r0, 2; exit',
        'unreachable insn 10'),
    ('map_value_direct',
        'lddw %r1, map_value 5, 4; ldxw %r0, [%r1]; exit',
        None),
    ('map_value_direct_oob',
        'lddw %r1, map_value 5, 4; ldxdw %r0, [%r1]; exit',
        'R1 min value is outside of the allowed memory range'),
    ('map_value_direct_hash',
        'lddw %r1, map_value 2, 0; ldxw %r0, [%r1]; exit',
        'no direct value access support for this map type'),
    ('bad_fd',
        'lddw %r1, map_fd 99; mov %r0, 0; exit',
        'fd 99 is not pointing to valid bpf_map'),
    ('percpu_lookup',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 6; '
        'call 1; jeq %r0, 0, +3; mov %r1, 1; lock add [%r0], %r1; mov %r0, 2; '
        'exit',
        None),
    ('lpm_lookup',
        'stdw [%r10-8], 32; mov %r2, %r10; add %r2, -8; lddw %r1, map_fd 7; '
        'call 1; jeq %r0, 0, +2; ldxdw %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('upd_ok',
        'stw [%r10-4], 0; stdw [%r10-16], 0; mov %r2, %r10; add %r2, -4; '
        'mov %r3, %r10; add %r3, -16; lddw %r1, map_fd 2; mov %r4, 0; call 2; '
        'exit',
        None),
    ('upd_val_short',
        'stw [%r10-4], 0; stw [%r10-16], 0; mov %r2, %r10; add %r2, -4; '
        'mov %r3, %r10; add %r3, -16; lddw %r1, map_fd 2; mov %r4, 0; call 2; '
        'exit',
        None),
    ('del_ok',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 3; exit',
        None),
    ('del_arr',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 1; '
        'call 3; exit',
        None),
    ('neg_ptr',
        'mov %r0, %r1; neg %r0; mov %r0, 0; exit',
        None),
    ('be_ptr',
        'mov %r0, %r1; be16 %r0; mov %r0, 0; exit',
        None),
    ('jset',
        'ldxw %r2, [%r1+12]; mov %r0, 0; jset %r2, 4, +1; exit; mov %r0, 1; exit',
        None),
    ('jmp32_bound',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxw %r1, [%r0]; jgt32 %r1, 7, +4; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'unreachable insn 12'),
    ('signed_bound',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +7; ldxdw %r1, [%r0]; jsgt %r1, 7, +5; '
        'jslt %r1, 0, +4; add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'unreachable insn 13'),
    ('signed_nolow',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxdw %r1, [%r0]; jsgt %r1, 7, +4; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'unreachable insn 12'),
    # bounds tracking as precise as the kernel's (and no more: DIV/MOD stay unknown)
    ('jmp32_pkt',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 8; '
        'jgt32 %r4, %r3, +2; ldxb %r0, [%r2]; exit; mov %r0, 0; exit',
        'R2 offset is outside of the packet'),
    ('jmp32_bound_w',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxw %r1, [%r0]; jgt32 %r1, 7, +4; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'unreachable insn 12'),
    ('jmp32_bound_64val',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxdw %r1, [%r0]; jgt32 %r1, 7, +4; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'unreachable insn 12'),
    ('signed32',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +7; ldxw %r1, [%r0]; jsgt32 %r1, 7, +5; '
        'jslt32 %r1, 0, +4; add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'unreachable insn 13'),
    ('and_bound',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxdw %r1, [%r0]; and32 %r1, 7; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('rsh_bound',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxdw %r1, [%r0]; rsh %r1, 61; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('mod_bound',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxdw %r1, [%r0]; mod %r1, 8; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'math between map_value pointer and register with unbounded min value is not allowed'),
    ('ptr_jeq_null_32',
        'ldxw %r2, [%r1+0]; mov %r0, 0; jeq32 %r2, 0, +1; mov %r0, 1; exit',
        None),
    ('neg_bound',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxb %r1, [%r0]; neg %r1; add %r1, 7; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'R0 min value is negative, either use unsigned index or do a if (index >=0) check.'),
    ('var_stack_write',
        'ldxw %r2, [%r1+12]; and %r2, 8; mov %r3, %r10; add %r3, -16; '
        'add %r3, %r2; stdw [%r3], 1; mov %r0, 0; exit',
        None),
    ('var_stack_read_uninit',
        'ldxw %r2, [%r1+12]; and %r2, 8; mov %r3, %r10; add %r3, -16; '
        'add %r3, %r2; ldxdw %r0, [%r3]; exit',
        None),
    ('sub_var_pkt',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; ldxw %r4, [%r1+12]; and %r4, 7; '
        'sub %r3, %r4; mov %r0, 0; exit',
        'R3 pointer arithmetic on pkt_end prohibited'),
    ('ptr_add_neg',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 8; '
        'jgt %r4, %r3, +3; add %r2, -1; ldxb %r0, [%r2]; exit; mov %r0, 0; exit',
        'R2 offset is outside of the packet'),
    ('meta_check',
        'ldxw %r2, [%r1+8]; ldxw %r3, [%r1+0]; mov %r4, %r2; add %r4, 4; '
        'jgt %r4, %r3, +2; stw [%r2], 1; mov %r0, 2; exit',
        'R0 !read_ok'),
    ('end_load',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 8; '
        'jgt %r4, %r3, +3; ldxh %r0, [%r2+12]; be16 %r0; exit; mov %r0, 0; exit',
        'R2 offset is outside of the packet'),
    ('u8_index',
        'ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 300; '
        'jgt %r4, %r3, +5; ldxb %r5, [%r2]; add %r2, %r5; ldxb %r0, [%r2+44]; '
        'exit; mov %r0, 0; exit',
        'unreachable insn 9'),
    ('lookup_ret_arith',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +3; add %r0, 4; ldxw %r0, [%r0]; exit; mov %r0, 0; '
        'exit',
        None),
    ('call_arg_uninit_r3',
        'mov %r1, 1; mov %r2, 0; call 23; exit',
        None),
    ('redirect_uninit',
        'mov %r1, 1; call 23; exit',
        'R2 !read_ok'),
    ('xdp_adj_then_check',
        'mov %r6, %r1; mov %r2, -14; call 44; ldxw %r2, [%r6+0]; '
        'ldxw %r3, [%r6+4]; mov %r4, %r2; add %r4, 14; jgt %r4, %r3, +2; '
        'stw [%r2], 0; mov %r0, 2; exit',
        None),
    ('div_cc',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; mov %r1, 8; div %r1, 2; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'math between map_value pointer and register with unbounded min value is not allowed'),
    ('div_vc',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxb %r1, [%r0]; div %r1, 64; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'math between map_value pointer and register with unbounded min value is not allowed'),
    ('mod_vc',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxb %r1, [%r0]; mod %r1, 8; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'math between map_value pointer and register with unbounded min value is not allowed'),
    ('mul_vc',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxb %r1, [%r0]; and %r1, 1; mul %r1, 7; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('lsh_vr',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +7; ldxb %r1, [%r0]; and %r1, 1; mov %r3, 2; '
        'lsh %r1, %r3; add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('rsh_vc',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxb %r1, [%r0]; rsh %r1, 5; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('arsh_vc',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxb %r1, [%r0]; arsh %r1, 5; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('neg_c',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; mov %r1, -3; neg %r1; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('be16_c',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; mov %r1, 0x0700; be16 %r1; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('le16_v',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxb %r1, [%r0]; and %r1, 7; le16 %r1; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('bswap_c',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; mov %r1, 0x0700; bswap16 %r1; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('movsx_v',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxb %r1, [%r0]; and %r1, 7; movsx864 %r1, %r1; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('xor_v',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxb %r1, [%r0]; and %r1, 3; xor %r1, 4; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('or_v',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxb %r1, [%r0]; and %r1, 3; or %r1, 4; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('sub_v',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +8; ldxb %r1, [%r0]; and %r1, 3; mov %r3, 7; '
        'sub %r3, %r1; mov %r1, %r3; add %r0, %r1; ldxb %r0, [%r0]; exit; '
        'mov %r0, 0; exit',
        None),
    ('add32_v',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +6; ldxb %r1, [%r0]; and %r1, 3; add32 %r1, 2; '
        'add %r0, %r1; ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        None),
    ('sdiv_cc',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; mov %r1, 8; sdiv %r1, 2; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'math between map_value pointer and register with unbounded min value is not allowed'),
    ('smod_vc',
        'stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; '
        'call 1; jeq %r0, 0, +5; ldxb %r1, [%r0]; smod %r1, 4; add %r0, %r1; '
        'ldxb %r0, [%r0]; exit; mov %r0, 0; exit',
        'math between map_value pointer and register with unbounded min value is not allowed'),
]


@pytest.mark.parametrize(("name", "src", "message"), KERNEL_CASES,
                         ids=[c[0] for c in KERNEL_CASES])
def test_matches_the_kernel_as_root(name: str, src: str, message: str | None) -> None:
    r = check(src)
    if message is None:
        assert r.ok, f"rejected: {r.message}\n{r.log}"
    else:
        assert not r.ok, "accepted, the kernel rejects it"
        assert r.message == message


# The same kind of programs loaded with CAP_BPF + CAP_NET_ADMIN only (no CAP_PERFMON /
# CAP_SYS_ADMIN): no pointer leaks, no uninitialised stack reads (Linux 6.18).
CAP_BPF_CASES = [
    ("ptr_minus_ptr", "ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; sub %r3, %r2; mov %r0, %r3; exit",
     "R3 pointer -= pointer prohibited"),
    ("return_pointer", "mov %r0, %r1; exit", "R0 leaks addr as return value"),
    ("compare_pointer_with_imm", "ldxw %r2, [%r1+0]; mov %r0, 0; jgt %r2, 5, +0; exit",
     "R2 pointer comparison prohibited"),
    ("compare_two_pointers", "mov %r2, %r10; mov %r0, 0; jeq %r2, %r1, +0; exit",
     "R1 pointer comparison prohibited"),
    ("pkt_eq_pkt_end", "ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; "
     "jeq %r4, %r3, +2; ldxb %r0, [%r2+13]; exit; mov %r0, 2; exit",
     "R4 pointer comparison prohibited"),
    ("pkt_gt_pkt_end_is_allowed", "ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r0, 0; "
     "jgt %r2, %r3, +0; exit", None),
    ("null_check_is_allowed", "stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; "
     "lddw %r1, map_fd 2; call 1; jne %r0, 0, +1; exit; ldxdw %r0, [%r0]; exit", None),
    ("uninitialised_key", "mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; call 1; "
     "mov %r0, 0; exit", "invalid read from stack R2 off=-4 size=4"),
    ("partly_initialised_key", "stb [%r10-4], 0; mov %r2, %r10; add %r2, -4; "
     "lddw %r1, map_fd 2; call 1; mov %r0, 0; exit",
     "invalid read from stack R2 off -4+1 size 4"),
    ("pointer_into_map", "stw [%r10-4], 0; mov %r2, %r10; add %r2, -4; lddw %r1, map_fd 2; "
     "call 1; jeq %r0, 0, +2; stxdw [%r0], %r10; exit; mov %r0, 0; exit",
     "R10 leaks addr into map"),
    ("mov32_of_pointer", "mov32 %r0, %r1; exit", "R1 partial copy of pointer"),
    ("overwrite_spilled_pointer", "stxdw [%r10-8], %r1; stw [%r10-8], 0; mov %r0, 0; exit",
     "attempt to corrupt spilled pointer on stack"),
    ("trace_printk_needs_perfmon", "stdw [%r10-8], 0x6968; mov %r1, %r10; add %r1, -8; "
     "mov %r2, 8; call 6; exit", "program of this type cannot use helper bpf_trace_printk#6"),
    ("variable_pkt_arithmetic", "ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; "
     "add %r4, 1; jgt %r4, %r3, +7; ldxb %r5, [%r2]; add %r2, %r5; mov %r4, %r2; "
     "add %r4, 2; jgt %r4, %r3, +2; ldxb %r0, [%r2+1]; exit; mov %r0, 0; exit",
     "R2 has pointer with unsupported alu operation, pointer arithmetic with it prohibited "
     "for !root"),
    ("pkt_plus_register_holding_a_constant", "ldxw %r2, [%r1+0]; mov %r9, 0; add %r2, %r9; "
     "mov %r0, 0; exit",
     "R2 has pointer with unsupported alu operation, pointer arithmetic with it prohibited "
     "for !root"),
    ("stack_plus_register_holding_a_constant", "mov %r2, %r10; mov %r9, -8; add %r2, %r9; "
     "stdw [%r2], 0; mov %r0, 0; exit", None),
    ("ctx_compared_with_null", "mov %r0, 0; jne %r1, 0, +1; ldxw %r0, [%r1+0]; exit",
     "R1 pointer comparison prohibited"),
    ("read_unwritten_stack", "ldxdw %r0, [%r10-8]; exit",
     "invalid read from stack R10 off=-8 size=8"),
    ("read_half_written_slot", "stw [%r10-8], 0; ldxdw %r0, [%r10-8]; exit",
     "invalid read from stack off -8+4 size 8"),
    ("read_other_half_written", "stw [%r10-4], 0; ldxdw %r0, [%r10-8]; exit",
     "invalid read from stack off -8+0 size 8"),
]


@pytest.mark.parametrize(("name", "src", "message"), CAP_BPF_CASES,
                         ids=[c[0] for c in CAP_BPF_CASES])
def test_matches_the_kernel_with_cap_bpf_only(name: str, src: str,
                                              message: str | None) -> None:
    r = check(src, CAP_BPF)
    if message is None:
        assert r.ok, r.message
    else:
        assert (r.ok, r.message) == (False, message)


def test_only_map_values_are_known_not_null() -> None:
    # reg_not_null(): "pkt == 0" is explored both ways (Linux 6.18)
    src = "ldxw %r2, [%r1+0]; mov %r0, 0; jeq %r2, 0, +1; exit; mov %r0, %r2; and %r0, 1; exit"
    assert check(src).message == "R0 bitwise operator &= on pointer prohibited"
    assert check("mov %r0, 0; jne %r1, 0, +1; ldxw %r0, [%r1+0]; exit").ok


def test_root_reads_uninitialised_stack() -> None:
    # allow_uninit_stack (CAP_PERFMON): the value is simply unknown
    assert check("ldxdw %r0, [%r10-8]; exit").ok
    assert not check("ldxdw %r0, [%r10-8]; exit", CAP_BPF).ok


def test_rejection_carries_pc_errno_and_log() -> None:
    r = check("mov %r0, 0; ldxw %r2, [%r1+0]; ldxb %r0, [%r2+0]; exit", log_level=1)
    assert (r.ok, r.pc, r.errno) == (False, 2, 13)
    assert r.log.splitlines()[-3:] == [
        "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)",
        "R2 offset is outside of the packet",
        "processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 "
        "peak_states 0 mark_read 0"]
    with pytest.raises(Exception, match="outside of the packet") as info:
        r.raise_for_error()
    assert getattr(info.value, "errno", None) == 13


def test_unprivileged_loader_gets_no_loops() -> None:
    src = "mov %r0, 0; mov %r1, 0; add %r1, 1; jlt %r1, 3, -2; exit"
    assert check(src).ok
    r = check(src, UNPRIVILEGED)
    assert r.message == "back-edge from insn 3 to 2"


def test_bounded_loop_is_explored_iteration_by_iteration() -> None:
    r = check("mov %r0, 0; mov %r1, 0; add %r1, 1; add %r0, 2; jlt %r1, 100, -3; exit")
    assert r.ok
    assert r.insns_processed == 2 + 3 * 100 + 1  # the kernel also reports 303


def test_complexity_limit() -> None:
    src = "mov %r0, 0; mov %r1, 0; add %r1, 1; jlt %r1, 100000, -2; exit"
    r = check(src, insn_limit=5000)
    assert r.message == "BPF program is too large. Processed 5001 insn"
    assert r.errno == 7  # E2BIG
    assert "processed 5001 insns (limit 5000)" in r.log


def test_loop_bounded_by_a_packet_byte() -> None:
    # while (i != pkt[12]) i++: the verifier cannot bound it
    src = "mov %r0, 0; ldxw %r1, [%r1+12]; add %r0, 1; jne %r0, %r1, -2; exit"
    assert check(src, insn_limit=3000).message.startswith("BPF program is too large")


def test_infinite_loop_detected() -> None:
    for src in ("mov %r0, 0; ja -1", "mov %r0, 0; jeq %r0, 0, -1; exit"):
        r = check(src)
        assert (r.message, r.pc, r.errno) == ("infinite loop detected at insn 1", 1, 22)


def test_recursion_runs_out_of_frames() -> None:
    r = check("mov %r0, 0; call local +1; exit; call local -1; mov %r0, 0; exit")
    assert r.message == "the call stack of 9 frames is too deep"


def test_subprogram_call_returns_r0_and_clobbers_r1_to_r5() -> None:
    assert check("mov %r1, 5; call local +2; add %r0, 1; exit; mov %r0, %r1; exit").ok
    r = check("mov %r1, 5; call local +3; mov %r0, %r1; exit; exit; mov %r0, 1; exit")
    assert not r.ok


def test_callee_stack_pointer_must_not_escape() -> None:
    r = check("call local +1; exit; mov %r0, %r10; exit")
    assert r.message == "cannot return stack pointer to the caller frame"


def test_jump_out_of_a_subprogram() -> None:
    r = check("mov %r0, 1; call local +2; add %r0, 2; exit; ja -3")
    assert r.message == "jump out of range from insn 4 to 2"


def test_same_insn_with_ctx_and_other_pointer() -> None:
    src = ("ldxw %r2, [%r1+12]; mov %r3, %r1; jeq %r2, 0, +1; mov %r3, %r10; "
           "ldxw %r0, [%r3-8]; exit")
    r = check("stdw [%r10-8], 0; " + src)
    assert r.message == "same insn cannot be used with different pointers"


def test_helper_argument_types() -> None:
    assert check("mov %r1, 0; mov %r2, 0; mov %r3, 0; call 12; mov %r0, 0; exit").message \
        == "R1 type=scalar expected=ctx"
    assert check("call 5; mov %r0, %r1; exit").message == "R1 !read_ok"


def test_packet_helpers_invalidate_packet_pointers() -> None:
    src = ("ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 1; "
           "jgt %r4, %r3, +5; mov %r6, %r2; mov %r2, 0; call 44; ldxb %r0, [%r6]; exit; "
           "mov %r0, 0; exit")
    assert check(src).message == "R6 invalid mem access 'scalar'"
    assert check(src, CAP_BPF).message == "R6 !read_ok"


def test_read_only_map_value() -> None:
    from tuxnet.bpf.maps import BPF_F_RDONLY_PROG
    MAPS.by_fd[9] = ArrayMap(4, 8, 1, BPF_F_RDONLY_PROG)
    try:
        assert check("lddw %r1, map_value 9, 0; ldxdw %r0, [%r1]; exit").ok
        r = check("lddw %r1, map_value 9, 0; stdw [%r1], 1; mov %r0, 0; exit")
        assert r.message == "write into map forbidden, value_size=8 off=0 size=8"
    finally:
        del MAPS.by_fd[9]


def test_raw_context_bounds_the_input_memory() -> None:
    from tuxnet.bpf.verifier import raw_context
    prog = assemble("ldxw %r0, [%r1+4]\nexit")
    assert verify(prog, raw_context(8)).ok
    r = verify(prog, raw_context(6))
    assert r.message == "R1 min value is outside of the allowed memory range"
    assert "invalid access to memory, mem_size=6 off=4 size=4" in r.log
    # r2 holds the length as a known constant
    assert verify(assemble("mov %r0, %r2\nexit"), raw_context(6)).ok


def test_xdp_devmap_programs_read_egress_ifindex() -> None:
    from tuxnet.bpf.verifier import xdp_context
    prog = assemble("ldxw %r0, [%r1+20]\nexit")
    assert not verify(prog).ok
    assert verify(prog, xdp_context(devmap=True)).ok


# --- the log ------------------------------------------------------------------------------

BOUNDS_CHECK = ("ldxw %r2, [%r1+0]; ldxw %r3, [%r1+4]; mov %r4, %r2; add %r4, 14; "
                "jgt %r4, %r3, +3; ldxb %r0, [%r2+13]; and %r0, 7; exit; mov %r0, 2; exit")


def test_log_level_2_shows_each_instruction_with_its_registers() -> None:
    # the same lines as Linux 6.18's log_level 2 for this program
    lines = check(BOUNDS_CHECK, log_level=2).log.splitlines()
    assert lines[:8] == [
        "0: R1=ctx() R10=fp0",
        "0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=pkt(r=0)",
        "1: (61) r3 = *(u32 *)(r1 +4)          ; R1=ctx() R3=pkt_end()",
        "2: (bf) r4 = r2                       ; R2=pkt(r=0) R4=pkt(r=0)",
        "3: (07) r4 += 14                      ; R4=pkt(off=14,r=0)",
        "4: (2d) if r4 > r3 goto pc+3          ; R3=pkt_end() R4=pkt(off=14,r=14)",
        "5: (71) r0 = *(u8 *)(r2 +13)          ; R0=scalar(smin=smin32=0,smax=umax=smax32="
        "umax32=255,var_off=(0x0; 0xff)) R2=pkt(r=14)",
        "6: (57) r0 &= 7                       ; R0=scalar(smin=smin32=0,smax=umax=smax32="
        "umax32=7,var_off=(0x0; 0x7))"]
    assert "from 4 to 8: R1=ctx() R2=pkt(r=0) R3=pkt_end() R4=pkt(off=14,r=0) R10=fp0" in lines
    assert lines[-1].startswith("processed 10 insns (limit 1000000)")


def test_log_level_1_keeps_the_failing_path_only() -> None:
    ok = check(BOUNDS_CHECK, log_level=1)
    assert ok.log.splitlines() == [
        "processed 10 insns (limit 1000000) max_states_per_insn 1 total_states 2 "
        "peak_states 2 mark_read 0"]
    bad = check(BOUNDS_CHECK.replace("+13]", "+14]"), log_level=1).log.splitlines()
    assert bad[-4:-1] == ["5: (71) r0 = *(u8 *)(r2 +14)",
                          "invalid access to packet, off=14 size=1, R2(id=0,off=14,r=14)",
                          "R2 offset is outside of the packet"]


def test_stack_slots_in_the_log() -> None:
    log = check("stw [%r10-8], 0; stxdw [%r10-16], %r1; mov %r0, 0; exit", log_level=2).log
    assert "0: (62) *(u32 *)(r10 -8) = 0          ; R10=fp0 fp-8=????0000" in log
    assert "1: (7b) *(u64 *)(r10 -16) = r1        ; R1=ctx() R10=fp0 fp-16=ctx()" in log


# --- pruning ------------------------------------------------------------------------------

def test_pruning_keeps_diamonds_linear() -> None:
    # 30 if/else diamonds whose two sides compute different values: without precision
    # tracking every combination would be explored (2**30 paths)
    body = ["ldxw %r6, [%r1+0]", "ldxw %r3, [%r1+4]", "mov %r4, %r6", "add %r4, 30",
            "jgt %r4, %r3, out", "mov %r7, 0"]
    for i in range(30):
        body += [f"ldxb %r5, [%r6+{i}]", "jset %r5, 1, +2", "mul %r5, 3", "ja +1",
                 "add %r5, 7", "xor %r7, %r5"]
    body += ["mov %r0, %r7", "and %r0, 3", "exit", "out:", "mov %r0, 2", "exit"]
    r = verify(assemble("\n".join(body)))
    assert r.ok and r.insns_processed < 1000
    assert verify(assemble("\n".join(body)), prune=False, insn_limit=5000).message \
        .startswith("BPF program is too large")
