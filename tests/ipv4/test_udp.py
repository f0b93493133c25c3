"""UDP through the real IPv4 path between two simulated hosts: delivery and counters,
socket lookup (connected over wildcard, address over wildcard, reuseport), ephemeral
ports as udp_lib_get_port picks them, bind conflicts, ICMP port unreachable and
ECONNREFUSED, receive-buffer drops, checksums (bad, zero), short packets, broadcast,
sizes, and /proc/net/udp against the captured sample."""

from __future__ import annotations

import errno
import random
import re
from pathlib import Path

import pytest
from _udpnet import A1, A2, MS, two_hosts

from tuxnet.core.netcore import add_packet_tap
from tuxnet.dropreason import SkbDropReason
from tuxnet.ipv4.udp import proc_net_udp
from tuxnet.ipv4.udp_table import jhash_3words, reciprocal_scale, udp_table
from tuxnet.socket import (
    AF_INET,
    IP_MTU_DISCOVER,
    IP_PMTUDISC_DO,
    IP_RECVERR,
    IP_TOS,
    IP_TTL,
    SO_BROADCAST,
    SO_NO_CHECK,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SOCK_DGRAM,
    SOL_IP,
    SOL_SOCKET,
    socket,
)
from tuxnet.tools.procfs import read_proc


def udp(host: object, **kw: object) -> socket:
    s = socket(AF_INET, SOCK_DGRAM, host=host)  # type: ignore[arg-type]
    for opt, val in kw.items():
        s.setsockopt(SOL_SOCKET, {"reuseaddr": SO_REUSEADDR, "reuseport": SO_REUSEPORT,
                                  "rcvbuf": SO_RCVBUF, "broadcast": SO_BROADCAST}[opt],
                     int(val))  # type: ignore[call-overload]
    return s


# -- delivery ----------------------------------------------------------------------------

def test_datagrams_cross_the_link_both_ways_with_counters() -> None:
    net = two_hosts()
    srv = udp(net.h2)
    srv.bind((A2, 5353))
    cli = udp(net.h1)
    assert cli.sendto(b"query", (A2, 5353)) == 5
    port = cli.getsockname()[1]
    data, peer = srv.recvfrom(2048)
    assert (data, peer) == (b"query", (A1, port))
    assert srv.sendto(b"answer!", peer) == 7
    assert cli.recvfrom(2048) == (b"answer!", (A2, 5353))
    for h in (net.h1, net.h2):
        assert h.mib.udp.OutDatagrams == 1
        assert h.mib.udp.InDatagrams == 1
        assert h.mib.udp.InErrors == 0
    assert net.h2.mib.ip.InDelivers >= 1


def test_in_datagrams_counts_reads_not_arrivals() -> None:
    # udp_recvmsg counts UDP_MIB_INDATAGRAMS; a queued datagram is not counted yet
    net = two_hosts()
    srv = udp(net.h2)
    srv.bind(("", 7000))
    cli = udp(net.h1)
    for i in range(3):
        cli.sendto(bytes([i]), (A2, 7000))
    net.settle()
    assert net.h2.mib.udp.InDatagrams == 0
    assert srv.sk.sk_rmem_alloc > 0
    assert srv.recv(10) == b"\x00"
    assert net.h2.mib.udp.InDatagrams == 1


def test_connected_socket_wins_over_wildcard_and_filters_peers() -> None:
    net = two_hosts()
    wild = udp(net.h2, reuseaddr=1)
    wild.bind(("0.0.0.0", 6000))
    conn = udp(net.h2, reuseaddr=1)
    conn.bind(("0.0.0.0", 6000))
    conn.connect((A1, 7001))
    a = udp(net.h1)
    a.bind((A1, 7001))
    b = udp(net.h1)
    b.bind((A1, 7002))
    a.sendto(b"from-7001", (A2, 6000))
    b.sendto(b"from-7002", (A2, 6000))
    assert conn.recvfrom(100) == (b"from-7001", (A1, 7001))
    assert wild.recvfrom(100) == (b"from-7002", (A1, 7002))
    wild.setblocking(False)
    conn.setblocking(False)
    with pytest.raises(BlockingIOError):
        wild.recv(100)
    with pytest.raises(BlockingIOError):
        conn.recv(100)


