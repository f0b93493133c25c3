"""ECN in TCP (tcp/ecn.py, RFC 3168): negotiation by net.ipv4.tcp_ecn, ECT(0) on new
data only, the CE -> ECE -> CWR loop and the sender's cwnd reduction (CA_CWR), the
delivered-CE counters, TCP_INFO's ECN option bits, SYN fallback and IP_TOS."""

from __future__ import annotations

import struct

from _tcpwire import MS, SEC, Seg, Wire, pair

from tuxnet.host import Host
from tuxnet.socket.consts import IP_TOS, SOL_IP
from tuxnet.socket.sockopt import sock_setsockopt
from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CA_CWR, TCPI_OPT_ECN
from tuxnet.tcp.ecn import (
    INET_ECN_CE,
    INET_ECN_ECT_0,
    RTAX_FEATURE_ECN,
    TCP_ECN_DEMAND_CWR,
    TCP_ECN_OK,
)
from tuxnet.tcp.netns import RouteOutput, TcpDst, tcp_net
from tuxnet.tcp.sockopt import tcp_get_info

SYN, ACK, ECE, CWR = 0x02, 0x10, 0x40, 0x80


def _wire(client_ecn: int, server_ecn: int = 2, **kw: object) -> Wire:
    w = Wire(delay_ns=10 * MS, **kw)  # type: ignore[arg-type]
    w.a.sysctl.set("net.ipv4.tcp_ecn", client_ecn)
    w.b.sysctl.set("net.ipv4.tcp_ecn", server_ecn)
    return w


def test_negotiated_when_the_client_asks_and_the_server_accepts() -> None:
    w = _wire(1)  # the server keeps the default 2: accept, never ask
    c, s, _ = pair(w)
    syn, synack = (x for x in w.log if x.flags & SYN)
    assert syn.flags & (ECE | CWR) == ECE | CWR  # RFC 3168 6.1.1: an ECN-setup SYN
    assert synack.flags & (ECE | CWR) == ECE  # ECN-setup SYN-ACK: ECE, no CWR
    assert syn.tos & 3 == synack.tos & 3 == 0  # SYNs are never ECT
    assert c.ecn_flags & TCP_ECN_OK and s.ecn_flags & TCP_ECN_OK
    assert tcp_get_info(c)["tcpi_options"] & TCPI_OPT_ECN
    t0 = w.now()
    proto.tcp_sendmsg(c, bytes(3000), 0, 0)
    w.run(100 * MS)
    data = [x for x in w.sent("a") if x.t >= t0 and x.payload_len]
    acks = [x for x in w.sent("b") if x.t >= t0 and not x.payload_len]
    assert data and all(x.tos & 3 == INET_ECN_ECT_0 for x in data)  # 6.1.2: new data ECT
    assert acks and all(x.tos & 3 == 0 for x in acks)  # 6.1.4: pure ACKs Not-ECT


def test_not_negotiated_by_default_or_when_the_server_refuses() -> None:
    w = _wire(2)
    c, _s, _ = pair(w)
    assert not any(x.flags & (ECE | CWR) for x in w.log)
    assert not c.ecn_flags and not tcp_get_info(c)["tcpi_options"] & TCPI_OPT_ECN
    w = _wire(1, server_ecn=0)
    c, s, _ = pair(w)
    synack = next(x for x in w.log if x.flags & SYN and x.flags & ACK)
    assert not synack.flags & ECE and not c.ecn_flags and not s.ecn_flags
    t0 = w.now()
    proto.tcp_sendmsg(c, bytes(1000), 0, 0)
    w.run(50 * MS)
    assert all(x.tos & 3 == 0 for x in w.sent("a") if x.t >= t0)


