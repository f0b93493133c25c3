"""Conntrack core: UDP / ICMP / generic tracking, RELATED ICMP errors, expiry in
virtual time, table full and early drop, lazy enablement, the -L / /proc formats."""

from __future__ import annotations

import io
import struct

from _ctutil import SEC, A, B, advance, ct_host, find, line, walk
from _nfutil import icmp, ipt, new_host, nf, skb_of, tcp, udp

from tuxnet.dropreason import SkbDropReason
from tuxnet.netfilter.conntrack import conntrack_dump, ct_net
from tuxnet.netfilter.conntrack.show import ct_cpu_seq_show, ct_seq_show, stats_lines
from tuxnet.netfilter.ctseam import (
    IP_CT_ESTABLISHED_REPLY,
    IP_CT_NEW,
    IP_CT_RELATED_REPLY,
    IPS_ASSURED,
)
from tuxnet.netfilter.hooks import (
    NF_INET_POST_ROUTING,
    NF_INET_PRE_ROUTING,
    nf_hook,
    nf_hook_ops,
)
from tuxnet.tools import conntrack_cmd


def test_udp_unreplied_then_stream() -> None:
    host, cn = ct_host()
    ct, info, _ = walk(cn, udp(A, B, 5353, 53, b"q"))
    assert info == IP_CT_NEW
    assert line(cn, ct) == ("udp      17 30 src=10.1.0.2 dst=10.9.9.9 sport=5353 dport=53 "
                            "[UNREPLIED] src=10.9.9.9 dst=10.1.0.2 sport=53 dport=5353 mark=0 "
                            "use=1")
    _, info, _ = walk(cn, udp(B, A, 53, 5353, b"a"))
    assert info == IP_CT_ESTABLISHED_REPLY and "[UNREPLIED]" not in line(cn, ct)
    walk(cn, udp(A, B, 5353, 53, b"q"))
    assert " 30 " in line(cn, ct) and not ct.status & IPS_ASSURED  # not a stream yet
    advance(host, 3 * SEC)
    walk(cn, udp(A, B, 5353, 53, b"q"))
    assert " 120 " in line(cn, ct) and "[ASSURED]" in line(cn, ct)


def test_udp_expires_in_virtual_time() -> None:
    host, cn = ct_host()
    walk(cn, udp(A, B, 1000, 53))
    advance(host, 29 * SEC)
    assert find(cn, A, B, 17, 1000, 53) is not None
    advance(host, 2 * SEC)
    assert find(cn, A, B, 17, 1000, 53) is None and cn.count == 0


def test_icmp_echo_by_id_and_unsolicited_reply() -> None:
    _host, cn = ct_host()
    ct, info, _ = walk(cn, icmp(A, B, 8, 0, (7 << 16) | 1))
    assert info == IP_CT_NEW
    assert line(cn, ct) == ("icmp     1 30 src=10.1.0.2 dst=10.9.9.9 type=8 code=0 id=7 "
                            "[UNREPLIED] src=10.9.9.9 dst=10.1.0.2 type=0 code=0 id=7 mark=0 "
                            "use=1")
    ct2, info, _ = walk(cn, icmp(B, A, 0, 0, (7 << 16) | 1))
    assert ct2 is ct and info == IP_CT_ESTABLISHED_REPLY
    ct3, _, _ = walk(cn, icmp(B, A, 0, 0, (8 << 16) | 1))  # a reply nobody asked for
    assert ct3 is None and cn.count == 1


def test_icmp_error_quoting_a_flow_is_related() -> None:
    _host, cn = ct_host()
    ct, _, _ = walk(cn, udp(A, B, 5353, 53, b"q"))
    quoted = udp(A, B, 5353, 53, b"q")[:28]
    got, info, _ = walk(cn, icmp(B, A, 3, 3, 0, quoted))
    assert got is ct and info == IP_CT_RELATED_REPLY
    # quoting an unknown flow: INVALID, counted as an ICMP error
    other = udp(A, B, 9999, 53, b"q")[:28]
    got, _, _ = walk(cn, icmp(B, A, 3, 3, 0, other))
    assert got is None and cn.stats[0].error == 1


def test_generic_protocol_600s() -> None:
    _host, cn = ct_host()
    gre = bytearray(udp(A, B, 1, 2))
    gre[9] = 50  # ESP: no tracker of its own
    gre[10:12] = b"\x00\x00"
    from tuxnet.wire.checksum import internet_checksum
    struct.pack_into("!H", gre, 10, internet_checksum(bytes(gre[:20])))
    ct, _, _ = walk(cn, bytes(gre))
    assert line(cn, ct).startswith("unknown  50 600 src=10.1.0.2 dst=10.9.9.9 [UNREPLIED] "
                                   "src=10.9.9.9 dst=10.1.0.2 mark=0")


