"""NAT for tuxnet (net/netfilter/nf_nat_*.c): SNAT, DNAT, MASQUERADE and REDIRECT
bound to connection tracking. ``nf_nat_init`` wires the nat table's hook function
and the targets' ``nat_setup`` seam (tuxnet.netfilter.tables.NfNet) when conntrack
comes on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuxnet.netfilter.nat.core import nf_nat_ipv4_fn, xt_nat_target

if TYPE_CHECKING:
    from tuxnet.host import Host
    from tuxnet.netfilter.conntrack.core import CtNet
    from tuxnet.netfilter.tables import NfNet, XtTable
    from tuxnet.netfilter.xt import XtParam, XtTarget
    from tuxnet.skb import SkBuff

__all__ = ["nf_nat_init"]


def nf_nat_init(nf: NfNet, cn: CtNet) -> None:
    """Install the NAT side of the seams on ``nf``."""

    def nat_setup(skb: SkBuff, par: XtParam, tgt: XtTarget) -> int:
        return xt_nat_target(cn, skb, par, tgt)

    def nat_table_hook(host: Host, table: XtTable, hooknum: int, skb: SkBuff, in_dev: Any,
                       out_dev: Any) -> int:
        return nf_nat_ipv4_fn(cn, host, table, hooknum, skb, in_dev, out_dev)

    nf.nat_setup = nat_setup
    nf.table_hook["nat"] = nat_table_hook
    if not getattr(cn, "masq_notifier", False):
        from tuxnet.core.netcore import register_netdevice_notifier

        def masq_device_event(event: str, dev: Any) -> None:
            """masq_device_event: a device went down: forget the connections
            masqueraded to its address (nf_nat_masq_schedule with device_cmp)."""
            if event == "NETDEV_DOWN":
                ifindex = getattr(dev, "ifindex", 0)
                for ct in cn.entries():
                    if ct.masq_index == ifindex:
                        cn.nf_ct_delete(ct)

        register_netdevice_notifier(nf.host, masq_device_event)
        cn.masq_notifier = True
