"""Running one packetdrill script against a fresh tuxnet host in virtual time
(packetdrill's run.c / run_packet.c / run_system_call.c, as a discrete-event driver).

The runner *is* the scheduler driver: before each event it runs the host's SimLoop up
to the event's time; a ``>`` line runs it until the tun device has sent a packet (up
to the expected time + 2 s); a blocking system call (``+0...0.2 connect()``) is left
pending and retried whenever its socket is woken, and its return time is checked
against the ``...END`` time. Timing, address, ISN and TS mapping follow the
conformance README (packetdrill's rules): relative times anchor to the previous
event's live completion time except between two inbound packets; tolerance is
max(--tolerance_usecs, --tolerance_percent of the gap to the previous event).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

from tuxnet.packetdrill.ast import (
    Command,
    Event,
    PacketSpec,
    Script,
    Syscall,
    TcpOption,
    TimeSpec,
)
from tuxnet.packetdrill.icmp import build_icmp_error
from tuxnet.packetdrill.matcher import aggregate, check_outbound, flags_string
from tuxnet.packetdrill.packet import (
    FLAG_BITS,
    LivePacket,
    PacketError,
    build_tcp_packet,
    encode_options,
    flags_value,
    parse_live_packet,
)
from tuxnet.packetdrill.parser import RUN_ALL_DEFINES, ParseError, parse_script
from tuxnet.packetdrill.shell import (
    DEFAULTS_PROFILE,
    ShellError,
    ShellUnsupported,
    run_shell,
    set_sysctl,
)
from tuxnet.packetdrill.symbols import errno_value
from tuxnet.packetdrill.syscalls import (
    Attempt,
    SyscallFail,
    Syscalls,
    Unsupported,
    WouldBlock,
    expr_int,
)
from tuxnet.packetdrill.tcpinfo import CodeError, run_code
from tuxnet.packetdrill.tun import make_host
from tuxnet.socket.core import remove_wait_queue
from tuxnet.tcp.cong import tcp_ca_find
from tuxnet.wire.addr import ip_bytes

__all__ = ["DEFAULT_OPTIONS", "ScriptFailure", "ScriptResult", "run_script", "run_text"]

NS = 1000  # ns per us
SNIFF_WAIT_US = 2_000_000  # run_packet.c: wait up to the expected time + 2 s
ANY_WAIT_US = 600_000_000  # '*' waits "forever": ten virtual minutes
BLOCK_WAIT_US = 10_000_000

DEFAULT_OPTIONS: dict[str, str] = {
    "ip_version": "ipv4", "local_ip": "192.168.0.1", "remote_ip": "192.0.2.1",
    "gateway_ip": "192.168.0.1", "netmask_ip": "255.255.0.0", "bind_port": "8080",
    "connect_port": "8080", "mtu": "1500", "tolerance_usecs": "4000",
    "tolerance_percent": "12.5", "tcp_ts_tick_usecs": "0",
    # tuxnet's own: the live time one system call takes (see _Runner.run_event)
    "syscall_usecs": "5",
}


@dataclass
class ScriptResult:
    """PASS/FAIL of one script: the failing line and message, notes (e.g. the
    congestion control fallback)."""

    path: str
    passed: bool
    line: int = 0
    message: str = ""
    notes: tuple[str, ...] = ()


class ScriptFailure(Exception):
    """The first mismatch of a script, at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class _Conn:
    """The socket under test's 4-tuple and sequence/TS mappings (run_packet.c)."""

    local_port: int
    remote_port: int
    local_isn: int | None = None
    script_isn: int = 0  # the local ISN the script's > S / > S. line writes
    remote_isn: int = 0  # the seq of the last inbound SYN / SYN-ACK (live = script)
    saw_inbound_ack: bool = False
    ts_offset: int | None = None


@dataclass
class _Pending:
    att: Attempt
    event: Event
    start_us: int
    end_us: int
    woken: bool = True


