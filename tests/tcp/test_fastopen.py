"""TCP Fast Open (RFC 7413) between two simulated hosts: the first connection asks for
and caches a cookie, the second carries data in its SYN, which the server reads
before the handshake completes; invalid cookies, the fastopen queue limit,
TCP_FASTOPEN_CONNECT and the cookie function (SipHash-2-4, as Linux computes it)."""

from __future__ import annotations

import errno

import pytest
from _udpnet import MS, Net, two_hosts

from tuxnet.tcp import proto
from tuxnet.tcp.defs import TCP_ESTABLISHED, TCP_SYN_RECV, TCP_SYN_SENT
from tuxnet.tcp.fastopen import (
    TCP_FASTOPEN,
    TCP_FASTOPEN_CONNECT,
    TCP_FASTOPEN_KEY,
    FastopenCookie,
    siphash24,
    tcp_fastopen_cookie_gen_addrs,
    tcp_fastopen_getsockopt,
    tcp_fastopen_set_key,
    tcp_fastopen_setsockopt,
)
from tuxnet.tcp.fastopen_client import tcp_fastopen_cache_get
from tuxnet.tcp.ipv4 import tcp_v4_init
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.sock import TcpSock
from tuxnet.tcp.sockopt import tcp_get_info
from tuxnet.wire.addr import ip_int

SERVER = ip_int("10.0.0.2")
PORT = 5001
MSG_FASTOPEN = 0x20000000
TCPI_OPT_SYN_DATA = 32
KEY = "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4"


def _net(server_tfo: int = 0x3, qlen: int = 16) -> tuple[Net, TcpSock]:
    """Two hosts 10 ms apart; h2 listens on PORT with TCP_FASTOPEN (queue ``qlen``)."""
    net = two_hosts(delay_ns=10 * MS)
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    net.h2.sysctl.set("net.ipv4.tcp_fastopen", str(server_tfo))
    net.h2.sysctl.set("net.ipv4.tcp_fastopen_key", KEY)
    lst = proto.tcp_v4_init_sock(net.h2)
    assert tcp_net(net.h2).get_port(lst, PORT) == 0
    proto.inet_listen(lst, 8)
    tcp_fastopen_setsockopt(lst, TCP_FASTOPEN, qlen)
    return net, lst


def _fastopen_send(net: Net, data: bytes) -> tuple[TcpSock, int]:
    """sendto(MSG_FASTOPEN) from h1, non-blocking: (socket, bytes in the SYN)."""
    cli = proto.tcp_v4_init_sock(net.h1)
    try:
        n = proto.tcp_sendmsg(cli, data, MSG_FASTOPEN, 0, addr=(SERVER, PORT))
    except BlockingIOError as e:
        assert e.errno == errno.EINPROGRESS
        n = 0
    return cli, n


def _cookie_request(net: Net, lst: TcpSock) -> None:
    """A first connection: the SYN asks for a cookie and the SYN-ACK brings it."""
    cli, n = _fastopen_send(net, b"")
    assert n == 0 and cli.sk_state == TCP_SYN_SENT and cli.syn_fastopen
    net.settle(200 * MS)  # with the ARP exchange first
    assert cli.sk_state == TCP_ESTABLISHED
    srv = proto.inet_csk_accept(lst, 0)
    assert net.h2.mib.tcpext.TCPFastOpenCookieReqd == 1
    assert not tcp_get_info(cli)["tcpi_options"] & TCPI_OPT_SYN_DATA
    proto.tcp_close(cli)
    proto.tcp_close(srv)
    net.settle(100 * MS)


