"""TCP over the real IPv4 stack and simulated NICs (tests/_udpnet.py's two hosts):
inet_add_protocol delivery, route lookups for the source address and MSS, DF set."""

from __future__ import annotations

import contextlib
import random

from _udpnet import A2, MS, SEC, two_hosts

from tuxnet.tcp import proto
from tuxnet.tcp.ipv4 import tcp_v4_init
from tuxnet.tcp.netns import tcp_net
from tuxnet.wire.addr import ip_int


def test_transfer_over_ipv4_and_simnic() -> None:
    net = two_hosts(rate_bps=100_000_000, delay_ns=1 * MS)
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    lst = proto.tcp_v4_init_sock(net.h2)
    assert tcp_net(net.h2).get_port(lst, 80) == 0
    proto.inet_listen(lst, 10)
    c = proto.tcp_v4_init_sock(net.h1)
    proto.inet_stream_connect(c, ip_int(A2), 80, 5 * SEC)
    s = proto.inet_csk_accept(lst, 5 * SEC)
    assert c.inet_saddr == ip_int("10.0.0.1")  # chosen by the route
    assert c.mss_cache == 1448 and c.icsk_pmtu_cookie == 1500
    data = random.Random(3).randbytes(400_000)
    got = bytearray()

    def reader() -> None:
        with contextlib.suppress(BlockingIOError):
            got.extend(proto.tcp_recvmsg(s, 1 << 20, 0, 0))
        if len(got) < len(data):
            net.loop.call_later(1 * MS, reader)

    net.loop.call_later(1 * MS, reader)
    assert proto.tcp_sendmsg(c, data, 0, None) == len(data)
    net.settle(2 * SEC)
    assert bytes(got) == data
    assert net.h2.mib.ip.InDelivers >= net.h2.mib.tcp.InSegs > 250
    assert not net.h1.drop_counts and not net.h2.drop_counts
    proto.tcp_close(c)
    proto.tcp_close(s)
    net.settle(100 * MS)
    assert c.sk_state == s.sk_state == 7


def test_no_listener_draws_rst_over_ipv4() -> None:
    net = two_hosts()
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    c = proto.tcp_v4_init_sock(net.h1)
    try:
        proto.inet_stream_connect(c, ip_int(A2), 9, 5 * SEC)
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("connect should be refused")
    assert net.h2.mib.tcp.OutRsts == 1 and net.h1.mib.tcp.AttemptFails == 1


def test_bind_and_getname_through_the_socket_layer() -> None:
    import errno

    import pytest

    from tuxnet.socket.af_inet import inet_bind, inet_getname

    net = two_hosts()
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    lst = proto.tcp_v4_init_sock(net.h2)
    inet_bind(lst, ip_int(A2), 8080)
    proto.inet_listen(lst, 5)
    other = proto.tcp_v4_init_sock(net.h2)
    with pytest.raises(OSError) as exc:
        inet_bind(other, 0, 8080)
    assert exc.value.errno == errno.EADDRINUSE
    c = proto.tcp_v4_init_sock(net.h1)
    proto.inet_stream_connect(c, ip_int(A2), 8080, 5 * SEC)
    s = proto.inet_csk_accept(lst, 5 * SEC)
    assert inet_getname(s, True) == (ip_int("10.0.0.1"), c.inet_sport)
    assert inet_getname(c, True) == (ip_int(A2), 8080)
    assert inet_getname(s, False) == (ip_int(A2), 8080)
