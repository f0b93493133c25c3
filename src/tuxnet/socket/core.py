"""The generic socket state (struct sock + struct inet_sock; net/core/sock.c) and the
way a process-context call waits for it (sk_wait_event) on either clock.

A :class:`Sock` carries what every AF_INET socket has: buffer sizes and their memory
counters (``sk_rmem_alloc``, ``sk_wmem_alloc``, ``sk_forward_alloc``), the pending
error ``sk_err``, flags set by socket options, the inet addresses and ports, and a
wait queue. Protocols subclass it (``UdpSock`` in :mod:`tuxnet.ipv4.udp`).

Waiting. A blocking call does not sleep: :func:`sk_wait_event` registers a waker on
the socket's wait queue and runs the host's event loop (``loop.run(until_ns=...)``)
until the waker fires (sk_data_ready / sk_write_space / sk_error_report stop the loop),
the deadline passes, or nothing is left to run. On a ``SimLoop`` this advances virtual
time, so a single driver program can send on host A and then block in ``recvfrom`` on
host B: the loop carries the datagram across and returns at the exact virtual instant
it was queued (or at exactly the timeout). On a ``RealLoop`` the same call serves the
real timers and file descriptors until ready. An empty simulation with no deadline
raises :class:`SimulationStalled` instead of hanging.
"""

from __future__ import annotations

import errno
import os
import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tuxnet.socket.consts import (
    AF_INET,
    IP_PMTUDISC_DONT,
    IP_PMTUDISC_WANT,
    TCP_CLOSE,
)

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = ["ProtoOps", "SimulationStalled", "Sock", "remove_wait_queue", "sk_wait_event",
           "sock_errno"]

_INODE_BASE = 40000  # first socket inode of a host (get_next_ino is global in Linux)


def _sock_rng(host: Host) -> random.Random:
    rng: random.Random | None = getattr(host, "_sock_rng", None)
    if rng is None:
        rng = random.Random(f"tuxnet:{host.seed}:{host.name}:sock")
        setattr(host, "_sock_rng", rng)  # noqa: B010 - Host has no typed slot for it
    return rng


class SimulationStalled(OSError):
    """A blocking call found nothing left to run in the simulation: it would block
    forever. (An OSError so socket code that catches OSError sees it; errno EDEADLK.)"""

    def __init__(self, what: str) -> None:
        super().__init__(errno.EDEADLK,
                         f"would block forever: no events left in the simulation ({what})")


def sock_errno(err: int) -> OSError:
    """An OSError for Linux errno ``err`` as CPython raises it (the subclass follows the
    errno: EAGAIN -> BlockingIOError, ECONNREFUSED -> ConnectionRefusedError ...)."""
    return OSError(err, os.strerror(err))


class ProtoOps(Protocol):
    """The struct proto hooks the inet socket layer calls (a protocol's socket table)."""

    def get_port(self, sk: Any, snum: int) -> int:
        """get_port: bind ``sk`` to ``snum`` (0: an ephemeral port); 0 or 1 (in use)."""
        ...

    def unhash(self, sk: Any) -> None:
        """unhash: take ``sk`` out of the tables."""
        ...

    def rehash(self, sk: Any, old_saddr: int) -> None:
        """rehash: the local address of ``sk`` changed."""
        ...


