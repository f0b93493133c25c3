"""Script system calls on tuxnet sockets (packetdrill's run_system_call.c).

Each call is turned into an *attempt* function the runner calls; an attempt returns
``(result, errno)`` or raises :class:`WouldBlock` when a blocking call has to wait
(the runner retries it when the socket is woken). Script fds map to
:class:`tuxnet.socket.StreamSocket` objects (non-blocking underneath; O_NONBLOCK is the
script's view). Expected results and out-parameters are checked by the caller through
:meth:`Syscalls.run`'s return value.
"""

from __future__ import annotations

import contextlib
import errno
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.packetdrill.ast import Expr, Syscall
from tuxnet.packetdrill.cmsg import check_cmsgs
from tuxnet.packetdrill.symbols import SYMBOLS
from tuxnet.packetdrill.sysbase import (
    Attempt,
    Errno,
    FdEntry,
    SyscallFail,
    Unsupported,
    WouldBlock,
    expr_fields,
    expr_int,
    iov_len,
    iov_lens,
    is_null,
)
from tuxnet.packetdrill.sysfastopen import FastopenSend
from tuxnet.packetdrill.sysfile import FileCalls, VirtualFile
from tuxnet.packetdrill.syspoll import PollCalls
from tuxnet.socket import AF_INET, SOCK_STREAM, socket
from tuxnet.socket.stream import StreamSocket
from tuxnet.tcp.proto import tcp_get_info

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.tcp.sock import TcpSock

__all__ = ["Attempt", "FdEntry", "SyscallFail", "Syscalls", "Unsupported", "WouldBlock",
           "expr_int"]

O_RDWR = 2
O_NONBLOCK = 0o4000
SOCK_NONBLOCK = 0o4000
_MSGHDR_MAX_CONTROLLEN = 10240  # packetdrill's msg_control buffer


# the arguments each call needs (run_system_call.c: check_arg_count)
_ARITY = {"socket": 3, "bind": 3, "listen": 2, "accept": 3, "accept4": 3, "connect": 3,
          "read": 3, "write": 3, "send": 4, "sendto": 4, "recv": 4, "recvfrom": 4,
          "readv": 3, "writev": 3, "sendmsg": 3, "recvmsg": 3, "close": 1, "shutdown": 2,
          "fcntl": 2, "ioctl": 3, "setsockopt": 4, "getsockopt": 4, "poll": 3,
          "epoll_create": 1, "epoll_create1": 1, "epoll_ctl": 4, "epoll_wait": 4,
          "open": 2, "sendfile": 4, "pipe": 1, "splice": 6}


