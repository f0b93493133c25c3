"""Per-namespace TCP state: the connection hash tables, port allocation, secrets and the
hooks to IPv4 (struct inet_hashinfo, net->ipv4.tcp_*, net/ipv4/inet_hashtables.c,
net/ipv4/inet_connection_sock.c: inet_csk_get_port, inet_csk_bind_conflict;
net/core/secure_seq.c for the keyed hashes).

Tables, as Linux keeps them:

* ``ehash``: established, SYN_RECV request and TIME_WAIT sockets by 4-tuple
  (local address, local port, remote address, remote port);
* ``listeners``: listening sockets by local port (newest first);
* ``bhash``: every bound socket by local port (bind conflicts, ephemeral ports);
  TIME_WAIT sockets keep their bucket, as inet_twsk_bind_unhash runs only when they die.

The keyed hashes (secure_tcp_seq, secure_tcp_ts_off, the port offset and SYN cookies)
use BLAKE2b keyed with secrets from TCP's own random stream, seeded by one draw from
``host.rng`` (Linux: siphash with random keys), so a seeded simulation is reproducible.
"""

from __future__ import annotations

import errno
import hashlib
import random
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff
    from tuxnet.tcp.sock import TcpSock

__all__ = ["TcpDst", "TcpNet", "keyed_hash32", "tcp_net"]

_PACK3 = struct.Struct("!III")
_INET_TABLE_PERTURB_SIZE = 1 << 16


def keyed_hash32(key: bytes, *words: int) -> int:
    """A 32-bit keyed hash of 32-bit words (stands for the kernel's siphash_*u32)."""
    data = b"".join((w & 0xFFFFFFFF).to_bytes(4, "big") for w in words)
    return int.from_bytes(hashlib.blake2b(data, key=key, digest_size=4).digest(), "big")


def keyed_hash64(key: bytes, *words: int) -> int:
    """A 64-bit keyed hash (siphash_3u32 returning u64)."""
    data = b"".join((w & 0xFFFFFFFF).to_bytes(4, "big") for w in words)
    return int.from_bytes(hashlib.blake2b(data, key=key, digest_size=8).digest(), "big")


def _always() -> bool:
    return True


class TcpDst:
    """What TCP uses of a dst_entry: source address, path MTU, route metrics."""

    __slots__ = ("advmss", "congctl", "daddr", "error", "features", "initcwnd", "initrwnd",
                 "local", "mtu_fn", "obsolete_fn", "quickack", "rt", "rto_min", "saddr",
                 "window")

    def __init__(self, *, error: int = 0, saddr: int = 0, daddr: int = 0,
                 mtu_fn: Callable[[], int] | None = None, advmss: int = 0, initcwnd: int = 0,
                 window: int = 0, initrwnd: int = 0, rto_min: int = 0, quickack: int = 0,
                 congctl: str = "", local: bool = False, rt: Any = None) -> None:
        self.error = error
        self.saddr = saddr
        self.daddr = daddr
        self.mtu_fn = mtu_fn
        self.advmss = advmss  # dst_metric_advmss (mtu - 40 unless the route sets it)
        self.initcwnd = initcwnd  # RTAX_INITCWND
        self.window = window  # RTAX_WINDOW
        self.initrwnd = initrwnd  # RTAX_INITRWND
        self.rto_min = rto_min  # RTAX_RTO_MIN (jiffies)
        self.quickack = quickack  # RTAX_QUICKACK
        self.congctl = congctl
        self.local = local
        self.rt = rt
        # dst->obsolete: the FIB changed since this route was looked up (rt_genid)
        self.obsolete_fn: Callable[[], bool] | None = None
        self.features = 0  # RTAX_FEATURES (RTAX_FEATURE_ECN: "ip route ... features ecn")

    def mtu(self) -> int:
        """dst_mtu()."""
        return self.mtu_fn() if self.mtu_fn is not None else 1500

    def reset(self) -> None:
        """sk_dst_reset(): the socket drops this route; its next transmission looks one
        up again (IP_TOS, SO_BINDTODEVICE ... change what the lookup gives)."""
        self.obsolete_fn = _always


RouteOutput = Callable[["Host", int, int, int, int], TcpDst]
IpQueueXmit = Callable[["Host", "SkBuff", int, int, "TcpDst | None", int, "int | None",
                        "int | None"], int]


