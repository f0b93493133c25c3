"""The netfilter hook points (net/netfilter/core.c, include/linux/netfilter.h).

The IPv4 stack calls ``nf_hook(host, hook, skb, in_dev, out_dev, okfn)`` where Linux has
its NF_HOOK() call sites::

    ip_rcv            NF_INET_PRE_ROUTING   (in = receiving device)   -> ip_rcv_finish
    ip_local_deliver  NF_INET_LOCAL_IN      (in = receiving device)   -> ip_local_deliver_finish
    ip_forward        NF_INET_FORWARD       (in, out)                 -> ip_forward_finish
    __ip_local_out    NF_INET_LOCAL_OUT     (out = route device)      -> dst_output
    ip_output         NF_INET_POST_ROUTING  (out = route device)      -> ip_finish_output

``nf_hook`` is NF_HOOK(): with nothing registered on the hook it is a plain call of
``okfn(skb)``. ``nf_hooks_needed[hook]`` is Linux's static key of the same name: the
number of entries registered on ``hook`` on any host; while it is 0 a call site may skip
``nf_hook`` (and building its ``okfn``) and call the continuation directly, as
nf_hook() does when ``static_key_false(&nf_hooks_needed[pf][hook])``.

Registered hooks (``nf_register_net_hook(host, NfHookOps(...))``) run in priority order
(lowest first, ``enum nf_ip_hook_priorities``) as nf_hook_slow runs them: NF_ACCEPT goes
on to the next hook and finally ``okfn``; NF_DROP frees the packet with
SKB_DROP_REASON_NETFILTER_DROP and returns -EPERM (or the errno packed with
NF_DROP_ERR); NF_STOLEN means the hook took the skb (0 is returned); NF_REPEAT runs the
same hook again; NF_QUEUE without a queue handler drops (nf_queue -ESRCH); NF_STOP
accepts at once. The netfilter issue fills the tables, conntrack and NAT on top.
"""

from __future__ import annotations

import errno
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuxnet.dropreason import SkbDropReason

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = [
    "NFPROTO_IPV4",
    "NF_ACCEPT",
    "NF_DROP",
    "NF_INET_FORWARD",
    "NF_INET_LOCAL_IN",
    "NF_INET_LOCAL_OUT",
    "NF_INET_NUMHOOKS",
    "NF_INET_POST_ROUTING",
    "NF_INET_PRE_ROUTING",
    "NF_IP_PRI_CONNTRACK",
    "NF_IP_PRI_CONNTRACK_CONFIRM",
    "NF_IP_PRI_CONNTRACK_DEFRAG",
    "NF_IP_PRI_FILTER",
    "NF_IP_PRI_MANGLE",
    "NF_IP_PRI_NAT_DST",
    "NF_IP_PRI_NAT_SRC",
    "NF_IP_PRI_RAW",
    "NF_IP_PRI_SECURITY",
    "NF_QUEUE",
    "NF_REPEAT",
    "NF_STOLEN",
    "NF_STOP",
    "NfHookOps",
    "NfHookState",
    "nf_drop_err",
    "nf_hook",
    "nf_hook_ops",
    "nf_hooks_needed",
    "nf_register_net_hook",
    "nf_unregister_net_hook",
]

# include/uapi/linux/netfilter.h
NFPROTO_IPV4 = 2
NF_DROP = 0
NF_ACCEPT = 1
NF_STOLEN = 2
NF_QUEUE = 3
NF_REPEAT = 4
NF_STOP = 5
NF_VERDICT_MASK = 0x000000FF
NF_VERDICT_QBITS = 16
# enum nf_inet_hooks
NF_INET_PRE_ROUTING = 0
NF_INET_LOCAL_IN = 1
NF_INET_FORWARD = 2
NF_INET_LOCAL_OUT = 3
NF_INET_POST_ROUTING = 4
NF_INET_NUMHOOKS = 5
HOOK_NAMES = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
# include/uapi/linux/netfilter_ipv4.h: enum nf_ip_hook_priorities
NF_IP_PRI_CONNTRACK_DEFRAG = -400
NF_IP_PRI_RAW = -300
NF_IP_PRI_CONNTRACK = -200
NF_IP_PRI_MANGLE = -150
NF_IP_PRI_NAT_DST = -100
NF_IP_PRI_FILTER = 0
NF_IP_PRI_SECURITY = 50
NF_IP_PRI_NAT_SRC = 100
NF_IP_PRI_CONNTRACK_CONFIRM = 0x7FFFFFFF  # INT_MAX

OkFn = Callable[["SkBuff"], int]


def nf_drop_err(err: int) -> int:
    """NF_DROP_ERR(x): a drop verdict carrying the errno ``err`` (a positive errno)."""
    return ((err & 0xFFFF) << NF_VERDICT_QBITS) | NF_DROP


class NfHookState:
    """struct nf_hook_state: what a hook function learns about where it runs."""

    __slots__ = ("hook", "host", "in_dev", "okfn", "out_dev", "pf")

    def __init__(self, host: Host, hook: int, pf: int, in_dev: Any, out_dev: Any,
                 okfn: OkFn) -> None:
        self.host = host
        self.hook = hook
        self.pf = pf
        self.in_dev = in_dev
        self.out_dev = out_dev
        self.okfn = okfn


