"""The less travelled UDP paths beside the per-datagram fast path: a UDP header that is
not in the linear part (udp_rcv reads it with copy_bits, udp_csum_pull_header pulls it
from the frags), compute_score for sockets bound to a device, MSG_DONTWAIT on a blocking
socket whose send buffer is full, and buffers that are not bytes."""

from __future__ import annotations

import array

import pytest
from _udpnet import A1, A2, MS, two_hosts

from tuxnet.ipv4.udp import udp_rcv
from tuxnet.skb import CHECKSUM_NONE, alloc_skb
from tuxnet.socket import (
    MSG_DONTWAIT,
    SO_BINDTODEVICE,
    SO_REUSEADDR,
    SO_SNDBUF,
    SOCK_DGRAM,
    SOCK_NONBLOCK,
    SOL_SOCKET,
    socket,
)


def test_udp_header_in_the_frags_is_copied_then_pulled() -> None:
    net = two_hosts()
    srv = socket(type=SOCK_DGRAM | SOCK_NONBLOCK, host=net.h2)
    srv.bind(("", 4000))
    ip = bytes(net.frame_to_h2(5000, 4000, b"payload in a frag")[14:])
    skb = alloc_skb(64)
    skb.reserve(16)
    skb.put_data(ip[:22])  # the IPv4 header and two bytes of the UDP header
    skb.reset_network_header()
    skb.pull(20)  # ip_local_deliver_finish: skb.data at the UDP header
    skb.add_frag(bytearray(ip[22:]), 0, len(ip) - 22)
    skb.dev = net.eth2
    assert skb.ip_summed == CHECKSUM_NONE and skb.data_len == len(ip) - 22
    assert udp_rcv(net.h2, skb) == 0
    # the checksum is verified at read time, over the frags too
    assert srv.recvfrom(100) == (b"payload in a frag", (A1, 5000))
    mib = net.h2.mib.udp
    assert (mib.InDatagrams, mib.InErrors, mib.InCsumErrors) == (1, 0, 0)
    assert srv.sk.sk_rmem_alloc == 0 or srv.sk.sk_rmem_alloc == srv.sk.forward_deficit


def test_bad_checksum_over_frags_is_still_caught() -> None:
    net = two_hosts()
    srv = socket(type=SOCK_DGRAM | SOCK_NONBLOCK, host=net.h2)
    srv.bind(("", 4000))
    ip = bytearray(net.frame_to_h2(5000, 4000, b"corrupted")[14:])
    ip[-1] ^= 0xFF
    skb = alloc_skb(64)
    skb.put_data(bytes(ip[:20]))
    skb.reset_network_header()
    skb.pull(20)
    skb.add_frag(bytearray(ip[20:]), 0, len(ip) - 20)  # the whole UDP datagram
    skb.dev = net.eth2
    udp_rcv(net.h2, skb)
    with pytest.raises(BlockingIOError):
        srv.recvfrom(100)
    assert net.h2.mib.udp.InCsumErrors == 1 and srv.sk.sk_drops == 1


def test_a_socket_bound_to_the_arrival_device_wins_and_others_are_skipped() -> None:
    net = two_hosts()
    plain = socket(type=SOCK_DGRAM | SOCK_NONBLOCK, host=net.h2)
    plain.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    plain.bind(("", 4000))
    on_lo = socket(type=SOCK_DGRAM | SOCK_NONBLOCK, host=net.h2)
    on_lo.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    on_lo.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, b"lo")
    on_lo.bind(("", 4000))  # newest in the chain, but pinned to the wrong device
    net.inject_h2(net.frame_to_h2(1, 4000, b"to the plain one"))
    net.settle()
    assert plain.recv(100) == b"to the plain one"
    with pytest.raises(BlockingIOError):
        on_lo.recv(100)
    on_eth = socket(type=SOCK_DGRAM | SOCK_NONBLOCK, host=net.h2)
    on_eth.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    on_eth.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, b"eth0")
    on_eth.bind(("", 4000))
    plain2 = socket(type=SOCK_DGRAM | SOCK_NONBLOCK, host=net.h2)
    plain2.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    plain2.bind(("", 4000))  # newest and unpinned: scores 2 against eth0's 6
    net.inject_h2(net.frame_to_h2(1, 4000, b"to eth0's"))
    net.settle()
    assert on_eth.recv(100) == b"to eth0's"
    for s in (plain, plain2, on_lo):
        with pytest.raises(BlockingIOError):
            s.recv(100)


def test_msg_dontwait_on_a_blocking_socket_fails_at_once_when_the_buffer_is_full() -> None:
    net = two_hosts(rate_bps=1_000_000)
    cli = socket(host=net.h1)
    cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 1)
    t0 = net.loop.now_ns()
    with pytest.raises(BlockingIOError):
        for _ in range(10):
            cli.sendto(bytes(1400), MSG_DONTWAIT, (A2, 4000))
    assert net.loop.now_ns() == t0
    assert net.h1.mib.udp.SndbufErrors == 1
    assert "SOCK_NOSPACE" in cli.sk.sock_flags
    with pytest.raises(BlockingIOError):
        cli.recv(10, MSG_DONTWAIT)


def test_buffers_that_are_not_bytes_send_their_bytes() -> None:
    net = two_hosts()
    srv = socket(host=net.h2)
    srv.bind(("", 4000))
    cli = socket(host=net.h1)
    words = array.array("H", [1, 2, 3])
    assert cli.sendto(words, (A2, 4000)) == 6
    assert cli.sendto(bytearray(b"ba"), (A2, 4000)) == 2
    assert cli.sendto(memoryview(b"xmv")[1:], (A2, 4000)) == 2
    net.settle(5 * MS)
    assert srv.recv(100) == words.tobytes()
    assert srv.recv(100) == b"ba"
    assert srv.recv(100) == b"mv"
    with pytest.raises(TypeError):
        cli.sendto("text", (A2, 4000))  # type: ignore[arg-type]
