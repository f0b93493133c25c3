"""The UDP socket table: binding, ephemeral ports, reuseport groups and the receive
lookup (net/ipv4/udp.c: udp_lib_get_port, udp_lib_lport_inuse, __udp4_lib_lookup,
udp4_lib_lookup2, compute_score; net/core/sock_reuseport.c).

Two hashes as in Linux: ``hash`` by local port (slot ``(port + net_hash_mix) & mask``,
what /proc/net/udp's ``sl`` column shows and what bind conflicts are checked against)
and ``hash2`` by (local address, port), which the receive lookup walks twice: first
the sockets bound to the packet's destination address, then those bound to 0.0.0.0.
In a chain the newest socket comes first (hlist_add_head), so among equal scores the
last bound socket wins. A connected socket scores higher (its peer address and port
must match) than an unconnected one; a reuseport group answers by a flow hash.

Deviation: the hash4 table of 6.13+ (connected sockets by 4-tuple) is not kept; the
hash2 walk finds the same socket, as connected sockets always have a local address.
"""

from __future__ import annotations

import random
from collections import deque
from typing import TYPE_CHECKING

from tuxnet.socket.consts import TCP_ESTABLISHED
from tuxnet.socket.core import Sock

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = ["UdpSock", "UdpTable", "jhash_3words", "reciprocal_scale", "sysctl_vec",
           "udp_table"]

JHASH_INITVAL = 0xDEADBEEF  # include/linux/jhash.h
_M32 = 0xFFFFFFFF


def _rol32(w: int, s: int) -> int:
    return ((w << s) | (w >> (32 - s))) & _M32


def jhash_3words(a: int, b: int, c: int, initval: int) -> int:
    """jhash_3words(): Bob Jenkins' lookup3 final mix over three words."""
    iv = (initval + JHASH_INITVAL + (3 << 2)) & _M32
    a = (a + iv) & _M32
    b = (b + iv) & _M32
    c = (c + iv) & _M32
    # __jhash_final
    c ^= b
    c = (c - _rol32(b, 14)) & _M32
    a ^= c
    a = (a - _rol32(c, 11)) & _M32
    b ^= a
    b = (b - _rol32(a, 25)) & _M32
    c ^= b
    c = (c - _rol32(b, 16)) & _M32
    a ^= c
    a = (a - _rol32(c, 4)) & _M32
    b ^= a
    b = (b - _rol32(a, 14)) & _M32
    c ^= b
    c = (c - _rol32(b, 24)) & _M32
    return c


def sysctl_vec(host: Host, name: str) -> tuple[int, ...]:
    """An integer-vector sysctl (ip_local_port_range, udp_mem) as a tuple."""
    v = host.sysctl.get(name)
    if not isinstance(v, tuple):
        raise TypeError(f"sysctl {name} is not a vector (value {v!r})")
    return v


def reciprocal_scale(val: int, ep_ro: int) -> int:
    """reciprocal_scale(): map a 32-bit ``val`` onto [0, ep_ro)."""
    return (val * ep_ro) >> 32


class ReuseportGroup:
    """struct sock_reuseport: the sockets sharing one address and port."""

    __slots__ = ("has_conns", "socks")

    def __init__(self) -> None:
        self.socks: list[UdpSock] = []
        self.has_conns = False


