"""The shape of ``tuxnet.socket``: constants, type dispatch, address arguments, and
the answers of setsockopt/getsockopt and the error cases, checked side by side with
the machine's own kernel (a real UDP socket on 127.0.0.1 runs the same script); then a
hypothesis state machine drives bind/connect/send/recv/close in random order."""

from __future__ import annotations

import contextlib
import errno
import os
import socket as pysocket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _udpnet import A1, A2, MS, one_host, two_hosts
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

import tuxnet.socket as ts
from tuxnet.host import Host
from tuxnet.ipv4.udp_table import udp_table
from tuxnet.socket import consts


def test_constants_have_linux_values() -> None:
    names = [n for n in vars(consts) if n.isupper() and hasattr(pysocket, n)]
    assert len(names) > 70
    for name in names:
        assert getattr(consts, name) == getattr(pysocket, name), name
    assert all(getattr(ts, n) == getattr(consts, n) for n in ts.__all__ if n.isupper())
    assert ts.timeout is TimeoutError and ts.error is OSError
    assert ts.gaierror is pysocket.gaierror


def test_the_class_dispatches_by_type() -> None:
    h = one_host()
    s = ts.socket(ts.AF_INET, ts.SOCK_DGRAM, host=h)
    assert isinstance(s, ts.socket)
    assert (s.family, s.type, s.proto, s.host) == (ts.AF_INET, ts.SOCK_DGRAM, 0, h)
    assert ts.socket(host=h, proto=ts.IPPROTO_UDP).proto == ts.IPPROTO_UDP
    from tuxnet.socket.stream import StreamSocket

    assert isinstance(ts.socket(ts.AF_INET, ts.SOCK_STREAM, host=h), StreamSocket)
    with pytest.raises(OSError) as ei:
        ts.socket(ts.AF_INET6, ts.SOCK_DGRAM, host=h)
    assert ei.value.errno == errno.EAFNOSUPPORT
    with pytest.raises(OSError) as ei:
        ts.socket(ts.AF_INET, ts.SOCK_DGRAM, ts.IPPROTO_TCP, host=h)
    assert ei.value.errno == errno.EPROTONOSUPPORT
    with pytest.raises(TypeError):
        ts.socket(ts.AF_INET, ts.SOCK_DGRAM)  # type: ignore[call-arg]
    assert "laddr=('0.0.0.0', 0)" in repr(s)


