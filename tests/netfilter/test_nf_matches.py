"""Each match on crafted packets: the verdict of a one-rule INPUT chain (policy DROP,
rule -j ACCEPT) says whether the rule matched."""

from __future__ import annotations

import pytest
from _nfutil import LAN, WAN, icmp, ipt, new_host, nf, skb_of, tcp, udp

from tuxnet.netfilter import NF_ACCEPT, NF_DROP, NF_INET_FORWARD, NF_INET_LOCAL_IN
from tuxnet.netfilter.ctseam import (
    IP_CT_ESTABLISHED,
    IP_CT_ESTABLISHED_REPLY,
    IP_CT_NEW,
    IP_CT_RELATED,
    IP_CT_UNTRACKED,
    IPS_ASSURED,
    IPS_SEEN_REPLY,
    IPS_SRC_NAT,
    NfConnStub,
)
from tuxnet.netfilter.engine import ipt_do_table
from tuxnet.skb import SkBuff


def matches(rule: str, skb: SkBuff, in_dev=LAN, out_dev=None, *, host=None,
            hook: int = NF_INET_LOCAL_IN) -> bool:
    host = host or new_host()
    chain = "INPUT" if hook == NF_INET_LOCAL_IN else "FORWARD"
    ipt(host, f"-P {chain} DROP")
    ipt(host, f"-A {chain} {rule} -j ACCEPT")
    v = ipt_do_table(host, "filter", hook, skb, in_dev, out_dev)
    assert v in (NF_ACCEPT, NF_DROP)
    return v == NF_ACCEPT


T = tcp("10.1.2.3", "192.168.0.9", 1234, 22, 0x02)
U = udp("10.1.2.3", "192.168.0.9", 53, 5353, b"q")


@pytest.mark.parametrize(("rule", "want"), [
    ("-s 10.1.0.0/16", True), ("-s 10.2.0.0/16", False), ("! -s 10.2.0.0/16", True),
    ("-s 10.1.2.3", True), ("-d 192.168.0.0/255.255.255.0", True),
    ("-d 192.168.0.10/31", False), ("! -d 192.168.0.0/24", False),
    ("-p tcp", True), ("-p udp", False), ("! -p udp", True), ("-p 6", True),
    ("-i lan0", True), ("-i lan+", True), ("-i la+", True), ("-i lan", False),
    ("! -i lan0", False), ("-i wan+", False), ("-f", False), ("! -f", True),
])
def test_ip_part(rule: str, want: bool) -> None:
    assert matches(rule, skb_of(T)) is want


def test_out_interface_and_fragments() -> None:
    skb = skb_of(U)
    assert matches("-i lan0 -o wan0", skb, LAN, WAN, hook=NF_INET_FORWARD)
    assert not matches("! -o wan+", skb_of(U), LAN, WAN, hook=NF_INET_FORWARD)
    frag = bytearray(U)
    frag[6:8] = b"\x00\x03"  # offset 24 bytes: a non-first fragment
    assert matches("-f", skb_of(bytes(frag)))
    assert not matches("-p udp --dport 5353", skb_of(bytes(frag)))


@pytest.mark.parametrize(("rule", "want"), [
    ("-p tcp --dport 22", True), ("-p tcp --dport 23", False), ("-p tcp --dport 20:30", True),
    ("-p tcp ! --dport 22", False), ("-p tcp --sport 1024:", True), ("-p tcp --sport :1023", False),
    ("-p tcp --syn", True), ("-p tcp ! --syn", False), ("-p tcp --tcp-flags SYN,ACK SYN", True),
    ("-p tcp --tcp-flags ALL NONE", False), ("-p tcp --tcp-flags SYN,ACK ACK", False),
    ("-p tcp --dport ssh", True), ("-p tcp --tcp-option 2", False),
    ("-p tcp ! --tcp-option 2", True),
    ("-p tcp -m multiport --dports 80,20:25", True), ("-p tcp -m multiport --sports 22", False),
    ("-p tcp -m multiport --ports 1234", True), ("-p tcp -m multiport ! --ports 22", False),
    ("-m length --length 40", True), ("-m length --length 41:", False),
    ("-m iprange --src-range 10.1.2.0-10.1.2.5", True),
    ("-m iprange ! --dst-range 192.168.0.1-192.168.0.9", False),
    ("-m comment --comment hi", True),
])
def test_tcp_and_friends(rule: str, want: bool) -> None:
    assert matches(rule, skb_of(T)) is want


