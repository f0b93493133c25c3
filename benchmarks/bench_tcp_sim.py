"""Simulated TCP bulk transfer: data segments per wall second through the whole stack,
and the wall-time cost of one in-order segment on the receive fast path.

Usage: python benchmarks/bench_tcp_sim.py [--quick] [--mbytes N] [--profile]

Two hosts in virtual time, each with a SimNic on a 1 Gbit/s, 1 ms duplex link (GRO
on, checksum offload, 1500-byte MTU); one TCP connection carries N MB one way. The
path of every segment is the full one: tcp_sendmsg, tcp_write_xmit, tcp_transmit_skb,
ip_queue_xmit, dev_queue_xmit and the qdisc, the driver's xmit, the link (SimLoop
events), the peer's NIC ring, NAPI on the simulated CPU, GRO, ip_rcv, tcp_v4_rcv and
the socket lookup, tcp_rcv_established, the ACKs back the same way.

- ``segs/s``: data segments the sender emitted (Tcp OutSegs minus pure ACKs is
  not counted: the receiver's ``data_segs_in``) per second of wall time.
- ``fast path``: wall time per in-order segment in tcp_rcv_established alone, from a
  separate loop that feeds pre-built in-order segments to an established socket
  (header prediction, TCPHPHits) and drains the receive queue now and then.

No peer simulator is installed here (ns-3, ns.py); the reference figures from the
issue are printed beside tuxnet's: ns-3 (pip build) 12.6k-26k seg/s, ns.py 10k-16k
seg/s on a comparable bulk TCP run. The ratio line uses the upper end of each range.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import struct
import time
from typing import Any

import _common  # noqa: F401  (puts src/ on sys.path)
from _common import ratio_line, table

from tuxnet.core.dev import dev_open
from tuxnet.core.netcore import get_core, register_netdevice
from tuxnet.drivers.loopback import loopback_init
from tuxnet.drivers.simnic import SimNic, connect_simnics
from tuxnet.host import Host
from tuxnet.ipv4.devinet import NETDEV_UP, inet_netdev_event, inet_state
from tuxnet.ipv4.inet import inet_init
from tuxnet.loop import SimLoop
from tuxnet.sim.topology import Topology
from tuxnet.skb import alloc_skb
from tuxnet.tcp import proto
from tuxnet.tcp.input import tcp_rcv_established
from tuxnet.tcp.ipv4 import tcp_v4_init
from tuxnet.tcp.sock import TcpSock
from tuxnet.wire.addr import ip_int

MS = 1_000_000
SEC = 1_000_000_000
PORT = 5001
# the reference figures for peers not installed here (segments / wall s)
PEERS = (("ns-3 (pip build)", 12_600, 26_000), ("ns.py", 10_000, 16_000))
FAST_PATH_TARGET_US = 3.0
SEGS_TARGET = 100_000


def two_hosts(rate_bps: int, delay_ns: int) -> tuple[SimLoop, Host, Host]:
    """h1 10.0.0.1 and h2 10.0.0.2, SimNic eth0 each, IPv4 and TCP, one duplex link."""
    loop = SimLoop()
    topo = Topology(loop, seed=1)
    hosts: list[Host] = []
    nics: list[SimNic] = []
    for i in (1, 2):
        h = Host(loop, f"h{i}", seed=1)
        get_core(h)
        lo = loopback_init(h)
        nic = SimNic("eth0", mac=bytes([2, 0, 0, 0, 0, i]))
        register_netdevice(h, nic)
        dev_open(nic)
        inet_init(h)
        inet_netdev_event(h, lo, NETDEV_UP)
        inet_netdev_event(h, nic, NETDEV_UP)
        inet_state(h).addr_add(nic, ip_int(f"10.0.0.{i}"), 24)
        tcp_v4_init(h)
        hosts.append(h)
        nics.append(nic)
    connect_simnics(topo, nics[0], nics[1], rate_bps=rate_bps, delay_ns=delay_ns)
    return loop, hosts[0], hosts[1]


def connected(loop: SimLoop, h1: Host, h2: Host) -> tuple[TcpSock, TcpSock]:
    """An established connection h1 -> h2:PORT (client, accepted child)."""
    lst = proto.tcp_v4_init_sock(h2)
    lst.inet_rcv_saddr = lst.inet_saddr = 0
    from tuxnet.tcp.netns import tcp_net

    assert tcp_net(h2).get_port(lst, PORT) == 0
    proto.inet_listen(lst, 16)
    cli = proto.tcp_v4_init_sock(h1)
    try:
        proto.inet_stream_connect(cli, ip_int("10.0.0.2"), PORT, 0)
    except BlockingIOError:
        pass
    srv = proto.inet_csk_accept(lst, 10 * SEC)
    loop.run(loop.now_ns() + 10 * MS)
    assert cli.sk_state == 1 and srv.sk_state == 1
    return cli, srv


def bulk(nbytes: int, *, profile: bool = False) -> dict[str, Any]:
    """Send ``nbytes`` h1 -> h2; a 1 ms virtual-time pump writes and reads."""
    loop, h1, h2 = two_hosts(1_000_000_000, 1 * MS)
    cli, srv = connected(loop, h1, h2)
    data = random.Random(1).randbytes(nbytes)
    state = {"sent": 0, "got": 0}
    chunk = memoryview(data)

    def pump() -> None:
        sent = state["sent"]
        while sent < nbytes:
            try:
                sent += proto.tcp_sendmsg(cli, chunk[sent:sent + 65536], 0, 0)
            except BlockingIOError:
                break
        state["sent"] = sent
        while True:
            try:
                state["got"] += len(proto.tcp_recvmsg(srv, 1 << 20, 0, 0))
            except BlockingIOError:
                break
        if state["got"] < nbytes:
            loop.call_later(1 * MS, pump)
        else:
            loop.stop()

    segs0 = cli.data_segs_out
    hp0 = h2.mib.tcpext.TCPHPHits
    t_virt0 = loop.now_ns()
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof is not None:
        prof.enable()
    pump()
    loop.run(loop.now_ns() + 600 * SEC)
    if prof is not None:
        prof.disable()
    wall = time.perf_counter() - t0
    assert state["got"] == nbytes, "transfer incomplete"
    segs = cli.data_segs_out - segs0
    out = {"segs": segs, "wall": wall, "segs_per_s": segs / wall,
           "virt_s": (loop.now_ns() - t_virt0) / SEC,
           "hp_hits": h2.mib.tcpext.TCPHPHits - hp0,
           "retrans": h1.mib.tcp.RetransSegs}
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(45)
    return out


_IPH = struct.Struct("!BBHHHBBHII")
_TCPH = struct.Struct("!HHIIBBHHH")


def fast_path_us(nsegs: int) -> tuple[float, int]:
    """Wall µs per in-order 1448-byte segment in tcp_rcv_established (header prediction
    hits counted), fed straight to an established socket; the queue drained every 32."""
    loop, h1, h2 = two_hosts(1_000_000_000, 1 * MS)
    cli, srv = connected(loop, h1, h2)
    # freeze the sender: only the segments built here reach srv
    payload = bytes(1448)
    saddr, daddr = ip_int("10.0.0.1"), ip_int("10.0.0.2")
    seq = srv.rcv_nxt
    ack = srv.snd_nxt
    tsval = 1
    hp0 = h2.mib.tcpext.TCPHPHits
    skbs = []
    for i in range(nsegs):
        # header with timestamps (NOP NOP TS), as Linux sends on an established flow
        opts = struct.pack("!BBBBII", 1, 1, 8, 10, tsval + i, srv.rx_opt.ts_recent
                           if hasattr(srv, "rx_opt") else 0)
        hdr = _TCPH.pack(cli.inet_sport, PORT, (seq + i * 1448) & 0xFFFFFFFF, ack,
                         (32 >> 2) << 4, 0x10, 0xFFFF, 0, 0) + opts
        skb = alloc_skb(64 + 20 + len(hdr) + len(payload))
        skb.reserve(64)
        skb.put_data(_IPH.pack(0x45, 0, 20 + len(hdr) + len(payload), 0, 0x4000, 64, 6, 0,
                               saddr, daddr))
        skb.put_data(hdr + payload)
        skb.reset_network_header()
        skb.pull(20)
        skb.reset_transport_header()
        skbs.append(skb)
    del skbs
    return _fast_path_loop(loop, srv, h2, nsegs, hp0)


def _fast_path_loop(loop: SimLoop, srv: TcpSock, h2: Host, nsegs: int,
                    hp0: int) -> tuple[float, int]:
    raise NotImplementedError


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny run, for tests")
    ap.add_argument("--mbytes", type=float, default=None, help="bytes to send (MB)")
    ap.add_argument("--profile", action="store_true", help="cProfile the bulk run")
    args = ap.parse_args()
    mbytes = args.mbytes if args.mbytes is not None else (0.2 if args.quick else 20.0)
    r = bulk(int(mbytes * 1_000_000), profile=args.profile)
    print(r)


if __name__ == "__main__":
    main()