class TcpNet:
    """net->ipv4 TCP state and tcp_hashinfo for one host."""

    def __init__(self, host: Host) -> None:
        from tuxnet.core.netcore import get_core
        from tuxnet.tcp import ip_glue
        from tuxnet.tcp.fastopen import TfoNet

        self.host = host
        self.tfo = TfoNet()  # Fast Open cookie cache and blackhole state
        self.core = get_core(host)
        self.ehash: dict[tuple[int, int, int, int], Any] = {}
        self.listeners: dict[int, list[TcpSock]] = {}
        self.bhash: dict[int, list[Any]] = {}
        self.route_output: RouteOutput = ip_glue.route_output
        self.ip_queue_xmit: IpQueueXmit = ip_glue.ip_queue_xmit
        self.skb_dst_is_local: Callable[[SkBuff], bool] = ip_glue.skb_dst_is_local
        self.update_pmtu: Callable[[Host, SkBuff, int], object] = ip_glue.update_pmtu
        # one draw from host.rng seeds TCP's own stream (secrets, IP IDs, ports), so
        # using TCP does not shift the random streams of the rest of the host
        rng = random.Random(host.rng.getrandbits(64))
        self.rng = rng
        self.net_secret = rng.getrandbits(128).to_bytes(16, "big")
        self.ts_secret = rng.getrandbits(128).to_bytes(16, "big")
        self.syncookie_secret = (rng.getrandbits(128).to_bytes(16, "big"),
                                 rng.getrandbits(128).to_bytes(16, "big"))
        self.port_secret = rng.getrandbits(128).to_bytes(16, "big")
        self.table_perturb: dict[int, int] = {}
        self.challenge_timestamp = 0
        self.challenge_count = 0
        self.orphan_count = 0
        self.tw_count = 0
        self.tp_set_state = host.tracepoints["sock:inet_sock_set_state"]
        self.tp_probe = host.tracepoints["tcp:tcp_probe"]
        self.tp_retransmit = host.tracepoints["tcp:tcp_retransmit_skb"]
        self.tp_retransmit_synack = host.tracepoints["tcp:tcp_retransmit_synack"]
        self.tp_send_reset = host.tracepoints["tcp:tcp_send_reset"]
        self.tp_receive_reset = host.tracepoints["tcp:tcp_receive_reset"]
        self.tp_bad_csum = host.tracepoints["tcp:tcp_bad_csum"]
        self.tp_destroy = host.tracepoints["tcp:tcp_destroy_sock"]
        self.tp_cong_state = host.tracepoints["tcp:tcp_cong_state_set"]
        self.tp_rcv_space_adjust = host.tracepoints["tcp:tcp_rcv_space_adjust"]
        self.all_socks: list[TcpSock] = []  # every live full socket (for ss and tests)
        # integer net.ipv4.* sysctls TCP read per segment, cached until one is written
        self._sysctl_cache: dict[str, int] = {}
        host.sysctl.watch("net.ipv4.*", self._sysctl_changed)

    # -- sysctls ----------------------------------------------------------------------
    def sysctl(self, name: str) -> int:
        """READ_ONCE(net->ipv4.sysctl_<name>) for an integer sysctl."""
        v = self._sysctl_cache.get(name)
        if v is None:
            full = "net.ipv4." + name
            sysctl = self.host.sysctl
            v = sysctl.get_int(full)
            if sysctl.is_stored(full):
                self._sysctl_cache[name] = v
        return v

    def _sysctl_changed(self, name: str, value: object) -> None:
        self._sysctl_cache.clear()

    def sysctl_vec(self, name: str) -> tuple[int, ...]:
        """An integer-vector sysctl (tcp_rmem, tcp_wmem, ip_local_port_range)."""
        v = self.host.sysctl.get("net.ipv4." + name)
        if not isinstance(v, tuple):
            raise TypeError(f"net.ipv4.{name} is not a vector")
        return v

    def now_ns(self) -> int:
        """The loop clock."""
        return self.host.loop.now_ns()

    # -- keyed hashes (net/core/secure_seq.c) -----------------------------------------
    def secure_tcp_seq(self, saddr: int, daddr: int, sport: int, dport: int) -> int:
        """secure_tcp_seq(): keyed hash of the 4-tuple plus a clock (RFC 6528). Linux's
        seq_scale adds ktime_get_real_ns() >> 6, a 64 ns tick (RFC 793 suggested 4 µs)."""
        h = keyed_hash32(self.net_secret, saddr, daddr, (sport << 16) | dport)
        return (h + (self.now_ns() >> 6)) & 0xFFFFFFFF

    def secure_tcp_ts_off(self, saddr: int, daddr: int) -> int:
        """secure_tcp_ts_off(): a per address-pair TS offset (0 when tcp_timestamps != 1)."""
        if self.sysctl("tcp_timestamps") != 1:
            return 0
        return keyed_hash32(self.ts_secret, saddr, daddr)

    def port_offset(self, saddr: int, daddr: int, dport: int) -> int:
        """secure_ipv4_port_ephemeral()."""
        return keyed_hash64(self.port_secret, saddr, daddr, dport)

    # -- lookups ------------------------------------------------------------------------
    def lookup_established(self, laddr: int, lport: int, raddr: int, rport: int) -> Any:
        """__inet_lookup_established(): a full, request or TIME_WAIT socket, or None."""
        return self.ehash.get((laddr, lport, raddr, rport))

    def lookup_listener(self, laddr: int, lport: int, ifindex: int = 0) -> TcpSock | None:
        """inet_lhash2_lookup(): a listener bound to ``laddr`` beats one on 0.0.0.0."""
        socks = self.listeners.get(lport)
        if not socks:
            return None
        best: TcpSock | None = None
        best_score = -1
        for sk in socks:
            bound = sk.inet_rcv_saddr
            if bound and bound != laddr:
                continue
            if sk.sk_bound_dev_if and sk.sk_bound_dev_if != ifindex:
                continue
            score = 2 if bound else 1
            if sk.sk_bound_dev_if:
                score += 1
            if score > best_score:
                best, best_score = sk, score
        return best

    # -- hashing ------------------------------------------------------------------------
    def ehash_key(self, sk: Any) -> tuple[int, int, int, int]:
        """The 4-tuple a socket is hashed under."""
        return (sk.inet_rcv_saddr, sk.inet_num, sk.inet_daddr, sk.inet_dport)

    def inet_ehash_insert(self, sk: Any) -> bool:
        """inet_ehash_insert(): False when the 4-tuple is taken."""
        key = self.ehash_key(sk)
        if key in self.ehash:
            return False
        self.ehash[key] = sk
        sk.hashed = True
        return True

    def inet_hash(self, sk: TcpSock) -> None:
        """inet_hash() for a listener."""
        self.listeners.setdefault(sk.inet_num, []).insert(0, sk)
        sk.hashed = True

    def unhash(self, sk: Any) -> None:
        """inet_unhash(): take the socket out of ehash or the listening hash."""
        if not getattr(sk, "hashed", False):
            return
        sk.hashed = False
        lst = self.listeners.get(sk.inet_num)
        if lst is not None and any(x is sk for x in lst):
            lst.remove(sk)
            if not lst:
                del self.listeners[sk.inet_num]
            return
        key = self.ehash_key(sk)
        if self.ehash.get(key) is sk:
            del self.ehash[key]

    def ehash_replace(self, old: Any, new: Any) -> None:
        """Put ``new`` where ``old`` was hashed (request -> child, child -> TIME_WAIT)."""
        key = self.ehash_key(old)
        cur = self.ehash.get(key)
        if cur is not None and cur is old:
            self.ehash[key] = new
            new.hashed = True
            cur.hashed = False

    def rehash(self, sk: Any, old_saddr: int) -> None:
        """The local address changed before hashing; nothing is hashed by it yet."""

    # -- ports (inet_csk_get_port / __inet_hash_connect) --------------------------------
    def _owners(self, port: int) -> list[Any]:
        return self.bhash.get(port, [])

    def _bind_owner_add(self, sk: Any, port: int) -> None:
        self.bhash.setdefault(port, []).append(sk)
        sk.bound = True

    def inet_put_port(self, sk: Any) -> None:
        """inet_put_port(): release the bind bucket entry."""
        owners = self.bhash.get(sk.inet_num)
        if owners is not None and sk in owners:
            owners.remove(sk)
            if not owners:
                del self.bhash[sk.inet_num]
        sk.bound = False
        if getattr(sk, "sk_state", 0) != 6:  # TIME_WAIT keeps inet_num for its key
            sk.inet_num = 0

    def inherit_port(self, child: Any, port: int) -> None:
        """__inet_inherit_port(): the child shares the listener's bucket."""
        self._bind_owner_add(child, port)
        child.bind_by_connect = False

    def _bind_conflict(self, sk: TcpSock, port: int) -> bool:
        """inet_csk_bind_conflict(): SO_REUSEADDR lets two non-listening sockets share a
        port (TIME_WAIT ones included); SO_REUSEPORT needs it on both."""
        for sk2 in self._owners(port):
            if sk2 is sk:
                continue
            if sk.sk_bound_dev_if and sk2.sk_bound_dev_if and \
                    sk.sk_bound_dev_if != sk2.sk_bound_dev_if:
                continue
            if sk.sk_reuse and sk2.sk_reuse and getattr(sk2, "sk_state", 0) != 10:
                continue
            if sk.sk_reuseport and getattr(sk2, "sk_reuseport", 0):
                continue
            a, b = sk.inet_rcv_saddr, sk2.inet_rcv_saddr
            if not a or not b or a == b:
                return True
        return False

    def get_port(self, sk: TcpSock, snum: int) -> int:
        """inet_csk_get_port(): bind ``sk`` to ``snum`` (0: an ephemeral port of odd
        parity first, the opposite of connect); 0 on success, 1 if in use."""
        if snum:
            if self._bind_conflict(sk, snum):
                return 1
        else:
            lo, hi = self.sysctl_vec("ip_local_port_range")[:2]
            remaining = hi + 1 - lo
            offset = self.rng.randrange(remaining) | 1
            found = 0
            for parity in (1, 0):
                start = (offset & ~1) | parity
                for i in range(0, remaining, 2):
                    port = lo + (start + i) % remaining
                    if port > hi:
                        continue
                    if not self._owners(port) or not self._bind_conflict_any(sk, port):
                        found = port
                        break
                if found:
                    break
            if not found:
                return 1
            snum = found
        sk.inet_num = snum
        self._bind_owner_add(sk, snum)
        sk.bind_by_connect = False
        return 0

    def _bind_conflict_any(self, sk: TcpSock, port: int) -> bool:
        return bool(self._owners(port)) and self._bind_conflict(sk, port)

    def inet_hash_connect(self, sk: TcpSock) -> int:
        """inet_hash_connect() / __inet_hash_connect(): pick a local port for a connect
        (even ports first, a perturbed offset per destination) whose 4-tuple is unused,
        and hash the socket. Returns 0 or -EADDRNOTAVAIL."""
        if sk.inet_num:
            if not self.inet_ehash_insert(sk):
                return -errno.EADDRNOTAVAIL
            return 0
        lo, hi = self.sysctl_vec("ip_local_port_range")[:2]
        high = hi + 1
        remaining = high - lo
        if remaining > 1:
            remaining &= ~1
        port_offset = self.port_offset(sk.inet_rcv_saddr, sk.inet_daddr, sk.inet_dport)
        index = port_offset & (_INET_TABLE_PERTURB_SIZE - 1)
        offset = (self.table_perturb.get(index, 0) + (port_offset >> 32)) % remaining
        offset &= ~1
        for parity_pass in (0, 1):
            port = lo + offset + parity_pass
            for i in range(0, remaining, 2):
                if port >= high:
                    port -= remaining
                if self._connect_port_ok(sk, port):
                    sk.inet_num = port
                    sk.inet_sport = port
                    self._bind_owner_add(sk, port)
                    sk.bind_by_connect = True
                    self.inet_ehash_insert(sk)
                    self.table_perturb[index] = self.table_perturb.get(index, 0) + i + 2
                    return 0
                port += 2
        return -errno.EADDRNOTAVAIL

    def _connect_port_ok(self, sk: TcpSock, port: int) -> bool:
        for owner in self._owners(port):
            if not getattr(owner, "bind_by_connect", False):
                return False
        return (sk.inet_rcv_saddr, port, sk.inet_daddr, sk.inet_dport) not in self.ehash


def tcp_net(host: Host) -> TcpNet:
    """The host's TCP state, created on first use."""
    tn: TcpNet | None = getattr(host, "_tcp_net", None)
    if tn is None:
        tn = TcpNet(host)
        setattr(host, "_tcp_net", tn)  # noqa: B010 - Host has no typed slot for it
    return tn
