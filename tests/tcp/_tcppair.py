"""Two simulated hosts (tests/_udpnet.py: SimNic eth0 each, h1 10.0.0.1, h2 10.0.0.2)
and a connected TCP socket pair between them, for the zerocopy/sendfile tests."""

from __future__ import annotations

from _udpnet import A2, MS, Net, recv_exactly, two_hosts

from tuxnet.socket import AF_INET, SOCK_STREAM, socket
from tuxnet.socket.stream import StreamSocket
from tuxnet.tcp.ipv4 import tcp_v4_init

__all__ = ["pair", "recv_exactly"]


def pair(port: int = 5000, *, loss: float = 0.0, seed: int = 1,
         rate_bps: int = 1_000_000_000,
         delay_ns: int = 1 * MS) -> tuple[Net, StreamSocket, StreamSocket]:
    """(net, client on h1, accepted socket on h2) over a link of ``rate_bps`` and
    ``delay_ns`` (1 Gbit/s, 1 ms)."""
    net = two_hosts(rate_bps=rate_bps, delay_ns=delay_ns, loss=loss, seed=seed)
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    lst = socket(AF_INET, SOCK_STREAM, host=net.h2)
    assert isinstance(lst, StreamSocket)
    lst.bind((A2, port))
    lst.listen(8)
    cli = socket(AF_INET, SOCK_STREAM, host=net.h1)
    assert isinstance(cli, StreamSocket)
    cli.connect((A2, port))
    srv, _ = lst.accept()
    lst.close()
    return net, cli, srv