class UdpSock(Sock):
    """struct udp_sock: a Sock with UDP's reader queue and receive-memory deficit."""

    def __init__(self, host: Host, sock_type: int, protocol: int) -> None:
        super().__init__(host, sock_type, protocol)
        self.prot: UdpTable = udp_table(host)
        self.reader_queue: deque[SkBuff] = deque()
        self.forward_deficit = 0
        self.reuseport_cb: ReuseportGroup | None = None
        self.hashed = False

    @property
    def forward_threshold(self) -> int:
        """up->forward_threshold: sk_rcvbuf >> 2 (kept in step by udp_lib_setsockopt)."""
        return self.sk_rcvbuf >> 2

    def udp_rqueue_get(self) -> int:
        """udp_rqueue_get(): receive memory in use, less the not yet released deficit."""
        return self.sk_rmem_alloc - self.forward_deficit

    def has_data_or_error(self) -> bool:
        """A receive would return something: a queued datagram or a pending error."""
        return bool(self.reader_queue or self.sk_receive_queue or self.sk_err)

    def poll_readable(self) -> bool:
        """udp_poll(): readable when a datagram or an error waits (has_data_or_error,
        inline: this runs on every wake-up), or reads are shut."""
        return bool(self.reader_queue or self.sk_receive_queue or self.sk_err
                    or self.sk_shutdown & 1)


def _rcv_saddr_equal(a: int, b: int, match_wildcard: bool) -> bool:
    """ipv4_rcv_saddr_equal(): same address, or (when matching wildcards) either 0."""
    if a == b:
        return True
    return match_wildcard and (a == 0 or b == 0)


