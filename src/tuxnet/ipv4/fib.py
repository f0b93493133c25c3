"""The IPv4 forwarding information base: tables, longest-prefix match, insert, delete,
dump, and the flush of routes whose device or source went away (net/ipv4/fib_trie.c,
fib_frontend.c, fib_semantics.c).

Storage replaces the LC-trie with one dict per prefix length (``{prefix: [aliases]}``),
walked from the longest length present: a lookup costs one mask and one dict probe per
distinct length in use (a handful on real hosts), and the callers put a route cache in
front (:mod:`tuxnet.ipv4.route`). Inside one ``{prefix: list}`` entry the aliases keep
the kernel's leaf order (table id descending, tos descending, metric ascending, then
insertion rules of fib_table_insert), and a dump walks prefixes in ascending key
order, longer prefix first for one key — the order ``ip route`` prints.

As in Linux without policy rules, tables ``local`` and ``main`` share one store (the
"merged" trie, fib_trie_table(RT_TABLE_MAIN, local)): a lookup finds the longest match
over both, local winning a tie, then tries table ``default`` (fib_lookup in
include/net/ip_fib.h). Other tables exist and show, but no rule selects them yet.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator

from tuxnet.ipv4.fib_semantics import (
    FIB_PROPS_ERROR,
    FIB_PROPS_SCOPE,
    IP_MAX_MTU,
    MASKS,
    RT_SCOPE_HOST,
    RT_SCOPE_NOWHERE,
    RT_TABLE_DEFAULT,
    RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
    RTAX_HOPLIMIT,
    RTAX_MTU,
    RTN_BROADCAST,
    RTN_MULTICAST,
    RTN_THROW,
    RTN_UNICAST,
    RTNH_F_LINKDOWN,
    RTNH_F_ONLINK,
    FibAlias,
    FibConfig,
    FibInfo,
    FibNh,
    NetDeviceLike,
    RtnlError,
)

__all__ = ["Fib", "FibStore", "FibTable"]


class FibStore:
    """The prefix store behind one or more tables (struct trie)."""

    __slots__ = ("_by_len", "levels")

    def __init__(self) -> None:
        self._by_len: dict[int, dict[int, list[FibAlias]]] = {}
        # (mask, {prefix: aliases}) from the longest prefix length down
        self.levels: list[tuple[int, dict[int, list[FibAlias]]]] = []

    def _relevel(self) -> None:
        self.levels = [(MASKS[plen], self._by_len[plen])
                       for plen in sorted(self._by_len, reverse=True)]

    def leaf(self, dst: int, plen: int) -> list[FibAlias] | None:
        """fib_find_node(): the aliases of one prefix, or None."""
        bucket = self._by_len.get(plen)
        return bucket.get(dst) if bucket is not None else None

    def leaf_create(self, dst: int, plen: int) -> list[FibAlias]:
        """fib_insert_node(): the aliases of one prefix, made empty if new."""
        bucket = self._by_len.get(plen)
        if bucket is None:
            bucket = self._by_len[plen] = {}
            self._relevel()
        fas = bucket.get(dst)
        if fas is None:
            fas = bucket[dst] = []
        return fas

    def leaf_prune(self, dst: int, plen: int) -> None:
        """node_pull_suffix() / resize: drop an empty prefix and an empty length."""
        bucket = self._by_len.get(plen)
        if bucket is None or bucket.get(dst):
            return
        bucket.pop(dst, None)
        if not bucket:
            del self._by_len[plen]
            self._relevel()

    def walk(self) -> Iterator[FibAlias]:
        """The aliases in dump order: ascending prefix, longer first for one prefix."""
        keys = [(dst, -plen) for plen, bucket in self._by_len.items() for dst in bucket]
        keys.sort()
        for dst, neg in keys:
            yield from list(self._by_len[-neg][dst])


class FibTable:
    """struct fib_table: an id and the store its routes live in."""

    __slots__ = ("id", "serial", "store")

    def __init__(self, tb_id: int, store: FibStore, serial: int) -> None:
        self.id = tb_id
        self.store = store
        self.serial = serial  # creation order: newer tables dump first in a hash bucket

    def routes(self) -> Iterator[FibAlias]:
        """fib_table_dump(): this table's aliases in dump order."""
        tb_id = self.id
        for fa in self.store.walk():
            if fa.tb_id == tb_id:
                yield fa

    def lookup(self, daddr: int, oif: int, scope: int, tos: int,
               ignore_linkdown: Callable[[NetDeviceLike], bool] | None) -> FibAlias | None:
        """fib_table_lookup(): the longest match; a reject type (blackhole, unreachable,
        prohibit, throw) ends the search and is returned as found."""
        for mask, bucket in self.store.levels:
            fas = bucket.get(daddr & mask)
            if fas is None:
                continue
            for fa in fas:
                if fa.tos and fa.tos != tos:
                    continue
                fi = fa.fi
                if fi.scope < scope or fi.dead:
                    continue
                if FIB_PROPS_ERROR[fa.type]:
                    return fa
                nh = fi.nh
                if oif and nh.oif != oif:
                    continue
                if (nh.flags & RTNH_F_LINKDOWN and ignore_linkdown is not None
                        and nh.dev is not None and ignore_linkdown(nh.dev)):
                    continue
                return fa
        return None


