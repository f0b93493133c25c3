"""TCP (net/ipv4/tcp*.c): the Linux TCP stack in Python.

Modules, as Linux splits them: :mod:`.seq` (sequence arithmetic), :mod:`.defs`
(constants), :mod:`.sock` (struct tcp_sock, TCP_SKB_CB, tcp_set_state), :mod:`.netns`
(hash tables, ports, secrets), :mod:`.ip_glue` (routes and transmit through IPv4),
:mod:`.options`, :mod:`.mss` (MSS and windows), :mod:`.output`, :mod:`.control`
(ACK/FIN/RST/SYN, probes, sndbuf), :mod:`.tsq` (TCP Small Queues), :mod:`.retrans`,
:mod:`.timer`, :mod:`.input`
(tcp_rcv_established, header prediction, PAWS, RFC 5961, delayed ACK),
:mod:`.rcv_queue` (receive and out-of-order queues, SACK blocks), :mod:`.rcvbuf`
(receive-buffer autotuning, receiver RTT, scaling_ratio), :mod:`.chrono` (busy /
rwnd-limited / sndbuf-limited time), :mod:`.ack` (tcp_ack,
RTT), :mod:`.recovery` (SACK scoreboard, PRR, undo, NewReno), :mod:`.rack` (RACK-TLP),
:mod:`.rcv_state` (tcp_rcv_state_process), :mod:`.minisocks` (request and TIME_WAIT
sockets), :mod:`.syncookies`, :mod:`.icmp_err` (tcp_v4_err, PMTU), :mod:`.ipv4`
(tcp_v4_rcv, tcp_v4_connect, resets, SYN-ACKs), :mod:`.proto` (what the socket layer
calls), :mod:`.sockopt` (options, TCP_INFO, poll), :mod:`.cong` (tcp_congestion_ops;
Reno).

Implemented: the RFC 9293 state machine with Linux's states and counters; handshake
with Linux's option layout, window scaling, timestamps, SACK; SYN and accept queues,
SYN cookies; SYN/SYN-ACK retransmission (tcp_syn_linear_timeouts); RST and challenge-ACK
rules (RFC 5961) with their rate limits; TIME_WAIT and the FIN_WAIT2 timeout;
sendmsg/recvmsg with Nagle, TCP_NODELAY, TCP_CORK, MSG_MORE, PSH marking; header
prediction; out-of-order queue with SACK and D-SACK; delayed ACKs, quick-ACK mode, SACK
compression; RTT/RTO (RFC 6298, Linux fixed point); RTO backoff, zero-window probes,
keepalive; SACK scoreboard, RACK loss detection and TLP, NewReno, PRR, undo on D-SACK or
timestamps, F-RTO (frto.py); ECN (ecn.py, RFC 3168); ICMP errors and PMTU, PLPMTUD
(mtu_probe.py, RFC 4821); MD5 signatures (md5.py, RFC 2385); the congestion-control
interface with Reno, CUBIC (the default) and BBR v1 (cong/), delivery-rate sampling
(rate.py), pacing with EDT departure times, TCP's own pacing timer and fq's (pacing.py);
receive-buffer autotuning as Linux 6.16+ (DRS, tcp_rcvbuf_grow, scaling_ratio); TSO super-segments
when the route can offload (live mode); MSG_ZEROCOPY (zerocopy.py), SO_TIMESTAMPING
(tx_timestamp.py), sendfile/splice pages (zerocopy.py, splice_read.py), receive-side
urgent data (urgent.py); TCP Fast Open, RFC 7413 (fastopen.py, fastopen_client.py:
cookies, SYN data both ways, TCP_FASTOPEN*, the per-destination cookie cache); TCP Small
Queues and autocorking (tsq.py: tcp_wfree, tcp_small_queue_check, tcp_should_autocork).

Not yet (#5): Accurate ECN, TSO in simulation, sending urgent
data (MSG_OOB), TCP-AO, tcp_metrics (beyond Fast Open cookies), TIME_WAIT reuse, IPv6.
"""

from __future__ import annotations

from tuxnet.tcp import (  # noqa: F401 - import order resolves the module cycle
    ack,
    control,
    icmp_err,
    input,
    minisocks,
    output,
    proto,
    rack,
    rcv_queue,
    rcv_state,
    recovery,
    retrans,
    timer,
)
from tuxnet.tcp.ipv4 import tcp_v4_connect, tcp_v4_init, tcp_v4_rcv
from tuxnet.tcp.netns import TcpDst, TcpNet, tcp_net
from tuxnet.tcp.sock import TcpSock

__all__ = ["TcpDst", "TcpNet", "TcpSock", "tcp_net", "tcp_v4_connect", "tcp_v4_init",
           "tcp_v4_rcv"]
