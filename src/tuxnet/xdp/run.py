"""``tuxnet xdp run``: an XDP program over a capture, in a simulated host.

The host has two SimNics, ``eth0`` (ifindex 1, where the capture arrives) and
``eth1`` (ifindex 2, a target for redirects), each wired to a sink, on ``ncpus`` CPUs
(cpumap redirects reach the other CPUs' stacks). The program is attached to eth0 in
native mode; each record of the capture is received by eth0 (in capture order, one at
a time, the simulation running until nothing is left to do) and goes through the real
driver poll and XDP hook. What comes out of it:

* the action the program returned (the hook's per-action counters tell);
* the frame that left: transmitted by eth0 (XDP_TX), by eth1 (a redirect), or passed
  up to the stack ("stack", captured by an rx_handler) -- rewritten as the program
  left it; nothing for a drop or a failed redirect.

``--map-set NAME:KEY:VALUE`` fills a map entry first (integers, little-endian over the
map's key and value sizes; a DEVMAP value is an ifindex here).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tuxnet.core.dev import RX_HANDLER_CONSUMED, dev_open
from tuxnet.core.netcore import get_core, register_netdevice
from tuxnet.drivers.simnic import SimNic
from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.pcap import LINKTYPE_ETHERNET, PcapWriter, read_pcap
from tuxnet.sim.topology import Topology
from tuxnet.skb import SkBuff
from tuxnet.xdp.hook import XDP_MAX_FRAME, DevXdp, dev_xdp_attach, dev_xdp_state
from tuxnet.xdp.prog import XdpProg

__all__ = ["FrameResult", "RunReport", "parse_map_set", "run_capture"]

ACTIONS = ("XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT")
# which per-queue counter moved -> the action the program returned
_COUNTER_ACTION = {"passed": "XDP_PASS", "drop": "XDP_DROP", "tx": "XDP_TX",
                   "tx_full": "XDP_TX", "redirect": "XDP_REDIRECT",
                   "redirect_err": "XDP_REDIRECT", "aborted": "XDP_ABORTED",
                   "invalid": "invalid"}
MAC_ETH0 = bytes.fromhex("020000000001")
MAC_ETH1 = bytes.fromhex("020000000002")


@dataclass
class FrameResult:
    """One input record: the action, the frame that came out (where, and its bytes)."""

    index: int
    action: str
    out: str | None = None
    data: bytes = b""
    ts_ns: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "action": self.action, "len_out": len(self.data),
                "out_hex": self.data.hex(), "out": self.out}


@dataclass
class RunReport:
    """What ``run_capture`` found."""

    program: str
    section: str
    obj: str
    frames: list[FrameResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    ethtool: dict[str, int] = field(default_factory=dict)
    written: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"program": self.program, "section": self.section, "object": self.obj,
                "frames_in": len(self.frames), "counts": self.counts,
                "frames_written": self.written,
                "ethtool": self.ethtool, "frames": [f.as_dict() for f in self.frames]}


class _Sink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def receive_frame(self, frame: bytes, link: Any = None) -> None:
        self.frames.append(bytes(frame))


def parse_map_set(text: str) -> tuple[str, int, int]:
    """``NAME:KEY:VALUE`` -> (name, key, value); ValueError if malformed."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"--map-set wants NAME:KEY:VALUE, not {text!r}")
    return parts[0], int(parts[1], 0), int(parts[2], 0)


def _host(ncpus: int) -> tuple[SimLoop, Host, list[SimNic], list[_Sink], list[tuple[str, bytes]]]:
    loop = SimLoop()
    host = Host(loop, "xdp-run", ncpus=ncpus, seed=1)
    get_core(host)
    topo = Topology(loop, seed=1)
    nics: list[SimNic] = []
    sinks: list[_Sink] = []
    passed: list[tuple[str, bytes]] = []
    mtu = XDP_MAX_FRAME - 18  # the largest frames XDP can take
    for i, mac in enumerate((MAC_ETH0, MAC_ETH1)):
        nic = SimNic(f"eth{i}", mac=mac, mtu=mtu)
        register_netdevice(host, nic)
        dev_open(nic)
        sink = _Sink()
        wire = topo.link(nic, sink, name=f"wire{i}")
        nic.attach_link(wire.link_from(nic))

        def handler(skb: SkBuff, nic: SimNic = nic) -> int:
            passed.append((nic.name, bytes(skb.head[skb.mac_header:skb.tail])))
            host.consume_skb(skb, "xdp_run")
            return RX_HANDLER_CONSUMED

        nic.rx_handler = handler
        nics.append(nic)
        sinks.append(sink)
    return loop, host, nics, sinks, passed


