"""AF_XDP: ring semantics (power-of-two sizes, reserve/submit, peek/release, full rings,
u32 index wraparound), UMEM checks, receive through an XSKMAP into UMEM in place
(zero-copy: no copy counted; copy mode: one per frame), fill-ring-empty and RX-full
drops, the queue binding check, and transmit (zero-copy and copy) with completions."""

from __future__ import annotations

import errno
from typing import Any

import pytest
from _xdputil import REDIRECT_MAP_KEY, REDIRECT_MAP_QUEUE, frame, rig

from tuxnet.bpf.maps import XskMap
from tuxnet.xdp import XdpProg, dev_xdp_attach
from tuxnet.xdp.afxdp import XDP_COPY, XDP_ZEROCOPY, Umem, XdpDesc, XskRing, XskSocket

U32 = 0xFFFF_FFFF


def u32(v: int) -> bytes:
    return v.to_bytes(4, "little")


# -- rings ----------------------------------------------------------------------------------

def test_ring_sizes_must_be_powers_of_two() -> None:
    for bad in (0, 3, 6, 1000):
        with pytest.raises(OSError) as e:
            XskRing(bad)
        assert e.value.errno == errno.EINVAL
    assert XskRing(1).size == 1 and XskRing(2048).mask == 2047


def test_producer_and_consumer_indices() -> None:
    ring = XskRing(4, "fill")
    idx = ring.reserve(3)
    assert idx == 0 and ring.free() == 1
    for i in range(3):
        ring[idx + i] = 100 + i
    assert ring.available() == 0  # nothing published yet
    ring.submit(3)
    assert ring.producer == 3 and ring.available() == 3
    assert ring.reserve(2) is None  # only one slot free
    n, cidx = ring.peek(8)
    assert (n, cidx) == (3, 0)
    assert [ring[cidx + i] for i in range(n)] == [100, 101, 102]
    assert ring.free() == 1  # peeked is not released
    ring.release(2)
    assert ring.consumer == 2 and ring.free() == 3
    with pytest.raises(ValueError):
        ring.release(2)  # only one more was peeked
    with pytest.raises(ValueError):
        ring.submit(1)  # nothing reserved


def test_indices_wrap_around_u32_and_slots_wrap_the_array() -> None:
    ring = XskRing(4, "rx", start=U32 - 1)
    for v in range(10):  # many laps of the 4-slot array, through 2^32
        idx = ring.reserve(1)
        assert idx is not None
        ring[idx] = v
        ring.submit(1)
        n, c = ring.peek(1)
        assert n == 1 and ring[c] == v
        ring.release(1)
    assert ring.producer == ring.consumer == (U32 - 1 + 10) & U32 == 8
    idx = ring.reserve(4)
    assert idx == 8 and ring.reserve(1) is None
    ring.cancel(4)
    assert ring.free() == 4


def test_umem_registration_checks() -> None:
    for chunk in (1024, 3000, 8192):
        with pytest.raises(OSError):
            Umem(4, chunk)
    with pytest.raises(OSError):
        Umem(4, 2048, headroom=2048 - 256)
    u = Umem(4, 2048, headroom=64)
    assert u.size == 8192 and u.chunk_addrs() == [0, 2048, 4096, 6144]


# -- receive ----------------------------------------------------------------------------------

def _xsk_rig(flags: int = 0, *, rx: int = 8, queue: int = 0, nq: int = 1,
             fill: bool = True) -> tuple[Any, Umem, XskSocket]:
    r = rig(queues=nq)
    eth0 = r.nics[0]
    if nq > 1:
        eth0.set_rss_indir([0] * 128)  # every flow to queue 0
    umem = Umem(16, 4096, fill_size=16, comp_size=16)
    if fill:
        assert umem.fill_all() == 16
    xsk = XskSocket(r.host, umem, rx_size=rx, tx_size=8)
    xsk.bind(eth0, queue, flags)
    xsks = XskMap(4, 4, 4, name="xsks")
    text = REDIRECT_MAP_QUEUE if queue == 0 else REDIRECT_MAP_KEY.format(key=queue)
    prog = XdpProg.from_asm(r.host, text, maps=[xsks])
    xsks.update(u32(queue), u32(xsk.fd))
    dev_xdp_attach(eth0, prog)
    return r, umem, xsk


