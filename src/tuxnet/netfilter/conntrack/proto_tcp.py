"""TCP connection tracking (net/netfilter/nf_conntrack_proto_tcp.c, Linux 6.x).

``tcp_error`` rejects malformed segments (short header, bad checksum on
PRE_ROUTING when net.netfilter.nf_conntrack_checksum, invalid flag combinations);
``tcp_packet`` is nf_conntrack_tcp_packet: ``tcp_new`` for an unconfirmed entry, the
``tcp_conntracks`` transition table, the reopen / ignore / RST special cases,
``tcp_in_window`` (Rooij's window tracking with td_end / td_maxend / td_maxwin /
td_scale, liberal mode) and the timeout choice. It returns a netfilter verdict
(NF_ACCEPT), or its negation for an invalid packet (-NF_ACCEPT) or a reopen
(-NF_REPEAT), as the kernel's l4proto handlers do.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tuxnet.netfilter.conntrack.defs import NfConn, TcpSeen, TcpState
from tuxnet.netfilter.ctseam import IPS_ASSURED, IPS_CONFIRMED, IPS_SEEN_REPLY
from tuxnet.netfilter.hooks import NF_ACCEPT, NF_DROP, NF_INET_PRE_ROUTING, NF_REPEAT
from tuxnet.wire.checksum import ones_sum

if TYPE_CHECKING:
    from tuxnet.netfilter.conntrack.core import CtNet
    from tuxnet.skb import SkBuff

__all__ = ["TCP_CONNTRACK_NAMES", "tcp_can_early_drop", "tcp_error", "tcp_packet"]

# enum tcp_conntrack
sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 = range(10)
sIV = 10  # TCP_CONNTRACK_MAX
sIG = 11  # TCP_CONNTRACK_IGNORE
TCP_CONNTRACK_RETRANS = 10  # timeout slots after the states
TCP_CONNTRACK_UNACK = 11
TCP_CONNTRACK_NAMES = ("NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
                       "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2")

# enum tcp_bit_set
TCP_SYN_SET, TCP_SYNACK_SET, TCP_FIN_SET, TCP_ACK_SET, TCP_RST_SET, TCP_NONE_SET = range(6)

# tcp_conntracks[dir][index][old_state], Linux 6.x (see the reference table, 6.12 :134)
_O, _R = 0, 1
TCP_CONNTRACKS = (
    (  # ORIGINAL: sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
        (sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2),  # syn
        (sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR),  # synack
        (sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV),  # fin
        (sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV),  # ack
        (sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL),  # rst
        (sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV),  # none
    ),
    (  # REPLY:    sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
        (sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2),  # syn
        (sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR),  # synack
        (sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV),  # fin
        (sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG),  # ack
        (sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL),  # rst
        (sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV),  # none
    ),
)

# struct ip_ct_tcp_state flags (include/uapi/linux/netfilter/nf_conntrack_tcp.h)
IP_CT_TCP_FLAG_WINDOW_SCALE = 0x01
IP_CT_TCP_FLAG_SACK_PERM = 0x02
IP_CT_TCP_FLAG_CLOSE_INIT = 0x04
IP_CT_TCP_FLAG_BE_LIBERAL = 0x08
IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED = 0x10
IP_CT_TCP_FLAG_MAXACK_SET = 0x20
IP_CT_EXP_CHALLENGE_ACK = 0x40
IP_CT_TCP_SIMOPEN = 0x80

_FIN, _SYN, _RST, _PSH, _ACK, _URG, _ECE, _CWR = 1, 2, 4, 8, 16, 32, 64, 128
# tcp_valid_flags[]: PUSH, ECE and CWR are always valid
_VALID_FLAGS = frozenset({_SYN, _SYN | _URG, _SYN | _ACK, _RST, _RST | _ACK, _FIN | _ACK,
                          _FIN | _ACK | _URG, _ACK, _ACK | _URG})
_MAXACKWINCONST = 66000  # MAXACKWINCONST
_M32 = 0xFFFFFFFF
_NEG = 0x80000000  # (s32)(a - b) < 0
_TH = struct.Struct("!HHIIBBH")  # ports, seq, ack, doff, flags, window
_th = _TH.unpack_from


def _before(a: int, b: int) -> bool:
    """before(seq1, seq2): (s32)(seq1 - seq2) < 0."""
    return (a - b) & _M32 >= _NEG


def _index(flags: int) -> int:
    """get_conntrack_index (tcp_packet reads the precomputed _INDEX)."""
    if flags & _RST:
        return TCP_RST_SET
    if flags & _SYN:
        return TCP_SYNACK_SET if flags & _ACK else TCP_SYN_SET
    if flags & _FIN:
        return TCP_FIN_SET
    if flags & _ACK:
        return TCP_ACK_SET
    return TCP_NONE_SET


_INDEX = tuple(_index(f) for f in range(32))  # by flags & (FIN|SYN|RST|PSH|ACK)


def _tcp_options(data: memoryview, off: int, doff: int, seen: TcpSeen) -> None:
    """tcp_options: window scale (capped at 14, RFC 7323 2.3) and SACK-permitted."""
    seen.td_scale = 0
    seen.flags = 0
    i, end = off + 20, off + doff
    while i < end:
        kind = data[i]
        if kind == 0:
            return
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end:
            return
        size = data[i + 1]
        if size < 2 or i + size > end:
            return
        if kind == 4 and size == 2:
            seen.flags |= IP_CT_TCP_FLAG_SACK_PERM
        elif kind == 3 and size == 3:
            seen.td_scale = min(data[i + 2], 14)
            seen.flags |= IP_CT_TCP_FLAG_WINDOW_SCALE
        i += size


def _tcp_sack(data: memoryview, off: int, doff: int, sack: int) -> int:
    """tcp_sack: the highest right edge of the SACK blocks (else ``sack``)."""
    i, end = off + 20, off + doff
    while i < end:
        kind = data[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= end:
            break
        size = data[i + 1]
        if size < 2 or i + size > end:
            break
        if kind == 5 and size >= 10 and (size - 2) % 8 == 0:
            for j in range(i + 2, i + size, 8):
                right = int.from_bytes(data[j + 4:j + 8], "big")
                if _before(sack, right):
                    sack = right
            break
        i += size
    return sack


def tcp_error(cn: CtNet, skb: SkBuff, data: memoryview, ihl: int, hook: int) -> str:
    """tcp_error: "" for a well-formed segment, else why it is invalid."""
    tcplen = len(data) - ihl
    if tcplen < 20:
        return "short packet"
    doff = (data[ihl + 12] >> 4) << 2
    if doff < 20 or tcplen < doff:
        return "truncated packet"
    if hook == NF_INET_PRE_ROUTING and skb.ip_summed == 0 and cn.cfg.checksum:
        saddr = int.from_bytes(data[12:16], "big")
        daddr = int.from_bytes(data[16:20], "big")
        if ones_sum(data[ihl:], saddr + daddr + 6 + tcplen) != 0xFFFF:
            return "bad checksum"
        skb.ip_summed = 1  # CHECKSUM_UNNECESSARY: __skb_checksum_complete verified it
    if (data[ihl + 13] & ~(_ECE | _CWR | _PSH)) not in _VALID_FLAGS:
        return "invalid tcp flag combination"
    return ""


def tcp_new(cn: CtNet, ct: NfConn, data: memoryview, ihl: int, end: int, flags: int,
            win: int, doff: int) -> bool:
    """tcp_new: a SYN starts SYN_SENT; with nf_conntrack_tcp_loose an ACK picks up a
    connection in the middle (liberal window tracking); anything else is invalid."""
    new_state = TCP_CONNTRACKS[0][_index(flags)][sNO]
    if new_state >= sIV:
        return False
    st = TcpState()
    s0 = st.seen[0]
    s0.td_end = end
    s0.td_maxwin = win or 1
    if new_state == sSS:
        s0.td_maxend = end
        _tcp_options(data, ihl, doff, s0)
    else:
        if not cn.cfg.tcp_loose:
            return False
        s0.td_maxend = (end + s0.td_maxwin) & _M32
        s0.flags = st.seen[1].flags = IP_CT_TCP_FLAG_SACK_PERM | IP_CT_TCP_FLAG_BE_LIBERAL
    st.last_index = TCP_NONE_SET
    ct.tcp = st
    return True


def _in_window(cn: CtNet, st: TcpState, direction: int, index: int, data: memoryview,
               ihl: int, seq: int, ack: int, end: int, flags: int, win: int,
               doff: int) -> int:
    """tcp_in_window: 1 accept, 0 ignore, -1 invalid."""
    sender = st.seen[direction]
    receiver = st.seen[1 - direction]
    sack = ack
    if receiver.flags & IP_CT_TCP_FLAG_SACK_PERM and doff > 20:
        sack = _tcp_sack(data, ihl, doff, sack)
    syn = flags & _SYN
    if sender.td_maxwin == 0:
        if syn:  # SYN/ACK answering a SYN, or a reply SYN in a simultaneous open
            sender.td_end = sender.td_maxend = end
            sender.td_maxwin = win or 1
            _tcp_options(data, ihl, doff, sender)
            # RFC 7323 1.3: scaling only when both sides offered it
            if not (sender.flags & IP_CT_TCP_FLAG_WINDOW_SCALE
                    and receiver.flags & IP_CT_TCP_FLAG_WINDOW_SCALE):
                sender.td_scale = receiver.td_scale = 0
            if not flags & _ACK:
                return 1
        else:  # in the middle of a connection: learn from the packet
            sender.td_end = end
            swin = win << sender.td_scale
            sender.td_maxwin = swin or 1
            sender.td_maxend = (end + sender.td_maxwin) & _M32
            if receiver.td_maxwin == 0:
                receiver.td_end = receiver.td_maxend = sack
            elif sack == ((receiver.td_end + 1) & _M32):
                receiver.td_end = (receiver.td_end + 1) & _M32
    elif syn and (sender.td_end - end) & _M32 >= _NEG and st.state in (sSS, sSR):
        # RFC 793: a reinitialized TCP may reuse the tuple with larger sequence numbers
        sender.td_end = sender.td_maxend = end
        sender.td_maxwin = win or 1
        _tcp_options(data, ihl, doff, sender)
    if not flags & _ACK:
        ack = sack = receiver.td_end
    elif flags & (_ACK | _RST) == (_ACK | _RST) and ack == 0:
        ack = sack = receiver.td_end  # broken stacks: RST with ACK and ack 0
    if seq == end and (not flags & _RST or (seq == 0 and st.state == sSS)):
        seq = end = sender.td_end  # no data: check the ack only
    # before(a, b) is (a - b) & _M32 >= _NEG, written out on this path
    td_maxwin = sender.td_maxwin
    r_end = receiver.td_end
    if (sender.td_maxend - seq) & _M32 >= _NEG:  # I: SEQ over the receiver's window
        bad = -1
    elif receiver.td_maxwin and \
            not (sender.td_end - receiver.td_maxwin - 1 - end) & _M32 >= _NEG:
        bad = -1  # II: already ACKed data retransmitted
    elif not (r_end - (td_maxwin if td_maxwin > _MAXACKWINCONST else _MAXACKWINCONST)
              - 1 - sack) & _M32 >= _NEG:
        bad = 0  # IV: ACK under the lower bound: ignored
    elif (r_end - sack) & _M32 >= _NEG:
        bad = -1  # III: ACKed data not seen yet
    else:
        bad = 1
    if bad < 1:
        return 1 if sender.flags & IP_CT_TCP_FLAG_BE_LIBERAL or cn.cfg.tcp_be_liberal else bad
    if not syn:
        win <<= sender.td_scale
    swin = win + ((sack - ack) & _M32)
    if sender.td_maxwin < swin:
        sender.td_maxwin = swin
    if (sender.td_end - end) & _M32 >= _NEG:
        sender.td_end = end
        sender.flags |= IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED
    if flags & _ACK:
        if not sender.flags & IP_CT_TCP_FLAG_MAXACK_SET:
            sender.td_maxack = ack
            sender.flags |= IP_CT_TCP_FLAG_MAXACK_SET
        elif (sender.td_maxack - ack) & _M32 >= _NEG:
            sender.td_maxack = ack
    if receiver.td_maxwin != 0 and (sender.td_maxend - end) & _M32 >= _NEG:
        receiver.td_maxwin += (end - sender.td_maxend) & _M32
    if (receiver.td_maxend - 1 - sack - win) & _M32 >= _NEG:
        receiver.td_maxend = (sack + win) & _M32
        if win == 0:
            receiver.td_maxend = (receiver.td_maxend + 1) & _M32
    if ack == receiver.td_end:
        receiver.flags &= ~IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED
    if index == TCP_ACK_SET:  # retransmission detection
        if st.last_dir == direction and st.last_seq == seq and st.last_end == end and \
                st.last_win == win and st.last_ack_seen == ack:
            st.retrans += 1
        else:
            st.last_dir = direction
            st.last_seq = seq
            st.last_ack_seen = ack
            st.last_end = end
            st.last_win = win
            st.retrans = 0
    return 1


def tcp_can_early_drop(ct: NfConn) -> bool:
    """tcp_can_early_drop: a closing connection may go when the table is under pressure."""
    st = ct.tcp
    return st is not None and st.state in (sFW, sLA, sTW, sCL, sCW)


def tcp_packet(cn: CtNet, ct: NfConn, skb: SkBuff, data: memoryview, ihl: int,
               direction: int, now: int) -> int:
    """nf_conntrack_tcp_packet."""
    _sp, _dp, seq, ack, doffb, flags, win = _th(data, ihl)
    doff = (doffb >> 4) << 2
    end = (seq + len(data) - ihl - doff + (1 if flags & _SYN else 0)
           + (1 if flags & _FIN else 0)) & _M32
    status = ct.status
    if not status & IPS_CONFIRMED and ct.tcp is None and \
            not tcp_new(cn, ct, data, ihl, end, flags, win, doff):
        return -NF_ACCEPT
    st = ct.tcp
    assert st is not None
    old_state = st.state
    index = _INDEX[flags & 0x1F]
    new_state = TCP_CONNTRACKS[direction][index][old_state]
    other = 1 - direction
    if new_state == sSS and old_state >= sTW:
        if (st.seen[direction].flags | st.seen[other].flags) & IP_CT_TCP_FLAG_CLOSE_INIT or \
                (st.last_dir == direction and st.last_index == TCP_RST_SET):
            # RFC 1122 4.2.2.13: reopen from TIME_WAIT/CLOSE; kill and look up again
            if cn.nf_ct_kill(ct):
                return -NF_REPEAT
            return NF_DROP
        new_state = sIG
    if new_state == sIG:
        if index == TCP_SYNACK_SET and st.last_index == TCP_SYN_SET and \
                st.last_dir != direction and ack == st.last_end:
            # the SYN/ACK answers a SYN we ignored: both ends are in sync, get in sync
            ls = st.seen[st.last_dir]
            ls.td_end = ls.td_maxend = st.last_end
            ls.td_maxwin = st.last_win or 1
            ls.td_scale = st.last_wscale
            ls.flags = st.last_flags & ~IP_CT_EXP_CHALLENGE_ACK
            st.seen[direction].clear()
            old_state, new_state = sSS, sSR
        else:
            st.last_index = index
            st.last_dir = direction
            st.last_seq = seq
            st.last_end = end
            st.last_win = win
            if index == TCP_SYN_SET and direction == 0:
                seen = TcpSeen()
                _tcp_options(data, ihl, doff, seen)
                st.last_flags = seen.flags & (IP_CT_TCP_FLAG_WINDOW_SCALE |
                                              IP_CT_TCP_FLAG_SACK_PERM)
                st.last_wscale = seen.td_scale
                if old_state == sLA:
                    st.last_flags |= IP_CT_EXP_CHALLENGE_ACK
            return NF_ACCEPT  # ignored: no state change, no refresh
    elif new_state == sIV:
        return -NF_ACCEPT
    elif new_state == sTW:
        if old_state == sLA and index == TCP_ACK_SET and st.last_dir != direction and \
                st.last_index == TCP_SYN_SET and st.last_flags & IP_CT_EXP_CHALLENGE_ACK:
            st.last_flags &= ~IP_CT_EXP_CHALLENGE_ACK  # an RFC 5961 challenge ACK
            return NF_ACCEPT
    elif new_state == sS2:
        st.last_flags |= IP_CT_TCP_SIMOPEN
    elif new_state == sSR and direction == 1 and index == TCP_ACK_SET and \
            st.last_flags & IP_CT_TCP_SIMOPEN:
        new_state = sES
    if new_state == sCL and index == TCP_RST_SET:
        skip = tcp_can_early_drop(ct)
        if not skip:
            peer = st.seen[other]
            if peer.flags & IP_CT_TCP_FLAG_MAXACK_SET and st.last_index != TCP_SYN_SET:
                if _before(seq, peer.td_maxack) and \
                        not cn.cfg.tcp_ignore_invalid_rst:
                    return -NF_ACCEPT  # invalid RST
                if old_state == sES and seq != peer.td_maxack and not (
                        st.last_index == TCP_ACK_SET and st.last_dir == direction
                        and seq == st.last_end):
                    new_state = old_state  # inexact RST: allow a challenge ACK
            if ((status & IPS_SEEN_REPLY and st.last_index == TCP_SYN_SET)
                    or (not status & IPS_ASSURED and st.last_index == TCP_ACK_SET)) \
                    and ack == st.last_end:
                skip = True  # RST to a SYN or ACK we let through: no window check
        if not skip:
            res = _in_window(cn, st, direction, index, data, ihl, seq, ack, end, flags, win,
                             doff)
            if res <= 0:
                return NF_ACCEPT if res == 0 else -NF_ACCEPT
    else:
        res = _in_window(cn, st, direction, index, data, ihl, seq, ack, end, flags, win, doff)
        if res <= 0:
            return NF_ACCEPT if res == 0 else -NF_ACCEPT
    # in window
    st.last_index = index
    st.last_dir = direction
    st.state = new_state
    if old_state != new_state and new_state == sFW:
        st.seen[direction].flags |= IP_CT_TCP_FLAG_CLOSE_INIT
    timeouts = cn.cfg.tcp_timeouts
    state_to = timeouts[new_state]
    if st.retrans >= cn.cfg.tcp_max_retrans and state_to > timeouts[TCP_CONNTRACK_RETRANS]:
        timeout = timeouts[TCP_CONNTRACK_RETRANS]
    elif index == TCP_RST_SET:
        timeout = timeouts[sCL]
    elif (st.seen[0].flags | st.seen[1].flags) & IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED and \
            state_to > timeouts[TCP_CONNTRACK_UNACK]:
        timeout = timeouts[TCP_CONNTRACK_UNACK]
    elif st.last_win == 0 and state_to > timeouts[TCP_CONNTRACK_RETRANS]:
        timeout = timeouts[TCP_CONNTRACK_RETRANS]
    else:
        timeout = state_to
    if not status & IPS_SEEN_REPLY:
        if flags & _RST:  # the only reply is a RST: forget the connection at once
            cn.nf_ct_kill(ct)
            return NF_ACCEPT
        if index == TCP_SYN_SET and old_state == sSS and status & IPS_CONFIRMED:
            return NF_ACCEPT  # a SYN retransmission does not renew the timeout
        if new_state == sES:
            unack = timeouts[TCP_CONNTRACK_UNACK]
            if timeout > unack:
                timeout = unack  # mid-stream pickup: no five days for an unreplied flow
    elif not status & IPS_ASSURED and old_state in (sSR, sES) and new_state == sES:
        ct.status = status | IPS_ASSURED
    ct.timeout = timeout + now if ct.status & IPS_CONFIRMED else timeout
    return NF_ACCEPT