def test_socket_bound_to_the_address_wins_over_wildcard() -> None:
    # __udp4_lib_lookup walks the (daddr, port) chain before the (0.0.0.0, port) one
    net = two_hosts()
    exact = udp(net.h2, reuseaddr=1)
    exact.bind((A2, 6001))
    wild = udp(net.h2, reuseaddr=1)
    wild.bind(("", 6001))  # newer, but bound to the wildcard
    cli = udp(net.h1)
    cli.sendto(b"to-10.0.0.2", (A2, 6001))
    assert exact.recv(100) == b"to-10.0.0.2"
    local = udp(net.h2)
    local.sendto(b"to-127.0.0.1", ("127.0.0.1", 6001))
    assert wild.recv(100) == b"to-127.0.0.1"


def test_bind_conflicts_and_reuseaddr() -> None:
    net = two_hosts()
    a = udp(net.h2)
    a.bind((A2, 6001))
    b = udp(net.h2)
    with pytest.raises(OSError) as ei:
        b.bind(("", 6001))  # the wildcard overlaps 10.0.0.2:6001
    assert ei.value.errno == errno.EADDRINUSE
    assert str(ei.value) == "[Errno 98] Address already in use"
    c = udp(net.h2)
    c.bind(("127.0.0.1", 6001))  # another address: no overlap
    # SO_REUSEADDR on both: the later bind shares the port and, with equal scores,
    # takes the datagrams (it is first in the chain)
    x = udp(net.h2, reuseaddr=1)
    x.bind((A2, 6002))
    y = udp(net.h2, reuseaddr=1)
    y.bind(("", 6002))
    cli = udp(net.h1)
    cli.sendto(b"hi", (A2, 6002))
    assert x.recv(10) == b"hi"  # bound to the destination address: the first lookup
    z = udp(net.h2, reuseaddr=1)
    z.bind((A2, 6002))
    cli.sendto(b"again", (A2, 6002))
    assert z.recv(10) == b"again"  # the newest of the equal-score sockets
    assert udp_table(net.h2).lookup(0x0A000001, 1, 0x0A000002, 6002) is z.sk


def test_reuseport_group_spreads_flows_by_hash() -> None:
    net = two_hosts()
    group = [udp(net.h2, reuseport=1) for _ in range(4)]
    for s in group:
        s.bind(("", 6100))
    other = udp(net.h2)
    with pytest.raises(OSError, match="Address already in use"):
        other.bind(("", 6100))
    tbl = udp_table(net.h2)
    got: dict[int, int] = {}
    for sport in range(20000, 20040):
        sk = tbl.lookup(0x0A000001, sport, 0x0A000002, 6100)
        assert sk is not None
        # reuseport_select_sock_by_hash: reciprocal_scale(udp_ehashfn(...), 4)
        h = jhash_3words(0x0A000002, 0x0A000001, (6100 << 16) | sport,
                         (tbl.ehash_secret + tbl.hash_mix) & 0xFFFFFFFF)
        assert sk is group[reciprocal_scale(h, 4)].sk
        got[id(sk)] = got.get(id(sk), 0) + 1
    assert len(got) == 4  # 40 flows reach all four sockets
    cli = udp(net.h1)
    cli.bind(("", 20000))
    cli.sendto(b"flow", (A2, 6100))
    net.settle()
    expect = tbl.lookup(0x0A000001, 20000, 0x0A000002, 6100)
    owners = [s for s in group if s.sk is expect]
    assert owners[0].recv(10) == b"flow"


# -- ephemeral ports ---------------------------------------------------------------------

def test_ephemeral_port_follows_udp_lib_get_port_with_the_host_rng() -> None:
    net = two_hosts()
    h = net.h1
    shadow = random.Random()
    shadow.setstate(h.rng.getstate())
    s = udp(h)
    s.sendto(b"x", (A2, 9))  # autobind
    low, high = 32768, 60999
    first = reciprocal_scale(shadow.getrandbits(32), high - low + 1) + low
    assert s.getsockname() == ("0.0.0.0", first)
    t = udp(h)
    t.bind(("", 0))
    assert low <= t.getsockname()[1] <= high


