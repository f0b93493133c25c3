"""Files and pipes for scripts (packetdrill's run_system_call.c: syscall_open,
syscall_sendfile, syscall_pipe, syscall_splice; file.c, pipe.c), emulated on the
runner's side: a script's world has a few files its shell lines create and the pipes it
opens, nothing from the real file system.

* ``/bin/rm -f PATH``, ``dd if=/dev/zero of=PATH bs=N count=M`` (and ``touch``) make
  the files (:func:`run_file_command`, called by the shell emulation);
* ``open(path, flags)`` opens one (ENOENT if the script did not create it);
* ``sendfile(sock, file, [offset], count)`` splices the file's pages into the socket
  (:meth:`tuxnet.socket.stream.StreamSocket.sendfile`'s path: page fragments over the
  file's buffer, MSG_MORE between pipefuls);
* ``pipe([r, w])`` makes a pipe of PIPE_DEF_BUFFERS slots; ``splice(sock, NULL, pipe_w,
  NULL, len, flags)`` moves received data into it (tcp_splice_read: the pipe buffers
  reference the received skbs' bytes), ``splice(pipe_r, NULL, sock, NULL, len, flags)``
  sends what the pipe holds (splice_to_socket, MSG_SPLICE_PAGES).
"""

from __future__ import annotations

import errno
import re
from collections import deque
from dataclasses import dataclass, field

from tuxnet.packetdrill.ast import Syscall
from tuxnet.packetdrill.sysbase import (
    Attempt,
    Errno,
    FdEntry,
    FdTable,
    Unsupported,
    expr_int,
    is_null,
)
from tuxnet.socket.consts import MSG_MORE
from tuxnet.socket.sendfile import PIPE_DEF_BUFFERS, splice_direct
from tuxnet.tcp.proto import tcp_sendmsg
from tuxnet.tcp.splice_read import tcp_splice_read

__all__ = ["FileCalls", "Pipe", "VirtualFile", "run_file_command"]

O_ACCMODE = 3
O_WRONLY = 1
O_CREAT = 0o100
O_TRUNC = 0o1000
O_NONBLOCK = 0o4000
SPLICE_F_NONBLOCK = 2
SPLICE_F_MORE = 4
PAGE_SIZE = 4096


@dataclass
class VirtualFile:
    """A regular file's contents (its page cache)."""

    data: bytearray = field(default_factory=bytearray)

    def getbuffer(self) -> memoryview:
        return memoryview(self.data)


@dataclass
class OpenFile:
    """An open file description: the file and the position."""

    file: VirtualFile
    pos: int = 0
    mode: str = "rb"


class Pipe:
    """struct pipe_inode_info: up to PIPE_DEF_BUFFERS buffers (slots), each a view of
    at most one page that references the data it was spliced from."""

    def __init__(self) -> None:
        self.bufs: deque[memoryview] = deque()
        self.readers = 1
        self.writers = 1

    def space(self) -> int:
        """Free slots (pipe_full: occupancy against max_usage)."""
        return PIPE_DEF_BUFFERS - len(self.bufs)

    def push(self, view: memoryview) -> int:
        """add_to_pipe: one slot per page; returns the bytes taken."""
        taken = 0
        while taken < len(view) and self.space():
            n = min(PAGE_SIZE, len(view) - taken)
            self.bufs.append(view[taken:taken + n])
            taken += n
        return taken

    def occupancy(self) -> int:
        return sum(len(b) for b in self.bufs)


@dataclass
class PipeEnd:
    pipe: Pipe
    write: bool


def run_file_command(words: list[str], state: dict[str, object]) -> bool:
    """Emulate ``rm -f``, ``dd if=/dev/zero of=...`` and ``touch`` on the script's files
    (``state["files"]``); False when ``words`` is not one of them."""
    prog = words[0].rsplit("/", 1)[-1] if words else ""
    files = state.get("files")
    if not isinstance(files, dict) or prog not in ("rm", "dd", "touch"):
        return False
    if prog == "rm":
        for w in words[1:]:
            if not w.startswith("-"):
                files.pop(w, None)
        return True
    if prog == "touch":
        for w in words[1:]:
            files.setdefault(w, VirtualFile())
        return True
    args = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    if args.get("if") != "/dev/zero" or "of" not in args:
        return False
    bs = _dd_size(args.get("bs", "512"))
    count = int(args.get("count", "0"))
    files[args["of"]] = VirtualFile(bytearray(bs * count))
    return True


def _dd_size(text: str) -> int:
    m = re.fullmatch(r"(\d+)([kKMG]?)", text)
    if m is None:
        raise Unsupported(f"unsupported: dd size {text!r}")
    mult = {"": 1, "k": 1024, "K": 1024, "M": 1 << 20, "G": 1 << 30}[m.group(2)]
    return int(m.group(1)) * mult


