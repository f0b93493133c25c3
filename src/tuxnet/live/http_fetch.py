"""``tuxnet live --fetch URL --output FILE``: one HTTP/1.1 GET from the live host to a
server on the kernel's side, the body streamed into FILE (RFC 9112 message syntax).

:class:`HttpFetch` is a non-blocking state machine on a ``SOCK_STREAM`` socket,
woken through the socket's wait queue like the services: connect, send the request,
read the status line and headers, then the body, delimited by Content-Length, by
chunked transfer coding (RFC 9112 7.1), or by the end of the connection. Each piece
received is written to the file at once; nothing larger than one receive is held.
A status other than 2xx, a refused or reset connection, a malformed response, a body
cut short, or no progress for ``timeout`` seconds end it with an error message.
``done(ok)`` is called once at the end.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tuxnet.loop.soon import SoonOnce
from tuxnet.socket.core import remove_wait_queue

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.loop.real import RealLoop
    from tuxnet.socket.stream import StreamSocket
    from tuxnet.tcp.sock import TcpSock

__all__ = ["FetchError", "HttpFetch", "parse_url"]

RECV_CHUNK = 256 * 1024
MAX_HEAD = 65536  # bytes of status line + headers before "response header too large"
_EPOLLOUT = 0x4
_EPOLLERR = 0x8
_EPOLLHUP = 0x10
_CHECK_NS = 250_000_000  # how often the idle timer looks at the last progress


class FetchError(Exception):
    """A URL that cannot be fetched (bad syntax, unsupported scheme, no address)."""


def parse_url(url: str) -> tuple[str, int, str]:
    """``http://A.B.C.D[:PORT][/PATH]`` -> (address, port, request target)."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise FetchError(f"{url!r}: only http:// URLs are supported")
    host = parts.hostname or ""
    octets = host.split(".")
    if len(octets) != 4 or not all(o.isdigit() and int(o) < 256 for o in octets):
        raise FetchError(f"{url!r}: the host must be an IPv4 address (tuxnet has no "
                         "resolver)")
    try:
        port = parts.port
    except ValueError:
        raise FetchError(f"{url!r}: bad port") from None
    if port is None:
        port = 80
    elif port == 0:
        raise FetchError(f"{url!r}: bad port 0")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return host, port, target


