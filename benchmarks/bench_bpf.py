"""eBPF engines: frames per second per core through the translator and the interpreter,
for a ~30-instruction XDP filter (Ethernet/IPv4/TCP, drop by destination port) and a
~500-instruction one (VLAN, IPv4 header checksum unrolled, then 64 source-prefix /
protocol / port rules), both written with tuxnet's assembler, on the same frames.

"engine": each frame sits in its own pre-mapped buffer with its own ``xdp_md`` (as a
driver's RX ring would have them) and a frame costs one ``engine.call(prog, ctx)``.
"runner": the same frames through ``XdpRunner.run_buff`` (the runner's per-frame setup
included). Peers: tuxnet's interpreter, run side by side; and, as a fixed reference,
uBPF's interpreter at 252-402 ns per packet for a 27-instruction program measured on
this machine kind (shared/reference/ebpf-and-xdp.md 5.2). Targets (translator, one
core): >= 1 Mpps for the 30-instruction filter, >= 200 kpps for the 500-instruction one.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import parse_args, rate, table

from tuxnet.bpf.asm import assemble
from tuxnet.bpf.interp import Interpreter
from tuxnet.bpf.isa import Insn
from tuxnet.bpf.program import Program
from tuxnet.bpf.translate import Translator
from tuxnet.bpf.xdp_run import XdpBuff, XdpRunner
from tuxnet.wire.build import tcp_frame, udp_frame

UBPF_NS_PER_PACKET = 252  # best of the reference range (27 insns + 1 helper)
TARGETS = {"filter30": 1_000_000, "filter500": 200_000}

FILTER30 = """
    mov %r0, 2                ; XDP_PASS
    ldxw %r2, [%r1+4]         ; data_end
    ldxw %r1, [%r1]           ; data
    mov %r3, %r1
    add %r3, 14
    jgt %r3, %r2, out         ; Ethernet header in the frame?
    ldxh %r4, [%r1+12]
    jne %r4, 0x8, out         ; h_proto != htons(ETH_P_IP)
    mov %r4, %r1
    add %r4, 34
    jgt %r4, %r2, out         ; IPv4 header in the frame?
    ldxb %r3, [%r1+14]
    lsh %r3, 2
    and %r3, 60               ; ihl * 4
    jlt %r3, 20, out
    ldxb %r4, [%r1+23]
    jne %r4, 6, out           ; IPPROTO_TCP
    add %r1, %r3
    mov %r3, %r1
    add %r3, 34
    jgt %r3, %r2, out         ; TCP header in the frame?
    ldxh %r4, [%r1+16]        ; dest
    jeq %r4, 0x5000, drop     ; htons(80)
    jeq %r4, 0x901f, drop     ; htons(8080)
    ldxh %r4, [%r1+14]        ; source
    jne %r4, 0x5000, out
drop:
    mov %r0, 1                ; XDP_DROP
out:
    exit