HookFn = Callable[[Any, "SkBuff", NfHookState], int]


class NfHookOps:
    """struct nf_hook_ops: ``hook(priv, skb, state) -> verdict`` on ``hooknum``."""

    __slots__ = ("hook", "hooknum", "pf", "priority", "priv")

    def __init__(self, hook: HookFn, hooknum: int, priority: int = NF_IP_PRI_FILTER, *,
                 pf: int = NFPROTO_IPV4, priv: Any = None) -> None:
        if not 0 <= hooknum < NF_INET_NUMHOOKS:
            raise ValueError(f"hook number {hooknum} out of range")
        self.hook = hook
        self.hooknum = hooknum
        self.priority = priority
        self.pf = pf
        self.priv = priv

    def __repr__(self) -> str:
        name = getattr(self.hook, "__name__", "hook")
        return f"<NfHookOps {HOOK_NAMES[self.hooknum]} prio {self.priority} {name}>"


class _NetHooks:
    """net->nf.hooks_ipv4: the sorted hook entries of each hook point."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[list[NfHookOps]] = [[] for _ in range(NF_INET_NUMHOOKS)]


_HOOKS: weakref.WeakKeyDictionary[Host, _NetHooks] = weakref.WeakKeyDictionary()
# nf_hooks_needed[NFPROTO_IPV4][hook] (static keys, global as in Linux): entries
# registered on each hook point over all hosts (a freed host gives its entries back,
# as netns exit unregisters them).
nf_hooks_needed: list[int] = [0] * NF_INET_NUMHOOKS


def _net_hooks_release(hooks: _NetHooks) -> None:
    """The host went away: its entries no longer count in nf_hooks_needed."""
    for hook, lst in enumerate(hooks.entries):
        nf_hooks_needed[hook] -= len(lst)
        lst.clear()


def nf_register_net_hook(host: Host, ops: NfHookOps) -> None:
    """nf_register_net_hook: insert ``ops`` after the entries of lower or equal priority."""
    hooks = _HOOKS.get(host)
    if hooks is None:
        hooks = _HOOKS[host] = _NetHooks()
        weakref.finalize(host, _net_hooks_release, hooks)
    lst = hooks.entries[ops.hooknum]
    at = len(lst)
    for i, other in enumerate(lst):
        if other.priority > ops.priority:
            at = i
            break
    lst.insert(at, ops)
    nf_hooks_needed[ops.hooknum] += 1  # static_key_slow_inc


def nf_unregister_net_hook(host: Host, ops: NfHookOps) -> None:
    """nf_unregister_net_hook (ValueError if it was not registered)."""
    hooks = _HOOKS.get(host)
    if hooks is None or ops not in hooks.entries[ops.hooknum]:
        raise ValueError(f"nf_unregister_net_hook: {ops!r} not registered")
    hooks.entries[ops.hooknum].remove(ops)
    nf_hooks_needed[ops.hooknum] -= 1  # static_key_slow_dec


def nf_hook_ops(host: Host, hook: int) -> list[NfHookOps]:
    """The entries registered on ``hook``, in the order they run."""
    hooks = _HOOKS.get(host)
    return list(hooks.entries[hook]) if hooks is not None else []


def nf_hook(host: Host, hook: int, skb: SkBuff, in_dev: Any, out_dev: Any, okfn: OkFn,
            *, pf: int = NFPROTO_IPV4) -> int:
    """NF_HOOK(): run the hooks of ``hook`` on ``skb`` and, when they accept it, return
    ``okfn(skb)``; a dropped packet gives a negative errno, a stolen one 0."""
    if not nf_hooks_needed[hook]:
        return okfn(skb)
    hooks = _HOOKS.get(host)
    if hooks is None:
        return okfn(skb)
    entries = hooks.entries[hook]
    if not entries:
        return okfn(skb)
    return _nf_hook_slow(host, hook, pf, entries, skb, in_dev, out_dev, okfn)


def _nf_hook_slow(host: Host, hook: int, pf: int, entries: list[NfHookOps], skb: SkBuff,
                  in_dev: Any, out_dev: Any, okfn: OkFn) -> int:
    """nf_hook_slow: the verdict loop."""
    state = NfHookState(host, hook, pf, in_dev, out_dev, okfn)
    i = 0
    n = len(entries)
    while i < n:
        ops = entries[i]
        verdict = ops.hook(ops.priv, skb, state)
        v = verdict & NF_VERDICT_MASK
        if v == NF_ACCEPT:
            i += 1
        elif v == NF_REPEAT:
            continue
        elif v == NF_STOP:
            break
        elif v == NF_STOLEN:
            return 0
        elif v == NF_DROP:
            host.kfree_skb(skb, SkbDropReason.NETFILTER_DROP, "nf_hook_slow")
            err = -(verdict >> NF_VERDICT_QBITS)
            return err if err else -errno.EPERM  # NF_DROP_GETERR
        else:  # NF_QUEUE and anything else: no queue handler is registered
            host.kfree_skb(skb, SkbDropReason.NETFILTER_DROP, "nf_hook_slow")
            return -errno.ESRCH
    return okfn(skb)