def test_table_full_early_drop_then_drop() -> None:
    host, cn = ct_host()
    host.sysctl.set("net.netfilter.nf_conntrack_max", 2)
    host.sysctl.set("net.netfilter.nf_conntrack_buckets", 1)  # every entry in bucket 0
    walk(cn, udp(A, B, 1, 53))
    walk(cn, udp(A, B, 2, 53))
    # full: the third evicts an unassured entry
    ct, _, v = walk(cn, udp(A, B, 3, 53))
    assert ct is not None and v == 1 and cn.count == 2 and cn.stats[0].early_drop == 1
    for c in list({h[0] for h in cn.hash.values()}):
        c.status |= IPS_ASSURED
    # nothing to evict: the packet is dropped through nf_hook_slow, logged and counted
    skb = skb_of(udp(A, B, 4, 53))
    rc = nf_hook(host, NF_INET_PRE_ROUTING, skb, None, None, lambda s: 0)
    assert rc < 0 and cn.stats[0].drop == 1
    assert host.drop_counts[SkbDropReason.NETFILTER_DROP] == 1
    assert nf(host).log[-1][2] == "nf_conntrack: nf_conntrack: table full, dropping packet"
    row = ct_cpu_seq_show(host).splitlines()[1].split()
    assert row[0] == "00000002" and row[8:12] == ["00000003", "00000000", "00000001", "00000001"]


def test_unconfirmed_entry_dropped_before_confirm_leaves_nothing() -> None:
    host = new_host()
    ipt(host, "-A FORWARD -m state --state NEW -j DROP")
    from tuxnet.netfilter.conntrack.core import nf_conntrack_in

    cn = ct_net(host)
    skb = skb_of(tcp(A, B, 1, 2, 0x02))
    nf_conntrack_in(cn, skb, NF_INET_PRE_ROUTING)
    assert skb.nfct is not None and cn.count == 0


def test_lazy_enablement_follows_the_rules() -> None:
    host = new_host()
    ipt(host, "-A INPUT -p tcp --dport 22 -j ACCEPT")
    ipt(host, "-t raw -A PREROUTING -j CT --notrack")
    ipt(host, "-t mangle -A PREROUTING -j MARK --set-mark 1")
    assert not nf(host).ct_enabled
    assert [o.priority for o in nf_hook_ops(host, NF_INET_POST_ROUTING)] == [-150]
    ipt(host, "-A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT")
    ipt(host, "-A INPUT -m state --state NEW -j ACCEPT")
    assert nf(host).ct_enabled
    prios = [o.priority for o in nf_hook_ops(host, NF_INET_POST_ROUTING)]
    assert prios == [-150, 0x7FFFFFFF]
    ipt(host, "-D INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT")
    assert nf(host).ct_enabled  # one user left
    ipt(host, "-F INPUT")
    assert not nf(host).ct_enabled
    assert [o.priority for o in nf_hook_ops(host, NF_INET_PRE_ROUTING)] == [-300, -150]
    ipt(host, "-t nat -A POSTROUTING -j MASQUERADE")
    assert nf(host).ct_enabled
    ipt(host, "-t nat -F")
    assert nf(host).ct_enabled  # the nat table still exists, as its hooks need conntrack


def test_dump_cli_and_proc_formats() -> None:
    host, cn = ct_host()
    walk(cn, icmp(A, B, 8, 0, (8 << 16) | 1))
    walk(cn, tcp(A, B, 41000, 22, 0x02, 1))
    walk(cn, tcp(B, A, 22, 41000, 0x12, 9, 2))
    advance(host, 1_500_000_000)
    out, err = io.StringIO(), io.StringIO()
    assert conntrack_cmd.run(host, ["-L"], out, err) == 0
    assert out.getvalue().splitlines() == [
        "icmp     1 28 src=10.1.0.2 dst=10.9.9.9 type=8 code=0 id=8 [UNREPLIED] src=10.9.9.9 "
        "dst=10.1.0.2 type=0 code=0 id=8 mark=0 use=1",
        "tcp      6 58 SYN_RECV src=10.1.0.2 dst=10.9.9.9 sport=41000 dport=22 src=10.9.9.9 "
        "dst=10.1.0.2 sport=22 dport=41000 mark=0 use=1"]
    assert err.getvalue() == "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n"
    out = io.StringIO()
    conntrack_cmd.run(host, ["-L", "-o", "extended", "-p", "tcp"], out, io.StringIO())
    assert out.getvalue().startswith("ipv4     2 tcp      6 58 SYN_RECV ")
    assert ct_seq_show(host).splitlines()[1].endswith("mark=0 zone=0 use=2")
    out = io.StringIO()
    conntrack_cmd.run(host, ["-C"], out)
    assert out.getvalue() == "2\n"
    assert stats_lines(host).startswith("cpu=0   \tfound=1 invalid=0 insert=2 ")
    d = conntrack_dump(host)
    assert [e["proto_name"] for e in d] == ["icmp", "tcp"]
    assert d[1]["state"] == "SYN_RECV" and d[1]["timeout"] == 58 and not d[1]["unreplied"]
    assert d[1]["orig"] == {"src": A, "dst": B, "sport": 41000, "dport": 22}
    assert d[0]["reply"] == {"src": B, "dst": A, "type": 0, "code": 0, "id": 8}


