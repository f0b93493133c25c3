"""ICMP errors for TCP (net/ipv4/tcp_ipv4.c: tcp_v4_err, tcp_v4_mtu_reduced, tcp_req_err;
net/ipv4/tcp_input.c: tcp_simple_retransmit; RFC 5927, RFC 1191, RFC 1122 4.2.3.9).

IPv4 calls :func:`tcp_v4_err` with skb.data at the quoted IPv4 header (at least 8 bytes
of the TCP header after it) and the ICMP header at the transport header. The quoted
sequence number must lie in [snd_una, snd_nxt) or the message is ignored
(OutOfWindowIcmps, RFC 5927 4.1). A "fragmentation needed" lowers the path MTU, the MSS
and retransmits what no longer fits at once; during the handshake hard errors
(port/protocol unreachable ...) abort the connection, later ones only set the soft
error a timeout reports (or sk_err with IP_RECVERR).
"""

from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from tuxnet.tcp import minisocks as _mini
from tuxnet.tcp import proto as _proto
from tuxnet.tcp import retrans as _rtx
from tuxnet.tcp.cong import tcp_set_ca_state
from tuxnet.tcp.defs import (
    TCP_LISTEN,
    TCP_NEW_SYN_RECV,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
    TCPF_CLOSE,
    TCPF_LISTEN,
    TCP_CA_Loss,
)
from tuxnet.tcp.mss import tcp_current_mss, tcp_sync_mss
from tuxnet.tcp.netns import tcp_net
from tuxnet.tcp.recovery import tcp_mark_skb_lost
from tuxnet.tcp.seq import between
from tuxnet.tcp.sock import tcp_cb

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["ICMP_ERR_CONVERT", "tcp_v4_err", "tcp_v4_mtu_reduced"]

ICMP_DEST_UNREACH = 3
ICMP_SOURCE_QUENCH = 4
ICMP_TIME_EXCEEDED = 11
ICMP_PARAMETERPROB = 12
ICMP_FRAG_NEEDED = 4
NR_ICMP_UNREACH = 15
# net/ipv4/icmp.c: icmp_err_convert[] (errno, fatal) per destination-unreachable code
ICMP_ERR_CONVERT = (
    (errno.ENETUNREACH, False), (errno.EHOSTUNREACH, False), (errno.ENOPROTOOPT, True),
    (errno.ECONNREFUSED, True), (errno.EMSGSIZE, False), (errno.EOPNOTSUPP, False),
    (errno.ENETUNREACH, True), (errno.EHOSTDOWN, True), (errno.ENONET, True),
    (errno.ENETUNREACH, True), (errno.EHOSTUNREACH, True), (errno.ENETUNREACH, False),
    (errno.EHOSTUNREACH, False), (errno.EHOSTUNREACH, True), (errno.EHOSTUNREACH, True),
    (errno.EHOSTUNREACH, True),
)
_ADDRS = struct.Struct("!II")
_PORTS_SEQ = struct.Struct("!HHI")


def tcp_simple_retransmit(sk: TcpSock) -> None:
    """tcp_simple_retransmit(): segments larger than the new MSS are lost; resend them
    without touching cwnd (the units changed, not the amount of data). A Fast Open SYN
    with data is two skbs (SYN, data): both count as lost."""
    mss = -1 if sk.syn_data and sk.sk_state == TCP_SYN_SENT else tcp_current_mss(sk)
    for skb in list(sk.tcp_rtx_queue):
        cb = tcp_cb(skb)
        if ((cb.end_seq - cb.seq) & 0xFFFFFFFF) > mss:
            tcp_mark_skb_lost(sk, skb)
    if not sk.lost_out:
        return
    if sk.icsk_ca_state != TCP_CA_Loss:
        sk.high_seq = sk.snd_nxt
        sk.snd_ssthresh = sk.tcp_current_ssthresh()
        sk.prior_ssthresh = 0
        sk.undo_marker = 0
        tcp_set_ca_state(sk, TCP_CA_Loss)
    _rtx.tcp_xmit_retransmit_queue(sk)


