"""ipt_do_table: walking a table's chains for one packet (net/ipv4/netfilter/ip_tables.c).

Semantics (ip_tables.c ipt_do_table, kept here):

* rules are tried in order; the fixed part (ip_packet_match) first, then each match;
  the first failing match moves on to the next rule; ``hotdrop`` drops at once;
* a matching rule's counters grow **before** its target runs, by one packet and
  ``skb.len`` bytes (ADD_COUNTER(*counter, skb->len, 1)); jumps count too;
* ACCEPT / DROP / QUEUE end the table; an extension target's verdict ends it too
  unless it is XT_CONTINUE (LOG, MARK, CONNMARK, CT ...), after which the header is
  read again (the target may have changed it);
* ``-j chain`` pushes the return point, ``-g chain`` does not, so a RETURN (or the end
  of a user chain) goes back to whoever called the chain that did the goto;
* RETURN with nothing pushed, or the end of a built-in chain, is the policy: its
  counters grow and its verdict is returned.

The verdict is NF_ACCEPT, NF_DROP or NF_STOLEN (include/uapi/linux/netfilter.h).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from tuxnet.core.cpu import charge, current_cpu
from tuxnet.core.netcore import get_core
from tuxnet.netfilter.hooks import NF_ACCEPT, NF_DROP, NF_QUEUE
from tuxnet.netfilter.rule import dev_name
from tuxnet.netfilter.tables import XtTable, nf_net
from tuxnet.netfilter.xt import XT_CONTINUE, XtParam

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.skb import SkBuff

__all__ = ["IPT_MAX_JUMPS", "IPT_MAX_JUMP_DEPTH", "ipt_do_table"]

_IPH = struct.Struct("!BxxxxxHxBxxII")  # ihl/version, frag_off, protocol, saddr, daddr
_iph = _IPH.unpack_from
IPT_MAX_JUMP_DEPTH = 1024  # jump stack overflow drops, as ipt_do_table's stacksize check
IPT_MAX_JUMPS = 1 << 16  # iptables-nft accepts jump/goto loops: a walk this long drops
_STD = {"ACCEPT": NF_ACCEPT, "DROP": NF_DROP, "QUEUE": NF_QUEUE}


def ipt_do_table(host: Host, table: XtTable | str, hook: int, skb: SkBuff, in_dev: Any,
                 out_dev: Any) -> int:
    """ipt_do_table: the verdict of ``table``'s chain for ``hook`` on ``skb`` (skb.data at
    the IPv4 header); counters are updated as the kernel does."""
    nf = nf_net(host)
    if isinstance(table, str):
        t = nf.tables.get(table)
        if t is None:
            return NF_ACCEPT
        table = t
    base = table.hook_chain[hook]
    if base is None:
        return NF_ACCEPT
    data = skb.data
    if len(data) < 20:
        return NF_DROP  # ip_rcv validated the header; a short one is malformed
    vihl, frag_off, proto, saddr, daddr = _iph(data, 0)
    par = XtParam(host, nf, table.name, hook, in_dev, out_dev)
    par.data = data
    par.thoff = (vihl & 15) << 2
    par.fragoff = frag_off & 0x1FFF
    par.proto = proto
    inname = dev_name(in_dev)
    outname = dev_name(out_dev)
    skblen = skb.len
    chains = table.chains
    stack: list[tuple[list[Any], int]] = []
    jumps = 0
    walked = 0
    verdict_out = NF_DROP
    rules = base.rules
    i = 0
    n = len(rules)
    while True:
        if i >= n:
            # end of a chain: implicit RETURN (a user chain) or the policy
            if stack:
                rules, i = stack.pop()
                n = len(rules)
                continue
            base.pcnt += 1
            base.bcnt += skblen
            verdict_out = NF_DROP if base.policy == "DROP" else NF_ACCEPT
            break
        e = rules[i]
        i += 1
        walked += 1
        # the address part of ip_packet_match inline for rules without "!" (most of a
        # long list), then the full check
        if not e.invflags and ((saddr & e.smsk) != e.src or (daddr & e.dmsk) != e.dst):
            continue
        if not e.ip_match(saddr, daddr, proto, par.fragoff, inname, outname):
            continue
        matched = True
        for m in e.matches:
            if not m.match(skb, par):
                matched = False
                break
        if par.hotdrop:
            verdict_out = NF_DROP
            break
        if not matched:
            continue
        e.pcnt += 1
        e.bcnt += skblen
        tgt = e.target
        if tgt is not None:
            v = tgt.target(skb, par)
            if v != XT_CONTINUE:
                verdict_out = v
                break
            data = skb.data  # the target may have mangled the packet
            if len(data) >= 20:
                vihl, frag_off, proto, saddr, daddr = _iph(data, 0)
                par.data = data
                par.proto = proto
            skblen = skb.len
            continue
        verdict = e.verdict
        if verdict is None:
            continue
        std = _STD.get(verdict)
        if std is not None:
            verdict_out = std
            break
        if verdict == "RETURN":
            if stack:
                rules, i = stack.pop()
                n = len(rules)
                continue
            base.pcnt += 1
            base.bcnt += skblen
            verdict_out = NF_DROP if base.policy == "DROP" else NF_ACCEPT
            break
        nxt = chains.get(verdict)
        jumps += 1
        if nxt is None or jumps > IPT_MAX_JUMPS:
            verdict_out = NF_DROP
            break
        if not e.is_goto:
            if len(stack) >= IPT_MAX_JUMP_DEPTH:
                verdict_out = NF_DROP
                break
            stack.append((rules, i))
        rules = nxt.rules
        n = len(rules)
        i = 0
    if current_cpu() is not None:  # each rule examined costs the CPU (CpuCosts.nf_rule_ns)
        charge(get_core(host).costs.nf_rule_ns * walked)
    return verdict_out
