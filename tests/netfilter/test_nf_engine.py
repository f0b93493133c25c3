"""ipt_do_table: traversal, jumps, goto + RETURN, policies and counters, through the
hook registry as ip_rcv / ip_forward / ip_local_out call it. Expected counters are the
kernel's (nf-kernel-diff examples jumps.out and gw.nft.out on Linux 6.18)."""

from __future__ import annotations

import errno

from _nfutil import LAN, WAN, icmp, new_host, nf, nonzero, restore, skb_of, tcp, udp

from tuxnet.dropreason import SkbDropReason
from tuxnet.netfilter import (
    NF_ACCEPT,
    NF_DROP,
    NF_INET_FORWARD,
    NF_INET_LOCAL_IN,
    NF_INET_PRE_ROUTING,
    nf_hook,
    nf_hook_ops,
)
from tuxnet.netfilter.ctseam import (
    IP_CT_ESTABLISHED_REPLY,
    IP_CT_NEW,
    IPS_DST_NAT,
    NfConnStub,
)
from tuxnet.netfilter.engine import ipt_do_table
from tuxnet.netfilter.tables import TABLE_DEFS

JUMPS = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:A - [0:0]
:B - [0:0]
:C - [0:0]
-A FORWARD -p udp -j A
-A FORWARD -p udp --dport 7 -j DROP
-A A -p udp --dport 1 -g B
-A A -p udp --dport 2 -j C
-A A -j LOG --log-prefix "A-end "
-A B -j RETURN
-A C -j RETURN
-A C -j DROP
COMMIT
"""


def _forward(host, datagram: bytes, in_dev=LAN, out_dev=WAN) -> tuple[int, list[object]]:
    """One packet through NF_INET_FORWARD (TTL already decremented, as ip_forward does)."""
    done: list[object] = []
    skb = skb_of(datagram)
    rc = nf_hook(host, NF_INET_FORWARD, skb, in_dev, out_dev, lambda s: done.append(s) or 0)
    return rc, done


def test_tables_register_on_their_hooks_with_linux_priorities() -> None:
    host = new_host()
    restore(host, JUMPS)
    ops = nf_hook_ops(host, NF_INET_FORWARD)
    assert [(o.priv, o.priority) for o in ops] == [("filter", 0)]
    restore(host, "*raw\nCOMMIT\n*mangle\nCOMMIT\n*nat\nCOMMIT\n*security\nCOMMIT\n")
    pre = [(o.priv if isinstance(o.priv, str) else o.hook.__name__, o.priority)
           for o in nf_hook_ops(host, NF_INET_PRE_ROUTING)]
    # the nat table needs conntrack (nf_ct_netns_get): defrag at -400, conntrack at -200
    assert pre == [("ipv4_conntrack_defrag", -400), ("raw", -300),
                   ("ipv4_conntrack_in", -200), ("mangle", -150), ("nat", -100)]
    fwd = [(o.priv, o.priority) for o in nf_hook_ops(host, NF_INET_FORWARD)]
    assert fwd == [("mangle", -150), ("filter", 0), ("security", 50)]
    assert TABLE_DEFS["nat"].priorities == {0: -100, 1: 100, 3: -100, 4: 100}


def test_goto_then_return_goes_back_to_the_caller_of_the_goto_chain() -> None:
    host = new_host()
    restore(host, JUMPS)
    rc, done = _forward(host, udp("10.1.0.2", "10.9.9.9", 100, 1, ttl=63))
    assert rc == 0 and len(done) == 1
    # jumps.out #1: FORWARD#1, A#1 (goto B), B#1 RETURN -> back to FORWARD's caller:
    # nobody, so the policy; A#3 (LOG) is skipped
    assert nonzero(host) == {"FORWARD#1": (1, 28), "A#1": (1, 28), "B#1": (1, 28),
                             "FORWARD:policy": (1, 28)}
    assert nf(host).log == []


def test_jump_then_return_continues_after_the_jump_and_log_continues() -> None:
    host = new_host()
    restore(host, JUMPS)
    rc, done = _forward(host, udp("10.1.0.2", "10.9.9.9", 100, 2, ttl=63))
    assert rc == 0 and done
    assert nonzero(host) == {"FORWARD#1": (1, 28), "A#2": (1, 28), "C#1": (1, 28),
                             "A#3": (1, 28), "FORWARD:policy": (1, 28)}
    (_, level, line), = nf(host).log
    assert level == 4
    assert line.startswith("A-end IN=lan0 OUT=wan0 MAC= SRC=10.1.0.2 DST=10.9.9.9 LEN=28 ")


def test_end_of_user_chain_returns_and_drop_ends_the_packet() -> None:
    host = new_host()
    restore(host, JUMPS)
    rc, done = _forward(host, udp("10.1.0.2", "10.9.9.9", 100, 7, ttl=63))
    assert rc == -errno.EPERM and not done
    assert host.drop_counts[SkbDropReason.NETFILTER_DROP] == 1
    assert nonzero(host) == {"FORWARD#1": (1, 28), "A#3": (1, 28), "FORWARD#2": (1, 28)}


def test_return_at_top_level_is_the_policy() -> None:
    host = new_host()
    restore(host, "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -j RETURN\n"
                  "-A INPUT -j ACCEPT\nCOMMIT\n")
    skb = skb_of(tcp("10.1.0.2", "10.1.0.1", 1, 2))
    assert ipt_do_table(host, "filter", NF_INET_LOCAL_IN, skb, LAN, None) == NF_DROP
    assert nonzero(host) == {"INPUT#1": (1, 40), "INPUT:policy": (1, 40)}
    skb = skb_of(udp("10.1.0.2", "10.1.0.1", 1, 2))
    assert ipt_do_table(host, "filter", NF_INET_LOCAL_IN, skb, LAN, None) == NF_ACCEPT
    assert nonzero(host)["INPUT#2"] == (1, 28)


def test_goto_from_a_builtin_chain_ends_in_the_policy() -> None:
    host = new_host()
    restore(host, "*filter\n:FORWARD DROP [0:0]\n:X - [0:0]\n-A FORWARD -g X\n"
                  "-A FORWARD -j ACCEPT\n-A X -p udp -j RETURN\nCOMMIT\n")
    assert ipt_do_table(host, "filter", NF_INET_FORWARD, skb_of(udp("1.1.1.1", "2.2.2.2", 1, 2)),
                        LAN, WAN) == NF_DROP
    assert ipt_do_table(host, "filter", NF_INET_FORWARD, skb_of(tcp("1.1.1.1", "2.2.2.2", 1, 2)),
                        LAN, WAN) == NF_DROP
    assert nonzero(host) == {"FORWARD#1": (2, 68), "X#1": (1, 28), "FORWARD:policy": (2, 68)}


def test_rule_without_target_only_counts() -> None:
    host = new_host()
    restore(host, "*filter\n-A INPUT -s 10.0.0.0/8\n-A INPUT -s 10.0.0.0/8\nCOMMIT\n")
    ipt_do_table(host, "filter", NF_INET_LOCAL_IN, skb_of(icmp("10.1.1.1", "10.0.0.1")), LAN, None)
    assert nonzero(host) == {"INPUT#1": (1, 28), "INPUT#2": (1, 28), "INPUT:policy": (1, 28)}


GW_FILTER = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp --dport 9999 -j CT --notrack
COMMIT
*mangle
-A PREROUTING -i lan0 -p tcp --dport 443 -j MARK --set-mark 0x1
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:LAN_OUT - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -s 10.1.0.0/16 -p tcp --dport 22 -j ACCEPT
-A INPUT -p icmp --icmp-type echo-request -m limit --limit 1/sec --limit-burst 2 -j ACCEPT
-A INPUT -p udp --dport 9999 -j ACCEPT
-A INPUT -p tcp -j REJECT --reject-with tcp-reset
-A INPUT -j REJECT --reject-with icmp-port-unreachable
-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -i lan0 -o wan0 -j LAN_OUT
-A FORWARD -i wan0 -o lan0 -m conntrack --ctstate DNAT -j ACCEPT
-A LAN_OUT -p tcp -m multiport --dports 80,443 -j ACCEPT
-A LAN_OUT -p udp --dport 53 -j ACCEPT
-A LAN_OUT -j RETURN
COMMIT
"""


