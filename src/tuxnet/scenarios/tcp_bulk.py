"""The default scenario of ``tuxnet sim``: a TCP bulk transfer across a lossy,
rate-limited link, in virtual time.

Two booted hosts, ``a`` (10.0.0.1) and ``b`` (10.0.0.2), each with ``lo`` and a SimNic
``eth0``, joined by a duplex link with a rate, a propagation delay, random loss and bit
corruption, and a tail-drop queue. ``b`` listens on port 5201; ``a`` connects and
writes ``nbytes`` of seeded random data as fast as the socket takes it (non-blocking
writes, woken by the socket as space frees up). ``b`` reads as data arrives; once it
has every byte it takes an ``ss -ti`` snapshot of both connected sockets, checks the
SHA-256 of what it read against what ``a`` wrote, and closes; ``a`` closes on the end
of stream. The run goes on until both sockets are gone (TIME_WAIT included), so the
MIB counters at the end are the whole connection's.

The applications run as the socket wake-ups schedule them (as an epoll loop would),
never from inside the stack's own call chain. Everything is seeded: the same
parameters and seed give the same report byte for byte.
"""

from __future__ import annotations

import errno
import hashlib
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tuxnet.drivers.simnic import connect_simnics
from tuxnet.loop import SimLoop, SoonOnce
from tuxnet.pcap import PcapWriter
from tuxnet.scenarios.routers import add_addr, add_nic, make_host
from tuxnet.sim import Topology
from tuxnet.tcp import proto
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.sock import TcpSock
from tuxnet.tcp.sockopt import tcp_get_info
from tuxnet.tools.ss_fmt import ss_line
from tuxnet.wire.addr import ip_int

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["TcpBulkParams", "format_tcp_bulk", "run_tcp_bulk"]

_SEC = 1_000_000_000
PORT = 5201  # iperf3's port
WRITE_CHUNK = 64 * 1024
_WATCHDOG_NS = 100_000_000
TCP_ESTABLISHED = 1
TCP_CLOSE = 7


@dataclass(slots=True)
class TcpBulkParams:
    """Knobs of the TCP bulk-transfer scenario (tc-like units in the CLI)."""

    seed: int = 1
    nbytes: int = 2_000_000
    rate_bps: int = 10_000_000
    delay_ns: int = 5_000_000
    loss: float = 0.01
    corrupt: float = 0.002
    queue_limit_pkts: int = 50
    time_limit_ns: int = 600 * _SEC
    # ethtool -K arguments for both hosts' eth0, e.g. ("tso", "on", "rx-gro-hw", "on")
    features: tuple[str, ...] = ()


@dataclass
class _App:
    """The two applications' state."""

    data: bytes
    client: TcpSock
    listener: TcpSock
    server: TcpSock | None = None
    sent: int = 0
    received: bytearray = field(default_factory=bytearray)
    start_ns: int = 0
    done_ns: int = 0
    client_closed: bool = False
    server_closed: bool = False
    errors: list[str] = field(default_factory=list)
    ss: dict[str, str] = field(default_factory=dict)
    info: dict[str, dict[str, int]] = field(default_factory=dict)


def _ethtool_k(host: Host, args: tuple[str, ...]) -> None:
    """``ethtool -K eth0 ARGS`` on ``host``; ValueError with ethtool's message."""
    import io

    from tuxnet.tools.ethtool_cmd import run as ethtool_run

    out, err = io.StringIO(), io.StringIO()
    if ethtool_run(host, ["-K", "eth0", *args], out, err):
        raise ValueError(f"ethtool -K eth0 {' '.join(args)}: {err.getvalue().strip()}")


