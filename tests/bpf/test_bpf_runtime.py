"""Programs that use maps and helpers, verified and then run in the interpreter.

XDP programs are run the way the kernel runs them: verified, their xdp_md loads
rewritten (convert_ctx_accesses), r1 pointing at the runtime context and the packet
mapped as exactly [data, data_end) so any out-of-bounds access would fault.
"""

from __future__ import annotations

import random
import struct

import pytest

from tuxnet.bpf.asm import assemble
from tuxnet.bpf.maps import (
    ArrayMap,
    DevMap,
    HashMap,
    LpmTrieMap,
    PercpuArrayMap,
    ProgArrayMap,
    XskMap,
)
from tuxnet.bpf.program import Program
from tuxnet.bpf.runtime import BpfRuntime
from tuxnet.bpf.trace import TraceBuffer
from tuxnet.bpf.verifier import XDP
from tuxnet.bpf.verifier.fixup import convert_ctx_accesses, xdp_buff

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)


def k(i: int) -> bytes:
    return struct.pack("<I", i)


def load(rt: BpfRuntime, src: str) -> Program:
    prog = Program.load(assemble(src))
    r = rt.verify(prog, XDP, log_level=1)
    assert r.ok, r.log
    return convert_ctx_accesses(prog, r.mem_types)


def run_xdp(rt: BpfRuntime, prog: Program, packet: bytes = bytes(64)) -> tuple[int, bytes]:
    buf = bytearray(packet)
    base = rt.mem.map(buf, "packet")
    ctx = rt.mem.map(xdp_buff(base, base + len(buf), base), "xdp_buff")
    return rt.interpreter().call(prog, ctx), bytes(buf)


COUNTER = """
    stw [%r10-4], {key}
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_fd {fd}
    call 1                      # bpf_map_lookup_elem
    jeq %r0, 0, +3
    mov %r1, 1
    lock add [%r0], %r1         # __sync_fetch_and_add(value, 1)
    mov %r0, 2
    exit
"""


def test_counter_is_visible_from_user_space() -> None:
    rt = BpfRuntime()
    fd = rt.add_map(ArrayMap(4, 8, 4, name="counters"))
    prog = load(rt, COUNTER.format(key=2, fd=fd))
    for _ in range(3):
        assert run_xdp(rt, prog)[0] == XDP_PASS
    m = rt.map_by_fd(fd)
    assert m is not None
    assert m.lookup(k(2)) == struct.pack("<Q", 3)
    m.update(k(2), struct.pack("<Q", 100))  # and user space writes are seen by programs
    run_xdp(rt, prog)
    assert m.lookup(k(2)) == struct.pack("<Q", 101)


def test_percpu_counter_counts_on_the_running_cpu() -> None:
    rt = BpfRuntime(ncpus=2)
    fd = rt.add_map(PercpuArrayMap(4, 8, 1, ncpus=2))
    prog = load(rt, COUNTER.format(key=0, fd=fd))
    run_xdp(rt, prog)
    rt.cpu = 1
    run_xdp(rt, prog)
    run_xdp(rt, prog)
    m = rt.map_by_fd(fd)
    assert m is not None
    assert m.lookup_percpu(k(0)) == [struct.pack("<Q", 1), struct.pack("<Q", 2)]


LPM_FILTER = """
    ldxw %r2, [%r1+0]           # data
    ldxw %r3, [%r1+4]           # data_end
    mov %r4, %r2
    add %r4, 34                 # Ethernet + IPv4 header
    jgt %r4, %r3, pass
    ldxw %r5, [%r2+26]          # ip->saddr
    stw [%r10-8], 32            # key: u32 prefixlen, then the address
    stxw [%r10-4], %r5
    mov %r2, %r10
    add %r2, -8
    lddw %r1, map_fd {fd}
    call 1
    jeq %r0, 0, pass
    ldxw %r0, [%r0]             # the action stored for the longest match
    exit
pass:
    mov %r0, 2
    exit
"""


def test_lpm_lookup_from_a_program() -> None:
    rt = BpfRuntime()
    fd = rt.add_map(LpmTrieMap(8, 4, 16, name="blocklist"))
    trie = rt.map_by_fd(fd)
    assert trie is not None
    trie.update(struct.pack("<I", 8) + bytes([10, 0, 0, 0]), k(XDP_DROP))
    trie.update(struct.pack("<I", 24) + bytes([10, 1, 2, 0]), k(XDP_TX))
    prog = load(rt, LPM_FILTER.format(fd=fd))

    def frame(src: tuple[int, ...]) -> bytes:
        return bytes(12) + b"\x08\x00" + bytes(12) + bytes(src) + bytes(4)

    assert run_xdp(rt, prog, frame((10, 1, 2, 3)))[0] == XDP_TX
    assert run_xdp(rt, prog, frame((10, 9, 9, 9)))[0] == XDP_DROP
    assert run_xdp(rt, prog, frame((192, 168, 0, 1)))[0] == XDP_PASS
    assert run_xdp(rt, prog, bytes(20))[0] == XDP_PASS  # too short: no lookup


