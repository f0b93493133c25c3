"""MSG_ZEROCOPY's completion tracking (net/core/skbuff.c: msg_zerocopy_alloc,
msg_zerocopy_realloc, msg_zerocopy_complete, __msg_zerocopy_callback,
msg_zerocopy_put_abort, skb_zerocopy_notify_extend, skb_copy_ubufs;
include/linux/skbuff.h: skb_zcopy, skb_zcopy_set, skb_orphan_frags_rx;
Documentation/networking/msg_zerocopy.rst).

A zerocopy send pins the caller's buffer: the skbs' frags reference it (memoryviews,
no copy) and their shared info holds a :class:`UbufInfoMsgzc` (``destructor_arg``).
Each shared info holding it and the send call itself count one reference; when the
last skb over the pages is freed (the data was acknowledged) the notification -- an
skb queued on the socket's error queue whose SockExterrSkb carries the range
[ee_info, ee_data] of send-call ids -- tells the application it may reuse the buffers.
Consecutive completions coalesce into one range (skb_zerocopy_notify_extend).

If some path had to copy the pages after all (skb_orphan_frags_rx: delivery to a
local socket, the tun device packetdrill reads), the notification carries
SO_EE_CODE_ZEROCOPY_COPIED. Pinned-page accounting against RLIMIT_MEMLOCK
(mm_account_pinned_pages) is not modelled: tuxnet runs as a CAP_IPC_LOCK user would.
"""

from __future__ import annotations

from typing import Any

from tuxnet.skb.buff import SkBuff, alloc_skb
from tuxnet.skb.defs import SKB_TRUESIZE_OVERHEAD, SkbFrag
from tuxnet.skb.exterr import (
    SO_EE_CODE_ZEROCOPY_COPIED,
    SO_EE_ORIGIN_ZEROCOPY,
    SockExtendedErr,
    SockExterrSkb,
)

__all__ = [
    "PAGE_SIZE",
    "UbufInfo",
    "UbufInfoMsgzc",
    "msg_zerocopy_put_abort",
    "msg_zerocopy_realloc",
    "net_zcopy_put",
    "skb_orphan_frags_rx",
    "skb_zcopy",
    "skb_zcopy_set",
]

PAGE_SIZE = 4096
_USHRT_MAX = 0xFFFF
_BYTE_LIMIT = 1 << 19  # msg_zerocopy_realloc: "limit to a few TSO"
_M32 = 0xFFFFFFFF


class UbufInfo:
    """struct ubuf_info: a reference count and the ops' complete() callback."""

    __slots__ = ("refcnt",)

    def __init__(self) -> None:
        self.refcnt = 1

    def get(self) -> None:
        """net_zcopy_get()."""
        self.refcnt += 1

    def complete(self, success: bool) -> None:
        """uarg->ops->complete(skb, uarg, zerocopy_success): drop one reference."""
        raise NotImplementedError


class UbufInfoMsgzc(UbufInfo):
    """struct ubuf_info_msgzc: the id range [id, id + len) of the send calls it covers,
    their bytes, and whether every skb left without a copy (``zerocopy``). ``skb`` is
    the notification skb it lives in (Linux keeps the uarg in that skb's cb)."""

    __slots__ = ("bytelen", "id", "len", "sk", "skb", "zerocopy")

    def __init__(self, sk: Any, skb: SkBuff, size: int) -> None:
        super().__init__()
        self.sk = sk
        self.skb = skb
        self.id = sk.sk_zckey
        sk.sk_zckey = (sk.sk_zckey + 1) & _M32
        self.len = 1
        self.bytelen = size
        self.zerocopy = True

    def complete(self, success: bool) -> None:
        """msg_zerocopy_complete(): remember a copy, run the callback on the last put."""
        self.zerocopy = self.zerocopy and success
        self.refcnt -= 1
        if self.refcnt == 0:
            _msg_zerocopy_callback(self)


def _sock_ofree(skb: SkBuff) -> None:
    """sock_ofree(): the notification skb leaves sk_omem_alloc."""
    sk = skb.sk
    if sk is not None:
        sk.sk_omem_alloc -= skb.truesize


def _msg_zerocopy_alloc(sk: Any, size: int) -> UbufInfoMsgzc | None:
    """msg_zerocopy_alloc(): a notification skb from option memory (sock_omalloc: None
    once sk_omem_alloc would pass net.core.optmem_max) carrying a fresh uarg."""
    optmem_max = sk.host.sysctl.get_int("net.core.optmem_max")
    if sk.sk_omem_alloc + SKB_TRUESIZE_OVERHEAD > optmem_max:  # SKB_TRUESIZE(0)
        return None
    skb = alloc_skb(0)
    sk.sk_omem_alloc += skb.truesize
    skb.sk = sk
    skb.destructor = _sock_ofree
    return UbufInfoMsgzc(sk, skb, size)


