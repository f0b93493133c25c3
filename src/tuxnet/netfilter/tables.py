"""xt_table: the iptables tables of one host, their chains, and the per-host netfilter
state (net->ipv4.iptable_* and friends) with the seams to conntrack, routing and
output.

Tables (net/ipv4/netfilter/iptable_{raw,mangle,nat,filter,security}.c), their hooks
and priorities (include/uapi/linux/netfilter_ipv4.h enum nf_ip_hook_priorities)::

    raw       PREROUTING OUTPUT                          -300
    mangle    PREROUTING INPUT FORWARD OUTPUT POSTROUTING -150
    nat       PREROUTING(-100) INPUT(+100) OUTPUT(-100) POSTROUTING(+100)
    filter    INPUT FORWARD OUTPUT                          0
    security  INPUT FORWARD OUTPUT                         50

A table exists once a command touched it (iptables-nft creates tables lazily, and
iptables-save shows only existing ones, in the order mangle, security, raw, filter,
nat). When it comes to exist its base chains are registered on the host's hook
registry (tuxnet.netfilter.hooks) with ``ipt_do_table`` as the hook function.

Seams (attributes of :class:`NfNet`, None until wired):

* ``ct_get(skb) -> (ct, ctinfo)``: the conntrack entry of a packet; when None,
  skb.nfct/skb.nfctinfo are used as set by whoever tracked the packet (tests set them;
  a packet nobody tracked is UNTRACKED until conntrack sets ``ct_enabled``, #7).
* ``addr_type(addr, dev) -> RTN_*``: routing's inet_addr_type (for -m addrtype); by
  default the host's FIB when IPv4 is up.
* ``ip_local_out(skb) -> int``: send a locally generated IPv4 datagram (REJECT's RST)
  through LOCAL_OUT; by default ipv4's route lookup + ip_local_out.
* ``icmp_send(skb, type, code)``: icmp_send for REJECT's ICMP errors; by default
  tuxnet.ipv4.icmp.icmp_send, else built here and sent with ``ip_local_out``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.netfilter.hooks import (
    NF_INET_FORWARD,
    NF_INET_LOCAL_IN,
    NF_INET_LOCAL_OUT,
    NF_INET_POST_ROUTING,
    NF_INET_PRE_ROUTING,
    NF_IP_PRI_FILTER,
    NF_IP_PRI_MANGLE,
    NF_IP_PRI_NAT_DST,
    NF_IP_PRI_NAT_SRC,
    NF_IP_PRI_RAW,
    NF_IP_PRI_SECURITY,
    NfHookOps,
    NfHookState,
    nf_register_net_hook,
    nf_unregister_net_hook,
)
from tuxnet.netfilter.rule import IptEntry

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.netfilter.ipset import IpsetStore
    from tuxnet.netfilter.sets import NftSets
    from tuxnet.skb import SkBuff

__all__ = [
    "HOOK_CHAINS",
    "TABLE_DEFS",
    "TABLE_ORDER",
    "Chain",
    "NfNet",
    "TableDef",
    "XtTable",
    "nf_net",
]

HOOK_CHAINS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
_PRE, _IN, _FWD, _OUT, _POST = (NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_FORWARD,
                                NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING)


class TableDef:
    """struct xt_table: name, valid hooks and the priority of each hook."""

    __slots__ = ("hooks", "name", "priorities")

    def __init__(self, name: str, priorities: dict[int, int]) -> None:
        self.name = name
        self.priorities = priorities
        self.hooks = tuple(sorted(priorities))


TABLE_DEFS: dict[str, TableDef] = {
    "raw": TableDef("raw", {_PRE: NF_IP_PRI_RAW, _OUT: NF_IP_PRI_RAW}),
    "mangle": TableDef("mangle", {h: NF_IP_PRI_MANGLE for h in (_PRE, _IN, _FWD, _OUT,
                                                              _POST)}),
    "nat": TableDef("nat", {_PRE: NF_IP_PRI_NAT_DST, _IN: NF_IP_PRI_NAT_SRC,
                            _OUT: NF_IP_PRI_NAT_DST, _POST: NF_IP_PRI_NAT_SRC}),
    "filter": TableDef("filter", {_IN: NF_IP_PRI_FILTER, _FWD: NF_IP_PRI_FILTER,
                                  _OUT: NF_IP_PRI_FILTER}),
    "security": TableDef("security", {_IN: NF_IP_PRI_SECURITY, _FWD: NF_IP_PRI_SECURITY,
                                      _OUT: NF_IP_PRI_SECURITY}),
}
# iptables-nft's table array order (iptables/nft.c xtables_ipv4[]): save walks it
TABLE_ORDER = ("mangle", "security", "raw", "filter", "nat")


class Chain:
    """A chain: its rules, and for a built-in chain its hook, policy and counters."""

    __slots__ = ("bcnt", "hook", "name", "pcnt", "policy", "rules")

    def __init__(self, name: str, hook: int | None = None, policy: str | None = None) -> None:
        self.name = name
        self.hook = hook
        self.policy = policy  # "ACCEPT"/"DROP" for a built-in chain, None for a user one
        self.rules: list[IptEntry] = []
        self.pcnt = 0
        self.bcnt = 0

    @property
    def builtin(self) -> bool:
        return self.hook is not None

    def copy(self) -> Chain:
        c = Chain(self.name, self.hook, self.policy)
        c.rules = [r.copy() for r in self.rules]
        c.pcnt, c.bcnt = self.pcnt, self.bcnt
        return c


class XtTable:
    """One table: built-in chains in hook order, then user chains."""

    __slots__ = ("chains", "defn", "hook_chain", "name")

    def __init__(self, defn: TableDef) -> None:
        self.defn = defn
        self.name = defn.name
        self.chains: dict[str, Chain] = {}
        self.hook_chain: list[Chain | None] = [None] * 5
        for hook in defn.hooks:
            c = Chain(HOOK_CHAINS[hook], hook, "ACCEPT")
            self.chains[c.name] = c
            self.hook_chain[hook] = c

    def copy(self) -> XtTable:
        t = XtTable(self.defn)
        t.chains = {name: c.copy() for name, c in self.chains.items()}
        t.hook_chain = [t.chains[c.name] if c is not None else None for c in self.hook_chain]
        return t

    def builtin_chains(self) -> list[Chain]:
        return [c for c in self.chains.values() if c.builtin]

    def user_chains(self) -> list[Chain]:
        """User chains sorted by name (iptables-nft sorts its chain cache, 1.8.5+)."""
        return sorted((c for c in self.chains.values() if not c.builtin),
                      key=lambda c: c.name.encode())

    def ordered_chains(self) -> list[Chain]:
        return self.builtin_chains() + self.user_chains()

    def references(self, name: str) -> int:
        """How many rules jump or go to chain ``name``."""
        return sum(1 for c in self.chains.values() for r in c.rules if r.verdict == name)

    def reach_hooks(self) -> dict[str, int]:
        """The hook mask each chain is reached from (mark_source_chains)."""
        masks: dict[str, int] = {}
        for c in self.builtin_chains():
            assert c.hook is not None
            stack = [c.name]
            bit = 1 << c.hook
            while stack:
                name = stack.pop()
                if masks.get(name, 0) & bit:
                    continue
                masks[name] = masks.get(name, 0) | bit
                for r in self.chains[name].rules:
                    if r.verdict is not None and r.verdict in self.chains:
                        stack.append(r.verdict)
        return masks


class NfNet:
    """The netfilter state of one host (network namespace): tables, sets, seams."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.tables: dict[str, XtTable] = {}
        self._hook_ops: dict[str, list[NfHookOps]] = {}
        self._ipsets: IpsetStore | None = None
        self._nftsets: NftSets | None = None
        # LOG target output: (time ns, kernel log level, line) as dmesg would show it
        self.log: list[tuple[int, int, str]] = []
        # seams (see the module doc)
        self.ct_get: Callable[[SkBuff], tuple[Any, int]] | None = None
        self.ct_enabled = False  # conntrack runs in this namespace (#7 sets it)
        self.addr_type: Callable[[int, Any], int] | None = None
        self.ip_local_out: Callable[[SkBuff], int] | None = None
        self.icmp_send: Callable[[SkBuff, int, int], None] | None = None
        self.nat_setup: Callable[[SkBuff, Any, Any], int] | None = None
        self.table_hook: dict[str, Callable[[Host, XtTable, int, SkBuff, Any, Any], int]] = {}

    @property
    def ipsets(self) -> IpsetStore:
        if self._ipsets is None:
            from tuxnet.netfilter.ipset import IpsetStore
            self._ipsets = IpsetStore(self.host)
        return self._ipsets

    @property
    def nftsets(self) -> NftSets:
        if self._nftsets is None:
            from tuxnet.netfilter.sets import NftSets
            self._nftsets = NftSets()
        return self._nftsets

    def table(self, name: str, create: bool = True) -> XtTable | None:
        """The table ``name``; created (and hooked) on first use when ``create``."""
        t = self.tables.get(name)
        if t is None and create:
            t = XtTable(TABLE_DEFS[name])
            self.install(t)
        return t

    def view(self, name: str) -> XtTable:
        """The table for reading: the live one, or an empty one not installed."""
        t = self.tables.get(name)
        return t if t is not None else XtTable(TABLE_DEFS[name])

    def install(self, table: XtTable) -> None:
        """Make ``table`` the live table of its name (a replace: xt_replace_table)."""
        old = self.tables.get(table.name)
        self.tables[table.name] = table
        if old is None:
            self._register(table.name)
        self.rules_changed()

    def rules_changed(self) -> None:
        """The ruleset changed: conntrack follows what the rules need (nf_ct_netns_get /
        nf_ct_netns_put of the extensions' checkentry and of the nat table)."""
        from tuxnet.netfilter.conntrack import nf_ct_netns_sync

        nf_ct_netns_sync(self)

    def _register(self, name: str) -> None:
        from tuxnet.netfilter.engine import ipt_do_table

        defn = TABLE_DEFS[name]
        ops_list = []

        def hook_fn(priv: str, skb: SkBuff, state: NfHookState) -> int:
            fn = self.table_hook.get(priv, ipt_do_table)
            return fn(state.host, self.tables[priv], state.hook, skb, state.in_dev,
                      state.out_dev)

        hook_fn.__name__ = f"iptable_{name}_hook"
        for hook, prio in defn.priorities.items():
            ops = NfHookOps(hook_fn, hook, prio, priv=name)
            nf_register_net_hook(self.host, ops)
            ops_list.append(ops)
        self._hook_ops[name] = ops_list

    def unregister_all(self) -> None:
        """Take every table off the hooks (the namespace goes away)."""
        for ops_list in self._hook_ops.values():
            for ops in ops_list:
                nf_unregister_net_hook(self.host, ops)
        self._hook_ops.clear()


def nf_net(host: Host) -> NfNet:
    """The host's netfilter state, created on first use."""
    nf: NfNet | None = host.__dict__.get("netfilter")
    if nf is None:
        nf = NfNet(host)
        setattr(host, "netfilter", nf)  # noqa: B010 - Host has no typed slot for it
    return nf
