"""The seam between the rule engine and connection tracking (#7 fills the other side).

Linux keeps the entry and its ctinfo in skb->_nfct (nf_ct_get); tuxnet's SkBuff has
``nfct`` (the entry, or None) and ``nfctinfo``. A conntrack implementation sets
them (or provides ``NfNet.ct_get``) and sets ``NfNet.ct_enabled`` (nf_ct_netns_get):
then a packet without an entry is INVALID, as in Linux. Until conntrack exists
(``ct_enabled`` False) a packet nobody tracked reads as UNTRACKED. An entry needs
``status`` (IPS_* bits), ``mark`` and the tuples ``orig`` / ``reply`` as
``(src, dst, protonum, sport, dport)``; :class:`NfConnStub` is such an entry for tests.

Constants: include/uapi/linux/netfilter/nf_conntrack_common.h.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuxnet.netfilter.tables import NfNet
    from tuxnet.skb import SkBuff

__all__ = [
    "IPS_ASSURED",
    "IPS_CONFIRMED",
    "IPS_DST_NAT",
    "IPS_EXPECTED",
    "IPS_SEEN_REPLY",
    "IPS_SRC_NAT",
    "IP_CT_ESTABLISHED",
    "IP_CT_ESTABLISHED_REPLY",
    "IP_CT_IS_REPLY",
    "IP_CT_NEW",
    "IP_CT_NUMBER",
    "IP_CT_RELATED",
    "IP_CT_RELATED_REPLY",
    "IP_CT_UNTRACKED",
    "NfConnStub",
    "nf_ct_get",
]

# enum ip_conntrack_info
IP_CT_ESTABLISHED = 0
IP_CT_RELATED = 1
IP_CT_NEW = 2
IP_CT_IS_REPLY = 3
IP_CT_ESTABLISHED_REPLY = 3
IP_CT_RELATED_REPLY = 4
IP_CT_NUMBER = 5
IP_CT_UNTRACKED = 7
# enum ip_conntrack_status
IPS_EXPECTED = 1 << 0
IPS_SEEN_REPLY = 1 << 1
IPS_ASSURED = 1 << 2
IPS_CONFIRMED = 1 << 3
IPS_SRC_NAT = 1 << 4
IPS_DST_NAT = 1 << 5


class NfConnStub:
    """A minimal struct nf_conn for tests and for code that runs before conntrack."""

    __slots__ = ("mark", "orig", "reply", "status")

    def __init__(self, status: int = 0, mark: int = 0,
                 orig: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),
                 reply: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)) -> None:
        self.status = status
        self.mark = mark
        self.orig = orig
        self.reply = reply


def nf_ct_get(nf: NfNet, skb: SkBuff) -> tuple[Any, int]:
    """nf_ct_get: (entry or None, ctinfo); an untouched packet is UNTRACKED (see doc)."""
    if nf.ct_get is not None:
        return nf.ct_get(skb)
    ct = skb.nfct
    if ct is None:
        if skb.nfctinfo == IP_CT_UNTRACKED or not nf.ct_enabled:
            return None, IP_CT_UNTRACKED
        return None, 0  # no entry: INVALID
    return ct, skb.nfctinfo