def test_ephemeral_range_exhausted() -> None:
    net = two_hosts()
    h = net.h1
    h.sysctl.set("net.ipv4.ip_local_port_range", "40000 40001")
    a, b, c = udp(h), udp(h), udp(h)
    a.bind(("", 0))
    b.sendto(b"x", (A2, 9))
    assert {a.getsockname()[1], b.getsockname()[1]} == {40000, 40001}
    with pytest.raises(OSError) as ei:
        c.bind(("", 0))
    assert ei.value.errno == errno.EADDRINUSE  # __inet_bind
    with pytest.raises(BlockingIOError):  # inet_autobind: -EAGAIN
        c.sendto(b"x", (A2, 9))
    freed = a.getsockname()[1]
    h.sysctl.set("net.ipv4.ip_local_reserved_ports", str(freed))
    a.close()
    with pytest.raises(OSError, match="Address already in use"):
        c.bind(("", 0))  # free, but reserved (inet_is_local_reserved_port)
    h.sysctl.set("net.ipv4.ip_local_reserved_ports", "")
    c.bind(("", 0))
    assert c.getsockname()[1] == freed


# -- errors from the network -------------------------------------------------------------

def test_port_unreachable_refuses_the_connected_socket_once() -> None:
    net = two_hosts()
    cli = udp(net.h1)
    cli.connect((A2, 9999))
    cli.send(b"anyone?")
    net.settle()
    assert net.h2.mib.udp.NoPorts == 1
    assert net.h2.drop_counts[SkbDropReason.NO_SOCKET] == 1
    assert net.h2.mib.icmpmsg[0x100 | 3] == 1  # OutType3
    assert net.h1.mib.icmp.InMsgs == 1
    with pytest.raises(ConnectionRefusedError) as ei:
        cli.send(b"again")
    assert ei.value.errno == errno.ECONNREFUSED
    assert net.h1.mib.udp.OutDatagrams == 1  # the failed send sent nothing
    assert cli.send(b"again") == 5  # the error was reported once and cleared
    net.settle()
    with pytest.raises(ConnectionRefusedError):
        cli.recv(100)  # recv reports it too


def test_port_unreachable_is_silent_for_unconnected_unless_recverr() -> None:
    net = two_hosts()
    cli = udp(net.h1)
    cli.sendto(b"x", (A2, 9999))
    net.settle()
    assert cli.sk.sk_err == 0
    cli.setsockopt(SOL_IP, IP_RECVERR, 1)
    cli.sendto(b"x", (A2, 9999))
    net.settle()
    assert cli.sk.sk_err == errno.ECONNREFUSED
    assert cli.getsockopt(SOL_SOCKET, 4) == errno.ECONNREFUSED  # SO_ERROR reads it
    assert cli.sk.sk_err == 0


def test_icmp_for_a_closed_socket_counts_icmp_in_errors() -> None:
    net = two_hosts()
    cli = udp(net.h1)
    cli.connect((A2, 9999))
    cli.send(b"x")
    cli.close()
    net.settle()
    assert net.h1.mib.icmp.InErrors == 1


# -- receive buffer ----------------------------------------------------------------------

