"""``http:PORT``: a small HTTP/1.1 server on a live host (RFC 9112 message syntax,
RFC 9110 semantics).

* ``GET /bytes/N`` answers N bytes in which byte i is ``i % 251`` (a pattern that
  repeats at a prime period, so a shifted or dropped segment shows), with
  Content-Length; the body is produced as the send buffer drains, never built whole.
* ``GET /`` answers a short text index; any other path is 404, a method other than GET
  or HEAD 405 (with Allow), a request that cannot be parsed 400, an over-long header
  431. HEAD answers the same headers without the body.
* Persistent connections (RFC 9112 9.3): HTTP/1.1 keeps the connection unless the
  request says ``Connection: close``; HTTP/1.0 closes unless it says ``keep-alive``.
  Pipelined requests are answered in order (the next is parsed when the previous
  response is queued). A request body (Content-Length) is read and ignored;
  chunked request bodies are refused (411 is for a missing length; 501 here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.live.services import ServiceContext, parse_port, register_service
from tuxnet.live.tcp_services import TcpConn, TcpServer

if TYPE_CHECKING:
    from tuxnet.socket.stream import StreamSocket

__all__ = ["PATTERN_PERIOD", "HttpConn", "HttpServer", "pattern_bytes"]

PATTERN_PERIOD = 251  # byte i of /bytes/N is i % 251
MAX_HEADER = 16384  # bytes of request line + headers before 431
MAX_BYTES = 1 << 40  # the largest N of /bytes/N (1 TiB)
SEND_CHUNK = 256 * 1024  # body bytes offered per send
SERVER = "tuxnet"
# one buffer holding the pattern from every phase: view[p : p + n] is bytes p..p+n-1
_PATTERN = bytes(i % PATTERN_PERIOD for i in range(SEND_CHUNK + PATTERN_PERIOD))
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            431: "Request Header Fields Too Large", 501: "Not Implemented"}


def pattern_bytes(start: int, n: int) -> bytes:
    """Bytes ``start .. start+n-1`` of the /bytes/ pattern (for checks)."""
    out = bytearray()
    while n > 0:
        take = min(n, SEND_CHUNK)
        p = start % PATTERN_PERIOD
        out += _PATTERN[p:p + take]
        start += take
        n -= take
    return bytes(out)


class HttpConn(TcpConn):
    """One HTTP connection: parse a request, queue its response head, stream its
    body, then the next request or close."""

    __slots__ = ("_body_left", "_body_pos", "_buf", "_close_after", "_discard_in",
                 "_eof", "_out", "http", "requests")

    def __init__(self, server: TcpServer, sock: StreamSocket, peer: tuple[str, int]) -> None:
        super().__init__(server, sock, peer)
        assert isinstance(server, HttpServer)
        self.http = server
        self._buf = bytearray()  # request bytes not parsed yet
        self._out = memoryview(b"")  # response head (or short body) not queued yet
        self._body_pos = 0  # /bytes/ position of the next body byte
        self._body_left = 0  # body bytes still to queue
        self._discard_in = 0  # request-body bytes to skip
        self._close_after = False
        self._eof = False
        self.requests = 0

    def on_ready(self) -> None:
        """Queue what fits of the current response; when it is out, take the next
        request from what was received."""
        while True:
            if not self._flush():
                return  # the send buffer is full: sk_write_space wakes us
            if self._close_after:
                self.close()
                return
            if self._next_request():
                continue
            if self._eof:
                self.close()
                return
            data = self.recv()
            if data is None:
                return
            if not data:
                self._eof = True
                continue
            self._buf += data
            if self._discard_in:
                skip = min(self._discard_in, len(self._buf))
                del self._buf[:skip]
                self._discard_in -= skip

    def _flush(self) -> bool:
        """Queue the pending head, then body chunks; True when all is queued."""
        out = self._out
        while out:
            n = self.send(out)
            if not n:
                self._out = out
                return False
            out = out[n:]
        self._out = out
        send = self.send
        while self._body_left:
            p = self._body_pos % PATTERN_PERIOD
            take = min(self._body_left, SEND_CHUNK)
            n = send(memoryview(_PATTERN)[p:p + take])
            if not n:
                return False
            self._body_pos += n
            self._body_left -= n
        return True

    def _next_request(self) -> bool:
        """Parse one complete request from the buffer and set up its response."""
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        sep = 4
        if end < 0:
            end = buf.find(b"\n\n")  # RFC 9112 2.2: a bare LF may be accepted
            sep = 2
        if end < 0:
            if len(buf) > MAX_HEADER:
                self._error(431)
                return True
            if self._eof and buf.strip():
                self._error(400)
                return True
            return False
        if end > MAX_HEADER:
            self._error(431)
            return True
        head = bytes(buf[:end])
        del buf[:end + sep]
        if not head.strip():  # RFC 9112 2.2: ignore empty lines before a request
            return True
        lines = head.replace(b"\r\n", b"\n").split(b"\n")
        while lines and not lines[0]:
            lines.pop(0)
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            self._error(400)
            return True
        method, target, version = parts
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                self._error(400)
                return True
            headers[name.lower()] = value.strip()
        self.requests += 1
        self.http.requests += 1
        conn = headers.get(b"connection", b"").lower()
        if version == b"HTTP/1.0":
            self._close_after = b"keep-alive" not in conn
        else:
            self._close_after = b"close" in conn
        if b"transfer-encoding" in headers:
            self._error(501)
            return True
        clen = headers.get(b"content-length", b"0")
        if not clen.isdigit():
            self._error(400)
            return True
        skip = min(int(clen), len(buf))
        del buf[:skip]
        self._discard_in = int(clen) - skip
        self._respond(method, target)
        return True

    def _respond(self, method: bytes, target: bytes) -> None:
        if method not in (b"GET", b"HEAD"):
            self._simple(405, b"method not allowed\n", extra=b"Allow: GET, HEAD\r\n")
            return
        head_only = method == b"HEAD"
        path = target.split(b"?", 1)[0]
        if path == b"/":
            body = (b"tuxnet http service\n"
                    b"GET /bytes/N  N bytes, byte i = i % 251\n")
            self._simple(200, body, head_only=head_only)
            return
        if path.startswith(b"/bytes/"):
            arg = path[7:]
            if not arg.isdigit() or int(arg) > MAX_BYTES:
                self._simple(400, b"N must be an integer 0..2**40\n", head_only=head_only)
                return
            n = int(arg)
            self._head(200, n, b"application/octet-stream")
            if not head_only:
                self._body_pos = 0
                self._body_left = n
                self.http.body_bytes += n
            return
        self._simple(404, b"not found\n", head_only=head_only)

    def _head(self, status: int, length: int, ctype: bytes, extra: bytes = b"") -> None:
        conn = b"Connection: close\r\n" if self._close_after else b""
        self._out = memoryview(
            b"HTTP/1.1 %d %s\r\nServer: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            b"%s%s\r\n" % (status, _REASONS[status].encode(), SERVER.encode(), ctype, length,
                           conn, extra))
        statuses = self.http.statuses
        statuses[status] = statuses.get(status, 0) + 1

    def _simple(self, status: int, body: bytes, *, head_only: bool = False,
                extra: bytes = b"") -> None:
        self._head(status, len(body), b"text/plain", extra)
        if not head_only:
            self._out = memoryview(bytes(self._out) + body)

    def _error(self, status: int) -> None:
        """A request that cannot be answered in the stream: reply and close."""
        self._close_after = True
        self._buf.clear()
        self._simple(status, f"{_REASONS[status].lower()}\n".encode())


class HttpServer(TcpServer):
    """``http:PORT``."""

    conn_class = HttpConn
    kind = "http"

    def __init__(self, ctx: ServiceContext, port: int) -> None:
        super().__init__(ctx, port)
        self.requests = 0
        self.body_bytes = 0
        self.statuses: dict[int, int] = {}

    def counters(self) -> dict[str, int]:
        """The TCP counters, requests, responses by status and body bytes."""
        out = super().counters()
        out["requests"] = self.requests
        for status, n in sorted(self.statuses.items()):
            out[f"status_{status}"] = n
        out["body_bytes"] = self.body_bytes
        return out


def _http(ctx: ServiceContext, arg: str) -> HttpServer:
    return HttpServer(ctx, parse_port(arg or "80", "http"))


register_service("http", _http, "http:PORT")