class Syscalls(PollCalls, FileCalls):
    """The fd table of one script run and the calls on it."""

    def __init__(self, host: Host, local_ip: str, remote_ip: str, bind_port: int,
                 connect_port: int) -> None:
        super().__init__()
        self.host = host
        self.local_ip = local_ip
        self.remote_ip = remote_ip
        self.bind_port = bind_port
        self.connect_port = connect_port
        self.under_test: int | None = None  # the fd whose TCP_INFO %{ }% blocks read
        self.start_ns = host.loop.now_ns()  # live time of script time 0 (timestamps)
        self.tolerance_us = 4000  # --tolerance_usecs, for scm_timestamping checks
        self.files: dict[str, VirtualFile] = {}  # what the script's shell lines created

    # -- helpers --------------------------------------------------------------------
    def tcp_info(self) -> dict[str, int] | None:
        """TCP_INFO of the socket under test (None before there is one)."""
        if self.under_test is None:
            return None
        ent = self.fds.get(self.under_test)
        if ent is None or ent.sock is None:
            return None
        return tcp_get_info(ent.sock._sk)

    def under_test_port(self) -> int:
        """The local port of the socket under test (0: none or not bound yet)."""
        ent = self.fds.get(self.under_test) if self.under_test is not None else None
        if ent is None or ent.sock is None:
            return 0
        port: int = ent.sock._sk.inet_num
        return port

    def close_all(self) -> None:
        """Close every fd still open at the end of the script (process exit)."""
        for ent in self.fds.values():
            if ent.sock is not None:
                with contextlib.suppress(OSError):
                    ent.sock.close()
        self.fds.clear()
    # -- the calls ------------------------------------------------------------------
    def prepare(self, call: Syscall) -> Attempt:
        """The attempt function of a script call (Unsupported for unknown calls)."""
        fn = getattr(self, "sys_" + call.name, None)
        if fn is None:
            raise Unsupported(f"unsupported: system call {call.name}()")
        want = _ARITY.get(call.name, 0)
        if len(call.args) < want:
            raise SyscallFail(f"{call.name}() needs {want} arguments, the script gives "
                              f"{len(call.args)}")
        try:
            att: Attempt = fn(call)
        except (KeyError, IndexError) as e:
            raise SyscallFail(f"{call.name}(): malformed argument ({e})") from None
        return att
    def sys_socket(self, call: Syscall) -> Attempt:
        a = call.args
        if len(a) < 3:
            raise Unsupported("unsupported: socket() form")
        family = AF_INET if a[0].kind == "ellipsis" else expr_int(a[0])
        stype = expr_int(a[1])
        if family != AF_INET:
            raise Unsupported("unsupported: socket family other than AF_INET")
        if stype & 0xF != SOCK_STREAM:
            raise Unsupported("unsupported: socket type other than SOCK_STREAM")
        want = expr_int(call.result) if call.result.kind != "ellipsis" else -1

        def body() -> int:
            s = socket(AF_INET, SOCK_STREAM, expr_int(a[2]), host=self.host)
            assert isinstance(s, StreamSocket)
            s.settimeout(0.0)
            fd = want if want >= 0 and want not in self.fds else max([2, *self.fds]) + 1
            self.fds[fd] = FdEntry(s, nonblock=bool(stype & SOCK_NONBLOCK))
            cur = self.fds.get(self.under_test) if self.under_test is not None else None
            if cur is None or cur.sock is None:  # none yet, or it was closed
                self.under_test = fd
            return fd
        return Attempt(self._wrap(FdEntry(), body))

    def sys_bind(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        return Attempt(self._wrap(ent, lambda: _call0(s.bind, (self.local_ip, self.bind_port))))

    def sys_listen(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        backlog = expr_int(call.args[1])
        return Attempt(self._wrap(ent, lambda: _call0(s.listen, backlog)))

    def sys_accept(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        want = expr_int(call.result) if call.result.kind != "ellipsis" else -1

        def body() -> int:
            child, _ = s.accept()
            child.settimeout(0.0)
            fd = want if want >= 0 and want not in self.fds else max([2, *self.fds]) + 1
            # the child inherits the listener's socket flags (sk_clone_lock)
            self.fds[fd] = FdEntry(child)
            self.under_test = fd
            return fd
        return Attempt(self._wrap(ent, body), sk=s._sk)

    sys_accept4 = sys_accept

    def sys_connect(self, call: Syscall) -> Attempt:
        fd, ent = self.entry(call.args[0])
        s = ent.sock
        if s is None:
            raise Errno(errno.ENOTSOCK)
        self.under_test = fd
        started = [False]

        def body() -> int:
            try:
                s.connect((self.remote_ip, self.connect_port))
            except BlockingIOError as e:
                if started[0] and not ent.nonblock and e.errno == errno.EALREADY:
                    raise
                started[0] = True
                raise
            return 0
        return Attempt(self._wrap(ent, body), sk=s._sk)

    def _send(self, call: Syscall, ent: FdEntry, s: StreamSocket, n: int,
              flags: int, buf: Expr | None = None, iov: list[int] | None = None,
              to: Expr | None = None) -> Attempt:
        if is_null(buf) and n > 0:
            return Attempt(lambda: (-1, errno.EFAULT))  # copy_from_user faults
        # each iovec element is its own zero-filled allocation (iovec_new: calloc)
        bufs = [bytearray(k) for k in iov] if iov is not None else [bytearray(n)]
        sent = [0]
        fo = FastopenSend(self, ent, s, b"".join(bufs), flags, to)
        if flags & SYMBOLS["MSG_FASTOPEN"]:
            fd = expr_int(call.args[0])  # a Fast Open send connects: the socket under test
            self.under_test = fd
        rest_flags = flags & ~SYMBOLS["MSG_FASTOPEN"]  # tcp_sendmsg_locked after connecting

        def body() -> int:
            if not fo.done:
                r = fo.step()
                if r is not None:
                    return r
                sent[0] = fo.copied_syn
            if n == 0:
                return s.sendmsg(bufs, (), rest_flags)
            while sent[0] < n:
                try:
                    sent[0] += s.sendmsg(_iov_from(bufs, sent[0]), (), rest_flags)
                except BlockingIOError:
                    if sent[0] and ent.nonblock:
                        return sent[0]
                    raise
            return sent[0]
        return Attempt(self._wrap(ent, body), sk=s._sk)

    def sys_write(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        return self._send(call, ent, s, expr_int(call.args[2]), 0, call.args[1])

    def sys_send(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        return self._send(call, ent, s, expr_int(call.args[2]), expr_int(call.args[3]),
                          call.args[1])

    def sys_sendto(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        to = call.args[4] if len(call.args) > 4 else None
        return self._send(call, ent, s, expr_int(call.args[2]), expr_int(call.args[3]),
                          call.args[1], to=to)

    def sys_writev(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        lens = iov_lens(call.args[1])
        return self._send(call, ent, s, sum(lens), 0, iov=lens)

    def sys_sendmsg(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        msg = expr_fields(call.args[1])
        iov = msg.get("msg_iov")
        lens = iov_lens(iov) if iov is not None else []
        return self._send(call, ent, s, sum(lens), expr_int(call.args[2]), iov=lens,
                          to=msg.get("msg_name"))

    def _recv(self, ent: FdEntry, s: StreamSocket, n: int, flags: int,
              got: list[int] | None = None, buf: Expr | None = None) -> Attempt:
        def body() -> int:
            if is_null(buf) and n > 0:
                if not ent.nonblock or _inq(s._sk) or s._sk.sk_shutdown & 1:
                    s.recv(n, flags | SYMBOLS["MSG_PEEK"])  # waits as the real read would
                raise Errno(errno.EFAULT)  # skb_copy_datagram_msg faults
            data = s.recv(n, flags) if n else b""
            if got is not None:
                got.append(len(data))
            return len(data)
        return Attempt(self._wrap(ent, body), sk=s._sk)

    def sys_read(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        return self._recv(ent, s, expr_int(call.args[2]), 0, buf=call.args[1])

    def sys_recv(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        return self._recv(ent, s, expr_int(call.args[2]), expr_int(call.args[3]), buf=call.args[1])

    sys_recvfrom = sys_recv

    def sys_readv(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        return self._recv(ent, s, iov_len(call.args[1]), 0)

    def sys_recvmsg(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        msg = expr_fields(call.args[1])
        iov = msg.get("msg_iov")
        n = iov_len(iov) if iov is not None else 0
        flags = expr_int(call.args[2])
        control = msg.get("msg_control")
        if flags & SYMBOLS["MSG_ERRQUEUE"]:
            return self._recv_errqueue(ent, s, n, flags, msg)
        att = self._recv(ent, s, n, flags)

        def check() -> str:
            if control is None or not control.items:
                return ""
            for c in control.items:
                f = expr_fields(c)
                if "cmsg_type" in f and expr_int(f["cmsg_type"]) == SYMBOLS["TCP_CM_INQ"]:
                    if not ent.inq:
                        return "recvmsg: expected a TCP_CM_INQ cmsg, none was returned"
                    want = expr_int(f["cmsg_data"])
                    have = _inq_hint(s._sk)
                    if want != have:
                        return f"recvmsg: TCP_CM_INQ: expected: {want} vs actual: {have}"
                else:
                    raise Unsupported("unsupported: recvmsg control message")
            return ""
        att.check = check
        return att

    def _recv_errqueue(self, ent: FdEntry, s: StreamSocket, n: int, flags: int,
                       msg: dict[str, Expr]) -> Attempt:
        """recvmsg(MSG_ERRQUEUE): never waits (ip_recv_error's EAGAIN); msg_flags and
        the control messages are compared with the script's."""
        got: list[tuple[list[tuple[int, int, bytes]], int]] = []

        def body() -> int:
            try:
                data, anc, mflags, _ = s.recvmsg(n, _MSGHDR_MAX_CONTROLLEN, flags)
            except BlockingIOError:
                raise Errno(errno.EAGAIN) from None
            got.append((anc, mflags))
            return len(data)

        def check() -> str:
            if not got:
                return ""
            anc, mflags = got[0]
            fl = msg.get("msg_flags")
            if fl is not None and expr_int(fl) != mflags:
                return f"Expected msg_flags 0x{expr_int(fl):08X} but got 0x{mflags:08X}"
            return check_cmsgs(msg.get("msg_control"), anc, self.start_ns,
                               self.tolerance_us)
        return Attempt(self._wrap(ent, body), sk=s._sk, check=check)

    def sys_close(self, call: Syscall) -> Attempt:
        fd, ent = self.entry(call.args[0])

        def body() -> int:
            del self.fds[fd]
            if ent.sock is not None:
                ent.sock.close()
            return 0
        return Attempt(self._wrap(ent, body))

    def sys_shutdown(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        how = expr_int(call.args[1])
        return Attempt(self._wrap(ent, lambda: _call0(s.shutdown, how)))

    def sys_fcntl(self, call: Syscall) -> Attempt:
        _, ent = self.entry(call.args[0])
        cmd = expr_int(call.args[1])

        def body() -> int:
            if cmd == SYMBOLS["F_GETFL"]:
                return O_RDWR | (O_NONBLOCK if ent.nonblock else 0)
            if cmd == SYMBOLS["F_SETFL"]:
                ent.nonblock = bool(expr_int(call.args[2]) & O_NONBLOCK)
                return 0
            raise Unsupported("unsupported: fcntl command")
        return Attempt(self._wrap(ent, body))

    def sys_ioctl(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        req = expr_int(call.args[1])
        if req != SYMBOLS["SIOCINQ"]:
            raise Unsupported("unsupported: ioctl request")
        want = expr_int(call.args[2])
        have: list[int] = []

        def body() -> int:
            if s._sk.sk_state == 10:  # TCP_LISTEN: tcp_ioctl's EINVAL
                raise Errno(errno.EINVAL)
            have.append(_inq(s._sk))
            return 0

        def check() -> str:
            if have and have[0] != want:
                return f"ioctl SIOCINQ: expected: {want} vs actual: {have[0]}"
            return ""
        return Attempt(self._wrap(ent, body), check=check)

    def sys_setsockopt(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        level = expr_int(call.args[1])
        opt = expr_int(call.args[2])
        val = call.args[3]
        if level == SYMBOLS["SOL_TCP"] and opt in (SYMBOLS["TCP_MD5SIG"],
                                                    SYMBOLS["TCP_MD5SIG_EXT"]):
            raise Unsupported("unsupported: TCP_MD5SIG")
        raw: int | bytes
        if val.kind == "struct":
            f = expr_fields(val)
            if "onoff" in f:
                linger = expr_int(f.get("linger", Expr("int", 0)))
                raw = struct.pack("=ii", expr_int(f["onoff"]), linger)
            else:
                raise Unsupported("unsupported: setsockopt struct")
        elif val.kind == "string":
            raw = str(val.value).encode() + b"\0"
        else:
            raw = expr_int(val)

        def body() -> int:
            if level == SYMBOLS["SOL_TCP"] and opt == SYMBOLS["TCP_INQ"]:
                ent.inq = bool(raw)
                return 0
            s.setsockopt(level, opt, raw)
            return 0
        return Attempt(self._wrap(ent, body))

    def sys_getsockopt(self, call: Syscall) -> Attempt:
        ent, s = self.sock(call.args[0])
        level = expr_int(call.args[1])
        opt = expr_int(call.args[2])
        want_e = call.args[3]
        got: list[int] = []

        def body() -> int:
            if level == SYMBOLS["SOL_TCP"] and opt == SYMBOLS["TCP_INQ"]:
                got.append(int(ent.inq))
                return 0
            v = s.getsockopt(level, opt)
            got.append(v if isinstance(v, int) else 0)
            return 0

        def check() -> str:
            if want_e.kind == "ellipsis" or not got:
                return ""
            want = expr_int(want_e)
            if got[0] != want:
                return f"getsockopt: expected: {want} vs actual: {got[0]}"
            return ""
        return Attempt(self._wrap(ent, body), check=check)


def _call0(fn: Callable[[Any], object], arg: Any) -> int:
    """Run a call that returns nothing on success: the syscall's 0."""
    fn(arg)
    return 0


def _iov_from(bufs: list[bytearray], skip: int) -> list[memoryview]:
    """The iovec left after ``skip`` bytes were sent (iov_iter_advance)."""
    out: list[memoryview] = []
    for b in bufs:
        if skip >= len(b):
            skip -= len(b)
            continue
        out.append(memoryview(b)[skip:])
        skip = 0
    return out


def _inq(sk: TcpSock) -> int:
    """tcp_inq() (SIOCINQ): rcv_nxt - copied_seq, minus the FIN once received."""
    if sk.sk_state in (2, 3):  # TCPF_SYN_SENT | TCPF_SYN_RECV
        return 0
    answ = (sk.rcv_nxt - sk.copied_seq) & 0xFFFFFFFF
    if answ and "SOCK_DONE" in sk.sock_flags:
        answ -= 1
    return answ


def _inq_hint(sk: TcpSock) -> int:
    """tcp_inq_hint() (TCP_CM_INQ): rcv_nxt - copied_seq, 1 at end of stream."""
    inq = (sk.rcv_nxt - sk.copied_seq) & 0xFFFFFFFF
    if inq == 0 and "SOCK_DONE" in sk.sock_flags:
        inq = 1
    return inq