def test_rcvbuf_overflow_counts_rcvbuf_errors_and_drop_reason() -> None:
    net = two_hosts()
    srv = udp(net.h2, rcvbuf=1)
    assert srv.getsockopt(SOL_SOCKET, SO_RCVBUF) == 2304  # SOCK_MIN_RCVBUF
    srv.bind(("", 7000))
    cli = udp(net.h1)
    fails: list[str] = []
    tp = net.h2.tracepoints["udp:udp_fail_queue_rcv_skb"]
    net.h2.tracepoints.subscribe("udp:udp_fail_queue_rcv_skb",
                                 lambda ev: fails.append(tp.format(ev.fields)))
    n = 10
    for i in range(n):
        cli.sendto(bytes([i]) * 100, (A2, 7000))
    net.settle()
    sk = srv.sk
    queued = len(sk.sk_receive_queue)
    truesize = sk.sk_receive_queue[0].truesize
    # __udp_enqueue_schedule_skb: refused once rmem already exceeds rcvbuf
    assert queued == 2304 // truesize + 1
    dropped = n - queued
    assert sk.sk_rmem_alloc == queued * truesize
    assert net.h2.mib.udp.RcvbufErrors == dropped
    assert net.h2.mib.udp.InErrors == dropped
    assert net.h2.drop_counts[SkbDropReason.SOCKET_RCVBUFF] == dropped
    assert sk.sk_drops == dropped
    port = cli.getsockname()[1]
    assert fails[0] == (f"family=AF_INET sport={port} dport=7000 saddr=10.0.0.1:{port} "
                        "daddr=10.0.0.2:7000 rc=-12")
    assert len(fails) == dropped
    line = proc_net_udp(net.h2).splitlines()[1]
    assert line.split()[-1] == str(dropped)
    assert line.split()[4] == f"00000000:{queued * truesize:08X}"
    got = [srv.recv(200)[0] for _ in range(queued)]
    assert got == list(range(queued))
    assert sk.sk_rmem_alloc == 0  # the reader queue ran dry: all memory released
    assert net.h2.mib.udp.InDatagrams == queued


def test_rmem_is_released_lazily_in_forward_deficit() -> None:
    net = two_hosts()
    srv = udp(net.h2)
    srv.bind(("", 7000))
    cli = udp(net.h1)
    for _ in range(4):
        cli.sendto(b"y" * 10, (A2, 7000))
    net.settle()
    sk = srv.sk
    ts = sk.sk_receive_queue[0].truesize
    srv.recv(100)
    # udp_rmem_release: less than rcvbuf/4 read and more queued: kept as a deficit
    assert sk.forward_deficit == ts
    assert sk.sk_rmem_alloc == 4 * ts
    assert sk.udp_rqueue_get() == 3 * ts
    srv.recv(100)
    srv.recv(100)
    srv.recv(100)
    assert (sk.forward_deficit, sk.sk_rmem_alloc) == (0, 0)
    assert 0 < sk.sk_forward_alloc <= 4096  # less than a page beyond the deficit


# -- checksums and malformed datagrams ---------------------------------------------------

def test_bad_checksum_is_dropped_at_read_time_and_counted() -> None:
    net = two_hosts()
    srv = udp(net.h2)
    srv.bind(("", 7000))
    bad = net.frame_to_h2(1234, 7000, b"corrupted")
    bad[-1] ^= 0xFF  # payload flipped after the checksum was computed
    net.inject_h2(bad)
    net.inject_h2(net.frame_to_h2(1234, 7000, b"good"))
    net.settle()
    assert net.h2.mib.udp.InCsumErrors == 0  # still queued, not yet verified
    assert srv.recvfrom(100) == (b"good", (A1, 1234))
    assert net.h2.mib.udp.InCsumErrors == 1
    assert net.h2.mib.udp.InErrors == 1
    assert net.h2.mib.udp.InDatagrams == 1
    assert net.h2.drop_counts[SkbDropReason.UDP_CSUM] == 1
    assert srv.sk.sk_drops == 1


def test_bad_checksum_without_socket_is_silent() -> None:
    net = two_hosts()
    bad = net.frame_to_h2(1234, 7001, b"x")
    bad[-1] ^= 0x01
    net.inject_h2(bad)
    net.settle()
    assert net.h2.mib.udp.InCsumErrors == 1
    assert net.h2.mib.udp.NoPorts == 0
    assert net.h2.mib.icmpmsg[0x100 | 3] == 0  # RFC 1122 4.1.3.4: no ICMP


def test_zero_checksum_means_none() -> None:
    net = two_hosts()
    srv = udp(net.h2)
    srv.bind(("", 7000))
    frame = net.frame_to_h2(1, 7000, b"no checksum", checksum=False)
    net.inject_h2(frame)
    assert srv.recv(100) == b"no checksum"
    assert net.h2.mib.udp.InCsumErrors == 0
    # SO_NO_CHECK sends zero checksums, which the receiver accepts
    cli = udp(net.h1)
    cli.setsockopt(SOL_SOCKET, SO_NO_CHECK, 1)
    captured: list[bytes] = []
    add_packet_tap(net.h2, lambda skb, dev: captured.append(bytes(skb.data)))
    cli.sendto(b"zero", (A2, 7000))
    assert srv.recv(100) == b"zero"
    udp_hdr = [c for c in captured if len(c) >= 28 and c[9] == 17][-1][20:28]
    assert udp_hdr[6:8] == b"\x00\x00"