class _Runner:
    def __init__(self, script: Script, path: str, overrides: dict[str, str]) -> None:
        self.script = script
        self.path = path
        self.opts = dict(DEFAULT_OPTIONS)
        self.opts.update(script.options)
        self.opts.update(overrides)
        o = self.opts
        if o["ip_version"] != "ipv4":
            raise ScriptFailure(0, f"unsupported: --ip_version={o['ip_version']}")
        self.local_ip = o["local_ip"]
        self.remote_ip = o["remote_ip"]
        try:
            self.tol_us = int(o["tolerance_usecs"])
            self.tol_pct = float(o["tolerance_percent"])
            self.ts_tick = int(o["tcp_ts_tick_usecs"])
            self.gro_mss = int(o["mss"]) if o.get("mss") else 0
            self.syscall_us = int(o["syscall_usecs"])
        except ValueError as e:
            raise ScriptFailure(0, f"bad option: {e}") from None
        self.strict = "strict_segments" in o
        try:
            plen = bin(int.from_bytes(ip_bytes(o["netmask_ip"]), "big")).count("1")
            ip_bytes(self.local_ip)
            ip_bytes(self.remote_ip)
            mtu = int(o["mtu"])
            int(o["bind_port"])
            int(o["connect_port"])
        except ValueError as e:
            raise ScriptFailure(0, f"bad option: {e}") from None
        self.host, self.tun = make_host(self.local_ip, self.remote_ip, mtu=mtu,
                                        netmask_plen=plen, gateway_ip=o["gateway_ip"])
        self.loop = self.host.loop
        self.start_ns = self.loop.now_ns()
        self.tun.on_xmit = self._on_xmit
        self.want_packet = False
        self.sent_idx = 0
        self.sys = Syscalls(self.host, self.local_ip, self.remote_ip, int(o["bind_port"]),
                            int(o["connect_port"]))
        self.sys.tolerance_us = self.tol_us
        self.conn: _Conn | None = None
        self.next_remote_port = 48_000
        self.ts_map: dict[int, int] = {}
        self.pending: _Pending | None = None
        self.code_ns: dict[str, Any] = {}
        self.shell_state: dict[str, object] = {"files": self.sys.files}
        self.notes: list[str] = []
        self.script_dir = os.path.dirname(os.path.abspath(path)) if path else "."

    # -- clock ----------------------------------------------------------------------
    def now_us(self) -> int:
        return (self.loop.now_ns() - self.start_ns) // NS

    def _on_xmit(self) -> None:
        if self.want_packet:
            self.loop.stop()

    def _wake_pending(self) -> None:
        p = self.pending
        if p is not None:
            p.woken = True
            self.loop.stop()

    def advance(self, until_us: int, want_packet: bool = False) -> bool:
        """Run the simulation to ``until_us`` (script µs), retrying a pending blocking
        call when woken; with ``want_packet`` return True as soon as one was sent."""
        until_ns = self.start_ns + until_us * NS
        self.want_packet = want_packet
        try:
            while True:
                self.service_pending()
                if want_packet and self.sent_idx < len(self.tun.sent):
                    return True
                if self.loop.now_ns() >= until_ns:
                    nd = self.loop.next_deadline()
                    if nd is None or nd > until_ns:
                        return False
                stop_ns = until_ns
                p = self.pending
                if p is not None and "timeout_ms" in p.att.extra:
                    t = p.att.extra["timeout_ms"]
                    if t > 0:
                        stop_ns = min(stop_ns, self.start_ns + (p.start_us + t * 1000) * NS)
                self.loop.run(until_ns=stop_ns)
                if p is not None and self.loop.now_ns() >= stop_ns:
                    p.woken = True
        finally:
            self.want_packet = False

    # -- blocking calls ---------------------------------------------------------------
    def service_pending(self) -> None:
        p = self.pending
        if p is None or not p.woken:
            return
        p.woken = False
        try:
            ret, err = p.att.fn()
        except WouldBlock:
            t = p.att.extra.get("timeout_ms", -1)
            if t > 0 and self.now_us() >= p.start_us + t * 1000:
                ret, err = 0, 0
            else:
                return
        self._unhook(p)
        self.pending = None
        self.finish_syscall(p.event, p.att, ret, err)
        self.check_time(p.event.line, "system call return", self.now_us(), p.end_us,
                        p.end_us, p.start_us)

    def _hook(self, p: _Pending) -> None:
        sk = p.att.sk
        if sk is not None:
            sk.wq.append(self._wake_pending)

    def _unhook(self, p: _Pending) -> None:
        sk = p.att.sk
        if sk is not None:
            remove_wait_queue(sk.wq, self._wake_pending)

    def wait_pending(self, line: int) -> None:
        """A new system call waits for the syscall thread (the pending call)."""
        p = self.pending
        if p is None:
            return
        self.advance(max(self.now_us(), p.end_us) + BLOCK_WAIT_US)
        if self.pending is not None:
            raise ScriptFailure(p.event.line, "blocking system call "
                                f"{self._call_name(p.event)}() never returned")
        del line

    @staticmethod
    def _call_name(ev: Event) -> str:
        a = ev.action
        return a.name if isinstance(a, Syscall) else "?"

    # -- timing ---------------------------------------------------------------------
    def check_time(self, line: int, what: str, actual: int, lo: int, hi: int,
                   prev: int) -> None:
        tol = max(self.tol_us, int(self.tol_pct / 100.0 * max(hi - prev, 0)))
        if actual < lo - tol or actual > hi + tol:
            exp = f"{lo / 1e6:.6f}" if lo == hi else f"{lo / 1e6:.6f}~{hi / 1e6:.6f}"
            raise ScriptFailure(line, f"timing error: expected {what} at {exp} sec but "
                                f"happened at {actual / 1e6:.6f} sec; tolerance "
                                f"{tol / 1e6:.6f} sec")

    # -- the script -------------------------------------------------------------------
    def run(self) -> None:
        # the namespace starts from the defaults.sh profile, as the kernel-results runs
        # did (a new netns copies init_net's tcp_rmem/tcp_wmem, tuned by defaults.sh)
        for name, value in DEFAULTS_PROFILE:
            self.shell_set(name, value)
        if self.script.init_command is not None:
            self.shell(0, self.script.init_command)
        cong = self.host.sysctl.get("net.ipv4.tcp_congestion_control")
        if isinstance(cong, str) and tcp_ca_find(cong) is None:
            self.notes.append(f"congestion control {cong} is not registered: reno used")
        prev_script = 0
        prev_live = 0
        prev_inbound = False
        try:
            for i, ev in enumerate(self.script.events):
                if i == 0 and ev.time.kind == "rel" and ev.time.usecs != 0:
                    pass
                inbound = isinstance(ev.action, PacketSpec) and ev.action.direction == "<"
                t, t_end = self.event_times(ev.time, prev_script, prev_live,
                                            inbound and prev_inbound)
                if t is not None and ev.time.kind == "abs" and t < prev_script:
                    raise ScriptFailure(ev.line, "time goes backward in script")
                done_live = self.run_event(ev, t, t_end, prev_script)
                if t is not None:
                    prev_script = t
                prev_live = done_live
                prev_inbound = inbound
            self.wait_pending(0)
        finally:
            if self.script.cleanup_command is not None:
                with contextlib.suppress(ScriptFailure):
                    self.shell(0, self.script.cleanup_command)

    def event_times(self, ts: TimeSpec, prev_script: int, prev_live: int,
                    both_inbound: bool) -> tuple[int | None, int | None]:
        if ts.kind == "any":
            return None, None
        anchor = prev_script if both_inbound else prev_live
        t = ts.usecs + (anchor if ts.kind == "rel" else 0)
        t_end = None
        if ts.end is not None:
            t_end = ts.end + (anchor if ts.end_rel else 0)
        return t, t_end

    def run_event(self, ev: Event, t: int | None, t_end: int | None, prev: int) -> int:
        """Run one event; returns the live time (script µs) at which it completed, the
        anchor of the next relative event (run.c adjust_relative_event_times takes
        now_usecs() then): for an outbound packet, when it was read, not sent.

        A system call takes ``syscall_usecs`` of live time, as a real one does (the
        kernel's work and packetdrill's). In virtual time everything else is
        instantaneous, which can tie values that real runs never tie: a packet sent
        during the first of a row of ``+0`` calls and ACKed ``+.001`` after its
        ``>`` line has an RTT above 1 ms on a real host, and RACK, comparing a later
        retransmission's RTT to min_rtt (tcp_rack_advance), depends on it."""
        a = ev.action
        if isinstance(a, PacketSpec) and a.direction == ">":
            return max(self.outbound(ev, a, t, t_end, prev), self.now_us())
        assert t is not None
        self.advance(max(t, self.now_us()))
        if isinstance(a, PacketSpec):
            self.inbound(ev, a)
        elif isinstance(a, Syscall):
            self.syscall(ev, a, t)
            if self.pending is None and self.syscall_us > 0:
                self.advance(self.now_us() + self.syscall_us)
        elif isinstance(a, Command):
            self.shell(ev.line, a)
        else:
            try:
                run_code(a.code, self.sys.tcp_info(), self.code_ns)
            except CodeError as e:
                raise ScriptFailure(ev.line, str(e)) from None
        return self.now_us()

    def shell_set(self, name: str, value: str) -> None:
        try:
            set_sysctl(self.host, name, value)
        except (ShellUnsupported, ShellError) as e:
            raise ScriptFailure(0, str(e)) from None

    def shell(self, line: int, cmd: Command) -> None:
        try:
            run_shell(self.host, cmd.text, self.script_dir, self.shell_state)
        except (ShellUnsupported, ShellError) as e:
            raise ScriptFailure(line, str(e)) from None

    # -- system calls -------------------------------------------------------------------
    def syscall(self, ev: Event, call: Syscall, t: int) -> None:
        self.wait_pending(ev.line)
        try:
            att = self.sys.prepare(call)
        except (Unsupported, SyscallFail) as e:
            raise ScriptFailure(ev.line, str(e)) from None
        except Exception as e:  # bad fd etc. while preparing: as the call's errno
            err = getattr(e, "err", None)
            if isinstance(err, int):
                self.check_result(ev, call, -1, err)
                return
            raise
        try:
            ret, err = att.fn()
        except WouldBlock:
            ts = ev.time
            if ts.block_end is None:
                raise ScriptFailure(ev.line, f"{call.name}() blocked, but the script "
                                    "expects it to return immediately") from None
            end = self.block_end(ts, t)
            p = _Pending(att, ev, t, end, woken=False)
            self.pending = p
            self._hook(p)
            return
        except Unsupported as e:
            raise ScriptFailure(ev.line, str(e)) from None
        self.finish_syscall(ev, att, ret, err)
        if ev.time.block_end is not None:
            end = self.block_end(ev.time, t)
            self.check_time(ev.line, "system call return", t, end, end, t)

    @staticmethod
    def block_end(ts: TimeSpec, t: int) -> int:
        """The ``...END`` time: relative (to the same anchor as the start) when the start
        is relative or END has a '+', absolute otherwise (parser.y)."""
        assert ts.block_end is not None
        if ts.kind == "rel" or ts.block_rel:
            return t - (ts.usecs if ts.kind == "rel" else 0) + ts.block_end
        return ts.block_end

    def finish_syscall(self, ev: Event, att: Attempt, ret: int, err: int) -> None:
        assert isinstance(ev.action, Syscall)
        self.check_result(ev, ev.action, ret, err)
        if att.check is not None:
            try:
                msg = att.check()
            except Unsupported as e:
                raise ScriptFailure(ev.line, str(e)) from None
            if msg:
                raise ScriptFailure(ev.line, msg)

    def check_result(self, ev: Event, call: Syscall, ret: int, err: int) -> None:
        r = call.result
        if r.kind == "ellipsis":
            return
        try:
            want = expr_int(r)
        except Unsupported as e:
            raise ScriptFailure(ev.line, str(e)) from None
        if call.name in ("socket", "accept", "accept4", "epoll_create") and want >= 0:
            ok = ret >= 0
        else:
            ok = ret == want
        if not ok:
            extra = f" (errno {os.strerror(err)})" if ret < 0 and err else ""
            raise ScriptFailure(ev.line, f"{call.name}() returned {ret}{extra}, expected "
                                f"{want}")
        if call.errno is not None and ret < 0:
            we = errno_value(call.errno)
            if we != err:
                got = _errno_name(err)
                raise ScriptFailure(ev.line, f"{call.name}() errno {got}, expected "
                                    f"{call.errno}")

    # -- packets --------------------------------------------------------------------------
    def _new_server_conn(self) -> _Conn:
        c = _Conn(self.sys.bind_port, self.next_remote_port)
        self.next_remote_port += 1
        self.conn = c
        return c

    def inbound(self, ev: Event, spec: PacketSpec) -> None:
        if spec.unsupported:
            raise ScriptFailure(ev.line, spec.unsupported)
        if spec.icmp is not None:
            self.inbound_icmp(ev, spec)
            return
        if spec.win is None:
            raise ScriptFailure(ev.line, "inbound TCP packet without window")
        flags = flags_value(spec.flags)
        syn = flags & FLAG_BITS["S"]
        syn_only = syn and not flags & FLAG_BITS["."]
        c = self.conn
        if c is None or (syn_only and c.saw_inbound_ack):
            c = self._new_server_conn()
        if flags & FLAG_BITS["."]:
            c.saw_inbound_ack = True
        # run_packet.c: a SYN's seq is literal and sets the remote ISN; later seqs are
        # relative to it; ACKs of a SYN map by (live - script) local ISN, others by the
        # live local ISN
        if syn:
            c.remote_isn = spec.seq & 0xFFFFFFFF
        seq = spec.seq if syn else (spec.seq + c.remote_isn) & 0xFFFFFFFF
        isn = ((c.local_isn or 0) - (c.script_isn if syn else 0)) & 0xFFFFFFFF
        ack = ((spec.ack or 0) + isn) & 0xFFFFFFFF if flags & FLAG_BITS["."] else 0
        ts_ecr: int | None = None
        sack: list[tuple[int, int]] | None = None
        for o in spec.options or []:
            if o.name == "TS" and flags & FLAG_BITS["."]:  # run_packet.c: ecr of ACKs
                ts_ecr = self.live_ecr(ev.line, o.values[1], c)
            elif o.name == "sack":
                sack = [((a + isn) & 0xFFFFFFFF, (b + isn) & 0xFFFFFFFF) for a, b in o.blocks]
        try:
            opts = encode_options(spec.options or [], ts_ecr, sack)
            pkt = build_tcp_packet(ip_bytes(self.remote_ip), ip_bytes(self.local_ip),
                                   c.remote_port, c.local_port, seq, ack, flags,
                                   spec.win, spec.urg or 0, opts, spec.length, spec.ecn,
                                   spec.tos, spec.ttl)
        except PacketError as e:
            raise ScriptFailure(ev.line, str(e)) from None
        if spec.end_seq != spec.seq + spec.length:
            raise ScriptFailure(ev.line, "inbound packet: end seq != start seq + length")
        self.tun.inject(pkt, self.gro_mss)

    def inbound_icmp(self, ev: Event, spec: PacketSpec) -> None:
        """map_inbound_icmp_packet(): the quoted segment is ours, local seq mapped."""
        assert spec.icmp is not None
        itype, icode, mtu = spec.icmp
        icode = RUN_ALL_DEFINES.get(icode, icode)
        c = self.conn
        if c is None:
            raise ScriptFailure(ev.line, "inbound icmp packet without a connection")
        inner = spec.icmp_tcp
        seq = inner.seq if inner is not None else 0
        length = inner.length if inner is not None else 0
        flags = flags_value(inner.flags) if inner is not None and inner.flags else 0
        syn = flags & FLAG_BITS["S"]
        live_seq = (seq + (c.local_isn or 0) - (c.script_isn if syn else 0)) & 0xFFFFFFFF
        ack = ((inner.ack or 0) + c.remote_isn) if inner is not None else 0
        try:
            pkt = build_icmp_error(ip_bytes(self.remote_ip), ip_bytes(self.local_ip), itype,
                                   icode, mtu, ip_bytes(self.local_ip),
                                   ip_bytes(self.remote_ip), c.local_port, c.remote_port,
                                   live_seq, ack, flags, length)
        except PacketError as e:
            raise ScriptFailure(ev.line, str(e)) from None
        self.tun.inject(pkt, 0)

    def live_ecr(self, line: int, ecr: int, c: _Conn) -> int:
        if ecr in self.ts_map:
            return self.ts_map[ecr]
        if c.ts_offset is not None:
            return (ecr + c.ts_offset) & 0xFFFFFFFF
        if ecr == 0:
            return 0
        raise ScriptFailure(line, f"unable to infer live TS ecr for script value {ecr}")

    def sniff(self, deadline_us: int) -> LivePacket | None:
        while True:
            if (self.sent_idx >= len(self.tun.sent)
                    and not self.advance(deadline_us, want_packet=True)):
                return None
            t_ns, raw = self.tun.sent[self.sent_idx]
            self.sent_idx += 1
            p = parse_live_packet(t_ns - self.start_ns, raw)
            port = self.sys.under_test_port()
            if p.is_tcp and (not port or p.sport == port):
                return p  # packets of other sockets are not checked (run_packet.c)

    def outbound(self, ev: Event, spec: PacketSpec, t: int | None, t_end: int | None,
                 prev: int) -> int:
        if spec.unsupported or spec.icmp is not None:
            raise ScriptFailure(ev.line, spec.unsupported or "unsupported: outbound icmp")
        base = t if t is not None else self.now_us()
        deadline = (t_end if t_end is not None else base) + (
            SNIFF_WAIT_US if t is not None else ANY_WAIT_US)
        first = self.sniff(deadline)
        if first is None:
            raise ScriptFailure(ev.line, "Timed out waiting for packet")
        more: list[LivePacket] = []
        if not self.strict:
            total = first.payload_len
            end = (first.seq + first.payload_len) & 0xFFFFFFFF
            while total < spec.length and not first.flags & (FLAG_BITS["S"] | FLAG_BITS["R"]):
                nxt = self.sniff(deadline)
                if nxt is None:
                    break
                if nxt.seq != end or nxt.sport != first.sport:
                    self.sent_idx -= 1
                    break
                more.append(nxt)
                total += nxt.payload_len
                end = (nxt.seq + nxt.payload_len) & 0xFFFFFFFF
        live = aggregate(first, more)
        self.learn_outbound(live, spec)
        c = self.conn
        assert c is not None
        syn = live.flags & FLAG_BITS["S"]
        isn = ((c.local_isn or 0) - (c.script_isn if syn else 0)) & 0xFFFFFFFF
        rem = 0 if syn else c.remote_isn  # the ACK of a SYN-ACK is compared as it is
        options = [TcpOption(o.name, o.values, [((a - rem) & 0xFFFFFFFF, (b - rem) & 0xFFFFFFFF)
                                                for a, b in o.blocks])
                   if o.name == "sack" else o for o in live.options]
        mapped = LivePacket(live.time_ns, live.raw, tos=live.tos, ttl=live.ttl,
                            sport=live.sport, dport=live.dport,
                            seq=(live.seq - isn) & 0xFFFFFFFF,
                            ack=(live.ack - rem) & 0xFFFFFFFF,
                            flags=live.flags, win=live.win, urg=live.urg,
                            payload_len=live.payload_len, options=options,
                            options_bad=live.options_bad)
        # TS mapping: script val -> live val (for inbound ecr), offset from the first
        for w, g in zip(spec.options or [], live.options, strict=False):
            if w.name == "TS" and g.name == "TS":
                if c.ts_offset is None:
                    c.ts_offset = (g.values[0] - w.values[0]) & 0xFFFFFFFF
                self.ts_map[w.values[0]] = g.values[0]
        msg = check_outbound(spec, mapped, self.ts_val_checker(c, base))
        if msg:
            raise ScriptFailure(ev.line, f"{msg} (live {flags_string(live.flags)} "
                                f"{mapped.seq}:{mapped.seq + mapped.payload_len}"
                                f"({mapped.payload_len}) ack {mapped.ack})")
        actual = live.time_ns // NS
        if t is not None:
            self.check_time(ev.line, "outbound packet", actual, t,
                            t_end if t_end is not None else t, prev)
        return actual

    def ts_val_checker(self, c: _Conn, when_us: int) -> Any:
        if not self.ts_tick:
            return None
        tick = self.ts_tick

        def check(script_val: int, live_val: int) -> str:
            off = c.ts_offset or 0
            delta = ((live_val - off - script_val + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
            tol = max(self.tol_us, int(self.tol_pct / 100.0 * when_us))
            if abs(delta) * tick > tol:
                return (f"bad outbound TCP timestamp value: expected {script_val} vs "
                        f"actual {(live_val - off) & 0xFFFFFFFF}")
            return ""
        return check

    def learn_outbound(self, live: LivePacket, spec: PacketSpec) -> None:
        """run_packet.c: an outbound SYN or SYN-ACK fixes the local ISN, live and as the
        script writes it (and a SYN the local port of a connecting socket)."""
        syn = live.flags & FLAG_BITS["S"]
        ack = live.flags & FLAG_BITS["."]
        c = self.conn
        if syn and not ack:
            if c is None or c.local_port != live.sport or c.local_isn is None:
                c = _Conn(live.sport, live.dport)
                self.conn = c
            c.local_isn = live.seq
            c.script_isn = spec.seq & 0xFFFFFFFF
        elif syn and ack:
            if c is None:
                c = self._new_server_conn()
            c.local_isn = live.seq
            c.script_isn = spec.seq & 0xFFFFFFFF
        elif c is None:
            self.conn = _Conn(live.sport, live.dport)


def _errno_name(err: int) -> str:
    import errno as _e
    return _e.errorcode.get(err, str(err))


def run_text(text: str, path: str = "<script>",
             overrides: dict[str, str] | None = None) -> ScriptResult:
    """Parse and run a script's text; never raises for a script problem."""
    notes: tuple[str, ...] = ()
    try:
        script = parse_script(text)
        r = _Runner(script, path, overrides or {})
        try:
            r.run()
        finally:
            notes = tuple(r.notes)
            # the verdict is already decided; closing is best effort
            with contextlib.suppress(Exception):
                r.sys.close_all()
    except ParseError as e:
        return ScriptResult(path, False, e.line, f"parse error: {e}")
    except ScriptFailure as e:
        return ScriptResult(path, False, e.line, str(e), notes)
    except SyscallFail as e:
        return ScriptResult(path, False, 0, str(e), notes)
    except Exception as e:  # a stack or interpreter bug: a FAIL with its name, never a traceback
        return ScriptResult(path, False, 0, f"internal error: {type(e).__name__}: {e}", notes)
    return ScriptResult(path, True, notes=notes)


def run_script(path: str, overrides: dict[str, str] | None = None) -> ScriptResult:
    """Run the script file at ``path`` on a fresh host."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        return ScriptResult(path, False, 0, f"cannot read script: {e.strerror}")
    return run_text(text, path, overrides)