def run_tcp_bulk(params: TcpBulkParams, pcap_path: str | None = None, *,
                 on_progress: Callable[[SimLoop, Host, Host, int], None] | None = None,
                 ) -> dict[str, Any]:
    """Run the scenario; returns a JSON-able report. ``on_progress(loop, a, b, read)``
    is called when the run starts (read 0) and each time b has read more (``tuxnet ss
    --scenario tcp`` takes its snapshot from there; stopping the loop ends the run)."""
    if params.nbytes < 1:
        raise ValueError("the transfer needs at least 1 byte")
    loop = SimLoop()
    host_a = make_host(loop, "a", params.seed)
    host_b = make_host(loop, "b", params.seed)
    nic_a = add_nic(host_a, "eth0", mac=bytes.fromhex("02000000000a"))
    nic_b = add_nic(host_b, "eth0", mac=bytes.fromhex("02000000000b"))
    add_addr(host_a, nic_a, "10.0.0.1/24")
    add_addr(host_b, nic_b, "10.0.0.2/24")
    if params.features:
        for host in (host_a, host_b):
            _ethtool_k(host, params.features)
    topo = Topology(loop, seed=params.seed)
    link = connect_simnics(topo, nic_a, nic_b, name="a-b", rate_bps=params.rate_bps,
                           delay_ns=params.delay_ns, loss=params.loss,
                           corrupt=params.corrupt, queue_limit_pkts=params.queue_limit_pkts)
    writer = PcapWriter(pcap_path) if pcap_path else None
    if writer is not None:
        topo.capture(link, writer)

    data = random.Random(f"tcp-bulk:{params.seed}").randbytes(params.nbytes)
    listener = proto.tcp_v4_init_sock(host_b)
    listener.inet_rcv_saddr = listener.inet_saddr = ip_int("10.0.0.2")
    if listener.net.get_port(listener, PORT):
        raise OSError(errno.EADDRINUSE, f"port {PORT} in use")
    proto.inet_listen(listener, 16)
    client = proto.tcp_v4_init_sock(host_a)
    app = _App(data, client, listener)

    def client_step() -> None:
        c = app.client
        if app.client_closed or c.sk_state not in (TCP_ESTABLISHED, 8):  # or CLOSE_WAIT
            if c.sk_state == TCP_CLOSE and not app.client_closed:
                app.errors.append(f"client: connection closed (error {c.sk_err})")
                app.client_closed = True
            return
        view = memoryview(app.data)
        while app.sent < len(app.data):
            try:
                app.sent += proto.tcp_sendmsg(c, view[app.sent:app.sent + WRITE_CHUNK], 0, 0)
            except BlockingIOError:
                break
            except OSError as err:
                app.errors.append(f"client send: {err.strerror}")
                return
        try:
            if proto.tcp_recvmsg(c, 4096, 0, 0) == b"":  # the server is done: close
                proto.tcp_close(c)
                app.client_closed = True
        except BlockingIOError:
            pass
        except OSError as err:
            app.errors.append(f"client recv: {err.strerror}")
            app.client_closed = True

    def server_step() -> None:
        s = app.server
        if s is None or app.server_closed:
            return
        while True:
            try:
                chunk = proto.tcp_recvmsg(s, 1 << 20, 0, 0)
            except BlockingIOError:
                break
            except OSError as err:
                app.errors.append(f"server recv: {err.strerror}")
                app.server_closed = True
                return
            if not chunk:
                break
            app.received += chunk
        if on_progress is not None:
            on_progress(loop, host_a, host_b, len(app.received))
        if len(app.received) >= len(app.data):
            app.done_ns = loop.now_ns()
            for name, sk in (("a", app.client), ("b", s)):
                app.ss[name] = ss_line(sk)
                app.info[name] = tcp_get_info(sk)
            proto.tcp_close(s)
            app.server_closed = True

    def accept_step() -> None:
        if app.server is not None:
            return
        try:
            s = proto.inet_csk_accept(app.listener, 0)
        except BlockingIOError:
            return
        app.server = s
        s.wq.append(SoonOnce(loop, server_step))
        proto.tcp_close(app.listener)  # one connection is all this server takes
        server_step()

    client.wq.append(SoonOnce(loop, client_step))
    listener.wq.append(SoonOnce(loop, accept_step))

    def start() -> None:
        app.start_ns = loop.now_ns()
        if on_progress is not None:
            on_progress(loop, host_a, host_b, 0)
        try:
            proto.inet_stream_connect(client, ip_int("10.0.0.2"), PORT, 0)
        except BlockingIOError:
            pass
        except OSError as err:
            app.errors.append(f"connect: {err.strerror}")

    def watchdog() -> None:
        """Stop once both applications closed and no socket (TIME_WAIT included) is
        left in either host's established hash."""
        if app.client_closed and app.server_closed and not tcp_net(host_a).ehash and \
                not tcp_net(host_b).ehash:
            loop.stop()
            return
        loop.call_later(_WATCHDOG_NS, watchdog)

    loop.call_soon(start)
    loop.call_later(_WATCHDOG_NS, watchdog)
    loop.run(until_ns=params.time_limit_ns)
    if writer is not None:
        writer.close()

    got = bytes(app.received)
    ok = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    if not app.done_ns:
        app.errors.append(f"transfer incomplete after {params.time_limit_ns / _SEC:g} s: "
                          f"{len(got)} of {len(data)} bytes")
    elapsed = (app.done_ns or loop.now_ns()) - app.start_ns
    hosts = {}
    for host in (host_a, host_b):
        mib = host.mib
        hosts[host.name] = {
            "ip": dict(mib.ip.items()),
            "tcp": dict(mib.tcp.items()),
            "tcpext": {k: v for k, v in mib.tcpext.items() if v},
            "drops": {str(reason): n for reason, n in sorted(host.drop_counts.items())},
        }
    data_segs_in = app.server.data_segs_in if app.server is not None else 0
    hp_hits = host_b.mib.tcpext.TCPHPHits
    skbs_in = host_b.mib.tcp.InSegs  # per skb: a GRO skb counts once
    return {
        "scenario": "tcp",
        "params": asdict(params),
        "virtual_ns": loop.now_ns(),
        "events": loop.events_run,
        "transfer": {
            "bytes": len(got),
            "sha256_ok": ok,
            "sha256": hashlib.sha256(got).hexdigest(),
            "seconds": round(elapsed / _SEC, 6),
            "goodput_mbps": round(len(got) * 8 / (elapsed / _SEC) / 1e6, 6) if elapsed else 0.0,
            "retrans_segs": host_a.mib.tcp.RetransSegs,
            "total_retrans": client.total_retrans,
            "data_segs_in": data_segs_in,
            "skbs_in": skbs_in,
            "hp_hits": hp_hits,
            "fast_path_pct": round(100.0 * hp_hits / skbs_in, 1) if skbs_in else 0.0,
            "rcvbuf_final": app.server.sk_rcvbuf if app.server is not None else 0,
        },
        "ss": app.ss,
        "errors": app.errors,
        "links": {"a->b": link.ab.stats(), "b->a": link.ba.stats()},
        "hosts": hosts,
    }