def test_short_and_truncated_datagrams() -> None:
    net = two_hosts()
    srv = udp(net.h2)
    srv.bind(("", 7000))
    frame = net.frame_to_h2(1, 7000, b"abcdef", checksum=False)
    frame[14 + 20 + 4:14 + 20 + 6] = (100).to_bytes(2, "big")  # length beyond the packet
    net.inject_h2(frame)
    frame = net.frame_to_h2(1, 7000, b"abcdef", checksum=False)
    frame[14 + 20 + 4:14 + 20 + 6] = (7).to_bytes(2, "big")  # below the header size
    net.inject_h2(frame)
    frame = net.frame_to_h2(1, 7000, b"abcdef", checksum=False)
    frame[14 + 20 + 4:14 + 20 + 6] = (11).to_bytes(2, "big")  # shorter: trimmed to 3
    net.inject_h2(frame)
    net.settle()
    assert net.h2.drop_counts[SkbDropReason.PKT_TOO_SMALL] == 2
    assert net.h2.mib.udp.InErrors == 2
    assert srv.recv(100) == b"abc"


# -- sending -----------------------------------------------------------------------------

def test_datagram_size_limits() -> None:
    net = two_hosts()
    srv = udp(net.h2)
    srv.bind(("", 7000))
    srv.setsockopt(SOL_SOCKET, SO_RCVBUF, 1 << 20)
    cli = udp(net.h1)
    with pytest.raises(OSError) as ei:
        cli.sendto(bytes(65508), (A2, 7000))  # 65535 - 20 - 8 is the most
    assert ei.value.errno == errno.EMSGSIZE
    assert cli.sendto(bytes(65507), (A2, 7000)) == 65507  # fragmented on the way
    assert len(srv.recv(70000)) == 65507
    cli.setsockopt(SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    with pytest.raises(OSError, match="Message too long"):
        cli.sendto(bytes(1473), (A2, 7000))  # DF: 1500 - 28 at most
    assert cli.sendto(bytes(1472), (A2, 7000)) == 1472


def test_broadcast_needs_so_broadcast_and_unheard_broadcast_is_ignored_multi() -> None:
    net = two_hosts()
    cli = udp(net.h1)
    with pytest.raises(PermissionError):
        cli.sendto(b"all", ("10.0.0.255", 7000))
    cli.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)
    cli.sendto(b"nobody", ("10.0.0.255", 7000))
    net.settle()
    assert net.h2.mib.udp.IgnoredMulti == 1
    assert net.h2.mib.udp.NoPorts == 0
    a, b = udp(net.h2, reuseaddr=1), udp(net.h2, reuseaddr=1)
    a.bind(("", 7000))
    b.bind(("", 7000))
    cli.sendto(b"all", ("10.0.0.255", 7000))
    assert a.recv(10) == b"all"
    assert b.recv(10) == b"all"  # every matching socket gets a copy