def test_hash_update_and_delete_from_a_program() -> None:
    rt = BpfRuntime()
    fd = rt.add_map(HashMap(4, 8, 2))
    prog = load(rt, f"""
        stw [%r10-4], 7
        stdw [%r10-16], 42
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        lddw %r1, map_fd {fd}
        mov %r4, 1                # BPF_NOEXIST
        call 2
        exit""")
    assert run_xdp(rt, prog)[0] == 0
    assert run_xdp(rt, prog)[0] == (-17) & (2**64 - 1)  # -EEXIST the second time
    m = rt.map_by_fd(fd)
    assert m is not None and m.lookup(k(7)) == struct.pack("<Q", 42)
    delete = load(rt, f"""
        stw [%r10-4], 7
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd {fd}
        call 3
        exit""")
    assert run_xdp(rt, delete)[0] == 0
    assert run_xdp(rt, delete)[0] == (-2) & (2**64 - 1)  # -ENOENT
    assert m.lookup(k(7)) is None


def test_tail_call_through_a_prog_array() -> None:
    rt = BpfRuntime()
    fd = rt.add_map(ProgArrayMap(4, 4, 4, resolve=rt.prog_by_fd))
    target = load(rt, "mov %r0, 3\nexit")
    pa = rt.map_by_fd(fd)
    assert pa is not None
    pa.update(k(1), k(rt.add_prog(target)))
    src = f"""
        mov %r6, %r1
        ldxw %r3, [%r6+16]        # rx_queue_index picks the slot
        lddw %r2, map_fd {fd}
        call 12                   # bpf_tail_call(ctx, &jt, index)
        mov %r0, 1                # reached only if the slot is empty
        exit"""
    prog = load(rt, src)

    def call(queue: int) -> int:
        buf = bytearray(64)
        base = rt.mem.map(buf, "packet")
        ctx = rt.mem.map(xdp_buff(base, base + 64, base, rx_queue_index=queue), "ctx")
        return rt.interpreter().call(prog, ctx)

    assert call(1) == XDP_TX
    assert call(2) == XDP_DROP


def test_global_data_through_map_value_lddw() -> None:
    rt = BpfRuntime()
    fd = rt.add_map(ArrayMap(4, 16, 1, name=".bss"))
    prog = load(rt, f"lddw %r1, map_value {fd}, 8\nldxdw %r0, [%r1]\nadd %r0, 1\n"
                    f"stxdw [%r1], %r0\nexit")
    run_xdp(rt, prog)
    run_xdp(rt, prog)
    m = rt.map_by_fd(fd)
    assert m is not None and m.lookup(k(0)) == bytes(8) + struct.pack("<Q", 2)


def test_map_idx_refers_to_the_order_maps_were_added() -> None:
    rt = BpfRuntime()
    rt.add_map(HashMap(4, 4, 1))
    rt.add_map(ArrayMap(4, 8, 4))
    prog = load(rt, COUNTER.format(key=1, fd=0).replace("map_fd 0", "map_idx 1"))
    run_xdp(rt, prog)
    assert rt.map_by_index(1).lookup(k(1)) == struct.pack("<Q", 1)  # type: ignore[union-attr]


# --- helpers without maps ----------------------------------------------------------------

def test_time_random_and_cpu_come_from_the_host() -> None:
    now = [1_000]
    rt = BpfRuntime(cpu=3, clock=lambda: now[0], rng=random.Random(7))
    assert run_xdp(rt, load(rt, "call 5\nexit"))[0] == 1_000
    now[0] = 5_000
    assert run_xdp(rt, load(rt, "call 5\nexit"))[0] == 5_000
    assert run_xdp(rt, load(rt, "call 8\nexit"))[0] == 3
    rand = load(rt, "call 7\nexit")
    expected = random.Random(7)
    assert [run_xdp(rt, rand)[0] for _ in range(3)] == [expected.getrandbits(32)
                                                        for _ in range(3)]


def _printk(fmt: bytes, *args: int) -> str:
    fmt = fmt + b"\0" + bytes(-(len(fmt) + 1) % 8)
    lines = []
    for i in range(0, len(fmt), 8):
        lines += [f"lddw %r1, {int.from_bytes(fmt[i:i + 8], 'little'):#x}",
                  f"stxdw [%r10{i - len(fmt):+d}], %r1"]
    lines += ["mov %r1, %r10", f"add %r1, {-len(fmt)}", f"mov %r2, {len(fmt)}"]
    lines += [f"lddw %r{3 + j}, {a & (2**64 - 1):#x}" for j, a in enumerate(args)]
    return "\n".join([*lines, "call 6", "exit"])


