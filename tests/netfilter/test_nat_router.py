"""NAT and stateful filtering end to end: real TCP connections (tuxnet.socket), UDP
and ICMP through a simulated router (tuxnet.scenarios.nat) in virtual time."""

from __future__ import annotations

import errno
import struct
from typing import Any

import pytest

from tuxnet.ipv4.inet import inet_add_raw_hook
from tuxnet.netfilter.conntrack import conntrack_dump, ct_net
from tuxnet.netfilter.ctseam import IPS_DST_NAT, IPS_SRC_NAT
from tuxnet.netfilter.tables import nf_net
from tuxnet.scenarios.nat import NatDemo, build_nat_router, iptables
from tuxnet.skb import SkBuff
from tuxnet.socket import AF_INET, SOCK_DGRAM, SOCK_NONBLOCK, SOCK_STREAM, socket
from tuxnet.wire.checksum import internet_checksum, ones_sum

SEC = 1_000_000_000


def _icmp_tap(host: Any) -> list[bytes]:
    got: list[bytes] = []

    def rcv(skb: SkBuff) -> None:
        got.append(bytes(skb.data))
        host.consume_skb(skb, "raw_rcv")

    inet_add_raw_hook(host, 1, rcv)
    return got


def _rule_pcnt(host: Any, table: str, chain: str) -> list[int]:
    return [r.pcnt for r in nf_net(host).tables[table].chains[chain].rules]


def test_masquerade_tcp_udp_icmp() -> None:
    chain = build_nat_router()
    r = chain.routers[0]
    icmp_seen = _icmp_tap(chain.sender)
    demo = NatDemo(chain)
    assert demo.peer[0] == "10.0.1.1"  # the server sees the router's address
    assert demo.request == b"GET / HTTP/1.0\r\n\r\n"
    assert demo.response == b"HTTP/1.0 200 OK\r\n\r\n"
    assert demo.udp_peer == ("10.0.1.1", 5353)  # unique: the port is kept
    assert demo.udp_answer == (b"answer", ("10.0.1.2", 53))
    echo_replies = [p for p in icmp_seen if p[20] == 0]
    assert len(echo_replies) == 1 and echo_replies[0][12:16] == bytes([10, 0, 1, 2])
    assert echo_replies[0][16:20] == bytes([10, 0, 0, 2])
    # the nat table saw each connection's first packet only
    assert _rule_pcnt(r, "nat", "POSTROUTING") == [3]
    entries = conntrack_dump(r)
    assert [e["proto_name"] for e in entries] == ["tcp", "udp", "icmp"]
    assert all(e["status"] & IPS_SRC_NAT for e in entries)
    tcp_e = entries[0]
    assert tcp_e["state"] == "ESTABLISHED" and tcp_e["assured"]
    assert tcp_e["reply"]["dst"] == "10.0.1.1"
    assert tcp_e["reply"]["dport"] == tcp_e["orig"]["sport"] == demo.client.getsockname()[1]


def test_ctstate_firewall_on_a_router() -> None:
    chain = build_nat_router(rules=(
        "-P FORWARD DROP",
        "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        "-A FORWARD -i eth0 -m conntrack --ctstate NEW -j ACCEPT",
        "-A FORWARD -m conntrack --ctstate INVALID -j DROP"))
    r = chain.routers[0]
    lst = socket(AF_INET, SOCK_STREAM, host=chain.dest)
    lst.bind(("10.0.1.2", 80))
    lst.listen(2)
    cli = socket(AF_INET, SOCK_STREAM, host=chain.sender)
    cli.connect(("10.0.1.2", 80))
    srv, peer = lst.accept()
    assert peer == cli.getsockname()  # no NAT rules: the client's own address
    cli.sendall(b"ping")
    assert srv.recv(10) == b"ping"
    # the other way round is NEW from eth1: dropped by the policy
    lst2 = socket(AF_INET, SOCK_STREAM, host=chain.sender)
    lst2.bind(("10.0.0.2", 22))
    lst2.listen(2)
    out = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, host=chain.dest)
    assert out.connect_ex(("10.0.0.2", 22)) == errno.EINPROGRESS
    chain.run(2 * SEC)
    assert out.getsockopt(1, 4) == 0  # SO_ERROR: still trying, nothing came back
    fwd = nf_net(r).tables["filter"].chains["FORWARD"]
    assert fwd.pcnt >= 2  # the SYN and its retransmission hit the policy
    counts = _rule_pcnt(r, "filter", "FORWARD")
    assert counts[1] == 1 and counts[0] >= 4  # one NEW from the LAN, the rest ESTABLISHED
    assert ct_net(r).count == 1  # the dropped SYN left no entry


