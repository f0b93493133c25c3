"""Helpers for the conntrack and NAT tests: a host with conntrack on, packets walked
through the conntrack hooks as a router would (PRE_ROUTING in, POST_ROUTING confirm),
and readers of the resulting entries."""

from __future__ import annotations

from typing import Any

from _nfutil import skb_of

from tuxnet.host import Host
from tuxnet.loop import SimLoop
from tuxnet.netfilter.conntrack import CtNet, NfConn, nf_ct_netns_get
from tuxnet.netfilter.conntrack.core import nf_confirm, nf_conntrack_in
from tuxnet.netfilter.conntrack.show import ct_line
from tuxnet.netfilter.hooks import NF_INET_PRE_ROUTING
from tuxnet.wire.addr import ip_int

SEC = 1_000_000_000
A, B = "10.1.0.2", "10.9.9.9"


def ct_host(ncpus: int = 1) -> tuple[Host, CtNet]:
    host = Host(SimLoop(), "dut", ncpus=ncpus)
    return host, nf_ct_netns_get(host)


def walk(cn: CtNet, datagram: bytes, hook: int = NF_INET_PRE_ROUTING) -> tuple[Any, int, int]:
    """The packet through conntrack in + confirm: (entry or None, ctinfo, verdict)."""
    skb = skb_of(datagram)
    v = nf_conntrack_in(cn, skb, hook)
    ct, info = skb.nfct, skb.nfctinfo
    if v == 1:
        v = nf_confirm(cn, skb)
    return ct, info, v


def line(cn: CtNet, ct: NfConn) -> str:
    """conntrack -L's line for ``ct`` now."""
    return ct_line(ct, cn.host.now_ns())


def advance(host: Host, ns: int) -> None:
    loop = host.loop
    assert isinstance(loop, SimLoop)
    loop.run(loop.now_ns() + ns)


def find(cn: CtNet, src: str, dst: str, proto: int, sport: int, dport: int) -> NfConn | None:
    h = cn.hash.get((ip_int(src), ip_int(dst), proto, sport, dport))
    return None if h is None else h[0]
