"""No input makes the tools or the rule engine raise: random command lines print an
iptables/ipset error and exit non-zero at worst; random bytes as packets get a verdict."""

from __future__ import annotations

import io
import random

from _nfutil import LAN, WAN, new_host, restore, skb_of
from test_nf_engine import GW_FILTER

from tuxnet.netfilter import NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_PRE_ROUTING
from tuxnet.netfilter.engine import ipt_do_table
from tuxnet.tools import ipset_cmd, iptables_cmd, iptables_restore_cmd

VOCAB = [*(  # noqa: SIM905 - the vocabulary reads best as one string
    "-A -I -D -R -L -S -F -Z -N -X -E -P -C INPUT FORWARD X 1 0 99 -s -d 1.2.3.4 1.2.3.0/24 "
    "-p tcp udp icmp all -i eth+ -o ! -j ACCEPT DROP REJECT LOG MARK DNAT -g -m limit "
    "multiport mark conntrack state set comment length iprange addrtype --dport --sport 22 "
    "1:2 --syn --tcp-flags SYN ALL --icmp-type 8 any --limit 1/sec --limit-burst --ports 1,2 "
    "--mark 0x1/0xf --ctstate NEW --state --match-set s src --comment x --length "
    "--src-range 1.1.1.1-1.1.1.2 --dst-type LOCAL --reject-with tcp-reset --log-prefix "
    "--set-mark --to-destination 1.1.1.1:80 -t nat raw mangle -v -n -x --line-numbers -c 5 "
    "6 -f --tcp-option --to-ports --ctorigsrc --ctstatus ASSURED --set-xmark --save-mark "
    "--bogus -h"
).split(), "", "a b"]
IPSET_VOCAB = [
    "create", "add", "del", "test", "list", "save", "flush", "destroy", "-n", "-t", "s", "n",
    "p", "hash:ip", "hash:net", "hash:ip,port", "list:set", "1.2.3.4", "1.2.3.0/24",
    "1.1.1.1,tcp:80", "1.1.1.1,80-81", "1.1.1.1,icmp:8", "hashsize", "abc", "maxelem", "10",
    "timeout", "-exist", "x", "10.0.0.0/0"]


def test_random_iptables_command_lines() -> None:
    rng = random.Random(7)
    host = new_host()
    for n in range(3000):
        if n % 100 == 0:
            host = new_host()
        argv = [rng.choice(VOCAB) for _ in range(rng.randint(1, 9))]
        rc = iptables_cmd.run(host, argv, io.StringIO(), io.StringIO())
        assert rc in (0, 1, 2, 3, 4), argv


def test_random_ipset_command_lines() -> None:
    rng = random.Random(8)
    host = new_host()
    for n in range(1500):
        if n % 50 == 0:
            host = new_host()
        argv = [rng.choice(IPSET_VOCAB) for _ in range(rng.randint(1, 5))]
        assert ipset_cmd.run(host, argv, io.StringIO(), io.StringIO()) in (0, 1), argv


def test_random_restore_input() -> None:
    rng = random.Random(9)
    lines = [*GW_FILTER.splitlines(), "*nat", "COMMIT", ":X - [1:2]", "[1:2]", "garbage"]
    for _ in range(300):
        text = "\n".join(rng.choice(lines) for _ in range(rng.randint(1, 12)))
        rc = iptables_restore_cmd.run(new_host(), ["-c"], io.StringIO(), io.StringIO(), text)
        assert rc in (0, 1, 2, 4)


def test_random_packets_get_a_verdict() -> None:
    rng = random.Random(10)
    host = new_host()
    restore(host, GW_FILTER)
    for _ in range(2000):
        n = rng.randint(20, 80)
        data = bytearray(rng.getrandbits(8) for _ in range(n))
        data[0] = 0x40 | rng.choice((5, 5, 5, 6, 15))
        data[9] = rng.choice((1, 6, 17, 47, 0))
        for hook, i, o in ((NF_INET_PRE_ROUTING, LAN, None), (NF_INET_LOCAL_IN, LAN, None),
                           (NF_INET_FORWARD, LAN, WAN)):
            for table in ("raw", "mangle", "filter"):
                assert ipt_do_table(host, table, hook, skb_of(bytes(data)), i, o) in (0, 1)