def test_dnat_port_forward() -> None:
    chain = build_nat_router(rules=(
        "-t nat -A PREROUTING -i eth0 -p tcp --dport 8080 -j DNAT --to-destination "
        "10.0.1.2:80",))
    lst = socket(AF_INET, SOCK_STREAM, host=chain.dest)
    lst.bind(("10.0.1.2", 80))
    lst.listen(2)
    cli = socket(AF_INET, SOCK_STREAM, host=chain.sender)
    cli.connect(("10.0.0.1", 8080))
    srv, peer = lst.accept()
    assert peer == cli.getsockname() and cli.getpeername() == ("10.0.0.1", 8080)
    srv.sendall(b"x" * 5000)
    got = b""
    while len(got) < 5000:
        got += cli.recv(10000)
    assert got == b"x" * 5000
    e = conntrack_dump(chain.routers[0])[0]
    assert e["status"] & IPS_DST_NAT and e["reply"]["src"] == "10.0.1.2"
    assert e["reply"]["sport"] == 80 and e["orig"]["dport"] == 8080


def test_redirect_to_a_local_port() -> None:
    chain = build_nat_router(rules=(
        "-t nat -A PREROUTING -i eth0 -p tcp --dport 80 -j REDIRECT --to-ports 3128",))
    proxy = socket(AF_INET, SOCK_STREAM, host=chain.routers[0])
    proxy.bind(("0.0.0.0", 3128))
    proxy.listen(2)
    cli = socket(AF_INET, SOCK_STREAM, host=chain.sender)
    cli.connect(("10.0.1.2", 80))
    conn, peer = proxy.accept()
    # REDIRECT goes to the primary address of the receiving interface
    assert conn.getsockname() == ("10.0.0.1", 3128) and peer == cli.getsockname()
    conn.sendall(b"proxied")
    assert cli.recv(100) == b"proxied" and cli.getpeername() == ("10.0.1.2", 80)


def test_output_redirect_reroutes_to_loopback() -> None:
    chain = build_nat_router(rules=())
    s = chain.sender
    iptables(s, "-t nat -A OUTPUT -p tcp -d 10.0.1.2 --dport 80 -j REDIRECT --to-ports 8080")
    lst = socket(AF_INET, SOCK_STREAM, host=s)
    lst.bind(("127.0.0.1", 8080))
    lst.listen(2)
    cli = socket(AF_INET, SOCK_STREAM, host=s)
    cli.connect(("10.0.1.2", 80))
    conn, _peer = lst.accept()
    cli.sendall(b"local")
    assert conn.recv(10) == b"local"
    assert nf_net(chain.routers[0]).tables == {}  # nothing reached the router's rules


