"""bpf_fib_lookup (helper 69) against the host's FIB and neighbour table, directly and
from an XDP program run through the driver hook's runtime."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ipv4"))

from _iputil import PEER_MAC, make_lan

from tuxnet.wire.addr import ip_int
from tuxnet.xdp.fib import (
    BPF_FIB_LKUP_RET_FRAG_NEEDED,
    BPF_FIB_LKUP_RET_FWD_DISABLED,
    BPF_FIB_LKUP_RET_NO_NEIGH,
    BPF_FIB_LKUP_RET_NOT_FWDED,
    BPF_FIB_LKUP_RET_SUCCESS,
    BPF_FIB_LOOKUP_OUTPUT,
    bpf_fib_lookup,
)
from tuxnet.xdp.prog import XdpProg


def _params(dst: str, ifindex: int, tot_len: int = 0) -> bytearray:
    p = bytearray(64)
    struct.pack_into("<BB2s2sHI", p, 0, 2, 17, b"\0\0", b"\0\0", tot_len, ifindex)
    struct.pack_into("!I", p, 32, ip_int(dst))
    return p


def test_forwarding_lookup_resolves_gateway_and_macs() -> None:
    lan = make_lan(forwarding=True)
    p = _params("192.0.2.7", lan.nic.ifindex, tot_len=1000)
    assert bpf_fib_lookup(lan.host, p, 0) == BPF_FIB_LKUP_RET_SUCCESS
    assert struct.unpack_from("<I", p, 8)[0] == lan.nic.ifindex
    assert struct.unpack_from("!I", p, 32)[0] == ip_int("10.0.0.1")  # the gateway
    assert bytes(p[52:58]) == bytes(lan.nic.dev_addr) and bytes(p[58:64]) == PEER_MAC


def test_failure_codes() -> None:
    lan = make_lan()  # ip_forward=0
    assert bpf_fib_lookup(lan.host, _params("192.0.2.7", lan.nic.ifindex), 0) == \
        BPF_FIB_LKUP_RET_FWD_DISABLED
    # as a locally sent packet it routes; a big one needs fragmenting
    p = _params("192.0.2.7", lan.nic.ifindex, tot_len=9000)
    assert bpf_fib_lookup(lan.host, p, BPF_FIB_LOOKUP_OUTPUT) == BPF_FIB_LKUP_RET_FRAG_NEEDED
    assert struct.unpack_from("<H", p, 6)[0] == 1500  # mtu_result
    # an on-link destination nobody resolved yet: no neighbour
    assert bpf_fib_lookup(lan.host, _params("10.0.0.99", lan.nic.ifindex),
                          BPF_FIB_LOOKUP_OUTPUT) == BPF_FIB_LKUP_RET_NO_NEIGH
    # a local address is not forwarded
    assert bpf_fib_lookup(lan.host, _params("10.0.0.2", lan.nic.ifindex),
                          BPF_FIB_LOOKUP_OUTPUT) == BPF_FIB_LKUP_RET_NOT_FWDED
    assert bpf_fib_lookup(lan.host, _params("10.0.0.1", 999), 0) == -19  # -ENODEV


_PROG = """
mov %r6, %r1
mov %r1, 0
stxdw [%r10-64], %r1
stxdw [%r10-56], %r1
stxdw [%r10-48], %r1
stxdw [%r10-40], %r1
stxdw [%r10-32], %r1
stxdw [%r10-24], %r1
stxdw [%r10-16], %r1
stxdw [%r10-8], %r1
mov %r1, 2
stxb [%r10-64], %r1
ldxw %r1, [%r6+12]
stxw [%r10-56], %r1
mov %r1, 0x070200c0
stxw [%r10-32], %r1
mov %r1, %r6
mov %r2, %r10
add %r2, -64
mov %r3, 64
mov %r4, 0
call 69
exit
"""


def test_helper_from_an_xdp_program() -> None:
    from tuxnet.bpf.xdp_run import XdpBuff

    lan = make_lan(forwarding=True)
    prog = XdpProg.from_asm(lan.host, _PROG)
    frame = PEER_MAC + bytes(lan.nic.dev_addr) + b"\x08\x00" + bytes(46)
    buf = bytearray(256) + bytearray(frame) + bytearray(64)
    act, _ = prog.run(XdpBuff(buf, 256, 256 + len(frame)), lan.nic.ifindex, 0, 0)
    assert act == BPF_FIB_LKUP_RET_SUCCESS  # the program returns the helper's code