def _set_maps(prog: XdpProg, sets: Sequence[tuple[str, int, int]]) -> None:
    for name, key, value in sets:
        m = prog.maps.get(name)
        if m is None:
            raise ValueError(f"no map {name!r} (maps: {', '.join(prog.maps) or 'none'})")
        m.update(key.to_bytes(m.key_size, "little"),
                 value.to_bytes(m.value_size, "little"))


def run_capture(obj_path: str | os.PathLike[str], pcap: str | os.PathLike[str],
                sec: str | None = None, *, out: str | os.PathLike[str] | None = None,
                map_sets: Sequence[tuple[str, int, int]] = (), ncpus: int = 1) -> RunReport:
    """Run program ``sec`` of ``obj_path`` over every Ethernet record of ``pcap``;
    write the frames that came out to ``out`` (pcap) if given."""
    loop, host, nics, sinks, passed = _host(ncpus)
    prog = XdpProg.load(host, obj_path, sec)
    _set_maps(prog, map_sets)
    eth0 = nics[0]
    dev_xdp_attach(eth0, prog)
    st = dev_xdp_state(eth0)
    assert isinstance(st, DevXdp)
    report = RunReport(prog.name, getattr(prog.source, "section", ""), os.fspath(obj_path))
    counts = dict.fromkeys(ACTIONS, 0)
    writer = PcapWriter(out) if out is not None else None
    try:
        for index, rec in enumerate(read_pcap(pcap)):
            if rec.linktype != LINKTYPE_ETHERNET:
                report.frames.append(FrameResult(index, "skipped", ts_ns=rec.ts_ns))
                continue
            before = _queue_counts(st)
            outs_before = (len(sinks[0].frames), len(sinks[1].frames), len(passed))
            eth0.receive_frame(rec.data)
            loop.run()
            after = _queue_counts(st)
            moved = [k for k in _COUNTER_ACTION if after[k] != before[k]]
            action = _COUNTER_ACTION[moved[0]] if moved else "NIC_DROP"
            counts[action] = counts.get(action, 0) + 1
            res = FrameResult(index, action, ts_ns=rec.ts_ns)
            new = [("eth0", f) for f in sinks[0].frames[outs_before[0]:]]
            new += [("eth1", f) for f in sinks[1].frames[outs_before[1]:]]
            new += [("stack", f) for _, f in passed[outs_before[2]:]]
            if new:
                res.out, res.data = new[0]
            report.frames.append(res)
            if writer is not None:
                for _, f in new:
                    writer.write_packet(rec.ts_ns, f)
                    report.written += 1
    finally:
        if writer is not None:
            writer.close()
    report.counts = counts
    report.ethtool = {k: v for k, v in st.ethtool_stats() if k.startswith("rx_xdp_")}
    return report


def _queue_counts(st: DevXdp) -> dict[str, int]:
    s = st.rxq[0]
    return {"passed": s.passed, "drop": s.drop, "tx": s.tx, "tx_full": s.tx_full,
            "redirect": s.redirect, "redirect_err": s.redirect_err, "aborted": s.aborted,
            "invalid": s.invalid}


def format_report(rep: RunReport, pcap: str, out: str | None) -> str:
    """The human-readable summary."""
    lines = [f"xdp run: program {rep.program} (section {rep.section}) of {rep.obj} over "
             f"{pcap}: {len(rep.frames)} frames"]
    width = max(len(k) for k in rep.counts) if rep.counts else 0
    for k, v in rep.counts.items():
        lines.append(f"  {k:<{width}}  {v}")
    if out is not None:
        lines.append(f"wrote {rep.written} frames (sent on or passed up) to {out}")
    return "\n".join(lines) + "\n"