class FileCalls(FdTable):
    """open, sendfile, pipe and splice of :class:`~tuxnet.packetdrill.syscalls.Syscalls`."""

    files: dict[str, VirtualFile]

    def _new_fd(self, want: int, ent: FdEntry) -> int:
        fd = want if want >= 0 and want not in self.fds else max([2, *self.fds]) + 1
        self.fds[fd] = ent
        return fd

    def sys_open(self, call: Syscall) -> Attempt:
        path = call.args[0]
        if path.kind != "string":
            raise Unsupported("unsupported: open() path form")
        name = str(path.value)
        flags = expr_int(call.args[1])
        want = expr_int(call.result) if call.result.kind != "ellipsis" else -1

        def body() -> int:
            f = self.files.get(name)
            if f is None:
                if not flags & O_CREAT:
                    raise Errno(errno.ENOENT)
                f = self.files[name] = VirtualFile()
            if flags & O_TRUNC and flags & O_ACCMODE:
                del f.data[:]
            mode = "wb" if flags & O_ACCMODE == O_WRONLY else "rb"
            return self._new_fd(want, FdEntry(file=OpenFile(f, 0, mode),
                                              nonblock=bool(flags & O_NONBLOCK)))
        return Attempt(self._wrap(FdEntry(), body))

    def sys_sendfile(self, call: Syscall) -> Attempt:
        """do_sendfile(): the offset argument ``[N]`` is used (and not written back);
        ``NULL`` uses and advances the file position."""
        if len(call.args) < 4:
            raise Unsupported("unsupported: sendfile() form")
        ent, s = self.sock(call.args[0])
        _, fent = self.entry(call.args[1])
        off_e = call.args[2]
        count = expr_int(call.args[3])
        sent = [0]  # a blocking call that had to wait goes on where it stopped

        def body() -> int:
            of = fent.file
            if not isinstance(of, OpenFile):
                raise Errno(errno.EINVAL)  # no page cache to splice from
            if "r" not in of.mode:
                raise Errno(errno.EBADF)
            use_pos = is_null(off_e)
            offset = of.pos if use_pos else expr_int(off_e)
            if offset < 0:
                raise Errno(errno.EINVAL)
            pages = of.file.getbuffer()
            sk = s._sk

            def send(chunk: memoryview, off: int, more: bool) -> int:
                return tcp_sendmsg(sk, chunk, MSG_MORE if more else 0, 0, splice_off=off)
            try:
                n = splice_direct(pages, offset + sent[0], count - sent[0], send)
            except BlockingIOError:
                if sent[0] and ent.nonblock:
                    n = 0
                else:
                    raise
            sent[0] += n
            if sent[0] < count and n and not ent.nonblock and \
                    offset + sent[0] < len(pages):
                raise BlockingIOError(errno.EAGAIN, "sendfile")  # wait for room
            if use_pos:
                of.pos = offset + sent[0]
            return sent[0]
        return Attempt(self._wrap(ent, body), sk=s._sk)

    def sys_pipe(self, call: Syscall) -> Attempt:
        fds = call.args[0]
        if fds.kind != "list" or len(fds.items) != 2:
            raise Unsupported("unsupported: pipe() argument form")
        want = [expr_int(e) for e in fds.items]

        def body() -> int:
            p = Pipe()
            self._new_fd(want[0], FdEntry(pipe=PipeEnd(p, False)))
            self._new_fd(want[1], FdEntry(pipe=PipeEnd(p, True)))
            return 0
        return Attempt(self._wrap(FdEntry(), body))

    def sys_splice(self, call: Syscall) -> Attempt:
        if len(call.args) < 6:
            raise Unsupported("unsupported: splice() form")
        _, src = self.entry(call.args[0])
        _, dst = self.entry(call.args[2])
        length = expr_int(call.args[4])
        flags = expr_int(call.args[5])
        if not is_null(call.args[1]) or not is_null(call.args[3]):
            raise Unsupported("unsupported: splice() with offsets")
        if src.sock is not None and isinstance(dst.pipe, PipeEnd) and dst.pipe.write:
            s = src.sock
            pipe = dst.pipe.pipe

            def to_pipe() -> int:
                nonblock = src.nonblock or bool(flags & SPLICE_F_NONBLOCK)
                return tcp_splice_read(s._sk, pipe, length, 0 if src.nonblock else None,
                                       nonblock_pipe=nonblock, wait=False)
            return Attempt(self._wrap(src, to_pipe), sk=s._sk)
        if isinstance(src.pipe, PipeEnd) and not src.pipe.write and dst.sock is not None:
            d = dst.sock
            pipe = src.pipe.pipe

            def from_pipe() -> int:
                """splice_to_socket(): the pipe's buffers, sent as spliced pages, MSG_MORE
                on all but the last (or on all with SPLICE_F_MORE)."""
                views: list[memoryview] = []
                left = length
                for b in pipe.bufs:
                    if left <= 0:
                        break
                    views.append(b[:left])
                    left -= len(views[-1])
                sent = 0
                for i, v in enumerate(views):
                    more = MSG_MORE if flags & SPLICE_F_MORE or i < len(views) - 1 else 0
                    try:
                        n = tcp_sendmsg(d._sk, v, more, 0, splice_off=0)
                    except OSError:
                        if sent:
                            break
                        raise
                    sent += n
                    if n < len(v):
                        break
                left = sent
                while left:  # the socket took these: release the pipe buffers
                    b = pipe.bufs[0]
                    if len(b) <= left:
                        pipe.bufs.popleft()
                        left -= len(b)
                    else:
                        pipe.bufs[0] = b[left:]
                        left = 0
                return sent
            return Attempt(self._wrap(dst, from_pipe), sk=d._sk)
        raise Errno(errno.EINVAL)