class HttpFetch:
    """One GET (see the module doc). ``bytes`` counts body bytes written, ``status``
    is the response status (0 before it), ``error`` the message when it failed."""

    def __init__(self, host: Host, loop: RealLoop, url: str, output: str, *,
                 timeout: float = 30.0, done: Callable[[bool], object] | None = None
                 ) -> None:
        from tuxnet import socket as tsocket
        from tuxnet.socket.stream import StreamSocket

        self.url = url
        self.addr, self.port, self.target = parse_url(url)
        self.output = output
        self.loop = loop
        self.timeout_ns = int(timeout * 1e9)
        self._done_cb = done
        self.status = 0
        self.reason = ""
        self.bytes = 0
        self.error = ""
        self.finished = False
        self.started_ns = loop.now_ns()
        self.finished_ns = 0
        self._last_ns = self.started_ns
        self._fd = -1
        self._state = "connect"
        self._buf = bytearray()
        self._out = memoryview(b"")
        self._length: int | None = None  # body bytes left (Content-Length)
        self._chunked = False
        self._chunk_left = 0  # bytes left of the current chunk (chunked)
        self._wake = SoonOnce(loop, self._run, lambda: not self.finished)
        sock = tsocket.socket(tsocket.AF_INET, tsocket.SOCK_STREAM, host=host)
        assert isinstance(sock, StreamSocket)
        sock.setblocking(False)
        self._sock: StreamSocket = sock
        self._sk: TcpSock = sock._sk
        self._sk.wq.append(self._wake)
        host_hdr = self.addr if self.port == 80 else f"{self.addr}:{self.port}"
        self._out = memoryview(
            f"GET {self.target} HTTP/1.1\r\nHost: {host_hdr}\r\nUser-Agent: tuxnet\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n".encode())
        self._timer = loop.call_later(_CHECK_NS, self._check_idle)
        try:
            sock.connect((self.addr, self.port))
        except BlockingIOError:
            pass
        except OSError as exc:
            loop.call_soon(self._fail, f"connect: {exc.strerror or exc}")
            return
        self._wake()

    # -- wake-ups ---------------------------------------------------------------------
    def _check_idle(self) -> None:
        if self.finished:
            return
        if self.loop.now_ns() - self._last_ns >= self.timeout_ns:
            what = "connecting" if self._state == "connect" else "waiting for data"
            self._fail(f"timed out {what} ({self.timeout_ns / 1e9:g} s without progress)")
            return
        self._timer = self.loop.call_later(_CHECK_NS, self._check_idle)

    def _run(self) -> None:
        if self.finished:
            return
        try:
            self._step()
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED:
                self._fail("connection refused")
            elif exc.errno == errno.ECONNRESET:
                self._fail("connection reset by peer")
            else:
                self._fail(exc.strerror or str(exc))

    # -- the state machine ------------------------------------------------------------
    def _step(self) -> None:
        from tuxnet.socket.consts import SO_ERROR, SOL_SOCKET
        from tuxnet.tcp.sockopt import tcp_poll

        sock = self._sock
        if self._state == "connect":
            mask = tcp_poll(self._sk)
            if mask & _EPOLLERR or (mask & _EPOLLHUP and not mask & _EPOLLOUT):
                err = int(sock.getsockopt(SOL_SOCKET, SO_ERROR)) or errno.ECONNREFUSED
                raise OSError(err, os.strerror(err))
            if not mask & _EPOLLOUT:
                return
            self._state = "request"
            self._last_ns = self.loop.now_ns()
        if self._state == "request":
            while self._out:
                try:
                    n = sock.send(self._out)
                except BlockingIOError:
                    return
                self._out = self._out[n:]
            self._state = "head"
        while not self.finished:
            try:
                data = sock.recv(RECV_CHUNK)
            except BlockingIOError:
                return
            self._last_ns = self.loop.now_ns()
            if not data:
                self._eof()
                return
            if self._state == "head":
                self._buf += data
                self._parse_head()
            else:
                self._body(data)

    def _parse_head(self) -> None:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self._fail("response header too large")
            return
        head = bytes(buf[:end]).decode("latin-1")
        rest = bytes(buf[end + 4:])
        buf.clear()
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not (
                parts[1].isdigit() and len(parts[1]) == 3):
            self._fail(f"not an HTTP/1.x response: {lines[0][:80]!r}")
            return
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        if 100 <= self.status < 200:  # an interim response (RFC 9110 15.2): skip it
            self.status = 0
            self._buf += rest
            self._parse_head()
            return
        if not 200 <= self.status < 300:
            self._fail(f"HTTP {self.status} {self.reason}".rstrip())
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                self._fail(f"bad header line {line[:80]!r}")
                return
            headers[name.strip().lower()] = value.strip()
        te = headers.get("transfer-encoding", "").lower()
        if te:
            if te.split(",")[-1].strip() != "chunked":
                self._fail(f"unsupported Transfer-Encoding {te!r}")
                return
            self._chunked = True
        elif "content-length" in headers:
            clen = headers["content-length"]
            if not clen.isdigit():
                self._fail(f"bad Content-Length {clen!r}")
                return
            self._length = int(clen)
        try:
            self._fd = (sys.stdout.fileno() if self.output == "-" else
                        os.open(self.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                                | os.O_CLOEXEC, 0o644))
        except OSError as exc:
            self._fail(f"cannot open {self.output}: {exc.strerror}")
            return
        self._state = "body"
        if rest:
            self._body(rest)
        if self._length == 0 and not self.finished:
            self._finish()

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.bytes += len(data)

    def _body(self, data: bytes) -> None:
        if self._chunked:
            self._buf += data
            self._dechunk()
            return
        if self._length is not None:
            if len(data) > self._length:
                data = data[:self._length]  # extra bytes after the body: ignored
            self._write(data)
            self._length -= len(data)
            if not self._length:
                self._finish()
            return
        self._write(data)

    def _dechunk(self) -> None:
        """RFC 9112 7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF trailers CRLF."""
        buf = self._buf
        while True:
            if self._chunk_left:
                take = min(self._chunk_left, len(buf))
                if not take:
                    return
                self._write(memoryview(buf)[:take])
                del buf[:take]
                self._chunk_left -= take
                if self._chunk_left:
                    return
                self._chunk_left = -2  # the CRLF after the data
            if self._chunk_left == -2:
                if len(buf) < 2:
                    return
                if buf[:2] != b"\r\n":
                    self._fail("bad chunked encoding (no CRLF after a chunk)")
                    return
                del buf[:2]
                self._chunk_left = 0
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > 1024:
                    self._fail("bad chunked encoding (chunk-size line too long)")
                return
            size = bytes(buf[:end]).split(b";", 1)[0].strip()
            try:
                n = int(size, 16)
            except ValueError:
                self._fail(f"bad chunk size {size[:20]!r}")
                return
            if n == 0:  # last-chunk; the trailer section is not needed
                del buf[:]
                self._finish()
                return
            del buf[:end + 2]
            self._chunk_left = n

    def _eof(self) -> None:
        if self._state != "body":
            self._fail("connection closed before the response" if self._state != "head"
                       or not self._buf else "connection closed in the response header")
        elif self._chunked:
            self._fail("connection closed in the middle of a chunked body")
        elif self._length:
            self._fail(f"connection closed with {self._length} body bytes missing")
        else:
            self._finish()

    # -- the end ----------------------------------------------------------------------
    def _finish(self) -> None:
        self._end(True)

    def _fail(self, msg: str) -> None:
        if not self.finished:
            self.error = msg
            self._end(False)

    def _end(self, ok: bool) -> None:
        if self.finished:
            return
        self.finished = True
        self.finished_ns = self.loop.now_ns()
        self._timer.cancel()
        self.close()
        if self._done_cb is not None:
            self._done_cb(ok)

    def close(self) -> None:
        """Close the socket and the output file."""
        remove_wait_queue(self._sk.wq, self._wake)
        if not self._sock._closed:
            self._sock.close()
        if self._fd >= 0:
            if self.output != "-":
                os.close(self._fd)
            self._fd = -1

    def summary(self) -> str:
        """One line: what was fetched, how fast."""
        secs = max(1, (self.finished_ns or self.loop.now_ns()) - self.started_ns) / 1e9
        return (f"fetched {self.url}: HTTP {self.status}, {self.bytes} bytes in "
                f"{secs:.3f} s ({self.bytes * 8 / secs / 1e6:.1f} Mbit/s)")

    def counters(self) -> dict[str, int]:
        """Status and body bytes, for the report."""
        return {"status": self.status, "bytes": self.bytes, "ok": int(self.finished
                                                                     and not self.error)}