def test_tcp_option_and_tinygram() -> None:
    mss = tcp("1.1.1.1", "2.2.2.2", 1, 2, 0x02, options=b"\x02\x04\x05\xb4")
    assert matches("-p tcp --tcp-option 2", skb_of(mss))
    assert not matches("-p tcp --tcp-option 8", skb_of(mss))
    short = bytearray(T[:30])
    short[2:4] = (30).to_bytes(2, "big")
    host = new_host()
    ipt(host, "-A INPUT -p tcp --dport 22 -j ACCEPT")
    assert ipt_do_table(host, "filter", NF_INET_LOCAL_IN, skb_of(bytes(short)), LAN,
                        None) == NF_DROP  # hotdrop: "Dropping evil TCP offset=0 tinygram."


@pytest.mark.parametrize(("rule", "want"), [
    ("-p udp --dport 5353", True), ("-p udp --sport 53", True), ("-p udp --sport 54", False),
    ("-p udp -m multiport --dports 5353", True),
])
def test_udp(rule: str, want: bool) -> None:
    assert matches(rule, skb_of(U)) is want


@pytest.mark.parametrize(("rule", "pkt", "want"), [
    ("--icmp-type echo-request", icmp("1.1.1.1", "2.2.2.2", 8), True),
    ("--icmp-type 8", icmp("1.1.1.1", "2.2.2.2", 8), True),
    ("--icmp-type echo-reply", icmp("1.1.1.1", "2.2.2.2", 8), False),
    ("--icmp-type any", icmp("1.1.1.1", "2.2.2.2", 13), True),
    ("! --icmp-type any", icmp("1.1.1.1", "2.2.2.2", 13), False),
    ("--icmp-type port-unreachable", icmp("1.1.1.1", "2.2.2.2", 3, 3), True),
    ("--icmp-type 3/1", icmp("1.1.1.1", "2.2.2.2", 3, 3), False),
    ("--icmp-type destination-unreachable", icmp("1.1.1.1", "2.2.2.2", 3, 13), True),
    ("! --icmp-type 0", icmp("1.1.1.1", "2.2.2.2", 8), True),
])
def test_icmp(rule: str, pkt: bytes, want: bool) -> None:
    assert matches(f"-p icmp {rule}", skb_of(pkt)) is want


def test_mark_and_connmark() -> None:
    skb = skb_of(T)
    skb.mark = 0x15
    assert matches("-m mark --mark 0x5/0xf", skb)
    skb = skb_of(T)
    skb.mark = 0x15
    assert not matches("-m mark --mark 0x5", skb)
    skb = skb_of(T)
    skb.nfct, skb.nfctinfo = NfConnStub(mark=7), IP_CT_ESTABLISHED
    assert matches("-m connmark --mark 7", skb)
    assert not matches("-m connmark --mark 7", skb_of(T))  # no entry: no match


def _ct(ctinfo: int, ct: NfConnStub | None = None) -> SkBuff:
    skb = skb_of(T)
    skb.nfct, skb.nfctinfo = ct, ctinfo
    return skb


@pytest.mark.parametrize(("rule", "ctinfo", "status", "want"), [
    ("-m conntrack --ctstate NEW", IP_CT_NEW, 0, True),
    ("-m conntrack --ctstate ESTABLISHED", IP_CT_ESTABLISHED_REPLY, 0, True),
    ("-m conntrack --ctstate RELATED,ESTABLISHED", IP_CT_RELATED, 0, True),
    ("-m conntrack ! --ctstate NEW", IP_CT_NEW, 0, False),
    ("-m conntrack --ctstate SNAT", IP_CT_ESTABLISHED, IPS_SRC_NAT, True),
    ("-m conntrack --ctstate DNAT", IP_CT_ESTABLISHED, IPS_SRC_NAT, False),
    ("-m conntrack --ctstatus ASSURED", IP_CT_ESTABLISHED, IPS_ASSURED | IPS_SEEN_REPLY, True),
    ("-m conntrack ! --ctstatus SEEN_REPLY", IP_CT_ESTABLISHED, IPS_SEEN_REPLY, False),
    ("-m state --state NEW", IP_CT_NEW, 0, True),
    ("-m state --state ESTABLISHED", IP_CT_NEW, 0, False),
])
def test_conntrack_states(rule: str, ctinfo: int, status: int, want: bool) -> None:
    ct = NfConnStub(status=status, orig=(0x0A010203, 0xC0A80009, 6, 1234, 22))
    assert matches(rule, _ct(ctinfo, ct)) is want


