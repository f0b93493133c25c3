"""The default scenario until TCP lands (issue #5): two hosts exchanging UDP frames
over a lossy, rate-limited duplex link.

Host ``a`` sends fixed-size UDP datagrams to ``b``'s echo port at a constant offered
rate, a little above what the a->b link can carry, so the link queue fills and tail
drops; the link also loses and corrupts frames at random. ``b`` echoes every datagram
it accepts. Everything is seeded: the same parameters and seed give the same report
byte for byte.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.pcap import PcapWriter
from tuxnet.scenarios.station import Station
from tuxnet.sim import Topology
from tuxnet.wire import ip_int, ip_str, mac_bytes, mac_str

# IPv4 + UDP header bytes on top of the payload, plus the Ethernet header
_FRAME_OVERHEAD = 14 + 20 + 8


@dataclass(slots=True)
class FramesParams:
    """Knobs of the frame-exchange scenario (tc-like units in the CLI)."""

    seed: int = 1
    duration_ns: int = 2_000_000_000
    rate_bps: int = 10_000_000
    delay_ns: int = 5_000_000
    loss: float = 0.01
    corrupt: float = 0.002
    queue_limit_pkts: int = 50
    offered_bps: int = 12_000_000
    payload: int = 1000


def run_frames(params: FramesParams, pcap_path: str | None = None) -> dict[str, Any]:
    """Run the scenario; returns a JSON-able report (links, hosts, drop reasons)."""
    loop = SimLoop()
    host_a = Host(loop, "a", seed=params.seed)
    host_b = Host(loop, "b", seed=params.seed)
    sta_a = Station(host_a, mac_bytes("02:00:00:00:00:0a"), ip_int("10.0.0.1"))
    sta_b = Station(host_b, mac_bytes("02:00:00:00:00:0b"), ip_int("10.0.0.2"))
    topo = Topology(loop, seed=params.seed)
    link = topo.link(sta_a, sta_b, name="a-b", rate_bps=params.rate_bps,
                     delay_ns=params.delay_ns, loss=params.loss, corrupt=params.corrupt,
                     queue_limit_pkts=params.queue_limit_pkts)
    sta_a.attach(link.ab, sta_b.mac)
    sta_b.attach(link.ba, sta_a.mac)

    writer = PcapWriter(pcap_path) if pcap_path else None
    if writer is not None:
        topo.capture(link, writer)

    frame_bits = (params.payload + _FRAME_OVERHEAD) * 8
    interval = max(1, frame_bits * 1_000_000_000 // params.offered_bps)
    payload = bytes(i % 251 for i in range(params.payload))
    sent = [0]

    def tick() -> None:
        if loop.now_ns() >= params.duration_ns:
            return
        sent[0] += 1
        sta_a.send_udp(sta_b.ip, 40000, sta_b.echo_port, payload, sent[0])
        loop.call_later(interval, tick)

    loop.call_soon(tick)
    # let the last frames drain: run past the sending period by a few RTTs
    loop.run(until_ns=params.duration_ns + 10 * params.delay_ns + 1_000_000_000)
    if writer is not None:
        writer.close()

    # goodput over the time the echoes took to arrive (the queue drains after sending stops)
    seconds = max(sta_a.last_rx_ns, params.duration_ns) / 1e9
    hosts = {}
    for sta in (sta_a, sta_b):
        mib = sta.host.mib
        hosts[sta.host.name] = {
            "addr": ip_str(sta.ip),
            "mac": mac_str(sta.mac),
            "ip": dict(mib.ip.items()),
            "udp": dict(mib.udp.items()),
            "drops": {str(reason): n for reason, n in sorted(sta.host.drop_counts.items())},
        }
    return {
        "scenario": "frames",
        "params": asdict(params),
        "virtual_ns": loop.now_ns(),
        "events": loop.events_run,
        "datagrams_sent": sent[0],
        "echoes_received": host_a.mib.udp.InDatagrams,
        "echo_goodput_mbps": round(sta_a.rx_payload_bytes * 8 / seconds / 1e6, 3),
        "links": {"a->b": link.ab.stats(), "b->a": link.ba.stats()},
        "hosts": hosts,
    }


_LINK_ROWS = ("sent_packets", "tx_packets", "delivered_packets", "drop_queue_full",
              "drop_loss_random", "corrupted", "max_backlog_packets")
_IP_ROWS = ("InReceives", "InHdrErrors", "InDelivers", "OutRequests", "OutDiscards")
_UDP_ROWS = ("InDatagrams", "OutDatagrams", "InErrors", "InCsumErrors", "NoPorts")


def format_frames(report: dict[str, Any]) -> str:
    """The human-readable report: per-link and per-host counters, drop reasons."""
    p = report["params"]
    lines = [
        f"scenario frames: a (10.0.0.1) <-> b (10.0.0.2) over {p['rate_bps'] / 1e6:g} Mbit/s, "
        f"{p['delay_ns'] / 1e6:g} ms, loss {p['loss'] * 100:g}%, "
        f"corrupt {p['corrupt'] * 100:g}%, queue {p['queue_limit_pkts']} pkts; seed {p['seed']}",
        f"a sends {p['payload']} B UDP datagrams to b:7 (echo) at "
        f"{p['offered_bps'] / 1e6:g} Mbit/s for {p['duration_ns'] / 1e9:g} s",
        "",
        f"{'link':<22}{'a->b':>12}{'b->a':>12}",
    ]
    ab, ba = report["links"]["a->b"], report["links"]["b->a"]
    for key in _LINK_ROWS:
        lines.append(f"{key:<22}{ab[key]:>12}{ba[key]:>12}")
    lines += ["", f"{'host':<22}{'a':>12}{'b':>12}"]
    ha, hb = report["hosts"]["a"], report["hosts"]["b"]
    for key in _IP_ROWS:
        lines.append(f"{'Ip' + key:<22}{ha['ip'][key]:>12}{hb['ip'][key]:>12}")
    for key in _UDP_ROWS:
        lines.append(f"{'Udp' + key:<22}{ha['udp'][key]:>12}{hb['udp'][key]:>12}")
    lines += ["", "drops (skb:kfree_skb reason):"]
    for name in ("a", "b"):
        for reason, n in report["hosts"][name]["drops"].items():
            lines.append(f"  {name}  {reason:<40}{n:>8}")
    lines += [
        "",
        f"datagrams sent {report['datagrams_sent']}, echoes received "
        f"{report['echoes_received']}, echo goodput {report['echo_goodput_mbps']:g} Mbit/s",
        f"virtual time {report['virtual_ns'] / 1e9:.3f} s, {report['events']} events",
    ]
    return "\n".join(lines)
