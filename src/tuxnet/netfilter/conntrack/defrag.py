"""Defragmentation before conntrack (net/ipv4/netfilter/nf_defrag_ipv4.c): at
priority -400 on PRE_ROUTING and LOCAL_OUT, fragments are gathered (ip_defrag with the
IP_DEFRAG_CONNTRACK_IN / _OUT user) so conntrack, NAT and the rules see whole
datagrams. Linux reassembles into the same skb and the hooks go on; here the
reassembled datagram is a new skb, so it runs the hook point again from the start
(this hook, the first, lets it through) and the fragment is NF_STOLEN. The whole
datagram keeps frag_max_size for ip_fragment on the way out, as IPCB does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuxnet.netfilter.ctseam import IP_CT_UNTRACKED
from tuxnet.netfilter.hooks import NF_ACCEPT, NF_INET_PRE_ROUTING, NF_STOLEN, nf_hook

if TYPE_CHECKING:
    from tuxnet.netfilter.hooks import NfHookState
    from tuxnet.skb import SkBuff

__all__ = ["ipv4_conntrack_defrag"]

_IP_MF_OFFSET = 0x3FFF  # IP_MF | IP_OFFSET


def ipv4_conntrack_defrag(priv: Any, skb: SkBuff, state: NfHookState) -> int:
    """ipv4_conntrack_defrag."""
    if skb.nfct is not None or skb.nfctinfo == IP_CT_UNTRACKED:
        return NF_ACCEPT  # seen before (loopback) or NOTRACK
    data = skb.data
    if len(data) < 20 or not ((data[6] << 8) | data[7]) & _IP_MF_OFFSET:
        return NF_ACCEPT
    from tuxnet.ipv4.inet import IPSKB_FRAG_PMTU, ip_state, ipcb
    from tuxnet.ipv4.ip_fragment import IP_DEFRAG_CONNTRACK_IN, IP_DEFRAG_CONNTRACK_OUT

    host = state.host
    defrag = ip_state(host).defrag
    user = IP_DEFRAG_CONNTRACK_IN if state.hook == NF_INET_PRE_ROUTING \
        else IP_DEFRAG_CONNTRACK_OUT
    whole = defrag.ip_defrag(skb, user)
    if whole is not None:
        cb = ipcb(whole)
        cb.frag_max_size = defrag.frag_max_size
        if defrag.frag_pmtu:
            cb.flags |= IPSKB_FRAG_PMTU
        nf_hook(host, state.hook, whole, state.in_dev, state.out_dev, state.okfn)
    return NF_STOLEN