def test_ip_header_follows_the_socket_options() -> None:
    net = two_hosts()
    srv = udp(net.h2)
    srv.bind(("", 7000))
    seen: list[bytes] = []

    def tap(skb: object, dev: object) -> None:  # IPv4/UDP headers arriving from h1
        data = bytes(skb.data[:20])  # type: ignore[attr-defined]
        if data[:1] == b"\x45" and data[9] == 17 and data[12:16] == bytes([10, 0, 0, 1]):
            seen.append(data)

    add_packet_tap(net.h2, tap)
    cli = udp(net.h1)
    cli.setsockopt(SOL_IP, IP_TTL, 7)
    cli.setsockopt(SOL_IP, IP_TOS, 0x10)
    cli.sendto(b"a", (A2, 7000))
    srv.recv(10)
    ttl, tos, frag = seen[-1][8], seen[-1][1], seen[-1][6:8]
    assert (ttl, tos) == (7, 0x10)
    assert frag == b"\x40\x00"  # IP_PMTUDISC_WANT and it fits: DF
    cli.setsockopt(SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    cli.sendto(b"a", (A2, 7000))
    srv.recv(10)
    assert seen[-1][4:6] == b"\x00\x00"  # DF, not ignore_df, no connected socket: 0
    conn = udp(net.h1)
    conn.setsockopt(SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    conn.connect((A2, 7000))
    ids = []
    for _ in range(3):
        conn.send(b"b")
        srv.recv(10)
        ids.append(int.from_bytes(seen[-1][4:6], "big"))
        assert seen[-1][8] == 64  # net.ipv4.ip_default_ttl
    # ip_select_ident: a connected socket numbers its DF datagrams from inet_id
    assert ids == [(conn.sk.inet_id - 2) & 0xFFFF, (conn.sk.inet_id - 1) & 0xFFFF,
                   conn.sk.inet_id]


def test_no_route() -> None:
    net = two_hosts()
    cli = udp(net.h1)
    with pytest.raises(OSError) as ei:
        cli.connect(("192.168.77.1", 53))
    assert ei.value.errno == errno.ENETUNREACH
    with pytest.raises(OSError, match="Network is unreachable"):
        cli.sendto(b"x", ("192.168.77.1", 53))
    assert net.h1.mib.ip.OutNoRoutes == 2
    assert cli.getsockname()[1] != 0  # connect autobound it first (inet_dgram_connect)


# -- /proc/net/udp -----------------------------------------------------------------------

_LINE = re.compile(r"^ {0,4}\d{1,5}: [0-9A-F]{8}:[0-9A-F]{4} [0-9A-F]{8}:[0-9A-F]{4} "
                   r"[0-9A-F]{2} [0-9A-F]{8}:[0-9A-F]{8} 00:00000000 00000000 +\d+ +\d+ "
                   r"\d+ \d+ [0-9a-f]{16} \d+ *$")


def test_proc_net_udp_has_the_sample_layout(reference_dir: Path) -> None:
    sample = (reference_dir / "samples" / "proc_net_udp.txt").read_text().splitlines()
    net = two_hosts()
    # the sample's two sockets: a server on 0.0.0.0:5353 with one unread datagram, and
    # a client on 127.0.0.1 connected to 127.0.0.1:5353
    srv = udp(net.h2)
    srv.bind(("", 5353))
    cli = udp(net.h2)
    cli.connect(("127.0.0.1", 5353))
    cli.send(b"x")
    net.settle()
    text = read_proc(net.h2, "/proc/net/udp")
    lines = text.splitlines()
    assert text.endswith("\n")
    assert lines[0] == sample[0]
    assert len(lines) == 3
    for got, want in zip(lines[1:], sample[1:], strict=True):
        assert len(got) == len(want) == 127
        assert _LINE.match(got), got
        assert _LINE.match(want), want
    tbl = udp_table(net.h2)
    by_port = {int(ln.split()[1].split(":")[1], 16): ln.split() for ln in lines[1:]}
    server = by_port[5353]
    assert server[0] == f"{tbl.slot(5353)}:"
    assert server[1:4] == ["00000000:14E9", "00000000:0000", "07"]
    assert server[4] == f"00000000:{srv.sk.sk_rmem_alloc:08X}"
    client = by_port[cli.getsockname()[1]]
    assert client[1] == f"0100007F:{cli.getsockname()[1]:04X}"
    assert client[2:4] == ["0100007F:14E9", "01"]
    assert client[9] == str(cli.sk.ino)
    slots = [int(ln.split(":")[0]) for ln in lines[1:]]
    assert slots == sorted(slots)  # bucket by bucket, as udp_get_first walks


def test_udp_protocol_answers_even_without_sockets() -> None:
    net = two_hosts()
    cli = udp(net.h1)
    cli.sendto(b"x", (A2, 1))
    net.settle(10 * MS)
    assert net.h2.mib.udp.NoPorts == 1
    assert net.h2.mib.ip.InUnknownProtos == 0
