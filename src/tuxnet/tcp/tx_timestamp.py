"""TCP's part of SO_TIMESTAMPING (net/ipv4/tcp.c: tcp_tx_timestamp;
net/ipv4/tcp_input.c: tcp_ack_tstamp; net/ipv4/tcp_output.c: tcp_fragment_tstamp).

Only the last byte of each send is stamped: tcp_sendmsg marks the write queue's tail
skb (its shared info gets the SKBTX_* request and the byte key ``tskey``, the sequence
number of its last byte; TCP_SKB_CB's ``txstamp_ack`` the ACK report). The device
layer reports SCHED and SND for the copies of that skb it transmits
(skb/tstamp.py); the ACK report goes out when a cumulative ACK covers the key. When
tcp_fragment splits a marked skb, the mark follows the part that holds the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.skb.tstamp import (
    SCM_TSTAMP_ACK,
    SKBTX_ANY_TSTAMP,
    SOF_TIMESTAMPING_TX_ACK,
    SOF_TIMESTAMPING_TX_RECORD_MASK,
    skb_tstamp_tx,
    sock_tx_timestamp,
)
from tuxnet.tcp.seq import before
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_ack_tstamp", "tcp_fragment_tstamp", "tcp_tx_timestamp"]

_M32 = 0xFFFFFFFF


def tcp_tx_timestamp(sk: TcpSock) -> None:
    """tcp_tx_timestamp(): at the end of a send, mark the write queue tail's last byte
    for the socket's SO_TIMESTAMPING reports."""
    tsflags = sk.sk_tsflags
    wq = sk.sk_write_queue
    if not tsflags or not wq:
        return
    skb = wq[-1]
    cb = tcp_cb(skb)
    sh = skb.shinfo
    sh.tx_flags |= sock_tx_timestamp(tsflags)
    if tsflags & SOF_TIMESTAMPING_TX_ACK:
        cb.txstamp_ack = True
    if tsflags & SOF_TIMESTAMPING_TX_RECORD_MASK:
        sh.tskey = (cb.seq + skb.len - 1) & _M32


def tcp_has_tx_tstamp(skb: SkBuff) -> bool:
    """tcp_has_tx_tstamp(): any report is asked for on this skb."""
    return tcp_cb(skb).txstamp_ack or bool(skb.shinfo.tx_flags & SKBTX_ANY_TSTAMP)


def tcp_fragment_tstamp(skb: SkBuff, buff: SkBuff) -> None:
    """tcp_fragment_tstamp(): ``buff`` (the second part of ``skb``) takes the request
    when the key lies in it."""
    if not tcp_has_tx_tstamp(skb) or before(skb.shinfo.tskey, tcp_cb(buff).seq):
        return
    sh, sh2 = skb.shinfo, buff.shinfo
    flags = sh.tx_flags & SKBTX_ANY_TSTAMP
    sh.tx_flags &= ~flags
    sh2.tx_flags |= flags
    sh.tskey, sh2.tskey = sh2.tskey, sh.tskey
    cb, cb2 = tcp_cb(skb), tcp_cb(buff)
    cb2.txstamp_ack, cb.txstamp_ack = cb.txstamp_ack, False


def tcp_ack_tstamp(sk: TcpSock, skb: SkBuff, prior_snd_una: int) -> None:
    """tcp_ack_tstamp(): the ACK report once this ACK newly covers the key."""
    if not tcp_cb(skb).txstamp_ack:
        return
    key = skb.shinfo.tskey
    if not before(key, prior_snd_una) and before(key, sk.snd_una):
        skb_tstamp_tx(skb, sk, SCM_TSTAMP_ACK)