def _tracked(datagram: bytes, ctinfo: int, status: int = 0, ct: bool = True):
    skb = skb_of(datagram)
    skb.nfct = NfConnStub(status=status) if ct else None
    skb.nfctinfo = ctinfo
    return skb


def _path(host, skb, hooks, in_dev, out_dev) -> int:
    """The packet through several hook points in order, as the stack calls them."""
    for hook in hooks:
        rc = nf_hook(host, hook, skb, in_dev if hook != 3 else None,
                     out_dev if hook not in (0, 1) else None, lambda s: 1)
        if rc != 1:
            return rc
    return 1


def test_gw_forward_counters_match_the_kernel() -> None:
    host = new_host()
    restore(host, GW_FILTER)
    nf(host).ct_enabled = True  # as conntrack will: a packet without entry is INVALID
    fwd = (NF_INET_PRE_ROUTING, NF_INET_FORWARD)
    # gw #1: SYN to :80, NEW -> FORWARD#3 -> LAN_OUT#1 ACCEPT
    assert _path(host, _tracked(tcp("10.1.0.2", "10.9.9.9", 40000, 80, ttl=63), IP_CT_NEW),
                 fwd, LAN, WAN) == 1
    # gw #2: SYN/ACK reply, ESTABLISHED -> FORWARD#1
    assert _path(host, _tracked(tcp("10.9.9.9", "10.1.0.2", 80, 40000, 0x12, ttl=63),
                                IP_CT_ESTABLISHED_REPLY), fwd, WAN, LAN) == 1
    # gw #4: SYN to :25 -> LAN_OUT#3 RETURN -> policy DROP
    assert _path(host, _tracked(tcp("10.1.0.2", "10.9.9.9", 40001, 25, ttl=63), IP_CT_NEW),
                 fwd, LAN, WAN) < 0
    # gw #6: SYN/ACK with no entry: INVALID -> FORWARD#2
    assert _path(host, _tracked(tcp("10.1.0.2", "10.9.9.9", 40003, 80, 0x12, ttl=63), 0,
                                ct=False), fwd, LAN, WAN) < 0
    # gw #7: DNATed SYN from wan -> FORWARD#4 (ctstate DNAT)
    assert _path(host, _tracked(tcp("10.8.8.8", "10.1.0.2", 50000, 80, ttl=63), IP_CT_NEW,
                                IPS_DST_NAT), fwd, WAN, LAN) == 1
    # gw #5: mid-stream ACK to :443 -> mangle MARK, LAN_OUT#1
    skb = _tracked(tcp("10.1.0.2", "10.9.9.9", 40002, 443, 0x10, 77, 88, ttl=63), IP_CT_NEW)
    assert _path(host, skb, fwd, LAN, WAN) == 1 and skb.mark == 1
    assert nonzero(host) == {
        "FORWARD#1": (1, 40), "FORWARD#2": (1, 40), "FORWARD#3": (3, 120),
        "FORWARD#4": (1, 40), "LAN_OUT#1": (2, 80), "LAN_OUT#3": (1, 40),
        "FORWARD:policy": (1, 40)}
    assert nonzero(host, "mangle") == {"PREROUTING#1": (1, 40), "PREROUTING:policy": (6, 240),
                                       "FORWARD:policy": (6, 240)}