def _read_rx(xsk: XskSocket) -> list[XdpDesc]:
    n, idx = xsk.rx.peek(64)
    descs = [xsk.rx[idx + i] for i in range(n)]
    xsk.rx.release(n)
    return descs


def test_zero_copy_receive_lands_in_umem_in_place() -> None:
    r, umem, xsk = _xsk_rig()
    assert xsk.zc
    woken: list[int] = []
    xsk.waiters.append(lambda: woken.append(1))
    frames = [frame(sport=i + 1) for i in range(3)]
    for f in frames:
        r.inject(f)
    r.settle()
    assert xsk.rx.producer == 3 and woken
    descs = _read_rx(xsk)
    # chunk + XDP_PACKET_HEADROOM, as the kernel reports (addr=256, 4352, ...)
    assert [d.addr for d in descs] == [256, 4096 + 256, 8192 + 256]
    assert [bytes(umem.frame(d)) for d in descs] == frames
    view = umem.frame(descs[0])
    view[0] = 0xEE  # the view is UMEM itself: no copy was handed out
    assert umem.area[256] == 0xEE
    st = xsk.statistics()
    assert st["rx_copies"] == 0 and st["rx_copy_bytes"] == 0 and st["rx_packets"] == 3
    assert r.passed == [] and dict(r.nics[0].get_ethtool_stats())["rx_xdp_redirect"] == 3


def test_copy_mode_counts_one_copy_per_frame() -> None:
    r, umem, xsk = _xsk_rig(XDP_COPY)
    assert not xsk.zc
    f = frame()
    for _ in range(3):
        r.inject(f)
    r.settle()
    descs = _read_rx(xsk)
    assert [bytes(umem.frame(d)) for d in descs] == [f, f, f]
    st = xsk.statistics()
    assert st["rx_copies"] == 3 and st["rx_copy_bytes"] == 3 * len(f)


def test_empty_fill_ring_drops_and_counts() -> None:
    r, umem, xsk = _xsk_rig(fill=False)
    umem.fill_all([0])  # one chunk only
    exc: list[Any] = []
    r.host.tracepoints.subscribe("xdp:xdp_exception", exc.append)
    for i in range(3):
        r.inject(frame(sport=i + 1))
    r.settle()
    st = xsk.statistics()
    assert st["rx_packets"] == 1
    assert st["rx_dropped"] == 2 and st["rx_fill_ring_empty_descs"] == 2
    s = dict(r.nics[0].get_ethtool_stats())
    assert s["rx_xdp_redirect"] == 1 and s["rx_xdp_redirect_err"] == 2
    assert len(exc) == 2


def test_full_rx_ring_drops_and_returns_the_chunk() -> None:
    r, umem, xsk = _xsk_rig(rx=2)
    for i in range(5):
        r.inject(frame(sport=i + 1))
    r.settle()
    st = xsk.statistics()
    assert st["rx_packets"] == 2 and st["rx_ring_full"] == 3
    assert len(umem.free_list) == 1  # xsk_buff_free: the chunk goes back to the pool
    descs = _read_rx(xsk)
    assert len(descs) == 2
    r.inject(frame(sport=99))
    r.settle()
    (d,) = _read_rx(xsk)
    assert d.addr == 2 * 4096 + 256 and umem.free_list == []  # the freed chunk reused


def test_socket_must_be_bound_to_the_receiving_queue() -> None:
    r, _, xsk = _xsk_rig(queue=1, nq=2)
    r.inject(frame())
    r.settle()
    assert xsk.statistics()["rx_packets"] == 0
    assert dict(r.nics[0].get_ethtool_stats())["rx_xdp_redirect_err"] == 1


