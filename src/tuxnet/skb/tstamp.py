"""Transmit timestamps (net/core/skbuff.c: __skb_tstamp_tx, skb_tstamp_tx,
__skb_complete_tx_timestamp, skb_may_tx_timestamp; net/socket.c: __sock_tx_timestamp;
include/linux/skbuff.h: skb_tx_timestamp, SKBTX_*; include/uapi/linux/net_tstamp.h:
SOF_TIMESTAMPING_*; Documentation/networking/timestamping.rst).

SO_TIMESTAMPING asks for a report when a send's data is scheduled (SCM_TSTAMP_SCHED:
entering the device's queueing layer, __dev_queue_xmit), handed to the driver
(SCM_TSTAMP_SND: skb_tx_timestamp in ndo_start_xmit) and acknowledged
(SCM_TSTAMP_ACK: TCP's tcp_ack_tstamp). The protocol marks the skb holding the data
(``shinfo.tx_flags``, ``shinfo.tskey``); clones share the shared info, so the copy a
device sees carries the request. Each report is an skb on the error queue: a clone of
the packet (or an empty skb with SOF_TIMESTAMPING_OPT_TSONLY) stamped with the host
clock (tuxnet: the loop's virtual time, as CLOCK_REALTIME) and a SockExterrSkb of
ee_errno ENOMSG, origin SO_EE_ORIGIN_TIMESTAMPING, ee_info the stamp type and, with
OPT_ID, ee_data the byte key (relative to sk_tskey for TCP).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from tuxnet.skb.buff import alloc_skb
from tuxnet.skb.exterr import (
    SO_EE_ORIGIN_TIMESTAMPING,
    SockExtendedErr,
    SockExterrSkb,
    sock_queue_err_skb,
)
from tuxnet.skb.zcopy import skb_orphan_frags_rx

if TYPE_CHECKING:
    from tuxnet.skb.buff import SkBuff

__all__ = [
    "SCM_TSTAMP_ACK",
    "SCM_TSTAMP_SCHED",
    "SCM_TSTAMP_SND",
    "SKBTX_SCHED_TSTAMP",
    "SKBTX_SW_TSTAMP",
    "SOF_TIMESTAMPING_OPT_ID",
    "SOF_TIMESTAMPING_TX_ACK",
    "SOF_TIMESTAMPING_TX_RECORD_MASK",
    "skb_tstamp_tx",
    "skb_tx_timestamp",
    "sock_tx_timestamp",
]

# include/uapi/linux/net_tstamp.h
SOF_TIMESTAMPING_TX_HARDWARE = 1 << 0
SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_RX_HARDWARE = 1 << 2
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_SYS_HARDWARE = 1 << 5
SOF_TIMESTAMPING_RAW_HARDWARE = 1 << 6
SOF_TIMESTAMPING_OPT_ID = 1 << 7
SOF_TIMESTAMPING_TX_SCHED = 1 << 8
SOF_TIMESTAMPING_TX_ACK = 1 << 9
SOF_TIMESTAMPING_OPT_CMSG = 1 << 10
SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11
SOF_TIMESTAMPING_OPT_STATS = 1 << 12
SOF_TIMESTAMPING_OPT_PKTINFO = 1 << 13
SOF_TIMESTAMPING_OPT_TX_SWHW = 1 << 14
SOF_TIMESTAMPING_BIND_PHC = 1 << 15
SOF_TIMESTAMPING_OPT_ID_TCP = 1 << 16
SOF_TIMESTAMPING_OPT_RX_FILTER = 1 << 17
SOF_TIMESTAMPING_TX_COMPLETION = 1 << 18
SOF_TIMESTAMPING_MASK = (SOF_TIMESTAMPING_TX_COMPLETION << 1) - 1
SOF_TIMESTAMPING_TX_RECORD_MASK = (SOF_TIMESTAMPING_TX_HARDWARE | SOF_TIMESTAMPING_TX_SOFTWARE
                                   | SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_ACK
                                   | SOF_TIMESTAMPING_TX_COMPLETION)
# include/uapi/linux/errqueue.h: ee_info of a timestamp report
SCM_TSTAMP_SND = 0
SCM_TSTAMP_SCHED = 1
SCM_TSTAMP_ACK = 2
SCM_TSTAMP_COMPLETION = 3
# include/linux/skbuff.h: skb_shinfo(skb)->tx_flags
SKBTX_HW_TSTAMP = 1 << 0
SKBTX_SW_TSTAMP = 1 << 1
SKBTX_IN_PROGRESS = 1 << 2
SKBTX_SCHED_TSTAMP = 1 << 6
SKBTX_ANY_TSTAMP = SKBTX_HW_TSTAMP | SKBTX_SW_TSTAMP | SKBTX_SCHED_TSTAMP

_M32 = 0xFFFFFFFF


def sock_tx_timestamp(tsflags: int) -> int:
    """__sock_tx_timestamp(): the SKBTX_* request bits for a socket's SOF_* flags."""
    flags = 0
    if tsflags & SOF_TIMESTAMPING_TX_HARDWARE:
        flags |= SKBTX_HW_TSTAMP
    if tsflags & SOF_TIMESTAMPING_TX_SOFTWARE:
        flags |= SKBTX_SW_TSTAMP
    if tsflags & SOF_TIMESTAMPING_TX_SCHED:
        flags |= SKBTX_SCHED_TSTAMP
    return flags