def test_cookie_then_data_in_syn_read_before_the_handshake_completes() -> None:
    net, lst = _net()
    _cookie_request(net, lst)
    # the client cached the server's cookie for this destination
    probe = proto.tcp_v4_init_sock(net.h1)
    probe.inet_saddr, probe.inet_daddr = ip_int("10.0.0.1"), SERVER
    cached = FastopenCookie(0)
    tcp_fastopen_cache_get(probe, cached)
    keys = (0xB2B2B2B2A1A1A1A1, 0xD4D4D4D4C3C3C3C3)
    assert cached.len == 8
    assert cached.val == tcp_fastopen_cookie_gen_addrs(keys, ip_int("10.0.0.1"), SERVER)

    cli, n = _fastopen_send(net, b"GET / HTTP/1.0\r\n\r\n")
    assert n == 18 and cli.syn_data
    net.settle(15 * MS)  # the SYN arrived; its SYN-ACK is still on the way back
    child = proto.inet_csk_accept(lst, 0)
    assert child.sk_state == TCP_SYN_RECV
    assert tcp_get_info(child)["tcpi_options"] & TCPI_OPT_SYN_DATA
    assert proto.tcp_recvmsg(child, 100, 0, 0) == b"GET / HTTP/1.0\r\n\r\n"
    assert net.h2.mib.tcpext.TCPFastOpenPassive == 1
    # the server answers before the handshake completes (a passive TFO child may send)
    assert proto.tcp_sendmsg(child, b"HTTP/1.0 200 OK\r\n", 0, 0) == 17
    net.settle(50 * MS)
    assert child.sk_state == TCP_ESTABLISHED and cli.sk_state == TCP_ESTABLISHED
    assert child.fastopen_rsk is None and lst.fastopenq is not None and lst.fastopenq.qlen == 0
    assert proto.tcp_recvmsg(cli, 100, 0, 0) == b"HTTP/1.0 200 OK\r\n"
    assert tcp_get_info(cli)["tcpi_options"] & TCPI_OPT_SYN_DATA
    assert net.h1.mib.tcpext.TCPFastOpenActive == 1
    assert net.h1.mib.tcp.RetransSegs == 0 and net.h2.mib.tcp.RetransSegs == 0


def test_invalid_cookie_falls_back_to_a_regular_handshake() -> None:
    net, lst = _net()
    _cookie_request(net, lst)
    net.h2.sysctl.set("net.ipv4.tcp_fastopen_key", "01-02-03-04")  # the server's key changed
    cli, n = _fastopen_send(net, b"hello")
    assert n == 5
    net.settle(15 * MS)
    assert not lst.icsk_accept_queue  # no child from the SYN
    net.settle(100 * MS)
    assert net.h2.mib.tcpext.TCPFastOpenPassiveFail == 1
    # the SYN-ACK acknowledged only the SYN: the client resent the data at once
    assert net.h1.mib.tcpext.TCPFastOpenActiveFail == 1
    srv = proto.inet_csk_accept(lst, 0)
    assert proto.tcp_recvmsg(srv, 100, 0, 0) == b"hello"
    assert not tcp_get_info(srv)["tcpi_options"] & TCPI_OPT_SYN_DATA
    assert tcp_get_info(cli)["tcpi_fastopen_client_fail"] == 2  # TFO_DATA_NOT_ACKED


def test_fastopen_queue_overflow() -> None:
    net, lst = _net(qlen=1)
    _cookie_request(net, lst)
    a, _ = _fastopen_send(net, b"a")
    b, _ = _fastopen_send(net, b"b")
    net.settle(15 * MS)
    assert net.h2.mib.tcpext.TCPFastOpenListenOverflow == 1
    assert net.h2.mib.tcpext.TCPFastOpenPassive == 1
    net.settle(200 * MS)
    assert a.sk_state == TCP_ESTABLISHED and b.sk_state == TCP_ESTABLISHED


def test_fastopen_connect_defers_the_syn_to_the_first_write() -> None:
    net, lst = _net()
    _cookie_request(net, lst)
    cli = proto.tcp_v4_init_sock(net.h1)
    tcp_fastopen_setsockopt(cli, TCP_FASTOPEN_CONNECT, 1)
    out_before = net.h1.mib.tcp.OutSegs
    proto.inet_stream_connect(cli, SERVER, PORT, 0)  # returns at once, no EINPROGRESS
    assert cli.sk_state == TCP_SYN_SENT and cli.defer_connect
    assert net.h1.mib.tcp.OutSegs == out_before  # no SYN yet
    assert proto.tcp_sendmsg(cli, b"data", 0, 0) == 4  # the SYN carries the write
    net.settle(50 * MS)
    srv = proto.inet_csk_accept(lst, 0)
    assert proto.tcp_recvmsg(srv, 10, 0, 0) == b"data"
    assert tcp_get_info(srv)["tcpi_options"] & TCPI_OPT_SYN_DATA


def test_client_fastopen_disabled() -> None:
    net, _lst = _net()
    net.h1.sysctl.set("net.ipv4.tcp_fastopen", "0")
    cli = proto.tcp_v4_init_sock(net.h1)
    with pytest.raises(OSError) as e:
        tcp_fastopen_setsockopt(cli, TCP_FASTOPEN_CONNECT, 1)
    assert e.value.errno == errno.EOPNOTSUPP
    with pytest.raises(OSError) as e:
        proto.tcp_sendmsg(cli, b"x", MSG_FASTOPEN, 0, addr=(SERVER, PORT))
    assert e.value.errno == errno.EOPNOTSUPP


