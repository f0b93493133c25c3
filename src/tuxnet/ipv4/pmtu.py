"""Learned path MTUs: next-hop exceptions (net/ipv4/route.c: __ip_rt_update_pmtu,
update_or_create_fnhe, find_exception; RFC 1191 PMTUD).

Linux keeps what ICMP "fragmentation needed" taught it as a ``fib_nh_exception`` per
destination in the nexthop's exception table; a ``PmtuCache`` is one such table (make
one per nexthop, or one per host when that distinction does not matter).

* ``update(daddr, mtu)`` is __ip_rt_update_pmtu: an MTU above the current path MTU is
  ignored; one below ``net.ipv4.route.min_pmtu`` is raised to it (never above the
  current MTU) and *locked*, so later reports are ignored until it expires; the same
  MTU only refreshes the expiry once less than half of ``mtu_expires`` is left; else
  the exception is (re)written to expire ``net.ipv4.route.mtu_expires`` seconds later.
* ``get(daddr, default_mtu)`` is ipv4_mtu: the learned MTU while it lives, else the
  route's/device's MTU. Expired exceptions vanish on lookup (find_exception).
* ``format_cache(daddr)`` is the ``cache`` line `ip route get` prints (iproute2
  print_cache_flags/print_rta_cacheinfo/print_rta_metrics):
  ``    cache expires 599sec mtu 1400 `` (``mtu lock 552`` when locked).

The table has FNHE_HASH_SIZE buckets; a bucket deeper than a random 5..9 entries
loses its oldest entries (fnhe_remove_oldest), so spoofed ICMPs cannot grow it without
bound. The bucket hash is keyed from the host's seeded RNG (Linux: siphash with a
boot-time random key).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuxnet.host import Host

__all__ = ["FNHE_HASH_SIZE", "FNHE_RECLAIM_DEPTH", "IP_MAX_MTU", "FibNhException",
           "PmtuCache"]

IP_MAX_MTU = 0xFFF0  # include/net/ip.h
FNHE_HASH_SHIFT = 11  # include/net/ip_fib.h
FNHE_HASH_SIZE = 1 << FNHE_HASH_SHIFT
FNHE_RECLAIM_DEPTH = 5  # route.c: max depth is 5 + get_random_u32_below(5)
_GOLDEN_RATIO_64 = 0x61C8864680B583EB  # include/linux/hash.h: hash_64
_NSEC_PER_SEC = 1_000_000_000
_USER_HZ = 100  # clock_t ticks per second (iproute2 get_user_hz)
_NSEC_PER_CLOCK_T = _NSEC_PER_SEC // _USER_HZ
_MASK64 = (1 << 64) - 1


class FibNhException:
    """struct fib_nh_exception (the PMTU part): ``expires`` and ``stamp`` in ns."""

    __slots__ = ("daddr", "expires", "mtu_locked", "pmtu", "stamp")

    def __init__(self, daddr: int, pmtu: int, mtu_locked: bool, expires: int,
                 stamp: int) -> None:
        self.daddr = daddr
        self.pmtu = pmtu
        self.mtu_locked = mtu_locked
        self.expires = expires
        self.stamp = stamp

    def __repr__(self) -> str:
        lock = " lock" if self.mtu_locked else ""
        return f"<FibNhException {self.daddr:#010x} mtu{lock} {self.pmtu} exp {self.expires}>"


class PmtuCache:
    """A nexthop's exception table of learned path MTUs, keyed by destination."""

    def __init__(self, host: Host) -> None:
        self.host = host
        # fnhe_hash buckets; empty until a PMTU is learned (dst_mtu tests that first)
        self.buckets: dict[int, list[FibNhException]] = {}
        # fnhe_hash_key (net_get_random_once) and get_random_u32_below, drawn from a
        # stream of our own so PMTU events do not shift the host's other random draws
        self._rng = random.Random(host.rng.getrandbits(64))
        self._key = self._rng.getrandbits(64)

    def _hash(self, daddr: int) -> int:
        """fnhe_hashfun: a keyed hash of daddr folded to FNHE_HASH_SHIFT bits."""
        return (((daddr ^ self._key) * _GOLDEN_RATIO_64) & _MASK64) >> (64 - FNHE_HASH_SHIFT)

    def _sysctl(self, name: str) -> int:
        return self.host.sysctl.get_int(name)

    # -- lookups -----------------------------------------------------------------------
    def lookup(self, daddr: int) -> FibNhException | None:
        """find_exception: the live exception for ``daddr``; an expired one is deleted
        (ip_del_fnhe) and None returned."""
        buckets = self.buckets
        if not buckets:  # no exception learned: nothing to hash
            return None
        chain = buckets.get(self._hash(daddr))
        if not chain:
            return None
        for i, fnhe in enumerate(chain):
            if fnhe.daddr == daddr:
                if fnhe.expires and self.host.now_ns() >= fnhe.expires:
                    del chain[i]
                    return None
                return fnhe
        return None

    def get(self, daddr: int, default_mtu: int) -> int:
        """ipv4_mtu: the learned path MTU to ``daddr`` while it lives, else
        ``default_mtu`` (the route's RTAX_MTU or the device MTU), capped at IP_MAX_MTU."""
        fnhe = self.lookup(daddr)
        if fnhe is not None and fnhe.pmtu:
            fnhe.stamp = self.host.now_ns()  # rt_bind_exception refreshes fnhe_stamp
            return min(fnhe.pmtu, IP_MAX_MTU)
        return min(default_mtu, IP_MAX_MTU)

    def is_locked(self, daddr: int) -> bool:
        """ip_mtu_locked: the learned MTU was clamped to min_pmtu and is frozen."""
        fnhe = self.lookup(daddr)
        return fnhe is not None and fnhe.mtu_locked

    def expires_sec(self, daddr: int) -> int:
        """Seconds left as RTA_CACHEINFO rta_expires shows them (clock_t / USER_HZ,
        truncated), 0 when there is no live exception."""
        fnhe = self.lookup(daddr)
        if fnhe is None or not fnhe.expires:
            return 0
        return max(fnhe.expires - self.host.now_ns(), 0) // _NSEC_PER_SEC

    # -- updates -----------------------------------------------------------------------
    def update(self, daddr: int, mtu: int, *, route_mtu: int = IP_MAX_MTU) -> bool:
        """__ip_rt_update_pmtu for a path to ``daddr`` whose MTU without an exception is
        ``route_mtu``; True when an exception was created or changed (RFC 1191 6.3)."""
        host = self.host
        now = host.now_ns()
        fnhe = self.lookup(daddr)
        if fnhe is not None and fnhe.mtu_locked:
            return False  # ip_mtu_locked
        old_mtu = min(fnhe.pmtu if fnhe is not None and fnhe.pmtu else route_mtu, IP_MAX_MTU)
        if old_mtu < mtu:
            return False  # RFC 1191 6.3: never raise the estimate from a report
        lock = False
        min_pmtu = self._sysctl("net.ipv4.route.min_pmtu")
        if mtu < min_pmtu:
            lock = True
            mtu = min(old_mtu, min_pmtu)
        expires_ns = self._sysctl("net.ipv4.route.mtu_expires") * _NSEC_PER_SEC
        if (fnhe is not None and fnhe.pmtu == mtu and not lock
                and now < fnhe.expires - expires_ns // 2):
            return False  # fresh enough: do not rewrite it
        expires = max(now + expires_ns, 1)  # fnhe_expires = max(1UL, expires)
        if fnhe is not None:
            fnhe.pmtu = mtu
            fnhe.mtu_locked = lock
            fnhe.expires = expires
            fnhe.stamp = now
            return True
        self._create(daddr, mtu, lock, expires, now)
        return True

    def _create(self, daddr: int, mtu: int, lock: bool, expires: int, now: int) -> None:
        """update_or_create_fnhe's create path with fnhe_remove_oldest."""
        chain = self.buckets.setdefault(self._hash(daddr), [])
        max_depth = FNHE_RECLAIM_DEPTH + self._rng.randrange(FNHE_RECLAIM_DEPTH)
        while len(chain) > max_depth:
            oldest = min(range(len(chain)), key=lambda i: chain[i].stamp)
            del chain[oldest]
        chain.insert(0, FibNhException(daddr, mtu, lock, expires, now))

    def delete(self, daddr: int) -> bool:
        """ip_del_fnhe: forget the exception for ``daddr``; True if there was one."""
        chain = self.buckets.get(self._hash(daddr))
        if chain:
            for i, fnhe in enumerate(chain):
                if fnhe.daddr == daddr:
                    del chain[i]
                    return True
        return False

    def flush(self) -> None:
        """fnhe_flush_routes / fib_nh_common_release: drop every exception."""
        self.buckets.clear()

    # -- listing -----------------------------------------------------------------------
    def entries(self) -> list[FibNhException]:
        """The live exceptions (as `ip route show cache` dumps them), by address."""
        now = self.host.now_ns()
        out = [f for chain in self.buckets.values() for f in chain
               if not f.expires or now < f.expires]
        return sorted(out, key=lambda f: f.daddr)

    def __len__(self) -> int:
        return len(self.entries())

    def format_cache(self, daddr: int) -> str:
        """The second line of `ip route get` for ``daddr``, trailing space included:
        ``    cache `` then ``expires Nsec `` and ``mtu [lock ]N `` while an exception
        lives (rt_fill_info reports the PMTU metric only while it has not expired)."""
        out = "    cache "
        fnhe = self.lookup(daddr)
        if fnhe is None:
            return out
        left = fnhe.expires - self.host.now_ns() if fnhe.expires else 0
        clock_t = left // _NSEC_PER_CLOCK_T  # jiffies_delta_to_clock_t
        if clock_t:
            out += f"expires {clock_t // _USER_HZ}sec "
        if fnhe.pmtu and left > 0:
            out += f"mtu {'lock ' if fnhe.mtu_locked else ''}{fnhe.pmtu} "
        return out