class Sock:
    """struct sock + struct inet_sock: what every AF_INET socket keeps."""

    prot: ProtoOps  # sk->sk_prot, set by the protocol's subclass

    def __init__(self, host: Host, sock_type: int, protocol: int) -> None:
        sysctl = host.sysctl
        self.host = host
        self.sk_family = AF_INET
        self.sk_type = sock_type
        self.sk_protocol = protocol
        self.sk_state = TCP_CLOSE
        # sock_init_data(): buffers from net.core.{r,w}mem_default
        self.sk_rcvbuf = sysctl.get_int("net.core.rmem_default")
        self.sk_sndbuf = sysctl.get_int("net.core.wmem_default")
        self.sk_rmem_alloc = 0
        self.sk_wmem_alloc = 1  # refcount_set(&sk->sk_wmem_alloc, 1)
        self.sk_forward_alloc = 0
        self.sk_err = 0
        self.sk_err_soft = 0
        self.sk_drops = 0
        self.sk_userlocks = 0
        self.sk_shutdown = 0
        self.sk_reuse = 0
        self.sk_reuseport = 0
        self.sk_bound_dev_if = 0
        self.sk_priority = 0
        self.sk_mark = 0
        self.sk_rcvlowat = 1
        self.sk_rcvtimeo: int | None = None  # ns; None = MAX_SCHEDULE_TIMEOUT
        self.sk_sndtimeo: int | None = None
        self.sk_uid = 0
        self.sk_refcnt = 2  # the file's reference and the hash table's, as /proc shows
        self.sock_flags: set[str] = set()  # SOCK_BROADCAST, SOCK_DEAD, SOCK_LOCALROUTE ...
        self.sk_no_check_tx = False
        self.sk_dst_cache: Any = None
        self.sk_receive_queue: deque[SkBuff] = deque()
        # the error queue (zerocopy completions, tx timestamps: skb/exterr.py), option
        # memory, SO_TIMESTAMPING flags and byte key, the MSG_ZEROCOPY id counter
        self.sk_error_queue: deque[SkBuff] = deque()
        self.sk_omem_alloc = 0
        self.sk_tsflags = 0
        self.sk_tskey = 0
        self.sk_zckey = 0
        # inet_sock
        self.inet_saddr = 0
        self.inet_rcv_saddr = 0
        self.inet_num = 0
        self.inet_sport = 0
        self.inet_daddr = 0
        self.inet_dport = 0
        self.inet_id = 0
        self.uc_ttl = -1
        self.tos = 0
        self.mc_ttl = 1
        self.mc_loop = 1
        self.mc_all = 1
        # inet_create(): IP_PMTUDISC_DONT when net.ipv4.ip_no_pmtu_disc, else WANT
        self.pmtudisc = (IP_PMTUDISC_DONT if sysctl.get_int("net.ipv4.ip_no_pmtu_disc")
                         else IP_PMTUDISC_WANT)
        self.recverr = False
        self.freebind = False
        self.bind_address_no_port = False
        self.cmsg_flags: set[int] = set()  # IP_PKTINFO, IP_RECVTTL ... (stored only)
        # identity, as /proc/net/* print it
        n = getattr(host, "_sock_inode_seq", 0) + 1
        setattr(host, "_sock_inode_seq", n)  # noqa: B010 - Host has no typed slot for it
        self.ino = _INODE_BASE + n
        # %pK prints a hashed pointer: 32 random bits, zero-padded to 64 (from a stream
        # of its own, so opening sockets does not shift host.rng's draws)
        self.kptr = _sock_rng(host).getrandbits(32)
        # wait queue (sk_sleep): wakers run on data_ready / write_space / error_report
        self.wq: list[Callable[[], object]] = []
        self.poll_notify: Callable[[], object] | None = None  # the fileno() eventfd

    # -- errors ---------------------------------------------------------------------
    def sock_error(self) -> int:
        """sock_error(): take the pending error (0 if none), clearing it."""
        err = self.sk_err
        if err:
            self.sk_err = 0
        return err

    # -- wakeups --------------------------------------------------------------------
    def _wake(self) -> None:
        """Run every waker of the wait queue, then the poll fd's notifier (the wake-up
        of sock_def_*)."""
        wq = self.wq
        if wq:
            for waker in tuple(wq):
                waker()
        notify = self.poll_notify
        if notify is not None:
            notify()

    # sock_def_readable(): wake readers (and the poll fd). _wake itself, not a method
    # calling it: it runs for every datagram, before the reply can be sent
    sk_data_ready = _wake

    def sk_write_space(self) -> None:
        """sock_def_write_space(): wake writers once wmem is at most half of sndbuf."""
        if (self.sk_wmem_alloc << 1) <= self.sk_sndbuf:
            self._wake()

    def sk_error_report(self) -> None:
        """sk_error_report(): wake everyone, an error is pending."""
        self._wake()

    # -- write memory ---------------------------------------------------------------
    def sk_wmem_alloc_get(self) -> int:
        """sk_wmem_alloc_get(): bytes of queued transmit skbs (the refcount minus 1)."""
        return self.sk_wmem_alloc - 1

    def skb_set_owner_w(self, skb: SkBuff) -> None:
        """skb_set_owner_w(): charge ``skb.truesize`` to sk_wmem_alloc until it is freed."""
        skb.sk = self
        skb.destructor = self.sock_wfree
        self.sk_wmem_alloc += skb.truesize

    def sock_wfree(self, skb: SkBuff) -> None:
        """sock_wfree(): the destructor of a sent skb; uncharges and wakes writers."""
        self.sk_wmem_alloc -= skb.truesize
        if "SOCK_DEAD" not in self.sock_flags:
            self.sk_write_space()

    # -- poll -----------------------------------------------------------------------
    def poll_readable(self) -> bool:
        """datagram_poll()'s EPOLLIN: data queued, an error pending or reads shut."""
        return (bool(self.sk_receive_queue) or bool(self.sk_err) or
                bool(self.sk_shutdown & 1) or bool(self.sk_error_queue))


def remove_wait_queue(wq: list[Callable[[], object]], waker: Callable[[], object]) -> None:
    """remove_wait_queue(): ``waker`` leaves the wait queue ``wq`` (if it is on it)."""
    if waker in wq:
        wq.remove(waker)


def sk_wait_event(sk: Sock, ready: Callable[[], bool], deadline_ns: int | None,
                  what: str) -> bool:
    """sk_wait_event() / wait_woken(): run the host's loop until ``ready()``, the
    deadline (absolute loop ns; None waits without limit) or a stalled simulation.

    Returns True when ready, False when the deadline passed first. Raises
    :class:`SimulationStalled` when no deadline is set and the loop has nothing left.
    """
    loop = sk.host.loop
    while True:
        if ready():
            return True
        if deadline_ns is not None and loop.now_ns() >= deadline_ns:
            return False
        woken = False

        def waker() -> None:
            nonlocal woken
            woken = True
            loop.stop()

        sk.wq.append(waker)
        try:
            loop.run(until_ns=deadline_ns)
        finally:
            remove_wait_queue(sk.wq, waker)
        if woken or ready():
            continue
        if deadline_ns is None and loop.next_deadline() is None:
            # SimLoop: the heap ran dry; RealLoop: no timers and no fds were left
            raise SimulationStalled(what)