class UdpTable:
    """struct udp_table for one namespace, plus udp_memory_allocated."""

    def __init__(self, host: Host) -> None:
        self.host = host
        entries = abs(host.sysctl.get_int("net.ipv4.udp_hash_entries"))
        self.mask = entries - 1
        self.log = entries.bit_length() - 1
        # net->hash_mix and udp_ehash_secret are boot/netns-time random values; they
        # come from a stream of their own so they do not shift host.rng's sequence
        keys = random.Random(f"tuxnet:{host.seed}:{host.name}:udp_table")
        self.hash_mix = keys.getrandbits(32)
        self.ehash_secret = keys.getrandbits(32)
        self.hash: dict[int, list[UdpSock]] = {}
        self.hash2: dict[tuple[int, int], list[UdpSock]] = {}
        self.memory_allocated = 0  # pages (udp_memory_allocated)

    def slot(self, port: int) -> int:
        """udp_hashfn(): the hash slot of ``port`` (/proc/net/udp's ``sl``)."""
        return (port + self.hash_mix) & self.mask

    def sockets(self) -> list[UdpSock]:
        """All hashed sockets in /proc order: slot by slot, chain order within."""
        return [sk for s in sorted(self.hash) for sk in self.hash[s]]

    # -- binding --------------------------------------------------------------------
    def lport_inuse(self, port: int, sk: UdpSock, bitmap: bool) -> bool:
        """udp_lib_lport_inuse(): does another socket hold ``port`` against ``sk``?
        Without ``bitmap`` the first reuseport-compatible socket settles it (free), as
        the kernel returns at once; with it (ephemeral search) such sockets are skipped."""
        for sk2 in self.hash.get(self.slot(port), ()):
            if (sk2 is sk or sk2.inet_num != port or (sk2.sk_reuse and sk.sk_reuse)
                    or (sk2.sk_bound_dev_if and sk.sk_bound_dev_if
                        and sk2.sk_bound_dev_if != sk.sk_bound_dev_if)
                    or not _rcv_saddr_equal(sk.inet_rcv_saddr, sk2.inet_rcv_saddr, True)):
                continue
            if (sk2.sk_reuseport and sk.sk_reuseport and sk.reuseport_cb is None
                    and sk.sk_uid == sk2.sk_uid):
                if not bitmap:
                    return False
                continue
            return True
        return False

    def _reserved(self, port: int) -> bool:
        """inet_is_local_reserved_port(): ``port`` listed in ip_local_reserved_ports."""
        spec = str(self.host.sysctl.get("net.ipv4.ip_local_reserved_ports"))
        for part in spec.replace(" ", "").split(","):
            if not part:
                continue
            lo, _, hi = part.partition("-")
            if int(lo) <= port <= int(hi or lo):
                return True
        return False

    def get_port(self, sk: UdpSock, snum: int) -> int:
        """udp_lib_get_port(): bind ``sk`` to ``snum``, or to an ephemeral port when 0.
        Returns 0 on success, 1 when the port (or every ephemeral port) is taken."""
        if not snum:
            low, high = sysctl_vec(self.host, "net.ipv4.ip_local_port_range")
            remaining = high - low + 1
            rand = self.host.rng.getrandbits(32)  # get_random_u32()
            first = reciprocal_scale(rand, remaining) + low
            # an odd multiple of the table size: walks every port of one slot
            step = (((rand | 1) * (self.mask + 1)) & _M32) & 0xFFFF
            last = (first + self.mask + 1) & 0xFFFF
            found = 0
            while not found:
                snum = first
                while True:
                    if (low <= snum <= high and not self.lport_inuse(snum, sk, True)
                            and not self._reserved(snum)):
                        found = snum
                        break
                    snum = (snum + step) & 0xFFFF
                    if snum == first:
                        break
                first = (first + 1) & 0xFFFF
                if not found and first == last:
                    return 1
            snum = found
        elif self.lport_inuse(snum, sk, False):
            return 1
        sk.inet_num = snum
        if not sk.hashed:
            if sk.sk_reuseport:
                self._reuseport_add(sk)
            sk.hashed = True
            self.hash.setdefault(self.slot(snum), []).insert(0, sk)
            self.hash2.setdefault((sk.inet_rcv_saddr, snum), []).insert(0, sk)
        return 0

    def _reuseport_add(self, sk: UdpSock) -> None:
        """udp_reuseport_add_sock(): join the group of a socket bound alike, else start
        one (reuseport_add_sock / reuseport_alloc)."""
        for sk2 in self.hash.get(self.slot(sk.inet_num), ()):
            if (sk2 is not sk and sk2.inet_num == sk.inet_num and sk2.sk_reuseport
                    and sk2.sk_bound_dev_if == sk.sk_bound_dev_if
                    and sk2.sk_uid == sk.sk_uid and sk2.reuseport_cb is not None
                    and _rcv_saddr_equal(sk.inet_rcv_saddr, sk2.inet_rcv_saddr, False)):
                group = sk2.reuseport_cb
                break
        else:
            group = ReuseportGroup()
        group.socks.append(sk)
        sk.reuseport_cb = group

    def unhash(self, sk: UdpSock) -> None:
        """udp_lib_unhash(): take ``sk`` out of both hashes and its reuseport group."""
        if not sk.hashed:
            return
        sk.hashed = False
        group = sk.reuseport_cb
        if group is not None:  # reuseport_detach_sock: the last one takes the slot
            socks = group.socks
            i = socks.index(sk)
            socks[i] = socks[-1]
            socks.pop()
            sk.reuseport_cb = None
        slot = self.slot(sk.inet_num)
        self.hash[slot].remove(sk)
        if not self.hash[slot]:
            del self.hash[slot]
        key = (sk.inet_rcv_saddr, sk.inet_num)
        self.hash2[key].remove(sk)
        if not self.hash2[key]:
            del self.hash2[key]
        sk.inet_num = 0

    def rehash(self, sk: UdpSock, old_saddr: int) -> None:
        """udp_lib_rehash(): the local address changed (connect, disconnect): move
        ``sk`` to the head of its new hash2 chain."""
        if not sk.hashed or old_saddr == sk.inet_rcv_saddr:
            return
        key = (old_saddr, sk.inet_num)
        self.hash2[key].remove(sk)
        if not self.hash2[key]:
            del self.hash2[key]
        self.hash2.setdefault((sk.inet_rcv_saddr, sk.inet_num), []).insert(0, sk)

    # -- receive lookup -------------------------------------------------------------
    @staticmethod
    def compute_score(sk: UdpSock, saddr: int, sport: int, dif: int) -> int:
        """compute_score(): -1 when ``sk`` cannot take the packet, else higher for each
        thing it pins (peer address, peer port, device)."""
        score = 2  # PF_INET
        if sk.inet_daddr:
            if sk.inet_daddr != saddr:
                return -1
            score += 4
        if sk.inet_dport:
            if sk.inet_dport != sport:
                return -1
            score += 4
        if sk.sk_bound_dev_if:
            if sk.sk_bound_dev_if != dif:
                return -1
            score += 4
        return score

    def _lookup2(self, chain: list[UdpSock], saddr: int, sport: int, daddr: int,
                 hnum: int, dif: int) -> UdpSock | None:
        """udp4_lib_lookup2(): the best socket of the (addr, hnum) ``chain``."""
        result: UdpSock | None = None
        badness = 0
        compute_score = self.compute_score
        for sk in chain:
            # compute_score(): its frame only for a socket that pins something (an
            # unconnected socket on any device scores the bare PF_INET 2)
            score = (compute_score(sk, saddr, sport, dif)
                     if sk.inet_daddr or sk.inet_dport or sk.sk_bound_dev_if else 2)
            if score <= badness:
                continue
            badness = score
            result = sk
            if sk.sk_state == TCP_ESTABLISHED or sk.reuseport_cb is None:
                continue
            chosen = self._reuseport_select(sk.reuseport_cb, saddr, sport, daddr, hnum)
            if chosen is None:
                continue
            if not sk.reuseport_cb.has_conns:
                return chosen
            result = chosen  # the group has connections: keep scoring against it
            badness = self.compute_score(chosen, saddr, sport, dif)
        return result

    def _reuseport_select(self, group: ReuseportGroup, saddr: int, sport: int, daddr: int,
                          hnum: int) -> UdpSock | None:
        """reuseport_select_sock_by_hash() over udp_ehashfn(): skip connected members."""
        socks = group.socks
        n = len(socks)
        if not n:
            return None
        phash = jhash_3words(daddr, saddr, (hnum << 16) | sport,
                             (self.ehash_secret + self.hash_mix) & _M32)
        i = j = reciprocal_scale(phash, n)
        while socks[i].sk_state == TCP_ESTABLISHED:
            i = (i + 1) % n
            if i == j:
                return None
        return socks[i]

    def lookup(self, saddr: int, sport: int, daddr: int, dport: int,
               dif: int = 0) -> UdpSock | None:
        """__udp4_lib_lookup(): the socket for a datagram saddr:sport -> daddr:dport,
        those bound to ``daddr`` first, then those bound to 0.0.0.0 (an empty chain
        is skipped without walking it)."""
        hash2 = self.hash2
        chain = hash2.get((daddr, dport))
        sk = self._lookup2(chain, saddr, sport, daddr, dport, dif) if chain else None
        if sk is None and daddr:
            chain = hash2.get((0, dport))
            if chain:
                sk = self._lookup2(chain, saddr, sport, daddr, dport, dif)
        return sk

    def mcast_socks(self, saddr: int, sport: int, daddr: int, dport: int,
                    dif: int) -> list[UdpSock]:
        """__udp_is_mcast_sock() over the port's chain: every socket that takes a
        broadcast/multicast datagram, in chain order."""
        out = []
        for sk in self.hash.get(self.slot(dport), ()):
            if (sk.inet_num != dport or (sk.inet_daddr and sk.inet_daddr != saddr)
                    or (sk.inet_dport and sk.inet_dport != sport)
                    or (sk.inet_rcv_saddr and sk.inet_rcv_saddr != daddr)
                    or (sk.sk_bound_dev_if and sk.sk_bound_dev_if != dif)):
                continue
            out.append(sk)
        return out


def udp_table(host: Host) -> UdpTable:
    """The host's UDP table (``host.udp_table``), created on first use."""
    tbl: UdpTable | None = getattr(host, "udp_table", None)
    if tbl is None:
        tbl = UdpTable(host)
        setattr(host, "udp_table", tbl)  # noqa: B010 - Host has no typed attribute yet
    return tbl
