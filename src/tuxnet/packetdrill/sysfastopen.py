"""TCP Fast Open sends of script system calls: sendto/sendmsg(MSG_FASTOPEN) and the
first write after a deferred TCP_FASTOPEN_CONNECT connect() (tcp_sendmsg_fastopen).

Script sockets are non-blocking underneath; a blocking call is retried whenever its
socket is woken. tcp_sendmsg_fastopen connects and puts data in the SYN; on a blocking
fd Linux then waits in inet_wait_for_connect() (counting the writer in
sk_write_pending when data is left, so the SYN-ACK's ACK waits for that data) before
sending the rest. :class:`FastopenSend` reproduces that wait across retries.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from tuxnet.packetdrill.symbols import SYMBOLS
from tuxnet.packetdrill.sysbase import Errno, WouldBlock
from tuxnet.tcp.defs import TCP_CLOSE, TCPF_SYN_RECV, TCPF_SYN_SENT
from tuxnet.tcp.proto import SS_CONNECTED, SS_UNCONNECTED, tcp_disconnect, tcp_sendmsg
from tuxnet.wire.addr import ip_int

if TYPE_CHECKING:
    from tuxnet.packetdrill.ast import Expr
    from tuxnet.packetdrill.sysbase import FdEntry
    from tuxnet.packetdrill.syscalls import Syscalls
    from tuxnet.socket.stream import StreamSocket

__all__ = ["FastopenSend"]

_CONNECTING = TCPF_SYN_SENT | TCPF_SYN_RECV


class FastopenSend:
    """The Fast Open part of one send call; ``done`` once the regular send may go on
    (with ``copied_syn`` bytes already in the SYN)."""

    def __init__(self, calls: Syscalls, ent: FdEntry, s: StreamSocket, data: bytes,
                 flags: int, to: Expr | None) -> None:
        self.ent = ent
        self.s = s
        self.data = data
        self.flags = flags
        self.af_unspec = to is not None and to.kind == "word" and to.value == "AF_UNSPEC"
        self.addr = (ip_int(calls.remote_ip), calls.connect_port)
        self.done = False
        self.waiting = False
        self.copied_syn = 0
        self.bias = 0

    def step(self) -> int | None:
        """Try the call: its result, None to go on with a regular send, or WouldBlock."""
        sk = self.s._sk
        nonblock = self.ent.nonblock or bool(self.flags & SYMBOLS["MSG_DONTWAIT"])
        if self.waiting:
            return self._wait()
        if not (self.flags & SYMBOLS["MSG_FASTOPEN"] or sk.defer_connect):
            self.done = True
            return None
        try:
            # never waits: a blocking fd waits in _wait() instead
            copied = tcp_sendmsg(sk, self.data, self.flags, 0, addr=self.addr,
                                 af_unspec=self.af_unspec)
        except BlockingIOError as e:
            if nonblock or e.errno != errno.EINPROGRESS:
                raise
            copied = 0
        if nonblock or not (1 << sk.sk_state) & _CONNECTING:
            self.done = True
            return copied
        self.copied_syn = copied
        self.waiting = True
        # inet_wait_for_connect(sk, timeo, writebias): data left over is a pending write
        self.bias = 1 if copied < len(self.data) else 0
        sk.sk_write_pending += self.bias
        raise WouldBlock()

    def _wait(self) -> int | None:
        """The rest of __inet_stream_connect() once woken."""
        sk = self.s._sk
        if (1 << sk.sk_state) & _CONNECTING:
            raise WouldBlock()
        self.waiting = False
        sk.sk_write_pending -= self.bias
        self.bias = 0
        if sk.sk_state == TCP_CLOSE:
            # connect failed (RST, timeout): the data in the SYN does not count
            err = sk.sock_error() or errno.ECONNABORTED
            sk.sk_socket_state = SS_UNCONNECTED
            tcp_disconnect(sk)
            raise Errno(err)
        sk.sk_socket_state = SS_CONNECTED
        self.done = True
        if self.copied_syn >= len(self.data):
            return self.copied_syn
        return None
