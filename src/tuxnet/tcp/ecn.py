"""Explicit Congestion Notification in TCP, RFC 3168 ("classic" ECN; include/net/
tcp_ecn.h and the ECN parts of net/ipv4/tcp_input.c, tcp_output.c, tcp_minisocks.c).

``net.ipv4.tcp_ecn``: 0 off, 1 request ECN on outgoing connections and accept it on
incoming ones, 2 (the default) only accept it. Negotiation (RFC 3168 6.1.1): the SYN
carries ECE+CWR, a willing server answers ECE without CWR; an ECN SYN retransmitted
goes without the flags (tcp_ecn_fallback, 6.1.1.1). On an ECN connection new data
leaves as ECT(0) (INET_ECN_xmit sets the socket's TOS ECN bits; pure ACKs and
retransmissions go Not-ECT, 6.1.5). A receiver that sees CE echoes ECE on every
segment until a segment with CWR arrives (6.1.3), and ACKs at once meanwhile
(quick-ACK mode); a sender that sees ECE reduces cwnd once per window: tcp_enter_cwr
(CA_CWR with PRR) outside recovery, and marks CWR on its next new data segment
(TCP_ECN_QUEUE_CWR, queued by every cwnd reduction, RFC 3168 6.1.2).

Accurate ECN (tcp_ecn 3..5, RFC 9768) is not implemented: the sysctl takes 0..2.
Delivered-CE accounting: delivered_ce (tcpi_delivered_ce) counts segments ACKed or
SACKed by ECE-marked ACKs, TcpExtTCPDeliveredCE likewise (tcp_newly_delivered).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.cong import TCP_CONG_NEEDS_ECN, tcp_ca_event
from tuxnet.tcp.defs import (
    CA_EVENT_ECN_IS_CE,
    CA_EVENT_ECN_NO_CE,
    TCPHDR_CWR,
    TCPHDR_ECE,
    TCPHDR_SYN,
    TCPI_OPT_ECN,
)

if TYPE_CHECKING:
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.minisocks import TcpRequestSock
    from tuxnet.tcp.sock import TcpSkbCb, TcpSock

__all__ = ["INET_ECN_CE", "INET_ECN_ECT_0", "INET_ECN_ECT_1", "INET_ECN_MASK",
           "INET_ECN_NOT_ECT", "RTAX_FEATURE_ECN", "TCPI_OPT_ECN_SEEN", "TCP_ECN_DEMAND_CWR",
           "TCP_ECN_OK",
           "TCP_ECN_QUEUE_CWR", "TCP_ECN_SEEN", "tcp_count_delivered_ce",
           "tcp_data_ecn_check", "tcp_ecn_accept_cwr", "tcp_ecn_clear_syn",
           "tcp_ecn_create_request", "tcp_ecn_info_options", "tcp_ecn_make_synack",
           "tcp_ecn_openreq_child", "tcp_ecn_queue_cwr", "tcp_ecn_rcv_ecn_echo",
           "tcp_ecn_rcv_syn", "tcp_ecn_rcv_synack", "tcp_ecn_send", "tcp_ecn_send_syn",
           "tcp_ecn_send_synack", "tcp_ecn_withdraw_cwr"]

# include/net/inet_ecn.h: the two low bits of the IPv4 TOS / IPv6 traffic class
INET_ECN_NOT_ECT = 0
INET_ECN_ECT_1 = 1
INET_ECN_ECT_0 = 2
INET_ECN_CE = 3
INET_ECN_MASK = 3

# tp->ecn_flags (include/net/tcp.h; TCP_ECN_MODE_RFC3168 is bit 0, the old TCP_ECN_OK)
TCP_ECN_OK = 1
TCP_ECN_QUEUE_CWR = 2
TCP_ECN_DEMAND_CWR = 4
TCP_ECN_SEEN = 8

TCPI_OPT_ECN_SEEN = 16  # include/uapi/linux/tcp.h
RTAX_FEATURE_ECN = 1  # include/uapi/linux/rtnetlink.h: a route's "features ecn"

# enum tcp_ecn_mode: sysctl values that request ECN on outgoing connections
_TCP_ECN_IN_ECN_OUT_ECN = 1


def tcp_ca_needs_ecn(sk: TcpSock) -> bool:
    """tcp_ca_needs_ecn(): the congestion control asks for ECN (DCTCP)."""
    ops = sk.icsk_ca_ops
    return ops is not None and bool(ops.flags & TCP_CONG_NEEDS_ECN)


def _inet_ecn_xmit(sk: TcpSock) -> None:
    """INET_ECN_xmit(): the socket's packets leave as ECT(0)."""
    sk.tos = (sk.tos & ~INET_ECN_MASK) | INET_ECN_ECT_0