@pytest.mark.parametrize(("fmt", "args", "ret", "text"), [
    # return values and texts checked against bpf_trace_printk on Linux 6.18
    (b"hello\n", (), 6, "hello\n"),
    (b"x=%d y=%u z=%x\n", (-5, 7, 255), 14, "x=-5 y=7 z=ff\n"),
    (b"%lld %llu %llx", (-1, -1, -1), 40, "-1 18446744073709551615 ffffffffffffffff"),
    (b"%5d|%-5d|%05x", (42, 42, 42), 17, "   42|42   |0002a"),
    (b"%i %X %c 100%%", (-3, 0xABC, 65), 13, "-3 ABC A 100%"),
    (b"%d %d %d %d", (1, 2, 3), -22, None),       # at most three arguments
    (b"%q", (1,), -22, None),
    (b"%.3d", (5,), -22, None),                   # no precision
    (b"%hd", (5,), -22, None),
])
def test_trace_printk(fmt: bytes, args: tuple[int, ...], ret: int, text: str | None) -> None:
    trace = TraceBuffer()
    rt = BpfRuntime(cpu=1, clock=lambda: 12_345_678_000, trace=trace)
    r0, _ = run_xdp(rt, load(rt, _printk(fmt, *args)))
    assert r0 == ret & (2**64 - 1)
    assert trace.messages() == ([text] if text is not None else [])
    if text == "hello\n":
        assert trace.lines() == ["          <idle>-0       [001] d.s1.    12.345678: "
                                 "bpf_trace_printk: hello"]


@pytest.mark.parametrize(("from_size", "to_size", "seed", "want"), [
    # bpf_csum_diff on Linux 6.18 (x86-64), from = data[0:n], to = data[32:32+m],
    # data = bytes 1..64: the 16-bit-folded value the 6.13+ kernel returns
    (4, 4, 0, 0x4040), (0, 8, 0, 0x9490), (8, 0, 0, 0xEBEF), (4, 4, 0xFFFF, 0x4040),
    (20, 0, 0x1234, 0xA3CF), (0, 6, 0, 0x6C69), (12, 12, 0xDEADBEEF, 0x5E5E),
    (0, 0, 0x12345, 0x2346),
])
def test_csum_diff(from_size: int, to_size: int, seed: int, want: int) -> None:
    rt = BpfRuntime()
    prog = load(rt, f"""
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 64
        jgt %r4, %r3, +9
        mov %r1, %r2
        mov %r3, %r2
        add %r3, 32
        mov %r2, {from_size}
        mov %r4, {to_size}
        lddw %r5, {seed}
        call 28
        exit
        mov %r0, 0
        exit""")
    assert run_xdp(rt, prog, bytes(range(1, 65)))[0] == want


def test_redirect_records_the_target() -> None:
    rt = BpfRuntime()
    assert run_xdp(rt, load(rt, "mov %r1, 7\nmov %r2, 0\ncall 23\nexit"))[0] == XDP_REDIRECT
    assert rt.redirect.ifindex == 7
    assert run_xdp(rt, load(rt, "mov %r1, 7\nmov %r2, 1\ncall 23\nexit"))[0] == XDP_ABORTED


def test_redirect_map_hit_miss_and_fallback_action() -> None:
    rt = BpfRuntime()
    fd = rt.add_map(DevMap(4, 4, 4, resolve={2: "eth0"}.get))
    dev = rt.map_by_fd(fd)
    assert dev is not None
    dev.update(k(1), k(2))
    src = "lddw %r1, map_fd {fd}\nmov %r2, {key}\nmov %r3, {flags}\ncall 51\nexit"
    assert run_xdp(rt, load(rt, src.format(fd=fd, key=1, flags=0)))[0] == XDP_REDIRECT
    assert (rt.redirect.target, rt.redirect.key) == ("eth0", 1)
    # an empty slot: the low bits of flags are the action (here XDP_PASS)
    assert run_xdp(rt, load(rt, src.format(fd=fd, key=3, flags=XDP_PASS)))[0] == XDP_PASS
    assert run_xdp(rt, load(rt, src.format(fd=fd, key=3, flags=64)))[0] == XDP_ABORTED
    xfd = rt.add_map(XskMap(4, 4, 4, resolve={9: "xsk"}.get))
    assert run_xdp(rt, load(rt, src.format(fd=xfd, key=0, flags=XDP_DROP)))[0] == XDP_DROP
