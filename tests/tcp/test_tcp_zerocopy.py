"""MSG_ZEROCOPY and SO_TIMESTAMPING end to end between two simulated hosts
(Documentation/networking/msg_zerocopy.rst, timestamping.rst): the skbs reference the
sender's buffer, the completion arrives on the error queue once the peer acknowledged
the data, consecutive completions coalesce, a copy (delivery over loopback) is
reported, and tx timestamps come back for the last byte of a send."""

from __future__ import annotations

import errno
import random
import struct

import pytest
from _tcppair import pair, recv_exactly

from tuxnet.host import Host
from tuxnet.skb import SkBuff
from tuxnet.skb.exterr import SO_EE_CODE_ZEROCOPY_COPIED, SO_EE_ORIGIN_ZEROCOPY
from tuxnet.skb.tstamp import (
    SCM_TSTAMP_ACK,
    SCM_TSTAMP_SCHED,
    SCM_TSTAMP_SND,
    SOF_TIMESTAMPING_OPT_ID,
    SOF_TIMESTAMPING_SOFTWARE,
    SOF_TIMESTAMPING_TX_ACK,
    SOF_TIMESTAMPING_TX_SCHED,
    SOF_TIMESTAMPING_TX_SOFTWARE,
)
from tuxnet.socket import (
    AF_INET,
    IP_RECVERR,
    MSG_DONTWAIT,
    MSG_ERRQUEUE,
    MSG_TRUNC,
    MSG_ZEROCOPY,
    SCM_TIMESTAMPING,
    SO_SNDBUF,
    SO_TIMESTAMPING,
    SO_ZEROCOPY,
    SOCK_STREAM,
    SOL_IP,
    SOL_SOCKET,
    socket,
)
from tuxnet.socket.stream import StreamSocket
from tuxnet.tcp import output

_EE = struct.Struct("=IBBBBII")


def _errqueue(s: StreamSocket) -> tuple[list[tuple[int, int, bytes]], int, int]:
    """One error-queue report: (ancdata, msg_flags, data length)."""
    data, anc, flags, _ = s.recvmsg(0, 1024, MSG_ERRQUEUE)
    return anc, flags, len(data)


def _ee(anc: list[tuple[int, int, bytes]]) -> tuple[int, ...]:
    level, ctype, data = anc[-1]
    assert (level, ctype) == (SOL_IP, IP_RECVERR)
    assert len(data) == 32  # sock_extended_err + the offender's sockaddr_in
    errno_, origin, _type, code, _pad, info, edata = _EE.unpack_from(data)
    return errno_, origin, code, info, edata


def test_zerocopy_completion_after_ack_and_pages_not_copied() -> None:
    net, cli, srv = pair()
    cli.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    assert cli.getsockopt(SOL_SOCKET, SO_ZEROCOPY) == 1
    cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 1 << 20)  # each pinned page counts in full
    buf = bytearray(b"a" * 100_000)
    assert cli.sendmsg([buf], (), MSG_ZEROCOPY | MSG_DONTWAIT) == 100_000
    # the skbs reference the caller's buffer: no copy was made
    skbs = list(cli.sk.tcp_rtx_queue) + list(cli.sk.sk_write_queue)
    assert all(skb.frags and all(f.page.obj is buf for f in skb.frags) for skb in skbs)
    assert sum(skb.len for skb in skbs) == 100_000
    with pytest.raises(BlockingIOError):  # nothing acknowledged yet: no completion
        cli.recvmsg(0, 1024, MSG_ERRQUEUE)
    # what is still queued goes out as the buffer holds it when it is sent
    buf[90_000:90_005] = b"HELLO"
    got = recv_exactly(srv, 100_000)
    net.settle()
    assert got[90_000:90_005] == b"HELLO"
    anc, flags, n = _errqueue(cli)
    assert flags == MSG_ERRQUEUE and n == 0
    # a NIC reads the pages by DMA: zerocopy succeeded (no SO_EE_CODE_ZEROCOPY_COPIED)
    assert _ee(anc) == (0, SO_EE_ORIGIN_ZEROCOPY, 0, 0, 0)


def test_completions_coalesce_into_one_range() -> None:
    net, cli, srv = pair()
    cli.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    for _ in range(3):
        cli.sendmsg([bytes(3000)], (), MSG_ZEROCOPY)
        recv_exactly(srv, 3000)
        net.settle()
    anc, _, _ = _errqueue(cli)
    assert _ee(anc)[3:] == (0, 2)  # [ee_info, ee_data] = ids 0..2
    with pytest.raises(BlockingIOError):
        cli.recvmsg(0, 1024, MSG_ERRQUEUE)
    cli.sendmsg([bytes(10)], (), MSG_ZEROCOPY)
    recv_exactly(srv, 10)
    net.settle()
    assert _ee(_errqueue(cli)[0])[3:] == (3, 3)


def test_without_so_zerocopy_the_flag_is_ignored_and_a_failed_send_returns_its_id() -> None:
    net, cli, srv = pair()
    cli.sendmsg([bytes(100)], (), MSG_ZEROCOPY)  # no SO_ZEROCOPY: an ordinary copy
    recv_exactly(srv, 100)
    net.settle()
    with pytest.raises(BlockingIOError):
        cli.recvmsg(0, 1024, MSG_ERRQUEUE)
    lone = socket(AF_INET, SOCK_STREAM, host=net.h1)
    assert isinstance(lone, StreamSocket)
    lone.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    with pytest.raises(BrokenPipeError):
        lone.sendmsg([bytes(100)], (), MSG_ZEROCOPY)  # not connected: EPIPE
    assert lone.sk.sk_zckey == 0 and not lone.sk.sk_error_queue  # the id went back