def test_address_arguments_as_cpython_checks_them() -> None:
    s = ts.socket(host=one_host())
    with pytest.raises(TypeError, match="AF_INET address must be tuple, not str"):
        s.bind("127.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"must be a pair \(host, port\)"):
        s.bind(("127.0.0.1",))  # type: ignore[arg-type]
    with pytest.raises(OverflowError, match=r"bind\(\): port must be 0-65535"):
        s.bind(("127.0.0.1", 65536))
    with pytest.raises(pysocket.gaierror):
        s.bind(("no.such.host.invalid", 1))
    s.bind(("localhost", 0))
    assert s.getsockname()[0] == "127.0.0.1"


# -- side by side with the kernel --------------------------------------------------------

Outcome = Any


def _run(fn: Callable[[], Any]) -> Outcome:
    try:
        return fn()
    except OSError as e:
        return ("errno", e.errno)


def _sync_sysctls(h: Host) -> None:
    """Give the tuxnet host this machine's values for the knobs the script reads."""
    for name in ("net.core.rmem_max", "net.core.wmem_max", "net.core.rmem_default",
                 "net.core.wmem_default", "net.ipv4.ip_default_ttl",
                 "net.ipv4.ip_no_pmtu_disc", "net.ipv4.ip_nonlocal_bind"):
        path = Path("/proc/sys") / name.replace(".", "/")
        h.sysctl.set(name, int(path.read_text().split()[0]))


def _options_script(new: Callable[[], Any]) -> list[Outcome]:
    out: list[Outcome] = []
    s = new()
    so, ip = consts.SOL_SOCKET, consts.IPPROTO_IP
    for opt in (consts.SO_RCVBUF, consts.SO_SNDBUF, consts.SO_TYPE,
                consts.SO_PROTOCOL, consts.SO_DOMAIN, consts.SO_ERROR,
                consts.SO_REUSEADDR, consts.SO_BROADCAST, consts.SO_RCVLOWAT,
                consts.SO_PRIORITY, consts.SO_NO_CHECK):
        out.append(_run(lambda opt=opt: s.getsockopt(so, opt)))
    for val in (0, 1, 1000, 100_000, 10_000_000, -1):
        for opt in (consts.SO_RCVBUF, consts.SO_SNDBUF):
            out.append(_run(lambda o=opt, v=val: s.setsockopt(so, o, v)))
            out.append(_run(lambda o=opt: s.getsockopt(so, o)))
    if os.geteuid() == 0:  # CAP_NET_ADMIN
        for val in (1, 10_000_000, -5):
            out.append(_run(lambda v=val: s.setsockopt(so, consts.SO_RCVBUFFORCE, v)))
            out.append(_run(lambda: s.getsockopt(so, consts.SO_RCVBUF)))
    for opt, val in ((consts.SO_REUSEADDR, 5), (consts.SO_BROADCAST, 1),
                     (consts.SO_RCVLOWAT, -3), (consts.SO_RCVLOWAT, 0),
                     (consts.SO_KEEPALIVE, 1), (consts.SO_TYPE, 1), (12345, 1)):
        out.append(_run(lambda o=opt, v=val: s.setsockopt(so, o, v)))
        out.append(_run(lambda o=opt: s.getsockopt(so, o)))
    tv = struct.Struct("=qq")
    out.append(_run(lambda: s.setsockopt(so, consts.SO_RCVTIMEO, tv.pack(2, 500_000))))
    out.append(_run(lambda: tv.unpack(s.getsockopt(so, consts.SO_RCVTIMEO, 16))))
    out.append(_run(lambda: s.setsockopt(so, consts.SO_RCVTIMEO, tv.pack(0, 2_000_000))))
    out.append(_run(lambda: s.setsockopt(so, consts.SO_RCVTIMEO, 1)))  # too short
    out.append(_run(lambda: s.getsockopt(ip, consts.IP_TTL)))
    for val in (0, 256, 255, -1, 1):
        out.append(_run(lambda v=val: s.setsockopt(ip, consts.IP_TTL, v)))
        out.append(_run(lambda: s.getsockopt(ip, consts.IP_TTL)))
    for tos in (0x10, 0x08, 0x04, 0xB8, 0):
        out.append(_run(lambda t=tos: s.setsockopt(ip, consts.IP_TOS, t)))
        out.append(_run(lambda: s.getsockopt(ip, consts.IP_TOS)))
        out.append(_run(lambda: s.getsockopt(so, consts.SO_PRIORITY)))
    out.append(_run(lambda: s.getsockopt(ip, consts.IP_MTU_DISCOVER)))
    for val in (2, 6, 0):
        out.append(_run(lambda v=val: s.setsockopt(ip, consts.IP_MTU_DISCOVER, v)))
        out.append(_run(lambda: s.getsockopt(ip, consts.IP_MTU_DISCOVER)))
    out.append(_run(lambda: s.getsockopt(ip, consts.IP_MTU)))  # not connected
    out.append(_run(lambda: s.getsockopt(ip, 12345)))
    out.append(_run(lambda: s.getsockopt(consts.IPPROTO_TCP, 1)))
    out.append(_run(lambda: s.setsockopt(consts.IPPROTO_TCP, 1, 1)))
    out.append(_run(lambda: s.getsockopt(consts.SOL_UDP, 1)))
    s.close()
    return out


def _calls_script(new: Callable[[], Any]) -> list[Outcome]:
    out: list[Outcome] = []
    s = new()
    out.append(s.getsockname())
    out.append(_run(s.getpeername))
    out.append(_run(lambda: s.send(b"x")))  # no destination
    out.append(_run(lambda: s.sendto(b"x", ("127.0.0.1", 0))))  # port 0
    out.append(_run(lambda: s.getsockname()[0]))  # sendto autobound it
    s.setblocking(False)
    out.append(_run(lambda: s.recv(10)))
    out.append(_run(lambda: s.bind(("127.0.0.1", 0))))  # already bound
    s.close()
    t = new()
    out.append(_run(lambda: t.bind(("192.0.2.1", 0))))  # not a local address
    out.append(_run(lambda: t.bind(("127.0.0.1", 0))))
    port = t.getsockname()[1]
    u = new()
    out.append(_run(lambda: u.bind(("0.0.0.0", port))))  # overlaps 127.0.0.1:port
    out.append(_run(lambda: u.bind(("127.0.0.1", port))))
    u.close()
    v = new()
    out.append(_run(lambda: v.connect(("127.0.0.1", port))))
    out.append(v.getsockname()[0])
    out.append(_run(lambda: v.getpeername() == ("127.0.0.1", port)))
    out.append(_run(lambda: v.bind(("127.0.0.1", 0))))  # connected: EINVAL
    out.append(_run(lambda: v.send(b"hello")))
    out.append(_run(lambda: t.recvfrom(10)[0]))
    out.append(_run(lambda: v.shutdown(consts.SHUT_RD)))
    out.append(_run(lambda: v.recv(10)))  # blocking, after SHUT_RD: EOF at once
    out.append(_run(lambda: t.shutdown(consts.SHUT_WR)))  # unconnected: ENOTCONN
    out.append(_run(lambda: t.sendto(b"x", ("127.0.0.1", port))))  # EPIPE
    out.append(_run(lambda: t.shutdown(3)))
    t.close()
    v.close()
    return out


@pytest.mark.parametrize("script", [_options_script, _calls_script])
def test_same_answers_as_the_kernel(script: Callable[[Callable[[], Any]], list[Outcome]]
                                    ) -> None:
    h = one_host()
    _sync_sysctls(h)
    if h.sysctl.get_int("net.ipv4.ip_nonlocal_bind"):
        pytest.skip("this machine allows non-local binds")
    kernel = script(lambda: pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM))
    tux = script(lambda: ts.socket(ts.AF_INET, ts.SOCK_DGRAM, host=h))
    for i, (k, t) in enumerate(zip(kernel, tux, strict=True)):
        if isinstance(k, tuple) and len(k) == 2 and isinstance(k[1], int) and k[0] != "errno":
            k, t = k[0], t[0]  # (address, port): ports differ by nature
        assert t == k, f"step {i}: tuxnet {t!r}, kernel {k!r}"


