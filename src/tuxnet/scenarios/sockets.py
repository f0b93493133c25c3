"""A host with sockets in many states, for ``tuxnet ss --scenario sockets``: the zoo the
reference ss samples were captured from, rebuilt on one tuxnet host in virtual time.

Host ``tuxnet``: ``lo`` (127.0.0.1/8) and ``eth0`` 10.50.0.1/24, a NIC with no cable
(nothing answers there). Through the BSD socket API (tuxnet.socket.socket):

* TCP listeners on 0.0.0.0:8080 (backlog 128) and 127.0.0.1:9090 (backlog 5);
* a connection to :8080 whose accepted end holds 1000 unread bytes (ESTAB, Recv-Q
  1000 on the server side);
* one whose client closed at once: the orphaned client waits in FIN-WAIT-2 (a timewait
  socket with substate FIN_WAIT2), the server end in CLOSE-WAIT with Recv-Q 1 (the
  FIN's sequence number: rcv_nxt - copied_seq);
* one closed by the client first, then by the server: the client side is in TIME-WAIT;
* a non-blocking connect to 10.50.0.2:9 that nothing answers: SYN-SENT, its SYN in
  the retransmit timer;
* UDP: a socket bound to 0.0.0.0:5353 with one unread datagram (UNCONN), and a
  connected one on 127.0.0.1 that sent it (ESTAB).

The sockets stay open (``SocketZoo.socks`` keeps them); the loop has run 0.4 s of
virtual time after the last step, so timers show time left.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuxnet.loop import SimLoop
from tuxnet.scenarios.routers import add_addr, add_nic, make_host
from tuxnet.socket.api import socket
from tuxnet.socket.consts import AF_INET, SOCK_DGRAM, SOCK_STREAM

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["SocketZoo", "build_sockets"]

_SETTLE_NS = 400_000_000


@dataclass
class SocketZoo:
    """The host and the open sockets (kept so they are not closed)."""

    host: Host
    socks: dict[str, Any] = field(default_factory=dict)


def _run(loop: SimLoop, ns: int) -> None:
    loop.run(until_ns=loop.now_ns() + ns)


def build_sockets(seed: int = 0) -> SocketZoo:
    """Build the host and its sockets (see the module doc)."""
    loop = SimLoop()
    host = make_host(loop, "tuxnet", seed)
    nic = add_nic(host, "eth0", mac=bytes.fromhex("020000000001"))
    add_addr(host, nic, "10.50.0.1/24")
    zoo = SocketZoo(host)
    s = zoo.socks

    def tcp() -> Any:
        return socket(AF_INET, SOCK_STREAM, host=host)

    s["listen8080"] = tcp()
    s["listen8080"].bind(("0.0.0.0", 8080))
    s["listen8080"].listen(128)
    s["listen9090"] = tcp()
    s["listen9090"].bind(("127.0.0.1", 9090))
    s["listen9090"].listen(5)
    # ESTAB with unread data on the server side
    s["c1"] = tcp()
    s["c1"].connect(("127.0.0.1", 8080))
    s["s1"], _ = s["listen8080"].accept()
    s["c1"].sendall(bytes(1000))
    # the client closes: FIN-WAIT-2 (orphan) / CLOSE-WAIT
    c2 = tcp()
    c2.connect(("127.0.0.1", 8080))
    s["s2"], _ = s["listen8080"].accept()
    c2.close()
    # client closes, then the server: the client is left in TIME-WAIT
    c3 = tcp()
    c3.connect(("127.0.0.1", 8080))
    s3, _ = s["listen8080"].accept()
    c3.close()
    _run(loop, 10_000_000)
    s3.close()
    # a SYN nobody answers
    s["syn"] = tcp()
    s["syn"].setblocking(False)
    err = s["syn"].connect_ex(("10.50.0.2", 9))
    if err not in (errno.EINPROGRESS, 0):
        raise OSError(err, "connect to 10.50.0.2:9")
    # UDP: an unconnected receiver with a datagram queued, and the connected sender
    s["udp_rx"] = socket(AF_INET, SOCK_DGRAM, host=host)
    s["udp_rx"].bind(("0.0.0.0", 5353))
    s["udp_tx"] = socket(AF_INET, SOCK_DGRAM, host=host)
    s["udp_tx"].connect(("127.0.0.1", 5353))
    s["udp_tx"].send(b"q" * 32)
    _run(loop, _SETTLE_NS)
    return zoo
