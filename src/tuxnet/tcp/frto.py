"""F-RTO: detecting spurious retransmission timeouts, RFC 5682 (the SACK-enhanced
algorithm of section 3; net/ipv4/tcp_input.c: tcp_enter_loss's tp->frto,
tcp_process_loss, tcp_xmit_recovery).

``net.ipv4.tcp_frto`` (default 2; any non-zero value enables it). After an RTO the
head is retransmitted as usual (step 1). If the next ACK advances snd_una without
SACKing anything, F-RTO sends *new* data instead of more retransmissions (step 2.b,
REXMIT_NEW) and notes snd_nxt in high_seq. If an ACK then (S)ACKs data that was never
retransmitted, the original transmissions were not lost and the timeout was spurious:
the cwnd reduction is undone (step 3.b: tcp_try_undo_loss, TCPLossUndo and
TCPSpuriousRTOs) and the connection returns to Open. A duplicate ACK or new SACK
while new data is out means the loss was real (step 3.a): conventional loss recovery
goes on. F-RTO stays off while an MTU probe is out, and for a second timeout unless
it hits the same snd_una (section 3.2: recurring timeouts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuxnet.tcp.defs import (
    FLAG_DATA_SACKED,
    FLAG_ORIG_SACK_ACKED,
    FLAG_SND_UNA_ADVANCED,
    REXMIT_NEW,
    TCP_CA_Recovery,
)
from tuxnet.tcp.seq import after

if TYPE_CHECKING:
    from tuxnet.tcp.sock import TcpSock

__all__ = ["tcp_frto_enter_loss", "tcp_frto_process_loss"]


def tcp_frto_enter_loss(sk: TcpSock, prior_state: int) -> None:
    """The end of tcp_enter_loss() (RFC 5682 3.1 step 1): F-RTO runs for this timeout
    unless a recovery was already underway (other than a recurring timeout on the same
    snd_una, section 3.2) or an MTU probe is out."""
    new_recovery = prior_state < TCP_CA_Recovery
    sk.frto = bool(sk.net.sysctl("tcp_frto")) and \
        (new_recovery or bool(sk.icsk_retransmits)) and not sk.icsk_mtup.probe_size


def tcp_frto_process_loss(sk: TcpSock, flag: int, num_dupack: int, recovered: bool,
                          rexmit: list[int]) -> bool:
    """tcp_process_loss()'s F-RTO part (RFC 5682 3.1, SACK-enhanced): True when the
    ACK is fully handled (the RTO undone as spurious, or new data to send now)."""
    from tuxnet.tcp.recovery import tcp_try_undo_loss

    # step 3.b: never-retransmitted data was (S)ACKed: the timeout was spurious
    if flag & FLAG_ORIG_SACK_ACKED and tcp_try_undo_loss(sk, True):
        return True
    if after(sk.snd_nxt, sk.high_seq):
        if flag & FLAG_DATA_SACKED or num_dupack:
            sk.frto = False  # step 3.a: the loss was real
    elif flag & FLAG_SND_UNA_ADVANCED and not recovered:
        sk.high_seq = sk.snd_nxt
        # step 2.b: send new data (after tcp_ack updated cwnd), else fall back to the
        # conventional recovery
        if sk.sk_write_queue and after(sk.tcp_wnd_end(), sk.snd_nxt):
            rexmit[0] = REXMIT_NEW
            return True
        sk.frto = False
    return False