def test_ce_is_echoed_until_cwr_and_the_sender_reduces_cwnd_once() -> None:
    marked: list[int] = []

    def mark(seg: Seg) -> int:  # a router marks the first data segment CE
        if seg.src == "a" and seg.payload_len and not marked:
            marked.append(seg.tcp.seq)
            return seg.tos | INET_ECN_CE
        return seg.tos

    w = _wire(1, mark=mark)
    c, s, _ = pair(w)
    cwnd0 = c.snd_cwnd
    t0 = w.now()
    proto.tcp_sendmsg(c, bytes(10 * c.mss_cache), 0, 0)
    w.run(15 * MS)  # the data has arrived, the ACKs are on their way
    assert s.ecn_flags & TCP_ECN_DEMAND_CWR
    assert all(x.flags & ECE for x in w.sent("b") if x.t >= t0)
    w.run(10 * MS)  # the ECE ACKs arrive: CWR state, cwnd cut once (CUBIC: x 0.7)
    assert c.icsk_ca_state == TCP_CA_CWR and c.snd_ssthresh == cwnd0 * 717 // 1024
    assert c.host.mib.tcpext.TCPDeliveredCE == c.delivered_ce > 0
    assert tcp_get_info(c)["tcpi_delivered_ce"] == c.delivered_ce
    t1 = w.now()
    proto.tcp_sendmsg(c, bytes(2 * c.mss_cache), 0, 0)
    w.run(200 * MS)
    new = [x for x in w.sent("a") if x.t >= t1 and x.payload_len]
    assert new[0].flags & CWR and not any(x.flags & CWR for x in new[1:])
    assert not s.ecn_flags & TCP_ECN_DEMAND_CWR  # CWR seen: the echo stops
    assert not w.sent("b")[-1].flags & ECE
    assert c.host.mib.tcp.RetransSegs == 0  # a reduction, not a loss


def test_ecn_syn_retransmission_falls_back_to_a_plain_syn() -> None:
    w = _wire(1)
    w.drop = lambda seg: seg.src == "a" and bool(seg.flags & SYN) and \
        len([x for x in w.log if x.flags & SYN and x.src == "a"]) == 1
    c, _s, _ = pair(w)
    syns = [x for x in w.sent("a") if x.flags & SYN]
    assert len(syns) == 2 and syns[0].flags & (ECE | CWR) and not syns[1].flags & (ECE | CWR)
    assert w.now() >= 1 * SEC  # the SYN went again after the initial RTO
    assert not c.ecn_flags  # RFC 3168 6.1.1.1: the SYN-ACK has no ECE now


def test_ip_tos_keeps_the_ecn_bits_of_a_stream_socket() -> None:
    w = _wire(1)
    c, _s, _ = pair(w)
    proto.tcp_sendmsg(c, bytes(100), 0, 0)  # ECT(0) now in the socket's TOS
    w.run(50 * MS)
    old_dst = c.dst
    sock_setsockopt(c, SOL_IP, IP_TOS, struct.pack("i", 0x10 | INET_ECN_CE))
    assert c.tos == 0x10 | INET_ECN_ECT_0
    t0 = w.now()
    proto.tcp_sendmsg(c, bytes(100), 0, 0)
    w.run(50 * MS)
    sent = [x for x in w.sent("a") if x.t >= t0 and x.payload_len]
    assert sent and sent[0].tos == 0x10 | INET_ECN_ECT_0
    assert c.dst is not old_dst  # sk_dst_reset: the route was looked up again


def test_route_feature_ecn_asks_without_the_sysctl() -> None:
    w = _wire(2, server_ecn=0)  # neither sysctl asks; both routes say "features ecn"
    for h in (w.a, w.b):
        tn = tcp_net(h)
        plain = tn.route_output

        def with_ecn(host: Host, daddr: int, saddr: int, oif: int, tos: int,
                     plain: RouteOutput = plain) -> TcpDst:
            dst = plain(host, daddr, saddr, oif, tos)
            dst.features = RTAX_FEATURE_ECN
            return dst

        tn.route_output = with_ecn
    c, s, _ = pair(w)
    syn, synack = (x for x in w.log if x.flags & SYN)
    assert syn.flags & (ECE | CWR) == ECE | CWR and synack.flags & (ECE | CWR) == ECE
    assert c.ecn_flags & TCP_ECN_OK and s.ecn_flags & TCP_ECN_OK