def test_snat_port_range_and_clash() -> None:
    chain = build_nat_router(rules=(
        "-t nat -A POSTROUTING -o eth1 -p udp -j SNAT --to-source 10.0.1.1:20000-20001",))
    r = chain.routers[0]
    srv = socket(AF_INET, SOCK_DGRAM, host=chain.dest)
    srv.bind(("10.0.1.2", 53))
    srv.setblocking(False)
    clients = []
    for port in (5001, 5002, 5003):
        c = socket(AF_INET, SOCK_DGRAM, host=chain.sender)
        c.bind(("10.0.0.2", port))
        c.sendto(b"q", ("10.0.1.2", 53))
        clients.append(c)
        chain.run(SEC // 100)
    seen = []
    while True:
        try:
            seen.append(srv.recvfrom(100)[1])
        except BlockingIOError:
            break
    assert sorted(p for _a, p in seen) == [20000, 20001]
    assert all(a == "10.0.1.1" for a, _p in seen)
    st = ct_net(r).stats[0]
    assert st.insert_failed == 1 and ct_net(r).count == 2  # the third found no port


def test_icmp_error_inner_headers_translated() -> None:
    chain = build_nat_router()
    icmp_seen = _icmp_tap(chain.sender)
    c = socket(AF_INET, SOCK_DGRAM, host=chain.sender)
    c.bind(("10.0.0.2", 5353))
    c.connect(("10.0.1.2", 9))  # nobody listens: dest answers port unreachable
    c.send(b"probe")
    chain.run(SEC // 10)
    with pytest.raises(ConnectionRefusedError):
        c.recv(100)
    errs = [p for p in icmp_seen if p[20] == 3]
    assert len(errs) == 1
    pkt = errs[0]
    assert internet_checksum(pkt[:20]) == 0 and ones_sum(pkt[20:]) == 0xFFFF
    assert pkt[12:16] == bytes([10, 0, 1, 2]) and pkt[16:20] == bytes([10, 0, 0, 2])
    inner = pkt[28:]
    assert internet_checksum(inner[:20]) == 0
    assert inner[12:16] == bytes([10, 0, 0, 2]) and inner[16:20] == bytes([10, 0, 1, 2])
    assert struct.unpack("!HH", inner[20:24]) == (5353, 9)
    udp_len = struct.unpack("!H", inner[24:26])[0]
    pseudo = (0x0A000002 + 0x0A000102 + 17 + udp_len)
    assert ones_sum(inner[20:20 + udp_len], pseudo) == 0xFFFF  # inner UDP checksum fixed
    assert ct_net(chain.routers[0]).stats[0].invalid == 0


def test_fragments_are_gathered_before_conntrack_and_nat() -> None:
    chain = build_nat_router()
    srv = socket(AF_INET, SOCK_DGRAM, host=chain.dest)
    srv.bind(("10.0.1.2", 7))
    cli = socket(AF_INET, SOCK_DGRAM, host=chain.sender)
    cli.bind(("10.0.0.2", 4000))
    payload = bytes(range(256)) * 16  # 4096 bytes: three fragments on a 1500 MTU
    cli.sendto(payload, ("10.0.1.2", 7))
    data, peer = srv.recvfrom(10000)
    assert data == payload and peer == ("10.0.1.1", 4000)
    r = chain.routers[0]
    assert r.mib.ip.ReasmOKs == 1  # gathered by the router's conntrack defrag
    assert r.mib.ip.FragCreates >= 3 and chain.dest.mib.ip.ReasmOKs == 1
    assert ct_net(r).stats[0].invalid == 0


def test_reject_rst_is_related_and_leaves_no_entry() -> None:
    chain = build_nat_router(rules=(
        "-t nat -A POSTROUTING -o eth1 -j MASQUERADE",
        "-A FORWARD -p tcp --dport 23 -j REJECT --reject-with tcp-reset"))
    r = chain.routers[0]
    cli = socket(AF_INET, SOCK_STREAM, host=chain.sender)
    with pytest.raises(ConnectionRefusedError):
        cli.connect(("10.0.1.2", 23))
    # the RST carries the rejected SYN's entry as RELATED_REPLY (nf_ct_attach): it is
    # seen by nat POSTROUTING (SRC manip not set up), and no entry is confirmed
    post = nf_net(r).tables["nat"].chains["POSTROUTING"]
    assert post.pcnt == 1 and post.rules[0].pcnt == 0
    assert ct_net(r).count == 0


def test_bulk_transfer_stays_in_window() -> None:
    """A real TCP transfer (window scaling, SACK, timestamps) through MASQUERADE with
    INVALID dropped: window tracking must accept every segment."""
    chain = build_nat_router(rules=(
        "-t nat -A POSTROUTING -o eth1 -j MASQUERADE",
        "-A FORWARD -m conntrack --ctstate INVALID -j DROP"))
    r = chain.routers[0]
    lst = socket(AF_INET, SOCK_STREAM, host=chain.dest)
    lst.bind(("10.0.1.2", 5001))
    lst.listen(2)
    cli = socket(AF_INET, SOCK_STREAM, host=chain.sender)
    cli.connect(("10.0.1.2", 5001))
    srv, _peer = lst.accept()
    blob = bytes(i * 7 & 0xFF for i in range(64 * 1024))
    got = b""
    for _ in range(4):
        cli.sendall(blob)
        want = len(got) + len(blob)
        while len(got) < want:
            got += srv.recv(65536)
    assert got == blob * 4
    cli.close()
    srv.close()
    chain.run(SEC)
    assert _rule_pcnt(r, "filter", "FORWARD") == [0]
    assert ct_net(r).stats[0].invalid == 0
    e = conntrack_dump(r)[0]
    assert e["state"] == "TIME_WAIT" and e["assured"]


def test_masquerade_entries_flushed_when_the_device_goes_down() -> None:
    from tuxnet.core.dev import dev_close

    chain = build_nat_router()
    NatDemo(chain)
    r = chain.routers[0]
    assert ct_net(r).count == 3
    dev_close(chain.nics["r1"]["eth1"])
    assert ct_net(r).count == 0


def test_host_firewall_established_only() -> None:
    chain = build_nat_router(rules=())
    s = chain.sender
    iptables(s, "-P INPUT DROP")
    iptables(s, "-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT")
    lst = socket(AF_INET, SOCK_STREAM, host=chain.dest)
    lst.bind(("10.0.1.2", 80))
    lst.listen(2)
    cli = socket(AF_INET, SOCK_STREAM, host=s)
    cli.connect(("10.0.1.2", 80))  # outbound: the replies are ESTABLISHED
    srv, _ = lst.accept()
    srv.sendall(b"reply")
    assert cli.recv(10) == b"reply"
    lst2 = socket(AF_INET, SOCK_STREAM, host=s)
    lst2.bind(("10.0.0.2", 2222))
    lst2.listen(2)
    inbound = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, host=chain.dest)
    inbound.connect_ex(("10.0.0.2", 2222))
    chain.run(2 * SEC)
    assert nf_net(s).tables["filter"].chains["INPUT"].pcnt >= 2  # SYNs hit the policy
    assert ct_net(s).count == 1  # only the outbound connection


def test_icmp_error_for_a_dnat_flow_is_translated_back() -> None:
    chain = build_nat_router(rules=(
        "-t nat -A PREROUTING -i eth0 -p udp --dport 5353 -j DNAT --to-destination "
        "10.0.1.2:9",))
    icmp_seen = _icmp_tap(chain.sender)
    c = socket(AF_INET, SOCK_DGRAM, host=chain.sender)
    c.connect(("10.0.0.1", 5353))
    c.send(b"probe")
    chain.run(SEC // 10)
    with pytest.raises(ConnectionRefusedError):  # the quoted datagram matches the socket
        c.recv(100)
    pkt = next(p for p in icmp_seen if p[20] == 3)
    assert pkt[12:16] == bytes([10, 0, 0, 1])  # from the address the client used
    inner = pkt[28:]
    assert inner[16:20] == bytes([10, 0, 0, 1]) and struct.unpack("!H", inner[22:24])[0] == 5353
    assert internet_checksum(pkt[:20]) == 0 and ones_sum(pkt[20:]) == 0xFFFF