def test_gw_input_notrack_limit_and_rejects() -> None:
    host = new_host()
    restore(host, GW_FILTER)
    nf(host).ct_enabled = True
    sent: list[bytes] = []
    nf(host).ip_local_out = lambda skb: sent.append(bytes(skb.data)) or 0
    local = (NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN)
    # gw #8..#10: three echo requests with distinct ids: limit 1/sec burst 2 takes two
    for ident in (7, 8, 9):
        _path(host, _tracked(icmp("10.1.0.2", "10.1.0.1", rest=(ident << 16) | 1),
                             IP_CT_NEW), local, LAN, None)
    # gw #11: UDP to 9999 is NOTRACKed in raw: UNTRACKED, accepted by INPUT#6
    skb = skb_of(udp("10.1.0.2", "10.1.0.1", 1234, 9999, b"x"))
    assert _path(host, skb, local, LAN, None) == 1
    # gw #12 / #13: SSH accepted, telnet reset
    _path(host, _tracked(tcp("10.1.0.2", "10.1.0.1", 41000, 22, seq=1), IP_CT_NEW), local,
          LAN, None)
    _path(host, _tracked(tcp("10.1.0.2", "10.1.0.1", 41001, 23, seq=1), IP_CT_NEW), local,
          LAN, None)
    assert nonzero(host) == {"INPUT#4": (1, 40), "INPUT#5": (2, 56), "INPUT#6": (1, 29),
                             "INPUT#7": (1, 40), "INPUT#8": (1, 28)}
    assert nonzero(host, "raw") == {"PREROUTING#1": (1, 29), "PREROUTING:policy": (6, 193)}
    assert [len(p) for p in sent] == [56, 40]
    assert sent[0][9] == 1 and sent[0][20:22] == b"\x03\x03"  # ICMP port unreachable
    assert sent[1][33] == 0x14  # RST|ACK


def test_nat_targets_end_the_traversal_and_call_the_nat_seam() -> None:
    host = new_host()
    restore(host, "*nat\n-A PREROUTING -i lan0 -p tcp --dport 8080 -j DNAT "
                  "--to-destination 10.1.0.2:80\n-A PREROUTING -j ACCEPT\nCOMMIT\n")
    skb = skb_of(tcp("10.8.8.8", "10.2.0.1", 5, 8080))
    assert ipt_do_table(host, "nat", NF_INET_PRE_ROUTING, skb, LAN, None) == NF_ACCEPT
    assert nonzero(host, "nat") == {"PREROUTING#1": (1, 40)}
    calls = []
    nf(host).nat_setup = lambda skb, par, tgt: calls.append((par.hook, tgt.range.fmt())) or 1
    ipt_do_table(host, "nat", NF_INET_PRE_ROUTING, skb_of(tcp("1.1.1.1", "2.2.2.2", 5, 8080)),
                 LAN, None)
    assert calls == [(NF_INET_PRE_ROUTING, "10.1.0.2:80")]


def test_a_table_hook_can_be_replaced() -> None:
    host = new_host()
    restore(host, "*nat\nCOMMIT\n")
    seen = []

    def nat_fn(h, table, hook, skb, i, o) -> int:
        seen.append((table.name, hook))
        return ipt_do_table(h, table, hook, skb, i, o)

    nf(host).table_hook["nat"] = nat_fn
    assert nf_hook(host, NF_INET_PRE_ROUTING, skb_of(udp("1.1.1.1", "2.2.2.2", 1, 2)), LAN, None,
                   lambda s: 7) == 7
    assert seen == [("nat", NF_INET_PRE_ROUTING)]
