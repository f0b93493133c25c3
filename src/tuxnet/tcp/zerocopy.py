"""MSG_ZEROCOPY in tcp_sendmsg (net/ipv4/tcp.c: tcp_sendmsg_locked's zerocopy path;
net/core/skbuff.c: skb_zerocopy_iter_stream; net/core/datagram.c:
__zerocopy_sg_from_iter, zerocopy_fill_skb_from_iter; lib/iov_iter.c).

A zerocopy send does not copy the caller's bytes: each write-queue skb gets page
fragments over the caller's buffers (memoryviews) and a reference to the send's
:class:`~tuxnet.skb.zcopy.UbufInfoMsgzc`; the application learns from the error
queue when the data was acknowledged and the buffers may be reused.

Fragments follow the pages of the user buffers (each iovec element is its own
allocation, taken to start on a page boundary): bytes of one page that follow each
other share a fragment, a new page or a new iovec element starts one. One Linux skb
holds at most MAX_SKB_FRAGS (17) fragments; when they run out tcp_sendmsg marks PSH on
it and starts a new skb (-EMSGSIZE), as when the tail skb belongs to another send's
uarg (-EEXIST). tuxnet's write queue holds one skb per MSS where Linux has one skb of
up to size_goal bytes, so the fragment count is kept per Linux skb (:class:`ZcSend`
``frags``) across the MSS skbs that make it up. Each fragment charges a page to the
skb's truesize (PAGE_ALIGN in zerocopy_fill_skb_from_iter).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tuxnet.core.netdevice import NETIF_F_SG
from tuxnet.skb import MAX_SKB_FRAGS
from tuxnet.skb.zcopy import (
    PAGE_SIZE,
    UbufInfoMsgzc,
    msg_zerocopy_put_abort,
    msg_zerocopy_realloc,
    net_zcopy_put,
    skb_zcopy,
    skb_zcopy_set,
)
from tuxnet.socket.core import sock_errno

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["IovIter", "ZcSend", "skb_split_frags", "skb_zerocopy_iter_stream",
           "tcp_splice_begin", "tcp_zerocopy_begin", "tcp_zerocopy_end"]

EMSGSIZE = -errno.EMSGSIZE
EEXIST = -errno.EEXIST


class IovIter:
    """struct iov_iter over the send's buffers: the current element and offset.
    ``base`` is the file offset of the first byte for page-cache pages (splice), 0 for
    user buffers (taken to start on a page boundary)."""

    __slots__ = ("base", "count", "idx", "off", "segs")

    def __init__(self, segs: Sequence[memoryview], base: int = 0) -> None:
        self.segs = [s for s in segs if len(s)]  # zero-length elements are skipped
        self.idx = 0
        self.off = 0
        self.base = base
        self.count = sum(len(s) for s in self.segs)

    @classmethod
    def of(cls, data: Any) -> IovIter:
        """An iterator over one buffer, or over a list/tuple of them (an iovec)."""
        if isinstance(data, (list, tuple)):
            return cls([_byte_view(b) for b in data])
        return cls([_byte_view(data)])

    def linear(self) -> memoryview:
        """The bytes as one buffer: the only element itself, else a joined copy (what
        copy_from_iter gathers anyway)."""
        if len(self.segs) == 1:
            return self.segs[0]
        return memoryview(b"".join(self.segs))


def _byte_view(b: Any) -> memoryview:
    v = b if isinstance(b, memoryview) else memoryview(b)
    return v if v.format == "B" and v.ndim == 1 else v.cast("B")


class ZcSend:
    """One zerocopy tcp_sendmsg: the uarg (None for spliced page-cache pages,
    MSG_SPLICE_PAGES), whether frags are used (route has SG) and the fragment
    bookkeeping of the Linux skb being filled."""

    __slots__ = ("frags", "it", "last", "sg", "uarg")

    def __init__(self, uarg: UbufInfoMsgzc | None, sg: bool, it: IovIter) -> None:
        self.uarg = uarg
        self.sg = sg
        self.it = it
        self.frags = 0  # fragments in the current Linux skb
        self.last: tuple[int, int, int] | None = None  # (element, page, end offset)

    def new_linux_skb(self, tail: SkBuff | None) -> None:
        """A new Linux skb starts (or the send appends to ``tail``'s)."""
        self.frags = tail.nr_frags if tail is not None else 0
        self.last = None


def _route_sg(sk: TcpSock) -> bool:
    """sk_route_caps & NETIF_F_SG: the route's device takes page fragments."""
    dst = sk.dst
    dev = getattr(dst.rt, "dev", None) if dst is not None else None
    return dev is not None and bool(dev.features & NETIF_F_SG)


def tcp_splice_begin(sk: TcpSock, it: IovIter) -> ZcSend | None:
    """MSG_SPLICE_PAGES (sendfile, splice to a socket): the pages become fragments when
    the route does scatter-gather, else they are copied ("copy if we can't")."""
    if not it.count or not _route_sg(sk):
        return None
    zc = ZcSend(None, True, it)
    wq = sk.sk_write_queue
    zc.new_linux_skb(wq[-1] if wq else None)
    return zc


def tcp_zerocopy_begin(sk: TcpSock, size: int, it: IovIter) -> ZcSend | None:
    """The start of tcp_sendmsg_locked for MSG_ZEROCOPY: without SOCK_ZEROCOPY the flag
    is ignored; else the tail skb's uarg is extended or a new one allocated (ENOBUFS
    when option memory is exhausted). Without a scatter-gather route the data is
    copied and the completion says so (uarg->zerocopy = 0)."""
    if not size or "SOCK_ZEROCOPY" not in sk.sock_flags:
        return None
    wq = sk.sk_write_queue
    tail = wq[-1] if wq else None
    uarg = msg_zerocopy_realloc(sk, size, skb_zcopy(tail) if tail is not None else None)
    if uarg is None:
        raise sock_errno(errno.ENOBUFS)
    sg = _route_sg(sk)
    if not sg:
        uarg.zerocopy = False
    zc = ZcSend(uarg, sg, it)
    zc.new_linux_skb(tail)
    return zc


def tcp_zerocopy_end(zc: ZcSend | None, ok: bool) -> None:
    """The send call's reference: net_zcopy_put when it queued data, else
    net_zcopy_put_abort (the id is given back; a lone uarg notifies nothing)."""
    if zc is None or zc.uarg is None:
        return
    if ok:
        net_zcopy_put(zc.uarg)
    else:
        msg_zerocopy_put_abort(zc.uarg, True)


def skb_zerocopy_iter_stream(sk: TcpSock, skb: SkBuff, zc: ZcSend, length: int) -> int:
    """skb_zerocopy_iter_stream(): append up to ``length`` bytes of the send's buffers
    to ``skb`` as fragments. Returns the bytes added, -EEXIST when ``skb`` belongs to
    another uarg, -EMSGSIZE when the Linux skb has no fragment left and nothing was
    added. sk_wmem_queued grows by the pages charged."""
    uarg = zc.uarg
    orig = skb_zcopy(skb)
    if uarg is not None and orig is not None and orig is not uarg:
        return EEXIST
    it = zc.it
    added = 0
    charged = 0
    while length and it.count:
        seg = it.segs[it.idx]
        pos = it.off
        fpos = it.base + pos  # the byte's place in its pages
        page = fpos // PAGE_SIZE
        n = min(length, len(seg) - pos, PAGE_SIZE - fpos % PAGE_SIZE)
        # skb_splice_from_iter charges the bytes, a pinned user page the whole page
        charge = n if uarg is None else PAGE_SIZE
        if zc.last == (it.idx, page, pos):
            # the Linux skb's fragment on this page began in the previous MSS skb
            skb.add_frag(seg, pos, n, n if uarg is None else 0)
            charged += n if uarg is None else 0
        else:
            if zc.frags >= MAX_SKB_FRAGS:
                break
            zc.frags += 1
            skb.add_frag(seg, pos, n, charge)
            charged += charge
        zc.last = (it.idx, page, pos + n)
        added += n
        length -= n
        it.count -= n
        it.off += n
        if it.off == len(seg):
            it.idx += 1
            it.off = 0
    if not added:
        return EMSGSIZE
    if uarg is not None:
        skb_zcopy_set(skb, uarg)
    sk.sk_wmem_queued += charged
    return added


def skb_split_frags(skb: SkBuff, buff: SkBuff, length: int) -> int:
    """skb_split() for tcp_fragment on a skb with page fragments: what lies past
    ``length`` bytes -- the rest of the linear part and the fragments, the one across
    the cut shared by both -- moves to the empty ``buff``, which also takes a
    reference on the zerocopy uarg (skb_zerocopy_clone). Returns the bytes moved."""
    nlen = skb.len - length
    hl = skb.len - skb.data_len
    frags = list(skb.shinfo.frags)
    pos = hl
    if length < hl:
        buff.put_data(skb.data[length:hl])
    for f in frags:
        end = pos + f.size
        if end > length:
            cut = max(length - pos, 0)
            buff.add_frag(f.page, f.page_offset + cut, f.size - cut, 0)
        pos = end
    skb.pskb_trim(length)
    skb_zcopy_set(buff, skb_zcopy(skb))
    return nlen
