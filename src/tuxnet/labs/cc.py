"""Lab ``cc``: congestion control -- CUBIC, BBR and Reno on one bottleneck.

Bulk TCP flows from host ``a`` to host ``b`` over the dumbbell of
:mod:`tuxnet.labs.cc_path` (a drop-tail bottleneck, propagation delay, random loss),
with tuxnet's real TCP on both ends (SACK, timestamps, window scaling, RACK-TLP, PRR,
delayed ACKs; receive buffers big enough that the window never limits; the reader is
woken by sk_data_ready, the writer by sk_stream_write_space and keeps the send buffer
full; ``--set`` writes sysctls or /sys/module parameters on both hosts first). Sweeps:

* ``loss``: one flow over 100 Mbit/s, 100 ms RTT, one BDP of buffer, random loss from
  0.001 % to 50 %, for cubic, bbr and reno. Each row is next to the Mathis et al.
  prediction for Reno (MSS/RTT * sqrt(3/(2p))), RFC 9438's response function for
  CUBIC (5.1, eq. 5/6 with C = 0.4, beta = 0.7, at least the Reno-friendly rate) and the
  ceiling link * (1 - p) in goodput (1448 payload bytes per 1538 on the wire).
* ``buffer``: the same path without random loss, the buffer 0.1 .. 10 BDP, cubic and
  bbr: goodput and the mean RTT the sender measured (srtt sampled every 10 ms).
* ``scenarios``: data centre (10 Gbit/s, 50 us RTT, 1e-6 loss, shallow 1 BDP... see
  SCENARIOS), an internet path with a deep buffer, lossy wireless (1-2 % loss), and one
  CUBIC flow with one BBR flow sharing a bottleneck (their shares and Jain's fairness
  index).

The printed table sets the numbers next to the usual "when to use" claims (BBR for
lossy or long paths, CUBIC fine in the data centre and on shallow buffers, BBR keeps
queues low, BBR takes more than its share from CUBIC in deep buffers) and says for each
whether this run agrees.

``tuxnet lab cc [--json] [--quick] [--duration S] [--sweep loss,buffer,scenarios]
[--plot FILE.png]``. A full-size point runs 30 s of virtual time (the data centre
point 2 s: at 10 Gbit/s that is 1.7 M packets); ``--quick`` runs a short sweep at a
tenth of the rates (10 Mbit/s; the data centre at 100 Mbit/s), 5 s per point.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tuxnet.labs.cc_path import B_ADDR, Bottleneck, Dumbbell
from tuxnet.labs.table import emit, render_columns
from tuxnet.loop.soon import SoonOnce
from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CONGESTION
from tuxnet.tcp.sock import TcpSock

__all__ = [
    "BUFFER_BDPS",
    "LOSS_RATES",
    "FlowResult",
    "PathSpec",
    "mathis_mbps",
    "rfc9438_mbps",
    "run",
    "run_buffer_sweep",
    "run_loss_sweep",
    "run_path",
    "run_scenarios",
    "summarize",
    "write_setting",
]

MS = 1_000_000
SEC = 1_000_000_000
MSS = 1448  # payload of a 1500-byte packet with the timestamp option
WIRE_BYTES = 1500 + 38
LOSS_RATES = (0.00001, 0.0001, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
BUFFER_BDPS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
CCS = ("cubic", "bbr", "reno")
MIN_BUFFER = 10 * 1500  # no bottleneck holds fewer than 10 full-size packets
_BIG_BUF = "4096 67108864 134217728"  # tcp_rmem/tcp_wmem: the window never limits


@dataclass
class PathSpec:
    """One experiment: the bottleneck and the flows (one congestion control each)."""

    rate_bps: int = 100_000_000
    rtt_ns: int = 100 * MS
    buffer_bdp: float = 1.0
    loss: float = 0.0
    ccs: tuple[str, ...] = ("cubic",)
    duration_ns: int = 30 * SEC
    warmup_ns: int = 0  # not measured (0: a tenth of the duration)
    seed: int = 1
    deterministic_loss: bool = False  # every round(1/p)-th packet instead of random
    # tcp_rmem/tcp_wmem of 64 MB by default so the window never limits; note that a
    # receiver whose rcv_ssthresh keeps growing toward such a buffer re-arms quick-ACK
    # mode on every segment (tcp_grow_window: icsk_ack.quick |= 1), so it ACKs every
    # segment, as Linux does with these sysctls. False keeps Linux's defaults
    # (autotuning from 128 KB, delayed ACKs every second segment).
    big_buffers: bool = True
    # (path, value) written on both hosts before the flows start, as ``echo value >
    # path``: /proc/sys/... or a sysctl name, or /sys/module/M/parameters/P
    settings: tuple[tuple[str, str], ...] = ()

    @property
    def bdp_bytes(self) -> int:
        return self.rate_bps * self.rtt_ns // (8 * SEC)


@dataclass
class FlowResult:
    """What one flow achieved."""

    cc: str
    goodput_mbps: float
    rtt_ms: float
    min_rtt_ms: float
    retrans: int
    extra: dict[str, Any] = field(default_factory=dict)


def mathis_mbps(rtt_s: float, p: float) -> float:
    """Mathis, Semke, Mahdavi, Ott (1997): MSS/RTT * sqrt(3/(2p)) (Reno's response)."""
    if p <= 0:
        return math.inf
    return MSS * 8 / rtt_s * math.sqrt(1.5 / p) / 1e6


def rfc9438_mbps(rtt_s: float, p: float, c: float = 0.4, beta: float = 0.7) -> float:
    """RFC 9438 5.1 eq. 5: AVG_W_cubic = (C (3 + beta) / (4 (1 - beta)))^0.25
    RTT^0.75 / p^0.75 segments, at least the Reno-friendly AIMD window (4.3), as a
    rate of MSS-sized segments."""
    if p <= 0:
        return math.inf
    w_cubic = float((c * (3 + beta) / (4 * (1 - beta))) ** 0.25 * rtt_s ** 0.75 / p ** 0.75)
    w_reno = math.sqrt(1.5 / p)
    return max(w_cubic, w_reno) * MSS * 8 / rtt_s / 1e6


def ceiling_mbps(rate_bps: int, p: float) -> float:
    """link * (1 - p), in goodput (payload) bits."""
    return rate_bps * (1 - p) * MSS / WIRE_BYTES / 1e6


def write_setting(h: Any, path: str, value: str) -> None:
    """``echo value > path`` on host ``h``: a /proc/sys file or a dotted sysctl name
    (the sysctl's own checks), or a module parameter under /sys/module (e.g.
    /sys/module/tcp_cubic/parameters/hystart). OSError with Linux's errno."""
    from tuxnet.tools import procfs

    if not path.startswith("/"):
        path = "/proc/sys/" + path.replace(".", "/")
    procfs.write_file(h, path, value)


def _setup_host(h: Any, cc: str, big_buffers: bool = True) -> None:
    if big_buffers:
        h.sysctl.set("net.ipv4.tcp_rmem", _BIG_BUF)
        h.sysctl.set("net.ipv4.tcp_wmem", _BIG_BUF)
    h.sysctl.set("net.ipv4.tcp_congestion_control", cc)


def _wake_reader(loop: Any, r: TcpSock, got: list[int], i: int) -> None:
    """A reader blocked in recv(): sk_data_ready wakes it and it drains the socket at
    once (as a woken task does, after the softirq that queued the data). Polling every
    tick instead would hold the ACKs: with unread data __tcp_select_window() is below
    rcv_wnd, so __tcp_ack_snd_check() defers the ACK to tcp_cleanup_rbuf() (the next
    read) -- at a 50 us RTT a 1 ms poll clocks the sender by the reads."""
    def drain() -> None:
        while True:
            try:
                data = proto.tcp_recvmsg(r, 1 << 24, 0, 0)
            except BlockingIOError:
                return
            if not data:
                return
            got[i] += len(data)

    wake = SoonOnce(loop, drain)
    r.wq.append(wake)
    wake()


def _wake_writer(loop: Any, s: TcpSock, chunk: memoryview) -> None:
    """A writer in poll()/select() for POLLOUT: it writes as much as the socket takes
    (each write ends in tcp_push, so its last segment carries PSH), and when a write
    fails with EAGAIN (SOCK_NOSPACE set) it sleeps until sk_stream_write_space wakes it
    -- once the free space is half of what is queued (sk_stream_is_writeable). Filling
    the buffer every tick instead would end a tiny write, and mark a PSH, after nearly
    every ACK: a receiver ACKs a full-sized PSH segment as soon as the reader has
    emptied the queue (tcp_measure_rcv_mss sets ICSK_ACK_PUSHED, tcp_cleanup_rbuf acts
    on it), so the ACK pattern, and with it the cwnd growth, would not be a bulk
    sender's."""
    def fill() -> None:
        while True:
            try:
                n = proto.tcp_sendmsg(s, chunk, 0, 0)
            except BlockingIOError:
                return
            if n <= 0:
                return

    wake = SoonOnce(loop, fill)
    s.wq.append(wake)
    wake()


def run_path(spec: PathSpec) -> tuple[list[FlowResult], Bottleneck]:
    """Run ``spec``: every flow starts at 0 and sends as fast as TCP lets it for
    ``duration_ns``; goodput counts the bytes the receiving application read after the
    warm-up."""
    buf = max(int(spec.bdp_bytes * spec.buffer_bdp), MIN_BUFFER)
    path = Bottleneck(spec.rate_bps, spec.rtt_ns // 2, buf, 0.0 if spec.deterministic_loss
                      else spec.loss, seed=spec.seed)
    if spec.deterministic_loss and spec.loss > 0:
        path.every = max(1, round(1 / spec.loss))
    net = Dumbbell(path, seed=spec.seed)
    for h in (net.a, net.b):
        _setup_host(h, spec.ccs[0], spec.big_buffers)
        for name, value in spec.settings:
            write_setting(h, name, value)
    lst = proto.tcp_v4_init_sock(net.b)
    lst.inet_rcv_saddr = lst.inet_saddr = 0
    from tuxnet.tcp.netns import tcp_net

    assert tcp_net(net.b).get_port(lst, 5001) == 0
    proto.inet_listen(lst, 128)
    senders: list[TcpSock] = []
    for cc in spec.ccs:
        sk = proto.tcp_v4_init_sock(net.a)
        sk.cap_net_admin = True
        proto.tcp_setsockopt(sk, TCP_CONGESTION, cc)
        with contextlib.suppress(BlockingIOError):
            proto.inet_stream_connect(sk, B_ADDR, 5001, 0)
        senders.append(sk)
    receivers: list[TcpSock] = []
    while len(receivers) < len(senders):
        receivers.append(proto.inet_csk_accept(lst, 10 * SEC))
    # the accepted children in connect order: match by the client's port
    by_port = {r.inet_dport: r for r in receivers}
    receivers = [by_port[s.inet_sport] for s in senders]
    warmup = spec.warmup_ns or spec.duration_ns // 10
    start = net.loop.now_ns()
    t_warm = start + warmup
    t_end = start + spec.duration_ns
    chunk = memoryview(bytes(1 << 20))
    got = [0] * len(senders)
    at_warm = [0] * len(senders)
    rtt_sum = [0] * len(senders)
    rtt_n = [0] * len(senders)
    cwnd_sum = [0] * len(senders)  # snd_cwnd, sampled with srtt
    samples = 0
    next_sample = t_warm
    loop = net.loop
    for i, r in enumerate(receivers):
        _wake_reader(loop, r, got, i)
    for s in senders:
        _wake_writer(loop, s, chunk)
    while True:
        loop.run(min(next_sample, t_end))
        if loop.now_ns() >= t_end:
            break
        if not samples:
            at_warm = list(got)
        # every 10 ms from the end of the warm-up: srtt and cwnd
        next_sample += 10 * MS
        samples += 1
        for i, s in enumerate(senders):
            cwnd_sum[i] += s.snd_cwnd
            if s.srtt_us:
                rtt_sum[i] += s.srtt_us >> 3
                rtt_n[i] += 1
    secs = (t_end - max(t_warm, start)) / SEC
    out = []
    for i, (cc, s) in enumerate(zip(spec.ccs, senders, strict=True)):
        out.append(FlowResult(
            cc=cc, goodput_mbps=(got[i] - at_warm[i]) * 8 / secs / 1e6,
            rtt_ms=(rtt_sum[i] / rtt_n[i] / 1000) if rtt_n[i] else 0.0,
            min_rtt_ms=s.tcp_min_rtt() / 1000 if s.tcp_min_rtt() != 0xFFFFFFFF else 0.0,
            retrans=s.total_retrans,
            extra={"cwnd_avg": cwnd_sum[i] / max(1, samples)}))
    return out, path


# -- sweeps -------------------------------------------------------------------------

def run_loss_sweep(ccs: Sequence[str], losses: Sequence[float],
                   base: PathSpec) -> list[dict[str, Any]]:
    """Goodput vs random loss, next to the models."""
    rows = []
    rtt_s = base.rtt_ns / SEC
    for cc in ccs:
        for p in losses:
            spec = PathSpec(**{**base.__dict__, "loss": p, "ccs": (cc,)})
            (res,), _ = run_path(spec)
            rows.append({"cc": cc, "loss": p, "goodput_mbps": round(res.goodput_mbps, 3),
                         "mathis_mbps": round(min(mathis_mbps(rtt_s, p), 1e9), 3),
                         "rfc9438_mbps": round(min(rfc9438_mbps(rtt_s, p), 1e9), 3),
                         "ceiling_mbps": round(ceiling_mbps(base.rate_bps, p), 3),
                         "rtt_ms": round(res.rtt_ms, 2), "retrans": res.retrans})
    return rows


def run_buffer_sweep(ccs: Sequence[str], bdps: Sequence[float],
                     base: PathSpec) -> list[dict[str, Any]]:
    """Goodput and mean RTT vs bottleneck buffer (no random loss)."""
    rows = []
    for cc in ccs:
        for b in bdps:
            spec = PathSpec(**{**base.__dict__, "loss": 0.0, "buffer_bdp": b, "ccs": (cc,)})
            (res,), _ = run_path(spec)
            rows.append({"cc": cc, "buffer_bdp": b, "rtt_ms": round(res.rtt_ms, 2),
                         "goodput_mbps": round(res.goodput_mbps, 3),
                         "min_rtt_ms": round(res.min_rtt_ms, 2), "retrans": res.retrans})
    return rows


# name -> (rate, rtt, buffer in BDP, loss, duration factor, the claim)
SCENARIOS: dict[str, tuple[int, int, float, float, float, str]] = {
    "datacenter": (10_000_000_000, 50_000, 1.0, 1e-6, 2 / 30,
                   "CUBIC is fine in the data centre (short RTT, shallow buffer)"),
    "internet-deep-buffer": (100_000_000, 100 * MS, 10.0, 0.0, 1.0,
                             "BBR keeps queues low where CUBIC fills a deep buffer"),
    "lossy-wireless": (50_000_000, 50 * MS, 1.0, 0.015, 1.0,
                       "BBR for lossy paths: loss is not congestion"),
}


def jain(xs: Sequence[float]) -> float:
    """Jain's fairness index: (sum x)^2 / (n sum x^2)."""
    sq = sum(x * x for x in xs)
    return float(sum(xs)) ** 2 / (len(xs) * sq) if sq else 0.0


def run_scenarios(base: PathSpec, scale: float) -> list[dict[str, Any]]:
    """The named scenarios for cubic and bbr, and the shared bottlenecks. ``scale``
    multiplies the scenarios' link rates (the data centre's at most 100 Mbit/s when
    scaled down)."""
    rows = []
    for name, (rate0, rtt, bdp, loss, dfac, claim) in SCENARIOS.items():
        rate = rate0 if scale == 1.0 else min(rate0 * scale, 100_000_000)
        for cc in ("cubic", "bbr"):
            spec = PathSpec(rate_bps=int(rate), rtt_ns=rtt, buffer_bdp=bdp, loss=loss,
                            ccs=(cc,), duration_ns=max(int(base.duration_ns * dfac), 200 * MS),
                            seed=base.seed, settings=base.settings)
            (res,), _ = run_path(spec)
            rows.append({"scenario": name, "cc": cc, "goodput_mbps": round(res.goodput_mbps, 3),
                         "rtt_ms": round(res.rtt_ms, 3), "share": 1.0,
                         "link_mbps": rate / 1e6, "claim": claim})
    for name, bdp in (("shared-deep-buffer", 10.0), ("shared-shallow-buffer", 1.0)):
        spec = PathSpec(rate_bps=base.rate_bps, rtt_ns=base.rtt_ns, buffer_bdp=bdp,
                        ccs=("cubic", "bbr"), duration_ns=base.duration_ns, seed=base.seed,
                        settings=base.settings)
        res2, _ = run_path(spec)
        total = sum(r.goodput_mbps for r in res2) or 1.0
        j = jain([r.goodput_mbps for r in res2])
        for r in res2:
            rows.append({"scenario": name, "cc": r.cc,
                         "goodput_mbps": round(r.goodput_mbps, 3), "rtt_ms": round(r.rtt_ms, 2),
                         "share": round(r.goodput_mbps / total, 3), "jain": round(j, 3),
                         "link_mbps": base.rate_bps / 1e6,
                         "claim": f"one CUBIC + one BBR flow, {bdp:g} BDP buffer"})
    return rows


# -- the verdicts -----------------------------------------------------------------

def summarize(loss_rows: Sequence[dict[str, Any]], buf_rows: Sequence[dict[str, Any]],
              scen_rows: Sequence[dict[str, Any]], link_mbps: float) -> list[dict[str, str]]:
    """The "when to use" claims with what this run measured and whether it agrees."""
    out: list[dict[str, str]] = []

    def g(rows: Sequence[dict[str, Any]], **kw: Any) -> dict[str, Any] | None:
        for r in rows:
            if all(r.get(k) == v for k, v in kw.items()):
                return r
        return None

    lossy = [r["loss"] for r in loss_rows if 0.01 <= r["loss"] <= 0.05 and
             g(loss_rows, cc="bbr", loss=r["loss"]) and g(loss_rows, cc="cubic", loss=r["loss"])]
    if lossy:
        p = max(lossy)
        b, c = g(loss_rows, cc="bbr", loss=p), g(loss_rows, cc="cubic", loss=p)
        if b and c:
            out.append({"claim": "BBR for lossy paths (random loss is not congestion)",
                        "measured": f"at {p:.0%} loss bbr {b['goodput_mbps']:.1f}, cubic "
                                    f"{c['goodput_mbps']:.1f} of {link_mbps:.0f} Mbit/s",
                        "agrees": "yes" if b["goodput_mbps"] > 2 * c["goodput_mbps"] else "no"})
    if buf_rows:
        big = max(r["buffer_bdp"] for r in buf_rows)
        b, c = g(buf_rows, cc="bbr", buffer_bdp=big), g(buf_rows, cc="cubic", buffer_bdp=big)
        if b and c:
            out.append({"claim": "BBR keeps queues low; CUBIC fills the buffer",
                        "measured": f"at {big:g} BDP of buffer rtt bbr {b['rtt_ms']:.0f} ms, "
                                    f"cubic {c['rtt_ms']:.0f} ms (min {b['min_rtt_ms']:.0f})",
                        "agrees": "yes" if b["rtt_ms"] < c["rtt_ms"] else "no"})
        small = min(r["buffer_bdp"] for r in buf_rows)
        b, c = g(buf_rows, cc="bbr", buffer_bdp=small), g(buf_rows, cc="cubic", buffer_bdp=small)
        if b and c:
            out.append({"claim": "shallow buffers hurt CUBIC more than BBR",
                        "measured": f"at {small:g} BDP goodput bbr {b['goodput_mbps']:.1f}, "
                                    f"cubic {c['goodput_mbps']:.1f} Mbit/s",
                        "agrees": "yes" if b["goodput_mbps"] >= c["goodput_mbps"] else "no"})
    dc_c, dc_b = g(scen_rows, scenario="datacenter", cc="cubic"), g(scen_rows,
                                                                    scenario="datacenter",
                                                                    cc="bbr")
    if dc_c and dc_b:
        out.append({"claim": "CUBIC is fine in the data centre",
                    "measured": f"cubic {dc_c['goodput_mbps']:.0f}, bbr "
                                f"{dc_b['goodput_mbps']:.0f} of {dc_c['link_mbps']:.0f} Mbit/s",
                    "agrees": "yes" if dc_c["goodput_mbps"] >= 0.8 * dc_b["goodput_mbps"]
                    else "no"})
    for scen, bdp in (("shared-deep-buffer", "10"), ("shared-shallow-buffer", "1")):
        sh_b = g(scen_rows, scenario=scen, cc="bbr")
        if sh_b:
            out.append({"claim": f"BBR takes more than its share from CUBIC ({bdp} BDP buffer)",
                        "measured": f"bbr share {sh_b['share']:.0%}, Jain {sh_b['jain']:.2f}",
                        "agrees": "yes" if sh_b["share"] > 0.5 else "no (CUBIC gets more)"})
    return out


def _plot(path: str, loss_rows: Sequence[dict[str, Any]],
          buf_rows: Sequence[dict[str, Any]]) -> None:
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt: Any = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        raise SystemExit("--plot needs matplotlib (pip install 'tuxnet[plots]')") from None
    panels = int(bool(loss_rows)) + int(bool(buf_rows))
    if not panels:
        return
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    ax1 = axes[0][0]
    ax2 = axes[0][-1]
    for cc in CCS:
        pts = [(r["loss"], r["goodput_mbps"]) for r in loss_rows if r["cc"] == cc]
        if pts:
            ax1.plot(*zip(*pts, strict=True), marker="o", label=cc)
    models = sorted({(r["loss"], r["mathis_mbps"], r["rfc9438_mbps"], r["ceiling_mbps"])
                     for r in loss_rows})
    if models:
        xs = [m[0] for m in models]
        ax1.plot(xs, [m[1] for m in models], "k--", label="Mathis (Reno)")
        ax1.plot(xs, [m[2] for m in models], "k:", label="RFC 9438 (CUBIC)")
        ax1.plot(xs, [m[3] for m in models], "k-", lw=0.5, label="link x (1-p)")
    if not loss_rows:
        ax1 = None
    if ax1 is not None:
        ax1.set_xscale("log")
        ax1.set_yscale("log")
        ax1.set_xlabel("random loss")
        ax1.set_ylabel("goodput (Mbit/s)")
        ax1.legend(fontsize=7)
    for cc in ("cubic", "bbr"):
        pts = [(r["buffer_bdp"], r["rtt_ms"]) for r in buf_rows if r["cc"] == cc]
        if pts:
            ax2.plot(*zip(*pts, strict=True), marker="o", label=cc)
    if buf_rows:
        ax2.set_xscale("log")
        ax2.set_xlabel("buffer (BDP)")
        ax2.set_ylabel("mean RTT (ms)")
        ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


_LOSS_COLS = [("cc", "cc", "s"), ("loss", "loss", "s"), ("goodput_mbps", "goodput Mb/s", "f"),
              ("mathis_mbps", "Mathis", "f"), ("rfc9438_mbps", "RFC9438", "f"),
              ("ceiling_mbps", "link(1-p)", "f"), ("rtt_ms", "rtt ms", "f"),
              ("retrans", "retrans", "d")]
_BUF_COLS = [("cc", "cc", "s"), ("buffer_bdp", "buffer BDP", "s"), ("rtt_ms", "rtt ms", "f"),
             ("min_rtt_ms", "min rtt", "f"), ("goodput_mbps", "goodput Mb/s", "f"),
             ("retrans", "retrans", "d")]
_SCEN_COLS = [("scenario", "scenario", "s"), ("cc", "cc", "s"),
              ("goodput_mbps", "goodput Mb/s", "f"), ("link_mbps", "link", "f"),
              ("rtt_ms", "rtt ms", "f"), ("share", "share", "%")]
_CLAIM_COLS = [("claim", "claim", "s"), ("measured", "measured", "s"), ("agrees", "agrees", "s")]


def run(argv: list[str], prog: str = "tuxnet lab cc") -> int:
    """Entry point of ``tuxnet lab cc``."""
    ap = argparse.ArgumentParser(prog=prog, description="Congestion control: goodput vs loss, "
                                 "queueing delay vs buffer, scenarios (cubic, bbr, reno).")
    ap.add_argument("--json", action="store_true", help="one JSON document")
    ap.add_argument("--quick", action="store_true",
                    help="a short sweep at 10 Mbit/s, 5 s per point")
    ap.add_argument("--duration", type=float, default=None, help="seconds per point (30)")
    ap.add_argument("--sweep", default="loss,buffer,scenarios",
                    help="which parts: loss, buffer, scenarios (comma list)")
    ap.add_argument("--losses", default=None, help="comma list of loss rates (0..1)")
    ap.add_argument("--ccs", default=None, help="comma list of algorithms for the loss sweep")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                    help="write a sysctl (net.ipv4.tcp_rmem=..., /proc/sys/...) or a module "
                    "parameter (/sys/module/tcp_cubic/parameters/hystart=0) on both hosts "
                    "before each run; repeatable")
    ap.add_argument("--plot", metavar="FILE.png", default=None,
                    help="plot goodput vs loss and RTT vs buffer (needs matplotlib)")
    args = ap.parse_args(argv)
    parts = {p.strip() for p in args.sweep.split(",") if p.strip()}
    if not parts <= {"loss", "buffer", "scenarios"}:
        ap.error(f"unknown sweep part in {args.sweep!r}")
    settings = []
    for item in args.set:
        path, eq, value = item.partition("=")
        if not eq or not path:
            ap.error(f"--set wants PATH=VALUE, not {item!r}")
        settings.append((path.strip(), value.strip()))
    if settings:  # check them once on a scratch host: a clear error, not a traceback
        from tuxnet.host import Host
        from tuxnet.loop import SimLoop

        scratch = Host(SimLoop(), "check")
        for path, value in settings:
            try:
                write_setting(scratch, path, value)
            except OSError as exc:
                ap.error(f"--set {path}={value}: {exc.strerror or exc}")
    base = PathSpec(seed=args.seed, settings=tuple(settings))
    losses: Sequence[float] = LOSS_RATES
    bdps: Sequence[float] = BUFFER_BDPS
    scale = 1.0
    if args.quick:
        base.rate_bps = 10_000_000
        base.duration_ns = 5 * SEC
        losses = (0.0001, 0.01, 0.05, 0.2)
        bdps = (0.25, 1.0, 8.0)
        scale = 0.1
    if args.duration is not None:
        if args.duration <= 0:
            ap.error("--duration must be positive")
        base.duration_ns = int(args.duration * SEC)
    if args.losses:
        try:
            losses = tuple(float(x) for x in args.losses.split(","))
        except ValueError:
            ap.error(f"not a list of loss rates: {args.losses!r}")
        if any(not 0 <= x < 1 for x in losses):
            ap.error("loss rates must be in [0, 1)")
    ccs: Sequence[str] = CCS
    if args.ccs:
        ccs = tuple(x.strip() for x in args.ccs.split(",") if x.strip())
        from tuxnet.tcp.cong import tcp_ca_find

        bad = [c for c in ccs if tcp_ca_find(c) is None]
        if bad:
            ap.error(f"unknown congestion control: {', '.join(bad)}")
    t0 = time.perf_counter()
    loss_rows = run_loss_sweep(ccs, losses, base) if "loss" in parts else []
    buf_rows = run_buffer_sweep(("cubic", "bbr"), bdps, base) if "buffer" in parts else []
    scen_rows = run_scenarios(base, scale) if "scenarios" in parts else []
    claims = summarize(loss_rows, buf_rows, scen_rows, base.rate_bps / 1e6)
    wall = time.perf_counter() - t0
    if args.plot:
        _plot(args.plot, loss_rows, buf_rows)
    rtt_ms = base.rtt_ns / MS
    text = []
    if loss_rows:
        text.append(f"goodput vs random loss: {base.rate_bps / 1e6:g} Mbit/s, {rtt_ms:g} ms "
                    f"RTT, 1 BDP buffer, {base.duration_ns / SEC:g} s per point")
        text += render_columns(loss_rows, _LOSS_COLS, 2)
        text.append("")
    if buf_rows:
        text.append(f"queueing delay vs buffer: {base.rate_bps / 1e6:g} Mbit/s, {rtt_ms:g} ms "
                    "base RTT, no random loss")
        text += render_columns(buf_rows, _BUF_COLS, 1)
        text.append("")
    if scen_rows:
        text.append("scenarios")
        text += render_columns(scen_rows, _SCEN_COLS, 1)
        for scen in ("shared-deep-buffer", "shared-shallow-buffer"):
            jrow = next((r for r in scen_rows if r["scenario"] == scen), None)
            if jrow is not None:
                text.append(f"{scen}: Jain's fairness index {jrow['jain']:.3f}")
        text.append("")
    if claims:
        text.append("claims")
        text += render_columns(claims, _CLAIM_COLS)
    doc = {"lab": "cc", "rows": loss_rows + buf_rows + scen_rows, "loss": loss_rows,
           "buffer": buf_rows, "scenarios": scen_rows, "claims": claims,
           "params": {"rate_bps": base.rate_bps, "rtt_ns": base.rtt_ns,
                      "duration_ns": base.duration_ns, "seed": base.seed},
           "wall_s": round(wall, 2)}
    emit(doc, "\n".join(text) + "\n", args.json)
    return 0
