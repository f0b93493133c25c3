"""Learned path MTUs (__ip_rt_update_pmtu, next-hop exceptions; RFC 1191 PMTUD)."""

from __future__ import annotations

from tuxnet.host import Host
from tuxnet.ipv4.pmtu import FNHE_HASH_SIZE, FNHE_RECLAIM_DEPTH, IP_MAX_MTU, PmtuCache
from tuxnet.loop import SimLoop
from tuxnet.wire.addr import ip_int

SEC = 1_000_000_000
D = ip_int("203.0.113.9")


def rig(**sysctls: int) -> tuple[SimLoop, Host, PmtuCache]:
    loop = SimLoop()
    host = Host(loop)
    for name, value in sysctls.items():
        host.sysctl.set(f"net.ipv4.route.{name}", value)
    return loop, host, PmtuCache(host)


def test_learns_a_lower_mtu_and_shows_it_like_ip_route_get() -> None:
    loop, _host, cache = rig()
    assert cache.get(D, 1500) == 1500
    assert cache.format_cache(D) == "    cache "
    assert cache.update(D, 1400, route_mtu=1500)
    assert cache.get(D, 1500) == 1400
    assert cache.format_cache(D) == "    cache expires 600sec mtu 1400 "
    loop.run(until_ns=SEC // 2)
    assert cache.format_cache(D) == "    cache expires 599sec mtu 1400 "
    assert cache.expires_sec(D) == 599
    assert cache.get(ip_int("203.0.113.10"), 1500) == 1500  # per destination


def test_increase_is_ignored_rfc1191() -> None:
    _loop, _host, cache = rig()
    cache.update(D, 1400, route_mtu=1500)
    assert not cache.update(D, 1450, route_mtu=1500)
    assert cache.get(D, 1500) == 1400
    assert not cache.update(ip_int("203.0.113.77"), 9000, route_mtu=1500)
    assert len(cache) == 1
    assert cache.update(D, 1300, route_mtu=1500)  # lower again: learned
    assert cache.get(D, 1500) == 1300


def test_expires_after_mtu_expires() -> None:
    loop, _host, cache = rig()
    cache.update(D, 1400, route_mtu=1500)
    loop.run(until_ns=600 * SEC - 1)
    assert cache.get(D, 1500) == 1400
    loop.run(until_ns=600 * SEC)
    assert cache.get(D, 1500) == 1500
    assert cache.lookup(D) is None and len(cache) == 0
    assert cache.format_cache(D) == "    cache "


def test_mtu_expires_sysctl_is_read_at_update() -> None:
    loop, host, cache = rig(mtu_expires=10)
    cache.update(D, 1280, route_mtu=1500)
    host.sysctl.set("net.ipv4.route.mtu_expires", 600)
    loop.run(until_ns=10 * SEC)
    assert cache.get(D, 1500) == 1500


def test_below_min_pmtu_is_raised_to_it_and_locked() -> None:
    loop, _host, cache = rig()
    assert cache.update(D, 296, route_mtu=1500)
    assert cache.get(D, 1500) == 552 and cache.is_locked(D)
    assert cache.format_cache(D) == "    cache expires 600sec mtu lock 552 "
    # locked: later reports are ignored until it expires (ip_mtu_locked)
    assert not cache.update(D, 500, route_mtu=1500)
    assert not cache.update(D, 400, route_mtu=1500)
    assert cache.get(D, 1500) == 552
    loop.run(until_ns=600 * SEC)
    assert cache.update(D, 1000, route_mtu=1500) and not cache.is_locked(D)


def test_min_pmtu_never_raises_above_the_current_mtu() -> None:
    _loop, _host, cache = rig()
    assert cache.update(D, 100, route_mtu=520)  # a 520-byte link, report of 100
    assert cache.get(D, 520) == 520 and cache.is_locked(D)


def test_min_pmtu_sysctl() -> None:
    _loop, _host, cache = rig(min_pmtu=1280)
    cache.update(D, 1000, route_mtu=1500)
    assert cache.get(D, 1500) == 1280 and cache.is_locked(D)


def test_same_mtu_refreshes_only_in_the_second_half() -> None:
    loop, _host, cache = rig()
    cache.update(D, 1400, route_mtu=1500)
    loop.run(until_ns=299 * SEC)
    assert not cache.update(D, 1400, route_mtu=1500)
    assert cache.expires_sec(D) == 301
    loop.run(until_ns=301 * SEC)
    assert cache.update(D, 1400, route_mtu=1500)
    assert cache.expires_sec(D) == 600


def test_route_mtu_and_default_are_capped_at_ip_max_mtu() -> None:
    _loop, _host, cache = rig()
    assert cache.get(D, 70000) == IP_MAX_MTU
    assert not cache.update(D, 65535)  # above IP_MAX_MTU: an increase
    assert cache.update(D, 65000)
    assert cache.get(D, 70000) == 65000


def test_delete_flush_and_entries() -> None:
    _loop, _host, cache = rig()
    for i in range(5):
        cache.update(D + i, 1400 - i, route_mtu=1500)
    assert [f.pmtu for f in cache.entries()] == [1400, 1399, 1398, 1397, 1396]
    assert cache.delete(D) and not cache.delete(D)
    assert len(cache) == 4
    cache.flush()
    assert len(cache) == 0


def test_spoofed_reports_cannot_grow_the_table_without_bound() -> None:
    _loop, _host, cache = rig()
    n = FNHE_HASH_SIZE * 3 * FNHE_RECLAIM_DEPTH
    for i in range(n):
        cache.update(0x0A000000 + i, 1400, route_mtu=1500)
    assert len(cache) <= FNHE_HASH_SIZE * (2 * FNHE_RECLAIM_DEPTH)
    assert len(cache) < n
