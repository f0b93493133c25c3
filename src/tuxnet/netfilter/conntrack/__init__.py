"""Connection tracking for tuxnet (net/netfilter/nf_conntrack_*.c).

Conntrack runs in a host only while something needs it, as nf_ct_netns_get /
nf_ct_netns_put do in Linux: a rule with ``-m conntrack``, ``-m state``,
``-m connmark``, ``-j CONNMARK``, ``-j CT`` (other than ``--notrack``), a NAT target,
or the nat table itself (:func:`nf_ct_netns_sync`, run after every ruleset change), or
an explicit :func:`nf_ct_netns_get`. While off no hook is registered: the packet path
pays nothing.

:func:`conntrack_dump` lists the entries (for tools and the replay harness);
tuxnet.netfilter.conntrack.show formats them as conntrack-tools and
/proc/net/nf_conntrack do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuxnet.netfilter.conntrack.core import CtNet, ipv4_confirm, ipv4_conntrack_in
from tuxnet.netfilter.conntrack.defrag import ipv4_conntrack_defrag
from tuxnet.netfilter.conntrack.defs import NfConn
from tuxnet.netfilter.ctseam import IPS_ASSURED, IPS_CONFIRMED, IPS_SEEN_REPLY
from tuxnet.netfilter.hooks import (
    NF_INET_LOCAL_IN,
    NF_INET_LOCAL_OUT,
    NF_INET_POST_ROUTING,
    NF_INET_PRE_ROUTING,
    NF_IP_PRI_CONNTRACK,
    NF_IP_PRI_CONNTRACK_CONFIRM,
    NF_IP_PRI_CONNTRACK_DEFRAG,
    NfHookOps,
    nf_register_net_hook,
    nf_unregister_net_hook,
)

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.netfilter.tables import NfNet

__all__ = [
    "CtNet",
    "NfConn",
    "conntrack_dump",
    "ct_net",
    "nf_ct_netns_get",
    "nf_ct_netns_put",
    "nf_ct_netns_sync",
    "rules_need_conntrack",
]

_STATUS_NAMES = ((1 << 0, "EXPECTED"), (1 << 1, "SEEN_REPLY"), (1 << 2, "ASSURED"),
                 (1 << 3, "CONFIRMED"), (1 << 4, "SRC_NAT"), (1 << 5, "DST_NAT"),
                 (1 << 7, "SRC_NAT_DONE"), (1 << 8, "DST_NAT_DONE"), (1 << 9, "DYING"))
_CT_MATCHES = frozenset({"conntrack", "state", "connmark"})
_CT_TARGETS = frozenset({"CONNMARK", "SNAT", "DNAT", "MASQUERADE", "REDIRECT"})


def ct_net(host: Host) -> CtNet:
    """The host's conntrack state (created on first use; not switched on by this)."""
    cn: CtNet | None = host.__dict__.get("conntrack")
    if cn is None:
        cn = CtNet(host)
        setattr(host, "conntrack", cn)  # noqa: B010 - Host has no typed slot for it
    return cn


def _enable(host: Host, cn: CtNet) -> None:
    """nf_ct_netns_do_get: register the defrag and conntrack hooks (and NAT's seams)."""
    from tuxnet.netfilter.nat import nf_nat_init
    from tuxnet.netfilter.tables import nf_net

    for hooknum, prio, fn in ((NF_INET_PRE_ROUTING, NF_IP_PRI_CONNTRACK_DEFRAG,
                               ipv4_conntrack_defrag),
                              (NF_INET_LOCAL_OUT, NF_IP_PRI_CONNTRACK_DEFRAG,
                               ipv4_conntrack_defrag),
                              (NF_INET_PRE_ROUTING, NF_IP_PRI_CONNTRACK, ipv4_conntrack_in),
                              (NF_INET_LOCAL_OUT, NF_IP_PRI_CONNTRACK, ipv4_conntrack_in),
                              (NF_INET_LOCAL_IN, NF_IP_PRI_CONNTRACK_CONFIRM, ipv4_confirm),
                              (NF_INET_POST_ROUTING, NF_IP_PRI_CONNTRACK_CONFIRM,
                               ipv4_confirm)):
        ops = NfHookOps(fn, hooknum, prio, priv=cn)
        nf_register_net_hook(host, ops)
        cn.hook_ops.append(ops)
    nf = nf_net(host)
    nf.ct_enabled = True
    nf_nat_init(nf, cn)