def test_nonlocal_bind_and_freebind() -> None:
    h = one_host()
    s = ts.socket(host=h)
    with pytest.raises(OSError, match="Cannot assign requested address"):
        s.bind(("192.0.2.1", 0))
    s.setsockopt(ts.SOL_IP, ts.IP_FREEBIND, 1)
    s.bind(("192.0.2.1", 0))
    h.sysctl.set("net.ipv4.ip_nonlocal_bind", 1)
    ts.socket(host=h).bind(("192.0.2.2", 0))


def test_getpeername_and_ip_mtu_of_a_connected_socket() -> None:
    net = two_hosts()
    s = ts.socket(host=net.h1)
    s.connect((A2, 53))
    assert s.getpeername() == (A2, 53)
    assert s.getsockname()[0] == A1  # the route's source address
    assert s.getsockopt(ts.SOL_IP, ts.IP_MTU) == 1500


# -- random use of the API ---------------------------------------------------------------

ADDRS = st.sampled_from(["0.0.0.0", A1, A2, "127.0.0.1", "10.0.0.255", "192.0.2.1",
                         "255.255.255.255"])
PORTS = st.sampled_from([0, 1, 5000, 5001, 40000])
SIZES = st.sampled_from([0, 1, 100, 1472, 1473, 65507, 65508])
TIMEOUTS = st.sampled_from([0.0, 0.001, 0.05])
SOCKOPTS = st.sampled_from([
    (ts.SOL_SOCKET, ts.SO_RCVBUF), (ts.SOL_SOCKET, ts.SO_SNDBUF),
    (ts.SOL_SOCKET, ts.SO_REUSEADDR), (ts.SOL_SOCKET, ts.SO_REUSEPORT),
    (ts.SOL_SOCKET, ts.SO_BROADCAST), (ts.SOL_SOCKET, ts.SO_NO_CHECK),
    (ts.SOL_IP, ts.IP_TTL), (ts.SOL_IP, ts.IP_TOS), (ts.SOL_IP, ts.IP_MTU_DISCOVER),
    (ts.SOL_IP, ts.IP_RECVERR), (ts.SOL_SOCKET, ts.SO_ERROR), (ts.SOL_IP, 9999),
])