def msg_zerocopy_realloc(sk: Any, size: int, uarg: UbufInfo | None) -> UbufInfoMsgzc | None:
    """msg_zerocopy_realloc(): extend the write queue tail's uarg by one id when this
    send directly follows it (one notification for both), else allocate a new one.
    None: out of option memory (the send fails with ENOBUFS)."""
    if uarg is not None:
        if not isinstance(uarg, UbufInfoMsgzc):
            return None  # there might be non MSG_ZEROCOPY users
        bytelen = uarg.bytelen + size
        if uarg.len < _USHRT_MAX - 1 and bytelen <= _BYTE_LIMIT:
            if (uarg.id + uarg.len) & _M32 == sk.sk_zckey:
                uarg.len += 1
                uarg.bytelen = bytelen
                sk.sk_zckey = (sk.sk_zckey + 1) & _M32
                if sk.sk_type == 1:  # SOCK_STREAM: no extra ref for a corked datagram
                    uarg.get()
                return uarg
        elif sk.sk_type != 1:
            return None
    return _msg_zerocopy_alloc(sk, size)


def net_zcopy_put(uarg: UbufInfo | None) -> None:
    """net_zcopy_put(): the send call's reference is dropped."""
    if uarg is not None:
        uarg.complete(True)


def msg_zerocopy_put_abort(uarg: UbufInfo | None, have_uref: bool) -> None:
    """net_zcopy_put_abort() / msg_zerocopy_put_abort(): the send failed before queueing
    anything: give the id back, and drop the call's reference."""
    if uarg is None:
        return
    if isinstance(uarg, UbufInfoMsgzc):
        uarg.sk.sk_zckey = (uarg.sk.sk_zckey - 1) & _M32
        uarg.len -= 1
        if have_uref:
            uarg.complete(True)
    elif have_uref:
        uarg.complete(True)


def _notify_extend(tail: SkBuff, lo: int, length: int) -> bool:
    """skb_zerocopy_notify_extend(): append [lo, lo + length) to the queued tail's
    range when it continues it and the sum still fits 32 bits."""
    ee = tail.cb.ee
    old_lo, old_hi = ee.ee_info, ee.ee_data
    if ((old_hi - old_lo) & _M32) + 1 + length >= 1 << 32:
        return False
    if lo != (old_hi + 1) & _M32:
        return False
    ee.ee_data = (ee.ee_data + length) & _M32
    return True


def _msg_zerocopy_callback(uarg: UbufInfoMsgzc) -> None:
    """__msg_zerocopy_callback(): queue (or coalesce) the completion of the range on
    the error queue and report it; a fully aborted uarg (len 0) notifies nothing."""
    skb = uarg.skb
    sk = uarg.sk
    if not uarg.len or "SOCK_DEAD" in sk.sock_flags:
        skb.free()
        return
    lo = uarg.id
    hi = (uarg.id + uarg.len - 1) & _M32
    ee = SockExtendedErr(ee_errno=0, ee_origin=SO_EE_ORIGIN_ZEROCOPY, ee_info=lo,
                         ee_data=hi)
    if not uarg.zerocopy:
        ee.ee_code |= SO_EE_CODE_ZEROCOPY_COPIED
    skb.cb = SockExterrSkb(ee)
    q = sk.sk_error_queue
    tail = q[-1] if q else None
    merged = (tail is not None and isinstance(tail.cb, SockExterrSkb)
              and tail.cb.ee.ee_origin == SO_EE_ORIGIN_ZEROCOPY
              and _notify_extend(tail, lo, uarg.len))
    if not merged:
        q.append(skb)  # __skb_queue_tail: charged to optmem, not to the receive buffer
    sk.sk_error_report()
    if merged:
        skb.free()  # consume_skb: merged into the queued notification


def skb_zcopy(skb: SkBuff) -> UbufInfo | None:
    """skb_zcopy(): the uarg whose pages the skb's frags reference (None if none)."""
    ua: UbufInfo | None = skb.shinfo.destructor_arg
    return ua


def skb_zcopy_set(skb: SkBuff, uarg: UbufInfo | None) -> None:
    """skb_zcopy_set(): attach ``uarg`` (taking a reference) unless already attached."""
    if uarg is not None and skb.shinfo.destructor_arg is None:
        uarg.get()
        skb.shinfo.destructor_arg = uarg


def skb_orphan_frags_rx(skb: SkBuff) -> int:
    """skb_orphan_frags_rx() -> skb_copy_ubufs(): before the data may linger outside
    the sender's control (a local receiver, a tun reader), copy user pages into kernel
    pages and complete the uarg as *not* zerocopy. Returns 0 or -EINVAL (shared)."""
    ua = skb.shinfo.destructor_arg
    if ua is None:
        return 0
    if skb.is_shared():
        return -22
    if skb.is_cloned():
        skb.pskb_expand_head(0, 0)  # skb_unclone: a private shinfo (its own uarg ref)
    sh = skb.shinfo
    if sh.frags:
        data = memoryview(bytearray(b"".join(f.view() for f in sh.frags)))
        sh.frags = [SkbFrag(data, off, min(PAGE_SIZE, len(data) - off))
                    for off in range(0, len(data), PAGE_SIZE)]
    ua = sh.destructor_arg
    sh.destructor_arg = None
    if ua is not None:
        ua.complete(False)  # skb_zcopy_clear(skb, false)
    return 0
