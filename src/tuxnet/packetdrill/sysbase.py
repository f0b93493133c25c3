"""What every script system call shares (packetdrill's run_system_call.c): the fd
table, the attempt protocol (:class:`Attempt`, :class:`WouldBlock`), errors, and the
argument readers for :class:`~tuxnet.packetdrill.ast.Expr` trees."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuxnet.packetdrill.ast import Expr
from tuxnet.packetdrill.symbols import lookup
from tuxnet.socket.stream import StreamSocket

__all__ = ["Attempt", "Errno", "FdEntry", "FdTable", "SyscallFail", "Unsupported",
           "WouldBlock", "expr_fields", "expr_int", "iov_len", "iov_lens", "is_null"]


class WouldBlock(Exception):
    """A blocking call has to wait for its socket."""


class SyscallFail(Exception):
    """A mismatch between the script and what the call did."""


class Unsupported(Exception):
    """A call or argument tuxnet's interpreter does not emulate."""


@dataclass
class FdEntry:
    """A script fd: a TCP socket or an epoll instance."""

    sock: StreamSocket | None = None
    nonblock: bool = False
    inq: bool = False
    epoll: dict[int, list[int]] | None = None  # fd -> [events, pending-edge flag]
    file: Any = None  # an open file (packetdrill/sysfile.py)
    pipe: Any = None  # one end of a pipe


@dataclass
class Attempt:
    """A prepared call: ``fn`` tries it; ``sk`` is what a blocked call waits on;
    ``check`` verifies out-parameters after it returned."""

    fn: Callable[[], tuple[int, int]]
    sk: Any = None
    check: Callable[[], str] | None = None
    blocking: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def expr_int(e: Expr) -> int:
    """An integer argument (numbers, symbols, ``A|B``)."""
    if e.kind == "int" and isinstance(e.value, int):
        return e.value
    if e.kind == "word":
        v = lookup(str(e.value))
        if v is None:
            raise Unsupported(f"unsupported: unknown symbol {e.value}")
        return v
    if e.kind == "or":
        v = 0
        for it in e.items:
            v |= expr_int(it)
        return v
    if e.kind == "list" and len(e.items) == 1:
        return expr_int(e.items[0])
    if e.kind == "call" and e.name == "htons" and e.items:
        return expr_int(e.items[0])
    raise Unsupported(f"unsupported: argument of kind {e.kind}")


def expr_fields(e: Expr) -> dict[str, Expr]:
    out: dict[str, Expr] = {}
    for it in e.items:
        if it.kind == "field":
            out[it.name] = it.items[0]
    return out


def iov_lens(e: Expr) -> list[int]:
    """The element lengths of an iovec list ``[{..., 40}, {..., 100}]``."""
    lens: list[int] = []
    for it in e.items if e.kind == "list" else [e]:
        if it.kind != "struct" or len(it.items) != 2:
            raise Unsupported("unsupported: iovec form")
        lens.append(expr_int(it.items[1]))
    return lens


def iov_len(e: Expr) -> int:
    """Total length of an iovec list."""
    return sum(iov_lens(e))



def is_null(e: Expr | None) -> bool:
    """A NULL user buffer: ``NULL`` or a literal 0 where a buffer goes."""
    if e is None:
        return False
    return (e.kind == "word" and e.value == "NULL") or (e.kind == "int" and e.value == 0)


class Errno(Exception):
    def __init__(self, err: int) -> None:
        super().__init__(err)
        self.err = err



class FdTable:
    """Script fds and the lookups every call starts with."""

    def __init__(self) -> None:
        self.fds: dict[int, FdEntry] = {}

    def entry(self, e: Expr) -> tuple[int, FdEntry]:
        fd = expr_int(e)
        ent = self.fds.get(fd)
        if ent is None:
            raise Errno(errno.EBADF)
        return fd, ent

    def sock(self, e: Expr) -> tuple[FdEntry, StreamSocket]:
        _, ent = self.entry(e)
        if ent.sock is None:
            raise Errno(errno.ENOTSOCK)
        return ent, ent.sock

    @staticmethod
    def _wrap(ent: FdEntry, body: Callable[[], int]) -> Callable[[], tuple[int, int]]:
        def attempt() -> tuple[int, int]:
            try:
                return body(), 0
            except Errno as e:
                return -1, e.err
            except BlockingIOError as e:
                if ent.nonblock:
                    return -1, e.errno or errno.EAGAIN
                raise WouldBlock() from None
            except OSError as e:
                return -1, e.errno or errno.EIO
        return attempt
