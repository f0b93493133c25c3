"""ipset (the store and the CLI) and nftables-style sets: a set lookup decides what a
10,000-rule chain decides, with one rule."""

from __future__ import annotations

import io

from _nfutil import LAN, WAN, ipt, new_host, nf, restore, skb_of, tcp, udp

from tuxnet.netfilter import NF_ACCEPT, NF_DROP, NF_INET_FORWARD
from tuxnet.netfilter.engine import ipt_do_table
from tuxnet.netfilter.rule import IptEntry
from tuxnet.netfilter.sets import NftLookup, NftSet, NftVmap
from tuxnet.tools import ipset_cmd


def ipset(host, line: str, rc: int = 0) -> str:
    out = io.StringIO()
    assert ipset_cmd.run(host, line.split(), out, out) == rc, out.getvalue()
    return out.getvalue()


def test_ipset_cli() -> None:
    host = new_host()
    ipset(host, "create blk hash:net")
    assert ipset(host, "create blk hash:net", 1) == \
        "ipset v7.17: Set cannot be created: set with the same name already exists\n"
    ipset(host, "add blk 10.9.0.0/16")
    ipset(host, "add blk 10.9.1.1")
    assert ipset(host, "add blk 10.9.1.1", 1).endswith("it's already added\n")
    assert ipset(host, "add blk 10.8.0.0/33", 1) == \
        "ipset v7.17: Syntax error: '33' is out of range 0-32\n"
    assert ipset(host, "test blk 10.9.3.3") == "Warning: 10.9.3.3 is in set blk.\n"
    assert ipset(host, "test blk 10.7.0.1", 1) == "10.7.0.1 is NOT in set blk.\n"
    ipset(host, "create svc hash:ip,port")
    ipset(host, "add svc 10.5.5.5,udp:53")
    ipset(host, "add svc 10.5.5.6,80-81")
    assert ipset(host, "test svc 10.5.5.5,53", 1) == "10.5.5.5,53 is NOT in set svc.\n"
    listing = ipset(host, "list svc")
    assert listing.splitlines()[:3] == ["Name: svc", "Type: hash:ip,port", "Revision: 7"]
    assert listing.splitlines()[3].startswith(
        "Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x")
    assert listing.splitlines()[5:] == ["References: 0", "Number of entries: 3", "Members:",
                                        "10.5.5.5,udp:53", "10.5.5.6,tcp:80", "10.5.5.6,tcp:81"]
    assert ipset(host, "list -n") == "blk\nsvc\n"
    ipt(host, "-A INPUT -m set --match-set blk src -j DROP")
    assert "References: 1" in ipset(host, "list -t blk")
    assert ipset(host, "destroy blk", 1) == \
        "ipset v7.17: Set cannot be destroyed: it is in use by a kernel component\n"
    ipset(host, "flush svc")
    assert "Number of entries: 0" in ipset(host, "list svc")
    ipset(host, "destroy svc")
    assert ipset(host, "list svc", 1) == "ipset v7.17: The set with the given name does not exist\n"
    assert ipset(host, "save").startswith("create blk hash:net family inet hashsize 1024")


def test_match_set_needs_an_existing_set() -> None:
    host = new_host()
    assert ipt(host, "-A INPUT -m set --match-set nope src -j DROP", rc=2) == (
        "iptables v1.8.9 (nf_tables): Set nope doesn't exist.\n\n"
        "Try `iptables -h' or 'iptables --help' for more information.\n")


N = 10_000


def _addr(i: int) -> str:
    return f"10.{200 + i // 65536}.{(i // 256) % 256}.{i % 256}"


def test_ten_thousand_rules_and_one_set_decide_the_same() -> None:
    linear = new_host("linear")
    rules = "".join(f"-A FORWARD -s {_addr(i)}/32 -j DROP\n" for i in range(0, 2 * N, 2))
    restore(linear, "*filter\n" + rules + "COMMIT\n")
    assert len(nf(linear).tables["filter"].chains["FORWARD"].rules) == N
    hashed = new_host("set")
    ipset(hashed, "create blk hash:ip maxelem 65536")
    store = nf(hashed).ipsets.must("blk")
    for i in range(0, 2 * N, 2):
        store.add(store.parse_elems(_addr(i))[0], False)
    ipt(hashed, "-A FORWARD -m set --match-set blk src -j DROP")
    for i in (0, 1, 2, 3, 9998, 9999, 2 * N - 2, 2 * N - 1, 2 * N + 10):
        pkt = udp(_addr(i), "10.1.0.2", 1, 2)
        a = ipt_do_table(linear, "filter", NF_INET_FORWARD, skb_of(pkt), LAN, WAN)
        b = ipt_do_table(hashed, "filter", NF_INET_FORWARD, skb_of(pkt), LAN, WAN)
        assert a == b == (NF_DROP if i % 2 == 0 and i < 2 * N else NF_ACCEPT), i


def test_nft_sets_and_verdict_maps() -> None:
    host = new_host()
    blocked = nf(host).nftsets.add_set(NftSet("blocked", ("ip saddr",)))
    for i in range(N):
        blocked.add((0x0A000000 + i,))
    ports = nf(host).nftsets.add_set(NftSet("svc", ("ip daddr", "th dport")))
    ports.add((0x0A010002, 443), "accept")
    ports.add((0x0A010002, 23), "drop")
    ranges = NftSet("nets", ("ip daddr",), interval=True)
    ranges.add((0xC0A80000, 0xC0A8FFFF), "drop")
    ipt(host, "-P FORWARD ACCEPT")
    t = nf(host).tables["filter"]
    e1 = IptEntry()
    e1.matches.append(NftLookup(blocked))
    e1.verdict = "DROP"
    e2 = IptEntry()
    e2.target = NftVmap(ports)
    e3 = IptEntry()
    e3.target = NftVmap(ranges)
    t.chains["FORWARD"].rules[:] = [e1, e2, e3]

    def fwd(pkt: bytes) -> int:
        return ipt_do_table(host, "filter", NF_INET_FORWARD, skb_of(pkt), LAN, WAN)

    assert fwd(tcp("10.0.39.15", "10.1.0.2", 1, 443)) == NF_DROP  # 10.0.0.0 + 9999
    assert fwd(tcp("10.0.39.16", "10.1.0.2", 1, 443)) == NF_ACCEPT
    assert fwd(tcp("10.9.0.1", "10.1.0.2", 1, 23)) == NF_DROP
    assert fwd(tcp("10.9.0.1", "192.168.4.4", 1, 80)) == NF_DROP
    assert fwd(tcp("10.9.0.1", "10.1.0.3", 1, 80)) == NF_ACCEPT
    assert NftLookup(blocked).save() == " ip saddr @blocked"
    assert len(blocked) == N and len(ranges) == 1