def test_xskmap_takes_only_bound_sockets() -> None:
    r = rig()
    xsks = XskMap(4, 4, 4, name="xsks")
    XdpProg.from_asm(r.host, REDIRECT_MAP_QUEUE, maps=[xsks])
    unbound = XskSocket(r.host, Umem(4))
    for fd in (unbound.fd, 12345):
        with pytest.raises(OSError) as e:
            xsks.update(u32(0), u32(fd))
        assert e.value.errno == errno.EBADF
    with pytest.raises(OSError):
        unbound.bind(r.nics[0], 0, XDP_COPY | XDP_ZEROCOPY)


# -- transmit ---------------------------------------------------------------------------------

def _queue_tx(umem: Umem, xsk: XskSocket, payloads: list[bytes], first: int = 8) -> None:
    idx = xsk.tx.reserve(len(payloads))
    assert idx is not None
    for i, p in enumerate(payloads):
        addr = (first + i) * umem.chunk_size
        umem.area[addr:addr + len(p)] = p
        xsk.tx[idx + i] = XdpDesc(addr, len(p))
    xsk.tx.submit(len(payloads))


def _completions(umem: Umem) -> list[int]:
    n, idx = umem.comp.peek(64)
    out = [umem.comp[idx + i] for i in range(n)]
    umem.comp.release(n)
    return out


@pytest.mark.parametrize("flags", [XDP_ZEROCOPY, XDP_COPY])
def test_transmit_and_completion(flags: int) -> None:
    r, umem, xsk = _xsk_rig(flags)
    frames = [frame(sport=i + 1, payload=b"from user space") for i in range(3)]
    _queue_tx(umem, xsk, frames)
    assert xsk.sendto() == 0
    r.settle()
    assert r.sinks[0].frames == frames
    assert _completions(umem) == [8 * 4096, 9 * 4096, 10 * 4096]
    st = xsk.statistics()
    assert st["tx_packets"] == 3
    assert st["tx_copies"] == (0 if flags == XDP_ZEROCOPY else 3)
    assert r.nics[0].tx_queues[0].tx_packets == 3


def test_invalid_tx_descriptors_and_an_empty_kick() -> None:
    r, umem, xsk = _xsk_rig()
    assert xsk.sendto() == 0
    assert xsk.statistics()["tx_ring_empty_descs"] == 1
    idx = xsk.tx.reserve(3)
    assert idx is not None
    xsk.tx[idx] = XdpDesc(16 * 4096, 60)        # past the UMEM
    xsk.tx[idx + 1] = XdpDesc(4096 - 10, 60)    # crosses a chunk boundary
    umem.area[8192:8192 + 60] = frame()[:60].ljust(60, b"\0")
    xsk.tx[idx + 2] = XdpDesc(8192, 60)
    xsk.tx.submit(3)
    xsk.sendto()
    r.settle()
    assert xsk.statistics()["tx_invalid_descs"] == 2
    assert len(r.sinks[0].frames) == 1 and _completions(umem) == [8192]


def test_completion_ring_full_holds_transmission_back() -> None:
    r = rig()
    umem = Umem(8, 4096, fill_size=8, comp_size=2)
    xsk = XskSocket(r.host, umem, rx_size=8, tx_size=8)
    xsk.bind(r.nics[0], 0)
    _queue_tx(umem, xsk, [frame(sport=i + 1) for i in range(4)], first=0)
    with pytest.raises(OSError) as e:  # zero-copy needs the driver's XDP mode (ixgbe)
        xsk.sendto()
    assert e.value.errno == errno.ENETDOWN
    dev_xdp_attach(r.nics[0], XdpProg.from_asm(r.host, "mov %r0, 2\nexit\n"))
    xsk.sendto()
    r.settle()
    assert len(r.sinks[0].frames) == 2 and xsk.tx.available() == 2
    assert _completions(umem) == [0, 4096]
    xsk.sendto()
    r.settle()
    assert len(r.sinks[0].frames) == 4 and _completions(umem) == [8192, 12288]