def test_optmem_exhausted_is_enobufs() -> None:
    net, cli, _ = pair()
    net.h1.sysctl.set("net.core.optmem_max", "0")
    cli.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    with pytest.raises(OSError) as ei:
        cli.sendmsg([bytes(100)], (), MSG_ZEROCOPY)
    assert ei.value.errno == errno.ENOBUFS


def _loopback_pair(host: Host) -> tuple[StreamSocket, StreamSocket]:
    lst = socket(AF_INET, SOCK_STREAM, host=host)
    assert isinstance(lst, StreamSocket)
    lst.bind(("127.0.0.1", 6000))
    lst.listen()
    cli = socket(AF_INET, SOCK_STREAM, host=host)
    assert isinstance(cli, StreamSocket)
    cli.connect(("127.0.0.1", 6000))
    srv, _ = lst.accept()
    return cli, srv


def test_loopback_delivery_copies_and_says_so() -> None:
    net, _, _ = pair()
    cli, srv = _loopback_pair(net.h1)
    cli.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    cli.sendmsg([bytes(5000)], (), MSG_ZEROCOPY)
    recv_exactly(srv, 5000)
    net.settle()
    assert _ee(_errqueue(cli)[0]) == (0, SO_EE_ORIGIN_ZEROCOPY, SO_EE_CODE_ZEROCOPY_COPIED,
                                      0, 0)


def test_tx_timestamps_sched_snd_ack_for_the_last_byte() -> None:
    net, cli, srv = pair()
    flags = (SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE
             | SOF_TIMESTAMPING_TX_ACK | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID)
    cli.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, flags)
    assert cli.getsockopt(SOL_SOCKET, SO_TIMESTAMPING) == flags
    t0 = net.loop.now_ns()
    cli.sendall(bytes(3000))
    recv_exactly(srv, 3000)
    net.settle()
    stamps = []
    for want in (SCM_TSTAMP_SCHED, SCM_TSTAMP_SND, SCM_TSTAMP_ACK):
        anc, mflags, _ = _errqueue(cli)
        assert mflags == MSG_ERRQUEUE | MSG_TRUNC  # the packet's copy did not fit in 0
        (lvl, typ, ts), _ = anc
        assert (lvl, typ) == (SOL_SOCKET, SCM_TIMESTAMPING) and len(ts) == 48
        sec, nsec = struct.unpack_from("=qq", ts)
        stamps.append(sec * 1_000_000_000 + nsec)
        assert _ee(anc) == (errno.ENOMSG, 4, 0, want, 2999)  # key: the last byte
    assert t0 <= stamps[0] <= stamps[1] < stamps[2]  # the ACK came an RTT later
    with pytest.raises(BlockingIOError):
        cli.recvmsg(0, 1024, MSG_ERRQUEUE)


@pytest.mark.parametrize("seed", [1, 2])
def test_zerocopy_through_loss_every_send_completes(seed: int) -> None:
    """Retransmissions go out of the referenced pages; every send id is completed."""
    net, cli, srv = pair(loss=0.05, seed=seed)
    cli.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 1 << 20)
    rng = random.Random(seed)
    sends = [rng.randbytes(rng.randrange(1, 20_000)) for _ in range(40)]
    got = bytearray()
    for i in range(0, len(sends), 4):  # a few sends in flight, then read them
        batch = sends[i:i + 4]
        for b in batch:
            assert cli.sendmsg([b], (), MSG_ZEROCOPY) == len(b)
        got += recv_exactly(srv, sum(map(len, batch)))
    net.settle(3_000 * 1_000_000)
    assert bytes(got) == b"".join(sends)
    assert net.h1.mib.tcp.RetransSegs > 0
    done: set[int] = set()
    while True:
        try:
            anc, _, _ = _errqueue(cli)
        except BlockingIOError:
            break
        _, origin, code, lo, hi = _ee(anc)
        assert origin == SO_EE_ORIGIN_ZEROCOPY and code == 0
        done |= set(range(lo, hi + 1))
    assert done == set(range(len(sends)))
    assert cli.sk.sk_omem_alloc == 0  # every notification skb was given back


def test_zerocopy_skbs_split_when_the_path_mtu_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    """tcp_fragment on skbs of page fragments (skb_split): the queued MSS skbs are cut
    for a smaller MSS, both parts keep referencing the buffer and the uarg."""
    net, cli, srv = pair()
    cli.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 1 << 20)
    data = random.Random(9).randbytes(60_000)
    assert cli.sendmsg([data], (), MSG_ZEROCOPY | MSG_DONTWAIT) == 60_000
    assert cli.sk.sk_write_queue  # beyond the initial window: still queued
    splits = []
    real_split = output.skb_split_frags

    def spy(skb: SkBuff, buff: SkBuff, length: int) -> int:
        splits.append(length)
        return real_split(skb, buff, length)

    monkeypatch.setattr(output, "skb_split_frags", spy)
    out0 = net.h1.mib.tcp.OutSegs
    cli.sk.dst.mtu_fn = lambda: 1000  # a learned path MTU (ip_rt_update_pmtu)
    assert recv_exactly(srv, 60_000) == data
    net.settle()
    assert splits and all(n == 948 for n in splits)  # 1000 - 40 - 12 (timestamps)
    assert net.h1.mib.tcp.OutSegs - out0 > (60_000 - 14_480) // 1448 + 5
    assert _ee(_errqueue(cli)[0])[1:] == (SO_EE_ORIGIN_ZEROCOPY, 0, 0, 0)