def _disable(host: Host, cn: CtNet) -> None:
    """nf_ct_netns_do_put: the last user went: unregister the hooks (entries stay
    until they time out, as in Linux)."""
    from tuxnet.netfilter.tables import nf_net

    for ops in cn.hook_ops:
        nf_unregister_net_hook(host, ops)
    cn.hook_ops.clear()
    nf = nf_net(host)
    nf.ct_enabled = False
    nf.nat_setup = None
    nf.table_hook.pop("nat", None)


def nf_ct_netns_get(host: Host) -> CtNet:
    """nf_ct_netns_get: one more user; the first switches conntrack on."""
    cn = ct_net(host)
    cn.users += 1
    if not cn.hook_ops:
        _enable(host, cn)
    return cn


def nf_ct_netns_put(host: Host) -> None:
    """nf_ct_netns_put: one user less; the last switches conntrack off."""
    cn = ct_net(host)
    if cn.users > 0:
        cn.users -= 1
    if cn.users == 0 and cn.hook_ops:
        _disable(host, cn)


def rules_need_conntrack(nf: NfNet) -> int:
    """How many users the ruleset makes: each rule with an extension whose checkentry
    calls nf_ct_netns_get, plus one for the nat table (its hooks need conntrack)."""
    n = 1 if "nat" in nf.tables else 0
    for t in nf.tables.values():
        for c in t.chains.values():
            for r in c.rules:
                if any(m.name in _CT_MATCHES for m in r.matches):
                    n += 1
                tgt = r.target
                if tgt is not None and (tgt.name in _CT_TARGETS or (
                        tgt.name == "CT" and not getattr(tgt, "notrack", False))):
                    n += 1
    return n


def nf_ct_netns_sync(nf: NfNet) -> None:
    """Bring the users the ruleset holds in line with the ruleset (after a change)."""
    want = rules_need_conntrack(nf)
    cn: CtNet | None = nf.host.__dict__.get("conntrack")
    have = getattr(nf, "_ct_rule_users", 0)
    if want == have:
        return
    host = nf.host
    if cn is None:
        cn = ct_net(host)
    cn.users += want - have
    setattr(nf, "_ct_rule_users", want)  # noqa: B010
    if cn.users > 0 and not cn.hook_ops:
        _enable(host, cn)
    elif cn.users <= 0 and cn.hook_ops:
        cn.users = 0
        _disable(host, cn)


def _tuple_dict(t: tuple[int, int, int, int, int]) -> dict[str, Any]:
    from tuxnet.wire.addr import int_to_ip

    src, dst, proto, sport, dport = t
    d: dict[str, Any] = {"src": int_to_ip(src), "dst": int_to_ip(dst)}
    if proto == 1:
        d.update(type=dport >> 8, code=dport & 0xFF, id=sport)
    elif proto in (6, 17):
        d.update(sport=sport, dport=dport)
    return d


def conntrack_dump(host: Host) -> list[dict[str, Any]]:
    """The host's conntrack entries, oldest first, as dicts: ``proto`` (number),
    ``proto_name``, ``state`` (TCP state name or None), ``orig`` / ``reply`` (dicts
    with ``src``/``dst`` dotted quads and ``sport``/``dport`` or ICMP
    ``type``/``code``/``id``), ``orig_tuple`` / ``reply_tuple`` (the raw int tuples),
    ``status`` (IPS_* bits) and ``status_names``, ``timeout`` (seconds left, as
    conntrack -L shows), ``mark``, ``use``, ``zone``, ``unreplied``, ``assured``,
    ``confirmed``, ``counters`` (per direction packets/bytes with nf_conntrack_acct,
    else None)."""
    from tuxnet.netfilter.conntrack.show import l4_name, state_name

    cn: CtNet | None = host.__dict__.get("conntrack")
    if cn is None:
        return []
    now = host.now_ns()
    out = []
    for ct in cn.entries():
        out.append({
            "proto": ct.proto, "proto_name": l4_name(ct.proto), "state": state_name(ct),
            "orig": _tuple_dict(ct.orig), "reply": _tuple_dict(ct.reply),
            "orig_tuple": ct.orig, "reply_tuple": ct.reply, "status": ct.status,
            "status_names": [n for b, n in _STATUS_NAMES if ct.status & b],
            "timeout": max(0, (ct.timeout - now) // 1_000_000_000), "mark": ct.mark,
            "use": ct.use, "zone": ct.zone,
            "counters": None if ct.acct is None else {
                "orig": {"packets": ct.acct[0], "bytes": ct.acct[1]},
                "reply": {"packets": ct.acct[2], "bytes": ct.acct[3]}},
            "unreplied": not ct.status & IPS_SEEN_REPLY,
            "assured": bool(ct.status & IPS_ASSURED),
            "confirmed": bool(ct.status & IPS_CONFIRMED),
        })
    return out