def test_no_cookie_from_a_non_tfo_server_tries_the_experimental_option() -> None:
    net, lst = _net(server_tfo=0x1)  # the server side of TFO is off
    cli, _ = _fastopen_send(net, b"")
    assert not cli.syn_fastopen_exp  # RFC 7413 option 34 first
    net.settle(200 * MS)
    assert net.h2.mib.tcpext.TCPFastOpenCookieReqd == 1  # asked, but no cookie given
    assert cli.sk_state == TCP_ESTABLISHED
    cli2, n = _fastopen_send(net, b"data")
    assert n == 0 and cli2.syn_fastopen_exp  # next: the experimental option 254
    net.settle(200 * MS)
    assert net.h2.mib.tcpext.TCPFastOpenPassive == 0 and len(lst.icsk_accept_queue) == 2


def test_siphash_and_linux_cookie() -> None:
    # SipHash-2-4 reference vector (Aumasson & Bernstein, key 00..0f, empty input)
    k0 = int.from_bytes(bytes(range(8)), "little")
    k1 = int.from_bytes(bytes(range(8, 16)), "little")
    assert siphash24(k0, k1, b"") == 0x726FDB47DD0E0E31
    # the cookie Linux gives 192.0.2.1 -> 192.168.0.1 under defaults.sh's key
    # (packetdrill's run_all.py TFO_COOKIE for IPv4)
    keys = (0xB2B2B2B2A1A1A1A1, 0xD4D4D4D4C3C3C3C3)
    cookie = tcp_fastopen_cookie_gen_addrs(keys, ip_int("192.0.2.1"), ip_int("192.168.0.1"))
    assert cookie.hex() == "3021b9d889017eeb"


def test_listener_key_rotation_accepts_the_backup_key() -> None:
    net, lst = _net()
    k1 = bytes(range(16))
    k2 = bytes(range(16, 32))
    tcp_fastopen_set_key(lst, k1)
    _cookie_request(net, lst)
    tcp_fastopen_set_key(lst, k2 + k1)  # rotate: k2 primary, k1 still accepted
    assert tcp_fastopen_getsockopt(lst, TCP_FASTOPEN_KEY) == k2 + k1
    cli, n = _fastopen_send(net, b"x")
    assert n == 1
    net.settle(50 * MS)
    assert net.h2.mib.tcpext.TCPFastOpenPassive == 1
    assert net.h2.mib.tcpext.TCPFastOpenPassiveAltKey == 1
    # the SYN-ACK handed out the primary key's cookie, now cached by the client
    cached = FastopenCookie(0)
    tcp_fastopen_cache_get(cli, cached)
    primary = (int.from_bytes(k2[:8], "little"), int.from_bytes(k2[8:], "little"))
    assert cached.val == tcp_fastopen_cookie_gen_addrs(primary, ip_int("10.0.0.1"), SERVER)


def test_socket_api_sendto_msg_fastopen() -> None:
    """The same through tuxnet.socket: setsockopt(TCP_FASTOPEN), sendto(MSG_FASTOPEN)
    on blocking sockets (the call waits for the handshake), TCP_INFO's options."""
    from tuxnet.socket import AF_INET, SOCK_STREAM, SOL_TCP, TCP_INFO, socket
    from tuxnet.socket.stream import StreamSocket

    net = two_hosts(delay_ns=10 * MS)
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    net.h2.sysctl.set("net.ipv4.tcp_fastopen", "3")
    lst = socket(AF_INET, SOCK_STREAM, 0, host=net.h2)
    assert isinstance(lst, StreamSocket)
    lst.bind(("10.0.0.2", PORT))
    lst.listen(8)
    lst.setsockopt(SOL_TCP, TCP_FASTOPEN, 5)
    assert lst.getsockopt(SOL_TCP, TCP_FASTOPEN) == 5
    for payload, syn_data in ((b"first", False), (b"second", True)):
        cli = socket(AF_INET, SOCK_STREAM, 0, host=net.h1)
        assert isinstance(cli, StreamSocket)
        assert cli.sendto(payload, MSG_FASTOPEN, ("10.0.0.2", PORT)) == len(payload)
        srv, _ = lst.accept()
        assert srv.recv(100) == payload
        info = cli.getsockopt(SOL_TCP, TCP_INFO, 8)
        assert isinstance(info, bytes)
        assert bool(info[5] & TCPI_OPT_SYN_DATA) == syn_data  # tcpi_options
        cli.close()
        srv.close()
        net.settle(100 * MS)