def test_cli_scenario_and_cat(capsys: object) -> None:
    from tuxnet.tools import cat_cmd

    assert conntrack_cmd.main(["-L", "--scenario", "masquerade", "-p", "udp"]) == 0
    out, err = capsys.readouterr()  # type: ignore[attr-defined]
    assert out == ("udp      17 29 src=10.0.0.2 dst=10.0.1.2 sport=5353 dport=53 "
                   "src=10.0.1.2 dst=10.0.1.1 sport=53 dport=5353 mark=0 use=1\n")
    assert err == "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n"
    host, cn = ct_host()
    walk(cn, udp(A, B, 1, 2))
    buf = io.StringIO()
    assert cat_cmd.run(host, ["/proc/net/nf_conntrack"], buf) == 0
    assert buf.getvalue().startswith("ipv4     2 udp      17 30 src=10.1.0.2")


def test_accounting_when_nf_conntrack_acct_is_on() -> None:
    host, cn = ct_host()
    host.sysctl.set("net.netfilter.nf_conntrack_acct", 1)
    ct, _, _ = walk(cn, udp(A, B, 7, 53, b"q" * 10))
    walk(cn, udp(A, B, 7, 53, b"q" * 10))
    walk(cn, udp(B, A, 53, 7, b"answer"))
    assert line(cn, ct) == (
        "udp      17 30 src=10.1.0.2 dst=10.9.9.9 sport=7 dport=53 packets=2 bytes=76 "
        "src=10.9.9.9 dst=10.1.0.2 sport=53 dport=7 packets=1 bytes=34 mark=0 use=1")
    assert conntrack_dump(host)[0]["counters"]["reply"] == {"packets": 1, "bytes": 34}


def test_connmark_on_real_entries() -> None:
    host = new_host()
    ipt(host, "-t mangle -A PREROUTING -m conntrack --ctstate NEW -j CONNMARK --set-mark 5")
    ipt(host, "-t mangle -A PREROUTING -m connmark --mark 5 -j MARK --set-mark 9")
    cn = ct_net(host)
    marks = []
    for pkt in (udp(A, B, 1, 2), udp(B, A, 2, 1)):
        skb = skb_of(pkt)
        nf_hook(host, NF_INET_PRE_ROUTING, skb, None, None, lambda s: 0)
        marks.append(skb.mark)
        nf_hook(host, NF_INET_POST_ROUTING, skb, None, None, lambda s: 0)
    assert marks == [9, 9]  # the reply carries the connection's mark too
    assert cn.count == 1 and line(cn, cn.entries()[0]).endswith("mark=5 use=1")


def test_events_new_update_destroy() -> None:
    from tuxnet.netfilter.conntrack.show import event_line

    host, cn = ct_host()
    seen: list[str] = []
    cn.listeners.append(lambda what, ct: seen.append(event_line(what, ct, host.now_ns())))
    walk(cn, tcp(A, B, 1001, 22, 0x02, 1))
    walk(cn, tcp(B, A, 22, 1001, 0x12, 9, 2))
    walk(cn, tcp(B, A, 22, 1001, 0x12, 9, 2))  # a retransmitted SYN/ACK changes nothing
    walk(cn, tcp(A, B, 1001, 22, 0x04, 2))
    advance(host, 11 * SEC)
    assert seen == [
        "    [NEW] tcp      6 120 SYN_SENT src=10.1.0.2 dst=10.9.9.9 sport=1001 dport=22 "
        "[UNREPLIED] src=10.9.9.9 dst=10.1.0.2 sport=22 dport=1001",
        " [UPDATE] tcp      6 60 SYN_RECV src=10.1.0.2 dst=10.9.9.9 sport=1001 dport=22 "
        "src=10.9.9.9 dst=10.1.0.2 sport=22 dport=1001",
        " [UPDATE] tcp      6 10 CLOSE src=10.1.0.2 dst=10.9.9.9 sport=1001 dport=22 "
        "src=10.9.9.9 dst=10.1.0.2 sport=22 dport=1001",
        "[DESTROY] tcp      6 src=10.1.0.2 dst=10.9.9.9 sport=1001 dport=22 "
        "src=10.9.9.9 dst=10.1.0.2 sport=22 dport=1001"]


def test_cli_json() -> None:
    import json

    host, cn = ct_host()
    walk(cn, udp(A, B, 1, 2))
    out = io.StringIO()
    assert conntrack_cmd.run(host, ["-L", "--json"], out) == 0
    rows = json.loads(out.getvalue())
    assert rows[0]["orig"] == {"src": A, "dst": B, "sport": 1, "dport": 2}
    assert rows[0]["timeout"] == 30 and rows[0]["unreplied"]
    out = io.StringIO()
    conntrack_cmd.run(host, ["-C", "--json"], out)
    assert json.loads(out.getvalue()) == {"count": 1}