_LINK_ROWS = ("sent_packets", "tx_packets", "delivered_packets", "drop_queue_full",
              "drop_loss_random", "corrupted", "max_backlog_packets")
_TCP_ROWS = ("ActiveOpens", "PassiveOpens", "InSegs", "OutSegs", "RetransSegs", "InErrs",
             "InCsumErrors", "OutRsts")
_TCPEXT_ROWS = ("TCPHPHits", "TCPHPAcks", "TCPPureAcks", "TCPSackRecovery", "TCPFastRetrans",
                "TCPLossProbes", "TCPTimeouts", "TCPSACKReorder", "TCPOFOQueue",
                "DelayedACKs", "TCPDSACKRecv", "TCPDSACKOldSent", "TW")


def format_tcp_bulk(report: dict[str, Any]) -> str:
    """The human-readable report: the transfer, ss -ti of both sockets, counters."""
    p = report["params"]
    t = report["transfer"]
    lines = [
        f"scenario tcp: a (10.0.0.1) -> b (10.0.0.2):{PORT} over {p['rate_bps'] / 1e6:g} "
        f"Mbit/s, {p['delay_ns'] / 1e6:g} ms, loss {p['loss'] * 100:g}%, "
        f"corrupt {p['corrupt'] * 100:g}%, queue {p['queue_limit_pkts']} pkts; seed {p['seed']}",
        f"a writes {p['nbytes']} bytes to one TCP connection; b reads them all, then both "
        "close",
    ]
    if p["features"]:
        lines.append(f"NICs       ethtool -K eth0 {' '.join(p['features'])} (a and b)")
    lines += [
        "",
        f"transfer   {t['bytes']} bytes in {t['seconds']:.3f} s, goodput "
        f"{t['goodput_mbps']:.4g} Mbit/s, sha256 {'ok' if t['sha256_ok'] else 'MISMATCH'}",
        f"retrans    {t['retrans_segs']} segments (TcpRetransSegs on a)",
        f"fast path  {t['hp_hits']} of {t['skbs_in']} skbs in, {t['data_segs_in']} data "
        f"segments ({t['fast_path_pct']:g}%, TcpExtTCPHPHits / TcpInSegs on b)",
    ]
    if t["rcvbuf_final"]:
        lines.append(f"rcvbuf     b's sk_rcvbuf ended at {t['rcvbuf_final']} (autotuning from "
                     f"tcp_rmem[1] 131072)")
    for err in report["errors"]:
        lines.append(f"error      {err}")
    if report["ss"]:
        lines += ["", "ss -ti when b had read the last byte:"]
        for name in ("a", "b"):
            if name in report["ss"]:
                lines.append(report["ss"][name])
    lines += ["", f"{'link':<22}{'a->b':>12}{'b->a':>12}"]
    ab, ba = report["links"]["a->b"], report["links"]["b->a"]
    for key in _LINK_ROWS:
        lines.append(f"{key:<22}{ab[key]:>12}{ba[key]:>12}")
    lines += ["", f"{'host':<22}{'a':>12}{'b':>12}"]
    ha, hb = report["hosts"]["a"], report["hosts"]["b"]
    for key in _TCP_ROWS:
        lines.append(f"{'Tcp' + key:<22}{ha['tcp'][key]:>12}{hb['tcp'][key]:>12}")
    for key in _TCPEXT_ROWS:
        lines.append(f"{'TcpExt' + key:<22}{ha['tcpext'].get(key, 0):>12}"
                     f"{hb['tcpext'].get(key, 0):>12}")
    lines += ["", "drops (skb:kfree_skb reason):"]
    for name in ("a", "b"):
        for reason, n in report["hosts"][name]["drops"].items():
            lines.append(f"  {name}  {reason:<40}{n:>8}")
    lines += ["", f"virtual time {report['virtual_ns'] / 1e9:.3f} s, {report['events']} events"]
    return "\n".join(lines)