class Fib:
    """The per-namespace FIB (net->ipv4: fib_table_hash, fib_main, fib_default).

    ``genid`` changes on every modification (rt_cache_flush); ``on_change`` is called
    then, so route caches can drop their entries.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        merged = FibStore()
        self._serial = 0
        self.tables: dict[int, FibTable] = {}
        self.tables[RT_TABLE_LOCAL] = self._new(RT_TABLE_LOCAL, merged)
        self.tables[RT_TABLE_MAIN] = self._new(RT_TABLE_MAIN, merged)
        self._merged = merged
        self.genid = 0
        self.on_change = on_change
        self.ignore_linkdown: Callable[[NetDeviceLike], bool] | None = None

    def _new(self, tb_id: int, store: FibStore) -> FibTable:
        self._serial += 1
        return FibTable(tb_id, store, self._serial)

    def changed(self) -> None:
        """rt_cache_flush(): bump the generation, let the caches know."""
        self.genid += 1
        if self.on_change is not None:
            self.on_change()

    # -- tables ---------------------------------------------------------------------
    def get_table(self, tb_id: int) -> FibTable | None:
        """fib_get_table(): table 0 (unspec) means main."""
        return self.tables.get(tb_id or RT_TABLE_MAIN)

    def new_table(self, tb_id: int) -> FibTable:
        """fib_new_table(): the table, created empty on first use."""
        tb_id = tb_id or RT_TABLE_MAIN
        tb = self.tables.get(tb_id)
        if tb is None:
            tb = self.tables[tb_id] = self._new(tb_id, FibStore())
        return tb

    def dump_order(self) -> list[FibTable]:
        """Tables in the order a full dump visits them: fib_table_hash buckets by
        ``id & 255``, newest first within a bucket (hlist_add_head)."""
        return sorted(self.tables.values(), key=lambda t: (t.id & 0xFF, -t.serial))

    # -- lookup ---------------------------------------------------------------------
    def lookup(self, daddr: int, oif: int = 0, scope: int = 0, tos: int = 0) -> FibAlias | None:
        """fib_lookup() without policy rules: the merged local+main store, then table
        default. None means no route (-ENETUNREACH); a reject alias is returned as is.
        A throw route ends the search in its table and goes on with the next."""
        ild = self.ignore_linkdown
        fa = self.tables[RT_TABLE_MAIN].lookup(daddr, oif, scope, tos, ild)
        if fa is not None and fa.type != RTN_THROW:
            return fa
        dflt = self.tables.get(RT_TABLE_DEFAULT)
        if dflt is not None:
            fa = dflt.lookup(daddr, oif, scope, tos, ild)
            if fa is not None and fa.type != RTN_THROW:
                return fa
        return None

    # -- insert -----------------------------------------------------------------------
    def create_info(self, cfg: FibConfig,
                    check_nh: Callable[[FibConfig, FibNh], None]) -> FibInfo:
        """fib_create_info(): validate the request and build its fib_info.

        ``check_nh`` is fib_check_nh (it needs the interface addresses; devinet
        supplies it) and fills the nexthop's scope and device or raises RtnlError.
        """
        if cfg.type > len(FIB_PROPS_SCOPE) - 1 or FIB_PROPS_SCOPE[cfg.type] > cfg.scope:
            raise RtnlError(errno.EINVAL, "Invalid scope")
        metrics = dict(cfg.metrics)
        if RTAX_MTU in metrics:
            metrics[RTAX_MTU] = min(metrics[RTAX_MTU], IP_MAX_MTU)  # ip_metrics_convert
        if metrics.get(RTAX_HOPLIMIT, 0) > 255:
            metrics[RTAX_HOPLIMIT] = 255
        metrics = {k: v for k, v in metrics.items() if v}
        fi = FibInfo(protocol=cfg.protocol, scope=cfg.scope, priority=cfg.priority,
                     prefsrc=cfg.prefsrc, metrics=metrics, congctl=cfg.congctl,
                     mxlock=cfg.mxlock)
        nh = fi.nh
        nh.gw = cfg.gw
        nh.dev = cfg.dev
        if cfg.onlink:
            nh.flags |= RTNH_F_ONLINK
        if FIB_PROPS_ERROR[cfg.type]:
            if cfg.gw or cfg.dev is not None:
                raise RtnlError(errno.EINVAL, "Gateway, device and multipath can not be "
                                "specified for this route type")
            nh.dev = None
            return fi
        if cfg.scope == RT_SCOPE_HOST:
            if cfg.gw:
                raise RtnlError(errno.EINVAL, "Route with host scope can not have a gateway")
            if cfg.dev is None:
                raise RtnlError(errno.ENODEV)
            nh.scope = RT_SCOPE_NOWHERE
        else:
            check_nh(cfg, nh)
        return fi

    def insert(self, cfg: FibConfig, fi: FibInfo) -> FibAlias | None:
        """fib_table_insert(): add, replace or append a route as the NLM_F_* flags say.

        Returns the new alias, or None when an identical route made the request a no-op
        (replace of itself). Raises RtnlError(EEXIST / ENOENT)."""
        self._check_key(cfg)
        tb = self.new_table(cfg.table)
        store = tb.store
        fas = store.leaf(cfg.dst, cfg.plen) or []
        tb_id, tos, prio = tb.id, cfg.tos, fi.priority
        pos = len(fas)
        for i, fa in enumerate(fas):
            if fa.tb_id < tb_id or (fa.tb_id == tb_id and (
                    fa.tos < tos or (fa.tos == tos and fa.fi.priority >= prio))):
                pos = i
                break
        new = FibAlias(cfg.dst, cfg.plen, cfg.type, tb_id, fi, tos)
        same_key = (pos < len(fas) and fas[pos].tb_id == tb_id and fas[pos].tos == tos
                    and fas[pos].fi.priority == prio)
        if same_key:
            if cfg.excl:
                raise RtnlError(errno.EEXIST)
            first = pos
            end = pos
            match = -1
            while end < len(fas):
                fa = fas[end]
                if fa.tb_id != tb_id or fa.tos != tos or fa.fi.priority != prio:
                    break
                if match < 0 and fa.type == cfg.type and fa.fi.same(fi):
                    match = end
                end += 1
            if cfg.replace:
                if match >= 0:
                    if match == first:
                        return None
                    raise RtnlError(errno.EEXIST)
                fas[first] = new
                self.changed()
                return new
            if match >= 0:
                raise RtnlError(errno.EEXIST)
            pos = end if cfg.append else first
        if not cfg.create:
            raise RtnlError(errno.ENOENT)
        store.leaf_create(cfg.dst, cfg.plen).insert(pos, new)
        self.changed()
        return new

    @staticmethod
    def _check_key(cfg: FibConfig) -> None:
        # fib_valid_key_len()
        if not 0 <= cfg.plen <= 32:
            raise RtnlError(errno.EINVAL, "Invalid prefix length")
        if cfg.dst & ~MASKS[cfg.plen] & 0xFFFFFFFF:
            raise RtnlError(errno.EINVAL, "Invalid prefix for given prefix length")

    # -- delete -----------------------------------------------------------------------
    def delete(self, cfg: FibConfig) -> FibAlias:
        """fib_table_delete(): remove the first route of the prefix matching every
        attribute the request gives (0 / RT_SCOPE_NOWHERE / None mean any)."""
        tb = self.get_table(cfg.table)
        if tb is None:
            raise RtnlError(errno.ESRCH, "FIB table does not exist")
        self._check_key(cfg)
        fas = tb.store.leaf(cfg.dst, cfg.plen)
        for i, fa in enumerate(fas or ()):
            if fa.tb_id != tb.id or fa.tos != cfg.tos:
                continue
            if self._matches(fa, cfg):
                assert fas is not None
                del fas[i]
                tb.store.leaf_prune(cfg.dst, cfg.plen)
                self.changed()
                return fa
        raise RtnlError(errno.ESRCH)

    @staticmethod
    def _matches(fa: FibAlias, cfg: FibConfig) -> bool:
        fi = fa.fi
        if cfg.type and fa.type != cfg.type:
            return False
        if cfg.scope != RT_SCOPE_NOWHERE and fi.scope != cfg.scope:
            return False
        if cfg.prefsrc and fi.prefsrc != cfg.prefsrc:
            return False
        if cfg.protocol and fi.protocol != cfg.protocol:
            return False
        if cfg.priority and fi.priority != cfg.priority:  # fib_nh_match
            return False
        nh = fi.nh
        if cfg.dev is not None and nh.dev is not cfg.dev:
            return False
        if cfg.gw and nh.gw != cfg.gw:
            return False
        if any(fi.metrics.get(k) != v for k, v in cfg.metrics.items()):  # fib_metrics_match
            return False
        return not (cfg.congctl and fi.congctl != cfg.congctl)

    def remove_aliases(self, doomed: list[FibAlias]) -> None:
        """Unlink these exact aliases (the flush of dead fib_infos, ip route flush)."""
        if not doomed:
            return
        for fa in doomed:
            tb = self.tables.get(fa.tb_id)
            if tb is None:
                continue
            fas = tb.store.leaf(fa.dst, fa.plen)
            if fas is None:
                continue
            for i, other in enumerate(fas):
                if other is fa:
                    del fas[i]
                    break
            tb.store.leaf_prune(fa.dst, fa.plen)
        self.changed()

    # -- walks ------------------------------------------------------------------------
    def all_routes(self) -> Iterator[FibAlias]:
        """Every alias of every table, in full-dump order."""
        for tb in self.dump_order():
            yield from tb.routes()

    def sync_down_dev(self, dev: NetDeviceLike, force: bool) -> int:
        """fib_sync_down_dev(NETDEV_DOWN/UNREGISTER) + fib_flush(): remove the routes
        whose nexthop is on ``dev``. Host-scope nexthops (local routes) survive unless
        ``force`` (unregister, or the last address went away)."""
        doomed = [fa for fa in self.all_routes()
                  if fa.fi.nh.dev is dev and (force or fa.fi.nh.scope != RT_SCOPE_NOWHERE)]
        for fa in doomed:
            fa.fi.dead = True
        self.remove_aliases(doomed)
        return len(doomed)

    def sync_down_addr(self, dev: NetDeviceLike, addr: int) -> int:
        """fib_sync_down_addr() + fib_flush(): remove the routes using ``addr`` as
        preferred source once that address is gone from the namespace."""
        doomed = [fa for fa in self.all_routes() if fa.fi.prefsrc == addr]
        for fa in doomed:
            fa.fi.dead = True
        self.remove_aliases(doomed)
        return len(doomed)

    def set_linkdown(self, dev: NetDeviceLike, down: bool) -> None:
        """fib_sync_down_dev(NETDEV_CHANGE) / fib_sync_up(RTNH_F_LINKDOWN): mark or clear
        RTNH_F_LINKDOWN on the nexthops using ``dev`` (shown as ``linkdown``)."""
        changed = False
        for fa in self.all_routes():
            nh = fa.fi.nh
            if nh.dev is dev and nh.scope != RT_SCOPE_NOWHERE:
                was = nh.flags & RTNH_F_LINKDOWN
                nh.flags = nh.flags | RTNH_F_LINKDOWN if down else nh.flags & ~RTNH_F_LINKDOWN
                changed = changed or bool(was) != down
        if changed:
            self.changed()

    def addr_type(self, addr: int, dev: NetDeviceLike | None = None,
                  tb_id: int = RT_TABLE_LOCAL) -> int:
        """__inet_dev_addr_type(): the type of the route ``addr`` meets in table
        ``tb_id`` (the merged local+main store for local); RTN_UNICAST when none, when
        a reject route answers, or when ``dev`` is given and is not the route's."""
        if addr >> 24 == 0 or addr == 0xFFFFFFFF:
            return RTN_BROADCAST  # ipv4_is_zeronet / ipv4_is_lbcast
        if addr >> 28 == 0xE:
            return RTN_MULTICAST
        tb = self.tables.get(tb_id)
        if tb is None:
            return RTN_UNICAST
        fa = tb.lookup(addr, 0, 0, 0, None)
        if fa is None or FIB_PROPS_ERROR[fa.type]:
            return RTN_UNICAST
        if dev is not None and fa.fi.nh.dev is not dev:
            return RTN_UNICAST
        return fa.type
