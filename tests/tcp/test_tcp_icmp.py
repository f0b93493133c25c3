"""ICMP errors quoting our segments (tcp_v4_err): PMTU discovery lowers the MSS and
resends at once, hard errors abort a handshake, out-of-window quotes are ignored."""

from __future__ import annotations

import errno
import struct

import pytest
from _tcpwire import MS, SEC, A, B, Wire, pair

from tuxnet.host import Host
from tuxnet.skb import alloc_skb
from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_CLOSE, TCP_ESTABLISHED
from tuxnet.tcp.icmp_err import tcp_v4_err
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.sock import TcpSock


def _icmp(host: Host, sk: TcpSock, icmp_type: int, code: int, seq: int, info: int = 0) -> None:
    """What icmp_rcv hands the err_handler: the ICMP header at the transport header,
    data at the quoted IPv4 header + 8 bytes of our TCP header."""
    skb = alloc_skb(128)
    skb.reserve(32)
    skb.put_data(struct.pack("!BBHI", icmp_type, code, 0, info))
    skb.reset_transport_header()
    skb.pull(8)
    skb.put_data(struct.pack("!BBHHHBBHII", 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                             sk.inet_saddr, sk.inet_daddr))
    skb.put_data(struct.pack("!HHI", sk.inet_sport, sk.inet_dport, seq))
    tcp_v4_err(host, skb, info)


def test_frag_needed_lowers_mss_and_resends() -> None:
    w = Wire(delay_ns=5 * MS)
    c, s, _ = pair(w)
    tcp_net(w.a).update_pmtu = lambda host, skb, mtu: setattr(w, "mtu", mtu)
    w.drop = lambda seg: seg.src == "a" and seg.payload_len > 1000 - 52
    proto.tcp_sendmsg(c, bytes(4 * 1448), 0, 0)
    w.run(1 * MS)
    _icmp(w.a, c, 3, 4, c.snd_una, 1000)  # frag needed, next-hop MTU 1000
    assert c.mss_cache == 1000 - 40 - 12
    w.drop = None
    w.run(200 * MS)
    assert proto.tcp_recvmsg(s, 1 << 20, 0, 0) == bytes(4 * 1448)
    assert w.a.mib.tcpext.TCPTimeouts == 0  # resent at once, not after an RTO
    assert max(x.payload_len for x in w.sent("a")[-8:]) <= 948


def test_port_unreachable_aborts_a_handshake() -> None:
    w = Wire(drop=lambda seg: True)
    c = proto.tcp_v4_init_sock(w.a)
    with pytest.raises(BlockingIOError):
        proto.inet_stream_connect(c, B, 8080, 0)
    _icmp(w.a, c, 3, 3, c.snd_una)
    assert c.sk_state == TCP_CLOSE and c.sk_err == errno.ECONNREFUSED
    c2 = proto.tcp_v4_init_sock(w.a)
    with pytest.raises(BlockingIOError):
        proto.inet_stream_connect(c2, B, 8080, 0)
    _icmp(w.a, c2, 3, 1, c2.snd_una)  # host unreachable: soft, the SYN is retried
    assert c2.sk_err_soft == errno.EHOSTUNREACH and c2.sk_state != TCP_CLOSE
    with pytest.raises(OSError) as exc:
        proto.inet_stream_connect(c2, B, 8080, 200 * SEC)
    assert exc.value.errno == errno.EHOSTUNREACH  # the timeout reports the soft error


def test_out_of_window_quote_is_ignored() -> None:
    w = Wire()
    c, s, _ = pair(w)
    _icmp(w.a, c, 3, 3, c.snd_una + 100_000)
    assert c.sk_state == TCP_ESTABLISHED and w.a.mib.tcpext.OutOfWindowIcmps == 1
    _icmp(w.a, c, 3, 3, c.snd_una)  # in window, established: a soft error only
    assert c.sk_state == TCP_ESTABLISHED and c.sk_err_soft == errno.ECONNREFUSED
    _ = (A, s)