""".replace(";", "#")


def _be16(v: int) -> int:
    return ((v & 0xFF) << 8) | (v >> 8)


def _be32(v: int) -> int:
    return int.from_bytes(v.to_bytes(4, "big"), "little")


def filter500(rules: int = 64, seed: int = 7) -> str:
    """Parse (VLAN, IPv4 with its header checksum checked, TCP/UDP ports), then a chain
    of ``rules`` rules: source prefix, protocol, destination port -> drop or tx."""
    rng = random.Random(seed)
    src = ["mov %r0, 2", "ldxw %r2, [%r1+4]", "ldxw %r6, [%r1]",
           "mov %r3, %r6", "add %r3, 14", "jgt %r3, %r2, pass",
           "ldxh %r4, [%r6+12]", "jne %r4, 0x81, novlan",          # htons(ETH_P_8021Q)
           "mov %r3, %r6", "add %r3, 18", "jgt %r3, %r2, pass",
           "ldxh %r4, [%r6+16]", "add %r6, 4", "novlan:",
           "jne %r4, 0x8, pass",
           "mov %r3, %r6", "add %r3, 34", "jgt %r3, %r2, pass",
           "ldxb %r3, [%r6+14]", "mov %r5, %r3", "rsh %r5, 4", "jne %r5, 4, drop",
           "and %r3, 15", "jne %r3, 5, pass",                      # options: not checked
           "ldxh %r5, [%r6+14]"]
    for k in range(1, 10):  # RFC 1071: the ten header words sum to 0xffff
        src += [f"ldxh %r3, [%r6+{14 + 2 * k}]", "add %r5, %r3"]
    src += ["mov %r3, %r5", "rsh %r3, 16", "and %r5, 0xffff", "add %r5, %r3"] * 2
    src += ["jne %r5, 0xffff, drop",
            "ldxb %r7, [%r6+23]", "ldxw %r8, [%r6+26]", "ldxw %r9, [%r6+30]",
            "mov %r4, 0", "jeq %r7, 6, l4", "jne %r7, 17, rules", "l4:",
            "mov %r3, %r6", "add %r3, 38", "jgt %r3, %r2, pass",
            "ldxh %r4, [%r6+36]", "rules:"]
    for i in range(rules):
        plen = 16 if i % 3 == 0 else rng.choice([8, 16, 24, 32])
        mask = (0xFFFF_FFFF << (32 - plen)) & 0xFFFF_FFFF
        net = ((10 << 24) | rng.getrandbits(8) << 16) if i % 3 == 0 else \
            rng.getrandbits(32) & mask
        proto = rng.choice([6, 17])
        port = rng.choice([22, 23, 25, 53, 80, 443, 8080, 3389])
        src += ["mov %r3, %r8", f"and %r3, {_be32(mask):#x}", f"jne %r3, {_be32(net):#x}, r{i}",
                f"jne %r7, {proto}, r{i}", f"jne %r4, {_be16(port):#x}, r{i}",
                f"mov %r0, {3 if i % 5 == 0 else 1}", "exit", f"r{i}:"]
    src += ["pass:", "mov %r0, 2", "exit", "drop:", "mov %r0, 1", "exit"]
    return "\n".join(src)


def frames() -> list[bytes]:
    """A mix of traffic with valid checksums: web, ssh, dns, VLAN-tagged, ntp..."""
    a, b = bytes.fromhex("020000000001"), bytes.fromhex("02000000000a")
    return [bytes(f) for f in (
        tcp_frame(a, b, "10.1.2.3", "10.9.8.7", 40000, 80),
        tcp_frame(a, b, "192.168.7.9", "10.9.8.7", 40001, 22),
        udp_frame(a, b, "10.1.2.3", "8.8.8.8", 5353, 53, payload=bytes(30)),
        tcp_frame(a, b, "172.16.0.1", "10.9.8.7", 40002, 443, vlan_tci=5),
        tcp_frame(a, b, "10.20.2.3", "10.9.8.7", 40003, 8080),
        udp_frame(a, b, "10.3.2.3", "10.9.8.7", 1, 161),
        tcp_frame(a, b, "10.1.200.3", "10.9.8.7", 1234, 25),
        udp_frame(a, b, "100.64.2.3", "10.9.8.7", 123, 123))]


Engine = Interpreter | Translator


def setup(kind: str) -> tuple[XdpRunner, Engine]:
    runner = XdpRunner()
    if kind == "translator":
        runner.vm = Translator.like(runner.vm)  # type: ignore[assignment]
    return runner, runner.vm


def engine_batch(kind: str, insns: list[Insn], traffic: list[bytes]
                 ) -> tuple[Callable[[], None], list[int], float]:
    """One call per frame, each frame in its own buffer with its own xdp_md."""
    runner, vm = setup(kind)
    prog: Program = runner.prepare(insns)
    mem = runner.rt.mem
    ctxs = []
    for f in traffic:
        buff = XdpBuff.from_frame(f)
        base = mem.map(buff.buf, "frame")
        md = struct.pack("<6Q", base + buff.data, base + buff.data_end, base + buff.data,
                         1, 0, 0)
        ctxs.append(mem.map(bytearray(md), "xdp_md", writable=False))
    call = vm.call
    actions: list[int] = []
    executed = 0
    for c in ctxs:
        actions.append(call(prog, c))
        executed += vm.insns_executed

    def batch() -> None:
        for c in ctxs:
            call(prog, c)
    return batch, actions, executed / len(ctxs)


def runner_batch(kind: str, insns: list[Insn], traffic: list[bytes]) -> Callable[[], None]:
    """``XdpRunner.run_buff`` per frame (the runner converts a Program once)."""
    runner, _ = setup(kind)
    source = Program.load(insns)
    buffs = [XdpBuff.from_frame(f) for f in traffic]
    run = runner.run_buff

    def batch() -> None:
        for b in buffs:
            run(source, b)
    return batch


def main() -> None:
    args = parse_args(__doc__ or "")
    traffic = frames()
    programs = {"filter30": assemble(FILTER30), "filter500": assemble(filter500())}
    rows: list[list[object]] = []
    fps: dict[tuple[str, str], float] = {}
    for name, insns in programs.items():
        seen: dict[str, list[int]] = {}
        for kind in ("interpreter", "translator"):
            batch, actions, per_frame = engine_batch(kind, insns, traffic)
            seen[kind] = actions
            f = rate(batch, args.seconds) * len(traffic)
            fps[(name, kind)] = f
            rows.append([name, len(insns), f"{per_frame:.1f}", kind, "engine", f, 1e9 / f,
                         1e9 / f / per_frame])
            rf = rate(runner_batch(kind, insns, traffic), args.seconds) * len(traffic)
            rows.append([name, len(insns), f"{per_frame:.1f}", kind, "runner", rf, 1e9 / rf,
                         1e9 / rf / per_frame])
        assert seen["interpreter"] == seen["translator"], "engines disagree"
    print(table(["program", "insns", "executed/frame", "engine", "path", "frames/s",
                 "ns/frame", "ns/insn"], rows))
    print(f"(uBPF interpreter, fixed reference: {UBPF_NS_PER_PACKET} ns/packet = "
          f"{1e9 / UBPF_NS_PER_PACKET:,.0f} frames/s for 27 insns)")
    for name, target in TARGETS.items():
        got = fps[(name, "translator")]
        verdict = "met" if got >= target else "NOT met"
        print(f"target: {name} translator >= {target:,} frames/s: {verdict} ({got:,.0f})")
    for name in programs:
        r = fps[(name, "translator")] / fps[(name, "interpreter")]
        print(f"ratio: {name}_pps tuxnet_translator/interpreter = {r:.2f}")
    ref = fps[("filter30", "translator")] / (1e9 / UBPF_NS_PER_PACKET)
    print(f"ratio: filter30_pps tuxnet_translator/ubpf_interpreter_ref = {ref:.2f}")


if __name__ == "__main__":
    main()
