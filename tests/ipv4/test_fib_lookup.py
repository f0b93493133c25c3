"""The FIB: longest-prefix match against a brute-force reference, metric order,
local-before-main (the merged local+main store), reject types, throw, and the
add/replace/change/append/prepend/delete rules of fib_table_insert/delete."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxnet.ipv4.fib import Fib
from tuxnet.ipv4.fib_semantics import (
    FIB_PROPS_ERROR,
    MASKS,
    RT_SCOPE_HOST,
    RT_SCOPE_LINK,
    RT_TABLE_DEFAULT,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTN_BLACKHOLE,
    RTN_LOCAL,
    RTN_PROHIBIT,
    RTN_THROW,
    RTN_UNICAST,
    RTN_UNREACHABLE,
    FibAlias,
    FibConfig,
    FibNh,
    RtnlError,
)
from tuxnet.wire.addr import ip_int


class Dev:
    def __init__(self, name: str, ifindex: int) -> None:
        self.name = name
        self.ifindex = ifindex
        self.mtu = 1500
        self.flags = 0x11043


ETH0, ETH1 = Dev("eth0", 2), Dev("eth1", 3)


def _link_nh(cfg: FibConfig, nh: FibNh) -> None:
    nh.scope = RT_SCOPE_LINK


def add(fib: Fib, prefix: str, *, gw: int = 0, metric: int = 0, rtype: int = RTN_UNICAST,
        table: int = RT_TABLE_MAIN, dev: Dev | None = ETH0, **flags: bool) -> FibAlias | None:
    addr, _, plen = prefix.partition("/")
    reject = bool(FIB_PROPS_ERROR[rtype])
    cfg = FibConfig(dst=ip_int(addr), plen=int(plen or 32), type=rtype, table=table,
                    priority=metric, gw=gw, dev=None if reject else dev,
                    scope=RT_SCOPE_HOST if rtype == RTN_LOCAL else 0, **flags)
    fi = fib.create_info(cfg, _link_nh)
    return fib.insert(cfg, fi)


def lookup(fib: Fib, addr: str, oif: int = 0) -> FibAlias | None:
    return fib.lookup(ip_int(addr), oif)


# -- longest prefix match --------------------------------------------------------------

_route = st.tuples(st.integers(0, 0xFFFFFFFF), st.integers(0, 32), st.integers(0, 3),
                   st.sampled_from([RT_TABLE_MAIN, RT_TABLE_LOCAL]),
                   st.sampled_from([RTN_UNICAST, RTN_UNICAST, RTN_UNICAST, RTN_BLACKHOLE]))


@settings(max_examples=300, deadline=None)
@given(routes=st.lists(_route, max_size=40), probes=st.lists(st.integers(0, 0xFFFFFFFF),
                                                             max_size=30))
def test_lpm_matches_brute_force(routes: list[tuple[int, int, int, int, int]],
                                 probes: list[int]) -> None:
    fib = Fib()
    installed: list[FibAlias] = []
    for raw, plen, metric, table, rtype in routes:
        dst = raw & MASKS[plen]
        reject = bool(FIB_PROPS_ERROR[rtype])
        cfg = FibConfig(dst=dst, plen=plen, type=rtype, table=table, priority=metric,
                        dev=None if reject else ETH0)
        try:
            fa = fib.insert(cfg, fib.create_info(cfg, _link_nh))
        except RtnlError as err:
            assert err.errno == errno.EEXIST
            continue
        assert fa is not None
        installed.append(fa)
    # probe inside every prefix too, and just outside it
    probes = probes + [fa.dst for fa in installed] + [
        (fa.dst | (~MASKS[fa.plen] & 0xFFFFFFFF)) + 1 & 0xFFFFFFFF for fa in installed]
    for addr in probes:
        cands = [fa for fa in installed if (addr & MASKS[fa.plen]) == fa.dst]
        # longest prefix, then local before main (tb_id descending), then lowest metric
        want = min(cands, key=lambda fa: (-fa.plen, -fa.tb_id, fa.fi.priority), default=None)
        assert fib.lookup(addr) is want


def test_longest_prefix_wins_then_metric() -> None:
    fib = Fib()
    wide = add(fib, "10.0.0.0/8", gw=1)
    narrow_slow = add(fib, "10.1.0.0/16", gw=2, metric=200)
    narrow_fast = add(fib, "10.1.0.0/16", gw=3, metric=100)
    dflt = add(fib, "0.0.0.0/0", gw=4)
    assert lookup(fib, "10.1.2.3") is narrow_fast
    assert lookup(fib, "10.2.2.3") is wide
    assert lookup(fib, "192.0.2.1") is dflt
    fib.remove_aliases([narrow_fast])
    assert lookup(fib, "10.1.2.3") is narrow_slow


def test_local_table_first_at_equal_length_but_longer_main_wins() -> None:
    # Linux without policy rules keeps local and main in one trie (fib_trie_table with
    # an alias): a more specific main route beats a shorter local one.
    fib = Fib()
    anyip = add(fib, "10.0.0.0/8", rtype=RTN_LOCAL, table=RT_TABLE_LOCAL)
    main_same = add(fib, "10.0.0.0/8", gw=1)
    main_longer = add(fib, "10.1.0.0/16", gw=1)
    assert lookup(fib, "10.2.0.1") is anyip
    assert lookup(fib, "10.1.0.1") is main_longer
    assert main_same is not None and anyip is not None
    assert [fa.tb_id for fa in fib.tables[RT_TABLE_MAIN].store.leaf(ip_int("10.0.0.0"), 8)
            or []] == [RT_TABLE_LOCAL, RT_TABLE_MAIN]


@pytest.mark.parametrize(("rtype", "err"), [(RTN_UNREACHABLE, errno.EHOSTUNREACH),
                                            (RTN_BLACKHOLE, errno.EINVAL),
                                            (RTN_PROHIBIT, errno.EACCES)])
def test_reject_types_answer_with_their_error(rtype: int, err: int) -> None:
    fib = Fib()
    add(fib, "0.0.0.0/0", gw=1)
    reject = add(fib, "192.168.1.0/24", rtype=rtype)
    fa = lookup(fib, "192.168.1.7")
    assert fa is reject and fa is not None and -FIB_PROPS_ERROR[fa.type] == err


def test_throw_ends_the_table_and_default_table_is_next() -> None:
    fib = Fib()
    add(fib, "0.0.0.0/0", gw=1)
    add(fib, "192.168.4.0/24", rtype=RTN_THROW)
    assert lookup(fib, "192.168.4.1") is None  # -ENETUNREACH
    backup = add(fib, "192.168.0.0/16", gw=2, table=RT_TABLE_DEFAULT)
    assert lookup(fib, "192.168.4.1") is backup
    assert lookup(fib, "192.168.5.1") is not backup  # main answers first


def test_oif_skips_other_devices() -> None:
    fib = Fib()
    a = add(fib, "10.0.0.0/24", dev=ETH0)
    b = add(fib, "10.0.0.0/16", dev=ETH1)
    assert lookup(fib, "10.0.0.9") is a
    assert lookup(fib, "10.0.0.9", oif=ETH1.ifindex) is b
    assert lookup(fib, "10.0.0.9", oif=99) is None


# -- insert / delete rules ---------------------------------------------------------------

def _gws(fib: Fib, prefix: str) -> list[tuple[int, int]]:
    addr, _, plen = prefix.partition("/")
    leaf = fib.tables[RT_TABLE_MAIN].store.leaf(ip_int(addr), int(plen))
    return [(fa.fi.nh.gw, fa.fi.priority) for fa in leaf or []]


def test_add_replace_change_append_prepend_like_fib_table_insert() -> None:
    fib = Fib()
    p = "10.8.0.0/16"
    add(fib, p, gw=1, excl=False, replace=True)        # ip route replace (creates)
    with pytest.raises(RtnlError) as exc:
        add(fib, p, gw=9, create=False, excl=False, replace=True, table=100)  # change
    assert exc.value.errno == errno.ENOENT
    add(fib, p, gw=3, create=False, excl=False, replace=True)  # change: replaces gw 1
    add(fib, p, gw=4, metric=7)                          # add with another metric
    add(fib, p, gw=5, excl=False, append=True)           # append: after same-metric ones
    add(fib, p, gw=6, excl=False)                        # prepend: first of its metric
    assert _gws(fib, p) == [(6, 0), (3, 0), (5, 0), (4, 7)]
    with pytest.raises(RtnlError) as exc:
        add(fib, p, gw=7)                                # add: same prefix and metric
    assert exc.value.errno == errno.EEXIST
    with pytest.raises(RtnlError):
        add(fib, p, gw=5, excl=False, replace=True)      # replace by an identical later one
    assert add(fib, p, gw=6, excl=False, replace=True) is None  # replace itself: no-op


def test_delete_matches_given_attributes_only() -> None:
    fib = Fib()
    add(fib, "10.1.0.0/16", gw=1, metric=5)
    add(fib, "10.1.0.0/16", gw=2, metric=9)
    base = {"dst": ip_int("10.1.0.0"), "plen": 16, "type": 0, "protocol": 0, "scope": 255}
    with pytest.raises(RtnlError) as exc:
        fib.delete(FibConfig(**base, gw=3))  # type: ignore[arg-type]
    assert exc.value.errno == errno.ESRCH
    fib.delete(FibConfig(**base, priority=9))  # type: ignore[arg-type]
    assert _gws(fib, "10.1.0.0/16") == [(1, 5)]
    fib.delete(FibConfig(**base))  # type: ignore[arg-type]
    assert _gws(fib, "10.1.0.0/16") == []
    with pytest.raises(RtnlError) as exc:
        fib.delete(FibConfig(**base, table=55))  # type: ignore[arg-type]
    assert str(exc.value) == "Error: FIB table does not exist."


def test_invalid_prefix_and_scope() -> None:
    fib = Fib()
    with pytest.raises(RtnlError) as exc:
        add(fib, "10.9.0.1/16")
    assert str(exc.value) == "Error: Invalid prefix for given prefix length."
    cfg = FibConfig(dst=ip_int("10.9.0.0"), plen=16, type=RTN_LOCAL, dev=ETH0,
                    scope=RT_SCOPE_LINK)
    with pytest.raises(RtnlError) as exc:
        fib.create_info(cfg, _link_nh)
    assert str(exc.value) == "Error: Invalid scope."


def test_every_change_bumps_genid() -> None:
    seen: list[int] = []
    fib = Fib(on_change=lambda: seen.append(1))
    g = fib.genid
    fa = add(fib, "10.0.0.0/8", gw=1)
    assert fib.genid == g + 1 and seen
    assert fa is not None
    fib.remove_aliases([fa])
    assert fib.genid == g + 2
