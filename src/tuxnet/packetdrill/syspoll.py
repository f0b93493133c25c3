"""poll() and epoll on script fds (run_system_call.c: syscall_poll, syscall_epoll_*):
readiness from tcp_poll; an edge-triggered item reports again only after its socket
was woken."""

from __future__ import annotations

import errno

from tuxnet.packetdrill.ast import Expr, Syscall
from tuxnet.packetdrill.symbols import SYMBOLS
from tuxnet.packetdrill.sysbase import Attempt, Errno, FdEntry, FdTable, expr_fields, expr_int
from tuxnet.tcp.proto import tcp_poll

__all__ = ["PollCalls"]

_POLL_ALWAYS = SYMBOLS["POLLERR"] | SYMBOLS["POLLHUP"] | SYMBOLS["POLLNVAL"]
_POLL_ALWAYS_EP = SYMBOLS["EPOLLERR"] | SYMBOLS["EPOLLHUP"]
# fs/eventpoll.c: EP_PRIVATE_BITS
_EP_PRIVATE_BITS = (SYMBOLS["EPOLLWAKEUP"] | SYMBOLS["EPOLLONESHOT"] | SYMBOLS["EPOLLET"]
                    | SYMBOLS["EPOLLEXCLUSIVE"])


class PollCalls(FdTable):
    """The poll/epoll calls of :class:`~tuxnet.packetdrill.syscalls.Syscalls`."""

    def sys_poll(self, call: Syscall) -> Attempt:
        pfds = call.args[0]
        timeout = expr_int(call.args[2])
        items = []
        for it in pfds.items:
            f = expr_fields(it)
            fd = expr_int(f["fd"])
            ent = self.fds.get(fd)
            items.append((fd, ent, expr_int(f.get("events", Expr("int", 0))),
                          f.get("revents")))
        got: list[int] = []
        sks = [ent.sock._sk for _, ent, _, _ in items if ent is not None and ent.sock]
        dummy = FdEntry(nonblock=timeout == 0)

        def body() -> int:
            got.clear()
            for _fd, ent, events, _ in items:
                mask = tcp_poll(ent.sock._sk) if ent is not None and ent.sock else 0x20
                got.append(mask & (events | _POLL_ALWAYS))
            n = sum(1 for g in got if g)
            if n == 0 and timeout != 0:
                raise BlockingIOError(errno.EAGAIN, "poll")
            return n

        def check() -> str:
            for (fd, _e, _ev, rexp), g in zip(items, got, strict=False):
                if rexp is not None and expr_int(rexp) != g:
                    return f"poll: fd {fd} revents: expected: {expr_int(rexp)} vs actual: {g}"
            return ""
        att = Attempt(self._wrap(dummy, body), sk=sks[0] if sks else None, check=check)
        att.extra["timeout_ms"] = timeout
        return att

    def sys_epoll_create(self, call: Syscall) -> Attempt:
        want = expr_int(call.result)

        def body() -> int:
            fd = want if want >= 0 and want not in self.fds else max([2, *self.fds]) + 1
            self.fds[fd] = FdEntry(epoll={})
            return fd
        return Attempt(self._wrap(FdEntry(), body))

    sys_epoll_create1 = sys_epoll_create

    def sys_epoll_ctl(self, call: Syscall) -> Attempt:
        _, ep = self.entry(call.args[0])
        op = expr_int(call.args[1])
        fd = expr_int(call.args[2])
        ev = expr_fields(call.args[3]) if call.args[3].kind == "struct" else {}

        def body() -> int:
            if ep.epoll is None:
                raise Errno(errno.EINVAL)
            target = self.fds.get(fd)
            if target is None or target.sock is None:
                raise Errno(errno.EBADF)
            if op == SYMBOLS["EPOLL_CTL_DEL"]:
                ep.epoll.pop(fd, None)
                return 0
            # do_epoll_ctl: EPOLLERR and EPOLLHUP are always watched
            events = (expr_int(ev["events"]) if "events" in ev else 0) | _POLL_ALWAYS_EP
            old = ep.epoll.get(fd)
            if op == SYMBOLS["EPOLL_CTL_MOD"]:
                if old is None:
                    raise Errno(errno.ENOENT)
                old[0], old[1] = events, 1  # ep_modify: queued again if ready now
                return 0
            if old is not None:
                raise Errno(errno.EEXIST)
            item = [events, 1]
            ep.epoll[fd] = item
            sk = target.sock._sk

            def edge() -> None:
                item[1] = 1
            sk.wq.append(edge)
            return 0
        return Attempt(self._wrap(FdEntry(), body))

    def sys_epoll_wait(self, call: Syscall) -> Attempt:
        epfd, ep = self.entry(call.args[0])
        timeout = expr_int(call.args[3])
        exp = call.args[1]
        got: list[tuple[int, int]] = []
        dummy = FdEntry(nonblock=timeout == 0)
        sks = [self.fds[fd].sock._sk for fd in (ep.epoll or {})  # type: ignore[union-attr]
               if fd in self.fds and self.fds[fd].sock is not None]

        def body() -> int:
            got.clear()
            for fd, item in (ep.epoll or {}).items():
                ent = self.fds.get(fd)
                if ent is None or ent.sock is None:
                    continue
                events = item[0]
                if not events & ~_EP_PRIVATE_BITS:
                    continue  # a fired EPOLLONESHOT item, disabled until EPOLL_CTL_MOD
                mask = tcp_poll(ent.sock._sk) & events
                et = events & SYMBOLS["EPOLLET"]
                if mask and (not et or item[1]):
                    got.append((fd, mask))
                    if et:
                        item[1] = 0
                    if events & SYMBOLS["EPOLLONESHOT"]:
                        item[0] = events & _EP_PRIVATE_BITS  # ep_send_events
            if not got and timeout != 0:
                raise BlockingIOError(errno.EAGAIN, "epoll_wait")
            return len(got)

        def check() -> str:
            if exp.kind != "struct" or not got:
                return ""
            f = expr_fields(exp)
            if "events" in f and expr_int(f["events"]) != got[0][1]:
                return f"epoll_wait: events: expected: {expr_int(f['events'])} vs actual: " \
                       f"{got[0][1]}"
            return ""
        del epfd
        att = Attempt(self._wrap(dummy, body), sk=sks[0] if sks else None, check=check)
        att.extra["timeout_ms"] = timeout
        return att