def tcp_v4_mtu_reduced(sk: TcpSock, mtu: int) -> None:
    """tcp_v4_mtu_reduced(): the route learned a smaller path MTU (RFC 1191)."""
    if (1 << sk.sk_state) & (TCPF_LISTEN | TCPF_CLOSE):
        return
    dst = sk.dst
    if dst is None:
        return
    path_mtu = dst.mtu()
    if mtu < path_mtu:
        sk.sk_err_soft = errno.EMSGSIZE
    if sk.pmtudisc != 0 and sk.icsk_pmtu_cookie > path_mtu:  # not IP_PMTUDISC_DONT
        tcp_sync_mss(sk, path_mtu)
        tcp_simple_retransmit(sk)


def tcp_v4_err(host: Host, skb: SkBuff, info: int) -> None:
    """tcp_v4_err(): an ICMP error quoting one of our segments."""
    data = skb.data
    mib = host.mib
    if len(data) < 20:
        mib.icmp.InErrors += 1
        return
    ihl = (data[0] & 0x0F) * 4
    if len(data) < ihl + 8:
        mib.icmp.InErrors += 1
        return
    saddr, daddr = _ADDRS.unpack_from(data, 12)
    sport, dport, seq = _PORTS_SEQ.unpack_from(data, ihl)
    off = skb.transport_header
    icmp_type, code = skb.head[off], skb.head[off + 1]
    tn = tcp_net(host)
    # the segment went saddr:sport -> daddr:dport: its socket is keyed the other way
    sk = tn.lookup_established(saddr, sport, daddr, dport)
    if sk is None:
        mib.icmp.InErrors += 1
        return
    state = sk.sk_state
    if state == TCP_TIME_WAIT:
        return
    if state == TCP_NEW_SYN_RECV:
        req: _mini.TcpRequestSock = sk
        if seq != req.snt_isn:
            mib.tcpext.OutOfWindowIcmps += 1
        elif icmp_type == ICMP_DEST_UNREACH and code != ICMP_FRAG_NEEDED and \
                _mini.inet_csk_reqsk_queue_drop(req.rsk_listener, req):
            mib.tcpext.ListenDrops += 1  # tcp_req_err: the request is abandoned
        return
    fastopen = sk.fastopen_rsk  # a Fast Open child: its SYN-ACK starts at snt_isn
    snd_una = fastopen.snt_isn if fastopen is not None else sk.snd_una
    if state != TCP_LISTEN and not between(seq, snd_una, sk.snd_nxt):
        mib.tcpext.OutOfWindowIcmps += 1
        return
    fatal = False
    if icmp_type == ICMP_SOURCE_QUENCH:
        return  # RFC 6633: ignored
    if icmp_type == ICMP_PARAMETERPROB:
        err, fatal = errno.EPROTO, True
    elif icmp_type == ICMP_DEST_UNREACH:
        if code > NR_ICMP_UNREACH:
            return
        if code == ICMP_FRAG_NEEDED:
            if state == TCP_LISTEN:
                return
            tn.update_pmtu(host, skb, info)
            tcp_v4_mtu_reduced(sk, info)
            return
        err, fatal = ICMP_ERR_CONVERT[code]
    elif icmp_type == ICMP_TIME_EXCEEDED:
        err = errno.EHOSTUNREACH
    else:
        return
    if state in (TCP_SYN_SENT, TCP_SYN_RECV) and fastopen is not None:
        if fastopen.sk is not None:  # not accepted yet: the child is done
            _proto.tcp_done_with_error(sk, err)
            return
        # an accepted Fast Open child is treated as a connected socket (below)
    elif state in (TCP_SYN_SENT, TCP_SYN_RECV):
        if fatal:
            sk.sk_err = err
            sk.sk_error_report()
            _proto.tcp_done(sk)
        else:
            sk.sk_err_soft = err
        return
    if sk.recverr:
        sk.sk_err = err
        sk.sk_error_report()
    else:
        sk.sk_err_soft = err