def _complete_tx_timestamp(skb: SkBuff, sk: Any, tstype: int) -> None:
    """__skb_complete_tx_timestamp(): the report's extended error, then the queue."""
    ee = SockExtendedErr(ee_errno=errno.ENOMSG, ee_origin=SO_EE_ORIGIN_TIMESTAMPING,
                         ee_info=tstype)
    iif = getattr(skb.dev, "ifindex", 0) if skb.dev is not None else 0
    if sk.sk_tsflags & SOF_TIMESTAMPING_OPT_ID:
        ee.ee_data = skb.shinfo.tskey
        if sk.sk_type == 1 and sk.sk_protocol == 6:  # sk_is_tcp: relative to sk_tskey
            ee.ee_data = (ee.ee_data - sk.sk_tskey) & _M32
    skb.cb = SockExterrSkb(ee, iif=iif)
    if sock_queue_err_skb(sk, skb):
        skb.free()


def skb_tstamp_tx(orig: SkBuff, sk: Any, tstype: int) -> None:
    """__skb_tstamp_tx() (software stamps): queue a report of ``tstype`` for ``orig``
    on ``sk``'s error queue, unless the socket no longer exists or a hardware stamp is
    pending without OPT_TX_SWHW."""
    if sk is None:
        return
    tsflags: int = sk.sk_tsflags
    if not tsflags & SOF_TIMESTAMPING_OPT_TX_SWHW and orig.shinfo.tx_flags & \
            SKBTX_IN_PROGRESS:
        return
    tsonly = bool(tsflags & SOF_TIMESTAMPING_OPT_TSONLY)
    if not tsonly and not sk.host.sysctl.get_int("net.core.tstamp_allow_data"):
        return  # skb_may_tx_timestamp: tuxnet's caller has CAP_NET_RAW, which passes
    if tsonly:
        skb = alloc_skb(0)
        skb.shinfo.tx_flags |= orig.shinfo.tx_flags & SKBTX_ANY_TSTAMP
        skb.shinfo.tskey = orig.shinfo.tskey
    else:
        skb = orig.clone()
        if skb_orphan_frags_rx(skb):
            skb.free()
            return
    skb.tstamp = sk.host.now_ns()  # __net_timestamp: ktime_get_real()
    _complete_tx_timestamp(skb, sk, tstype)


def skb_tx_timestamp(skb: SkBuff) -> None:
    """skb_tx_timestamp(): what a driver calls as it takes ``skb``: the software
    SCM_TSTAMP_SND report when requested."""
    if skb.shinfo.tx_flags & SKBTX_SW_TSTAMP:
        skb_tstamp_tx(skb, skb.sk, SCM_TSTAMP_SND)
