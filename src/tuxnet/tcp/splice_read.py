"""splice() from a TCP socket into a pipe (net/ipv4/tcp.c: tcp_splice_read,
__tcp_splice_read, tcp_read_sock, tcp_splice_data_recv; net/core/skbuff.c:
skb_splice_bits).

The received bytes are not copied: each pipe buffer references (a page of) a received
skb's data. Reading stops at the urgent mark (tcp/urgent.py); when nothing can be
read although data is queued (only the urgent byte is left), the call returns 0
instead of waiting ("we do not want to loop. This might happen with URG data.").
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Protocol

from tuxnet.socket.core import sk_wait_event, sock_errno
from tuxnet.tcp.defs import RCV_SHUTDOWN, TCP_CLOSE, TCP_LISTEN, TCPHDR_FIN
from tuxnet.tcp.rcvbuf import tcp_rcv_space_adjust
from tuxnet.tcp.sock import tcp_cb
from tuxnet.tcp.urgent import tcp_urg_consumed

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["SplicePipe", "tcp_read_sock", "tcp_splice_read"]

_M32 = 0xFFFFFFFF


class SplicePipe(Protocol):
    """The pipe side: free slots and add_to_pipe (returns the bytes taken)."""

    def space(self) -> int: ...

    def push(self, view: memoryview) -> int: ...


def tcp_read_sock(sk: TcpSock, count: int, pipe: SplicePipe) -> int:
    """tcp_read_sock() with tcp_splice_data_recv as the actor: move up to ``count``
    in-order bytes from copied_seq into ``pipe``, never across the urgent mark;
    returns the bytes moved (0: nothing could be)."""
    from tuxnet.tcp.proto import _eat, tcp_cleanup_rbuf

    seq = sk.copied_seq
    copied = 0
    q = sk.sk_receive_queue
    while q and count > 0:
        skb = q[0]
        cb = tcp_cb(skb)
        offset = (seq - cb.seq) & _M32
        if offset < skb.len:
            length = skb.len - offset
            if sk.urg_data:  # stop reading at a patch of urgent data
                urg_offset = (sk.urg_seq - seq) & _M32
                if urg_offset < length:
                    length = urg_offset
                if not length:
                    break
            n = min(length, count)
            view = (skb.data[offset:offset + n] if not skb.data_len else
                    memoryview(skb.copy_bits(offset, n)))
            used = pipe.push(view)
            if used <= 0:
                break
            seq = (seq + used) & _M32
            copied += used
            count -= used
            if offset + used < skb.len:
                continue
        if cb.tcp_flags & TCPHDR_FIN:
            _eat(sk, skb)
            seq = (seq + 1) & _M32
            break
        _eat(sk, skb)
        sk.copied_seq = seq
    sk.copied_seq = seq
    tcp_urg_consumed(sk)
    tcp_rcv_space_adjust(sk)
    if copied > 0:
        tcp_cleanup_rbuf(sk, copied)
    return copied


def tcp_splice_read(sk: TcpSock, pipe: SplicePipe, length: int, timeo_ns: int | None,
                    nonblock_pipe: bool = False, wait: bool = True) -> int:
    """tcp_splice_read(): splice up to ``length`` received bytes into ``pipe``; waits
    for data unless ``timeo_ns`` is 0 (EAGAIN); 0 at end of stream or when only urgent
    data is queued. A full pipe ends the call (EAGAIN if nothing moved). ``wait=False``
    raises EAGAIN where a blocking call would sleep (a caller that waits itself)."""
    from tuxnet.tcp.proto import _recv_ready

    if sk.sk_state == TCP_LISTEN:
        raise sock_errno(errno.ENOTCONN)
    deadline = None if timeo_ns is None else sk.host.loop.now_ns() + timeo_ns
    spliced = 0
    while length:
        if not pipe.space():
            if spliced:
                break
            if nonblock_pipe or timeo_ns == 0:
                raise sock_errno(errno.EAGAIN)
            break
        ret = tcp_read_sock(sk, length, pipe)
        if not ret:
            if spliced:
                break
            if "SOCK_DONE" in sk.sock_flags:
                break
            if sk.sk_err:
                raise sock_errno(sk.sock_error())
            if sk.sk_shutdown & RCV_SHUTDOWN:
                break
            if sk.sk_state == TCP_CLOSE:
                raise sock_errno(errno.ENOTCONN)
            if timeo_ns == 0 or (deadline is not None and
                                 sk.host.loop.now_ns() >= deadline):
                raise sock_errno(errno.EAGAIN)
            if sk.sk_receive_queue:
                break  # only urgent data: do not loop
            if not wait:
                raise sock_errno(errno.EAGAIN)
            sk_wait_event(sk, _recv_ready(sk, sk.rcv_nxt), deadline, "splice")  # sk_wait_data
            continue
        length -= ret
        spliced += ret
        if not length or timeo_ns == 0:
            break
        if sk.sk_err or sk.sk_state == TCP_CLOSE or sk.sk_shutdown & RCV_SHUTDOWN:
            break
    return spliced