def test_conntrack_without_entry() -> None:
    # a -m conntrack rule switches conntrack on (nf_ct_netns_get): a packet that
    # reaches it with no entry is INVALID, as in Linux
    assert matches("-m conntrack --ctstate INVALID", skb_of(T))
    assert not matches("-m conntrack --ctstate UNTRACKED", skb_of(T))
    assert not matches("-m conntrack --ctorigsrc 10.0.0.0/8", skb_of(T))
    host = new_host()
    nf(host).ct_enabled = True  # conntrack on: no entry means INVALID
    assert matches("-m state --state INVALID", skb_of(T), host=host)
    assert matches("-m conntrack --ctstate UNTRACKED", _ct(IP_CT_UNTRACKED))


def test_conntrack_tuples() -> None:
    ct = NfConnStub(orig=(0x0A010203, 0xC0A80009, 6, 1234, 22),
                    reply=(0xC0A80009, 0x0A000001, 6, 22, 1234))
    assert matches("-m conntrack --ctorigsrc 10.1.0.0/16 --ctproto tcp", _ct(IP_CT_NEW, ct))
    assert matches("-m conntrack --ctrepldst 10.0.0.1", _ct(IP_CT_NEW, ct))
    assert not matches("-m conntrack ! --ctorigdst 192.168.0.9", _ct(IP_CT_NEW, ct))


def test_addrtype_through_the_routing_seam() -> None:
    host = new_host()
    seen: list[tuple[int, object]] = []

    def addr_type(addr: int, dev: object) -> int:
        seen.append((addr, dev))
        return 2 if addr == 0xC0A80009 else 1  # RTN_LOCAL for our address

    nf(host).addr_type = addr_type
    assert matches("-m addrtype --dst-type LOCAL --limit-iface-in", skb_of(T), host=host)
    assert seen[-1] == (0xC0A80009, LAN)
    assert not matches("-m addrtype --src-type LOCAL", skb_of(T), host=new_host())
    mc = udp("10.0.0.1", "224.0.0.251", 5353, 5353)
    assert matches("-m addrtype --dst-type MULTICAST", skb_of(mc))


def test_addrtype_uses_the_fib_when_ipv4_is_up() -> None:
    from tuxnet.scenarios.routers import build_chain

    chain = build_chain(1)
    r = chain.routers[0]
    to_router = tcp("10.0.0.2", "10.0.0.1", 1, 2)
    assert matches("-m addrtype --dst-type LOCAL", skb_of(to_router), host=r)
    assert not matches("-m addrtype --dst-type LOCAL", skb_of(T), host=build_chain(1).routers[0])


def test_set_match() -> None:
    from tuxnet.tools import ipset_cmd

    host = new_host()
    for line in ("create blk hash:net", "add blk 10.9.0.0/16", "create svc hash:ip,port",
                 "add svc 10.5.5.5,tcp:443"):
        assert ipset_cmd.run(host, line.split(), None) == 0  # type: ignore[arg-type]
    ipt(host, "-A FORWARD -m set --match-set blk dst -j DROP")
    ipt(host, "-A FORWARD -m set --match-set svc dst,dst -j ACCEPT")
    ipt(host, "-A FORWARD -j REJECT --reject-with icmp-host-prohibited")
    nf(host).ip_local_out = lambda skb: 0

    def fwd(pkt: bytes) -> int:
        return ipt_do_table(host, "filter", NF_INET_FORWARD, skb_of(pkt), LAN, WAN)

    # nf-kernel-diff examples/ipset.out
    assert fwd(tcp("10.1.0.2", "10.9.3.3", 1000, 443)) == NF_DROP
    assert fwd(tcp("10.1.0.2", "10.5.5.5", 1001, 443)) == NF_ACCEPT
    assert fwd(tcp("10.1.0.2", "10.5.5.5", 1002, 80)) == NF_DROP
    assert [r.pcnt for r in nf(host).tables["filter"].chains["FORWARD"].rules] == [1, 1, 1]
