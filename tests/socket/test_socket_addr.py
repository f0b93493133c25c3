"""The address memos of ``tuxnet.socket.addr``: bounded, never keeping a failure (bad
names and malformed tuples raise every time), exact-``str`` keys only, and always the
answer of the unmemoised conversion (checked against the C library's inet_aton /
inet_ntoa), also across a refill and for an address that changed."""

from __future__ import annotations

import random
import socket as pysocket

import pytest
from _udpnet import A1, A2, two_hosts

import tuxnet.socket.addr as addr
from tuxnet.socket import SOCK_DGRAM, SOCK_NONBLOCK, socket
from tuxnet.socket.addr import ADDR_MEMO_MAX, format_sockaddr, known_name, parse_sockaddr


def _aton(name: str) -> int:
    return int.from_bytes(pysocket.inet_aton(name), "big")


def _ntoa(value: int) -> str:
    return pysocket.inet_ntoa(value.to_bytes(4, "big"))


def test_memos_stay_bounded_and_agree_with_inet_aton_and_ntoa() -> None:
    rng = random.Random(7)
    values = [rng.getrandbits(32) for _ in range(3 * ADDR_MEMO_MAX)]
    for v in values:
        name = _ntoa(v)
        assert format_sockaddr(v, 9) == (name, 9)
        assert parse_sockaddr((name, 9), "sendto") == (v, 9)
        assert len(addr._names) <= ADDR_MEMO_MAX
        assert len(addr._parsed) <= ADDR_MEMO_MAX
    # a second pass (some memoised, most refilled) gives the same answers
    for v in values:
        assert format_sockaddr(v, 1) == (_ntoa(v), 1)
        assert parse_sockaddr((_ntoa(v), 1), "sendto") == (v, 1)
        name = known_name(v)
        assert name is None or name == _ntoa(v)


def test_a_changed_address_gives_its_own_answer() -> None:
    assert parse_sockaddr(("10.1.2.3", 7), "sendto") == (_aton("10.1.2.3"), 7)
    assert parse_sockaddr(("10.1.2.4", 7), "sendto") == (_aton("10.1.2.4"), 7)
    assert parse_sockaddr(("10.1.2.3", 8), "sendto") == (_aton("10.1.2.3"), 8)
    assert format_sockaddr(_aton("10.1.2.3"), 7) == ("10.1.2.3", 7)
    assert format_sockaddr(_aton("10.1.2.4"), 7) == ("10.1.2.4", 7)
    # the special names keep their meaning once memoised
    for _ in range(2):
        assert parse_sockaddr(("", 1), "bind") == (0, 1)
        assert parse_sockaddr(("<broadcast>", 1), "sendto") == (0xFFFFFFFF, 1)
        assert parse_sockaddr(("LocalHost", 1), "sendto") == (0x7F000001, 1)


@pytest.mark.parametrize("bad", ["1.2.3.256", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3",
                                 "\uff11.2.3.4", "1.2.3.4 ", "no.such.host.invalid"])
def test_a_bad_name_raises_every_time_and_is_never_memoised(bad: str) -> None:
    for _ in range(3):
        with pytest.raises(pysocket.gaierror) as ei:
            parse_sockaddr((bad, 1), "sendto")
        assert ei.value.errno == addr.EAI_NONAME
    assert bad not in addr._parsed


def test_tuple_and_port_errors_come_first_even_for_a_memoised_name() -> None:
    parse_sockaddr(("10.9.9.9", 1), "sendto")
    assert "10.9.9.9" in addr._parsed
    with pytest.raises(OverflowError, match=r"sendto\(\): port must be 0-65535"):
        parse_sockaddr(("10.9.9.9", 65536), "sendto")
    with pytest.raises(OverflowError):
        parse_sockaddr(("10.9.9.9", -1), "sendto")
    with pytest.raises(TypeError, match="'float' object cannot be interpreted"):
        parse_sockaddr(("10.9.9.9", 1.0), "sendto")
    with pytest.raises(TypeError, match="must be a pair"):
        parse_sockaddr(("10.9.9.9",), "sendto")
    with pytest.raises(TypeError, match="must be tuple, not list"):
        parse_sockaddr(["10.9.9.9", 1], "sendto")
    with pytest.raises(TypeError, match="str, bytes or bytearray expected, not int"):
        parse_sockaddr((0x0A090909, 1), "sendto")


def test_bytes_and_str_subclasses_bypass_the_memo_with_the_same_answer() -> None:
    class Name(str):
        pass

    value = _aton("10.8.8.8")
    assert parse_sockaddr((b"10.8.8.8", 2), "sendto") == (value, 2)
    assert parse_sockaddr((bytearray(b"10.8.8.8"), 2), "sendto") == (value, 2)
    assert parse_sockaddr((Name("10.8.8.8"), 2), "sendto") == (value, 2)
    assert not any(type(k) is not str for k in addr._parsed)
    with pytest.raises(pysocket.gaierror):
        parse_sockaddr((b"10.8.8.256", 2), "sendto")


def test_an_echo_answers_each_sender_at_its_own_address() -> None:
    net = two_hosts()
    srv = socket(type=SOCK_DGRAM | SOCK_NONBLOCK, host=net.h2)
    srv.bind(("", 7))
    a = socket(host=net.h1)
    b = socket(host=net.h1)
    a.sendto(b"a", (A2, 7))
    b.sendto(b"b", (A2, 7))
    net.settle()
    for _ in range(2):
        data, peer = srv.recvfrom(100)
        assert peer[0] == A1
        srv.sendto(data.upper(), peer)
    net.settle()
    assert a.recvfrom(10) == (b"A", (A2, 7))
    assert b.recvfrom(10) == (b"B", (A2, 7))
    assert net.h2.mib.udp.InDatagrams == 2 and net.h2.mib.udp.OutDatagrams == 2