class SocketApi(RuleBasedStateMachine):
    """Any order of calls with valid arguments raises nothing but OSErrors, and the
    memory accounting stays consistent."""

    socks = Bundle("socks")

    def __init__(self) -> None:
        super().__init__()
        self.net = two_hosts()
        self.all: list[ts.socket] = []

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        with contextlib.suppress(OSError):  # anything else fails the test
            fn(*args)

    @rule(target=socks, on_h2=st.booleans(), timeout=TIMEOUTS)
    def create(self, on_h2: bool, timeout: float) -> ts.socket:
        s = ts.socket(host=self.net.h2 if on_h2 else self.net.h1)
        s.settimeout(timeout)
        self.all.append(s)
        return s

    @rule(s=socks, addr=ADDRS, port=PORTS)
    def bind(self, s: ts.socket, addr: str, port: int) -> None:
        self._call(s.bind, (addr, port))

    @rule(s=socks, addr=ADDRS, port=PORTS)
    def connect(self, s: ts.socket, addr: str, port: int) -> None:
        self._call(s.connect, (addr, port))

    @rule(s=socks, addr=ADDRS, port=PORTS, size=SIZES)
    def sendto(self, s: ts.socket, addr: str, port: int, size: int) -> None:
        self._call(s.sendto, bytes(size), (addr, port))

    @rule(s=socks, size=SIZES)
    def send(self, s: ts.socket, size: int) -> None:
        self._call(s.send, bytes(size))

    @rule(s=socks, n=st.sampled_from([0, 1, 2048, 70000]),
          flags=st.sampled_from([0, ts.MSG_PEEK, ts.MSG_DONTWAIT, ts.MSG_TRUNC]))
    def recv(self, s: ts.socket, n: int, flags: int) -> None:
        self._call(s.recvfrom, n, flags)

    @rule(s=socks, opt=SOCKOPTS, value=st.sampled_from([-1, 0, 1, 2, 64, 255, 1 << 20]))
    def setsockopt(self, s: ts.socket, opt: tuple[int, int], value: int) -> None:
        self._call(s.setsockopt, opt[0], opt[1], value)
        self._call(s.getsockopt, opt[0], opt[1])

    @rule(s=socks, how=st.sampled_from([ts.SHUT_RD, ts.SHUT_WR, ts.SHUT_RDWR]))
    def shutdown(self, s: ts.socket, how: int) -> None:
        self._call(s.shutdown, how)

    @rule(s=socks)
    def close(self, s: ts.socket) -> None:
        s.close()

    @rule(ms=st.sampled_from([0, 1, 100]))
    def run(self, ms: int) -> None:
        self.net.settle(ms * MS)

    @invariant()
    def accounting(self) -> None:
        for s in self.all:
            sk = s.sk
            assert sk.sk_rmem_alloc >= 0 and sk.sk_forward_alloc >= 0
            assert sk.sk_wmem_alloc >= 1
            assert sk.udp_rqueue_get() >= 0  # type: ignore[attr-defined]
        for h in (self.net.h1, self.net.h2):
            assert udp_table(h).memory_allocated >= 0

    def teardown(self) -> None:
        for s in self.all:
            s.close()
        self.net.settle(1000 * MS)
        for h in (self.net.h1, self.net.h2):
            tbl = udp_table(h)
            assert tbl.sockets() == []
            assert tbl.memory_allocated == 0
            assert not h.sockets


TestSocketApi = SocketApi.TestCase
TestSocketApi.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])