def _inet_ecn_dontxmit(sk: TcpSock) -> None:
    """INET_ECN_dontxmit(): the socket's packets leave Not-ECT."""
    sk.tos &= ~INET_ECN_MASK


# -- handshake ------------------------------------------------------------------------

def tcp_ecn_send_syn(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_ecn_send_syn(): ask for ECN (ECE+CWR on the SYN) when tcp_ecn is 1 or the
    congestion control needs it (RFC 3168 6.1.1)."""
    cb: TcpSkbCb = skb.cb
    sk.ecn_flags = 0
    dst = sk.dst
    if sk.net.sysctl("tcp_ecn") == _TCP_ECN_IN_ECN_OUT_ECN or tcp_ca_needs_ecn(sk) or \
            (dst is not None and dst.features & RTAX_FEATURE_ECN):
        if tcp_ca_needs_ecn(sk):
            _inet_ecn_xmit(sk)
        cb.tcp_flags |= TCPHDR_ECE | TCPHDR_CWR
        sk.ecn_flags = TCP_ECN_OK


def tcp_ecn_clear_syn(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_ecn_clear_syn() (RFC 3168 6.1.1.1): a retransmitted SYN goes without
    ECE/CWR when tcp_ecn_fallback is set, in case a middlebox drops ECN SYNs; the
    connection still uses ECN if the SYN-ACK agrees."""
    cb: TcpSkbCb = skb.cb
    if cb.tcp_flags & TCPHDR_SYN and cb.tcp_flags & (TCPHDR_ECE | TCPHDR_CWR) == \
            TCPHDR_ECE | TCPHDR_CWR and sk.net.sysctl("tcp_ecn_fallback"):
        cb.tcp_flags &= ~(TCPHDR_ECE | TCPHDR_CWR)


def tcp_ecn_rcv_synack(sk: TcpSock, flags: int) -> None:
    """tcp_ecn_rcv_synack(): the peer agreed only with ECE and no CWR (RFC 3168
    6.1.1); anything else leaves the connection without ECN."""
    if sk.ecn_flags & TCP_ECN_OK and (not flags & TCPHDR_ECE or flags & TCPHDR_CWR):
        sk.ecn_flags = 0


def tcp_ecn_rcv_syn(sk: TcpSock, flags: int) -> None:
    """tcp_ecn_rcv_syn(): a simultaneous open keeps ECN if the peer's SYN asked too."""
    if sk.ecn_flags & TCP_ECN_OK and (not flags & TCPHDR_ECE or not flags & TCPHDR_CWR):
        sk.ecn_flags = 0


def tcp_ecn_send_synack(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_ecn_send_synack(): our SYN resent as a SYN-ACK: no CWR; ECE only with ECN."""
    cb: TcpSkbCb = skb.cb
    cb.tcp_flags &= ~TCPHDR_CWR
    if not sk.ecn_flags & TCP_ECN_OK:
        cb.tcp_flags &= ~TCPHDR_ECE
    elif tcp_ca_needs_ecn(sk):
        _inet_ecn_xmit(sk)


def tcp_ecn_create_request(req: TcpRequestSock, listener: TcpSock, flags: int,
                           dsfield: int) -> None:
    """tcp_ecn_create_request(): a SYN with ECE+CWR, itself Not-ECT (RFC 3168 6.1.1:
    a SYN must not be ECT), makes an ECN request when tcp_ecn is on (1 or 2) or the
    route has ``features ecn``."""
    if flags & (TCPHDR_ECE | TCPHDR_CWR) != TCPHDR_ECE | TCPHDR_CWR:
        return
    ect = dsfield & INET_ECN_MASK != INET_ECN_NOT_ECT
    dst = req.dst
    ecn_ok = bool(listener.net.sysctl("tcp_ecn")) or \
        (dst is not None and bool(dst.features & RTAX_FEATURE_ECN))
    if (not ect and ecn_ok) or tcp_ca_needs_ecn(listener):
        req.ecn_ok = True


def tcp_ecn_make_synack(req: TcpRequestSock) -> int:
    """tcp_ecn_make_synack(): the SYN-ACK's ECE when the request negotiated ECN."""
    return TCPHDR_ECE if req.ecn_ok else 0


def tcp_ecn_openreq_child(child: TcpSock, req: TcpRequestSock) -> None:
    """tcp_ecn_openreq_child(): the accepted socket uses ECN if its request did."""
    child.ecn_flags = TCP_ECN_OK if req.ecn_ok else 0


# -- sending --------------------------------------------------------------------------

def tcp_ecn_send(sk: TcpSock, cb: TcpSkbCb, has_data: bool) -> None:
    """tcp_ecn_send(): new data goes ECT(0) and carries a queued CWR; pure ACKs and
    retransmissions go Not-ECT (RFC 3168 6.1.5); every segment echoes ECE while the
    peer has not answered our echo with CWR. Edits the flags of the copy being sent."""
    flags = sk.ecn_flags
    if not flags & TCP_ECN_OK:
        return
    if has_data and not ((cb.seq - sk.snd_nxt) & 0x80000000):
        _inet_ecn_xmit(sk)
        if flags & TCP_ECN_QUEUE_CWR:
            sk.ecn_flags = flags = flags & ~TCP_ECN_QUEUE_CWR
            cb.tcp_flags |= TCPHDR_CWR
    elif not tcp_ca_needs_ecn(sk):
        _inet_ecn_dontxmit(sk)
    if flags & TCP_ECN_DEMAND_CWR:
        cb.tcp_flags |= TCPHDR_ECE


def tcp_ecn_queue_cwr(sk: TcpSock) -> None:
    """tcp_ecn_queue_cwr(): the next new data segment tells the peer we reduced cwnd."""
    if sk.ecn_flags & TCP_ECN_OK:
        sk.ecn_flags |= TCP_ECN_QUEUE_CWR


def tcp_ecn_withdraw_cwr(sk: TcpSock) -> None:
    """tcp_ecn_withdraw_cwr(): a cwnd reduction undone takes its CWR back."""
    sk.ecn_flags &= ~TCP_ECN_QUEUE_CWR


# -- receiving -------------------------------------------------------------------------

def tcp_data_ecn_check(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_data_ecn_check(): a data segment's IP ECN field. CE: echo ECE until CWR
    (TCP_ECN_DEMAND_CWR) and ACK quickly; a Not-ECT segment after ECT ones is likely a
    retransmission: ACK quickly too."""
    flags = sk.ecn_flags
    if not flags & TCP_ECN_OK:
        return
    field = skb.cb.ip_dsfield & INET_ECN_MASK
    if field == INET_ECN_NOT_ECT:
        if flags & TCP_ECN_SEEN:
            from tuxnet.tcp.input import tcp_enter_quickack_mode

            tcp_enter_quickack_mode(sk, 2)
        return
    if field == INET_ECN_CE:
        if tcp_ca_needs_ecn(sk):
            tcp_ca_event(sk, CA_EVENT_ECN_IS_CE)
        if not flags & TCP_ECN_DEMAND_CWR:
            from tuxnet.tcp.input import tcp_enter_quickack_mode

            tcp_enter_quickack_mode(sk, 2)  # the sender may have a very small cwnd
            flags |= TCP_ECN_DEMAND_CWR
    elif tcp_ca_needs_ecn(sk):
        tcp_ca_event(sk, CA_EVENT_ECN_NO_CE)
    sk.ecn_flags = flags | TCP_ECN_SEEN


def tcp_ecn_accept_cwr(sk: TcpSock, skb: SkBuff) -> None:
    """tcp_ecn_accept_cwr(): the sender reduced cwnd: stop echoing ECE; ACK a data
    segment at once (its cwnd may be down to one packet)."""
    cb: TcpSkbCb = skb.cb
    if sk.ecn_flags & TCP_ECN_OK and cb.tcp_flags & TCPHDR_CWR:
        sk.ecn_flags &= ~TCP_ECN_DEMAND_CWR
        if cb.seq != cb.end_seq:
            from tuxnet.tcp.defs import ICSK_ACK_NOW

            sk.icsk_ack.pending |= ICSK_ACK_NOW


def tcp_ecn_rcv_ecn_echo(sk: TcpSock, flags: int) -> bool:
    """tcp_ecn_rcv_ecn_echo(): an ECE on a non-SYN segment of an ECN connection."""
    return bool(flags & TCPHDR_ECE) and not flags & TCPHDR_SYN and \
        bool(sk.ecn_flags & TCP_ECN_OK)


def tcp_count_delivered_ce(sk: TcpSock, delivered: int) -> None:
    """tcp_count_delivered() with an ECE ACK: the segments count as delivered CE."""
    if sk.ecn_flags & TCP_ECN_OK:
        sk.delivered_ce += delivered


def tcp_ecn_info_options(sk: TcpSock) -> int:
    """tcp_get_info(): TCPI_OPT_ECN for an ECN connection, TCPI_OPT_ECN_SEEN once an
    ECT or CE segment arrived."""
    flags = sk.ecn_flags
    return (TCPI_OPT_ECN if flags & TCP_ECN_OK else 0) | \
        (TCPI_OPT_ECN_SEEN if flags & TCP_ECN_SEEN else 0)
