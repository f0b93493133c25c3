"""The live TCP services and the fetch client in simulation (no root): two tuxnet
hosts on a simulated link, the services on h2 driven by the same loop wake-ups as in
live mode, clients on h1 using tuxnet sockets. Covers what the interop tests cannot
easily provoke: pipelined requests, 400/405/431/501, HEAD, request bodies, a peer that
stops reading (backpressure), fetch with Content-Length, chunked and close-delimited
bodies, a bad status, a refused connection and an idle timeout."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from _udpnet import A2, MS, Net, two_hosts

from tuxnet.live.http_fetch import FetchError, HttpFetch, parse_url
from tuxnet.live.http_service import HttpServer, pattern_bytes
from tuxnet.live.services import ServiceContext, ServiceError, start_service
from tuxnet.live.tcp_services import DiscardServer, EchoServer
from tuxnet.loop import SimLoop
from tuxnet.socket import AF_INET, SHUT_WR, SOCK_STREAM, socket
from tuxnet.socket.stream import StreamSocket
from tuxnet.tcp.ipv4 import tcp_v4_init

SEC = 1_000_000_000


def _net() -> tuple[Net, ServiceContext]:
    net = two_hosts(rate_bps=1_000_000_000, delay_ns=1 * MS)
    for h in (net.h1, net.h2):
        tcp_v4_init(h)
    warnings: list[str] = []
    ctx = ServiceContext(net.h2, net.loop, warn=warnings.append)
    return net, ctx


def _sock(net: Net) -> StreamSocket:
    s = socket(AF_INET, SOCK_STREAM, host=net.h1)
    assert isinstance(s, StreamSocket)
    s.setblocking(False)
    return s


def _run(net: Net, cond: Callable[[], bool], limit_ns: int = 10 * SEC) -> None:
    loop = net.loop
    assert isinstance(loop, SimLoop)
    end = loop.now_ns() + limit_ns
    while not cond() and loop.now_ns() < end:
        loop.run(loop.now_ns() + 1 * MS)


def exchange(net: Net, port: int, request: bytes, *, shut: bool = False,
             read: bool = True) -> bytes:
    """Connect to h2:port, send ``request`` (then FIN if ``shut``), read to EOF."""
    s = _sock(net)
    with contextlib.suppress(BlockingIOError):
        s.connect((A2, port))
    _run(net, lambda: s._sk.sk_state == 1)
    sent = 0
    out = bytearray()
    eof = False

    def step() -> bool:
        nonlocal sent, eof
        if sent < len(request):
            with contextlib.suppress(BlockingIOError):
                sent += s.send(request[sent:])
            if sent == len(request) and shut:
                s.shutdown(SHUT_WR)
        if read:
            try:
                while chunk := s.recv(1 << 20):
                    out.extend(chunk)
                eof = True
            except BlockingIOError:
                pass
        return eof

    _run(net, step)
    s.close()
    return bytes(out)


def test_http_get_bytes_and_index_and_errors() -> None:
    net, ctx = _net()
    srv = HttpServer(ctx, 80)
    r = exchange(net, 80, b"GET /bytes/300000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = r.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 300000" in head
    assert body == pattern_bytes(0, 300000)
    r = exchange(net, 80, b"GET / HTTP/1.0\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 200 OK") and b"/bytes/N" in r
    for req, status in ((b"GET /x HTTP/1.0\r\n\r\n", b"404"),
                        (b"POST / HTTP/1.0\r\n\r\n", b"405"),
                        (b"GET /bytes/abc HTTP/1.0\r\n\r\n", b"400"),
                        (b"nonsense\r\n\r\n", b"400"),
                        (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"501"),
                        (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431")):
        r = exchange(net, 80, req)
        assert r.split(b" ")[1] == status, (req[:30], r[:60])
    r = exchange(net, 80, b"HEAD /bytes/77 HTTP/1.0\r\n\r\n")
    assert b"Content-Length: 77" in r and r.endswith(b"\r\n\r\n")
    c = srv.counters()
    assert c["status_200"] == 3 and c["status_404"] == 1 and c["status_400"] == 2
    assert c["open"] == 0 and c["accepted"] == c["closed"] == 9
    srv.close()


def test_http_pipelined_keepalive_with_request_body() -> None:
    net, ctx = _net()
    srv = HttpServer(ctx, 8080)
    reqs = (b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /bytes/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    r = exchange(net, 8080, reqs)
    parts = r.split(b"HTTP/1.1 ")
    assert [p[:3] for p in parts[1:]] == [b"200", b"405", b"200"]
    assert parts[1].endswith(pattern_bytes(0, 10)) and parts[3].endswith(b"\x00\x01\x02")
    assert srv.counters()["requests"] == 3 and srv.counters()["accepted"] == 1
    srv.close()


def test_http_body_waits_for_a_slow_reader() -> None:
    # an 8 MB body to a client that does not read: the server stops at the send
    # buffer (at most tcp_wmem[2], 4 MB) and the peer's window, then finishes once read
    net, ctx = _net()
    srv = HttpServer(ctx, 80)
    s = _sock(net)
    with contextlib.suppress(BlockingIOError):
        s.connect((A2, 80))
    _run(net, lambda: s._sk.sk_state == 1)
    s.send(b"GET /bytes/8000000 HTTP/1.1\r\nHost: x\r\n\r\n")
    _run(net, lambda: False, 200 * MS)
    conn = next(iter(srv.conns))
    assert 0 < conn.bytes_out < 4_500_000
    got = 0
    while got < 8_000_000:
        try:
            got += len(s.recv(1 << 20))
        except BlockingIOError:
            net.loop.run(net.loop.now_ns() + 1 * MS)
    assert conn.bytes_out >= 8_000_000
    s.close()
    srv.close()


def test_echo_and_discard() -> None:
    net, ctx = _net()
    echo = EchoServer(ctx, 7)
    disc = DiscardServer(ctx, 9)
    data = bytes(range(256)) * 2000
    assert exchange(net, 7, data, shut=True) == data
    assert exchange(net, 9, data, shut=True) == b""
    assert echo.counters()["bytes_out"] == len(data)
    assert disc.counters()["bytes_in"] == len(data) and disc.counters()["closed"] == 1
    echo.close()
    disc.close()


def test_service_specs() -> None:
    _, ctx = _net()
    svc = start_service(ctx, "tcp-echo:7")
    assert svc.name == "tcp-echo:7"
    for spec, msg in (("tcp-echo:0", "outside"), ("discard:x", "bad port"),
                      ("gopher:70", "unknown service"), ("tcp-echo:7", "Address")):
        try:
            start_service(ctx, spec)
        except ServiceError as exc:
            assert msg in str(exc), (spec, exc)
        else:
            raise AssertionError(f"{spec} started")
    svc.close()


def _fetch(net: Net, url: str, out: Path, timeout: float = 5.0) -> HttpFetch:
    f = HttpFetch(net.h1, net.loop, url, str(out), timeout=timeout)
    _run(net, lambda: f.finished, 30 * SEC)
    return f


def test_fetch_from_tuxnet_http(tmp_path: Path) -> None:
    net, ctx = _net()
    HttpServer(ctx, 80)
    f = _fetch(net, f"http://{A2}/bytes/1000000", tmp_path / "a")
    assert not f.error and f.status == 200 and f.bytes == 1_000_000
    assert (tmp_path / "a").read_bytes() == pattern_bytes(0, 1_000_000)
    f = _fetch(net, f"http://{A2}/missing", tmp_path / "b")
    assert f.error == "HTTP 404 Not Found" and not (tmp_path / "b").exists()
    f = _fetch(net, f"http://{A2}:81/", tmp_path / "c")
    assert f.error == "connection refused"
    f = _fetch(net, "http://10.0.0.9/", tmp_path / "d", timeout=1.0)
    assert f.error.startswith("timed out connecting")


def _raw_server(net: Net, port: int, reply: bytes) -> None:
    """A tuxnet server on h2 that answers one request with ``reply`` and closes."""
    lst = socket(AF_INET, SOCK_STREAM, host=net.h2)
    assert isinstance(lst, StreamSocket)
    lst.setblocking(False)
    lst.bind(("", port))
    lst.listen()

    def on_accept() -> None:
        try:
            c, _ = lst.accept()
        except BlockingIOError:
            return
        c.setblocking(False)
        c.sendall(reply)
        c.close()

    lst._sk.wq.append(lambda: net.loop.call_soon(on_accept))


def test_fetch_chunked_and_close_delimited(tmp_path: Path) -> None:
    net, _ = _net()
    _raw_server(net, 90, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\n")
    f = _fetch(net, f"http://{A2}:90/", tmp_path / "c")
    assert not f.error and (tmp_path / "c").read_bytes() == b"hello world!"
    _raw_server(net, 91, b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * 10000)
    f = _fetch(net, f"http://{A2}:91/", tmp_path / "d")
    assert not f.error and f.bytes == 10000
    _raw_server(net, 92, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    f = _fetch(net, f"http://{A2}:92/", tmp_path / "e")
    assert f.error == "connection closed with 5 body bytes missing"
    _raw_server(net, 93, b"SSH-2.0-nope\r\n\r\n")
    f = _fetch(net, f"http://{A2}:93/", tmp_path / "f")
    assert f.error.startswith("not an HTTP/1.x response")


def test_parse_url() -> None:
    assert parse_url("http://10.0.0.1:8000/a?b=1") == ("10.0.0.1", 8000, "/a?b=1")
    assert parse_url("http://10.0.0.1") == ("10.0.0.1", 80, "/")
    for bad in ("https://10.0.0.1/", "http://example.com/", "http://10.0.0.1:99999/",
                "http://10.0.0.1:0/", "10.0.0.1"):
        try:
            parse_url(bad)
        except FetchError:
            continue
        raise AssertionError(bad)
